// rhs_qc4p8x1bf32: 4-bit weights (QC4W, -8..7) for the portable QD8 kernel: 8-column panels,
// per k four bytes of two's-complement nibbles, Qd8ChannelParams in front (packed by
// formats/qc4_weights.hpp).
//
// One panel (columns n0 .. n0+7):
//
//   +---------------------------------------------------------------+
//   | Qd8ChannelParams[8]                                           |  12 B per column
//   +---------------------------------------------------------------+
//   | k = 0: byte b = 0..3: low nibble column 2b, high nibble 2b+1  |  4 bytes
//   | k = 1: ...                                                    |
//   | ... K rows                                                    |  0 past N
//   +---------------------------------------------------------------+
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "sme2k/arch/vl.hpp"
#include "sme2k/formats/packed_header.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/int4.hpp"
#include "sme2k/types/size_math.hpp"

namespace sme2k {

struct RhsQc4p8x1bf32 {
  using Element = uint8_t;  // two weights
  using BiasElement = Qd8ChannelParams;
  using PanelWidth = FixedExtent<8>;
  static constexpr size_t kKr = 1;
  static constexpr PackedFormatId kId = PackedFormatId::kRhsQc4p8x1bf32;
  static constexpr std::string_view kName = packed_format_name(kId);

  static constexpr size_t nr(size_t /*vl*/) { return 8; }
  static constexpr size_t panel_bytes(size_t k, size_t /*vl*/) {
    return 8 * sizeof(BiasElement) + 4 * k;
  }
  static bool payload_bytes(size_t n, size_t k, size_t vl, size_t* bytes) {
    size_t panel = 0;
    return checked_mul(k, 4, &panel) && checked_add(panel, 8 * sizeof(BiasElement), &panel) &&
           checked_mul(ceil_div(n, nr(vl)), panel, bytes);
  }
  static const BiasElement* panel_bias(const void* payload, size_t panel, size_t k, size_t vl) {
    return reinterpret_cast<const BiasElement*>(static_cast<const uint8_t*>(payload) +
                                                panel * panel_bytes(k, vl));
  }
  static const uint8_t* panel_data(const void* payload, size_t panel, size_t k, size_t vl) {
    return reinterpret_cast<const uint8_t*>(panel_bias(payload, panel, k, vl) + 8);
  }

  /// The 8 weights of row k of a panel's data.
  static void weights_at(const uint8_t* data, size_t k, int32_t w[8]) {
    for (size_t b = 0; b < 4; ++b) {
      const unsigned byte = data[4 * k + b];
      w[2 * b] = static_cast<int32_t>((byte & 0xFu) ^ 8u) - 8;
      w[2 * b + 1] = static_cast<int32_t>((byte >> 4) ^ 8u) - 8;
    }
  }

  /// pack() for N x K nibble rows (row n at rows + n * ld, low nibble first; K even), byte
  /// pairs at a time; also each column's sum of weights to sums[n].
  static void pack_nibble_rows(size_t n, size_t k, const uint8_t* rows, size_t ld, size_t vl,
                               void* payload, int64_t* sums) {
    for (size_t n0 = 0, p = 0; n0 < n; n0 += 8, ++p) {
      auto* panel = static_cast<uint8_t*>(payload) + p * panel_bytes(k, vl);
      std::memset(panel, 0, panel_bytes(k, vl));
      uint8_t* data = panel + 8 * sizeof(BiasElement);
      for (size_t b = 0; b < 4; ++b) {
        const size_t even_col = n0 + 2 * b, odd_col = even_col + 1;
        if (even_col >= n) break;
        const uint8_t* even = rows + even_col * ld;
        const uint8_t* odd = odd_col < n ? rows + odd_col * ld : nullptr;
        int64_t even_sum = 0, odd_sum = 0;
        for (size_t kk = 0; kk < k; kk += 2) {
          const unsigned e = even[kk / 2], o = odd != nullptr ? odd[kk / 2] : 0u;
          data[4 * kk + b] = static_cast<uint8_t>((e & 0xFu) | (o & 0xFu) << 4);
          data[4 * (kk + 1) + b] = static_cast<uint8_t>((e >> 4) | (o & 0xF0u));
          even_sum += kNibblePairSum[e], odd_sum += kNibblePairSum[o];
        }
        sums[even_col] = even_sum;
        if (odd_col < n) sums[odd_col] = odd_sum;
      }
    }
  }

  /// Packs the weights (w(k, n) = at(k, n), -8..7) of an N x K B; channel params left zero.
  template <class At>
  static void pack(size_t n, size_t k, At&& at, size_t vl, void* payload) {
    for (size_t n0 = 0, p = 0; n0 < n; n0 += 8, ++p) {
      auto* panel = static_cast<uint8_t*>(payload) + p * panel_bytes(k, vl);
      std::memset(panel, 0, panel_bytes(k, vl));
      uint8_t* data = panel + 8 * sizeof(BiasElement);
      for (size_t j = 0; j < 8 && n0 + j < n; ++j) {
        for (size_t kk = 0; kk < k; ++kk) {
          const auto nibble = static_cast<unsigned>(at(kk, n0 + j)) & 0xFu;
          data[4 * kk + j / 2] |= static_cast<uint8_t>(nibble << (4 * (j % 2)));
        }
      }
    }
  }
};

}  // namespace sme2k
