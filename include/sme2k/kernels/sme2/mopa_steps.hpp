// The per-variant core of the SME2 2VL x 2VL GEMM kernel: one k-block of outer products over
// all four 32-bit ZA tiles, everything else (bias start, loop, epilogue) being shared.
//
//   tile 0 += a[0] x b[0]    tile 1 += a[0] x b[1]      a: 2VL rows of packed A (2 vectors)
//   tile 2 += a[1] x b[0]    tile 3 += a[1] x b[1]      b: 2VL columns of packed B (2 vectors)
//
// A step loads both operands with one two-register SME2 load each and issues four outer
// products. Per step at SVL 512 on the Apple M4 model:
//   f32:  4 FMOPA (1 cycle each, 256 MACs)          vs 4 x 64 B loads: balanced
//   int8: 4 four-way SMOPA (2 cycles, 1024 MACs)   vs 4 x 64 B loads: compute-bound too
//   f16:  4 widening FMOPA (2 cycles, 512 MACs)     vs 4 x 64 B loads: compute-bound, so the
//         f16 variant's data movement (packing A, the epilogue's round trip) hides in the
//         idle load/store bandwidth
#pragma once

#include <cstddef>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/bf16.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/quantization.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

/// Outer products of one k-block of Elem, accumulating in 32 bits: KR = 4 / sizeof(Elem)
/// k per 32-bit lane (f32: 1, f16: 2).
template <class Elem>
struct MopaStep {
  using Element = Elem;
  static constexpr size_t kKr = 4 / sizeof(Elem);
  /// Whether outer products (not loads) bound the kernel on the M4 model at SVL 512.
  static constexpr bool kComputeBound = kKr > 1;

  /// `all` = all_lanes(Elem{}), made once by the caller.
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void step(svbool_t all, const Elem* a, const Elem* b)
      SME2K_STREAMING SME2K_INOUT_ZA {
    const auto av = load_x2(a);
    const auto bv = load_x2(b);
    mopa_za32</*tile=*/0>(all, svget2(av, 0), svget2(bv, 0));
    mopa_za32</*tile=*/1>(all, svget2(av, 0), svget2(bv, 1));
    mopa_za32</*tile=*/2>(all, svget2(av, 1), svget2(bv, 0));
    mopa_za32</*tile=*/3>(all, svget2(av, 1), svget2(bv, 1));
  }
};

using MopaF32 = MopaStep<float>;
using MopaF16 = MopaStep<f16>;
using MopaBf16 = MopaStep<bf16>;
using MopaQs8 = MopaStep<int8_t>;

/// Starts the four tiles of a 2VL x 2VL block from a panel's bias row (ZA already zero):
/// f32 bias: one f32 outer product of a vector of ones with the bias per tile (exact);
/// QS8 (Qs8ChannelParams pairs): the int32 biases, de-interleaved by LD2W, added to every
/// row of their tiles (ADDHA).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void start_from_bias(const float* bias)
    SME2K_STREAMING SME2K_INOUT_ZA {
  const svbool_t all = svptrue_b32();
  const svfloat32_t ones = svdup_f32(1.0f);
  const svfloat32x2_t b = svld1_x2(svptrue_c32(), bias);
  svmopa_za32_f32_m(/*tile=*/0, all, all, ones, svget2(b, 0));
  svmopa_za32_f32_m(/*tile=*/1, all, all, ones, svget2(b, 1));
  svmopa_za32_f32_m(/*tile=*/2, all, all, ones, svget2(b, 0));
  svmopa_za32_f32_m(/*tile=*/3, all, all, ones, svget2(b, 1));
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void start_from_bias(const Qs8ChannelParams* params)
    SME2K_STREAMING SME2K_INOUT_ZA {
  const svbool_t all = svptrue_b32();
  const auto* words = reinterpret_cast<const int32_t*>(params);
  const svint32_t lo = svget2(svld2_s32(all, words), 0);
  const svint32_t hi = svget2(svld2_s32(all, words + 2 * svcntsw()), 0);
  svaddha_za32_s32_m(/*tile=*/0, all, all, lo);
  svaddha_za32_s32_m(/*tile=*/1, all, all, hi);
  svaddha_za32_s32_m(/*tile=*/2, all, all, lo);
  svaddha_za32_s32_m(/*tile=*/3, all, all, hi);
}

/// QD8: starts the four tiles (ZA already zero) from -zp[i] * column_sum[j], exactly, with
/// one 2-way int16 outer product per tile of the rows' (-128 zp, -zp) with the columns'
/// (high, low) halves of the sum (types/dynamic_quantization.hpp): the k-loop then adds
/// sum q w, so the tiles end at sum (q - zp) w.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void start_from_zero_points(
    const Qd8RowParams* rows, const Qd8ChannelParams* channels) SME2K_STREAMING SME2K_INOUT_ZA {
  const svbool_t all32 = svptrue_b32();
  const svbool_t all16 = svptrue_b16();  // 16-bit predicates: both halves of every lane
  const size_t vl = svcntsw();
  const auto* row_words = reinterpret_cast<const int32_t*>(rows);
  const auto* channel_words = reinterpret_cast<const int32_t*>(channels);
  const svint16_t top = svreinterpret_s16(svget2(svld2(all32, row_words), 0));
  const svint16_t bottom = svreinterpret_s16(svget2(svld2(all32, row_words + 2 * vl), 0));
  const svint16_t left = svreinterpret_s16(svget3(svld3(all32, channel_words), 0));
  const svint16_t right = svreinterpret_s16(svget3(svld3(all32, channel_words + 3 * vl), 0));
  svmopa_za32_s16_m(/*tile=*/0, all16, all16, top, left);
  svmopa_za32_s16_m(/*tile=*/1, all16, all16, top, right);
  svmopa_za32_s16_m(/*tile=*/2, all16, all16, bottom, left);
  svmopa_za32_s16_m(/*tile=*/3, all16, all16, bottom, right);
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
