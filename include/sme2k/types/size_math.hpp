// Overflow-checked size arithmetic for validation at the door: every product of sizes a
// caller gives is checked before anything is indexed or allocated with it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sme2k {

/// *out = a * b; false when it does not fit in size_t.
inline bool checked_mul(size_t a, size_t b, size_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

/// *out = a + b; false when it does not fit in size_t.
inline bool checked_add(size_t a, size_t b, size_t* out) {
  return !__builtin_add_overflow(a, b, out);
}

/// a / b rounded up, without the overflow of (a + b - 1) / b near SIZE_MAX.
constexpr size_t ceil_div(size_t a, size_t b) { return a / b + (a % b != 0 ? 1 : 0); }
/// a rounded up to a multiple of b; callers check that it fits (see checked_* above).
constexpr size_t round_up(size_t a, size_t b) { return ceil_div(a, b) * b; }

/// Elements spanned by a rows x cols matrix with leading dimension ld: (rows - 1) * ld + cols.
/// False when that, or its size in bytes of `element_bytes`, does not fit (or exceeds
/// PTRDIFF_MAX, the most any object can hold). Assumes rows, cols > 0.
inline bool checked_extent(size_t rows, size_t cols, size_t ld, size_t element_bytes,
                           size_t* elements) {
  size_t span = 0;
  size_t bytes = 0;
  if (!checked_mul(rows - 1, ld, &span) || !checked_add(span, cols, &span) ||
      !checked_mul(span, element_bytes, &bytes) || bytes > static_cast<size_t>(PTRDIFF_MAX)) {
    return false;
  }
  *elements = span;
  return true;
}

}  // namespace sme2k
