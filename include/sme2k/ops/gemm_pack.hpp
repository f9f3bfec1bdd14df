// Packing GEMM weights once, for every variant: gemm_packed_rhs_size() then gemm_pack_rhs().
// The packed buffer records variant, format, path and SVL (formats/packed_header.hpp), so a
// call refuses weights packed for anything else. What differs between variants (the weights'
// view, their quantization and its checks, how a format is filled) is the variant's
// WeightPacking (formats/weight_packing.hpp); this file is the same for all of them.
//
//   gemm_pack_rhs<F32>(b, RhsLayout::kKxN, bias, packed, bytes);              // float
//   gemm_pack_rhs<QS8>(b, RhsLayout::kNxK, bias, quantization, packed, bytes);
//   gemm_pack_rhs<QD8QC4W>(int4_view, RhsLayout::kNxK, bias, scales, packed, bytes);
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/weight_packing.hpp"
#include "sme2k/kernels/registry.hpp"
#include "sme2k/ops/detail/validate.hpp"
#include "sme2k/types/alignment.hpp"
#include "sme2k/types/int4.hpp"
#include "sme2k/types/layout.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {
namespace detail {

template <class Kernel>
bool gemm_payload_bytes(size_t n, size_t k, size_t vl, size_t* bytes) {
  return Kernel::RhsFormat::payload_bytes(n, k, vl, bytes);
}

/// The weights' checks and the bytes they span, for either view.
template <class T>
Status validate_weights(const MatrixView<const T>& b, const char* op, uintptr_t* b0,
                        uintptr_t* b1) {
  SME2K_RETURN_IF_ERROR(validate_matrix(b, op, "B"));
  matrix_bytes(b, b0, b1);
  return Status();
}
inline Status validate_weights(const Int4View& b, const char* op, uintptr_t* b0, uintptr_t* b1) {
  SME2K_RETURN_IF_ERROR(validate_int4(b, op));
  int4_bytes(b, b0, b1);
  return Status();
}

template <class V, class = void>
inline constexpr bool kQuantizedWeights = false;
template <class V>
inline constexpr bool kQuantizedWeights<V, std::void_t<typename WeightPacking<V>::BiasInput>> =
    true;

}  // namespace detail

/// Bytes of the packed weights for an N x K B (header included) on the current path.
template <class V = F32>
Status gemm_packed_rhs_size(size_t n, size_t k, size_t* bytes) {
  if (bytes == nullptr)
    return Status::error(StatusCode::kNullPointer, "gemm_packed_rhs_size: bytes is null");
  if (n == 0 || k == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "gemm_packed_rhs_size: N (%zu) and K (%zu) must be >= 1", n, k);
  }
  return visit_gemm_kernel<V>(select_path_for<V>(), [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    size_t payload = 0;
    if (!detail::gemm_payload_bytes<Kernel>(n, k, kernel_vl<Kernel>(), &payload) ||
        !checked_add(payload, kPackedHeaderBytes, bytes)) {
      return Status::error(StatusCode::kSizeOverflow,
                           "gemm_packed_rhs_size: packed size of N=%zu, K=%zu overflows", n, k);
    }
    return Status();
  });
}

namespace detail {

// Validation, sizing, overlap checks and the header shared by every variant's packing; the
// variant-specific part is pack_payload(Format tag, vl, payload, header&) -> Status, run
// after the checks and before the header is written (it may set the header's flags). B has
// been validated by the caller: `shape` is its N and K, [b0, b1) its bytes.
template <class V, class BiasIn, class PackPayload>
Status pack_rhs_checked(RhsShape shape, uintptr_t b0, uintptr_t b1, const BiasIn* bias,
                        void* packed, size_t packed_bytes, PackPayload&& pack_payload) {
  constexpr const char* op = "gemm_pack_rhs";
  if (packed == nullptr) return Status::error(StatusCode::kNullPointer, "%s: packed is null", op);
  if (reinterpret_cast<uintptr_t>(packed) % kPackedAlignment != 0) {
    return Status::error(StatusCode::kInvalidArgument, "%s: packed buffer is not %zu-byte aligned",
                         op, kPackedAlignment);
  }
  SME2K_RETURN_IF_ERROR(check_element_aligned(bias, op, "bias"));
  const size_t n = shape.n, k = shape.k;
  return visit_gemm_kernel<V>(select_path_for<V>(), [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    using Format = typename Kernel::RhsFormat;
    const size_t vl = kernel_vl<Kernel>();
    size_t payload = 0;
    size_t total = 0;
    if (!gemm_payload_bytes<Kernel>(n, k, vl, &payload) ||
        !checked_add(payload, kPackedHeaderBytes, &total)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: packed size of N=%zu, K=%zu overflows",
                           op, n, k);
    }
    if (packed_bytes < total) {
      return Status::error(StatusCode::kBufferTooSmall,
                           "%s: packed buffer has %zu bytes, needs %zu", op, packed_bytes, total);
    }
    const auto p0 = reinterpret_cast<uintptr_t>(packed);
    if (ranges_overlap(b0, b1, p0, p0 + total) ||
        (bias != nullptr &&
         ranges_overlap(reinterpret_cast<uintptr_t>(bias), reinterpret_cast<uintptr_t>(bias + n),
                        p0, p0 + total))) {
      return Status::error(StatusCode::kInvalidArgument, "%s: packed buffer overlaps B or bias",
                           op);
    }
    PackedHeader h = new_packed_header();
    h.variant = VariantTraits<V>::kId;
    h.format = Format::kId;
    h.path = Kernel::kPath;
    h.flags = bias != nullptr ? PackedHeader::kFlagHasBias : 0;
    h.svl_bytes = static_cast<uint32_t>(vl * 4);
    h.n = n;
    h.k = k;
    h.payload_bytes = payload;
    SME2K_RETURN_IF_ERROR(pack_payload(KernelTag<Format>{}, vl,
                                       static_cast<uint8_t*>(packed) + kPackedHeaderBytes, h));
    write_packed_header(packed, h);
    return Status();
  });
}

inline Status validate_rhs_layout(RhsLayout layout, const char* op) {
  if (layout != RhsLayout::kKxN && layout != RhsLayout::kNxK) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown RhsLayout %d", op,
                         static_cast<int>(layout));
  }
  return Status();
}

/// gemm_pack_rhs() of validated arguments: the weights' checks, then the variant's, then
/// pack_rhs_checked() with the variant's packer.
template <class V, class BiasIn>
Status pack_weights(const typename WeightPacking<V>::Weights& b, RhsLayout layout,
                    const BiasIn* bias, const typename WeightPacking<V>::Quantization& q,
                    void* packed, size_t packed_bytes) {
  constexpr const char* op = "gemm_pack_rhs";
  uintptr_t b0 = 0, b1 = 0;
  SME2K_RETURN_IF_ERROR(validate_weights(b, op, &b0, &b1));
  SME2K_RETURN_IF_ERROR(validate_rhs_layout(layout, op));
  const RhsShape shape = rhs_shape(b.rows, b.cols, layout);
  if constexpr (kQuantizedWeights<V>) {
    SME2K_RETURN_IF_ERROR(WeightPacking<V>::validate(q, bias, shape, op));
  }
  return pack_rhs_checked<V>(shape, b0, b1, bias, packed, packed_bytes,
                             [&](auto format, size_t vl, void* payload, PackedHeader& h) {
                               using Format = typename decltype(format)::type;
                               WeightPacking<V>::template pack<Format>(b, layout, bias, q, vl,
                                                                       payload, h);
                               return Status();
                             });
}

}  // namespace detail

/// Packs B and an optional bias for the current path (float variants).
/// @param[in]  b       K x N (layout kKxN) or N x K (kNxK), row-major with b.ld
/// @param[in]  bias    N values, or null for none
/// @param[out] packed  packed_bytes >= gemm_packed_rhs_size(); any alignment
template <class V = F32, class BiasIn = typename VariantTraits<V>::Bias>
Status gemm_pack_rhs(typename WeightPacking<V>::Weights b, RhsLayout layout, const BiasIn* bias,
                     void* packed, size_t packed_bytes) {
  static_assert(!detail::kQuantizedWeights<V>,
                "sme2k: these weights need their quantization (WeightPacking<V>::Quantization): "
                "gemm_pack_rhs(b, layout, bias, quantization, packed, packed_bytes)");
  static_assert(VariantTraits<V>::template kBiasInputs<BiasIn>,
                "sme2k: this variant does not take a bias of that type");
  return detail::pack_weights<V>(b, layout, bias, NoWeightQuantization{}, packed, packed_bytes);
}

/// gemm_pack_rhs() without a bias.
template <class V = F32>
Status gemm_pack_rhs(typename WeightPacking<V>::Weights b, RhsLayout layout, std::nullptr_t,
                     void* packed, size_t packed_bytes) {
  return gemm_pack_rhs<V>(b, layout, static_cast<const typename VariantTraits<V>::Bias*>(nullptr),
                          packed, packed_bytes);
}

/// Packs quantized weights with their quantization (formats/weight_packing.hpp says, per
/// variant, what it is: QS8 a Qs8Quantization, folded into per-channel requantization
/// parameters; QD8 and QD8QC4W the N weight scales; QD8QB4W BlockScales) and an optional
/// bias (QS8 int32, QD8 variants f32). K <= kQd8MaxK for the QD8 variants.
template <class V>
Status gemm_pack_rhs(typename WeightPacking<V>::Weights b, RhsLayout layout,
                     const typename WeightPacking<V>::BiasInput* bias,
                     const typename WeightPacking<V>::Quantization& quantization, void* packed,
                     size_t packed_bytes) {
  return detail::pack_weights<V>(b, layout, bias, quantization, packed, packed_bytes);
}

/// gemm_packed_rhs_size() of blockwise-quantized weights with their block size (checked: one
/// the weights can have; the packed size itself does not depend on it).
template <class V, class = std::enable_if_t<WeightPacking<V>::kBlockwise>>
Status gemm_packed_rhs_size(size_t n, size_t k, size_t block, size_t* bytes) {
  SME2K_RETURN_IF_ERROR(WeightPacking<V>::check_block(k, block, "gemm_packed_rhs_size"));
  return gemm_packed_rhs_size<V>(n, k, bytes);
}

/// Packs ggml/GGUF Q4_0 weights as llama.cpp holds them (N rows of K / 32 blocks, row-major;
/// formats/gguf_q4_0.hpp) with an optional f32 bias: the same packed weights as
/// gemm_pack_rhs() of the same values and scales.
template <class V, class = std::enable_if_t<WeightPacking<V>::kTakesGgufQ4_0>>
Status gemm_pack_rhs_q4_0(const void* blocks, size_t n, size_t k, const float* bias, void* packed,
                          size_t packed_bytes) {
  GgufQ4_0Rows rows{static_cast<const uint8_t*>(blocks), n, k, 0};
  SME2K_RETURN_IF_ERROR(rows.validate("gemm_pack_rhs_q4_0"));
  const auto b0 = reinterpret_cast<uintptr_t>(blocks);
  return detail::pack_rhs_checked<V>(
      RhsShape{n, k}, b0, b0 + rows.bytes(), bias, packed, packed_bytes,
      [&](auto format, size_t vl, void* payload, PackedHeader&) {
        rows.template pack<typename decltype(format)::type>(bias, vl, payload);
        return Status();
      });
}

}  // namespace sme2k
