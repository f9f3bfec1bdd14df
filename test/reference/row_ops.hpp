// Reference RMSNorm, LayerNorm and RoPE: plain loops in double, written from the definitions
// (Hugging Face LlamaRMSNorm, torch.nn.LayerNorm with the biased variance, RoPE as a rotation
// of each pair by the table's angle). Inputs are the values the op reads (f16 already
// widened); nothing from sme2k is used, so a bug in the kernels cannot hide here too.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace sme2k {
namespace reference {

/// y = x / sqrt(mean(x^2) + eps) * w (w empty: 1), for one row.
inline std::vector<double> rms_norm_row(const std::vector<double>& x, const std::vector<double>& w,
                                        double eps) {
  double ss = 0.0;
  for (double v : x) ss += v * v;
  const double r = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * r * (w.empty() ? 1.0 : w[i]);
  return y;
}

/// The row's mean and 1 / sqrt(biased variance + eps).
inline void layer_norm_stats(const std::vector<double>& x, double eps, double* mean, double* r) {
  double s = 0.0;
  for (double v : x) s += v;
  *mean = s / static_cast<double>(x.size());
  double ss = 0.0;
  for (double v : x) ss += (v - *mean) * (v - *mean);
  *r = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
}

/// y = (x - mean) / sqrt(var + eps) * w + b (w, b empty: 1, 0), for one row.
inline std::vector<double> layer_norm_row(const std::vector<double>& x,
                                          const std::vector<double>& w,
                                          const std::vector<double>& b, double eps) {
  double mean = 0.0, r = 0.0;
  layer_norm_stats(x, eps, &mean, &r);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    y[i] = (x[i] - mean) * r * (w.empty() ? 1.0 : w[i]) + (b.empty() ? 0.0 : b[i]);
  }
  return y;
}

/// One head row rotated: pair i is (2i, 2i+1) when interleaved, else (i, i + half); the
/// elements from 2 * half on are copied.
inline std::vector<double> rope_row(const std::vector<double>& x, const double* cos,
                                    const double* sin, size_t half, bool interleaved) {
  std::vector<double> y = x;
  for (size_t i = 0; i < half; ++i) {
    const size_t ia = interleaved ? 2 * i : i, ib = interleaved ? 2 * i + 1 : i + half;
    y[ia] = x[ia] * cos[i] - x[ib] * sin[i];
    y[ib] = x[ia] * sin[i] + x[ib] * cos[i];
  }
  return y;
}

// The error bounds the ops are held to against these references (u = 2^-24), f32 arithmetic:
//  - rms_norm: the f32 sum of squares runs at most cols / 4 terms per lane (VL 4 at SVL 128;
//    the portable kernel cols / 8) before a tree, r takes half its relative error plus the
//    square root and the division, y two products.
//  - layer_norm: the same for the centred sum, plus the mean's error times r, plus the SME2
//    kernel's rounded -mean r (relative to |mean| r, not to y), plus the bias's addition.
//  - rope: two products and a sum per output, relative to the products' magnitudes.
//  - f16 outputs add their rounding: half an ulp, 2^-11 |ref| + 2^-25 (subnormals).
constexpr double kRowOpU = 1.0 / 16777216.0;

inline double row_sum_terms(size_t cols) { return static_cast<double>(cols) / 4.0 + 8.0; }

inline double rms_norm_bound(double ref, size_t cols) {
  return (row_sum_terms(cols) / 2.0 + 8.0) * kRowOpU * std::fabs(ref);
}

/// x: the input element, mean / mean_abs / r: the row's mean, mean of |x| and 1 / std.
inline double layer_norm_bound(double x, double mean, double mean_abs, double r, double w_abs,
                               double b_abs, size_t cols) {
  const double terms = row_sum_terms(cols);
  return (std::fabs(x - mean) * (terms / 2.0 + 8.0) + terms * mean_abs +
          4.0 * (std::fabs(mean) + std::fabs(x))) *
             kRowOpU * r * w_abs +
         2.0 * kRowOpU * b_abs;
}

/// a, b: the pair's inputs, c, s: its cos and sin (either output of the pair).
inline double rope_bound(double a, double b, double c, double s) {
  return 3.0 * kRowOpU *
         (std::fabs(a * c) + std::fabs(b * s) + std::fabs(a * s) + std::fabs(b * c));
}

inline double f16_rounding(double ref) { return std::fabs(ref) / 2048.0 + 1.0 / 33554432.0; }

}  // namespace reference
}  // namespace sme2k
