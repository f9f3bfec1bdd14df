// Google Benchmark suite of the GEMM op (f32, f16, and QD8 x QC4W at LLM shapes). Names are
// BM_<op>/<variant>/<path> with named arguments (STYLE.md point 13), e.g.
// BM_gemm/f16/sme2/M:256/N:2048/K:2048.
//
// One benchmark per path this build has a kernel for (kernels/registry.hpp), forced with
// testing::ScopedForcePath; a path the CPU cannot run is skipped with the reason. The weights
// packing and the op are measured apart, as a runtime pays them at different times (packing
// once per model, the op once per inference: with pre-packed B and a pre-allocated
// workspace). Every setup checks sampled elements of its result against the reference once
// timing ends, and the program exits 1 if any check failed.
//
// BM_gemm_threads runs the op on a std::thread pool of T threads (the runtime's side of the
// threading hook), with real time as its clock.
//
// Under QEMU, run with --benchmark_min_time=0: one iteration per benchmark (scripts/bench).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "harness/thread_pool.hpp"
#include "reference/dynamic_quant.hpp"
#include "reference/gemm.hpp"
#include "sme2k/sme2k.hpp"

namespace {

struct Shape {
  int64_t m, n, k;
};

// Squares for scaling, a tall-skinny layer, a transformer FFN slice and a GEMV-like decode step.
constexpr Shape kShapes[] = {{64, 64, 64},      {128, 128, 128},    {256, 256, 256},
                             {512, 512, 512},   {1024, 1024, 1024}, {1024, 256, 256},
                             {256, 2048, 2048}, {1, 2048, 2048}};

using sme2k_bench::fail;
using sme2k_bench::g_failures;
using sme2k_bench::gemm_paths;
using sme2k_bench::random_values;
using sme2k_bench::skip;
using sme2k_bench::unavailable_reason;

/// Dense operands of an M x N x K GEMM of variant V (B stored K x N), with its weights packed
/// for the currently selected path and a workspace sized for it; f32 copies of A and B (the
/// same values) feed the reference.
template <class V>
struct GemmOperands {
  using Lhs = typename sme2k::VariantTraits<V>::Lhs;
  using Rhs = typename sme2k::VariantTraits<V>::Rhs;
  using Out = typename sme2k::VariantTraits<V>::Out;
  size_t m, n, k;
  std::vector<float> a_ref, b_ref, bias;
  std::vector<Lhs> a;
  std::vector<Rhs> b;
  std::vector<Out> c;
  std::vector<unsigned char> packed, workspace;
  sme2k::ParallelFor parallel;  // the runtime's threads (default: serial)

  GemmOperands(size_t m_, size_t n_, size_t k_)
      : m(m_),
        n(n_),
        k(k_),
        a_ref(random_values(m_ * k_, 1)),
        b_ref(random_values(k_ * n_, 2)),
        bias(random_values(n_, 3)),
        a(stored_as<Lhs>(&a_ref)),
        b(stored_as<Rhs>(&b_ref)),
        c(m_ * n_) {}

  sme2k::Status pack() {
    size_t bytes = 0;
    SME2K_RETURN_IF_ERROR(sme2k::gemm_packed_rhs_size<V>(n, k, &bytes));
    packed.resize(bytes);
    return pack_again();
  }
  sme2k::Status pack_again() {
    return sme2k::gemm_pack_rhs<V>(sme2k::dense_matrix<const Rhs>(b.data(), k, n),
                                   sme2k::RhsLayout::kKxN, bias.data(), packed.data(),
                                   packed.size());
  }
  sme2k::Status allocate_workspace() {
    size_t bytes = 0;
    SME2K_RETURN_IF_ERROR(
        sme2k::gemm_workspace_size<V>(m, n, k, &bytes, sme2k::OutputOrder::kRowMajor, parallel));
    workspace.resize(bytes);
    return sme2k::Status();
  }
  sme2k::Status run() {
    return sme2k::gemm<V>(sme2k::dense_matrix<const Lhs>(a.data(), m, k), packed.data(),
                          packed.size(), sme2k::dense_matrix(c.data(), m, n), {}, workspace.data(),
                          workspace.size(), parallel);
  }
  size_t operand_bytes() const {
    return a.size() * sizeof(Lhs) + c.size() * sizeof(Out) + packed.size();
  }

  /// A few elements of C against the reference: the corners (tile tails) and a handful
  /// spread over the matrix. "" when all are within the error bound.
  std::string check() const {
    sme2k::reference::GemmF32Problem p;
    p.m = m, p.n = n, p.k = k;
    p.a = a_ref.data(), p.lda = k;
    p.b = b_ref.data(), p.ldb = n, p.b_layout = sme2k::RhsLayout::kKxN;
    p.bias = bias.data();
    std::vector<std::pair<size_t, size_t>> at = {{0, 0}, {0, n - 1}, {m - 1, 0}, {m - 1, n - 1}};
    for (size_t t = 1; t <= 12; ++t) at.emplace_back(t * 7919 % m, t * 104729 % n);
    for (const auto& [i, j] : at) {
      double magnitude = 0;
      const double want = sme2k::reference::gemm_f32_at(p, i, j, &magnitude);
      // F16Acc16 accumulates in f16: its (looser) bound grows with K.
      double bound = std::is_same_v<V, sme2k::F16Acc16>
                         ? sme2k::reference::f16_accumulation_bound(k, magnitude)
                         : sme2k::reference::f32_gemm_error_bound(k, magnitude);
      if (std::is_same_v<Out, sme2k::f16>)
        bound = sme2k::reference::f16_rounding_bound(want, bound);
      if (std::is_same_v<Out, sme2k::bf16>)
        bound = sme2k::reference::bf16_rounding_bound(want, bound);
      const double got = sme2k::to_f32(c[i * n + j]);
      if (!(std::fabs(got - want) <= bound)) {
        char msg[160];
        std::snprintf(msg, sizeof msg,
                      "wrong result at (%zu, %zu): got %.9g, want %.9g (bound %.3g)", i, j, got,
                      want, bound);
        return msg;
      }
    }
    return "";
  }

 private:
  /// The values as T, and `values` rounded to what T holds (so the reference sees them).
  template <class T>
  static std::vector<T> stored_as(std::vector<float>* values) {
    std::vector<T> stored(values->size());
    for (size_t i = 0; i < values->size(); ++i) {
      stored[i] = sme2k::convert_to<T>((*values)[i]);
      (*values)[i] = sme2k::to_f32(stored[i]);
    }
    return stored;
  }
};

/// After timing: the last call succeeded, on `path`, and C is right. Checking the timed
/// call's own result (rather than a warm-up's) halves the run time under QEMU.
template <class V>
void check_result(benchmark::State& state, sme2k::Path path, const sme2k::Status& status,
                  const GemmOperands<V>& g) {
  if (!status.ok()) return fail(state, status.message());
  if (sme2k::last_used_path() != path) {
    return fail(state, std::string("dispatch took ") + sme2k::path_name(sme2k::last_used_path()));
  }
  const std::string wrong = g.check();
  if (!wrong.empty()) fail(state, wrong);
}

/// The op: C = A x packed B + bias, weights packed and workspace allocated beforehand; on
/// `threads` threads of a pool (the caller one of them) letting the op make as many tasks,
/// or serially (0).
template <class V>
void gemm_benchmark(benchmark::State& state, sme2k::Path path, size_t threads) {
  const std::string why = unavailable_reason(path);
  if (!why.empty()) return skip(state, why);
  const sme2k::testing::ScopedForcePath force(path);
  GemmOperands<V> g(static_cast<size_t>(state.range(0)), static_cast<size_t>(state.range(1)),
                    static_cast<size_t>(state.range(2)));
  sme2k::test::ThreadPool pool(threads > 0 ? threads : 1);
  if (threads > 0) g.parallel = pool.parallel_for(threads);
  sme2k::Status s = g.pack();
  if (s.ok()) s = g.allocate_workspace();
  if (!s.ok()) return fail(state, s.message());

  for (auto _ : state) {
    s = g.run();
    benchmark::DoNotOptimize(g.c.data());
    benchmark::ClobberMemory();
  }
  check_result(state, path, s, g);
  const double flops =
      2.0 * static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
  const auto bytes = static_cast<double>(g.operand_bytes());
  state.counters["FLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
}

template <class V>
void bm_gemm(benchmark::State& state, sme2k::Path path) {
  gemm_benchmark<V>(state, path, 0);
}

/// The same through a thread pool of T threads (argument 3): how the op scales where cores
/// share an SME unit is for the device to say (docs/threading.md). Under QEMU the threads
/// run on the host's cores, whose count says nothing about a device's SME units.
template <class V>
void bm_gemm_threads(benchmark::State& state, sme2k::Path path) {
  gemm_benchmark<V>(state, path, static_cast<size_t>(state.range(3)));
}

/// Weights packing: B (K x N, row-major) and the bias into the path's packed format.
template <class V>
void bm_pack_rhs(benchmark::State& state, sme2k::Path path) {
  const std::string why = unavailable_reason(path);
  if (!why.empty()) return skip(state, why);
  const sme2k::testing::ScopedForcePath force(path);
  // M = 1: the check runs one row of the op over the packed weights, cheap next to packing.
  GemmOperands<V> g(1, static_cast<size_t>(state.range(0)), static_cast<size_t>(state.range(1)));
  sme2k::Status s = g.pack();
  if (s.ok()) s = g.allocate_workspace();
  if (!s.ok()) return fail(state, s.message());

  for (auto _ : state) {
    s = g.pack_again();
    benchmark::DoNotOptimize(g.packed.data());
    benchmark::ClobberMemory();
  }
  if (s.ok()) s = g.run();
  check_result(state, path, s, g);
  const double bytes = static_cast<double>(g.b.size() * sizeof(typename GemmOperands<V>::Rhs) +
                                           g.bias.size() * sizeof(float) + g.packed.size());
  state.counters["bytes/s"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
}

/// The distinct paths of variant V's GEMM kernels this build has, in registry order.
template <class V>
void register_benchmarks() {
  for (const sme2k::Path path : gemm_paths<V>()) {
    const std::string suffix =
        "/" + std::string(sme2k::VariantTraits<V>::kName) + "/" + sme2k::path_name(path);
    auto* gemm = benchmark::RegisterBenchmark(("BM_gemm" + suffix).c_str(), bm_gemm<V>, path);
    gemm->ArgNames({"M", "N", "K"})->Unit(benchmark::kMicrosecond);
    for (const Shape& s : kShapes) {
      // f16 accumulation has no error bound left at K = 1024 and beyond (K * 2^-11 near 1):
      // its numbers there would describe a result nobody should use.
      if (std::is_same_v<V, sme2k::F16Acc16> && s.k >= 1024) continue;
      gemm->Args({s.m, s.n, s.k});
    }

    // Threads: a square layer (row panels split) and a decode step (weight panels split).
    if (!std::is_same_v<V, sme2k::F16Acc16>) {
      auto* threads = benchmark::RegisterBenchmark(("BM_gemm_threads" + suffix).c_str(),
                                                   bm_gemm_threads<V>, path);
      threads->ArgNames({"M", "N", "K", "T"})->Unit(benchmark::kMicrosecond)->UseRealTime();
      for (int64_t t : {1, 2, 4}) threads->Args({512, 512, 512, t})->Args({1, 2048, 2048, t});
    }

    auto* pack =
        benchmark::RegisterBenchmark(("BM_pack_rhs" + suffix).c_str(), bm_pack_rhs<V>, path);
    pack->ArgNames({"N", "K"})->Unit(benchmark::kMicrosecond);
    std::set<std::pair<int64_t, int64_t>> seen;
    for (const Shape& s : kShapes) {
      if (std::is_same_v<V, sme2k::F16Acc16> && s.k >= 1024) continue;
      if (seen.insert({s.n, s.k}).second) pack->Args({s.n, s.k});
    }
  }
}

/// Attention scores: batch x (Q [M x K] times K^T, K given [N x K] and packed inside the op),
/// f16 in, f32 scores out. Arguments: batch, M (queries), N (keys), K (head dimension).
void bm_batch_matmul_qkt(benchmark::State& state, sme2k::Path path) {
  const std::string why = unavailable_reason(path);
  if (!why.empty()) return skip(state, why);
  const sme2k::testing::ScopedForcePath force(path);
  const auto batch = static_cast<size_t>(state.range(0)), m = static_cast<size_t>(state.range(1)),
             n = static_cast<size_t>(state.range(2)), k = static_cast<size_t>(state.range(3));
  std::vector<float> q_ref = random_values(batch * m * k, 4),
                     k_ref = random_values(batch * n * k, 5);
  std::vector<sme2k::f16> q(q_ref.size()), keys(k_ref.size());
  for (size_t i = 0; i < q.size(); ++i) q_ref[i] = sme2k::to_f32(q[i] = sme2k::to_f16(q_ref[i]));
  for (size_t i = 0; i < keys.size(); ++i) {
    k_ref[i] = sme2k::to_f32(keys[i] = sme2k::to_f16(k_ref[i]));
  }
  std::vector<float> scores(batch * m * n);
  size_t bytes = 0;
  sme2k::Status s = sme2k::batch_matmul_workspace_size<sme2k::F16>(batch, m, n, k, &bytes);
  std::vector<unsigned char> workspace(bytes);
  for (auto _ : state) {
    if (!s.ok()) break;
    s = sme2k::batch_matmul<sme2k::F16>(
        batch, sme2k::dense_matrix<const sme2k::f16>(q.data(), m, k), m * k,
        sme2k::dense_matrix<const sme2k::f16>(keys.data(), n, k), sme2k::RhsLayout::kNxK, n * k,
        sme2k::dense_matrix(scores.data(), m, n), m * n, {}, workspace.data(), bytes);
    benchmark::DoNotOptimize(scores.data());
    benchmark::ClobberMemory();
  }
  if (!s.ok()) return fail(state, s.message());
  if (sme2k::last_used_path() != path) return fail(state, "dispatch took another path");
  // Spot checks of the last item against the reference.
  sme2k::reference::GemmF32Problem p;
  p.m = m, p.n = n, p.k = k;
  p.a = q_ref.data() + (batch - 1) * m * k, p.lda = k;
  p.b = k_ref.data() + (batch - 1) * n * k, p.ldb = k, p.b_layout = sme2k::RhsLayout::kNxK;
  for (size_t t = 0; t < 16; ++t) {
    const size_t i = t * 7919 % m, j = t * 104729 % n;
    double magnitude = 0;
    const double want = sme2k::reference::gemm_f32_at(p, i, j, &magnitude);
    const double got = scores[(batch - 1) * m * n + i * n + j];
    if (!(std::fabs(got - want) <= sme2k::reference::f32_gemm_error_bound(k, magnitude))) {
      return fail(state, "wrong score");
    }
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(batch * m * n * k),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void register_batch_benchmarks() {
  for (const sme2k::Path path : gemm_paths<sme2k::F16>()) {
    auto* b = benchmark::RegisterBenchmark(
        ("BM_batch_matmul_qkt/f16/" + std::string(sme2k::path_name(path))).c_str(),
        bm_batch_matmul_qkt, path);
    b->ArgNames({"B", "M", "N", "K"})->Unit(benchmark::kMicrosecond);
    b->Args({8, 256, 256, 64})->Args({4, 128, 512, 128})->Args({1, 1, 1024, 64});
  }
}

/// LLM fully connected layers with 4-bit weights (QD8 x QC4W): activations f32, quantized per
/// row inside the op; weights given as PyTorch / ggml store them (N x K nibble rows) and
/// packed before timing. Arguments: M (tokens: 1 decode, 16, 256 prefill), N, K.
void bm_gemm_qd8_qc4w(benchmark::State& state, sme2k::Path path) {
  using V = sme2k::QD8QC4W;
  const std::string why = unavailable_reason(path);
  if (!why.empty()) return skip(state, why);
  const sme2k::testing::ScopedForcePath force(path);
  const auto m = static_cast<size_t>(state.range(0)), n = static_cast<size_t>(state.range(1)),
             k = static_cast<size_t>(state.range(2));
  std::vector<float> a = random_values(m * k, 6), w_values = random_values(n * k, 7);
  std::vector<int8_t> w(n * k);
  std::vector<uint8_t> nibbles(n * k / 2);
  for (size_t i = 0; i < n * k; ++i) {
    w[i] = static_cast<int8_t>(w_values[i] * 7.99f);
    const auto nibble = static_cast<unsigned>(w[i]) & 0xFu;
    nibbles[i / 2] = static_cast<uint8_t>(i % 2 == 0 ? nibble : (nibbles[i / 2] | nibble << 4));
  }
  std::vector<float> scales(n), bias = random_values(n, 8), c(m * n);
  for (size_t j = 0; j < n; ++j) scales[j] = 0.01f * (1.0f + static_cast<float>(j % 7));
  size_t packed_bytes = 0, ws_bytes = 0;
  sme2k::Status s = sme2k::gemm_packed_rhs_size<V>(n, k, &packed_bytes);
  std::vector<unsigned char> packed(packed_bytes);
  if (s.ok()) {
    s = sme2k::gemm_pack_rhs<V>(
        sme2k::Int4View{nibbles.data(), n, k, k / 2, sme2k::Int4Storage::kNibbles},
        sme2k::RhsLayout::kNxK, bias.data(), scales.data(), packed.data(), packed_bytes);
  }
  if (s.ok()) s = sme2k::gemm_workspace_size<V>(m, n, k, &ws_bytes);
  std::vector<unsigned char> workspace(ws_bytes);
  for (auto _ : state) {
    if (!s.ok()) break;
    s = sme2k::gemm<V>(sme2k::dense_matrix<const float>(a.data(), m, k), packed.data(),
                       packed_bytes, sme2k::dense_matrix(c.data(), m, n), {}, workspace.data(),
                       ws_bytes);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  if (!s.ok()) return fail(state, s.message());
  if (sme2k::last_used_path() != path) return fail(state, "dispatch took another path");
  sme2k::reference::Qd8GemmProblem p;
  p.m = m, p.n = n, p.k = k;
  p.a = a;
  p.b = w.data(), p.ldb = k, p.b_layout = sme2k::RhsLayout::kNxK;
  p.w_scales = scales.data();
  p.bias = bias.data();
  const std::vector<sme2k::reference::QuantizedRow> rows = sme2k::reference::quantize_rows(p);
  for (size_t t = 0; t < 16; ++t) {
    const size_t i = t * 7919 % m, j = t * 104729 % n;
    const sme2k::reference::Qd8Element want = sme2k::reference::qd8_at(p, rows[i], i, j);
    if (!(std::fabs(c[i * n + j] - want.value) <=
          sme2k::reference::qd8_dequant_bound(want.magnitude))) {
      return fail(state, "wrong result");
    }
  }
  state.counters["MAC/s"] = benchmark::Counter(static_cast<double>(m * n * k),
                                               benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weight bytes/s"] = benchmark::Counter(
      static_cast<double>(n * k / 2), benchmark::Counter::kIsIterationInvariantRate);
}

/// The same layers with QB4W weights handed over as llama.cpp holds them: GGUF Q4_0 blocks
/// (32 weights, an f16 scale), packed by gemm_pack_rhs_q4_0 before timing.
void bm_gemm_qd8_qb4w_q4_0(benchmark::State& state, sme2k::Path path) {
  using V = sme2k::QD8QB4W;
  const std::string why = unavailable_reason(path);
  if (!why.empty()) return skip(state, why);
  const sme2k::testing::ScopedForcePath force(path);
  const auto m = static_cast<size_t>(state.range(0)), n = static_cast<size_t>(state.range(1)),
             k = static_cast<size_t>(state.range(2));
  std::vector<float> a = random_values(m * k, 9), w_values = random_values(n * k, 10);
  std::vector<int8_t> w(n * k);
  std::vector<float> d(n * k / 32);
  std::vector<uint8_t> blocks(n * k / 32 * sme2k::kQ4_0BlockBytes);
  for (size_t j = 0; j < n; ++j) {
    for (size_t b = 0; b < k / 32; ++b) {
      const sme2k::f16 scale = sme2k::to_f16(0.002f * (1.0f + static_cast<float>((j + b) % 5)));
      d[j * (k / 32) + b] = sme2k::to_f32(scale);
      uint8_t* block = &blocks[(j * (k / 32) + b) * sme2k::kQ4_0BlockBytes];
      block[0] = static_cast<uint8_t>(scale.bits & 0xFF);
      block[1] = static_cast<uint8_t>(scale.bits >> 8);
      for (size_t i = 0; i < 32; ++i) {
        const size_t at = j * k + b * 32 + i;
        w[at] = static_cast<int8_t>(w_values[at] * 7.99f);
        const auto nibble = static_cast<unsigned>(w[at] + 8);  // Q4_0 offset
        uint8_t& byte = block[2 + i % 16];
        byte = static_cast<uint8_t>(i < 16 ? nibble : (byte | nibble << 4));
      }
    }
  }
  std::vector<float> c(m * n);
  size_t packed_bytes = 0, ws_bytes = 0;
  sme2k::Status s = sme2k::gemm_packed_rhs_size<V>(n, k, 32, &packed_bytes);
  std::vector<unsigned char> packed(packed_bytes);
  if (s.ok()) {
    s = sme2k::gemm_pack_rhs_q4_0<V>(blocks.data(), n, k, nullptr, packed.data(), packed_bytes);
  }
  if (s.ok()) s = sme2k::gemm_workspace_size<V>(m, n, k, &ws_bytes);
  std::vector<unsigned char> workspace(ws_bytes);
  for (auto _ : state) {
    if (!s.ok()) break;
    s = sme2k::gemm<V>(sme2k::dense_matrix<const float>(a.data(), m, k), packed.data(),
                       packed_bytes, sme2k::dense_matrix(c.data(), m, n), {}, workspace.data(),
                       ws_bytes);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  if (!s.ok()) return fail(state, s.message());
  if (sme2k::last_used_path() != path) return fail(state, "dispatch took another path");
  sme2k::reference::Qd8GemmProblem p;
  p.m = m, p.n = n, p.k = k;
  p.a = a;
  p.b = w.data(), p.ldb = k, p.b_layout = sme2k::RhsLayout::kNxK;
  const std::vector<sme2k::reference::QuantizedRow> rows = sme2k::reference::quantize_rows(p);
  for (size_t t = 0; t < 16; ++t) {
    const size_t i = t * 7919 % m, j = t * 104729 % n;
    const sme2k::reference::Qd8Element want = sme2k::reference::qb4w_at(
        p, rows[i], [&](size_t jj, size_t kk) { return d[jj * (k / 32) + kk / 32]; }, i, j);
    if (!(std::fabs(c[i * n + j] - want.value) <=
          sme2k::reference::f32_gemm_error_bound(k + 2, want.magnitude))) {
      return fail(state, "wrong result");
    }
  }
  state.counters["MAC/s"] = benchmark::Counter(static_cast<double>(m * n * k),
                                               benchmark::Counter::kIsIterationInvariantRate);
}

/// M (decode, a short prompt, prefill) x (N, K) of 2B-9B LLM fully connected layers.
void add_llm_shapes(benchmark::internal::Benchmark* b) {
  for (int64_t m : {1, 16, 256}) {
    for (const auto& [n, k] : {std::pair<int64_t, int64_t>{2048, 2048},
                               {8192, 2048},
                               {2048, 8192},
                               {4096, 2304},
                               {9216, 2304}}) {
      b->Args({m, n, k});
    }
  }
}

void register_llm_benchmarks() {
  for (const sme2k::Path path : gemm_paths<sme2k::QD8QC4W>()) {
    auto* b = benchmark::RegisterBenchmark(
        ("BM_gemm/qd8-qc4w/" + std::string(sme2k::path_name(path))).c_str(), bm_gemm_qd8_qc4w,
        path);
    b->ArgNames({"M", "N", "K"})->Unit(benchmark::kMicrosecond);
    add_llm_shapes(b);
  }
  for (const sme2k::Path path : gemm_paths<sme2k::QD8QB4W>()) {
    auto* b = benchmark::RegisterBenchmark(
        ("BM_gemm/qd8-qb4w-q4_0/" + std::string(sme2k::path_name(path))).c_str(),
        bm_gemm_qd8_qb4w_q4_0, path);
    b->ArgNames({"M", "N", "K"})->Unit(benchmark::kMicrosecond);
    add_llm_shapes(b);
  }
}

}  // namespace

#ifdef SME2K_BENCH_KLEIDIAI
void register_kleidiai_benchmarks();  // kleidiai_bench.cpp
#endif

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  // Every variant of the table whose weights need no quantization (the quantized ones have
  // their own LLM-shaped cases below).
  sme2k::for_each_variant([](auto tag) {
    using V = typename decltype(tag)::type;
    if constexpr (!sme2k::detail::kQuantizedWeights<V>) register_benchmarks<V>();
  });
  register_batch_benchmarks();
  register_llm_benchmarks();
#ifdef SME2K_BENCH_KLEIDIAI
  register_kleidiai_benchmarks();
#endif
  benchmark::AddCustomContext("sme2k_cpu_features",
                              sme2k::cpu_features_string(sme2k::cpu_features()));
  benchmark::AddCustomContext("sme2k_svl_bits",
                              std::to_string(sme2k::streaming_vector_bytes() * 8));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (g_failures > 0) {
    std::fprintf(stderr, "sme2k_bench: %d benchmark(s) failed their check\n", g_failures.load());
    return 1;
  }
  return 0;
}
