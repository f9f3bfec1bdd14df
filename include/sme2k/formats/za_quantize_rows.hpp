// QD8 quantization of up to 2VL rows of f32 or f16 activations into one lhs_qd8p2vlx4
// panel, in streaming mode: the SME2 "how" of types/dynamic_quantization.hpp.
//
// On the Apple M4 model every streaming SVE instruction costs 4 cycles, so per 4VL values of
// a row (64 at SVL 512) the work is a handful of four-register SME2 instructions:
//   1. range:    FMIN and FMAX of four vectors into running minima/maxima that start at 0
//                (min(0, .) and max(0, .) for free; NaN propagates), reduced once per row.
//   2. params:   scale, 1/scale and zero point for VL rows at once (one vector per quantity).
//   3. values:   ZA does the fused multiply-add that a four-register FMUL would (SME2 has
//                none): a ZA vector group gets 1.5 * 2^23 + zp (FMLA of four ones by that
//                constant into zeroed ZA), then FMLA of the four vectors by 1/scale, so each
//                lane holds x * inv + zp rounded once, to an integer, in its low mantissa
//                bits. MOVA out, one ADD takes the constant's bits off, SQCVT saturates four
//                int32 vectors to one int8 vector (4VL k of the row: VL k-quad words), which
//                goes into a 32-bit ZA tile as a horizontal slice; once all rows are there,
//                vertical slices are the panel's k-quad rows (as formats/za_transpose.hpp).
// Per 64 values (f32): 4 + 4 cycles of range, 2 + 2 (FMLA) + 4 (MOVA) + 4 (ADD) + 4 (SQCVT)
// + 1 (MOVA in) of values: ~0.4 cycles per value, plus a per-row reduction. f16 rows are
// widened by FCVT (no four-register widening FCVT before SME_F16F16): 16 cycles more per 64.
#pragma once

#include <cfloat>
#include <cstddef>
#include <cstdint>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/formats/za_transpose.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"

namespace sme2k {
namespace sme2 {

/// Scratch quantize_rows_2vl() needs: one f32 vector per row of a 2VL-row panel.
constexpr size_t quantize_rows_scratch_bytes(size_t vl) { return 2 * vl * vl * sizeof(float); }

/// Scratch dequantize_rows_2vl() needs: the rows' magic vectors, then 2VL rows of 4VL f32.
constexpr size_t dequantize_rows_scratch_bytes(size_t vl) {
  return quantize_rows_scratch_bytes(vl) + 2 * vl * 4 * vl * sizeof(float);
}

}  // namespace sme2
}  // namespace sme2k

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {
namespace detail {

/// Rows of the largest panel (2VL at SVL 2048).
constexpr size_t kMaxPanelRows = 2 * kMaxVl;

// Four vectors of f32 from row[k0, k0 + 4VL): zero at and past k, never read there.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t load_f32_x4(const float* row, size_t k0,
                                                                size_t k,
                                                                svbool_t /*all*/) SME2K_STREAMING {
  return svld1_x4(svwhilelt_c32_u64(k0, k, 4), row + k0);
}
// VL f16 from `halves`, each into the low half of a 32-bit lane where FCVT widens it; zero
// at and past element `count`.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t widen_f16(const uint16_t* halves, size_t first,
                                                            size_t count,
                                                            svbool_t all) SME2K_STREAMING {
  // The load zeroes the lanes past `count` and FCVT turns +0 into +0, so the conversion can
  // run on all lanes (`all`, made once by the caller: a zeroing or merging FCVT costs a
  // register copy, a rebuilt PTRUE a cycle, per vector).
  const svbool_t in_k = svwhilelt_b32_u64(first, count);
  return svcvt_f32_f16_x(all, svreinterpret_f16(svld1uh_u32(in_k, halves + first)));
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t load_f32_x4(const f16* row, size_t k0, size_t k,
                                                                svbool_t all) SME2K_STREAMING {
  const size_t vl = svcntsw();
  const auto* halves = reinterpret_cast<const uint16_t*>(row);
  return svcreate4(widen_f16(halves, k0, k, all), widen_f16(halves, k0 + vl, k, all),
                   widen_f16(halves, k0 + 2 * vl, k, all), widen_f16(halves, k0 + 3 * vl, k, all));
}

// Loads of one vector of a row's stored elements (f32 or f16), zero at and past k.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t load_stored(svbool_t in_k,
                                                              const float* p) SME2K_STREAMING {
  return svld1(in_k, p);
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat16_t load_stored(svbool_t in_k,
                                                              const f16* p) SME2K_STREAMING {
  return svld1(in_k, reinterpret_cast<const float16_t*>(p));
}
template <class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svbool_t stored_lanes_below(size_t k0,
                                                                  size_t k) SME2K_STREAMING {
  if constexpr (sizeof(T) == 4) {
    return svwhilelt_b32_u64(k0, k);
  } else {
    return svwhilelt_b16_u64(k0, k);
  }
}

// One vector at k0 of each of four rows, as one four-vector tuple.
template <class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE auto load_4_rows(const T* const* rows, size_t k0,
                                                       size_t k) SME2K_STREAMING {
  const svbool_t in_k = stored_lanes_below<T>(k0, k);
  return svcreate4(load_stored(in_k, rows[0] + k0), load_stored(in_k, rows[1] + k0),
                   load_stored(in_k, rows[2] + k0), load_stored(in_k, rows[3] + k0));
}

// min and max of four rows as f32 (NaN if a row holds one), in the rows' own type. One
// register of each tuple per row, so the four rows never need combining: the k-loop is a
// four-vector FMIN and FMAX per vector of each row, then one FMINV and FMAXV per row. Lanes
// past K count as 0, which the quantization includes anyway; the first two vectors start
// the running extremes (no copies: register moves are 4-cycle instructions on the M4 model).
template <class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void range_of_4_rows(const T* const* rows, size_t k,
                                                           float* lo, float* hi) SME2K_STREAMING {
  const size_t step = svcntb() / sizeof(T);
  auto first = load_4_rows(rows, 0, k), second = load_4_rows(rows, step, k);
  auto mn = svmin(first, second), mx = svmax(first, second);
  for (size_t k0 = 2 * step; k0 < k; k0 += step) {
    const auto x = load_4_rows(rows, k0, k);
    mn = svmin(mn, x);
    mx = svmax(mx, x);
  }
  const svbool_t all = all_lanes(T{});
  lo[0] = static_cast<float>(svminv(all, svget4(mn, 0)));
  lo[1] = static_cast<float>(svminv(all, svget4(mn, 1)));
  lo[2] = static_cast<float>(svminv(all, svget4(mn, 2)));
  lo[3] = static_cast<float>(svminv(all, svget4(mn, 3)));
  hi[0] = static_cast<float>(svmaxv(all, svget4(mx, 0)));
  hi[1] = static_cast<float>(svmaxv(all, svget4(mx, 1)));
  hi[2] = static_cast<float>(svmaxv(all, svget4(mx, 2)));
  hi[3] = static_cast<float>(svmaxv(all, svget4(mx, 3)));
}

// RNE(x * inv) + zp, unsaturated, for the 4VL values of `row` at k0 (0 past k): ZA vector
// group 0 is loaded with the row's magic vector (1.5 * 2^23 + zp, stored at `magic_row`), the
// values are added by one FMLA of four vectors, and the int32 bits less the magic's are the
// result (`all`: an all-true predicate the caller made once). Clobbers ZA vector group 0.
template <class In>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svint32x4_t
round_row_x4(const In* row, size_t k0, size_t k, const float* magic_row, float inv,
             svint32_t unbias, svbool_t all) SME2K_STREAMING SME2K_INOUT_ZA {
  const auto group_vector = static_cast<uint32_t>(svcntsw());
  svldr_za(0, magic_row);
  svldr_za(group_vector, magic_row);
  svldr_za(2 * group_vector, magic_row);
  svldr_za(3 * group_vector, magic_row);
  svmla_single_za32_f32_vg1x4(0, load_f32_x4(row, k0, k, all), svdup_f32(inv));
  return svadd_single_s32_x4(svread_za32_s32_vg1x4(0), unbias);
}

// choose_row_quantization() for VL rows at once (lanes of row_min/row_max), stored as the panel's row
// parameters (0 for rows outside `in_rows`), 1/scale and 1.5 * 2^23 + zp per row.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void row_params(svbool_t in_rows, svfloat32_t row_min,
                                                      svfloat32_t row_max, Qd8RowParams* params,
                                                      float* inv_out,
                                                      float* magic_out) SME2K_STREAMING {
  const svbool_t all = svptrue_b32();
  const svfloat32_t lo = svmin_x(all, row_min, 0.0f), hi = svmax_x(all, row_max, 0.0f);
  const svfloat32_t inf = svdup_f32(INFINITY);
  const svbool_t finite =
      svand_z(in_rows, svcmplt(all, svabs_x(all, lo), inf), svcmplt(all, svabs_x(all, hi), inf));
  svfloat32_t scale = svsub_x(all, svdiv_x(all, hi, 255.0f), svdiv_x(all, lo, 255.0f));
  scale = svmax_x(all, scale, FLT_MIN);
  const svfloat32_t inv = svdivr_x(all, scale, 1.0f);
  svfloat32_t zp_f = svrintn_x(all, svmla_x(all, svdup_f32(-128.0f), svneg_x(all, lo), inv));
  zp_f = svmin_x(all, svmax_x(all, zp_f, -128.0f), 127.0f);
  const svint32_t zp = svsel(finite, svcvt_s32_x(all, zp_f), svdup_s32(0));
  scale = svsel(finite, scale, svdup_f32(NAN));
  scale = svsel(in_rows, scale, svdup_f32(0.0f));
  // (int16 -128 zp, int16 -zp) in one 32-bit lane, little-endian: low half first.
  const svint32_t neg = svneg_x(all, zp);
  const svint32_t pair =
      svorr_x(all, svand_x(all, svmul_x(all, neg, 128), 0xFFFF), svlsl_x(all, neg, 16));
  svst2(all, reinterpret_cast<int32_t*>(params), svcreate2(pair, svreinterpret_s32(scale)));
  svst1(all, inv_out, inv);
  svst1(all, magic_out, svadd_x(all, svcvt_f32_x(all, zp), kRoundingMagic));
}

}  // namespace detail

/// Quantizes rows [0, a.rows) (at most 2VL) of `a` per row and packs them as one
/// lhs_qd8p2vlx4 panel: the row parameters at `params` (2VL), the k-quads at `data`
/// (ceil(K / 4) rows of 2VL words; rows past a.rows zero). Clobbers ZA.
/// @param[in] scratch  quantize_rows_scratch_bytes(VL), 64-byte aligned
template <class In>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void quantize_rows_2vl(
    MatrixView<const In> a, Qd8RowParams* params, int8_t* data,
    float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const size_t rows = a.rows, k = a.cols;
  alignas(64) float lo[detail::kMaxPanelRows + 4], hi[detail::kMaxPanelRows + 4];
  alignas(64) float inv[detail::kMaxPanelRows], magic[detail::kMaxPanelRows];
  // 1. Each row's range.
  for (size_t r = 0; r < rows; r += 4) {  // past the last row: the last row again
    const In* four[4];
    for (size_t i = 0; i < 4; ++i) four[i] = &a(r + i < rows ? r + i : rows - 1, 0);
    detail::range_of_4_rows(four, k, &lo[r], &hi[r]);
  }
  // 2. Parameters, VL rows at a time; each row's 1.5 * 2^23 + zp as a whole vector, which
  //    LDR puts into ZA (a load, no register work).
  for (size_t h = 0; h < 2; ++h) {
    const svbool_t in_rows = svwhilelt_b32_u64(h * vl, rows);
    detail::row_params(in_rows, svld1(in_rows, lo + h * vl), svld1(in_rows, hi + h * vl),
                       params + h * vl, inv + h * vl, magic + h * vl);
  }
  const svbool_t all = all_lanes(0.0f);
  for (size_t r = 0; r < rows; ++r) svst1(all, scratch + r * vl, svdup_f32(magic[r]));
  // 3. Values, 4VL k of every row per pass, transposed through 32-bit tiles 2 (rows 0..VL-1)
  //    and 3 (rows VL..2VL-1); the ZA vector group of the multiply lives in tile 0 (group 0
  //    spans vectors 0 + i VL: tile 0, as VL is a multiple of 4).
  svzero_mask_za(0xCC);                       // za2.s and za3.s: rows past `rows` stay zero
  svint32_t unbias = svdup_s32(-0x4B400000);  // -(bits of kRoundingMagic)
  asm("" : "+w"(unbias));                     // made once, not per row (see all_lanes)
  const size_t words = ceil_div(k, 4);
  for (size_t w0 = 0; w0 < words; w0 += vl) {
    const size_t k0 = 4 * w0;
    for (uint32_t r = 0; r < static_cast<uint32_t>(rows); ++r) {
      const float* magic_row = scratch + r * vl;
      const svint8_t q =
          svqcvt_s8_s32_x4(detail::round_row_x4(&a(r, 0), k0, k, magic_row, inv[r], unbias, all));
      if (r < vl) {
        svwrite_hor_za32_s32_m(/*tile=*/2, r, all, svreinterpret_s32(q));
      } else {
        svwrite_hor_za32_s32_m(/*tile=*/3, r - static_cast<uint32_t>(vl), all,
                               svreinterpret_s32(q));
      }
    }
    const size_t cols = words - w0 < vl ? words - w0 : vl;
    auto* out = reinterpret_cast<uint8_t*>(data) + w0 * 2 * vl * 4;
    for (uint32_t j = 0; j < cols; ++j, out += 2 * vl * 4) {
      svst1_ver_za32(/*tile=*/2, j, all, out);
      svst1_ver_za32(/*tile=*/3, j, all, out + vl * 4);
    }
  }
}

/// Quantizes rows [0, a.rows) (at most 2VL) of `a` per row as quantize_rows_2vl() does, and
/// writes them dequantized, s * (q - zp) rounded to f32 once, as one f32p2vlx1 panel (k-major,
/// 2VL floats per k; rows past a.rows zero): the activations of the QB4W kernel, which
/// computes in f32. Clobbers ZA.
/// @param[in] scratch  dequantize_rows_scratch_bytes(VL), 64-byte aligned
template <class In>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void dequantize_rows_2vl(
    MatrixView<const In> a, float* panel, float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const size_t rows = a.rows, k = a.cols;
  alignas(64) float lo[detail::kMaxPanelRows + 4], hi[detail::kMaxPanelRows + 4];
  alignas(64) float inv[detail::kMaxPanelRows], magic[detail::kMaxPanelRows];
  // Raw storage, written by row_params(): an array of Qd8RowParams would be zeroed first by
  // a call to the streaming-compatible memset (a ZA save and restore around it, and NEON
  // stores that need FEAT_SME_FA64 in streaming mode).
  alignas(64) uint8_t params_storage[detail::kMaxPanelRows * sizeof(Qd8RowParams)];
  auto* params = reinterpret_cast<Qd8RowParams*>(params_storage);
  for (size_t r = 0; r < rows; r += 4) {
    const In* four[4];
    for (size_t i = 0; i < 4; ++i) four[i] = &a(r + i < rows ? r + i : rows - 1, 0);
    detail::range_of_4_rows(four, k, &lo[r], &hi[r]);
  }
  for (size_t h = 0; h < 2; ++h) {
    const svbool_t in_rows = svwhilelt_b32_u64(h * vl, rows);
    detail::row_params(in_rows, svld1(in_rows, lo + h * vl), svld1(in_rows, hi + h * vl),
                       params + h * vl, inv + h * vl, magic + h * vl);
  }
  const svbool_t all = all_lanes(0.0f);
  float* magic_rows = scratch;
  float* chunk = scratch + 2 * vl * vl;  // 2VL rows of 4VL
  for (size_t r = 0; r < rows; ++r) svst1(all, magic_rows + r * vl, svdup_f32(magic[r]));
  svint32_t unbias = svdup_s32(-0x4B400000);  // -(bits of kRoundingMagic)
  svint32_t q_min = svdup_s32(-128), q_max = svdup_s32(127);
  svfloat32_t zero = svdup_f32(0.0f);
  asm("" : "+w"(unbias), "+w"(q_min), "+w"(q_max), "+w"(zero));  // made once
  for (size_t k0 = 0; k0 < k; k0 += 4 * vl) {
    for (size_t r = 0; r < rows; ++r) {
      const float* magic_row = magic_rows + r * vl;
      const svint32x4_t q = svclamp(
          detail::round_row_x4(&a(r, 0), k0, k, magic_row, inv[r], unbias, all), q_min, q_max);
      const svfloat32x4_t centered =
          svcvt_f32_s32_x4(svadd_single_s32_x4(q, svdup_s32(params[r].neg_zero_point)));
      svwrite_za32_f32_vg1x4(0, svcreate4(zero, zero, zero, zero));
      svmla_single_za32_f32_vg1x4(0, centered, svdup_f32(params[r].scale));
      svst1(svptrue_c32(), chunk + r * 4 * vl, svread_za32_f32_vg1x4(0));
    }
    const size_t kc = k - k0 < 4 * vl ? k - k0 : 4 * vl;
    transpose_words_2vl<1>(MatrixView<const float>{chunk, rows, kc, 4 * vl}, panel + k0 * 2 * vl);
  }
}

/// Quantizes rows [0, a.rows) (at most 4) of `a` per row, as quantize_rows_2vl() does, into
/// plain rows for the few-rows kernels: row r's int8 values at q + r * ldq (0 from K to ldq, a
/// multiple of 4VL), its parameters at params[r] and the sum of its values at sums[r].
/// Clobbers ZA.
/// @param[in] scratch  one vector, 64-byte aligned
template <class In>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void quantize_few_rows(
    MatrixView<const In> a, Qd8RowParams* params, int32_t* sums, int8_t* q, size_t ldq,
    float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntsw();
  const size_t rows = a.rows, k = a.cols;
  alignas(64) float lo[kMaxVl], hi[kMaxVl], inv[kMaxVl], magic[kMaxVl];
  alignas(64) uint8_t params_storage[kMaxVl * sizeof(Qd8RowParams)];  // not zeroed first
  auto* all_params = reinterpret_cast<Qd8RowParams*>(params_storage);
  const In* four[4];
  for (size_t i = 0; i < 4; ++i) four[i] = &a(i < rows ? i : rows - 1, 0);
  detail::range_of_4_rows(four, k, lo, hi);
  const svbool_t in_rows = svwhilelt_b32_u64(0, rows);
  detail::row_params(in_rows, svld1(in_rows, lo), svld1(in_rows, hi), all_params, inv, magic);
  const svbool_t all = all_lanes(0.0f);
  const svbool_t all_bytes = all_lanes(int8_t{});
  svint32_t unbias = svdup_s32(-0x4B400000);  // -(bits of kRoundingMagic)
  asm("" : "+w"(unbias));
  const svint8_t ones = svdup_s8(1);
  for (size_t r = 0; r < rows; ++r) {
    params[r] = all_params[r];
    svst1(all, scratch, svdup_f32(magic[r]));
    svint32_t sum = svdup_s32(0);
    int8_t* out = q + r * ldq;
    for (size_t k0 = 0; k0 < ldq; k0 += 4 * vl) {
      const svint8_t values =
          svqcvt_s8_s32_x4(detail::round_row_x4(&a(r, 0), k0, k, scratch, inv[r], unbias, all));
      svst1(all_bytes, out + k0, values);
      sum = svdot_s32(sum, values, ones);
    }
    // Past K the zero lanes quantized to the zero point: out of the sum, and 0 in the row.
    const int32_t zero_point = -params[r].neg_zero_point;
    sums[r] = static_cast<int32_t>(svaddv(all, sum)) - static_cast<int32_t>(ldq - k) * zero_point;
    // (SVE stores: a plain loop becomes a call to memset, which costs a ZA save here.)
    for (size_t kk = k / svcntb() * svcntb(); kk < ldq; kk += svcntb()) {
      svst1(svwhilelt_b8_u64(kk, ldq), out + kk,
            svsel(svwhilelt_b8_u64(kk, k), svld1(all_bytes, out + kk), svdup_s8(0)));
    }
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
