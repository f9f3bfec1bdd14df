// Softmax of rows on SME2: three passes over a row, four vectors (4 VL elements) a step.
//   1. the row's maximum of z = scale * x + mask (FMAX of four vectors at a time),
//   2. e = 2^(log2(e) (z - max)) (epilogue/sme2_exp2.hpp, the way the cost model picks),
//      stored unnormalized in the output row, and summed into a ZA vector group,
//   3. out = e / sum, in place.
// The affine step of pass 2 runs in ZA either way (one FMLA of ones x bias and one of x x
// scale into a zeroed group, then a read), since it also gives the ZA way its y in ZA.
// -inf inputs (masked scores) are clamped to -1e30 first, which exp2 turns into a value
// below 2^-125; a row whose maximum is -inf (everything masked) is written as zeros.
//
// ZA use: vector groups 0-2 are exp2 scratch, group 3 the running sum.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/epilogue/sme2_exp2.hpp"
#include "sme2k/types/f16.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

/// One softmax call's rows, as the kernels take them (validated by ops/softmax.hpp).
template <class In, class Out>
struct SoftmaxRows {
  const In* x;
  size_t ldx;
  Out* y;
  size_t ldy;
  size_t cols;
  float scale;
  const float* mask;  // nullptr, or row r at mask + r * mask_ld (mask_ld 0: one shared row)
  size_t mask_ld;
};

/// Row elements [i, i + 4 VL) as four f32 vectors, lanes at or past n zero (and not read).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t load_f32_x4(const float* row, size_t i,
                                                                size_t n) SME2K_STREAMING {
  return svld1_f32_x4(svwhilelt_c32_u64(i, n, 4), row + i);
}
/// Vector k of four from f16 row elements [i, i + 4 VL): f16 into 32-bit containers, then
/// FCVT (an f16 input costs four more instructions per four vectors than f32).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t load_f16_part(const f16* row, size_t i, size_t n,
                                                                uint64_t k) SME2K_STREAMING {
  const uint64_t at = i + k * svcntw();
  const svuint32_t h =
      svld1uh_u32(svwhilelt_b32_u64(at, n), reinterpret_cast<const uint16_t*>(row) + at);
  return svcvt_f32_f16_x(svptrue_b32(), svreinterpret_f16(h));
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t load_f32_x4(const f16* row, size_t i,
                                                                size_t n) SME2K_STREAMING {
  return svcreate4(load_f16_part(row, i, n, 0), load_f16_part(row, i, n, 1),
                   load_f16_part(row, i, n, 2), load_f16_part(row, i, n, 3));
}

/// Stores four f32 vectors as row elements [i, i + 4 VL), none at or past n.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_x4(float* row, size_t i, size_t n,
                                                    svfloat32x4_t v) SME2K_STREAMING {
  svst1_f32_x4(svwhilelt_c32_u64(i, n, 4), row + i, v);
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_x4(f16* row, size_t i, size_t n,
                                                    svfloat32x4_t v) SME2K_STREAMING {
  // FCVT of two vectors packs them in order into one f16 vector (first source low half).
  const svfloat16_t lo = svcvt_f16_f32_x2(svcreate2(svget4(v, 0), svget4(v, 1)));
  const svfloat16_t hi = svcvt_f16_f32_x2(svcreate2(svget4(v, 2), svget4(v, 3)));
  svst1_f16_x2(svwhilelt_c16_u64(i, n, 2), reinterpret_cast<float16_t*>(row) + i,
               svcreate2(lo, hi));
}

/// Rows [r0, r1) of `job`; kZa: the ZA way of exp2 (else the register way).
template <bool kZa, int kDegree, class In, class Out>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void softmax_rows_sme2(
    const SoftmaxRows<In, Out>& job, size_t r0, size_t r1) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kFloor = -1e30f;  // -inf and below: exp2 gives < 2^-125
  const size_t n = job.cols, step = 4 * svcntw();
  const svfloat32_t minus_inf = svdup_f32(-__builtin_inff());
  const svfloat32x4_t minus_inf4 = svcreate4(minus_inf, minus_inf, minus_inf, minus_inf);
  const svfloat32_t zero = svdup_f32(0.0f);
  const svfloat32x4_t zero4 = svcreate4(zero, zero, zero, zero);
  const svfloat32x4_t ones = ones_x4();
  const svfloat32x4_t c_lo = exp2_coefs_low<kDegree>();
  const svfloat32x2_t c_hi = exp2_coefs_high<kDegree>();
  const Exp2Shift shift = exp2_shift();
  const svuint32_t ebias = exp2_bias();
  const svfloat32_t x_scale = opaque(svdup_f32(job.scale * kLog2e));
  const svfloat32_t m_scale = opaque(svdup_f32(kLog2e));
  const svfloat32_t floor_v = opaque(svdup_f32(kFloor));
  const svbool_t all = svptrue_b32();
  const uint32_t gy = za_slice(0), gsum = za_slice(0) + 3;
  for (size_t r = r0; r < r1; ++r) {
    const In* x = job.x + r * job.ldx;
    Out* y = job.y + r * job.ldy;
    const float* mask = job.mask != nullptr ? job.mask + r * job.mask_ld : nullptr;
    // 1. max of z = scale x + mask (scale > 0: max of x when there is no mask).
    svfloat32x4_t mx = minus_inf4;
    for (size_t i = 0; i < n; i += step) {
      svfloat32x4_t z = load_f32_x4(x, i, n);
      if (mask != nullptr) {
        svzero_mask_za(za_group_zero_mask(0));
        svmla_single_za32_f32_vg1x4(gy, z, svdup_f32(job.scale));
        svadd_za32_f32_vg1x4(gy, load_f32_x4(mask, i, n));
        z = svread_za32_f32_vg1x4(gy);
      }
      if (i + step > n) z = svsel_f32_x4(svwhilelt_c32_u64(i, n, 4), z, minus_inf4);
      mx = svmax_f32_x4(mx, z);
    }
    const svfloat32_t m2 = svmax_f32_x(all, svmax_f32_x(all, svget4(mx, 0), svget4(mx, 1)),
                                       svmax_f32_x(all, svget4(mx, 2), svget4(mx, 3)));
    float zmax = svmaxv_f32(all, m2);
    if (mask == nullptr) zmax *= job.scale;
    if (zmax == -__builtin_inff()) {  // every element masked
      for (size_t i = 0; i < n; i += step) store_x4(y, i, n, zero4);
      continue;
    }
    // 2. e = 2^(x scale log2e + mask log2e + bias), bias = 126 - max log2e (sme2_exp2.hpp).
    const svfloat32_t bias = svdup_f32(kExp2Bias - zmax * kLog2e);
    svzero_mask_za(za_group_zero_mask(3));
    for (size_t i = 0; i < n; i += step) {
      svzero_mask_za(za_group_zero_mask(0));
      za_add_constant(gy, ones, bias);
      svmla_single_za32_f32_vg1x4(gy, svmax_single_f32_x4(load_f32_x4(x, i, n), floor_v), x_scale);
      if (mask != nullptr) {
        svmla_single_za32_f32_vg1x4(gy, svmax_single_f32_x4(load_f32_x4(mask, i, n), floor_v),
                                    m_scale);
      }
      const svfloat32x4_t yb = svread_za32_f32_vg1x4(gy);
      svfloat32x4_t e;
      if constexpr (kZa) {
        e = exp2_za_x4<kDegree, 0, 1, 2>(yb, ones, c_lo, c_hi, shift, ebias);
      } else {
        e = exp2_z_x4<kDegree>(yb, c_lo, c_hi, shift, ebias);
      }
      if (i + step > n) e = svsel_f32_x4(svwhilelt_c32_u64(i, n, 4), e, zero4);
      svadd_za32_f32_vg1x4(gsum, e);
      store_x4(y, i, n, e);
    }
    const svfloat32x4_t s4 = svread_za32_f32_vg1x4(gsum);
    const svfloat32_t s2 = svadd_f32_x(all, svadd_f32_x(all, svget4(s4, 0), svget4(s4, 1)),
                                       svadd_f32_x(all, svget4(s4, 2), svget4(s4, 3)));
    const svfloat32_t inv = svdup_f32(1.0f / svaddv_f32(all, s2));
    // 3. out = e / sum, in place.
    for (size_t i = 0; i < n; i += step) {
      const svfloat32x4_t e = load_f32_x4(y, i, n);
      if constexpr (kZa) {  // a vector group FMLA and a read: 1.5 cycles a vector on M4
        svzero_mask_za(za_group_zero_mask(0));
        svmla_single_za32_f32_vg1x4(gy, e, inv);
        store_x4(y, i, n, svread_za32_f32_vg1x4(gy));
      } else {  // four FMULs: 2 cycles per four vectors on C1 (the ZA way: 6)
        store_x4(
            y, i, n,
            svcreate4(svmul_f32_x(all, svget4(e, 0), inv), svmul_f32_x(all, svget4(e, 1), inv),
                      svmul_f32_x(all, svget4(e, 2), inv), svmul_f32_x(all, svget4(e, 3), inv)));
      }
    }
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
