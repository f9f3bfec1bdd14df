// The LLM row ops (ops/rms_norm.hpp, ops/layer_norm.hpp, ops/rope.hpp) against the f64
// reference (test/reference/row_ops.hpp), f32 and f16 rows, within the error bounds stated
// and derived there (rms_norm_bound, layer_norm_bound, rope_bound, f16_rounding).
// Shapes: rows of 1, VL - 1, VL, VL + 1, 2VL + 1, 4VL + 3 elements at the run's VL (and odd
// ones), row counts around the kernels' blocks of 4, 8 and 16 rows, strided rows whose gaps
// must keep their sentinel, in place; RoPE on [B, S, H, D] and [B, H, S, D] with a capacity
// beyond S, both pairings, partial rotary_dim (elements past it bit-identical), head counts
// around the group of 4, position arrays and a first position. Operands sit against guard
// pages; every call runs under the ABI check; a split into tasks gives the same bits; bad
// input returns its exact code and writes nothing.
#include "reference/row_ops.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "harness/abi_check.hpp"
#include "harness/expectations.hpp"
#include "harness/guarded_buffer.hpp"
#include "sme2k/sme2k.hpp"
#include "testers/expect_status.hpp"

namespace sme2k {
namespace test {
namespace {

constexpr uint16_t kSentinel16 = 0x7e5a;  // a NaN: any arithmetic on a gap would show

Path default_path() { return expected_path().value_or(select_path()); }
// The VL the sizes are chosen around: the run's, or 8 (the portable kernel's lanes).
size_t test_vl() { return streaming_vl() != 0 ? streaming_vl() : 8; }

std::vector<size_t> lengths_around_vl() {
  const size_t vl = test_vl();
  return {1, vl - 1, vl, vl + 1, 2 * vl + 1, 4 * vl + 3, 37};
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 6364136223846793005ull + 1442695040888963407ull) {}
  double uniform(double lo, double hi) {
    s_ = s_ * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * static_cast<double>(s_ >> 11) / 9007199254740992.0;
  }

 private:
  uint64_t s_;
};

template <class T>
T from_double(double v) {
  return convert_to<T>(static_cast<float>(v));
}
template <class T>
uint32_t bits_of(T v) {
  if constexpr (std::is_same_v<T, f16>) {
    return v.bits;
  } else {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    return b;
  }
}
template <class T>
T sentinel() {
  if constexpr (std::is_same_v<T, f16>) {
    return f16::from_bits(kSentinel16);
  } else {
    return std::numeric_limits<float>::quiet_NaN();
  }
}
template <class T>
double out_rounding(double ref) {
  return std::is_same_v<T, f16> ? reference::f16_rounding(ref) : 0.0;
}

// ---------------------------------------------------------------------------------------
// rms_norm / layer_norm

struct NormCase {
  size_t rows = 1, cols = 1;
  size_t ldx_pad = 0, ldy_pad = 0;
  bool weight = true, bias = false, in_place = false;
  float eps = 1e-5f;
  double offset = 0.0;  // added to every x (LayerNorm's mean)
  GuardSide side = GuardSide::kEnd;
  uint64_t seed = 1;
};

std::string describe(const NormCase& c) {
  char s[200];
  std::snprintf(s, sizeof s,
                "rows %zu cols %zu ldx +%zu ldy +%zu weight %d bias %d in_place %d eps %g "
                "offset %g seed %llu VL %zu",
                c.rows, c.cols, c.ldx_pad, c.ldy_pad, c.weight, c.bias, c.in_place,
                static_cast<double>(c.eps), c.offset, static_cast<unsigned long long>(c.seed),
                streaming_vl());
  return s;
}

template <class T>
void check_norm(const NormCase& c, bool rms, const ParallelFor& parallel = {},
                Path want = default_path()) {
  SCOPED_TRACE(describe(c));
  const size_t ldx = c.cols + c.ldx_pad, ldy = c.in_place ? ldx : c.cols + c.ldy_pad;
  GuardedArray<T> x((c.rows - 1) * ldx + c.cols, c.side);
  GuardedArray<T> y_own(c.in_place ? 0 : (c.rows - 1) * ldy + c.cols, c.side);
  GuardedArray<float> w(c.cols, c.side), b(c.cols, c.side);
  Rng rng(c.seed);
  x.fill(sentinel<T>());
  for (size_t r = 0; r < c.rows; ++r) {
    for (size_t i = 0; i < c.cols; ++i)
      x[r * ldx + i] = from_double<T>(c.offset + rng.uniform(-2, 2));
  }
  for (size_t i = 0; i < c.cols; ++i) {
    w[i] = static_cast<float>(rng.uniform(-1.5, 1.5));
    b[i] = static_cast<float>(rng.uniform(-1, 1));
  }
  const std::vector<T> x0 = x.to_vector();
  if (!c.in_place) y_own.fill(sentinel<T>());
  T* y = c.in_place ? x.data() : y_own.data();
  const MatrixView<const T> xv{x.data(), c.rows, c.cols, ldx};
  const MatrixView<T> yv{y, c.rows, c.cols, ldy};
  const float* wp = c.weight ? w.data() : nullptr;
  const float* bp = c.bias ? b.data() : nullptr;
  Status s;
  SME2K_EXPECT_ABI_PRESERVED(s = rms ? rms_norm<T>(xv, yv, wp, c.eps, parallel)
                                     : layer_norm<T>(xv, yv, wp, bp, c.eps, parallel));
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_STREQ(path_name(last_used_path()), path_name(want));
  size_t failures = 0;
  for (size_t r = 0; r < c.rows; ++r) {
    std::vector<double> xr(c.cols), wr, br;
    for (size_t i = 0; i < c.cols; ++i) xr[i] = to_f32(x0[r * ldx + i]);
    if (c.weight) wr.assign(w.begin(), w.end());
    if (c.bias) br.assign(b.begin(), b.end());
    const std::vector<double> ref =
        rms ? reference::rms_norm_row(xr, wr, c.eps) : reference::layer_norm_row(xr, wr, br, c.eps);
    double mean = 0.0, inv = 0.0, mean_abs = 0.0;
    reference::layer_norm_stats(xr, c.eps, &mean, &inv);
    for (double v : xr) mean_abs += std::fabs(v) / static_cast<double>(c.cols);
    for (size_t i = 0; i < c.cols; ++i) {
      const double wi = c.weight ? std::fabs(wr[i]) : 1.0;
      double bound = rms ? reference::rms_norm_bound(ref[i], c.cols)
                         : reference::layer_norm_bound(xr[i], mean, mean_abs, inv, wi,
                                                       c.bias ? std::fabs(br[i]) : 0.0, c.cols);
      bound += out_rounding<T>(ref[i]);
      const double got = to_f32(y[r * ldy + i]);
      if (!(std::fabs(got - ref[i]) <= bound) && failures++ < 8) {
        ADD_FAILURE() << "(" << r << ", " << i << "): got " << got << ", want " << ref[i]
                      << " (bound " << bound << ")";
      }
    }
    // The gap after the row keeps its sentinel (the last row has none).
    if (!c.in_place && r + 1 < c.rows) {
      for (size_t i = c.cols; i < ldy; ++i) {
        if (bits_of(y[r * ldy + i]) != bits_of(sentinel<T>()) && failures++ < 8) {
          ADD_FAILURE() << "gap (" << r << ", " << i << ") written";
        }
      }
    }
  }
  if (c.in_place) {
    for (size_t r = 0; r + 1 < c.rows; ++r) {
      for (size_t i = c.cols; i < ldx; ++i) {
        if (bits_of(x[r * ldx + i]) != bits_of(sentinel<T>())) ADD_FAILURE() << "gap written";
      }
    }
  } else {
    for (size_t i = 0; i < x.size(); ++i) {
      if (bits_of(x[i]) != bits_of(x0[i])) {
        ADD_FAILURE() << "x[" << i << "] changed";
        break;
      }
    }
  }
  EXPECT_TRUE(x.canary_intact() && w.canary_intact() && b.canary_intact());
  if (!c.in_place) EXPECT_TRUE(y_own.canary_intact());
}

template <class T>
class RowNorm : public ::testing::Test {};
using RowTypes = ::testing::Types<float, f16>;
TYPED_TEST_SUITE(RowNorm, RowTypes);

TYPED_TEST(RowNorm, RowLengthsAroundTheVector) {
  for (bool rms : {true, false}) {
    for (size_t cols : lengths_around_vl()) {
      for (size_t rows : {size_t{1}, size_t{5}, size_t{17}}) {
        NormCase c;
        c.rows = rows, c.cols = cols, c.seed = rows * 1000 + cols;
        c.weight = rows != 5;
        c.bias = !rms && rows != 1;
        c.offset = rms ? 0.0 : 3.0;
        check_norm<TypeParam>(c, rms);
      }
    }
  }
}

TYPED_TEST(RowNorm, RowCountsAroundTheBlocks) {
  for (bool rms : {true, false}) {
    for (size_t rows : {2, 3, 4, 7, 8, 9, 12, 15, 16, 33}) {
      NormCase c;
      c.rows = rows, c.cols = test_vl() + 3, c.seed = rows, c.bias = !rms;
      check_norm<TypeParam>(c, rms);
    }
  }
}

TYPED_TEST(RowNorm, StridedInPlaceGuardsAndEps) {
  for (bool rms : {true, false}) {
    NormCase c;
    c.rows = 6, c.cols = 2 * test_vl() + 5, c.ldx_pad = 3, c.ldy_pad = 7, c.bias = !rms;
    check_norm<TypeParam>(c, rms);
    c.side = GuardSide::kStart;
    check_norm<TypeParam>(c, rms);
    c.in_place = true;
    check_norm<TypeParam>(c, rms);
    c.side = GuardSide::kEnd, c.eps = 0.75f;  // large enough to change every output
    check_norm<TypeParam>(c, rms);
    c.eps = 0.0f, c.in_place = false, c.weight = false, c.bias = false;
    check_norm<TypeParam>(c, rms);
  }
}

TYPED_TEST(RowNorm, LongRows) {
  for (bool rms : {true, false}) {
    NormCase c;
    c.rows = 5, c.cols = 1000, c.offset = rms ? 0.0 : 20.0, c.bias = !rms;
    check_norm<TypeParam>(c, rms);
  }
}

// A pool splitting the rows into tasks (run in reverse order) gives the serial bits.
TYPED_TEST(RowNorm, TasksGiveTheSerialBits) {
  using T = TypeParam;
  for (bool rms : {true, false}) {
    const size_t rows = 45, cols = 2 * test_vl() + 1;
    std::vector<T> x(rows * cols), y1(rows * cols), y2(rows * cols);
    Rng rng(7);
    for (T& v : x) v = from_double<T>(rng.uniform(-3, 3));
    std::vector<float> w(cols, 0.5f);
    auto reverse = [](size_t count, ParallelTaskRef task) {
      for (size_t i = count; i-- > 0;) task(i);
    };
    const ParallelFor pf = make_parallel_for(reverse, 3);
    const MatrixView<const T> xv{x.data(), rows, cols, cols};
    if (rms) {
      ASSERT_TRUE(rms_norm<T>(xv, {y1.data(), rows, cols, cols}, w.data(), 1e-6f).ok());
      ASSERT_TRUE(rms_norm<T>(xv, {y2.data(), rows, cols, cols}, w.data(), 1e-6f, pf).ok());
    } else {
      ASSERT_TRUE(layer_norm<T>(xv, {y1.data(), rows, cols, cols}, w.data(), w.data(), 1e-6f).ok());
      ASSERT_TRUE(
          layer_norm<T>(xv, {y2.data(), rows, cols, cols}, w.data(), w.data(), 1e-6f, pf).ok());
    }
    EXPECT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(T)), 0);
  }
}

// The plan names the path's kernel and the number of tasks the op hands the pool.
TYPED_TEST(RowNorm, PlanSaysWhatRuns) {
  using T = TypeParam;
  const size_t rows = 45, cols = 33;
  std::vector<T> x(rows * cols, from_double<T>(1.0)), y(rows * cols);
  size_t counted = 0;
  auto count = [&counted](size_t n, ParallelTaskRef task) {
    counted = n;
    for (size_t i = 0; i < n; ++i) task(i);
  };
  const ParallelFor pf = make_parallel_for(count, 8);
  for (bool rms : {true, false}) {
    for (bool portable : {false, true}) {
      testing::ScopedForcePath force(portable ? Path::kPortable : select_path());
      OpPlan plan;
      ASSERT_TRUE(
          (rms ? rms_norm_plan<T>(rows, &plan, pf) : layer_norm_plan<T>(rows, &plan, pf)).ok());
      const MatrixView<const T> xv{x.data(), rows, cols, cols};
      const MatrixView<T> yv{y.data(), rows, cols, cols};
      ASSERT_TRUE((rms ? rms_norm<T>(xv, yv, nullptr, 1e-6f, pf)
                       : layer_norm<T>(xv, yv, nullptr, nullptr, 1e-6f, pf))
                      .ok());
      EXPECT_EQ(plan.path, last_used_path());
      EXPECT_EQ(plan.tasks, counted);  // 45 rows: 3 blocks of 16 (RMSNorm), 6 of 8
      EXPECT_EQ(plan.tasks, rms ? 3u : 6u);
      EXPECT_EQ(plan.workspace_bytes, 0u);
      EXPECT_EQ(plan.kernel == "row_norm_portable", plan.path == Path::kPortable) << plan.kernel;
    }
    EXPECT_STATUS(StatusCode::kNullPointer,
                  rms ? rms_norm_plan<T>(rows, nullptr) : layer_norm_plan<T>(rows, nullptr));
  }
}

TYPED_TEST(RowNorm, PortablePath) {
  testing::ScopedForcePath force(Path::kPortable);
  for (bool rms : {true, false}) {
    NormCase c;
    c.rows = 9, c.cols = 19, c.ldx_pad = 2, c.bias = !rms;
    SCOPED_TRACE("forced portable");
    const ParallelFor none{};
    check_norm<TypeParam>(c, rms, none, Path::kPortable);
    EXPECT_EQ(last_used_path(), Path::kPortable);
  }
}

/// `p` one byte on: misaligned for its f32 / int32 elements (the alignment rule's test).
template <class T>
T* misaligned(T* p) {
  return reinterpret_cast<T*>(reinterpret_cast<uintptr_t>(p) + 1);
}

TEST(RowNormBadInput, RefusedWithAStatus) {
  constexpr size_t rows = 3, cols = 5;
  std::vector<float> x(rows * cols, 1.0f), y(rows * cols, -7.0f), w(cols, 1.0f);
  const MatrixView<const float> xv{x.data(), rows, cols, cols};
  const MatrixView<float> yv{y.data(), rows, cols, cols};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> spare(rows * cols + 1, 1.0f);
  for (bool rms : {true, false}) {
    auto run = [&](MatrixView<const float> a, MatrixView<float> b, const float* wp, float eps) {
      return rms ? rms_norm<float>(a, b, wp, eps) : layer_norm<float>(a, b, wp, nullptr, eps);
    };
    EXPECT_STATUS(StatusCode::kNullPointer, run({nullptr, rows, cols, cols}, yv, w.data(), 1e-5f));
    EXPECT_STATUS(StatusCode::kNullPointer, run(xv, {nullptr, rows, cols, cols}, w.data(), 1e-5f));
    EXPECT_STATUS(StatusCode::kInvalidArgument, run({x.data(), 0, cols, cols}, yv, nullptr, 1e-5f));
    EXPECT_STATUS(StatusCode::kInvalidArgument, run({x.data(), rows, 0, cols}, yv, nullptr, 1e-5f));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  run({x.data(), rows, cols, cols - 1}, yv, nullptr, 1e-5f));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  run(xv, {y.data(), rows, cols, cols - 1}, nullptr, 1e-5f));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  run(xv, {y.data(), rows - 1, cols, cols}, nullptr, 1e-5f));
    EXPECT_STATUS(StatusCode::kInvalidArgument, run(xv, yv, nullptr, nan));
    EXPECT_STATUS(StatusCode::kInvalidArgument, run(xv, yv, nullptr, inf));
    EXPECT_STATUS(StatusCode::kInvalidArgument, run(xv, yv, nullptr, -1e-5f));
    EXPECT_STATUS(
        StatusCode::kSizeOverflow,
        run({x.data(), std::numeric_limits<size_t>::max() / 2, cols, cols}, yv, nullptr, 1e-5f));
    // y overlapping x other than exactly in place; the weight inside y.
    EXPECT_STATUS(
        StatusCode::kInvalidArgument,
        run(xv, {const_cast<float*>(x.data()) + 1, rows - 1, cols, cols}, nullptr, 1e-5f));
    EXPECT_STATUS(StatusCode::kInvalidArgument, run(xv, yv, y.data() + 2, 1e-5f));
    // The element-alignment rule: x, y, weight and bias one byte off their f32 elements.
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  run({misaligned(spare.data()), rows, cols, cols}, yv, nullptr, 1e-5f));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  run(xv, {misaligned(y.data()), rows - 1, cols, cols}, nullptr, 1e-5f));
    EXPECT_STATUS(StatusCode::kInvalidArgument, run(xv, yv, misaligned(spare.data()), 1e-5f));
    EXPECT_STATUS(StatusCode::kInvalidArgument,
                  layer_norm<float>(xv, yv, w.data(), misaligned(spare.data()), 1e-5f));
    for (float v : y) ASSERT_EQ(v, -7.0f) << "a refused call wrote y";
  }
}

// ---------------------------------------------------------------------------------------
// rope

struct RopeCase {
  size_t batch = 1, seq = 1, heads = 1, head_dim = 2, rotary_dim = 2;
  size_t capacity_pad = 0;  // extra sequence slots (a KV cache), bhsd only
  bool bhsd = false;
  RopePairing pairing = RopePairing::kHalfSplit;
  bool positions = true;
  size_t first_position = 0;
  uint64_t seed = 1;
};

std::string describe(const RopeCase& c) {
  char s[220];
  std::snprintf(s, sizeof s,
                "B %zu S %zu H %zu D %zu rotary %zu cap +%zu %s %s positions %d first %zu seed "
                "%llu VL %zu",
                c.batch, c.seq, c.heads, c.head_dim, c.rotary_dim, c.capacity_pad,
                c.bhsd ? "bhsd" : "bshd",
                c.pairing == RopePairing::kInterleaved ? "interleaved" : "half-split", c.positions,
                c.first_position, static_cast<unsigned long long>(c.seed), streaming_vl());
  return s;
}

template <class T>
void check_rope(const RopeCase& c, const ParallelFor& parallel = {}, Path want = default_path()) {
  SCOPED_TRACE(describe(c));
  const size_t cap = c.seq + c.capacity_pad, half = c.rotary_dim / 2;
  RopeTensor<T> t = c.bhsd ? rope_tensor_bhsd<T>(nullptr, c.batch, c.heads, cap, c.head_dim)
                           : rope_tensor_bshd<T>(nullptr, c.batch, c.seq, c.heads, c.head_dim);
  t.seq = c.seq;
  const size_t elements = c.batch * (c.bhsd ? c.heads * cap : c.seq * c.heads) * c.head_dim;
  GuardedArray<T> x(elements);
  t.data = x.data();
  Rng rng(c.seed);
  x.fill(sentinel<T>());
  for (size_t b = 0; b < c.batch; ++b) {
    for (size_t s = 0; s < c.seq; ++s) {
      for (size_t h = 0; h < c.heads; ++h) {
        for (size_t i = 0; i < c.head_dim; ++i) {
          x[b * t.batch_stride + s * t.seq_stride + h * t.head_stride + i] =
              from_double<T>(rng.uniform(-4, 4));
        }
      }
    }
  }
  const size_t table_rows = c.first_position + c.seq + 5;
  GuardedArray<float> cs(table_rows * half), sn(table_rows * half);
  for (size_t p = 0; p < table_rows; ++p) {
    for (size_t i = 0; i < half; ++i) {
      const double angle =
          static_cast<double>(p) *
          std::pow(10000.0, -2.0 * static_cast<double>(i) / static_cast<double>(c.rotary_dim));
      cs[p * half + i] = static_cast<float>(std::cos(angle));
      sn[p * half + i] = static_cast<float>(std::sin(angle));
    }
  }
  GuardedArray<int32_t> pos(c.batch * c.seq);
  for (size_t i = 0; i < pos.size(); ++i) {
    pos[i] = static_cast<int32_t>(rng.uniform(0, static_cast<double>(table_rows)));
  }
  const std::vector<T> x0 = x.to_vector();
  Status st;
  SME2K_EXPECT_ABI_PRESERVED(
      st = rope<T>(t, RopeTables{cs.data(), sn.data(), table_rows, c.rotary_dim}, c.pairing,
                   c.positions ? pos.data() : nullptr, c.first_position, parallel));
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_STREQ(path_name(last_used_path()), path_name(want));
  std::vector<bool> row_element(elements, false);
  size_t failures = 0;
  for (size_t b = 0; b < c.batch; ++b) {
    for (size_t s = 0; s < c.seq; ++s) {
      const size_t p = c.positions ? static_cast<size_t>(pos[b * c.seq + s]) : c.first_position + s;
      std::vector<double> cd(half), sd(half);
      for (size_t i = 0; i < half; ++i) cd[i] = cs[p * half + i], sd[i] = sn[p * half + i];
      for (size_t h = 0; h < c.heads; ++h) {
        const size_t o = b * t.batch_stride + s * t.seq_stride + h * t.head_stride;
        std::vector<double> xr(c.head_dim);
        for (size_t i = 0; i < c.head_dim; ++i)
          xr[i] = to_f32(x0[o + i]), row_element[o + i] = true;
        const bool il = c.pairing == RopePairing::kInterleaved;
        const std::vector<double> ref = reference::rope_row(xr, cd.data(), sd.data(), half, il);
        for (size_t i = 0; i < c.head_dim; ++i) {
          if (i >= c.rotary_dim) {  // untouched, bit for bit
            if (bits_of(x[o + i]) != bits_of(x0[o + i]) && failures++ < 8) {
              ADD_FAILURE() << "element " << i << " past rotary_dim changed";
            }
            continue;
          }
          const size_t k = il ? i / 2 : i % half;
          const size_t ia = il ? 2 * k : k, ib = il ? 2 * k + 1 : k + half;
          const double bound =
              reference::rope_bound(xr[ia], xr[ib], cd[k], sd[k]) + out_rounding<T>(ref[i]);
          const double got = to_f32(x[o + i]);
          if (!(std::fabs(got - ref[i]) <= bound) && failures++ < 8) {
            ADD_FAILURE() << "(b " << b << ", s " << s << ", h " << h << ", " << i << "): got "
                          << got << ", want " << ref[i] << " (bound " << bound << ")";
          }
        }
      }
    }
  }
  for (size_t i = 0; i < elements; ++i) {
    if (!row_element[i] && bits_of(x[i]) != bits_of(sentinel<T>()) && failures++ < 8) {
      ADD_FAILURE() << "element " << i << " outside every row written";
    }
  }
  EXPECT_TRUE(x.canary_intact() && cs.canary_intact() && sn.canary_intact());
}

template <class T>
class Rope : public ::testing::Test {};
TYPED_TEST_SUITE(Rope, RowTypes);

TYPED_TEST(Rope, PairCountsAroundTheVector) {
  for (RopePairing pairing : {RopePairing::kInterleaved, RopePairing::kHalfSplit}) {
    for (size_t half : lengths_around_vl()) {
      RopeCase c;
      c.pairing = pairing, c.seq = 3, c.heads = 5, c.rotary_dim = 2 * half;
      c.head_dim = 2 * half + (half % 3);  // partial rotary for some
      c.seed = half;
      check_rope<TypeParam>(c);
    }
  }
}

TYPED_TEST(Rope, LayoutsHeadsAndPositions) {
  for (RopePairing pairing : {RopePairing::kInterleaved, RopePairing::kHalfSplit}) {
    for (size_t heads : {1, 3, 4, 6, 9}) {
      RopeCase c;
      c.pairing = pairing, c.batch = 2, c.seq = 3, c.heads = heads;
      c.head_dim = 2 * test_vl() + 6, c.rotary_dim = 2 * test_vl() + 2, c.seed = heads;
      check_rope<TypeParam>(c);
      c.bhsd = true, c.capacity_pad = 4;  // a KV cache of capacity S + 4
      check_rope<TypeParam>(c);
      c.positions = false, c.first_position = 7;
      check_rope<TypeParam>(c);
    }
  }
}

TYPED_TEST(Rope, TasksGiveTheSerialBits) {
  using T = TypeParam;
  RopeCase c;
  c.batch = 2, c.seq = 5, c.heads = 3, c.head_dim = c.rotary_dim = 2 * test_vl() + 2;
  auto reverse = [](size_t count, ParallelTaskRef task) {
    for (size_t i = count; i-- > 0;) task(i);
  };
  check_rope<T>(c, make_parallel_for(reverse, 4));
}

TYPED_TEST(Rope, PlanSaysWhatRuns) {
  using T = TypeParam;
  std::vector<T> x(2 * 5 * 3 * 8, from_double<T>(0.5));
  std::vector<float> cs(5 * 4, 1.0f), sn(5 * 4, 0.0f);
  const RopeTensor<T> t = rope_tensor_bshd(x.data(), 2, 5, 3, 8);
  size_t counted = 0;
  auto count = [&counted](size_t n, ParallelTaskRef task) {
    counted = n;
    for (size_t i = 0; i < n; ++i) task(i);
  };
  const ParallelFor pf = make_parallel_for(count, 4);
  for (bool portable : {false, true}) {
    testing::ScopedForcePath force(portable ? Path::kPortable : select_path());
    OpPlan plan;
    ASSERT_TRUE(rope_plan<T>(t, &plan, pf).ok());
    ASSERT_TRUE(
        rope<T>(t, RopeTables{cs.data(), sn.data(), 5, 8}, RopePairing::kHalfSplit, nullptr, 0, pf)
            .ok());
    EXPECT_EQ(plan.path, last_used_path());
    EXPECT_EQ(plan.tasks, counted);
    EXPECT_EQ(plan.tasks, 4u);  // 10 (batch, seq) rows, at most 4 tasks
    EXPECT_EQ(plan.kernel == "rope_portable", plan.path == Path::kPortable) << plan.kernel;
  }
  EXPECT_STATUS(StatusCode::kNullPointer, rope_plan<T>(t, nullptr));
}

TYPED_TEST(Rope, PortablePath) {
  testing::ScopedForcePath force(Path::kPortable);
  RopeCase c;
  c.seq = 2, c.heads = 5, c.head_dim = 14, c.rotary_dim = 10, c.pairing = RopePairing::kInterleaved;
  check_rope<TypeParam>(c, {}, Path::kPortable);
  EXPECT_EQ(last_used_path(), Path::kPortable);
}

TEST(RopeBadInput, RefusedWithAStatus) {
  constexpr size_t S = 2, H = 2, D = 8;
  std::vector<float> x(S * H * D, 3.0f), cs(4 * 4, 1.0f), sn(4 * 4, 0.0f);
  std::vector<int32_t> pos = {0, 3};
  const RopeTensor<float> t = rope_tensor_bshd(x.data(), 1, S, H, D);
  const RopeTables tab{cs.data(), sn.data(), 4, 8};
  const RopePairing hs = RopePairing::kHalfSplit;
  EXPECT_STATUS(StatusCode::kOk, rope<float>(t, tab, hs, pos.data(), 0));
  std::fill(x.begin(), x.end(), 3.0f);  // cos 1, sin 0: unchanged anyway
  auto with = [&](auto f) {
    RopeTensor<float> u = t;
    RopeTables v = tab;
    f(u, v);
    return rope<float>(u, v, hs, pos.data(), 0);
  };
  EXPECT_STATUS(StatusCode::kNullPointer, with([](auto& u, auto&) { u.data = nullptr; }));
  EXPECT_STATUS(StatusCode::kNullPointer, with([](auto&, auto& v) { v.cos = nullptr; }));
  EXPECT_STATUS(StatusCode::kNullPointer, with([](auto&, auto& v) { v.sin = nullptr; }));
  EXPECT_STATUS(StatusCode::kInvalidArgument, with([](auto& u, auto&) { u.seq = 0; }));
  EXPECT_STATUS(StatusCode::kInvalidArgument, with([](auto& u, auto&) { u.heads = 0; }));
  EXPECT_STATUS(StatusCode::kInvalidArgument, with([](auto& u, auto&) { u.batch = 0; }));
  EXPECT_STATUS(StatusCode::kInvalidArgument, with([](auto& u, auto&) { u.head_dim = 0; }));
  EXPECT_STATUS(StatusCode::kInvalidArgument, with([](auto&, auto& v) { v.positions = 0; }));
  EXPECT_STATUS(StatusCode::kInvalidArgument, with([](auto&, auto& v) { v.rotary_dim = 7; }));
  EXPECT_STATUS(StatusCode::kInvalidArgument, with([](auto&, auto& v) { v.rotary_dim = 0; }));
  EXPECT_STATUS(StatusCode::kInvalidArgument, with([](auto&, auto& v) { v.rotary_dim = 10; }));
  // Rows that overlap: a head stride shorter than the head.
  EXPECT_STATUS(StatusCode::kInvalidArgument, with([](auto& u, auto&) { u.head_stride = 7; }));
  EXPECT_STATUS(StatusCode::kInvalidArgument, with([](auto& u, auto&) { u.seq_stride = 8; }));
  EXPECT_STATUS(StatusCode::kSizeOverflow, with([](auto& u, auto&) {
                  u.seq_stride = std::numeric_limits<size_t>::max() / 2;
                }));
  // The table inside the tensor.
  EXPECT_STATUS(StatusCode::kInvalidArgument, with([&](auto&, auto& v) { v.cos = x.data() + 4; }));
  // The element-alignment rule: tensor, tables and positions one byte off their elements.
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                with([&](auto& u, auto&) { u.data = misaligned(x.data()); }));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                with([&](auto&, auto& v) { v.cos = misaligned(cs.data()); }));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                with([&](auto&, auto& v) { v.sin = misaligned(sn.data()); }));
  EXPECT_STATUS(StatusCode::kInvalidArgument, rope<float>(t, tab, hs, misaligned(pos.data()), 0));
  // Bounds: a table whose size overflows, a first position past the table.
  EXPECT_STATUS(StatusCode::kSizeOverflow,
                with([](auto&, auto& v) { v.positions = std::numeric_limits<size_t>::max() / 2; }));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                rope<float>(t, tab, hs, nullptr, std::numeric_limits<size_t>::max()));
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                rope<float>(t, tab, static_cast<RopePairing>(3), pos.data(), 0));
  pos[1] = 4;  // table rows are 0 .. 3
  EXPECT_STATUS(StatusCode::kInvalidArgument, rope<float>(t, tab, hs, pos.data(), 0));
  pos[1] = -1;
  EXPECT_STATUS(StatusCode::kInvalidArgument, rope<float>(t, tab, hs, pos.data(), 0));
  EXPECT_STATUS(StatusCode::kInvalidArgument, rope<float>(t, tab, hs, nullptr, 3));  // 3, 4
  EXPECT_STATUS(StatusCode::kOk, rope<float>(t, tab, hs, nullptr, 2));
  std::vector<float> nan_cos(16, std::numeric_limits<float>::quiet_NaN());
  pos[1] = 1;
  // A refused call writes nothing: NaN tables would show in x.
  EXPECT_STATUS(StatusCode::kInvalidArgument,
                rope<float>(t, RopeTables{nan_cos.data(), sn.data(), 4, 9}, hs, pos.data(), 0));
  for (float v : x) ASSERT_EQ(v, 3.0f) << "a refused call wrote x";
}

}  // namespace
}  // namespace test
}  // namespace sme2k
