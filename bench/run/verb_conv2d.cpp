// sme2k-run conv2d: out = epilogue(conv2d(input, weights) + bias), the weights packed and the
// workspace allocated before the region, one conv2d call in it; then checked against the
// direct convolution of test/reference/conv2d.hpp (floats: within f32 accumulation's bound
// through the epilogue; qs8: bit-exact), on every output or a sample (for_conv_outputs).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>

#include "reference/conv2d.hpp"
#include "reference/gemm.hpp"
#include "run/data.hpp"
#include "run/options.hpp"
#include "run/verbs.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k_run {
namespace {

namespace reference = sme2k::reference;

enum class ConvVerify { kFull, kSample, kNone };

constexpr size_t kUnset = SIZE_MAX;  // a padding the command line did not give

struct ConvOptions {
  const char* variant = nullptr;
  OutChoice out = OutChoice::kDefault;
  sme2k::TensorLayout in_layout = sme2k::TensorLayout::kNCHW;
  sme2k::TensorLayout out_layout = sme2k::TensorLayout::kNCHW;
  sme2k::ConvWeightLayout weights = sme2k::ConvWeightLayout::kOIHW;
  size_t batch = 1, cin = 64, h = 64, w = 64;
  size_t cout = 0;  // 0: Cin
  size_t kh = 3, kw = 3;
  size_t stride_h = 1, stride_w = 1;
  size_t dilation_h = 1, dilation_w = 1;
  size_t pad_top = kUnset, pad_bottom = kUnset, pad_left = kUnset, pad_right = kUnset;
  size_t groups = 1;
  bool depthwise = false;
  bool plan = false;  // print the op's plan after the region
  sme2k::Activation activation = sme2k::Activation::kNone;
  bool affine = false;
  sme2k::Clamp clamp;
  bool bias = true;
  uint32_t seed = 1;
  PathChoice path = PathChoice::kAuto;
  ConvVerify verify = ConvVerify::kSample;
};

constexpr std::pair<const char*, sme2k::ConvWeightLayout> kConvWeightLayoutNames[] = {
    {"oihw", sme2k::ConvWeightLayout::kOIHW},
    {"ohwi", sme2k::ConvWeightLayout::kOHWI},
    {"hwio", sme2k::ConvWeightLayout::kHWIO}};
constexpr std::pair<const char*, ConvVerify> kConvVerifyNames[] = {
    {"full", ConvVerify::kFull}, {"sample", ConvVerify::kSample}, {"none", ConvVerify::kNone}};

const char* conv_weight_layout_name(sme2k::ConvWeightLayout layout) {
  return choice_name(kConvWeightLayoutNames, layout);
}

/// "IN:OUT" (or one layout for both).
bool parse_layout_pair(const char* s, ConvOptions* o) {
  const char* colon = std::strchr(s, ':');
  if (colon == nullptr) {
    if (!parse_choice(s, kTensorLayoutNames, &o->in_layout)) return false;
    o->out_layout = o->in_layout;
    return true;
  }
  const std::string in(s, colon);
  return parse_choice(in.c_str(), kTensorLayoutNames, &o->in_layout) &&
         parse_choice(colon + 1, kTensorLayoutNames, &o->out_layout);
}

using ConvSpec = OptionSpec<ConvOptions>;
const ConvSpec kConvOptions[] = {
    {"--variant", "NAME", "numeric variant: f32, f16 (f32 accumulation), qs8 (QC8W weights)",
     [](const char* v, ConvOptions* o) {
       o->variant = v;
       return true;
     }},
    {"--out", "f32|f16", "output element type (default: the variant's; f16 takes either)",
     [](const char* v, ConvOptions* o) { return parse_choice(v, kOutNames, &o->out); }},
    {"--layout", "IN:OUT", "activation layouts, nchw or nhwc each (default nchw:nchw)",
     parse_layout_pair},
    {"--weights", "oihw|ohwi|hwio", "how the weights are given to packing (default oihw)",
     [](const char* v, ConvOptions* o) {
       return parse_choice(v, kConvWeightLayoutNames, &o->weights);
     }},
    {"--n", "N", "batch (default 1)",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->batch); }},
    {"--cin", "C", "input channels (default 64)",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->cin); }},
    {"--h", "H", "input height (default 64)",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->h); }},
    {"--w", "W", "input width (default 64)",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->w); }},
    {"--cout", "C", "output channels (default Cin)",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->cout); }},
    {"--k", "K", "kernel K x K (default 3)",
     [](const char* v, ConvOptions* o) {
       return parse_positive(v, &o->kh) && parse_positive(v, &o->kw);
     }},
    {"--kh", "KH", "kernel height",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->kh); }},
    {"--kw", "KW", "kernel width",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->kw); }},
    {"--stride", "S", "stride in both directions (default 1)",
     [](const char* v, ConvOptions* o) {
       return parse_positive(v, &o->stride_h) && parse_positive(v, &o->stride_w);
     }},
    {"--stride-h", "S", "vertical stride",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->stride_h); }},
    {"--stride-w", "S", "horizontal stride",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->stride_w); }},
    {"--pad", "P", "padding on all four sides (default dilation * (kernel - 1) / 2 per side)",
     [](const char* v, ConvOptions* o) {
       size_t pad = 0;
       if (!parse_size(v, &pad)) return false;
       o->pad_top = o->pad_bottom = o->pad_left = o->pad_right = pad;
       return true;
     }},
    {"--pad-top", "P", "padding above",
     [](const char* v, ConvOptions* o) { return parse_size(v, &o->pad_top); }},
    {"--pad-bottom", "P", "padding below",
     [](const char* v, ConvOptions* o) { return parse_size(v, &o->pad_bottom); }},
    {"--pad-left", "P", "padding on the left",
     [](const char* v, ConvOptions* o) { return parse_size(v, &o->pad_left); }},
    {"--pad-right", "P", "padding on the right",
     [](const char* v, ConvOptions* o) { return parse_size(v, &o->pad_right); }},
    {"--dilation", "D", "dilation in both directions (default 1)",
     [](const char* v, ConvOptions* o) {
       return parse_positive(v, &o->dilation_h) && parse_positive(v, &o->dilation_w);
     }},
    {"--dilation-h", "D", "vertical dilation",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->dilation_h); }},
    {"--dilation-w", "D", "horizontal dilation",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->dilation_w); }},
    {"--groups", "G", "groups, dividing Cin and Cout (default 1)",
     [](const char* v, ConvOptions* o) { return parse_positive(v, &o->groups); }},
    {"--plan", nullptr, "print the op's plan (kernel, path, tasks, workspace) after the region",
     [](const char*, ConvOptions* o) {
       o->plan = true;
       return true;
     }},
    {"--depthwise", nullptr, "groups = Cin (Cout defaults to Cin; a multiple is a multiplier)",
     [](const char*, ConvOptions* o) {
       o->depthwise = true;
       return true;
     }},
    {"--no-bias", nullptr, "no bias (default: a random bias)",
     [](const char*, ConvOptions* o) {
       o->bias = false;
       return true;
     }},
    {"--act", "NAME", "activation (floats): none relu relu6 hardswish gelu silu (default none)",
     [](const char* v, ConvOptions* o) {
       return parse_choice(v, kActivationNames, &o->activation);
     }},
    {"--affine", nullptr, "floats: a per-channel affine (scale, shift) after the activation",
     [](const char*, ConvOptions* o) {
       o->affine = true;
       return true;
     }},
    {"--clamp", "LO,HI", "floats: clamp the output to [LO, HI]",
     [](const char* v, ConvOptions* o) { return parse_pair(v, &o->clamp.min, &o->clamp.max); }},
    {"--seed", "S", "seed of the random data (default 1)", parse_seed<ConvOptions>},
    {"--path", "auto|portable|sme2", "force a path for packing and the op (default auto)",
     parse_path<ConvOptions>},
    {"--verify", "full|sample|none",
     "sample (default): every output when there are <= 4096, else each channel's corner "
     "pixels and ~2000 more spread over the tensor",
     [](const char* v, ConvOptions* o) { return parse_choice(v, kConvVerifyNames, &o->verify); }},
};

/// The shape the options describe (defaults filled in; not validated).
sme2k::Conv2dParams conv_params_of(const ConvOptions& o) {
  sme2k::Conv2dParams p;
  p.batch = o.batch;
  p.in_channels = o.cin, p.in_height = o.h, p.in_width = o.w;
  p.out_channels = o.cout != 0 ? o.cout : o.cin;
  p.kernel_height = o.kh, p.kernel_width = o.kw;
  p.stride_height = o.stride_h, p.stride_width = o.stride_w;
  p.dilation_height = o.dilation_h, p.dilation_width = o.dilation_w;
  const size_t same_h = o.dilation_h * (o.kh - 1) / 2, same_w = o.dilation_w * (o.kw - 1) / 2;
  p.pad_top = o.pad_top != kUnset ? o.pad_top : same_h;
  p.pad_bottom = o.pad_bottom != kUnset ? o.pad_bottom : same_h;
  p.pad_left = o.pad_left != kUnset ? o.pad_left : same_w;
  p.pad_right = o.pad_right != kUnset ? o.pad_right : same_w;
  p.groups = o.depthwise ? o.cin : o.groups;
  return p;
}

/// Calls check(n, co, oh, ow) on every output, or (ConvVerify::kSample) on every output of a
/// tensor of at most 4096, else on the four corner pixels of every channel of the first and
/// last image (padding, channel tails) and 2000 more on a walk over the whole tensor whose
/// stride is coprime with its size.
template <class Check>
void for_conv_outputs(const sme2k::Conv2dParams& p, ConvVerify verify, Check&& check) {
  const size_t oh_n = p.out_height(), ow_n = p.out_width();
  const size_t total = p.batch * p.out_channels * oh_n * ow_n;
  const auto at = [&](size_t x) {
    const size_t ow = x % ow_n, oh = x / ow_n % oh_n, co = x / (ow_n * oh_n) % p.out_channels;
    check(x / (ow_n * oh_n * p.out_channels), co, oh, ow);
  };
  if (verify == ConvVerify::kFull || total <= 4096) {
    for (size_t x = 0; x < total; ++x) at(x);
    return;
  }
  for (size_t n : {size_t{0}, p.batch - 1}) {
    for (size_t co = 0; co < p.out_channels; ++co) {
      check(n, co, 0, 0), check(n, co, 0, ow_n - 1);
      check(n, co, oh_n - 1, 0), check(n, co, oh_n - 1, ow_n - 1);
    }
    if (p.batch == 1) break;
  }
  size_t stride = static_cast<size_t>(static_cast<double>(total) * 0.6180339887) | 1;
  while (std::gcd(stride, total) != 1) ++stride;
  for (size_t t = 0, x = total / 3; t < 2000; ++t, x = (x + stride) % total) at(x);
}

/// The data of one convolution, made and packed before the region of interest: input and
/// weights as the variant stores them (weights in the chosen layout), which the reference
/// reads; in_ref and w_ref are the values they were made from (w_ref [co][ci][kh][kw]).
template <class V, class Out>
struct ConvData {
  using T = typename sme2k::VariantTraits<V>::Lhs;
  static constexpr bool kQuantized = std::is_same_v<V, sme2k::QS8>;
  Buffer<float> in_ref, w_ref, bias, scale, shift, w_scales;
  Buffer<T> input, weights;
  Buffer<int32_t> bias_q;
  Buffer<Out> output;
  Buffer<unsigned char> packed, workspace;
  size_t packed_bytes = 0, workspace_bytes = 0;
  sme2k::Qs8Quantization q;
};

template <class V, class Out>
sme2k::Status prepare_conv(const ConvOptions& o, const sme2k::Conv2dParams& p,
                           ConvData<V, Out>* d) {
  using T = typename ConvData<V, Out>::T;
  const size_t in_count = sme2k::conv2d_input_elements(p);
  const size_t w_count = reference::conv_weight_count(p);
  const size_t out_count = sme2k::conv2d_output_elements(p);
  d->in_ref = random_matrix(1, in_count, in_count, o.seed * 3 + 0);
  d->w_ref = random_matrix(1, w_count, w_count, o.seed * 3 + 1);
  d->weights = allocate<T>(w_count);
  if constexpr (ConvData<V, Out>::kQuantized) {
    d->input = allocate<int8_t>(in_count);
    for (size_t i = 0; i < in_count; ++i) d->input[i] = static_cast<int8_t>(d->in_ref[i] * 127.0f);
    d->bias_q = allocate<int32_t>(p.out_channels);
    d->w_scales = allocate<float>(p.out_channels);
    for (size_t co = 0; co < p.out_channels; ++co) {
      d->bias_q[co] = static_cast<int32_t>(co % 1000) * 7 - 3500;
      d->w_scales[co] = 0.004f * (1.0f + static_cast<float>(co % 17) / 16.0f);
    }
    for (size_t i = 0; i < w_count; ++i) {
      d->w_ref[i] = static_cast<float>(static_cast<int8_t>(d->w_ref[i] * 127.0f));
    }
    // Output scale: the accumulators' spread, sqrt(K) * 127^2 / 3 or so, onto about 60 steps.
    const auto k = static_cast<float>(p.in_channels_per_group() * p.taps());
    d->q = {{0.02f, 3},
            d->w_scales.get(),
            {0.02f * 0.005f * 127.0f * 127.0f * std::sqrt(k) / 60.0f, -5}};
  } else {
    d->input = stored_as<T>(&d->in_ref, in_count);
    for (size_t i = 0; i < w_count; ++i)
      d->w_ref[i] = sme2k::to_f32(sme2k::convert_to<T>(d->w_ref[i]));
    if (o.bias) d->bias = random_matrix(1, p.out_channels, p.out_channels, o.seed * 3 + 2);
    if (o.affine) {
      d->scale = random_matrix(1, p.out_channels, p.out_channels, o.seed * 3 + 3);
      d->shift = random_matrix(1, p.out_channels, p.out_channels, o.seed * 3 + 4);
      for (size_t co = 0; co < p.out_channels; ++co) d->scale[co] = 1.0f + 0.5f * d->scale[co];
    }
  }
  // The weights in the layout packing is given (w_ref holds the values, as T holds them).
  const size_t cin_g = p.in_channels_per_group();
  for (size_t co = 0; co < p.out_channels; ++co) {
    for (size_t ci = 0; ci < cin_g; ++ci) {
      for (size_t kh = 0; kh < p.kernel_height; ++kh) {
        for (size_t kw = 0; kw < p.kernel_width; ++kw) {
          const float v =
              d->w_ref[((co * cin_g + ci) * p.kernel_height + kh) * p.kernel_width + kw];
          T& stored = d->weights[reference::conv_weight_index(p, o.weights, co, ci, kh, kw)];
          if constexpr (ConvData<V, Out>::kQuantized) {
            stored = static_cast<int8_t>(v);
          } else {
            stored = sme2k::convert_to<T>(v);
          }
        }
      }
    }
  }
  // NaN (QS8: 77) everywhere: an output the op forgets to write shows up when checked.
  d->output = allocate<Out>(out_count);
  if constexpr (ConvData<V, Out>::kQuantized) {
    std::fill(d->output.get(), d->output.get() + out_count, int8_t{77});
  } else {
    std::fill(d->output.get(), d->output.get() + out_count,
              sme2k::convert_to<Out>(std::numeric_limits<float>::quiet_NaN()));
  }

  SME2K_RETURN_IF_ERROR(sme2k::conv2d_packed_weights_size<V>(p, &d->packed_bytes));
  d->packed = allocate<unsigned char>(d->packed_bytes);
  if constexpr (ConvData<V, Out>::kQuantized) {
    SME2K_RETURN_IF_ERROR(sme2k::conv2d_pack_weights<V>(p, d->weights.get(), o.weights,
                                                        o.bias ? d->bias_q.get() : nullptr, d->q,
                                                        d->packed.get(), d->packed_bytes));
  } else {
    SME2K_RETURN_IF_ERROR(sme2k::conv2d_pack_weights<V>(
        p, d->weights.get(), o.weights, d->bias.get(), d->packed.get(), d->packed_bytes));
  }
  SME2K_RETURN_IF_ERROR(
      sme2k::conv2d_workspace_size<V>(p, o.in_layout, o.out_layout, &d->workspace_bytes));
  d->workspace = allocate<unsigned char>(d->workspace_bytes);
  return sme2k::Status();
}

/// Checks the result against test/reference/conv2d.hpp; returns the number of wrong outputs.
template <class V, class Out>
size_t verify_conv(const ConvOptions& o, const sme2k::Conv2dParams& p, const ConvData<V, Out>& d,
                   size_t* checked, size_t* saturated) {
  const size_t oh_n = p.out_height(), ow_n = p.out_width();
  size_t wrong = 0;
  const auto report = [&](size_t n, size_t co, size_t oh, size_t ow, double got, double want,
                          double bound) {
    if (++wrong <= 10) {
      std::fprintf(stderr,
                   "mismatch at (n=%zu, co=%zu, oh=%zu, ow=%zu): got %.9g, want %.9g, bound %.3g\n",
                   n, co, oh, ow, got, want, bound);
    }
  };
  const auto got_at = [&](size_t n, size_t co, size_t oh, size_t ow) {
    return d.output[reference::activation_index(o.out_layout, p.out_channels, oh_n, ow_n, n, co, oh,
                                                ow)];
  };
  if constexpr (ConvData<V, Out>::kQuantized) {
    reference::Conv2dQs8Problem q;
    q.p = p;
    q.input = d.input.get(), q.in_layout = o.in_layout;
    q.weights = d.weights.get(), q.w_layout = o.weights;
    q.bias = o.bias ? d.bias_q.get() : nullptr;
    q.in_scale = d.q.input.scale, q.in_zero_point = d.q.input.zero_point;
    q.out_scale = d.q.output.scale, q.out_zero_point = d.q.output.zero_point;
    q.w_scales = d.w_scales.get();
    for_conv_outputs(p, o.verify, [&](size_t n, size_t co, size_t oh, size_t ow) {
      ++*checked;
      const int got = got_at(n, co, oh, ow), want = reference::conv2d_qs8_at(q, n, co, oh, ow);
      *saturated += (want == -128 || want == 127) ? 1 : 0;
      if (got != want) report(n, co, oh, ow, got, want, 0.0);
    });
  } else {
    reference::Conv2dFloatProblem<typename ConvData<V, Out>::T> q;
    q.p = p;
    q.input = d.input.get(), q.in_layout = o.in_layout;
    q.weights = d.weights.get(), q.w_layout = o.weights;
    q.bias = d.bias.get();
    // The epilogue stages after the accumulator, as the GEMM reference applies and bounds them.
    reference::GemmF32Problem stages;
    stages.k = reference::conv_depth(p);
    stages.activation = o.activation;
    stages.scale = d.scale.get(), stages.shift = d.shift.get();
    stages.clamp = o.clamp.active();
    stages.clamp_min = o.clamp.min, stages.clamp_max = o.clamp.max;
    for_conv_outputs(p, o.verify, [&](size_t n, size_t co, size_t oh, size_t ow) {
      ++*checked;
      double magnitude = 0.0;
      const double pre = reference::conv2d_pre_at(q, n, co, oh, ow, &magnitude);
      const double want = reference::finish(stages, pre, co);
      // f32 accumulation of K products and the bias (gamma_{K+1} u = 2^-24 times their
      // magnitudes), through the epilogue, then f16's rounding for f16 outputs.
      double bound = reference::f32_epilogue_bound(stages, co, pre, magnitude, want);
      if (std::is_same_v<Out, sme2k::f16>) bound = reference::f16_rounding_bound(want, bound);
      const double value = sme2k::to_f32(got_at(n, co, oh, ow));
      if (!(std::fabs(value - want) <= bound)) report(n, co, oh, ow, value, want, bound);
    });
  }
  return wrong;
}

template <class V, class Out>
int run_conv(const ConvOptions& o, const sme2k::Conv2dParams& p) {
  constexpr bool kQuantized = ConvData<V, Out>::kQuantized;
  if (kQuantized && (o.activation != sme2k::Activation::kNone || o.affine || o.clamp.active())) {
    std::fprintf(stderr, "sme2k-run conv2d: qs8 takes no --act, --affine, --clamp\n");
    return kExitUsage;
  }
  // One forced path for packing and the op alike (packed data records the path).
  const std::optional<sme2k::Path> forced = forced_path(o.path);
  if (forced && !sme2k::path_available(*forced, sme2k::cpu_features())) {
    std::fprintf(stderr, "sme2k-run: path %s is not available (CPU features: '%s')\n",
                 sme2k::path_name(*forced),
                 sme2k::cpu_features_string(sme2k::cpu_features()).c_str());
    return kExitFailure;
  }
  std::optional<sme2k::testing::ScopedForcePath> force;
  if (forced) force.emplace(*forced);

  ConvData<V, Out> d;
  sme2k::Status status = prepare_conv(o, p, &d);
  sme2k::GemmEpilogue epilogue;
  epilogue.activation = o.activation;
  epilogue.affine = {d.scale.get(), d.shift.get()};
  epilogue.clamp = o.clamp;

  // What the op says it will run (asked before the region, printed after it).
  sme2k::OpPlan plan;
  if (status.ok()) {
    status = sme2k::conv2d_plan<V>(p, o.in_layout, o.out_layout, &plan, epilogue);
  }

  sme2k_roi_begin();
  if (status.ok()) {
    status = sme2k::conv2d<V, Out>(p, d.input.get(), o.in_layout, d.packed.get(), d.packed_bytes,
                                   d.output.get(), o.out_layout, epilogue, d.workspace.get(),
                                   d.workspace_bytes);
  }
  sme2k_roi_end();

  const sme2k::Path path = sme2k::last_used_path();
  const size_t svl_bits = sme2k::streaming_vector_bytes() * 8;
  const double macs = static_cast<double>(p.batch) * static_cast<double>(p.out_channels) *
                      static_cast<double>(p.out_height()) * static_cast<double>(p.out_width()) *
                      static_cast<double>(p.taps()) *
                      static_cast<double>(p.in_channels_per_group());
  char clamp[64] = "none";
  if (o.clamp.active()) {
    std::snprintf(clamp, sizeof clamp, "%g,%g", static_cast<double>(o.clamp.min),
                  static_cast<double>(o.clamp.max));
  }
  std::printf(
      "conv2d %s out=%s layout=%s:%s N=%zu Cin=%zu H=%zu W=%zu Cout=%zu kernel=%zux%zu "
      "stride=%zux%zu dilation=%zux%zu pad=%zu,%zu,%zu,%zu groups=%zu%s OH=%zu OW=%zu "
      "weights=%s bias=%s act=%s affine=%s clamp=%s MACs=%.0f path=%s svl=%zu cpu='%s' "
      "status=%s\n",
      o.variant,
      kQuantized                   ? "qs8"
      : std::is_same_v<Out, float> ? "f32"
                                   : "f16",
      sme2k::tensor_layout_name(o.in_layout), sme2k::tensor_layout_name(o.out_layout), p.batch,
      p.in_channels, p.in_height, p.in_width, p.out_channels, p.kernel_height, p.kernel_width,
      p.stride_height, p.stride_width, p.dilation_height, p.dilation_width, p.pad_top, p.pad_bottom,
      p.pad_left, p.pad_right, p.groups, p.depthwise() ? " (depthwise)" : "", p.out_height(),
      p.out_width(), conv_weight_layout_name(o.weights), o.bias ? "yes" : "no",
      sme2k::activation_name(o.activation), o.affine ? "yes" : "no", clamp, macs,
      status.ok() ? sme2k::path_name(path) : "-", svl_bits,
      sme2k::cpu_features_string(sme2k::cpu_features()).c_str(),
      status.ok() ? "ok" : sme2k::status_code_name(status.code()));
  if (!status.ok()) {
    std::fprintf(stderr, "sme2k-run: %s\n", status.message());
    return kExitFailure;
  }
  if (o.plan) print_plan("conv2d", plan);
  if (path != plan.path) {
    std::fprintf(stderr, "sme2k-run: the plan said path %s, the op took %s\n",
                 sme2k::path_name(plan.path), sme2k::path_name(path));
    return kExitFailure;
  }
  // Depthwise takes its portable kernel where the SME2 one does not serve the case (layouts,
  // stride, multiplier), on any CPU, and its plan says so; then only the SVL is held against
  // the expectations.
  const bool portable_depthwise = p.depthwise() && plan.path == sme2k::Path::kPortable;
  if (portable_depthwise && sme2k::path_available(sme2k::Path::kSme2, sme2k::cpu_features())) {
    std::printf(
        "note: depthwise ran on the portable kernel %.*s (the SME2 one does not serve it)\n",
        static_cast<int>(plan.kernel.size()), plan.kernel.data());
  }
  if (forced && path != *forced && !portable_depthwise) {
    std::fprintf(stderr, "sme2k-run: forced path %s, took %s\n", sme2k::path_name(*forced),
                 sme2k::path_name(path));
    return kExitFailure;
  }

  if (o.verify == ConvVerify::kNone) std::printf("not verified (--verify none)\n");
  if (o.verify != ConvVerify::kNone) {
    size_t checked = 0, saturated = 0;
    const size_t wrong = verify_conv(o, p, d, &checked, &saturated);
    char extra[64] = "";
    if (kQuantized) std::snprintf(extra, sizeof extra, ", bit-exact; %zu saturated", saturated);
    std::printf(
        "verified %zu of %zu outputs (%s%s): %s\n", checked, sme2k::conv2d_output_elements(p),
        o.verify == ConvVerify::kFull || checked == sme2k::conv2d_output_elements(p) ? "full"
                                                                                     : "sample",
        extra, wrong == 0 ? "ok" : "MISMATCH");
    if (wrong != 0) {
      std::fprintf(stderr, "sme2k-run: %zu wrong output(s)\n", wrong);
      return kExitFailure;
    }
  }
  return meets_expectations(portable_depthwise ? PathChoice::kPortable : o.path, path, svl_bits)
             ? kExitOk
             : kExitFailure;
}

}  // namespace

void conv2d_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run conv2d --variant f32|f16|qs8 [--layout IN:OUT] [--n N] [--cin C]\n"
               "                        [--h H] [--w W] [--cout C] [--k K] [options]\n\n");
  std::fprintf(out,
               "out = epilogue(conv2d(input, weights) + bias), input and output in their layouts;\n"
               "weights packed (conv2d_pack_weights) and the workspace allocated before the\n"
               "region, one conv2d call in it; then checked against a direct convolution (floats:\n"
               "within f32 accumulation's bound; qs8: bit-exact). MACs = N Cout OH OW KH KW "
               "Cin/groups.\nOptions:\n");
  print_options(out, kConvOptions);
}

int conv2d_verb(int argc, char** argv) {
  ConvOptions o;
  if (!parse_options(argc, argv, 2, kConvOptions, &o)) {
    conv2d_usage(stderr);
    return kExitUsage;
  }
  if (o.variant == nullptr) {
    std::fprintf(stderr, "sme2k-run conv2d: --variant is required\n");
    conv2d_usage(stderr);
    return kExitUsage;
  }
  const sme2k::Conv2dParams p = conv_params_of(o);
  const sme2k::Status valid = sme2k::validate_conv2d_params(p, "sme2k-run conv2d");
  if (!valid.ok()) {
    std::fprintf(stderr, "%s\n", valid.message());
    return kExitUsage;
  }
  const bool f32_out = o.out == OutChoice::kF32, f16_out = o.out == OutChoice::kF16;
  if (std::strcmp(o.variant, "f32") == 0 && !f16_out) return run_conv<sme2k::F32, float>(o, p);
  if (std::strcmp(o.variant, "f16") == 0) {
    return f32_out ? run_conv<sme2k::F16, float>(o, p) : run_conv<sme2k::F16, sme2k::f16>(o, p);
  }
  if (std::strcmp(o.variant, "qs8") == 0 && o.out == OutChoice::kDefault) {
    return run_conv<sme2k::QS8, int8_t>(o, p);
  }
  if (std::strcmp(o.variant, "f32") == 0 || std::strcmp(o.variant, "qs8") == 0) {
    std::fprintf(stderr, "sme2k-run conv2d: variant %s has no such output type\n", o.variant);
  } else {
    std::fprintf(stderr, "sme2k-run conv2d: unknown variant '%s'; known: f32 f16 qs8\n", o.variant);
  }
  return kExitUsage;
}
}  // namespace sme2k_run
