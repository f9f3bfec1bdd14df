// Fused scaled-dot-product attention: O = softmax(scale * Q K^T + mask) V per batch item and
// query head, the scores never written to memory (types/attention.hpp has the operands and
// the mask rules). F16: f16 Q, K, V, f32 scores, softmax and accumulation, f16 or f32 out;
// F32: f32 throughout.
//
// The op validates everything at the door, picks the kernel for the path (SME2 when the CPU
// has it, else portable; kernels/attention_registry.hpp), and cuts the call into work units
// of (batch item, KV head, q_step query rows of every query head of the group)
// (ops/detail/attention_call.hpp): contiguous runs of units are the tasks. Units never share
// an output, so any number of tasks gives the same bits.
//
// Usage:
//   attention_workspace_size<F16>(shape, &bytes);                       // then allocate
//   attention<F16>(shape, q, k, v, o, params, workspace, bytes);       // o: HeadsView<f16>
//   attention_plan<F16>(shape, &plan);                                   // what would run
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/kernels/attention_registry.hpp"
#include "sme2k/ops/detail/attention_call.hpp"
#include "sme2k/ops/detail/tasks.hpp"
#include "sme2k/ops/detail/validate.hpp"
#include "sme2k/ops/op_plan.hpp"
#include "sme2k/types/alignment.hpp"
#include "sme2k/types/attention.hpp"
#include "sme2k/types/parallel.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {
namespace detail {

inline Status validate_attention_shape(const AttentionShape& s, const char* op) {
  if (s.batch == 0 || s.q_heads == 0 || s.kv_heads == 0 || s.q_len == 0 || s.kv_len == 0 ||
      s.head_dim == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: batch, q_heads, kv_heads, q_len, kv_len, head_dim (%zu, %zu, %zu, "
                         "%zu, %zu, %zu) must be >= 1",
                         op, s.batch, s.q_heads, s.kv_heads, s.q_len, s.kv_len, s.head_dim);
  }
  if (s.head_dim > kMaxHeadDim) {
    return Status::error(StatusCode::kInvalidArgument, "%s: head_dim %zu exceeds %zu", op,
                         s.head_dim, kMaxHeadDim);
  }
  if (s.q_heads % s.kv_heads != 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: q_heads %zu is not a multiple of kv_heads %zu", op, s.q_heads,
                         s.kv_heads);
  }
  size_t q = 0, kv = 0;
  if (!checked_mul(s.batch, s.q_heads, &q) || !checked_mul(q, s.q_len, &q) ||
      !checked_mul(q, s.head_dim, &q) || !checked_mul(s.batch, s.kv_heads, &kv) ||
      !checked_mul(kv, s.kv_len, &kv) || !checked_mul(kv, s.head_dim, &kv)) {
    return Status::error(StatusCode::kSizeOverflow, "%s: the shape's element counts overflow", op);
  }
  return Status();
}

/// Elements spanned by a [batch, heads, len, d] view (the last row's end); false when it, or
/// its bytes, do not fit.
template <class T>
bool heads_extent(const HeadsView<T>& v, size_t batch, size_t heads, size_t len, size_t d,
                  size_t* elements) {
  size_t b = 0, h = 0, s = 0, e = 0;
  return checked_mul(batch - 1, v.batch_stride, &b) && checked_mul(heads - 1, v.head_stride, &h) &&
         checked_mul(len - 1, v.seq_stride, &s) && checked_add(b, h, &e) && checked_add(e, s, &e) &&
         checked_add(e, d, &e) && checked_extent(1, e, e, sizeof(T), elements);
}

/// Whether distinct rows of a [batch, heads, len, d] view are disjoint, by the nested rule:
/// ordered by stride, each dimension's stride covers everything inside it ([B,H,S,D],
/// [B,S,H,D] and caches pass; an interleaving that happens to be disjoint does not).
template <class T>
bool heads_rows_disjoint(const HeadsView<T>& v, size_t batch, size_t heads, size_t len, size_t d) {
  struct Dim {
    size_t count, stride;
  } dims[3] = {{batch, v.batch_stride}, {heads, v.head_stride}, {len, v.seq_stride}};
  for (int i = 1; i < 3; ++i) {  // by stride, ascending
    for (int j = i; j > 0 && dims[j].stride < dims[j - 1].stride; --j) {
      const Dim t = dims[j];
      dims[j] = dims[j - 1];
      dims[j - 1] = t;
    }
  }
  size_t span = d;  // fits: below the checked extent
  for (const Dim& dim : dims) {
    if (dim.count <= 1) continue;
    if (dim.stride < span) return false;
    span += (dim.count - 1) * dim.stride;
  }
  return true;
}

/// Checks a view: non-null, seq_stride >= head_dim, extent fits, rows disjoint (output only);
/// its bytes are [*begin, *end).
template <class T>
Status validate_heads(const HeadsView<T>& v, size_t batch, size_t heads, size_t len, size_t d,
                      bool output, const char* op, const char* what, uintptr_t* begin,
                      uintptr_t* end) {
  if (v.data == nullptr) return Status::error(StatusCode::kNullPointer, "%s: %s is null", op, what);
  SME2K_RETURN_IF_ERROR(check_element_aligned(v.data, op, what));
  if (v.seq_stride < d) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: %s's seq_stride %zu is below head_dim %zu", op, what, v.seq_stride,
                         d);
  }
  size_t elements = 0;
  if (!heads_extent(v, batch, heads, len, d, &elements)) {
    return Status::error(StatusCode::kSizeOverflow,
                         "%s: %s's extent (strides %zu, %zu, %zu) overflows", op, what,
                         v.batch_stride, v.head_stride, v.seq_stride);
  }
  if (output && !heads_rows_disjoint(v, batch, heads, len, d)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: %s's rows overlap (batch, head, seq strides %zu, %zu, %zu for "
                         "%zu x %zu x %zu rows of %zu)",
                         op, what, v.batch_stride, v.head_stride, v.seq_stride, batch, heads, len,
                         d);
  }
  *begin = reinterpret_cast<uintptr_t>(v.data);
  *end = *begin + elements * sizeof(T);
  return Status();
}

/// The mask against the shape: positions defined where a rule uses them, the bias in range.
inline Status validate_attention_mask(const AttentionShape& s, const AttentionMask& m,
                                      const char* op, uintptr_t* begin, uintptr_t* end) {
  *begin = *end = 0;
  if ((m.causal || m.window > 0) && s.q_len > s.kv_len) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: q_len %zu > kv_len %zu: the queries' positions (the last q_len of "
                         "kv_len) that causal and window use do not exist",
                         op, s.q_len, s.kv_len);
  }
  if (m.bias == nullptr) return Status();
  SME2K_RETURN_IF_ERROR(check_element_aligned(m.bias, op, "the bias"));
  if (m.bias_ld < s.kv_len) {
    return Status::error(StatusCode::kInvalidArgument, "%s: bias_ld %zu is below kv_len %zu", op,
                         m.bias_ld, s.kv_len);
  }
  const HeadsView<const float> view{m.bias, m.bias_batch_stride, m.bias_head_stride, m.bias_ld};
  size_t elements = 0;
  if (!heads_extent(view, s.batch, s.q_heads, s.q_len, s.kv_len, &elements)) {
    return Status::error(StatusCode::kSizeOverflow, "%s: the bias's extent overflows", op);
  }
  *begin = reinterpret_cast<uintptr_t>(m.bias);
  *end = *begin + elements * sizeof(float);
  return Status();
}

/// How a call of `shape` runs on Kernel: its units, tasks, one task's workspace slice and
/// the whole workspace; false on overflow.
template <class Kernel>
struct AttentionLayout {
  AttentionUnits units;
  size_t tasks = 1, slice = 0, bytes = 0;

  bool init(const AttentionShape& shape, size_t vl, const ParallelFor& parallel) {
    units = AttentionUnits{shape, Kernel::q_step(vl)};
    const size_t budget = task_budget(parallel), count = units.count();
    tasks = count < budget ? count : budget;
    return Kernel::workspace_bytes(shape, vl, &slice) &&
           checked_add(slice, kWorkspaceAlignment - 1, &slice) &&
           task_workspace_bytes(slice, tasks, &bytes);
  }
};

}  // namespace detail

/// What attention() will run for `shape` with `parallel`: kernel, path, tasks, workspace.
template <class V, class Out = typename VariantTraits<V>::Out>
Status attention_plan(const AttentionShape& shape, OpPlan* plan, const ParallelFor& parallel = {}) {
  static_assert(VariantTraits<V>::template kOutputs<Out>, "sme2k: no such attention output");
  constexpr const char* op = "attention_plan";
  if (plan == nullptr) return Status::error(StatusCode::kNullPointer, "%s: plan is null", op);
  SME2K_RETURN_IF_ERROR(detail::validate_attention_shape(shape, op));
  return visit_attention_kernel<V, Out>(select_path(), shape, [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    detail::AttentionLayout<Kernel> layout;
    if (!layout.init(shape, kernel_vl<Kernel>(), parallel)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: the workspace size overflows", op);
    }
    *plan = OpPlan{Kernel::kName, Kernel::kPath, layout.tasks, layout.bytes};
    return Status();
  });
}

/// Bytes of scratch attention() needs for `shape` run with `parallel`.
template <class V, class Out = typename VariantTraits<V>::Out>
Status attention_workspace_size(const AttentionShape& shape, size_t* bytes,
                                const ParallelFor& parallel = {}) {
  constexpr const char* op = "attention_workspace_size";
  if (bytes == nullptr) return Status::error(StatusCode::kNullPointer, "%s: bytes is null", op);
  OpPlan plan;
  SME2K_RETURN_IF_ERROR((attention_plan<V, Out>(shape, &plan, parallel)));
  *bytes = plan.workspace_bytes;
  return Status();
}

/// O = softmax(scale * Q K^T + mask) V.
/// @param[in]  q          [batch, q_heads, q_len, head_dim]; any strides, rows may alias
/// @param[in]  k, v       [batch, kv_heads, kv_len, head_dim]; a cache: seq_stride spans it
/// @param[out] o          [batch, q_heads, q_len, head_dim]; rows disjoint, no input overlaps
/// @param[in]  params     scale (0: 1 / sqrt(head_dim); finite, >= 0) and mask. The bias
///                        holds finite values or -inf (+inf or NaN there give NaN rows).
/// @param[in]  workspace  >= attention_workspace_size<V, Out>() bytes with the same
///                        `parallel`, any alignment (the size has the slack)
template <class V, class Out = typename VariantTraits<V>::Out>
Status attention(const AttentionShape& shape, HeadsView<const typename VariantTraits<V>::Lhs> q,
                 HeadsView<const typename VariantTraits<V>::Lhs> k,
                 HeadsView<const typename VariantTraits<V>::Lhs> v, HeadsView<Out> o,
                 const AttentionParams& params, void* workspace, size_t workspace_bytes,
                 const ParallelFor& parallel = {}) {
  static_assert(VariantTraits<V>::template kOutputs<Out>, "sme2k: no such attention output");
  using In = typename VariantTraits<V>::Lhs;
  constexpr const char* op = "attention";
  SME2K_RETURN_IF_ERROR(detail::validate_attention_shape(shape, op));
  const size_t b = shape.batch, d = shape.head_dim;
  uintptr_t r[5][2] = {};  // byte ranges of q, k, v, o, bias
  SME2K_RETURN_IF_ERROR(
      detail::validate_attention_mask(shape, params.mask, op, &r[4][0], &r[4][1]));
  SME2K_RETURN_IF_ERROR(detail::validate_heads(q, b, shape.q_heads, shape.q_len, d, false, op, "Q",
                                               &r[0][0], &r[0][1]));
  SME2K_RETURN_IF_ERROR(detail::validate_heads(k, b, shape.kv_heads, shape.kv_len, d, false, op,
                                               "K", &r[1][0], &r[1][1]));
  SME2K_RETURN_IF_ERROR(detail::validate_heads(v, b, shape.kv_heads, shape.kv_len, d, false, op,
                                               "V", &r[2][0], &r[2][1]));
  SME2K_RETURN_IF_ERROR(detail::validate_heads(o, b, shape.q_heads, shape.q_len, d, true, op, "O",
                                               &r[3][0], &r[3][1]));
  for (int i : {0, 1, 2, 4}) {
    if (detail::ranges_overlap(r[3][0], r[3][1], r[i][0], r[i][1])) {
      return Status::error(StatusCode::kInvalidArgument, "%s: O overlaps %s", op,
                           i == 4   ? "the bias"
                           : i == 0 ? "Q"
                           : i == 1 ? "K"
                                    : "V");
    }
  }
  // Up to 1e6: the SME2 kernel keeps masked scores at -1e30 and scales them in f32.
  if (!std::isfinite(params.scale) || params.scale < 0.0f || params.scale > 1e6f) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: scale %g must be in [0, 1e6] (0: 1/sqrt(head_dim))", op,
                         static_cast<double>(params.scale));
  }
  const float scale = params.scale > 0.0f ? params.scale : 1.0f / std::sqrt(static_cast<float>(d));
  // A window of kv_len keys or more lets every key through, as kv_len does; capped so that
  // the kernels' position arithmetic (signed on SME2) stays far from overflow.
  AttentionMask mask = params.mask;
  if (mask.window > shape.kv_len) mask.window = shape.kv_len;
  return visit_attention_kernel<V, Out>(select_path(), shape, [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    const size_t vl = kernel_vl<Kernel>();
    detail::AttentionLayout<Kernel> layout;
    if (!layout.init(shape, vl, parallel)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: the workspace size overflows", op);
    }
    if (layout.bytes > 0) {
      if (workspace == nullptr)
        return Status::error(StatusCode::kNullPointer, "%s: workspace is null", op);
      if (workspace_bytes < layout.bytes) {
        return Status::error(StatusCode::kBufferTooSmall, "%s: workspace has %zu bytes, needs %zu",
                             op, workspace_bytes, layout.bytes);
      }
      const auto w = reinterpret_cast<uintptr_t>(workspace);
      for (const auto& range : r) {
        if (detail::ranges_overlap(w, w + layout.bytes, range[0], range[1])) {
          return Status::error(StatusCode::kInvalidArgument,
                               "%s: workspace overlaps Q, K, V, O or the bias", op);
        }
      }
    }
    const detail::AttentionCall<In, Out> call{shape, q, k, v, o, scale, mask};
    void* aligned = detail::align_workspace(workspace);
    const bool ok = detail::run_tasks(parallel, layout.tasks, vl, [&](size_t t) {
      const detail::Range units = detail::part_of(layout.units.count(), layout.tasks, t);
      Kernel::run(call, layout.units, units.begin, units.end,
                  detail::task_workspace(aligned, layout.slice, t));
    });
    if (!ok) return detail::svl_mismatch(op, vl);
    detail::record_path(Kernel::kPath);
    return Status();
  });
}

/// attention() with a workspace it allocates and frees itself (kOutOfMemory when it cannot).
template <class V, class Out = typename VariantTraits<V>::Out>
Status attention(const AttentionShape& shape, HeadsView<const typename VariantTraits<V>::Lhs> q,
                 HeadsView<const typename VariantTraits<V>::Lhs> k,
                 HeadsView<const typename VariantTraits<V>::Lhs> v, HeadsView<Out> o,
                 const AttentionParams& params, const ParallelFor& parallel = {}) {
  size_t bytes = 0;
  SME2K_RETURN_IF_ERROR((attention_workspace_size<V, Out>(shape, &bytes, parallel)));
  void* workspace = bytes > 0 ? std::malloc(bytes) : nullptr;
  if (bytes > 0 && workspace == nullptr) {
    return Status::error(StatusCode::kOutOfMemory,
                         "attention: cannot allocate %zu bytes of workspace", bytes);
  }
  const Status status = attention<V, Out>(shape, q, k, v, o, params, workspace, bytes, parallel);
  std::free(workspace);
  return status;
}

}  // namespace sme2k
