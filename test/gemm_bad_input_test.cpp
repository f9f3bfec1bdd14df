// Every public GEMM entry point refuses bad input with a Status (and the right code), never a
// crash or a write: zero and overflowing sizes, null pointers, strides too small, short
// buffers, overlapping operands, bad clamps, and packed weights made for something else
// (another shape, path, SVL or variant, or not packed at all).
#include <gtest/gtest.h>
#include <sys/prctl.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "harness/expectations.hpp"
#include "sme2k/sme2k.hpp"
#include "testers/expect_status.hpp"

#ifndef PR_SME_SET_VL
#define PR_SME_SET_VL 63
#endif

namespace sme2k {
namespace test {
namespace {

constexpr size_t kMax = std::numeric_limits<size_t>::max();

// A valid small problem; each test breaks one thing. M = 9 is above the small-M kernel's
// range, so the SME2 path needs a workspace (FewRows checks the small-M path).
struct Fixture {
  static constexpr size_t m = 9, n = 7, k = 3;
  std::vector<float> a = std::vector<float>(m * k, 1.0f);
  std::vector<float> b = std::vector<float>(k * n, 1.0f);
  std::vector<float> bias = std::vector<float>(n, 0.5f);
  std::vector<float> c = std::vector<float>(m * n, -7.0f);
  std::vector<uint8_t> packed;
  std::vector<uint8_t> workspace;

  Fixture() {
    size_t bytes = 0;
    EXPECT_TRUE(gemm_packed_rhs_size<F32>(n, k, &bytes).ok());
    packed.resize(bytes);
    EXPECT_TRUE(gemm_pack_rhs<F32>(B(), RhsLayout::kKxN, bias.data(), packed.data(), bytes).ok());
    EXPECT_TRUE(gemm_workspace_size<F32>(m, n, k, &bytes).ok());
    workspace.resize(bytes);
  }
  MatrixView<const float> A() const { return {a.data(), m, k, k}; }
  MatrixView<const float> B() const { return {b.data(), k, n, n}; }
  MatrixView<float> C() { return {c.data(), m, n, n}; }
  Status run(MatrixView<const float> a_view, MatrixView<float> c_view, GemmEpilogue e = {}) {
    return gemm<F32>(a_view, packed.data(), packed.size(), c_view, e, workspace.data(),
                     workspace.size());
  }
  bool c_untouched() const {
    for (float x : c) {
      if (x != -7.0f) return false;
    }
    return true;
  }
};

TEST(GemmBadInput, PackedRhsSize) {
  size_t bytes = 0;
  EXPECT_STATUS(StatusCode::kNullPointer, gemm_packed_rhs_size<F32>(4, 4, nullptr));
  EXPECT_STATUS(StatusCode::kInvalidArgument, gemm_packed_rhs_size<F32>(0, 4, &bytes));
  EXPECT_STATUS(StatusCode::kInvalidArgument, gemm_packed_rhs_size<F32>(4, 0, &bytes));
  EXPECT_STATUS(StatusCode::kSizeOverflow, gemm_packed_rhs_size<F32>(kMax / 2, kMax / 2, &bytes));
  EXPECT_STATUS(StatusCode::kSizeOverflow, gemm_packed_rhs_size<F32>(1, kMax, &bytes));
  EXPECT_STATUS(StatusCode::kSizeOverflow, gemm_packed_rhs_size<F32>(kMax, 1, &bytes));
}

TEST(GemmBadInput, WorkspaceSize) {
  size_t bytes = 0;
  EXPECT_STATUS(StatusCode::kNullPointer, gemm_workspace_size<F32>(4, 4, 4, nullptr));
  EXPECT_STATUS(StatusCode::kInvalidArgument, gemm_workspace_size<F32>(0, 4, 4, &bytes));
  EXPECT_STATUS(StatusCode::kInvalidArgument, gemm_workspace_size<F32>(4, 0, 4, &bytes));
  EXPECT_STATUS(StatusCode::kInvalidArgument, gemm_workspace_size<F32>(4, 4, 0, &bytes));
  if (select_path() != Path::kPortable) {  // the portable path needs no workspace at all
    EXPECT_STATUS(StatusCode::kSizeOverflow, gemm_workspace_size<F32>(64, 4, kMax / 2, &bytes));
  }
}

TEST(GemmBadInput, PackRhs) {
  Fixture f;
  std::vector<uint8_t> out(f.packed.size());
  const auto pack = [&](MatrixView<const float> b, RhsLayout layout, const float* bias, void* dst,
                        size_t bytes) { return gemm_pack_rhs<F32>(b, layout, bias, dst, bytes); };
  EXPECT_STATUS(StatusCode::kNullPointer,
                pack({nullptr, 3, 7, 7}, RhsLayout::kKxN, nullptr, out.data(), out.size()));
  EXPECT_STATUS(StatusCode::kNullPointer,
                pack(f.B(), RhsLayout::kKxN, nullptr, nullptr, out.size()));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                pack({f.b.data(), 0, 7, 7}, RhsLayout::kKxN, nullptr, out.data(), out.size()));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                pack({f.b.data(), 3, 0, 7}, RhsLayout::kKxN, nullptr, out.data(), out.size()));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                pack({f.b.data(), 3, 7, 6}, RhsLayout::kKxN, nullptr, out.data(), out.size()));
  EXPECT_STATUS(StatusCode::kSizeOverflow, pack({f.b.data(), kMax / 4, 7, kMax / 8},
                                                RhsLayout::kKxN, nullptr, out.data(), out.size()));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                pack(f.B(), static_cast<RhsLayout>(9), nullptr, out.data(), out.size()));
  EXPECT_STATUS(StatusCode::kBufferTooSmall,
                pack(f.B(), RhsLayout::kKxN, nullptr, out.data(), out.size() - 1));
  EXPECT_STATUS(StatusCode::kBufferTooSmall, pack(f.B(), RhsLayout::kKxN, nullptr, out.data(), 10));
  std::vector<uint8_t> unaligned(out.size() + 1);
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                pack(f.B(), RhsLayout::kKxN, nullptr, unaligned.data() + 1, out.size()));
  // Packing into B's own storage would read what it already overwrote.
  std::vector<float> big(out.size());
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                pack({big.data(), 3, 7, 7}, RhsLayout::kKxN, nullptr, big.data(), out.size()));
  // The N x K layout takes N from the rows.
  EXPECT_STATUS(StatusCode::kOk,
                pack({f.b.data(), 7, 3, 3}, RhsLayout::kNxK, nullptr, out.data(), out.size()));
}

TEST(GemmBadInput, GemmSizesPointersStrides) {
  Fixture f;
  EXPECT_STATUS(StatusCode::kNullPointer, f.run({nullptr, 9, 3, 3}, f.C()));
  EXPECT_STATUS(StatusCode::kNullPointer, f.run(f.A(), {nullptr, 9, 7, 7}));
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run({f.a.data(), 0, 3, 3}, {f.c.data(), 0, 7, 7}));
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run({f.a.data(), 9, 0, 3}, f.C()));
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(f.A(), {f.c.data(), 9, 0, 7}));
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run({f.a.data(), 9, 3, 2}, f.C()));  // lda < K
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(f.A(), {f.c.data(), 9, 7, 6}));  // ldc < N
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(f.A(), {f.c.data(), 8, 7, 7}));  // rows differ
  EXPECT_STATUS(StatusCode::kSizeOverflow,
                f.run({f.a.data(), kMax / 2, 3, 3}, {f.c.data(), kMax / 2, 7, 7}));
  EXPECT_STATUS(StatusCode::kSizeOverflow, f.run({f.a.data(), 9, 3, kMax / 3}, f.C()));
  EXPECT_TRUE(f.c_untouched());
}

// Few rows run the small-M kernel on SME2, which reads A where it lies: no workspace, and a
// null one is fine. Everything else is checked as for any M.
TEST(GemmBadInput, FewRows) {
  Fixture f;
  size_t bytes = 1;
  EXPECT_STATUS(StatusCode::kOk, gemm_workspace_size<F32>(3, f.n, f.k, &bytes));
  if (select_path() == Path::kSme2) EXPECT_EQ(bytes, 0u);
  const MatrixView<const float> a{f.a.data(), 3, 3, 3};
  EXPECT_STATUS(StatusCode::kOk,
                gemm<F32>(a, f.packed.data(), f.packed.size(),
                          MatrixView<float>{f.c.data(), 3, 7, 7}, {}, nullptr, bytes));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                gemm<F32>(MatrixView<const float>{f.a.data(), 3, 3, 2}, f.packed.data(),
                          f.packed.size(), MatrixView<float>{f.c.data(), 3, 7, 7}, {}, nullptr, 0));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                gemm<F32>(MatrixView<const float>{f.a.data(), 3, 2, 3}, f.packed.data(),
                          f.packed.size(), MatrixView<float>{f.c.data(), 3, 7, 7}, {}, nullptr, 0));
}

TEST(GemmBadInput, GemmEpilogue) {
  Fixture f;
  GemmEpilogue e;
  e.clamp = {1.0f, -1.0f};
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(f.A(), f.C(), e));
  e.clamp = {std::numeric_limits<float>::quiet_NaN(), 1.0f};
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(f.A(), f.C(), e));
  e.clamp = {0.0f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(f.A(), f.C(), e));
  EXPECT_TRUE(f.c_untouched());
}

TEST(GemmBadInput, GemmEpilogueStages) {
  Fixture f;
  GemmEpilogue e;
  e.activation = static_cast<Activation>(42);
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(f.A(), f.C(), e));
  e = {};
  e.order = static_cast<OutputOrder>(7);
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(f.A(), f.C(), e));
  // Transposed C is N x M: the row-major shape is refused, and vice versa.
  e = {};
  e.order = OutputOrder::kTransposed;
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(f.A(), f.C(), e));
  std::vector<float> ct(f.n * f.m);
  EXPECT_STATUS(StatusCode::kOk, f.run(f.A(), {ct.data(), f.n, f.m, f.m}, e));
  // The affine's arrays are read while C is written: they must not overlap it.
  e = {};
  e.affine.scale = f.c.data() + 2;
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(f.A(), f.C(), e));
  EXPECT_TRUE(f.c_untouched());
}

TEST(GemmBadInput, GemmWorkspace) {
  Fixture f;
  if (f.workspace.empty())
    GTEST_SKIP() << "this path (" << path_name(select_path()) << ") needs no workspace";
  EXPECT_STATUS(StatusCode::kBufferTooSmall,
                gemm<F32>(f.A(), f.packed.data(), f.packed.size(), f.C(), {}, f.workspace.data(),
                          f.workspace.size() - 1));
  EXPECT_STATUS(StatusCode::kNullPointer, gemm<F32>(f.A(), f.packed.data(), f.packed.size(), f.C(),
                                                    {}, nullptr, f.workspace.size()));
  // The workspace must not alias C.
  std::vector<float> c_and_workspace(f.m * f.n + f.workspace.size());
  EXPECT_STATUS(
      StatusCode::kInvalidArgument,
      gemm<F32>(f.A(), f.packed.data(), f.packed.size(), {c_and_workspace.data(), 9, 7, 7}, {},
                c_and_workspace.data(), f.workspace.size()));
  EXPECT_TRUE(f.c_untouched());
}

TEST(GemmBadInput, GemmOverlappingOperands) {
  Fixture f;
  std::vector<float> shared(200, 1.0f);
  const MatrixView<const float> a{shared.data(), 9, 3, 3};  // elements 0 .. 26
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(a, {shared.data() + 26, 9, 7, 7}));
  EXPECT_STATUS(StatusCode::kOk, f.run(a, {shared.data() + 27, 9, 7, 7}));  // adjacent is fine
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                gemm<F32>(f.A(), f.packed.data(), f.packed.size(),
                          {reinterpret_cast<float*>(f.packed.data()), 9, 7, 7}, {},
                          f.workspace.data(), f.workspace.size()));
}

TEST(GemmBadInput, PackedBufferNotForThisCall) {
  Fixture f;
  // Too short to hold even the header; truncated payload; not packed at all.
  EXPECT_STATUS(StatusCode::kNullPointer, gemm<F32>(f.A(), nullptr, f.packed.size(), f.C(), {},
                                                    f.workspace.data(), f.workspace.size()));
  EXPECT_STATUS(StatusCode::kBufferTooSmall, gemm<F32>(f.A(), f.packed.data(), 63, f.C(), {},
                                                       f.workspace.data(), f.workspace.size()));
  EXPECT_STATUS(StatusCode::kBufferTooSmall,
                gemm<F32>(f.A(), f.packed.data(), f.packed.size() - 4, f.C(), {},
                          f.workspace.data(), f.workspace.size()));
  std::vector<uint8_t> shifted(f.packed.size() + 1);  // valid bytes, misaligned
  std::memcpy(shifted.data() + 1, f.packed.data(), f.packed.size());
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                gemm<F32>(f.A(), shifted.data() + 1, f.packed.size(), f.C(), {}, f.workspace.data(),
                          f.workspace.size()));
  std::vector<uint8_t> garbage(f.packed.size(), 0x5a);
  EXPECT_STATUS(StatusCode::kPackedMismatch, gemm<F32>(f.A(), garbage.data(), garbage.size(), f.C(),
                                                       {}, f.workspace.data(), f.workspace.size()));
  // Another shape: weights for N=7, K=3 used with K=2 and with N=6.
  EXPECT_STATUS(StatusCode::kPackedMismatch, f.run({f.a.data(), 9, 2, 3}, f.C()));
  EXPECT_STATUS(StatusCode::kPackedMismatch, f.run(f.A(), {f.c.data(), 9, 6, 7}));
  // Another variant: sme2k has one variant so far, so forge the id a second one would have.
  std::vector<uint8_t> forged = f.packed;
  forged[offsetof(PackedHeader, variant)] = 99;
  EXPECT_STATUS(StatusCode::kPackedMismatch, gemm<F32>(f.A(), forged.data(), forged.size(), f.C(),
                                                       {}, f.workspace.data(), f.workspace.size()));
  EXPECT_TRUE(f.c_untouched());
}

// Weights packed for the SME2 kernel and run on the portable path (a test override, as a
// device without SME2 would), and the other way round.
TEST(GemmBadInput, PackedForAnotherPath) {
  if (!path_available(Path::kSme2, cpu_features())) GTEST_SKIP() << "needs a CPU with SME2";
  Fixture sme2_packed;  // packed on the SME2 path
  {
    testing::ScopedForcePath portable(Path::kPortable);
    EXPECT_STATUS(StatusCode::kPackedMismatch, sme2_packed.run(sme2_packed.A(), sme2_packed.C()));
    Fixture portable_packed;
    testing::ScopedForcePath sme2(Path::kSme2);
    EXPECT_STATUS(StatusCode::kPackedMismatch,
                  portable_packed.run(portable_packed.A(), portable_packed.C()));
    EXPECT_TRUE(portable_packed.c_untouched());
  }
  EXPECT_TRUE(sme2_packed.c_untouched());
}

// A Linux thread can change its streaming vector length (prctl PR_SME_SET_VL): weights packed
// before must then be refused, not read with the wrong panel width.
TEST(GemmBadInput, PackedForAnotherSvl) {
  if (!path_available(Path::kSme2, cpu_features())) GTEST_SKIP() << "needs a CPU with SME2";
  Fixture f;
  const size_t svl = streaming_vector_bytes();
  const int other = static_cast<int>(svl == 16 ? 32 : svl / 2);
  const int got = prctl(PR_SME_SET_VL, other, 0, 0, 0);
  if (got < 0 || static_cast<size_t>(got & 0xffff) == svl) {
    GTEST_SKIP() << "this CPU offers no SVL but " << svl * 8 << " bits";
  }
  EXPECT_EQ(streaming_vector_bytes(), static_cast<size_t>(got & 0xffff));
  EXPECT_STATUS(StatusCode::kPackedMismatch, f.run(f.A(), f.C()));
  EXPECT_TRUE(f.c_untouched());
  ASSERT_GE(prctl(PR_SME_SET_VL, static_cast<int>(svl), 0, 0, 0), 0);
  ASSERT_EQ(streaming_vector_bytes(), svl);
  EXPECT_STATUS(StatusCode::kOk, f.run(f.A(), f.C()));
}

TEST(Status, MessagesAndCodes) {
  const Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_STREQ(ok.message(), "ok");
  const Status e = Status::error(StatusCode::kBufferTooSmall, "x has %d bytes", 3);
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.code(), StatusCode::kBufferTooSmall);
  EXPECT_STREQ(e.message(), "x has 3 bytes");
  const std::string long_text(500, 'y');
  const Status truncated = Status::error(StatusCode::kInvalidArgument, "%s", long_text.c_str());
  EXPECT_EQ(std::strlen(truncated.message()), static_cast<size_t>(Status::kMessageCapacity - 1));
  EXPECT_STREQ(status_code_name(StatusCode::kPackedMismatch), "packed data mismatch");
}

}  // namespace
}  // namespace test
}  // namespace sme2k
