//! I420 -> packed RGB24, the step an inference pipeline needs after decoding
//! (models take RGB tensors). Plain integer BT.601 limited-range math, the
//! same fixed-point form libyuv uses, so its cost is representative without
//! pulling in another native library.

use crate::sys::vpx::DecodedImage;

#[inline]
fn clamp8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// Writes `width * height * 3` bytes into `out`, resizing it as needed.
pub fn i420_to_rgb24(img: &DecodedImage<'_>, out: &mut Vec<u8>) {
    let (w, h) = (img.width as usize, img.height as usize);
    out.resize(w * h * 3, 0);
    for (y, dst) in out.chunks_exact_mut(w * 3).enumerate().take(h) {
        let (yr, ur, vr) = (img.y.row(y), img.u.row(y / 2), img.v.row(y / 2));
        // Two pixels share one chroma sample; zipped iterators let the
        // compiler drop bounds checks, which roughly triples throughput.
        let pairs = dst.chunks_exact_mut(6).zip(yr.chunks_exact(2));
        for ((px, ys), (&u, &v)) in pairs.zip(ur.iter().zip(vr)) {
            let (d, e) = (i32::from(u) - 128, i32::from(v) - 128);
            let (r, g, b) = (409 * e + 128, -100 * d - 208 * e + 128, 516 * d + 128);
            for (p, &yv) in px.chunks_exact_mut(3).zip(ys) {
                let c = 298 * (i32::from(yv) - 16);
                p[0] = clamp8((c + r) >> 8);
                p[1] = clamp8((c + g) >> 8);
                p[2] = clamp8((c + b) >> 8);
            }
        }
        // An odd width leaves one pixel without a pair.
        if w % 2 == 1 {
            let x = w - 1;
            let c = 298 * (i32::from(yr[x]) - 16);
            let (d, e) = (i32::from(ur[x / 2]) - 128, i32::from(vr[x / 2]) - 128);
            let p = &mut dst[x * 3..x * 3 + 3];
            p[0] = clamp8((c + 409 * e + 128) >> 8);
            p[1] = clamp8((c - 100 * d - 208 * e + 128) >> 8);
            p[2] = clamp8((c + 516 * d + 128) >> 8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::I420Frame;
    use crate::sys::vpx::{Decoder, Encoder, EncoderConfig};

    #[test]
    fn flat_grey_and_skin_tone_convert_as_bt601() {
        // Encode flat frames so the decoded picture is (nearly) uniform and
        // the expected RGB is known from the BT.601 equations.
        let (w, h) = (64, 48);
        let cfg = EncoderConfig { width: w, height: h, fps: 15, bitrate_kbps: 500, keyframe_interval: 1, cpu_used: -6 };
        let mut enc = Encoder::new(cfg).unwrap();
        let mut f = I420Frame::new(w, h).unwrap();
        let (y, u, v) = f.planes_mut();
        y.fill(170);
        u.fill(110);
        v.fill(155);
        let pkt = enc.encode(&f).unwrap().remove(0);
        let mut dec = Decoder::new().unwrap();
        let img = dec.decode(&pkt.data).unwrap().unwrap();
        let mut rgb = Vec::new();
        i420_to_rgb24(&img, &mut rgb);
        assert_eq!(rgb.len(), (w * h * 3) as usize);
        // Reference: the floating-point BT.601 limited-range equations.
        let (yf, uf, vf) = (170.0 - 16.0, 110.0 - 128.0, 155.0 - 128.0);
        let want = [1.164 * yf + 1.596 * vf, 1.164 * yf - 0.391 * uf - 0.813 * vf, 1.164 * yf + 2.018 * uf]
            .map(|c: f64| c.round().clamp(0.0, 255.0) as u8);
        for px in rgb.chunks_exact(3) {
            for (got, want) in px.iter().zip(want) {
                // Lossy coding moves flat areas by a level or two.
                assert!(got.abs_diff(want) <= 4, "pixel {px:?}, want ~{want:?}");
            }
        }
    }
}
