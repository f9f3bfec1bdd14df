/* The other ops through the pool (batch_matmul, conv2d, transposes and layout changes), the
 * serial forms of a parallel-for, and a pool whose threads run at another SVL. */
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

/* ---- batched matmul ---- */

typedef struct {
  sme2k_variant variant;
  size_t batch, m, n, k;
  sme2k_matrix a;
  size_t a_stride;
  sme2k_matrix b;
  sme2k_rhs_layout b_layout;
  size_t b_stride;
  size_t ldc, c_stride;
  sme2k_dtype c_dtype;
  sme2k_epilogue epilogue;
} batch_op;

static sme2k_status batch_op_workspace(const void* op, const sme2k_parallel_for* parallel,
                                       size_t* bytes) {
  const batch_op* b = op;
  return sme2k_batch_matmul_workspace_size(b->variant, b->batch, b->m, b->n, b->k,
                                           b->epilogue.order, bytes, parallel);
}

static sme2k_status batch_op_run(const void* op, const sme2k_parallel_for* parallel, void* out,
                                 void* ws, size_t ws_bytes) {
  const batch_op* b = op;
  const int transposed = b->epilogue.order == SME2K_OUTPUT_TRANSPOSED;
  const sme2k_mutable_matrix c = {out, transposed ? b->n : b->m, transposed ? b->m : b->n, b->ldc,
                                  b->c_dtype};
  return sme2k_batch_matmul(b->variant, b->batch, b->a, b->a_stride, b->b, b->b_layout, b->b_stride,
                            c, b->c_stride, &b->epilogue, ws, ws_bytes, parallel);
}

/* Batch 1 (tasks of row panels) and 3 (items, then row panels); B per item or broadcast, K x N
 * and N x K; A broadcast once; the small-M kernel once. */
static void test_parallel_batch_matmul(void) {
  typedef struct {
    sme2k_variant variant;
    size_t batch, m, n, k;
    int nxk, broadcast_a, broadcast_b, transposed;
    sme2k_dtype c_dtype;
  } batch_shape;
  const batch_shape shapes[] = {
      {SME2K_VARIANT_F32, 1, 140, 37, 29, 1, 0, 0, 0, SME2K_DTYPE_F32},
      {SME2K_VARIANT_F32, 3, 70, 45, 17, 0, 0, 0, 1, SME2K_DTYPE_F32},
      {SME2K_VARIANT_F16, 3, 70, 45, 17, 1, 0, 1, 0, SME2K_DTYPE_F16},
      {SME2K_VARIANT_F16, 1, 140, 37, 29, 0, 0, 0, 0, SME2K_DTYPE_F32},
      {SME2K_VARIANT_F16_ACC16, 3, 5, 33, 40, 1, 1, 0, 0, SME2K_DTYPE_F16},
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
    const batch_shape* s = &shapes[i];
    const sme2k_dtype in = s->variant == SME2K_VARIANT_F32 ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16;
    const size_t a_stride = s->broadcast_a ? 0 : s->m * s->k + 5;
    const size_t b_stride = s->broadcast_b ? 0 : s->n * s->k + 3;
    void* a = random_data(in, (s->batch - 1) * a_stride + s->m * s->k);
    void* b = random_data(in, (s->batch - 1) * b_stride + s->n * s->k);
    float* scale = random_floats(s->n);
    float* shift = random_floats(s->n);
    batch_op op = {s->variant,
                   s->batch,
                   s->m,
                   s->n,
                   s->k,
                   {a, s->m, s->k, s->k, in},
                   a_stride,
                   {b, s->nxk ? s->n : s->k, s->nxk ? s->k : s->n, s->nxk ? s->k : s->n, in},
                   s->nxk ? SME2K_RHS_NXK : SME2K_RHS_KXN,
                   b_stride,
                   (s->transposed ? s->m : s->n) + 2,
                   0,
                   s->c_dtype,
                   sme2k_epilogue_default()};
    op.c_stride = (s->transposed ? s->n : s->m) * op.ldc + 7;
    op.epilogue.activation = SME2K_ACTIVATION_GELU;
    op.epilogue.affine_scale = scale;
    op.epilogue.affine_shift = shift;
    op.epilogue.order = s->transposed ? SME2K_OUTPUT_TRANSPOSED : SME2K_OUTPUT_ROW_MAJOR;
    char what[96];
    snprintf(what, sizeof what, "batch_matmul %s %zu x %zux%zux%zu", variant_name(s->variant),
             s->batch, s->m, s->n, s->k);
    const parallel_case pc = {
        what,         &op, (s->batch * op.c_stride) * dtype_bytes(s->c_dtype), batch_op_workspace,
        batch_op_run, 0};
    free(check_parallel(&pc, 1));
    free(a), free(b), free(scale), free(shift);
  }
}

/* ---- conv2d ---- */

typedef struct {
  sme2k_variant variant;
  sme2k_conv2d_params p;
  const void* input;
  sme2k_tensor_layout in_layout;
  const void* packed;
  size_t packed_bytes;
  sme2k_dtype out_dtype;
  sme2k_tensor_layout out_layout;
  sme2k_epilogue epilogue;
} conv_op;

static sme2k_status conv_op_workspace(const void* op, const sme2k_parallel_for* parallel,
                                      size_t* bytes) {
  const conv_op* c = op;
  return sme2k_conv2d_workspace_size(c->variant, &c->p, c->in_layout, c->out_layout, bytes,
                                     parallel);
}

static sme2k_status conv_op_run(const void* op, const sme2k_parallel_for* parallel, void* out,
                                void* ws, size_t ws_bytes) {
  const conv_op* c = op;
  return sme2k_conv2d(c->variant, &c->p, c->input, c->in_layout, c->packed, c->packed_bytes, out,
                      c->out_dtype, c->out_layout, &c->epilogue, ws, ws_bytes, parallel);
}

/* F32, F16 and QS8 in every pair of layouts: a convolution of several pixel panels in one
 * image, a grouped strided one over two images, and two depthwise ones (multiplier 1, and 2
 * strided over two images). */
static void test_parallel_conv2d(void) {
  /* batch, Cin, H, W, Cout, kernel, stride, groups */
  const size_t shapes[4][8] = {{1, 5, 18, 17, 40, 3, 1, 1},
                               {2, 6, 9, 11, 10, 3, 2, 2},
                               {1, 16, 12, 13, 16, 3, 1, 16},
                               {2, 8, 9, 10, 16, 3, 2, 8}};
  const sme2k_variant variants[] = {SME2K_VARIANT_F32, SME2K_VARIANT_F16, SME2K_VARIANT_QS8};
  const sme2k_tensor_layout layouts[2] = {SME2K_LAYOUT_NCHW, SME2K_LAYOUT_NHWC};
  for (size_t s = 0; s < 4; ++s) {
    sme2k_conv2d_params p = sme2k_conv2d_params_default();
    p.batch = shapes[s][0];
    p.in_channels = shapes[s][1];
    p.in_height = shapes[s][2];
    p.in_width = shapes[s][3];
    p.out_channels = shapes[s][4];
    p.kernel_height = p.kernel_width = shapes[s][5];
    p.stride_height = p.stride_width = shapes[s][6];
    p.groups = shapes[s][7];
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    size_t oh = 0, ow = 0;
    EXPECT_OK(sme2k_conv2d_output_size(&p, &oh, &ow));
    const size_t w_elems =
        p.out_channels * (p.in_channels / p.groups) * p.kernel_height * p.kernel_width;
    const size_t in_elems = p.batch * p.in_channels * p.in_height * p.in_width;
    const size_t out_elems = p.batch * p.out_channels * oh * ow;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; ++v) {
      const sme2k_variant variant = variants[v];
      const sme2k_dtype dtype = variant == SME2K_VARIANT_F32   ? SME2K_DTYPE_F32
                                : variant == SME2K_VARIANT_F16 ? SME2K_DTYPE_F16
                                                               : SME2K_DTYPE_INT8;
      void* w = random_data(dtype, w_elems);
      void* input = random_data(dtype, in_elems);
      float* bias = random_floats(p.out_channels);
      float* scales = checked_malloc(p.out_channels * sizeof *scales);
      int32_t* bias32 = checked_malloc(p.out_channels * sizeof *bias32);
      for (size_t c = 0; c < p.out_channels; ++c) {
        scales[c] = 0.01f + 0.002f * (float)(c % 7);
        bias32[c] = random_int(-500, 500);
      }
      float* shift = random_floats(p.out_channels);
      size_t bytes = 0;
      EXPECT_OK(sme2k_conv2d_packed_weights_size(variant, &p, &bytes));
      void* packed = checked_malloc(bytes);
      if (variant == SME2K_VARIANT_QS8) {
        const sme2k_qs8_quantization q = {{0.1f, 3}, scales, {0.5f, -2}};
        EXPECT_OK(
            sme2k_conv2d_pack_weights_qs8(&p, w, SME2K_WEIGHTS_OIHW, bias32, &q, packed, bytes));
      } else {
        EXPECT_OK(sme2k_conv2d_pack_weights(variant, &p, w, dtype, SME2K_WEIGHTS_OIHW, bias,
                                            SME2K_DTYPE_F32, packed, bytes));
      }
      for (int li = 0; li < 2; ++li) {
        for (int lo = 0; lo < 2; ++lo) {
          conv_op op = {variant,     p,           input,
                        layouts[li], packed,      bytes,
                        dtype,       layouts[lo], sme2k_epilogue_default()};
          if (variant == SME2K_VARIANT_QS8) {
            op.epilogue.quantized_min = -90;
            op.epilogue.quantized_max = 100;
          } else {
            op.epilogue.activation = SME2K_ACTIVATION_RELU;
            op.epilogue.affine_scale = scales;
            op.epilogue.affine_shift = shift;
          }
          char what[128];
          snprintf(what, sizeof what, "conv2d %s %s->%s batch %zu Cin %zu %zux%zu Cout %zu g %zu",
                   variant_name(variant), li ? "nhwc" : "nchw", lo ? "nhwc" : "nchw", p.batch,
                   p.in_channels, p.in_height, p.in_width, p.out_channels, p.groups);
          const parallel_case pc = {
              what, &op, out_elems * dtype_bytes(dtype), conv_op_workspace, conv_op_run, 0};
          free(check_parallel(&pc, 1));
        }
      }
      free(w), free(input), free(bias), free(scales), free(bias32), free(shift), free(packed);
    }
  }
}

/* ---- layout transforms ---- */

typedef struct {
  sme2k_matrix src;
  size_t ldd;
} transpose_op;

static sme2k_status transpose_run(const void* op, const sme2k_parallel_for* parallel, void* out,
                                  void* ws, size_t ws_bytes) {
  const transpose_op* t = op;
  (void)ws, (void)ws_bytes;
  return sme2k_transpose(
      t->src, (sme2k_mutable_matrix){out, t->src.cols, t->src.rows, t->ldd, t->src.dtype},
      parallel);
}

typedef struct {
  const void* src;
  sme2k_tensor_layout from, to;
  sme2k_dtype dtype;
  size_t batch, channels, height, width;
} convert_op;

static sme2k_status convert_run(const void* op, const sme2k_parallel_for* parallel, void* out,
                                void* ws, size_t ws_bytes) {
  const convert_op* c = op;
  (void)ws, (void)ws_bytes;
  return sme2k_convert_layout(c->src, c->from, out, c->to, c->dtype, c->batch, c->channels,
                              c->height, c->width, parallel);
}

/* Tasks of whole tiles of source rows (SVL / element bits rows at a time: 256 int8 rows at
 * SVL 2048) and images. */
static void test_parallel_layouts(void) {
  const sme2k_dtype dtypes[] = {SME2K_DTYPE_INT8, SME2K_DTYPE_F16, SME2K_DTYPE_F32};
  for (size_t d = 0; d < 3; ++d) {
    const sme2k_dtype dtype = dtypes[d];
    const size_t es = dtype_bytes(dtype), rows = 600, cols = 70, lds = cols + 3, ldd = rows + 5;
    uint8_t* src = checked_malloc(rows * lds * es);
    for (size_t i = 0; i < rows * lds * es; ++i) src[i] = (uint8_t)random_int(0, 255);
    const transpose_op t = {{src, rows, cols, lds, dtype}, ldd};
    char what[96];
    snprintf(what, sizeof what, "transpose %zu-byte %zux%zu", es, rows, cols);
    const parallel_case tc = {what, &t, cols * ldd * es, NULL, transpose_run, 0};
    free(check_parallel(&tc, 1));
    free(src);

    const size_t shapes[2][4] = {{1, 270, 15, 20}, {3, 7, 9, 11}};
    for (size_t s = 0; s < 2; ++s) {
      const size_t elems = shapes[s][0] * shapes[s][1] * shapes[s][2] * shapes[s][3];
      uint8_t* x = checked_malloc(elems * es);
      for (size_t i = 0; i < elems * es; ++i) x[i] = (uint8_t)random_int(0, 255);
      for (int to_nhwc = 0; to_nhwc < 2; ++to_nhwc) {
        const convert_op c = {x,
                              to_nhwc ? SME2K_LAYOUT_NCHW : SME2K_LAYOUT_NHWC,
                              to_nhwc ? SME2K_LAYOUT_NHWC : SME2K_LAYOUT_NCHW,
                              dtype,
                              shapes[s][0],
                              shapes[s][1],
                              shapes[s][2],
                              shapes[s][3]};
        snprintf(what, sizeof what, "convert_layout %zu-byte %s %zux%zux%zux%zu", es,
                 to_nhwc ? "nchw->nhwc" : "nhwc->nchw", shapes[s][0], shapes[s][1], shapes[s][2],
                 shapes[s][3]);
        const parallel_case cc = {what, &c, elems * es, NULL, convert_run, 0};
        free(check_parallel(&cc, 1));
      }
      free(x);
    }
  }
}

/* A parallel-for without run, or with max_tasks 0 or 1, is serial: the serial workspace. */
static void test_parallel_for_serial_forms(void) {
  counting_pool counter = {0, 0};
  const sme2k_parallel_for forms[] = {
      {NULL, NULL, 8}, {run_serially, &counter, 0}, {run_serially, &counter, 1}};
  const size_t m = 133, n = 141, k = 37;
  size_t serial = 0, bytes = 0, batch_serial = 0, batch_bytes = 0;
  EXPECT_OK(
      sme2k_gemm_workspace_size(SME2K_VARIANT_QD8, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &serial, NULL));
  EXPECT_OK(sme2k_batch_matmul_workspace_size(SME2K_VARIANT_F32, 3, m, n, k, SME2K_OUTPUT_ROW_MAJOR,
                                              &batch_serial, NULL));
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; ++i) {
    EXPECT_OK(sme2k_gemm_workspace_size(SME2K_VARIANT_QD8, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &bytes,
                                        &forms[i]));
    CHECK(bytes == serial, "serial form %zu: %zu workspace bytes, NULL %zu", i, bytes, serial);
    EXPECT_OK(sme2k_batch_matmul_workspace_size(SME2K_VARIANT_F32, 3, m, n, k,
                                                SME2K_OUTPUT_ROW_MAJOR, &batch_bytes, &forms[i]));
    CHECK(batch_bytes == batch_serial, "serial form %zu: batch workspace %zu, NULL %zu", i,
          batch_bytes, batch_serial);
  }
  /* ... and the ops never call such a run */
  float* a = random_floats(m * k);
  void* lhs = NULL;
  size_t lhs_bytes = 0;
  EXPECT_OK(sme2k_gemm_packed_lhs_size(SME2K_VARIANT_QD8, m, k, &lhs_bytes));
  lhs = checked_malloc(lhs_bytes);
  EXPECT_OK(sme2k_gemm_pack_lhs(SME2K_VARIANT_QD8, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_F32}, lhs,
                                lhs_bytes, &forms[2]));
  CHECK(counter.calls == 0, "max_tasks 1: run called %zu times", counter.calls);
  free(a), free(lhs);
}

/* A pool thread with another streaming vector length (Linux lets a thread change its own):
 * an SME2 op refuses to finish on it (SME2K_UNSUPPORTED) rather than compute with the wrong
 * tiles. The parallel-for runs the odd tasks on a thread that first sets its SVL. */
#if defined(__linux__) && defined(__aarch64__) && defined(PR_SME_SET_VL)
typedef struct {
  unsigned long svl_bytes; /* what the thread asks for */
  uint32_t svl_bits;       /* what it got */
  size_t count;
  void (*task)(void*, size_t);
  void* task_context;
} other_svl_run;

static void* other_svl_thread(void* arg) {
  other_svl_run* r = arg;
  if (prctl(PR_SME_SET_VL, r->svl_bytes, 0UL, 0UL, 0UL) < 0) r->svl_bytes = 0;
  r->svl_bits = sme2k_svl_bits();
  for (size_t i = 1; i < r->count; i += 2) r->task(r->task_context, i);
  return NULL;
}

static void run_on_other_svl(void* context, size_t count, void (*task)(void*, size_t),
                             void* task_context) {
  other_svl_run* r = context;
  r->count = count;
  r->task = task;
  r->task_context = task_context;
  pthread_t thread;
  if (pthread_create(&thread, NULL, other_svl_thread, r) != 0) {
    fprintf(stderr, "pthread_create failed\n");
    exit(2);
  }
  for (size_t i = 0; i < count; i += 2) task(task_context, i);
  pthread_join(thread, NULL);
}

static void test_parallel_other_svl(void) {
  const uint32_t svl = sme2k_svl_bits();
  if (g_path != SME2K_PATH_SME2 || svl == 0) return;
  const size_t m = 133, n = 141, k = 37;
  size_t packed_bytes = 0, ws_bytes = 0;
  void* packed = pack_random_weights(SME2K_VARIANT_F32, n, k, &packed_bytes);
  float* a = random_floats(m * k);
  float* c = checked_malloc(m * n * sizeof *c);
  other_svl_run r = {svl == 128 ? 32 : 16, 0, 0, NULL, NULL};
  const sme2k_parallel_for parallel = {run_on_other_svl, &r, 2};
  EXPECT_OK(sme2k_gemm_workspace_size(SME2K_VARIANT_F32, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &ws_bytes,
                                      &parallel));
  void* ws = checked_malloc(ws_bytes);
  const sme2k_status s = sme2k_gemm(
      SME2K_VARIANT_F32, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_F32}, packed, packed_bytes,
      (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F32}, NULL, ws, ws_bytes, &parallel);
  if (r.svl_bits != 0 && r.svl_bits != svl) { /* the CPU let the thread change it */
    CHECK(s == SME2K_UNSUPPORTED && strstr(sme2k_last_error_message(), "vector length") != NULL,
          "gemm with a task on a thread of SVL %u (the caller's %u): %s (%s)", (unsigned)r.svl_bits,
          (unsigned)svl, sme2k_status_string(s), sme2k_last_error_message());
    float* t = checked_malloc(m * k * sizeof *t);
    EXPECT_STATUS(SME2K_UNSUPPORTED,
                  sme2k_transpose((sme2k_matrix){a, m, k, k, SME2K_DTYPE_F32},
                                  (sme2k_mutable_matrix){t, k, m, m, SME2K_DTYPE_F32}, &parallel));
    free(t);
  } else {
    CHECK(s == SME2K_OK, "gemm on threads of one SVL: %s", sme2k_status_string(s));
  }
  printf("c_api_test: a pool thread of SVL %u under a caller of SVL %u: %s\n", (unsigned)r.svl_bits,
         (unsigned)svl, sme2k_status_string(s));
  free(packed), free(a), free(c), free(ws);
}
#else
static void test_parallel_other_svl(void) {}
#endif

void test_parallel(void) {
  test_parallel_for_serial_forms();
  test_parallel_gemm();
  test_parallel_batch_matmul();
  test_parallel_conv2d();
  test_parallel_layouts();
  test_parallel_other_svl();
  CHECK(g_parallel_runs > 0 && g_serial_ws_refused > 0,
        "%zu parallel calls of several tasks, %zu serially sized workspaces refused",
        g_parallel_runs, g_serial_ws_refused);
  printf(
      "c_api_test: %zu parallel calls of several tasks, as the serial ones; %zu serially "
      "sized workspaces refused\n",
      g_parallel_runs, g_serial_ws_refused);
}
