// CPU feature detection and the dispatch decision: decoding of Linux AT_HWCAP2 values (those
// QEMU reports, and SME-without-SME2 as some Android devices ship), what the running
// configuration must observe, and the test overrides.
#include <gtest/gtest.h>

#include <string>

#include "harness/expectations.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k {
namespace {

constexpr uint64_t kBit = 1;

TEST(CpuFeatures, DecodesLinuxHwcap2) {
  // qemu-aarch64 11.1 -cpu max: everything sme2k knows of.
  const CpuFeatures max = cpu_features_from_linux_hwcap2(0x7fffbff47fc77fffull);
  for (CpuFeature f : {CpuFeature::kSme, CpuFeature::kSme2, CpuFeature::kSme2p1,
                       CpuFeature::kSmeF16F16, CpuFeature::kSmeB16B16, CpuFeature::kSmeLutv2,
                       CpuFeature::kSmeI16I64, CpuFeature::kSmeFa64}) {
    EXPECT_TRUE(max.has(f)) << static_cast<unsigned>(f);
  }
  // -cpu max,sme_fa64=off clears bit 30 only.
  const CpuFeatures no_fa64 = cpu_features_from_linux_hwcap2(0x7fffbff43fc77fffull);
  EXPECT_TRUE(no_fa64.has(CpuFeature::kSme2));
  EXPECT_FALSE(no_fa64.has(CpuFeature::kSmeFa64));
  // -cpu max,sme=off: no SME bits at all.
  EXPECT_EQ(cpu_features_from_linux_hwcap2(0x1ffb81400477fffull), CpuFeatures{});
}

TEST(CpuFeatures, EachBitMapsToOneFeature) {
  EXPECT_EQ(cpu_features_from_linux_hwcap2(kBit << 23), CpuFeatures{}.with(CpuFeature::kSme));
  const CpuFeatures sme = CpuFeatures{}.with(CpuFeature::kSme);
  const struct {
    int bit;
    CpuFeature feature;
  } cases[] = {{24, CpuFeature::kSmeI16I64}, {30, CpuFeature::kSmeFa64},
               {37, CpuFeature::kSme2},      {38, CpuFeature::kSme2p1},
               {41, CpuFeature::kSmeB16B16}, {42, CpuFeature::kSmeF16F16},
               {57, CpuFeature::kSmeLutv2}};
  for (const auto& c : cases) {
    EXPECT_EQ(cpu_features_from_linux_hwcap2((kBit << 23) | (kBit << c.bit)), sme.with(c.feature))
        << "bit " << c.bit;
    // Without the SME bit, nothing counts.
    EXPECT_EQ(cpu_features_from_linux_hwcap2(kBit << c.bit), CpuFeatures{}) << "bit " << c.bit;
  }
}

TEST(Dispatch, SmeWithoutSme2IsPortable) {
  const CpuFeatures sme_only = cpu_features_from_linux_hwcap2((kBit << 23) | (kBit << 30));
  EXPECT_TRUE(sme_only.has(CpuFeature::kSme));
  EXPECT_FALSE(path_available(Path::kSme2, sme_only));
  EXPECT_EQ(select_path(sme_only), Path::kPortable);
  EXPECT_EQ(select_path(CpuFeatures{}), Path::kPortable);
}

TEST(Dispatch, Sme2IsChosenWhereBuiltIn) {
  const CpuFeatures sme2 = CpuFeatures{}.with(CpuFeature::kSme).with(CpuFeature::kSme2);
  EXPECT_EQ(select_path(sme2), SME2K_HAS_SME2_CODE ? Path::kSme2 : Path::kPortable);
  EXPECT_EQ(path_available(Path::kSme2F16F16, sme2), false);
  EXPECT_EQ(path_available(Path::kSme2F16F16, sme2.with(CpuFeature::kSmeF16F16)),
            bool{SME2K_HAS_SME2_CODE});
}

// What ctest told this run to expect, against what sme2k detects.
TEST(Dispatch, ConfigurationIsWhatItClaims) {
  const auto path = test::expected_path();
  const auto svl = test::expected_svl_bits();
  if (!path || !svl) GTEST_SKIP() << "SME2K_EXPECT_PATH / SME2K_EXPECT_SVL not set";
  EXPECT_STREQ(path_name(select_path()), path_name(*path));
  EXPECT_EQ(streaming_vector_bytes() * 8, *svl);
  EXPECT_EQ(streaming_vl() * 32, *svl);
  EXPECT_EQ(cpu_features().has(CpuFeature::kSme), *svl != 0);
}

TEST(Dispatch, ForcingNeverPicksWhatTheCpuLacks) {
  {
    testing::ScopedForcePath force(Path::kPortable);
    EXPECT_EQ(select_path(), Path::kPortable);
  }
  testing::ScopedForcePath force(Path::kSme2F16F16);
  EXPECT_EQ(select_path(CpuFeatures{}), Path::kPortable);
  const CpuFeatures sme2 = CpuFeatures{}.with(CpuFeature::kSme).with(CpuFeature::kSme2);
  EXPECT_EQ(select_path(sme2), SME2K_HAS_SME2_CODE ? Path::kSme2 : Path::kPortable);
}

TEST(Dispatch, FeatureOverrideOnlyNarrows) {
  const CpuFeatures detected = detect_cpu_features();
  {
    testing::ScopedCpuFeatures none(CpuFeatures{});
    EXPECT_EQ(cpu_features(), CpuFeatures{});
    EXPECT_EQ(select_path(), Path::kPortable);
    EXPECT_EQ(streaming_vector_bytes(), 0u);
    {
      testing::ScopedCpuFeatures all(CpuFeatures{~0u});  // cannot add what the CPU lacks
      EXPECT_EQ(cpu_features(), detected);
    }
    EXPECT_EQ(cpu_features(), CpuFeatures{});
  }
  EXPECT_EQ(cpu_features(), detected);
}

TEST(Dispatch, FeatureNames) {
  EXPECT_EQ(cpu_features_string(CpuFeatures{}), "");
  EXPECT_EQ(cpu_features_string(CpuFeatures{}.with(CpuFeature::kSme).with(CpuFeature::kSme2)),
            "sme sme2");
  EXPECT_STREQ(path_name(Path::kSme2), "sme2");
  EXPECT_STREQ(path_name(Path::kPortable), "portable");
}

}  // namespace
}  // namespace sme2k
