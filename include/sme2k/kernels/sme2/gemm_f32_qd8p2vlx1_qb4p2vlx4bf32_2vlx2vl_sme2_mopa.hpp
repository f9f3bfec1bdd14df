// QD8 x QB4W GEMM on SME2: f32 outer products of dequantized operands. Activations are
// quantized per row (QD8) and dequantized into f32 panels (formats/lhs_qd8p2vlx1.hpp); each
// 4-bit weight panel is expanded once per call to f32 w * block scale (exact for bf16 and
// f16 scales) and reused by every row panel of A, as the QC4W kernel reuses its int8 panels;
// the F32 2VL x 2VL kernel multiplies them and its epilogue follows.
//
// Why f32 and not int8 outer products with a scale per block (cycle model, M4, SVL 512): an
// int32 block sum must leave ZA and be converted and scaled once per block of 32 k: SCVTF of
// four vectors (4 cycles per 64 outputs), FMLA vgx4 (2) and the moves out (4), against 2
// cycles of SMOPA per 64 outputs for the 32 k: at most 0.29 of the int8 peak, and only two
// tiles left for int32 beside two f32 sum tiles. The f32 outer product runs at half the int8
// peak (0.5), less the weight expansion.
#pragma once

#include <cstddef>
#include <string_view>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/lhs_qd8p2vlx1.hpp"
#include "sme2k/formats/rhs_f32p2vlx1bf32.hpp"
#include "sme2k/formats/rhs_qb4p2vlx4bf32.hpp"
#include "sme2k/kernels/sme2/gemm_2vlx2vl_mopa.hpp"
#include "sme2k/kernels/sme2/gemm_expanded_weights.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/variant.hpp"

#if SME2K_HAS_SME2_CODE
namespace sme2k {

struct GemmF32Qd8p2vlx1Qb4p2vlx4bf32_2vlx2vlSme2Mopa
    : GemmExpandedWeights<Gemm2vlx2vlMopa<sme2::MopaF32, LhsQd8p2vlx1, RhsF32p2vlx1bf32>,
                          RhsQb4p2vlx4bf32> {
  using Variant = QD8QB4W;
  static constexpr Path kPath = Path::kSme2;
  static constexpr std::string_view kName = "gemm_f32_qd8p2vlx1_qb4p2vlx4bf32_2vlx2vl_sme2_mopa";
};

}  // namespace sme2k
#endif
