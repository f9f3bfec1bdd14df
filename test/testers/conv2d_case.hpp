// conv2d test cases through the public API (pack the weights, size the workspace, run),
// shared by the conv2d suites (conv2d_float_test.cpp, conv2d_qs8_test.cpp,
// conv2d_batchnorm_test.cpp, conv2d_bad_input_test.cpp): the case description, the float
// runner against test/reference/conv2d.hpp, and the seeded random shapes.
//
// Float error bound (reference::f32_gemm_error_bound): an output sums K = KH * KW * Cin/g
// products and the bias; any f32 evaluation of that sum, in any order, with or without fused
// multiply-adds, is within gamma_{K+1} = (K+1) u / (1 - (K+1) u), u = 2^-24, of
// sum |x w| + |bias| (f16 inputs and weights are widened exactly). The activation then adds
// its slope times that plus a few f32 ulps of its own (GELU/SiLU through tanh/exp: 2^-19
// relative, reference::activation_error), the affine an ulp, the clamp nothing; an f16
// output adds half an f16 ulp (2^-11 relative) of the result. Each value is compared with
// the same epilogue applied to the double result. With 12-bit values and K around 10..1000
// the bound is 1e-6 .. 1e-4 of the magnitude: one weight off by its last bit (2^-11) moves
// an output far more (checked once by hand: the reference given one weight + 2^-11 fails
// every float sweep, pointwise and epilogue test).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "harness/abi_check.hpp"
#include "harness/expectations.hpp"
#include "harness/guarded_buffer.hpp"
#include "reference/conv2d.hpp"
#include "reference/gemm.hpp"
#include "sme2k/sme2k.hpp"
#include "testers/gemm_tester.hpp"
#include "testers/variant_cases.hpp"

namespace sme2k {
namespace test {

// No bias (the float packing deduces the bias type from its pointer: a bare nullptr has none).
inline constexpr const float* kNoBias = nullptr;
inline constexpr TensorLayout kNCHW = TensorLayout::kNCHW;
inline constexpr TensorLayout kNHWC = TensorLayout::kNHWC;
inline constexpr ConvWeightLayout kWeightLayouts[] = {
    ConvWeightLayout::kOIHW, ConvWeightLayout::kOHWI, ConvWeightLayout::kHWIO};
struct LayoutPair {
  TensorLayout in, out;
};
inline constexpr LayoutPair kLayoutPairs[] = {
    {kNCHW, kNCHW}, {kNCHW, kNHWC}, {kNHWC, kNCHW}, {kNHWC, kNHWC}};

inline const char* weight_layout_str(ConvWeightLayout layout) {
  switch (layout) {
    case ConvWeightLayout::kOIHW: return "oihw";
    case ConvWeightLayout::kOHWI: return "ohwi";
    case ConvWeightLayout::kHWIO: return "hwio";
  }
  return "?";
}

inline std::string params_str(const Conv2dParams& p) {
  char s[260];
  std::snprintf(s, sizeof s,
                "N=%zu Cin=%zu H=%zu W=%zu Cout=%zu kernel=%zux%zu stride=%zux%zu "
                "dilation=%zux%zu pad(t,b,l,r)=(%zu,%zu,%zu,%zu) groups=%zu",
                p.batch, p.in_channels, p.in_height, p.in_width, p.out_channels, p.kernel_height,
                p.kernel_width, p.stride_height, p.stride_width, p.dilation_height,
                p.dilation_width, p.pad_top, p.pad_bottom, p.pad_left, p.pad_right, p.groups);
  return s;
}

inline Conv2dParams make_params(size_t batch, size_t cin, size_t h, size_t w, size_t cout,
                                size_t kh, size_t kw, size_t groups = 1) {
  Conv2dParams p;
  p.batch = batch;
  p.in_channels = cin;
  p.in_height = h;
  p.in_width = w;
  p.out_channels = cout;
  p.kernel_height = kh;
  p.kernel_width = kw;
  p.groups = groups;
  return p;
}

inline Conv2dParams with_padding(Conv2dParams p, size_t top, size_t bottom, size_t left,
                                 size_t right) {
  p.pad_top = top, p.pad_bottom = bottom, p.pad_left = left, p.pad_right = right;
  return p;
}

/// One convolution case: shape, layouts, epilogue, QS8 quantization, output guards, seed.
struct ConvCase {
  Conv2dParams p;
  TensorLayout in_layout = kNCHW, out_layout = kNCHW;
  ConvWeightLayout w_layout = ConvWeightLayout::kOIHW;
  bool bias = true;
  bool f16_bias = false;  // F16: hand the bias to packing as f16
  Activation activation = Activation::kNone;
  bool scale = false, shift = false;  // the per-channel affine
  Clamp clamp;
  // QS8
  float in_scale = 0.02f, out_scale = 0.05f;
  float w_scale = 0.0f;  // base weight scale; 0: chosen from K to spread the outputs
  int32_t in_zp = 3, out_zp = -5;
  int32_t lo = -128, hi = 127;
  int extreme = 0;                               // QS8: 0 random values; 1 all 127; -1 all -128
  bool int8_affine = false, int8_table = false;  // QS8: Int8Stages (random ones)
  // Output storage: `guard` sentinel elements on each side, the mapping against `side`'s
  // guard page.
  size_t guard = 13;
  GuardSide side = GuardSide::kEnd;
  bool allocating = false;  // the overload that allocates its own workspace
  uint64_t seed = 1;

  std::string describe() const {
    char s[400];
    std::snprintf(s, sizeof s,
                  "%s %s->%s w=%s %s%s act=%s%s%s clamp=[%g,%g] | qs8 in=(%g,%d) out=(%g,%d) "
                  "w_scale=%g range=[%d,%d] extreme=%d | guard=%zu %s%s seed=%llu",
                  params_str(p).c_str(), tensor_layout_name(in_layout),
                  tensor_layout_name(out_layout), weight_layout_str(w_layout),
                  bias ? "bias" : "no-bias", f16_bias ? "(f16)" : "", activation_name(activation),
                  scale ? " scale" : "", shift ? " shift" : "", static_cast<double>(clamp.min),
                  static_cast<double>(clamp.max), static_cast<double>(in_scale), in_zp,
                  static_cast<double>(out_scale), out_zp, static_cast<double>(w_scale), lo, hi,
                  extreme, guard, guard_side_name(side), allocating ? " allocating" : "",
                  static_cast<unsigned long long>(seed));
    return s;
  }
};

inline std::string run_context() {
  return " svl=" + std::to_string(streaming_vector_bytes() * 8) +
         " path=" + path_name(select_path());
}

/// The path the call took: the configuration's (or the forced one). Depthwise runs its own
/// portable kernel on every path for now (ops/conv2d.hpp), so it may say portable.
inline void check_path(const Conv2dParams& p, std::optional<Path> expected) {
  if (!expected) expected = expected_path();
  if (!expected) return;
  if (p.depthwise() && last_used_path() == Path::kPortable) return;
  EXPECT_STREQ(path_name(last_used_path()), path_name(*expected));
}

// ---------------------------------------------------------------------------------------
// Float cases

/// Runs a float case end to end; returns the output as stored (converted to float), guard
/// elements included, or an empty vector when the call failed.
template <class V, class Out = typename VariantTraits<V>::Out>
std::vector<float> check_float(const ConvCase& t, std::optional<Path> expected = std::nullopt) {
  using Lhs = typename VariantTraits<V>::Lhs;
  using Rhs = typename VariantTraits<V>::Rhs;
  SCOPED_TRACE(std::string(VariantTraits<V>::kName) + "->" +
               (std::is_same_v<Out, f16> ? "f16 " : "f32 ") + t.describe() + run_context());
  const Conv2dParams& p = t.p;
  const size_t cout = p.out_channels;
  ValueStream r(t.seed);
  // 12-bit values: exact in f16 and f32, so the reference sees what the op sees.
  GuardedArray<Lhs> input(p.batch * p.in_channels * p.in_height * p.in_width, t.side);
  GuardedArray<Rhs> weights(reference::conv_weight_count(p), t.side);
  GuardedArray<float> bias(t.bias ? cout : 0, t.side);
  GuardedArray<f16> bias16(t.bias && t.f16_bias ? cout : 0, t.side);
  GuardedArray<float> scale(t.scale ? cout : 0, t.side), shift(t.shift ? cout : 0, t.side);
  for (Lhs& x : input) x = convert_to<Lhs>(r.next());
  for (Rhs& x : weights) x = convert_to<Rhs>(r.next());
  for (float& x : bias) x = r.next();
  for (size_t i = 0; i < bias16.size(); ++i) bias16[i] = to_f16(bias[i]);
  for (float& x : scale) x = 1.0f + 0.5f * r.next();
  for (float& x : shift) x = r.next();

  std::vector<float> got_all;
  size_t packed_bytes = 0;
  Status s;
  SME2K_EXPECT_ABI_PRESERVED(s = conv2d_packed_weights_size<V>(p, &packed_bytes));
  EXPECT_TRUE(s.ok()) << s.message();
  if (!s.ok()) return got_all;
  GuardedBuffer packed(packed_bytes, t.side, 64);
  if (!t.bias) {
    SME2K_EXPECT_ABI_PRESERVED(s = conv2d_pack_weights<V>(p, weights.data(), t.w_layout, kNoBias,
                                                          packed.data(), packed_bytes));
  } else if (t.f16_bias) {
    if constexpr (VariantTraits<V>::template kBiasInputs<f16>) {
      SME2K_EXPECT_ABI_PRESERVED(s = conv2d_pack_weights<V>(p, weights.data(), t.w_layout,
                                                            bias16.data(), packed.data(),
                                                            packed_bytes));
    } else {
      ADD_FAILURE() << "this variant takes no f16 bias";
      return got_all;
    }
  } else {
    SME2K_EXPECT_ABI_PRESERVED(s = conv2d_pack_weights<V>(p, weights.data(), t.w_layout,
                                                          bias.data(), packed.data(),
                                                          packed_bytes));
  }
  EXPECT_TRUE(s.ok()) << s.message();
  if (!s.ok()) return got_all;
  size_t workspace_bytes = 0;
  SME2K_EXPECT_ABI_PRESERVED(
      s = conv2d_workspace_size<V>(p, t.in_layout, t.out_layout, &workspace_bytes));
  EXPECT_TRUE(s.ok()) << s.message();
  if (!s.ok()) return got_all;
  GuardedBuffer workspace(workspace_bytes, t.side);

  const size_t count = reference::conv_output_count(p);
  GuardedArray<Out> out(count + 2 * t.guard, t.side);
  // Every element starts as NaN: guard elements must keep it, outputs must all lose it.
  for (Out& x : out) x = convert_to<Out>(std::numeric_limits<float>::quiet_NaN());
  GemmEpilogue e;
  e.activation = t.activation;
  e.affine = {t.scale ? scale.data() : nullptr, t.shift ? shift.data() : nullptr};
  e.clamp = t.clamp;
  if (t.allocating) {
    SME2K_EXPECT_ABI_PRESERVED(s = conv2d<V, Out>(p, input.data(), t.in_layout, packed.data(),
                                                  packed_bytes, out.data() + t.guard, t.out_layout,
                                                  e));
  } else {
    SME2K_EXPECT_ABI_PRESERVED(s = conv2d<V, Out>(p, input.data(), t.in_layout, packed.data(),
                                                  packed_bytes, out.data() + t.guard, t.out_layout,
                                                  e, workspace.data(), workspace_bytes));
  }
  EXPECT_TRUE(s.ok()) << s.message();
  if (!s.ok()) return got_all;
  if (!expected) expected = expected_path();
  check_path(p, expected);
  EXPECT_TRUE(input.canary_intact() && weights.canary_intact() && bias.canary_intact() &&
              bias16.canary_intact() && scale.canary_intact() && shift.canary_intact() &&
              packed.canary_intact() && workspace.canary_intact() && out.canary_intact())
      << "a write landed next to an operand";

  got_all.resize(out.size());
  for (size_t i = 0; i < out.size(); ++i) got_all[i] = to_f32(out[i]);
  size_t failures = 0;
  for (size_t i = 0; i < t.guard; ++i) {
    for (size_t j : {i, t.guard + count + i}) {
      if (!std::isnan(got_all[j]) && failures++ < 8) {
        ADD_FAILURE() << "guard element " << j << " (output starts at " << t.guard << ", has "
                      << count << " elements) was written: " << got_all[j];
      }
    }
  }

  reference::Conv2dFloatProblem<Lhs> q;
  q.p = p;
  q.input = input.data();
  q.in_layout = t.in_layout;
  static_assert(std::is_same_v<Lhs, Rhs>, "the reference takes one element type");
  q.weights = weights.data();
  q.w_layout = t.w_layout;
  q.bias = t.bias ? bias.data() : nullptr;  // the f16 bias holds the same (exact) values
  q.activation = t.activation;
  q.scale = t.scale ? scale.data() : nullptr;
  q.shift = t.shift ? shift.data() : nullptr;
  q.clamp = t.clamp.active();
  q.clamp_min = t.clamp.min;
  q.clamp_max = t.clamp.max;
  const reference::Conv2dFloatResult want = reference::conv2d_float(q);
  // The bound helpers of the GEMM reference, for a GEMM of depth K with this epilogue.
  reference::GemmF32Problem bound_problem;
  bound_problem.k = reference::conv_depth(p);
  bound_problem.activation = t.activation;
  bound_problem.scale = q.scale;
  bound_problem.shift = q.shift;
  const size_t oh_n = reference::conv_out_height(p), ow_n = reference::conv_out_width(p);
  size_t e_index = 0;
  for (size_t n = 0; n < p.batch; ++n) {
    for (size_t co = 0; co < cout; ++co) {
      for (size_t oh = 0; oh < oh_n; ++oh) {
        for (size_t ow = 0; ow < ow_n; ++ow, ++e_index) {
          const size_t at =
              reference::activation_index(t.out_layout, cout, oh_n, ow_n, n, co, oh, ow);
          const float got = got_all[t.guard + at];
          const double w = want.value[e_index];
          double bound = reference::f32_epilogue_bound(bound_problem, co, want.pre[e_index],
                                                       want.magnitude[e_index], w);
          if (std::is_same_v<Out, f16>) bound = reference::f16_rounding_bound(w, bound);
          if (!(std::fabs(got - w) <= bound) && failures++ < 8) {
            ADD_FAILURE() << "out[n=" << n << "][co=" << co << "][oh=" << oh << "][ow=" << ow
                          << "] (stored at " << at << ") = " << got << ", want " << w << " (bound "
                          << bound << ", before the epilogue " << want.pre[e_index] << ")";
          }
        }
      }
    }
  }
  EXPECT_EQ(failures, 0u) << "elements off";
  return got_all;
}

// ---------------------------------------------------------------------------------------
// Random shapes

struct Steps {
  size_t m, n;
};

// The tile of the GEMM kernel variant V runs now (what a conv lowered to GEMM tiles by).
template <class V>
Steps active_steps() {
  return visit_gemm_kernel<V>(select_path_for<V>(), [](auto tag) {
    using Kernel = typename decltype(tag)::type;
    const size_t vl = kernel_vl<Kernel>();
    return Steps{Kernel::m_step(vl), Kernel::n_step(vl)};
  });
}

inline size_t pick(ValueStream& r, std::initializer_list<size_t> values) {
  return values.begin()[r.below(values.size())];
}

inline size_t macs(const Conv2dParams& p) {
  return p.batch * p.out_channels * reference::conv_out_height(p) * reference::conv_out_width(p) *
         reference::conv_depth(p);
}

inline constexpr size_t kSweepBudget = 40000;  // multiply-adds per random case

/// A random shape: kernel kind, stride, dilation, asymmetric padding, groups (1, 2, 3,
/// depthwise x1, x2), odd channel counts, sizes from 1x1 to widths around `step` (2VL), at
/// most `budget` multiply-adds. Layouts cycle with i, so every 12 cases hold every pair of
/// activation layouts with every weight layout.
inline ConvCase random_case(ValueStream& r, int i, Steps step, size_t budget) {
  ConvCase t;
  const auto u = static_cast<size_t>(i);
  t.in_layout = kLayoutPairs[u % 4].in;
  t.out_layout = kLayoutPairs[u % 4].out;
  t.w_layout = kWeightLayouts[(u / 4) % 3];
  t.seed = 1000 + u;
  for (int attempt = 0;; ++attempt) {
    Conv2dParams p;
    switch (r.below(6)) {
      case 0: p.kernel_height = p.kernel_width = 1; break;
      case 1: p.kernel_height = p.kernel_width = 3; break;
      case 2: p.kernel_height = p.kernel_width = 5; break;
      case 3: p.kernel_height = p.kernel_width = 7; break;
      case 4:
        p.kernel_height = 1;
        p.kernel_width = pick(r, {2, 3, 5, 7});
        break;
      default:
        p.kernel_height = pick(r, {2, 3, 5, 7});
        p.kernel_width = 1;
        break;
    }
    p.stride_height = 1 + r.below(3);
    p.stride_width = 1 + r.below(3);
    p.dilation_height = 1 + r.below(2);
    p.dilation_width = 1 + r.below(2);
    p.pad_top = r.below(4), p.pad_bottom = r.below(4);
    p.pad_left = r.below(4), p.pad_right = r.below(4);
    switch (r.below(5)) {
      case 0:
      case 1:  // groups = 1 (twice as likely)
        p.groups = 1;
        p.in_channels = pick(r, {1, 2, 3, 5, 7, 17, 33});
        p.out_channels =
            r.below(6) == 0 ? pick(r, {step.n - 1, step.n + 1}) : pick(r, {1, 3, 4, 5, 7, 17, 33});
        if (p.out_channels == 0) p.out_channels = 1;
        break;
      case 2:  // 2 or 3 groups
        p.groups = 2 + r.below(2);
        p.in_channels = p.groups * pick(r, {1, 2, 3, 5});
        p.out_channels = p.groups * pick(r, {1, 2, 3, 5});
        break;
      default:  // depthwise, multiplier 1 or 2 (3 now and then)
        p.in_channels = pick(r, {2, 3, 5, 7, 17, 33});
        p.groups = p.in_channels;
        p.out_channels = p.in_channels * (r.below(5) == 0 ? 3 : 1 + r.below(2));
        break;
    }
    p.batch = 1 + r.below(2);
    p.in_height = pick(r, {1, 2, 3, 4, 5, 7, 8, 9, 13});
    p.in_width = r.below(3) == 0 ? pick(r, {step.m / 2, step.m - 1, step.m, step.m + 1})
                                 : pick(r, {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 65});
    if (p.in_width == 0) p.in_width = 1;
    // The dilated kernel must fit the padded input.
    const size_t span_h = p.dilation_height * (p.kernel_height - 1) + 1;
    const size_t span_w = p.dilation_width * (p.kernel_width - 1) + 1;
    if (span_h > p.in_height + p.pad_top + p.pad_bottom) {
      p.in_height = span_h - p.pad_top - p.pad_bottom;
    }
    if (span_w > p.in_width + p.pad_left + p.pad_right) {
      p.in_width = span_w - p.pad_left - p.pad_right;
    }
    if (macs(p) <= budget || attempt > 200) {
      t.p = p;
      break;
    }
  }
  // The epilogue, now and then.
  t.bias = r.below(4) != 0;
  if (r.below(3) == 0) {
    t.activation = static_cast<Activation>(1 + r.below(5));
  }
  if (r.below(4) == 0) {
    t.scale = r.below(3) != 0;
    t.shift = !t.scale || r.below(2) != 0;
  }
  if (r.below(4) == 0) t.clamp = Clamp{-0.5f, 0.75f};
  t.f16_bias = t.bias && r.below(3) == 0;
  t.guard = r.below(3) == 0 ? 0 : 1 + r.below(20);
  t.side = r.below(2) == 0 ? GuardSide::kEnd : GuardSide::kStart;
  // QS8: zero points anywhere, at the ends too; ranges narrower than int8 now and then.
  t.in_zp = r.below(4) == 0 ? (r.below(2) ? 127 : -128) : static_cast<int32_t>(r.below(256)) - 128;
  t.out_zp = r.below(4) == 0 ? (r.below(2) ? 127 : -128) : static_cast<int32_t>(r.below(256)) - 128;
  if (r.below(3) == 0) {
    t.lo = std::max(-128, t.out_zp - static_cast<int32_t>(r.below(40)));
    t.hi = std::min(127, t.out_zp + 1 + static_cast<int32_t>(r.below(60)));
  }
  return t;
}

}  // namespace test
}  // namespace sme2k
