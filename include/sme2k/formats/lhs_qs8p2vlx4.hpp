// lhs_qs8p2vlx4: int8 activations for the SME2 4-way int8 kernel. Panels of 2VL rows; per
// quad of k, each row's four values side by side (one 32-bit lane of the 4-way SMOPA), packed
// per call through ZA (lhs_panel_format.hpp, KR = 4). Past K: zero, which with the zero
// weights past K adds nothing (the input zero point is folded over the real K only).
#pragma once

#include <cstdint>
#include <string_view>

#include "sme2k/formats/lhs_panel_format.hpp"

namespace sme2k {

struct LhsQs8p2vlx4 : LhsPanelFormat<int8_t, VlMultiple<2>, 4> {
  static constexpr std::string_view kName = "qs8p2vlx4";
};

}  // namespace sme2k
