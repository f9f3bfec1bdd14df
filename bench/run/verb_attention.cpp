// sme2k-run attention: one attention() call between sme2k_roi_begin() and sme2k_roi_end();
// the inputs are made and the workspace allocated before. The
// result is then checked against the f64 reference (test/reference/attention.hpp) within its
// stated bound; a mismatch exits 1. Inputs come from an integer hash (cheap outside the
// region); above 64 (batch, head, query) rows a deterministic sample of 64 is checked.
//
//   sme2k-run attention --variant f16 --batch 1 --hq 32 --hkv 8 --d 64 --sq 256 --skv 256
//                       [--causal] [--window N] [--bias] [--out f32|f16] [--layout bhsd|bshd]
//                       [--unfused]
//
// --unfused runs sme2k's own way without the fused op instead, as a runtime would chain it:
// batch_matmul (Q K^T, f32 scores, the query heads of a KV group stacked as rows), softmax
// per head (scale, the masks as one additive [Sq, Skv] mask made before the region; P in the
// input type) and batch_matmul (P V). All of it inside the region, every key computed (the
// chain cannot skip masked blocks); checked against the same reference.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "reference/attention.hpp"
#include "run/options.hpp"
#include "run/verbs.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k_run {
namespace {

namespace reference = sme2k::reference;

struct AttentionOptions {
  bool f16 = true, f32_out = false, causal = false, bias = false, bshd = false;
  bool unfused = false, plan = false;
  bool variant_given = false;
  OutChoice out = OutChoice::kDefault;
  size_t batch = 1, hq = 32, hkv = 8, d = 64, sq = 256, skv = 256, window = 0;
};

constexpr std::pair<const char*, bool> kF16Names[] = {{"f32", false}, {"f16", true}};
constexpr std::pair<const char*, bool> kBshdNames[] = {{"bhsd", false}, {"bshd", true}};

template <bool AttentionOptions::* Flag>
bool set_flag(const char*, AttentionOptions* o) {
  o->*Flag = true;
  return true;
}
template <size_t AttentionOptions::* Count>
bool parse_count(const char* v, AttentionOptions* o) {
  return parse_positive(v, &(o->*Count));
}

using AttentionSpec = OptionSpec<AttentionOptions>;
const AttentionSpec kAttentionOptions[] = {
    {"--variant", "f16|f32", "numeric variant (required)",
     [](const char* v, AttentionOptions* o) {
       return o->variant_given = parse_choice(v, kF16Names, &o->f16);
     }},
    {"--out", "f32|f16", "output type",
     [](const char* v, AttentionOptions* o) { return parse_choice(v, kOutNames, &o->out); }},
    {"--layout", "bhsd|bshd", "layout",
     [](const char* v, AttentionOptions* o) { return parse_choice(v, kBshdNames, &o->bshd); }},
    {"--batch", "B", "batch", parse_count<&AttentionOptions::batch>},
    {"--hq", "H", "query heads", parse_count<&AttentionOptions::hq>},
    {"--hkv", "H", "key/value heads", parse_count<&AttentionOptions::hkv>},
    {"--d", "D", "head dimension", parse_count<&AttentionOptions::d>},
    {"--sq", "S", "queries", parse_count<&AttentionOptions::sq>},
    {"--skv", "S", "keys", parse_count<&AttentionOptions::skv>},
    {"--window", "N", "sliding window (0: none)",
     [](const char* v, AttentionOptions* o) { return parse_size(v, &o->window); }},
    {"--causal", nullptr, "causal mask", set_flag<&AttentionOptions::causal>},
    {"--bias", nullptr, "an additive [Sq, Skv] mask", set_flag<&AttentionOptions::bias>},
    {"--unfused", nullptr, "sme2k's chain without the fused op",
     set_flag<&AttentionOptions::unfused>},
    {"--plan", nullptr, "print the op's plan (kernel, path, tasks, workspace)",
     set_flag<&AttentionOptions::plan>},
};

/// The options, checked; false (with the reason printed) on anything unknown or malformed.
bool parse(int argc, char** argv, AttentionOptions* o) {
  if (!parse_options(argc, argv, 2, kAttentionOptions, o)) return false;
  if (!o->variant_given) {
    std::fprintf(stderr, "sme2k-run attention: --variant f16|f32 is required\n");
  }
  o->f32_out = !o->f16 || o->out == OutChoice::kF32;
  if (!o->f16 && o->out == OutChoice::kF16) {
    std::fprintf(stderr, "sme2k-run attention: f32 writes f32 only\n");
    return false;
  }
  if (o->unfused && o->bshd) {
    std::fprintf(stderr, "sme2k-run attention: --unfused reads [B,H,S,D] only\n");
    return false;
  }
  return o->variant_given;
}

// A value in [-1, 1) with 10 significant bits (exact in f16) from an integer hash.
inline float hashed(size_t i, uint32_t salt) {
  const auto h = static_cast<uint32_t>(i * 2654435761u + salt * 40503u) >> 8;
  return static_cast<float>(static_cast<int>(h % 2048) - 1024) / 1024.0f;
}

/// A [B, H, S, D] operand in either layout.
template <class T>
struct Operand {
  std::vector<T> data;
  reference::AttentionStrides strides;
  Operand(size_t b, size_t h, size_t s, size_t d, bool bshd, uint32_t salt) {
    strides = bshd ? reference::AttentionStrides{s * h * d, d, h * d}
                   : reference::AttentionStrides{h * s * d, s * d, d};
    data.resize(b * h * s * d);
    for (size_t i = 0; i < data.size(); ++i) data[i] = sme2k::convert_to<T>(hashed(i, salt));
  }
  sme2k::HeadsView<T> view() { return {data.data(), strides.batch, strides.head, strides.seq}; }
};

/// The unfused chain of the header, on [B,H,S,D] operands (heads of a KV group are
/// consecutive, so they stack as the rows of one batch item). Its kernel names go in *kernel.
template <class V, class Out, class In>
sme2k::Status run_unfused(const AttentionOptions& o, const reference::AttentionProblem& p,
                          const In* q, const In* k, const In* v, Out* out, std::string* kernel) {
  const size_t group = o.hq / o.hkv, items = o.batch * o.hkv, rows = group * o.sq;
  // The masks as one additive mask (made outside the region, as a runtime holds its mask).
  std::vector<float> mask(o.sq * o.skv);
  bool masked = false;
  for (size_t i = 0; i < o.sq; ++i) {
    for (size_t j = 0; j < o.skv; ++j) {
      float m = reference::attention_sees(p, i, j) ? 0.0f : -INFINITY;
      if (p.bias != nullptr && m == 0.0f) m = p.bias[i * p.bias_ld + j];
      mask[i * o.skv + j] = m;
      masked = masked || m != 0.0f;
    }
  }
  std::vector<float> scores(items * rows * o.skv);
  std::vector<In> probs(scores.size());
  size_t qk_bytes = 0, pv_bytes = 0;
  SME2K_RETURN_IF_ERROR(sme2k::batch_matmul_workspace_size<V>(items, rows, o.skv, o.d, &qk_bytes));
  SME2K_RETURN_IF_ERROR(sme2k::batch_matmul_workspace_size<V>(items, rows, o.d, o.skv, &pv_bytes));
  std::vector<uint8_t> workspace(std::max(qk_bytes, pv_bytes));
  sme2k::SoftmaxParams sp;
  sp.scale = static_cast<float>(p.scale);  // an f32 value (the op's default)
  sp.mask = masked ? mask.data() : nullptr;
  sp.mask_ld = o.skv;
  sme2k_roi_begin();
  sme2k::Status s = sme2k::batch_matmul<V, float>(
      items, {q, rows, o.d, o.d}, rows * o.d, {k, o.skv, o.d, o.d}, sme2k::RhsLayout::kNxK,
      o.skv * o.d, {scores.data(), rows, o.skv, o.skv}, rows * o.skv, {}, workspace.data(),
      workspace.size());
  // One softmax per head when a mask is given (it is [Sq, Skv]); one for all rows otherwise.
  const size_t calls = masked ? items * group : 1, call_rows = masked ? o.sq : items * rows;
  for (size_t h = 0; s.ok() && h < calls; ++h) {
    const size_t at = h * call_rows * o.skv;
    s = sme2k::softmax<float, In>({scores.data() + at, call_rows, o.skv, o.skv},
                                  {probs.data() + at, call_rows, o.skv, o.skv}, sp);
  }
  if (s.ok()) {
    s = sme2k::batch_matmul<V, Out>(items, {probs.data(), rows, o.skv, o.skv}, rows * o.skv,
                                    {v, o.skv, o.d, o.d}, sme2k::RhsLayout::kKxN, o.skv * o.d,
                                    {out, rows, o.d, o.d}, rows * o.d, {}, workspace.data(),
                                    workspace.size());
  }
  sme2k_roi_end();
  *kernel = std::string("batch_matmul + ") + sme2k::softmax_kernel_name<float, In>() + " x" +
            std::to_string(calls) + " + batch_matmul";
  return s;
}

template <class V, class Out>
int run(const AttentionOptions& o) {
  using In = typename sme2k::VariantTraits<V>::Lhs;
  Operand<In> q(o.batch, o.hq, o.sq, o.d, o.bshd, 1), k(o.batch, o.hkv, o.skv, o.d, o.bshd, 2),
      v(o.batch, o.hkv, o.skv, o.d, o.bshd, 3);
  Operand<Out> out(o.batch, o.hq, o.sq, o.d, o.bshd, 4);
  std::vector<float> bias(o.bias ? o.sq * o.skv : 0);
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = hashed(i, 5);
  const sme2k::AttentionShape shape{o.batch, o.hq, o.hkv, o.sq, o.skv, o.d};
  sme2k::AttentionParams params;
  params.mask.causal = o.causal;
  params.mask.window = o.window;
  if (o.bias) params.mask.bias = bias.data(), params.mask.bias_ld = o.skv;
  reference::AttentionProblem p;
  p.batch = o.batch, p.q_heads = o.hq, p.kv_heads = o.hkv, p.q_len = o.sq, p.kv_len = o.skv;
  p.head_dim = o.d, p.q = q.strides, p.k = k.strides, p.v = v.strides;
  p.scale = 1.0f / std::sqrt(static_cast<float>(o.d));  // the op's default, in f32 as it is
  p.causal = o.causal, p.window = o.window;
  p.bias = params.mask.bias, p.bias_ld = o.skv;
  sme2k::OpPlan plan;
  std::string kernel;
  sme2k::Status s;
  if (o.unfused) {
    s = run_unfused<V, Out>(o, p, q.data.data(), k.data.data(), v.data.data(), out.data.data(),
                            &kernel);
    plan.path = sme2k::last_used_path(), plan.tasks = 1;
  } else {
    s = sme2k::attention_plan<V, Out>(shape, &plan);
    std::vector<uint8_t> workspace(s.ok() ? plan.workspace_bytes : 0);
    if (s.ok()) {
      sme2k_roi_begin();
      s = sme2k::attention<V, Out>(shape, q.view(), k.view(), v.view(), out.view(), params,
                                   workspace.data(), workspace.size());
      sme2k_roi_end();
    }
    kernel = plan.kernel.data();
    if (s.ok() && o.plan) print_plan("attention", plan);  // outside the region, after it
  }
  if (!s.ok()) {
    std::fprintf(stderr, "sme2k-run attention: %s\n", s.message());
    return kExitFailure;
  }
  reference::AttentionErrorModel em = reference::attention_error_model(
      plan.path != sme2k::Path::kPortable, std::is_same_v<In, sme2k::f16>);
  if (o.unfused && std::is_same_v<In, sme2k::f16>) {
    em = {std::max(em.eps_exp, 1e-4), std::ldexp(1.0, -11)};  // softmax's exp, P rounded to f16
  }
  const size_t rows = o.batch * o.hq * o.sq, checked = rows <= 64 ? rows : 64;
  std::vector<double> want(o.d), weighted(o.d);
  size_t wrong = 0;
  double worst = 0;  // largest |error| / tolerance
  for (size_t n = 0; n < checked; ++n) {
    const size_t r = rows <= 64 ? n : (n * 2654435761u + 7) % rows;
    const size_t b = r / (o.hq * o.sq), h = r / o.sq % o.hq, i = r % o.sq;
    double term = 0;
    reference::attention_row(p, q.data.data(), k.data.data(), v.data.data(), b, h, i, want.data(),
                             weighted.data(), &term);
    const Out* row =
        out.data.data() + b * out.strides.batch + h * out.strides.head + i * out.strides.seq;
    for (size_t c = 0; c < o.d; ++c) {
      const double tol = reference::attention_tolerance(em, o.d, o.skv, term, weighted[c], want[c],
                                                        std::is_same_v<Out, sme2k::f16>);
      const double err = std::fabs(sme2k::to_f32(row[c]) - want[c]);
      if (!(err <= tol)) ++wrong;
      if (tol > 0 && err / tol > worst) worst = err / tol;
    }
  }
  std::printf(
      "attention %s -> %s: B=%zu Hq=%zu Hkv=%zu D=%zu Sq=%zu Skv=%zu%s%s%s %s, kernel %s "
      "(path %s, %zu task, workspace %zu bytes): %zu rows checked, worst error %.3g of the "
      "bound: %s\n",
      o.f16 ? "f16" : "f32", std::is_same_v<Out, float> ? "f32" : "f16", o.batch, o.hq, o.hkv, o.d,
      o.sq, o.skv, o.causal ? " causal" : "", o.window ? " window" : "", o.bias ? " bias" : "",
      o.bshd ? "bshd" : "bhsd", kernel.c_str(), sme2k::path_name(sme2k::last_used_path()),
      plan.tasks, plan.workspace_bytes, checked, worst, wrong == 0 ? "ok" : "WRONG");
  return wrong == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void attention_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run attention --variant f16|f32 [--batch B] [--hq H] [--hkv H]\n"
               "                           [--d D] [--sq S] [--skv S] [--causal] [--window N]\n"
               "                           [--bias] [--out f32|f16] [--layout bhsd|bshd]\n"
               "                           [--unfused] [--plan]\n\n"
               "One attention() call inside the region (inputs made and the workspace\n"
               "allocated before), then checked against the f64 reference within its bound\n"
               "(a sample of 64 rows above 64). Defaults: B 1, Hq 32, Hkv 8, D 64, Sq = Skv =\n"
               "256, no mask, f16 out for f16, [B,H,S,D]; --bias: one float [Sq, Skv] mask\n"
               "shared by all heads; --window 0: none. --unfused: sme2k's chain without the\n"
               "fused op (batch_matmul, softmax per head, batch_matmul) in the region instead.\n"
               "--plan: print the op's plan (kernel, path, tasks, workspace).\n");
}

int attention_verb(int argc, char** argv) {
  AttentionOptions o;
  if (!parse(argc, argv, &o)) {
    attention_usage(stderr);
    return kExitUsage;
  }
  if (!o.f16) return run<sme2k::F32, float>(o);
  if (o.f32_out) return run<sme2k::F16, float>(o);
  return run<sme2k::F16, sme2k::f16>(o);
}

}  // namespace sme2k_run
