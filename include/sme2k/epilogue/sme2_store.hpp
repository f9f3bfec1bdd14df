// The SME2 "how" of the epilogue for a 2VL x 2VL f32 accumulator block in ZA:
//
//          columns 0 .. VL-1   VL .. 2VL-1
//   rows 0 .. VL-1    za0.s       za1.s
//   rows VL .. 2VL-1  za2.s       za3.s
//
// Three ways out, chosen by what bounds the kernel (M4 model, SVL 512):
//  - f32, no clamp: horizontal ZA slices go straight to C (st1w from ZA): stores only.
//  - f32 with a clamp, load-bound kernels (f32): four slices at a time move to registers
//    (one SME2 MOVA, 1 cycle per register), one four-register FCLAMP, four stores.
//  - anything else on compute-bound kernels (f16: f16 output, or a clamp): the two halves
//    of a row leave ZA by st1w into a small scratch row and come back with one
//    two-register load, so the row is in a consecutive register pair: FCLAMP and the
//    two-to-one FCVT to f16 then work on whole rows, and one store writes a row. This spends
//    the idle load/store bandwidth instead of MOVA's compute slot: per 2VL outputs, 4 cycles
//    of FCVT instead of 4 + 2 of MOVA. (A MOVA of four slices gives four rows of one tile,
//    never a row's two halves as the FCVT pair.)
// Tails: rows past `rows` are not stored, columns outside the predicates are not written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/f16.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

/// Rows [0, rows) of the block to C (row r at c + r * ldc); `cols_lo` / `cols_hi` select the
/// columns of the left / right half.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_f32_2vlx2vl(size_t rows, svbool_t cols_lo,
                                                             svbool_t cols_hi, float* c, size_t ldc)
    SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const size_t top = rows < vl ? rows : vl;
  const size_t bottom = rows > vl ? rows - vl : 0;
  float* row = c;
  // ZA slice indices are 32-bit (at most 64 slices per tile).
  for (uint32_t i = 0; i < top; ++i, row += ldc) {
    svst1_hor_za32(/*tile=*/0, i, cols_lo, row);
    svst1_hor_za32(/*tile=*/1, i, cols_hi, row + vl);
  }
  for (uint32_t i = 0; i < bottom; ++i, row += ldc) {
    svst1_hor_za32(/*tile=*/2, i, cols_lo, row);
    svst1_hor_za32(/*tile=*/3, i, cols_hi, row + vl);
  }
}

namespace detail {

// Rows [0, rows) of a VL-row half held in tiles kLeft (columns 0..VL-1) and kRight.
template <int kLeft, int kRight>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_clamped_half(
    size_t rows, svbool_t cols_lo, svbool_t cols_hi, svfloat32_t lo, svfloat32_t hi, float* c,
    size_t ldc) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  for (uint32_t i = 0; i < rows; i += 4, c += 4 * ldc) {
    const svfloat32x4_t left = svclamp(svread_hor_za32_f32_vg4(kLeft, i), lo, hi);
    const svfloat32x4_t right = svclamp(svread_hor_za32_f32_vg4(kRight, i), lo, hi);
    const size_t n = rows - i;  // >= 1; VL is a multiple of 4, so only the last group is short
    svst1(cols_lo, c, svget4(left, 0));
    svst1(cols_hi, c + vl, svget4(right, 0));
    if (n > 1) {
      svst1(cols_lo, c + ldc, svget4(left, 1));
      svst1(cols_hi, c + ldc + vl, svget4(right, 1));
    }
    if (n > 2) {
      svst1(cols_lo, c + 2 * ldc, svget4(left, 2));
      svst1(cols_hi, c + 2 * ldc + vl, svget4(right, 2));
    }
    if (n > 3) {
      svst1(cols_lo, c + 3 * ldc, svget4(left, 3));
      svst1(cols_hi, c + 3 * ldc + vl, svget4(right, 3));
    }
  }
}

}  // namespace detail

/// store_f32_2vlx2vl() with every value clamped to [lo, hi] on the way (FCLAMP semantics).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_f32_2vlx2vl_clamped(
    size_t rows, svbool_t cols_lo, svbool_t cols_hi, svfloat32_t lo, svfloat32_t hi, float* c,
    size_t ldc) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  detail::store_clamped_half<0, 1>(rows < vl ? rows : vl, cols_lo, cols_hi, lo, hi, c, ldc);
  if (rows > vl) {
    detail::store_clamped_half<2, 3>(rows - vl, cols_lo, cols_hi, lo, hi, c + vl * ldc, ldc);
  }
}

namespace detail {

// Rows [0, rows) of a VL-row half held in tiles kLeft and kRight, through `scratch` (4 rows
// of 2VL floats, used in turn so consecutive rows do not wait on one buffer).
template <int kLeft, int kRight, bool kClamp, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_half_via_memory(
    size_t rows, svbool_t cols_lo, svbool_t cols_hi, svbool_t cols_f16, svfloat32_t lo,
    svfloat32_t hi, Out* c, size_t ldc, float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const svbool_t all = svptrue_b32();
  for (uint32_t i = 0; i < rows; ++i, c += ldc) {
    float* row = scratch + (i % 4) * 2 * vl;
    svst1_hor_za32(kLeft, i, all, row);
    svst1_hor_za32(kRight, i, all, row + vl);
    svfloat32x2_t v = svld1_x2(svptrue_c32(), row);
    if constexpr (kClamp) v = svclamp(v, lo, hi);
    if constexpr (std::is_same_v<Out, float>) {
      svst1(cols_lo, c, svget2(v, 0));
      svst1(cols_hi, c + vl, svget2(v, 1));
    } else {
      static_assert(std::is_same_v<Out, f16>, "f32 or f16 output");
      svst1(cols_f16, reinterpret_cast<float16_t*>(c), svcvt_f16_f32_x2(v));
    }
  }
}

}  // namespace detail

/// Rows [0, rows) of the block to C through a scratch row (see the top of this file), as f32
/// or f16, clamped to [lo, hi] when kClamp. `cols_f16` selects the columns of a whole f16 row.
/// @param[in] scratch  4 x 2VL floats
template <bool kClamp, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_2vlx2vl_via_memory(
    size_t rows, svbool_t cols_lo, svbool_t cols_hi, svbool_t cols_f16, svfloat32_t lo,
    svfloat32_t hi, Out* c, size_t ldc, float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  detail::store_half_via_memory<0, 1, kClamp>(rows < vl ? rows : vl, cols_lo, cols_hi, cols_f16, lo,
                                              hi, c, ldc, scratch);
  if (rows > vl) {
    detail::store_half_via_memory<2, 3, kClamp>(rows - vl, cols_lo, cols_hi, cols_f16, lo, hi,
                                                c + vl * ldc, ldc, scratch);
  }
}

/// Bytes of scratch store_2vlx2vl_via_memory() needs for a VL.
constexpr size_t epilogue_scratch_bytes(size_t vl) { return 4 * 2 * vl * sizeof(float); }

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
