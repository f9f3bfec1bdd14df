// Runs the SqueezeSAM-like block chain (examples/block_chain.hpp) both ways, sme2k's fused
// way and the transposing way of a runtime whose BatchNorm stays NCHW, in F16 and QS8, and
// checks that they agree (F16: within the stated bound; QS8: bit for bit).
//
//   block_chain [CHANNELS SIZE]      (default 64 128: the chain)
#include "block_chain.hpp"

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

template <class V>
bool run_both_ways(const char* name, size_t channels, size_t size) {
  using namespace sme2k;
  using T = typename example::BlockChain<V>::T;
  example::BlockChain<V> chain;
  Status s = chain.build(channels, size);
  std::vector<T> in(chain.input_elements()), fused(chain.output_elements()),
      transposing(chain.output_elements()), a(chain.buffer_elements()), b(chain.buffer_elements());
  std::vector<unsigned char> workspace(chain.workspace_bytes() + 1);
  chain.fill_input(in.data());
  if (s.ok()) {
    s = chain.run(example::ChainWay::kFused, in.data(), fused.data(), a.data(), b.data(),
                  workspace.data());
  }
  if (s.ok()) {
    s = chain.run(example::ChainWay::kTransposing, in.data(), transposing.data(), a.data(),
                  b.data(), workspace.data());
  }
  if (!s.ok()) {
    std::fprintf(stderr, "block_chain %s: %s\n", name, s.message());
    return false;
  }
  const example::ChainComparison c = chain.compare(fused.data(), transposing.data());
  std::printf(
      "block chain %s %zu ch @%zu: %zu layers, path %s, max |fused - transposing| = %.3g "
      "(bound %.3g, outputs up to %.3g)\n",
      name, channels, size, chain.layers().size(), path_name(last_used_path()), c.worst, c.bound,
      c.scale);
  // An all-zero output would agree trivially: the chain must carry a signal through.
  return c.agree() && c.scale > 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t channels = argc > 2 ? std::strtoul(argv[1], nullptr, 10) : 64;
  const size_t size = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 128;
  const bool f16_ok = run_both_ways<sme2k::F16>("f16", channels, size);
  const bool qs8_ok = run_both_ways<sme2k::QS8>("qs8", channels, size);
  return f16_ok && qs8_ok ? 0 : 1;
}
