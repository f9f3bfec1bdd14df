// ggml/GGUF Q4_0 weights as llama.cpp holds them, read where they lie: N rows of K / 32 blocks,
// row-major; each block an f16 scale d, then 16 bytes of 32 weights:
//
//   byte  0   1   2        3        ...  17
//        [d lo d hi][q0|q16 ][q1|q17 ] ... [q15|q31]     low nibble: weight j < 16,
//                                                         high nibble: weight 16 + j
//   value = (nibble - 8) * d
//
// QD8QB4W packs them exactly (block 32, f16 scales exact in f32): formats with a byte-wise
// packer (kPacksQ4_0) take the rows byte to byte, others value by value through this view.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sme2k/types/block_scales.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {

/// Bytes of one Q4_0 block: the f16 scale and 16 bytes of nibbles.
constexpr size_t kQ4_0BlockBytes = 18;

/// Formats with a byte-wise packer for Q4_0 rows (pack_q4_0_rows).
template <class F, class = void>
inline constexpr bool kPacksQ4_0Rows = false;
template <class F>
inline constexpr bool kPacksQ4_0Rows<F, std::void_t<decltype(&F::kPacksQ4_0)>> = true;

/// N rows of K Q4_0 weights at `blocks` (after validate()).
struct GgufQ4_0Rows {
  const uint8_t* blocks;
  size_t n, k;
  size_t row_bytes;  // K / 32 blocks

  /// Checks the shape and every block's scale (finite, > 0); sets row_bytes.
  Status validate(const char* op) {
    if (blocks == nullptr)
      return Status::error(StatusCode::kNullPointer, "%s: blocks are null", op);
    if (n == 0 || k == 0 || k % kScaleGroup != 0) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: N=%zu, K=%zu: both >= 1 and K a multiple of 32", op, n, k);
    }
    size_t all = 0;
    if (!checked_mul(k / kScaleGroup, kQ4_0BlockBytes, &row_bytes) ||
        !checked_mul(row_bytes, n, &all)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: N x K overflows", op);
    }
    for (size_t j = 0; j < n; ++j) {
      for (size_t kk = 0; kk < k; kk += kScaleGroup) {
        const float d = scale(j, kk);
        if (!(std::isfinite(d) && d > 0.0f)) {
          return Status::error(StatusCode::kInvalidArgument,
                               "%s: scale of row %zu, block %zu (%g) must be finite and > 0", op, j,
                               kk / kScaleGroup, static_cast<double>(d));
        }
      }
    }
    return Status();
  }

  /// Bytes the rows span (after validate()).
  size_t bytes() const { return row_bytes * n; }

  const uint8_t* block_at(size_t j, size_t kk) const {
    return blocks + j * row_bytes + kk / kScaleGroup * kQ4_0BlockBytes;
  }
  /// The scale d of weight (row j, kk).
  float scale(size_t j, size_t kk) const {
    const uint8_t* block = block_at(j, kk);
    return f16_bits_to_f32(static_cast<uint16_t>(block[0] | block[1] << 8));
  }
  /// The value of weight kk of row j: its nibble minus 8.
  int value(size_t j, size_t kk) const {
    const uint8_t* qs = block_at(j, kk) + 2;
    const size_t i = kk % kScaleGroup;
    const unsigned nibble = i < 16 ? qs[i] & 0xFu : static_cast<unsigned>(qs[i - 16] >> 4);
    return static_cast<int>(nibble) - 8;
  }

  /// Packs the validated rows into Format (a QB4W format), with an optional f32 bias.
  template <class Format>
  void pack(const float* bias, size_t vl, void* payload) const {
    const auto d = [&](size_t j, size_t kk) { return scale(j, kk); };
    if constexpr (kPacksQ4_0Rows<Format>) {  // byte to byte
      Format::pack_q4_0_rows(n, k, blocks, row_bytes, d, bias, vl, payload);
    } else {
      Format::pack(n, k, [&](size_t kk, size_t j) { return value(j, kk); }, d, bias, vl, payload);
    }
  }
};

}  // namespace sme2k
