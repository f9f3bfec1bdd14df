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
#include "c_api_test.h"

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

static uint32_t g_seed = 12345u;
float random_float(void) { /* in [-1, 1) */
  g_seed = g_seed * 1664525u + 1013904223u;
  return (float)((g_seed >> 8) & 0xFFFFu) / 32768.0f - 1.0f;
}
int random_int(int lo, int hi) {
  g_seed = g_seed * 1664525u + 1013904223u;
  return lo + (int)((g_seed >> 8) % (uint32_t)(hi - lo + 1));
}

void* checked_malloc(size_t bytes) {
  void* p = malloc(bytes > 0 ? bytes : 1);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

float* random_floats(size_t count) {
  float* p = checked_malloc(count * sizeof *p);
  for (size_t i = 0; i < count; ++i) p[i] = random_float();
  return p;
}

uint16_t* random_f16(size_t count) {
  uint16_t* p = checked_malloc(count * sizeof *p);
  for (size_t i = 0; i < count; ++i) p[i] = sme2k_f32_to_f16(random_float());
  return p;
}

int8_t* random_int8(size_t count, int lo, int hi) {
  int8_t* p = checked_malloc(count);
  for (size_t i = 0; i < count; ++i) p[i] = (int8_t)random_int(lo, hi);
  return p;
}

/* Bytes the C API asked for, allocated. */
void* packed_rhs(sme2k_variant variant, size_t n, size_t k, size_t* bytes) {
  *bytes = 0;
  EXPECT_OK(sme2k_gemm_packed_rhs_size(variant, n, k, bytes));
  return checked_malloc(*bytes);
}

void* gemm_workspace(sme2k_variant variant, size_t m, size_t n, size_t k, sme2k_output_order order,
                     size_t* bytes) {
  *bytes = 0;
  EXPECT_OK(sme2k_gemm_workspace_size(variant, m, n, k, order, bytes, NULL));
  return checked_malloc(*bytes);
}

double relu6(double x) { return x < 0 ? 0 : x > 6 ? 6 : x; }

sme2k_path g_path; /* the path dispatch takes here */

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

void run_serially(void* context, size_t count, void (*task)(void*, size_t), void* task_context) {
  counting_pool* pool = context;
  ++pool->calls;
  for (size_t i = 0; i < count; ++i) {
    task(task_context, i);
    ++pool->tasks;
  }
}

/* ---- threading hook: a real pool of pthreads ------------------------------------------------ */

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
void pool_run(void* context, size_t count, void (*task)(void*, size_t), void* task_context) {
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

void pool_reset(thread_pool* pool) {
  pthread_mutex_lock(&pool->mutex);
  pool->runs = pool->most_tasks = 0;
  memset(pool->tasks_on, 0, sizeof pool->tasks_on);
  pthread_mutex_unlock(&pool->mutex);
}

/* Threads that ran at least one task since pool_reset(). */
size_t pool_threads_used(thread_pool* pool) {
  size_t used = 0;
  pthread_mutex_lock(&pool->mutex);
  for (size_t t = 0; t < pool->threads; ++t) used += pool->tasks_on[t] > 0;
  pthread_mutex_unlock(&pool->mutex);
  return used;
}

thread_pool g_pools[3]; /* 2, 3 and 4 threads */

/* The tests, a file per concern, in this one translation unit (scripts/compiler-smoke builds
 * this file alone; c_test_harness.h's counters are the unit's). */
#include "c_api_bad_input_test.c"
#include "c_api_conv_test.c"
#include "c_api_gemm_test.c"
#include "c_api_parallel_ops_test.c"
#include "c_api_parallel_test.c"

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
