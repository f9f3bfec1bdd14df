// 2D convolution (types/conv.hpp): any kernel size, stride, dilation, asymmetric padding,
// groups and depthwise, for F32, F16 (f32 accumulation, f16 or f32 out) and QS8 (QC8W
// weights, bit-exact requantization); input and output each NCHW or NHWC.
//
// A convolution is a GEMM per group: out[pixel][co] = cols[pixel][k] x B[k][co]
// (formats/conv_weights.hpp). Its weights are packed once into the GEMM kernel's weight
// format; the activations are gathered per 2VL-pixel panel from the input where it lies
// (formats/conv_lhs_gather.hpp): a panel of 2VL output pixels x K is all the im2col there
// ever is, reused across every output channel of the group. The GEMM kernel (kernels/) then
// leaves each 2VL x 2VL block of ZA by horizontal slices (NHWC: rows of channels of one
// pixel) or vertical ones (NCHW: rows of pixels of one channel), through the same fused
// epilogue as the GEMM: bias, activation, per-channel affine, clamp, requantization. A
// layout change therefore costs nothing beyond the gather and the store that run anyway.
// Channels are the GEMM's N (not its M, as the textbook NCHW formulation has it) so that
// bias, scales and affine are per column, as in every GEMM epilogue.
//
// Depthwise (groups = Cin) has no channel reduction and runs its own kernel on per-tap
// channel rows (kernels/sme2/depthwise_conv2d_sme2.hpp, kernels/portable/...).
//
// With a runtime's parallel-for, tasks take blocks of (image, group, pixel panel) units by
// panels of output channels (depthwise: images by channels or pixels), each with its own
// gather panel in the workspace.
//
// Usage:
//   conv2d_packed_weights_size<F16>(params, &bytes);
//   conv2d_pack_weights<F16>(params, weights_oihw, ConvWeightLayout::kOIHW, bias, packed, bytes);
//   conv2d_workspace_size<F16>(params, TensorLayout::kNCHW, TensorLayout::kNCHW, &ws_bytes);
//   conv2d<F16>(params, x, TensorLayout::kNCHW, packed, bytes, y, TensorLayout::kNCHW,
//               epilogue, ws, ws_bytes);
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
#include "sme2k/kernels/portable/depthwise_conv2d_portable.hpp"
#include "sme2k/kernels/registry.hpp"
#include "sme2k/kernels/sme2/depthwise_conv2d_sme2.hpp"
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
inline constexpr bool kConvVariant =
    std::is_same_v<V, F32> || std::is_same_v<V, F16> || std::is_same_v<V, QS8>;

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
template <class V>
using DepthwiseParams = std::conditional_t<std::is_same_v<V, QS8>, Qs8ChannelParams, float>;

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
          class = std::enable_if_t<std::is_same_v<V, F32> || std::is_same_v<V, F16>>>
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
template <class V, class = std::enable_if_t<std::is_same_v<V, F32> || std::is_same_v<V, F16>>>
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
template <class V, class = std::enable_if_t<std::is_same_v<V, QS8>>>
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

/// Bytes of workspace a validated call needs on Kernel's path (slack for alignment included).
template <class V, class Kernel>
size_t conv_workspace_bytes(const Conv2dParams& p, const ConvGemmShape& shape) {
  using Elem = typename VariantTraits<V>::Lhs;
  if constexpr (Kernel::kPath == Path::kPortable) {
    if (p.depthwise()) return 0;
    return kPortableConvRows * shape.k * sizeof(Elem) + kWorkspaceAlignment - 1;
  } else {
    const size_t vl = kernel_vl<Kernel>();
#if SME2K_HAS_SME2_CODE
    if (p.depthwise()) return sme2::depthwise_scratch_floats(vl) * 4 + kWorkspaceAlignment - 1;
#endif
    return round_up(Kernel::LhsFormat::panel_bytes(shape.k, vl), 64) +
           round_up(Kernel::scratch_bytes(vl), 64) + vl * 4 + kWorkspaceAlignment - 1;
  }
}

/// The same for `budget` tasks (*slice: each task's share); false on overflow.
template <class V, class Kernel>
bool conv_workspace_bytes(const Conv2dParams& p, const ConvGemmShape& shape, size_t budget,
                          size_t* slice, size_t* bytes);

/// A validated convolution call, as the drivers take it.
template <class T, class Out>
struct ConvCall {
  Conv2dParams p;
  ConvGemmShape shape;
  const T* input;
  TensorLayout in_layout;
  const uint8_t* body;  // packed weights after the descriptor
  bool has_bias;
  Out* output;
  TensorLayout out_layout;
  EpiloguePlan plan;
  T pad;            // what positions outside the input read
  void* workspace;  // aligned
  ConvGeometry geo;
  size_t pixels;  // OH * OW
  size_t out_channels_per_group;
};

/// The output block of (image n, group g, pixels from p0) as the GEMM kernel writes it: C
/// row-major (NHWC: a pixel's channels) or transposed (NCHW: a channel's pixels).
template <class T, class Out>
SME2K_ALWAYS_INLINE Out* conv_output_at(const ConvCall<T, Out>& call, size_t n, size_t g, size_t p0,
                                        size_t* ldc) SME2K_STREAMING_COMPATIBLE {
  const Conv2dParams& p = call.p;
  const size_t pixels = call.pixels;
  const size_t co0 = g * call.out_channels_per_group;
  if (call.out_layout == TensorLayout::kNHWC) {
    *ldc = p.out_channels;
    return call.output + (n * pixels + p0) * p.out_channels + co0;
  }
  *ldc = pixels;
  return call.output + (n * p.out_channels + co0) * pixels + p0;
}

/// The group's epilogue: its channels' affines.
SME2K_ALWAYS_INLINE EpiloguePlan group_plan(EpiloguePlan plan, size_t co0,
                                            TensorLayout out_layout) SME2K_STREAMING_COMPATIBLE {
  plan = plan_from_column(plan, co0);
  plan.transposed = out_layout == TensorLayout::kNCHW;
  return plan;
}

template <class T>
SME2K_ALWAYS_INLINE const T* conv_group_input(
    const Conv2dParams& p, const T* input, TensorLayout layout, size_t n, size_t g,
    size_t channels_per_group) SME2K_STREAMING_COMPATIBLE {
  const size_t image = p.in_channels * p.in_height * p.in_width;
  const size_t c0 = g * channels_per_group;
  return input + n * image + (layout == TensorLayout::kNCHW ? c0 * p.in_height * p.in_width : c0);
}

/// The tasks of a convolution (ops/detail/tasks.hpp): (image, group, output-pixel panel)
/// units by panels of a group's output channels. Pixels first: a task gathers each of its
/// panels once and runs it across its channels.
struct ConvTasks {
  TaskGrid grid;
  size_t pixel_panels;  // per image and group
  size_t panel_pixels;  // output pixels per panel
  size_t channel_step;  // output channels per channel unit (the weights' panel width)
};

template <class Kernel>
ConvTasks conv_tasks(const Conv2dParams& p, size_t budget) {
  const size_t vl = kernel_vl<Kernel>();
  ConvTasks t{};
  t.panel_pixels = Kernel::kPath == Path::kPortable ? kPortableConvRows : Kernel::m_step(vl);
  t.pixel_panels = ceil_div(p.out_height() * p.out_width(), t.panel_pixels);
  t.channel_step = Kernel::RhsFormat::nr(vl);
  // Bounded: validate_conv2d_params() checked the output's size.
  t.grid = plan_tasks(p.batch * p.groups * t.pixel_panels,
                      ceil_div(p.out_channels_per_group(), t.channel_step), budget);
  return t;
}

/// The run of units from u on (below `end`) that share one image and group: the pixel
/// panels [first, last) of image n, group g.
struct GroupPanels {
  size_t n, g, first, last;
};
SME2K_ALWAYS_INLINE GroupPanels group_panels_at(size_t u, size_t end, size_t groups,
                                                size_t panels) SME2K_STREAMING_COMPATIBLE {
  const size_t ng = u / panels;
  const size_t run_end = (ng + 1) * panels < end ? (ng + 1) * panels : end;
  return {ng / groups, ng % groups, u - ng * panels, run_end - ng * panels};
}

template <class Kernel, class T, class Out>
void run_conv_portable(const ConvCall<T, Out>& call, Range units, Range channels) {
  const Conv2dParams& p = call.p;
  const ConvGeometry& geo = call.geo;
  const size_t pixels = call.pixels, cout = call.out_channels_per_group;
  auto* rows_buffer = static_cast<T*>(call.workspace);
  const size_t panels = ceil_div(pixels, kPortableConvRows);
  for (size_t u = units.begin; u < units.end;) {
    const GroupPanels run = group_panels_at(u, units.end, p.groups, panels);
    u += run.last - run.first;
    const T* group = conv_group_input(p, call.input, call.in_layout, run.n, run.g, geo.channels);
    const EpiloguePlan plan = group_plan(call.plan, run.g * cout, call.out_layout);
    for (size_t i = run.first; i < run.last; ++i) {
      const size_t p0 = i * kPortableConvRows;
      const size_t rows = pixels - p0 < kPortableConvRows ? pixels - p0 : kPortableConvRows;
      gather_conv_rows(geo, group, p0, rows, call.pad, rows_buffer);
      size_t ldc = 0;
      Out* c = conv_output_at(call, run.n, run.g, p0, &ldc);
      Kernel::run(rows, channels.begin, channels.end, call.shape.k, rows_buffer, call.shape.k,
                  call.body + run.g * call.shape.group_bytes, plan, c, ldc);
    }
  }
}

#if SME2K_HAS_SME2_CODE
/// The SME2 driver: streaming mode once per call (per task); per image, group and 2VL output
/// pixels of `units`, gather one panel, then run the kernel across the group's `channels`.
template <class Kernel, class T, class Out>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void run_conv_sme2(
    const ConvCall<T, Out>& call, Range units, Range channels) {
  using LhsFormat = typename Kernel::LhsFormat;
  const Conv2dParams& p = call.p;
  const size_t vl = sme2::vl();
  const size_t mr = LhsFormat::mr(vl);
  const ConvGeometry& geo = call.geo;
  const size_t pixels = call.pixels, cout = call.out_channels_per_group;
  auto* panel = static_cast<T*>(call.workspace);
  auto* scratch = reinterpret_cast<float*>(static_cast<uint8_t*>(call.workspace) +
                                           round_up(LhsFormat::panel_bytes(call.shape.k, vl), 64));
  auto* pad_row = reinterpret_cast<T*>(reinterpret_cast<uint8_t*>(scratch) +
                                       round_up(Kernel::scratch_bytes(vl), 64));
  for (size_t i = 0; i < vl * 4 / sizeof(T); ++i) pad_row[i] = call.pad;
  const size_t panels = ceil_div(pixels, mr);
  for (size_t u = units.begin; u < units.end;) {
    const GroupPanels run = group_panels_at(u, units.end, p.groups, panels);
    u += run.last - run.first;
    const T* group = conv_group_input(p, call.input, call.in_layout, run.n, run.g, geo.channels);
    const EpiloguePlan plan = group_plan(call.plan, run.g * cout, call.out_layout);
    const uint8_t* weights = call.body + run.g * call.shape.group_bytes;
    for (size_t i = run.first; i < run.last; ++i) {
      const size_t p0 = i * mr;
      const size_t rows = pixels - p0 < mr ? pixels - p0 : mr;
      sme2::gather_conv_panel_sme2<LhsFormat::kKr>(geo, group, p0, rows, call.pad, pad_row, panel);
      size_t ldc = 0;
      Out* c = conv_output_at(call, run.n, run.g, p0, &ldc);
      Kernel::run(rows, channels.begin, channels.end, call.shape.k, panel, weights, call.has_bias,
                  plan, c, ldc, scratch);
    }
  }
}
#endif

/// The tasks of a depthwise convolution: images by output channels, or by output pixels
/// for the SME2 NHWC kernel (its channel chunks are 2VL or 4VL wide). Both are independent
/// of one another; no reduction is split.
struct DepthwiseTasks {
  TaskGrid grid;
  bool pixels;  // column units are output pixels, else output channels
};

inline DepthwiseTasks depthwise_tasks(const Conv2dParams& p, bool pixels, size_t budget) {
  const size_t units = pixels ? p.out_height() * p.out_width() : p.out_channels;
  return {plan_tasks(p.batch, units, budget), pixels};
}

/// The most tasks a depthwise call makes (workspace slices): either kind of column unit.
inline size_t depthwise_max_tasks(const Conv2dParams& p, size_t budget) {
  const size_t pixels = p.out_height() * p.out_width();
  return plan_tasks(p.batch, pixels > p.out_channels ? pixels : p.out_channels, budget).count();
}

#if SME2K_HAS_SME2_CODE
/// Images `images`, output channels or pixels `part` (as tasks.pixels says) on SME2.
template <class T, class Out>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void run_depthwise_sme2(
    const sme2::DepthwiseArgs<T, Out>& args, Range images, Range part, size_t in_image,
    size_t out_image, bool nchw) {
  for (size_t n = images.begin; n < images.end; ++n) {
    sme2::DepthwiseArgs<T, Out> a = args;
    a.input += n * in_image;
    a.output += n * out_image;
    if constexpr (std::is_same_v<T, int8_t>) {
      if (nchw) {
        sme2::depthwise_qs8_nchw_sme2(a, part.begin, part.end);
      } else {
        sme2::depthwise_qs8_nhwc_sme2(a, part.begin, part.end);
      }
    } else if (nchw) {
      sme2::depthwise_nchw_sme2(a, part.begin, part.end);
    } else {
      sme2::depthwise_nhwc_sme2(a, part.begin, part.end);
    }
  }
}
#endif

/// Whether the SME2 depthwise kernel serves a call on `path` (else the portable one runs).
/// The int8 stages after a depthwise requantization run on the portable kernel (for now).
inline bool depthwise_on_sme2(const Conv2dParams& p, Path path, TensorLayout in_layout,
                              TensorLayout out_layout, bool int8_stages) {
#if SME2K_HAS_SME2_CODE
  return path != Path::kPortable && !int8_stages &&
         sme2::depthwise_sme2_serves(in_layout, out_layout, p.stride_width,
                                     p.out_channels / p.in_channels);
#else
  (void)p, (void)path, (void)in_layout, (void)out_layout, (void)int8_stages;
  return false;
#endif
}

/// The depthwise kernel's name and path for a call on `path`.
template <class T>
std::string_view depthwise_kernel_name(bool on_sme2, TensorLayout in_layout) {
#if SME2K_HAS_SME2_CODE
  if (on_sme2) return sme2::depthwise_sme2_name<T>(in_layout);
#endif
  (void)on_sme2, (void)in_layout;
  return depthwise_portable_name<T>();
}

/// Depthwise: the SME2 kernel where it serves the call (the same layout in and out), else
/// the portable one, in tasks. Sets *path to the path taken; false: run_tasks() failed.
template <class V, class T, class Out>
bool run_depthwise(const ConvCall<T, Out>& call, Path* path, size_t slice,
                   const ParallelFor& parallel) {
  using Params = DepthwiseParams<V>;
  const Conv2dParams& p = call.p;
  const size_t image_in = p.in_channels * p.in_height * p.in_width;
  const size_t image_out = p.out_channels * call.pixels;
  const T* taps = reinterpret_cast<const T*>(call.body);
  const size_t tap_stride = call.shape.group_bytes / sizeof(T);
  const Params* params =
      reinterpret_cast<const Params*>(call.body + p.taps() * call.shape.group_bytes);
  EpiloguePlan plan = call.plan;
  plan.transposed = false;
  const size_t multiplier = p.out_channels / p.in_channels;
  const size_t budget = task_budget(parallel);
#if SME2K_HAS_SME2_CODE
  if (depthwise_on_sme2(p, *path, call.in_layout, call.out_layout, plan.int8_stages.active())) {
    const float* bias = nullptr;
    const Qs8ChannelParams* qparams = nullptr;
    if constexpr (std::is_same_v<Params, Qs8ChannelParams>) {
      qparams = params;
    } else {
      bias = call.has_bias ? params : nullptr;
    }
    const sme2::DepthwiseArgs<T, Out> args{call.input,
                                           call.output,
                                           taps,
                                           tap_stride,
                                           bias,
                                           qparams,
                                           plan,
                                           call.pad,
                                           p.in_channels,
                                           p.out_channels,
                                           multiplier,
                                           p.in_height,
                                           p.in_width,
                                           p.out_height(),
                                           p.out_width(),
                                           p.kernel_height,
                                           p.kernel_width,
                                           p.stride_height,
                                           p.stride_width,
                                           p.dilation_height,
                                           p.dilation_width,
                                           static_cast<ptrdiff_t>(p.pad_top),
                                           static_cast<ptrdiff_t>(p.pad_left),
                                           static_cast<float*>(call.workspace)};
    const bool nchw = call.in_layout == TensorLayout::kNCHW;
    const DepthwiseTasks tasks = depthwise_tasks(p, /*pixels=*/!nchw, budget);
    return run_tasks(parallel, tasks.grid.count(), streaming_vl(), [&](size_t t) {
      sme2::DepthwiseArgs<T, Out> a = args;
      a.scratch = static_cast<float*>(task_workspace(call.workspace, slice, t));
      run_depthwise_sme2(a, tasks.grid.rows(t), tasks.grid.cols(t), image_in, image_out, nchw);
    });
  }
#endif
  (void)multiplier;
  (void)slice;  // the portable kernel needs no scratch
  *path = Path::kPortable;
  const DepthwiseTasks tasks = depthwise_tasks(p, /*pixels=*/false, budget);
  return run_tasks(parallel, tasks.grid.count(), 0, [&](size_t t) {
    const Range images = tasks.grid.rows(t), channels = tasks.grid.cols(t);
    for (size_t n = images.begin; n < images.end; ++n) {
      depthwise_conv2d_portable(p, call.input + n * image_in, call.in_layout, taps, tap_stride,
                                params, plan, call.pad, call.output + n * image_out,
                                call.out_layout, channels.begin, channels.end);
    }
  });
}

template <class V, class Kernel>
bool conv_workspace_bytes(const Conv2dParams& p, const ConvGemmShape& shape, size_t budget,
                          size_t* slice, size_t* bytes) {
  *slice = conv_workspace_bytes<V, Kernel>(p, shape);
  const size_t tasks =
      p.depthwise() ? depthwise_max_tasks(p, budget) : conv_tasks<Kernel>(p, budget).grid.count();
  return task_workspace_bytes(*slice, tasks, bytes);
}

template <class V, class Out>
Status conv2d_impl(const Conv2dParams& p, const typename VariantTraits<V>::Lhs* input,
                   TensorLayout in_layout, const void* packed, size_t packed_bytes, Out* output,
                   TensorLayout out_layout, const GemmEpilogue& epilogue, void* workspace,
                   size_t workspace_bytes, const ParallelFor& parallel) {
  static_assert(kConvVariant<V>, "sme2k: conv2d serves F32, F16 and QS8");
  static_assert(VariantTraits<V>::template kOutputs<Out>,
                "sme2k: this variant does not write that output type");
  using T = typename VariantTraits<V>::Lhs;
  constexpr const char* op = "conv2d";
  SME2K_RETURN_IF_ERROR(validate_conv2d_params(p, op));
  if (input == nullptr || output == nullptr) {
    return Status::error(StatusCode::kNullPointer, "%s: input or output is null", op);
  }
  SME2K_RETURN_IF_ERROR(check_element_aligned(input, op, "input"));
  SME2K_RETURN_IF_ERROR(check_element_aligned(output, op, "output"));
  for (TensorLayout layout : {in_layout, out_layout}) {
    if (layout != TensorLayout::kNCHW && layout != TensorLayout::kNHWC) {
      return Status::error(StatusCode::kInvalidArgument, "%s: unknown TensorLayout %d", op,
                           static_cast<int>(layout));
    }
  }
  SME2K_RETURN_IF_ERROR(validate_epilogue(epilogue, op));
  if (epilogue.order != OutputOrder::kRowMajor) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: the output layout says how it is stored; order must be kRowMajor",
                         op);
  }
  const auto in0 = reinterpret_cast<uintptr_t>(input);
  const auto in1 = in0 + conv2d_input_elements(p) * sizeof(T);
  const auto out0 = reinterpret_cast<uintptr_t>(output);
  const auto out1 = out0 + conv2d_output_elements(p) * sizeof(Out);
  const auto pk0 = reinterpret_cast<uintptr_t>(packed);
  if (ranges_overlap(in0, in1, out0, out1) || ranges_overlap(out0, out1, pk0, pk0 + packed_bytes)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: the output overlaps the input or the packed weights", op);
  }
  SME2K_RETURN_IF_ERROR(validate_output_stages<Out>(epilogue, p.out_channels, out0, out1, op));
  PackedHeader header{};
  SME2K_RETURN_IF_ERROR(read_packed_header(packed, packed_bytes, &header));
  return visit_gemm_kernel<V, false>(select_path(), [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    PackedExpectation want{};
    ConvGemmShape shape{};
    if (!conv_expectation<V, Kernel>(p, &want, &shape)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: sizes overflow", op);
    }
    SME2K_RETURN_IF_ERROR(check_packed_header(header, want));
    ConvWeightsDescriptor d{};
    std::memcpy(&d, static_cast<const uint8_t*>(packed) + kPackedHeaderBytes, sizeof d);
    if (!d.matches(p) || header.n != p.out_channels || header.k != shape.k) {
      return Status::error(StatusCode::kPackedMismatch,
                           "%s: weights packed for Cin %llu, Cout %llu, %llu x %llu, groups %llu",
                           op, static_cast<unsigned long long>(d.in_channels),
                           static_cast<unsigned long long>(d.out_channels),
                           static_cast<unsigned long long>(d.kernel_height),
                           static_cast<unsigned long long>(d.kernel_width),
                           static_cast<unsigned long long>(d.groups));
    }
    if constexpr (std::is_same_v<V, QS8>) {
      SME2K_RETURN_IF_ERROR((check_conv_qs8_params<Kernel>(
          p, shape, static_cast<const uint8_t*>(packed) + kPackedHeaderBytes + kConvDescriptorBytes,
          (header.flags & PackedHeader::kFlagSmallScales) != 0, op)));
    }
    const size_t budget = task_budget(parallel);
    size_t slice = 0, needed = 0;
    if (!conv_workspace_bytes<V, Kernel>(p, shape, budget, &slice, &needed)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: sizes overflow", op);
    }
    if (workspace_bytes < needed) {
      return Status::error(StatusCode::kBufferTooSmall, "%s: workspace has %zu bytes, needs %zu",
                           op, workspace_bytes, needed);
    }
    void* aligned = nullptr;
    if (needed > 0) {
      if (workspace == nullptr) {
        return Status::error(StatusCode::kNullPointer, "%s: workspace is null", op);
      }
      const auto w0 = reinterpret_cast<uintptr_t>(workspace);
      if (ranges_overlap(w0, w0 + needed, in0, in1) ||
          ranges_overlap(w0, w0 + needed, out0, out1) ||
          ranges_overlap(w0, w0 + needed, pk0, pk0 + packed_bytes)) {
        return Status::error(StatusCode::kInvalidArgument,
                             "%s: workspace overlaps the input, the output or the weights", op);
      }
      aligned = align_workspace(workspace);
    }
    ConvCall<T, Out> call{
        p,
        shape,
        input,
        in_layout,
        static_cast<const uint8_t*>(packed) + kPackedHeaderBytes + kConvDescriptorBytes,
        header.has_bias(),
        output,
        out_layout,
        plan_for_weights(epilogue, header),
        T{},
        aligned,
        ConvGeometry::of(p, shape.kc, in_layout),
        p.out_height() * p.out_width(),
        p.out_channels_per_group()};
    if constexpr (std::is_same_v<V, QS8>) {
      call.pad = static_cast<T>(header.variant_param2);
      // The int8 affine reads q1 - zp1, which needs the clamp.
      call.plan.requant_clamp =
          epilogue.int8_stages.affine() ||
          !(epilogue.quantized_range.min == -128 && epilogue.quantized_range.max == 127 &&
            (header.flags & PackedHeader::kFlagSmallScales) != 0);
    }
    Path path = Kernel::kPath;
    bool ok = true;
    if (p.depthwise()) {
      ok = run_depthwise<V>(call, &path, slice, parallel);
    } else {
      const ConvTasks tasks = conv_tasks<Kernel>(p, budget);
      ok = run_tasks(parallel, tasks.grid.count(), kernel_vl<Kernel>(), [&](size_t t) {
        ConvCall<T, Out> task = call;
        task.workspace = task_workspace(call.workspace, slice, t);
        const Range units = tasks.grid.rows(t);
        const Range channels =
            units_to_elements(tasks.grid.cols(t), tasks.channel_step, call.out_channels_per_group);
        if constexpr (Kernel::kPath == Path::kPortable) {
          run_conv_portable<Kernel>(task, units, channels);
        } else {
#if SME2K_HAS_SME2_CODE
          run_conv_sme2<Kernel>(task, units, channels);
#endif
        }
      });
    }
    if (!ok) return svl_mismatch(op, kernel_vl<Kernel>());
    record_path(path);
    return Status();
  });
}

}  // namespace detail

namespace detail {

/// conv2d_plan() of a call, with `op` naming the entry in errors.
template <class V>
Status plan_conv2d(const Conv2dParams& p, TensorLayout in_layout, TensorLayout out_layout,
                   const GemmEpilogue& epilogue, const ParallelFor& parallel, const char* op,
                   OpPlan* plan) {
  static_assert(kConvVariant<V>, "sme2k: conv2d serves F32, F16 and QS8");
  SME2K_RETURN_IF_ERROR(validate_conv2d_params(p, op));
  for (TensorLayout layout : {in_layout, out_layout}) {
    if (layout != TensorLayout::kNCHW && layout != TensorLayout::kNHWC) {
      return Status::error(StatusCode::kInvalidArgument, "%s: unknown TensorLayout %d", op,
                           static_cast<int>(layout));
    }
  }
  return visit_gemm_kernel<V, false>(select_path(), [&](auto tag) {
    using Kernel = typename decltype(tag)::type;
    PackedExpectation want{};
    ConvGemmShape shape{};
    if (!conv_expectation<V, Kernel>(p, &want, &shape)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: sizes overflow", op);
    }
    const size_t budget = task_budget(parallel);
    size_t slice = 0;
    if (!conv_workspace_bytes<V, Kernel>(p, shape, budget, &slice, &plan->workspace_bytes)) {
      return Status::error(StatusCode::kSizeOverflow, "%s: sizes overflow", op);
    }
    if (p.depthwise()) {
      const bool on_sme2 =
          depthwise_on_sme2(p, Kernel::kPath, in_layout, out_layout, epilogue.int8_stages.active());
      plan->kernel = depthwise_kernel_name<typename VariantTraits<V>::Lhs>(on_sme2, in_layout);
      plan->path = on_sme2 ? Kernel::kPath : Path::kPortable;
      plan->tasks =
          depthwise_tasks(p, on_sme2 && in_layout == TensorLayout::kNHWC, budget).grid.count();
    } else {
      plan->kernel = Kernel::kName;
      plan->path = Kernel::kPath;
      plan->tasks = conv_tasks<Kernel>(p, budget).grid.count();
    }
    return Status();
  });
}

}  // namespace detail

/// What conv2d() will do for a call: the kernel (a GEMM kernel on the gathered input, or a
/// depthwise one), its path, the tasks and the workspace. A portable kernel here on an SME2
/// CPU means that no SME2 kernel serves this geometry and layout pair yet.
template <class V>
Status conv2d_plan(const Conv2dParams& p, TensorLayout in_layout, TensorLayout out_layout,
                   OpPlan* plan, const GemmEpilogue& epilogue = {},
                   const ParallelFor& parallel = {}) {
  if (plan == nullptr) return Status::error(StatusCode::kNullPointer, "conv2d_plan: plan is null");
  return detail::plan_conv2d<V>(p, in_layout, out_layout, epilogue, parallel, "conv2d_plan", plan);
}

/// Bytes of workspace conv2d() needs (0 is possible) on the current path, run with
/// `parallel` (each task has its own share).
template <class V>
Status conv2d_workspace_size(const Conv2dParams& p, TensorLayout in_layout, TensorLayout out_layout,
                             size_t* bytes, const ParallelFor& parallel = {}) {
  constexpr const char* op = "conv2d_workspace_size";
  if (bytes == nullptr) return Status::error(StatusCode::kNullPointer, "%s: bytes is null", op);
  OpPlan plan;
  SME2K_RETURN_IF_ERROR(
      detail::plan_conv2d<V>(p, in_layout, out_layout, GemmEpilogue{}, parallel, op, &plan));
  *bytes = plan.workspace_bytes;
  return Status();
}

/// out = epilogue(conv(input, weights) + bias), input and output each in their layout.
/// @param[in]  input      batch x Cin x H x W elements in in_layout (dense)
/// @param[in]  packed     the whole buffer conv2d_pack_weights() filled, and its size
/// @param[out] output     batch x Cout x OH x OW elements in out_layout; overlaps nothing
/// @param[in]  epilogue   activation, per-channel affine, clamp (floats); quantized_range
///                        (QS8); order must be kRowMajor (out_layout says how it is stored)
/// @param[in]  workspace  >= conv2d_workspace_size() bytes with the same `parallel` (may be
///                        null when that is 0)
/// @param[in]  parallel   the runtime's parallel-for (types/parallel.hpp); default: serial
template <class V, class Out = typename VariantTraits<V>::Out>
Status conv2d(const Conv2dParams& p, const typename VariantTraits<V>::Lhs* input,
              TensorLayout in_layout, const void* packed, size_t packed_bytes, Out* output,
              TensorLayout out_layout, const GemmEpilogue& epilogue, void* workspace,
              size_t workspace_bytes, const ParallelFor& parallel = {}) {
  return detail::conv2d_impl<V, Out>(p, input, in_layout, packed, packed_bytes, output, out_layout,
                                     epilogue, workspace, workspace_bytes, parallel);
}

/// conv2d() with a workspace it allocates and frees itself (kOutOfMemory when it cannot).
template <class V, class Out = typename VariantTraits<V>::Out>
Status conv2d(const Conv2dParams& p, const typename VariantTraits<V>::Lhs* input,
              TensorLayout in_layout, const void* packed, size_t packed_bytes, Out* output,
              TensorLayout out_layout, const GemmEpilogue& epilogue = {},
              const ParallelFor& parallel = {}) {
  size_t bytes = 0;
  SME2K_RETURN_IF_ERROR(conv2d_workspace_size<V>(p, in_layout, out_layout, &bytes, parallel));
  void* workspace = bytes > 0 ? std::malloc(bytes) : nullptr;
  if (bytes > 0 && workspace == nullptr) {
    return Status::error(StatusCode::kOutOfMemory, "conv2d: cannot allocate %zu bytes of workspace",
                         bytes);
  }
  const Status s = detail::conv2d_impl<V, Out>(p, input, in_layout, packed, packed_bytes, output,
                                               out_layout, epilogue, workspace, bytes, parallel);
  std::free(workspace);
  return s;
}

}  // namespace sme2k
