// Runs the SqueezeSAM-like block chain (examples/block_chain.hpp) both ways, sme2k's fused
// way and the transposing way of a runtime whose BatchNorm stays NCHW, and checks that they
// agree.
//
//   block_chain [CHANNELS SIZE]      (default 64 128: the chain)
#include "block_chain.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  using namespace sme2k;
  const size_t channels = argc > 2 ? std::strtoul(argv[1], nullptr, 10) : 64;
  const size_t size = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 128;
  example::BlockChain chain;
  Status s = chain.build(channels, size);
  if (!s.ok()) {
    std::fprintf(stderr, "block_chain: %s\n", s.message());
    return 1;
  }
  std::vector<f16> in(chain.input_elements()), fused(chain.output_elements()),
      transposing(chain.output_elements()), a(chain.buffer_elements()), b(chain.buffer_elements());
  for (size_t i = 0; i < in.size(); ++i) {
    in[i] = convert_to<f16>(std::sin(0.37f * static_cast<float>(i % 1013)));
  }
  void* workspace = std::malloc(chain.workspace_bytes() + 1);
  s = chain.run(example::ChainWay::kFused, in.data(), fused.data(), a.data(), b.data(), workspace);
  if (s.ok()) {
    s = chain.run(example::ChainWay::kTransposing, in.data(), transposing.data(), a.data(),
                  b.data(), workspace);
  }
  std::free(workspace);
  if (!s.ok()) {
    std::fprintf(stderr, "block_chain: %s\n", s.message());
    return 1;
  }
  double worst = 0.0, scale = 0.0;
  for (size_t i = 0; i < fused.size(); ++i) {
    const double x = to_f32(fused[i]), y = to_f32(transposing[i]);
    if (!std::isfinite(x) || !std::isfinite(y)) {
      std::fprintf(stderr, "block_chain: output %zu is not finite (%g, %g)\n", i, x, y);
      return 1;
    }
    worst = std::fmax(worst, std::fabs(x - y));
    scale = std::fmax(scale, std::fabs(x));
  }
  const double bound = chain.tolerance(scale);
  std::printf(
      "block chain %zu ch @%zu: %zu layers, path %s, max |fused - transposing| = %.3g "
      "(bound %.3g, outputs up to %.3g)\n",
      channels, size, chain.layers().size(), path_name(last_used_path()), worst, bound, scale);
  return worst <= bound ? 0 : 1;
}
