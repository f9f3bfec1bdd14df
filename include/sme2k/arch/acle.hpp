// A thin layer over the ACLE SME2 intrinsics, overloaded on element type, so one kernel
// template serves every variant. Each wrapper carries what its instruction needs and is easy
// to get wrong at the call site: the widening f16 outer product takes 16-bit predicates (a
// 32-bit predicate silently drops the odd k of every pair).
#pragma once

#include <cstdint>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/f16.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

/// Two consecutive vectors from p (one SME2 multi-vector load).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x2_t load_x2(const float* p) SME2K_STREAMING {
  return svld1_x2(svptrue_c32(), p);
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat16x2_t load_x2(const f16* p) SME2K_STREAMING {
  return svld1_x2(svptrue_c16(), reinterpret_cast<const float16_t*>(p));
}

/// 32-bit ZA tile kTile += a x b: f32 (VL x VL products), or f16 widening (pairs of k summed
/// into each 32-bit lane).
template <uint64_t kTile>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void mopa_za32(svfloat32_t a,
                                                     svfloat32_t b) SME2K_STREAMING SME2K_INOUT_ZA {
  svmopa_za32_f32_m(kTile, svptrue_b32(), svptrue_b32(), a, b);
}
template <uint64_t kTile>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void mopa_za32(svfloat16_t a,
                                                     svfloat16_t b) SME2K_STREAMING SME2K_INOUT_ZA {
  svmopa_za32_f16_m(kTile, svptrue_b16(), svptrue_b16(), a, b);
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
