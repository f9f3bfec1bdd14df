/* The C API's row ops (sme2k_rms_norm, sme2k_layer_norm, sme2k_rope) from plain C11, against
 * plain C reference loops in double on small shapes (row lengths around every SVL's vector,
 * row counts around the kernels' blocks, strides, in place, F32 and F16, both RoPE pairings,
 * partial rotary_dim, [B,S,H,D] and [B,H,S,D]), and bad input of every kind.
 *
 * Bounds (u = 2^-24; test/reference/row_ops.hpp derives them): rms_norm (cols / 8 + 12) u
 * |ref|; layer_norm the same relative to (|x - mean| + |mean|) r |w| plus 2 u |b|; rope
 * 6 u (|a| + |b|) per output (|cos|, |sin| <= 1); F16 outputs add 2^-11 |ref| + 2^-25.
 * Under ctest the run also checks the path of the configuration (SME2K_EXPECT_PATH). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_test_harness.h"
#include "sme2k.h"

static const double kU = 1.0 / 16777216.0;

static uint32_t g_seed = 777u;
static double random_double(double lo, double hi) {
  g_seed = g_seed * 1664525u + 1013904223u;
  return lo + (hi - lo) * (double)(g_seed >> 8) / 16777216.0;
}

/* Element i of a buffer of dtype, as double; and stores v there (rounded). */
static double get(const void* p, sme2k_dtype dtype, size_t i) {
  return dtype == SME2K_DTYPE_F16 ? (double)sme2k_f16_to_f32(((const uint16_t*)p)[i])
                                  : (double)((const float*)p)[i];
}
static void put(void* p, sme2k_dtype dtype, size_t i, double v) {
  if (dtype == SME2K_DTYPE_F16) {
    ((uint16_t*)p)[i] = sme2k_f32_to_f16((float)v);
  } else {
    ((float*)p)[i] = (float)v;
  }
}
static size_t dtype_bytes(sme2k_dtype dtype) { return dtype == SME2K_DTYPE_F16 ? 2 : 4; }
static double out_rounding(sme2k_dtype dtype, double ref) {
  return dtype == SME2K_DTYPE_F16 ? fabs(ref) / 2048.0 + 1.0 / 33554432.0 : 0.0;
}

static void check_path(void) {
  const char* want = getenv("SME2K_EXPECT_PATH");
  if (want != NULL) {
    CHECK(strcmp(sme2k_path_name(sme2k_last_used_path()), want) == 0, "path %s, want %s",
          sme2k_path_name(sme2k_last_used_path()), want);
  }
}

/* One norm call (rms != 0: RMSNorm) and its check. */
static void check_norm(int rms, sme2k_dtype dtype, size_t rows, size_t cols, size_t pad,
                       int in_place, int with_weight) {
  const size_t ld = cols + pad, n = (rows - 1) * ld + cols, eb = dtype_bytes(dtype);
  void* x = malloc(n * eb);
  void* x0 = malloc(n * eb);
  void* y = in_place ? x : malloc(n * eb);
  float* w = malloc(cols * sizeof(float));
  float* b = malloc(cols * sizeof(float));
  if (x == NULL || x0 == NULL || y == NULL || w == NULL || b == NULL) exit(2);
  for (size_t i = 0; i < n; ++i) put(x, dtype, i, random_double(-2.0, 2.0) + (rms ? 0.0 : 1.5));
  for (size_t i = 0; i < cols; ++i) {
    w[i] = (float)random_double(-1.5, 1.5);
    b[i] = (float)random_double(-1.0, 1.0);
  }
  memcpy(x0, x, n * eb);
  const sme2k_matrix xm = {x, rows, cols, ld, dtype};
  const sme2k_mutable_matrix ym = {y, rows, cols, ld, dtype};
  const float* wp = with_weight ? w : NULL;
  if (rms) {
    EXPECT_STATUS(SME2K_OK, sme2k_rms_norm(xm, ym, wp, 1e-5f, NULL));
  } else {
    EXPECT_STATUS(SME2K_OK, sme2k_layer_norm(xm, ym, wp, b, 1e-5f, NULL));
  }
  check_path();
  int bad = 0;
  for (size_t r = 0; r < rows; ++r) {
    double s = 0.0, ss = 0.0;
    for (size_t i = 0; i < cols; ++i) s += get(x0, dtype, r * ld + i);
    const double mean = rms ? 0.0 : s / (double)cols;
    for (size_t i = 0; i < cols; ++i) {
      const double d = get(x0, dtype, r * ld + i) - mean;
      ss += d * d;
    }
    const double inv = 1.0 / sqrt(ss / (double)cols + 1e-5);
    const double terms = (double)cols / 8.0 + 12.0;
    for (size_t i = 0; i < cols; ++i) {
      const double xi = get(x0, dtype, r * ld + i), wi = with_weight ? w[i] : 1.0;
      const double bi = rms ? 0.0 : b[i];
      const double ref = (xi - mean) * inv * wi + bi;
      const double bound = terms * kU * (fabs(xi - mean) + 2.0 * fabs(mean)) * inv * fabs(wi) +
                           (rms ? 0.0 : terms * kU * fabs(mean) * inv * fabs(wi) * 4.0) +
                           2.0 * kU * fabs(bi) + out_rounding(dtype, ref);
      const double got = get(y, dtype, r * ld + i);
      if (!(fabs(got - ref) <= bound) && bad++ < 4) {
        CHECK(0, "%s %s rows %zu cols %zu (%zu, %zu): got %g want %g", rms ? "rms" : "layer",
              dtype == SME2K_DTYPE_F16 ? "f16" : "f32", rows, cols, r, i, got, ref);
      }
    }
  }
  CHECK(bad == 0, "%d outputs outside the bound", bad);
  free(x);
  free(x0);
  if (!in_place) free(y);
  free(w);
  free(b);
}

static void check_rope(sme2k_dtype dtype, int bhsd, sme2k_rope_pairing pairing, size_t batch,
                       size_t seq, size_t heads, size_t dim, size_t rotary, int with_positions) {
  const size_t half = rotary / 2, n = batch * seq * heads * dim, eb = dtype_bytes(dtype);
  const size_t table = seq + 3;
  void* x = malloc(n * eb);
  void* x0 = malloc(n * eb);
  float* cs = malloc(table * half * sizeof(float));
  float* sn = malloc(table * half * sizeof(float));
  int32_t* pos = malloc(batch * seq * sizeof(int32_t));
  if (x == NULL || x0 == NULL || cs == NULL || sn == NULL || pos == NULL) exit(2);
  for (size_t i = 0; i < n; ++i) put(x, dtype, i, random_double(-3.0, 3.0));
  for (size_t i = 0; i < table * half; ++i) {
    const double a = random_double(-3.2, 3.2);
    cs[i] = (float)cos(a);
    sn[i] = (float)sin(a);
  }
  for (size_t i = 0; i < batch * seq; ++i) pos[i] = (int32_t)((i * 5 + 1) % table);
  memcpy(x0, x, n * eb);
  sme2k_rope_tensor t = {x, dtype, batch, seq, heads, dim, seq * heads * dim, heads * dim, dim};
  if (bhsd) t.seq_stride = dim, t.head_stride = seq * dim;
  EXPECT_STATUS(SME2K_OK, sme2k_rope(&t, cs, sn, table, rotary, pairing,
                                     with_positions ? pos : NULL, 1, NULL));
  check_path();
  int bad = 0;
  for (size_t b = 0; b < batch; ++b) {
    for (size_t s = 0; s < seq; ++s) {
      const size_t p = with_positions ? (size_t)pos[b * seq + s] : 1 + s;
      for (size_t h = 0; h < heads; ++h) {
        const size_t o = b * t.batch_stride + s * t.seq_stride + h * t.head_stride;
        for (size_t i = 0; i < dim; ++i) {
          double ref = get(x0, dtype, o + i), bound = 0.0;
          if (i < rotary) {
            const size_t k = pairing == SME2K_ROPE_INTERLEAVED ? i / 2 : i % half;
            const size_t ia = pairing == SME2K_ROPE_INTERLEAVED ? 2 * k : k;
            const size_t ib = pairing == SME2K_ROPE_INTERLEAVED ? 2 * k + 1 : k + half;
            const double a = get(x0, dtype, o + ia), bb = get(x0, dtype, o + ib);
            const double c = cs[p * half + k], si = sn[p * half + k];
            ref = i == ia ? a * c - bb * si : a * si + bb * c;
            bound = 6.0 * kU * (fabs(a) + fabs(bb)) + out_rounding(dtype, ref);
          }
          const double got = get(x, dtype, o + i);
          if (!(fabs(got - ref) <= bound) && bad++ < 4) {
            CHECK(0, "rope (%zu, %zu, %zu, %zu): got %g want %g", b, s, h, i, got, ref);
          }
        }
      }
    }
  }
  CHECK(bad == 0, "%d outputs outside the bound", bad);
  free(x);
  free(x0);
  free(cs);
  free(sn);
  free(pos);
}

static void test_values(void) {
  const uint32_t svl = sme2k_svl_bits();
  const size_t vl = svl != 0 ? svl / 32 : 8;
  const size_t lengths[] = {1, vl - 1, vl, vl + 1, 4 * vl + 3, 37};
  const sme2k_dtype dtypes[] = {SME2K_DTYPE_F32, SME2K_DTYPE_F16};
  for (int d = 0; d < 2; ++d) {
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; ++l) {
      if (lengths[l] == 0) continue;
      check_norm(1, dtypes[d], 17, lengths[l], 0, 0, 1);
      check_norm(0, dtypes[d], 9, lengths[l], 3, 0, 1);
      check_rope(dtypes[d], 0, SME2K_ROPE_HALF_SPLIT, 2, 3, 5, 2 * lengths[l] + 2, 2 * lengths[l],
                 1);
      check_rope(dtypes[d], 1, SME2K_ROPE_INTERLEAVED, 1, 4, 6, 2 * lengths[l], 2 * lengths[l], 0);
    }
    check_norm(1, dtypes[d], 5, 2 * vl + 1, 4, 1, 0);
    check_norm(0, dtypes[d], 5, 2 * vl + 1, 4, 1, 0);
  }
}

static void test_bad_input(void) {
  float x[12] = {0}, y[12], w[4] = {1, 1, 1, 1}, cs[8] = {1}, sn[8] = {0};
  for (int i = 0; i < 12; ++i) y[i] = -7.0f;
  const sme2k_matrix xm = {x, 3, 4, 4, SME2K_DTYPE_F32};
  const sme2k_mutable_matrix ym = {y, 3, 4, 4, SME2K_DTYPE_F32};
  sme2k_matrix bad = xm;
  bad.data = NULL;
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_rms_norm(bad, ym, w, 1e-5f, NULL));
  bad = xm;
  bad.rows = 0;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_layer_norm(bad, ym, w, NULL, 1e-5f, NULL));
  bad = xm;
  bad.ld = 3;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_rms_norm(bad, ym, w, 1e-5f, NULL));
  bad = xm;
  bad.dtype = SME2K_DTYPE_INT8;
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_rms_norm(bad, ym, w, 1e-5f, NULL));
  bad.dtype = (sme2k_dtype)99;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_rms_norm(bad, ym, w, 1e-5f, NULL));
  sme2k_mutable_matrix ybad = ym;
  ybad.dtype = SME2K_DTYPE_F16;
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_layer_norm(xm, ybad, w, w, 1e-5f, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_rms_norm(xm, ym, w, NAN, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_layer_norm(xm, ym, w, w, -1.0f, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_rms_norm(xm, ym, y + 1, 1e-5f, NULL));
  /* The element-alignment rule: x, y, weight and bias one byte off their f32 elements. */
  float spare[16] = {0};
  const float* off = (const float*)((const char*)spare + 1);
  bad = xm;
  bad.data = off;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_rms_norm(bad, ym, w, 1e-5f, NULL));
  ybad = ym;
  ybad.data = (char*)y + 1;
  ybad.rows = 2;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_layer_norm(xm, ybad, NULL, NULL, 1e-5f, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_rms_norm(xm, ym, off, 1e-5f, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_layer_norm(xm, ym, w, off, 1e-5f, NULL));
  bad = xm;
  bad.ld = SIZE_MAX / 2;
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW, sme2k_rms_norm(bad, ym, w, 1e-5f, NULL));
  for (int i = 0; i < 12; ++i) CHECK(y[i] == -7.0f, "a refused call wrote y[%d]", i);

  sme2k_rope_tensor t = {x, SME2K_DTYPE_F32, 1, 3, 1, 4, 12, 4, 4};
  const sme2k_rope_pairing hs = SME2K_ROPE_HALF_SPLIT;
  EXPECT_STATUS(SME2K_OK, sme2k_rope(&t, cs, sn, 4, 4, hs, NULL, 0, NULL));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_rope(NULL, cs, sn, 4, 4, hs, NULL, 0, NULL));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_rope(&t, NULL, sn, 4, 4, hs, NULL, 0, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_rope(&t, cs, sn, 4, 3, hs, NULL, 0, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_rope(&t, cs, sn, 4, 6, hs, NULL, 0, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_rope(&t, cs, sn, 2, 4, hs, NULL, 0, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_rope(&t, cs, sn, 4, 4, (sme2k_rope_pairing)7, NULL, 0, NULL));
  t.seq_stride = 3;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_rope(&t, cs, sn, 4, 4, hs, NULL, 0, NULL));
  t.seq_stride = SIZE_MAX / 2;
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW, sme2k_rope(&t, cs, sn, 4, 4, hs, NULL, 0, NULL));
  t.seq_stride = 4;
  /* The element-alignment rule: tensor, tables, positions. */
  const int32_t positions[4] = {0, 1, 2, 3};
  EXPECT_STATUS(SME2K_OK, sme2k_rope(&t, cs, sn, 4, 4, hs, positions, 0, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_rope(&t, off, sn, 4, 4, hs, NULL, 0, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_rope(&t, cs, off, 4, 4, hs, NULL, 0, NULL));
  EXPECT_STATUS(
      SME2K_INVALID_ARGUMENT,
      sme2k_rope(&t, cs, sn, 4, 4, hs, (const int32_t*)((const char*)positions + 2), 0, NULL));
  t.data = (char*)x + 2;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_rope(&t, cs, sn, 4, 4, hs, NULL, 0, NULL));
  t.data = x;
  t.dtype = SME2K_DTYPE_INT32;
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_rope(&t, cs, sn, 4, 4, hs, NULL, 0, NULL));
}

int main(void) {
  test_values();
  test_bad_input();
  return c_test_finish("row_ops_c_test");
}
