// libFuzzer target: 2D convolution through the C API. Fuzzed shapes (kernel, stride,
// dilation, asymmetric padding, groups / depthwise, batch; sometimes hostile), weight
// layouts, F32 / F16 / QS8 weights packed (sme2k_conv2d_pack_weights, _qs8), sometimes
// damaged, then sme2k_conv2d with fuzzed layouts, output type, epilogue, workspace and
// parallel-for.
#include "fuzz_common.hpp"

using namespace sme2k_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider f(data, size);
  const sme2k_variant variant =
      f.ConsumeIntegralInRange<int>(0, 15) == 0
          ? enum_in<sme2k_variant>(f, 1, 7)
          : static_cast<sme2k_variant>(f.PickValueInArray({1, 2, 4}));  // F32, F16, QS8
  sme2k_conv2d_params p = sme2k_conv2d_params_default();
  p.batch = size_in(f, 2);
  p.groups = f.ConsumeBool() ? 1 : size_in(f, 6);
  const size_t cin_g = size_in(f, 6), cout_g = size_in(f, 6);
  p.in_channels = cin_g * (p.groups == 0 || p.groups > 64 ? 1 : p.groups);
  p.out_channels =
      (f.ConsumeBool() ? cin_g : cout_g) * (p.groups == 0 || p.groups > 64 ? 1 : p.groups);
  if (f.ConsumeIntegralInRange<int>(0, 15) == 0) p.in_channels = size_in(f, 8);
  p.in_height = size_in(f, 9);
  p.in_width = size_in(f, 9);
  p.kernel_height = size_in(f, 4);
  p.kernel_width = size_in(f, 4);
  p.stride_height = size_in(f, 3);
  p.stride_width = size_in(f, 3);
  p.dilation_height = size_in(f, 2);
  p.dilation_width = size_in(f, 2);
  p.pad_top = size_in(f, 3) % 4;
  p.pad_bottom = size_in(f, 3) % 4;
  p.pad_left = size_in(f, 3);
  p.pad_right = size_in(f, 3) % 4;
  size_t oh = 0, ow = 0;
  const bool shape_ok = sme2k_conv2d_output_size(&p, &oh, &ow) == SME2K_OK;

  // Weights and bias (valid shapes only: their counts come from it).
  size_t wcount = 0, in_count = 0, out_count = 0;
  if (!shape_ok || __builtin_mul_overflow(p.out_channels, p.in_channels / p.groups, &wcount) ||
      __builtin_mul_overflow(wcount, p.kernel_height * p.kernel_width, &wcount) ||
      __builtin_mul_overflow(p.batch * p.in_channels, p.in_height * p.in_width, &in_count) ||
      __builtin_mul_overflow(p.batch * p.out_channels, oh * ow, &out_count)) {
    size_t bytes = 0;
    const sme2k_status s = sme2k_conv2d_packed_weights_size(variant, &p, &bytes);
    if (shape_ok || s == SME2K_OK) return 0;  // the weights' part alone may be fine
    return 0;
  }
  if (too_much_work(out_count, p.in_channels / p.groups, p.kernel_height, p.kernel_width)) return 0;
  const bool qs8 = variant == SME2K_VARIANT_QS8;
  const sme2k_dtype wtype = qs8                            ? SME2K_DTYPE_INT8
                            : variant == SME2K_VARIANT_F16 ? SME2K_DTYPE_F16
                                                           : SME2K_DTYPE_F32;
  Operand w;
  if (wcount > 4096 || !allocate(f, wcount * dtype_bytes(wtype), false, &w)) return 0;
  make_finite(&w, wtype);
  size_t packed_bytes = 0;
  if (sme2k_conv2d_packed_weights_size(variant, &p, &packed_bytes) != SME2K_OK) return 0;
  if (packed_bytes > kMaxBytes) return 0;
  std::vector<uint8_t> packed(packed_bytes);
  const sme2k_conv_weight_layout wl = enum_in<sme2k_conv_weight_layout>(f, 1, 3);
  std::vector<float> fbias(p.out_channels), scales(p.out_channels);
  finite_floats(f, fbias.data(), fbias.size(), false);
  finite_floats(f, scales.data(), scales.size(), true);
  std::vector<int32_t> ibias(p.out_channels);
  for (auto& x : ibias) x = f.ConsumeIntegralInRange<int32_t>(-3000, 3000);
  const bool with_bias = f.ConsumeBool();
  sme2k_status s;
  if (qs8) {
    sme2k_qs8_quantization q;
    q.input = {0.01f * static_cast<float>(f.ConsumeIntegralInRange<int>(0, 100)),
               f.ConsumeIntegralInRange<int32_t>(-130, 130)};
    q.weight_scales = scales.data();
    q.output = {0.01f * static_cast<float>(f.ConsumeIntegralInRange<int>(0, 100)),
                f.ConsumeIntegralInRange<int32_t>(-130, 130)};
    s = sme2k_conv2d_pack_weights_qs8(&p, reinterpret_cast<const int8_t*>(w.data), wl,
                                      with_bias ? ibias.data() : nullptr, &q, packed.data(),
                                      packed_bytes);
  } else {
    s = sme2k_conv2d_pack_weights(variant, &p, w.data, wtype, wl,
                                  with_bias ? fbias.data() : nullptr, SME2K_DTYPE_F32,
                                  packed.data(), packed_bytes);
  }
  if (s != SME2K_OK) return 0;

  // Input, output, epilogue, workspace.
  const sme2k_tensor_layout in_layout = enum_in<sme2k_tensor_layout>(f, 1, 2);
  const sme2k_tensor_layout out_layout = enum_in<sme2k_tensor_layout>(f, 1, 2);
  const sme2k_dtype out_type = qs8                                               ? SME2K_DTYPE_INT8
                               : variant == SME2K_VARIANT_F16 && f.ConsumeBool() ? SME2K_DTYPE_F16
                                                                                 : SME2K_DTYPE_F32;
  const sme2k_dtype in_type = qs8 ? SME2K_DTYPE_INT8 : wtype;
  Operand in, out;
  const bool misalign = in_type != SME2K_DTYPE_INT8 && f.ConsumeIntegralInRange<int>(0, 63) == 0;
  if (!allocate(f, in_count * dtype_bytes(in_type), misalign, &in)) return 0;
  make_finite(&in, in_type);
  if (!allocate(f, out_count * dtype_bytes(out_type), false, &out)) return 0;
  std::vector<float> arrays;
  std::vector<int8_t> table;
  const sme2k_epilogue e = epilogue_from(f, p.out_channels, &arrays, &table);
  sme2k_parallel_for pf;
  const sme2k_parallel_for* parallel = parallel_from(f, &pf);
  size_t ws_bytes = 0;
  if (sme2k_conv2d_workspace_size(variant, &p, in_layout, out_layout, &ws_bytes, parallel) !=
      SME2K_OK) {
    ws_bytes = 0;
  }
  Operand ws;
  if (!allocate(f, ws_bytes, false, &ws)) return 0;
  const Packed damaged(f, packed.data(), packed.size());
  const Snapshot snap(out);
  s = sme2k_conv2d(variant, &p, in.data, in_layout, damaged.data(), damaged.bytes, out.data,
                   out_type, out_layout, &e, ws.bytes > 0 ? ws.data : nullptr, ws.bytes, parallel);
  check(s, misalign || damaged.header_damaged, {&snap}, "conv2d accepted invalid input");
  return 0;
}
