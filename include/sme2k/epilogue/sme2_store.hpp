// The SME2 "how" of the epilogue for a 2VL x 2VL f32 accumulator block in ZA:
//
//          columns 0 .. VL-1   VL .. 2VL-1
//   rows 0 .. VL-1    za0.s       za1.s
//   rows VL .. 2VL-1  za2.s       za3.s
//
// Ways out, chosen by the epilogue and by what bounds the kernel (M4 model, SVL 512):
//  - f32, nothing but a store: horizontal ZA slices go straight to C (st1w from ZA).
//  - f32 with only a clamp, load-bound kernels (f32): four slices at a time move to
//    registers (one SME2 MOVA, 1 cycle per register), one four-register FCLAMP, four stores.
//  - everything else (f16 output, activations, the per-channel affine, clamps on
//    compute-bound kernels): the two halves of a row leave ZA by st1w into a small scratch
//    row and come back with one two-register load, so the row is in a consecutive register
//    pair for the elementwise work (sme2_activation.hpp) and the two-to-one FCVT to f16; one
//    store writes a row. This spends the idle load/store bandwidth of compute-bound kernels
//    instead of MOVA's compute slot: per 2VL outputs, 4 cycles of FCVT instead of 4 + 2.
//    (A MOVA of four slices gives four rows of one tile, never a row's two halves.)
//  - C transposed: the same, with vertical slices (columns of C are rows of C^T).
//  - a per-channel affine after ReLU / ReLU6 / no activation (a BatchNorm that follows the
//    activation): the whole block leaves through scratch (rows, or columns for C^T), ZA is
//    zeroed, and per two rows (four vectors) one FCLAMP of four vectors is the activation
//    and two FMLAs of four vectors into a ZA group are the affine (shift, then the fused
//    x * scale + shift: the same rounding as one FMAD); one MOVA of four vectors takes them
//    back out. 2 + 2 cycles per 64 outputs where per-vector SVE costs about 24 (a register
//    copy, FMAX and FMAD per vector at 4 cycles each on the M4 model).
// Tails: rows past `rows` are not stored, columns outside the predicates are not written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/epilogue/sme2_activation.hpp"
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

// What a row goes through on its way out, fixed per tile so each row loop is straight code:
// the two-register tuple from the scratch load stays in its consecutive registers unless an
// elementwise stage must split it (a register move is 4 cycles on the M4 model).
enum class RowStages { kStore, kClamp, kFull };

template <RowStages kStages, Activation kAct = Activation::kNone>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x2_t finish_pair(const EpiloguePlan& p,
                                                                svfloat32x2_t v,
                                                                svfloat32x2_t scale,
                                                                svfloat32x2_t shift, svfloat32_t lo,
                                                                svfloat32_t hi) SME2K_STREAMING {
  if constexpr (kStages == RowStages::kStore) {
    return v;
  } else if constexpr (kStages == RowStages::kClamp) {
    return svclamp(v, lo, hi);  // one four-cycle FCLAMP for both vectors
  } else {
    return svcreate2(finish_as<kAct>(p, svget2(v, 0), svget2(scale, 0), svget2(shift, 0), lo, hi),
                     finish_as<kAct>(p, svget2(v, 1), svget2(scale, 1), svget2(shift, 1), lo, hi));
  }
}

// Rows [0, rows) of a VL-row half held in tiles kLeft and kRight, through `scratch` (4 rows
// of 2VL floats, used in turn so consecutive rows do not wait on one buffer).
template <int kLeft, int kRight, RowStages kStages, Activation kAct, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_half_via_memory(
    size_t rows, const EpiloguePlan& p, svbool_t cols_lo, svbool_t cols_hi, svbool_t cols_f16,
    svfloat32x2_t scale, svfloat32x2_t shift, svfloat32_t lo, svfloat32_t hi, Out* c, size_t ldc,
    float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const svbool_t all = all_lanes(0.0f);
  for (uint32_t i = 0; i < rows; ++i, c += ldc) {
    float* row = scratch + (i % 4) * 2 * vl;
    svst1_hor_za32(kLeft, i, all, row);
    svst1_hor_za32(kRight, i, all, row + vl);
    const svfloat32x2_t v =
        finish_pair<kStages, kAct>(p, svld1_x2(svptrue_c32(), row), scale, shift, lo, hi);
    if constexpr (std::is_same_v<Out, float>) {
      svst1(cols_lo, c, svget2(v, 0));
      svst1(cols_hi, c + vl, svget2(v, 1));
    } else {
      store_narrow_x2(cols_f16, c, v);  // f16 or bf16
    }
  }
}

template <RowStages kStages, Activation kAct, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_rows_via_memory(
    size_t rows, const EpiloguePlan& p, svbool_t cols_lo, svbool_t cols_hi, svbool_t cols_f16,
    svfloat32x2_t scale, svfloat32x2_t shift, svfloat32_t lo, svfloat32_t hi, Out* c, size_t ldc,
    float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  store_half_via_memory<0, 1, kStages, kAct>(rows < vl ? rows : vl, p, cols_lo, cols_hi, cols_f16,
                                             scale, shift, lo, hi, c, ldc, scratch);
  if (rows > vl) {
    store_half_via_memory<2, 3, kStages, kAct>(rows - vl, p, cols_lo, cols_hi, cols_f16, scale,
                                               shift, lo, hi, c + vl * ldc, ldc, scratch);
  }
}

// Columns [0, cols) of the VL-column half held in tiles kTop (rows 0..VL-1) and kBottom
// (rows VL..2VL-1), as rows of C^T: vertical slices, straight to C^T for a plain f32 store,
// else through `scratch` and kStages (one output channel per row: scalar scale and shift).
// The f32 at `value`, in every lane, by one load-and-replicate (LD1RW: a load on the M4
// model, where a DUP from a register would be a 4-cycle instruction).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t broadcast_load(svbool_t all, const float* value)
    SME2K_STREAMING {
  svfloat32_t v;
  asm("ld1rw {%0.s}, %1/z, [%2]" : "=w"(v) : "Upl"(all), "r"(value) : "memory");
  return v;
}

template <int kTop, int kBottom, RowStages kStages, Activation kAct, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_half_transposed(
    size_t cols, size_t n0, const EpiloguePlan& p, svbool_t rows_lo, svbool_t rows_hi,
    svbool_t rows_f16, svfloat32_t lo, svfloat32_t hi, Out* ct, size_t ldct,
    float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const svbool_t all = all_lanes(0.0f);
  const svfloat32_t one = svdup_f32(1.0f), zero = svdup_f32(0.0f);
  for (uint32_t j = 0; j < cols; ++j, ct += ldct) {
    if constexpr (std::is_same_v<Out, float> && kStages == RowStages::kStore) {
      svst1_ver_za32(kTop, j, rows_lo, ct);
      svst1_ver_za32(kBottom, j, rows_hi, ct + vl);
    } else {
      float* row = scratch + (j % 4) * 2 * vl;
      svst1_ver_za32(kTop, j, all, row);
      svst1_ver_za32(kBottom, j, all, row + vl);
      svfloat32x2_t v = svld1_x2(svptrue_c32(), row);
      if constexpr (kStages == RowStages::kFull) {
        if (p.scale != nullptr || p.shift != nullptr) {
          const svfloat32_t scale =
              p.scale != nullptr ? broadcast_load(all, p.scale + n0 + j) : one;
          const svfloat32_t shift =
              p.shift != nullptr ? broadcast_load(all, p.shift + n0 + j) : zero;
          v = finish_pair<kStages, kAct>(p, v, svcreate2(scale, scale), svcreate2(shift, shift), lo,
                                         hi);
        } else {
          v = finish_pair<kStages, kAct>(p, v, svundef2_f32(), svundef2_f32(), lo, hi);
        }
      } else {
        v = finish_pair<kStages>(p, v, svundef2_f32(), svundef2_f32(), lo, hi);
      }
      if constexpr (std::is_same_v<Out, float>) {
        svst1(rows_lo, ct, svget2(v, 0));
        svst1(rows_hi, ct + vl, svget2(v, 1));
      } else {
        store_narrow_x2(rows_f16, ct, v);
      }
    }
  }
}

}  // namespace detail

/// Rows [0, rows) of the block, columns [n0, n_end) of C, through a scratch row (see the top
/// of this file), through kStages (the plan's activation, affine and clamp as needed), as
/// f32 or f16.
/// @param[in] c        C at (row 0 of the block, column n0)
/// @param[in] scratch  4 x 2VL floats
template <detail::RowStages kStages, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_2vlx2vl_via_memory(
    size_t rows, size_t n0, size_t n_end, const EpiloguePlan& p, Out* c, size_t ldc,
    float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const svbool_t cols_lo = svwhilelt_b32_u64(n0, n_end);
  const svbool_t cols_hi = svwhilelt_b32_u64(n0 + vl, n_end);
  const svbool_t cols_f16 = svwhilelt_b16_u64(n0, n_end);
  using detail::RowStages;
  if constexpr (kStages == RowStages::kFull) {
    const svcount_t in_n = svwhilelt_c32_u64(n0, n_end, 2);  // never reads past N
    const svfloat32x2_t scale = p.scale != nullptr ? svld1_x2(in_n, p.scale + n0)
                                                   : svcreate2(svdup_f32(1.0f), svdup_f32(1.0f));
    const svfloat32x2_t shift = p.shift != nullptr ? svld1_x2(in_n, p.shift + n0)
                                                   : svcreate2(svdup_f32(0.0f), svdup_f32(0.0f));
    const svfloat32_t lo = svdup_f32(p.clamp.min), hi = svdup_f32(p.clamp.max);
    // One row loop per activation, so its constants stay in registers across the rows.
    switch (p.activation) {
#define SME2K_ROWS_AS(act)                                          \
  case Activation::act:                                             \
    return detail::store_rows_via_memory<kStages, Activation::act>( \
        rows, p, cols_lo, cols_hi, cols_f16, scale, shift, lo, hi, c, ldc, scratch);
      SME2K_ROWS_AS(kNone)
      SME2K_ROWS_AS(kRelu)
      SME2K_ROWS_AS(kRelu6)
      SME2K_ROWS_AS(kHardSwish)
      SME2K_ROWS_AS(kGelu)
      SME2K_ROWS_AS(kSilu)
#undef SME2K_ROWS_AS
    }
  } else if constexpr (kStages == RowStages::kClamp) {
    detail::store_rows_via_memory<kStages, Activation::kNone>(
        rows, p, cols_lo, cols_hi, cols_f16, svundef2_f32(), svundef2_f32(), svdup_f32(p.clamp.min),
        svdup_f32(p.clamp.max), c, ldc, scratch);
  } else {
    detail::store_rows_via_memory<kStages, Activation::kNone>(
        rows, p, cols_lo, cols_hi, cols_f16, svundef2_f32(), svundef2_f32(), svundef_f32(),
        svundef_f32(), c, ldc, scratch);
  }
}

template <detail::RowStages kStages, Activation kAct, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_2vlx2vl_transposed_as(
    size_t rows, size_t n0, size_t n_end, const EpiloguePlan& p, Out* ct, size_t ldct,
    float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const size_t cols = n_end - n0 < 2 * vl ? n_end - n0 : 2 * vl;
  const svbool_t rows_lo = svwhilelt_b32_u64(0, rows);
  const svbool_t rows_hi = svwhilelt_b32_u64(vl, rows);
  const svbool_t rows_f16 = svwhilelt_b16_u64(0, rows);
  const bool clamps = kStages != detail::RowStages::kStore;
  const svfloat32_t lo = clamps ? svdup_f32(p.clamp.min) : svundef_f32();
  const svfloat32_t hi = clamps ? svdup_f32(p.clamp.max) : svundef_f32();
  detail::store_half_transposed<0, 2, kStages, kAct>(cols < vl ? cols : vl, n0, p, rows_lo, rows_hi,
                                                     rows_f16, lo, hi, ct, ldct, scratch);
  if (cols > vl) {
    detail::store_half_transposed<1, 3, kStages, kAct>(
        cols - vl, n0 + vl, p, rows_lo, rows_hi, rows_f16, lo, hi, ct + vl * ldct, ldct, scratch);
  }
}

/// The block transposed: columns [n0, n_end) of C become rows of C^T, rows [0, rows) of the
/// block their first elements. Vertical ZA slices are the columns of C, so this costs what
/// a row-major store costs.
/// @param[in] ct  C^T at (row n0, column of the block's row 0)
template <class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_2vlx2vl_transposed(
    size_t rows, size_t n0, size_t n_end, const EpiloguePlan& p, Out* ct, size_t ldct,
    float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  using detail::RowStages;
  if (p.elementwise()) {
    switch (p.activation) {  // one column loop per activation (see store_2vlx2vl_via_memory)
#define SME2K_COLUMNS_AS(act)                                                                     \
  case Activation::act:                                                                           \
    return store_2vlx2vl_transposed_as<RowStages::kFull, Activation::act>(rows, n0, n_end, p, ct, \
                                                                          ldct, scratch);
      SME2K_COLUMNS_AS(kNone)
      SME2K_COLUMNS_AS(kRelu)
      SME2K_COLUMNS_AS(kRelu6)
      SME2K_COLUMNS_AS(kHardSwish)
      SME2K_COLUMNS_AS(kGelu)
      SME2K_COLUMNS_AS(kSilu)
#undef SME2K_COLUMNS_AS
    }
  } else if (p.clamped) {
    store_2vlx2vl_transposed_as<RowStages::kClamp, Activation::kNone>(rows, n0, n_end, p, ct, ldct,
                                                                      scratch);
  } else {
    store_2vlx2vl_transposed_as<RowStages::kStore, Activation::kNone>(rows, n0, n_end, p, ct, ldct,
                                                                      scratch);
  }
}

/// Whether store_2vlx2vl_in_za() serves an epilogue: a per-channel affine after no
/// activation, ReLU or ReLU6, or hard-swish without one (then any clamp).
inline bool epilogue_in_za(const EpiloguePlan& p) {
  const bool affine = p.scale != nullptr || p.shift != nullptr;
  return (affine && (p.activation == Activation::kNone || p.activation == Activation::kRelu ||
                     p.activation == Activation::kRelu6)) ||
         (!affine && p.activation == Activation::kHardSwish);
}

namespace detail {
// The block to `scratch` as `lines` lines of 2VL floats: rows of C, or (kTransposed) its
// columns (vertical slices). Stores only: the load/store budget of a compute-bound kernel.
template <bool kTransposed>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void block_to_lines(size_t lines, float* scratch)
    SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const svbool_t all = all_lanes(0.0f);
  for (uint32_t i = 0; i < vl && i < lines; ++i) {
    float* line = scratch + i * 2 * vl;
    if constexpr (kTransposed) {
      svst1_ver_za32(0, i, all, line);
      svst1_ver_za32(2, i, all, line + vl);
    } else {
      svst1_hor_za32(0, i, all, line);
      svst1_hor_za32(1, i, all, line + vl);
    }
  }
  for (uint32_t i = 0; i + vl < lines; ++i) {
    float* line = scratch + (vl + i) * 2 * vl;
    if constexpr (kTransposed) {
      svst1_ver_za32(1, i, all, line);
      svst1_ver_za32(3, i, all, line + vl);
    } else {
      svst1_hor_za32(2, i, all, line);
      svst1_hor_za32(3, i, all, line + vl);
    }
  }
}

// Two lines of 2VL (four vectors r; the second only if `second`) to `line` and line + ld, as
// f32 (w_lo / w_hi select the elements) or f16 (w_f16, one two-to-one FCVT per line).
template <class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_line_pair(svfloat32x4_t r, bool second,
                                                           svbool_t w_lo, svbool_t w_hi,
                                                           svbool_t w_f16, Out* line,
                                                           size_t ld) SME2K_STREAMING {
  const size_t vl = svcntsw();
  if constexpr (std::is_same_v<Out, float>) {
    svst1(w_lo, line, svget4(r, 0));
    svst1(w_hi, line + vl, svget4(r, 1));
    if (second) {
      svst1(w_lo, line + ld, svget4(r, 2));
      svst1(w_hi, line + ld + vl, svget4(r, 3));
    }
  } else {
    store_narrow_x2(w_f16, line, svcreate2(svget4(r, 0), svget4(r, 1)));
    if (second) store_narrow_x2(w_f16, line + ld, svcreate2(svget4(r, 2), svget4(r, 3)));
  }
}

// The value at `value` in every lane, kept apart from any other such load (a copy of one
// register into another would be a 4-cycle instruction on the M4 model).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t
broadcast_load_apart(svbool_t all, const float* value) SME2K_STREAMING {
  svfloat32_t v;
  asm volatile("ld1rw {%0.s}, %1/z, [%2]" : "=w"(v) : "Upl"(all), "r"(value) : "memory");
  return v;
}

// Four vectors as a tuple the compiler keeps in four registers across a loop: each one
// passed through an empty asm, so equal values are not merged into one register and copied
// back into the tuple every iteration (4 cycles per copy on the M4 model).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t distinct4(svfloat32_t a, svfloat32_t b,
                                                              svfloat32_t c,
                                                              svfloat32_t d) SME2K_STREAMING {
  asm("" : "+w"(a), "+w"(b), "+w"(c), "+w"(d));
  return svcreate4(a, b, c, d);
}
}  // namespace detail

/// Rows [0, rows) x columns [n0, n_end) of the block through activation (none, ReLU,
/// ReLU6) and the per-channel affine in ZA, or hard-swish in ZA (x * clamp(x / 6 + 0.5, 0, 1):
/// an FMLA into a group preloaded with 0.5, FCLAMP, an FMLA of x by it into the group
/// zeroed again), then the clamp; row-major C at c (row 0, column n0), or (kTransposed) C^T
/// at (row n0, column of the block's row 0). Clobbers all of ZA.
/// @param[in] scratch  4 VL^2 floats (the block)
template <bool kTransposed, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_2vlx2vl_in_za(
    size_t rows, size_t n0, size_t n_end, const EpiloguePlan& p, Out* c, size_t ldc,
    float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const svbool_t all = all_lanes(0.0f);
  const size_t cols = n_end - n0 < 2 * vl ? n_end - n0 : 2 * vl;
  // 1. The block to scratch as lines of 2VL: rows of C, or (transposed) its columns.
  const size_t lines = kTransposed ? cols : rows;
  detail::block_to_lines<kTransposed>(lines, scratch);
  svzero_za();
  // 2. Per two lines (four vectors), into ZA group g (g < VL: one per pair): the shift
  //    (ones x shift), then + activation(x) x scale.
  const svfloat32_t one = svdup_f32(1.0f);
  const svfloat32x4_t ones = detail::distinct4(one, one, one, one);
  const float* scale = p.scale;
  const float* shift = p.shift;
  svfloat32x4_t s4, t4;  // row-major: per lane (the two halves, twice); transposed: per line
  if constexpr (!kTransposed) {
    const svcount_t in_n = svwhilelt_c32_u64(n0, n_end, 2);  // never reads past N
    const svfloat32x2_t s2 = scale != nullptr ? svld1_x2(in_n, scale + n0) : svcreate2(one, one);
    const svfloat32x2_t t2 =
        shift != nullptr ? svld1_x2(in_n, shift + n0) : svcreate2(svdup_f32(0.0f), svdup_f32(0.0f));
    s4 = detail::distinct4(svget2(s2, 0), svget2(s2, 1), svget2(s2, 0), svget2(s2, 1));
    t4 = detail::distinct4(svget2(t2, 0), svget2(t2, 1), svget2(t2, 0), svget2(t2, 1));
  }
  const float kOne = 1.0f, kZero = 0.0f;
  svfloat32_t relu_hi = svdup_f32(p.activation == Activation::kRelu6 ? 6.0f : __builtin_inff());
  svfloat32_t zero = svdup_f32(0.0f);
  asm("" : "+w"(relu_hi), "+w"(zero));  // made once, not per pair
  if (p.activation == Activation::kHardSwish) {
    svfloat32_t half = svdup_f32(0.5f), sixth = svdup_f32(1.0f / 6.0f);
    asm("" : "+w"(sixth));
    const svfloat32x4_t halves = detail::distinct4(half, half, half, half);
    for (uint32_t i = 0, g = 0; i < lines; i += 2, ++g) {  // t = 0.5 + x / 6, one rounding
      svmla_za32_f32_vg1x4(g, ones, halves);
      svmla_single_za32_f32_vg1x4(g, svld1_x4(svptrue_c32(), scratch + i * 2 * vl), sixth);
    }
    const svfloat32x4_t zeros = detail::distinct4(zero, zero, zero, zero);
    for (uint32_t i = 0, g = 0; i < lines; i += 2, ++g) {  // x * clamp(t, 0, 1)
      const svfloat32x4_t t = svclamp(svread_za32_f32_vg1x4(g), zero, svget4(ones, 0));
      svwrite_za32_f32_vg1x4(g, zeros);
      svmla_za32_f32_vg1x4(g, svld1_x4(svptrue_c32(), scratch + i * 2 * vl), t);
    }
  }
  for (uint32_t i = 0, g = 0; i < lines && p.activation != Activation::kHardSwish; i += 2, ++g) {
    svfloat32x4_t v = svld1_x4(svptrue_c32(), scratch + i * 2 * vl);
    if (p.activation != Activation::kNone) v = svclamp(v, zero, relu_hi);
    if constexpr (kTransposed) {  // line i is channel n0 + i: one scale for its two vectors
      const size_t ch = n0 + i, next = i + 1 < lines ? ch + 1 : ch;
      const float* sa = scale != nullptr ? scale + ch : &kOne;
      const float* sb = scale != nullptr ? scale + next : &kOne;
      const float* ta = shift != nullptr ? shift + ch : &kZero;
      const float* tb = shift != nullptr ? shift + next : &kZero;
      s4 = svcreate4(detail::broadcast_load_apart(all, sa), detail::broadcast_load_apart(all, sa),
                     detail::broadcast_load_apart(all, sb), detail::broadcast_load_apart(all, sb));
      t4 = svcreate4(detail::broadcast_load_apart(all, ta), detail::broadcast_load_apart(all, ta),
                     detail::broadcast_load_apart(all, tb), detail::broadcast_load_apart(all, tb));
    }
    svmla_za32_f32_vg1x4(g, ones, t4);
    svmla_za32_f32_vg1x4(g, v, s4);
  }
  // 3. Out: clamp, convert, store (rows of C, or of C^T).
  const svfloat32_t lo = svdup_f32(p.clamp.min), hi = svdup_f32(p.clamp.max);
  const size_t width = kTransposed ? rows : cols;  // elements per stored line
  const svbool_t w_lo = svwhilelt_b32_u64(0, width), w_hi = svwhilelt_b32_u64(vl, width);
  const svbool_t w_f16 = svwhilelt_b16_u64(0, width);
  for (uint32_t i = 0, g = 0; i < lines; i += 2, ++g) {
    svfloat32x4_t r = svread_za32_f32_vg1x4(g);
    if (p.clamped) r = svclamp(r, lo, hi);
    detail::store_line_pair(r, i + 1 < lines, w_lo, w_hi, w_f16, c + i * ldc, ldc);
  }
}

/// Bytes of scratch the stores through memory need for a VL (the block, for the affine in
/// ZA).
constexpr size_t epilogue_scratch_bytes(size_t vl) { return 4 * vl * vl * sizeof(float); }

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
