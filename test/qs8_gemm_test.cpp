// QS8 x QC8W GEMM: bit-exact against the reference in every configuration (tails around the
// active kernel's tile, K tails of the 4-way k quads, both weight layouts, bias, strides,
// quantized ranges), extreme values (-128 and 127 everywhere, zero points at the ends, tiny
// and huge scales that saturate), the path taken, guard pages and the ABI check; and every
// bad input of the QS8 entry points.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "harness/abi_check.hpp"
#include "harness/expectations.hpp"
#include "harness/guarded_buffer.hpp"
#include "reference/quantized_gemm.hpp"
#include "sme2k/sme2k.hpp"
#include "testers/gemm_tester.hpp"

namespace sme2k {
namespace test {
namespace {

struct Qs8Case {
  size_t m = 5, n = 7, k = 9;
  size_t lda = 0, ldb = 0, ldc = 0;
  RhsLayout layout = RhsLayout::kKxN;
  bool bias = true;
  float in_scale = 0.02f, out_scale = 0.05f;
  int32_t in_zp = 3, out_zp = -5;
  float w_scale_base = 0.01f;
  int32_t lo = -128, hi = 127;
  int extreme = 0;          // 0: random values; 1: all 127; -1: all -128
  bool transposed = false;  // C stored as C^T (N x M)
  bool affine = false;      // Int8Stages: a per-channel affine to (0.07, 4) in [-100, 120]
  bool table = false;       // and / or a random table
  uint64_t seed = 1;

  std::string describe() const {
    char s[240];
    std::snprintf(s, sizeof s,
                  "M=%zu N=%zu K=%zu %s bias=%d in=(%g,%d) out=(%g,%d) w=%g range=[%d,%d] "
                  "extreme=%d transposed=%d affine=%d table=%d seed=%llu",
                  m, n, k, rhs_layout_name(layout), bias ? 1 : 0, static_cast<double>(in_scale),
                  in_zp, static_cast<double>(out_scale), out_zp, static_cast<double>(w_scale_base),
                  lo, hi, extreme, transposed ? 1 : 0, affine ? 1 : 0, table ? 1 : 0,
                  static_cast<unsigned long long>(seed));
    return s;
  }
};

void check_qs8(const Qs8Case& t, std::optional<Path> expected = std::nullopt) {
  SCOPED_TRACE(t.describe() + " svl=" + std::to_string(streaming_vector_bytes() * 8));
  const size_t lda = t.lda ? t.lda : t.k;
  const size_t b_rows = t.layout == RhsLayout::kKxN ? t.k : t.n;
  const size_t b_cols = t.layout == RhsLayout::kKxN ? t.n : t.k;
  const size_t ldb = t.ldb ? t.ldb : b_cols;
  const size_t c_rows = t.transposed ? t.n : t.m, c_cols = t.transposed ? t.m : t.n;
  const size_t ldc = t.ldc ? t.ldc : c_cols;
  ValueStream r(t.seed);
  const auto value = [&]() -> int8_t {
    if (t.extreme != 0) return t.extreme > 0 ? 127 : -128;
    return static_cast<int8_t>(static_cast<int>(r.below(256)) - 128);
  };
  GuardedArray<int8_t> a((t.m - 1) * lda + t.k), b((b_rows - 1) * ldb + b_cols);
  GuardedArray<int32_t> bias(t.bias ? t.n : 0);
  GuardedArray<float> w_scales(t.n);
  GuardedArray<int8_t> c((c_rows - 1) * ldc + c_cols);
  for (int8_t& x : a) x = value();
  for (int8_t& x : b) x = value();
  for (int32_t& x : bias) x = static_cast<int32_t>(r.below(20001)) - 10000;
  for (float& x : w_scales) x = t.w_scale_base * (1.0f + static_cast<float>(r.below(100)) / 50.0f);
  for (int8_t& x : c) x = 77;  // the gaps between rows must keep it
  GuardedArray<float> affine_scale(t.affine ? t.n : 0), affine_shift(t.affine ? t.n : 0);
  GuardedArray<int8_t> table(t.table ? 256 : 0);
  for (float& x : affine_scale)
    x = static_cast<float>(static_cast<int>(r.below(3001)) - 1500) / 997.0f;
  for (float& x : affine_shift)
    x = static_cast<float>(static_cast<int>(r.below(4001)) - 2000) / 99.0f;
  for (int8_t& x : table) x = static_cast<int8_t>(static_cast<int>(r.below(256)) - 128);

  const Qs8Quantization q{{t.in_scale, t.in_zp}, w_scales.data(), {t.out_scale, t.out_zp}};
  size_t packed_bytes = 0;
  Status s;
  SME2K_EXPECT_ABI_PRESERVED(s = gemm_packed_rhs_size<QS8>(t.n, t.k, &packed_bytes));
  ASSERT_TRUE(s.ok()) << s.message();
  GuardedBuffer packed(packed_bytes);
  SME2K_EXPECT_ABI_PRESERVED(
      s = gemm_pack_rhs<QS8>(MatrixView<const int8_t>{b.data(), b_rows, b_cols, ldb}, t.layout,
                             t.bias ? bias.data() : nullptr, q, packed.data(), packed_bytes));
  ASSERT_TRUE(s.ok()) << s.message();
  size_t ws = 0;
  GemmEpilogue e;
  e.quantized_range = {t.lo, t.hi};
  e.order = t.transposed ? OutputOrder::kTransposed : OutputOrder::kRowMajor;
  constexpr int32_t kAffineZp = 4, kAffineLo = -100, kAffineHi = 120;
  if (t.affine) {
    e.int8_stages.scale = affine_scale.data(), e.int8_stages.shift = affine_shift.data();
    e.int8_stages.zero_point = kAffineZp, e.int8_stages.range = {kAffineLo, kAffineHi};
  }
  if (t.table) e.int8_stages.table = table.data();
  SME2K_EXPECT_ABI_PRESERVED(s = gemm_workspace_size<QS8>(t.m, t.n, t.k, &ws, e.order));
  ASSERT_TRUE(s.ok()) << s.message();
  GuardedBuffer workspace(ws);
  SME2K_EXPECT_ABI_PRESERVED(
      s = gemm<QS8>(MatrixView<const int8_t>{a.data(), t.m, t.k, lda}, packed.data(), packed_bytes,
                    MatrixView<int8_t>{c.data(), c_rows, c_cols, ldc}, e, workspace.data(), ws));
  ASSERT_TRUE(s.ok()) << s.message();
  if (!expected) expected = expected_path();
  if (expected) EXPECT_STREQ(path_name(last_used_path()), path_name(*expected));
  EXPECT_TRUE(a.canary_intact() && b.canary_intact() && c.canary_intact() &&
              packed.canary_intact() && workspace.canary_intact() && affine_scale.canary_intact() &&
              affine_shift.canary_intact() && table.canary_intact());

  reference::Qs8GemmProblem p;
  p.m = t.m, p.n = t.n, p.k = t.k;
  p.a = a.data(), p.lda = lda;
  p.b = b.data(), p.ldb = ldb, p.b_layout = t.layout;
  p.bias = t.bias ? bias.data() : nullptr;
  p.in_scale = t.in_scale, p.out_scale = t.out_scale;
  p.in_zero_point = t.in_zp, p.out_zero_point = t.out_zp;
  p.w_scales = w_scales.data();
  p.lo = t.lo, p.hi = t.hi;
  size_t failures = 0;
  for (size_t i = 0; i < c_rows; ++i) {
    for (size_t j = 0; j < ldc && (i + 1 < c_rows || j < c_cols); ++j) {
      const int got = c[i * ldc + j];
      int want = j >= c_cols    ? 77
                 : t.transposed ? reference::qs8_at(p, j, i)
                                : reference::qs8_at(p, i, j);
      if (j < c_cols) {
        const size_t column = t.transposed ? i : j;
        if (t.affine) {  // one f32 fused multiply-add, rounded to nearest even
          const float y = std::nearbyint(std::fma(static_cast<float>(want - t.out_zp),
                                                  affine_scale[column], affine_shift[column]));
          want = std::min(std::max(static_cast<int>(y) + kAffineZp, kAffineLo), kAffineHi);
        }
        if (t.table) want = table[want + 128];
      }
      if (got != want && failures++ < 8) {
        ADD_FAILURE() << "stored (" << i << ", " << j << ") = " << got << ", want " << want;
      }
    }
  }
  EXPECT_EQ(failures, 0u) << "not bit-exact";
}

size_t qs8_step() {
  return visit_gemm_kernel<QS8>(select_path(), [](auto tag) {
    using Kernel = typename decltype(tag)::type;
    return Kernel::m_step(kernel_vl<Kernel>());
  });
}

TEST(Qs8Gemm, TailsInMAndN) {
  const size_t s = qs8_step();
  for (size_t m : sizes_around(s)) {
    for (size_t n : sizes_around(s)) {
      Qs8Case t;
      t.m = m, t.n = n, t.k = 11, t.seed = m * 100 + n;
      check_qs8(t);
    }
  }
}

// C^T (an NCHW convolution's output): the int8 block leaves through the byte tile.
TEST(Qs8Gemm, TransposedOutput) {
  const size_t s = qs8_step();
  for (size_t m : sizes_around(s)) {
    for (size_t n : sizes_around(s)) {
      Qs8Case t;
      t.m = m, t.n = n, t.k = 13, t.transposed = true, t.seed = m * 31 + n;
      t.ldc = (m + n) % 3 == 0 ? m + 5 : 0;
      t.lo = n % 2 == 0 ? -128 : -20, t.hi = n % 2 == 0 ? 127 : 90;
      check_qs8(t);
    }
  }
}

// Int8Stages: the affine (a quantized BatchNorm after the activation) and the table, alone
// and together, row-major and transposed, around the tile.
TEST(Qs8Gemm, Int8Stages) {
  const size_t s = qs8_step();
  int round = 0;
  for (size_t m : {size_t{1}, s - 1, s + 3}) {
    for (size_t n : {size_t{3}, s, 2 * s + 1}) {
      for (int stages : {1, 2, 3}) {
        Qs8Case t;
        t.m = m, t.n = n, t.k = 17, t.seed = 7 * m + n + 1000 * stages;
        t.affine = (stages & 1) != 0, t.table = (stages & 2) != 0;
        t.transposed = (round++ % 2) != 0;
        t.lo = t.out_zp;  // ReLU before the BatchNorm, as the block chain has it
        check_qs8(t);
      }
    }
  }
}

TEST(Qs8Gemm, DepthsAroundTheKQuads) {
  const size_t s = qs8_step();
  for (size_t k : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 300}) {
    Qs8Case t;
    t.m = s + 3, t.n = s - 1, t.k = k, t.seed = k;
    check_qs8(t);
    t.layout = RhsLayout::kNxK;
    check_qs8(t);
  }
}

TEST(Qs8Gemm, StridesBiasAndRanges) {
  const size_t s = qs8_step();
  Qs8Case t;
  t.m = s + 1, t.n = 2 * s + 3, t.k = 13;
  Qs8Case u = t;
  u.lda = 20, u.ldb = 2 * s + 9, u.ldc = 3 * s;
  check_qs8(u);
  u = t;
  u.bias = false;
  check_qs8(u);
  u = t;
  u.lo = t.out_zp, u.hi = 100;  // ReLU, capped
  check_qs8(u);
  u = t;
  u.lo = 5, u.hi = 5;
  check_qs8(u);
}

TEST(Qs8Gemm, ExtremeValuesAndParameters) {
  const size_t s = qs8_step();
  for (int extreme : {1, -1}) {
    for (int32_t zp : {-128, 0, 127}) {
      Qs8Case t;
      t.m = s + 2, t.n = s + 5, t.k = 37, t.extreme = extreme, t.in_zp = zp, t.out_zp = -zp / 2;
      check_qs8(t);
    }
  }
  Qs8Case t;
  t.m = 9, t.n = 10, t.k = 40;
  Qs8Case tiny = t;
  tiny.w_scale_base = 1e-30f;  // everything rounds to the zero point
  check_qs8(tiny);
  Qs8Case huge = t;
  huge.w_scale_base = 1e20f;  // everything saturates
  check_qs8(huge);
  Qs8Case ties = t;  // scales of 0.5 and accumulators of every parity: ties to even
  ties.in_scale = 1.0f, ties.out_scale = 1.0f, ties.w_scale_base = 0.5f;
  check_qs8(ties);
}

TEST(Qs8Gemm, RandomShapes) {
  const size_t s = qs8_step();
  ValueStream r(42);
  for (int i = 0; i < 60; ++i) {
    Qs8Case t;
    t.m = 1 + r.below(3 * s), t.n = 1 + r.below(3 * s), t.k = 1 + r.below(80);
    t.layout = r.below(2) ? RhsLayout::kKxN : RhsLayout::kNxK;
    t.bias = r.below(4) != 0;
    t.in_zp = static_cast<int32_t>(r.below(256)) - 128;
    t.out_zp = static_cast<int32_t>(r.below(256)) - 128;
    t.seed = static_cast<uint64_t>(i);
    check_qs8(t);
  }
}

TEST(Qs8Gemm, PortablePathIsBitExactToo) {
  testing::ScopedForcePath force(Path::kPortable);
  Qs8Case t;
  t.m = 13, t.n = 17, t.k = 19;
  check_qs8(t, Path::kPortable);
  t.transposed = true;
  check_qs8(t, Path::kPortable);
}

TEST(Qs8GemmBadInput, RefusedWithAStatus) {
  const size_t m = 4, n = 5, k = 6;
  std::vector<int8_t> a(m * k, 1), b(k * n, 1), c(m * n);
  std::vector<float> w(n, 0.1f);
  Qs8Quantization q{{0.5f, 0}, w.data(), {0.5f, 0}};
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QS8>(n, k, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  const MatrixView<const int8_t> bv{b.data(), k, n, n};
  const auto pack = [&](const Qs8Quantization& qq, const int32_t* bias = nullptr,
                        MatrixView<const int8_t> view = {}) {
    return gemm_pack_rhs<QS8>(view.data ? view : bv, RhsLayout::kKxN, bias, qq, packed.data(),
                              bytes);
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float bad : {0.0f, -1.0f, nan, std::numeric_limits<float>::infinity()}) {
    Qs8Quantization qq = q;
    qq.input.scale = bad;
    EXPECT_EQ(pack(qq).code(), StatusCode::kInvalidArgument);
    qq = q;
    qq.output.scale = bad;
    EXPECT_EQ(pack(qq).code(), StatusCode::kInvalidArgument);
    std::vector<float> ws = w;
    ws[2] = bad;
    qq = q;
    qq.weight_scales = ws.data();
    EXPECT_EQ(pack(qq).code(), StatusCode::kInvalidArgument);
  }
  for (int32_t zp : {-129, 128, 1000}) {
    Qs8Quantization qq = q;
    qq.input.zero_point = zp;
    EXPECT_EQ(pack(qq).code(), StatusCode::kInvalidArgument);
    qq = q;
    qq.output.zero_point = zp;
    EXPECT_EQ(pack(qq).code(), StatusCode::kInvalidArgument);
  }
  Qs8Quantization no_scales = q;
  no_scales.weight_scales = nullptr;
  EXPECT_EQ(pack(no_scales).code(), StatusCode::kNullPointer);
  const std::vector<int32_t> big_bias(n, 2147400000);
  EXPECT_EQ(pack(q, big_bias.data()).code(), StatusCode::kInvalidArgument);  // could overflow
  ASSERT_TRUE(pack(q).ok());

  const auto run = [&](const GemmEpilogue& e) {
    return gemm<QS8>(MatrixView<const int8_t>{a.data(), m, k, k}, packed.data(), bytes,
                     MatrixView<int8_t>{c.data(), m, n, n}, e);
  };
  EXPECT_TRUE(run({}).ok());
  GemmEpilogue e;
  e.quantized_range = {-129, 0};
  EXPECT_EQ(run(e).code(), StatusCode::kInvalidArgument);
  e.quantized_range = {10, 5};
  EXPECT_EQ(run(e).code(), StatusCode::kInvalidArgument);
  e = {};
  e.activation = Activation::kGelu;
  EXPECT_EQ(run(e).code(), StatusCode::kUnsupported);
  // Int8 stages: the affine needs both arrays, an int8 zero point and range; nothing the
  // op reads may overlap C.
  std::vector<float> affine(n, 1.0f);
  e = {};
  e.int8_stages.scale = affine.data();
  EXPECT_EQ(run(e).code(), StatusCode::kNullPointer);
  e.int8_stages.shift = affine.data();
  EXPECT_TRUE(run(e).ok());
  e.int8_stages.zero_point = 128;
  EXPECT_EQ(run(e).code(), StatusCode::kInvalidArgument);
  e.int8_stages.zero_point = 0, e.int8_stages.range = {3, 2};
  EXPECT_EQ(run(e).code(), StatusCode::kInvalidArgument);
  e = {};
  e.int8_stages.table = c.data();
  EXPECT_EQ(run(e).code(), StatusCode::kInvalidArgument);
  // Weights packed for F32 are not QS8 weights.
  std::vector<float> bf(k * n, 1.0f);
  size_t fbytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<F32>(n, k, &fbytes).ok());
  std::vector<uint8_t> fpacked(fbytes);
  ASSERT_TRUE(gemm_pack_rhs<F32>(dense_matrix<const float>(bf.data(), k, n), RhsLayout::kKxN,
                                 nullptr, fpacked.data(), fbytes)
                  .ok());
  EXPECT_EQ(gemm<QS8>(MatrixView<const int8_t>{a.data(), m, k, k}, fpacked.data(), fbytes,
                      MatrixView<int8_t>{c.data(), m, n, n})
                .code(),
            StatusCode::kPackedMismatch);
  // ... and float outputs take no int8 stages.
  std::vector<float> af(m * k, 1.0f), cf(m * n);
  GemmEpilogue staged;
  staged.int8_stages.table = c.data();
  EXPECT_EQ(gemm<F32>(dense_matrix<const float>(af.data(), m, k), fpacked.data(), fbytes,
                      MatrixView<float>{cf.data(), m, n, n}, staged)
                .code(),
            StatusCode::kInvalidArgument);
}

// The activation table: against the definition's pieces at a few points, identities.
TEST(Int8ActivationTable, MatchesItsDefinition) {
  int8_t table[256];
  const QuantParams p{0.05f, -3};
  ASSERT_TRUE(int8_activation_table(Activation::kNone, p, p, {}, table).ok());
  for (int q = -128; q <= 127; ++q) EXPECT_EQ(table[q + 128], q);
  ASSERT_TRUE(int8_activation_table(Activation::kRelu, p, p, {}, table).ok());
  for (int q = -128; q <= 127; ++q) EXPECT_EQ(table[q + 128], std::max(q, -3));
  ASSERT_TRUE(int8_activation_table(Activation::kRelu6, p, p, {-128, 100}, table).ok());
  for (int q = -128; q <= 127; ++q) EXPECT_EQ(table[q + 128], std::min(std::max(q, -3), 100));
  // Hard-swish from scale 0.05 to 0.02: against a double computation (ties do not occur).
  const QuantParams out{0.02f, 5};
  ASSERT_TRUE(int8_activation_table(Activation::kHardSwish, p, out, {}, table).ok());
  for (int q = -128; q <= 127; ++q) {
    const double x = 0.05 * (q + 3);
    const double y = x * std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0;
    const int want = static_cast<int>(std::min(std::max(std::lround(y / 0.02) + 5, -128L), 127L));
    EXPECT_LE(std::abs(table[q + 128] - want), 1) << q;
  }
  EXPECT_EQ(int8_activation_table(Activation::kRelu, p, p, {}, nullptr).code(),
            StatusCode::kNullPointer);
  EXPECT_EQ(int8_activation_table(Activation::kRelu, {0.0f, 0}, p, {}, table).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(int8_activation_table(static_cast<Activation>(99), p, p, {}, table).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(int8_activation_table(Activation::kRelu, p, p, {5, 4}, table).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace test
}  // namespace sme2k
