// KleidiAI side by side with sme2k in sme2k_bench: BM_gemm/kleidiai/<variant>/M/N/K and
// BM_conv2d/kleidiai/<variant>/K/Cin/Cout/H, compiled in when scripts/setup extracted
// Debian's libkleidiai-dev (SME2K_BENCH_KLEIDIAI). Each iteration does what a runtime does
// per inference with KleidiAI (kleidiai_ops.hpp: activation packing or quantization, the
// kernel over the whole output; weights packed before timing); the result is checked once
// timing ends and a failure makes sme2k_bench exit 1. On a device, compare with
// BM_gemm/<variant>/sme2/... and BM_conv2d/<variant>/sme2/... of the same shapes.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "bench_support.hpp"
#include "kleidiai_ops.hpp"

namespace {

/// KleidiAI's kernels are SME2 only: without SME2 the benchmark is skipped.
bool have_sme2(benchmark::State& state) {
  const std::string why = sme2k_bench::unavailable_reason(sme2k::Path::kSme2);
  if (why.empty()) return true;
  sme2k_bench::skip(state, "KleidiAI: " + why);
  return false;
}

void finish(benchmark::State& state, const sme2k_kleidiai::Op& op, double macs) {
  const std::string wrong = op.check();
  if (!wrong.empty()) return sme2k_bench::fail(state, wrong);
  state.SetLabel(op.kernel());
  state.counters["MAC/s"] = benchmark::Counter(macs, benchmark::Counter::kIsIterationInvariantRate);
}

void bm_gemm(benchmark::State& state, const std::string& variant) {
  if (!have_sme2(state)) return;
  const auto m = static_cast<size_t>(state.range(0)), n = static_cast<size_t>(state.range(1)),
             k = static_cast<size_t>(state.range(2));
  std::string why;
  const auto op = sme2k_kleidiai::make_gemm(variant, m, n, k, &why);
  if (!op) return sme2k_bench::fail(state, why);
  for (auto _ : state) {
    op->run();
    benchmark::ClobberMemory();
  }
  finish(state, *op, static_cast<double>(m * n * k));
}

void bm_conv2d(benchmark::State& state, const std::string& variant) {
  if (!have_sme2(state)) return;
  const auto kernel = static_cast<size_t>(state.range(0)),
             cin = static_cast<size_t>(state.range(1)), cout = static_cast<size_t>(state.range(2)),
             hw = static_cast<size_t>(state.range(3));
  std::string why;
  const auto op = sme2k_kleidiai::make_conv(variant, kernel, cin, cout, hw, &why);
  if (!op) return sme2k_bench::fail(state, why);
  for (auto _ : state) {
    op->run();
    benchmark::ClobberMemory();
  }
  finish(state, *op, static_cast<double>(hw * hw * cout * kernel * kernel * cin));
}

}  // namespace

/// Called from sme2k_bench's main.
void register_kleidiai_benchmarks() {
  // A square layer, a transformer FFN slice and a decode step (GEMV kernels), as BM_gemm.
  for (const char* variant : {"f32", "f16", "qs8", "qd8-qc4w", "qd8-qb4w"}) {
    auto* b = benchmark::RegisterBenchmark(("BM_gemm/kleidiai/" + std::string(variant)).c_str(),
                                           bm_gemm, std::string(variant));
    b->ArgNames({"M", "N", "K"})->Unit(benchmark::kMicrosecond);
    b->Args({256, 256, 256})->Args({256, 2048, 2048})->Args({1, 2048, 2048});
  }
  // 3x3 layers of the conv2d suite's shapes (NHWC: KleidiAI's imatmul has no NCHW form).
  for (const char* variant : {"f16", "qs8"}) {
    auto* b = benchmark::RegisterBenchmark(("BM_conv2d/kleidiai/" + std::string(variant)).c_str(),
                                           bm_conv2d, std::string(variant));
    b->ArgNames({"K", "Cin", "Cout", "H"})->Unit(benchmark::kMicrosecond);
    b->Args({3, 64, 64, 64})->Args({3, 128, 128, 64})->Args({1, 256, 256, 32});
  }
}
