// Reference QD8: the per-row dynamic quantization of activations, from its definition in
// types/dynamic_quantization.hpp (the choice of scale and zero point is specified as f32
// operations, so it is repeated here as such; the values are rounded in double, exactly,
// not with the kernels' fused multiply-add trick), and the QD8 x QC8W GEMM on those values
// with an exact integer accumulator and the dequantization in double.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/layout.hpp"

namespace sme2k {
namespace reference {

struct QuantizedRow {
  float scale = 0.0f;  // NaN for a row holding an infinity or a NaN
  int zero_point = 0;
  std::vector<int> q;  // unspecified when the scale is NaN
};

/// Quantizes K values (already widened to f32).
inline QuantizedRow quantize_row(const float* x, size_t k) {
  QuantizedRow r;
  float lo = 0.0f, hi = 0.0f;
  bool finite = true;
  for (size_t i = 0; i < k; ++i) {
    finite = finite && std::isfinite(x[i]);
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  r.q.assign(k, 0);
  if (!finite) {
    r.scale = NAN;
    return r;
  }
  volatile float scale = hi / 255.0f;  // each f32 operation rounded on its own
  scale = scale - lo / 255.0f;
  if (scale < FLT_MIN) scale = FLT_MIN;
  const float inv = 1.0f / scale;
  const float zp = std::nearbyint(std::fma(-lo, inv, -128.0f));  // one rounding
  r.scale = scale;
  r.zero_point = zp < -128.0f ? -128 : zp > 127.0f ? 127 : static_cast<int>(zp);
  for (size_t i = 0; i < k; ++i) {
    // x * inv is exact in double (24 x 24 bits), and so is adding the zero point.
    const double v = std::nearbyint(static_cast<double>(x[i]) * inv + r.zero_point);
    r.q[i] = v < -128 ? -128 : v > 127 ? 127 : static_cast<int>(v);
  }
  return r;
}

/// A QD8 x QC8W problem: A already widened to f32, int8 B, one scale per output channel.
struct Qd8GemmProblem {
  size_t m = 0, n = 0, k = 0;
  std::vector<float> a;  // (m, k) dense
  const int8_t* b = nullptr;
  size_t ldb = 0;
  RhsLayout b_layout = RhsLayout::kKxN;
  const float* w_scales = nullptr;  // (n)
  const float* bias = nullptr;      // (n) or null
};

/// One element of the result, from rows quantized by quantize_row().
struct Qd8Element {
  double value = 0;               // row scale * w scale * sum (q - zp) b + bias
  double magnitude = 0;           // |that product| + |bias|, for rounding bounds
  double quantization_error = 0;  // bound of |value - float_value|
  double float_value = 0;         // the GEMM of the unquantized A, exact
};

inline Qd8Element qd8_at(const Qd8GemmProblem& p, const QuantizedRow& row, size_t i, size_t j) {
  int64_t acc = 0;
  double exact = 0.0, abs_w = 0.0;
  SME2K_UNROLL_8
  for (size_t kk = 0; kk < p.k; ++kk) {
    const int w = p.b_layout == RhsLayout::kKxN ? p.b[kk * p.ldb + j] : p.b[j * p.ldb + kk];
    acc += static_cast<int64_t>(row.q[kk] - row.zero_point) * w;
    exact += static_cast<double>(p.a[i * p.k + kk]) * w;
    abs_w += std::abs(w);
  }
  const double bias = p.bias != nullptr ? p.bias[j] : 0.0;
  const double product = static_cast<double>(row.scale) * p.w_scales[j] * static_cast<double>(acc);
  Qd8Element e;
  e.value = product + bias;
  e.magnitude = std::fabs(product) + std::fabs(bias);
  e.float_value = exact * p.w_scales[j] + bias;
  // |x - scale (q - zp)| <= scale / 2 (1 + 2^-15) per value (1/scale is rounded); twice
  // that, for margin.
  e.quantization_error = row.scale * (1.0 + std::ldexp(1.0, -15)) * abs_w * p.w_scales[j];
  return e;
}

inline std::vector<QuantizedRow> quantize_rows(const Qd8GemmProblem& p) {
  std::vector<QuantizedRow> rows;
  for (size_t i = 0; i < p.m; ++i) rows.push_back(quantize_row(&p.a[i * p.k], p.k));
  return rows;
}

/// QB4W: one element of sum_k (s (q - zp)) (w * t[k / block]) + bias in double, from rows
/// quantized by quantize_row(); `scale(j, k)` is the weight scale of column j at k. The kernels
/// compute it in f32 on the dequantized operands (each rounded once): bound it with
/// f32_gemm_error_bound(K + 2, magnitude) (test/reference/gemm.hpp).
template <class Scale>
Qd8Element qb4w_at(const Qd8GemmProblem& p, const QuantizedRow& row, Scale&& scale, size_t i,
                   size_t j) {
  (void)i;
  double sum = 0.0, magnitude = 0.0;
  SME2K_UNROLL_8
  for (size_t kk = 0; kk < p.k; ++kk) {
    const int w = p.b_layout == RhsLayout::kKxN ? p.b[kk * p.ldb + j] : p.b[j * p.ldb + kk];
    const double term = static_cast<double>(row.scale) * (row.q[kk] - row.zero_point) *
                        (static_cast<double>(w) * scale(j, kk));
    sum += term;
    magnitude += std::fabs(term);
  }
  const double bias = p.bias != nullptr ? p.bias[j] : 0.0;
  Qd8Element e;
  e.value = sum + bias;
  e.magnitude = magnitude + std::fabs(bias);
  return e;
}

/// The bound on the kernels' f32 dequantization fma(float(acc), RN(s w), bias) against the
/// exact value: three roundings of the product (acc to f32, s w, the fma), one of the bias.
inline double qd8_dequant_bound(double magnitude) {
  return 4.0 * std::ldexp(1.0, -24) * magnitude + std::ldexp(1.0, -126);
}

}  // namespace reference
}  // namespace sme2k
