// rhs_qs8p2vlx4bs32: int8 weights (QC8W) for the SME2 4-way int8 outer-product kernel. Panels
// of 2VL columns; per quad of k, each column's four weights side by side (the 4-way SMOPA sums
// a k quad per 32-bit lane); in front of each panel, per column, the int32 bias with the
// input zero point's cross term folded in and the f32 requantization scale, as pairs
// (Qs8ChannelParams). The layout is drawn in rhs_panel_format.hpp (KR = 4, the "bias" row is
// the pairs); K is padded to a multiple of 4 with zero weights. Packed by
// formats/qs8_weights.hpp.
#pragma once

#include <cstdint>
#include <string_view>

#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/rhs_panel_format.hpp"
#include "sme2k/types/quantization.hpp"

namespace sme2k {

struct RhsQs8p2vlx4bs32 : RhsPanelFormat<int8_t, Qs8ChannelParams, VlMultiple<2>, 4> {
  static constexpr PackedFormatId kId = PackedFormatId::kRhsQs8p2vlx4bs32;
  static constexpr std::string_view kName = packed_format_name(kId);
};

}  // namespace sme2k
