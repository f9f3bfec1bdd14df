// Packing QD8 x QC8W weights: the int8 panels (any panel format with Qd8ChannelParams in
// front), and per output channel n the column sum of its weights (for the per-row zero-point
// correction), its f32 scale and its f32 bias (types/dynamic_quantization.hpp).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "sme2k/formats/int8_channel_params.hpp"
#include "sme2k/types/alignment.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/layout.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {

/// Checks what QD8 packing needs beyond the matrix: N finite positive weight scales, and K
/// small enough for the column sums' int16 halves and the int32 accumulators.
inline Status validate_qd8_weights(const float* weight_scales, size_t n, size_t k, const char* op) {
  if (weight_scales == nullptr) {
    return Status::error(StatusCode::kNullPointer, "%s: weight scales are null", op);
  }
  SME2K_RETURN_IF_ERROR(check_element_aligned(weight_scales, op, "weight scales"));
  for (size_t j = 0; j < n; ++j) {
    if (!(std::isfinite(weight_scales[j]) && weight_scales[j] > 0.0f)) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: weight scale of channel %zu (%g) must be finite and > 0", op, j,
                           static_cast<double>(weight_scales[j]));
    }
  }
  if (k > kQd8MaxK) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: K=%zu is more than QD8 x QC8W weights allow (%zu)", op, k, kQd8MaxK);
  }
  return Status();
}

/// Packs validated QD8 x QC8W weights into `payload` (Format::payload_bytes(n, k, vl)).
template <class Format>
void pack_qd8_weights(MatrixView<const int8_t> b, RhsLayout layout, const float* bias,
                      const float* weight_scales, size_t vl, void* payload) {
  Format::pack(b, layout, static_cast<const Qd8ChannelParams*>(nullptr), vl, payload);
  write_channel_params<Format>(b, layout, vl, payload, [&](size_t n, int64_t column_sum) {
    return qd8_channel_params(column_sum, weight_scales[n], bias != nullptr ? bias[n] : 0.0f);
  });
}

}  // namespace sme2k
