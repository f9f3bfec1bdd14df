// The operands of attention: [batch, heads, seq, head_dim] tensors read where they lie, the
// call's shape, the mask and the task contract between ops/attention.hpp and its kernels.
//
// Every dimension but head_dim has its own stride (elements), so [B, H, S, D], [B, S, H, D]
// and a KV cache whose capacity exceeds kv_len are all views of one kind; head_dim is
// contiguous. Queries are the last q_len of kv_len positions: query i sits at position
// kv_len - q_len + i (prefill with a cache, decode with q_len 1).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sme2k {

/// A [batch, heads, seq, head_dim] tensor: element (b, h, s, d) at
/// data[b * batch_stride + h * head_stride + s * seq_stride + d].
template <class T>
struct HeadsView {
  T* data = nullptr;
  size_t batch_stride = 0;  // elements
  size_t head_stride = 0;   // elements
  size_t seq_stride = 0;    // elements, >= head_dim
  operator HeadsView<const T>() const { return {data, batch_stride, head_stride, seq_stride}; }
};

/// The extents of one attention call. q_heads is a multiple of kv_heads: query head h reads
/// KV head h / (q_heads / kv_heads) (MHA: equal; GQA: groups; MQA: kv_heads 1).
struct AttentionShape {
  size_t batch = 0;
  size_t q_heads = 0;
  size_t kv_heads = 0;
  size_t q_len = 0;
  size_t kv_len = 0;
  size_t head_dim = 0;  // 1..kMaxHeadDim
};

/// The largest head_dim attention() takes.
constexpr size_t kMaxHeadDim = 256;

/// Which keys a query sees, and what is added to its scores. Combinable: a key is seen when
/// every active rule allows it. A query that sees no key gets zeros.
///   causal: key j seen by query i iff j <= kv_len - q_len + i (its position).
///   window > 0: key j seen iff j > position - window (a sliding window of `window` keys
///     ending at the query's position, with causal; without causal, |position - j| < window).
///   bias != nullptr: score(i, j) += bias[b * bias_batch_stride + h * bias_head_stride +
///     i * bias_ld + j] (an additive float mask [q_len, kv_len]; strides 0 share it across
///     batch items or heads; -inf masks a key).
struct AttentionMask {
  bool causal = false;
  size_t window = 0;
  const float* bias = nullptr;
  size_t bias_ld = 0;            // elements, >= kv_len
  size_t bias_head_stride = 0;   // elements; 0: shared by all heads
  size_t bias_batch_stride = 0;  // elements; 0: shared by all batch items
};

/// O = softmax(scale * Q K^T + mask) V, per batch item and query head.
struct AttentionParams {
  float scale = 0.0f;  // 0: 1 / sqrt(head_dim)
  AttentionMask mask;
};

}  // namespace sme2k
