// Transposing up to 2VL rows of 32-bit words through ZA: the run-time packers' engine.
//
// Packed panels are k-major: row w of a panel holds word w (KR consecutive k: one f32, or a
// pair of f16) of each of the panel's 2VL rows. Rows of A (the LHS panel) and rows of an
// N x K B (attention's K, packed inside the op) are transposed the same way: each block of
// VL rows x VL words is loaded as horizontal slices of 32-bit tiles 0 (rows 0..VL-1) and 1
// (rows VL..2VL-1) and stored as vertical slices, which are the panel's rows. Loads and
// stores only: per 64 B, 1 cycle in and 1.28 out on the Apple M4 model at SVL 512, no
// ZA-to-register moves. A last word only partly inside K (odd K for f16) is loaded
// element-wise into a register and moved into ZA, so nothing past a row's end is read.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

namespace detail {
// The words at `row` holding kKr-element groups from element k0 on: elements at or past k
// read as zero and are never loaded (16-bit elements for KR = 2, bytes for KR = 4).
template <size_t kKr>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svuint32_t load_words_up_to(const uint8_t* row, size_t k0,
                                                                  size_t k) SME2K_STREAMING {
  if constexpr (kKr == 2) {
    return svreinterpret_u32(
        svld1_u16(svwhilelt_b16_u64(k0, k), reinterpret_cast<const uint16_t*>(row)));
  } else {
    static_assert(kKr == 4, "32-bit words of 2 or 4 elements");
    return svreinterpret_u32(svld1_u8(svwhilelt_b8_u64(k0, k), row));
  }
}
}  // namespace detail

/// dst (ceil(K / KR) rows of 2VL words) = the transpose of src's words: src is at most 2VL
/// rows of K elements, KR per word; rows past src.rows and elements past K are zero.
/// Clobbers ZA tiles 0 and 1.
template <size_t kKr, class Elem>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void transpose_words_2vl(
    MatrixView<const Elem> src, Elem* dst) SME2K_STREAMING SME2K_INOUT_ZA {
  static_assert(sizeof(Elem) * kKr == 4, "a word is KR elements of 32 bits together");
  const size_t vl = svcntsw();
  const size_t rows_top = src.rows < vl ? src.rows : vl;
  const size_t rows_bottom = src.rows > vl ? src.rows - vl : 0;
  const size_t words = ceil_div(src.cols, kKr);  // per row, the last one zero-padded
  const size_t whole_words = src.cols / kKr;
  const size_t ld_bytes = src.ld * sizeof(Elem);
  const svbool_t all = all_lanes(0.0f);
  // Loads zero the lanes past K; the slices of rows past the source are never loaded.
  if (rows_top < vl) {
    svzero_mask_za(0x33);  // za0.s and za1.s
  } else if (rows_bottom < vl) {
    svzero_mask_za(0x22);  // za1.s
  }
  for (size_t w0 = 0; w0 < words; w0 += vl) {
    const auto* row = reinterpret_cast<const uint8_t*>(src.data) + w0 * 4;
    if (w0 + vl <= whole_words || whole_words == words) {
      const svbool_t in_k = svwhilelt_b32_u64(w0, words);
      for (uint32_t i = 0; i < rows_top; ++i, row += ld_bytes) svld1_hor_za32(0, i, in_k, row);
      for (uint32_t i = 0; i < rows_bottom; ++i, row += ld_bytes) svld1_hor_za32(1, i, in_k, row);
    } else if constexpr (kKr > 1) {
      for (uint32_t i = 0; i < rows_top; ++i, row += ld_bytes) {
        svwrite_hor_za32_u32_m(0, i, all, detail::load_words_up_to<kKr>(row, w0 * kKr, src.cols));
      }
      for (uint32_t i = 0; i < rows_bottom; ++i, row += ld_bytes) {
        svwrite_hor_za32_u32_m(1, i, all, detail::load_words_up_to<kKr>(row, w0 * kKr, src.cols));
      }
    }
    const size_t cols = words - w0 < vl ? words - w0 : vl;
    auto* out = reinterpret_cast<uint8_t*>(dst) + w0 * 2 * vl * 4;
    for (uint32_t j = 0; j < cols; ++j, out += 2 * vl * 4) {
      svst1_ver_za32(0, j, all, out);
      svst1_ver_za32(1, j, all, out + vl * 4);
    }
  }
}

/// The same for 16-bit elements taken one by one (KR = 1): dst (K rows of 2VL elements) = the
/// transpose of src (at most 2VL rows of K elements), through 16-bit ZA tile 0, whose slices
/// hold 2VL elements. Clobbers ZA tile za0.h (= za0.s and za2.s).
template <class Elem>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void transpose_halves_2vl(
    MatrixView<const Elem> src, Elem* dst) SME2K_STREAMING SME2K_INOUT_ZA {
  static_assert(sizeof(Elem) == 2, "16-bit elements");
  const size_t width = svcnth();  // 2VL
  const size_t ld_bytes = src.ld * sizeof(Elem);
  const svbool_t all = svptrue_b16();
  if (src.rows < width) svzero_mask_za(0x55);  // za0.h: rows past the source stay zero
  for (size_t k0 = 0; k0 < src.cols; k0 += width) {
    const svbool_t in_k = svwhilelt_b16_u64(k0, src.cols);
    const auto* row = reinterpret_cast<const uint8_t*>(src.data) + k0 * sizeof(Elem);
    for (uint32_t i = 0; i < src.rows; ++i, row += ld_bytes) svld1_hor_za16(0, i, in_k, row);
    const size_t cols = src.cols - k0 < width ? src.cols - k0 : width;
    Elem* out = dst + k0 * width;
    for (uint32_t j = 0; j < cols; ++j, out += width) svst1_ver_za16(0, j, all, out);
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
