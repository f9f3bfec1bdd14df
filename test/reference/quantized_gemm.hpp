// Reference QS8 x QC8W GEMM, from the definitions only: the int32 accumulator written with
// the zero point where it belongs (sum_k (a - zp_in) * w + bias), then the requantization as
// types/quantization.hpp defines it, spelled out again here.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/layout.hpp"

namespace sme2k {
namespace reference {

struct Qs8GemmProblem {
  size_t m = 0, n = 0, k = 0;
  const int8_t* a = nullptr;  // (m, k), stride lda
  size_t lda = 0;
  const int8_t* b = nullptr;  // (k, n) kKxN or (n, k) kNxK, stride ldb
  size_t ldb = 0;
  RhsLayout b_layout = RhsLayout::kKxN;
  const int32_t* bias = nullptr;  // (n) or null
  float in_scale = 1, out_scale = 1;
  int32_t in_zero_point = 0, out_zero_point = 0;
  const float* w_scales = nullptr;  // (n)
  int32_t lo = -128, hi = 127;
};

inline int8_t qs8_at(const Qs8GemmProblem& p, size_t i, size_t j) {
  int64_t acc = p.bias != nullptr ? p.bias[j] : 0;
  SME2K_UNROLL_8
  for (size_t kk = 0; kk < p.k; ++kk) {
    const int32_t w = p.b_layout == RhsLayout::kKxN ? p.b[kk * p.ldb + j] : p.b[j * p.ldb + kk];
    acc += (int64_t{p.a[i * p.lda + kk]} - p.in_zero_point) * w;
  }
  const auto scale = static_cast<float>(static_cast<double>(p.in_scale) * p.w_scales[j] /
                                        static_cast<double>(p.out_scale));
  const float y = static_cast<float>(static_cast<int32_t>(acc)) * scale;
  const float r = std::nearbyint(y);
  int64_t q = r >= 2147483648.0f   ? 2147483647
              : r < -2147483648.0f ? -2147483648LL
                                   : static_cast<int64_t>(r);
  q += p.out_zero_point;
  return static_cast<int8_t>(q < p.lo ? p.lo : q > p.hi ? p.hi : q);
}

inline std::vector<int8_t> qs8_gemm(const Qs8GemmProblem& p) {
  std::vector<int8_t> c(p.m * p.n);
  for (size_t i = 0; i < p.m; ++i) {
    for (size_t j = 0; j < p.n; ++j) c[i * p.n + j] = qs8_at(p, i, j);
  }
  return c;
}

}  // namespace reference
}  // namespace sme2k
