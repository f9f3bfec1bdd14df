// QS8 x QC8W GEMM on SME2: 4-way SMOPA (a quad of k per 32-bit lane, int8 x int8 summed into
// int32) into all four ZA tiles, a 2VL x 2VL block per pass (kernels/sme2/
// gemm_2vlx2vl_mopa.hpp); the tiles start from the folded biases (ADDHA) and leave through
// the requantization of epilogue/sme2_requant.hpp. On the Apple M4 model at SVL 512 the
// k-loop is compute-bound (4 x 2 cycles of SMOPA against 4 x 64 B of loads per k quad): the
// packing of A and the epilogue's trips through memory use idle load/store slots; the
// requantization's conversions and multiplies are the wall at small K.
#pragma once

#include <string_view>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/lhs_qs8p2vlx4.hpp"
#include "sme2k/formats/rhs_qs8p2vlx4bs32.hpp"
#include "sme2k/kernels/sme2/gemm_2vlx2vl_mopa.hpp"
#include "sme2k/types/variant.hpp"

#if SME2K_HAS_SME2_CODE
namespace sme2k {

struct GemmQs8Qs8p2vlx4Qs8p2vlx4bs32_2vlx2vlSme2Mopa
    : Gemm2vlx2vlMopa<sme2::MopaQs8, LhsQs8p2vlx4, RhsQs8p2vlx4bs32> {
  using Variant = QS8;
  static constexpr Path kPath = Path::kSme2;
  static constexpr std::string_view kName = "gemm_qs8_qs8p2vlx4_qs8p2vlx4bs32_2vlx2vl_sme2_mopa";
};

}  // namespace sme2k
#endif
