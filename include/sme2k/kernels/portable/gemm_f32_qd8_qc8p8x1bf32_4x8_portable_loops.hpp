// QD8 x QC8W GEMM in plain C++ (kernels/portable/gemm_qd8_4x8_loops.hpp).
#pragma once

#include <string_view>

#include "sme2k/formats/rhs_qc8p8x1bf32.hpp"
#include "sme2k/kernels/portable/gemm_qd8_4x8_loops.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {

struct GemmF32Qd8Qc8p8x1bf32_4x8PortableLoops : GemmQd8PortableLoops<QD8, RhsQc8p8x1bf32> {
  static constexpr std::string_view kName = "gemm_f32_qd8_qc8p8x1bf32_4x8_portable_loops";
};

}  // namespace sme2k
