// The per-variant core of the SME2 2VL x 2VL GEMM kernel: one k-block of outer products over
// all four 32-bit ZA tiles, everything else (bias start, loop, epilogue) being shared.
//
//   tile 0 += a[0] x b[0]    tile 1 += a[0] x b[1]      a: 2VL rows of packed A (2 vectors)
//   tile 2 += a[1] x b[0]    tile 3 += a[1] x b[1]      b: 2VL columns of packed B (2 vectors)
//
// A step loads both operands with one two-register SME2 load each and issues four outer
// products. Per step at SVL 512 on the Apple M4 model:
//   f32:  4 FMOPA (1 cycle each, 256 MACs)          vs 4 x 64 B loads: balanced
//   f16:  4 widening FMOPA (2 cycles, 512 MACs)     vs 4 x 64 B loads: compute-bound, so the
//         f16 variant's data movement (packing A, the epilogue's round trip) hides in the
//         idle load/store bandwidth
// The widening FMOPA takes 16-bit predicates: a 32-bit one would silently drop the odd k of
// every pair.
#pragma once

#include <cstddef>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/f16.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

struct MopaF32 {
  using Element = float;
  static constexpr size_t kKr = 1;
  /// Whether outer products (not loads) bound the kernel on the M4 model at SVL 512.
  static constexpr bool kComputeBound = false;

  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void step(const Element* a, const Element* b)
      SME2K_STREAMING SME2K_INOUT_ZA {
    const svbool_t all = svptrue_b32();
    const svfloat32x2_t av = svld1_x2(svptrue_c32(), a);
    const svfloat32x2_t bv = svld1_x2(svptrue_c32(), b);
    svmopa_za32_f32_m(/*tile=*/0, all, all, svget2(av, 0), svget2(bv, 0));
    svmopa_za32_f32_m(/*tile=*/1, all, all, svget2(av, 0), svget2(bv, 1));
    svmopa_za32_f32_m(/*tile=*/2, all, all, svget2(av, 1), svget2(bv, 0));
    svmopa_za32_f32_m(/*tile=*/3, all, all, svget2(av, 1), svget2(bv, 1));
  }
};

struct MopaF16 {
  using Element = f16;
  static constexpr size_t kKr = 2;
  static constexpr bool kComputeBound = true;

  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void step(const Element* a, const Element* b)
      SME2K_STREAMING SME2K_INOUT_ZA {
    const svbool_t all = svptrue_b16();
    const svfloat16x2_t av = svld1_x2(svptrue_c16(), reinterpret_cast<const float16_t*>(a));
    const svfloat16x2_t bv = svld1_x2(svptrue_c16(), reinterpret_cast<const float16_t*>(b));
    svmopa_za32_f16_m(/*tile=*/0, all, all, svget2(av, 0), svget2(bv, 0));
    svmopa_za32_f16_m(/*tile=*/1, all, all, svget2(av, 0), svget2(bv, 1));
    svmopa_za32_f16_m(/*tile=*/2, all, all, svget2(av, 1), svget2(bv, 0));
    svmopa_za32_f16_m(/*tile=*/3, all, all, svget2(av, 1), svget2(bv, 1));
  }
};

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
