// Packing QS8 x QC8W weights: the int8 panels (any panel format with Qs8ChannelParams in
// front), and per output channel n the pair
//   bias'[n]  = bias[n] - zp_in * sum_k w[k][n]    (int32: the input zero point's cross term,
//                                                   so the kernel multiplies raw int8 A)
//   scale[n]  = requantization_scale(in_scale, w_scale[n], out_scale)
// (types/quantization.hpp). Every accumulator must stay inside int32: packing checks
// |bias'| + K * 128 * 128 <= 2^31 - 1 and refuses the weights otherwise.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "sme2k/formats/int8_channel_params.hpp"
#include "sme2k/types/alignment.hpp"
#include "sme2k/types/layout.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/quantization.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {

/// Checks what QS8 packing needs beyond the matrix: finite positive scales, zero points in
/// range, and no int32 accumulator overflow for this K and bias.
inline Status validate_qs8_quantization(const Qs8Quantization& q, const int32_t* bias, size_t n,
                                        size_t k, const char* op) {
  SME2K_RETURN_IF_ERROR(validate_quant_params(q.input, op, "input"));
  SME2K_RETURN_IF_ERROR(validate_quant_params(q.output, op, "output"));
  if (q.weight_scales == nullptr) {
    return Status::error(StatusCode::kNullPointer, "%s: weight scales are null", op);
  }
  SME2K_RETURN_IF_ERROR(check_element_aligned(q.weight_scales, op, "weight scales"));
  SME2K_RETURN_IF_ERROR(check_element_aligned(bias, op, "bias"));
  for (size_t j = 0; j < n; ++j) {
    if (!(std::isfinite(q.weight_scales[j]) && q.weight_scales[j] > 0.0f)) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: weight scale of channel %zu (%g) must be finite and > 0", op, j,
                           static_cast<double>(q.weight_scales[j]));
    }
    if (!(requantization_scale(q.input.scale, q.weight_scales[j], q.output.scale) > 0.0f) ||
        !std::isfinite(requantization_scale(q.input.scale, q.weight_scales[j], q.output.scale))) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: channel %zu's requantization scale is not a positive f32", op, j);
    }
  }
  // |sum a w| <= K * 128 * 128 and |zp_in * sum w| <= K * 128 * 128: bound both with 2^31.
  const int64_t per_k = int64_t{128} * 128;
  const int64_t limit = INT32_MAX / (2 * per_k);
  if (static_cast<int64_t>(k) > limit) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: K=%zu could overflow the int32 accumulators (at most %lld)", op, k,
                         static_cast<long long>(limit));
  }
  if (bias != nullptr) {
    for (size_t j = 0; j < n; ++j) {
      if (std::llabs(bias[j]) > INT32_MAX - 2 * per_k * static_cast<int64_t>(k)) {
        return Status::error(StatusCode::kInvalidArgument,
                             "%s: bias of channel %zu (%d) could overflow the int32 accumulators",
                             op, j, static_cast<int>(bias[j]));
      }
    }
  }
  return Status();
}

/// Whether a channel's (folded bias, requantization scale) can be what packing wrote for
/// weights of depth k, with the header's small-scales flag: every accumulator bias' + K
/// products of at most 128 * 128 inside int32 (else UB on the portable path, wrapping on
/// SME2), and a positive finite scale (below 0.5 when flagged, which the SME2 epilogue
/// relies on). Packed weights loaded from elsewhere are checked with this (O(N)) before a
/// kernel reads them: the header's checksum does not cover the payload.
inline bool qs8_channel_params_valid(const Qs8ChannelParams& c, size_t k, bool small_scales) {
  const int64_t per_k = int64_t{128} * 128;
  if (k > static_cast<size_t>(INT32_MAX / per_k)) return false;
  return std::llabs(int64_t{c.bias}) <= INT32_MAX - per_k * static_cast<int64_t>(k) &&
         std::isfinite(c.scale) && c.scale > 0.0f && (!small_scales || c.scale < 0.5f);
}

/// kPackedMismatch for channel `n`'s impossible parameters.
inline Status qs8_channel_params_error(size_t n, const Qs8ChannelParams& c, const char* op) {
  return Status::error(StatusCode::kPackedMismatch,
                       "%s: packed weights: channel %zu's bias %d / scale %g are impossible: the "
                       "payload is corrupted",
                       op, n, static_cast<int>(c.bias), static_cast<double>(c.scale));
}

/// The N channels' parameters of QS8 weights packed in Format (panels of depth panel_k) for
/// a K-deep product (conv: taps * input channels, before any padding of the panels).
template <class Format>
Status check_qs8_channel_params(size_t n, size_t panel_k, size_t vl, const void* payload, size_t k,
                                bool small_scales, const char* op) {
  Qs8ChannelParams bad{};
  const size_t at = find_bad_channel_param<Format>(
      n, panel_k, vl, payload, [&](size_t, const Qs8ChannelParams& c) {
        bad = c;
        return qs8_channel_params_valid(c, k, small_scales);
      });
  return at == n ? Status() : qs8_channel_params_error(at, bad, op);
}

/// Packs validated QS8 weights (k, j) = at(k, j) into `payload` (Format::payload_bytes(n, k,
/// vl)).
template <class Format, class At>
void pack_qs8_weights_from(size_t n, size_t k, At&& at, const int32_t* bias,
                           const Qs8Quantization& q, size_t vl, void* payload) {
  Format::pack_from(n, k, at, static_cast<const Qs8ChannelParams*>(nullptr), vl, payload);
  write_channel_params<Format>(n, k, at, vl, payload, [&](size_t j, int64_t column_sum) {
    Qs8ChannelParams c;
    c.bias = static_cast<int32_t>((bias != nullptr ? bias[j] : 0) -
                                  int64_t{q.input.zero_point} * column_sum);
    c.scale = requantization_scale(q.input.scale, q.weight_scales[j], q.output.scale);
    return c;
  });
}

/// The same for int8 B (K x N or N x K as `layout` says).
template <class Format>
void pack_qs8_weights(MatrixView<const int8_t> b, RhsLayout layout, const int32_t* bias,
                      const Qs8Quantization& q, size_t vl, void* payload) {
  const RhsShape shape = rhs_shape(b.rows, b.cols, layout);
  pack_qs8_weights_from<Format>(
      shape.n, shape.k,
      [&](size_t kk, size_t j) { return layout == RhsLayout::kKxN ? b(kk, j) : b(j, kk); }, bias, q,
      vl, payload);
}

}  // namespace sme2k
