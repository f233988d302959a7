//! Hand-written declarations for the part of libvpx 1.12 this crate calls.
//!
//! Written from `/usr/include/vpx/*.h` (Debian libvpx-dev 1.12.0) instead of
//! generated with bindgen so the build needs no libclang. C enums are plain
//! integers here on purpose: a Rust enum receiving a value it does not list
//! is undefined behaviour, and libvpx is free to return new codes.
//! `tests::layout_matches_headers` checks every size, offset and constant
//! below against the installed headers via `csrc/layout_probe.c`.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void};

// ABI versions of libvpx 1.12 (vpx_image.h, vpx_codec.h, vpx_decoder.h,
// vpx_encoder.h + vpx_ext_ratectrl.h). The *_init_ver functions reject a
// library built with different values, which is the run-time guard.
pub const VPX_IMAGE_ABI_VERSION: c_int = 5;
pub const VPX_CODEC_ABI_VERSION: c_int = 4 + VPX_IMAGE_ABI_VERSION;
pub const VPX_DECODER_ABI_VERSION: c_int = 3 + VPX_CODEC_ABI_VERSION;
pub const VPX_EXT_RATECTRL_ABI_VERSION: c_int = 1;
pub const VPX_ENCODER_ABI_VERSION: c_int = 15 + VPX_CODEC_ABI_VERSION + VPX_EXT_RATECTRL_ABI_VERSION;

pub type vpx_codec_err_t = c_int;
pub const VPX_CODEC_OK: vpx_codec_err_t = 0;

pub type vpx_img_fmt_t = c_int;
pub const VPX_IMG_FMT_PLANAR: vpx_img_fmt_t = 0x100;
pub const VPX_IMG_FMT_I420: vpx_img_fmt_t = VPX_IMG_FMT_PLANAR | 2;

pub type vpx_codec_flags_t = c_long;
pub type vpx_enc_frame_flags_t = c_long;
pub const VPX_EFLAG_FORCE_KF: vpx_enc_frame_flags_t = 1;
pub type vpx_codec_frame_flags_t = u32;
pub const VPX_FRAME_IS_KEY: vpx_codec_frame_flags_t = 0x1;
pub type vpx_codec_pts_t = i64;
pub type vpx_codec_iter_t = *const c_void;

pub const VPX_DL_REALTIME: c_ulong = 1;

pub type vpx_codec_cx_pkt_kind = c_int;
pub const VPX_CODEC_CX_FRAME_PKT: vpx_codec_cx_pkt_kind = 0;

pub type vpx_enc_pass = c_int;
pub const VPX_RC_ONE_PASS: vpx_enc_pass = 0;
pub type vpx_rc_mode = c_int;
pub const VPX_CBR: vpx_rc_mode = 1;
pub type vpx_kf_mode = c_int;
pub const VPX_KF_AUTO: vpx_kf_mode = 1;
pub type vpx_bit_depth_t = c_int;
pub const VPX_BITS_8: vpx_bit_depth_t = 8;

/// `enum vp8e_enc_control_id` value for `VP8E_SET_CPUUSED` (vp8cx.h).
pub const VP8E_SET_CPUUSED: c_int = 13;

pub const VPX_SS_MAX_LAYERS: usize = 5;
pub const VPX_TS_MAX_LAYERS: usize = 5;
pub const VPX_TS_MAX_PERIODICITY: usize = 16;
pub const VPX_MAX_LAYERS: usize = 12;

/// Opaque `struct vpx_codec_iface`; only ever handled by pointer.
#[repr(C)]
pub struct vpx_codec_iface_t {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub union vpx_codec_ctx_config {
    pub dec: *const vpx_codec_dec_cfg_t,
    pub enc: *const vpx_codec_enc_cfg_t,
    pub raw: *const c_void,
}

#[repr(C)]
pub struct vpx_codec_ctx_t {
    pub name: *const c_char,
    pub iface: *const vpx_codec_iface_t,
    pub err: vpx_codec_err_t,
    pub err_detail: *const c_char,
    pub init_flags: vpx_codec_flags_t,
    pub config: vpx_codec_ctx_config,
    pub priv_: *mut c_void,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct vpx_codec_dec_cfg_t {
    pub threads: c_uint,
    pub w: c_uint,
    pub h: c_uint,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct vpx_fixed_buf_t {
    pub buf: *mut c_void,
    pub sz: usize,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct vpx_rational_t {
    pub num: c_int,
    pub den: c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct vpx_codec_enc_cfg_t {
    pub g_usage: c_uint,
    pub g_threads: c_uint,
    pub g_profile: c_uint,
    pub g_w: c_uint,
    pub g_h: c_uint,
    pub g_bit_depth: vpx_bit_depth_t,
    pub g_input_bit_depth: c_uint,
    pub g_timebase: vpx_rational_t,
    pub g_error_resilient: u32,
    pub g_pass: vpx_enc_pass,
    pub g_lag_in_frames: c_uint,
    pub rc_dropframe_thresh: c_uint,
    pub rc_resize_allowed: c_uint,
    pub rc_scaled_width: c_uint,
    pub rc_scaled_height: c_uint,
    pub rc_resize_up_thresh: c_uint,
    pub rc_resize_down_thresh: c_uint,
    pub rc_end_usage: vpx_rc_mode,
    pub rc_twopass_stats_in: vpx_fixed_buf_t,
    pub rc_firstpass_mb_stats_in: vpx_fixed_buf_t,
    pub rc_target_bitrate: c_uint,
    pub rc_min_quantizer: c_uint,
    pub rc_max_quantizer: c_uint,
    pub rc_undershoot_pct: c_uint,
    pub rc_overshoot_pct: c_uint,
    pub rc_buf_sz: c_uint,
    pub rc_buf_initial_sz: c_uint,
    pub rc_buf_optimal_sz: c_uint,
    pub rc_2pass_vbr_bias_pct: c_uint,
    pub rc_2pass_vbr_minsection_pct: c_uint,
    pub rc_2pass_vbr_maxsection_pct: c_uint,
    pub rc_2pass_vbr_corpus_complexity: c_uint,
    pub kf_mode: vpx_kf_mode,
    pub kf_min_dist: c_uint,
    pub kf_max_dist: c_uint,
    pub ss_number_layers: c_uint,
    pub ss_enable_auto_alt_ref: [c_int; VPX_SS_MAX_LAYERS],
    pub ss_target_bitrate: [c_uint; VPX_SS_MAX_LAYERS],
    pub ts_number_layers: c_uint,
    pub ts_target_bitrate: [c_uint; VPX_TS_MAX_LAYERS],
    pub ts_rate_decimator: [c_uint; VPX_TS_MAX_LAYERS],
    pub ts_periodicity: c_uint,
    pub ts_layer_id: [c_uint; VPX_TS_MAX_PERIODICITY],
    pub layer_target_bitrate: [c_uint; VPX_MAX_LAYERS],
    pub temporal_layering_mode: c_int,
    pub use_vizier_rc_params: c_int,
    pub active_wq_factor: vpx_rational_t,
    pub err_per_mb_factor: vpx_rational_t,
    pub sr_default_decay_limit: vpx_rational_t,
    pub sr_diff_factor: vpx_rational_t,
    pub kf_err_per_mb_factor: vpx_rational_t,
    pub kf_frame_min_boost_factor: vpx_rational_t,
    pub kf_frame_max_boost_first_factor: vpx_rational_t,
    pub kf_frame_max_boost_subs_factor: vpx_rational_t,
    pub kf_max_total_boost_factor: vpx_rational_t,
    pub gf_max_total_boost_factor: vpx_rational_t,
    pub gf_frame_max_boost_factor: vpx_rational_t,
    pub zm_factor: vpx_rational_t,
    pub rd_mult_inter_qp_fac: vpx_rational_t,
    pub rd_mult_arf_qp_fac: vpx_rational_t,
    pub rd_mult_key_qp_fac: vpx_rational_t,
}

/// The `frame` arm of `vpx_codec_cx_pkt_t::data`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct vpx_codec_cx_pkt_frame {
    pub buf: *mut c_void,
    pub sz: usize,
    pub pts: vpx_codec_pts_t,
    pub duration: c_ulong,
    pub flags: vpx_codec_frame_flags_t,
    pub partition_id: c_int,
    pub width: [c_uint; VPX_SS_MAX_LAYERS],
    pub height: [c_uint; VPX_SS_MAX_LAYERS],
    pub spatial_layer_encoded: [u8; VPX_SS_MAX_LAYERS],
}

/// Only the arms we read are spelled out; `pad` gives the union the size the
/// header forces (`char pad[128 - sizeof(enum vpx_codec_cx_pkt_kind)]`).
#[repr(C)]
#[derive(Clone, Copy)]
pub union vpx_codec_cx_pkt_data {
    pub frame: vpx_codec_cx_pkt_frame,
    pub raw: vpx_fixed_buf_t,
    pub pad: [c_char; 128 - size_of::<vpx_codec_cx_pkt_kind>()],
}

#[repr(C)]
pub struct vpx_codec_cx_pkt_t {
    pub kind: vpx_codec_cx_pkt_kind,
    pub data: vpx_codec_cx_pkt_data,
}

#[repr(C)]
pub struct vpx_image_t {
    pub fmt: vpx_img_fmt_t,
    pub cs: c_int,
    pub range: c_int,
    pub w: c_uint,
    pub h: c_uint,
    pub bit_depth: c_uint,
    pub d_w: c_uint,
    pub d_h: c_uint,
    pub r_w: c_uint,
    pub r_h: c_uint,
    pub x_chroma_shift: c_uint,
    pub y_chroma_shift: c_uint,
    pub planes: [*mut u8; 4],
    pub stride: [c_int; 4],
    pub bps: c_int,
    pub user_priv: *mut c_void,
    pub img_data: *mut u8,
    pub img_data_owner: c_int,
    pub self_allocd: c_int,
    pub fb_priv: *mut c_void,
}

#[link(name = "vpx")]
unsafe extern "C" {
    pub fn vpx_codec_vp8_cx() -> *const vpx_codec_iface_t;
    pub fn vpx_codec_vp8_dx() -> *const vpx_codec_iface_t;

    pub fn vpx_codec_version() -> c_int;
    pub fn vpx_codec_version_str() -> *const c_char;
    pub fn vpx_codec_err_to_string(err: vpx_codec_err_t) -> *const c_char;
    pub fn vpx_codec_error_detail(ctx: *const vpx_codec_ctx_t) -> *const c_char;
    pub fn vpx_codec_destroy(ctx: *mut vpx_codec_ctx_t) -> vpx_codec_err_t;
    pub fn vpx_codec_control_(ctx: *mut vpx_codec_ctx_t, ctrl_id: c_int, ...) -> vpx_codec_err_t;

    pub fn vpx_codec_enc_config_default(
        iface: *const vpx_codec_iface_t,
        cfg: *mut vpx_codec_enc_cfg_t,
        usage: c_uint,
    ) -> vpx_codec_err_t;
    pub fn vpx_codec_enc_init_ver(
        ctx: *mut vpx_codec_ctx_t,
        iface: *const vpx_codec_iface_t,
        cfg: *const vpx_codec_enc_cfg_t,
        flags: vpx_codec_flags_t,
        ver: c_int,
    ) -> vpx_codec_err_t;
    pub fn vpx_codec_encode(
        ctx: *mut vpx_codec_ctx_t,
        img: *const vpx_image_t,
        pts: vpx_codec_pts_t,
        duration: c_ulong,
        flags: vpx_enc_frame_flags_t,
        deadline: c_ulong,
    ) -> vpx_codec_err_t;
    pub fn vpx_codec_get_cx_data(ctx: *mut vpx_codec_ctx_t, iter: *mut vpx_codec_iter_t) -> *const vpx_codec_cx_pkt_t;

    pub fn vpx_codec_dec_init_ver(
        ctx: *mut vpx_codec_ctx_t,
        iface: *const vpx_codec_iface_t,
        cfg: *const vpx_codec_dec_cfg_t,
        flags: vpx_codec_flags_t,
        ver: c_int,
    ) -> vpx_codec_err_t;
    pub fn vpx_codec_decode(
        ctx: *mut vpx_codec_ctx_t,
        data: *const u8,
        data_sz: c_uint,
        user_priv: *mut c_void,
        deadline: c_long,
    ) -> vpx_codec_err_t;
    pub fn vpx_codec_get_frame(ctx: *mut vpx_codec_ctx_t, iter: *mut vpx_codec_iter_t) -> *mut vpx_image_t;

    pub fn vpx_img_wrap(
        img: *mut vpx_image_t,
        fmt: vpx_img_fmt_t,
        d_w: c_uint,
        d_h: c_uint,
        stride_align: c_uint,
        img_data: *mut u8,
    ) -> *mut vpx_image_t;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::ffi::CStr;
    use std::mem::offset_of;

    #[repr(C)]
    struct ProbeEntry {
        name: *const c_char,
        value: i64,
    }

    unsafe extern "C" {
        // Defined in csrc/layout_probe.c, compiled against the installed headers.
        static vigil_cliff_layout: [ProbeEntry; 0];
        static vigil_cliff_layout_len: usize;
    }

    fn probe() -> HashMap<String, i64> {
        // SAFETY: the C file defines an array of `vigil_cliff_layout_len`
        // entries whose names are string literals.
        unsafe {
            let base = std::ptr::addr_of!(vigil_cliff_layout) as *const ProbeEntry;
            (0..vigil_cliff_layout_len)
                .map(|i| {
                    let e = &*base.add(i);
                    (CStr::from_ptr(e.name).to_string_lossy().into_owned(), e.value)
                })
                .collect()
        }
    }

    #[test]
    fn layout_matches_headers() {
        let c = probe();
        let ours: Vec<(&str, i64)> = vec![
            ("VPX_IMAGE_ABI_VERSION", VPX_IMAGE_ABI_VERSION.into()),
            ("VPX_CODEC_ABI_VERSION", VPX_CODEC_ABI_VERSION.into()),
            ("VPX_DECODER_ABI_VERSION", VPX_DECODER_ABI_VERSION.into()),
            ("VPX_ENCODER_ABI_VERSION", VPX_ENCODER_ABI_VERSION.into()),
            ("VPX_IMG_FMT_I420", VPX_IMG_FMT_I420.into()),
            ("VPX_DL_REALTIME", VPX_DL_REALTIME as i64),
            ("VPX_FRAME_IS_KEY", VPX_FRAME_IS_KEY.into()),
            ("VPX_EFLAG_FORCE_KF", VPX_EFLAG_FORCE_KF),
            ("VPX_CODEC_CX_FRAME_PKT", VPX_CODEC_CX_FRAME_PKT.into()),
            ("VPX_CBR", VPX_CBR.into()),
            ("VPX_KF_AUTO", VPX_KF_AUTO.into()),
            ("VPX_RC_ONE_PASS", VPX_RC_ONE_PASS.into()),
            ("VPX_BITS_8", VPX_BITS_8.into()),
            ("VP8E_SET_CPUUSED", VP8E_SET_CPUUSED.into()),
            ("VPX_CODEC_OK", VPX_CODEC_OK.into()),
            ("sizeof vpx_codec_ctx_t", size_of::<vpx_codec_ctx_t>() as i64),
            ("sizeof vpx_codec_dec_cfg_t", size_of::<vpx_codec_dec_cfg_t>() as i64),
            ("sizeof vpx_codec_enc_cfg_t", size_of::<vpx_codec_enc_cfg_t>() as i64),
            ("sizeof vpx_codec_cx_pkt_t", size_of::<vpx_codec_cx_pkt_t>() as i64),
            ("sizeof vpx_image_t", size_of::<vpx_image_t>() as i64),
            ("sizeof vpx_fixed_buf_t", size_of::<vpx_fixed_buf_t>() as i64),
            ("sizeof vpx_rational_t", size_of::<vpx_rational_t>() as i64),
            ("vpx_codec_ctx_t.err", offset_of!(vpx_codec_ctx_t, err) as i64),
            ("vpx_codec_ctx_t.err_detail", offset_of!(vpx_codec_ctx_t, err_detail) as i64),
            ("vpx_codec_ctx_t.config", offset_of!(vpx_codec_ctx_t, config) as i64),
            ("vpx_codec_ctx_t.priv", offset_of!(vpx_codec_ctx_t, priv_) as i64),
            ("vpx_codec_dec_cfg_t.threads", offset_of!(vpx_codec_dec_cfg_t, threads) as i64),
            ("vpx_codec_dec_cfg_t.w", offset_of!(vpx_codec_dec_cfg_t, w) as i64),
            ("vpx_codec_dec_cfg_t.h", offset_of!(vpx_codec_dec_cfg_t, h) as i64),
            ("vpx_codec_enc_cfg_t.g_usage", offset_of!(vpx_codec_enc_cfg_t, g_usage) as i64),
            ("vpx_codec_enc_cfg_t.g_threads", offset_of!(vpx_codec_enc_cfg_t, g_threads) as i64),
            ("vpx_codec_enc_cfg_t.g_w", offset_of!(vpx_codec_enc_cfg_t, g_w) as i64),
            ("vpx_codec_enc_cfg_t.g_h", offset_of!(vpx_codec_enc_cfg_t, g_h) as i64),
            ("vpx_codec_enc_cfg_t.g_bit_depth", offset_of!(vpx_codec_enc_cfg_t, g_bit_depth) as i64),
            ("vpx_codec_enc_cfg_t.g_timebase", offset_of!(vpx_codec_enc_cfg_t, g_timebase) as i64),
            ("vpx_codec_enc_cfg_t.g_error_resilient", offset_of!(vpx_codec_enc_cfg_t, g_error_resilient) as i64),
            ("vpx_codec_enc_cfg_t.g_pass", offset_of!(vpx_codec_enc_cfg_t, g_pass) as i64),
            ("vpx_codec_enc_cfg_t.g_lag_in_frames", offset_of!(vpx_codec_enc_cfg_t, g_lag_in_frames) as i64),
            ("vpx_codec_enc_cfg_t.rc_dropframe_thresh", offset_of!(vpx_codec_enc_cfg_t, rc_dropframe_thresh) as i64),
            ("vpx_codec_enc_cfg_t.rc_resize_allowed", offset_of!(vpx_codec_enc_cfg_t, rc_resize_allowed) as i64),
            ("vpx_codec_enc_cfg_t.rc_end_usage", offset_of!(vpx_codec_enc_cfg_t, rc_end_usage) as i64),
            ("vpx_codec_enc_cfg_t.rc_twopass_stats_in", offset_of!(vpx_codec_enc_cfg_t, rc_twopass_stats_in) as i64),
            ("vpx_codec_enc_cfg_t.rc_target_bitrate", offset_of!(vpx_codec_enc_cfg_t, rc_target_bitrate) as i64),
            ("vpx_codec_enc_cfg_t.rc_min_quantizer", offset_of!(vpx_codec_enc_cfg_t, rc_min_quantizer) as i64),
            ("vpx_codec_enc_cfg_t.rc_max_quantizer", offset_of!(vpx_codec_enc_cfg_t, rc_max_quantizer) as i64),
            ("vpx_codec_enc_cfg_t.rc_undershoot_pct", offset_of!(vpx_codec_enc_cfg_t, rc_undershoot_pct) as i64),
            ("vpx_codec_enc_cfg_t.rc_overshoot_pct", offset_of!(vpx_codec_enc_cfg_t, rc_overshoot_pct) as i64),
            ("vpx_codec_enc_cfg_t.rc_buf_sz", offset_of!(vpx_codec_enc_cfg_t, rc_buf_sz) as i64),
            ("vpx_codec_enc_cfg_t.rc_buf_initial_sz", offset_of!(vpx_codec_enc_cfg_t, rc_buf_initial_sz) as i64),
            ("vpx_codec_enc_cfg_t.rc_buf_optimal_sz", offset_of!(vpx_codec_enc_cfg_t, rc_buf_optimal_sz) as i64),
            ("vpx_codec_enc_cfg_t.kf_mode", offset_of!(vpx_codec_enc_cfg_t, kf_mode) as i64),
            ("vpx_codec_enc_cfg_t.kf_min_dist", offset_of!(vpx_codec_enc_cfg_t, kf_min_dist) as i64),
            ("vpx_codec_enc_cfg_t.kf_max_dist", offset_of!(vpx_codec_enc_cfg_t, kf_max_dist) as i64),
            ("vpx_codec_enc_cfg_t.ss_number_layers", offset_of!(vpx_codec_enc_cfg_t, ss_number_layers) as i64),
            ("vpx_codec_enc_cfg_t.ts_number_layers", offset_of!(vpx_codec_enc_cfg_t, ts_number_layers) as i64),
            ("vpx_codec_enc_cfg_t.layer_target_bitrate", offset_of!(vpx_codec_enc_cfg_t, layer_target_bitrate) as i64),
            (
                "vpx_codec_enc_cfg_t.temporal_layering_mode",
                offset_of!(vpx_codec_enc_cfg_t, temporal_layering_mode) as i64,
            ),
            ("vpx_codec_enc_cfg_t.rd_mult_key_qp_fac", offset_of!(vpx_codec_enc_cfg_t, rd_mult_key_qp_fac) as i64),
            ("vpx_codec_cx_pkt_t.kind", offset_of!(vpx_codec_cx_pkt_t, kind) as i64),
            ("vpx_codec_cx_pkt_t.data", offset_of!(vpx_codec_cx_pkt_t, data) as i64),
            (
                "vpx_codec_cx_pkt_t.data.frame.buf",
                (offset_of!(vpx_codec_cx_pkt_t, data) + offset_of!(vpx_codec_cx_pkt_frame, buf)) as i64,
            ),
            (
                "vpx_codec_cx_pkt_t.data.frame.sz",
                (offset_of!(vpx_codec_cx_pkt_t, data) + offset_of!(vpx_codec_cx_pkt_frame, sz)) as i64,
            ),
            (
                "vpx_codec_cx_pkt_t.data.frame.pts",
                (offset_of!(vpx_codec_cx_pkt_t, data) + offset_of!(vpx_codec_cx_pkt_frame, pts)) as i64,
            ),
            (
                "vpx_codec_cx_pkt_t.data.frame.duration",
                (offset_of!(vpx_codec_cx_pkt_t, data) + offset_of!(vpx_codec_cx_pkt_frame, duration)) as i64,
            ),
            (
                "vpx_codec_cx_pkt_t.data.frame.flags",
                (offset_of!(vpx_codec_cx_pkt_t, data) + offset_of!(vpx_codec_cx_pkt_frame, flags)) as i64,
            ),
            ("vpx_image_t.fmt", offset_of!(vpx_image_t, fmt) as i64),
            ("vpx_image_t.w", offset_of!(vpx_image_t, w) as i64),
            ("vpx_image_t.h", offset_of!(vpx_image_t, h) as i64),
            ("vpx_image_t.d_w", offset_of!(vpx_image_t, d_w) as i64),
            ("vpx_image_t.d_h", offset_of!(vpx_image_t, d_h) as i64),
            ("vpx_image_t.x_chroma_shift", offset_of!(vpx_image_t, x_chroma_shift) as i64),
            ("vpx_image_t.y_chroma_shift", offset_of!(vpx_image_t, y_chroma_shift) as i64),
            ("vpx_image_t.planes", offset_of!(vpx_image_t, planes) as i64),
            ("vpx_image_t.stride", offset_of!(vpx_image_t, stride) as i64),
            ("vpx_image_t.img_data", offset_of!(vpx_image_t, img_data) as i64),
            ("vpx_image_t.fb_priv", offset_of!(vpx_image_t, fb_priv) as i64),
        ];
        let mut mismatches = Vec::new();
        for (name, value) in &ours {
            match c.get(*name) {
                Some(cv) if cv == value => {}
                Some(cv) => mismatches.push(format!("{name}: rust {value}, C {cv}")),
                None => mismatches.push(format!("{name}: missing from csrc/layout_probe.c")),
            }
        }
        // Every probed value must be checked, so a new probe line cannot be forgotten here.
        for name in c.keys() {
            if !ours.iter().any(|(n, _)| n == name) {
                mismatches.push(format!("{name}: probed but not compared"));
            }
        }
        assert!(mismatches.is_empty(), "FFI layout differs from the libvpx headers:\n{}", mismatches.join("\n"));
    }
}
