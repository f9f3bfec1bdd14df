// Reference attention: plain softmax over all keys of a row, in f64, written from the
// definition (types/attention.hpp's mask rules, read with signed positions) and nothing of the
// library's kernels. Besides O it returns what the error bound needs: per output
// sum_j w_j |v_jd| (the softmax-weighted magnitude a relative error scales), and per row the
// largest |score| term scale * sum_d |q_d k_jd| + |bias_j| over the keys it sees.
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

template <class T>
AttentionResult attention(const AttentionProblem& p, const T* q, const T* k, const T* v) {
  const size_t d = p.head_dim, group = p.q_heads / p.kv_heads;
  AttentionResult r;
  r.o.assign(p.batch * p.q_heads * p.q_len * d, 0.0);
  r.weighted_v.assign(r.o.size(), 0.0);
  r.score_term.assign(p.batch * p.q_heads * p.q_len, 0.0);
  std::vector<double> s(p.kv_len), mag(p.kv_len);
  std::vector<bool> live(p.kv_len);
  for (size_t b = 0; b < p.batch; ++b) {
    for (size_t h = 0; h < p.q_heads; ++h) {
      const size_t g = h / group;
      for (size_t i = 0; i < p.q_len; ++i) {
        const T* qi = q + b * p.q.batch + h * p.q.head + i * p.q.seq;
        const float* bias =
            p.bias ? p.bias + b * p.bias_batch + h * p.bias_head + i * p.bias_ld : nullptr;
        double mx = -INFINITY;
        for (size_t j = 0; j < p.kv_len; ++j) {
          live[j] = attention_sees(p, i, j) && (bias == nullptr || bias[j] != -INFINITY);
          if (!live[j]) continue;
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
        const size_t row = (b * p.q_heads + h) * p.q_len + i;
        if (mx == -INFINITY) continue;  // no key seen: zeros
        double sum = 0;
        for (size_t j = 0; j < p.kv_len; ++j) {
          if (!live[j]) continue;
          s[j] = std::exp(s[j] - mx);
          sum += s[j];
          r.score_term[row] = mag[j] > r.score_term[row] ? mag[j] : r.score_term[row];
        }
        double* o = &r.o[row * d];
        double* wv = &r.weighted_v[row * d];
        for (size_t j = 0; j < p.kv_len; ++j) {
          if (!live[j]) continue;
          const double w = s[j] / sum;
          const T* vj = v + b * p.v.batch + g * p.v.head + j * p.v.seq;
          for (size_t c = 0; c < d; ++c) {
            const double x = to_f32(vj[c]);
            o[c] += w * x;
            wv[c] += w * std::fabs(x);
          }
        }
      }
    }
  }
  return r;
}

}  // namespace reference
}  // namespace sme2k
