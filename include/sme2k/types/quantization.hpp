// Quantization parameters and the one definition of requantization.
//
// QS8 x QC8W: activations int8 asymmetric per tensor (scale, zero point), weights int8
// symmetric per output channel (one scale each), output int8 asymmetric. With
// acc = sum_k a[k] * w[k][n] + bias[n] - zp_in * sum_k w[k][n] (int32, exact; the zero-point
// term is folded into the packed bias), the output is
//
//   r = round_to_nearest_even(float(acc) * scale[n])   in f32, then to int32 (saturating)
//   q = clamp(r + zp_out, lo, hi)                       lo, hi in [-128, 127]: saturation too
//   scale[n] = float(double(in_scale) * double(w_scale[n]) / double(out_scale))
//
// (one conversion and one multiply in f32, each rounded to nearest even). Kernels on every
// path and test/reference/ compute exactly this, so results are bit-exact.
#pragma once

#include <cmath>
#include <cstdint>

#include "sme2k/types/status.hpp"

namespace sme2k {

/// real = scale * (q - zero_point).
struct QuantParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

/// What packing QS8 weights bakes in: the activations' and the output's parameters and one
/// scale per output channel (N values).
struct Qs8Quantization {
  QuantParams input;
  const float* weight_scales = nullptr;
  QuantParams output;
};

/// What QS8 packed weights keep per output channel, in front of each panel: the bias with the
/// input zero point's cross term folded in, and the requantization scale. Stored as pairs
/// (a kernel reads a panel's pairs with one de-interleaving LD2W per vector).
struct Qs8ChannelParams {
  int32_t bias = 0;
  float scale = 0.0f;
};
static_assert(sizeof(Qs8ChannelParams) == 8, "part of the packed format");

/// The combined per-channel scale (see the top of this file).
inline float requantization_scale(float in_scale, float w_scale, float out_scale) {
  return static_cast<float>(static_cast<double>(in_scale) * static_cast<double>(w_scale) /
                            static_cast<double>(out_scale));
}

namespace detail {
// round_to_nearest_even(r) saturated to int32 (NaN: 0), plus zero_point, clamped to [lo, hi].
inline int8_t round_to_int8(float r, int32_t zero_point, int32_t lo, int32_t hi) {
  const float rounded_f = std::nearbyint(r);  // ties to even (default mode)
  const int64_t rounded = rounded_f >= 2147483648.0f   ? INT32_MAX
                          : rounded_f < -2147483648.0f ? INT32_MIN
                          : std::isnan(rounded_f)      ? 0
                                                       : static_cast<int64_t>(rounded_f);
  const int64_t q = rounded + zero_point;
  return static_cast<int8_t>(q < lo ? lo : q > hi ? hi : q);
}
}  // namespace detail

/// The requantization of one accumulator (see the top of this file).
inline int8_t requantize(int32_t acc, float scale, int32_t zero_point, int32_t lo, int32_t hi) {
  return detail::round_to_int8(static_cast<float>(acc) * scale, zero_point, lo, hi);
}

/// An int8 -> int8 per-channel affine, what a quantized graph's BatchNorm after the activation
/// does (fused after the requantization, or as its own pass; both give these bits):
///
///   q2 = clamp(round_to_nearest_even(fma(float(q1 - zp1), scale, shift)) + zp2, lo, hi)
///
/// (one fused multiply-add in f32; scale and shift in units of the output's scale, as
/// batchnorm_int8_affine() makes them).
inline int8_t requantize_affine(int32_t q1, int32_t zp1, float scale, float shift, int32_t zp2,
                                int32_t lo, int32_t hi) {
  return detail::round_to_int8(std::fma(static_cast<float>(q1 - zp1), scale, shift), zp2, lo, hi);
}

/// A scale must be finite and > 0; an int8 zero point in [-128, 127].
inline Status validate_quant_params(const QuantParams& p, const char* op, const char* what) {
  if (!(std::isfinite(p.scale) && p.scale > 0.0f)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: %s scale (%g) must be finite and > 0",
                         op, what, static_cast<double>(p.scale));
  }
  if (p.zero_point < -128 || p.zero_point > 127) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: %s zero point (%d) is outside [-128, 127]", op, what,
                         static_cast<int>(p.zero_point));
  }
  return Status();
}

}  // namespace sme2k
