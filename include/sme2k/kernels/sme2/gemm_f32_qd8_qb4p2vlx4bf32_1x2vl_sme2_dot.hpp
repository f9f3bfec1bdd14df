// QD8 x QB4W GEMM on SME2 for few rows (decode, M <= 4): the QC4W decode scheme
// (gemm_f32_qd8_qc4p2vlx4bf32_2x2vl_sme2_dot.hpp: SDOT on the 4-bit bytes and on SQDMULH(bytes,
// 8) into ZA vector groups) with one readout per group of 32 k, where the scale changes.
//
// Per row and group g, in ZA: the raw and hi int32 sums separate into the hi and lo columns'
// exact dot(q, w) (raw - 16 hi - 8 sum_g(q)), get the zero-point term -zp * sum_g(w) (one
// int16 SDOT with the packed group sums), and are converted and multiplied by the group's
// column scales into two f32 sum groups (FMLA of four vectors). At the end: s_row * sum +
// bias, the plan's stages, the store.
//
// Cycle model (M4, SVL 512), per group of 32 k and four panels (8 k-quads x 4 x 64 B of
// weights: 32 load cycles): 8 x (SQDMULH x4 4 + two SDOT vgx4 4) = 64 cycles of dot products,
// plus the readout: MOVA 4 + SRSHL 4 + SUB 2 + ADD 2 + two int16 SDOT 4 + two (MOVA 4 +
// SCVTF 4 + FMLA 2) + re-zeroing 8 = 44: ~3.4x the weights' load bound for one row.
//
// ZA: four four-vector groups per row (raw, hi, and the f32 sums of the hi and lo columns),
// one row per pass (SVL 128 has four groups).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/epilogue/sme2_row_store.hpp"
#include "sme2k/formats/lhs_qd8p1x1.hpp"
#include "sme2k/formats/rhs_qb4p2vlx4bf32.hpp"
#include "sme2k/formats/za_quantize_rows.hpp"
#include "sme2k/kernels/kernel_queries.hpp"
#include "sme2k/types/block_scales.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/variant.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {

struct GemmF32Qd8Qb4p2vlx4bf32_1x2vlSme2Dot
    : KernelQueries<RowQuantizedLhs, RhsQb4p2vlx4bf32, FixedExtent<1>> {
  using Variant = QD8QB4W;
  using LhsFormat = RowQuantizedLhs;
  using RhsFormat = RhsQb4p2vlx4bf32;
  static constexpr Path kPath = Path::kSme2;
  static constexpr std::string_view kName = "gemm_f32_qd8_qb4p2vlx4bf32_1x2vl_sme2_dot";
  static constexpr size_t kMaxRows = 4;

  static constexpr size_t row_stride(size_t k) { return round_up(k, 4 * kMaxVl); }
  static constexpr size_t groups(size_t k) { return ceil_div(k, kScaleGroup); }
  /// Bytes of workspace run() needs: the quantized rows, scratch, parameters, group sums.
  static constexpr size_t workspace_bytes(size_t k) {
    return kMaxRows * row_stride(k) + 8 * kMaxVl * sizeof(float) + 128 +
           round_up(kMaxRows * groups(k) * sizeof(int32_t), 64);
  }

  template <class In, class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void run(
      size_t m, size_t n, size_t k, const In* a, size_t lda, const void* rhs_payload,
      bool /*has_bias*/, const EpiloguePlan& plan, Out* c, size_t ldc,
      void* workspace) SME2K_STREAMING SME2K_INOUT_ZA {
    const size_t ldq = row_stride(k);
    auto* q = static_cast<int8_t*>(workspace);
    auto* scratch = reinterpret_cast<float*>(q + kMaxRows * ldq);
    auto* params = reinterpret_cast<Qd8RowParams*>(scratch + 8 * kMaxVl);  // scratch: 8 vectors
    auto* sums = reinterpret_cast<int32_t*>(params + 8);
    auto* group_sums = sums + 8;
    sme2::quantize_few_rows(MatrixView<const In>{a, m, k, lda}, params, sums, q, ldq, scratch);
    // Each row's sum of values per group of 32 k (scalar adds: issue slots, not SVE cycles).
    for (size_t r = 0; r < m; ++r) {
      for (size_t g = 0; g < groups(k); ++g) {
        int32_t sum = 0;
        for (size_t kk = g * kScaleGroup; kk < (g + 1) * kScaleGroup; ++kk) sum += q[r * ldq + kk];
        group_sums[r * groups(k) + g] = sum;
      }
    }
    for (size_t r = 0; r < m; ++r) {
      row(n, k, q + r * ldq, params[r], group_sums + r * groups(k), rhs_payload, plan, c + r * ldc,
          scratch);
    }
  }

 private:
  static constexpr uint32_t kRaw = 0, kHi = 1, kSumHi = 2, kSumLo = 3;  // ZA groups

  template <uint64_t kIndex>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void dot_quad(
      svint8x4_t bytes, svint8_t x, svint8_t eight) SME2K_STREAMING SME2K_INOUT_ZA {
    svdot_lane_za32_s8_vg1x4(kRaw, bytes, x, kIndex);
    svdot_lane_za32_s8_vg1x4(kHi, svqdmulh(bytes, eight), x, kIndex);
  }

  // Field 0 (hi columns) or VL.. (lo columns) of a per-column array in four panels' heads.
  template <class T>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static auto four(const T* const* at,
                                                         size_t offset) SME2K_STREAMING {
    const svbool_t all = svptrue_b32();
    return svcreate4(svld1(all, at[0] + offset), svld1(all, at[1] + offset),
                     svld1(all, at[2] + offset), svld1(all, at[3] + offset));
  }

  template <class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void row(
      size_t n, size_t k, const int8_t* q, const Qd8RowParams& params, const int32_t* group_sums,
      const void* rhs_payload, const EpiloguePlan& plan, Out* c,
      float* values) SME2K_STREAMING SME2K_INOUT_ZA {
    const size_t vl = svcntsw();
    const size_t quad_bytes = 4 * vl;
    const size_t panels = ceil_div(n, RhsFormat::nr(vl));
    const svbool_t all = sme2::all_lanes(int8_t{});
    svint8_t eight = svdup_s8(8);
    svint32_t four_bits = svdup_s32(4);
    asm("" : "+w"(eight), "+w"(four_bits));  // made once
    const auto zp_pair = static_cast<int32_t>(
        static_cast<uint32_t>(static_cast<uint16_t>(params.neg_zero_point_x128)) |
        static_cast<uint32_t>(static_cast<uint16_t>(params.neg_zero_point)) << 16);
    const svint16_t zp16 = svreinterpret_s16(svdup_s32(zp_pair));
    const svint32_t zero_i = svdup_s32(0);
    const svint32x4_t zeros = svcreate4(zero_i, zero_i, zero_i, zero_i);
    for (size_t p0 = 0; p0 < panels; p0 += 4) {
      const size_t np = panels - p0 < 4 ? panels - p0 : 4;
      const void* head[4];
      const int8_t* w[4];
      for (size_t j = 0; j < 4; ++j) {
        const size_t panel = p0 + (j < np ? j : np - 1);
        head[j] = RhsFormat::panel_bias(rhs_payload, panel, k, vl);
        w[j] = reinterpret_cast<const int8_t*>(RhsFormat::panel_data(rhs_payload, panel, k, vl));
      }
      svzero_za();
      for (size_t g = 0; g < groups(k); ++g) {
        for (size_t q0 = g * 8; q0 < g * 8 + 8; q0 += 4) {  // 8 k-quads: two 16-byte blocks
          const svint8_t x = svld1rq(all, q + 4 * q0);
          const size_t at = q0 * quad_bytes;
          dot_quad<0>(RhsQc4p2vlx4bf32::load_quad_of_4(all, w, at), x, eight);
          dot_quad<1>(RhsQc4p2vlx4bf32::load_quad_of_4(all, w, at + quad_bytes), x, eight);
          dot_quad<2>(RhsQc4p2vlx4bf32::load_quad_of_4(all, w, at + 2 * quad_bytes), x, eight);
          dot_quad<3>(RhsQc4p2vlx4bf32::load_quad_of_4(all, w, at + 3 * quad_bytes), x, eight);
        }
        // dot(q, lo) = raw - 16 hi - 8 sum_g(q); then both - zp * sum_g(w).
        svsub_za32_s32_vg1x4(kRaw, svrshl(svread_za32_s32_vg1x4(kHi), four_bits));
        const svint32_t minus_8_sum = svdup_s32(-8 * group_sums[g]);
        svadd_za32_s32_vg1x4(kRaw, svcreate4(minus_8_sum, minus_8_sum, minus_8_sum, minus_8_sum));
        const int32_t* sums[4] = {
            RhsFormat::group_sums(head[0], k, vl, g), RhsFormat::group_sums(head[1], k, vl, g),
            RhsFormat::group_sums(head[2], k, vl, g), RhsFormat::group_sums(head[3], k, vl, g)};
        const svint32x4_t sums_hi = four(sums, 0), sums_lo = four(sums, vl);
        svdot_single_za32_s16_vg1x4(
            kHi,
            svcreate4(svreinterpret_s16(svget4(sums_hi, 0)), svreinterpret_s16(svget4(sums_hi, 1)),
                      svreinterpret_s16(svget4(sums_hi, 2)), svreinterpret_s16(svget4(sums_hi, 3))),
            zp16);
        svdot_single_za32_s16_vg1x4(
            kRaw,
            svcreate4(svreinterpret_s16(svget4(sums_lo, 0)), svreinterpret_s16(svget4(sums_lo, 1)),
                      svreinterpret_s16(svget4(sums_lo, 2)), svreinterpret_s16(svget4(sums_lo, 3))),
            zp16);
        const float* scales[4] = {
            RhsFormat::group_scales(head[0], k, vl, g), RhsFormat::group_scales(head[1], k, vl, g),
            RhsFormat::group_scales(head[2], k, vl, g), RhsFormat::group_scales(head[3], k, vl, g)};
        svmla_za32_f32_vg1x4(kSumHi, svcvt_f32_s32_x4(svread_za32_s32_vg1x4(kHi)), four(scales, 0));
        svmla_za32_f32_vg1x4(kSumLo, svcvt_f32_s32_x4(svread_za32_s32_vg1x4(kRaw)),
                             four(scales, vl));
        svwrite_za32_s32_vg1x4(kRaw, zeros);
        svwrite_za32_s32_vg1x4(kHi, zeros);
        (void)0;
      }
      // s_row * sum + bias, one fused multiply-add per vector (once per pass), through the
      // scratch. The group index is a register (arch/acle.hpp, za_slice): clang 22 encoded
      // these two constant-index reads to index by W8, whatever it held (wrong f16 outputs
      // after the first pass).
      const svcount_t all_words = svptrue_c32();
      const uint32_t base = sme2::za_slice(0);
      svst1(all_words, values, svread_za32_f32_vg1x4(base + kSumHi));
      svst1(all_words, values + 4 * vl, svread_za32_f32_vg1x4(base + kSumLo));
      const svbool_t all_lanes = svptrue_b32();
      for (size_t j = 0; j < np; ++j) {
        const auto* bias = static_cast<const float*>(head[j]);
        const svfloat32_t hi = svmla_n_f32_x(all_lanes, svld1(all_lanes, bias),
                                             svld1(all_lanes, values + j * vl), params.scale);
        const svfloat32_t lo = svmla_n_f32_x(all_lanes, svld1(all_lanes, bias + vl),
                                             svld1(all_lanes, values + (4 + j) * vl), params.scale);
        sme2::store_row_2vl(plan, c, (p0 + j) * 2 * vl, n, hi, lo);
      }
    }
  }
};

}  // namespace sme2k
#endif
