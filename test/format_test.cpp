// Packed formats: each packs to exactly the byte image its diagram describes (checked against
// the reference packers), unpacks back to its input, and has a size function that agrees
// with what is written and refuses sizes that overflow. The SME2 LHS packer (a transpose
// through ZA) must produce the same bytes as the plain one, inside guard pages.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "harness/guarded_buffer.hpp"
#include "reference/pack.hpp"
#include "sme2k/sme2k.hpp"
#include "testers/gemm_tester.hpp"

namespace sme2k {
namespace {

using test::ValueStream;

// The header's byte layout is part of the stored format: pin it to the diagram.
static_assert(offsetof(PackedHeader, version) == 8);
static_assert(offsetof(PackedHeader, variant) == 10);
static_assert(offsetof(PackedHeader, format) == 11);
static_assert(offsetof(PackedHeader, path) == 12);
static_assert(offsetof(PackedHeader, flags) == 14);
static_assert(offsetof(PackedHeader, svl_bytes) == 16);
static_assert(offsetof(PackedHeader, n) == 24);
static_assert(offsetof(PackedHeader, k) == 32);
static_assert(offsetof(PackedHeader, payload_bytes) == 40);
static_assert(offsetof(PackedHeader, variant_param2) == 48);
static_assert(offsetof(PackedHeader, checksum) == 52);

// A test value of any element type sme2k packs (int8 from the same stream, scaled).
template <class Elem>
Elem sample(ValueStream& values) {
  if constexpr (std::is_same_v<Elem, int8_t>) {
    return static_cast<int8_t>(values.next() * 127.0f);
  } else {
    return convert_to<Elem>(values.next());
  }
}

template <class Format>
void check_rhs_format(size_t vl) {
  using Elem = typename Format::Element;
  using BiasT = typename Format::BiasElement;
  ValueStream values(vl);
  const size_t nr = Format::nr(vl);
  for (size_t n : {size_t{1}, nr - 1, nr, nr + 1, 3 * nr + 2}) {
    for (size_t k : {size_t{1}, size_t{2}, size_t{5}, size_t{17}}) {
      for (RhsLayout layout : {RhsLayout::kKxN, RhsLayout::kNxK}) {
        for (bool with_bias : {true, false}) {
          SCOPED_TRACE(::testing::Message()
                       << Format::kName << " vl=" << vl << " n=" << n << " k=" << k << " "
                       << rhs_layout_name(layout) << (with_bias ? " bias" : ""));
          const size_t rows = layout == RhsLayout::kKxN ? k : n;
          const size_t cols = layout == RhsLayout::kKxN ? n : k;
          const size_t ld = cols + 3;  // a stride larger than the row
          std::vector<Elem> b(rows * ld);
          std::vector<float> bias(n);
          for (Elem& x : b) x = sample<Elem>(values);
          for (float& x : bias) x = values.next();
          size_t bytes = 0;
          ASSERT_TRUE(Format::payload_bytes(n, k, vl, &bytes));
          test::GuardedBuffer packed(bytes);
          std::memset(packed.data(), 0xee, bytes);  // padding must be written, not left over
          Format::pack(MatrixView<const Elem>{b.data(), rows, cols, ld}, layout,
                       with_bias ? bias.data() : nullptr, vl, packed.data());
          std::vector<BiasT> bias_stored(n);  // the bias as the format keeps it (f32 or f16)
          for (size_t j = 0; j < n; ++j) bias_stored[j] = convert_to<BiasT>(bias[j]);
          const std::vector<uint8_t> want =
              reference::pack_rhs<Elem, BiasT>({nr, Format::kKr}, b.data(), ld, layout, n, k,
                                               with_bias ? bias_stored.data() : nullptr);
          ASSERT_EQ(want.size(), bytes);
          ASSERT_EQ(std::memcmp(want.data(), packed.data(), bytes), 0);

          std::vector<Elem> b_kxn(k * n);
          std::vector<BiasT> bias_back(n);
          Format::unpack(packed.data(), n, k, vl, b_kxn.data(), bias_back.data());
          for (size_t kk = 0; kk < k; ++kk) {
            for (size_t j = 0; j < n; ++j) {
              const Elem original = layout == RhsLayout::kKxN ? b[kk * ld + j] : b[j * ld + kk];
              ASSERT_EQ(std::memcmp(&b_kxn[kk * n + j], &original, sizeof original), 0)
                  << kk << ", " << j;
            }
          }
          for (size_t j = 0; j < n; ++j) {
            ASSERT_EQ(to_f32(bias_back[j]), with_bias ? to_f32(bias_stored[j]) : 0.0f);
          }
        }
      }
    }
  }
}

// The SME2 format at every VL from SVL 128 to 2048: packing is plain C++, so every VL can be
// checked in every configuration.
TEST(RhsFormat, F32p2vlx1bf32AtEveryVl) {
  for (size_t vl : {4, 8, 16, 32, 64}) check_rhs_format<RhsF32p2vlx1bf32>(vl);
}

TEST(RhsFormat, F32p8x1bf32) { check_rhs_format<RhsF32p8x1bf32>(0); }

TEST(RhsFormat, F16p2vlx2bf32AtEveryVl) {
  for (size_t vl : {4, 8, 16, 32, 64}) check_rhs_format<RhsF16p2vlx2bf32>(vl);
}

TEST(RhsFormat, F16p8x1bf32) { check_rhs_format<RhsF16p8x1bf32>(0); }

TEST(RhsFormat, F16p4vlx1bf16AtEveryVl) {
  for (size_t vl : {4, 8, 16, 32, 64}) check_rhs_format<RhsF16p4vlx1bf16>(vl);
}

// QS8 weights: the int8 panels as any panel format, and per channel the bias with the input
// zero point's cross term folded in and the combined scale, computed here from scratch.
template <class Format>
void check_qs8_weights(size_t vl) {
  ValueStream values(vl + 7);
  for (size_t n : {size_t{1}, Format::nr(vl) + 3}) {
    for (size_t k : {size_t{1}, size_t{5}, size_t{8}, size_t{13}}) {
      for (RhsLayout layout : {RhsLayout::kKxN, RhsLayout::kNxK}) {
        SCOPED_TRACE(::testing::Message() << Format::kName << " vl=" << vl << " n=" << n
                                          << " k=" << k << " " << rhs_layout_name(layout));
        const size_t rows = layout == RhsLayout::kKxN ? k : n,
                     cols = layout == RhsLayout::kKxN ? n : k;
        std::vector<int8_t> b(rows * cols);
        for (int8_t& x : b) x = sample<int8_t>(values);
        std::vector<int32_t> bias(n);
        std::vector<float> w_scales(n);
        for (size_t j = 0; j < n; ++j) {
          bias[j] = static_cast<int32_t>(j * 1000) - 3000;
          w_scales[j] = 0.01f * static_cast<float>(j + 1);
        }
        const Qs8Quantization q{{0.25f, -7}, w_scales.data(), {0.5f, 3}};
        size_t bytes = 0;
        ASSERT_TRUE(Format::payload_bytes(n, k, vl, &bytes));
        std::vector<uint8_t> packed(bytes, 0xee);
        pack_qs8_weights<Format>({b.data(), rows, cols, cols}, layout, bias.data(), q, vl,
                                 packed.data());
        std::vector<Qs8ChannelParams> params(n);
        for (size_t j = 0; j < n; ++j) {
          int64_t sum = 0;
          for (size_t kk = 0; kk < k; ++kk)
            sum += layout == RhsLayout::kKxN ? b[kk * n + j] : b[j * k + kk];
          params[j].bias = static_cast<int32_t>(bias[j] + 7 * sum);
          params[j].scale = static_cast<float>(0.25 * static_cast<double>(w_scales[j]) / 0.5);
        }
        const std::vector<uint8_t> want = reference::pack_rhs<int8_t, Qs8ChannelParams>(
            {Format::nr(vl), Format::kKr}, b.data(), cols, layout, n, k, params.data());
        ASSERT_EQ(want.size(), bytes);
        ASSERT_EQ(std::memcmp(want.data(), packed.data(), bytes), 0);
      }
    }
  }
}

TEST(RhsFormat, Qs8p2vlx4bs32AtEveryVl) {
  for (size_t vl : {4, 8, 16, 32, 64}) check_qs8_weights<RhsQs8p2vlx4bs32>(vl);
}
TEST(RhsFormat, Qs8p8x1bs32) { check_qs8_weights<RhsQs8p8x1bs32>(0); }

// An f16 bias is widened to the packed f32 row.
TEST(RhsFormat, F16BiasIsWidened) {
  const std::vector<f16> b(4 * 3, to_f16(1.0f));
  const std::vector<f16> bias = {to_f16(0.5f), to_f16(-2.0f), to_f16(65504.0f)};
  size_t bytes = 0;
  ASSERT_TRUE(RhsF16p2vlx2bf32::payload_bytes(3, 4, 4, &bytes));
  std::vector<uint8_t> packed(bytes);
  RhsF16p2vlx2bf32::pack(MatrixView<const f16>{b.data(), 4, 3, 3}, RhsLayout::kKxN, bias.data(), 4,
                         packed.data());
  const float* row = RhsF16p2vlx2bf32::panel_bias(packed.data(), 0, 4, 4);
  EXPECT_EQ(row[0], 0.5f);
  EXPECT_EQ(row[1], -2.0f);
  EXPECT_EQ(row[2], 65504.0f);
  EXPECT_EQ(row[3], 0.0f);
}

TEST(RhsFormat, SizesAndOverflow) {
  size_t bytes = 0;
  ASSERT_TRUE(RhsF32p2vlx1bf32::payload_bytes(33, 5, 16, &bytes));
  EXPECT_EQ(bytes, 2u * (32 * 4 + 5 * 32 * 4));  // two panels: bias row + 5 rows of 32 floats
  ASSERT_TRUE(RhsF32p8x1bf32::payload_bytes(8, 1, 0, &bytes));
  EXPECT_EQ(bytes, 8u * 4 + 8 * 4);
  constexpr size_t kMax = std::numeric_limits<size_t>::max();
  EXPECT_FALSE(RhsF32p2vlx1bf32::payload_bytes(kMax, 4, 16, &bytes));
  EXPECT_FALSE(RhsF32p2vlx1bf32::payload_bytes(4, kMax, 16, &bytes));
  EXPECT_FALSE(RhsF32p2vlx1bf32::payload_bytes(kMax / 64, kMax / 64, 16, &bytes));
  EXPECT_FALSE(LhsF32p2vlx1::checked_panel_bytes(kMax / 8, 16, &bytes));
}

template <class Format>
void check_lhs_format() {
  using Elem = typename Format::Element;
  for (size_t vl : {4, 8, 16, 32, 64}) {
    ValueStream values(vl);
    const size_t mr = Format::mr(vl);
    for (size_t rows : {size_t{1}, vl - 1, vl, vl + 1, mr}) {
      for (size_t k : {size_t{1}, size_t{3}, size_t{4}, vl + 1}) {
        SCOPED_TRACE(::testing::Message()
                     << Format::kName << " vl=" << vl << " rows=" << rows << " k=" << k);
        const size_t lda = k + 2;
        std::vector<Elem> a(rows * lda);
        for (Elem& x : a) x = sample<Elem>(values);
        std::vector<Elem> panel(Format::panel_bytes(k, vl) / sizeof(Elem), Elem{});
        Format::pack_panel({a.data(), rows, k, lda}, vl, panel.data());
        const std::vector<uint8_t> want =
            reference::pack_lhs_panel<Elem>({mr, Format::kKr}, a.data(), lda, rows, k);
        ASSERT_EQ(want.size(), panel.size() * sizeof(Elem));
        ASSERT_EQ(std::memcmp(want.data(), panel.data(), want.size()), 0);
        std::vector<Elem> back(rows * lda);
        Format::unpack_panel(panel.data(), rows, k, vl, back.data(), lda);
        for (size_t i = 0; i < rows; ++i) {
          for (size_t kk = 0; kk < k; ++kk) {
            ASSERT_EQ(std::memcmp(&back[i * lda + kk], &a[i * lda + kk], sizeof(Elem)), 0);
          }
        }
      }
    }
  }
}

TEST(LhsFormat, F32p2vlx1AtEveryVl) { check_lhs_format<LhsF32p2vlx1>(); }
TEST(LhsFormat, F16p2vlx2AtEveryVl) { check_lhs_format<LhsF16p2vlx2>(); }
TEST(LhsFormat, F16p2vlx1AtEveryVl) { check_lhs_format<LhsF16p2vlx1>(); }
TEST(LhsFormat, Qs8p2vlx4AtEveryVl) { check_lhs_format<LhsQs8p2vlx4>(); }

#if SME2K_HAS_SME2_CODE
template <class Format>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void pack_lhs_panel_through_za(
    MatrixView<const typename Format::Element> a, typename Format::Element* panel) {
  Format::pack_panel_sme2(a, panel);
}
#endif

// The packer the op runs (through ZA) writes the same bytes as the specification, and
// neither reads nor writes outside its buffers: odd K (half a 32-bit word of f16) included.
template <class Format>
void check_lhs_packer_through_za() {
#if SME2K_HAS_SME2_CODE
  using Elem = typename Format::Element;
  if (!path_available(Path::kSme2, cpu_features())) GTEST_SKIP() << "needs a CPU with SME2";
  const size_t vl = streaming_vl();
  ValueStream values(3);
  for (size_t rows : test::sizes_around(2 * vl)) {
    if (rows > 2 * vl) continue;
    for (size_t k : {size_t{1}, size_t{2}, size_t{3}, vl - 1, vl, vl + 1, 2 * vl - 1, 2 * vl + 1,
                     3 * vl + 2, 4 * vl + 3}) {
      for (size_t lda : {k, k + 5}) {
        SCOPED_TRACE(::testing::Message() << Format::kName << " vl=" << vl << " rows=" << rows
                                          << " k=" << k << " lda=" << lda);
        test::GuardedArray<Elem> a((rows - 1) * lda + k);
        for (Elem& x : a) x = sample<Elem>(values);
        const size_t bytes = Format::panel_bytes(k, vl);
        test::GuardedBuffer through_za(bytes);
        std::memset(through_za.data(), 0xee, bytes);
        std::vector<Elem> plain(bytes / sizeof(Elem));
        Format::pack_panel({a.data(), rows, k, lda}, vl, plain.data());
        pack_lhs_panel_through_za<Format>({a.data(), rows, k, lda},
                                          reinterpret_cast<Elem*>(through_za.data()));
        ASSERT_EQ(std::memcmp(plain.data(), through_za.data(), bytes), 0);
        ASSERT_TRUE(a.canary_intact() && through_za.canary_intact());
      }
    }
  }
#else
  GTEST_SKIP() << "built without SME2 code";
#endif
}

TEST(LhsFormat, F32Sme2PackerMatchesThePlainOne) { check_lhs_packer_through_za<LhsF32p2vlx1>(); }
TEST(LhsFormat, F16Sme2PackerMatchesThePlainOne) { check_lhs_packer_through_za<LhsF16p2vlx2>(); }
TEST(LhsFormat, Qs8Sme2PackerMatchesThePlainOne) { check_lhs_packer_through_za<LhsQs8p2vlx4>(); }
TEST(LhsFormat, F16HalvesSme2PackerMatchesThePlainOne) {
  check_lhs_packer_through_za<LhsF16p2vlx1>();
}

}  // namespace
}  // namespace sme2k
