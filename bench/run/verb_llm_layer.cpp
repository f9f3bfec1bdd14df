// sme2k-run llm-layer: one Llama-style decoder layer (examples/llm_layer.hpp) at prefill or at
// a decode step after a cached context, with the region around every op of the layer (--op all)
// or around one of them (--op NAME), so insn-mix attributes modeled cycles per op. The weights
// are packed and the context cached before the region; the layer's own setup (workspace
// sizing) runs before the first op. Correctness is the example's test (ctest llm_layer checks
// every op against f64 references); here the output must be finite.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "llm_layer.hpp"
#include "run/options.hpp"
#include "run/verbs.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k_run {
namespace {

using sme2k::example::LayerOp;

enum class LayerMode { kPrefill, kDecode };
constexpr std::pair<const char*, LayerMode> kModeNames[] = {{"prefill", LayerMode::kPrefill},
                                                            {"decode", LayerMode::kDecode}};

struct LayerOptions {
  LayerMode mode = LayerMode::kPrefill;
  size_t tokens = 256;    // prefill: T
  size_t context = 1024;  // decode: tokens in the cache before the step
  size_t hidden = 2048, q_heads = 32, kv_heads = 8, head_dim = 64, ffn = 5632;
  const char* op = "all";
  uint32_t seed = 1;
};

using LayerSpec = OptionSpec<LayerOptions>;
const LayerSpec kLayerOptions[] = {
    {"--mode", "prefill|decode", "prefill T tokens, or one decode step after --context tokens",
     [](const char* v, LayerOptions* o) { return parse_choice(v, kModeNames, &o->mode); }},
    {"--tokens", "T", "prefill: tokens (default 256)",
     [](const char* v, LayerOptions* o) { return parse_positive(v, &o->tokens); }},
    {"--context", "N", "decode: tokens already cached (default 1024)",
     [](const char* v, LayerOptions* o) { return parse_size(v, &o->context); }},
    {"--hidden", "H", "model width, = heads x head dim (default 2048)",
     [](const char* v, LayerOptions* o) { return parse_positive(v, &o->hidden); }},
    {"--hq", "N", "query heads (default 32)",
     [](const char* v, LayerOptions* o) { return parse_positive(v, &o->q_heads); }},
    {"--hkv", "N", "key/value heads (default 8)",
     [](const char* v, LayerOptions* o) { return parse_positive(v, &o->kv_heads); }},
    {"--d", "D", "head dimension (default 64)",
     [](const char* v, LayerOptions* o) { return parse_positive(v, &o->head_dim); }},
    {"--ffn", "F", "FFN width (default 5632)",
     [](const char* v, LayerOptions* o) { return parse_positive(v, &o->ffn); }},
    {"--op", "NAME|all", "the op(s) inside the region (default all; names: see --help)",
     [](const char* v, LayerOptions* o) {
       o->op = v;
       return true;
     }},
};

/// The ops the region covers, and whether the hooks are inside one.
struct Region {
  bool all;
  LayerOp only;
};

void begin_op(void* context, LayerOp op) {
  const auto* r = static_cast<const Region*>(context);
  if (r->all || op == r->only) sme2k_roi_begin();
}
void end_op(void* context, LayerOp op) {
  const auto* r = static_cast<const Region*>(context);
  if (r->all || op == r->only) sme2k_roi_end();
}

/// Multiply-adds of the outer-product work of `op` (GEMMs, and attention's causal Q K^T and
/// P V), for the share of the region that is not outer products.
double op_macs(const LayerOptions& o, LayerOp op, size_t t, size_t p0) {
  const double tt = static_cast<double>(t), h = static_cast<double>(o.hidden),
               kv = static_cast<double>(o.kv_heads * o.head_dim), f = static_cast<double>(o.ffn);
  switch (op) {
    case LayerOp::kQkvProj: return tt * (h + 2 * kv) * h;
    case LayerOp::kOutProj: return tt * h * h;
    case LayerOp::kGateProj:
    case LayerOp::kUpProj: return tt * f * h;
    case LayerOp::kDownProj: return tt * h * f;
    case LayerOp::kAttention: {
      double keys = 0;  // query s sees keys [0, p0 + s]
      for (size_t s = 0; s < t; ++s) keys += static_cast<double>(p0 + s + 1);
      return 2.0 * keys * static_cast<double>(o.q_heads * o.head_dim);
    }
    default: return 0;
  }
}

}  // namespace

void llm_layer_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run llm-layer [--mode prefill|decode] [--tokens T] [--context N]\n"
               "                           [--hidden H --hq N --hkv N --d D --ffn F] [--op "
               "NAME|all]\n\n"
               "One decoder layer (RMSNorm, QKV projection QD8QC4W, RoPE, K/V append, causal GQA\n"
               "attention F16, output projection, residual, RMSNorm, gate (SiLU) and up\n"
               "projections, their product, down projection, residual); ops:");
  for (size_t i = 0; i < static_cast<size_t>(LayerOp::kCount); ++i) {
    std::fprintf(out, " %s", sme2k::example::layer_op_name(static_cast<LayerOp>(i)));
  }
  std::fprintf(out, "\nOptions:\n");
  print_options(out, kLayerOptions);
}

int llm_layer_verb(int argc, char** argv) {
  LayerOptions o;
  if (!parse_options(argc, argv, 2, kLayerOptions, &o)) {
    llm_layer_usage(stderr);
    return kExitUsage;
  }
  Region region{std::strcmp(o.op, "all") == 0, LayerOp::kCount};
  for (size_t i = 0; !region.all && i < static_cast<size_t>(LayerOp::kCount); ++i) {
    if (std::strcmp(o.op, sme2k::example::layer_op_name(static_cast<LayerOp>(i))) == 0) {
      region.only = static_cast<LayerOp>(i);
    }
  }
  if (!region.all && region.only == LayerOp::kCount) {
    std::fprintf(stderr, "sme2k-run llm-layer: unknown op '%s'\n", o.op);
    llm_layer_usage(stderr);
    return kExitUsage;
  }
  const bool decode = o.mode == LayerMode::kDecode;
  const size_t t = decode ? 1 : o.tokens, p0 = decode ? o.context : 0;
  sme2k::example::LlmLayerConfig c;
  c.hidden = o.hidden;
  c.q_heads = o.q_heads;
  c.kv_heads = o.kv_heads;
  c.head_dim = o.head_dim;
  c.ffn = o.ffn;
  c.cache_capacity = p0 + t + 16;  // a cache larger than the context, as runtimes keep
  sme2k::example::LlmLayer layer;
  sme2k::Status s = layer.init(c, o.seed);
  if (s.ok() && p0 > 0) {
    // A context of synthetic keys and values (|v| <= 1 in f16), as a previous prefill left it.
    const size_t kv = c.kv_heads * c.head_dim;
    std::vector<sme2k::f16> k(p0 * kv), v(p0 * kv);
    for (size_t i = 0; i < k.size(); ++i) {
      k[i] = sme2k::to_f16(static_cast<float>(std::sin(0.37 * static_cast<double>(i))));
      v[i] = sme2k::to_f16(static_cast<float>(std::cos(0.23 * static_cast<double>(i))));
    }
    s = layer.set_cache(k.data(), v.data(), p0);
  }
  std::vector<float> x(t * c.hidden);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(std::sin(0.11 * static_cast<double>(i)));
  const sme2k::example::LayerHooks hooks{begin_op, end_op, &region};
  if (s.ok()) s = layer.forward(x.data(), t, hooks);
  bool finite = true;
  for (float v : x) finite = finite && std::isfinite(v);
  double macs = 0;
  for (size_t i = 0; i < static_cast<size_t>(LayerOp::kCount); ++i) {
    const auto op = static_cast<LayerOp>(i);
    if (region.all || op == region.only) macs += op_macs(o, op, t, p0);
  }
  std::printf(
      "llm-layer mode=%s T=%zu context=%zu hidden=%zu hq=%zu hkv=%zu d=%zu ffn=%zu op=%s "
      "outer-product MACs=%.0f path=%s status=%s output=%s\n",
      decode ? "decode" : "prefill", t, p0, c.hidden, c.q_heads, c.kv_heads, c.head_dim, c.ffn,
      o.op, macs, sme2k::path_name(sme2k::last_used_path()),
      s.ok() ? "ok" : sme2k::status_code_name(s.code()), finite ? "finite" : "NOT FINITE");
  if (!s.ok()) {
    std::fprintf(stderr, "sme2k-run llm-layer: %s\n", s.message());
    return kExitFailure;
  }
  return finite ? kExitOk : kExitFailure;
}

}  // namespace sme2k_run
