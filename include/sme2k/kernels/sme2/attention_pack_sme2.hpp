// The operands of the SME2 attention kernel, packed per call into its workspace.
//
// QK^T runs as outer products over 32-bit "words" of head_dim: a pair of d for f16 (the
// widening FMOPA sums the pair), one d for f32. S^T = K Q^T puts keys on ZA rows and queries
// on lanes, so both operands are word-major panels of VL lanes:
//
//   K panel (one per KV head, reused by every query head and row block of the group):
//     [key tile kt < ceil(kv_len / 4VL) * 4][word w < W][VL keys]   (32-bit words)
//       word w of key kt * VL + i; keys past kv_len and d past head_dim are zero.
//   Q panel (one per query row block of one head):
//     [word w < W][VL query rows]
//   V panel (f16 input only; f32 V is read where it lies):
//     [key j < kv_len][d < roundup(head_dim, VL)] f32, d past head_dim zero
//
// The word-major transpose goes through ZA: rows in as horizontal 32-bit slices, panels out
// as vertical ones (loads and stores only). An odd head_dim in f16 would make the last word
// reach past a row, so that case copies element by element instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/f16.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

/// Elements per 32-bit word of the QK^T outer products.
template <class In>
constexpr size_t kElementsPerWord = sizeof(uint32_t) / sizeof(In);

/// Words of head_dim d (an odd f16 d gets a zero half in its last word).
template <class In>
constexpr size_t attention_words(size_t d) {
  return (d + kElementsPerWord<In> - 1) / kElementsPerWord<In>;
}

/// Packs `rows` (<= VL) rows of `words` words each into a word-major panel: panel[w * VL + i]
/// = word w of row i; rows past `rows` are zero. rows_at(i) gives row i's first element.
template <class In, class RowAt>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void pack_word_panel(
    uint32_t* panel, size_t rows, size_t d, const RowAt& row_at) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntw(), words = attention_words<In>(d);
  if constexpr (sizeof(In) == 2) {
    if (d % 2 != 0) {  // odd f16 head_dim: element by element (a word would pass the row)
      for (size_t w = 0; w < words; ++w) {
        for (size_t i = 0; i < vl; ++i) {
          uint16_t lo = 0, hi = 0;
          if (i < rows) {
            const In* row = row_at(i);
            std::memcpy(&lo, row + 2 * w, sizeof(In));
            if (2 * w + 1 < d) std::memcpy(&hi, row + 2 * w + 1, sizeof(In));
          }
          panel[w * vl + i] = lo | (uint32_t{hi} << 16);
        }
      }
      return;
    }
  }
  // VL words of each row at a time through tile 0: rows in horizontally, words out vertically.
  for (size_t w0 = 0; w0 < words; w0 += vl) {
    const svbool_t cols = svwhilelt_b32_u64(w0, words);
    svzero_mask_za(0x11);  // tile 0 (rows past `rows` stay zero)
    for (size_t i = 0; i < rows; ++i) {
      const auto* row = reinterpret_cast<const uint32_t*>(row_at(i));
      svld1_hor_za32(0, za_slice(static_cast<uint32_t>(i)), cols, row + w0);
    }
    const size_t n = words - w0 < vl ? words - w0 : vl;
    for (size_t w = 0; w < n; ++w) {
      svst1_ver_za32(0, za_slice(static_cast<uint32_t>(w)), svptrue_b32(), panel + (w0 + w) * vl);
    }
  }
}

/// V rows [0, kv) as f32 rows of `d_pad` (a multiple of VL) elements, zero past d.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void pack_v_f32(float* out, size_t kv, size_t d, size_t d_pad,
                                                      const f16* v,
                                                      size_t seq_stride) SME2K_STREAMING {
  const size_t vl = svcntw();
  const svbool_t all = svptrue_b32();
  for (size_t j = 0; j < kv; ++j) {
    const auto* row = reinterpret_cast<const uint16_t*>(v + j * seq_stride);
    for (size_t c = 0; c < d_pad; c += vl) {
      const svuint32_t h = svld1uh_u32(svwhilelt_b32_u64(c, d), row + c);
      svst1_f32(all, out + j * d_pad + c, svcvt_f32_f16_x(all, svreinterpret_f16(h)));
    }
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
