// RMSNorm over the last dimension, as LLaMA-family models and llama.cpp's rms_norm compute it:
//   y[r][c] = x[r][c] / sqrt(mean_c(x[r][c]^2) + eps) * weight[c]
// for f32 or f16 rows (f16 is widened, all arithmetic is f32, y is rounded once). weight is
// f32 (cols values; Hugging Face f16 weights are converted once at load) or null for none
// (ggml_rms_norm, whose multiplication by the weight is a separate op). Any row strides; y may
// be x (in place, same stride). On SME2, f32 rows are bound by loads and stores: x is read
// twice (a row longer than ZA + Z cannot stay on chip), y written once
// (kernels/sme2/row_norm_za.hpp); f16 rows by the ZA reads and the narrowing FCVTN
// (kernels/sme2/rms_norm_f16_za.hpp).
//
// Usage:
//   rms_norm<float>(MatrixView<const float>{x, tokens, dim, dim}, MatrixView<float>{y, tokens,
//                   dim, dim}, weight, 1e-6f);
#pragma once

#include "sme2k/ops/detail/row_norm.hpp"
#include "sme2k/ops/op_plan.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/parallel.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {

/// y = x / sqrt(mean(x^2) + eps) * weight, row by row. T: float or f16. weight: x.cols f32
/// values or null (1). eps: finite and >= 0. y: x's shape; y == x (same ld) works in place,
/// any other overlap is refused. `parallel`: tasks of whole blocks of 16 rows.
template <class T>
Status rms_norm(MatrixView<const T> x, MatrixView<T> y, const float* weight, float eps,
                const ParallelFor& parallel = {}) {
  return detail::run_row_norm(x, y, weight, nullptr, eps, true, parallel, "rms_norm");
}

/// What rms_norm<T> would run for `rows` rows: the kernel, its path and the tasks handed to
/// `parallel` (whole blocks of 16 rows; no workspace).
template <class T>
Status rms_norm_plan(size_t rows, OpPlan* plan, const ParallelFor& parallel = {}) {
  if (plan == nullptr)
    return Status::error(StatusCode::kNullPointer, "rms_norm_plan: plan is null");
  const bool sme2 = select_path() != Path::kPortable;
  const size_t blocks = ceil_div(rows, detail::row_norm_block(true));
  *plan = OpPlan{sme2 ? (std::is_same_v<T, f16> ? "rms_norm_f16_sme2_za" : "rms_norm_sme2_za")
                      : "row_norm_portable",
                 sme2 ? Path::kSme2 : Path::kPortable,
                 detail::plan_tasks(blocks, 1, detail::task_budget(parallel)).count(), 0};
  return Status();
}

}  // namespace sme2k
