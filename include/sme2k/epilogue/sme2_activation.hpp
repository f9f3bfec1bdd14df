// The activations and the per-channel affine on f32 vectors in streaming mode, for the SME2
// epilogue. Only streaming-legal SVE (no FEXPA, which needs FEAT_SME_FA64): exp is a
// Cody-Waite reduction, a degree-6 polynomial and FSCALE, within 2 ulp on the range that
// does not overflow; GELU (tanh form) and SiLU both become x / (1 + exp(z)), since
// (1 + tanh(u)) / 2 = 1 / (1 + exp(-2u)).
//
// Cost on the Apple M4 model (every streaming SVE instruction 4 cycles), per vector of
// 16 outputs at SVL 512: ReLU/ReLU6 as a clamp 1 instruction (merged into the clamp when no
// affine follows), hard-swish 3, GELU 17, SiLU 15, the affine 1 (FMAD). GELU and SiLU cost
// more than the outer products of a K = 256 GEMM: see the issue notes.
#pragma once

#include "sme2k/arch/attributes.hpp"
#include "sme2k/epilogue/ops.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

/// e^x for every lane; +inf above ~88.7, 0 below ~-103.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t exp_f32(svfloat32_t x) SME2K_STREAMING {
  const svbool_t all = svptrue_b32();
  x = svmax_n_f32_x(all, svmin_n_f32_x(all, x, 89.0f), -104.0f);  // keeps n in int range
  const svfloat32_t n = svrintn_f32_x(all, svmul_n_f32_x(all, x, 1.44269504089f));
  svfloat32_t r = svmls_n_f32_x(all, x, n, 0.693145751953125f);  // ln 2, high part: exact n*hi
  r = svmls_n_f32_x(all, r, n, 1.428606765330187e-06f);          // ln 2, low part
  svfloat32_t p = svdup_f32(1.0f / 720.0f);  // Taylor to r^6: |r| <= ln2/2 gives < 1 ulp
  p = svmad_n_f32_x(all, p, r, 1.0f / 120.0f);
  p = svmad_n_f32_x(all, p, r, 1.0f / 24.0f);
  p = svmad_n_f32_x(all, p, r, 1.0f / 6.0f);
  p = svmad_n_f32_x(all, p, r, 0.5f);
  p = svmad_n_f32_x(all, p, r, 1.0f);
  p = svmad_n_f32_x(all, p, r, 1.0f);
  return svscale_f32_x(all, p, svcvt_s32_f32_x(all, n));
}

/// The activation kAct of every lane (see epilogue/ops.hpp for the definitions). A compile-
/// time activation lets a loop of it keep its constants in registers (a constant rebuilt per
/// vector is a 4-cycle instruction on the M4 model).
template <Activation kAct>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t activate_as(svfloat32_t x) SME2K_STREAMING {
  const svbool_t all = svptrue_b32();
  if constexpr (kAct == Activation::kRelu) {
    return svmax_n_f32_x(all, x, 0.0f);
  } else if constexpr (kAct == Activation::kRelu6) {
    return svclamp(x, svdup_f32(0.0f), svdup_f32(6.0f));
  } else if constexpr (kAct == Activation::kHardSwish) {
    const svfloat32_t t = svmad_n_f32_x(all, x, svdup_f32(1.0f / 6.0f), 0.5f);  // (x + 3) / 6
    return svmul_f32_x(all, x, svclamp(t, svdup_f32(0.0f), svdup_f32(1.0f)));
  } else if constexpr (kAct == Activation::kGelu) {
    // z = -2 sqrt(2/pi) (x + 0.044715 x^3)
    const svfloat32_t x2 = svmul_f32_x(all, x, x);
    const svfloat32_t poly = svmad_n_f32_x(all, x2, svdup_f32(-0.0713548162726f), -1.5957691216f);
    const svfloat32_t z = svmul_f32_x(all, x, poly);
    return svdiv_f32_x(all, x, svadd_n_f32_x(all, exp_f32(z), 1.0f));
  } else if constexpr (kAct == Activation::kSilu) {
    return svdiv_f32_x(all, x, svadd_n_f32_x(all, exp_f32(svneg_f32_x(all, x)), 1.0f));
  } else {
    return x;
  }
}

/// The activation `a` of every lane, chosen at run time.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t activate(Activation a,
                                                           svfloat32_t x) SME2K_STREAMING {
  switch (a) {
    case Activation::kNone: return x;
    case Activation::kRelu: return activate_as<Activation::kRelu>(x);
    case Activation::kRelu6: return activate_as<Activation::kRelu6>(x);
    case Activation::kHardSwish: return activate_as<Activation::kHardSwish>(x);
    case Activation::kGelu: return activate_as<Activation::kGelu>(x);
    case Activation::kSilu: return activate_as<Activation::kSilu>(x);
  }
  return x;
}

/// Activation, affine (scale, shift: per lane) and clamp of one vector, as `p` says.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t finish(const EpiloguePlan& p, svfloat32_t x,
                                                         svfloat32_t scale, svfloat32_t shift,
                                                         svfloat32_t lo,
                                                         svfloat32_t hi) SME2K_STREAMING {
  svfloat32_t y = activate(p.activation, x);
  if (p.scale != nullptr || p.shift != nullptr) y = svmad_f32_x(svptrue_b32(), y, scale, shift);
  return p.clamped ? svclamp(y, lo, hi) : y;
}

/// The same with the activation known at compile time (p.activation == kAct).
template <Activation kAct>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t finish_as(const EpiloguePlan& p, svfloat32_t x,
                                                            svfloat32_t scale, svfloat32_t shift,
                                                            svfloat32_t lo,
                                                            svfloat32_t hi) SME2K_STREAMING {
  svfloat32_t y = activate_as<kAct>(x);
  if (p.scale != nullptr || p.shift != nullptr) y = svmad_f32_x(svptrue_b32(), y, scale, shift);
  return p.clamped ? svclamp(y, lo, hi) : y;
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
