/* The C API in a few lines: what the CPU offers, then C = relu(A * B + bias) in f32.
 *
 *   c_gemm [M N K]      (default 4 8 16)
 *
 * Weights are packed once (as a runtime does at load time); each inference then needs only
 * a workspace the caller owns. Exits non-zero if a call fails or a result is off. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sme2k.h"

/* Prints the call's error and leaves main's cleanup to run. */
static int failed(sme2k_status status, const char* what) {
  if (status == SME2K_OK) return 0;
  fprintf(stderr, "c_gemm: %s: %s: %s\n", what, sme2k_status_string(status),
          sme2k_last_error_message());
  return 1;
}

int main(int argc, char** argv) {
  const size_t m = argc > 3 ? strtoul(argv[1], NULL, 10) : 4;
  const size_t n = argc > 3 ? strtoul(argv[2], NULL, 10) : 8;
  const size_t k = argc > 3 ? strtoul(argv[3], NULL, 10) : 16;

  sme2k_cpu_info cpu;
  if (failed(sme2k_cpu_features(&cpu), "cpu_features")) return 1;
  printf("sme2k %u: sme2=%d sme_fa64=%d, SVL %u bits, path %s\n", (unsigned)sme2k_version(),
         cpu.sme2, cpu.sme_fa64, (unsigned)cpu.svl_bits, sme2k_path_name(cpu.path));

  float* a = malloc(m * k * sizeof *a);   /* M x K activations */
  float* b = malloc(k * n * sizeof *b);   /* K x N weights */
  float* bias = malloc(n * sizeof *bias); /* N */
  float* c = malloc(m * n * sizeof *c);   /* M x N result */
  void* packed = NULL;
  void* workspace = NULL;
  int status = 1;
  if (a == NULL || b == NULL || bias == NULL || c == NULL) goto done;
  for (size_t i = 0; i < m * k; ++i) a[i] = (float)(i % 7) - 3.0f;
  for (size_t i = 0; i < k * n; ++i) b[i] = 0.25f * (float)(i % 5) - 0.5f;
  for (size_t j = 0; j < n; ++j) bias[j] = 0.5f * (float)j;

  /* Load time: pack B and the bias once. */
  size_t packed_bytes = 0;
  if (failed(sme2k_gemm_packed_rhs_size(SME2K_VARIANT_F32, n, k, &packed_bytes), "size")) goto done;
  packed = malloc(packed_bytes);
  if (packed == NULL) goto done;
  const sme2k_matrix weights = {b, k, n, n, SME2K_DTYPE_F32};
  if (failed(sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, weights, SME2K_RHS_KXN, bias, SME2K_DTYPE_F32,
                                 packed, packed_bytes),
             "pack")) {
    goto done;
  }

  /* Inference: a workspace of the size asked for, then the GEMM with a fused ReLU. */
  size_t workspace_bytes = 0;
  if (failed(sme2k_gemm_workspace_size(SME2K_VARIANT_F32, m, n, k, SME2K_OUTPUT_ROW_MAJOR,
                                       &workspace_bytes, NULL),
             "workspace size")) {
    goto done;
  }
  workspace = malloc(workspace_bytes > 0 ? workspace_bytes : 1);
  if (workspace == NULL) goto done;
  sme2k_epilogue epilogue = sme2k_epilogue_default();
  epilogue.activation = SME2K_ACTIVATION_RELU;
  const sme2k_matrix lhs = {a, m, k, k, SME2K_DTYPE_F32};
  const sme2k_mutable_matrix out = {c, m, n, n, SME2K_DTYPE_F32};
  if (failed(sme2k_gemm(SME2K_VARIANT_F32, lhs, packed, packed_bytes, out, &epilogue, workspace,
                        workspace_bytes, NULL /* serial */),
             "gemm")) {
    goto done;
  }

  /* Check against plain loops (the inputs are exact in a few bits: sums are exact too). */
  status = 0;
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      float want = bias[j];
      for (size_t kk = 0; kk < k; ++kk) want += a[i * k + kk] * b[kk * n + j];
      want = want > 0.0f ? want : 0.0f;
      if (fabsf(c[i * n + j] - want) > 1e-5f * (1.0f + fabsf(want))) status = 1;
    }
  }
  printf("C[0][0..%d] =", n < 4 ? (int)n : 4);
  for (size_t j = 0; j < n && j < 4; ++j) printf(" %g", c[j]);
  printf("  (%s, ran on %s)\n", status == 0 ? "ok" : "MISMATCH",
         sme2k_path_name(sme2k_last_used_path()));

done:
  free(a), free(b), free(bias), free(c), free(packed), free(workspace);
  return status;
}
