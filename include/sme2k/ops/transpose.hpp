// Layout transforms: a 2D transpose with leading dimensions, and NCHW <-> NHWC (per image a
// C x HW <-> HW x C transpose), for 8-, 16- and 32-bit elements (int8, f16, f32 ...).
//
// sme2k's convolutions read and write either layout, so a model run through them needs no
// standalone transpose; these are for what remains (a runtime's own ops, model inputs and
// outputs). On SME2 the data goes through ZA (kernels/sme2/transpose_za.hpp): loads and
// stores only, at the load/store bound of its bytes on the Apple M4 model.
//
// Usage:
//   convert_layout<f16>(x, TensorLayout::kNCHW, y, TensorLayout::kNHWC, n, c, h, w);
//   transpose<float>(MatrixView<const float>{a, rows, cols, lda}, MatrixView<float>{b, cols,
//                    rows, ldb});
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/kernels/sme2/transpose_za.hpp"
#include "sme2k/ops/detail/tasks.hpp"
#include "sme2k/ops/detail/validate.hpp"
#include "sme2k/types/alignment.hpp"
#include "sme2k/types/conv.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {
namespace detail {

/// One transpose, as the drivers take it (bytes per element kBytes).
struct TransposeJob {
  const uint8_t* src;
  size_t rows, cols, lds;  // elements
  uint8_t* dst;
  size_t ldd;
  size_t count;  // how many (a batch), src_step / dst_step bytes apart
  size_t src_step, dst_step;
};

/// Portable: 16 x 16 blocks, so both sides stay in cache lines.
template <size_t kBytes>
void transpose_portable(const TransposeJob& j) {
  constexpr size_t kBlock = 16;
  for (size_t b = 0; b < j.count; ++b) {
    const uint8_t* src = j.src + b * j.src_step;
    uint8_t* dst = j.dst + b * j.dst_step;
    for (size_t r0 = 0; r0 < j.rows; r0 += kBlock) {
      for (size_t c0 = 0; c0 < j.cols; c0 += kBlock) {
        const size_t r1 = r0 + kBlock < j.rows ? r0 + kBlock : j.rows;
        const size_t c1 = c0 + kBlock < j.cols ? c0 + kBlock : j.cols;
        for (size_t r = r0; r < r1; ++r) {
          for (size_t c = c0; c < c1; ++c) {
            std::memcpy(dst + (c * j.ldd + r) * kBytes, src + (r * j.lds + c) * kBytes, kBytes);
          }
        }
      }
    }
  }
}

#if SME2K_HAS_SME2_CODE
template <size_t kBytes>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void transpose_sme2(const TransposeJob& j) {
  for (size_t b = 0; b < j.count; ++b) {
    sme2::transpose_za<kBytes>(j.src + b * j.src_step, j.rows, j.cols, j.lds,
                               j.dst + b * j.dst_step, j.ldd);
  }
}
#endif

/// Runs a job in tasks: batch items by runs of whole tiles of source rows (the tiles are
/// what each path moves at a time: E x E elements through ZA, 16 x 16 portably).
template <size_t kBytes>
Status run_transpose(const TransposeJob& j, const ParallelFor& parallel, const char* op) {
  const Path path = select_path();
  const size_t vl = path == Path::kPortable ? 0 : streaming_vl();
  const size_t tile = vl == 0 ? 16 : vl * 4 / kBytes;
  const TaskGrid grid = plan_tasks(j.count, ceil_div(j.rows, tile), task_budget(parallel));
  const bool ok = run_tasks(parallel, grid.count(), vl, [&](size_t t) {
    const Range items = grid.rows(t), rows = units_to_elements(grid.cols(t), tile, j.rows);
    TransposeJob part = j;
    part.src += items.begin * j.src_step + rows.begin * j.lds * kBytes;
    part.dst += items.begin * j.dst_step + rows.begin * kBytes;
    part.rows = rows.size();
    part.count = items.size();
#if SME2K_HAS_SME2_CODE
    if (vl != 0) return transpose_sme2<kBytes>(part);
#endif
    transpose_portable<kBytes>(part);
  });
  if (!ok) return svl_mismatch(op, vl);
  record_path(vl == 0 ? Path::kPortable : Path::kSme2);
  return Status();
}

}  // namespace detail

/// dst = src^T: src is rows x cols (row stride src.ld), dst cols x rows (dst.ld >= rows).
/// T: any 1-, 2- or 4-byte element type. The two may not overlap. `parallel`: the runtime's
/// parallel-for (tasks of whole tiles of source rows); no workspace.
template <class T>
Status transpose(MatrixView<const T> src, MatrixView<T> dst, const ParallelFor& parallel = {}) {
  static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4,
                "sme2k: transpose moves 8-, 16- or 32-bit elements");
  static_assert(std::is_trivially_copyable_v<T>, "sme2k: transpose copies elements bitwise");
  constexpr const char* op = "transpose";
  SME2K_RETURN_IF_ERROR(detail::validate_matrix(src, op, "source"));
  SME2K_RETURN_IF_ERROR(detail::validate_matrix(dst, op, "destination"));
  if (dst.rows != src.cols || dst.cols != src.rows) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: destination is %zu x %zu, the transpose of %zu x %zu is %zu x %zu",
                         op, dst.rows, dst.cols, src.rows, src.cols, src.cols, src.rows);
  }
  uintptr_t s0 = 0, s1 = 0, d0 = 0, d1 = 0;
  detail::matrix_bytes(src, &s0, &s1);
  detail::matrix_bytes(dst, &d0, &d1);
  if (detail::ranges_overlap(s0, s1, d0, d1)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: source and destination overlap", op);
  }
  return detail::run_transpose<sizeof(T)>(
      {reinterpret_cast<const uint8_t*>(src.data), src.rows, src.cols, src.ld,
       reinterpret_cast<uint8_t*>(dst.data), dst.ld, 1, 0, 0},
      parallel, op);
}

/// A dense batch x C x H x W tensor from one layout to the other (NCHW <-> NHWC; the same
/// layout copies). T: any 1-, 2- or 4-byte element type. The two may not overlap.
/// `parallel`: the runtime's parallel-for (tasks: images by tiles of source rows).
template <class T>
Status convert_layout(const T* src, TensorLayout from, T* dst, TensorLayout to, size_t batch,
                      size_t channels, size_t height, size_t width,
                      const ParallelFor& parallel = {}) {
  static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4,
                "sme2k: convert_layout moves 8-, 16- or 32-bit elements");
  static_assert(std::is_trivially_copyable_v<T>, "sme2k: convert_layout copies elements bitwise");
  constexpr const char* op = "convert_layout";
  if (src == nullptr || dst == nullptr) {
    return Status::error(StatusCode::kNullPointer, "%s: source or destination is null", op);
  }
  SME2K_RETURN_IF_ERROR(check_element_aligned(src, op, "source"));
  SME2K_RETURN_IF_ERROR(check_element_aligned(dst, op, "destination"));
  for (TensorLayout layout : {from, to}) {
    if (layout != TensorLayout::kNCHW && layout != TensorLayout::kNHWC) {
      return Status::error(StatusCode::kInvalidArgument, "%s: unknown TensorLayout %d", op,
                           static_cast<int>(layout));
    }
  }
  if (batch == 0 || channels == 0 || height == 0 || width == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: N %zu, C %zu, H %zu, W %zu must be >= 1", op, batch, channels, height,
                         width);
  }
  size_t pixels = 0, image = 0, all = 0, bytes = 0;
  if (!checked_mul(height, width, &pixels) || !checked_mul(pixels, channels, &image) ||
      !checked_mul(image, batch, &all) || !checked_mul(all, sizeof(T), &bytes) ||
      bytes > static_cast<size_t>(PTRDIFF_MAX)) {
    return Status::error(StatusCode::kSizeOverflow, "%s: tensor size overflows", op);
  }
  const auto s0 = reinterpret_cast<uintptr_t>(src), d0 = reinterpret_cast<uintptr_t>(dst);
  if (detail::ranges_overlap(s0, s0 + bytes, d0, d0 + bytes)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: source and destination overlap", op);
  }
  if (from == to) {
    std::memcpy(dst, src, bytes);
    return Status();
  }
  // NCHW -> NHWC: each image's C x HW matrix transposed; NHWC -> NCHW: its HW x C one.
  const size_t rows = from == TensorLayout::kNCHW ? channels : pixels;
  const size_t cols = from == TensorLayout::kNCHW ? pixels : channels;
  return detail::run_transpose<sizeof(T)>(
      {reinterpret_cast<const uint8_t*>(src), rows, cols, cols, reinterpret_cast<uint8_t*>(dst),
       rows, batch, image * sizeof(T), image * sizeof(T)},
      parallel, op);
}

}  // namespace sme2k
