// Packed activations (the GEMM's A, M x K) as row panels, k-major: the generic format behind
// lhs_f32p2vlx1 and lhs_f16p2vlx2. Packed at run time, inside the op, one panel at a time
// into the workspace.
//
// An outer product needs, per k, a vector of A down a column (MR rows at one k); A is
// row-major, so that vector is strided. Packing transposes each MR-row panel once; the
// kernel then reads it N / NR times with plain contiguous loads.
//
// One panel (rows m0 .. m0+MR-1), MR = Width::size(VL), kp = K rounded up to KR:
//
//   k-block 0:  A[m0][0..KR-1]  A[m0+1][0..KR-1]  ...  A[m0+MR-1][0..KR-1]     MR x KR elements
//   k-block 1:  A[m0][KR..2KR-1] ...
//   ...         kp / KR blocks; 0 past M and past K
//
// With KR = 1 (f32) row k of the panel is column k of A: MR contiguous values.
// Panels follow each other when a whole A is packed: panel p at p * panel_bytes(k, vl).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>
#endif

namespace sme2k {

template <class Elem, class Width, size_t Kr>
struct LhsPanelFormat {
  using Element = Elem;
  using PanelWidth = Width;
  static constexpr size_t kKr = Kr;

  static constexpr size_t mr(size_t vl) { return Width::size(vl); }
  static constexpr size_t kp(size_t k) { return round_up(k, Kr); }
  static constexpr size_t panel_bytes(size_t k, size_t vl) { return kp(k) * mr(vl) * sizeof(Elem); }
  static constexpr size_t element_offset(size_t i, size_t k, size_t vl) {
    return (k / Kr) * mr(vl) * Kr + i * Kr + k % Kr;
  }

  /// Bytes of one panel for depth K; false when that does not fit in size_t.
  static bool checked_panel_bytes(size_t k, size_t vl, size_t* bytes) {
    size_t elements = 0;
    return checked_add(k, Kr - 1, &elements) &&
           checked_mul(elements / Kr * Kr, mr(vl), &elements) &&
           checked_mul(elements, sizeof(Elem), bytes);
  }

  /// Packs rows [0, a.rows) of `a` (at most MR) into one panel, zero past them and past K.
  /// The plain C++ version: the specification of the format (tests, other engines).
  static void pack_panel(MatrixView<const Elem> a, size_t vl, Elem* panel) {
    SME2K_ASSUME(a.rows <= mr(vl));
    std::memset(panel, 0, panel_bytes(a.cols, vl));
    for (size_t i = 0; i < a.rows; ++i) {
      for (size_t k = 0; k < a.cols; ++k) panel[element_offset(i, k, vl)] = a(i, k);
    }
  }

  /// The inverse of pack_panel(), for tests.
  static void unpack_panel(const Elem* panel, size_t rows, size_t k, size_t vl, Elem* a,
                           size_t lda) {
    for (size_t i = 0; i < rows; ++i) {
      for (size_t kk = 0; kk < k; ++kk) a[i * lda + kk] = panel[element_offset(i, kk, vl)];
    }
  }

#if SME2K_HAS_SME2_CODE
  /// pack_panel() through ZA, in streaming mode, for a panel of 2VL rows whose k-blocks are
  /// 32-bit words (f32 with KR = 1, f16 with KR = 2): each block of VL rows x VL words of A
  /// is loaded as horizontal slices of tiles 0 (rows 0..VL-1) and 1 (rows VL..2VL-1) and
  /// stored as vertical slices, which are the panel's rows. Loads and stores only: per 64 B,
  /// 1 cycle in and 1.28 out on the M4 model at SVL 512, no ZA-to-register moves. A last word
  /// only partly inside K (odd K for f16) is loaded element-wise into a register and moved
  /// into ZA, so nothing past A's last element is read. Clobbers ZA tiles 0 and 1.
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void pack_panel_sme2(
      MatrixView<const Elem> a, Elem* panel) SME2K_STREAMING SME2K_INOUT_ZA {
    static_assert(sizeof(Elem) * Kr == 4 && Width::kScalesWithVl && Width::kUnits == 2,
                  "pack_panel_sme2 moves k-blocks as 32-bit words through two 32-bit ZA tiles");
    const size_t vl = svcntsw();
    const size_t rows_top = a.rows < vl ? a.rows : vl;
    const size_t rows_bottom = a.rows > vl ? a.rows - vl : 0;
    const size_t words = ceil_div(a.cols, Kr);  // per row, the last one zero-padded
    const size_t whole_words = a.cols / Kr;
    const size_t ld_bytes = a.ld * sizeof(Elem);
    const svbool_t all = svptrue_b32();
    // Loads zero the lanes past K; the slices of rows past M are never loaded: clear them.
    if (rows_top < vl) {
      svzero_mask_za(0x33);  // za0.s and za1.s
    } else if (rows_bottom < vl) {
      svzero_mask_za(0x22);  // za1.s
    }
    for (size_t w0 = 0; w0 < words; w0 += vl) {
      const auto* row = reinterpret_cast<const uint8_t*>(a.data) + w0 * 4;
      if (w0 + vl <= whole_words || whole_words == words) {
        const svbool_t in_k = svwhilelt_b32_u64(w0, words);
        for (uint32_t i = 0; i < rows_top; ++i, row += ld_bytes) svld1_hor_za32(0, i, in_k, row);
        for (uint32_t i = 0; i < rows_bottom; ++i, row += ld_bytes) {
          svld1_hor_za32(1, i, in_k, row);
        }
      } else if constexpr (Kr > 1) {
        for (uint32_t i = 0; i < rows_top; ++i, row += ld_bytes) {
          svwrite_hor_za32_u32_m(0, i, all, load_words_up_to_k(row, w0 * Kr, a.cols));
        }
        for (uint32_t i = 0; i < rows_bottom; ++i, row += ld_bytes) {
          svwrite_hor_za32_u32_m(1, i, all, load_words_up_to_k(row, w0 * Kr, a.cols));
        }
      }
      const size_t cols = words - w0 < vl ? words - w0 : vl;
      auto* out = reinterpret_cast<uint8_t*>(panel) + w0 * 2 * vl * 4;
      for (uint32_t j = 0; j < cols; ++j, out += 2 * vl * 4) {
        svst1_ver_za32(0, j, all, out);
        svst1_ver_za32(1, j, all, out + vl * 4);
      }
    }
  }

 private:
  // The words at `row` holding elements [k0, k): elements past k read as zero, never loaded.
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static svuint32_t load_words_up_to_k(
      const uint8_t* row, size_t k0, size_t k) SME2K_STREAMING {
    static_assert(sizeof(Elem) == 2, "only 16-bit elements have partial 32-bit words so far");
    return svreinterpret_u32(
        svld1_u16(svwhilelt_b16_u64(k0, k), reinterpret_cast<const uint16_t*>(row)));
  }

 public:
#endif
};

}  // namespace sme2k
