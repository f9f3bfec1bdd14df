// conv2d through the public API (pack the weights, size the workspace, run), against the
// direct-loop reference of test/reference/conv2d.hpp, in whatever configuration the run is
// in (ctest runs this binary at every SVL, without FA64 and without SME), and again on the
// forced portable path: seeded random sweeps over kernels (1x1, 3x3, 5x5, 7x7, 1xk, kx1),
// strides, dilations, asymmetric padding, groups and depthwise (multiplier 1 and 2), batch,
// odd channel counts, spatial sizes from 1x1 to widths around the kernels' 2VL tiles, every
// pair of activation layouts and every weight layout; for F32, F16 (f16 and f32 out) and QS8
// (bit-exact); the 1x1 stride-1 (plain GEMM) case; the fused epilogue; guard elements and
// guard pages around the output; BatchNorm folding; and every bad input of the conv entries.
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
#include "reference/conv2d.hpp"

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
#include "reference/gemm.hpp"
#include "sme2k/sme2k.hpp"
#include "testers/gemm_tester.hpp"
#include "testers/variant_cases.hpp"

namespace sme2k {
namespace test {
namespace {

// No bias (the float packing deduces the bias type from its pointer: a bare nullptr has none).
constexpr const float* kNoBias = nullptr;
constexpr TensorLayout kNCHW = TensorLayout::kNCHW;
constexpr TensorLayout kNHWC = TensorLayout::kNHWC;
constexpr ConvWeightLayout kWeightLayouts[] = {ConvWeightLayout::kOIHW, ConvWeightLayout::kOHWI,
                                               ConvWeightLayout::kHWIO};
struct LayoutPair {
  TensorLayout in, out;
};
constexpr LayoutPair kLayoutPairs[] = {
    {kNCHW, kNCHW}, {kNCHW, kNHWC}, {kNHWC, kNCHW}, {kNHWC, kNHWC}};

const char* weight_layout_str(ConvWeightLayout layout) {
  switch (layout) {
    case ConvWeightLayout::kOIHW: return "oihw";
    case ConvWeightLayout::kOHWI: return "ohwi";
    case ConvWeightLayout::kHWIO: return "hwio";
  }
  return "?";
}

std::string params_str(const Conv2dParams& p) {
  char s[260];
  std::snprintf(s, sizeof s,
                "N=%zu Cin=%zu H=%zu W=%zu Cout=%zu kernel=%zux%zu stride=%zux%zu "
                "dilation=%zux%zu pad(t,b,l,r)=(%zu,%zu,%zu,%zu) groups=%zu",
                p.batch, p.in_channels, p.in_height, p.in_width, p.out_channels, p.kernel_height,
                p.kernel_width, p.stride_height, p.stride_width, p.dilation_height,
                p.dilation_width, p.pad_top, p.pad_bottom, p.pad_left, p.pad_right, p.groups);
  return s;
}

Conv2dParams make_params(size_t batch, size_t cin, size_t h, size_t w, size_t cout, size_t kh,
                         size_t kw, size_t groups = 1) {
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

Conv2dParams with_padding(Conv2dParams p, size_t top, size_t bottom, size_t left, size_t right) {
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

std::string run_context() {
  return " svl=" + std::to_string(streaming_vector_bytes() * 8) +
         " path=" + path_name(select_path());
}

/// The path the call took: the configuration's (or the forced one). Depthwise runs its own
/// portable kernel on every path for now (ops/conv2d.hpp), so it may say portable.
void check_path(const Conv2dParams& p, std::optional<Path> expected) {
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
// QS8 cases

/// The base weight scale that spreads sum (x - zp) w * scale over about +-60 (so few outputs
/// saturate and rounding is exercised everywhere).
float auto_w_scale(const ConvCase& t) {
  const double k = static_cast<double>(reference::conv_depth(t.p));
  const double x_rms = std::sqrt(74.0 * 74.0 + static_cast<double>(t.in_zp) * t.in_zp);
  const double acc_rms = std::sqrt(k) * x_rms * 74.0;
  return static_cast<float>(60.0 / acc_rms * t.out_scale / t.in_scale);
}

std::vector<int8_t> check_qs8(const ConvCase& t, std::optional<Path> expected = std::nullopt) {
  SCOPED_TRACE("qs8 " + t.describe() + run_context());
  const Conv2dParams& p = t.p;
  const size_t cout = p.out_channels;
  ValueStream r(t.seed);
  const auto value = [&]() -> int8_t {
    if (t.extreme != 0) return t.extreme > 0 ? 127 : -128;
    return static_cast<int8_t>(static_cast<int>(r.below(256)) - 128);
  };
  GuardedArray<int8_t> input(p.batch * p.in_channels * p.in_height * p.in_width, t.side);
  GuardedArray<int8_t> weights(reference::conv_weight_count(p), t.side);
  GuardedArray<int32_t> bias(t.bias ? cout : 0, t.side);
  GuardedArray<float> w_scales(cout, t.side);
  for (int8_t& x : input) x = value();
  for (int8_t& x : weights) x = value();
  for (int32_t& x : bias) x = static_cast<int32_t>(r.below(20001)) - 10000;
  const float base = t.w_scale > 0.0f ? t.w_scale : auto_w_scale(t);
  for (float& x : w_scales) x = base * (1.0f + static_cast<float>(r.below(100)) / 50.0f);
  const Qs8Quantization quant{{t.in_scale, t.in_zp}, w_scales.data(), {t.out_scale, t.out_zp}};

  std::vector<int8_t> got_all;
  size_t packed_bytes = 0;
  Status s;
  SME2K_EXPECT_ABI_PRESERVED(s = conv2d_packed_weights_size<QS8>(p, &packed_bytes));
  EXPECT_TRUE(s.ok()) << s.message();
  if (!s.ok()) return got_all;
  GuardedBuffer packed(packed_bytes, t.side, 64);
  SME2K_EXPECT_ABI_PRESERVED(s = conv2d_pack_weights<QS8>(p, weights.data(), t.w_layout,
                                                          t.bias ? bias.data() : nullptr, quant,
                                                          packed.data(), packed_bytes));
  EXPECT_TRUE(s.ok()) << s.message();
  if (!s.ok()) return got_all;
  size_t workspace_bytes = 0;
  SME2K_EXPECT_ABI_PRESERVED(
      s = conv2d_workspace_size<QS8>(p, t.in_layout, t.out_layout, &workspace_bytes));
  EXPECT_TRUE(s.ok()) << s.message();
  if (!s.ok()) return got_all;
  GuardedBuffer workspace(workspace_bytes, t.side);

  const size_t count = reference::conv_output_count(p);
  GuardedArray<int8_t> out(count + 2 * t.guard, t.side);
  // A sentinel outside the quantized range where there is room: then an output left
  // unwritten cannot pass for a value.
  const int8_t sentinel = t.lo > -128 ? int8_t{-128} : t.hi < 127 ? int8_t{127} : int8_t{77};
  out.fill(sentinel);
  GemmEpilogue e;
  e.quantized_range = {t.lo, t.hi};
  GuardedArray<float> stage_scale(t.int8_affine ? cout : 0, t.side);
  GuardedArray<float> stage_shift(t.int8_affine ? cout : 0, t.side);
  GuardedArray<int8_t> table(t.int8_table ? 256 : 0, t.side);
  for (float& x : stage_scale)
    x = static_cast<float>(static_cast<int>(r.below(3001)) - 1500) / 997.0f;
  for (float& x : stage_shift)
    x = static_cast<float>(static_cast<int>(r.below(4001)) - 2000) / 99.0f;
  for (int8_t& x : table) x = static_cast<int8_t>(static_cast<int>(r.below(256)) - 128);
  constexpr int32_t kStageZp = -9, kStageLo = -120, kStageHi = 110;
  if (t.int8_affine) {
    e.int8_stages.scale = stage_scale.data(), e.int8_stages.shift = stage_shift.data();
    e.int8_stages.zero_point = kStageZp, e.int8_stages.range = {kStageLo, kStageHi};
  }
  if (t.int8_table) e.int8_stages.table = table.data();
  if (t.allocating) {
    SME2K_EXPECT_ABI_PRESERVED(s = conv2d<QS8>(p, input.data(), t.in_layout, packed.data(),
                                               packed_bytes, out.data() + t.guard, t.out_layout,
                                               e));
  } else {
    SME2K_EXPECT_ABI_PRESERVED(s = conv2d<QS8>(p, input.data(), t.in_layout, packed.data(),
                                               packed_bytes, out.data() + t.guard, t.out_layout, e,
                                               workspace.data(), workspace_bytes));
  }
  EXPECT_TRUE(s.ok()) << s.message();
  if (!s.ok()) return got_all;
  if (!expected) expected = expected_path();
  check_path(p, expected);
  EXPECT_TRUE(input.canary_intact() && weights.canary_intact() && bias.canary_intact() &&
              w_scales.canary_intact() && packed.canary_intact() && workspace.canary_intact() &&
              out.canary_intact() && stage_scale.canary_intact() && stage_shift.canary_intact() &&
              table.canary_intact())
      << "a write landed next to an operand";
  got_all = out.to_vector();

  size_t failures = 0;
  for (size_t i = 0; i < t.guard; ++i) {
    for (size_t j : {i, t.guard + count + i}) {
      if (got_all[j] != sentinel && failures++ < 8) {
        ADD_FAILURE() << "guard element " << j << " (output starts at " << t.guard << ", has "
                      << count << " elements) was written: " << int{got_all[j]};
      }
    }
  }
  reference::Conv2dQs8Problem q;
  q.p = p;
  q.input = input.data();
  q.in_layout = t.in_layout;
  q.weights = weights.data();
  q.w_layout = t.w_layout;
  q.bias = t.bias ? bias.data() : nullptr;
  q.in_scale = t.in_scale, q.out_scale = t.out_scale;
  q.in_zero_point = t.in_zp, q.out_zero_point = t.out_zp;
  q.w_scales = w_scales.data();
  q.lo = t.lo, q.hi = t.hi;
  const size_t oh_n = reference::conv_out_height(p), ow_n = reference::conv_out_width(p);
  for (size_t n = 0; n < p.batch; ++n) {
    for (size_t co = 0; co < cout; ++co) {
      for (size_t oh = 0; oh < oh_n; ++oh) {
        for (size_t ow = 0; ow < ow_n; ++ow) {
          const size_t at =
              reference::activation_index(t.out_layout, cout, oh_n, ow_n, n, co, oh, ow);
          const int got = got_all[t.guard + at];
          int want = reference::conv2d_qs8_at(q, n, co, oh, ow);
          if (t.int8_affine) {  // one f32 fused multiply-add, rounded to nearest even
            const float y = std::nearbyint(
                std::fma(static_cast<float>(want - t.out_zp), stage_scale[co], stage_shift[co]));
            want = std::min(std::max(static_cast<int>(y) + kStageZp, kStageLo), kStageHi);
          }
          if (t.int8_table) want = table[want + 128];
          if (got != want && failures++ < 8) {
            ADD_FAILURE() << "out[n=" << n << "][co=" << co << "][oh=" << oh << "][ow=" << ow
                          << "] (stored at " << at << ") = " << got << ", want " << want << " (acc "
                          << reference::conv2d_qs8_acc(q, n, co, oh, ow) << ")";
          }
        }
      }
    }
  }
  EXPECT_EQ(failures, 0u) << "not bit-exact";
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

size_t pick(ValueStream& r, std::initializer_list<size_t> values) {
  return values.begin()[r.below(values.size())];
}

size_t macs(const Conv2dParams& p) {
  return p.batch * p.out_channels * reference::conv_out_height(p) * reference::conv_out_width(p) *
         reference::conv_depth(p);
}

/// A random shape: kernel kind, stride, dilation, asymmetric padding, groups (1, 2, 3,
/// depthwise x1, x2), odd channel counts, sizes from 1x1 to widths around `step` (2VL), at
/// most `budget` multiply-adds. Layouts cycle with i, so every 12 cases hold every pair of
/// activation layouts with every weight layout.
ConvCase random_case(ValueStream& r, int i, Steps step, size_t budget) {
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

template <class C>
class Conv2dFloat : public ::testing::Test {
 protected:
  using V = typename C::Variant;
  using Out = typename C::Out;
  static std::vector<float> Check(const ConvCase& t, std::optional<Path> expected = std::nullopt) {
    if constexpr (!std::is_same_v<V, F16>) {
      ConvCase u = t;
      u.f16_bias = false;  // F32 takes an f32 bias only
      return check_float<V, Out>(u, expected);
    } else {
      return check_float<V, Out>(t, expected);
    }
  }
  static Steps steps() { return active_steps<V>(); }
};

using FloatCases = ::testing::Types<Case<F32, float>, Case<F16, f16>, Case<F16, float>>;
TYPED_TEST_SUITE(Conv2dFloat, FloatCases, CaseNames);

constexpr size_t kSweepBudget = 40000;  // multiply-adds per random case

TYPED_TEST(Conv2dFloat, RandomSweep) {
  const Steps step = this->steps();
  ValueStream r(std::is_same_v<typename TypeParam::Out, f16> ? 11 : 7);
  const int cases = std::is_same_v<typename TypeParam::Variant, F32> ? 96 : 60;
  for (int i = 0; i < cases; ++i) {
    const ConvCase t = random_case(r, i, step, kSweepBudget);
    this->Check(t);
    if (::testing::Test::HasFailure()) break;  // one failing case is enough to read
  }
}

TYPED_TEST(Conv2dFloat, RandomSweepOnThePortablePath) {
  if (select_path() == Path::kPortable) GTEST_SKIP() << "RandomSweep ran the portable path";
  testing::ScopedForcePath force(Path::kPortable);
  const Steps step = this->steps();
  ValueStream r(99);
  for (int i = 0; i < 36; ++i) {
    const ConvCase t = random_case(r, i, step, kSweepBudget);
    this->Check(t, Path::kPortable);
    if (::testing::Test::HasFailure()) break;
  }
}

// 1x1, stride 1, no padding: the plain GEMM (M = N H W pixels, K = Cin/g), in every layout,
// with pixel counts and Cout around the kernel's tile.
TYPED_TEST(Conv2dFloat, PointwiseIsAGemm) {
  const Steps s = this->steps();
  struct Shape {
    size_t n, cin, h, w, cout, groups;
  };
  const Shape shapes[] = {
      {1, 3, 1, 1, s.n + 1, 1},                  // one pixel
      {2, 17, 3, s.m / 2 + 1, s.n - 1, 1},       // several M tiles, N tail
      {1, 1, 5, s.m + 1, 5, 1},                  // K = 1
      {1, 6, 2, s.m - 1, 3 * (s.n / 2 + 1), 3},  // grouped 1x1
  };
  int i = 0;
  for (const Shape& sh : shapes) {
    for (const LayoutPair& lp : kLayoutPairs) {  // weight layouts rotate across shapes
      ConvCase t;
      t.p = make_params(sh.n, sh.cin, sh.h, sh.w, sh.cout, 1, 1, sh.groups);
      t.in_layout = lp.in, t.out_layout = lp.out;
      t.w_layout = kWeightLayouts[static_cast<size_t>(i) % 3];
      t.bias = (i % 4) != 0;
      t.seed = static_cast<uint64_t>(++i);
      this->Check(t);
    }
  }
}

// Depthwise with multipliers 1, 2, 3 in every layout: its own kernel, probably.
TYPED_TEST(Conv2dFloat, Depthwise) {
  int i = 0;
  for (size_t multiplier : {1, 2, 3}) {
    for (const LayoutPair& lp : kLayoutPairs) {
      for (ConvWeightLayout wl : kWeightLayouts) {
        ConvCase t;
        const size_t c = (i % 2) != 0 ? 17 : 3;
        t.p = make_params(1 + static_cast<size_t>(i % 2), c, 5, 9 + static_cast<size_t>(i % 7),
                          c * multiplier, 3, 3, c);
        t.p = with_padding(t.p, 1, 2, 0, 1);
        t.p.stride_width = 1 + static_cast<size_t>(i % 2);
        t.p.dilation_height = 1 + static_cast<size_t>((i / 2) % 2);
        t.in_layout = lp.in, t.out_layout = lp.out, t.w_layout = wl;
        t.seed = static_cast<uint64_t>(++i);
        this->Check(t);
      }
    }
  }
}

// Every activation with every affine (none, scale, shift, both), each with and without a
// clamp, and every (clamp, bias) pair per activation.
TYPED_TEST(Conv2dFloat, EpilogueOptions) {
  int i = 0;
  for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kRelu6,
                         Activation::kHardSwish, Activation::kGelu, Activation::kSilu}) {
    for (int affine = 0; affine < 4; ++affine) {
      for (bool clamp : {false, true}) {
        {
          const bool bias = (affine + (clamp ? 1 : 0)) % 2 == 0;
          ConvCase t;
          t.p = with_padding(make_params(1, 5, 6, 9, 7, 3, 3), 1, 1, 1, 1);
          t.in_layout = kLayoutPairs[i % 4].in, t.out_layout = kLayoutPairs[i % 4].out;
          t.w_layout = kWeightLayouts[i % 3];
          t.activation = act;
          t.scale = (affine & 1) != 0;
          t.shift = (affine & 2) != 0;
          if (clamp) t.clamp = Clamp{-0.25f, 0.5f};
          t.bias = bias;
          t.seed = static_cast<uint64_t>(++i);
          this->Check(t);
        }
      }
    }
  }
  // One-sided clamps, a single value, and ReLU with a clamp below zero (all clamped to max).
  ConvCase t;
  t.p = with_padding(make_params(1, 3, 4, 7, 5, 3, 3), 0, 2, 1, 0);
  t.clamp = Clamp{0.0f, std::numeric_limits<float>::infinity()};
  this->Check(t);
  t.clamp = Clamp{-std::numeric_limits<float>::infinity(), -0.1f};
  this->Check(t);
  t.clamp = Clamp{0.5f, 0.5f};
  this->Check(t);
  t.activation = Activation::kRelu;
  t.clamp = Clamp{-2.0f, -1.0f};
  this->Check(t);
}

// Sums large enough to reach the activations' interesting ranges (exp over- and underflow).
TYPED_TEST(Conv2dFloat, ActivationsOnLargeValues) {
  for (Activation act : {Activation::kGelu, Activation::kSilu, Activation::kHardSwish}) {
    ConvCase t;
    t.p = with_padding(make_params(1, 17, 5, 6, 9, 5, 5), 2, 2, 2, 2);  // K = 425
    t.activation = act;
    t.in_layout = kNHWC;
    t.seed = static_cast<uint64_t>(act);
    this->Check(t);
    t.scale = t.shift = true;
    t.out_layout = kNHWC;
    t.in_layout = kNCHW;
    this->Check(t);
  }
}

// Many channels per group: several N tiles of the kernel per group, long K (several k
// blocks), dense and grouped.
TYPED_TEST(Conv2dFloat, ManyChannelsPerGroup) {
  const Steps s = this->steps();
  int i = 0;
  for (const LayoutPair& lp : kLayoutPairs) {
    ConvCase t;
    t.in_layout = lp.in, t.out_layout = lp.out;
    t.w_layout = kWeightLayouts[static_cast<size_t>(i) % 3];
    t.p = with_padding(make_params(1, 2 * 5, 3, 5, 2 * (s.n + 3), 3, 3, 2), 1, 1, 1, 1);
    t.seed = static_cast<uint64_t>(++i);
    this->Check(t);
    if (i != 4) continue;  // the long K once (nhwc->nhwc): heavy under QEMU at SVL 2048
    t.p = with_padding(make_params(1, 64, 4, 3, s.n + 1, 3, 3), 0, 1, 2, 0);  // K = 576
    t.activation = Activation::kRelu;
    t.seed = static_cast<uint64_t>(++i);
    this->Check(t);
  }
}

// Weights are packed once per layer: the same packed buffer serves every input size,
// batch, stride, dilation and padding (only channels, kernel and groups are the weights').
TEST(Conv2dF32, OnePackingServesEveryInputSize) {
  const Conv2dParams base = make_params(1, 6, 1, 1, 9, 3, 3, 3);
  ValueStream r(31);
  std::vector<float> weights(reference::conv_weight_count(base)), bias(base.out_channels);
  for (float& x : weights) x = r.next();
  for (float& x : bias) x = r.next();
  size_t bytes = 0;
  ASSERT_TRUE(conv2d_packed_weights_size<F32>(base, &bytes).ok());
  GuardedBuffer packed(bytes, GuardSide::kEnd, 64);
  ASSERT_TRUE(conv2d_pack_weights<F32>(base, weights.data(), ConvWeightLayout::kOHWI, bias.data(),
                                       packed.data(), bytes)
                  .ok());
  for (int i = 0; i < 12; ++i) {
    Conv2dParams p = base;
    p.batch = 1 + static_cast<size_t>(i % 3);
    p.in_height = 3 + r.below(9);
    p.in_width = 3 + r.below(40);
    p.stride_height = 1 + r.below(3), p.stride_width = 1 + r.below(3);
    p.dilation_height = 1 + r.below(2), p.dilation_width = 1 + r.below(2);
    p = with_padding(p, r.below(3), r.below(3), r.below(3), r.below(3));
    if (p.in_height + p.pad_top + p.pad_bottom < 2 * p.dilation_height + 1) p.in_height = 5;
    if (p.in_width + p.pad_left + p.pad_right < 2 * p.dilation_width + 1) p.in_width = 5;
    const TensorLayout in_layout = kLayoutPairs[i % 4].in, out_layout = kLayoutPairs[i % 4].out;
    SCOPED_TRACE(params_str(p) + " " + tensor_layout_name(in_layout) + "->" +
                 tensor_layout_name(out_layout) + run_context());
    GuardedArray<float> input(p.batch * p.in_channels * p.in_height * p.in_width);
    for (float& x : input) x = r.next();
    GuardedArray<float> out(reference::conv_output_count(p));
    out.fill(std::numeric_limits<float>::quiet_NaN());
    const Status st =
        conv2d<F32>(p, input.data(), in_layout, packed.data(), bytes, out.data(), out_layout);
    ASSERT_TRUE(st.ok()) << st.message();
    reference::Conv2dFloatProblem<float> q;
    q.p = p;
    q.input = input.data();
    q.in_layout = in_layout;
    q.weights = weights.data();
    q.w_layout = ConvWeightLayout::kOHWI;
    q.bias = bias.data();
    const reference::Conv2dFloatResult want = reference::conv2d_float(q);
    const size_t oh_n = reference::conv_out_height(p), ow_n = reference::conv_out_width(p);
    size_t e = 0, failures = 0;
    for (size_t n = 0; n < p.batch; ++n) {
      for (size_t co = 0; co < p.out_channels; ++co) {
        for (size_t oh = 0; oh < oh_n; ++oh) {
          for (size_t ow = 0; ow < ow_n; ++ow, ++e) {
            const float got = out[reference::activation_index(out_layout, p.out_channels, oh_n,
                                                              ow_n, n, co, oh, ow)];
            const double bound =
                reference::f32_gemm_error_bound(reference::conv_depth(p), want.magnitude[e]);
            if (!(std::fabs(got - want.value[e]) <= bound) && failures++ < 8) {
              ADD_FAILURE() << "out[" << n << "][" << co << "][" << oh << "][" << ow
                            << "] = " << got << ", want " << want.value[e];
            }
          }
        }
      }
    }
    EXPECT_EQ(failures, 0u);
  }
}

// Odd shapes at the edges: 1x1 input, kernel as large as the padded input, padding larger
// than the kernel (outputs that see only padding), stride larger than the kernel.
TYPED_TEST(Conv2dFloat, EdgeShapes) {
  int i = 0;
  const auto run = [&](Conv2dParams p) {
    for (const LayoutPair& lp : kLayoutPairs) {
      ConvCase t;
      t.p = p;
      t.in_layout = lp.in, t.out_layout = lp.out;
      t.w_layout = kWeightLayouts[static_cast<size_t>(i) % 3];
      t.seed = static_cast<uint64_t>(++i);
      this->Check(t);
    }
  };
  run(make_params(1, 3, 1, 1, 4, 1, 1));                            // 1x1 everything
  run(with_padding(make_params(2, 5, 1, 1, 3, 3, 3), 1, 1, 1, 1));  // 1x1 input, 3x3
  run(with_padding(make_params(1, 2, 1, 1, 3, 7, 7), 3, 3, 3, 3));  // 1x1 input, 7x7
  run(make_params(1, 4, 5, 7, 3, 5, 7));                            // kernel = input
  run(with_padding(make_params(1, 3, 2, 3, 2, 2, 2), 3, 3, 3, 3));  // pad > kernel
  Conv2dParams strided = with_padding(make_params(1, 3, 9, 17, 5, 2, 2), 0, 1, 1, 0);
  strided.stride_height = 3, strided.stride_width = 3;  // stride > kernel
  run(strided);
  Conv2dParams dilated = make_params(2, 3, 7, 9, 4, 3, 3, 1);
  dilated.dilation_height = 3, dilated.dilation_width = 4;  // span = input
  run(dilated);
}

// Output flush against a guard page on either side (no guard elements): a write one element
// out of bounds faults.
TYPED_TEST(Conv2dFloat, OutputAgainstGuardPages) {
  const Steps s = this->steps();
  int i = 0;
  for (GuardSide side : {GuardSide::kEnd, GuardSide::kStart}) {
    for (const LayoutPair& lp : kLayoutPairs) {
      ConvCase t;
      t.p = with_padding(make_params(1, 3, 3, s.m + 1, 5, 3, 3), 1, 1, 1, 1);
      t.in_layout = lp.in, t.out_layout = lp.out;
      t.guard = 0;
      t.side = side;
      t.seed = static_cast<uint64_t>(++i);
      this->Check(t);
      t.p = make_params(1, 7, 2, 3, 1, 1, 1);  // Cout = 1
      this->Check(t);
    }
  }
}

// The allocating overload runs the same computation: the same bits.
TYPED_TEST(Conv2dFloat, AllocatingOverloadGivesTheSameBits) {
  ConvCase t;
  t.p = with_padding(make_params(2, 6, 5, 11, 9, 3, 3, 3), 1, 0, 2, 1);
  t.activation = Activation::kSilu;
  t.in_layout = kNHWC;
  const std::vector<float> a = this->Check(t);
  t.allocating = true;
  const std::vector<float> b = this->Check(t);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

// F16 takes its bias as f16 too (widened once, at packing).
TEST(Conv2dF16, F16Bias) {
  ConvCase t;
  t.p = with_padding(make_params(1, 5, 4, 9, 7, 3, 3), 1, 1, 1, 1);
  t.f16_bias = true;
  check_float<F16, f16>(t);
  t.out_layout = kNHWC;
  t.clamp = Clamp{-1.0f, 0.5f};
  check_float<F16, float>(t);
}

// ---------------------------------------------------------------------------------------
// QS8

TEST(Conv2dQs8, RandomSweep) {
  const Steps step = active_steps<QS8>();
  ValueStream r(5);
  for (int i = 0; i < 96; ++i) {
    const ConvCase t = random_case(r, i, step, kSweepBudget);
    check_qs8(t);
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(Conv2dQs8, RandomSweepOnThePortablePath) {
  if (select_path() == Path::kPortable) GTEST_SKIP() << "RandomSweep ran the portable path";
  testing::ScopedForcePath force(Path::kPortable);
  const Steps step = active_steps<QS8>();
  ValueStream r(55);
  for (int i = 0; i < 36; ++i) {
    const ConvCase t = random_case(r, i, step, kSweepBudget);
    check_qs8(t, Path::kPortable);
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(Conv2dQs8, PointwiseIsAGemm) {
  const Steps s = active_steps<QS8>();
  int i = 0;
  for (const LayoutPair& lp : kLayoutPairs) {
    for (ConvWeightLayout wl : kWeightLayouts) {
      for (size_t cin : {1, 5, 19}) {
        ConvCase t;
        t.p = make_params(1 + static_cast<size_t>(i % 2), cin, 3, s.m / 2 + 1, s.n + 1, 1, 1);
        t.in_layout = lp.in, t.out_layout = lp.out, t.w_layout = wl;
        t.in_zp = (i % 3 == 0) ? -128 : 17;
        t.out_zp = (i % 3 == 1) ? 127 : -9;
        t.bias = i % 4 != 0;
        t.seed = static_cast<uint64_t>(++i);
        check_qs8(t);
      }
    }
  }
}

TEST(Conv2dQs8, DepthwiseAndGroups) {
  int i = 0;
  for (size_t groups_kind : {0, 1, 2, 3}) {
    for (const LayoutPair& lp : kLayoutPairs) {
      ConvCase t;
      if (groups_kind < 3) {  // depthwise, multiplier 1..3
        t.p = make_params(2, 7, 6, 10, 7 * (groups_kind + 1), 3, 3, 7);
      } else {
        t.p = make_params(1, 9, 6, 10, 6, 3, 3, 3);
      }
      t.p = with_padding(t.p, 2, 1, 1, 2);  // padding reads the input zero point
      t.p.stride_height = 2;
      t.in_layout = lp.in, t.out_layout = lp.out;
      t.w_layout = kWeightLayouts[static_cast<size_t>(i) % 3];
      t.in_zp = (i % 2) != 0 ? 127 : -128;
      t.out_zp = (i % 2) != 0 ? -128 : 127;
      t.seed = static_cast<uint64_t>(++i);
      check_qs8(t);
    }
  }
}

// Int8Stages after the requantization (a quantized graph's BatchNorm after the ReLU, a
// hard-swish table): every layout pair, plain, grouped and depthwise (the portable kernel).
TEST(Conv2dQs8, Int8Stages) {
  int i = 0;
  for (int kind : {0, 1, 2}) {
    for (const LayoutPair& lp : kLayoutPairs) {
      ConvCase t;
      t.p = kind == 0   ? make_params(1, 5, 9, 11, 19, 3, 3, 1)
            : kind == 1 ? make_params(2, 6, 7, 6, 9, 3, 3, 3)
                        : make_params(1, 8, 6, 9, 8, 3, 3, 8);
      t.p = with_padding(t.p, 1, 1, 1, 1);
      t.in_layout = lp.in, t.out_layout = lp.out;
      t.lo = t.out_zp;  // the ReLU before the BatchNorm
      t.int8_affine = i % 3 != 1, t.int8_table = i % 3 != 0;
      t.seed = static_cast<uint64_t>(100 + ++i);
      check_qs8(t);
    }
  }
}

TEST(Conv2dQs8, ManyChannelsPerGroup) {
  const Steps s = active_steps<QS8>();
  int i = 0;
  for (const LayoutPair& lp : kLayoutPairs) {
    ConvCase t;
    t.in_layout = lp.in, t.out_layout = lp.out;
    t.w_layout = kWeightLayouts[static_cast<size_t>(i) % 3];
    t.p = with_padding(make_params(1, 2 * 19, 3, 5, 2 * (s.n + 3), 3, 3, 2), 1, 1, 1, 1);
    t.in_zp = -100, t.out_zp = 20;
    t.seed = static_cast<uint64_t>(++i);
    check_qs8(t);
    t.p = with_padding(make_params(1, 64, 4, 3, 2 * s.n + 1, 3, 3), 0, 1, 2, 0);  // K = 576
    t.in_zp = 127;
    t.seed = static_cast<uint64_t>(++i);
    check_qs8(t);
  }
}

// Extreme values (127 and -128 everywhere) with zero points at the ends, tiny and huge
// scales (all to the zero point, all saturated), ties (scale 0.5), narrow ranges; padding
// on every side (so padded taps must read the input zero point exactly).
TEST(Conv2dQs8, ExtremeValuesAndParameters) {
  ConvCase base;
  base.p = with_padding(make_params(1, 5, 5, 9, 6, 3, 3), 1, 2, 2, 1);
  int i = 0;
  for (int extreme : {1, -1}) {
    for (int32_t zp : {-128, 0, 127}) {
      for (const LayoutPair& lp : kLayoutPairs) {
        ConvCase t = base;
        t.extreme = extreme;
        t.in_zp = zp;
        t.out_zp = -zp / 2;
        t.in_layout = lp.in, t.out_layout = lp.out;
        t.seed = static_cast<uint64_t>(++i);
        check_qs8(t);
      }
    }
  }
  ConvCase tiny = base;
  tiny.w_scale = 1e-30f;  // everything rounds to the zero point
  check_qs8(tiny);
  ConvCase huge = base;
  huge.w_scale = 1e20f;  // everything saturates
  check_qs8(huge);
  ConvCase ties = base;  // scales of 0.5 and accumulators of every parity: ties to even
  ties.in_scale = 1.0f, ties.out_scale = 1.0f, ties.w_scale = 0.5f;
  check_qs8(ties);
  ConvCase relu = base;  // ReLU through the range, capped
  relu.lo = relu.out_zp, relu.hi = 100;
  check_qs8(relu);
  ConvCase single = base;
  single.lo = single.hi = 5;
  check_qs8(single);
  ConvCase no_bias = base;
  no_bias.bias = false;
  no_bias.in_layout = kNHWC;
  check_qs8(no_bias);
}

TEST(Conv2dQs8, OutputAgainstGuardPagesAndAllocatingOverload) {
  ConvCase t;
  t.p = with_padding(make_params(1, 3, 4, 17, 5, 3, 3), 1, 1, 1, 1);
  t.guard = 0;
  for (GuardSide side : {GuardSide::kEnd, GuardSide::kStart}) {
    for (const LayoutPair& lp : kLayoutPairs) {
      t.side = side;
      t.in_layout = lp.in, t.out_layout = lp.out;
      const std::vector<int8_t> a = check_qs8(t);
      ConvCase u = t;
      u.allocating = true;
      EXPECT_EQ(a, check_qs8(u));
    }
  }
}

// ---------------------------------------------------------------------------------------
// BatchNorm

struct BatchNormData {
  std::vector<float> weight, bias, mean, var;
  float eps = 1e-5f;
  BatchNormData(size_t c, ValueStream& r) {
    for (size_t i = 0; i < c; ++i) {
      weight.push_back(0.5f + r.next());
      bias.push_back(r.next());
      mean.push_back(0.5f * r.next());
      var.push_back(0.25f + std::fabs(r.next()));
    }
  }
  BatchNormParams params(bool with_weight, bool with_bias) const {
    BatchNormParams bn;
    bn.weight = with_weight ? weight.data() : nullptr;
    bn.bias = with_bias ? bias.data() : nullptr;
    bn.running_mean = mean.data();
    bn.running_var = var.data();
    bn.eps = eps;
    return bn;
  }
  double w(const BatchNormParams& bn, size_t c) const { return bn.weight ? bn.weight[c] : 1.0; }
  double b(const BatchNormParams& bn, size_t c) const { return bn.bias ? bn.bias[c] : 0.0; }
  /// The exact per-channel scale w / sqrt(var + eps).
  double s(const BatchNormParams& bn, size_t c) const {
    return w(bn, c) / std::sqrt(double{var[c]} + double{eps});
  }
};

// Conv -> BN folded into the weights and bias: the conv of the folded weights (through the
// library, F32 and F16) equals conv then BN computed in double from the original weights.
// Bound: each folded weight is w s rounded (f32: within 3 u of w s, s rounded too; f16: half
// an f16 ulp more), the folded bias (cb - mean) s + b within a few u of its terms, then the
// conv's own gamma_{K+1}; together gamma_{K+5} of sum |x w s| + |cb s| + |mean s| + |b|,
// plus 2^-11 sum |x w s| for f16 weights.
template <class V>
void check_fold(const Conv2dParams& p, ConvWeightLayout layout, bool conv_bias, bool bn_weight,
                bool bn_bias, TensorLayout in_layout, uint64_t seed) {
  using T = typename VariantTraits<V>::Rhs;
  SCOPED_TRACE(std::string(VariantTraits<V>::kName) + " " + params_str(p) +
               " w=" + weight_layout_str(layout) + (conv_bias ? " conv-bias" : "") +
               (bn_weight ? " bn-weight" : "") + (bn_bias ? " bn-bias" : "") +
               " seed=" + std::to_string(seed) + run_context());
  const size_t cout = p.out_channels;
  ValueStream r(seed);
  std::vector<T> input(p.batch * p.in_channels * p.in_height * p.in_width);
  std::vector<T> weights(reference::conv_weight_count(p));
  std::vector<float> cb(cout);
  for (T& x : input) x = convert_to<T>(r.next());
  for (T& x : weights) x = convert_to<T>(r.next());
  for (float& x : cb) x = r.next();
  const BatchNormData data(cout, r);
  const BatchNormParams bn = data.params(bn_weight, bn_bias);

  std::vector<T> folded = weights;
  std::vector<float> folded_bias(cout, std::numeric_limits<float>::quiet_NaN());
  Status s;
  SME2K_EXPECT_ABI_PRESERVED(s = fold_batchnorm(p, folded.data(), layout,
                                                conv_bias ? cb.data() : nullptr, bn,
                                                folded_bias.data()));
  ASSERT_TRUE(s.ok()) << s.message();

  // The folded values themselves.
  const bool half = std::is_same_v<T, f16>;
  size_t failures = 0;
  for (size_t co = 0; co < cout; ++co) {
    for (size_t ci = 0; ci < p.in_channels / p.groups; ++ci) {
      for (size_t kh = 0; kh < p.kernel_height; ++kh) {
        for (size_t kw = 0; kw < p.kernel_width; ++kw) {
          const size_t at = reference::conv_weight_index(p, layout, co, ci, kh, kw);
          const double want = double{to_f32(weights[at])} * data.s(bn, co);
          const double got = to_f32(folded[at]);
          const double bound =
              half ? std::ldexp(std::fabs(want), -11) * (1 + 1e-5) + std::ldexp(1.0, -25)
                   : std::ldexp(std::fabs(want), -22) + 1e-40;
          if (!(std::fabs(got - want) <= bound) && failures++ < 8) {
            ADD_FAILURE() << "folded w[co=" << co << "][ci=" << ci << "][kh=" << kh << "][kw=" << kw
                          << "] = " << got << ", want " << want;
          }
        }
      }
    }
    const double c0 = conv_bias ? double{cb[co]} : 0.0;
    const double want = (c0 - data.mean[co]) * data.s(bn, co) + data.b(bn, co);
    const double bound =
        std::ldexp(std::fabs(c0 * data.s(bn, co)) + std::fabs(data.mean[co] * data.s(bn, co)) +
                       std::fabs(data.b(bn, co)),
                   -21);
    if (!(std::fabs(folded_bias[co] - want) <= bound) && failures++ < 8) {
      ADD_FAILURE() << "folded bias[" << co << "] = " << folded_bias[co] << ", want " << want;
    }
  }
  EXPECT_EQ(failures, 0u);

  // The conv of the folded weights, through the library, f32 out.
  size_t packed_bytes = 0, workspace_bytes = 0;
  ASSERT_TRUE(conv2d_packed_weights_size<V>(p, &packed_bytes).ok());
  std::vector<uint8_t> packed(packed_bytes);
  s = conv2d_pack_weights<V>(p, folded.data(), layout, folded_bias.data(), packed.data(),
                             packed_bytes);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(conv2d_workspace_size<V>(p, in_layout, kNCHW, &workspace_bytes).ok());
  std::vector<uint8_t> workspace(workspace_bytes);
  std::vector<float> out(reference::conv_output_count(p), std::numeric_limits<float>::quiet_NaN());
  s = conv2d<V, float>(p, input.data(), in_layout, packed.data(), packed_bytes, out.data(), kNCHW,
                       {}, workspace.data(), workspace_bytes);
  ASSERT_TRUE(s.ok()) << s.message();

  // Conv then BN in double, from the original weights.
  reference::Conv2dFloatProblem<T> q;
  q.p = p;
  q.input = input.data();
  q.in_layout = in_layout;
  q.weights = weights.data();
  q.w_layout = layout;
  const reference::Conv2dFloatResult want = reference::conv2d_float(q);  // no bias: sum x w
  const size_t plane = reference::conv_out_height(p) * reference::conv_out_width(p);
  const size_t k = reference::conv_depth(p);
  for (size_t e = 0; e < out.size(); ++e) {
    const size_t co = (e / plane) % cout;
    const double sc = data.s(bn, co), c0 = conv_bias ? double{cb[co]} : 0.0;
    const double w = reference::batchnorm(want.pre[e] + c0, data.w(bn, co), data.b(bn, co),
                                          data.mean[co], data.var[co], data.eps);
    const double magnitude = std::fabs(sc) * want.magnitude[e] + std::fabs(c0 * sc) +
                             std::fabs(data.mean[co] * sc) + std::fabs(data.b(bn, co));
    double bound = reference::f32_gemm_error_bound(k + 5, magnitude);
    if (half) bound += std::ldexp(std::fabs(sc) * want.magnitude[e], -11);
    if (!(std::fabs(out[e] - w) <= bound) && failures++ < 8) {
      ADD_FAILURE() << "out[" << e << "] (co " << co << ") = " << out[e] << ", want " << w
                    << " (bound " << bound << ")";
    }
  }
  EXPECT_EQ(failures, 0u);
}

TEST(Conv2dBatchNorm, FoldIntoWeights) {
  uint64_t seed = 1;
  const Conv2dParams dense = with_padding(make_params(1, 5, 5, 8, 7, 3, 3), 1, 1, 1, 1);
  const Conv2dParams grouped = with_padding(make_params(2, 6, 4, 7, 9, 3, 1, 3), 1, 1, 0, 0);
  const Conv2dParams depthwise = with_padding(make_params(1, 5, 6, 6, 10, 3, 3, 5), 1, 1, 1, 1);
  for (const Conv2dParams& p : {dense, grouped, depthwise}) {
    for (ConvWeightLayout layout : kWeightLayouts) {
      for (int options = 0; options < 8; ++options) {
        const bool cb = (options & 1) != 0, bw = (options & 2) != 0, bb = (options & 4) != 0;
        const TensorLayout in = (options % 3) == 0 ? kNHWC : kNCHW;
        check_fold<F32>(p, layout, cb, bw, bb, in, seed++);
        if (options == 7 || options == 0) check_fold<F16>(p, layout, cb, bw, bb, in, seed++);
      }
    }
  }
}

// Conv -> activation -> BN: the BN as the epilogue's per-channel affine.
TEST(Conv2dBatchNorm, AffineAfterTheActivation) {
  ValueStream r(77);
  const size_t cout = 7;
  const BatchNormData data(cout, r);
  int i = 0;
  for (Activation act : {Activation::kRelu, Activation::kSilu, Activation::kHardSwish,
                         Activation::kGelu, Activation::kRelu6}) {
    for (int options = 0; options < 4; ++options) {
      const BatchNormParams bn = data.params((options & 1) != 0, (options & 2) != 0);
      std::vector<float> scale(cout), shift(cout);
      Status s;
      SME2K_EXPECT_ABI_PRESERVED(s = batchnorm_affine(cout, bn, scale.data(), shift.data()));
      ASSERT_TRUE(s.ok()) << s.message();
      for (size_t c = 0; c < cout; ++c) {
        const double sc = data.s(bn, c), sh = data.b(bn, c) - data.mean[c] * sc;
        EXPECT_LE(std::fabs(scale[c] - sc), std::ldexp(std::fabs(sc), -22)) << "channel " << c;
        EXPECT_LE(std::fabs(shift[c] - sh),
                  std::ldexp(std::fabs(data.b(bn, c)) + std::fabs(data.mean[c] * sc), -21))
            << "channel " << c;
      }
      // Through the op, against the reference conv -> act -> BN in double.
      const Conv2dParams p = with_padding(make_params(1, 4, 5, 9, cout, 3, 3), 1, 1, 1, 1);
      ValueStream v(static_cast<uint64_t>(++i));
      std::vector<float> input(p.in_channels * p.in_height * p.in_width);
      std::vector<float> weights(reference::conv_weight_count(p)), bias(cout);
      for (float& x : input) x = v.next();
      for (float& x : weights) x = 2.0f * v.next();
      for (float& x : bias) x = v.next();
      size_t bytes = 0;
      ASSERT_TRUE(conv2d_packed_weights_size<F32>(p, &bytes).ok());
      std::vector<uint8_t> packed(bytes);
      ASSERT_TRUE(conv2d_pack_weights<F32>(p, weights.data(), ConvWeightLayout::kOIHW, bias.data(),
                                           packed.data(), bytes)
                      .ok());
      GemmEpilogue e;
      e.activation = act;
      e.affine = {scale.data(), shift.data()};
      std::vector<float> out(reference::conv_output_count(p));
      s = conv2d<F32>(p, input.data(), kNHWC, packed.data(), bytes, out.data(), kNCHW, e);
      ASSERT_TRUE(s.ok()) << s.message();
      reference::Conv2dFloatProblem<float> q;
      q.p = p;
      q.input = input.data();
      q.in_layout = kNHWC;
      q.weights = weights.data();
      q.bias = bias.data();
      const reference::Conv2dFloatResult want = reference::conv2d_float(q);
      reference::GemmF32Problem bp;
      bp.k = reference::conv_depth(p);
      bp.activation = act;
      bp.scale = scale.data();
      bp.shift = shift.data();
      const size_t plane = reference::conv_out_height(p) * reference::conv_out_width(p);
      size_t failures = 0;
      for (size_t e_i = 0; e_i < out.size(); ++e_i) {
        const size_t c = e_i / plane;
        const double a = reference::activate(act, want.pre[e_i]);
        const double w = reference::batchnorm(a, data.w(bn, c), data.b(bn, c), data.mean[c],
                                              data.var[c], data.eps);
        // The epilogue's bound with the library's own scale and shift, plus their rounding.
        const double bound =
            reference::f32_epilogue_bound(bp, c, want.pre[e_i], want.magnitude[e_i], w) +
            std::ldexp(std::fabs(a * data.s(bn, c)) + std::fabs(data.b(bn, c)) +
                           std::fabs(data.mean[c] * data.s(bn, c)),
                       -21);
        if (!(std::fabs(out[e_i] - w) <= bound) && failures++ < 8) {
          ADD_FAILURE() << activation_name(act) << " options " << options << ": out[" << e_i
                        << "] = " << out[e_i] << ", want " << w << " (bound " << bound << ")";
        }
      }
      EXPECT_EQ(failures, 0u);
    }
  }
}

// A quantized graph's BatchNorm after the activation, as the int8 affine: every int8 input
// lands within one step of BN on the dequantized value (double), rounded to the output.
TEST(Conv2dBatchNorm, Int8AffineOfAQuantizedBatchNorm) {
  ValueStream r(11);
  const BatchNormData data(5, r);
  const BatchNormParams bn = data.params(true, true);
  const QuantParams in{0.04f, -6}, out{0.03f, 9};
  std::vector<float> scale(5), shift(5);
  ASSERT_TRUE(batchnorm_int8_affine(5, bn, in, out, scale.data(), shift.data()).ok());
  for (size_t c = 0; c < 5; ++c) {
    const double s = double{data.weight[c]} / std::sqrt(double{data.var[c]} + double{bn.eps});
    for (int q = -128; q <= 127; ++q) {
      const double y = (double{in.scale} * (q - in.zero_point) - data.mean[c]) * s + data.bias[c];
      const int want = static_cast<int>(
          std::min(std::max(std::lround(y / double{out.scale}) + out.zero_point, -128L), 127L));
      const int got =
          requantize_affine(q, in.zero_point, scale[c], shift[c], out.zero_point, -128, 127);
      EXPECT_LE(std::abs(got - want), 1) << "channel " << c << " q " << q;
    }
  }
  EXPECT_EQ(batchnorm_int8_affine(5, bn, in, out, nullptr, shift.data()).code(),
            StatusCode::kNullPointer);
  EXPECT_EQ(batchnorm_int8_affine(5, bn, {0.0f, 0}, out, scale.data(), shift.data()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(batchnorm_int8_affine(5, bn, in, {1.0f, 300}, scale.data(), shift.data()).code(),
            StatusCode::kInvalidArgument);
}

TEST(Conv2dBatchNorm, BadInput) {
  const Conv2dParams p = make_params(1, 2, 3, 3, 3, 1, 1);
  ValueStream r(3);
  const BatchNormData data(3, r);
  std::vector<float> w(6, 1.0f), folded(3), scale(3), shift(3);
  const BatchNormParams bn = data.params(true, true);
  EXPECT_TRUE(
      fold_batchnorm(p, w.data(), ConvWeightLayout::kOIHW, nullptr, bn, folded.data()).ok());
  EXPECT_EQ(fold_batchnorm(p, static_cast<float*>(nullptr), ConvWeightLayout::kOIHW, nullptr, bn,
                           folded.data())
                .code(),
            StatusCode::kNullPointer);
  EXPECT_EQ(fold_batchnorm(p, w.data(), ConvWeightLayout::kOIHW, nullptr, bn, nullptr).code(),
            StatusCode::kNullPointer);
  BatchNormParams no_mean = bn;
  no_mean.running_mean = nullptr;
  EXPECT_EQ(
      fold_batchnorm(p, w.data(), ConvWeightLayout::kOIHW, nullptr, no_mean, folded.data()).code(),
      StatusCode::kNullPointer);
  BatchNormParams no_var = bn;
  no_var.running_var = nullptr;
  EXPECT_EQ(batchnorm_affine(3, no_var, scale.data(), shift.data()).code(),
            StatusCode::kNullPointer);
  EXPECT_EQ(batchnorm_affine(3, bn, nullptr, shift.data()).code(), StatusCode::kNullPointer);
  EXPECT_EQ(batchnorm_affine(3, bn, scale.data(), nullptr).code(), StatusCode::kNullPointer);
  EXPECT_EQ(batchnorm_affine(0, bn, scale.data(), shift.data()).code(),
            StatusCode::kInvalidArgument);
  for (float bad_var :
       {-1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    std::vector<float> var = data.var;
    var[1] = bad_var;
    BatchNormParams b = bn;
    b.running_var = var.data();
    EXPECT_EQ(batchnorm_affine(3, b, scale.data(), shift.data()).code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(
        fold_batchnorm(p, w.data(), ConvWeightLayout::kOIHW, nullptr, b, folded.data()).code(),
        StatusCode::kInvalidArgument);
  }
  BatchNormParams zero_var = bn;  // var + eps = 0
  const std::vector<float> zeros(3, 0.0f);
  zero_var.running_var = zeros.data();
  zero_var.eps = 0.0f;
  EXPECT_EQ(batchnorm_affine(3, zero_var, scale.data(), shift.data()).code(),
            StatusCode::kInvalidArgument);
  BatchNormParams bad_eps = bn;
  bad_eps.eps = -1e-3f;
  EXPECT_EQ(batchnorm_affine(3, bad_eps, scale.data(), shift.data()).code(),
            StatusCode::kInvalidArgument);
  Conv2dParams bad = p;
  bad.groups = 0;
  EXPECT_EQ(
      fold_batchnorm(bad, w.data(), ConvWeightLayout::kOIHW, nullptr, bn, folded.data()).code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(
      fold_batchnorm(p, w.data(), static_cast<ConvWeightLayout>(0), nullptr, bn, folded.data())
          .code(),
      StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------
// Bad input

constexpr size_t kMax = std::numeric_limits<size_t>::max();

#define EXPECT_STATUS(want_code, expr)                                              \
  do {                                                                              \
    const ::sme2k::Status s_ = (expr);                                              \
    EXPECT_EQ(static_cast<int>(s_.code()), static_cast<int>(want_code))             \
        << #expr << " -> " << status_code_name(s_.code()) << ": " << s_.message();  \
    if (!s_.ok()) EXPECT_GT(std::strlen(s_.message()), 10u) << "message too terse"; \
  } while (0)

// A valid small F32 problem; each check breaks one thing. groups = 2, padding 1.
struct Fixture {
  Conv2dParams p = with_padding(make_params(2, 6, 5, 7, 4, 3, 3, 2), 1, 1, 1, 1);
  std::vector<float> input = std::vector<float>(2 * 6 * 5 * 7, 0.5f);
  std::vector<float> weights = std::vector<float>(4 * 3 * 3 * 3, 0.25f);
  std::vector<float> bias = std::vector<float>(4, 1.0f);
  std::vector<float> output;
  std::vector<uint8_t> packed, workspace;
  size_t packed_bytes = 0, workspace_bytes = 0;

  Fixture() {
    output.assign(reference::conv_output_count(p), -7.0f);
    EXPECT_TRUE(conv2d_packed_weights_size<F32>(p, &packed_bytes).ok());
    packed.resize(packed_bytes);
    EXPECT_TRUE(conv2d_pack_weights<F32>(p, weights.data(), ConvWeightLayout::kOIHW, bias.data(),
                                         packed.data(), packed_bytes)
                    .ok());
    EXPECT_TRUE(conv2d_workspace_size<F32>(p, kNCHW, kNCHW, &workspace_bytes).ok());
    workspace.resize(workspace_bytes + 64);
  }
  Status run(const Conv2dParams& q, const GemmEpilogue& e = {}) {
    return conv2d<F32>(q, input.data(), kNCHW, packed.data(), packed_bytes, output.data(), kNCHW, e,
                       workspace.data(), workspace_bytes);
  }
  bool output_untouched() const {
    for (float x : output) {
      if (x != -7.0f) return false;
    }
    return true;
  }
};

/// Each zero (or non-dividing) size, one at a time.
std::vector<Conv2dParams> zero_sizes(const Conv2dParams& p) {
  std::vector<Conv2dParams> v;
  size_t Conv2dParams::* fields[] = {
      &Conv2dParams::batch,           &Conv2dParams::in_channels,    &Conv2dParams::in_height,
      &Conv2dParams::in_width,        &Conv2dParams::out_channels,   &Conv2dParams::kernel_height,
      &Conv2dParams::kernel_width,    &Conv2dParams::stride_height,  &Conv2dParams::stride_width,
      &Conv2dParams::dilation_height, &Conv2dParams::dilation_width, &Conv2dParams::groups};
  for (auto f : fields) {
    Conv2dParams q = p;
    q.*f = 0;
    v.push_back(q);
  }
  return v;
}

TEST(Conv2dBadInput, PackedWeightsSize) {
  const Fixture f;
  size_t bytes = 0;
  EXPECT_STATUS(StatusCode::kNullPointer, conv2d_packed_weights_size<F32>(f.p, nullptr));
  for (size_t Conv2dParams::* field :
       {&Conv2dParams::in_channels, &Conv2dParams::out_channels, &Conv2dParams::kernel_height,
        &Conv2dParams::kernel_width, &Conv2dParams::groups}) {
    Conv2dParams q = f.p;
    q.*field = 0;
    SCOPED_TRACE(params_str(q));
    EXPECT_STATUS(StatusCode::kInvalidArgument, conv2d_packed_weights_size<F32>(q, &bytes));
    EXPECT_STATUS(StatusCode::kInvalidArgument, conv2d_packed_weights_size<QS8>(q, &bytes));
  }
  Conv2dParams q = f.p;
  q.groups = 4;  // divides Cout (4), not Cin (6)
  EXPECT_STATUS(StatusCode::kInvalidArgument, conv2d_packed_weights_size<F32>(q, &bytes));
  q.groups = 3;  // divides Cin, not Cout
  EXPECT_STATUS(StatusCode::kInvalidArgument, conv2d_packed_weights_size<F16>(q, &bytes));
  q = f.p;
  q.in_channels = q.out_channels = size_t{1} << 20;
  q.groups = 1;
  EXPECT_STATUS(StatusCode::kSizeOverflow, conv2d_packed_weights_size<F32>(q, &bytes));
  q.in_channels = q.out_channels = size_t{1} << 19;  // 2^38 x 16 weights
  q.kernel_height = q.kernel_width = 4;
  EXPECT_STATUS(StatusCode::kSizeOverflow, conv2d_packed_weights_size<F32>(q, &bytes));
  q = f.p;
  q.kernel_width = kMax;
  EXPECT_STATUS(StatusCode::kSizeOverflow, conv2d_packed_weights_size<QS8>(q, &bytes));
}

TEST(Conv2dBadInput, PackWeights) {
  Fixture f;
  const auto pack = [&](const Conv2dParams& q, const float* w, ConvWeightLayout layout, void* dst,
                        size_t bytes) {
    return conv2d_pack_weights<F32>(q, w, layout, f.bias.data(), dst, bytes);
  };
  std::vector<uint8_t> dst(f.packed_bytes + 8);
  EXPECT_STATUS(StatusCode::kOk,
                pack(f.p, f.weights.data(), ConvWeightLayout::kHWIO, dst.data(), f.packed_bytes));
  EXPECT_STATUS(StatusCode::kNullPointer,
                pack(f.p, nullptr, ConvWeightLayout::kOIHW, dst.data(), f.packed_bytes));
  EXPECT_STATUS(StatusCode::kNullPointer,
                pack(f.p, f.weights.data(), ConvWeightLayout::kOIHW, nullptr, f.packed_bytes));
  EXPECT_STATUS(StatusCode::kBufferTooSmall, pack(f.p, f.weights.data(), ConvWeightLayout::kOIHW,
                                                  dst.data(), f.packed_bytes - 1));
  EXPECT_STATUS(StatusCode::kBufferTooSmall,
                pack(f.p, f.weights.data(), ConvWeightLayout::kOIHW, dst.data(), 0));
  for (int bad : {0, 4, 255}) {
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  pack(f.p, f.weights.data(), static_cast<ConvWeightLayout>(bad), dst.data(),
                       f.packed_bytes));
  }
  EXPECT_STATUS(
      StatusCode::kInvalidArgument,  // packed buffers start 4-byte aligned
      pack(f.p, f.weights.data(), ConvWeightLayout::kOIHW, dst.data() + 1, f.packed_bytes));
  for (const Conv2dParams& q : zero_sizes(f.p)) {
    if (q.in_channels && q.out_channels && q.kernel_height && q.kernel_width && q.groups) continue;
    SCOPED_TRACE(params_str(q));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  pack(q, f.weights.data(), ConvWeightLayout::kOIHW, dst.data(), dst.size()));
  }
  Conv2dParams q = f.p;
  q.groups = 4;
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                pack(q, f.weights.data(), ConvWeightLayout::kOIHW, dst.data(), dst.size()));
}

TEST(Conv2dBadInput, WorkspaceSize) {
  const Fixture f;
  size_t bytes = 0;
  EXPECT_STATUS(StatusCode::kNullPointer, conv2d_workspace_size<F32>(f.p, kNCHW, kNHWC, nullptr));
  for (const Conv2dParams& q : zero_sizes(f.p)) {
    SCOPED_TRACE(params_str(q));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  conv2d_workspace_size<F32>(q, kNCHW, kNCHW, &bytes));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  conv2d_workspace_size<QS8>(q, kNHWC, kNHWC, &bytes));
  }
  for (int bad : {0, 3, 200}) {
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  conv2d_workspace_size<F32>(f.p, static_cast<TensorLayout>(bad), kNCHW, &bytes));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  conv2d_workspace_size<F32>(f.p, kNCHW, static_cast<TensorLayout>(bad), &bytes));
  }
  Conv2dParams q = f.p;
  q.kernel_height = 8;  // 8 > 5 + 2 padded rows
  EXPECT_STATUS(StatusCode::kInvalidArgument, conv2d_workspace_size<F32>(q, kNCHW, kNCHW, &bytes));
  q = f.p;
  q.dilation_width = 5;  // 2 * 5 + 1 = 11 > 7 + 2 padded columns
  EXPECT_STATUS(StatusCode::kInvalidArgument, conv2d_workspace_size<F16>(q, kNCHW, kNCHW, &bytes));
  q = f.p;
  q.in_height = size_t{1} << 24;
  EXPECT_STATUS(StatusCode::kSizeOverflow, conv2d_workspace_size<F32>(q, kNCHW, kNCHW, &bytes));
  q = f.p;
  q.pad_left = kMax / 2;
  EXPECT_STATUS(StatusCode::kSizeOverflow, conv2d_workspace_size<F32>(q, kNCHW, kNCHW, &bytes));
  q = f.p;  // every factor below 2^24, the tensor far above 2^64
  q.batch = q.in_height = q.in_width = (size_t{1} << 24) - 1;
  q.in_channels = q.out_channels = q.groups = (size_t{1} << 20) - 2;
  EXPECT_STATUS(StatusCode::kSizeOverflow, conv2d_workspace_size<F32>(q, kNHWC, kNCHW, &bytes));
}

TEST(Conv2dBadInput, RunRefusesBadShapes) {
  Fixture f;
  ASSERT_TRUE(f.run(f.p).ok());
  std::fill(f.output.begin(), f.output.end(), -7.0f);
  for (const Conv2dParams& q : zero_sizes(f.p)) {
    SCOPED_TRACE(params_str(q));
    EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(q));
  }
  Conv2dParams q = f.p;
  q.groups = 4;
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(q));
  q.groups = 3;
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(q));
  q = f.p;
  q.kernel_width = 10;  // > 7 + 2
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(q));
  q = f.p;
  q.pad_top = q.pad_bottom = 0;
  q.dilation_height = 3;  // 7 > 5
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(q));
  q = f.p;
  q.in_width = size_t{1} << 24;
  EXPECT_STATUS(StatusCode::kSizeOverflow, f.run(q));
  q = f.p;
  q.batch = kMax;
  EXPECT_STATUS(StatusCode::kSizeOverflow, f.run(q));
  EXPECT_TRUE(f.output_untouched());
}

TEST(Conv2dBadInput, RunRefusesBadPointersAndBuffers) {
  Fixture f;
  const auto call = [&](const float* in, const void* packed, size_t packed_bytes, float* out,
                        void* ws, size_t ws_bytes, TensorLayout in_layout = kNCHW,
                        TensorLayout out_layout = kNCHW, const GemmEpilogue& e = {}) {
    return conv2d<F32>(f.p, in, in_layout, packed, packed_bytes, out, out_layout, e, ws, ws_bytes);
  };
  float* out = f.output.data();
  const float* in = f.input.data();
  const size_t pb = f.packed_bytes, wb = f.workspace_bytes;
  void* ws = f.workspace.data();
  const void* pk = f.packed.data();
  EXPECT_STATUS(StatusCode::kNullPointer, call(nullptr, pk, pb, out, ws, wb));
  EXPECT_STATUS(StatusCode::kNullPointer, call(in, nullptr, pb, out, ws, wb));
  EXPECT_STATUS(StatusCode::kNullPointer, call(in, pk, pb, nullptr, ws, wb));
  EXPECT_STATUS(StatusCode::kBufferTooSmall, call(in, pk, pb - 1, out, ws, wb));
  EXPECT_STATUS(StatusCode::kBufferTooSmall, call(in, pk, 16, out, ws, wb));
  if (wb > 0) {
    EXPECT_STATUS(StatusCode::kNullPointer, call(in, pk, pb, out, nullptr, wb));
    EXPECT_STATUS(StatusCode::kBufferTooSmall, call(in, pk, pb, out, ws, wb - 1));
  } else {
    EXPECT_STATUS(StatusCode::kOk, call(in, pk, pb, out, nullptr, 0));
    std::fill(f.output.begin(), f.output.end(), -7.0f);
  }
  for (int bad : {0, 3}) {
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  call(in, pk, pb, out, ws, wb, static_cast<TensorLayout>(bad), kNCHW));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  call(in, pk, pb, out, ws, wb, kNCHW, static_cast<TensorLayout>(bad)));
  }
  GemmEpilogue e;
  e.order = OutputOrder::kTransposed;
  EXPECT_STATUS(StatusCode::kInvalidArgument, call(in, pk, pb, out, ws, wb, kNCHW, kNCHW, e));
  e = {};
  e.clamp = Clamp{1.0f, -1.0f};
  EXPECT_STATUS(StatusCode::kInvalidArgument, call(in, pk, pb, out, ws, wb, kNCHW, kNCHW, e));
  e = {};
  e.activation = static_cast<Activation>(99);
  EXPECT_STATUS(StatusCode::kInvalidArgument, call(in, pk, pb, out, ws, wb, kNCHW, kNCHW, e));
  // Output overlapping the input or the packed weights.
  EXPECT_STATUS(StatusCode::kInvalidArgument, call(in, pk, pb, const_cast<float*>(in) + 3, ws, wb));
  EXPECT_TRUE(f.output_untouched());
  // Allocating overload: the same checks.
  EXPECT_STATUS(StatusCode::kNullPointer,
                conv2d<F32>(f.p, in, kNCHW, pk, pb, static_cast<float*>(nullptr), kNCHW));
  EXPECT_STATUS(StatusCode::kBufferTooSmall, conv2d<F32>(f.p, in, kNCHW, pk, pb - 1, out, kNCHW));
  EXPECT_TRUE(f.output_untouched());
}

/// Packs F32 weights for `other` into a buffer at least as large as `p` needs (so only the
/// header can tell) and runs conv2d for `p` with them.
Status run_with_weights_of(const Conv2dParams& p, const Conv2dParams& other) {
  size_t need = 0, other_bytes = 0, ws = 0;
  EXPECT_TRUE(conv2d_packed_weights_size<F32>(p, &need).ok());
  EXPECT_TRUE(conv2d_packed_weights_size<F32>(other, &other_bytes).ok());
  std::vector<uint8_t> packed(std::max(need, other_bytes));
  std::vector<float> w(reference::conv_weight_count(other), 0.5f);
  EXPECT_TRUE(conv2d_pack_weights<F32>(other, w.data(), ConvWeightLayout::kOIHW, kNoBias,
                                       packed.data(), other_bytes)
                  .ok());
  std::vector<float> in(p.batch * p.in_channels * p.in_height * p.in_width, 1.0f);
  std::vector<float> out(reference::conv_output_count(p), -7.0f);
  EXPECT_TRUE(conv2d_workspace_size<F32>(p, kNCHW, kNCHW, &ws).ok());
  std::vector<uint8_t> workspace(ws);
  const Status s = conv2d<F32>(p, in.data(), kNCHW, packed.data(), packed.size(), out.data(), kNCHW,
                               {}, workspace.data(), ws);
  for (float x : out) {
    if (!s.ok() && x != -7.0f) {
      ADD_FAILURE() << "output written by a refused call";
      break;
    }
  }
  return s;
}

TEST(Conv2dBadInput, WeightsPackedForAnotherShape) {
  const Conv2dParams p = with_padding(make_params(1, 6, 5, 7, 4, 3, 3, 2), 1, 1, 1, 1);
  const auto other = [&](auto&& change) {
    Conv2dParams q = p;
    change(q);
    return q;
  };
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                run_with_weights_of(p, other([](Conv2dParams& q) { q.in_channels = 8; })));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                run_with_weights_of(p, other([](Conv2dParams& q) { q.out_channels = 6; })));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                run_with_weights_of(p, other([](Conv2dParams& q) { q.kernel_height = 2; })));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                run_with_weights_of(p, other([](Conv2dParams& q) { q.kernel_width = 5; })));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                run_with_weights_of(p, other([](Conv2dParams& q) { q.groups = 1; })));
  // The same K (= KH KW Cin/g) and Cout, another convolution: 3x1 vs 1x3 ...
  const Conv2dParams tall = with_padding(make_params(1, 4, 5, 5, 3, 3, 1), 1, 1, 1, 1);
  Conv2dParams wide = tall;
  wide.kernel_height = 1, wide.kernel_width = 3;
  EXPECT_STATUS(StatusCode::kPackedMismatch, run_with_weights_of(tall, wide));
  EXPECT_STATUS(StatusCode::kPackedMismatch, run_with_weights_of(wide, tall));
  // ... 6 channels in 2 groups vs 3 channels in 1 (K = 27, Cout = 4 both) ...
  const Conv2dParams ungrouped = with_padding(make_params(1, 3, 5, 7, 4, 3, 3, 1), 1, 1, 1, 1);
  EXPECT_STATUS(StatusCode::kPackedMismatch, run_with_weights_of(p, ungrouped));
  // ... depthwise over 4 channels vs a dense conv of 1 channel (K = 9, Cout = 4 both).
  const Conv2dParams dw = with_padding(make_params(1, 4, 5, 5, 4, 3, 3, 4), 1, 1, 1, 1);
  const Conv2dParams one = with_padding(make_params(1, 1, 5, 5, 4, 3, 3, 1), 1, 1, 1, 1);
  EXPECT_STATUS(StatusCode::kPackedMismatch, run_with_weights_of(dw, one));
  EXPECT_STATUS(StatusCode::kPackedMismatch, run_with_weights_of(one, dw));
  // The call-time parameters (spatial size, stride, dilation, padding, batch) are not the
  // weights': the same weights serve them all.
  const Conv2dParams moved = other([](Conv2dParams& q) {
    q.in_height = 9, q.in_width = 4, q.stride_width = 2, q.dilation_height = 2, q.pad_left = 0;
    q.batch = 3;
  });
  EXPECT_STATUS(StatusCode::kOk, run_with_weights_of(moved, p));
}

TEST(Conv2dBadInput, WeightsPackedForAnotherVariantOrForAGemm) {
  const Conv2dParams p = make_params(1, 6, 4, 5, 4, 1, 1);  // 1x1: a GEMM with N=4, K=6
  std::vector<float> in(6 * 4 * 5, 1.0f), out(4 * 4 * 5);
  std::vector<f16> in16(in.size(), to_f16(1.0f)), out16(out.size());
  std::vector<int8_t> in8(in.size(), 1), out8(out.size());
  // F16 conv weights to the F32 and QS8 convs, and F32 ones to F16.
  size_t f16_bytes = 0, f32_bytes = 0, q_bytes = 0;
  ASSERT_TRUE(conv2d_packed_weights_size<F16>(p, &f16_bytes).ok());
  ASSERT_TRUE(conv2d_packed_weights_size<F32>(p, &f32_bytes).ok());
  ASSERT_TRUE(conv2d_packed_weights_size<QS8>(p, &q_bytes).ok());
  const size_t big = std::max({f16_bytes, f32_bytes, q_bytes}) + 4096;
  std::vector<uint8_t> p16(big), p32(big), p8(big);
  std::vector<f16> w16(24, to_f16(0.5f));
  std::vector<float> w32(24, 0.5f), scales(4, 0.01f);
  std::vector<int8_t> w8(24, 3);
  ASSERT_TRUE(
      conv2d_pack_weights<F16>(p, w16.data(), ConvWeightLayout::kOIHW, kNoBias, p16.data(), big)
          .ok());
  ASSERT_TRUE(
      conv2d_pack_weights<F32>(p, w32.data(), ConvWeightLayout::kOIHW, kNoBias, p32.data(), big)
          .ok());
  const Qs8Quantization quant{{0.5f, 0}, scales.data(), {0.5f, 0}};
  ASSERT_TRUE(conv2d_pack_weights<QS8>(p, w8.data(), ConvWeightLayout::kOIHW, nullptr, quant,
                                       p8.data(), big)
                  .ok());
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                conv2d<F32>(p, in.data(), kNCHW, p16.data(), big, out.data(), kNCHW));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                conv2d<F32>(p, in.data(), kNCHW, p8.data(), big, out.data(), kNCHW));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                conv2d<F16>(p, in16.data(), kNCHW, p32.data(), big, out16.data(), kNCHW));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                conv2d<QS8>(p, in8.data(), kNCHW, p32.data(), big, out8.data(), kNCHW));
  // GEMM weights of the same N and K to the conv ...
  size_t gemm_bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<F32>(4, 6, &gemm_bytes).ok());
  std::vector<uint8_t> gemm_packed(std::max(gemm_bytes, f32_bytes));
  ASSERT_TRUE(gemm_pack_rhs<F32>(dense_matrix<const float>(w32.data(), 4, 6), RhsLayout::kNxK,
                                 nullptr, gemm_packed.data(), gemm_bytes)
                  .ok());
  EXPECT_STATUS(StatusCode::kPackedMismatch, conv2d<F32>(p, in.data(), kNHWC, gemm_packed.data(),
                                                         gemm_packed.size(), out.data(), kNHWC));
  // ... and conv weights to the GEMM (the header's kind flags tell them apart).
  std::vector<float> c(20 * 4);
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                gemm<F32>(dense_matrix<const float>(in.data(), 20, 6), p32.data(), big,
                          dense_matrix(c.data(), 20, 4)));
  // Garbage that is not packed at all.
  std::vector<uint8_t> junk(big, 0xA5);
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                conv2d<F32>(p, in.data(), kNCHW, junk.data(), big, out.data(), kNCHW));
}

// Weights packed on the SME2 path are refused on the portable one (and back).
TEST(Conv2dBadInput, WeightsPackedForAnotherPath) {
  if (select_path() == Path::kPortable) GTEST_SKIP() << "no SME2 here";
  const Conv2dParams p = with_padding(make_params(1, 3, 6, 9, 5, 3, 3), 1, 1, 1, 1);
  std::vector<float> w(reference::conv_weight_count(p), 0.5f), in(3 * 6 * 9, 1.0f), out(5 * 6 * 9);
  size_t bytes = 0;
  ASSERT_TRUE(conv2d_packed_weights_size<F32>(p, &bytes).ok());
  std::vector<uint8_t> sme2(bytes + 4096), portable(bytes + 4096);
  ASSERT_TRUE(conv2d_pack_weights<F32>(p, w.data(), ConvWeightLayout::kOIHW, kNoBias, sme2.data(),
                                       sme2.size())
                  .ok());
  {
    testing::ScopedForcePath force(Path::kPortable);
    ASSERT_TRUE(conv2d_pack_weights<F32>(p, w.data(), ConvWeightLayout::kOIHW, kNoBias,
                                         portable.data(), portable.size())
                    .ok());
    EXPECT_STATUS(StatusCode::kPackedMismatch,
                  conv2d<F32>(p, in.data(), kNCHW, sme2.data(), sme2.size(), out.data(), kNCHW));
  }
  EXPECT_STATUS(StatusCode::kPackedMismatch, conv2d<F32>(p, in.data(), kNCHW, portable.data(),
                                                         portable.size(), out.data(), kNCHW));
}

TEST(Conv2dBadInput, Qs8) {
  const Conv2dParams p = with_padding(make_params(1, 4, 5, 6, 3, 3, 3), 1, 1, 1, 1);
  std::vector<int8_t> w(reference::conv_weight_count(p), 2), in(4 * 5 * 6, 1), out(3 * 5 * 6, 9);
  std::vector<float> scales(3, 0.01f);
  const Qs8Quantization quant{{0.5f, 1}, scales.data(), {0.25f, -2}};
  size_t bytes = 0;
  ASSERT_TRUE(conv2d_packed_weights_size<QS8>(p, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  const auto pack = [&](const Qs8Quantization& q, const int32_t* bias = nullptr) {
    return conv2d_pack_weights<QS8>(p, w.data(), ConvWeightLayout::kOHWI, bias, q, packed.data(),
                                    bytes);
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float bad : {0.0f, -1.0f, nan, std::numeric_limits<float>::infinity()}) {
    Qs8Quantization q = quant;
    q.input.scale = bad;
    EXPECT_STATUS(StatusCode::kInvalidArgument, pack(q));
    q = quant;
    q.output.scale = bad;
    EXPECT_STATUS(StatusCode::kInvalidArgument, pack(q));
    std::vector<float> ws = scales;
    ws[1] = bad;
    q = quant;
    q.weight_scales = ws.data();
    EXPECT_STATUS(StatusCode::kInvalidArgument, pack(q));
  }
  for (int32_t zp : {-129, 128, 1000}) {
    Qs8Quantization q = quant;
    q.input.zero_point = zp;
    EXPECT_STATUS(StatusCode::kInvalidArgument, pack(q));
    q = quant;
    q.output.zero_point = zp;
    EXPECT_STATUS(StatusCode::kInvalidArgument, pack(q));
  }
  Qs8Quantization no_scales = quant;
  no_scales.weight_scales = nullptr;
  EXPECT_STATUS(StatusCode::kNullPointer, pack(no_scales));
  const std::vector<int32_t> big_bias(3, 2147400000);  // the accumulator could overflow
  EXPECT_STATUS(StatusCode::kInvalidArgument, pack(quant, big_bias.data()));
  ASSERT_TRUE(pack(quant).ok());

  const auto run = [&](const GemmEpilogue& e) {
    return conv2d<QS8>(p, in.data(), kNHWC, packed.data(), bytes, out.data(), kNCHW, e);
  };
  EXPECT_STATUS(StatusCode::kOk, run({}));
  std::fill(out.begin(), out.end(), int8_t{9});
  GemmEpilogue e;
  e.activation = Activation::kRelu;
  EXPECT_STATUS(StatusCode::kUnsupported, run(e));
  e = {};
  std::vector<float> affine(3, 1.0f);
  e.affine.scale = affine.data();
  EXPECT_STATUS(StatusCode::kUnsupported, run(e));
  e = {};
  e.clamp = Clamp{-1.0f, 1.0f};
  EXPECT_STATUS(StatusCode::kUnsupported, run(e));
  e = {};
  e.quantized_range = {-129, 0};
  EXPECT_STATUS(StatusCode::kInvalidArgument, run(e));
  e.quantized_range = {10, 5};
  EXPECT_STATUS(StatusCode::kInvalidArgument, run(e));
  for (int8_t x : out) EXPECT_EQ(x, 9) << "output written by a refused call";
}

// ---------------------------------------------------------------------------------------
// Input reads stay inside the input (every case has it flush against a guard page). The
// shapes the random sweeps found reading one element past the end of an NCHW input: one
// output column read with stride 3 or 4. Last in the file, as a fault ends the binary.

TEST(Conv2dInputBounds, NchwStride3Or4OneOutputColumn) {
  std::vector<ConvCase> cases;
  ConvCase t;
  t.guard = 0;
  // As the sweep found it (SVL 128, F32; any SVL, every variant).
  t.p = with_padding(make_params(1, 7, 13, 1, 33, 3, 3), 0, 1, 2, 0);
  t.p.stride_width = 3, t.p.dilation_height = 2;
  t.clamp = Clamp{-0.5f, 0.75f};
  t.seed = 2452;
  cases.push_back(t);
  t = ConvCase();
  t.guard = 0;
  for (size_t stride : {3, 4}) {  // the smallest: 1x1 kernel, W = 1
    t.p = make_params(1, 3, 4, 1, 5, 1, 1);
    t.p.stride_width = stride;
    t.out_layout = kNHWC;
    cases.push_back(t);
  }
  t.p = with_padding(make_params(1, 3, 4, 2, 5, 1, 3), 0, 0, 1, 0);  // 3 taps, W = 2
  t.p.stride_width = 4;
  t.out_layout = kNCHW;
  cases.push_back(t);
  for (const ConvCase& c : cases) {
    check_float<F32>(c);
    check_float<F16, f16>(c);
    check_float<F16, float>(c);
    check_qs8(c);
  }
}

}  // namespace
}  // namespace test
}  // namespace sme2k
