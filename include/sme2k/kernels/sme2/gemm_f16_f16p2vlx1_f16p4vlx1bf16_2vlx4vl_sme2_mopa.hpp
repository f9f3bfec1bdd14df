// f16 GEMM with f16 accumulation (FEAT_SME_F16F16, the F16Acc16 variant): non-widening
// FMOPA into the two 16-bit ZA tiles, a 2VL x 4VL block of C per pass (32 x 64 at SVL 512).
//
// Per k: one f16 vector of packed A (2VL rows), two of packed B (4VL columns), two outer
// products of 2VL x 2VL f16 products each: twice the MACs per instruction of the widening
// f32-accumulating kernel. The price is precision: every accumulation rounds to f16
// (11 bits), so the error grows with K (bound: gamma_(K+2) with u = 2^-11 times the sum of
// |products| and |bias|; see test/reference/gemm.hpp) and sums beyond 65504 overflow. Only a
// caller who asks for F16Acc16 gets it, and only on a CPU with SME_F16F16 (Apple M4 has
// none; Arm C1 does); elsewhere F16Acc16 runs the f32-accumulating kernels.
//
// The bias starts the tiles (one outer product of ones and the f16 bias row per tile). A
// plain f16 store leaves ZA straight from horizontal slices; anything else (clamp,
// activation, affine, C transposed) dumps the block to scratch in the needed orientation and
// finishes rows in f32 (SME2 widening and narrowing FCVT), as the other kernels do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/epilogue/sme2_activation.hpp"
#include "sme2k/formats/lhs_f16p2vlx1.hpp"
#include "sme2k/formats/rhs_f16p4vlx1bf16.hpp"
#include "sme2k/kernels/kernel_queries.hpp"
#include "sme2k/types/variant.hpp"

#if SME2K_HAS_SME_F16F16_CODE
#include <arm_sme.h>

namespace sme2k {

struct GemmF16F16p2vlx1F16p4vlx1bf16_2vlx4vlSme2Mopa
    : KernelQueries<LhsF16p2vlx1, RhsF16p4vlx1bf16, VlMultiple<2>> {
  using Variant = F16Acc16;
  using LhsFormat = LhsF16p2vlx1;
  using RhsFormat = RhsF16p4vlx1bf16;
  using Element = f16;
  static constexpr Path kPath = Path::kSme2F16F16;
  static constexpr std::string_view kName = "gemm_f16_f16p2vlx1_f16p4vlx1bf16_2vlx4vl_sme2_mopa";

  /// The whole f16 block (2VL x 4VL), for the epilogues that finish it in f32.
  static constexpr size_t scratch_bytes(size_t vl) { return 2 * vl * 4 * vl * sizeof(f16); }

  /// C[0, rows) x [n_begin, n_end) = epilogue(bias + lhs_panel * B), f16 accumulation.
  /// Same contract as Gemm2vlx2vlMopa::run, with 4VL-column panels; f16 output only.
  SME2K_TARGET_SME2_F16F16 SME2K_ALWAYS_INLINE static void run(
      size_t rows, size_t n_begin, size_t n_end, size_t k, const void* lhs_panel,
      const void* rhs_payload, bool has_bias, const EpiloguePlan& plan, f16* c, size_t ldc,
      float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
    const Tiles t{rows,
                  n_begin,
                  n_end,
                  k,
                  lhs_panel,
                  rhs_payload,
                  has_bias,
                  &plan,
                  c,
                  ldc,
                  reinterpret_cast<f16*>(scratch)};
    // One tile loop per way out (see Gemm2vlx2vlMopa::run).
    if (!plan.transposed && !plan.elementwise() && !plan.clamped) return tiles<false>(t);
    return tiles<true>(t);
  }

 private:
  struct Tiles {
    size_t rows, n_begin, n_end, k;
    const void* lhs_panel;
    const void* rhs_payload;
    bool has_bias;
    const EpiloguePlan* plan;
    f16* c;
    size_t ldc;
    f16* scratch;
  };

  template <bool kThroughF32>
  SME2K_TARGET_SME2_F16F16 SME2K_ALWAYS_INLINE static void tiles(const Tiles& t)
      SME2K_STREAMING SME2K_INOUT_ZA {
    const size_t half = svcnth();  // 2VL: elements of one f16 vector, rows and columns of a tile
    const size_t width = 2 * half;
    const svbool_t all = svptrue_b16();
    const svfloat16_t ones = svdup_f16(static_cast<float16_t>(1.0f));
    for (size_t n0 = t.n_begin; n0 < t.n_end; n0 += width) {
      const size_t panel = n0 / width;
      const size_t vl = half / 2;
      const auto* b =
          reinterpret_cast<const float16_t*>(RhsFormat::panel_data(t.rhs_payload, panel, t.k, vl));
      svzero_za();
      if (t.has_bias) {
        const svfloat16x2_t bias =
            svld1_x2(svptrue_c16(), reinterpret_cast<const float16_t*>(
                                        RhsFormat::panel_bias(t.rhs_payload, panel, t.k, vl)));
        svmopa_za16_f16_m(/*tile=*/0, all, all, ones, svget2(bias, 0));
        svmopa_za16_f16_m(/*tile=*/1, all, all, ones, svget2(bias, 1));
      }
      const auto* a = reinterpret_cast<const float16_t*>(t.lhs_panel);
#pragma clang loop unroll_count(4)
      for (size_t kk = 0; kk < t.k; ++kk) {
        const svfloat16_t av = svld1(all, a);
        const svfloat16x2_t bv = svld1_x2(svptrue_c16(), b);
        svmopa_za16_f16_m(/*tile=*/0, all, all, av, svget2(bv, 0));
        svmopa_za16_f16_m(/*tile=*/1, all, all, av, svget2(bv, 1));
        a += half;
        b += width;
      }
      if constexpr (!kThroughF32) {
        const svbool_t cols_lo = svwhilelt_b16_u64(n0, t.n_end);
        const svbool_t cols_hi = svwhilelt_b16_u64(n0 + half, t.n_end);
        f16* row = t.c + n0;
        for (uint32_t i = 0; i < t.rows; ++i, row += t.ldc) {
          svst1_hor_za16(/*tile=*/0, i, cols_lo, row);
          svst1_hor_za16(/*tile=*/1, i, cols_hi, row + half);
        }
      } else {
        finish_block(t, n0);
      }
    }
  }

  // Dumps the block to scratch as rows of what will be stored (rows of C, or of C^T), then
  // finishes each in f32: widen (SME2 FCVT, one f16 vector to two f32), the plan's stages,
  // narrow, store.
  SME2K_TARGET_SME2_F16F16 SME2K_ALWAYS_INLINE static void finish_block(const Tiles& t, size_t n0)
      SME2K_STREAMING SME2K_INOUT_ZA {
    const EpiloguePlan& p = *t.plan;
    const size_t half = svcnth();
    const size_t cols = t.n_end - n0 < 2 * half ? t.n_end - n0 : 2 * half;
    const svbool_t all = svptrue_b16();
    const svfloat32_t lo = svdup_f32(p.clamp.min), hi = svdup_f32(p.clamp.max);
    const svfloat32_t one = svdup_f32(1.0f), zero = svdup_f32(0.0f);
    if (!p.transposed) {
      // Row i of C: tile 0's slice i then tile 1's: 4VL values.
      for (uint32_t i = 0; i < t.rows; ++i) {
        svst1_hor_za16(/*tile=*/0, i, all, t.scratch + i * 2 * half);
        svst1_hor_za16(/*tile=*/1, i, all, t.scratch + i * 2 * half + half);
      }
      const svcount_t in_n = svwhilelt_c32_u64(n0, t.n_end, 4);
      const svfloat32x4_t scale =
          p.scale != nullptr ? svld1_x4(in_n, p.scale + n0) : svcreate4(one, one, one, one);
      const svfloat32x4_t shift =
          p.shift != nullptr ? svld1_x4(in_n, p.shift + n0) : svcreate4(zero, zero, zero, zero);
      const svbool_t out_lo = svwhilelt_b16_u64(n0, t.n_end);
      const svbool_t out_hi = svwhilelt_b16_u64(n0 + half, t.n_end);
      for (size_t i = 0; i < t.rows; ++i) {
        const auto* src = reinterpret_cast<const float16_t*>(t.scratch + i * 2 * half);
        const svfloat32x2_t w0 = svcvt_f32_f16_x2(svld1(all, src));
        const svfloat32x2_t w1 = svcvt_f32_f16_x2(svld1(all, src + half));
        auto* out = reinterpret_cast<float16_t*>(t.c + i * t.ldc + n0);
        const svfloat32_t y0 =
            sme2::finish(p, svget2(w0, 0), svget4(scale, 0), svget4(shift, 0), lo, hi);
        const svfloat32_t y1 =
            sme2::finish(p, svget2(w0, 1), svget4(scale, 1), svget4(shift, 1), lo, hi);
        const svfloat32_t y2 =
            sme2::finish(p, svget2(w1, 0), svget4(scale, 2), svget4(shift, 2), lo, hi);
        const svfloat32_t y3 =
            sme2::finish(p, svget2(w1, 1), svget4(scale, 3), svget4(shift, 3), lo, hi);
        svst1(out_lo, out, svcvt_f16_f32_x2(svcreate2(y0, y1)));
        svst1(out_hi, out + half, svcvt_f16_f32_x2(svcreate2(y2, y3)));
      }
    } else {
      // Row j of C^T is column j of the block: a vertical slice (2VL rows of C).
      for (uint32_t j = 0; j < cols; ++j) {
        if (j < half) {
          svst1_ver_za16(/*tile=*/0, j, all, t.scratch + j * half);
        } else {
          svst1_ver_za16(/*tile=*/1, j - static_cast<uint32_t>(half), all, t.scratch + j * half);
        }
      }
      const svbool_t rows_out = svwhilelt_b16_u64(0, t.rows);
      for (size_t j = 0; j < cols; ++j) {
        const svfloat32x2_t w =
            svcvt_f32_f16_x2(svld1(all, reinterpret_cast<const float16_t*>(t.scratch + j * half)));
        const svfloat32_t scale = svdup_f32(p.scale != nullptr ? p.scale[n0 + j] : 1.0f);
        const svfloat32_t shift = svdup_f32(p.shift != nullptr ? p.shift[n0 + j] : 0.0f);
        const svfloat32_t y0 = sme2::finish(p, svget2(w, 0), scale, shift, lo, hi);
        const svfloat32_t y1 = sme2::finish(p, svget2(w, 1), scale, shift, lo, hi);
        svst1(rows_out, reinterpret_cast<float16_t*>(t.c + (n0 + j) * t.ldc),
              svcvt_f16_f32_x2(svcreate2(y0, y1)));
      }
    }
  }
};

}  // namespace sme2k

#endif  // SME2K_HAS_SME_F16F16_CODE
