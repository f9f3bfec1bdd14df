// How each variant's weights come to gemm_pack_rhs(): the view they are given in, the bias
// type packing takes, the quantization that comes with them (none for the float variants),
// its checks, and how a panel format is filled from them. The ops are generic over this
// table (ops/gemm_pack.hpp): a variant whose weights differ adds a specialization here, not
// an overload in ops/.
//
// Each specialization has
//   Weights                       the weights' view (MatrixView of the Rhs type, or Int4View)
//   Quantization                  what comes with them (NoWeightQuantization: nothing)
//   BiasInput                     the bias element packing takes (quantized variants; the
//                                 float ones take any of VariantTraits<V>::kBiasInputs)
//   validate(q, bias, shape, op)  the quantization's checks, after the buffer's
//   pack<Format>(b, layout, bias, q, vl, payload, header)  fills payload, may set header flags
//   kConvolutions                 whether conv2d_pack_weights() takes this variant
// and may have kBlockwise (packed size also depends on the block: check_block()) or
// kTakesGgufQ4_0 (gemm_pack_rhs_q4_0()).
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/formats/gguf_q4_0.hpp"
#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/qc4_weights.hpp"
#include "sme2k/formats/qd8_weights.hpp"
#include "sme2k/formats/qs8_weights.hpp"
#include "sme2k/types/block_scales.hpp"
#include "sme2k/types/int4.hpp"
#include "sme2k/types/layout.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/status.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {

/// The quantization of float weights: none.
struct NoWeightQuantization {};

/// Float variants (F32, F16): the weights as they are, an optional bias. Convolutions too.
template <class V>
struct WeightPacking {
  using Weights = MatrixView<const typename VariantTraits<V>::Rhs>;
  using Quantization = NoWeightQuantization;
  static constexpr bool kConvolutions = true;  // conv2d_pack_weights() takes them

  template <class Format, class BiasIn>
  static void pack(const Weights& b, RhsLayout layout, const BiasIn* bias, const Quantization&,
                   size_t vl, void* payload, PackedHeader&) {
    Format::pack(b, layout, bias, vl, payload);
  }
};

/// F16Acc16: as F16, for GEMM only (its convolutions are F16's).
template <>
struct WeightPacking<F16Acc16> : WeightPacking<F16> {
  using Weights = MatrixView<const f16>;
  static constexpr bool kConvolutions = false;
};

/// QS8 x QC8W: int8 weights, an int32 bias and the quantization they are used with (input,
/// weight scales, output), folded into per-channel requantization parameters
/// (formats/qs8_weights.hpp). The packed buffer serves only that quantization.
template <>
struct WeightPacking<QS8> {
  using Weights = MatrixView<const int8_t>;
  using Quantization = Qs8Quantization;
  using BiasInput = int32_t;
  static constexpr bool kConvolutions = true;

  static Status validate(const Quantization& q, const int32_t* bias, RhsShape shape,
                         const char* op) {
    return validate_qs8_quantization(q, bias, shape.n, shape.k, op);
  }
  template <class Format>
  static void pack(const Weights& b, RhsLayout layout, const int32_t* bias, const Quantization& q,
                   size_t vl, void* payload, PackedHeader& h) {
    pack_qs8_weights<Format>(b, layout, bias, q, vl, payload);
    h.flags = PackedHeader::kFlagHasBias;  // the folded zero-point term is always there
    bool small_scales = true;
    for (size_t j = 0; j < h.n; ++j) {
      small_scales = small_scales &&
                     requantization_scale(q.input.scale, q.weight_scales[j], q.output.scale) < 0.5f;
    }
    if (small_scales) h.flags |= PackedHeader::kFlagSmallScales;
    h.variant_param = q.output.zero_point;
  }
};

/// What QD8 x per-channel weights share: N f32 weight scales (symmetric per output channel)
/// and an optional f32 bias, in QD8's channel parameters (formats/qd8_weights.hpp).
template <class WeightView>
struct Qd8ChannelWeightPacking {
  using Weights = WeightView;
  using Quantization = const float*;  // the N weight scales
  using BiasInput = float;
  static constexpr bool kConvolutions = false;

  static Status validate(const Quantization& weight_scales, const float*, RhsShape shape,
                         const char* op) {
    return validate_qd8_weights(weight_scales, shape.n, shape.k, op);
  }
};

/// QD8 x QC8W: int8 weights. K <= kQd8MaxK.
template <>
struct WeightPacking<QD8> : Qd8ChannelWeightPacking<MatrixView<const int8_t>> {
  template <class Format>
  static void pack(const Weights& b, RhsLayout layout, const float* bias,
                   const Quantization& weight_scales, size_t vl, void* payload, PackedHeader&) {
    pack_qd8_weights<Format>(b, layout, bias, weight_scales, vl, payload);
  }
};

/// QD8 x QC4W: 4-bit weights (nibbles or int8 values, types/int4.hpp). K <= kQd8MaxK.
template <>
struct WeightPacking<QD8QC4W> : Qd8ChannelWeightPacking<Int4View> {
  template <class Format>
  static void pack(const Weights& b, RhsLayout layout, const float* bias,
                   const Quantization& weight_scales, size_t vl, void* payload, PackedHeader&) {
    pack_qc4_weights<Format>(b, layout, bias, weight_scales, vl, payload);
  }
};

/// QD8 x QB4W: 4-bit weights with one scale per output channel and block of K
/// (types/block_scales.hpp: f32 or bf16, the block a multiple of 32 dividing K), an
/// optional f32 bias; or GGUF Q4_0 rows (formats/gguf_q4_0.hpp), packed exactly.
template <>
struct WeightPacking<QD8QB4W> {
  using Weights = Int4View;
  using Quantization = BlockScales;
  using BiasInput = float;
  static constexpr bool kConvolutions = false;
  static constexpr bool kBlockwise = true;
  static constexpr bool kTakesGgufQ4_0 = true;

  static Status validate(const Quantization& scales, const float*, RhsShape shape, const char* op) {
    return validate_block_scales(scales, shape.n, shape.k, op);
  }
  /// The packed layout stores a scale per 32 k whatever the block: the block only needs to
  /// be one the weights can have.
  static Status check_block(size_t k, size_t block, const char* op) {
    if (block == 0 || block % kScaleGroup != 0 || k % block != 0) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: block %zu must be a multiple of 32 dividing K=%zu", op, block, k);
    }
    return Status();
  }
  template <class Format>
  static void pack(const Weights& b, RhsLayout layout, const float* bias,
                   const Quantization& scales, size_t vl, void* payload, PackedHeader&) {
    const RhsShape shape = rhs_shape(b.rows, b.cols, layout);
    detail::with_int4_reader(b, layout, [&](auto at) {
      Format::pack(
          shape.n, shape.k, at, [&](size_t j, size_t kk) { return scales.at(j, kk); }, bias, vl,
          payload);
    });
  }
};

}  // namespace sme2k
