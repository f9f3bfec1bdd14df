// Batched matmul: C[i] = epilogue(A[i] x B[i]) for i < batch, with B given raw ([K x N] or the
// attention form [N x K], e.g. Q x K^T) and packed inside the op, at run time, into the
// workspace: B is an activation here, not a weight packed once.
//
// Batch i reads A at a.data + i * a_stride, B at b.data + i * b_stride and writes C at
// c.data + i * c_stride (elements). b_stride = 0 broadcasts one B over the batch (packed
// once); a_stride = 0 likewise. Streaming mode is entered once for the whole batch. On SME2,
// B is packed panel by panel through ZA (N x K) or by row copies / pair zips (K x N), then
// the same kernels as gemm() run over it (the small-M kernel below 8 rows). No bias: fold
// one into a GEMM's packed weights, or add it in the next op.
//
// Usage:
//   batch_matmul_workspace_size<F16>(batch, m, n, k, &bytes);          // then allocate
//   batch_matmul<F16>(8, q, q_stride, k_mat, RhsLayout::kNxK, k_stride,
//                     scores (MatrixView<float>), s_stride, {}, ws, bytes);
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/kernels/registry.hpp"
#include "sme2k/ops/detail/gemm_driver.hpp"
#include "sme2k/ops/detail/validate.hpp"
#include "sme2k/ops/gemm.hpp"
#include "sme2k/ops/op_plan.hpp"
#include "sme2k/types/layout.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {
namespace detail {

/// How batch_matmul() splits a call into tasks: batch items first, then 2VL-row panels of
/// each item's A. A task packs the B of each of its items itself (B is N x K, an item's
/// work M x N x K: several tasks on one item repeat that packing, not the work).
template <class V, class Kernel>
TaskGrid batch_task_grid(size_t batch, size_t m, OutputOrder order, size_t budget) {
  const size_t row_units = uses_small_m_kernel<V, Kernel>(m, order)
                               ? 1
                               : ceil_div(m, Kernel::m_step(kernel_vl<Kernel>()));
  return plan_tasks(batch, row_units, budget);
}

// Per task: packed B (rounded to a cache line), then what the kernel needs (the GEMM task's
// workspace).
template <class V, class Kernel>
bool batch_workspace_bytes(size_t m, size_t n, size_t k, size_t vl, OutputOrder order,
                           const TaskGrid& grid, size_t* packed_b, size_t* slice, size_t* bytes) {
  const size_t rows = std::min(m, grid.max_cols() * Kernel::m_step(vl));
  size_t gemm = 0;
  return gemm_payload_bytes<Kernel>(n, k, vl, packed_b) &&
         checked_add(*packed_b, kWorkspaceAlignment - 1, packed_b) &&
         (*packed_b = *packed_b / kWorkspaceAlignment * kWorkspaceAlignment, true) &&
         gemm_task_workspace_bytes<V, Kernel>(m, rows, k, vl, order, &gemm) &&
         checked_add(*packed_b, gemm, slice) &&
         checked_add(*slice, kWorkspaceAlignment - 1, slice) &&
         task_workspace_bytes(*slice, grid.count(), bytes);
}

/// Items `items` of a validated call, rows `rows` of each, with their own workspace.
template <class Lhs, class Rhs, class Out>
BatchCall<Lhs, Rhs, Out> batch_task(const BatchCall<Lhs, Rhs, Out>& call, Range items, Range rows,
                                    void* workspace) {
  BatchCall<Lhs, Rhs, Out> t = call;
  t.batch = items.size();
  t.a = batch_item(call.a, call.a_stride, items.begin);
  t.a = {t.a.data + rows.begin * t.a.ld, rows.size(), t.a.cols, t.a.ld};
  t.b = batch_item(call.b, call.b_stride, items.begin);
  t.c = output_block(batch_item(call.c, call.c_stride, items.begin), call.plan.transposed, rows,
                     {0, output_columns(call.c, call.plan)});
  t.workspace = workspace;
  return t;
}

/// Elements spanned by `batch` matrices `stride` apart; false when it does not fit.
template <class T>
bool checked_batch_span(size_t batch, size_t stride, const MatrixView<T>& m, size_t* elements) {
  size_t one = 0;
  return checked_extent(m.rows, m.cols, m.ld, sizeof(T), &one) &&
         checked_mul(batch - 1, stride, elements) && checked_add(*elements, one, elements) &&
         *elements <= static_cast<size_t>(PTRDIFF_MAX) / sizeof(T);
}

}  // namespace detail

namespace detail {

/// batch_matmul_plan() of a call, with `op` naming the entry in errors.
template <class V>
Status plan_batch_matmul(size_t batch, size_t m, size_t n, size_t k, OutputOrder order,
                         const ParallelFor& parallel, const char* op, OpPlan* plan) {
  if (batch == 0 || m == 0 || n == 0 || k == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: batch, M, N, K (%zu, %zu, %zu, %zu) must be >= 1", op, batch, m, n,
                         k);
  }
  return visit_gemm_kernel<V, /*kF16F16=*/false>(select_path(), [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    size_t packed_b = 0, slice = 0, bytes = 0;
    const TaskGrid grid = batch_task_grid<V, Kernel>(batch, m, order, task_budget(parallel));
    if (!batch_workspace_bytes<V, Kernel>(m, n, k, kernel_vl<Kernel>(), order, grid, &packed_b,
                                          &slice, &bytes)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: N=%zu, K=%zu overflow", op, n, k);
    }
    plan->kernel = Kernel::kName;
    if constexpr (!std::is_void_v<SmallMKernelFor<V, Kernel>>) {
      if (uses_small_m_kernel<V, Kernel>(m, order))
        plan->kernel = SmallMKernelFor<V, Kernel>::kName;
    }
    plan->path = Kernel::kPath;
    plan->tasks = grid.count();
    plan->workspace_bytes = bytes;
    return Status();
  });
}

}  // namespace detail

/// What batch_matmul() will do for the call (kernel, path, tasks, workspace; gemm_plan()).
template <class V = F32>
Status batch_matmul_plan(size_t batch, size_t m, size_t n, size_t k, OpPlan* plan,
                         OutputOrder order = OutputOrder::kRowMajor,
                         const ParallelFor& parallel = {}) {
  if (plan == nullptr) {
    return Status::error(StatusCode::kNullPointer, "batch_matmul_plan: plan is null");
  }
  return detail::plan_batch_matmul<V>(batch, m, n, k, order, parallel, "batch_matmul_plan", plan);
}

/// Bytes of scratch batch_matmul() needs (per task: packed B for one batch item and the
/// kernel's), for C stored in `order` (the epilogue's), run with `parallel`. The same bytes
/// serve every smaller M of the call.
template <class V = F32>
Status batch_matmul_workspace_size(size_t batch, size_t m, size_t n, size_t k, size_t* bytes,
                                   OutputOrder order = OutputOrder::kRowMajor,
                                   const ParallelFor& parallel = {}) {
  constexpr const char* op = "batch_matmul_workspace_size";
  if (bytes == nullptr) return Status::error(StatusCode::kNullPointer, "%s: bytes is null", op);
  OpPlan plan;
  SME2K_RETURN_IF_ERROR(detail::plan_batch_matmul<V>(batch, m, n, k, order, parallel, op, &plan));
  *bytes = plan.workspace_bytes;
  return Status();
}

/// C[i] = epilogue(A[i] x B[i]) for i < batch (activation, affine, clamp, order).
/// @param[in]  a, a_stride  batch 0's M x K, elements between batch items (0: broadcast)
/// @param[in]  b, b_layout  batch 0's B: K x N (kKxN) or N x K (kNxK, as attention's K)
/// @param[in]  b_stride     elements between batch items of B (0: one B for all)
/// @param[out] c, c_stride  batch 0's M x N; items must not overlap (c_stride >= extent)
/// @param[in]  workspace    >= batch_matmul_workspace_size() bytes with the same `parallel`
/// @param[in]  parallel     the runtime's parallel-for (types/parallel.hpp); default: serial
/// (F16Acc16 runs with f32 accumulation here: its packed format has no run-time packer yet.)
template <class V = F32, class Out = typename VariantTraits<V>::Out>
Status batch_matmul(size_t batch, MatrixView<const typename VariantTraits<V>::Lhs> a,
                    size_t a_stride, MatrixView<const typename VariantTraits<V>::Rhs> b,
                    RhsLayout b_layout, size_t b_stride, MatrixView<Out> c, size_t c_stride,
                    const GemmEpilogue& epilogue, void* workspace, size_t workspace_bytes,
                    const ParallelFor& parallel = {}) {
  static_assert(VariantTraits<V>::template kOutputs<Out>,
                "sme2k: this variant does not write that output type");
  constexpr const char* op = "batch_matmul";
  if (batch == 0) return Status::error(StatusCode::kInvalidArgument, "%s: batch is 0", op);
  SME2K_RETURN_IF_ERROR(detail::validate_matrix(a, op, "A"));
  SME2K_RETURN_IF_ERROR(detail::validate_matrix(b, op, "B"));
  SME2K_RETURN_IF_ERROR(detail::validate_matrix(c, op, "C"));
  if (b_layout != RhsLayout::kKxN && b_layout != RhsLayout::kNxK) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown RhsLayout %d", op,
                         static_cast<int>(b_layout));
  }
  SME2K_RETURN_IF_ERROR(validate_epilogue(epilogue, op));
  const bool transposed = epilogue.order == OutputOrder::kTransposed;
  const size_t m = a.rows, k = a.cols;
  const RhsShape shape = rhs_shape(b.rows, b.cols, b_layout);
  const size_t n = shape.n, b_k = shape.k;
  const size_t c_m = transposed ? c.cols : c.rows, c_n = transposed ? c.rows : c.cols;
  if (b_k != k || c_m != m || c_n != n) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: shapes do not chain: A %zu x %zu, B gives K=%zu N=%zu, C %zu x %zu",
                         op, m, k, b_k, n, c.rows, c.cols);
  }
  size_t a_span = 0, b_span = 0, c_span = 0, c_one = 0;
  if (!detail::checked_batch_span(batch, a_stride, a, &a_span) ||
      !detail::checked_batch_span(batch, b_stride, b, &b_span) ||
      !detail::checked_batch_span(batch, c_stride, c, &c_span)) {
    return Status::error(StatusCode::kSizeOverflow, "%s: %zu batch items at these strides overflow",
                         op, batch);
  }
  checked_extent(c.rows, c.cols, c.ld, sizeof(Out), &c_one);
  if (batch > 1 && c_stride < c_one) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: C items overlap: c_stride %zu is below one item's %zu elements", op,
                         c_stride, c_one);
  }
  using Lhs = typename VariantTraits<V>::Lhs;
  using Rhs = typename VariantTraits<V>::Rhs;
  const auto a0 = reinterpret_cast<uintptr_t>(a.data), a1 = a0 + a_span * sizeof(Lhs);
  const auto b0 = reinterpret_cast<uintptr_t>(b.data), b1 = b0 + b_span * sizeof(Rhs);
  const auto c0 = reinterpret_cast<uintptr_t>(c.data), c1 = c0 + c_span * sizeof(Out);
  if (detail::ranges_overlap(c0, c1, a0, a1) || detail::ranges_overlap(c0, c1, b0, b1)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: C overlaps A or B", op);
  }
  SME2K_RETURN_IF_ERROR(detail::validate_output_stages<Out>(epilogue, n, c0, c1, op));
  return visit_gemm_kernel<V, /*kF16F16=*/false>(select_path(), [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    const size_t vl = kernel_vl<Kernel>();
    const detail::TaskGrid grid =
        detail::batch_task_grid<V, Kernel>(batch, m, epilogue.order, detail::task_budget(parallel));
    size_t packed_b = 0, slice = 0, needed = 0;
    if (!detail::batch_workspace_bytes<V, Kernel>(m, n, k, vl, epilogue.order, grid, &packed_b,
                                                  &slice, &needed)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: sizes overflow", op);
    }
    if (workspace == nullptr)
      return Status::error(StatusCode::kNullPointer, "%s: workspace is null", op);
    if (workspace_bytes < needed) {
      return Status::error(StatusCode::kBufferTooSmall, "%s: workspace has %zu bytes, needs %zu",
                           op, workspace_bytes, needed);
    }
    const auto w = reinterpret_cast<uintptr_t>(workspace);
    if (detail::ranges_overlap(w, w + needed, a0, a1) ||
        detail::ranges_overlap(w, w + needed, b0, b1) ||
        detail::ranges_overlap(w, w + needed, c0, c1)) {
      return Status::error(StatusCode::kInvalidArgument, "%s: workspace overlaps A, B or C", op);
    }
    const detail::BatchCall<Lhs, Rhs, Out> call{
        batch,
        a,
        a_stride,
        b,
        b_layout,
        b_stride,
        c,
        c_stride,
        plan_epilogue(epilogue),
        detail::align_workspace(workspace),
        packed_b,
        detail::uses_small_m_kernel<V, Kernel>(m, epilogue.order)};
    const size_t mr = Kernel::m_step(vl);
    const bool ok = detail::run_tasks(parallel, grid.count(), vl, [&](size_t t) {
      const auto task = grid.count() == 1
                            ? call
                            : detail::batch_task(call, grid.rows(t),
                                                 detail::units_to_elements(grid.cols(t), mr, m),
                                                 detail::task_workspace(call.workspace, slice, t));
      if constexpr (Kernel::kPath == Path::kPortable) {
        detail::run_batch_portable<Kernel>(task);
      } else {
#if SME2K_HAS_SME2_CODE
        detail::run_batch_sme2<Kernel, detail::SmallMKernelFor<V, Kernel>>(task);
#endif
      }
    });
    if (!ok) return detail::svl_mismatch(op, vl);
    detail::record_path(Kernel::kPath);
    return Status();
  });
}

}  // namespace sme2k
