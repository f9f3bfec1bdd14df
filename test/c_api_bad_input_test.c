/* Bad input of the C API's GEMM entry points: refused with a status and a message, nothing
 * written. */
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

/* ---- bad input of the GEMM entry points --------------------------------------------------------- */

void test_gemm_bad_input(void) {
  const size_t m = 4, n = 5, k = 6;
  float a[4 * 6] = {0}, b[6 * 5] = {0}, c[4 * 5];
  size_t bytes = 0, ws_bytes = 0;
  void* packed = packed_rhs(SME2K_VARIANT_F32, n, k, &bytes);
  const sme2k_matrix bm = {b, k, n, n, SME2K_DTYPE_F32};
  const sme2k_matrix am = {a, m, k, k, SME2K_DTYPE_F32};
  const sme2k_mutable_matrix cm = {c, m, n, n, SME2K_DTYPE_F32};
  EXPECT_OK(sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, SME2K_RHS_KXN, NULL, SME2K_DTYPE_F32, packed,
                                bytes));
  void* ws = gemm_workspace(SME2K_VARIANT_F32, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &ws_bytes);

  /* sizes */
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_gemm_packed_rhs_size(SME2K_VARIANT_F32, n, k, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_packed_rhs_size(SME2K_VARIANT_F32, 0, k, &bytes));
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW,
                sme2k_gemm_packed_rhs_size(SME2K_VARIANT_F16, SIZE_MAX / 2, SIZE_MAX / 2, &bytes));
  EXPECT_STATUS(
      SME2K_INVALID_ARGUMENT,
      sme2k_gemm_workspace_size(SME2K_VARIANT_QS8, 0, n, k, SME2K_OUTPUT_ROW_MAJOR, &bytes, NULL));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_gemm_workspace_size(SME2K_VARIANT_F32, m, n, k,
                                                              SME2K_OUTPUT_ROW_MAJOR, NULL, NULL));
  EXPECT_STATUS(
      SME2K_INVALID_ARGUMENT,
      sme2k_gemm_workspace_size(SME2K_VARIANT_F32, m, n, k, (sme2k_output_order)2, &bytes, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_packed_lhs_size(SME2K_VARIANT_QD8, 0, k, &bytes));

  /* unknown enum values */
  const int bad_variants[] = {0, 9, 99, -1, INT32_MIN, 256 + 1}; /* 8 is BF16 */
  for (size_t i = 0; i < sizeof bad_variants / sizeof bad_variants[0]; ++i) {
    const sme2k_variant v = (sme2k_variant)bad_variants[i];
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_gemm_packed_rhs_size(v, n, k, &bytes));
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm(v, am, packed, bytes, cm, NULL, ws, ws_bytes, NULL));
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm_pack_rhs(v, bm, SME2K_RHS_KXN, NULL, SME2K_DTYPE_F32, packed, bytes));
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm_workspace_size(v, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &bytes, NULL));
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_gemm_packed_lhs_size(v, m, k, &bytes));
  }
  const int bad_layouts[] = {0, 3, -1, 257};
  for (size_t i = 0; i < sizeof bad_layouts / sizeof bad_layouts[0]; ++i) {
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, (sme2k_rhs_layout)bad_layouts[i], NULL,
                                      SME2K_DTYPE_F32, packed, bytes));
  }
  const int bad_activations[] = {6, 77, 256, -1};
  for (size_t i = 0; i < sizeof bad_activations / sizeof bad_activations[0]; ++i) {
    sme2k_epilogue e = sme2k_epilogue_default();
    e.activation = (sme2k_activation)bad_activations[i];
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes, cm, &e, ws, ws_bytes, NULL));
  }
  {
    sme2k_epilogue e = sme2k_epilogue_default();
    e.clamp_min = 2.0f;
    e.clamp_max = 1.0f;
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes, cm, &e, ws, ws_bytes, NULL));
    e = sme2k_epilogue_default();
    e.order = (sme2k_output_order)-5;
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes, cm, &e, ws, ws_bytes, NULL));
  }
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, m, k, k, (sme2k_dtype)6}, packed,
                           bytes, cm, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_pack_rhs(SME2K_VARIANT_F16, (sme2k_matrix){b, k, n, n, SME2K_DTYPE_F16},
                                    SME2K_RHS_KXN, b, (sme2k_dtype)-1, packed, bytes));

  /* null pointers */
  EXPECT_STATUS(
      SME2K_NULL_POINTER,
      sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, (sme2k_matrix){NULL, k, n, n, SME2K_DTYPE_F32},
                          SME2K_RHS_KXN, NULL, SME2K_DTYPE_F32, packed, bytes));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, SME2K_RHS_KXN, NULL,
                                                        SME2K_DTYPE_F32, NULL, bytes));
  EXPECT_STATUS(
      SME2K_NULL_POINTER,
      sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes,
                 (sme2k_mutable_matrix){NULL, m, n, n, SME2K_DTYPE_F32}, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_gemm(SME2K_VARIANT_F32, am, NULL, bytes, cm, NULL, ws, ws_bytes, NULL));
  if (ws_bytes > 0) {
    EXPECT_STATUS(SME2K_NULL_POINTER,
                  sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes, cm, NULL, NULL, ws_bytes, NULL));
    EXPECT_STATUS(SME2K_BUFFER_TOO_SMALL, sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes, cm, NULL,
                                                     ws, ws_bytes - 1, NULL));
  }

  /* short buffers, bad strides, overflowing extents */
  EXPECT_STATUS(SME2K_BUFFER_TOO_SMALL,
                sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, SME2K_RHS_KXN, NULL, SME2K_DTYPE_F32,
                                    packed, bytes - 1));
  EXPECT_STATUS(SME2K_BUFFER_TOO_SMALL, /* the header's payload does not fit */
                sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes - 1, cm, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, m, k, k - 1, SME2K_DTYPE_F32},
                           packed, bytes, cm, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(
      SME2K_SIZE_OVERFLOW,
      sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, SIZE_MAX / 2, k, k, SME2K_DTYPE_F32}, packed,
                 bytes, cm, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, 0, k, k, SME2K_DTYPE_F32}, packed,
                           bytes, cm, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_PACKED_MISMATCH, /* shape */
                sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, m, k - 1, k, SME2K_DTYPE_F32},
                           packed, bytes, cm, NULL, ws, ws_bytes, NULL));

  /* combinations a variant does not take */
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm_pack_rhs(SME2K_VARIANT_QS8, bm, SME2K_RHS_KXN, NULL,
                                                       SME2K_DTYPE_F32, packed, bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm_pack_rhs(SME2K_VARIANT_F16, bm, SME2K_RHS_KXN, NULL,
                                                       SME2K_DTYPE_F32, packed, bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, SME2K_RHS_KXN, b,
                                                       SME2K_DTYPE_F16, packed, bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes,
                                              (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F16},
                                              NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_gemm(SME2K_VARIANT_QS8, am, packed, bytes, cm, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm_packed_lhs_size(SME2K_VARIANT_F32, m, k, &bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm_pack_lhs(SME2K_VARIANT_F16, am, c, sizeof c, NULL));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm_packed_lhs(SME2K_VARIANT_QS8, packed, bytes, packed,
                                                         bytes, cm, NULL, ws, ws_bytes, NULL));

  /* packed data from another variant */
  size_t ws16_bytes = 0;
  void* ws16 = gemm_workspace(SME2K_VARIANT_F16, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &ws16_bytes);
  uint16_t a16[4 * 6] = {0};
  EXPECT_STATUS(SME2K_PACKED_MISMATCH,
                sme2k_gemm(SME2K_VARIANT_F16, (sme2k_matrix){a16, m, k, k, SME2K_DTYPE_F16}, packed,
                           bytes, cm, NULL, ws16, ws16_bytes, NULL));
  size_t ws8_bytes = 0;
  void* ws8 = gemm_workspace(SME2K_VARIANT_QD8, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &ws8_bytes);
  EXPECT_STATUS(SME2K_PACKED_MISMATCH,
                sme2k_gemm(SME2K_VARIANT_QD8, am, packed, bytes, cm, NULL, ws8, ws8_bytes, NULL));
  /* garbage is not packed data */
  memset(c, 0x5A, sizeof c);
  EXPECT_STATUS(SME2K_PACKED_MISMATCH,
                sme2k_gemm(SME2K_VARIANT_F32, am, c, sizeof c,
                           (sme2k_mutable_matrix){packed, m, n, n, SME2K_DTYPE_F32}, NULL, ws,
                           ws_bytes, NULL));
  free(packed), free(ws), free(ws16), free(ws8);
}
