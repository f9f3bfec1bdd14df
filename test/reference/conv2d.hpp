// Reference 2D convolution: a direct nested loop over (n, co, oh, ow) and the taps
// (ci, kh, kw) of co's group, written from the definition in types/conv.hpp only (no im2col,
// no packing, nothing from the library but its plain types), so a bug in the library's
// lowering, packing, kernels or epilogue cannot hide in here too.
//
//   pre[n][co][oh][ow] = bias[co] + sum over ci < Cin/g, kh, kw of
//       w[co][ci][kh][kw] * in[n][g * Cin/g + ci][oh * sh - pad_top + kh * dh]
//                                                 [ow * sw - pad_left + kw * dw],
//   g = co / (Cout/g); positions outside the input read 0 (QS8: the input zero point).
//
// Floats: the products of the exact input and weight values (f16 widened to float, exactly)
// summed in double, then the epilogue in the order of epilogue/ops.hpp: activation, the
// per-channel affine (y * scale[co] + shift[co]), the clamp (fmin/fmax). QS8: the exact
// integer accumulator sum (x - zp_in) * w + bias, then the requantization of
// types/quantization.hpp, spelled out again here.
//
// Results are indexed in the canonical order [n][co][oh][ow]; activation_index() says where
// an element sits in a tensor of either TensorLayout.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "reference/gemm.hpp"  // activate() in double, the error-bound helpers
#include "sme2k/arch/attributes.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/types/conv.hpp"
#include "sme2k/types/f16.hpp"

namespace sme2k {
namespace reference {

/// Element (n, c, h, w) of a dense C x H x W (per image) activation tensor in `layout`.
inline size_t activation_index(TensorLayout layout, size_t channels, size_t height, size_t width,
                               size_t n, size_t c, size_t h, size_t w) {
  return layout == TensorLayout::kNCHW ? ((n * channels + c) * height + h) * width + w
                                       : ((n * height + h) * width + w) * channels + c;
}

/// Element (co, ci, kh, kw) of dense weights in `layout` (ci counts within co's group).
inline size_t conv_weight_index(const Conv2dParams& p, ConvWeightLayout layout, size_t co,
                                size_t ci, size_t kh, size_t kw) {
  const size_t cin_g = p.in_channels / p.groups;
  const size_t kh_n = p.kernel_height, kw_n = p.kernel_width;
  switch (layout) {
    case ConvWeightLayout::kOIHW: return ((co * cin_g + ci) * kh_n + kh) * kw_n + kw;
    case ConvWeightLayout::kOHWI: return ((co * kh_n + kh) * kw_n + kw) * cin_g + ci;
    case ConvWeightLayout::kHWIO: return ((kh * kw_n + kw) * cin_g + ci) * p.out_channels + co;
  }
  return 0;
}

inline size_t conv_weight_count(const Conv2dParams& p) {
  return p.out_channels * (p.in_channels / p.groups) * p.kernel_height * p.kernel_width;
}

/// K of the convolution seen as a GEMM: the products summed into one output.
inline size_t conv_depth(const Conv2dParams& p) {
  return (p.in_channels / p.groups) * p.kernel_height * p.kernel_width;
}

/// Output height and width from the definition (signed arithmetic, independent of
/// Conv2dParams::out_height()).
inline size_t conv_out_height(const Conv2dParams& p) {
  const long long span = static_cast<long long>(p.dilation_height * (p.kernel_height - 1) + 1);
  const long long padded = static_cast<long long>(p.in_height + p.pad_top + p.pad_bottom);
  return static_cast<size_t>((padded - span) / static_cast<long long>(p.stride_height) + 1);
}
inline size_t conv_out_width(const Conv2dParams& p) {
  const long long span = static_cast<long long>(p.dilation_width * (p.kernel_width - 1) + 1);
  const long long padded = static_cast<long long>(p.in_width + p.pad_left + p.pad_right);
  return static_cast<size_t>((padded - span) / static_cast<long long>(p.stride_width) + 1);
}

inline size_t conv_output_count(const Conv2dParams& p) {
  return p.batch * p.out_channels * conv_out_height(p) * conv_out_width(p);
}

/// conv_weight_index() is linear in (co, ci, kh, kw): these are its steps, so the references
/// below walk the taps by multiply-adds instead of a switch per tap (sme2k-run checks under
/// the cycle model's tracer, where every reference instruction costs time).
struct ConvWeightSteps {
  size_t co, ci, kh, kw;
};

inline ConvWeightSteps conv_weight_steps(const Conv2dParams& p, ConvWeightLayout layout) {
  const size_t cin_g = p.in_channels / p.groups;
  const size_t kh_n = p.kernel_height, kw_n = p.kernel_width;
  switch (layout) {
    case ConvWeightLayout::kOIHW: return {cin_g * kh_n * kw_n, kh_n * kw_n, kw_n, 1};
    case ConvWeightLayout::kOHWI: return {kh_n * kw_n * cin_g, 1, kw_n * cin_g, cin_g};
    case ConvWeightLayout::kHWIO:
      return {1, p.out_channels, kw_n * cin_g * p.out_channels, cin_g * p.out_channels};
  }
  return {0, 0, 0, 0};
}

/// Calls f(ci, kh, kw, input_index) for every tap of output (n, co, oh, ow) that reads the
/// input, in the order ci, kh, kw; taps in the padding are skipped (they read 0, or QS8's
/// input zero point: they add nothing). The input index is activation_index()'s, written as
/// the sum of its terms. Always inlined, so the callers' sums stay in registers (sme2k-run
/// checks with this under the cycle model's tracer, where each instruction costs time).
template <class F>
SME2K_ALWAYS_INLINE void for_each_tap(const Conv2dParams& p, TensorLayout in_layout, size_t n,
                                      size_t co, size_t oh, size_t ow, F&& f) {
  const size_t cin_g = p.in_channels / p.groups, cout_g = p.out_channels / p.groups;
  const size_t group = co / cout_g;
  const auto h_n = static_cast<long long>(p.in_height), w_n = static_cast<long long>(p.in_width),
             c_n = static_cast<long long>(p.in_channels);
  const bool nchw = in_layout == TensorLayout::kNCHW;
  const long long c_step = nchw ? h_n * w_n : 1, h_step = nchw ? w_n : w_n * c_n,
                  w_step = nchw ? 1 : c_n;
  const auto dh = static_cast<long long>(p.dilation_height),
             dw = static_cast<long long>(p.dilation_width);
  const long long ih0 =
      static_cast<long long>(oh * p.stride_height) - static_cast<long long>(p.pad_top);
  const long long iw0 =
      static_cast<long long>(ow * p.stride_width) - static_cast<long long>(p.pad_left);
  // The kh whose row ih0 + kh * dh lies in [0, H): [kh_begin, kh_end); kw likewise.
  const auto kh_n = static_cast<long long>(p.kernel_height),
             kw_n = static_cast<long long>(p.kernel_width);
  const long long kh_begin = ih0 >= 0 ? 0 : (-ih0 + dh - 1) / dh;
  const long long kh_end = ih0 >= h_n ? 0 : std::min(kh_n, (h_n - 1 - ih0) / dh + 1);
  const long long kw_begin = iw0 >= 0 ? 0 : (-iw0 + dw - 1) / dw;
  const long long kw_end = iw0 >= w_n ? 0 : std::min(kw_n, (w_n - 1 - iw0) / dw + 1);
  // Input index of tap (ci, kh_begin, kw_begin); each row and each column one step on.
  long long first = static_cast<long long>(n) * c_n * h_n * w_n +
                    static_cast<long long>(group * cin_g) * c_step +
                    (ih0 + kh_begin * dh) * h_step + (iw0 + kw_begin * dw) * w_step;
  for (size_t ci = 0; ci < cin_g; ++ci, first += c_step) {
    long long row = first;
    for (long long kh = kh_begin; kh < kh_end; ++kh, row += dh * h_step) {
      long long index = row;
      // A few taps a row: a plain loop (unrolled or vectorized, its set-up costs more).
      _Pragma("GCC unroll 1") for (long long kw = kw_begin; kw < kw_end;
                                   ++kw, index += dw * w_step) {
        f(ci, static_cast<size_t>(kh), static_cast<size_t>(kw), index);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Floats

/// T: float or f16 (input and weights); the bias is given widened to float.
template <class T>
struct Conv2dFloatProblem {
  Conv2dParams p;
  const T* input = nullptr;
  TensorLayout in_layout = TensorLayout::kNCHW;
  const T* weights = nullptr;
  ConvWeightLayout w_layout = ConvWeightLayout::kOIHW;
  const float* bias = nullptr;  // Cout or null
  Activation activation = Activation::kNone;
  const float* scale = nullptr;  // Cout or null: the per-channel affine after the activation
  const float* shift = nullptr;  // Cout or null
  bool clamp = false;
  float clamp_min = 0, clamp_max = 0;
};

struct Conv2dFloatResult {
  std::vector<double> value;      // [n][co][oh][ow]: after the epilogue
  std::vector<double> pre;        // bias + sum x w, before the epilogue
  std::vector<double> magnitude;  // |bias| + sum |x w|, for error bounds
};

/// bias + sum x w at (n, co, oh, ow), and |bias| + sum |x w|.
template <class T>
double conv2d_pre_at(const Conv2dFloatProblem<T>& q, size_t n, size_t co, size_t oh, size_t ow,
                     double* magnitude) {
  double acc = q.bias != nullptr ? static_cast<double>(q.bias[co]) : 0.0;
  double mag = std::fabs(acc);
  const ConvWeightSteps ws = conv_weight_steps(q.p, q.w_layout);
  const T* w_co = q.weights + co * ws.co;
  for_each_tap(q.p, q.in_layout, n, co, oh, ow, [&](size_t ci, size_t kh, size_t kw, long long i) {
    const double x = static_cast<double>(to_f32(q.input[i]));
    const double w = static_cast<double>(to_f32(w_co[ci * ws.ci + kh * ws.kh + kw * ws.kw]));
    acc += x * w;  // exact: 24 x 24 bits
    mag += std::fabs(x * w);
  });
  *magnitude = mag;
  return acc;
}

/// activation -> affine -> clamp, for output channel co.
template <class T>
double conv2d_finish(const Conv2dFloatProblem<T>& q, double pre, size_t co) {
  double y = activate(q.activation, pre);
  if (q.scale != nullptr) y *= q.scale[co];
  if (q.shift != nullptr) y += q.shift[co];
  if (q.clamp) y = std::fmin(std::fmax(y, double{q.clamp_min}), double{q.clamp_max});
  return y;
}

template <class T>
Conv2dFloatResult conv2d_float(const Conv2dFloatProblem<T>& q) {
  const size_t oh_n = conv_out_height(q.p), ow_n = conv_out_width(q.p);
  Conv2dFloatResult r;
  const size_t count = conv_output_count(q.p);
  r.value.assign(count, 0.0);
  r.pre.assign(count, 0.0);
  r.magnitude.assign(count, 0.0);
  size_t e = 0;
  for (size_t n = 0; n < q.p.batch; ++n) {
    for (size_t co = 0; co < q.p.out_channels; ++co) {
      for (size_t oh = 0; oh < oh_n; ++oh) {
        for (size_t ow = 0; ow < ow_n; ++ow, ++e) {
          r.pre[e] = conv2d_pre_at(q, n, co, oh, ow, &r.magnitude[e]);
          r.value[e] = conv2d_finish(q, r.pre[e], co);
        }
      }
    }
  }
  return r;
}

/// PyTorch's BatchNorm2d in inference, in double: (x - mean) / sqrt(var + eps) * w + b.
inline double batchnorm(double x, double weight, double bias, double mean, double var, double eps) {
  return (x - mean) / std::sqrt(var + eps) * weight + bias;
}

// ---------------------------------------------------------------------------------------
// QS8

struct Conv2dQs8Problem {
  Conv2dParams p;
  const int8_t* input = nullptr;
  TensorLayout in_layout = TensorLayout::kNCHW;
  const int8_t* weights = nullptr;
  ConvWeightLayout w_layout = ConvWeightLayout::kOIHW;
  const int32_t* bias = nullptr;  // Cout or null
  float in_scale = 1, out_scale = 1;
  int32_t in_zero_point = 0, out_zero_point = 0;
  const float* w_scales = nullptr;  // Cout
  int32_t lo = -128, hi = 127;
};

/// bias + sum (x - zp_in) * w, exact (padding reads zp_in: it adds nothing, so it is skipped).
inline int64_t conv2d_qs8_acc(const Conv2dQs8Problem& q, size_t n, size_t co, size_t oh,
                              size_t ow) {
  int64_t acc = q.bias != nullptr ? q.bias[co] : 0;
  const ConvWeightSteps ws = conv_weight_steps(q.p, q.w_layout);
  const int8_t* w_co = q.weights + co * ws.co;
  for_each_tap(q.p, q.in_layout, n, co, oh, ow, [&](size_t ci, size_t kh, size_t kw, long long i) {
    acc += (int64_t{q.input[i]} - q.in_zero_point) * w_co[ci * ws.ci + kh * ws.kh + kw * ws.kw];
  });
  return acc;
}

/// The requantization of types/quantization.hpp: r = RNE(float(acc) * scale) saturated to
/// int32, scale = float(double(in) * double(w) / double(out)), q = clamp(r + zp, lo, hi).
/// `acc` must fit int32 (the library's packing refuses biases that could overflow).
inline int8_t qs8_requantize(int64_t acc, float in_scale, float w_scale, float out_scale,
                             int32_t zero_point, int32_t lo, int32_t hi) {
  const auto scale =
      static_cast<float>(static_cast<double>(in_scale) * static_cast<double>(w_scale) /
                         static_cast<double>(out_scale));
  const float y = static_cast<float>(static_cast<int32_t>(acc)) * scale;
  const float r = std::nearbyint(y);
  int64_t v = std::isnan(r)        ? 0
              : r >= 2147483648.0f ? 2147483647
              : r < -2147483648.0f ? -2147483648LL
                                   : static_cast<int64_t>(r);
  v += zero_point;
  return static_cast<int8_t>(v < lo ? lo : v > hi ? hi : v);
}

inline int8_t conv2d_qs8_at(const Conv2dQs8Problem& q, size_t n, size_t co, size_t oh, size_t ow) {
  return qs8_requantize(conv2d_qs8_acc(q, n, co, oh, ow), q.in_scale, q.w_scales[co], q.out_scale,
                        q.out_zero_point, q.lo, q.hi);
}

/// [n][co][oh][ow]
inline std::vector<int8_t> conv2d_qs8(const Conv2dQs8Problem& q) {
  const size_t oh_n = conv_out_height(q.p), ow_n = conv_out_width(q.p);
  std::vector<int8_t> out;
  out.reserve(conv_output_count(q.p));
  for (size_t n = 0; n < q.p.batch; ++n) {
    for (size_t co = 0; co < q.p.out_channels; ++co) {
      for (size_t oh = 0; oh < oh_n; ++oh) {
        for (size_t ow = 0; ow < ow_n; ++ow) out.push_back(conv2d_qs8_at(q, n, co, oh, ow));
      }
    }
  }
  return out;
}

}  // namespace reference
}  // namespace sme2k
