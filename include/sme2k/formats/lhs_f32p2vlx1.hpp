// lhs_f32p2vlx1: f32 activations for the SME2 2VL x 2VL f32 kernel. Panels of 2VL rows,
// k-major (one column of A per 2VL-element row), packed per call into the workspace: the
// layout is drawn in lhs_panel_format.hpp.
#pragma once

#include <string_view>

#include "sme2k/formats/lhs_panel_format.hpp"

namespace sme2k {

struct LhsF32p2vlx1 : LhsPanelFormat<float, VlMultiple<2>, 1> {
  static constexpr std::string_view kName = "f32p2vlx1";
};

}  // namespace sme2k
