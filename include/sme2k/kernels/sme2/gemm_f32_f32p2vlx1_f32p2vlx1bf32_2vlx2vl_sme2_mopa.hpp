// f32 GEMM on SME2: FMOPA into all four 32-bit ZA tiles, a 2VL x 2VL block of C per pass
// (kernels/sme2/gemm_2vlx2vl_mopa.hpp). On the Apple M4 model at SVL 512 the k-loop is
// exactly balanced (4 FMOPA against 4 x 64 B of loads per k), so every other byte the op
// moves (packing A, storing C) shows in its efficiency.
#pragma once

#include <string_view>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/lhs_f32p2vlx1.hpp"
#include "sme2k/formats/rhs_f32p2vlx1bf32.hpp"
#include "sme2k/kernels/sme2/gemm_2vlx2vl_mopa.hpp"
#include "sme2k/types/variant.hpp"

#if SME2K_HAS_SME2_CODE
namespace sme2k {

struct GemmF32F32p2vlx1F32p2vlx1bf32_2vlx2vlSme2Mopa
    : Gemm2vlx2vlMopa<sme2::MopaF32, LhsF32p2vlx1, RhsF32p2vlx1bf32> {
  using Variant = F32;
  static constexpr Path kPath = Path::kSme2;
  static constexpr std::string_view kName = "gemm_f32_f32p2vlx1_f32p2vlx1bf32_2vlx2vl_sme2_mopa";
};

}  // namespace sme2k
#endif
