// Which SME features this CPU has, read once from the operating system.
//
// Linux and Android report them in the AT_HWCAP2 auxiliary vector; macOS through
// sysctl "hw.optional.arm.FEAT_*". Anything else (x86-64, other OSes) reports none, so the
// portable path runs. Detection never executes an SME instruction: that alone would SIGILL
// on a CPU without SME.
//
// Tests may narrow the reported set (never widen it) with testing::ScopedCpuFeatures, e.g.
// to run "SME without SME2" on an emulator that cannot switch SME2 off.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#if defined(__linux__)
#include <sys/auxv.h>
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#endif

namespace sme2k {

enum class CpuFeature : uint32_t {
  kSme = 1u << 0,
  kSme2 = 1u << 1,
  kSme2p1 = 1u << 2,
  kSmeF16F16 = 1u << 3,  ///< FMOPA into 16-bit ZA tiles (f16 accumulation)
  kSmeB16B16 = 1u << 4,
  kSmeLutv2 = 1u << 5,  ///< LUTI4 with four destination registers, ZT0 8-bit lookups
  kSmeI16I64 = 1u << 6,
  kSmeFa64 = 1u << 7,  ///< the full A64 ISA in streaming mode (Apple M4 lacks it)
};

/// A set of CpuFeature bits.
struct CpuFeatures {
  uint32_t bits = 0;

  constexpr bool has(CpuFeature f) const { return (bits & static_cast<uint32_t>(f)) != 0; }
  constexpr CpuFeatures with(CpuFeature f) const {
    return CpuFeatures{bits | static_cast<uint32_t>(f)};
  }
  friend constexpr CpuFeatures operator&(CpuFeatures a, CpuFeatures b) {
    return CpuFeatures{a.bits & b.bits};
  }
  friend constexpr bool operator==(CpuFeatures a, CpuFeatures b) { return a.bits == b.bits; }
};

namespace detail {

struct CpuFeatureName {
  CpuFeature feature;
  const char* name;  // as in /proc/cpuinfo
};
inline constexpr CpuFeatureName kCpuFeatureNames[] = {
    {CpuFeature::kSme, "sme"},
    {CpuFeature::kSme2, "sme2"},
    {CpuFeature::kSme2p1, "sme2p1"},
    {CpuFeature::kSmeF16F16, "smef16f16"},
    {CpuFeature::kSmeB16B16, "smeb16b16"},
    {CpuFeature::kSmeLutv2, "smelutv2"},
    {CpuFeature::kSmeI16I64, "smei16i64"},
    {CpuFeature::kSmeFa64, "smefa64"},
};

// Linux arch/arm64/include/uapi/asm/hwcap.h; spelled out because older sysroots lack them.
struct Hwcap2Bit {
  CpuFeature feature;
  uint64_t bit;
};
inline constexpr Hwcap2Bit kLinuxHwcap2Bits[] = {
    {CpuFeature::kSme, 1ull << 23},       {CpuFeature::kSmeI16I64, 1ull << 24},
    {CpuFeature::kSmeFa64, 1ull << 30},   {CpuFeature::kSme2, 1ull << 37},
    {CpuFeature::kSme2p1, 1ull << 38},    {CpuFeature::kSmeB16B16, 1ull << 41},
    {CpuFeature::kSmeF16F16, 1ull << 42}, {CpuFeature::kSmeLutv2, 1ull << 57},
};

// macOS names the same features as sysctl keys.
struct SysctlKey {
  CpuFeature feature;
  const char* key;
};
inline constexpr SysctlKey kMacosSysctlKeys[] = {
    {CpuFeature::kSme, "hw.optional.arm.FEAT_SME"},
    {CpuFeature::kSme2, "hw.optional.arm.FEAT_SME2"},
    {CpuFeature::kSme2p1, "hw.optional.arm.FEAT_SME2p1"},
    {CpuFeature::kSmeF16F16, "hw.optional.arm.FEAT_SME_F16F16"},
    {CpuFeature::kSmeB16B16, "hw.optional.arm.FEAT_SME_B16B16"},
    {CpuFeature::kSmeLutv2, "hw.optional.arm.FEAT_SME_LUTv2"},
    {CpuFeature::kSmeI16I64, "hw.optional.arm.FEAT_SME_I16I64"},
    {CpuFeature::kSmeFa64, "hw.optional.arm.FEAT_SME_FA64"},
};

}  // namespace detail

/// Features named by a Linux AT_HWCAP2 value. SME2 and its extensions count only with SME.
constexpr CpuFeatures cpu_features_from_linux_hwcap2(uint64_t hwcap2) {
  CpuFeatures f;
  for (const auto& b : detail::kLinuxHwcap2Bits) {
    if ((hwcap2 & b.bit) != 0) f = f.with(b.feature);
  }
  return f.has(CpuFeature::kSme) ? f : CpuFeatures{};
}

/// Asks the operating system; no caching. Most callers want cpu_features().
inline CpuFeatures detect_cpu_features() {
#if defined(__aarch64__) && defined(__linux__)
  return cpu_features_from_linux_hwcap2(getauxval(AT_HWCAP2));
#elif defined(__aarch64__) && defined(__APPLE__)
  CpuFeatures f;
  for (const auto& k : detail::kMacosSysctlKeys) {
    int value = 0;
    size_t size = sizeof(value);
    if (sysctlbyname(k.key, &value, &size, nullptr, 0) == 0 && value != 0) f = f.with(k.feature);
  }
  return f.has(CpuFeature::kSme) ? f : CpuFeatures{};
#else
  return CpuFeatures{};
#endif
}

namespace detail {
inline CpuFeatures detected_cpu_features() {
  static const CpuFeatures detected = detect_cpu_features();
  return detected;
}
// Set only by testing::ScopedCpuFeatures.
inline std::atomic<uint32_t> g_cpu_feature_mask{~0u};
}  // namespace detail

/// The features sme2k may use: detected once, narrowed by a test override if one is active.
inline CpuFeatures cpu_features() {
  return detail::detected_cpu_features() &
         CpuFeatures{detail::g_cpu_feature_mask.load(std::memory_order_relaxed)};
}

/// "sme sme2 ..." (empty when none), for logs and the CLI.
inline std::string cpu_features_string(CpuFeatures f) {
  std::string s;
  for (const auto& n : detail::kCpuFeatureNames) {
    if (!f.has(n.feature)) continue;
    if (!s.empty()) s += ' ';
    s += n.name;
  }
  return s;
}

namespace testing {

/// For tests: while alive, cpu_features() reports at most `allowed` (intersected with what the
/// CPU has, so a test can never make sme2k run an instruction the CPU lacks).
class ScopedCpuFeatures {
 public:
  explicit ScopedCpuFeatures(CpuFeatures allowed)
      : previous_(detail::g_cpu_feature_mask.exchange(allowed.bits)) {}
  ~ScopedCpuFeatures() { detail::g_cpu_feature_mask.store(previous_); }
  ScopedCpuFeatures(const ScopedCpuFeatures&) = delete;
  ScopedCpuFeatures& operator=(const ScopedCpuFeatures&) = delete;

 private:
  uint32_t previous_;
};

}  // namespace testing
}  // namespace sme2k
