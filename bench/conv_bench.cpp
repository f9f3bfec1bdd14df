// Google Benchmark suite of the conv2d op at SqueezeSAM-like layers (batch 1), for F16 and
// QS8, with activations NCHW in and out or NHWC in and out. Names are
// BM_conv2d/<variant>/<path>/<in>:<out> with named arguments (STYLE.md point 13), e.g.
// BM_conv2d/f16/sme2/nchw:nchw/Cin:64/Cout:64/H:128/W:128/K:3/S:1/D:1/G:1 (padding
// D * (K - 1) / 2 on every side; G = Cin is depthwise).
//
// One benchmark per path this build has a GEMM kernel for (conv2d runs on them), forced with
// testing::ScopedForcePath; a path the CPU cannot run is skipped with the reason. Depthwise
// cases the SME2 kernel does not serve run the portable one (ops/conv2d.hpp); the label says
// so. Weights are packed and the workspace allocated before timing; after it, sampled outputs
// of the timed call are checked against the reference (test/reference/conv2d.hpp), and the
// program exits 1 if any check failed.
//
// Under QEMU, run with --benchmark_min_time=0 (one iteration per benchmark). scripts/bench
// runs the QS8 layers and, of the f16 ones, the stem, the 1x1 and the depthwise by default:
// QEMU emulates f16 outer products slowly (all of them take ~8 minutes).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "reference/conv2d.hpp"
#include "reference/gemm.hpp"
#include "sme2k/sme2k.hpp"

namespace {

struct Layer {
  int64_t cin, cout, hw, k, stride, dilation;
  bool depthwise;
};

// SqueezeSAM-like layers (input H = W = hw): the stem, the encoder's 3x3 stages and their
// strided transitions, a 1x1, a depthwise, a dilated 3x3 and a decoder fusion (192 -> 64).
constexpr Layer kLayers[] = {{4, 32, 512, 3, 2, 1, false},   {32, 32, 256, 3, 1, 1, false},
                             {32, 64, 256, 3, 2, 1, false},  {64, 64, 128, 3, 1, 1, false},
                             {128, 128, 64, 3, 1, 1, false}, {256, 256, 32, 3, 1, 1, false},
                             {256, 256, 32, 1, 1, 1, false}, {128, 128, 64, 3, 1, 1, true},
                             {128, 128, 64, 3, 1, 2, false}, {192, 64, 128, 3, 1, 1, false}};

using sme2k_bench::fail;
using sme2k_bench::g_failures;
using sme2k_bench::gemm_paths;
using sme2k_bench::random_values;
using sme2k_bench::skip;
using sme2k_bench::unavailable_reason;

/// The layer the benchmark's arguments describe.
sme2k::Conv2dParams params_of(const benchmark::State& state) {
  sme2k::Conv2dParams p;
  p.in_channels = static_cast<size_t>(state.range(0));
  p.out_channels = static_cast<size_t>(state.range(1));
  p.in_height = static_cast<size_t>(state.range(2));
  p.in_width = static_cast<size_t>(state.range(3));
  p.kernel_height = p.kernel_width = static_cast<size_t>(state.range(4));
  p.stride_height = p.stride_width = static_cast<size_t>(state.range(5));
  p.dilation_height = p.dilation_width = static_cast<size_t>(state.range(6));
  p.groups = static_cast<size_t>(state.range(7));
  p.pad_top = p.pad_bottom = p.pad_left = p.pad_right =
      p.dilation_height * (p.kernel_height - 1) / 2;
  return p;
}

/// The operands of one convolution of variant V (weights OIHW), its weights packed for the
/// currently selected path and a workspace sized for it. Floats: the values as V stores them,
/// QS8: int8 data with fixed quantization parameters that keep the outputs off saturation.
template <class V>
struct ConvOperands {
  using T = typename sme2k::VariantTraits<V>::Lhs;
  using Out = typename sme2k::VariantTraits<V>::Out;
  static constexpr bool kQuantized = std::is_same_v<V, sme2k::QS8>;
  sme2k::Conv2dParams p;
  sme2k::TensorLayout in_layout, out_layout;
  std::vector<T> input, weights;
  std::vector<float> bias, w_scales;
  std::vector<int32_t> bias_q;
  sme2k::Qs8Quantization q;
  std::vector<Out> output;
  std::vector<unsigned char> packed, workspace;

  ConvOperands(const sme2k::Conv2dParams& params, sme2k::TensorLayout in, sme2k::TensorLayout out)
      : p(params),
        in_layout(in),
        out_layout(out),
        input(stored_as(random_values(sme2k::conv2d_input_elements(params), 1))),
        weights(stored_as(random_values(sme2k::reference::conv_weight_count(params), 2))),
        bias(random_values(params.out_channels, 3)),
        w_scales(params.out_channels),
        bias_q(params.out_channels),
        output(sme2k::conv2d_output_elements(params)) {
    for (size_t co = 0; co < p.out_channels; ++co) {
      bias_q[co] = static_cast<int32_t>(co % 1000) * 7 - 3500;
      w_scales[co] = 0.004f * (1.0f + static_cast<float>(co % 17) / 16.0f);
    }
    // Output scale: the accumulators' spread, sqrt(K) * 127^2 / 3 or so, onto about 60 steps.
    const auto k = static_cast<float>(sme2k::reference::conv_depth(p));
    q = {
        {0.02f, 3}, w_scales.data(), {0.02f * 0.005f * 127.0f * 127.0f * std::sqrt(k) / 60.0f, -5}};
  }

  sme2k::Status prepare() {
    size_t bytes = 0;
    SME2K_RETURN_IF_ERROR(sme2k::conv2d_packed_weights_size<V>(p, &bytes));
    packed.resize(bytes);
    if constexpr (kQuantized) {
      SME2K_RETURN_IF_ERROR(sme2k::conv2d_pack_weights<V>(p, weights.data(),
                                                          sme2k::ConvWeightLayout::kOIHW,
                                                          bias_q.data(), q, packed.data(), bytes));
    } else {
      SME2K_RETURN_IF_ERROR(sme2k::conv2d_pack_weights<V>(
          p, weights.data(), sme2k::ConvWeightLayout::kOIHW, bias.data(), packed.data(), bytes));
    }
    SME2K_RETURN_IF_ERROR(sme2k::conv2d_workspace_size<V>(p, in_layout, out_layout, &bytes));
    workspace.resize(bytes);
    return sme2k::Status();
  }
  sme2k::Status run() {
    return sme2k::conv2d<V>(p, input.data(), in_layout, packed.data(), packed.size(), output.data(),
                            out_layout, {}, workspace.data(), workspace.size());
  }
  size_t operand_bytes() const {
    return input.size() * sizeof(T) + output.size() * sizeof(Out) + packed.size();
  }

  /// A few outputs against the reference: the corners of the first and last channel (padding,
  /// tails) and a dozen spread over the tensor. "" when all are right.
  std::string check() const {
    const size_t oh_n = p.out_height(), ow_n = p.out_width(), last = p.out_channels - 1;
    std::vector<std::pair<size_t, size_t>> at;  // (co, pixel)
    for (size_t co : {size_t{0}, last}) {
      for (size_t px : {size_t{0}, ow_n - 1, (oh_n - 1) * ow_n, oh_n * ow_n - 1}) {
        at.emplace_back(co, px);
      }
    }
    for (size_t t = 1; t <= 12; ++t)
      at.emplace_back(t * 7919 % p.out_channels, t * 104729 % (oh_n * ow_n));
    for (const auto& [co, px] : at) {
      const size_t oh = px / ow_n, ow = px % ow_n;
      const size_t index =
          sme2k::reference::activation_index(out_layout, p.out_channels, oh_n, ow_n, 0, co, oh, ow);
      double got = 0, want = 0, bound = 0;
      if constexpr (kQuantized) {
        sme2k::reference::Conv2dQs8Problem r;
        r.p = p, r.input = input.data(), r.in_layout = in_layout;
        r.weights = weights.data(), r.bias = bias_q.data();
        r.in_scale = q.input.scale, r.in_zero_point = q.input.zero_point;
        r.out_scale = q.output.scale, r.out_zero_point = q.output.zero_point;
        r.w_scales = w_scales.data();
        got = output[index];
        want = sme2k::reference::conv2d_qs8_at(r, 0, co, oh, ow);
      } else {
        sme2k::reference::Conv2dFloatProblem<T> r;
        r.p = p, r.input = input.data(), r.in_layout = in_layout;
        r.weights = weights.data(), r.bias = bias.data();
        double magnitude = 0;
        want = sme2k::reference::conv2d_pre_at(r, 0, co, oh, ow, &magnitude);
        bound = sme2k::reference::f32_gemm_error_bound(sme2k::reference::conv_depth(p), magnitude);
        if (std::is_same_v<Out, sme2k::f16>)
          bound = sme2k::reference::f16_rounding_bound(want, bound);
        got = sme2k::to_f32(output[index]);
      }
      if (!(std::fabs(got - want) <= bound)) {
        char msg[160];
        std::snprintf(msg, sizeof msg,
                      "wrong result at (co %zu, oh %zu, ow %zu): got %.9g, want %.9g (bound %.3g)",
                      co, oh, ow, got, want, bound);
        return msg;
      }
    }
    return "";
  }

 private:
  /// Values in [-1, 1) as T holds them (QS8: times 127); bias and weights read them back.
  static std::vector<T> stored_as(const std::vector<float>& values) {
    std::vector<T> stored(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      if constexpr (kQuantized) {
        stored[i] = static_cast<int8_t>(values[i] * 127.0f);
      } else {
        stored[i] = sme2k::convert_to<T>(values[i]);
      }
    }
    return stored;
  }
};

/// The op: out = conv2d(input, packed weights) + bias, weights packed and workspace allocated
/// beforehand.
template <class V>
void bm_conv2d(benchmark::State& state, sme2k::Path path, sme2k::TensorLayout in_layout,
               sme2k::TensorLayout out_layout) {
  const std::string why = unavailable_reason(path);
  if (!why.empty()) return skip(state, why);
  const sme2k::testing::ScopedForcePath force(path);
  ConvOperands<V> c(params_of(state), in_layout, out_layout);
  sme2k::Status s = c.prepare();
  if (!s.ok()) return fail(state, s.message());

  for (auto _ : state) {
    s = c.run();
    benchmark::DoNotOptimize(c.output.data());
    benchmark::ClobberMemory();
  }
  if (!s.ok()) return fail(state, s.message());
  // Depthwise takes its portable kernel where the SME2 one does not serve the case
  // (ops/conv2d.hpp), whatever the path.
  const sme2k::Path took = sme2k::last_used_path();
  const bool portable_depthwise = c.p.depthwise() && took == sme2k::Path::kPortable;
  if (took != path && !portable_depthwise) {
    return fail(state, std::string("dispatch took ") + sme2k::path_name(took));
  }
  if (portable_depthwise && path != took) state.SetLabel("depthwise: portable kernel");
  const std::string wrong = c.check();
  if (!wrong.empty()) return fail(state, wrong);
  const sme2k::Conv2dParams& p = c.p;
  const double macs = static_cast<double>(p.batch * p.out_channels * p.out_height() *
                                          p.out_width() * p.taps() * p.in_channels_per_group());
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * macs, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(c.operand_bytes()),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

/// The distinct paths of variant V's GEMM kernels this build has, in registry order.
template <class V>
void register_benchmarks() {
  using sme2k::TensorLayout;
  constexpr std::pair<TensorLayout, TensorLayout> kLayouts[] = {
      {TensorLayout::kNCHW, TensorLayout::kNCHW}, {TensorLayout::kNHWC, TensorLayout::kNHWC}};
  for (const sme2k::Path path : gemm_paths<V>()) {
    for (const auto& [in, out] : kLayouts) {
      const std::string name = "BM_conv2d/" + std::string(sme2k::VariantTraits<V>::kName) + "/" +
                               sme2k::path_name(path) + "/" + sme2k::tensor_layout_name(in) + ":" +
                               sme2k::tensor_layout_name(out);
      auto* b = benchmark::RegisterBenchmark(name.c_str(), bm_conv2d<V>, path, in, out);
      b->ArgNames({"Cin", "Cout", "H", "W", "K", "S", "D", "G"})->Unit(benchmark::kMicrosecond);
      for (const Layer& l : kLayers) {
        b->Args({l.cin, l.cout, l.hw, l.hw, l.k, l.stride, l.dilation, l.depthwise ? l.cin : 1});
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  register_benchmarks<sme2k::F16>();
  register_benchmarks<sme2k::QS8>();
  benchmark::AddCustomContext("sme2k_cpu_features",
                              sme2k::cpu_features_string(sme2k::cpu_features()));
  benchmark::AddCustomContext("sme2k_svl_bits",
                              std::to_string(sme2k::streaming_vector_bytes() * 8));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (g_failures > 0) {
    std::fprintf(stderr, "sme2k_conv_bench: %d benchmark(s) failed their check\n",
                 g_failures.load());
    return 1;
  }
  return 0;
}
