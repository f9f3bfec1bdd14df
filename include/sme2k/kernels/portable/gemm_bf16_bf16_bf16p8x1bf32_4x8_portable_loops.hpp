// bf16 GEMM in plain C++ with f32 accumulation (kernels/portable/gemm_4x8_loops.hpp): the
// fallback for BF16. bf16 values widen exactly; products of two bf16 are exact in f32.
#pragma once

#include <string_view>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/rhs_bf16p8x1bf32.hpp"
#include "sme2k/kernels/portable/gemm_4x8_loops.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {

struct GemmBf16Bf16Bf16p8x1bf32_4x8PortableLoops : GemmPortable4x8Loops<bf16, RhsBf16p8x1bf32> {
  using Variant = BF16;
  static constexpr Path kPath = Path::kPortable;
  static constexpr std::string_view kName = "gemm_bf16_bf16_bf16p8x1bf32_4x8_portable_loops";
};

}  // namespace sme2k
