/* sme2k_softmax from plain C11 against a plain C reference in double: F32 and F16 in and out
 * (all four pairs), row lengths around every SVL's vector and the kernel's step of 4 vectors,
 * strided rows (the gaps keep a sentinel), scale, no mask / one shared mask row / a mask per
 * row with -inf entries, a fully masked row (zeros), in place, NULL params, the threading
 * hook (bit-identical to serial), and bad input of every kind returning its Status with y
 * untouched.
 *
 * Error bound per element, relative to the reference p (test/softmax_test.cpp derives it):
 *   2 e_exp + 4 u (log2(e) (|z| + |zmax|) + 130) + (cols + 4) u  [+ 2^-10 for F16 out]
 * with u = 2^-24, e_exp the exp's relative error (SME2: 2.6e-6 for F32 out, 7.5e-5 for F16
 * out; portable std::exp: 2^-22), plus an absolute 2^-24 for F16 out (subnormals) or 2^-100
 * (exp2's floor below 2^-125). Under ctest the run checks the path (SME2K_EXPECT_PATH). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_test_harness.h"
#include "sme2k.h"

static const double kU = 1.0 / 16777216.0;
static const uint8_t kSentinel = 0xA5;

static uint32_t g_seed = 4242u;
static double random_double(double lo, double hi) {
  g_seed = g_seed * 1664525u + 1013904223u;
  return lo + (hi - lo) * (double)(g_seed >> 8) / 16777216.0;
}

static size_t dtype_bytes(sme2k_dtype dtype) { return dtype == SME2K_DTYPE_F16 ? 2 : 4; }
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

static int portable_path(void) {
  const char* want = getenv("SME2K_EXPECT_PATH");
  return want != NULL ? strcmp(want, "portable") == 0
                      : sme2k_last_used_path() == SME2K_PATH_PORTABLE;
}

static void check_path(void) {
  const char* want = getenv("SME2K_EXPECT_PATH");
  if (want != NULL) {
    CHECK(strcmp(sme2k_path_name(sme2k_last_used_path()), want) == 0, "path %s, want %s",
          sme2k_path_name(sme2k_last_used_path()), want);
  }
}

/* A serial "pool" that runs the tasks in reverse (the result must not depend on the order). */
static void reversed(void* pool, size_t count, void (*task)(void*, size_t), void* context) {
  (void)pool;
  for (size_t i = count; i-- > 0;) task(context, i);
}

enum { kNoMask = 0, kSharedMask = 1, kRowMask = 2 };

/* One call and its check against the double reference. */
static void check_case(sme2k_dtype in, sme2k_dtype out, size_t rows, size_t cols, int mask_kind,
                       float scale, int in_place, int threaded) {
  const size_t ldx = cols + (in_place ? 2 : cols % 3), ldy = in_place ? ldx : cols + 5;
  const size_t nx = rows * ldx, ny = rows * ldy, ib = dtype_bytes(in), ob = dtype_bytes(out);
  const size_t mask_ld = mask_kind == kRowMask ? cols + 1 : 0;
  const size_t mask_rows = mask_kind == kRowMask ? rows : 1;
  void* x = malloc(nx * ib);
  double* xd = malloc(nx * sizeof(double));
  float* mask = malloc((mask_rows * (cols + 1)) * sizeof(float));
  void* y = in_place ? x : malloc(ny * ob);
  if (x == NULL || xd == NULL || mask == NULL || y == NULL) exit(2);
  memset(x, kSentinel, nx * ib);
  if (!in_place) memset(y, kSentinel, ny * ob);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t i = 0; i < cols; ++i) {
      /* Scores spread over +-12 (some far below the row's maximum). */
      put(x, in, r * ldx + i, random_double(-12.0, 12.0));
      xd[r * ldx + i] = get(x, in, r * ldx + i);
    }
  }
  for (size_t i = 0; i < mask_rows * (cols + 1); ++i) {
    mask[i] = (i % 5 == 1) ? -INFINITY : (float)random_double(-3.0, 1.0);
  }
  /* The last row of a per-row mask is fully masked: its output must be zeros. */
  if (mask_kind == kRowMask && rows > 1) {
    for (size_t i = 0; i < cols; ++i) mask[(rows - 1) * mask_ld + i] = -INFINITY;
  }
  const sme2k_softmax_params params = {scale, mask_kind == kNoMask ? NULL : mask, mask_ld};
  const sme2k_parallel_for pool = {reversed, NULL, 3};
  const sme2k_matrix xm = {x, rows, cols, ldx, in};
  const sme2k_mutable_matrix ym = {y, rows, cols, ldy, out};
  const int default_params = mask_kind == kNoMask && scale == 1.0f;
  EXPECT_OK(sme2k_softmax(xm, ym, default_params ? NULL : &params, threaded ? &pool : NULL));
  check_path();

  const double e_exp = portable_path() ? ldexp(1.0, -22) : out == SME2K_DTYPE_F16 ? 7.5e-5 : 2.6e-6;
  const int f16_out = out == SME2K_DTYPE_F16;
  int bad = 0;
  for (size_t r = 0; r < rows && bad < 3; ++r) {
    const float* mrow = mask_kind == kNoMask ? NULL : mask + r * mask_ld;
    double zmax = -INFINITY, sum = 0.0;
    for (size_t i = 0; i < cols; ++i) {
      const double z = scale * xd[r * ldx + i] + (mrow != NULL ? mrow[i] : 0.0);
      if (z > zmax) zmax = z;
    }
    for (size_t i = 0; i < cols; ++i) {
      const double z = scale * xd[r * ldx + i] + (mrow != NULL ? mrow[i] : 0.0);
      if (isfinite(zmax)) sum += exp(z - zmax);
    }
    for (size_t i = 0; i < ldy; ++i) {
      if (i >= cols) {
        if (in_place) continue; /* x's own gaps */
        const uint8_t* gap = (const uint8_t*)y + (r * ldy + i) * ob;
        int intact = 1;
        for (size_t b = 0; b < ob; ++b) intact &= gap[b] == kSentinel;
        CHECK(intact, "gap y[%zu][%zu] written", r, i);
        bad += !intact;
        continue;
      }
      const double z = scale * xd[r * ldx + i] + (mrow != NULL ? mrow[i] : 0.0);
      const double want = isfinite(zmax) ? exp(z - zmax) / sum : 0.0;
      const double got = get(y, out, r * ldy + i);
      const double zt = isfinite(z) ? fabs(z) : 0.0, zm = isfinite(zmax) ? fabs(zmax) : 0.0;
      const double rel = 2 * e_exp + 4 * kU * (1.4426950408889634 * (zt + zm) + 130) +
                         ((double)cols + 4) * kU + (f16_out ? ldexp(1.0, -10) : 0.0);
      const double tol = rel * want + (f16_out ? ldexp(1.0, -24) : ldexp(1.0, -100));
      const int ok = fabs(got - want) <= tol;
      CHECK(ok, "in %d out %d rows %zu cols %zu mask %d: y[%zu][%zu] = %.9g, want %.9g (tol %.3g)",
            (int)in, (int)out, rows, cols, mask_kind, r, i, got, want, tol);
      bad += !ok;
      if (bad >= 3) break;
    }
  }
  /* The threading hook: the same bits as a serial call (not in place: x is gone). */
  if (threaded && !in_place) {
    void* y2 = malloc(ny * ob);
    if (y2 == NULL) exit(2);
    memset(y2, kSentinel, ny * ob);
    const sme2k_mutable_matrix y2m = {y2, rows, cols, ldy, out};
    EXPECT_OK(sme2k_softmax(xm, y2m, default_params ? NULL : &params, NULL));
    CHECK(memcmp(y, y2, ny * ob) == 0, "threaded result differs from serial (cols %zu)", cols);
    free(y2);
  }
  if (!in_place) free(y);
  free(mask);
  free(xd);
  free(x);
}

static void sweep(void) {
  const sme2k_dtype types[2] = {SME2K_DTYPE_F32, SME2K_DTYPE_F16};
  /* Around 16 lanes (SVL 512), 64 (4 vectors at SVL 512 / 1 at 2048), 256 (4 at 2048). */
  const size_t lengths[] = {1, 3, 15, 16, 17, 63, 64, 65, 255, 257};
  for (int a = 0; a < 2; ++a) {
    for (int b = 0; b < 2; ++b) {
      for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; ++l) {
        const int mask_kind = (int)(l % 3);
        check_case(types[a], types[b], 3 + l % 3, lengths[l], mask_kind,
                   mask_kind == kSharedMask ? 0.125f : 1.0f, 0, l % 4 == 1);
      }
      if (a == b) {
        check_case(types[a], types[b], 4, 40, kRowMask, 0.5f, 1, 0);
        check_case(types[a], types[b], 5, 129, kNoMask, 1.0f, 1, 1);
      }
    }
  }
}

static void bad_input(void) {
  float x[32], y[32], mask[8];
  for (int i = 0; i < 32; ++i) x[i] = (float)i * 0.25f;
  for (int i = 0; i < 8; ++i) mask[i] = 0.0f;
  const sme2k_matrix xm = {x, 4, 8, 8, SME2K_DTYPE_F32};
  const sme2k_mutable_matrix ym = {y, 4, 8, 8, SME2K_DTYPE_F32};
  memset(y, kSentinel, sizeof y);
  uint8_t before[sizeof y];
  memcpy(before, y, sizeof y);

  sme2k_matrix xb = xm;
  xb.data = NULL;
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_softmax(xb, ym, NULL, NULL));
  sme2k_mutable_matrix yb = ym;
  yb.data = NULL;
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_softmax(xm, yb, NULL, NULL));
  xb = xm;
  xb.ld = 7; /* shorter than a row */
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(xb, ym, NULL, NULL));
  yb = ym;
  yb.ld = 4;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(xm, yb, NULL, NULL));
  xb = xm;
  xb.rows = 0;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(xb, ym, NULL, NULL));
  yb = ym;
  yb.rows = 3; /* shapes differ */
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(xm, yb, NULL, NULL));
  xb = xm;
  xb.rows = SIZE_MAX / 2, xb.ld = SIZE_MAX / 4; /* extent overflows */
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW, sme2k_softmax(xb, ym, NULL, NULL));
  /* Misaligned f32 rows. */
  xb = xm;
  xb.data = (const char*)x + 2;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(xb, ym, NULL, NULL));
  yb = ym;
  yb.data = (char*)y + 1;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(xm, yb, NULL, NULL));
  /* dtypes: int8 is known but not a softmax type; 99 is not a dtype. */
  xb = xm;
  xb.dtype = SME2K_DTYPE_INT8;
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_softmax(xb, ym, NULL, NULL));
  yb = ym;
  yb.dtype = SME2K_DTYPE_INT32;
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_softmax(xm, yb, NULL, NULL));
  xb = xm;
  xb.dtype = (sme2k_dtype)99;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(xb, ym, NULL, NULL));
  /* Scales. */
  const float scales[] = {0.0f, -1.0f, INFINITY, NAN};
  for (int i = 0; i < 4; ++i) {
    const sme2k_softmax_params p = {scales[i], NULL, 0};
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(xm, ym, &p, NULL));
  }
  /* y overlapping x other than exactly in place (shifted by one element; another ld; F16 y
   * over F32 x). */
  const sme2k_mutable_matrix shifted = {x + 1, 3, 8, 8, SME2K_DTYPE_F32};
  const sme2k_matrix x3 = {x, 3, 8, 8, SME2K_DTYPE_F32};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(x3, shifted, NULL, NULL));
  const sme2k_mutable_matrix other_ld = {x, 3, 8, 9, SME2K_DTYPE_F32};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(x3, other_ld, NULL, NULL));
  const sme2k_mutable_matrix as_f16 = {x, 4, 8, 8, SME2K_DTYPE_F16};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(xm, as_f16, NULL, NULL));
  /* The mask: overlapping y, misaligned, or a row mask too short for its ld. */
  const sme2k_softmax_params over = {1.0f, y + 4, 0};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(xm, ym, &over, NULL));
  const sme2k_softmax_params odd = {1.0f, (const float*)((const char*)mask + 1), 0};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(xm, ym, &odd, NULL));
  const sme2k_softmax_params short_ld = {1.0f, mask, 4};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_softmax(xm, ym, &short_ld, NULL));
  CHECK(memcmp(before, y, sizeof y) == 0, "a refused call wrote y");
  /* The same buffers are fine when valid. */
  EXPECT_OK(sme2k_softmax(xm, ym, NULL, NULL));
  double s = 0.0;
  for (int i = 0; i < 8; ++i) s += y[i];
  CHECK(fabs(s - 1.0) < 1e-5, "row 0 sums to %g", s);
}

int main(void) {
  sweep();
  bad_input();
  return c_test_finish("c_softmax_test");
}
