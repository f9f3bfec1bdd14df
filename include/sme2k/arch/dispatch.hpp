// Which code path an op runs: decided from cpu_features(), the same way for packing and for
// the op (packed data records the path and the op refuses data packed for another one).
//
// Observable for tests: last_used_path() tells which path the calling thread's last op
// took, and testing::ScopedForcePath forces one (only ever towards a path the CPU has,
// so forcing can never cause SIGILL).
#pragma once

#include <atomic>
#include <cstdint>

#include "sme2k/arch/config.hpp"
#include "sme2k/arch/cpu_features.hpp"

namespace sme2k {

enum class Path : uint8_t {
  kPortable = 1,    ///< plain C++: any CPU, any compiler
  kSme2 = 2,        ///< SME2 baseline: streaming SVE + SME2, no FEAT_SME_FA64
  kSme2F16F16 = 4,  ///< SME2 plus FEAT_SME_F16F16 (f16 accumulation), asked for explicitly
};

inline const char* path_name(Path path) {
  switch (path) {
    case Path::kPortable: return "portable";
    case Path::kSme2: return "sme2";
    case Path::kSme2F16F16: return "sme2-f16f16";
  }
  return "unknown";
}

/// Whether this build has the code for `path` and a CPU with `features` can run it.
constexpr bool path_available(Path path, CpuFeatures features) {
  switch (path) {
    case Path::kPortable: return true;
    case Path::kSme2: return SME2K_HAS_SME2_CODE && features.has(CpuFeature::kSme2);
    case Path::kSme2F16F16:
      return SME2K_HAS_SME2_CODE && features.has(CpuFeature::kSme2) &&
             features.has(CpuFeature::kSmeF16F16);
  }
  return false;
}

namespace detail {
inline std::atomic<uint8_t> g_forced_path{0};  // 0: none; set by testing::ScopedForcePath
inline thread_local Path t_last_used_path = Path::kPortable;
inline void record_path(Path path) { t_last_used_path = path; }
}  // namespace detail

/// The default path of the baseline variants (f32, f16 with f32 accumulation, int8, 4-bit):
/// SME2 when the CPU has it, else portable. A test override applies when it is runnable.
inline Path select_path(CpuFeatures features = cpu_features()) {
  const auto forced = static_cast<Path>(detail::g_forced_path.load(std::memory_order_relaxed));
  if (static_cast<uint8_t>(forced) != 0 && path_available(forced, features)) return forced;
  return path_available(Path::kSme2, features) ? Path::kSme2 : Path::kPortable;
}

/// The path for a variant that prefers `preferred` (kSme2F16F16 for F16Acc16): that one when
/// the CPU has it, else select_path(). A forced path (tests) wins where runnable.
inline Path select_path(Path preferred, CpuFeatures features = cpu_features()) {
  const auto forced = static_cast<Path>(detail::g_forced_path.load(std::memory_order_relaxed));
  if (static_cast<uint8_t>(forced) != 0 && path_available(forced, features)) return forced;
  return path_available(preferred, features) ? preferred : select_path(features);
}

/// The path the calling thread's most recent successful op call ran.
inline Path last_used_path() { return detail::t_last_used_path; }

namespace testing {

/// For tests: while alive, select_path() returns `path` wherever the CPU can run it.
class ScopedForcePath {
 public:
  explicit ScopedForcePath(Path path)
      : previous_(detail::g_forced_path.exchange(static_cast<uint8_t>(path))) {}
  ~ScopedForcePath() { detail::g_forced_path.store(previous_); }
  ScopedForcePath(const ScopedForcePath&) = delete;
  ScopedForcePath& operator=(const ScopedForcePath&) = delete;

 private:
  uint8_t previous_;
};

}  // namespace testing
}  // namespace sme2k
