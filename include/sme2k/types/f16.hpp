// IEEE 754 binary16 as a storage type: no arithmetic, only conversions.
//
// sme2k keeps f16 tensors as 16-bit patterns so the same API compiles on every compiler and
// target (x86-64 and GCC included); kernels reinterpret them as float16 vectors. The
// conversions round to nearest even and keep NaN, infinities and subnormals, exactly as the
// hardware FCVT does (which aarch64 builds use): the tests compare the integer version with
// it on all 65,536 patterns and every rounding boundary.
#pragma once

#include <cstdint>
#include <cstring>

namespace sme2k {

struct f16 {
  uint16_t bits = 0;

  static constexpr f16 from_bits(uint16_t b) { return f16{b}; }
  friend constexpr bool operator==(f16 a, f16 b) { return a.bits == b.bits; }
  friend constexpr bool operator!=(f16 a, f16 b) { return a.bits != b.bits; }
};
static_assert(sizeof(f16) == 2, "f16 must be two bytes: it is stored in packed buffers");

namespace detail {

// The conversions written out in integer arithmetic, for every target.
inline uint16_t f32_to_f16_bits_portable(float value) {
  uint32_t x;
  std::memcpy(&x, &value, sizeof x);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) {  // NaN: quiet it, keep the top payload bits
    return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x1ffu));
  }
  if (a >= 0x47800000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 2^16: infinity
  if (a >= 0x38800000u) {  // >= 2^-14: a normal f16 (or, after rounding, infinity)
    const uint32_t exponent = (a >> 23) - 127 + 15;
    uint32_t h = (exponent << 10) | ((a & 0x7fffffu) >> 13);
    const uint32_t rest = a & 0x1fffu;                         // the 13 bits dropped
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry bumps the exponent
    return static_cast<uint16_t>(sign | h);
  }
  if (a <= 0x33000000u) return sign;  // <= 2^-25: rounds to (signed) zero
  // A subnormal f16 counts units of 2^-24: shift the full significand down to that unit.
  const uint32_t significand = (a & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - (a >> 23);  // 14..24
  uint32_t h = significand >> shift;
  const uint32_t rest = significand & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

inline float f16_bits_to_f32_portable(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t x;
  if (exponent == 0x1f && mantissa != 0) {  // NaN: quiet it (as FCVT does), keep the payload
    x = sign | 0x7fc00000u | (mantissa << 13);
  } else if (exponent == 0x1f) {
    x = sign | 0x7f800000u;
  } else if (exponent != 0) {
    x = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    x = sign;
  } else {  // subnormal: normalise the significand
    exponent = 1;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    x = sign | ((exponent + 112) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float value;
  std::memcpy(&value, &x, sizeof value);
  return value;
}

}  // namespace detail

// aarch64 has the conversion in hardware (FCVT), with the same results: use it there.
inline uint16_t f32_to_f16_bits(float value) {
#if defined(__aarch64__)
  const __fp16 h = static_cast<__fp16>(value);
  uint16_t bits;
  std::memcpy(&bits, &h, sizeof bits);
  return bits;
#else
  return detail::f32_to_f16_bits_portable(value);
#endif
}

inline float f16_bits_to_f32(uint16_t bits) {
#if defined(__aarch64__)
  __fp16 h;
  std::memcpy(&h, &bits, sizeof h);
  return static_cast<float>(h);
#else
  return detail::f16_bits_to_f32_portable(bits);
#endif
}

inline f16 to_f16(float value) { return f16::from_bits(f32_to_f16_bits(value)); }
inline float to_f32(f16 value) { return f16_bits_to_f32(value.bits); }
inline float to_f32(float value) { return value; }

/// Conversions between the element types sme2k stores (f32, f16), rounding to nearest even.
template <class To>
To convert_to(float value);
template <>
inline float convert_to<float>(float value) {
  return value;
}
template <>
inline f16 convert_to<f16>(float value) {
  return to_f16(value);
}

}  // namespace sme2k
