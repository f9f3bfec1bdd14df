// sme2k-run gemm, the float variants (f32, f16, f16acc16, bf16): C = epilogue(A x B + bias) with
// the weights packed before the region, or batch_matmul packing B inside it; checked against
// test/reference/gemm.hpp (every element, or the sample of for_sample). The quantized
// variants are in verb_gemm_quantized.cpp; the options and the variant table are here.
#include <cstdio>
#include <cstring>
#include <limits>
#include <type_traits>

#include "reference/gemm.hpp"
#include "run/data.hpp"
#include "run/gemm.hpp"
#include "run/options.hpp"
#include "run/verbs.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k_run {
namespace {

using GemmSpec = OptionSpec<GemmOptions>;
const GemmSpec kGemmOptions[] = {
    {"--variant", "NAME",
     "numeric variant: f32, f16, f16acc16 (f16 accumulation where the CPU has SME_F16F16), "
     "qs8, qd8, qd8-qc4w, qd8-qb4w, bf16",
     [](const char* v, GemmOptions* o) {
       o->variant = v;
       return true;
     }},
    {"--out", "f32|f16|bf16",
     "output element type (default: the variant's; f16 and bf16 take f32 too)",
     [](const char* v, GemmOptions* o) { return parse_choice(v, kOutNames, &o->out); }},
    {"--in", "f32|f16", "qd8: the activations' element type before quantization (default f32)",
     parse_in<GemmOptions>},
    {"--m", "M", "rows of A and C (required)",
     [](const char* v, GemmOptions* o) { return parse_positive(v, &o->m); }},
    {"--n", "N", "columns of B and C (required)",
     [](const char* v, GemmOptions* o) { return parse_positive(v, &o->n); }},
    {"--k", "K", "columns of A, rows of B (required)",
     [](const char* v, GemmOptions* o) { return parse_positive(v, &o->k); }},
    {"--lda", "X", "leading dimension of A (default K)", parse_lda<GemmOptions>},
    {"--ldb", "X", "leading dimension of B as stored (default N or K)",
     [](const char* v, GemmOptions* o) { return parse_positive(v, &o->ldb); }},
    {"--ldc", "Y", "leading dimension of C (default N)",
     [](const char* v, GemmOptions* o) { return parse_positive(v, &o->ldc); }},
    {"--b-layout", "kxn|nxk", "how B is stored before packing (default kxn)",
     [](const char* v, GemmOptions* o) { return parse_choice(v, kLayoutNames, &o->b_layout); }},
    {"--batch", "B",
     "run batch_matmul over B items (B is packed inside the op, in the region; no bias)",
     [](const char* v, GemmOptions* o) { return parse_positive(v, &o->batch); }},
    {"--bt", nullptr, "B given as N x K (the attention form Q x K^T): --b-layout nxk",
     [](const char*, GemmOptions* o) {
       o->b_layout = sme2k::RhsLayout::kNxK;
       return true;
     }},
    {"--no-bias", nullptr, "no bias (default: a random bias)",
     [](const char*, GemmOptions* o) {
       o->bias = false;
       return true;
     }},
    {"--act", "NAME", "activation: none relu relu6 hardswish gelu silu (default none)",
     [](const char* v, GemmOptions* o) {
       return parse_choice(v, kActivationNames, &o->activation);
     }},
    {"--affine", nullptr, "a per-channel affine (scale, shift) after the activation",
     [](const char*, GemmOptions* o) {
       o->affine = true;
       return true;
     }},
    {"--transposed", nullptr, "store C transposed (N x M)",
     [](const char*, GemmOptions* o) {
       o->transposed = true;
       return true;
     }},
    {"--plan", nullptr, "print the op's plan (kernel, path, tasks, workspace) after the run",
     [](const char*, GemmOptions* o) {
       o->plan = true;
       return true;
     }},
    {"--packed-lhs", nullptr,
     "qd8: A quantized and packed (gemm_pack_lhs) before the region, not by the op",
     [](const char*, GemmOptions* o) {
       o->packed_lhs = true;
       return true;
     }},
    {"--block", "B", "qd8-qb4w: k per weight scale, a multiple of 32 dividing K (default 32)",
     [](const char* v, GemmOptions* o) { return parse_positive(v, &o->block); }},
    {"--clamp", "LO,HI", "clamp the output to [LO, HI]",
     [](const char* v, GemmOptions* o) { return parse_pair(v, &o->clamp.min, &o->clamp.max); }},
    {"--seed", "S", "seed of the random data (default 1)", parse_seed<GemmOptions>},
    {"--path", "auto|portable|sme2", "force a path for packing and the op (default auto)",
     parse_path<GemmOptions>},
    {"--repeat", "R", "calls of the op inside the region of interest (default 1)",
     parse_repeat<GemmOptions>},
    {"--verify", "auto|full|sample", "full: every element; auto: full up to M*N*K = 2^24",
     [](const char* v, GemmOptions* o) { return parse_choice(v, kVerifyNames, &o->verify); }},
};

/// The operands of one GEMM, made and packed before the region of interest: A and B as the
/// variant stores them, plus f32 copies of the same values for the reference.
template <class V, class Out>
struct GemmData {
  using Lhs = typename sme2k::VariantTraits<V>::Lhs;
  using Rhs = typename sme2k::VariantTraits<V>::Rhs;
  Buffer<float> a_ref, b_ref, bias, scale, shift;
  Buffer<Lhs> a;
  Buffer<Rhs> b;
  Buffer<Out> c;
  Buffer<unsigned char> packed, workspace;
  size_t packed_bytes = 0, workspace_bytes = 0;
  size_t a_stride = 0, b_stride = 0, c_stride = 0;  // between batch items
  size_t row_step = 0, col_step = 0;                // C(i, j) at c[i * row_step + j * col_step]
  sme2k::reference::GemmF32Problem problem;         // of batch item 0
};

/// One batch item's problem and result, as the verify functions read them.
template <class Out>
struct Item {
  sme2k::reference::GemmF32Problem problem;
  const Out* c;
  size_t row_step, col_step;  // C(i, j) at c[i * row_step + j * col_step]
  bool f16_accumulation;      // F16Acc16: its error bound grows with K

  float at(size_t i, size_t j) const { return sme2k::to_f32(c[i * row_step + j * col_step]); }
};

/// `values` rounded to T and back (NaN padding stays NaN), and the T copy.
template <class V, class Out>
sme2k::Status prepare_gemm(const GemmOptions& o, GemmData<V, Out>* d) {
  const bool kxn = o.b_layout == sme2k::RhsLayout::kKxN;
  const size_t b_rows = kxn ? o.k : o.n, b_cols = kxn ? o.n : o.k;
  const size_t items = o.batch > 0 ? o.batch : 1;
  // Items back to back, as one tall matrix of `items` x rows (row padding NaN throughout).
  d->a_stride = o.m * o.lda;
  d->b_stride = b_rows * o.ldb;
  const size_t c_rows = o.transposed ? o.n : o.m, c_cols = o.transposed ? o.m : o.n;
  d->c_stride = c_rows * o.ldc;
  d->row_step = o.transposed ? 1 : o.ldc;
  d->col_step = o.transposed ? o.ldc : 1;
  d->a_ref = random_matrix(items * o.m, o.k, o.lda, o.seed * 3 + 0);
  d->b_ref = random_matrix(items * b_rows, b_cols, o.ldb, o.seed * 3 + 1);
  d->a =
      stored_as<typename GemmData<V, Out>::Lhs>(&d->a_ref, matrix_extent(items * o.m, o.k, o.lda));
  d->b = stored_as<typename GemmData<V, Out>::Rhs>(&d->b_ref,
                                                   matrix_extent(items * b_rows, b_cols, o.ldb));
  if (o.bias && o.batch == 0) d->bias = random_matrix(1, o.n, o.n, o.seed * 3 + 2);
  // NaN everywhere: an element the op forgets to write, or padding it writes, is caught.
  const size_t c_extent = matrix_extent(items * c_rows, c_cols, o.ldc);
  if (o.affine) {
    d->scale = random_matrix(1, o.n, o.n, o.seed * 3 + 3);
    d->shift = random_matrix(1, o.n, o.n, o.seed * 3 + 4);
    for (size_t j = 0; j < o.n; ++j) d->scale[j] = 1.0f + 0.5f * d->scale[j];
  }
  d->c = allocate<Out>(c_extent);
  std::fill(d->c.get(), d->c.get() + c_extent,
            sme2k::convert_to<Out>(std::numeric_limits<float>::quiet_NaN()));

  if (o.batch > 0) {
    SME2K_RETURN_IF_ERROR(
        sme2k::batch_matmul_workspace_size<V>(o.batch, o.m, o.n, o.k, &d->workspace_bytes));
  } else {
    SME2K_RETURN_IF_ERROR(sme2k::gemm_packed_rhs_size<V>(o.n, o.k, &d->packed_bytes));
    d->packed = allocate<unsigned char>(d->packed_bytes);
    SME2K_RETURN_IF_ERROR(sme2k::gemm_pack_rhs<V>({d->b.get(), b_rows, b_cols, o.ldb}, o.b_layout,
                                                  d->bias.get(), d->packed.get(), d->packed_bytes));
    SME2K_RETURN_IF_ERROR(sme2k::gemm_workspace_size<V>(o.m, o.n, o.k, &d->workspace_bytes));
  }
  d->workspace = allocate<unsigned char>(d->workspace_bytes);

  auto& p = d->problem;
  p.m = o.m, p.n = o.n, p.k = o.k;
  p.a = d->a_ref.get(), p.lda = o.lda;
  p.b = d->b_ref.get(), p.ldb = o.ldb, p.b_layout = o.b_layout;
  p.bias = d->bias.get();
  p.clamp = o.clamp.active();
  p.clamp_min = o.clamp.min, p.clamp_max = o.clamp.max;
  p.activation = o.activation;
  p.scale = d->scale.get(), p.shift = d->shift.get();
  return sme2k::Status();
}

template <class V, class Out>
sme2k::GemmEpilogue epilogue_of(const GemmOptions& o, const GemmData<V, Out>& d) {
  sme2k::GemmEpilogue e;
  e.activation = o.activation;
  e.affine = {d.scale.get(), d.shift.get()};
  e.clamp = o.clamp;
  e.order = o.transposed ? sme2k::OutputOrder::kTransposed : sme2k::OutputOrder::kRowMajor;
  return e;
}

/// Batch item i of the data, for the reference.
template <class V, class Out>
Item<Out> item(const GemmData<V, Out>& d, size_t i) {
  Item<Out> it{d.problem, d.c.get() + i * d.c_stride, d.row_step, d.col_step,
               std::is_same_v<V, sme2k::F16Acc16>};
  it.problem.a += i * d.a_stride;
  it.problem.b += i * d.b_stride;
  return it;
}

/// The op, between the markers: gemm() with packed weights, or batch_matmul() packing B.
template <class V, class Out>
sme2k::Status run_op(const GemmOptions& o, GemmData<V, Out>* d) {
  using Lhs = typename GemmData<V, Out>::Lhs;
  using Rhs = typename GemmData<V, Out>::Rhs;
  const sme2k::MatrixView<const Lhs> a{d->a.get(), o.m, o.k, o.lda};
  const sme2k::MatrixView<Out> c = o.transposed
                                       ? sme2k::MatrixView<Out>{d->c.get(), o.n, o.m, o.ldc}
                                       : sme2k::MatrixView<Out>{d->c.get(), o.m, o.n, o.ldc};
  const sme2k::GemmEpilogue epilogue = epilogue_of(o, *d);
  if (o.batch == 0) {
    return sme2k::gemm<V>(a, d->packed.get(), d->packed_bytes, c, epilogue, d->workspace.get(),
                          d->workspace_bytes);
  }
  const bool kxn = o.b_layout == sme2k::RhsLayout::kKxN;
  const sme2k::MatrixView<const Rhs> b{d->b.get(), kxn ? o.k : o.n, kxn ? o.n : o.k, o.ldb};
  return sme2k::batch_matmul<V>(o.batch, a, d->a_stride, b, o.b_layout, d->b_stride, c, d->c_stride,
                                epilogue, d->workspace.get(), d->workspace_bytes);
}

/// The error bound at an element whose exact value is `want`: f32 accumulation through the
/// epilogue, then the rounding to the output type.
template <class Out>
double output_bound(const Item<Out>& d, size_t j, double pre, double magnitude, double want) {
  const auto& p = d.problem;
  const double acc = d.f16_accumulation ? sme2k::reference::f16_accumulation_bound(p.k, magnitude)
                                        : sme2k::reference::f32_gemm_error_bound(p.k, magnitude);
  const double bound = sme2k::reference::f32_epilogue_bound(p, j, pre, magnitude, want, acc);
  if constexpr (std::is_same_v<Out, sme2k::bf16>) {
    return sme2k::reference::bf16_rounding_bound(want, bound);
  }
  return std::is_same_v<Out, float> ? bound : sme2k::reference::f16_rounding_bound(want, bound);
}

template <class Out>
void verify_full(const Item<Out>& d, Verifier* v) {
  const auto& p = d.problem;
  const sme2k::reference::GemmF32Result r = sme2k::reference::gemm_f32(p);
  for (size_t i = 0; i < p.m; ++i) {
    for (size_t j = 0; j < p.n; ++j) {
      const size_t e = i * p.n + j;
      v->expect_near(i, j, d.at(i, j), r.value[e],
                     output_bound(d, j, r.pre[e], r.magnitude[e], r.value[e]));
    }
  }
}

template <class Out>
void verify_at(const Item<Out>& d, size_t i, size_t j, Verifier* v) {
  double magnitude = 0, pre = 0;
  const double want = sme2k::reference::gemm_f32_at(d.problem, i, j, &magnitude, &pre);
  v->expect_near(i, j, d.at(i, j), want, output_bound(d, j, pre, magnitude, want));
}

/// Calls check(i, j) on the edges of an m x n result (first and last row, first and last
/// column: where tile tails are; along each edge every element within 64 of its ends, where
/// the tails of 2VL..4VL panels fall at any SVL up to 2048 bits, and every 16th between) and
/// 512 distinct interior elements on a walk whose stride is coprime with their count. Why
/// not more: the cycle model traces every block QEMU runs, and a reference element costs K
/// multiply-adds of traced scalar code, the verification outweighed the op itself.
template <class Out>
void verify_sample(const Item<Out>& d, Verifier* v) {
  for_sample(d.problem.m, d.problem.n, [&](size_t i, size_t j) { verify_at(d, i, j, v); });
}

/// The gaps between C's stored rows (rows x cols as stored, leading dimension ld): NaN still.
template <class Out>
void verify_padding(const Item<Out>& d, size_t rows, size_t cols, size_t ld, Verifier* v) {
  for (size_t r = 0; r + 1 < rows; ++r) {
    for (size_t col = cols; col < ld; ++col) {
      v->expect_untouched(r, col, sme2k::to_f32(d.c[r * ld + col]));
    }
  }
}

template <class V, class Out>
int run_gemm(const GemmOptions& options) {
  const GemmOptions o = with_dense_strides(options);
  // One forced path for packing and the op alike (packed data records the path).
  const std::optional<sme2k::Path> forced = forced_path(o.path);
  if (forced && !sme2k::path_available(*forced, sme2k::cpu_features())) {
    std::fprintf(stderr, "sme2k-run: path %s is not available (CPU features: '%s')\n",
                 sme2k::path_name(*forced),
                 sme2k::cpu_features_string(sme2k::cpu_features()).c_str());
    return kExitFailure;
  }
  std::optional<sme2k::testing::ScopedForcePath> force;
  if (forced) force.emplace(*forced);

  GemmData<V, Out> d;
  sme2k::Status status = prepare_gemm(o, &d);

  sme2k_roi_begin();
  for (size_t r = 0; r < o.repeat && status.ok(); ++r) status = run_op(o, &d);
  sme2k_roi_end();

  const sme2k::Path path = sme2k::last_used_path();
  const size_t svl_bits = sme2k::streaming_vector_bytes() * 8;
  char clamp[64] = "none";
  if (o.clamp.active()) {
    std::snprintf(clamp, sizeof clamp, "%g,%g", static_cast<double>(o.clamp.min),
                  static_cast<double>(o.clamp.max));
  }
  std::printf(
      "gemm %s out=%s batch=%zu M=%zu N=%zu K=%zu lda=%zu ldb=%zu ldc=%zu b=%s bias=%s "
      "clamp=%s repeat=%zu path=%s svl=%zu cpu='%s' status=%s\n",
      o.variant, out_name<Out>(), o.batch, o.m, o.n, o.k, o.lda, o.ldb, o.ldc,
      sme2k::rhs_layout_name(o.b_layout), d.bias ? "yes" : "no", clamp, o.repeat,
      status.ok() ? sme2k::path_name(path) : "-", svl_bits,
      sme2k::cpu_features_string(sme2k::cpu_features()).c_str(),
      status.ok() ? "ok" : sme2k::status_code_name(status.code()));
  if (!status.ok()) {
    std::fprintf(stderr, "sme2k-run: %s\n", status.message());
    return kExitFailure;
  }
  if (forced && path != *forced) {
    std::fprintf(stderr, "sme2k-run: forced path %s, took %s\n", sme2k::path_name(*forced),
                 sme2k::path_name(path));
    return kExitFailure;
  }

  const size_t items = o.batch > 0 ? o.batch : 1;
  const double macs = static_cast<double>(items) * static_cast<double>(o.m) *
                      static_cast<double>(o.n) * static_cast<double>(o.k);
  const bool full =
      o.verify == VerifyPolicy::kFull || (o.verify == VerifyPolicy::kAuto && macs <= 0x1p24);
  Verifier v;
  for (size_t i = 0; i < items; ++i) {
    const Item<Out> it = item(d, i);
    if (full) {
      verify_full(it, &v);
    } else {
      verify_sample(it, &v);
    }
    verify_padding(it, o.transposed ? o.n : o.m, o.transposed ? o.m : o.n, o.ldc, &v);
  }
  std::printf("verified %zu of %zu elements (%s): %s\n", v.checked(), items * o.m * o.n,
              full ? "full" : "sample", v.failed() == 0 ? "ok" : "MISMATCH");
  if (v.failed() != 0) {
    std::fprintf(stderr, "sme2k-run: %zu wrong element(s)\n", v.failed());
    return kExitFailure;
  }
  return meets_expectations(o.path, path, svl_bits) ? kExitOk : kExitFailure;
}

/// Runs variant V with the output type --out asks for (the variant's own by default).
template <class V>
int run_gemm_variant(const GemmOptions& o) {
  using Traits = sme2k::VariantTraits<V>;
  switch (o.out) {
    case OutChoice::kDefault: return run_gemm<V, typename Traits::Out>(o);
    case OutChoice::kF32:
      if constexpr (Traits::template kOutputs<float>) return run_gemm<V, float>(o);
      break;
    case OutChoice::kF16:
      if constexpr (Traits::template kOutputs<sme2k::f16>) return run_gemm<V, sme2k::f16>(o);
      break;
    case OutChoice::kBF16:
      if constexpr (Traits::template kOutputs<sme2k::bf16>) return run_gemm<V, sme2k::bf16>(o);
      break;
  }
  std::fprintf(stderr, "sme2k-run gemm: variant %s has no such output type\n", o.variant);
  return kExitUsage;
}

/// QS8 x QC8W: int8 data from the hash, fixed quantization parameters that keep the outputs
/// away from saturation, the weights packed with them before the region; checked bit-exact
/// --plan: what the op said it would run for this call, on the path the run was forced to.
template <class V>
void print_gemm_plan(const GemmOptions& o) {
  const std::optional<sme2k::Path> forced = forced_path(o.path);
  std::optional<sme2k::testing::ScopedForcePath> force;
  if (forced) force.emplace(*forced);
  const sme2k::OutputOrder order =
      o.transposed ? sme2k::OutputOrder::kTransposed : sme2k::OutputOrder::kRowMajor;
  sme2k::OpPlan plan;
  sme2k::Status s;
  if constexpr (!sme2k::detail::kQuantizedWeights<V>) {
    if (o.batch > 0) {
      s = sme2k::batch_matmul_plan<V>(o.batch, o.m, o.n, o.k, &plan, order);
      if (s.ok()) print_plan("batch_matmul", plan);
      return;
    }
  }
  s = sme2k::gemm_plan<V>(o.m, o.n, o.k, &plan, order);
  if (s.ok()) print_plan("gemm", plan);
}

/// Runs the variant named --variant (sme2k's variant table: types/variant.hpp), or returns
/// false when no variant has that name.
bool run_named_variant(const GemmOptions& o, int* rc) {
  sme2k::VariantId id{};
  if (!sme2k::variant_id_from_name(o.variant, &id)) return false;
  return sme2k::visit_variant(id, [&](auto tag) {
    using V = typename decltype(tag)::type;
    if constexpr (sme2k::detail::kQuantizedWeights<V>) {
      *rc = run_gemm_quantized<V>(o);
    } else {
      *rc = run_gemm_variant<V>(o);
    }
    if (o.plan) print_gemm_plan<V>(o);  // outside the region, after it
  });
}

void print_variant_names(std::FILE* out) {
  sme2k::for_each_variant([&](auto tag) {
    std::fprintf(out, " %s", sme2k::VariantTraits<typename decltype(tag)::type>::kName.data());
  });
}

}  // namespace

void gemm_usage(std::FILE* out) {
  std::fprintf(out, "usage: sme2k-run gemm --variant f32 --m M --n N --k K [options]\n\n");
  std::fprintf(out, "C = clamp(A x B + bias): A is M x K, B is K x N, C is M x N, row-major.\n");
  std::fprintf(out, "Variants:");
  print_variant_names(out);
  std::fprintf(out, "\nOptions:\n");
  print_options(out, kGemmOptions);
}

int gemm_verb(int argc, char** argv) {
  GemmOptions o;
  if (!parse_options(argc, argv, 2, kGemmOptions, &o)) {
    gemm_usage(stderr);
    return kExitUsage;
  }
  if (o.variant == nullptr || o.m == 0 || o.n == 0 || o.k == 0) {
    std::fprintf(stderr, "sme2k-run gemm: --variant, --m, --n and --k are required\n");
    gemm_usage(stderr);
    return kExitUsage;
  }
  if (o.packed_lhs && std::strncmp(o.variant, "qd8", 3) != 0) {
    std::fprintf(stderr, "sme2k-run gemm: --packed-lhs is for the qd8 variants\n");
    return kExitUsage;
  }
  int rc = kExitUsage;
  if (run_named_variant(o, &rc)) return rc;
  std::fprintf(stderr, "sme2k-run gemm: unknown variant '%s'; known:", o.variant);
  print_variant_names(stderr);
  std::fprintf(stderr, "\n");
  return kExitUsage;
}

}  // namespace sme2k_run
