// What a 2D convolution is: its shape (Conv2dParams), the layouts of its activations and of
// the weights as frameworks hand them over, and the checks every conv entry shares.
//
//   out[n][co][oh][ow] = bias[co] + sum over ci in co's group, kh, kw of
//       w[co][ci][kh][kw] * in[n][g * Cin/g + ci][oh * sh - pad_top + kh * dh]
//                                                 [ow * sw - pad_left + kw * dw]
//   (positions outside the input read zero; QS8: the input zero point)
//   OH = (H + pad_top + pad_bottom - dh (KH - 1) - 1) / sh + 1, and OW alike.
//
// Depthwise is groups == Cin with any channel multiplier Cout / Cin >= 1 (output channel co
// reads input channel co / multiplier), as PyTorch's groups = in_channels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {

/// Layout of an activation tensor (dense, batch outermost).
enum class TensorLayout : uint8_t {
  kNCHW = 1,  ///< [N][C][H][W]: PyTorch's default
  kNHWC = 2,  ///< [N][H][W][C]: channels last (XNNPACK, TFLite)
};

inline const char* tensor_layout_name(TensorLayout layout) {
  switch (layout) {
    case TensorLayout::kNCHW: return "nchw";
    case TensorLayout::kNHWC: return "nhwc";
  }
  return "unknown";
}

/// Layout of convolution weights as handed to packing (Cin/g input channels per group).
enum class ConvWeightLayout : uint8_t {
  kOIHW = 1,  ///< [Cout][Cin/g][KH][KW]: PyTorch's nn.Conv2d.weight
  kOHWI = 2,  ///< [Cout][KH][KW][Cin/g]: XNNPACK, TFLite
  kHWIO = 3,  ///< [KH][KW][Cin/g][Cout]: TensorFlow
};

struct Conv2dParams {
  size_t batch = 1;
  size_t in_channels = 0, in_height = 0, in_width = 0;
  size_t out_channels = 0;
  size_t kernel_height = 0, kernel_width = 0;
  size_t stride_height = 1, stride_width = 1;
  size_t dilation_height = 1, dilation_width = 1;
  size_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  size_t groups = 1;

  size_t in_channels_per_group() const { return in_channels / groups; }
  size_t out_channels_per_group() const { return out_channels / groups; }
  /// Depthwise: one input channel per group (any channel multiplier).
  bool depthwise() const { return groups == in_channels && groups > 1; }
  size_t taps() const { return kernel_height * kernel_width; }
  /// Valid once validate_conv2d_params() succeeded.
  size_t out_height() const {
    return (in_height + pad_top + pad_bottom - dilation_height * (kernel_height - 1) - 1) /
               stride_height +
           1;
  }
  size_t out_width() const {
    return (in_width + pad_left + pad_right - dilation_width * (kernel_width - 1) - 1) /
               stride_width +
           1;
  }
};

/// The weights' part of the checks (what packing needs): channels, kernel, groups.
inline Status validate_conv2d_weights_params(const Conv2dParams& p, const char* op) {
  if (p.in_channels == 0 || p.out_channels == 0 || p.kernel_height == 0 || p.kernel_width == 0 ||
      p.groups == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: Cin %zu, Cout %zu, KH %zu, KW %zu, groups %zu must be >= 1", op,
                         p.in_channels, p.out_channels, p.kernel_height, p.kernel_width, p.groups);
  }
  if (p.in_channels % p.groups != 0 || p.out_channels % p.groups != 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: groups (%zu) must divide Cin (%zu) and Cout (%zu)", op, p.groups,
                         p.in_channels, p.out_channels);
  }
  // Every product the ops form from these (weights, K = KH KW Cin/g, padded) stays far
  // inside size_t when each factor is below 2^20 and the weight count below 2^40.
  constexpr size_t kMaxDim = size_t{1} << 20;
  size_t weights = 0;
  if (p.in_channels >= kMaxDim || p.out_channels >= kMaxDim || p.kernel_height >= kMaxDim ||
      p.kernel_width >= kMaxDim || !checked_mul(p.taps(), p.in_channels_per_group(), &weights) ||
      !checked_mul(weights, p.out_channels, &weights) || weights >= (size_t{1} << 40)) {
    return Status::error(StatusCode::kSizeOverflow, "%s: weights of Cin %zu, Cout %zu, %zu x %zu",
                         op, p.in_channels, p.out_channels, p.kernel_height, p.kernel_width);
  }
  return Status();
}

/// Every check of a call's shape: the weights' part, then batch, input, strides, dilation,
/// padding (the dilated kernel must fit the padded input) and the tensors' sizes.
inline Status validate_conv2d_params(const Conv2dParams& p, const char* op) {
  SME2K_RETURN_IF_ERROR(validate_conv2d_weights_params(p, op));
  if (p.batch == 0 || p.in_height == 0 || p.in_width == 0 || p.stride_height == 0 ||
      p.stride_width == 0 || p.dilation_height == 0 || p.dilation_width == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: batch %zu, H %zu, W %zu, strides %zu/%zu, dilations %zu/%zu must be "
                         ">= 1",
                         op, p.batch, p.in_height, p.in_width, p.stride_height, p.stride_width,
                         p.dilation_height, p.dilation_width);
  }
  constexpr size_t kMaxDim = size_t{1} << 24;
  const size_t dims[] = {p.batch,        p.in_height,       p.in_width,       p.stride_height,
                         p.stride_width, p.dilation_height, p.dilation_width, p.pad_top,
                         p.pad_bottom,   p.pad_left,        p.pad_right};
  for (size_t d : dims) {
    if (d >= kMaxDim) {
      return Status::error(StatusCode::kSizeOverflow, "%s: a size or padding (%zu) is >= 2^24", op,
                           d);
    }
  }
  const size_t padded_h = p.in_height + p.pad_top + p.pad_bottom;
  const size_t padded_w = p.in_width + p.pad_left + p.pad_right;
  const size_t span_h = p.dilation_height * (p.kernel_height - 1) + 1;
  const size_t span_w = p.dilation_width * (p.kernel_width - 1) + 1;
  if (span_h > padded_h || span_w > padded_w) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: the (dilated) kernel %zu x %zu is larger than the padded input "
                         "%zu x %zu: no output",
                         op, span_h, span_w, padded_h, padded_w);
  }
  size_t in = 0, out = 0;
  if (!checked_mul(p.batch, p.in_channels, &in) || !checked_mul(in, p.in_height, &in) ||
      !checked_mul(in, p.in_width, &in) || in > SIZE_MAX / 8 ||
      !checked_mul(p.batch, p.out_channels, &out) || !checked_mul(out, p.out_height(), &out) ||
      !checked_mul(out, p.out_width(), &out) || out > SIZE_MAX / 8) {
    return Status::error(StatusCode::kSizeOverflow, "%s: tensor sizes overflow size_t", op);
  }
  return Status();
}

/// OH and OW of a convolution (each image's output is Cout x OH x OW), after the checks of
/// validate_conv2d_params(): what a runtime sizes its output tensor with.
inline Status conv2d_output_size(const Conv2dParams& p, size_t* out_height, size_t* out_width) {
  constexpr const char* op = "conv2d_output_size";
  if (out_height == nullptr || out_width == nullptr) {
    return Status::error(StatusCode::kNullPointer, "%s: out_height or out_width is null", op);
  }
  SME2K_RETURN_IF_ERROR(validate_conv2d_params(p, op));
  *out_height = p.out_height();
  *out_width = p.out_width();
  return Status();
}

/// Elements of the input and output tensors of a validated shape.
inline size_t conv2d_input_elements(const Conv2dParams& p) {
  return p.batch * p.in_channels * p.in_height * p.in_width;
}
inline size_t conv2d_output_elements(const Conv2dParams& p) {
  return p.batch * p.out_channels * p.out_height() * p.out_width();
}

}  // namespace sme2k
