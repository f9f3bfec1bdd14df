// QS8 x QC8W GEMM in plain C++ (kernels/portable/gemm_4x8_loops.hpp): int32 accumulation
// from the folded biases, then the requantization of types/quantization.hpp.
#pragma once

#include <cstdint>
#include <string_view>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/rhs_qs8p8x1bs32.hpp"
#include "sme2k/kernels/portable/gemm_4x8_loops.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {

struct GemmQs8Qs8Qs8p8x1bs32_4x8PortableLoops : GemmPortable4x8Loops<int8_t, RhsQs8p8x1bs32> {
  using Variant = QS8;
  static constexpr Path kPath = Path::kPortable;
  static constexpr std::string_view kName = "gemm_qs8_qs8_qs8p8x1bs32_4x8_portable_loops";
};

}  // namespace sme2k
