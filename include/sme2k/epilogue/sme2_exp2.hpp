// 2^y in streaming mode, two ways: the one exp of sme2k's SME2 code (softmax, attention, and
// the GEMM epilogue's GELU and SiLU). It lives in epilogue/ because the epilogue sits below
// the kernels (a kernel may include an epilogue header, never the reverse).
//
// Streaming-legal without FEAT_SME_FA64 and without FEXPA (SME2p1 is not on Apple M4): y is
// split as n + f (n = round(y), |f| <= 1/2), 2^f comes from a minimax polynomial of degree
// kDegree (relative error 7.5e-5 at degree 3: below f16's rounding, 2.6e-6 at 4, 7.5e-8 at
// 5), and 2^n is an integer add of n << 23 to its bits. Two input contracts (Exp2Input):
//  - kBiased (softmax, attention): callers pass y + 126 (the bias folds into their own
//    affine step); n + 126 is converted unsigned, so it saturates at 0 and every y below
//    -126 gives a tiny positive value (<= 1.5 * 2^-126) instead of exponent garbage.
//  - kBounded (activations, which clamp their input anyway): callers pass y, |y| <= 126;
//    a signed conversion and no bias add, one four-vector instruction less.
//
// Why two ways. Neither model's costs favour one scheme (DESIGN.md section 8):
//  - Apple M4 charges every streaming SVE instruction 4 cycles, single or four vectors, and an
//    SME2 ZA multi-vector op 2 cycles per four vectors: the multiplies go into ZA (FMLA into a
//    vector group, then MOVA out, 1 cycle per vector), the rest are four-vector forms.
//    About 12 cycles per vector at degree 3 (exp2_za_x4).
//  - Arm C1 charges streaming SVE 0.5 cycles an instruction but ZA ops 2 and each MOVA 1 per
//    vector: ordinary SVE FMLA chains in registers win, about 3 cycles per vector
//    (exp2_z_x4); the ZA way would cost ~10.
// arch/cost_model.hpp picks one per CPU; both give the same result within the stated bound.
#pragma once

#include <cstdint>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

/// Minimax coefficients of 2^f on [-1/2, 1/2] (relative error, fitted in double), c0 first.
template <int kDegree>
struct Exp2Poly;
template <>
struct Exp2Poly<3> {
  static constexpr float c[4] = {0.999928074f, 0.693260985f, 0.242611122f, 0.0551716691f};
  static constexpr double kRelError = 7.5e-5;
};
template <>
struct Exp2Poly<4> {
  static constexpr float c[5] = {0.999999261f, 0.693121815f, 0.240247448f, 0.0559178603f,
                                 0.00957010191f};
  static constexpr double kRelError = 2.6e-6;
};
template <>
struct Exp2Poly<5> {
  static constexpr float c[6] = {1.00000007f,   0.693146967f,   0.240221197f,
                                 0.0555071327f, 0.00967554133f, 0.0013276472f};
  static constexpr double kRelError = 7.5e-8;
};

/// What the caller adds to y before the call (see the header comment).
constexpr float kExp2Bias = 126.0f;

/// The input contract of a call (see the header comment).
enum class Exp2Input : uint8_t { kBiased, kBounded };

/// The constants of exp2, made once per kernel call and kept in registers: a constant made
/// per vector is a 4-cycle instruction on the M4 model, and clang rematerializes DUPs inside
/// loops unless it cannot see that they are constants (opaque()).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t opaque(svfloat32_t v) SME2K_STREAMING {
  asm("" : "+w"(v));
  return v;
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svint32_t opaque(svint32_t v) SME2K_STREAMING {
  asm("" : "+w"(v));
  return v;
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svuint32_t opaque(svuint32_t v) SME2K_STREAMING {
  asm("" : "+w"(v));
  return v;
}

/// Coefficients c0..c3 (and c4, c5 for the higher degrees, else zero) as vectors.
template <int kDegree>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t exp2_coefs_low() SME2K_STREAMING {
  using P = Exp2Poly<kDegree>;
  return svcreate4(opaque(svdup_f32(P::c[0])), opaque(svdup_f32(P::c[1])),
                   opaque(svdup_f32(P::c[2])), opaque(svdup_f32(P::c[3])));
}
template <int kDegree>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x2_t exp2_coefs_high() SME2K_STREAMING {
  using P = Exp2Poly<kDegree>;
  float c4 = 0.0f, c5 = 0.0f;
  if constexpr (kDegree >= 4) c4 = P::c[4];
  if constexpr (kDegree >= 5) c5 = P::c[5];
  return svcreate2(opaque(svdup_f32(c4)), opaque(svdup_f32(c5)));
}
/// Four vectors of 1.0 (the ZA way adds a constant c to a zeroed group as ones x c).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t ones_x4() SME2K_STREAMING {
  return svcreate4(opaque(svdup_f32(1.0f)), opaque(svdup_f32(1.0f)), opaque(svdup_f32(1.0f)),
                   opaque(svdup_f32(1.0f)));
}

/// Coefficient i (compile time) of the two tuples.
template <int kI>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t coef(svfloat32x4_t lo,
                                                       svfloat32x2_t hi) SME2K_STREAMING {
  if constexpr (kI < 4) {
    return svget4(lo, kI);
  } else {
    return svget2(hi, kI - 4);
  }
}

/// URSHL's shift operand: a signed vector in the ACLE (and GCC 14), unsigned in clang 22's
/// arm_sve.h; the value (23) is the same either way.
#if defined(__clang__)
using Exp2Shift = svuint32_t;
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE Exp2Shift exp2_shift() SME2K_STREAMING {
  return opaque(svdup_u32(23));
}
#else
using Exp2Shift = svint32_t;
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE Exp2Shift exp2_shift() SME2K_STREAMING {
  return opaque(svdup_s32(23));
}
#endif
/// -(126 << 23) as 32-bit lanes (unsigned arithmetic wraps to the same bits).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svuint32_t exp2_bias() SME2K_STREAMING {
  return opaque(svdup_u32(0u - (126u << 23)));
}

/// The bits of 2^n to add to a float's bits. kBiased: (nb << 23) - (126 << 23), with
/// nb = round(y) + 126 saturated at 0 by the unsigned conversion; kBounded: n << 23 of the
/// signed n = nb (two's complement: the same add). shift and bias from exp2_shift() /
/// exp2_bias(), made once (bias unused when bounded).
template <Exp2Input kIn = Exp2Input::kBiased>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svuint32x4_t exponent_bits(svfloat32x4_t nb, Exp2Shift shift,
                                                                 svuint32_t bias) SME2K_STREAMING {
  if constexpr (kIn == Exp2Input::kBounded) {
    const svint32x4_t n = svcvt_s32_f32_x4(nb);
    const svuint32x4_t u =
        svcreate4(svreinterpret_u32(svget4(n, 0)), svreinterpret_u32(svget4(n, 1)),
                  svreinterpret_u32(svget4(n, 2)), svreinterpret_u32(svget4(n, 3)));
    return svrshl_single_u32_x4(u, shift);  // a left shift: no rounding, sign bits shift out
  } else {
    return svadd_single_u32_x4(svrshl_single_u32_x4(svcvt_u32_f32_x4(nb), shift), bias);
  }
}

/// The svzero_mask_za() mask that clears ZA vector group g at every SVL: group g is ZA rows
/// g + k * SVL/32 (k < 4), all in the 32-bit tile g mod 4, i.e. the 64-bit tiles g mod 4 and
/// g mod 4 + 4 (64-bit tile t = rows t mod 8). The rest of that 32-bit tile goes with it.
constexpr uint32_t za_group_zero_mask(uint32_t g) { return (1u << (g % 4)) | (1u << (g % 4 + 4)); }

/// ZA way (Apple M4). ZA vector group kGy holds y (kBounded) or y + 126 (kBiased) and `yb`
/// the same values; groups kG1 and kG2 are scratch; the 32-bit tiles of all three are cleared
/// (za_group_zero_mask). Leaves 2^y in group kGy (for y >= -126; below it, kBiased, a tiny
/// positive value), for a caller that adds to it in ZA before reading it out.
template <int kDegree, uint32_t kGy, uint32_t kG1, uint32_t kG2, Exp2Input kIn = Exp2Input::kBiased>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void exp2_za_x4_in_za(
    svfloat32x4_t yb, svfloat32x4_t ones, svfloat32x4_t c_lo, svfloat32x2_t c_hi, Exp2Shift shift,
    svuint32_t bias) SME2K_STREAMING SME2K_INOUT_ZA {
  static_assert(kDegree >= 3 && kDegree <= 5, "sme2k: exp2 polynomial degree 3 to 5");
  const uint32_t gy = za_slice(0) + kGy, g1 = za_slice(0) + kG1, g2 = za_slice(0) + kG2;
  const svfloat32x4_t nb = svrintn_f32_x4(yb);
  svsub_za32_f32_vg1x4(gy, nb);  // f = y - n (or (y + 126) - (n + 126)), exact
  const svfloat32x4_t f = svread_za32_f32_vg1x4(gy);
  const svuint32x4_t eb = exponent_bits<kIn>(nb, shift, bias);
  svzero_mask_za(za_group_zero_mask(kGy) | za_group_zero_mask(kG1) | za_group_zero_mask(kG2));
  if constexpr (kDegree == 3) {
    // Horner: p = c2 + f c3, then p = c1 + p f, then c0 + p f in gy (two reads).
    svmla_single_za32_f32_vg1x4(g1, ones, coef<2>(c_lo, c_hi));
    svmla_single_za32_f32_vg1x4(g1, f, coef<3>(c_lo, c_hi));
    svmla_single_za32_f32_vg1x4(g2, ones, coef<1>(c_lo, c_hi));
    svmla_za32_f32_vg1x4(g2, svread_za32_f32_vg1x4(g1), f);
    svmla_single_za32_f32_vg1x4(gy, ones, coef<0>(c_lo, c_hi));
    svmla_za32_f32_vg1x4(gy, svread_za32_f32_vg1x4(g2), f);
  } else {
    // Estrin: (c0 + c1 f) + f^2 (c2 + c3 f + c4 f^2) (degree 5: + f^2 (c4 + c5 f) inside),
    // two reads at degree 4 where Horner needs three: 23 cycles per four vectors on the M4
    // model instead of 30.
    svmla_za32_f32_vg1x4(g2, f, f);
    svmla_single_za32_f32_vg1x4(gy, ones, coef<0>(c_lo, c_hi));
    svmla_single_za32_f32_vg1x4(gy, f, coef<1>(c_lo, c_hi));
    svmla_single_za32_f32_vg1x4(g1, ones, coef<2>(c_lo, c_hi));
    svmla_single_za32_f32_vg1x4(g1, f, coef<3>(c_lo, c_hi));
    const svfloat32x4_t f2 = svread_za32_f32_vg1x4(g2);
    if constexpr (kDegree == 4) {
      svmla_single_za32_f32_vg1x4(g1, f2, coef<4>(c_lo, c_hi));
    } else {
      svzero_mask_za(za_group_zero_mask(kG2));
      svmla_single_za32_f32_vg1x4(g2, ones, coef<4>(c_lo, c_hi));
      svmla_single_za32_f32_vg1x4(g2, f, coef<5>(c_lo, c_hi));
      svmla_za32_f32_vg1x4(g1, f2, svread_za32_f32_vg1x4(g2));
    }
    svmla_za32_f32_vg1x4(gy, f2, svread_za32_f32_vg1x4(g1));
  }
  svadd_za32_u32_vg1x4(gy, eb);
}

/// exp2_za_x4_in_za() read out: returns 2^y.
template <int kDegree, uint32_t kGy, uint32_t kG1, uint32_t kG2, Exp2Input kIn = Exp2Input::kBiased>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t
exp2_za_x4(svfloat32x4_t yb, svfloat32x4_t ones, svfloat32x4_t c_lo, svfloat32x2_t c_hi,
           Exp2Shift shift, svuint32_t bias) SME2K_STREAMING SME2K_INOUT_ZA {
  exp2_za_x4_in_za<kDegree, kGy, kG1, kG2, kIn>(yb, ones, c_lo, c_hi, shift, bias);
  return svread_za32_f32_vg1x4(za_slice(0) + kGy);
}

/// One vector of the register way: 2^f by Horner, times 2^n by adding eb to the bits.
template <int kDegree>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t exp2_z_one(svfloat32_t yb, svfloat32_t nb,
                                                             svuint32_t eb, svfloat32x4_t c_lo,
                                                             svfloat32x2_t c_hi) SME2K_STREAMING {
  const svbool_t all = svptrue_b32();
  const svfloat32_t f = svsub_f32_x(all, yb, nb);
  svfloat32_t p = svmad_f32_x(all, coef<kDegree>(c_lo, c_hi), f, coef<kDegree - 1>(c_lo, c_hi));
  if constexpr (kDegree >= 5) p = svmad_f32_x(all, p, f, coef<3>(c_lo, c_hi));
  if constexpr (kDegree >= 4) p = svmad_f32_x(all, p, f, coef<2>(c_lo, c_hi));
  p = svmad_f32_x(all, p, f, coef<1>(c_lo, c_hi));
  p = svmad_f32_x(all, p, f, coef<0>(c_lo, c_hi));
  return svreinterpret_f32(svadd_u32_x(all, svreinterpret_u32(p), eb));
}

/// Register way (Arm C1): the same arithmetic in ordinary SVE instructions, four-vector forms
/// where SME2 has them (round, convert, shift, the exponent bias). yb = y + 126.
template <int kDegree>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t exp2_z_x4(svfloat32x4_t yb, svfloat32x4_t c_lo,
                                                              svfloat32x2_t c_hi, Exp2Shift shift,
                                                              svuint32_t bias) SME2K_STREAMING {
  const svfloat32x4_t nb = svrintn_f32_x4(yb);
  const svuint32x4_t eb = exponent_bits(nb, shift, bias);
  return svcreate4(exp2_z_one<kDegree>(svget4(yb, 0), svget4(nb, 0), svget4(eb, 0), c_lo, c_hi),
                   exp2_z_one<kDegree>(svget4(yb, 1), svget4(nb, 1), svget4(eb, 1), c_lo, c_hi),
                   exp2_z_one<kDegree>(svget4(yb, 2), svget4(nb, 2), svget4(eb, 2), c_lo, c_hi),
                   exp2_z_one<kDegree>(svget4(yb, 3), svget4(nb, 3), svget4(eb, 3), c_lo, c_hi));
}

/// One vector of 2^y for |y| <= 126 (Exp2Input::kBounded), the register way: for code that
/// works a vector at a time (the activations of the dot and depthwise kernels).
template <int kDegree>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t
exp2_bounded_z(svfloat32_t y, svfloat32x4_t c_lo, svfloat32x2_t c_hi) SME2K_STREAMING {
  const svbool_t all = svptrue_b32();
  const svfloat32_t n = svrintn_f32_x(all, y);
  const svuint32_t eb = svreinterpret_u32(svlsl_n_s32_x(all, svcvt_s32_f32_x(all, n), 23));
  return exp2_z_one<kDegree>(y, n, eb, c_lo, c_hi);
}

/// ZA group g += c (g zeroed before): ones x c, one vector-group FMLA.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void za_add_constant(
    uint32_t g, svfloat32x4_t ones, svfloat32_t c) SME2K_STREAMING SME2K_INOUT_ZA {
  svmla_single_za32_f32_vg1x4(g, ones, c);
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
