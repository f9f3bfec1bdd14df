#include "harness/abi_check.hpp"

#include <atomic>
#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <utility>

#include "sme2k/arch/cpu_features.hpp"

namespace sme2k {
namespace test {
namespace {

#if defined(__aarch64__)
#define SME2K_ABI_TRAMPOLINE 1
#define SME2K_ABI_SME_STATE 1
constexpr const char* kRegisterNames[] = {"x19", "x20", "x21", "x22", "x23", "x24",
                                          "x25", "x26", "x27", "x28", "d8",  "d9",
                                          "d10", "d11", "d12", "d13", "d14", "d15"};
#elif defined(__x86_64__)
#define SME2K_ABI_TRAMPOLINE 1
#define SME2K_ABI_SME_STATE 0
constexpr const char* kRegisterNames[] = {"rbx", "rbp", "r12", "r13", "r14", "r15"};
#else
#define SME2K_ABI_TRAMPOLINE 0
#define SME2K_ABI_SME_STATE 0
constexpr const char* kRegisterNames[] = {""};
#endif
constexpr size_t kRegisters = sizeof kRegisterNames / sizeof kRegisterNames[0];

#if SME2K_ABI_TRAMPOLINE
// Distinct per register (bits 48-55) and per call (the low bits), so a routine cannot pass by
// writing back a constant it saw on an earlier call. Bit 63 set: never a valid pointer, never
// a small integer a routine might compute by chance.
uint64_t pattern(size_t reg, uint64_t call) {
  const uint64_t mixed = (call + 1) * 0x9e3779b97f4a7c15ull;
  return 0xa500000000000000ull | (uint64_t{reg} << 48) | (mixed >> 16);
}

std::atomic<uint64_t> g_calls{0};
#endif

}  // namespace

namespace detail {

// Shared with abi_trampoline_<arch>.S: the offsets there are spelled out and checked below.
struct TrampolineFrame {
  uint64_t in[kRegisters];   // loaded before the call
  uint64_t out[kRegisters];  // as the call returned them
  uint64_t svcr;             // aarch64 with SME: SVCR and TPIDR2_EL0 after the call
  uint64_t tpidr2;
};

#if defined(__aarch64__)
static_assert(offsetof(detail::TrampolineFrame, out) == 144 &&
                  offsetof(detail::TrampolineFrame, svcr) == 288 &&
                  offsetof(detail::TrampolineFrame, tpidr2) == 296,
              "TrampolineFrame no longer matches abi_trampoline_aarch64.S");
#elif defined(__x86_64__)
static_assert(offsetof(detail::TrampolineFrame, out) == 48,
              "TrampolineFrame no longer matches abi_trampoline_x86_64.S");
#endif

}  // namespace detail
}  // namespace test
}  // namespace sme2k

#if SME2K_ABI_TRAMPOLINE
// has_sme: nonzero when SVCR and TPIDR2_EL0 may be read (ignored on x86-64).
extern "C" void sme2k_abi_trampoline(sme2k::test::detail::TrampolineFrame* frame,
                                     sme2k::test::AbiFunction fn, void* context, uint64_t has_sme);
#endif

namespace sme2k {
namespace test {

namespace detail {

namespace {
thread_local std::exception_ptr t_parked_exception;
}  // namespace

void park_current_exception() noexcept { t_parked_exception = std::current_exception(); }

std::exception_ptr take_parked_exception() noexcept {
  std::exception_ptr error = std::move(t_parked_exception);
  t_parked_exception = nullptr;
  return error;
}

}  // namespace detail

bool abi_check_cpu_has_sme() {
  static const bool has_sme = detect_cpu_features().has(CpuFeature::kSme);
  return has_sme;
}

AbiReport check_abi(AbiFunction fn, void* context, bool cpu_has_sme) {
  AbiReport report;
#if SME2K_ABI_TRAMPOLINE
  detail::TrampolineFrame frame{};
  const uint64_t call = g_calls.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; i < kRegisters; ++i) frame.in[i] = pattern(i, call);
  const bool sme = cpu_has_sme && SME2K_ABI_SME_STATE;
  sme2k_abi_trampoline(&frame, fn, context, sme ? 1 : 0);
  report.registers_checked = true;
  for (size_t i = 0; i < kRegisters; ++i) {
    if (frame.out[i] != frame.in[i]) {
      report.changed.push_back({kRegisterNames[i], frame.in[i], frame.out[i]});
    }
  }
  if (sme) {
    report.sme_state_checked = true;
    report.svcr = frame.svcr;
    report.tpidr2 = frame.tpidr2;
    report.streaming_mode_left_on = (frame.svcr & 1) != 0;
    report.za_left_on = (frame.svcr & 2) != 0;
    report.tpidr2_nonzero = frame.tpidr2 != 0;
  }
#else
  (void)cpu_has_sme;
  fn(context);
#endif
  return report;
}

std::string AbiReport::describe() const {
  std::string s;
  char line[160];
  for (const AbiRegisterChange& c : changed) {
    std::snprintf(line, sizeof line,
                  "callee-saved %s not preserved: expected 0x%016" PRIx64 ", got 0x%016" PRIx64
                  "\n",
                  c.name, c.expected, c.got);
    s += line;
  }
  if (streaming_mode_left_on) s += "streaming mode left on (PSTATE.SM = 1 after return)\n";
  if (za_left_on) s += "ZA left on (PSTATE.ZA = 1 after return)\n";
  if (tpidr2_nonzero) {
    std::snprintf(line, sizeof line,
                  "TPIDR2_EL0 left non-zero (0x%016" PRIx64 "): a lazy ZA save is pending\n",
                  tpidr2);
    s += line;
  }
  if (ok()) {
    if (!registers_checked) return "ABI not checked (no trampoline for this architecture)";
    s = "ABI preserved: callee-saved registers";
#if defined(__aarch64__)
    s += sme_state_checked ? ", PSTATE.SM, PSTATE.ZA, TPIDR2_EL0"
                           : " (SME state not checked: the CPU has no SME)";
#else
    s += " (SME state not applicable on this architecture)";
#endif
  } else if (!s.empty() && s.back() == '\n') {
    s.pop_back();
  }
  return s;
}

}  // namespace test
}  // namespace sme2k
