// The per-channel parameters in front of each panel of packed int8 weights (QS8's folded bias
// and requantization scale, QD8's column sum, scale and bias) all start from the same pass:
// every column's sum of weights, written as the params the variant makes of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/layout.hpp"
#include "sme2k/types/matrix_view.hpp"

namespace sme2k {

/// Writes make(n) as the n-th Format::BiasElement in front of its panel, for the N output
/// channels of weights of depth k.
template <class Format, class Make>
void write_channel_params(size_t n, size_t k, size_t vl, void* payload, Make&& make) {
  using Params = typename Format::BiasElement;
  const size_t width = Format::nr(vl);
  for (size_t n0 = 0, p = 0; n0 < n; n0 += width, ++p) {
    auto* params = reinterpret_cast<uint8_t*>(payload) + p * Format::panel_bytes(k, vl);
    for (size_t j = 0; j < width && n0 + j < n; ++j) {
      const Params value = make(n0 + j);
      std::memcpy(params + j * sizeof value, &value, sizeof value);
    }
  }
}

/// Calls ok(n, params) for the N output channels' Format::BiasElement in a payload of
/// weights of depth k (as write_channel_params() placed them), stopping at the first false;
/// returns the channel it stopped at, or n.
template <class Format, class Ok>
size_t find_bad_channel_param(size_t n, size_t k, size_t vl, const void* payload, Ok&& ok) {
  using Params = typename Format::BiasElement;
  const size_t width = Format::nr(vl);
  for (size_t n0 = 0, p = 0; n0 < n; n0 += width, ++p) {
    const auto* params = static_cast<const uint8_t*>(payload) + p * Format::panel_bytes(k, vl);
    for (size_t j = 0; j < width && n0 + j < n; ++j) {
      Params value;
      std::memcpy(&value, params + j * sizeof value, sizeof value);
      if (!ok(n0 + j, value)) return n0 + j;
    }
  }
  return n;
}

/// For each output channel n of an N x K B whose weight (k, n) is at(k, n), writes
/// make(n, sum_k B[k][n]) as the n-th Format::BiasElement in front of its panel. The weights
/// part of the panels is packed separately (Format::pack).
template <class Format, class At, class Make>
void write_channel_params(size_t n, size_t k, At&& at, size_t vl, void* payload, Make&& make) {
  write_channel_params<Format>(n, k, vl, payload, [&](size_t j) {
    int64_t column_sum = 0;
    SME2K_UNROLL_8
    for (size_t kk = 0; kk < k; ++kk) column_sum += at(kk, j);
    return make(j, column_sum);
  });
}

/// The same for int8 B (K x N or N x K as `layout` says).
template <class Format, class Make>
void write_channel_params(MatrixView<const int8_t> b, RhsLayout layout, size_t vl, void* payload,
                          Make&& make) {
  const RhsShape shape = rhs_shape(b.rows, b.cols, layout);
  write_channel_params<Format>(
      shape.n, shape.k,
      [&](size_t kk, size_t j) { return layout == RhsLayout::kKxN ? b(kk, j) : b(j, kk); }, vl,
      payload, make);
}

}  // namespace sme2k
