// sme2k-run: runs one sme2k op once, for the cycle model (DESIGN.md sections 5 and 7).
//
//   sme2k-run gemm --variant f32 --m 256 --n 2048 --k 2048 [options]
//
// What a runtime does once per model (making the data, packing the weights, sizing and
// allocating the workspace) happens before sme2k_roi_begin(); what it does per inference
// (the op call) happens between the markers, which is all `insn-mix --roi` counts. The result
// is then checked against the independent reference (test/reference/) and a mismatch exits 1.
//
// insn-mix still logs every block executed outside the region, so that part must be cheap in
// executed instructions: data come from a vectorizable integer hash, and large shapes are
// checked on a deterministic sample instead of by the full f64 reference.
//
// Exit status: 0 ok, 1 an sme2k error or a wrong result, 2 a bad command line.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "block_chain.hpp"
#include "reference/dynamic_quant.hpp"
#include "reference/gemm.hpp"
#include "reference/quantized_gemm.hpp"
#include "run_attention.hpp"
#include "run_row_ops.hpp"
#include "sme2k/sme2k.hpp"

// The region of interest. Not inlined, so insn-mix can find them by symbol; the barrier keeps
// the compiler from moving memory accesses across them.
extern "C" __attribute__((noinline)) void sme2k_roi_begin() { asm volatile("" ::: "memory"); }
extern "C" __attribute__((noinline)) void sme2k_roi_end() { asm volatile("" ::: "memory"); }

// Verbs in files of their own (bench/run_*.cpp).
int softmax_verb(int argc, char** argv);
void softmax_usage(std::FILE* out);

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// ------------------------------------------------------------------------------ options

/// One command-line option: `--name VALUE` (or `--name=VALUE`), or a flag when `value` is null.
template <class Options>
struct OptionSpec {
  const char* name;
  const char* value;  // what the value is, for the usage text; null: a flag
  const char* help;
  bool (*parse)(const char* value, Options* options);  // false: the value is malformed
};

bool parse_size(const char* s, size_t* out) {
  if (*s < '0' || *s > '9') return false;  // strtoull would accept "-1" and " 1"
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v > std::numeric_limits<size_t>::max()) return false;
  *out = static_cast<size_t>(v);
  return true;
}

bool parse_positive(const char* s, size_t* out) { return parse_size(s, out) && *out > 0; }

bool parse_float(const char* s, char** end, float* out) {
  errno = 0;
  *out = std::strtof(s, end);
  return errno == 0 && *end != s;
}

/// "LO,HI"
bool parse_pair(const char* s, float* lo, float* hi) {
  char* end = nullptr;
  if (!parse_float(s, &end, lo) || *end != ',') return false;
  const char* second = end + 1;
  return parse_float(second, &end, hi) && *end == '\0';
}

/// Picks `*out` from a table of names.
template <class T, size_t N>
bool parse_choice(const char* s, const std::pair<const char*, T> (&choices)[N], T* out) {
  for (const auto& c : choices) {
    if (std::strcmp(s, c.first) == 0) {
      *out = c.second;
      return true;
    }
  }
  return false;
}

template <class Options, size_t N>
void print_options(std::FILE* out, const OptionSpec<Options> (&specs)[N]) {
  for (const auto& spec : specs) {
    std::string left = spec.name;
    if (spec.value != nullptr) left += std::string(" ") + spec.value;
    std::fprintf(out, "  %-26s %s\n", left.c_str(), spec.help);
  }
}

/// Fills `options` from argv[first, argc); prints the reason and returns false on an error.
template <class Options, size_t N>
bool parse_options(int argc, char** argv, int first, const OptionSpec<Options> (&specs)[N],
                   Options* options) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    const char* value = nullptr;
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      value = argv[i] + eq + 1;
      arg.resize(eq);
    }
    const OptionSpec<Options>* spec = nullptr;
    for (const auto& s : specs) {
      if (arg == s.name) spec = &s;
    }
    if (spec == nullptr) {
      std::fprintf(stderr, "sme2k-run: unknown option '%s'\n", arg.c_str());
      return false;
    }
    if (spec->value == nullptr && value != nullptr) {
      std::fprintf(stderr, "sme2k-run: %s takes no value\n", spec->name);
      return false;
    }
    if (spec->value != nullptr && value == nullptr) {
      if (i + 1 == argc) {
        std::fprintf(stderr, "sme2k-run: %s needs a value (%s)\n", spec->name, spec->value);
        return false;
      }
      value = argv[++i];
    }
    if (!spec->parse(value, options)) {
      std::fprintf(stderr, "sme2k-run: bad value '%s' for %s (%s)\n", value, spec->name,
                   spec->value);
      return false;
    }
  }
  return true;
}

// --------------------------------------------------------------------------------- data

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
template <class T>
using Buffer = std::unique_ptr<T[], FreeDeleter>;

/// `count` elements, 64-byte aligned, uninitialized (zeroing would cost instructions).
template <class T>
Buffer<T> allocate(size_t count) {
  const size_t bytes = std::max<size_t>(count * sizeof(T), 1);
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr) {
    std::fprintf(stderr, "sme2k-run: cannot allocate %zu bytes\n", bytes);
    std::exit(kExitFailure);
  }
  return Buffer<T>(static_cast<T*>(p));
}

/// Elements a rows x cols matrix with leading dimension ld spans; exits on size_t overflow.
size_t matrix_extent(size_t rows, size_t cols, size_t ld) {
  size_t extent = 0;
  if (__builtin_mul_overflow(rows - 1, ld, &extent) ||
      __builtin_add_overflow(extent, cols, &extent) || extent > SIZE_MAX / 16) {
    std::fprintf(stderr, "sme2k-run: a %zu x %zu matrix with ld %zu is too large\n", rows, cols,
                 ld);
    std::exit(kExitFailure);
  }
  return extent;
}

/// Values in [-1, 1) (24 significant bits) from an integer hash of (seed, index): no loop-carried
/// state, so the loop vectorizes and costs a few instructions per element.
void fill_random(float* dst, size_t count, uint32_t seed, size_t first_index) {
  const uint32_t salt = seed * 0x9e3779b9u + 0x7f4a7c15u;
  const auto base = static_cast<uint32_t>(first_index);
  for (size_t i = 0; i < count; ++i) {
    uint32_t x = (base + static_cast<uint32_t>(i)) ^ salt;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    dst[i] = static_cast<float>(static_cast<int32_t>(x) >> 8) * 0x1p-23f;
  }
}

/// A rows x cols matrix with leading dimension ld: random values, NaN in the row padding so a
/// kernel that reads past `cols` shows up as a wrong result.
Buffer<float> random_matrix(size_t rows, size_t cols, size_t ld, uint32_t seed) {
  Buffer<float> m = allocate<float>(matrix_extent(rows, cols, ld));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (size_t r = 0; r < rows; ++r) {
    fill_random(m.get() + r * ld, cols, seed, r * cols);
    if (r + 1 < rows && ld > cols) std::fill(m.get() + r * ld + cols, m.get() + (r + 1) * ld, nan);
  }
  return m;
}

// ------------------------------------------------------------------------------- checking

/// Collects comparisons of results with the reference; prints the first few that are off.
class Verifier {
 public:
  void expect_near(size_t i, size_t j, double got, double want, double bound) {
    ++checked_;
    if (std::fabs(got - want) <= bound) return;  // false for NaN too
    if (++failed_ <= kShown) {
      std::fprintf(stderr, "mismatch at (i=%zu, j=%zu): got %.9g, want %.9g, bound %.3g\n", i, j,
                   got, want, bound);
    }
  }
  void expect_untouched(size_t i, size_t j, float value) {
    if (std::isnan(value)) return;
    if (++failed_ <= kShown) {
      std::fprintf(stderr, "C padding at (i=%zu, j=%zu) overwritten with %.9g\n", i, j,
                   static_cast<double>(value));
    }
  }
  size_t checked() const { return checked_; }
  size_t failed() const { return failed_; }

 private:
  static constexpr size_t kShown = 10;
  size_t checked_ = 0;
  size_t failed_ = 0;
};

// ---------------------------------------------------------------------------------- gemm

enum class PathChoice { kAuto, kPortable, kSme2 };
enum class VerifyPolicy { kAuto, kFull, kSample };

enum class OutChoice { kDefault, kF32, kF16 };

struct GemmOptions {
  const char* variant = nullptr;
  OutChoice out = OutChoice::kDefault;
  OutChoice in = OutChoice::kDefault;  // QD8's activations: f32 (default) or f16
  size_t batch = 0;  // 0: a plain GEMM with packed weights; >= 1: batch_matmul, B packed inside
  sme2k::Activation activation = sme2k::Activation::kNone;
  bool affine = false;      // a random per-channel affine after the activation
  bool transposed = false;  // C stored N x M
  bool packed_lhs = false;  // qd8: A quantized by gemm_pack_lhs before the region
  size_t block = 32;        // qd8-qb4w: k per weight scale
  size_t m = 0, n = 0, k = 0;
  size_t lda = 0, ldb = 0, ldc = 0;  // 0: dense
  sme2k::RhsLayout b_layout = sme2k::RhsLayout::kKxN;
  bool bias = true;
  sme2k::Clamp clamp;  // inactive unless --clamp
  uint32_t seed = 1;
  PathChoice path = PathChoice::kAuto;
  size_t repeat = 1;
  VerifyPolicy verify = VerifyPolicy::kAuto;
};

constexpr std::pair<const char*, sme2k::RhsLayout> kLayoutNames[] = {
    {"kxn", sme2k::RhsLayout::kKxN}, {"nxk", sme2k::RhsLayout::kNxK}};
constexpr std::pair<const char*, PathChoice> kPathNames[] = {
    {"auto", PathChoice::kAuto}, {"portable", PathChoice::kPortable}, {"sme2", PathChoice::kSme2}};
constexpr std::pair<const char*, OutChoice> kOutNames[] = {{"f32", OutChoice::kF32},
                                                           {"f16", OutChoice::kF16}};
constexpr std::pair<const char*, sme2k::Activation> kActivationNames[] = {
    {"none", sme2k::Activation::kNone},   {"relu", sme2k::Activation::kRelu},
    {"relu6", sme2k::Activation::kRelu6}, {"hardswish", sme2k::Activation::kHardSwish},
    {"gelu", sme2k::Activation::kGelu},   {"silu", sme2k::Activation::kSilu}};
constexpr std::pair<const char*, VerifyPolicy> kVerifyNames[] = {{"auto", VerifyPolicy::kAuto},
                                                                 {"full", VerifyPolicy::kFull},
                                                                 {"sample", VerifyPolicy::kSample}};

// Parsers of the options several verbs share, for any options struct with the field.
template <class Options>
bool parse_seed(const char* v, Options* o) {
  size_t s = 0;
  if (!parse_size(v, &s) || s > UINT32_MAX) return false;
  o->seed = static_cast<uint32_t>(s);
  return true;
}
template <class Options>
bool parse_path(const char* v, Options* o) {
  return parse_choice(v, kPathNames, &o->path);
}
template <class Options>
bool parse_in(const char* v, Options* o) {
  return parse_choice(v, kOutNames, &o->in);
}
template <class Options>
bool parse_lda(const char* v, Options* o) {
  return parse_positive(v, &o->lda);
}
template <class Options>
bool parse_repeat(const char* v, Options* o) {
  return parse_positive(v, &o->repeat);
}

using GemmSpec = OptionSpec<GemmOptions>;
const GemmSpec kGemmOptions[] = {
    {"--variant", "NAME",
     "numeric variant: f32, f16, f16acc16 (f16 accumulation where the CPU has SME_F16F16), "
     "qs8, qd8, qd8-qc4w, qd8-qb4w",
     [](const char* v, GemmOptions* o) {
       o->variant = v;
       return true;
     }},
    {"--out", "f32|f16", "output element type (default: the variant's; f16 takes either)",
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
template <class T>
Buffer<T> stored_as(Buffer<float>* values, size_t count) {
  if constexpr (std::is_same_v<T, float>) {
    Buffer<float> copy = allocate<float>(count);
    std::copy(values->get(), values->get() + count, copy.get());
    return copy;
  } else {
    Buffer<T> stored = allocate<T>(count);
    for (size_t i = 0; i < count; ++i) {
      stored[i] = sme2k::convert_to<T>((*values)[i]);
      (*values)[i] = sme2k::to_f32(stored[i]);
    }
    return stored;
  }
}

/// The options with every default leading dimension filled in.
GemmOptions with_dense_strides(GemmOptions o) {
  if (o.lda == 0) o.lda = o.k;
  if (o.ldb == 0) o.ldb = o.b_layout == sme2k::RhsLayout::kKxN ? o.n : o.k;
  if (o.ldc == 0) o.ldc = o.transposed ? o.m : o.n;
  return o;
}

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
template <class Check>
void for_sample(size_t m, size_t n, Check&& check) {
  const auto on_edge = [](size_t x, size_t len) { return x < 64 || x + 64 >= len || x % 16 == 0; };
  for (size_t j = 0; j < n; ++j) {
    if (!on_edge(j, n)) continue;
    check(0, j);
    if (m > 1) check(m - 1, j);
  }
  for (size_t i = 1; i + 1 < m; ++i) {
    if (!on_edge(i, m)) continue;
    check(i, 0);
    if (n > 1) check(i, n - 1);
  }
  if (m < 3 || n < 3) return;
  const size_t rows = m - 2, cols = n - 2, interior = rows * cols;
  size_t stride = static_cast<size_t>(static_cast<double>(interior) * 0.6180339887) | 1;
  while (std::gcd(stride, interior) != 1) ++stride;
  const size_t samples = std::min<size_t>(512, interior);
  for (size_t t = 0, x = interior / 3; t < samples; ++t, x = (x + stride) % interior) {
    check(1 + x / cols, 1 + x % cols);
  }
}

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

/// The path and SVL the test matrix says this run must see (cmake/Sme2kTesting.cmake sets
/// SME2K_EXPECT_PATH / SME2K_EXPECT_SVL), so a smoke test also catches a wrong dispatch.
bool meets_expectations(PathChoice choice, sme2k::Path path, size_t svl_bits) {
  bool ok = true;
  const char* want_path = std::getenv("SME2K_EXPECT_PATH");
  if (choice == PathChoice::kAuto && want_path != nullptr &&
      std::strcmp(want_path, sme2k::path_name(path)) != 0) {
    std::fprintf(stderr, "sme2k-run: took path %s, SME2K_EXPECT_PATH is %s\n",
                 sme2k::path_name(path), want_path);
    ok = false;
  }
  const char* want_svl = std::getenv("SME2K_EXPECT_SVL");
  if (want_svl != nullptr && std::strtoull(want_svl, nullptr, 10) != svl_bits) {
    std::fprintf(stderr, "sme2k-run: SVL is %zu bits, SME2K_EXPECT_SVL is %s\n", svl_bits,
                 want_svl);
    ok = false;
  }
  return ok;
}

std::optional<sme2k::Path> forced_path(PathChoice choice) {
  switch (choice) {
    case PathChoice::kAuto: return std::nullopt;
    case PathChoice::kPortable: return sme2k::Path::kPortable;
    case PathChoice::kSme2: return sme2k::Path::kSme2;
  }
  return std::nullopt;
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
      o.variant, std::is_same_v<Out, float> ? "f32" : "f16", o.batch, o.m, o.n, o.k, o.lda, o.ldb,
      o.ldc, sme2k::rhs_layout_name(o.b_layout), d.bias ? "yes" : "no", clamp, o.repeat,
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
  }
  std::fprintf(stderr, "sme2k-run gemm: variant %s has no such output type\n", o.variant);
  return kExitUsage;
}

/// QS8 x QC8W: int8 data from the hash, fixed quantization parameters that keep the outputs
/// away from saturation, the weights packed with them before the region; checked bit-exact
/// against test/reference/quantized_gemm.hpp (every element, or the sample of verify_sample).
int run_gemm_qs8(const GemmOptions& options) {
  const GemmOptions o = with_dense_strides(options);
  const std::optional<sme2k::Path> forced = forced_path(o.path);
  if (forced && !sme2k::path_available(*forced, sme2k::cpu_features())) {
    std::fprintf(stderr, "sme2k-run: path %s is not available\n", sme2k::path_name(*forced));
    return kExitFailure;
  }
  if (o.batch != 0 || o.transposed || o.affine || o.activation != sme2k::Activation::kNone ||
      o.clamp.active()) {
    std::fprintf(stderr,
                 "sme2k-run: qs8 takes no --batch, --transposed, --affine, --act, --clamp\n");
    return kExitUsage;
  }
  std::optional<sme2k::testing::ScopedForcePath> force;
  if (forced) force.emplace(*forced);
  const bool kxn = o.b_layout == sme2k::RhsLayout::kKxN;
  const size_t b_rows = kxn ? o.k : o.n, b_cols = kxn ? o.n : o.k;
  const auto to_int8 = [](Buffer<float> values, size_t count) {
    Buffer<int8_t> q = allocate<int8_t>(count);
    for (size_t i = 0; i < count; ++i) {
      q[i] = std::isnan(values[i]) ? int8_t{0} : static_cast<int8_t>(values[i] * 127.0f);
    }
    return q;
  };
  const size_t a_count = matrix_extent(o.m, o.k, o.lda),
               b_count = matrix_extent(b_rows, b_cols, o.ldb);
  Buffer<int8_t> a = to_int8(random_matrix(o.m, o.k, o.lda, o.seed * 3), a_count);
  Buffer<int8_t> b = to_int8(random_matrix(b_rows, b_cols, o.ldb, o.seed * 3 + 1), b_count);
  Buffer<int32_t> bias = allocate<int32_t>(o.n);
  Buffer<float> w_scales = allocate<float>(o.n);
  for (size_t j = 0; j < o.n; ++j) {
    bias[j] = static_cast<int32_t>(j % 1000) * 7 - 3500;
    w_scales[j] = 0.004f * (1.0f + static_cast<float>(j % 17) / 16.0f);
  }
  // Output scale: the accumulators' spread, sqrt(K) * 127^2 / 3 or so, onto about 60 steps.
  const float out_scale =
      0.02f * 0.005f * 127.0f * 127.0f * std::sqrt(static_cast<float>(o.k)) / 60.0f;
  const sme2k::Qs8Quantization q{{0.02f, 3}, w_scales.get(), {out_scale, -5}};
  const size_t c_extent = matrix_extent(o.m, o.n, o.ldc);
  Buffer<int8_t> c = allocate<int8_t>(c_extent);
  std::fill(c.get(), c.get() + c_extent, int8_t{77});
  size_t packed_bytes = 0, ws_bytes = 0;
  sme2k::Status status = sme2k::gemm_packed_rhs_size<sme2k::QS8>(o.n, o.k, &packed_bytes);
  Buffer<unsigned char> packed = allocate<unsigned char>(packed_bytes);
  if (status.ok()) {
    status = sme2k::gemm_pack_rhs<sme2k::QS8>({b.get(), b_rows, b_cols, o.ldb}, o.b_layout,
                                              o.bias ? bias.get() : nullptr, q, packed.get(),
                                              packed_bytes);
  }
  if (status.ok()) status = sme2k::gemm_workspace_size<sme2k::QS8>(o.m, o.n, o.k, &ws_bytes);
  Buffer<unsigned char> workspace = allocate<unsigned char>(ws_bytes);

  sme2k_roi_begin();
  for (size_t r = 0; r < o.repeat && status.ok(); ++r) {
    status = sme2k::gemm<sme2k::QS8>({a.get(), o.m, o.k, o.lda}, packed.get(), packed_bytes,
                                     {c.get(), o.m, o.n, o.ldc}, {}, workspace.get(), ws_bytes);
  }
  sme2k_roi_end();

  const sme2k::Path path = sme2k::last_used_path();
  const size_t svl_bits = sme2k::streaming_vector_bytes() * 8;
  std::printf(
      "gemm qs8 M=%zu N=%zu K=%zu lda=%zu ldb=%zu ldc=%zu b=%s bias=%s path=%s svl=%zu "
      "status=%s\n",
      o.m, o.n, o.k, o.lda, o.ldb, o.ldc, sme2k::rhs_layout_name(o.b_layout), o.bias ? "yes" : "no",
      status.ok() ? sme2k::path_name(path) : "-", svl_bits,
      status.ok() ? "ok" : sme2k::status_code_name(status.code()));
  if (!status.ok()) {
    std::fprintf(stderr, "sme2k-run: %s\n", status.message());
    return kExitFailure;
  }
  sme2k::reference::Qs8GemmProblem p;
  p.m = o.m, p.n = o.n, p.k = o.k;
  p.a = a.get(), p.lda = o.lda, p.b = b.get(), p.ldb = o.ldb, p.b_layout = o.b_layout;
  p.bias = o.bias ? bias.get() : nullptr;
  p.in_scale = q.input.scale, p.in_zero_point = q.input.zero_point;
  p.out_scale = q.output.scale, p.out_zero_point = q.output.zero_point;
  p.w_scales = w_scales.get();
  const double macs =
      static_cast<double>(o.m) * static_cast<double>(o.n) * static_cast<double>(o.k);
  const bool full =
      o.verify == VerifyPolicy::kFull || (o.verify == VerifyPolicy::kAuto && macs <= 0x1p24);
  size_t checked = 0, wrong = 0, saturated = 0;
  const auto check = [&](size_t i, size_t j) {
    const int got = c[i * o.ldc + j], want = sme2k::reference::qs8_at(p, i, j);
    ++checked;
    saturated += (want == -128 || want == 127) ? 1 : 0;
    if (got != want && ++wrong <= 10) {
      std::fprintf(stderr, "mismatch at (i=%zu, j=%zu): got %d, want %d\n", i, j, got, want);
    }
  };
  if (full) {
    for (size_t i = 0; i < o.m; ++i) {
      for (size_t j = 0; j < o.n; ++j) check(i, j);
    }
  } else {
    for (size_t j = 0; j < o.n; ++j) check(0, j), check(o.m - 1, j);
    for (size_t i = 0; i < o.m; ++i) check(i, 0), check(i, o.n - 1);
    for (size_t t = 1; t <= 2048; ++t) check(t * 7919 % o.m, t * 104729 % o.n);
  }
  std::printf("verified %zu of %zu elements (%s, bit-exact; %zu saturated): %s\n", checked,
              o.m * o.n, full ? "full" : "sample", saturated, wrong == 0 ? "ok" : "MISMATCH");
  if (wrong != 0) return kExitFailure;
  return meets_expectations(o.path, path, svl_bits) ? kExitOk : kExitFailure;
}

/// Packs QD8 weights (int8 values in b) for V: as int8 (QD8), or as 4-bit (QD8QC4W) handed
/// over nibble-packed (two a byte, low nibble first) when B's rows have an even length, else
/// as int8 values.
template <class V>
sme2k::Status pack_qd8_rhs(const Buffer<int8_t>& b, size_t b_rows, size_t b_cols, size_t ldb,
                           sme2k::RhsLayout layout, const float* bias, const float* w_scales,
                           const sme2k::BlockScales& block_scales, unsigned char* packed,
                           size_t packed_bytes) {
  const auto pack4 = [&](const auto& view) {  // generic: instantiated for 4-bit V only
    if constexpr (std::is_same_v<V, sme2k::QD8QB4W>) {
      return sme2k::gemm_pack_rhs<V>(view, layout, bias, block_scales, packed, packed_bytes);
    } else {
      return sme2k::gemm_pack_rhs<V>(view, layout, bias, w_scales, packed, packed_bytes);
    }
  };
  if constexpr (std::is_same_v<V, sme2k::QD8>) {
    return sme2k::gemm_pack_rhs<V>({b.get(), b_rows, b_cols, ldb}, layout, bias, w_scales, packed,
                                   packed_bytes);
  } else {
    if (b_cols % 2 != 0) {
      return pack4(sme2k::Int4View{b.get(), b_rows, b_cols, ldb, sme2k::Int4Storage::kInt8});
    }
    const size_t ld_bytes = (ldb + 1) / 2;
    Buffer<uint8_t> nibbles = allocate<uint8_t>(b_rows * ld_bytes);
    std::fill(nibbles.get(), nibbles.get() + b_rows * ld_bytes, uint8_t{0xAA});
    for (size_t r = 0; r < b_rows; ++r) {
      for (size_t c = 0; c < b_cols; c += 2) {
        const auto lo = static_cast<unsigned>(b[r * ldb + c]) & 0xFu;
        const auto hi = static_cast<unsigned>(b[r * ldb + c + 1]) & 0xFu;
        nibbles[r * ld_bytes + c / 2] = static_cast<uint8_t>(lo | hi << 4);
      }
    }
    return pack4(
        sme2k::Int4View{nibbles.get(), b_rows, b_cols, ld_bytes, sme2k::Int4Storage::kNibbles});
  }
}

/// QD8 x QC8W (or QC4W): f32 (or f16) activations from the hash, quantized per row inside the
/// op (in the region), int8 (or 4-bit) weights with per-channel scales packed before it;
/// checked against test/reference/dynamic_quant.hpp within the dequantization's rounding,
/// after the float epilogue stages (every element, or the sample of for_sample).
template <class V, class In, class Out>
int run_gemm_qd8_typed(const GemmOptions& options) {
  const GemmOptions o = with_dense_strides(options);
  const std::optional<sme2k::Path> forced = forced_path(o.path);
  if (forced && !sme2k::path_available(*forced, sme2k::cpu_features())) {
    std::fprintf(stderr, "sme2k-run: path %s is not available\n", sme2k::path_name(*forced));
    return kExitFailure;
  }
  if (o.batch != 0) {
    std::fprintf(stderr, "sme2k-run: qd8 takes no --batch\n");
    return kExitUsage;
  }
  std::optional<sme2k::testing::ScopedForcePath> force;
  if (forced) force.emplace(*forced);
  const bool kxn = o.b_layout == sme2k::RhsLayout::kKxN;
  const size_t b_rows = kxn ? o.k : o.n, b_cols = kxn ? o.n : o.k;
  const size_t a_count = matrix_extent(o.m, o.k, o.lda);
  Buffer<float> a_values = random_matrix(o.m, o.k, o.lda, o.seed * 3);
  const Buffer<In> a = stored_as<In>(&a_values, a_count);
  const size_t b_count = matrix_extent(b_rows, b_cols, o.ldb);
  Buffer<float> b_values = random_matrix(b_rows, b_cols, o.ldb, o.seed * 3 + 1);
  Buffer<int8_t> b = allocate<int8_t>(b_count);
  const float w_max = std::is_same_v<V, sme2k::QD8> ? 127.0f : 7.0f;  // [-1, 1) to the range
  for (size_t i = 0; i < b_count; ++i) {
    b[i] = std::isnan(b_values[i]) ? int8_t{0} : static_cast<int8_t>(b_values[i] * w_max);
  }
  Buffer<float> bias = random_matrix(1, o.n, o.n, o.seed * 3 + 2);
  Buffer<float> scale = random_matrix(1, o.n, o.n, o.seed * 3 + 3);
  Buffer<float> shift = random_matrix(1, o.n, o.n, o.seed * 3 + 4);
  Buffer<float> w_scales = allocate<float>(o.n);
  for (size_t j = 0; j < o.n; ++j) {
    w_scales[j] = 0.004f * (1.0f + static_cast<float>(j % 17) / 16.0f);
    scale[j] += 1.5f;  // away from 0
  }
  const size_t c_rows = o.transposed ? o.n : o.m, c_cols = o.transposed ? o.m : o.n;
  const size_t c_extent = matrix_extent(c_rows, c_cols, o.ldc);
  Buffer<Out> c = allocate<Out>(c_extent);
  std::fill(c.get(), c.get() + c_extent, sme2k::convert_to<Out>(std::nanf("")));
  sme2k::GemmEpilogue e;
  e.activation = o.activation;
  if (o.affine) e.affine = {scale.get(), shift.get()};
  e.clamp = o.clamp;
  e.order = o.transposed ? sme2k::OutputOrder::kTransposed : sme2k::OutputOrder::kRowMajor;
  size_t packed_bytes = 0, ws_bytes = 0;
  // QB4W: each channel's scale varied per block.
  const size_t blocks = o.block > 0 ? (o.k + o.block - 1) / o.block : 0;
  Buffer<float> scales_by_block = allocate<float>(o.n * blocks);
  for (size_t j = 0; j < o.n; ++j) {
    for (size_t g = 0; g < blocks; ++g) {
      scales_by_block[j * blocks + g] = w_scales[j] * (1.0f + static_cast<float>(g % 3) / 4.0f);
    }
  }
  const sme2k::BlockScales block_scales{scales_by_block.get(), sme2k::ScaleType::kF32, o.block,
                                        blocks};
  sme2k::Status status = sme2k::gemm_packed_rhs_size<V>(o.n, o.k, &packed_bytes);
  Buffer<unsigned char> packed = allocate<unsigned char>(packed_bytes);
  if (status.ok()) {
    status = pack_qd8_rhs<V>(b, b_rows, b_cols, o.ldb, o.b_layout, o.bias ? bias.get() : nullptr,
                             w_scales.get(), block_scales, packed.get(), packed_bytes);
  }
  if (status.ok()) status = sme2k::gemm_workspace_size<V>(o.m, o.n, o.k, &ws_bytes, e.order);
  Buffer<unsigned char> workspace = allocate<unsigned char>(ws_bytes);
  const sme2k::MatrixView<const In> a_view{a.get(), o.m, o.k, o.lda};
  const sme2k::MatrixView<Out> c_view{c.get(), c_rows, c_cols, o.ldc};
  size_t packed_a_bytes = 0;
  Buffer<unsigned char> packed_a;
  if constexpr (sme2k::detail::kPacksLhs<V>) {
    if (status.ok() && o.packed_lhs) {
      status = sme2k::gemm_packed_lhs_size<V>(o.m, o.k, &packed_a_bytes);
    }
    packed_a = allocate<unsigned char>(packed_a_bytes);
    if (status.ok() && o.packed_lhs) {
      status = sme2k::gemm_pack_lhs<V>(a_view, packed_a.get(), packed_a_bytes);
    }
  } else if (o.packed_lhs) {
    std::fprintf(stderr, "sme2k-run: %s has no packed activations\n",
                 sme2k::VariantTraits<V>::kName.data());
    return kExitUsage;
  }

  sme2k_roi_begin();
  for (size_t r = 0; r < o.repeat && status.ok(); ++r) {
    if constexpr (sme2k::detail::kPacksLhs<V>) {
      if (o.packed_lhs) {
        status = sme2k::gemm<V, Out>(sme2k::PackedLhs{packed_a.get(), packed_a_bytes}, packed.get(),
                                     packed_bytes, c_view, e, workspace.get(), ws_bytes);
        continue;
      }
    }
    status = sme2k::gemm<V, Out>(a_view, packed.get(), packed_bytes, c_view, e, workspace.get(),
                                 ws_bytes);
  }
  sme2k_roi_end();

  const sme2k::Path path = sme2k::last_used_path();
  const size_t svl_bits = sme2k::streaming_vector_bytes() * 8;
  std::printf(
      "gemm %s in=%s out=%s M=%zu N=%zu K=%zu lda=%zu ldb=%zu ldc=%zu b=%s bias=%s act=%s "
      "affine=%s transposed=%s packed_lhs=%s path=%s svl=%zu status=%s\n",
      sme2k::VariantTraits<V>::kName.data(), std::is_same_v<In, float> ? "f32" : "f16",
      std::is_same_v<Out, float> ? "f32" : "f16", o.m, o.n, o.k, o.lda, o.ldb, o.ldc,
      sme2k::rhs_layout_name(o.b_layout), o.bias ? "yes" : "no",
      sme2k::activation_name(o.activation), o.affine ? "yes" : "no", o.transposed ? "yes" : "no",
      o.packed_lhs ? "yes" : "no", status.ok() ? sme2k::path_name(path) : "-", svl_bits,
      status.ok() ? "ok" : sme2k::status_code_name(status.code()));
  if (!status.ok()) {
    std::fprintf(stderr, "sme2k-run: %s\n", status.message());
    return kExitFailure;
  }
  sme2k::reference::Qd8GemmProblem p;
  p.m = o.m, p.n = o.n, p.k = o.k;
  p.a.resize(o.m * o.k);
  for (size_t i = 0; i < o.m; ++i) {
    std::copy(a_values.get() + i * o.lda, a_values.get() + i * o.lda + o.k, &p.a[i * o.k]);
  }
  p.b = b.get(), p.ldb = o.ldb, p.b_layout = o.b_layout;
  p.w_scales = w_scales.get();
  p.bias = o.bias ? bias.get() : nullptr;
  sme2k::reference::GemmF32Problem stages;  // the float epilogue after the dequantization
  stages.k = o.k;
  stages.activation = o.activation;
  stages.scale = o.affine ? scale.get() : nullptr;
  stages.shift = o.affine ? shift.get() : nullptr;
  stages.clamp = o.clamp.active();
  stages.clamp_min = o.clamp.min, stages.clamp_max = o.clamp.max;
  const std::vector<sme2k::reference::QuantizedRow> rows = sme2k::reference::quantize_rows(p);
  Verifier v;
  const auto check = [&](size_t i, size_t j) {
    sme2k::reference::Qd8Element want;
    double product_bound = 0.0;
    if constexpr (std::is_same_v<V, sme2k::QD8QB4W>) {  // f32 on dequantized operands
      want = sme2k::reference::qb4w_at(
          p, rows[i], [&](size_t jj, size_t kk) { return block_scales.at(jj, kk); }, i, j);
      product_bound = sme2k::reference::f32_gemm_error_bound(o.k + 2, want.magnitude);
    } else {
      want = sme2k::reference::qd8_at(p, rows[i], i, j);
      product_bound = sme2k::reference::qd8_dequant_bound(want.magnitude);
    }
    const double exact = sme2k::reference::finish(stages, want.value, j);
    double bound = sme2k::reference::f32_epilogue_bound(stages, j, want.value, want.magnitude,
                                                        exact, product_bound);
    if (std::is_same_v<Out, sme2k::f16>) {
      bound = sme2k::reference::f16_rounding_bound(exact, bound);
    }
    const size_t at = o.transposed ? j * o.ldc + i : i * o.ldc + j;
    v.expect_near(i, j, sme2k::to_f32(c[at]), exact, bound);
  };
  const double macs =
      static_cast<double>(o.m) * static_cast<double>(o.n) * static_cast<double>(o.k);
  const bool full =
      o.verify == VerifyPolicy::kFull || (o.verify == VerifyPolicy::kAuto && macs <= 0x1p24);
  if (full) {
    for (size_t i = 0; i < o.m; ++i) {
      for (size_t j = 0; j < o.n; ++j) check(i, j);
    }
  } else {
    for_sample(o.m, o.n, check);
  }
  for (size_t r = 0; r + 1 < c_rows; ++r) {
    for (size_t col = c_cols; col < o.ldc; ++col) {
      v.expect_untouched(r, col, sme2k::to_f32(c[r * o.ldc + col]));
    }
  }
  std::printf("verified %zu of %zu elements (%s): %s\n", v.checked(), o.m * o.n,
              full ? "full" : "sample", v.failed() == 0 ? "ok" : "MISMATCH");
  if (v.failed() != 0) return kExitFailure;
  return meets_expectations(o.path, path, svl_bits) ? kExitOk : kExitFailure;
}

template <class V>
int run_gemm_qd8(const GemmOptions& o) {
  const bool in_f16 = o.in == OutChoice::kF16, out_f16 = o.out == OutChoice::kF16;
  if (in_f16) {
    return out_f16 ? run_gemm_qd8_typed<V, sme2k::f16, sme2k::f16>(o)
                   : run_gemm_qd8_typed<V, sme2k::f16, float>(o);
  }
  return out_f16 ? run_gemm_qd8_typed<V, float, sme2k::f16>(o)
                 : run_gemm_qd8_typed<V, float, float>(o);
}

struct GemmVariant {
  const char* name;
  int (*run)(const GemmOptions& options);
};
constexpr GemmVariant kGemmVariants[] = {{"f32", run_gemm_variant<sme2k::F32>},
                                         {"f16", run_gemm_variant<sme2k::F16>},
                                         {"f16acc16", run_gemm_variant<sme2k::F16Acc16>},
                                         {"qs8", run_gemm_qs8},
                                         {"qd8", run_gemm_qd8<sme2k::QD8>},
                                         {"qd8-qc4w", run_gemm_qd8<sme2k::QD8QC4W>},
                                         {"qd8-qb4w", run_gemm_qd8<sme2k::QD8QB4W>}};

void gemm_usage(std::FILE* out) {
  std::fprintf(out, "usage: sme2k-run gemm --variant f32 --m M --n N --k K [options]\n\n");
  std::fprintf(out, "C = clamp(A x B + bias): A is M x K, B is K x N, C is M x N, row-major.\n");
  std::fprintf(out, "Variants:");
  for (const auto& variant : kGemmVariants) std::fprintf(out, " %s", variant.name);
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
  for (const auto& variant : kGemmVariants) {
    if (std::strcmp(o.variant, variant.name) == 0) return variant.run(o);
  }
  std::fprintf(stderr, "sme2k-run gemm: unknown variant '%s'; known:", o.variant);
  for (const auto& variant : kGemmVariants) std::fprintf(stderr, " %s", variant.name);
  std::fprintf(stderr, "\n");
  return kExitUsage;
}

// ------------------------------------------------------------------------------ pack-lhs

struct PackLhsOptions {
  const char* variant = nullptr;
  OutChoice in = OutChoice::kDefault;
  size_t m = 0, k = 0, lda = 0;
  uint32_t seed = 1;
  PathChoice path = PathChoice::kAuto;
  size_t repeat = 1;
};

using PackLhsSpec = OptionSpec<PackLhsOptions>;
const PackLhsSpec kPackLhsOptions[] = {
    {"--variant", "NAME", "numeric variant whose activations are packed before the GEMM: qd8",
     [](const char* v, PackLhsOptions* o) {
       o->variant = v;
       return true;
     }},
    {"--in", "f32|f16", "the activations' element type (default f32)", parse_in<PackLhsOptions>},
    {"--m", "M", "rows of A (required)",
     [](const char* v, PackLhsOptions* o) { return parse_positive(v, &o->m); }},
    {"--k", "K", "columns of A (required)",
     [](const char* v, PackLhsOptions* o) { return parse_positive(v, &o->k); }},
    {"--lda", "X", "leading dimension of A (default K)", parse_lda<PackLhsOptions>},
    {"--seed", "S", "seed of the random data (default 1)", parse_seed<PackLhsOptions>},
    {"--path", "auto|portable|sme2", "force a path (default auto)", parse_path<PackLhsOptions>},
    {"--repeat", "R", "calls inside the region of interest (default 1)",
     parse_repeat<PackLhsOptions>},
};

/// The bytes gemm_pack_lhs() must write on `path`, from the formats' plain C++ packers (the
/// specifications, themselves checked against test/reference/dynamic_quant.hpp by the tests).
template <class In>
std::vector<uint8_t> expected_packed_lhs(sme2k::MatrixView<const In> a, sme2k::Path path,
                                         size_t payload_bytes) {
  std::vector<uint8_t> want(payload_bytes);
  if (path == sme2k::Path::kPortable) {
    sme2k::LhsQd8p1x1::pack(a, want.data());
    return want;
  }
  const size_t vl = sme2k::streaming_vl();
  using Format = sme2k::LhsQd8p2vlx4;
  const size_t mr = Format::mr(vl), panel_bytes = Format::panel_bytes(a.cols, vl);
  for (size_t m0 = 0; m0 < a.rows; m0 += mr) {
    const size_t rows = std::min(mr, a.rows - m0);
    Format::pack_panel<In>({a.data + m0 * a.ld, rows, a.cols, a.ld}, vl,
                           want.data() + m0 / mr * panel_bytes);
  }
  return want;
}

/// QD8 activation quantization and packing alone in the region (gemm_pack_lhs), checked
/// byte for byte against the format's specification.
template <class In>
int run_pack_lhs_qd8(PackLhsOptions o) {
  if (o.lda == 0) o.lda = o.k;
  if (o.lda < o.k) {
    std::fprintf(stderr, "sme2k-run: --lda %zu is below K %zu\n", o.lda, o.k);
    return kExitUsage;
  }
  const std::optional<sme2k::Path> forced = forced_path(o.path);
  if (forced && !sme2k::path_available(*forced, sme2k::cpu_features())) {
    std::fprintf(stderr, "sme2k-run: path %s is not available\n", sme2k::path_name(*forced));
    return kExitFailure;
  }
  std::optional<sme2k::testing::ScopedForcePath> force;
  if (forced) force.emplace(*forced);
  const size_t a_count = matrix_extent(o.m, o.k, o.lda);
  Buffer<float> a_values = random_matrix(o.m, o.k, o.lda, o.seed * 3);
  const Buffer<In> a = stored_as<In>(&a_values, a_count);
  const sme2k::MatrixView<const In> view{a.get(), o.m, o.k, o.lda};
  size_t bytes = 0;
  sme2k::Status status = sme2k::gemm_packed_lhs_size<sme2k::QD8>(o.m, o.k, &bytes);
  Buffer<unsigned char> packed = allocate<unsigned char>(bytes);

  sme2k_roi_begin();
  for (size_t r = 0; r < o.repeat && status.ok(); ++r) {
    status = sme2k::gemm_pack_lhs<sme2k::QD8>(view, packed.get(), bytes);
  }
  sme2k_roi_end();

  const sme2k::Path path = sme2k::last_used_path();
  const size_t svl_bits = sme2k::streaming_vector_bytes() * 8;
  std::printf("pack-lhs qd8 in=%s M=%zu K=%zu lda=%zu bytes=%zu path=%s svl=%zu status=%s\n",
              std::is_same_v<In, float> ? "f32" : "f16", o.m, o.k, o.lda, bytes,
              status.ok() ? sme2k::path_name(path) : "-", svl_bits,
              status.ok() ? "ok" : sme2k::status_code_name(status.code()));
  if (!status.ok()) {
    std::fprintf(stderr, "sme2k-run: %s\n", status.message());
    return kExitFailure;
  }
  const size_t payload = bytes - sme2k::kPackedHeaderBytes;
  const std::vector<uint8_t> want = expected_packed_lhs(view, path, payload);
  size_t wrong = 0;
  for (size_t i = 0; i < payload; ++i) wrong += packed[sme2k::kPackedHeaderBytes + i] != want[i];
  std::printf("verified %zu packed bytes against the format: %s\n", payload,
              wrong == 0 ? "ok" : "MISMATCH");
  if (wrong != 0) return kExitFailure;
  return meets_expectations(o.path, path, svl_bits) ? kExitOk : kExitFailure;
}

void pack_lhs_usage(std::FILE* out) {
  std::fprintf(out, "usage: sme2k-run pack-lhs --variant qd8 --m M --k K [options]\n\n");
  std::fprintf(out,
               "Quantizes A (M x K, f32 or f16) per row and packs it for gemm (gemm_pack_lhs).\n"
               "Options:\n");
  print_options(out, kPackLhsOptions);
}

int pack_lhs_verb(int argc, char** argv) {
  PackLhsOptions o;
  if (!parse_options(argc, argv, 2, kPackLhsOptions, &o)) {
    pack_lhs_usage(stderr);
    return kExitUsage;
  }
  if (o.variant == nullptr || o.m == 0 || o.k == 0) {
    std::fprintf(stderr, "sme2k-run pack-lhs: --variant, --m and --k are required\n");
    pack_lhs_usage(stderr);
    return kExitUsage;
  }
  if (std::strcmp(o.variant, "qd8") != 0) {
    std::fprintf(stderr, "sme2k-run pack-lhs: unknown variant '%s'; known: qd8\n", o.variant);
    return kExitUsage;
  }
  return o.in == OutChoice::kF16 ? run_pack_lhs_qd8<sme2k::f16>(o) : run_pack_lhs_qd8<float>(o);
}

// ------------------------------------------------------------------------------ pack-rhs

struct PackRhsOptions {
  const char* variant = nullptr;
  size_t n = 0, k = 0;
  sme2k::RhsLayout b_layout = sme2k::RhsLayout::kNxK;
  bool int8_values = false;  // 4-bit weights one a byte instead of two
  uint32_t seed = 1;
  PathChoice path = PathChoice::kAuto;
};

using PackRhsSpec = OptionSpec<PackRhsOptions>;
const PackRhsSpec kPackRhsOptions[] = {
    {"--variant", "NAME", "weights of: qd8-qc4w, qd8-qb4w (block 32), qd8-qb4w-q4_0 (from GGUF)",
     [](const char* v, PackRhsOptions* o) {
       o->variant = v;
       return true;
     }},
    {"--n", "N", "output channels (required)",
     [](const char* v, PackRhsOptions* o) { return parse_positive(v, &o->n); }},
    {"--k", "K", "input channels (required)",
     [](const char* v, PackRhsOptions* o) { return parse_positive(v, &o->k); }},
    {"--b-layout", "kxn|nxk", "how B is stored before packing (default nxk)",
     [](const char* v, PackRhsOptions* o) { return parse_choice(v, kLayoutNames, &o->b_layout); }},
    {"--int8-values", nullptr, "4-bit values given one a byte (default: nibbles, two a byte)",
     [](const char*, PackRhsOptions* o) {
       o->int8_values = true;
       return true;
     }},
    {"--seed", "S", "seed of the random data (default 1)", parse_seed<PackRhsOptions>},
    {"--path", "auto|portable|sme2", "force a path (default auto)", parse_path<PackRhsOptions>},
};

/// 4-bit weight packing alone in the region (gemm_pack_rhs / gemm_pack_rhs_q4_0, a one-time
/// cost per model); checked after it by a GEMV of the packed weights against the reference.
enum class PackedWeights { kQc4w, kQb4w, kQ4_0 };

int run_pack_rhs(const PackRhsOptions& o, PackedWeights kind) {
  const std::optional<sme2k::Path> forced = forced_path(o.path);
  if (forced && !sme2k::path_available(*forced, sme2k::cpu_features())) {
    std::fprintf(stderr, "sme2k-run: path %s is not available\n", sme2k::path_name(*forced));
    return kExitFailure;
  }
  std::optional<sme2k::testing::ScopedForcePath> force;
  if (forced) force.emplace(*forced);
  const bool kxn = o.b_layout == sme2k::RhsLayout::kKxN;
  const size_t rows = kxn ? o.k : o.n, cols = kxn ? o.n : o.k;
  if (!o.int8_values && cols % 2 != 0) {
    std::fprintf(stderr, "sme2k-run: nibble rows need an even length (%zu)\n", cols);
    return kExitUsage;
  }
  if (kind != PackedWeights::kQc4w && (o.k % 32 != 0 || (kind == PackedWeights::kQ4_0 && kxn))) {
    std::fprintf(stderr, "sme2k-run: QB4W needs K a multiple of 32 (Q4_0: N x K rows)\n");
    return kExitUsage;
  }
  Buffer<float> values = random_matrix(rows, cols, cols, o.seed * 5);
  Buffer<int8_t> b = allocate<int8_t>(rows * cols);
  for (size_t i = 0; i < rows * cols; ++i) b[i] = static_cast<int8_t>(values[i] * 7.99f);
  const size_t ld = o.int8_values ? cols : cols / 2;
  Buffer<uint8_t> stored = allocate<uint8_t>(rows * ld);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      if (o.int8_values) {
        stored[r * ld + c] = static_cast<uint8_t>(b[r * cols + c]);
      } else {
        const auto nibble = static_cast<unsigned>(b[r * cols + c]) & 0xFu;
        uint8_t& byte = stored[r * ld + c / 2];
        byte = static_cast<uint8_t>(c % 2 == 0 ? nibble : (byte | nibble << 4));
      }
    }
  }
  const sme2k::Int4View view{
      stored.get(), rows, cols, ld,
      o.int8_values ? sme2k::Int4Storage::kInt8 : sme2k::Int4Storage::kNibbles};
  Buffer<float> w_scales = allocate<float>(o.n);
  for (size_t j = 0; j < o.n; ++j) w_scales[j] = 0.01f * (1.0f + static_cast<float>(j % 5));
  // QB4W: a scale per 32 k (f16 values, so Q4_0's blocks hold the same ones).
  const size_t groups = o.k / 32;
  Buffer<float> block_scale = allocate<float>(o.n * groups);
  Buffer<uint8_t> q4_0 = allocate<uint8_t>(o.n * groups * sme2k::kQ4_0BlockBytes);
  if (kind != PackedWeights::kQc4w) {
    for (size_t j = 0; j < o.n; ++j) {
      for (size_t g = 0; g < groups; ++g) {
        const sme2k::f16 d = sme2k::to_f16(w_scales[j] * (1.0f + static_cast<float>(g % 3) / 4));
        block_scale[j * groups + g] = sme2k::to_f32(d);
        uint8_t* block = &q4_0[(j * groups + g) * sme2k::kQ4_0BlockBytes];
        block[0] = static_cast<uint8_t>(d.bits & 0xFF),
        block[1] = static_cast<uint8_t>(d.bits >> 8);
        for (size_t i = 0; i < 32 && !kxn; ++i) {
          const auto nibble = static_cast<unsigned>(b[j * cols + g * 32 + i] + 8);
          uint8_t& byte = block[2 + i % 16];
          byte = static_cast<uint8_t>(i < 16 ? nibble : (byte | nibble << 4));
        }
      }
    }
  }
  const sme2k::BlockScales scales{block_scale.get(), sme2k::ScaleType::kF32, 32, groups};
  size_t bytes = 0;
  sme2k::Status status = kind == PackedWeights::kQc4w
                             ? sme2k::gemm_packed_rhs_size<sme2k::QD8QC4W>(o.n, o.k, &bytes)
                             : sme2k::gemm_packed_rhs_size<sme2k::QD8QB4W>(o.n, o.k, 32, &bytes);
  Buffer<unsigned char> packed = allocate<unsigned char>(bytes);

  sme2k_roi_begin();
  if (status.ok()) {
    switch (kind) {
      case PackedWeights::kQc4w:
        status = sme2k::gemm_pack_rhs<sme2k::QD8QC4W>(view, o.b_layout, nullptr, w_scales.get(),
                                                      packed.get(), bytes);
        break;
      case PackedWeights::kQb4w:
        status = sme2k::gemm_pack_rhs<sme2k::QD8QB4W>(view, o.b_layout, nullptr, scales,
                                                      packed.get(), bytes);
        break;
      case PackedWeights::kQ4_0:
        status = sme2k::gemm_pack_rhs_q4_0<sme2k::QD8QB4W>(q4_0.get(), o.n, o.k, nullptr,
                                                           packed.get(), bytes);
        break;
    }
  }
  sme2k_roi_end();

  sme2k::PackedHeader header{};  // the path the weights were packed for
  if (status.ok()) std::memcpy(&header, packed.get(), sizeof header);
  const sme2k::Path path = header.path;
  const size_t svl_bits = sme2k::streaming_vector_bytes() * 8;
  std::printf("pack-rhs %s N=%zu K=%zu b=%s storage=%s bytes=%zu path=%s svl=%zu status=%s\n",
              o.variant, o.n, o.k, sme2k::rhs_layout_name(o.b_layout),
              kind == PackedWeights::kQ4_0 ? "q4_0"
              : o.int8_values              ? "int8"
                                           : "nibbles",
              bytes, status.ok() ? sme2k::path_name(path) : "-", svl_bits,
              status.ok() ? "ok" : sme2k::status_code_name(status.code()));
  if (!status.ok()) {
    std::fprintf(stderr, "sme2k-run: %s\n", status.message());
    return kExitFailure;
  }
  // One row of activations through the packed weights, against the reference.
  sme2k::reference::Qd8GemmProblem p;
  p.m = 1, p.n = o.n, p.k = o.k;
  Buffer<float> a = random_matrix(1, o.k, o.k, o.seed * 5 + 1);
  p.a.assign(a.get(), a.get() + o.k);
  p.b = b.get(), p.ldb = cols, p.b_layout = o.b_layout;
  p.w_scales = w_scales.get();
  Buffer<float> c = allocate<float>(o.n);
  const sme2k::MatrixView<const float> a_view{a.get(), 1, o.k, o.k};
  const sme2k::MatrixView<float> c_view{c.get(), 1, o.n, o.n};
  status = kind == PackedWeights::kQc4w
               ? sme2k::gemm<sme2k::QD8QC4W>(a_view, packed.get(), bytes, c_view)
               : sme2k::gemm<sme2k::QD8QB4W>(a_view, packed.get(), bytes, c_view);
  if (!status.ok()) {
    std::fprintf(stderr, "sme2k-run: %s\n", status.message());
    return kExitFailure;
  }
  const std::vector<sme2k::reference::QuantizedRow> quantized = sme2k::reference::quantize_rows(p);
  Verifier v;
  for (size_t j = 0; j < o.n; ++j) {
    if (kind == PackedWeights::kQc4w) {
      const sme2k::reference::Qd8Element want = sme2k::reference::qd8_at(p, quantized[0], 0, j);
      v.expect_near(0, j, c[j], want.value, sme2k::reference::qd8_dequant_bound(want.magnitude));
    } else {
      const sme2k::reference::Qd8Element want = sme2k::reference::qb4w_at(
          p, quantized[0], [&](size_t jj, size_t kk) { return scales.at(jj, kk); }, 0, j);
      v.expect_near(0, j, c[j], want.value,
                    sme2k::reference::f32_gemm_error_bound(o.k + 2, want.magnitude));
    }
  }
  std::printf("verified %zu outputs of a GEMV through the packed weights: %s\n", v.checked(),
              v.failed() == 0 ? "ok" : "MISMATCH");
  if (v.failed() != 0) return kExitFailure;
  return meets_expectations(o.path, path, svl_bits) ? kExitOk : kExitFailure;
}

void pack_rhs_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run pack-rhs --variant qd8-qc4w|qd8-qb4w|qd8-qb4w-q4_0 --n N --k K "
               "[options]\n\n");
  std::fprintf(out, "Packs 4-bit weights (gemm_pack_rhs) alone in the region.\nOptions:\n");
  print_options(out, kPackRhsOptions);
}

int pack_rhs_verb(int argc, char** argv) {
  PackRhsOptions o;
  if (!parse_options(argc, argv, 2, kPackRhsOptions, &o)) {
    pack_rhs_usage(stderr);
    return kExitUsage;
  }
  if (o.variant == nullptr || o.n == 0 || o.k == 0) {
    std::fprintf(stderr, "sme2k-run pack-rhs: --variant, --n and --k are required\n");
    pack_rhs_usage(stderr);
    return kExitUsage;
  }
  constexpr std::pair<const char*, PackedWeights> kKinds[] = {
      {"qd8-qc4w", PackedWeights::kQc4w},
      {"qd8-qb4w", PackedWeights::kQb4w},
      {"qd8-qb4w-q4_0", PackedWeights::kQ4_0}};
  PackedWeights kind = PackedWeights::kQc4w;
  if (!parse_choice(o.variant, kKinds, &kind)) {
    std::fprintf(stderr,
                 "sme2k-run pack-rhs: unknown variant '%s'; known: qd8-qc4w qd8-qb4w "
                 "qd8-qb4w-q4_0\n",
                 o.variant);
    return kExitUsage;
  }
  return run_pack_rhs(o, kind);
}

// -------------------------------------------------------------------------------- conv2d

enum class ConvVerify { kFull, kSample, kNone };

constexpr size_t kUnset = SIZE_MAX;  // a padding the command line did not give

struct ConvOptions {
  const char* variant = nullptr;
  OutChoice out = OutChoice::kDefault;
  sme2k::TensorLayout in_layout = sme2k::TensorLayout::kNCHW;
  sme2k::TensorLayout out_layout = sme2k::TensorLayout::kNCHW;
  sme2k::ConvWeightLayout weights = sme2k::ConvWeightLayout::kOIHW;
  size_t batch = 1, cin = 64, h = 64, w = 64;
  size_t cout = 0;  // 0: Cin
  size_t kh = 3, kw = 3;
  size_t stride_h = 1, stride_w = 1;
  size_t dilation_h = 1, dilation_w = 1;
  size_t pad_top = kUnset, pad_bottom = kUnset, pad_left = kUnset, pad_right = kUnset;
  size_t groups = 1;
  bool depthwise = false;
  sme2k::Activation activation = sme2k::Activation::kNone;
  bool affine = false;
  sme2k::Clamp clamp;
  bool bias = true;
  uint32_t seed = 1;
  PathChoice path = PathChoice::kAuto;
  ConvVerify verify = ConvVerify::kSample;
};

constexpr std::pair<const char*, sme2k::TensorLayout> kTensorLayoutNames[] = {
    {"nchw", sme2k::TensorLayout::kNCHW}, {"nhwc", sme2k::TensorLayout::kNHWC}};
constexpr std::pair<const char*, sme2k::ConvWeightLayout> kConvWeightLayoutNames[] = {
    {"oihw", sme2k::ConvWeightLayout::kOIHW},
    {"ohwi", sme2k::ConvWeightLayout::kOHWI},
    {"hwio", sme2k::ConvWeightLayout::kHWIO}};
constexpr std::pair<const char*, ConvVerify> kConvVerifyNames[] = {
    {"full", ConvVerify::kFull}, {"sample", ConvVerify::kSample}, {"none", ConvVerify::kNone}};

const char* conv_weight_layout_name(sme2k::ConvWeightLayout layout) {
  for (const auto& c : kConvWeightLayoutNames) {
    if (c.second == layout) return c.first;
  }
  return "unknown";
}

/// "IN:OUT" (or one layout for both).
bool parse_layout_pair(const char* s, ConvOptions* o) {
  const char* colon = std::strchr(s, ':');
  if (colon == nullptr) {
    if (!parse_choice(s, kTensorLayoutNames, &o->in_layout)) return false;
    o->out_layout = o->in_layout;
    return true;
  }
  const std::string in(s, colon);
  return parse_choice(in.c_str(), kTensorLayoutNames, &o->in_layout) &&
         parse_choice(colon + 1, kTensorLayoutNames, &o->out_layout);
}

using ConvSpec = OptionSpec<ConvOptions>;
const ConvSpec kConvOptions[] = {
    {"--variant", "NAME", "numeric variant: f32, f16 (f32 accumulation), qs8 (QC8W weights)",
     [](const char* v, ConvOptions* o) {
       o->variant = v;
       return true;
     }},
    {"--out", "f32|f16", "output element type (default: the variant's; f16 takes either)",
     [](const char* v, ConvOptions* o) { return parse_choice(v, kOutNames, &o->out); }},
    {"--layout", "IN:OUT", "activation layouts, nchw or nhwc each (default nchw:nchw)",
     parse_layout_pair},
    {"--weights", "oihw|ohwi|hwio", "how the weights are given to packing (default oihw)",
     [](const char* v, ConvOptions* o) {
       return parse_choice(v, kConvWeightLayoutNames, &o->weights);
     }},
    {"--n", "N", "batch (default 1)",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->batch); }},
    {"--cin", "C", "input channels (default 64)",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->cin); }},
    {"--h", "H", "input height (default 64)",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->h); }},
    {"--w", "W", "input width (default 64)",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->w); }},
    {"--cout", "C", "output channels (default Cin)",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->cout); }},
    {"--k", "K", "kernel K x K (default 3)",
     [](const char* v, ConvOptions* o) {
       return parse_positive(v, &o->kh) && parse_positive(v, &o->kw);
     }},
    {"--kh", "KH", "kernel height",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->kh); }},
    {"--kw", "KW", "kernel width",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->kw); }},
    {"--stride", "S", "stride in both directions (default 1)",
     [](const char* v, ConvOptions* o) {
       return parse_positive(v, &o->stride_h) && parse_positive(v, &o->stride_w);
     }},
    {"--stride-h", "S", "vertical stride",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->stride_h); }},
    {"--stride-w", "S", "horizontal stride",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->stride_w); }},
    {"--pad", "P", "padding on all four sides (default dilation * (kernel - 1) / 2 per side)",
     [](const char* v, ConvOptions* o) {
       size_t pad = 0;
       if (!parse_size(v, &pad)) return false;
       o->pad_top = o->pad_bottom = o->pad_left = o->pad_right = pad;
       return true;
     }},
    {"--pad-top", "P", "padding above",
     [](const char* v, ConvOptions* o) { return parse_size(v, &o->pad_top); }},
    {"--pad-bottom", "P", "padding below",
     [](const char* v, ConvOptions* o) { return parse_size(v, &o->pad_bottom); }},
    {"--pad-left", "P", "padding on the left",
     [](const char* v, ConvOptions* o) { return parse_size(v, &o->pad_left); }},
    {"--pad-right", "P", "padding on the right",
     [](const char* v, ConvOptions* o) { return parse_size(v, &o->pad_right); }},
    {"--dilation", "D", "dilation in both directions (default 1)",
     [](const char* v, ConvOptions* o) {
       return parse_positive(v, &o->dilation_h) && parse_positive(v, &o->dilation_w);
     }},
    {"--dilation-h", "D", "vertical dilation",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->dilation_h); }},
    {"--dilation-w", "D", "horizontal dilation",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->dilation_w); }},
    {"--groups", "G", "groups, dividing Cin and Cout (default 1)",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->groups); }},
    {"--depthwise", nullptr, "groups = Cin (Cout defaults to Cin; a multiple is a multiplier)",
     [](const char*, ConvOptions* o) {
       o->depthwise = true;
       return true;
     }},
    {"--no-bias", nullptr, "no bias (default: a random bias)",
     [](const char*, ConvOptions* o) {
       o->bias = false;
       return true;
     }},
    {"--act", "NAME", "activation (floats): none relu relu6 hardswish gelu silu (default none)",
     [](const char* v, ConvOptions* o) {
       return parse_choice(v, kActivationNames, &o->activation);
     }},
    {"--affine", nullptr, "floats: a per-channel affine (scale, shift) after the activation",
     [](const char*, ConvOptions* o) {
       o->affine = true;
       return true;
     }},
    {"--clamp", "LO,HI", "floats: clamp the output to [LO, HI]",
     [](const char* v, ConvOptions* o) { return parse_pair(v, &o->clamp.min, &o->clamp.max); }},
    {"--seed", "S", "seed of the random data (default 1)", parse_seed<ConvOptions>},
    {"--path", "auto|portable|sme2", "force a path for packing and the op (default auto)",
     parse_path<ConvOptions>},
    {"--verify", "full|sample|none",
     "sample (default): every output when there are <= 4096, else each channel's corner "
     "pixels and ~2000 more spread over the tensor",
     [](const char* v, ConvOptions* o) { return parse_choice(v, kConvVerifyNames, &o->verify); }},
};

/// The shape the options describe (defaults filled in; not validated).
sme2k::Conv2dParams conv_params_of(const ConvOptions& o) {
  sme2k::Conv2dParams p;
  p.batch = o.batch;
  p.in_channels = o.cin, p.in_height = o.h, p.in_width = o.w;
  p.out_channels = o.cout != 0 ? o.cout : o.cin;
  p.kernel_height = o.kh, p.kernel_width = o.kw;
  p.stride_height = o.stride_h, p.stride_width = o.stride_w;
  p.dilation_height = o.dilation_h, p.dilation_width = o.dilation_w;
  const size_t same_h = o.dilation_h * (o.kh - 1) / 2, same_w = o.dilation_w * (o.kw - 1) / 2;
  p.pad_top = o.pad_top != kUnset ? o.pad_top : same_h;
  p.pad_bottom = o.pad_bottom != kUnset ? o.pad_bottom : same_h;
  p.pad_left = o.pad_left != kUnset ? o.pad_left : same_w;
  p.pad_right = o.pad_right != kUnset ? o.pad_right : same_w;
  p.groups = o.depthwise ? o.cin : o.groups;
  return p;
}

// The reference: a direct convolution from the definition in types/conv.hpp, one output at a
// time, on the values as the op sees them (f16 data widened exactly), indexed in the canonical
// [n][c][h][w] and [co][ci][kh][kw] orders. Floats: products summed in double; integers:
// exact in int64, then sme2k's requantize() (types/quantization.hpp).

/// Where element (n, c, h, w) of a C x H x W (per image) tensor in `layout` lies.
size_t tensor_index(sme2k::TensorLayout layout, size_t channels, size_t height, size_t width,
                    size_t n, size_t c, size_t h, size_t w) {
  return layout == sme2k::TensorLayout::kNCHW ? ((n * channels + c) * height + h) * width + w
                                              : ((n * height + h) * width + w) * channels + c;
}

/// Where weight (co, ci, kh, kw) lies in weights given in `layout` (ci within co's group).
size_t weight_index(const sme2k::Conv2dParams& p, sme2k::ConvWeightLayout layout, size_t co,
                    size_t ci, size_t kh, size_t kw) {
  const size_t cin_g = p.in_channels / p.groups;
  switch (layout) {
    case sme2k::ConvWeightLayout::kOIHW:
      return ((co * cin_g + ci) * p.kernel_height + kh) * p.kernel_width + kw;
    case sme2k::ConvWeightLayout::kOHWI:
      return ((co * p.kernel_height + kh) * p.kernel_width + kw) * cin_g + ci;
    case sme2k::ConvWeightLayout::kHWIO:
      return ((kh * p.kernel_width + kw) * cin_g + ci) * p.out_channels + co;
  }
  return 0;
}

/// sum over the taps of output (n, co, oh, ow) of f(input index, canonical weight index);
/// positions in the padding are skipped (they read zero, or QS8's input zero point).
template <class F>
void for_each_conv_tap(const sme2k::Conv2dParams& p, sme2k::TensorLayout in_layout, size_t n,
                       size_t co, size_t oh, size_t ow, F&& f) {
  const size_t cin_g = p.in_channels / p.groups, cout_g = p.out_channels / p.groups;
  const size_t c0 = co / cout_g * cin_g;
  for (size_t kh = 0; kh < p.kernel_height; ++kh) {
    const size_t ih = oh * p.stride_height + kh * p.dilation_height;  // + pad_top
    if (ih < p.pad_top || ih - p.pad_top >= p.in_height) continue;
    for (size_t kw = 0; kw < p.kernel_width; ++kw) {
      const size_t iw = ow * p.stride_width + kw * p.dilation_width;  // + pad_left
      if (iw < p.pad_left || iw - p.pad_left >= p.in_width) continue;
      for (size_t ci = 0; ci < cin_g; ++ci) {
        f(tensor_index(in_layout, p.in_channels, p.in_height, p.in_width, n, c0 + ci,
                       ih - p.pad_top, iw - p.pad_left),
          ((co * cin_g + ci) * p.kernel_height + kh) * p.kernel_width + kw);
      }
    }
  }
}

/// Calls check(n, co, oh, ow) on every output, or (ConvVerify::kSample) on every output of a
/// tensor of at most 4096, else on the four corner pixels of every channel of the first and
/// last image (padding, channel tails) and 2000 more on a walk over the whole tensor whose
/// stride is coprime with its size.
template <class Check>
void for_conv_outputs(const sme2k::Conv2dParams& p, ConvVerify verify, Check&& check) {
  const size_t oh_n = p.out_height(), ow_n = p.out_width();
  const size_t total = p.batch * p.out_channels * oh_n * ow_n;
  const auto at = [&](size_t x) {
    const size_t ow = x % ow_n, oh = x / ow_n % oh_n, co = x / (ow_n * oh_n) % p.out_channels;
    check(x / (ow_n * oh_n * p.out_channels), co, oh, ow);
  };
  if (verify == ConvVerify::kFull || total <= 4096) {
    for (size_t x = 0; x < total; ++x) at(x);
    return;
  }
  for (size_t n : {size_t{0}, p.batch - 1}) {
    for (size_t co = 0; co < p.out_channels; ++co) {
      check(n, co, 0, 0), check(n, co, 0, ow_n - 1);
      check(n, co, oh_n - 1, 0), check(n, co, oh_n - 1, ow_n - 1);
    }
    if (p.batch == 1) break;
  }
  size_t stride = static_cast<size_t>(static_cast<double>(total) * 0.6180339887) | 1;
  while (std::gcd(stride, total) != 1) ++stride;
  for (size_t t = 0, x = total / 3; t < 2000; ++t, x = (x + stride) % total) at(x);
}

/// The data of one convolution, made and packed before the region of interest: input and
/// weights as the variant stores them (weights in the chosen layout), and the same values
/// in float (input in its layout, weights [co][ci][kh][kw]) for the reference.
template <class V, class Out>
struct ConvData {
  using T = typename sme2k::VariantTraits<V>::Lhs;
  static constexpr bool kQuantized = std::is_same_v<V, sme2k::QS8>;
  Buffer<float> in_ref, w_ref, bias, scale, shift, w_scales;
  Buffer<T> input, weights;
  Buffer<int32_t> bias_q;
  Buffer<Out> output;
  Buffer<unsigned char> packed, workspace;
  size_t packed_bytes = 0, workspace_bytes = 0;
  sme2k::Qs8Quantization q;
};

template <class V, class Out>
sme2k::Status prepare_conv(const ConvOptions& o, const sme2k::Conv2dParams& p,
                           ConvData<V, Out>* d) {
  using T = typename ConvData<V, Out>::T;
  const size_t in_count = sme2k::conv2d_input_elements(p);
  const size_t w_count = p.out_channels * p.in_channels_per_group() * p.taps();
  const size_t out_count = sme2k::conv2d_output_elements(p);
  d->in_ref = random_matrix(1, in_count, in_count, o.seed * 3 + 0);
  d->w_ref = random_matrix(1, w_count, w_count, o.seed * 3 + 1);
  d->weights = allocate<T>(w_count);
  if constexpr (ConvData<V, Out>::kQuantized) {
    d->input = allocate<int8_t>(in_count);
    for (size_t i = 0; i < in_count; ++i) d->input[i] = static_cast<int8_t>(d->in_ref[i] * 127.0f);
    d->bias_q = allocate<int32_t>(p.out_channels);
    d->w_scales = allocate<float>(p.out_channels);
    for (size_t co = 0; co < p.out_channels; ++co) {
      d->bias_q[co] = static_cast<int32_t>(co % 1000) * 7 - 3500;
      d->w_scales[co] = 0.004f * (1.0f + static_cast<float>(co % 17) / 16.0f);
    }
    for (size_t i = 0; i < w_count; ++i) {
      d->w_ref[i] = static_cast<float>(static_cast<int8_t>(d->w_ref[i] * 127.0f));
    }
    // Output scale: the accumulators' spread, sqrt(K) * 127^2 / 3 or so, onto about 60 steps.
    const auto k = static_cast<float>(p.in_channels_per_group() * p.taps());
    d->q = {{0.02f, 3},
            d->w_scales.get(),
            {0.02f * 0.005f * 127.0f * 127.0f * std::sqrt(k) / 60.0f, -5}};
  } else {
    d->input = stored_as<T>(&d->in_ref, in_count);
    for (size_t i = 0; i < w_count; ++i)
      d->w_ref[i] = sme2k::to_f32(sme2k::convert_to<T>(d->w_ref[i]));
    if (o.bias) d->bias = random_matrix(1, p.out_channels, p.out_channels, o.seed * 3 + 2);
    if (o.affine) {
      d->scale = random_matrix(1, p.out_channels, p.out_channels, o.seed * 3 + 3);
      d->shift = random_matrix(1, p.out_channels, p.out_channels, o.seed * 3 + 4);
      for (size_t co = 0; co < p.out_channels; ++co) d->scale[co] = 1.0f + 0.5f * d->scale[co];
    }
  }
  // The weights in the layout packing is given (w_ref holds the values, as T holds them).
  const size_t cin_g = p.in_channels_per_group();
  for (size_t co = 0; co < p.out_channels; ++co) {
    for (size_t ci = 0; ci < cin_g; ++ci) {
      for (size_t kh = 0; kh < p.kernel_height; ++kh) {
        for (size_t kw = 0; kw < p.kernel_width; ++kw) {
          const float v =
              d->w_ref[((co * cin_g + ci) * p.kernel_height + kh) * p.kernel_width + kw];
          T& stored = d->weights[weight_index(p, o.weights, co, ci, kh, kw)];
          if constexpr (ConvData<V, Out>::kQuantized) {
            stored = static_cast<int8_t>(v);
          } else {
            stored = sme2k::convert_to<T>(v);
          }
        }
      }
    }
  }
  // NaN (QS8: 77) everywhere: an output the op forgets to write shows up when checked.
  d->output = allocate<Out>(out_count);
  if constexpr (ConvData<V, Out>::kQuantized) {
    std::fill(d->output.get(), d->output.get() + out_count, int8_t{77});
  } else {
    std::fill(d->output.get(), d->output.get() + out_count,
              sme2k::convert_to<Out>(std::numeric_limits<float>::quiet_NaN()));
  }

  SME2K_RETURN_IF_ERROR(sme2k::conv2d_packed_weights_size<V>(p, &d->packed_bytes));
  d->packed = allocate<unsigned char>(d->packed_bytes);
  if constexpr (ConvData<V, Out>::kQuantized) {
    SME2K_RETURN_IF_ERROR(sme2k::conv2d_pack_weights<V>(p, d->weights.get(), o.weights,
                                                        o.bias ? d->bias_q.get() : nullptr, d->q,
                                                        d->packed.get(), d->packed_bytes));
  } else {
    SME2K_RETURN_IF_ERROR(sme2k::conv2d_pack_weights<V>(
        p, d->weights.get(), o.weights, d->bias.get(), d->packed.get(), d->packed_bytes));
  }
  SME2K_RETURN_IF_ERROR(
      sme2k::conv2d_workspace_size<V>(p, o.in_layout, o.out_layout, &d->workspace_bytes));
  d->workspace = allocate<unsigned char>(d->workspace_bytes);
  return sme2k::Status();
}

/// Checks the result against the direct convolution; returns the number of wrong outputs.
template <class V, class Out>
size_t verify_conv(const ConvOptions& o, const sme2k::Conv2dParams& p, const ConvData<V, Out>& d,
                   size_t* checked, size_t* saturated) {
  const size_t oh_n = p.out_height(), ow_n = p.out_width();
  size_t wrong = 0;
  const auto report = [&](size_t n, size_t co, size_t oh, size_t ow, double got, double want,
                          double bound) {
    if (++wrong <= 10) {
      std::fprintf(stderr,
                   "mismatch at (n=%zu, co=%zu, oh=%zu, ow=%zu): got %.9g, want %.9g, bound %.3g\n",
                   n, co, oh, ow, got, want, bound);
    }
  };
  // The float epilogue stages after the accumulator, as the GEMM reference applies them.
  sme2k::reference::GemmF32Problem stages;
  stages.k = p.in_channels_per_group() * p.taps();
  stages.activation = o.activation;
  stages.scale = d.scale.get(), stages.shift = d.shift.get();
  stages.clamp = o.clamp.active();
  stages.clamp_min = o.clamp.min, stages.clamp_max = o.clamp.max;
  for_conv_outputs(p, o.verify, [&](size_t n, size_t co, size_t oh, size_t ow) {
    ++*checked;
    const Out got = d.output[tensor_index(o.out_layout, p.out_channels, oh_n, ow_n, n, co, oh, ow)];
    if constexpr (ConvData<V, Out>::kQuantized) {
      int64_t acc = o.bias ? d.bias_q[co] : 0;
      const int32_t zp = d.q.input.zero_point;
      for_each_conv_tap(p, o.in_layout, n, co, oh, ow, [&](size_t x, size_t w) {
        acc += (int64_t{d.input[x]} - zp) * static_cast<int64_t>(d.w_ref[w]);
      });
      const float scale =
          sme2k::requantization_scale(d.q.input.scale, d.w_scales[co], d.q.output.scale);
      const int want =
          sme2k::requantize(static_cast<int32_t>(acc), scale, d.q.output.zero_point, -128, 127);
      *saturated += (want == -128 || want == 127) ? 1 : 0;
      if (got != want) report(n, co, oh, ow, got, want, 0.0);
    } else {
      double pre = d.bias ? static_cast<double>(d.bias[co]) : 0.0;
      double magnitude = std::fabs(pre);
      for_each_conv_tap(p, o.in_layout, n, co, oh, ow, [&](size_t x, size_t w) {
        const double product = static_cast<double>(d.in_ref[x]) * static_cast<double>(d.w_ref[w]);
        pre += product;
        magnitude += std::fabs(product);
      });
      const double want = sme2k::reference::finish(stages, pre, co);
      // f32 accumulation of K products and the bias (gamma_{K+1} u = 2^-24 times their
      // magnitudes), through the epilogue, then f16's rounding for f16 outputs.
      double bound = sme2k::reference::f32_epilogue_bound(stages, co, pre, magnitude, want);
      if (std::is_same_v<Out, sme2k::f16>)
        bound = sme2k::reference::f16_rounding_bound(want, bound);
      const double value = sme2k::to_f32(got);
      if (!(std::fabs(value - want) <= bound)) report(n, co, oh, ow, value, want, bound);
    }
  });
  return wrong;
}

template <class V, class Out>
int run_conv(const ConvOptions& o, const sme2k::Conv2dParams& p) {
  constexpr bool kQuantized = ConvData<V, Out>::kQuantized;
  if (kQuantized && (o.activation != sme2k::Activation::kNone || o.affine || o.clamp.active())) {
    std::fprintf(stderr, "sme2k-run conv2d: qs8 takes no --act, --affine, --clamp\n");
    return kExitUsage;
  }
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

  ConvData<V, Out> d;
  sme2k::Status status = prepare_conv(o, p, &d);
  sme2k::GemmEpilogue epilogue;
  epilogue.activation = o.activation;
  epilogue.affine = {d.scale.get(), d.shift.get()};
  epilogue.clamp = o.clamp;

  sme2k_roi_begin();
  if (status.ok()) {
    status = sme2k::conv2d<V, Out>(p, d.input.get(), o.in_layout, d.packed.get(), d.packed_bytes,
                                   d.output.get(), o.out_layout, epilogue, d.workspace.get(),
                                   d.workspace_bytes);
  }
  sme2k_roi_end();

  const sme2k::Path path = sme2k::last_used_path();
  const size_t svl_bits = sme2k::streaming_vector_bytes() * 8;
  const double macs = static_cast<double>(p.batch) * static_cast<double>(p.out_channels) *
                      static_cast<double>(p.out_height()) * static_cast<double>(p.out_width()) *
                      static_cast<double>(p.taps()) *
                      static_cast<double>(p.in_channels_per_group());
  char clamp[64] = "none";
  if (o.clamp.active()) {
    std::snprintf(clamp, sizeof clamp, "%g,%g", static_cast<double>(o.clamp.min),
                  static_cast<double>(o.clamp.max));
  }
  std::printf(
      "conv2d %s out=%s layout=%s:%s N=%zu Cin=%zu H=%zu W=%zu Cout=%zu kernel=%zux%zu "
      "stride=%zux%zu dilation=%zux%zu pad=%zu,%zu,%zu,%zu groups=%zu%s OH=%zu OW=%zu "
      "weights=%s bias=%s act=%s affine=%s clamp=%s MACs=%.0f path=%s svl=%zu cpu='%s' "
      "status=%s\n",
      o.variant,
      kQuantized                   ? "qs8"
      : std::is_same_v<Out, float> ? "f32"
                                   : "f16",
      sme2k::tensor_layout_name(o.in_layout), sme2k::tensor_layout_name(o.out_layout), p.batch,
      p.in_channels, p.in_height, p.in_width, p.out_channels, p.kernel_height, p.kernel_width,
      p.stride_height, p.stride_width, p.dilation_height, p.dilation_width, p.pad_top, p.pad_bottom,
      p.pad_left, p.pad_right, p.groups, p.depthwise() ? " (depthwise)" : "", p.out_height(),
      p.out_width(), conv_weight_layout_name(o.weights), o.bias ? "yes" : "no",
      sme2k::activation_name(o.activation), o.affine ? "yes" : "no", clamp, macs,
      status.ok() ? sme2k::path_name(path) : "-", svl_bits,
      sme2k::cpu_features_string(sme2k::cpu_features()).c_str(),
      status.ok() ? "ok" : sme2k::status_code_name(status.code()));
  if (!status.ok()) {
    std::fprintf(stderr, "sme2k-run: %s\n", status.message());
    return kExitFailure;
  }
  // ops/conv2d.hpp: depthwise takes its portable kernel where the SME2 one does not serve the
  // case (layouts, stride, multiplier), on any CPU; then only the SVL is held against the
  // expectations.
  const bool portable_depthwise = p.depthwise() && path == sme2k::Path::kPortable;
  if (portable_depthwise && sme2k::path_available(sme2k::Path::kSme2, sme2k::cpu_features())) {
    std::printf("note: depthwise ran on the portable kernel (the SME2 one does not serve it)\n");
  }
  if (forced && path != *forced && !portable_depthwise) {
    std::fprintf(stderr, "sme2k-run: forced path %s, took %s\n", sme2k::path_name(*forced),
                 sme2k::path_name(path));
    return kExitFailure;
  }

  if (o.verify == ConvVerify::kNone) std::printf("not verified (--verify none)\n");
  if (o.verify != ConvVerify::kNone) {
    size_t checked = 0, saturated = 0;
    const size_t wrong = verify_conv(o, p, d, &checked, &saturated);
    char extra[64] = "";
    if (kQuantized) std::snprintf(extra, sizeof extra, ", bit-exact; %zu saturated", saturated);
    std::printf(
        "verified %zu of %zu outputs (%s%s): %s\n", checked, sme2k::conv2d_output_elements(p),
        o.verify == ConvVerify::kFull || checked == sme2k::conv2d_output_elements(p) ? "full"
                                                                                     : "sample",
        extra, wrong == 0 ? "ok" : "MISMATCH");
    if (wrong != 0) {
      std::fprintf(stderr, "sme2k-run: %zu wrong output(s)\n", wrong);
      return kExitFailure;
    }
  }
  return meets_expectations(portable_depthwise ? PathChoice::kPortable : o.path, path, svl_bits)
             ? kExitOk
             : kExitFailure;
}

void conv2d_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run conv2d --variant f32|f16|qs8 [--layout IN:OUT] [--n N] [--cin C]\n"
               "                        [--h H] [--w W] [--cout C] [--k K] [options]\n\n");
  std::fprintf(out,
               "out = epilogue(conv2d(input, weights) + bias), input and output in their layouts;\n"
               "weights packed (conv2d_pack_weights) and the workspace allocated before the\n"
               "region, one conv2d call in it; then checked against a direct convolution (floats:\n"
               "within f32 accumulation's bound; qs8: bit-exact). MACs = N Cout OH OW KH KW "
               "Cin/groups.\nOptions:\n");
  print_options(out, kConvOptions);
}

int conv2d_verb(int argc, char** argv) {
  ConvOptions o;
  if (!parse_options(argc, argv, 2, kConvOptions, &o)) {
    conv2d_usage(stderr);
    return kExitUsage;
  }
  if (o.variant == nullptr) {
    std::fprintf(stderr, "sme2k-run conv2d: --variant is required\n");
    conv2d_usage(stderr);
    return kExitUsage;
  }
  const sme2k::Conv2dParams p = conv_params_of(o);
  const sme2k::Status valid = sme2k::validate_conv2d_params(p, "sme2k-run conv2d");
  if (!valid.ok()) {
    std::fprintf(stderr, "%s\n", valid.message());
    return kExitUsage;
  }
  const bool f32_out = o.out == OutChoice::kF32, f16_out = o.out == OutChoice::kF16;
  if (std::strcmp(o.variant, "f32") == 0 && !f16_out) return run_conv<sme2k::F32, float>(o, p);
  if (std::strcmp(o.variant, "f16") == 0) {
    return f32_out ? run_conv<sme2k::F16, float>(o, p) : run_conv<sme2k::F16, sme2k::f16>(o, p);
  }
  if (std::strcmp(o.variant, "qs8") == 0 && o.out == OutChoice::kDefault) {
    return run_conv<sme2k::QS8, int8_t>(o, p);
  }
  if (std::strcmp(o.variant, "f32") == 0 || std::strcmp(o.variant, "qs8") == 0) {
    std::fprintf(stderr, "sme2k-run conv2d: variant %s has no such output type\n", o.variant);
  } else {
    std::fprintf(stderr, "sme2k-run conv2d: unknown variant '%s'; known: f32 f16 qs8\n", o.variant);
  }
  return kExitUsage;
}

// ----------------------------------------------------------------------------- chain

struct ChainOptions {
  const char* variant = nullptr;
  sme2k::example::ChainWay way = sme2k::example::ChainWay::kFused;
  size_t channels = 64, size = 128;
};
constexpr std::pair<const char*, sme2k::example::ChainWay> kChainWayNames[] = {
    {"fused", sme2k::example::ChainWay::kFused},
    {"transposing", sme2k::example::ChainWay::kTransposing}};
using ChainSpec = OptionSpec<ChainOptions>;
const ChainSpec kChainOptions[] = {
    {"--variant", "f16|qs8", "numeric variant",
     [](const char* v, ChainOptions* o) {
       o->variant = v;
       return true;
     }},
    {"--way", "fused|transposing",
     "sme2k's (NCHW convs, BatchNorms fused) or a transposing runtime's (NHWC convs, "
     "transposes around an NCHW BatchNorm pass); default fused",
     [](const char* v, ChainOptions* o) { return parse_choice(v, kChainWayNames, &o->way); }},
    {"--channels", "C", "channels of the first block (default 64; the second has 2C)",
     [](const char* v, ChainOptions* o) { return parse_positive(v, &o->channels); }},
    {"--size", "S", "H = W of the first block (default 128; the second has S/2)",
     [](const char* v, ChainOptions* o) { return parse_positive(v, &o->size); }},
};

void chain_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run chain --variant f16|qs8 [--way fused|transposing] [--channels C]\n"
               "                       [--size S]\n\n"
               "The SqueezeSAM-like block chain of examples/block_chain.hpp (9 layers, NCHW\n"
               "tensors between them) run one way inside the region; weights packed and buffers\n"
               "allocated before it. Then run the other way and checked to agree.\nOptions:\n");
  print_options(out, kChainOptions);
}

template <class V>
int run_chain(const ChainOptions& o) {
  using T = typename sme2k::example::BlockChain<V>::T;
  sme2k::example::BlockChain<V> chain;
  sme2k::Status s = chain.build(o.channels, o.size);
  if (!s.ok()) {
    std::fprintf(stderr, "sme2k-run chain: %s\n", s.message());
    return kExitFailure;
  }
  std::vector<T> in(chain.input_elements()), out(chain.output_elements()),
      other(chain.output_elements()), a(chain.buffer_elements()), b(chain.buffer_elements());
  chain.fill_input(in.data());
  std::unique_ptr<uint8_t[]> workspace(new uint8_t[chain.workspace_bytes() + 1]);
  sme2k_roi_begin();
  s = chain.run(o.way, in.data(), out.data(), a.data(), b.data(), workspace.get());
  sme2k_roi_end();
  const sme2k::Path path = sme2k::last_used_path();
  const bool fused = o.way == sme2k::example::ChainWay::kFused;
  if (s.ok()) {
    s = chain.run(fused ? sme2k::example::ChainWay::kTransposing : sme2k::example::ChainWay::kFused,
                  in.data(), other.data(), a.data(), b.data(), workspace.get());
  }
  if (!s.ok()) {
    std::fprintf(stderr, "sme2k-run chain: %s\n", s.message());
    return kExitFailure;
  }
  const sme2k::example::ChainComparison c =
      fused ? chain.compare(out.data(), other.data()) : chain.compare(other.data(), out.data());
  std::printf(
      "chain %s %s: %zu ch @%zu, %zu layers, %zu MACs, path %s; max |fused - "
      "transposing| = %.3g (bound %.3g)\n",
      o.variant, fused ? "fused" : "transposing", o.channels, o.size, chain.layers().size(),
      chain.macs(), sme2k::path_name(path), c.worst, c.bound);
  if (!c.agree() || c.scale == 0.0) {
    std::fprintf(stderr, "sme2k-run chain: the two ways disagree (or the output is all zero)\n");
    return kExitFailure;
  }
  return kExitOk;
}

int chain_verb(int argc, char** argv) {
  ChainOptions o;
  if (!parse_options(argc, argv, 2, kChainOptions, &o) || o.variant == nullptr || o.size % 2 != 0) {
    chain_usage(stderr);
    return kExitUsage;
  }
  if (std::strcmp(o.variant, "f16") == 0) return run_chain<sme2k::F16>(o);
  if (std::strcmp(o.variant, "qs8") == 0) return run_chain<sme2k::QS8>(o);
  std::fprintf(stderr, "sme2k-run chain: variant '%s' not available (f16 or qs8)\n", o.variant);
  return kExitUsage;
}

// ------------------------------------------------------------------------- transpose

struct TransposeOptions {
  size_t bytes = 2;  // element size
  sme2k::TensorLayout from = sme2k::TensorLayout::kNCHW, to = sme2k::TensorLayout::kNHWC;
  size_t batch = 1, c = 64, h = 128, w = 128;
};
constexpr std::pair<const char*, size_t> kDtypeNames[] = {
    {"f32", 4}, {"f16", 2}, {"i8", 1}, {"int8", 1}};
using TransposeSpec = OptionSpec<TransposeOptions>;
const TransposeSpec kTransposeOptions[] = {
    {"--dtype", "f32|f16|i8", "element type (default f16)",
     [](const char* v, TransposeOptions* o) { return parse_choice(v, kDtypeNames, &o->bytes); }},
    {"--from", "nchw|nhwc", "source layout (default nchw)",
     [](const char* v, TransposeOptions* o) {
       return parse_choice(v, kTensorLayoutNames, &o->from);
     }},
    {"--to", "nchw|nhwc", "destination layout (default nhwc)",
     [](const char* v, TransposeOptions* o) {
       return parse_choice(v, kTensorLayoutNames, &o->to);
     }},
    {"--n", "N", "batch (default 1)",
     [](const char* v, TransposeOptions* o) { return parse_positive(v, &o->batch); }},
    {"--c", "C", "channels (default 64)",
     [](const char* v, TransposeOptions* o) { return parse_positive(v, &o->c); }},
    {"--h", "H", "height (default 128)",
     [](const char* v, TransposeOptions* o) { return parse_positive(v, &o->h); }},
    {"--w", "W", "width (default 128)",
     [](const char* v, TransposeOptions* o) { return parse_positive(v, &o->w); }},
};

void transpose_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run transpose [--dtype f32|f16|i8] [--from nchw|nhwc] [--to "
               "nchw|nhwc]\n                           [--n N] [--c C] [--h H] [--w W]\n\n"
               "One convert_layout call inside the region, then checked element by element.\n"
               "Its load/store bound on the M4 model: bytes / 64 + 1.28 x bytes / 64 cycles.\n"
               "Options:\n");
  print_options(out, kTransposeOptions);
}

template <class T>
int run_transpose(const TransposeOptions& o) {
  const size_t count = o.batch * o.c * o.h * o.w;
  std::vector<T> src(count), dst(count);
  for (size_t i = 0; i < count; ++i) {
    const auto bits = static_cast<uint32_t>(i * 2654435761u);
    std::memcpy(&src[i], &bits, sizeof(T));
  }
  sme2k_roi_begin();
  const sme2k::Status s =
      sme2k::convert_layout<T>(src.data(), o.from, dst.data(), o.to, o.batch, o.c, o.h, o.w);
  sme2k_roi_end();
  if (!s.ok()) {
    std::fprintf(stderr, "sme2k-run transpose: %s\n", s.message());
    return kExitFailure;
  }
  const size_t pixels = o.h * o.w;
  const auto at = [&](sme2k::TensorLayout layout, size_t n, size_t c, size_t p) {
    return layout == sme2k::TensorLayout::kNCHW ? (n * o.c + c) * pixels + p
                                                : (n * pixels + p) * o.c + c;
  };
  size_t wrong = 0;
  for (size_t n = 0; n < o.batch; ++n) {
    for (size_t c = 0; c < o.c; ++c) {
      for (size_t p = 0; p < pixels; ++p) {
        wrong += std::memcmp(&dst[at(o.to, n, c, p)], &src[at(o.from, n, c, p)], sizeof(T)) != 0;
      }
    }
  }
  std::printf("transpose %zu-byte %s -> %s: N=%zu C=%zu H=%zu W=%zu (%zu bytes), path %s: %s\n",
              sizeof(T), sme2k::tensor_layout_name(o.from), sme2k::tensor_layout_name(o.to),
              o.batch, o.c, o.h, o.w, count * sizeof(T), sme2k::path_name(sme2k::last_used_path()),
              wrong == 0 ? "ok" : "WRONG");
  return wrong == 0 ? kExitOk : kExitFailure;
}

int transpose_verb(int argc, char** argv) {
  TransposeOptions o;
  if (!parse_options(argc, argv, 2, kTransposeOptions, &o)) {
    transpose_usage(stderr);
    return kExitUsage;
  }
  if (o.bytes == 4) return run_transpose<float>(o);
  if (o.bytes == 2) return run_transpose<sme2k::f16>(o);
  return run_transpose<int8_t>(o);
}

// --------------------------------------------------------------------------------- verbs

/// One op per verb (DESIGN.md section 5): conv2d, pack-lhs, ... join this table.
struct Verb {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);  // argv[1] is the verb
  void (*usage)(std::FILE* out);
};
constexpr Verb kVerbs[] = {
    {"gemm", "C = clamp(A x B + bias), weights packed before the region", gemm_verb, gemm_usage},
    {"conv2d", "2D convolution (NCHW/NHWC, groups, depthwise), weights packed before the region",
     conv2d_verb, conv2d_usage},
    {"pack-rhs", "4-bit weights packed (qd8-qc4w), the one-time cost", pack_rhs_verb,
     pack_rhs_usage},
    {"pack-lhs", "activations quantized and packed for later GEMMs (qd8)", pack_lhs_verb,
     pack_lhs_usage},
    {"chain", "a SqueezeSAM-like block chain, fused or transposing (examples/block_chain.hpp)",
     chain_verb, chain_usage},
    {"transpose", "NCHW <-> NHWC layout conversion (convert_layout)", transpose_verb,
     transpose_usage},
    {"softmax", "softmax over rows (scale, mask), f32 / f16", softmax_verb, softmax_usage},
    SME2K_RUN_ROW_OP_VERBS SME2K_RUN_ATTENTION_VERBS};

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run VERB --variant NAME [options]   (sme2k-run VERB --help)\n"
               "Runs one sme2k op between sme2k_roi_begin() and sme2k_roi_end() for\n"
               "`insn-mix --roi`, then checks the result against the reference.\n"
               "Exit status: 0 ok, 1 sme2k error or wrong result, 2 bad command line.\n\n"
               "Verbs:\n");
  for (const auto& verb : kVerbs) std::fprintf(out, "  %-10s %s\n", verb.name, verb.summary);
}

bool is_help(const char* arg) {
  return std::strcmp(arg, "--help") == 0 || std::strcmp(arg, "-h") == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || is_help(argv[1])) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitUsage : kExitOk;
  }
  for (const auto& verb : kVerbs) {
    if (std::strcmp(argv[1], verb.name) != 0) continue;
    for (int i = 2; i < argc; ++i) {
      if (is_help(argv[i])) {
        verb.usage(stdout);
        return kExitOk;
      }
    }
    return verb.run(argc, argv);
  }
  std::fprintf(stderr, "sme2k-run: unknown verb '%s'\n", argv[1]);
  usage(stderr);
  return kExitUsage;
}
