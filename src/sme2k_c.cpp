// The C ABI (include/sme2k.h) over the C++ ops: each function converts its C arguments to the
// C++ types, picks the variant and element types at run time, and calls the C++ op. One
// generic body per op family serves every variant: visit_variant() / visit_dtype() turn the
// run-time enums into types, and `if constexpr` refuses the combinations the C++ op does not
// instantiate (SME2K_UNSUPPORTED) instead of failing to compile. Nothing here throws (the C++
// library never does), so there is nothing to catch at the boundary.
#include <cstring>
#include <type_traits>

#include "sme2k.h"
#include "sme2k/sme2k.hpp"

namespace sme2k {
namespace {

// ---- the C declarations mirror the C++ ones ----------------------------------------------

#define SME2K_SAME_VALUE(c_value, cpp_value)                                          \
  static_assert(static_cast<long long>(c_value) == static_cast<long long>(cpp_value), \
                #c_value " must equal " #cpp_value)
SME2K_SAME_VALUE(SME2K_OK, StatusCode::kOk);
SME2K_SAME_VALUE(SME2K_INVALID_ARGUMENT, StatusCode::kInvalidArgument);
SME2K_SAME_VALUE(SME2K_NULL_POINTER, StatusCode::kNullPointer);
SME2K_SAME_VALUE(SME2K_SIZE_OVERFLOW, StatusCode::kSizeOverflow);
SME2K_SAME_VALUE(SME2K_BUFFER_TOO_SMALL, StatusCode::kBufferTooSmall);
SME2K_SAME_VALUE(SME2K_UNSUPPORTED, StatusCode::kUnsupported);
SME2K_SAME_VALUE(SME2K_PACKED_MISMATCH, StatusCode::kPackedMismatch);
SME2K_SAME_VALUE(SME2K_OUT_OF_MEMORY, StatusCode::kOutOfMemory);
SME2K_SAME_VALUE(SME2K_PATH_PORTABLE, Path::kPortable);
SME2K_SAME_VALUE(SME2K_PATH_SME2, Path::kSme2);
SME2K_SAME_VALUE(SME2K_PATH_SME2_F16F16, Path::kSme2F16F16);
SME2K_SAME_VALUE(SME2K_VARIANT_F32, VariantId::kF32);
SME2K_SAME_VALUE(SME2K_VARIANT_F16, VariantId::kF16);
SME2K_SAME_VALUE(SME2K_VARIANT_F16_ACC16, VariantId::kF16Acc16);
SME2K_SAME_VALUE(SME2K_VARIANT_QS8, VariantId::kQS8);
SME2K_SAME_VALUE(SME2K_VARIANT_QD8, VariantId::kQD8);
SME2K_SAME_VALUE(SME2K_VARIANT_QD8_QC4W, VariantId::kQD8QC4W);
SME2K_SAME_VALUE(SME2K_VARIANT_QD8_QB4W, VariantId::kQD8QB4W);
SME2K_SAME_VALUE(SME2K_VARIANT_BF16, VariantId::kBF16);
SME2K_SAME_VALUE(SME2K_RHS_KXN, RhsLayout::kKxN);
SME2K_SAME_VALUE(SME2K_RHS_NXK, RhsLayout::kNxK);
SME2K_SAME_VALUE(SME2K_INT4_NIBBLES, Int4Storage::kNibbles);
SME2K_SAME_VALUE(SME2K_INT4_INT8, Int4Storage::kInt8);
SME2K_SAME_VALUE(SME2K_SCALE_F32, ScaleType::kF32);
SME2K_SAME_VALUE(SME2K_SCALE_BF16, ScaleType::kBF16);
SME2K_SAME_VALUE(SME2K_ACTIVATION_NONE, Activation::kNone);
SME2K_SAME_VALUE(SME2K_ACTIVATION_RELU, Activation::kRelu);
SME2K_SAME_VALUE(SME2K_ACTIVATION_RELU6, Activation::kRelu6);
SME2K_SAME_VALUE(SME2K_ACTIVATION_HARD_SWISH, Activation::kHardSwish);
SME2K_SAME_VALUE(SME2K_ACTIVATION_GELU, Activation::kGelu);
SME2K_SAME_VALUE(SME2K_ACTIVATION_SILU, Activation::kSilu);
SME2K_SAME_VALUE(SME2K_OUTPUT_ROW_MAJOR, OutputOrder::kRowMajor);
SME2K_SAME_VALUE(SME2K_OUTPUT_TRANSPOSED, OutputOrder::kTransposed);
SME2K_SAME_VALUE(SME2K_LAYOUT_NCHW, TensorLayout::kNCHW);
SME2K_SAME_VALUE(SME2K_LAYOUT_NHWC, TensorLayout::kNHWC);
SME2K_SAME_VALUE(SME2K_WEIGHTS_OIHW, ConvWeightLayout::kOIHW);
SME2K_SAME_VALUE(SME2K_WEIGHTS_OHWI, ConvWeightLayout::kOHWI);
SME2K_SAME_VALUE(SME2K_WEIGHTS_HWIO, ConvWeightLayout::kHWIO);
SME2K_SAME_VALUE(SME2K_ROPE_INTERLEAVED, RopePairing::kInterleaved);
SME2K_SAME_VALUE(SME2K_ROPE_HALF_SPLIT, RopePairing::kHalfSplit);
#undef SME2K_SAME_VALUE

// sme2k.h promises C callers that their struct *is* sme2k::ParallelFor.
static_assert(sizeof(sme2k_parallel_for) == sizeof(ParallelFor), "ParallelFor layout");
static_assert(alignof(sme2k_parallel_for) == alignof(ParallelFor), "ParallelFor layout");
static_assert(offsetof(sme2k_parallel_for, run) == offsetof(ParallelFor, run), "ParallelFor");
static_assert(offsetof(sme2k_parallel_for, context) == offsetof(ParallelFor, context),
              "ParallelFor layout");
static_assert(offsetof(sme2k_parallel_for, max_tasks) == offsetof(ParallelFor, max_tasks),
              "ParallelFor layout");
static_assert(sizeof(sme2k_variant) == sizeof(int) && sizeof(sme2k_status) == sizeof(int),
              "the enums' INT32_MIN members make them int-sized in C and C++ alike");

// ---- status ----------------------------------------------------------------------------

thread_local char t_message[Status::kMessageCapacity] = "ok";

/// Records s as the thread's last message and returns its code.
sme2k_status finish(const Status& s) {
  std::strncpy(t_message, s.message(), sizeof t_message - 1);
  t_message[sizeof t_message - 1] = '\0';
  return static_cast<sme2k_status>(s.code());
}

// ---- enums and structs ----------------------------------------------------------------

/// The C++ enums are uint8_t-based: a C value outside [0, 255] would wrap onto a valid one,
/// so it is refused here; inside, the C++ validation refuses unknown values.
template <class E, class C>
Status to_enum(C value, const char* op, const char* what, E* out) {
  const auto v = static_cast<long long>(value);
  if (v < 0 || v > 255) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown %s %lld", op, what, v);
  }
  *out = static_cast<E>(v);
  return Status();
}

/// The one place the C threading hook becomes the C++ one.
ParallelFor to_parallel_for(const sme2k_parallel_for* parallel) {
  ParallelFor p;
  if (parallel != nullptr) {
    p.run = parallel->run;
    p.context = parallel->context;
    p.max_tasks = parallel->max_tasks;
  }
  return p;
}

Status to_epilogue(const sme2k_epilogue* e, const char* op, GemmEpilogue* out) {
  if (e == nullptr) return Status();  // the default
  SME2K_RETURN_IF_ERROR(to_enum(e->activation, op, "activation", &out->activation));
  SME2K_RETURN_IF_ERROR(to_enum(e->order, op, "output order", &out->order));
  out->affine.scale = e->affine_scale;
  out->affine.shift = e->affine_shift;
  out->clamp.min = e->clamp_min;
  out->clamp.max = e->clamp_max;
  out->quantized_range.min = e->quantized_min;
  out->quantized_range.max = e->quantized_max;
  out->int8_stages.scale = e->int8_affine_scale;
  out->int8_stages.shift = e->int8_affine_shift;
  out->int8_stages.zero_point = e->int8_affine_zero_point;
  out->int8_stages.range.min = e->int8_affine_min;
  out->int8_stages.range.max = e->int8_affine_max;
  out->int8_stages.table = e->int8_table;
  return Status();
}

Status to_conv_params(const sme2k_conv2d_params* c, const char* op, Conv2dParams* p) {
  if (c == nullptr) return Status::error(StatusCode::kNullPointer, "%s: params is null", op);
  p->batch = c->batch;
  p->in_channels = c->in_channels;
  p->in_height = c->in_height;
  p->in_width = c->in_width;
  p->out_channels = c->out_channels;
  p->kernel_height = c->kernel_height;
  p->kernel_width = c->kernel_width;
  p->stride_height = c->stride_height;
  p->stride_width = c->stride_width;
  p->dilation_height = c->dilation_height;
  p->dilation_width = c->dilation_width;
  p->pad_top = c->pad_top;
  p->pad_bottom = c->pad_bottom;
  p->pad_left = c->pad_left;
  p->pad_right = c->pad_right;
  p->groups = c->groups;
  return Status();
}

Status to_qs8_quantization(const sme2k_qs8_quantization* q, const char* op, Qs8Quantization* out) {
  if (q == nullptr) return Status::error(StatusCode::kNullPointer, "%s: quantization is null", op);
  out->input = {q->input.scale, q->input.zero_point};
  out->weight_scales = q->weight_scales;
  out->output = {q->output.scale, q->output.zero_point};
  return Status();
}

Status to_int4(const sme2k_int4_matrix& b, const char* op, Int4View* out) {
  SME2K_RETURN_IF_ERROR(to_enum(b.storage, op, "int4 storage", &out->storage));
  out->data = b.data;
  out->rows = b.rows;
  out->cols = b.cols;
  out->ld = b.ld;
  return Status();
}

Status to_batchnorm(const sme2k_batchnorm_params* bn, const char* op, BatchNormParams* out) {
  if (bn == nullptr) return Status::error(StatusCode::kNullPointer, "%s: bn is null", op);
  out->weight = bn->weight;
  out->bias = bn->bias;
  out->running_mean = bn->running_mean;
  out->running_var = bn->running_var;
  out->eps = bn->eps;
  return Status();
}

// ---- run-time enums to types -------------------------------------------------------------

// The C enum's values are the VariantIds of the one variant table (types/variant.hpp; checked
// above).
template <class Fn>
Status visit_variant(sme2k_variant variant, const char* op, Fn&& fn) {
  Status result;
  if (variant < 1 || variant > 255 ||
      !sme2k::visit_variant(static_cast<VariantId>(variant), [&](auto v) { result = fn(v); })) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown variant %d", op,
                         static_cast<int>(variant));
  }
  return result;
}

template <class Fn>
Status visit_dtype(sme2k_dtype dtype, const char* op, const char* what, Fn&& fn) {
  switch (dtype) {
    case SME2K_DTYPE_F32: return fn(TypeTag<float>{});
    case SME2K_DTYPE_F16: return fn(TypeTag<f16>{});
    case SME2K_DTYPE_BF16: return fn(TypeTag<bf16>{});
    case SME2K_DTYPE_INT8: return fn(TypeTag<int8_t>{});
    case SME2K_DTYPE_INT32: return fn(TypeTag<int32_t>{});
    default: break;
  }
  return Status::error(StatusCode::kInvalidArgument, "%s: unknown dtype %d of %s", op,
                       static_cast<int>(dtype), what);
}

/// The C dtype of an element type.
template <class T>
constexpr sme2k_dtype dtype_of() {
  if constexpr (std::is_same_v<T, float>) return SME2K_DTYPE_F32;
  if constexpr (std::is_same_v<T, f16>) return SME2K_DTYPE_F16;
  if constexpr (std::is_same_v<T, bf16>) return SME2K_DTYPE_BF16;
  if constexpr (std::is_same_v<T, int8_t>) return SME2K_DTYPE_INT8;
  if constexpr (std::is_same_v<T, int32_t>) return SME2K_DTYPE_INT32;
}

const char* dtype_name(sme2k_dtype dtype) {
  switch (dtype) {
    case SME2K_DTYPE_F32: return "f32";
    case SME2K_DTYPE_F16: return "f16";
    case SME2K_DTYPE_BF16: return "bf16";
    case SME2K_DTYPE_INT8: return "int8";
    case SME2K_DTYPE_INT32: return "int32";
    default: return "unknown";
  }
}

template <class V>
Status unsupported(const char* op, const char* what) {
  return Status::error(StatusCode::kUnsupported, "%s: variant %s: %s", op,
                       VariantTraits<V>::kName.data(), what);
}

template <class V>
Status unsupported_dtype(const char* op, const char* what, sme2k_dtype dtype) {
  return Status::error(StatusCode::kUnsupported, "%s: variant %s does not take %s %s", op,
                       VariantTraits<V>::kName.data(), dtype_name(dtype), what);
}

template <class V>
inline constexpr bool kFloatWeights = !detail::kQuantizedWeights<V>;
template <class V>
inline constexpr bool kBatchVariant = kFloatWeights<V>;
template <class V>
inline constexpr bool kConvVariant = WeightPacking<V>::kConvolutions;

template <class T>
MatrixView<const T> view(const sme2k_matrix& m) {
  return {static_cast<const T*>(m.data), m.rows, m.cols, m.ld};
}
template <class T>
MatrixView<T> view(const sme2k_mutable_matrix& m) {
  return {static_cast<T*>(m.data), m.rows, m.cols, m.ld};
}

}  // namespace
}  // namespace sme2k

using namespace sme2k;

// ---- status, CPU, version ------------------------------------------------------------------

extern "C" const char* sme2k_status_string(sme2k_status code) {
  if (code < SME2K_OK || code > SME2K_OUT_OF_MEMORY) return "unknown status";
  return status_code_name(static_cast<StatusCode>(code));
}

extern "C" const char* sme2k_last_error_message(void) { return t_message; }

extern "C" sme2k_status sme2k_cpu_features(sme2k_cpu_info* info) {
  if (info == nullptr) {
    return finish(Status::error(StatusCode::kNullPointer, "cpu_features: info is null"));
  }
  const CpuFeatures f = cpu_features();
  info->sme = f.has(CpuFeature::kSme);
  info->sme2 = f.has(CpuFeature::kSme2);
  info->sme2p1 = f.has(CpuFeature::kSme2p1);
  info->sme_f16f16 = f.has(CpuFeature::kSmeF16F16);
  info->sme_b16b16 = f.has(CpuFeature::kSmeB16B16);
  info->sme_lutv2 = f.has(CpuFeature::kSmeLutv2);
  info->sme_i16i64 = f.has(CpuFeature::kSmeI16I64);
  info->sme_fa64 = f.has(CpuFeature::kSmeFa64);
  info->path = static_cast<sme2k_path>(select_path(f));
  info->f16_acc16_path = static_cast<sme2k_path>(select_path(Path::kSme2F16F16, f));
  info->svl_bits = sme2k_svl_bits();
  return finish(Status());
}

extern "C" uint32_t sme2k_svl_bits(void) {
  return static_cast<uint32_t>(streaming_vector_bytes() * 8);
}

extern "C" sme2k_path sme2k_last_used_path(void) {
  return static_cast<sme2k_path>(last_used_path());
}

extern "C" const char* sme2k_path_name(sme2k_path path) {
  if (path < 0 || path > 255) return "unknown";
  return sme2k::path_name(static_cast<Path>(path));
}

extern "C" uint32_t sme2k_version(void) {
  return SME2K_VERSION_MAJOR * 10000 + SME2K_VERSION_MINOR * 100 + SME2K_VERSION_PATCH;
}

extern "C" uint16_t sme2k_f32_to_f16(float value) { return f32_to_f16_bits(value); }
extern "C" float sme2k_f16_to_f32(uint16_t bits) { return f16_bits_to_f32(bits); }

extern "C" sme2k_epilogue sme2k_epilogue_default(void) {
  const GemmEpilogue d;
  sme2k_epilogue e;
  e.activation = static_cast<sme2k_activation>(d.activation);
  e.affine_scale = d.affine.scale;
  e.affine_shift = d.affine.shift;
  e.clamp_min = d.clamp.min;
  e.clamp_max = d.clamp.max;
  e.order = static_cast<sme2k_output_order>(d.order);
  e.quantized_min = d.quantized_range.min;
  e.quantized_max = d.quantized_range.max;
  e.int8_affine_scale = d.int8_stages.scale;
  e.int8_affine_shift = d.int8_stages.shift;
  e.int8_affine_zero_point = d.int8_stages.zero_point;
  e.int8_affine_min = d.int8_stages.range.min;
  e.int8_affine_max = d.int8_stages.range.max;
  e.int8_table = d.int8_stages.table;
  return e;
}

extern "C" sme2k_status sme2k_int8_activation_table(sme2k_activation activation,
                                                    sme2k_quant_params in, sme2k_quant_params out,
                                                    int32_t min, int32_t max, int8_t table[256]) {
  constexpr const char* op = "int8_activation_table";
  return finish([&]() -> Status {
    Activation act{};
    SME2K_RETURN_IF_ERROR(to_enum(activation, op, "activation", &act));
    return int8_activation_table(act, {in.scale, in.zero_point}, {out.scale, out.zero_point},
                                 {min, max}, table);
  }());
}

// ---- GEMM ------------------------------------------------------------------------------------

extern "C" sme2k_status sme2k_gemm_packed_rhs_size(sme2k_variant variant, size_t n, size_t k,
                                                   size_t* bytes) {
  return finish(visit_variant(variant, "gemm_packed_rhs_size", [&](auto v) {
    using V = typename decltype(v)::type;
    return gemm_packed_rhs_size<V>(n, k, bytes);
  }));
}

namespace sme2k {
namespace {

/// Refuses a dtype other than `want` (unknown values as invalid, known ones as unsupported).
Status expect_dtype(sme2k_dtype got, sme2k_dtype want, const char* op, const char* what) {
  if (got == want) return Status();
  return visit_dtype(got, op, what, [&](auto) {
    return Status::error(StatusCode::kUnsupported, "%s: %s must be %s, not %s", op, what,
                         dtype_name(want), dtype_name(got));
  });
}

}  // namespace
}  // namespace sme2k

extern "C" sme2k_status sme2k_gemm_pack_rhs(sme2k_variant variant, sme2k_matrix b,
                                            sme2k_rhs_layout layout, const void* bias,
                                            sme2k_dtype bias_dtype, void* packed,
                                            size_t packed_bytes) {
  constexpr const char* op = "gemm_pack_rhs";
  return finish([&]() -> Status {
    RhsLayout rhs_layout{};
    SME2K_RETURN_IF_ERROR(to_enum(layout, op, "rhs layout", &rhs_layout));
    return visit_variant(variant, op, [&](auto v) -> Status {
      using V = typename decltype(v)::type;
      if constexpr (!kFloatWeights<V>) {
        return unsupported<V>(op, "its weights need the pack function of their kind");
      } else {
        using Rhs = typename VariantTraits<V>::Rhs;
        SME2K_RETURN_IF_ERROR(expect_dtype(b.dtype, dtype_of<Rhs>(), op, "B"));
        if (bias == nullptr) {
          return gemm_pack_rhs<V>(view<Rhs>(b), rhs_layout, nullptr, packed, packed_bytes);
        }
        return visit_dtype(bias_dtype, op, "bias", [&](auto bias_tag) -> Status {
          using Bias = typename decltype(bias_tag)::type;
          if constexpr (!VariantTraits<V>::template kBiasInputs<Bias>) {
            return unsupported_dtype<V>(op, "bias", bias_dtype);
          } else {
            return gemm_pack_rhs<V>(view<Rhs>(b), rhs_layout, static_cast<const Bias*>(bias),
                                    packed, packed_bytes);
          }
        });
      }
    });
  }());
}

extern "C" sme2k_status sme2k_gemm_pack_rhs_qs8(sme2k_matrix b, sme2k_rhs_layout layout,
                                                const int32_t* bias,
                                                const sme2k_qs8_quantization* quantization,
                                                void* packed, size_t packed_bytes) {
  constexpr const char* op = "gemm_pack_rhs_qs8";
  return finish([&]() -> Status {
    RhsLayout rhs_layout{};
    Qs8Quantization q;
    SME2K_RETURN_IF_ERROR(to_enum(layout, op, "rhs layout", &rhs_layout));
    SME2K_RETURN_IF_ERROR(expect_dtype(b.dtype, SME2K_DTYPE_INT8, op, "B"));
    SME2K_RETURN_IF_ERROR(to_qs8_quantization(quantization, op, &q));
    return gemm_pack_rhs<QS8>(view<int8_t>(b), rhs_layout, bias, q, packed, packed_bytes);
  }());
}

extern "C" sme2k_status sme2k_gemm_pack_rhs_qd8(sme2k_matrix b, sme2k_rhs_layout layout,
                                                const float* bias, const float* weight_scales,
                                                void* packed, size_t packed_bytes) {
  constexpr const char* op = "gemm_pack_rhs_qd8";
  return finish([&]() -> Status {
    RhsLayout rhs_layout{};
    SME2K_RETURN_IF_ERROR(to_enum(layout, op, "rhs layout", &rhs_layout));
    SME2K_RETURN_IF_ERROR(expect_dtype(b.dtype, SME2K_DTYPE_INT8, op, "B"));
    return gemm_pack_rhs<QD8>(view<int8_t>(b), rhs_layout, bias, weight_scales, packed,
                              packed_bytes);
  }());
}

extern "C" sme2k_status sme2k_gemm_pack_rhs_qc4w(sme2k_int4_matrix b, sme2k_rhs_layout layout,
                                                 const float* bias, const float* weight_scales,
                                                 void* packed, size_t packed_bytes) {
  constexpr const char* op = "gemm_pack_rhs_qc4w";
  return finish([&]() -> Status {
    RhsLayout rhs_layout{};
    Int4View view4;
    SME2K_RETURN_IF_ERROR(to_enum(layout, op, "rhs layout", &rhs_layout));
    SME2K_RETURN_IF_ERROR(to_int4(b, op, &view4));
    return gemm_pack_rhs<QD8QC4W>(view4, rhs_layout, bias, weight_scales, packed, packed_bytes);
  }());
}

extern "C" sme2k_status sme2k_gemm_pack_rhs_qb4w(sme2k_int4_matrix b, sme2k_rhs_layout layout,
                                                 const float* bias,
                                                 const sme2k_block_scales* scales, void* packed,
                                                 size_t packed_bytes) {
  constexpr const char* op = "gemm_pack_rhs_qb4w";
  return finish([&]() -> Status {
    RhsLayout rhs_layout{};
    Int4View view4;
    BlockScales block_scales;
    SME2K_RETURN_IF_ERROR(to_enum(layout, op, "rhs layout", &rhs_layout));
    SME2K_RETURN_IF_ERROR(to_int4(b, op, &view4));
    if (scales == nullptr) return Status::error(StatusCode::kNullPointer, "%s: scales is null", op);
    SME2K_RETURN_IF_ERROR(to_enum(scales->type, op, "scale type", &block_scales.type));
    block_scales.data = scales->data;
    block_scales.block = scales->block;
    block_scales.ld = scales->ld;
    return gemm_pack_rhs<QD8QB4W>(view4, rhs_layout, bias, block_scales, packed, packed_bytes);
  }());
}

extern "C" sme2k_status sme2k_gemm_pack_rhs_q4_0(const void* blocks, size_t n, size_t k,
                                                 const float* bias, void* packed,
                                                 size_t packed_bytes) {
  return finish(gemm_pack_rhs_q4_0<QD8QB4W>(blocks, n, k, bias, packed, packed_bytes));
}

namespace sme2k {
namespace {
Status to_output_order(sme2k_output_order order, const char* op, OutputOrder* out) {
  SME2K_RETURN_IF_ERROR(to_enum(order, op, "output order", out));
  if (*out != OutputOrder::kRowMajor && *out != OutputOrder::kTransposed) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown output order %d", op,
                         static_cast<int>(order));
  }
  return Status();
}

/// An OpPlan as the C API gives it (kernel names are string literals: NUL-terminated).
Status to_c_plan(const OpPlan& from, sme2k_op_plan* to) {
  to->kernel = from.kernel.data();
  to->path = static_cast<sme2k_path>(from.path);
  to->tasks = from.tasks;
  to->workspace_bytes = from.workspace_bytes;
  return Status();
}
}  // namespace
}  // namespace sme2k

extern "C" sme2k_status sme2k_gemm_workspace_size(sme2k_variant variant, size_t m, size_t n,
                                                  size_t k, sme2k_output_order order, size_t* bytes,
                                                  const sme2k_parallel_for* parallel) {
  constexpr const char* op = "gemm_workspace_size";
  return finish([&]() -> Status {
    OutputOrder output_order{};
    SME2K_RETURN_IF_ERROR(to_output_order(order, op, &output_order));
    const ParallelFor pf = to_parallel_for(parallel);
    return visit_variant(variant, op, [&](auto v) {
      using V = typename decltype(v)::type;
      return gemm_workspace_size<V>(m, n, k, bytes, output_order, pf);
    });
  }());
}

extern "C" sme2k_status sme2k_gemm_plan(sme2k_variant variant, size_t m, size_t n, size_t k,
                                        sme2k_output_order order, sme2k_op_plan* plan,
                                        const sme2k_parallel_for* parallel) {
  constexpr const char* op = "gemm_plan";
  return finish([&]() -> Status {
    if (plan == nullptr) return Status::error(StatusCode::kNullPointer, "%s: plan is null", op);
    OutputOrder output_order{};
    SME2K_RETURN_IF_ERROR(to_output_order(order, op, &output_order));
    const ParallelFor pf = to_parallel_for(parallel);
    return visit_variant(variant, op, [&](auto v) {
      using V = typename decltype(v)::type;
      OpPlan p;
      SME2K_RETURN_IF_ERROR(gemm_plan<V>(m, n, k, &p, output_order, pf));
      return to_c_plan(p, plan);
    });
  }());
}

extern "C" sme2k_status sme2k_gemm(sme2k_variant variant, sme2k_matrix a, const void* packed_rhs,
                                   size_t packed_rhs_bytes, sme2k_mutable_matrix c,
                                   const sme2k_epilogue* epilogue, void* workspace,
                                   size_t workspace_bytes, const sme2k_parallel_for* parallel) {
  constexpr const char* op = "gemm";
  return finish([&]() -> Status {
    GemmEpilogue e;
    SME2K_RETURN_IF_ERROR(to_epilogue(epilogue, op, &e));
    const ParallelFor pf = to_parallel_for(parallel);
    return visit_variant(variant, op, [&](auto v) {
      using V = typename decltype(v)::type;
      return visit_dtype(a.dtype, op, "A", [&](auto in_tag) {
        using In = typename decltype(in_tag)::type;
        return visit_dtype(c.dtype, op, "C", [&](auto out_tag) -> Status {
          using Out = typename decltype(out_tag)::type;
          if constexpr (!detail::kTakesInput<V, In>) {
            return unsupported_dtype<V>(op, "activations", a.dtype);
          } else if constexpr (!VariantTraits<V>::template kOutputs<Out>) {
            return unsupported_dtype<V>(op, "output", c.dtype);
          } else {
            return gemm<V, Out>(view<In>(a), packed_rhs, packed_rhs_bytes, view<Out>(c), e,
                                workspace, workspace_bytes, pf);
          }
        });
      });
    });
  }());
}

extern "C" sme2k_status sme2k_gemm_packed_lhs_size(sme2k_variant variant, size_t m, size_t k,
                                                   size_t* bytes) {
  constexpr const char* op = "gemm_packed_lhs_size";
  return finish(visit_variant(variant, op, [&](auto v) -> Status {
    using V = typename decltype(v)::type;
    if constexpr (!detail::kPacksLhs<V>) {
      return unsupported<V>(op, "packs its activations inside gemm");
    } else {
      return gemm_packed_lhs_size<V>(m, k, bytes);
    }
  }));
}

extern "C" sme2k_status sme2k_gemm_pack_lhs(sme2k_variant variant, sme2k_matrix a, void* packed,
                                            size_t packed_bytes,
                                            const sme2k_parallel_for* parallel) {
  constexpr const char* op = "gemm_pack_lhs";
  const ParallelFor pf = to_parallel_for(parallel);
  return finish(visit_variant(variant, op, [&](auto v) -> Status {
    using V = typename decltype(v)::type;
    if constexpr (!detail::kPacksLhs<V>) {
      return unsupported<V>(op, "packs its activations inside gemm");
    } else {
      return visit_dtype(a.dtype, op, "A", [&](auto in_tag) -> Status {
        using In = typename decltype(in_tag)::type;
        if constexpr (!detail::kTakesInput<V, In>) {
          return unsupported_dtype<V>(op, "activations", a.dtype);
        } else {
          return gemm_pack_lhs<V>(view<In>(a), packed, packed_bytes, pf);
        }
      });
    }
  }));
}

extern "C" sme2k_status sme2k_gemm_packed_lhs(sme2k_variant variant, const void* packed_lhs,
                                              size_t packed_lhs_bytes, const void* packed_rhs,
                                              size_t packed_rhs_bytes, sme2k_mutable_matrix c,
                                              const sme2k_epilogue* epilogue, void* workspace,
                                              size_t workspace_bytes,
                                              const sme2k_parallel_for* parallel) {
  constexpr const char* op = "gemm_packed_lhs";
  return finish([&]() -> Status {
    GemmEpilogue e;
    SME2K_RETURN_IF_ERROR(to_epilogue(epilogue, op, &e));
    const ParallelFor pf = to_parallel_for(parallel);
    return visit_variant(variant, op, [&](auto v) -> Status {
      using V = typename decltype(v)::type;
      if constexpr (!detail::kPacksLhs<V>) {
        return unsupported<V>(op, "packs its activations inside gemm");
      } else {
        return visit_dtype(c.dtype, op, "C", [&](auto out_tag) -> Status {
          using Out = typename decltype(out_tag)::type;
          if constexpr (!VariantTraits<V>::template kOutputs<Out>) {
            return unsupported_dtype<V>(op, "output", c.dtype);
          } else {
            return gemm<V, Out>(PackedLhs{packed_lhs, packed_lhs_bytes}, packed_rhs,
                                packed_rhs_bytes, view<Out>(c), e, workspace, workspace_bytes, pf);
          }
        });
      }
    });
  }());
}

// ---- batched matmul ----------------------------------------------------------------------

extern "C" sme2k_status sme2k_batch_matmul_workspace_size(sme2k_variant variant, size_t batch,
                                                          size_t m, size_t n, size_t k,
                                                          sme2k_output_order order, size_t* bytes,
                                                          const sme2k_parallel_for* parallel) {
  constexpr const char* op = "batch_matmul_workspace_size";
  return finish([&]() -> Status {
    OutputOrder output_order{};
    SME2K_RETURN_IF_ERROR(to_output_order(order, op, &output_order));
    const ParallelFor pf = to_parallel_for(parallel);
    return visit_variant(variant, op, [&](auto v) -> Status {
      using V = typename decltype(v)::type;
      if constexpr (!kBatchVariant<V>) {
        return unsupported<V>(op, "batch_matmul serves the float variants");
      } else {
        return batch_matmul_workspace_size<V>(batch, m, n, k, bytes, output_order, pf);
      }
    });
  }());
}

extern "C" sme2k_status sme2k_batch_matmul(sme2k_variant variant, size_t batch, sme2k_matrix a,
                                           size_t a_stride, sme2k_matrix b,
                                           sme2k_rhs_layout b_layout, size_t b_stride,
                                           sme2k_mutable_matrix c, size_t c_stride,
                                           const sme2k_epilogue* epilogue, void* workspace,
                                           size_t workspace_bytes,
                                           const sme2k_parallel_for* parallel) {
  constexpr const char* op = "batch_matmul";
  return finish([&]() -> Status {
    GemmEpilogue e;
    RhsLayout layout{};
    SME2K_RETURN_IF_ERROR(to_epilogue(epilogue, op, &e));
    SME2K_RETURN_IF_ERROR(to_enum(b_layout, op, "rhs layout", &layout));
    const ParallelFor pf = to_parallel_for(parallel);
    return visit_variant(variant, op, [&](auto v) -> Status {
      using V = typename decltype(v)::type;
      if constexpr (!kBatchVariant<V>) {
        return unsupported<V>(op, "batch_matmul serves the float variants");
      } else {
        using Lhs = typename VariantTraits<V>::Lhs;
        using Rhs = typename VariantTraits<V>::Rhs;
        const sme2k_dtype element = dtype_of<Lhs>();
        SME2K_RETURN_IF_ERROR(expect_dtype(a.dtype, element, op, "A"));
        SME2K_RETURN_IF_ERROR(expect_dtype(b.dtype, element, op, "B"));
        return visit_dtype(c.dtype, op, "C", [&](auto out_tag) -> Status {
          using Out = typename decltype(out_tag)::type;
          if constexpr (!VariantTraits<V>::template kOutputs<Out>) {
            return unsupported_dtype<V>(op, "output", c.dtype);
          } else {
            return batch_matmul<V, Out>(batch, view<Lhs>(a), a_stride, view<Rhs>(b), layout,
                                        b_stride, view<Out>(c), c_stride, e, workspace,
                                        workspace_bytes, pf);
          }
        });
      }
    });
  }());
}

// ---- attention ---------------------------------------------------------------------------

namespace sme2k {
namespace {

template <class V>
inline constexpr bool kAttentionVariant = std::is_same_v<V, F32> || std::is_same_v<V, F16>;

Status to_attention_shape(const sme2k_attention_shape* s, const char* op, AttentionShape* out) {
  if (s == nullptr) return Status::error(StatusCode::kNullPointer, "%s: shape is null", op);
  *out = {s->batch, s->q_heads, s->kv_heads, s->q_len, s->kv_len, s->head_dim};
  return Status();
}

/// The variant's attention with the output type `out_dtype` names: fn(V tag, Out tag).
template <class Fn>
Status visit_attention(sme2k_variant variant, sme2k_dtype out_dtype, const char* op, Fn&& fn) {
  return visit_variant(variant, op, [&](auto v) -> Status {
    using V = typename std::decay_t<decltype(v)>::type;
    if constexpr (!kAttentionVariant<V>) {
      return unsupported<V>(op, "attention serves F32 and F16");
    } else {
      return visit_dtype(out_dtype, op, "O", [&](auto out_tag) -> Status {
        using Out = typename std::decay_t<decltype(out_tag)>::type;
        if constexpr (!VariantTraits<V>::template kOutputs<Out>) {
          return unsupported_dtype<V>(op, "output", out_dtype);
        } else {
          return fn(v, out_tag);
        }
      });
    }
  });
}

template <class T>
HeadsView<const T> view(const sme2k_heads& h) {
  return {static_cast<const T*>(h.data), h.batch_stride, h.head_stride, h.seq_stride};
}
template <class T>
HeadsView<T> view(const sme2k_mutable_heads& h) {
  return {static_cast<T*>(h.data), h.batch_stride, h.head_stride, h.seq_stride};
}

}  // namespace
}  // namespace sme2k

extern "C" sme2k_status sme2k_attention_workspace_size(sme2k_variant variant,
                                                       const sme2k_attention_shape* shape,
                                                       sme2k_dtype out_dtype, size_t* bytes,
                                                       const sme2k_parallel_for* parallel) {
  constexpr const char* op = "attention_workspace_size";
  return finish([&]() -> Status {
    AttentionShape s;
    SME2K_RETURN_IF_ERROR(to_attention_shape(shape, op, &s));
    const ParallelFor pf = to_parallel_for(parallel);
    return visit_attention(variant, out_dtype, op, [&](auto v, auto out_tag) -> Status {
      using V = typename decltype(v)::type;
      using Out = typename decltype(out_tag)::type;
      return attention_workspace_size<V, Out>(s, bytes, pf);
    });
  }());
}

extern "C" sme2k_status sme2k_attention(sme2k_variant variant, const sme2k_attention_shape* shape,
                                        sme2k_heads q, sme2k_heads k, sme2k_heads v,
                                        sme2k_mutable_heads o, const sme2k_attention_params* params,
                                        void* workspace, size_t workspace_bytes,
                                        const sme2k_parallel_for* parallel) {
  constexpr const char* op = "attention";
  return finish([&]() -> Status {
    AttentionShape s;
    SME2K_RETURN_IF_ERROR(to_attention_shape(shape, op, &s));
    AttentionParams p;
    if (params != nullptr) {
      p.scale = params->scale;
      p.mask = {params->causal,  params->window,           params->bias,
                params->bias_ld, params->bias_head_stride, params->bias_batch_stride};
    }
    const ParallelFor pf = to_parallel_for(parallel);
    return visit_attention(variant, o.dtype, op, [&](auto vt, auto out_tag) -> Status {
      using V = typename decltype(vt)::type;
      using Out = typename decltype(out_tag)::type;
      using In = typename VariantTraits<V>::Lhs;
      const sme2k_dtype element = dtype_of<In>();
      SME2K_RETURN_IF_ERROR(expect_dtype(q.dtype, element, op, "Q"));
      SME2K_RETURN_IF_ERROR(expect_dtype(k.dtype, element, op, "K"));
      SME2K_RETURN_IF_ERROR(expect_dtype(v.dtype, element, op, "V"));
      return attention<V, Out>(s, view<In>(q), view<In>(k), view<In>(v), view<Out>(o), p, workspace,
                               workspace_bytes, pf);
    });
  }());
}

// ---- conv2d ------------------------------------------------------------------------------

extern "C" sme2k_conv2d_params sme2k_conv2d_params_default(void) {
  const Conv2dParams d;
  sme2k_conv2d_params p;
  std::memset(&p, 0, sizeof p);
  p.batch = d.batch;
  p.stride_height = d.stride_height;
  p.stride_width = d.stride_width;
  p.dilation_height = d.dilation_height;
  p.dilation_width = d.dilation_width;
  p.groups = d.groups;
  return p;
}

extern "C" sme2k_status sme2k_conv2d_output_size(const sme2k_conv2d_params* params,
                                                 size_t* out_height, size_t* out_width) {
  constexpr const char* op = "conv2d_output_size";
  return finish([&]() -> Status {
    Conv2dParams p;
    SME2K_RETURN_IF_ERROR(to_conv_params(params, op, &p));
    return conv2d_output_size(p, out_height, out_width);
  }());
}

extern "C" sme2k_status sme2k_conv2d_packed_weights_size(sme2k_variant variant,
                                                         const sme2k_conv2d_params* params,
                                                         size_t* bytes) {
  constexpr const char* op = "conv2d_packed_weights_size";
  return finish([&]() -> Status {
    Conv2dParams p;
    SME2K_RETURN_IF_ERROR(to_conv_params(params, op, &p));
    return visit_variant(variant, op, [&](auto v) -> Status {
      using V = typename decltype(v)::type;
      if constexpr (!kConvVariant<V>) {
        return unsupported<V>(op, "conv2d serves F32, F16, BF16 and QS8");
      } else {
        return conv2d_packed_weights_size<V>(p, bytes);
      }
    });
  }());
}

extern "C" sme2k_status sme2k_conv2d_pack_weights(sme2k_variant variant,
                                                  const sme2k_conv2d_params* params,
                                                  const void* weights, sme2k_dtype weights_dtype,
                                                  sme2k_conv_weight_layout layout, const void* bias,
                                                  sme2k_dtype bias_dtype, void* packed,
                                                  size_t packed_bytes) {
  constexpr const char* op = "conv2d_pack_weights";
  return finish([&]() -> Status {
    Conv2dParams p;
    ConvWeightLayout weight_layout{};
    SME2K_RETURN_IF_ERROR(to_conv_params(params, op, &p));
    SME2K_RETURN_IF_ERROR(to_enum(layout, op, "weight layout", &weight_layout));
    return visit_variant(variant, op, [&](auto v) -> Status {
      using V = typename decltype(v)::type;
      if constexpr (!std::is_same_v<V, F32> && !std::is_same_v<V, F16>) {
        return unsupported<V>(op, "float conv weights are F32 or F16 (QS8: the _qs8 function)");
      } else {
        using Rhs = typename VariantTraits<V>::Rhs;
        SME2K_RETURN_IF_ERROR(expect_dtype(weights_dtype, dtype_of<Rhs>(), op, "weights"));
        const auto* w = static_cast<const Rhs*>(weights);
        if (bias == nullptr) {
          return conv2d_pack_weights<V>(p, w, weight_layout, nullptr, packed, packed_bytes);
        }
        return visit_dtype(bias_dtype, op, "bias", [&](auto bias_tag) -> Status {
          using Bias = typename decltype(bias_tag)::type;
          if constexpr (!VariantTraits<V>::template kBiasInputs<Bias>) {
            return unsupported_dtype<V>(op, "bias", bias_dtype);
          } else {
            return conv2d_pack_weights<V>(p, w, weight_layout, static_cast<const Bias*>(bias),
                                          packed, packed_bytes);
          }
        });
      }
    });
  }());
}

extern "C" sme2k_status sme2k_conv2d_pack_weights_qs8(const sme2k_conv2d_params* params,
                                                      const int8_t* weights,
                                                      sme2k_conv_weight_layout layout,
                                                      const int32_t* bias,
                                                      const sme2k_qs8_quantization* quantization,
                                                      void* packed, size_t packed_bytes) {
  constexpr const char* op = "conv2d_pack_weights_qs8";
  return finish([&]() -> Status {
    Conv2dParams p;
    ConvWeightLayout weight_layout{};
    Qs8Quantization q;
    SME2K_RETURN_IF_ERROR(to_conv_params(params, op, &p));
    SME2K_RETURN_IF_ERROR(to_enum(layout, op, "weight layout", &weight_layout));
    SME2K_RETURN_IF_ERROR(to_qs8_quantization(quantization, op, &q));
    return conv2d_pack_weights<QS8>(p, weights, weight_layout, bias, q, packed, packed_bytes);
  }());
}

namespace sme2k {
namespace {
/// conv2d_plan() of a C call (sme2k_conv2d_plan and sme2k_conv2d_workspace_size).
Status plan_conv2d_c(sme2k_variant variant, const sme2k_conv2d_params* params,
                     sme2k_tensor_layout in_layout, sme2k_tensor_layout out_layout,
                     const sme2k_parallel_for* parallel, const char* op, OpPlan* plan) {
  Conv2dParams p;
  TensorLayout in{}, out{};
  SME2K_RETURN_IF_ERROR(to_conv_params(params, op, &p));
  SME2K_RETURN_IF_ERROR(to_enum(in_layout, op, "input layout", &in));
  SME2K_RETURN_IF_ERROR(to_enum(out_layout, op, "output layout", &out));
  const ParallelFor pf = to_parallel_for(parallel);
  return visit_variant(variant, op, [&](auto v) -> Status {
    using V = typename decltype(v)::type;
    if constexpr (!kConvVariant<V>) {
      return unsupported<V>(op, "conv2d serves F32, F16, BF16 and QS8");
    } else {
      return detail::plan_conv2d<V>(p, in, out, GemmEpilogue{}, pf, op, plan);
    }
  });
}
}  // namespace
}  // namespace sme2k

extern "C" sme2k_status sme2k_conv2d_workspace_size(sme2k_variant variant,
                                                    const sme2k_conv2d_params* params,
                                                    sme2k_tensor_layout in_layout,
                                                    sme2k_tensor_layout out_layout, size_t* bytes,
                                                    const sme2k_parallel_for* parallel) {
  constexpr const char* op = "conv2d_workspace_size";
  return finish([&]() -> Status {
    if (bytes == nullptr) return Status::error(StatusCode::kNullPointer, "%s: bytes is null", op);
    OpPlan plan;
    SME2K_RETURN_IF_ERROR(
        plan_conv2d_c(variant, params, in_layout, out_layout, parallel, op, &plan));
    *bytes = plan.workspace_bytes;
    return Status();
  }());
}

extern "C" sme2k_status sme2k_conv2d_plan(sme2k_variant variant, const sme2k_conv2d_params* params,
                                          sme2k_tensor_layout in_layout,
                                          sme2k_tensor_layout out_layout, sme2k_op_plan* plan,
                                          const sme2k_parallel_for* parallel) {
  constexpr const char* op = "conv2d_plan";
  return finish([&]() -> Status {
    if (plan == nullptr) return Status::error(StatusCode::kNullPointer, "%s: plan is null", op);
    OpPlan op_plan;
    SME2K_RETURN_IF_ERROR(
        plan_conv2d_c(variant, params, in_layout, out_layout, parallel, op, &op_plan));
    return to_c_plan(op_plan, plan);
  }());
}

extern "C" sme2k_status sme2k_conv2d(sme2k_variant variant, const sme2k_conv2d_params* params,
                                     const void* input, sme2k_tensor_layout in_layout,
                                     const void* packed, size_t packed_bytes, void* output,
                                     sme2k_dtype output_dtype, sme2k_tensor_layout out_layout,
                                     const sme2k_epilogue* epilogue, void* workspace,
                                     size_t workspace_bytes, const sme2k_parallel_for* parallel) {
  constexpr const char* op = "conv2d";
  return finish([&]() -> Status {
    Conv2dParams p;
    TensorLayout in{}, out{};
    GemmEpilogue e;
    SME2K_RETURN_IF_ERROR(to_conv_params(params, op, &p));
    SME2K_RETURN_IF_ERROR(to_enum(in_layout, op, "input layout", &in));
    SME2K_RETURN_IF_ERROR(to_enum(out_layout, op, "output layout", &out));
    SME2K_RETURN_IF_ERROR(to_epilogue(epilogue, op, &e));
    const ParallelFor pf = to_parallel_for(parallel);
    return visit_variant(variant, op, [&](auto v) -> Status {
      using V = typename decltype(v)::type;
      if constexpr (!kConvVariant<V>) {
        return unsupported<V>(op, "conv2d serves F32, F16, BF16 and QS8");
      } else {
        return visit_dtype(output_dtype, op, "output", [&](auto out_tag) -> Status {
          using Out = typename decltype(out_tag)::type;
          using Lhs = typename VariantTraits<V>::Lhs;
          if constexpr (!VariantTraits<V>::template kOutputs<Out>) {
            return unsupported_dtype<V>(op, "output", output_dtype);
          } else {
            return conv2d<V, Out>(p, static_cast<const Lhs*>(input), in, packed, packed_bytes,
                                  static_cast<Out*>(output), out, e, workspace, workspace_bytes,
                                  pf);
          }
        });
      }
    });
  }());
}

// ---- layout transforms ----------------------------------------------------------------------

extern "C" sme2k_status sme2k_transpose(sme2k_matrix src, sme2k_mutable_matrix dst,
                                        const sme2k_parallel_for* parallel) {
  constexpr const char* op = "transpose";
  return finish([&]() -> Status {
    const ParallelFor pf = to_parallel_for(parallel);
    return visit_dtype(src.dtype, op, "source", [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      SME2K_RETURN_IF_ERROR(expect_dtype(dst.dtype, src.dtype, op, "destination"));
      return transpose<T>(view<T>(src), view<T>(dst), pf);
    });
  }());
}

extern "C" sme2k_status sme2k_convert_layout(const void* src, sme2k_tensor_layout from, void* dst,
                                             sme2k_tensor_layout to, sme2k_dtype dtype,
                                             size_t batch, size_t channels, size_t height,
                                             size_t width, const sme2k_parallel_for* parallel) {
  constexpr const char* op = "convert_layout";
  return finish([&]() -> Status {
    TensorLayout from_layout{}, to_layout{};
    SME2K_RETURN_IF_ERROR(to_enum(from, op, "source layout", &from_layout));
    SME2K_RETURN_IF_ERROR(to_enum(to, op, "destination layout", &to_layout));
    const ParallelFor pf = to_parallel_for(parallel);
    return visit_dtype(dtype, op, "the tensor", [&](auto tag) {
      using T = typename decltype(tag)::type;
      return convert_layout<T>(static_cast<const T*>(src), from_layout, static_cast<T*>(dst),
                               to_layout, batch, channels, height, width, pf);
    });
  }());
}

// ---- BatchNorm -------------------------------------------------------------------------------

extern "C" sme2k_batchnorm_params sme2k_batchnorm_params_default(void) {
  const BatchNormParams d;
  sme2k_batchnorm_params p;
  p.weight = d.weight;
  p.bias = d.bias;
  p.running_mean = d.running_mean;
  p.running_var = d.running_var;
  p.eps = d.eps;
  return p;
}

extern "C" sme2k_status sme2k_fold_batchnorm(const sme2k_conv2d_params* params, void* weights,
                                             sme2k_dtype weights_dtype,
                                             sme2k_conv_weight_layout layout,
                                             const float* conv_bias,
                                             const sme2k_batchnorm_params* bn, float* folded_bias) {
  constexpr const char* op = "fold_batchnorm";
  return finish([&]() -> Status {
    Conv2dParams p;
    ConvWeightLayout weight_layout{};
    BatchNormParams b;
    SME2K_RETURN_IF_ERROR(to_conv_params(params, op, &p));
    SME2K_RETURN_IF_ERROR(to_enum(layout, op, "weight layout", &weight_layout));
    SME2K_RETURN_IF_ERROR(to_batchnorm(bn, op, &b));
    return visit_dtype(weights_dtype, op, "weights", [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!std::is_same_v<T, float> && !std::is_same_v<T, f16>) {
        return Status::error(StatusCode::kUnsupported, "%s: weights must be f32 or f16", op);
      } else {
        return fold_batchnorm<T>(p, static_cast<T*>(weights), weight_layout, conv_bias, b,
                                 folded_bias);
      }
    });
  }());
}

extern "C" sme2k_status sme2k_fold_batchnorm_linear(sme2k_mutable_matrix weights_nxk,
                                                    const float* bias,
                                                    const sme2k_batchnorm_params* bn,
                                                    float* folded_bias) {
  constexpr const char* op = "fold_batchnorm_linear";
  return finish([&]() -> Status {
    BatchNormParams b;
    SME2K_RETURN_IF_ERROR(to_batchnorm(bn, op, &b));
    return visit_dtype(weights_nxk.dtype, op, "weights", [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!std::is_same_v<T, float> && !std::is_same_v<T, f16>) {
        return Status::error(StatusCode::kUnsupported, "%s: weights must be f32 or f16", op);
      } else {
        return fold_batchnorm<T>(view<T>(weights_nxk), bias, b, folded_bias);
      }
    });
  }());
}

extern "C" sme2k_status sme2k_batchnorm_affine(size_t channels, const sme2k_batchnorm_params* bn,
                                               float* scale, float* shift) {
  constexpr const char* op = "batchnorm_affine";
  return finish([&]() -> Status {
    BatchNormParams b;
    SME2K_RETURN_IF_ERROR(to_batchnorm(bn, op, &b));
    return batchnorm_affine(channels, b, scale, shift);
  }());
}

extern "C" sme2k_status sme2k_batchnorm_int8_affine(size_t channels,
                                                    const sme2k_batchnorm_params* bn,
                                                    sme2k_quant_params in, sme2k_quant_params out,
                                                    float* scale, float* shift) {
  constexpr const char* op = "batchnorm_int8_affine";
  return finish([&]() -> Status {
    BatchNormParams b;
    SME2K_RETURN_IF_ERROR(to_batchnorm(bn, op, &b));
    return batchnorm_int8_affine(channels, b, {in.scale, in.zero_point},
                                 {out.scale, out.zero_point}, scale, shift);
  }());
}

// ---- LLM row ops ----------------------------------------------------------------------------

namespace sme2k {
namespace {

/// Calls fn(TypeTag<T>{}) for a row op's F32 or F16 rows (other known dtypes: unsupported).
template <class Fn>
Status visit_row_dtype(sme2k_dtype dtype, const char* op, const char* what, Fn&& fn) {
  return visit_dtype(dtype, op, what, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, f16>) {
      return fn(tag);
    } else {
      return Status::error(StatusCode::kUnsupported, "%s: %s must be F32 or F16, not %s", op, what,
                           dtype_name(dtype));
    }
  });
}

Status row_norm(sme2k_matrix x, sme2k_mutable_matrix y, const float* weight, const float* bias,
                float eps, bool rms, const sme2k_parallel_for* parallel) {
  const char* op = rms ? "rms_norm" : "layer_norm";
  const ParallelFor pf = to_parallel_for(parallel);
  return visit_row_dtype(x.dtype, op, "x", [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    SME2K_RETURN_IF_ERROR(expect_dtype(y.dtype, x.dtype, op, "y"));
    return rms ? rms_norm<T>(view<T>(x), view<T>(y), weight, eps, pf)
               : layer_norm<T>(view<T>(x), view<T>(y), weight, bias, eps, pf);
  });
}

}  // namespace
}  // namespace sme2k

extern "C" sme2k_status sme2k_rms_norm(sme2k_matrix x, sme2k_mutable_matrix y, const float* weight,
                                       float eps, const sme2k_parallel_for* parallel) {
  return finish(row_norm(x, y, weight, nullptr, eps, true, parallel));
}

extern "C" sme2k_status sme2k_layer_norm(sme2k_matrix x, sme2k_mutable_matrix y,
                                         const float* weight, const float* bias, float eps,
                                         const sme2k_parallel_for* parallel) {
  return finish(row_norm(x, y, weight, bias, eps, false, parallel));
}

extern "C" sme2k_status sme2k_softmax(sme2k_matrix x, sme2k_mutable_matrix y,
                                      const sme2k_softmax_params* params,
                                      const sme2k_parallel_for* parallel) {
  constexpr const char* op = "softmax";
  return finish([&]() -> Status {
    SoftmaxParams p;
    if (params != nullptr) p = SoftmaxParams{params->scale, params->mask, params->mask_ld};
    const ParallelFor pf = to_parallel_for(parallel);
    return visit_row_dtype(x.dtype, op, "x", [&](auto in) -> Status {
      return visit_row_dtype(y.dtype, op, "y", [&](auto out) -> Status {
        using In = typename decltype(in)::type;
        using Out = typename decltype(out)::type;
        return softmax<In, Out>(view<In>(x), view<Out>(y), p, pf);
      });
    });
  }());
}

extern "C" sme2k_status sme2k_rope(const sme2k_rope_tensor* x, const float* cos, const float* sin,
                                   size_t table_positions, size_t rotary_dim,
                                   sme2k_rope_pairing pairing, const int32_t* positions,
                                   size_t first_position, const sme2k_parallel_for* parallel) {
  constexpr const char* op = "rope";
  return finish([&]() -> Status {
    if (x == nullptr) return Status::error(StatusCode::kNullPointer, "%s: tensor is null", op);
    RopePairing p{};
    SME2K_RETURN_IF_ERROR(to_enum(pairing, op, "pairing", &p));
    const ParallelFor pf = to_parallel_for(parallel);
    return visit_row_dtype(x->dtype, op, "the tensor", [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      const RopeTensor<T> t{
          static_cast<T*>(x->data), x->batch,      x->seq,        x->heads, x->head_dim,
          x->batch_stride,          x->seq_stride, x->head_stride};
      return rope<T>(t, RopeTables{cos, sin, table_positions, rotary_dim}, p, positions,
                     first_position, pf);
    });
  }());
}
