// f32 GEMM micro-kernel: a 2VL x 2VL block of C per pass, accumulated by FMOPA in all four
// 32-bit ZA tiles (32 x 32 outputs at SVL 512).
//
// Per k: one two-register load of the packed LHS column (2VL rows), one of the packed RHS
// row (2VL columns), four outer products, one per tile. Four independent tiles cover the
// outer product's latency; on the Apple M4 model that is 4 cycles of FMOPA against 4 x 64 B
// of loads at SVL 512: balanced, so every other byte an op moves (LHS packing, C stores)
// shows in its efficiency. The accumulators start from the packed bias: zero ZA, then one
// outer product of a vector of ones with the bias row (4 FMOPA per block, not an add per
// output). Packed operands are zero-padded, so the loop needs no predicates; only the
// epilogue's stores are predicated (M and N tails).
//
// Preconditions (ops/ guarantees them): streaming mode, ZA owned by the caller, rows in
// [1, 2VL], n_begin a multiple of 2VL, operands packed for this SVL.
#pragma once

#include <cstddef>
#include <string_view>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/epilogue/sme2_store.hpp"
#include "sme2k/formats/lhs_f32p2vlx1.hpp"
#include "sme2k/formats/rhs_f32p2vlx1bf32.hpp"
#include "sme2k/types/variant.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {

struct GemmF32F32p2vlx1F32p2vlx1bf32_2vlx2vlSme2Mopa {
  using Variant = F32;
  using LhsFormat = LhsF32p2vlx1;
  using RhsFormat = RhsF32p2vlx1bf32;
  static constexpr Path kPath = Path::kSme2;
  static constexpr std::string_view kName = "gemm_f32_f32p2vlx1_f32p2vlx1bf32_2vlx2vl_sme2_mopa";

  static constexpr size_t mr(size_t vl) { return LhsFormat::mr(vl); }
  static constexpr size_t nr(size_t vl) { return RhsFormat::nr(vl); }
  static constexpr size_t kr() { return 1; }
  static constexpr size_t m_step(size_t vl) { return mr(vl); }
  static constexpr size_t n_step(size_t vl) { return nr(vl); }
  /// Byte offsets of the data for row m_idx / column n_idx (multiples of m_step / n_step).
  static constexpr size_t lhs_packed_offset(size_t m_idx, size_t k, size_t vl) {
    return m_idx / mr(vl) * LhsFormat::panel_bytes(k, vl);
  }
  static constexpr size_t rhs_packed_offset(size_t n_idx, size_t k, size_t vl) {
    return n_idx / nr(vl) * RhsFormat::panel_bytes(k, vl);
  }
  /// Element offset of C(m_idx, n_idx).
  static constexpr size_t dst_offset(size_t m_idx, size_t n_idx, size_t ldc) {
    return m_idx * ldc + n_idx;
  }

  /// C[0, rows) x [n_begin, n_end) = clamp(bias + lhs_panel * B) for one packed LHS panel.
  /// @param[in] lhs_panel    (K, 2VL) f32: the panel of rows 0 .. rows-1, lhs_f32p2vlx1
  /// @param[in] rhs_payload  rhs_f32p2vlx1bf32 payload of all N columns
  /// @param[in] clamp        null for none (decided outside streaming mode)
  /// @param[out] c           C at row 0, column 0 of the panel
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void run(size_t rows, size_t n_begin, size_t n_end,
                                                        size_t k, const float* lhs_panel,
                                                        const void* rhs_payload, bool has_bias,
                                                        const Clamp* clamp, float* c,
                                                        size_t ldc) SME2K_STREAMING SME2K_INOUT_ZA {
    const size_t vl = svcntsw();
    const size_t width = 2 * vl;
    const svbool_t all = svptrue_b32();
    const svcount_t all2 = svptrue_c32();
    const svfloat32_t ones = svdup_f32(1.0f);
    const svfloat32_t lo = svdup_f32(clamp != nullptr ? clamp->min : 0.0f);
    const svfloat32_t hi = svdup_f32(clamp != nullptr ? clamp->max : 0.0f);

    for (size_t n0 = n_begin; n0 < n_end; n0 += width) {
      const size_t panel = n0 / width;
      const float* b = RhsFormat::panel_data(rhs_payload, panel, k, vl);
      svzero_za();
      if (has_bias) {
        const svfloat32x2_t bias = svld1_x2(all2, RhsFormat::panel_bias(rhs_payload, panel, k, vl));
        svmopa_za32_f32_m(/*tile=*/0, all, all, ones, svget2(bias, 0));
        svmopa_za32_f32_m(/*tile=*/1, all, all, ones, svget2(bias, 1));
        svmopa_za32_f32_m(/*tile=*/2, all, all, ones, svget2(bias, 0));
        svmopa_za32_f32_m(/*tile=*/3, all, all, ones, svget2(bias, 1));
      }
      const float* a = lhs_panel;
#pragma clang loop unroll_count(4)
      for (size_t kk = 0; kk < k; ++kk) {
        const svfloat32x2_t av = svld1_x2(all2, a);
        const svfloat32x2_t bv = svld1_x2(all2, b);
        svmopa_za32_f32_m(/*tile=*/0, all, all, svget2(av, 0), svget2(bv, 0));
        svmopa_za32_f32_m(/*tile=*/1, all, all, svget2(av, 0), svget2(bv, 1));
        svmopa_za32_f32_m(/*tile=*/2, all, all, svget2(av, 1), svget2(bv, 0));
        svmopa_za32_f32_m(/*tile=*/3, all, all, svget2(av, 1), svget2(bv, 1));
        a += width;
        b += width;
      }
      const svbool_t cols_lo = svwhilelt_b32_u64(n0, n_end);
      const svbool_t cols_hi = svwhilelt_b32_u64(n0 + vl, n_end);
      float* out = c + dst_offset(0, n0, ldc);
      if (clamp != nullptr) {
        sme2::store_f32_2vlx2vl_clamped(rows, cols_lo, cols_hi, lo, hi, out, ldc);
      } else {
        sme2::store_f32_2vlx2vl(rows, cols_lo, cols_hi, out, ldc);
      }
    }
  }
};

}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
