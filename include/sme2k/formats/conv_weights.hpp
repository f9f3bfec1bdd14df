// Packed convolution weights: the kernel reshaped once into the GEMM the convolution runs
// (ops/conv2d.hpp), per group, in the GEMM weight format of the kernel that will run it.
//
// The GEMM of group g: out[pixel][co] = sum_k cols[pixel][k] * B[k][co], co in the group's
// Cout/g channels, k = tap * kc + ci with tap = kh * KW + kw and ci < kc = Cin/g rounded up
// to the format's k-block (KR: f32 1, f16 2, int8 4). K is tap-major so that one k-block
// holds KR channels of the same tap: the run-time gather (formats/conv_lhs_gather.hpp)
// reads them from KR channel planes (NCHW) or one pixel's contiguous channels (NHWC) at one
// input position, with one predicate for all of them. B[k][co] = 0 for ci >= Cin/g.
//
// Payload (after the 64-byte PackedHeader: flags kFlagConvWeights; N = Cout, K = the
// per-group GEMM's K = KH * KW * kc; format = the GEMM weight format):
//
//   +---------------------------------------------------------------+  offset 0
//   | ConvWeightsDescriptor (64 bytes): Cin, Cout, KH, KW, groups,   |
//   |   kc, group_bytes                                              |
//   +---------------------------------------------------------------+  64
//   | group 0: GEMM weights payload (N = Cout/g, K), group_bytes      |  bias row / channel
//   +---------------------------------------------------------------+  params in front of
//   | group 1 ...                                                     |  each panel, as the
//   +---------------------------------------------------------------+  format says
//
// Depthwise weights (flags kFlagConvWeights | kFlagDepthwise; path-independent, so the
// header names the portable path and SVL 0):
//
//   +---------------------------------------------------------------+  offset 0
//   | ConvWeightsDescriptor                                           |
//   +---------------------------------------------------------------+  64
//   | taps: KH * KW rows of Cout weights (Elem: f32, f16 or int8),    |  row t = tap t of
//   |   each row padded to a multiple of 64 bytes                     |  every channel
//   +---------------------------------------------------------------+
//   | Cout channel params (f32 bias, or QS8's Qs8ChannelParams)       |
//   +---------------------------------------------------------------+
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "sme2k/types/conv.hpp"
#include "sme2k/types/size_math.hpp"

namespace sme2k {

struct ConvWeightsDescriptor {
  uint64_t in_channels;
  uint64_t out_channels;
  uint64_t kernel_height;
  uint64_t kernel_width;
  uint64_t groups;
  uint64_t kc;           // input channels per tap in K (Cin/g rounded up to KR); 1: depthwise
  uint64_t group_bytes;  // one group's GEMM payload; depthwise: one tap row's bytes
  uint64_t reserved;

  bool matches(const Conv2dParams& p) const {
    return in_channels == p.in_channels && out_channels == p.out_channels &&
           kernel_height == p.kernel_height && kernel_width == p.kernel_width && groups == p.groups;
  }
};
static_assert(sizeof(ConvWeightsDescriptor) == 64, "part of the packed format");

constexpr size_t kConvDescriptorBytes = sizeof(ConvWeightsDescriptor);

/// Index of the weight of output channel co, input channel ci (within the group), tap
/// (kh, kw) in weights stored in `layout`.
inline size_t conv_weight_index(ConvWeightLayout layout, const Conv2dParams& p, size_t co,
                                size_t ci, size_t kh, size_t kw) {
  const size_t cin = p.in_channels_per_group();
  switch (layout) {
    case ConvWeightLayout::kOIHW:
      return ((co * cin + ci) * p.kernel_height + kh) * p.kernel_width + kw;
    case ConvWeightLayout::kOHWI:
      return ((co * p.kernel_height + kh) * p.kernel_width + kw) * cin + ci;
    case ConvWeightLayout::kHWIO:
      return ((kh * p.kernel_width + kw) * cin + ci) * p.out_channels + co;
  }
  return 0;
}

template <class T>
T conv_weight_at(const T* w, ConvWeightLayout layout, const Conv2dParams& p, size_t co, size_t ci,
                 size_t kh, size_t kw) {
  return w[conv_weight_index(layout, p, co, ci, kh, kw)];
}

inline bool valid_conv_weight_layout(ConvWeightLayout layout) {
  return layout == ConvWeightLayout::kOIHW || layout == ConvWeightLayout::kOHWI ||
         layout == ConvWeightLayout::kHWIO;
}

/// Bytes of one depthwise tap row (Cout elements, padded to 64).
template <class Elem>
constexpr size_t depthwise_tap_row_bytes(size_t channels) {
  return round_up(channels * sizeof(Elem), 64);
}

/// Depthwise payload bytes (descriptor included), for validated parameters.
template <class Elem, class Params>
constexpr size_t depthwise_payload_bytes(const Conv2dParams& p) {
  return kConvDescriptorBytes + p.taps() * depthwise_tap_row_bytes<Elem>(p.out_channels) +
         round_up(p.out_channels * sizeof(Params), 64);
}

/// The depthwise taps (row t: Cout weights) and channel params of a payload.
template <class Elem>
const Elem* depthwise_taps(const void* payload) {
  return reinterpret_cast<const Elem*>(static_cast<const uint8_t*>(payload) + kConvDescriptorBytes);
}
template <class Elem, class Params>
const Params* depthwise_params(const void* payload, size_t taps, size_t channels) {
  return reinterpret_cast<const Params*>(static_cast<const uint8_t*>(payload) +
                                         kConvDescriptorBytes +
                                         taps * depthwise_tap_row_bytes<Elem>(channels));
}

}  // namespace sme2k
