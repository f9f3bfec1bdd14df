// lhs_f16p2vlx2: f16 activations for the SME2 2VL x 2VL widening f16 kernel. Panels of 2VL
// rows; per pair of k, each row's two values side by side, so one 32-bit lane holds what the
// widening FMOPA sums. Packed per call into the workspace (lhs_panel_format.hpp, KR = 2).
#pragma once

#include <string_view>

#include "sme2k/formats/lhs_panel_format.hpp"
#include "sme2k/types/f16.hpp"

namespace sme2k {

struct LhsF16p2vlx2 : LhsPanelFormat<f16, VlMultiple<2>, 2> {
  static constexpr std::string_view kName = "f16p2vlx2";
};

}  // namespace sme2k
