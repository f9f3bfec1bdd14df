// Google Benchmark suite of the LLM row ops at LLM shapes, per element type and path:
//   BM_rms_norm/<f32|f16>/<path>/rows:R/cols:C     (also BM_layer_norm)
//   BM_rope/<f32|f16>/<half-split|interleaved>/<path>/seq:S/heads:H/dim:D   ([1, S, H, D])
//   BM_softmax/<f32|f16>/<path>/rows:R/cols:C   (scale 1/8, in and out of the same type; rows of
//                                               attention scores: decode 1 x Skv, prefill S x S)
// A path the CPU cannot run is skipped with the reason. After timing, the first and last
// rows are checked against the f64 reference (test/reference/row_ops.hpp) within its bounds;
// a mismatch fails the benchmark and the exit status. Counters: bytes/s (x read, y written).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "bench_support.hpp"
#include "reference/row_ops.hpp"
#include "reference/softmax.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k_bench {
namespace {

template <class T>
const char* dtype_name() {
  return std::is_same_v<T, float> ? "f32" : "f16";
}

template <class T>
double rounding(double ref) {
  return std::is_same_v<T, sme2k::f16> ? sme2k::reference::f16_rounding(ref) : 0.0;
}

template <class T>
void bm_norm(benchmark::State& state, sme2k::Path path, bool rms) {
  const std::string why = unavailable_reason(path);
  if (!why.empty()) return skip(state, why);
  const sme2k::testing::ScopedForcePath force(path);
  const auto rows = static_cast<size_t>(state.range(0)), cols = static_cast<size_t>(state.range(1));
  const std::vector<float> xf = random_values(rows * cols, 1), w = random_values(cols, 2),
                           b = random_values(cols, 3);
  std::vector<T> x(rows * cols), y(rows * cols);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = sme2k::convert_to<T>(xf[i] * 4.0f + (rms ? 0.0f : 1.0f));
  const sme2k::MatrixView<const T> xv{x.data(), rows, cols, cols};
  const sme2k::MatrixView<T> yv{y.data(), rows, cols, cols};
  sme2k::Status s;
  for (auto _ : state) {
    s = rms ? sme2k::rms_norm<T>(xv, yv, w.data(), 1e-5f)
            : sme2k::layer_norm<T>(xv, yv, w.data(), b.data(), 1e-5f);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  if (!s.ok()) return fail(state, s.message());
  for (size_t r : {size_t{0}, rows - 1}) {
    std::vector<double> xr(cols), wr(w.begin(), w.end()), br(b.begin(), b.end());
    for (size_t i = 0; i < cols; ++i) xr[i] = sme2k::to_f32(x[r * cols + i]);
    const std::vector<double> ref = rms ? sme2k::reference::rms_norm_row(xr, wr, 1e-5)
                                        : sme2k::reference::layer_norm_row(xr, wr, br, 1e-5);
    double mean = 0, inv = 0, mean_abs = 0;
    sme2k::reference::layer_norm_stats(xr, 1e-5, &mean, &inv);
    for (double v : xr) mean_abs += std::fabs(v) / static_cast<double>(cols);
    for (size_t i = 0; i < cols; ++i) {
      const double bound =
          (rms ? sme2k::reference::rms_norm_bound(ref[i], cols)
               : sme2k::reference::layer_norm_bound(xr[i], mean, mean_abs, inv, std::fabs(wr[i]),
                                                    std::fabs(br[i]), cols)) +
          rounding<T>(ref[i]);
      if (!(std::fabs(sme2k::to_f32(y[r * cols + i]) - ref[i]) <= bound)) {
        return fail(state, "row " + std::to_string(r) + " outside the reference's bound");
      }
    }
  }
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(2 * rows * cols * sizeof(T)),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

template <class T>
void bm_rope(benchmark::State& state, sme2k::Path path, sme2k::RopePairing pairing) {
  const std::string why = unavailable_reason(path);
  if (!why.empty()) return skip(state, why);
  const sme2k::testing::ScopedForcePath force(path);
  const auto seq = static_cast<size_t>(state.range(0)), heads = static_cast<size_t>(state.range(1)),
             dim = static_cast<size_t>(state.range(2)), half = dim / 2;
  const std::vector<float> xf = random_values(seq * heads * dim, 4);
  std::vector<T> x(xf.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = sme2k::convert_to<T>(xf[i]);
  std::vector<float> cs(seq * half), sn(seq * half);
  for (size_t p = 0; p < seq; ++p) {
    for (size_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(p) *
                       std::pow(10000.0, -static_cast<double>(2 * i) / static_cast<double>(dim));
      cs[p * half + i] = static_cast<float>(std::cos(a));
      sn[p * half + i] = static_cast<float>(std::sin(a));
    }
  }
  const sme2k::RopeTensor<T> t = sme2k::rope_tensor_bshd(x.data(), 1, seq, heads, dim);
  const sme2k::RopeTables tables{cs.data(), sn.data(), seq, dim};
  // One checked call first (rotations compound over iterations), then the timed ones.
  const std::vector<T> x0 = x;
  sme2k::Status s = sme2k::rope<T>(t, tables, pairing, nullptr, 0);
  if (!s.ok()) return fail(state, s.message());
  const size_t s_last = seq - 1;
  std::vector<double> xr(dim), cd(cs.begin() + s_last * half, cs.end()),
      sd(sn.begin() + s_last * half, sn.end());
  const size_t o = s_last * heads * dim;
  for (size_t i = 0; i < dim; ++i) xr[i] = sme2k::to_f32(x0[o + i]);
  const bool il = pairing == sme2k::RopePairing::kInterleaved;
  const std::vector<double> ref = sme2k::reference::rope_row(xr, cd.data(), sd.data(), half, il);
  for (size_t i = 0; i < dim; ++i) {
    const size_t k = il ? i / 2 : i % half, ia = il ? 2 * k : k, ib = il ? 2 * k + 1 : k + half;
    const double bound =
        sme2k::reference::rope_bound(xr[ia], xr[ib], cd[k], sd[k]) + rounding<T>(ref[i]);
    if (!(std::fabs(sme2k::to_f32(x[o + i]) - ref[i]) <= bound)) {
      return fail(state, "the last position's first head is outside the reference's bound");
    }
  }
  for (auto _ : state) {
    s = sme2k::rope<T>(t, tables, pairing, nullptr, 0);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  if (!s.ok()) return fail(state, s.message());
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(2 * x.size() * sizeof(T)),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

template <class T>
void bm_softmax(benchmark::State& state, sme2k::Path path) {
  const std::string why = unavailable_reason(path);
  if (!why.empty()) return skip(state, why);
  const sme2k::testing::ScopedForcePath force(path);
  const auto rows = static_cast<size_t>(state.range(0)), cols = static_cast<size_t>(state.range(1));
  const std::vector<float> xf = random_values(rows * cols, 5);
  std::vector<T> x(rows * cols), y(rows * cols);
  for (size_t i = 0; i < x.size(); ++i) x[i] = sme2k::convert_to<T>(xf[i] * 16.0f);
  sme2k::SoftmaxParams p;
  p.scale = 0.125f;
  const sme2k::MatrixView<const T> xv{x.data(), rows, cols, cols};
  const sme2k::MatrixView<T> yv{y.data(), rows, cols, cols};
  sme2k::Status s;
  for (auto _ : state) {
    s = sme2k::softmax<T, T>(xv, yv, p);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  if (!s.ok()) return fail(state, s.message());
  // The first and last rows against the f64 reference: sme2k-run softmax's bound (relative
  // 5e-5 for f32 out, 2e-3 for f16 out, plus 1e-7), wider than softmax_test.cpp's derived one.
  const double rel = std::is_same_v<T, sme2k::f16> ? 2e-3 : 5e-5;
  for (size_t r : {size_t{0}, rows - 1}) {
    std::vector<double> xr(cols);
    for (size_t i = 0; i < cols; ++i) xr[i] = sme2k::to_f32(x[r * cols + i]);
    const std::vector<double> ref = sme2k::reference::softmax_rows(xr, 1, cols, 0.125, nullptr, 0);
    for (size_t i = 0; i < cols; ++i) {
      if (!(std::fabs(sme2k::to_f32(y[r * cols + i]) - ref[i]) <= rel * ref[i] + 1e-7)) {
        return fail(state, "row " + std::to_string(r) + " outside the reference's bound");
      }
    }
  }
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(2 * rows * cols * sizeof(T)),
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["elements/s"] = benchmark::Counter(static_cast<double>(rows * cols),
                                                    benchmark::Counter::kIsIterationInvariantRate);
}

template <class T>
void register_type() {
  for (sme2k::Path path : {sme2k::Path::kSme2, sme2k::Path::kPortable}) {
    const std::string suffix = std::string("/") + dtype_name<T>() + "/" + sme2k::path_name(path);
    for (bool rms : {true, false}) {
      const std::string name = (rms ? "BM_rms_norm" : "BM_layer_norm") + suffix;
      auto* b = benchmark::RegisterBenchmark(name.c_str(), bm_norm<T>, path, rms);
      b->ArgNames({"rows", "cols"})->Unit(benchmark::kMicrosecond);
      b->Args({1, 4096})->Args({256, 2048})->Args({256, 4096});
    }
    for (sme2k::RopePairing p :
         {sme2k::RopePairing::kHalfSplit, sme2k::RopePairing::kInterleaved}) {
      const char* pairing = p == sme2k::RopePairing::kHalfSplit ? "half-split" : "interleaved";
      const std::string name =
          std::string("BM_rope/") + dtype_name<T>() + "/" + pairing + "/" + sme2k::path_name(path);
      auto* b = benchmark::RegisterBenchmark(name.c_str(), bm_rope<T>, path, p);
      b->ArgNames({"seq", "heads", "dim"})->Unit(benchmark::kMicrosecond);
      b->Args({1, 32, 128})->Args({256, 32, 64})->Args({256, 8, 128});
    }
    const std::string name = std::string("BM_softmax") + suffix;
    auto* b = benchmark::RegisterBenchmark(name.c_str(), bm_softmax<T>, path);
    b->ArgNames({"rows", "cols"})->Unit(benchmark::kMicrosecond);
    // Decode (one query row over a 4096 cache; 32 heads' rows), prefill 256 and 4096-wide rows.
    b->Args({1, 4096})->Args({32, 4096})->Args({256, 256})->Args({256, 4096});
  }
}

}  // namespace
}  // namespace sme2k_bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  sme2k_bench::register_type<float>();
  sme2k_bench::register_type<sme2k::f16>();
  benchmark::AddCustomContext("sme2k_svl_bits",
                              std::to_string(sme2k::streaming_vector_bytes() * 8));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (sme2k_bench::g_failures > 0) {
    std::fprintf(stderr, "sme2k_row_ops_bench: %d benchmark(s) failed their check\n",
                 sme2k_bench::g_failures.load());
    return 1;
  }
  return 0;
}
