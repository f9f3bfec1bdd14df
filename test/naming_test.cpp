// Every registered kernel is named by docs/naming.md, and its name tells the truth: the
// operand fields are the formats it consumes, the tile is its m_step x n_step, the engine is
// its path, and each format descriptor matches the format's panel width, KR and bias.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <type_traits>

#include "sme2k/sme2k.hpp"

namespace sme2k {
namespace {

constexpr size_t kVl = 16;  // any VL works; 16 is SVL 512

// "2vl" -> 2 * kVl, "8" -> 8.
size_t extent(const std::string& s) {
  if (s.size() > 2 && s.compare(s.size() - 2, 2, "vl") == 0) {
    return std::stoul(s.substr(0, s.size() - 2)) * kVl;
  }
  return std::stoul(s);
}

const std::regex kOperand("([a-z]+[0-9]+)(?:p([0-9]+(?:vl)?)x([0-9]+)(?:b([a-z]+[0-9]+))?)?");
const std::regex kKernel(
    "(gemm)_([a-z]+[0-9]+)_([a-z0-9]+)_([a-z0-9]+)_([0-9]+(?:vl)?)x([0-9]+(?:vl)?)_"
    "(sme2|portable)_(mopa|dot|loops)");

template <class T>
std::string dtype() {
  if (std::is_same_v<T, float>) return "f32";
  if (std::is_same_v<T, f16>) return "f16";
  if (std::is_same_v<T, bf16>) return "bf16";
  if (std::is_same_v<T, int8_t>) return "qs8";
  if (std::is_same_v<T, Qs8ChannelParams>) return "s32";  // folded s32 bias (+ f32 scale)
  if (std::is_same_v<T, Qd8ChannelParams>) return "f32";  // f32 bias (+ column sum, scale)
  return "?";
}

// QD8's int8 operands are named for how they are quantized: activations per row at run
// time (qd8), weights symmetric per channel with their column sums (qc8; qc4 for 4-bit).
template <class V>
std::string lhs_dtype() {
  if (std::is_same_v<V, QD8> || std::is_same_v<V, QD8QC4W> || std::is_same_v<V, QD8QB4W>) {
    return "qd8";
  }
  return dtype<typename VariantTraits<V>::Lhs>();
}
template <class V, class T>
std::string rhs_dtype() {
  if (std::is_same_v<V, QD8>) return "qc8";
  if (std::is_same_v<V, QD8QC4W>) return "qc4";
  if (std::is_same_v<V, QD8QB4W>) return "qb4";
  return dtype<T>();
}

template <class V, class Format>
void check_rhs_descriptor(std::string_view name) {
  std::smatch m;
  const std::string s(name);
  ASSERT_TRUE(std::regex_match(s, m, kOperand)) << s;
  ASSERT_TRUE(m[2].matched) << s << " is a packed RHS: it needs p<extent>x<kr>";
  EXPECT_EQ(extent(m[2]), Format::nr(kVl)) << s;
  EXPECT_EQ(std::stoul(m[3]), Format::kKr) << s;
  EXPECT_TRUE(m[4].matched) << s << ": every RHS format so far has a bias row";
  EXPECT_EQ(m[1].str(), (rhs_dtype<V, typename Format::Element>())) << s;
  EXPECT_EQ(m[4].str(), dtype<typename Format::BiasElement>()) << s;
}

template <class Kernel>
void check_kernel() {
  const std::string name(Kernel::kName);
  SCOPED_TRACE(name);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(name, m, kKernel)) << "does not follow docs/naming.md";
  EXPECT_EQ(m[2].str(), dtype<typename VariantTraits<typename Kernel::Variant>::Out>());
  EXPECT_EQ(m[3].str(), std::string(Kernel::LhsFormat::kName));
  EXPECT_EQ(m[4].str(), std::string(Kernel::RhsFormat::kName));
  EXPECT_EQ(extent(m[5]), Kernel::m_step(kVl));
  EXPECT_EQ(extent(m[6]), Kernel::n_step(kVl));
  EXPECT_EQ(m[7].str(), Kernel::kPath == Path::kPortable ? "portable" : "sme2");
  std::smatch lhs;
  const std::string lhs_name(Kernel::LhsFormat::kName);
  ASSERT_TRUE(std::regex_match(lhs_name, lhs, kOperand)) << lhs_name;
  if (lhs[2].matched) EXPECT_EQ(extent(lhs[2]), Kernel::m_step(kVl)) << lhs_name;
  check_rhs_descriptor<typename Kernel::Variant, typename Kernel::RhsFormat>(
      Kernel::RhsFormat::kName);
  EXPECT_EQ(lhs[1].str(), lhs_dtype<typename Kernel::Variant>());
}

template <class... Ks>
void check_all(TypeList<Ks...>) {
  (check_kernel<Ks>(), ...);
}

TEST(Naming, EveryRegisteredKernel) { check_all(GemmKernels{}); }

// Attention kernels read Q, K and V where they lie: the operand fields are plain dtypes, the
// dst is the output written, the tile is q_step query rows (per head) x kv_step keys.
const std::regex kAttentionKernel(
    "(attention)_([a-z]+[0-9]+)_([a-z]+[0-9]+)_([a-z]+[0-9]+)_([0-9]+(?:vl)?)x([0-9]+(?:vl)?)_"
    "(sme2|portable)_(mopa|dot|loops)");

template <class Kernel>
void check_attention_kernel() {
  const std::string name(Kernel::kName);
  SCOPED_TRACE(name);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(name, m, kAttentionKernel)) << "does not follow docs/naming.md";
  EXPECT_EQ(m[2].str(), dtype<typename Kernel::Output>());
  EXPECT_EQ(m[3].str(), dtype<typename Kernel::Input>());
  EXPECT_EQ(m[4].str(), dtype<typename Kernel::Input>());
  EXPECT_EQ(extent(m[5]), Kernel::q_step(kVl));
  EXPECT_EQ(extent(m[6]), Kernel::kv_step(kVl));
  EXPECT_EQ(m[7].str(), Kernel::kPath == Path::kPortable ? "portable" : "sme2");
}

template <class... Ks>
void check_all_attention(TypeList<Ks...>) {
  (check_attention_kernel<Ks>(), ...);
}

TEST(Naming, EveryAttentionKernel) { check_all_attention(AttentionKernels{}); }

TEST(Naming, RegistryTableMatchesTypes) {
  size_t sme2 = 0, portable = 0;
  for (const KernelInfo& k : kGemmKernelInfos.items) {
    EXPECT_FALSE(k.name.empty());
    // The tech says what the kernel is for: outer products for any M, dots for few rows.
    EXPECT_EQ(k.use == KernelUse::kSmallM, k.name.find("_dot") != std::string_view::npos) << k.name;
    (k.path == Path::kPortable ? portable : sme2) += 1;
  }
  // Every variant of the table has a portable kernel and, in an SME2 build, an any-M SME2
  // kernel (its own, or its fallback variant's): a variant cannot be added half-way.
  size_t variants = 0;
  for_each_variant([&](auto tag) {
    using V = typename decltype(tag)::type;
    ++variants;
    EXPECT_FALSE((std::is_void_v<GemmKernelFor<V, Path::kPortable>>)) << VariantTraits<V>::kName;
    if (SME2K_HAS_SME2_CODE) {
      EXPECT_FALSE((std::is_void_v<GemmKernelFor<V, Path::kSme2>>)) << VariantTraits<V>::kName;
    }
  });
  EXPECT_GE(portable, variants - 1);  // F16Acc16 runs F16's portable kernel
  EXPECT_EQ(sme2 == 0, !SME2K_HAS_SME2_CODE);
}

TEST(Naming, PackedFormatIdsNameTheirFormats) {
  EXPECT_EQ(RhsF32p2vlx1bf32::kName, "f32p2vlx1bf32");
  EXPECT_EQ(RhsF32p8x1bf32::kName, "f32p8x1bf32");
  EXPECT_EQ(LhsF32p2vlx1::kName, "f32p2vlx1");
  EXPECT_EQ(RhsF16p2vlx2bf32::kName, "f16p2vlx2bf32");
  EXPECT_EQ(RhsF16p8x1bf32::kName, "f16p8x1bf32");
  EXPECT_EQ(LhsF16p2vlx2::kName, "f16p2vlx2");
  EXPECT_EQ(RhsF16p4vlx1bf16::kName, "f16p4vlx1bf16");
  EXPECT_EQ(LhsF16p2vlx1::kName, "f16p2vlx1");
  EXPECT_EQ(RhsQs8p2vlx4bs32::kName, "qs8p2vlx4bs32");
  EXPECT_EQ(RhsQs8p8x1bs32::kName, "qs8p8x1bs32");
  EXPECT_EQ(LhsQs8p2vlx4::kName, "qs8p2vlx4");
  EXPECT_EQ(RhsQc8p2vlx4bf32::kName, "qc8p2vlx4bf32");
  EXPECT_EQ(RhsQc8p8x1bf32::kName, "qc8p8x1bf32");
  EXPECT_EQ(RhsQc4p2vlx4bf32::kName, "qc4p2vlx4bf32");
  EXPECT_EQ(RhsQc4p8x1bf32::kName, "qc4p8x1bf32");
  EXPECT_EQ(RhsQb4p2vlx4bf32::kName, "qb4p2vlx4bf32");
  EXPECT_EQ(RhsQb4p8x1bf32::kName, "qb4p8x1bf32");
  EXPECT_EQ(LhsQd8p2vlx4::kName, "qd8p2vlx4");
  EXPECT_EQ(RhsBf16p2vlx2bf32::kName, "bf16p2vlx2bf32");
  EXPECT_EQ(RhsBf16p8x1bf32::kName, "bf16p8x1bf32");
  EXPECT_EQ(LhsBf16p2vlx2::kName, "bf16p2vlx2");
}

}  // namespace
}  // namespace sme2k
