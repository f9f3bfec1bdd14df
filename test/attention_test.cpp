// attention<V>() against the f64 reference (test/reference/attention.hpp), within a bound
// derived from the kernel's arithmetic, on every path: tails of q_len, kv_len and head_dim
// around VL, every mask and combination, fully masked rows, large scores, GQA and MQA,
// [B,S,H,D] and [B,H,S,D], a cache larger than kv_len, decode, f16 and f32 out, the thread
// hook, guard pages, and every validation rule.
//
// Error bound, per output o_d of a row (u = 2^-24, T = the row's largest
// scale * sum_d |q_d k_jd| + |bias_j|, W_d = sum_j w_j |v_jd|, D = head_dim, n = kv_len):
//  - each score: f16 products are exact in f32 (f32 ones round once), a sum of D terms, the
//    scale and the bias: |ds| <= E = (D + 5) u T (two u spare for a kernel folding log2(e)
//    into the scale);
//  - softmax weights w_j = e^s_j / sum e^s: scores off by <= E move each w_j by a factor in
//    [e^-2E, e^2E]; the kernel's exp (relative eps_exp) and the rounding of P before P x V
//    (relative eps_p) move it by <= 2 (eps_exp + eps_p);
//  - f32 sums of n terms for l and for P x V, the rescales by exp(m - m') (at most one per
//    key), the product p v and the final 1 / l: <= (4 n + 8) u of W_d;
//  - the output's rounding: 2^-11 |o_d| for f16 (2^-24 absolute below its normal range), 2u |o_d|
//    for f32 (2^-150 absolute below its normal range).
// tol = 2 W_d ((e^2E - 1) + 2 (eps_exp + eps_p) + (4 n + 8) u) + rounding, the 2 covering
// the second-order terms. eps_exp and eps_p are the kernel's;
// test/reference/attention.hpp computes it (attention_tolerance).
#include "reference/attention.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "harness/expectations.hpp"
#include "harness/guarded_buffer.hpp"
#include "harness/thread_pool.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k {
namespace {

using test::GuardedArray;
using test::GuardSide;

constexpr float kInf = std::numeric_limits<float>::infinity();

/// The VL the tails are placed around: the streaming one, or 16 without SME.
size_t test_vl() {
  const size_t vl = streaming_vl();
  return vl != 0 ? vl : 16;
}

enum class Bias : uint8_t { kNone, kShared, kPerHead, kPerBatchHead };

struct Case {
  size_t batch = 1, hq = 1, hkv = 1, sq = 1, skv = 1, d = 1;
  bool causal = false;
  size_t window = 0;
  Bias bias = Bias::kNone;
  double masked = 0.0;     // fraction of bias entries that are -inf
  size_t dead_rows = 0;    // every dead_rows-th bias row all -inf (0: none)
  bool bshd = false;       // [B, S, H, D] instead of [B, H, S, D]
  size_t cache_extra = 0;  // K / V capacity beyond kv_len
  size_t pad = 0;          // elements after each row
  float scale = 0.0f;      // 0: the default
  float magnitude = 1.0f;  // inputs in [-magnitude, magnitude)
  uint32_t seed = 1;
};

std::string describe(const Case& c) {
  std::string s = "B" + std::to_string(c.batch) + " Hq" + std::to_string(c.hq) + " Hkv" +
                  std::to_string(c.hkv) + " Sq" + std::to_string(c.sq) + " Skv" +
                  std::to_string(c.skv) + " D" + std::to_string(c.d);
  if (c.causal) s += " causal";
  if (c.window) s += " window" + std::to_string(c.window);
  if (c.bias != Bias::kNone) s += " bias" + std::to_string(static_cast<int>(c.bias));
  if (c.dead_rows) s += " dead_rows";
  if (c.bshd) s += " bshd";
  if (c.cache_extra) s += " cache+" + std::to_string(c.cache_extra);
  if (c.scale != 0.0f) s += " scale" + std::to_string(c.scale);
  return s + " seed " + std::to_string(c.seed) + " SVL " + std::to_string(streaming_vl() * 32);
}

class Random {
 public:
  explicit Random(uint32_t seed) : state_(seed * 2654435761u + 12345u) {}
  uint32_t next() {
    state_ = state_ * 1664525u + 1013904223u;
    return state_ >> 8;
  }
  // 10 significant bits: exact in f16.
  float value(float magnitude) {
    return magnitude * static_cast<float>(static_cast<int>(next() % 2048) - 1024) / 1024.0f;
  }
  double unit() { return (next() % 65536) / 65536.0; }

 private:
  uint32_t state_;
};

/// A [B, H, S, D] operand in a guard-page buffer, rows padded and a sentinel in the pads.
template <class T>
struct Tensor {
  GuardedArray<T> buf;
  HeadsView<T> view;
  reference::AttentionStrides strides;
  size_t rows_b, rows_h, rows_s, d;

  Tensor(size_t b, size_t h, size_t s, size_t capacity, size_t d_, size_t pad, bool bshd,
         GuardSide side)
      : rows_b(b), rows_h(h), rows_s(s), d(d_) {
    const size_t row = d + pad;
    strides = bshd ? reference::AttentionStrides{capacity * h * row, row, h * row}
                   : reference::AttentionStrides{h * capacity * row, capacity * row, row};
    // the buffer ends right after the last row's last element (no trailing pad)
    const size_t extent =
        (b - 1) * strides.batch + (h - 1) * strides.head + (s - 1) * strides.seq + d;
    buf = GuardedArray<T>(extent, side);
    view = {buf.data(), strides.batch, strides.head, strides.seq};
  }
  T* row(size_t b, size_t h, size_t s) {
    return buf.data() + b * strides.batch + h * strides.head + s * strides.seq;
  }
  template <class Fn>
  void for_rows(Fn&& fn) {
    for (size_t b = 0; b < rows_b; ++b)
      for (size_t h = 0; h < rows_h; ++h)
        for (size_t s = 0; s < rows_s; ++s) fn(b, h, s, row(b, h, s));
  }
  HeadsView<const T> cview() const { return view; }
};

template <class T>
bool is_sentinel(T x) {
  if constexpr (std::is_same_v<T, f16>) {
    return x.bits == 0x7E01;
  } else {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    return bits == 0x7FC00123u;
  }
}
template <class T>
T sentinel() {
  if constexpr (std::is_same_v<T, f16>) {
    return f16::from_bits(0x7E01);
  } else {
    float f;
    const uint32_t bits = 0x7FC00123u;
    std::memcpy(&f, &bits, 4);
    return f;
  }
}

template <class V, class Out>
struct Attn {
  using In = typename VariantTraits<V>::Lhs;
  Case c;
  Tensor<In> q, k, v;
  Tensor<Out> o;
  GuardedArray<float> bias;
  AttentionShape shape;
  AttentionParams params;

  explicit Attn(const Case& c_)
      : c(c_),
        q(c.batch, c.hq, c.sq, c.sq, c.d, c.pad, c.bshd, side(0)),
        k(c.batch, c.hkv, c.skv, c.skv + c.cache_extra, c.d, c.pad, c.bshd, side(1)),
        v(c.batch, c.hkv, c.skv, c.skv + c.cache_extra, c.d, c.pad, c.bshd, side(2)),
        o(c.batch, c.hq, c.sq, c.sq, c.d, c.pad, c.bshd, side(3)) {
    Random r(c.seed);
    for (Tensor<In>* t : {&q, &k, &v}) {
      t->buf.fill(sentinel<In>());
      t->for_rows([&](size_t, size_t, size_t, In* row) {
        for (size_t i = 0; i < c.d; ++i) row[i] = convert_to<In>(r.value(c.magnitude));
      });
    }
    o.buf.fill(sentinel<Out>());
    shape = {c.batch, c.hq, c.hkv, c.sq, c.skv, c.d};
    params.scale = c.scale;
    params.mask.causal = c.causal;
    params.mask.window = c.window;
    if (c.bias != Bias::kNone) {
      const size_t ld = c.skv + 3, per_head = c.sq * ld;
      const size_t heads = c.bias == Bias::kShared ? 1 : c.hq;
      const size_t batches = c.bias == Bias::kPerBatchHead ? c.batch : 1;
      bias =
          GuardedArray<float>((batches * heads - 1) * per_head + (c.sq - 1) * ld + c.skv, side(4));
      for (size_t i = 0; i < bias.size(); ++i) {
        const size_t row = i / ld;
        const bool dead = c.dead_rows != 0 && row % c.dead_rows == 0;
        bias[i] = dead || r.unit() < c.masked ? -kInf : r.value(2.0f);
      }
      params.mask.bias = bias.data();
      params.mask.bias_ld = ld;
      params.mask.bias_head_stride = c.bias == Bias::kShared ? 0 : per_head;
      params.mask.bias_batch_stride = c.bias == Bias::kPerBatchHead ? heads * per_head : 0;
    }
  }
  GuardSide side(int operand) const {
    return (c.seed + operand) % 2 ? GuardSide::kStart : GuardSide::kEnd;
  }

  Status call(const ParallelFor& parallel = {}) {
    size_t bytes = 0;
    const Status s = attention_workspace_size<V, Out>(shape, &bytes, parallel);
    if (!s.ok()) return s;
    GuardedArray<uint8_t> ws(bytes, side(5));
    return attention<V, Out>(shape, q.cview(), k.cview(), v.cview(), o.view, params, ws.data(),
                             ws.size(), parallel);
  }

  reference::AttentionResult expected() const {
    reference::AttentionProblem p;
    p.batch = c.batch, p.q_heads = c.hq, p.kv_heads = c.hkv, p.q_len = c.sq, p.kv_len = c.skv;
    p.head_dim = c.d;
    p.q = q.strides, p.k = k.strides, p.v = v.strides;
    p.scale = c.scale != 0.0f ? c.scale : 1.0f / std::sqrt(static_cast<float>(c.d));
    p.causal = c.causal, p.window = c.window;
    p.bias = params.mask.bias, p.bias_ld = params.mask.bias_ld;
    p.bias_head = params.mask.bias_head_stride, p.bias_batch = params.mask.bias_batch_stride;
    return reference::attention(p, q.buf.data(), k.buf.data(), v.buf.data());
  }

  /// Checks o against the reference within the bound of the kernel that ran on `path`.
  void check(Path path) {
    SCOPED_TRACE(describe(c) + " on " + path_name(path));
    const reference::AttentionResult ref = expected();
    const reference::AttentionErrorModel em =
        reference::attention_error_model(path != Path::kPortable, std::is_same_v<In, f16>);
    const bool f16_out = std::is_same_v<Out, f16>;
    size_t failures = 0, row = 0;
    o.for_rows([&](size_t b, size_t h, size_t s, Out* out) {
      const size_t r = (b * c.hq + h) * c.sq + s;
      for (size_t i = 0; i < c.d; ++i) {
        const double want = ref.o[r * c.d + i], got = to_f32(out[i]);
        const double tol = reference::attention_tolerance(
            em, c.d, c.skv, ref.score_term[r], ref.weighted_v[r * c.d + i], want, f16_out);
        if (!(std::fabs(got - want) <= tol) && failures++ < 5) {
          ADD_FAILURE() << "o(b " << b << ", h " << h << ", s " << s << ", d " << i << ") = " << got
                        << ", want " << want << " +- " << tol;
        }
      }
      for (size_t i = c.d; i < c.d + c.pad && (&out[i] < o.buf.end()); ++i) {
        if (!is_sentinel(out[i]) && failures++ < 5) ADD_FAILURE() << "pad written, row " << row;
      }
      ++row;
    });
    EXPECT_EQ(failures, 0u);
    EXPECT_TRUE(o.buf.canary_intact());
  }
};

/// Runs case c through attention<V, Out> and checks it, and the path it took.
template <class V, class Out>
void check_case(const Case& c) {
  Attn<V, Out> run(c);
  const Status s = run.call();
  ASSERT_TRUE(s.ok()) << describe(c) << ": " << s.message();
  OpPlan plan;
  ASSERT_TRUE((attention_plan<V, Out>(run.shape, &plan).ok()));
  EXPECT_EQ(last_used_path(), plan.path);
  // The configuration's path, wherever the registry lists a kernel for it.
  using Sme2 = AttentionKernelFor<V, Out, Path::kSme2>;
  if (const auto expected = test::expected_path(); expected && !std::is_void_v<Sme2>) {
    EXPECT_STREQ(path_name(plan.path), path_name(*expected));
  }
  run.check(plan.path);
}

/// The three (variant, output) pairs.
void all_outputs(const Case& c) {
  check_case<F16, f16>(c);
  check_case<F16, float>(c);
  check_case<F32, float>(c);
}

/// One (variant, output) pair, chosen by k: sweeps spread the three over their cases (the SME2
/// kernel at SVL 2048 under QEMU costs too much to run every case three times).
void one_output(const Case& c, size_t k) {
  switch (k % 3) {
    case 0: return check_case<F16, f16>(c);
    case 1: return check_case<F16, float>(c);
    default: return check_case<F32, float>(c);
  }
}

/// 1, VL-1, VL, VL+1, 2VL+1 (distinct, positive).
std::vector<size_t> tails(size_t vl) {
  std::vector<size_t> t;
  for (size_t x : {size_t{1}, vl - 1, vl, vl + 1, 2 * vl + 1}) {
    if (x > 0 && (t.empty() || t.back() != x)) t.push_back(x);
  }
  return t;
}

TEST(Attention, TailsAroundTheTile) {
  const size_t vl = test_vl();
  const size_t dims[] = {1, 3, 64, 80, 96, 128, 256};
  const std::vector<size_t> t = tails(vl);
  uint32_t seed = 1;
  for (size_t i = 0; i < t.size(); ++i) {
    for (size_t j = 0; j < t.size(); ++j) {
      Case c;
      c.hq = 2, c.hkv = 1, c.sq = t[i], c.skv = t[j] < t[i] ? t[i] : t[j];
      c.d = dims[(i * t.size() + j) % 7];
      if (c.d >= 128 && c.sq * c.skv > 1200) c.d = 3 + (i + j) % 5;  // big D only on small seq
      c.causal = (i + j) % 2 == 1;
      c.seed = seed++;
      if (i == j) {
        all_outputs(c);
      } else {
        one_output(c, i + j);
      }
    }
  }
}

TEST(Attention, HeadDims) {
  size_t k = 0;
  for (size_t d : {1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 80, 96, 127, 128, 129, 255, 256}) {
    Case c;
    c.hq = 2, c.hkv = 2, c.sq = 3, c.skv = 9, c.d = d, c.seed = static_cast<uint32_t>(d);
    one_output(c, k++);
  }
}

TEST(Attention, EveryMaskAndCombination) {
  const size_t vl = test_vl();
  uint32_t seed = 100;
  for (bool causal : {false, true}) {
    for (size_t window : {size_t{0}, size_t{5}, size_t{1} << 40}) {
      for (Bias bias : {Bias::kNone, Bias::kShared, Bias::kPerHead, Bias::kPerBatchHead}) {
        Case c;
        c.batch = 2, c.hq = 4, c.hkv = 2, c.sq = vl + 1, c.skv = 2 * vl + 1, c.d = 5;
        c.causal = causal, c.window = window, c.bias = bias, c.masked = 0.2;
        c.seed = seed++;
        if (seed % 3 == 2) c.d = 17;
        one_output(c, seed);
      }
    }
  }
}

/// Runs c (F16 in, f32 out): no output is NaN, and every row whose scores are all masked is
/// zeros (c must have some: dead_rows).
void expect_masked_rows_zero(const Case& c) {
  Attn<F16, float> run(c);
  ASSERT_TRUE(run.call().ok());
  size_t dead = 0;
  run.o.for_rows([&](size_t b, size_t h, size_t s, float* out) {
    const float* row = run.params.mask.bias + b * run.params.mask.bias_batch_stride +
                       h * run.params.mask.bias_head_stride + s * run.params.mask.bias_ld;
    bool all_masked = true;
    for (size_t j = 0; j < c.skv; ++j) all_masked = all_masked && row[j] == -kInf;
    for (size_t i = 0; i < c.d; ++i) {
      ASSERT_FALSE(std::isnan(out[i]));
      if (all_masked) ASSERT_EQ(out[i], 0.0f) << "row " << b << "," << h << "," << s;
    }
    dead += all_masked;
  });
  EXPECT_GT(dead, 0u);
}

TEST(Attention, FullyMaskedRowsAreZeros) {
  const size_t vl = test_vl();
  for (Bias bias : {Bias::kShared, Bias::kPerHead, Bias::kPerBatchHead}) {
    Case c;
    c.batch = 2, c.hq = 4, c.hkv = 1, c.sq = vl + 1, c.skv = vl + 3, c.d = 8;
    c.bias = bias, c.dead_rows = 3, c.causal = bias == Bias::kPerHead, c.seed = 7;
    c.masked = 0.5;
    all_outputs(c);
    expect_masked_rows_zero(c);
  }
}

TEST(Attention, LargeScores) {
  // |scale * q.k| ~ 1e3: exponents must be taken relative to the running max.
  for (size_t d : {3, 64}) {
    Case c;
    c.hq = 4, c.hkv = 2, c.sq = 5, c.skv = 70, c.d = d, c.magnitude = 8.0f;
    c.scale = d == 3 ? 16.0f : 4.0f, c.causal = true, c.seed = 11;
    all_outputs(c);
    c.bias = Bias::kPerHead, c.masked = 0.3, c.causal = false;
    all_outputs(c);
  }
}

TEST(Attention, GroupedQueryHeads) {
  const size_t vl = test_vl();
  uint32_t seed = 200;
  for (size_t group : {1, 2, 4, 8}) {
    Case c;
    c.batch = 2, c.hkv = 2, c.hq = 2 * group, c.sq = vl - 1 > 0 ? vl - 1 : 1, c.skv = vl + 5;
    c.d = 16, c.causal = group % 2 == 0, c.seed = seed++;
    one_output(c, group);
  }
  Case mqa;  // multi-query: one KV head for all
  mqa.hq = 8, mqa.hkv = 1, mqa.sq = 3, mqa.skv = 2 * vl + 1, mqa.d = 64, mqa.seed = 9;
  all_outputs(mqa);
}

TEST(Attention, LayoutsAndCaches) {
  const size_t vl = test_vl();
  uint32_t seed = 300;
  for (bool bshd : {false, true}) {
    for (size_t extra : {size_t{0}, size_t{37}}) {
      for (size_t pad : {size_t{0}, size_t{3}}) {
        Case c;
        c.batch = 2, c.hq = 4, c.hkv = 2, c.sq = vl + 1, c.skv = vl + 7, c.d = 12;
        c.bshd = bshd, c.cache_extra = extra, c.pad = pad, c.causal = true, c.seed = seed++;
        if (pad == 0) {
          all_outputs(c);
        } else {
          check_case<F16, float>(c);
        }
      }
    }
  }
}

TEST(Attention, Decode) {
  Case c;  // one query row against a long cache, GQA 4, a cache of spare capacity
  c.batch = 1, c.hq = 8, c.hkv = 2, c.sq = 1, c.skv = 1000, c.d = 64, c.cache_extra = 24;
  c.causal = true, c.seed = 400;
  check_case<F16, f16>(c);
  check_case<F32, float>(c);
  c.window = 256, c.bshd = true;
  check_case<F16, float>(c);
}

TEST(Attention, PrefillWithCache) {
  Case c;  // queries are the last q_len positions: causal against earlier keys
  c.hq = 2, c.hkv = 1, c.sq = 7, c.skv = 40, c.d = 24, c.causal = true, c.window = 9;
  c.seed = 500;
  all_outputs(c);
}

TEST(Attention, MoreQueriesThanKeysWithoutCausal) {
  Case c;
  c.hq = 3, c.hkv = 1, c.sq = 20, c.skv = 6, c.d = 10, c.bias = Bias::kPerHead, c.seed = 600;
  all_outputs(c);
}

TEST(Attention, DefaultScaleIsInverseSqrtD) {
  Case c;
  c.hq = 2, c.hkv = 1, c.sq = 5, c.skv = 17, c.d = 80, c.seed = 700;
  Attn<F16, float> a(c), b(c);
  b.params.scale = 1.0f / std::sqrt(80.0f);
  ASSERT_TRUE(a.call().ok());
  ASSERT_TRUE(b.call().ok());
  EXPECT_EQ(0, std::memcmp(a.o.buf.data(), b.o.buf.data(), a.o.buf.size_bytes()));
}

TEST(Attention, ThreadsGiveTheSameBits) {
  const size_t vl = test_vl();
  Case c;
  c.batch = 2, c.hq = 4, c.hkv = 2, c.sq = 2 * vl + 1, c.skv = 2 * vl + 3, c.d = 20;
  c.causal = true, c.bias = Bias::kPerHead, c.masked = 0.1, c.seed = 800;
  Attn<F16, f16> serial(c);
  ASSERT_TRUE(serial.call().ok());
  for (size_t tasks : {2, 3, 5, 8}) {
    test::ThreadPool pool(tasks < 4 ? tasks : 4);
    Attn<F16, f16> parallel(c);
    OpPlan plan;
    ASSERT_TRUE((attention_plan<F16, f16>(parallel.shape, &plan, pool.parallel_for(tasks)).ok()));
    EXPECT_EQ(plan.tasks, tasks);
    ASSERT_TRUE(parallel.call(pool.parallel_for(tasks)).ok());
    EXPECT_EQ(pool.last_count(), tasks);
    EXPECT_EQ(0, std::memcmp(serial.o.buf.data(), parallel.o.buf.data(), serial.o.buf.size_bytes()))
        << tasks << " tasks";
  }
}

TEST(Attention, PlanTellsWhatRuns) {
  const AttentionShape shape{1, 8, 2, 33, 100, 64};
  OpPlan plan;
  ASSERT_TRUE(attention_plan<F16>(shape, &plan).ok());
  size_t bytes = 0;
  ASSERT_TRUE(attention_workspace_size<F16>(shape, &bytes).ok());
  EXPECT_EQ(plan.workspace_bytes, bytes);
  EXPECT_EQ(plan.tasks, 1u);
  const bool sme2_listed = !std::is_void_v<AttentionKernelFor<F16, f16, Path::kSme2>>;
  EXPECT_EQ(plan.path,
            sme2_listed && select_path() != Path::kPortable ? Path::kSme2 : Path::kPortable);
  EXPECT_EQ(plan.kernel.substr(0, 14), "attention_f16_");
  EXPECT_NE(plan.kernel.find(path_name(plan.path)), std::string_view::npos);
}

TEST(Attention, WorkspaceAnyAlignment) {
  Case c;
  c.hq = 2, c.hkv = 1, c.sq = 4, c.skv = 9, c.d = 6, c.seed = 900;
  Attn<F32, float> run(c), ref(c);
  ASSERT_TRUE(ref.call().ok());
  size_t bytes = 0;
  ASSERT_TRUE(attention_workspace_size<F32>(run.shape, &bytes).ok());
  std::vector<uint8_t> ws(bytes + 8);
  ASSERT_TRUE(attention<F32>(run.shape, run.q.cview(), run.k.cview(), run.v.cview(), run.o.view,
                             run.params, ws.data() + 3, bytes)
                  .ok());
  EXPECT_EQ(0, std::memcmp(ref.o.buf.data(), run.o.buf.data(), ref.o.buf.size_bytes()));
  // The allocating overload gives the same bits.
  Attn<F32, float> alloc(c);
  ASSERT_TRUE(attention<F32>(alloc.shape, alloc.q.cview(), alloc.k.cview(), alloc.v.cview(),
                             alloc.o.view, alloc.params)
                  .ok());
  EXPECT_EQ(0, std::memcmp(ref.o.buf.data(), alloc.o.buf.data(), ref.o.buf.size_bytes()));
}

// ------------------------------------------------------------------------------ decode kernel
// The SME2 decode kernel (kernels/sme2/attention_decode_sme2.hpp) runs F16 shapes with few
// query rows per KV head: the rows of a pass are (query head of the group, row) columns.

constexpr std::string_view kDecodeTile = "_1vlx2vl_";

/// Whether attention<F16, Out> runs `c` on the decode kernel.
template <class Out>
bool runs_decode(const Case& c) {
  OpPlan plan;
  const AttentionShape shape{c.batch, c.hq, c.hkv, c.sq, c.skv, c.d};
  EXPECT_TRUE((attention_plan<F16, Out>(shape, &plan).ok()));
  return plan.kernel.find(kDecodeTile) != std::string_view::npos;
}

/// Case c on F16 with f16 out (k even) or f32 out, on the ZA-favoured ((k / 2) even) or the
/// vector-favoured cost profile (the kernel's two exp ways): consecutive k cover all four.
/// Where the SME2 path runs, the decode kernel must be the one that does.
void decode_case(const Case& c, size_t k) {
  sme2k::testing::ScopedCostModel scoped(k / 2 % 2 == 0 ? CostModel::kZaFavoured
                                                        : CostModel::kVectorFavoured);
  if (k % 2 == 0) {
    check_case<F16, f16>(c);
    if (select_path() != Path::kPortable) EXPECT_TRUE(runs_decode<f16>(c)) << describe(c);
  } else {
    check_case<F16, float>(c);
    if (select_path() != Path::kPortable) EXPECT_TRUE(runs_decode<float>(c)) << describe(c);
  }
}

TEST(AttentionDecode, PlanPicksItForFewRowsPerKvHead) {
  const size_t vl = test_vl();
  const bool sme2 = select_path() != Path::kPortable;
  Case decode;
  decode.hq = 32, decode.hkv = 8, decode.sq = 1, decode.skv = 4096, decode.d = 64;
  EXPECT_EQ(runs_decode<f16>(decode), sme2);
  EXPECT_EQ(runs_decode<float>(decode), sme2);
  OpPlan plan;
  ASSERT_TRUE(attention_plan<F16>(AttentionShape{1, 32, 8, 1, 4096, 64}, &plan).ok());
  if (sme2) EXPECT_EQ(plan.kernel, "attention_f16_f16_f16_1vlx2vl_sme2_mopa");
  Case prefill = decode;  // a full tile of rows per head: the prefill kernel
  prefill.sq = 4 * vl, prefill.skv = 4 * vl;
  EXPECT_FALSE(runs_decode<f16>(prefill));
  ASSERT_TRUE(attention_plan<F32>(AttentionShape{1, 32, 8, 1, 4096, 64}, &plan).ok());
  EXPECT_EQ(plan.kernel.find(kDecodeTile), std::string_view::npos);  // F32: the prefill kernel
}

TEST(AttentionDecode, RowsGroupsKeyTailsAndHeadDims) {
  const size_t vl = test_vl();
  const size_t skvs[] = {1, 2 * vl - 1, 2 * vl, 2 * vl + 1, 4 * vl + 3};
  const size_t dims[] = {1, 17, 64, 80, 128, 256};
  size_t k = 0;
  for (size_t sq = 1; sq <= 4; ++sq) {
    for (size_t group : {1, 2, 4, 8}) {
      Case c;
      c.hkv = 1 + k % 2, c.hq = c.hkv * group, c.sq = sq, c.d = dims[k % 6];
      c.skv = skvs[k % 5] < sq ? sq : skvs[k % 5];
      c.causal = k % 3 != 0, c.seed = static_cast<uint32_t>(1100 + k);
      if (c.d >= 128 && vl >= 32) c.skv = c.skv < 2 * vl + 1 ? c.skv : 2 * vl + 1;
      if (runs_decode<f16>(c)) decode_case(c, k);
      ++k;
    }
  }
  for (size_t skv : skvs) {  // every tail at the LLM's group of 4, one row
    Case c;
    c.hq = 4, c.hkv = 1, c.sq = 1, c.skv = skv, c.d = 64, c.causal = true;
    c.seed = static_cast<uint32_t>(1200 + skv);
    for (size_t way = 0; way < 4; ++way) decode_case(c, way);
  }
}

TEST(AttentionDecode, EveryMaskAndCombination) {
  const size_t vl = test_vl();
  uint32_t seed = 1300;
  for (bool causal : {false, true}) {
    for (size_t window : {size_t{0}, size_t{5}, size_t{1} << 40}) {
      for (Bias bias : {Bias::kNone, Bias::kShared, Bias::kPerHead, Bias::kPerBatchHead}) {
        Case c;
        c.batch = 2, c.hq = 4, c.hkv = 2, c.sq = 1 + seed % 2, c.skv = 2 * vl + 5, c.d = 9;
        c.causal = causal, c.window = window, c.bias = bias, c.masked = 0.2;
        c.seed = seed++;
        decode_case(c, seed);
      }
    }
  }
}

TEST(AttentionDecode, FullyMaskedRowsAreZeros) {
  const size_t vl = test_vl();
  for (Bias bias : {Bias::kShared, Bias::kPerHead, Bias::kPerBatchHead}) {
    Case c;
    c.batch = 2, c.hq = 4, c.hkv = 2, c.sq = 2, c.skv = 2 * vl + 3, c.d = 8;
    c.bias = bias, c.dead_rows = 3, c.causal = bias == Bias::kPerHead, c.masked = 0.5;
    c.seed = 1400;
    decode_case(c, static_cast<size_t>(bias));
    expect_masked_rows_zero(c);
  }
}

TEST(AttentionDecode, LargeScoresAndLongCaches) {
  // |scale q.k| ~ 1e3: the running maximum moves in later blocks (O and the sums rescaled).
  for (size_t d : {3, 64}) {
    Case c;
    c.hq = 4, c.hkv = 1, c.sq = 1, c.skv = 150, c.d = d, c.magnitude = 8.0f;
    c.scale = d == 3 ? 16.0f : 4.0f, c.causal = true, c.seed = 1500;
    for (size_t k = 0; k < 4; ++k) decode_case(c, k);
    c.bias = Bias::kPerHead, c.masked = 0.3, c.causal = false, c.sq = 2;
    for (size_t k = 0; k < 4; ++k) decode_case(c, k);
  }
}

TEST(AttentionDecode, LayoutsAndCaches) {
  const size_t vl = test_vl();
  uint32_t seed = 1600;
  for (bool bshd : {false, true}) {
    for (size_t extra : {size_t{0}, size_t{37}}) {
      Case c;
      c.batch = 2, c.hq = 8, c.hkv = 2, c.sq = 1, c.skv = 2 * vl + 7, c.d = 24;
      c.bshd = bshd, c.cache_extra = extra, c.pad = extra % 2 ? 3 : 0, c.causal = true;
      c.seed = seed++;
      decode_case(c, seed);
    }
  }
}

TEST(AttentionDecode, ThreadsGiveTheSameBits) {
  const size_t vl = test_vl();
  Case c;
  c.batch = 2, c.hq = 6, c.hkv = 3, c.sq = 2, c.skv = 2 * vl + 3, c.d = 20;
  c.causal = true, c.bias = Bias::kPerHead, c.masked = 0.1, c.seed = 1700;
  Attn<F16, f16> serial(c);
  ASSERT_TRUE(serial.call().ok());
  for (size_t tasks : {2, 3, 5}) {
    test::ThreadPool pool(tasks < 4 ? tasks : 4);
    Attn<F16, f16> parallel(c);
    ASSERT_TRUE(parallel.call(pool.parallel_for(tasks)).ok());
    EXPECT_EQ(0, std::memcmp(serial.o.buf.data(), parallel.o.buf.data(), serial.o.buf.size_bytes()))
        << tasks << " tasks";
  }
}

// ------------------------------------------------------------------------------ bad input

class BadInput : public ::testing::Test {
 protected:
  BadInput() : run(base()) {
    size_t need = 0;  // the kernel's own figure, so `bytes` below never exceeds the buffer
    EXPECT_TRUE(attention_workspace_size<F16>(run.shape, &need).ok());
    workspace.resize(need);
  }
  static Case base() {
    Case c;
    c.batch = 2, c.hq = 4, c.hkv = 2, c.sq = 3, c.skv = 5, c.d = 8, c.seed = 1000;
    return c;
  }
  /// The call with `edit` applied, expecting `code` and a message naming `word`.
  struct Args {
    AttentionShape shape;
    HeadsView<const f16> q, k, v;
    HeadsView<f16> o;
    AttentionParams params;
    void* ws;
    size_t bytes;
  };
  /// The call with `edit` applied, expecting `code` and a message naming `word`.
  template <class Edit>
  void expect(StatusCode code, const char* word, Edit&& edit) {
    Args a{run.shape,  run.q.cview(), run.k.cview(),    run.v.cview(),
           run.o.view, run.params,    workspace.data(), workspace.size()};
    edit(a);
    const Status s = attention<F16>(a.shape, a.q, a.k, a.v, a.o, a.params, a.ws, a.bytes);
    EXPECT_EQ(s.code(), code) << s.message();
    EXPECT_NE(std::string(s.message()).find(word), std::string::npos) << s.message();
  }
  Attn<F16, f16> run;
  std::vector<uint8_t> workspace;
};

#define EDIT [&](Args & a)

TEST_F(BadInput, BaseCallIsFine) {
  expect(StatusCode::kOk, "", EDIT { (void)a; });
  const std::vector<f16> before(run.o.buf.begin(), run.o.buf.end());
  // and a refused call writes nothing
  expect(StatusCode::kInvalidArgument, "multiple", EDIT { a.shape.q_heads = 3; });
  EXPECT_EQ(0, std::memcmp(before.data(), run.o.buf.data(), run.o.buf.size_bytes()));
}

TEST_F(BadInput, NullPointers) {
  expect(StatusCode::kNullPointer, "Q is null", EDIT { a.q.data = nullptr; });
  expect(StatusCode::kNullPointer, "K is null", EDIT { a.k.data = nullptr; });
  expect(StatusCode::kNullPointer, "V is null", EDIT { a.v.data = nullptr; });
  expect(StatusCode::kNullPointer, "O is null", EDIT { a.o.data = nullptr; });
  expect(StatusCode::kNullPointer, "workspace", EDIT { a.ws = nullptr; });
  OpPlan plan;
  EXPECT_EQ(attention_plan<F16>(run.shape, nullptr).code(), StatusCode::kNullPointer);
  EXPECT_EQ(attention_workspace_size<F16>(run.shape, nullptr).code(), StatusCode::kNullPointer);
  (void)plan;
}

TEST_F(BadInput, Sizes) {
  expect(StatusCode::kInvalidArgument, ">= 1", EDIT { a.shape.batch = 0; });
  expect(StatusCode::kInvalidArgument, ">= 1", EDIT { a.shape.kv_heads = 0; });
  expect(StatusCode::kInvalidArgument, ">= 1", EDIT { a.shape.q_len = 0; });
  expect(StatusCode::kInvalidArgument, ">= 1", EDIT { a.shape.kv_len = 0; });
  expect(StatusCode::kInvalidArgument, ">= 1", EDIT { a.shape.head_dim = 0; });
  expect(StatusCode::kInvalidArgument, "exceeds 256", EDIT { a.shape.head_dim = 257; });
  expect(StatusCode::kInvalidArgument, "not a multiple", EDIT { a.shape.kv_heads = 3; });
  expect(StatusCode::kSizeOverflow, "overflow", EDIT { a.shape.batch = SIZE_MAX / 2; });
  size_t b = 0;
  EXPECT_EQ(attention_workspace_size<F16>(AttentionShape{1, 1, 1, 1, 1, 300}, &b).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(BadInput, Strides) {
  expect(StatusCode::kInvalidArgument, "seq_stride", EDIT { a.q.seq_stride = 7; });
  expect(StatusCode::kInvalidArgument, "seq_stride", EDIT { a.k.seq_stride = 0; });
  expect(StatusCode::kInvalidArgument, "O's rows overlap", EDIT { a.o.head_stride = 8; });
  expect(StatusCode::kInvalidArgument, "O's rows overlap", EDIT { a.o.batch_stride = 0; });
  expect(StatusCode::kSizeOverflow, "extent", EDIT { a.k.head_stride = SIZE_MAX / 4; });
  expect(StatusCode::kSizeOverflow, "extent", EDIT { a.q.batch_stride = SIZE_MAX / 2 + 5; });
}

TEST_F(BadInput, Mask) {
  std::vector<float> bias(64 * 64);
  expect(
      StatusCode::kInvalidArgument, "q_len", EDIT {
        a.shape.q_len = 6;
        a.params.mask.causal = true;
      });
  expect(
      StatusCode::kInvalidArgument, "q_len", EDIT {
        a.shape.q_len = 6;
        a.params.mask.window = 2;
      });
  expect(
      StatusCode::kInvalidArgument, "bias_ld", EDIT {
        a.params.mask.bias = bias.data();
        a.params.mask.bias_ld = 4;
      });
  expect(
      StatusCode::kSizeOverflow, "bias", EDIT {
        a.params.mask.bias = bias.data();
        a.params.mask.bias_ld = 5;
        a.params.mask.bias_head_stride = SIZE_MAX / 2;
      });
  expect(StatusCode::kInvalidArgument, "scale", EDIT { a.params.scale = -1.0f; });
  expect(StatusCode::kInvalidArgument, "scale", EDIT { a.params.scale = kInf; });
  expect(StatusCode::kInvalidArgument, "scale", EDIT { a.params.scale = std::nanf(""); });
  expect(StatusCode::kInvalidArgument, "scale", EDIT { a.params.scale = 2e6f; });
}

TEST_F(BadInput, Overlaps) {
  expect(
      StatusCode::kInvalidArgument, "O overlaps Q", EDIT {
        a.o.data = const_cast<f16*>(a.q.data);
        a.o.batch_stride = a.q.batch_stride, a.o.head_stride = a.q.head_stride,
        a.o.seq_stride = a.q.seq_stride;
      });
  expect(
      StatusCode::kInvalidArgument, "O overlaps V",
      EDIT { a.o.data = const_cast<f16*>(a.v.data) + 1; });
  expect(
      StatusCode::kInvalidArgument, "O overlaps the bias", EDIT {
        a.params.mask.bias = reinterpret_cast<const float*>(a.o.data);
        a.params.mask.bias_ld = 5;
      });
  expect(
      StatusCode::kInvalidArgument, "workspace overlaps",
      EDIT { a.ws = const_cast<f16*>(a.k.data); });
}

// The element-alignment rule (types/alignment.hpp) at the door, for every view and the bias.
TEST_F(BadInput, MisalignedPointers) {
  const auto off = [](auto* p) {  // one byte on: misaligned for f16 and f32
    using T = std::remove_pointer_t<decltype(p)>;
    return reinterpret_cast<T*>(reinterpret_cast<uintptr_t>(p) + 1);
  };
  expect(StatusCode::kInvalidArgument, "Q (", EDIT { a.q.data = off(a.q.data); });
  expect(StatusCode::kInvalidArgument, "K (", EDIT { a.k.data = off(a.k.data); });
  expect(StatusCode::kInvalidArgument, "V (", EDIT { a.v.data = off(a.v.data); });
  expect(StatusCode::kInvalidArgument, "O (", EDIT { a.o.data = off(a.o.data); });
  std::vector<float> bias(64);
  expect(
      StatusCode::kInvalidArgument, "the bias (", EDIT {
        a.params.mask.bias = off(bias.data());
        a.params.mask.bias_ld = 5;
      });
}

// A window of kv_len keys or more is no window at all: the same bits as window 0, whatever
// its size (the SME2 kernel's signed position arithmetic once took it as it came).
TEST_F(BadInput, HugeWindowIsNoWindow) {
  for (bool causal : {false, true}) {
    SCOPED_TRACE(causal ? "causal" : "not causal");
    AttentionParams p = run.params;
    p.mask.causal = causal;
    p.mask.window = 0;
    ASSERT_TRUE(attention<F16>(run.shape, run.q.cview(), run.k.cview(), run.v.cview(), run.o.view,
                               p, workspace.data(), workspace.size())
                    .ok());
    const std::vector<f16> want(run.o.buf.begin(), run.o.buf.end());
    for (size_t window : {run.shape.kv_len, run.shape.kv_len + 1, size_t{1} << 62,
                          static_cast<size_t>(PTRDIFF_MAX), SIZE_MAX}) {
      p.mask.window = window;
      const Status s = attention<F16>(run.shape, run.q.cview(), run.k.cview(), run.v.cview(),
                                      run.o.view, p, workspace.data(), workspace.size());
      ASSERT_TRUE(s.ok()) << window << ": " << s.message();
      EXPECT_EQ(0, std::memcmp(want.data(), run.o.buf.data(), run.o.buf.size_bytes())) << window;
    }
  }
}

TEST_F(BadInput, Workspace) {
  size_t need = 0;
  ASSERT_TRUE(attention_workspace_size<F16>(run.shape, &need).ok());
  expect(StatusCode::kBufferTooSmall, "needs", EDIT { a.bytes = need - 1; });
  expect(StatusCode::kOk, "", EDIT { a.bytes = need; });
  // sized for a serial call, refused for a parallel one that makes more tasks
  test::ThreadPool pool(2);
  const Status s =
      attention<F16>(run.shape, run.q.cview(), run.k.cview(), run.v.cview(), run.o.view, run.params,
                     workspace.data(), need, pool.parallel_for(4));
  EXPECT_EQ(s.code(), StatusCode::kBufferTooSmall) << s.message();
}

}  // namespace
}  // namespace sme2k
