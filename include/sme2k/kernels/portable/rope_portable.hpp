// Rotary position embedding in plain C++ (any CPU; the SME2 kernel's fallback): each pair
// (a, b) of a head row's first rotary_dim elements becomes (a cos - b sin, a sin + b cos) in
// f32, in place; the elements past rotary_dim are not touched.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/kernels/row_op_args.hpp"
#include "sme2k/types/f16.hpp"

namespace sme2k {
namespace portable {

template <class T>
void rope_portable(const RopeArgs<T>& a) {
  const bool interleaved = a.pairing == RopePairing::kInterleaved;
  for (size_t s = 0; s < a.seq; ++s) {
    const size_t pos =
        a.positions != nullptr ? static_cast<size_t>(a.positions[s]) : a.first_position + s;
    const float* cs = a.cos + pos * a.half;
    const float* sn = a.sin + pos * a.half;
    for (size_t h = 0; h < a.heads; ++h) {
      T* row = a.data + s * a.seq_stride + h * a.head_stride;
      for (size_t i = 0; i < a.half; ++i) {
        T& ea = interleaved ? row[2 * i] : row[i];
        T& eb = interleaved ? row[2 * i + 1] : row[i + a.half];
        const float x0 = to_f32(ea), x1 = to_f32(eb);
        ea = convert_to<T>(x0 * cs[i] - x1 * sn[i]);
        eb = convert_to<T>(x0 * sn[i] + x1 * cs[i]);
      }
    }
  }
}

}  // namespace portable
}  // namespace sme2k
