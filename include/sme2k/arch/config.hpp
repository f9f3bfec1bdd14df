// What this compiler and target can build.
//
// SME2 code is compiled only where the compiler has the ACLE SME2 intrinsics and can place
// them behind function-level target attributes, so a translation unit built for plain
// armv8-a (or for x86-64) still compiles and runs: the SME2 kernels are chosen at run time.
// Define SME2K_NO_SME2 to build the portable path only.
//
// Compilers (issue 19): clang >= 19 (Apple clang >= 17) and GCC >= 14 have the SME2 ACLE
// and the SME keyword attributes. GCC 14 lacks FEAT_SME_F16F16 (no "+sme-f16f16" target
// modifier, no svmopa_za16_f16_m or svcvt_f32_f16_x2): a GCC 14 build has every SME2 kernel
// but the f16-accumulating one, and F16Acc16 runs the F16 SME2 kernel (path "sme2").
#pragma once

#if defined(__aarch64__) && defined(__clang__) && !defined(SME2K_NO_SME2)
#if defined(__apple_build_version__)
#define SME2K_CLANG_HAS_SME2_ACLE (__clang_major__ >= 17)
#else
#define SME2K_CLANG_HAS_SME2_ACLE (__clang_major__ >= 19)
#endif
#elif defined(__aarch64__) && defined(__GNUC__) && !defined(SME2K_NO_SME2)
#define SME2K_CLANG_HAS_SME2_ACLE (__GNUC__ >= 14)  // GCC: the same ACLE from GCC 14 on
#else
#define SME2K_CLANG_HAS_SME2_ACLE 0
#endif

#if SME2K_CLANG_HAS_SME2_ACLE && defined(__has_include)
#if __has_include(<arm_sme.h>)
#define SME2K_HAS_SME2_CODE 1
#endif
#endif
#ifndef SME2K_HAS_SME2_CODE
#define SME2K_HAS_SME2_CODE 0
#endif
// The FEAT_SME_F16F16 kernel (f16 accumulation in ZA): clang only (see above).
#if SME2K_HAS_SME2_CODE && defined(__clang__)
#define SME2K_HAS_SME_F16F16_CODE 1
#else
#define SME2K_HAS_SME_F16F16_CODE 0
#endif

// Debug-only precondition inside kernels and packers: ops validate at the door, kernels
// only state what they rely on (never a Status, never a check in release builds).
#if defined(SME2K_ENABLE_ASSUME_CHECKS)
#include <cstdio>
#include <cstdlib>
#define SME2K_ASSUME(cond)                                                                         \
  ((cond)                                                                                          \
       ? (void)0                                                                                   \
       : (std::fprintf(stderr, "%s:%d: sme2k assumption failed: %s\n", __FILE__, __LINE__, #cond), \
          std::abort()))
#else
#define SME2K_ASSUME(cond) ((void)0)
#endif
