// conv2d<BF16>: the BF16 GEMM kernels on the gathered input (any layout pair, groups, strides,
// padding), bf16 or f32 out with the fused epilogue, depthwise on the portable kernel (which
// its plan reports), against test/reference/conv2d.hpp within f32 accumulation's bound plus
// the output's rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "harness/guarded_buffer.hpp"
#include "reference/conv2d.hpp"
#include "reference/gemm.hpp"
#include "sme2k/sme2k.hpp"
#include "testers/gemm_tester.hpp"

namespace sme2k {
namespace {

struct Bf16ConvCase {
  Conv2dParams p;
  TensorLayout in, out;
  bool bias;
  Activation activation;
};

template <class Out>
void run_case(const Bf16ConvCase& t, uint64_t seed) {
  const Conv2dParams& p = t.p;
  SCOPED_TRACE("Cin " + std::to_string(p.in_channels) + " Cout " + std::to_string(p.out_channels) +
               " groups " + std::to_string(p.groups) + " out " +
               (std::is_same_v<Out, bf16> ? "bf16" : "f32"));
  test::ValueStream values(seed);
  std::vector<bf16> input(conv2d_input_elements(p)), weights(reference::conv_weight_count(p));
  std::vector<float> bias(p.out_channels);
  for (bf16& x : input) x = to_bf16(values.next());
  for (bf16& w : weights) w = to_bf16(values.next());
  for (float& b : bias) b = values.next();

  size_t packed_bytes = 0;
  ASSERT_TRUE(conv2d_packed_weights_size<BF16>(p, &packed_bytes).ok());
  test::GuardedBuffer packed(packed_bytes);
  ASSERT_TRUE(conv2d_pack_weights<BF16>(p, weights.data(), ConvWeightLayout::kOIHW,
                                        t.bias ? bias.data() : nullptr, packed.data(), packed_bytes)
                  .ok());
  OpPlan plan;
  ASSERT_TRUE(conv2d_plan<BF16>(p, t.in, t.out, &plan).ok());
  test::GuardedBuffer workspace(plan.workspace_bytes);
  test::GuardedArray<Out> output(conv2d_output_elements(p));
  GemmEpilogue epilogue;
  epilogue.activation = t.activation;
  ASSERT_TRUE((conv2d<BF16, Out>(p, input.data(), t.in, packed.data(), packed_bytes, output.data(),
                                 t.out, epilogue, workspace.data(), plan.workspace_bytes))
                  .ok());
  EXPECT_EQ(last_used_path(), plan.path);
  if (p.depthwise()) EXPECT_EQ(plan.path, Path::kPortable) << plan.kernel;
  EXPECT_TRUE(output.canary_intact() && workspace.canary_intact() && packed.canary_intact());

  reference::Conv2dFloatProblem<bf16> q;
  q.p = p;
  q.input = input.data();
  q.in_layout = t.in;
  q.weights = weights.data();
  q.bias = t.bias ? bias.data() : nullptr;
  q.activation = t.activation;
  const reference::Conv2dFloatResult want = reference::conv2d_float(q);
  const size_t oh = p.out_height(), ow = p.out_width(), depth = reference::conv_depth(p);
  size_t failures = 0;
  for (size_t n = 0, e = 0; n < p.batch; ++n) {
    for (size_t co = 0; co < p.out_channels; ++co) {
      for (size_t y = 0; y < oh; ++y) {
        for (size_t x = 0; x < ow; ++x, ++e) {
          const size_t at = reference::activation_index(t.out, p.out_channels, oh, ow, n, co, y, x);
          const double got = to_f32(output[at]);
          // f32 accumulation's bound through the activation (its slope and its own error).
          const double acc = reference::f32_gemm_error_bound(depth, want.magnitude[e]);
          double bound = reference::activation_lipschitz(t.activation) * acc +
                         reference::activation_error(t.activation, want.pre[e], want.value[e]);
          if (std::is_same_v<Out, bf16>)
            bound = reference::bf16_rounding_bound(want.value[e], bound);
          if (!(std::fabs(got - want.value[e]) <= bound) && failures++ < 5) {
            ADD_FAILURE() << "(" << n << ", " << co << ", " << y << ", " << x << "): got " << got
                          << ", want " << want.value[e] << " (bound " << bound << ")";
          }
        }
      }
    }
  }
}

Conv2dParams conv(size_t cin, size_t cout, size_t h, size_t w, size_t k, size_t stride, size_t pad,
                  size_t groups) {
  Conv2dParams p;
  p.batch = 2;
  p.in_channels = cin;
  p.out_channels = cout;
  p.in_height = h;
  p.in_width = w;
  p.kernel_height = p.kernel_width = k;
  p.stride_height = p.stride_width = stride;
  p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = pad;
  p.groups = groups;
  return p;
}

constexpr TensorLayout kNCHW = TensorLayout::kNCHW, kNHWC = TensorLayout::kNHWC;

TEST(Conv2dBf16, EveryLayoutPair) {
  uint64_t seed = 1;
  for (TensorLayout in : {kNCHW, kNHWC}) {
    for (TensorLayout out : {kNCHW, kNHWC}) {
      run_case<bf16>({conv(5, 19, 7, 9, 3, 1, 1, 1), in, out, true, Activation::kNone}, seed++);
      run_case<float>({conv(3, 33, 9, 6, 3, 2, 1, 1), in, out, false, Activation::kRelu}, seed++);
    }
  }
}

TEST(Conv2dBf16, GroupsPointwiseAndDepthwise) {
  run_case<bf16>({conv(8, 12, 6, 5, 3, 1, 0, 2), kNHWC, kNHWC, true, Activation::kSilu}, 11);
  run_case<float>({conv(17, 40, 4, 4, 1, 1, 0, 1), kNCHW, kNHWC, true, Activation::kNone}, 12);
  run_case<bf16>({conv(6, 6, 8, 7, 3, 1, 1, 6), kNCHW, kNCHW, true, Activation::kRelu}, 13);
  run_case<float>({conv(4, 8, 5, 5, 3, 2, 1, 4), kNHWC, kNHWC, false, Activation::kNone}, 14);
}

}  // namespace
}  // namespace sme2k
