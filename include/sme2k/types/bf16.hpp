// bfloat16 as a storage type: no arithmetic, only conversions (as types/f16.hpp for f16).
// bf16 is the top half of an f32: widening is a shift, narrowing rounds to nearest even and
// quiets NaN, exactly what SME2's BFCVT does (which the SME2 epilogue uses), so every path
// writes the same bits.
#pragma once

#include <cstdint>
#include <cstring>

#include "sme2k/types/f16.hpp"

namespace sme2k {

struct bf16 {
  uint16_t bits = 0;

  static constexpr bf16 from_bits(uint16_t b) { return bf16{b}; }
  friend constexpr bool operator==(bf16 a, bf16 b) { return a.bits == b.bits; }
  friend constexpr bool operator!=(bf16 a, bf16 b) { return a.bits != b.bits; }
};
static_assert(sizeof(bf16) == 2, "bf16 must be two bytes: it is stored in packed buffers");

inline uint16_t f32_to_bf16_bits(float value) {
  uint32_t x;
  std::memcpy(&x, &value, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u) {  // NaN: quiet it, keep the top payload bits
    return static_cast<uint16_t>((x >> 16) | 0x0040u);
  }
  const uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);  // to nearest, ties to even
  return static_cast<uint16_t>((x + rounding) >> 16);
}

inline float bf16_bits_to_f32(uint16_t bits) {
  const uint32_t x = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &x, sizeof value);
  return value;
}

inline bf16 to_bf16(float value) { return bf16::from_bits(f32_to_bf16_bits(value)); }
inline float to_f32(bf16 value) { return bf16_bits_to_f32(value.bits); }

template <>
inline bf16 convert_to<bf16>(float value) {
  return to_bf16(value);
}

}  // namespace sme2k
