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
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/variant.hpp"

#if SME2K_HAS_SME2_CODE
namespace sme2k {

struct GemmF32Qd8p2vlx4Qc4p2vlx4bf32_2vlx2vlSme2Mopa
    : KernelQueries<LhsQd8p2vlx4, RhsQc4p2vlx4bf32, LhsQd8p2vlx4::PanelWidth> {
  /// What runs on the expanded weights.
  using Int8Kernel = Gemm2vlx2vlMopa<sme2::MopaQs8, LhsQd8p2vlx4, RhsQc8p2vlx4bf32>;
  using Variant = QD8QC4W;
  using LhsFormat = LhsQd8p2vlx4;
  using PackedLhsFormat = LhsQd8p2vlx4;
  using RhsFormat = RhsQc4p2vlx4bf32;
  static constexpr Path kPath = Path::kSme2;
  static constexpr std::string_view kName = "gemm_f32_qd8p2vlx4_qc4p2vlx4bf32_2vlx2vl_sme2_mopa";
  /// The driver packs all of A before the weights loop (ops/detail/gemm_driver.hpp).
  static constexpr bool kWeightsOuter = true;

  static constexpr size_t scratch_bytes(size_t vl) { return Int8Kernel::scratch_bytes(vl); }
  /// Bytes of the expanded weight panel (64-byte multiple).
  static constexpr size_t expanded_bytes(size_t k, size_t vl) {
    return round_up(RhsQc8p2vlx4bf32::panel_bytes(k, vl), 64);
  }
  /// Workspace beyond A's packed panels: the expanded weight panel, then the scratch.
  static constexpr size_t weights_workspace_bytes(size_t k, size_t vl) {
    return expanded_bytes(k, vl) + scratch_bytes(vl);
  }

  /// C = epilogue(A x B) for the m rows of A whose packed panels `panels` hands out.
  /// @param[in] expanded  weights_workspace_bytes(K, VL), 64-byte aligned
  template <class Panels, class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void multiply(
      size_t m, size_t n, size_t k, const Panels& panels, const void* rhs_payload, bool has_bias,
      const EpiloguePlan& plan, Out* c, size_t ldc, void* expanded) SME2K_STREAMING SME2K_INOUT_ZA {
    const size_t vl = svcntsw();
    const size_t width = RhsFormat::nr(vl), mr = LhsFormat::mr(vl);
    auto* scratch =
        reinterpret_cast<float*>(static_cast<uint8_t*>(expanded) + expanded_bytes(k, vl));
    for (size_t n0 = 0; n0 < n; n0 += width) {
      const size_t panel = n0 / width;
      RhsFormat::expand_panel_sme2(RhsFormat::panel_bias(rhs_payload, panel, k, vl), k, expanded);
      const size_t n_end = n - n0 < width ? n : n0 + width;
      for (size_t m0 = 0; m0 < m; m0 += mr) {
        const size_t rows = m - m0 < mr ? m - m0 : mr;
        Out* out = plan.transposed ? c + m0 : c + m0 * ldc;
        Int8Kernel::run(rows, n0, n_end, k, panels.panel_at(m0, rows), expanded, has_bias, plan,
                        out, ldc, scratch, panel);
      }
    }
  }
};

}  // namespace sme2k
#endif
