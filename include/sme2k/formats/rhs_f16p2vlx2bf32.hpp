// rhs_f16p2vlx2bf32: f16 weights for the SME2 2VL x 2VL widening f16 kernel. Panels of 2VL
// columns; per pair of k, each column's two weights side by side (the widening FMOPA sums
// a k pair per 32-bit lane); an f32 bias row in front (f16 bias is widened when packing).
// The layout is drawn in rhs_panel_format.hpp (KR = 2); an odd K is padded with a zero k.
#pragma once

#include <string_view>

#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/rhs_panel_format.hpp"

namespace sme2k {

struct RhsF16p2vlx2bf32 : RhsPanelFormat<f16, float, VlMultiple<2>, 2> {
  static constexpr PackedFormatId kId = PackedFormatId::kRhsF16p2vlx2bf32;
  static constexpr std::string_view kName = packed_format_name(kId);
};

}  // namespace sme2k
