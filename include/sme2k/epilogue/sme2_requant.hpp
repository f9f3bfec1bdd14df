// The SME2 "how" of requantizing a 2VL x 2VL int32 accumulator block (ZA tiles 0..3, as in
// epilogue/sme2_store.hpp) to int8, exactly as types/quantization.hpp defines it.
//
// Two rows at a time leave ZA through a scratch row pair (st1w: store bandwidth, idle in the
// compute-bound int8 kernel) and come back as four consecutive int32 vectors, so every step
// but the scale multiply is one four-register SME2 instruction: SCVTF, (4 x FMUL: SME2 has
// no multi-vector FMUL before SME2p2), FRINTN, FCVTZS, SCLAMP to [lo - zp, hi - zp], ADD zp,
// and the saturating SQCVT narrows the four to one vector holding both rows' int8 outputs.
// Per 2 x 2VL outputs: 6 four-register instructions and 4 FMUL (40 cycles on the M4 model
// at SVL 512: 0.63 per output).
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/quantization.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

namespace detail {

// Rows [0, rows) of the VL-row half in tiles kLeft (columns 0..VL-1) and kRight.
template <int kLeft, int kRight>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void requant_half(
    size_t rows, svfloat32_t scale_lo, svfloat32_t scale_hi, svint32_t lo, svint32_t hi,
    svint32_t zp, svbool_t first_row, svbool_t second_row, int8_t* c, size_t ldc,
    int32_t* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const svbool_t all = all_lanes(0.0f);
  for (uint32_t i = 0; i < rows; i += 2, c += 2 * ldc) {
    svst1_hor_za32(kLeft, i, all, scratch);
    svst1_hor_za32(kRight, i, all, scratch + vl);
    svst1_hor_za32(kLeft, i + 1, all, scratch + 2 * vl);  // past `rows`: computed, not stored
    svst1_hor_za32(kRight, i + 1, all, scratch + 3 * vl);
    const svfloat32x4_t f = svcvt_f32_s32_x4(svld1_x4(svptrue_c32(), scratch));
    const svfloat32x4_t y = svcreate4(
        svmul_f32_x(all, svget4(f, 0), scale_lo), svmul_f32_x(all, svget4(f, 1), scale_hi),
        svmul_f32_x(all, svget4(f, 2), scale_lo), svmul_f32_x(all, svget4(f, 3), scale_hi));
    const svint32x4_t r = svcvt_s32_f32_x4(svrintn_f32_x4(y));
    const svint8_t q = svqcvt_s8_s32_x4(svadd_single_s32_x4(svclamp(r, lo, hi), zp));
    svst1(first_row, c, q);                                    // bytes 0 .. 2VL-1: row i
    if (i + 1 < rows) svst1(second_row, c + ldc - 2 * vl, q);  // bytes 2VL .. 4VL-1: row i + 1
  }
}

}  // namespace detail

/// Rows [0, rows) of the block, columns [n0, n_end) of C, requantized with the panel's
/// per-channel pairs (`params`: 2VL Qs8ChannelParams), zero point zp and range [lo, hi].
/// @param[in] c        C at (row 0 of the block, column n0)
/// @param[in] scratch  4 x VL int32
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_2vlx2vl_requant(
    size_t rows, size_t n0, size_t n_end, const Qs8ChannelParams* params, int32_t zp, int32_t lo,
    int32_t hi, int8_t* c, size_t ldc, int32_t* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const svbool_t all = all_lanes(0.0f);
  const auto* words = reinterpret_cast<const int32_t*>(params);
  const svfloat32_t scale_lo = svreinterpret_f32(svget2(svld2_s32(all, words), 1));
  const svfloat32_t scale_hi = svreinterpret_f32(svget2(svld2_s32(all, words + 2 * vl), 1));
  const size_t cols = n_end - n0;  // > 0; at most 2VL count
  const svbool_t first_row = svwhilelt_b8_u64(0, cols < 2 * vl ? cols : 2 * vl);
  const svbool_t second_row =
      svbic_z(svptrue_b8(), svwhilelt_b8_u64(0, 2 * vl + (cols < 2 * vl ? cols : 2 * vl)),
              svwhilelt_b8_u64(0, 2 * vl));
  const svint32_t lo_v = svdup_s32(lo - zp), hi_v = svdup_s32(hi - zp), zp_v = svdup_s32(zp);
  detail::requant_half<0, 1>(rows < vl ? rows : vl, scale_lo, scale_hi, lo_v, hi_v, zp_v, first_row,
                             second_row, c, ldc, scratch);
  if (rows > vl) {
    detail::requant_half<2, 3>(rows - vl, scale_lo, scale_hi, lo_v, hi_v, zp_v, first_row,
                               second_row, c + vl * ldc, ldc, scratch);
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
