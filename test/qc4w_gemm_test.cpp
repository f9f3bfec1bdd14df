// QD8 (activations quantized per row at run time) x QC4W (4-bit weights, -8..7, symmetric per
// output channel) GEMM:
// - the test's own nibble encoding is the one Int4View documents (low nibble = even index);
// - the same 4-bit values pack to the same bytes whichever way the caller holds them: nibbles
//   or int8 values, K x N or N x K, dense or with padded rows (the padding holds 0xAA garbage
//   that must not be read as values), on the path the test run implies;
// - the GEMM is within the dequantization's rounding (reference::qd8_dequant_bound) of the
//   exact QD8 result on the same quantized activations and the weights widened to int8, i.e.
//   QD8QC4W == QD8 with int8 weights in -8..7; and within the quantization error of the float
//   GEMM of the unquantized A. Covered: tails of the tile in M and N (around 2 VL) and in K
//   (odd and even depths, up to kQd8MaxK with the largest sums), every weight storage and
//   layout, extreme weights (all -8, all 7, alternating), f32 and f16 activations, f32 and f16
//   outputs, the float epilogue stages, either order of C, strides, no bias, guard pages, the
//   path taken, the ABI check, every SVL, FA64 off, SME off; the portable path forced on an
//   SME2 CPU;
// - activations packed once (gemm_pack_lhs) give C bit for bit as gemm() on A;
// - a row holding an infinity or a NaN gives a row of NaN;
// - every bad input of the QD8QC4W entry points, and weights packed for QD8 (int8) refused by
//   QD8QC4W and the other way round.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "harness/abi_check.hpp"
#include "harness/expectations.hpp"
#include "harness/guarded_buffer.hpp"
#include "reference/dynamic_quant.hpp"
#include "reference/gemm.hpp"
#include "sme2k/sme2k.hpp"
#include "testers/gemm_tester.hpp"
#include "testers/qd8_gemm_check.hpp"

namespace sme2k {
namespace test {
namespace {

// kScaled rows span 10^-4 .. 10^4 where A or C is f16 (C must not overflow), else 10^-30 ..
// 10^30.
template <class In, class Out>
constexpr int kDecades = std::is_same_v<In, f16> || std::is_same_v<Out, f16> ? 4 : 30;

/// Packs `w` (layout as given) with its scales and optional bias into a fresh guarded buffer.
Status pack_qc4w(const Int4Weights& w, RhsLayout layout, const float* bias, const float* scales,
                 size_t n, size_t k, GuardedBuffer* packed, size_t* bytes) {
  Status s;
  SME2K_EXPECT_ABI_PRESERVED(s = gemm_packed_rhs_size<QD8QC4W>(n, k, bytes));
  if (!s.ok()) return s;
  *packed = GuardedBuffer(*bytes, GuardSide::kEnd, kPackedAlignment);
  SME2K_EXPECT_ABI_PRESERVED(
      s = gemm_pack_rhs<QD8QC4W>(w.view(), layout, bias, scales, packed->data(), *bytes));
  return s;
}

TEST(Qc4wInt4View, ReadsTheNibblesTheTestWrites) {
  // The layout int4.hpp documents: low nibble = even index, two's complement.
  const uint8_t bytes[] = {0x8F, 0x70, 0xAA, 0x21};  // row 0: 2 bytes, then 1 byte of padding
  const Int4View v{bytes, 2, 4, 2, Int4Storage::kNibbles};
  EXPECT_EQ(v(0, 0), -1);
  EXPECT_EQ(v(0, 1), -8);
  EXPECT_EQ(v(0, 2), 0);
  EXPECT_EQ(v(0, 3), 7);
  EXPECT_EQ(v(1, 0), -6);  // 0xA
  EXPECT_EQ(v(1, 1), -6);
  EXPECT_EQ(v(1, 2), 1);
  EXPECT_EQ(v(1, 3), 2);
  // store_int4() writes what Int4View reads back, in both storages, padding or not.
  ValueStream r(3);
  for (Int4Storage storage : {Int4Storage::kNibbles, Int4Storage::kInt8}) {
    for (size_t pad : {size_t{0}, size_t{3}}) {
      const std::vector<int8_t> values = make_values(Weights::kRandom, 5, 6, r);
      const Int4Weights w = store_int4(values, 5, 6, storage, pad);
      for (size_t i = 0; i < 5; ++i) {
        for (size_t j = 0; j < 6; ++j) ASSERT_EQ(w.view()(i, j), values[i * 6 + j]);
      }
      EXPECT_TRUE(validate_int4(w.view(), "test").ok());
    }
  }
}

// The same values, held in either storage and either layout, with or without padding, pack to
// the same bytes (the whole buffer, header included).
TEST(Qc4wPackRhs, EveryStorageAndLayoutPacksTheSameBytes) {
  const size_t s = qd8_tile_step();
  ValueStream r(11);
  size_t compared = 0;
  for (size_t n : {size_t{1}, size_t{2}, size_t{3}, s - 1, s, s + 1, s + 2, 2 * s + 3}) {
    for (size_t k : {1, 2, 3, 4, 7, 8, 9, 16, 31, 33, 64}) {
      for (Weights wk :
           {Weights::kRandom, Weights::kAllMinus8, Weights::kAllPlus7, Weights::kAlternating}) {
        if (wk != Weights::kRandom && (k % 8 != 1 && k != 16)) continue;  // a few suffice
        SCOPED_TRACE(::testing::Message() << "N=" << n << " K=" << k << " w=" << weights_name(wk));
        const std::vector<int8_t> kxn = make_values(wk, k, n, r);
        const std::vector<int8_t> nxk = transpose(kxn, k, n);
        std::vector<float> bias(n), scales(n);
        for (float& x : bias) x = r.next();
        for (float& x : scales) x = 0.01f * (1.0f + static_cast<float>(r.below(50)));
        // The one every other must equal: K x N int8, dense.
        GuardedBuffer want;
        size_t bytes = 0;
        const Int4Weights base = store_int4(kxn, k, n, Int4Storage::kInt8, 0);
        Status st =
            pack_qc4w(base, RhsLayout::kKxN, bias.data(), scales.data(), n, k, &want, &bytes);
        ASSERT_TRUE(st.ok()) << st.message();
        for (RhsLayout layout : {RhsLayout::kKxN, RhsLayout::kNxK}) {
          const size_t rows = layout == RhsLayout::kKxN ? k : n;
          const size_t cols = layout == RhsLayout::kKxN ? n : k;
          const std::vector<int8_t>& values = layout == RhsLayout::kKxN ? kxn : nxk;
          for (Int4Storage storage : {Int4Storage::kNibbles, Int4Storage::kInt8}) {
            if (storage == Int4Storage::kNibbles && !nibbles_allowed(cols)) continue;
            for (size_t pad : {size_t{0}, size_t{1}, size_t{5}}) {
              SCOPED_TRACE(::testing::Message() << rhs_layout_name(layout) << " "
                                                << storage_name(storage) << " pad=" << pad);
              const Int4Weights w = store_int4(values, rows, cols, storage, pad);
              GuardedBuffer got;
              size_t got_bytes = 0;
              st = pack_qc4w(w, layout, bias.data(), scales.data(), n, k, &got, &got_bytes);
              ASSERT_TRUE(st.ok()) << st.message();
              ASSERT_EQ(got_bytes, bytes);
              ASSERT_EQ(std::memcmp(got.data(), want.data(), bytes), 0)
                  << "packed bytes differ from K x N int8 dense packing";
              ASSERT_TRUE(got.canary_intact() && w.bytes.canary_intact());
              ++compared;
            }
          }
        }
      }
    }
  }
  EXPECT_GT(compared, 100u);
}

// The padding between rows is never read as values: garbage there, or other garbage, packs the
// same (0xAA as int8 is -86, outside -8..7, and must not be refused either).
TEST(Qc4wPackRhs, PaddingBetweenRowsIsIgnored) {
  const size_t n = 6, k = 10;
  ValueStream r(5);
  const std::vector<int8_t> values = make_values(Weights::kRandom, k, n, r);
  std::vector<float> scales(n, 0.05f);
  for (Int4Storage storage : {Int4Storage::kNibbles, Int4Storage::kInt8}) {
    Int4Weights w = store_int4(values, k, n, storage, 4);
    GuardedBuffer first, second;
    size_t bytes = 0;
    Status st = pack_qc4w(w, RhsLayout::kKxN, nullptr, scales.data(), n, k, &first, &bytes);
    ASSERT_TRUE(st.ok()) << st.message();
    const size_t row_bytes = w.view().row_bytes();
    for (size_t i = 0; i + 1 < k; ++i) {
      for (size_t b = row_bytes; b < w.ld; ++b) w.bytes[i * w.ld + b] = 0x7F;
    }
    st = pack_qc4w(w, RhsLayout::kKxN, nullptr, scales.data(), n, k, &second, &bytes);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(std::memcmp(first.data(), second.data(), bytes), 0) << storage_name(storage);
  }
}

struct Qc4wCase {
  size_t m = 5, n = 6, k = 9;
  size_t lda = 0, ldc = 0;
  size_t b_pad = 0;  // bytes of 0xAA after every row of B
  RhsLayout layout = RhsLayout::kKxN;
  Int4Storage storage = Int4Storage::kNibbles;
  bool bias = true;
  Rows rows = Rows::kMixed;
  Weights weights = Weights::kRandom;
  Activation activation = Activation::kNone;
  bool affine = false, clamp = false, transposed = false;
  uint64_t seed = 1;

  std::string describe() const {
    char s[300];
    std::snprintf(s, sizeof s,
                  "M=%zu N=%zu K=%zu lda=%zu ldc=%zu b_pad=%zu %s %s bias=%d rows=%d w=%s act=%s "
                  "affine=%d clamp=%d transposed=%d seed=%llu",
                  m, n, k, lda, ldc, b_pad, rhs_layout_name(layout), storage_name(storage),
                  bias ? 1 : 0, static_cast<int>(rows), weights_name(weights),
                  activation_name(activation), affine ? 1 : 0, clamp ? 1 : 0, transposed ? 1 : 0,
                  static_cast<unsigned long long>(seed));
    return s;
  }
};

template <class In, class Out>
void check_qc4w(const Qc4wCase& t, std::optional<Path> expected = std::nullopt) {
  SCOPED_TRACE(t.describe() + " in=" + type_name<In>() + " out=" + type_name<Out>() +
               " svl=" + std::to_string(streaming_vector_bytes() * 8));
  const size_t lda = t.lda ? t.lda : t.k;
  const size_t b_rows = t.layout == RhsLayout::kKxN ? t.k : t.n;
  const size_t b_cols = t.layout == RhsLayout::kKxN ? t.n : t.k;
  ASSERT_TRUE(t.storage == Int4Storage::kInt8 || nibbles_allowed(b_cols)) << "bad test case";
  const size_t c_rows = t.transposed ? t.n : t.m, c_cols = t.transposed ? t.m : t.n;
  const size_t ldc = t.ldc ? t.ldc : c_cols;
  ValueStream r(t.seed);
  GuardedArray<In> a((t.m - 1) * lda + t.k);
  GuardedArray<float> bias(t.bias ? t.n : 0), w_scales(t.n), scale(t.n), shift(t.n);
  GuardedArray<Out> c((c_rows - 1) * ldc + c_cols);
  reference::Qd8GemmProblem p;
  p.m = t.m, p.n = t.n, p.k = t.k;
  p.a.resize(t.m * t.k);
  for (size_t i = 0; i < t.m; ++i) {
    for (size_t kk = 0; kk < t.k; ++kk) {
      a[i * lda + kk] = from_f32<In>(row_value(t.rows, r, i, kDecades<In, Out>));
      p.a[i * t.k + kk] = to_f32(a[i * lda + kk]);
    }
  }
  // The values, dense (the reference reads them as int8 weights), and as the caller holds them.
  const std::vector<int8_t> values = make_values(t.weights, b_rows, b_cols, r);
  const Int4Weights b = store_int4(values, b_rows, b_cols, t.storage, t.b_pad);
  for (float& x : bias) x = r.next() * 4.0f;
  for (float& x : w_scales) x = 0.01f * (1.0f + static_cast<float>(r.below(100)) / 25.0f);
  for (float& x : scale) x = 0.5f + r.next();
  for (float& x : shift) x = r.next();
  const Out sentinel = from_f32<Out>(77.0f);
  for (Out& x : c) x = sentinel;  // the gaps between rows must keep it

  size_t packed_bytes = 0;
  GuardedBuffer packed;
  Status s = pack_qc4w(b, t.layout, t.bias ? bias.data() : nullptr, w_scales.data(), t.n, t.k,
                       &packed, &packed_bytes);
  ASSERT_TRUE(s.ok()) << s.message();
  {  // The same values in the other storage (where nibbles can hold them) pack the same.
    const Int4Storage other =
        t.storage == Int4Storage::kInt8 ? Int4Storage::kNibbles : Int4Storage::kInt8;
    if (other == Int4Storage::kInt8 || nibbles_allowed(b_cols)) {
      const Int4Weights b2 = store_int4(values, b_rows, b_cols, other, t.b_pad + 1);
      GuardedBuffer packed2;
      size_t bytes2 = 0;
      s = pack_qc4w(b2, t.layout, t.bias ? bias.data() : nullptr, w_scales.data(), t.n, t.k,
                    &packed2, &bytes2);
      ASSERT_TRUE(s.ok()) << s.message();
      ASSERT_EQ(bytes2, packed_bytes);
      EXPECT_EQ(std::memcmp(packed.data(), packed2.data(), packed_bytes), 0)
          << storage_name(t.storage) << " and " << storage_name(other)
          << " storage of the same values pack differently";
    }
  }
  const FloatStages stages{t.activation, t.affine ? scale.data() : nullptr,
                           t.affine ? shift.data() : nullptr, t.clamp};
  const GemmEpilogue e = make_epilogue(stages, t.transposed);
  size_t ws = 0;
  SME2K_EXPECT_ABI_PRESERVED(s = gemm_workspace_size<QD8QC4W>(t.m, t.n, t.k, &ws, e.order));
  ASSERT_TRUE(s.ok()) << s.message();
  GuardedBuffer workspace(ws);
  SME2K_EXPECT_ABI_PRESERVED(s = gemm<QD8QC4W, Out>(MatrixView<const In>{a.data(), t.m, t.k, lda},
                                                    packed.data(), packed_bytes,
                                                    MatrixView<Out>{c.data(), c_rows, c_cols, ldc},
                                                    e, workspace.data(), ws));
  ASSERT_TRUE(s.ok()) << s.message();
  const Path used = last_used_path();
  if (!expected) expected = expected_path();
  if (expected) EXPECT_STREQ(path_name(used), path_name(*expected));
  EXPECT_TRUE(a.canary_intact() && b.bytes.canary_intact() && c.canary_intact() &&
              packed.canary_intact() && workspace.canary_intact());

  check_packed_lhs_gives_the_same<QD8QC4W, In, Out>(MatrixView<const In>{a.data(), t.m, t.k, lda},
                                                    packed.data(), packed_bytes, c, c_rows, c_cols,
                                                    ldc, e, ws, used);

  // The reference: QD8 with the 4-bit values as int8 weights.
  p.b = values.data(), p.ldb = b_cols, p.b_layout = t.layout;
  p.w_scales = w_scales.data();
  p.bias = t.bias ? bias.data() : nullptr;
  const std::vector<reference::QuantizedRow> rows = reference::quantize_rows(p);
  check_qd8_c(c, t.m, t.n, ldc, t.transposed, t.k, stages, [&](size_t i, size_t j) {
    const reference::Qd8Element want = reference::qd8_at(p, rows[i], i, j);
    return Qd8Want{want.value, want.magnitude, want.float_value, want.quantization_error,
                   reference::qd8_dequant_bound(want.magnitude)};
  });
}

// M and N around the tile (2 VL), each once with nibbles (in the layout whose rows are even)
// and once with int8 values in the other layout; K odd where the layout allows it.
TEST(Qc4wGemm, TailsInMAndN) {
  const size_t s = qd8_tile_step();
  std::vector<size_t> sizes;
  for (size_t v : {size_t{1}, s / 2 + 1, s - 1, s, s + 1}) {
    if (sizes.empty() || v > sizes.back()) sizes.push_back(v);
  }
  for (size_t m : sizes) {
    for (size_t n : sizes) {
      Qc4wCase t;
      t.m = m, t.n = n, t.seed = m * 1000 + n;
      // Nibbles: rows of N values (K x N) when N is even, else rows of K values (N x K).
      t.storage = Int4Storage::kNibbles;
      t.layout = n % 2 == 0 ? RhsLayout::kKxN : RhsLayout::kNxK;
      t.k = n % 2 == 0 ? 11 : 12;
      check_qc4w<float, float>(t);
      t.storage = Int4Storage::kInt8;
      t.layout = n % 2 == 0 ? RhsLayout::kNxK : RhsLayout::kKxN;
      t.k = 13;
      t.seed += 7;
      check_qc4w<f16, float>(t);
    }
  }
}

TEST(Qc4wGemm, DepthsOddAndEven) {
  const size_t s = qd8_tile_step();
  const size_t m = s / 2 + 3;
  const size_t n_even = s / 2 + 2, n_odd = s / 2 + 1;  // s / 2 is even
  for (size_t k : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 300}) {
    Qc4wCase t;
    t.m = m, t.k = k, t.seed = k;
    t.n = n_even, t.layout = RhsLayout::kKxN, t.storage = Int4Storage::kNibbles;
    check_qc4w<float, float>(t);
    t.n = n_odd, t.layout = RhsLayout::kNxK, t.storage = Int4Storage::kInt8;
    check_qc4w<f16, float>(t);
    t.n = n_odd, t.layout = RhsLayout::kKxN, t.storage = Int4Storage::kInt8;
    check_qc4w<float, f16>(t);
    if (k % 2 == 0) {
      t.n = n_odd, t.layout = RhsLayout::kNxK, t.storage = Int4Storage::kNibbles;
      check_qc4w<f16, f16>(t);
    }
  }
}

TEST(Qc4wGemm, StoragesLayoutsPaddingAndExtremeWeights) {
  const size_t s = qd8_tile_step();
  uint64_t seed = 100;
  for (Int4Storage storage : {Int4Storage::kNibbles, Int4Storage::kInt8}) {
    for (RhsLayout layout : {RhsLayout::kKxN, RhsLayout::kNxK}) {
      for (Weights w :
           {Weights::kRandom, Weights::kAllMinus8, Weights::kAllPlus7, Weights::kAlternating}) {
        for (size_t pad : {size_t{0}, size_t{3}}) {
          Qc4wCase t;
          t.m = s / 2 + 1, t.n = s + 2, t.k = 26;
          t.storage = storage, t.layout = layout, t.weights = w, t.b_pad = pad;
          t.rows = static_cast<Rows>(seed % 5);
          t.seed = seed++;
          check_qc4w<float, float>(t);
        }
      }
    }
  }
  // Extreme weights against extreme rows, deeper.
  for (Weights w : {Weights::kAllMinus8, Weights::kAllPlus7, Weights::kAlternating}) {
    for (Rows rows : {Rows::kPositive, Rows::kNegative, Rows::kZero, Rows::kScaled}) {
      Qc4wCase t;
      t.m = 9, t.n = 10, t.k = 67, t.weights = w, t.rows = rows, t.seed = seed++;
      check_qc4w<float, float>(t);
    }
  }
}

// The deepest K the weights allow, with the weights and rows that make the accumulators and
// the column sums largest (|q - zp| = 255, |w| = 8).
TEST(Qc4wGemm, DeepestKWithExtremeValues) {
  // K x N nibbles, rows >= 0: the most negative sums.
  Qc4wCase t;
  t.m = 3, t.n = 4, t.k = kQd8MaxK, t.weights = Weights::kAllMinus8, t.rows = Rows::kPositive;
  check_qc4w<float, float>(t);
  // N x K nibbles (K even), rows <= 0: the most positive sums.
  t.m = 2, t.n = 3, t.k = kQd8MaxK - 1, t.layout = RhsLayout::kNxK, t.rows = Rows::kNegative;
  t.seed = 2;
  check_qc4w<f16, float>(t);
}

TEST(Qc4wGemm, InputAndOutputTypes) {
  const size_t s = qd8_tile_step();
  Qc4wCase t;
  t.m = s + 2, t.n = s + 4, t.k = 37;
  check_qc4w<float, float>(t);
  check_qc4w<float, f16>(t);
  check_qc4w<f16, float>(t);
  check_qc4w<f16, f16>(t);
  t.layout = RhsLayout::kNxK, t.storage = Int4Storage::kInt8, t.rows = Rows::kScaled;
  check_qc4w<float, f16>(t);
  check_qc4w<f16, f16>(t);
}

TEST(Qc4wGemm, EpilogueStagesOrderAndStrides) {
  const size_t s = qd8_tile_step();
  Qc4wCase t;
  t.m = s + 1, t.n = s + 2, t.k = 21;
  for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kRelu6,
                         Activation::kHardSwish, Activation::kGelu, Activation::kSilu}) {
    Qc4wCase u = t;
    u.activation = act;
    check_qc4w<float, float>(u);
    u.affine = true;
    check_qc4w<f16, float>(u);
    u.clamp = true;
    check_qc4w<float, f16>(u);
  }
  Qc4wCase u = t;
  u.clamp = true;
  check_qc4w<float, float>(u);
  u = t;
  u.transposed = true;
  check_qc4w<float, float>(u);
  u.ldc = t.m + 5;
  u.activation = Activation::kRelu, u.affine = true, u.clamp = true;
  check_qc4w<f16, f16>(u);
  u = t;
  u.lda = 30, u.b_pad = 9, u.ldc = t.n + 4;
  check_qc4w<float, float>(u);
  u.layout = RhsLayout::kNxK;
  u.storage = Int4Storage::kInt8;  // K = 21: rows of nibbles would be odd
  u.b_pad = 2;
  u.bias = false;
  check_qc4w<float, float>(u);
  u.transposed = true, u.ldc = t.m + 3;
  check_qc4w<f16, f16>(u);
}

TEST(Qc4wGemm, RandomShapes) {
  ValueStream r(43);
  for (int i = 0; i < 40; ++i) {
    Qc4wCase t;
    t.m = 1 + r.below(70), t.n = 1 + r.below(70), t.k = 1 + r.below(90);
    t.layout = r.below(2) ? RhsLayout::kKxN : RhsLayout::kNxK;
    const size_t b_cols = t.layout == RhsLayout::kKxN ? t.n : t.k;
    t.storage =
        nibbles_allowed(b_cols) && r.below(4) != 0 ? Int4Storage::kNibbles : Int4Storage::kInt8;
    t.b_pad = r.below(3);
    t.bias = r.below(4) != 0;
    t.rows = static_cast<Rows>(r.below(5));
    t.weights = static_cast<Weights>(r.below(4));
    t.transposed = r.below(5) == 0;
    t.activation = r.below(3) == 0 ? Activation::kRelu : Activation::kNone;
    t.seed = static_cast<uint64_t>(i);
    switch (r.below(4)) {
      case 0: check_qc4w<float, float>(t); break;
      case 1: check_qc4w<float, f16>(t); break;
      case 2: check_qc4w<f16, float>(t); break;
      default: check_qc4w<f16, f16>(t); break;
    }
  }
}

TEST(Qc4wGemm, PortablePathToo) {
  const Path natural = select_path();
  // Weights packed on the natural path, for the check below.
  const size_t m = 6, n = 8, k = 10;
  std::vector<float> a(m * k, 0.5f), c(m * n), scales(n, 0.1f);
  ValueStream r(9);
  const Int4Weights w =
      store_int4(make_values(Weights::kRandom, k, n, r), k, n, Int4Storage::kNibbles, 0);
  GuardedBuffer natural_packed;
  size_t natural_bytes = 0;
  ASSERT_TRUE(
      pack_qc4w(w, RhsLayout::kKxN, nullptr, scales.data(), n, k, &natural_packed, &natural_bytes)
          .ok());

  testing::ScopedForcePath force(Path::kPortable);
  Qc4wCase t;
  t.m = 13, t.n = 18, t.k = 19;
  check_qc4w<float, float>(t, Path::kPortable);
  t.transposed = true, t.activation = Activation::kRelu;
  check_qc4w<f16, f16>(t, Path::kPortable);
  t = Qc4wCase{};
  t.m = 7, t.n = 5, t.k = 33, t.layout = RhsLayout::kNxK, t.storage = Int4Storage::kInt8;
  t.b_pad = 3, t.bias = false, t.affine = true, t.clamp = true;
  check_qc4w<float, f16>(t, Path::kPortable);
  t.k = 34, t.storage = Int4Storage::kNibbles, t.weights = Weights::kAlternating;
  check_qc4w<f16, float>(t, Path::kPortable);

  // Weights packed on another path are refused with a status, not misread.
  const Status s = gemm<QD8QC4W>(dense_matrix<const float>(a.data(), m, k), natural_packed.data(),
                                 natural_bytes, dense_matrix(c.data(), m, n));
  if (natural == Path::kPortable) {
    EXPECT_TRUE(s.ok()) << s.message();
  } else {
    EXPECT_EQ(s.code(), StatusCode::kPackedMismatch) << s.message();
  }
}

TEST(Qc4wGemm, RowsWithInfinityOrNanGiveNan) {
  const size_t m = 3, n = 6, k = 7;
  std::vector<float> a(m * k, 0.25f), w(n, 0.01f), c(m * n);
  std::vector<int8_t> b(k * n, 3);
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8QC4W>(n, k, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  ASSERT_TRUE(gemm_pack_rhs<QD8QC4W>(Int4View{b.data(), k, n, n, Int4Storage::kInt8},
                                     RhsLayout::kKxN, nullptr, w.data(), packed.data(), bytes)
                  .ok());
  for (float bad :
       {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    a[1 * k + 4] = bad;
    ASSERT_TRUE(gemm<QD8QC4W>(dense_matrix<const float>(a.data(), m, k), packed.data(), bytes,
                              dense_matrix(c.data(), m, n))
                    .ok());
    for (size_t j = 0; j < n; ++j) {
      EXPECT_NEAR(c[j], 0.25 * 3 * 7 * 0.01, 1e-6);
      EXPECT_NEAR(c[2 * n + j], 0.25 * 3 * 7 * 0.01, 1e-6);
      EXPECT_TRUE(std::isnan(c[n + j])) << "column " << j;
    }
  }
}

TEST(Qc4wGemmBadInput, PackingRefusedWithAStatus) {
  const size_t n = 6, k = 8;
  std::vector<float> w(n, 0.1f);
  std::vector<int8_t> values(k * n, 1);
  std::vector<uint8_t> nibbles(k * n / 2, 0x11);
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8QC4W>(n, k, &bytes).ok());
  EXPECT_EQ(gemm_packed_rhs_size<QD8QC4W>(n, k, nullptr).code(), StatusCode::kNullPointer);
  EXPECT_EQ(gemm_packed_rhs_size<QD8QC4W>(0, k, &bytes).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(gemm_packed_rhs_size<QD8QC4W>(n, 0, &bytes).code(), StatusCode::kInvalidArgument);
  std::vector<uint8_t> packed_storage(bytes + 8);
  uint8_t* const packed = packed_storage.data();
  const Int4View good_int8{values.data(), k, n, n, Int4Storage::kInt8};
  const Int4View good_nibbles{nibbles.data(), k, n, n / 2, Int4Storage::kNibbles};
  const auto pack = [&](const Int4View& b, RhsLayout layout = RhsLayout::kKxN,
                        const float* scales = nullptr, size_t packed_bytes = 0) {
    return gemm_pack_rhs<QD8QC4W>(b, layout, nullptr, scales ? scales : w.data(), packed,
                                  packed_bytes ? packed_bytes : bytes);
  };
  ASSERT_TRUE(pack(good_int8).ok());
  ASSERT_TRUE(pack(good_nibbles).ok());
  ASSERT_TRUE(pack({values.data(), n, k, k, Int4Storage::kInt8}, RhsLayout::kNxK).ok());

  // Rows of nibbles must hold an even number of values.
  {
    std::vector<float> w7(7, 0.1f);
    std::vector<uint8_t> odd(64, 0x11);
    size_t b7 = 0;
    ASSERT_TRUE(gemm_packed_rhs_size<QD8QC4W>(n, 7, &b7).ok());
    std::vector<uint8_t> p7(b7);
    // N x K with K = 7.
    EXPECT_EQ(gemm_pack_rhs<QD8QC4W>(Int4View{odd.data(), n, 7, 4, Int4Storage::kNibbles},
                                     RhsLayout::kNxK, nullptr, w.data(), p7.data(), b7)
                  .code(),
              StatusCode::kInvalidArgument);
    // K x N with N = 7.
    ASSERT_TRUE(gemm_packed_rhs_size<QD8QC4W>(7, k, &b7).ok());
    p7.resize(b7);
    EXPECT_EQ(gemm_pack_rhs<QD8QC4W>(Int4View{odd.data(), k, 7, 4, Int4Storage::kNibbles},
                                     RhsLayout::kKxN, nullptr, w7.data(), p7.data(), b7)
                  .code(),
              StatusCode::kInvalidArgument);
    // The same odd rows as int8 values are fine.
    std::vector<int8_t> v7(k * 7, -8);
    EXPECT_TRUE(gemm_pack_rhs<QD8QC4W>(Int4View{v7.data(), k, 7, 7, Int4Storage::kInt8},
                                       RhsLayout::kKxN, nullptr, w7.data(), p7.data(), b7)
                    .ok());
  }
  // int8 values outside -8..7, anywhere.
  for (int bad : {8, -9, 127, -128, 16}) {
    for (size_t at : {size_t{0}, k * n / 2 + 1, k * n - 1}) {
      std::vector<int8_t> v = values;
      v[at] = static_cast<int8_t>(bad);
      EXPECT_EQ(pack({v.data(), k, n, n, Int4Storage::kInt8}).code(), StatusCode::kInvalidArgument)
          << "value " << bad << " at " << at;
    }
  }
  {  // -8 and 7 themselves are fine.
    std::vector<int8_t> v = values;
    v[0] = -8, v[1] = 7;
    EXPECT_TRUE(pack({v.data(), k, n, n, Int4Storage::kInt8}).ok());
  }
  // Null data, empty shapes, short ld, unknown storage, unknown layout.
  EXPECT_EQ(pack({nullptr, k, n, n, Int4Storage::kInt8}).code(), StatusCode::kNullPointer);
  EXPECT_EQ(pack({nullptr, k, n, n / 2, Int4Storage::kNibbles}).code(), StatusCode::kNullPointer);
  EXPECT_EQ(pack({values.data(), 0, n, n, Int4Storage::kInt8}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(pack({values.data(), k, 0, n, Int4Storage::kInt8}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(pack({values.data(), k, n, n - 1, Int4Storage::kInt8}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(pack({nibbles.data(), k, n, n / 2 - 1, Int4Storage::kNibbles}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(pack({values.data(), k, n, n, static_cast<Int4Storage>(7)}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(pack({values.data(), k, n, n, static_cast<Int4Storage>(0)}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(pack(good_int8, static_cast<RhsLayout>(9)).code(), StatusCode::kInvalidArgument);
  // Scales.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float bad : {0.0f, -0.0f, -1.0f, nan, std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> ws = w;
    ws[n - 1] = bad;
    EXPECT_EQ(pack(good_nibbles, RhsLayout::kKxN, ws.data()).code(), StatusCode::kInvalidArgument)
        << "scale " << bad;
  }
  EXPECT_EQ(
      gemm_pack_rhs<QD8QC4W>(good_nibbles, RhsLayout::kKxN, nullptr, nullptr, packed, bytes).code(),
      StatusCode::kNullPointer);
  // The packed buffer: short, null, misaligned, overlapping B.
  EXPECT_EQ(pack(good_nibbles, RhsLayout::kKxN, nullptr, bytes - 1).code(),
            StatusCode::kBufferTooSmall);
  EXPECT_EQ(gemm_pack_rhs<QD8QC4W>(good_nibbles, RhsLayout::kKxN, nullptr, w.data(), nullptr, bytes)
                .code(),
            StatusCode::kNullPointer);
  EXPECT_EQ(
      gemm_pack_rhs<QD8QC4W>(good_nibbles, RhsLayout::kKxN, nullptr, w.data(), packed + 1, bytes)
          .code(),
      StatusCode::kInvalidArgument);
  {
    std::vector<uint8_t> both(bytes + nibbles.size() + 64);
    auto* p = both.data() + (4 - reinterpret_cast<uintptr_t>(both.data()) % 4) % 4;
    std::memcpy(p + 8, nibbles.data(), nibbles.size());
    EXPECT_EQ(gemm_pack_rhs<QD8QC4W>(Int4View{p + 8, k, n, n / 2, Int4Storage::kNibbles},
                                     RhsLayout::kKxN, nullptr, w.data(), p, bytes)
                  .code(),
              StatusCode::kInvalidArgument)
        << "packed buffer overlapping B";
  }
  {  // K beyond the QD8 limit.
    const size_t big_k = kQd8MaxK + 1;
    std::vector<uint8_t> tall(big_k, 0x11);  // K x 2 nibbles: one byte a row
    std::vector<float> w2(2, 0.1f);
    size_t big_bytes = 0;
    ASSERT_TRUE(gemm_packed_rhs_size<QD8QC4W>(2, big_k, &big_bytes).ok());
    std::vector<uint8_t> big(big_bytes);
    EXPECT_EQ(gemm_pack_rhs<QD8QC4W>(Int4View{tall.data(), big_k, 2, 1, Int4Storage::kNibbles},
                                     RhsLayout::kKxN, nullptr, w2.data(), big.data(), big_bytes)
                  .code(),
              StatusCode::kInvalidArgument);
  }
}

TEST(Qc4wGemmBadInput, MultiplyRefusedWithAStatus) {
  const size_t m = 4, n = 6, k = 8;
  std::vector<float> a(m * k, 1.0f), c(m * n), w(n, 0.1f);
  std::vector<int8_t> values(k * n, 1);
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8QC4W>(n, k, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  ASSERT_TRUE(gemm_pack_rhs<QD8QC4W>(Int4View{values.data(), k, n, n, Int4Storage::kInt8},
                                     RhsLayout::kKxN, nullptr, w.data(), packed.data(), bytes)
                  .ok());
  const auto av = dense_matrix<const float>(a.data(), m, k);
  const auto cv = dense_matrix(c.data(), m, n);
  ASSERT_TRUE(gemm<QD8QC4W>(av, packed.data(), bytes, cv).ok());
  for (float x : c) EXPECT_NEAR(x, 0.8, 1e-5);  // 1 * 1 * 8 * 0.1
  // Short buffers, null pointers, mismatched shapes.
  EXPECT_EQ(gemm<QD8QC4W>(av, packed.data(), bytes - 1, cv).code(), StatusCode::kBufferTooSmall);
  EXPECT_EQ(gemm<QD8QC4W>(av, nullptr, bytes, cv).code(), StatusCode::kNullPointer);
  EXPECT_EQ(
      gemm<QD8QC4W>(MatrixView<const float>{nullptr, m, k, k}, packed.data(), bytes, cv).code(),
      StatusCode::kNullPointer);
  EXPECT_EQ(gemm<QD8QC4W>(MatrixView<const float>{a.data(), m, k - 2, k}, packed.data(), bytes, cv)
                .code(),
            StatusCode::kPackedMismatch);  // K
  EXPECT_EQ(
      gemm<QD8QC4W>(av, packed.data(), bytes, MatrixView<float>{c.data(), m, n - 1, n}).code(),
      StatusCode::kPackedMismatch);  // N
  size_t ws_bytes = 0;
  ASSERT_TRUE(gemm_workspace_size<QD8QC4W>(m, n, k, &ws_bytes).ok());
  EXPECT_EQ(gemm_workspace_size<QD8QC4W>(m, n, k, nullptr).code(), StatusCode::kNullPointer);
  if (ws_bytes > 0) {
    std::vector<uint8_t> ws(ws_bytes);
    EXPECT_TRUE(gemm<QD8QC4W>(av, packed.data(), bytes, cv, {}, ws.data(), ws_bytes).ok());
    EXPECT_EQ(gemm<QD8QC4W>(av, packed.data(), bytes, cv, {}, ws.data(), ws_bytes - 1).code(),
              StatusCode::kBufferTooSmall);
  }
  // QD8 (int8) weights are not QD8QC4W weights, and the other way round.
  size_t q_bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8>(n, k, &q_bytes).ok());
  std::vector<uint8_t> qd8_packed(q_bytes);
  ASSERT_TRUE(gemm_pack_rhs<QD8>(dense_matrix<const int8_t>(values.data(), k, n), RhsLayout::kKxN,
                                 nullptr, w.data(), qd8_packed.data(), q_bytes)
                  .ok());
  ASSERT_TRUE(gemm<QD8>(av, qd8_packed.data(), q_bytes, cv).ok());
  EXPECT_EQ(gemm<QD8QC4W>(av, qd8_packed.data(), q_bytes, cv).code(), StatusCode::kPackedMismatch);
  EXPECT_EQ(gemm<QD8>(av, packed.data(), bytes, cv).code(), StatusCode::kPackedMismatch);
  // Nor F32 weights.
  std::vector<float> fb(k * n, 1.0f);
  size_t f_bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<F32>(n, k, &f_bytes).ok());
  std::vector<uint8_t> f_packed(f_bytes);
  ASSERT_TRUE(gemm_pack_rhs<F32>(dense_matrix<const float>(fb.data(), k, n), RhsLayout::kKxN,
                                 nullptr, f_packed.data(), f_bytes)
                  .ok());
  EXPECT_EQ(gemm<QD8QC4W>(av, f_packed.data(), f_bytes, cv).code(), StatusCode::kPackedMismatch);
  EXPECT_EQ(gemm<F32>(av, packed.data(), bytes, cv).code(), StatusCode::kPackedMismatch);
}

TEST(Qc4wPackedLhsBadInput, RefusedWithAStatus) {
  const size_t m = 6, n = 6, k = 8;  // M = N: swapped buffers pass the shape checks
  std::vector<float> a(m * k, 1.0f), c(m * n), w(n, 0.1f);
  std::vector<uint8_t> nibbles(k * n / 2, 0x11);
  size_t w_bytes = 0, a_bytes = 0, ws_bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8QC4W>(n, k, &w_bytes).ok());
  ASSERT_TRUE(gemm_packed_lhs_size<QD8QC4W>(m, k, &a_bytes).ok());
  ASSERT_TRUE(gemm_workspace_size<QD8QC4W>(m, n, k, &ws_bytes).ok());
  std::vector<uint8_t> weights(w_bytes), ws(ws_bytes + 1);
  alignas(64) static uint8_t packed_a[1 << 16];
  ASSERT_LE(a_bytes, sizeof packed_a);
  ASSERT_TRUE(gemm_pack_rhs<QD8QC4W>(Int4View{nibbles.data(), k, n, n / 2, Int4Storage::kNibbles},
                                     RhsLayout::kKxN, nullptr, w.data(), weights.data(), w_bytes)
                  .ok());
  const auto av = dense_matrix<const float>(a.data(), m, k);
  const auto cv = dense_matrix(c.data(), m, n);
  EXPECT_EQ(gemm_packed_lhs_size<QD8QC4W>(0, k, &a_bytes).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(gemm_packed_lhs_size<QD8QC4W>(m, k, nullptr).code(), StatusCode::kNullPointer);
  EXPECT_EQ(gemm_pack_lhs<QD8QC4W>(av, nullptr, a_bytes).code(), StatusCode::kNullPointer);
  EXPECT_EQ(gemm_pack_lhs<QD8QC4W>(av, packed_a, a_bytes - 1).code(), StatusCode::kBufferTooSmall);
  ASSERT_TRUE(gemm_pack_lhs<QD8QC4W>(av, packed_a, a_bytes).ok());
  const PackedLhs good{packed_a, a_bytes};
  ASSERT_TRUE(gemm<QD8QC4W>(good, weights.data(), w_bytes, cv, {}, ws.data(), ws_bytes).ok());
  for (float x : c) EXPECT_NEAR(x, 0.8, 1e-5);
  EXPECT_EQ(gemm<QD8QC4W>(PackedLhs{packed_a, a_bytes - 1}, weights.data(), w_bytes, cv, {},
                          ws.data(), ws_bytes)
                .code(),
            StatusCode::kBufferTooSmall);
  EXPECT_EQ(gemm<QD8QC4W>(PackedLhs{weights.data(), w_bytes}, weights.data(), w_bytes, cv, {},
                          ws.data(), ws_bytes)
                .code(),
            StatusCode::kPackedMismatch);  // weights where activations belong
  EXPECT_EQ(gemm<QD8QC4W>(good, packed_a, a_bytes, cv, {}, ws.data(), ws_bytes).code(),
            StatusCode::kPackedMismatch);  // and activations where weights belong
  {                                        // K of the activations is not K of the weights.
    size_t short_bytes = 0;
    ASSERT_TRUE(gemm_packed_lhs_size<QD8QC4W>(m, k - 1, &short_bytes).ok());
    std::vector<uint8_t> short_a(short_bytes);
    ASSERT_TRUE(gemm_pack_lhs<QD8QC4W>(MatrixView<const float>{a.data(), m, k - 1, k},
                                       short_a.data(), short_bytes)
                    .ok());
    EXPECT_EQ(gemm<QD8QC4W>(PackedLhs{short_a.data(), short_bytes}, weights.data(), w_bytes, cv, {},
                            ws.data(), ws_bytes)
                  .code(),
              StatusCode::kPackedMismatch);
  }
  {  // QD8 weights with QD8QC4W activations.
    std::vector<int8_t> values(k * n, 1);
    size_t q_bytes = 0;
    ASSERT_TRUE(gemm_packed_rhs_size<QD8>(n, k, &q_bytes).ok());
    std::vector<uint8_t> qd8_packed(q_bytes);
    ASSERT_TRUE(gemm_pack_rhs<QD8>(dense_matrix<const int8_t>(values.data(), k, n), RhsLayout::kKxN,
                                   nullptr, w.data(), qd8_packed.data(), q_bytes)
                    .ok());
    EXPECT_EQ(gemm<QD8QC4W>(good, qd8_packed.data(), q_bytes, cv, {}, ws.data(), ws_bytes).code(),
              StatusCode::kPackedMismatch);
  }
}

}  // namespace
}  // namespace test
}  // namespace sme2k
