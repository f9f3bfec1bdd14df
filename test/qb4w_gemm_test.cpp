// QD8 (activations quantized per row at run time) x QB4W (4-bit weights, -8..7, with one scale
// per output channel and block of `block` consecutive k; block a multiple of 32) GEMM:
// - the GEMM is within the f32 rounding of the exact result computed in double from the same
//   quantized activations: C[i][n] = sum_k s_i (q_ik - zp_i) * w[k][n] t[n][k / block] +
//   bias[n], bound reference::f32_gemm_error_bound(K + 2, magnitude) (one rounding of the
//   dequantized activation, one of the scaled weight, K + 1 of the accumulation), then the
//   float epilogue stages (reference::finish / f32_epilogue_bound) and f16 rounding; and within
//   the quantization error of the float GEMM of the unquantized A. Covered: tails of the tile
//   in M and N (around 2 VL), K in {32, 64, 96, 128, 256} with every block in {32, 64, 128}
//   that divides it, both layouts and both storages (nibbles, int8 values) with padded rows,
//   extreme weights, f32 and bf16 scales (moderate, tiny ~1e-6, large ~1e3, and spread over
//   nine decades within one channel), scale rows with padding (ld > K / block) that is never
//   read, f32 and f16 activations, f32 and f16 outputs, the float epilogue stages, either order
//   of C, strides, no bias, guard pages, the path taken, the ABI check, the allocating overload
//   (bit for bit as the one with a workspace); the portable path forced on an SME2 CPU;
// - the same values in either storage and either layout pack to the same bytes;
// - ggml Q4_0 blocks packed by gemm_pack_rhs_q4_0 give, bit for bit, the GEMM of the same
//   weights and scales (the f16 d as f32) packed by gemm_pack_rhs with block 32; a hand-made
//   block is read as llama.cpp stores it (low nibbles = weights 0..15, high = 16..31, minus 8);
// - a row holding an infinity or a NaN gives a row of NaN;
// - every bad input of the QD8QB4W entry points (block, K, scales, storage, Q4_0 blocks,
//   buffers), and weights packed for QD8QC4W refused by QD8QB4W and the other way round.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
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

// kScaled rows span 10^-2 .. 10^2 where C is f16 (C must not overflow: K up to 256, weight
// scales up to 0.05), 10^-4 .. 10^4 where A is f16, else 10^-30 .. 10^30.
template <class In, class Out>
constexpr int kDecades = std::is_same_v<Out, f16>  ? 2
                         : std::is_same_v<In, f16> ? 4
                                                   : 30;

// ---- Block scales -------------------------------------------------------------------------

/// bf16 as the library takes it: the top 16 bits of an f32 (here truncated).
uint16_t bf16_bits(float x) {
  uint32_t u = 0;
  std::memcpy(&u, &x, sizeof u);
  return static_cast<uint16_t>(u >> 16);
}

float bf16_value(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float x = 0;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

const char* scale_type_name(ScaleType t) {
  switch (t) {
    case ScaleType::kF32: return "f32";
    case ScaleType::kBF16: return "bf16";
  }
  return "?";
}

// The magnitudes of the weight scales.
enum class ScaleKind : uint8_t {
  kModerate,  // 0.01 .. 0.05
  kTiny,      // 1e-6 .. 5e-6
  kLarge,     // 1e3 .. 5e3 (f32 output only)
  kSpread,    // 10^-6 .. 5 * 10^3, each block its own decade (f32 output only)
};

const char* scale_kind_name(ScaleKind k) {
  switch (k) {
    case ScaleKind::kModerate: return "moderate";
    case ScaleKind::kTiny: return "tiny";
    case ScaleKind::kLarge: return "large";
    case ScaleKind::kSpread: return "spread";
  }
  return "?";
}

float scale_value(ScaleKind kind, ValueStream& r) {
  const float mantissa = 1.0f + static_cast<float>(r.below(100)) / 25.0f;
  switch (kind) {
    case ScaleKind::kModerate: return 0.01f * mantissa;
    case ScaleKind::kTiny: return 1e-6f * mantissa;
    case ScaleKind::kLarge: return 1e3f * mantissa;
    case ScaleKind::kSpread:
      return std::pow(10.0f, static_cast<float>(static_cast<int>(r.below(10)) - 6)) * mantissa;
  }
  return mantissa;
}

/// Scales as a caller holds them: N rows of K / block scales (f32 or bf16), each row `ld`
/// elements apart, the padding after each row holding `poison` (never to be read), the last
/// row flush against a guard page; and their exact values.
struct Qb4wScales {
  ScaleType type = ScaleType::kF32;
  size_t n = 0, blocks = 0, block = 32, ld = 0;
  GuardedArray<float> f32;
  GuardedArray<uint16_t> bf16;
  std::vector<double> value;  // (n, blocks) dense

  BlockScales view() const {
    BlockScales s;
    s.data = type == ScaleType::kF32 ? static_cast<const void*>(f32.data())
                                     : static_cast<const void*>(bf16.data());
    s.type = type;
    s.block = block;
    s.ld = ld;
    return s;
  }
  double at(size_t j, size_t b) const { return value[j * blocks + b]; }
};

/// `as_f16`: each scale an f16 value too (for Q4_0's d), the smallest f16 subnormal at least.
Qb4wScales make_scales(ScaleType type, ScaleKind kind, size_t n, size_t k, size_t block, size_t pad,
                       float poison, ValueStream& r, bool as_f16 = false) {
  Qb4wScales s;
  s.type = type, s.n = n, s.blocks = k / block, s.block = block, s.ld = s.blocks + pad;
  const size_t count = (n - 1) * s.ld + s.blocks;
  if (type == ScaleType::kF32) {
    s.f32 = GuardedArray<float>(count);
    s.f32.fill(poison);
  } else {
    s.bf16 = GuardedArray<uint16_t>(count);
    s.bf16.fill(bf16_bits(poison));
  }
  s.value.resize(n * s.blocks);
  for (size_t j = 0; j < n; ++j) {
    for (size_t b = 0; b < s.blocks; ++b) {
      float x = scale_value(kind, r);
      if (as_f16) {
        x = to_f32(to_f16(x));
        if (!(x > 0.0f)) x = f16_bits_to_f32(1);
      }
      if (type == ScaleType::kF32) {
        s.f32[j * s.ld + b] = x;
        s.value[j * s.blocks + b] = x;
      } else {
        const uint16_t bits = bf16_bits(x);
        s.bf16[j * s.ld + b] = bits;
        s.value[j * s.blocks + b] = bf16_value(bits);
      }
    }
  }
  return s;
}

bool scales_intact(const Qb4wScales& s) {
  return s.type == ScaleType::kF32 ? s.f32.canary_intact() : s.bf16.canary_intact();
}

// ---- Q4_0 ---------------------------------------------------------------------------------

constexpr size_t kBytesPerQ4_0Block = 18;

/// ggml Q4_0 blocks of the N x K weights w(j, kk) (values in -8..7) with the f16 scales
/// `d(j, b)` (already f16 values): N rows of K / 32 blocks {f16 d, 16 bytes qs}; `offset`
/// bytes of slack before the first block (to misalign it).
template <class W, class D>
GuardedArray<uint8_t> make_q4_0(size_t n, size_t k, W&& w, D&& d, size_t offset = 0) {
  const size_t blocks = k / 32;
  GuardedArray<uint8_t> out(offset + n * blocks * kBytesPerQ4_0Block);
  out.fill(0x5A);
  for (size_t j = 0; j < n; ++j) {
    for (size_t b = 0; b < blocks; ++b) {
      uint8_t* block = out.data() + offset + (j * blocks + b) * kBytesPerQ4_0Block;
      const uint16_t bits = to_f16(d(j, b)).bits;
      block[0] = static_cast<uint8_t>(bits & 0xFF);  // little-endian
      block[1] = static_cast<uint8_t>(bits >> 8);
      for (size_t i = 0; i < 16; ++i) {
        const auto lo = static_cast<unsigned>(w(j, b * 32 + i) + 8);
        const auto hi = static_cast<unsigned>(w(j, b * 32 + 16 + i) + 8);
        block[2 + i] = static_cast<uint8_t>(lo | (hi << 4));
      }
    }
  }
  return out;
}

// ---- Packing -------------------------------------------------------------------------------

/// Packs `w` (layout as given) with its scales and optional bias into a fresh guarded buffer.
Status pack_qb4w(const Int4Weights& w, RhsLayout layout, const float* bias,
                 const Qb4wScales& scales, size_t n, size_t k, GuardedBuffer* packed,
                 size_t* bytes) {
  Status s;
  SME2K_EXPECT_ABI_PRESERVED(s = gemm_packed_rhs_size<QD8QB4W>(n, k, scales.block, bytes));
  if (!s.ok()) return s;
  *packed = GuardedBuffer(*bytes, GuardSide::kEnd, kPackedAlignment);
  SME2K_EXPECT_ABI_PRESERVED(
      s = gemm_pack_rhs<QD8QB4W>(w.view(), layout, bias, scales.view(), packed->data(), *bytes));
  return s;
}

Status pack_q4_0(const uint8_t* blocks, size_t n, size_t k, const float* bias,
                 GuardedBuffer* packed, size_t* bytes) {
  Status s;
  SME2K_EXPECT_ABI_PRESERVED(s = gemm_packed_rhs_size<QD8QB4W>(n, k, 32, bytes));
  if (!s.ok()) return s;
  *packed = GuardedBuffer(*bytes, GuardSide::kEnd, kPackedAlignment);
  SME2K_EXPECT_ABI_PRESERVED(
      s = gemm_pack_rhs_q4_0<QD8QB4W>(blocks, n, k, bias, packed->data(), *bytes));
  return s;
}

/// The step of the SME2 tile the tails are taken around: 2 VL (VL = 4 without SME).
// ---- The GEMM check ----------------------------------------------------------------------

struct Qb4wCase {
  size_t m = 5, n = 6, k = 64, block = 32;
  size_t lda = 0, ldc = 0;
  size_t b_pad = 0;      // bytes of 0xAA after every row of B
  size_t scale_pad = 0;  // scales of poison after every channel's K / block scales
  RhsLayout layout = RhsLayout::kKxN;
  Int4Storage storage = Int4Storage::kNibbles;
  ScaleType scale_type = ScaleType::kF32;
  ScaleKind scales = ScaleKind::kModerate;
  bool bias = true;
  Rows rows = Rows::kMixed;
  Weights weights = Weights::kRandom;
  Activation activation = Activation::kNone;
  bool affine = false, clamp = false, transposed = false;
  bool q4_0 = false;  // also pack as Q4_0 (block 32, f16-valued scales): the same C bit for bit
  size_t q4_0_offset = 0;  // bytes before the first Q4_0 block
  uint64_t seed = 1;

  std::string describe() const {
    char s[400];
    std::snprintf(s, sizeof s,
                  "M=%zu N=%zu K=%zu block=%zu lda=%zu ldc=%zu b_pad=%zu scale_pad=%zu %s %s "
                  "scales=%s/%s bias=%d rows=%d w=%s act=%s affine=%d clamp=%d transposed=%d "
                  "q4_0=%d/%zu seed=%llu",
                  m, n, k, block, lda, ldc, b_pad, scale_pad, rhs_layout_name(layout),
                  storage_name(storage), scale_type_name(scale_type), scale_kind_name(scales),
                  bias ? 1 : 0, static_cast<int>(rows), weights_name(weights),
                  activation_name(activation), affine ? 1 : 0, clamp ? 1 : 0, transposed ? 1 : 0,
                  q4_0 ? 1 : 0, q4_0_offset, static_cast<unsigned long long>(seed));
    return s;
  }
};

template <class Out>
GuardedArray<Out> copy_of(const GuardedArray<Out>& c) {
  GuardedArray<Out> c2(c.size());
  std::memcpy(c2.data(), c.data(), c.size() * sizeof(Out));
  return c2;
}

template <class In, class Out>
void check_qb4w(const Qb4wCase& t, std::optional<Path> expected = std::nullopt) {
  SCOPED_TRACE(t.describe() + " in=" + type_name<In>() + " out=" + type_name<Out>() +
               " svl=" + std::to_string(streaming_vector_bytes() * 8));
  const size_t lda = t.lda ? t.lda : t.k;
  const size_t b_rows = t.layout == RhsLayout::kKxN ? t.k : t.n;
  const size_t b_cols = t.layout == RhsLayout::kKxN ? t.n : t.k;
  ASSERT_TRUE(t.storage == Int4Storage::kInt8 || nibbles_allowed(b_cols)) << "bad test case";
  ASSERT_TRUE(t.block % 32 == 0 && t.k % t.block == 0) << "bad test case";
  constexpr bool kF16Out = std::is_same_v<Out, f16>;
  ASSERT_TRUE(!kF16Out || (t.scales != ScaleKind::kLarge && t.scales != ScaleKind::kSpread))
      << "bad test case: f16 C would overflow";
  ASSERT_TRUE(!t.q4_0 || (t.block == 32 && t.scale_type == ScaleType::kF32)) << "bad test case";
  const size_t c_rows = t.transposed ? t.n : t.m, c_cols = t.transposed ? t.m : t.n;
  const size_t ldc = t.ldc ? t.ldc : c_cols;
  ValueStream r(t.seed);
  GuardedArray<In> a((t.m - 1) * lda + t.k);
  std::vector<float> a_f32(t.m * t.k);  // A widened, dense
  GuardedArray<float> bias(t.bias ? t.n : 0), scale(t.n), shift(t.n);
  GuardedArray<Out> c((c_rows - 1) * ldc + c_cols);
  for (size_t i = 0; i < t.m; ++i) {
    for (size_t kk = 0; kk < t.k; ++kk) {
      a[i * lda + kk] = from_f32<In>(row_value(t.rows, r, i, kDecades<In, Out>));
      a_f32[i * t.k + kk] = to_f32(a[i * lda + kk]);
    }
  }
  // The values, dense, and as the caller holds them.
  const std::vector<int8_t> values = make_values(t.weights, b_rows, b_cols, r);
  const auto w_at = [&](size_t j, size_t kk) -> int {
    return t.layout == RhsLayout::kKxN ? values[kk * b_cols + j] : values[j * b_cols + kk];
  };
  const Int4Weights b = store_int4(values, b_rows, b_cols, t.storage, t.b_pad);
  const Qb4wScales w_scales =
      make_scales(t.scale_type, t.scales, t.n, t.k, t.block, t.scale_pad, 3.0e4f, r, t.q4_0);
  for (float& x : bias) x = r.next() * 4.0f;
  for (float& x : scale) x = 0.5f + r.next();
  for (float& x : shift) x = r.next();
  const Out sentinel = from_f32<Out>(77.0f);
  for (Out& x : c) x = sentinel;  // the gaps between rows must keep it
  const float* bias_ptr = t.bias ? bias.data() : nullptr;

  size_t packed_bytes = 0;
  GuardedBuffer packed;
  Status s = pack_qb4w(b, t.layout, bias_ptr, w_scales, t.n, t.k, &packed, &packed_bytes);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(b.bytes.canary_intact() && scales_intact(w_scales) && packed.canary_intact());
  {  // The same values in the other storage (where nibbles can hold them) pack the same.
    const Int4Storage other =
        t.storage == Int4Storage::kInt8 ? Int4Storage::kNibbles : Int4Storage::kInt8;
    if (other == Int4Storage::kInt8 || nibbles_allowed(b_cols)) {
      const Int4Weights b2 = store_int4(values, b_rows, b_cols, other, t.b_pad + 1);
      GuardedBuffer packed2;
      size_t bytes2 = 0;
      s = pack_qb4w(b2, t.layout, bias_ptr, w_scales, t.n, t.k, &packed2, &bytes2);
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
  SME2K_EXPECT_ABI_PRESERVED(s = gemm_workspace_size<QD8QB4W>(t.m, t.n, t.k, &ws, e.order));
  ASSERT_TRUE(s.ok()) << s.message();
  GuardedBuffer workspace(ws);
  const MatrixView<const In> av{a.data(), t.m, t.k, lda};
  const MatrixView<Out> cv{c.data(), c_rows, c_cols, ldc};
  const GuardedArray<Out> c_before = copy_of(c);
  SME2K_EXPECT_ABI_PRESERVED(
      s = gemm<QD8QB4W, Out>(av, packed.data(), packed_bytes, cv, e, workspace.data(), ws));
  ASSERT_TRUE(s.ok()) << s.message();
  const Path used = last_used_path();
  if (!expected) expected = expected_path();
  if (expected) EXPECT_STREQ(path_name(used), path_name(*expected));
  EXPECT_TRUE(a.canary_intact() && b.bytes.canary_intact() && c.canary_intact() &&
              packed.canary_intact() && workspace.canary_intact() && scales_intact(w_scales));

  {  // The allocating overload writes the same C, bit for bit.
    GuardedArray<Out> c2 = copy_of(c_before);
    SME2K_EXPECT_ABI_PRESERVED(
        s = gemm<QD8QB4W, Out>(av, packed.data(), packed_bytes,
                               MatrixView<Out>{c2.data(), c_rows, c_cols, ldc}, e));
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_STREQ(path_name(last_used_path()), path_name(used));
    EXPECT_EQ(std::memcmp(c2.data(), c.data(), c.size() * sizeof(Out)), 0)
        << "the allocating gemm differs from gemm with a workspace";
  }
  if (t.q4_0) {  // The same weights as Q4_0 blocks: the same C, bit for bit.
    const GuardedArray<uint8_t> blocks = make_q4_0(
        t.n, t.k, w_at, [&](size_t j, size_t bb) { return static_cast<float>(w_scales.at(j, bb)); },
        t.q4_0_offset);
    GuardedBuffer q_packed;
    size_t q_bytes = 0;
    s = pack_q4_0(blocks.data() + t.q4_0_offset, t.n, t.k, bias_ptr, &q_packed, &q_bytes);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_TRUE(blocks.canary_intact() && q_packed.canary_intact());
    GuardedArray<Out> c2 = copy_of(c_before);
    GuardedBuffer workspace2(ws);
    SME2K_EXPECT_ABI_PRESERVED(
        s = gemm<QD8QB4W, Out>(av, q_packed.data(), q_bytes,
                               MatrixView<Out>{c2.data(), c_rows, c_cols, ldc}, e,
                               workspace2.data(), ws));
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_STREQ(path_name(last_used_path()), path_name(used));
    size_t differ = 0;
    for (size_t x = 0; x < c.size(); ++x) {
      if (std::memcmp(&c2[x], &c[x], sizeof(Out)) != 0 && differ++ < 8) {
        ADD_FAILURE() << "Q4_0: C[" << x << "] = " << to_f32(c2[x])
                      << ", packed from the block scales: " << to_f32(c[x]);
      }
    }
    EXPECT_EQ(differ, 0u) << "Q4_0 packing gives another C than gemm_pack_rhs with block 32";
    EXPECT_TRUE(c2.canary_intact() && workspace2.canary_intact());
  }

  // The reference, in double from the quantized rows.
  std::vector<reference::QuantizedRow> rows;
  for (size_t i = 0; i < t.m; ++i) rows.push_back(reference::quantize_row(&a_f32[i * t.k], t.k));
  check_qd8_c(c, t.m, t.n, ldc, t.transposed, t.k, stages, [&](size_t i, size_t j) {
    const reference::QuantizedRow& row = rows[i];
    Qd8Want want;
    double abs_w = 0.0;
    for (size_t kk = 0; kk < t.k; ++kk) {
      const double wt = w_at(j, kk) * w_scales.at(j, kk / t.block);                     // exact
      const double aq = static_cast<double>(row.scale) * (row.q[kk] - row.zero_point);  // exact
      want.value += aq * wt;
      want.magnitude += std::fabs(aq * wt);
      want.float_value += static_cast<double>(a_f32[i * t.k + kk]) * wt;
      abs_w += std::fabs(wt);
    }
    const double bias_j = t.bias ? bias[j] : 0.0;
    want.value += bias_j, want.float_value += bias_j, want.magnitude += std::fabs(bias_j);
    want.quantization_error = row.scale * (1.0 + std::ldexp(1.0, -15)) * abs_w;
    want.accumulation_bound = reference::f32_gemm_error_bound(t.k + 2, want.magnitude);
    return want;
  });
}

// ---- Tests -------------------------------------------------------------------------------

TEST(Qb4wBf16, TopSixteenBitsOfF32) {
  EXPECT_EQ(bf16_bits(1.0f), 0x3F80);
  EXPECT_EQ(bf16_value(0x3F80), 1.0f);
  EXPECT_EQ(bf16_value(0x4040), 3.0f);
  EXPECT_EQ(bf16_value(bf16_bits(0.01f)), bf16_value(0x3C23));
}

// The same values, held in either storage and either layout, with or without padding, with
// the same scales, pack to the same bytes (the whole buffer, header included).
TEST(Qb4wPackRhs, EveryStorageAndLayoutPacksTheSameBytes) {
  const size_t s = qd8_tile_step();
  ValueStream r(11);
  size_t compared = 0;
  for (size_t n : {size_t{1}, size_t{2}, size_t{3}, s - 1, s, s + 1, 2 * s + 3}) {
    for (size_t k : {32, 64, 96, 128, 256}) {
      for (size_t block : {32, 64, 128}) {
        if (k % block != 0) continue;
        for (ScaleType type : {ScaleType::kF32, ScaleType::kBF16}) {
          if ((n + k + block) % 3 == 0 && type == ScaleType::kBF16) continue;  // a few suffice
          SCOPED_TRACE(::testing::Message() << "N=" << n << " K=" << k << " block=" << block
                                            << " scales=" << scale_type_name(type));
          const std::vector<int8_t> kxn = make_values(Weights::kRandom, k, n, r);
          const std::vector<int8_t> nxk = transpose(kxn, k, n);
          std::vector<float> bias(n);
          for (float& x : bias) x = r.next();
          const Qb4wScales scales =
              make_scales(type, ScaleKind::kModerate, n, k, block, n % 3, 1.0f, r);
          // The one every other must equal: K x N int8, dense.
          GuardedBuffer want;
          size_t bytes = 0;
          const Int4Weights base = store_int4(kxn, k, n, Int4Storage::kInt8, 0);
          Status st = pack_qb4w(base, RhsLayout::kKxN, bias.data(), scales, n, k, &want, &bytes);
          ASSERT_TRUE(st.ok()) << st.message();
          for (RhsLayout layout : {RhsLayout::kKxN, RhsLayout::kNxK}) {
            const size_t rows = layout == RhsLayout::kKxN ? k : n;
            const size_t cols = layout == RhsLayout::kKxN ? n : k;
            const std::vector<int8_t>& values = layout == RhsLayout::kKxN ? kxn : nxk;
            for (Int4Storage storage : {Int4Storage::kNibbles, Int4Storage::kInt8}) {
              if (storage == Int4Storage::kNibbles && !nibbles_allowed(cols)) continue;
              for (size_t pad : {size_t{0}, size_t{3}}) {
                SCOPED_TRACE(::testing::Message() << rhs_layout_name(layout) << " "
                                                  << storage_name(storage) << " pad=" << pad);
                const Int4Weights w = store_int4(values, rows, cols, storage, pad);
                GuardedBuffer got;
                size_t got_bytes = 0;
                st = pack_qb4w(w, layout, bias.data(), scales, n, k, &got, &got_bytes);
                ASSERT_TRUE(st.ok()) << st.message();
                ASSERT_EQ(got_bytes, bytes);
                ASSERT_EQ(std::memcmp(got.data(), want.data(), bytes), 0)
                    << "packed bytes differ from K x N int8 dense packing";
                ASSERT_TRUE(got.canary_intact() && w.bytes.canary_intact() &&
                            scales_intact(scales));
                ++compared;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(compared, 100u);
}

// The padding between rows of B and between channels' scales is never read as values: other
// garbage there (NaN, negative, zero scales; 0x7F bytes) packs the same bytes, and no error.
TEST(Qb4wPackRhs, PaddingOfWeightsAndScalesIsIgnored) {
  const size_t n = 6, k = 128;
  ValueStream r(5);
  const std::vector<int8_t> values = make_values(Weights::kRandom, k, n, r);
  for (ScaleType type : {ScaleType::kF32, ScaleType::kBF16}) {
    for (Int4Storage storage : {Int4Storage::kNibbles, Int4Storage::kInt8}) {
      SCOPED_TRACE(::testing::Message() << scale_type_name(type) << " " << storage_name(storage));
      Int4Weights w = store_int4(values, k, n, storage, 4);
      ValueStream rs(7);
      Qb4wScales scales = make_scales(type, ScaleKind::kModerate, n, k, 64, 3, 0.5f, rs);
      GuardedBuffer first;
      size_t bytes = 0;
      Status st = pack_qb4w(w, RhsLayout::kKxN, nullptr, scales, n, k, &first, &bytes);
      ASSERT_TRUE(st.ok()) << st.message();
      const size_t row_bytes = w.view().row_bytes();
      for (size_t i = 0; i + 1 < k; ++i) {
        for (size_t bb = row_bytes; bb < w.ld; ++bb) w.bytes[i * w.ld + bb] = 0x7F;
      }
      const float poison[] = {std::numeric_limits<float>::quiet_NaN(), -1.0f, 0.0f};
      for (size_t j = 0; j + 1 < n; ++j) {
        for (size_t bb = scales.blocks; bb < scales.ld; ++bb) {
          const float x = poison[(j + bb) % 3];
          if (type == ScaleType::kF32) {
            scales.f32[j * scales.ld + bb] = x;
          } else {
            scales.bf16[j * scales.ld + bb] = bf16_bits(x);
          }
        }
      }
      GuardedBuffer second;
      st = pack_qb4w(w, RhsLayout::kKxN, nullptr, scales, n, k, &second, &bytes);
      ASSERT_TRUE(st.ok()) << st.message();
      EXPECT_EQ(std::memcmp(first.data(), second.data(), bytes), 0);
    }
  }
}

// M and N around the tile (2 VL), with nibbles in one layout and int8 values in the other.
TEST(Qb4wGemm, TailsInMAndN) {
  const size_t s = qd8_tile_step();
  std::vector<size_t> sizes;
  for (size_t v : {size_t{1}, s / 2 + 1, s - 1, s, s + 1}) {
    if (sizes.empty() || v > sizes.back()) sizes.push_back(v);
  }
  for (size_t m : sizes) {
    for (size_t n : sizes) {
      Qb4wCase t;
      t.m = m, t.n = n, t.seed = m * 1000 + n;
      // Nibbles: rows of N values (K x N) when N is even, else rows of K values (N x K).
      t.storage = Int4Storage::kNibbles;
      t.layout = n % 2 == 0 ? RhsLayout::kKxN : RhsLayout::kNxK;
      t.k = 64, t.block = 32;
      check_qb4w<float, float>(t);
      t.storage = Int4Storage::kInt8;
      t.layout = n % 2 == 0 ? RhsLayout::kNxK : RhsLayout::kKxN;
      t.k = 96, t.block = 32, t.scale_type = ScaleType::kBF16;
      t.seed += 7;
      check_qb4w<f16, float>(t);
    }
  }
}

// Few rows (the decode kernel, M <= 4) over more than two of its passes of four column
// panels, into f32 and f16: every pass must leave ZA the same way (clang 22 once encoded the
// end-of-pass reads to index ZA by whatever W8 held: right in the first pass only, for f16).
TEST(Qb4wGemm, DecodeRowsOverSeveralPasses) {
  const size_t s = qd8_tile_step();
  for (size_t m = 1; m <= 4; ++m) {
    Qb4wCase t;
    t.m = m, t.n = 9 * s + 5, t.k = 96, t.block = 32, t.seed = 40 + m;
    t.layout = RhsLayout::kNxK, t.storage = Int4Storage::kInt8;
    check_qb4w<float, f16>(t);
    check_qb4w<float, float>(t);
    t.activation = Activation::kRelu, t.affine = true;
    check_qb4w<f16, f16>(t);
  }
}

// Every K and block of the brief, in both layouts and storages, f32 and bf16 scales.
TEST(Qb4wGemm, DepthsAndBlocks) {
  const size_t s = qd8_tile_step();
  const size_t m = s / 2 + 3;
  const size_t n_even = s / 2 + 2, n_odd = s / 2 + 1;  // s / 2 is even
  uint64_t seed = 1;
  for (size_t k : {32, 64, 96, 128, 256}) {
    for (size_t block : {32, 64, 128}) {
      if (k % block != 0) continue;
      Qb4wCase t;
      t.m = m, t.k = k, t.block = block, t.seed = seed++;
      t.n = n_even, t.layout = RhsLayout::kKxN, t.storage = Int4Storage::kNibbles;
      check_qb4w<float, float>(t);
      t.n = n_odd, t.layout = RhsLayout::kNxK, t.storage = Int4Storage::kNibbles;
      t.scale_type = ScaleType::kBF16;
      check_qb4w<f16, float>(t);
      t.n = n_odd, t.layout = RhsLayout::kKxN, t.storage = Int4Storage::kInt8;
      t.scale_type = ScaleType::kF32, t.scale_pad = 2;
      check_qb4w<float, f16>(t);
      t.n = n_even, t.layout = RhsLayout::kNxK, t.storage = Int4Storage::kInt8;
      t.scale_type = ScaleType::kBF16, t.scale_pad = 1;
      check_qb4w<f16, f16>(t);
    }
  }
}

// Scales of every magnitude, f32 and bf16, against rows of every kind.
TEST(Qb4wGemm, ScaleTypesAndMagnitudes) {
  uint64_t seed = 300;
  for (ScaleType type : {ScaleType::kF32, ScaleType::kBF16}) {
    for (ScaleKind kind :
         {ScaleKind::kModerate, ScaleKind::kTiny, ScaleKind::kLarge, ScaleKind::kSpread}) {
      for (Rows rows : {Rows::kMixed, Rows::kPositive, Rows::kScaled}) {
        Qb4wCase t;
        t.m = 7, t.n = 10, t.k = 128, t.block = rows == Rows::kMixed ? 32 : 64;
        t.scale_type = type, t.scales = kind, t.rows = rows, t.seed = seed++;
        t.scale_pad = seed % 3;
        t.layout = seed % 2 == 0 ? RhsLayout::kKxN : RhsLayout::kNxK;
        check_qb4w<float, float>(t);
        t.seed = seed++;
        check_qb4w<f16, float>(t);
        if (kind == ScaleKind::kModerate || kind == ScaleKind::kTiny) {
          t.seed = seed++;
          check_qb4w<float, f16>(t);
          t.bias = false;
          check_qb4w<f16, f16>(t);
        }
      }
    }
  }
}

TEST(Qb4wGemm, StoragesLayoutsPaddingAndExtremeWeights) {
  const size_t s = qd8_tile_step();
  uint64_t seed = 100;
  for (Int4Storage storage : {Int4Storage::kNibbles, Int4Storage::kInt8}) {
    for (RhsLayout layout : {RhsLayout::kKxN, RhsLayout::kNxK}) {
      for (Weights w :
           {Weights::kRandom, Weights::kAllMinus8, Weights::kAllPlus7, Weights::kAlternating}) {
        for (size_t pad : {size_t{0}, size_t{3}}) {
          Qb4wCase t;
          t.m = s / 2 + 1, t.n = s + 2, t.k = 64, t.block = pad == 0 ? 32 : 64;
          t.storage = storage, t.layout = layout, t.weights = w, t.b_pad = pad;
          t.scale_pad = pad;
          t.scale_type = seed % 2 == 0 ? ScaleType::kF32 : ScaleType::kBF16;
          t.rows = static_cast<Rows>(seed % 5);
          t.seed = seed++;
          check_qb4w<float, float>(t);
        }
      }
    }
  }
  // Extreme weights against extreme rows, deeper.
  for (Weights w : {Weights::kAllMinus8, Weights::kAllPlus7, Weights::kAlternating}) {
    for (Rows rows : {Rows::kPositive, Rows::kNegative, Rows::kZero, Rows::kScaled}) {
      Qb4wCase t;
      t.m = 9, t.n = 10, t.k = 256, t.block = 128, t.weights = w, t.rows = rows;
      t.scale_type = rows == Rows::kZero ? ScaleType::kBF16 : ScaleType::kF32;
      t.seed = seed++;
      check_qb4w<float, float>(t);
    }
  }
}

TEST(Qb4wGemm, InputAndOutputTypes) {
  const size_t s = qd8_tile_step();
  Qb4wCase t;
  t.m = s + 2, t.n = s + 4, t.k = 96, t.block = 32;
  check_qb4w<float, float>(t);
  check_qb4w<float, f16>(t);
  check_qb4w<f16, float>(t);
  check_qb4w<f16, f16>(t);
  t.layout = RhsLayout::kNxK, t.storage = Int4Storage::kInt8, t.rows = Rows::kScaled;
  t.scale_type = ScaleType::kBF16;
  check_qb4w<float, f16>(t);
  check_qb4w<f16, f16>(t);
  check_qb4w<float, float>(t);
}

TEST(Qb4wGemm, EpilogueStagesOrderAndStrides) {
  const size_t s = qd8_tile_step();
  Qb4wCase t;
  t.m = s + 1, t.n = s + 2, t.k = 64, t.block = 32;
  for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kRelu6,
                         Activation::kHardSwish, Activation::kGelu, Activation::kSilu}) {
    Qb4wCase u = t;
    u.activation = act;
    check_qb4w<float, float>(u);
    u.affine = true, u.scale_type = ScaleType::kBF16;
    check_qb4w<f16, float>(u);
    u.clamp = true;
    check_qb4w<float, f16>(u);
  }
  Qb4wCase u = t;
  u.clamp = true;
  check_qb4w<float, float>(u);
  u = t;
  u.transposed = true;
  check_qb4w<float, float>(u);
  u.ldc = t.m + 5;
  u.activation = Activation::kRelu, u.affine = true, u.clamp = true;
  check_qb4w<f16, f16>(u);
  u = t;
  u.lda = 70, u.b_pad = 9, u.ldc = t.n + 4, u.scale_pad = 5;
  check_qb4w<float, float>(u);
  u.layout = RhsLayout::kNxK;
  u.storage = Int4Storage::kInt8;
  u.b_pad = 2;
  u.bias = false;
  check_qb4w<float, float>(u);
  u.transposed = true, u.ldc = t.m + 3;
  check_qb4w<f16, f16>(u);
}

TEST(Qb4wGemm, NoBias) {
  const size_t s = qd8_tile_step();
  Qb4wCase t;
  t.m = s - 1, t.n = s + 1, t.k = 128, t.block = 64, t.bias = false;
  t.layout = RhsLayout::kNxK;
  check_qb4w<float, float>(t);
  t.scale_type = ScaleType::kBF16, t.storage = Int4Storage::kInt8, t.layout = RhsLayout::kKxN;
  check_qb4w<f16, f16>(t);
  t.transposed = true, t.activation = Activation::kSilu;
  check_qb4w<float, float>(t);
}

TEST(Qb4wGemm, RandomShapes) {
  ValueStream r(43);
  const size_t ks[] = {32, 64, 96, 128, 256};
  const size_t blocks[] = {32, 64, 128};
  for (int i = 0; i < 30; ++i) {
    Qb4wCase t;
    t.m = 1 + r.below(70), t.n = 1 + r.below(70), t.k = ks[r.below(5)];
    do {
      t.block = blocks[r.below(3)];
    } while (t.k % t.block != 0);
    t.layout = r.below(2) ? RhsLayout::kKxN : RhsLayout::kNxK;
    const size_t b_cols = t.layout == RhsLayout::kKxN ? t.n : t.k;
    t.storage =
        nibbles_allowed(b_cols) && r.below(4) != 0 ? Int4Storage::kNibbles : Int4Storage::kInt8;
    t.b_pad = r.below(3);
    t.scale_pad = r.below(3);
    t.scale_type = r.below(2) ? ScaleType::kF32 : ScaleType::kBF16;
    t.bias = r.below(4) != 0;
    t.rows = static_cast<Rows>(r.below(5));
    t.weights = static_cast<Weights>(r.below(4));
    t.transposed = r.below(5) == 0;
    t.activation = r.below(3) == 0 ? Activation::kRelu : Activation::kNone;
    t.seed = static_cast<uint64_t>(i);
    const size_t types = r.below(4);
    t.scales = types < 2 ? static_cast<ScaleKind>(r.below(4)) : static_cast<ScaleKind>(r.below(2));
    switch (types) {
      case 0: check_qb4w<float, float>(t); break;
      case 1: check_qb4w<f16, float>(t); break;
      case 2: check_qb4w<float, f16>(t); break;
      default: check_qb4w<f16, f16>(t); break;
    }
  }
}

// Q4_0 blocks give the same C as the block scales (f16-valued f32 scales, block 32), bit for
// bit, whatever layout and storage the block-scale weights were given in.
TEST(Qb4wQ4_0, SameGemmAsBlockScales) {
  const size_t s = qd8_tile_step();
  uint64_t seed = 500;
  for (size_t n : {size_t{1}, s - 1, s + 1}) {
    for (size_t k : {32, 64, 128, 256}) {
      Qb4wCase t;
      t.m = n == 1 ? 3 : s / 2 + 1, t.n = n, t.k = k, t.block = 32, t.q4_0 = true;
      t.layout = seed % 2 == 0 ? RhsLayout::kNxK : RhsLayout::kKxN;
      t.storage =
          t.layout == RhsLayout::kKxN && n % 2 != 0 ? Int4Storage::kInt8 : Int4Storage::kNibbles;
      t.bias = seed % 3 != 0;
      t.seed = seed++;
      check_qb4w<float, float>(t);
      t.seed = seed++;
      t.scales = ScaleKind::kTiny;  // f16 subnormal d
      check_qb4w<f16, f16>(t);
    }
  }
  Qb4wCase t;
  t.m = 9, t.n = 12, t.k = 128, t.block = 32, t.q4_0 = true, t.layout = RhsLayout::kNxK;
  for (ScaleKind kind : {ScaleKind::kModerate, ScaleKind::kTiny, ScaleKind::kLarge}) {
    t.scales = kind, t.seed = seed++;
    check_qb4w<float, float>(t);
    check_qb4w<f16, float>(t);
  }
  t.scales = ScaleKind::kModerate;
  for (Weights w : {Weights::kAllMinus8, Weights::kAllPlus7, Weights::kAlternating}) {
    t.weights = w, t.seed = seed++;
    check_qb4w<float, float>(t);
  }
  t.weights = Weights::kRandom;
  t.activation = Activation::kGelu, t.affine = true, t.clamp = true;
  check_qb4w<float, f16>(t);
  t.activation = Activation::kNone, t.affine = false, t.clamp = false, t.transposed = true;
  check_qb4w<float, float>(t);
  // Blocks that start at an odd address: d is read as bytes.
  t.transposed = false, t.q4_0_offset = 1;
  check_qb4w<float, float>(t);
}

// A hand-made block, read as llama.cpp stores it: d = 0.5, qs[j] = j | (15 - j) << 4, so
// weight j is (j - 8) and weight 16 + j is (7 - j). One-hot rows of A pick each weight.
TEST(Qb4wQ4_0, ReadsTheBlocksAsLlamaCppStoresThem) {
  const size_t m = 32, n = 1, k = 32;
  uint8_t block[kBytesPerQ4_0Block] = {0x00, 0x38};  // f16 0.5, little-endian
  for (unsigned j = 0; j < 16; ++j) block[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  std::vector<float> a(m * k, 0.0f), c(m * n, -1.0f);
  for (size_t i = 0; i < m; ++i) a[i * k + i] = 1.0f;
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8QB4W>(n, k, 32, &bytes).ok());
  GuardedBuffer packed(bytes, GuardSide::kEnd, kPackedAlignment);
  Status s = gemm_pack_rhs_q4_0<QD8QB4W>(block, n, k, nullptr, packed.data(), bytes);
  ASSERT_TRUE(s.ok()) << s.message();
  s = gemm<QD8QB4W>(dense_matrix<const float>(a.data(), m, k), packed.data(), bytes,
                    dense_matrix(c.data(), m, n));
  ASSERT_TRUE(s.ok()) << s.message();
  for (size_t i = 0; i < m; ++i) {
    const double want =
        (i < 16 ? static_cast<double>(i) - 8 : 7 - static_cast<double>(i - 16)) * 0.5;
    EXPECT_NEAR(c[i], want, 1e-5) << "weight " << i;
  }
}

TEST(Qb4wGemm, PortablePathToo) {
  const Path natural = select_path();
  // Weights packed on the natural path, for the check below.
  const size_t m = 6, n = 8, k = 64;
  std::vector<float> a(m * k, 0.5f), c(m * n);
  ValueStream r(9);
  const Int4Weights w =
      store_int4(make_values(Weights::kRandom, k, n, r), k, n, Int4Storage::kNibbles, 0);
  const Qb4wScales scales = make_scales(ScaleType::kF32, ScaleKind::kModerate, n, k, 32, 0, 1, r);
  GuardedBuffer natural_packed;
  size_t natural_bytes = 0;
  ASSERT_TRUE(
      pack_qb4w(w, RhsLayout::kKxN, nullptr, scales, n, k, &natural_packed, &natural_bytes).ok());

  testing::ScopedForcePath force(Path::kPortable);
  Qb4wCase t;
  t.m = 13, t.n = 18, t.k = 128, t.block = 64;
  check_qb4w<float, float>(t, Path::kPortable);
  t.transposed = true, t.activation = Activation::kRelu, t.scale_type = ScaleType::kBF16;
  check_qb4w<f16, f16>(t, Path::kPortable);
  t = Qb4wCase{};
  t.m = 7, t.n = 5, t.k = 96, t.block = 32, t.layout = RhsLayout::kNxK;
  t.storage = Int4Storage::kInt8, t.scales = ScaleKind::kLarge, t.scale_pad = 2;
  t.b_pad = 3, t.bias = false, t.affine = true, t.clamp = true;
  check_qb4w<float, float>(t, Path::kPortable);
  t.storage = Int4Storage::kNibbles, t.weights = Weights::kAlternating;
  t.scales = ScaleKind::kTiny;
  check_qb4w<f16, f16>(t, Path::kPortable);
  t = Qb4wCase{};
  t.m = 5, t.n = 11, t.k = 256, t.block = 32, t.q4_0 = true, t.layout = RhsLayout::kNxK;
  check_qb4w<float, float>(t, Path::kPortable);
  check_qb4w<f16, f16>(t, Path::kPortable);

  // Weights packed on another path are refused with a status, not misread.
  const Status s = gemm<QD8QB4W>(dense_matrix<const float>(a.data(), m, k), natural_packed.data(),
                                 natural_bytes, dense_matrix(c.data(), m, n));
  if (natural == Path::kPortable) {
    EXPECT_TRUE(s.ok()) << s.message();
  } else {
    EXPECT_EQ(s.code(), StatusCode::kPackedMismatch) << s.message();
  }
}

TEST(Qb4wGemm, RowsWithInfinityOrNanGiveNan) {
  const size_t m = 3, n = 6, k = 64;
  std::vector<float> a(m * k, 0.25f), c(m * n), t(n * 2, 0.01f);
  std::vector<int8_t> b(k * n, 3);
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8QB4W>(n, k, 32, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  BlockScales scales;
  scales.data = t.data(), scales.type = ScaleType::kF32, scales.block = 32, scales.ld = 2;
  ASSERT_TRUE(gemm_pack_rhs<QD8QB4W>(Int4View{b.data(), k, n, n, Int4Storage::kInt8},
                                     RhsLayout::kKxN, nullptr, scales, packed.data(), bytes)
                  .ok());
  for (float bad :
       {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    a[1 * k + 40] = bad;
    ASSERT_TRUE(gemm<QD8QB4W>(dense_matrix<const float>(a.data(), m, k), packed.data(), bytes,
                              dense_matrix(c.data(), m, n))
                    .ok());
    for (size_t j = 0; j < n; ++j) {
      EXPECT_NEAR(c[j], 0.25 * 3 * 64 * 0.01, 1e-5);
      EXPECT_NEAR(c[2 * n + j], 0.25 * 3 * 64 * 0.01, 1e-5);
      EXPECT_TRUE(std::isnan(c[n + j])) << "column " << j;
    }
  }
}

TEST(Qb4wGemmBadInput, SizeRefusedWithAStatus) {
  const size_t n = 6, k = 128;
  size_t bytes = 0;
  for (size_t block : {32, 64, 128}) {
    EXPECT_TRUE(gemm_packed_rhs_size<QD8QB4W>(n, k, block, &bytes).ok()) << block;
    EXPECT_GT(bytes, 0u);
  }
  EXPECT_EQ(gemm_packed_rhs_size<QD8QB4W>(n, k, 32, nullptr).code(), StatusCode::kNullPointer);
  EXPECT_EQ(gemm_packed_rhs_size<QD8QB4W>(0, k, 32, &bytes).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(gemm_packed_rhs_size<QD8QB4W>(n, 0, 32, &bytes).code(), StatusCode::kInvalidArgument);
  for (size_t block : {0, 1, 16, 31, 48, 96 + 1}) {
    EXPECT_EQ(gemm_packed_rhs_size<QD8QB4W>(n, k, block, &bytes).code(),
              StatusCode::kInvalidArgument)
        << "block " << block;
  }
  // K not a multiple of the block.
  EXPECT_EQ(gemm_packed_rhs_size<QD8QB4W>(n, 96, 64, &bytes).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(gemm_packed_rhs_size<QD8QB4W>(n, 33, 32, &bytes).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(gemm_packed_rhs_size<QD8QB4W>(n, 64, 128, &bytes).code(), StatusCode::kInvalidArgument);
}

TEST(Qb4wGemmBadInput, PackingRefusedWithAStatus) {
  const size_t n = 6, k = 128, block = 32, nb = k / block;
  std::vector<float> t32(n * nb, 0.1f);
  std::vector<uint16_t> t16(n * nb, bf16_bits(0.1f));
  std::vector<int8_t> values(k * n, 1);
  std::vector<uint8_t> nibbles(k * n / 2, 0x11);
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8QB4W>(n, k, block, &bytes).ok());
  std::vector<uint8_t> packed_storage(bytes + 8);
  auto* const packed = packed_storage.data();
  ASSERT_EQ(reinterpret_cast<uintptr_t>(packed) % kPackedAlignment, 0u);
  const Int4View good_int8{values.data(), k, n, n, Int4Storage::kInt8};
  const Int4View good_nibbles{nibbles.data(), k, n, n / 2, Int4Storage::kNibbles};
  const auto f32_scales = [&](const float* data = nullptr, size_t blk = block, size_t ld = nb) {
    BlockScales s;
    s.data = data ? data : t32.data(), s.type = ScaleType::kF32, s.block = blk, s.ld = ld;
    return s;
  };
  const auto bf16_scales = [&](const uint16_t* data = nullptr) {
    BlockScales s;
    s.data = data ? data : t16.data(), s.type = ScaleType::kBF16, s.block = block, s.ld = nb;
    return s;
  };
  const auto pack = [&](const Int4View& b, const BlockScales& scales,
                        RhsLayout layout = RhsLayout::kKxN, size_t packed_bytes = 0) {
    return gemm_pack_rhs<QD8QB4W>(b, layout, nullptr, scales, packed,
                                  packed_bytes ? packed_bytes : bytes);
  };
  ASSERT_TRUE(pack(good_int8, f32_scales()).ok());
  ASSERT_TRUE(pack(good_nibbles, f32_scales()).ok());
  ASSERT_TRUE(pack(good_nibbles, bf16_scales()).ok());
  ASSERT_TRUE(
      pack({values.data(), n, k, k, Int4Storage::kInt8}, f32_scales(), RhsLayout::kNxK).ok());

  // The block: 0, not a multiple of 32, K not a multiple of it.
  for (size_t blk : {0, 1, 16, 48, 100}) {
    EXPECT_EQ(pack(good_nibbles, f32_scales(nullptr, blk, nb)).code(), StatusCode::kInvalidArgument)
        << "block " << blk;
  }
  {
    std::vector<float> big(n * 4, 0.1f);  // enough scales for any block here
    EXPECT_EQ(pack(good_nibbles, f32_scales(big.data(), 96, 2)).code(),
              StatusCode::kInvalidArgument)
        << "K = 128, block 96";
    // K = 96 with block 64.
    std::vector<int8_t> v96(96 * n, 1);
    size_t b96 = 0;
    ASSERT_TRUE(gemm_packed_rhs_size<QD8QB4W>(n, 96, 32, &b96).ok());
    std::vector<uint8_t> p96(b96 + 4096);
    EXPECT_EQ(
        gemm_pack_rhs<QD8QB4W>(Int4View{v96.data(), 96, n, n, Int4Storage::kInt8}, RhsLayout::kKxN,
                               nullptr, f32_scales(big.data(), 64, 2), p96.data(), p96.size())
            .code(),
        StatusCode::kInvalidArgument)
        << "K = 96, block 64";
    // K = 33 (int8 values, so the rows may be odd).
    std::vector<int8_t> v33(33 * n, 1);
    EXPECT_EQ(
        gemm_pack_rhs<QD8QB4W>(Int4View{v33.data(), 33, n, n, Int4Storage::kInt8}, RhsLayout::kKxN,
                               nullptr, f32_scales(big.data(), 32, 2), p96.data(), p96.size())
            .code(),
        StatusCode::kInvalidArgument)
        << "K = 33, block 32";
  }
  // Scales: null, ld short, unknown type; every bad value in f32 and bf16, anywhere.
  EXPECT_EQ(gemm_pack_rhs<QD8QB4W>(good_nibbles, RhsLayout::kKxN, nullptr,
                                   BlockScales{nullptr, ScaleType::kF32, block, nb}, packed, bytes)
                .code(),
            StatusCode::kNullPointer);
  EXPECT_EQ(pack(good_nibbles, f32_scales(nullptr, block, nb - 1)).code(),
            StatusCode::kInvalidArgument)
      << "ld < K / block";
  EXPECT_EQ(pack(good_nibbles, f32_scales(nullptr, block, 0)).code(), StatusCode::kInvalidArgument)
      << "ld 0";
  for (int type : {0, 3, 255}) {
    BlockScales sc = f32_scales();
    sc.type = static_cast<ScaleType>(type);
    EXPECT_EQ(pack(good_nibbles, sc).code(), StatusCode::kInvalidArgument) << "type " << type;
  }
  const float inf = std::numeric_limits<float>::infinity();
  for (float bad :
       {0.0f, -0.0f, -1.0f, -1e-30f, std::numeric_limits<float>::quiet_NaN(), inf, -inf}) {
    for (size_t at : {size_t{0}, n * nb / 2 + 1, n * nb - 1}) {
      std::vector<float> ts = t32;
      ts[at] = bad;
      EXPECT_EQ(pack(good_nibbles, f32_scales(ts.data())).code(), StatusCode::kInvalidArgument)
          << "f32 scale " << bad << " at " << at;
    }
  }
  for (uint16_t bad :
       {uint16_t{0x0000}, uint16_t{0x8000}, uint16_t{0xBF80}, uint16_t{0x8001}, uint16_t{0x7FC0},
        uint16_t{0x7F81}, uint16_t{0xFFC0}, uint16_t{0x7F80}, uint16_t{0xFF80}}) {
    for (size_t at : {size_t{0}, n * nb / 2 + 1, n * nb - 1}) {
      std::vector<uint16_t> ts = t16;
      ts[at] = bad;
      EXPECT_EQ(pack(good_nibbles, bf16_scales(ts.data())).code(), StatusCode::kInvalidArgument)
          << "bf16 scale 0x" << std::hex << bad << " at " << std::dec << at;
    }
  }
  {  // The smallest positive scales are fine (f32 and bf16 subnormals).
    std::vector<float> ts = t32;
    ts[1] = std::numeric_limits<float>::denorm_min();
    EXPECT_TRUE(pack(good_nibbles, f32_scales(ts.data())).ok());
    std::vector<uint16_t> tb = t16;
    tb[1] = 0x0001;
    EXPECT_TRUE(pack(good_nibbles, bf16_scales(tb.data())).ok());
  }
  // Rows of nibbles must hold an even number of values: K x N with N = 7.
  {
    std::vector<uint8_t> odd(k * 4, 0x11);
    std::vector<float> t7(7 * nb, 0.1f);
    size_t b7 = 0;
    ASSERT_TRUE(gemm_packed_rhs_size<QD8QB4W>(7, k, block, &b7).ok());
    std::vector<uint8_t> p7(b7);
    EXPECT_EQ(gemm_pack_rhs<QD8QB4W>(Int4View{odd.data(), k, 7, 4, Int4Storage::kNibbles},
                                     RhsLayout::kKxN, nullptr, f32_scales(t7.data()), p7.data(), b7)
                  .code(),
              StatusCode::kInvalidArgument);
    // The same odd rows as int8 values are fine.
    std::vector<int8_t> v7(k * 7, -8);
    EXPECT_TRUE(gemm_pack_rhs<QD8QB4W>(Int4View{v7.data(), k, 7, 7, Int4Storage::kInt8},
                                       RhsLayout::kKxN, nullptr, f32_scales(t7.data()), p7.data(),
                                       b7)
                    .ok());
  }
  // int8 values outside -8..7, anywhere.
  for (int bad : {8, -9, 127, -128, 16}) {
    for (size_t at : {size_t{0}, k * n / 2 + 1, k * n - 1}) {
      std::vector<int8_t> v = values;
      v[at] = static_cast<int8_t>(bad);
      EXPECT_EQ(pack({v.data(), k, n, n, Int4Storage::kInt8}, f32_scales()).code(),
                StatusCode::kInvalidArgument)
          << "value " << bad << " at " << at;
    }
  }
  // Null data, unknown storage, unknown layout.
  EXPECT_EQ(pack({nullptr, k, n, n, Int4Storage::kInt8}, f32_scales()).code(),
            StatusCode::kNullPointer);
  EXPECT_EQ(pack({values.data(), k, n, n, static_cast<Int4Storage>(7)}, f32_scales()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(pack(good_int8, f32_scales(), static_cast<RhsLayout>(9)).code(),
            StatusCode::kInvalidArgument);
  // The packed buffer: short, null, misaligned.
  EXPECT_EQ(pack(good_nibbles, f32_scales(), RhsLayout::kKxN, bytes - 1).code(),
            StatusCode::kBufferTooSmall);
  {  // Sized for block 128 (fewer scales), packed with block 32.
    size_t b128 = 0;
    ASSERT_TRUE(gemm_packed_rhs_size<QD8QB4W>(n, k, 128, &b128).ok());
    if (b128 < bytes) {
      EXPECT_EQ(pack(good_nibbles, f32_scales(), RhsLayout::kKxN, b128).code(),
                StatusCode::kBufferTooSmall);
    }
  }
  EXPECT_EQ(
      gemm_pack_rhs<QD8QB4W>(good_nibbles, RhsLayout::kKxN, nullptr, f32_scales(), nullptr, bytes)
          .code(),
      StatusCode::kNullPointer);
  EXPECT_EQ(gemm_pack_rhs<QD8QB4W>(good_nibbles, RhsLayout::kKxN, nullptr, f32_scales(), packed + 1,
                                   bytes)
                .code(),
            StatusCode::kInvalidArgument);
}

TEST(Qb4wGemmBadInput, Q4_0PackingRefusedWithAStatus) {
  const size_t n = 3, k = 64, nb = k / 32;
  std::vector<uint8_t> blocks(n * nb * kBytesPerQ4_0Block, 0x98);
  for (size_t b = 0; b < n * nb; ++b) {
    blocks[b * kBytesPerQ4_0Block] = 0x66, blocks[b * kBytesPerQ4_0Block + 1] = 0x2E;  // f16 0.1
  }
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8QB4W>(n, k, 32, &bytes).ok());
  std::vector<uint8_t> packed_storage(bytes + 8);
  auto* const packed = packed_storage.data();
  const auto pack = [&](const void* b, size_t nn, size_t kk, size_t packed_bytes) {
    return gemm_pack_rhs_q4_0<QD8QB4W>(b, nn, kk, nullptr, packed, packed_bytes);
  };
  ASSERT_TRUE(pack(blocks.data(), n, k, bytes).ok());
  {
    std::vector<float> bias(n, 1.0f);
    EXPECT_TRUE(gemm_pack_rhs_q4_0<QD8QB4W>(blocks.data(), n, k, bias.data(), packed, bytes).ok());
  }
  // K not a multiple of 32 (there are enough blocks for K rounded up), zero sizes, null.
  for (size_t bad_k : {16, 33, 48, 63}) {
    EXPECT_EQ(pack(blocks.data(), n, bad_k, bytes).code(), StatusCode::kInvalidArgument)
        << "K = " << bad_k;
  }
  EXPECT_EQ(pack(blocks.data(), 0, k, bytes).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pack(blocks.data(), n, 0, bytes).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pack(nullptr, n, k, bytes).code(), StatusCode::kNullPointer);
  // Bad scales d, in any block.
  for (uint16_t bad :
       {uint16_t{0x0000}, uint16_t{0x8000}, uint16_t{0xBC00}, uint16_t{0x8001}, uint16_t{0x7E00},
        uint16_t{0x7C01}, uint16_t{0xFE00}, uint16_t{0x7C00}, uint16_t{0xFC00}}) {
    for (size_t at : {size_t{0}, size_t{3}, n * nb - 1}) {
      std::vector<uint8_t> b = blocks;
      b[at * kBytesPerQ4_0Block] = static_cast<uint8_t>(bad & 0xFF);
      b[at * kBytesPerQ4_0Block + 1] = static_cast<uint8_t>(bad >> 8);
      EXPECT_EQ(pack(b.data(), n, k, bytes).code(), StatusCode::kInvalidArgument)
          << "d = 0x" << std::hex << bad << " in block " << std::dec << at;
    }
  }
  {  // The smallest positive d (an f16 subnormal) is fine.
    std::vector<uint8_t> b = blocks;
    b[0] = 0x01, b[1] = 0x00;
    EXPECT_TRUE(pack(b.data(), n, k, bytes).ok());
  }
  // The packed buffer: short, null, misaligned.
  EXPECT_EQ(pack(blocks.data(), n, k, bytes - 1).code(), StatusCode::kBufferTooSmall);
  EXPECT_EQ(gemm_pack_rhs_q4_0<QD8QB4W>(blocks.data(), n, k, nullptr, nullptr, bytes).code(),
            StatusCode::kNullPointer);
  EXPECT_EQ(gemm_pack_rhs_q4_0<QD8QB4W>(blocks.data(), n, k, nullptr, packed + 1, bytes).code(),
            StatusCode::kInvalidArgument);
}

TEST(Qb4wGemmBadInput, MultiplyRefusedWithAStatus) {
  const size_t m = 4, n = 6, k = 64;
  std::vector<float> a(m * k, 1.0f), c(m * n), t(n * 2, 0.1f), w(n, 0.1f);
  std::vector<int8_t> values(k * n, 1);
  const Int4View b{values.data(), k, n, n, Int4Storage::kInt8};
  BlockScales scales;
  scales.data = t.data(), scales.type = ScaleType::kF32, scales.block = 32, scales.ld = 2;
  size_t bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8QB4W>(n, k, 32, &bytes).ok());
  std::vector<uint8_t> packed(bytes);
  ASSERT_TRUE(
      gemm_pack_rhs<QD8QB4W>(b, RhsLayout::kKxN, nullptr, scales, packed.data(), bytes).ok());
  const auto av = dense_matrix<const float>(a.data(), m, k);
  const auto cv = dense_matrix(c.data(), m, n);
  ASSERT_TRUE(gemm<QD8QB4W>(av, packed.data(), bytes, cv).ok());
  for (float x : c) EXPECT_NEAR(x, 6.4, 1e-5);  // 1 * 1 * 64 * 0.1
  // Short buffers, null pointers, mismatched shapes.
  EXPECT_EQ(gemm<QD8QB4W>(av, packed.data(), bytes - 1, cv).code(), StatusCode::kBufferTooSmall);
  EXPECT_EQ(gemm<QD8QB4W>(av, nullptr, bytes, cv).code(), StatusCode::kNullPointer);
  EXPECT_EQ(
      gemm<QD8QB4W>(MatrixView<const float>{nullptr, m, k, k}, packed.data(), bytes, cv).code(),
      StatusCode::kNullPointer);
  EXPECT_EQ(gemm<QD8QB4W>(MatrixView<const float>{a.data(), m, k - 32, k}, packed.data(), bytes, cv)
                .code(),
            StatusCode::kPackedMismatch);  // K, a multiple of the block
  EXPECT_EQ(gemm<QD8QB4W>(MatrixView<const float>{a.data(), m, k - 1, k}, packed.data(), bytes, cv)
                .code(),
            StatusCode::kPackedMismatch);  // K, not one
  EXPECT_EQ(
      gemm<QD8QB4W>(av, packed.data(), bytes, MatrixView<float>{c.data(), m, n - 1, n}).code(),
      StatusCode::kPackedMismatch);  // N
  size_t ws_bytes = 0;
  ASSERT_TRUE(gemm_workspace_size<QD8QB4W>(m, n, k, &ws_bytes).ok());
  EXPECT_EQ(gemm_workspace_size<QD8QB4W>(m, n, k, nullptr).code(), StatusCode::kNullPointer);
  if (ws_bytes > 0) {
    std::vector<uint8_t> ws(ws_bytes);
    EXPECT_TRUE(gemm<QD8QB4W>(av, packed.data(), bytes, cv, {}, ws.data(), ws_bytes).ok());
    EXPECT_EQ(gemm<QD8QB4W>(av, packed.data(), bytes, cv, {}, ws.data(), ws_bytes - 1).code(),
              StatusCode::kBufferTooSmall);
  }
  // QD8QC4W weights are not QD8QB4W weights, and the other way round.
  size_t c4_bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8QC4W>(n, k, &c4_bytes).ok());
  std::vector<uint8_t> qc4w_packed(c4_bytes);
  ASSERT_TRUE(
      gemm_pack_rhs<QD8QC4W>(b, RhsLayout::kKxN, nullptr, w.data(), qc4w_packed.data(), c4_bytes)
          .ok());
  ASSERT_TRUE(gemm<QD8QC4W>(av, qc4w_packed.data(), c4_bytes, cv).ok());
  EXPECT_EQ(gemm<QD8QB4W>(av, qc4w_packed.data(), c4_bytes, cv).code(),
            StatusCode::kPackedMismatch);
  EXPECT_EQ(gemm<QD8QC4W>(av, packed.data(), bytes, cv).code(), StatusCode::kPackedMismatch);
  // Nor QD8 (int8) weights.
  size_t q_bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<QD8>(n, k, &q_bytes).ok());
  std::vector<uint8_t> qd8_packed(q_bytes);
  ASSERT_TRUE(gemm_pack_rhs<QD8>(dense_matrix<const int8_t>(values.data(), k, n), RhsLayout::kKxN,
                                 nullptr, w.data(), qd8_packed.data(), q_bytes)
                  .ok());
  EXPECT_EQ(gemm<QD8QB4W>(av, qd8_packed.data(), q_bytes, cv).code(), StatusCode::kPackedMismatch);
  EXPECT_EQ(gemm<QD8>(av, packed.data(), bytes, cv).code(), StatusCode::kPackedMismatch);
  // Nor F32 weights.
  std::vector<float> fb(k * n, 1.0f);
  size_t f_bytes = 0;
  ASSERT_TRUE(gemm_packed_rhs_size<F32>(n, k, &f_bytes).ok());
  std::vector<uint8_t> f_packed(f_bytes);
  ASSERT_TRUE(gemm_pack_rhs<F32>(dense_matrix<const float>(fb.data(), k, n), RhsLayout::kKxN,
                                 nullptr, f_packed.data(), f_bytes)
                  .ok());
  EXPECT_EQ(gemm<QD8QB4W>(av, f_packed.data(), f_bytes, cv).code(), StatusCode::kPackedMismatch);
  EXPECT_EQ(gemm<F32>(av, packed.data(), bytes, cv).code(), StatusCode::kPackedMismatch);
}

}  // namespace
}  // namespace test
}  // namespace sme2k
