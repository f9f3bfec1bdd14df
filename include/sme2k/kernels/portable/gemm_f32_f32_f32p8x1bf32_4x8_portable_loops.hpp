// f32 GEMM in plain C++ (kernels/portable/gemm_4x8_loops.hpp): the fallback for F32.
#pragma once

#include <string_view>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/rhs_f32p8x1bf32.hpp"
#include "sme2k/kernels/portable/gemm_4x8_loops.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {

struct GemmF32F32F32p8x1bf32_4x8PortableLoops : GemmPortable4x8Loops<float, RhsF32p8x1bf32> {
  using Variant = F32;
  static constexpr Path kPath = Path::kPortable;
  static constexpr std::string_view kName = "gemm_f32_f32_f32p8x1bf32_4x8_portable_loops";
};

}  // namespace sme2k
