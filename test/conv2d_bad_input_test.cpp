// Every bad input of the conv2d entry points refused with a clear Status (nothing written),
// and input reads that stay inside the input (last: a fault ends the binary, and this file
// is the last source of conv2d_test).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "testers/conv2d_case.hpp"
#include "testers/conv2d_qs8_case.hpp"
#include "testers/expect_status.hpp"

namespace sme2k {
namespace test {
namespace {

// ---------------------------------------------------------------------------------------
// Bad input

constexpr size_t kMax = std::numeric_limits<size_t>::max();

// A valid small F32 problem; each check breaks one thing. groups = 2, padding 1.
struct Fixture {
  Conv2dParams p = with_padding(make_params(2, 6, 5, 7, 4, 3, 3, 2), 1, 1, 1, 1);
  std::vector<float> input = std::vector<float>(2 * 6 * 5 * 7, 0.5f);
  std::vector<float> weights = std::vector<float>(4 * 3 * 3 * 3, 0.25f);
  std::vector<float> bias = std::vector<float>(4, 1.0f);
  std::vector<float> output;
  std::vector<uint8_t> packed, workspace;
  size_t packed_bytes = 0, workspace_bytes = 0;

  Fixture() {
    output.assign(reference::conv_output_count(p), -7.0f);
    EXPECT_TRUE(conv2d_packed_weights_size<F32>(p, &packed_bytes).ok());
    packed.resize(packed_bytes);
    EXPECT_TRUE(conv2d_pack_weights<F32>(p, weights.data(), ConvWeightLayout::kOIHW, bias.data(),
                                         packed.data(), packed_bytes)
                    .ok());
    EXPECT_TRUE(conv2d_workspace_size<F32>(p, kNCHW, kNCHW, &workspace_bytes).ok());
    workspace.resize(workspace_bytes + 64);
  }
  Status run(const Conv2dParams& q, const GemmEpilogue& e = {}) {
    return conv2d<F32>(q, input.data(), kNCHW, packed.data(), packed_bytes, output.data(), kNCHW, e,
                       workspace.data(), workspace_bytes);
  }
  bool output_untouched() const {
    for (float x : output) {
      if (x != -7.0f) return false;
    }
    return true;
  }
};

/// Each zero (or non-dividing) size, one at a time.
std::vector<Conv2dParams> zero_sizes(const Conv2dParams& p) {
  std::vector<Conv2dParams> v;
  size_t Conv2dParams::* fields[] = {
      &Conv2dParams::batch,           &Conv2dParams::in_channels,    &Conv2dParams::in_height,
      &Conv2dParams::in_width,        &Conv2dParams::out_channels,   &Conv2dParams::kernel_height,
      &Conv2dParams::kernel_width,    &Conv2dParams::stride_height,  &Conv2dParams::stride_width,
      &Conv2dParams::dilation_height, &Conv2dParams::dilation_width, &Conv2dParams::groups};
  for (auto f : fields) {
    Conv2dParams q = p;
    q.*f = 0;
    v.push_back(q);
  }
  return v;
}

TEST(Conv2dBadInput, PackedWeightsSize) {
  const Fixture f;
  size_t bytes = 0;
  EXPECT_STATUS(StatusCode::kNullPointer, conv2d_packed_weights_size<F32>(f.p, nullptr));
  for (size_t Conv2dParams::* field :
       {&Conv2dParams::in_channels, &Conv2dParams::out_channels, &Conv2dParams::kernel_height,
        &Conv2dParams::kernel_width, &Conv2dParams::groups}) {
    Conv2dParams q = f.p;
    q.*field = 0;
    SCOPED_TRACE(params_str(q));
    EXPECT_STATUS(StatusCode::kInvalidArgument, conv2d_packed_weights_size<F32>(q, &bytes));
    EXPECT_STATUS(StatusCode::kInvalidArgument, conv2d_packed_weights_size<QS8>(q, &bytes));
  }
  Conv2dParams q = f.p;
  q.groups = 4;  // divides Cout (4), not Cin (6)
  EXPECT_STATUS(StatusCode::kInvalidArgument, conv2d_packed_weights_size<F32>(q, &bytes));
  q.groups = 3;  // divides Cin, not Cout
  EXPECT_STATUS(StatusCode::kInvalidArgument, conv2d_packed_weights_size<F16>(q, &bytes));
  q = f.p;
  q.in_channels = q.out_channels = size_t{1} << 20;
  q.groups = 1;
  EXPECT_STATUS(StatusCode::kSizeOverflow, conv2d_packed_weights_size<F32>(q, &bytes));
  q.in_channels = q.out_channels = size_t{1} << 19;  // 2^38 x 16 weights
  q.kernel_height = q.kernel_width = 4;
  EXPECT_STATUS(StatusCode::kSizeOverflow, conv2d_packed_weights_size<F32>(q, &bytes));
  q = f.p;
  q.kernel_width = kMax;
  EXPECT_STATUS(StatusCode::kSizeOverflow, conv2d_packed_weights_size<QS8>(q, &bytes));
}

TEST(Conv2dBadInput, PackWeights) {
  Fixture f;
  const auto pack = [&](const Conv2dParams& q, const float* w, ConvWeightLayout layout, void* dst,
                        size_t bytes) {
    return conv2d_pack_weights<F32>(q, w, layout, f.bias.data(), dst, bytes);
  };
  std::vector<uint8_t> dst(f.packed_bytes + 8);
  EXPECT_STATUS(StatusCode::kOk,
                pack(f.p, f.weights.data(), ConvWeightLayout::kHWIO, dst.data(), f.packed_bytes));
  EXPECT_STATUS(StatusCode::kNullPointer,
                pack(f.p, nullptr, ConvWeightLayout::kOIHW, dst.data(), f.packed_bytes));
  EXPECT_STATUS(StatusCode::kNullPointer,
                pack(f.p, f.weights.data(), ConvWeightLayout::kOIHW, nullptr, f.packed_bytes));
  EXPECT_STATUS(StatusCode::kBufferTooSmall, pack(f.p, f.weights.data(), ConvWeightLayout::kOIHW,
                                                  dst.data(), f.packed_bytes - 1));
  EXPECT_STATUS(StatusCode::kBufferTooSmall,
                pack(f.p, f.weights.data(), ConvWeightLayout::kOIHW, dst.data(), 0));
  for (int bad : {0, 4, 255}) {
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  pack(f.p, f.weights.data(), static_cast<ConvWeightLayout>(bad), dst.data(),
                       f.packed_bytes));
  }
  EXPECT_STATUS(
      StatusCode::kInvalidArgument,  // packed buffers start 4-byte aligned
      pack(f.p, f.weights.data(), ConvWeightLayout::kOIHW, dst.data() + 1, f.packed_bytes));
  for (const Conv2dParams& q : zero_sizes(f.p)) {
    if (q.in_channels && q.out_channels && q.kernel_height && q.kernel_width && q.groups) continue;
    SCOPED_TRACE(params_str(q));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  pack(q, f.weights.data(), ConvWeightLayout::kOIHW, dst.data(), dst.size()));
  }
  Conv2dParams q = f.p;
  q.groups = 4;
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                pack(q, f.weights.data(), ConvWeightLayout::kOIHW, dst.data(), dst.size()));
}

TEST(Conv2dBadInput, WorkspaceSize) {
  const Fixture f;
  size_t bytes = 0;
  EXPECT_STATUS(StatusCode::kNullPointer, conv2d_workspace_size<F32>(f.p, kNCHW, kNHWC, nullptr));
  for (const Conv2dParams& q : zero_sizes(f.p)) {
    SCOPED_TRACE(params_str(q));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  conv2d_workspace_size<F32>(q, kNCHW, kNCHW, &bytes));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  conv2d_workspace_size<QS8>(q, kNHWC, kNHWC, &bytes));
  }
  for (int bad : {0, 3, 200}) {
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  conv2d_workspace_size<F32>(f.p, static_cast<TensorLayout>(bad), kNCHW, &bytes));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  conv2d_workspace_size<F32>(f.p, kNCHW, static_cast<TensorLayout>(bad), &bytes));
  }
  Conv2dParams q = f.p;
  q.kernel_height = 8;  // 8 > 5 + 2 padded rows
  EXPECT_STATUS(StatusCode::kInvalidArgument, conv2d_workspace_size<F32>(q, kNCHW, kNCHW, &bytes));
  q = f.p;
  q.dilation_width = 5;  // 2 * 5 + 1 = 11 > 7 + 2 padded columns
  EXPECT_STATUS(StatusCode::kInvalidArgument, conv2d_workspace_size<F16>(q, kNCHW, kNCHW, &bytes));
  q = f.p;
  q.in_height = size_t{1} << 24;
  EXPECT_STATUS(StatusCode::kSizeOverflow, conv2d_workspace_size<F32>(q, kNCHW, kNCHW, &bytes));
  q = f.p;
  q.pad_left = kMax / 2;
  EXPECT_STATUS(StatusCode::kSizeOverflow, conv2d_workspace_size<F32>(q, kNCHW, kNCHW, &bytes));
  q = f.p;  // every factor below 2^24, the tensor far above 2^64
  q.batch = q.in_height = q.in_width = (size_t{1} << 24) - 1;
  q.in_channels = q.out_channels = q.groups = (size_t{1} << 20) - 2;
  EXPECT_STATUS(StatusCode::kSizeOverflow, conv2d_workspace_size<F32>(q, kNHWC, kNCHW, &bytes));
}

TEST(Conv2dBadInput, RunRefusesBadShapes) {
  Fixture f;
  ASSERT_TRUE(f.run(f.p).ok());
  std::fill(f.output.begin(), f.output.end(), -7.0f);
  for (const Conv2dParams& q : zero_sizes(f.p)) {
    SCOPED_TRACE(params_str(q));
    EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(q));
  }
  Conv2dParams q = f.p;
  q.groups = 4;
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(q));
  q.groups = 3;
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(q));
  q = f.p;
  q.kernel_width = 10;  // > 7 + 2
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(q));
  q = f.p;
  q.pad_top = q.pad_bottom = 0;
  q.dilation_height = 3;  // 7 > 5
  EXPECT_STATUS(StatusCode::kInvalidArgument, f.run(q));
  q = f.p;
  q.in_width = size_t{1} << 24;
  EXPECT_STATUS(StatusCode::kSizeOverflow, f.run(q));
  q = f.p;
  q.batch = kMax;
  EXPECT_STATUS(StatusCode::kSizeOverflow, f.run(q));
  EXPECT_TRUE(f.output_untouched());
}

TEST(Conv2dBadInput, RunRefusesBadPointersAndBuffers) {
  Fixture f;
  const auto call = [&](const float* in, const void* packed, size_t packed_bytes, float* out,
                        void* ws, size_t ws_bytes, TensorLayout in_layout = kNCHW,
                        TensorLayout out_layout = kNCHW, const GemmEpilogue& e = {}) {
    return conv2d<F32>(f.p, in, in_layout, packed, packed_bytes, out, out_layout, e, ws, ws_bytes);
  };
  float* out = f.output.data();
  const float* in = f.input.data();
  const size_t pb = f.packed_bytes, wb = f.workspace_bytes;
  void* ws = f.workspace.data();
  const void* pk = f.packed.data();
  EXPECT_STATUS(StatusCode::kNullPointer, call(nullptr, pk, pb, out, ws, wb));
  EXPECT_STATUS(StatusCode::kNullPointer, call(in, nullptr, pb, out, ws, wb));
  EXPECT_STATUS(StatusCode::kNullPointer, call(in, pk, pb, nullptr, ws, wb));
  EXPECT_STATUS(StatusCode::kBufferTooSmall, call(in, pk, pb - 1, out, ws, wb));
  EXPECT_STATUS(StatusCode::kBufferTooSmall, call(in, pk, 16, out, ws, wb));
  if (wb > 0) {
    EXPECT_STATUS(StatusCode::kNullPointer, call(in, pk, pb, out, nullptr, wb));
    EXPECT_STATUS(StatusCode::kBufferTooSmall, call(in, pk, pb, out, ws, wb - 1));
  } else {
    EXPECT_STATUS(StatusCode::kOk, call(in, pk, pb, out, nullptr, 0));
    std::fill(f.output.begin(), f.output.end(), -7.0f);
  }
  for (int bad : {0, 3}) {
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  call(in, pk, pb, out, ws, wb, static_cast<TensorLayout>(bad), kNCHW));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  call(in, pk, pb, out, ws, wb, kNCHW, static_cast<TensorLayout>(bad)));
  }
  GemmEpilogue e;
  e.order = OutputOrder::kTransposed;
  EXPECT_STATUS(StatusCode::kInvalidArgument, call(in, pk, pb, out, ws, wb, kNCHW, kNCHW, e));
  e = {};
  e.clamp = Clamp{1.0f, -1.0f};
  EXPECT_STATUS(StatusCode::kInvalidArgument, call(in, pk, pb, out, ws, wb, kNCHW, kNCHW, e));
  e = {};
  e.activation = static_cast<Activation>(99);
  EXPECT_STATUS(StatusCode::kInvalidArgument, call(in, pk, pb, out, ws, wb, kNCHW, kNCHW, e));
  // Output overlapping the input or the packed weights.
  EXPECT_STATUS(StatusCode::kInvalidArgument, call(in, pk, pb, const_cast<float*>(in) + 3, ws, wb));
  EXPECT_TRUE(f.output_untouched());
  // Allocating overload: the same checks.
  EXPECT_STATUS(StatusCode::kNullPointer,
                conv2d<F32>(f.p, in, kNCHW, pk, pb, static_cast<float*>(nullptr), kNCHW));
  EXPECT_STATUS(StatusCode::kBufferTooSmall, conv2d<F32>(f.p, in, kNCHW, pk, pb - 1, out, kNCHW));
  EXPECT_TRUE(f.output_untouched());
}

/// Packs F32 weights for `other` into a buffer at least as large as `p` needs (so only the
/// header can tell) and runs conv2d for `p` with them.
Status run_with_weights_of(const Conv2dParams& p, const Conv2dParams& other) {
  size_t need = 0, other_bytes = 0, ws = 0;
  EXPECT_TRUE(conv2d_packed_weights_size<F32>(p, &need).ok());
  EXPECT_TRUE(conv2d_packed_weights_size<F32>(other, &other_bytes).ok());
  std::vector<uint8_t> packed(std::max(need, other_bytes));
  std::vector<float> w(reference::conv_weight_count(other), 0.5f);
  EXPECT_TRUE(conv2d_pack_weights<F32>(other, w.data(), ConvWeightLayout::kOIHW, kNoBias,
                                       packed.data(), other_bytes)
                  .ok());
  std::vector<float> in(p.batch * p.in_channels * p.in_height * p.in_width, 1.0f);
  std::vector<float> out(reference::conv_output_count(p), -7.0f);
  EXPECT_TRUE(conv2d_workspace_size<F32>(p, kNCHW, kNCHW, &ws).ok());
  std::vector<uint8_t> workspace(ws);
  const Status s = conv2d<F32>(p, in.data(), kNCHW, packed.data(), packed.size(), out.data(), kNCHW,
                               {}, workspace.data(), ws);
  for (float x : out) {
    if (!s.ok() && x != -7.0f) {
      ADD_FAILURE() << "output written by a refused call";
      break;
    }
  }
  return s;
}

TEST(Conv2dBadInput, WeightsPackedForAnotherShape) {
  const Conv2dParams p = with_padding(make_params(1, 6, 5, 7, 4, 3, 3, 2), 1, 1, 1, 1);
  const auto other = [&](auto&& change) {
    Conv2dParams q = p;
    change(q);
    return q;
  };
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                run_with_weights_of(p, other([](Conv2dParams& q) { q.in_channels = 8; })));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                run_with_weights_of(p, other([](Conv2dParams& q) { q.out_channels = 6; })));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                run_with_weights_of(p, other([](Conv2dParams& q) { q.kernel_height = 2; })));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                run_with_weights_of(p, other([](Conv2dParams& q) { q.kernel_width = 5; })));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                run_with_weights_of(p, other([](Conv2dParams& q) { q.groups = 1; })));
  // The same K (= KH KW Cin/g) and Cout, another convolution: 3x1 vs 1x3 ...
  const Conv2dParams tall = with_padding(make_params(1, 4, 5, 5, 3, 3, 1), 1, 1, 1, 1);
  Conv2dParams wide = tall;
  wide.kernel_height = 1, wide.kernel_width = 3;
  EXPECT_STATUS(StatusCode::kPackedMismatch, run_with_weights_of(tall, wide));
  EXPECT_STATUS(StatusCode::kPackedMismatch, run_with_weights_of(wide, tall));
  // ... 6 channels in 2 groups vs 3 channels in 1 (K = 27, Cout = 4 both) ...
  const Conv2dParams ungrouped = with_padding(make_params(1, 3, 5, 7, 4, 3, 3, 1), 1, 1, 1, 1);
  EXPECT_STATUS(StatusCode::kPackedMismatch, run_with_weights_of(p, ungrouped));
  // ... depthwise over 4 channels vs a dense conv of 1 channel (K = 9, Cout = 4 both).
  const Conv2dParams dw = with_padding(make_params(1, 4, 5, 5, 4, 3, 3, 4), 1, 1, 1, 1);
  const Conv2dParams one = with_padding(make_params(1, 1, 5, 5, 4, 3, 3, 1), 1, 1, 1, 1);
  EXPECT_STATUS(StatusCode::kPackedMismatch, run_with_weights_of(dw, one));
  EXPECT_STATUS(StatusCode::kPackedMismatch, run_with_weights_of(one, dw));
  // The call-time parameters (spatial size, stride, dilation, padding, batch) are not the
  // weights': the same weights serve them all.
  const Conv2dParams moved = other([](Conv2dParams& q) {
    q.in_height = 9, q.in_width = 4, q.stride_width = 2, q.dilation_height = 2, q.pad_left = 0;
    q.batch = 3;
  });
  EXPECT_STATUS(StatusCode::kOk, run_with_weights_of(moved, p));
}

TEST(Conv2dBadInput, WeightsPackedForAnotherVariantOrForAGemm) {
  const Conv2dParams p = make_params(1, 6, 4, 5, 4, 1, 1);  // 1x1: a GEMM with N=4, K=6
  std::vector<float> in(6 * 4 * 5, 1.0f), out(4 * 4 * 5);
  std::vector<f16> in16(in.size(), to_f16(1.0f)), out16(out.size());
  std::vector<int8_t> in8(in.size(), 1), out8(out.size());
  // F16 conv weights to the F32 and QS8 convs, and F32 ones to F16.
  size_t f16_bytes = 0, f32_bytes = 0, q_bytes = 0;
  ASSERT_TRUE(conv2d_packed_weights_size<F16>(p, &f16_bytes).ok());
  ASSERT_TRUE(conv2d_packed_weights_size<F32>(p, &f32_bytes).ok());
  ASSERT_TRUE(conv2d_packed_weights_size<QS8>(p, &q_bytes).ok());
  const size_t big = std::max({f16_bytes, f32_bytes, q_bytes}) + 4096;
  std::vector<uint8_t> p16(big), p32(big), p8(big);
  std::vector<f16> w16(24, to_f16(0.5f));
  std::vector<float> w32(24, 0.5f), scales(4, 0.01f);
  std::vector<int8_t> w8(24, 3);
  ASSERT_TRUE(
      conv2d_pack_weights<F16>(p, w16.data(), ConvWeightLayout::kOIHW, kNoBias, p16.data(), big)
          .ok());
  ASSERT_TRUE(
      conv2d_pack_weights<F32>(p, w32.data(), ConvWeightLayout::kOIHW, kNoBias, p32.data(), big)
          .ok());
  const Qs8Quantization quant{{0.5f, 0}, scales.data(), {0.5f, 0}};
  ASSERT_TRUE(conv2d_pack_weights<QS8>(p, w8.data(), ConvWeightLayout::kOIHW, nullptr, quant,
                                       p8.data(), big)
                  .ok());
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                conv2d<F32>(p, in.data(), kNCHW, p16.data(), big, out.data(), kNCHW));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                conv2d<F32>(p, in.data(), kNCHW, p8.data(), big, out.data(), kNCHW));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                conv2d<F16>(p, in16.data(), kNCHW, p32.data(), big, out16.data(), kNCHW));
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                conv2d<QS8>(p, in8.data(), kNCHW, p32.data(), big, out8.data(), kNCHW));
  // GEMM weights of the same N and K to the conv ...
  size_t gemm_bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<F32>(4, 6, &gemm_bytes).ok());
  std::vector<uint8_t> gemm_packed(std::max(gemm_bytes, f32_bytes));
  ASSERT_TRUE(gemm_pack_rhs<F32>(dense_matrix<const float>(w32.data(), 4, 6), RhsLayout::kNxK,
                                 nullptr, gemm_packed.data(), gemm_bytes)
                  .ok());
  EXPECT_STATUS(StatusCode::kPackedMismatch, conv2d<F32>(p, in.data(), kNHWC, gemm_packed.data(),
                                                         gemm_packed.size(), out.data(), kNHWC));
  // ... and conv weights to the GEMM (the header's kind flags tell them apart).
  std::vector<float> c(20 * 4);
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                gemm<F32>(dense_matrix<const float>(in.data(), 20, 6), p32.data(), big,
                          dense_matrix(c.data(), 20, 4)));
  // Garbage that is not packed at all.
  std::vector<uint8_t> junk(big, 0xA5);
  EXPECT_STATUS(StatusCode::kPackedMismatch,
                conv2d<F32>(p, in.data(), kNCHW, junk.data(), big, out.data(), kNCHW));
}

// Weights packed on the SME2 path are refused on the portable one (and back).
TEST(Conv2dBadInput, WeightsPackedForAnotherPath) {
  if (select_path() == Path::kPortable) GTEST_SKIP() << "no SME2 here";
  const Conv2dParams p = with_padding(make_params(1, 3, 6, 9, 5, 3, 3), 1, 1, 1, 1);
  std::vector<float> w(reference::conv_weight_count(p), 0.5f), in(3 * 6 * 9, 1.0f), out(5 * 6 * 9);
  size_t bytes = 0;
  ASSERT_TRUE(conv2d_packed_weights_size<F32>(p, &bytes).ok());
  std::vector<uint8_t> sme2(bytes + 4096), portable(bytes + 4096);
  ASSERT_TRUE(conv2d_pack_weights<F32>(p, w.data(), ConvWeightLayout::kOIHW, kNoBias, sme2.data(),
                                       sme2.size())
                  .ok());
  {
    testing::ScopedForcePath force(Path::kPortable);
    ASSERT_TRUE(conv2d_pack_weights<F32>(p, w.data(), ConvWeightLayout::kOIHW, kNoBias,
                                         portable.data(), portable.size())
                    .ok());
    EXPECT_STATUS(StatusCode::kPackedMismatch,
                  conv2d<F32>(p, in.data(), kNCHW, sme2.data(), sme2.size(), out.data(), kNCHW));
  }
  EXPECT_STATUS(StatusCode::kPackedMismatch, conv2d<F32>(p, in.data(), kNCHW, portable.data(),
                                                         portable.size(), out.data(), kNCHW));
}

TEST(Conv2dBadInput, Qs8) {
  const Conv2dParams p = with_padding(make_params(1, 4, 5, 6, 3, 3, 3), 1, 1, 1, 1);
  std::vector<int8_t> w(reference::conv_weight_count(p), 2), in(4 * 5 * 6, 1), out(3 * 5 * 6, 9);
  std::vector<float> scales(3, 0.01f);
  const Qs8Quantization quant{{0.5f, 1}, scales.data(), {0.25f, -2}};
  size_t bytes = 0;
  ASSERT_TRUE(conv2d_packed_weights_size<QS8>(p, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  const auto pack = [&](const Qs8Quantization& q, const int32_t* bias = nullptr) {
    return conv2d_pack_weights<QS8>(p, w.data(), ConvWeightLayout::kOHWI, bias, q, packed.data(),
                                    bytes);
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float bad : {0.0f, -1.0f, nan, std::numeric_limits<float>::infinity()}) {
    Qs8Quantization q = quant;
    q.input.scale = bad;
    EXPECT_STATUS(StatusCode::kInvalidArgument, pack(q));
    q = quant;
    q.output.scale = bad;
    EXPECT_STATUS(StatusCode::kInvalidArgument, pack(q));
    std::vector<float> ws = scales;
    ws[1] = bad;
    q = quant;
    q.weight_scales = ws.data();
    EXPECT_STATUS(StatusCode::kInvalidArgument, pack(q));
  }
  for (int32_t zp : {-129, 128, 1000}) {
    Qs8Quantization q = quant;
    q.input.zero_point = zp;
    EXPECT_STATUS(StatusCode::kInvalidArgument, pack(q));
    q = quant;
    q.output.zero_point = zp;
    EXPECT_STATUS(StatusCode::kInvalidArgument, pack(q));
  }
  Qs8Quantization no_scales = quant;
  no_scales.weight_scales = nullptr;
  EXPECT_STATUS(StatusCode::kNullPointer, pack(no_scales));
  const std::vector<int32_t> big_bias(3, 2147400000);  // the accumulator could overflow
  EXPECT_STATUS(StatusCode::kInvalidArgument, pack(quant, big_bias.data()));
  ASSERT_TRUE(pack(quant).ok());

  const auto run = [&](const GemmEpilogue& e) {
    return conv2d<QS8>(p, in.data(), kNHWC, packed.data(), bytes, out.data(), kNCHW, e);
  };
  EXPECT_STATUS(StatusCode::kOk, run({}));
  std::fill(out.begin(), out.end(), int8_t{9});
  GemmEpilogue e;
  e.activation = Activation::kRelu;
  EXPECT_STATUS(StatusCode::kUnsupported, run(e));
  e = {};
  std::vector<float> affine(3, 1.0f);
  e.affine.scale = affine.data();
  EXPECT_STATUS(StatusCode::kUnsupported, run(e));
  e = {};
  e.clamp = Clamp{-1.0f, 1.0f};
  EXPECT_STATUS(StatusCode::kUnsupported, run(e));
  e = {};
  e.quantized_range = {-129, 0};
  EXPECT_STATUS(StatusCode::kInvalidArgument, run(e));
  e.quantized_range = {10, 5};
  EXPECT_STATUS(StatusCode::kInvalidArgument, run(e));
  for (int8_t x : out) EXPECT_EQ(x, 9) << "output written by a refused call";
}

// ---------------------------------------------------------------------------------------
// Input reads stay inside the input (every case has it flush against a guard page). The
// shapes the random sweeps found reading one element past the end of an NCHW input: one
// output column read with stride 3 or 4. Last in the file, as a fault ends the binary.

TEST(Conv2dInputBounds, NchwStride3Or4OneOutputColumn) {
  std::vector<ConvCase> cases;
  ConvCase t;
  t.guard = 0;
  // As the sweep found it (SVL 128, F32; any SVL, every variant).
  t.p = with_padding(make_params(1, 7, 13, 1, 33, 3, 3), 0, 1, 2, 0);
  t.p.stride_width = 3, t.p.dilation_height = 2;
  t.clamp = Clamp{-0.5f, 0.75f};
  t.seed = 2452;
  cases.push_back(t);
  t = ConvCase();
  t.guard = 0;
  for (size_t stride : {3, 4}) {  // the smallest: 1x1 kernel, W = 1
    t.p = make_params(1, 3, 4, 1, 5, 1, 1);
    t.p.stride_width = stride;
    t.out_layout = kNHWC;
    cases.push_back(t);
  }
  t.p = with_padding(make_params(1, 3, 4, 2, 5, 1, 3), 0, 0, 1, 0);  // 3 taps, W = 2
  t.p.stride_width = 4;
  t.out_layout = kNCHW;
  cases.push_back(t);
  for (const ConvCase& c : cases) {
    check_float<F32>(c);
    check_float<F16, f16>(c);
    check_float<F16, float>(c);
    check_qs8(c);
  }
}

}  // namespace
}  // namespace test
}  // namespace sme2k
