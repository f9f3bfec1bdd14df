// softmax over the last dimension: y[r, :] = softmax(scale * x[r, :] + mask[r, :]), for f32
// and f16 rows in and out (any row strides; in place when y is x), with an optional additive
// f32 mask ([rows, cols] with its own leading dimension, or one row shared by all: mask_ld
// 0). Accumulation in f32. A row whose every element is -inf (fully masked) gives zeros.
//
// Accuracy: the SME2 kernels' exp has a relative error of 2.6e-6 (f32 out: degree-4
// polynomial) or 7.5e-5 (f16 out: degree 3, below f16's own rounding), plus f32 rounding of
// the sum; the portable kernel uses std::exp. Elements more than 126 / log2(e) below the
// row's maximum come out as at most 2^-125 / sum instead of their (smaller) exact value.
//
// Usage:
//   softmax<float, float>(MatrixView<const float>{scores, rows, cols, ld},
//                         MatrixView<float>{probs, rows, cols, ld}, {.scale = 0.125f});
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sme2k/arch/cost_model.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/kernels/portable/softmax_portable.hpp"
#include "sme2k/kernels/sme2/softmax_sme2.hpp"
#include "sme2k/ops/detail/tasks.hpp"
#include "sme2k/ops/detail/validate.hpp"
#include "sme2k/ops/op_plan.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/parallel.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {

struct SoftmaxParams {
  float scale = 1.0f;           // > 0, finite
  const float* mask = nullptr;  // additive, f32; -inf masks an element
  size_t mask_ld = 0;           // elements between mask rows; 0: one row for all
};

namespace detail {

template <class Out>
constexpr int softmax_exp_degree() {
  return std::is_same_v<Out, float> ? 4 : 3;
}

}  // namespace detail

/// Which kernel softmax<In, Out> runs on this CPU (for logs and plan queries).
template <class In, class Out>
const char* softmax_kernel_name(Path path = select_path()) {
#if SME2K_HAS_SME2_CODE
  if (path == Path::kSme2 || path == Path::kSme2F16F16) {
    return cost_model() == CostModel::kVectorFavoured ? "softmax_sme2_exp2_z"
                                                      : "softmax_sme2_exp2_za";
  }
#endif
  (void)path;
  return "softmax_portable";
}

/// What softmax<In, Out> would run for `rows` rows (any length): the kernel, its path and the
/// tasks handed to `parallel` (no workspace).
template <class In, class Out>
Status softmax_plan(size_t rows, OpPlan* plan, const ParallelFor& parallel = {}) {
  if (plan == nullptr) {
    return Status::error(StatusCode::kNullPointer, "softmax_plan: plan is null");
  }
  const Path path = select_path();
  *plan = OpPlan{softmax_kernel_name<In, Out>(path),
                 path == Path::kPortable ? Path::kPortable : Path::kSme2,
                 std::min(detail::task_budget(parallel), rows), 0};
  return Status();
}

template <class In, class Out>
Status softmax(MatrixView<const In> x, MatrixView<Out> y, const SoftmaxParams& params = {},
               const ParallelFor& parallel = {}) {
  static_assert((std::is_same_v<In, float> || std::is_same_v<In, f16>) &&
                    (std::is_same_v<Out, float> || std::is_same_v<Out, f16>),
                "sme2k: softmax takes float or f16 rows");
  constexpr const char* kOp = "softmax";
  SME2K_RETURN_IF_ERROR(detail::validate_matrix(x, kOp, "x"));
  SME2K_RETURN_IF_ERROR(detail::validate_matrix(y, kOp, "y"));
  if (x.rows != y.rows || x.cols != y.cols) {
    return Status::error(StatusCode::kInvalidArgument, "%s: x is %zu x %zu but y is %zu x %zu", kOp,
                         x.rows, x.cols, y.rows, y.cols);
  }
  if (!(params.scale > 0.0f) || !std::isfinite(params.scale)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: scale %g must be finite and > 0", kOp,
                         static_cast<double>(params.scale));
  }
  uintptr_t x0, x1, y0, y1;
  detail::matrix_bytes(x, &x0, &x1);
  detail::matrix_bytes(y, &y0, &y1);
  const bool in_place = static_cast<const void*>(x.data) == static_cast<const void*>(y.data) &&
                        std::is_same_v<In, Out> && x.ld == y.ld;
  if (!in_place && detail::ranges_overlap(x0, x1, y0, y1)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: y overlaps x (only y == x with the same ld is allowed)", kOp);
  }
  if (params.mask != nullptr) {
    const MatrixView<const float> m{params.mask, params.mask_ld == 0 ? 1 : x.rows, x.cols,
                                    params.mask_ld == 0 ? x.cols : params.mask_ld};
    SME2K_RETURN_IF_ERROR(detail::validate_matrix(m, kOp, "mask"));
    uintptr_t m0, m1;
    detail::matrix_bytes(m, &m0, &m1);
    if (detail::ranges_overlap(m0, m1, y0, y1)) {
      return Status::error(StatusCode::kInvalidArgument, "%s: the mask overlaps y", kOp);
    }
  }
  const Path path = select_path();
  const size_t tasks = std::min(detail::task_budget(parallel), x.rows);
  const size_t vl = path == Path::kPortable ? 0 : streaming_vl();
  const auto body = [&](size_t t) {
    const detail::Range rows = detail::part_of(x.rows, tasks, t);
#if SME2K_HAS_SME2_CODE
    if (path != Path::kPortable) {
      const sme2::SoftmaxRows<In, Out> job{x.data, x.ld,         y.data,      y.ld,
                                           x.cols, params.scale, params.mask, params.mask_ld};
      constexpr int kDegree = detail::softmax_exp_degree<Out>();
      if (cost_model() == CostModel::kVectorFavoured) {
        sme2::softmax_rows_sme2<false, kDegree>(job, rows.begin, rows.end);
      } else {
        sme2::softmax_rows_sme2<true, kDegree>(job, rows.begin, rows.end);
      }
      return;
    }
#endif
    portable::softmax_rows(x.data, x.ld, y.data, y.ld, x.cols, params.scale, params.mask,
                           params.mask_ld, rows.begin, rows.end);
  };
  if (!detail::run_tasks(parallel, tasks, vl, body)) return detail::svl_mismatch(kOp, vl);
  detail::record_path(path == Path::kPortable ? Path::kPortable : Path::kSme2);
  return Status();
}

}  // namespace sme2k
