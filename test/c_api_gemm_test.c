/* The C API's GEMMs from C11 against plain C reference loops: F32, F16 (and F16_ACC16), QS8
 * (bit-exact), QD8 with int8 and 4-bit weights, and batch_matmul (bounds: c_api_test.c). */
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

/* ---- float GEMM ------------------------------------------------------------------------ */

/* A (M x K, lda) times B (K x N as kxn, or N x K), bias, epilogue; the reference value and
 * the magnitude the bound scales with. */
static void reference_gemm(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* b,
                           size_t ldb, int nxk, const float* bias, size_t i, size_t j,
                           double* value, double* magnitude) {
  double acc = bias != NULL ? bias[j] : 0.0, mag = bias != NULL ? fabs(bias[j]) : 0.0;
  for (size_t kk = 0; kk < k; ++kk) {
    const double w = nxk ? b[j * ldb + kk] : b[kk * ldb + j];
    acc += (double)a[i * lda + kk] * w;
    mag += fabs((double)a[i * lda + kk] * w);
  }
  (void)m;
  (void)n;
  *value = acc;
  *magnitude = mag;
}

void test_gemm_f32(void) {
  const size_t shapes[][3] = {{3, 7, 9}, {17, 21, 33}};
  for (size_t s = 0; s < 2; ++s) {
    const size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
    for (int nxk = 0; nxk < 2; ++nxk) {
      for (int transposed = 0; transposed < 2; ++transposed) {
        const size_t lda = k + 3, ldb = (nxk ? k : n) + 1, ldc = (transposed ? m : n) + 2;
        float* a = random_floats(m * lda);
        float* b = random_floats((nxk ? n : k) * ldb);
        float* bias = random_floats(n);
        float* scale = random_floats(n);
        float* shift = random_floats(n);
        const size_t c_rows = transposed ? n : m, c_elems = c_rows * ldc + 4;
        float* c = checked_malloc(c_elems * sizeof *c);
        for (size_t i = 0; i < c_elems; ++i) c[i] = 1234.5f;

        size_t packed_bytes = 0, ws_bytes = 0;
        void* packed = packed_rhs(SME2K_VARIANT_F32, n, k, &packed_bytes);
        const sme2k_matrix bm = {b, nxk ? n : k, nxk ? k : n, ldb, SME2K_DTYPE_F32};
        EXPECT_OK(sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, nxk ? SME2K_RHS_NXK : SME2K_RHS_KXN,
                                      bias, SME2K_DTYPE_F32, packed, packed_bytes));
        sme2k_epilogue e = sme2k_epilogue_default();
        e.activation = SME2K_ACTIVATION_RELU6;
        e.affine_scale = scale;
        e.affine_shift = shift;
        e.clamp_min = -0.5f;
        e.clamp_max = 4.0f;
        e.order = transposed ? SME2K_OUTPUT_TRANSPOSED : SME2K_OUTPUT_ROW_MAJOR;
        /* through a parallel-for that runs its tasks serially: the workspace sized for it */
        counting_pool pool = {0, 0};
        const sme2k_parallel_for parallel = {run_serially, &pool, 4};
        EXPECT_OK(
            sme2k_gemm_workspace_size(SME2K_VARIANT_F32, m, n, k, e.order, &ws_bytes, &parallel));
        void* ws = checked_malloc(ws_bytes);
        const sme2k_mutable_matrix cm = {c, c_rows, transposed ? m : n, ldc, SME2K_DTYPE_F32};
        EXPECT_OK(sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, m, k, lda, SME2K_DTYPE_F32},
                             packed, packed_bytes, cm, &e, ws, ws_bytes, &parallel));
        CHECK(sme2k_last_used_path() == g_path, "ran %s", sme2k_path_name(sme2k_last_used_path()));
        CHECK(pool.calls <= 1 && pool.tasks <= 4 && (pool.calls == 0) == (pool.tasks == 0),
              "%zu runs of %zu tasks in all", pool.calls, pool.tasks);
        for (size_t i = 0; i < m; ++i) {
          for (size_t j = 0; j < n; ++j) {
            double want = 0, mag = 0;
            reference_gemm(m, n, k, a, lda, b, ldb, nxk, bias, i, j, &want, &mag);
            want = relu6(want) * scale[j] + shift[j];
            want = want < -0.5 ? -0.5 : want > 4.0 ? 4.0 : want;
            const float got = transposed ? c[j * ldc + i] : c[i * ldc + j];
            const double bound = ldexp(1.0, -20) * (mag * (fabs(scale[j]) + 1) + fabs(shift[j]));
            CHECK(fabs(got - want) <= bound,
                  "f32 gemm %zux%zux%zu nxk=%d transposed=%d (%zu, %zu): %.9g, want %.9g", m, n, k,
                  nxk, transposed, i, j, got, want);
          }
        }
        /* Nothing written outside C: the padding of each row and the tail. */
        int outside_intact = 1;
        for (size_t r = 0; r < c_rows; ++r) {
          for (size_t x = transposed ? m : n; x < ldc; ++x) {
            outside_intact = outside_intact && c[r * ldc + x] == 1234.5f;
          }
        }
        for (size_t x = c_rows * ldc; x < c_elems; ++x) {
          outside_intact = outside_intact && c[x] == 1234.5f;
        }
        CHECK(outside_intact, "f32 gemm wrote outside C");

        /* NULL epilogue: the default; no bias. */
        if (s == 0 && nxk == 0 && transposed == 0) {
          EXPECT_OK(sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, SME2K_RHS_KXN, NULL,
                                        (sme2k_dtype)12345, packed, packed_bytes));
          EXPECT_OK(sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, m, k, lda, SME2K_DTYPE_F32},
                               packed, packed_bytes, cm, NULL, ws, ws_bytes, NULL));
          for (size_t i = 0; i < m; ++i) {
            for (size_t j = 0; j < n; ++j) {
              double want = 0, mag = 0;
              reference_gemm(m, n, k, a, lda, b, ldb, 0, NULL, i, j, &want, &mag);
              CHECK(fabs(c[i * ldc + j] - want) <= ldexp(1.0, -20) * mag,
                    "f32 gemm, no bias (%zu, %zu): %.9g, want %.9g", i, j, c[i * ldc + j], want);
            }
          }
        }
        free(a), free(b), free(bias), free(scale), free(shift), free(c), free(packed), free(ws);
      }
    }
  }
}

/* F16 and F16_ACC16: f16 A and B, f16 or f32 bias, f16 or f32 output. */
void test_gemm_f16(void) {
  const size_t m = 9, n = 13, k = 19;
  uint16_t* a = random_f16(m * k);
  uint16_t* b = random_f16(n * k); /* N x K */
  float* af = checked_malloc(m * k * sizeof *af);
  float* bf = checked_malloc(n * k * sizeof *bf);
  for (size_t i = 0; i < m * k; ++i) af[i] = sme2k_f16_to_f32(a[i]);
  for (size_t i = 0; i < n * k; ++i) bf[i] = sme2k_f16_to_f32(b[i]);
  uint16_t* bias16 = random_f16(n);
  float* bias = checked_malloc(n * sizeof *bias);
  for (size_t j = 0; j < n; ++j) bias[j] = sme2k_f16_to_f32(bias16[j]);
  const sme2k_variant variants[] = {SME2K_VARIANT_F16, SME2K_VARIANT_F16_ACC16};
  for (int v = 0; v < 2; ++v) {
    for (int out32 = 0; out32 < 2; ++out32) {
      for (int bias32 = 0; bias32 < 2; ++bias32) {
        const sme2k_variant variant = variants[v];
        if (variant == SME2K_VARIANT_F16_ACC16 && out32) continue; /* f16 out only */
        size_t packed_bytes = 0, ws_bytes = 0;
        void* packed = packed_rhs(variant, n, k, &packed_bytes);
        EXPECT_OK(sme2k_gemm_pack_rhs(variant, (sme2k_matrix){b, n, k, k, SME2K_DTYPE_F16},
                                      SME2K_RHS_NXK, bias32 ? (const void*)bias : bias16,
                                      bias32 ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16, packed,
                                      packed_bytes));
        void* ws = gemm_workspace(variant, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &ws_bytes);
        void* c = checked_malloc(m * n * 4);
        EXPECT_OK(sme2k_gemm(
            variant, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_F16}, packed, packed_bytes,
            (sme2k_mutable_matrix){c, m, n, n, out32 ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16}, NULL, ws,
            ws_bytes, NULL));
        for (size_t i = 0; i < m; ++i) {
          for (size_t j = 0; j < n; ++j) {
            double want = 0, mag = 0;
            reference_gemm(m, n, k, af, k, bf, k, 1, bias, i, j, &want, &mag);
            const float got =
                out32 ? ((float*)c)[i * n + j] : sme2k_f16_to_f32(((uint16_t*)c)[i * n + j]);
            double bound =
                variant == SME2K_VARIANT_F16_ACC16 ? ldexp(1.0, -8) * mag : ldexp(1.0, -20) * mag;
            if (!out32) bound += ldexp(1.0, -11) * fabs(want);
            CHECK(fabs(got - want) <= bound,
                  "variant %d out32=%d bias32=%d (%zu, %zu): %.7g vs %.7g", (int)variant, out32,
                  bias32, i, j, got, want);
          }
        }
        free(packed), free(ws), free(c);
      }
    }
  }
  free(a), free(b), free(af), free(bf), free(bias16), free(bias);
}

/* ---- QS8: bit-exact ---------------------------------------------------------------------- */

float requantization_scale(float in, float w, float out) {
  return (float)((double)in * (double)w / (double)out);
}

/* round_to_nearest_even(r) saturated to int32 (NaN: 0), plus zero_point, clamped. */
static int8_t round_to_int8(float value, int32_t zero_point, int32_t lo, int32_t hi) {
  const float r = nearbyintf(value);
  const int64_t rounded = r >= 2147483648.0f   ? INT32_MAX
                          : r < -2147483648.0f ? INT32_MIN
                          : isnan(r)           ? 0
                                               : (int64_t)r;
  const int64_t q = rounded + zero_point;
  return (int8_t)(q < lo ? lo : q > hi ? hi : q);
}

int8_t requantize(int32_t acc, float scale, int32_t zero_point, int32_t lo, int32_t hi) {
  return round_to_int8((float)acc * scale, zero_point, lo, hi);
}

void test_gemm_qs8(void) {
  const size_t m = 11, n = 10, k = 23;
  int8_t* a = random_int8(m * k, -128, 127);
  int8_t* b = random_int8(k * n, -127, 127); /* K x N */
  int32_t* bias = checked_malloc(n * sizeof *bias);
  float* w_scales = checked_malloc(n * sizeof *w_scales);
  for (size_t j = 0; j < n; ++j) {
    bias[j] = random_int(-5000, 5000);
    w_scales[j] = 0.002f + 0.001f * (float)j;
  }
  const sme2k_qs8_quantization q = {{0.05f, -7}, w_scales, {0.4f, 3}};
  size_t packed_bytes = 0, ws_bytes = 0;
  void* packed = packed_rhs(SME2K_VARIANT_QS8, n, k, &packed_bytes);
  const sme2k_matrix bm = {b, k, n, n, SME2K_DTYPE_INT8};
  EXPECT_OK(sme2k_gemm_pack_rhs_qs8(bm, SME2K_RHS_KXN, bias, &q, packed, packed_bytes));
  void* ws = gemm_workspace(SME2K_VARIANT_QS8, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &ws_bytes);
  int8_t* c = checked_malloc(m * n);
  sme2k_epilogue e = sme2k_epilogue_default();
  e.quantized_min = -100;
  e.quantized_max = 120;
  EXPECT_OK(sme2k_gemm(SME2K_VARIANT_QS8, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_INT8}, packed,
                       packed_bytes, (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_INT8}, &e, ws,
                       ws_bytes, NULL));
  int mismatches = 0;
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      int32_t acc = bias[j];
      for (size_t kk = 0; kk < k; ++kk) acc += (a[i * k + kk] - q.input.zero_point) * b[kk * n + j];
      const int8_t want =
          requantize(acc, requantization_scale(q.input.scale, w_scales[j], q.output.scale),
                     q.output.zero_point, e.quantized_min, e.quantized_max);
      if (c[i * n + j] != want && mismatches++ < 5) {
        CHECK(0, "qs8 (%zu, %zu): %d, want %d", i, j, c[i * n + j], want);
      }
    }
  }
  CHECK(mismatches == 0, "qs8: %d mismatches", mismatches);

  /* The int8 stages of the next quantized op: a per-channel affine (a BatchNorm made by
   * sme2k_batchnorm_int8_affine) and a ReLU table, bit-exact. */
  float bn_mean[10], bn_var[10], affine_scale[10], affine_shift[10];
  for (size_t j = 0; j < n; ++j) {
    bn_mean[j] = 0.5f * random_float();
    bn_var[j] = 0.5f + random_float() * 0.25f;
  }
  sme2k_batchnorm_params bn = sme2k_batchnorm_params_default();
  bn.running_mean = bn_mean;
  bn.running_var = bn_var;
  const sme2k_quant_params bn_in = q.output, bn_out = {0.3f, -10};
  EXPECT_OK(sme2k_batchnorm_int8_affine(n, &bn, bn_in, bn_out, affine_scale, affine_shift));
  for (size_t j = 0; j < n; ++j) {
    const double s = 1.0 / sqrt((double)bn_var[j] + (double)bn.eps);
    CHECK(affine_scale[j] == (float)(bn_in.scale * s / bn_out.scale) &&
              affine_shift[j] == (float)((0.0 - bn_mean[j]) * s / bn_out.scale),
          "int8 batchnorm affine of channel %zu", j);
  }
  int8_t table[256];
  EXPECT_OK(sme2k_int8_activation_table(SME2K_ACTIVATION_RELU, bn_out, bn_out, -128, 127, table));
  for (int v = -128; v < 128; ++v) {
    CHECK(table[v + 128] == (v > bn_out.zero_point ? v : bn_out.zero_point), "relu table at %d", v);
  }
  e.int8_affine_scale = affine_scale;
  e.int8_affine_shift = affine_shift;
  e.int8_affine_zero_point = bn_out.zero_point;
  e.int8_affine_min = -120;
  e.int8_affine_max = 110;
  e.int8_table = table;
  EXPECT_OK(sme2k_gemm(SME2K_VARIANT_QS8, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_INT8}, packed,
                       packed_bytes, (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_INT8}, &e, ws,
                       ws_bytes, NULL));
  mismatches = 0;
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      int32_t acc = bias[j];
      for (size_t kk = 0; kk < k; ++kk) acc += (a[i * k + kk] - q.input.zero_point) * b[kk * n + j];
      const int8_t q1 =
          requantize(acc, requantization_scale(q.input.scale, w_scales[j], q.output.scale),
                     q.output.zero_point, e.quantized_min, e.quantized_max);
      const int8_t q2 =
          round_to_int8(fmaf((float)(q1 - q.output.zero_point), affine_scale[j], affine_shift[j]),
                        e.int8_affine_zero_point, e.int8_affine_min, e.int8_affine_max);
      mismatches += c[i * n + j] != table[q2 + 128];
    }
  }
  CHECK(mismatches == 0, "qs8 with int8 stages: %d mismatches", mismatches);
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_int8_activation_table((sme2k_activation)9, bn_out, bn_out, -128, 127, table));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_int8_activation_table(SME2K_ACTIVATION_RELU, bn_out, bn_out, 5, 4, table));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_int8_activation_table(SME2K_ACTIVATION_RELU, bn_out,
                                                                bn_out, -128, 127, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_batchnorm_int8_affine(n, &bn, bn_in, (sme2k_quant_params){0.0f, 0},
                                            affine_scale, affine_shift));
  e.int8_affine_shift = NULL; /* required with the scale */
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_gemm(SME2K_VARIANT_QS8, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_INT8}, packed,
                           packed_bytes, (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_INT8}, &e,
                           ws, ws_bytes, NULL));
  e = sme2k_epilogue_default();

  /* float stages are refused for int8 outputs */
  e.activation = SME2K_ACTIVATION_RELU;
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_gemm(SME2K_VARIANT_QS8, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_INT8}, packed,
                           packed_bytes, (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_INT8}, &e,
                           ws, ws_bytes, NULL));
  /* bad quantization */
  const sme2k_qs8_quantization zero = {{0.0f, 0}, w_scales, {1.0f, 0}};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_pack_rhs_qs8(bm, SME2K_RHS_KXN, bias, &zero, packed, packed_bytes));
  const sme2k_qs8_quantization bad_zp = {{1.0f, 200}, w_scales, {1.0f, 0}};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_pack_rhs_qs8(bm, SME2K_RHS_KXN, bias, &bad_zp, packed, packed_bytes));
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_gemm_pack_rhs_qs8(bm, SME2K_RHS_KXN, bias, NULL, packed, packed_bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_gemm_pack_rhs_qs8((sme2k_matrix){b, k, n, n, SME2K_DTYPE_F32}, SME2K_RHS_KXN,
                                        bias, &q, packed, packed_bytes));
  free(a), free(b), free(bias), free(w_scales), free(packed), free(ws), free(c);
}

/* ---- QD8 family: exact row quantization, bounded dequantization ---------------------------- */

typedef struct {
  float scale;
  int32_t zero_point;
} row_quant;

static row_quant quantize_row(const float* x, size_t k, int8_t* q) {
  float lo = 0.0f, hi = 0.0f;
  for (size_t i = 0; i < k; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  float scale = hi / 255.0f - lo / 255.0f;
  if (scale < FLT_MIN) scale = FLT_MIN;
  const float inv = 1.0f / scale;
  float zp = nearbyintf(fmaf(-lo, inv, -128.0f));
  zp = zp < -128.0f ? -128.0f : zp > 127.0f ? 127.0f : zp;
  for (size_t i = 0; i < k; ++i) {
    const double t = nearbyint((double)x[i] * (double)inv + (double)zp);
    q[i] = (int8_t)(t < -128 ? -128 : t > 127 ? 127 : t);
  }
  const row_quant r = {scale, (int32_t)zp};
  return r;
}

/* QD8-family check of C (f32 or f16) against exact integers: w(j, kk) gives the weight value,
 * cs(j, kk) its scale (per channel or per block). */
typedef int (*weight_fn)(const void* ctx, size_t j, size_t kk);
typedef float (*scale_fn)(const void* ctx, size_t j, size_t kk);

static void check_qd8_output(const char* what, size_t m, size_t n, size_t k, const float* a,
                             const void* ctx, weight_fn w, scale_fn cs, const float* bias,
                             const void* c, int out16) {
  int8_t* q = checked_malloc(k);
  int failures = 0;
  for (size_t i = 0; i < m; ++i) {
    const row_quant r = quantize_row(a + i * k, k, q);
    for (size_t j = 0; j < n; ++j) {
      double want = bias[j], mag = fabs(bias[j]);
      for (size_t kk = 0; kk < k; ++kk) {
        const double term =
            (double)r.scale * (q[kk] - r.zero_point) * w(ctx, j, kk) * cs(ctx, j, kk);
        want += term;
        mag += fabs(term);
      }
      const float got =
          out16 ? sme2k_f16_to_f32(((const uint16_t*)c)[i * n + j]) : ((const float*)c)[i * n + j];
      double bound = 4 * ldexp(1.0, -24) * mag + ldexp(1.0, -24) * fabs(want);
      if (out16) bound += ldexp(1.0, -11) * fabs(want);
      if (!(fabs(got - want) <= bound) && failures++ < 5) {
        CHECK(0, "%s out16=%d (%zu, %zu): %.9g, want %.9g (bound %.3g)", what, out16, i, j, got,
              want, bound);
      }
    }
  }
  CHECK(failures == 0, "%s: %d outputs out of bound", what, failures);
  free(q);
}

typedef struct {
  const int8_t* values; /* N x K */
  size_t k;
  const float* scales; /* per channel, or per (channel, block) */
  size_t block;        /* 0: per channel */
} qd8_weights;

static int qd8_weight(const void* ctx, size_t j, size_t kk) {
  const qd8_weights* w = ctx;
  return w->values[j * w->k + kk];
}
static float qd8_scale(const void* ctx, size_t j, size_t kk) {
  const qd8_weights* w = ctx;
  return w->block == 0 ? w->scales[j] : w->scales[j * (w->k / w->block) + kk / w->block];
}

/* gemm on A, and on A packed once: the same bits. */
static void run_qd8(const char* what, sme2k_variant variant, size_t m, size_t n, size_t k,
                    const float* a, const void* packed, size_t packed_bytes, const void* ctx,
                    const float* bias) {
  size_t ws_bytes = 0;
  void* ws = gemm_workspace(variant, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &ws_bytes);
  float* c = checked_malloc(m * n * sizeof *c);
  uint16_t* c16 = checked_malloc(m * n * sizeof *c16);
  const sme2k_matrix am = {a, m, k, k, SME2K_DTYPE_F32};
  EXPECT_OK(sme2k_gemm(variant, am, packed, packed_bytes,
                       (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F32}, NULL, ws, ws_bytes,
                       NULL));
  check_qd8_output(what, m, n, k, a, ctx, qd8_weight, qd8_scale, bias, c, 0);
  EXPECT_OK(sme2k_gemm(variant, am, packed, packed_bytes,
                       (sme2k_mutable_matrix){c16, m, n, n, SME2K_DTYPE_F16}, NULL, ws, ws_bytes,
                       NULL));
  check_qd8_output(what, m, n, k, a, ctx, qd8_weight, qd8_scale, bias, c16, 1);
  if (variant != SME2K_VARIANT_QD8_QB4W) {
    size_t lhs_bytes = 0;
    EXPECT_OK(sme2k_gemm_packed_lhs_size(variant, m, k, &lhs_bytes));
    void* lhs = checked_malloc(lhs_bytes);
    EXPECT_OK(sme2k_gemm_pack_lhs(variant, am, lhs, lhs_bytes, NULL));
    float* c2 = checked_malloc(m * n * sizeof *c2);
    EXPECT_OK(sme2k_gemm_packed_lhs(variant, lhs, lhs_bytes, packed, packed_bytes,
                                    (sme2k_mutable_matrix){c2, m, n, n, SME2K_DTYPE_F32}, NULL, ws,
                                    ws_bytes, NULL));
    CHECK(memcmp(c, c2, m * n * sizeof *c) == 0, "%s: packed activations differ", what);
    EXPECT_STATUS(SME2K_BUFFER_TOO_SMALL,
                  sme2k_gemm_pack_lhs(variant, am, lhs, lhs_bytes - 1, NULL));
    EXPECT_STATUS(SME2K_UNSUPPORTED,
                  sme2k_gemm_pack_lhs(variant, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_INT8}, lhs,
                                      lhs_bytes, NULL));
    /* packed activations where the weights go */
    EXPECT_STATUS(SME2K_PACKED_MISMATCH,
                  sme2k_gemm_packed_lhs(variant, lhs, lhs_bytes, lhs, lhs_bytes,
                                        (sme2k_mutable_matrix){c2, m, n, n, SME2K_DTYPE_F32}, NULL,
                                        ws, ws_bytes, NULL));
    free(lhs), free(c2);
  }
  free(ws), free(c), free(c16);
}

void test_gemm_qd8(void) {
  const size_t m = 6, n = 9, k = 64;
  float* a = random_floats(m * k);
  a[5] = 3.0f; /* rows of different ranges */
  a[k + 1] = -2.5f;
  float* bias = random_floats(n);
  int8_t* w = random_int8(n * k, -127, 127);
  float* scales = checked_malloc(n * k / 32 * sizeof *scales);
  for (size_t i = 0; i < n * k / 32; ++i) scales[i] = 0.01f + 0.002f * (float)(i % 7);

  /* QD8 x QC8W, weights N x K */
  size_t bytes = 0;
  void* packed = packed_rhs(SME2K_VARIANT_QD8, n, k, &bytes);
  const qd8_weights w8 = {w, k, scales, 0};
  EXPECT_OK(sme2k_gemm_pack_rhs_qd8((sme2k_matrix){w, n, k, k, SME2K_DTYPE_INT8}, SME2K_RHS_NXK,
                                    bias, scales, packed, bytes));
  run_qd8("qd8", SME2K_VARIANT_QD8, m, n, k, a, packed, bytes, &w8, bias);
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_gemm_pack_rhs_qd8((sme2k_matrix){w, n, k, k, SME2K_DTYPE_INT8}, SME2K_RHS_NXK,
                                        bias, NULL, packed, bytes));
  free(packed);

  /* QD8 x QC4W from nibbles, N x K */
  int8_t* w4 = random_int8(n * k, -8, 7);
  uint8_t* nibbles = checked_malloc(n * k / 2);
  for (size_t i = 0; i < n * k / 2; ++i) {
    nibbles[i] = (uint8_t)((w4[2 * i] & 0xF) | (w4[2 * i + 1] & 0xF) << 4);
  }
  const qd8_weights w4c = {w4, k, scales, 0};
  packed = packed_rhs(SME2K_VARIANT_QD8_QC4W, n, k, &bytes);
  const sme2k_int4_matrix b4 = {nibbles, n, k, k / 2, SME2K_INT4_NIBBLES};
  EXPECT_OK(sme2k_gemm_pack_rhs_qc4w(b4, SME2K_RHS_NXK, bias, scales, packed, bytes));
  run_qd8("qd8-qc4w", SME2K_VARIANT_QD8_QC4W, m, n, k, a, packed, bytes, &w4c, bias);
  /* int8 storage of the same values: the same packed bytes */
  void* again = checked_malloc(bytes);
  EXPECT_OK(sme2k_gemm_pack_rhs_qc4w((sme2k_int4_matrix){w4, n, k, k, SME2K_INT4_INT8},
                                     SME2K_RHS_NXK, bias, scales, again, bytes));
  CHECK(memcmp(packed, again, bytes) == 0, "qc4w: nibbles and int8 storage pack differently");
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_pack_rhs_qc4w((sme2k_int4_matrix){w, n, k, k, SME2K_INT4_INT8},
                                         SME2K_RHS_NXK, bias, scales, again, bytes));
  EXPECT_STATUS(
      SME2K_INVALID_ARGUMENT,
      sme2k_gemm_pack_rhs_qc4w((sme2k_int4_matrix){nibbles, n, k, k / 2, (sme2k_int4_storage)3},
                               SME2K_RHS_NXK, bias, scales, again, bytes));
  free(packed), free(again);

  /* QD8 x QB4W, block 32, f32 scales; and the same weights as GGUF Q4_0 blocks (f16 scales,
   * exact in f32): the same packed bytes. */
  float* block_scales = checked_malloc(n * k / 32 * sizeof *block_scales);
  for (size_t i = 0; i < n * k / 32; ++i) {
    block_scales[i] = sme2k_f16_to_f32(sme2k_f32_to_f16(0.01f + 0.003f * (float)(i % 5)));
  }
  const qd8_weights wb = {w4, k, block_scales, 32};
  packed = packed_rhs(SME2K_VARIANT_QD8_QB4W, n, k, &bytes);
  const sme2k_block_scales bs = {block_scales, SME2K_SCALE_F32, 32, k / 32};
  EXPECT_OK(sme2k_gemm_pack_rhs_qb4w(b4, SME2K_RHS_NXK, bias, &bs, packed, bytes));
  run_qd8("qd8-qb4w", SME2K_VARIANT_QD8_QB4W, m, n, k, a, packed, bytes, &wb, bias);
  uint8_t* q4_0 = checked_malloc(n * k / 32 * 18);
  for (size_t j = 0; j < n; ++j) {
    for (size_t blk = 0; blk < k / 32; ++blk) {
      uint8_t* block = q4_0 + (j * (k / 32) + blk) * 18;
      const uint16_t d = sme2k_f32_to_f16(block_scales[j * (k / 32) + blk]);
      block[0] = (uint8_t)(d & 0xFF);
      block[1] = (uint8_t)(d >> 8);
      for (size_t i = 0; i < 16; ++i) {
        const int lo = w4[j * k + blk * 32 + i] + 8, hi = w4[j * k + blk * 32 + 16 + i] + 8;
        block[2 + i] = (uint8_t)(lo | hi << 4);
      }
    }
  }
  again = checked_malloc(bytes);
  EXPECT_OK(sme2k_gemm_pack_rhs_q4_0(q4_0, n, k, bias, again, bytes));
  CHECK(memcmp(packed, again, bytes) == 0, "q4_0 and qb4w pack the same weights differently");
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_gemm_pack_rhs_q4_0(q4_0, n, 33, bias, again, bytes));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_gemm_pack_rhs_q4_0(NULL, n, k, bias, again, bytes));
  const sme2k_block_scales bad_block = {block_scales, SME2K_SCALE_F32, 48, k / 32};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_pack_rhs_qb4w(b4, SME2K_RHS_NXK, bias, &bad_block, again, bytes));
  const sme2k_block_scales bad_type = {block_scales, (sme2k_scale_type)-2, 32, k / 32};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_pack_rhs_qb4w(b4, SME2K_RHS_NXK, bias, &bad_type, again, bytes));
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_gemm_pack_rhs_qb4w(b4, SME2K_RHS_NXK, bias, NULL, again, bytes));
  /* issue 19: a leading dimension whose n * ld wraps (once a wild pointer, a segfault) */
  const sme2k_block_scales huge_ld = {block_scales, SME2K_SCALE_F32, 32, (size_t)1 << 61};
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW,
                sme2k_gemm_pack_rhs_qb4w(b4, SME2K_RHS_NXK, bias, &huge_ld, again, bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_gemm_packed_lhs_size(SME2K_VARIANT_QD8_QB4W, m, k, &bytes));

  free(packed), free(again), free(q4_0), free(block_scales), free(a), free(bias), free(w),
      free(scales), free(w4), free(nibbles);
}

/* ---- batched matmul ------------------------------------------------------------------- */

void test_batch_matmul(void) {
  const size_t batch = 3, m = 4, n = 6, k = 5;
  float* a = random_floats(batch * m * k);
  float* b = random_floats(n * k); /* one N x K B for every item (b_stride 0) */
  float* c = checked_malloc(batch * m * n * sizeof *c);
  size_t ws_bytes = 0;
  EXPECT_OK(sme2k_batch_matmul_workspace_size(SME2K_VARIANT_F32, batch, m, n, k,
                                              SME2K_OUTPUT_ROW_MAJOR, &ws_bytes, NULL));
  void* ws = checked_malloc(ws_bytes);
  EXPECT_OK(sme2k_batch_matmul(
      SME2K_VARIANT_F32, batch, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_F32}, m * k,
      (sme2k_matrix){b, n, k, k, SME2K_DTYPE_F32}, SME2K_RHS_NXK, 0,
      (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F32}, m * n, NULL, ws, ws_bytes, NULL));
  for (size_t t = 0; t < batch; ++t) {
    for (size_t i = 0; i < m; ++i) {
      for (size_t j = 0; j < n; ++j) {
        double want = 0, mag = 0;
        reference_gemm(m, n, k, a + t * m * k, k, b, k, 1, NULL, i, j, &want, &mag);
        CHECK(fabs(c[t * m * n + i * n + j] - want) <= ldexp(1.0, -20) * mag,
              "batch %zu (%zu, %zu): %.9g, want %.9g", t, i, j, c[t * m * n + i * n + j], want);
      }
    }
  }
  /* F16 in, f32 out */
  uint16_t* a16 = random_f16(m * k);
  uint16_t* b16 = random_f16(k * n); /* K x N */
  EXPECT_OK(sme2k_batch_matmul_workspace_size(SME2K_VARIANT_F16, 1, m, n, k, SME2K_OUTPUT_ROW_MAJOR,
                                              &ws_bytes, NULL));
  void* ws16 = checked_malloc(ws_bytes);
  EXPECT_OK(sme2k_batch_matmul(SME2K_VARIANT_F16, 1, (sme2k_matrix){a16, m, k, k, SME2K_DTYPE_F16},
                               0, (sme2k_matrix){b16, k, n, n, SME2K_DTYPE_F16}, SME2K_RHS_KXN, 0,
                               (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F32}, 0, NULL, ws16,
                               ws_bytes, NULL));
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double want = 0, mag = 0;
      for (size_t kk = 0; kk < k; ++kk) {
        const double x =
            (double)sme2k_f16_to_f32(a16[i * k + kk]) * sme2k_f16_to_f32(b16[kk * n + j]);
        want += x;
        mag += fabs(x);
      }
      CHECK(fabs(c[i * n + j] - want) <= ldexp(1.0, -20) * mag, "f16 batch (%zu, %zu)", i, j);
    }
  }
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_batch_matmul_workspace_size(SME2K_VARIANT_QS8, 1, m, n, k,
                                                  SME2K_OUTPUT_ROW_MAJOR, &ws_bytes, NULL));
  EXPECT_STATUS(
      SME2K_UNSUPPORTED,
      sme2k_batch_matmul(SME2K_VARIANT_F16, 1, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_F32}, 0,
                         (sme2k_matrix){b16, k, n, n, SME2K_DTYPE_F16}, SME2K_RHS_KXN, 0,
                         (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F32}, 0, NULL, ws16,
                         ws_bytes, NULL));
  EXPECT_STATUS(
      SME2K_NULL_POINTER,
      sme2k_batch_matmul(SME2K_VARIANT_F32, batch, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_F32},
                         m * k, (sme2k_matrix){b, n, k, k, SME2K_DTYPE_F32}, SME2K_RHS_NXK, 0,
                         (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F32}, m * n, NULL, NULL, 0,
                         NULL));
  EXPECT_STATUS(
      SME2K_INVALID_ARGUMENT,
      sme2k_batch_matmul(SME2K_VARIANT_F32, batch, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_F32},
                         m * k, (sme2k_matrix){b, n, k, k, SME2K_DTYPE_F32}, (sme2k_rhs_layout)1000,
                         0, (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F32}, m * n, NULL, ws,
                         ws_bytes, NULL));
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW, sme2k_batch_matmul_workspace_size(
                                         SME2K_VARIANT_F32, 1, 64, (size_t)1 << 62, (size_t)1 << 62,
                                         SME2K_OUTPUT_ROW_MAJOR, &ws_bytes, NULL));
  free(a), free(b), free(c), free(ws), free(a16), free(b16), free(ws16);
}
