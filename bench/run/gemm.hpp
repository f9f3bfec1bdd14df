// sme2k-run gemm's options, shared by its float (verb_gemm.cpp) and quantized
// (verb_gemm_quantized.cpp) variants.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "run/options.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k_run {

struct GemmOptions {
  const char* variant = nullptr;
  OutChoice out = OutChoice::kDefault;
  OutChoice in = OutChoice::kDefault;  // QD8's activations: f32 (default) or f16
  size_t batch = 0;  // 0: a plain GEMM with packed weights; >= 1: batch_matmul, B packed inside
  sme2k::Activation activation = sme2k::Activation::kNone;
  bool affine = false;      // a random per-channel affine after the activation
  bool transposed = false;  // C stored N x M
  bool packed_lhs = false;  // qd8: A quantized by gemm_pack_lhs before the region
  bool plan = false;        // print the op's plan (after the region)
  size_t block = 32;        // qd8-qb4w: k per weight scale
  size_t m = 0, n = 0, k = 0;
  size_t lda = 0, ldb = 0, ldc = 0;  // 0: dense
  sme2k::RhsLayout b_layout = sme2k::RhsLayout::kKxN;
  bool bias = true;
  sme2k::Clamp clamp;  // inactive unless --clamp
  uint32_t seed = 1;
  PathChoice path = PathChoice::kAuto;
  size_t repeat = 1;
  VerifyPolicy verify = VerifyPolicy::kAuto;
};

/// The options with every default leading dimension filled in.
inline GemmOptions with_dense_strides(GemmOptions o) {
  if (o.lda == 0) o.lda = o.k;
  if (o.ldb == 0) o.ldb = o.b_layout == sme2k::RhsLayout::kKxN ? o.n : o.k;
  if (o.ldc == 0) o.ldc = o.transposed ? o.m : o.n;
  return o;
}

/// The variants whose weights come with a quantization (verb_gemm_quantized.cpp has one
/// specialization per variant of the table that has such weights).
template <class V>
int run_gemm_quantized(const GemmOptions& options);

/// The name of an output element type, as --out spells it.
template <class Out>
constexpr const char* out_name() {
  if constexpr (std::is_same_v<Out, float>) return "f32";
  if constexpr (std::is_same_v<Out, sme2k::f16>) return "f16";
  if constexpr (std::is_same_v<Out, sme2k::bf16>) return "bf16";
  if constexpr (std::is_same_v<Out, int8_t>) return "qs8";
}

}  // namespace sme2k_run
