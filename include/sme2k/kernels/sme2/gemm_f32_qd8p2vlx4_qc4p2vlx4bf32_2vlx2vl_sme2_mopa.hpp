// QD8 x QC4W GEMM on SME2 for M >= a tile (prefill): the QD8 x QC8W kernel
// (gemm_f32_qd8p2vlx4_qc8p2vlx4bf32_2vlx2vl_sme2_mopa.hpp) on weights expanded from 4 to 8
// bits once per call and panel, reused by every 2VL-row panel of A.
//
// Why expand per panel rather than inside the k-loop (cycle model, M4, SVL 512): a k-step of
// the 2VL x 2VL int8 kernel is four 4-way SMOPA (8 cycles) on two int8 weight vectors. From
// one 4-bit vector those two cost two LUTI4 destinations (4 cycles) or, with the packed
// format's offset trick, one SQDMULH + SRSHL + ADD + SQDMULH of four vectors per four k-steps
// (4 cycles per k-step): either in the loop caps the kernel at 8 / 12 = 0.67. Expanded once
// per call into a 2VL-column int8 panel (L1-resident: 2VL x K bytes), the same 4 cycles per
// k-step are shared by all M / 2VL row panels (8 at M = 256: 0.5 cycle per k-step, ~6%),
// plus the panel's store and reload on the load/store side.
//
// Loop order: A is quantized and packed whole first (all its panels stay in the workspace),
// then for each weight panel: expand it, run every row panel against it.
#pragma once

#include <cstddef>
#include <string_view>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/lhs_qd8p2vlx4.hpp"
#include "sme2k/formats/rhs_qc4p2vlx4bf32.hpp"
#include "sme2k/formats/rhs_qc8p2vlx4bf32.hpp"
#include "sme2k/kernels/sme2/gemm_2vlx2vl_mopa.hpp"
#include "sme2k/kernels/sme2/gemm_expanded_weights.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/variant.hpp"

#if SME2K_HAS_SME2_CODE
namespace sme2k {

struct GemmF32Qd8p2vlx4Qc4p2vlx4bf32_2vlx2vlSme2Mopa
    : GemmExpandedWeights<Gemm2vlx2vlMopa<sme2::MopaQs8, LhsQd8p2vlx4, RhsQc8p2vlx4bf32>,
                          RhsQc4p2vlx4bf32> {
  using Variant = QD8QC4W;
  using PackedLhsFormat = LhsQd8p2vlx4;  // what gemm_pack_lhs() writes: the panels
  static constexpr Path kPath = Path::kSme2;
  static constexpr std::string_view kName = "gemm_f32_qd8p2vlx4_qc4p2vlx4bf32_2vlx2vl_sme2_mopa";
};

}  // namespace sme2k
#endif
