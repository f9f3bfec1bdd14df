// rhs_f32p2vlx1bf32: f32 weights for the SME2 2VL x 2VL f32 kernel. Panels of 2VL columns
// (32 at SVL 512, 8 at SVL 128), one k per row, an f32 bias row in front: the layout is
// drawn in rhs_panel_format.hpp. Depends on the SVL, which the packed header records.
#pragma once

#include <string_view>

#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/rhs_panel_format.hpp"

namespace sme2k {

struct RhsF32p2vlx1bf32 : RhsPanelFormat<float, float, VlMultiple<2>, 1> {
  static constexpr PackedFormatId kId = PackedFormatId::kRhsF32p2vlx1bf32;
  static constexpr std::string_view kName = packed_format_name(kId);
};

}  // namespace sme2k
