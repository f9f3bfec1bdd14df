// Reference attention: plain softmax over all keys of a row, in f64, written from the
// definition (types/attention.hpp's mask rules, read with signed positions) and nothing of the
// library's kernels. Besides O it returns what the error bound needs: per output
// sum_j w_j |v_jd| (the softmax-weighted magnitude a relative error scales), and per row the
// largest |score| term scale * sum_d |q_d k_jd| + |bias_j| over the keys it sees. The bound
// itself (attention_tolerance) is stated here once for the tests and sme2k-run.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sme2k/types/f16.hpp"

namespace sme2k {
namespace reference {

struct AttentionStrides {
  size_t batch = 0, head = 0, seq = 0;  // elements
};

struct AttentionProblem {
  size_t batch = 1, q_heads = 1, kv_heads = 1, q_len = 1, kv_len = 1, head_dim = 1;
  AttentionStrides q, k, v;
  double scale = 1.0;  // resolved: never 0 here
  bool causal = false;
  size_t window = 0;
  const float* bias = nullptr;
  size_t bias_ld = 0, bias_head = 0, bias_batch = 0;
};

struct AttentionResult {
  std::vector<double> o;           // [batch][q_heads][q_len][head_dim], dense
  std::vector<double> weighted_v;  // same layout: sum_j w_j |v_jd|
  std::vector<double> score_term;  // [batch][q_heads][q_len]
};

/// Whether query row i sees key j by the causal and window rules.
inline bool attention_sees(const AttentionProblem& p, size_t i, size_t j) {
  const int64_t pos =
      static_cast<int64_t>(p.kv_len) - static_cast<int64_t>(p.q_len) + static_cast<int64_t>(i);
  const int64_t key = static_cast<int64_t>(j), w = static_cast<int64_t>(p.window);
  if (p.causal && key > pos) return false;
  if (p.window > 0) {
    if (p.causal) return key > pos - w;
    return (pos > key ? pos - key : key - pos) < w;
  }
  return true;
}

/// Row i of query head h, batch b: o[d], sum_j w_j |v_jd| in weighted[d], the row's largest
/// score term in *score_term (0 and zeros for a row that sees no key).
template <class T>
void attention_row(const AttentionProblem& p, const T* q, const T* k, const T* v, size_t b,
                   size_t h, size_t i, double* o, double* weighted, double* score_term) {
  const size_t d = p.head_dim, g = h / (p.q_heads / p.kv_heads);
  const T* qi = q + b * p.q.batch + h * p.q.head + i * p.q.seq;
  const float* bias =
      p.bias ? p.bias + b * p.bias_batch + h * p.bias_head + i * p.bias_ld : nullptr;
  std::vector<double> s(p.kv_len, -INFINITY), mag(p.kv_len, 0.0);
  double mx = -INFINITY;
  for (size_t j = 0; j < p.kv_len; ++j) {
    if (!attention_sees(p, i, j) || (bias != nullptr && bias[j] == -INFINITY)) continue;
    const T* kj = k + b * p.k.batch + g * p.k.head + j * p.k.seq;
    double dot = 0, abs_dot = 0;
    for (size_t c = 0; c < d; ++c) {
      const double x = static_cast<double>(to_f32(qi[c])) * to_f32(kj[c]);
      dot += x;
      abs_dot += std::fabs(x);
    }
    s[j] = p.scale * dot + (bias ? bias[j] : 0.0);
    mag[j] = p.scale * abs_dot + (bias ? std::fabs(bias[j]) : 0.0);
    mx = s[j] > mx ? s[j] : mx;
  }
  for (size_t c = 0; c < d; ++c) o[c] = weighted[c] = 0.0;
  *score_term = 0.0;
  if (mx == -INFINITY) return;  // no key seen: zeros
  double sum = 0;
  for (size_t j = 0; j < p.kv_len; ++j) {
    if (s[j] == -INFINITY) continue;
    s[j] = std::exp(s[j] - mx);
    sum += s[j];
    *score_term = mag[j] > *score_term ? mag[j] : *score_term;
  }
  for (size_t j = 0; j < p.kv_len; ++j) {
    if (s[j] == -INFINITY) continue;
    const double w = s[j] / sum;
    const T* vj = v + b * p.v.batch + g * p.v.head + j * p.v.seq;
    for (size_t c = 0; c < d; ++c) {
      const double x = to_f32(vj[c]);
      o[c] += w * x;
      weighted[c] += w * std::fabs(x);
    }
  }
}

template <class T>
AttentionResult attention(const AttentionProblem& p, const T* q, const T* k, const T* v) {
  const size_t d = p.head_dim;
  AttentionResult r;
  r.o.assign(p.batch * p.q_heads * p.q_len * d, 0.0);
  r.weighted_v.assign(r.o.size(), 0.0);
  r.score_term.assign(p.batch * p.q_heads * p.q_len, 0.0);
  for (size_t b = 0; b < p.batch; ++b) {
    for (size_t h = 0; h < p.q_heads; ++h) {
      for (size_t i = 0; i < p.q_len; ++i) {
        const size_t row = (b * p.q_heads + h) * p.q_len + i;
        attention_row(p, q, k, v, b, h, i, &r.o[row * d], &r.weighted_v[row * d],
                      &r.score_term[row]);
      }
    }
  }
  return r;
}

/// What the error bound needs from the kernel that ran: its exp's relative error and the
/// relative rounding of P before the P x V products.
struct AttentionErrorModel {
  double eps_exp, eps_p;
};

/// The parameters of the kernels sme2k has: the portable one (std::exp in f32, P kept in f32)
/// and the SME2 one (a polynomial exp within 1e-4; P rounded to f16 for the widening outer
/// products of F16, kept in f32 for F32). The SME2 kernel's header states its own figures:
/// change these with it.
inline AttentionErrorModel attention_error_model(bool sme2_kernel, bool f16_inputs) {
  if (!sme2_kernel) return {1e-6, 0.0};
  return {1e-4, f16_inputs ? std::ldexp(1.0, -11) : 0.0};
}

/// The bound on |o_d - reference| (derivation: test/attention_test.cpp's header).
/// @param[in] score_term  the row's largest scale * sum |q k| + |bias|
/// @param[in] weighted    sum_j w_j |v_jd|;  want: the reference o_d
inline double attention_tolerance(const AttentionErrorModel& em, size_t head_dim, size_t kv_len,
                                  double score_term, double weighted, double want, bool f16_out) {
  const double u = std::ldexp(1.0, -24);
  const double e = static_cast<double>(head_dim + 5) * u * score_term;
  const double rel = 2 * (std::expm1(2 * e) + 2 * (em.eps_exp + em.eps_p) +
                          (4 * static_cast<double>(kv_len) + 8) * u);
  // The output's rounding; below each type's normal range an absolute half of its least
  // subnormal (a want of 1e-196 is 0 in f32).
  return rel * weighted + (f16_out ? std::ldexp(std::fabs(want), -11) + std::ldexp(1.0, -24)
                                   : 2 * u * std::fabs(want) + std::ldexp(1.0, -150));
}

}  // namespace reference
}  // namespace sme2k
