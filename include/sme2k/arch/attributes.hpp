// Compiler attributes for SME2 code: target features, streaming mode and ZA state.
//
// The SME ABI ties each function to a streaming-mode contract. sme2k uses three kinds:
//  - the op's tile-loop driver: SME2K_LOCALLY_STREAMING SME2K_NEW_ZA. Called from ordinary
//    code, it enters streaming mode and takes ZA once per op call, and leaves both on return.
//  - kernels, packers and epilogue stores: SME2K_STREAMING SME2K_INOUT_ZA, always inlined into
//    the driver. A helper that is neither inlined nor streaming(-compatible) would make the
//    compiler leave and re-enter streaming mode around every call (hundreds of toggles).
//  - small queries (vector length): SME2K_STREAMING_COMPATIBLE.
// Every one of them also carries SME2K_TARGET_SME2, so no global -march flag is needed.
// Spelling order for declarations: keywords first, SME2K_LOCALLY_STREAMING SME2K_NEW_ZA
// SME2K_TARGET_SME2 void f(): clang 22 rejects __arm_locally_streaming after an
// __attribute__ inside a namespace ("cannot appear here").
#pragma once

#include "sme2k/arch/config.hpp"

#define SME2K_ALWAYS_INLINE inline __attribute__((always_inline))
#define SME2K_NOINLINE __attribute__((noinline))
// Before a scalar element loop (weight packing at load time, the tests' references): unrolled
// 8 times, same operations in the same order. Under emulation each loop trip was one basic
// block, and the benchmarks' cycle model traces every block executed, setup included.
#define SME2K_UNROLL_8 _Pragma("GCC unroll 8")

#if SME2K_HAS_SME2_CODE
#if defined(__clang__)
#define SME2K_TARGET_SME2 __attribute__((target("sme2")))
// Code that also uses FEAT_SME_F16F16 (f16 accumulation in ZA): run only where the CPU has it.
#define SME2K_TARGET_SME2_F16F16 __attribute__((target("sme2,sme-f16f16")))
#else  // GCC spells target extensions with a '+'
#define SME2K_TARGET_SME2 __attribute__((target("+sme2")))
#endif
#define SME2K_STREAMING __arm_streaming
#define SME2K_STREAMING_COMPATIBLE __arm_streaming_compatible
#define SME2K_LOCALLY_STREAMING __arm_locally_streaming
#define SME2K_INOUT_ZA __arm_inout("za")
#define SME2K_NEW_ZA __arm_new("za")
#else
// Helpers shared by portable and streaming code carry this; without SME2 code it is nothing.
#define SME2K_STREAMING_COMPATIBLE
#endif
