// A thin layer over the ACLE SME2 intrinsics, overloaded on element type, so one kernel
// template serves every variant. Each wrapper carries what its instruction needs and is easy
// to get wrong at the call site: the widening f16 outer product takes 16-bit predicates (a
// 32-bit predicate silently drops the odd k of every pair).
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/bf16.hpp"
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
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svbfloat16x2_t load_x2(const bf16* p) SME2K_STREAMING {
  return svld1_x2(svptrue_c16(), reinterpret_cast<const bfloat16_t*>(p));
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svint8x2_t load_x2(const int8_t* p) SME2K_STREAMING {
  return svld1_x2(svptrue_c8(), p);
}

/// The all-true predicates the calls below take, by element type: make them once, before a
/// loop. The empty asm hides that they are constants: otherwise clang re-creates a PTRUE in
/// the loop body (rematerialization), a predicate instruction per iteration on the compute
/// side (8% of the f32 kernel's outer-product time on the M4 model).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svbool_t all_lanes(float) SME2K_STREAMING {
  svbool_t all = svptrue_b32();
  asm("" : "+Upa"(all));
  return all;
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svbool_t all_lanes(f16) SME2K_STREAMING {
  svbool_t all = svptrue_b16();
  asm("" : "+Upa"(all));
  return all;
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svbool_t all_lanes(bf16) SME2K_STREAMING {
  return all_lanes(f16{});
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svbool_t all_lanes(int8_t) SME2K_STREAMING {
  svbool_t all = svptrue_b8();
  asm("" : "+Upa"(all));
  return all;
}

/// A ZA array vector index as the multi-vector ZA instructions take it (za.s[Wv, offset,
/// vgx4]), in a register the compiler cannot see through. clang 22 can select a constant index
/// as an immediate where the Wv register belongs (-mllvm -verify-machineinstrs: "Expected a
/// register operand"; the assembly reads "za.d[#0, 2, vgx4]"), and the encoding then reads
/// W8, whatever it holds: the QD8QB4W decode kernel wrote wrong f16 outputs that way. Where
/// an index is a constant, pass za_slice(0) + index (the offset stays an immediate).
SME2K_ALWAYS_INLINE uint32_t za_slice(uint32_t index) SME2K_STREAMING_COMPATIBLE {
  asm("" : "+r"(index));
  return index;
}

/// 32-bit ZA tile kTile += a x b: f32 (VL x VL products), or f16 widening (pairs of k summed
/// into each 32-bit lane). `all` = all_lanes() of the element type: 16-bit for f16 (a 32-bit
/// predicate would silently drop the odd k of every pair).
template <uint64_t kTile>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void mopa_za32(svbool_t all, svfloat32_t a,
                                                     svfloat32_t b) SME2K_STREAMING SME2K_INOUT_ZA {
  svmopa_za32_f32_m(kTile, all, all, a, b);
}
template <uint64_t kTile>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void mopa_za32(svbool_t all, svfloat16_t a,
                                                     svfloat16_t b) SME2K_STREAMING SME2K_INOUT_ZA {
  svmopa_za32_f16_m(kTile, all, all, a, b);
}
/// bf16 widening (BFMOPA): as f16, pairs of k summed into each 32-bit lane.
template <uint64_t kTile>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void mopa_za32(svbool_t all, svbfloat16_t a, svbfloat16_t b)
    SME2K_STREAMING SME2K_INOUT_ZA {
  svmopa_za32_bf16_m(kTile, all, all, a, b);
}
/// int8 4-way: four k per 32-bit lane summed into int32 (`all` = all_lanes(int8_t{})).
template <uint64_t kTile>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void mopa_za32(svbool_t all, svint8_t a,
                                                     svint8_t b) SME2K_STREAMING SME2K_INOUT_ZA {
  svmopa_za32_s8_m(kTile, all, all, a, b);
}

/// Four consecutive vectors from p.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t load_x4(const float* p) SME2K_STREAMING {
  return svld1_x4(svptrue_c32(), p);
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat16x4_t load_x4(const f16* p) SME2K_STREAMING {
  return svld1_x4(svptrue_c16(), reinterpret_cast<const float16_t*>(p));
}

SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svbfloat16x4_t load_x4(const bf16* p) SME2K_STREAMING {
  return svld1_x4(svptrue_c16(), reinterpret_cast<const bfloat16_t*>(p));
}

/// The 16 bytes at p (4 f32 or 8 f16), elements at or past `count` zero and not read,
/// replicated into every 128-bit segment: the operand of the indexed dot products below.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t load_quad(const float* p,
                                                            size_t count) SME2K_STREAMING {
  return svld1rq(svwhilelt_b32_u64(0, count), p);
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat16_t load_quad(const f16* p,
                                                            size_t count) SME2K_STREAMING {
  return svld1rq(svwhilelt_b16_u64(0, count), reinterpret_cast<const float16_t*>(p));
}

SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svbfloat16_t load_quad(const bf16* p,
                                                             size_t count) SME2K_STREAMING {
  return svld1rq(svwhilelt_b16_u64(0, count), reinterpret_cast<const bfloat16_t*>(p));
}

/// ZA vector group `slice` (two f32 vectors) += w x x[kIndex]: each 32-bit lane of w (one
/// output column) times element group kIndex of every 128-bit segment of x (the same k for
/// all lanes). f32: one k per lane (FMLA); f16: a pair of k per lane, summed (FDOT).
template <uint64_t kIndex>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void dot_lane_za32_vg2(
    uint32_t slice, svfloat32x2_t w, svfloat32_t x) SME2K_STREAMING SME2K_INOUT_ZA {
  svmla_lane_za32_f32_vg1x2(slice, w, x, kIndex);
}
template <uint64_t kIndex>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void dot_lane_za32_vg2(
    uint32_t slice, svfloat16x2_t w, svfloat16_t x) SME2K_STREAMING SME2K_INOUT_ZA {
  svdot_lane_za32_f16_vg1x2(slice, w, x, kIndex);
}
template <uint64_t kIndex>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void dot_lane_za32_vg2(
    uint32_t slice, svbfloat16x2_t w, svbfloat16_t x) SME2K_STREAMING SME2K_INOUT_ZA {
  svdot_lane_za32_bf16_vg1x2(slice, w, x, kIndex);
}

/// Stores two f32 vectors narrowed to the 16-bit type of p (one two-to-one FCVT or BFCVT),
/// elements where `pred` (16-bit) is true.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_narrow_x2(svbool_t pred, f16* p,
                                                           svfloat32x2_t v) SME2K_STREAMING {
  svst1(pred, reinterpret_cast<float16_t*>(p), svcvt_f16_f32_x2(v));
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_narrow_x2(svbool_t pred, bf16* p,
                                                           svfloat32x2_t v) SME2K_STREAMING {
  svst1(pred, reinterpret_cast<bfloat16_t*>(p), svcvt_bf16_f32_x2(v));
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
