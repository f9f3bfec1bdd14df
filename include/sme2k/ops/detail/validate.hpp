// Validation at the door, shared by the ops: caller matrices, byte ranges, overlap, and the
// alignment of workspaces. Every check returns a Status naming the op and the operand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "sme2k/epilogue/ops.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {
namespace detail {

constexpr size_t kWorkspaceAlignment = 64;  // one cache line; SME loads need no more

/// Checks a caller matrix: non-null, non-empty, ld >= cols, extent fits. `what` names it.
template <class T>
Status validate_matrix(const MatrixView<T>& m, const char* op, const char* what) {
  if (m.data == nullptr) return Status::error(StatusCode::kNullPointer, "%s: %s is null", op, what);
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
    const auto v0 = reinterpret_cast<uintptr_t>(values);
    if (n > static_cast<size_t>(PTRDIFF_MAX) / sizeof(float) ||
        ranges_overlap(v0, v0 + n * sizeof(float), c0, c1)) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: the per-channel affine's scale or shift overlaps C", op);
    }
  }
  return Status();
}

/// A workspace pointer rounded up to kWorkspaceAlignment (the sizes include the slack).
inline void* align_workspace(void* workspace) {
  const auto w = reinterpret_cast<uintptr_t>(workspace);
  return reinterpret_cast<void*>((w + kWorkspaceAlignment - 1) & ~(kWorkspaceAlignment - 1));
}

}  // namespace detail
}  // namespace sme2k
