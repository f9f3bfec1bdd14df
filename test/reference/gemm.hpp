// Reference GEMM: plain loops, f64 accumulation, written from the definition only. It uses
// nothing from sme2k but its plain types, so a bug in the library's packing, kernels or
// epilogue cannot hide in here too.
//
// Order of the epilogue (as epilogue/ops.hpp states it): acc = bias + sum_k a * b, then clamp
// with IEEE maxNum/minNum (C's fmax/fmin).
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "sme2k/types/layout.hpp"

namespace sme2k {
namespace reference {

struct GemmF32Problem {
  size_t m = 0, n = 0, k = 0;
  const float* a = nullptr;  // (m, k), stride lda
  size_t lda = 0;
  const float* b = nullptr;  // (k, n) for kKxN or (n, k) for kNxK, stride ldb
  size_t ldb = 0;
  RhsLayout b_layout = RhsLayout::kKxN;
  const float* bias = nullptr;  // (n) or null
  bool clamp = false;
  float clamp_min = -std::numeric_limits<float>::infinity();
  float clamp_max = std::numeric_limits<float>::infinity();
};

struct GemmF32Result {
  std::vector<double> value;      // (m, n): the exact result, rounded once to double
  std::vector<double> magnitude;  // (m, n): |bias| + sum |a * b|, for error bounds
};

inline double b_at(const GemmF32Problem& p, size_t kk, size_t j) {
  return p.b_layout == RhsLayout::kKxN ? p.b[kk * p.ldb + j] : p.b[j * p.ldb + kk];
}

inline GemmF32Result gemm_f32(const GemmF32Problem& p) {
  GemmF32Result r;
  r.value.assign(p.m * p.n, 0.0);
  r.magnitude.assign(p.m * p.n, 0.0);
  for (size_t i = 0; i < p.m; ++i) {
    for (size_t j = 0; j < p.n; ++j) {
      double acc = p.bias != nullptr ? p.bias[j] : 0.0;
      double mag = std::fabs(acc);
      for (size_t kk = 0; kk < p.k; ++kk) {
        const double prod = static_cast<double>(p.a[i * p.lda + kk]) * b_at(p, kk, j);
        acc += prod;
        mag += std::fabs(prod);
      }
      if (p.clamp) acc = std::fmin(std::fmax(acc, double{p.clamp_min}), double{p.clamp_max});
      r.value[i * p.n + j] = acc;
      r.magnitude[i * p.n + j] = mag;
    }
  }
  return r;
}

/// The value at (i, j) only: for spot checks of shapes too big to compute whole.
inline double gemm_f32_at(const GemmF32Problem& p, size_t i, size_t j, double* magnitude) {
  double acc = p.bias != nullptr ? p.bias[j] : 0.0;
  double mag = std::fabs(acc);
  for (size_t kk = 0; kk < p.k; ++kk) {
    const double prod = static_cast<double>(p.a[i * p.lda + kk]) * b_at(p, kk, j);
    acc += prod;
    mag += std::fabs(prod);
  }
  if (p.clamp) acc = std::fmin(std::fmax(acc, double{p.clamp_min}), double{p.clamp_max});
  *magnitude = mag;
  return acc;
}

/// Worst-case error of any f32 evaluation of bias + k products, in any order, with or without
/// fused multiply-adds (Higham, gamma_n = n u / (1 - n u), u = 2^-24, n = k + 1 roundings per
/// path), times the magnitude. Clamping is 1-Lipschitz, so the bound survives it. The
/// 2^-126 term covers results that underflow into f32 subnormals.
inline double f32_gemm_error_bound(size_t k, double magnitude) {
  const double u = std::ldexp(1.0, -24);
  const double n = static_cast<double>(k + 1);
  return n * u / (1.0 - n * u) * magnitude + std::ldexp(1.0, -126) * n;
}

/// The bound after the f32 result (within `f32_bound` of `exact`) is rounded to f16: half an
/// f16 ulp, relative 2^-11, plus half the smallest f16 subnormal (2^-25) for tiny results.
inline double f16_rounding_bound(double exact, double f32_bound) {
  return f32_bound + (std::fabs(exact) + f32_bound) * std::ldexp(1.0, -11) + std::ldexp(1.0, -25);
}

}  // namespace reference
}  // namespace sme2k
