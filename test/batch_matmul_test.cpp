// Batched matmul through the public API for every variant and output type: B in both layouts
// packed at run time (the attention form Q x K^T is kNxK), batch strides with padding,
// broadcast A or B, tails around the active kernels' tiles (few rows too), clamp, guard
// pages, the ABI check, the path taken, and bad input.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
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

struct BatchCase {
  size_t batch = 2, m = 5, n = 7, k = 3;
  RhsLayout layout = RhsLayout::kNxK;
  size_t a_pad = 0, b_pad = 0, c_pad = 0;  // extra elements between batch items
  bool broadcast_a = false, broadcast_b = false;
  bool clamp = false;
  uint64_t seed = 1;

  std::string describe() const {
    return "batch=" + std::to_string(batch) + " M=" + std::to_string(m) +
           " N=" + std::to_string(n) + " K=" + std::to_string(k) + " " + rhs_layout_name(layout) +
           (broadcast_a ? " bcast-A" : "") + (broadcast_b ? " bcast-B" : "") +
           (clamp ? " clamp" : "") + " pads=" + std::to_string(a_pad) + "," +
           std::to_string(b_pad) + "," + std::to_string(c_pad);
  }
};

template <class V, class Out>
void check_batch(const BatchCase& t) {
  using Lhs = typename VariantTraits<V>::Lhs;
  using Rhs = typename VariantTraits<V>::Rhs;
  SCOPED_TRACE(std::string(VariantTraits<V>::kName) +
               (std::is_same_v<Out, f16>    ? "->f16 "
                : std::is_same_v<Out, bf16> ? "->bf16 "
                                            : "->f32 ") +
               t.describe() + " svl=" + std::to_string(streaming_vector_bytes() * 8));
  const size_t b_rows = t.layout == RhsLayout::kKxN ? t.k : t.n;
  const size_t b_cols = t.layout == RhsLayout::kKxN ? t.n : t.k;
  const size_t a_stride = t.broadcast_a ? 0 : t.m * t.k + t.a_pad;
  const size_t b_stride = t.broadcast_b ? 0 : b_rows * b_cols + t.b_pad;
  const size_t c_stride = t.m * t.n + t.c_pad;
  GuardedArray<Lhs> a((t.batch - 1) * a_stride + t.m * t.k);
  GuardedArray<Rhs> b((t.batch - 1) * b_stride + b_rows * b_cols);
  GuardedArray<Out> c((t.batch - 1) * c_stride + t.m * t.n);
  ValueStream values(t.seed);
  std::vector<float> a_values(a.size()), b_values(b.size());
  // The reference sees the values as stored (bf16 keeps 8 significant bits of them).
  for (size_t i = 0; i < a.size(); ++i) a_values[i] = to_f32(a[i] = convert_to<Lhs>(values.next()));
  for (size_t i = 0; i < b.size(); ++i) b_values[i] = to_f32(b[i] = convert_to<Rhs>(values.next()));
  for (Out& x : c) x = convert_to<Out>(std::numeric_limits<float>::quiet_NaN());
  GemmEpilogue epilogue;
  if (t.clamp) epilogue.clamp = {-0.5f, 0.75f};

  size_t bytes = 0;
  Status status;
  SME2K_EXPECT_ABI_PRESERVED(status =
                                 batch_matmul_workspace_size<V>(t.batch, t.m, t.n, t.k, &bytes));
  ASSERT_TRUE(status.ok()) << status.message();
  GuardedBuffer workspace(bytes);
  SME2K_EXPECT_ABI_PRESERVED(
      status = batch_matmul<V>(t.batch, MatrixView<const Lhs>{a.data(), t.m, t.k, t.k}, a_stride,
                               MatrixView<const Rhs>{b.data(), b_rows, b_cols, b_cols}, t.layout,
                               b_stride, MatrixView<Out>{c.data(), t.m, t.n, t.n}, c_stride,
                               epilogue, workspace.data(), bytes));
  ASSERT_TRUE(status.ok()) << status.message();
  if (const auto expected = expected_path()) {
    EXPECT_STREQ(path_name(last_used_path()), path_name(*expected));
  }
  EXPECT_TRUE(a.canary_intact() && b.canary_intact() && c.canary_intact() &&
              workspace.canary_intact());

  size_t failures = 0;
  for (size_t i = 0; i < t.batch; ++i) {
    reference::GemmF32Problem p;
    p.m = t.m, p.n = t.n, p.k = t.k;
    p.a = a_values.data() + i * a_stride, p.lda = t.k;
    p.b = b_values.data() + i * b_stride, p.ldb = b_cols, p.b_layout = t.layout;
    p.clamp = t.clamp, p.clamp_min = epilogue.clamp.min, p.clamp_max = epilogue.clamp.max;
    const reference::GemmF32Result want = reference::gemm_f32(p);
    for (size_t e = 0; e < t.m * t.n; ++e) {
      const float got = to_f32(c[i * c_stride + e]);
      double bound =
          reference::f32_epilogue_bound(p, e % t.n, want.pre[e], want.magnitude[e], want.value[e]);
      if (std::is_same_v<Out, f16>) bound = reference::f16_rounding_bound(want.value[e], bound);
      if (std::is_same_v<Out, bf16>) bound = reference::bf16_rounding_bound(want.value[e], bound);
      if (!(std::fabs(got - want.value[e]) <= bound) && failures++ < 8) {
        ADD_FAILURE() << "batch " << i << " C(" << e / t.n << ", " << e % t.n << ") = " << got
                      << ", want " << want.value[e];
      }
    }
    for (size_t e = t.m * t.n; i + 1 < t.batch && e < c_stride; ++e) {  // the gap: untouched
      if (!std::isnan(to_f32(c[i * c_stride + e])) && failures++ < 8) {
        ADD_FAILURE() << "batch " << i << " gap element " << e << " written";
      }
    }
  }
  EXPECT_EQ(failures, 0u);
}

template <class C>
class BatchMatmul : public ::testing::Test {
 protected:
  static void check(const BatchCase& t) { check_batch<typename C::Variant, typename C::Out>(t); }
};
using Cases = ::testing::Types<Case<F32, float>, Case<F16, f16>, Case<F16, float>, Case<BF16, bf16>,
                               Case<BF16, float>>;
TYPED_TEST_SUITE(BatchMatmul, Cases, CaseNames);

size_t tile() {
  const size_t vl = streaming_vl();
  return vl != 0 && path_available(Path::kSme2, cpu_features()) ? 2 * vl : 8;
}

TYPED_TEST(BatchMatmul, AttentionFormAndPlainForm) {
  const size_t s = tile();
  for (RhsLayout layout : {RhsLayout::kNxK, RhsLayout::kKxN}) {
    for (size_t m : {size_t{1}, size_t{3}, s - 1, s + 1, 2 * s + 3}) {
      for (size_t k : {size_t{1}, size_t{4}, size_t{7}, s + 3}) {
        BatchCase t;
        t.batch = 3, t.m = m, t.n = s + 5, t.k = k, t.layout = layout, t.seed = m * 31 + k;
        this->check(t);
      }
    }
  }
}

TYPED_TEST(BatchMatmul, StridesAndBroadcast) {
  const size_t s = tile();
  BatchCase t;
  t.batch = 4, t.m = s + 2, t.n = 2 * s + 1, t.k = 9;
  for (RhsLayout layout : {RhsLayout::kNxK, RhsLayout::kKxN}) {
    t.layout = layout;
    BatchCase padded = t;
    padded.a_pad = 3, padded.b_pad = 5, padded.c_pad = 7;
    this->check(padded);
    BatchCase shared_b = t;
    shared_b.broadcast_b = true;
    this->check(shared_b);
    BatchCase shared_a = t;
    shared_a.broadcast_a = true, shared_a.clamp = true;
    this->check(shared_a);
  }
}

TYPED_TEST(BatchMatmul, SingleItemAndLongK) {
  BatchCase t;
  t.batch = 1, t.m = 17, t.n = 19, t.k = 301;
  this->check(t);
  t.layout = RhsLayout::kKxN, t.k = 300, t.clamp = true;
  this->check(t);
}

TEST(BatchMatmulBadInput, RefusedWithAStatus) {
  std::vector<float> a(64, 1.0f), b(64, 1.0f), c(64), ws(4096);
  const MatrixView<const float> a2{a.data(), 2, 3, 3}, b2{b.data(), 4, 3, 3};
  const MatrixView<float> c2{c.data(), 2, 4, 4};
  size_t bytes = 0;
  const auto run = [&](size_t batch, MatrixView<const float> av, MatrixView<const float> bv,
                       MatrixView<float> cv, size_t c_stride, void* w, size_t wb) {
    return batch_matmul<F32>(batch, av, 6, bv, RhsLayout::kNxK, 12, cv, c_stride, {}, w, wb);
  };
  ASSERT_TRUE(batch_matmul_workspace_size<F32>(2, 2, 4, 3, &bytes).ok());
  ASSERT_LE(bytes, ws.size() * sizeof(float));
  const size_t wb = ws.size() * sizeof(float);
  EXPECT_TRUE(run(2, a2, b2, c2, 8, ws.data(), wb).ok());
  EXPECT_EQ(run(0, a2, b2, c2, 8, ws.data(), wb).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(run(2, {nullptr, 2, 3, 3}, b2, c2, 8, ws.data(), wb).code(), StatusCode::kNullPointer);
  EXPECT_EQ(run(2, a2, b2, c2, 8, nullptr, wb).code(), StatusCode::kNullPointer);
  EXPECT_EQ(run(2, a2, b2, c2, 8, ws.data(), bytes - 1).code(), StatusCode::kBufferTooSmall);
  EXPECT_EQ(run(2, a2, {b.data(), 4, 2, 2}, c2, 8, ws.data(), wb).code(),
            StatusCode::kInvalidArgument);  // K does not chain
  EXPECT_EQ(run(2, a2, b2, {c.data(), 2, 5, 5}, 10, ws.data(), wb).code(),
            StatusCode::kInvalidArgument);  // N does not chain
  EXPECT_EQ(run(2, a2, b2, c2, 7, ws.data(), wb).code(),
            StatusCode::kInvalidArgument);  // C overlap
  EXPECT_EQ(run(size_t{1} << 62, a2, b2, c2, 8, ws.data(), wb).code(), StatusCode::kSizeOverflow);
  EXPECT_EQ(run(2, a2, b2, {a.data() + 10, 2, 4, 4}, 8, ws.data(), wb).code(),
            StatusCode::kInvalidArgument);                                              // C over A
  EXPECT_EQ(run(2, a2, b2, c2, 8, c.data(), wb).code(), StatusCode::kInvalidArgument);  // ws over C
  GemmEpilogue bad;
  bad.clamp = {1.0f, 0.0f};
  EXPECT_EQ(batch_matmul<F32>(2, a2, 6, b2, RhsLayout::kNxK, 12, c2, 8, bad, ws.data(), wb).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(batch_matmul_workspace_size<F32>(2, 0, 4, 3, &bytes).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(batch_matmul_workspace_size<F32>(2, 2, 4, 3, nullptr).code(), StatusCode::kNullPointer);
  EXPECT_EQ(
      batch_matmul_workspace_size<F32>(1, 64, size_t{1} << 62, size_t{1} << 62, &bytes).code(),
      StatusCode::kSizeOverflow);
}

}  // namespace
}  // namespace test
}  // namespace sme2k
