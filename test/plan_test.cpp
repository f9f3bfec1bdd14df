// The plan queries (gemm_plan, batch_matmul_plan, conv2d_plan) name the kernel, path, task
// count and workspace the op then uses: checked against the registry, against the path the
// op records when it runs, and against the workspace-size queries.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "sme2k/sme2k.hpp"

namespace sme2k {
namespace {

/// The thread pool stand-in: runs every task on the calling thread, in order.
void run_inline(void*, size_t count, void (*task)(void*, size_t), void* arg) {
  for (size_t t = 0; t < count; ++t) task(arg, t);
}

ParallelFor four_tasks() {
  ParallelFor p;
  p.run = run_inline;
  p.max_tasks = 4;
  return p;
}

/// The small-M kernel's row limit and name (0 and "" in a build without one).
template <class K>
size_t small_m_rows() {
  if constexpr (std::is_void_v<K>) {
    return 0;
  } else {
    return K::kMaxRows;
  }
}
template <class K>
std::string_view small_m_name() {
  if constexpr (std::is_void_v<K>) {
    return {};
  } else {
    return K::kName;
  }
}

template <class V>
std::string_view any_m_kernel_name() {
  std::string_view name;
  visit_gemm_kernel<V>(select_path_for<V>(), [&](auto tag) {
    name = decltype(tag)::type::kName;
    return 0;
  });
  return name;
}

TEST(GemmPlan, NamesTheKernelTheCallRuns) {
  for (size_t m : {1, 2, 3, 4, 5, 17, 64, 100}) {
    OpPlan plan;
    ASSERT_TRUE(gemm_plan<F32>(m, 96, 40, &plan).ok());
    const std::vector<float> a(m * 40, 0.5f), b(40 * 96, 0.25f);
    std::vector<float> c(m * 96);
    size_t packed_bytes = 0;
    ASSERT_TRUE(gemm_packed_rhs_size<F32>(96, 40, &packed_bytes).ok());
    std::vector<unsigned char> packed(packed_bytes);
    ASSERT_TRUE(gemm_pack_rhs<F32>({b.data(), 40, 96, 96}, RhsLayout::kKxN, nullptr, packed.data(),
                                   packed_bytes)
                    .ok());
    std::vector<unsigned char> ws(plan.workspace_bytes + 1);
    detail::record_path(plan.path == Path::kPortable ? Path::kSme2 : Path::kPortable);
    ASSERT_TRUE(gemm<F32>({a.data(), m, 40, 40}, packed.data(), packed_bytes, {c.data(), m, 96, 96},
                          {}, ws.data(), plan.workspace_bytes)
                    .ok());
    EXPECT_EQ(last_used_path(), plan.path) << "M " << m;
    EXPECT_EQ(plan.path, select_path_for<F32>());
    EXPECT_EQ(plan.tasks, 1u);
    EXPECT_FLOAT_EQ(c[m * 96 - 1], 40 * 0.5f * 0.25f);
    // Few rows on SME2 run the small-M kernel; else the registry's any-M kernel.
    using SmallM = GemmKernelFor<F32, Path::kSme2, KernelUse::kSmallM>;
    if (plan.path == Path::kSme2 && m <= small_m_rows<SmallM>()) {
      EXPECT_EQ(plan.kernel, small_m_name<SmallM>()) << "M " << m;
      continue;
    }
    EXPECT_EQ(plan.kernel, any_m_kernel_name<F32>()) << "M " << m;
  }
}

TEST(GemmPlan, AgreesWithTheWorkspaceSizeForEveryVariant) {
  const ParallelFor parallel = four_tasks();
  for (size_t m : {1, 7, 33, 300}) {
    for (const ParallelFor& p : {ParallelFor{}, parallel}) {
      OpPlan plan;
      size_t bytes = 0;
      ASSERT_TRUE(gemm_plan<QD8QC4W>(m, 300, 64, &plan, OutputOrder::kRowMajor, p).ok());
      ASSERT_TRUE(gemm_workspace_size<QD8QC4W>(m, 300, 64, &bytes, OutputOrder::kRowMajor, p).ok());
      EXPECT_EQ(plan.workspace_bytes, bytes);
      EXPECT_GE(plan.tasks, 1u);
      EXPECT_LE(plan.tasks, p.parallel() ? 4u : 1u);
      EXPECT_FALSE(plan.kernel.empty());
      ASSERT_TRUE(gemm_plan<QS8>(m, 300, 64, &plan, OutputOrder::kTransposed, p).ok());
      ASSERT_TRUE(gemm_workspace_size<QS8>(m, 300, 64, &bytes, OutputOrder::kTransposed, p).ok());
      EXPECT_EQ(plan.workspace_bytes, bytes);
      ASSERT_TRUE(batch_matmul_plan<F16>(3, m, 40, 24, &plan, OutputOrder::kRowMajor, p).ok());
      ASSERT_TRUE(
          batch_matmul_workspace_size<F16>(3, m, 40, 24, &bytes, OutputOrder::kRowMajor, p).ok());
      EXPECT_EQ(plan.workspace_bytes, bytes);
      EXPECT_EQ(plan.path, select_path());
    }
  }
}

TEST(GemmPlan, RefusesBadInput) {
  OpPlan plan;
  EXPECT_EQ(gemm_plan<F32>(1, 1, 1, nullptr).code(), StatusCode::kNullPointer);
  EXPECT_EQ(gemm_plan<F32>(0, 1, 1, &plan).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(gemm_plan<F16>(1, 0, 1, &plan).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(batch_matmul_plan<F32>(0, 1, 1, 1, &plan).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(batch_matmul_plan<F32>(1, 1, 1, 1, nullptr).code(), StatusCode::kNullPointer);
  EXPECT_EQ(gemm_plan<QD8>(100, 1, SIZE_MAX / 2, &plan).code(), StatusCode::kSizeOverflow);
  // QB4W weights of depth 48 cannot exist (no block, a multiple of 32, divides it): the plan
  // and the workspace size say so rather than size a call that packing would refuse.
  size_t bytes = 0;
  EXPECT_EQ(gemm_plan<QD8QB4W>(4, 64, 48, &plan).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(gemm_workspace_size<QD8QB4W>(4, 64, 48, &bytes).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(gemm_workspace_size<QD8QB4W>(4, 64, 96, &bytes).ok());
}

Conv2dParams depthwise_3x3(size_t channels, size_t multiplier) {
  Conv2dParams p;
  p.in_channels = channels;
  p.out_channels = channels * multiplier;
  p.groups = channels;
  p.in_height = p.in_width = 9;
  p.kernel_height = p.kernel_width = 3;
  p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
  return p;
}

TEST(Conv2dPlan, SaysWhenDepthwiseFallsBackToThePortableKernel) {
  const bool sme2 = select_path() != Path::kPortable;
  const Conv2dParams p = depthwise_3x3(16, 1);
  OpPlan plan;
  ASSERT_TRUE(conv2d_plan<F32>(p, TensorLayout::kNCHW, TensorLayout::kNCHW, &plan).ok());
  EXPECT_EQ(plan.path, sme2 ? select_path() : Path::kPortable);
  EXPECT_EQ(std::string(plan.kernel),
            sme2 ? "dwconv_f32_f32_nchw_2vl_sme2_mla" : "dwconv_f32_f32_any_1_portable_loops");
  // A layout change, or NHWC with a channel multiplier: the portable kernel, and the plan says
  // so (docs/dispatch.md).
  ASSERT_TRUE(conv2d_plan<F16>(p, TensorLayout::kNCHW, TensorLayout::kNHWC, &plan).ok());
  EXPECT_EQ(plan.path, Path::kPortable);
  EXPECT_EQ(std::string(plan.kernel), "dwconv_f16_f16_any_1_portable_loops");
  ASSERT_TRUE(
      conv2d_plan<QS8>(depthwise_3x3(8, 2), TensorLayout::kNHWC, TensorLayout::kNHWC, &plan).ok());
  EXPECT_EQ(plan.path, Path::kPortable);
  size_t bytes = 0;
  ASSERT_TRUE(conv2d_workspace_size<QS8>(depthwise_3x3(8, 2), TensorLayout::kNHWC,
                                         TensorLayout::kNHWC, &bytes)
                  .ok());
  EXPECT_EQ(plan.workspace_bytes, bytes);
}

TEST(Conv2dPlan, NamesTheGemmKernelOfARegularConvolution) {
  Conv2dParams p;
  p.in_channels = 8;
  p.out_channels = 24;
  p.in_height = p.in_width = 10;
  p.kernel_height = p.kernel_width = 3;
  OpPlan plan;
  ASSERT_TRUE(
      conv2d_plan<F16>(p, TensorLayout::kNHWC, TensorLayout::kNCHW, &plan, {}, four_tasks()).ok());
  std::string_view expected;
  visit_gemm_kernel<F16, false>(select_path(), [&](auto tag) {
    expected = decltype(tag)::type::kName;
    return 0;
  });
  EXPECT_EQ(plan.kernel, expected);
  EXPECT_EQ(plan.path, select_path());
  EXPECT_GE(plan.tasks, 1u);
  EXPECT_LE(plan.tasks, 4u);
  EXPECT_EQ(conv2d_plan<F32>(p, TensorLayout::kNHWC, TensorLayout::kNCHW, nullptr).code(),
            StatusCode::kNullPointer);
  p.kernel_height = 0;
  EXPECT_EQ(conv2d_plan<F32>(p, TensorLayout::kNHWC, TensorLayout::kNCHW, &plan).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sme2k
