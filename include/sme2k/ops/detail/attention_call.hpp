// The contract between ops/attention.hpp and the attention kernels: one validated call, cut
// into work units of (batch item, KV head, block of q_step query rows). A unit covers every
// query head that reads its KV head (GQA: the group's heads share one pass over K and V).
//
// A kernel type declares
//   kName, kPath                                    what runs (registry, plan query)
//   q_step(vl)                                      query rows per unit
//   kv_step(vl)                                     keys per block (names the tile)
//   workspace_bytes(shape, vl, &bytes)              one task's scratch; false on overflow
//   run(call, units, first, last, workspace)        units [first, last) in order, one
//                                                   streaming session for all of them
// and never validates: the op has checked shapes, strides, the mask and the workspace.
// A unit's output depends on that unit's inputs only (never on which units share a run() or
// a task), so any task split gives the same bits. q_len > kv_len reaches a kernel only
// without causal and window (the op refuses it otherwise): positions are then never used.
#pragma once

#include <cstddef>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/attention.hpp"

namespace sme2k {
namespace detail {

/// A validated attention call (scale resolved, q_heads a multiple of kv_heads).
template <class In, class Out>
struct AttentionCall {
  AttentionShape shape;
  HeadsView<const In> q, k, v;
  HeadsView<Out> o;
  float scale = 1.0f;
  AttentionMask mask;

  size_t group() const SME2K_STREAMING_COMPATIBLE { return shape.q_heads / shape.kv_heads; }
  /// Position of query row i among the keys.
  size_t position(size_t i) const SME2K_STREAMING_COMPATIBLE {
    return shape.kv_len - shape.q_len + i;
  }
  /// Keys [first, last) that the causal and window rules let query row i see (the bias may
  /// mask more). first >= last: none.
  void visible_keys(size_t i, size_t* first, size_t* last) const SME2K_STREAMING_COMPATIBLE {
    const size_t pos = position(i);
    *first = 0;
    *last = mask.causal ? pos + 1 : shape.kv_len;
    if (mask.window > 0) {
      *first = pos + 1 > mask.window ? pos + 1 - mask.window : 0;
      // |pos - j| < window; compared as a distance, since pos + window may not fit
      if (!mask.causal && mask.window < *last - pos) *last = pos + mask.window;
    }
    if (*last > shape.kv_len) *last = shape.kv_len;
  }
  /// The additive mask row of (batch b, query head h, query row i), or nullptr.
  const float* bias_row(size_t b, size_t h, size_t i) const SME2K_STREAMING_COMPATIBLE {
    if (mask.bias == nullptr) return nullptr;
    return mask.bias + b * mask.bias_batch_stride + h * mask.bias_head_stride + i * mask.bias_ld;
  }
  const In* q_row(size_t b, size_t h, size_t i) const SME2K_STREAMING_COMPATIBLE {
    return q.data + b * q.batch_stride + h * q.head_stride + i * q.seq_stride;
  }
  const In* k_row(size_t b, size_t g, size_t j) const SME2K_STREAMING_COMPATIBLE {
    return k.data + b * k.batch_stride + g * k.head_stride + j * k.seq_stride;
  }
  const In* v_row(size_t b, size_t g, size_t j) const SME2K_STREAMING_COMPATIBLE {
    return v.data + b * v.batch_stride + g * v.head_stride + j * v.seq_stride;
  }
  Out* o_row(size_t b, size_t h, size_t i) const SME2K_STREAMING_COMPATIBLE {
    return o.data + b * o.batch_stride + h * o.head_stride + i * o.seq_stride;
  }
};

/// One unit of work: batch item, KV head, query rows [row_begin, row_end) of every query
/// head of that KV head.
struct AttentionUnit {
  size_t batch, kv_head, row_begin, row_end;
};

/// The units of a call for a kernel whose q_step is `q_step`: (batch, kv_head, row block),
/// row blocks fastest, so consecutive units share K and V.
struct AttentionUnits {
  AttentionShape shape;
  size_t q_step = 1;

  size_t row_blocks() const SME2K_STREAMING_COMPATIBLE {
    return (shape.q_len + q_step - 1) / q_step;
  }
  size_t count() const SME2K_STREAMING_COMPATIBLE {
    return shape.batch * shape.kv_heads * row_blocks();
  }
  AttentionUnit operator[](size_t u) const SME2K_STREAMING_COMPATIBLE {
    const size_t blocks = row_blocks();
    const size_t block = u % blocks, bg = u / blocks;
    const size_t begin = block * q_step;
    const size_t end = begin + q_step < shape.q_len ? begin + q_step : shape.q_len;
    return {bg / shape.kv_heads, bg % shape.kv_heads, begin, end};
  }
};

}  // namespace detail
}  // namespace sme2k
