// rhs_qs8p8x1bs32: int8 weights (QC8W) for the portable QS8 kernel: 8-column panels, one k
// per row, the per-channel (folded int32 bias, f32 requantization scale) pairs in front
// (rhs_panel_format.hpp; packed by formats/qs8_weights.hpp).
#pragma once

#include <cstdint>
#include <string_view>

#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/rhs_panel_format.hpp"
#include "sme2k/types/quantization.hpp"

namespace sme2k {

struct RhsQs8p8x1bs32 : RhsPanelFormat<int8_t, Qs8ChannelParams, FixedExtent<8>, 1> {
  static constexpr PackedFormatId kId = PackedFormatId::kRhsQs8p8x1bs32;
  static constexpr std::string_view kName = packed_format_name(kId);
};

}  // namespace sme2k
