// Softmax of rows in plain C++ (any CPU; the fallback of ops/softmax.hpp): the row's maximum,
// then e = exp(z - max) summed in f32 and stored unnormalized, then out = e / sum. Same
// contract as kernels/sme2/softmax_sme2.hpp: a row whose maximum is -inf is written as zeros.
#pragma once

#include <cmath>
#include <cstddef>

#include "sme2k/types/f16.hpp"

namespace sme2k {
namespace portable {

template <class In, class Out>
void softmax_rows(const In* x, size_t ldx, Out* y, size_t ldy, size_t cols, float scale,
                  const float* mask, size_t mask_ld, size_t r0, size_t r1) {
  for (size_t r = r0; r < r1; ++r) {
    const In* xr = x + r * ldx;
    Out* yr = y + r * ldy;
    const float* mr = mask != nullptr ? mask + r * mask_ld : nullptr;
    auto z = [&](size_t i) {
      const float v = scale * to_f32(xr[i]);
      return mr != nullptr ? v + mr[i] : v;
    };
    float zmax = -INFINITY;
    for (size_t i = 0; i < cols; ++i) zmax = std::fmax(zmax, z(i));
    if (zmax == -INFINITY) {
      for (size_t i = 0; i < cols; ++i) yr[i] = convert_to<Out>(0.0f);
      continue;
    }
    float sum = 0.0f;
    for (size_t i = 0; i < cols; ++i) {
      const float e = std::exp(z(i) - zmax);
      sum += e;
      yr[i] = convert_to<Out>(e);
    }
    const float inv = 1.0f / sum;
    for (size_t i = 0; i < cols; ++i) yr[i] = convert_to<Out>(to_f32(yr[i]) * inv);
  }
}

}  // namespace portable
}  // namespace sme2k
