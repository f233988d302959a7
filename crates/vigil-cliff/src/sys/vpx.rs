//! Safe VP8 encoder and decoder over the raw declarations in `ffi`.
//!
//! Invariants kept here so callers need none:
//! * the codec context and the encoder config live in `Box`es because libvpx
//!   keeps pointers to both (`ctx->config.enc` points at the caller's cfg);
//! * the library version is checked before any call that writes a struct
//!   whose size is version dependent (`vpx_codec_enc_config_default`);
//! * images returned by the decoder borrow the decoder mutably, because
//!   libvpx reuses that memory on the next `vpx_codec_decode`.

use std::ffi::{CStr, c_int, c_uint, c_ulong};
use std::mem::MaybeUninit;
use std::ptr;

use super::ffi;
use crate::frame::I420Frame;

/// What libvpx said went wrong, from `vpx_codec_err_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecErrorKind {
    Error,
    MemError,
    AbiMismatch,
    Incapable,
    UnsupportedBitstream,
    UnsupportedFeature,
    CorruptFrame,
    InvalidParam,
    /// A code this crate does not know (a newer libvpx).
    Other(i32),
}

impl CodecErrorKind {
    fn from_raw(code: ffi::vpx_codec_err_t) -> Self {
        match code {
            1 => Self::Error,
            2 => Self::MemError,
            3 => Self::AbiMismatch,
            4 => Self::Incapable,
            5 => Self::UnsupportedBitstream,
            6 => Self::UnsupportedFeature,
            7 => Self::CorruptFrame,
            8 => Self::InvalidParam,
            other => Self::Other(other),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VpxError {
    #[error(
        "libvpx {found} is linked, but these bindings follow the libvpx 1.12 ABI (install libvpx-dev 1.12 or update src/sys/ffi.rs)"
    )]
    UnsupportedVersion { found: String },
    #[error("{op} failed: {message}{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Codec { op: &'static str, kind: CodecErrorKind, message: String, detail: Option<String> },
    #[error("invalid encoder setting: {0}")]
    InvalidConfig(String),
    #[error("frame is {got_w}x{got_h} but the encoder was opened for {want_w}x{want_h}")]
    FrameSize { got_w: u32, got_h: u32, want_w: u32, want_h: u32 },
    #[error("packet of {0} bytes is larger than libvpx accepts")]
    PacketTooLarge(usize),
    #[error("decoder returned an image libvpx describes inconsistently ({0})")]
    BadImage(&'static str),
}

fn cstr_lossy(p: *const std::ffi::c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: libvpx returns NUL-terminated strings that live at least as
    // long as the context (most are static).
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

fn check(op: &'static str, code: ffi::vpx_codec_err_t, ctx: Option<&ffi::vpx_codec_ctx_t>) -> Result<(), VpxError> {
    if code == ffi::VPX_CODEC_OK {
        return Ok(());
    }
    // SAFETY: vpx_codec_err_to_string accepts any value and returns a static string.
    let message = cstr_lossy(unsafe { ffi::vpx_codec_err_to_string(code) }).unwrap_or_else(|| format!("error {code}"));
    // SAFETY: `ctx` is a live, initialised context when given.
    let detail = ctx.and_then(|c| cstr_lossy(unsafe { ffi::vpx_codec_error_detail(c) }));
    Err(VpxError::Codec { op, kind: CodecErrorKind::from_raw(code), message, detail })
}

/// `"v1.12.0"`-style version string of the linked library.
pub fn library_version() -> String {
    // SAFETY: returns a static string.
    cstr_lossy(unsafe { ffi::vpx_codec_version_str() }).unwrap_or_default()
}

fn ensure_supported_version() -> Result<(), VpxError> {
    // SAFETY: no arguments, no preconditions.
    let v = unsafe { ffi::vpx_codec_version() };
    let (major, minor) = ((v >> 16) & 0xff, (v >> 8) & 0xff);
    if (major, minor) != (1, 12) {
        return Err(VpxError::UnsupportedVersion { found: library_version() });
    }
    Ok(())
}

/// Encoder settings, defaulting to what a browser's VP8 sender uses for a
/// low-bitrate webcam: one-pass CBR, no lookahead, realtime deadline.
#[derive(Debug, Clone, Copy)]
pub struct EncoderConfig {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    /// A keyframe is forced every this many frames (and never elsewhere).
    pub keyframe_interval: u32,
    /// VP8E_SET_CPUUSED: -16..=16; WebRTC uses -6 on desktop.
    pub cpu_used: i32,
}

#[derive(Debug, Clone)]
pub struct EncodedFrame {
    pub data: Vec<u8>,
    pub pts: i64,
    pub is_keyframe: bool,
}

pub struct Encoder {
    ctx: Box<ffi::vpx_codec_ctx_t>,
    // Never read from Rust, but libvpx holds a pointer to it until destroy.
    _cfg: Box<ffi::vpx_codec_enc_cfg_t>,
    config: EncoderConfig,
    frames_in: u64,
}

impl Encoder {
    pub fn new(config: EncoderConfig) -> Result<Self, VpxError> {
        ensure_supported_version()?;
        if config.fps == 0 || config.fps > 240 {
            return Err(VpxError::InvalidConfig(format!("fps {} is outside 1..=240", config.fps)));
        }
        if config.bitrate_kbps == 0 || config.bitrate_kbps > 100_000 {
            return Err(VpxError::InvalidConfig(format!("bitrate {} kbps is outside 1..=100000", config.bitrate_kbps)));
        }
        if config.keyframe_interval == 0 {
            return Err(VpxError::InvalidConfig("keyframe interval must be at least 1 frame".into()));
        }
        if !(-16..=16).contains(&config.cpu_used) {
            return Err(VpxError::InvalidConfig(format!("cpu-used {} is outside -16..=16", config.cpu_used)));
        }
        // Reuse the frame type's dimension rules so encoder and frames agree.
        I420Frame::new(config.width, config.height).map_err(|e| VpxError::InvalidConfig(e.to_string()))?;

        // SAFETY: returns a static interface descriptor.
        let iface = unsafe { ffi::vpx_codec_vp8_cx() };
        let mut cfg = Box::new(MaybeUninit::<ffi::vpx_codec_enc_cfg_t>::zeroed());
        // SAFETY: the version check above guarantees libvpx writes exactly
        // size_of::<vpx_codec_enc_cfg_t>() bytes (checked by the layout test).
        let rc = unsafe { ffi::vpx_codec_enc_config_default(iface, cfg.as_mut_ptr(), 0) };
        check("vpx_codec_enc_config_default", rc, None)?;
        // SAFETY: fully initialised by libvpx above (and zeroed before that).
        let mut cfg: Box<ffi::vpx_codec_enc_cfg_t> = unsafe { cfg.assume_init() };

        cfg.g_w = config.width;
        cfg.g_h = config.height;
        cfg.g_timebase = ffi::vpx_rational_t { num: 1, den: config.fps as c_int };
        cfg.g_bit_depth = ffi::VPX_BITS_8;
        cfg.g_input_bit_depth = 8;
        cfg.g_threads = 1;
        cfg.g_lag_in_frames = 0;
        cfg.g_pass = ffi::VPX_RC_ONE_PASS;
        cfg.g_error_resilient = 0;
        cfg.rc_end_usage = ffi::VPX_CBR;
        cfg.rc_target_bitrate = config.bitrate_kbps;
        // Buffer and quantizer settings follow WebRTC's libvpx VP8 wrapper.
        cfg.rc_min_quantizer = 2;
        cfg.rc_max_quantizer = 56;
        cfg.rc_undershoot_pct = 100;
        cfg.rc_overshoot_pct = 15;
        cfg.rc_buf_initial_sz = 500;
        cfg.rc_buf_optimal_sz = 600;
        cfg.rc_buf_sz = 1000;
        // No frame dropping and no internal resize: the benchmark and the
        // tests rely on one output frame per input frame at a fixed size.
        cfg.rc_dropframe_thresh = 0;
        cfg.rc_resize_allowed = 0;
        // min == max disables VP8's automatic (scene-cut) keyframes, so
        // keyframes land only where we force them.
        cfg.kf_mode = ffi::VPX_KF_AUTO;
        cfg.kf_min_dist = config.keyframe_interval;
        cfg.kf_max_dist = config.keyframe_interval;

        // SAFETY: all-zero is the state libvpx expects before init.
        let mut ctx: Box<ffi::vpx_codec_ctx_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: ctx and cfg are boxed, so the pointers libvpx keeps stay
        // valid until `Drop` destroys the context.
        let rc = unsafe { ffi::vpx_codec_enc_init_ver(&mut *ctx, iface, &*cfg, 0, ffi::VPX_ENCODER_ABI_VERSION) };
        check("vpx_codec_enc_init", rc, Some(&ctx))?;
        let mut enc = Self { ctx, _cfg: cfg, config, frames_in: 0 };

        // SAFETY: VP8E_SET_CPUUSED takes an int, passed as a C variadic int.
        let rc = unsafe { ffi::vpx_codec_control_(&mut *enc.ctx, ffi::VP8E_SET_CPUUSED, config.cpu_used as c_int) };
        check("vpx_codec_control(VP8E_SET_CPUUSED)", rc, Some(&enc.ctx))?;
        Ok(enc)
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Encodes one frame and returns the packets it produced (exactly one
    /// with this configuration). Keyframes are forced on frame numbers that
    /// are multiples of `keyframe_interval`.
    pub fn encode(&mut self, frame: &I420Frame) -> Result<Vec<EncodedFrame>, VpxError> {
        let (w, h) = (self.config.width, self.config.height);
        if frame.width() != w || frame.height() != h {
            return Err(VpxError::FrameSize { got_w: frame.width(), got_h: frame.height(), want_w: w, want_h: h });
        }
        let pts = self.frames_in as i64;
        let flags = if self.frames_in.is_multiple_of(u64::from(self.config.keyframe_interval)) {
            ffi::VPX_EFLAG_FORCE_KF
        } else {
            0
        };

        // SAFETY: all-zero is a valid vpx_image_t; vpx_img_wrap fills it.
        let mut img: ffi::vpx_image_t = unsafe { std::mem::zeroed() };
        // libvpx wants `*mut` but the encoder only reads the input picture
        // (VP8 copies it into its lookahead before vpx_codec_encode returns).
        let data = frame.data().as_ptr().cast_mut();
        // SAFETY: `data` holds a contiguous w*h I420 picture with stride w
        // (stride_align 1), as I420Frame guarantees.
        let wrapped = unsafe { ffi::vpx_img_wrap(&mut img, ffi::VPX_IMG_FMT_I420, w as c_uint, h as c_uint, 1, data) };
        if wrapped.is_null() {
            return Err(VpxError::InvalidConfig(format!("vpx_img_wrap rejected a {w}x{h} I420 frame")));
        }
        // SAFETY: ctx is initialised; img points into `frame`, which outlives the call.
        let rc = unsafe { ffi::vpx_codec_encode(&mut *self.ctx, &img, pts, 1, flags, ffi::VPX_DL_REALTIME as c_ulong) };
        check("vpx_codec_encode", rc, Some(&self.ctx))?;
        self.frames_in += 1;
        self.drain()
    }

    fn drain(&mut self) -> Result<Vec<EncodedFrame>, VpxError> {
        let mut out = Vec::new();
        let mut iter: ffi::vpx_codec_iter_t = ptr::null();
        loop {
            // SAFETY: ctx is initialised; iter starts null as the API requires.
            let pkt = unsafe { ffi::vpx_codec_get_cx_data(&mut *self.ctx, &mut iter) };
            if pkt.is_null() {
                break;
            }
            // SAFETY: non-null packets stay valid until the next encode call.
            let pkt = unsafe { &*pkt };
            if pkt.kind != ffi::VPX_CODEC_CX_FRAME_PKT {
                continue;
            }
            // SAFETY: kind == FRAME_PKT selects the `frame` arm of the union.
            let f = unsafe { pkt.data.frame };
            let data = if f.buf.is_null() || f.sz == 0 {
                Vec::new()
            } else {
                // SAFETY: libvpx hands out `sz` readable bytes at `buf`.
                unsafe { std::slice::from_raw_parts(f.buf as *const u8, f.sz) }.to_vec()
            };
            out.push(EncodedFrame { data, pts: f.pts, is_keyframe: f.flags & ffi::VPX_FRAME_IS_KEY != 0 });
        }
        Ok(out)
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: ctx was initialised by vpx_codec_enc_init_ver (construction
        // fails before `Self` exists otherwise) and is destroyed once.
        unsafe { ffi::vpx_codec_destroy(&mut *self.ctx) };
    }
}

pub struct Decoder {
    ctx: Box<ffi::vpx_codec_ctx_t>,
    _cfg: Box<ffi::vpx_codec_dec_cfg_t>,
}

impl Decoder {
    /// A single-threaded VP8 decoder without post-processing: what a server
    /// running one decoder per student would use.
    pub fn new() -> Result<Self, VpxError> {
        ensure_supported_version()?;
        let cfg = Box::new(ffi::vpx_codec_dec_cfg_t { threads: 1, w: 0, h: 0 });
        // SAFETY: all-zero is the state libvpx expects before init.
        let mut ctx: Box<ffi::vpx_codec_ctx_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: ctx/cfg are boxed and outlive the context (see Drop).
        let rc = unsafe {
            ffi::vpx_codec_dec_init_ver(&mut *ctx, ffi::vpx_codec_vp8_dx(), &*cfg, 0, ffi::VPX_DECODER_ABI_VERSION)
        };
        check("vpx_codec_dec_init", rc, Some(&ctx))?;
        Ok(Self { ctx, _cfg: cfg })
    }

    /// Decodes one VP8 frame. The returned image borrows the decoder because
    /// libvpx overwrites it on the next call. `None` means the packet
    /// produced no displayable frame.
    pub fn decode(&mut self, packet: &[u8]) -> Result<Option<DecodedImage<'_>>, VpxError> {
        let len = c_uint::try_from(packet.len()).map_err(|_| VpxError::PacketTooLarge(packet.len()))?;
        // An empty buffer means "flush" to libvpx; a server never sends that.
        if len == 0 {
            return Err(VpxError::Codec {
                op: "vpx_codec_decode",
                kind: CodecErrorKind::CorruptFrame,
                message: "empty packet".into(),
                detail: None,
            });
        }
        // SAFETY: ctx is initialised; `packet` is readable for `len` bytes.
        let rc = unsafe { ffi::vpx_codec_decode(&mut *self.ctx, packet.as_ptr(), len, ptr::null_mut(), 0) };
        check("vpx_codec_decode", rc, Some(&self.ctx))?;

        let mut iter: ffi::vpx_codec_iter_t = ptr::null();
        // SAFETY: ctx is initialised; iter starts null. VP8 yields at most
        // one image per packet, so one call drains it.
        let img = unsafe { ffi::vpx_codec_get_frame(&mut *self.ctx, &mut iter) };
        if img.is_null() {
            return Ok(None);
        }
        // SAFETY: the image stays valid until the next decode, which needs
        // `&mut self` and so cannot happen while this borrow lives.
        let img = unsafe { &*img };
        DecodedImage::new(img).map(Some)
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: ctx was initialised by vpx_codec_dec_init_ver and is destroyed once.
        unsafe { ffi::vpx_codec_destroy(&mut *self.ctx) };
    }
}

/// One plane of a decoded picture: `height` rows of `width` bytes, `stride`
/// bytes apart in `data`.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
}

impl<'a> Plane<'a> {
    pub fn row(&self, y: usize) -> &'a [u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width]
    }
}

/// A decoded 8-bit I420 picture owned by its `Decoder`.
#[derive(Debug, Clone, Copy)]
pub struct DecodedImage<'a> {
    pub width: u32,
    pub height: u32,
    pub y: Plane<'a>,
    pub u: Plane<'a>,
    pub v: Plane<'a>,
}

impl<'a> DecodedImage<'a> {
    fn new(img: &'a ffi::vpx_image_t) -> Result<Self, VpxError> {
        if img.fmt != ffi::VPX_IMG_FMT_I420 || img.x_chroma_shift != 1 || img.y_chroma_shift != 1 {
            return Err(VpxError::BadImage("not 8-bit I420"));
        }
        let (w, h) = (img.d_w as usize, img.d_h as usize);
        let plane = |i: usize, pw: usize, ph: usize| -> Result<Plane<'a>, VpxError> {
            let stride = usize::try_from(img.stride[i]).map_err(|_| VpxError::BadImage("negative stride"))?;
            if img.planes[i].is_null() || stride < pw {
                return Err(VpxError::BadImage("null plane or stride narrower than the picture"));
            }
            let len = if ph == 0 { 0 } else { stride * (ph - 1) + pw };
            // SAFETY: libvpx allocated `ph` rows of `stride` bytes for this
            // plane (the last row at least `pw` long), valid for 'a.
            let data = unsafe { std::slice::from_raw_parts(img.planes[i], len) };
            Ok(Plane { data, stride, width: pw, height: ph })
        };
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        Ok(Self { width: img.d_w, height: img.d_h, y: plane(0, w, h)?, u: plane(1, cw, ch)?, v: plane(2, cw, ch)? })
    }

    /// Copies the picture into an owned frame (the decoder reuses its buffer).
    pub fn to_i420(&self) -> Result<I420Frame, crate::frame::BadDimensions> {
        let mut f = I420Frame::new(self.width, self.height)?;
        let (fy, fu, fv) = f.planes_mut();
        for (dst, src) in [(fy, &self.y), (fu, &self.u), (fv, &self.v)] {
            for (r, row) in dst.chunks_exact_mut(src.width).enumerate() {
                row.copy_from_slice(src.row(r));
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::psnr;
    use crate::scene::Scene;

    const W: u32 = 320;
    const H: u32 = 240;
    const FRAMES: usize = 30;
    const KF_INTERVAL: u32 = 10;

    fn config() -> EncoderConfig {
        EncoderConfig { width: W, height: H, fps: 15, bitrate_kbps: 300, keyframe_interval: KF_INTERVAL, cpu_used: -6 }
    }

    #[test]
    fn encode_decode_roundtrip() {
        let scene = Scene::new(W, H).unwrap();
        let mut enc = Encoder::new(config()).unwrap();
        let mut src = I420Frame::new(W, H).unwrap();
        let mut sources = Vec::new();
        let mut packets = Vec::new();
        for t in 0..FRAMES {
            scene.render(t as u64, &mut src).unwrap();
            let out = enc.encode(&src).unwrap();
            assert_eq!(out.len(), 1, "frame {t}: one packet per input frame");
            packets.extend(out);
            sources.push(src.clone());
        }
        assert_eq!(packets.len(), FRAMES);
        for (i, p) in packets.iter().enumerate() {
            assert_eq!(p.pts, i as i64);
            assert!(!p.data.is_empty(), "frame {i} is empty");
            assert_eq!(p.is_keyframe, i % KF_INTERVAL as usize == 0, "keyframe flag of frame {i}");
            // VP8 frame tag (RFC 6386 9.1): bit 0 clear means key frame.
            assert_eq!(p.data[0] & 1 == 0, p.is_keyframe, "bitstream keyframe bit of frame {i}");
        }

        let mut dec = Decoder::new().unwrap();
        let mut decoded = 0;
        for (i, (p, s)) in packets.iter().zip(&sources).enumerate() {
            let img = dec.decode(&p.data).unwrap().expect("a frame per packet");
            assert_eq!((img.width, img.height), (W, H));
            let out = img.to_i420().unwrap();
            let y = psnr(out.y(), s.y()).unwrap();
            assert!(y > 25.0, "frame {i}: Y PSNR {y:.2} dB");
            let u = psnr(out.u(), s.u()).unwrap();
            assert!(u > 25.0, "frame {i}: U PSNR {u:.2} dB");
            decoded += 1;
        }
        assert_eq!(decoded, FRAMES);
    }

    #[test]
    fn decoding_from_a_later_keyframe_works() {
        // Streams in the benchmark start mid-clip on a keyframe.
        let scene = Scene::new(W, H).unwrap();
        let mut enc = Encoder::new(config()).unwrap();
        let mut src = I420Frame::new(W, H).unwrap();
        let mut packets = Vec::new();
        for t in 0..FRAMES {
            scene.render(t as u64, &mut src).unwrap();
            packets.extend(enc.encode(&src).unwrap());
        }
        let mut dec = Decoder::new().unwrap();
        for p in &packets[KF_INTERVAL as usize..] {
            assert!(dec.decode(&p.data).unwrap().is_some());
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut enc = Encoder::new(config()).unwrap();
        let wrong = I420Frame::new(W / 2, H / 2).unwrap();
        assert!(matches!(enc.encode(&wrong), Err(VpxError::FrameSize { .. })));
        assert!(matches!(Encoder::new(EncoderConfig { width: 321, ..config() }), Err(VpxError::InvalidConfig(_))));
        assert!(matches!(Encoder::new(EncoderConfig { fps: 0, ..config() }), Err(VpxError::InvalidConfig(_))));

        let mut dec = Decoder::new().unwrap();
        assert!(dec.decode(&[]).is_err());
        assert!(dec.decode(&[0xff; 64]).is_err());
        // A delta frame before any keyframe cannot be decoded.
        let garbage_delta = [0x01u8, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 0, 0];
        let _ = dec.decode(&garbage_delta);
    }
}
