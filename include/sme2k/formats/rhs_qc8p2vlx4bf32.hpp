// rhs_qc8p2vlx4bf32: int8 weights (QC8W) for the SME2 QD8 kernel. Panels of 2VL columns; per
// quad of k, each column's four weights side by side (the 4-way SMOPA sums a k quad per
// 32-bit lane); in front of each panel, per column, Qd8ChannelParams (12 bytes): the column
// sum as two int16 halves (the operand of the zero-point outer product), the f32 scale and
// the f32 bias. The layout is drawn in rhs_panel_format.hpp (KR = 4, the "bias" row is the
// params); K is padded to a multiple of 4 with zero weights. Packed by
// formats/qd8_weights.hpp.
#pragma once

#include <cstdint>
#include <string_view>

#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/rhs_panel_format.hpp"
#include "sme2k/types/dynamic_quantization.hpp"

namespace sme2k {

struct RhsQc8p2vlx4bf32 : RhsPanelFormat<int8_t, Qd8ChannelParams, VlMultiple<2>, 4> {
  static constexpr PackedFormatId kId = PackedFormatId::kRhsQc8p2vlx4bf32;
  static constexpr std::string_view kName = packed_format_name(kId);
};

}  // namespace sme2k
