// The tile loops of validated GEMM and batched-matmul calls, per path. This is the only place
// that enters streaming mode: each SME2 driver is locally streaming with its own ZA, so one
// op call toggles streaming mode exactly twice (in, out) whatever the shape or the batch,
// and everything it calls (packers, kernels, epilogue) is inlined streaming code.
//
// Loop order: for each 2VL-row panel of A, pack it (through ZA) into the workspace, then run
// the kernel across all of N. The panel (2VL x K) stays in L1 while N / 2VL blocks reuse it;
// the packed weights stream through once per panel. A task of a parallel call
// (ops/detail/tasks.hpp) runs the same loops on its block of C: gemm_task() rebases the call
// on the block's first row and column. Few rows (the small-M kernel) read A
// where it lies. Activations packed before the call (gemm_pack_lhs: QD8's quantized rows,
// shared by several GEMMs on the same input) go through the same panel loop. A batched call
// packs its B at run time into the workspace first, once per batch (or once, when B is
// broadcast).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/formats/packed_header.hpp"
#include "sme2k/kernels/registry.hpp"
#include "sme2k/ops/detail/tasks.hpp"
#include "sme2k/types/layout.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"

namespace sme2k {
namespace detail {

/// Kernels that need a workspace of their own beyond the driver's (workspace_bytes(K)).
template <class K, class = void>
struct HasWorkspace : std::false_type {};
template <class K>
struct HasWorkspace<K, std::void_t<decltype(K::workspace_bytes(size_t{}))>> : std::true_type {};

/// Kernels that take all of A packed first and loop over weight panels outside
/// (Kernel::multiply(); the 4-bit kernels, which expand each weight panel once per call).
template <class K, class = void>
inline constexpr bool kWeightsOuter = false;
template <class K>
inline constexpr bool kWeightsOuter<K, std::enable_if_t<K::kWeightsOuter>> = true;

/// Bytes of all packed LHS panels of an M x K A (64-byte multiple); false on overflow.
template <class LhsFormat>
bool checked_lhs_panels_bytes(size_t m, size_t k, size_t vl, size_t* bytes) {
  size_t panel = 0, all = 0;
  if (!LhsFormat::checked_panel_bytes(k, vl, &panel) ||
      !checked_mul(panel, ceil_div(m, LhsFormat::mr(vl)), &all) || !checked_add(all, 63, &all)) {
    return false;
  }
  *bytes = all / 64 * 64;
  return true;
}

/// The epilogue plan of a call on packed weights: the output zero point and the has-bias flag
/// come from their (checked) header, read here once for both paths.
inline EpiloguePlan plan_for_weights(const GemmEpilogue& e, const PackedHeader& weights) {
  EpiloguePlan plan = plan_epilogue(e, weights.variant_param);
  plan.add_bias = weights.has_bias();
  return plan;
}

/// A GEMM call after validation: every pointer usable, every size consistent.
template <class Lhs, class Out>
struct GemmCall {
  MatrixView<const Lhs> a;  // (M, K)
  const void* rhs_payload;  // packed weights after the header
  bool has_bias;
  MatrixView<Out> c;  // (M, N), or (N, M) with plan.transposed
  EpiloguePlan plan;
  void* workspace;  // 64-byte aligned: LHS panel, then epilogue scratch (any-M SME2 kernel)
  bool small_m;     // the small-M kernel runs (decided on the whole call's M)
};

/// A GEMM call on activations gemm_pack_lhs() packed before, after validation.
template <class Out>
struct PackedLhsCall {
  size_t m, k;              // this call's rows: [row0, row0 + m) of the packed ones
  const void* lhs_payload;  // packed activations after the header
  size_t lhs_rows;          // rows packed there
  size_t row0;
  const void* rhs_payload;  // packed weights after the header
  bool has_bias;
  MatrixView<Out> c;  // (M, N), or (N, M) with plan.transposed
  EpiloguePlan plan;
  void* workspace;  // 64-byte aligned: the kernel's scratch (SME2), or nothing
};

/// A batched call after validation: batch i reads A at a.data + i * a_stride, B at b.data +
/// i * b_stride (0: the same B for all) and writes C at c.data + i * c_stride (elements).
template <class Lhs, class Rhs, class Out>
struct BatchCall {
  size_t batch;
  MatrixView<const Lhs> a;  // batch 0: (M, K)
  size_t a_stride;
  MatrixView<const Rhs> b;  // batch 0: (K, N) or (N, K) as `layout` says
  RhsLayout layout;
  size_t b_stride;
  MatrixView<Out> c;  // batch 0: (M, N), or (N, M) with plan.transposed
  size_t c_stride;
  EpiloguePlan plan;
  void* workspace;        // 64-byte aligned: packed B payload, then what the kernel needs
  size_t packed_b_bytes;  // rounded up to 64
  bool small_m;           // the small-M kernel runs (decided on the whole call's M)
};

template <class T>
MatrixView<T> batch_item(MatrixView<T> m, size_t stride, size_t i) {
  return {m.data + i * stride, m.rows, m.cols, m.ld};
}

/// N of a call: the columns of C, or its rows when C is stored transposed.
template <class Out>
size_t output_columns(const MatrixView<Out>& c, const EpiloguePlan& plan) {
  return plan.transposed ? c.rows : c.cols;
}

/// The epilogue of the output columns from n0 on: its per-channel vectors start there.
SME2K_ALWAYS_INLINE EpiloguePlan plan_from_column(EpiloguePlan plan,
                                                  size_t n0) SME2K_STREAMING_COMPATIBLE {
  if (plan.scale != nullptr) plan.scale += n0;
  if (plan.shift != nullptr) plan.shift += n0;
  if (plan.int8_stages.affine()) {
    plan.int8_stages.scale += n0;
    plan.int8_stages.shift += n0;
  }
  return plan;
}

/// Rows `rows` x columns `cols` of C (M x N), stored as C is (transposed: C^T is N x M).
template <class Out>
MatrixView<Out> output_block(MatrixView<Out> c, bool transposed, Range rows, Range cols) {
  if (transposed) return {c.data + cols.begin * c.ld + rows.begin, cols.size(), rows.size(), c.ld};
  return {c.data + rows.begin * c.ld + cols.begin, rows.size(), cols.size(), c.ld};
}

/// Packed weights from column n0 on (a multiple of the format's panel width): every format
/// stores whole column panels one after the other.
template <class RhsFormat>
const void* rhs_from_column(const void* payload, size_t n0, size_t k, size_t vl) {
  return static_cast<const uint8_t*>(payload) +
         n0 / RhsFormat::nr(vl) * RhsFormat::panel_bytes(k, vl);
}

/// Rows and rebased A of a call: the activations as given, or packed before the call.
template <class Lhs, class Out>
size_t call_rows(const GemmCall<Lhs, Out>& call) {
  return call.a.rows;
}
template <class Lhs, class Out>
void rebase_rows(GemmCall<Lhs, Out>* t, Range rows) {
  t->a = {t->a.data + rows.begin * t->a.ld, rows.size(), t->a.cols, t->a.ld};
}
template <class Out>
size_t call_rows(const PackedLhsCall<Out>& call) {
  return call.m;
}
template <class Out>
void rebase_rows(PackedLhsCall<Out>* t, Range rows) {
  t->m = rows.size();
  t->row0 += rows.begin;
}

/// The part of `call` that task `task` of `grid` computes, with its own workspace slice:
/// rows of A and C (2VL-row panels), columns of the weights and C (weight panels), rebased
/// on the block's first row and column. One task: the call itself.
template <class Kernel, class Call>
Call gemm_task(const Call& call, size_t k, const TaskGrid& grid, size_t task, size_t slice) {
  if (grid.count() == 1) return call;
  const size_t vl = kernel_vl<Kernel>();
  const Range rows = units_to_elements(grid.rows(task), Kernel::m_step(vl), call_rows(call));
  const Range cols = units_to_elements(grid.cols(task), Kernel::RhsFormat::nr(vl),
                                       output_columns(call.c, call.plan));
  Call t = call;
  rebase_rows(&t, rows);
  t.rhs_payload = rhs_from_column<typename Kernel::RhsFormat>(call.rhs_payload, cols.begin, k, vl);
  t.c = output_block(call.c, call.plan.transposed, rows, cols);
  t.plan = plan_from_column(call.plan, cols.begin);
  t.workspace = task_workspace(call.workspace, slice, task);
  return t;
}

template <class Kernel, class Lhs, class Out>
void run_gemm_portable(const GemmCall<Lhs, Out>& call) {
  if constexpr (std::is_same_v<typename Kernel::LhsFormat::Element, Lhs>) {
    Kernel::run(call.a.rows, 0, output_columns(call.c, call.plan), call.a.cols, call.a.data,
                call.a.ld, call.rhs_payload, call.plan, call.c.data, call.c.ld);
  } else {  // the kernel converts A (QD8 quantizes it) through the workspace
    Kernel::run(call.a.rows, 0, output_columns(call.c, call.plan), call.a.cols, call.a.data,
                call.a.ld, call.rhs_payload, call.plan, call.c.data, call.c.ld, call.workspace);
  }
}

template <class Kernel, class Out>
void run_gemm_packed_lhs_portable(const PackedLhsCall<Out>& call) {
  Kernel::run_packed(call.m, 0, output_columns(call.c, call.plan), call.k, call.lhs_payload,
                     call.lhs_rows, call.row0, call.rhs_payload, call.plan, call.c.data, call.c.ld);
}

template <class Kernel, class Lhs, class Rhs, class Out>
void run_batch_portable(const BatchCall<Lhs, Rhs, Out>& call) {
  for (size_t i = 0; i < call.batch; ++i) {
    if (i == 0 || call.b_stride != 0) {
      Kernel::RhsFormat::pack(batch_item(call.b, call.b_stride, i), call.layout,
                              static_cast<const float*>(nullptr), 0, call.workspace);
    }
    const MatrixView<const Lhs> a = batch_item(call.a, call.a_stride, i);
    const MatrixView<Out> c = batch_item(call.c, call.c_stride, i);
    Kernel::run(a.rows, 0, output_columns(c, call.plan), a.cols, a.data, a.ld, call.workspace,
                call.plan, c.data, c.ld);
  }
}

#if SME2K_HAS_SME2_CODE
/// A as the any-M SME2 kernel reads it, one 2VL-row panel at a time: packed per call into
/// the workspace from where it lies ...
template <class LhsFormat, class Lhs>
struct PanelsPackedPerCall {
  MatrixView<const Lhs> a;
  void* panel;    // LhsFormat::panel_bytes(K, VL)
  void* scratch;  // the kernel's scratch, which the packer may use before the kernel runs

  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE const void* panel_at(size_t m0, size_t rows)
      SME2K_STREAMING SME2K_INOUT_ZA {
    LhsFormat::pack_panel_sme2(MatrixView<const Lhs>{a.data + m0 * a.ld, rows, a.cols, a.ld}, panel,
                               scratch);
    return panel;
  }
};

/// ... or packed before the call (gemm_pack_lhs): panel i at panels + i * panel_bytes.
struct PanelsPackedBefore {
  const uint8_t* panels;
  size_t panel_bytes;
  size_t rows_per_panel;

  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE const void* panel_at(size_t m0, size_t /*rows*/) const
      SME2K_STREAMING_COMPATIBLE {
    return panels + m0 / rows_per_panel * panel_bytes;
  }
};

/// C = epilogue(A x packed B) for the m rows of A that `panels` hands out, panel by panel.
template <class Kernel, class Panels, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void multiply_panels(
    size_t m, size_t k, Panels& panels, const void* rhs_payload, bool has_bias,
    const EpiloguePlan& plan, MatrixView<Out> c, float* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t n = output_columns(c, plan);
  const size_t mr = Kernel::m_step(sme2::vl());
  for (size_t m0 = 0; m0 < m; m0 += mr) {
    const size_t rows = m - m0 < mr ? m - m0 : mr;
    const void* panel = panels.panel_at(m0, rows);
    Out* out = plan.transposed ? c.data + m0 : c.data + m0 * c.ld;
    Kernel::run(rows, 0, n, k, panel, rhs_payload, has_bias, plan, out, c.ld, scratch);
  }
}

/// Where the epilogue scratch starts in a workspace that begins with one LHS panel.
template <class LhsFormat>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE float* scratch_after_panel(
    void* workspace, size_t k, size_t vl) SME2K_STREAMING_COMPATIBLE {
  return reinterpret_cast<float*>(static_cast<uint8_t*>(workspace) +
                                  round_up(LhsFormat::panel_bytes(k, vl), 64));
}

/// C = epilogue(A x packed B) on SME2, in streaming mode with ZA: the small-M kernel for few
/// rows (small_m: SmallM is not void, few rows, row-major C), else panels of A through the
/// any-M kernel. `workspace` holds the LHS panel and the epilogue scratch (unused for few rows).
template <class Kernel, class SmallM, class Lhs, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void multiply_sme2(
    MatrixView<const Lhs> a, const void* rhs_payload, bool has_bias, const EpiloguePlan& plan,
    MatrixView<Out> c, void* workspace, bool small_m) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t m = a.rows, k = a.cols, n = output_columns(c, plan);
  if constexpr (!std::is_void_v<SmallM>) {
    if (small_m) {
      if constexpr (HasWorkspace<SmallM>::value) {  // it converts A (QD8 quantizes it)
        SmallM::run(m, n, k, a.data, a.ld, rhs_payload, has_bias, plan, c.data, c.ld, workspace);
      } else {
        SmallM::run(m, n, k, a.data, a.ld, rhs_payload, has_bias, plan, c.data, c.ld);
      }
      return;
    }
  }
  using LhsFormat = typename Kernel::LhsFormat;
  const size_t vl = sme2::vl();
  if constexpr (kWeightsOuter<Kernel>) {
    // All of A first, into the workspace; then the weight panels (the kernel's loop).
    const size_t mr = LhsFormat::mr(vl), panel_bytes = LhsFormat::panel_bytes(k, vl);
    // The op checked checked_lhs_panels_bytes() for overflow.
    const size_t panels_bytes = round_up(ceil_div(m, mr) * panel_bytes, 64);
    auto* packed = static_cast<uint8_t*>(workspace);
    void* rest = packed + panels_bytes;
    void* pack_scratch =
        static_cast<uint8_t*>(rest) + Kernel::expanded_bytes(k, vl);  // the kernel's scratch
    for (size_t m0 = 0; m0 < m; m0 += mr) {
      const size_t rows = m - m0 < mr ? m - m0 : mr;
      LhsFormat::pack_panel_sme2(MatrixView<const Lhs>{a.data + m0 * a.ld, rows, k, a.ld},
                                 packed + m0 / mr * panel_bytes, pack_scratch);
    }
    const PanelsPackedBefore panels{packed, panel_bytes, mr};
    Kernel::multiply(m, n, k, panels, rhs_payload, has_bias, plan, c.data, c.ld, rest);
  } else {
    float* scratch = scratch_after_panel<LhsFormat>(workspace, k, vl);
    PanelsPackedPerCall<LhsFormat, Lhs> panels{a, workspace, scratch};
    multiply_panels<Kernel>(m, k, panels, rhs_payload, has_bias, plan, c, scratch);
  }
}

template <class Kernel, class SmallM, class Lhs, class Out>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void run_gemm_sme2(
    const GemmCall<Lhs, Out>& call) {
  multiply_sme2<Kernel, SmallM>(call.a, call.rhs_payload, call.has_bias, call.plan, call.c,
                                call.workspace, call.small_m);
}

#if SME2K_HAS_SME_F16F16_CODE
// The f16-accumulating kernel needs FEAT_SME_F16F16 in every function it is inlined into,
// and a target attribute cannot depend on a template argument: hence this copy of the
// panel loop of multiply_sme2() (which has no small-M branch: no such kernel on this path).
template <class Kernel, class Lhs, class Out>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2_F16F16 void run_gemm_sme2_f16f16(
    const GemmCall<Lhs, Out>& call) {
  using LhsFormat = typename Kernel::LhsFormat;
  const MatrixView<const Lhs> a = call.a;
  const size_t m = a.rows, k = a.cols, n = output_columns(call.c, call.plan);
  const size_t vl = sme2::vl();
  const size_t mr = Kernel::m_step(vl);
  void* panel = call.workspace;
  float* scratch = scratch_after_panel<LhsFormat>(call.workspace, k, vl);
  for (size_t m0 = 0; m0 < m; m0 += mr) {
    const size_t rows = m - m0 < mr ? m - m0 : mr;
    LhsFormat::pack_panel_sme2(MatrixView<const Lhs>{a.data + m0 * a.ld, rows, k, a.ld}, panel,
                               scratch);
    Out* out = call.plan.transposed ? call.c.data + m0 : call.c.data + m0 * call.c.ld;
    Kernel::run(rows, 0, n, k, panel, call.rhs_payload, call.has_bias, call.plan, out, call.c.ld,
                scratch);
  }
}
#endif  // SME2K_HAS_SME_F16F16_CODE

template <class Kernel, class Out>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA
    SME2K_TARGET_SME2 void run_gemm_packed_lhs_sme2(const PackedLhsCall<Out>& call) {
  using LhsFormat = typename Kernel::PackedLhsFormat;
  const size_t vl = sme2::vl();
  const size_t mr = LhsFormat::mr(vl), panel_bytes = LhsFormat::panel_bytes(call.k, vl);
  // Tasks start on panel boundaries (row0 a multiple of mr).
  PanelsPackedBefore panels{
      static_cast<const uint8_t*>(call.lhs_payload) + call.row0 / mr * panel_bytes, panel_bytes,
      mr};
  if constexpr (kWeightsOuter<Kernel>) {
    Kernel::multiply(call.m, output_columns(call.c, call.plan), call.k, panels, call.rhs_payload,
                     call.has_bias, call.plan, call.c.data, call.c.ld, call.workspace);
  } else {
    multiply_panels<Kernel>(call.m, call.k, panels, call.rhs_payload, call.has_bias, call.plan,
                            call.c, static_cast<float*>(call.workspace));
  }
}

/// Packs A's rows, panel after panel, as gemm_pack_lhs() stores them (`a` starts on a panel
/// boundary, `payload` at its panel). The packer's scratch is on the stack:
/// LhsFormat::pack_scratch_bytes() at the largest SVL (32 KiB for QD8).
template <class LhsFormat, class Lhs>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void pack_lhs_sme2(MatrixView<const Lhs> a,
                                                                          void* payload) {
  alignas(64) uint8_t scratch[LhsFormat::pack_scratch_bytes(kMaxVl)];
  const size_t vl = sme2::vl();
  const size_t mr = LhsFormat::mr(vl), panel_bytes = LhsFormat::panel_bytes(a.cols, vl);
  for (size_t m0 = 0; m0 < a.rows; m0 += mr) {
    const size_t rows = a.rows - m0 < mr ? a.rows - m0 : mr;
    LhsFormat::pack_panel_sme2(MatrixView<const Lhs>{a.data + m0 * a.ld, rows, a.cols, a.ld},
                               static_cast<uint8_t*>(payload) + m0 / mr * panel_bytes, scratch);
  }
}

template <class Kernel, class SmallM, class Lhs, class Rhs, class Out>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void run_batch_sme2(
    const BatchCall<Lhs, Rhs, Out>& call) {
  using RhsFormat = typename Kernel::RhsFormat;
  const size_t vl = sme2::vl();
  const size_t width = RhsFormat::nr(vl);
  const size_t n = output_columns(call.c, call.plan), k = call.a.cols;
  auto* payload = static_cast<uint8_t*>(call.workspace);
  for (size_t i = 0; i < call.batch; ++i) {
    if (i == 0 || call.b_stride != 0) {
      const MatrixView<const Rhs> b = batch_item(call.b, call.b_stride, i);
      for (size_t n0 = 0; n0 < n; n0 += width) {
        RhsFormat::pack_panel_sme2(b, call.layout, n0,
                                   payload + n0 / width * RhsFormat::panel_bytes(k, vl));
      }
    }
    multiply_sme2<Kernel, SmallM>(batch_item(call.a, call.a_stride, i), payload, false, call.plan,
                                  batch_item(call.c, call.c_stride, i),
                                  payload + call.packed_b_bytes, call.small_m);
  }
}
#endif

}  // namespace detail
}  // namespace sme2k
