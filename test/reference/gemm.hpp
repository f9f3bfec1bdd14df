// Reference GEMM: plain loops, f64 accumulation, written from the definition only. It uses
// nothing from sme2k but its plain types, so a bug in the library's packing, kernels or
// epilogue cannot hide in here too.
//
// Order of the epilogue (as epilogue/ops.hpp states it): acc = bias + sum_k a * b, then the
// activation, then the per-channel affine (scale[n], shift[n]), then the clamp with IEEE
// maxNum/minNum (C's fmax/fmin). Activations are written from their definitions in double.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/epilogue/ops.hpp"
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
  Activation activation = Activation::kNone;
  const float* scale = nullptr;  // (n) or null: per-channel affine after the activation
  const float* shift = nullptr;  // (n) or null
};

/// The activations from their definitions (epilogue/ops.hpp), in double.
inline double activate(Activation a, double x) {
  switch (a) {
    case Activation::kNone: return x;
    case Activation::kRelu: return x > 0 ? x : 0.0;
    case Activation::kRelu6: return x < 0 ? 0.0 : (x > 6 ? 6.0 : x);
    case Activation::kHardSwish: {
      const double t = x + 3 < 0 ? 0.0 : (x + 3 > 6 ? 6.0 : x + 3);
      return x * t / 6;
    }
    case Activation::kGelu:
      return 0.5 * x *
             (1 + std::tanh(std::sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
    case Activation::kSilu: return x / (1 + std::exp(-x));
  }
  return x;
}

/// Largest slope of the activation: how much an error in its input can grow.
inline double activation_lipschitz(Activation a) {
  switch (a) {
    case Activation::kHardSwish: return 1.5;
    case Activation::kGelu:
    case Activation::kSilu: return 1.2;
    default: return 1.0;
  }
}

/// What an f32 evaluation of the activation itself may add (beyond the error of its input):
/// none for the piecewise-linear ones; for GELU and SiLU 2^-18 of the result (float libm, or
/// the SME2 exp2 polynomial of degree 4: 2.6e-6 relative, and five roundings), and an
/// absolute term for the rounding of the exponent where exp is large (|x| 2^-23: the result
/// is then tiny) and the cancellation in 1 + tanh near -1.
inline double activation_error(Activation a, double x, double y) {
  switch (a) {
    case Activation::kNone:
    case Activation::kRelu:
    case Activation::kRelu6: return 0.0;
    case Activation::kHardSwish: return std::ldexp(std::fabs(y) + std::fabs(x), -21);
    default:
      return std::ldexp(std::fabs(y), -18) + std::ldexp(std::fabs(x), -23) + std::ldexp(1.0, -30);
  }
}

struct GemmF32Result {
  std::vector<double> value;      // (m, n): the exact result, rounded once to double
  std::vector<double> magnitude;  // (m, n): |bias| + sum |a * b|, for error bounds
  std::vector<double> pre;        // (m, n): bias + sum a * b, before the epilogue stages
};

/// The epilogue stages after the accumulator, for column j.
inline double finish(const GemmF32Problem& p, double acc, size_t j) {
  double y = activate(p.activation, acc);
  if (p.scale != nullptr) y *= p.scale[j];
  if (p.shift != nullptr) y += p.shift[j];
  if (p.clamp) y = std::fmin(std::fmax(y, double{p.clamp_min}), double{p.clamp_max});
  return y;
}

inline double b_at(const GemmF32Problem& p, size_t kk, size_t j) {
  return p.b_layout == RhsLayout::kKxN ? p.b[kk * p.ldb + j] : p.b[j * p.ldb + kk];
}

/// The value at (i, j) only: for spot checks of shapes too big to compute whole.
inline double gemm_f32_at(const GemmF32Problem& p, size_t i, size_t j, double* magnitude,
                          double* pre = nullptr) {
  double acc = p.bias != nullptr ? p.bias[j] : 0.0;
  double mag = std::fabs(acc);
  SME2K_UNROLL_8
  for (size_t kk = 0; kk < p.k; ++kk) {
    const double prod = static_cast<double>(p.a[i * p.lda + kk]) * b_at(p, kk, j);
    acc += prod;
    mag += std::fabs(prod);
  }
  *magnitude = mag;
  if (pre != nullptr) *pre = acc;
  return finish(p, acc, j);
}

inline GemmF32Result gemm_f32(const GemmF32Problem& p) {
  GemmF32Result r;
  r.value.assign(p.m * p.n, 0.0);
  r.magnitude.assign(p.m * p.n, 0.0);
  r.pre.assign(p.m * p.n, 0.0);
  for (size_t i = 0; i < p.m; ++i) {
    for (size_t j = 0; j < p.n; ++j) {
      const size_t e = i * p.n + j;
      r.value[e] = gemm_f32_at(p, i, j, &r.magnitude[e], &r.pre[e]);
    }
  }
  return r;
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

/// Worst-case error of accumulating bias + k products in f16 (the F16Acc16 variant): gamma_n
/// with u = 2^-11 and n = k + 2 (the bias is rounded to f16 when packed), times the magnitude,
/// plus f16 subnormal steps. It grows with K: the precision contract of f16 accumulation.
/// (No bound at all, +inf, once n u >= 1, K >= 2047.)
inline double f16_accumulation_bound(size_t k, double magnitude) {
  const double u = std::ldexp(1.0, -11);
  const double n = static_cast<double>(k + 2);
  if (n * u >= 1.0) return std::numeric_limits<double>::infinity();
  return n * u / (1.0 - n * u) * magnitude + std::ldexp(1.0, -24) * n;
}

/// The bound on an f32 output of the whole epilogue at column j: the accumulation bound
/// through the activation's slope and its own error, scaled by the affine, plus the affine's
/// rounding. The clamp cannot increase it.
inline double f32_epilogue_bound(const GemmF32Problem& p, size_t j, double pre, double magnitude,
                                 double value, double acc_bound = -1) {
  if (acc_bound < 0) acc_bound = f32_gemm_error_bound(p.k, magnitude);
  const double act = activate(p.activation, pre);
  double bound =
      activation_lipschitz(p.activation) * acc_bound + activation_error(p.activation, pre, act);
  if (p.scale != nullptr) bound *= std::fabs(p.scale[j]);
  if (p.scale != nullptr || p.shift != nullptr) {
    bound += std::ldexp(std::fabs(value) + std::fabs(act * (p.scale ? p.scale[j] : 1.0)), -23);
  }
  return bound;
}

/// The bound after the f32 result (within `f32_bound` of `exact`) is rounded to f16: half an
/// f16 ulp, relative 2^-11, plus half the smallest f16 subnormal (2^-25) for tiny results.
inline double f16_rounding_bound(double exact, double f32_bound) {
  return f32_bound + (std::fabs(exact) + f32_bound) * std::ldexp(1.0, -11) + std::ldexp(1.0, -25);
}

/// The same for a bf16 output: 8 significant bits (half an ulp: 2^-8 relative), f32's range
/// (subnormals down to 2^-133).
inline double bf16_rounding_bound(double exact, double f32_bound) {
  return f32_bound + (std::fabs(exact) + f32_bound) * std::ldexp(1.0, -8) + std::ldexp(1.0, -134);
}

}  // namespace reference
}  // namespace sme2k
