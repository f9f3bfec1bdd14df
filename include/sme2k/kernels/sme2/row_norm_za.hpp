// RMSNorm and LayerNorm on SME2, four rows per ZA vector group (kernels/sme2/row_io_za.hpp).
//
// RMSNorm, a block of 16 rows (four groups):
//   pass 1  ZA group g += {x} * {x}: each row's sum of squares in its own vector (FMLA vgx4)
//   rows    r = 1 / sqrt(sum / cols + eps) per row (FADDV, then scalar), broadcast as R_g
//   pass 2  per VL columns: weight w loaded once for the 16 rows; per group ZA = {x} * {R_g},
//           read, ZA' = {x r} * w, STR ZA' (f32) or convert and store (f16)
// On the Apple M4 model (SVL 512, f32) that is 0.5 + 2 + 0.25 (ZERO) compute cycles per
// vector of output against 1 + 1 + 1/16 + 1.28 of loads and stores: load/store-bound, x read
// twice (a 4096-float row does not fit in ZA and Z, 6 KiB), the weight once per 16 rows.
// LayerNorm: pass 1 the sums (FADD vgx4), pass 1b the centred squares ((x - mean) by a
// predicated FSUB, a streaming SVE instruction), pass 2 ZA = -mean r (FMLA of the broadcast
// by ones), += {x} * {R}, read, ZA' = b (slice loads), += {(x - mean) r} * w, store. The
// fused x r - mean r rounds -mean r first: an error of |mean| r 2^-24 per element.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/kernels/row_op_args.hpp"
#include "sme2k/kernels/sme2/row_io_za.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {
namespace detail {

/// Up to kRows rows of a block: rows past `valid` repeat the last one (read, never written).
template <class T, size_t kRows>
struct RowBlock {
  const T* x[kRows];
  T* y[kRows];
  size_t valid;

  SME2K_ALWAYS_INLINE RowBlock(const RowNormArgs<T>& a, size_t r0,
                               size_t n) SME2K_STREAMING_COMPATIBLE : valid(n) {
    for (size_t i = 0; i < kRows; ++i) {
      const size_t r = r0 + (i < n ? i : n - 1);
      x[i] = a.x + r * a.ldx;
      y[i] = a.y + r * a.ldy;
    }
  }
  SME2K_ALWAYS_INLINE size_t valid_in(size_t group) const SME2K_STREAMING_COMPATIBLE {
    const size_t first = group * 4;
    return valid <= first ? 0 : (valid - first < 4 ? valid - first : 4);
  }
};

/// 1 / sqrt(v / n + eps) of a row's lane sums v, broadcast.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t inv_rms(svbool_t all, svfloat32_t v, float n,
                                                          float eps) SME2K_STREAMING {
  const svfloat32_t m = svdup_f32(svaddv(all, v) / n + eps);
  return svdiv_x(all, svdup_f32(1.0f), svsqrt_x(all, m));
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t
inv_rms_x4(svbool_t all, uint32_t slot, float n, float eps) SME2K_STREAMING SME2K_INOUT_ZA {
  const svfloat32x4_t s = svread_za32_f32_vg1x4(slot);
  return svcreate4(inv_rms(all, svget4(s, 0), n, eps), inv_rms(all, svget4(s, 1), n, eps),
                   inv_rms(all, svget4(s, 2), n, eps), inv_rms(all, svget4(s, 3), n, eps));
}

/// One group of four rows of RMSNorm's pass 2 at columns [c, c + VL).
template <class T, size_t kRows>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void rms_scale_group(
    const RowBlock<T, kRows>& b, size_t g, svfloat32x4_t r, const float* weight, svfloat32_t w,
    svbool_t pg, bool full, size_t c) SME2K_STREAMING SME2K_INOUT_ZA {
  svzero_mask_za(za32_slot_mask(0) | za32_slot_mask(1));
  svmla_za32_f32_vg1x4(za_slice(0), load_x4_rows(pg, b.x + 4 * g, c), r);
  uint32_t out = za_slice(0);
  if (weight != nullptr) {
    svmla_single_za32_f32_vg1x4(za_slice(0) + 1, svread_za32_f32_vg1x4(za_slice(0)), w);
    out = za_slice(0) + 1;
  }
  store_x4_rows(out, pg, full, b.y + 4 * g, b.valid_in(g), c);
}

}  // namespace detail

/// RMSNorm of rows [r0, r0 + n) of a, n <= 16.
template <class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void rms_norm_block_za(
    const RowNormArgs<T>& a, size_t r0, size_t n) SME2K_STREAMING SME2K_INOUT_ZA {
  const detail::RowBlock<T, 16> b(a, r0, n);
  const size_t vl = svcntw(), groups = (n + 3) / 4;
  const svbool_t all = all_lanes(float{});
  svzero_za();
  for (size_t c = 0; c < a.cols; c += vl) {
    const svbool_t pg = svwhilelt_b32_u64(c, a.cols);
    for (size_t g = 0; g < groups; ++g) {
      const svfloat32x4_t v = load_x4_rows(pg, b.x + 4 * g, c);
      svmla_za32_f32_vg1x4(za_slice(0) + static_cast<uint32_t>(g), v, v);
    }
  }
  const float cols = static_cast<float>(a.cols);
  // Groups past `groups` are never used: their (zero) sums give finite or inf factors.
  const svfloat32x4_t r0v = detail::inv_rms_x4(all, za_slice(0), cols, a.eps);
  const svfloat32x4_t r1v = detail::inv_rms_x4(all, za_slice(0) + 1, cols, a.eps);
  const svfloat32x4_t r2v = detail::inv_rms_x4(all, za_slice(0) + 2, cols, a.eps);
  const svfloat32x4_t r3v = detail::inv_rms_x4(all, za_slice(0) + 3, cols, a.eps);
  svfloat32_t w = svdup_f32(1.0f);
  for (size_t c = 0; c < a.cols; c += vl) {
    const svbool_t pg = svwhilelt_b32_u64(c, a.cols);
    const bool full = c + vl <= a.cols;
    if (a.weight != nullptr) w = svld1(pg, a.weight + c);
    detail::rms_scale_group(b, 0, r0v, a.weight, w, pg, full, c);
    if (groups > 1) detail::rms_scale_group(b, 1, r1v, a.weight, w, pg, full, c);
    if (groups > 2) detail::rms_scale_group(b, 2, r2v, a.weight, w, pg, full, c);
    if (groups > 3) detail::rms_scale_group(b, 3, r3v, a.weight, w, pg, full, c);
  }
}

namespace detail {

/// The means of four rows from their lane sums in vector-group `slot`, broadcast.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t mean_x4(svbool_t all, uint32_t slot, float n)
    SME2K_STREAMING SME2K_INOUT_ZA {
  const svfloat32x4_t s = svread_za32_f32_vg1x4(slot);
  return svcreate4(
      svdup_f32(svaddv(all, svget4(s, 0)) / n), svdup_f32(svaddv(all, svget4(s, 1)) / n),
      svdup_f32(svaddv(all, svget4(s, 2)) / n), svdup_f32(svaddv(all, svget4(s, 3)) / n));
}

/// ZA group `slot` += (x - m)^2 for four rows at [c, c + VL); lanes outside pg add 0.
template <class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void centred_squares(svbool_t pg, const T* const* x, size_t c,
                                                           svfloat32x4_t m, uint32_t slot)
    SME2K_STREAMING SME2K_INOUT_ZA {
  const svfloat32x4_t d = svcreate4(svsub_z(pg, load_f32(pg, x[0] + c), svget4(m, 0)),
                                    svsub_z(pg, load_f32(pg, x[1] + c), svget4(m, 1)),
                                    svsub_z(pg, load_f32(pg, x[2] + c), svget4(m, 2)),
                                    svsub_z(pg, load_f32(pg, x[3] + c), svget4(m, 3)));
  svmla_za32_f32_vg1x4(slot, d, d);
}

/// -(m * r), per vector.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t
neg_product_x4(svbool_t all, svfloat32x4_t m, svfloat32x4_t r) SME2K_STREAMING {
  return svcreate4(svneg_x(all, svmul_x(all, svget4(m, 0), svget4(r, 0))),
                   svneg_x(all, svmul_x(all, svget4(m, 1), svget4(r, 1))),
                   svneg_x(all, svmul_x(all, svget4(m, 2), svget4(r, 2))),
                   svneg_x(all, svmul_x(all, svget4(m, 3), svget4(r, 3))));
}

/// One group of four rows of LayerNorm's pass 2 at columns [c, c + VL): r = 1 / std,
/// nmr = -mean * r (each broadcast per row). The bias enters ZA by four predicated slice
/// loads (a load each, where a tuple of ones times the bias costs register moves).
template <class T, size_t kRows>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void layer_scale_group(
    const RowBlock<T, kRows>& b, size_t g, svfloat32x4_t r, svfloat32x4_t nmr, svfloat32_t one,
    const RowNormArgs<T>& a, svfloat32_t w, svbool_t pg, bool full,
    size_t c) SME2K_STREAMING SME2K_INOUT_ZA {
  if (a.bias != nullptr) {
    svzero_mask_za(za32_slot_mask(0));
    const uint32_t step =
        static_cast<uint32_t>(svcntsw() / 4);  // slot 1, row q: tile 1, slice q VL / 4
    svld1_hor_za32(1, za_slice(0), pg, a.bias + c);
    svld1_hor_za32(1, za_slice(0) + step, pg, a.bias + c);
    svld1_hor_za32(1, za_slice(0) + 2 * step, pg, a.bias + c);
    svld1_hor_za32(1, za_slice(0) + 3 * step, pg, a.bias + c);
  } else {
    svzero_mask_za(za32_slot_mask(0) | za32_slot_mask(1));
  }
  svmla_single_za32_f32_vg1x4(za_slice(0), nmr, one);
  svmla_za32_f32_vg1x4(za_slice(0), load_x4_rows(pg, b.x + 4 * g, c), r);
  uint32_t out = za_slice(0);
  if (a.weight != nullptr || a.bias != nullptr) {
    svmla_single_za32_f32_vg1x4(za_slice(0) + 1, svread_za32_f32_vg1x4(za_slice(0)), w);
    out = za_slice(0) + 1;
  }
  store_x4_rows(out, pg, full, b.y + 4 * g, b.valid_in(g), c);
}

}  // namespace detail

/// LayerNorm of rows [r0, r0 + n) of a, n <= 8.
template <class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void layer_norm_block_za(
    const RowNormArgs<T>& a, size_t r0, size_t n) SME2K_STREAMING SME2K_INOUT_ZA {
  const detail::RowBlock<T, 8> b(a, r0, n);
  const size_t vl = svcntw();
  const bool two = n > 4;
  const svbool_t all = all_lanes(float{});
  const float cols = static_cast<float>(a.cols);
  svzero_za();
  for (size_t c = 0; c < a.cols; c += vl) {
    const svbool_t pg = svwhilelt_b32_u64(c, a.cols);
    svadd_za32_f32_vg1x4(za_slice(0), load_x4_rows(pg, b.x, c));
    if (two) svadd_za32_f32_vg1x4(za_slice(0) + 1, load_x4_rows(pg, b.x + 4, c));
  }
  const svfloat32x4_t m0 = detail::mean_x4(all, za_slice(0), cols);
  const svfloat32x4_t m1 = detail::mean_x4(all, za_slice(0) + 1, cols);
  for (size_t c = 0; c < a.cols; c += vl) {
    const svbool_t pg = svwhilelt_b32_u64(c, a.cols);
    detail::centred_squares(pg, b.x, c, m0, za_slice(0) + 2);
    if (two) detail::centred_squares(pg, b.x + 4, c, m1, za_slice(0) + 3);
  }
  const svfloat32x4_t r0v = detail::inv_rms_x4(all, za_slice(0) + 2, cols, a.eps);
  const svfloat32x4_t r1v = detail::inv_rms_x4(all, za_slice(0) + 3, cols, a.eps);
  const svfloat32x4_t n0 = detail::neg_product_x4(all, m0, r0v);
  const svfloat32x4_t n1 = detail::neg_product_x4(all, m1, r1v);
  svfloat32_t one = svdup_f32(1.0f);
  asm("" : "+w"(one));  // a register, not re-made per group (arch/acle.hpp, all_lanes)
  svfloat32_t w = one;
  for (size_t c = 0; c < a.cols; c += vl) {
    const svbool_t pg = svwhilelt_b32_u64(c, a.cols);
    const bool full = c + vl <= a.cols;
    if (a.weight != nullptr) w = svld1(pg, a.weight + c);
    detail::layer_scale_group(b, 0, r0v, n0, one, a, w, pg, full, c);
    if (two) detail::layer_scale_group(b, 1, r1v, n1, one, a, w, pg, full, c);
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
