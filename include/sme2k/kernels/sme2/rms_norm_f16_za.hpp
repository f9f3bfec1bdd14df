// RMSNorm of f16 rows on SME2 without a streaming SVE conversion per input vector: the
// widening multi-vector FMLAL (f16 x f16 -> f32 in ZA, one instruction for four rows of 2VL
// elements, 2 M4 cycles) squares and sums the rows exactly in pass 1, and in pass 2 widens x
// (times ones) into ZA, where the even and odd elements land in two vectors. The scaling
// then runs on those halves (FMLA vgx4 by r, by the weight loaded as even / odd pairs, LD2W)
// and FCVTN, which interleaves while it narrows, puts the elements back in order: one
// streaming SVE instruction (4 M4 cycles) per 2VL outputs, the floor of an f16 output
// without FEAT_SME_F16F16, where the f32 path of kernels/sme2/row_norm_za.hpp spends three.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/kernels/row_op_args.hpp"
#include "sme2k/kernels/sme2/row_io_za.hpp"
#include "sme2k/kernels/sme2/row_norm_za.hpp"
#include "sme2k/types/f16.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {
namespace detail {

SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat16x4_t load_f16_x4(svbool_t pg, const f16* const* rows,
                                                                size_t c) SME2K_STREAMING {
  using H = const float16_t*;
  return svcreate4(
      svld1(pg, reinterpret_cast<H>(rows[0] + c)), svld1(pg, reinterpret_cast<H>(rows[1] + c)),
      svld1(pg, reinterpret_cast<H>(rows[2] + c)), svld1(pg, reinterpret_cast<H>(rows[3] + c)));
}

/// Weights [c, c + 2VL) as (even, odd) elements; past cols 0, never read.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x2_t load_even_odd(const float* w, size_t c,
                                                                  size_t cols) SME2K_STREAMING {
  const size_t vl = svcntw();
  if (c + 2 * vl <= cols) return svld2(svptrue_b32(), w + c);
  const svfloat32_t lo = svld1(svwhilelt_b32_u64(c, cols), w + c);
  const svfloat32_t hi = svld1(svwhilelt_b32_u64(c + vl, cols), w + c + vl);
  return svcreate2(svuzp1(lo, hi), svuzp2(lo, hi));
}

/// Stores rows[0 .. valid) at [c, c + 2VL) from the even (slot kEven) and odd (kEven + 1)
/// elements in ZA: slot s, row q is ZA vector s + q VL, i.e. slice q VL / 4 of tile s. Single
/// slice reads land where FCVTN wants its register pair (a vgx4 read would need moves).
template <uint64_t kEven>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_f16_rows(svbool_t pg, float16_t* const* rows,
                                                          size_t valid,
                                                          size_t c) SME2K_STREAMING SME2K_INOUT_ZA {
  const svbool_t all = svptrue_b32();
  const svfloat32_t undef = svundef_f32();
  const uint32_t step = static_cast<uint32_t>(svcntsw() / 4);
  for (size_t q = 0; q < valid; ++q) {
    const uint32_t slice = za_slice(0) + static_cast<uint32_t>(q) * step;
    const svfloat32_t e = svread_hor_za32_f32_m(undef, all, kEven, slice);
    const svfloat32_t o = svread_hor_za32_f32_m(undef, all, kEven + 1, slice);
    svst1(pg, rows[q] + c, svcvtn_f16_f32_x2(svcreate2(e, o)));
  }
}

/// Pass 2 of one group of four rows at [c, c + 2VL).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void rms_scale_group_f16(
    const RowBlock<f16, 16>& b, size_t g, svfloat32x4_t r, svfloat16_t one, const float* weight,
    svfloat32x2_t w, svbool_t pg, size_t c) SME2K_STREAMING SME2K_INOUT_ZA {
  svzero_za();
  svmla_single_za32_f16_vg2x4(za_slice(0), load_f16_x4(pg, b.x + 4 * g, c), one);
  svmla_za32_f32_vg1x4(za_slice(0) + 2, svread_za32_f32_vg1x4(za_slice(0)), r);
  svmla_za32_f32_vg1x4(za_slice(0) + 3, svread_za32_f32_vg1x4(za_slice(0) + 1), r);
  if (weight != nullptr) {
    svzero_mask_za(za32_slot_mask(0) | za32_slot_mask(1));
    svmla_single_za32_f32_vg1x4(za_slice(0), svread_za32_f32_vg1x4(za_slice(0) + 2), svget2(w, 0));
    svmla_single_za32_f32_vg1x4(za_slice(0) + 1, svread_za32_f32_vg1x4(za_slice(0) + 3),
                                svget2(w, 1));
    store_f16_rows<0>(pg, reinterpret_cast<float16_t* const*>(b.y + 4 * g), b.valid_in(g), c);
  } else {
    store_f16_rows<2>(pg, reinterpret_cast<float16_t* const*>(b.y + 4 * g), b.valid_in(g), c);
  }
}

SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t inv_rms_of(const float* sums, float n,
                                                               float eps) SME2K_STREAMING {
  const svbool_t all = svptrue_b32();
  const svfloat32_t one = svdup_f32(1.0f);
  return svcreate4(svdiv_x(all, one, svsqrt_x(all, svdup_f32(sums[0] / n + eps))),
                   svdiv_x(all, one, svsqrt_x(all, svdup_f32(sums[1] / n + eps))),
                   svdiv_x(all, one, svsqrt_x(all, svdup_f32(sums[2] / n + eps))),
                   svdiv_x(all, one, svsqrt_x(all, svdup_f32(sums[3] / n + eps))));
}

}  // namespace detail

/// RMSNorm of f16 rows [r0, r0 + n) of a, n <= 16.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void rms_norm_f16_block_za(
    const RowNormArgs<f16>& a, size_t r0, size_t n) SME2K_STREAMING SME2K_INOUT_ZA {
  const detail::RowBlock<f16, 16> b(a, r0, n);
  const size_t vh = svcnth(), groups = (n + 3) / 4;
  // A group's squares take two slots (even, odd elements): VL / 2 groups fit at once.
  const size_t per_sweep = svcntw() / 2 < 4 ? svcntw() / 2 : 4;
  const svbool_t all = all_lanes(float{});
  float sums[16] = {};
  for (size_t g0 = 0; g0 < groups; g0 += per_sweep) {
    const size_t g1 = g0 + per_sweep < groups ? g0 + per_sweep : groups;
    svzero_za();
    for (size_t c = 0; c < a.cols; c += vh) {
      const svbool_t pg = svwhilelt_b16_u64(c, a.cols);
      for (size_t g = g0; g < g1; ++g) {
        const svfloat16x4_t v = detail::load_f16_x4(pg, b.x + 4 * g, c);
        svmla_za32_f16_vg2x4(za_slice(0) + static_cast<uint32_t>(2 * (g - g0)), v, v);
      }
    }
    for (size_t g = g0; g < g1; ++g) {
      const uint32_t slot = za_slice(0) + static_cast<uint32_t>(2 * (g - g0));
      const svfloat32x4_t e = svread_za32_f32_vg1x4(slot), o = svread_za32_f32_vg1x4(slot + 1);
      sums[4 * g] = svaddv(all, svadd_x(all, svget4(e, 0), svget4(o, 0)));
      sums[4 * g + 1] = svaddv(all, svadd_x(all, svget4(e, 1), svget4(o, 1)));
      sums[4 * g + 2] = svaddv(all, svadd_x(all, svget4(e, 2), svget4(o, 2)));
      sums[4 * g + 3] = svaddv(all, svadd_x(all, svget4(e, 3), svget4(o, 3)));
    }
  }
  const float cols = static_cast<float>(a.cols);
  const svfloat32x4_t r0v = detail::inv_rms_of(sums, cols, a.eps);
  const svfloat32x4_t r1v = detail::inv_rms_of(sums + 4, cols, a.eps);
  const svfloat32x4_t r2v = detail::inv_rms_of(sums + 8, cols, a.eps);
  const svfloat32x4_t r3v = detail::inv_rms_of(sums + 12, cols, a.eps);
  svfloat16_t one = svdup_f16(1.0);
  asm("" : "+w"(one));  // a register, not re-made per group (arch/acle.hpp, all_lanes)
  svfloat32x2_t w = svcreate2(svdup_f32(1.0f), svdup_f32(1.0f));
  for (size_t c = 0; c < a.cols; c += vh) {
    const svbool_t pg = svwhilelt_b16_u64(c, a.cols);
    if (a.weight != nullptr) w = detail::load_even_odd(a.weight, c, a.cols);
    detail::rms_scale_group_f16(b, 0, r0v, one, a.weight, w, pg, c);
    if (groups > 1) detail::rms_scale_group_f16(b, 1, r1v, one, a.weight, w, pg, c);
    if (groups > 2) detail::rms_scale_group_f16(b, 2, r2v, one, a.weight, w, pg, c);
    if (groups > 3) detail::rms_scale_group_f16(b, 3, r3v, one, a.weight, w, pg, c);
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
