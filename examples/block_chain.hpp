// A SqueezeSAM-like chain of convolution blocks at batch 1, NCHW tensors between layers as
// PyTorch exports them, in F16 or QS8, run two ways:
//
//   fused (sme2k's way): every conv reads and writes NCHW itself; a BatchNorm before the
//     activation is folded into the conv's weights and bias, one after it (which the
//     activation keeps from folding) is fused into the epilogue (F16: the per-channel
//     affine; QS8: the int8 affine stage). No transposes, no separate passes.
//   transposing (the seed's runtime): the convs run NHWC; the BatchNorm that could not fold
//     stays an NCHW op, so the tensor is transposed NHWC -> NCHW, normalised by a plain
//     elementwise pass, and transposed back; the chain's input and output are transposed
//     too. The transposes are sme2k's own (ops/transpose.hpp).
//
// Block (C channels, H x W):              the chain:
//   3x3 conv -> ReLU -> BN  (BN after)     block(64 ch, 128 x 128)
//   3x3 conv -> BN -> ReLU  (folded)       3x3 stride-2 conv 64 -> 128
//   depthwise 3x3 -> BN -> ReLU6 (folded)  block(128 ch, 64 x 64)
//   1x1 conv -> hard-swish
//
// F16 (f32 accumulation): both ways compute the same math; they differ in where values are
// rounded to f16 (the transposing way rounds the ReLU output before its BN), so their outputs
// agree within a few f16 roundings per layer (tolerance()).
// QS8 (every tensor int8 with scale 1/16, zero point 0, as a quantized graph holds them;
// weights int8 per output channel): the ReLU is the conv's quantized range; the BatchNorm
// after it is its own int8 -> int8 op (requantize_affine), fused as Int8Stages::scale/shift
// or run as the separate pass; the hard-swish is an int8 table (int8_activation_table) in
// both ways. The two ways give the same bits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <type_traits>
#include <vector>

#include "sme2k/sme2k.hpp"

namespace sme2k {
namespace example {

enum class ChainWay { kFused, kTransposing };

/// One layer of the chain, with what both ways need.
struct ChainLayer {
  Conv2dParams p;
  Activation activation = Activation::kNone;  // F16
  QuantizedRange range;                       // QS8: where the ReLU / ReLU6 goes
  std::vector<int8_t> table;                  // QS8: the hard-swish, if any
  bool bn_after = false;                      // a BatchNorm after the activation (unfoldable)
  std::vector<float> bn_scale, bn_shift;      // its per-channel affine (QS8: in output units)
  std::vector<uint8_t> packed;                // weights (BatchNorms before the activation folded)
};

/// How far the two ways' outputs are apart.
struct ChainComparison {
  double worst = 0.0;  // max |fused - transposing| (QS8: in int8 steps)
  double bound = 0.0;  // what is allowed (QS8: 0, bit-exact)
  double scale = 0.0;  // max |output|
  bool agree() const { return worst <= bound; }
};

/// V = F16 or QS8.
template <class V>
class BlockChain {
 public:
  static_assert(std::is_same_v<V, F16> || std::is_same_v<V, QS8>, "the chain is F16 or QS8");
  static constexpr bool kQuantized = std::is_same_v<V, QS8>;
  using T = std::conditional_t<kQuantized, int8_t, f16>;  // every tensor's element

  /// Every QS8 tensor's parameters: real = (q - 0) / 16, so ReLU6 is q <= 96.
  static constexpr QuantParams kTensor{1.0f / 16.0f, 0};

  /// Builds the chain (deterministic weights and BatchNorms from `seed`) with `channels`
  /// channels at `size` x `size` for the first block (the chain: 64, 128).
  Status build(size_t channels = 64, size_t size = 128, uint64_t seed = 1) {
    state_ = seed * 0x9E3779B97F4A7C15ull + 1;
    layers_.clear();
    in_channels_ = channels;
    in_size_ = size;
    SME2K_RETURN_IF_ERROR(add_block(channels, size));
    SME2K_RETURN_IF_ERROR(
        add_conv(channels, 2 * channels, size, 3, 2, Activation::kNone, Bn::kNone));
    SME2K_RETURN_IF_ERROR(add_block(2 * channels, size / 2));
    out_channels_ = 2 * channels;
    out_size_ = size / 2;
    // One workspace serves every layer and way; two activation buffers hold the largest
    // tensor of the chain (NCHW or NHWC alike).
    workspace_bytes_ = 0;
    largest_ = in_channels_ * in_size_ * in_size_;
    for (const ChainLayer& l : layers_) {
      for (TensorLayout layout : {TensorLayout::kNCHW, TensorLayout::kNHWC}) {
        size_t bytes = 0;
        SME2K_RETURN_IF_ERROR(conv2d_workspace_size<V>(l.p, layout, layout, &bytes));
        if (bytes > workspace_bytes_) workspace_bytes_ = bytes;
      }
      const size_t out = l.p.out_channels * l.p.out_height() * l.p.out_width();
      if (out > largest_) largest_ = out;
    }
    return Status();
  }

  size_t input_elements() const { return in_channels_ * in_size_ * in_size_; }
  size_t output_elements() const { return out_channels_ * out_size_ * out_size_; }
  size_t workspace_bytes() const { return workspace_bytes_; }
  /// Elements of each of the two activation buffers run() takes.
  size_t buffer_elements() const { return largest_; }
  const std::vector<ChainLayer>& layers() const { return layers_; }
  /// Multiply-accumulates of one run.
  size_t macs() const {
    size_t macs = 0;
    for (const ChainLayer& l : layers_) {
      macs += l.p.out_channels * l.p.out_height() * l.p.out_width() * l.p.taps() *
              l.p.in_channels_per_group();
    }
    return macs;
  }

  /// A deterministic input in [-1, 1) (QS8: quantized with kTensor).
  void fill_input(T* in) const {
    for (size_t i = 0; i < input_elements(); ++i) {
      const float x = static_cast<float>(static_cast<int>((i * 37) % 257) - 128) / 128.0f;
      if constexpr (kQuantized) {
        in[i] = static_cast<int8_t>(std::lround(x / kTensor.scale));
      } else {
        in[i] = convert_to<f16>(x);
      }
    }
  }

  /// out = the chain of in (NCHW both), the given way. `a` and `b`: buffer_elements() each;
  /// `workspace`: workspace_bytes(). Nothing allocates.
  Status run(ChainWay way, const T* in, T* out, T* a, T* b, void* workspace) const {
    return way == ChainWay::kFused ? run_fused(in, out, a, b, workspace)
                                   : run_transposing(in, out, a, b, workspace);
  }

  /// The two ways' outputs against each other.
  ChainComparison compare(const T* fused, const T* transposing) const {
    ChainComparison c;
    for (size_t i = 0; i < output_elements(); ++i) {
      const double x = value(fused[i]), y = value(transposing[i]);
      if (!std::isfinite(x) || !std::isfinite(y)) c.worst = INFINITY;
      c.worst = std::fmax(c.worst, std::fabs(x - y));
      c.scale = std::fmax(c.scale, std::fabs(x));
    }
    c.bound = tolerance(c.scale);
    return c;
  }

  /// The largest |fused - transposing| expected for outputs of magnitude `scale`. QS8: 0.
  /// F16: the two ways round to f16 at different places (one f16 rounding, 2^-11 relative,
  /// per layer and per unfolded BatchNorm), and each layer carries the difference of its
  /// input on through a sum over its window; four roundings' worth per layer is ample for
  /// these weights (a sum of K terms of scale ~1 / sqrt(K)) without hiding a wrong layer.
  double tolerance(double scale) const {
    if constexpr (kQuantized) {
      (void)scale;
      return 0.0;
    } else {
      return 4.0 * static_cast<double>(layers_.size()) * std::ldexp(1.0, -11) * (scale + 1.0);
    }
  }

 private:
  enum class Bn { kNone, kFolded, kAfter };

  static double value(T x) {
    if constexpr (kQuantized) {
      return x;
    } else {
      return to_f32(x);
    }
  }

  float uniform(float lo, float hi) {  // a small deterministic generator (xorshift*)
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    const uint64_t r = state_ * 0x2545F4914F6CDD1Dull;
    return lo + (hi - lo) * static_cast<float>(r >> 40) / static_cast<float>(1u << 24);
  }

  Status add_block(size_t c, size_t size) {
    SME2K_RETURN_IF_ERROR(add_conv(c, c, size, 3, 1, Activation::kRelu, Bn::kAfter));
    SME2K_RETURN_IF_ERROR(add_conv(c, c, size, 3, 1, Activation::kRelu, Bn::kFolded));
    SME2K_RETURN_IF_ERROR(add_conv(c, c, size, 3, 1, Activation::kRelu6, Bn::kFolded, c));
    return add_conv(c, c, size, 1, 1, Activation::kHardSwish, Bn::kNone);
  }

  Status add_conv(size_t cin, size_t cout, size_t size, size_t k, size_t stride, Activation act,
                  Bn bn, size_t groups = 1) {
    ChainLayer l;
    l.p.in_channels = cin;
    l.p.out_channels = cout;
    l.p.in_height = l.p.in_width = size;
    l.p.kernel_height = l.p.kernel_width = k;
    l.p.stride_height = l.p.stride_width = stride;
    l.p.pad_top = l.p.pad_bottom = l.p.pad_left = l.p.pad_right = k / 2;
    l.p.groups = groups;
    l.activation = act;
    l.bn_after = bn == Bn::kAfter;
    const size_t fan_in = k * k * (cin / groups);
    const float a = std::sqrt(3.0f / static_cast<float>(fan_in));
    std::vector<float> w(cout * fan_in);
    for (float& x : w) x = uniform(-a, a);
    std::vector<float> bias(cout);
    for (float& x : bias) x = uniform(-0.1f, 0.1f);
    // A BatchNorm as PyTorch holds it.
    std::vector<float> gamma(cout), beta(cout), mean(cout), var(cout);
    for (size_t i = 0; i < cout; ++i) {
      gamma[i] = uniform(0.5f, 1.5f);
      beta[i] = uniform(-0.2f, 0.2f);
      mean[i] = uniform(-0.2f, 0.2f);
      var[i] = uniform(0.5f, 1.5f);
    }
    const BatchNormParams bn_params{gamma.data(), beta.data(), mean.data(), var.data(), 1e-5f};
    if (bn == Bn::kFolded) {
      SME2K_RETURN_IF_ERROR(fold_batchnorm(l.p, w.data(), ConvWeightLayout::kOIHW, bias.data(),
                                           bn_params, bias.data()));
    } else if (bn == Bn::kAfter) {
      l.bn_scale.resize(cout);
      l.bn_shift.resize(cout);
      if constexpr (kQuantized) {
        SME2K_RETURN_IF_ERROR(batchnorm_int8_affine(cout, bn_params, kTensor, kTensor,
                                                    l.bn_scale.data(), l.bn_shift.data()));
      } else {
        SME2K_RETURN_IF_ERROR(
            batchnorm_affine(cout, bn_params, l.bn_scale.data(), l.bn_shift.data()));
      }
    }
    if constexpr (kQuantized) {
      SME2K_RETURN_IF_ERROR(quantized_epilogue(act, &l));
    }
    SME2K_RETURN_IF_ERROR(pack(w, bias, fan_in, &l));
    layers_.push_back(std::move(l));
    return Status();
  }

  // QS8: the activation as the quantized range (ReLU, ReLU6) or as a table (hard-swish).
  static Status quantized_epilogue(Activation act, ChainLayer* l) {
    const auto q = [](float real) {
      return static_cast<int32_t>(std::lround(real / kTensor.scale));
    };
    if (act == Activation::kRelu) l->range = {q(0.0f), 127};
    if (act == Activation::kRelu6) l->range = {q(0.0f), std::min(q(6.0f), 127)};
    if (act == Activation::kHardSwish) {
      l->table.resize(256);
      return int8_activation_table(act, kTensor, kTensor, {}, l->table.data());
    }
    return Status();
  }

  // F16: weights rounded to f16, bias f32. QS8: weights quantized per output channel
  // (scale max|w| / 127), bias to int32 in units of in_scale * w_scale.
  Status pack(const std::vector<float>& w, const std::vector<float>& bias, size_t fan_in,
              ChainLayer* l) {
    size_t bytes = 0;
    SME2K_RETURN_IF_ERROR(conv2d_packed_weights_size<V>(l->p, &bytes));
    l->packed.resize(bytes);
    if constexpr (kQuantized) {
      const size_t cout = l->p.out_channels;
      std::vector<int8_t> wq(w.size());
      std::vector<float> w_scales(cout);
      std::vector<int32_t> bq(cout);
      for (size_t co = 0; co < cout; ++co) {
        float peak = 0.0f;
        for (size_t i = 0; i < fan_in; ++i) peak = std::fmax(peak, std::fabs(w[co * fan_in + i]));
        w_scales[co] = peak > 0.0f ? peak / 127.0f : 1.0f;
        for (size_t i = 0; i < fan_in; ++i) {
          wq[co * fan_in + i] = static_cast<int8_t>(std::lround(w[co * fan_in + i] / w_scales[co]));
        }
        bq[co] = static_cast<int32_t>(std::lround(bias[co] / (kTensor.scale * w_scales[co])));
      }
      const Qs8Quantization quant{kTensor, w_scales.data(), kTensor};
      return conv2d_pack_weights<QS8>(l->p, wq.data(), ConvWeightLayout::kOIHW, bq.data(), quant,
                                      l->packed.data(), bytes);
    } else {
      (void)fan_in;
      std::vector<f16> w16(w.size());
      for (size_t i = 0; i < w.size(); ++i) w16[i] = convert_to<f16>(w[i]);
      return conv2d_pack_weights<F16>(l->p, w16.data(), ConvWeightLayout::kOIHW, bias.data(),
                                      l->packed.data(), bytes);
    }
  }

  // The conv's own epilogue; `fused_bn`: with the BatchNorm after the activation.
  static GemmEpilogue epilogue(const ChainLayer& l, bool fused_bn) {
    GemmEpilogue e;
    if constexpr (kQuantized) {
      e.quantized_range = l.range;
      if (!l.table.empty()) e.int8_stages.table = l.table.data();
      if (fused_bn && l.bn_after) {
        e.int8_stages.scale = l.bn_scale.data(), e.int8_stages.shift = l.bn_shift.data();
        e.int8_stages.zero_point = kTensor.zero_point;
      }
    } else {
      e.activation = l.activation;
      if (fused_bn && l.bn_after) e.affine = {l.bn_scale.data(), l.bn_shift.data()};
    }
    return e;
  }

  Status conv(const ChainLayer& l, const T* in, T* out, TensorLayout layout, const GemmEpilogue& e,
              void* workspace) const {
    return conv2d<V>(l.p, in, layout, l.packed.data(), l.packed.size(), out, layout, e, workspace,
                     workspace_bytes_);
  }

  Status run_fused(const T* in, T* out, T* a, T* b, void* workspace) const {
    const T* x = in;
    for (size_t i = 0; i < layers_.size(); ++i) {
      const ChainLayer& l = layers_[i];
      T* y = i + 1 == layers_.size() ? out : (i % 2 == 0 ? a : b);
      SME2K_RETURN_IF_ERROR(conv(l, x, y, TensorLayout::kNCHW, epilogue(l, true), workspace));
      x = y;
    }
    return Status();
  }

  Status run_transposing(const T* in, T* out, T* a, T* b, void* workspace) const {
    // NCHW in -> NHWC for the convs.
    SME2K_RETURN_IF_ERROR(convert_layout(in, TensorLayout::kNCHW, a, TensorLayout::kNHWC, 1,
                                         in_channels_, in_size_, in_size_));
    T* x = a;
    T* spare = b;
    for (const ChainLayer& l : layers_) {
      SME2K_RETURN_IF_ERROR(conv(l, x, spare, TensorLayout::kNHWC, epilogue(l, false), workspace));
      std::swap(x, spare);
      if (l.bn_after) {  // the unfolded BatchNorm, an NCHW op: transpose, normalise, back
        const size_t c = l.p.out_channels, h = l.p.out_height(), w = l.p.out_width();
        SME2K_RETURN_IF_ERROR(
            convert_layout<T>(x, TensorLayout::kNHWC, spare, TensorLayout::kNCHW, 1, c, h, w));
        batchnorm_pass(spare, c, h * w, l.bn_scale.data(), l.bn_shift.data());
        SME2K_RETURN_IF_ERROR(
            convert_layout<T>(spare, TensorLayout::kNCHW, x, TensorLayout::kNHWC, 1, c, h, w));
      }
    }
    return convert_layout<T>(x, TensorLayout::kNHWC, out, TensorLayout::kNCHW, 1, out_channels_,
                             out_size_, out_size_);
  }

  /// The runtime's plain elementwise BatchNorm over an NCHW tensor (in place). Not inlined,
  /// so that a profile (insn-mix --group) can name it.
  __attribute__((noinline)) static void batchnorm_pass(T* x, size_t channels, size_t pixels,
                                                       const float* scale, const float* shift) {
    for (size_t c = 0; c < channels; ++c) {
      T* plane = x + c * pixels;
      for (size_t i = 0; i < pixels; ++i) {
        if constexpr (kQuantized) {
          plane[i] = requantize_affine(plane[i], kTensor.zero_point, scale[c], shift[c],
                                       kTensor.zero_point, -128, 127);
        } else {
          plane[i] = convert_to<f16>(to_f32(plane[i]) * scale[c] + shift[c]);
        }
      }
    }
  }

  std::vector<ChainLayer> layers_;
  size_t in_channels_ = 0, in_size_ = 0, out_channels_ = 0, out_size_ = 0;
  size_t workspace_bytes_ = 0, largest_ = 0;
  uint64_t state_ = 1;
};

}  // namespace example
}  // namespace sme2k
