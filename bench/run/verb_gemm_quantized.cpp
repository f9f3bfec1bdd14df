// sme2k-run gemm, the quantized variants: QS8 x QC8W (checked bit-exact against
// test/reference/quantized_gemm.hpp) and QD8 x QC8W / QC4W / QB4W (activations quantized
// per row inside the op; checked against test/reference/dynamic_quant.hpp within the
// dequantization's rounding, after the float epilogue stages of test/reference/gemm.hpp).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

#include "reference/dynamic_quant.hpp"
#include "reference/gemm.hpp"
#include "reference/quantized_gemm.hpp"
#include "run/data.hpp"
#include "run/gemm.hpp"
#include "run/options.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k_run {
namespace {

/// Packs QD8 weights (int8 values in b) for V: as int8 (QD8), or as 4-bit (QD8QC4W) handed
/// over nibble-packed (two a byte, low nibble first) when B's rows have an even length, else
/// as int8 values.
template <class V>
sme2k::Status pack_qd8_rhs(const Buffer<int8_t>& b, size_t b_rows, size_t b_cols, size_t ldb,
                           sme2k::RhsLayout layout, const float* bias, const float* w_scales,
                           const sme2k::BlockScales& block_scales, unsigned char* packed,
                           size_t packed_bytes) {
  const auto pack4 = [&](const auto& view) {  // generic: instantiated for 4-bit V only
    if constexpr (std::is_same_v<V, sme2k::QD8QB4W>) {
      return sme2k::gemm_pack_rhs<V>(view, layout, bias, block_scales, packed, packed_bytes);
    } else {
      return sme2k::gemm_pack_rhs<V>(view, layout, bias, w_scales, packed, packed_bytes);
    }
  };
  if constexpr (std::is_same_v<V, sme2k::QD8>) {
    return sme2k::gemm_pack_rhs<V>({b.get(), b_rows, b_cols, ldb}, layout, bias, w_scales, packed,
                                   packed_bytes);
  } else {
    if (b_cols % 2 != 0) {
      return pack4(sme2k::Int4View{b.get(), b_rows, b_cols, ldb, sme2k::Int4Storage::kInt8});
    }
    const size_t ld_bytes = (ldb + 1) / 2;
    Buffer<uint8_t> nibbles = allocate<uint8_t>(b_rows * ld_bytes);
    std::fill(nibbles.get(), nibbles.get() + b_rows * ld_bytes, uint8_t{0xAA});
    for (size_t r = 0; r < b_rows; ++r) {
      for (size_t c = 0; c < b_cols; c += 2) {
        const auto lo = static_cast<unsigned>(b[r * ldb + c]) & 0xFu;
        const auto hi = static_cast<unsigned>(b[r * ldb + c + 1]) & 0xFu;
        nibbles[r * ld_bytes + c / 2] = static_cast<uint8_t>(lo | hi << 4);
      }
    }
    return pack4(
        sme2k::Int4View{nibbles.get(), b_rows, b_cols, ld_bytes, sme2k::Int4Storage::kNibbles});
  }
}

/// QD8 x QC8W (or QC4W): f32 (or f16) activations from the hash, quantized per row inside the
/// op (in the region), int8 (or 4-bit) weights with per-channel scales packed before it;
/// checked against test/reference/dynamic_quant.hpp within the dequantization's rounding,
/// after the float epilogue stages (every element, or the sample of for_sample).
template <class V, class In, class Out>
int run_gemm_qd8_typed(const GemmOptions& options) {
  const GemmOptions o = with_dense_strides(options);
  const std::optional<sme2k::Path> forced = forced_path(o.path);
  if (forced && !sme2k::path_available(*forced, sme2k::cpu_features())) {
    std::fprintf(stderr, "sme2k-run: path %s is not available\n", sme2k::path_name(*forced));
    return kExitFailure;
  }
  if (o.batch != 0) {
    std::fprintf(stderr, "sme2k-run: qd8 takes no --batch\n");
    return kExitUsage;
  }
  std::optional<sme2k::testing::ScopedForcePath> force;
  if (forced) force.emplace(*forced);
  const bool kxn = o.b_layout == sme2k::RhsLayout::kKxN;
  const size_t b_rows = kxn ? o.k : o.n, b_cols = kxn ? o.n : o.k;
  const size_t a_count = matrix_extent(o.m, o.k, o.lda);
  Buffer<float> a_values = random_matrix(o.m, o.k, o.lda, o.seed * 3);
  const Buffer<In> a = stored_as<In>(&a_values, a_count);
  const size_t b_count = matrix_extent(b_rows, b_cols, o.ldb);
  Buffer<float> b_values = random_matrix(b_rows, b_cols, o.ldb, o.seed * 3 + 1);
  Buffer<int8_t> b = allocate<int8_t>(b_count);
  const float w_max = std::is_same_v<V, sme2k::QD8> ? 127.0f : 7.0f;  // [-1, 1) to the range
  for (size_t i = 0; i < b_count; ++i) {
    b[i] = std::isnan(b_values[i]) ? int8_t{0} : static_cast<int8_t>(b_values[i] * w_max);
  }
  Buffer<float> bias = random_matrix(1, o.n, o.n, o.seed * 3 + 2);
  Buffer<float> scale = random_matrix(1, o.n, o.n, o.seed * 3 + 3);
  Buffer<float> shift = random_matrix(1, o.n, o.n, o.seed * 3 + 4);
  Buffer<float> w_scales = allocate<float>(o.n);
  for (size_t j = 0; j < o.n; ++j) {
    w_scales[j] = 0.004f * (1.0f + static_cast<float>(j % 17) / 16.0f);
    scale[j] += 1.5f;  // away from 0
  }
  const size_t c_rows = o.transposed ? o.n : o.m, c_cols = o.transposed ? o.m : o.n;
  const size_t c_extent = matrix_extent(c_rows, c_cols, o.ldc);
  Buffer<Out> c = allocate<Out>(c_extent);
  std::fill(c.get(), c.get() + c_extent, sme2k::convert_to<Out>(std::nanf("")));
  sme2k::GemmEpilogue e;
  e.activation = o.activation;
  if (o.affine) e.affine = {scale.get(), shift.get()};
  e.clamp = o.clamp;
  e.order = o.transposed ? sme2k::OutputOrder::kTransposed : sme2k::OutputOrder::kRowMajor;
  size_t packed_bytes = 0, ws_bytes = 0;
  // QB4W: each channel's scale varied per block.
  const size_t blocks = o.block > 0 ? (o.k + o.block - 1) / o.block : 0;
  Buffer<float> scales_by_block = allocate<float>(o.n * blocks);
  for (size_t j = 0; j < o.n; ++j) {
    for (size_t g = 0; g < blocks; ++g) {
      scales_by_block[j * blocks + g] = w_scales[j] * (1.0f + static_cast<float>(g % 3) / 4.0f);
    }
  }
  const sme2k::BlockScales block_scales{scales_by_block.get(), sme2k::ScaleType::kF32, o.block,
                                        blocks};
  sme2k::Status status = sme2k::gemm_packed_rhs_size<V>(o.n, o.k, &packed_bytes);
  Buffer<unsigned char> packed = allocate<unsigned char>(packed_bytes);
  if (status.ok()) {
    status = pack_qd8_rhs<V>(b, b_rows, b_cols, o.ldb, o.b_layout, o.bias ? bias.get() : nullptr,
                             w_scales.get(), block_scales, packed.get(), packed_bytes);
  }
  if (status.ok()) status = sme2k::gemm_workspace_size<V>(o.m, o.n, o.k, &ws_bytes, e.order);
  Buffer<unsigned char> workspace = allocate<unsigned char>(ws_bytes);
  const sme2k::MatrixView<const In> a_view{a.get(), o.m, o.k, o.lda};
  const sme2k::MatrixView<Out> c_view{c.get(), c_rows, c_cols, o.ldc};
  size_t packed_a_bytes = 0;
  Buffer<unsigned char> packed_a;
  if constexpr (sme2k::detail::kPacksLhs<V>) {
    if (status.ok() && o.packed_lhs) {
      status = sme2k::gemm_packed_lhs_size<V>(o.m, o.k, &packed_a_bytes);
    }
    packed_a = allocate<unsigned char>(packed_a_bytes);
    if (status.ok() && o.packed_lhs) {
      status = sme2k::gemm_pack_lhs<V>(a_view, packed_a.get(), packed_a_bytes);
    }
  } else if (o.packed_lhs) {
    std::fprintf(stderr, "sme2k-run: %s has no packed activations\n",
                 sme2k::VariantTraits<V>::kName.data());
    return kExitUsage;
  }

  sme2k_roi_begin();
  for (size_t r = 0; r < o.repeat && status.ok(); ++r) {
    if constexpr (sme2k::detail::kPacksLhs<V>) {
      if (o.packed_lhs) {
        status = sme2k::gemm<V, Out>(sme2k::PackedLhs{packed_a.get(), packed_a_bytes}, packed.get(),
                                     packed_bytes, c_view, e, workspace.get(), ws_bytes);
        continue;
      }
    }
    status = sme2k::gemm<V, Out>(a_view, packed.get(), packed_bytes, c_view, e, workspace.get(),
                                 ws_bytes);
  }
  sme2k_roi_end();

  const sme2k::Path path = sme2k::last_used_path();
  const size_t svl_bits = sme2k::streaming_vector_bytes() * 8;
  std::printf(
      "gemm %s in=%s out=%s M=%zu N=%zu K=%zu lda=%zu ldb=%zu ldc=%zu b=%s bias=%s act=%s "
      "affine=%s transposed=%s packed_lhs=%s path=%s svl=%zu status=%s\n",
      sme2k::VariantTraits<V>::kName.data(), std::is_same_v<In, float> ? "f32" : "f16",
      std::is_same_v<Out, float> ? "f32" : "f16", o.m, o.n, o.k, o.lda, o.ldb, o.ldc,
      sme2k::rhs_layout_name(o.b_layout), o.bias ? "yes" : "no",
      sme2k::activation_name(o.activation), o.affine ? "yes" : "no", o.transposed ? "yes" : "no",
      o.packed_lhs ? "yes" : "no", status.ok() ? sme2k::path_name(path) : "-", svl_bits,
      status.ok() ? "ok" : sme2k::status_code_name(status.code()));
  if (!status.ok()) {
    std::fprintf(stderr, "sme2k-run: %s\n", status.message());
    return kExitFailure;
  }
  sme2k::reference::Qd8GemmProblem p;
  p.m = o.m, p.n = o.n, p.k = o.k;
  p.a.resize(o.m * o.k);
  for (size_t i = 0; i < o.m; ++i) {
    std::copy(a_values.get() + i * o.lda, a_values.get() + i * o.lda + o.k, &p.a[i * o.k]);
  }
  p.b = b.get(), p.ldb = o.ldb, p.b_layout = o.b_layout;
  p.w_scales = w_scales.get();
  p.bias = o.bias ? bias.get() : nullptr;
  sme2k::reference::GemmF32Problem stages;  // the float epilogue after the dequantization
  stages.k = o.k;
  stages.activation = o.activation;
  stages.scale = o.affine ? scale.get() : nullptr;
  stages.shift = o.affine ? shift.get() : nullptr;
  stages.clamp = o.clamp.active();
  stages.clamp_min = o.clamp.min, stages.clamp_max = o.clamp.max;
  const std::vector<sme2k::reference::QuantizedRow> rows = sme2k::reference::quantize_rows(p);
  Verifier v;
  const auto check = [&](size_t i, size_t j) {
    sme2k::reference::Qd8Element want;
    double product_bound = 0.0;
    if constexpr (std::is_same_v<V, sme2k::QD8QB4W>) {  // f32 on dequantized operands
      want = sme2k::reference::qb4w_at(
          p, rows[i], [&](size_t jj, size_t kk) { return block_scales.at(jj, kk); }, i, j);
      product_bound = sme2k::reference::f32_gemm_error_bound(o.k + 2, want.magnitude);
    } else {
      want = sme2k::reference::qd8_at(p, rows[i], i, j);
      product_bound = sme2k::reference::qd8_dequant_bound(want.magnitude);
    }
    const double exact = sme2k::reference::finish(stages, want.value, j);
    double bound = sme2k::reference::f32_epilogue_bound(stages, j, want.value, want.magnitude,
                                                        exact, product_bound);
    if (std::is_same_v<Out, sme2k::f16>) {
      bound = sme2k::reference::f16_rounding_bound(exact, bound);
    }
    const size_t at = o.transposed ? j * o.ldc + i : i * o.ldc + j;
    v.expect_near(i, j, sme2k::to_f32(c[at]), exact, bound);
  };
  const double macs =
      static_cast<double>(o.m) * static_cast<double>(o.n) * static_cast<double>(o.k);
  const bool full =
      o.verify == VerifyPolicy::kFull || (o.verify == VerifyPolicy::kAuto && macs <= 0x1p24);
  if (full) {
    for (size_t i = 0; i < o.m; ++i) {
      for (size_t j = 0; j < o.n; ++j) check(i, j);
    }
  } else {
    for_sample(o.m, o.n, check);
  }
  for (size_t r = 0; r + 1 < c_rows; ++r) {
    for (size_t col = c_cols; col < o.ldc; ++col) {
      v.expect_untouched(r, col, sme2k::to_f32(c[r * o.ldc + col]));
    }
  }
  std::printf("verified %zu of %zu elements (%s): %s\n", v.checked(), o.m * o.n,
              full ? "full" : "sample", v.failed() == 0 ? "ok" : "MISMATCH");
  if (v.failed() != 0) return kExitFailure;
  return meets_expectations(o.path, path, svl_bits) ? kExitOk : kExitFailure;
}

template <class V>
int run_gemm_qd8_as(const GemmOptions& o) {
  const bool in_f16 = o.in == OutChoice::kF16, out_f16 = o.out == OutChoice::kF16;
  if (in_f16) {
    return out_f16 ? run_gemm_qd8_typed<V, sme2k::f16, sme2k::f16>(o)
                   : run_gemm_qd8_typed<V, sme2k::f16, float>(o);
  }
  return out_f16 ? run_gemm_qd8_typed<V, float, sme2k::f16>(o)
                 : run_gemm_qd8_typed<V, float, float>(o);
}
}  // namespace

/// QS8 x QC8W: int8 data from the hash, fixed quantization parameters that keep the outputs
/// away from saturation, the weights packed with them before the region; checked bit-exact
/// against test/reference/quantized_gemm.hpp (every element, or the sample of verify_sample).
template <>
int run_gemm_quantized<sme2k::QS8>(const GemmOptions& options) {
  const GemmOptions o = with_dense_strides(options);
  const std::optional<sme2k::Path> forced = forced_path(o.path);
  if (forced && !sme2k::path_available(*forced, sme2k::cpu_features())) {
    std::fprintf(stderr, "sme2k-run: path %s is not available\n", sme2k::path_name(*forced));
    return kExitFailure;
  }
  if (o.batch != 0 || o.transposed || o.affine || o.activation != sme2k::Activation::kNone ||
      o.clamp.active()) {
    std::fprintf(stderr,
                 "sme2k-run: qs8 takes no --batch, --transposed, --affine, --act, --clamp\n");
    return kExitUsage;
  }
  std::optional<sme2k::testing::ScopedForcePath> force;
  if (forced) force.emplace(*forced);
  const bool kxn = o.b_layout == sme2k::RhsLayout::kKxN;
  const size_t b_rows = kxn ? o.k : o.n, b_cols = kxn ? o.n : o.k;
  const auto to_int8 = [](Buffer<float> values, size_t count) {
    Buffer<int8_t> q = allocate<int8_t>(count);
    for (size_t i = 0; i < count; ++i) {
      q[i] = std::isnan(values[i]) ? int8_t{0} : static_cast<int8_t>(values[i] * 127.0f);
    }
    return q;
  };
  const size_t a_count = matrix_extent(o.m, o.k, o.lda),
               b_count = matrix_extent(b_rows, b_cols, o.ldb);
  Buffer<int8_t> a = to_int8(random_matrix(o.m, o.k, o.lda, o.seed * 3), a_count);
  Buffer<int8_t> b = to_int8(random_matrix(b_rows, b_cols, o.ldb, o.seed * 3 + 1), b_count);
  Buffer<int32_t> bias = allocate<int32_t>(o.n);
  Buffer<float> w_scales = allocate<float>(o.n);
  for (size_t j = 0; j < o.n; ++j) {
    bias[j] = static_cast<int32_t>(j % 1000) * 7 - 3500;
    w_scales[j] = 0.004f * (1.0f + static_cast<float>(j % 17) / 16.0f);
  }
  // Output scale: the accumulators' spread, sqrt(K) * 127^2 / 3 or so, onto about 60 steps.
  const float out_scale =
      0.02f * 0.005f * 127.0f * 127.0f * std::sqrt(static_cast<float>(o.k)) / 60.0f;
  const sme2k::Qs8Quantization q{{0.02f, 3}, w_scales.get(), {out_scale, -5}};
  const size_t c_extent = matrix_extent(o.m, o.n, o.ldc);
  Buffer<int8_t> c = allocate<int8_t>(c_extent);
  std::fill(c.get(), c.get() + c_extent, int8_t{77});
  size_t packed_bytes = 0, ws_bytes = 0;
  sme2k::Status status = sme2k::gemm_packed_rhs_size<sme2k::QS8>(o.n, o.k, &packed_bytes);
  Buffer<unsigned char> packed = allocate<unsigned char>(packed_bytes);
  if (status.ok()) {
    status = sme2k::gemm_pack_rhs<sme2k::QS8>({b.get(), b_rows, b_cols, o.ldb}, o.b_layout,
                                              o.bias ? bias.get() : nullptr, q, packed.get(),
                                              packed_bytes);
  }
  if (status.ok()) status = sme2k::gemm_workspace_size<sme2k::QS8>(o.m, o.n, o.k, &ws_bytes);
  Buffer<unsigned char> workspace = allocate<unsigned char>(ws_bytes);

  sme2k_roi_begin();
  for (size_t r = 0; r < o.repeat && status.ok(); ++r) {
    status = sme2k::gemm<sme2k::QS8>({a.get(), o.m, o.k, o.lda}, packed.get(), packed_bytes,
                                     {c.get(), o.m, o.n, o.ldc}, {}, workspace.get(), ws_bytes);
  }
  sme2k_roi_end();

  const sme2k::Path path = sme2k::last_used_path();
  const size_t svl_bits = sme2k::streaming_vector_bytes() * 8;
  std::printf(
      "gemm qs8 M=%zu N=%zu K=%zu lda=%zu ldb=%zu ldc=%zu b=%s bias=%s path=%s svl=%zu "
      "status=%s\n",
      o.m, o.n, o.k, o.lda, o.ldb, o.ldc, sme2k::rhs_layout_name(o.b_layout), o.bias ? "yes" : "no",
      status.ok() ? sme2k::path_name(path) : "-", svl_bits,
      status.ok() ? "ok" : sme2k::status_code_name(status.code()));
  if (!status.ok()) {
    std::fprintf(stderr, "sme2k-run: %s\n", status.message());
    return kExitFailure;
  }
  sme2k::reference::Qs8GemmProblem p;
  p.m = o.m, p.n = o.n, p.k = o.k;
  p.a = a.get(), p.lda = o.lda, p.b = b.get(), p.ldb = o.ldb, p.b_layout = o.b_layout;
  p.bias = o.bias ? bias.get() : nullptr;
  p.in_scale = q.input.scale, p.in_zero_point = q.input.zero_point;
  p.out_scale = q.output.scale, p.out_zero_point = q.output.zero_point;
  p.w_scales = w_scales.get();
  const double macs =
      static_cast<double>(o.m) * static_cast<double>(o.n) * static_cast<double>(o.k);
  const bool full =
      o.verify == VerifyPolicy::kFull || (o.verify == VerifyPolicy::kAuto && macs <= 0x1p24);
  size_t checked = 0, wrong = 0, saturated = 0;
  const auto check = [&](size_t i, size_t j) {
    const int got = c[i * o.ldc + j], want = sme2k::reference::qs8_at(p, i, j);
    ++checked;
    saturated += (want == -128 || want == 127) ? 1 : 0;
    if (got != want && ++wrong <= 10) {
      std::fprintf(stderr, "mismatch at (i=%zu, j=%zu): got %d, want %d\n", i, j, got, want);
    }
  };
  if (full) {
    for (size_t i = 0; i < o.m; ++i) {
      for (size_t j = 0; j < o.n; ++j) check(i, j);
    }
  } else {
    for (size_t j = 0; j < o.n; ++j) check(0, j), check(o.m - 1, j);
    for (size_t i = 0; i < o.m; ++i) check(i, 0), check(i, o.n - 1);
    for (size_t t = 1; t <= 2048; ++t) check(t * 7919 % o.m, t * 104729 % o.n);
  }
  std::printf("verified %zu of %zu elements (%s, bit-exact; %zu saturated): %s\n", checked,
              o.m * o.n, full ? "full" : "sample", saturated, wrong == 0 ? "ok" : "MISMATCH");
  if (wrong != 0) return kExitFailure;
  return meets_expectations(o.path, path, svl_bits) ? kExitOk : kExitFailure;
}

template <>
int run_gemm_quantized<sme2k::QD8>(const GemmOptions& o) {
  return run_gemm_qd8_as<sme2k::QD8>(o);
}
template <>
int run_gemm_quantized<sme2k::QD8QC4W>(const GemmOptions& o) {
  return run_gemm_qd8_as<sme2k::QD8QC4W>(o);
}
template <>
int run_gemm_quantized<sme2k::QD8QB4W>(const GemmOptions& o) {
  return run_gemm_qd8_as<sme2k::QD8QB4W>(o);
}

}  // namespace sme2k_run
