// The smallest sme2k GEMM: pack the weights once, size the workspace, multiply, check.
// C (M x N) = A (M x K) * B (K x N) + bias in f32. The values are small integers, so every
// sum is exact in f32 and the result must equal the plain loop exactly, on any path.
#include <cstdint>
#include <cstdio>
#include <sme2k/sme2k.hpp>
#include <vector>

int main() {
  using namespace sme2k;
  const size_t m = 10, n = 7, k = 9;
  std::vector<float> a(m * k), b(k * n), bias(n), c(m * n);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 7) - 3.0f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 5) - 2.0f;
  for (size_t j = 0; j < n; ++j) bias[j] = static_cast<float>(j);

  // Load time: pack B (K x N, row-major) and its bias once.
  size_t packed_bytes = 0, workspace_bytes = 0;
  Status s = gemm_packed_rhs_size<F32>(n, k, &packed_bytes);
  std::vector<uint8_t> packed(packed_bytes);
  if (s.ok()) {
    s = gemm_pack_rhs<F32>(dense_matrix<const float>(b.data(), k, n), RhsLayout::kKxN, bias.data(),
                           packed.data(), packed_bytes);
  }
  // Per inference: a workspace (plan it once per shape), then the GEMM.
  if (s.ok()) s = gemm_workspace_size<F32>(m, n, k, &workspace_bytes);
  std::vector<uint8_t> workspace(workspace_bytes);
  if (s.ok()) {
    s = gemm<F32>(dense_matrix<const float>(a.data(), m, k), packed.data(), packed_bytes,
                  dense_matrix(c.data(), m, n), GemmEpilogue{}, workspace.data(), workspace_bytes);
  }
  if (!s.ok()) {
    std::fprintf(stderr, "gemm_minimal: %s\n", s.message());
    return 1;
  }
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      float want = bias[j];
      for (size_t kk = 0; kk < k; ++kk) want += a[i * k + kk] * b[kk * n + j];
      if (c[i * n + j] != want) {
        std::fprintf(stderr, "gemm_minimal: C(%zu, %zu) = %g, want %g\n", i, j,
                     static_cast<double>(c[i * n + j]), static_cast<double>(want));
        return 1;
      }
    }
  }
  std::printf("gemm_minimal: %zu x %zu x %zu on the %s path, exact\n", m, n, k,
              path_name(last_used_path()));
  return 0;
}
