// sme2k-run's data module: buffers, the random data every verb makes before the region, and
// the checking helpers. insn-mix logs every block executed outside the region too, so all of
// it must be cheap in executed instructions: data come from a vectorizable integer hash, and
// large results are checked on a deterministic sample instead of by the full f64 reference.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <type_traits>

#include "sme2k/sme2k.hpp"

namespace sme2k_run {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
template <class T>
using Buffer = std::unique_ptr<T[], FreeDeleter>;

/// `bytes` (at least 1), 64-byte aligned, uninitialized; exits when out of memory.
void* allocate_bytes(size_t bytes);

/// `count` elements, 64-byte aligned, uninitialized (zeroing would cost instructions).
template <class T>
Buffer<T> allocate(size_t count) {
  return Buffer<T>(static_cast<T*>(allocate_bytes(count * sizeof(T))));
}

/// Elements a rows x cols matrix with leading dimension ld spans; exits on size_t overflow.
size_t matrix_extent(size_t rows, size_t cols, size_t ld);

/// Values in [-1, 1) (24 significant bits) from an integer hash of (seed, index): no loop-carried
/// state, so the loop vectorizes and costs a few instructions per element.
void fill_random(float* dst, size_t count, uint32_t seed, size_t first_index);

/// A rows x cols matrix with leading dimension ld: random values, NaN in the row padding so a
/// kernel that reads past `cols` shows up as a wrong result.
Buffer<float> random_matrix(size_t rows, size_t cols, size_t ld, uint32_t seed);

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

/// `values` scaled by `max` and truncated to int8 (NaN padding: 0).
Buffer<int8_t> to_int8(const float* values, size_t count, float max);

/// 4-bit values (int8 in [-8, 7], rows x cols, leading dimension ld) as nibbles, two a byte,
/// low nibble first, `ld_bytes` a row; the rest of each row is `fill`.
Buffer<uint8_t> to_nibbles(const int8_t* values, size_t rows, size_t cols, size_t ld,
                           size_t ld_bytes, uint8_t fill);

/// Per-channel QC8W/QC4W weight scales: 0.004 x (1 + (j mod 17) / 16).
Buffer<float> channel_scales(size_t n);

/// Collects comparisons of results with the reference; prints the first few that are off.
class Verifier {
 public:
  void expect_near(size_t i, size_t j, double got, double want, double bound);
  void expect_untouched(size_t i, size_t j, float value);
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
