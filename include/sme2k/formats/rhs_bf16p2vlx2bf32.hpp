// rhs_bf16p2vlx2bf32: bf16 weights for the SME2 2VL x 2VL widening bf16 kernel: the layout of
// rhs_f16p2vlx2bf32 (panels of 2VL columns, per pair of k each column's two weights side by
// side; an f32 bias row in front, a bf16 bias widened when packing; an odd K padded with a
// zero k), drawn in rhs_panel_format.hpp (KR = 2).
#pragma once

#include <string_view>

#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/rhs_panel_format.hpp"
#include "sme2k/types/bf16.hpp"

namespace sme2k {

struct RhsBf16p2vlx2bf32 : RhsPanelFormat<bf16, float, VlMultiple<2>, 2> {
  static constexpr PackedFormatId kId = PackedFormatId::kRhsBf16p2vlx2bf32;
  static constexpr std::string_view kName = packed_format_name(kId);
};

}  // namespace sme2k
