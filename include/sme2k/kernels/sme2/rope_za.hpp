// RoPE on SME2: four heads of one sequence position at a time, as one ZA vector group, so
// the position's cos / sin vectors are loaded once for the four heads and each rotation term
// is one FMLA / FMLS vgx4 (multi-vector by single vector, 2 M4 cycles for four vectors):
//   ZA group 0 = {a} * cos - {b} * sin,   ZA group 1 = {a} * sin + {b} * cos
// where a, b are the pair's elements: a the even and b the odd ones (interleaved: one LD2W,
// or for f16 one 32-bit load split by FCVT / FCVTLT), or the first and second halves of the
// rotary part (half-split: two plain loads, and f32 results leave ZA by STR ZA). Interleaved
// results are read back and stored by ST2W (f16: FCVT + FCVTNT into one 32-bit store).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/kernels/row_op_args.hpp"
#include "sme2k/kernels/sme2/row_io_za.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {
namespace detail {

/// Pairs [i, i + VL) of an interleaved row: their even (a) and odd (b) elements.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x2_t load_pairs(svbool_t pg, const float* row,
                                                               size_t i) SME2K_STREAMING {
  return svld2(pg, row + 2 * i);
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x2_t load_pairs(svbool_t pg, const f16* row,
                                                               size_t i) SME2K_STREAMING {
  // One pair is 32 bits: the even element in the bottom half, the odd one in the top.
  const svfloat16_t h =
      svreinterpret_f16(svld1(pg, reinterpret_cast<const uint32_t*>(row + 2 * i)));
  return svcreate2(svcvt_f32_f16_x(pg, h), svcvtlt_f32_f16_x(pg, h));
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_pairs(svbool_t pg, float* row, size_t i,
                                                       svfloat32_t a,
                                                       svfloat32_t b) SME2K_STREAMING {
  svst2(pg, row + 2 * i, svcreate2(a, b));
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_pairs(svbool_t pg, f16* row, size_t i,
                                                       svfloat32_t a,
                                                       svfloat32_t b) SME2K_STREAMING {
  const svfloat16_t h = svcvtnt_f16_f32_x(svcvt_f16_f32_x(pg, a), pg, b);
  svst1(pg, reinterpret_cast<uint32_t*>(row + 2 * i), svreinterpret_u32(h));
}

/// The rotation of pairs [i, i + VL) of four rows in ZA groups 0 (a') and 1 (b').
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void rotate_x4(svfloat32x4_t a, svfloat32x4_t b,
                                                     svfloat32_t c,
                                                     svfloat32_t s) SME2K_STREAMING SME2K_INOUT_ZA {
  svzero_mask_za(za32_slot_mask(0) | za32_slot_mask(1));
  svmla_single_za32_f32_vg1x4(za_slice(0), a, c);
  svmls_single_za32_f32_vg1x4(za_slice(0), b, s);
  svmla_single_za32_f32_vg1x4(za_slice(0) + 1, a, s);
  svmla_single_za32_f32_vg1x4(za_slice(0) + 1, b, c);
}

}  // namespace detail

/// RoPE of heads [h0, h0 + n) (n <= 4) of sequence index s of a.
template <class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void rope_heads_za(const RopeArgs<T>& a, size_t s, size_t h0,
                                                         size_t n) SME2K_STREAMING SME2K_INOUT_ZA {
  T* rows[4];
  for (size_t q = 0; q < 4; ++q) {
    rows[q] = a.data + s * a.seq_stride + (h0 + (q < n ? q : n - 1)) * a.head_stride;
  }
  const size_t pos =
      a.positions != nullptr ? static_cast<size_t>(a.positions[s]) : a.first_position + s;
  const float* cs = a.cos + pos * a.half;
  const float* sn = a.sin + pos * a.half;
  const size_t vl = svcntw();
  for (size_t i = 0; i < a.half; i += vl) {
    const svbool_t pg = svwhilelt_b32_u64(i, a.half);
    const svfloat32_t c = svld1(pg, cs + i), si = svld1(pg, sn + i);
    if (a.pairing == RopePairing::kHalfSplit) {
      detail::rotate_x4(load_x4_rows(pg, rows, i), load_x4_rows(pg, rows, a.half + i), c, si);
      const bool full = i + vl <= a.half;
      store_x4_rows(za_slice(0), pg, full, rows, n, i);
      store_x4_rows(za_slice(0) + 1, pg, full, rows, n, a.half + i);
    } else {
      const svfloat32x2_t p0 = detail::load_pairs(pg, rows[0], i);
      const svfloat32x2_t p1 = detail::load_pairs(pg, rows[1], i);
      const svfloat32x2_t p2 = detail::load_pairs(pg, rows[2], i);
      const svfloat32x2_t p3 = detail::load_pairs(pg, rows[3], i);
      detail::rotate_x4(svcreate4(svget2(p0, 0), svget2(p1, 0), svget2(p2, 0), svget2(p3, 0)),
                        svcreate4(svget2(p0, 1), svget2(p1, 1), svget2(p2, 1), svget2(p3, 1)), c,
                        si);
      const svfloat32x4_t ra = svread_za32_f32_vg1x4(za_slice(0));
      const svfloat32x4_t rb = svread_za32_f32_vg1x4(za_slice(0) + 1);
      detail::store_pairs(pg, rows[0], i, svget4(ra, 0), svget4(rb, 0));
      if (n > 1) detail::store_pairs(pg, rows[1], i, svget4(ra, 1), svget4(rb, 1));
      if (n > 2) detail::store_pairs(pg, rows[2], i, svget4(ra, 2), svget4(rb, 2));
      if (n > 3) detail::store_pairs(pg, rows[3], i, svget4(ra, 3), svget4(rb, 3));
    }
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
