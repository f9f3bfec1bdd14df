/* The C API's conv2d, layout transforms and BatchNorm helpers from C11 against plain C
 * reference loops (bounds: c_api_test.c). */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_api_test.h"
#include "c_test_harness.h"
#include "sme2k.h"

#if defined(__linux__) && defined(__aarch64__)
#include <sys/prctl.h> /* PR_SME_SET_VL */
#endif

/* ---- conv2d -------------------------------------------------------------------------------- */

/* in NCHW, weights OIHW; out (NCHW) value at (n, co, oh, ow) before the epilogue. */
static double reference_conv(const sme2k_conv2d_params* p, const float* in, const float* w,
                             const float* bias, size_t n, size_t co, size_t oh, size_t ow,
                             double* magnitude) {
  const size_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
  const size_t g = co / cout_g;
  double acc = bias != NULL ? bias[co] : 0, mag = bias != NULL ? fabs(bias[co]) : 0;
  for (size_t ci = 0; ci < cin_g; ++ci) {
    for (size_t kh = 0; kh < p->kernel_height; ++kh) {
      for (size_t kw = 0; kw < p->kernel_width; ++kw) {
        const long y = (long)(oh * p->stride_height + kh * p->dilation_height) - (long)p->pad_top;
        const long x = (long)(ow * p->stride_width + kw * p->dilation_width) - (long)p->pad_left;
        if (y < 0 || x < 0 || y >= (long)p->in_height || x >= (long)p->in_width) continue;
        const size_t c = g * cin_g + ci;
        const double v =
            (double)in[((n * p->in_channels + c) * p->in_height + (size_t)y) * p->in_width +
                       (size_t)x] *
            w[((co * cin_g + ci) * p->kernel_height + kh) * p->kernel_width + kw];
        acc += v;
        mag += fabs(v);
      }
    }
  }
  *magnitude = mag;
  return acc;
}

void test_conv2d(void) {
  for (int depthwise = 0; depthwise < 2; ++depthwise) {
    sme2k_conv2d_params p = sme2k_conv2d_params_default();
    p.batch = 2;
    p.in_channels = 4;
    p.in_height = 6;
    p.in_width = 7;
    p.out_channels = depthwise ? 8 : 5;
    p.kernel_height = p.kernel_width = 3;
    p.stride_width = 2;
    p.pad_top = p.pad_bottom = p.pad_left = 1;
    p.groups = depthwise ? 4 : 1;
    size_t oh = 0, ow = 0;
    EXPECT_OK(sme2k_conv2d_output_size(&p, &oh, &ow));
    CHECK(oh == 6 && ow == 3, "output %zu x %zu", oh, ow);
    const size_t w_elems = p.out_channels * (p.in_channels / p.groups) * 9;
    const size_t in_elems = p.batch * p.in_channels * p.in_height * p.in_width;
    const size_t out_elems = p.batch * p.out_channels * oh * ow;
    float* w = random_floats(w_elems);
    float* bias = random_floats(p.out_channels);
    float* in = random_floats(in_elems);
    float* out = checked_malloc(out_elems * sizeof *out);
    size_t bytes = 0, ws_bytes = 0;
    EXPECT_OK(sme2k_conv2d_packed_weights_size(SME2K_VARIANT_F32, &p, &bytes));
    void* packed = checked_malloc(bytes);
    EXPECT_OK(sme2k_conv2d_pack_weights(SME2K_VARIANT_F32, &p, w, SME2K_DTYPE_F32,
                                        SME2K_WEIGHTS_OIHW, bias, SME2K_DTYPE_F32, packed, bytes));
    EXPECT_OK(sme2k_conv2d_workspace_size(SME2K_VARIANT_F32, &p, SME2K_LAYOUT_NCHW,
                                          SME2K_LAYOUT_NHWC, &ws_bytes, NULL));
    void* ws = checked_malloc(ws_bytes);
    sme2k_epilogue e = sme2k_epilogue_default();
    e.activation = SME2K_ACTIVATION_RELU;
    EXPECT_OK(sme2k_conv2d(SME2K_VARIANT_F32, &p, in, SME2K_LAYOUT_NCHW, packed, bytes, out,
                           SME2K_DTYPE_F32, SME2K_LAYOUT_NHWC, &e, ws, ws_bytes, NULL));
    for (size_t n = 0; n < p.batch; ++n) {
      for (size_t co = 0; co < p.out_channels; ++co) {
        for (size_t y = 0; y < oh; ++y) {
          for (size_t x = 0; x < ow; ++x) {
            double mag = 0;
            double want = reference_conv(&p, in, w, bias, n, co, y, x, &mag);
            want = want < 0 ? 0 : want;
            const float got = out[((n * oh + y) * ow + x) * p.out_channels + co]; /* NHWC */
            CHECK(fabs(got - want) <= ldexp(1.0, -20) * mag,
                  "conv depthwise=%d (%zu, %zu, %zu, %zu): %.9g, want %.9g", depthwise, n, co, y, x,
                  got, want);
          }
        }
      }
    }
    /* data packed for F32, run as F16 */
    uint16_t* in16 = random_f16(in_elems);
    size_t ws16_bytes = 0;
    EXPECT_OK(sme2k_conv2d_workspace_size(SME2K_VARIANT_F16, &p, SME2K_LAYOUT_NCHW,
                                          SME2K_LAYOUT_NHWC, &ws16_bytes, NULL));
    void* ws16 = checked_malloc(ws16_bytes);
    EXPECT_STATUS(SME2K_PACKED_MISMATCH,
                  sme2k_conv2d(SME2K_VARIANT_F16, &p, in16, SME2K_LAYOUT_NCHW, packed, bytes, out,
                               SME2K_DTYPE_F32, SME2K_LAYOUT_NHWC, NULL, ws16, ws16_bytes, NULL));
    free(ws16);
    EXPECT_STATUS(
        SME2K_BUFFER_TOO_SMALL,
        sme2k_conv2d_pack_weights(SME2K_VARIANT_F32, &p, w, SME2K_DTYPE_F32, SME2K_WEIGHTS_OIHW,
                                  bias, SME2K_DTYPE_F32, packed, bytes - 1));
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_conv2d(SME2K_VARIANT_F32, &p, in, (sme2k_tensor_layout)7, packed, bytes,
                               out, SME2K_DTYPE_F32, SME2K_LAYOUT_NHWC, NULL, ws, ws_bytes, NULL));
    if (ws_bytes > 0) {
      EXPECT_STATUS(SME2K_BUFFER_TOO_SMALL,
                    sme2k_conv2d(SME2K_VARIANT_F32, &p, in, SME2K_LAYOUT_NCHW, packed, bytes, out,
                                 SME2K_DTYPE_F32, SME2K_LAYOUT_NHWC, NULL, ws, ws_bytes - 1, NULL));
    }
    free(w), free(bias), free(in), free(out), free(packed), free(ws), free(in16);
  }

  /* F16: f16 weights and bias, NHWC in, f16 out NCHW; weights OHWI */
  {
    sme2k_conv2d_params p = sme2k_conv2d_params_default();
    p.in_channels = 3;
    p.in_height = p.in_width = 5;
    p.out_channels = 4;
    p.kernel_height = p.kernel_width = 2;
    const size_t oh = 4, ow = 4;
    uint16_t* w = random_f16(4 * 2 * 2 * 3); /* OHWI */
    uint16_t* in = random_f16(5 * 5 * 3);    /* NHWC */
    uint16_t* out = checked_malloc(4 * oh * ow * sizeof *out);
    size_t bytes = 0, ws_bytes = 0;
    EXPECT_OK(sme2k_conv2d_packed_weights_size(SME2K_VARIANT_F16, &p, &bytes));
    void* packed = checked_malloc(bytes);
    EXPECT_OK(sme2k_conv2d_pack_weights(SME2K_VARIANT_F16, &p, w, SME2K_DTYPE_F16,
                                        SME2K_WEIGHTS_OHWI, NULL, SME2K_DTYPE_F32, packed, bytes));
    EXPECT_OK(sme2k_conv2d_workspace_size(SME2K_VARIANT_F16, &p, SME2K_LAYOUT_NHWC,
                                          SME2K_LAYOUT_NCHW, &ws_bytes, NULL));
    void* ws = checked_malloc(ws_bytes);
    EXPECT_OK(sme2k_conv2d(SME2K_VARIANT_F16, &p, in, SME2K_LAYOUT_NHWC, packed, bytes, out,
                           SME2K_DTYPE_F16, SME2K_LAYOUT_NCHW, NULL, ws, ws_bytes, NULL));
    for (size_t co = 0; co < 4; ++co) {
      for (size_t y = 0; y < oh; ++y) {
        for (size_t x = 0; x < ow; ++x) {
          double want = 0, mag = 0;
          for (size_t kh = 0; kh < 2; ++kh) {
            for (size_t kw = 0; kw < 2; ++kw) {
              for (size_t ci = 0; ci < 3; ++ci) {
                const double v = (double)sme2k_f16_to_f32(in[((y + kh) * 5 + x + kw) * 3 + ci]) *
                                 sme2k_f16_to_f32(w[((co * 2 + kh) * 2 + kw) * 3 + ci]);
                want += v;
                mag += fabs(v);
              }
            }
          }
          const float got = sme2k_f16_to_f32(out[(co * oh + y) * ow + x]);
          CHECK(fabs(got - want) <= ldexp(1.0, -20) * mag + ldexp(1.0, -11) * fabs(want),
                "f16 conv (%zu, %zu, %zu): %.7g, want %.7g", co, y, x, got, want);
        }
      }
    }
    EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_conv2d_pack_weights(
                                         SME2K_VARIANT_F16, &p, w, SME2K_DTYPE_F32,
                                         SME2K_WEIGHTS_OHWI, NULL, SME2K_DTYPE_F32, packed, bytes));
    EXPECT_STATUS(SME2K_UNSUPPORTED,
                  sme2k_conv2d(SME2K_VARIANT_F16, &p, in, SME2K_LAYOUT_NHWC, packed, bytes, out,
                               SME2K_DTYPE_INT8, SME2K_LAYOUT_NCHW, NULL, ws, ws_bytes, NULL));
    free(w), free(in), free(out), free(packed), free(ws);
  }

  /* QS8: bit-exact, padding reads the input zero point */
  {
    sme2k_conv2d_params p = sme2k_conv2d_params_default();
    p.in_channels = 3;
    p.in_height = p.in_width = 4;
    p.out_channels = 5;
    p.kernel_height = p.kernel_width = 3;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    const size_t oh = 4, ow = 4;
    int8_t* w = random_int8(5 * 3 * 9, -127, 127);
    int8_t* in = random_int8(3 * 16, -128, 127);
    int8_t* out = checked_malloc(5 * 16);
    int32_t bias[5] = {100, -200, 300, 0, 7};
    float scales[5] = {0.01f, 0.02f, 0.015f, 0.03f, 0.005f};
    const sme2k_qs8_quantization q = {{0.1f, 5}, scales, {0.8f, -4}};
    size_t bytes = 0, ws_bytes = 0;
    EXPECT_OK(sme2k_conv2d_packed_weights_size(SME2K_VARIANT_QS8, &p, &bytes));
    void* packed = checked_malloc(bytes);
    EXPECT_OK(sme2k_conv2d_pack_weights_qs8(&p, w, SME2K_WEIGHTS_OIHW, bias, &q, packed, bytes));
    EXPECT_OK(sme2k_conv2d_workspace_size(SME2K_VARIANT_QS8, &p, SME2K_LAYOUT_NCHW,
                                          SME2K_LAYOUT_NCHW, &ws_bytes, NULL));
    void* ws = checked_malloc(ws_bytes);
    EXPECT_OK(sme2k_conv2d(SME2K_VARIANT_QS8, &p, in, SME2K_LAYOUT_NCHW, packed, bytes, out,
                           SME2K_DTYPE_INT8, SME2K_LAYOUT_NCHW, NULL, ws, ws_bytes, NULL));
    int mismatches = 0;
    for (size_t co = 0; co < 5; ++co) {
      for (size_t y = 0; y < oh; ++y) {
        for (size_t x = 0; x < ow; ++x) {
          int32_t acc = bias[co];
          for (size_t ci = 0; ci < 3; ++ci) {
            for (size_t kh = 0; kh < 3; ++kh) {
              for (size_t kw = 0; kw < 3; ++kw) {
                const long yy = (long)(y + kh) - 1, xx = (long)(x + kw) - 1;
                const int v = yy < 0 || xx < 0 || yy >= 4 || xx >= 4
                                  ? q.input.zero_point
                                  : in[(ci * 4 + (size_t)yy) * 4 + (size_t)xx];
                acc += (v - q.input.zero_point) * w[((co * 3 + ci) * 3 + kh) * 3 + kw];
              }
            }
          }
          const int8_t want =
              requantize(acc, requantization_scale(q.input.scale, scales[co], q.output.scale),
                         q.output.zero_point, -128, 127);
          mismatches += out[(co * oh + y) * ow + x] != want;
        }
      }
    }
    CHECK(mismatches == 0, "qs8 conv: %d mismatches", mismatches);
    EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_conv2d_pack_weights_qs8(&p, w, SME2K_WEIGHTS_OIHW, bias,
                                                                    NULL, packed, bytes));
    EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_conv2d_pack_weights(
                                         SME2K_VARIANT_QS8, &p, w, SME2K_DTYPE_INT8,
                                         SME2K_WEIGHTS_OIHW, NULL, SME2K_DTYPE_F32, packed, bytes));
    free(w), free(in), free(out), free(packed), free(ws);
  }

  /* bad shapes and arguments */
  sme2k_conv2d_params p = sme2k_conv2d_params_default();
  size_t bytes = 0, oh = 0, ow = 0;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_conv2d_packed_weights_size(SME2K_VARIANT_F32, &p, &bytes)); /* zeros */
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_conv2d_packed_weights_size(SME2K_VARIANT_F32, NULL, &bytes));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_conv2d_output_size(NULL, &oh, &ow));
  p.in_channels = p.out_channels = 4;
  p.in_height = p.in_width = 8;
  p.kernel_height = p.kernel_width = 3;
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_conv2d_output_size(&p, NULL, &ow));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_conv2d_packed_weights_size(SME2K_VARIANT_QD8, &p, &bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_conv2d_workspace_size(SME2K_VARIANT_QD8_QC4W, &p, SME2K_LAYOUT_NCHW,
                                            SME2K_LAYOUT_NCHW, &bytes, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_conv2d_workspace_size(SME2K_VARIANT_F32, &p, SME2K_LAYOUT_NCHW,
                                            (sme2k_tensor_layout)-1, &bytes, NULL));
  p.stride_height = 0;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_conv2d_output_size(&p, &oh, &ow));
  p.stride_height = 1;
  p.in_channels = p.out_channels = (size_t)1 << 30;
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW,
                sme2k_conv2d_packed_weights_size(SME2K_VARIANT_F32, &p, &bytes));
  p.in_channels = p.out_channels = 4;
  p.batch = SIZE_MAX / 2;
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW, sme2k_conv2d_output_size(&p, &oh, &ow));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_conv2d_pack_weights(SME2K_VARIANT_F32, &p, &bytes, SME2K_DTYPE_F32,
                                          (sme2k_conv_weight_layout)9, NULL, SME2K_DTYPE_F32,
                                          &bytes, sizeof bytes));
}

/* ---- layout transforms ---------------------------------------------------------------------- */

void test_layouts(void) {
  const size_t rows = 5, cols = 7;
  const sme2k_dtype dtypes[] = {SME2K_DTYPE_INT8, SME2K_DTYPE_F16, SME2K_DTYPE_F32,
                                SME2K_DTYPE_INT32};
  const size_t sizes[] = {1, 2, 4, 4};
  for (int t = 0; t < 4; ++t) {
    const size_t es = sizes[t], lds = cols + 1, ldd = rows + 2;
    uint8_t* src = checked_malloc(rows * lds * es);
    uint8_t* dst = checked_malloc(cols * ldd * es);
    for (size_t i = 0; i < rows * lds * es; ++i) src[i] = (uint8_t)random_int(0, 255);
    EXPECT_OK(sme2k_transpose((sme2k_matrix){src, rows, cols, lds, dtypes[t]},
                              (sme2k_mutable_matrix){dst, cols, rows, ldd, dtypes[t]}, NULL));
    int bad = 0;
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        bad += memcmp(dst + (c * ldd + r) * es, src + (r * lds + c) * es, es) != 0;
      }
    }
    CHECK(bad == 0, "transpose of %zu-byte elements: %d wrong", es, bad);
    free(src), free(dst);
  }
  float x[2 * 3 * 4 * 5], y[2 * 3 * 4 * 5], z[2 * 3 * 4 * 5];
  for (size_t i = 0; i < 120; ++i) x[i] = (float)i;
  EXPECT_OK(sme2k_convert_layout(x, SME2K_LAYOUT_NCHW, y, SME2K_LAYOUT_NHWC, SME2K_DTYPE_F32, 2, 3,
                                 4, 5, NULL));
  int bad = 0;
  for (size_t n = 0; n < 2; ++n) {
    for (size_t c = 0; c < 3; ++c) {
      for (size_t p = 0; p < 20; ++p) bad += y[(n * 20 + p) * 3 + c] != x[(n * 3 + c) * 20 + p];
    }
  }
  CHECK(bad == 0, "NCHW -> NHWC: %d wrong", bad);
  EXPECT_OK(sme2k_convert_layout(y, SME2K_LAYOUT_NHWC, z, SME2K_LAYOUT_NCHW, SME2K_DTYPE_F32, 2, 3,
                                 4, 5, NULL));
  CHECK(memcmp(x, z, sizeof x) == 0, "NHWC -> NCHW is not the inverse");

  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_transpose((sme2k_matrix){x, 2, 3, 3, SME2K_DTYPE_F32},
                                (sme2k_mutable_matrix){y, 3, 2, 2, SME2K_DTYPE_F16}, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_transpose((sme2k_matrix){x, 2, 3, 3, (sme2k_dtype)0},
                                (sme2k_mutable_matrix){y, 3, 2, 2, (sme2k_dtype)0}, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_transpose((sme2k_matrix){x, 2, 3, 3, SME2K_DTYPE_F32},
                                (sme2k_mutable_matrix){y, 2, 3, 3, SME2K_DTYPE_F32}, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_transpose((sme2k_matrix){x, 2, 3, 3, SME2K_DTYPE_F32},
                                (sme2k_mutable_matrix){x + 1, 3, 2, 2, SME2K_DTYPE_F32}, NULL));
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_transpose((sme2k_matrix){NULL, 2, 3, 3, SME2K_DTYPE_F32},
                                (sme2k_mutable_matrix){y, 3, 2, 2, SME2K_DTYPE_F32}, NULL));
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_convert_layout(NULL, SME2K_LAYOUT_NCHW, y, SME2K_LAYOUT_NHWC, SME2K_DTYPE_F32,
                                     1, 1, 1, 1, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_convert_layout(x, SME2K_LAYOUT_NCHW, y, SME2K_LAYOUT_NHWC, SME2K_DTYPE_F32, 0,
                                     3, 4, 5, NULL));
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW,
                sme2k_convert_layout(x, SME2K_LAYOUT_NCHW, y, SME2K_LAYOUT_NHWC, SME2K_DTYPE_F32,
                                     SIZE_MAX / 4, 3, 4, 5, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_convert_layout(x, (sme2k_tensor_layout)3, y, SME2K_LAYOUT_NHWC,
                                     SME2K_DTYPE_F32, 2, 3, 4, 5, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_convert_layout(x, SME2K_LAYOUT_NCHW, y, SME2K_LAYOUT_NHWC, (sme2k_dtype)-7, 2,
                                     3, 4, 5, NULL));
}

/* ---- BatchNorm helpers ------------------------------------------------------------------------ */

void test_batchnorm(void) {
  const float gamma[3] = {1.5f, -0.5f, 2.0f}, beta[3] = {0.1f, 0.2f, -0.3f};
  const float mean[3] = {0.3f, -1.0f, 0.0f}, var[3] = {0.5f, 2.0f, 0.01f};
  sme2k_batchnorm_params bn = sme2k_batchnorm_params_default();
  bn.weight = gamma;
  bn.bias = beta;
  bn.running_mean = mean;
  bn.running_var = var;
  float scale[3], shift[3];
  EXPECT_OK(sme2k_batchnorm_affine(3, &bn, scale, shift));
  for (int c = 0; c < 3; ++c) {
    const double s = gamma[c] / sqrt((double)var[c] + (double)bn.eps);
    CHECK(scale[c] == (float)s && shift[c] == (float)((0.0 - mean[c]) * s + beta[c]),
          "affine channel %d: %g %g", c, scale[c], shift[c]);
  }
  /* conv weights OIHW: Cout 3, Cin 2, 1x1 */
  sme2k_conv2d_params p = sme2k_conv2d_params_default();
  p.in_channels = 2;
  p.out_channels = 3;
  p.kernel_height = p.kernel_width = 1;
  float w[6] = {1, 2, 3, 4, 5, 6}, original[6], conv_bias[3] = {0.5f, -0.5f, 1.0f}, folded[3];
  memcpy(original, w, sizeof w);
  EXPECT_OK(
      sme2k_fold_batchnorm(&p, w, SME2K_DTYPE_F32, SME2K_WEIGHTS_OIHW, conv_bias, &bn, folded));
  for (int c = 0; c < 3; ++c) {
    const double s = gamma[c] / sqrt((double)var[c] + (double)bn.eps);
    CHECK(w[2 * c] == (float)(original[2 * c] * s) &&
              w[2 * c + 1] == (float)(original[2 * c + 1] * s),
          "folded weights of channel %d", c);
    CHECK(folded[c] == (float)((conv_bias[c] - mean[c]) * s + beta[c]), "folded bias %d", c);
  }
  /* Linear weights N x K, f16 */
  uint16_t lw[6];
  for (int i = 0; i < 6; ++i) lw[i] = sme2k_f32_to_f16((float)(i + 1));
  EXPECT_OK(sme2k_fold_batchnorm_linear((sme2k_mutable_matrix){lw, 3, 2, 2, SME2K_DTYPE_F16}, NULL,
                                        &bn, folded));
  for (int c = 0; c < 3; ++c) {
    const double s = gamma[c] / sqrt((double)var[c] + (double)bn.eps);
    CHECK(lw[2 * c] == sme2k_f32_to_f16((float)((2 * c + 1) * s)), "folded f16 weight %d", c);
    CHECK(folded[c] == (float)((0.0 - mean[c]) * s + beta[c]), "folded linear bias %d", c);
  }
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_batchnorm_affine(3, NULL, scale, shift));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_batchnorm_affine(3, &bn, NULL, shift));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_batchnorm_affine(0, &bn, scale, shift));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_fold_batchnorm(&p, w, SME2K_DTYPE_INT8, SME2K_WEIGHTS_OIHW,
                                                        NULL, &bn, folded));
  EXPECT_STATUS(
      SME2K_INVALID_ARGUMENT,
      sme2k_fold_batchnorm(&p, w, SME2K_DTYPE_F32, (sme2k_conv_weight_layout)0, NULL, &bn, folded));
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_fold_batchnorm_linear((sme2k_mutable_matrix){lw, 3, 2, 2, SME2K_DTYPE_INT32},
                                            NULL, &bn, folded));
  bn.running_var = NULL;
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_fold_batchnorm(&p, w, SME2K_DTYPE_F32, SME2K_WEIGHTS_OIHW,
                                                         NULL, &bn, folded));
  bn.running_var = var;
  bn.eps = -1.0f;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_batchnorm_affine(3, &bn, scale, shift));
}
