// Depthwise convolution in plain C++: the fallback and the SME2 kernel's sibling, on the same
// packed weights (formats/conv_weights.hpp). Per output channel co (input channel co / M for
// a channel multiplier M), the f32 (float variants) or exact int32 (QS8) sum over the taps in
// tap order, then the epilogue of epilogue/ops.hpp or the requantization of
// types/quantization.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "sme2k/epilogue/ops.hpp"
#include "sme2k/types/bf16.hpp"
#include "sme2k/types/conv.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/quantization.hpp"

namespace sme2k {

/// The portable kernel's name for element type T (docs/naming.md): one output at a time, any
/// layout pair and channel multiplier.
template <class T>
constexpr std::string_view depthwise_portable_name() {
  if constexpr (std::is_same_v<T, int8_t>) {
    return "dwconv_qs8_qs8_any_1_portable_loops";
  } else if constexpr (std::is_same_v<T, f16>) {
    return "dwconv_f16_f16_any_1_portable_loops";
  } else if constexpr (std::is_same_v<T, bf16>) {
    return "dwconv_bf16_bf16_any_1_portable_loops";
  } else {
    return "dwconv_f32_f32_any_1_portable_loops";
  }
}

/// Offset of (channel c, row y, column x) in a dense image of `channels` x h x w.
inline size_t image_offset(TensorLayout layout, size_t channels, size_t h, size_t w, size_t c,
                           size_t y, size_t x) {
  return layout == TensorLayout::kNCHW ? (c * h + y) * w + x : (y * w + x) * channels + c;
}

/// Output channels [c_begin, c_end) of one image. `taps`: row t holds tap t of every output
/// channel (tap_stride elements apart); `params`: Cout f32 biases or Qs8ChannelParams.
template <class T, class Params, class Out>
void depthwise_conv2d_portable(const Conv2dParams& p, const T* image, TensorLayout in_layout,
                               const T* taps, size_t tap_stride, const Params* params,
                               const EpiloguePlan& plan, T pad, Out* out, TensorLayout out_layout,
                               size_t c_begin, size_t c_end) {
  constexpr bool kQuantized = std::is_same_v<Params, Qs8ChannelParams>;
  using Acc = std::conditional_t<kQuantized, int32_t, float>;
  const size_t oh_count = p.out_height(), ow_count = p.out_width();
  const size_t multiplier = p.out_channels / p.in_channels;
  for (size_t co = c_begin; co < c_end; ++co) {
    const size_t ci = co / multiplier;
    for (size_t oh = 0; oh < oh_count; ++oh) {
      for (size_t ow = 0; ow < ow_count; ++ow) {
        Acc acc;
        if constexpr (kQuantized) {
          acc = params[co].bias;
        } else {
          acc = plan.add_bias ? params[co] : 0.0f;
        }
        for (size_t kh = 0; kh < p.kernel_height; ++kh) {
          const ptrdiff_t ih =
              static_cast<ptrdiff_t>(oh * p.stride_height + kh * p.dilation_height) -
              static_cast<ptrdiff_t>(p.pad_top);
          for (size_t kw = 0; kw < p.kernel_width; ++kw) {
            const ptrdiff_t iw =
                static_cast<ptrdiff_t>(ow * p.stride_width + kw * p.dilation_width) -
                static_cast<ptrdiff_t>(p.pad_left);
            const bool inside = ih >= 0 && iw >= 0 && static_cast<size_t>(ih) < p.in_height &&
                                static_cast<size_t>(iw) < p.in_width;
            const T x =
                inside ? image[image_offset(in_layout, p.in_channels, p.in_height, p.in_width, ci,
                                            static_cast<size_t>(ih), static_cast<size_t>(iw))]
                       : pad;
            const T w = taps[(kh * p.kernel_width + kw) * tap_stride + co];
            if constexpr (kQuantized) {
              acc += int32_t{x} * int32_t{w};
            } else {
              acc += to_f32(x) * to_f32(w);
            }
          }
        }
        Out& y = out[image_offset(out_layout, p.out_channels, oh_count, ow_count, co, oh, ow)];
        if constexpr (kQuantized) {
          y = apply_int8_stages(plan,
                                requantize(acc, params[co].scale, plan.out_zero_point,
                                           plan.quantized_range.min, plan.quantized_range.max),
                                co);
        } else {
          y = convert_to<Out>(apply(plan, acc, co));
        }
      }
    }
  }
}

}  // namespace sme2k
