/* Exports sizeof/offsetof values and ABI constants from the installed libvpx
 * headers so the Rust FFI declarations can be checked against them in a unit
 * test (see src/sys/vpx.rs). Not used by the benchmark itself. */
#include <stddef.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>
#include <vpx/vpx_image.h>

struct vigil_cliff_layout_entry {
  const char *name;
  long long value;
};

#define SZ(t) {"sizeof " #t, (long long)sizeof(t)}
#define OFF(t, f) {#t "." #f, (long long)offsetof(t, f)}
#define CONST(c) {#c, (long long)(c)}

const struct vigil_cliff_layout_entry vigil_cliff_layout[] = {
    CONST(VPX_IMAGE_ABI_VERSION),
    CONST(VPX_CODEC_ABI_VERSION),
    CONST(VPX_DECODER_ABI_VERSION),
    CONST(VPX_ENCODER_ABI_VERSION),
    CONST(VPX_IMG_FMT_I420),
    CONST(VPX_DL_REALTIME),
    CONST(VPX_FRAME_IS_KEY),
    CONST(VPX_EFLAG_FORCE_KF),
    CONST(VPX_CODEC_CX_FRAME_PKT),
    CONST(VPX_CBR),
    CONST(VPX_KF_AUTO),
    CONST(VPX_RC_ONE_PASS),
    CONST(VPX_BITS_8),
    CONST(VP8E_SET_CPUUSED),
    CONST(VPX_CODEC_OK),

    SZ(vpx_codec_ctx_t),
    SZ(vpx_codec_dec_cfg_t),
    SZ(vpx_codec_enc_cfg_t),
    SZ(vpx_codec_cx_pkt_t),
    SZ(vpx_image_t),
    SZ(vpx_fixed_buf_t),
    SZ(vpx_rational_t),

    OFF(vpx_codec_ctx_t, err),
    OFF(vpx_codec_ctx_t, err_detail),
    OFF(vpx_codec_ctx_t, config),
    OFF(vpx_codec_ctx_t, priv),

    OFF(vpx_codec_dec_cfg_t, threads),
    OFF(vpx_codec_dec_cfg_t, w),
    OFF(vpx_codec_dec_cfg_t, h),

    OFF(vpx_codec_enc_cfg_t, g_usage),
    OFF(vpx_codec_enc_cfg_t, g_threads),
    OFF(vpx_codec_enc_cfg_t, g_w),
    OFF(vpx_codec_enc_cfg_t, g_h),
    OFF(vpx_codec_enc_cfg_t, g_bit_depth),
    OFF(vpx_codec_enc_cfg_t, g_timebase),
    OFF(vpx_codec_enc_cfg_t, g_error_resilient),
    OFF(vpx_codec_enc_cfg_t, g_pass),
    OFF(vpx_codec_enc_cfg_t, g_lag_in_frames),
    OFF(vpx_codec_enc_cfg_t, rc_dropframe_thresh),
    OFF(vpx_codec_enc_cfg_t, rc_resize_allowed),
    OFF(vpx_codec_enc_cfg_t, rc_end_usage),
    OFF(vpx_codec_enc_cfg_t, rc_twopass_stats_in),
    OFF(vpx_codec_enc_cfg_t, rc_target_bitrate),
    OFF(vpx_codec_enc_cfg_t, rc_min_quantizer),
    OFF(vpx_codec_enc_cfg_t, rc_max_quantizer),
    OFF(vpx_codec_enc_cfg_t, rc_undershoot_pct),
    OFF(vpx_codec_enc_cfg_t, rc_overshoot_pct),
    OFF(vpx_codec_enc_cfg_t, rc_buf_sz),
    OFF(vpx_codec_enc_cfg_t, rc_buf_initial_sz),
    OFF(vpx_codec_enc_cfg_t, rc_buf_optimal_sz),
    OFF(vpx_codec_enc_cfg_t, kf_mode),
    OFF(vpx_codec_enc_cfg_t, kf_min_dist),
    OFF(vpx_codec_enc_cfg_t, kf_max_dist),
    OFF(vpx_codec_enc_cfg_t, ss_number_layers),
    OFF(vpx_codec_enc_cfg_t, ts_number_layers),
    OFF(vpx_codec_enc_cfg_t, layer_target_bitrate),
    OFF(vpx_codec_enc_cfg_t, temporal_layering_mode),
    OFF(vpx_codec_enc_cfg_t, rd_mult_key_qp_fac),

    OFF(vpx_codec_cx_pkt_t, kind),
    OFF(vpx_codec_cx_pkt_t, data),
    OFF(vpx_codec_cx_pkt_t, data.frame.buf),
    OFF(vpx_codec_cx_pkt_t, data.frame.sz),
    OFF(vpx_codec_cx_pkt_t, data.frame.pts),
    OFF(vpx_codec_cx_pkt_t, data.frame.duration),
    OFF(vpx_codec_cx_pkt_t, data.frame.flags),

    OFF(vpx_image_t, fmt),
    OFF(vpx_image_t, w),
    OFF(vpx_image_t, h),
    OFF(vpx_image_t, d_w),
    OFF(vpx_image_t, d_h),
    OFF(vpx_image_t, x_chroma_shift),
    OFF(vpx_image_t, y_chroma_shift),
    OFF(vpx_image_t, planes),
    OFF(vpx_image_t, stride),
    OFF(vpx_image_t, img_data),
    OFF(vpx_image_t, fb_priv),
};

const size_t vigil_cliff_layout_len =
    sizeof(vigil_cliff_layout) / sizeof(vigil_cliff_layout[0]);
