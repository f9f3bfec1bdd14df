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
#include "sme2k/formats/weight_packing.hpp"
#include "sme2k/kernels/portable/depthwise_conv2d_portable.hpp"
#include "sme2k/kernels/registry.hpp"
#include "sme2k/kernels/sme2/depthwise_sme2.hpp"
#include "sme2k/ops/batchnorm.hpp"
#include "sme2k/ops/conv2d_pack.hpp"
#include "sme2k/ops/detail/conv_driver.hpp"
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
    if constexpr (kRequantizes<Kernel>) {
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
    if constexpr (std::is_same_v<T, int8_t>) {  // int8 activations: QS8's requantization
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
      using T = typename VariantTraits<V>::Lhs;
      const bool on_sme2 = depthwise_on_sme2<T>(p, Kernel::kPath, in_layout, out_layout,
                                                epilogue.int8_stages.active());
      plan->kernel = depthwise_kernel_name<T>(on_sme2, in_layout);
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
