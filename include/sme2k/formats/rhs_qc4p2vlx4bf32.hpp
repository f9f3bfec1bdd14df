// rhs_qc4p2vlx4bf32: 4-bit weights (QC4W, -8..7) for the SME2 QD8 kernels: 2VL-column panels
// of k quads, two columns per byte, Qd8ChannelParams (column sum, f32 scale, f32 bias) in
// front. Packed by formats/qc4_weights.hpp.
//
// One panel (columns n0 .. n0+2VL-1), kp = K rounded up to 4; each k-quad is one vector:
//
//   +-------------------------------------------------------------------------+
//   | Qd8ChannelParams[2VL]                                                   |  12 B per column
//   +-------------------------------------------------------------------------+
//   | k-quad 0: lane c = 0 .. VL-1, four bytes t = 0..3 (k = t):              |  4VL bytes
//   |   byte = (w[k][n0+c] << 4) | (w[k][n0+VL+c] + 8)                        |
//   | k-quad 1: k = 4 + t ...                                                 |
//   | ... kp / 4 quads                                                        |
//   +-------------------------------------------------------------------------+
//
// The high nibble holds column c (two's complement), the low nibble column VL + c offset by 8
// (0..15). Past N or K a weight is 0: byte 0x08. The offset makes a byte exactly
// 16 * hi + lo + 8 as int8, so SME2 separates the two without masks (no multi-vector AND):
//   hi      = SQDMULH(byte, 8)                      floor(byte / 16)
//   16 * lo = SRSHL(byte, 4) + (-128)  (wrapping)   then lo = SQDMULH(16 * lo, 8)
// and a dot product with the raw bytes is 16 * dot(hi) + dot(lo) + 8 * sum(activations).
// expand_panel_sme2() turns a panel into the rhs_qc8p2vlx4bf32 panel of the same weights.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/rhs_qc8p2vlx4bf32.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/int4.hpp"
#include "sme2k/types/layout.hpp"
#include "sme2k/types/size_math.hpp"

namespace sme2k {

struct RhsQc4p2vlx4bf32 {
  using Element = uint8_t;  // two weights
  using BiasElement = Qd8ChannelParams;
  using PanelWidth = VlMultiple<2>;
  static constexpr size_t kKr = 4;
  static constexpr PackedFormatId kId = PackedFormatId::kRhsQc4p2vlx4bf32;
  static constexpr std::string_view kName = packed_format_name(kId);
  /// The byte of a panel where every weight is 0.
  static constexpr uint8_t kZeroPair = 0x08;

  static constexpr size_t nr(size_t vl) { return 2 * vl; }
  static constexpr size_t kp(size_t k) { return round_up(k, 4); }
  static constexpr size_t params_bytes(size_t vl) { return nr(vl) * sizeof(BiasElement); }
  static constexpr size_t panel_bytes(size_t k, size_t vl) {
    return params_bytes(vl) + kp(k) / 4 * (4 * vl);
  }
  static bool payload_bytes(size_t n, size_t k, size_t vl, size_t* bytes) {
    size_t quads = 0, panel = 0;
    return checked_add(k, 3, &quads) && checked_mul(quads / 4, 4 * vl, &panel) &&
           checked_add(panel, params_bytes(vl), &panel) &&
           checked_mul(ceil_div(n, nr(vl)), panel, bytes);
  }

  static const BiasElement* panel_bias(const void* payload, size_t panel, size_t k, size_t vl) {
    return reinterpret_cast<const BiasElement*>(static_cast<const uint8_t*>(payload) +
                                                panel * panel_bytes(k, vl));
  }
  static const uint8_t* panel_data(const void* payload, size_t panel, size_t k, size_t vl) {
    return reinterpret_cast<const uint8_t*>(panel_bias(payload, panel, k, vl)) + params_bytes(vl);
  }

  /// Packs the weights of B (K x N or N x K as `layout` says; values -8..7 read through
  /// `at(k, n)`) into `payload` (payload_bytes(n, k, vl)), leaving each panel's channel
  /// parameters zero (formats/qc4_weights.hpp writes them).
  template <class At>
  static void pack(size_t n, size_t k, At&& at, size_t vl, void* payload) {
    for (size_t n0 = 0, p = 0; n0 < n; n0 += nr(vl), ++p) {
      auto* panel = static_cast<uint8_t*>(payload) + p * panel_bytes(k, vl);
      std::memset(panel, 0, params_bytes(vl));
      pack_quads(n0, n, k, at, vl, panel + params_bytes(vl));
    }
  }

  /// The k-quads of the panel of columns [n0, n0 + 2VL): kp / 4 vectors at `data`.
  template <class At>
  static void pack_quads(size_t n0, size_t n, size_t k, At&& at, size_t vl, uint8_t* data) {
    std::memset(data, kZeroPair, kp(k) / 4 * 4 * vl);
    for (size_t j = 0; j < nr(vl) && n0 + j < n; ++j) {
      uint8_t* lane = data + j % vl * 4;  // byte of k: lane[kk / 4 * 4 * vl + kk % 4]
      // Columns [0, VL) of the panel go to the high nibbles, [VL, 2VL) to the low ones.
      if (j < vl) {
        SME2K_UNROLL_8
        for (size_t kk = 0; kk < k; ++kk) {
          uint8_t& byte = lane[kk / 4 * 4 * vl + kk % 4];
          byte = static_cast<uint8_t>((byte & 0x0Fu) |
                                      ((static_cast<unsigned>(at(kk, n0 + j)) & 0xFu) << 4));
        }
      } else {
        SME2K_UNROLL_8
        for (size_t kk = 0; kk < k; ++kk) {
          uint8_t& byte = lane[kk / 4 * 4 * vl + kk % 4];
          byte = static_cast<uint8_t>((byte & 0xF0u) | static_cast<unsigned>(at(kk, n0 + j) + 8));
        }
      }
    }
  }

  /// pack() for the common case of N x K nibble rows (PyTorch's and ggml's int4 weights:
  /// row n at rows + n * ld, two values a byte, low nibble first; K even), byte to byte: a packed
  /// byte is (hi nibble << 4) | (lo nibble ^ 8), since w + 8 = w ^ 8 in 4 bits. Also writes
  /// each column's sum of weights to sums[n].
  static void pack_nibble_rows(size_t n, size_t k, const uint8_t* rows, size_t ld, size_t vl,
                               void* payload, int64_t* sums) {
    const size_t width = nr(vl);
    for (size_t n0 = 0, p = 0; n0 < n; n0 += width, ++p) {
      auto* panel = static_cast<uint8_t*>(payload) + p * panel_bytes(k, vl);
      std::memset(panel, 0, params_bytes(vl));
      uint8_t* data = panel + params_bytes(vl);
      std::memset(data, kZeroPair, kp(k) / 4 * 4 * vl);
      for (size_t c = 0; c < vl; ++c) {
        const size_t hi_col = n0 + c, lo_col = n0 + vl + c;
        // A missing column reads as zeros: 0x00 pairs (its sum is not written).
        static const uint8_t kZeros[1] = {0};
        const uint8_t* hi = hi_col < n ? rows + hi_col * ld : kZeros;
        const uint8_t* lo = lo_col < n ? rows + lo_col * ld : kZeros;
        const size_t hi_step = hi_col < n ? 1 : 0, lo_step = lo_col < n ? 1 : 0;
        int64_t hi_sum = 0, lo_sum = 0;
        uint8_t* lane = data + 4 * c;
        for (size_t kk = 0; kk < k; kk += 2) {
          const unsigned h = hi[kk / 2 * hi_step], l = lo[kk / 2 * lo_step];
          uint8_t* even = lane + kk / 4 * 4 * vl + kk % 4;
          even[0] = static_cast<uint8_t>(((h & 0xFu) << 4) | ((l & 0xFu) ^ 8u));
          even[1] = static_cast<uint8_t>((h & 0xF0u) | ((l >> 4) ^ 8u));
          hi_sum += kNibblePairSum[h], lo_sum += kNibblePairSum[l];
        }
        if (hi_col < n) sums[hi_col] = hi_sum;
        if (lo_col < n) sums[lo_col] = lo_sum;
      }
    }
  }

#if SME2K_HAS_SME2_CODE
  /// The k-quad vector at byte offset `at` of four panels' data (the decode kernels' operand:
  /// one output column pair per 32-bit lane, four panels per four-vector instruction).
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static svint8x4_t load_quad_of_4(
      svbool_t all, const int8_t* const* data, size_t at) SME2K_STREAMING {
    return svcreate4(svld1(all, data[0] + at), svld1(all, data[1] + at), svld1(all, data[2] + at),
                     svld1(all, data[3] + at));
  }

  /// The rhs_qc8p2vlx4bf32 panel of the weights of one packed panel (`in`, of depth k),
  /// written to `out` (RhsQc8p2vlx4bf32::panel_bytes(k, VL), 64-byte aligned): four
  /// two-column vectors become eight int8 vectors in four four-vector instructions.
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void expand_panel_sme2(const void* in, size_t k,
                                                                      void* out) SME2K_STREAMING {
    const size_t vl = svcntsw();
    const size_t bytes = svcntb();
    static_assert(sizeof(BiasElement) == sizeof(RhsQc8p2vlx4bf32::BiasElement), "same params");
    // The channel parameters: 2VL x 12 bytes = 6 vectors.
    const auto* src = static_cast<const int8_t*>(in);
    auto* dst = static_cast<int8_t*>(out);
    const svcount_t all = svptrue_c8();
    svst1(all, dst, svld1_x4(all, src));
    svst1(all, dst + 4 * bytes, svld1_x2(all, src + 4 * bytes));
    src += params_bytes(vl);
    dst += RhsQc8p2vlx4bf32::nr(vl) * sizeof(RhsQc8p2vlx4bf32::BiasElement);
    const size_t quads = kp(k) / 4;
    svint8_t eight = svdup_s8(8), four = svdup_s8(4), minus_128 = svdup_s8(-128);
    asm("" : "+w"(eight), "+w"(four), "+w"(minus_128));  // made once, not per iteration
    const svbool_t on = sme2::all_lanes(int8_t{});
    for (size_t q = 0; q < quads; q += 4, src += 4 * bytes, dst += 8 * bytes) {
      const svcount_t in_quads = svwhilelt_c8_u64(q * bytes, quads * bytes, 4);
      // The four-vector ops overwrite their first operand, so each chain loads its own copy:
      // loads are idle here, a register copy is a 4-cycle instruction on the M4 model.
      const int8_t* again = src;
      asm("" : "+r"(again));  // not the same load to the compiler
      const svint8x4_t high = svqdmulh(svld1_x4(in_quads, src), eight);
      const svint8x4_t low =
          svqdmulh(svadd(svrshl(svld1_x4(in_quads, again), four), minus_128), eight);
      // Quad j of the four: its high columns, then its low ones.
      const size_t left = quads - q < 4 ? quads - q : 4;
      svst1(on, dst, svget4(high, 0));
      svst1(on, dst + bytes, svget4(low, 0));
      if (left > 1) {
        svst1(on, dst + 2 * bytes, svget4(high, 1));
        svst1(on, dst + 3 * bytes, svget4(low, 1));
      }
      if (left > 2) {
        svst1(on, dst + 4 * bytes, svget4(high, 2));
        svst1(on, dst + 5 * bytes, svget4(low, 2));
      }
      if (left > 3) {
        svst1(on, dst + 6 * bytes, svget4(high, 3));
        svst1(on, dst + 7 * bytes, svget4(low, 3));
      }
    }
  }
#endif
};

}  // namespace sme2k
