// What RMSNorm and LayerNorm share: validation at the door, the split into tasks of whole
// row blocks, and the choice between the SME2 and portable kernels
// (kernels/sme2/row_norm_za.hpp, kernels/portable/row_norm_portable.hpp).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/kernels/portable/row_norm_portable.hpp"
#include "sme2k/kernels/row_op_args.hpp"
#include "sme2k/kernels/sme2/rms_norm_f16_za.hpp"
#include "sme2k/kernels/sme2/row_norm_za.hpp"
#include "sme2k/ops/detail/tasks.hpp"
#include "sme2k/ops/detail/validate.hpp"
#include "sme2k/types/alignment.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {
namespace detail {

/// Rows per block: what one SME2 block shares a weight load across (16 RMSNorm, 8
/// LayerNorm), and the unit tasks are cut in on every path (so the split is the same).
constexpr size_t row_norm_block(bool rms) { return rms ? 16 : 8; }

template <class T>
Status validate_row_norm(MatrixView<const T> x, MatrixView<T> y, const float* weight,
                         const float* bias, float eps, const char* op) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, f16>,
                "sme2k: row norms take float or f16 rows");
  SME2K_RETURN_IF_ERROR(validate_matrix(x, op, "x"));
  SME2K_RETURN_IF_ERROR(validate_matrix(y, op, "y"));
  if (y.rows != x.rows || y.cols != x.cols) {
    return Status::error(StatusCode::kInvalidArgument, "%s: y is %zu x %zu, x is %zu x %zu", op,
                         y.rows, y.cols, x.rows, x.cols);
  }
  if (!std::isfinite(eps) || !(eps >= 0.0f)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: eps (%g) must be finite and >= 0", op,
                         static_cast<double>(eps));
  }
  uintptr_t x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  matrix_bytes(x, &x0, &x1);
  matrix_bytes(y, &y0, &y1);
  const bool in_place =
      static_cast<const void*>(x.data) == static_cast<const void*>(y.data) && x.ld == y.ld;
  if (!in_place && ranges_overlap(x0, x1, y0, y1)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: x and y overlap (only y == x with the same ld is allowed)", op);
  }
  if (x.cols > static_cast<size_t>(PTRDIFF_MAX) / sizeof(float)) {
    return Status::error(StatusCode::kSizeOverflow, "%s: %zu columns overflow", op, x.cols);
  }
  for (const float* values : {weight, bias}) {
    if (values == nullptr) continue;
    SME2K_RETURN_IF_ERROR(check_element_aligned(values, op, "weight or bias"));
    const auto v0 = reinterpret_cast<uintptr_t>(values);
    if (ranges_overlap(v0, v0 + x.cols * sizeof(float), y0, y1)) {
      return Status::error(StatusCode::kInvalidArgument, "%s: weight or bias overlaps y", op);
    }
  }
  return Status();
}

#if SME2K_HAS_SME2_CODE
template <class T>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void rms_norm_sme2(const RowNormArgs<T>& a) {
  for (size_t r = 0; r < a.rows; r += row_norm_block(true)) {
    const size_t n = a.rows - r < 16 ? a.rows - r : 16;
    if constexpr (std::is_same_v<T, f16>) {
      sme2::rms_norm_f16_block_za(a, r, n);
    } else {
      sme2::rms_norm_block_za(a, r, n);
    }
  }
}
template <class T>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void layer_norm_sme2(
    const RowNormArgs<T>& a) {
  for (size_t r = 0; r < a.rows; r += row_norm_block(false)) {
    sme2::layer_norm_block_za(a, r, a.rows - r < 8 ? a.rows - r : 8);
  }
}
#endif

/// Validates, then runs RMSNorm (rms) or LayerNorm in tasks of whole row blocks.
template <class T>
Status run_row_norm(MatrixView<const T> x, MatrixView<T> y, const float* weight, const float* bias,
                    float eps, bool rms, const ParallelFor& parallel, const char* op) {
  SME2K_RETURN_IF_ERROR(validate_row_norm(x, y, weight, bias, eps, op));
  const Path path = select_path();
  const size_t vl = path == Path::kPortable ? 0 : streaming_vl();
  const size_t block = row_norm_block(rms);
  const TaskGrid grid = plan_tasks(ceil_div(x.rows, block), 1, task_budget(parallel));
  const bool ok = run_tasks(parallel, grid.count(), vl, [&](size_t t) {
    const Range rows = units_to_elements(grid.rows(t), block, x.rows);
    const RowNormArgs<T> a{x.data + rows.begin * x.ld,
                           x.ld,
                           y.data + rows.begin * y.ld,
                           y.ld,
                           rows.size(),
                           x.cols,
                           weight,
                           bias,
                           eps};
#if SME2K_HAS_SME2_CODE
    if (vl != 0) return rms ? rms_norm_sme2(a) : layer_norm_sme2(a);
#endif
    portable::row_norm_portable(a, rms);
  });
  if (!ok) return svl_mismatch(op, vl);
  record_path(vl == 0 ? Path::kPortable : Path::kSme2);
  return Status();
}

}  // namespace detail
}  // namespace sme2k
