// sme2k-run's data module (data.hpp).
#include "run/data.hpp"

#include <cstdio>
#include <limits>

#include "run/options.hpp"

namespace sme2k_run {

void* allocate_bytes(size_t bytes) {
  bytes = std::max<size_t>(bytes, 1);
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr) {
    std::fprintf(stderr, "sme2k-run: cannot allocate %zu bytes\n", bytes);
    std::exit(kExitFailure);
  }
  return p;
}

size_t matrix_extent(size_t rows, size_t cols, size_t ld) {
  size_t extent = 0;
  if (__builtin_mul_overflow(rows - 1, ld, &extent) ||
      __builtin_add_overflow(extent, cols, &extent) || extent > SIZE_MAX / 16) {
    std::fprintf(stderr, "sme2k-run: a %zu x %zu matrix with ld %zu is too large\n", rows, cols,
                 ld);
    std::exit(kExitFailure);
  }
  return extent;
}

void fill_random(float* dst, size_t count, uint32_t seed, size_t first_index) {
  const uint32_t salt = seed * 0x9e3779b9u + 0x7f4a7c15u;
  const auto base = static_cast<uint32_t>(first_index);
  for (size_t i = 0; i < count; ++i) {
    uint32_t x = (base + static_cast<uint32_t>(i)) ^ salt;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    dst[i] = static_cast<float>(static_cast<int32_t>(x) >> 8) * 0x1p-23f;
  }
}

Buffer<float> random_matrix(size_t rows, size_t cols, size_t ld, uint32_t seed) {
  Buffer<float> m = allocate<float>(matrix_extent(rows, cols, ld));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (size_t r = 0; r < rows; ++r) {
    fill_random(m.get() + r * ld, cols, seed, r * cols);
    if (r + 1 < rows && ld > cols) std::fill(m.get() + r * ld + cols, m.get() + (r + 1) * ld, nan);
  }
  return m;
}

Buffer<int8_t> to_int8(const float* values, size_t count, float max) {
  Buffer<int8_t> q = allocate<int8_t>(count);
  for (size_t i = 0; i < count; ++i) {
    q[i] = std::isnan(values[i]) ? int8_t{0} : static_cast<int8_t>(values[i] * max);
  }
  return q;
}

Buffer<uint8_t> to_nibbles(const int8_t* values, size_t rows, size_t cols, size_t ld,
                           size_t ld_bytes, uint8_t fill) {
  Buffer<uint8_t> nibbles = allocate<uint8_t>(rows * ld_bytes);
  std::fill(nibbles.get(), nibbles.get() + rows * ld_bytes, fill);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c + 1 < cols; c += 2) {
      const auto lo = static_cast<unsigned>(values[r * ld + c]) & 0xFu;
      const auto hi = static_cast<unsigned>(values[r * ld + c + 1]) & 0xFu;
      nibbles[r * ld_bytes + c / 2] = static_cast<uint8_t>(lo | hi << 4);
    }
  }
  return nibbles;
}

Buffer<float> channel_scales(size_t n) {
  Buffer<float> scales = allocate<float>(n);
  for (size_t j = 0; j < n; ++j) scales[j] = 0.004f * (1.0f + static_cast<float>(j % 17) / 16.0f);
  return scales;
}

void Verifier::expect_near(size_t i, size_t j, double got, double want, double bound) {
  ++checked_;
  if (std::fabs(got - want) <= bound) return;  // false for NaN too
  if (++failed_ <= kShown) {
    std::fprintf(stderr, "mismatch at (i=%zu, j=%zu): got %.9g, want %.9g, bound %.3g\n", i, j, got,
                 want, bound);
  }
}

void Verifier::expect_untouched(size_t i, size_t j, float value) {
  if (std::isnan(value)) return;
  if (++failed_ <= kShown) {
    std::fprintf(stderr, "C padding at (i=%zu, j=%zu) overwritten with %.9g\n", i, j,
                 static_cast<double>(value));
  }
}

}  // namespace sme2k_run
