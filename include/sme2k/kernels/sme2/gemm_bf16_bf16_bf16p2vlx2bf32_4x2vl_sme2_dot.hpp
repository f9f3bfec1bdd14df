// bf16 GEMM on SME2 for few rows of A (kernels/sme2/gemm_small_m_dot.hpp): BFDOT of a k pair
// per lane with a pair of a replicated activation quad, into f32 ZA vector groups, over the
// same packed weights as the 2VL x 2VL kernel.
#pragma once

#include <string_view>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/rhs_bf16p2vlx2bf32.hpp"
#include "sme2k/kernels/sme2/gemm_small_m_dot.hpp"
#include "sme2k/types/variant.hpp"

#if SME2K_HAS_SME2_CODE
namespace sme2k {

struct GemmBf16Bf16Bf16p2vlx2bf32_4x2vlSme2Dot : GemmSmallMDot<bf16, RhsBf16p2vlx2bf32> {
  using Variant = BF16;
  static constexpr Path kPath = Path::kSme2;
  static constexpr std::string_view kName = "gemm_bf16_bf16_bf16p2vlx2bf32_4x2vl_sme2_dot";
};

}  // namespace sme2k
#endif
