/* What the C API test's files share (c_api_test.c holds main() and the helpers and includes
 * the files of one concern each: c_api_gemm_test.c, c_api_conv_test.c, c_api_parallel_test.c,
 * c_api_parallel_ops_test.c, c_api_bad_input_test.c): the random data and packing helpers,
 * the parallel-for hooks (a counting serial one, a pthreads pool) and the tests main() runs. */
#ifndef SME2K_TEST_C_API_TEST_H
#define SME2K_TEST_C_API_TEST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sme2k.h"

/* A serial parallel-for that counts its tasks (run_serially). */
typedef struct {
  size_t calls, tasks;
} counting_pool;

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

/* c_api_test.c */
extern sme2k_path g_path;
extern thread_pool g_pools[3];
float random_float(void);
int random_int(int lo, int hi);
void* checked_malloc(size_t bytes);
float* random_floats(size_t count);
uint16_t* random_f16(size_t count);
int8_t* random_int8(size_t count, int lo, int hi);
void* packed_rhs(sme2k_variant variant, size_t n, size_t k, size_t* bytes);
void* gemm_workspace(sme2k_variant variant, size_t m, size_t n, size_t k, sme2k_output_order order,
                     size_t* bytes);
double relu6(double x);
void run_serially(void* context, size_t count, void (*task)(void*, size_t), void* task_context);
void pool_run(void* context, size_t count, void (*task)(void*, size_t), void* task_context);
void pool_reset(thread_pool* pool);
size_t pool_threads_used(thread_pool* pool);

/* c_api_gemm_test.c */
void test_gemm_f32(void);
void test_gemm_f16(void);
float requantization_scale(float in, float w, float out);
int8_t requantize(int32_t acc, float scale, int32_t zero_point, int32_t lo, int32_t hi);
void test_gemm_qs8(void);
void test_gemm_qd8(void);
void test_batch_matmul(void);

/* c_api_conv_test.c */
void test_conv2d(void);
void test_layouts(void);
void test_batchnorm(void);

/* c_api_parallel_test.c */
extern size_t g_parallel_runs;
extern size_t g_serial_ws_refused;
uint8_t* check_parallel(const parallel_case* pc, int several);
size_t dtype_bytes(sme2k_dtype dtype);
void* random_data(sme2k_dtype dtype, size_t count);
const char* variant_name(sme2k_variant v);
void* pack_random_weights(sme2k_variant variant, size_t n, size_t k, size_t* bytes);
void test_parallel_gemm(void);

/* c_api_parallel_ops_test.c */
void test_parallel(void);

/* c_api_bad_input_test.c */
void test_gemm_bad_input(void);

#endif /* SME2K_TEST_C_API_TEST_H */
