// libFuzzer target: the BatchNorm helpers (sme2k_batchnorm_affine, _int8_affine,
// sme2k_fold_batchnorm, _linear): fuzzed (sometimes impossible) channel counts, parameters,
// misaligned arrays, shapes and layouts. Arrays hold exactly the channels the call names, or
// fewer when the count is impossible (the call must then refuse before reading them).
#include "fuzz_common.hpp"

using namespace sme2k_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider f(data, size);
  const size_t channels = size_in(f, 40);
  // Counts the helpers take but too many to hold here: skipped.
  if (channels > 4096 && channels <= (size_t{1} << 24)) return 0;
  const bool possible = channels > 0 && channels <= 4096;
  const size_t held = possible ? channels : 8;
  Operand params;  // weight, bias, mean, var: held values each
  const bool misalign = f.ConsumeIntegralInRange<int>(0, 31) == 0;
  if (!allocate(f, 4 * held * sizeof(float), misalign, &params)) return 0;
  make_finite(&params, SME2K_DTYPE_F32);
  float* v = reinterpret_cast<float*>(params.data);
  sme2k_batchnorm_params bn = sme2k_batchnorm_params_default();
  bn.weight = f.ConsumeBool() ? v : nullptr;
  bn.bias = f.ConsumeBool() ? v + held : nullptr;
  bn.running_mean = f.ConsumeIntegralInRange<int>(0, 31) == 0 ? nullptr : v + 2 * held;
  bn.running_var = v + 3 * held;
  if (!misalign) {
    for (size_t i = 0; i < held; ++i)
      v[3 * held + i] = v[3 * held + i] < 0 ? -v[3 * held + i] : v[3 * held + i];
  }
  bn.eps = f.ConsumeBool() ? 1e-5f : static_cast<float>(f.ConsumeIntegralInRange<int>(-2, 2));
  Operand out;
  if (!allocate(f, 2 * held * sizeof(float), false, &out)) return 0;
  const Snapshot snap(out);
  float* o = reinterpret_cast<float*>(out.data);
  sme2k_status s;
  switch (f.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:
      s = sme2k_batchnorm_affine(channels, &bn, o, o + held);
      check(s, !possible || misalign, {&snap}, "batchnorm_affine accepted invalid input");
      break;
    case 1: {
      const sme2k_quant_params in = {
          0.05f * static_cast<float>(f.ConsumeIntegralInRange<int>(0, 4)),
          f.ConsumeIntegralInRange<int32_t>(-130, 130)};
      const sme2k_quant_params outq = {0.1f, f.ConsumeIntegralInRange<int32_t>(-130, 130)};
      s = sme2k_batchnorm_int8_affine(channels, &bn, in, outq, o, o + held);
      check(s, !possible || misalign, {&snap}, "batchnorm_int8_affine accepted invalid input");
      break;
    }
    case 2: {  // a Linear layer's N x K weights, N = channels
      const size_t k = size_in(f, 16);
      Matrix w;
      if (!make_matrix(f, channels, k, f.ConsumeBool() ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16, &w)) {
        return 0;
      }
      const Snapshot wsnap(w);
      s = sme2k_fold_batchnorm_linear(w.out(), f.ConsumeBool() ? v + held : nullptr, &bn, o);
      check(s, !possible || misalign || !w.valid, {&snap, &wsnap},
            "fold_batchnorm_linear accepted invalid input");
      break;
    }
    default: {  // a convolution's weights, Cout = channels
      sme2k_conv2d_params p = sme2k_conv2d_params_default();
      p.out_channels = channels;
      p.in_channels = size_in(f, 4);
      p.kernel_height = size_in(f, 3);
      p.kernel_width = size_in(f, 3);
      size_t count = 0;
      if (!possible || p.in_channels > 64 || p.kernel_height > 8 || p.kernel_width > 8 ||
          p.in_channels == 0 || p.kernel_height == 0 || p.kernel_width == 0) {
        return 0;
      }
      count = channels * p.in_channels * p.kernel_height * p.kernel_width;
      const sme2k_dtype wt = f.ConsumeBool() ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16;
      Operand w;
      if (!allocate(f, count * dtype_bytes(wt), false, &w)) return 0;
      make_finite(&w, wt);
      const Snapshot wsnap(w);
      s = sme2k_fold_batchnorm(&p, w.data, wt, enum_in<sme2k_conv_weight_layout>(f, 1, 3),
                               f.ConsumeBool() ? v + held : nullptr, &bn, o);
      check(s, misalign, {&snap, &wsnap}, "fold_batchnorm accepted invalid input");
      break;
    }
  }
  return 0;
}
