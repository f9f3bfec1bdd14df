// Packing QD8 x QC4W weights: 4-bit values from an Int4View (nibbles or int8 values, either
// layout) into a 4-bit panel format (rhs_qc4p2vlx4bf32, rhs_qc4p8x1bf32), with QD8's
// per-channel parameters in front (column sum, f32 scale, f32 bias; formats/qd8_weights.hpp
// validates the scales and K). N x K nibble rows, the common case, go byte to byte where the
// format has a packer for them; everything else value by value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "sme2k/formats/int8_channel_params.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/int4.hpp"
#include "sme2k/types/layout.hpp"

namespace sme2k {

/// Formats with a byte-wise packer for N x K nibble rows (pack_nibble_rows).
template <class F, class = void>
inline constexpr bool kPacksNibbleRows = false;
template <class F>
inline constexpr bool kPacksNibbleRows<F, std::void_t<decltype(&F::pack_nibble_rows)>> = true;

/// Packs validated QC4W weights into `payload` (Format::payload_bytes(n, k, vl)).
template <class Format>
void pack_qc4_weights(const Int4View& b, RhsLayout layout, const float* bias,
                      const float* weight_scales, size_t vl, void* payload) {
  const RhsShape shape = rhs_shape(b.rows, b.cols, layout);
  const auto params = [&](size_t n, int64_t column_sum) {
    return qd8_channel_params(column_sum, weight_scales[n], bias != nullptr ? bias[n] : 0.0f);
  };
  if constexpr (kPacksNibbleRows<Format>) {
    if (b.storage == Int4Storage::kNibbles && layout == RhsLayout::kNxK) {
      std::vector<int64_t> sums(shape.n);  // packing is one-time: it may allocate
      Format::pack_nibble_rows(shape.n, shape.k, static_cast<const uint8_t*>(b.data), b.ld, vl,
                               payload, sums.data());
      write_channel_params<Format>(shape.n, shape.k, vl, payload,
                                   [&](size_t n) { return params(n, sums[n]); });
      return;
    }
  }
  detail::with_int4_reader(b, layout, [&](auto at) {
    Format::pack(shape.n, shape.k, at, vl, payload);
    write_channel_params<Format>(shape.n, shape.k, at, vl, payload, params);
  });
}

}  // namespace sme2k
