/* Every op through the pthreads pool gives the serial result bit for bit, and a workspace
 * sized serially is refused: the machinery, and the GEMMs of every variant. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_api_test.h"
#include "c_test_harness.h"
#include "sme2k.h"

#if defined(__linux__) && defined(__aarch64__)
#include <sys/prctl.h> /* PR_SME_SET_VL */
#endif

/* ---- every op through the thread pool: the serial result, bit for bit -------------------- */

size_t g_parallel_runs = 0;     /* parallel calls that made several tasks */
size_t g_serial_ws_refused = 0; /* serially sized workspaces refused for them */

static size_t first_difference(const uint8_t* a, const uint8_t* b, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) {
    if (a[i] != b[i]) return i;
  }
  return bytes;
}

/* Runs the op serially, then through every pool with max_tasks 2, 3 and 8 (the workspace sized
 * with the same parallel-for): the same output bytes, and nothing written outside the output.
 * `several`: the shape spans enough tiles that each parallel call must make several tasks.
 * A workspace sized serially must be refused for a call that makes several tasks. Returns the
 * serial output (the caller frees it). */
uint8_t* check_parallel(const parallel_case* pc, int several) {
  size_t serial_ws = 0;
  if (pc->workspace_size != NULL) EXPECT_OK(pc->workspace_size(pc->op, NULL, &serial_ws));
  uint8_t* want = checked_malloc(pc->out_bytes);
  memset(want, 0x5C, pc->out_bytes);
  void* ws = checked_malloc(serial_ws);
  EXPECT_OK(pc->run(pc->op, NULL, want, ws, serial_ws));
  const sme2k_path path = sme2k_last_used_path();
  free(ws);

  uint8_t* got = checked_malloc(pc->out_bytes);
  const size_t max_tasks[] = {2, 3, 8};
  for (size_t p = 0; p < sizeof g_pools / sizeof g_pools[0]; ++p) {
    thread_pool* pool = &g_pools[p];
    for (size_t t = 0; t < sizeof max_tasks / sizeof max_tasks[0]; ++t) {
      const sme2k_parallel_for parallel = {pool_run, pool, max_tasks[t]};
      size_t ws_bytes = 0;
      if (pc->workspace_size != NULL) {
        EXPECT_OK(pc->workspace_size(pc->op, &parallel, &ws_bytes));
      }
      ws = checked_malloc(ws_bytes);
      memset(got, 0x5C, pc->out_bytes);
      pool_reset(pool);
      EXPECT_OK(pc->run(pc->op, &parallel, got, ws, ws_bytes));
      CHECK(sme2k_last_used_path() == path, "%s: ran %s, serially %s", pc->what,
            sme2k_path_name(sme2k_last_used_path()), sme2k_path_name(path));
      const size_t at = first_difference(got, want, pc->out_bytes);
      CHECK(at == pc->out_bytes,
            "%s, %zu threads, max_tasks %zu (%zu tasks): output differs from the serial one at "
            "byte %zu of %zu (0x%02x, serially 0x%02x)",
            pc->what, pool->threads, max_tasks[t], pool->most_tasks, at, pc->out_bytes,
            at < pc->out_bytes ? got[at] : 0, at < pc->out_bytes ? want[at] : 0);
      CHECK(pool->runs <= 1 && pool->most_tasks <= max_tasks[t],
            "%s: %zu runs, up to %zu tasks with max_tasks %zu", pc->what, pool->runs,
            pool->most_tasks, max_tasks[t]);
      const size_t used = pool_threads_used(pool);
      if (several) {
        CHECK(pool->most_tasks > 1 && used > 1,
              "%s, %zu threads, max_tasks %zu: %zu tasks on %zu threads, want several", pc->what,
              pool->threads, max_tasks[t], pool->most_tasks, used);
      }
      if (pool->most_tasks > 1) {
        ++g_parallel_runs;
        if (serial_ws > 0) {
          CHECK(ws_bytes > serial_ws, "%s: %zu tasks need %zu workspace bytes, serially %zu",
                pc->what, pool->most_tasks, ws_bytes, serial_ws);
          memset(got, 0x5C, pc->out_bytes);
          const sme2k_status refused = pc->run(pc->op, &parallel, got, ws, serial_ws);
          if (pc->workspace_bound && refused == SME2K_OK) {
            CHECK(memcmp(got, want, pc->out_bytes) == 0,
                  "%s, %zu threads, max_tasks %zu: output differs on the serial workspace",
                  pc->what, pool->threads, max_tasks[t]);
          } else {
            CHECK(refused == SME2K_BUFFER_TOO_SMALL,
                  "%s, %zu threads, max_tasks %zu: the serial workspace (%zu bytes, %zu needed) "
                  "returned %s (%s)",
                  pc->what, pool->threads, max_tasks[t], serial_ws, ws_bytes,
                  sme2k_status_string(refused), sme2k_last_error_message());
            g_serial_ws_refused += refused == SME2K_BUFFER_TOO_SMALL;
          }
        }
      }
      free(ws);
    }
  }
  free(got);
  return want;
}

size_t dtype_bytes(sme2k_dtype dtype) {
  return dtype == SME2K_DTYPE_INT8 ? 1 : dtype == SME2K_DTYPE_F16 ? 2 : 4;
}

/* A buffer of `count` random elements of `dtype` (int8 in [-127, 127]). */
void* random_data(sme2k_dtype dtype, size_t count) {
  switch (dtype) {
    case SME2K_DTYPE_F16: return random_f16(count);
    case SME2K_DTYPE_INT8: return random_int8(count, -127, 127);
    default: return random_floats(count);
  }
}

/* ---- GEMM, packed activations ---- */

typedef struct {
  sme2k_variant variant;
  size_t m, n, k;
  sme2k_matrix a;
  const void* packed_lhs; /* set: sme2k_gemm_packed_lhs() on it */
  size_t packed_lhs_bytes;
  const void* packed;
  size_t packed_bytes;
  size_t ldc;
  sme2k_dtype c_dtype;
  sme2k_epilogue epilogue;
} gemm_op;

static int gemm_transposed(const gemm_op* g) {
  return g->epilogue.order == SME2K_OUTPUT_TRANSPOSED;
}

static sme2k_status gemm_op_workspace(const void* op, const sme2k_parallel_for* parallel,
                                      size_t* bytes) {
  const gemm_op* g = op;
  return sme2k_gemm_workspace_size(g->variant, g->m, g->n, g->k, g->epilogue.order, bytes,
                                   parallel);
}

static sme2k_status gemm_op_run(const void* op, const sme2k_parallel_for* parallel, void* out,
                                void* ws, size_t ws_bytes) {
  const gemm_op* g = op;
  const int transposed = gemm_transposed(g);
  const sme2k_mutable_matrix c = {out, transposed ? g->n : g->m, transposed ? g->m : g->n, g->ldc,
                                  g->c_dtype};
  if (g->packed_lhs != NULL) {
    return sme2k_gemm_packed_lhs(g->variant, g->packed_lhs, g->packed_lhs_bytes, g->packed,
                                 g->packed_bytes, c, &g->epilogue, ws, ws_bytes, parallel);
  }
  return sme2k_gemm(g->variant, g->a, g->packed, g->packed_bytes, c, &g->epilogue, ws, ws_bytes,
                    parallel);
}

static size_t gemm_out_bytes(const gemm_op* g) {
  return (gemm_transposed(g) ? g->n : g->m) * g->ldc * dtype_bytes(g->c_dtype);
}

typedef struct {
  sme2k_variant variant;
  sme2k_matrix a;
} pack_lhs_op;

static sme2k_status pack_lhs_run(const void* op, const sme2k_parallel_for* parallel, void* out,
                                 void* ws, size_t ws_bytes) {
  const pack_lhs_op* l = op;
  size_t bytes = 0;
  const sme2k_status s = sme2k_gemm_packed_lhs_size(l->variant, l->a.rows, l->a.cols, &bytes);
  (void)ws, (void)ws_bytes;
  return s != SME2K_OK ? s : sme2k_gemm_pack_lhs(l->variant, l->a, out, bytes, parallel);
}

const char* variant_name(sme2k_variant v) {
  switch (v) {
    case SME2K_VARIANT_F32: return "f32";
    case SME2K_VARIANT_F16: return "f16";
    case SME2K_VARIANT_F16_ACC16: return "f16acc16";
    case SME2K_VARIANT_QS8: return "qs8";
    case SME2K_VARIANT_QD8: return "qd8";
    case SME2K_VARIANT_QD8_QC4W: return "qd8-qc4w";
    case SME2K_VARIANT_QD8_QB4W: return "qd8-qb4w";
    default: return "?";
  }
}

/* Packs random N x K weights (K x N for F32 and QS8) of `variant` with a bias (and per-channel
 * or per-block scales); the inputs are freed, the packed data holds all. */
void* pack_random_weights(sme2k_variant variant, size_t n, size_t k, size_t* bytes) {
  void* packed = packed_rhs(variant, n, k, bytes);
  float* scales = checked_malloc(n * k / 32 * sizeof *scales + n * sizeof *scales);
  for (size_t i = 0; i < n * k / 32 + n; ++i) scales[i] = 0.004f + 0.001f * (float)(i % 9);
  float* bias = random_floats(n);
  switch (variant) {
    case SME2K_VARIANT_F32: {
      float* b = random_floats(k * n);
      EXPECT_OK(sme2k_gemm_pack_rhs(variant, (sme2k_matrix){b, k, n, n, SME2K_DTYPE_F32},
                                    SME2K_RHS_KXN, bias, SME2K_DTYPE_F32, packed, *bytes));
      free(b);
      break;
    }
    case SME2K_VARIANT_F16:
    case SME2K_VARIANT_F16_ACC16: {
      uint16_t* b = random_f16(n * k);
      uint16_t* bias16 = random_f16(n);
      EXPECT_OK(sme2k_gemm_pack_rhs(variant, (sme2k_matrix){b, n, k, k, SME2K_DTYPE_F16},
                                    SME2K_RHS_NXK, bias16, SME2K_DTYPE_F16, packed, *bytes));
      free(b), free(bias16);
      break;
    }
    case SME2K_VARIANT_QS8: {
      int8_t* b = random_int8(k * n, -127, 127);
      int32_t* bias32 = checked_malloc(n * sizeof *bias32);
      for (size_t j = 0; j < n; ++j) bias32[j] = random_int(-3000, 3000);
      const sme2k_qs8_quantization q = {{0.05f, -3}, scales, {0.3f, 4}};
      EXPECT_OK(sme2k_gemm_pack_rhs_qs8((sme2k_matrix){b, k, n, n, SME2K_DTYPE_INT8}, SME2K_RHS_KXN,
                                        bias32, &q, packed, *bytes));
      free(b), free(bias32);
      break;
    }
    case SME2K_VARIANT_QD8: {
      int8_t* b = random_int8(n * k, -127, 127);
      EXPECT_OK(sme2k_gemm_pack_rhs_qd8((sme2k_matrix){b, n, k, k, SME2K_DTYPE_INT8}, SME2K_RHS_NXK,
                                        bias, scales, packed, *bytes));
      free(b);
      break;
    }
    case SME2K_VARIANT_QD8_QC4W:
    case SME2K_VARIANT_QD8_QB4W: {
      int8_t* b = random_int8(n * k, -8, 7);
      const sme2k_int4_matrix b4 = {b, n, k, k, SME2K_INT4_INT8};
      if (variant == SME2K_VARIANT_QD8_QC4W) {
        EXPECT_OK(sme2k_gemm_pack_rhs_qc4w(b4, SME2K_RHS_NXK, bias, scales, packed, *bytes));
      } else {
        const sme2k_block_scales bs = {scales, SME2K_SCALE_F32, 32, k / 32};
        EXPECT_OK(sme2k_gemm_pack_rhs_qb4w(b4, SME2K_RHS_NXK, bias, &bs, packed, *bytes));
      }
      free(b);
      break;
    }
    default: break;
  }
  free(scales), free(bias);
  return packed;
}

/* Every variant at a small M (one row panel: tasks split N) and at a shape of several row and
 * column panels at any SVL (2VL = 128 rows at SVL 2048) and on the portable path, with
 * per-channel epilogue stages (their vectors start at each task's first column), C with
 * padding, both output orders for F32; QD8 and QD8_QC4W also packed once (pack_lhs in tasks)
 * and run on the packed activations. */
void test_parallel_gemm(void) {
  const size_t shapes[2][2] = {{3, 530}, {133, 141}};
  const sme2k_variant variants[] = {
      SME2K_VARIANT_F32, SME2K_VARIANT_F16,      SME2K_VARIANT_F16_ACC16, SME2K_VARIANT_QS8,
      SME2K_VARIANT_QD8, SME2K_VARIANT_QD8_QC4W, SME2K_VARIANT_QD8_QB4W};
  for (size_t s = 0; s < 2; ++s) {
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; ++v) {
      const sme2k_variant variant = variants[v];
      const size_t m = shapes[s][0], n = shapes[s][1];
      const size_t k = variant == SME2K_VARIANT_QD8_QB4W ? 64 : 37, lda = k + 2;
      const sme2k_dtype a_dtype = variant == SME2K_VARIANT_F16 || variant == SME2K_VARIANT_F16_ACC16
                                      ? SME2K_DTYPE_F16
                                  : variant == SME2K_VARIANT_QS8 ? SME2K_DTYPE_INT8
                                                                 : SME2K_DTYPE_F32;
      sme2k_dtype c_dtype = a_dtype;
      /* At few rows the 4-bit variants write f16 (the QB4W decode kernel's f16 outputs after
         its first pass are where clang 22 once miscompiled: arch/acle.hpp, za_slice), the
         others f32. */
      if (variant == SME2K_VARIANT_F16 || variant == SME2K_VARIANT_QD8) {
        c_dtype = s == 0 ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16;
      } else if (variant == SME2K_VARIANT_QD8_QC4W || variant == SME2K_VARIANT_QD8_QB4W) {
        c_dtype = s == 0 ? SME2K_DTYPE_F16 : SME2K_DTYPE_F32;
      }
      void* a = random_data(a_dtype, m * lda);
      size_t packed_bytes = 0;
      void* packed = pack_random_weights(variant, n, k, &packed_bytes);
      float* scale = random_floats(n);
      float* shift = random_floats(n);
      float* int8_scale = checked_malloc(n * sizeof *int8_scale);
      float* int8_shift = random_floats(n);
      for (size_t j = 0; j < n; ++j) int8_scale[j] = 0.5f + 0.5f * random_float();
      int8_t table[256];
      EXPECT_OK(sme2k_int8_activation_table(SME2K_ACTIVATION_SILU, (sme2k_quant_params){0.1f, 2},
                                            (sme2k_quant_params){0.05f, -5}, -128, 127, table));
      gemm_op g = {variant,
                   m,
                   n,
                   k,
                   {a, m, k, lda, a_dtype},
                   NULL,
                   0,
                   packed,
                   packed_bytes,
                   0,
                   c_dtype,
                   sme2k_epilogue_default()};
      if (variant == SME2K_VARIANT_QS8) {
        g.epilogue.quantized_min = -100;
        g.epilogue.quantized_max = 110;
        g.epilogue.int8_affine_scale = int8_scale;
        g.epilogue.int8_affine_shift = int8_shift;
        g.epilogue.int8_affine_zero_point = 2;
        g.epilogue.int8_table = table;
      } else {
        g.epilogue.activation = SME2K_ACTIVATION_HARD_SWISH;
        g.epilogue.affine_scale = scale;
        g.epilogue.affine_shift = shift;
        g.epilogue.clamp_min = -3.0f;
      }
      const int orders = variant == SME2K_VARIANT_F32 ? 2 : 1;
      for (int o = 0; o < orders; ++o) {
        g.epilogue.order = o ? SME2K_OUTPUT_TRANSPOSED : SME2K_OUTPUT_ROW_MAJOR;
        g.ldc = (o ? m : n) + 3;
        char what[96];
        snprintf(what, sizeof what, "gemm %s %zux%zux%zu%s", variant_name(variant), m, n, k,
                 o ? " transposed" : "");
        const parallel_case pc = {what, &g, gemm_out_bytes(&g), gemm_op_workspace, gemm_op_run, 0};
        uint8_t* c = check_parallel(&pc, 1);

        if (variant == SME2K_VARIANT_QD8 || variant == SME2K_VARIANT_QD8_QC4W) {
          /* the activations packed in tasks of row panels (one panel at M = 3) */
          const pack_lhs_op l = {variant, g.a};
          size_t lhs_bytes = 0;
          EXPECT_OK(sme2k_gemm_packed_lhs_size(variant, m, k, &lhs_bytes));
          snprintf(what, sizeof what, "gemm_pack_lhs %s %zux%zu", variant_name(variant), m, k);
          const parallel_case lc = {what, &l, lhs_bytes, NULL, pack_lhs_run, 0};
          uint8_t* lhs = check_parallel(&lc, s == 1);
          /* and the GEMM on them: the GEMM on A, bit for bit */
          gemm_op gl = g;
          gl.packed_lhs = lhs;
          gl.packed_lhs_bytes = lhs_bytes;
          snprintf(what, sizeof what, "gemm_packed_lhs %s %zux%zux%zu", variant_name(variant), m, n,
                   k);
          const parallel_case gc = {what,        &gl, gemm_out_bytes(&gl), gemm_op_workspace,
                                    gemm_op_run, 1};
          uint8_t* c2 = check_parallel(&gc, 1);
          CHECK(memcmp(c, c2, gemm_out_bytes(&g)) == 0, "%s: not the gemm on A", what);
          free(lhs), free(c2);
        }
        free(c);
      }
      free(a), free(packed), free(scale), free(shift), free(int8_scale), free(int8_shift);
    }
  }
}
