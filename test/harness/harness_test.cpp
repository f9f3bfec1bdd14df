// Self-tests of the test harness: guard pages fault where they should and say where, canaries
// notice stray writes, the ABI check catches each kind of violation it claims to (with
// deliberately broken assembly routines) and passes a real sme2k op, and the run's
// expectations agree with what sme2k detects. ctest runs this in every QEMU configuration.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/abi_check.hpp"
#include "harness/expectations.hpp"
#include "harness/guarded_buffer.hpp"
#include "sme2k/sme2k.hpp"

// Deliberately broken routines for the ABI check, as raw assembly so no compiler can repair
// them (".arch_extension sme" instead of a -march flag; TPIDR2_EL0 is S3_3_C13_C0_5). And a
// streaming-mode load, to see a guard page fault from inside an SME kernel.
#if defined(__aarch64__)
extern "C" void sme2k_test_clobber_x19(void*);
extern "C" void sme2k_test_clobber_d9(void*);
extern "C" void sme2k_test_leave_streaming_on(void*);
extern "C" void sme2k_test_leave_za_on(void*);
extern "C" void sme2k_test_leave_tpidr2_set(void*);
extern "C" void sme2k_test_streaming_load_words(const float* p, uint64_t count);
asm(R"(
        .arch_extension sme
        .text
        .p2align 2
        .globl  sme2k_test_clobber_x19
        .type   sme2k_test_clobber_x19, %function
sme2k_test_clobber_x19:
        mov     x19, #0x1234
        ret
        .size   sme2k_test_clobber_x19, . - sme2k_test_clobber_x19

        .p2align 2
        .globl  sme2k_test_clobber_d9
        .type   sme2k_test_clobber_d9, %function
sme2k_test_clobber_d9:
        fmov    d9, #1.0
        ret
        .size   sme2k_test_clobber_d9, . - sme2k_test_clobber_d9

        // Keeps d8-d15 (entering streaming mode zeroes the vector registers) but returns
        // in streaming mode.
        .p2align 2
        .globl  sme2k_test_leave_streaming_on
        .type   sme2k_test_leave_streaming_on, %function
sme2k_test_leave_streaming_on:
        stp     d8, d9, [sp, #-64]!
        stp     d10, d11, [sp, #16]
        stp     d12, d13, [sp, #32]
        stp     d14, d15, [sp, #48]
        smstart sm
        ldp     d10, d11, [sp, #16]
        ldp     d12, d13, [sp, #32]
        ldp     d14, d15, [sp, #48]
        ldp     d8, d9, [sp], #64
        ret
        .size   sme2k_test_leave_streaming_on, . - sme2k_test_leave_streaming_on

        .p2align 2
        .globl  sme2k_test_leave_za_on
        .type   sme2k_test_leave_za_on, %function
sme2k_test_leave_za_on:
        smstart za
        ret
        .size   sme2k_test_leave_za_on, . - sme2k_test_leave_za_on

        .p2align 2
        .globl  sme2k_test_leave_tpidr2_set
        .type   sme2k_test_leave_tpidr2_set, %function
sme2k_test_leave_tpidr2_set:
        msr     S3_3_C13_C0_5, x0
        ret
        .size   sme2k_test_leave_tpidr2_set, . - sme2k_test_leave_tpidr2_set

        // Loads count (x1) words from x0 in streaming mode, predicated as a kernel's tail is.
        .p2align 2
        .globl  sme2k_test_streaming_load_words
        .type   sme2k_test_streaming_load_words, %function
sme2k_test_streaming_load_words:
        stp     d8, d9, [sp, #-64]!
        stp     d10, d11, [sp, #16]
        stp     d12, d13, [sp, #32]
        stp     d14, d15, [sp, #48]
        smstart sm
        whilelo p0.s, xzr, x1
        ld1w    {z0.s}, p0/z, [x0]
        smstop  sm
        ldp     d10, d11, [sp, #16]
        ldp     d12, d13, [sp, #32]
        ldp     d14, d15, [sp, #48]
        ldp     d8, d9, [sp], #64
        ret
        .size   sme2k_test_streaming_load_words, . - sme2k_test_streaming_load_words
)");
#elif defined(__x86_64__)
extern "C" void sme2k_test_clobber_rbx(void*);
extern "C" void sme2k_test_clobber_r15(void*);
asm(R"(
        .text
        .p2align 4
        .globl  sme2k_test_clobber_rbx
        .type   sme2k_test_clobber_rbx, @function
sme2k_test_clobber_rbx:
        movq    $0x1234, %rbx
        ret
        .size   sme2k_test_clobber_rbx, . - sme2k_test_clobber_rbx

        .p2align 4
        .globl  sme2k_test_clobber_r15
        .type   sme2k_test_clobber_r15, @function
sme2k_test_clobber_r15:
        movq    $0x1234, %r15
        ret
        .size   sme2k_test_clobber_r15, . - sme2k_test_clobber_r15
)");
#endif

namespace sme2k {
namespace test {
namespace {

// gtest's "threadsafe" death tests re-execute the test binary; under QEMU user mode without
// binfmt_misc the child's execve() of an aarch64 binary fails (ENOEXEC) before the test
// runs. "fast" only forks, which QEMU emulates, and this binary runs no threads of its own.
void use_death_test_style_that_works_here() {
#if defined(SME2K_TEST_EMULATED)
  GTEST_FLAG_SET(death_test_style, "fast");
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
#endif
}

// A dying child must not leave a core file behind (QEMU writes its own qemu_*.core).
void no_core_dump() {
  struct rlimit none{};
  setrlimit(RLIMIT_CORE, &none);
}

template <class T>
T read_volatile(const T* p) {
  return *static_cast<const volatile T*>(p);
}

template <class T>
void write_volatile(T* p, T value) {
  *static_cast<volatile T*>(p) = value;
}

bool is_page_aligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % GuardedBuffer::page_size() == 0;
}

// ------------------------------------------------------------------ guard-page buffers

TEST(GuardedBuffer, EveryByteInsideIsUsable) {
  const size_t page = GuardedBuffer::page_size();
  for (GuardSide side : {GuardSide::kEnd, GuardSide::kStart}) {
    for (size_t bytes : {size_t{1}, size_t{3}, page - 1, page, page + 1, 3 * page + 5}) {
      SCOPED_TRACE(std::string(guard_side_name(side)) + " bytes=" + std::to_string(bytes));
      GuardedBuffer b(bytes, side);
      ASSERT_EQ(b.size(), bytes);
      for (size_t i = 0; i < bytes; ++i) b.data()[i] = static_cast<uint8_t>(i * 7);
      for (size_t i = 0; i < bytes; ++i) ASSERT_EQ(b.data()[i], static_cast<uint8_t>(i * 7));
      // Flush against the chosen guard page; the other side is canary slack.
      if (side == GuardSide::kEnd) {
        EXPECT_TRUE(is_page_aligned(b.data() + bytes));
        EXPECT_EQ(b.slack_after(), 0u);
      } else {
        EXPECT_TRUE(is_page_aligned(b.data()));
        EXPECT_EQ(b.slack_before(), 0u);
      }
      EXPECT_EQ((b.slack_before() + b.size() + b.slack_after()) % page, 0u);
      EXPECT_TRUE(b.canary_intact());
    }
  }
}

TEST(GuardedBuffer, StartsZeroed) {
  GuardedBuffer b(100);
  for (size_t i = 0; i < b.size(); ++i) ASSERT_EQ(b.data()[i], 0);
}

TEST(GuardedBuffer, AlignmentKeepsTheGapInCanary) {
  GuardedBuffer b(10, GuardSide::kEnd, 64);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
  EXPECT_EQ(b.slack_after(), 54u);  // 64 - 10: a stray write there is still noticed
  b.data()[10] = 0;
  b.data()[10] ^= 0xff;
  EXPECT_FALSE(b.canary_intact());
}

struct Rgb {
  float r, g, b;
};

template <class T>
void expect_flush_and_aligned(size_t count) {
  for (GuardSide side : {GuardSide::kEnd, GuardSide::kStart}) {
    SCOPED_TRACE(std::string(guard_side_name(side)) + " sizeof=" + std::to_string(sizeof(T)) +
                 " count=" + std::to_string(count));
    GuardedArray<T> a(count, side);
    ASSERT_EQ(a.size(), count);
    EXPECT_EQ(a.size_bytes(), count * sizeof(T));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % alignof(T), 0u);
    EXPECT_TRUE(is_page_aligned(side == GuardSide::kEnd ? a.end() : a.begin()));
    EXPECT_EQ(static_cast<size_t>(a.end() - a.begin()), count);
  }
}

TEST(GuardedArray, ElementsAreAlignedAndFlushAgainstTheGuard) {
  for (size_t count : {1, 2, 3, 17, 1000, 1025}) {
    expect_flush_and_aligned<uint8_t>(count);
    expect_flush_and_aligned<uint16_t>(count);
    expect_flush_and_aligned<f16>(count);
    expect_flush_and_aligned<float>(count);
    expect_flush_and_aligned<double>(count);
    expect_flush_and_aligned<Rgb>(count);
  }
}

TEST(GuardedArray, FillsFromAVectorAndAGenerator) {
  const std::vector<float> values = {1.5f, -2.0f, 3.25f};
  GuardedArray<float> from_vector(values);
  EXPECT_EQ(from_vector.to_vector(), values);

  GuardedArray<int32_t> by_index(5, GuardSide::kStart);
  by_index.generate([](size_t i) { return static_cast<int32_t>(i * i); });
  EXPECT_EQ(by_index.to_vector(), (std::vector<int32_t>{0, 1, 4, 9, 16}));

  int next = 10;
  GuardedArray<int32_t> by_call(3);
  by_call.generate([&next] { return next++; });
  EXPECT_EQ(by_call.to_vector(), (std::vector<int32_t>{10, 11, 12}));

  by_call.fill(7);
  for (int32_t x : by_call) EXPECT_EQ(x, 7);
  by_call[1] = 8;
  EXPECT_EQ(by_call[1], 8);
  EXPECT_TRUE(from_vector.canary_intact() && by_index.canary_intact() && by_call.canary_intact());
}

TEST(GuardedArray, ZeroSizeWorks) {
  for (GuardSide side : {GuardSide::kEnd, GuardSide::kStart}) {
    GuardedBuffer b(0, side);
    EXPECT_NE(b.data(), nullptr);
    EXPECT_EQ(b.size(), 0u);
    EXPECT_TRUE(is_page_aligned(b.data()));  // the guard boundary
    EXPECT_TRUE(b.canary_intact());

    GuardedArray<double> a(0, side);
    EXPECT_TRUE(a.empty());
    EXPECT_EQ(a.begin(), a.end());
    EXPECT_TRUE(is_page_aligned(a.data()));
    for (double& x : a) x = 1.0;  // no iteration
    EXPECT_TRUE(a.to_vector().empty());
  }
}

TEST(GuardedArray, MovesOwnership) {
  GuardedArray<float> a(std::vector<float>{1, 2, 3});
  const float* data = a.data();
  GuardedArray<float> b(std::move(a));
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): the moved-from state is defined
  EXPECT_EQ(a.begin(), a.end());
  GuardedArray<float> c(1);
  c = std::move(b);
  EXPECT_EQ(c.data(), data);
  EXPECT_EQ(c[2], 3.0f);

  GuardedBuffer x(8);
  GuardedBuffer y = std::move(x);
  EXPECT_EQ(y.size(), 8u);
  EXPECT_EQ(x.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(x.canary_intact());
}

TEST(GuardedArray, CanaryCatchesAWriteJustBeforeTheStart) {
  GuardedArray<float> a(10, GuardSide::kEnd);
  ASSERT_TRUE(a.canary_intact());
  write_volatile(a.data() - 1, 0.0f);  // lands in the slack, which is still mapped
  EXPECT_FALSE(a.canary_intact());

  GuardedArray<uint8_t> bytes(3, GuardSide::kEnd);
  const uint8_t before = read_volatile(bytes.data() - 100);
  write_volatile<uint8_t>(bytes.data() - 100, static_cast<uint8_t>(before + 1));
  EXPECT_FALSE(bytes.canary_intact());
}

TEST(GuardedArray, CanaryCatchesAWriteJustPastTheEndWithGuardAtStart) {
  GuardedArray<float> a(10, GuardSide::kStart);
  write_volatile(a.data() + 10, 0.0f);
  EXPECT_FALSE(a.canary_intact());
}

TEST(GuardedArrayDeathTest, ReadingOnePastTheEndFaults) {
  use_death_test_style_that_works_here();
  GuardedArray<float> a(10, GuardSide::kEnd);
  EXPECT_EXIT(
      {
        no_core_dump();
        (void)read_volatile(a.data() + a.size());
      },
      ::testing::KilledBySignal(SIGSEGV),
      "sme2k test harness: access to guard page at 0x[0-9a-f]+ \\(1 byte past the end of a "
      "buffer of 40 bytes: offset 40\\)");
}

TEST(GuardedArrayDeathTest, WritingPastTheEndFaults) {
  use_death_test_style_that_works_here();
  GuardedArray<double> a(3, GuardSide::kEnd);
  EXPECT_DEATH(
      {
        no_core_dump();
        write_volatile(a.data() + 4, 1.0);
      },
      "access to guard page at 0x[0-9a-f]+ \\(9 bytes past the end of a buffer of 24 bytes: "
      "offset 32\\)");
}

TEST(GuardedArrayDeathTest, ReadingOneBeforeTheStartFaults) {
  use_death_test_style_that_works_here();
  GuardedArray<float> a(10, GuardSide::kStart);
  EXPECT_EXIT(
      {
        no_core_dump();
        (void)read_volatile(a.data() - 1);
      },
      ::testing::KilledBySignal(SIGSEGV),
      "sme2k test harness: access to guard page at 0x[0-9a-f]+ \\(4 bytes before the start of a "
      "buffer of 40 bytes: offset -4\\)");
}

TEST(GuardedArrayDeathTest, TouchingAnEmptyBufferFaults) {
  use_death_test_style_that_works_here();
  GuardedArray<uint8_t> a(0, GuardSide::kEnd);
  EXPECT_DEATH(
      {
        no_core_dump();
        (void)read_volatile(a.data());
      },
      "\\(1 byte past the end of a buffer of 0 bytes: offset 0\\)");
  GuardedArray<uint8_t> b(0, GuardSide::kStart);
  EXPECT_DEATH(
      {
        no_core_dump();
        (void)read_volatile(b.data() - 1);
      },
      "\\(1 byte before the start of a buffer of 0 bytes: offset -1\\)");
}

#if defined(__aarch64__)
// Guard pages see what SME kernels do: a predicated tail load of exactly the buffer is fine,
// one active lane too many faults, and the message comes out although the fault happened in
// streaming mode (the kernel delivers the signal with PSTATE.SM cleared).
TEST(GuardedArrayDeathTest, StreamingLoadPastTheEndFaults) {
  if (!detect_cpu_features().has(CpuFeature::kSme)) {
    GTEST_SKIP() << "the CPU has no SME (e.g. QEMU -cpu max,sme=off): no streaming loads";
  }
  use_death_test_style_that_works_here();
  GuardedArray<float> a(std::vector<float>{1, 2, 3});
  sme2k_test_streaming_load_words(a.data(), 3);
  SME2K_EXPECT_ABI_PRESERVED(sme2k_test_streaming_load_words(a.data(), 3));
  EXPECT_EXIT(
      {
        no_core_dump();
        sme2k_test_streaming_load_words(a.data(), 4);
      },
      ::testing::KilledBySignal(SIGSEGV),
      "sme2k test harness: access to guard page at 0x[0-9a-f]+ \\(1 byte past the end of a "
      "buffer of 12 bytes: offset 12\\)");
}
#endif

// Faults outside guard pages still go to the previous handler (or the default action).
TEST(GuardedArrayDeathTest, OtherFaultsStillCrash) {
  use_death_test_style_that_works_here();
  GuardedArray<float> keep_handler_installed(1);
  void* page =
      mmap(nullptr, GuardedBuffer::page_size(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  EXPECT_DEATH(
      {
        no_core_dump();
        (void)read_volatile(static_cast<const int*>(page));
      },
      "");
  munmap(page, GuardedBuffer::page_size());
}

// ------------------------------------------------------------------ ABI check

int g_sink = 0;

// Ordinary compiled code, busy enough to use callee-saved registers itself.
void well_behaved(void* context) {
  auto* values = static_cast<std::vector<int>*>(context);
  int acc = 0;
  for (size_t i = 0; i < values->size(); ++i) acc += (*values)[i] * static_cast<int>(i);
  double d = 0;
  for (int v : *values) d += 1.0 / (v + 1);
  g_sink = acc + static_cast<int>(d);
}

TEST(AbiCheck, WellBehavedCodePasses) {
  std::vector<int> values(100, 3);
  const AbiReport report = check_abi(well_behaved, &values);
  EXPECT_TRUE(report.ok()) << report.describe();
#if defined(__aarch64__) || defined(__x86_64__)
  EXPECT_TRUE(report.registers_checked);
#endif
  EXPECT_EQ(report.sme_state_checked, abi_check_cpu_has_sme());
  EXPECT_NE(report.describe().find("ABI preserved"), std::string::npos) << report.describe();

  int calls = 0;
  const AbiReport lambda_report = call_with_abi_check([&] { calls += 1; });
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(lambda_report.ok()) << lambda_report.describe();

  SME2K_EXPECT_ABI_PRESERVED(well_behaved(&values));
}

TEST(AbiCheck, ExceptionsPassThrough) {
  EXPECT_THROW(call_with_abi_check([] { throw std::runtime_error("inside"); }), std::runtime_error);
  EXPECT_TRUE(call_with_abi_check([] {}).ok());
}

#if defined(__aarch64__)

void expect_only_changed(const AbiReport& report, const char* name) {
  ASSERT_EQ(report.changed.size(), 1u) << report.describe();
  EXPECT_STREQ(report.changed[0].name, name);
  EXPECT_NE(report.changed[0].expected, report.changed[0].got);
  EXPECT_FALSE(report.ok());
  EXPECT_NE(report.describe().find(std::string(name) + " not preserved"), std::string::npos)
      << report.describe();
}

TEST(AbiCheck, CatchesClobberedX19) {
  const AbiReport report = check_abi(sme2k_test_clobber_x19, nullptr);
  expect_only_changed(report, "x19");
  EXPECT_EQ(report.changed[0].got, 0x1234u);
  EXPECT_NONFATAL_FAILURE(SME2K_EXPECT_ABI_PRESERVED(sme2k_test_clobber_x19(nullptr)),
                          "x19 not preserved");
}

TEST(AbiCheck, CatchesClobberedD9) {
  const AbiReport report = check_abi(sme2k_test_clobber_d9, nullptr);
  expect_only_changed(report, "d9");
  EXPECT_EQ(report.changed[0].got, 0x3ff0000000000000u);  // 1.0
  EXPECT_NONFATAL_FAILURE(SME2K_EXPECT_ABI_PRESERVED(sme2k_test_clobber_d9(nullptr)),
                          "d9 not preserved");
}

// The SME state can only be produced (and read) on a CPU with SME.
#define SKIP_WITHOUT_SME()                                                                       \
  if (!detect_cpu_features().has(CpuFeature::kSme))                                              \
  GTEST_SKIP() << "the CPU has no SME (e.g. QEMU -cpu max,sme=off): no streaming mode or ZA to " \
                  "leave on"

TEST(AbiCheck, CatchesStreamingModeLeftOn) {
  SKIP_WITHOUT_SME();
  const AbiReport report = check_abi(sme2k_test_leave_streaming_on, nullptr);
  EXPECT_TRUE(report.sme_state_checked);
  EXPECT_TRUE(report.streaming_mode_left_on);
  EXPECT_FALSE(report.za_left_on);
  EXPECT_TRUE(report.changed.empty()) << report.describe();
  EXPECT_NE(report.describe().find("streaming mode left on"), std::string::npos);
  // The trampoline switched it off again: the next call starts (and ends) clean.
  EXPECT_TRUE(call_with_abi_check([] {}).ok());
  EXPECT_NONFATAL_FAILURE(SME2K_EXPECT_ABI_PRESERVED(sme2k_test_leave_streaming_on(nullptr)),
                          "streaming mode left on");
}

TEST(AbiCheck, CatchesZaLeftOn) {
  SKIP_WITHOUT_SME();
  const AbiReport report = check_abi(sme2k_test_leave_za_on, nullptr);
  EXPECT_TRUE(report.za_left_on);
  EXPECT_FALSE(report.streaming_mode_left_on);
  EXPECT_TRUE(report.changed.empty()) << report.describe();
  EXPECT_NE(report.describe().find("ZA left on"), std::string::npos);
  EXPECT_TRUE(call_with_abi_check([] {}).ok());
  EXPECT_NONFATAL_FAILURE(SME2K_EXPECT_ABI_PRESERVED(sme2k_test_leave_za_on(nullptr)),
                          "ZA left on");
}

TEST(AbiCheck, CatchesTpidr2LeftSet) {
  SKIP_WITHOUT_SME();
  static uint8_t block[16];
  const AbiReport report = check_abi(sme2k_test_leave_tpidr2_set, block);
  EXPECT_TRUE(report.tpidr2_nonzero);
  EXPECT_EQ(report.tpidr2, reinterpret_cast<uintptr_t>(block));
  EXPECT_NE(report.describe().find("TPIDR2_EL0 left non-zero"), std::string::npos);
  EXPECT_TRUE(call_with_abi_check([] {}).ok());  // restored to null
}

#elif defined(__x86_64__)

TEST(AbiCheck, CatchesClobberedRbxAndR15) {
  AbiReport report = check_abi(sme2k_test_clobber_rbx, nullptr);
  ASSERT_EQ(report.changed.size(), 1u) << report.describe();
  EXPECT_STREQ(report.changed[0].name, "rbx");
  EXPECT_EQ(report.changed[0].got, 0x1234u);
  report = check_abi(sme2k_test_clobber_r15, nullptr);
  ASSERT_EQ(report.changed.size(), 1u) << report.describe();
  EXPECT_STREQ(report.changed[0].name, "r15");
  EXPECT_FALSE(report.sme_state_checked);
  EXPECT_NONFATAL_FAILURE(SME2K_EXPECT_ABI_PRESERVED(sme2k_test_clobber_rbx(nullptr)),
                          "rbx not preserved");
}

#endif

// A real op, on whatever path this configuration dispatches to, keeps the ABI: on SME2 the
// op enters and leaves streaming mode and ZA itself.
TEST(AbiCheck, Sme2kGemmPasses) {
  const size_t m = 3, n = 5, k = 7;
  std::vector<float> a(m * k), b(k * n), c(m * n, -1.0f);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 5) - 2.0f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 3) * 0.5f;
  size_t packed_bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<F32>(n, k, &packed_bytes).ok());
  std::vector<uint8_t> packed(packed_bytes);
  Status status = gemm_pack_rhs<F32>(dense_matrix<const float>(b.data(), k, n), RhsLayout::kKxN,
                                     nullptr, packed.data(), packed.size());
  ASSERT_TRUE(status.ok()) << status.message();

  const AbiReport report = call_with_abi_check([&] {
    status = gemm<F32>(dense_matrix<const float>(a.data(), m, k), packed.data(), packed.size(),
                       dense_matrix(c.data(), m, n));
  });
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_TRUE(report.ok()) << report.describe();
  EXPECT_EQ(report.sme_state_checked, abi_check_cpu_has_sme());
  if (const std::optional<Path> path = expected_path()) {
    EXPECT_STREQ(path_name(last_used_path()), path_name(*path));  // the SME2 kernel where present
  }
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      float want = 0;
      for (size_t p = 0; p < k; ++p) want += a[i * k + p] * b[p * n + j];
      EXPECT_EQ(c[i * n + j], want) << "C(" << i << ", " << j << ")";  // small exact values
    }
  }
  SME2K_EXPECT_ABI_PRESERVED(status =
                                 gemm<F32>(dense_matrix<const float>(a.data(), m, k), packed.data(),
                                           packed.size(), dense_matrix(c.data(), m, n)));
  EXPECT_TRUE(status.ok()) << status.message();
}

// ------------------------------------------------------------------ expectations

TEST(Expectations, ParsePathsAndVectorLengths) {
  EXPECT_EQ(parse_expected_path("sme2"), Path::kSme2);
  EXPECT_EQ(parse_expected_path("portable"), Path::kPortable);
  EXPECT_EQ(parse_expected_path("sme2-f16f16"), Path::kSme2F16F16);
  EXPECT_EQ(parse_expected_path(nullptr), std::nullopt);
  EXPECT_EQ(parse_expected_path(""), std::nullopt);
  EXPECT_EQ(parse_expected_path("SME2"), std::nullopt);

  EXPECT_EQ(parse_expected_svl_bits("0"), size_t{0});
  EXPECT_EQ(parse_expected_svl_bits("128"), size_t{128});
  EXPECT_EQ(parse_expected_svl_bits("2048"), size_t{2048});
  EXPECT_EQ(parse_expected_svl_bits(nullptr), std::nullopt);
  EXPECT_EQ(parse_expected_svl_bits(""), std::nullopt);
  EXPECT_EQ(parse_expected_svl_bits("100"), std::nullopt);
  EXPECT_EQ(parse_expected_svl_bits("4096"), std::nullopt);
  EXPECT_EQ(parse_expected_svl_bits("512 "), std::nullopt);
  EXPECT_EQ(parse_expected_svl_bits("99999999999999999999999"), std::nullopt);
}

// What ctest says this configuration is, against what sme2k detects.
TEST(Expectations, RunMatchesItsConfiguration) {
  const std::optional<Path> path = expected_path();
  const std::optional<size_t> svl = expected_svl_bits();
  if (!path && !svl) GTEST_SKIP() << "SME2K_EXPECT_PATH / SME2K_EXPECT_SVL unset (run by hand)";
  if (path) {
    EXPECT_STREQ(path_name(select_path()), path_name(*path));
  }
  if (svl) {
    EXPECT_EQ(streaming_vector_bytes() * 8, *svl);
  }
}

}  // namespace
}  // namespace test
}  // namespace sme2k
