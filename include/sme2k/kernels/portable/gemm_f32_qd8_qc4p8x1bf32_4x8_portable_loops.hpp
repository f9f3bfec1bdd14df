// QD8 x QC4W GEMM in plain C++ (kernels/portable/gemm_qd8_4x8_loops.hpp): the weights stay
// 4-bit in the panels and are widened per k inside the tile loop.
#pragma once

#include <string_view>

#include "sme2k/formats/rhs_qc4p8x1bf32.hpp"
#include "sme2k/kernels/portable/gemm_qd8_4x8_loops.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {

struct GemmF32Qd8Qc4p8x1bf32_4x8PortableLoops : GemmQd8PortableLoops<QD8QC4W, RhsQc4p8x1bf32> {
  static constexpr std::string_view kName = "gemm_f32_qd8_qc4p8x1bf32_4x8_portable_loops";
};

}  // namespace sme2k
