// QD8: activations quantized per row at run time (dynamic, asymmetric int8), and the one
// definition of that quantization. Every path (the SME2 packer, the portable kernel) and
// test/reference/ compute exactly this, so quantized rows are bit-exact everywhere.
//
// For a row x[0..K) (f16 rows widened to f32 first, exactly):
//
//   lo = min(0, min_k x[k])   hi = max(0, max_k x[k])         (0 stays exactly representable)
//   scale = max(hi / 255 - lo / 255, FLT_MIN)                  f32, each operation rounded;
//                                                              never overflows, 1/scale finite
//   inv   = 1 / scale                                          f32
//   zp    = clamp(round_half_even(-128 - lo * inv), -128, 127)  f32, -128 - lo * inv fused
//   q[k]  = clamp(round_half_even(x[k] * inv + zp), -128, 127) the product and sum unrounded
//
// so that x[k] ~= scale * (q[k] - zp), within 0.5 * scale * (1 + 2^-15) (the rounding of
// 1/scale moves x * inv by up to 255 * 2^-24). A row holding an
// infinity or a NaN gets scale = NaN (and zp = 0): its outputs are NaN, as in a float GEMM,
// instead of quietly finite numbers.
//
// The exact q needs no wide arithmetic: |x * inv + zp| < 2^22, so one fused multiply-add onto
// 1.5 * 2^23 + zp rounds it to an integer exactly (the f32 spacing there is 1), which is how
// the kernels do it; the reference computes it in double.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "sme2k/types/f16.hpp"

namespace sme2k {

/// A row's quantization: real = scale * (q - zero_point).
struct RowQuantization {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

/// 1.5 * 2^23: adding it to a value of magnitude < 2^22 leaves that value rounded to an
/// integer in the low mantissa bits.
constexpr float kRoundingMagic = 12582912.0f;

/// The quantization of a row whose smallest and largest values are row_min and row_max
/// (NaN if the row holds one).
inline RowQuantization choose_row_quantization(float row_min, float row_max) {
  const float lo = row_min < 0.0f ? row_min : 0.0f;
  const float hi = row_max > 0.0f ? row_max : 0.0f;
  if (!(std::isfinite(row_min) && std::isfinite(row_max))) {
    return {std::numeric_limits<float>::quiet_NaN(), 0};
  }
  float scale = hi / 255.0f - lo / 255.0f;
  if (scale < FLT_MIN) scale = FLT_MIN;
  const float inv = 1.0f / scale;
  const float zp = std::nearbyint(std::fma(-lo, inv, -128.0f));
  return {scale, static_cast<int32_t>(zp < -128.0f ? -128.0f : zp > 127.0f ? 127.0f : zp)};
}

/// q for one value, given the row's 1 / scale and zero point.
inline int8_t quantize_dynamic(float x, float inv_scale, int32_t zero_point) {
  const float biased =
      std::fma(x, inv_scale, kRoundingMagic + static_cast<float>(zero_point)) - kRoundingMagic;
  if (std::isnan(biased)) return 0;  // a non-finite row: unspecified, but no UB
  return static_cast<int8_t>(biased < -128.0f ? -128 : biased > 127.0f ? 127 : biased);
}

/// The quantization of a row of K values (f32, or f16 widened exactly).
template <class In>
RowQuantization row_quantization(const In* row, size_t k) {
  float lo = 0.0f, hi = 0.0f;
  bool finite = true;
  for (size_t i = 0; i < k; ++i) {
    const float x = to_f32(row[i]);
    finite = finite && std::isfinite(x);
    lo = x < lo ? x : lo;
    hi = x > hi ? x : hi;
  }
  return choose_row_quantization(finite ? lo : NAN, hi);
}

/// What QD8 packed activations keep per row, in front of each panel: the row operand of the
/// zero-point correction (two int16 halves of one 32-bit lane: -128 zp and -zp; see
/// Qd8ChannelParams) and the row's scale.
struct Qd8RowParams {
  int16_t neg_zero_point_x128 = 0;
  int16_t neg_zero_point = 0;
  float scale = 0.0f;
};
static_assert(sizeof(Qd8RowParams) == 8, "part of the packed format");

inline Qd8RowParams qd8_row_params(RowQuantization q) {
  return {static_cast<int16_t>(-128 * q.zero_point), static_cast<int16_t>(-q.zero_point), q.scale};
}

/// Whether `p` is something qd8_row_params() makes: a zero point in int8 held twice
/// consistently (both paths read it, as -zp or as -128 zp) and a scale in [FLT_MIN, FLT_MAX],
/// or the NaN scale (zero point 0) of a row holding an infinity or a NaN. Packed activations
/// loaded from elsewhere are checked with this before a kernel reads them: a zero point out
/// of int8 would overflow the int32 zero-point term.
inline bool qd8_row_params_valid(const Qd8RowParams& p) {
  const int32_t zp = -int32_t{p.neg_zero_point};
  if (p.neg_zero_point_x128 != -128 * zp) return false;
  if (std::isnan(p.scale)) return zp == 0;
  return zp >= -128 && zp <= 127 && p.scale >= FLT_MIN && p.scale <= FLT_MAX;
}

/// What QD8 x QC8W packed weights keep per output channel, in front of each panel: the
/// column sum S = sum_k w[k][n] split as S = 128 * high + low (low in [0, 128)), the
/// channel's scale and the bias. One 2-way int16 outer product of the rows' (-128 zp, -zp)
/// with the columns' (high, low) adds -zp * S to every accumulator, exactly:
///   acc = sum_k q[k] w[k][n] - zp * S = sum_k (q[k] - zp) w[k][n]
/// out = fma(float(acc), row scale * channel scale, bias) in f32.
/// |S| <= 128 K must keep `high` in int16: K <= 32767 (packing refuses more).
struct Qd8ChannelParams {
  int16_t column_sum_high = 0;
  int16_t column_sum_low = 0;
  float scale = 0.0f;
  float bias = 0.0f;
};
static_assert(sizeof(Qd8ChannelParams) == 12, "part of the packed format");

/// The largest K QD8 x QC8W weights can be packed for (see Qd8ChannelParams).
constexpr size_t kQd8MaxK = 32767;

inline Qd8ChannelParams qd8_channel_params(int64_t column_sum, float scale, float bias) {
  const int64_t low = ((column_sum % 128) + 128) % 128;
  return {static_cast<int16_t>((column_sum - low) / 128), static_cast<int16_t>(low), scale, bias};
}

/// The column sum back from its halves.
inline int32_t qd8_column_sum(const Qd8ChannelParams& p) {
  return 128 * static_cast<int32_t>(p.column_sum_high) + p.column_sum_low;
}

/// The output of one accumulator (acc with the zero-point term included).
inline float qd8_dequantize(int32_t acc, float row_scale, const Qd8ChannelParams& channel) {
  return std::fma(static_cast<float>(acc), row_scale * channel.scale, channel.bias);
}

}  // namespace sme2k
