// f16 GEMM in plain C++ with f32 accumulation (kernels/portable/gemm_4x8_loops.hpp): the
// fallback for F16. f16 values are widened exactly; products of two f16 are exact in f32.
#pragma once

#include <string_view>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/rhs_f16p8x1bf32.hpp"
#include "sme2k/kernels/portable/gemm_4x8_loops.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {

struct GemmF16F16F16p8x1bf32_4x8PortableLoops : GemmPortable4x8Loops<f16, RhsF16p8x1bf32> {
  using Variant = F16;
  static constexpr Path kPath = Path::kPortable;
  static constexpr std::string_view kName = "gemm_f16_f16_f16p8x1bf32_4x8_portable_loops";
};

}  // namespace sme2k
