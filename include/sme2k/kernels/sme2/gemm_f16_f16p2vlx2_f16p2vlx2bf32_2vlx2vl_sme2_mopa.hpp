// f16 GEMM on SME2 with f32 accumulation: widening FMOPA (a pair of k per 32-bit lane) into
// all four 32-bit ZA tiles, a 2VL x 2VL block of C per pass (kernels/sme2/
// gemm_2vlx2vl_mopa.hpp), f16 or f32 output. On the Apple M4 model at SVL 512 the k-loop is
// compute-bound (4 x 2 cycles of FMOPA against 4 x 64 B of loads per k pair): packing A and
// the epilogue's trips through memory hide in the idle load/store slots, and the wall at
// small K is the f32 -> f16 conversion of the output (one 4-cycle FCVT per 2VL outputs).
#pragma once

#include <string_view>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/lhs_f16p2vlx2.hpp"
#include "sme2k/formats/rhs_f16p2vlx2bf32.hpp"
#include "sme2k/kernels/sme2/gemm_2vlx2vl_mopa.hpp"
#include "sme2k/types/variant.hpp"

#if SME2K_HAS_SME2_CODE
namespace sme2k {

struct GemmF16F16p2vlx2F16p2vlx2bf32_2vlx2vlSme2Mopa
    : Gemm2vlx2vlMopa<sme2::MopaF16, LhsF16p2vlx2, RhsF16p2vlx2bf32> {
  using Variant = F16;
  static constexpr Path kPath = Path::kSme2;
  static constexpr std::string_view kName = "gemm_f16_f16p2vlx2_f16p2vlx2bf32_2vlx2vl_sme2_mopa";
};

}  // namespace sme2k
#endif
