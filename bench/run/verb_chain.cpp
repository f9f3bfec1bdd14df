// sme2k-run chain: the SqueezeSAM-like block chain of examples/block_chain.hpp run one way
// inside the region, then the other way outside it, and the two checked to agree.
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "block_chain.hpp"
#include "run/options.hpp"
#include "run/verbs.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k_run {
namespace {

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

}  // namespace

void chain_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run chain --variant f16|qs8 [--way fused|transposing] [--channels C]\n"
               "                       [--size S]\n\n"
               "The SqueezeSAM-like block chain of examples/block_chain.hpp (9 layers, NCHW\n"
               "tensors between them) run one way inside the region; weights packed and buffers\n"
               "allocated before it. Then run the other way and checked to agree.\nOptions:\n");
  print_options(out, kChainOptions);
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

}  // namespace sme2k_run
