// The threading hook (types/parallel.hpp): every op run through a real std::thread pool
// gives the serial run's bytes exactly, for pools of 2 to 4 threads letting the op make 2 to
// 64 tasks; shapes are chosen in units of the current path's tiles so that the ops really
// split (the pool counts the tasks it is handed). Also: a workspace sized for the serial
// call is refused for a parallel one, and a pool thread whose streaming vector length
// differs from the caller's makes the op fail instead of computing garbage.
#include <gtest/gtest.h>
#include <sys/prctl.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "harness/thread_pool.hpp"
#include "sme2k/sme2k.hpp"

#ifndef PR_SME_SET_VL
#define PR_SME_SET_VL 63
#endif

namespace sme2k {
namespace {

using test::ThreadPool;

/// Rows and columns of the current path's tiles: 2VL on SME2, 4 x 8 portably.
struct Tiles {
  size_t rows, cols;
};
Tiles current_tiles() {
  const size_t vl = select_path() == Path::kPortable ? 0 : streaming_vl();
  return vl == 0 ? Tiles{4, 8} : Tiles{2 * vl, 2 * vl};
}

/// Deterministic values: floats in [-1, 1) with 10 significant bits, or raw integers.
class Values {
 public:
  explicit Values(uint32_t seed) : state_(seed * 2654435761u + 1) {}
  uint32_t next() {
    state_ = state_ * 1664525u + 1013904223u;
    return state_ >> 8;
  }
  float unit() { return static_cast<float>(static_cast<int>(next() % 2048) - 1024) / 1024.0f; }
  template <class T>
  std::vector<T> make(size_t count) {
    std::vector<T> v(count);
    for (T& x : v) {
      if constexpr (std::is_same_v<T, int8_t>) {
        x = static_cast<int8_t>(next() % 256 - 128);
      } else if constexpr (std::is_same_v<T, uint8_t>) {
        x = static_cast<uint8_t>(next());
      } else {
        x = convert_to<T>(unit());
      }
    }
    return v;
  }

 private:
  uint32_t state_;
};

/// One op call writing `out`, run with `parallel` (serial: a default ParallelFor).
using OpRun = std::function<Status(const ParallelFor& parallel, std::vector<uint8_t>* out)>;

/// Runs `op` serially, then through pools of 2 to 4 threads allowing 2 to 64 tasks, and
/// expects identical bytes each time; `splits`: the shape makes several tasks when allowed.
void expect_parallel_identical(const std::string& what, const OpRun& op, bool splits = true) {
  SCOPED_TRACE(what + " on " + path_name(select_path()));
  std::vector<uint8_t> serial;
  ASSERT_TRUE(op(ParallelFor{}, &serial).ok()) << op(ParallelFor{}, &serial).message();
  struct Config {
    size_t threads, max_tasks;
  };
  for (const Config c : {Config{2, 2}, Config{3, 3}, Config{4, 8}, Config{3, 64}}) {
    ThreadPool pool(c.threads);
    std::vector<uint8_t> parallel(serial.size(), 0xA5);
    const Status s = op(pool.parallel_for(c.max_tasks), &parallel);
    ASSERT_TRUE(s.ok()) << s.message() << " (max_tasks " << c.max_tasks << ")";
    EXPECT_EQ(parallel, serial) << "threads " << c.threads << ", max_tasks " << c.max_tasks;
    EXPECT_LE(pool.last_count(), c.max_tasks);
    if (splits) {
      EXPECT_GE(pool.calls(), 1u) << "the op never used the pool (max_tasks " << c.max_tasks << ")";
      EXPECT_GE(pool.last_count(), 2u) << "max_tasks " << c.max_tasks;
    }
  }
}

template <class T>
std::vector<uint8_t>& as_bytes_of(std::vector<uint8_t>* out, size_t count) {
  out->assign(count * sizeof(T), 0xA5);
  return *out;
}

/// A GEMM case: shape, output order, a per-channel affine after ReLU or none.
struct GemmCase {
  size_t m, n, k;
  OutputOrder order;
  bool affine;
};

std::string describe(const GemmCase& g) {
  return "M=" + std::to_string(g.m) + " N=" + std::to_string(g.n) + " K=" + std::to_string(g.k) +
         (g.order == OutputOrder::kTransposed ? " transposed" : "") + (g.affine ? " affine" : "");
}

/// The cases every GEMM variant runs: many rows (row panels, then weight panels), few rows
/// (the small-M kernel: weight panels only), C transposed, an affine (per-channel vectors
/// that every task must index from its own first column).
std::vector<GemmCase> gemm_cases() {
  const Tiles t = current_tiles();
  return {{3 * t.rows + 5, 3 * t.cols + 3, 37, OutputOrder::kRowMajor, false},
          {3, 5 * t.cols + 1, 64, OutputOrder::kRowMajor, true},
          {2 * t.rows + 1, 4 * t.cols, 19, OutputOrder::kTransposed, true},
          {t.rows + 3, 2 * t.cols + 7, 8, OutputOrder::kRowMajor, true}};
}

/// gemm<V> on case g with weights packed by `pack(b_kxn, packed, bytes)`.
template <class V, class Out = typename VariantTraits<V>::Out,
          class In = typename VariantTraits<V>::Lhs>
void check_gemm(const GemmCase& g, size_t packed_bytes,
                const std::function<Status(void*, size_t)>& pack, const GemmEpilogue& base = {}) {
  std::vector<uint8_t> packed(packed_bytes);
  ASSERT_TRUE(pack(packed.data(), packed.size()).ok());
  Values values(static_cast<uint32_t>(g.m * 131 + g.n));
  const std::vector<In> a = values.template make<In>(g.m * g.k);
  std::vector<float> scale(g.n), shift(g.n);
  for (size_t j = 0; j < g.n; ++j) {
    scale[j] = 0.5f + static_cast<float>(j % 7) / 8.0f;
    shift[j] = static_cast<float>(j % 5) / 4.0f - 0.5f;
  }
  GemmEpilogue e = base;
  e.order = g.order;
  if (g.affine && !std::is_same_v<Out, int8_t>) {
    e.activation = Activation::kRelu;
    e.affine = {scale.data(), shift.data()};
  }
  const bool transposed = g.order == OutputOrder::kTransposed;
  const OpRun op = [&](const ParallelFor& parallel, std::vector<uint8_t>* out) {
    std::vector<uint8_t>& bytes = as_bytes_of<Out>(out, g.m * g.n);
    size_t ws = 0;
    SME2K_RETURN_IF_ERROR(gemm_workspace_size<V>(g.m, g.n, g.k, &ws, g.order, parallel));
    std::vector<uint8_t> workspace(ws);
    auto* c = reinterpret_cast<Out*>(bytes.data());
    const MatrixView<Out> cv =
        transposed ? MatrixView<Out>{c, g.n, g.m, g.m} : MatrixView<Out>{c, g.m, g.n, g.n};
    return gemm<V, Out>(MatrixView<const In>{a.data(), g.m, g.k, g.k}, packed.data(), packed.size(),
                        cv, e, workspace.data(), workspace.size(), parallel);
  };
  expect_parallel_identical(describe(g), op);
}

template <class V>
size_t packed_size(size_t n, size_t k) {
  size_t bytes = 0;
  EXPECT_TRUE(gemm_packed_rhs_size<V>(n, k, &bytes).ok());
  return bytes;
}

template <class V, class Out = typename VariantTraits<V>::Out>
void check_float_gemm() {
  using Rhs = typename VariantTraits<V>::Rhs;
  using Bias = typename VariantTraits<V>::Bias;
  for (const GemmCase& g : gemm_cases()) {
    Values values(7);
    const std::vector<Rhs> b = values.make<Rhs>(g.k * g.n);
    const std::vector<Bias> bias = values.make<Bias>(g.n);
    check_gemm<V, Out>(g, packed_size<V>(g.n, g.k), [&](void* packed, size_t bytes) {
      return gemm_pack_rhs<V>(MatrixView<const Rhs>{b.data(), g.k, g.n, g.n}, RhsLayout::kKxN,
                              bias.data(), packed, bytes);
    });
  }
}

TEST(Parallel, GemmF32) { check_float_gemm<F32>(); }
TEST(Parallel, GemmF16) { check_float_gemm<F16>(); }
TEST(Parallel, GemmF16ToF32) { check_float_gemm<F16, float>(); }
TEST(Parallel, GemmF16Acc16) { check_float_gemm<F16Acc16>(); }

TEST(Parallel, GemmQs8) {
  for (const GemmCase& g : gemm_cases()) {
    Values values(11);
    const std::vector<int8_t> b = values.make<int8_t>(g.k * g.n);
    std::vector<int32_t> bias(g.n);
    std::vector<float> w_scales(g.n), stage_scale(g.n), stage_shift(g.n);
    for (size_t j = 0; j < g.n; ++j) {
      bias[j] = static_cast<int32_t>(values.next() % 2001) - 1000;
      w_scales[j] = 0.002f + 0.0001f * static_cast<float>(j % 13);
      stage_scale[j] = 0.75f + static_cast<float>(j % 3) / 8.0f;
      stage_shift[j] = static_cast<float>(j % 9) - 4.0f;
    }
    const Qs8Quantization q{{0.05f, 3}, w_scales.data(), {0.04f, -5}};
    GemmEpilogue e;
    if (g.affine) {  // a quantized BatchNorm after the requantization, per channel
      e.int8_stages.scale = stage_scale.data();
      e.int8_stages.shift = stage_shift.data();
      e.int8_stages.zero_point = 2;
    }
    check_gemm<QS8>(
        g, packed_size<QS8>(g.n, g.k),
        [&](void* packed, size_t bytes) {
          return gemm_pack_rhs<QS8>(MatrixView<const int8_t>{b.data(), g.k, g.n, g.n},
                                    RhsLayout::kKxN, bias.data(), q, packed, bytes);
        },
        e);
  }
}

TEST(Parallel, GemmQd8) {
  for (const GemmCase& g : gemm_cases()) {
    Values values(13);
    const std::vector<int8_t> b = values.make<int8_t>(g.k * g.n);
    const std::vector<float> bias = values.make<float>(g.n);
    std::vector<float> scales(g.n, 0.01f);
    const auto pack = [&](void* packed, size_t bytes) {
      return gemm_pack_rhs<QD8>(MatrixView<const int8_t>{b.data(), g.k, g.n, g.n}, RhsLayout::kKxN,
                                bias.data(), scales.data(), packed, bytes);
    };
    check_gemm<QD8>(g, packed_size<QD8>(g.n, g.k), pack);
    check_gemm<QD8, f16, f16>(g, packed_size<QD8>(g.n, g.k), pack);
  }
}

/// 4-bit weights as int8 values in -8..7, K x N.
std::vector<int8_t> int4_values(size_t k, size_t n, uint32_t seed) {
  Values values(seed);
  std::vector<int8_t> v(k * n);
  for (int8_t& x : v) x = static_cast<int8_t>(values.next() % 16) - 8;
  return v;
}

TEST(Parallel, GemmQd8Qc4w) {
  for (const GemmCase& g : gemm_cases()) {
    const std::vector<int8_t> b = int4_values(g.k, g.n, 17);
    std::vector<float> scales(g.n, 0.03f);
    check_gemm<QD8QC4W>(g, packed_size<QD8QC4W>(g.n, g.k), [&](void* packed, size_t bytes) {
      return gemm_pack_rhs<QD8QC4W>(Int4View{b.data(), g.k, g.n, g.n, Int4Storage::kInt8},
                                    RhsLayout::kKxN, nullptr, scales.data(), packed, bytes);
    });
  }
}

TEST(Parallel, GemmQd8Qb4w) {
  for (GemmCase g : gemm_cases()) {
    g.k = 64;  // a multiple of the block
    const std::vector<int8_t> b = int4_values(g.k, g.n, 19);
    std::vector<float> scales(g.n * 2);
    for (size_t i = 0; i < scales.size(); ++i)
      scales[i] = 0.01f + 0.001f * static_cast<float>(i % 5);
    const BlockScales bs{scales.data(), ScaleType::kF32, 32, 2};
    check_gemm<QD8QB4W>(g, packed_size<QD8QB4W>(g.n, g.k), [&](void* packed, size_t bytes) {
      return gemm_pack_rhs<QD8QB4W>(Int4View{b.data(), g.k, g.n, g.n, Int4Storage::kInt8},
                                    RhsLayout::kKxN, nullptr, bs, packed, bytes);
    });
  }
}

/// QD8 activations packed once (gemm_pack_lhs, in tasks) and multiplied (in tasks).
template <class V>
void check_packed_lhs(const std::function<Status(size_t n, size_t k, void*, size_t)>& pack_rhs) {
  for (const GemmCase& g : gemm_cases()) {
    Values values(23);
    const std::vector<float> a = values.make<float>(g.m * g.k);
    size_t a_bytes = 0, w_bytes = packed_size<V>(g.n, g.k);
    ASSERT_TRUE(gemm_packed_lhs_size<V>(g.m, g.k, &a_bytes).ok());
    std::vector<uint8_t> weights(w_bytes);
    ASSERT_TRUE(pack_rhs(g.n, g.k, weights.data(), w_bytes).ok());
    const MatrixView<const float> av{a.data(), g.m, g.k, g.k};
    expect_parallel_identical(
        "gemm_pack_lhs " + describe(g),
        [&](const ParallelFor& parallel, std::vector<uint8_t>* out) {
          out->assign(a_bytes, 0);
          return gemm_pack_lhs<V>(av, out->data(), out->size(), parallel);
        },
        g.m > current_tiles().rows);
    std::vector<uint8_t> packed_a(a_bytes);
    ASSERT_TRUE(gemm_pack_lhs<V>(av, packed_a.data(), packed_a.size()).ok());
    GemmEpilogue e;
    e.order = g.order;
    expect_parallel_identical("gemm(PackedLhs) " + describe(g), [&](const ParallelFor& parallel,
                                                                    std::vector<uint8_t>* out) {
      std::vector<uint8_t>& bytes = as_bytes_of<float>(out, g.m * g.n);
      size_t ws = 0;
      SME2K_RETURN_IF_ERROR(gemm_workspace_size<V>(g.m, g.n, g.k, &ws, g.order, parallel));
      std::vector<uint8_t> workspace(ws);
      auto* c = reinterpret_cast<float*>(bytes.data());
      const MatrixView<float> cv = g.order == OutputOrder::kTransposed
                                       ? MatrixView<float>{c, g.n, g.m, g.m}
                                       : MatrixView<float>{c, g.m, g.n, g.n};
      return gemm<V>(PackedLhs{packed_a.data(), packed_a.size()}, weights.data(), w_bytes, cv, e,
                     workspace.data(), workspace.size(), parallel);
    });
  }
}

TEST(Parallel, GemmPackedLhsQd8) {
  check_packed_lhs<QD8>([](size_t n, size_t k, void* packed, size_t bytes) {
    const std::vector<int8_t> b = int4_values(k, n, 29);
    const std::vector<float> scales(n, 0.02f);
    return gemm_pack_rhs<QD8>(MatrixView<const int8_t>{b.data(), k, n, n}, RhsLayout::kKxN, nullptr,
                              scales.data(), packed, bytes);
  });
}

TEST(Parallel, GemmPackedLhsQd8Qc4w) {
  check_packed_lhs<QD8QC4W>([](size_t n, size_t k, void* packed, size_t bytes) {
    const std::vector<int8_t> b = int4_values(k, n, 31);
    const std::vector<float> scales(n, 0.02f);
    return gemm_pack_rhs<QD8QC4W>(Int4View{b.data(), k, n, n, Int4Storage::kInt8}, RhsLayout::kKxN,
                                  nullptr, scales.data(), packed, bytes);
  });
}

template <class V>
void check_batch_matmul() {
  using T = typename VariantTraits<V>::Lhs;
  using Out = typename VariantTraits<V>::Out;
  const Tiles t = current_tiles();
  struct Case {
    size_t batch, m, n, k;
    RhsLayout layout;
    bool broadcast_b;
    OutputOrder order;
  };
  for (const Case c :
       {Case{1, 3 * t.rows + 1, t.cols + 5, 21, RhsLayout::kNxK, false, OutputOrder::kRowMajor},
        Case{3, 2 * t.rows + 2, 2 * t.cols, 16, RhsLayout::kKxN, false, OutputOrder::kTransposed},
        Case{5, 3, 3 * t.cols, 9, RhsLayout::kKxN, true, OutputOrder::kRowMajor},
        Case{2, t.rows + 1, 7, 33, RhsLayout::kNxK, true, OutputOrder::kRowMajor}}) {
    Values values(37);
    const std::vector<T> a = values.make<T>(c.batch * c.m * c.k);
    const size_t b_items = c.broadcast_b ? 1 : c.batch;
    const std::vector<T> b = values.make<T>(b_items * c.n * c.k);
    const size_t b_rows = c.layout == RhsLayout::kKxN ? c.k : c.n;
    const size_t b_cols = c.layout == RhsLayout::kKxN ? c.n : c.k;
    const bool transposed = c.order == OutputOrder::kTransposed;
    GemmEpilogue e;
    e.order = c.order;
    e.activation = Activation::kHardSwish;
    expect_parallel_identical(
        "batch_matmul batch " + std::to_string(c.batch) + " M=" + std::to_string(c.m),
        [&](const ParallelFor& parallel, std::vector<uint8_t>* out) {
          std::vector<uint8_t>& bytes = as_bytes_of<Out>(out, c.batch * c.m * c.n);
          size_t ws = 0;
          SME2K_RETURN_IF_ERROR(
              batch_matmul_workspace_size<V>(c.batch, c.m, c.n, c.k, &ws, c.order, parallel));
          std::vector<uint8_t> workspace(ws);
          auto* cp = reinterpret_cast<Out*>(bytes.data());
          const MatrixView<Out> cv =
              transposed ? MatrixView<Out>{cp, c.n, c.m, c.m} : MatrixView<Out>{cp, c.m, c.n, c.n};
          return batch_matmul<V>(c.batch, MatrixView<const T>{a.data(), c.m, c.k, c.k}, c.m * c.k,
                                 MatrixView<const T>{b.data(), b_rows, b_cols, b_cols}, c.layout,
                                 c.broadcast_b ? 0 : c.n * c.k, cv, c.m * c.n, e, workspace.data(),
                                 workspace.size(), parallel);
        },
        c.batch > 1 || c.m > t.rows);
  }
}

TEST(Parallel, BatchMatmulF32) { check_batch_matmul<F32>(); }
TEST(Parallel, BatchMatmulF16) { check_batch_matmul<F16>(); }

/// A convolution case: shape, layouts, epilogue.
struct ConvCase {
  Conv2dParams p;
  TensorLayout in, out;
  bool affine;
};

template <class V>
void check_conv(const ConvCase& c) {
  using T = typename VariantTraits<V>::Lhs;
  using Out = typename VariantTraits<V>::Out;
  const Conv2dParams& p = c.p;
  Values values(static_cast<uint32_t>(p.in_channels * 7 + p.out_channels));
  const std::vector<T> w = values.make<T>(p.out_channels * p.in_channels_per_group() * p.taps());
  const std::vector<T> x = values.make<T>(p.batch * p.in_channels * p.in_height * p.in_width);
  std::vector<float> scale(p.out_channels), shift(p.out_channels), w_scales(p.out_channels);
  std::vector<int32_t> bias_i(p.out_channels);
  for (size_t j = 0; j < p.out_channels; ++j) {
    scale[j] = 0.5f + static_cast<float>(j % 5) / 4.0f;
    shift[j] = static_cast<float>(j % 3) - 1.0f;
    w_scales[j] = 0.003f + 0.0002f * static_cast<float>(j % 11);
    bias_i[j] = static_cast<int32_t>(j * 37 % 401) - 200;
  }
  const std::vector<float> bias_f = values.make<float>(p.out_channels);
  size_t packed_bytes = 0;
  ASSERT_TRUE(conv2d_packed_weights_size<V>(p, &packed_bytes).ok());
  std::vector<uint8_t> packed(packed_bytes);
  GemmEpilogue e;
  if constexpr (std::is_same_v<V, QS8>) {
    const Qs8Quantization q{{0.04f, 5}, w_scales.data(), {0.05f, -3}};
    ASSERT_TRUE(conv2d_pack_weights<V>(p, w.data(), ConvWeightLayout::kOIHW, bias_i.data(), q,
                                       packed.data(), packed.size())
                    .ok());
    e.quantized_range = {-3, 127};  // a fused ReLU
  } else {
    ASSERT_TRUE(conv2d_pack_weights<V>(p, w.data(), ConvWeightLayout::kOIHW, bias_f.data(),
                                       packed.data(), packed.size())
                    .ok());
    e.activation = Activation::kRelu;
    if (c.affine) e.affine = {scale.data(), shift.data()};
  }
  const size_t out_elements = p.batch * p.out_channels * p.out_height() * p.out_width();
  const std::string what = "conv2d Cin " + std::to_string(p.in_channels) + " Cout " +
                           std::to_string(p.out_channels) + " groups " + std::to_string(p.groups) +
                           (c.in == TensorLayout::kNCHW ? " nchw" : " nhwc") +
                           (c.out == TensorLayout::kNCHW ? ":nchw" : ":nhwc");
  expect_parallel_identical(what, [&](const ParallelFor& parallel, std::vector<uint8_t>* out) {
    std::vector<uint8_t>& bytes = as_bytes_of<Out>(out, out_elements);
    size_t ws = 0;
    SME2K_RETURN_IF_ERROR(conv2d_workspace_size<V>(p, c.in, c.out, &ws, parallel));
    std::vector<uint8_t> workspace(ws);
    return conv2d<V>(p, x.data(), c.in, packed.data(), packed.size(),
                     reinterpret_cast<Out*>(bytes.data()), c.out, e, workspace.data(),
                     workspace.size(), parallel);
  });
}

Conv2dParams conv_params(size_t batch, size_t cin, size_t h, size_t w, size_t cout, size_t kernel,
                         size_t stride, size_t groups) {
  Conv2dParams p;
  p.batch = batch;
  p.in_channels = cin;
  p.in_height = h;
  p.in_width = w;
  p.out_channels = cout;
  p.kernel_height = p.kernel_width = kernel;
  p.stride_height = p.stride_width = stride;
  p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = kernel / 2;
  p.groups = groups;
  return p;
}

/// Pixel panels by channel panels, groups, a batch, few pixels and many channels (the
/// channels split), depthwise (channels or, NHWC on SME2, pixels split).
std::vector<ConvCase> conv_cases() {
  const Tiles t = current_tiles();
  const size_t wide = 2 * t.cols + 3;  // channels over more than two weight panels
  return {
      {conv_params(1, 5, 9, 2 * t.rows / 3 + 4, 7, 3, 1, 1), TensorLayout::kNCHW,
       TensorLayout::kNCHW, true},
      {conv_params(2, 6, 7, 5, 9, 3, 2, 3), TensorLayout::kNHWC, TensorLayout::kNCHW, false},
      {conv_params(1, 4, 3, 3, wide, 1, 1, 1), TensorLayout::kNCHW, TensorLayout::kNHWC, true},
      {conv_params(1, 3, 2, 5, 2 * wide, 3, 1, 1), TensorLayout::kNHWC, TensorLayout::kNHWC, true},
      {conv_params(2, 12, 6, 7, 12, 3, 1, 12), TensorLayout::kNCHW, TensorLayout::kNCHW, true},
      {conv_params(1, 9, 2 * t.rows / 4 + 2, 5, 9, 3, 1, 9), TensorLayout::kNHWC,
       TensorLayout::kNHWC, false},
      {conv_params(1, 4, 6, 6, 8, 3, 2, 4), TensorLayout::kNCHW, TensorLayout::kNCHW, false}};
}

TEST(Parallel, Conv2dF32) {
  for (const ConvCase& c : conv_cases()) check_conv<F32>(c);
}
TEST(Parallel, Conv2dF16) {
  for (const ConvCase& c : conv_cases()) check_conv<F16>(c);
}
TEST(Parallel, Conv2dQs8) {
  for (const ConvCase& c : conv_cases()) check_conv<QS8>(c);
}

template <class T>
void check_layout_transforms() {
  // The tile each path moves at a time: E x E elements through ZA, 16 x 16 portably.
  const size_t vl = select_path() == Path::kPortable ? 0 : streaming_vl();
  const size_t e = vl == 0 ? 16 : vl * 4 / sizeof(T);
  Values values(41);
  const size_t rows = 2 * e + 1, cols = e + 5;
  const std::vector<T> src = values.make<T>(rows * (cols + 2));
  expect_parallel_identical(
      "transpose", [&](const ParallelFor& parallel, std::vector<uint8_t>* out) {
        std::vector<uint8_t>& bytes = as_bytes_of<T>(out, cols * (rows + 1));
        return transpose<T>(MatrixView<const T>{src.data(), rows, cols, cols + 2},
                            MatrixView<T>{reinterpret_cast<T*>(bytes.data()), cols, rows, rows + 1},
                            parallel);
      });
  for (const TensorLayout from : {TensorLayout::kNCHW, TensorLayout::kNHWC}) {
    const TensorLayout to = from == TensorLayout::kNCHW ? TensorLayout::kNHWC : TensorLayout::kNCHW;
    const size_t n = 2, c = e + 1, h = 3, w = 5;
    const std::vector<T> x = values.make<T>(n * c * h * w);
    expect_parallel_identical(
        "convert_layout", [&](const ParallelFor& parallel, std::vector<uint8_t>* out) {
          std::vector<uint8_t>& bytes = as_bytes_of<T>(out, x.size());
          return convert_layout<T>(x.data(), from, reinterpret_cast<T*>(bytes.data()), to, n, c, h,
                                   w, parallel);
        });
  }
}

TEST(Parallel, LayoutTransforms8) { check_layout_transforms<int8_t>(); }
TEST(Parallel, LayoutTransforms16) { check_layout_transforms<f16>(); }
TEST(Parallel, LayoutTransforms32) { check_layout_transforms<float>(); }

// QD8: a workspace on every path (the portable kernel quantizes rows into it).
TEST(Parallel, SerialWorkspaceIsTooSmallForTasks) {
  const Tiles t = current_tiles();
  const size_t m = 4 * t.rows, n = 2 * t.cols, k = 16;
  std::vector<float> a(m * k, 1.0f), c(m * n), scales(n, 0.5f);
  std::vector<int8_t> b(k * n, 1);
  std::vector<uint8_t> packed(packed_size<QD8>(n, k));
  ASSERT_TRUE(gemm_pack_rhs<QD8>(MatrixView<const int8_t>{b.data(), k, n, n}, RhsLayout::kKxN,
                                 nullptr, scales.data(), packed.data(), packed.size())
                  .ok());
  ThreadPool pool(2);
  const ParallelFor parallel = pool.parallel_for(4);
  size_t serial_ws = 0, parallel_ws = 0;
  ASSERT_TRUE(gemm_workspace_size<QD8>(m, n, k, &serial_ws).ok());
  ASSERT_TRUE(
      gemm_workspace_size<QD8>(m, n, k, &parallel_ws, OutputOrder::kRowMajor, parallel).ok());
  ASSERT_GT(serial_ws, 0u);
  EXPECT_GT(parallel_ws, serial_ws);
  std::vector<uint8_t> workspace(serial_ws);
  const auto run = [&](const std::vector<uint8_t>& ws) {
    return gemm<QD8>(MatrixView<const float>{a.data(), m, k, k}, packed.data(), packed.size(),
                     MatrixView<float>{c.data(), m, n, n}, {}, const_cast<uint8_t*>(ws.data()),
                     ws.size(), parallel);
  };
  EXPECT_EQ(run(workspace).code(), StatusCode::kBufferTooSmall);
  workspace.resize(parallel_ws);
  EXPECT_TRUE(run(workspace).ok());
  EXPECT_EQ(c[0], 8.0f);  // 16 products of 1 x 1, weights scaled by 0.5
}

TEST(Parallel, ParallelForWithoutRunIsSerial) {
  ParallelFor no_run;
  no_run.max_tasks = 8;  // and run == nullptr: serial, one task
  EXPECT_FALSE(no_run.parallel());
  const size_t m = 40, n = 40, k = 8;
  size_t serial_ws = 0, ws = 0;
  ASSERT_TRUE(gemm_workspace_size<F32>(m, n, k, &serial_ws).ok());
  ASSERT_TRUE(gemm_workspace_size<F32>(m, n, k, &ws, OutputOrder::kRowMajor, no_run).ok());
  EXPECT_EQ(ws, serial_ws);
}

// A pool whose threads run at another streaming vector length (Linux: prctl PR_SME_SET_VL)
// than the thread that packed the weights and called the op: the tasks there must not run
// (the packed panels are laid out for the caller's SVL); the op says so.
TEST(Parallel, PoolThreadsOnAnotherSvlFailTheOp) {
  if (select_path() == Path::kPortable) GTEST_SKIP() << "no SME: no SVL";
  const size_t svl_bytes = streaming_vector_bytes();
  const size_t other = svl_bytes == 16 ? 32 : svl_bytes / 2;
  std::atomic<long> result{-1};
  ThreadPool pool(3, [&] { result = prctl(PR_SME_SET_VL, other, 0, 0, 0); });
  const Tiles t = current_tiles();
  const size_t m = 6 * t.rows, n = t.cols, k = 8;
  std::vector<float> a(m * k, 1.0f), b(k * n, 1.0f), c(m * n, 0.0f);
  std::vector<uint8_t> packed(packed_size<F32>(n, k));
  ASSERT_TRUE(gemm_pack_rhs<F32>(MatrixView<const float>{b.data(), k, n, n}, RhsLayout::kKxN,
                                 nullptr, packed.data(), packed.size())
                  .ok());
  const ParallelFor parallel = pool.parallel_for(6);
  size_t ws = 0;
  ASSERT_TRUE(gemm_workspace_size<F32>(m, n, k, &ws, OutputOrder::kRowMajor, parallel).ok());
  std::vector<uint8_t> workspace(ws);
  const Status s = gemm<F32>(MatrixView<const float>{a.data(), m, k, k}, packed.data(),
                             packed.size(), MatrixView<float>{c.data(), m, n, n}, {},
                             workspace.data(), workspace.size(), parallel);
  if (result.load() < 0 || static_cast<size_t>(result.load() & 0xffff) == svl_bytes) {
    GTEST_SKIP() << "the kernel would not set another SVL here (" << result.load() << ")";
  }
  EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.message();
}

}  // namespace
}  // namespace sme2k
