// sme2k-run's data module (header-only, so each verb's region compiles as it did in one
// file): buffers, the random data every verb makes before the region, and
// the checking helpers. insn-mix logs every block executed outside the region too, so all of
// it must be cheap in executed instructions: data come from a vectorizable integer hash, and
// large results are checked on a deterministic sample instead of by the full f64 reference.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <numeric>
#include <type_traits>

#include "run/options.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k_run {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
template <class T>
using Buffer = std::unique_ptr<T[], FreeDeleter>;

/// `count` elements, 64-byte aligned, uninitialized (zeroing would cost instructions).
template <class T>
Buffer<T> allocate(size_t count) {
  const size_t bytes = std::max<size_t>(count * sizeof(T), 1);
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr) {
    std::fprintf(stderr, "sme2k-run: cannot allocate %zu bytes\n", bytes);
    std::exit(kExitFailure);
  }
  return Buffer<T>(static_cast<T*>(p));
}

/// Elements a rows x cols matrix with leading dimension ld spans; exits on size_t overflow.
inline size_t matrix_extent(size_t rows, size_t cols, size_t ld) {
  size_t extent = 0;
  if (__builtin_mul_overflow(rows - 1, ld, &extent) ||
      __builtin_add_overflow(extent, cols, &extent) || extent > SIZE_MAX / 16) {
    std::fprintf(stderr, "sme2k-run: a %zu x %zu matrix with ld %zu is too large\n", rows, cols,
                 ld);
    std::exit(kExitFailure);
  }
  return extent;
}

/// Values in [-1, 1) (24 significant bits) from an integer hash of (seed, index): no loop-carried
/// state, so the loop vectorizes and costs a few instructions per element.
inline void fill_random(float* dst, size_t count, uint32_t seed, size_t first_index) {
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

/// A rows x cols matrix with leading dimension ld: random values, NaN in the row padding so a
/// kernel that reads past `cols` shows up as a wrong result.
inline Buffer<float> random_matrix(size_t rows, size_t cols, size_t ld, uint32_t seed) {
  Buffer<float> m = allocate<float>(matrix_extent(rows, cols, ld));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (size_t r = 0; r < rows; ++r) {
    fill_random(m.get() + r * ld, cols, seed, r * cols);
    if (r + 1 < rows && ld > cols) std::fill(m.get() + r * ld + cols, m.get() + (r + 1) * ld, nan);
  }
  return m;
}

/// `values` rounded to T and back (NaN padding stays NaN), and the T copy.
template <class T>
Buffer<T> stored_as(Buffer<float>* values, size_t count) {
  if constexpr (std::is_same_v<T, float>) {
    Buffer<float> copy = allocate<float>(count);
    std::copy(values->get(), values->get() + count, copy.get());
    return copy;
  } else {
    Buffer<T> stored = allocate<T>(count);
    for (size_t i = 0; i < count; ++i) {
      stored[i] = sme2k::convert_to<T>((*values)[i]);
      (*values)[i] = sme2k::to_f32(stored[i]);
    }
    return stored;
  }
}

/// Collects comparisons of results with the reference; prints the first few that are off.
class Verifier {
 public:
  void expect_near(size_t i, size_t j, double got, double want, double bound) {
    ++checked_;
    if (std::fabs(got - want) <= bound) return;  // false for NaN too
    if (++failed_ <= kShown) {
      std::fprintf(stderr, "mismatch at (i=%zu, j=%zu): got %.9g, want %.9g, bound %.3g\n", i, j,
                   got, want, bound);
    }
  }
  void expect_untouched(size_t i, size_t j, float value) {
    if (std::isnan(value)) return;
    if (++failed_ <= kShown) {
      std::fprintf(stderr, "C padding at (i=%zu, j=%zu) overwritten with %.9g\n", i, j,
                   static_cast<double>(value));
    }
  }
  size_t checked() const { return checked_; }
  size_t failed() const { return failed_; }

 private:
  static constexpr size_t kShown = 10;
  size_t checked_ = 0;
  size_t failed_ = 0;
};

/// Calls check(i, j) on the edges of an m x n result (first and last row, first and last
/// column: where tile tails are; along each edge every element within 64 of its ends, where
/// the tails of 2VL..4VL panels fall at any SVL up to 2048 bits, and every 16th between) and
/// 512 distinct interior elements on a walk whose stride is coprime with their count. Why
/// not more: the cycle model traces every block QEMU runs, and a reference element costs K
/// multiply-adds of traced scalar code, the verification outweighed the op itself.
template <class Check>
void for_sample(size_t m, size_t n, Check&& check) {
  const auto on_edge = [](size_t x, size_t len) { return x < 64 || x + 64 >= len || x % 16 == 0; };
  for (size_t j = 0; j < n; ++j) {
    if (!on_edge(j, n)) continue;
    check(0, j);
    if (m > 1) check(m - 1, j);
  }
  for (size_t i = 1; i + 1 < m; ++i) {
    if (!on_edge(i, m)) continue;
    check(i, 0);
    if (n > 1) check(i, n - 1);
  }
  if (m < 3 || n < 3) return;
  const size_t rows = m - 2, cols = n - 2, interior = rows * cols;
  size_t stride = static_cast<size_t>(static_cast<double>(interior) * 0.6180339887) | 1;
  while (std::gcd(stride, interior) != 1) ++stride;
  const size_t samples = std::min<size_t>(512, interior);
  for (size_t t = 0, x = interior / 3; t < samples; ++t, x = (x + stride) % interior) {
    check(1 + x / cols, 1 + x % cols);
  }
}

}  // namespace sme2k_run
