/* The C API (include/sme2k.h) from plain C11: every function at least once on small shapes
 * against plain C reference loops, and bad input of every kind.
 *
 * Bounds: f32 results within 2^-20 * (sum_k |a b| + |bias|) of a double reference (K <= 40:
 * K + 2 f32 roundings of at most 2^-24 each, with room for the epilogue's); f16 outputs add
 * half an f16 ulp (2^-11 relative); F16_ACC16 accumulates in f16: 2^-8 * sum. QS8 is
 * bit-exact (requantization as include/sme2k/types/quantization.hpp defines it); QD8 rows
 * are quantized exactly as include/sme2k/types/dynamic_quantization.hpp defines, and the
 * output is within 4 f32 roundings of the exact dequantization of those integers.
 *
 * Threading: every op family also runs through a pthreads pool (2, 3 and 4 threads, max_tasks
 * 2, 3 and 8) on shapes that split into several tasks at every SVL and on the portable path;
 * the output bytes must be the serial run's, and a workspace sized serially must be refused.
 *
 * Exits non-zero after printing every failed check. Under ctest the run also checks that
 * dispatch took the path of the configuration (SME2K_EXPECT_PATH, SME2K_EXPECT_SVL). */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_test_harness.h"
#include "sme2k.h"

#if defined(__linux__) && defined(__aarch64__)
#include <sys/prctl.h> /* PR_SME_SET_VL */
#endif

/* ---- small helpers ---------------------------------------------------------------------- */

static uint32_t g_seed = 12345u;
static float random_float(void) { /* in [-1, 1) */
  g_seed = g_seed * 1664525u + 1013904223u;
  return (float)((g_seed >> 8) & 0xFFFFu) / 32768.0f - 1.0f;
}
static int random_int(int lo, int hi) {
  g_seed = g_seed * 1664525u + 1013904223u;
  return lo + (int)((g_seed >> 8) % (uint32_t)(hi - lo + 1));
}

static void* checked_malloc(size_t bytes) {
  void* p = malloc(bytes > 0 ? bytes : 1);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static float* random_floats(size_t count) {
  float* p = checked_malloc(count * sizeof *p);
  for (size_t i = 0; i < count; ++i) p[i] = random_float();
  return p;
}

static uint16_t* random_f16(size_t count) {
  uint16_t* p = checked_malloc(count * sizeof *p);
  for (size_t i = 0; i < count; ++i) p[i] = sme2k_f32_to_f16(random_float());
  return p;
}

static int8_t* random_int8(size_t count, int lo, int hi) {
  int8_t* p = checked_malloc(count);
  for (size_t i = 0; i < count; ++i) p[i] = (int8_t)random_int(lo, hi);
  return p;
}

/* Bytes the C API asked for, allocated. */
static void* packed_rhs(sme2k_variant variant, size_t n, size_t k, size_t* bytes) {
  *bytes = 0;
  EXPECT_OK(sme2k_gemm_packed_rhs_size(variant, n, k, bytes));
  return checked_malloc(*bytes);
}

static void* gemm_workspace(sme2k_variant variant, size_t m, size_t n, size_t k,
                            sme2k_output_order order, size_t* bytes) {
  *bytes = 0;
  EXPECT_OK(sme2k_gemm_workspace_size(variant, m, n, k, order, bytes, NULL));
  return checked_malloc(*bytes);
}

static double relu6(double x) { return x < 0 ? 0 : x > 6 ? 6 : x; }

static sme2k_path g_path; /* the path dispatch takes here */

/* ---- status, features, version ----------------------------------------------------------- */

static void test_basics(void) {
  const sme2k_status codes[] = {SME2K_OK,
                                SME2K_INVALID_ARGUMENT,
                                SME2K_NULL_POINTER,
                                SME2K_SIZE_OVERFLOW,
                                SME2K_BUFFER_TOO_SMALL,
                                SME2K_UNSUPPORTED,
                                SME2K_PACKED_MISMATCH,
                                SME2K_OUT_OF_MEMORY};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; ++i) {
    const char* name = sme2k_status_string(codes[i]);
    CHECK(name != NULL && name[0] != '\0' && strcmp(name, "unknown status") != 0, "code %d",
          (int)codes[i]);
    for (size_t j = 0; j < i; ++j) {
      CHECK(strcmp(name, sme2k_status_string(codes[j])) != 0, "codes %zu and %zu share a name", i,
            j);
    }
  }
  CHECK(strcmp(sme2k_status_string(SME2K_OK), "ok") == 0, "%s", sme2k_status_string(SME2K_OK));
  CHECK(strcmp(sme2k_status_string((sme2k_status)99), "unknown status") == 0, "99");
  CHECK(strcmp(sme2k_status_string((sme2k_status)-1), "unknown status") == 0, "-1");

  CHECK(sme2k_version() ==
            SME2K_VERSION_MAJOR * 10000u + SME2K_VERSION_MINOR * 100u + SME2K_VERSION_PATCH,
        "library %u, header %d.%d.%d", (unsigned)sme2k_version(), SME2K_VERSION_MAJOR,
        SME2K_VERSION_MINOR, SME2K_VERSION_PATCH);

  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_cpu_features(NULL));
  sme2k_cpu_info info;
  memset(&info, 0xA5, sizeof info);
  EXPECT_OK(sme2k_cpu_features(&info));
  CHECK(strcmp(sme2k_last_error_message(), "ok") == 0, "after success: %s",
        sme2k_last_error_message());
  g_path = info.path;
  CHECK(info.path == (info.sme2 ? SME2K_PATH_SME2 : SME2K_PATH_PORTABLE) ||
            (info.path == SME2K_PATH_PORTABLE && info.sme2),
        "path %s with sme2=%d", sme2k_path_name(info.path), info.sme2);
  CHECK(!info.sme2 || info.sme, "sme2 without sme");
  CHECK(info.f16_acc16_path ==
            (info.sme_f16f16 && info.path == SME2K_PATH_SME2 ? SME2K_PATH_SME2_F16F16 : info.path),
        "f16 acc16 path %s", sme2k_path_name(info.f16_acc16_path));
  CHECK(info.svl_bits == sme2k_svl_bits(), "%u vs %u", (unsigned)info.svl_bits,
        (unsigned)sme2k_svl_bits());
  CHECK(info.svl_bits % 128 == 0 && info.svl_bits <= 2048, "svl %u", (unsigned)info.svl_bits);
  CHECK(strcmp(sme2k_path_name((sme2k_path)77), "unknown") == 0, "path 77");
  CHECK(strcmp(sme2k_path_name((sme2k_path)-3), "unknown") == 0, "path -3");

  /* What the ctest configuration says this run must see. */
  const char* want_path = getenv("SME2K_EXPECT_PATH");
  if (want_path != NULL) {
    CHECK(strcmp(sme2k_path_name(info.path), want_path) == 0, "path %s, configuration %s",
          sme2k_path_name(info.path), want_path);
  }
  const char* want_svl = getenv("SME2K_EXPECT_SVL");
  if (want_svl != NULL) {
    CHECK(info.svl_bits == strtoul(want_svl, NULL, 10), "svl %u, configuration %s",
          (unsigned)info.svl_bits, want_svl);
  }
  const char* qemu_cpu = getenv("QEMU_CPU");
  if (qemu_cpu != NULL && strstr(qemu_cpu, "sme_fa64=off") != NULL) {
    CHECK(!info.sme_fa64, "FA64 reported with %s", qemu_cpu);
  }
  printf("c_api_test: sme2k %u, path %s, SVL %u, sme2=%d fa64=%d f16f16=%d\n",
         (unsigned)sme2k_version(), sme2k_path_name(info.path), (unsigned)info.svl_bits, info.sme2,
         info.sme_fa64, info.sme_f16f16);

  CHECK(sme2k_f32_to_f16(1.0f) == 0x3C00u, "%04x", sme2k_f32_to_f16(1.0f));
  CHECK(sme2k_f32_to_f16(65520.0f) == 0x7C00u, "rounds to infinity");
  CHECK(sme2k_f32_to_f16(1.0f + 1.0f / 4096) == 0x3C00u, "ties to even");
  CHECK(sme2k_f16_to_f32(0xC000u) == -2.0f, "%g", sme2k_f16_to_f32(0xC000u));
  CHECK(sme2k_f16_to_f32(0x0001u) == ldexpf(1.0f, -24), "subnormal");

  const sme2k_epilogue e = sme2k_epilogue_default();
  CHECK(e.int8_affine_scale == NULL && e.int8_affine_shift == NULL && e.int8_table == NULL &&
            e.int8_affine_zero_point == 0 && e.int8_affine_min == -128 && e.int8_affine_max == 127,
        "int8 stage defaults");
  CHECK(e.activation == SME2K_ACTIVATION_NONE && e.affine_scale == NULL && e.affine_shift == NULL &&
            isinf(e.clamp_min) && e.clamp_min < 0 && isinf(e.clamp_max) && e.clamp_max > 0 &&
            e.order == SME2K_OUTPUT_ROW_MAJOR && e.quantized_min == -128 && e.quantized_max == 127,
        "epilogue defaults");
  const sme2k_conv2d_params p = sme2k_conv2d_params_default();
  CHECK(p.batch == 1 && p.stride_height == 1 && p.stride_width == 1 && p.dilation_height == 1 &&
            p.dilation_width == 1 && p.groups == 1 && p.in_channels == 0 && p.pad_top == 0,
        "conv defaults");
  const sme2k_batchnorm_params bn = sme2k_batchnorm_params_default();
  CHECK(bn.weight == NULL && bn.running_mean == NULL && bn.eps == 1e-5f, "batchnorm defaults");
}

/* ---- threading hook: a serial parallel-for that counts its tasks ---------------------------- */

typedef struct {
  size_t calls, tasks;
} counting_pool;

static void run_serially(void* context, size_t count, void (*task)(void*, size_t),
                         void* task_context) {
  counting_pool* pool = context;
  ++pool->calls;
  for (size_t i = 0; i < count; ++i) {
    task(task_context, i);
    ++pool->tasks;
  }
}

/* ---- threading hook: a real pool of pthreads ------------------------------------------------ */

/* A fixed set of worker threads plus the caller, as a runtime's pool: task i of a run goes to
 * thread i % threads (the caller is thread 0), so with two tasks or more several threads
 * really run them. It records what each run did. */
enum { kMaxPoolThreads = 4 };

typedef struct thread_pool thread_pool;

typedef struct {
  thread_pool* pool;
  size_t index; /* 1 .. threads - 1 */
} pool_worker;

struct thread_pool {
  size_t threads; /* the caller and threads - 1 workers */
  pthread_t workers[kMaxPoolThreads];
  pool_worker worker_args[kMaxPoolThreads];
  pthread_mutex_t mutex;
  pthread_cond_t wake, idle;
  unsigned long generation; /* one per run: the workers wait for the next */
  size_t pending;           /* workers still on the current run */
  int stop;
  /* the current run */
  size_t count;
  void (*task)(void*, size_t);
  void* task_context;
  /* what the runs since pool_reset() did */
  size_t runs, most_tasks, tasks_on[kMaxPoolThreads];
};

/* Thread `thread`'s share of the current run: tasks thread, thread + threads, ... */
static void pool_share(thread_pool* pool, size_t thread) {
  size_t done = 0;
  for (size_t i = thread; i < pool->count; i += pool->threads) {
    pool->task(pool->task_context, i);
    ++done;
  }
  pool->tasks_on[thread] += done; /* read by the caller after the run, under the mutex */
}

static void* pool_worker_main(void* arg) {
  const pool_worker* w = arg;
  thread_pool* pool = w->pool;
  unsigned long seen = 0;
  pthread_mutex_lock(&pool->mutex);
  for (;;) {
    while (!pool->stop && pool->generation == seen) pthread_cond_wait(&pool->wake, &pool->mutex);
    if (pool->stop) break;
    seen = pool->generation;
    pthread_mutex_unlock(&pool->mutex);
    pool_share(pool, w->index);
    pthread_mutex_lock(&pool->mutex);
    if (--pool->pending == 0) pthread_cond_signal(&pool->idle);
  }
  pthread_mutex_unlock(&pool->mutex);
  return NULL;
}

/* sme2k_parallel_for.run */
static void pool_run(void* context, size_t count, void (*task)(void*, size_t), void* task_context) {
  thread_pool* pool = context;
  pthread_mutex_lock(&pool->mutex);
  pool->count = count;
  pool->task = task;
  pool->task_context = task_context;
  pool->pending = pool->threads - 1;
  ++pool->generation;
  ++pool->runs;
  pool->most_tasks = count > pool->most_tasks ? count : pool->most_tasks;
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->mutex);
  pool_share(pool, 0);
  pthread_mutex_lock(&pool->mutex);
  while (pool->pending > 0) pthread_cond_wait(&pool->idle, &pool->mutex);
  pthread_mutex_unlock(&pool->mutex);
}

static void pool_start(thread_pool* pool, size_t threads) {
  memset(pool, 0, sizeof *pool);
  pool->threads = threads;
  if (pthread_mutex_init(&pool->mutex, NULL) != 0 || pthread_cond_init(&pool->wake, NULL) != 0 ||
      pthread_cond_init(&pool->idle, NULL) != 0) {
    fprintf(stderr, "pthread init failed\n");
    exit(2);
  }
  for (size_t t = 1; t < threads; ++t) {
    pool->worker_args[t] = (pool_worker){pool, t};
    if (pthread_create(&pool->workers[t], NULL, pool_worker_main, &pool->worker_args[t]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      exit(2);
    }
  }
}

static void pool_stop(thread_pool* pool) {
  pthread_mutex_lock(&pool->mutex);
  pool->stop = 1;
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->mutex);
  for (size_t t = 1; t < pool->threads; ++t) pthread_join(pool->workers[t], NULL);
  pthread_cond_destroy(&pool->wake);
  pthread_cond_destroy(&pool->idle);
  pthread_mutex_destroy(&pool->mutex);
}

static void pool_reset(thread_pool* pool) {
  pthread_mutex_lock(&pool->mutex);
  pool->runs = pool->most_tasks = 0;
  memset(pool->tasks_on, 0, sizeof pool->tasks_on);
  pthread_mutex_unlock(&pool->mutex);
}

/* Threads that ran at least one task since pool_reset(). */
static size_t pool_threads_used(thread_pool* pool) {
  size_t used = 0;
  pthread_mutex_lock(&pool->mutex);
  for (size_t t = 0; t < pool->threads; ++t) used += pool->tasks_on[t] > 0;
  pthread_mutex_unlock(&pool->mutex);
  return used;
}

static thread_pool g_pools[3]; /* 2, 3 and 4 threads */

/* ---- float GEMM ------------------------------------------------------------------------ */

/* A (M x K, lda) times B (K x N as kxn, or N x K), bias, epilogue; the reference value and
 * the magnitude the bound scales with. */
static void reference_gemm(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* b,
                           size_t ldb, int nxk, const float* bias, size_t i, size_t j,
                           double* value, double* magnitude) {
  double acc = bias != NULL ? bias[j] : 0.0, mag = bias != NULL ? fabs(bias[j]) : 0.0;
  for (size_t kk = 0; kk < k; ++kk) {
    const double w = nxk ? b[j * ldb + kk] : b[kk * ldb + j];
    acc += (double)a[i * lda + kk] * w;
    mag += fabs((double)a[i * lda + kk] * w);
  }
  (void)m;
  (void)n;
  *value = acc;
  *magnitude = mag;
}

static void test_gemm_f32(void) {
  const size_t shapes[][3] = {{3, 7, 9}, {17, 21, 33}};
  for (size_t s = 0; s < 2; ++s) {
    const size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
    for (int nxk = 0; nxk < 2; ++nxk) {
      for (int transposed = 0; transposed < 2; ++transposed) {
        const size_t lda = k + 3, ldb = (nxk ? k : n) + 1, ldc = (transposed ? m : n) + 2;
        float* a = random_floats(m * lda);
        float* b = random_floats((nxk ? n : k) * ldb);
        float* bias = random_floats(n);
        float* scale = random_floats(n);
        float* shift = random_floats(n);
        const size_t c_rows = transposed ? n : m, c_elems = c_rows * ldc + 4;
        float* c = checked_malloc(c_elems * sizeof *c);
        for (size_t i = 0; i < c_elems; ++i) c[i] = 1234.5f;

        size_t packed_bytes = 0, ws_bytes = 0;
        void* packed = packed_rhs(SME2K_VARIANT_F32, n, k, &packed_bytes);
        const sme2k_matrix bm = {b, nxk ? n : k, nxk ? k : n, ldb, SME2K_DTYPE_F32};
        EXPECT_OK(sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, nxk ? SME2K_RHS_NXK : SME2K_RHS_KXN,
                                      bias, SME2K_DTYPE_F32, packed, packed_bytes));
        sme2k_epilogue e = sme2k_epilogue_default();
        e.activation = SME2K_ACTIVATION_RELU6;
        e.affine_scale = scale;
        e.affine_shift = shift;
        e.clamp_min = -0.5f;
        e.clamp_max = 4.0f;
        e.order = transposed ? SME2K_OUTPUT_TRANSPOSED : SME2K_OUTPUT_ROW_MAJOR;
        /* through a parallel-for that runs its tasks serially: the workspace sized for it */
        counting_pool pool = {0, 0};
        const sme2k_parallel_for parallel = {run_serially, &pool, 4};
        EXPECT_OK(
            sme2k_gemm_workspace_size(SME2K_VARIANT_F32, m, n, k, e.order, &ws_bytes, &parallel));
        void* ws = checked_malloc(ws_bytes);
        const sme2k_mutable_matrix cm = {c, c_rows, transposed ? m : n, ldc, SME2K_DTYPE_F32};
        EXPECT_OK(sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, m, k, lda, SME2K_DTYPE_F32},
                             packed, packed_bytes, cm, &e, ws, ws_bytes, &parallel));
        CHECK(sme2k_last_used_path() == g_path, "ran %s", sme2k_path_name(sme2k_last_used_path()));
        CHECK(pool.calls <= 1 && pool.tasks <= 4 && (pool.calls == 0) == (pool.tasks == 0),
              "%zu runs of %zu tasks in all", pool.calls, pool.tasks);
        for (size_t i = 0; i < m; ++i) {
          for (size_t j = 0; j < n; ++j) {
            double want = 0, mag = 0;
            reference_gemm(m, n, k, a, lda, b, ldb, nxk, bias, i, j, &want, &mag);
            want = relu6(want) * scale[j] + shift[j];
            want = want < -0.5 ? -0.5 : want > 4.0 ? 4.0 : want;
            const float got = transposed ? c[j * ldc + i] : c[i * ldc + j];
            const double bound = ldexp(1.0, -20) * (mag * (fabs(scale[j]) + 1) + fabs(shift[j]));
            CHECK(fabs(got - want) <= bound,
                  "f32 gemm %zux%zux%zu nxk=%d transposed=%d (%zu, %zu): %.9g, want %.9g", m, n, k,
                  nxk, transposed, i, j, got, want);
          }
        }
        /* Nothing written outside C: the padding of each row and the tail. */
        int outside_intact = 1;
        for (size_t r = 0; r < c_rows; ++r) {
          for (size_t x = transposed ? m : n; x < ldc; ++x) {
            outside_intact = outside_intact && c[r * ldc + x] == 1234.5f;
          }
        }
        for (size_t x = c_rows * ldc; x < c_elems; ++x) {
          outside_intact = outside_intact && c[x] == 1234.5f;
        }
        CHECK(outside_intact, "f32 gemm wrote outside C");

        /* NULL epilogue: the default; no bias. */
        if (s == 0 && nxk == 0 && transposed == 0) {
          EXPECT_OK(sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, SME2K_RHS_KXN, NULL,
                                        (sme2k_dtype)12345, packed, packed_bytes));
          EXPECT_OK(sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, m, k, lda, SME2K_DTYPE_F32},
                               packed, packed_bytes, cm, NULL, ws, ws_bytes, NULL));
          for (size_t i = 0; i < m; ++i) {
            for (size_t j = 0; j < n; ++j) {
              double want = 0, mag = 0;
              reference_gemm(m, n, k, a, lda, b, ldb, 0, NULL, i, j, &want, &mag);
              CHECK(fabs(c[i * ldc + j] - want) <= ldexp(1.0, -20) * mag,
                    "f32 gemm, no bias (%zu, %zu): %.9g, want %.9g", i, j, c[i * ldc + j], want);
            }
          }
        }
        free(a), free(b), free(bias), free(scale), free(shift), free(c), free(packed), free(ws);
      }
    }
  }
}

/* F16 and F16_ACC16: f16 A and B, f16 or f32 bias, f16 or f32 output. */
static void test_gemm_f16(void) {
  const size_t m = 9, n = 13, k = 19;
  uint16_t* a = random_f16(m * k);
  uint16_t* b = random_f16(n * k); /* N x K */
  float* af = checked_malloc(m * k * sizeof *af);
  float* bf = checked_malloc(n * k * sizeof *bf);
  for (size_t i = 0; i < m * k; ++i) af[i] = sme2k_f16_to_f32(a[i]);
  for (size_t i = 0; i < n * k; ++i) bf[i] = sme2k_f16_to_f32(b[i]);
  uint16_t* bias16 = random_f16(n);
  float* bias = checked_malloc(n * sizeof *bias);
  for (size_t j = 0; j < n; ++j) bias[j] = sme2k_f16_to_f32(bias16[j]);
  const sme2k_variant variants[] = {SME2K_VARIANT_F16, SME2K_VARIANT_F16_ACC16};
  for (int v = 0; v < 2; ++v) {
    for (int out32 = 0; out32 < 2; ++out32) {
      for (int bias32 = 0; bias32 < 2; ++bias32) {
        const sme2k_variant variant = variants[v];
        if (variant == SME2K_VARIANT_F16_ACC16 && out32) continue; /* f16 out only */
        size_t packed_bytes = 0, ws_bytes = 0;
        void* packed = packed_rhs(variant, n, k, &packed_bytes);
        EXPECT_OK(sme2k_gemm_pack_rhs(variant, (sme2k_matrix){b, n, k, k, SME2K_DTYPE_F16},
                                      SME2K_RHS_NXK, bias32 ? (const void*)bias : bias16,
                                      bias32 ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16, packed,
                                      packed_bytes));
        void* ws = gemm_workspace(variant, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &ws_bytes);
        void* c = checked_malloc(m * n * 4);
        EXPECT_OK(sme2k_gemm(
            variant, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_F16}, packed, packed_bytes,
            (sme2k_mutable_matrix){c, m, n, n, out32 ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16}, NULL, ws,
            ws_bytes, NULL));
        for (size_t i = 0; i < m; ++i) {
          for (size_t j = 0; j < n; ++j) {
            double want = 0, mag = 0;
            reference_gemm(m, n, k, af, k, bf, k, 1, bias, i, j, &want, &mag);
            const float got =
                out32 ? ((float*)c)[i * n + j] : sme2k_f16_to_f32(((uint16_t*)c)[i * n + j]);
            double bound =
                variant == SME2K_VARIANT_F16_ACC16 ? ldexp(1.0, -8) * mag : ldexp(1.0, -20) * mag;
            if (!out32) bound += ldexp(1.0, -11) * fabs(want);
            CHECK(fabs(got - want) <= bound,
                  "variant %d out32=%d bias32=%d (%zu, %zu): %.7g vs %.7g", (int)variant, out32,
                  bias32, i, j, got, want);
          }
        }
        free(packed), free(ws), free(c);
      }
    }
  }
  free(a), free(b), free(af), free(bf), free(bias16), free(bias);
}

/* ---- QS8: bit-exact ---------------------------------------------------------------------- */

static float requantization_scale(float in, float w, float out) {
  return (float)((double)in * (double)w / (double)out);
}

/* round_to_nearest_even(r) saturated to int32 (NaN: 0), plus zero_point, clamped. */
static int8_t round_to_int8(float value, int32_t zero_point, int32_t lo, int32_t hi) {
  const float r = nearbyintf(value);
  const int64_t rounded = r >= 2147483648.0f   ? INT32_MAX
                          : r < -2147483648.0f ? INT32_MIN
                          : isnan(r)           ? 0
                                               : (int64_t)r;
  const int64_t q = rounded + zero_point;
  return (int8_t)(q < lo ? lo : q > hi ? hi : q);
}

static int8_t requantize(int32_t acc, float scale, int32_t zero_point, int32_t lo, int32_t hi) {
  return round_to_int8((float)acc * scale, zero_point, lo, hi);
}

static void test_gemm_qs8(void) {
  const size_t m = 11, n = 10, k = 23;
  int8_t* a = random_int8(m * k, -128, 127);
  int8_t* b = random_int8(k * n, -127, 127); /* K x N */
  int32_t* bias = checked_malloc(n * sizeof *bias);
  float* w_scales = checked_malloc(n * sizeof *w_scales);
  for (size_t j = 0; j < n; ++j) {
    bias[j] = random_int(-5000, 5000);
    w_scales[j] = 0.002f + 0.001f * (float)j;
  }
  const sme2k_qs8_quantization q = {{0.05f, -7}, w_scales, {0.4f, 3}};
  size_t packed_bytes = 0, ws_bytes = 0;
  void* packed = packed_rhs(SME2K_VARIANT_QS8, n, k, &packed_bytes);
  const sme2k_matrix bm = {b, k, n, n, SME2K_DTYPE_INT8};
  EXPECT_OK(sme2k_gemm_pack_rhs_qs8(bm, SME2K_RHS_KXN, bias, &q, packed, packed_bytes));
  void* ws = gemm_workspace(SME2K_VARIANT_QS8, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &ws_bytes);
  int8_t* c = checked_malloc(m * n);
  sme2k_epilogue e = sme2k_epilogue_default();
  e.quantized_min = -100;
  e.quantized_max = 120;
  EXPECT_OK(sme2k_gemm(SME2K_VARIANT_QS8, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_INT8}, packed,
                       packed_bytes, (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_INT8}, &e, ws,
                       ws_bytes, NULL));
  int mismatches = 0;
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      int32_t acc = bias[j];
      for (size_t kk = 0; kk < k; ++kk) acc += (a[i * k + kk] - q.input.zero_point) * b[kk * n + j];
      const int8_t want =
          requantize(acc, requantization_scale(q.input.scale, w_scales[j], q.output.scale),
                     q.output.zero_point, e.quantized_min, e.quantized_max);
      if (c[i * n + j] != want && mismatches++ < 5) {
        CHECK(0, "qs8 (%zu, %zu): %d, want %d", i, j, c[i * n + j], want);
      }
    }
  }
  CHECK(mismatches == 0, "qs8: %d mismatches", mismatches);

  /* The int8 stages of the next quantized op: a per-channel affine (a BatchNorm made by
   * sme2k_batchnorm_int8_affine) and a ReLU table, bit-exact. */
  float bn_mean[10], bn_var[10], affine_scale[10], affine_shift[10];
  for (size_t j = 0; j < n; ++j) {
    bn_mean[j] = 0.5f * random_float();
    bn_var[j] = 0.5f + random_float() * 0.25f;
  }
  sme2k_batchnorm_params bn = sme2k_batchnorm_params_default();
  bn.running_mean = bn_mean;
  bn.running_var = bn_var;
  const sme2k_quant_params bn_in = q.output, bn_out = {0.3f, -10};
  EXPECT_OK(sme2k_batchnorm_int8_affine(n, &bn, bn_in, bn_out, affine_scale, affine_shift));
  for (size_t j = 0; j < n; ++j) {
    const double s = 1.0 / sqrt((double)bn_var[j] + (double)bn.eps);
    CHECK(affine_scale[j] == (float)(bn_in.scale * s / bn_out.scale) &&
              affine_shift[j] == (float)((0.0 - bn_mean[j]) * s / bn_out.scale),
          "int8 batchnorm affine of channel %zu", j);
  }
  int8_t table[256];
  EXPECT_OK(sme2k_int8_activation_table(SME2K_ACTIVATION_RELU, bn_out, bn_out, -128, 127, table));
  for (int v = -128; v < 128; ++v) {
    CHECK(table[v + 128] == (v > bn_out.zero_point ? v : bn_out.zero_point), "relu table at %d", v);
  }
  e.int8_affine_scale = affine_scale;
  e.int8_affine_shift = affine_shift;
  e.int8_affine_zero_point = bn_out.zero_point;
  e.int8_affine_min = -120;
  e.int8_affine_max = 110;
  e.int8_table = table;
  EXPECT_OK(sme2k_gemm(SME2K_VARIANT_QS8, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_INT8}, packed,
                       packed_bytes, (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_INT8}, &e, ws,
                       ws_bytes, NULL));
  mismatches = 0;
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      int32_t acc = bias[j];
      for (size_t kk = 0; kk < k; ++kk) acc += (a[i * k + kk] - q.input.zero_point) * b[kk * n + j];
      const int8_t q1 =
          requantize(acc, requantization_scale(q.input.scale, w_scales[j], q.output.scale),
                     q.output.zero_point, e.quantized_min, e.quantized_max);
      const int8_t q2 =
          round_to_int8(fmaf((float)(q1 - q.output.zero_point), affine_scale[j], affine_shift[j]),
                        e.int8_affine_zero_point, e.int8_affine_min, e.int8_affine_max);
      mismatches += c[i * n + j] != table[q2 + 128];
    }
  }
  CHECK(mismatches == 0, "qs8 with int8 stages: %d mismatches", mismatches);
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_int8_activation_table((sme2k_activation)9, bn_out, bn_out, -128, 127, table));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_int8_activation_table(SME2K_ACTIVATION_RELU, bn_out, bn_out, 5, 4, table));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_int8_activation_table(SME2K_ACTIVATION_RELU, bn_out,
                                                                bn_out, -128, 127, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_batchnorm_int8_affine(n, &bn, bn_in, (sme2k_quant_params){0.0f, 0},
                                            affine_scale, affine_shift));
  e.int8_affine_shift = NULL; /* required with the scale */
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_gemm(SME2K_VARIANT_QS8, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_INT8}, packed,
                           packed_bytes, (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_INT8}, &e,
                           ws, ws_bytes, NULL));
  e = sme2k_epilogue_default();

  /* float stages are refused for int8 outputs */
  e.activation = SME2K_ACTIVATION_RELU;
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_gemm(SME2K_VARIANT_QS8, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_INT8}, packed,
                           packed_bytes, (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_INT8}, &e,
                           ws, ws_bytes, NULL));
  /* bad quantization */
  const sme2k_qs8_quantization zero = {{0.0f, 0}, w_scales, {1.0f, 0}};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_pack_rhs_qs8(bm, SME2K_RHS_KXN, bias, &zero, packed, packed_bytes));
  const sme2k_qs8_quantization bad_zp = {{1.0f, 200}, w_scales, {1.0f, 0}};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_pack_rhs_qs8(bm, SME2K_RHS_KXN, bias, &bad_zp, packed, packed_bytes));
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_gemm_pack_rhs_qs8(bm, SME2K_RHS_KXN, bias, NULL, packed, packed_bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_gemm_pack_rhs_qs8((sme2k_matrix){b, k, n, n, SME2K_DTYPE_F32}, SME2K_RHS_KXN,
                                        bias, &q, packed, packed_bytes));
  free(a), free(b), free(bias), free(w_scales), free(packed), free(ws), free(c);
}

/* ---- QD8 family: exact row quantization, bounded dequantization ---------------------------- */

typedef struct {
  float scale;
  int32_t zero_point;
} row_quant;

static row_quant quantize_row(const float* x, size_t k, int8_t* q) {
  float lo = 0.0f, hi = 0.0f;
  for (size_t i = 0; i < k; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  float scale = hi / 255.0f - lo / 255.0f;
  if (scale < FLT_MIN) scale = FLT_MIN;
  const float inv = 1.0f / scale;
  float zp = nearbyintf(fmaf(-lo, inv, -128.0f));
  zp = zp < -128.0f ? -128.0f : zp > 127.0f ? 127.0f : zp;
  for (size_t i = 0; i < k; ++i) {
    const double t = nearbyint((double)x[i] * (double)inv + (double)zp);
    q[i] = (int8_t)(t < -128 ? -128 : t > 127 ? 127 : t);
  }
  const row_quant r = {scale, (int32_t)zp};
  return r;
}

/* QD8-family check of C (f32 or f16) against exact integers: w(j, kk) gives the weight value,
 * cs(j, kk) its scale (per channel or per block). */
typedef int (*weight_fn)(const void* ctx, size_t j, size_t kk);
typedef float (*scale_fn)(const void* ctx, size_t j, size_t kk);

static void check_qd8_output(const char* what, size_t m, size_t n, size_t k, const float* a,
                             const void* ctx, weight_fn w, scale_fn cs, const float* bias,
                             const void* c, int out16) {
  int8_t* q = checked_malloc(k);
  int failures = 0;
  for (size_t i = 0; i < m; ++i) {
    const row_quant r = quantize_row(a + i * k, k, q);
    for (size_t j = 0; j < n; ++j) {
      double want = bias[j], mag = fabs(bias[j]);
      for (size_t kk = 0; kk < k; ++kk) {
        const double term =
            (double)r.scale * (q[kk] - r.zero_point) * w(ctx, j, kk) * cs(ctx, j, kk);
        want += term;
        mag += fabs(term);
      }
      const float got =
          out16 ? sme2k_f16_to_f32(((const uint16_t*)c)[i * n + j]) : ((const float*)c)[i * n + j];
      double bound = 4 * ldexp(1.0, -24) * mag + ldexp(1.0, -24) * fabs(want);
      if (out16) bound += ldexp(1.0, -11) * fabs(want);
      if (!(fabs(got - want) <= bound) && failures++ < 5) {
        CHECK(0, "%s out16=%d (%zu, %zu): %.9g, want %.9g (bound %.3g)", what, out16, i, j, got,
              want, bound);
      }
    }
  }
  CHECK(failures == 0, "%s: %d outputs out of bound", what, failures);
  free(q);
}

typedef struct {
  const int8_t* values; /* N x K */
  size_t k;
  const float* scales; /* per channel, or per (channel, block) */
  size_t block;        /* 0: per channel */
} qd8_weights;

static int qd8_weight(const void* ctx, size_t j, size_t kk) {
  const qd8_weights* w = ctx;
  return w->values[j * w->k + kk];
}
static float qd8_scale(const void* ctx, size_t j, size_t kk) {
  const qd8_weights* w = ctx;
  return w->block == 0 ? w->scales[j] : w->scales[j * (w->k / w->block) + kk / w->block];
}

/* gemm on A, and on A packed once: the same bits. */
static void run_qd8(const char* what, sme2k_variant variant, size_t m, size_t n, size_t k,
                    const float* a, const void* packed, size_t packed_bytes, const void* ctx,
                    const float* bias) {
  size_t ws_bytes = 0;
  void* ws = gemm_workspace(variant, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &ws_bytes);
  float* c = checked_malloc(m * n * sizeof *c);
  uint16_t* c16 = checked_malloc(m * n * sizeof *c16);
  const sme2k_matrix am = {a, m, k, k, SME2K_DTYPE_F32};
  EXPECT_OK(sme2k_gemm(variant, am, packed, packed_bytes,
                       (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F32}, NULL, ws, ws_bytes,
                       NULL));
  check_qd8_output(what, m, n, k, a, ctx, qd8_weight, qd8_scale, bias, c, 0);
  EXPECT_OK(sme2k_gemm(variant, am, packed, packed_bytes,
                       (sme2k_mutable_matrix){c16, m, n, n, SME2K_DTYPE_F16}, NULL, ws, ws_bytes,
                       NULL));
  check_qd8_output(what, m, n, k, a, ctx, qd8_weight, qd8_scale, bias, c16, 1);
  if (variant != SME2K_VARIANT_QD8_QB4W) {
    size_t lhs_bytes = 0;
    EXPECT_OK(sme2k_gemm_packed_lhs_size(variant, m, k, &lhs_bytes));
    void* lhs = checked_malloc(lhs_bytes);
    EXPECT_OK(sme2k_gemm_pack_lhs(variant, am, lhs, lhs_bytes, NULL));
    float* c2 = checked_malloc(m * n * sizeof *c2);
    EXPECT_OK(sme2k_gemm_packed_lhs(variant, lhs, lhs_bytes, packed, packed_bytes,
                                    (sme2k_mutable_matrix){c2, m, n, n, SME2K_DTYPE_F32}, NULL, ws,
                                    ws_bytes, NULL));
    CHECK(memcmp(c, c2, m * n * sizeof *c) == 0, "%s: packed activations differ", what);
    EXPECT_STATUS(SME2K_BUFFER_TOO_SMALL,
                  sme2k_gemm_pack_lhs(variant, am, lhs, lhs_bytes - 1, NULL));
    EXPECT_STATUS(SME2K_UNSUPPORTED,
                  sme2k_gemm_pack_lhs(variant, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_INT8}, lhs,
                                      lhs_bytes, NULL));
    /* packed activations where the weights go */
    EXPECT_STATUS(SME2K_PACKED_MISMATCH,
                  sme2k_gemm_packed_lhs(variant, lhs, lhs_bytes, lhs, lhs_bytes,
                                        (sme2k_mutable_matrix){c2, m, n, n, SME2K_DTYPE_F32}, NULL,
                                        ws, ws_bytes, NULL));
    free(lhs), free(c2);
  }
  free(ws), free(c), free(c16);
}

static void test_gemm_qd8(void) {
  const size_t m = 6, n = 9, k = 64;
  float* a = random_floats(m * k);
  a[5] = 3.0f; /* rows of different ranges */
  a[k + 1] = -2.5f;
  float* bias = random_floats(n);
  int8_t* w = random_int8(n * k, -127, 127);
  float* scales = checked_malloc(n * k / 32 * sizeof *scales);
  for (size_t i = 0; i < n * k / 32; ++i) scales[i] = 0.01f + 0.002f * (float)(i % 7);

  /* QD8 x QC8W, weights N x K */
  size_t bytes = 0;
  void* packed = packed_rhs(SME2K_VARIANT_QD8, n, k, &bytes);
  const qd8_weights w8 = {w, k, scales, 0};
  EXPECT_OK(sme2k_gemm_pack_rhs_qd8((sme2k_matrix){w, n, k, k, SME2K_DTYPE_INT8}, SME2K_RHS_NXK,
                                    bias, scales, packed, bytes));
  run_qd8("qd8", SME2K_VARIANT_QD8, m, n, k, a, packed, bytes, &w8, bias);
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_gemm_pack_rhs_qd8((sme2k_matrix){w, n, k, k, SME2K_DTYPE_INT8}, SME2K_RHS_NXK,
                                        bias, NULL, packed, bytes));
  free(packed);

  /* QD8 x QC4W from nibbles, N x K */
  int8_t* w4 = random_int8(n * k, -8, 7);
  uint8_t* nibbles = checked_malloc(n * k / 2);
  for (size_t i = 0; i < n * k / 2; ++i) {
    nibbles[i] = (uint8_t)((w4[2 * i] & 0xF) | (w4[2 * i + 1] & 0xF) << 4);
  }
  const qd8_weights w4c = {w4, k, scales, 0};
  packed = packed_rhs(SME2K_VARIANT_QD8_QC4W, n, k, &bytes);
  const sme2k_int4_matrix b4 = {nibbles, n, k, k / 2, SME2K_INT4_NIBBLES};
  EXPECT_OK(sme2k_gemm_pack_rhs_qc4w(b4, SME2K_RHS_NXK, bias, scales, packed, bytes));
  run_qd8("qd8-qc4w", SME2K_VARIANT_QD8_QC4W, m, n, k, a, packed, bytes, &w4c, bias);
  /* int8 storage of the same values: the same packed bytes */
  void* again = checked_malloc(bytes);
  EXPECT_OK(sme2k_gemm_pack_rhs_qc4w((sme2k_int4_matrix){w4, n, k, k, SME2K_INT4_INT8},
                                     SME2K_RHS_NXK, bias, scales, again, bytes));
  CHECK(memcmp(packed, again, bytes) == 0, "qc4w: nibbles and int8 storage pack differently");
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_pack_rhs_qc4w((sme2k_int4_matrix){w, n, k, k, SME2K_INT4_INT8},
                                         SME2K_RHS_NXK, bias, scales, again, bytes));
  EXPECT_STATUS(
      SME2K_INVALID_ARGUMENT,
      sme2k_gemm_pack_rhs_qc4w((sme2k_int4_matrix){nibbles, n, k, k / 2, (sme2k_int4_storage)3},
                               SME2K_RHS_NXK, bias, scales, again, bytes));
  free(packed), free(again);

  /* QD8 x QB4W, block 32, f32 scales; and the same weights as GGUF Q4_0 blocks (f16 scales,
   * exact in f32): the same packed bytes. */
  float* block_scales = checked_malloc(n * k / 32 * sizeof *block_scales);
  for (size_t i = 0; i < n * k / 32; ++i) {
    block_scales[i] = sme2k_f16_to_f32(sme2k_f32_to_f16(0.01f + 0.003f * (float)(i % 5)));
  }
  const qd8_weights wb = {w4, k, block_scales, 32};
  packed = packed_rhs(SME2K_VARIANT_QD8_QB4W, n, k, &bytes);
  const sme2k_block_scales bs = {block_scales, SME2K_SCALE_F32, 32, k / 32};
  EXPECT_OK(sme2k_gemm_pack_rhs_qb4w(b4, SME2K_RHS_NXK, bias, &bs, packed, bytes));
  run_qd8("qd8-qb4w", SME2K_VARIANT_QD8_QB4W, m, n, k, a, packed, bytes, &wb, bias);
  uint8_t* q4_0 = checked_malloc(n * k / 32 * 18);
  for (size_t j = 0; j < n; ++j) {
    for (size_t blk = 0; blk < k / 32; ++blk) {
      uint8_t* block = q4_0 + (j * (k / 32) + blk) * 18;
      const uint16_t d = sme2k_f32_to_f16(block_scales[j * (k / 32) + blk]);
      block[0] = (uint8_t)(d & 0xFF);
      block[1] = (uint8_t)(d >> 8);
      for (size_t i = 0; i < 16; ++i) {
        const int lo = w4[j * k + blk * 32 + i] + 8, hi = w4[j * k + blk * 32 + 16 + i] + 8;
        block[2 + i] = (uint8_t)(lo | hi << 4);
      }
    }
  }
  again = checked_malloc(bytes);
  EXPECT_OK(sme2k_gemm_pack_rhs_q4_0(q4_0, n, k, bias, again, bytes));
  CHECK(memcmp(packed, again, bytes) == 0, "q4_0 and qb4w pack the same weights differently");
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_gemm_pack_rhs_q4_0(q4_0, n, 33, bias, again, bytes));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_gemm_pack_rhs_q4_0(NULL, n, k, bias, again, bytes));
  const sme2k_block_scales bad_block = {block_scales, SME2K_SCALE_F32, 48, k / 32};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_pack_rhs_qb4w(b4, SME2K_RHS_NXK, bias, &bad_block, again, bytes));
  const sme2k_block_scales bad_type = {block_scales, (sme2k_scale_type)-2, 32, k / 32};
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_pack_rhs_qb4w(b4, SME2K_RHS_NXK, bias, &bad_type, again, bytes));
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_gemm_pack_rhs_qb4w(b4, SME2K_RHS_NXK, bias, NULL, again, bytes));
  /* issue 19: a leading dimension whose n * ld wraps (once a wild pointer, a segfault) */
  const sme2k_block_scales huge_ld = {block_scales, SME2K_SCALE_F32, 32, (size_t)1 << 61};
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW,
                sme2k_gemm_pack_rhs_qb4w(b4, SME2K_RHS_NXK, bias, &huge_ld, again, bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_gemm_packed_lhs_size(SME2K_VARIANT_QD8_QB4W, m, k, &bytes));

  free(packed), free(again), free(q4_0), free(block_scales), free(a), free(bias), free(w),
      free(scales), free(w4), free(nibbles);
}

/* ---- batched matmul ------------------------------------------------------------------- */

static void test_batch_matmul(void) {
  const size_t batch = 3, m = 4, n = 6, k = 5;
  float* a = random_floats(batch * m * k);
  float* b = random_floats(n * k); /* one N x K B for every item (b_stride 0) */
  float* c = checked_malloc(batch * m * n * sizeof *c);
  size_t ws_bytes = 0;
  EXPECT_OK(sme2k_batch_matmul_workspace_size(SME2K_VARIANT_F32, batch, m, n, k,
                                              SME2K_OUTPUT_ROW_MAJOR, &ws_bytes, NULL));
  void* ws = checked_malloc(ws_bytes);
  EXPECT_OK(sme2k_batch_matmul(
      SME2K_VARIANT_F32, batch, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_F32}, m * k,
      (sme2k_matrix){b, n, k, k, SME2K_DTYPE_F32}, SME2K_RHS_NXK, 0,
      (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F32}, m * n, NULL, ws, ws_bytes, NULL));
  for (size_t t = 0; t < batch; ++t) {
    for (size_t i = 0; i < m; ++i) {
      for (size_t j = 0; j < n; ++j) {
        double want = 0, mag = 0;
        reference_gemm(m, n, k, a + t * m * k, k, b, k, 1, NULL, i, j, &want, &mag);
        CHECK(fabs(c[t * m * n + i * n + j] - want) <= ldexp(1.0, -20) * mag,
              "batch %zu (%zu, %zu): %.9g, want %.9g", t, i, j, c[t * m * n + i * n + j], want);
      }
    }
  }
  /* F16 in, f32 out */
  uint16_t* a16 = random_f16(m * k);
  uint16_t* b16 = random_f16(k * n); /* K x N */
  EXPECT_OK(sme2k_batch_matmul_workspace_size(SME2K_VARIANT_F16, 1, m, n, k, SME2K_OUTPUT_ROW_MAJOR,
                                              &ws_bytes, NULL));
  void* ws16 = checked_malloc(ws_bytes);
  EXPECT_OK(sme2k_batch_matmul(SME2K_VARIANT_F16, 1, (sme2k_matrix){a16, m, k, k, SME2K_DTYPE_F16},
                               0, (sme2k_matrix){b16, k, n, n, SME2K_DTYPE_F16}, SME2K_RHS_KXN, 0,
                               (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F32}, 0, NULL, ws16,
                               ws_bytes, NULL));
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double want = 0, mag = 0;
      for (size_t kk = 0; kk < k; ++kk) {
        const double x =
            (double)sme2k_f16_to_f32(a16[i * k + kk]) * sme2k_f16_to_f32(b16[kk * n + j]);
        want += x;
        mag += fabs(x);
      }
      CHECK(fabs(c[i * n + j] - want) <= ldexp(1.0, -20) * mag, "f16 batch (%zu, %zu)", i, j);
    }
  }
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_batch_matmul_workspace_size(SME2K_VARIANT_QS8, 1, m, n, k,
                                                  SME2K_OUTPUT_ROW_MAJOR, &ws_bytes, NULL));
  EXPECT_STATUS(
      SME2K_UNSUPPORTED,
      sme2k_batch_matmul(SME2K_VARIANT_F16, 1, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_F32}, 0,
                         (sme2k_matrix){b16, k, n, n, SME2K_DTYPE_F16}, SME2K_RHS_KXN, 0,
                         (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F32}, 0, NULL, ws16,
                         ws_bytes, NULL));
  EXPECT_STATUS(
      SME2K_NULL_POINTER,
      sme2k_batch_matmul(SME2K_VARIANT_F32, batch, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_F32},
                         m * k, (sme2k_matrix){b, n, k, k, SME2K_DTYPE_F32}, SME2K_RHS_NXK, 0,
                         (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F32}, m * n, NULL, NULL, 0,
                         NULL));
  EXPECT_STATUS(
      SME2K_INVALID_ARGUMENT,
      sme2k_batch_matmul(SME2K_VARIANT_F32, batch, (sme2k_matrix){a, m, k, k, SME2K_DTYPE_F32},
                         m * k, (sme2k_matrix){b, n, k, k, SME2K_DTYPE_F32}, (sme2k_rhs_layout)1000,
                         0, (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F32}, m * n, NULL, ws,
                         ws_bytes, NULL));
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW, sme2k_batch_matmul_workspace_size(
                                         SME2K_VARIANT_F32, 1, 64, (size_t)1 << 62, (size_t)1 << 62,
                                         SME2K_OUTPUT_ROW_MAJOR, &ws_bytes, NULL));
  free(a), free(b), free(c), free(ws), free(a16), free(b16), free(ws16);
}

/* ---- conv2d -------------------------------------------------------------------------------- */

/* in NCHW, weights OIHW; out (NCHW) value at (n, co, oh, ow) before the epilogue. */
static double reference_conv(const sme2k_conv2d_params* p, const float* in, const float* w,
                             const float* bias, size_t n, size_t co, size_t oh, size_t ow,
                             double* magnitude) {
  const size_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
  const size_t g = co / cout_g;
  double acc = bias != NULL ? bias[co] : 0, mag = bias != NULL ? fabs(bias[co]) : 0;
  for (size_t ci = 0; ci < cin_g; ++ci) {
    for (size_t kh = 0; kh < p->kernel_height; ++kh) {
      for (size_t kw = 0; kw < p->kernel_width; ++kw) {
        const long y = (long)(oh * p->stride_height + kh * p->dilation_height) - (long)p->pad_top;
        const long x = (long)(ow * p->stride_width + kw * p->dilation_width) - (long)p->pad_left;
        if (y < 0 || x < 0 || y >= (long)p->in_height || x >= (long)p->in_width) continue;
        const size_t c = g * cin_g + ci;
        const double v =
            (double)in[((n * p->in_channels + c) * p->in_height + (size_t)y) * p->in_width +
                       (size_t)x] *
            w[((co * cin_g + ci) * p->kernel_height + kh) * p->kernel_width + kw];
        acc += v;
        mag += fabs(v);
      }
    }
  }
  *magnitude = mag;
  return acc;
}

static void test_conv2d(void) {
  for (int depthwise = 0; depthwise < 2; ++depthwise) {
    sme2k_conv2d_params p = sme2k_conv2d_params_default();
    p.batch = 2;
    p.in_channels = 4;
    p.in_height = 6;
    p.in_width = 7;
    p.out_channels = depthwise ? 8 : 5;
    p.kernel_height = p.kernel_width = 3;
    p.stride_width = 2;
    p.pad_top = p.pad_bottom = p.pad_left = 1;
    p.groups = depthwise ? 4 : 1;
    size_t oh = 0, ow = 0;
    EXPECT_OK(sme2k_conv2d_output_size(&p, &oh, &ow));
    CHECK(oh == 6 && ow == 3, "output %zu x %zu", oh, ow);
    const size_t w_elems = p.out_channels * (p.in_channels / p.groups) * 9;
    const size_t in_elems = p.batch * p.in_channels * p.in_height * p.in_width;
    const size_t out_elems = p.batch * p.out_channels * oh * ow;
    float* w = random_floats(w_elems);
    float* bias = random_floats(p.out_channels);
    float* in = random_floats(in_elems);
    float* out = checked_malloc(out_elems * sizeof *out);
    size_t bytes = 0, ws_bytes = 0;
    EXPECT_OK(sme2k_conv2d_packed_weights_size(SME2K_VARIANT_F32, &p, &bytes));
    void* packed = checked_malloc(bytes);
    EXPECT_OK(sme2k_conv2d_pack_weights(SME2K_VARIANT_F32, &p, w, SME2K_DTYPE_F32,
                                        SME2K_WEIGHTS_OIHW, bias, SME2K_DTYPE_F32, packed, bytes));
    EXPECT_OK(sme2k_conv2d_workspace_size(SME2K_VARIANT_F32, &p, SME2K_LAYOUT_NCHW,
                                          SME2K_LAYOUT_NHWC, &ws_bytes, NULL));
    void* ws = checked_malloc(ws_bytes);
    sme2k_epilogue e = sme2k_epilogue_default();
    e.activation = SME2K_ACTIVATION_RELU;
    EXPECT_OK(sme2k_conv2d(SME2K_VARIANT_F32, &p, in, SME2K_LAYOUT_NCHW, packed, bytes, out,
                           SME2K_DTYPE_F32, SME2K_LAYOUT_NHWC, &e, ws, ws_bytes, NULL));
    for (size_t n = 0; n < p.batch; ++n) {
      for (size_t co = 0; co < p.out_channels; ++co) {
        for (size_t y = 0; y < oh; ++y) {
          for (size_t x = 0; x < ow; ++x) {
            double mag = 0;
            double want = reference_conv(&p, in, w, bias, n, co, y, x, &mag);
            want = want < 0 ? 0 : want;
            const float got = out[((n * oh + y) * ow + x) * p.out_channels + co]; /* NHWC */
            CHECK(fabs(got - want) <= ldexp(1.0, -20) * mag,
                  "conv depthwise=%d (%zu, %zu, %zu, %zu): %.9g, want %.9g", depthwise, n, co, y, x,
                  got, want);
          }
        }
      }
    }
    /* data packed for F32, run as F16 */
    uint16_t* in16 = random_f16(in_elems);
    size_t ws16_bytes = 0;
    EXPECT_OK(sme2k_conv2d_workspace_size(SME2K_VARIANT_F16, &p, SME2K_LAYOUT_NCHW,
                                          SME2K_LAYOUT_NHWC, &ws16_bytes, NULL));
    void* ws16 = checked_malloc(ws16_bytes);
    EXPECT_STATUS(SME2K_PACKED_MISMATCH,
                  sme2k_conv2d(SME2K_VARIANT_F16, &p, in16, SME2K_LAYOUT_NCHW, packed, bytes, out,
                               SME2K_DTYPE_F32, SME2K_LAYOUT_NHWC, NULL, ws16, ws16_bytes, NULL));
    free(ws16);
    EXPECT_STATUS(
        SME2K_BUFFER_TOO_SMALL,
        sme2k_conv2d_pack_weights(SME2K_VARIANT_F32, &p, w, SME2K_DTYPE_F32, SME2K_WEIGHTS_OIHW,
                                  bias, SME2K_DTYPE_F32, packed, bytes - 1));
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_conv2d(SME2K_VARIANT_F32, &p, in, (sme2k_tensor_layout)7, packed, bytes,
                               out, SME2K_DTYPE_F32, SME2K_LAYOUT_NHWC, NULL, ws, ws_bytes, NULL));
    if (ws_bytes > 0) {
      EXPECT_STATUS(SME2K_BUFFER_TOO_SMALL,
                    sme2k_conv2d(SME2K_VARIANT_F32, &p, in, SME2K_LAYOUT_NCHW, packed, bytes, out,
                                 SME2K_DTYPE_F32, SME2K_LAYOUT_NHWC, NULL, ws, ws_bytes - 1, NULL));
    }
    free(w), free(bias), free(in), free(out), free(packed), free(ws), free(in16);
  }

  /* F16: f16 weights and bias, NHWC in, f16 out NCHW; weights OHWI */
  {
    sme2k_conv2d_params p = sme2k_conv2d_params_default();
    p.in_channels = 3;
    p.in_height = p.in_width = 5;
    p.out_channels = 4;
    p.kernel_height = p.kernel_width = 2;
    const size_t oh = 4, ow = 4;
    uint16_t* w = random_f16(4 * 2 * 2 * 3); /* OHWI */
    uint16_t* in = random_f16(5 * 5 * 3);    /* NHWC */
    uint16_t* out = checked_malloc(4 * oh * ow * sizeof *out);
    size_t bytes = 0, ws_bytes = 0;
    EXPECT_OK(sme2k_conv2d_packed_weights_size(SME2K_VARIANT_F16, &p, &bytes));
    void* packed = checked_malloc(bytes);
    EXPECT_OK(sme2k_conv2d_pack_weights(SME2K_VARIANT_F16, &p, w, SME2K_DTYPE_F16,
                                        SME2K_WEIGHTS_OHWI, NULL, SME2K_DTYPE_F32, packed, bytes));
    EXPECT_OK(sme2k_conv2d_workspace_size(SME2K_VARIANT_F16, &p, SME2K_LAYOUT_NHWC,
                                          SME2K_LAYOUT_NCHW, &ws_bytes, NULL));
    void* ws = checked_malloc(ws_bytes);
    EXPECT_OK(sme2k_conv2d(SME2K_VARIANT_F16, &p, in, SME2K_LAYOUT_NHWC, packed, bytes, out,
                           SME2K_DTYPE_F16, SME2K_LAYOUT_NCHW, NULL, ws, ws_bytes, NULL));
    for (size_t co = 0; co < 4; ++co) {
      for (size_t y = 0; y < oh; ++y) {
        for (size_t x = 0; x < ow; ++x) {
          double want = 0, mag = 0;
          for (size_t kh = 0; kh < 2; ++kh) {
            for (size_t kw = 0; kw < 2; ++kw) {
              for (size_t ci = 0; ci < 3; ++ci) {
                const double v = (double)sme2k_f16_to_f32(in[((y + kh) * 5 + x + kw) * 3 + ci]) *
                                 sme2k_f16_to_f32(w[((co * 2 + kh) * 2 + kw) * 3 + ci]);
                want += v;
                mag += fabs(v);
              }
            }
          }
          const float got = sme2k_f16_to_f32(out[(co * oh + y) * ow + x]);
          CHECK(fabs(got - want) <= ldexp(1.0, -20) * mag + ldexp(1.0, -11) * fabs(want),
                "f16 conv (%zu, %zu, %zu): %.7g, want %.7g", co, y, x, got, want);
        }
      }
    }
    EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_conv2d_pack_weights(
                                         SME2K_VARIANT_F16, &p, w, SME2K_DTYPE_F32,
                                         SME2K_WEIGHTS_OHWI, NULL, SME2K_DTYPE_F32, packed, bytes));
    EXPECT_STATUS(SME2K_UNSUPPORTED,
                  sme2k_conv2d(SME2K_VARIANT_F16, &p, in, SME2K_LAYOUT_NHWC, packed, bytes, out,
                               SME2K_DTYPE_INT8, SME2K_LAYOUT_NCHW, NULL, ws, ws_bytes, NULL));
    free(w), free(in), free(out), free(packed), free(ws);
  }

  /* QS8: bit-exact, padding reads the input zero point */
  {
    sme2k_conv2d_params p = sme2k_conv2d_params_default();
    p.in_channels = 3;
    p.in_height = p.in_width = 4;
    p.out_channels = 5;
    p.kernel_height = p.kernel_width = 3;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    const size_t oh = 4, ow = 4;
    int8_t* w = random_int8(5 * 3 * 9, -127, 127);
    int8_t* in = random_int8(3 * 16, -128, 127);
    int8_t* out = checked_malloc(5 * 16);
    int32_t bias[5] = {100, -200, 300, 0, 7};
    float scales[5] = {0.01f, 0.02f, 0.015f, 0.03f, 0.005f};
    const sme2k_qs8_quantization q = {{0.1f, 5}, scales, {0.8f, -4}};
    size_t bytes = 0, ws_bytes = 0;
    EXPECT_OK(sme2k_conv2d_packed_weights_size(SME2K_VARIANT_QS8, &p, &bytes));
    void* packed = checked_malloc(bytes);
    EXPECT_OK(sme2k_conv2d_pack_weights_qs8(&p, w, SME2K_WEIGHTS_OIHW, bias, &q, packed, bytes));
    EXPECT_OK(sme2k_conv2d_workspace_size(SME2K_VARIANT_QS8, &p, SME2K_LAYOUT_NCHW,
                                          SME2K_LAYOUT_NCHW, &ws_bytes, NULL));
    void* ws = checked_malloc(ws_bytes);
    EXPECT_OK(sme2k_conv2d(SME2K_VARIANT_QS8, &p, in, SME2K_LAYOUT_NCHW, packed, bytes, out,
                           SME2K_DTYPE_INT8, SME2K_LAYOUT_NCHW, NULL, ws, ws_bytes, NULL));
    int mismatches = 0;
    for (size_t co = 0; co < 5; ++co) {
      for (size_t y = 0; y < oh; ++y) {
        for (size_t x = 0; x < ow; ++x) {
          int32_t acc = bias[co];
          for (size_t ci = 0; ci < 3; ++ci) {
            for (size_t kh = 0; kh < 3; ++kh) {
              for (size_t kw = 0; kw < 3; ++kw) {
                const long yy = (long)(y + kh) - 1, xx = (long)(x + kw) - 1;
                const int v = yy < 0 || xx < 0 || yy >= 4 || xx >= 4
                                  ? q.input.zero_point
                                  : in[(ci * 4 + (size_t)yy) * 4 + (size_t)xx];
                acc += (v - q.input.zero_point) * w[((co * 3 + ci) * 3 + kh) * 3 + kw];
              }
            }
          }
          const int8_t want =
              requantize(acc, requantization_scale(q.input.scale, scales[co], q.output.scale),
                         q.output.zero_point, -128, 127);
          mismatches += out[(co * oh + y) * ow + x] != want;
        }
      }
    }
    CHECK(mismatches == 0, "qs8 conv: %d mismatches", mismatches);
    EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_conv2d_pack_weights_qs8(&p, w, SME2K_WEIGHTS_OIHW, bias,
                                                                    NULL, packed, bytes));
    EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_conv2d_pack_weights(
                                         SME2K_VARIANT_QS8, &p, w, SME2K_DTYPE_INT8,
                                         SME2K_WEIGHTS_OIHW, NULL, SME2K_DTYPE_F32, packed, bytes));
    free(w), free(in), free(out), free(packed), free(ws);
  }

  /* bad shapes and arguments */
  sme2k_conv2d_params p = sme2k_conv2d_params_default();
  size_t bytes = 0, oh = 0, ow = 0;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_conv2d_packed_weights_size(SME2K_VARIANT_F32, &p, &bytes)); /* zeros */
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_conv2d_packed_weights_size(SME2K_VARIANT_F32, NULL, &bytes));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_conv2d_output_size(NULL, &oh, &ow));
  p.in_channels = p.out_channels = 4;
  p.in_height = p.in_width = 8;
  p.kernel_height = p.kernel_width = 3;
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_conv2d_output_size(&p, NULL, &ow));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_conv2d_packed_weights_size(SME2K_VARIANT_QD8, &p, &bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_conv2d_workspace_size(SME2K_VARIANT_QD8_QC4W, &p, SME2K_LAYOUT_NCHW,
                                            SME2K_LAYOUT_NCHW, &bytes, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_conv2d_workspace_size(SME2K_VARIANT_F32, &p, SME2K_LAYOUT_NCHW,
                                            (sme2k_tensor_layout)-1, &bytes, NULL));
  p.stride_height = 0;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_conv2d_output_size(&p, &oh, &ow));
  p.stride_height = 1;
  p.in_channels = p.out_channels = (size_t)1 << 30;
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW,
                sme2k_conv2d_packed_weights_size(SME2K_VARIANT_F32, &p, &bytes));
  p.in_channels = p.out_channels = 4;
  p.batch = SIZE_MAX / 2;
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW, sme2k_conv2d_output_size(&p, &oh, &ow));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_conv2d_pack_weights(SME2K_VARIANT_F32, &p, &bytes, SME2K_DTYPE_F32,
                                          (sme2k_conv_weight_layout)9, NULL, SME2K_DTYPE_F32,
                                          &bytes, sizeof bytes));
}

/* ---- layout transforms ---------------------------------------------------------------------- */

static void test_layouts(void) {
  const size_t rows = 5, cols = 7;
  const sme2k_dtype dtypes[] = {SME2K_DTYPE_INT8, SME2K_DTYPE_F16, SME2K_DTYPE_F32,
                                SME2K_DTYPE_INT32};
  const size_t sizes[] = {1, 2, 4, 4};
  for (int t = 0; t < 4; ++t) {
    const size_t es = sizes[t], lds = cols + 1, ldd = rows + 2;
    uint8_t* src = checked_malloc(rows * lds * es);
    uint8_t* dst = checked_malloc(cols * ldd * es);
    for (size_t i = 0; i < rows * lds * es; ++i) src[i] = (uint8_t)random_int(0, 255);
    EXPECT_OK(sme2k_transpose((sme2k_matrix){src, rows, cols, lds, dtypes[t]},
                              (sme2k_mutable_matrix){dst, cols, rows, ldd, dtypes[t]}, NULL));
    int bad = 0;
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        bad += memcmp(dst + (c * ldd + r) * es, src + (r * lds + c) * es, es) != 0;
      }
    }
    CHECK(bad == 0, "transpose of %zu-byte elements: %d wrong", es, bad);
    free(src), free(dst);
  }
  float x[2 * 3 * 4 * 5], y[2 * 3 * 4 * 5], z[2 * 3 * 4 * 5];
  for (size_t i = 0; i < 120; ++i) x[i] = (float)i;
  EXPECT_OK(sme2k_convert_layout(x, SME2K_LAYOUT_NCHW, y, SME2K_LAYOUT_NHWC, SME2K_DTYPE_F32, 2, 3,
                                 4, 5, NULL));
  int bad = 0;
  for (size_t n = 0; n < 2; ++n) {
    for (size_t c = 0; c < 3; ++c) {
      for (size_t p = 0; p < 20; ++p) bad += y[(n * 20 + p) * 3 + c] != x[(n * 3 + c) * 20 + p];
    }
  }
  CHECK(bad == 0, "NCHW -> NHWC: %d wrong", bad);
  EXPECT_OK(sme2k_convert_layout(y, SME2K_LAYOUT_NHWC, z, SME2K_LAYOUT_NCHW, SME2K_DTYPE_F32, 2, 3,
                                 4, 5, NULL));
  CHECK(memcmp(x, z, sizeof x) == 0, "NHWC -> NCHW is not the inverse");

  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_transpose((sme2k_matrix){x, 2, 3, 3, SME2K_DTYPE_F32},
                                (sme2k_mutable_matrix){y, 3, 2, 2, SME2K_DTYPE_F16}, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_transpose((sme2k_matrix){x, 2, 3, 3, (sme2k_dtype)0},
                                (sme2k_mutable_matrix){y, 3, 2, 2, (sme2k_dtype)0}, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_transpose((sme2k_matrix){x, 2, 3, 3, SME2K_DTYPE_F32},
                                (sme2k_mutable_matrix){y, 2, 3, 3, SME2K_DTYPE_F32}, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_transpose((sme2k_matrix){x, 2, 3, 3, SME2K_DTYPE_F32},
                                (sme2k_mutable_matrix){x + 1, 3, 2, 2, SME2K_DTYPE_F32}, NULL));
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_transpose((sme2k_matrix){NULL, 2, 3, 3, SME2K_DTYPE_F32},
                                (sme2k_mutable_matrix){y, 3, 2, 2, SME2K_DTYPE_F32}, NULL));
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_convert_layout(NULL, SME2K_LAYOUT_NCHW, y, SME2K_LAYOUT_NHWC, SME2K_DTYPE_F32,
                                     1, 1, 1, 1, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_convert_layout(x, SME2K_LAYOUT_NCHW, y, SME2K_LAYOUT_NHWC, SME2K_DTYPE_F32, 0,
                                     3, 4, 5, NULL));
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW,
                sme2k_convert_layout(x, SME2K_LAYOUT_NCHW, y, SME2K_LAYOUT_NHWC, SME2K_DTYPE_F32,
                                     SIZE_MAX / 4, 3, 4, 5, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_convert_layout(x, (sme2k_tensor_layout)3, y, SME2K_LAYOUT_NHWC,
                                     SME2K_DTYPE_F32, 2, 3, 4, 5, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_convert_layout(x, SME2K_LAYOUT_NCHW, y, SME2K_LAYOUT_NHWC, (sme2k_dtype)-7, 2,
                                     3, 4, 5, NULL));
}

/* ---- BatchNorm helpers ------------------------------------------------------------------------ */

static void test_batchnorm(void) {
  const float gamma[3] = {1.5f, -0.5f, 2.0f}, beta[3] = {0.1f, 0.2f, -0.3f};
  const float mean[3] = {0.3f, -1.0f, 0.0f}, var[3] = {0.5f, 2.0f, 0.01f};
  sme2k_batchnorm_params bn = sme2k_batchnorm_params_default();
  bn.weight = gamma;
  bn.bias = beta;
  bn.running_mean = mean;
  bn.running_var = var;
  float scale[3], shift[3];
  EXPECT_OK(sme2k_batchnorm_affine(3, &bn, scale, shift));
  for (int c = 0; c < 3; ++c) {
    const double s = gamma[c] / sqrt((double)var[c] + (double)bn.eps);
    CHECK(scale[c] == (float)s && shift[c] == (float)((0.0 - mean[c]) * s + beta[c]),
          "affine channel %d: %g %g", c, scale[c], shift[c]);
  }
  /* conv weights OIHW: Cout 3, Cin 2, 1x1 */
  sme2k_conv2d_params p = sme2k_conv2d_params_default();
  p.in_channels = 2;
  p.out_channels = 3;
  p.kernel_height = p.kernel_width = 1;
  float w[6] = {1, 2, 3, 4, 5, 6}, original[6], conv_bias[3] = {0.5f, -0.5f, 1.0f}, folded[3];
  memcpy(original, w, sizeof w);
  EXPECT_OK(
      sme2k_fold_batchnorm(&p, w, SME2K_DTYPE_F32, SME2K_WEIGHTS_OIHW, conv_bias, &bn, folded));
  for (int c = 0; c < 3; ++c) {
    const double s = gamma[c] / sqrt((double)var[c] + (double)bn.eps);
    CHECK(w[2 * c] == (float)(original[2 * c] * s) &&
              w[2 * c + 1] == (float)(original[2 * c + 1] * s),
          "folded weights of channel %d", c);
    CHECK(folded[c] == (float)((conv_bias[c] - mean[c]) * s + beta[c]), "folded bias %d", c);
  }
  /* Linear weights N x K, f16 */
  uint16_t lw[6];
  for (int i = 0; i < 6; ++i) lw[i] = sme2k_f32_to_f16((float)(i + 1));
  EXPECT_OK(sme2k_fold_batchnorm_linear((sme2k_mutable_matrix){lw, 3, 2, 2, SME2K_DTYPE_F16}, NULL,
                                        &bn, folded));
  for (int c = 0; c < 3; ++c) {
    const double s = gamma[c] / sqrt((double)var[c] + (double)bn.eps);
    CHECK(lw[2 * c] == sme2k_f32_to_f16((float)((2 * c + 1) * s)), "folded f16 weight %d", c);
    CHECK(folded[c] == (float)((0.0 - mean[c]) * s + beta[c]), "folded linear bias %d", c);
  }
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_batchnorm_affine(3, NULL, scale, shift));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_batchnorm_affine(3, &bn, NULL, shift));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_batchnorm_affine(0, &bn, scale, shift));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_fold_batchnorm(&p, w, SME2K_DTYPE_INT8, SME2K_WEIGHTS_OIHW,
                                                        NULL, &bn, folded));
  EXPECT_STATUS(
      SME2K_INVALID_ARGUMENT,
      sme2k_fold_batchnorm(&p, w, SME2K_DTYPE_F32, (sme2k_conv_weight_layout)0, NULL, &bn, folded));
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_fold_batchnorm_linear((sme2k_mutable_matrix){lw, 3, 2, 2, SME2K_DTYPE_INT32},
                                            NULL, &bn, folded));
  bn.running_var = NULL;
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_fold_batchnorm(&p, w, SME2K_DTYPE_F32, SME2K_WEIGHTS_OIHW,
                                                         NULL, &bn, folded));
  bn.running_var = var;
  bn.eps = -1.0f;
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_batchnorm_affine(3, &bn, scale, shift));
}

/* ---- every op through the thread pool: the serial result, bit for bit -------------------- */

/* One op call: its workspace size (NULL: it takes none) and the call, writing `out`
 * (out_bytes, C's padding included) with the given parallel-for (NULL: serial). */
typedef struct {
  const char* what;
  const void* op;
  size_t out_bytes;
  sme2k_status (*workspace_size)(const void* op, const sme2k_parallel_for* parallel, size_t* bytes);
  sme2k_status (*run)(const void* op, const sme2k_parallel_for* parallel, void* out, void* ws,
                      size_t ws_bytes);
  /* workspace_size is a bound, more than the op may need (the GEMM on packed activations is
   * sized as the GEMM on A): a serially sized workspace may suffice for a few tasks */
  int workspace_bound;
} parallel_case;

static size_t g_parallel_runs = 0;     /* parallel calls that made several tasks */
static size_t g_serial_ws_refused = 0; /* serially sized workspaces refused for them */

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
static uint8_t* check_parallel(const parallel_case* pc, int several) {
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

static size_t dtype_bytes(sme2k_dtype dtype) {
  return dtype == SME2K_DTYPE_INT8 ? 1 : dtype == SME2K_DTYPE_F16 ? 2 : 4;
}

/* A buffer of `count` random elements of `dtype` (int8 in [-127, 127]). */
static void* random_data(sme2k_dtype dtype, size_t count) {
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

static const char* variant_name(sme2k_variant v) {
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
static void* pack_random_weights(sme2k_variant variant, size_t n, size_t k, size_t* bytes) {
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
static void test_parallel_gemm(void) {
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

static void test_parallel(void) {
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

/* ---- bad input of the GEMM entry points --------------------------------------------------------- */

static void test_gemm_bad_input(void) {
  const size_t m = 4, n = 5, k = 6;
  float a[4 * 6] = {0}, b[6 * 5] = {0}, c[4 * 5];
  size_t bytes = 0, ws_bytes = 0;
  void* packed = packed_rhs(SME2K_VARIANT_F32, n, k, &bytes);
  const sme2k_matrix bm = {b, k, n, n, SME2K_DTYPE_F32};
  const sme2k_matrix am = {a, m, k, k, SME2K_DTYPE_F32};
  const sme2k_mutable_matrix cm = {c, m, n, n, SME2K_DTYPE_F32};
  EXPECT_OK(sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, SME2K_RHS_KXN, NULL, SME2K_DTYPE_F32, packed,
                                bytes));
  void* ws = gemm_workspace(SME2K_VARIANT_F32, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &ws_bytes);

  /* sizes */
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_gemm_packed_rhs_size(SME2K_VARIANT_F32, n, k, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_packed_rhs_size(SME2K_VARIANT_F32, 0, k, &bytes));
  EXPECT_STATUS(SME2K_SIZE_OVERFLOW,
                sme2k_gemm_packed_rhs_size(SME2K_VARIANT_F16, SIZE_MAX / 2, SIZE_MAX / 2, &bytes));
  EXPECT_STATUS(
      SME2K_INVALID_ARGUMENT,
      sme2k_gemm_workspace_size(SME2K_VARIANT_QS8, 0, n, k, SME2K_OUTPUT_ROW_MAJOR, &bytes, NULL));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_gemm_workspace_size(SME2K_VARIANT_F32, m, n, k,
                                                              SME2K_OUTPUT_ROW_MAJOR, NULL, NULL));
  EXPECT_STATUS(
      SME2K_INVALID_ARGUMENT,
      sme2k_gemm_workspace_size(SME2K_VARIANT_F32, m, n, k, (sme2k_output_order)2, &bytes, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_packed_lhs_size(SME2K_VARIANT_QD8, 0, k, &bytes));

  /* unknown enum values */
  const int bad_variants[] = {0, 8, 99, -1, INT32_MIN, 256 + 1};
  for (size_t i = 0; i < sizeof bad_variants / sizeof bad_variants[0]; ++i) {
    const sme2k_variant v = (sme2k_variant)bad_variants[i];
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_gemm_packed_rhs_size(v, n, k, &bytes));
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm(v, am, packed, bytes, cm, NULL, ws, ws_bytes, NULL));
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm_pack_rhs(v, bm, SME2K_RHS_KXN, NULL, SME2K_DTYPE_F32, packed, bytes));
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm_workspace_size(v, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &bytes, NULL));
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT, sme2k_gemm_packed_lhs_size(v, m, k, &bytes));
  }
  const int bad_layouts[] = {0, 3, -1, 257};
  for (size_t i = 0; i < sizeof bad_layouts / sizeof bad_layouts[0]; ++i) {
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, (sme2k_rhs_layout)bad_layouts[i], NULL,
                                      SME2K_DTYPE_F32, packed, bytes));
  }
  const int bad_activations[] = {6, 77, 256, -1};
  for (size_t i = 0; i < sizeof bad_activations / sizeof bad_activations[0]; ++i) {
    sme2k_epilogue e = sme2k_epilogue_default();
    e.activation = (sme2k_activation)bad_activations[i];
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes, cm, &e, ws, ws_bytes, NULL));
  }
  {
    sme2k_epilogue e = sme2k_epilogue_default();
    e.clamp_min = 2.0f;
    e.clamp_max = 1.0f;
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes, cm, &e, ws, ws_bytes, NULL));
    e = sme2k_epilogue_default();
    e.order = (sme2k_output_order)-5;
    EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                  sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes, cm, &e, ws, ws_bytes, NULL));
  }
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, m, k, k, (sme2k_dtype)5}, packed,
                           bytes, cm, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm_pack_rhs(SME2K_VARIANT_F16, (sme2k_matrix){b, k, n, n, SME2K_DTYPE_F16},
                                    SME2K_RHS_KXN, b, (sme2k_dtype)-1, packed, bytes));

  /* null pointers */
  EXPECT_STATUS(
      SME2K_NULL_POINTER,
      sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, (sme2k_matrix){NULL, k, n, n, SME2K_DTYPE_F32},
                          SME2K_RHS_KXN, NULL, SME2K_DTYPE_F32, packed, bytes));
  EXPECT_STATUS(SME2K_NULL_POINTER, sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, SME2K_RHS_KXN, NULL,
                                                        SME2K_DTYPE_F32, NULL, bytes));
  EXPECT_STATUS(
      SME2K_NULL_POINTER,
      sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes,
                 (sme2k_mutable_matrix){NULL, m, n, n, SME2K_DTYPE_F32}, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_NULL_POINTER,
                sme2k_gemm(SME2K_VARIANT_F32, am, NULL, bytes, cm, NULL, ws, ws_bytes, NULL));
  if (ws_bytes > 0) {
    EXPECT_STATUS(SME2K_NULL_POINTER,
                  sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes, cm, NULL, NULL, ws_bytes, NULL));
    EXPECT_STATUS(SME2K_BUFFER_TOO_SMALL, sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes, cm, NULL,
                                                     ws, ws_bytes - 1, NULL));
  }

  /* short buffers, bad strides, overflowing extents */
  EXPECT_STATUS(SME2K_BUFFER_TOO_SMALL,
                sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, SME2K_RHS_KXN, NULL, SME2K_DTYPE_F32,
                                    packed, bytes - 1));
  EXPECT_STATUS(SME2K_BUFFER_TOO_SMALL, /* the header's payload does not fit */
                sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes - 1, cm, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, m, k, k - 1, SME2K_DTYPE_F32},
                           packed, bytes, cm, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(
      SME2K_SIZE_OVERFLOW,
      sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, SIZE_MAX / 2, k, k, SME2K_DTYPE_F32}, packed,
                 bytes, cm, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_INVALID_ARGUMENT,
                sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, 0, k, k, SME2K_DTYPE_F32}, packed,
                           bytes, cm, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_PACKED_MISMATCH, /* shape */
                sme2k_gemm(SME2K_VARIANT_F32, (sme2k_matrix){a, m, k - 1, k, SME2K_DTYPE_F32},
                           packed, bytes, cm, NULL, ws, ws_bytes, NULL));

  /* combinations a variant does not take */
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm_pack_rhs(SME2K_VARIANT_QS8, bm, SME2K_RHS_KXN, NULL,
                                                       SME2K_DTYPE_F32, packed, bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm_pack_rhs(SME2K_VARIANT_F16, bm, SME2K_RHS_KXN, NULL,
                                                       SME2K_DTYPE_F32, packed, bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm_pack_rhs(SME2K_VARIANT_F32, bm, SME2K_RHS_KXN, b,
                                                       SME2K_DTYPE_F16, packed, bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm(SME2K_VARIANT_F32, am, packed, bytes,
                                              (sme2k_mutable_matrix){c, m, n, n, SME2K_DTYPE_F16},
                                              NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_UNSUPPORTED,
                sme2k_gemm(SME2K_VARIANT_QS8, am, packed, bytes, cm, NULL, ws, ws_bytes, NULL));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm_packed_lhs_size(SME2K_VARIANT_F32, m, k, &bytes));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm_pack_lhs(SME2K_VARIANT_F16, am, c, sizeof c, NULL));
  EXPECT_STATUS(SME2K_UNSUPPORTED, sme2k_gemm_packed_lhs(SME2K_VARIANT_QS8, packed, bytes, packed,
                                                         bytes, cm, NULL, ws, ws_bytes, NULL));

  /* packed data from another variant */
  size_t ws16_bytes = 0;
  void* ws16 = gemm_workspace(SME2K_VARIANT_F16, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &ws16_bytes);
  uint16_t a16[4 * 6] = {0};
  EXPECT_STATUS(SME2K_PACKED_MISMATCH,
                sme2k_gemm(SME2K_VARIANT_F16, (sme2k_matrix){a16, m, k, k, SME2K_DTYPE_F16}, packed,
                           bytes, cm, NULL, ws16, ws16_bytes, NULL));
  size_t ws8_bytes = 0;
  void* ws8 = gemm_workspace(SME2K_VARIANT_QD8, m, n, k, SME2K_OUTPUT_ROW_MAJOR, &ws8_bytes);
  EXPECT_STATUS(SME2K_PACKED_MISMATCH,
                sme2k_gemm(SME2K_VARIANT_QD8, am, packed, bytes, cm, NULL, ws8, ws8_bytes, NULL));
  /* garbage is not packed data */
  memset(c, 0x5A, sizeof c);
  EXPECT_STATUS(SME2K_PACKED_MISMATCH,
                sme2k_gemm(SME2K_VARIANT_F32, am, c, sizeof c,
                           (sme2k_mutable_matrix){packed, m, n, n, SME2K_DTYPE_F32}, NULL, ws,
                           ws_bytes, NULL));
  free(packed), free(ws), free(ws16), free(ws8);
}

int main(void) {
  test_basics();
  test_gemm_f32();
  test_gemm_f16();
  test_gemm_qs8();
  test_gemm_qd8();
  test_batch_matmul();
  test_conv2d();
  test_layouts();
  test_batchnorm();
  test_gemm_bad_input();
  const size_t pool_threads[] = {2, 3, 4};
  for (size_t p = 0; p < sizeof g_pools / sizeof g_pools[0]; ++p) {
    pool_start(&g_pools[p], pool_threads[p]);
  }
  test_parallel();
  for (size_t p = 0; p < sizeof g_pools / sizeof g_pools[0]; ++p) pool_stop(&g_pools[p]);
  return c_test_finish("c_api_test");
}
