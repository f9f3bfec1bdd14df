// The machinery of kernels whose weights are packed smaller than their outer products read
// them (4-bit weights): each weight panel is expanded once per call into the Inner kernel's
// RHS format (PackedRhs::expand_panel_sme2) and reused by every 2VL-row panel of A, which the
// driver packs whole first (kWeightsOuter, ops/detail/gemm_driver.hpp). Expanding once per
// call instead of in the k-loop shares the expansion among all M / 2VL row panels (the
// kernels' headers give the cycle-model numbers).
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/kernels/kernel_queries.hpp"
#include "sme2k/types/size_math.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {

template <class Inner, class PackedRhs>
struct GemmExpandedWeights
    : KernelQueries<typename Inner::LhsFormat, PackedRhs, typename Inner::LhsFormat::PanelWidth> {
  using InnerKernel = Inner;
  using LhsFormat = typename Inner::LhsFormat;
  using RhsFormat = PackedRhs;
  using ExpandedFormat = typename Inner::RhsFormat;
  static constexpr bool kWeightsOuter = true;

  static constexpr size_t scratch_bytes(size_t vl) { return Inner::scratch_bytes(vl); }
  /// Bytes of the expanded weight panel (64-byte multiple).
  static constexpr size_t expanded_bytes(size_t k, size_t vl) {
    return round_up(ExpandedFormat::panel_bytes(k, vl), 64);
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
        Inner::run(rows, n0, n_end, k, panels.panel_at(m0, rows), expanded, has_bias, plan, out,
                   ldc, scratch, panel);
      }
    }
  }
};

}  // namespace sme2k
#endif
