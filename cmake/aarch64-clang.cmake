# Cross toolchain: clang for aarch64 Linux (Debian's aarch64 sysroot packages), programs run
# under qemu-aarch64 >= 10.1 (the first with SME2). scripts/setup installs all of it; the
# paths below can be overridden on the cmake command line.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(SME2K_LLVM_VERSION 22 CACHE STRING "clang/lld major version used to cross-compile")
set(_sme2k_root "${CMAKE_CURRENT_LIST_DIR}/..")
set(_sme2k_target aarch64-linux-gnu)

set(CMAKE_C_COMPILER clang-${SME2K_LLVM_VERSION})
set(CMAKE_CXX_COMPILER clang++-${SME2K_LLVM_VERSION})
set(CMAKE_ASM_COMPILER clang-${SME2K_LLVM_VERSION})
set(CMAKE_C_COMPILER_TARGET ${_sme2k_target})
set(CMAKE_CXX_COMPILER_TARGET ${_sme2k_target})
set(CMAKE_ASM_COMPILER_TARGET ${_sme2k_target})
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fuse-ld=lld")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-fuse-ld=lld")

# The SME ABI support routines (__arm_tpidr2_save, __arm_sme_state, ...) that functions with
# __arm_new("za") / __arm_locally_streaming call. Android NDK r27+, Apple clang and libgcc 14+
# ship them; Debian 12's libgcc 12 does not, so link compiler-rt's builtins archive.
set(SME2K_AARCH64_BUILTINS
  "${_sme2k_root}/.tools/clang-rt/usr/lib/llvm-${SME2K_LLVM_VERSION}/lib/clang/${SME2K_LLVM_VERSION}/lib/linux/libclang_rt.builtins-aarch64.a"
  CACHE FILEPATH "libclang_rt.builtins-aarch64.a (SME ABI routines)")
# try_compile projects (CMake's compiler checks) re-read this file without the caller's
# cache: pass the overridable paths on, so -DSME2K_AARCH64_BUILTINS=... reaches them too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SME2K_AARCH64_BUILTINS SME2K_LLVM_VERSION
     SME2K_QEMU)
set(CMAKE_C_STANDARD_LIBRARIES "${SME2K_AARCH64_BUILTINS}")
set(CMAKE_CXX_STANDARD_LIBRARIES "${SME2K_AARCH64_BUILTINS}")

set(SME2K_QEMU "${_sme2k_root}/.tools/qemu/usr/bin/qemu-aarch64" CACHE FILEPATH "qemu-aarch64 >= 10.1")
# -cpu comes from QEMU_CPU, set per test (see cmake/Sme2kTesting.cmake).
set(CMAKE_CROSSCOMPILING_EMULATOR "${SME2K_QEMU}")

# Headers are shared with the host; libraries and package configs come from the multiarch dirs.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
