// Packed data integrity (issue 19): a packed buffer's 64-byte header is checked on every call.
// - Every single-bit flip of the header of every packed kind (GEMM weights of each variant,
//   convolution and depthwise weights, packed QD8 activations) is refused with
//   kPackedMismatch, and the refused call leaves its output untouched.
// - Forged headers (checksum recomputed after the change) with a field out of range are
//   refused all the same: zero points outside int8, unknown flags, reserved bytes, QD8's K.
// - Payload parameters that integer arithmetic depends on (QD8 activation rows' zero points
//   and scales, QS8 channels' folded biases and scales) are range-checked on every call:
//   damaged ones are refused with kPackedMismatch (a fuzz finding overflowed int32 on them).
// - The has-bias flag is read the same way by both paths: weights packed with a bias whose
//   flag is cleared (and resealed) give A * B without the bias, on SME2 and portable alike.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "harness/expectations.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k {
namespace test {
namespace {

// One packed buffer and the call that reads it; run() returns the call's status and whether
// the call's output kept its sentinel.
struct Kind {
  std::string name;
  std::vector<uint8_t> packed;
  std::function<Status(const std::vector<uint8_t>&, bool* untouched)> run;
};

constexpr size_t kM = 5, kN = 7, kK = 64;

template <class T>
std::vector<T> ramp(size_t count, int mod, int offset) {
  std::vector<T> v(count);
  for (size_t i = 0; i < count; ++i) v[i] = static_cast<T>(static_cast<int>(i % mod) - offset);
  return v;
}

std::vector<float> float_ramp(size_t count) {
  std::vector<float> v(count);
  for (size_t i = 0; i < count; ++i) v[i] = 0.25f * static_cast<float>(static_cast<int>(i % 9) - 4);
  return v;
}

std::vector<f16> f16_ramp(size_t count) {
  std::vector<f16> v(count);
  const std::vector<float> f = float_ramp(count);
  for (size_t i = 0; i < count; ++i) v[i] = convert_to<f16>(f[i]);
  return v;
}

template <class Out>
bool all_equal(const std::vector<Out>& c, Out value) {
  for (const Out& x : c) {
    if (std::memcmp(&x, &value, sizeof x) != 0) return false;
  }
  return true;
}

// GEMM weights of a float variant (F32, F16, F16Acc16).
template <class V>
Kind float_gemm_kind(const char* name) {
  using In = typename VariantTraits<V>::Lhs;
  using Out = typename VariantTraits<V>::Out;
  Kind kind{name, {}, {}};
  std::vector<In> b;
  if constexpr (std::is_same_v<In, float>) {
    b = float_ramp(kK * kN);
  } else {
    b = f16_ramp(kK * kN);
  }
  const std::vector<float> bias = float_ramp(kN);
  size_t bytes = 0;
  EXPECT_TRUE(gemm_packed_rhs_size<V>(kN, kK, &bytes).ok());
  kind.packed.resize(bytes);
  EXPECT_TRUE(gemm_pack_rhs<V>(MatrixView<const In>{b.data(), kK, kN, kN}, RhsLayout::kKxN,
                               bias.data(), kind.packed.data(), bytes)
                  .ok());
  kind.run = [](const std::vector<uint8_t>& packed, bool* untouched) {
    std::vector<In> a;
    if constexpr (std::is_same_v<In, float>) {
      a = float_ramp(kM * kK);
    } else {
      a = f16_ramp(kM * kK);
    }
    const Out sentinel = convert_to<Out>(-3.0f);
    std::vector<Out> c(kM * kN, sentinel);
    const Status s = gemm<V>(MatrixView<const In>{a.data(), kM, kK, kK}, packed.data(),
                             packed.size(), MatrixView<Out>{c.data(), kM, kN, kN});
    *untouched = all_equal(c, sentinel);
    return s;
  };
  return kind;
}

Kind qs8_gemm_kind() {
  Kind kind{"gemm qs8", {}, {}};
  const std::vector<int8_t> b = ramp<int8_t>(kK * kN, 17, 8);
  const std::vector<int32_t> bias = ramp<int32_t>(kN, 7, 3);
  const std::vector<float> scales(kN, 0.02f);
  const Qs8Quantization q{{0.05f, 3}, scales.data(), {0.1f, -5}};
  size_t bytes = 0;
  EXPECT_TRUE(gemm_packed_rhs_size<QS8>(kN, kK, &bytes).ok());
  kind.packed.resize(bytes);
  EXPECT_TRUE(gemm_pack_rhs<QS8>(MatrixView<const int8_t>{b.data(), kK, kN, kN}, RhsLayout::kKxN,
                                 bias.data(), q, kind.packed.data(), bytes)
                  .ok());
  kind.run = [](const std::vector<uint8_t>& packed, bool* untouched) {
    const std::vector<int8_t> a = ramp<int8_t>(kM * kK, 13, 6);
    std::vector<int8_t> c(kM * kN, int8_t{77});
    const Status s = gemm<QS8>(MatrixView<const int8_t>{a.data(), kM, kK, kK}, packed.data(),
                               packed.size(), MatrixView<int8_t>{c.data(), kM, kN, kN});
    *untouched = all_equal(c, int8_t{77});
    return s;
  };
  return kind;
}

// A QD8-family call on f32 activations (the weights' kind decides the variant).
template <class V>
std::function<Status(const std::vector<uint8_t>&, bool*)> qd8_run() {
  return [](const std::vector<uint8_t>& packed, bool* untouched) {
    const std::vector<float> a = float_ramp(kM * kK);
    std::vector<float> c(kM * kN, -3.0f);
    const Status s = gemm<V>(MatrixView<const float>{a.data(), kM, kK, kK}, packed.data(),
                             packed.size(), MatrixView<float>{c.data(), kM, kN, kN});
    *untouched = all_equal(c, -3.0f);
    return s;
  };
}

Kind qd8_gemm_kind() {
  Kind kind{"gemm qd8", {}, qd8_run<QD8>()};
  const std::vector<int8_t> b = ramp<int8_t>(kK * kN, 17, 8);
  const std::vector<float> scales(kN, 0.02f), bias = float_ramp(kN);
  size_t bytes = 0;
  EXPECT_TRUE(gemm_packed_rhs_size<QD8>(kN, kK, &bytes).ok());
  kind.packed.resize(bytes);
  EXPECT_TRUE(gemm_pack_rhs<QD8>(MatrixView<const int8_t>{b.data(), kK, kN, kN}, RhsLayout::kKxN,
                                 bias.data(), scales.data(), kind.packed.data(), bytes)
                  .ok());
  return kind;
}

Kind qc4w_gemm_kind() {
  Kind kind{"gemm qd8-qc4w", {}, qd8_run<QD8QC4W>()};
  const std::vector<int8_t> b = ramp<int8_t>(kK * kN, 16, 8);
  const std::vector<float> scales(kN, 0.02f), bias = float_ramp(kN);
  size_t bytes = 0;
  EXPECT_TRUE(gemm_packed_rhs_size<QD8QC4W>(kN, kK, &bytes).ok());
  kind.packed.resize(bytes);
  const Int4View view{b.data(), kK, kN, kN, Int4Storage::kInt8};
  EXPECT_TRUE(gemm_pack_rhs<QD8QC4W>(view, RhsLayout::kKxN, bias.data(), scales.data(),
                                     kind.packed.data(), bytes)
                  .ok());
  return kind;
}

Kind qb4w_gemm_kind() {
  Kind kind{"gemm qd8-qb4w", {}, qd8_run<QD8QB4W>()};
  const std::vector<int8_t> b = ramp<int8_t>(kK * kN, 16, 8);
  const std::vector<float> scales(kN * kK / 32, 0.02f), bias = float_ramp(kN);
  size_t bytes = 0;
  EXPECT_TRUE(gemm_packed_rhs_size<QD8QB4W>(kN, kK, 32, &bytes).ok());
  kind.packed.resize(bytes);
  const Int4View view{b.data(), kK, kN, kN, Int4Storage::kInt8};
  const BlockScales bs{scales.data(), ScaleType::kF32, 32, kK / 32};
  EXPECT_TRUE(
      gemm_pack_rhs<QD8QB4W>(view, RhsLayout::kKxN, bias.data(), bs, kind.packed.data(), bytes)
          .ok());
  return kind;
}

// QD8 activations packed by gemm_pack_lhs(): the header flipped is the activations'.
Kind packed_lhs_kind() {
  Kind weights = qd8_gemm_kind();
  Kind kind{"packed qd8 activations", {}, {}};
  const std::vector<float> a = float_ramp(kM * kK);
  size_t bytes = 0;
  EXPECT_TRUE(gemm_packed_lhs_size<QD8>(kM, kK, &bytes).ok());
  kind.packed.resize(bytes);
  EXPECT_TRUE(
      gemm_pack_lhs<QD8>(MatrixView<const float>{a.data(), kM, kK, kK}, kind.packed.data(), bytes)
          .ok());
  kind.run = [rhs = weights.packed](const std::vector<uint8_t>& lhs, bool* untouched) {
    std::vector<float> c(kM * kN, -3.0f);
    size_t ws_bytes = 0;
    Status s = gemm_workspace_size<QD8>(kM, kN, kK, &ws_bytes);
    std::vector<uint8_t> ws(ws_bytes + 1);
    if (s.ok()) {
      s = gemm<QD8>(PackedLhs{lhs.data(), lhs.size()}, rhs.data(), rhs.size(),
                    MatrixView<float>{c.data(), kM, kN, kN}, GemmEpilogue{}, ws.data(), ws_bytes);
    }
    *untouched = all_equal(c, -3.0f);
    return s;
  };
  return kind;
}

Conv2dParams conv_params(bool depthwise) {
  Conv2dParams p;
  p.in_channels = 4;
  p.in_height = p.in_width = 5;
  p.out_channels = depthwise ? 4 : 6;
  p.groups = depthwise ? 4 : 1;
  p.kernel_height = p.kernel_width = 3;
  p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
  return p;
}

Kind f32_conv_kind(bool depthwise) {
  Kind kind{depthwise ? "depthwise f32" : "conv2d f32", {}, {}};
  const Conv2dParams p = conv_params(depthwise);
  const std::vector<float> w = float_ramp(p.out_channels * p.in_channels_per_group() * p.taps());
  const std::vector<float> bias = float_ramp(p.out_channels);
  size_t bytes = 0;
  EXPECT_TRUE(conv2d_packed_weights_size<F32>(p, &bytes).ok());
  kind.packed.resize(bytes);
  EXPECT_TRUE(conv2d_pack_weights<F32>(p, w.data(), ConvWeightLayout::kOIHW, bias.data(),
                                       kind.packed.data(), bytes)
                  .ok());
  kind.run = [p](const std::vector<uint8_t>& packed, bool* untouched) {
    const std::vector<float> in = float_ramp(conv2d_input_elements(p));
    std::vector<float> out(conv2d_output_elements(p), -3.0f);
    const Status s = conv2d<F32>(p, in.data(), TensorLayout::kNCHW, packed.data(), packed.size(),
                                 out.data(), TensorLayout::kNCHW);
    *untouched = all_equal(out, -3.0f);
    return s;
  };
  return kind;
}

Kind qs8_conv_kind(bool depthwise) {
  Kind kind{depthwise ? "depthwise qs8" : "conv2d qs8", {}, {}};
  const Conv2dParams p = conv_params(depthwise);
  const std::vector<int8_t> w =
      ramp<int8_t>(p.out_channels * p.in_channels_per_group() * p.taps(), 15, 7);
  const std::vector<int32_t> bias = ramp<int32_t>(p.out_channels, 5, 2);
  const std::vector<float> scales(p.out_channels, 0.03f);
  const Qs8Quantization q{{0.05f, 4}, scales.data(), {0.1f, -6}};
  size_t bytes = 0;
  EXPECT_TRUE(conv2d_packed_weights_size<QS8>(p, &bytes).ok());
  kind.packed.resize(bytes);
  EXPECT_TRUE(conv2d_pack_weights<QS8>(p, w.data(), ConvWeightLayout::kOIHW, bias.data(), q,
                                       kind.packed.data(), bytes)
                  .ok());
  kind.run = [p](const std::vector<uint8_t>& packed, bool* untouched) {
    const std::vector<int8_t> in = ramp<int8_t>(conv2d_input_elements(p), 11, 5);
    std::vector<int8_t> out(conv2d_output_elements(p), int8_t{77});
    const Status s = conv2d<QS8>(p, in.data(), TensorLayout::kNHWC, packed.data(), packed.size(),
                                 out.data(), TensorLayout::kNHWC);
    *untouched = all_equal(out, int8_t{77});
    return s;
  };
  return kind;
}

std::vector<Kind> all_kinds() {
  std::vector<Kind> kinds;
  kinds.push_back(float_gemm_kind<F32>("gemm f32"));
  kinds.push_back(float_gemm_kind<F16>("gemm f16"));
  kinds.push_back(float_gemm_kind<F16Acc16>("gemm f16acc16"));
  kinds.push_back(qs8_gemm_kind());
  kinds.push_back(qd8_gemm_kind());
  kinds.push_back(qc4w_gemm_kind());
  kinds.push_back(qb4w_gemm_kind());
  kinds.push_back(packed_lhs_kind());
  kinds.push_back(f32_conv_kind(false));
  kinds.push_back(f32_conv_kind(true));
  kinds.push_back(qs8_conv_kind(false));
  kinds.push_back(qs8_conv_kind(true));
  return kinds;
}

PackedHeader header_of(const std::vector<uint8_t>& packed) {
  PackedHeader h{};
  std::memcpy(&h, packed.data(), sizeof h);
  return h;
}

TEST(PackedIntegrity, EveryHeaderBitFlipIsRefused) {
  for (const Kind& kind : all_kinds()) {
    SCOPED_TRACE(kind.name);
    bool untouched = false;
    const Status base = kind.run(kind.packed, &untouched);
    ASSERT_TRUE(base.ok()) << base.message();
    ASSERT_FALSE(untouched) << "the unflipped call must write its output";
    size_t accepted = 0;
    for (size_t bit = 0; bit < kPackedHeaderBytes * 8; ++bit) {
      std::vector<uint8_t> flipped = kind.packed;
      flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      const Status s = kind.run(flipped, &untouched);
      if (s.ok()) ++accepted;
      EXPECT_FALSE(s.ok()) << "bit " << bit << " (byte " << bit / 8 << ") flipped was accepted";
      EXPECT_TRUE(untouched) << "bit " << bit << ": a refused call wrote its output";
      if (!s.ok()) EXPECT_EQ(s.code(), StatusCode::kPackedMismatch) << bit << ": " << s.message();
    }
    EXPECT_EQ(accepted, 0u);
  }
}

// A header changed on purpose and resealed (its checksum recomputed) is checked field by field.
TEST(PackedIntegrity, ForgedFieldsAreRefused) {
  const auto refused = [](const Kind& kind, const std::function<void(PackedHeader&)>& change) {
    std::vector<uint8_t> forged = kind.packed;
    PackedHeader h = header_of(forged);
    change(h);
    write_packed_header(forged.data(), h);
    bool untouched = false;
    const Status s = kind.run(forged, &untouched);
    EXPECT_FALSE(s.ok());
    EXPECT_TRUE(untouched);
    return !s.ok() && s.code() == StatusCode::kPackedMismatch;
  };
  const Kind qs8 = qs8_gemm_kind();
  const Kind conv = qs8_conv_kind(false);
  const Kind f32 = float_gemm_kind<F32>("gemm f32");
  // The QS8 output zero point: int8 only (it was used unchecked).
  EXPECT_TRUE(refused(qs8, [](PackedHeader& h) { h.variant_param = 128; }));
  EXPECT_TRUE(refused(qs8, [](PackedHeader& h) { h.variant_param = -129; }));
  // The conv input zero point (the padding's value, once truncated to int8).
  EXPECT_TRUE(refused(conv, [](PackedHeader& h) { h.variant_param2 = 300; }));
  EXPECT_TRUE(refused(conv, [](PackedHeader& h) { h.variant_param2 = -129; }));
  // Variant parameters where the variant has none, flags it does not use, reserved bytes.
  EXPECT_TRUE(refused(f32, [](PackedHeader& h) { h.variant_param = 1; }));
  EXPECT_TRUE(refused(qs8, [](PackedHeader& h) { h.variant_param2 = 1; }));
  EXPECT_TRUE(refused(f32, [](PackedHeader& h) { h.flags |= PackedHeader::kFlagSmallScales; }));
  EXPECT_TRUE(refused(f32, [](PackedHeader& h) { h.flags |= 0x100; }));
  EXPECT_TRUE(refused(qs8, [](PackedHeader& h) { h.flags &= ~PackedHeader::kFlagHasBias; }));
  EXPECT_TRUE(refused(conv, [](PackedHeader& h) { h.flags = PackedHeader::kFlagDepthwise; }));
  EXPECT_TRUE(refused(f32, [](PackedHeader& h) { h.reserved0 = 1; }));
  EXPECT_TRUE(refused(f32, [](PackedHeader& h) { h.reserved2 = 1; }));
  // The version before checksums.
  EXPECT_TRUE(refused(f32, [](PackedHeader& h) { h.version = 1; }));
}

// Both paths read the has-bias flag the same way: cleared (and resealed) on weights packed
// with a bias, the call computes A * B without it. (The SME2 path honoured the flag, the
// portable path added the bias anyway.)
TEST(PackedIntegrity, HasBiasFlagReadTheSameWayOnBothPaths) {
  const std::vector<float> a = float_ramp(kM * kK), b = float_ramp(kK * kN);
  std::vector<float> bias(kN, 1000.0f);
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<F32>(kN, kK, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  ASSERT_TRUE(gemm_pack_rhs<F32>(MatrixView<const float>{b.data(), kK, kN, kN}, RhsLayout::kKxN,
                                 bias.data(), packed.data(), bytes)
                  .ok());
  PackedHeader h = header_of(packed);
  ASSERT_TRUE(h.has_bias());
  h.flags &= ~PackedHeader::kFlagHasBias;
  write_packed_header(packed.data(), h);
  std::vector<float> c(kM * kN, -3.0f);
  ASSERT_TRUE(gemm<F32>(MatrixView<const float>{a.data(), kM, kK, kK}, packed.data(), bytes,
                        MatrixView<float>{c.data(), kM, kN, kN})
                  .ok());
  for (size_t i = 0; i < kM; ++i) {
    for (size_t j = 0; j < kN; ++j) {
      double want = 0.0;
      for (size_t kk = 0; kk < kK; ++kk) want += double{a[i * kK + kk]} * b[kk * kN + j];
      // Values are multiples of 1/16 with small sums: exact in f32 whatever the order.
      EXPECT_EQ(c[i * kN + j], static_cast<float>(want))
          << i << ", " << j << " on " << path_name(last_used_path());
    }
  }
}

// The payload is not under the checksum: the parameters integer arithmetic depends on are
// range-checked on every call. (fuzz_packed_lhs found a packed-activation row whose zero
// point, out of int8, overflowed the portable kernel's int32 zero-point term.)

// Row i's parameters in packed QD8 activations, in whichever format the path packed.
Qd8RowParams* lhs_row_params(std::vector<uint8_t>& packed, size_t i) {
  const PackedHeader h = header_of(packed);
  uint8_t* payload = packed.data() + kPackedHeaderBytes;
  if (h.format == PackedFormatId::kLhsQd8p1x1) {
    return reinterpret_cast<Qd8RowParams*>(payload) + i;
  }
  EXPECT_EQ(h.format, PackedFormatId::kLhsQd8p2vlx4);
  const size_t vl = h.svl_bytes / 4;
  return reinterpret_cast<Qd8RowParams*>(payload + i / LhsQd8p2vlx4::mr(vl) *
                                                       LhsQd8p2vlx4::panel_bytes(kK, vl)) +
         i % LhsQd8p2vlx4::mr(vl);
}

TEST(PackedIntegrity, ImpossibleActivationRowParametersAreRefused) {
  const Kind lhs = packed_lhs_kind();
  bool untouched = false;
  ASSERT_TRUE(lhs.run(lhs.packed, &untouched).ok());
  const auto set_zp = [](Qd8RowParams* p, int zp) {
    p->neg_zero_point = static_cast<int16_t>(-zp);
    p->neg_zero_point_x128 = static_cast<int16_t>(-128 * zp);
  };
  const std::function<void(Qd8RowParams*)> damages[] = {
      // The fuzz finding: -zp = 4224 (the term was 4224 * column sum), x128 half left as it was.
      [](Qd8RowParams* p) { p->neg_zero_point = 4224; },
      [&](Qd8RowParams* p) { set_zp(p, 128); },   // just past int8, both halves consistent
      [&](Qd8RowParams* p) { set_zp(p, -129); },  // (-128 * -129 still fits int16)
      [](Qd8RowParams* p) { p->neg_zero_point_x128 ^= 128; },  // the halves disagree
      [](Qd8RowParams* p) { p->scale = 0.0f; },
      [](Qd8RowParams* p) { p->scale = -0.5f; },
      [](Qd8RowParams* p) { p->scale = std::numeric_limits<float>::infinity(); },
      [](Qd8RowParams* p) { p->scale = std::numeric_limits<float>::denorm_min(); },
      [&](Qd8RowParams* p) {  // NaN scale (a non-finite row) with a zero point other than 0
        p->scale = std::numeric_limits<float>::quiet_NaN();
        set_zp(p, 3);
      },
  };
  for (size_t row : {size_t{0}, kM - 1}) {
    for (size_t d = 0; d < std::size(damages); ++d) {
      SCOPED_TRACE("row " + std::to_string(row) + ", damage " + std::to_string(d));
      std::vector<uint8_t> damaged = lhs.packed;
      damages[d](lhs_row_params(damaged, row));
      const Status s = lhs.run(damaged, &untouched);
      EXPECT_EQ(s.code(), StatusCode::kPackedMismatch) << s.message();
      EXPECT_TRUE(untouched);
    }
  }
}

// What packing itself writes is accepted: a row holding an infinity has a NaN scale and zero
// point 0, and gives NaN outputs (as a float GEMM would), on both paths.
TEST(PackedIntegrity, NonFiniteActivationRowStillAccepted) {
  const Kind weights = qd8_gemm_kind();
  std::vector<float> a = float_ramp(kM * kK);
  a[2 * kK + 5] = std::numeric_limits<float>::infinity();
  size_t bytes = 0, ws_bytes = 0;
  ASSERT_TRUE(gemm_packed_lhs_size<QD8>(kM, kK, &bytes).ok());
  ASSERT_TRUE(gemm_workspace_size<QD8>(kM, kN, kK, &ws_bytes).ok());
  std::vector<uint8_t> lhs(bytes), ws(ws_bytes + 1);
  ASSERT_TRUE(
      gemm_pack_lhs<QD8>(MatrixView<const float>{a.data(), kM, kK, kK}, lhs.data(), bytes).ok());
  EXPECT_TRUE(std::isnan(lhs_row_params(lhs, 2)->scale));
  std::vector<float> c(kM * kN, -3.0f);
  const Status s =
      gemm<QD8>(PackedLhs{lhs.data(), bytes}, weights.packed.data(), weights.packed.size(),
                MatrixView<float>{c.data(), kM, kN, kN}, GemmEpilogue{}, ws.data(), ws_bytes);
  ASSERT_TRUE(s.ok()) << s.message();
  for (size_t j = 0; j < kN; ++j) {
    EXPECT_TRUE(std::isnan(c[2 * kN + j])) << j;
    EXPECT_FALSE(std::isnan(c[j])) << j;
  }
}

// QS8 weights keep (folded bias, requantization scale) per output channel: a bias that lets
// an accumulator leave int32, or a scale that is not a positive finite f32 (or >= 0.5 under
// the small-scales flag), is refused. Channel 0's pair is the first thing in the payload of
// GEMM weights (either format) and of the first conv group; depthwise keeps them after the
// taps.
TEST(PackedIntegrity, ImpossibleQs8ChannelParametersAreRefused) {
  struct Case {
    Kind kind;
    size_t offset;  // channel 0's Qs8ChannelParams in the payload
  };
  const Conv2dParams dw = conv_params(true);
  const Case cases[] = {
      {qs8_gemm_kind(), 0},
      {qs8_conv_kind(false), kConvDescriptorBytes},
      {qs8_conv_kind(true),
       kConvDescriptorBytes + dw.taps() * depthwise_tap_row_bytes<int8_t>(dw.out_channels)},
  };
  const std::function<void(Qs8ChannelParams*)> damages[] = {
      [](Qs8ChannelParams* c) { c->bias = INT32_MAX; },
      [](Qs8ChannelParams* c) { c->bias = INT32_MIN; },
      [](Qs8ChannelParams* c) { c->bias = INT32_MAX - 128 * 128 * 8; },  // K > 8 in all three
      [](Qs8ChannelParams* c) { c->scale = 0.0f; },
      [](Qs8ChannelParams* c) { c->scale = -0.02f; },
      [](Qs8ChannelParams* c) { c->scale = std::numeric_limits<float>::quiet_NaN(); },
      [](Qs8ChannelParams* c) { c->scale = std::numeric_limits<float>::infinity(); },
      [](Qs8ChannelParams* c) { c->scale = 0.75f; },  // the weights say every scale < 0.5
  };
  for (const Case& test_case : cases) {
    SCOPED_TRACE(test_case.kind.name);
    ASSERT_NE(header_of(test_case.kind.packed).flags & PackedHeader::kFlagSmallScales, 0);
    bool untouched = false;
    ASSERT_TRUE(test_case.kind.run(test_case.kind.packed, &untouched).ok());
    for (size_t d = 0; d < std::size(damages); ++d) {
      SCOPED_TRACE("damage " + std::to_string(d));
      std::vector<uint8_t> damaged = test_case.kind.packed;
      auto* params = reinterpret_cast<Qs8ChannelParams*>(damaged.data() + kPackedHeaderBytes +
                                                         test_case.offset);
      damages[d](params);
      const Status s = test_case.kind.run(damaged, &untouched);
      EXPECT_EQ(s.code(), StatusCode::kPackedMismatch) << s.message();
      EXPECT_TRUE(untouched);
    }
    // An ordinary bias written there is accepted (the check is a bound, not a checksum).
    std::vector<uint8_t> edge = test_case.kind.packed;
    reinterpret_cast<Qs8ChannelParams*>(edge.data() + kPackedHeaderBytes + test_case.offset)->bias =
        -1000;
    EXPECT_TRUE(test_case.kind.run(edge, &untouched).ok());
  }
}

// Forged QD8 headers (resealed) with K above kQd8MaxK: the int32 accumulators' bound.
TEST(PackedIntegrity, ForgedQd8DepthIsRefused) {
  for (const Kind& kind : {qd8_gemm_kind(), packed_lhs_kind()}) {
    SCOPED_TRACE(kind.name);
    std::vector<uint8_t> forged = kind.packed;
    PackedHeader h = header_of(forged);
    h.k = kQd8MaxK + 1;
    write_packed_header(forged.data(), h);
    PackedHeader read{};
    const Status s = read_packed_header(forged.data(), forged.size(), &read);
    EXPECT_EQ(s.code(), StatusCode::kPackedMismatch) << s.message();
  }
}

TEST(PackedIntegrity, ChecksumIsCrc32) {
  // The header's checksum is zlib's crc32(): its check value for "123456789".
  EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u);
  const Kind f32 = float_gemm_kind<F32>("gemm f32");
  const PackedHeader h = header_of(f32.packed);
  EXPECT_EQ(h.checksum, packed_header_checksum(h));
  EXPECT_EQ(h.version, 2);
}

}  // namespace
}  // namespace test
}  // namespace sme2k
