// The loops of a validated convolution: per task, the (image, group, pixel panel) units it
// owns, each gathered once into the workspace and run across its output channels by the GEMM
// kernel; depthwise calls run their own kernel (SME2 where it serves the layout pair, else the
// portable one). ops/conv2d.hpp validates and sizes; nothing here checks.
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
#include "sme2k/ops/conv2d_pack.hpp"
#include "sme2k/ops/detail/gemm_driver.hpp"
#include "sme2k/ops/detail/tasks.hpp"
#include "sme2k/ops/detail/validate.hpp"
#include "sme2k/types/alignment.hpp"
#include "sme2k/types/conv.hpp"
#include "sme2k/types/quantization.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {
namespace detail {

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
template <class T>
bool depthwise_on_sme2(const Conv2dParams& p, Path path, TensorLayout in_layout,
                       TensorLayout out_layout, bool int8_stages) {
#if SME2K_HAS_SME2_CODE
  return sme2::kDepthwiseSme2Types<T> && path != Path::kPortable && !int8_stages &&
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
  if constexpr (!sme2::kDepthwiseSme2Types<T>) {
    // no SME2 kernel for this element type: the portable one below
  } else if (depthwise_on_sme2<T>(p, *path, call.in_layout, call.out_layout,
                                  plan.int8_stages.active())) {
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
}  // namespace detail
}  // namespace sme2k
