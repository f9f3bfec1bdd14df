// What the Google Benchmark suites share: the failure count that becomes the exit status,
// skip / fail, deterministic input values (as sme2k-run makes them) and why a path cannot
// run on this CPU.
#pragma once

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "sme2k/sme2k.hpp"

namespace sme2k_bench {

inline std::atomic<int> g_failures{0};  // wrong results or errors: the exit status

/// SkipWithMessage where the library has it (>= 1.8), else SkipWithError (1.7).
template <class State>
auto skip_impl(State& state, const char* why, int) -> decltype(state.SkipWithMessage(why)) {
  return state.SkipWithMessage(why);
}
template <class State>
void skip_impl(State& state, const char* why, long) {
  state.SkipWithError(why);
}
inline void skip(benchmark::State& state, const std::string& why) {
  skip_impl(state, why.c_str(), 0);
}

inline void fail(benchmark::State& state, const std::string& why) {
  ++g_failures;
  state.SkipWithError(why.c_str());
}

/// Values in [-1, 1) from an integer hash of (seed, index), as sme2k-run makes them.
inline std::vector<float> random_values(size_t count, uint32_t seed) {
  std::vector<float> v(count);
  const uint32_t salt = seed * 0x9e3779b9u + 0x7f4a7c15u;
  for (size_t i = 0; i < count; ++i) {
    uint32_t x = static_cast<uint32_t>(i) ^ salt;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    v[i] = static_cast<float>(static_cast<int32_t>(x) >> 8) * 0x1p-23f;
  }
  return v;
}

/// Why `path` cannot run here, or "" when it can.
inline std::string unavailable_reason(sme2k::Path path) {
  const sme2k::CpuFeatures features = sme2k::cpu_features();
  if (sme2k::path_available(path, features)) return "";
  const std::string have = sme2k::cpu_features_string(features);
  return std::string("path ") + sme2k::path_name(path) +
         " unavailable on this CPU (SME features: " + (have.empty() ? "none" : have) + ")";
}

/// The paths variant V has GEMM kernels for, each once (the registry's order).
template <class V>
std::vector<sme2k::Path> gemm_paths() {
  std::vector<sme2k::Path> paths;
  for (const sme2k::KernelInfo& info : sme2k::kGemmKernelInfos.items) {
    if (info.variant != sme2k::VariantTraits<V>::kId) continue;
    bool seen = false;
    for (sme2k::Path p : paths) seen = seen || p == info.path;
    if (!seen) paths.push_back(info.path);
  }
  return paths;
}

}  // namespace sme2k_bench
