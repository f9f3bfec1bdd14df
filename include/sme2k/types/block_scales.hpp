// Per-block weight scales (QB4W): one scale per output channel and block of `block`
// consecutive k, as 4-bit LLM weights carry them (ggml Q4_0: block 32, f16 scales; KleidiAI
// qsi4c32: bf16 scales).
//
//   scale of output channel n, block b (k in [b * block, (b + 1) * block)) = data[n * ld + b]
//
// f32 or bf16 (the top half of an f32's bits) values, finite and > 0; block a multiple of 32
// that divides K.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "sme2k/types/alignment.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {

enum class ScaleType : uint8_t {
  kF32 = 1,
  kBF16 = 2,  ///< uint16_t bits: an f32 without its low 16 bits
};

struct BlockScales {
  const void* data = nullptr;
  ScaleType type = ScaleType::kF32;
  size_t block = 32;
  size_t ld = 0;  ///< elements between output channels, >= K / block

  /// The scale of output channel n for input k, as f32 (exact for both types).
  float at(size_t n, size_t k) const {
    const size_t i = n * ld + k / block;
    if (type == ScaleType::kF32) return static_cast<const float*>(data)[i];
    const uint32_t bits = static_cast<uint32_t>(static_cast<const uint16_t*>(data)[i]) << 16;
    float value = 0.0f;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }
};

/// The smallest block: packed formats store one scale per 32 k whatever the block.
constexpr size_t kScaleGroup = 32;

/// Checks the block size against K and every scale of N channels.
inline Status validate_block_scales(const BlockScales& s, size_t n, size_t k, const char* op) {
  if (s.block == 0 || s.block % kScaleGroup != 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: block size %zu is not a positive multiple of 32", op, s.block);
  }
  if (k % s.block != 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: K=%zu is not a multiple of the block size %zu", op, k, s.block);
  }
  if (s.type != ScaleType::kF32 && s.type != ScaleType::kBF16) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown ScaleType %d", op,
                         static_cast<int>(s.type));
  }
  if (s.data == nullptr) return Status::error(StatusCode::kNullPointer, "%s: scales are null", op);
  const bool aligned = s.type == ScaleType::kF32
                           ? is_element_aligned(static_cast<const float*>(s.data))
                           : is_element_aligned(static_cast<const uint16_t*>(s.data));
  if (!aligned) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: scales are not aligned to their elements", op);
  }
  if (s.ld < k / s.block) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: scales' ld (%zu) is smaller than the %zu blocks of a channel", op,
                         s.ld, k / s.block);
  }
  // The scales span (n - 1) * ld + K / block elements: checked before at() indexes them
  // (an ld near SIZE_MAX / n would otherwise wrap to a wild pointer).
  size_t elements = 0;
  const size_t element_bytes = s.type == ScaleType::kF32 ? sizeof(float) : sizeof(uint16_t);
  if (n == 0 || !checked_extent(n, k / s.block, s.ld, element_bytes, &elements)) {
    return Status::error(StatusCode::kSizeOverflow,
                         "%s: scales of %zu channels with ld %zu overflow size_t", op, n, s.ld);
  }
  for (size_t j = 0; j < n; ++j) {
    for (size_t kk = 0; kk < k; kk += s.block) {
      const float v = s.at(j, kk);
      if (!(std::isfinite(v) && v > 0.0f)) {
        return Status::error(StatusCode::kInvalidArgument,
                             "%s: scale of channel %zu, block %zu (%g) must be finite and > 0", op,
                             j, kk / s.block, static_cast<double>(v));
      }
    }
  }
  return Status();
}

}  // namespace sme2k
