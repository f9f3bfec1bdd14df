// Rotary position embedding applied in place to Q or K (RoPE), read where the tensor lies:
// rows are head vectors of head_dim elements, indexed (batch, seq, head) with a stride each,
// so [B, S, H, D] (bshd), [B, H, S, D] (bhsd) and a KV cache whose capacity exceeds S are
// all rotated without a copy. Row (b, s, h) is turned by the angles of position
// positions[b * seq + s] (or first_position + s when positions is null): its first
// rotary_dim elements form rotary_dim / 2 pairs (a, b) -> (a cos - b sin, a sin + b cos) with
// cos / sin from row `position` of the caller's [table positions][rotary_dim / 2] f32 tables;
// elements past rotary_dim are untouched (partial rotary, GPT-NeoX / Phi). Pairing:
// interleaved (2i, 2i+1) (GPT-J, llama.cpp's default) or half-split (i, i + rotary_dim / 2)
// (GPT-NeoX, Hugging Face llama). f32 or f16 rows, f32 arithmetic, one rounding per element.
//
// Usage (Hugging Face llama, q as [B, S, H, D]):
//   rope<f16>(rope_tensor_bshd(q, B, S, H, D), RopeTables{cos, sin, max_pos, D},
//             RopePairing::kHalfSplit, position_ids, 0);
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/kernels/portable/rope_portable.hpp"
#include "sme2k/kernels/row_op_args.hpp"
#include "sme2k/kernels/sme2/rope_za.hpp"
#include "sme2k/ops/detail/tasks.hpp"
#include "sme2k/ops/detail/validate.hpp"
#include "sme2k/ops/op_plan.hpp"
#include "sme2k/types/alignment.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/parallel.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {

/// Head rows in place: row (b, s, h) at data + b * batch_stride + s * seq_stride +
/// h * head_stride, head_dim elements each (strides in elements).
template <class T>
struct RopeTensor {
  T* data = nullptr;
  size_t batch = 1, seq = 0, heads = 0, head_dim = 0;
  size_t batch_stride = 0, seq_stride = 0, head_stride = 0;
};

/// A dense [B, S, H, D] tensor (the layout of a QKV projection's output).
template <class T>
RopeTensor<T> rope_tensor_bshd(T* data, size_t b, size_t s, size_t h, size_t d) {
  return {data, b, s, h, d, s * h * d, h * d, d};
}
/// A dense [B, H, S, D] tensor (PyTorch's SDPA layout, a KV cache of capacity S).
template <class T>
RopeTensor<T> rope_tensor_bhsd(T* data, size_t b, size_t h, size_t s, size_t d) {
  return {data, b, s, h, d, h * s * d, d, s * d};
}

/// cos and sin as [positions][rotary_dim / 2] f32 tables (row p: the angles of position p).
struct RopeTables {
  const float* cos = nullptr;
  const float* sin = nullptr;
  size_t positions = 0;
  size_t rotary_dim = 0;  // even, 2 .. head_dim
};

namespace detail {

/// Whether rows of `d` elements at sum_i k_i * stride_i (k_i < count_i) never overlap:
/// the dimensions nest (each stride at least the span of the ones below it). This admits
/// every dense and padded layout of the three dimensions in any order.
inline bool rows_disjoint(const size_t (&count)[3], const size_t (&stride)[3], size_t d) {
  size_t order[3] = {0, 1, 2};
  for (int i = 0; i < 3; ++i) {
    for (int j = i + 1; j < 3; ++j) {
      if (stride[order[j]] < stride[order[i]]) {
        const size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    }
  }
  size_t span = d;  // elements one row (then one sub-block) covers
  for (size_t k : order) {
    if (count[k] <= 1) continue;
    if (stride[k] < span) return false;
    span = (count[k] - 1) * stride[k] + span;  // no overflow: the extent was checked
  }
  return true;
}

#if SME2K_HAS_SME2_CODE
template <class T>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void rope_sme2(const RopeArgs<T>& a) {
  for (size_t s = 0; s < a.seq; ++s) {
    for (size_t h = 0; h < a.heads; h += 4) {
      sme2::rope_heads_za(a, s, h, a.heads - h < 4 ? a.heads - h : 4);
    }
  }
}
#endif

template <class T>
Status validate_rope(const RopeTensor<T>& x, const RopeTables& t, RopePairing pairing,
                     const int32_t* positions, size_t first_position, const char* op) {
  if (x.data == nullptr || t.cos == nullptr || t.sin == nullptr) {
    return Status::error(StatusCode::kNullPointer, "%s: data, cos or sin is null", op);
  }
  SME2K_RETURN_IF_ERROR(check_element_aligned(x.data, op, "the tensor"));
  SME2K_RETURN_IF_ERROR(check_element_aligned(t.cos, op, "cos"));
  SME2K_RETURN_IF_ERROR(check_element_aligned(t.sin, op, "sin"));
  SME2K_RETURN_IF_ERROR(check_element_aligned(positions, op, "positions"));
  if (pairing != RopePairing::kInterleaved && pairing != RopePairing::kHalfSplit) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown RopePairing %d", op,
                         static_cast<int>(pairing));
  }
  if (x.batch == 0 || x.seq == 0 || x.heads == 0 || x.head_dim == 0 || t.positions == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: batch %zu, seq %zu, heads %zu, head_dim %zu and table positions "
                         "%zu must be >= 1",
                         op, x.batch, x.seq, x.heads, x.head_dim, t.positions);
  }
  if (t.rotary_dim == 0 || t.rotary_dim % 2 != 0 || t.rotary_dim > x.head_dim) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: rotary_dim (%zu) must be even, >= 2 and <= head_dim (%zu)", op,
                         t.rotary_dim, x.head_dim);
  }
  // The largest element offset + 1, and that it fits in bytes.
  size_t extent = x.head_dim, bytes = 0;
  const size_t count[3] = {x.batch, x.seq, x.heads};
  const size_t stride[3] = {x.batch_stride, x.seq_stride, x.head_stride};
  for (int i = 0; i < 3; ++i) {
    size_t part = 0;
    if (!checked_mul(count[i] - 1, stride[i], &part) || !checked_add(extent, part, &extent)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: the tensor's extent overflows", op);
    }
  }
  if (!checked_mul(extent, sizeof(T), &bytes) || bytes > static_cast<size_t>(PTRDIFF_MAX)) {
    return Status::error(StatusCode::kSizeOverflow, "%s: the tensor's extent overflows", op);
  }
  if (!rows_disjoint(count, stride, x.head_dim)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: strides (batch %zu, seq %zu, head %zu) make rows of %zu elements "
                         "overlap",
                         op, x.batch_stride, x.seq_stride, x.head_stride, x.head_dim);
  }
  size_t table = 0, table_bytes = 0, n_pos = 0;
  if (!checked_mul(t.positions, t.rotary_dim / 2, &table) ||
      !checked_mul(table, sizeof(float), &table_bytes) ||
      table_bytes > static_cast<size_t>(PTRDIFF_MAX) || !checked_mul(x.batch, x.seq, &n_pos) ||
      n_pos > static_cast<size_t>(PTRDIFF_MAX) / sizeof(int32_t)) {
    return Status::error(StatusCode::kSizeOverflow, "%s: table or positions size overflows", op);
  }
  const auto d0 = reinterpret_cast<uintptr_t>(x.data), d1 = d0 + bytes;
  const auto c0 = reinterpret_cast<uintptr_t>(t.cos), s0 = reinterpret_cast<uintptr_t>(t.sin);
  const auto p0 = reinterpret_cast<uintptr_t>(positions);
  if (ranges_overlap(c0, c0 + table_bytes, d0, d1) ||
      ranges_overlap(s0, s0 + table_bytes, d0, d1) ||
      (positions != nullptr && ranges_overlap(p0, p0 + n_pos * sizeof(int32_t), d0, d1))) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: cos, sin or positions overlap the tensor", op);
  }
  if (positions == nullptr) {
    if (first_position >= t.positions || x.seq > t.positions - first_position) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: positions %zu .. %zu exceed the %zu table rows", op, first_position,
                           first_position + x.seq - 1, t.positions);
    }
  } else {
    for (size_t i = 0; i < n_pos; ++i) {
      if (positions[i] < 0 || static_cast<size_t>(positions[i]) >= t.positions) {
        return Status::error(StatusCode::kInvalidArgument,
                             "%s: positions[%zu] = %d is outside the %zu table rows", op, i,
                             static_cast<int>(positions[i]), t.positions);
      }
    }
  }
  return Status();
}

}  // namespace detail

/// Rotates x's head rows in place (see the top of this header). T: float or f16. positions:
/// batch * seq values (row b * seq + s for sequence index s of batch item b), each in
/// [0, tables.positions), or null: sequence index s has position first_position + s in every
/// batch item. Rows may not overlap each other, nor the tables or positions. `parallel`:
/// tasks of whole (batch, seq) rows of heads.
template <class T>
Status rope(const RopeTensor<T>& x, const RopeTables& tables, RopePairing pairing,
            const int32_t* positions, size_t first_position, const ParallelFor& parallel = {}) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, f16>,
                "sme2k: rope takes float or f16 rows");
  constexpr const char* op = "rope";
  SME2K_RETURN_IF_ERROR(detail::validate_rope(x, tables, pairing, positions, first_position, op));
  const Path path = select_path();
  const size_t vl = path == Path::kPortable ? 0 : streaming_vl();
  const detail::TaskGrid grid =
      detail::plan_tasks(x.batch * x.seq, 1, detail::task_budget(parallel));
  const bool ok = detail::run_tasks(parallel, grid.count(), vl, [&](size_t task) {
    const detail::Range units = grid.rows(task);
    for (size_t u = units.begin; u < units.end;) {
      // A run of sequence indices [s, s + n) of batch item b.
      const size_t b = u / x.seq, s = u % x.seq;
      const size_t n = (x.seq - s < units.end - u) ? x.seq - s : units.end - u;
      const RopeArgs<T> a{x.data + b * x.batch_stride + s * x.seq_stride,
                          n,
                          x.heads,
                          x.seq_stride,
                          x.head_stride,
                          tables.rotary_dim / 2,
                          pairing,
                          tables.cos,
                          tables.sin,
                          positions != nullptr ? positions + b * x.seq + s : nullptr,
                          first_position + s};
#if SME2K_HAS_SME2_CODE
      if (vl != 0) {
        detail::rope_sme2(a);
      } else {
        portable::rope_portable(a);
      }
#else
      portable::rope_portable(a);
#endif
      u += n;
    }
  });
  if (!ok) return detail::svl_mismatch(op, vl);
  detail::record_path(vl == 0 ? Path::kPortable : Path::kSme2);
  return Status();
}

/// What rope<T> would run for x's shape: the kernel, its path and the tasks handed to
/// `parallel` (whole (batch, seq) rows of heads; no workspace).
template <class T>
Status rope_plan(const RopeTensor<T>& x, OpPlan* plan, const ParallelFor& parallel = {}) {
  if (plan == nullptr) return Status::error(StatusCode::kNullPointer, "rope_plan: plan is null");
  const bool sme2 = select_path() != Path::kPortable;
  *plan = OpPlan{sme2 ? "rope_sme2_za" : "rope_portable", sme2 ? Path::kSme2 : Path::kPortable,
                 detail::plan_tasks(x.batch * x.seq, 1, detail::task_budget(parallel)).count(), 0};
  return Status();
}

}  // namespace sme2k
