// f16 storage conversions: all 65,536 patterns to f32, and f32 to f16 against two
// independent references: a nearest-value search over the table of every f16 (any host),
// and the hardware FCVT through __fp16 (aarch64).
#include "sme2k/types/f16.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace sme2k {
namespace {

uint32_t bits_of(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
float float_of(uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// The value of an f16 pattern from its definition, in double.
double f16_value(uint16_t h) {
  const int sign = (h & 0x8000) != 0 ? -1 : 1;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  if (exponent == 0x1f) {
    return mantissa == 0 ? sign * std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::quiet_NaN();
  }
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

// Round-to-nearest-even by searching the (increasing) table of non-negative finite f16.
uint16_t f16_nearest(float x) {
  static const std::vector<double> table = [] {
    std::vector<double> t;
    for (uint16_t h = 0; h <= 0x7bff; ++h) t.push_back(f16_value(h));
    return t;
  }();
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(x));
  if (a >= 65520.0) return sign | 0x7c00;  // halfway between 65504 and 2^16 rounds to even: inf
  const auto hi = std::lower_bound(table.begin(), table.end(), a);
  if (hi == table.begin()) return sign;
  const auto lo = hi - 1;
  const auto lo_bits = static_cast<uint16_t>(lo - table.begin());
  const auto hi_bits = static_cast<uint16_t>(hi - table.begin());
  if (hi == table.end()) return sign | lo_bits;  // (65504, 65520): rounds down to 65504
  if (*hi == a) return sign | hi_bits;
  const double below = a - *lo, above = *hi - a;
  if (below < above) return sign | lo_bits;
  if (above < below) return sign | hi_bits;
  return sign | ((lo_bits & 1) == 0 ? lo_bits : hi_bits);
}

// The public conversions and the integer versions behind them on non-aarch64 targets.
using ToF32 = float (*)(uint16_t);
using ToF16 = uint16_t (*)(float);
const ToF32 kToF32[] = {f16_bits_to_f32, detail::f16_bits_to_f32_portable};
const ToF16 kToF16[] = {f32_to_f16_bits, detail::f32_to_f16_bits_portable};

TEST(F16, EveryPatternToF32) {
  for (ToF32 f16_bits_to_f32 : kToF32) {
    for (uint32_t h = 0; h <= 0xffff; ++h) {
      const float got = f16_bits_to_f32(static_cast<uint16_t>(h));
      const double want = f16_value(static_cast<uint16_t>(h));
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(got)) << std::hex << h;
        // NaN stays NaN of the same sign, quietened (as FCVT does), payload kept.
        ASSERT_EQ((bits_of(got) >> 13) & 0x3ff, (h & 0x3ff) | 0x200) << std::hex << h;
        ASSERT_EQ(bits_of(got) >> 31, h >> 15) << std::hex << h;
      } else {
        ASSERT_EQ(static_cast<double>(got), want) << std::hex << h;
        ASSERT_EQ(std::signbit(got), (h & 0x8000) != 0) << std::hex << h;
      }
    }
  }
}

TEST(F16, RoundTripsEveryPattern) {
  for (size_t v = 0; v < 2; ++v) {
    const ToF32 f16_bits_to_f32 = kToF32[v];
    const ToF16 f32_to_f16_bits = kToF16[v];
    for (uint32_t h = 0; h <= 0xffff; ++h) {
      const auto b = static_cast<uint16_t>(h);
      const uint16_t back = f32_to_f16_bits(f16_bits_to_f32(b));
      if (std::isnan(f16_value(b))) {
        ASSERT_EQ(back, b | 0x0200) << std::hex << h;  // quietened, payload kept
      } else {
        ASSERT_EQ(back, b) << std::hex << h;
      }
    }
  }
}

// Inputs that decide rounding: every f16 value, its float neighbours, the exact midpoints
// between consecutive f16 values and their neighbours, plus a sweep of all exponents.
std::vector<float> interesting_floats() {
  std::vector<float> xs;
  for (uint16_t h = 0; h < 0x7c00; ++h) {
    const auto v = static_cast<float>(f16_value(h));
    const float mid =
        static_cast<float>((f16_value(h) + f16_value(static_cast<uint16_t>(h + 1))) / 2);
    for (float x : {v, mid}) {
      xs.push_back(x);
      xs.push_back(std::nextafter(x, 0.0f));
      xs.push_back(std::nextafter(x, std::numeric_limits<float>::infinity()));
    }
  }
  for (uint32_t b = 0; b < 0x7f800000u; b += 0x00012345u) xs.push_back(float_of(b));
  for (float x :
       {0.0f, 65504.0f, 65519.99f, 65520.0f, 65536.0f, 1e30f, std::numeric_limits<float>::max(),
        std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::infinity(),
        5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f}) {
    xs.push_back(x);
  }
  const size_t positive = xs.size();
  for (size_t i = 0; i < positive; ++i) xs.push_back(-xs[i]);
  return xs;
}

TEST(F16, F32ToF16RoundsToNearestEven) {
  for (ToF16 f32_to_f16_bits : kToF16) {
    for (float x : interesting_floats()) {
      ASSERT_EQ(f32_to_f16_bits(x), f16_nearest(x)) << x << " bits " << std::hex << bits_of(x);
    }
  }
}

TEST(F16, NanStaysNan) {
  for (ToF16 f32_to_f16_bits : kToF16) {
    for (uint32_t payload : {0x400000u, 0x000001u, 0x7fffffu, 0x2000u, 0x1fffu}) {
      for (uint32_t sign : {0u, 0x80000000u}) {
        const float nan = float_of(sign | 0x7f800000u | payload);
        const uint16_t h = f32_to_f16_bits(nan);
        EXPECT_EQ(h & 0x7e00, 0x7e00) << std::hex << payload;  // a quiet NaN
        EXPECT_EQ(h >> 15, sign >> 31);
      }
    }
  }
}

#if defined(__aarch64__)
// The hardware conversion (FCVT) is the contract the SME2 kernels will rely on.
TEST(F16, MatchesHardwareConversion) {
  for (float x : interesting_floats()) {
    const __fp16 hw = static_cast<__fp16>(x);
    uint16_t want;
    std::memcpy(&want, &hw, sizeof want);
    ASSERT_EQ(detail::f32_to_f16_bits_portable(x), want) << x;
  }
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    __fp16 v;
    const auto b = static_cast<uint16_t>(h);
    std::memcpy(&v, &b, sizeof v);
    ASSERT_EQ(bits_of(detail::f16_bits_to_f32_portable(b)), bits_of(static_cast<float>(v)))
        << std::hex << h;
  }
  for (uint32_t payload : {0x400000u, 0x000001u, 0x7fffffu, 0x3fe000u}) {
    const float nan = float_of(0x7f800000u | payload);
    const __fp16 hw = static_cast<__fp16>(nan);
    uint16_t want;
    std::memcpy(&want, &hw, sizeof want);
    EXPECT_EQ(detail::f32_to_f16_bits_portable(nan), want) << std::hex << payload;
  }
}
#endif

}  // namespace
}  // namespace sme2k
