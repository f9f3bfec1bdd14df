// Numeric variants are types. A variant tag (F32, F16, later QS8, QD8xQC4W) selects, through
// VariantTraits, the element types of every operand; the kernel registry
// (kernels/registry.hpp) maps (variant, path) to the micro-kernel, and through it to the
// packed formats that kernel consumes. One generic op machinery is instantiated per
// variant: adding a variant adds a traits specialisation and kernels, never op code.
#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

#include "sme2k/types/bf16.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/quantization.hpp"

namespace sme2k {

/// Stored in packed buffers: a buffer packed for one variant is refused by another.
enum class VariantId : uint8_t {
  kF32 = 1,
  kF16 = 2,
  kF16Acc16 = 3,
  kQS8 = 4,
  kQD8 = 5,
  kQD8QC4W = 6,
  kQD8QB4W = 7,
  kBF16 = 8,
};

template <class T>
struct dependent_false : std::false_type {};

/// A list of types (variants, kernels) to iterate at compile time.
template <class... Ts>
struct TypeList {};

template <class T>
struct TypeTag {
  using type = T;
};

template <class V>
struct VariantTraits {
  static_assert(dependent_false<V>::value,
                "sme2k: no VariantTraits<V>; see include/sme2k/types/variant.hpp");
};

/// f32 activations and weights, f32 accumulation and output.
struct F32 {};

template <>
struct VariantTraits<F32> {
  using Lhs = float;   // A, activations
  using Rhs = float;   // B, weights
  using Bias = float;  // as stored in packed weights
  using Acc = float;
  using Out = float;  // the default output
  static constexpr VariantId kId = VariantId::kF32;
  static constexpr std::string_view kName = "f32";
  /// Output element types the op writes, bias types packing accepts.
  template <class T>
  static constexpr bool kOutputs = std::is_same_v<T, float>;
  template <class T>
  static constexpr bool kBiasInputs = std::is_same_v<T, float>;
};

/// What the 16-bit float variants share: Elem activations and weights, f32 accumulation
/// (widening outer products), Elem or f32 output, an f32 bias (an Elem one is widened once, at
/// packing).
template <class Elem, VariantId kVariant>
struct WideningFloatTraits {
  using Lhs = Elem;
  using Rhs = Elem;
  using Bias = float;
  using Acc = float;
  using Out = Elem;
  static constexpr VariantId kId = kVariant;
  template <class T>
  static constexpr bool kOutputs = std::is_same_v<T, Elem> || std::is_same_v<T, float>;
  template <class T>
  static constexpr bool kBiasInputs = std::is_same_v<T, Elem> || std::is_same_v<T, float>;
};

/// f16 activations and weights, f32 accumulation (widening FMOPA), f16 or f32 output.
struct F16 {};

template <>
struct VariantTraits<F16> : WideningFloatTraits<f16, VariantId::kF16> {
  static constexpr std::string_view kName = "f16";
};

/// bf16 activations and weights, f32 accumulation (widening BFMOPA), bf16 or f32 output.
struct BF16 {};

template <>
struct VariantTraits<BF16> : WideningFloatTraits<bf16, VariantId::kBF16> {
  static constexpr std::string_view kName = "bf16";
};

/// f16 with f16 accumulation in ZA (FEAT_SME_F16F16): twice the outer-product rate of F16,
/// at the price of an error that grows with K (kernels/sme2/
/// gemm_f16_f16p2vlx1_f16p4vlx1bf16_2vlx4vl_sme2_mopa.hpp states the bound). Asked for
/// explicitly; on a CPU without SME_F16F16 it runs as F16 (f32 accumulation).
struct F16Acc16 {};

template <>
struct VariantTraits<F16Acc16> {
  using Lhs = f16;
  using Rhs = f16;
  using Bias = f16;
  using Acc = f16;
  using Out = f16;
  static constexpr VariantId kId = VariantId::kF16Acc16;
  static constexpr std::string_view kName = "f16acc16";
  template <class T>
  static constexpr bool kOutputs = std::is_same_v<T, f16>;
  template <class T>
  static constexpr bool kBiasInputs = std::is_same_v<T, f16> || std::is_same_v<T, float>;
  /// Where this variant has no kernel of its own, it runs these (packed for them).
  using Fallback = F16;
};

/// int8 activations (asymmetric per tensor) x int8 weights (symmetric per output channel,
/// QC8W), int32 accumulation, int8 output requantized as types/quantization.hpp defines.
struct QS8 {};

template <>
struct VariantTraits<QS8> {
  using Lhs = int8_t;
  using Rhs = int8_t;
  using Bias = Qs8ChannelParams;  // per channel: folded int32 bias and requantization scale
  using Acc = int32_t;
  using Out = int8_t;
  static constexpr VariantId kId = VariantId::kQS8;
  static constexpr std::string_view kName = "qs8";
  template <class T>
  static constexpr bool kOutputs = std::is_same_v<T, int8_t>;
  template <class T>
  static constexpr bool kBiasInputs = std::is_same_v<T, int32_t>;
};

/// f32 or f16 activations quantized per row at run time to int8 (dynamic, asymmetric;
/// types/dynamic_quantization.hpp) x int8 weights symmetric per output channel (QC8W), int32
/// accumulation, f32 or f16 output with the float epilogue (bias, activation, affine, clamp).
struct QD8 {};

/// What every variant with QD8 activations shares: A f32 or f16 quantized per row inside
/// the op, f32 or f16 output with the float epilogue, an f32 bias.
template <VariantId kVariant, class Accumulator>
struct Qd8VariantTraits {
  using Lhs = float;   // A as the op takes it by default; f16 too (kInputs)
  using Rhs = int8_t;  // the weight values (4-bit variants take them through an Int4View)
  using Bias = float;
  using Acc = Accumulator;
  using Out = float;
  static constexpr VariantId kId = kVariant;
  template <class T>
  static constexpr bool kOutputs = std::is_same_v<T, float> || std::is_same_v<T, f16>;
  template <class T>
  static constexpr bool kBiasInputs = std::is_same_v<T, float>;
  /// Activation types the op quantizes (gemm() takes a MatrixView of either).
  template <class T>
  static constexpr bool kInputs = std::is_same_v<T, float> || std::is_same_v<T, f16>;
};

template <>
struct VariantTraits<QD8> : Qd8VariantTraits<VariantId::kQD8, int32_t> {
  static constexpr std::string_view kName = "qd8";
};

/// QD8 activations (as above) x 4-bit weights symmetric per output channel (QC4W: -8..7, one
/// f32 scale per channel), int32 accumulation, f32 or f16 output with the float epilogue.
/// Weights are given as an Int4View (types/int4.hpp): nibbles two per byte, or int8 values.
struct QD8QC4W {};

template <>
struct VariantTraits<QD8QC4W> : Qd8VariantTraits<VariantId::kQD8QC4W, int32_t> {
  static constexpr std::string_view kName = "qd8-qc4w";
};

/// QD8 activations x 4-bit weights with one scale per output channel and block of K (QB4W,
/// types/block_scales.hpp). The per-block scales rule out one int32 sum over K; the op
/// computes in f32 on the dequantized operands (dequantized activations s * (q - zp) times
/// w * scale), f32 or f16 output with the float epilogue.
struct QD8QB4W {};

template <>
struct VariantTraits<QD8QB4W> : Qd8VariantTraits<VariantId::kQD8QB4W, float> {
  static constexpr std::string_view kName = "qd8-qb4w";
};

/// Every variant, the one table that turns a run-time VariantId or name into its type: the
/// C library, sme2k-run and the benchmarks read it. A new variant is a line here (and its id).
using Variants = TypeList<F32, F16, F16Acc16, QS8, QD8, QD8QC4W, QD8QB4W, BF16>;

namespace detail {
template <class Fn, class V, class... Rest>
void for_each_variant_in(TypeList<V, Rest...>, Fn& fn) {
  fn(TypeTag<V>{});
  if constexpr (sizeof...(Rest) > 0) for_each_variant_in(TypeList<Rest...>{}, fn);
}
}  // namespace detail

/// fn(TypeTag<V>{}) for every variant, in the table's order.
template <class Fn>
void for_each_variant(Fn&& fn) {
  detail::for_each_variant_in(Variants{}, fn);
}

/// Calls fn(TypeTag<V>{}) for the variant with id `id`; false when no variant has it.
template <class Fn>
bool visit_variant(VariantId id, Fn&& fn) {
  bool found = false;
  for_each_variant([&](auto tag) {
    if (!found && VariantTraits<typename decltype(tag)::type>::kId == id) {
      found = true;
      fn(tag);
    }
  });
  return found;
}

/// The id of the variant named `name` (VariantTraits<V>::kName); false when none is.
inline bool variant_id_from_name(std::string_view name, VariantId* id) {
  bool found = false;
  for_each_variant([&](auto tag) {
    using V = typename decltype(tag)::type;
    if (!found && VariantTraits<V>::kName == name) {
      *id = VariantTraits<V>::kId;
      found = true;
    }
  });
  return found;
}

}  // namespace sme2k
