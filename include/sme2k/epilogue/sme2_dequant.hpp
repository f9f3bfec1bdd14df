// QD8: the int32 accumulators of a 2VL x 2VL block (ZA tiles 0..3, the zero-point term
// already in them: kernels/sme2/mopa_steps.hpp start_from_zero_points) turned into f32 in
// place, so that every float way out of ZA (epilogue/sme2_store.hpp: activation, affine,
// clamp, f16, transposed) follows unchanged:
//
//   out[i][j] = fma(float(acc[i][j]), row_scale[i] * channel_scale[j], bias[j])
//
// (types/dynamic_quantization.hpp). The scale is an outer product, and so is the bias: ZA
// builds both (one FMOPA per tile each). What ZA cannot do is multiply element by element,
// which SME2's multi-vector FMLA does: za[g] += {4 vectors} * {4 vectors}. So:
//   1. the accumulators leave ZA into scratch (stores: idle in the int8 k-loop),
//   2. ZA = row_scale x channel_scale (FMOPA), which leaves into scratch too,
//   3. ZA = ones x bias (FMOPA),
//   4. per vector group g: SCVTF of four accumulator vectors, FMLA by the four matching
//      scale vectors into za[g] (the product and the bias rounded once, as the fma).
// The multi-vector ops address ZA by vector groups, the outer products by tiles: group g is
// ZA vectors g + q VL (q = 0..3), i.e. 32-bit tile g mod 4, slices g / 4 + q VL / 4. Steps 1
// and 2 store each slice where its group wants it, so a group's four vectors are consecutive
// in scratch. Per 4VL outputs: one SCVTF (4 cycles on the M4 model) and one FMLA (2), 8 x 64 B
// of stores and loads.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/dynamic_quantization.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

/// Scratch dequantize_2vlx2vl() needs: the int32 block and the scale block.
constexpr size_t dequant_scratch_bytes(size_t vl) { return 2 * (2 * vl) * (2 * vl) * 4; }

namespace detail {

// Tile kTile's slices into `out`, slice i at the place of (group 4 (i mod VL/4) + kTile,
// member i / (VL/4)): group g's four vectors at out + 4 g VL.
template <uint64_t kTile, class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_tile_by_groups(svbool_t all, T* out)
    SME2K_STREAMING SME2K_INOUT_ZA {
  const uint32_t vl = static_cast<uint32_t>(svcntsw());
  const uint32_t quarter = vl / 4;
  for (uint32_t i = 0; i < vl; ++i) {
    const uint32_t group = 4 * (i % quarter) + static_cast<uint32_t>(kTile);
    svst1_hor_za32(kTile, i, all, out + (4 * group + i / quarter) * vl);
  }
}

template <class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_block_by_groups(svbool_t all, T* out)
    SME2K_STREAMING SME2K_INOUT_ZA {
  store_tile_by_groups<0>(all, out);
  store_tile_by_groups<1>(all, out);
  store_tile_by_groups<2>(all, out);
  store_tile_by_groups<3>(all, out);
}

// Tile t += a[t / 2] x b[t % 2].
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void outer_2vlx2vl(
    svbool_t all, svfloat32_t a_top, svfloat32_t a_bottom, svfloat32_t b_left,
    svfloat32_t b_right) SME2K_STREAMING SME2K_INOUT_ZA {
  svmopa_za32_f32_m(/*tile=*/0, all, all, a_top, b_left);
  svmopa_za32_f32_m(/*tile=*/1, all, all, a_top, b_right);
  svmopa_za32_f32_m(/*tile=*/2, all, all, a_bottom, b_left);
  svmopa_za32_f32_m(/*tile=*/3, all, all, a_bottom, b_right);
}

}  // namespace detail

/// The block in ZA (int32, zero-point term included) becomes f32 outputs before the float
/// epilogue. `rows`: the panel's 2VL Qd8RowParams; `channels`: the weight panel's 2VL
/// Qd8ChannelParams. Clobbers all of ZA (then holds the f32 block).
/// @param[in] scratch  dequant_scratch_bytes(VL)
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void dequantize_2vlx2vl(
    const Qd8RowParams* rows, const Qd8ChannelParams* channels,
    float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const svbool_t all = all_lanes(0.0f);
  auto* acc = reinterpret_cast<int32_t*>(scratch);
  float* scale = scratch + 4 * vl * vl;
  // Row scales are the odd words of the (pair, scale) rows; channel scale and bias the 2nd
  // and 3rd of the (pair, scale, bias) triples.
  const auto* row_words = reinterpret_cast<const float*>(rows);
  const auto* channel_words = reinterpret_cast<const float*>(channels);
  const svfloat32_t row_scale_top = svget2(svld2(all, row_words), 1);
  const svfloat32_t row_scale_bottom = svget2(svld2(all, row_words + 2 * vl), 1);
  const svfloat32x3_t left = svld3(all, channel_words);
  const svfloat32x3_t right = svld3(all, channel_words + 3 * vl);

  detail::store_block_by_groups(all, acc);
  svzero_za();
  detail::outer_2vlx2vl(all, row_scale_top, row_scale_bottom, svget3(left, 1), svget3(right, 1));
  detail::store_block_by_groups(all, scale);
  svzero_za();
  const svfloat32_t ones = svdup_f32(1.0f);
  detail::outer_2vlx2vl(all, ones, ones, svget3(left, 2), svget3(right, 2));
  for (uint32_t g = 0; g < vl; ++g) {
    const svfloat32x4_t f = svcvt_f32_s32_x4(svld1_x4(svptrue_c32(), acc + 4 * g * vl));
    svmla_za32_f32_vg1x4(g, f, svld1_x4(svptrue_c32(), scale + 4 * g * vl));
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
