// GemmTester: one GEMM case, described builder-style, run end to end through the public API
// (pack the weights, size the workspace, call the op) with every operand in a guard-page
// buffer and the call under the ABI check, then compared with the reference.
//
//   GemmTester().m(33).n(17).k(5).b_layout(RhsLayout::kNxK).bias(false).Test();
//
// A failure names the case (shape, strides, layout, options, seed, SVL, path) and the first
// elements that are off, with their error bound.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "harness/abi_check.hpp"
#include "harness/expectations.hpp"
#include "harness/guarded_buffer.hpp"
#include "reference/gemm.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k {
namespace test {

/// Deterministic values in [-1, 1) with 12 significant bits: products and short sums stay
/// exact in f32, longer ones exercise rounding.
class ValueStream {
 public:
  explicit ValueStream(uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ull + 1) {}
  float next() {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    const auto bits = static_cast<uint32_t>(state_ >> 52);  // 12 bits
    return static_cast<float>(static_cast<int32_t>(bits) - 2048) / 2048.0f;
  }
  size_t below(size_t n) {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<size_t>((state_ >> 33) % n);
  }

 private:
  uint64_t state_;
};

/// V: the variant (F32, F16); Out: the output element type (the variant's default).
template <class V = F32, class Out = typename VariantTraits<V>::Out>
class GemmTester {
 public:
  using Lhs = typename VariantTraits<V>::Lhs;
  using Rhs = typename VariantTraits<V>::Rhs;

  GemmTester& m(size_t v) {
    m_ = v;
    return *this;
  }
  GemmTester& n(size_t v) {
    n_ = v;
    return *this;
  }
  GemmTester& k(size_t v) {
    k_ = v;
    return *this;
  }
  /// 0: dense (the minimum).
  GemmTester& lda(size_t v) {
    lda_ = v;
    return *this;
  }
  GemmTester& ldb(size_t v) {
    ldb_ = v;
    return *this;
  }
  GemmTester& ldc(size_t v) {
    ldc_ = v;
    return *this;
  }
  GemmTester& b_layout(RhsLayout v) {
    layout_ = v;
    return *this;
  }
  GemmTester& bias(bool v) {
    bias_ = v;
    return *this;
  }
  /// Hand the bias to packing as f16 (variants that take one) instead of f32.
  GemmTester& f16_bias(bool v) {
    f16_bias_ = v;
    return *this;
  }
  GemmTester& clamp(float lo, float hi) {
    clamp_ = Clamp{lo, hi};
    return *this;
  }
  GemmTester& seed(uint64_t v) {
    seed_ = v;
    return *this;
  }
  GemmTester& activation(Activation v) {
    activation_ = v;
    return *this;
  }
  /// A per-channel affine after the activation (random scale in [0.5, 1.5), shift in [-1, 1)).
  GemmTester& affine(bool v) {
    affine_ = v;
    return *this;
  }
  /// Store C transposed (N x M, ldc >= M).
  GemmTester& transposed(bool v) {
    transposed_ = v;
    return *this;
  }
  /// Where every operand sits: against the guard page after it (default) or before it.
  GemmTester& guard_side(GuardSide v) {
    side_ = v;
    return *this;
  }
  /// A's (and B's) storage filled with these values in turn instead of random ones (they
  /// must be exact in the variant's input type): e.g. K = 1 and B all ones make each
  /// accumulator an exact chosen x, to test the activation stage alone.
  GemmTester& a_values(std::vector<float> v) {
    a_fill_ = std::move(v);
    return *this;
  }
  GemmTester& b_values(std::vector<float> v) {
    b_fill_ = std::move(v);
    return *this;
  }
  GemmTester clone() const { return *this; }

  size_t get_m() const { return m_; }

  /// "f16->f32 M=33 N=17 K=5 lda=5 ldb=17 ldc=17 kxn bias act=gelu affine transposed
  /// clamp=[-0.5,0.5] seed=1"
  std::string describe() const {
    char s[300];
    std::snprintf(s, sizeof s,
                  "%s->%s M=%zu N=%zu K=%zu lda=%zu ldb=%zu ldc=%zu %s %s%s act=%s%s%s "
                  "clamp=[%g,%g] seed=%llu",
                  VariantTraits<V>::kName.data(),
                  std::is_same_v<Out, f16>    ? "f16"
                  : std::is_same_v<Out, bf16> ? "bf16"
                                              : "f32",
                  m_, n_, k_, lda(), ldb(), ldc(), rhs_layout_name(layout_),
                  bias_ ? "bias" : "no-bias", f16_bias_ ? "(f16)" : "",
                  activation_name(activation_), affine_ ? " affine" : "",
                  transposed_ ? " transposed" : "", static_cast<double>(clamp_.min),
                  static_cast<double>(clamp_.max), static_cast<unsigned long long>(seed_));
    return s;
  }

  /// Runs the case; `expected` is the path the op must take (default: what the test run's
  /// configuration implies, else whatever select_path() says).
  void Test(std::optional<Path> expected = std::nullopt) const {
    SCOPED_TRACE(describe() + " svl=" + std::to_string(streaming_vector_bytes() * 8) +
                 " path=" + path_name(select_path()));
    ValueStream values(seed_);
    const size_t b_rows = layout_ == RhsLayout::kKxN ? k_ : n_;
    const size_t b_cols = layout_ == RhsLayout::kKxN ? n_ : k_;
    GuardedArray<Lhs> a((m_ - 1) * lda() + k_, side_);
    GuardedArray<Rhs> b((b_rows - 1) * ldb() + b_cols, side_);
    GuardedArray<float> bias(bias_ ? n_ : 0, side_);
    GuardedArray<f16> bias_f16(bias_ && f16_bias_ ? n_ : 0, side_);
    GuardedArray<Out> c((c_rows() - 1) * ldc() + c_cols(), side_);
    GuardedArray<float> scale(affine_ ? n_ : 0, side_), shift(affine_ ? n_ : 0, side_);
    // Values with 12 significant bits: exact in f16 and f32 alike, so the reference sees the
    // same inputs whatever the variant stores.
    std::vector<float> a_values(a.size()), b_values(b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      a_values[i] = a_fill_.empty() ? values.next() : a_fill_[i % a_fill_.size()];
      a[i] = convert_to<Lhs>(a_values[i]);
      a_values[i] = to_f32(a[i]);  // exact but for bf16 (8 significant bits)
    }
    for (size_t i = 0; i < b.size(); ++i) {
      b_values[i] = b_fill_.empty() ? values.next() : b_fill_[i % b_fill_.size()];
      b[i] = convert_to<Rhs>(b_values[i]);
      b_values[i] = to_f32(b[i]);
    }
    for (float& x : bias) x = values.next();
    for (size_t i = 0; i < bias_f16.size(); ++i) bias_f16[i] = to_f16(bias[i]);
    for (float& x : scale) x = 1.0f + 0.5f * values.next();
    for (float& x : shift) x = values.next();
    // C's gaps between rows must survive the call: fill everything with a NaN sentinel.
    for (Out& x : c) x = convert_to<Out>(std::numeric_limits<float>::quiet_NaN());

    // Every public call runs under the ABI check, not only the op.
    size_t packed_bytes = 0;
    Status status;
    SME2K_EXPECT_ABI_PRESERVED(status = gemm_packed_rhs_size<V>(n_, k_, &packed_bytes));
    ASSERT_TRUE(status.ok()) << status.message();
    GuardedBuffer packed(packed_bytes, side_);
    const MatrixView<const Rhs> b_view{b.data(), b_rows, b_cols, ldb()};
    if (!bias_) {
      SME2K_EXPECT_ABI_PRESERVED(
          status = gemm_pack_rhs<V>(b_view, layout_, nullptr, packed.data(), packed_bytes));
    } else if (f16_bias_) {
      if constexpr (VariantTraits<V>::template kBiasInputs<f16>) {
        SME2K_EXPECT_ABI_PRESERVED(status = gemm_pack_rhs<V>(b_view, layout_, bias_f16.data(),
                                                             packed.data(), packed_bytes));
      } else {
        FAIL() << "this variant takes no f16 bias";
      }
    } else {
      SME2K_EXPECT_ABI_PRESERVED(
          status = gemm_pack_rhs<V>(b_view, layout_, bias.data(), packed.data(), packed_bytes));
    }
    ASSERT_TRUE(status.ok()) << status.message();

    size_t workspace_bytes = 0;
    const OutputOrder order = transposed_ ? OutputOrder::kTransposed : OutputOrder::kRowMajor;
    SME2K_EXPECT_ABI_PRESERVED(status =
                                   gemm_workspace_size<V>(m_, n_, k_, &workspace_bytes, order));
    ASSERT_TRUE(status.ok()) << status.message();
    GuardedBuffer workspace(workspace_bytes, side_);

    GemmEpilogue epilogue;
    epilogue.clamp = clamp_;
    epilogue.activation = activation_;
    epilogue.affine = {affine_ ? scale.data() : nullptr, affine_ ? shift.data() : nullptr};
    epilogue.order = order;
    SME2K_EXPECT_ABI_PRESERVED(
        status = gemm<V>(MatrixView<const Lhs>{a.data(), m_, k_, lda()}, packed.data(),
                         packed_bytes, MatrixView<Out>{c.data(), c_rows(), c_cols(), ldc()},
                         epilogue, workspace.data(), workspace_bytes));
    ASSERT_TRUE(status.ok()) << status.message();
    if (!expected) expected = expected_path_for_variant();
    if (expected) {
      EXPECT_EQ(path_name(last_used_path()), std::string(path_name(*expected)));
    }
    EXPECT_TRUE(a.canary_intact() && b.canary_intact() && c.canary_intact() &&
                bias.canary_intact() && bias_f16.canary_intact() && packed.canary_intact() &&
                workspace.canary_intact() && scale.canary_intact() && shift.canary_intact())
        << "a write landed just before an operand";

    reference::GemmF32Problem p;
    p.m = m_;
    p.n = n_;
    p.k = k_;
    p.a = a_values.data();
    p.lda = lda();
    p.b = b_values.data();
    p.ldb = ldb();
    p.b_layout = layout_;
    p.bias = bias_ ? bias.data() : nullptr;
    p.clamp = clamp_.active();
    p.clamp_min = clamp_.min;
    p.clamp_max = clamp_.max;
    p.activation = activation_;
    p.scale = affine_ ? scale.data() : nullptr;
    p.shift = affine_ ? shift.data() : nullptr;
    const reference::GemmF32Result want = reference::gemm_f32(p);
    size_t failures = 0;
    // Walk C as stored: (r, col) is C(i, j) row-major, C(j, i) transposed.
    for (size_t r = 0; r < c_rows(); ++r) {
      for (size_t col = 0; col < ldc() && (r + 1 < c_rows() || col < c_cols()); ++col) {
        const float got = to_f32(c[r * ldc() + col]);
        if (col >= c_cols()) {  // a gap between rows of C: untouched
          if (!std::isnan(got) && failures++ < 8) {
            ADD_FAILURE() << "C storage (" << r << ", " << col
                          << ") is a gap but was written: " << got;
          }
          continue;
        }
        const size_t i = transposed_ ? col : r, j = transposed_ ? r : col;
        const size_t e = i * n_ + j;
        const double w = want.value[e];
        const double acc_bound = std::is_same_v<V, F16Acc16>
                                     ? reference::f16_accumulation_bound(k_, want.magnitude[e])
                                     : reference::f32_gemm_error_bound(k_, want.magnitude[e]);
        double bound =
            reference::f32_epilogue_bound(p, j, want.pre[e], want.magnitude[e], w, acc_bound);
        if (std::is_same_v<Out, f16>) bound = reference::f16_rounding_bound(w, bound);
        if (std::is_same_v<Out, bf16>) bound = reference::bf16_rounding_bound(w, bound);
        if (!(std::fabs(got - w) <= bound) && failures++ < 8) {
          ADD_FAILURE() << "C(" << i << ", " << j << ") = " << got << ", want " << w
                        << " (error bound " << bound << ", before the epilogue " << want.pre[e]
                        << ")";
        }
      }
    }
    EXPECT_EQ(failures, 0u) << "elements off";
  }

 private:
  // What the configuration implies for this variant: F16Acc16 takes its own path where the
  // CPU has SME_F16F16 (and no test narrowed the features).
  static std::optional<Path> expected_path_for_variant() {
    std::optional<Path> path = expected_path();
    if (std::is_same_v<V, F16Acc16> && path == Path::kSme2 &&
        path_available(Path::kSme2F16F16, cpu_features())) {
      path = Path::kSme2F16F16;
    }
    return path;
  }

  size_t lda() const { return lda_ != 0 ? lda_ : k_; }
  size_t ldb() const { return ldb_ != 0 ? ldb_ : (layout_ == RhsLayout::kKxN ? n_ : k_); }
  size_t c_rows() const { return transposed_ ? n_ : m_; }
  size_t c_cols() const { return transposed_ ? m_ : n_; }
  size_t ldc() const { return ldc_ != 0 ? ldc_ : c_cols(); }

  size_t m_ = 1, n_ = 1, k_ = 1;
  size_t lda_ = 0, ldb_ = 0, ldc_ = 0;
  RhsLayout layout_ = RhsLayout::kKxN;
  bool bias_ = true;
  bool f16_bias_ = false;
  Clamp clamp_;
  Activation activation_ = Activation::kNone;
  bool affine_ = false;
  bool transposed_ = false;
  uint64_t seed_ = 1;
  GuardSide side_ = GuardSide::kEnd;
  std::vector<float> a_fill_, b_fill_;
};

/// The M and N sizes worth testing around a tile of `step` (a kernel's m_step or n_step):
/// 1, step/2 - 1, step/2, step/2 + 1, step - 1, step, step + 1, 2 step + 1. For the SME2
/// kernels step = 2VL, so these are 1, VL-1, VL, VL+1, 2VL-1, 2VL, 2VL+1, 4VL+1.
inline std::vector<size_t> sizes_around(size_t step) {
  std::vector<size_t> sizes;
  for (size_t s :
       {size_t{1}, step / 2 - 1, step / 2, step / 2 + 1, step - 1, step, step + 1, 2 * step + 1}) {
    if (s >= 1 && (sizes.empty() || s > sizes.back())) sizes.push_back(s);
  }
  return sizes;
}

}  // namespace test
}  // namespace sme2k
