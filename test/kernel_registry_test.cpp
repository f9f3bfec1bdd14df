// Every GEMM kernel of the registry (kernels/registry.hpp, GemmKernels) run through the op on
// its own path (testing::ScopedForcePath), for the rows it serves and tails of N and K, against
// the reference (integers bit for bit, floats within test/reference/'s bounds):
// - a small-M kernel (kMaxRows): every M in 1..kMaxRows;
// - an any-M kernel: M 1, tile - 1, tile, tile + 1, 2 tile + 3 (tile: the rows of its name's
//   tile, docs/naming.md), leaving out the M its path's small-M kernel takes instead;
// - N one short of the tile's columns and two tiles and 3, K short and long with a tail;
// - gemm_plan() names the kernel for each call, and last_used_path() is its path afterwards.
// The suite is typed over GemmKernels itself, so a kernel added to the registry is run here;
// one whose variant has no problem maker (testers/gemm_problem.hpp) stops the build with a
// static_assert naming it. A kernel whose path this CPU lacks (SME off) is skipped, not passed.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "sme2k/sme2k.hpp"
#include "testers/gemm_problem.hpp"

namespace sme2k {
namespace test {
namespace {

template <class V>
inline constexpr bool kHasProblem =
    std::is_same_v<V, F32> || std::is_same_v<V, F16> || std::is_same_v<V, F16Acc16> ||
    std::is_same_v<V, QS8> || std::is_same_v<V, QD8> || std::is_same_v<V, QD8QC4W> ||
    std::is_same_v<V, QD8QB4W> || std::is_same_v<V, BF16>;

/// One extent of a kernel's tile from its name: "4" -> 4, "2vl" -> 2 VL (f32 words; VL 4 where
/// the CPU has no SME, for the portable kernels' fixed tiles this is not used).
size_t extent(std::string_view token) {
  const size_t vl_at = token.find("vl");
  const std::string digits(token.substr(0, vl_at));
  const size_t count = digits.empty() ? 1 : std::stoul(digits);
  if (vl_at == std::string_view::npos) return count;
  const size_t vl = streaming_vl();
  return count * (vl != 0 ? vl : 4);
}

struct Tile {
  size_t rows = 0, cols = 0;
};

/// The tile of a kernel named gemm_..._<rows>x<cols>_<path>_<method>.
Tile tile_of(std::string_view name) {
  std::vector<std::string_view> parts;
  for (size_t at = 0; at <= name.size();) {
    const size_t end = std::min(name.find('_', at), name.size());
    parts.push_back(name.substr(at, end - at));
    at = end + 1;
  }
  const std::string_view tile = parts.size() >= 3 ? parts[parts.size() - 3] : "";
  const size_t x = tile.find('x');
  if (x == std::string_view::npos) return {};
  return {extent(tile.substr(0, x)), extent(tile.substr(x + 1))};
}

/// The M the op runs K for (row-major C).
template <class K>
std::vector<size_t> rows_for(const Tile& tile) {
  std::vector<size_t> ms;
  if constexpr (kKernelUse<K> == KernelUse::kSmallM) {
    for (size_t m = 1; m <= K::kMaxRows; ++m) ms.push_back(m);
  } else {
    using SmallM = GemmKernelFor<typename K::Variant, K::kPath, KernelUse::kSmallM>;
    size_t below = 0;  // the small-M kernel's rows
    if constexpr (!std::is_void_v<SmallM>) below = SmallM::kMaxRows;
    const size_t t = tile.rows;
    for (size_t m : {size_t{1}, below + 1, t - 1, t, t + 1, 2 * t + 3}) {
      if (m > below && m >= 1 && (ms.empty() || m > ms.back())) ms.push_back(m);
    }
  }
  return ms;
}

template <class K>
class RegistryKernel : public ::testing::Test {};

template <class List>
struct GtestTypes;
template <class... Ks>
struct GtestTypes<TypeList<Ks...>> {
  using type = ::testing::Types<Ks...>;
};
using Kernels = GtestTypes<GemmKernels>::type;

struct KernelNames {
  template <class K>
  static std::string GetName(int) {
    return std::string(K::kName);
  }
};
TYPED_TEST_SUITE(RegistryKernel, Kernels, KernelNames);

TYPED_TEST(RegistryKernel, RunsItsRowsAndTailsThroughTheOp) {
  using K = TypeParam;
  using V = typename K::Variant;
  static_assert(kHasProblem<V>,
                "kernel_registry_test: a registered kernel's variant has no problem maker "
                "(testers/gemm_problem.hpp): add one so the kernel is tested");
  if (!path_available(K::kPath, cpu_features())) {
    GTEST_SKIP() << K::kName << ": this CPU has no " << path_name(K::kPath) << " path";
  }
  const Tile tile = tile_of(K::kName);
  ASSERT_GT(tile.rows, 0u) << K::kName << ": no <rows>x<cols> tile in the name";
  const std::vector<size_t> ms = rows_for<K>(tile);
  ASSERT_FALSE(ms.empty());
  constexpr bool kBlocks = std::is_same_v<V, QD8QB4W>;  // K a multiple of the 32-block
  const size_t n_short = tile.cols > 1 ? tile.cols - 1 : 1;
  const struct {
    size_t n, k;
  } shapes[] = {{n_short, kBlocks ? size_t{32} : size_t{5}},
                {2 * tile.cols + 3, kBlocks ? size_t{96} : size_t{67}}};
  testing::ScopedForcePath force(K::kPath);
  for (const auto& shape : shapes) {
    const Problem<V> p = make_problem<V>(ms.back(), shape.n, shape.k, ms.back() + shape.n);
    for (size_t m : ms) {
      OpPlan plan;  // the kernel the op says it runs for this call is K
      ASSERT_TRUE(gemm_plan<V>(m, shape.n, shape.k, &plan).ok());
      EXPECT_EQ(plan.kernel, K::kName) << "M " << m << ", N " << shape.n << ", K " << shape.k;
      const std::string off = run_rows(p, m);
      EXPECT_TRUE(off.empty()) << K::kName << ", M " << m << ", N " << shape.n << ", K " << shape.k
                               << ", SVL " << streaming_vl() * 32 << ": " << off;
      EXPECT_STREQ(path_name(last_used_path()), path_name(K::kPath)) << K::kName << ", M " << m;
    }
  }
}

}  // namespace
}  // namespace test
}  // namespace sme2k
