// GEMM through the public API for every variant and output type (f32; f16 to f16 and to
// f32), in whatever configuration the run is in (ctest runs this binary at every SVL,
// without FA64 and without SME): tails around the active kernel's tile, K from 1 (odd K for
// the f16 pairs) to long sums, both weight layouts, bias, clamp, strides, guard pages on both
// sides, and the dispatch decision itself.
#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <utility>

#include "testers/gemm_tester.hpp"
#include "testers/variant_cases.hpp"

namespace sme2k {
namespace test {
namespace {

struct Steps {
  size_t m, n;
};

// The tile of the kernel the op will run now for variant V.
template <class V>
Steps active_steps() {
  return visit_gemm_kernel<V>(select_path_for<V>(), [](auto tag) {
    using Kernel = typename decltype(tag)::type;
    const size_t vl = kernel_vl<Kernel>();
    return Steps{Kernel::m_step(vl), Kernel::n_step(vl)};
  });
}

template <class C>
class Gemm : public ::testing::Test {
 protected:
  using Tester = GemmTester<typename C::Variant, typename C::Out>;
  static Tester tester() { return Tester(); }
  static Steps steps() { return active_steps<typename C::Variant>(); }
};

// BF16 runs the whole suite to bf16; its f32 output (the F16 kernel's ways out) has its own
// cases below.
using Cases = ::testing::Types<Case<F32, float>, Case<F16, f16>, Case<F16, float>,
                               Case<F16Acc16, f16>, Case<BF16, bf16>>;
TYPED_TEST_SUITE(Gemm, Cases, CaseNames);

TYPED_TEST(Gemm, TailsInM) {
  const Steps s = this->steps();
  for (size_t m : sizes_around(s.m)) {
    this->tester().m(m).n(s.n + 3).k(5).Test();
  }
}

TYPED_TEST(Gemm, TailsInN) {
  const Steps s = this->steps();
  for (size_t n : sizes_around(s.n)) {
    this->tester().m(s.m + 1).n(n).k(3).Test();
  }
}

TYPED_TEST(Gemm, TailsInMAndNTogether) {
  const Steps s = this->steps();
  for (size_t m : sizes_around(s.m)) {
    for (size_t n : sizes_around(s.n)) this->tester().m(m).n(n).k(2).seed(m * 1000 + n).Test();
  }
}

// Below 8 rows the SME2 path runs the small-M kernel: every row count, with K tails of the
// 4-block activation quads and panels beyond one pass of ZA groups (VL/2 panels).
TYPED_TEST(Gemm, FewRows) {
  const Steps s = this->steps();
  for (size_t m = 1; m <= 8; ++m) {
    for (size_t k : {1, 2, 3, 5, 8, 9, 15, 16, 17}) {
      this->tester().m(m).n(s.n * 5 + 3).k(k).seed(m * 100 + k).Test();
    }
    this->tester().m(m).n(1).k(33).clamp(-0.5f, 0.5f).Test();
    this->tester().m(m).n(s.n - 1).k(40).b_layout(RhsLayout::kNxK).ldc(s.n + 2).lda(45).Test();
  }
}

TYPED_TEST(Gemm, DepthsFromOneToLong) {
  const Steps s = this->steps();
  for (size_t k : {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 64, 65, 127}) {
    this->tester().m(s.m + 1).n(s.n - 1).k(k).seed(k).Test();
  }
}

TYPED_TEST(Gemm, SeveralTilesEachWay) {
  const Steps s = this->steps();
  this->tester().m(3 * s.m + 5).n(4 * s.n - 3).k(300).Test();
  this->tester().m(5 * s.m).n(2 * s.n).k(40).b_layout(RhsLayout::kNxK).clamp(-2.0f, 2.0f).Test();
}

TYPED_TEST(Gemm, LongAccumulationStaysInBound) {
  // f16 accumulation has no useful bound once K * 2^-11 nears 1: its long case stops at 700.
  const size_t k = std::is_same_v<typename TypeParam::Variant, F16Acc16> ? 700 : 2500;
  this->tester().m(3).n(5).k(k).Test();
  this->tester().m(20).n(9).k(777).b_layout(RhsLayout::kNxK).Test();
}

TYPED_TEST(Gemm, BothWeightLayoutsWithAndWithoutBias) {
  const Steps s = this->steps();
  for (RhsLayout layout : {RhsLayout::kKxN, RhsLayout::kNxK}) {
    for (bool bias : {true, false}) {
      this->tester().m(s.m * 2 + 3).n(s.n + 5).k(11).b_layout(layout).bias(bias).Test();
    }
  }
}

TYPED_TEST(Gemm, Clamp) {
  const Steps s = this->steps();
  auto t = this->tester().m(s.m + 3).n(s.n * 2 + 1).k(9);
  t.clone().clamp(-0.25f, 0.25f).Test();
  t.clone().clamp(0.0f, std::numeric_limits<float>::infinity()).Test();  // ReLU
  t.clone().clamp(-std::numeric_limits<float>::infinity(), -0.1f).Test();
  t.clone().clamp(0.5f, 0.5f).Test();  // a single value
  // Tails that end inside a group of four rows of the clamped store.
  for (size_t m : {size_t{1}, size_t{2}, size_t{3}, s.m / 2 + 3, s.m + 1, s.m + 2}) {
    t.clone().m(m).clamp(-0.5f, 0.5f).Test();
  }
}

// Every activation, with and without the per-channel affine after it, C row-major and
// transposed, on tails (few rows too), with and without a clamp.
TYPED_TEST(Gemm, FusedEpilogue) {
  const Steps s = this->steps();
  for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kRelu6,
                         Activation::kHardSwish, Activation::kGelu, Activation::kSilu}) {
    for (bool affine : {false, true}) {
      for (bool transposed : {false, true}) {
        for (size_t m : {size_t{3}, s.m + 1}) {
          auto t = this->tester().m(m).n(s.n + 3).k(13).activation(act).affine(affine);
          t.transposed(transposed).seed(m + 10 * static_cast<size_t>(act));
          t.clone().Test();
          t.clone().clamp(-0.25f, 0.5f).Test();
        }
      }
    }
  }
}

// Inputs that reach the activations' interesting ranges (large |x|: exp over- and underflow).
// GELU and SiLU run both ways (cost_model(): in ZA vector groups, or in registers).
TYPED_TEST(Gemm, ActivationsOnLargeValues) {
  const Steps s = this->steps();
  for (CostModel model : {CostModel::kZaFavoured, CostModel::kVectorFavoured}) {
    const testing::ScopedCostModel scoped(model);
    SCOPED_TRACE(cost_model_name(model));
    for (Activation act : {Activation::kGelu, Activation::kSilu, Activation::kHardSwish}) {
      // Hard-swish has one way whatever the cost model.
      if (act == Activation::kHardSwish && model == CostModel::kVectorFavoured) continue;
      this->tester().m(s.m + 2).n(s.n + 1).k(400).activation(act).Test();
      this->tester().m(2).n(s.n).k(400).activation(act).affine(true).Test();
    }
  }
}

// The GELU and SiLU stage alone against its f64 definition: K = 1 and B all ones make each
// accumulator an exact x (steps of 1/8 over [-12, 12], of 1 out to +-100, both sides of the
// exp's clamps at 10 and 87, far values), so the whole error is the stage's and must stay
// within reference::activation_error(): 2^-18 relative, |x| 2^-23 where the result is tiny.
// Both ways (ZA, registers), both orders of C, with the affine and a clamp after it.
TYPED_TEST(Gemm, GeluAndSiluStageWithinItsBound) {
  std::vector<float> x;
  for (int j = -96; j <= 96; ++j) x.push_back(static_cast<float>(j) / 8.0f);
  for (int j = 13; j <= 100; ++j) {
    x.push_back(static_cast<float>(j));
    x.push_back(static_cast<float>(-j));
  }
  for (float v : {1.0f / 1024, 1.0f / 16384, 9.875f, 10.125f, 86.875f, 87.125f, 300.0f, 1000.0f,
                  4096.0f, 30000.0f}) {
    x.push_back(v);
    x.push_back(-v);
  }
  for (CostModel model : {CostModel::kZaFavoured, CostModel::kVectorFavoured}) {
    const testing::ScopedCostModel scoped(model);
    SCOPED_TRACE(cost_model_name(model));
    for (Activation act : {Activation::kGelu, Activation::kSilu}) {
      auto t = this->tester().m(x.size()).n(3).k(1).bias(false).a_values(x).b_values({1.0f});
      t.activation(act);
      t.clone().Test();
      t.clone().transposed(true).Test();
      t.clone().affine(true).clamp(-50.0f, 60.0f).Test();
      t.clone().transposed(true).affine(true).Test();
    }
  }
}

TYPED_TEST(Gemm, TransposedWithStrides) {
  const Steps s = this->steps();
  this->tester().m(s.m * 2 + 1).n(s.n + 2).k(7).transposed(true).ldc(s.m * 2 + 9).Test();
  this->tester().m(5).n(3).k(2).transposed(true).ldc(12).clamp(-0.1f, 0.1f).Test();
}

TYPED_TEST(Gemm, StridesLargerThanTheMatrix) {
  const Steps s = this->steps();
  auto t = this->tester().m(s.m + 2).n(s.n + 1).k(13);
  t.clone().lda(21).Test();
  t.clone().ldc(s.n + 9).Test();
  t.clone().ldb(s.n + 4).Test();
  t.clone().b_layout(RhsLayout::kNxK).ldb(40).lda(14).ldc(s.n * 3).Test();
}

TYPED_TEST(Gemm, OperandsAgainstTheLeadingGuardPage) {
  const Steps s = this->steps();
  this->tester().m(s.m + 1).n(s.n + 1).k(7).guard_side(GuardSide::kStart).Test();
  this->tester().m(1).n(1).k(1).guard_side(GuardSide::kStart).Test();
}

TYPED_TEST(Gemm, RandomShapes) {
  const Steps s = this->steps();
  ValueStream r(2026);
  for (int i = 0; i < 150; ++i) {
    const size_t m = 1 + r.below(3 * s.m);
    const size_t n = 1 + r.below(3 * s.n);
    const size_t k = 1 + r.below(70);
    const RhsLayout layout = r.below(2) != 0 ? RhsLayout::kKxN : RhsLayout::kNxK;
    auto t = this->tester();
    t.m(m).n(n).k(k).b_layout(layout).bias(r.below(4) != 0).seed(static_cast<uint64_t>(i));
    if (r.below(3) == 0) t.lda(k + r.below(5));
    if (r.below(3) == 0) t.ldc(n + r.below(5));
    if (r.below(3) == 0) t.clamp(-0.5f, 0.75f);
    t.Test();
  }
}

// F16 takes its bias as f16 too (widened once, at packing).
TEST(GemmF16, F16Bias) {
  const Steps s = active_steps<F16>();
  GemmTester<F16>().m(s.m + 1).n(s.n + 3).k(6).f16_bias(true).Test();
  GemmTester<F16, float>().m(3).n(s.n * 2 + 1).k(7).f16_bias(true).clamp(-1.0f, 0.5f).Test();
}

// F16Acc16 runs its own kernel only on a CPU with SME_F16F16; without it (narrowed features,
// or a forced baseline path) it runs the f32-accumulating kernels, never SIGILL.
// BF16 to f32: both kernels (few rows, a tile and its tails), both layouts, bias, the
// epilogue's ways out (activation, affine, clamp, transposed).
TEST(GemmBf16, ToF32) {
  const Steps s = active_steps<BF16>();
  GemmTester<BF16, float>().m(3).n(s.n + 5).k(9).Test();
  GemmTester<BF16, float>().m(s.m * 2 + 1).n(s.n + 3).k(17).b_layout(RhsLayout::kNxK).Test();
  GemmTester<BF16, float>().m(s.m + 1).n(s.n * 2 + 1).k(6).clamp(-1.0f, 0.5f).Test();
  GemmTester<BF16, float>().m(s.m + 2).n(7).k(33).activation(Activation::kGelu).affine(true).Test();
  GemmTester<BF16, float>().m(s.m + 3).n(s.n + 1).k(8).transposed(true).Test();
}

TEST(GemmF16Acc16, FallsBackWithoutF16F16) {
  const CpuFeatures without =
      CpuFeatures{cpu_features().bits & ~static_cast<uint32_t>(CpuFeature::kSmeF16F16)};
  const Path baseline = select_path(without);
  {
    testing::ScopedCpuFeatures narrowed(without);
    EXPECT_FALSE(path_available(Path::kSme2F16F16, cpu_features()));
    EXPECT_EQ(select_path_for<F16Acc16>(), baseline);
    GemmTester<F16Acc16>().m(37).n(19).k(9).Test(baseline);
    GemmTester<F16Acc16>().m(3).n(70).k(33).clamp(-1.0f, 1.0f).Test(baseline);
  }
  {
    testing::ScopedForcePath force(Path::kPortable);
    GemmTester<F16Acc16>().m(9).n(9).k(9).Test(Path::kPortable);
  }
}

// Weights packed for one variant are refused by another (F16 and F16Acc16 pack differently
// where the CPU has SME_F16F16, and the header names the variant everywhere).
TEST(GemmF16Acc16, RefusesWeightsPackedForF16) {
  const size_t n = 9, k = 5;
  std::vector<f16> b(k * n, to_f16(0.5f)), a(4 * k, to_f16(1.0f)), c(4 * n);
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<F16>(n, k, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  ASSERT_TRUE(gemm_pack_rhs<F16>(dense_matrix<const f16>(b.data(), k, n), RhsLayout::kKxN, nullptr,
                                 packed.data(), bytes)
                  .ok());
  const Status s = gemm<F16Acc16>(dense_matrix<const f16>(a.data(), 4, k), packed.data(), bytes,
                                  dense_matrix(c.data(), 4, n));
  EXPECT_EQ(s.code(), StatusCode::kPackedMismatch) << s.message();
}

// The allocating overload runs the same path and gives the same answer.
TEST(Gemm, AllocatingOverload) {
  const size_t m = 19, n = 23, k = 6;
  std::vector<float> a(m * k), b(k * n), c1(m * n), c2(m * n);
  ValueStream r(7);
  for (float& x : a) x = r.next();
  for (float& x : b) x = r.next();
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<F32>(n, k, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  ASSERT_TRUE(gemm_pack_rhs<F32>(dense_matrix<const float>(b.data(), k, n), RhsLayout::kKxN,
                                 nullptr, packed.data(), bytes)
                  .ok());
  ASSERT_TRUE(gemm<F32>(dense_matrix<const float>(a.data(), m, k), packed.data(), bytes,
                        dense_matrix(c1.data(), m, n))
                  .ok());
  size_t ws = 0;
  ASSERT_TRUE(gemm_workspace_size<F32>(m, n, k, &ws).ok());
  std::vector<uint8_t> workspace(ws);
  ASSERT_TRUE(gemm<F32>(dense_matrix<const float>(a.data(), m, k), packed.data(), bytes,
                        dense_matrix(c2.data(), m, n), {}, workspace.data(), ws)
                  .ok());
  EXPECT_EQ(c1, c2);
}

// The portable kernel, forced on a CPU with SME2, meets the same contract.
TEST(GemmDispatch, ForcedPortablePathRunsPortable) {
  testing::ScopedForcePath force(Path::kPortable);
  ASSERT_EQ(select_path(), Path::kPortable);
  for (size_t m : sizes_around(4)) GemmTester<>().m(m).n(19).k(7).Test(Path::kPortable);
  GemmTester<>().m(9).n(8).k(3).clamp(-0.1f, 0.1f).b_layout(RhsLayout::kNxK).Test(Path::kPortable);
  GemmTester<F16>().m(6).n(17).k(9).clamp(-0.1f, 0.1f).Test(Path::kPortable);
  GemmTester<F16, float>().m(5).n(9).k(4).Test(Path::kPortable);
}

// Some Android devices ship SME without SME2: they must take the portable path. QEMU cannot
// switch SME2 off, so narrow the reported features instead.
TEST(GemmDispatch, SmeWithoutSme2TakesThePortablePath) {
  testing::ScopedCpuFeatures sme_only(
      CpuFeatures{}.with(CpuFeature::kSme).with(CpuFeature::kSmeFa64));
  EXPECT_FALSE(cpu_features().has(CpuFeature::kSme2));
  ASSERT_EQ(select_path(), Path::kPortable);
  GemmTester<>().m(13).n(17).k(5).Test(Path::kPortable);
  GemmTester<F16>().m(13).n(17).k(5).Test(Path::kPortable);
}

// Without the override, each configuration must take the path it implies (ctest says which).
TEST(GemmDispatch, ConfigurationTakesItsPath) {
  const std::optional<Path> expected = expected_path();
  if (!expected) GTEST_SKIP() << "SME2K_EXPECT_PATH not set (run outside ctest)";
  GemmTester<>().m(5).n(6).k(7).Test(*expected);
  GemmTester<F16>().m(5).n(6).k(7).Test(*expected);
}

}  // namespace
}  // namespace test
}  // namespace sme2k
