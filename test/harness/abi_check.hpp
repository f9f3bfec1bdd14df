// ABI check: runs a call through an assembly trampoline that loads known patterns into every
// callee-saved register, and afterwards reports which ones the call did not give back, plus
// the SME state a normal function must not leave behind.
//
// aarch64 (AAPCS64 + SME ABI): x19-x28 and d8-d15 (the low 64 bits of v8-v15) must be
// preserved; on return from a non-streaming, private-ZA function PSTATE.SM must be 0, and
// PSTATE.ZA must be 0 with TPIDR2_EL0 null (a function that took ZA must release it). The SME
// state is read only when the CPU has SME (reading SVCR elsewhere is SIGILL).
// x86-64 (System V): rbx, rbp, r12-r15; there is no SME state to check.
//
//   SME2K_EXPECT_ABI_PRESERVED(status = gemm<F32>(a, packed, bytes, c));
//
// The trampoline restores everything before returning (it also leaves streaming mode and turns
// ZA off if the call did not), so a failing check does not derail the rest of the test.
// Registers that the statement's own compiled frames save and restore are invisible to a check
// of the statement: to check one assembly routine alone, hand it to check_abi() directly.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace sme2k {
namespace test {

/// A callee-saved register that came back different.
struct AbiRegisterChange {
  const char* name;  ///< "x19", "d9", "rbx", ...
  uint64_t expected;
  uint64_t got;
};

/// What one checked call left behind.
struct AbiReport {
  bool registers_checked = false;  ///< false where there is no trampoline (not aarch64/x86-64)
  bool sme_state_checked = false;  ///< aarch64 on a CPU with SME only
  std::vector<AbiRegisterChange> changed;
  bool streaming_mode_left_on = false;  ///< PSTATE.SM (SVCR bit 0) still set
  bool za_left_on = false;              ///< PSTATE.ZA (SVCR bit 1) still set
  bool tpidr2_nonzero = false;          ///< TPIDR2_EL0 not null (a lazy ZA save left pending)
  uint64_t svcr = 0;
  uint64_t tpidr2 = 0;

  bool ok() const {
    return changed.empty() && !streaming_mode_left_on && !za_left_on && !tpidr2_nonzero;
  }
  /// One line per problem, or a line saying what was checked when there is none.
  std::string describe() const;
};

/// A C-ABI function the trampoline calls with `context`.
using AbiFunction = void (*)(void* context);

/// Whether the CPU has SME, as the OS reports it: never narrowed by a test's
/// ScopedCpuFeatures (the SME state must be checked whenever the hardware has it).
bool abi_check_cpu_has_sme();

/// Calls fn(context) under the check. `cpu_has_sme` must be false on a CPU without SME.
AbiReport check_abi(AbiFunction fn, void* context, bool cpu_has_sme);
inline AbiReport check_abi(AbiFunction fn, void* context) {
  return check_abi(fn, context, abi_check_cpu_has_sme());
}

namespace detail {
// The thunk between the trampoline and the callable keeps nothing alive across the call (no
// locals, the exception parked out of line), so it needs no callee-saved register of its own
// whose save and restore would hide a clobber from the check.
void park_current_exception() noexcept;
std::exception_ptr take_parked_exception() noexcept;

template <class Callable>
void abi_check_thunk(void* f) {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
  try {
    (*static_cast<Callable*>(f))();
  } catch (...) {
    park_current_exception();
  }
#else
  (*static_cast<Callable*>(f))();
#endif
}
}  // namespace detail

/// Calls f() under the check. An exception f() throws passes through (after the trampoline
/// has restored the registers), without a report.
template <class F>
AbiReport call_with_abi_check(F&& f) {
  using Callable = std::remove_reference_t<F>;
  const AbiReport report =
      check_abi(&detail::abi_check_thunk<Callable>,
                const_cast<void*>(static_cast<const void*>(std::addressof(f))));
  if (std::exception_ptr error = detail::take_parked_exception()) std::rethrow_exception(error);
  return report;
}

}  // namespace test
}  // namespace sme2k

/// Runs `statement` (commas allowed) under the ABI check; a non-fatal gtest failure names the
/// statement and everything it did not preserve.
#define SME2K_EXPECT_ABI_PRESERVED(...)                                                            \
  do {                                                                                             \
    const ::sme2k::test::AbiReport sme2k_abi_report_ =                                             \
        ::sme2k::test::call_with_abi_check([&]() { __VA_ARGS__; });                                \
    if (!sme2k_abi_report_.ok()) {                                                                 \
      ADD_FAILURE() << "ABI not preserved by: " #__VA_ARGS__ "\n" << sme2k_abi_report_.describe(); \
    }                                                                                              \
  } while (0)
