// The few-rows kernels' way out: 2VL columns of one row of C (two f32 vectors: columns
// [n0, n0 + VL) and [n0 + VL, n0 + 2VL)) through the plan's stages (activation, affine,
// clamp), converted and stored, nothing at or past N.
#pragma once

#include <cstddef>
#include <type_traits>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/epilogue/sme2_activation.hpp"
#include "sme2k/types/f16.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

template <class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_row_2vl(const EpiloguePlan& plan, Out* out,
                                                         size_t n0, size_t n, svfloat32_t first,
                                                         svfloat32_t second) SME2K_STREAMING {
  const size_t vl = svcntsw();
  svfloat32_t left = first, right = second;
  if (plan.elementwise() || plan.clamped) {              // else no vector constant is made at all
    const svcount_t in_n = svwhilelt_c32_u64(n0, n, 2);  // never reads past N
    const svfloat32x2_t scale = plan.scale != nullptr ? svld1_x2(in_n, plan.scale + n0)
                                                      : svcreate2(svdup_f32(1.0f), svdup_f32(1.0f));
    const svfloat32x2_t shift = plan.shift != nullptr ? svld1_x2(in_n, plan.shift + n0)
                                                      : svcreate2(svdup_f32(0.0f), svdup_f32(0.0f));
    const svfloat32_t clamp_lo = svdup_f32(plan.clamp.min);
    const svfloat32_t clamp_hi = svdup_f32(plan.clamp.max);
    left = finish(plan, first, svget2(scale, 0), svget2(shift, 0), clamp_lo, clamp_hi);
    right = finish(plan, second, svget2(scale, 1), svget2(shift, 1), clamp_lo, clamp_hi);
  }
  if constexpr (std::is_same_v<Out, float>) {
    svst1(svwhilelt_b32_u64(n0, n), out + n0, left);
    svst1(svwhilelt_b32_u64(n0 + vl, n), out + n0 + vl, right);
  } else {
    store_narrow_x2(svwhilelt_b16_u64(n0, n), out + n0, svcreate2(left, right));
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
