// QD8 x QC8W GEMM on SME2: activations quantized per row while they are packed
// (formats/za_quantize_rows.hpp), 4-way SMOPA into all four ZA tiles, a 2VL x 2VL block per
// pass (kernels/sme2/gemm_2vlx2vl_mopa.hpp). The tiles start from the exact zero-point term
// (one 2-way int16 outer product per tile), the k-loop is QS8's, and the block is turned
// into f32 in ZA (epilogue/sme2_dequant.hpp) so the float epilogues (activation, affine,
// clamp, f16 or f32, either order) follow unchanged. f32 and f16 output.
#pragma once

#include <string_view>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/lhs_qd8p2vlx4.hpp"
#include "sme2k/formats/rhs_qc8p2vlx4bf32.hpp"
#include "sme2k/kernels/sme2/gemm_2vlx2vl_mopa.hpp"
#include "sme2k/types/variant.hpp"

#if SME2K_HAS_SME2_CODE
namespace sme2k {

struct GemmF32Qd8p2vlx4Qc8p2vlx4bf32_2vlx2vlSme2Mopa
    : Gemm2vlx2vlMopa<sme2::MopaQs8, LhsQd8p2vlx4, RhsQc8p2vlx4bf32> {
  using Variant = QD8;
  using PackedLhsFormat = LhsQd8p2vlx4;  // what gemm_pack_lhs() writes: the panels, in a row
  static constexpr Path kPath = Path::kSme2;
  static constexpr std::string_view kName = "gemm_f32_qd8p2vlx4_qc8p2vlx4bf32_2vlx2vl_sme2_mopa";
};

}  // namespace sme2k
#endif
