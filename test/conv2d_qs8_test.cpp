// conv2d QS8, bit-exact against the reference: random sweeps (and on the portable path),
// pointwise as a GEMM, depthwise and groups, Int8Stages, many channels per group, extreme
// values and parameters, guard pages and the allocating overload.
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

}  // namespace
}  // namespace test
}  // namespace sme2k
