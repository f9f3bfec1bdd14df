// One packed GEMM problem of any variant with its reference, for tests that run the op many
// times on the same weights (gemm_workspace_test.cpp, kernel_registry_test.cpp): A of `rows`
// rows, B packed into a guard-page buffer, and per element of C the reference value and its
// bound (0 for integers). Row i of C depends on row i of A only, so the first m rows of the
// reference are the reference of a call on the first m rows of A.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "harness/abi_check.hpp"
#include "harness/guarded_buffer.hpp"
#include "reference/dynamic_quant.hpp"
#include "reference/gemm.hpp"
#include "reference/quantized_gemm.hpp"
#include "sme2k/sme2k.hpp"
#include "testers/gemm_tester.hpp"

namespace sme2k {
namespace test {

/// Values in -1..1 in steps of 1/8: exact in f16, and products and short sums exact in f32.
inline float grid_value(ValueStream& r) { return (static_cast<float>(r.below(17)) - 8.0f) / 8.0f; }

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

/// F32, F16, F16Acc16, BF16: float, f16 or bf16 operands on the 1/8 grid (exact in each), an
/// f32 bias.
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
    } else if (std::is_same_v<typename VariantTraits<V>::Out, bf16>) {
      bound = reference::bf16_rounding_bound(exact.value[e], bound);
    }
    p.bound[e] = bound;
  }
  return p;
}

inline Problem<QS8> qs8_problem(size_t rows, size_t n, size_t k, uint64_t seed) {
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
inline std::string list_rows(const std::vector<size_t>& rows) {
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

/// Runs gemm() on the first m rows of p.a (every operand and an exactly sized workspace in
/// guard-page buffers, under the ABI check) and compares with the reference: "" when the call
/// succeeds within the bounds, else what went wrong.
template <class V>
std::string run_rows(const Problem<V>& p, size_t m, const ParallelFor& parallel = {}) {
  using Lhs = typename Problem<V>::Lhs;
  using Out = typename Problem<V>::Out;
  size_t bytes = 0;
  Status s = gemm_workspace_size<V>(m, p.n, p.k, &bytes, OutputOrder::kRowMajor, parallel);
  if (!s.ok()) return "gemm_workspace_size: " + std::string(s.message());
  GuardedBuffer workspace(bytes);
  GuardedArray<Lhs> a(std::vector<Lhs>(p.a.begin(), p.a.begin() + m * p.k));
  GuardedArray<Out> c(m * p.n);
  SME2K_EXPECT_ABI_PRESERVED(s = gemm<V>(MatrixView<const Lhs>{a.data(), m, p.k, p.k},
                                         p.packed.data(), p.packed_bytes,
                                         MatrixView<Out>{c.data(), m, p.n, p.n}, GemmEpilogue{},
                                         workspace.data(), bytes, parallel));
  if (!s.ok()) return s.message();
  if (!workspace.canary_intact()) return "written outside the workspace";
  return first_mismatch(c.data(), m, p.n, p.expect, p.bound);
}

}  // namespace test
}  // namespace sme2k
