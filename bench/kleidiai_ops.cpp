// KleidiAI's SME2 kernels behind kleidiai_ops.hpp: which packing routine feeds which kernel
// is what each kernel's header lists as its dependencies (KleidiAI 1.8.0, Debian trixie).
#include "kleidiai_ops.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "bench_support.hpp"
#include "reference/conv2d.hpp"
#include "reference/gemm.hpp"
#include "reference/quantized_gemm.hpp"
#include "sme2k/sme2k.hpp"

extern "C" {
#include "kai/kai_common.h"
#include "kai/ukernels/matmul/imatmul_clamp_f16_f16p_f16p/kai_imatmul_clamp_f16_f16p2vlx2_f16p2vlx2_2vlx2vl_sme2_mopa.h"
#include "kai/ukernels/matmul/imatmul_clamp_qai8_qai8p_qsi8cxp/kai_imatmul_clamp_qai8_qai8p2vlx4_qsi8cxpsb2vlx4_2vlx2vl_sme2_mopa.h"
#include "kai/ukernels/matmul/matmul_clamp_f16_f16_f16p/kai_matmul_clamp_f16_f16_f16p2vlx2b_1x16vl_sme2_dot.h"
#include "kai/ukernels/matmul/matmul_clamp_f16_f16p_f16p/kai_matmul_clamp_f16_f16p2vlx2_f16p2vlx2_2vlx2vl_sme2_mopa.h"
#include "kai/ukernels/matmul/matmul_clamp_f32_f32_f32p/kai_matmul_clamp_f32_f32_f32p16vlx1b_1x16vl_sme2_mla.h"
#include "kai/ukernels/matmul/matmul_clamp_f32_f32p_f32p/kai_matmul_clamp_f32_f32p2vlx1_f32p2vlx1biasf32_sme2_mopa.h"
#include "kai/ukernels/matmul/matmul_clamp_f32_qai8dxp_qsi4cxp/kai_matmul_clamp_f32_qai8dxp1vlx8_qsi4cxp4vlx8_1vlx4vl_sme2_mopa.h"
#include "kai/ukernels/matmul/matmul_clamp_f32_qai8dxp_qsi4cxp/kai_matmul_clamp_f32_qai8dxp1x4_qsi4cxp4vlx4_1x4vl_sme2_sdot.h"
#include "kai/ukernels/matmul/matmul_clamp_f32_qsi8d32p_qsi4c32p/kai_matmul_clamp_f32_qsi8d32p1vlx4_qsi4c32p4vlx4_1vlx4vl_sme2_mopa.h"
#include "kai/ukernels/matmul/matmul_clamp_f32_qsi8d32p_qsi4c32p/kai_matmul_clamp_f32_qsi8d32p1x4_qsi4c32p4vlx4_1x4vl_sme2_sdot.h"
#include "kai/ukernels/matmul/matmul_clamp_qai8_qai8_qsi8cxp/kai_matmul_clamp_qai8_qai8_qsi8cxp2vlx4sb_1x16vl_sme2_dot.h"
#include "kai/ukernels/matmul/matmul_clamp_qai8_qai8p_qsi8cxp/kai_matmul_clamp_qai8_qai8p2vlx4_qsi8cxpsb2vlx4_2vlx2vl_sme2_mopa.h"
#include "kai/ukernels/matmul/pack/kai_lhs_imatmul_pack_x16p2vlx2_x16p_sme.h"
#include "kai/ukernels/matmul/pack/kai_lhs_imatmul_pack_x8p2vlx4_x8p_sme.h"
#include "kai/ukernels/matmul/pack/kai_lhs_pack_f32p2vlx1_f32_sme.h"
#include "kai/ukernels/matmul/pack/kai_lhs_pack_x16p2vlx2_x16_sme.h"
#include "kai/ukernels/matmul/pack/kai_lhs_pack_x8p2vlx4_x8_sme.h"
#include "kai/ukernels/matmul/pack/kai_lhs_quant_pack_qai8dxp_f32.h"
#include "kai/ukernels/matmul/pack/kai_lhs_quant_pack_qsi8d32p_f32_neon.h"
#include "kai/ukernels/matmul/pack/kai_rhs_imatmul_pack_kxn_qsi8cxp2vlx4sb_qs8cx_f32_i32_sme.h"
#include "kai/ukernels/matmul/pack/kai_rhs_imatmul_pack_kxn_x16p2vlx2b_x16_x16_sme.h"
#include "kai/ukernels/matmul/pack/kai_rhs_pack_kxn_f32p16vlx1b_f32_f32_sme.h"
#include "kai/ukernels/matmul/pack/kai_rhs_pack_kxn_f32p2vlx1biasf32_f32_f32_sme.h"
#include "kai/ukernels/matmul/pack/kai_rhs_pack_kxn_qsi8cxp2vlx4sb_qs8cx_f32_i32_sme.h"
#include "kai/ukernels/matmul/pack/kai_rhs_pack_kxn_x16p2vlx2b_x16_x16_sme.h"
#include "kai/ukernels/matmul/pack/kai_rhs_pack_nxk_qsi4c32ps1s0scalef16_qsu4c32s16s0_neon.h"
#include "kai/ukernels/matmul/pack/kai_rhs_pack_nxk_qsi4cxps1s0_qsu4cxs1s0_neon.h"
}

namespace sme2k_kleidiai {
namespace {

using sme2k_bench::random_values;
using Bytes = std::vector<unsigned char>;

constexpr size_t kSamples = 64;  // outputs checked per op (spread over rows and columns)

/// The (i, j) of sample t in an M x N output.
inline void sample(size_t t, size_t m, size_t n, size_t* i, size_t* j) {
  *i = (t * 7919) % m;
  *j = (t * 104729 + t / 3) % n;
}

std::string mismatch(const char* what, size_t i, size_t j, double got, double want, double bound) {
  char text[160];
  std::snprintf(text, sizeof text, "%s: C[%zu][%zu] = %.9g, want %.9g (bound %.3g)", what, i, j,
                got, want, bound);
  return text;
}

std::vector<sme2k::f16> to_f16(std::vector<float>* values) {
  std::vector<sme2k::f16> h(values->size());
  for (size_t i = 0; i < h.size(); ++i) {
    h[i] = sme2k::to_f16((*values)[i]);
    (*values)[i] = sme2k::to_f32(h[i]);  // the reference sees the rounded values
  }
  return h;
}

/// int8 values of a hash, in [lo, hi].
std::vector<int8_t> random_int8(size_t count, uint32_t seed, int lo, int hi) {
  const std::vector<float> u = random_values(count, seed);
  std::vector<int8_t> q(count);
  for (size_t i = 0; i < count; ++i) {
    q[i] = static_cast<int8_t>(
        lo + static_cast<int>((u[i] + 1.0f) * 0.5f * (static_cast<float>(hi - lo) + 0.999f)));
  }
  return q;
}

// ---------------------------------------------------------------------------- float GEMM

/// f32 and f16 GEMM: the reference is the f32 one of test/reference/gemm.hpp on the same
/// (rounded) values; the bound is its f32 accumulation bound, plus rounding to f16 for f16.
template <class T>
class FloatGemm : public Op {
 public:
  FloatGemm(size_t m, size_t n, size_t k)
      : m_(m),
        n_(n),
        k_(k),
        a_ref_(random_values(m * k, 1)),
        b_ref_(random_values(k * n, 2)),
        bias_ref_(random_values(n, 3)),
        c_(m * n) {
    if constexpr (std::is_same_v<T, float>) {
      a_ = a_ref_, b_ = b_ref_, bias_ = bias_ref_;
    } else {
      a_ = to_f16(&a_ref_), b_ = to_f16(&b_ref_), bias_ = to_f16(&bias_ref_);
    }
  }

  std::string check() const override {
    sme2k::reference::GemmF32Problem p;
    p.m = m_, p.n = n_, p.k = k_;
    p.a = a_ref_.data(), p.lda = k_;
    p.b = b_ref_.data(), p.ldb = n_, p.b_layout = sme2k::RhsLayout::kKxN;
    p.bias = bias_ref_.data();
    for (size_t t = 0; t < kSamples; ++t) {
      size_t i, j;
      sample(t, m_, n_, &i, &j);
      double magnitude = 0;
      const double want = sme2k::reference::gemm_f32_at(p, i, j, &magnitude);
      double bound = sme2k::reference::f32_gemm_error_bound(k_, magnitude);
      if (!std::is_same_v<T, float>) bound = sme2k::reference::f16_rounding_bound(want, bound);
      const double got = sme2k::to_f32(c_[i * n_ + j]);
      if (!(std::fabs(got - want) <= bound)) return mismatch(kernel(), i, j, got, want, bound);
    }
    return "";
  }

 protected:
  size_t m_, n_, k_;
  std::vector<float> a_ref_, b_ref_, bias_ref_;
  std::vector<T> a_, b_, bias_, c_;
  Bytes rhs_packed_, lhs_packed_;
};

class F32Gemm final : public FloatGemm<float> {
 public:
  F32Gemm(size_t m, size_t n, size_t k) : FloatGemm(m, n, k) {
    mr_ = kai_get_mr_matmul_clamp_f32_f32p2vlx1_f32p2vlx1biasf32_sme2_mopa();
    kr_ = kai_get_kr_matmul_clamp_f32_f32p2vlx1_f32p2vlx1biasf32_sme2_mopa();
    sr_ = kai_get_sr_matmul_clamp_f32_f32p2vlx1_f32p2vlx1biasf32_sme2_mopa();
    const size_t nr = kai_get_nr_matmul_clamp_f32_f32p2vlx1_f32p2vlx1biasf32_sme2_mopa();
    rhs_packed_.resize(kai_get_rhs_packed_size_rhs_pack_kxn_f32p2vlx1biasf32_f32_f32_sme(n, k));
    kai_run_rhs_pack_kxn_f32p2vlx1biasf32_f32_f32_sme(1, n, k, nr, kr_, sr_, n * sizeof(float),
                                                      b_.data(), bias_.data(), nullptr,
                                                      rhs_packed_.data(), 0, nullptr);
    lhs_packed_.resize(kai_get_lhs_packed_size_lhs_pack_f32p2vlx1_f32_sme(m, k, mr_, kr_, sr_));
  }
  void run() override {
    kai_run_lhs_pack_f32p2vlx1_f32_sme(m_, k_, mr_, kr_, sr_, 0, a_.data(), k_ * sizeof(float),
                                       lhs_packed_.data());
    kai_run_matmul_clamp_f32_f32p2vlx1_f32p2vlx1biasf32_sme2_mopa(
        m_, n_, k_, lhs_packed_.data(), rhs_packed_.data(), c_.data(), n_ * sizeof(float),
        sizeof(float), -FLT_MAX, FLT_MAX);
  }
  const char* kernel() const override {
    return "kai_matmul_clamp_f32_f32p2vlx1_f32p2vlx1biasf32_sme2_mopa";
  }

 private:
  size_t mr_, kr_, sr_;
};

class F32Gemv final : public FloatGemm<float> {
 public:
  F32Gemv(size_t m, size_t n, size_t k) : FloatGemm(m, n, k) {
    rhs_packed_.resize(kai_get_rhs_packed_size_rhs_pack_kxn_f32p16vlx1b_f32_f32_sme(n, k));
    kai_run_rhs_pack_kxn_f32p16vlx1b_f32_f32_sme(
        1, n, k, kai_get_nr_matmul_clamp_f32_f32_f32p16vlx1b_1x16vl_sme2_mla(),
        kai_get_kr_matmul_clamp_f32_f32_f32p16vlx1b_1x16vl_sme2_mla(),
        kai_get_sr_matmul_clamp_f32_f32_f32p16vlx1b_1x16vl_sme2_mla(), n * sizeof(float), b_.data(),
        bias_.data(), nullptr, rhs_packed_.data(), 0, nullptr);
  }
  void run() override {
    kai_run_matmul_clamp_f32_f32_f32p16vlx1b_1x16vl_sme2_mla(
        m_, n_, k_, a_.data(), k_ * sizeof(float), rhs_packed_.data(), c_.data(),
        n_ * sizeof(float), sizeof(float), -FLT_MAX, FLT_MAX);
  }
  const char* kernel() const override {
    return "kai_matmul_clamp_f32_f32_f32p16vlx1b_1x16vl_sme2_mla";
  }
};

class F16Gemm final : public FloatGemm<sme2k::f16> {
 public:
  F16Gemm(size_t m, size_t n, size_t k) : FloatGemm(m, n, k) {
    mr_ = kai_get_mr_matmul_clamp_f16_f16p2vlx2_f16p2vlx2_2vlx2vl_sme2_mopa();
    kr_ = kai_get_kr_matmul_clamp_f16_f16p2vlx2_f16p2vlx2_2vlx2vl_sme2_mopa();
    sr_ = kai_get_sr_matmul_clamp_f16_f16p2vlx2_f16p2vlx2_2vlx2vl_sme2_mopa();
    const size_t nr = kai_get_nr_matmul_clamp_f16_f16p2vlx2_f16p2vlx2_2vlx2vl_sme2_mopa();
    rhs_packed_.resize(kai_get_rhs_packed_size_rhs_pack_kxn_x16p2vlx2b_x16_x16_sme(n, k));
    kai_run_rhs_pack_kxn_x16p2vlx2b_x16_x16_sme(1, n, k, nr, kr_, sr_, n * 2, b_.data(),
                                                bias_.data(), nullptr, rhs_packed_.data(), 0,
                                                nullptr);
    lhs_packed_.resize(kai_get_lhs_packed_size_lhs_pack_x16p2vlx2_x16_sme(m, k, mr_, kr_, sr_));
  }
  void run() override {
    kai_run_lhs_pack_x16p2vlx2_x16_sme(m_, k_, mr_, kr_, sr_, 0, a_.data(), k_ * 2,
                                       lhs_packed_.data());
    kai_run_matmul_clamp_f16_f16p2vlx2_f16p2vlx2_2vlx2vl_sme2_mopa(m_, n_, k_, lhs_packed_.data(),
                                                                   rhs_packed_.data(), c_.data(),
                                                                   n_ * 2, 2, -65504.0f, 65504.0f);
  }
  const char* kernel() const override {
    return "kai_matmul_clamp_f16_f16p2vlx2_f16p2vlx2_2vlx2vl_sme2_mopa";
  }

 private:
  size_t mr_, kr_, sr_;
};

class F16Gemv final : public FloatGemm<sme2k::f16> {
 public:
  F16Gemv(size_t m, size_t n, size_t k) : FloatGemm(m, n, k) {
    rhs_packed_.resize(kai_get_rhs_packed_size_rhs_pack_kxn_x16p2vlx2b_x16_x16_sme(n, k));
    kai_run_rhs_pack_kxn_x16p2vlx2b_x16_x16_sme(
        1, n, k, kai_get_nr_matmul_clamp_f16_f16_f16p2vlx2b_1x16vl_sme2_dot(),
        kai_get_kr_matmul_clamp_f16_f16_f16p2vlx2b_1x16vl_sme2_dot(),
        kai_get_sr_matmul_clamp_f16_f16_f16p2vlx2b_1x16vl_sme2_dot(), n * 2, b_.data(),
        bias_.data(), nullptr, rhs_packed_.data(), 0, nullptr);
  }
  void run() override {
    kai_run_matmul_clamp_f16_f16_f16p2vlx2b_1x16vl_sme2_dot(m_, n_, k_, a_.data(), k_ * 2,
                                                            rhs_packed_.data(), c_.data(), n_ * 2,
                                                            2, -65504.0f, 65504.0f);
  }
  const char* kernel() const override {
    return "kai_matmul_clamp_f16_f16_f16p2vlx2b_1x16vl_sme2_dot";
  }
};

// ---------------------------------------------------------------------------- QS8 GEMM

/// QS8 (int8 activations with one scale and zero point, QC8W weights, int8 out). The
/// reference is test/reference/quantized_gemm.hpp's qs8_at (exact int32 sum, requantized in
/// f32 with the scale in_scale * w_scale / out_scale): KleidiAI folds the scales and the
/// zero-point correction at packing time and rounds its own way, so 1 LSB apart is allowed.
class Qs8Gemm final : public Op {
 public:
  Qs8Gemm(size_t m, size_t n, size_t k)
      : m_(m),
        n_(n),
        k_(k),
        a_(random_int8(m * k, 1, -128, 127)),
        b_(random_int8(k * n, 2, -127, 127)),
        bias_(n),
        w_scales_(n),
        c_(m * n) {
    const std::vector<float> r = random_values(2 * n, 3);
    for (size_t j = 0; j < n; ++j) {
      bias_[j] = static_cast<int32_t>(r[j] * 20000.0f);
      w_scales_[j] = 0.004f * (1.5f + r[n + j]);
    }
    // About sqrt(K) x 127 x 127 x in_scale x w_scale spans the int8 output range.
    out_scale_ = static_cast<float>(in_scale_ * 0.006 * 127.0 * 127.0 * std::sqrt(double(k)) / 160);
    gemv_ = m == 1;
    const size_t nr =
        gemv_ ? kai_get_nr_matmul_clamp_qai8_qai8_qsi8cxp2vlx4sb_1x16vl_sme2_dot()
              : kai_get_nr_matmul_clamp_qai8_qai8p2vlx4_qsi8cxpsb2vlx4_2vlx2vl_sme2_mopa();
    const size_t kr =
        gemv_ ? kai_get_kr_matmul_clamp_qai8_qai8_qsi8cxp2vlx4sb_1x16vl_sme2_dot()
              : kai_get_kr_matmul_clamp_qai8_qai8p2vlx4_qsi8cxpsb2vlx4_2vlx2vl_sme2_mopa();
    const size_t sr =
        gemv_ ? kai_get_sr_matmul_clamp_qai8_qai8_qsi8cxp2vlx4sb_1x16vl_sme2_dot()
              : kai_get_sr_matmul_clamp_qai8_qai8p2vlx4_qsi8cxpsb2vlx4_2vlx2vl_sme2_mopa();
    kai_rhs_pack_qsi8cx_params params{};
    params.lhs_zero_point = in_zero_point_;
    params.scale_multiplier = in_scale_ / out_scale_;
    rhs_packed_.resize(kai_get_rhs_packed_size_rhs_pack_kxn_qsi8cxp2vlx4sb_qs8cx_f32_i32_sme(n, k));
    kai_run_rhs_pack_kxn_qsi8cxp2vlx4sb_qs8cx_f32_i32_sme(1, n, k, nr, kr, sr, n, b_.data(),
                                                          bias_.data(), w_scales_.data(),
                                                          rhs_packed_.data(), 0, &params);
    requant_.min_value = -128;
    requant_.max_value = 127;
    requant_.output_zero_point = out_zero_point_;
    if (!gemv_) {
      mr_ = kai_get_mr_matmul_clamp_qai8_qai8p2vlx4_qsi8cxpsb2vlx4_2vlx2vl_sme2_mopa();
      kr_ = kr, sr_ = sr;
      lhs_packed_.resize(kai_get_lhs_packed_size_lhs_pack_x8p2vlx4_x8_sme(m, k, mr_, kr_, sr_));
    }
  }
  void run() override {
    if (gemv_) {
      kai_run_matmul_clamp_qai8_qai8_qsi8cxp2vlx4sb_1x16vl_sme2_dot(
          m_, n_, k_, a_.data(), rhs_packed_.data(), c_.data(), n_, 1, &requant_);
      return;
    }
    kai_run_lhs_pack_x8p2vlx4_x8_sme(m_, k_, mr_, kr_, sr_, 0, a_.data(), k_, lhs_packed_.data());
    kai_run_matmul_clamp_qai8_qai8p2vlx4_qsi8cxpsb2vlx4_2vlx2vl_sme2_mopa(
        m_, n_, k_, lhs_packed_.data(), rhs_packed_.data(), c_.data(), n_, 1, &requant_);
  }
  std::string check() const override {
    sme2k::reference::Qs8GemmProblem p;
    p.m = m_, p.n = n_, p.k = k_;
    p.a = a_.data(), p.lda = k_, p.b = b_.data(), p.ldb = n_;
    p.b_layout = sme2k::RhsLayout::kKxN;
    p.bias = bias_.data();
    p.in_scale = in_scale_, p.out_scale = out_scale_;
    p.in_zero_point = in_zero_point_, p.out_zero_point = out_zero_point_;
    p.w_scales = w_scales_.data();
    int saturated = 0;
    for (size_t t = 0; t < kSamples; ++t) {
      size_t i, j;
      sample(t, m_, n_, &i, &j);
      const int want = sme2k::reference::qs8_at(p, i, j), got = c_[i * n_ + j];
      saturated += want == -128 || want == 127;
      if (std::abs(got - want) > 1) return mismatch(kernel(), i, j, got, want, 1);
    }
    if (saturated > static_cast<int>(kSamples) / 4) return "qs8: the test data saturate";
    return "";
  }
  const char* kernel() const override {
    return gemv_ ? "kai_matmul_clamp_qai8_qai8_qsi8cxp2vlx4sb_1x16vl_sme2_dot"
                 : "kai_matmul_clamp_qai8_qai8p2vlx4_qsi8cxpsb2vlx4_2vlx2vl_sme2_mopa";
  }

 private:
  size_t m_, n_, k_;
  std::vector<int8_t> a_, b_;
  std::vector<int32_t> bias_;
  std::vector<float> w_scales_;
  std::vector<int8_t> c_;
  float in_scale_ = 0.02f, out_scale_ = 1;
  int32_t in_zero_point_ = 3, out_zero_point_ = -5;
  bool gemv_ = false;
  size_t mr_ = 0, kr_ = 0, sr_ = 0;
  kai_matmul_requantize32_params requant_{};
  Bytes rhs_packed_, lhs_packed_;
};

// ---------------------------------------------------------------------------- QD8 x 4-bit

/// f32 activations quantized per inference inside KleidiAI's LHS packing (QC4W: asymmetric
/// int8 per row, qai8dx; QB4W: symmetric int8 per block of 32, qsi8d32), 4-bit weights with
/// one f32 scale per output channel (QC4W) or one f16 scale per 32 k (QB4W, no bias: its
/// RHS packing refuses one, as llama.cpp's Q4_0 layers have none), f32 out.
/// Reference: the exact sum of the unquantized activations times the dequantized weights, in
/// double. Bound: rounding an activation to its int8 grid moves it by at most half a step,
/// so |error| <= sum_k (step(k) / 2) |w(j, k)|, step = the row's (QC4W: (max - min) / 255)
/// or the block's (QB4W: max |x| / 127) scale; plus 2^-20 of the magnitude for the f32
/// arithmetic (K <= 8192 terms in f32: gamma_K < 2^-11 of each partial sum's magnitude, of
/// which the int32 dot products are exact; the per-block/row scalings are a few roundings).
class Qd8Int4Gemm final : public Op {
 public:
  Qd8Int4Gemm(size_t m, size_t n, size_t k, bool blocked)
      : m_(m),
        n_(n),
        k_(k),
        blocked_(blocked),
        a_(random_values(m * k, 1)),
        w_(random_int8(n * k, 2, -8, 7)),
        bias_(random_values(n, 3)),
        c_(m * n) {
    const std::vector<float> r = random_values(n * (k / kBlock), 4);
    scales_.resize(blocked ? n * (k / kBlock) : n);
    for (size_t i = 0; i < scales_.size(); ++i) {
      // f16-exact scales, so the reference needs no model of their rounding.
      scales_[i] = sme2k::to_f32(sme2k::to_f16(0.02f * (1.5f + r[i])));
    }
    gemv_ = m == 1;
    if (blocked) {
      std::fill(bias_.begin(), bias_.end(), 0.0f);  // its RHS packing takes no bias
      pack_qb4w();
    } else {
      pack_qc4w();
    }
  }

  void run() override {
    if (blocked_) {
      kai_run_lhs_quant_pack_qsi8d32p_f32_neon(m_, k_, kBlock, mr_, kr_, sr_, 0, a_.data(),
                                               k_ * sizeof(float), lhs_packed_.data());
      if (gemv_) {
        kai_run_matmul_clamp_f32_qsi8d32p1x4_qsi4c32p4vlx4_1x4vl_sme2_sdot(
            m_, n_, k_, kBlock, lhs_packed_.data(), rhs_packed_.data(), c_.data(),
            n_ * sizeof(float), sizeof(float), -FLT_MAX, FLT_MAX);
      } else {
        kai_run_matmul_clamp_f32_qsi8d32p1vlx4_qsi4c32p4vlx4_1vlx4vl_sme2_mopa(
            m_, n_, k_, kBlock, lhs_packed_.data(), rhs_packed_.data(), c_.data(),
            n_ * sizeof(float), sizeof(float), -FLT_MAX, FLT_MAX);
      }
      return;
    }
    kai_run_lhs_quant_pack_qai8dxp_f32(m_, k_, mr_, kr_, sr_, 0, a_.data(), k_ * sizeof(float),
                                       lhs_packed_.data());
    if (gemv_) {
      kai_run_matmul_clamp_f32_qai8dxp1x4_qsi4cxp4vlx4_1x4vl_sme2_sdot(
          m_, n_, k_, lhs_packed_.data(), rhs_packed_.data(), c_.data(), n_ * sizeof(float),
          sizeof(float), -FLT_MAX, FLT_MAX);
    } else {
      kai_run_matmul_clamp_f32_qai8dxp1vlx8_qsi4cxp4vlx8_1vlx4vl_sme2_mopa(
          m_, n_, k_, lhs_packed_.data(), rhs_packed_.data(), c_.data(), n_ * sizeof(float),
          sizeof(float), -FLT_MAX, FLT_MAX);
    }
  }

  std::string check() const override {
    for (size_t t = 0; t < kSamples; ++t) {
      size_t i, j;
      sample(t, m_, n_, &i, &j);
      const float* x = &a_[i * k_];
      double want = bias_[j], magnitude = std::fabs(bias_[j]), bound = 0;
      double row_step = 0;
      if (!blocked_) {
        float lo = 0, hi = 0;
        for (size_t kk = 0; kk < k_; ++kk) lo = std::fmin(lo, x[kk]), hi = std::fmax(hi, x[kk]);
        row_step = (static_cast<double>(hi) - lo) / 255.0;
      }
      for (size_t k0 = 0; k0 < k_; k0 += kBlock) {
        double step = row_step, block_w = 0;
        if (blocked_) {
          double amax = 0;
          for (size_t kk = k0; kk < k0 + kBlock; ++kk) amax = std::fmax(amax, std::fabs(x[kk]));
          step = amax / 127.0;
        }
        for (size_t kk = k0; kk < k0 + kBlock; ++kk) {
          const double w = weight(j, kk);
          want += static_cast<double>(x[kk]) * w;
          magnitude += std::fabs(x[kk] * w);
          block_w += std::fabs(w);
        }
        bound += step / 2 * block_w;
      }
      bound = bound * (1 + 0x1p-10) + std::ldexp(magnitude, -20) + 1e-30;
      const double got = c_[i * n_ + j];
      if (!(std::fabs(got - want) <= bound)) return mismatch(kernel(), i, j, got, want, bound);
    }
    return "";
  }

  const char* kernel() const override {
    if (blocked_) {
      return gemv_ ? "kai_matmul_clamp_f32_qsi8d32p1x4_qsi4c32p4vlx4_1x4vl_sme2_sdot"
                   : "kai_matmul_clamp_f32_qsi8d32p1vlx4_qsi4c32p4vlx4_1vlx4vl_sme2_mopa";
    }
    return gemv_ ? "kai_matmul_clamp_f32_qai8dxp1x4_qsi4cxp4vlx4_1x4vl_sme2_sdot"
                 : "kai_matmul_clamp_f32_qai8dxp1vlx8_qsi4cxp4vlx8_1vlx4vl_sme2_mopa";
  }

  static constexpr size_t kBlock = 32;  // QB4W block (Q4_0's); QC4W checks per 32 k too

 private:
  double weight(size_t j, size_t kk) const {
    const float s = blocked_ ? scales_[j * (k_ / kBlock) + kk / kBlock] : scales_[j];
    return static_cast<double>(w_[j * k_ + kk]) * s;
  }

  // QC4W: N x K nibbles, two k per byte (low nibble first), unsigned with zero point 8.
  void pack_qc4w() {
    std::vector<uint8_t> nibbles(n_ * k_ / 2);
    for (size_t j = 0; j < n_; ++j) {
      for (size_t kk = 0; kk < k_; kk += 2) {
        nibbles[(j * k_ + kk) / 2] =
            static_cast<uint8_t>((w_[j * k_ + kk] + 8) | ((w_[j * k_ + kk + 1] + 8) << 4));
      }
    }
    if (gemv_) {
      mr_ = kai_get_mr_matmul_clamp_f32_qai8dxp1x4_qsi4cxp4vlx4_1x4vl_sme2_sdot();
      nr_ = kai_get_nr_matmul_clamp_f32_qai8dxp1x4_qsi4cxp4vlx4_1x4vl_sme2_sdot();
      kr_ = kai_get_kr_matmul_clamp_f32_qai8dxp1x4_qsi4cxp4vlx4_1x4vl_sme2_sdot();
      sr_ = kai_get_sr_matmul_clamp_f32_qai8dxp1x4_qsi4cxp4vlx4_1x4vl_sme2_sdot();
    } else {
      mr_ = kai_get_mr_matmul_clamp_f32_qai8dxp1vlx8_qsi4cxp4vlx8_1vlx4vl_sme2_mopa();
      nr_ = kai_get_nr_matmul_clamp_f32_qai8dxp1vlx8_qsi4cxp4vlx8_1vlx4vl_sme2_mopa();
      kr_ = kai_get_kr_matmul_clamp_f32_qai8dxp1vlx8_qsi4cxp4vlx8_1vlx4vl_sme2_mopa();
      sr_ = kai_get_sr_matmul_clamp_f32_qai8dxp1vlx8_qsi4cxp4vlx8_1vlx4vl_sme2_mopa();
    }
    kai_rhs_pack_qs4cxs1s0_param params{};
    params.lhs_zero_point = 1;
    params.rhs_zero_point = 8;
    rhs_packed_.resize(
        kai_get_rhs_packed_size_rhs_pack_nxk_qsi4cxps1s0_qsu4cxs1s0_neon(n_, k_, nr_, kr_, sr_));
    kai_run_rhs_pack_nxk_qsi4cxps1s0_qsu4cxs1s0_neon(1, n_, k_, nr_, kr_, sr_, nibbles.data(),
                                                     bias_.data(), scales_.data(),
                                                     rhs_packed_.data(), 0, &params);
    lhs_packed_.resize(kai_get_lhs_packed_size_lhs_quant_pack_qai8dxp_f32(m_, k_, mr_, kr_, sr_));
  }

  // QB4W: per row of N, K / 32 blocks of ggml's Q4_0 layout: the block's f16 scale, then 16
  // bytes (byte b: k = b in the low nibble, b + 16 in the high one; unsigned, zero point 8).
  void pack_qb4w() {
    const size_t blocks = k_ / kBlock, row_bytes = blocks * (kBlock / 2 + 2);
    std::vector<uint8_t> rows(n_ * row_bytes);
    for (size_t j = 0; j < n_; ++j) {
      for (size_t b = 0; b < blocks; ++b) {
        uint8_t* block = &rows[j * row_bytes + b * (kBlock / 2 + 2)];
        const uint16_t bits = sme2k::to_f16(scales_[j * blocks + b]).bits;
        block[0] = static_cast<uint8_t>(bits & 0xff);
        block[1] = static_cast<uint8_t>(bits >> 8);
        const int8_t* w = &w_[j * k_ + b * kBlock];
        for (size_t t = 0; t < kBlock / 2; ++t) {
          block[2 + t] = static_cast<uint8_t>((w[t] + 8) | ((w[t + kBlock / 2] + 8) << 4));
        }
      }
    }
    if (gemv_) {
      mr_ = kai_get_mr_matmul_clamp_f32_qsi8d32p1x4_qsi4c32p4vlx4_1x4vl_sme2_sdot();
      nr_ = kai_get_nr_matmul_clamp_f32_qsi8d32p1x4_qsi4c32p4vlx4_1x4vl_sme2_sdot();
      kr_ = kai_get_kr_matmul_clamp_f32_qsi8d32p1x4_qsi4c32p4vlx4_1x4vl_sme2_sdot();
      sr_ = kai_get_sr_matmul_clamp_f32_qsi8d32p1x4_qsi4c32p4vlx4_1x4vl_sme2_sdot();
    } else {
      mr_ = kai_get_mr_matmul_clamp_f32_qsi8d32p1vlx4_qsi4c32p4vlx4_1vlx4vl_sme2_mopa();
      nr_ = kai_get_nr_matmul_clamp_f32_qsi8d32p1vlx4_qsi4c32p4vlx4_1vlx4vl_sme2_mopa();
      kr_ = kai_get_kr_matmul_clamp_f32_qsi8d32p1vlx4_qsi4c32p4vlx4_1vlx4vl_sme2_mopa();
      sr_ = kai_get_sr_matmul_clamp_f32_qsi8d32p1vlx4_qsi4c32p4vlx4_1vlx4vl_sme2_mopa();
    }
    kai_rhs_pack_qs4cxs1s0_param params{};
    params.lhs_zero_point = 1;
    params.rhs_zero_point = 8;
    rhs_packed_.resize(kai_get_rhs_packed_size_rhs_pack_nxk_qsi4c32ps1s0scalef16_qsu4c32s16s0_neon(
        n_, k_, nr_, kr_, kBlock));
    kai_run_rhs_pack_nxk_qsi4c32ps1s0scalef16_qsu4c32s16s0_neon(
        1, n_, k_, nr_, kr_, sr_, kBlock, rows.data(), nullptr, rhs_packed_.data(), 0, &params);
    lhs_packed_.resize(
        kai_get_lhs_packed_size_lhs_quant_pack_qsi8d32p_f32_neon(m_, k_, kBlock, mr_, kr_, sr_));
  }

  size_t m_, n_, k_;
  bool blocked_, gemv_ = false;
  std::vector<float> a_;
  std::vector<int8_t> w_;  // N x K values in [-8, 7]
  std::vector<float> bias_, scales_, c_;
  size_t mr_ = 0, nr_ = 0, kr_ = 0, sr_ = 0;
  Bytes rhs_packed_, lhs_packed_;
};

// ---------------------------------------------------------------------------- conv2d

/// The imatmul LHS indirection table of a K x K, stride 1, "same" conv over an NHWC input:
/// output pixel p (a GEMM row) reads, for tap t (a K chunk of Cin values), the input pixel
/// under that tap or the padding chunk. KleidiAI's layout: blocks of m_step rows; in a block,
/// for each chunk, m_step pointers (rows past M point at the padding chunk).
std::vector<const void*> indirection(const void* input, size_t element, const void* pad,
                                     size_t kernel, size_t cin, size_t hw, size_t m_step) {
  const size_t m = hw * hw, chunks = kernel * kernel, blocks = (m + m_step - 1) / m_step;
  const auto base = static_cast<const unsigned char*>(input);
  const long half = static_cast<long>(kernel / 2);
  std::vector<const void*> table(blocks * chunks * m_step, pad);
  for (size_t row = 0; row < m; ++row) {
    const long oy = static_cast<long>(row / hw), ox = static_cast<long>(row % hw);
    for (size_t t = 0; t < chunks; ++t) {
      const long iy = oy + static_cast<long>(t / kernel) - half;
      const long ix = ox + static_cast<long>(t % kernel) - half;
      const size_t index = ((row / m_step) * chunks + t) * m_step + row % m_step;
      const long side = static_cast<long>(hw);
      if (iy >= 0 && iy < side && ix >= 0 && ix < side) {
        table[index] = base + (static_cast<size_t>(iy * side + ix) * cin) * element;
      }
    }
  }
  return table;
}

/// Conv2d problem data: input NHWC (H = W = hw), weights HWIO (the KxN matrix the imatmul
/// RHS packing takes: row (ky, kx, ci), column co), bias; the output NHWC.
struct ConvShape {
  size_t kernel, cin, cout, hw;
  size_t m() const { return hw * hw; }
  size_t depth() const { return kernel * kernel * cin; }
};

/// F16: the reference is the exact sum in double of the rounded f16 values; bound: the f32
/// accumulation bound of test/reference/gemm.hpp over the depth, then rounding to f16.
class F16Conv final : public Op {
 public:
  explicit F16Conv(const ConvShape& s)
      : s_(s),
        in_ref_(random_values(s.m() * s.cin, 11)),
        w_ref_(random_values(s.depth() * s.cout, 12)),
        bias_ref_(random_values(s.cout, 13)),
        pad_(s.cin),
        out_(s.m() * s.cout) {
    in_ = to_f16(&in_ref_), w_ = to_f16(&w_ref_), bias_ = to_f16(&bias_ref_);
    const size_t chunks = s.kernel * s.kernel;
    rhs_packed_.resize(
        kai_get_rhs_packed_size_rhs_imatmul_pack_kxn_x16p2vlx2b_x16_x16_sme(s.cout, chunks, s.cin));
    kai_run_rhs_imatmul_pack_kxn_x16p2vlx2b_x16_x16_sme(
        s.cout, chunks, s.cin, s.cout * 2, w_.data(), bias_.data(), rhs_packed_.data());
    table_ = indirection(in_.data(), 2, pad_.data(), s.kernel, s.cin, s.hw,
                         kai_get_m_step_lhs_imatmul_pack_x16p2vlx2_x16p_sme());
    lhs_packed_.resize(
        kai_get_lhs_packed_size_lhs_imatmul_pack_x16p2vlx2_x16p_sme(s.m(), chunks, s.cin));
  }
  void run() override {
    const size_t chunks = s_.kernel * s_.kernel;
    kai_run_lhs_imatmul_pack_x16p2vlx2_x16p_sme(s_.m(), chunks, s_.cin, table_.data(), 0,
                                                pad_.data(), lhs_packed_.data());
    kai_run_imatmul_clamp_f16_f16p2vlx2_f16p2vlx2_2vlx2vl_sme2_mopa(
        s_.m(), s_.cout, chunks, s_.cin, lhs_packed_.data(), rhs_packed_.data(), out_.data(),
        s_.cout * 2, -65504.0f, 65504.0f);
  }
  std::string check() const override {
    const long side = static_cast<long>(s_.hw), half = static_cast<long>(s_.kernel / 2);
    for (size_t t = 0; t < kSamples; ++t) {
      size_t p, co;
      sample(t, s_.m(), s_.cout, &p, &co);
      double want = bias_ref_[co], magnitude = std::fabs(bias_ref_[co]);
      for (size_t tap = 0; tap < s_.kernel * s_.kernel; ++tap) {
        const long iy = static_cast<long>(p / s_.hw) + static_cast<long>(tap / s_.kernel) - half;
        const long ix = static_cast<long>(p % s_.hw) + static_cast<long>(tap % s_.kernel) - half;
        if (iy < 0 || iy >= side || ix < 0 || ix >= side) continue;
        for (size_t ci = 0; ci < s_.cin; ++ci) {
          const double v = static_cast<double>(in_ref_[(iy * side + ix) * s_.cin + ci]) *
                           w_ref_[(tap * s_.cin + ci) * s_.cout + co];
          want += v;
          magnitude += std::fabs(v);
        }
      }
      const double bound = sme2k::reference::f16_rounding_bound(
          want, sme2k::reference::f32_gemm_error_bound(s_.depth(), magnitude));
      const double got = sme2k::to_f32(out_[p * s_.cout + co]);
      if (!(std::fabs(got - want) <= bound)) return mismatch(kernel(), p, co, got, want, bound);
    }
    return "";
  }
  const char* kernel() const override {
    return "kai_imatmul_clamp_f16_f16p2vlx2_f16p2vlx2_2vlx2vl_sme2_mopa";
  }

 private:
  ConvShape s_;
  std::vector<float> in_ref_, w_ref_, bias_ref_;
  std::vector<sme2k::f16> in_, w_, bias_, pad_, out_;
  std::vector<const void*> table_;
  Bytes rhs_packed_, lhs_packed_;
};

/// QS8: the padding chunk holds the input zero point (padding contributes nothing); the
/// reference sums exactly and requantizes as test/reference/conv2d.hpp's qs8_requantize
/// (1 LSB apart allowed, as for the QS8 GEMM).
class Qs8Conv final : public Op {
 public:
  explicit Qs8Conv(const ConvShape& s)
      : s_(s),
        in_(random_int8(s.m() * s.cin, 11, -128, 127)),
        w_(random_int8(s.depth() * s.cout, 12, -127, 127)),
        bias_(s.cout),
        w_scales_(s.cout),
        pad_(s.cin, static_cast<int8_t>(kInZeroPoint)),
        out_(s.m() * s.cout) {
    const std::vector<float> r = random_values(2 * s.cout, 13);
    for (size_t j = 0; j < s.cout; ++j) {
      bias_[j] = static_cast<int32_t>(r[j] * 20000.0f);
      w_scales_[j] = 0.004f * (1.5f + r[s.cout + j]);
    }
    out_scale_ = static_cast<float>(kInScale * 0.006 * 127.0 * 127.0 *
                                    std::sqrt(static_cast<double>(s.depth())) / 160);
    const size_t chunks = s.kernel * s.kernel;
    kai_rhs_pack_qsi8cx_params params{};
    params.lhs_zero_point = kInZeroPoint;
    params.scale_multiplier = kInScale / out_scale_;
    rhs_packed_.resize(
        kai_get_rhs_packed_size_rhs_imatmul_pack_kxn_qsi8cxp2vlx4sb_qs8cx_f32_i32_sme(
            s.cout, chunks, s.cin));
    kai_run_rhs_imatmul_pack_kxn_qsi8cxp2vlx4sb_qs8cx_f32_i32_sme(
        s.cout, chunks, s.cin, s.cout, w_.data(), bias_.data(), w_scales_.data(),
        rhs_packed_.data(), &params);
    table_ = indirection(in_.data(), 1, pad_.data(), s.kernel, s.cin, s.hw,
                         kai_get_m_step_lhs_imatmul_pack_x8p2vlx4_x8p_sme());
    lhs_packed_.resize(
        kai_get_lhs_packed_size_lhs_imatmul_pack_x8p2vlx4_x8p_sme(s.m(), chunks, s.cin));
    requant_.min_value = -128;
    requant_.max_value = 127;
    requant_.output_zero_point = kOutZeroPoint;
  }
  void run() override {
    const size_t chunks = s_.kernel * s_.kernel;
    kai_run_lhs_imatmul_pack_x8p2vlx4_x8p_sme(s_.m(), chunks, s_.cin, table_.data(), 0, pad_.data(),
                                              lhs_packed_.data());
    kai_run_imatmul_clamp_qai8_qai8p2vlx4_qsi8cxpsb2vlx4_2vlx2vl_sme2_mopa(
        s_.m(), s_.cout, chunks, s_.cin, lhs_packed_.data(), rhs_packed_.data(), out_.data(),
        s_.cout, &requant_);
  }
  std::string check() const override {
    const long side = static_cast<long>(s_.hw), half = static_cast<long>(s_.kernel / 2);
    int saturated = 0;
    for (size_t t = 0; t < kSamples; ++t) {
      size_t p, co;
      sample(t, s_.m(), s_.cout, &p, &co);
      int64_t acc = bias_[co];
      for (size_t tap = 0; tap < s_.kernel * s_.kernel; ++tap) {
        const long iy = static_cast<long>(p / s_.hw) + static_cast<long>(tap / s_.kernel) - half;
        const long ix = static_cast<long>(p % s_.hw) + static_cast<long>(tap % s_.kernel) - half;
        if (iy < 0 || iy >= side || ix < 0 || ix >= side) continue;
        for (size_t ci = 0; ci < s_.cin; ++ci) {
          acc += (int64_t{in_[(iy * side + ix) * s_.cin + ci]} - kInZeroPoint) *
                 w_[(tap * s_.cin + ci) * s_.cout + co];
        }
      }
      const int want = sme2k::reference::qs8_requantize(acc, kInScale, w_scales_[co], out_scale_,
                                                        kOutZeroPoint, -128, 127);
      const int got = out_[p * s_.cout + co];
      saturated += want == -128 || want == 127;
      if (std::abs(got - want) > 1) return mismatch(kernel(), p, co, got, want, 1);
    }
    if (saturated > static_cast<int>(kSamples) / 4) return "qs8 conv: the test data saturate";
    return "";
  }
  const char* kernel() const override {
    return "kai_imatmul_clamp_qai8_qai8p2vlx4_qsi8cxpsb2vlx4_2vlx2vl_sme2_mopa";
  }

 private:
  static constexpr float kInScale = 0.02f;
  static constexpr int32_t kInZeroPoint = 3, kOutZeroPoint = -5;
  ConvShape s_;
  std::vector<int8_t> in_, w_;
  std::vector<int32_t> bias_;
  std::vector<float> w_scales_;
  std::vector<int8_t> pad_, out_;
  float out_scale_ = 1;
  std::vector<const void*> table_;
  kai_matmul_requantize32_params requant_{};
  Bytes rhs_packed_, lhs_packed_;
};

}  // namespace

std::unique_ptr<Op> make_gemm(const std::string& variant, size_t m, size_t n, size_t k,
                              std::string* why) {
  if (m == 0 || n == 0 || k == 0) {
    *why = "empty shape";
    return nullptr;
  }
  if (variant == "f32") {
    if (m == 1) return std::make_unique<F32Gemv>(m, n, k);
    return std::make_unique<F32Gemm>(m, n, k);
  }
  if (variant == "f16") {
    if (m == 1) return std::make_unique<F16Gemv>(m, n, k);
    return std::make_unique<F16Gemm>(m, n, k);
  }
  if (variant == "qs8") return std::make_unique<Qs8Gemm>(m, n, k);
  if (variant == "qd8-qc4w" || variant == "qd8-qb4w") {
    if (k % Qd8Int4Gemm::kBlock != 0) {
      *why = "K must be a multiple of 32 (the QB4W block; KleidiAI's QC4W wants even K)";
      return nullptr;
    }
    return std::make_unique<Qd8Int4Gemm>(m, n, k, variant == "qd8-qb4w");
  }
  *why = "no KleidiAI GEMM for variant " + variant + " (f32 f16 qs8 qd8-qc4w qd8-qb4w)";
  return nullptr;
}

std::unique_ptr<Op> make_conv(const std::string& variant, size_t kernel, size_t cin, size_t cout,
                              size_t hw, std::string* why) {
  if (kernel % 2 == 0 || cin == 0 || cout == 0 || hw == 0) {
    *why = "want an odd kernel size and non-empty channels and image";
    return nullptr;
  }
  const ConvShape s{kernel, cin, cout, hw};
  if (variant == "f16") return std::make_unique<F16Conv>(s);
  if (variant == "qs8") return std::make_unique<Qs8Conv>(s);
  *why = "no KleidiAI conv2d for variant " + variant + " (f16 qs8)";
  return nullptr;
}

}  // namespace sme2k_kleidiai
