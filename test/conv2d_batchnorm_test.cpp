// BatchNorm with conv2d: folded into the weights and bias, as the epilogue's affine after the
// activation, as the int8 affine of a quantized graph, and its bad input.
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

}  // namespace
}  // namespace test
}  // namespace sme2k
