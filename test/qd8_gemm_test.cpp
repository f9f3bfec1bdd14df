// QD8 (activations quantized per row at run time) x QC8W GEMM:
// - the row quantization is bit-exact against the reference (test/reference/dynamic_quant.hpp)
//   and within its stated error of the values; the SME2 quantizing packer writes the bytes of
//   the plain one, at every SVL;
// - the GEMM is within the dequantization's rounding (reference::qd8_dequant_bound: 4 f32
//   roundings of |s w acc| + |bias|) of the exact result on the same quantized values, and
//   within the quantization error of the float GEMM of the unquantized A; f32 and f16
//   activations, f32 and f16 outputs, the float epilogue stages, either order of C, tails of
//   the tile and of the k quads, both weight layouts, strides, guard pages, the path taken,
//   the ABI check, every SVL, FA64 off, SME off (portable path);
// - a row holding an infinity or a NaN gives a row of NaN;
// - every bad input of the QD8 entry points.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "harness/abi_check.hpp"
#include "harness/expectations.hpp"
#include "harness/guarded_buffer.hpp"
#include "reference/dynamic_quant.hpp"
#include "reference/gemm.hpp"
#include "sme2k/sme2k.hpp"
#include "testers/gemm_tester.hpp"
#include "testers/qd8_gemm_check.hpp"

namespace sme2k {
namespace test {
namespace {

TEST(Qd8RowQuantization, MatchesTheReferenceAndItsErrorBound) {
  ValueStream r(7);
  for (Rows kind : {Rows::kMixed, Rows::kPositive, Rows::kNegative, Rows::kZero, Rows::kScaled}) {
    for (size_t row = 0; row < 80; ++row) {
      const size_t k = 1 + r.below(300);
      std::vector<float> x(k);
      for (float& v : x) v = row_value(kind, r, row);
      if (row % 7 == 3) x[r.below(k)] = std::numeric_limits<float>::max();  // no overflow
      if (row % 11 == 5) x[r.below(k)] = 1e-40f;                            // subnormal
      const reference::QuantizedRow want = reference::quantize_row(x.data(), k);
      const RowQuantization got = row_quantization(x.data(), k);
      ASSERT_EQ(got.scale, want.scale) << "row " << row;
      ASSERT_EQ(got.zero_point, want.zero_point) << "row " << row;
      const float inv = 1.0f / got.scale;
      for (size_t i = 0; i < k; ++i) {
        ASSERT_EQ(quantize_dynamic(x[i], inv, got.zero_point), want.q[i]) << "x=" << x[i];
        const double back = double{got.scale} * (want.q[i] - want.zero_point);
        ASSERT_LE(std::fabs(back - x[i]), 0.5 * got.scale * (1.0 + std::ldexp(1.0, -15)))
            << "x=" << x[i] << " scale=" << got.scale;
      }
    }
  }
  // Exact ties: scale 1 (range [-128, 127]) and halves round to even.
  std::vector<float> ties = {-128.0f, 127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f};
  const RowQuantization q = row_quantization(ties.data(), ties.size());
  const reference::QuantizedRow want = reference::quantize_row(ties.data(), ties.size());
  EXPECT_EQ(q.zero_point, want.zero_point);
  for (size_t i = 0; i < ties.size(); ++i) {
    EXPECT_EQ(quantize_dynamic(ties[i], 1.0f / q.scale, q.zero_point), want.q[i]);
  }
}

TEST(Qd8RowQuantization, NonFiniteRowsGetANanScale) {
  for (float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    std::vector<float> x = {1.0f, bad, -2.0f};
    EXPECT_TRUE(std::isnan(row_quantization(x.data(), x.size()).scale));
    EXPECT_TRUE(std::isnan(reference::quantize_row(x.data(), x.size()).scale));
  }
}

template <class T>
constexpr int kDecades = std::is_same_v<T, f16> ? 4 : 30;

#if SME2K_HAS_SME2_CODE
template <class In>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void quantize_panel_through_za(
    MatrixView<const In> a, void* panel, void* scratch) {
  LhsQd8p2vlx4::pack_panel_sme2(a, panel, scratch);
}
#endif

// The SME2 quantizing packer writes what the plain pack_panel() writes (itself checked
// against the reference above), reads nothing past A's rows and writes nothing past the panel.
template <class In>
void check_quantizing_packer() {
#if SME2K_HAS_SME2_CODE
  if (!path_available(Path::kSme2, cpu_features())) GTEST_SKIP() << "needs a CPU with SME2";
  const size_t vl = streaming_vl();
  ValueStream r(5);
  for (size_t rows : sizes_around(2 * vl)) {
    if (rows > 2 * vl) continue;
    for (size_t k : {size_t{1}, size_t{3}, size_t{4}, size_t{5}, 4 * vl - 1, 4 * vl, 4 * vl + 1,
                     8 * vl + 6, 13 * vl + 3}) {
      for (size_t lda : {k, k + 3}) {
        SCOPED_TRACE(::testing::Message()
                     << "vl=" << vl << " rows=" << rows << " k=" << k << " lda=" << lda);
        GuardedArray<In> a((rows - 1) * lda + k);
        for (size_t i = 0; i < rows; ++i) {
          const auto kind = static_cast<Rows>(i % 5);
          for (size_t kk = 0; kk < k; ++kk) {
            a[i * lda + kk] = from_f32<In>(row_value(kind, r, i, kDecades<In>));
          }
        }
        const size_t bytes = LhsQd8p2vlx4::panel_bytes(k, vl);
        GuardedBuffer through_za(bytes);
        std::memset(through_za.data(), 0xee, bytes);
        std::vector<uint8_t> plain(bytes);
        LhsQd8p2vlx4::pack_panel<In>({a.data(), rows, k, lda}, vl, plain.data());
        GuardedBuffer scratch(LhsQd8p2vlx4::pack_scratch_bytes(vl), GuardSide::kEnd, 64);
        quantize_panel_through_za<In>({a.data(), rows, k, lda}, through_za.data(), scratch.data());
        ASSERT_EQ(std::memcmp(plain.data(), through_za.data(), bytes), 0);
        ASSERT_TRUE(a.canary_intact() && through_za.canary_intact() && scratch.canary_intact());
      }
    }
  }
#else
  GTEST_SKIP() << "built without SME2 code";
#endif
}

TEST(Qd8LhsFormat, Sme2PackerMatchesThePlainOneF32) { check_quantizing_packer<float>(); }
TEST(Qd8LhsFormat, Sme2PackerMatchesThePlainOneF16) { check_quantizing_packer<f16>(); }

struct Qd8Case {
  size_t m = 5, n = 7, k = 9;
  size_t lda = 0, ldb = 0, ldc = 0;
  RhsLayout layout = RhsLayout::kKxN;
  bool bias = true;
  Rows rows = Rows::kMixed;
  int extreme_weights = 0;  // 0: random; 1: all 127; -1: all -128
  Activation activation = Activation::kNone;
  bool affine = false, clamp = false, transposed = false;
  uint64_t seed = 1;

  std::string describe() const {
    char s[240];
    std::snprintf(s, sizeof s,
                  "M=%zu N=%zu K=%zu lda=%zu ldb=%zu ldc=%zu %s bias=%d rows=%d w=%d act=%s "
                  "affine=%d clamp=%d transposed=%d seed=%llu",
                  m, n, k, lda, ldb, ldc, rhs_layout_name(layout), bias ? 1 : 0,
                  static_cast<int>(rows), extreme_weights, activation_name(activation),
                  affine ? 1 : 0, clamp ? 1 : 0, transposed ? 1 : 0,
                  static_cast<unsigned long long>(seed));
    return s;
  }
};

template <class In, class Out>
void check_qd8(const Qd8Case& t, std::optional<Path> expected = std::nullopt) {
  SCOPED_TRACE(t.describe() + " in=" + (std::is_same_v<In, f16> ? "f16" : "f32") +
               " out=" + (std::is_same_v<Out, f16> ? "f16" : "f32") +
               " svl=" + std::to_string(streaming_vector_bytes() * 8));
  const size_t lda = t.lda ? t.lda : t.k;
  const size_t b_rows = t.layout == RhsLayout::kKxN ? t.k : t.n;
  const size_t b_cols = t.layout == RhsLayout::kKxN ? t.n : t.k;
  const size_t ldb = t.ldb ? t.ldb : b_cols;
  const size_t c_rows = t.transposed ? t.n : t.m, c_cols = t.transposed ? t.m : t.n;
  const size_t ldc = t.ldc ? t.ldc : c_cols;
  ValueStream r(t.seed);
  GuardedArray<In> a((t.m - 1) * lda + t.k);
  GuardedArray<int8_t> b((b_rows - 1) * ldb + b_cols);
  GuardedArray<float> bias(t.bias ? t.n : 0), w_scales(t.n), scale(t.n), shift(t.n);
  GuardedArray<Out> c((c_rows - 1) * ldc + c_cols);
  reference::Qd8GemmProblem p;
  p.m = t.m, p.n = t.n, p.k = t.k;
  p.a.resize(t.m * t.k);
  for (size_t i = 0; i < t.m; ++i) {
    for (size_t kk = 0; kk < t.k; ++kk) {
      a[i * lda + kk] = from_f32<In>(row_value(t.rows, r, i, kDecades<In>));
      p.a[i * t.k + kk] = to_f32(a[i * lda + kk]);
    }
  }
  for (int8_t& x : b) {
    x = t.extreme_weights ? (t.extreme_weights > 0 ? 127 : -128)
                          : static_cast<int8_t>(static_cast<int>(r.below(256)) - 128);
  }
  for (float& x : bias) x = r.next() * 4.0f;
  for (float& x : w_scales) x = 0.001f * (1.0f + static_cast<float>(r.below(100)) / 25.0f);
  for (float& x : scale) x = 0.5f + r.next();
  for (float& x : shift) x = r.next();
  const Out sentinel = from_f32<Out>(77.0f);
  for (Out& x : c) x = sentinel;  // the gaps between rows must keep it

  size_t packed_bytes = 0;
  Status s;
  SME2K_EXPECT_ABI_PRESERVED(s = gemm_packed_rhs_size<QD8>(t.n, t.k, &packed_bytes));
  ASSERT_TRUE(s.ok()) << s.message();
  GuardedBuffer packed(packed_bytes);
  SME2K_EXPECT_ABI_PRESERVED(
      s = gemm_pack_rhs<QD8>(MatrixView<const int8_t>{b.data(), b_rows, b_cols, ldb}, t.layout,
                             t.bias ? bias.data() : nullptr, w_scales.data(), packed.data(),
                             packed_bytes));
  ASSERT_TRUE(s.ok()) << s.message();
  const FloatStages stages{t.activation, t.affine ? scale.data() : nullptr,
                           t.affine ? shift.data() : nullptr, t.clamp};
  const GemmEpilogue e = make_epilogue(stages, t.transposed);
  size_t ws = 0;
  SME2K_EXPECT_ABI_PRESERVED(s = gemm_workspace_size<QD8>(t.m, t.n, t.k, &ws, e.order));
  ASSERT_TRUE(s.ok()) << s.message();
  GuardedBuffer workspace(ws);
  SME2K_EXPECT_ABI_PRESERVED(
      s = gemm<QD8, Out>(MatrixView<const In>{a.data(), t.m, t.k, lda}, packed.data(), packed_bytes,
                         MatrixView<Out>{c.data(), c_rows, c_cols, ldc}, e, workspace.data(), ws));
  ASSERT_TRUE(s.ok()) << s.message();
  const Path used = last_used_path();
  if (!expected) expected = expected_path();
  if (expected) EXPECT_STREQ(path_name(last_used_path()), path_name(*expected));
  EXPECT_TRUE(a.canary_intact() && b.canary_intact() && c.canary_intact() &&
              packed.canary_intact() && workspace.canary_intact());

  check_packed_lhs_gives_the_same<QD8, In, Out>(MatrixView<const In>{a.data(), t.m, t.k, lda},
                                                packed.data(), packed_bytes, c, c_rows, c_cols, ldc,
                                                e, ws, used);

  p.b = b.data(), p.ldb = ldb, p.b_layout = t.layout;
  p.w_scales = w_scales.data();
  p.bias = t.bias ? bias.data() : nullptr;
  const std::vector<reference::QuantizedRow> rows = reference::quantize_rows(p);
  check_qd8_c(c, t.m, t.n, ldc, t.transposed, t.k, stages, [&](size_t i, size_t j) {
    const reference::Qd8Element want = reference::qd8_at(p, rows[i], i, j);
    return Qd8Want{want.value, want.magnitude, want.float_value, want.quantization_error,
                   reference::qd8_dequant_bound(want.magnitude)};
  });
}

size_t qd8_step() {
  return visit_gemm_kernel<QD8>(select_path(), [](auto tag) {
    using Kernel = typename decltype(tag)::type;
    return Kernel::m_step(kernel_vl<Kernel>());
  });
}

TEST(Qd8Gemm, TailsInMAndN) {
  const size_t s = qd8_step();
  for (size_t m : sizes_around(s)) {
    for (size_t n : sizes_around(s)) {
      Qd8Case t;
      t.m = m, t.n = n, t.k = 11, t.seed = m * 100 + n;
      check_qd8<float, float>(t);
    }
  }
}

TEST(Qd8Gemm, DepthsAroundTheKQuads) {
  const size_t s = qd8_step();
  for (size_t k : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 67, 300, 1000}) {
    Qd8Case t;
    t.m = s + 3, t.n = s - 1, t.k = k, t.seed = k;
    check_qd8<float, float>(t);
    t.layout = RhsLayout::kNxK;
    check_qd8<f16, float>(t);
  }
}

TEST(Qd8Gemm, InputAndOutputTypes) {
  const size_t s = qd8_step();
  Qd8Case t;
  t.m = s + 2, t.n = 2 * s + 1, t.k = 37;
  check_qd8<float, float>(t);
  check_qd8<float, f16>(t);
  check_qd8<f16, float>(t);
  check_qd8<f16, f16>(t);
}

TEST(Qd8Gemm, RowKindsAndExtremeWeights) {
  const size_t s = qd8_step();
  for (Rows rows : {Rows::kMixed, Rows::kPositive, Rows::kNegative, Rows::kZero, Rows::kScaled}) {
    for (int w : {0, 1, -1}) {
      Qd8Case t;
      t.m = s + 5, t.n = s + 2, t.k = 45, t.rows = rows, t.extreme_weights = w;
      t.seed = static_cast<uint64_t>(rows) * 3 + static_cast<uint64_t>(w + 1);
      check_qd8<float, float>(t);
    }
  }
}

TEST(Qd8Gemm, EpilogueStagesOrderAndStrides) {
  const size_t s = qd8_step();
  Qd8Case t;
  t.m = s + 1, t.n = s + 3, t.k = 21;
  for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kHardSwish,
                         Activation::kGelu, Activation::kSilu}) {
    Qd8Case u = t;
    u.activation = act;
    check_qd8<float, float>(u);
    u.affine = true;
    u.clamp = true;
    check_qd8<float, f16>(u);
  }
  Qd8Case u = t;
  u.transposed = true;
  check_qd8<float, float>(u);
  u.ldc = t.m + 5;
  check_qd8<f16, f16>(u);
  u = t;
  u.lda = 30, u.ldb = t.n + 9, u.ldc = t.n + 4;
  check_qd8<float, float>(u);
  u.layout = RhsLayout::kNxK;
  u.ldb = t.k + 2;
  u.bias = false;
  check_qd8<float, float>(u);
}

TEST(Qd8Gemm, RandomShapes) {
  const size_t s = qd8_step();
  ValueStream r(43);
  for (int i = 0; i < 40; ++i) {
    Qd8Case t;
    t.m = 1 + r.below(3 * s), t.n = 1 + r.below(3 * s), t.k = 1 + r.below(90);
    t.layout = r.below(2) ? RhsLayout::kKxN : RhsLayout::kNxK;
    t.bias = r.below(4) != 0;
    t.rows = static_cast<Rows>(r.below(5));
    t.seed = static_cast<uint64_t>(i);
    if (r.below(2)) {
      check_qd8<float, float>(t);
    } else {
      check_qd8<f16, f16>(t);
    }
  }
}

TEST(Qd8Gemm, PortablePathToo) {
  testing::ScopedForcePath force(Path::kPortable);
  Qd8Case t;
  t.m = 13, t.n = 17, t.k = 19;
  check_qd8<float, float>(t, Path::kPortable);
  t.transposed = true, t.activation = Activation::kRelu;
  check_qd8<f16, f16>(t, Path::kPortable);
}

TEST(Qd8Gemm, RowsWithInfinityOrNanGiveNan) {
  const size_t m = 3, n = 5, k = 7;
  std::vector<float> a(m * k, 0.25f), w(n, 0.01f), c(m * n);
  std::vector<int8_t> b(k * n, 3);
  a[1 * k + 4] = std::numeric_limits<float>::infinity();
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8>(n, k, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  ASSERT_TRUE(gemm_pack_rhs<QD8>(dense_matrix<const int8_t>(b.data(), k, n), RhsLayout::kKxN,
                                 nullptr, w.data(), packed.data(), bytes)
                  .ok());
  for (float bad :
       {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    a[1 * k + 4] = bad;
    ASSERT_TRUE(gemm<QD8>(dense_matrix<const float>(a.data(), m, k), packed.data(), bytes,
                          dense_matrix(c.data(), m, n))
                    .ok());
    for (size_t j = 0; j < n; ++j) {
      EXPECT_TRUE(std::isfinite(c[j]) && std::isfinite(c[2 * n + j]));
      EXPECT_TRUE(std::isnan(c[n + j])) << "column " << j;
    }
  }
}

TEST(Qd8GemmBadInput, RefusedWithAStatus) {
  const size_t m = 4, n = 5, k = 6;
  std::vector<float> a(m * k, 1.0f), c(m * n), w(n, 0.1f);
  std::vector<int8_t> b(k * n, 1);
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8>(n, k, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  const MatrixView<const int8_t> bv{b.data(), k, n, n};
  const auto pack = [&](const float* scales) {
    return gemm_pack_rhs<QD8>(bv, RhsLayout::kKxN, nullptr, scales, packed.data(), bytes);
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float bad : {0.0f, -1.0f, nan, std::numeric_limits<float>::infinity()}) {
    std::vector<float> ws = w;
    ws[3] = bad;
    EXPECT_EQ(pack(ws.data()).code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(pack(nullptr).code(), StatusCode::kNullPointer);
  {  // K beyond what the column sums' int16 halves hold
    const size_t big_k = kQd8MaxK + 1;
    std::vector<int8_t> tall(big_k, 1);
    size_t big_bytes = 0;
    ASSERT_TRUE(gemm_packed_rhs_size<QD8>(1, big_k, &big_bytes).ok());
    std::vector<uint8_t> big(big_bytes);
    EXPECT_EQ(gemm_pack_rhs<QD8>(MatrixView<const int8_t>{tall.data(), big_k, 1, 1},
                                 RhsLayout::kKxN, nullptr, w.data(), big.data(), big_bytes)
                  .code(),
              StatusCode::kInvalidArgument);
  }
  ASSERT_TRUE(pack(w.data()).ok());
  EXPECT_TRUE(gemm<QD8>(dense_matrix<const float>(a.data(), m, k), packed.data(), bytes,
                        dense_matrix(c.data(), m, n))
                  .ok());
  // Short buffers, null pointers, mismatched shapes.
  EXPECT_EQ(gemm<QD8>(dense_matrix<const float>(a.data(), m, k), packed.data(), bytes - 1,
                      dense_matrix(c.data(), m, n))
                .code(),
            StatusCode::kBufferTooSmall);
  EXPECT_EQ(gemm<QD8>(MatrixView<const float>{nullptr, m, k, k}, packed.data(), bytes,
                      dense_matrix(c.data(), m, n))
                .code(),
            StatusCode::kNullPointer);
  EXPECT_EQ(gemm<QD8>(dense_matrix<const float>(a.data(), m, k - 1), packed.data(), bytes,
                      MatrixView<float>{c.data(), m, n, n})
                .code(),
            StatusCode::kPackedMismatch);
  size_t ws_bytes = 0;
  ASSERT_TRUE(gemm_workspace_size<QD8>(m, n, k, &ws_bytes).ok());
  if (ws_bytes > 0) {
    std::vector<uint8_t> ws(ws_bytes);
    EXPECT_EQ(gemm<QD8>(dense_matrix<const float>(a.data(), m, k), packed.data(), bytes,
                        dense_matrix(c.data(), m, n), {}, ws.data(), ws_bytes - 1)
                  .code(),
              StatusCode::kBufferTooSmall);
  }
  // QS8 weights are not QD8 weights, nor F32 ones.
  std::vector<float> qs(n, 0.1f);
  Qs8Quantization q{{0.5f, 0}, qs.data(), {0.5f, 0}};
  size_t qbytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QS8>(n, k, &qbytes).ok());
  std::vector<uint8_t> qpacked(qbytes);
  ASSERT_TRUE(gemm_pack_rhs<QS8>(bv, RhsLayout::kKxN, nullptr, q, qpacked.data(), qbytes).ok());
  EXPECT_EQ(gemm<QD8>(dense_matrix<const float>(a.data(), m, k), qpacked.data(), qbytes,
                      dense_matrix(c.data(), m, n))
                .code(),
            StatusCode::kPackedMismatch);
}

TEST(Qd8PackedLhsBadInput, RefusedWithAStatus) {
  const size_t m = 5, n = 5, k = 6;  // M = N: swapped buffers pass the shape checks
  std::vector<float> a(m * k, 1.0f), c(m * n), w(n, 0.1f);
  std::vector<int8_t> b(k * n, 1);
  size_t w_bytes = 0, a_bytes = 0, ws_bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8>(n, k, &w_bytes).ok());
  ASSERT_TRUE(gemm_packed_lhs_size<QD8>(m, k, &a_bytes).ok());
  ASSERT_TRUE(gemm_workspace_size<QD8>(m, n, k, &ws_bytes).ok());
  std::vector<uint8_t> weights(w_bytes), ws(ws_bytes + 1);
  alignas(64) static uint8_t packed_a[1 << 16];
  ASSERT_LE(a_bytes, sizeof packed_a);
  ASSERT_TRUE(gemm_pack_rhs<QD8>(MatrixView<const int8_t>{b.data(), k, n, n}, RhsLayout::kKxN,
                                 nullptr, w.data(), weights.data(), w_bytes)
                  .ok());
  const auto av = dense_matrix<const float>(a.data(), m, k);
  const auto cv = dense_matrix(c.data(), m, n);
  // Sizes.
  size_t bytes = 0;
  EXPECT_EQ(gemm_packed_lhs_size<QD8>(0, k, &bytes).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(gemm_packed_lhs_size<QD8>(m, 0, &bytes).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(gemm_packed_lhs_size<QD8>(m, k, nullptr).code(), StatusCode::kNullPointer);
  EXPECT_EQ(gemm_packed_lhs_size<QD8>(SIZE_MAX / 2, SIZE_MAX / 2, &bytes).code(),
            StatusCode::kSizeOverflow);
  // Packing.
  EXPECT_EQ(gemm_pack_lhs<QD8>(av, nullptr, a_bytes).code(), StatusCode::kNullPointer);
  EXPECT_EQ(gemm_pack_lhs<QD8>(av, packed_a, a_bytes - 1).code(), StatusCode::kBufferTooSmall);
  EXPECT_EQ(gemm_pack_lhs<QD8>(av, packed_a + 1, a_bytes).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      gemm_pack_lhs<QD8>(MatrixView<const float>{a.data(), m, k, k - 1}, packed_a, a_bytes).code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(gemm_pack_lhs<QD8>(MatrixView<const float>{nullptr, m, k, k}, packed_a, a_bytes).code(),
            StatusCode::kNullPointer);
  EXPECT_EQ(gemm_pack_lhs<QD8>(dense_matrix<const float>(a.data(), 1, kQd8MaxK + 1), packed_a,
                               sizeof packed_a)
                .code(),
            StatusCode::kUnsupported);
  EXPECT_EQ(gemm_pack_lhs<QD8>(MatrixView<const float>{reinterpret_cast<float*>(packed_a), 2, 8, 8},
                               packed_a, a_bytes)
                .code(),
            StatusCode::kInvalidArgument);  // overlaps A
  ASSERT_TRUE(gemm_pack_lhs<QD8>(av, packed_a, a_bytes).ok());
  const PackedLhs good{packed_a, a_bytes};
  EXPECT_TRUE(gemm<QD8>(good, weights.data(), w_bytes, cv, {}, ws.data(), ws_bytes).ok());
  // The multiply: buffers, shapes, headers.
  EXPECT_EQ(
      gemm<QD8>(PackedLhs{nullptr, a_bytes}, weights.data(), w_bytes, cv, {}, ws.data(), ws_bytes)
          .code(),
      StatusCode::kNullPointer);
  EXPECT_EQ(gemm<QD8>(PackedLhs{packed_a, a_bytes - 1}, weights.data(), w_bytes, cv, {}, ws.data(),
                      ws_bytes)
                .code(),
            StatusCode::kBufferTooSmall);
  EXPECT_EQ(gemm<QD8>(good, weights.data(), w_bytes, dense_matrix(c.data(), m - 1, n), {},
                      ws.data(), ws_bytes)
                .code(),
            StatusCode::kInvalidArgument);  // C's M is not the packed M
  EXPECT_EQ(gemm<QD8>(PackedLhs{weights.data(), w_bytes}, weights.data(), w_bytes, cv, {},
                      ws.data(), ws_bytes)
                .code(),
            StatusCode::kPackedMismatch);  // weights where activations belong
  EXPECT_EQ(
      gemm<QD8>(good, packed_a, a_bytes, dense_matrix(c.data(), m, m), {}, ws.data(), ws_bytes)
          .code(),
      StatusCode::kPackedMismatch);  // and activations where weights belong
  if (ws_bytes > 0 && last_used_path() != Path::kPortable) {
    EXPECT_EQ(gemm<QD8>(good, weights.data(), w_bytes, cv, {}, ws.data(), 64).code(),
              StatusCode::kBufferTooSmall);
    EXPECT_EQ(gemm<QD8>(good, weights.data(), w_bytes, cv, {}, nullptr, ws_bytes).code(),
              StatusCode::kNullPointer);
  }
  {  // Packed for another SVL or path: the header says so.
    std::vector<uint8_t> other(packed_a, packed_a + a_bytes);
    PackedHeader h;
    std::memcpy(&h, other.data(), sizeof h);
    h.svl_bytes = h.svl_bytes == 0 ? 64 : h.svl_bytes * 2;
    write_packed_header(other.data(), h);  // resealed: the SVL check, not the checksum
    EXPECT_EQ(gemm<QD8>(PackedLhs{other.data(), a_bytes}, weights.data(), w_bytes, cv, {},
                        ws.data(), ws_bytes)
                  .code(),
              StatusCode::kPackedMismatch);
  }
  {  // K of the activations is not K of the weights.
    size_t short_bytes = 0;
    ASSERT_TRUE(gemm_packed_lhs_size<QD8>(m, k - 1, &short_bytes).ok());
    std::vector<uint8_t> short_a(short_bytes);
    ASSERT_TRUE(gemm_pack_lhs<QD8>(MatrixView<const float>{a.data(), m, k - 1, k}, short_a.data(),
                                   short_bytes)
                    .ok());
    EXPECT_EQ(gemm<QD8>(PackedLhs{short_a.data(), short_bytes}, weights.data(), w_bytes, cv, {},
                        ws.data(), ws_bytes)
                  .code(),
              StatusCode::kPackedMismatch);
  }
  // C overlapping the packed activations.
  EXPECT_EQ(gemm<QD8>(good, weights.data(), w_bytes,
                      MatrixView<float>{reinterpret_cast<float*>(packed_a + 64), m, n, n}, {},
                      ws.data(), ws_bytes)
                .code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace test
}  // namespace sme2k
