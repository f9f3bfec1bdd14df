// rhs_bf16p8x1bf32: bf16 weights for the portable bf16 kernel: 8-column panels, one k per
// row, an f32 bias row in front (rhs_panel_format.hpp). Weights stay bf16.
#pragma once

#include <string_view>

#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/rhs_panel_format.hpp"
#include "sme2k/types/bf16.hpp"

namespace sme2k {

struct RhsBf16p8x1bf32 : RhsPanelFormat<bf16, float, FixedExtent<8>, 1> {
  static constexpr PackedFormatId kId = PackedFormatId::kRhsBf16p8x1bf32;
  static constexpr std::string_view kName = packed_format_name(kId);
};

}  // namespace sme2k
