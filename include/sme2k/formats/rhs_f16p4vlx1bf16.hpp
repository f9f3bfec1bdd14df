// rhs_f16p4vlx1bf16: f16 weights for the SME2 f16-accumulating kernel (FEAT_SME_F16F16).
// Panels of 4VL columns (two f16 vectors: 64 at SVL 512), one k per row, an f16 bias row in
// front (the accumulators are f16, so the bias is too: an f32 bias is rounded when packing).
// The layout is drawn in rhs_panel_format.hpp (KR = 1).
#pragma once

#include <string_view>

#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/rhs_panel_format.hpp"
#include "sme2k/types/f16.hpp"

namespace sme2k {

struct RhsF16p4vlx1bf16 : RhsPanelFormat<f16, f16, VlMultiple<4>, 1> {
  static constexpr PackedFormatId kId = PackedFormatId::kRhsF16p4vlx1bf16;
  static constexpr std::string_view kName = packed_format_name(kId);
};

}  // namespace sme2k
