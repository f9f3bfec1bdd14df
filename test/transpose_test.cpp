// Layout transforms: transpose<T> and convert_layout<T> move bits, so every test compares
// bytes (memcmp), never values: sources are random bit patterns with NaNs (signaling ones,
// payloads), infinities, -0 and subnormals planted in them, and a NaN must come out with the
// bits it went in with. Element types of 1, 2 and 4 bytes (int8_t, uint8_t, f16, float,
// int32_t); shapes from 1 x 1 through odd sizes to the sizes around the ZA tile side of the
// element size at the run's SVL (SVL bytes / sizeof(T) on the SME2 path), tall, wide and
// thin; leading dimensions above the columns, whose gaps must keep their sentinel; batches,
// both directions and round trips for convert_layout; the path taken (the configuration's,
// and the forced portable one); guard pages on either side, canaries and the ABI check; and
// every bad input with its exact StatusCode, without a write.
#include "sme2k/ops/transpose.hpp"

#include <gtest/gtest.h>

#include <cstddef>
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
#include "sme2k/sme2k.hpp"
#include "sme2k/types/f16.hpp"
#include "testers/expect_status.hpp"

namespace sme2k {
namespace test {
namespace {

constexpr size_t kMax = std::numeric_limits<size_t>::max();
constexpr size_t kPtrdiffMax = static_cast<size_t>(PTRDIFF_MAX);
constexpr uint8_t kSentinel = 0x5a;    // every byte of a destination before the call
constexpr size_t kPortableBlock = 16;  // transpose_portable's block side

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, int8_t>) return "int8_t";
  if constexpr (std::is_same_v<T, uint8_t>) return "uint8_t";
  if constexpr (std::is_same_v<T, f16>) return "f16";
  if constexpr (std::is_same_v<T, float>) return "float";
  if constexpr (std::is_same_v<T, int32_t>) return "int32_t";
  return "?";
}

// The unsigned integer of an element's size, to spell bit patterns.
template <size_t kBytes>
using UintOf =
    std::conditional_t<kBytes == 1, uint8_t, std::conditional_t<kBytes == 2, uint16_t, uint32_t>>;

// Seeded full-width bit patterns (splitmix64).
class RandomBits {
 public:
  explicit RandomBits(uint64_t seed)
      : state_(seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }

 private:
  uint64_t state_;
};

// Bit patterns that a copy through floating-point registers or arithmetic could alter: NaNs
// (signaling, quiet, with payloads, negative), infinities, -0, subnormals.
template <size_t kBytes>
std::vector<UintOf<kBytes>> special_patterns() {
  if constexpr (kBytes == 1) {
    return {0x00, 0x7f, 0x80, 0xff};
  } else if constexpr (kBytes == 2) {
    return {0x7c01, 0xfc01, 0x7e00, 0x7dff, 0xffff, 0x7c00, 0x8000, 0x0001, 0x83ff};
  } else {
    return {0x7f800001u, 0xff800001u, 0x7fc00000u, 0x7fbfffffu, 0xffffffffu,
            0x7f800000u, 0x80000000u, 0x00000001u, 0x807fffffu};
  }
}

template <class T>
uint8_t* bytes_of(GuardedArray<T>& a) {
  return reinterpret_cast<uint8_t*>(a.data());
}
template <class T>
const uint8_t* bytes_of(const GuardedArray<T>& a) {
  return reinterpret_cast<const uint8_t*>(a.data());
}

// Random bits everywhere (gaps included), then every special pattern at a random element.
template <class T>
void fill_random(GuardedArray<T>& a, RandomBits& bits) {
  uint8_t* p = bytes_of(a);
  const size_t n = a.size_bytes();
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = bits.next();
    std::memcpy(p + i, &v, n - i < 8 ? n - i : 8);
  }
  for (const auto pattern : special_patterns<sizeof(T)>()) {
    std::memcpy(p + bits.below(a.size()) * sizeof(T), &pattern, sizeof(T));
  }
}

template <class T>
void fill_sentinel(GuardedArray<T>& a) {
  if (a.size_bytes() != 0) std::memset(bytes_of(a), kSentinel, a.size_bytes());
}

template <class T>
std::string element_hex(const uint8_t* p) {
  UintOf<sizeof(T)> v;
  std::memcpy(&v, p, sizeof v);
  char s[16];
  std::snprintf(s, sizeof s, "0x%0*x", static_cast<int>(2 * sizeof(T)), static_cast<unsigned>(v));
  return s;
}

// Every byte of `got` against `want` (gaps included); names the first elements that differ
// through where(element index).
template <class T, class Where>
void expect_same_bytes(const GuardedArray<T>& got, const std::vector<uint8_t>& want,
                       Where&& where) {
  ASSERT_EQ(got.size_bytes(), want.size());
  if (std::memcmp(bytes_of(got), want.data(), want.size()) == 0) return;
  size_t failures = 0;
  for (size_t e = 0; e < got.size(); ++e) {
    const uint8_t* g = bytes_of(got) + e * sizeof(T);
    const uint8_t* w = want.data() + e * sizeof(T);
    if (std::memcmp(g, w, sizeof(T)) != 0 && failures++ < 8) {
      ADD_FAILURE() << where(e) << ": got " << element_hex<T>(g) << ", want " << element_hex<T>(w);
    }
  }
  ADD_FAILURE() << failures << " of " << got.size() << " elements differ: not bit-exact";
}

// The path the op must take: the configuration's (ctest), else what dispatch picks.
Path default_path() { return expected_path().value_or(select_path()); }

// Poisons last_used_path() with a path neither op records, so the check after a call sees
// what that call recorded.
void poison_last_used_path() { ::sme2k::detail::record_path(Path::kSme2F16F16); }

// ZA tile side for T on the SME2 path (SVL bytes / sizeof(T)); without SME, the side the
// tile would have at the smallest SVL (128 bits), so the sizes still vary with the type.
template <class T>
size_t tile_side() {
  const size_t svl_bytes = streaming_vector_bytes();
  return (svl_bytes != 0 ? svl_bytes : 16) / sizeof(T);
}

// 1, side - 1, side, side + 1, 2 side + 1 (ascending, distinct, >= 1).
std::vector<size_t> sizes_around(size_t side) {
  std::vector<size_t> sizes;
  for (size_t s : {size_t{1}, side - 1, side, side + 1, 2 * side + 1}) {
    if (s >= 1 && (sizes.empty() || s > sizes.back())) sizes.push_back(s);
  }
  return sizes;
}

std::string svl_text() {
  return " svl=" + std::to_string(streaming_vector_bytes() * 8) +
         " path=" + path_name(select_path());
}

// ---------------------------------------------------------------------------------------
// transpose

struct TransposeCase {
  size_t rows = 1, cols = 1;
  size_t lds = 0, ldd = 0;  // 0: dense
  GuardSide side = GuardSide::kEnd;
  uint64_t seed = 1;

  size_t src_ld() const { return lds != 0 ? lds : cols; }
  size_t dst_ld() const { return ldd != 0 ? ldd : rows; }
  std::string describe() const {
    char s[160];
    std::snprintf(s, sizeof s, "src %zu x %zu ld %zu -> dst %zu x %zu ld %zu, guard %s, seed %llu",
                  rows, cols, src_ld(), cols, rows, dst_ld(), guard_side_name(side),
                  static_cast<unsigned long long>(seed));
    return s;
  }
};

template <class T>
void check_transpose(const TransposeCase& t, Path expected) {
  SCOPED_TRACE(std::string(type_name<T>()) + ": " + t.describe() + svl_text());
  const size_t lds = t.src_ld(), ldd = t.dst_ld();
  RandomBits bits(t.seed);
  GuardedArray<T> src((t.rows - 1) * lds + t.cols, t.side);
  GuardedArray<T> dst((t.cols - 1) * ldd + t.rows, t.side);
  fill_random(src, bits);
  fill_sentinel(dst);
  const std::vector<uint8_t> src_before(bytes_of(src), bytes_of(src) + src.size_bytes());

  std::vector<uint8_t> want(dst.size_bytes(), kSentinel);
  for (size_t r = 0; r < t.rows; ++r) {
    for (size_t c = 0; c < t.cols; ++c) {
      std::memcpy(&want[(c * ldd + r) * sizeof(T)], &src_before[(r * lds + c) * sizeof(T)],
                  sizeof(T));
    }
  }

  poison_last_used_path();
  Status s;
  SME2K_EXPECT_ABI_PRESERVED(s = transpose<T>(MatrixView<const T>{src.data(), t.rows, t.cols, lds},
                                              MatrixView<T>{dst.data(), t.cols, t.rows, ldd}));
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_STREQ(path_name(last_used_path()), path_name(expected));
  EXPECT_TRUE(src.canary_intact()) << "source canary";
  EXPECT_TRUE(dst.canary_intact()) << "destination canary: a write outside the matrix";
  EXPECT_EQ(std::memcmp(bytes_of(src), src_before.data(), src_before.size()), 0)
      << "the source was written";
  expect_same_bytes(dst, want, [&](size_t e) {
    const size_t row = e / ldd, col = e % ldd;
    return "dst(" + std::to_string(row) + ", " + std::to_string(col) + ")" +
           (col >= t.rows ? " [gap between rows]" : "");
  });
}

template <class T>
class Transpose : public ::testing::Test {};

using ElementTypes = ::testing::Types<int8_t, uint8_t, f16, float, int32_t>;
TYPED_TEST_SUITE(Transpose, ElementTypes);

// Every pair of sizes around the tile side (and 1): full tiles, one short, one over (a
// tail of one row or column), two tiles and a tail.
TYPED_TEST(Transpose, SizesAroundTheTile) {
  using T = TypeParam;
  const Path path = default_path();
  const std::vector<size_t> sizes = sizes_around(tile_side<T>());
  uint64_t seed = 1;
  for (size_t rows : sizes) {
    for (size_t cols : sizes) {
      TransposeCase t;
      t.rows = rows, t.cols = cols, t.seed = seed++;
      t.side = seed % 2 ? GuardSide::kEnd : GuardSide::kStart;
      check_transpose<T>(t, path);
    }
  }
}

// Odd sizes, very wide and very tall shapes, single rows and columns.
TYPED_TEST(Transpose, OddAndNonSquareShapes) {
  using T = TypeParam;
  const Path path = default_path();
  const size_t s = tile_side<T>();
  const size_t shapes[][2] = {{1, 1},         {1, 2},     {2, 1},         {3, 5},
                              {7, 3},         {1, s + 3}, {s + 3, 1},     {1, 3 * s + 2},
                              {3 * s + 2, 1}, {2, s + 1}, {s - 1, 3},     {5, 2 * s + 1},
                              {2 * s + 1, 5}, {13, 17},   {s + 1, s - 1}, {3 * s + 1, s / 2 + 1}};
  uint64_t seed = 100;
  for (const auto& shape : shapes) {
    TransposeCase t;
    t.rows = shape[0], t.cols = shape[1], t.seed = seed++;
    t.side = seed % 2 ? GuardSide::kEnd : GuardSide::kStart;
    check_transpose<T>(t, path);
  }
}

// Leading dimensions above the columns on either side or both: the source's gaps hold random
// bits that must not reach the destination, the destination's keep the sentinel.
TYPED_TEST(Transpose, LeadingDimensionsWithGaps) {
  using T = TypeParam;
  const Path path = default_path();
  const size_t s = tile_side<T>();
  struct Shape {
    size_t rows, cols, lds, ldd;
  };
  const Shape shapes[] = {{1, 1, 3, 2},
                          {3, 5, 6, 4},
                          {5, 3, 3, 9},
                          {s, s, s + 1, s + 1},
                          {s + 1, s - 1, 2 * s, s + 3},
                          {s - 1, s + 1, s + 1, 3 * s},
                          {2 * s + 1, s + 2, s + 7, 2 * s + 2},
                          {s + 3, 2 * s + 1, 2 * s + 1, s + 3},  // dense src, gappy dst
                          {1, 2 * s + 1, 4 * s, 2},
                          {2 * s + 1, 1, 5, 3 * s}};
  uint64_t seed = 200;
  for (const Shape& shape : shapes) {
    TransposeCase t;
    t.rows = shape.rows, t.cols = shape.cols, t.lds = shape.lds, t.ldd = shape.ldd;
    t.seed = seed++;
    t.side = seed % 2 ? GuardSide::kEnd : GuardSide::kStart;
    check_transpose<T>(t, path);
  }
}

TYPED_TEST(Transpose, RandomShapesAndStrides) {
  using T = TypeParam;
  const Path path = default_path();
  const size_t s = tile_side<T>();
  RandomBits r(7);
  for (uint64_t i = 0; i < 10; ++i) {
    TransposeCase t;
    t.rows = 1 + r.below(2 * s + 2), t.cols = 1 + r.below(2 * s + 2);
    t.lds = r.below(2) ? t.cols + r.below(9) : 0;
    t.ldd = r.below(2) ? t.rows + r.below(9) : 0;
    t.side = r.below(2) ? GuardSide::kEnd : GuardSide::kStart;
    t.seed = 300 + i;
    check_transpose<T>(t, path);
  }
}

// The portable path, forced, in every configuration: around its 16 x 16 blocks and around
// the ZA tile side, with gaps.
TYPED_TEST(Transpose, PortablePath) {
  using T = TypeParam;
  testing::ScopedForcePath force(Path::kPortable);
  const size_t sizes[] = {1, kPortableBlock - 1, kPortableBlock, kPortableBlock + 1,
                          2 * kPortableBlock + 1};
  uint64_t seed = 400;
  for (size_t rows : sizes) {
    for (size_t cols : sizes) {
      TransposeCase t;
      t.rows = rows, t.cols = cols, t.seed = seed++;
      t.lds = seed % 3 == 0 ? cols + 2 : 0;
      t.ldd = seed % 4 == 0 ? rows + 5 : 0;
      t.side = seed % 2 ? GuardSide::kEnd : GuardSide::kStart;
      check_transpose<T>(t, Path::kPortable);
    }
  }
  const size_t s = tile_side<T>();
  TransposeCase t;
  t.rows = 2 * s + 1, t.cols = s - 1, t.lds = s + 1, t.ldd = 2 * s + 4, t.seed = 450;
  check_transpose<T>(t, Path::kPortable);
  t.rows = s + 1, t.cols = 2 * s + 1, t.lds = 0, t.ldd = 0, t.seed = 451;
  t.side = GuardSide::kStart;
  check_transpose<T>(t, Path::kPortable);
}

// ---------------------------------------------------------------------------------------
// convert_layout

struct LayoutCase {
  size_t batch = 1, channels = 1, height = 1, width = 1;
  GuardSide side = GuardSide::kEnd;
  uint64_t seed = 1;

  size_t elements() const { return batch * channels * height * width; }
  std::string describe() const {
    char s[120];
    std::snprintf(s, sizeof s, "N %zu C %zu H %zu W %zu, guard %s, seed %llu", batch, channels,
                  height, width, guard_side_name(side), static_cast<unsigned long long>(seed));
    return s;
  }
};

// Offset of element (n, c, h, w) in a dense tensor of shape t in `layout`.
size_t offset_of(const LayoutCase& t, TensorLayout layout, size_t n, size_t c, size_t h, size_t w) {
  if (layout == TensorLayout::kNCHW) return ((n * t.channels + c) * t.height + h) * t.width + w;
  return ((n * t.height + h) * t.width + w) * t.channels + c;
}

std::string position_of(const LayoutCase& t, TensorLayout layout, size_t e) {
  size_t n, c, h, w;
  if (layout == TensorLayout::kNCHW) {
    w = e % t.width, e /= t.width;
    h = e % t.height, e /= t.height;
    c = e % t.channels, n = e / t.channels;
  } else {
    c = e % t.channels, e /= t.channels;
    w = e % t.width, e /= t.width;
    h = e % t.height, n = e / t.height;
  }
  char s[96];
  std::snprintf(s, sizeof s, "%s (n %zu, c %zu, h %zu, w %zu)", tensor_layout_name(layout), n, c, h,
                w);
  return s;
}

template <class T>
std::vector<uint8_t> reference_layout(const LayoutCase& t, const uint8_t* src, TensorLayout from,
                                      TensorLayout to) {
  std::vector<uint8_t> out(t.elements() * sizeof(T), kSentinel);
  for (size_t n = 0; n < t.batch; ++n) {
    for (size_t c = 0; c < t.channels; ++c) {
      for (size_t h = 0; h < t.height; ++h) {
        for (size_t w = 0; w < t.width; ++w) {
          std::memcpy(&out[offset_of(t, to, n, c, h, w) * sizeof(T)],
                      src + offset_of(t, from, n, c, h, w) * sizeof(T), sizeof(T));
        }
      }
    }
  }
  return out;
}

// One call from `in` (left unchanged) into `out` (sentinel before), checked against want.
template <class T>
void run_convert(const LayoutCase& t, const GuardedArray<T>& in, TensorLayout from,
                 GuardedArray<T>& out, TensorLayout to, const std::vector<uint8_t>& want,
                 Path expected) {
  SCOPED_TRACE(std::string(tensor_layout_name(from)) + " -> " + tensor_layout_name(to));
  const std::vector<uint8_t> in_before(bytes_of(in), bytes_of(in) + in.size_bytes());
  fill_sentinel(out);
  poison_last_used_path();
  Status s;
  SME2K_EXPECT_ABI_PRESERVED(s = convert_layout<T>(in.data(), from, out.data(), to, t.batch,
                                                   t.channels, t.height, t.width));
  ASSERT_TRUE(s.ok()) << s.message();
  // A copy between equal layouts runs no transpose kernel and records no path.
  if (from != to) EXPECT_STREQ(path_name(last_used_path()), path_name(expected));
  EXPECT_TRUE(in.canary_intact()) << "source canary";
  EXPECT_TRUE(out.canary_intact()) << "destination canary: a write outside the tensor";
  EXPECT_EQ(std::memcmp(bytes_of(in), in_before.data(), in_before.size()), 0)
      << "the source was written";
  expect_same_bytes(out, want, [&](size_t e) { return position_of(t, to, e); });
}

// Both directions, the round trip NCHW -> NHWC -> NCHW (and back the other way), and the
// copies between equal layouts.
template <class T>
void check_convert(const LayoutCase& t, Path expected) {
  SCOPED_TRACE(std::string(type_name<T>()) + ": " + t.describe() + svl_text());
  constexpr TensorLayout kNchw = TensorLayout::kNCHW, kNhwc = TensorLayout::kNHWC;
  RandomBits bits(t.seed);
  GuardedArray<T> nchw(t.elements(), t.side), nhwc(t.elements(), t.side);
  GuardedArray<T> back(t.elements(),
                       t.side == GuardSide::kEnd ? GuardSide::kStart : GuardSide::kEnd);
  fill_random(nchw, bits);
  const std::vector<uint8_t> original(bytes_of(nchw), bytes_of(nchw) + nchw.size_bytes());

  const std::vector<uint8_t> want_nhwc = reference_layout<T>(t, original.data(), kNchw, kNhwc);
  run_convert(t, nchw, kNchw, nhwc, kNhwc, want_nhwc, expected);
  run_convert(t, nhwc, kNhwc, back, kNchw, original, expected);  // round trip
  run_convert(t, nchw, kNchw, back, kNchw, original, expected);  // copy

  // From random NHWC bits of its own (not a converted tensor) the other way.
  fill_random(nhwc, bits);
  const std::vector<uint8_t> source(bytes_of(nhwc), bytes_of(nhwc) + nhwc.size_bytes());
  const std::vector<uint8_t> want_nchw = reference_layout<T>(t, source.data(), kNhwc, kNchw);
  run_convert(t, nhwc, kNhwc, nchw, kNchw, want_nchw, expected);
  run_convert(t, nchw, kNchw, back, kNhwc, source, expected);  // round trip
  run_convert(t, nhwc, kNhwc, back, kNhwc, source, expected);  // copy
}

template <class T>
std::vector<LayoutCase> layout_cases() {
  const size_t s = tile_side<T>();
  // {N, C, H, W}: C and H*W (the transposed matrix's sides) around the tile side.
  const size_t shapes[][4] = {{1, 1, 1, 1},
                              {3, 1, 1, 1},
                              {2, 3, 5, 7},
                              {1, s, 1, s},
                              {2, s - 1, 1, s + 1},
                              {3, s + 1, 3, 5},
                              {2, 5, 1, s - 1},
                              {2, 2 * s + 1, 1, 3},
                              {3, 3, 3, s / 2 + 1},
                              {1, 1, 2, s + 1},
                              {4, s + 1, 1, 1},
                              {2, s + 2, 2, s / 2},
                              {1, 2 * s + 1, 2, s + 1}};
  std::vector<LayoutCase> cases;
  uint64_t seed = 500;
  for (const auto& shape : shapes) {
    LayoutCase t;
    t.batch = shape[0], t.channels = shape[1], t.height = shape[2], t.width = shape[3];
    t.seed = seed++;
    t.side = seed % 2 ? GuardSide::kEnd : GuardSide::kStart;
    cases.push_back(t);
  }
  return cases;
}

template <class T>
class ConvertLayout : public ::testing::Test {};
TYPED_TEST_SUITE(ConvertLayout, ElementTypes);

TYPED_TEST(ConvertLayout, BothDirectionsRoundTripAndCopy) {
  using T = TypeParam;
  const Path path = default_path();
  for (const LayoutCase& t : layout_cases<T>()) check_convert<T>(t, path);
}

TYPED_TEST(ConvertLayout, PortablePath) {
  using T = TypeParam;
  testing::ScopedForcePath force(Path::kPortable);
  const size_t b = kPortableBlock, s = tile_side<T>();
  const size_t shapes[][4] = {
      {1, 1, 1, 1}, {2, b, 1, b}, {3, b + 1, 3, 5}, {2, b - 1, 2, b + 1}, {2, s + 1, 1, 2 * s + 1}};
  uint64_t seed = 600;
  for (const auto& shape : shapes) {
    LayoutCase t;
    t.batch = shape[0], t.channels = shape[1], t.height = shape[2], t.width = shape[3];
    t.seed = seed++;
    t.side = seed % 2 ? GuardSide::kEnd : GuardSide::kStart;
    check_convert<T>(t, Path::kPortable);
  }
}

// ---------------------------------------------------------------------------------------
// Dispatch

// Without the override each configuration takes the path it implies, at the SVL it implies
// (the sizes above are derived from streaming_vector_bytes(): it must be the run's).
TEST(TransposeDispatch, ConfigurationTakesItsPath) {
  const std::optional<Path> expected = expected_path();
  const std::optional<size_t> svl = expected_svl_bits();
  if (!expected || !svl) GTEST_SKIP() << "SME2K_EXPECT_PATH / SVL not set (run outside ctest)";
  EXPECT_EQ(streaming_vector_bytes() * 8, *svl);
  EXPECT_STREQ(path_name(select_path()), path_name(*expected));
  TransposeCase t;
  t.rows = 9, t.cols = 11;
  check_transpose<float>(t, *expected);
  LayoutCase l;
  l.batch = 2, l.channels = 3, l.height = 4, l.width = 5;
  check_convert<f16>(l, *expected);
  if (*expected != Path::kPortable) {  // and back to the default after a forced portable call
    {
      testing::ScopedForcePath force(Path::kPortable);
      check_transpose<int8_t>(t, Path::kPortable);
    }
    check_transpose<int8_t>(t, *expected);
  }
}

// ---------------------------------------------------------------------------------------
// Bad input: the exact code, a message, and nothing written.

template <class T>
class TransposeBadInput : public ::testing::Test {};
TYPED_TEST_SUITE(TransposeBadInput, ElementTypes);

TYPED_TEST(TransposeBadInput, RefusedWithAStatus) {
  using T = TypeParam;
  constexpr size_t rows = 3, cols = 5;
  GuardedArray<T> src(rows * cols), dst(cols * rows);
  RandomBits bits(9);
  fill_random(src, bits);
  fill_sentinel(dst);
  const MatrixView<const T> a{src.data(), rows, cols, cols};
  const MatrixView<T> b{dst.data(), cols, rows, rows};
  const auto run = [](MatrixView<const T> x, MatrixView<T> y) { return transpose<T>(x, y); };

  // Null pointers.
  EXPECT_STATUS(StatusCode::kNullPointer, run({nullptr, rows, cols, cols}, b));
  EXPECT_STATUS(StatusCode::kNullPointer, run(a, {nullptr, cols, rows, rows}));
  EXPECT_STATUS(StatusCode::kNullPointer,
                run({nullptr, rows, cols, cols}, {nullptr, cols, rows, rows}));
  // Zero sizes.
  EXPECT_STATUS(StatusCode::kInvalidArgument, run({src.data(), 0, cols, cols}, b));
  EXPECT_STATUS(StatusCode::kInvalidArgument, run({src.data(), rows, 0, cols}, b));
  EXPECT_STATUS(StatusCode::kInvalidArgument, run({src.data(), 0, 0, 0}, {dst.data(), 0, 0, 0}));
  EXPECT_STATUS(StatusCode::kInvalidArgument, run(a, {dst.data(), 0, rows, rows}));
  EXPECT_STATUS(StatusCode::kInvalidArgument, run(a, {dst.data(), cols, 0, rows}));
  // A destination that is not the transpose's shape.
  EXPECT_STATUS(StatusCode::kInvalidArgument, run(a, {dst.data(), rows, cols, cols}));
  EXPECT_STATUS(StatusCode::kInvalidArgument, run(a, {dst.data(), cols, rows - 1, rows}));
  EXPECT_STATUS(StatusCode::kInvalidArgument, run(a, {dst.data(), cols - 1, rows, rows}));
  EXPECT_STATUS(StatusCode::kInvalidArgument, run(a, {dst.data(), 1, 1, 1}));
  // Leading dimensions below the columns (validate_matrix: kInvalidArgument).
  EXPECT_STATUS(StatusCode::kInvalidArgument, run({src.data(), rows, cols, cols - 1}, b));
  EXPECT_STATUS(StatusCode::kInvalidArgument, run({src.data(), rows, cols, 0}, b));
  EXPECT_STATUS(StatusCode::kInvalidArgument, run(a, {dst.data(), cols, rows, rows - 1}));
  EXPECT_STATUS(StatusCode::kInvalidArgument, run(a, {dst.data(), cols, rows, 0}));
  // Extents that overflow size_t or exceed PTRDIFF_MAX bytes (refused before any access).
  EXPECT_STATUS(StatusCode::kSizeOverflow,
                run({src.data(), 2, kMax, kMax}, {dst.data(), kMax, 2, 2}));
  EXPECT_STATUS(StatusCode::kSizeOverflow,
                run({src.data(), kMax, 1, 1}, {dst.data(), 1, kMax, kMax}));
  EXPECT_STATUS(StatusCode::kSizeOverflow, run({src.data(), 3, cols, kMax / 2}, b));
  EXPECT_STATUS(StatusCode::kSizeOverflow, run(a, {dst.data(), cols, rows, kMax / 4}));
  {
    const size_t just_over = kPtrdiffMax / sizeof(T) + 1;  // one row of PTRDIFF_MAX + 1 bytes
    EXPECT_STATUS(StatusCode::kSizeOverflow,
                  run({src.data(), 1, just_over, just_over}, {dst.data(), just_over, 1, 1}));
    EXPECT_STATUS(StatusCode::kSizeOverflow,
                  run({src.data(), just_over, 1, 1}, {dst.data(), 1, just_over, just_over}));
  }
  EXPECT_TRUE(dst.canary_intact());
  for (size_t i = 0; i < dst.size_bytes(); ++i) {
    ASSERT_EQ(bytes_of(dst)[i], kSentinel) << "a refused call wrote byte " << i;
  }
}

TYPED_TEST(TransposeBadInput, OverlappingSourceAndDestination) {
  using T = TypeParam;
  constexpr size_t rows = 3, cols = 5, n = rows * cols;
  GuardedArray<T> buf(4 * n);
  RandomBits bits(10);
  fill_random(buf, bits);
  const std::vector<uint8_t> before(bytes_of(buf), bytes_of(buf) + buf.size_bytes());
  T* p = buf.data();
  const auto run = [](MatrixView<const T> x, MatrixView<T> y) { return transpose<T>(x, y); };

  // In place (even square), one element shared at either end, inside a strided source.
  EXPECT_STATUS(StatusCode::kInvalidArgument, run({p, 4, 4, 4}, {p, 4, 4, 4}));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                run({p, rows, cols, cols}, {p + n - 1, cols, rows, rows}));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                run({p + n - 1, rows, cols, cols}, {p, cols, rows, rows}));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                run({p, rows, cols, cols}, {p + 3, cols, rows, rows}));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                run({p, rows, cols, 2 * cols}, {p + 2 * cols + cols, cols, rows, rows}));
  // The destination's last row ends inside the source (its first rows lie before it).
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                run({p + 2 * n, rows, cols, cols}, {p + n, cols, rows, rows + 2}));
  EXPECT_EQ(std::memcmp(bytes_of(buf), before.data(), before.size()), 0) << "a refused call wrote";
  EXPECT_TRUE(buf.canary_intact());

  // Adjacent, not overlapping: accepted, and right (the source ends where the destination
  // begins, and the other way round).
  for (const bool dst_after : {true, false}) {
    SCOPED_TRACE(dst_after ? "destination right after the source" : "source right after");
    T* s = dst_after ? p : p + n;
    T* d = dst_after ? p + n : p;
    const std::vector<uint8_t> src_bytes(reinterpret_cast<uint8_t*>(s),
                                         reinterpret_cast<uint8_t*>(s + n));
    EXPECT_STATUS(StatusCode::kOk, run({s, rows, cols, cols}, {d, cols, rows, rows}));
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        EXPECT_EQ(std::memcmp(&d[c * rows + r], &src_bytes[(r * cols + c) * sizeof(T)], sizeof(T)),
                  0)
            << "(" << r << ", " << c << ")";
      }
    }
  }
}

template <class T>
class ConvertLayoutBadInput : public ::testing::Test {};
TYPED_TEST_SUITE(ConvertLayoutBadInput, ElementTypes);

TYPED_TEST(ConvertLayoutBadInput, RefusedWithAStatus) {
  using T = TypeParam;
  constexpr TensorLayout kNchw = TensorLayout::kNCHW, kNhwc = TensorLayout::kNHWC;
  constexpr size_t N = 2, C = 3, H = 2, W = 5;
  GuardedArray<T> src(N * C * H * W), dst(N * C * H * W);
  RandomBits bits(11);
  fill_random(src, bits);
  fill_sentinel(dst);
  const T* s = src.data();
  T* d = dst.data();

  // Null pointers.
  EXPECT_STATUS(StatusCode::kNullPointer, convert_layout<T>(nullptr, kNchw, d, kNhwc, N, C, H, W));
  EXPECT_STATUS(StatusCode::kNullPointer, convert_layout<T>(s, kNchw, nullptr, kNhwc, N, C, H, W));
  EXPECT_STATUS(StatusCode::kNullPointer, convert_layout<T>(s, kNhwc, nullptr, kNhwc, N, C, H, W));
  // Zero sizes, each one alone, in both directions and for a copy.
  for (const TensorLayout to : {kNhwc, kNchw}) {
    EXPECT_STATUS(StatusCode::kInvalidArgument, convert_layout<T>(s, kNchw, d, to, 0, C, H, W));
    EXPECT_STATUS(StatusCode::kInvalidArgument, convert_layout<T>(s, kNchw, d, to, N, 0, H, W));
    EXPECT_STATUS(StatusCode::kInvalidArgument, convert_layout<T>(s, kNchw, d, to, N, C, 0, W));
    EXPECT_STATUS(StatusCode::kInvalidArgument, convert_layout<T>(s, kNchw, d, to, N, C, H, 0));
  }
  EXPECT_STATUS(StatusCode::kInvalidArgument, convert_layout<T>(s, kNhwc, d, kNchw, N, C, H, 0));
  // Unknown layouts, on either side, and on both sides alike (which must not be taken for a
  // copy between equal layouts).
  for (const int bad : {0, 3, 255}) {
    const auto u = static_cast<TensorLayout>(bad);
    EXPECT_STATUS(StatusCode::kInvalidArgument, convert_layout<T>(s, u, d, kNhwc, N, C, H, W));
    EXPECT_STATUS(StatusCode::kInvalidArgument, convert_layout<T>(s, kNchw, d, u, N, C, H, W));
    EXPECT_STATUS(StatusCode::kInvalidArgument, convert_layout<T>(s, u, d, u, N, C, H, W));
  }
  // Sizes whose products or byte counts overflow, or exceed PTRDIFF_MAX bytes.
  const size_t just_over = kPtrdiffMax / sizeof(T) + 1;
  for (const TensorLayout to : {kNhwc, kNchw}) {
    EXPECT_STATUS(StatusCode::kSizeOverflow, convert_layout<T>(s, kNchw, d, to, 1, 1, kMax, 2));
    EXPECT_STATUS(StatusCode::kSizeOverflow, convert_layout<T>(s, kNchw, d, to, 1, kMax / 2, 1, 3));
    EXPECT_STATUS(StatusCode::kSizeOverflow, convert_layout<T>(s, kNchw, d, to, kMax / 4, 3, 1, 2));
    EXPECT_STATUS(StatusCode::kSizeOverflow, convert_layout<T>(s, kNchw, d, to, 1, 1, 1, kMax));
    EXPECT_STATUS(StatusCode::kSizeOverflow,
                  convert_layout<T>(s, kNchw, d, to, 1, 1, 1, just_over));
    EXPECT_STATUS(StatusCode::kSizeOverflow,
                  convert_layout<T>(s, kNchw, d, to, just_over, 1, 1, 1));
    EXPECT_STATUS(StatusCode::kSizeOverflow,
                  convert_layout<T>(s, kNchw, d, to, kMax, kMax, kMax, kMax));
  }
  EXPECT_TRUE(dst.canary_intact());
  for (size_t i = 0; i < dst.size_bytes(); ++i) {
    ASSERT_EQ(bytes_of(dst)[i], kSentinel) << "a refused call wrote byte " << i;
  }
}

TYPED_TEST(ConvertLayoutBadInput, OverlappingSourceAndDestination) {
  using T = TypeParam;
  constexpr TensorLayout kNchw = TensorLayout::kNCHW, kNhwc = TensorLayout::kNHWC;
  constexpr size_t N = 2, C = 3, H = 1, W = 4, n = N * C * H * W;
  GuardedArray<T> buf(3 * n);
  RandomBits bits(12);
  fill_random(buf, bits);
  const std::vector<uint8_t> before(bytes_of(buf), bytes_of(buf) + buf.size_bytes());
  T* p = buf.data();
  for (const TensorLayout to : {kNhwc, kNchw}) {  // a transpose, and a copy
    SCOPED_TRACE(tensor_layout_name(to));
    EXPECT_STATUS(StatusCode::kInvalidArgument, convert_layout<T>(p, kNchw, p, to, N, C, H, W));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  convert_layout<T>(p, kNchw, p + n - 1, to, N, C, H, W));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  convert_layout<T>(p + n - 1, kNchw, p, to, N, C, H, W));
    EXPECT_STATUS(StatusCode::kInvalidArgument, convert_layout<T>(p + 1, kNchw, p, to, N, C, H, W));
  }
  EXPECT_EQ(std::memcmp(bytes_of(buf), before.data(), before.size()), 0) << "a refused call wrote";
  EXPECT_TRUE(buf.canary_intact());

  // Adjacent: accepted, and right.
  LayoutCase t;
  t.batch = N, t.channels = C, t.height = H, t.width = W;
  const std::vector<uint8_t> want =
      reference_layout<T>(t, reinterpret_cast<const uint8_t*>(p), kNchw, kNhwc);
  EXPECT_STATUS(StatusCode::kOk, convert_layout<T>(p, kNchw, p + n, kNhwc, N, C, H, W));
  EXPECT_EQ(std::memcmp(p + n, want.data(), want.size()), 0);
  EXPECT_STATUS(StatusCode::kOk, convert_layout<T>(p + n, kNhwc, p, kNchw, N, C, H, W));
  EXPECT_EQ(std::memcmp(p, before.data(), n * sizeof(T)), 0) << "round trip";
  EXPECT_TRUE(buf.canary_intact());
}

}  // namespace
}  // namespace test
}  // namespace sme2k
