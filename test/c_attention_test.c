/* sme2k_attention() from plain C11: F16 (f16 and f32 out) and F32 against a double reference
 * on a GQA shape in [B, S, H, D] layout with a causal mask, a per-head bias with -inf entries
 * and a KV cache of spare capacity; the threading hook (tasks run in reverse order by a
 * counting parallel-for must give the serial bytes); and bad input.
 *
 * Bound per output: tol = rel * sum_j w_j |v_jd| + out rounding, rel = 2^-12 (scores of at
 * most 8 f16 products of values <= 1 are exact to ~2^-21 absolute, the f32 sums of 9 terms to
 * 2^-20; the SME2 path's f16 P and polynomial exp add <= 2 (2^-11 + 1e-4): covered with room),
 * f16 out adds 2^-11 |o|. Exits non-zero after printing every failed check. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_test_harness.h"
#include "sme2k.h"

enum { B = 2, HQ = 4, HKV = 2, SQ = 5, SKV = 9, CAP = 12, D = 7 };

/* [B, S, H, D]: element (b, h, s, d) at b * S*H*D + s * H*D + h * D + d. */
static size_t at(size_t heads, size_t cap, size_t b, size_t h, size_t s) {
  return b * cap * heads * D + s * heads * D + h * D;
}

static float g_q[B * SQ * HQ * D], g_k[B * CAP * HKV * D], g_v[B * CAP * HKV * D];
static float g_bias[HQ * SQ * SKV];
static uint16_t g_q16[B * SQ * HQ * D], g_k16[B * CAP * HKV * D], g_v16[B * CAP * HKV * D];

static double g_ref[B * HQ * SQ * D], g_weighted[B * HQ * SQ * D];

static void make_inputs(void) {
  uint32_t state = 12345u;
  float* arrays[3] = {g_q, g_k, g_v};
  const size_t counts[3] = {B * SQ * HQ * D, B * CAP * HKV * D, B * CAP * HKV * D};
  uint16_t* halves[3] = {g_q16, g_k16, g_v16};
  for (int a = 0; a < 3; ++a) {
    for (size_t i = 0; i < counts[a]; ++i) {
      state = state * 1664525u + 1013904223u;
      arrays[a][i] = (float)((int)((state >> 8) % 2048) - 1024) / 1024.0f; /* f16-exact */
      halves[a][i] = sme2k_f32_to_f16(arrays[a][i]);
    }
  }
  for (size_t i = 0; i < HQ * SQ * SKV; ++i) {
    state = state * 1664525u + 1013904223u;
    g_bias[i] = (state >> 8) % 5 == 0 ? -INFINITY : (float)((state >> 12) % 64) / 32.0f - 1.0f;
  }
}

/* Plain softmax over the keys query i sees (causal: j <= SKV - SQ + i; bias not -inf). */
static void reference(double scale) {
  for (size_t b = 0; b < B; ++b)
    for (size_t h = 0; h < HQ; ++h)
      for (size_t i = 0; i < SQ; ++i) {
        const size_t g = h / (HQ / HKV), row = ((b * HQ + h) * SQ + i) * D;
        const float* bias = g_bias + (h * SQ + i) * SKV;
        double s[SKV], mx = -INFINITY, sum = 0;
        for (size_t j = 0; j < SKV; ++j) {
          s[j] = -INFINITY;
          if (j > SKV - SQ + i || bias[j] == -INFINITY) continue;
          double dot = 0;
          for (size_t d = 0; d < D; ++d) {
            dot += (double)g_q[at(HQ, SQ, b, h, i) + d] * g_k[at(HKV, CAP, b, g, j) + d];
          }
          s[j] = scale * dot + bias[j];
          if (s[j] > mx) mx = s[j];
        }
        for (size_t d = 0; d < D; ++d) g_ref[row + d] = g_weighted[row + d] = 0;
        if (mx == -INFINITY) continue;
        for (size_t j = 0; j < SKV; ++j) sum += s[j] == -INFINITY ? 0 : exp(s[j] - mx);
        for (size_t j = 0; j < SKV; ++j) {
          if (s[j] == -INFINITY) continue;
          const double w = exp(s[j] - mx) / sum;
          for (size_t d = 0; d < D; ++d) {
            const double x = g_v[at(HKV, CAP, b, g, j) + d];
            g_ref[row + d] += w * x;
            g_weighted[row + d] += w * fabs(x);
          }
        }
      }
}

/* A parallel-for that runs the tasks on the calling thread, last first, and counts them. */
typedef struct {
  size_t runs, tasks;
} reverse_pool;
static void reverse_run(void* context, size_t count, void (*task)(void*, size_t), void* tc) {
  reverse_pool* pool = context;
  ++pool->runs;
  pool->tasks += count;
  for (size_t i = count; i-- > 0;) task(tc, i);
}

static sme2k_heads heads(const void* data, size_t heads_count, size_t cap, sme2k_dtype dtype) {
  sme2k_heads h = {data, cap * heads_count * D, D, heads_count * D, dtype};
  return h;
}

static sme2k_status run(sme2k_variant variant, sme2k_dtype out_dtype, void* out,
                        const sme2k_parallel_for* parallel) {
  const sme2k_attention_shape shape = {B, HQ, HKV, SQ, SKV, D};
  const int f16 = variant == SME2K_VARIANT_F16;
  const sme2k_dtype in = f16 ? SME2K_DTYPE_F16 : SME2K_DTYPE_F32;
  const sme2k_heads q = heads(f16 ? (const void*)g_q16 : g_q, HQ, SQ, in);
  const sme2k_heads k = heads(f16 ? (const void*)g_k16 : g_k, HKV, CAP, in);
  const sme2k_heads v = heads(f16 ? (const void*)g_v16 : g_v, HKV, CAP, in);
  const sme2k_mutable_heads o = {out, SQ * HQ * D, D, HQ * D, out_dtype};
  sme2k_attention_params params;
  memset(&params, 0, sizeof params);
  params.scale = 0.5f;
  params.causal = true;
  params.bias = g_bias;
  params.bias_ld = SKV;
  params.bias_head_stride = SQ * SKV;
  size_t bytes = 0;
  const sme2k_status s =
      sme2k_attention_workspace_size(variant, &shape, out_dtype, &bytes, parallel);
  if (s != SME2K_OK) return s;
  void* workspace = malloc(bytes);
  const sme2k_status r =
      sme2k_attention(variant, &shape, q, k, v, o, &params, workspace, bytes, parallel);
  free(workspace);
  return r;
}

static void check_variant(sme2k_variant variant, sme2k_dtype out_dtype) {
  float out32[B * SQ * HQ * D];
  uint16_t out16[B * SQ * HQ * D];
  void* out = out_dtype == SME2K_DTYPE_F32 ? (void*)out32 : (void*)out16;
  const size_t out_bytes = out_dtype == SME2K_DTYPE_F32 ? sizeof out32 : sizeof out16;
  EXPECT_STATUS(SME2K_OK, run(variant, out_dtype, out, NULL));
  for (size_t b = 0; b < B; ++b)
    for (size_t h = 0; h < HQ; ++h)
      for (size_t i = 0; i < SQ; ++i)
        for (size_t d = 0; d < D; ++d) {
          const size_t e = at(HQ, SQ, b, h, i) + d, r = ((b * HQ + h) * SQ + i) * D + d;
          const double got = out_dtype == SME2K_DTYPE_F32 ? out32[e] : sme2k_f16_to_f32(out16[e]);
          const double tol = ldexp(g_weighted[r], -12) +
                             (out_dtype == SME2K_DTYPE_F16 ? ldexp(fabs(g_ref[r]), -11) : 0.0);
          CHECK(fabs(got - g_ref[r]) <= tol, "variant %d out %d: o(%zu,%zu,%zu,%zu) = %g, want %g",
                (int)variant, (int)out_dtype, b, h, i, d, got, g_ref[r]);
        }
  /* tasks in any order give the serial bytes */
  unsigned char serial[sizeof out32];
  memcpy(serial, out, out_bytes);
  memset(out, 0x5A, out_bytes);
  reverse_pool pool = {0, 0};
  const sme2k_parallel_for parallel = {reverse_run, &pool, 3};
  EXPECT_STATUS(SME2K_OK, run(variant, out_dtype, out, &parallel));
  CHECK(pool.runs == 1 && pool.tasks == 3, "runs %zu tasks %zu", pool.runs, pool.tasks);
  CHECK(memcmp(serial, out, out_bytes) == 0, "variant %d: 3 tasks differ from serial",
        (int)variant);
}

static void check_bad_input(void) {
  const sme2k_attention_shape shape = {B, HQ, HKV, SQ, SKV, D};
  float out[B * SQ * HQ * D];
  size_t bytes = 0;
  const sme2k_heads q = heads(g_q, HQ, SQ, SME2K_DTYPE_F32);
  const sme2k_heads k = heads(g_k, HKV, CAP, SME2K_DTYPE_F32);
  const sme2k_heads v = heads(g_v, HKV, CAP, SME2K_DTYPE_F32);
  sme2k_mutable_heads o = {out, SQ * HQ * D, D, HQ * D, SME2K_DTYPE_F32};
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_attention_workspace_size(SME2K_VARIANT_F32, NULL,
                                                                   SME2K_DTYPE_F32, &bytes, NULL));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_attention_workspace_size(SME2K_VARIANT_QS8, &shape,
                                                                  SME2K_DTYPE_INT8, &bytes, NULL));
  EXPECT_STATUS(
      SME2K_INVALID_ARGUMENT,
      sme2k_attention_workspace_size((sme2k_variant)99, &shape, SME2K_DTYPE_F32, &bytes, NULL));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_attention_workspace_size(SME2K_VARIANT_F32, &shape,
                                                                  SME2K_DTYPE_F16, &bytes, NULL));
  EXPECT_STATUS(SME2K_OK, sme2k_attention_workspace_size(SME2K_VARIANT_F32, &shape, SME2K_DTYPE_F32,
                                                         &bytes, NULL));
  CHECK(bytes > 0, "workspace %zu bytes", bytes);
  unsigned char* workspace = malloc(bytes); /* the kernel's own size (it grows with the SVL) */
  EXPECT_STATUS(SME2K_OK, sme2k_attention(SME2K_VARIANT_F32, &shape, q, k, v, o, NULL, workspace,
                                          bytes, NULL));
  EXPECT_STATUS(SME2K_BUFFER_TOO_SMALL, sme2k_attention(SME2K_VARIANT_F32, &shape, q, k, v, o, NULL,
                                                        workspace, bytes - 1, NULL));
  sme2k_heads q16 = q;
  q16.dtype = SME2K_DTYPE_F16;
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_attention(SME2K_VARIANT_F32, &shape, q16, k, v, o, NULL,
                                                   workspace, bytes, NULL));
  sme2k_attention_shape bad = shape;
  bad.kv_heads = 3;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_attention(SME2K_VARIANT_F32, &bad, q, k, v, o, NULL, workspace, bytes, NULL));
  bad = shape;
  bad.head_dim = 257;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_attention(SME2K_VARIANT_F32, &bad, q, k, v, o, NULL, workspace, bytes, NULL));
  sme2k_mutable_heads overlapping = {(void*)g_q, q.batch_stride, q.head_stride, q.seq_stride,
                                     SME2K_DTYPE_F32};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_attention(SME2K_VARIANT_F32, &shape, q, k, v,
                                                        overlapping, NULL, workspace, bytes, NULL));
  o.seq_stride = D - 1;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_attention(SME2K_VARIANT_F32, &shape, q, k, v, o, NULL,
                                                        workspace, bytes, NULL));
  o.seq_stride = HQ * D;
  /* Null views, the element-alignment rule (one byte off an f32), overflowing strides. */
  sme2k_heads edited = k;
  edited.data = NULL;
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_attention(SME2K_VARIANT_F32, &shape, q, edited, v, o,
                                                    NULL, workspace, bytes, NULL));
  edited = q;
  edited.data = (const unsigned char*)g_q + 1;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_attention(SME2K_VARIANT_F32, &shape, edited, k, v, o,
                                                        NULL, workspace, bytes, NULL));
  sme2k_mutable_heads o_off = o;
  o_off.data = (unsigned char*)out + 2;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_attention(SME2K_VARIANT_F32, &shape, q, k, v, o_off,
                                                        NULL, workspace, bytes, NULL));
  sme2k_attention_params params = {0.0f, false,    0, (const float*)((const char*)g_bias + 1),
                                   SKV,  SQ * SKV, 0};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_attention(SME2K_VARIANT_F32, &shape, q, k, v, o,
                                                        &params, workspace, bytes, NULL));
  params.bias = g_bias;
  params.bias_head_stride = SIZE_MAX / 2;
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW, sme2k_attention(SME2K_VARIANT_F32, &shape, q, k, v, o, &params,
                                                     workspace, bytes, NULL));
  edited = v;
  edited.batch_stride = SIZE_MAX / 4 + 1;
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW, sme2k_attention(SME2K_VARIANT_F32, &shape, q, k, edited, o,
                                                     NULL, workspace, bytes, NULL));
  bad = shape;
  bad.batch = SIZE_MAX / 2;
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW,
                sme2k_attention(SME2K_VARIANT_F32, &bad, q, k, v, o, NULL, workspace, bytes, NULL));
  /* A window beyond kv_len is accepted (as no window). */
  params.bias = NULL;
  params.window = SIZE_MAX;
  EXPECT_STATUS(SME2K_OK, sme2k_attention(SME2K_VARIANT_F32, &shape, q, k, v, o, &params, workspace,
                                          bytes, NULL));
  free(workspace);
}

int main(void) {
  make_inputs();
  reference(0.5);
  check_variant(SME2K_VARIANT_F16, SME2K_DTYPE_F16);
  check_variant(SME2K_VARIANT_F16, SME2K_DTYPE_F32);
  check_variant(SME2K_VARIANT_F32, SME2K_DTYPE_F32);
  check_bad_input();
  return c_test_finish("c_attention_test");
}
