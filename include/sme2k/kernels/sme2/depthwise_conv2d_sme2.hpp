// Depthwise convolution on SME2 (F32, F16 with f32 accumulation): no channel reduction, so
// no outer products. Each output row (NCHW: 2 vectors of pixels of one channel; NHWC: 2
// vectors of channels of one pixel) accumulates in ZA with SME2 multi-vector multiply-adds:
// per tap one FMLA (f32) or widening FMLAL (f16) of a two-vector input run by the tap's
// weight (NCHW: one weight for all lanes; NHWC: a weight per channel), 1 cycle per 2 vectors
// on the Apple M4 model. Rows start from the bias (one f32 FMLA of ones by it), leave ZA by
// horizontal slices through the float epilogue (epilogue/sme2_activation.hpp) and, for f16,
// two FCVTs and an ST2H per row.
//
// ZA as rows: f32 row r is ZA vector r of each half (FMLA vgx2: lanes 0..VL-1 in the first
// half, VL..2VL-1 in the second); f16 row r is vectors 2r (even lanes, widened) and 2r + 1
// (odd lanes) of each half, which is where FMLAL puts them; one FCVT per slot pair and an
// ST2H interleave them back into pixel order.
//
// Per tap (kh, kw), NCHW: the run of an input row the 2 x L output pixels read is one
// (stride 1) or every s-th (LD2 / LD3 / LD4 for strides 2-4) element from a column that
// depends on kw only, so its predicates are made once per kw and row block; the tap's
// weight is broadcast once per row block. The layer's MACs cost 1 cycle per 2 vectors
// (64 at SVL 512), the f16 conversion 4 cycles per 32 outputs: together a floor of
// 0.27 cycles per f16 output at 9 taps, whatever the memory does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/epilogue/sme2_activation.hpp"
#include "sme2k/formats/conv_lhs_gather.hpp"
#include "sme2k/types/conv.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/quantization.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

/// One validated depthwise call, as the SME2 kernel takes it (dense tensors of one image).
template <class T, class Out>
struct DepthwiseArgs {
  const T* input;  // one image
  Out* output;     // one image
  const T* taps;   // row t: tap t of every output channel, tap_stride elements apart
  size_t tap_stride;
  const float* bias;                // Cout values, or null (float variants)
  const Qs8ChannelParams* qparams;  // QS8: Cout (folded bias, requantization scale)
  EpiloguePlan plan;  // activation, affine (per output channel), clamp; QS8 zero point, range
  T pad;              // what positions outside the input read (QS8: the input zero point)
  size_t channels_in, channels_out, multiplier;
  size_t in_height, in_width, out_height, out_width;
  size_t kernel_height, kernel_width;
  size_t stride_height, stride_width, dilation_height, dilation_width;
  ptrdiff_t pad_top, pad_left;
  float* scratch;  // depthwise_scratch_floats(VL) floats
};

/// Floats of scratch the kernel needs: a block of QS8 int32 rows (SVL_B/4 rows of 4 VL),
/// per-lane QS8 parameters; an f32 output row of F16, an input run near the end of the
/// input and odd channel counts' per-lane parameters pass through its start.
constexpr size_t depthwise_scratch_floats(size_t vl) { return 4 * vl * vl + 8 * vl + 8; }

namespace detail {

template <class T>
struct DepthwiseTraits;

template <>
struct DepthwiseTraits<float> {
  using V = svfloat32_t;
  using V2 = svfloat32x2_t;
  static constexpr uint32_t kSlotsPerRow = 1;
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static size_t lanes() SME2K_STREAMING { return svcntw(); }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static svbool_t below(size_t n) SME2K_STREAMING {
    return svwhilelt_b32_u64(0, n);
  }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void mla(uint32_t slot, V2 x,
                                                        V w) SME2K_STREAMING SME2K_INOUT_ZA {
    svmla_single_za32_f32_vg1x2(slot, x, w);
  }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void mla(uint32_t slot, V2 x,
                                                        V2 w) SME2K_STREAMING SME2K_INOUT_ZA {
    svmla_za32_f32_vg1x2(slot, x, w);
  }
};

template <>
struct DepthwiseTraits<f16> {
  using V = svfloat16_t;
  using V2 = svfloat16x2_t;
  static constexpr uint32_t kSlotsPerRow = 2;
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static size_t lanes() SME2K_STREAMING { return svcnth(); }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static svbool_t below(size_t n) SME2K_STREAMING {
    return svwhilelt_b16_u64(0, n);
  }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void mla(uint32_t slot, V2 x,
                                                        V w) SME2K_STREAMING SME2K_INOUT_ZA {
    svmla_single_za32_f16_vg2x2(slot, x, w);
  }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void mla(uint32_t slot, V2 x,
                                                        V2 w) SME2K_STREAMING SME2K_INOUT_ZA {
    svmla_za32_f16_vg2x2(slot, x, w);
  }
};

template <class T>
using Raw = std::conditional_t<sizeof(T) == 4, uint32_t, uint16_t>;

// A two-vector input run as the element type (lanes off read 0).
template <size_t kStride, class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE typename DepthwiseTraits<T>::V2 load_run(
    svbool_t p0, svbool_t p1, const T* base, size_t lanes) SME2K_STREAMING {
  using U = Raw<T>;
  const auto* u = reinterpret_cast<const U*>(base);
  const auto v0 = load_strided<kStride>(p0, u);
  const auto v1 = load_strided<kStride>(p1, at_offset(u, static_cast<ptrdiff_t>(kStride * lanes)));
  if constexpr (sizeof(T) == 4) {
    return svcreate2(svreinterpret_f32(v0), svreinterpret_f32(v1));
  } else {
    return svcreate2(svreinterpret_f16(v0), svreinterpret_f16(v1));
  }
}

// The tap weight w (one element) in every lane.
template <class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE typename DepthwiseTraits<T>::V broadcast(const T* w)
    SME2K_STREAMING {
  if constexpr (sizeof(T) == 4) {
    return svdup_f32(*w);
  } else {
    return svreinterpret_f16(svdup_u16(*reinterpret_cast<const uint16_t*>(w)));
  }
}

// Starts rows [0, rows) of a block (ZA zeroed) from their bias with f32 FMLAs of ones: per
// row b_even into its first slot (f32: its only one) and b_odd into its second (f16).
// `ones` is made once by the caller (a vector constant rebuilt per row costs 4 cycles).
template <class T, class B>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void start_rows(size_t rows, svfloat32x2_t ones, B b_even,
                                                      B b_odd) SME2K_STREAMING SME2K_INOUT_ZA {
  for (uint32_t r = 0; r < rows; ++r) {
    if constexpr (std::is_same_v<B, svfloat32_t>) {
      svmla_single_za32_f32_vg1x2(DepthwiseTraits<T>::kSlotsPerRow * r, ones, b_even);
      if constexpr (sizeof(T) == 2) svmla_single_za32_f32_vg1x2(2 * r + 1, ones, b_odd);
    } else {
      svmla_za32_f32_vg1x2(DepthwiseTraits<T>::kSlotsPerRow * r, ones, b_even);
      if constexpr (sizeof(T) == 2) svmla_za32_f32_vg1x2(2 * r + 1, ones, b_odd);
    }
  }
}

// Two vectors of ones, kept in their registers (see start_rows).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x2_t ones_x2() SME2K_STREAMING {
  svfloat32_t one = svdup_f32(1.0f), other = svdup_f32(1.0f);
  asm("" : "+w"(one), "+w"(other));
  return svcreate2(one, other);
}

// The epilogue of one f32 vector (scale / shift / clamp bounds per lane).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t finish_lanes(const EpiloguePlan& p, bool stages,
                                                               svfloat32_t x, svfloat32_t scale,
                                                               svfloat32_t shift, svfloat32_t lo,
                                                               svfloat32_t hi) SME2K_STREAMING {
  return stages ? finish(p, x, scale, shift, lo, hi) : x;
}

// Row r of the block out of ZA, through the epilogue, to `out` (2 x L elements; p0 / p1 the
// lanes of each half to store, in Out's element size).
template <class T, bool kStages, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_row(
    uint32_t r, const EpiloguePlan& plan, svfloat32x4_t scale, svfloat32x4_t shift, svfloat32_t lo,
    svfloat32_t hi, Out* out, size_t lanes, size_t count, svbool_t p0, svbool_t p1, svbool_t pairs,
    float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const svbool_t all = svptrue_b32();
  if constexpr (sizeof(T) == 4) {
    const svfloat32x2_t v = svread_za32_f32_vg1x2(r);
    const svfloat32_t v0 =
        finish_lanes(plan, kStages, svget2(v, 0), svget4(scale, 0), svget4(shift, 0), lo, hi);
    const svfloat32_t v1 =
        finish_lanes(plan, kStages, svget2(v, 1), svget4(scale, 1), svget4(shift, 1), lo, hi);
    if constexpr (std::is_same_v<Out, float>) {
      svst1(p0, out, v0);
      svst1(p1, out + lanes, v1);
    }
  } else {
    // Slot 2r of each half holds the even lanes of the row's two vectors, 2r + 1 the odd
    // ones: FCVT of each pair concatenates them (evens of both vectors, odds of both), and
    // ST2H interleaves them back: pixels 2i and 2i + 1 of the row's 4VL.
    svfloat32x2_t even = svread_za32_f32_vg1x2(2 * r), odd = svread_za32_f32_vg1x2(2 * r + 1);
    if constexpr (kStages) {
      even = svcreate2(finish(plan, svget2(even, 0), svget4(scale, 0), svget4(shift, 0), lo, hi),
                       finish(plan, svget2(even, 1), svget4(scale, 2), svget4(shift, 2), lo, hi));
      odd = svcreate2(finish(plan, svget2(odd, 0), svget4(scale, 1), svget4(shift, 1), lo, hi),
                      finish(plan, svget2(odd, 1), svget4(scale, 3), svget4(shift, 3), lo, hi));
    }
    if constexpr (std::is_same_v<Out, f16>) {
      auto* o = reinterpret_cast<float16_t*>(out);
      const svfloat16_t e = svcvt_f16_f32_x2(even), d = svcvt_f16_f32_x2(odd);
      svst2(pairs, o, svcreate2(e, d));
      if (count % 2 != 0) o[count - 1] = svlastb(svwhilelt_b16_u64(0, count / 2 + 1), e);
    } else {
      // f32 out: interleave through scratch, then store exactly the lanes asked for.
      const size_t vl = svcntw();
      svst2(all, scratch, svcreate2(svget2(even, 0), svget2(odd, 0)));
      svst2(all, scratch + 2 * vl, svcreate2(svget2(even, 1), svget2(odd, 1)));
      for (size_t i = 0; i < 4; ++i) {
        svst1(svwhilelt_b32_u64(i * vl, count), out + i * vl, svld1(all, scratch + i * vl));
      }
    }
  }
}

// Rows [0, rows) of the block, row r to out + r * row_stride: `count` elements each (p0 /
// p1 select them in the two vectors of f32, `pairs` the pixel pairs of f16).
template <class T, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_rows(
    size_t rows, const EpiloguePlan& plan, bool stages, svfloat32x4_t scale, svfloat32x4_t shift,
    svfloat32_t lo, svfloat32_t hi, Out* out, size_t row_stride, size_t lanes, size_t count,
    svbool_t p0, svbool_t p1, svbool_t pairs, float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  // One loop per way out, so the plain one is straight code (a phi of tuples costs moves).
  if (stages) {
    for (uint32_t r = 0; r < rows; ++r, out += row_stride) {
      store_row<T, true>(r, plan, scale, shift, lo, hi, out, lanes, count, p0, p1, pairs, scratch);
    }
  } else {
    for (uint32_t r = 0; r < rows; ++r, out += row_stride) {
      store_row<T, false>(r, plan, scale, shift, lo, hi, out, lanes, count, p0, p1, pairs, scratch);
    }
  }
}

// Which of `count` lanes (stride s from column iw0 of a row of width W) are inside the row.
struct RunLanes {
  size_t lo, hi;
};
SME2K_ALWAYS_INLINE RunLanes run_lanes(ptrdiff_t iw0, size_t stride, size_t width,
                                       size_t count) SME2K_STREAMING_COMPATIBLE {
  const ptrdiff_t s = static_cast<ptrdiff_t>(stride), w = static_cast<ptrdiff_t>(width);
  const ptrdiff_t first = iw0 >= 0 ? 0 : (-iw0 + s - 1) / s;
  const ptrdiff_t last = iw0 < w ? (w - 1 - iw0) / s + 1 : 0;
  RunLanes l;
  l.lo = static_cast<size_t>(first) < count ? static_cast<size_t>(first) : count;
  l.hi = static_cast<size_t>(last) < count ? static_cast<size_t>(last) : count;
  if (l.hi < l.lo) l.hi = l.lo;
  return l;
}

// The rows [lo, hi) of a block (output rows oh0 ..) whose input row at tap row kh is inside
// the input: the loops over them need no bounds checks (scalar work is what bounds these
// loops on the M4 model, beside the SME unit).
template <class T, class Out>
SME2K_ALWAYS_INLINE RunLanes rows_inside(const DepthwiseArgs<T, Out>& a, size_t oh0, size_t rows,
                                         size_t kh) SME2K_STREAMING_COMPATIBLE {
  const ptrdiff_t ih0 =
      static_cast<ptrdiff_t>(oh0 * a.stride_height + kh * a.dilation_height) - a.pad_top;
  return run_lanes(ih0, a.stride_height, a.in_height, rows);
}

// Whether the whole window from (ih0, iw0) lies inside the input.
template <class T, class Out>
SME2K_ALWAYS_INLINE bool window_inside(const DepthwiseArgs<T, Out>& a, ptrdiff_t ih0,
                                       ptrdiff_t iw0) SME2K_STREAMING_COMPATIBLE {
  const auto last_h = ih0 + static_cast<ptrdiff_t>((a.kernel_height - 1) * a.dilation_height);
  const auto last_w = iw0 + static_cast<ptrdiff_t>((a.kernel_width - 1) * a.dilation_width);
  return ih0 >= 0 && iw0 >= 0 && last_h < static_cast<ptrdiff_t>(a.in_height) &&
         last_w < static_cast<ptrdiff_t>(a.in_width);
}

// Per-lane values v[c0 .. c0 + count) (fill where v is null or past count) in ZA's lane
// order: f32 the two halves; f16 the even and odd channels of each half (LD2W splits
// them), e0, o0, e1, o1. An odd count goes through scratch so nothing past v is read.
template <class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t lane_params(const float* v, size_t c0,
                                                                size_t count, float fill,
                                                                float* scratch) SME2K_STREAMING {
  const size_t vl = svcntw();
  const svfloat32_t f = svdup_f32(fill);
  if (v == nullptr) return svcreate4(f, f, f, f);
  if constexpr (sizeof(T) == 4) {
    return svcreate4(
        svsel(svwhilelt_b32_u64(0, count), svld1(svwhilelt_b32_u64(0, count), v + c0), f),
        svsel(svwhilelt_b32_u64(vl, count), svld1(svwhilelt_b32_u64(vl, count), v + c0 + vl), f), f,
        f);
  } else {
    const float* src = v + c0;
    if (count % 2 != 0) {
      for (size_t i = 0; i < count; ++i) scratch[i] = src[i];
      scratch[count] = fill;
      src = scratch;
    }
    const size_t pairs = (count + 1) / 2;
    const svbool_t q0 = svwhilelt_b32_u64(0, pairs), q1 = svwhilelt_b32_u64(vl, pairs);
    const svfloat32x2_t h0 = svld2(q0, src), h1 = svld2(q1, src + 2 * vl);
    return svcreate4(svsel(q0, svget2(h0, 0), f), svsel(q0, svget2(h0, 1), f),
                     svsel(q1, svget2(h1, 0), f), svsel(q1, svget2(h1, 1), f));
  }
}

template <class T, size_t kStride, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void depthwise_nchw_channel(
    const DepthwiseArgs<T, Out>& a, size_t co, svfloat32_t lo,
    svfloat32_t hi) SME2K_STREAMING SME2K_INOUT_ZA {
  using Tr = DepthwiseTraits<T>;
  const size_t lanes = Tr::lanes();
  const size_t rows_per_block = svcntb() / 2 / Tr::kSlotsPerRow;
  const T* plane = a.input + (co / a.multiplier) * a.in_height * a.in_width;
  // Elements of the input after this plane's start: a structure load must stay before it.
  const size_t tail = (a.channels_in - co / a.multiplier) * a.in_height * a.in_width;
  Out* out_plane = a.output + co * a.out_height * a.out_width;
  const svfloat32_t bias = svdup_f32(a.bias != nullptr ? a.bias[co] : 0.0f);
  const svfloat32x2_t ones = ones_x2();
  const bool stages = a.plan.elementwise() || a.plan.clamped;
  const svfloat32_t s = svdup_f32(a.plan.scale != nullptr ? a.plan.scale[co] : 1.0f);
  const svfloat32_t t = svdup_f32(a.plan.shift != nullptr ? a.plan.shift[co] : 0.0f);
  const svfloat32x4_t scale = svcreate4(s, s, s, s), shift = svcreate4(t, t, t, t);
  using U = Raw<T>;
  for (size_t ow0 = 0; ow0 < a.out_width; ow0 += 2 * lanes) {
    const size_t count = a.out_width - ow0 < 2 * lanes ? a.out_width - ow0 : 2 * lanes;
    const svbool_t out0 = Tr::below(count), out1 = Tr::below(count > lanes ? count - lanes : 0);
    const svbool_t pairs = svwhilelt_b16_u64(0, count / 2);
    for (size_t oh0 = 0; oh0 < a.out_height; oh0 += rows_per_block) {
      const size_t rows = a.out_height - oh0 < rows_per_block ? a.out_height - oh0 : rows_per_block;
      svzero_za();
      start_rows<T>(rows, ones, bias, bias);
      for (size_t kw = 0; kw < a.kernel_width; ++kw) {
        const ptrdiff_t iw0 =
            static_cast<ptrdiff_t>(ow0 * kStride + kw * a.dilation_width) - a.pad_left;
        // Columns iw0 + kStride * lane; lanes [lo, hi) are inside the row. Lanes past
        // `safe` would read past the input's end with a structure load: loaded one by one.
        const RunLanes in_row = run_lanes(iw0, kStride, a.in_width, count);
        if (in_row.hi == in_row.lo) continue;
        const svbool_t p0 = lane_range<Lanes<sizeof(U)>>(in_row.lo < lanes ? in_row.lo : lanes,
                                                         in_row.hi < lanes ? in_row.hi : lanes);
        const svbool_t p1 = lane_range<Lanes<sizeof(U)>>(in_row.lo > lanes ? in_row.lo - lanes : 0,
                                                         in_row.hi > lanes ? in_row.hi - lanes : 0);
        // A structure load (stride > 1) reads kStride - 1 elements past its lane's: past
        // the input's end for the last lanes of its last rows, so those runs are read
        // element by element into scratch instead.
        const size_t run_extent = static_cast<size_t>(
            iw0 + static_cast<ptrdiff_t>(kStride * in_row.hi));  // one past the last read
        for (size_t kh = 0; kh < a.kernel_height; ++kh) {
          const size_t tap = kh * a.kernel_width + kw;
          const typename Tr::V w = broadcast(a.taps + tap * a.tap_stride + co);
          const RunLanes inside = rows_inside(a, oh0, rows, kh);
          const size_t row_step = a.stride_height * a.in_width;
          size_t row_start =
              (static_cast<size_t>(static_cast<ptrdiff_t>((oh0 + inside.lo) * a.stride_height +
                                                          kh * a.dilation_height) -
                                   a.pad_top)) *
              a.in_width;
          for (uint32_t r = static_cast<uint32_t>(inside.lo); r < inside.hi;
               ++r, row_start += row_step) {
            const U* run = at_offset(reinterpret_cast<const U*>(plane),
                                     static_cast<ptrdiff_t>(row_start) + iw0);
            if (kStride > 1 && row_start + run_extent > tail) {
              U* tmp = reinterpret_cast<U*>(a.scratch);
              for (size_t j = 0; j < 2 * lanes; ++j) {
                tmp[j] = j >= in_row.lo && j < in_row.hi ? run[kStride * j] : U{0};
              }
              Tr::mla(
                  Tr::kSlotsPerRow * r,
                  load_run<1>(svptrue_b8(), svptrue_b8(), reinterpret_cast<const T*>(tmp), lanes),
                  w);
              continue;
            }
            Tr::mla(Tr::kSlotsPerRow * r,
                    load_run<kStride>(p0, p1, reinterpret_cast<const T*>(run), lanes), w);
          }
        }
      }
      store_rows<T>(rows, a.plan, stages, scale, shift, lo, hi, out_plane + oh0 * a.out_width + ow0,
                    a.out_width, lanes, count, out0, out1, pairs, a.scratch);
    }
  }
}

}  // namespace detail

/// Output channels [c_begin, c_end) of one NCHW image (any multiplier, width stride 1-4).
template <class T, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void depthwise_nchw_sme2(
    const DepthwiseArgs<T, Out>& a, size_t c_begin, size_t c_end) SME2K_STREAMING SME2K_INOUT_ZA {
  const svfloat32_t lo = svdup_f32(a.plan.clamp.min), hi = svdup_f32(a.plan.clamp.max);
  for (size_t co = c_begin; co < c_end; ++co) {
    switch (a.stride_width) {
      case 1: detail::depthwise_nchw_channel<T, 1>(a, co, lo, hi); break;
      case 2: detail::depthwise_nchw_channel<T, 2>(a, co, lo, hi); break;
      case 3: detail::depthwise_nchw_channel<T, 3>(a, co, lo, hi); break;
      default: detail::depthwise_nchw_channel<T, 4>(a, co, lo, hi); break;
    }
  }
}

/// Output pixels [p_begin, p_end) of one NHWC image (multiplier 1): per 2 x L channels,
/// blocks of pixels as ZA rows.
template <class T, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void depthwise_nhwc_sme2(
    const DepthwiseArgs<T, Out>& a, size_t p_begin, size_t p_end) SME2K_STREAMING SME2K_INOUT_ZA {
  using Tr = detail::DepthwiseTraits<T>;
  using V2 = typename Tr::V2;
  const size_t lanes = Tr::lanes();
  const size_t rows_per_block = svcntb() / 2 / Tr::kSlotsPerRow;
  const size_t channels = a.channels_out, pixels = p_end;
  const svfloat32_t lo = svdup_f32(a.plan.clamp.min), hi = svdup_f32(a.plan.clamp.max);
  const bool stages = a.plan.elementwise() || a.plan.clamped;
  // Per pixel of a block: its window's corner, as rows and columns and as an offset, and
  // whether the whole window is inside the input (then its taps need no bounds checks).
  ptrdiff_t ih0[2 * kMaxVl], iw0[2 * kMaxVl], corner[2 * kMaxVl];
  bool whole[2 * kMaxVl];
  for (size_t c0 = 0; c0 < channels; c0 += 2 * lanes) {
    const size_t count = channels - c0 < 2 * lanes ? channels - c0 : 2 * lanes;
    const svbool_t p0 = Tr::below(count), p1 = Tr::below(count > lanes ? count - lanes : 0);
    const svbool_t pairs = svwhilelt_b16_u64(0, count / 2);
    const svfloat32x4_t bias = detail::lane_params<T>(a.bias, c0, count, 0.0f, a.scratch);
    const svfloat32x4_t scale = detail::lane_params<T>(a.plan.scale, c0, count, 1.0f, a.scratch);
    const svfloat32x4_t shift = detail::lane_params<T>(a.plan.shift, c0, count, 0.0f, a.scratch);
    // start_rows wants (even, odd) as (first half, second half) pairs of every row.
    const svfloat32x2_t b_even = sizeof(T) == 4 ? svcreate2(svget4(bias, 0), svget4(bias, 1))
                                                : svcreate2(svget4(bias, 0), svget4(bias, 2));
    const svfloat32x2_t b_odd = svcreate2(svget4(bias, 1), svget4(bias, 3));
    const svfloat32x2_t ones = detail::ones_x2();
    for (size_t p0i = p_begin; p0i < pixels; p0i += rows_per_block) {
      const size_t rows = pixels - p0i < rows_per_block ? pixels - p0i : rows_per_block;
      for (size_t r = 0; r < rows; ++r) {
        const size_t oh = (p0i + r) / a.out_width, ow = (p0i + r) % a.out_width;
        ih0[r] = static_cast<ptrdiff_t>(oh * a.stride_height) - a.pad_top;
        iw0[r] = static_cast<ptrdiff_t>(ow * a.stride_width) - a.pad_left;
        whole[r] = detail::window_inside(a, ih0[r], iw0[r]);
        corner[r] = (ih0[r] * static_cast<ptrdiff_t>(a.in_width) + iw0[r]) *
                    static_cast<ptrdiff_t>(a.channels_in);
      }
      svzero_za();
      detail::start_rows<T>(rows, ones, b_even, b_odd);
      for (size_t kh = 0; kh < a.kernel_height; ++kh) {
        for (size_t kw = 0; kw < a.kernel_width; ++kw) {
          const T* wt = a.taps + (kh * a.kernel_width + kw) * a.tap_stride + c0;
          V2 w;
          if constexpr (sizeof(T) == 4) {
            w = svcreate2(svld1(p0, wt), svld1(p1, wt + lanes));
          } else {
            const auto* wh = reinterpret_cast<const float16_t*>(wt);
            w = svcreate2(svld1(p0, wh), svld1(p1, wh + lanes));
          }
          const ptrdiff_t dh = static_cast<ptrdiff_t>(kh * a.dilation_height);
          const ptrdiff_t dw = static_cast<ptrdiff_t>(kw * a.dilation_width);
          const ptrdiff_t tap_offset = (dh * static_cast<ptrdiff_t>(a.in_width) + dw) *
                                       static_cast<ptrdiff_t>(a.channels_in);
          for (uint32_t r = 0; r < rows; ++r) {
            if (!whole[r]) {
              const auto ih = static_cast<size_t>(ih0[r] + dh);  // wraps if < 0
              const auto iw = static_cast<size_t>(iw0[r] + dw);
              if (ih >= a.in_height || iw >= a.in_width) continue;
            }
            const T* x = a.input + (corner[r] + tap_offset) + static_cast<ptrdiff_t>(c0);
            V2 v;
            if constexpr (sizeof(T) == 4) {
              v = svcreate2(svld1(p0, x), svld1(p1, x + lanes));
            } else {
              const auto* xh = reinterpret_cast<const float16_t*>(x);
              v = svcreate2(svld1(p0, xh), svld1(p1, xh + lanes));
            }
            Tr::mla(Tr::kSlotsPerRow * r, v, w);
          }
        }
      }
      detail::store_rows<T>(rows, a.plan, stages, scale, shift, lo, hi,
                            a.output + p0i * channels + c0, channels, lanes, count, p0, p1, pairs,
                            a.scratch);
    }
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
