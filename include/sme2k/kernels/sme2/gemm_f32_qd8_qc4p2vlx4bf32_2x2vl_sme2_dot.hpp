// QD8 x QC4W GEMM on SME2 for few rows (decode, M <= 4): multi-vector dot products into ZA
// straight from the 4-bit panels (rhs_qc4p2vlx4bf32), each weight byte read once per pass of
// two rows, never expanded to memory.
//
// A byte of the format is 16 * hi + lo + 8 as int8 (hi: column c, lo: column VL + c), so for
// the activations q of a row, per k-quad and 32-bit lane:
//   dot(q, bytes)                = 16 * dot(q, hi) + dot(q, lo) + 8 * sum(q)
//   dot(q, SQDMULH(bytes, 8))    = dot(q, hi)
// One SDOT of four vectors on the raw bytes, one SQDMULH of four vectors, one SDOT on its
// result: four panels (8VL columns) per k-quad. At the end of a pass, in ZA: the raw group
// minus 16 x the hi group minus 8 * sum(q) is dot(q, lo); both groups get the zero-point term
// (-zp x column sum, one int16 SDOT each, as the outer-product kernel starts its tiles), and
// are dequantized exactly as there (fma(float(acc), row scale * column scale, bias)), so a
// row gives the same bits here as through the 2VL x 2VL kernel.
//
// Cycle model (M4, SVL 512), per k-quad of four panels (4 x 64 B of weights, the load bound 4
// cycles): SQDMULH x4 4 + two SDOT vgx4 2 + 2 = 8 cycles, i.e. 2.0 x the load bound for one
// row: the floor of any scheme that dots two columns out of each byte (two dot vectors and at
// least one four-vector instruction to make the second operand, per 64 B). A second row adds
// only its two SDOTs (4 cycles).
//
// ZA: rows x 2 four-vector groups (raw bytes, hi), each group one vector per panel; two rows
// per pass fit ZA at every SVL (SVL 128 has four groups). The rows are quantized into the
// workspace first (formats/za_quantize_rows.hpp, quantize_few_rows).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/epilogue/sme2_activation.hpp"
#include "sme2k/epilogue/sme2_row_store.hpp"
#include "sme2k/formats/lhs_qd8p1x1.hpp"
#include "sme2k/formats/rhs_qc4p2vlx4bf32.hpp"
#include "sme2k/formats/za_quantize_rows.hpp"
#include "sme2k/kernels/kernel_queries.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/variant.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {

struct GemmF32Qd8Qc4p2vlx4bf32_2x2vlSme2Dot
    : KernelQueries<RowQuantizedLhs, RhsQc4p2vlx4bf32, FixedExtent<2>> {
  using Variant = QD8QC4W;
  using LhsFormat = RowQuantizedLhs;
  using RhsFormat = RhsQc4p2vlx4bf32;
  static constexpr Path kPath = Path::kSme2;
  static constexpr std::string_view kName = "gemm_f32_qd8_qc4p2vlx4bf32_2x2vl_sme2_dot";
  static constexpr size_t kRowsPerPass = 2;
  /// The op runs this kernel for M <= kMaxRows (two passes at most: beyond, the 2VL x 2VL
  /// kernel's expansion, shared by all rows, costs less than streaming the weights again).
  static constexpr size_t kMaxRows = 4;

  /// Row stride of the quantized rows in the workspace: a multiple of 4VL at every SVL.
  static constexpr size_t row_stride(size_t k) { return round_up(k, 4 * kMaxVl); }
  /// Bytes of workspace run() needs (K <= kQd8MaxK).
  static constexpr size_t workspace_bytes(size_t k) {
    return kMaxRows * row_stride(k) + 4 * kMaxVl * sizeof(float) + 64 + 64;
  }

  /// C[0, m) x [0, n) = epilogue(dequantize(quantize(A) * B)), C row-major.
  /// @param[in] a          (m, k) f32 or f16, row stride lda; m <= kMaxRows
  /// @param[in] workspace  workspace_bytes(k), 64-byte aligned
  template <class In, class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void run(
      size_t m, size_t n, size_t k, const In* a, size_t lda, const void* rhs_payload,
      bool /*has_bias*/, const EpiloguePlan& plan, Out* c, size_t ldc,
      void* workspace) SME2K_STREAMING SME2K_INOUT_ZA {
    const size_t ldq = row_stride(k);
    auto* q = static_cast<int8_t*>(workspace);
    auto* scratch = reinterpret_cast<float*>(q + kMaxRows * ldq);
    auto* params = reinterpret_cast<Qd8RowParams*>(scratch + 4 * kMaxVl);
    auto* sums = reinterpret_cast<int32_t*>(params + 8);
    sme2::quantize_few_rows(MatrixView<const In>{a, m, k, lda}, params, sums, q, ldq, scratch);
    for (size_t r0 = 0; r0 < m; r0 += kRowsPerPass) {
      const Pass<Out> p{n,         k,           q + r0 * ldq, ldq,          params + r0,
                        sums + r0, rhs_payload, &plan,        c + r0 * ldc, ldc};
      if (m - r0 >= 2) {
        pass<2>(p);
      } else {
        pass<1>(p);
      }
    }
  }

 private:
  template <class Out>
  struct Pass {
    size_t n, k;
    const int8_t* q;  // the pass's quantized rows, stride ldq
    size_t ldq;
    const Qd8RowParams* params;
    const int32_t* sums;
    const void* rhs_payload;
    const EpiloguePlan* plan;
    Out* c;
    size_t ldc;
  };

  // The four-vector groups of row r: the raw bytes' dot products, then the hi ones'.
  static constexpr uint32_t raw_group(size_t r) { return static_cast<uint32_t>(2 * r); }
  static constexpr uint32_t hi_group(size_t r) { return static_cast<uint32_t>(2 * r + 1); }

  // Both groups of every row += weights of k-quad kIndex of the activations' 16-byte block.
  template <size_t kRows, uint64_t kIndex>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void dot_quad(
      svint8x4_t bytes, svint8_t x0, svint8_t x1, svint8_t eight) SME2K_STREAMING SME2K_INOUT_ZA {
    svdot_lane_za32_s8_vg1x4(raw_group(0), bytes, x0, kIndex);
    if constexpr (kRows > 1) svdot_lane_za32_s8_vg1x4(raw_group(1), bytes, x1, kIndex);
    const svint8x4_t hi = svqdmulh(bytes, eight);
    svdot_lane_za32_s8_vg1x4(hi_group(0), hi, x0, kIndex);
    if constexpr (kRows > 1) svdot_lane_za32_s8_vg1x4(hi_group(1), hi, x1, kIndex);
  }

  template <size_t kRows, class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void pass(const Pass<Out>& p)
      SME2K_STREAMING SME2K_INOUT_ZA {
    const size_t vl = svcntsw();
    const size_t quad_bytes = 4 * vl;  // one k-quad of one panel
    const size_t panels = ceil_div(p.n, RhsFormat::nr(vl));
    const size_t quads = RhsFormat::kp(p.k) / 4;
    const svbool_t all = sme2::all_lanes(int8_t{});
    svint8_t eight = svdup_s8(8);
    asm("" : "+w"(eight));  // made once: clang would rebuild it per k-quad (a 4-cycle MOV)
    for (size_t p0 = 0; p0 < panels; p0 += 4) {
      // Four panels per pass; past the last one the last again (computed, never stored).
      const int8_t* w[4];
      for (size_t j = 0; j < 4; ++j) {
        const size_t panel = p0 + j < panels ? p0 + j : panels - 1;
        w[j] =
            reinterpret_cast<const int8_t*>(RhsFormat::panel_data(p.rhs_payload, panel, p.k, vl));
      }
      svzero_za();
      for (size_t q0 = 0; q0 < quads; q0 += 4) {
        // 16 activations of each row (zero past K), replicated per 128-bit segment.
        const svint8_t x0 = svld1rq(all, p.q + 4 * q0);
        const svint8_t x1 = kRows > 1 ? svld1rq(all, p.q + p.ldq + 4 * q0) : x0;
        const size_t at = q0 * quad_bytes, left = quads - q0;
        dot_quad<kRows, 0>(RhsQc4p2vlx4bf32::load_quad_of_4(all, w, at), x0, x1, eight);
        if (left > 1)
          dot_quad<kRows, 1>(RhsQc4p2vlx4bf32::load_quad_of_4(all, w, at + quad_bytes), x0, x1,
                             eight);
        if (left > 2)
          dot_quad<kRows, 2>(RhsQc4p2vlx4bf32::load_quad_of_4(all, w, at + 2 * quad_bytes), x0, x1,
                             eight);
        if (left > 3)
          dot_quad<kRows, 3>(RhsQc4p2vlx4bf32::load_quad_of_4(all, w, at + 3 * quad_bytes), x0, x1,
                             eight);
      }
      for (size_t r = 0; r < kRows; ++r) finish_row(p, r, p0, panels - p0 < 4 ? panels - p0 : 4);
    }
  }

  // Row r of the pass, panels p0 .. p0+np-1: separate the columns, add the zero-point term,
  // dequantize, the plan's stages, store.
  template <class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void finish_row(
      const Pass<Out>& p, size_t r, size_t p0, size_t np) SME2K_STREAMING SME2K_INOUT_ZA {
    const uint32_t raw = raw_group(r), hi = hi_group(r);
    // dot(q, lo) = raw - 16 * hi - 8 * sum(q)
    svsub_za32_s32_vg1x4(raw, svrshl(svread_za32_s32_vg1x4(hi), svdup_s32(4)));
    const svint32_t minus_8_sum = svdup_s32(-8 * p.sums[r]);
    svadd_za32_s32_vg1x4(raw, svcreate4(minus_8_sum, minus_8_sum, minus_8_sum, minus_8_sum));
    // Per panel: the hi columns' params (first VL) and the lo columns' (next VL), as
    // (column sum halves, scale, bias) vectors.
    const size_t last = np - 1;
    const svint32x3_t h0 = channel_words(p, p0, 0), l0 = channel_words(p, p0, 1);
    const svint32x3_t h1 = channel_words(p, p0 + (last < 1 ? last : 1), 0);
    const svint32x3_t l1 = channel_words(p, p0 + (last < 1 ? last : 1), 1);
    const svint32x3_t h2 = channel_words(p, p0 + (last < 2 ? last : 2), 0);
    const svint32x3_t l2 = channel_words(p, p0 + (last < 2 ? last : 2), 1);
    const svint32x3_t h3 = channel_words(p, p0 + (last < 3 ? last : 3), 0);
    const svint32x3_t l3 = channel_words(p, p0 + (last < 3 ? last : 3), 1);
    // -zp x column sum: (int16 -128 zp, int16 -zp) . (column sum high, low) per lane.
    const auto zp_pair = static_cast<int32_t>(
        static_cast<uint32_t>(static_cast<uint16_t>(p.params[r].neg_zero_point_x128)) |
        static_cast<uint32_t>(static_cast<uint16_t>(p.params[r].neg_zero_point)) << 16);
    const svint16_t zp16 = svreinterpret_s16(svdup_s32(zp_pair));
    svdot_single_za32_s16_vg1x4(hi, field4<0, svint16x4_t>(h0, h1, h2, h3), zp16);
    svdot_single_za32_s16_vg1x4(raw, field4<0, svint16x4_t>(l0, l1, l2, l3), zp16);
    const float row_scale = p.params[r].scale;
    const svfloat32x4_t hi_values =
        dequantize(hi, row_scale, field4<1, svfloat32x4_t>(h0, h1, h2, h3),
                   field4<2, svfloat32x4_t>(h0, h1, h2, h3));
    const svfloat32x4_t lo_values =
        dequantize(raw, row_scale, field4<1, svfloat32x4_t>(l0, l1, l2, l3),
                   field4<2, svfloat32x4_t>(l0, l1, l2, l3));
    Out* out = p.c + r * p.ldc;
    store_panel(p, out, p0 + 0, svget4(hi_values, 0), svget4(lo_values, 0));
    if (np > 1) store_panel(p, out, p0 + 1, svget4(hi_values, 1), svget4(lo_values, 1));
    if (np > 2) store_panel(p, out, p0 + 2, svget4(hi_values, 2), svget4(lo_values, 2));
    if (np > 3) store_panel(p, out, p0 + 3, svget4(hi_values, 3), svget4(lo_values, 3));
  }

  // One half (0: the hi columns, 1: the lo ones) of a panel's channel params, deinterleaved
  // into (column sum halves, scale, bias) vectors of 32-bit words.
  template <class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static svint32x3_t channel_words(
      const Pass<Out>& p, size_t panel, size_t half) SME2K_STREAMING {
    const size_t vl = svcntsw();
    const auto* words =
        reinterpret_cast<const int32_t*>(RhsFormat::panel_bias(p.rhs_payload, panel, p.k, vl));
    return svld3(svptrue_b32(), words + half * 3 * vl);
  }

  // Field kField of four panels' channel words, as a four-vector tuple of type T.
  template <uint64_t kField, class T>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static T field4(svint32x3_t a, svint32x3_t b, svint32x3_t c,
                                                        svint32x3_t d) SME2K_STREAMING {
    if constexpr (std::is_same_v<T, svint16x4_t>) {
      return svcreate4(svreinterpret_s16(svget3(a, kField)), svreinterpret_s16(svget3(b, kField)),
                       svreinterpret_s16(svget3(c, kField)), svreinterpret_s16(svget3(d, kField)));
    } else {
      return svcreate4(svreinterpret_f32(svget3(a, kField)), svreinterpret_f32(svget3(b, kField)),
                       svreinterpret_f32(svget3(c, kField)), svreinterpret_f32(svget3(d, kField)));
    }
  }

  // fma(float(group), row_scale * scale, bias) per lane, in ZA as the outer-product kernel's
  // dequantization rounds: the scale product once, then one fused multiply-add.
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static svfloat32x4_t dequantize(
      uint32_t group, float row_scale, svfloat32x4_t scale,
      svfloat32x4_t bias) SME2K_STREAMING SME2K_INOUT_ZA {
    const svfloat32x4_t values = svcvt_f32_s32_x4(svread_za32_s32_vg1x4(group));
    const svfloat32_t zero = svdup_f32(0.0f);
    svwrite_za32_f32_vg1x4(group, svcreate4(zero, zero, zero, zero));
    svmla_single_za32_f32_vg1x4(group, scale, svdup_f32(row_scale));
    const svfloat32x4_t product = svread_za32_f32_vg1x4(group);
    svwrite_za32_f32_vg1x4(group, bias);
    svmla_za32_f32_vg1x4(group, values, product);
    return svread_za32_f32_vg1x4(group);
  }

  template <class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void store_panel(const Pass<Out>& p, Out* out,
                                                                size_t panel, svfloat32_t hi,
                                                                svfloat32_t lo) SME2K_STREAMING {
    sme2::store_row_2vl(*p.plan, out, panel * 2 * svcntsw(), p.n, hi, lo);
  }
};

}  // namespace sme2k
#endif
