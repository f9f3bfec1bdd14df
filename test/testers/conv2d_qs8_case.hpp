// The QS8 conv2d case runner (bit-exact against test/reference/conv2d.hpp's requantization),
// shared by the conv2d suites; the case itself is testers/conv2d_case.hpp's ConvCase.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "testers/conv2d_case.hpp"

namespace sme2k {
namespace test {

// ---------------------------------------------------------------------------------------
// QS8 cases

/// The base weight scale that spreads sum (x - zp) w * scale over about +-60 (so few outputs
/// saturate and rounding is exercised everywhere).
inline float auto_w_scale(const ConvCase& t) {
  const double k = static_cast<double>(reference::conv_depth(t.p));
  const double x_rms = std::sqrt(74.0 * 74.0 + static_cast<double>(t.in_zp) * t.in_zp);
  const double acc_rms = std::sqrt(k) * x_rms * 74.0;
  return static_cast<float>(60.0 / acc_rms * t.out_scale / t.in_scale);
}

inline std::vector<int8_t> check_qs8(const ConvCase& t,
                                     std::optional<Path> expected = std::nullopt) {
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

}  // namespace test
}  // namespace sme2k
