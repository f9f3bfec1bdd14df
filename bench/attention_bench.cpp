// Google Benchmark suite of attention() at LLM shapes: BM_attention/<variant>/<path> with
// named arguments B, Hq, Hkv, D, Sq, Skv, causal, e.g.
// BM_attention/f16/sme2/B:1/Hq:32/Hkv:8/D:64/Sq:256/Skv:256/causal:1 (prefill) and
// .../Sq:1/Skv:4096/causal:1 (decode against a 4096-token cache; Sq:4 for four draft tokens).
// The label names the kernel the plan picked (prefill or decode).
//
// One benchmark per path, forced with testing::ScopedForcePath; a path the CPU cannot run,
// or one with no attention kernel of its own in the registry, is skipped with the reason.
// Inputs and the workspace are made before timing; afterwards a sample of rows is checked
// against the f64 reference within its bound, and the program exits 1 if any check failed.
// FLOP/s counts the 4 D flops of each (query, visible key) pair of the Q K^T and P V
// products; bytes/s the Q, K, V and O bytes.
//
// Under QEMU, run with --benchmark_min_time=0: one iteration per benchmark (scripts/bench).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "bench_support.hpp"
#include "reference/attention.hpp"
#include "sme2k/sme2k.hpp"

namespace {

using sme2k_bench::fail;
using sme2k_bench::g_failures;
using sme2k_bench::random_values;
using sme2k_bench::skip;
using sme2k_bench::unavailable_reason;

struct Args {
  size_t b, hq, hkv, d, sq, skv;
  bool causal;
};

Args args_of(const benchmark::State& state) {
  const auto at = [&](int i) { return static_cast<size_t>(state.range(i)); };
  return {at(0), at(1), at(2), at(3), at(4), at(5), state.range(6) != 0};
}

/// (query, key) pairs the causal rule leaves, per head.
double visible_pairs(const Args& a) {
  if (!a.causal) return static_cast<double>(a.sq) * static_cast<double>(a.skv);
  double pairs = 0;
  for (size_t i = 0; i < a.sq; ++i) pairs += static_cast<double>(a.skv - a.sq + i + 1);
  return pairs;
}

template <class T>
std::vector<T> stored_as(size_t count, uint32_t seed) {
  const std::vector<float> f = random_values(count, seed);
  std::vector<T> v(count);
  for (size_t i = 0; i < count; ++i) v[i] = sme2k::convert_to<T>(f[i]);
  return v;
}

template <class V, class Out>
void bm_attention(benchmark::State& state, sme2k::Path path) {
  using In = typename sme2k::VariantTraits<V>::Lhs;
  const std::string why = unavailable_reason(path);
  if (!why.empty()) return skip(state, why);
  const sme2k::testing::ScopedForcePath force(path);
  const Args a = args_of(state);
  const sme2k::AttentionShape shape{a.b, a.hq, a.hkv, a.sq, a.skv, a.d};
  sme2k::OpPlan plan;
  sme2k::Status s = sme2k::attention_plan<V, Out>(shape, &plan);
  if (!s.ok()) return fail(state, s.message());
  if (plan.path != path) {
    return skip(state, std::string("no attention kernel of path ") + sme2k::path_name(path) +
                           " in the registry (runs " + std::string(plan.kernel) + ")");
  }
  // [B, H, S, D] dense
  const std::vector<In> q = stored_as<In>(a.b * a.hq * a.sq * a.d, 1);
  const std::vector<In> k = stored_as<In>(a.b * a.hkv * a.skv * a.d, 2);
  const std::vector<In> v = stored_as<In>(a.b * a.hkv * a.skv * a.d, 3);
  std::vector<Out> o(q.size());
  std::vector<unsigned char> workspace(plan.workspace_bytes);
  const auto view = [&](auto* data, size_t heads, size_t len) {
    return sme2k::HeadsView<std::remove_pointer_t<decltype(data)>>{data, heads * len * a.d,
                                                                   len * a.d, a.d};
  };
  sme2k::AttentionParams params;
  params.mask.causal = a.causal;
  for (auto _ : state) {
    s = sme2k::attention<V, Out>(shape, view(q.data(), a.hq, a.sq), view(k.data(), a.hkv, a.skv),
                                 view(v.data(), a.hkv, a.skv), view(o.data(), a.hq, a.sq), params,
                                 workspace.data(), workspace.size());
    benchmark::DoNotOptimize(o.data());
    benchmark::ClobberMemory();
  }
  if (!s.ok()) return fail(state, s.message());
  state.SetLabel(std::string(plan.kernel));  // the prefill or the decode kernel

  sme2k::reference::AttentionProblem p;
  p.batch = a.b, p.q_heads = a.hq, p.kv_heads = a.hkv, p.q_len = a.sq, p.kv_len = a.skv;
  p.head_dim = a.d;
  p.q = {a.hq * a.sq * a.d, a.sq * a.d, a.d};
  p.k = p.v = {a.hkv * a.skv * a.d, a.skv * a.d, a.d};
  p.scale = 1.0f / std::sqrt(static_cast<float>(a.d));
  p.causal = a.causal;
  const auto em = sme2k::reference::attention_error_model(plan.path != sme2k::Path::kPortable,
                                                          std::is_same_v<In, sme2k::f16>);
  const size_t rows = a.b * a.hq * a.sq;
  std::vector<double> want(a.d), weighted(a.d);
  for (size_t n = 0; n < 16 && n < rows; ++n) {
    const size_t r = (n * 2654435761u + 3) % rows;
    const size_t b = r / (a.hq * a.sq), h = r / a.sq % a.hq, i = r % a.sq;
    double term = 0;
    sme2k::reference::attention_row(p, q.data(), k.data(), v.data(), b, h, i, want.data(),
                                    weighted.data(), &term);
    for (size_t c = 0; c < a.d; ++c) {
      const double got = sme2k::to_f32(o[r * a.d + c]);
      const double tol = sme2k::reference::attention_tolerance(
          em, a.d, a.skv, term, weighted[c], want[c], std::is_same_v<Out, sme2k::f16>);
      if (!(std::fabs(got - want[c]) <= tol)) {
        return fail(state, "row " + std::to_string(r) + " d " + std::to_string(c) + ": " +
                               std::to_string(got) + " vs " + std::to_string(want[c]));
      }
    }
  }
  const double flops = 4.0 * static_cast<double>(a.b * a.hq * a.d) * visible_pairs(a);
  const double bytes =
      static_cast<double>((q.size() + 2 * k.size()) * sizeof(In) + o.size() * sizeof(Out));
  state.counters["FLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
}

template <class V, class Out>
void register_attention(const char* name) {
  for (const sme2k::Path path : {sme2k::Path::kPortable, sme2k::Path::kSme2}) {
    auto* bm = benchmark::RegisterBenchmark(
        (std::string("BM_attention/") + name + "/" + sme2k::path_name(path)).c_str(),
        bm_attention<V, Out>, path);
    bm->ArgNames({"B", "Hq", "Hkv", "D", "Sq", "Skv", "causal"})->Unit(benchmark::kMicrosecond);
    bm->Args({1, 32, 8, 64, 256, 256, 1});    // prefill, GQA 4
    bm->Args({1, 16, 16, 128, 512, 512, 1});  // prefill, MHA, D 128
    bm->Args({1, 32, 8, 64, 1, 4096, 1});     // decode against a 4096-token cache
    bm->Args({1, 32, 8, 64, 4, 4096, 1});     // 4 rows (speculative decoding), same cache
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  register_attention<sme2k::F16, sme2k::f16>("f16");
  register_attention<sme2k::F16, float>("f16-f32out");
  register_attention<sme2k::F32, float>("f32");
  benchmark::AddCustomContext("sme2k_cpu_features",
                              sme2k::cpu_features_string(sme2k::cpu_features()));
  benchmark::AddCustomContext("sme2k_svl_bits",
                              std::to_string(sme2k::streaming_vector_bytes() * 8));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (g_failures > 0) {
    std::fprintf(stderr, "sme2k_attention_bench: %d benchmark(s) failed their check\n",
                 g_failures.load());
    return 1;
  }
  return 0;
}
