// GEMM: C[M x N] = epilogue(A[M x K] * B[K x N] + bias), for every variant V.
//
// Weights are packed once (gemm_pack_rhs) into a buffer that records variant, format, path
// and SVL; each call then packs A per 2VL-row panel into a caller workspace
// (gemm_workspace_size) or an allocating overload does it for you. The op validates
// everything at the door (sizes, overflow, nulls, strides, buffer sizes, overlap, packed
// header), picks the path once (arch/dispatch.hpp), and hands a consistent call to the
// driver; kernels never check. Nothing allocates except the convenience overload, nothing
// throws, every failure is a Status. A runtime's parallel-for (last argument) runs the call
// as tasks over blocks of C (ops/detail/tasks.hpp), bit-identical to the serial call.
//
// Usage:
//   size_t packed_bytes, ws_bytes;
//   gemm_packed_rhs_size<F32>(n, k, &packed_bytes);            // then allocate
//   gemm_pack_rhs<F32>(b_view, RhsLayout::kKxN, bias, packed, packed_bytes);
//   gemm_workspace_size<F32>(m, n, k, &ws_bytes);              // then allocate
//   gemm<F32>(a_view, packed, packed_bytes, c_view, {}, ws, ws_bytes);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <type_traits>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/formats/packed_header.hpp"
#include "sme2k/kernels/registry.hpp"
#include "sme2k/ops/detail/gemm_driver.hpp"
#include "sme2k/ops/detail/validate.hpp"
#include "sme2k/ops/gemm_pack.hpp"
#include "sme2k/ops/op_plan.hpp"
#include "sme2k/types/alignment.hpp"
#include "sme2k/types/layout.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {
namespace detail {

/// The small-M kernel the op runs instead of Kernel for few rows (void: none). It reads the
/// same packed weights.
template <class V, class Kernel>
using SmallMKernelFor = GemmKernelFor<V, Kernel::kPath, KernelUse::kSmallM>;

template <class V, class Kernel>
bool uses_small_m_kernel(size_t m, OutputOrder order) {
  using SmallM = SmallMKernelFor<V, Kernel>;
  if constexpr (std::is_void_v<SmallM>) {
    return false;
  } else {
    static_assert(std::is_same_v<typename SmallM::RhsFormat, typename Kernel::RhsFormat>,
                  "the small-M kernel must read the weights the any-M kernel reads");
    return m <= SmallM::kMaxRows && order == OutputOrder::kRowMajor;
  }
}

// The SME2 driver's workspace: one packed LHS panel, then the epilogue scratch, each on a
// cache line; plus the slack to align an arbitrary caller pointer. Kernels that read A where
// it lies (portable, small M) need none, unless they convert it (HasWorkspace: QD8).

template <class K, class = void>
inline constexpr bool kReadsPackedLhs = false;
template <class K>
inline constexpr bool kReadsPackedLhs<K, std::void_t<typename K::PackedLhsFormat>> = true;

/// Variants whose activations can be packed before the call (ops/gemm_packed_lhs.hpp): their
/// kernels read activations packed in a format of their own (PackedLhsFormat: QD8's
/// quantized rows, where the quantization is the work saved).
template <class V>
inline constexpr bool kPacksLhs = kReadsPackedLhs<GemmKernelFor<V, Path::kPortable>>;

/// Workspace of gemm() on packed activations: the kernel's scratch (and, for kernels that
/// expand their weights, the expanded panel); nothing on the portable path.
template <class Kernel>
size_t packed_lhs_workspace_bytes(size_t k, size_t vl) {
  if constexpr (kWeightsOuter<Kernel>) {
    return Kernel::weights_workspace_bytes(k, vl) + kWorkspaceAlignment - 1;
  } else if constexpr (Kernel::kPath != Path::kPortable) {
    return Kernel::scratch_bytes(vl) + kWorkspaceAlignment - 1;
  } else {
    return 0;
  }
}

/// How gemm() splits an M x N call into tasks: 2VL-row panels of A by weight panels. Rows
/// first (a task packs each of its LHS panels once and runs it across its columns), except
/// for few rows (the small-M kernel: columns only) and for kernels that expand their 4-bit
/// weights (columns first: a task expands each of its weight panels once for its rows).
template <class V, class Kernel>
TaskGrid gemm_task_grid(size_t m, size_t n, OutputOrder order, size_t budget) {
  const size_t vl = kernel_vl<Kernel>();
  const size_t col_units = ceil_div(n, Kernel::RhsFormat::nr(vl));
  if (uses_small_m_kernel<V, Kernel>(m, order)) return plan_tasks(1, col_units, budget);
  return plan_tasks(ceil_div(m, Kernel::m_step(vl)), col_units, budget, kWeightsOuter<Kernel>);
}

/// Bytes of workspace one task of gemm() on A needs for a task of up to `rows` rows of the
/// any-M kernel, or for the small-M kernel.
template <class V, class Kernel>
bool gemm_kernel_workspace_bytes(size_t rows, size_t k, size_t vl, bool small_m, size_t* bytes) {
  if constexpr (Kernel::kPath == Path::kPortable) {
    *bytes = 0;
    if constexpr (HasWorkspace<Kernel>::value) {
      // A portable kernel with a workspace (QD8's quantized rows): K bounded by validation.
      return k <= (SIZE_MAX - kWorkspaceAlignment) / 8 &&
             checked_add(Kernel::workspace_bytes(k), kWorkspaceAlignment - 1, bytes);
    }
    return true;
  } else {
    if constexpr (!std::is_void_v<SmallMKernelFor<V, Kernel>>) {
      if (small_m) {
        using SmallM = SmallMKernelFor<V, Kernel>;
        *bytes = 0;
        if constexpr (HasWorkspace<SmallM>::value) {  // K bounded by validation
          return k <= (SIZE_MAX - 8 * kWorkspaceAlignment) / 8 &&
                 checked_add(SmallM::workspace_bytes(k), kWorkspaceAlignment - 1, bytes);
        }
        return true;
      }
    }
    size_t panel = 0;
    if constexpr (kWeightsOuter<Kernel>) {  // all of A's panels, then the kernel's own part
      return checked_lhs_panels_bytes<typename Kernel::LhsFormat>(rows, k, vl, &panel) &&
             checked_add(panel, Kernel::weights_workspace_bytes(k, vl) + kWorkspaceAlignment - 1,
                         bytes);
    }
    return Kernel::LhsFormat::checked_panel_bytes(k, vl, &panel) &&
           checked_add(panel, kWorkspaceAlignment - 1, &panel) &&
           checked_add(panel / kWorkspaceAlignment * kWorkspaceAlignment,
                       Kernel::scratch_bytes(vl) + kWorkspaceAlignment - 1, bytes);
  }
}

/// Bytes of workspace one task of gemm() on A needs for any call of up to m rows (the whole
/// call's M) whose tasks have up to `rows` rows each: a call with fewer rows may run the
/// small-M kernel, whose workspace can be the larger (QD8 quantizes its rows into it).
template <class V, class Kernel>
bool gemm_task_workspace_bytes(size_t m, size_t rows, size_t k, size_t vl, OutputOrder order,
                               size_t* bytes) {
  const bool small_m = uses_small_m_kernel<V, Kernel>(m, order);
  if (!gemm_kernel_workspace_bytes<V, Kernel>(rows, k, vl, small_m, bytes)) return false;
  if (!small_m && uses_small_m_kernel<V, Kernel>(1, order)) {
    size_t few = 0;
    if (!gemm_kernel_workspace_bytes<V, Kernel>(1, k, vl, true, &few)) return false;
    *bytes = std::max(*bytes, few);
  }
  return true;
}

/// Bytes of workspace gemm() needs with `grid`'s tasks (*slice: each task's), on A or
/// (kPacksLhs) on packed activations alike. A workspace of this size serves every smaller M
/// of the same call: the slice covers both kernels and the count every smaller call's grid.
template <class V, class Kernel>
bool gemm_workspace_bytes(size_t m, size_t k, size_t vl, OutputOrder order, const TaskGrid& grid,
                          size_t budget, size_t* bytes, size_t* slice) {
  const size_t rows = std::min(m, grid.max_rows() * Kernel::m_step(vl));
  if (!gemm_task_workspace_bytes<V, Kernel>(m, rows, k, vl, order, slice)) return false;
  if constexpr (kPacksLhs<V>) {
    // The call on packed activations needs the kernel's part only (K above kQd8MaxK is
    // refused by every entry: nothing to add).
    if (k <= kQd8MaxK) *slice = std::max(*slice, packed_lhs_workspace_bytes<Kernel>(k, vl));
  }
  const size_t small_m_tasks = std::min(grid.col_units, budget);
  return task_workspace_bytes(*slice, std::max(most_tasks_up_to(grid, budget), small_m_tasks),
                              bytes);
}

}  // namespace detail

namespace detail {

/// gemm_plan() of a call, with `op` naming the entry in errors.
template <class V>
Status plan_gemm(size_t m, size_t n, size_t k, OutputOrder order, const ParallelFor& parallel,
                 const char* op, OpPlan* plan) {
  if (m == 0 || n == 0 || k == 0) {
    return Status::error(StatusCode::kInvalidArgument, "%s: M, N, K (%zu, %zu, %zu) must be >= 1",
                         op, m, n, k);
  }
  return visit_gemm_kernel<V>(select_path_for<V>(), [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    const size_t budget = detail::task_budget(parallel);
    const detail::TaskGrid grid = detail::gemm_task_grid<V, Kernel>(m, n, order, budget);
    size_t bytes = 0, slice = 0;
    if (!detail::gemm_workspace_bytes<V, Kernel>(m, k, kernel_vl<Kernel>(), order, grid, budget,
                                                 &bytes, &slice)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: K=%zu overflows", op, k);
    }
    plan->kernel = Kernel::kName;
    if constexpr (!std::is_void_v<detail::SmallMKernelFor<V, Kernel>>) {
      if (detail::uses_small_m_kernel<V, Kernel>(m, order)) {
        plan->kernel = detail::SmallMKernelFor<V, Kernel>::kName;
      }
    }
    plan->path = Kernel::kPath;
    plan->tasks = grid.count();
    plan->workspace_bytes = bytes;
    return Status();
  });
}

}  // namespace detail

/// What gemm() will do for an M x N x K call with C stored in `order`, run with `parallel`:
/// the kernel (the small-M one for few rows), its path, the tasks and the workspace (which
/// also serves every smaller M of the same call). Ask it before the call to log which kernel
/// serves a layer or to size an arena; a portable kernel here means no SME2 on this CPU or in
/// this build (docs/dispatch.md). Calls on packed activations (gemm_packed_lhs.hpp) run the
/// same kernel and need no more workspace.
template <class V = F32>
Status gemm_plan(size_t m, size_t n, size_t k, OpPlan* plan,
                 OutputOrder order = OutputOrder::kRowMajor, const ParallelFor& parallel = {}) {
  if (plan == nullptr) return Status::error(StatusCode::kNullPointer, "gemm_plan: plan is null");
  SME2K_RETURN_IF_ERROR(detail::check_weight_depth<V>(k, "gemm_plan"));
  return detail::plan_gemm<V>(m, n, k, order, parallel, "gemm_plan", plan);
}

/// Bytes of scratch gemm() needs for an M x N x K call on the current path (0 is possible),
/// for C stored in `order` (the epilogue's), run with `parallel` (each task has its own).
/// The same bytes serve every smaller M of the call.
template <class V = F32>
Status gemm_workspace_size(size_t m, size_t n, size_t k, size_t* bytes,
                           OutputOrder order = OutputOrder::kRowMajor,
                           const ParallelFor& parallel = {}) {
  if (bytes == nullptr)
    return Status::error(StatusCode::kNullPointer, "gemm_workspace_size: bytes is null");
  SME2K_RETURN_IF_ERROR(detail::check_weight_depth<V>(k, "gemm_workspace_size"));
  OpPlan plan;
  SME2K_RETURN_IF_ERROR(
      detail::plan_gemm<V>(m, n, k, order, parallel, "gemm_workspace_size", &plan));
  *bytes = plan.workspace_bytes;
  return Status();
}

namespace detail {

template <class V, class = void>
struct TakesInput {
  template <class T>
  static constexpr bool value = std::is_same_v<T, typename VariantTraits<V>::Lhs>;
};
template <class V>
struct TakesInput<V, std::void_t<decltype(VariantTraits<V>::template kInputs<float>)>> {
  template <class T>
  static constexpr bool value = VariantTraits<V>::template kInputs<T>;
};

/// Whether gemm<V> takes activations of type T (the variant's Lhs, or any of its kInputs).
template <class V, class T>
inline constexpr bool kTakesInput = TakesInput<V>::template value<T>;

/// What the checks shared by every gemm entry need to know of A: its shape and the bytes it
/// occupies (for the overlap checks).
struct LhsExtent {
  size_t m, k;
  uintptr_t begin, end;
};

/// A validated call's common part: C's N, the packed weights' header, C's bytes.
struct CheckedCall {
  size_t n;
  PackedHeader header;
  uintptr_t c_begin, c_end;
};

/// The checks every gemm entry shares once A is known: C, the epilogue, the packed weights'
/// header against (M, N, K), overlaps. The kernel-specific ones follow in check_kernel_call().
template <class V, class Out>
Status check_call(const LhsExtent& a, const void* packed_rhs, size_t packed_rhs_bytes,
                  MatrixView<Out> c, const GemmEpilogue& epilogue, const char* op,
                  CheckedCall* checked) {
  static_assert(VariantTraits<V>::template kOutputs<Out>,
                "sme2k: this variant does not write that output type");
  SME2K_RETURN_IF_ERROR(validate_matrix(c, op, "C"));
  SME2K_RETURN_IF_ERROR(validate_epilogue(epilogue, op));
  const bool transposed = epilogue.order == OutputOrder::kTransposed;
  const size_t c_m = transposed ? c.cols : c.rows;  // C's M and N, whichever way it is stored
  checked->n = transposed ? c.rows : c.cols;
  if (c_m != a.m) {
    return Status::error(StatusCode::kInvalidArgument, "%s: C%s has M=%zu, A has %zu rows", op,
                         transposed ? " (transposed)" : "", c_m, a.m);
  }
  SME2K_RETURN_IF_ERROR(read_packed_header(packed_rhs, packed_rhs_bytes, &checked->header));
  if (checked->header.n != checked->n || checked->header.k != a.k) {
    return Status::error(StatusCode::kPackedMismatch,
                         "%s: weights packed for N=%llu, K=%llu; call has N=%zu, K=%zu", op,
                         static_cast<unsigned long long>(checked->header.n),
                         static_cast<unsigned long long>(checked->header.k), checked->n, a.k);
  }
  matrix_bytes(c, &checked->c_begin, &checked->c_end);
  const auto p0 = reinterpret_cast<uintptr_t>(packed_rhs);
  if (ranges_overlap(checked->c_begin, checked->c_end, a.begin, a.end) ||
      ranges_overlap(checked->c_begin, checked->c_end, p0, p0 + packed_rhs_bytes)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: C overlaps A or the packed weights",
                         op);
  }
  return validate_output_stages<Out>(epilogue, checked->n, checked->c_begin, checked->c_end, op);
}

/// The kernel's part: the weights were packed for it, the workspace holds `needed` bytes
/// and overlaps nothing; *aligned is the workspace as the driver takes it.
template <class V, class Kernel>
Status check_kernel_call(const LhsExtent& a, const void* packed_rhs, size_t packed_rhs_bytes,
                         const CheckedCall& checked, size_t needed, void* workspace,
                         size_t workspace_bytes, const char* op, void** aligned) {
  const size_t vl = kernel_vl<Kernel>();
  size_t payload = 0;
  if (!gemm_payload_bytes<Kernel>(checked.n, a.k, vl, &payload)) {
    return Status::error(StatusCode::kSizeOverflow, "%s: sizes overflow", op);
  }
  SME2K_RETURN_IF_ERROR(
      check_packed_header(checked.header, {VariantTraits<V>::kId, Kernel::RhsFormat::kId,
                                           Kernel::kPath, static_cast<uint32_t>(vl * 4), payload}));
  if constexpr (std::is_same_v<typename Kernel::RhsFormat::BiasElement, Qs8ChannelParams>) {
    SME2K_RETURN_IF_ERROR(check_qs8_channel_params<typename Kernel::RhsFormat>(
        checked.n, a.k, vl, static_cast<const uint8_t*>(packed_rhs) + kPackedHeaderBytes, a.k,
        (checked.header.flags & PackedHeader::kFlagSmallScales) != 0, op));
  }
  if (workspace_bytes < needed) {
    return Status::error(StatusCode::kBufferTooSmall, "%s: workspace has %zu bytes, needs %zu", op,
                         workspace_bytes, needed);
  }
  if (needed > 0 && workspace == nullptr) {
    return Status::error(StatusCode::kNullPointer, "%s: workspace is null", op);
  }
  *aligned = workspace;
  if (needed > 0) {
    const auto w = reinterpret_cast<uintptr_t>(workspace);
    const auto p0 = reinterpret_cast<uintptr_t>(packed_rhs);
    if (ranges_overlap(w, w + needed, a.begin, a.end) ||
        ranges_overlap(w, w + needed, checked.c_begin, checked.c_end) ||
        ranges_overlap(w, w + needed, p0, p0 + packed_rhs_bytes)) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: workspace overlaps A, C or the packed weights", op);
    }
    *aligned = align_workspace(workspace);
  }
  return Status();
}

/// Runs a validated call on Kernel's path: one task, or grid.count() through `parallel`,
/// task t on its block of C with workspace slice t. False: run_tasks() failed.
template <class V, class Kernel, class Lhs, class Out>
bool run_gemm(const GemmCall<Lhs, Out>& call, const TaskGrid& grid, size_t slice,
              const ParallelFor& parallel) {
  return run_tasks(parallel, grid.count(), kernel_vl<Kernel>(), [&](size_t t) {
    const GemmCall<Lhs, Out> task = gemm_task<Kernel>(call, call.a.cols, grid, t, slice);
    if constexpr (Kernel::kPath == Path::kPortable) {
      run_gemm_portable<Kernel>(task);
    } else {
#if SME2K_HAS_SME2_CODE
#if SME2K_HAS_SME_F16F16_CODE
      if constexpr (Kernel::kPath == Path::kSme2F16F16) {
        run_gemm_sme2_f16f16<Kernel>(task);
      } else
#endif
      {
        run_gemm_sme2<Kernel, SmallMKernelFor<V, Kernel>>(task);
      }
#endif
    }
  });
}

template <class V, class Out, class In>
Status gemm_impl(MatrixView<const In> a, const void* packed_rhs, size_t packed_rhs_bytes,
                 MatrixView<Out> c, const GemmEpilogue& epilogue, void* workspace,
                 size_t workspace_bytes, const ParallelFor& parallel) {
  static_assert(kTakesInput<V, In>, "sme2k: this variant does not take that input type");
  constexpr const char* op = "gemm";
  SME2K_RETURN_IF_ERROR(validate_matrix(a, op, "A"));
  LhsExtent lhs{a.rows, a.cols, 0, 0};
  matrix_bytes(a, &lhs.begin, &lhs.end);
  CheckedCall checked{};
  SME2K_RETURN_IF_ERROR(
      check_call<V>(lhs, packed_rhs, packed_rhs_bytes, c, epilogue, op, &checked));
  return visit_gemm_kernel<V>(select_path_for<V>(), [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    const TaskGrid grid =
        gemm_task_grid<V, Kernel>(a.rows, checked.n, epilogue.order, task_budget(parallel));
    size_t needed = 0, slice = 0;
    if (!gemm_workspace_bytes<V, Kernel>(a.rows, a.cols, kernel_vl<Kernel>(), epilogue.order, grid,
                                         task_budget(parallel), &needed, &slice)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: sizes overflow", op);
    }
    void* aligned = nullptr;
    SME2K_RETURN_IF_ERROR(
        (check_kernel_call<V, Kernel>(lhs, packed_rhs, packed_rhs_bytes, checked, needed, workspace,
                                      workspace_bytes, op, &aligned)));
    const PackedHeader& header = checked.header;
    GemmCall<In, Out> call{a,
                           static_cast<const uint8_t*>(packed_rhs) + kPackedHeaderBytes,
                           header.has_bias(),
                           c,
                           plan_for_weights(epilogue, header),
                           aligned,
                           uses_small_m_kernel<V, Kernel>(a.rows, epilogue.order)};
    if constexpr (std::is_same_v<Out, int8_t>) {
      // Without a narrower range and with small scales, SQCVT's saturation is the clamp.
      // The int8 affine reads q1 - zp1, which needs the clamp.
      call.plan.requant_clamp =
          epilogue.int8_stages.affine() ||
          !(epilogue.quantized_range.min == -128 && epilogue.quantized_range.max == 127 &&
            (header.flags & PackedHeader::kFlagSmallScales) != 0);
    }
    if (!run_gemm<V, Kernel>(call, grid, slice, parallel)) {
      return svl_mismatch(op, kernel_vl<Kernel>());
    }
    record_path(Kernel::kPath);
    return Status();
  });
}

}  // namespace detail

/// C = epilogue(A * B + bias) with B and bias from gemm_pack_rhs().
/// @param[in]  a          M x K, row-major, a.ld >= K
/// @param[in]  packed_rhs the whole buffer gemm_pack_rhs() filled, and its size
/// @param[out] c          M x N, row-major, c.ld >= N; must not overlap A or the packed data
/// @param[in]  workspace  >= gemm_workspace_size() bytes with the same `parallel` (may be
///                        null when that is 0)
/// @param[in]  parallel   the runtime's parallel-for (types/parallel.hpp); default: serial
template <class V = F32, class Out = typename VariantTraits<V>::Out>
Status gemm(MatrixView<const typename VariantTraits<V>::Lhs> a, const void* packed_rhs,
            size_t packed_rhs_bytes, MatrixView<Out> c, const GemmEpilogue& epilogue,
            void* workspace, size_t workspace_bytes, const ParallelFor& parallel = {}) {
  return detail::gemm_impl<V, Out>(a, packed_rhs, packed_rhs_bytes, c, epilogue, workspace,
                                   workspace_bytes, parallel);
}

/// gemm() of a variant that also takes f16 activations (QD8 quantizes either).
template <class V, class Out = typename VariantTraits<V>::Out,
          class = std::enable_if_t<detail::kTakesInput<V, f16> &&
                                   !std::is_same_v<typename VariantTraits<V>::Lhs, f16>>>
Status gemm(MatrixView<const f16> a, const void* packed_rhs, size_t packed_rhs_bytes,
            MatrixView<Out> c, const GemmEpilogue& epilogue, void* workspace,
            size_t workspace_bytes, const ParallelFor& parallel = {}) {
  return detail::gemm_impl<V, Out>(a, packed_rhs, packed_rhs_bytes, c, epilogue, workspace,
                                   workspace_bytes, parallel);
}

namespace detail {
template <class V, class Out, class In>
Status gemm_allocating(MatrixView<const In> a, const void* packed_rhs, size_t packed_rhs_bytes,
                       MatrixView<Out> c, const GemmEpilogue& epilogue,
                       const ParallelFor& parallel) {
  // Sized without the depth check of gemm_workspace_size(): a K the weights cannot have is
  // the op's kPackedMismatch against their header.
  OpPlan plan;
  const size_t n = epilogue.order == OutputOrder::kTransposed ? c.rows : c.cols;
  SME2K_RETURN_IF_ERROR(plan_gemm<V>(a.rows, n, a.cols, epilogue.order, parallel, "gemm", &plan));
  const size_t bytes = plan.workspace_bytes;
  void* workspace = bytes > 0 ? std::malloc(bytes) : nullptr;
  if (bytes > 0 && workspace == nullptr) {
    return Status::error(StatusCode::kOutOfMemory, "gemm: cannot allocate %zu bytes of workspace",
                         bytes);
  }
  const Status s =
      gemm_impl<V, Out>(a, packed_rhs, packed_rhs_bytes, c, epilogue, workspace, bytes, parallel);
  std::free(workspace);
  return s;
}
}  // namespace detail

/// gemm() with a workspace it allocates and frees itself (kOutOfMemory when it cannot).
template <class V = F32, class Out = typename VariantTraits<V>::Out>
Status gemm(MatrixView<const typename VariantTraits<V>::Lhs> a, const void* packed_rhs,
            size_t packed_rhs_bytes, MatrixView<Out> c, const GemmEpilogue& epilogue = {},
            const ParallelFor& parallel = {}) {
  return detail::gemm_allocating<V, Out>(a, packed_rhs, packed_rhs_bytes, c, epilogue, parallel);
}

/// The same, for a variant that also takes f16 activations.
template <class V, class Out = typename VariantTraits<V>::Out,
          class = std::enable_if_t<detail::kTakesInput<V, f16> &&
                                   !std::is_same_v<typename VariantTraits<V>::Lhs, f16>>>
Status gemm(MatrixView<const f16> a, const void* packed_rhs, size_t packed_rhs_bytes,
            MatrixView<Out> c, const GemmEpilogue& epilogue = {},
            const ParallelFor& parallel = {}) {
  return detail::gemm_allocating<V, Out>(a, packed_rhs, packed_rhs_bytes, c, epilogue, parallel);
}

}  // namespace sme2k
