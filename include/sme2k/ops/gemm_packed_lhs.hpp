// Activations packed once, multiplied by several weight matrices (QD8).
//
// gemm<QD8>() quantizes A per row inside every call. When several GEMMs read the same
// activations (an attention block's Q, K and V projections, an FFN's gate and up
// projections), a runtime quantizes and packs them once with gemm_pack_lhs() and hands the
// packed buffer to each GEMM: the same numbers, bit for bit, as gemm() on A itself. The
// packed buffer has the 64-byte header of packed weights (formats/packed_header.hpp; its N
// field holds M) and serves only the path and SVL it was packed for.
//
// Usage:
//   size_t a_bytes, ws_bytes;
//   gemm_packed_lhs_size<QD8>(m, k, &a_bytes);                 // then allocate
//   gemm_pack_lhs<QD8>(a_view, packed_a, a_bytes);              // f32 or f16 A
//   gemm_workspace_size<QD8>(m, n, k, &ws_bytes);               // enough for either gemm()
//   gemm<QD8>(PackedLhs{packed_a, a_bytes}, packed_w, w_bytes, c_view, {}, ws, ws_bytes);
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "sme2k/ops/gemm.hpp"

namespace sme2k {

/// Activations gemm_pack_lhs() packed: the whole buffer and its size.
struct PackedLhs {
  const void* data;
  size_t bytes;
};

namespace detail {

template <class Kernel>
bool packed_lhs_payload_bytes(size_t m, size_t k, size_t vl, size_t* bytes) {
  using Format = typename Kernel::PackedLhsFormat;
  if constexpr (Kernel::kPath == Path::kPortable) {
    return Format::checked_payload_bytes(m, k, bytes);
  } else {
    size_t panel = 0;
    return Format::checked_panel_bytes(k, vl, &panel) &&
           checked_mul(panel, ceil_div(m, Format::mr(vl)), bytes);
  }
}

template <class V, class Kernel>
PackedExpectation packed_lhs_expectation(size_t payload) {
  return {VariantTraits<V>::kId, Kernel::PackedLhsFormat::kId, Kernel::kPath,
          static_cast<uint32_t>(kernel_vl<Kernel>() * 4), payload};
}

/// The payload's row parameters (M of them, O(M)): the header's checksum does not cover the
/// payload, and a zero point outside int8 would overflow the kernels' int32 zero-point term
/// (UB on the portable path, wrapped on SME2: the paths would disagree). Refused as the
/// header checks refuse a damaged header.
template <class Kernel>
Status check_packed_lhs_rows(const void* payload, size_t m, size_t k, size_t vl) {
  using Format = typename Kernel::PackedLhsFormat;
  for (size_t i = 0; i < m; ++i) {
    const Qd8RowParams p = Format::row_params_of(payload, k, vl, i);
    if (!qd8_row_params_valid(p)) {
      return Status::error(StatusCode::kPackedMismatch,
                           "packed activations: row %zu's quantization (zero point %d, scale %g) "
                           "is impossible: the payload is corrupted",
                           i, -static_cast<int>(p.neg_zero_point), static_cast<double>(p.scale));
    }
  }
  return Status();
}

}  // namespace detail

/// Bytes of M x K packed activations (header included) on the current path.
template <class V>
Status gemm_packed_lhs_size(size_t m, size_t k, size_t* bytes) {
  static_assert(detail::kPacksLhs<V>, "sme2k: this variant packs its activations per call");
  constexpr const char* op = "gemm_packed_lhs_size";
  if (bytes == nullptr) return Status::error(StatusCode::kNullPointer, "%s: bytes is null", op);
  if (m == 0 || k == 0) {
    return Status::error(StatusCode::kInvalidArgument, "%s: M (%zu) and K (%zu) must be >= 1", op,
                         m, k);
  }
  return visit_gemm_kernel<V>(select_path_for<V>(), [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    size_t payload = 0;
    if (!detail::packed_lhs_payload_bytes<Kernel>(m, k, kernel_vl<Kernel>(), &payload) ||
        !checked_add(payload, kPackedHeaderBytes, bytes)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: M=%zu, K=%zu overflows", op, m, k);
    }
    return Status();
  });
}

/// Quantizes A (f32 or f16, M x K, row-major with a.ld) per row and packs it for gemm() on
/// the current path. K <= kQd8MaxK, as for the weights.
/// @param[out] packed    packed_bytes >= gemm_packed_lhs_size(); 4-byte aligned; must not
///                       overlap A
/// @param[in]  parallel  the runtime's parallel-for: tasks of whole 2VL-row panels (4 rows
///                       on the portable path); no workspace
template <class V, class In>
Status gemm_pack_lhs(MatrixView<const In> a, void* packed, size_t packed_bytes,
                     const ParallelFor& parallel = {}) {
  static_assert(detail::kPacksLhs<V>, "sme2k: this variant packs its activations per call");
  static_assert(detail::kTakesInput<V, In>, "sme2k: this variant does not take that input type");
  constexpr const char* op = "gemm_pack_lhs";
  SME2K_RETURN_IF_ERROR(detail::validate_matrix(a, op, "A"));
  if (a.cols > kQd8MaxK) {
    return Status::error(StatusCode::kUnsupported, "%s: K=%zu is above QD8's limit of %zu", op,
                         a.cols, kQd8MaxK);
  }
  if (packed == nullptr) return Status::error(StatusCode::kNullPointer, "%s: packed is null", op);
  if (reinterpret_cast<uintptr_t>(packed) % kPackedAlignment != 0) {
    return Status::error(StatusCode::kInvalidArgument, "%s: packed buffer is not %zu-byte aligned",
                         op, kPackedAlignment);
  }
  return visit_gemm_kernel<V>(select_path_for<V>(), [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    size_t payload = 0, total = 0;
    if (!detail::packed_lhs_payload_bytes<Kernel>(a.rows, a.cols, kernel_vl<Kernel>(), &payload) ||
        !checked_add(payload, kPackedHeaderBytes, &total)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: M=%zu, K=%zu overflows", op, a.rows,
                           a.cols);
    }
    if (packed_bytes < total) {
      return Status::error(StatusCode::kBufferTooSmall,
                           "%s: packed buffer has %zu bytes, needs %zu", op, packed_bytes, total);
    }
    uintptr_t a0 = 0, a1 = 0;
    detail::matrix_bytes(a, &a0, &a1);
    const auto p0 = reinterpret_cast<uintptr_t>(packed);
    if (detail::ranges_overlap(a0, a1, p0, p0 + total)) {
      return Status::error(StatusCode::kInvalidArgument, "%s: packed buffer overlaps A", op);
    }
    const PackedExpectation want = detail::packed_lhs_expectation<V, Kernel>(payload);
    PackedHeader h = new_packed_header();
    h.variant = want.variant;
    h.format = want.format;
    h.path = want.path;
    h.svl_bytes = want.svl_bytes;
    h.n = a.rows;
    h.k = a.cols;
    h.payload_bytes = payload;
    auto* out = static_cast<uint8_t*>(packed) + kPackedHeaderBytes;
    using Format = typename Kernel::PackedLhsFormat;
    const size_t vl = kernel_vl<Kernel>(), mr = Kernel::m_step(vl);
    const detail::TaskGrid grid =
        detail::plan_tasks(ceil_div(a.rows, mr), 1, detail::task_budget(parallel));
    if constexpr (Kernel::kPath == Path::kPortable) Format::pack_padding(a.rows, out);
    const bool ok = detail::run_tasks(parallel, grid.count(), vl, [&](size_t t) {
      const detail::Range rows = detail::units_to_elements(grid.rows(t), mr, a.rows);
      const MatrixView<const In> part{a.data + rows.begin * a.ld, rows.size(), a.cols, a.ld};
      if constexpr (Kernel::kPath == Path::kPortable) {
        Format::pack_rows(part, a.rows, rows.begin, out);
      } else {
#if SME2K_HAS_SME2_CODE
        detail::pack_lhs_sme2<Format>(part,
                                      out + rows.begin / mr * Format::panel_bytes(a.cols, vl));
#endif
      }
    });
    if (!ok) return detail::svl_mismatch(op, vl);
    write_packed_header(packed, h);
    detail::record_path(Kernel::kPath);
    return Status();
  });
}

/// C = epilogue(A * B + bias) with A from gemm_pack_lhs() and B from gemm_pack_rhs():
/// the result of gemm() on the A that was packed, bit for bit.
/// @param[in]  a          the whole buffer gemm_pack_lhs() filled, and its size
/// @param[in]  workspace  >= gemm_workspace_size() bytes with the same `parallel` (may be
///                        null when that is 0)
/// @param[in]  parallel   the runtime's parallel-for (types/parallel.hpp); default: serial
template <class V, class Out = typename VariantTraits<V>::Out>
Status gemm(PackedLhs a, const void* packed_rhs, size_t packed_rhs_bytes, MatrixView<Out> c,
            const GemmEpilogue& epilogue, void* workspace, size_t workspace_bytes,
            const ParallelFor& parallel = {}) {
  static_assert(detail::kPacksLhs<V>, "sme2k: this variant packs its activations per call");
  constexpr const char* op = "gemm";
  PackedHeader lhs_header{};
  SME2K_RETURN_IF_ERROR(read_packed_header(a.data, a.bytes, &lhs_header, "packed activations"));
  if (lhs_header.n == 0 || lhs_header.k == 0) {
    return Status::error(StatusCode::kPackedMismatch, "%s: packed activations: bad shape", op);
  }
  const auto a0 = reinterpret_cast<uintptr_t>(a.data);
  const detail::LhsExtent lhs{static_cast<size_t>(lhs_header.n), static_cast<size_t>(lhs_header.k),
                              a0, a0 + a.bytes};
  detail::CheckedCall checked{};
  SME2K_RETURN_IF_ERROR(
      detail::check_call<V>(lhs, packed_rhs, packed_rhs_bytes, c, epilogue, op, &checked));
  return visit_gemm_kernel<V>(select_path_for<V>(), [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    const size_t vl = kernel_vl<Kernel>();
    size_t payload = 0;
    if (!detail::packed_lhs_payload_bytes<Kernel>(lhs.m, lhs.k, vl, &payload)) {
      return Status::error(StatusCode::kPackedMismatch, "%s: packed activations: bad shape", op);
    }
    SME2K_RETURN_IF_ERROR(check_packed_header(
        lhs_header, detail::packed_lhs_expectation<V, Kernel>(payload), "packed activations"));
    SME2K_RETURN_IF_ERROR(detail::check_packed_lhs_rows<Kernel>(
        static_cast<const uint8_t*>(a.data) + kPackedHeaderBytes, lhs.m, lhs.k, vl));
    // The kernel's own part only, per task: A is packed already.
    const detail::TaskGrid grid = detail::gemm_task_grid<V, Kernel>(
        lhs.m, checked.n, epilogue.order, detail::task_budget(parallel));
    const size_t slice = detail::packed_lhs_workspace_bytes<Kernel>(lhs.k, vl);
    size_t needed = 0;
    if (!detail::task_workspace_bytes(slice, grid.count(), &needed)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: sizes overflow", op);
    }
    void* aligned = nullptr;
    SME2K_RETURN_IF_ERROR(
        (detail::check_kernel_call<V, Kernel>(lhs, packed_rhs, packed_rhs_bytes, checked, needed,
                                              workspace, workspace_bytes, op, &aligned)));
    const detail::PackedLhsCall<Out> call{
        lhs.m,
        lhs.k,
        static_cast<const uint8_t*>(a.data) + kPackedHeaderBytes,
        lhs.m,
        0,
        static_cast<const uint8_t*>(packed_rhs) + kPackedHeaderBytes,
        checked.header.has_bias(),
        c,
        detail::plan_for_weights(epilogue, checked.header),
        aligned};
    const bool ok = detail::run_tasks(parallel, grid.count(), vl, [&](size_t t) {
      const detail::PackedLhsCall<Out> task =
          detail::gemm_task<Kernel>(call, lhs.k, grid, t, slice);
      if constexpr (Kernel::kPath == Path::kPortable) {
        detail::run_gemm_packed_lhs_portable<Kernel>(task);
      } else {
#if SME2K_HAS_SME2_CODE
        detail::run_gemm_packed_lhs_sme2<Kernel>(task);
#endif
      }
    });
    if (!ok) return detail::svl_mismatch(op, vl);
    detail::record_path(Kernel::kPath);
    return Status();
  });
}

}  // namespace sme2k
