// 4-bit weights as a caller holds them, before packing.
//
// Runtimes store int4 weights either two per byte (ONNX Runtime MatMulNBits, XNNPACK qc4w,
// PyTorch's packed int4) or one per byte as int8 values (right after quantizing). Both read
// through one view; packing accepts either, in either layout (K x N or N x K, as RhsLayout).
//
// Nibble storage, one row of the view (`cols` values, row r at data + r * ld bytes):
//
//   byte:    0                     1                     ...  cols/2 - 1
//   bits:    7..4      3..0        7..4      3..0
//   value:   v[1]      v[0]        v[3]      v[2]             low nibble = even index
//
// Each nibble is a two's-complement value in -8..7 (0x8 = -8, 0xF = -1). `cols` must be even:
// a row never shares a byte with the next one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/types/layout.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {

enum class Int4Storage : uint8_t {
  kNibbles = 1,  ///< two values per byte, low nibble first
  kInt8 = 2,     ///< one value per byte, int8 in -8..7
};

/// Value c of a row of nibbles (low nibble first), sign-extended from 4 bits: -8..7.
constexpr int8_t int4_nibble_value(const uint8_t* row, size_t c) {
  const unsigned nibble = (row[c / 2] >> (4 * (c % 2))) & 0xFu;
  return static_cast<int8_t>(static_cast<int>(nibble ^ 8u) - 8);
}

/// A rows x cols matrix of 4-bit values. `ld` is in bytes.
struct Int4View {
  const void* data = nullptr;
  size_t rows = 0, cols = 0;
  size_t ld = 0;
  Int4Storage storage = Int4Storage::kNibbles;

  /// Bytes one row of values occupies.
  size_t row_bytes() const { return storage == Int4Storage::kNibbles ? cols / 2 : cols; }

  /// The value at (r, c), in -8..7.
  int8_t operator()(size_t r, size_t c) const {
    const auto* row = static_cast<const uint8_t*>(data) + r * ld;
    return storage == Int4Storage::kInt8 ? static_cast<int8_t>(row[c]) : int4_nibble_value(row, c);
  }
};

namespace detail {

/// Calls f(at), at(k, n) -> int the value of B (b read as `layout` says) at row k, column n
/// of the K x N weights, with the storage and layout branches taken here once instead of per
/// element, so packing loops over `at` run (and unroll) branch-free.
template <class F>
decltype(auto) with_int4_reader(const Int4View& b, RhsLayout layout, F&& f) {
  const auto* data = static_cast<const uint8_t*>(b.data);
  const size_t ld = b.ld;
  if (b.storage == Int4Storage::kInt8) {
    if (layout == RhsLayout::kKxN) {
      return f([=](size_t k, size_t n) -> int { return static_cast<int8_t>(data[k * ld + n]); });
    }
    return f([=](size_t k, size_t n) -> int { return static_cast<int8_t>(data[n * ld + k]); });
  }
  if (layout == RhsLayout::kKxN) {
    return f([=](size_t k, size_t n) -> int { return int4_nibble_value(data + k * ld, n); });
  }
  return f([=](size_t k, size_t n) -> int { return int4_nibble_value(data + n * ld, k); });
}

constexpr int8_t nibble_pair_sum(unsigned byte) {
  return static_cast<int8_t>(static_cast<int>((byte & 0xFu) ^ 8u) - 8 +
                             static_cast<int>((byte >> 4) ^ 8u) - 8);
}
struct NibblePairSums {
  int8_t sum[256];
  constexpr NibblePairSums() : sum() {
    for (unsigned b = 0; b < 256; ++b) sum[b] = nibble_pair_sum(b);
  }
  constexpr int8_t operator[](unsigned byte) const { return sum[byte]; }
};
}  // namespace detail

/// The sum of the two 4-bit values of a nibble-packed byte (a table: packers sum columns
/// byte by byte).
inline constexpr detail::NibblePairSums kNibblePairSum{};

/// Checks an Int4View: sizes, null data, known storage, even rows of nibbles, ld, byte span;
/// for int8 storage every value in -8..7.
inline Status validate_int4(const Int4View& b, const char* op) {
  if (b.rows == 0 || b.cols == 0) {
    return Status::error(StatusCode::kInvalidArgument, "%s: 4-bit B is %zu x %zu", op, b.rows,
                         b.cols);
  }
  if (b.data == nullptr) return Status::error(StatusCode::kNullPointer, "%s: B is null", op);
  if (b.storage != Int4Storage::kNibbles && b.storage != Int4Storage::kInt8) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown Int4Storage %d", op,
                         static_cast<int>(b.storage));
  }
  if (b.storage == Int4Storage::kNibbles && b.cols % 2 != 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: nibble-packed rows need an even number of values (%zu)", op, b.cols);
  }
  if (b.ld < b.row_bytes()) {
    return Status::error(StatusCode::kInvalidArgument, "%s: B's ld (%zu bytes) < its row (%zu)", op,
                         b.ld, b.row_bytes());
  }
  size_t span = 0;
  if (!checked_mul(b.rows - 1, b.ld, &span) || !checked_add(span, b.row_bytes(), &span) ||
      span > static_cast<size_t>(PTRDIFF_MAX)) {
    return Status::error(StatusCode::kSizeOverflow, "%s: B's byte span overflows", op);
  }
  if (b.storage == Int4Storage::kInt8) {
    for (size_t r = 0; r < b.rows; ++r) {
      for (size_t c = 0; c < b.cols; ++c) {
        const int8_t v = b(r, c);
        if (v < -8 || v > 7) {
          return Status::error(StatusCode::kInvalidArgument,
                               "%s: B(%zu, %zu) = %d is not a 4-bit value (-8..7)", op, r, c, v);
        }
      }
    }
  }
  return Status();
}

/// The bytes [begin, end) an Int4View spans (after validate_int4()).
inline void int4_bytes(const Int4View& b, uintptr_t* begin, uintptr_t* end) {
  *begin = reinterpret_cast<uintptr_t>(b.data);
  *end = *begin + (b.rows - 1) * b.ld + b.row_bytes();
}

}  // namespace sme2k
