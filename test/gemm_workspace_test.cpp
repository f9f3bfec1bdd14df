// The workspace contract (docs/integration.md): a workspace sized by gemm_workspace_size() for
// M rows, with a given parallel-for, serves every call of the same N, K, order and parallel-for
// with fewer rows. A runtime sizes it once for its largest batch and reuses it; the op must
// neither refuse a smaller M nor need more bytes for it. For every variant (F16Acc16 aside,
// below) and batch_matmul, serial and with a 4-task parallel-for, the workspace is sized for
// M, handed over with exactly that byte count in a guard-page buffer, and every M' in 1..M is
// run and checked against the reference (integers bit for bit, floats within the stated
// bounds of test/reference/). The M swept reaches past two 2VL tiles (the small-M and any-M
// kernels, the panel tails and the task splits that change with M) up to 131 rows; N 300,
// K 64 are the cases the issue reported for QD8QC4W (SVL 128: M 8 then 3; 4 tasks at SVL
// 2048: M 300 then 129..131).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "harness/abi_check.hpp"
#include "harness/guarded_buffer.hpp"
#include "harness/thread_pool.hpp"
#include "reference/dynamic_quant.hpp"
#include "reference/gemm.hpp"
#include "reference/quantized_gemm.hpp"
#include "sme2k/sme2k.hpp"
#include "testers/gemm_tester.hpp"

namespace sme2k {
namespace test {
namespace {

/// Values in -1..1 in steps of 1/8: exact in f16, and products and short sums exact in f32.
float grid_value(ValueStream& r) { return (static_cast<float>(r.below(17)) - 8.0f) / 8.0f; }

/// A packed GEMM of sized_m rows with its reference: expect(i, j) within bound(i, j) (0 for
/// integers). Row i of the result does not depend on the rows around it, so the first m rows
/// of the reference are the reference of the m-row call.
template <class V>
struct Problem {
  using Lhs = typename VariantTraits<V>::Lhs;
  using Out = typename VariantTraits<V>::Out;
  size_t rows = 0, n = 0, k = 0;
  std::vector<Lhs> a;  // rows x k, dense
  GuardedBuffer packed;
  size_t packed_bytes = 0;
  std::vector<double> expect, bound;  // rows x n
};

template <class V>
void pack_into(Problem<V>* p, const std::function<Status(void*, size_t)>& pack,
               size_t packed_bytes) {
  p->packed_bytes = packed_bytes;
  p->packed = GuardedBuffer(packed_bytes, GuardSide::kEnd, kPackedAlignment);
  Status s;
  SME2K_EXPECT_ABI_PRESERVED(s = pack(p->packed.data(), packed_bytes));
  ASSERT_TRUE(s.ok()) << s.message();
}

/// F32, F16, F16Acc16: float or f16 operands on the 1/8 grid, an f32 bias.
template <class V>
Problem<V> float_problem(size_t rows, size_t n, size_t k, uint64_t seed) {
  using Lhs = typename VariantTraits<V>::Lhs;
  using Rhs = typename VariantTraits<V>::Rhs;
  ValueStream r(seed);
  Problem<V> p;
  p.rows = rows, p.n = n, p.k = k;
  std::vector<float> a(rows * k), b(k * n), bias(n);
  for (float& x : a) x = grid_value(r);
  for (float& x : b) x = grid_value(r);
  for (float& x : bias) x = grid_value(r);
  std::vector<Rhs> b_in(b.size());
  p.a.resize(a.size());
  for (size_t i = 0; i < a.size(); ++i) p.a[i] = convert_to<Lhs>(a[i]);
  for (size_t i = 0; i < b.size(); ++i) b_in[i] = convert_to<Rhs>(b[i]);
  size_t bytes = 0;
  EXPECT_TRUE(gemm_packed_rhs_size<V>(n, k, &bytes).ok());
  pack_into(
      &p,
      [&](void* dst, size_t size) {
        return gemm_pack_rhs<V>(MatrixView<const Rhs>{b_in.data(), k, n, n}, RhsLayout::kKxN,
                                bias.data(), dst, size);
      },
      bytes);
  reference::GemmF32Problem ref;
  ref.m = rows, ref.n = n, ref.k = k, ref.a = a.data(), ref.lda = k, ref.b = b.data();
  ref.ldb = n, ref.bias = bias.data();
  const reference::GemmF32Result exact = reference::gemm_f32(ref);
  p.expect = exact.value;
  p.bound.resize(exact.value.size());
  for (size_t e = 0; e < exact.value.size(); ++e) {
    double bound = std::is_same_v<V, F16Acc16>
                       ? reference::f16_accumulation_bound(k, exact.magnitude[e])
                       : reference::f32_gemm_error_bound(k, exact.magnitude[e]);
    if (std::is_same_v<typename VariantTraits<V>::Out, f16>) {
      bound = reference::f16_rounding_bound(exact.value[e], bound);
    }
    p.bound[e] = bound;
  }
  return p;
}

Problem<QS8> qs8_problem(size_t rows, size_t n, size_t k, uint64_t seed) {
  ValueStream r(seed);
  Problem<QS8> p;
  p.rows = rows, p.n = n, p.k = k;
  p.a.resize(rows * k);
  std::vector<int8_t> b(k * n);
  std::vector<int32_t> bias(n);
  std::vector<float> w_scales(n);
  for (int8_t& x : p.a) x = static_cast<int8_t>(static_cast<int>(r.below(256)) - 128);
  for (int8_t& x : b) x = static_cast<int8_t>(static_cast<int>(r.below(256)) - 128);
  for (int32_t& x : bias) x = static_cast<int32_t>(r.below(20001)) - 10000;
  for (float& x : w_scales) x = 0.001f + 0.001f * static_cast<float>(r.below(8));
  Qs8Quantization q;
  q.input = QuantParams{0.05f, 3};
  q.weight_scales = w_scales.data();
  q.output = QuantParams{0.75f, -5};
  size_t bytes = 0;
  EXPECT_TRUE(gemm_packed_rhs_size<QS8>(n, k, &bytes).ok());
  pack_into(
      &p,
      [&](void* dst, size_t size) {
        return gemm_pack_rhs<QS8>(MatrixView<const int8_t>{b.data(), k, n, n}, RhsLayout::kKxN,
                                  bias.data(), q, dst, size);
      },
      bytes);
  reference::Qs8GemmProblem ref;
  ref.m = rows, ref.n = n, ref.k = k, ref.a = p.a.data(), ref.lda = k, ref.b = b.data();
  ref.ldb = n, ref.bias = bias.data(), ref.in_scale = q.input.scale;
  ref.in_zero_point = q.input.zero_point, ref.out_scale = q.output.scale;
  ref.out_zero_point = q.output.zero_point, ref.w_scales = w_scales.data();
  const std::vector<int8_t> c = reference::qs8_gemm(ref);
  p.expect.assign(c.begin(), c.end());
  p.bound.assign(c.size(), 0.0);
  return p;
}

/// QD8 (int8 weights), QD8QC4W (-8..7 as int8 values), QD8QB4W (-8..7, a scale per block of
/// 32): f32 activations quantized per row by the op, an f32 bias.
template <class V>
Problem<V> qd8_problem(size_t rows, size_t n, size_t k, uint64_t seed) {
  constexpr bool kInt8 = std::is_same_v<V, QD8>;
  constexpr bool kBlocks = std::is_same_v<V, QD8QB4W>;
  ValueStream r(seed);
  Problem<V> p;
  p.rows = rows, p.n = n, p.k = k;
  p.a.resize(rows * k);
  for (float& x : p.a) x = r.next();
  std::vector<int8_t> b(k * n);
  for (int8_t& x : b) {
    x = kInt8 ? static_cast<int8_t>(static_cast<int>(r.below(255)) - 127)
              : static_cast<int8_t>(static_cast<int>(r.below(16)) - 8);
  }
  std::vector<float> bias(n), scales(kBlocks ? n * (k / kScaleGroup) : n);
  for (float& x : bias) x = r.next();
  for (float& x : scales) x = 0.01f + 0.01f * static_cast<float>(r.below(8));
  size_t bytes = 0;
  const BlockScales block_scales{scales.data(), ScaleType::kF32, kScaleGroup, k / kScaleGroup};
  if constexpr (kBlocks) {
    EXPECT_TRUE(gemm_packed_rhs_size<V>(n, k, kScaleGroup, &bytes).ok());
  } else {
    EXPECT_TRUE(gemm_packed_rhs_size<V>(n, k, &bytes).ok());
  }
  pack_into(
      &p,
      [&](void* dst, size_t size) {
        if constexpr (kInt8) {
          return gemm_pack_rhs<V>(MatrixView<const int8_t>{b.data(), k, n, n}, RhsLayout::kKxN,
                                  bias.data(), scales.data(), dst, size);
        } else {
          const Int4View view{reinterpret_cast<const uint8_t*>(b.data()), k, n, n,
                              Int4Storage::kInt8};
          if constexpr (kBlocks) {
            return gemm_pack_rhs<V>(view, RhsLayout::kKxN, bias.data(), block_scales, dst, size);
          } else {
            return gemm_pack_rhs<V>(view, RhsLayout::kKxN, bias.data(), scales.data(), dst, size);
          }
        }
      },
      bytes);
  reference::Qd8GemmProblem ref;
  ref.m = rows, ref.n = n, ref.k = k, ref.a = p.a, ref.b = b.data(), ref.ldb = n;
  ref.w_scales = scales.data(), ref.bias = bias.data();
  const std::vector<reference::QuantizedRow> q = reference::quantize_rows(ref);
  p.expect.resize(rows * n);
  p.bound.resize(rows * n);
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if constexpr (kBlocks) {
        const auto scale = [&](size_t jj, size_t kk) { return double{block_scales.at(jj, kk)}; };
        const reference::Qd8Element e = reference::qb4w_at(ref, q[i], scale, i, j);
        p.expect[i * n + j] = e.value;
        p.bound[i * n + j] = reference::f32_gemm_error_bound(k + 2, e.magnitude);
      } else {
        const reference::Qd8Element e = reference::qd8_at(ref, q[i], i, j);
        p.expect[i * n + j] = e.value;
        p.bound[i * n + j] = reference::qd8_dequant_bound(e.magnitude);
      }
    }
  }
  return p;
}

template <class V>
Problem<V> make_problem(size_t rows, size_t n, size_t k, uint64_t seed) {
  if constexpr (std::is_same_v<V, QS8>) {
    return qs8_problem(rows, n, k, seed);
  } else if constexpr (std::is_same_v<typename VariantTraits<V>::Lhs, float> &&
                       !std::is_same_v<V, F32>) {
    return qd8_problem<V>(rows, n, k, seed);
  } else {
    return float_problem<V>(rows, n, k, seed);
  }
}

/// Where the first m rows of `c` (m x n) leave the reference; empty when they do not.
template <class Out>
std::string first_mismatch(const Out* c, size_t m, size_t n, const std::vector<double>& expect,
                           const std::vector<double>& bound) {
  for (size_t e = 0; e < m * n; ++e) {
    const double got = static_cast<double>(to_f32(c[e]));
    if (!(std::fabs(got - expect[e]) <= bound[e])) {
      std::ostringstream out;
      out << "C(" << e / n << ", " << e % n << ") = " << got << ", reference " << expect[e]
          << " +- " << bound[e];
      return out.str();
    }
  }
  return {};
}

/// "1..3, 7, 9..12": a sorted list of rows, as ranges.
std::string list_rows(const std::vector<size_t>& rows) {
  std::string out;
  for (size_t i = 0; i < rows.size();) {
    size_t j = i;
    while (j + 1 < rows.size() && rows[j + 1] == rows[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(rows[i]);
    if (j > i) out += ".." + std::to_string(rows[j]);
    i = j + 1;
  }
  return out;
}

/// Sizes the workspace for `sized` rows (<= p.rows) with `parallel`, then runs every m in `ms`
/// (every m in 1..sized when empty) with exactly that workspace. One failure line per refused
/// or wrong m.
template <class V>
void run_smaller_m(const Problem<V>& p, size_t sized, const ParallelFor& parallel, const char* how,
                   std::vector<size_t> ms = {}) {
  using Lhs = typename Problem<V>::Lhs;
  using Out = typename Problem<V>::Out;
  ASSERT_LE(sized, p.rows);
  if (ms.empty()) {
    for (size_t m = 1; m <= sized; ++m) ms.push_back(m);
  }
  std::sort(ms.begin(), ms.end());
  ms.erase(std::unique(ms.begin(), ms.end()), ms.end());
  size_t bytes = 0;
  ASSERT_TRUE(
      gemm_workspace_size<V>(sized, p.n, p.k, &bytes, OutputOrder::kRowMajor, parallel).ok());
  GuardedBuffer workspace(bytes);
  const std::string what =
      std::string(VariantTraits<V>::kName) + " " + how + ", N " + std::to_string(p.n) + ", K " +
      std::to_string(p.k) + ", workspace sized for M " + std::to_string(sized) + " (" +
      std::to_string(bytes) + " bytes), SVL " + std::to_string(streaming_vl() * 32) + ": M ";
  std::vector<size_t> refused, wrong;
  size_t most_needed = 0;
  std::string first_refusal, first_wrong;
  for (size_t m : ms) {
    if (m > sized) continue;
    GuardedArray<Lhs> a(std::vector<Lhs>(p.a.begin(), p.a.begin() + m * p.k));
    GuardedArray<Out> c(m * p.n);
    Status s;
    SME2K_EXPECT_ABI_PRESERVED(s = gemm<V>(MatrixView<const Lhs>{a.data(), m, p.k, p.k},
                                           p.packed.data(), p.packed_bytes,
                                           MatrixView<Out>{c.data(), m, p.n, p.n}, GemmEpilogue{},
                                           workspace.data(), bytes, parallel));
    if (!s.ok()) {
      size_t needed = 0;
      (void)gemm_workspace_size<V>(m, p.n, p.k, &needed, OutputOrder::kRowMajor, parallel);
      most_needed = std::max(most_needed, needed);
      if (refused.empty()) first_refusal = s.message();
      refused.push_back(m);
      continue;
    }
    const std::string off = first_mismatch(c.data(), m, p.n, p.expect, p.bound);
    if (!off.empty()) {
      if (wrong.empty()) first_wrong = off;
      wrong.push_back(m);
    }
  }
  // One line per kind of failure: which M, and the first message.
  EXPECT_TRUE(refused.empty()) << what << list_rows(refused) << " refused, needing up to "
                               << most_needed << " bytes ("
                               << static_cast<double>(most_needed) / static_cast<double>(bytes)
                               << "x); the first: " << first_refusal;
  EXPECT_TRUE(wrong.empty()) << what << list_rows(wrong) << " wrong; the first: " << first_wrong;
  EXPECT_TRUE(workspace.canary_intact()) << what << "(written outside the workspace)";
}

/// The rows of the 2VL tile the any-M kernels take (VL 4 without SME).
size_t tile_rows() {
  const size_t vl = streaming_vl();
  return 2 * (vl != 0 ? vl : 4);
}

/// The M a sweep sizes for: two tiles and a tail, at most 131 rows.
size_t sweep_rows() { return std::min<size_t>(2 * tile_rows() + 3, 131); }

template <class V>
class WorkspaceTest : public ::testing::Test {};

// F16Acc16 is left out: the slowest under emulation (28 s at SVL 2048), and its workspace
// was F16's byte for byte in every case measured.
using Variants = ::testing::Types<F32, F16, QS8, QD8, QD8QC4W, QD8QB4W>;
TYPED_TEST_SUITE(WorkspaceTest, Variants);

// Sized past two tiles (past one, 131 rows, at SVL 2048: each call there is slow under
// emulation), every smaller M, serial.
TYPED_TEST(WorkspaceTest, ServesEverySmallerMSerial) {
  const Problem<TypeParam> p = make_problem<TypeParam>(sweep_rows(), 37, 32, 1);
  run_smaller_m(p, p.rows, ParallelFor{}, "serial");
}

// The same with a parallel-for of up to 4 tasks (2 threads): the grid changes with M.
TYPED_TEST(WorkspaceTest, ServesEverySmallerMWithFourTasks) {
  const Problem<TypeParam> p = make_problem<TypeParam>(sweep_rows(), 37, 32, 2);
  ThreadPool pool(2);
  run_smaller_m(p, p.rows, pool.parallel_for(4), "4 tasks");
}

// The reported cases: N 300, K 64; sized for 8 rows then fewer (SVL 128 refused M 3), and
// with 4 tasks sized for 300 rows then 129..131 (SVL 2048 needed up to 1.33x), plus the rows
// around the first two tile boundaries.
TYPED_TEST(WorkspaceTest, ReportedShapes) {
  const Problem<TypeParam> p = make_problem<TypeParam>(300, 300, 64, 3);
  run_smaller_m(p, 8, ParallelFor{}, "serial");
  const size_t t = tile_rows();
  ThreadPool pool(2);
  run_smaller_m(p, 300, pool.parallel_for(4), "4 tasks",
                {1, 2, 3, t - 1, t, t + 1, 2 * t - 1, 2 * t, 2 * t + 1, 129, 130, 131, 299, 300});
}

/// batch_matmul (2 items, B unpacked, its packing in the workspace): sized for `sized` rows,
/// then every M in 1..sized with that workspace.
template <class V>
void run_batch_smaller_m(size_t sized, size_t n, size_t k, const ParallelFor& parallel,
                         const char* how) {
  using Lhs = typename VariantTraits<V>::Lhs;
  using Rhs = typename VariantTraits<V>::Rhs;
  using Out = typename VariantTraits<V>::Out;
  constexpr size_t kBatch = 2;
  ValueStream r(7);
  std::vector<float> a(kBatch * sized * k), b(kBatch * k * n);
  for (float& x : a) x = grid_value(r);
  for (float& x : b) x = grid_value(r);
  std::vector<Lhs> a_in(a.size());
  for (size_t i = 0; i < a.size(); ++i) a_in[i] = convert_to<Lhs>(a[i]);
  std::vector<Rhs> b_in(b.size());
  for (size_t i = 0; i < b.size(); ++i) b_in[i] = convert_to<Rhs>(b[i]);
  const GuardedArray<Lhs> a_guarded(a_in);
  const GuardedArray<Rhs> b_guarded(b_in);
  std::vector<reference::GemmF32Result> exact;
  for (size_t item = 0; item < kBatch; ++item) {
    reference::GemmF32Problem ref;
    ref.m = sized, ref.n = n, ref.k = k, ref.a = &a[item * sized * k], ref.lda = k;
    ref.b = &b[item * k * n], ref.ldb = n;
    exact.push_back(reference::gemm_f32(ref));
  }
  size_t bytes = 0;
  ASSERT_TRUE(
      batch_matmul_workspace_size<V>(kBatch, sized, n, k, &bytes, OutputOrder::kRowMajor, parallel)
          .ok());
  GuardedBuffer workspace(bytes);
  std::vector<size_t> refused, wrong;
  std::string first_refusal, first_wrong;
  for (size_t m = 1; m <= sized; ++m) {
    GuardedArray<Out> c(kBatch * m * n);
    Status s;
    SME2K_EXPECT_ABI_PRESERVED(
        s = batch_matmul<V>(kBatch, MatrixView<const Lhs>{a_guarded.data(), m, k, k}, sized * k,
                            MatrixView<const Rhs>{b_guarded.data(), k, n, n}, RhsLayout::kKxN,
                            k * n, MatrixView<Out>{c.data(), m, n, n}, m * n, GemmEpilogue{},
                            workspace.data(), bytes, parallel));
    if (!s.ok()) {
      if (refused.empty()) first_refusal = s.message();
      refused.push_back(m);
      continue;
    }
    for (size_t item = 0; item < kBatch; ++item) {
      std::vector<double> bound(m * n);
      for (size_t e = 0; e < m * n; ++e) {
        bound[e] = reference::f32_gemm_error_bound(k, exact[item].magnitude[e]);
        if (std::is_same_v<Out, f16>) {
          bound[e] = reference::f16_rounding_bound(exact[item].value[e], bound[e]);
        }
      }
      const std::string off = first_mismatch(&c[item * m * n], m, n, exact[item].value, bound);
      if (!off.empty()) {
        if (wrong.empty()) first_wrong = "item " + std::to_string(item) + ": " + off;
        wrong.push_back(m);
        break;
      }
    }
  }
  const std::string what = std::string("batch_matmul ") + std::string(VariantTraits<V>::kName) +
                           " " + how + ", N " + std::to_string(n) + ", K " + std::to_string(k) +
                           ", workspace sized for M " + std::to_string(sized) + " (" +
                           std::to_string(bytes) + " bytes): M ";
  EXPECT_TRUE(refused.empty()) << what << list_rows(refused)
                               << " refused; the first: " << first_refusal;
  EXPECT_TRUE(wrong.empty()) << what << list_rows(wrong) << " wrong; the first: " << first_wrong;
  EXPECT_TRUE(workspace.canary_intact()) << what << "(written outside the workspace)";
}

// F32 serial and parallel; F16 (the attention use) parallel only: each call packs B, slow at
// large SVL under emulation.
TEST(BatchMatmulWorkspace, ServesEverySmallerM) {
  run_batch_smaller_m<F32>(sweep_rows(), 37, 32, ParallelFor{}, "serial");
  ThreadPool pool(2);
  run_batch_smaller_m<F32>(sweep_rows(), 37, 32, pool.parallel_for(4), "4 tasks");
  run_batch_smaller_m<F16>(sweep_rows(), 37, 32, pool.parallel_for(4), "4 tasks");
}

}  // namespace
}  // namespace test
}  // namespace sme2k
