// The tile loop of a validated GEMM call, per path. This is the only place that enters
// streaming mode: the SME2 driver is locally streaming with its own ZA, so one op call
// toggles streaming mode exactly twice (in, out) whatever the shape, and everything it
// calls (packer, kernel, epilogue) is inlined streaming code.
//
// Loop order: for each 2VL-row panel of A, pack it (through ZA) into the workspace, then run
// the kernel across all of N. The panel (2VL x K) stays in L1 while N / 2VL blocks reuse it;
// the packed weights stream through once per panel.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"

namespace sme2k {
namespace detail {

/// A GEMM call after validation: every pointer usable, every size consistent.
template <class Lhs, class Out>
struct GemmCall {
  MatrixView<const Lhs> a;  // (M, K)
  const void* rhs_payload;  // packed weights after the header
  bool has_bias;
  MatrixView<Out> c;   // (M, N)
  const Clamp* clamp;  // null: no clamp
  void* workspace;     // gemm_workspace_layout(): the LHS panel, then epilogue scratch
};

template <class Kernel, class Lhs, class Out>
void run_gemm_portable(const GemmCall<Lhs, Out>& call) {
  Kernel::run(call.a.rows, 0, call.c.cols, call.a.cols, call.a.data, call.a.ld, call.rhs_payload,
              call.clamp, call.c.data, call.c.ld);
}

#if SME2K_HAS_SME2_CODE
template <class Kernel, class Lhs, class Out>
SME2K_TARGET_SME2 SME2K_LOCALLY_STREAMING
    SME2K_NEW_ZA void run_gemm_sme2(const GemmCall<Lhs, Out>& call) {
  using LhsFormat = typename Kernel::LhsFormat;
  const size_t m = call.a.rows;
  const size_t k = call.a.cols;
  const size_t mr = Kernel::m_step(sme2::vl());
  auto* panel = static_cast<Lhs*>(call.workspace);
  auto* scratch = reinterpret_cast<float*>(static_cast<uint8_t*>(call.workspace) +
                                           round_up(LhsFormat::panel_bytes(k, sme2::vl()), 64));
  for (size_t m0 = 0; m0 < m; m0 += mr) {
    const size_t rows = m - m0 < mr ? m - m0 : mr;
    LhsFormat::pack_panel_sme2({call.a.data + m0 * call.a.ld, rows, k, call.a.ld}, panel);
    Kernel::run(rows, 0, call.c.cols, k, panel, call.rhs_payload, call.has_bias, call.clamp,
                call.c.data + Kernel::dst_offset(m0, 0, call.c.ld), call.c.ld, scratch);
  }
}

// Few rows: the small-M kernel reads A where it lies and needs no workspace.
template <class Kernel, class Lhs, class Out>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void run_gemm_small_m_sme2(
    const GemmCall<Lhs, Out>& call) {
  Kernel::run(call.a.rows, call.c.cols, call.a.cols, call.a.data, call.a.ld, call.rhs_payload,
              call.has_bias, call.clamp, call.c.data, call.c.ld);
}
#endif

}  // namespace detail
}  // namespace sme2k
