// rhs_f32p8x1bf32: f32 weights for the portable f32 kernel. Panels of 8 columns (two
// 128-bit vectors, which compilers keep in registers on NEON and SSE alike), one k per
// row, an f32 bias row in front: the layout is drawn in rhs_panel_format.hpp.
#pragma once

#include <string_view>

#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/rhs_panel_format.hpp"

namespace sme2k {

struct RhsF32p8x1bf32 : RhsPanelFormat<float, float, FixedExtent<8>, 1> {
  static constexpr PackedFormatId kId = PackedFormatId::kRhsF32p8x1bf32;
  static constexpr std::string_view kName = packed_format_name(kId);
};

}  // namespace sme2k
