// Validation at the door, shared by the ops: caller matrices, byte ranges, overlap, and the
// alignment of workspaces. Every check returns a Status naming the op and the operand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "sme2k/epilogue/ops.hpp"
#include "sme2k/types/alignment.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {
namespace detail {

constexpr size_t kWorkspaceAlignment = 64;  // one cache line; SME loads need no more

/// Checks a caller matrix: non-null, aligned to its elements, non-empty, ld >= cols, extent
/// fits. `what` names it.
template <class T>
Status validate_matrix(const MatrixView<T>& m, const char* op, const char* what) {
  if (m.data == nullptr) return Status::error(StatusCode::kNullPointer, "%s: %s is null", op, what);
  SME2K_RETURN_IF_ERROR(check_element_aligned(m.data, op, what));
  if (m.rows == 0 || m.cols == 0) {
    return Status::error(StatusCode::kInvalidArgument, "%s: %s is %zu x %zu; sizes must be >= 1",
                         op, what, m.rows, m.cols);
  }
  if (m.ld < m.cols) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: leading dimension of %s (%zu) is smaller than its %zu columns", op,
                         what, m.ld, m.cols);
  }
  size_t extent = 0;
  if (!checked_extent(m.rows, m.cols, m.ld, sizeof(T), &extent)) {
    return Status::error(StatusCode::kSizeOverflow, "%s: %s (%zu x %zu, ld %zu) overflows size_t",
                         op, what, m.rows, m.cols, m.ld);
  }
  return Status();
}

/// [begin, end) byte range of a validated matrix.
template <class T>
void matrix_bytes(const MatrixView<T>& m, uintptr_t* begin, uintptr_t* end) {
  *begin = reinterpret_cast<uintptr_t>(m.data);
  *end = *begin + ((m.rows - 1) * m.ld + m.cols) * sizeof(T);
}

inline bool ranges_overlap(uintptr_t a0, uintptr_t a1, uintptr_t b0, uintptr_t b1) {
  return a0 < b1 && b0 < a1;
}

/// The per-channel affine's arrays (N values each, when given) must not be written by the
/// op: they may not overlap C's bytes [c0, c1).
inline Status validate_affine(const ChannelAffine& affine, size_t n, uintptr_t c0, uintptr_t c1,
                              const char* op) {
  for (const float* values : {affine.scale, affine.shift}) {
    if (values == nullptr) continue;
    SME2K_RETURN_IF_ERROR(check_element_aligned(values, op, "an affine scale or shift"));
    const auto v0 = reinterpret_cast<uintptr_t>(values);
    if (n > static_cast<size_t>(PTRDIFF_MAX) / sizeof(float) ||
        ranges_overlap(v0, v0 + n * sizeof(float), c0, c1)) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: the per-channel affine's scale or shift overlaps C", op);
    }
  }
  return Status();
}

/// The stages after the accumulator against the output type: float outputs take the float
/// ones (activation, affine, clamp), int8 outputs quantized_range and int8_stages; arrays
/// the op reads (N values, the 256-entry table) may not overlap C's bytes [c0, c1).
template <class Out>
Status validate_output_stages(const GemmEpilogue& e, size_t n, uintptr_t c0, uintptr_t c1,
                              const char* op) {
  if constexpr (std::is_same_v<Out, int8_t>) {
    if (e.activation != Activation::kNone || e.affine.active() || e.clamp.active()) {
      return Status::error(StatusCode::kUnsupported,
                           "%s: int8 output takes quantized_range and int8_stages (no float "
                           "activation, affine or clamp)",
                           op);
    }
    const Int8Stages& st = e.int8_stages;
    SME2K_RETURN_IF_ERROR(validate_affine(ChannelAffine{st.scale, st.shift}, n, c0, c1, op));
    const auto t0 = reinterpret_cast<uintptr_t>(st.table);
    if (st.table != nullptr && ranges_overlap(t0, t0 + 256, c0, c1)) {
      return Status::error(StatusCode::kInvalidArgument, "%s: the int8 table overlaps C", op);
    }
    return Status();
  } else {
    if (e.int8_stages.active()) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: int8_stages are for int8 outputs; this op writes floats", op);
    }
    return validate_affine(e.affine, n, c0, c1, op);
  }
}

/// A workspace pointer rounded up to kWorkspaceAlignment (the sizes include the slack).
inline void* align_workspace(void* workspace) {
  const auto w = reinterpret_cast<uintptr_t>(workspace);
  return reinterpret_cast<void*>((w + kWorkspaceAlignment - 1) & ~(kWorkspaceAlignment - 1));
}

}  // namespace detail
}  // namespace sme2k
