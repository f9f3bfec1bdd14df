// lhs_f16p2vlx1: f16 activations for the SME2 f16-accumulating kernel. Panels of 2VL rows,
// one k per panel row (2VL f16 values: one vector), packed per call into the workspace
// through a 16-bit ZA tile (lhs_panel_format.hpp, KR = 1).
#pragma once

#include <string_view>

#include "sme2k/formats/lhs_panel_format.hpp"
#include "sme2k/types/f16.hpp"

namespace sme2k {

struct LhsF16p2vlx1 : LhsPanelFormat<f16, VlMultiple<2>, 1> {
  static constexpr std::string_view kName = "f16p2vlx1";
};

}  // namespace sme2k
