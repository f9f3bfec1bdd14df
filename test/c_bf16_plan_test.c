/* The C API's BF16 variant (GEMM to bf16 and to f32, against a double reference of the stored
 * values) and its plan queries (sme2k_gemm_plan, sme2k_conv2d_plan: the kernel the call then
 * runs, its path, its workspace). Plain C11. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "c_test_harness.h"

static uint16_t to_bf16_bits(float x) { /* round to nearest even; no NaN here */
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
static float from_bf16_bits(uint16_t h) {
  const uint32_t u = (uint32_t)h << 16;
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* Values k / 64 for small integers k: exact in bf16, so the reference sees what is stored. */
static float value_at(size_t i, size_t salt) {
  return (float)((int)((i * 37 + salt * 11) % 29) - 14) / 64.0f;
}

static void gemm_bf16(size_t m, size_t n, size_t k, int f32_out) {
  uint16_t* a = malloc(m * k * sizeof *a);
  uint16_t* b = malloc(k * n * sizeof *b);
  float* bias = malloc(n * sizeof *bias);
  void* c = malloc(m * n * sizeof(float));
  for (size_t i = 0; i < m * k; ++i) a[i] = to_bf16_bits(value_at(i, 1));
  for (size_t i = 0; i < k * n; ++i) b[i] = to_bf16_bits(value_at(i, 2));
  for (size_t j = 0; j < n; ++j) bias[j] = value_at(j, 3);

  size_t packed_bytes = 0;
  EXPECT_OK(sme2k_gemm_packed_rhs_size(SME2K_VARIANT_BF16, n, k, &packed_bytes));
  void* packed = malloc(packed_bytes);
  const sme2k_matrix bm = {b, k, n, n, SME2K_DTYPE_BF16};
  EXPECT_OK(sme2k_gemm_pack_rhs(SME2K_VARIANT_BF16, bm, SME2K_RHS_KXN, bias, SME2K_DTYPE_F32,
                                packed, packed_bytes));
  /* The wrong element type is refused with a message. */
  const sme2k_matrix as_f16 = {b, k, n, n, SME2K_DTYPE_F16};
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_gemm_pack_rhs(SME2K_VARIANT_BF16, as_f16, SME2K_RHS_KXN, bias,
                                    SME2K_DTYPE_F32, packed, packed_bytes));

  sme2k_op_plan plan;
  EXPECT_OK(sme2k_gemm_plan(SME2K_VARIANT_BF16, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &plan, NULL));
  CHECK(plan.kernel != NULL && strstr(plan.kernel, "gemm_bf16_") == plan.kernel, "kernel %s",
        plan.kernel ? plan.kernel : "(null)");
  size_t ws_bytes = 0;
  EXPECT_OK(sme2k_gemm_workspace_size(SME2K_VARIANT_BF16, m, n, k, SME2K_OUTPUT_ROW_MAJOR,
                                      &ws_bytes, NULL));
  CHECK(ws_bytes == plan.workspace_bytes, "plan says %zu bytes, size query %zu",
        plan.workspace_bytes, ws_bytes);
  void* ws = malloc(ws_bytes + 1);
  const sme2k_matrix am = {a, m, k, k, SME2K_DTYPE_BF16};
  const sme2k_mutable_matrix cm = {c, m, n, n, f32_out ? SME2K_DTYPE_F32 : SME2K_DTYPE_BF16};
  const sme2k_epilogue e = sme2k_epilogue_default();
  EXPECT_OK(sme2k_gemm(SME2K_VARIANT_BF16, am, packed, packed_bytes, cm, &e, ws, ws_bytes, NULL));
  CHECK(sme2k_last_used_path() == plan.path, "ran %s, planned %s",
        sme2k_path_name(sme2k_last_used_path()), sme2k_path_name(plan.path));
  int bad = 0;
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double want = bias[j], magnitude = fabs(bias[j]);
      for (size_t kk = 0; kk < k; ++kk) {
        const double p = (double)from_bf16_bits(a[i * k + kk]) * from_bf16_bits(b[kk * n + j]);
        want += p;
        magnitude += fabs(p);
      }
      const double got =
          f32_out ? ((const float*)c)[i * n + j] : from_bf16_bits(((const uint16_t*)c)[i * n + j]);
      /* f32 accumulation ((k + 1) 2^-24 of the magnitude), then bf16 rounding (2^-8). */
      double bound = (double)(k + 1) * ldexp(1.0, -24) * magnitude;
      if (!f32_out) bound += (fabs(want) + bound) * ldexp(1.0, -8);
      if (!(fabs(got - want) <= bound) && bad++ < 4) {
        CHECK(0, "M %zu N %zu K %zu: C(%zu, %zu) = %g, want %g (bound %g)", m, n, k, i, j, got,
              want, bound);
      }
    }
  }
  CHECK(bad == 0, "%d elements out of bound", bad);
  free(ws);
  free(packed);
  free(c);
  free(bias);
  free(b);
  free(a);
}

static void plan_queries(void) {
  sme2k_op_plan plan;
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_gemm_plan(SME2K_VARIANT_F32, 4, 4, 4, SME2K_OUTPUT_ROW_MAJOR, NULL, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_plan(SME2K_VARIANT_F32, 0, 4, 4, SME2K_OUTPUT_ROW_MAJOR, &plan, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_plan((sme2k_variant)99, 4, 4, 4, SME2K_OUTPUT_ROW_MAJOR, &plan, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_plan(SME2K_VARIANT_F32, 4, 4, 4, (sme2k_output_order)7, &plan, NULL));

  /* Depthwise NCHW -> NHWC: no SME2 kernel serves the layout change; the plan says so. */
  sme2k_conv2d_params p = sme2k_conv2d_params_default();
  p.in_channels = p.out_channels = p.groups = 8;
  p.in_height = p.in_width = 6;
  p.kernel_height = p.kernel_width = 3;
  EXPECT_OK(
      sme2k_conv2d_plan(SME2K_VARIANT_F32, &p, SME2K_LAYOUT_NCHW, SME2K_LAYOUT_NHWC, &plan, NULL));
  CHECK(plan.path == SME2K_PATH_PORTABLE, "path %s", sme2k_path_name(plan.path));
  CHECK(strcmp(plan.kernel, "dwconv_f32_f32_any_1_portable_loops") == 0, "kernel %s", plan.kernel);
  size_t bytes = 0;
  EXPECT_OK(sme2k_conv2d_workspace_size(SME2K_VARIANT_F32, &p, SME2K_LAYOUT_NCHW, SME2K_LAYOUT_NHWC,
                                        &bytes, NULL));
  CHECK(bytes == plan.workspace_bytes, "%zu vs %zu", bytes, plan.workspace_bytes);
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_conv2d_plan(SME2K_VARIANT_QD8, &p, SME2K_LAYOUT_NCHW,
                                                     SME2K_LAYOUT_NCHW, &plan, NULL));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_conv2d_plan(SME2K_VARIANT_F32, &p, SME2K_LAYOUT_NCHW,
                                                      SME2K_LAYOUT_NCHW, NULL, NULL));
}

int main(void) {
  gemm_bf16(3, 37, 21, 0);
  gemm_bf16(3, 37, 21, 1);
  gemm_bf16(41, 35, 19, 0);
  gemm_bf16(70, 9, 66, 1);
  plan_queries();
  return c_test_finish("c_bf16_plan_test");
}
