// Which of two SME cost profiles this CPU follows, for kernels whose best instruction mix
// differs between them (DESIGN.md section 8: the softmax's exp, attention's row work).
//
//  - kZaFavoured (Apple M4 and the like): streaming SVE instructions are slow (4 cycles each
//    on the M4 model), SME2 ZA multi-vector ops cheap: do arithmetic in ZA vector groups.
//  - kVectorFavoured (Arm C1 and the like): streaming SVE issues several per cycle (0.5 on the
//    C1 model), ZA ops and MOVA cost more: keep arithmetic in Z registers.
// Both profiles give results within the same stated bound; only speed differs.
//
// Detected once: macOS (Apple silicon) and a Linux MIDR_EL1 implementer of Apple (0x61) are
// ZA-favoured; implementer Arm (0x41) is vector-favoured; anything unknown is ZA-favoured (the
// cheaper of the two mistakes on the models). SME2K_COST_MODEL=m4|c1 in the environment, or
// testing::ScopedCostModel, overrides it (benchmarks model both; tests run both ways).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sme2k {

enum class CostModel : uint8_t { kZaFavoured = 1, kVectorFavoured = 2 };

inline const char* cost_model_name(CostModel m) {
  return m == CostModel::kVectorFavoured ? "vector-favoured (c1)" : "za-favoured (m4)";
}

namespace detail {

inline CostModel detect_cost_model() {
  if (const char* env = std::getenv("SME2K_COST_MODEL")) {
    if (std::strcmp(env, "c1") == 0) return CostModel::kVectorFavoured;
    if (std::strcmp(env, "m4") == 0) return CostModel::kZaFavoured;
  }
#if defined(__linux__)
  // The kernel exposes MIDR_EL1 per CPU; cpu0 stands for all (big.LITTLE clusters share the
  // implementer).
  if (std::FILE* f = std::fopen("/sys/devices/system/cpu/cpu0/regs/identification/midr_el1", "r")) {
    unsigned long long midr = 0;
    const int got = std::fscanf(f, "%llx", &midr);
    std::fclose(f);
    if (got == 1 && ((midr >> 24) & 0xff) == 0x41) return CostModel::kVectorFavoured;
  }
#endif
  return CostModel::kZaFavoured;
}

inline std::atomic<uint8_t> g_forced_cost_model{0};  // 0: none (testing::ScopedCostModel)

}  // namespace detail

/// The profile kernels follow on this CPU (see the header comment).
inline CostModel cost_model() {
  const uint8_t forced = detail::g_forced_cost_model.load(std::memory_order_relaxed);
  if (forced != 0) return static_cast<CostModel>(forced);
  static const CostModel detected = detail::detect_cost_model();
  return detected;
}

namespace testing {

/// For tests: while alive, cost_model() returns `model`.
class ScopedCostModel {
 public:
  explicit ScopedCostModel(CostModel model)
      : previous_(detail::g_forced_cost_model.exchange(static_cast<uint8_t>(model))) {}
  ~ScopedCostModel() { detail::g_forced_cost_model.store(previous_); }
  ScopedCostModel(const ScopedCostModel&) = delete;
  ScopedCostModel& operator=(const ScopedCostModel&) = delete;

 private:
  uint8_t previous_;
};

}  // namespace testing
}  // namespace sme2k
