// The SME2 "how" of requantizing a 2VL x 2VL int32 accumulator block (ZA tiles 0..3, as in
// epilogue/sme2_store.hpp) to int8, exactly as types/quantization.hpp defines it.
//
// SME2 has no multi-vector FMUL before SME2p2, and on the Apple M4 model four single FMULs
// (16 cycles per four vectors) would cost more than everything else together. So the
// multiply runs in ZA: the block leaves ZA as int32 rows into scratch (store bandwidth is
// idle in the compute-bound int8 kernel), ZA is zeroed, and per four rows of one column
// half one SCVTF of four vectors and one FMLA of the four by that half's scale vector
// (za += f * scale: the product rounded once, as the definition asks, since the addend is
// zero) put f32 products back into ZA; STR ZA takes them out, and FRINTN, FCVTZS, (SCLAMP),
// ADD of the zero point and the saturating SQCVT (four int32 vectors to one int8 vector:
// four rows' halves) finish, one four-register instruction each. Per 4 x VL outputs: 6 or 7
// four-register instructions (4 cycles each) and one FMLA (2): 26 to 30 cycles at SVL 512,
// 0.41 to 0.47 per output. The SCLAMP is skipped when
// the range is all of int8 and every scale is below 0.5 (then r + zp cannot overflow and
// SQCVT's saturation is the clamp).
//
// The int8 stages (epilogue/ops.hpp Int8Stages) follow in registers and ZA: the affine
// takes q1 - zp1 as the rounded product clamped in f32 (no int round trip), writes the shift
// into the quad's ZA group, adds (q1 - zp1) * scale by one FMLA (the fused multiply-add the
// definition asks for) and reads it back for a second rounding: 5 more four-register
// instructions and 2 ZA moves per 4 x VL outputs. The table is TBL over two vectors held in
// registers: EOR + TBL at SVL >= 1024, EOR + 2 TBL + ORR at 512; below, loaded per pair.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/types/quantization.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

/// Scratch store_2vlx2vl_requant() needs: the int32 block (2VL x 2VL) and four f32 vectors,
/// then (transposed C) the int8 block.
constexpr size_t requant_scratch_bytes(size_t vl) {
  return (4 * vl * vl + 4 * vl) * 4 + 4 * vl * vl;
}

namespace detail {

// Bytes [q VL, q VL + cols) of an int8 vector: row q's quarter.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svbool_t quarter(size_t q, size_t cols) SME2K_STREAMING {
  const size_t vl = svcntsw();
  return svbic_z(svptrue_b8(), svwhilelt_b8_u64(0, q * vl + cols), svwhilelt_b8_u64(0, q * vl));
}

// table[q + 128] for the 4 x VL bytes of q (Int8Stages::table), two table vectors a TBL.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svint8_t look_up(svint8_t q,
                                                       const int8_t* table) SME2K_STREAMING {
  const svbool_t all = svptrue_b8();
  const size_t bytes = svcntb();
  svuint8_t index = sveor_n_u8_x(all, svreinterpret_u8(q), 0x80);
  svint8_t out = svdup_s8(0);
  for (size_t base = 0; base < 256; base += 2 * bytes) {
    // An index at or past 2 x bytes picks 0: entries outside this pair add nothing.
    const size_t second = base + bytes < 256 ? base + bytes : 256;
    const svint8x2_t pair = svcreate2(svld1(svwhilelt_b8_u64(base, 256), table + base),
                                      svld1(svwhilelt_b8_u64(second, 256), table + second));
    out = svorr_x(all, out, svtbl2(pair, index));
    index = svsub_n_u8_x(all, index, static_cast<uint8_t>(2 * bytes));
  }
  return out;
}

// What the quads of one column half need beyond the requantization (Int8Stages).
struct HalfStages {
  const float* scale;  // the half's VL affine scales, or nullptr
  const float* shift;
  size_t cols;  // the half's valid columns
  int32_t zero_point, lo, hi;
  const int8_t* table;
};

// Column half kHalf of the block (stored [row][VL] at `half`): products into ZA groups
// kHalf * VL/2 + g, then out as int8, four rows per vector. kAffine / kTable: the int8 stages
// (compile-time, so that no constant of one is set up, or copied, where only another runs).
template <uint32_t kHalf, bool kClamp, bool kAffine, bool kTable>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void requant_half(
    size_t rows, size_t cols, const int32_t* half, svfloat32_t scale, svint32_t lo, svint32_t hi,
    svint32_t zp, const HalfStages& stages, int8_t* c, size_t ldc,
    float* products) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const uint32_t first_group = kHalf * static_cast<uint32_t>(vl / 2);
  const size_t quads = (rows + 3) / 4;
  for (uint32_t g = 0; g < quads; ++g) {
    const svfloat32x4_t f = svcvt_f32_s32_x4(svld1_x4(svptrue_c32(), half + 4 * g * vl));
    svmla_single_za32_f32_vg1x4(first_group + g, f, scale);
  }
  const svbool_t q0 = quarter(0, cols), q1 = quarter(1, cols), q2 = quarter(2, cols),
                 q3 = quarter(3, cols);
  // The affine's per-column constants, q1's range as floats, the final zero point and range.
  svfloat32_t a_scale = svundef_f32(), lo_f = svundef_f32(), hi_f = svundef_f32();
  svfloat32x4_t shift4 = svundef4_f32();
  svint32_t out_lo = lo, out_hi = hi, out_zp = zp;
  if constexpr (kAffine) {
    const svbool_t valid = svwhilelt_b32_u64(0, stages.cols);
    a_scale = svld1(valid, stages.scale);
    // The shift as the four-register tuple MOVA writes, built once per half: four
    // registers, not one copied per quad (clang merges four loads of it and copies).
    svfloat32_t shift0 = svld1(valid, stages.shift);
    svfloat32_t shift1 = shift0, shift2 = shift0, shift3 = shift0;
    asm("" : "+w"(shift1), "+w"(shift2), "+w"(shift3));
    shift4 = svcreate4(shift0, shift1, shift2, shift3);
    out_zp = svdup_s32(stages.zero_point);
    out_lo = svdup_s32(stages.lo - stages.zero_point);
    out_hi = svdup_s32(stages.hi - stages.zero_point);
    lo_f = svcvt_f32_s32_x(svptrue_b32(), lo);
    hi_f = svcvt_f32_s32_x(svptrue_b32(), hi);
  }
  // The table's four vectors at SVL 512 and above (below, look_up() loads as it goes), and
  // 0x80 in a register (ADD of two vectors writes a new one, EOR #0x80 would need a copy).
  const size_t bytes = svcntb();
  svuint8_t flip = svundef_u8();
  svint8x2_t low_half = svundef2_s8(), high_half = svundef2_s8();
  if constexpr (kTable) {
    flip = svdup_u8(0x80);
    asm("" : "+w"(flip));
  }
  if (kTable && bytes >= 64) {
    const int8_t* t = stages.table;
    low_half = svcreate2(svld1(svwhilelt_b8_u64(0, 256), t),
                         svld1(svwhilelt_b8_u64(bytes, 256), t + bytes));
    if (bytes == 64)
      high_half = svcreate2(svld1(svptrue_b8(), t + 128), svld1(svptrue_b8(), t + 192));
  }
  for (uint32_t g = 0; g < quads; ++g, c += 4 * ldc) {
    const uint32_t group = first_group + g;
    svstr_za(group, products);
    svstr_za(group + static_cast<uint32_t>(vl), products + vl);
    svstr_za(group + 2 * static_cast<uint32_t>(vl), products + 2 * vl);
    svstr_za(group + 3 * static_cast<uint32_t>(vl), products + 3 * vl);
    const svfloat32x4_t rounded = svrintn_f32_x4(svld1_x4(svptrue_c32(), products));
    svint32x4_t r;
    if constexpr (kAffine) {
      // q1 - zp1 = the rounded product clamped to [lo - zp1, hi - zp1], exact in f32 (the
      // same as converting, then clamping); za = shift + (q1 - zp1) * scale, fused; rounded
      // again.
      svwrite_za32_f32_vg1x4(group, shift4);
      svmla_single_za32_f32_vg1x4(group, svclamp(rounded, lo_f, hi_f), a_scale);
      r = svclamp(svcvt_s32_f32_x4(svrintn_f32_x4(svread_za32_f32_vg1x4(group))), out_lo, out_hi);
    } else {
      r = svcvt_s32_f32_x4(rounded);
      if constexpr (kClamp) r = svclamp(r, lo, hi);
    }
    svint8_t out = svqcvt_s8_s32_x4(svadd_single_s32_x4(r, out_zp));
    if constexpr (kTable) {
      // Index q + 128 (as a byte): the first 2 x bytes entries by TBL over two
      // vectors; at SVL 512 the upper 128 by q itself (an index >= 128 there picks 0).
      const svuint8_t q = svreinterpret_u8(out);
      if (bytes >= 64) {
        out = svtbl2(low_half, svadd_x(svptrue_b8(), q, flip));
        if (bytes == 64) out = svorr_x(svptrue_b8(), out, svtbl2(high_half, q));
      } else {
        out = look_up(out, stages.table);
      }
    }
    const size_t left = rows - 4 * g;  // rows still to store, >= 1
    svst1(q0, c, out);
    if (left > 1) svst1(q1, c + ldc - vl, out);
    if (left > 2) svst1(q2, c + 2 * ldc - 2 * vl, out);
    if (left > 3) svst1(q3, c + 3 * ldc - 3 * vl, out);
  }
}

// A block's two column halves as store_2vlx2vl_requant() lays them out.
struct BlockHalves {
  size_t rows, cols;
  const int32_t *left, *right;  // [row][VL] int32 of each half
  const int32_t* params;        // the panel's (bias, scale) words
  HalfStages stages;            // the left half's
  int8_t* out;
  size_t ld;
  float* products;
};

template <bool kClamp, bool kAffine, bool kTable>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void requant_halves(
    const BlockHalves& b, svint32_t lo, svint32_t hi, svint32_t zp) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const svbool_t all = all_lanes(0.0f);
  const size_t left_cols = b.cols < vl ? b.cols : vl;
  requant_half<0, kClamp, kAffine, kTable>(b.rows, left_cols, b.left,
                                           svreinterpret_f32(svget2(svld2_s32(all, b.params), 1)),
                                           lo, hi, zp, b.stages, b.out, b.ld, b.products);
  if (b.cols > vl) {
    HalfStages right = b.stages;
    right.cols = b.cols - vl;
    if (right.scale != nullptr) {
      right.scale += vl;
      right.shift += vl;
    }
    requant_half<1, kClamp, kAffine, kTable>(
        b.rows, b.cols - vl, b.right,
        svreinterpret_f32(svget2(svld2_s32(all, b.params + 2 * vl), 1)), lo, hi, zp, right,
        b.out + vl, b.ld, b.products);
  }
}

}  // namespace detail

/// Rows [0, rows) of the block, columns [n0, n_end) of C, requantized with the panel's
/// per-channel pairs (`params`: 2VL Qs8ChannelParams), zero point zp and range [lo, hi].
/// kClamp = false is allowed when [lo, hi] is [-128, 127] and every scale is below 0.5 and
/// there is no int8 affine. kStaged: then `stages` (columns indexed from 0 = C's column 0).
/// kTransposed: C^T (column j of the block is a row of C^T: an NCHW output's channel), the
/// int8 block turned round in the byte tile (rows in as horizontal slices, columns out as
/// vertical ones; loads and stores only). Clobbers all of ZA.
/// @param[in] c        C at (row 0 of the block, column n0), or C^T at (n0, row 0)
/// @param[in] scratch  requant_scratch_bytes(VL)
template <bool kClamp, bool kTransposed = false, bool kStaged = false>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_2vlx2vl_requant(
    size_t rows, size_t n0, size_t n_end, const Qs8ChannelParams* params, int32_t zp, int32_t lo,
    int32_t hi, const Int8Stages& stages, int8_t* c, size_t ldc,
    int32_t* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const svbool_t all = all_lanes(0.0f);
  // 1. The block as two column halves of 2VL int32 rows each ([half][row][VL]), so that four
  //    rows of one half (one scale vector) are four consecutive vectors.
  int32_t* left = scratch;
  int32_t* right = scratch + 2 * vl * vl;
  for (uint32_t i = 0; i < vl && i < rows; ++i) {
    svst1_hor_za32(/*tile=*/0, i, all, left + i * vl);
    svst1_hor_za32(/*tile=*/1, i, all, right + i * vl);
  }
  for (uint32_t i = 0; i + vl < rows; ++i) {
    svst1_hor_za32(/*tile=*/2, i, all, left + (vl + i) * vl);
    svst1_hor_za32(/*tile=*/3, i, all, right + (vl + i) * vl);
  }
  // 2. and 3. per half: products in ZA, then round, convert, zero point, narrow, store.
  svzero_za();
  const auto* words = reinterpret_cast<const int32_t*>(params);
  const size_t cols = n_end - n0 < 2 * vl ? n_end - n0 : 2 * vl;
  const svint32_t lo_v = svdup_s32(lo - zp), hi_v = svdup_s32(hi - zp), zp_v = svdup_s32(zp);
  auto* products = reinterpret_cast<float*>(scratch + 4 * vl * vl);
  int8_t* block = reinterpret_cast<int8_t*>(products + 4 * vl);  // [row][2VL], transposed C
  int8_t* out = kTransposed ? block : c;
  const size_t ld = kTransposed ? 2 * vl : ldc;
  const size_t left_cols = cols < vl ? cols : vl;
  const detail::HalfStages half{stages.scale ? stages.scale + n0 : nullptr,
                                stages.shift ? stages.shift + n0 : nullptr,
                                left_cols,
                                stages.zero_point,
                                stages.range.min,
                                stages.range.max,
                                stages.table};
  const detail::BlockHalves blk{rows, cols, left, right, words, half, out, ld, products};
  if constexpr (kStaged) {  // one copy per combination of stages: a branch per block
    if (stages.affine()) {
      stages.table != nullptr ? detail::requant_halves<kClamp, true, true>(blk, lo_v, hi_v, zp_v)
                              : detail::requant_halves<kClamp, true, false>(blk, lo_v, hi_v, zp_v);
    } else {
      stages.table != nullptr ? detail::requant_halves<kClamp, false, true>(blk, lo_v, hi_v, zp_v)
                              : detail::requant_halves<kClamp, false, false>(blk, lo_v, hi_v, zp_v);
    }
  } else {
    detail::requant_halves<kClamp, false, false>(blk, lo_v, hi_v, zp_v);
  }
  if constexpr (kTransposed) {
    const svbool_t row_bytes = svwhilelt_b8_u64(0, 2 * vl);
    for (uint32_t i = 0; i < rows; ++i) svld1_hor_za8(0, i, row_bytes, block + i * 2 * vl);
    const svbool_t in_rows = svwhilelt_b8_u64(0, rows);
    for (uint32_t j = 0; j < cols; ++j) svst1_ver_za8(0, j, in_rows, c + j * ldc);
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
