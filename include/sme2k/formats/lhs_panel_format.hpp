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
#include "sme2k/formats/za_transpose.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"

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

  /// The packed elements of a panel (this format keeps nothing in front of them).
  static const Elem* panel_data(const void* panel, size_t /*vl*/) {
    return static_cast<const Elem*>(panel);
  }

  /// Bytes of one panel for depth K; false when that does not fit in size_t.
  /// Scratch pack_panel_sme2() needs: none.
  static constexpr size_t pack_scratch_bytes(size_t /*vl*/) { return 0; }
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
  /// pack_panel() in streaming mode, through ZA (formats/za_transpose.hpp): loads and
  /// stores only, no scratch (pack_scratch_bytes() is 0). Clobbers 32-bit ZA tiles 0 and 1
  /// (or 16-bit tile 0).
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void pack_panel_sme2(
      MatrixView<const Elem> a, void* out,
      void* /*scratch*/ = nullptr) SME2K_STREAMING SME2K_INOUT_ZA {
    Elem* panel = static_cast<Elem*>(out);
    static_assert(Width::kScalesWithVl && Width::kUnits == 2, "2VL-row panels");
    if constexpr (sizeof(Elem) * Kr == 4) {
      sme2::transpose_words_2vl<Kr>(a, panel);
    } else {
      static_assert(sizeof(Elem) == 2 && Kr == 1, "32-bit k-blocks, or 16-bit elements alone");
      sme2::transpose_halves_2vl(a, panel);
    }
  }
#endif
};

}  // namespace sme2k
