// Reference softmax over rows, written independently of the kernels: f64 throughout,
// std::exp, the mask added in f64; a row whose every element is -inf gives zeros.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace sme2k {
namespace reference {

/// y[r][i] = softmax(scale * x[r][i] + mask[r][i]) over i < cols; x given as f64 values
/// (the kernel's inputs, converted exactly), mask row r at mask + r * mask_ld (or nullptr).
inline std::vector<double> softmax_rows(const std::vector<double>& x, size_t rows, size_t cols,
                                        double scale, const float* mask, size_t mask_ld) {
  std::vector<double> y(rows * cols, 0.0);
  for (size_t r = 0; r < rows; ++r) {
    std::vector<double> z(cols);
    double zmax = -INFINITY;
    for (size_t i = 0; i < cols; ++i) {
      z[i] = scale * x[r * cols + i] + (mask != nullptr ? double(mask[r * mask_ld + i]) : 0.0);
      zmax = std::fmax(zmax, z[i]);
    }
    if (zmax == -INFINITY) continue;
    double sum = 0.0;
    for (size_t i = 0; i < cols; ++i) sum += std::exp(z[i] - zmax);
    for (size_t i = 0; i < cols; ++i) y[r * cols + i] = std::exp(z[i] - zmax) / sum;
  }
  return y;
}

}  // namespace reference
}  // namespace sme2k
