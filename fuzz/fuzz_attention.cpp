// libFuzzer target: sme2k_attention (F16 with f16 or f32 out, F32): fuzzed shapes (GQA, MQA,
// sometimes impossible or hostile), Q, K, V and O views in [B,H,S,D], [B,S,H,D], a cache of
// spare capacity or fuzzed strides (sometimes overflowing or misaligned), causal, windows of
// any size, an additive bias shared or per head or batch (with -inf entries), scales in and
// out of range, short workspaces and the threading hook. Beyond the invariants: an accepted
// call writes a convex combination of V's rows (or zeros) into every output: finite and no
// larger than V's largest magnitude.
#include <cmath>

#include "fuzz_common.hpp"

using namespace sme2k_fuzz;

namespace {

/// A [batch, heads, len, d] view of its own allocation; `valid` false: the view cannot be.
struct Heads : Operand {
  size_t batch_stride = 0, head_stride = 0, seq_stride = 0;
};

bool make_heads(FuzzedDataProvider& f, size_t batch, size_t heads, size_t len, size_t d,
                size_t esize, bool finite_values, Heads* v) {
  const size_t cap = len + (f.ConsumeIntegralInRange<int>(0, 3) == 0 ? 3 : 0);
  switch (f.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:  // [B, S, H, D]
      v->seq_stride = mul_or_max(heads, d);
      v->head_stride = d;
      v->batch_stride = mul_or_max(cap, v->seq_stride);
      break;
    case 1:  // fuzzed (may overlap, overflow or be short)
      v->seq_stride = ld_for(f, d);
      v->head_stride = size_in(f, 64);
      v->batch_stride = size_in(f, 512);
      break;
    default:  // [B, H, S, D], maybe a cache of capacity cap
      v->seq_stride = d;
      v->head_stride = mul_or_max(cap, d);
      v->batch_stride = mul_or_max(heads, v->head_stride);
      break;
  }
  // The elements spanned: (b-1) bs + (h-1) hs + (s-1) ss + d, as the op checks it.
  size_t bytes = 0;
  const bool fits =
      v->seq_stride >= d &&
      strided_bytes({batch, heads, len}, {v->batch_stride, v->head_stride, v->seq_stride}, d, esize,
                    &bytes);
  const bool misalign = f.ConsumeIntegralInRange<int>(0, 63) == 0;
  v->valid = fits && !misalign;
  v->misaligned = misalign;
  if (!allocate(f, fits ? bytes : 64, misalign, v)) return false;
  if (finite_values) make_finite(v, esize == 4 ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider f(data, size);
  const int pick = f.ConsumeIntegralInRange<int>(0, 31);
  const sme2k_variant variant = pick == 0         ? enum_in<sme2k_variant>(f, 1, 7)
                                : f.ConsumeBool() ? SME2K_VARIANT_F16
                                                  : SME2K_VARIANT_F32;
  const sme2k_dtype in = variant == SME2K_VARIANT_F16 ? SME2K_DTYPE_F16 : SME2K_DTYPE_F32;
  const sme2k_dtype out =
      variant == SME2K_VARIANT_F16 && f.ConsumeBool() ? SME2K_DTYPE_F16 : SME2K_DTYPE_F32;
  const size_t esize = dtype_bytes(in), osize = dtype_bytes(out);
  sme2k_attention_shape shape;
  shape.batch = f.ConsumeIntegralInRange<int>(0, 15) == 0 ? size_in(f, 3) : 1 + f.ConsumeBool();
  shape.kv_heads = size_in(f, 3);
  const size_t group =
      f.ConsumeIntegralInRange<int>(0, 15) == 0 ? size_in(f, 5) : f.ConsumeIntegralInRange(1, 4);
  shape.q_heads = mul_or_max(shape.kv_heads, group);
  if (f.ConsumeIntegralInRange<int>(0, 15) == 0) shape.q_heads += 1;  // not a multiple
  shape.q_len = size_in(f, 9);
  shape.kv_len = size_in(f, 24);
  shape.head_dim = size_in(f, 72);
  const bool possible_shape = shape.batch > 0 && shape.kv_heads > 0 && shape.q_heads > 0 &&
                              shape.q_len > 0 && shape.kv_len > 0 && shape.head_dim > 0 &&
                              shape.head_dim <= 256 && shape.q_heads % shape.kv_heads == 0;
  Heads q, k, v, o;
  if (!make_heads(f, shape.batch, shape.q_heads, shape.q_len, shape.head_dim, esize, true, &q) ||
      !make_heads(f, shape.batch, shape.kv_heads, shape.kv_len, shape.head_dim, esize, true, &k) ||
      !make_heads(f, shape.batch, shape.kv_heads, shape.kv_len, shape.head_dim, esize, true, &v) ||
      !make_heads(f, shape.batch, shape.q_heads, shape.q_len, shape.head_dim, osize, false, &o)) {
    return 0;
  }
  // Bounded work: a call that could run and would take too long is skipped (hostile sizes
  // whose views cannot be allocated never get here; those that overflow are refused).
  if (possible_shape && q.valid && k.valid && v.valid && o.valid &&
      too_much_work(double(shape.batch) * double(shape.q_heads), double(shape.q_len),
                    double(shape.kv_len), double(shape.head_dim))) {
    return 0;
  }
  // Params: scale, causal, window, bias.
  sme2k_attention_params params;
  std::memset(&params, 0, sizeof params);
  static constexpr float kScales[] = {0.0f, 0.125f, 1.0f, 1e6f, -1.0f, INFINITY, NAN, 2e6f};
  params.scale =
      kScales[f.ConsumeIntegralInRange<int>(0, 15) % 8 < 4 ? f.ConsumeIntegralInRange<int>(0, 3)
                                                           : f.ConsumeIntegralInRange<int>(0, 7)];
  params.causal = f.ConsumeBool();
  static constexpr size_t kWindows[] = {0, 1, 2, 5, 17, SIZE_MAX, PTRDIFF_MAX, size_t{1} << 62};
  params.window = f.PickValueInArray(kWindows);
  Operand bias;
  bool bias_valid = true;
  if (f.ConsumeBool()) {
    const int share = f.ConsumeIntegralInRange<int>(0, 2);  // shared, per head, per batch+head
    params.bias_ld = ld_for(f, shape.kv_len);
    const size_t per_head = mul_or_max(shape.q_len, params.bias_ld);
    params.bias_head_stride = share == 0 ? 0 : per_head;
    params.bias_batch_stride = share == 2 ? mul_or_max(shape.q_heads, per_head) : 0;
    if (f.ConsumeIntegralInRange<int>(0, 15) == 0) params.bias_head_stride = size_in(f, 64);
    size_t bytes = 0;
    const bool fits =
        params.bias_ld >= shape.kv_len &&
        strided_bytes({shape.batch, shape.q_heads, shape.q_len},
                      {params.bias_batch_stride, params.bias_head_stride, params.bias_ld},
                      shape.kv_len, 4, &bytes);
    const bool misalign = f.ConsumeIntegralInRange<int>(0, 31) == 0;
    bias_valid = fits && !misalign;
    if (!allocate(f, fits ? bytes : 64, misalign, &bias)) return 0;
    if (bias_valid) {
      make_finite(&bias, SME2K_DTYPE_F32);
      auto* b = reinterpret_cast<float*>(bias.data);
      const int every = f.ConsumeIntegralInRange<int>(0, 5);
      for (size_t i = 0; i < bias.bytes / 4; ++i) {
        if (every == 5 || (every != 0 && i % (every + 1) == 0)) b[i] = -INFINITY;
      }
    }
    params.bias = reinterpret_cast<const float*>(bias.data);
  }
  sme2k_parallel_for pf;
  const sme2k_parallel_for* parallel = parallel_from(f, &pf);
  size_t ws_bytes = 0;
  if (sme2k_attention_workspace_size(variant, &shape, out, &ws_bytes, parallel) != SME2K_OK) {
    ws_bytes = 64;
  }
  const bool short_ws = ws_bytes > 0 && f.ConsumeIntegralInRange<int>(0, 15) == 0;
  Operand ws;
  if (!allocate(f, short_ws ? ws_bytes - 1 : ws_bytes, f.ConsumeBool(), &ws)) return 0;
  const bool use_params = f.ConsumeIntegralInRange<int>(0, 7) != 0;

  const sme2k_heads qh = {q.data, q.batch_stride, q.head_stride, q.seq_stride, in};
  const sme2k_heads kh = {k.data, k.batch_stride, k.head_stride, k.seq_stride, in};
  const sme2k_heads vh = {v.data, v.batch_stride, v.head_stride, v.seq_stride, in};
  const sme2k_mutable_heads oh = {o.data, o.batch_stride, o.head_stride, o.seq_stride, out};
  const Snapshot snap(o);
  const sme2k_status s = sme2k_attention(
      variant, &shape, qh, kh, vh, oh, use_params ? &params : nullptr, ws.data, ws.bytes, parallel);
  const bool bad_params =
      use_params &&
      (!bias_valid || !std::isfinite(params.scale) || params.scale < 0.0f || params.scale > 1e6f ||
       ((params.causal || params.window > 0) && shape.q_len > shape.kv_len));
  check(s,
        !possible_shape || !q.valid || !k.valid || !v.valid || !o.valid || bad_params || short_ws ||
            (variant != SME2K_VARIANT_F16 && variant != SME2K_VARIANT_F32),
        {&snap}, "attention accepted invalid input");
  if (s != SME2K_OK) return 0;
  // Every output: within V's largest magnitude (a convex combination of V rows, or 0).
  float vmax = 0.0f;
  for (size_t i = 0; i + esize <= v.bytes; i += esize) {
    vmax = std::fmax(vmax, std::fabs(element_at(v.data + i, in)));
  }
  const float bound = vmax * 1.01f + 1e-6f;
  for (size_t b = 0; b < shape.batch; ++b) {
    for (size_t h = 0; h < shape.q_heads; ++h) {
      for (size_t i = 0; i < shape.q_len; ++i) {
        const size_t row = b * o.batch_stride + h * o.head_stride + i * o.seq_stride;
        for (size_t d = 0; d < shape.head_dim; ++d) {
          const float x = element_at(o.data + (row + d) * osize, out);
          if (!(std::fabs(x) <= bound)) fail("attention: an output beyond V's magnitude", s);
        }
      }
    }
  }
  return 0;
}
