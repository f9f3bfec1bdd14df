// Runs the Llama-style decoder layer of examples/llm_layer.hpp at prefill and at decode, and
// checks it two ways:
//
// 1. Every op against an f64 reference of that op applied to the op's actual input (snapshot
//    by the per-op hooks), within the bound the op's arithmetic allows (u = 2^-24):
//    - rms_norm: test/reference/row_ops.hpp's rms_norm_bound (the row ops' tests' bound).
//    - each QD8QC4W projection: the activations of a row are quantized to int8 with the step
//      s = (max(0, max a) - min(0, min a)) / 255, each moving by at most s / 2 (the factor
//      1 + 2^-12 covers the f32 rounding of s and 1 / s); the 4-bit weights times their f32
//      scale are used exactly; so |C - ref| <= B = s / 2 (1 + 2^-12) sum_k |w| +
//      gamma(K + 2) sum_k (|a| + s) |w| (gamma(n) = n u / (1 - n u): the f32 arithmetic),
//      as examples/llama_q4_0.cpp derives it. f16 out (QKV) adds the rounding of |ref| + B.
//      The gate's SiLU (slope within [-0.1, 1.1]) turns B into 1.1 B, plus the epilogue's
//      2^-18 relative error.
//    - rope (f16 in place): reference/row_ops.hpp's rope_bound plus the f16 rounding; the V
//      columns untouched.
//    - the K / V append: bit-exact copies.
//    - attention<F16> (f16 out): test/reference/attention.hpp's attention_tolerance with the
//      error model of the kernel that ran.
//    - residual adds and the SwiGLU product (f32, one rounding each): u |ref|.
// 2. The whole layer against a plain f64 implementation of it from the same input and weights
//    with no quantization and no f16 rounding: the deviation is what int8 activations and f16
//    intermediates cost, not a derived bound. It must stay within 1/16 of the RMS of the
//    layer's update (out - x) in RMS: a check of the wiring (heads, GQA groups, positions,
//    cache), which the per-op references, sharing the layer's buffer layout, cannot see.
//
//   llm_layer [PREFILL [CACHE]]   (default 16 1024: hidden 512, Hq 8, Hkv 2, D 64, FFN 1024)
//   llm_layer --llama             (hidden 2048, Hq 32, Hkv 8, D 64, FFN 5632, prefill 256;
//                                  slow under QEMU: for a native run or the CLI)
#include "llm_layer.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <type_traits>
#include <vector>

#include "reference/attention.hpp"
#include "reference/row_ops.hpp"

namespace {

using namespace sme2k;
using example::LayerOp;
using example::LlmLayer;

constexpr double kU = 1.0 / 16777216.0;

/// The largest error / bound of one op, and its failures (the first few printed).
struct Tally {
  const char* name = "";
  double worst_error = 0.0, worst_ratio = 0.0;
  size_t failures = 0, checked = 0;
  void add(double got, double want, double bound, size_t where) {
    const double error = std::fabs(got - want);
    ++checked;
    if (error > worst_error) worst_error = error;
    if (bound > 0.0 && error / bound > worst_ratio) worst_ratio = error / bound;
    if (!(error <= bound) && failures++ < 4) {
      std::fprintf(stderr, "  %s[%zu] = %.9g, reference %.9g, bound %.3g\n", name, where, got, want,
                   bound);
    }
  }
};

/// What the hooks copy between ops.
struct Snapshots {
  const LlmLayer* layer = nullptr;
  const float* x = nullptr;
  size_t elements = 0;
  std::vector<float> attn_normed, out_proj, x_mid, ffn_normed, gate_silu, up, swiglu, down;
  std::vector<f16> qkv_pre, qkv_post;
  Path attention_path = Path::kPortable;
};

void after_op(void* context, LayerOp op) {
  auto& s = *static_cast<Snapshots*>(context);
  const LlmLayer& l = *s.layer;
  switch (op) {
    case LayerOp::kAttnNorm: s.attn_normed = l.normed(); break;
    case LayerOp::kQkvProj: s.qkv_pre = l.qkv_rows(); break;
    case LayerOp::kRope: s.qkv_post = l.qkv_rows(); break;
    case LayerOp::kAttention: s.attention_path = last_used_path(); break;
    case LayerOp::kOutProj: s.out_proj = l.projected(); break;
    case LayerOp::kAttnResidual: s.x_mid.assign(s.x, s.x + s.elements); break;
    case LayerOp::kFfnNorm: s.ffn_normed = l.normed(); break;
    case LayerOp::kGateProj: s.gate_silu = l.gate_rows(); break;
    case LayerOp::kUpProj: s.up = l.up_rows(); break;
    case LayerOp::kSwiGlu: s.swiglu = l.gate_rows(); break;
    case LayerOp::kDownProj: s.down = l.projected(); break;
    default: break;
  }
}

template <class T>
double value(const T& v) {
  if constexpr (std::is_same_v<T, f16>) {
    return static_cast<double>(to_f32(v));
  } else {
    return static_cast<double>(v);
  }
}

double silu(double v) { return v / (1.0 + std::exp(-v)); }

/// W (N x K) as doubles (value times scale, exact), made once per weight matrix.
const std::vector<double>& dense(const example::Int4Linear& w) {
  static std::map<const example::Int4Linear*, std::vector<double>> made;
  std::vector<double>& d = made[&w];
  if (d.empty()) {
    d.resize(w.n * w.k);
    for (size_t j = 0; j < w.n; ++j) {
      for (size_t kk = 0; kk < w.k; ++kk) d[j * w.k + kk] = w.weight(j, kk);
    }
  }
  return d;
}

/// y (rows x N, ld N) = act(a (rows x K) W^T) through the bound of the file's header.
template <class In, class Out>
void check_linear(Tally* t, const example::Int4Linear& w, const std::vector<In>& a, size_t rows,
                  const std::vector<Out>& y, bool with_silu) {
  const size_t n = w.n, k = w.k;
  const double nu = static_cast<double>(k + 2) * kU, gamma = nu / (1.0 - nu);
  const std::vector<double>& wd = dense(w);
  std::vector<double> sum_w(n, 0.0);
  for (size_t j = 0; j < n; ++j) {
    for (size_t kk = 0; kk < k; ++kk) sum_w[j] += std::fabs(wd[j * k + kk]);
  }
  for (size_t i = 0; i < rows; ++i) {
    double lo = 0.0, hi = 0.0;
    std::vector<double> ai(k);
    for (size_t kk = 0; kk < k; ++kk) {
      ai[kk] = value(a[i * k + kk]);
      lo = std::fmin(lo, ai[kk]), hi = std::fmax(hi, ai[kk]);
    }
    const double step = (hi - lo) / 255.0 * (1.0 + std::ldexp(1.0, -20));
    for (size_t j = 0; j < n; ++j) {
      const double* wj = &wd[j * k];
      double ref = 0.0, magnitude = 0.0;
      for (size_t kk = 0; kk < k; ++kk) {
        ref += ai[kk] * wj[kk];
        magnitude += std::fabs(ai[kk] * wj[kk]);
      }
      double bound = step / 2 * (1.0 + std::ldexp(1.0, -12)) * sum_w[j] +
                     gamma * (magnitude + step * sum_w[j]);
      if (with_silu) {
        bound = 1.1 * bound + std::ldexp(std::fabs(silu(ref)) + 1.1 * bound, -18);
        ref = silu(ref);
      }
      if constexpr (std::is_same_v<Out, f16>)
        bound += reference::f16_rounding(std::fabs(ref) + bound);
      t->add(value(y[i * n + j]), ref, bound, i * n + j);
    }
  }
}

void check_rms_norm(Tally* t, const std::vector<float>& x, const std::vector<float>& w, double eps,
                    size_t rows, const std::vector<float>& y) {
  const size_t cols = w.size();
  const std::vector<double> wd(w.begin(), w.end());
  for (size_t r = 0; r < rows; ++r) {
    const std::vector<double> xr(x.begin() + r * cols, x.begin() + (r + 1) * cols);
    const std::vector<double> ref = reference::rms_norm_row(xr, wd, eps);
    for (size_t i = 0; i < cols; ++i) {
      t->add(y[r * cols + i], ref[i], reference::rms_norm_bound(ref[i], cols), r * cols + i);
    }
  }
}

/// z = a + b or a * b, elementwise in f32: one rounding.
void check_elementwise(Tally* t, const std::vector<float>& a, const std::vector<float>& b,
                       const float* z, size_t n, bool product) {
  for (size_t i = 0; i < n; ++i) {
    const double want =
        product ? static_cast<double>(a[i]) * b[i] : static_cast<double>(a[i]) + b[i];
    t->add(z[i], want, kU * std::fabs(want), i);
  }
}

/// Every op of the last forward() of `tokens` tokens from position p0 (the header's part 1).
bool check_ops(const LlmLayer& layer, const Snapshots& s, const std::vector<float>& x_in,
               const float* x_out, size_t tokens, size_t p0) {
  const example::LlmLayerConfig& c = layer.config();
  const size_t d = c.head_dim, half = d / 2, kv = c.kv_heads * d, hd = c.hidden;
  const size_t nqkv = hd + 2 * kv;
  std::vector<Tally> tallies(static_cast<size_t>(LayerOp::kCount));
  for (size_t i = 0; i < tallies.size(); ++i) {
    tallies[i].name = example::layer_op_name(static_cast<LayerOp>(i));
  }
  auto tally = [&](LayerOp op) { return &tallies[static_cast<size_t>(op)]; };

  check_rms_norm(tally(LayerOp::kAttnNorm), x_in, layer.attn_norm(), c.eps, tokens, s.attn_normed);
  check_linear(tally(LayerOp::kQkvProj), layer.qkv(), s.attn_normed, tokens, s.qkv_pre, false);
  // RoPE: Q and K heads rotated at their positions, V as it was.
  for (size_t t = 0; t < tokens; ++t) {
    const float* cs = layer.rope_cos().data() + (p0 + t) * half;
    const float* sn = layer.rope_sin().data() + (p0 + t) * half;
    const std::vector<double> cd(cs, cs + half), sd(sn, sn + half);
    for (size_t h = 0; h < c.q_heads + c.kv_heads; ++h) {
      const size_t o = t * nqkv + h * d;
      std::vector<double> xr(d);
      for (size_t i = 0; i < d; ++i) xr[i] = value(s.qkv_pre[o + i]);
      const std::vector<double> ref = reference::rope_row(xr, cd.data(), sd.data(), half, false);
      for (size_t i = 0; i < d; ++i) {
        const size_t pair = i % half;
        const double bound = reference::rope_bound(xr[pair], xr[pair + half], cd[pair], sd[pair]) +
                             reference::f16_rounding(ref[i]);
        tally(LayerOp::kRope)->add(value(s.qkv_post[o + i]), ref[i], bound, o + i);
      }
    }
    for (size_t i = hd + kv; i < nqkv; ++i) {
      const size_t o = t * nqkv + i;
      tally(LayerOp::kRope)->add(value(s.qkv_post[o]), value(s.qkv_pre[o]), 0.0, o);
    }
    // The cache rows of this token: the rotated K and the V, bit for bit.
    for (size_t i = 0; i < kv; ++i) {
      const size_t o = t * nqkv + hd + i, at = (p0 + t) * kv + i;
      tally(LayerOp::kKvAppend)->add(value(layer.k_cache()[at]), value(s.qkv_post[o]), 0.0, at);
      tally(LayerOp::kKvAppend)
          ->add(value(layer.v_cache()[at]), value(s.qkv_post[o + kv]), 0.0, at);
    }
  }
  // Attention over the cache, causal: query t at position p0 + t.
  reference::AttentionProblem p;
  p.q_heads = c.q_heads, p.kv_heads = c.kv_heads, p.q_len = tokens, p.kv_len = p0 + tokens;
  p.head_dim = d;
  p.q = {tokens * nqkv, d, nqkv};
  p.k = p.v = {c.cache_capacity * kv, d, kv};
  p.scale = 1.0 / std::sqrt(static_cast<double>(d));
  p.causal = true;
  const reference::AttentionResult ref = reference::attention<f16>(
      p, s.qkv_post.data(), layer.k_cache().data(), layer.v_cache().data());
  const reference::AttentionErrorModel em =
      reference::attention_error_model(s.attention_path != Path::kPortable, true);
  for (size_t h = 0; h < c.q_heads; ++h) {
    for (size_t t = 0; t < tokens; ++t) {
      const size_t r = h * tokens + t;
      for (size_t i = 0; i < d; ++i) {
        const double want = ref.o[r * d + i];
        const double bound = reference::attention_tolerance(em, d, p0 + tokens, ref.score_term[r],
                                                            ref.weighted_v[r * d + i], want, true);
        const size_t at = t * hd + h * d + i;
        tally(LayerOp::kAttention)->add(value(layer.attention_out()[at]), want, bound, at);
      }
    }
  }
  check_linear(tally(LayerOp::kOutProj), layer.out(), layer.attention_out(), tokens, s.out_proj,
               false);
  check_elementwise(tally(LayerOp::kAttnResidual), x_in, s.out_proj, s.x_mid.data(), tokens * hd,
                    false);
  check_rms_norm(tally(LayerOp::kFfnNorm), s.x_mid, layer.ffn_norm(), c.eps, tokens, s.ffn_normed);
  check_linear(tally(LayerOp::kGateProj), layer.gate(), s.ffn_normed, tokens, s.gate_silu, true);
  check_linear(tally(LayerOp::kUpProj), layer.up(), s.ffn_normed, tokens, s.up, false);
  check_elementwise(tally(LayerOp::kSwiGlu), s.gate_silu, s.up, s.swiglu.data(), tokens * c.ffn,
                    true);
  check_linear(tally(LayerOp::kDownProj), layer.down(), s.swiglu, tokens, s.down, false);
  check_elementwise(tally(LayerOp::kFfnResidual), s.x_mid, s.down, x_out, tokens * hd, false);

  bool ok = true;
  for (const Tally& t : tallies) {
    std::printf("  %-10s %8zu values, max |error| %.3g = %.3f of its bound%s\n", t.name, t.checked,
                t.worst_error, t.worst_ratio, t.failures ? "  FAILED" : "");
    ok = ok && t.failures == 0 && t.checked > 0;
  }
  return ok;
}

/// The layer in plain f64 (no quantization, no f16 rounding of the intermediates), with the
/// cache rows before p0 as the layer holds them (f16): the header's part 2.
std::vector<double> plain_layer(const LlmLayer& layer, const std::vector<float>& x_in,
                                const std::vector<f16>& k_prefix, const std::vector<f16>& v_prefix,
                                size_t tokens, size_t p0) {
  const example::LlmLayerConfig& c = layer.config();
  const size_t d = c.head_dim, half = d / 2, kv = c.kv_heads * d, hd = c.hidden, f = c.ffn;
  const std::vector<double>&wqkv = dense(layer.qkv()), &wo = dense(layer.out()),
        &wg = dense(layer.gate()), &wu = dense(layer.up()), &wdown = dense(layer.down());
  auto matvec = [](const std::vector<double>& w, size_t n, size_t k, const double* a, double* y) {
    for (size_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (size_t kk = 0; kk < k; ++kk) sum += a[kk] * w[j * k + kk];
      y[j] = sum;
    }
  };
  auto norm = [&](const double* xr, const std::vector<float>& w, double* y) {
    double ss = 0.0;
    for (size_t i = 0; i < hd; ++i) ss += xr[i] * xr[i];
    const double r = 1.0 / std::sqrt(ss / static_cast<double>(hd) + c.eps);
    for (size_t i = 0; i < hd; ++i) y[i] = xr[i] * r * w[i];
  };
  std::vector<double> x(x_in.begin(), x_in.end()), h(hd), qkv(hd + 2 * kv), att(hd), y(hd);
  std::vector<double> q(tokens * hd), kc((p0 + tokens) * kv), vc((p0 + tokens) * kv);
  for (size_t i = 0; i < p0 * kv; ++i) kc[i] = value(k_prefix[i]), vc[i] = value(v_prefix[i]);
  for (size_t t = 0; t < tokens; ++t) {
    norm(&x[t * hd], layer.attn_norm(), h.data());
    matvec(wqkv, hd + 2 * kv, hd, h.data(), qkv.data());
    const size_t pos = p0 + t;
    for (size_t head = 0; head < c.q_heads + c.kv_heads; ++head) {
      double* v = &qkv[head * d];
      for (size_t i = 0; i < half; ++i) {
        const double cs = layer.rope_cos()[pos * half + i], sn = layer.rope_sin()[pos * half + i];
        const double a = v[i], b = v[i + half];
        v[i] = a * cs - b * sn, v[i + half] = a * sn + b * cs;
      }
    }
    std::copy(qkv.begin(), qkv.begin() + hd, q.begin() + t * hd);
    std::copy(qkv.begin() + hd, qkv.begin() + hd + kv, kc.begin() + pos * kv);
    std::copy(qkv.begin() + hd + kv, qkv.end(), vc.begin() + pos * kv);
  }
  const size_t group = c.q_heads / c.kv_heads;
  std::vector<double> out(x);
  for (size_t t = 0; t < tokens; ++t) {
    for (size_t head = 0; head < c.q_heads; ++head) {
      const size_t g = head / group, seen = p0 + t + 1;
      std::vector<double> score(seen);
      double mx = -INFINITY, sum = 0.0;
      for (size_t j = 0; j < seen; ++j) {
        double dot = 0.0;
        for (size_t i = 0; i < d; ++i) dot += q[t * hd + head * d + i] * kc[j * kv + g * d + i];
        score[j] = dot / std::sqrt(static_cast<double>(d));
        mx = std::fmax(mx, score[j]);
      }
      for (double& v : score) sum += (v = std::exp(v - mx));
      for (size_t i = 0; i < d; ++i) {
        double o = 0.0;
        for (size_t j = 0; j < seen; ++j) o += score[j] / sum * vc[j * kv + g * d + i];
        att[head * d + i] = o;
      }
    }
    matvec(wo, hd, hd, att.data(), y.data());
    for (size_t i = 0; i < hd; ++i) out[t * hd + i] += y[i];
    norm(&out[t * hd], layer.ffn_norm(), h.data());
    std::vector<double> g(f), u(f);
    matvec(wg, f, hd, h.data(), g.data());
    matvec(wu, f, hd, h.data(), u.data());
    for (size_t i = 0; i < f; ++i) g[i] = silu(g[i]) * u[i];
    matvec(wdown, hd, f, g.data(), y.data());
    for (size_t i = 0; i < hd; ++i) out[t * hd + i] += y[i];
  }
  return out;
}

/// One forward() of `tokens` tokens, checked both ways.
bool run_and_check(const char* what, LlmLayer& layer, size_t tokens, uint32_t seed) {
  const example::LlmLayerConfig& c = layer.config();
  const size_t p0 = layer.length(), kv = c.kv_heads * c.head_dim;
  std::vector<float> x(tokens * c.hidden);
  uint32_t state = seed;
  for (float& v : x) {  // the residual stream: mostly O(1), an outlier every 37th value
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>((static_cast<double>(state >> 8) / 8388608.0 - 1.0) *
                           ((state >> 3) % 37 == 0 ? 6.0 : 1.0));
  }
  const std::vector<float> x_in = x;
  const std::vector<f16> k_prefix(layer.k_cache().begin(), layer.k_cache().begin() + p0 * kv);
  const std::vector<f16> v_prefix(layer.v_cache().begin(), layer.v_cache().begin() + p0 * kv);
  Snapshots snaps;
  snaps.layer = &layer, snaps.x = x.data(), snaps.elements = x.size();
  example::LayerHooks hooks;
  hooks.end = after_op;
  hooks.context = &snaps;
  const Status s = layer.forward(x.data(), tokens, hooks);
  if (!s.ok()) {
    std::fprintf(stderr, "llm_layer %s: %s\n", what, s.message());
    return false;
  }
  std::printf("llm_layer %s: %zu token(s) at position %zu (cache %zu of %zu), attention path %s\n",
              what, tokens, p0, layer.length(), c.cache_capacity, path_name(snaps.attention_path));
  const bool ops_ok = check_ops(layer, snaps, x_in, x.data(), tokens, p0);
  const std::vector<double> plain = plain_layer(layer, x_in, k_prefix, v_prefix, tokens, p0);
  double err2 = 0.0, update2 = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    err2 += (x[i] - plain[i]) * (x[i] - plain[i]);
    update2 += (plain[i] - x_in[i]) * (plain[i] - x_in[i]);
  }
  const double rel = std::sqrt(err2 / update2);
  const bool whole_ok = update2 > 0.0 && rel <= 1.0 / 16.0;
  std::printf(
      "  whole layer vs plain f64 (no quantization): RMS error %.3g of the update's RMS "
      "%.3g (%.2f%%, limit 6.25%%)%s\n",
      std::sqrt(err2 / static_cast<double>(x.size())),
      std::sqrt(update2 / static_cast<double>(x.size())), 100.0 * rel, whole_ok ? "" : "  FAILED");
  return ops_ok && whole_ok;
}

}  // namespace

int main(int argc, char** argv) {
  example::LlmLayerConfig config;
  size_t prefill = 16, cache = 1024;
  if (argc > 1 && std::strcmp(argv[1], "--llama") == 0) {
    config.hidden = 2048, config.q_heads = 32, config.kv_heads = 8, config.ffn = 5632;
    config.cache_capacity = 1088;
    prefill = 256;
  } else {
    if (argc > 1) prefill = std::strtoul(argv[1], nullptr, 10);
    if (argc > 2) cache = std::strtoul(argv[2], nullptr, 10);
    if (cache + 64 > config.cache_capacity) config.cache_capacity = cache + 64;
  }
  if (prefill == 0 || cache < 2 || prefill + 1 > config.cache_capacity) {
    std::fprintf(stderr, "usage: llm_layer [PREFILL [CACHE]] | --llama\n");
    return 2;
  }
  LlmLayer layer;
  Status s = layer.init(config, 2026);
  if (!s.ok()) {
    std::fprintf(stderr, "llm_layer: %s\n", s.message());
    return 1;
  }
  std::printf("llm_layer: hidden %zu, heads %zu / %zu of %zu, FFN %zu, QD8QC4W weights\n",
              config.hidden, config.q_heads, config.kv_heads, config.head_dim, config.ffn);
  // Prefill from an empty cache, then the next token decoded from what prefill cached.
  bool ok = run_and_check("prefill", layer, prefill, 1);
  ok = run_and_check("decode after prefill", layer, 1, 2) && ok;
  // Decode with `cache` tokens of context: cache - 1 earlier tokens' K and V (f16 values of
  // the magnitude the projections give), then the new token appended as the last.
  const size_t kv = config.kv_heads * config.head_dim, earlier = cache - 1;
  std::vector<f16> k(earlier * kv), v(earlier * kv);
  uint32_t state = 99;
  for (size_t i = 0; i < k.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    k[i] = to_f16(static_cast<float>(static_cast<double>(state >> 8) / 8388608.0 - 1.0) * 1.5f);
    v[i] = to_f16(static_cast<float>(static_cast<double>((state >> 4) & 0xFFFF) / 32768.0 - 1.0));
  }
  s = layer.set_cache(k.data(), v.data(), earlier);
  ok = s.ok() && run_and_check("decode", layer, 1, 3) && ok;
  std::printf("llm_layer: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
