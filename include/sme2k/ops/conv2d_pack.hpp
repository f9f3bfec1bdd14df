// Packing convolution weights once (conv2d_packed_weights_size, conv2d_pack_weights): the
// descriptor (formats/conv_weights.hpp), then per group the GEMM kernel's weight panels of
// the gathered K (taps x channels), or for depthwise the per-tap channel rows and the channel
// parameters. What each variant's weights need beyond that (their quantization) follows
// formats/weight_packing.hpp, as for GEMM weights.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/formats/conv_lhs_gather.hpp"
#include "sme2k/formats/conv_weights.hpp"
#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/qs8_weights.hpp"
#include "sme2k/formats/weight_packing.hpp"
#include "sme2k/kernels/portable/depthwise_conv2d_portable.hpp"
#include "sme2k/kernels/registry.hpp"
#include "sme2k/kernels/sme2/depthwise_sme2.hpp"
#include "sme2k/ops/batchnorm.hpp"
#include "sme2k/ops/detail/gemm_driver.hpp"
#include "sme2k/ops/detail/tasks.hpp"
#include "sme2k/ops/detail/validate.hpp"
#include "sme2k/ops/op_plan.hpp"
#include "sme2k/types/alignment.hpp"
#include "sme2k/types/conv.hpp"
#include "sme2k/types/quantization.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {
namespace detail {

template <class V>
inline constexpr bool kConvVariant = WeightPacking<V>::kConvolutions;

/// Convolution weights packed as they are (no quantization comes with them).
template <class V>
inline constexpr bool kFloatConvWeights =
    kConvVariant<V> &&
    std::is_same_v<typename WeightPacking<V>::Quantization, NoWeightQuantization>;

/// Output pixels the portable path gathers at a time (rows of its A).
constexpr size_t kPortableConvRows = 32;

/// The per-group GEMM of a grouped convolution on Kernel's formats.
struct ConvGemmShape {
  size_t kc;           // channels per tap in K
  size_t k;            // taps * kc
  size_t group_bytes;  // one group's packed weights, rounded up to 64
};

template <class Kernel>
bool conv_gemm_shape(const Conv2dParams& p, size_t vl, ConvGemmShape* s) {
  s->kc = round_up(p.in_channels_per_group(), Kernel::RhsFormat::kKr);
  s->k = p.taps() * s->kc;  // bounded by validate_conv2d_weights_params()
  size_t bytes = 0;
  return Kernel::RhsFormat::payload_bytes(p.out_channels_per_group(), s->k, vl, &bytes) &&
         checked_add(bytes, 63, &bytes) && ((s->group_bytes = bytes / 64 * 64), true);
}

/// Depthwise weights: the variant's weight type and per-channel params.
/// Depthwise channel parameters: what the variant's GEMM weights keep per channel (f32 bias,
/// or QS8's folded bias and requantization scale).
template <class V>
using DepthwiseParams = typename GemmKernelFor<V, Path::kPortable>::RhsFormat::BiasElement;

/// Kernels whose weights carry QS8's per-channel requantization (int8 out, input zero point
/// as the padding value).
template <class Kernel>
inline constexpr bool kRequantizes =
    std::is_same_v<typename Kernel::RhsFormat::BiasElement, Qs8ChannelParams>;

/// What conv2d() expects of a packed buffer on `Kernel`'s path; false on overflow.
template <class V, class Kernel>
bool conv_expectation(const Conv2dParams& p, PackedExpectation* want, ConvGemmShape* shape) {
  using Traits = VariantTraits<V>;
  if (p.depthwise()) {
    *shape = {1, p.taps(), depthwise_tap_row_bytes<typename Traits::Rhs>(p.out_channels)};
    *want = {
        Traits::kId,
        Kernel::RhsFormat::kId,
        Path::kPortable,
        0,
        depthwise_payload_bytes<typename Traits::Rhs, DepthwiseParams<V>>(p) - kConvDescriptorBytes,
        PackedHeader::kFlagConvWeights | PackedHeader::kFlagDepthwise};
    want->payload_bytes += kConvDescriptorBytes;
    return true;
  }
  const size_t vl = kernel_vl<Kernel>();
  size_t payload = 0;
  if (!conv_gemm_shape<Kernel>(p, vl, shape) ||
      !checked_mul(shape->group_bytes, p.groups, &payload) ||
      !checked_add(payload, kConvDescriptorBytes, &payload)) {
    return false;
  }
  *want = {Traits::kId, Kernel::RhsFormat::kId,        Kernel::kPath, static_cast<uint32_t>(vl * 4),
           payload,     PackedHeader::kFlagConvWeights};
  return true;
}

/// Packs validated weights: the descriptor, then per group pack_group(group, payload) or
/// the depthwise taps and pack_params(params).
template <class V, class W, class B, class PackGroup, class PackParams>
Status pack_conv_checked(const Conv2dParams& p, const W* weights, ConvWeightLayout layout,
                         const B* bias, size_t bias_bytes, void* packed, size_t packed_bytes,
                         PackGroup&& pack_group, PackParams&& pack_params) {
  constexpr const char* op = "conv2d_pack_weights";
  SME2K_RETURN_IF_ERROR(validate_conv2d_weights_params(p, op));
  if (weights == nullptr)
    return Status::error(StatusCode::kNullPointer, "%s: weights are null", op);
  SME2K_RETURN_IF_ERROR(check_element_aligned(weights, op, "weights"));
  SME2K_RETURN_IF_ERROR(check_element_aligned(bias, op, "bias"));
  if (packed == nullptr) return Status::error(StatusCode::kNullPointer, "%s: packed is null", op);
  if (!valid_conv_weight_layout(layout)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown ConvWeightLayout %d", op,
                         static_cast<int>(layout));
  }
  if (reinterpret_cast<uintptr_t>(packed) % kPackedAlignment != 0) {
    return Status::error(StatusCode::kInvalidArgument, "%s: packed buffer is not %zu-byte aligned",
                         op, kPackedAlignment);
  }
  return visit_gemm_kernel<V, false>(select_path(), [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    PackedExpectation want{};
    ConvGemmShape shape{};
    size_t total = 0;
    if (!conv_expectation<V, Kernel>(p, &want, &shape) ||
        !checked_add(want.payload_bytes, kPackedHeaderBytes, &total)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: packed size overflows", op);
    }
    if (packed_bytes < total) {
      return Status::error(StatusCode::kBufferTooSmall,
                           "%s: packed buffer has %zu bytes, needs %zu", op, packed_bytes, total);
    }
    const auto p0 = reinterpret_cast<uintptr_t>(packed);
    const auto w0 = reinterpret_cast<uintptr_t>(weights);
    const size_t weight_count = p.taps() * p.in_channels_per_group() * p.out_channels;
    const auto b0 = reinterpret_cast<uintptr_t>(bias);
    if (ranges_overlap(w0, w0 + weight_count * sizeof(W), p0, p0 + total) ||
        (bias != nullptr && ranges_overlap(b0, b0 + bias_bytes, p0, p0 + total))) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: packed buffer overlaps the weights or the bias", op);
    }
    PackedHeader h = new_packed_header();
    h.variant = want.variant;
    h.format = want.format;
    h.path = want.path;
    h.flags = static_cast<uint16_t>(want.kind | (bias != nullptr ? PackedHeader::kFlagHasBias : 0));
    h.svl_bytes = want.svl_bytes;
    h.n = p.out_channels;
    h.k = shape.k;
    h.payload_bytes = want.payload_bytes;
    auto* payload = static_cast<uint8_t*>(packed) + kPackedHeaderBytes;
    const ConvWeightsDescriptor d{p.in_channels, p.out_channels, p.kernel_height,   p.kernel_width,
                                  p.groups,      shape.kc,       shape.group_bytes, 0};
    std::memcpy(payload, &d, sizeof d);
    uint8_t* body = payload + kConvDescriptorBytes;
    if (p.depthwise()) {
      using Elem = typename VariantTraits<V>::Rhs;
      const size_t row = depthwise_tap_row_bytes<Elem>(p.out_channels);
      std::memset(body, 0, want.payload_bytes - kConvDescriptorBytes);
      for (size_t t = 0; t < p.taps(); ++t) {
        auto* taps = reinterpret_cast<Elem*>(body + t * row);
        for (size_t co = 0; co < p.out_channels; ++co) {
          taps[co] =
              conv_weight_at(weights, layout, p, co, 0, t / p.kernel_width, t % p.kernel_width);
        }
      }
      SME2K_RETURN_IF_ERROR(
          pack_params(reinterpret_cast<DepthwiseParams<V>*>(body + p.taps() * row), h));
    } else {
      const size_t vl = kernel_vl<Kernel>();
      for (size_t g = 0; g < p.groups; ++g) {
        const size_t co0 = g * p.out_channels_per_group();
        const size_t cin = p.in_channels_per_group();
        const auto at = [&, co0, cin](size_t kk, size_t j) {
          const size_t tap = kk / shape.kc, ci = kk % shape.kc;
          return ci < cin ? conv_weight_at(weights, layout, p, co0 + j, ci, tap / p.kernel_width,
                                           tap % p.kernel_width)
                          : W{};
        };
        SME2K_RETURN_IF_ERROR(pack_group(KernelTag<typename Kernel::RhsFormat>{}, g, shape.k, at,
                                         vl, body + g * shape.group_bytes, h));
      }
    }
    write_packed_header(packed, h);
    return Status();
  });
}

}  // namespace detail

/// Bytes of the packed weights of a convolution (header included) on the current path.
/// Only channels, kernel and groups matter: one packing serves every input size.
template <class V>
Status conv2d_packed_weights_size(const Conv2dParams& p, size_t* bytes) {
  static_assert(detail::kConvVariant<V>, "sme2k: conv2d serves F32, F16 and QS8");
  constexpr const char* op = "conv2d_packed_weights_size";
  if (bytes == nullptr) return Status::error(StatusCode::kNullPointer, "%s: bytes is null", op);
  SME2K_RETURN_IF_ERROR(validate_conv2d_weights_params(p, op));
  return visit_gemm_kernel<V, false>(select_path(), [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    PackedExpectation want{};
    detail::ConvGemmShape shape{};
    if (!detail::conv_expectation<V, Kernel>(p, &want, &shape) ||
        !checked_add(want.payload_bytes, kPackedHeaderBytes, bytes)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: packed size overflows", op);
    }
    return Status();
  });
}

/// Packs float weights (F32: float, F16: f16) given in `layout`, and an optional bias (Cout
/// values; F16 takes f16 or f32), for the current path.
template <class V, class BiasIn = typename VariantTraits<V>::Bias,
          class = std::enable_if_t<detail::kFloatConvWeights<V>>>
Status conv2d_pack_weights(const Conv2dParams& p, const typename VariantTraits<V>::Rhs* weights,
                           ConvWeightLayout layout, const BiasIn* bias, void* packed,
                           size_t packed_bytes) {
  static_assert(VariantTraits<V>::template kBiasInputs<BiasIn>,
                "sme2k: this variant does not take a bias of that type");
  return detail::pack_conv_checked<V>(
      p, weights, layout, bias, p.out_channels * sizeof(BiasIn), packed, packed_bytes,
      [&](auto format, size_t g, size_t k, auto&& at, size_t vl, void* payload, PackedHeader&) {
        using Format = typename decltype(format)::type;
        Format::pack_from(p.out_channels_per_group(), k, at,
                          bias != nullptr ? bias + g * p.out_channels_per_group() : nullptr, vl,
                          payload);
        return Status();
      },
      [&](float* params, PackedHeader&) {
        for (size_t co = 0; co < p.out_channels; ++co) {
          params[co] = bias != nullptr ? to_f32(bias[co]) : 0.0f;
        }
        return Status();
      });
}

/// conv2d_pack_weights() without a bias.
template <class V, class = std::enable_if_t<detail::kFloatConvWeights<V>>>
Status conv2d_pack_weights(const Conv2dParams& p, const typename VariantTraits<V>::Rhs* weights,
                           ConvWeightLayout layout, std::nullptr_t, void* packed,
                           size_t packed_bytes) {
  return conv2d_pack_weights<V>(p, weights, layout,
                                static_cast<const typename VariantTraits<V>::Bias*>(nullptr),
                                packed, packed_bytes);
}

/// Packs QS8 weights: int8 symmetric per output channel, an optional int32 bias, and the
/// quantization they are used with (input, Cout weight scales, output), folded as for the
/// GEMM (formats/qs8_weights.hpp): padding reads the input zero point, so the folded
/// zero-point term holds at the borders too.
template <class V, class = std::enable_if_t<
                       std::is_same_v<typename WeightPacking<V>::Quantization, Qs8Quantization>>>
Status conv2d_pack_weights(const Conv2dParams& p, const int8_t* weights, ConvWeightLayout layout,
                           const int32_t* bias, const Qs8Quantization& q, void* packed,
                           size_t packed_bytes) {
  constexpr const char* op = "conv2d_pack_weights";
  SME2K_RETURN_IF_ERROR(validate_conv2d_weights_params(p, op));
  SME2K_RETURN_IF_ERROR(
      validate_qs8_quantization(q, bias, p.out_channels, p.taps() * p.in_channels_per_group(), op));
  const auto flag_small_scales = [&](PackedHeader& h) {
    h.flags |= PackedHeader::kFlagHasBias;  // the folded zero-point term is always there
    bool small = true;
    for (size_t co = 0; co < p.out_channels; ++co) {
      small =
          small && requantization_scale(q.input.scale, q.weight_scales[co], q.output.scale) < 0.5f;
    }
    if (small) h.flags |= PackedHeader::kFlagSmallScales;
    h.variant_param = q.output.zero_point;
    h.variant_param2 = q.input.zero_point;
  };
  return detail::pack_conv_checked<V>(
      p, weights, layout, bias, p.out_channels * sizeof(int32_t), packed, packed_bytes,
      [&](auto format, size_t g, size_t k, auto&& at, size_t vl, void* payload, PackedHeader& h) {
        using Format = typename decltype(format)::type;
        const size_t co0 = g * p.out_channels_per_group();
        Qs8Quantization group_q = q;
        group_q.weight_scales = q.weight_scales + co0;
        pack_qs8_weights_from<Format>(p.out_channels_per_group(), k, at,
                                      bias != nullptr ? bias + co0 : nullptr, group_q, vl, payload);
        flag_small_scales(h);
        return Status();
      },
      [&](Qs8ChannelParams* params, PackedHeader& h) {
        for (size_t co = 0; co < p.out_channels; ++co) {
          int64_t sum = 0;
          for (size_t t = 0; t < p.taps(); ++t) {
            sum +=
                conv_weight_at(weights, layout, p, co, 0, t / p.kernel_width, t % p.kernel_width);
          }
          Qs8ChannelParams c;
          c.bias = static_cast<int32_t>((bias != nullptr ? bias[co] : 0) -
                                        int64_t{q.input.zero_point} * sum);
          c.scale = requantization_scale(q.input.scale, q.weight_scales[co], q.output.scale);
          std::memcpy(params + co, &c, sizeof c);
        }
        flag_small_scales(h);
        return Status();
      });
}

namespace detail {

/// QS8 conv weights' channel parameters (O(Cout)), as for GEMM weights
/// (check_qs8_channel_params): per group in front of its panels, or one array after the
/// depthwise taps. `body`: the payload after the descriptor.
template <class Kernel>
Status check_conv_qs8_params(const Conv2dParams& p, const ConvGemmShape& shape, const uint8_t* body,
                             bool small_scales, const char* op) {
  const size_t k = p.taps() * p.in_channels_per_group();
  if (p.depthwise()) {
    const uint8_t* params = body + p.taps() * shape.group_bytes;
    for (size_t co = 0; co < p.out_channels; ++co) {
      Qs8ChannelParams c;
      std::memcpy(&c, params + co * sizeof c, sizeof c);
      if (!qs8_channel_params_valid(c, k, small_scales)) return qs8_channel_params_error(co, c, op);
    }
    return Status();
  }
  const size_t per_group = p.out_channels_per_group();
  for (size_t g = 0; g < p.groups; ++g) {
    const Status s = check_qs8_channel_params<typename Kernel::RhsFormat>(
        per_group, shape.k, kernel_vl<Kernel>(), body + g * shape.group_bytes, k, small_scales, op);
    if (!s.ok()) return s;
  }
  return Status();
}
}  // namespace detail
}  // namespace sme2k
