// The activations and the per-channel affine on f32 vectors in streaming mode, for the SME2
// epilogue, a vector at a time (the register way). Only streaming-legal SVE (no FEXPA, which
// needs FEAT_SME_FA64).
//
// GELU (tanh form) and SiLU are both x / (1 + 2^y), since (1 + tanh(u)) / 2 = 1 / (1 +
// e^(-2u)): y = x (k1 + k3 x^2) in log2 units (SigmoidForm), with x clamped inside y only so
// that |y| <= 126 (beyond the clamp 2^y is below f32's resolution next to 1, or the result
// is below 2^-125 |x|). 2^y is the one exp of sme2k (epilogue/sme2_exp2.hpp, degree
// kActivationExpDegree). Error: relative 2^-18 (the polynomial's 2.6e-6 and five roundings),
// plus |x| 2^-23 from rounding y where 2^y is large (the result is then tiny).
//
// Cost on the Apple M4 model (every streaming SVE instruction 4 cycles), per vector: ReLU /
// ReLU6 as a clamp 1 instruction (merged into the clamp when no affine follows), hard-swish
// 3, SiLU 13, GELU 15, the affine 1 (FMAD). The GEMM's 2VL x 2VL epilogue computes GELU and
// SiLU four vectors at a time in ZA instead on that model (epilogue/sme2_sigmoid_za.hpp).
#pragma once

#include "sme2k/arch/attributes.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/epilogue/sme2_exp2.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

/// Degree of the exp2 polynomial of GELU and SiLU (2.6e-6 relative, epilogue/sme2_exp2.hpp).
constexpr int kActivationExpDegree = 4;

/// y = x (k1 + k3 x^2) with x clamped to [-kClamp, kClamp], so that act(x) = x / (1 + 2^y).
template <Activation kAct>
struct SigmoidForm;
template <>
struct SigmoidForm<Activation::kSilu> {                                 // y = -x log2(e)
  static constexpr float k1 = -1.44269504f, k3 = 0.0f, kClamp = 87.0f;  // |y| <= 125.6
};
template <>
struct SigmoidForm<Activation::kGelu> {  // y = -2 sqrt(2/pi) log2(e) (x + 0.044715 x^3)
  static constexpr float k1 = -2.30220820f, k3 = -0.102943240f, kClamp = 10.0f;  // |y| <= 126.0
};

/// GELU or SiLU of one vector, the register way.
template <Activation kAct>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t sigmoid_form_z(svfloat32_t x) SME2K_STREAMING {
  using F = SigmoidForm<kAct>;
  constexpr int kDeg = kActivationExpDegree;
  const svbool_t all = svptrue_b32();
  const svfloat32_t xc = svclamp(x, svdup_f32(-F::kClamp), svdup_f32(F::kClamp));
  svfloat32_t y;
  if constexpr (kAct == Activation::kGelu) {
    const svfloat32_t t = svmad_n_f32_x(all, svmul_f32_x(all, xc, xc), svdup_f32(F::k3), F::k1);
    y = svmul_f32_x(all, xc, t);
  } else {
    y = svmul_n_f32_x(all, xc, F::k1);
  }
  const svfloat32_t e = exp2_bounded_z<kDeg>(y, exp2_coefs_low<kDeg>(), exp2_coefs_high<kDeg>());
  return svdiv_f32_x(all, x, svadd_n_f32_x(all, e, 1.0f));
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
  } else if constexpr (kAct == Activation::kGelu || kAct == Activation::kSilu) {
    return sigmoid_form_z<kAct>(x);
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
