// The convolution's GEMM activations (cols[pixel][k], formats/conv_weights.hpp: k = tap * kc
// + ci), gathered at run time from the input where it lies, a few pixels at a time: never a
// whole im2col matrix.
//
// For the portable kernels, rows of cols (row-major, K per row). For the SME2 kernels, one
// packed LHS panel (formats/lhs_panel_format.hpp) of 2VL consecutive output pixels of one
// image: per k-block (KR channels of one tap), for each of the 2VL pixels its KR values
// side by side:
//
//   k-block b = (tap, channels c .. c+KR-1):  px0: x[c][p0] .. x[c+KR-1][p0]   px1: ...
//                                             ... 2VL pixels; KR x 2VL elements
//
// NCHW: for one output row, stride 1, a tap reads a contiguous run of an input row in every
// channel plane (stride 2-4: every s-th element, which LD2-LD4 pick); KR planes are loaded
// with one predicate (the run's part inside the input) and interleaved by one structure
// store (ST2H / ST4B), so a k-block costs KR vector loads and one store, no arithmetic.
// NHWC: a pixel's channels are contiguous, so the k-blocks are the transpose of pixel rows:
// each pixel's channels go in as a horizontal ZA slice (byte-predicated: exactly Cin/g
// channels, never a neighbour's), and vertical 32-bit slices come out as k-blocks. Loads
// and stores only, as formats/za_transpose.hpp. Padding: lanes outside the input read the
// pad value (0, or QS8's input zero point); channels past Cin/g in the last k-block read 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/types/conv.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>
#endif

namespace sme2k {

/// One image and one group of a convolution, as the gathers see it.
struct ConvGeometry {
  size_t in_channels;  // Cin: NHWC's pixel stride
  size_t in_height, in_width, out_width;
  size_t kernel_width;
  size_t stride_height, stride_width, dilation_height, dilation_width;
  ptrdiff_t pad_top, pad_left;
  size_t taps;
  size_t channels;  // Cin / g
  size_t kc;        // channels per tap in K (>= channels)
  TensorLayout layout;

  static ConvGeometry of(const Conv2dParams& p, size_t kc, TensorLayout layout) {
    return {p.in_channels,
            p.in_height,
            p.in_width,
            p.out_width(),
            p.kernel_width,
            p.stride_height,
            p.stride_width,
            p.dilation_height,
            p.dilation_width,
            static_cast<ptrdiff_t>(p.pad_top),
            static_cast<ptrdiff_t>(p.pad_left),
            p.taps(),
            p.in_channels_per_group(),
            kc,
            layout};
  }
  size_t k() const SME2K_STREAMING_COMPATIBLE { return taps * kc; }
  /// Input row of output row oh at tap row kh (may be outside [0, H)).
  ptrdiff_t in_row(size_t oh, size_t kh) const SME2K_STREAMING_COMPATIBLE {
    return static_cast<ptrdiff_t>(oh * stride_height + kh * dilation_height) - pad_top;
  }
  ptrdiff_t in_col(size_t ow, size_t kw) const SME2K_STREAMING_COMPATIBLE {
    return static_cast<ptrdiff_t>(ow * stride_width + kw * dilation_width) - pad_left;
  }
  bool inside(ptrdiff_t ih, ptrdiff_t iw) const SME2K_STREAMING_COMPATIBLE {
    return ih >= 0 && iw >= 0 && static_cast<size_t>(ih) < in_height &&
           static_cast<size_t>(iw) < in_width;
  }
  /// Offset of (channel ci of the group, ih, iw) from the group's first channel.
  size_t offset(size_t ci, size_t ih, size_t iw) const SME2K_STREAMING_COMPATIBLE {
    return layout == TensorLayout::kNCHW ? (ci * in_height + ih) * in_width + iw
                                         : (ih * in_width + iw) * in_channels + ci;
  }
};

/// rows x K row-major cols for output pixels [p0, p0 + rows) of one image and group
/// (`group` at its first channel): the portable kernels' A.
template <class T>
void gather_conv_rows(const ConvGeometry& geo, const T* group, size_t p0, size_t rows, T pad,
                      T* out) {
  const size_t k = geo.k();
  for (size_t r = 0; r < rows; ++r) {
    const size_t oh = (p0 + r) / geo.out_width, ow = (p0 + r) % geo.out_width;
    T* row = out + r * k;
    for (size_t tap = 0; tap < geo.taps; ++tap) {
      const ptrdiff_t ih = geo.in_row(oh, tap / geo.kernel_width);
      const ptrdiff_t iw = geo.in_col(ow, tap % geo.kernel_width);
      T* dst = row + tap * geo.kc;
      if (!geo.inside(ih, iw)) {
        for (size_t ci = 0; ci < geo.kc; ++ci) dst[ci] = ci < geo.channels ? pad : T{};
        continue;
      }
      for (size_t ci = 0; ci < geo.channels; ++ci) {
        dst[ci] = group[geo.offset(ci, static_cast<size_t>(ih), static_cast<size_t>(iw))];
      }
      for (size_t ci = geo.channels; ci < geo.kc; ++ci) dst[ci] = T{};
    }
  }
}

#if SME2K_HAS_SME2_CODE
// Inlined into the convolution's streaming driver. A measurement build defines it as
// noinline, so that `insn-mix --group gather=gather_conv_panel` reports the gather's share.
#ifndef SME2K_CONV_GATHER_INLINE
#define SME2K_CONV_GATHER_INLINE SME2K_ALWAYS_INLINE
#endif

namespace sme2 {
namespace detail {

template <size_t kBytes>
struct Lanes;
template <>
struct Lanes<1> {
  using U = uint8_t;
  using V = svuint8_t;
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static svbool_t below(size_t n) SME2K_STREAMING {
    return svwhilelt_b8_u64(0, n);
  }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static V dup(U x) SME2K_STREAMING { return svdup_n_u8(x); }
};
template <>
struct Lanes<2> {
  using U = uint16_t;
  using V = svuint16_t;
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static svbool_t below(size_t n) SME2K_STREAMING {
    return svwhilelt_b16_u64(0, n);
  }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static V dup(U x) SME2K_STREAMING { return svdup_n_u16(x); }
};
template <>
struct Lanes<4> {
  using U = uint32_t;
  using V = svuint32_t;
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static svbool_t below(size_t n) SME2K_STREAMING {
    return svwhilelt_b32_u64(0, n);
  }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static V dup(U x) SME2K_STREAMING { return svdup_n_u32(x); }
};

// Lanes [lo, hi) of a vector of U.
template <class L>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svbool_t lane_range(size_t lo, size_t hi) SME2K_STREAMING {
  return svbic_z(L::below(hi), L::below(hi), L::below(lo));
}

// Lane r = p[kStride * r] for the active lanes (0 elsewhere): LD1, or the first vector of
// an LD2 / LD3 / LD4 structure load.
template <size_t kStride, class U>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE auto load_strided(svbool_t pg, const U* p) SME2K_STREAMING {
  if constexpr (kStride == 1) return svld1(pg, p);
  if constexpr (kStride == 2) return svget2(svld2(pg, p), 0);
  if constexpr (kStride == 3) return svget3(svld3(pg, p), 0);
  if constexpr (kStride == 4) return svget4(svld4(pg, p), 0);
}

// Stores the first KR of v0..v3 interleaved: the k-block of the active lanes' pixels.
template <size_t kKr, class U, class V>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_block(svbool_t pg, U* out, V v0, V v1, V v2,
                                                       V v3) SME2K_STREAMING {
  if constexpr (kKr == 1) svst1(pg, out, v0);
  if constexpr (kKr == 2) svst2(pg, out, svcreate2(v0, v1));
  if constexpr (kKr == 4) svst4(pg, out, svcreate4(v0, v1, v2, v3));
}

// Where a plane offset may be negative (lanes before the row are never loaded, but the
// vector's base address is) without forming an out-of-bounds pointer in C++.
template <class U>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE const U* at_offset(const U* base,
                                                         ptrdiff_t offset) SME2K_STREAMING {
  return reinterpret_cast<const U*>(reinterpret_cast<uintptr_t>(base) +
                                    static_cast<uintptr_t>(offset * ptrdiff_t{sizeof(U)}));
}

}  // namespace detail

/// Whether gather_conv_panel_sme2() reads an NCHW input with vector loads (else element by
/// element): strides 1 to 4 along the width.
inline bool nchw_gather_vectorized(const ConvGeometry& geo) {
  return geo.stride_width >= 1 && geo.stride_width <= 4;
}

namespace detail {

// A k-block of KR channels (planes `plane` apart, from src at lane 0's column) for the lanes
// `valid` selects, stored over the lanes `segment` selects (the rest of them read 0).
template <size_t kKr, size_t kStride, class U>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_channels(svbool_t segment, svbool_t valid,
                                                          const U* src, size_t plane,
                                                          U* out) SME2K_STREAMING {
  const auto v0 = load_strided<kStride>(valid, src);
  if constexpr (kKr == 1) {
    svst1(segment, out, v0);
  } else if constexpr (kKr == 2) {
    svst2(segment, out, svcreate2(v0, load_strided<kStride>(valid, src + plane)));
  } else {
    svst4(segment, out,
          svcreate4(v0, load_strided<kStride>(valid, src + plane),
                    load_strided<kStride>(valid, src + 2 * plane),
                    load_strided<kStride>(valid, src + 3 * plane)));
  }
}
template <size_t kKr, size_t kStride, class U>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_channels(svbool_t valid, const U* src,
                                                          size_t plane, U* out) SME2K_STREAMING {
  store_channels<kKr, kStride>(valid, valid, src, plane, out);
}

// The lanes [from, to) a structure load must not read (it would read past the input's last
// row), element by element: `real` channels of the k-block.
template <size_t kKr, size_t kStride, class U>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void fill_lone_lanes(size_t from, size_t to, const U* src,
                                                           size_t plane, size_t real,
                                                           U* out) SME2K_STREAMING {
  for (size_t s = from; s < to; ++s) {
    for (size_t e = 0; e < kKr && e < real; ++e) out[s * kKr + e] = src[e * plane + kStride * s];
  }
}

// NCHW: the panel's k-blocks for pixel lanes [r0, r1), which are output row oh from column
// ow0 on. U: the element as raw bits; vectors of U hold at least 2VL lanes for 8- and 16-bit
// elements, VL for 32-bit ones (then two halves).
template <size_t kKr, size_t kStride, class U>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void gather_nchw_segment(const ConvGeometry& geo,
                                                               const U* group, size_t oh,
                                                               size_t ow0, size_t r0, size_t r1,
                                                               U pad, U* panel) SME2K_STREAMING {
  using L = Lanes<sizeof(U)>;
  using V = typename L::V;
  const size_t lanes = svcntb() / sizeof(U);  // per vector
  const size_t vl = svcntsw();
  const size_t block = 2 * vl * kKr;  // elements per k-block
  const size_t plane = geo.in_height * geo.in_width;
  for (size_t h0 = 0; h0 < 2 * vl; h0 += lanes) {  // vector halves (32-bit elements only)
    const size_t s0 = r0 > h0 ? r0 - h0 : 0;
    const size_t s1 = r1 > h0 ? (r1 - h0 < lanes ? r1 - h0 : lanes) : 0;
    if (s0 >= s1) continue;
    const svbool_t segment = lane_range<L>(s0, s1);
    const V pad_v = L::dup(pad);
    const V zeros = L::dup(U{0});
    // The padding value as whole k-blocks: a pixel's k-block is one 32-bit word, so the
    // segment's words are at most two word vectors (lanes [0, VL) and [VL, 2VL)).
    uint64_t pad_word = 0;
    for (size_t e = 0; e < kKr; ++e) pad_word = pad_word << (8 * sizeof(U)) | pad;
    const svuint32_t pad_words = svdup_u32(static_cast<uint32_t>(pad_word));
    const svbool_t words_lo = lane_range<Lanes<4>>(s0 < vl ? s0 : vl, s1 < vl ? s1 : vl);
    const svbool_t words_hi = lane_range<Lanes<4>>(s0 > vl ? s0 - vl : 0, s1 > vl ? s1 - vl : 0);
    for (size_t tap = 0; tap < geo.taps; ++tap) {
      U* out = panel + tap * (geo.kc / kKr) * block + h0 * kKr;
      const ptrdiff_t ih = geo.in_row(oh, tap / geo.kernel_width);
      const ptrdiff_t iw0 = geo.in_col(ow0 + (h0 + s0 - r0), tap % geo.kernel_width) -
                            static_cast<ptrdiff_t>(kStride * s0);  // lane 0's column
      // Lanes whose column is inside the row: iw0 + kStride * s in [0, W).
      size_t lo = s0, hi = s0;
      if (ih >= 0 && static_cast<size_t>(ih) < geo.in_height) {
        const ptrdiff_t w = static_cast<ptrdiff_t>(geo.in_width);
        const ptrdiff_t s = static_cast<ptrdiff_t>(kStride);
        const ptrdiff_t first = iw0 >= 0 ? 0 : (-iw0 + s - 1) / s;
        const ptrdiff_t last = iw0 < w ? (w - 1 - iw0) / s + 1 : 0;  // one past
        lo = static_cast<size_t>(first) > s0 ? static_cast<size_t>(first) : s0;
        hi = static_cast<size_t>(last) < s1 ? static_cast<size_t>(last) : s1;
        if (hi < lo) hi = lo;
      }
      // A structure load reads kStride - 1 elements past its lane's: past the end of the
      // plane (which may end the caller's buffer) that lane is loaded alone. Only the last
      // lane can: the one before it reads up to the last lane's own element.
      size_t load_hi = hi;
      if constexpr (kStride > 1) {
        if (hi > lo && static_cast<ptrdiff_t>(static_cast<size_t>(ih) * geo.in_width) + iw0 +
                               static_cast<ptrdiff_t>(kStride * hi - 1) >=
                           static_cast<ptrdiff_t>(geo.in_height * geo.in_width)) {
          load_hi = hi - 1;
        }
      }
      const svbool_t valid = lane_range<L>(lo, load_hi);
      const bool padded = lo > s0 || hi < s1;
      const ptrdiff_t row_offset =
          ih >= 0 ? static_cast<ptrdiff_t>(static_cast<size_t>(ih) * geo.in_width) + iw0 : 0;
      const bool loads = hi > lo;
      // k-blocks whose KR channels are all inside Cin/g, read from the input: KR loads and
      // one interleaving store each (after the padding value where part of the run is
      // outside the row, when that value is not 0, which the zeroing loads give for free).
      const size_t loaded = loads ? geo.channels / kKr * kKr : 0;
      const U* src = at_offset(group, row_offset);
      size_t c = 0;
      if (padded && pad != U{0}) {
        for (; c < loaded; c += kKr, out += block, src += kKr * plane) {
          svst1(words_lo, reinterpret_cast<uint32_t*>(out), pad_words);
          svst1(words_hi, reinterpret_cast<uint32_t*>(out) + vl, pad_words);
          store_channels<kKr, kStride>(valid, src, plane, out);
          fill_lone_lanes<kKr, kStride>(load_hi, hi, src, plane, kKr, out);
        }
      } else {
        for (; c < loaded; c += kKr, out += block, src += kKr * plane) {
          store_channels<kKr, kStride>(segment, valid, src, plane, out);
          fill_lone_lanes<kKr, kStride>(load_hi, hi, src, plane, kKr, out);
        }
      }
      // The rest: the last k-block with channels past Cin/g (0 there), or all of a row
      // outside the input (the padding value).
      for (; c < geo.kc; c += kKr, out += block, src += kKr * plane) {
        const size_t real = geo.channels > c ? geo.channels - c : 0;  // channels < Cin/g
        const V v0 = real > 0 ? (loads ? load_strided<kStride>(valid, src) : pad_v) : zeros;
        const V v1 = real > 1 ? (loads ? load_strided<kStride>(valid, src + plane) : pad_v) : zeros;
        const V v2 =
            real > 2 ? (loads ? load_strided<kStride>(valid, src + 2 * plane) : pad_v) : zeros;
        const V v3 =
            real > 3 ? (loads ? load_strided<kStride>(valid, src + 3 * plane) : pad_v) : zeros;
        if (padded && pad != U{0} && loads) {
          store_block<kKr>(segment, out, real > 0 ? pad_v : zeros, real > 1 ? pad_v : zeros,
                           real > 2 ? pad_v : zeros, real > 3 ? pad_v : zeros);
          store_block<kKr>(valid, out, v0, v1, v2, v3);
        } else {
          store_block<kKr>(segment, out, v0, v1, v2, v3);
        }
        if (loads) fill_lone_lanes<kKr, kStride>(load_hi, hi, src, plane, real, out);
      }
    }
  }
}

}  // namespace detail

/// One packed LHS panel (2VL x K, KR per k-block) for output pixels [p0, p0 + rows) of one
/// image and group (`group`: the input at the group's first channel); `pad`: the padding
/// value. Lanes past `rows` are left as they are (the kernel stores no such row). NHWC
/// clobbers 32-bit ZA tiles 0 and 1, and reads `pad_row` (SVL bytes of `pad`).
template <size_t kKr, class T>
SME2K_TARGET_SME2 SME2K_CONV_GATHER_INLINE void gather_conv_panel_sme2(
    const ConvGeometry& geo, const T* group, size_t p0, size_t rows, T pad, const T* pad_row,
    T* panel) SME2K_STREAMING SME2K_INOUT_ZA {
  static_assert(sizeof(T) * kKr == 4, "k-blocks of 32-bit words");
  using U = typename detail::Lanes<sizeof(T)>::U;
  U pad_bits;
  std::memcpy(&pad_bits, &pad, sizeof pad);
  const auto* in = reinterpret_cast<const U*>(group);
  auto* out = reinterpret_cast<U*>(panel);
  const size_t vl = svcntsw();
  if (geo.layout == TensorLayout::kNCHW) {
    for (size_t r0 = 0; r0 < rows;) {  // one output row at a time
      const size_t oh = (p0 + r0) / geo.out_width, ow0 = (p0 + r0) % geo.out_width;
      const size_t r1 = r0 + (geo.out_width - ow0 < rows - r0 ? geo.out_width - ow0 : rows - r0);
      switch (geo.stride_width) {
        case 1: detail::gather_nchw_segment<kKr, 1>(geo, in, oh, ow0, r0, r1, pad_bits, out); break;
        case 2: detail::gather_nchw_segment<kKr, 2>(geo, in, oh, ow0, r0, r1, pad_bits, out); break;
        case 3: detail::gather_nchw_segment<kKr, 3>(geo, in, oh, ow0, r0, r1, pad_bits, out); break;
        case 4: detail::gather_nchw_segment<kKr, 4>(geo, in, oh, ow0, r0, r1, pad_bits, out); break;
        default: {  // element by element
          for (size_t r = r0; r < r1; ++r) {
            const size_t ow = ow0 + (r - r0);
            for (size_t tap = 0; tap < geo.taps; ++tap) {
              const ptrdiff_t ih = geo.in_row(oh, tap / geo.kernel_width);
              const ptrdiff_t iw = geo.in_col(ow, tap % geo.kernel_width);
              const bool inside = geo.inside(ih, iw);
              for (size_t c = 0; c < geo.kc; ++c) {
                U value = U{0};
                if (c < geo.channels) {
                  value = inside
                              ? in[geo.offset(c, static_cast<size_t>(ih), static_cast<size_t>(iw))]
                              : pad_bits;
                }
                const size_t kb = tap * (geo.kc / kKr) + c / kKr;
                out[kb * 2 * vl * kKr + r * kKr + c % kKr] = value;
              }
            }
          }
        }
      }
      r0 = r1;
    }
    return;
  }
  // NHWC through ZA: pixel rows in as horizontal slices of tiles 0 (pixels 0..VL-1) and 1,
  // k-blocks out as vertical slices. Per pixel of the panel, its window's corner is worked
  // out once, so a tap costs a bounds check and an add per pixel (scalar work is what
  // bounds this loop on the M4 model, beside the SME unit).
  const size_t words = geo.kc / kKr;  // per tap
  svbool_t all = svptrue_b32();
  asm("" : "+Upa"(all));  // made once: rebuilt per store it would cost a cycle each
  const auto* pad_bytes = reinterpret_cast<const uint8_t*>(pad_row);
  ptrdiff_t corner_h[2 * kMaxVl], corner_w[2 * kMaxVl];
  {
    size_t oh = p0 / geo.out_width, ow = p0 % geo.out_width;
    for (size_t i = 0; i < rows; ++i) {
      corner_h[i] = geo.in_row(oh, 0);
      corner_w[i] = geo.in_col(ow, 0);
      if (++ow == geo.out_width) {
        ow = 0;
        ++oh;
      }
    }
  }
  const auto height = static_cast<size_t>(geo.in_height);
  const auto width = static_cast<size_t>(geo.in_width);
  const size_t pixel_bytes = geo.in_channels * sizeof(T);
  const auto* image = reinterpret_cast<const uint8_t*>(in);
  for (size_t tap = 0; tap < geo.taps; ++tap) {
    const size_t kh = tap / geo.kernel_width, kw = tap % geo.kernel_width;
    const ptrdiff_t dh = static_cast<ptrdiff_t>(kh * geo.dilation_height);
    const ptrdiff_t dw = static_cast<ptrdiff_t>(kw * geo.dilation_width);
    for (size_t w0 = 0; w0 < words; w0 += vl) {
      const size_t c0 = w0 * kKr;
      const size_t bytes =
          (geo.channels - c0 < vl * kKr ? geo.channels - c0 : vl * kKr) * sizeof(T);
      const svbool_t in_channels = svwhilelt_b8_u64(0, bytes);
      const size_t cols = words - w0 < vl ? words - w0 : vl;
      const uint8_t* channels = image + c0 * sizeof(T);
      for (size_t h = 0; h < 2; ++h) {
        const size_t first = h * vl;
        if (first >= rows) break;
        const size_t count = rows - first < vl ? rows - first : vl;
        for (size_t i = 0; i < count; ++i) {
          const size_t ih = static_cast<size_t>(corner_h[first + i] + dh);  // wraps if < 0
          const size_t iw = static_cast<size_t>(corner_w[first + i] + dw);
          const uint32_t slice = static_cast<uint32_t>(4 * i + h);
          const uint8_t* src =
              ih < height && iw < width ? channels + (ih * width + iw) * pixel_bytes : pad_bytes;
          svld1_hor_za8(0, slice, in_channels, src);
        }
        auto* dst = reinterpret_cast<uint8_t*>(out + ((tap * words + w0) * 2 * vl + first) * kKr);
        if (h == 0) {
          for (uint32_t j = 0; j < cols; ++j, dst += 2 * vl * 4) svst1_ver_za32(0, j, all, dst);
        } else {
          for (uint32_t j = 0; j < cols; ++j, dst += 2 * vl * 4) svst1_ver_za32(1, j, all, dst);
        }
      }
    }
  }
}

}  // namespace sme2
#endif  // SME2K_HAS_SME2_CODE

}  // namespace sme2k
