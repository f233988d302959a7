//! A deterministic synthetic "webcam" scene, so the benchmark needs no video
//! files. Flat synthetic content (a plain moving shape) costs an encoder and
//! decoder far less than a real camera does; this one adds what makes real
//! webcam video expensive: textured background, slow camera drift, a moving
//! and blinking face, and per-frame sensor noise.

use crate::frame::{BadDimensions, I420Frame};

/// Room for the camera to drift across a background larger than the frame.
const DRIFT: usize = 32;

pub struct Scene {
    width: usize,
    height: usize,
    bg_stride: usize,
    bg_y: Vec<u8>,
}

/// Cheap integer hash (splitmix-like finaliser): deterministic "randomness"
/// that is identical on every run and machine.
fn hash(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn lattice(ix: i64, iy: i64, seed: u64) -> f32 {
    (hash((ix as u64).wrapping_mul(0x9E37_79B9) ^ (iy as u64).wrapping_mul(0x85EB_CA6B) ^ seed) & 0xff) as f32 / 255.0
}

/// Bilinear value noise with a `cell`-pixel lattice, in 0..1.
fn value_noise(x: usize, y: usize, cell: usize, seed: u64) -> f32 {
    let (fx, fy) = (x as f32 / cell as f32, y as f32 / cell as f32);
    let (ix, iy) = (fx.floor() as i64, fy.floor() as i64);
    let (tx, ty) = (fx - ix as f32, fy - iy as f32);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let a = lattice(ix, iy, seed) + (lattice(ix + 1, iy, seed) - lattice(ix, iy, seed)) * sx;
    let b = lattice(ix, iy + 1, seed) + (lattice(ix + 1, iy + 1, seed) - lattice(ix, iy + 1, seed)) * sx;
    a + (b - a) * sy
}

impl Scene {
    pub fn new(width: u32, height: u32) -> Result<Self, BadDimensions> {
        // Validates the size once, up front, with the same rules as frames.
        I420Frame::new(width, height)?;
        let (w, h) = (width as usize, height as usize);
        let (bw, bh) = (w + DRIFT, h + DRIFT);
        let mut bg_y = vec![0u8; bw * bh];
        for y in 0..bh {
            for x in 0..bw {
                // A lit wall: left-to-right gradient, blotchy mid-scale
                // texture, fine grain, and a few "shelf" edges.
                let grad = 70.0 + 90.0 * x as f32 / bw as f32;
                let blotch = 40.0 * (value_noise(x, y, 24, 1) - 0.5);
                let grain = 24.0 * (value_noise(x, y, 3, 2) - 0.5);
                let shelf = if (y % 96) < 6 { -45.0 } else { 0.0 };
                bg_y[y * bw + x] = (grad + blotch + grain + shelf).clamp(16.0, 235.0) as u8;
            }
        }
        Ok(Self { width: w, height: h, bg_stride: bw, bg_y })
    }

    /// Renders frame number `t` into `out`, which must match the scene size.
    pub fn render(&self, t: u64, out: &mut I420Frame) -> Result<(), BadDimensions> {
        if out.width() as usize != self.width || out.height() as usize != self.height {
            return Err(BadDimensions { width: out.width(), height: out.height() });
        }
        let (w, h) = (self.width, self.height);
        let tf = t as f32;
        // Slow hand-held drift of the camera over the background.
        let dx = ((DRIFT as f32 / 2.0) * (1.0 + (tf * 0.031).sin())) as usize;
        let dy = ((DRIFT as f32 / 2.0) * (1.0 + (tf * 0.023).cos())) as usize;
        // The head sways and bobs; the radii scale with the frame.
        let (cx, cy) = (w as f32 * (0.5 + 0.12 * (tf * 0.07).sin()), h as f32 * (0.48 + 0.05 * (tf * 0.11).sin()));
        let (rx, ry) = (w as f32 * 0.16, h as f32 * 0.30);
        let blink = t % 45 < 3;
        let mouth_open = 0.3 + 0.7 * (0.5 + 0.5 * (tf * 0.9).sin());

        let (py, pu, pv) = out.planes_mut();
        for y in 0..h {
            let bg_row = &self.bg_y[(y + dy) * self.bg_stride + dx..][..w];
            for x in 0..w {
                let (nx, ny) = ((x as f32 - cx) / rx, (y as f32 - cy) / ry);
                let d2 = nx * nx + ny * ny;
                let mut luma = if d2 <= 1.0 {
                    // Skin with a light from the left and soft falloff.
                    let mut v = 150.0 + 40.0 * (1.0 - d2) - 25.0 * nx;
                    let eye = |ex: f32| {
                        ((nx - ex) / 0.18).powi(2) + ((ny + 0.25) / if blink { 0.02 } else { 0.08 }).powi(2) <= 1.0
                    };
                    if eye(-0.38) || eye(0.38) {
                        v = 40.0;
                    }
                    if (nx / 0.35).powi(2) + ((ny - 0.45) / (0.1 * mouth_open)).powi(2) <= 1.0 {
                        v = 60.0;
                    }
                    v
                } else {
                    f32::from(bg_row[x])
                };
                // Sensor noise, new every frame: the main reason a static
                // webcam still costs bits.
                let n = hash(t.wrapping_mul(0x1_0000_0001) ^ ((y * w + x) as u64));
                luma += ((n & 0xf) as f32) - 7.5;
                py[y * w + x] = luma.clamp(0.0, 255.0) as u8;
            }
        }
        let (cw, ch) = (w / 2, h / 2);
        for y in 0..ch {
            for x in 0..cw {
                let (nx, ny) = ((2 * x) as f32 - cx, (2 * y) as f32 - cy);
                let in_face = (nx / rx).powi(2) + (ny / ry).powi(2) <= 1.0;
                let (u, v) = if in_face {
                    (110.0, 155.0)
                } else {
                    // A warm-to-cool wall tint.
                    (120.0 + 16.0 * (x as f32 / cw as f32), 134.0 - 12.0 * (y as f32 / ch as f32))
                };
                let n = hash(t ^ 0xABCD ^ ((y * cw + x) as u64) << 20);
                pu[y * cw + x] = (u + ((n & 3) as f32) - 1.5) as u8;
                pv[y * cw + x] = (v + (((n >> 2) & 3) as f32) - 1.5) as u8;
            }
        }
        Ok(())
    }
}
