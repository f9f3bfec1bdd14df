// What the fused output stage does, as plain data. The order is fixed and written once:
//
//   acc (started from the packed bias) -> activation -> per-channel affine -> clamp
//     -> convert to the output type -> store (row-major C, or C transposed)
//
// Bias lives in the packed weights (a constant of the layer), so it costs the SME2 kernel
// one outer product per tile instead of an add per output. A BatchNorm before the
// activation folds into weights and bias; one after it (which an activation keeps from
// folding) is the per-channel affine here, so Conv -> Act -> BN needs no extra pass. The
// SME2 "how" (ZA slices, registers, stores) is in epilogue/sme2_store.hpp and
// epilogue/sme2_activation.hpp, the portable one is apply() below; test/reference/ follows
// the same definitions in double precision.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "sme2k/arch/cost_model.hpp"
#include "sme2k/types/quantization.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {

/// Activations, applied to acc + bias. Definitions (the reference's):
///   relu(x) = max(x, 0)      relu6(x) = min(max(x, 0), 6)
///   hard_swish(x) = x * min(max(x + 3, 0), 6) / 6
///   gelu(x) = x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))     (the tanh form)
///   silu(x) = x / (1 + exp(-x))
enum class Activation : uint8_t { kNone = 0, kRelu, kRelu6, kHardSwish, kGelu, kSilu };

inline const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kNone: return "none";
    case Activation::kRelu: return "relu";
    case Activation::kRelu6: return "relu6";
    case Activation::kHardSwish: return "hardswish";
    case Activation::kGelu: return "gelu";
    case Activation::kSilu: return "silu";
  }
  return "unknown";
}

/// out = fmin(fmax(x, min), max): IEEE maxNum/minNum, as the SME2 FCLAMP instruction and C's
/// fmin/fmax do, so an active clamp turns a NaN into `min`. Inactive (both bounds infinite)
/// it is skipped and NaN stays NaN.
struct Clamp {
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();

  bool active() const { return !(std::isinf(min) && min < 0 && std::isinf(max) && max > 0); }
  float apply(float x) const { return std::fmin(std::fmax(x, min), max); }
};

/// y = x * scale[n] + shift[n] for output column (channel) n; null scale means 1, null
/// shift 0. Both arrays hold N values and must stay valid during the call.
struct ChannelAffine {
  const float* scale = nullptr;
  const float* shift = nullptr;

  bool active() const { return scale != nullptr || shift != nullptr; }
};

/// How C is stored: row-major M x N (c.rows = M), or transposed, N x M (c.rows = N; each
/// row holds one output channel: what an NCHW consumer of a pixels-by-channels GEMM wants).
enum class OutputOrder : uint8_t { kRowMajor = 0, kTransposed = 1 };

/// The int8 outputs a quantized op may write (inclusive): where a QS8 layer's activation
/// goes (ReLU: min = the output zero point), as XNNPACK's output_min / output_max.
struct QuantizedRange {
  int32_t min = -128;
  int32_t max = 127;
};

/// int8 outputs: a quantized graph's next elementwise op (int8 -> int8, with its own output
/// parameters) fused after the requantization and quantized_range, in this order:
///  - affine: per output channel, q2 = requantize_affine(q1, ...) (types/quantization.hpp):
///    a BatchNorm after the activation (ops/batchnorm.hpp's batchnorm_int8_affine makes it);
///  - table: 256 int8 values indexed by q + 128: any function of one int8 value, e.g. a
///    hard-swish with its own output scale (int8_activation_table() makes it).
struct Int8Stages {
  const float* scale = nullptr;  // N values; the affine is on when scale is set
  const float* shift = nullptr;  // N values, required with scale
  int32_t zero_point = 0;        // the affine's output zero point
  QuantizedRange range;          // and its output range
  const int8_t* table = nullptr;

  bool affine() const { return scale != nullptr; }
  bool active() const { return scale != nullptr || shift != nullptr || table != nullptr; }
};

struct GemmEpilogue {
  Activation activation = Activation::kNone;  // float outputs
  ChannelAffine affine;                       // float outputs
  Clamp clamp;                                // float outputs
  OutputOrder order = OutputOrder::kRowMajor;
  QuantizedRange
      quantized_range;     // int8 outputs: requantization (types/quantization.hpp), then this
  Int8Stages int8_stages;  // int8 outputs: then these
};

/// The stages after the accumulator, resolved outside streaming mode: an activation that is a
/// clamp (ReLU, ReLU6, with no affine after it) is merged into the clamp.
struct EpiloguePlan {
  Activation activation = Activation::kNone;  // what is left to compute
  const float* scale = nullptr;
  const float* shift = nullptr;
  bool clamped = false;
  Clamp clamp;
  bool transposed = false;
  int32_t out_zero_point = 0;  // int8 outputs: from the packed weights
  QuantizedRange quantized_range;
  bool requant_clamp = true;  // false: the range is all of int8 and no scale can overflow
  Int8Stages int8_stages;
  // Float weights: whether the packed bias row is added (the header's has-bias flag). The
  // SME2 kernels take the flag as an argument; the portable ones read it here, so both paths
  // read it the same way.
  bool add_bias = true;
  // SME2: GELU and SiLU computed in ZA vector groups (cost_model() ZA-favoured) or in
  // registers (epilogue/sme2_sigmoid_za.hpp); the same results within the stated bound.
  bool za_exp = false;

  /// Whether anything beyond a clamp touches the values (activation or affine).
  bool elementwise() const {
    return activation != Activation::kNone || scale != nullptr || shift != nullptr;
  }
};

inline EpiloguePlan plan_epilogue(const GemmEpilogue& e, int32_t out_zero_point = 0) {
  EpiloguePlan p;
  p.out_zero_point = out_zero_point;
  p.activation = e.activation;
  p.scale = e.affine.scale;
  p.shift = e.affine.shift;
  p.clamp = e.clamp;
  p.transposed = e.order == OutputOrder::kTransposed;
  p.quantized_range = e.quantized_range;
  p.int8_stages = e.int8_stages;
  p.za_exp = cost_model() == CostModel::kZaFavoured;
  if (!e.affine.active() &&
      (e.activation == Activation::kRelu || e.activation == Activation::kRelu6)) {
    p.clamp.min = std::fmax(p.clamp.min, 0.0f);
    if (e.activation == Activation::kRelu6) p.clamp.max = std::fmin(p.clamp.max, 6.0f);
    if (p.clamp.max < p.clamp.min) p.clamp.min = p.clamp.max;  // e.g. relu then clamp to [-2, -1]
    p.activation = Activation::kNone;
  }
  p.clamped = p.clamp.active();
  return p;
}

/// The scalar definition of the activations (portable kernels), in float.
inline float activate(Activation a, float x) {
  switch (a) {
    case Activation::kNone: return x;
    case Activation::kRelu: return std::fmax(x, 0.0f);
    case Activation::kRelu6: return std::fmin(std::fmax(x, 0.0f), 6.0f);
    case Activation::kHardSwish: return x * std::fmin(std::fmax(x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case Activation::kGelu:
      return 0.5f * x * (1.0f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
    case Activation::kSilu: return x / (1.0f + std::exp(-x));
  }
  return x;
}

/// Everything after the accumulator for output column n, in float (portable kernels).
inline float apply(const EpiloguePlan& p, float acc, size_t n) {
  float y = activate(p.activation, acc);
  if (p.scale != nullptr) y *= p.scale[n];
  if (p.shift != nullptr) y += p.shift[n];
  return p.clamped ? p.clamp.apply(y) : y;
}

/// What follows the requantization for output column n (portable kernels): q is the
/// requantized value, already in quantized_range.
inline int8_t apply_int8_stages(const EpiloguePlan& p, int8_t q, size_t n) {
  const Int8Stages& s = p.int8_stages;
  if (s.affine()) {
    q = requantize_affine(q, p.out_zero_point, s.scale[n], s.shift[n], s.zero_point, s.range.min,
                          s.range.max);
  }
  return s.table != nullptr ? s.table[q + 128] : q;
}

/// The table of an activation between two int8 tensors (Int8Stages::table), for a quantized
/// graph's elementwise op: table[q + 128] = clamp(round_to_nearest_even(activate(act, x) /
/// out.scale) + out.zero_point, range), x = in.scale * float(q - in.zero_point), in f32.
/// Computed once per layer, on every path by this function: fused or not, the same bits.
inline Status int8_activation_table(Activation act, const QuantParams& in, const QuantParams& out,
                                    QuantizedRange range, int8_t* table) {
  const char* op = "int8_activation_table";
  if (table == nullptr) return Status::error(StatusCode::kNullPointer, "%s: table is null", op);
  SME2K_RETURN_IF_ERROR(validate_quant_params(in, op, "input"));
  SME2K_RETURN_IF_ERROR(validate_quant_params(out, op, "output"));
  if (static_cast<uint8_t>(act) > static_cast<uint8_t>(Activation::kSilu)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown activation %d", op,
                         static_cast<int>(act));
  }
  if (range.min < -128 || range.max > 127 || range.min > range.max) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: range [%d, %d] is not inside [-128, 127]", op,
                         static_cast<int>(range.min), static_cast<int>(range.max));
  }
  for (int32_t q = -128; q <= 127; ++q) {
    const float x = in.scale * static_cast<float>(q - in.zero_point);
    table[q + 128] =
        detail::round_to_int8(activate(act, x) / out.scale, out.zero_point, range.min, range.max);
  }
  return Status();
}

/// Checks an epilogue at the door of an op named `op`.
inline Status validate_epilogue(const GemmEpilogue& e, const char* op) {
  if (std::isnan(e.clamp.min) || std::isnan(e.clamp.max)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: clamp bound is NaN", op);
  }
  if (e.clamp.min > e.clamp.max) {
    return Status::error(StatusCode::kInvalidArgument, "%s: clamp min (%g) is above max (%g)", op,
                         static_cast<double>(e.clamp.min), static_cast<double>(e.clamp.max));
  }
  if (static_cast<uint8_t>(e.activation) > static_cast<uint8_t>(Activation::kSilu)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown activation %d", op,
                         static_cast<int>(e.activation));
  }
  if (e.quantized_range.min < -128 || e.quantized_range.max > 127 ||
      e.quantized_range.min > e.quantized_range.max) {
    return Status::error(
        StatusCode::kInvalidArgument, "%s: quantized range [%d, %d] is not inside [-128, 127]", op,
        static_cast<int>(e.quantized_range.min), static_cast<int>(e.quantized_range.max));
  }
  const Int8Stages& st = e.int8_stages;
  if ((st.scale == nullptr) != (st.shift == nullptr)) {
    return Status::error(StatusCode::kNullPointer,
                         "%s: the int8 affine needs both scale and shift (one is null)", op);
  }
  if (st.affine() && (st.zero_point < -128 || st.zero_point > 127 || st.range.min < -128 ||
                      st.range.max > 127 || st.range.min > st.range.max)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: the int8 affine's zero point %d or range [%d, %d] is outside int8",
                         op, static_cast<int>(st.zero_point), static_cast<int>(st.range.min),
                         static_cast<int>(st.range.max));
  }
  if (e.order != OutputOrder::kRowMajor && e.order != OutputOrder::kTransposed) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown output order %d", op,
                         static_cast<int>(e.order));
  }
  return Status();
}

}  // namespace sme2k
