// BatchNorm (inference) next to a convolution, as PyTorch gives it:
//   y = (x - running_mean) / sqrt(running_var + eps) * weight + bias
// Before the activation it is an affine map of each output channel of the conv, so it folds
// into the conv's weights and bias once (fold_batchnorm). After the activation it cannot
// fold; it becomes the epilogue's per-channel affine (batchnorm_affine), applied to the
// activation's output in ZA before the store: either way it costs no pass over the tensor.
//
// The per-channel factor s = weight / sqrt(var + eps) and the folded values are computed in
// double, then rounded to f32 and to the weights' type (f16 weights: w * s within one f16
// rounding, so the folded conv is within the f16 bound of the unfolded one). QS8: fold into the float
// weights, then quantize them (the weight scales follow the folded weights); sme2k's QS8
// packing takes the quantized result.
#pragma once

#include <cmath>
#include <cstddef>

#include "sme2k/formats/conv_weights.hpp"
#include "sme2k/ops/detail/validate.hpp"
#include "sme2k/types/alignment.hpp"
#include "sme2k/types/conv.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/quantization.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {

/// A BatchNorm2d's parameters (C values each); null weight means 1, null bias 0.
struct BatchNormParams {
  const float* weight = nullptr;
  const float* bias = nullptr;
  const float* running_mean = nullptr;
  const float* running_var = nullptr;
  float eps = 1e-5f;
};

/// The most channels a BatchNorm helper takes (its arrays hold `channels` values each): a
/// count beyond it is a caller's error (garbage, a wrapped subtraction), refused before any
/// array is read. Conv2d bounds Cout at 2^20; a Linear layer's N stays far below 2^24.
constexpr size_t kMaxBatchNormChannels = size_t{1} << 24;

namespace detail {
inline Status batchnorm_factors(size_t channels, const BatchNormParams& bn, const char* op) {
  if (channels == 0) {
    return Status::error(StatusCode::kInvalidArgument, "%s: channels must be >= 1", op);
  }
  if (channels > kMaxBatchNormChannels) {
    return Status::error(StatusCode::kSizeOverflow, "%s: %zu channels (at most 2^24)", op,
                         channels);
  }
  if (bn.running_mean == nullptr || bn.running_var == nullptr) {
    return Status::error(StatusCode::kNullPointer, "%s: running mean or variance is null", op);
  }
  for (const float* values : {bn.weight, bn.bias, bn.running_mean, bn.running_var}) {
    SME2K_RETURN_IF_ERROR(check_element_aligned(values, op, "a BatchNorm parameter array"));
  }
  if (!(bn.eps >= 0.0f) || !std::isfinite(bn.eps)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: eps (%g) must be finite and >= 0", op,
                         static_cast<double>(bn.eps));
  }
  for (size_t c = 0; c < channels; ++c) {
    const double var = static_cast<double>(bn.running_var[c]) + bn.eps;
    if (!(var > 0.0) || !std::isfinite(var)) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: running_var + eps of channel %zu must be finite and > 0", op, c);
    }
  }
  return Status();
}
inline double batchnorm_scale(const BatchNormParams& bn, size_t c) {
  const double w = bn.weight != nullptr ? bn.weight[c] : 1.0;
  return w / std::sqrt(static_cast<double>(bn.running_var[c]) + bn.eps);
}
inline double batchnorm_shift(const BatchNormParams& bn, size_t c, double bias, double scale) {
  const double b = bn.bias != nullptr ? bn.bias[c] : 0.0;
  return (bias - bn.running_mean[c]) * scale + b;
}
}  // namespace detail

/// A BatchNorm after the activation as the epilogue's ChannelAffine: scale[c], shift[c].
inline Status batchnorm_affine(size_t channels, const BatchNormParams& bn, float* scale,
                               float* shift) {
  constexpr const char* op = "batchnorm_affine";
  if (scale == nullptr || shift == nullptr) {
    return Status::error(StatusCode::kNullPointer, "%s: scale or shift is null", op);
  }
  SME2K_RETURN_IF_ERROR(check_element_aligned(scale, op, "scale"));
  SME2K_RETURN_IF_ERROR(check_element_aligned(shift, op, "shift"));
  SME2K_RETURN_IF_ERROR(detail::batchnorm_factors(channels, bn, op));
  for (size_t c = 0; c < channels; ++c) {
    const double s = detail::batchnorm_scale(bn, c);
    scale[c] = static_cast<float>(s);
    shift[c] = static_cast<float>(detail::batchnorm_shift(bn, c, 0.0, s));
  }
  return Status();
}

/// A BatchNorm after the activation of a QS8 layer, as a quantized graph has it (its own op,
/// int8 in with `in`'s parameters, int8 out with `out`'s): the Int8Stages affine
/// (epilogue/ops.hpp) that computes it fused, scale[c] = in.scale * s / out.scale and
/// shift[c] = (bias - mean * s) / out.scale (double, then rounded to f32; s as above). The
/// stage's zero point is out.zero_point. A separate pass over an int8 tensor that applies
/// requantize_affine() with these values gives the same bits.
inline Status batchnorm_int8_affine(size_t channels, const BatchNormParams& bn,
                                    const QuantParams& in, const QuantParams& out, float* scale,
                                    float* shift) {
  constexpr const char* op = "batchnorm_int8_affine";
  if (scale == nullptr || shift == nullptr) {
    return Status::error(StatusCode::kNullPointer, "%s: scale or shift is null", op);
  }
  SME2K_RETURN_IF_ERROR(check_element_aligned(scale, op, "scale"));
  SME2K_RETURN_IF_ERROR(check_element_aligned(shift, op, "shift"));
  SME2K_RETURN_IF_ERROR(validate_quant_params(in, op, "input"));
  SME2K_RETURN_IF_ERROR(validate_quant_params(out, op, "output"));
  SME2K_RETURN_IF_ERROR(detail::batchnorm_factors(channels, bn, op));
  for (size_t c = 0; c < channels; ++c) {
    const double s = detail::batchnorm_scale(bn, c);
    scale[c] = static_cast<float>(double{in.scale} * s / double{out.scale});
    shift[c] = static_cast<float>(detail::batchnorm_shift(bn, c, 0.0, s) / double{out.scale});
    if (!std::isfinite(scale[c]) || !std::isfinite(shift[c])) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: channel %zu's scale or shift is not finite in f32", op, c);
    }
  }
  return Status();
}

/// Folds a BatchNorm that directly follows the convolution into its unpacked weights (in
/// place, in `layout`; T = float or f16) and writes the folded bias (Cout values; conv_bias
/// may be null for none, and may be the same array as folded_bias).
template <class T>
Status fold_batchnorm(const Conv2dParams& p, T* weights, ConvWeightLayout layout,
                      const float* conv_bias, const BatchNormParams& bn, float* folded_bias) {
  constexpr const char* op = "fold_batchnorm";
  SME2K_RETURN_IF_ERROR(validate_conv2d_weights_params(p, op));
  if (weights == nullptr || folded_bias == nullptr) {
    return Status::error(StatusCode::kNullPointer, "%s: weights or folded bias is null", op);
  }
  SME2K_RETURN_IF_ERROR(check_element_aligned(weights, op, "weights"));
  SME2K_RETURN_IF_ERROR(check_element_aligned(conv_bias, op, "conv bias"));
  SME2K_RETURN_IF_ERROR(check_element_aligned(folded_bias, op, "folded bias"));
  if (!valid_conv_weight_layout(layout)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown ConvWeightLayout %d", op,
                         static_cast<int>(layout));
  }
  SME2K_RETURN_IF_ERROR(detail::batchnorm_factors(p.out_channels, bn, op));
  const size_t cin = p.in_channels_per_group();
  for (size_t co = 0; co < p.out_channels; ++co) {
    const double s = detail::batchnorm_scale(bn, co);
    for (size_t ci = 0; ci < cin; ++ci) {
      for (size_t kh = 0; kh < p.kernel_height; ++kh) {
        for (size_t kw = 0; kw < p.kernel_width; ++kw) {
          T& w = weights[conv_weight_index(layout, p, co, ci, kh, kw)];
          w = convert_to<T>(static_cast<float>(static_cast<double>(to_f32(w)) * s));
        }
      }
    }
    const double bias = conv_bias != nullptr ? conv_bias[co] : 0.0;
    folded_bias[co] = static_cast<float>(detail::batchnorm_shift(bn, co, bias, s));
  }
  return Status();
}

/// The same for a GEMM's weights (a Linear layer followed by BatchNorm1d) given N x K, row n
/// holding output channel n's weights (RhsLayout::kNxK, PyTorch's nn.Linear.weight).
template <class T>
Status fold_batchnorm(MatrixView<T> weights_nxk, const float* bias, const BatchNormParams& bn,
                      float* folded_bias) {
  constexpr const char* op = "fold_batchnorm";
  SME2K_RETURN_IF_ERROR(detail::validate_matrix(weights_nxk, op, "weights"));
  if (folded_bias == nullptr) {
    return Status::error(StatusCode::kNullPointer, "%s: folded bias is null", op);
  }
  SME2K_RETURN_IF_ERROR(check_element_aligned(bias, op, "bias"));
  SME2K_RETURN_IF_ERROR(check_element_aligned(folded_bias, op, "folded bias"));
  SME2K_RETURN_IF_ERROR(detail::batchnorm_factors(weights_nxk.rows, bn, op));
  for (size_t n = 0; n < weights_nxk.rows; ++n) {
    const double s = detail::batchnorm_scale(bn, n);
    for (size_t k = 0; k < weights_nxk.cols; ++k) {
      T& w = weights_nxk(n, k);
      w = convert_to<T>(static_cast<float>(static_cast<double>(to_f32(w)) * s));
    }
    folded_bias[n] =
        static_cast<float>(detail::batchnorm_shift(bn, n, bias != nullptr ? bias[n] : 0.0, s));
  }
  return Status();
}

}  // namespace sme2k
