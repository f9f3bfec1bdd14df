// Numeric variants are types. A variant tag (F32, later F16, QS8, QD8xQC4W) selects, through
// VariantTraits, the element types of every operand; the kernel registry
// (kernels/registry.hpp) maps (variant, path) to the micro-kernel, and through it to the
// packed formats that kernel consumes. One generic op machinery is instantiated per
// variant: adding a variant adds a traits specialisation and kernels, never op code.
#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

namespace sme2k {

/// Stored in packed buffers: a buffer packed for one variant is refused by another.
enum class VariantId : uint8_t {
  kF32 = 1,
};

template <class T>
struct dependent_false : std::false_type {};

template <class V>
struct VariantTraits {
  static_assert(dependent_false<V>::value,
                "sme2k: no VariantTraits<V>; see include/sme2k/types/variant.hpp");
};

/// f32 activations and weights, f32 accumulation and output.
struct F32 {};

template <>
struct VariantTraits<F32> {
  using Lhs = float;  // A, activations
  using Rhs = float;  // B, weights
  using Bias = float;
  using Acc = float;
  using Out = float;
  static constexpr VariantId kId = VariantId::kF32;
  static constexpr std::string_view kName = "f32";
};

}  // namespace sme2k
