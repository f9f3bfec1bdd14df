// GELU and SiLU of a 2VL x 2VL f32 accumulator block the ZA way, for CPUs whose streaming SVE
// is slow next to their ZA vector-group ops (cost_model() ZA-favoured: Apple M4).
//
// Both are x / (1 + 2^y) (epilogue/sme2_activation.hpp, SigmoidForm). The block leaves ZA by
// stores into scratch (load/store slots, idle in a compute-bound kernel) and comes back four
// vectors (two lines) at a time. Every multiply then is a vector-group FMLA into ZA (2 cycles
// per four vectors on the M4 model) read out by MOVA (1 per vector), where a streaming SVE
// instruction costs 4 per vector: y = x k1 (SiLU) or x (k1 + k3 x^2) (GELU), 2^y by the
// shared exp2 (epilogue/sme2_exp2.hpp, kBounded: x is clamped), + 1, then one FDIV per
// vector. Measured on the M4 model (F16 256^3, over the plain store): SiLU 1.19 and GELU
// 1.41 cycles per output (76 and 90 per four vectors), where the register way with the old
// exp cost 5.6 and 5.8. Arm C1's model charges ZA ops and MOVA more than its 0.5-cycle SVE
// instructions, so there the register way runs (0.57 and 0.70).
// The affine after the activation is two more FMLAs into a ZA group; the clamp one FCLAMP.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/epilogue/sme2_activation.hpp"
#include "sme2k/epilogue/sme2_exp2.hpp"
#include "sme2k/epilogue/sme2_store.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

/// Whether the GEMM's 2VL x 2VL epilogue computes the plan's activation the ZA way.
inline bool sigmoid_in_za(const EpiloguePlan& p) {
  return p.za_exp && (p.activation == Activation::kGelu || p.activation == Activation::kSilu);
}

namespace detail {
// Vector kI at x, divided by d, in one asm statement: the load lands in the register the
// quotient stays in. (With intrinsics, clang loaded x a second time into one scratch
// register and copied it four times by MOVPRFX: 16 cycles per four vectors on the M4 model.)
template <int kI>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t load_and_divide(const float* x,
                                                                  svfloat32_t d) SME2K_STREAMING {
  svfloat32_t q;
  asm("ld1w {%0.s}, %2/z, [%3, #%4, mul vl]\n\tfdiv %0.s, %2/m, %0.s, %1.s"
      : "=&w"(q)
      : "w"(d), "Upl"(svptrue_b32()), "r"(x), "i"(kI)
      : "memory");
  return q;
}
}  // namespace detail

/// kAct (GELU or SiLU) of the four vectors at `x` (2VL-float lines), the ZA way: zeroes all
/// of ZA, computes in groups 0-2 and leaves group 3 zeroed. x is loaded twice, for the clamp
/// and for the divisions, each consumed in place (a register copy or MOVPRFX costs 4 cycles
/// on the M4 model, a load none of the compute budget). x_lo / x_hi: -/+
/// SigmoidForm<kAct>::kClamp; k1, k3 its factors.
template <Activation kAct>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t
sigmoid_form_za_x4(const float* x, svfloat32x4_t ones, svfloat32x4_t c_lo, svfloat32x2_t c_hi,
                   Exp2Shift shift, svfloat32_t x_lo, svfloat32_t x_hi, svfloat32_t k1,
                   svfloat32_t k3) SME2K_STREAMING SME2K_INOUT_ZA {
  const uint32_t g0 = za_slice(0), g1 = za_slice(0) + 1, g2 = za_slice(0) + 2;
  svzero_za();
  const svfloat32x4_t xc = svclamp(svld1_x4(svptrue_c32(), x), x_lo, x_hi);
  svmla_single_za32_f32_vg1x4(g0, xc, k1);
  if constexpr (kAct == Activation::kGelu) {  // + x^2 (k3 x): two reads, not three
    svmla_za32_f32_vg1x4(g2, xc, xc);
    svmla_single_za32_f32_vg1x4(g1, xc, k3);
    svmla_za32_f32_vg1x4(g0, svread_za32_f32_vg1x4(g2), svread_za32_f32_vg1x4(g1));
  }
  exp2_za_x4_in_za<kActivationExpDegree, 0, 1, 2, Exp2Input::kBounded>(
      svread_za32_f32_vg1x4(g0), ones, c_lo, c_hi, shift, svundef_u32());
  svmla_za32_f32_vg1x4(g0, ones, ones);  // 1 + 2^y
  const svfloat32x4_t d = svread_za32_f32_vg1x4(g0);
  return svcreate4(
      detail::load_and_divide<0>(x, svget4(d, 0)), detail::load_and_divide<1>(x, svget4(d, 1)),
      detail::load_and_divide<2>(x, svget4(d, 2)), detail::load_and_divide<3>(x, svget4(d, 3)));
}

/// Rows [0, rows) x columns [n0, n_end) of the block through kAct (GELU or SiLU) the ZA way,
/// the per-channel affine when kAffine, then the plan's clamp; row-major C at c (row 0,
/// column n0), or (kTransposed) C^T at (row n0, column of the block's row 0). Clobbers ZA.
/// @param[in] scratch  4 VL^2 floats (the block)
template <bool kTransposed, Activation kAct, bool kAffine, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_2vlx2vl_sigmoid_za(
    size_t rows, size_t n0, size_t n_end, const EpiloguePlan& p, Out* c, size_t ldc,
    float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  using F = SigmoidForm<kAct>;
  constexpr int kDeg = kActivationExpDegree;
  const size_t vl = svcntsw();
  const size_t cols = n_end - n0 < 2 * vl ? n_end - n0 : 2 * vl;
  const size_t lines = kTransposed ? cols : rows;
  detail::block_to_lines<kTransposed>(lines, scratch);
  // Constants once per block, each in its own register (a copy is a 4-cycle instruction).
  const svfloat32_t one = svdup_f32(1.0f);
  const svfloat32x4_t ones = detail::distinct4(one, one, one, one);
  const svfloat32x4_t c_lo = exp2_coefs_low<kDeg>();
  const svfloat32x2_t c_hi = exp2_coefs_high<kDeg>();
  const Exp2Shift shift = exp2_shift();
  const svfloat32_t x_lo = opaque(svdup_f32(-F::kClamp)), x_hi = opaque(svdup_f32(F::kClamp));
  const svfloat32_t k1 = opaque(svdup_f32(F::k1)), k3 = opaque(svdup_f32(F::k3));
  svfloat32x4_t s4 = svundef4_f32(), t4 = svundef4_f32();  // the affine, row-major: per lane
  if constexpr (kAffine && !kTransposed) {
    const svcount_t in_n = svwhilelt_c32_u64(n0, n_end, 2);  // never reads past N
    const svfloat32x2_t s2 =
        p.scale != nullptr ? svld1_x2(in_n, p.scale + n0) : svcreate2(one, one);
    const svfloat32x2_t t2 = p.shift != nullptr ? svld1_x2(in_n, p.shift + n0)
                                                : svcreate2(svdup_f32(0.0f), svdup_f32(0.0f));
    s4 = detail::distinct4(svget2(s2, 0), svget2(s2, 1), svget2(s2, 0), svget2(s2, 1));
    t4 = detail::distinct4(svget2(t2, 0), svget2(t2, 1), svget2(t2, 0), svget2(t2, 1));
  }
  const svbool_t all = all_lanes(0.0f);
  const float kOne = 1.0f, kZero = 0.0f;
  const svfloat32_t lo = svdup_f32(p.clamp.min), hi = svdup_f32(p.clamp.max);
  const size_t width = kTransposed ? rows : cols;  // elements per stored line
  const svbool_t w_lo = svwhilelt_b32_u64(0, width), w_hi = svwhilelt_b32_u64(vl, width);
  const svbool_t w_f16 = svwhilelt_b16_u64(0, width);
  for (uint32_t i = 0; i < lines; i += 2) {
    svfloat32x4_t r =
        sigmoid_form_za_x4<kAct>(scratch + i * 2 * vl, ones, c_lo, c_hi, shift, x_lo, x_hi, k1, k3);
    if constexpr (kAffine) {        // group 3, zeroed: shift, then + r x scale (one rounding)
      if constexpr (kTransposed) {  // line i is channel n0 + i: one scale for its two vectors
        const size_t ch = n0 + i, next = i + 1 < lines ? ch + 1 : ch;
        const float* sa = p.scale != nullptr ? p.scale + ch : &kOne;
        const float* sb = p.scale != nullptr ? p.scale + next : &kOne;
        const float* ta = p.shift != nullptr ? p.shift + ch : &kZero;
        const float* tb = p.shift != nullptr ? p.shift + next : &kZero;
        s4 =
            svcreate4(detail::broadcast_load_apart(all, sa), detail::broadcast_load_apart(all, sa),
                      detail::broadcast_load_apart(all, sb), detail::broadcast_load_apart(all, sb));
        t4 =
            svcreate4(detail::broadcast_load_apart(all, ta), detail::broadcast_load_apart(all, ta),
                      detail::broadcast_load_apart(all, tb), detail::broadcast_load_apart(all, tb));
      }
      const uint32_t g3 = za_slice(0) + 3;
      svmla_za32_f32_vg1x4(g3, ones, t4);
      svmla_za32_f32_vg1x4(g3, r, s4);
      r = svread_za32_f32_vg1x4(g3);
    }
    if (p.clamped) r = svclamp(r, lo, hi);
    detail::store_line_pair(r, i + 1 < lines, w_lo, w_hi, w_f16, c + i * ldc, ldc);
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
