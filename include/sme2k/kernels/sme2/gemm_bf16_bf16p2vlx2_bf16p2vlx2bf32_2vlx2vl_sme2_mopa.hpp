// bf16 GEMM on SME2 with f32 accumulation: widening BFMOPA (a pair of k per 32-bit lane) into
// all four 32-bit ZA tiles, a 2VL x 2VL block of C per pass (kernels/sme2/
// gemm_2vlx2vl_mopa.hpp), bf16 or f32 output (BFCVT). The F16 kernel with another k-step:
// the same cost on both models (BFMOPA and widening FMOPA are one class).
#pragma once

#include <string_view>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/lhs_bf16p2vlx2.hpp"
#include "sme2k/formats/rhs_bf16p2vlx2bf32.hpp"
#include "sme2k/kernels/sme2/gemm_2vlx2vl_mopa.hpp"
#include "sme2k/types/variant.hpp"

#if SME2K_HAS_SME2_CODE
namespace sme2k {

struct GemmBf16Bf16p2vlx2Bf16p2vlx2bf32_2vlx2vlSme2Mopa
    : Gemm2vlx2vlMopa<sme2::MopaBf16, LhsBf16p2vlx2, RhsBf16p2vlx2bf32> {
  using Variant = BF16;
  static constexpr Path kPath = Path::kSme2;
  static constexpr std::string_view kName = "gemm_bf16_bf16p2vlx2_bf16p2vlx2bf32_2vlx2vl_sme2_mopa";
};

}  // namespace sme2k
#endif
