// rhs_f16p8x1bf32: f16 weights for the portable f16 kernel: 8-column panels, one k per row,
// an f32 bias row in front (rhs_panel_format.hpp). Weights stay f16 (half the memory of f32).
#pragma once

#include <string_view>

#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/rhs_panel_format.hpp"

namespace sme2k {

struct RhsF16p8x1bf32 : RhsPanelFormat<f16, float, FixedExtent<8>, 1> {
  static constexpr PackedFormatId kId = PackedFormatId::kRhsF16p8x1bf32;
  static constexpr std::string_view kName = packed_format_name(kId);
};

}  // namespace sme2k
