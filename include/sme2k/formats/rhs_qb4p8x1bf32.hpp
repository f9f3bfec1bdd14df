// rhs_qb4p8x1bf32: 4-bit weights with per-block scales (QB4W) for the portable kernel:
// 8-column panels, an f32 bias row, one f32 scale per column and group of 32 k, then the
// nibbles of rhs_qc4p8x1bf32 (per k four bytes: low nibble column 2b, high nibble 2b+1).
//
//   +----------------------------------------------------------+
//   | bias[8]                                          (f32)   |
//   | group g = 0 .. K/32-1: scale[n0+j][32g], j = 0..7 (f32)  |
//   | k = 0 .. K-1: four bytes of nibbles                      |
//   +----------------------------------------------------------+
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "sme2k/arch/vl.hpp"
#include "sme2k/formats/packed_header.hpp"
#include "sme2k/types/block_scales.hpp"
#include "sme2k/types/size_math.hpp"

namespace sme2k {

struct RhsQb4p8x1bf32 {
  using Element = uint8_t;  // two weights
  using BiasElement = float;
  using PanelWidth = FixedExtent<8>;
  static constexpr size_t kKr = 1;
  static constexpr PackedFormatId kId = PackedFormatId::kRhsQb4p8x1bf32;
  static constexpr std::string_view kName = packed_format_name(kId);

  static constexpr size_t nr(size_t /*vl*/) { return 8; }
  static constexpr size_t groups(size_t k) { return ceil_div(k, kScaleGroup); }
  static constexpr size_t head_bytes(size_t k) { return (1 + groups(k)) * 8 * sizeof(float); }
  static constexpr size_t panel_bytes(size_t k, size_t /*vl*/) { return head_bytes(k) + 4 * k; }
  static bool payload_bytes(size_t n, size_t k, size_t vl, size_t* bytes) {
    return k <= SIZE_MAX / 64 && checked_mul(ceil_div(n, nr(vl)), panel_bytes(k, vl), bytes);
  }
  static const float* panel_bias(const void* payload, size_t panel, size_t k, size_t vl) {
    return reinterpret_cast<const float*>(static_cast<const uint8_t*>(payload) +
                                          panel * panel_bytes(k, vl));
  }
  static const uint8_t* panel_data(const void* payload, size_t panel, size_t k, size_t vl) {
    return reinterpret_cast<const uint8_t*>(panel_bias(payload, panel, k, vl)) + head_bytes(k);
  }

  /// The 8 weights times their scales of row kk of a panel's data (depth k).
  static void weights_at(const uint8_t* data, size_t k, size_t kk, float w[8]) {
    const auto* scales = reinterpret_cast<const float*>(data - head_bytes(k)) + 8 * (1 + kk / 32);
    for (size_t b = 0; b < 4; ++b) {
      const unsigned byte = data[4 * kk + b];
      w[2 * b] = static_cast<float>(static_cast<int>((byte & 0xFu) ^ 8u) - 8) * scales[2 * b];
      w[2 * b + 1] = static_cast<float>(static_cast<int>((byte >> 4) ^ 8u) - 8) * scales[2 * b + 1];
    }
  }

  /// Packs N x K weights w(k, n) = at(k, n), scale(n, k) and `bias` (or null).
  template <class At, class Scale>
  static void pack(size_t n, size_t k, At&& at, Scale&& scale, const float* bias, size_t vl,
                   void* payload) {
    for (size_t n0 = 0, p = 0; n0 < n; n0 += 8, ++p) {
      auto* panel = static_cast<uint8_t*>(payload) + p * panel_bytes(k, vl);
      std::memset(panel, 0, panel_bytes(k, vl));
      auto* head = reinterpret_cast<float*>(panel);
      uint8_t* data = panel + head_bytes(k);
      for (size_t j = 0; j < 8; ++j) {
        const bool in_n = n0 + j < n;
        head[j] = in_n && bias != nullptr ? bias[n0 + j] : 0.0f;
        for (size_t g = 0; g < groups(k); ++g) {
          head[8 * (1 + g) + j] = in_n ? scale(n0 + j, g * kScaleGroup) : 1.0f;
        }
        if (!in_n) continue;
        for (size_t kk = 0; kk < k; ++kk) {
          const auto nibble = static_cast<unsigned>(at(kk, n0 + j)) & 0xFu;
          data[4 * kk + j / 2] |= static_cast<uint8_t>(nibble << (4 * (j % 2)));
        }
      }
    }
  }
};

}  // namespace sme2k
