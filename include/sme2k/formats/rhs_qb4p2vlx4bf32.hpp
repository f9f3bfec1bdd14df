// rhs_qb4p2vlx4bf32: 4-bit weights with per-block scales (QB4W) for the SME2 QD8 x QB4W
// kernel: the k-quads of rhs_qc4p2vlx4bf32 (two columns a byte, the low one offset by 8),
// behind an f32 bias row and one f32 scale per column and group of 32 k (a block of 64 or
// more repeats its scale: the layout does not depend on the block size). K is a multiple
// of 32.
//
// One panel (columns n0 .. n0+2VL-1):
//
//   +-----------------------------------------------------------------------+
//   | bias[n0 .. n0+2VL-1]                                          (f32)   |  0 past N
//   +-----------------------------------------------------------------------+
//   | group g = 0 .. K/32-1: scale[n][32g] for n in the panel       (f32)   |  1 past N
//   +-----------------------------------------------------------------------+
//   | group g: (int16 0, int16 sum of the group's 32 weights) per column    |  0 past N
//   +-----------------------------------------------------------------------+
//   | k-quad q = 0 .. K/4-1: rhs_qc4p2vlx4bf32's bytes (one vector)         |
//   +-----------------------------------------------------------------------+
//
// expand_panel_sme2() writes the rhs_f32p2vlx1bf32 panel of w * scale (the f32 kernel's); the
// decode kernel dots the bytes directly and uses the group sums for the zero-point term
// (paired with (-128 zp, -zp) by an int16 SDOT, as QD8's column sums).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/rhs_f32p2vlx1bf32.hpp"
#include "sme2k/formats/rhs_qc4p2vlx4bf32.hpp"
#include "sme2k/types/block_scales.hpp"
#include "sme2k/types/size_math.hpp"

namespace sme2k {

struct RhsQb4p2vlx4bf32 {
  using Element = uint8_t;  // two weights
  using BiasElement = float;
  using PanelWidth = VlMultiple<2>;
  static constexpr size_t kKr = 4;
  static constexpr PackedFormatId kId = PackedFormatId::kRhsQb4p2vlx4bf32;
  static constexpr std::string_view kName = packed_format_name(kId);
  using Quads = RhsQc4p2vlx4bf32;

  static constexpr size_t nr(size_t vl) { return 2 * vl; }
  static constexpr size_t groups(size_t k) { return ceil_div(k, kScaleGroup); }
  static constexpr size_t head_bytes(size_t k, size_t vl) {
    return (1 + 2 * groups(k)) * nr(vl) * sizeof(float);
  }
  static const float* group_scales(const void* panel, size_t k, size_t vl, size_t g) {
    (void)k;
    return static_cast<const float*>(panel) + (1 + g) * nr(vl);
  }
  static const int32_t* group_sums(const void* panel, size_t k, size_t vl, size_t g) {
    return reinterpret_cast<const int32_t*>(static_cast<const float*>(panel) +
                                            (1 + groups(k) + g) * nr(vl));
  }
  static const uint8_t* panel_data(const void* payload, size_t panel, size_t k, size_t vl) {
    return reinterpret_cast<const uint8_t*>(panel_bias(payload, panel, k, vl)) + head_bytes(k, vl);
  }
  static constexpr size_t panel_bytes(size_t k, size_t vl) {
    return head_bytes(k, vl) + Quads::kp(k) / 4 * (4 * vl);
  }
  static bool payload_bytes(size_t n, size_t k, size_t vl, size_t* bytes) {
    size_t head = 0, quads = 0, panel = 0;
    return k <= SIZE_MAX / 4 && checked_mul(2 * groups(k) + 1, nr(vl) * sizeof(float), &head) &&
           checked_mul((k + 3) / 4, 4 * vl, &quads) && checked_add(head, quads, &panel) &&
           checked_mul(ceil_div(n, nr(vl)), panel, bytes);
  }
  static const float* panel_bias(const void* payload, size_t panel, size_t k, size_t vl) {
    return reinterpret_cast<const float*>(static_cast<const uint8_t*>(payload) +
                                          panel * panel_bytes(k, vl));
  }

  /// Packs N x K weights w(k, n) = at(k, n) (-8..7), their scales scale(n, k) (> 0) and
  /// `bias` (N values or null) into `payload` (payload_bytes(n, k, vl)).
  template <class At, class Scale>
  static void pack(size_t n, size_t k, At&& at, Scale&& scale, const float* bias, size_t vl,
                   void* payload) {
    const size_t width = nr(vl);
    for (size_t n0 = 0, p = 0; n0 < n; n0 += width, ++p) {
      auto* panel = static_cast<uint8_t*>(payload) + p * panel_bytes(k, vl);
      auto* head = reinterpret_cast<float*>(panel);
      for (size_t j = 0; j < width; ++j) {
        const bool in_n = n0 + j < n;
        head[j] = in_n && bias != nullptr ? bias[n0 + j] : 0.0f;
        for (size_t g = 0; g < groups(k); ++g) {
          head[(1 + g) * width + j] = in_n ? scale(n0 + j, g * kScaleGroup) : 1.0f;
          int32_t sum = 0;
          for (size_t kk = g * kScaleGroup; in_n && kk < (g + 1) * kScaleGroup && kk < k; ++kk) {
            sum += at(kk, n0 + j);
          }
          const auto pair = static_cast<int32_t>(static_cast<uint32_t>(sum) << 16);  // (0, sum)
          std::memcpy(&head[(1 + groups(k) + g) * width + j], &pair, sizeof pair);
        }
      }
      Quads::pack_quads(n0, n, k, at, vl, panel + head_bytes(k, vl));
    }
  }

  /// pack() from GGUF Q4_0 rows (row n: K / 32 blocks of 18 bytes at blocks + n * row_bytes;
  /// a block: f16 scale, then weight i < 16 in the low nibble of byte i, 16 + i in its high
  /// one, stored + 8), byte to byte: a packed byte is ((hi nibble ^ 8) << 4) | lo nibble, the
  /// lo column's nibble already offset by 8 as the format wants it.
  static constexpr bool kPacksQ4_0 = true;  // pack_q4_0_rows() below
  template <class ScaleOf>
  static void pack_q4_0_rows(size_t n, size_t k, const uint8_t* blocks, size_t row_bytes,
                             ScaleOf&& scale_of, const float* bias, size_t vl, void* payload) {
    constexpr size_t kBlockBytes = 18;
    const size_t width = nr(vl);
    const size_t quad_bytes = 4 * vl;
    for (size_t n0 = 0, p = 0; n0 < n; n0 += width, ++p) {
      auto* panel = static_cast<uint8_t*>(payload) + p * panel_bytes(k, vl);
      auto* head = reinterpret_cast<float*>(panel);
      uint8_t* data = panel + head_bytes(k, vl);
      std::memset(data, Quads::kZeroPair, Quads::kp(k) / 4 * quad_bytes);
      for (size_t j = 0; j < width; ++j) {
        const bool in_n = n0 + j < n;
        head[j] = in_n && bias != nullptr ? bias[n0 + j] : 0.0f;
        for (size_t g = 0; g < groups(k); ++g) {
          int32_t sum = 0;
          if (in_n) {
            const uint8_t* qs = blocks + (n0 + j) * row_bytes + g * kBlockBytes + 2;
            for (size_t i = 0; i < 16; ++i) sum += (qs[i] & 0xF) + (qs[i] >> 4) - 16;
          }
          head[(1 + g) * width + j] = in_n ? scale_of(n0 + j, g * kScaleGroup) : 1.0f;
          const auto pair = static_cast<int32_t>(static_cast<uint32_t>(sum) << 16);  // (0, sum)
          std::memcpy(&head[(1 + groups(k) + g) * width + j], &pair, sizeof pair);
        }
      }
      for (size_t c = 0; c < vl; ++c) {
        const size_t hi_col = n0 + c, lo_col = n0 + vl + c;
        if (hi_col >= n) break;
        const uint8_t* hi = blocks + hi_col * row_bytes;
        const uint8_t* lo = lo_col < n ? blocks + lo_col * row_bytes : nullptr;
        uint8_t* lane = data + 4 * c;
        for (size_t g = 0; g < groups(k); ++g) {
          const uint8_t* hq = hi + g * kBlockBytes + 2;
          const uint8_t* lq = lo != nullptr ? lo + g * kBlockBytes + 2 : nullptr;
          for (size_t i = 0; i < 32; ++i) {
            const unsigned h = i < 16 ? hq[i] & 0xFu : hq[i - 16] >> 4;
            const unsigned l = lq == nullptr ? 8u : i < 16 ? lq[i] & 0xFu : lq[i - 16] >> 4;
            const size_t kk = g * kScaleGroup + i;
            lane[kk / 4 * quad_bytes + kk % 4] = static_cast<uint8_t>(((h ^ 8u) << 4) | l);
          }
        }
      }
    }
  }

#if SME2K_HAS_SME2_CODE
  /// The vector at `words` in all four registers of a tuple (four loads).
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static svint32x4_t load_word_x4(
      svbool_t all, const int32_t* words) SME2K_STREAMING {
    const int32_t *p1 = words, *p2 = words, *p3 = words;
    asm("" : "+r"(p1), "+r"(p2), "+r"(p3));  // four loads to the compiler, not one
    return svcreate4(svld1(all, words), svld1(all, p1), svld1(all, p2), svld1(all, p3));
  }

  /// The rhs_f32p2vlx1bf32 panel of w * scale of one packed panel (`in`, depth k, a multiple
  /// of 32) at `out` (RhsF32p2vlx1bf32::panel_bytes(k, VL)). Per k-quad vector: the high
  /// and low nibbles of its four bytes as int32 by SRSHL (a shift per byte: four shifts in
  /// one four-vector instruction) and SQDMULH(x, 8) = x >> 28, SCVTF, and the multiply by
  /// the group's scales in ZA (SME2 has no four-vector FMUL). Clobbers ZA vector group 0.
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void expand_panel_sme2(
      const void* in, size_t k, void* out) SME2K_STREAMING SME2K_INOUT_ZA {
    const size_t vl = svcntsw();
    const size_t width = nr(vl);
    const svbool_t all = svptrue_b32();
    const auto* head = static_cast<const float*>(in);
    auto* dst = static_cast<float*>(out);
    svst1(all, dst, svld1(all, head));  // the bias row
    svst1(all, dst + vl, svld1(all, head + vl));
    dst += width;
    const auto* quads =
        reinterpret_cast<const int32_t*>(static_cast<const uint8_t*>(in) + head_bytes(k, vl));
    // Byte t of a word: its high nibble to the top by << (24 - 8t), its low one by
    // << (28 - 8t) then + INT32_MIN (the offset 8 flipped back: w + 8 = w ^ 8 in 4 bits).
    svint32_t s24 = svdup_s32(24), s16 = svdup_s32(16), s8 = svdup_s32(8), s0 = svdup_s32(0);
    svint32_t s28 = svdup_s32(28), s20 = svdup_s32(20), s12 = svdup_s32(12), s4 = svdup_s32(4);
    svint32_t eight = svdup_s32(8), flip = svdup_s32(INT32_MIN);
    svfloat32_t zero = svdup_f32(0.0f);
    asm("" : "+w"(s24), "+w"(s16), "+w"(s8), "+w"(s0), "+w"(s28), "+w"(s20), "+w"(s12), "+w"(s4));
    asm("" : "+w"(eight), "+w"(flip), "+w"(zero));  // made once, not per quad
    const svint32x4_t high_shift = svcreate4(s24, s16, s8, s0);
    const svint32x4_t low_shift = svcreate4(s28, s20, s12, s4);
    const svfloat32x4_t zeros = svcreate4(zero, zero, zero, zero);
    for (size_t q = 0; q < k / 4; ++q, dst += 4 * width) {
      const size_t g = q * 4 / kScaleGroup;
      const svfloat32_t scale_high = svld1(all, head + (1 + g) * width);
      const svfloat32_t scale_low = svld1(all, head + (1 + g) * width + vl);
      // The word vector four times per chain, each from its own load: a four-vector
      // instruction takes four distinct registers, and copies are 4-cycle instructions.
      const svint32x4_t high =
          svqdmulh(svrshl(load_word_x4(all, quads + q * vl), high_shift), eight);
      const svint32x4_t low =
          svqdmulh(svadd(svrshl(load_word_x4(all, quads + q * vl), low_shift), flip), eight);
      svwrite_za32_f32_vg1x4(0, zeros);
      svmla_single_za32_f32_vg1x4(0, svcvt_f32_s32_x4(high), scale_high);
      const svfloat32x4_t high_f = svread_za32_f32_vg1x4(0);
      svwrite_za32_f32_vg1x4(0, zeros);
      svmla_single_za32_f32_vg1x4(0, svcvt_f32_s32_x4(low), scale_low);
      const svfloat32x4_t low_f = svread_za32_f32_vg1x4(0);
      // Row k = 4q + t: the high columns (first VL), then the low ones.
      svst1(all, dst, svget4(high_f, 0));
      svst1(all, dst + vl, svget4(low_f, 0));
      svst1(all, dst + width, svget4(high_f, 1));
      svst1(all, dst + width + vl, svget4(low_f, 1));
      svst1(all, dst + 2 * width, svget4(high_f, 2));
      svst1(all, dst + 2 * width + vl, svget4(low_f, 2));
      svst1(all, dst + 3 * width, svget4(high_f, 3));
      svst1(all, dst + 3 * width + vl, svget4(low_f, 3));
    }
  }
#endif
};

}  // namespace sme2k
