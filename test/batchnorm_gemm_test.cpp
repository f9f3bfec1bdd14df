// fold_batchnorm on a GEMM's N x K weights (Linear -> BatchNorm1d): the GEMM on the folded
// weights equals the GEMM followed by the BatchNorm, within f32 rounding; bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <vector>

#include "sme2k/sme2k.hpp"

namespace sme2k {
namespace {

TEST(BatchNormGemm, FoldedWeightsGiveGemmThenBatchNorm) {
  const size_t m = 13, n = 21, k = 37;
  std::vector<float> a(m * k), w(n * k), bias(n), gamma(n), beta(n), mean(n), var(n);
  uint32_t state = 12345;
  const auto next = [&](float lo, float hi) {
    state = state * 1664525u + 1013904223u;
    return lo + (hi - lo) * static_cast<float>(state >> 8) / static_cast<float>(1u << 24);
  };
  for (float& x : a) x = next(-1.0f, 1.0f);
  for (float& x : w) x = next(-0.5f, 0.5f);
  for (size_t j = 0; j < n; ++j) {
    bias[j] = next(-0.3f, 0.3f);
    gamma[j] = next(0.5f, 2.0f);
    beta[j] = next(-0.5f, 0.5f);
    mean[j] = next(-0.5f, 0.5f);
    var[j] = next(0.1f, 3.0f);
  }
  const BatchNormParams bn{gamma.data(), beta.data(), mean.data(), var.data(), 1e-3f};
  std::vector<float> folded_w = w, folded_bias(n);
  ASSERT_TRUE(fold_batchnorm(MatrixView<float>{folded_w.data(), n, k, k}, bias.data(), bn,
                             folded_bias.data())
                  .ok());
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<F32>(n, k, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  ASSERT_TRUE(gemm_pack_rhs<F32>(MatrixView<const float>{folded_w.data(), n, k, k}, RhsLayout::kNxK,
                                 folded_bias.data(), packed.data(), bytes)
                  .ok());
  std::vector<float> c(m * n);
  ASSERT_TRUE(gemm<F32>(MatrixView<const float>{a.data(), m, k, k}, packed.data(), bytes,
                        MatrixView<float>{c.data(), m, n, n})
                  .ok());
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double acc = bias[j], magnitude = std::fabs(bias[j]);
      for (size_t kk = 0; kk < k; ++kk) {
        acc += static_cast<double>(a[i * k + kk]) * w[j * k + kk];
        magnitude += std::fabs(static_cast<double>(a[i * k + kk]) * w[j * k + kk]);
      }
      const double s = gamma[j] / std::sqrt(static_cast<double>(var[j]) + 1e-3);
      const double want = (acc - mean[j]) * s + beta[j];
      // f32 GEMM rounding (K + 2 roundings of the magnitude) and one of w * s per term.
      const double bound = (k + 4) * std::ldexp(1.0, -23) * (magnitude * s + std::fabs(want));
      EXPECT_NEAR(c[i * n + j], want, bound) << "(" << i << ", " << j << ")";
    }
  }
}

TEST(BatchNormGemm, BadInput) {
  std::vector<float> w(6, 1.0f), out(2), var{1.0f, -2.0f}, mean{0.0f, 0.0f};
  BatchNormParams bn{nullptr, nullptr, mean.data(), var.data(), 1e-5f};
  EXPECT_EQ(fold_batchnorm(MatrixView<float>{w.data(), 2, 3, 3}, nullptr, bn, out.data()).code(),
            StatusCode::kInvalidArgument);  // running_var + eps <= 0
  var[1] = 1.0f;
  EXPECT_EQ(fold_batchnorm(MatrixView<float>{w.data(), 2, 3, 3}, nullptr, bn, nullptr).code(),
            StatusCode::kNullPointer);
  EXPECT_EQ(fold_batchnorm(MatrixView<float>{nullptr, 2, 3, 3}, nullptr, bn, out.data()).code(),
            StatusCode::kNullPointer);
  EXPECT_EQ(fold_batchnorm(MatrixView<float>{w.data(), 2, 3, 2}, nullptr, bn, out.data()).code(),
            StatusCode::kInvalidArgument);  // ld < K
  bn.running_mean = nullptr;
  EXPECT_EQ(fold_batchnorm(MatrixView<float>{w.data(), 2, 3, 3}, nullptr, bn, out.data()).code(),
            StatusCode::kNullPointer);
  EXPECT_TRUE(fold_batchnorm(MatrixView<float>{w.data(), 2, 3, 3}, nullptr,
                             BatchNormParams{nullptr, nullptr, var.data(), var.data(), 0.0f},
                             out.data())
                  .ok());
}

}  // namespace
}  // namespace sme2k
