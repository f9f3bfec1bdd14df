// rhs_qc8p8x1bf32: int8 weights (QC8W) for the portable QD8 kernel: 8-column panels, one k
// per row, Qd8ChannelParams (column sum halves, f32 scale, f32 bias) in front
// (rhs_panel_format.hpp; packed by formats/qd8_weights.hpp).
#pragma once

#include <cstdint>
#include <string_view>

#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/rhs_panel_format.hpp"
#include "sme2k/types/dynamic_quantization.hpp"

namespace sme2k {

struct RhsQc8p8x1bf32 : RhsPanelFormat<int8_t, Qd8ChannelParams, FixedExtent<8>, 1> {
  static constexpr PackedFormatId kId = PackedFormatId::kRhsQc8p8x1bf32;
  static constexpr std::string_view kName = packed_format_name(kId);
};

}  // namespace sme2k
