// lhs_bf16p2vlx2: bf16 activations for the SME2 2VL x 2VL widening bf16 kernel: the layout of
// lhs_f16p2vlx2 (panels of 2VL rows, per pair of k each row's two values side by side in one
// 32-bit lane, which the widening BFMOPA sums). Packed per call into the workspace.
#pragma once

#include <string_view>

#include "sme2k/formats/lhs_panel_format.hpp"
#include "sme2k/types/bf16.hpp"

namespace sme2k {

struct LhsBf16p2vlx2 : LhsPanelFormat<bf16, VlMultiple<2>, 2> {
  static constexpr std::string_view kName = "bf16p2vlx2";
};

}  // namespace sme2k
