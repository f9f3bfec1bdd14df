// conv2d F32 and F16 (f16 and f32 out) through the public API against the reference, in the
// run's configuration and on the forced portable path: random sweeps, pointwise as a GEMM,
// depthwise, the fused epilogue, many channels per group, one packing for every input size,
// edge shapes, guard pages, the allocating overload (bounds: testers/conv2d_case.hpp).
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

#include "testers/conv2d_case.hpp"
#include "testers/conv2d_qs8_case.hpp"

namespace sme2k {
namespace test {
namespace {

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

}  // namespace
}  // namespace test
}  // namespace sme2k
