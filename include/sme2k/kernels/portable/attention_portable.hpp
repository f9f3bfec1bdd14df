// Fused attention in plain C++: the fallback on any CPU (ops/detail/attention_call.hpp's
// kernel contract), flash style, so the score matrix never exists beyond one key block.
//
// A unit's rows (every query head of its KV head x q_step query rows) run together over
// blocks of kKvStep keys: each block of K and V is widened to f32 once and serves all of
// them (GQA reads the cache once per KV head). Per row an online softmax keeps the running
// max m and sum l: a block's scores s (f32 dot products, each summed in d order, times the
// scale, plus the bias) give m' = max(m, max s), the old sum and accumulator are rescaled by
// exp(m - m') and p = exp(s - m') is added in, with P x V accumulated in f32. Only the keys
// the causal and window rules leave are visited, so blocks above the diagonal cost nothing.
// A row whose keys are all masked (-inf bias) keeps m = -inf and l = 0 and gets zeros; a
// finite m keeps every exponent <= 0, so large scores cannot overflow. Every unit depends on
// nothing but its own rows: any task split gives the same bits.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <string_view>
#include <type_traits>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/ops/detail/attention_call.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/size_math.hpp"

namespace sme2k {

template <class In, class Out>
struct AttentionPortable {
  static_assert(std::is_same_v<In, float> || std::is_same_v<In, f16>, "f16 or f32 inputs");
  static_assert(std::is_same_v<Out, float> || std::is_same_v<Out, f16>, "f16 or f32 outputs");
  using Input = In;
  using Output = Out;
  static constexpr Path kPath = Path::kPortable;
  static constexpr std::string_view kName =
      std::is_same_v<In, float>  ? "attention_f32_f32_f32_4x64_portable_loops"
      : std::is_same_v<Out, f16> ? "attention_f16_f16_f16_4x64_portable_loops"
                                 : "attention_f32_f16_f16_4x64_portable_loops";
  static constexpr size_t kQStep = 4;    // query rows per head per unit
  static constexpr size_t kKvStep = 64;  // keys per block: 64 x 256 f32 of K (64 KiB) at most

  static constexpr size_t q_step(size_t /*vl*/) { return kQStep; }
  static constexpr size_t kv_step(size_t /*vl*/) { return kKvStep; }

  /// f32 scratch of one task: per row of a unit its query, accumulator, scores, max and sum,
  /// and one block of K and V.
  static bool workspace_bytes(const AttentionShape& shape, size_t /*vl*/, size_t* bytes) {
    size_t rows = 0, row_floats = 0, block = 0, floats = 0;
    return checked_mul(shape.q_heads / shape.kv_heads, kQStep, &rows) &&
           checked_add(2 * shape.head_dim + kKvStep, 2, &row_floats) &&
           checked_mul(rows, row_floats, &floats) &&
           checked_mul(2 * kKvStep, shape.head_dim, &block) &&
           checked_add(floats, block, &floats) && checked_mul(floats, sizeof(float), bytes);
  }

  static void run(const detail::AttentionCall<In, Out>& call, const detail::AttentionUnits& units,
                  size_t first, size_t last, void* workspace) {
    for (size_t u = first; u < last; ++u) run_unit(call, units[u], static_cast<float*>(workspace));
  }

 private:
  static constexpr float kNegInf = -std::numeric_limits<float>::infinity();

  struct Rows {
    size_t count;  // group x query rows of the unit
    size_t d;
    float *q, *acc, *s, *m, *l;  // [count][d], [count][d], [count][kKvStep], [count], [count]
    float *kb, *vb;              // [kKvStep][d] each
  };

  static Rows carve(float* w, size_t count, size_t d) {
    Rows r{count, d, w, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
    r.acc = r.q + count * d;
    r.s = r.acc + count * d;
    r.m = r.s + count * kKvStep;
    r.l = r.m + count;
    r.kb = r.l + count;
    r.vb = r.kb + kKvStep * d;
    return r;
  }

  static constexpr size_t kLanes = 8;  // partial sums per dot product: what SIMD units take

  // s[j] = q . k_j for j in [0, n), kKeys keys per pass over q. Each dot product is summed in
  // one fixed order: kLanes partial sums over d (lane c % kLanes), then pairwise over the
  // lanes. Element-wise over the lanes, so compilers vectorize it without reassociating
  // anything; any order of the D terms keeps the error bound.
  template <size_t kKeys>
  static void dot_keys(const float* q, const float* k, size_t d, float* s) {
    float lane[kKeys][kLanes] = {};
    size_t c = 0;
    for (; c + kLanes <= d; c += kLanes) {
      for (size_t j = 0; j < kKeys; ++j) {
        for (size_t l = 0; l < kLanes; ++l) lane[j][l] += q[c + l] * k[j * d + c + l];
      }
    }
    for (size_t j = 0; j < kKeys; ++j) {
      for (size_t l = 0; c + l < d; ++l) lane[j][l] += q[c + l] * k[j * d + c + l];
      for (size_t w = kLanes / 2; w > 0; w /= 2) {
        for (size_t l = 0; l < w; ++l) lane[j][l] += lane[j][l + w];
      }
      s[j] = lane[j][0];
    }
  }

  static void dots(const float* q, const float* kb, size_t d, size_t n, float* s) {
    size_t j = 0;
    for (; j + 4 <= n; j += 4) dot_keys<4>(q, kb + j * d, d, s + j);
    for (; j < n; ++j) dot_keys<1>(q, kb + j * d, d, s + j);
  }

  // One row's share of a key block: keys [a, e) of the block starting at key j0.
  static void row_block(const detail::AttentionCall<In, Out>& call, const Rows& r, size_t t,
                        const float* bias, size_t j0, size_t a, size_t e) {
    const size_t d = r.d, n = e - a;
    float* s = r.s + t * kKvStep;
    dots(r.q + t * d, r.kb + (a - j0) * d, d, n, s);
    for (size_t j = 0; j < n; ++j) s[j] *= call.scale;
    if (bias != nullptr) {
      for (size_t j = 0; j < n; ++j) s[j] += bias[a + j];
    }
    float block_max = kNegInf;
    for (size_t j = 0; j < n; ++j) block_max = s[j] > block_max ? s[j] : block_max;
    const float m_new = r.m[t] > block_max ? r.m[t] : block_max;
    if (m_new == kNegInf) return;                  // every key so far masked: nothing to add
    const float alpha = std::exp(r.m[t] - m_new);  // 0 on the first unmasked block
    float sum = 0;
    for (size_t j = 0; j < n; ++j) {
      s[j] = std::exp(s[j] - m_new);
      sum += s[j];
    }
    r.m[t] = m_new;
    r.l[t] = r.l[t] * alpha + sum;
    float* acc = r.acc + t * d;
    if (alpha != 1.0f) {
      for (size_t c = 0; c < d; ++c) acc[c] *= alpha;
    }
    // acc += P V, four keys per pass over acc (each acc[c] still adds the keys in order)
    const float* vb = r.vb + (a - j0) * d;
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
      const float *v0 = vb + j * d, *v1 = v0 + d, *v2 = v1 + d, *v3 = v2 + d;
      const float p0 = s[j], p1 = s[j + 1], p2 = s[j + 2], p3 = s[j + 3];
      for (size_t c = 0; c < d; ++c) {
        float x = acc[c];
        x += p0 * v0[c];
        x += p1 * v1[c];
        x += p2 * v2[c];
        x += p3 * v3[c];
        acc[c] = x;
      }
    }
    for (; j < n; ++j) {
      const float p = s[j];
      const float* v = vb + j * d;
      for (size_t c = 0; c < d; ++c) acc[c] += p * v[c];
    }
  }

  static void run_unit(const detail::AttentionCall<In, Out>& call, const detail::AttentionUnit& u,
                       float* workspace) {
    const size_t group = call.group(), d = call.shape.head_dim;
    const size_t q_rows = u.row_end - u.row_begin;
    const Rows r = carve(workspace, group * q_rows, d);
    size_t k_first = call.shape.kv_len, k_last = 0;
    for (size_t i = u.row_begin; i < u.row_end; ++i) {
      size_t f = 0, e = 0;
      call.visible_keys(i, &f, &e);
      if (f < e) {
        k_first = f < k_first ? f : k_first;
        k_last = e > k_last ? e : k_last;
      }
    }
    for (size_t t = 0; t < r.count; ++t) {
      const size_t h = u.kv_head * group + t / q_rows, i = u.row_begin + t % q_rows;
      const In* q = call.q_row(u.batch, h, i);
      for (size_t c = 0; c < d; ++c) r.q[t * d + c] = to_f32(q[c]);
      for (size_t c = 0; c < d; ++c) r.acc[t * d + c] = 0.0f;
      r.m[t] = kNegInf;
      r.l[t] = 0.0f;
    }
    for (size_t j0 = k_first / kKvStep * kKvStep; j0 < k_last; j0 += kKvStep) {
      const size_t lo = j0 > k_first ? j0 : k_first;
      const size_t hi = j0 + kKvStep < k_last ? j0 + kKvStep : k_last;
      for (size_t j = lo; j < hi; ++j) {
        const In* k = call.k_row(u.batch, u.kv_head, j);
        const In* v = call.v_row(u.batch, u.kv_head, j);
        float* kb = r.kb + (j - j0) * d;
        float* vb = r.vb + (j - j0) * d;
        for (size_t c = 0; c < d; ++c) kb[c] = to_f32(k[c]);
        for (size_t c = 0; c < d; ++c) vb[c] = to_f32(v[c]);
      }
      for (size_t t = 0; t < r.count; ++t) {
        const size_t h = u.kv_head * group + t / q_rows, i = u.row_begin + t % q_rows;
        size_t f = 0, e = 0;
        call.visible_keys(i, &f, &e);
        const size_t a = f > lo ? f : lo, b = e < hi ? e : hi;
        if (a < b) row_block(call, r, t, call.bias_row(u.batch, h, i), j0, a, b);
      }
    }
    for (size_t t = 0; t < r.count; ++t) {
      const size_t h = u.kv_head * group + t / q_rows, i = u.row_begin + t % q_rows;
      const float inv = r.l[t] > 0.0f ? 1.0f / r.l[t] : 0.0f;
      Out* o = call.o_row(u.batch, h, i);
      for (size_t c = 0; c < d; ++c) o[c] = convert_to<Out>(r.acc[t * d + c] * inv);
    }
  }
};

}  // namespace sme2k
