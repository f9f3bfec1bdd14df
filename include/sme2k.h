/* sme2k C API: the ops of the header-only C++ library (include/sme2k/sme2k.hpp) behind a C99
 * ABI, for C runtimes and FFI. Link sme2k::c (static) or sme2k::c_shared (CMake package).
 *
 * Conventions (every function):
 *  - Returns an sme2k_status; on failure sme2k_last_error_message() says why ("gemm: lda (5)
 *    is smaller than K (7)"). Bad input is refused with a status, never a crash or a write
 *    outside the caller's buffers; unknown enum values give SME2K_INVALID_ARGUMENT, a known
 *    combination this build or op does not provide SME2K_UNSUPPORTED.
 *  - Nothing allocates: sizes come from the *_size functions, the caller allocates.
 *  - f16 data is IEEE binary16 stored as uint16_t bit patterns (sme2k_f32_to_f16 converts).
 *  - Packed weights record variant, format, path and SVL: pack on the thread (and CPU) that
 *    runs the op; data packed for something else gives SME2K_PACKED_MISMATCH.
 *  - Alignment (issue 19): every array of f32, f16 or int32 elements (matrices, bias, scales,
 *    tensors, BatchNorm parameters and outputs, attention's Q, K, V, O and bias, the row ops'
 *    rows, weights, RoPE tables and positions) is aligned to its element size (4, 2, 4
 *    bytes), as malloc'd and C-declared arrays are; a misaligned one is refused with
 *    SME2K_INVALID_ARGUMENT. int8 and byte data (int8 matrices, 4-bit weights, Q4_0 blocks)
 *    take any alignment; packed buffers start on a 4-byte boundary.
 *  - Packed buffers carry a 64-byte header with a CRC-32, checked (with every field) on
 *    every call: a damaged header (a file or cache gone bad) gives SME2K_PACKED_MISMATCH. The
 *    payload's parameters that integer arithmetic relies on (QD8 activation rows' zero points
 *    and scales, QS8 weights' per-channel biases and scales) are range-checked on every call
 *    too (O(M) or O(N)); the rest of the payload is data, any value of which is computed on.
 *  - The last argument of every op and workspace-size function is the runtime's parallel-for
 *    (NULL: serial on the calling thread; see sme2k_parallel_for). Size a workspace with the
 *    same parallel-for the op is given.
 * Struct parameters passed by pointer may be NULL where noted (NULL epilogue: the default). */
#ifndef SME2K_H_
#define SME2K_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sme2k/version.hpp" /* SME2K_VERSION_MAJOR / _MINOR / _PATCH (preprocessor only) */

#ifndef SME2K_C_API
#if defined(_WIN32)
#define SME2K_C_API
#else
#define SME2K_C_API __attribute__((visibility("default")))
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Every enum has an INT32_MIN member: it makes any int a value of the type in C++ as well,
 * so an out-of-range value from C is refused by the library instead of being undefined. */

/* ---- status ---------------------------------------------------------------------------- */

/* Mirrors sme2k::StatusCode (types/status.hpp). */
typedef enum sme2k_status {
  SME2K_OK = 0,
  SME2K_INVALID_ARGUMENT = 1, /* a size is zero, a stride too small, an unknown enum value */
  SME2K_NULL_POINTER = 2,     /* a required pointer is null */
  SME2K_SIZE_OVERFLOW = 3,    /* products or byte counts that do not fit in size_t */
  SME2K_BUFFER_TOO_SMALL = 4, /* a workspace or packed buffer is shorter than required */
  SME2K_UNSUPPORTED = 5,      /* a variant / type / layout combination not provided */
  SME2K_PACKED_MISMATCH = 6,  /* packed data made for another variant, path, SVL or shape */
  SME2K_OUT_OF_MEMORY = 7,    /* (only the C++ allocating overloads) */
  SME2K_STATUS_INT_RANGE_ = INT32_MIN
} sme2k_status;

/** The name of a status code ("ok", "null pointer", ...; "unknown status" for others). */
SME2K_C_API const char* sme2k_status_string(sme2k_status code);

/** The message of the calling thread's most recent sme2k call that returned a status ("ok"
 *  after a success). Thread-local; valid until that thread's next sme2k call. */
SME2K_C_API const char* sme2k_last_error_message(void);

/* ---- CPU, dispatch, version ------------------------------------------------------------- */

typedef enum sme2k_path {
  SME2K_PATH_PORTABLE = 1,    /* plain C++ kernels: any CPU */
  SME2K_PATH_SME2 = 2,        /* SME2 baseline (no FEAT_SME_FA64 needed) */
  SME2K_PATH_SME2_F16F16 = 4, /* SME2 + FEAT_SME_F16F16 (SME2K_VARIANT_F16_ACC16 only) */
  SME2K_PATH_INT_RANGE_ = INT32_MIN
} sme2k_path;

/** What the CPU offers sme2k and what dispatch will choose. */
typedef struct sme2k_cpu_info {
  bool sme, sme2, sme2p1, sme_f16f16, sme_b16b16, sme_lutv2, sme_i16i64, sme_fa64;
  sme2k_path path;           /* the path of every variant but F16_ACC16 */
  sme2k_path f16_acc16_path; /* the path of SME2K_VARIANT_F16_ACC16 */
  uint32_t svl_bits;         /* streaming vector length, 0 when SME is not used */
} sme2k_cpu_info;

/** Fills *info from the CPU (read once) and this build. */
SME2K_C_API sme2k_status sme2k_cpu_features(sme2k_cpu_info* info);

/** The calling thread's streaming vector length in bits, 0 when sme2k does not use SME. */
SME2K_C_API uint32_t sme2k_svl_bits(void);

/** The path the calling thread's most recent successful op ran. */
SME2K_C_API sme2k_path sme2k_last_used_path(void);

/** "portable", "sme2", "sme2-f16f16" ("unknown" for others). */
SME2K_C_API const char* sme2k_path_name(sme2k_path path);

/** The library's version, MAJOR * 10000 + MINOR * 100 + PATCH (compare with SME2K_VERSION_*
 *  of the header the program was compiled with). */
SME2K_C_API uint32_t sme2k_version(void);

/** f32 <-> IEEE binary16 bits, rounding to nearest even (NaN, infinities, subnormals kept). */
SME2K_C_API uint16_t sme2k_f32_to_f16(float value);
SME2K_C_API float sme2k_f16_to_f32(uint16_t bits);

/* ---- threading -------------------------------------------------------------------------- */

/** The runtime's parallel-for, layout-identical to sme2k::ParallelFor; sme2k owns no threads.
 *  An op given one splits its work into at most max_tasks tasks: independent blocks of whole
 *  tiles of the output (no reduction is split), each with its own slice of the workspace, and
 *  hands them to run. run must call task(task_context, i) exactly once for every i in
 *  [0, count), on any threads, in any order, and return when all calls have returned. The
 *  results are bit-identical to the serial run whatever the number of tasks or threads.
 *  run == NULL or max_tasks <= 1: serial, on the calling thread.
 *  - The workspace is per task: size it with the same parallel-for (the *_workspace_size
 *    functions take it). One sized for a serial call is SME2K_BUFFER_TOO_SMALL for a call
 *    that makes several tasks (sme2k_gemm_packed_lhs(), sized as sme2k_gemm(), may fit a
 *    few in it).
 *  - Each task enters streaming mode on its own thread: every thread run uses must have the
 *    caller's streaming vector length, else the op returns SME2K_UNSUPPORTED (its output is
 *    then incomplete). */
typedef struct sme2k_parallel_for {
  void (*run)(void* context, size_t count, void (*task)(void* task_context, size_t index),
              void* task_context);
  void* context;
  size_t max_tasks; /* the most tasks an op should make (0 or 1: one) */
} sme2k_parallel_for;

/* ---- data descriptions ------------------------------------------------------------------ */

typedef enum sme2k_variant {
  SME2K_VARIANT_F32 = 1,       /* f32 x f32 -> f32 */
  SME2K_VARIANT_F16 = 2,       /* f16 x f16, f32 accumulation -> f16 or f32 */
  SME2K_VARIANT_F16_ACC16 = 3, /* f16 with f16 accumulation where the CPU has it, else F16 */
  SME2K_VARIANT_QS8 = 4,       /* int8 (per tensor) x int8 (per channel) -> int8 */
  SME2K_VARIANT_QD8 = 5,       /* f32/f16 quantized per row x int8 per channel -> f32/f16 */
  SME2K_VARIANT_QD8_QC4W = 6,  /* QD8 x 4-bit per channel -> f32/f16 */
  SME2K_VARIANT_QD8_QB4W = 7,  /* QD8 x 4-bit per block of K -> f32/f16 */
  SME2K_VARIANT_BF16 = 8,      /* bf16 x bf16, f32 accumulation -> bf16 or f32 */
  SME2K_VARIANT_INT_RANGE_ = INT32_MIN
} sme2k_variant;

typedef enum sme2k_dtype {
  SME2K_DTYPE_F32 = 1,
  SME2K_DTYPE_F16 = 2, /* uint16_t bits */
  SME2K_DTYPE_INT8 = 3,
  SME2K_DTYPE_INT32 = 4,
  SME2K_DTYPE_BF16 = 5, /* uint16_t bits: the top half of an f32 */
  SME2K_DTYPE_INT_RANGE_ = INT32_MIN
} sme2k_dtype;

/** A row-major matrix sme2k reads: rows x cols elements, row r at data + r * ld elements. */
typedef struct sme2k_matrix {
  const void* data;
  size_t rows, cols;
  size_t ld; /* elements, >= cols */
  sme2k_dtype dtype;
} sme2k_matrix;

/** The same for a matrix sme2k writes. */
typedef struct sme2k_mutable_matrix {
  void* data;
  size_t rows, cols;
  size_t ld; /* elements, >= cols */
  sme2k_dtype dtype;
} sme2k_mutable_matrix;

/** How the caller's B (weights) is stored. */
typedef enum sme2k_rhs_layout {
  SME2K_RHS_KXN = 1, /* row k holds the N weights of input k (ONNX, TFLite) */
  SME2K_RHS_NXK = 2, /* row n holds the K weights of output n (PyTorch nn.Linear) */
  SME2K_RHS_INT_RANGE_ = INT32_MIN
} sme2k_rhs_layout;

typedef enum sme2k_int4_storage {
  SME2K_INT4_NIBBLES = 1, /* two per byte, low nibble = even index, two's complement -8..7 */
  SME2K_INT4_INT8 = 2,    /* one int8 in -8..7 per byte */
  SME2K_INT4_INT_RANGE_ = INT32_MIN
} sme2k_int4_storage;

/** A rows x cols matrix of 4-bit values; ld in bytes (nibbles: cols even, ld >= cols / 2). */
typedef struct sme2k_int4_matrix {
  const void* data;
  size_t rows, cols;
  size_t ld;
  sme2k_int4_storage storage;
} sme2k_int4_matrix;

typedef enum sme2k_scale_type {
  SME2K_SCALE_F32 = 1,
  SME2K_SCALE_BF16 = 2, /* uint16_t: the top half of an f32's bits */
  SME2K_SCALE_INT_RANGE_ = INT32_MIN
} sme2k_scale_type;

/** QB4W scales: scale of output channel n, block b (k in [b * block, (b + 1) * block)) at
 *  data[n * ld + b]; block a multiple of 32 dividing K; each finite and > 0. */
typedef struct sme2k_block_scales {
  const void* data;
  sme2k_scale_type type;
  size_t block;
  size_t ld; /* elements, >= K / block */
} sme2k_block_scales;

/** real = scale * (q - zero_point); scale finite and > 0, zero_point in [-128, 127]. A
 *  zero-initialized value (scale 0) is refused. */
typedef struct sme2k_quant_params {
  float scale;
  int32_t zero_point;
} sme2k_quant_params;

/** What QS8 weight packing bakes in (include/sme2k/types/quantization.hpp defines the
 *  requantization): the input's and output's parameters and N per-channel weight scales. */
typedef struct sme2k_qs8_quantization {
  sme2k_quant_params input;
  const float* weight_scales; /* N (Cout) values */
  sme2k_quant_params output;
} sme2k_qs8_quantization;

/* ---- epilogue --------------------------------------------------------------------------- */

typedef enum sme2k_activation {
  SME2K_ACTIVATION_NONE = 0,
  SME2K_ACTIVATION_RELU = 1,
  SME2K_ACTIVATION_RELU6 = 2,
  SME2K_ACTIVATION_HARD_SWISH = 3,
  SME2K_ACTIVATION_GELU = 4, /* tanh form */
  SME2K_ACTIVATION_SILU = 5,
  SME2K_ACTIVATION_INT_RANGE_ = INT32_MIN
} sme2k_activation;

typedef enum sme2k_output_order {
  SME2K_OUTPUT_ROW_MAJOR = 0,  /* C is M x N */
  SME2K_OUTPUT_TRANSPOSED = 1, /* C is N x M (one row per output channel) */
  SME2K_OUTPUT_INT_RANGE_ = INT32_MIN
} sme2k_output_order;

/** The fused output stage, in this order: acc + bias -> activation -> affine (x * scale[n] +
 *  shift[n]) -> clamp [clamp_min, clamp_max] -> convert -> store in `order`. Float outputs take
 *  the float stages; int8 outputs (QS8) take instead the requantization, then
 *  [quantized_min, quantized_max], then the int8 stages of a quantized graph's next
 *  elementwise op: a per-channel affine q2 = clamp(round(fma(q1 - zp_out, int8_affine_scale[n],
 *  int8_affine_shift[n])) + int8_affine_zero_point, [int8_affine_min, int8_affine_max]) (on
 *  when int8_affine_scale is set; sme2k_batchnorm_int8_affine() makes it), then a 256-entry
 *  table indexed by q + 128 (sme2k_int8_activation_table() makes it). Start from
 *  sme2k_epilogue_default(): zero-initialized clamp bounds clamp to 0. */
typedef struct sme2k_epilogue {
  sme2k_activation activation;
  const float* affine_scale; /* N values or NULL (1) */
  const float* affine_shift; /* N values or NULL (0) */
  float clamp_min, clamp_max;
  sme2k_output_order order;
  int32_t quantized_min, quantized_max; /* in [-128, 127] */
  const float* int8_affine_scale;       /* N values or NULL (no int8 affine) */
  const float* int8_affine_shift;       /* N values, required with the scale */
  int32_t int8_affine_zero_point;
  int32_t int8_affine_min, int8_affine_max; /* in [-128, 127] */
  const int8_t* int8_table;                 /* 256 values or NULL */
} sme2k_epilogue;

/** No activation, no affine, clamp [-inf, inf], row-major, quantized ranges [-128, 127], no
 *  int8 stages. */
SME2K_C_API sme2k_epilogue sme2k_epilogue_default(void);

/** The table of an activation between two int8 tensors (sme2k_epilogue.int8_table):
 *  table[q + 128] = clamp(round_to_nearest_even(act(x) / out.scale) + out.zero_point, [min,
 *  max]) with x = in.scale * (q - in.zero_point), in f32. */
SME2K_C_API sme2k_status sme2k_int8_activation_table(sme2k_activation activation,
                                                     sme2k_quant_params in, sme2k_quant_params out,
                                                     int32_t min, int32_t max, int8_t table[256]);

/** What an op will run for a call's shape on this CPU (sme2k_gemm_plan(), sme2k_conv2d_plan()):
 *  kernel is the kernel's name (docs/naming.md; a static string), path its path (a portable
 *  kernel on an SME2 CPU says no SME2 kernel serves this call), tasks what the parallel-for
 *  gets, workspace_bytes what the call needs. */
typedef struct sme2k_op_plan {
  const char* kernel;
  sme2k_path path;
  size_t tasks;
  size_t workspace_bytes;
} sme2k_op_plan;

/* ---- GEMM: C = epilogue(A * B + bias) ---------------------------------------------------- */

/** Bytes of packed weights for an N x K B (any variant, QB4W with any block). */
SME2K_C_API sme2k_status sme2k_gemm_packed_rhs_size(sme2k_variant variant, size_t n, size_t k,
                                                    size_t* bytes);

/** Packs float weights: F32 (b F32, bias F32), F16 / F16_ACC16 (b F16, bias F16 or F32), BF16
 *  (b BF16, bias BF16 or F32).
 *  bias: N values of bias_dtype, or NULL. packed: 4-byte aligned, >= the packed size. */
SME2K_C_API sme2k_status sme2k_gemm_pack_rhs(sme2k_variant variant, sme2k_matrix b,
                                             sme2k_rhs_layout layout, const void* bias,
                                             sme2k_dtype bias_dtype, void* packed,
                                             size_t packed_bytes);

/** Packs QS8 weights: int8 b (symmetric per channel), optional int32 bias, quantization. */
SME2K_C_API sme2k_status sme2k_gemm_pack_rhs_qs8(sme2k_matrix b, sme2k_rhs_layout layout,
                                                 const int32_t* bias,
                                                 const sme2k_qs8_quantization* quantization,
                                                 void* packed, size_t packed_bytes);

/** Packs QD8 weights: int8 b, N per-channel scales, optional f32 bias. K <= 32767. */
SME2K_C_API sme2k_status sme2k_gemm_pack_rhs_qd8(sme2k_matrix b, sme2k_rhs_layout layout,
                                                 const float* bias, const float* weight_scales,
                                                 void* packed, size_t packed_bytes);

/** Packs QD8_QC4W weights: 4-bit b, N per-channel scales, optional f32 bias. */
SME2K_C_API sme2k_status sme2k_gemm_pack_rhs_qc4w(sme2k_int4_matrix b, sme2k_rhs_layout layout,
                                                  const float* bias, const float* weight_scales,
                                                  void* packed, size_t packed_bytes);

/** Packs QD8_QB4W weights: 4-bit b, per-block scales, optional f32 bias. */
SME2K_C_API sme2k_status sme2k_gemm_pack_rhs_qb4w(sme2k_int4_matrix b, sme2k_rhs_layout layout,
                                                  const float* bias,
                                                  const sme2k_block_scales* scales, void* packed,
                                                  size_t packed_bytes);

/** Packs ggml/GGUF Q4_0 weights (N rows of K / 32 blocks of 18 bytes) for QD8_QB4W. */
SME2K_C_API sme2k_status sme2k_gemm_pack_rhs_q4_0(const void* blocks, size_t n, size_t k,
                                                  const float* bias, void* packed,
                                                  size_t packed_bytes);

/** Bytes of workspace sme2k_gemm() (and sme2k_gemm_packed_lhs()) needs; 0 is possible. */
SME2K_C_API sme2k_status sme2k_gemm_workspace_size(sme2k_variant variant, size_t m, size_t n,
                                                   size_t k, sme2k_output_order order,
                                                   size_t* bytes,
                                                   const sme2k_parallel_for* parallel);

/** What sme2k_gemm() will run for an M x N x K call (sme2k_op_plan). */
SME2K_C_API sme2k_status sme2k_gemm_plan(sme2k_variant variant, size_t m, size_t n, size_t k,
                                         sme2k_output_order order, sme2k_op_plan* plan,
                                         const sme2k_parallel_for* parallel);

/** C = epilogue(A * B + bias) with B from a pack function of the same variant.
 *  a: M x K of the variant's input type (F32: F32; F16*: F16; QS8: INT8; QD8*: F32 or F16).
 *  c: M x N (N x M when transposed) of an output type the variant writes (F32: F32; F16:
 *  F16 or F32; F16_ACC16: F16; QS8: INT8; QD8*: F32 or F16). workspace may be NULL when
 *  its size is 0. epilogue: NULL for the default. */
SME2K_C_API sme2k_status sme2k_gemm(sme2k_variant variant, sme2k_matrix a, const void* packed_rhs,
                                    size_t packed_rhs_bytes, sme2k_mutable_matrix c,
                                    const sme2k_epilogue* epilogue, void* workspace,
                                    size_t workspace_bytes, const sme2k_parallel_for* parallel);

/** Bytes of M x K activations packed once for several GEMMs (QD8 and QD8_QC4W only). */
SME2K_C_API sme2k_status sme2k_gemm_packed_lhs_size(sme2k_variant variant, size_t m, size_t k,
                                                    size_t* bytes);

/** Quantizes and packs A (F32 or F16, M x K) for sme2k_gemm_packed_lhs() (tasks of whole
 *  row panels; no workspace). */
SME2K_C_API sme2k_status sme2k_gemm_pack_lhs(sme2k_variant variant, sme2k_matrix a, void* packed,
                                             size_t packed_bytes,
                                             const sme2k_parallel_for* parallel);

/** sme2k_gemm() on packed activations: the same result, bit for bit. workspace: the bytes
 *  sme2k_gemm_workspace_size() gives with the same parallel-for suffice. */
SME2K_C_API sme2k_status sme2k_gemm_packed_lhs(sme2k_variant variant, const void* packed_lhs,
                                               size_t packed_lhs_bytes, const void* packed_rhs,
                                               size_t packed_rhs_bytes, sme2k_mutable_matrix c,
                                               const sme2k_epilogue* epilogue, void* workspace,
                                               size_t workspace_bytes,
                                               const sme2k_parallel_for* parallel);

/* ---- batched matmul: C[i] = epilogue(A[i] x B[i]), B packed inside the op --------------- */

/** Bytes of workspace sme2k_batch_matmul() needs (F32, F16, F16_ACC16). */
SME2K_C_API sme2k_status sme2k_batch_matmul_workspace_size(sme2k_variant variant, size_t batch,
                                                           size_t m, size_t n, size_t k,
                                                           sme2k_output_order order, size_t* bytes,
                                                           const sme2k_parallel_for* parallel);

/** Item i reads a.data + i * a_stride, b.data + i * b_stride, writes c.data + i * c_stride
 *  (strides in elements; 0 broadcasts A or B). b: K x N or N x K (attention's K) per b_layout.
 *  Same element types as sme2k_gemm() of F32 / F16. workspace is required. */
SME2K_C_API sme2k_status sme2k_batch_matmul(sme2k_variant variant, size_t batch, sme2k_matrix a,
                                            size_t a_stride, sme2k_matrix b,
                                            sme2k_rhs_layout b_layout, size_t b_stride,
                                            sme2k_mutable_matrix c, size_t c_stride,
                                            const sme2k_epilogue* epilogue, void* workspace,
                                            size_t workspace_bytes,
                                            const sme2k_parallel_for* parallel);

/* ---- attention: O = softmax(scale * Q K^T + mask) V (F32, F16) ------------------------- */

/** Extents of one attention call (include/sme2k/types/attention.hpp): q_heads a multiple of
 *  kv_heads (query head h reads KV head h / (q_heads / kv_heads)), head_dim 1..256. */
typedef struct sme2k_attention_shape {
  size_t batch, q_heads, kv_heads, q_len, kv_len, head_dim;
} sme2k_attention_shape;

/** A [batch, heads, seq, head_dim] tensor sme2k reads: element (b, h, s, d) at data +
 *  b * batch_stride + h * head_stride + s * seq_stride + d (elements; seq_stride >= head_dim).
 *  [B,H,S,D], [B,S,H,D] and a KV cache of capacity > kv_len are all such views. */
typedef struct sme2k_heads {
  const void* data;
  size_t batch_stride, head_stride, seq_stride;
  sme2k_dtype dtype;
} sme2k_heads;

/** The same for the output (its rows must not overlap each other or an input). */
typedef struct sme2k_mutable_heads {
  void* data;
  size_t batch_stride, head_stride, seq_stride;
  sme2k_dtype dtype;
} sme2k_mutable_heads;

/** Scale and mask. Queries are the last q_len of kv_len positions (query i at kv_len - q_len
 *  + i). causal: key j seen iff j <= position; window > 0: iff j > position - window (with
 *  causal) or |position - j| < window; bias (NULL: none): float [q_len, kv_len] rows bias_ld
 *  apart added to the scores, -inf masks a key; head / batch strides 0 share it. A row that
 *  sees no key gives zeros. causal or window need q_len <= kv_len. */
typedef struct sme2k_attention_params {
  float scale; /* 0: 1 / sqrt(head_dim); else in (0, 1e6] */
  bool causal;
  size_t window;
  const float* bias;
  size_t bias_ld, bias_head_stride, bias_batch_stride; /* elements */
} sme2k_attention_params;

/** Bytes of workspace sme2k_attention() needs for this shape and output dtype. */
SME2K_C_API sme2k_status sme2k_attention_workspace_size(sme2k_variant variant,
                                                        const sme2k_attention_shape* shape,
                                                        sme2k_dtype out_dtype, size_t* bytes,
                                                        const sme2k_parallel_for* parallel);

/** Fused attention. F16: q, k, v F16, o F16 or F32 (f32 scores, softmax and accumulation);
 *  F32: all F32. params: NULL for the default scale and no mask. */
SME2K_C_API sme2k_status sme2k_attention(sme2k_variant variant, const sme2k_attention_shape* shape,
                                         sme2k_heads q, sme2k_heads k, sme2k_heads v,
                                         sme2k_mutable_heads o,
                                         const sme2k_attention_params* params, void* workspace,
                                         size_t workspace_bytes,
                                         const sme2k_parallel_for* parallel);

/* ---- 2D convolution (F32, F16, QS8) ----------------------------------------------------- */

typedef enum sme2k_tensor_layout {
  SME2K_LAYOUT_NCHW = 1,
  SME2K_LAYOUT_NHWC = 2,
  SME2K_LAYOUT_INT_RANGE_ = INT32_MIN
} sme2k_tensor_layout;

typedef enum sme2k_conv_weight_layout {
  SME2K_WEIGHTS_OIHW = 1, /* [Cout][Cin/g][KH][KW]: PyTorch */
  SME2K_WEIGHTS_OHWI = 2, /* [Cout][KH][KW][Cin/g]: XNNPACK, TFLite */
  SME2K_WEIGHTS_HWIO = 3, /* [KH][KW][Cin/g][Cout]: TensorFlow */
  SME2K_WEIGHTS_INT_RANGE_ = INT32_MIN
} sme2k_conv_weight_layout;

/** A convolution's shape (include/sme2k/types/conv.hpp); depthwise is groups == Cin > 1. */
typedef struct sme2k_conv2d_params {
  size_t batch;
  size_t in_channels, in_height, in_width;
  size_t out_channels;
  size_t kernel_height, kernel_width;
  size_t stride_height, stride_width;
  size_t dilation_height, dilation_width;
  size_t pad_top, pad_bottom, pad_left, pad_right;
  size_t groups;
} sme2k_conv2d_params;

/** Batch, strides, dilations and groups 1, everything else 0 (to be filled). */
SME2K_C_API sme2k_conv2d_params sme2k_conv2d_params_default(void);

/** OH and OW of a valid shape (SME2K_INVALID_ARGUMENT etc. otherwise). */
SME2K_C_API sme2k_status sme2k_conv2d_output_size(const sme2k_conv2d_params* params,
                                                  size_t* out_height, size_t* out_width);

/** Bytes of packed weights (channels, kernel and groups matter, not the input size). */
SME2K_C_API sme2k_status sme2k_conv2d_packed_weights_size(sme2k_variant variant,
                                                          const sme2k_conv2d_params* params,
                                                          size_t* bytes);

/** Packs float weights: F32 (weights and bias F32), F16 (weights F16, bias F16 or F32);
 *  bias: Cout values or NULL. */
SME2K_C_API sme2k_status sme2k_conv2d_pack_weights(sme2k_variant variant,
                                                   const sme2k_conv2d_params* params,
                                                   const void* weights, sme2k_dtype weights_dtype,
                                                   sme2k_conv_weight_layout layout,
                                                   const void* bias, sme2k_dtype bias_dtype,
                                                   void* packed, size_t packed_bytes);

/** Packs QS8 weights (int8 per output channel, optional int32 bias, the quantization). */
SME2K_C_API sme2k_status sme2k_conv2d_pack_weights_qs8(const sme2k_conv2d_params* params,
                                                       const int8_t* weights,
                                                       sme2k_conv_weight_layout layout,
                                                       const int32_t* bias,
                                                       const sme2k_qs8_quantization* quantization,
                                                       void* packed, size_t packed_bytes);

/** Bytes of workspace sme2k_conv2d() needs (0 is possible). */
SME2K_C_API sme2k_status sme2k_conv2d_workspace_size(sme2k_variant variant,
                                                     const sme2k_conv2d_params* params,
                                                     sme2k_tensor_layout in_layout,
                                                     sme2k_tensor_layout out_layout, size_t* bytes,
                                                     const sme2k_parallel_for* parallel);

/** What sme2k_conv2d() will run (sme2k_op_plan): a GEMM kernel on the gathered input, or a
 *  depthwise kernel (e.g. the portable one for a layout pair no SME2 kernel serves). */
SME2K_C_API sme2k_status sme2k_conv2d_plan(sme2k_variant variant, const sme2k_conv2d_params* params,
                                           sme2k_tensor_layout in_layout,
                                           sme2k_tensor_layout out_layout, sme2k_op_plan* plan,
                                           const sme2k_parallel_for* parallel);

/** output = epilogue(conv(input, weights) + bias). input: batch x Cin x H x W dense in
 *  in_layout, of the variant's type (F32, F16, INT8); output: batch x Cout x OH x OW in
 *  out_layout, of output_dtype (F32: F32; F16: F16 or F32; QS8: INT8). The epilogue's order
 *  must be row-major (out_layout says how the output is stored). */
SME2K_C_API sme2k_status sme2k_conv2d(sme2k_variant variant, const sme2k_conv2d_params* params,
                                      const void* input, sme2k_tensor_layout in_layout,
                                      const void* packed, size_t packed_bytes, void* output,
                                      sme2k_dtype output_dtype, sme2k_tensor_layout out_layout,
                                      const sme2k_epilogue* epilogue, void* workspace,
                                      size_t workspace_bytes, const sme2k_parallel_for* parallel);

/* ---- layout transforms (8/16/32-bit elements: INT8, F16, F32, INT32) -------------------- */

/** dst = src^T: src rows x cols, dst cols x rows, the same dtype, not overlapping. */
SME2K_C_API sme2k_status sme2k_transpose(sme2k_matrix src, sme2k_mutable_matrix dst,
                                         const sme2k_parallel_for* parallel);

/** A dense batch x C x H x W tensor from one layout to the other (the same one copies). */
SME2K_C_API sme2k_status sme2k_convert_layout(const void* src, sme2k_tensor_layout from, void* dst,
                                              sme2k_tensor_layout to, sme2k_dtype dtype,
                                              size_t batch, size_t channels, size_t height,
                                              size_t width, const sme2k_parallel_for* parallel);

/* ---- BatchNorm helpers -------------------------------------------------------------------- */

/** y = (x - running_mean) / sqrt(running_var + eps) * weight + bias, C values each; NULL
 *  weight means 1, NULL bias 0; running_mean and running_var are required. */
typedef struct sme2k_batchnorm_params {
  const float* weight;
  const float* bias;
  const float* running_mean;
  const float* running_var;
  float eps;
} sme2k_batchnorm_params;

/** All pointers NULL, eps 1e-5 (PyTorch's default). */
SME2K_C_API sme2k_batchnorm_params sme2k_batchnorm_params_default(void);

/** Folds a BatchNorm that directly follows a convolution into its unpacked weights (in place,
 *  F32 or F16, in `layout`) and writes the folded bias (Cout floats; conv_bias may be NULL and
 *  may equal folded_bias). */
SME2K_C_API sme2k_status sme2k_fold_batchnorm(const sme2k_conv2d_params* params, void* weights,
                                              sme2k_dtype weights_dtype,
                                              sme2k_conv_weight_layout layout,
                                              const float* conv_bias,
                                              const sme2k_batchnorm_params* bn, float* folded_bias);

/** The same for a Linear layer's N x K weights (row n: output n), F32 or F16, in place. */
SME2K_C_API sme2k_status sme2k_fold_batchnorm_linear(sme2k_mutable_matrix weights_nxk,
                                                     const float* bias,
                                                     const sme2k_batchnorm_params* bn,
                                                     float* folded_bias);

/** A BatchNorm after the activation as the epilogue's affine: scale[c], shift[c]. */
SME2K_C_API sme2k_status sme2k_batchnorm_affine(size_t channels, const sme2k_batchnorm_params* bn,
                                                float* scale, float* shift);

/** A BatchNorm after the activation of a QS8 layer as the epilogue's int8 affine: scale[c],
 *  shift[c] (in units of out.scale) for int8 input with `in`'s parameters and output with
 *  `out`'s (whose zero point is the stage's int8_affine_zero_point). */
SME2K_C_API sme2k_status sme2k_batchnorm_int8_affine(size_t channels,
                                                     const sme2k_batchnorm_params* bn,
                                                     sme2k_quant_params in, sme2k_quant_params out,
                                                     float* scale, float* shift);

/* ---- LLM row ops (rows of F32 or F16; weights, biases and tables f32) --------------------- */

/** RMSNorm per row: y = x / sqrt(mean(x^2) + eps) * weight, f32 arithmetic. x and y: the same
 *  dtype (F32 or F16) and shape, any ld; y may be x (same ld: in place), no other overlap.
 *  weight: x.cols floats or NULL (1). eps: finite, >= 0. */
SME2K_C_API sme2k_status sme2k_rms_norm(sme2k_matrix x, sme2k_mutable_matrix y, const float* weight,
                                        float eps, const sme2k_parallel_for* parallel);

/** LayerNorm per row: y = (x - mean) / sqrt(var + eps) * weight + bias (biased variance), as
 *  sme2k_rms_norm otherwise; weight and bias: x.cols floats each or NULL (1 and 0). */
SME2K_C_API sme2k_status sme2k_layer_norm(sme2k_matrix x, sme2k_mutable_matrix y,
                                          const float* weight, const float* bias, float eps,
                                          const sme2k_parallel_for* parallel);

/** softmax's scale and additive mask: y[r] = softmax(scale * x[r] + mask[r]). */
typedef struct sme2k_softmax_params {
  float scale;       /* finite, > 0 */
  const float* mask; /* NULL: none; else f32 rows mask_ld apart, -inf masks an element */
  size_t mask_ld;    /* 0: one mask row (x.cols floats) shared by every row */
} sme2k_softmax_params;

/** Softmax over each row, f32 arithmetic: x and y F32 or F16 each (in and out may differ), the
 *  same shape, any ld; y may be x (same dtype and ld: in place), no other overlap, and the mask
 *  must not overlap y. params: NULL for scale 1 and no mask. A row whose every element is
 *  masked (-inf) gives zeros. */
SME2K_C_API sme2k_status sme2k_softmax(sme2k_matrix x, sme2k_mutable_matrix y,
                                       const sme2k_softmax_params* params,
                                       const sme2k_parallel_for* parallel);

/** Mirrors sme2k::RopePairing. */
typedef enum sme2k_rope_pairing {
  SME2K_ROPE_INTERLEAVED = 1, /* pairs (2i, 2i+1): GPT-J, llama.cpp's default mode */
  SME2K_ROPE_HALF_SPLIT = 2,  /* pairs (i, i + rotary_dim/2): GPT-NeoX, Hugging Face llama */
  SME2K_ROPE_PAIRING_INT_RANGE_ = INT32_MIN
} sme2k_rope_pairing;

/** Head rows rotated in place: row (b, s, h) of head_dim elements at data + b * batch_stride +
 *  s * seq_stride + h * head_stride (strides in elements; [B,S,H,D]: H*D*S, H*D, D;
 *  [B,H,S,D]: H*S*D, D, S*D; a KV cache: its capacity in place of S). */
typedef struct sme2k_rope_tensor {
  void* data;
  sme2k_dtype dtype; /* F32 or F16 */
  size_t batch, seq, heads, head_dim;
  size_t batch_stride, seq_stride, head_stride;
} sme2k_rope_tensor;

/** RoPE in place: the first rotary_dim (even, <= head_dim) elements of each row form pairs
 *  (a, b) -> (a cos - b sin, a sin + b cos), f32 arithmetic; the rest is untouched. cos, sin:
 *  [table_positions][rotary_dim / 2] floats. positions: batch * seq values (b * seq + s), each
 *  < table_positions, or NULL: position first_position + s for every batch item. */
SME2K_C_API sme2k_status sme2k_rope(const sme2k_rope_tensor* x, const float* cos, const float* sin,
                                    size_t table_positions, size_t rotary_dim,
                                    sme2k_rope_pairing pairing, const int32_t* positions,
                                    size_t first_position, const sme2k_parallel_for* parallel);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SME2K_H_ */
