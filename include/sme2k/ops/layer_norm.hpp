// LayerNorm over the last dimension (torch.nn.LayerNorm / ggml_norm with the affine part):
//   y[r][c] = (x[r][c] - mean) / sqrt(var + eps) * weight[c] + bias[c]
// with the biased variance (divided by cols), for f32 or f16 rows (f32 arithmetic, y rounded
// once). weight and bias are f32 (cols values) or null (1 and 0). The mean and the centred
// sum of squares take two passes (no E[x^2] - mean^2 cancellation). Any row strides; y may
// be x (same stride). SME2 kernel: kernels/sme2/row_norm_za.hpp.
#pragma once

#include "sme2k/ops/detail/row_norm.hpp"
#include "sme2k/ops/op_plan.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/parallel.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {

/// y = (x - mean) / sqrt(var + eps) * weight + bias, row by row. T: float or f16. weight,
/// bias: x.cols f32 values each, or null. eps: finite and >= 0. y: x's shape; y == x (same
/// ld) works in place. `parallel`: tasks of whole blocks of 8 rows.
template <class T>
Status layer_norm(MatrixView<const T> x, MatrixView<T> y, const float* weight, const float* bias,
                  float eps, const ParallelFor& parallel = {}) {
  return detail::run_row_norm(x, y, weight, bias, eps, false, parallel, "layer_norm");
}

/// What layer_norm<T> would run for `rows` rows: the kernel, its path and the tasks handed to
/// `parallel` (whole blocks of 8 rows; no workspace).
template <class T>
Status layer_norm_plan(size_t rows, OpPlan* plan, const ParallelFor& parallel = {}) {
  if (plan == nullptr)
    return Status::error(StatusCode::kNullPointer, "layer_norm_plan: plan is null");
  const bool sme2 = select_path() != Path::kPortable;
  const size_t blocks = ceil_div(rows, detail::row_norm_block(false));
  *plan = OpPlan{sme2 ? ("layer_norm_sme2_za") : "row_norm_portable",
                 sme2 ? Path::kSme2 : Path::kPortable,
                 detail::plan_tasks(blocks, 1, detail::task_budget(parallel)).count(), 0};
  return Status();
}

}  // namespace sme2k
