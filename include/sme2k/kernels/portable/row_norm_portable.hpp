// RMSNorm and LayerNorm rows in plain C++ (any CPU; the SME2 kernels' fallback).
//
// f32 throughout, as the SME2 kernels: eight partial sums per row (so the compiler can keep
// them in vector lanes, and the rounding error grows with cols / 8, not cols), the mean and
// the centred sum of squares in two passes (no E[x^2] - mean^2 cancellation), then
// y = ((x - mean) * r) * w + b with r = 1 / sqrt(var + eps) rounded once per row.
#pragma once

#include <cmath>
#include <cstddef>

#include "sme2k/kernels/row_op_args.hpp"
#include "sme2k/types/f16.hpp"

namespace sme2k {
namespace portable {

namespace detail {
constexpr size_t kRowNormLanes = 8;

template <class T, class F>
float lane_sum(const T* x, size_t n, F&& f) {
  float acc[kRowNormLanes] = {};
  size_t i = 0;
  for (; i + kRowNormLanes <= n; i += kRowNormLanes) {
    for (size_t l = 0; l < kRowNormLanes; ++l) acc[l] += f(to_f32(x[i + l]));
  }
  for (size_t l = 0; i < n; ++i, ++l) acc[l] += f(to_f32(x[i]));
  float sum = 0.0f;
  for (float a : acc) sum += a;
  return sum;
}
}  // namespace detail

/// RMSNorm (rms) or LayerNorm of every row of `a`.
template <class T>
void row_norm_portable(const RowNormArgs<T>& a, bool rms) {
  const float n = static_cast<float>(a.cols);
  for (size_t r = 0; r < a.rows; ++r) {
    const T* x = a.x + r * a.ldx;
    T* y = a.y + r * a.ldy;
    float mean = 0.0f;
    if (!rms) mean = detail::lane_sum(x, a.cols, [](float v) { return v; }) / n;
    const float ss =
        detail::lane_sum(x, a.cols, [mean](float v) { return (v - mean) * (v - mean); });
    const float inv = 1.0f / std::sqrt(ss / n + a.eps);
    for (size_t c = 0; c < a.cols; ++c) {
      float v = (to_f32(x[c]) - mean) * inv;
      if (a.weight != nullptr) v *= a.weight[c];
      if (a.bias != nullptr) v += a.bias[c];
      y[c] = convert_to<T>(v);
    }
  }
}

}  // namespace portable
}  // namespace sme2k
