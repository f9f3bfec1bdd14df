// One Llama-style decoder layer on sme2k's ops, as a runtime would run it at batch 1:
//
//   h    = rms_norm(x, w_attn_norm)                       f32 rows
//   qkv  = h Wqkv                                          gemm<QD8QC4W>, f16 out [T, (Hq + 2 Hkv) D]
//   rope(q heads, k heads) at positions p0 .. p0 + T - 1  in place, half-split (Hugging Face)
//   K, V cache rows p0 .. p0 + T - 1 = k, v               f16 cache [capacity, Hkv, D]
//   o    = attention(q, K[0, p0 + T), V[0, p0 + T))        attention<F16>, causal, GQA, f16 out
//   x    = x + o Wo                                        gemm<QD8QC4W> (f16 activations), f32
//   h    = rms_norm(x, w_ffn_norm)
//   g    = silu(h Wg); u = h Wu                            two gemm<QD8QC4W>, SiLU in the epilogue
//   x    = x + (g * u) Wd                                  the product here, then gemm<QD8QC4W>
//
// Prefill is T tokens from p0 = 0 (or after a cached prefix); decode is T = 1 with the cache
// holding p0 earlier tokens. Every weight matrix is 4-bit, symmetric per output channel (QC4W:
// value q in -8..7 times the channel's f32 scale), packed once at init; activations are
// quantized per row to int8 inside each GEMM (QD8).
//
// The gated FFN is not yet one GEMM in sme2k (issue 20, item 3: gate and up packed together,
// silu(x Wg) * (x Wu) in the epilogue): until then the gate and up projections are two calls
// and their product is the elementwise loop below.
//
// Per-op hooks: forward() calls hooks.begin(context, op) before and hooks.end(context, op)
// after each op of LayerOp, so a caller can put each op inside its own ROI
// (sme2k_roi_begin / sme2k_roi_end) and attribute modeled cycles per op, or snapshot the
// buffers between ops (examples/llm_layer.cpp checks every op that way).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "sme2k/sme2k.hpp"

namespace sme2k {
namespace example {

struct LlmLayerConfig {
  size_t hidden = 512;  // = q_heads * head_dim
  size_t q_heads = 8, kv_heads = 2, head_dim = 64;
  size_t ffn = 1024;
  size_t cache_capacity = 1088;  // K / V rows the cache holds (> the longest context used)
  float eps = 1e-5f;
  double rope_theta = 10000.0;
};

/// The ops of one forward(), in order.
enum class LayerOp : uint8_t {
  kAttnNorm,
  kQkvProj,
  kRope,
  kKvAppend,
  kAttention,
  kOutProj,
  kAttnResidual,
  kFfnNorm,
  kGateProj,  // SiLU in the GEMM's epilogue
  kUpProj,
  kSwiGlu,  // g * u, elementwise (pending the fused gated-FFN GEMM)
  kDownProj,
  kFfnResidual,
  kCount
};

inline const char* layer_op_name(LayerOp op) {
  static const char* const kNames[] = {
      "attn_norm", "qkv_proj",  "rope",    "kv_append", "attention", "out_proj", "attn_add",
      "ffn_norm",  "gate_silu", "up_proj", "swiglu",    "down_proj", "ffn_add"};
  return op < LayerOp::kCount ? kNames[static_cast<size_t>(op)] : "?";
}

/// Called around every op (either may be null).
struct LayerHooks {
  void (*begin)(void* context, LayerOp op) = nullptr;
  void (*end)(void* context, LayerOp op) = nullptr;
  void* context = nullptr;
};

/// One linear layer's weights as the model holds them (4-bit values as int8, row n: output n,
/// N x K) and as sme2k packed them.
struct Int4Linear {
  size_t n = 0, k = 0;
  std::vector<int8_t> values;  // N x K, -8..7
  std::vector<float> scales;   // N
  std::vector<uint8_t> packed;

  double weight(size_t row, size_t col) const {
    return static_cast<double>(values[row * k + col]) * static_cast<double>(scales[row]);
  }
};

class LlmLayer {
 public:
  /// Random weights (seeded), packed; RoPE tables for every cache position; empty cache.
  Status init(const LlmLayerConfig& config, uint32_t seed) {
    c_ = config;
    if (c_.q_heads * c_.head_dim != c_.hidden || c_.kv_heads == 0 || c_.q_heads % c_.kv_heads) {
      return Status::error(StatusCode::kInvalidArgument, "llm_layer: inconsistent head shape");
    }
    uint32_t state = seed;
    auto uniform = [&state](double lo, double hi) {
      state = state * 1664525u + 1013904223u;
      return lo + (hi - lo) * static_cast<double>(state >> 8) / 16777216.0;
    };
    const size_t kv = c_.kv_heads * c_.head_dim;
    SME2K_RETURN_IF_ERROR(make_linear(c_.hidden + 2 * kv, c_.hidden, uniform, &qkv_));
    SME2K_RETURN_IF_ERROR(make_linear(c_.hidden, c_.hidden, uniform, &o_));
    SME2K_RETURN_IF_ERROR(make_linear(c_.ffn, c_.hidden, uniform, &gate_));
    SME2K_RETURN_IF_ERROR(make_linear(c_.ffn, c_.hidden, uniform, &up_));
    SME2K_RETURN_IF_ERROR(make_linear(c_.hidden, c_.ffn, uniform, &down_));
    attn_norm_.resize(c_.hidden);
    ffn_norm_.resize(c_.hidden);
    for (float& w : attn_norm_) w = static_cast<float>(uniform(0.5, 1.5));
    for (float& w : ffn_norm_) w = static_cast<float>(uniform(0.5, 1.5));
    const size_t half = c_.head_dim / 2;
    cos_.resize(c_.cache_capacity * half);
    sin_.resize(c_.cache_capacity * half);
    for (size_t p = 0; p < c_.cache_capacity; ++p) {
      for (size_t i = 0; i < half; ++i) {
        const double angle =
            static_cast<double>(p) *
            std::pow(c_.rope_theta, -static_cast<double>(2 * i) / static_cast<double>(c_.head_dim));
        cos_[p * half + i] = static_cast<float>(std::cos(angle));
        sin_[p * half + i] = static_cast<float>(std::sin(angle));
      }
    }
    k_cache_.assign(c_.cache_capacity * kv, f16{});
    v_cache_.assign(c_.cache_capacity * kv, f16{});
    length_ = 0;
    return Status();
  }

  /// Runs the layer on x ([tokens, hidden] f32, updated in place: the residual stream) for the
  /// tokens at cache positions length() .. length() + tokens - 1, appending their K and V.
  Status forward(float* x, size_t tokens, const LayerHooks& hooks = {},
                 const ParallelFor& parallel = {}) {
    const size_t t = tokens, hd = c_.hidden, d = c_.head_dim, kv = c_.kv_heads * d;
    const size_t nqkv = hd + 2 * kv, p0 = length_;
    if (x == nullptr || t == 0 || p0 + t > c_.cache_capacity) {
      return Status::error(StatusCode::kInvalidArgument,
                           "llm_layer: %zu tokens at position %zu (cache capacity %zu)", t, p0,
                           c_.cache_capacity);
    }
    h_.resize(t * hd);
    qkv_out_.resize(t * nqkv);
    attn_.resize(t * hd);
    proj_.resize(t * hd);
    gate_out_.resize(t * c_.ffn);
    up_out_.resize(t * c_.ffn);
    const AttentionShape shape{1, c_.q_heads, c_.kv_heads, t, p0 + t, d};
    size_t ws = 0, bytes = 0;
    for (const Int4Linear* w : {&qkv_, &o_, &gate_, &up_, &down_}) {
      SME2K_RETURN_IF_ERROR(
          gemm_workspace_size<QD8QC4W>(t, w->n, w->k, &bytes, OutputOrder::kRowMajor, parallel));
      ws = bytes > ws ? bytes : ws;
    }
    SME2K_RETURN_IF_ERROR((attention_workspace_size<F16, f16>(shape, &bytes, parallel)));
    workspace_.resize((bytes > ws ? bytes : ws) + 1);
    const Op op{hooks};

    const MatrixView<float> xv{x, t, hd, hd};
    const MatrixView<float> hv{h_.data(), t, hd, hd};
    SME2K_RETURN_IF_ERROR(op(LayerOp::kAttnNorm, [&] {
      return rms_norm<float>(xv, hv, attn_norm_.data(), c_.eps, parallel);
    }));
    SME2K_RETURN_IF_ERROR(op(LayerOp::kQkvProj, [&] {
      return linear<float, f16>(qkv_, hv, qkv_out_.data(), {}, parallel);
    }));
    // Q and K heads are adjacent in each row: one call rotates both.
    SME2K_RETURN_IF_ERROR(op(LayerOp::kRope, [&] {
      const RopeTensor<f16> qk{qkv_out_.data(), 1,    t, c_.q_heads + c_.kv_heads, d,
                               t * nqkv,        nqkv, d};
      return rope<f16>(qk, RopeTables{cos_.data(), sin_.data(), c_.cache_capacity, d},
                       RopePairing::kHalfSplit, nullptr, p0, parallel);
    }));
    SME2K_RETURN_IF_ERROR(op(LayerOp::kKvAppend, [&] {
      for (size_t s = 0; s < t; ++s) {
        const f16* row = qkv_out_.data() + s * nqkv + hd;
        std::memcpy(&k_cache_[(p0 + s) * kv], row, kv * sizeof(f16));
        std::memcpy(&v_cache_[(p0 + s) * kv], row + kv, kv * sizeof(f16));
      }
      return Status();
    }));
    SME2K_RETURN_IF_ERROR(op(LayerOp::kAttention, [&] {
      const HeadsView<const f16> q{qkv_out_.data(), t * nqkv, d, nqkv};
      const HeadsView<const f16> k{k_cache_.data(), c_.cache_capacity * kv, d, kv};
      const HeadsView<const f16> v{v_cache_.data(), c_.cache_capacity * kv, d, kv};
      const HeadsView<f16> o{attn_.data(), t * hd, d, hd};
      AttentionParams params;  // scale 1 / sqrt(D)
      params.mask.causal = true;
      return attention<F16, f16>(shape, q, k, v, o, params, workspace_.data(), workspace_.size(),
                                 parallel);
    }));
    SME2K_RETURN_IF_ERROR(op(LayerOp::kOutProj, [&] {
      return linear<f16, float>(o_, MatrixView<const f16>{attn_.data(), t, hd, hd}, proj_.data(),
                                {}, parallel);
    }));
    SME2K_RETURN_IF_ERROR(op(LayerOp::kAttnResidual, [&] { return add(x, proj_.data(), t * hd); }));
    SME2K_RETURN_IF_ERROR(op(LayerOp::kFfnNorm, [&] {
      return rms_norm<float>(xv, hv, ffn_norm_.data(), c_.eps, parallel);
    }));
    GemmEpilogue silu;
    silu.activation = Activation::kSilu;
    SME2K_RETURN_IF_ERROR(op(LayerOp::kGateProj, [&] {
      return linear<float, float>(gate_, hv, gate_out_.data(), silu, parallel);
    }));
    SME2K_RETURN_IF_ERROR(op(LayerOp::kUpProj, [&] {
      return linear<float, float>(up_, hv, up_out_.data(), {}, parallel);
    }));
    // Pending the fused gated-FFN GEMM: the elementwise product, in place in the gate buffer.
    SME2K_RETURN_IF_ERROR(op(LayerOp::kSwiGlu, [&] {
      for (size_t i = 0; i < t * c_.ffn; ++i) gate_out_[i] *= up_out_[i];
      return Status();
    }));
    SME2K_RETURN_IF_ERROR(op(LayerOp::kDownProj, [&] {
      return linear<float, float>(down_,
                                  MatrixView<const float>{gate_out_.data(), t, c_.ffn, c_.ffn},
                                  proj_.data(), {}, parallel);
    }));
    SME2K_RETURN_IF_ERROR(op(LayerOp::kFfnResidual, [&] { return add(x, proj_.data(), t * hd); }));
    length_ = p0 + t;
    return Status();
  }

  /// Puts `n` tokens' K and V rows (f16 [n, kv_heads, head_dim] each) into the cache as if
  /// earlier forward() calls had computed them (a restored session, or a test's history).
  Status set_cache(const f16* k, const f16* v, size_t n) {
    if (n > c_.cache_capacity) {
      return Status::error(StatusCode::kInvalidArgument, "llm_layer: %zu cached tokens > %zu", n,
                           c_.cache_capacity);
    }
    const size_t kv = c_.kv_heads * c_.head_dim;
    std::memcpy(k_cache_.data(), k, n * kv * sizeof(f16));
    std::memcpy(v_cache_.data(), v, n * kv * sizeof(f16));
    length_ = n;
    return Status();
  }

  const LlmLayerConfig& config() const { return c_; }
  size_t length() const { return length_; }
  const Int4Linear& qkv() const { return qkv_; }
  const Int4Linear& out() const { return o_; }
  const Int4Linear& gate() const { return gate_; }
  const Int4Linear& up() const { return up_; }
  const Int4Linear& down() const { return down_; }
  const std::vector<float>& attn_norm() const { return attn_norm_; }
  const std::vector<float>& ffn_norm() const { return ffn_norm_; }
  const std::vector<float>& rope_cos() const { return cos_; }
  const std::vector<float>& rope_sin() const { return sin_; }
  const std::vector<f16>& k_cache() const { return k_cache_; }
  const std::vector<f16>& v_cache() const { return v_cache_; }
  // The last forward()'s intermediates (valid between ops in a hook, and after it).
  const std::vector<float>& normed() const { return h_; }        // attn_norm / ffn_norm out
  const std::vector<f16>& qkv_rows() const { return qkv_out_; }  // [T, hidden + 2 kv]
  const std::vector<f16>& attention_out() const { return attn_; }
  const std::vector<float>& projected() const { return proj_; }      // out_proj / down_proj out
  const std::vector<float>& gate_rows() const { return gate_out_; }  // silu(g), then g * u
  const std::vector<float>& up_rows() const { return up_out_; }

 private:
  /// Runs one op between its hooks.
  struct Op {
    const LayerHooks& hooks;
    template <class F>
    Status operator()(LayerOp id, F&& body) const {
      if (hooks.begin != nullptr) hooks.begin(hooks.context, id);
      const Status s = body();
      if (hooks.end != nullptr) hooks.end(hooks.context, id);
      return s;
    }
  };

  template <class Uniform>
  static Status make_linear(size_t n, size_t k, Uniform& uniform, Int4Linear* w) {
    w->n = n, w->k = k;
    w->values.resize(n * k);
    w->scales.resize(n);
    for (int8_t& q : w->values) q = static_cast<int8_t>(std::lround(uniform(-8.49, 7.49)));
    // Outputs of the order of the inputs: sum_k q^2 ~ 21 K.
    for (float& s : w->scales) {
      s = static_cast<float>(uniform(0.6, 1.4) / std::sqrt(21.0 * static_cast<double>(k)));
    }
    size_t bytes = 0;
    SME2K_RETURN_IF_ERROR(gemm_packed_rhs_size<QD8QC4W>(n, k, &bytes));
    w->packed.resize(bytes);
    return gemm_pack_rhs<QD8QC4W>(Int4View{w->values.data(), n, k, k, Int4Storage::kInt8},
                                  RhsLayout::kNxK, nullptr, w->scales.data(), w->packed.data(),
                                  bytes);
  }

  template <class In, class Out>
  Status linear(const Int4Linear& w, MatrixView<const In> a, Out* c, const GemmEpilogue& epilogue,
                const ParallelFor& parallel) {
    return gemm<QD8QC4W, Out>(a, w.packed.data(), w.packed.size(),
                              MatrixView<Out>{c, a.rows, w.n, w.n}, epilogue, workspace_.data(),
                              workspace_.size(), parallel);
  }

  static Status add(float* x, const float* y, size_t n) {
    for (size_t i = 0; i < n; ++i) x[i] += y[i];
    return Status();
  }

  LlmLayerConfig c_;
  Int4Linear qkv_, o_, gate_, up_, down_;
  std::vector<float> attn_norm_, ffn_norm_, cos_, sin_;
  std::vector<f16> k_cache_, v_cache_;
  size_t length_ = 0;
  std::vector<float> h_, proj_, gate_out_, up_out_;
  std::vector<f16> qkv_out_, attn_;
  std::vector<unsigned char> workspace_;
};

}  // namespace example
}  // namespace sme2k
