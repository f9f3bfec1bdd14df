/* Uses the installed (or added) sme2k C library: one GEMM through sme2k.h, checked by hand.
 * Built twice, against sme2k::c and sme2k::c_shared. */
#include <sme2k.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  enum { M = 3, N = 5, K = 4 };
  float a[M * K], b[K * N], c[M * N];
  for (int i = 0; i < M * K; ++i) a[i] = 1.0f;
  for (int i = 0; i < K * N; ++i) b[i] = 2.0f;
  size_t bytes = 0, ws_bytes = 0;
  sme2k_status s = sme2k_gemm_packed_rhs_size(SME2K_VARIANT_F32, N, K, &bytes);
  if (s == SME2K_OK) {
    s = sme2k_gemm_workspace_size(SME2K_VARIANT_F32, M, N, K, SME2K_OUTPUT_ROW_MAJOR, &ws_bytes,
                                  NULL);
  }
  void* packed = malloc(bytes + 1);
  void* ws = malloc(ws_bytes + 1);
  if (s == SME2K_OK) {
    const sme2k_matrix bm = {b, K, N, N, SME2K_DTYPE_F32};
    s = sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, SME2K_RHS_KXN, NULL, SME2K_DTYPE_F32, packed,
                            bytes);
  }
  if (s == SME2K_OK) {
    const sme2k_matrix am = {a, M, K, K, SME2K_DTYPE_F32};
    const sme2k_mutable_matrix cm = {c, M, N, N, SME2K_DTYPE_F32};
    s = sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes, cm, NULL, ws, ws_bytes, NULL);
  }
  free(packed);
  free(ws);
  if (s != SME2K_OK) {
    printf("sme2k: %s\n", sme2k_last_error_message());
    return 1;
  }
  for (int i = 0; i < M * N; ++i) {
    if (c[i] != 8.0f) return 1;
  }
  if (sme2k_version() !=
      SME2K_VERSION_MAJOR * 10000u + SME2K_VERSION_MINOR * 100u + SME2K_VERSION_PATCH) {
    return 1;
  }
  printf("C consumer ok: sme2k %u, path %s\n", (unsigned)sme2k_version(),
         sme2k_path_name(sme2k_last_used_path()));
  return 0;
}
