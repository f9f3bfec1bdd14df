// Depthwise convolution on SME2 for QS8 (kernels/sme2/depthwise_conv2d_sme2.hpp has the float
// kernels, the arguments and the shared helpers this file uses).
//
// QS8: int8 x int8 -> int32 in ZA by SMLALL (one vector of 4VL outputs per row, in four ZA
// vectors: lanes 4j + t in vector t, element j), then the requantization of
// types/quantization.hpp as the GEMM's epilogue does it (epilogue/sme2_requant.hpp): the
// int32 rows through scratch, SCVTF and one FMLA of four vectors by the scale into zeroed
// ZA (the product rounded once), FRINTN, FCVTZS, (SCLAMP), ADD zero point, and SQCVTN,
// whose interleave puts lane 4j + t back in place.
//
// The packed bias has the input zero point's term folded in (-zp_in * sum of the taps), as
// for the GEMM, which holds when padding reads zp_in: zeroing loads read 0 there, so a tap
// whose row is outside multiplies a vector of zp_in instead, and a tap whose run is partly
// outside adds one more SMLALL of zp_in in just those lanes (made once per kw and block).
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/kernels/sme2/depthwise_conv2d_sme2.hpp"
#include "sme2k/types/quantization.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

namespace detail {

// Row r (ZA vectors 4r .. 4r + 3: horizontal slice r of the four 32-bit tiles) starts from
// b_t in vector t.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void start_row_qs8(uint32_t r, svint32_t b0, svint32_t b1,
                                                         svint32_t b2, svint32_t b3)
    SME2K_STREAMING SME2K_INOUT_ZA {
  const svbool_t all = svptrue_b32();
  svwrite_hor_za32_s32_m(0, r, all, b0);
  svwrite_hor_za32_s32_m(1, r, all, b1);
  svwrite_hor_za32_s32_m(2, r, all, b2);
  svwrite_hor_za32_s32_m(3, r, all, b3);
}

// Rows [0, rows) of the block requantized and stored (row r at out + r * row_stride, its
// first `count` bytes). Scale: one vector for the block (NCHW), or four split as the rows
// are (NHWC). Clobbers all of ZA; `scratch` holds rows x 4 VL int32.
template <class Scale>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_rows_qs8(
    size_t rows, Scale scale, const EpiloguePlan& plan, int8_t* out, size_t row_stride,
    size_t count, int32_t* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntw();
  const svbool_t all = svptrue_b32();
  for (uint32_t r = 0; r < rows; ++r) {
    int32_t* row = scratch + r * 4 * vl;
    svst1_hor_za32(0, r, all, row);
    svst1_hor_za32(1, r, all, row + vl);
    svst1_hor_za32(2, r, all, row + 2 * vl);
    svst1_hor_za32(3, r, all, row + 3 * vl);
  }
  svzero_za();
  for (uint32_t r = 0; r < rows; ++r) {  // products into ZA group r (r < SVL_B / 4)
    const svfloat32x4_t f = svcvt_f32_s32_x4(svld1_x4(svptrue_c32(), scratch + r * 4 * vl));
    if constexpr (std::is_same_v<Scale, svfloat32_t>) {
      svmla_single_za32_f32_vg1x4(r, f, scale);  // one scale for the block (NCHW)
    } else {
      svmla_za32_f32_vg1x4(r, f, scale);  // one per lane, split as the rows are (NHWC)
    }
  }
  const int32_t zp = plan.out_zero_point;
  const svint32_t lo = svdup_s32(plan.quantized_range.min - zp);
  const svint32_t hi = svdup_s32(plan.quantized_range.max - zp);
  const svint32_t zp_v = svdup_s32(zp);
  const svbool_t in_row = svwhilelt_b8_u64(0, count);
  for (uint32_t r = 0; r < rows; ++r, out += row_stride) {
    svint32x4_t q = svcvt_s32_f32_x4(svrintn_f32_x4(svread_za32_f32_vg1x4(r)));
    if (plan.requant_clamp) q = svclamp(q, lo, hi);
    svst1(in_row, out, svqcvtn_s8_s32_x4(svadd_single_s32_x4(q, zp_v)));
  }
}

template <size_t kStride, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void depthwise_qs8_nchw_channel(
    const DepthwiseArgs<int8_t, Out>& a, size_t co) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t lanes = svcntb();
  const size_t rows_per_block = svcntb() / 4;
  const int8_t* plane = a.input + (co / a.multiplier) * a.in_height * a.in_width;
  const size_t tail = (a.channels_in - co / a.multiplier) * a.in_height * a.in_width;
  int8_t* out_plane = a.output + co * a.out_height * a.out_width;
  const svint32_t bias = svdup_s32(a.qparams[co].bias);
  const svfloat32_t scale = svdup_f32(a.qparams[co].scale);
  const svint8_t pad = svdup_s8(a.pad);
  const bool pads = a.pad != 0;
  for (size_t ow0 = 0; ow0 < a.out_width; ow0 += lanes) {
    const size_t count = a.out_width - ow0 < lanes ? a.out_width - ow0 : lanes;
    for (size_t oh0 = 0; oh0 < a.out_height; oh0 += rows_per_block) {
      const size_t rows = a.out_height - oh0 < rows_per_block ? a.out_height - oh0 : rows_per_block;
      for (uint32_t r = 0; r < rows; ++r) start_row_qs8(r, bias, bias, bias, bias);
      for (size_t kw = 0; kw < a.kernel_width; ++kw) {
        const ptrdiff_t iw0 =
            static_cast<ptrdiff_t>(ow0 * kStride + kw * a.dilation_width) - a.pad_left;
        const RunLanes in_row = run_lanes(iw0, kStride, a.in_width, count);
        const svbool_t valid = lane_range<Lanes<1>>(in_row.lo, in_row.hi);
        // zp_in in the lanes of the run outside the row (a partly padded run), else 0.
        const bool partial = pads && (in_row.lo > 0 || in_row.hi < count);
        const svint8_t pad_lanes =
            svdup_s8_z(svbic_z(svptrue_b8(), svwhilelt_b8_u64(0, count), valid), a.pad);
        const size_t run_extent =
            static_cast<size_t>(iw0 + static_cast<ptrdiff_t>(kStride * in_row.hi));
        for (size_t kh = 0; kh < a.kernel_height; ++kh) {
          const size_t tap = kh * a.kernel_width + kw;
          const svint8_t w = svdup_s8(a.taps[tap * a.tap_stride + co]);
          RunLanes inside = rows_inside(a, oh0, rows, kh);
          if (in_row.hi == in_row.lo) inside.hi = inside.lo;  // no lane inside: all padding
          if (pads) {  // rows whose input row is outside read the padding value everywhere
            for (uint32_t r = 0; r < inside.lo; ++r) svmla_za32_s8_vg4x1(4 * r, pad, w);
            for (auto r = static_cast<uint32_t>(inside.hi); r < rows; ++r) {
              svmla_za32_s8_vg4x1(4 * r, pad, w);
            }
          }
          const size_t row_step = a.stride_height * a.in_width;
          size_t row_start =
              (static_cast<size_t>(static_cast<ptrdiff_t>((oh0 + inside.lo) * a.stride_height +
                                                          kh * a.dilation_height) -
                                   a.pad_top)) *
              a.in_width;
          for (auto r = static_cast<uint32_t>(inside.lo); r < inside.hi;
               ++r, row_start += row_step) {
            const uint8_t* run = at_offset(reinterpret_cast<const uint8_t*>(plane),
                                           static_cast<ptrdiff_t>(row_start) + iw0);
            svint8_t x;
            if (kStride > 1 && row_start + run_extent > tail) {
              int8_t* tmp = reinterpret_cast<int8_t*>(a.scratch);
              for (size_t j = 0; j < lanes; ++j) {
                tmp[j] = j >= in_row.lo && j < in_row.hi ? static_cast<int8_t>(run[kStride * j])
                                                         : int8_t{0};
              }
              x = svld1(svptrue_b8(), tmp);
            } else {
              x = svreinterpret_s8(load_strided<kStride>(valid, run));
            }
            svmla_za32_s8_vg4x1(4 * r, x, w);
            if (partial) svmla_za32_s8_vg4x1(4 * r, pad_lanes, w);
          }
        }
      }
      store_rows_qs8(rows, scale, a.plan, out_plane + oh0 * a.out_width + ow0, a.out_width, count,
                     reinterpret_cast<int32_t*>(a.scratch) + 4 * svcntw());
    }
  }
}

}  // namespace detail

/// QS8: output channels [c_begin, c_end) of one NCHW image (any multiplier, width stride
/// 1-4).
template <class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void depthwise_qs8_nchw_sme2(
    const DepthwiseArgs<int8_t, Out>& a, size_t c_begin,
    size_t c_end) SME2K_STREAMING SME2K_INOUT_ZA {
  for (size_t co = c_begin; co < c_end; ++co) {
    switch (a.stride_width) {
      case 1: detail::depthwise_qs8_nchw_channel<1>(a, co); break;
      case 2: detail::depthwise_qs8_nchw_channel<2>(a, co); break;
      case 3: detail::depthwise_qs8_nchw_channel<3>(a, co); break;
      default: detail::depthwise_qs8_nchw_channel<4>(a, co); break;
    }
  }
}

/// QS8: output pixels [p_begin, p_end) of one NHWC image (multiplier 1): per 4VL channels,
/// blocks of pixels as ZA rows.
template <class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void depthwise_qs8_nhwc_sme2(
    const DepthwiseArgs<int8_t, Out>& a, size_t p_begin,
    size_t p_end) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t lanes = svcntb(), vl = svcntw();
  const size_t rows_per_block = svcntb() / 4;
  const size_t channels = a.channels_out, pixels = p_end;
  const svint8_t pad = svdup_s8(a.pad);
  const bool pads = a.pad != 0;
  // Scratch: [0, 4VL) per-lane biases, [4VL, 8VL) scales (as floats), then the rows.
  auto* biases = reinterpret_cast<int32_t*>(a.scratch);
  float* scales = a.scratch + 4 * vl;
  int32_t* rows_scratch = reinterpret_cast<int32_t*>(a.scratch) + 8 * vl;
  ptrdiff_t ih0[2 * kMaxVl], iw0[2 * kMaxVl], corner[2 * kMaxVl];  // as depthwise_nhwc_sme2
  bool whole[2 * kMaxVl];
  for (size_t c0 = 0; c0 < channels; c0 += lanes) {
    const size_t count = channels - c0 < lanes ? channels - c0 : lanes;
    const svbool_t in_chunk = svwhilelt_b8_u64(0, count);
    for (size_t i = 0; i < lanes; ++i) {
      biases[i] = i < count ? a.qparams[c0 + i].bias : 0;
      scales[i] = i < count ? a.qparams[c0 + i].scale : 0.0f;
    }
    // Lane 4j + t of the chunk is element j of row vector t: LD4W splits them so.
    const svint32x4_t b = svld4(svptrue_b32(), biases);
    const svfloat32x4_t scale = svld4(svptrue_b32(), scales);
    for (size_t p0 = p_begin; p0 < pixels; p0 += rows_per_block) {
      const size_t rows = pixels - p0 < rows_per_block ? pixels - p0 : rows_per_block;
      for (size_t r = 0; r < rows; ++r) {
        const size_t oh = (p0 + r) / a.out_width, ow = (p0 + r) % a.out_width;
        ih0[r] = static_cast<ptrdiff_t>(oh * a.stride_height) - a.pad_top;
        iw0[r] = static_cast<ptrdiff_t>(ow * a.stride_width) - a.pad_left;
        whole[r] = detail::window_inside(a, ih0[r], iw0[r]);
        corner[r] = (ih0[r] * static_cast<ptrdiff_t>(a.in_width) + iw0[r]) *
                    static_cast<ptrdiff_t>(a.channels_in);
        detail::start_row_qs8(static_cast<uint32_t>(r), svget4(b, 0), svget4(b, 1), svget4(b, 2),
                              svget4(b, 3));
      }
      for (size_t kh = 0; kh < a.kernel_height; ++kh) {
        for (size_t kw = 0; kw < a.kernel_width; ++kw) {
          const svint8_t w =
              svld1(in_chunk, a.taps + (kh * a.kernel_width + kw) * a.tap_stride + c0);
          const ptrdiff_t dh = static_cast<ptrdiff_t>(kh * a.dilation_height);
          const ptrdiff_t dw = static_cast<ptrdiff_t>(kw * a.dilation_width);
          const ptrdiff_t tap_offset = (dh * static_cast<ptrdiff_t>(a.in_width) + dw) *
                                       static_cast<ptrdiff_t>(a.channels_in);
          for (uint32_t r = 0; r < rows; ++r) {
            if (!whole[r]) {
              const auto ih = static_cast<size_t>(ih0[r] + dh);  // wraps if < 0
              const auto iw = static_cast<size_t>(iw0[r] + dw);
              if (ih >= a.in_height || iw >= a.in_width) {
                if (pads) svmla_za32_s8_vg4x1(4 * r, pad, w);
                continue;
              }
            }
            const int8_t* x = a.input + (corner[r] + tap_offset) + static_cast<ptrdiff_t>(c0);
            svmla_za32_s8_vg4x1(4 * r, svld1(in_chunk, x), w);
          }
        }
      }
      detail::store_rows_qs8(rows, scale, a.plan, a.output + p0 * channels + c0, channels, count,
                             rows_scratch);
    }
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
