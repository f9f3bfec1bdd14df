// Regression tests of issue 19 (a hostile caller): each once crashed or ran with undefined
// behaviour, and is now refused with a Status before anything is read or written.
// - QB4W block scales whose leading dimension makes n * ld wrap (a wild pointer, a segfault).
// - The views and parameter structs of the public API with overflowing products: Int4View,
//   BlockScales, batch strides, Conv2dParams, convert_layout dimensions, Q4_0 rows.
// - Misaligned element pointers (f32, f16, int32 arrays): the alignment rule of
//   types/alignment.hpp, refused with kInvalidArgument instead of read misaligned.
// - BatchNorm helpers given an impossible channel count (they read past the arrays).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "harness/expectations.hpp"
#include "sme2k/sme2k.hpp"
#include "testers/expect_status.hpp"

namespace sme2k {
namespace test {
namespace {

constexpr size_t kMax = std::numeric_limits<size_t>::max();

// A buffer of 4-byte-aligned storage and a pointer one byte (or two) into it: misaligned
// for f32, f16 and int32 elements.
struct Misaligned {
  std::vector<uint32_t> storage = std::vector<uint32_t>(4096, 0);
  template <class T>
  T* at(size_t offset) {
    return reinterpret_cast<T*>(reinterpret_cast<uint8_t*>(storage.data()) + offset);
  }
};

TEST(HostileInput, Qb4wBlockScalesLeadingDimensionOverflow) {
  const size_t n = 2, k = 32;
  std::vector<int8_t> b(n * k, 1);
  std::vector<float> scales(n * k / 32, 0.5f);
  const Int4View view{b.data(), n, k, k, Int4Storage::kInt8};
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8QB4W>(n, k, 32, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  // f32 scales: 4 bytes each, so ld = 2^61 spans 2^63 bytes (issue 19's crash).
  for (size_t ld : {size_t{1} << 61, kMax, kMax / 2, kMax / 4 + 1}) {
    const BlockScales bs{scales.data(), ScaleType::kF32, 32, ld};
    EXPECT_STATUS(StatusCode::kSizeOverflow,
                  gemm_pack_rhs<QD8QB4W>(view, RhsLayout::kNxK, nullptr, bs, packed.data(), bytes));
  }
  std::vector<uint16_t> bf16_scales(n * k / 32, 0x3F00);  // 0.5
  for (size_t ld : {size_t{1} << 62, kMax, kMax / 2}) {
    const BlockScales bs{bf16_scales.data(), ScaleType::kBF16, 32, ld};
    EXPECT_STATUS(StatusCode::kSizeOverflow,
                  gemm_pack_rhs<QD8QB4W>(view, RhsLayout::kNxK, nullptr, bs, packed.data(), bytes));
  }
  // The same check on its own: no channel's scale is read once the span overflows.
  EXPECT_STATUS(StatusCode::kSizeOverflow,
                validate_block_scales({scales.data(), ScaleType::kF32, 32, kMax / 3}, 4, 64, "t"));
  EXPECT_TRUE(validate_block_scales({scales.data(), ScaleType::kF32, 32, 1}, 2, 32, "t").ok());
}

// The audit: each view and parameter struct with an overflowing product or stride.
TEST(HostileInput, ViewsAndParametersWithOverflowingProducts) {
  std::vector<uint8_t> bytes(4096);
  // Int4View: rows x ld wraps.
  EXPECT_STATUS(StatusCode::kSizeOverflow,
                validate_int4({bytes.data(), 3, 8, kMax / 2, Int4Storage::kNibbles}, "t"));
  // Q4_0 rows of K / 32 blocks of 18 bytes, N of them.
  size_t packed_bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8QB4W>(2, 32, 32, &packed_bytes).ok());
  std::vector<uint8_t> packed(packed_bytes);
  EXPECT_STATUS(StatusCode::kSizeOverflow,
                gemm_pack_rhs_q4_0<QD8QB4W>(bytes.data(), kMax / 4, kMax / 4 / 32 * 32, nullptr,
                                            packed.data(), packed_bytes));
  // Batch strides.
  std::vector<float> a(64, 1.0f), c(64);
  std::vector<uint8_t> ws(1 << 16);
  EXPECT_STATUS(StatusCode::kSizeOverflow,
                batch_matmul<F32>(3, MatrixView<const float>{a.data(), 2, 2, 2}, kMax / 2,
                                  MatrixView<const float>{a.data(), 2, 2, 2}, RhsLayout::kKxN, 0,
                                  MatrixView<float>{c.data(), 2, 2, 2}, 4, GemmEpilogue{},
                                  ws.data(), ws.size()));
  // Conv2dParams: sizes whose tensors overflow.
  Conv2dParams p;
  p.in_channels = p.out_channels = 4;
  p.kernel_height = p.kernel_width = 1;
  p.in_height = p.in_width = (size_t{1} << 24) - 1;
  p.batch = (size_t{1} << 24) - 1;
  size_t conv_ws = 0;
  EXPECT_STATUS(StatusCode::kSizeOverflow,
                conv2d_workspace_size<F32>(p, TensorLayout::kNCHW, TensorLayout::kNCHW, &conv_ws));
  // convert_layout: N x C x H x W wraps.
  EXPECT_STATUS(StatusCode::kSizeOverflow, convert_layout(a.data(), TensorLayout::kNCHW, c.data(),
                                                          TensorLayout::kNHWC, kMax / 2, 4, 4, 4));
}

TEST(HostileInput, MisalignedElementPointersAreRefused) {
  Misaligned m;
  const size_t n = 4, k = 4;
  std::vector<float> ok_f32(64, 1.0f), out(64);
  std::vector<uint8_t> packed;
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<F32>(n, k, &bytes).ok());
  packed.resize(bytes);
  // Packing: B and the bias.
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                gemm_pack_rhs<F32>(MatrixView<const float>{m.at<float>(1), k, n, n},
                                   RhsLayout::kKxN, nullptr, packed.data(), bytes));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                gemm_pack_rhs<F32>(MatrixView<const float>{ok_f32.data(), k, n, n}, RhsLayout::kKxN,
                                   m.at<float>(2), packed.data(), bytes));
  ASSERT_TRUE(gemm_pack_rhs<F32>(MatrixView<const float>{ok_f32.data(), k, n, n}, RhsLayout::kKxN,
                                 nullptr, packed.data(), bytes)
                  .ok());
  // The GEMM: A, C, the epilogue's affine.
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                gemm<F32>(MatrixView<const float>{m.at<float>(3), 2, k, k}, packed.data(), bytes,
                          MatrixView<float>{out.data(), 2, n, n}));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                gemm<F32>(MatrixView<const float>{ok_f32.data(), 2, k, k}, packed.data(), bytes,
                          MatrixView<float>{m.at<float>(1), 2, n, n}));
  GemmEpilogue e;
  e.affine.scale = m.at<float>(1);
  e.affine.shift = ok_f32.data();
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                gemm<F32>(MatrixView<const float>{ok_f32.data(), 2, k, k}, packed.data(), bytes,
                          MatrixView<float>{out.data(), 2, n, n}, e));
  // f16: A of an F16 GEMM one byte off.
  size_t f16_bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<F16>(n, k, &f16_bytes).ok());
  std::vector<uint8_t> f16_packed(f16_bytes);
  std::vector<f16> ok_f16(64, convert_to<f16>(1.0f)), out16(64);
  ASSERT_TRUE(gemm_pack_rhs<F16>(MatrixView<const f16>{ok_f16.data(), k, n, n}, RhsLayout::kKxN,
                                 nullptr, f16_packed.data(), f16_bytes)
                  .ok());
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                gemm<F16>(MatrixView<const f16>{m.at<f16>(1), 2, k, k}, f16_packed.data(),
                          f16_bytes, MatrixView<f16>{out16.data(), 2, n, n}));
  // QD8 weight scales, QB4W block scales (f32 and bf16), QS8 bias.
  std::vector<int8_t> w(64, 1);
  ASSERT_TRUE(gemm_packed_rhs_size<QD8>(n, k, &bytes).ok());
  packed.resize(bytes);
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                gemm_pack_rhs<QD8>(MatrixView<const int8_t>{w.data(), k, n, n}, RhsLayout::kKxN,
                                   nullptr, m.at<float>(1), packed.data(), bytes));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                validate_block_scales({m.at<float>(2), ScaleType::kF32, 32, 1}, 1, 32, "t"));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                validate_block_scales({m.at<uint16_t>(1), ScaleType::kBF16, 32, 1}, 1, 32, "t"));
  ASSERT_TRUE(gemm_packed_rhs_size<QS8>(n, k, &bytes).ok());
  packed.resize(bytes);
  const Qs8Quantization q{{0.1f, 0}, ok_f32.data(), {0.1f, 0}};
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                gemm_pack_rhs<QS8>(MatrixView<const int8_t>{w.data(), k, n, n}, RhsLayout::kKxN,
                                   m.at<int32_t>(2), q, packed.data(), bytes));
  // conv2d: weights, input, output.
  Conv2dParams p;
  p.in_channels = p.out_channels = 2;
  p.in_height = p.in_width = 3;
  p.kernel_height = p.kernel_width = 1;
  ASSERT_TRUE(conv2d_packed_weights_size<F32>(p, &bytes).ok());
  packed.resize(bytes);
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                conv2d_pack_weights<F32>(p, m.at<float>(1), ConvWeightLayout::kOIHW, nullptr,
                                         packed.data(), bytes));
  ASSERT_TRUE(conv2d_pack_weights<F32>(p, ok_f32.data(), ConvWeightLayout::kOIHW, nullptr,
                                       packed.data(), bytes)
                  .ok());
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                conv2d<F32>(p, m.at<float>(1), TensorLayout::kNCHW, packed.data(), bytes,
                            out.data(), TensorLayout::kNCHW));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                conv2d<F32>(p, ok_f32.data(), TensorLayout::kNCHW, packed.data(), bytes,
                            m.at<float>(2), TensorLayout::kNCHW));
  // Layout transforms of 16- and 32-bit elements.
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                transpose(MatrixView<const uint16_t>{m.at<uint16_t>(1), 2, 2, 2},
                          MatrixView<uint16_t>{m.at<uint16_t>(64), 2, 2, 2}));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                convert_layout(m.at<float>(1), TensorLayout::kNCHW, out.data(), TensorLayout::kNHWC,
                               1, 2, 2, 2));
  // BatchNorm parameters and outputs.
  BatchNormParams bn;
  bn.running_mean = ok_f32.data();
  bn.running_var = m.at<float>(1);
  std::vector<float> scale(4), shift(4);
  EXPECT_STATUS(StatusCode::kInvalidArgument, batchnorm_affine(4, bn, scale.data(), shift.data()));
  bn.running_var = ok_f32.data();
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                batchnorm_affine(4, bn, m.at<float>(3), shift.data()));
  EXPECT_TRUE(batchnorm_affine(4, bn, scale.data(), shift.data()).ok());
  // int8 data takes any alignment.
  EXPECT_TRUE(transpose(MatrixView<const int8_t>{m.at<int8_t>(1), 2, 2, 2},
                        MatrixView<int8_t>{m.at<int8_t>(65), 2, 2, 2})
                  .ok());
}

TEST(HostileInput, BatchNormChannelsAreBounded) {
  // Four channels of parameters; the count says more. Once read past the arrays (ASan:
  // heap-buffer-overflow) before anything was refused.
  std::vector<float> mean(4, 0.0f), var(4, 1.0f), weight(4, 1.0f), scale(4), shift(4);
  BatchNormParams bn;
  bn.running_mean = mean.data();
  bn.running_var = var.data();
  bn.weight = weight.data();
  for (size_t channels : {kMax, kMax / 4, size_t{1} << 40, kMaxBatchNormChannels + 1}) {
    EXPECT_STATUS(StatusCode::kSizeOverflow,
                  batchnorm_affine(channels, bn, scale.data(), shift.data()));
    EXPECT_STATUS(
        StatusCode::kSizeOverflow,
        batchnorm_int8_affine(channels, bn, {0.1f, 0}, {0.1f, 0}, scale.data(), shift.data()));
  }
  EXPECT_TRUE(batchnorm_affine(4, bn, scale.data(), shift.data()).ok());
}

}  // namespace
}  // namespace test
}  // namespace sme2k
