// The SME2 GEMM kernel for few rows of A (decode steps, GEMV): indexed multi-vector dot
// products into ZA vector groups, reading each packed weight once per pass of up to 4 rows.
//
// Outer products waste most of a tile here (one row of A fills 1/32 of a 2VL x 2VL tile at
// SVL 512). Instead each 32-bit lane of a ZA vector is one output column: a two-vector group
// holds one 2VL-column panel of one row, and for every k-block one FMLA (f32) or FDOT (f16,
// a k pair per lane) adds weights x the row's activation, broadcast from a replicated
// 16-byte quad (LD1RQ, indexed by the block). It reads the same packed weights as the 2VL x
// 2VL MOPA kernel (rhs_*p2vlx*bf32), so a runtime packs once for prefill and decode alike.
//
// Per 4 k-blocks of one panel: two four-vector loads (4 x 64 B: 4 cycles on the M4 model at
// SVL 512) and 4 dot products per row (vgx2: 1 cycle each). One row is load-bound (the weights
// stream once: the load bound), two rows balance, four rows take 4 cycles per 4 x 64 B. The
// 2VL x 2VL MOPA kernel needs 8 cycles per k pair of a 2VL-column panel at any M <= 2VL, as
// much as 8 rows here (two passes of 4): below 8 rows this kernel wins (kMaxRows).
//
// ZA holds 4 rows x VL/2 panels (2VL two-vector groups, all of ZA). Zero-padded panels need
// no predicates; activations past K are not read (predicated quads), outputs past N not written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/epilogue/sme2_activation.hpp"
#include "sme2k/formats/row_major_lhs.hpp"
#include "sme2k/kernels/kernel_queries.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {

template <class Elem, class Rhs>
struct GemmSmallMDot : KernelQueries<RowMajorLhs<Elem>, Rhs, FixedExtent<4>> {
  using LhsFormat = RowMajorLhs<Elem>;
  using RhsFormat = Rhs;
  static constexpr size_t kKr = Rhs::kKr;
  static_assert(std::is_same_v<typename Rhs::Element, Elem> && kKr * sizeof(Elem) == 4 &&
                    Rhs::PanelWidth::kScalesWithVl && Rhs::PanelWidth::kUnits == 2,
                "reads 2VL-column panels whose k-blocks are 32-bit lanes");
  /// Rows of A per pass; the op uses this kernel for M < kMaxRows (see above).
  static constexpr size_t kRowsPerPass = FixedExtent<4>::kUnits;
  static constexpr size_t kMaxRows = 7;

  /// C[0, m) x [0, n) = epilogue(bias + A * B), C row-major (the op runs the any-M kernel
  /// for a transposed C).
  /// @param[in] a            (m, k) row-major, row stride lda
  /// @param[in] rhs_payload  RhsFormat payload of all N columns
  /// @param[in] plan         activation, affine, clamp (decided outside streaming mode)
  /// @param[out] c           (m, n) f32 or f16, row stride ldc
  template <class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void run(size_t m, size_t n, size_t k, const Elem* a,
                                                        size_t lda, const void* rhs_payload,
                                                        bool has_bias, const EpiloguePlan& plan,
                                                        Out* c,
                                                        size_t ldc) SME2K_STREAMING SME2K_INOUT_ZA {
    for (size_t r0 = 0; r0 < m; r0 += kRowsPerPass) {
      const Pass<Out> p{n, k, a + r0 * lda, lda, rhs_payload, has_bias, &plan, c + r0 * ldc, ldc};
      switch (m - r0 < kRowsPerPass ? m - r0 : kRowsPerPass) {
        case 4: pass<4>(p); break;
        case 3: pass<3>(p); break;
        case 2: pass<2>(p); break;
        default: pass<1>(p); break;
      }
    }
  }

 private:
  template <class Out>
  struct Pass {
    size_t n, k;
    const Elem* a;  // (rows, k), stride lda
    size_t lda;
    const void* rhs_payload;
    bool has_bias;
    const EpiloguePlan* plan;
    Out* c;  // (rows, n), stride ldc
    size_t ldc;
  };

  template <size_t kRows, class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void pass(const Pass<Out>& p)
      SME2K_STREAMING SME2K_INOUT_ZA {
    const size_t vl = svcntsw();
    const size_t width = 2 * vl;
    const size_t block = width * kKr;  // elements of one k-block of a panel
    const size_t panels = (p.n + width - 1) / width;
    const size_t chunk = vl / 2;  // panels per pass: kRowsPerPass x chunk groups fill ZA
    const size_t blocks = (p.k + kKr - 1) / kKr;
    for (size_t p0 = 0; p0 < panels; p0 += chunk) {
      const size_t np = panels - p0 < chunk ? panels - p0 : chunk;
      svzero_za();
      size_t q = 0;
      for (; q + 4 <= blocks; q += 4) {
        const auto x = row_quads<kRows>(p, q * kKr);
        for (size_t j = 0; j < np; ++j) {
          const Elem* w = RhsFormat::panel_data(p.rhs_payload, p0 + j, p.k, vl) + q * block;
          const auto w01 = sme2::load_x4(w);
          const auto w23 = sme2::load_x4(w + 2 * block);
          const auto slice = static_cast<uint32_t>(j);
          dot4<kRows>(slice, static_cast<uint32_t>(chunk), w01, w23, x);
        }
      }
      if (q < blocks) {  // 1 to 3 k-blocks left
        const size_t left = blocks - q;
        const auto x = row_quads<kRows>(p, q * kKr);
        for (size_t j = 0; j < np; ++j) {
          const Elem* w = RhsFormat::panel_data(p.rhs_payload, p0 + j, p.k, vl) + q * block;
          const auto slice = static_cast<uint32_t>(j);
          const auto s = static_cast<uint32_t>(chunk);
          dot1<kRows, 0>(slice, s, sme2::load_x2(w), x);
          if (left > 1) dot1<kRows, 1>(slice, s, sme2::load_x2(w + block), x);
          if (left > 2) dot1<kRows, 2>(slice, s, sme2::load_x2(w + 2 * block), x);
        }
      }
      store<kRows>(p, p0, np);
    }
  }

  // The activation quads at k0 of the pass's rows, one per tuple element (unused ones
  // repeat row 0 and are never read).
  template <size_t kRows, class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static auto row_quads(const Pass<Out>& p,
                                                              size_t k0) SME2K_STREAMING {
    const auto x0 = sme2::load_quad(p.a + k0, p.k - k0);
    const auto x1 = kRows > 1 ? sme2::load_quad(p.a + p.lda + k0, p.k - k0) : x0;
    const auto x2 = kRows > 2 ? sme2::load_quad(p.a + 2 * p.lda + k0, p.k - k0) : x0;
    const auto x3 = kRows > 3 ? sme2::load_quad(p.a + 3 * p.lda + k0, p.k - k0) : x0;
    return svcreate4(x0, x1, x2, x3);
  }

  // Group slice + r * stride of row r += one k-block (index kIndex of the quads).
  template <size_t kRows, uint64_t kIndex, class W, class X4>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void dot1(uint32_t slice, uint32_t stride, W w,
                                                         X4 x) SME2K_STREAMING SME2K_INOUT_ZA {
    sme2::dot_lane_za32_vg2<kIndex>(slice, w, svget4(x, 0));
    if constexpr (kRows > 1) sme2::dot_lane_za32_vg2<kIndex>(slice + stride, w, svget4(x, 1));
    if constexpr (kRows > 2) sme2::dot_lane_za32_vg2<kIndex>(slice + 2 * stride, w, svget4(x, 2));
    if constexpr (kRows > 3) sme2::dot_lane_za32_vg2<kIndex>(slice + 3 * stride, w, svget4(x, 3));
  }

  // Four k-blocks: w01 holds blocks 0 and 1 (two vectors each), w23 blocks 2 and 3.
  template <size_t kRows, class W4, class X4>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void dot4(uint32_t slice, uint32_t stride, W4 w01,
                                                         W4 w23,
                                                         X4 x) SME2K_STREAMING SME2K_INOUT_ZA {
    dot1<kRows, 0>(slice, stride, svcreate2(svget4(w01, 0), svget4(w01, 1)), x);
    dot1<kRows, 1>(slice, stride, svcreate2(svget4(w01, 2), svget4(w01, 3)), x);
    dot1<kRows, 2>(slice, stride, svcreate2(svget4(w23, 0), svget4(w23, 1)), x);
    dot1<kRows, 3>(slice, stride, svcreate2(svget4(w23, 2), svget4(w23, 3)), x);
  }

  // Bias (added in ZA), the plan's elementwise stages, convert and store the np panels of
  // every row.
  template <size_t kRows, class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void store(const Pass<Out>& p, size_t p0, size_t np)
      SME2K_STREAMING SME2K_INOUT_ZA {
    const EpiloguePlan& plan = *p.plan;
    const size_t vl = svcntsw();
    const size_t width = 2 * vl;
    const size_t chunk = vl / 2;
    const svfloat32_t lo = svdup_f32(plan.clamp.min);
    const svfloat32_t hi = svdup_f32(plan.clamp.max);
    for (size_t j = 0; j < np; ++j) {
      const size_t n0 = (p0 + j) * width;
      const svbool_t cols_lo = svwhilelt_b32_u64(n0, p.n);
      const svbool_t cols_hi = svwhilelt_b32_u64(n0 + vl, p.n);
      const svbool_t cols_f16 = svwhilelt_b16_u64(n0, p.n);
      const svcount_t in_n = svwhilelt_c32_u64(n0, p.n, 2);  // never reads past N
      const svfloat32x2_t bias =
          sme2::load_x2(RhsFormat::panel_bias(p.rhs_payload, p0 + j, p.k, vl));
      const svfloat32x2_t scale = plan.scale != nullptr
                                      ? svld1_x2(in_n, plan.scale + n0)
                                      : svcreate2(svdup_f32(1.0f), svdup_f32(1.0f));
      const svfloat32x2_t shift = plan.shift != nullptr
                                      ? svld1_x2(in_n, plan.shift + n0)
                                      : svcreate2(svdup_f32(0.0f), svdup_f32(0.0f));
      for (size_t r = 0; r < kRows; ++r) {
        const auto slice = static_cast<uint32_t>(r * chunk + j);
        if (p.has_bias) svadd_za32_f32_vg1x2(slice, bias);
        const svfloat32x2_t v = svread_za32_f32_vg1x2(slice);
        const svfloat32_t left =
            sme2::finish(plan, svget2(v, 0), svget2(scale, 0), svget2(shift, 0), lo, hi);
        const svfloat32_t right =
            sme2::finish(plan, svget2(v, 1), svget2(scale, 1), svget2(shift, 1), lo, hi);
        Out* out = p.c + r * p.ldc + n0;
        if constexpr (std::is_same_v<Out, float>) {
          svst1(cols_lo, out, left);
          svst1(cols_hi, out + vl, right);
        } else {
          sme2::store_narrow_x2(cols_f16, out, svcreate2(left, right));  // f16 or bf16
        }
      }
    }
  }
};

}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
