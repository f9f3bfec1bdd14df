// softmax<In, Out> against the f64 reference (test/reference/softmax.hpp), for f32 and f16 in
// and out, both ways of the SME2 kernel (forced through testing::ScopedCostModel) and the
// portable one (forced path), on row lengths around the kernel's step of 4 VL, strided rows
// (gaps keep their sentinel), scales, masks (shared, per row, -inf), fully masked rows, large
// magnitudes, in place, guard pages, the threading hook (bit-identical to serial) and bad input.
//
// Error bound per element (relative to the reference value p, plus an absolute floor):
//   2 eps_exp                      the polynomial (epilogue/sme2_exp2.hpp) in e and, summed, in the sum
//   + 4 u (log2e (|z| + |zmax|) + 130)   the f32 argument y = log2e (z - zmax) + 126, u = 2^-24
//   + (cols + 4) u                 the f32 sum and the final product
//   + 2^-10 for f16 out            e stored as f16, then the result rounded again
// absolute: 2^-24 for f16 out (subnormal f16), else 2^-100 (exp2's floor: values below 2^-125).
#include "sme2k/ops/softmax.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "harness/guarded_buffer.hpp"
#include "harness/thread_pool.hpp"
#include "reference/softmax.hpp"
#include "sme2k/arch/cost_model.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/epilogue/sme2_exp2.hpp"

namespace sme2k {
namespace test {
namespace {

enum class Way { kConfigured, kZa, kZ, kPortable };

const char* way_name(Way w) {
  switch (w) {
    case Way::kConfigured: return "configured";
    case Way::kZa: return "sme2-za";
    case Way::kZ: return "sme2-z";
    case Way::kPortable: return "portable";
  }
  return "?";
}

struct Case {
  size_t rows = 2, cols = 17, ldx = 0, ldy = 0;
  float scale = 1.0f;
  float spread = 3.0f;  // standard deviation of x
  int mask = 0;         // 0 none, 1 one shared row, 2 per row
  bool fully_masked_row = false;
  bool in_place = false;
  uint32_t seed = 1;
};

template <class In, class Out>
double eps_exp(Way way) {
  if (way == Way::kPortable || select_path() == Path::kPortable) return std::ldexp(1.0, -22);
#if SME2K_HAS_SME2_CODE
  return sme2::Exp2Poly<detail::softmax_exp_degree<Out>()>::kRelError;
#else
  return std::ldexp(1.0, -22);
#endif
}

template <class In, class Out>
void check(const Case& c, Way way, const ParallelFor& parallel = {}) {
  SCOPED_TRACE(::testing::Message()
               << "rows " << c.rows << " cols " << c.cols << " scale " << c.scale << " mask "
               << c.mask << " seed " << c.seed << " way " << way_name(way) << " in "
               << sizeof(In) * 8 << " out " << sizeof(Out) * 8 << " vl " << streaming_vl());
  const size_t ldx = c.ldx != 0 ? c.ldx : c.cols, ldy = c.in_place ? ldx : (c.ldy ? c.ldy : c.cols);
  std::mt19937 rng(c.seed);
  std::normal_distribution<float> dist(0.0f, c.spread);
  std::vector<In> x(c.rows * ldx);
  std::vector<double> xd(c.rows * c.cols);
  for (size_t r = 0; r < c.rows; ++r) {
    for (size_t i = 0; i < ldx; ++i) {
      x[r * ldx + i] = convert_to<In>(i < c.cols ? dist(rng) : 77.0f);
      if (i < c.cols) xd[r * c.cols + i] = to_f32(x[r * ldx + i]);
    }
  }
  std::vector<float> mask;
  if (c.mask != 0) {
    const size_t mrows = c.mask == 1 ? 1 : c.rows;
    mask.resize(mrows * c.cols);
    std::uniform_real_distribution<float> md(-4.0f, 2.0f);
    for (float& m : mask) m = md(rng) < -3.0f ? -INFINITY : md(rng);
    if (c.fully_masked_row && c.mask == 2) {
      for (size_t i = 0; i < c.cols; ++i) mask[(c.rows - 1) * c.cols + i] = -INFINITY;
    }
  }
  if (c.fully_masked_row && c.mask != 2) {  // through x itself (needs a float -inf)
    for (size_t i = 0; i < c.cols; ++i) {
      x[i] = convert_to<In>(-INFINITY);
      xd[i] = -INFINITY;
    }
  }
  // Per-row reference with the mask expanded (shared row: mask_ld 0).
  std::vector<float> mask_full;
  if (c.mask != 0) {
    mask_full.resize(c.rows * c.cols);
    for (size_t r = 0; r < c.rows; ++r) {
      for (size_t i = 0; i < c.cols; ++i) {
        mask_full[r * c.cols + i] = mask[(c.mask == 1 ? 0 : r) * c.cols + i];
      }
    }
  }
  const auto ref = reference::softmax_rows(xd, c.rows, c.cols, c.scale,
                                           c.mask ? mask_full.data() : nullptr, c.cols);

  // y flush against a guard page; the gaps between rows keep their sentinel.
  const size_t y_elems = (c.rows - 1) * ldy + c.cols;
  GuardedBuffer ybuf(y_elems * sizeof(Out), GuardSide::kEnd, alignof(Out));
  Out* y = reinterpret_cast<Out*>(ybuf.data());
  const Out sentinel = convert_to<Out>(-55.0f);
  for (size_t i = 0; i < y_elems; ++i) y[i] = sentinel;
  SoftmaxParams p;
  p.scale = c.scale;
  p.mask = c.mask ? mask.data() : nullptr;
  p.mask_ld = c.mask == 2 ? c.cols : 0;

  Status s;
  {
    std::unique_ptr<testing::ScopedForcePath> force;
    std::unique_ptr<sme2k::testing::ScopedCostModel> model;
    if (way == Way::kPortable) force = std::make_unique<testing::ScopedForcePath>(Path::kPortable);
    if (way == Way::kZa)
      model = std::make_unique<sme2k::testing::ScopedCostModel>(CostModel::kZaFavoured);
    if (way == Way::kZ)
      model = std::make_unique<sme2k::testing::ScopedCostModel>(CostModel::kVectorFavoured);
    if constexpr (std::is_same_v<In, Out>) {
      if (c.in_place) {
        for (size_t r = 0; r < c.rows; ++r) {
          std::memcpy(y + r * ldy, x.data() + r * ldx, c.cols * sizeof(Out));
        }
        s = softmax<Out, Out>(MatrixView<const Out>{y, c.rows, c.cols, ldy},
                              MatrixView<Out>{y, c.rows, c.cols, ldy}, p, parallel);
      }
    }
    if (!c.in_place) {
      s = softmax<In, Out>({x.data(), c.rows, c.cols, ldx}, {y, c.rows, c.cols, ldy}, p, parallel);
    }
  }
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(ybuf.canary_intact());
  constexpr double u = 1.0 / (1 << 24), log2e = 1.4426950408889634;
  const bool f16_out = std::is_same_v<Out, f16>;
  for (size_t r = 0; r < c.rows; ++r) {
    double zmax = -INFINITY;
    for (size_t i = 0; i < c.cols; ++i) {
      const double m = c.mask ? mask_full[r * c.cols + i] : 0.0;
      zmax = std::fmax(zmax, c.scale * xd[r * c.cols + i] + m);
    }
    for (size_t i = 0; i < ldy && r * ldy + i < y_elems; ++i) {
      const Out got_raw = y[r * ldy + i];
      if (i >= c.cols) {
        ASSERT_EQ(std::memcmp(&got_raw, &sentinel, sizeof(Out)), 0)
            << "gap written at " << r << "," << i;
        continue;
      }
      const double want = ref[r * c.cols + i], got = to_f32(got_raw);
      const double m = c.mask ? mask_full[r * c.cols + i] : 0.0;
      const double z = c.scale * xd[r * c.cols + i] + m;
      const double zt = std::isfinite(z) ? std::fabs(z) : 0.0;
      const double rel =
          2 * eps_exp<In, Out>(way) +
          4 * u * (log2e * (zt + (std::isfinite(zmax) ? std::fabs(zmax) : 0.0)) + 130) +
          (double(c.cols) + 4) * u + (f16_out ? std::ldexp(1.0, -10) : 0.0);
      const double tol = rel * want + (f16_out ? std::ldexp(1.0, -24) : std::ldexp(1.0, -100));
      ASSERT_TRUE(std::fabs(got - want) <= tol) << "y[" << r << "][" << i << "] = " << got
                                                << ", reference " << want << ", tolerance " << tol;
    }
  }
}

template <class In, class Out>
void sweep(Way way) {
  const size_t vl = streaming_vl() != 0 ? streaming_vl() : 4;
  const size_t step = 4 * vl;
  uint32_t seed = 1;
  for (size_t cols :
       {size_t{1}, vl - 1, vl, vl + 1, step - 1, step, step + 1, 2 * step + 3, size_t{257}}) {
    if (cols == 0) continue;
    for (int mask : {0, 1, 2}) {
      Case c;
      c.rows = 3;
      c.cols = cols;
      c.mask = mask;
      c.ldx = cols + (seed % 3);
      c.ldy = cols + (seed % 2) * 5;
      c.scale = mask == 1 ? 0.125f : 1.0f;
      c.seed = seed++;
      check<In, Out>(c, way);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

template <class T>
class SoftmaxTest : public ::testing::Test {};
struct F32F32 {
  using In = float;
  using Out = float;
};
struct F16F16 {
  using In = f16;
  using Out = f16;
};
struct F32F16 {
  using In = float;
  using Out = f16;
};
struct F16F32 {
  using In = f16;
  using Out = float;
};
using Types = ::testing::Types<F32F32, F16F16, F32F16, F16F32>;
TYPED_TEST_SUITE(SoftmaxTest, Types);

TYPED_TEST(SoftmaxTest, SweepEveryWay) {
  using In = typename TypeParam::In;
  using Out = typename TypeParam::Out;
  for (Way way : {Way::kConfigured, Way::kZa, Way::kZ, Way::kPortable}) {
    sweep<In, Out>(way);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TYPED_TEST(SoftmaxTest, FullyMaskedRowsAreZero) {
  using In = typename TypeParam::In;
  using Out = typename TypeParam::Out;
  for (Way way : {Way::kConfigured, Way::kZa, Way::kZ, Way::kPortable}) {
    for (int mask : {0, 2}) {
      Case c;
      c.rows = 3;
      c.cols = 4 * (streaming_vl() ? streaming_vl() : 4) + 5;
      c.mask = mask;
      c.fully_masked_row = true;
      check<In, Out>(c, way);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TYPED_TEST(SoftmaxTest, LargeMagnitudesAndScales) {
  using In = typename TypeParam::In;
  using Out = typename TypeParam::Out;
  for (Way way : {Way::kConfigured, Way::kZa, Way::kZ, Way::kPortable}) {
    for (float scale : {0.01f, 1.0f, 30.0f}) {
      Case c;
      c.rows = 2;
      c.cols = 300;
      c.spread = std::is_same_v<In, f16> ? 1000.0f : 5000.0f;
      c.scale = scale;
      c.seed = 9;
      check<In, Out>(c, way);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(Softmax, InPlace) {
  for (Way way : {Way::kConfigured, Way::kZa, Way::kZ, Way::kPortable}) {
    Case c;
    c.rows = 4;
    c.cols = 131;
    c.ldx = 140;
    c.mask = 2;
    c.in_place = true;
    check<float, float>(c, way);
    check<f16, f16>(c, way);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(Softmax, ThreadsGiveTheSerialBits) {
  ThreadPool pool(3);
  const size_t rows = 37, cols = 203;
  std::vector<float> x(rows * cols), serial(rows * cols), pooled(rows * cols);
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.0f, 3.0f);
  for (float& v : x) v = d(rng);
  ASSERT_TRUE((
      softmax<float, float>({x.data(), rows, cols, cols}, {serial.data(), rows, cols, cols}).ok()));
  for (size_t tasks : {2, 3, 8, 64}) {
    ASSERT_TRUE(
        (softmax<float, float>({x.data(), rows, cols, cols}, {pooled.data(), rows, cols, cols}, {},
                               pool.parallel_for(tasks))
             .ok()));
    EXPECT_GE(pool.last_count(), 2u);
    OpPlan plan;
    ASSERT_TRUE((softmax_plan<float, float>(rows, &plan, pool.parallel_for(tasks)).ok()));
    EXPECT_EQ(plan.tasks, pool.last_count());
    ASSERT_EQ(std::memcmp(serial.data(), pooled.data(), serial.size() * sizeof(float)), 0)
        << tasks << " tasks";
  }
}

TEST(Softmax, ReportsItsPathAndKernel) {
  std::vector<float> x(8, 1.0f), y(8);
  ASSERT_TRUE((softmax<float, float>({x.data(), 1, 8, 8}, {y.data(), 1, 8, 8}).ok()));
  EXPECT_EQ(last_used_path() == Path::kPortable, select_path() == Path::kPortable);
  const std::string name = softmax_kernel_name<float, float>();
  EXPECT_EQ(name == "softmax_portable", select_path() == Path::kPortable) << name;
  for (float v : y) EXPECT_FLOAT_EQ(v, 0.125f);
  OpPlan plan;
  ASSERT_TRUE((softmax_plan<float, float>(1, &plan).ok()));
  EXPECT_EQ(plan.kernel, name);
  EXPECT_EQ(plan.path, last_used_path());
  EXPECT_EQ(plan.tasks, 1u);
  EXPECT_EQ(plan.workspace_bytes, 0u);
  EXPECT_EQ((softmax_plan<float, float>(1, nullptr).code()), StatusCode::kNullPointer);
}

TEST(Softmax, BadInput) {
  std::vector<float> x(64, 0.0f), y(64, 3.0f);
  const MatrixView<const float> xv{x.data(), 4, 8, 8};
  const MatrixView<float> yv{y.data(), 4, 8, 8};
  auto code = [](const Status& s) { return s.code(); };
  EXPECT_EQ(code(softmax<float, float>({nullptr, 4, 8, 8}, yv)), StatusCode::kNullPointer);
  EXPECT_EQ(code(softmax<float, float>(xv, {nullptr, 4, 8, 8})), StatusCode::kNullPointer);
  EXPECT_EQ(code(softmax<float, float>({x.data(), 0, 8, 8}, {y.data(), 0, 8, 8})),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code(softmax<float, float>({x.data(), 4, 8, 7}, yv)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(softmax<float, float>(xv, {y.data(), 3, 8, 8})), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(softmax<float, float>({x.data(), SIZE_MAX / 2, 8, SIZE_MAX / 4},
                                       {y.data(), SIZE_MAX / 2, 8, SIZE_MAX / 4})),
            StatusCode::kSizeOverflow);
  for (float scale : {0.0f, -1.0f, NAN, INFINITY}) {
    SoftmaxParams p;
    p.scale = scale;
    EXPECT_EQ(code(softmax<float, float>(xv, yv, p)), StatusCode::kInvalidArgument) << scale;
  }
  // y overlapping x without being x.
  EXPECT_EQ(code(softmax<float, float>({x.data(), 4, 8, 8}, {x.data() + 1, 4, 8, 8})),
            StatusCode::kInvalidArgument);
  SoftmaxParams p;
  p.mask = y.data();  // the mask overlaps y
  p.mask_ld = 8;
  EXPECT_EQ(code(softmax<float, float>(xv, yv, p)), StatusCode::kInvalidArgument);
  p.mask = x.data();
  p.mask_ld = 7;  // shorter than a row
  EXPECT_EQ(code(softmax<float, float>(xv, yv, p)), StatusCode::kInvalidArgument);
  // The element-alignment rule: x, y and the mask one byte off their f32 (or f16) elements.
  const auto off = [](auto* ptr) {
    using T = std::remove_pointer_t<decltype(ptr)>;
    return reinterpret_cast<T*>(reinterpret_cast<uintptr_t>(ptr) + 1);
  };
  std::vector<float> spare(64, 0.0f);
  EXPECT_EQ(code(softmax<float, float>({off(spare.data()), 2, 8, 8}, {y.data(), 2, 8, 8})),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code(softmax<float, float>(xv, {off(y.data()), 2, 8, 8})),
            StatusCode::kInvalidArgument);
  p.mask = off(spare.data());
  p.mask_ld = 0;
  EXPECT_EQ(code(softmax<float, float>(xv, yv, p)), StatusCode::kInvalidArgument);
  std::vector<f16> h(64);
  EXPECT_EQ(code(softmax<f16, float>({off(h.data()), 2, 8, 8}, yv)), StatusCode::kInvalidArgument);
  for (float v : y) EXPECT_EQ(v, 3.0f);  // refused calls write nothing
}

}  // namespace
}  // namespace test
}  // namespace sme2k
