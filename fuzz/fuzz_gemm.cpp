// libFuzzer target: the GEMM family of the C API. Weights of every variant packed from fuzzed
// shapes, strides, layouts, biases and quantization (sme2k_gemm_pack_rhs, _qs8, _qd8, _qc4w,
// _qb4w, _q4_0), sometimes damaged as a file could be, then sme2k_gemm on fuzzed A, C,
// epilogue, workspace and parallel-for. F32 results without an epilogue are checked against
// a plain reference.
#include <cmath>

#include "fuzz_common.hpp"

using namespace sme2k_fuzz;

namespace {

struct Weights {
  std::vector<uint8_t> packed;
  bool ok = false;
  std::vector<float> b_kxn;  // F32, packed: B as K x N and the bias, for the reference
  std::vector<float> bias;
};

float f32_at(const Matrix& m, size_t r, size_t c) {
  float v = 0.0f;
  std::memcpy(&v, m.data + (r * m.ld + c) * 4, 4);
  return v;
}

// Packs N x K weights of `variant` through its pack function; false: skipped (too big).
bool pack_weights(FuzzedDataProvider& f, sme2k_variant variant, size_t n, size_t k, Weights* w) {
  size_t bytes = 0;
  const sme2k_status size_status = sme2k_gemm_packed_rhs_size(variant, n, k, &bytes);
  if (size_status != SME2K_OK) bytes = 64;
  if (bytes > kMaxBytes) return false;
  w->packed.assign(bytes, 0xA5);
  Operand out;
  out.data = w->packed.data();
  out.bytes = bytes;
  const Snapshot snap(out);
  const sme2k_rhs_layout layout = enum_in<sme2k_rhs_layout>(f, 1, 2);
  const bool kxn = layout == SME2K_RHS_KXN;
  const size_t rows = kxn ? k : n, cols = kxn ? n : k;
  bool must_refuse = size_status != SME2K_OK;
  // Per-channel arrays (bias, scales): n values when n is small, else null.
  const bool small_n = n <= 4096;
  std::vector<float> channel(small_n ? 2 * n : 0);
  finite_floats(f, channel.data(), channel.size(), true);
  const float* bias = small_n && f.ConsumeBool() ? channel.data() + n : nullptr;
  const float* scales = small_n ? channel.data() : nullptr;
  sme2k_status s = SME2K_OK;
  Matrix b;
  switch (variant) {
    case SME2K_VARIANT_F32:
    case SME2K_VARIANT_F16:
    case SME2K_VARIANT_F16_ACC16: {
      const sme2k_dtype dtype =
          f.ConsumeIntegralInRange<int>(0, 15) == 0
              ? enum_in<sme2k_dtype>(f, 1, 4)
              : (variant == SME2K_VARIANT_F32 ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16);
      if (!make_matrix(f, rows, cols, dtype, &b)) return false;
      must_refuse = must_refuse || !b.valid;
      const sme2k_dtype bias_dtype =
          variant == SME2K_VARIANT_F32 || f.ConsumeBool() ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16;
      s = sme2k_gemm_pack_rhs(variant, b.view(), layout, bias, bias_dtype, w->packed.data(), bytes);
      if (s == SME2K_OK && variant == SME2K_VARIANT_F32 && dtype == SME2K_DTYPE_F32 &&
          n * k <= 65536) {
        w->b_kxn.resize(k * n);
        for (size_t kk = 0; kk < k; ++kk) {
          for (size_t j = 0; j < n; ++j) {
            w->b_kxn[kk * n + j] = kxn ? f32_at(b, kk, j) : f32_at(b, j, kk);
          }
        }
        w->bias.assign(n, 0.0f);
        if (bias != nullptr) w->bias.assign(bias, bias + n);
      }
      break;
    }
    case SME2K_VARIANT_QS8: {
      if (!make_matrix(f, rows, cols, SME2K_DTYPE_INT8, &b)) return false;
      std::vector<int32_t> ibias(small_n ? n : 0);
      for (auto& x : ibias) x = f.ConsumeIntegralInRange<int32_t>(-5000, 5000);
      sme2k_qs8_quantization q;
      q.input = {0.01f * static_cast<float>(f.ConsumeIntegralInRange<int>(0, 200)),
                 f.ConsumeIntegralInRange<int32_t>(-130, 130)};
      q.weight_scales = scales;
      q.output = {0.01f * static_cast<float>(f.ConsumeIntegralInRange<int>(0, 200)),
                  f.ConsumeIntegralInRange<int32_t>(-130, 130)};
      must_refuse = must_refuse || !b.valid || scales == nullptr;
      s = sme2k_gemm_pack_rhs_qs8(b.view(), layout,
                                  small_n && f.ConsumeBool() ? ibias.data() : nullptr, &q,
                                  w->packed.data(), bytes);
      break;
    }
    case SME2K_VARIANT_QD8: {
      if (!make_matrix(f, rows, cols, SME2K_DTYPE_INT8, &b)) return false;
      must_refuse = must_refuse || !b.valid || scales == nullptr;
      s = sme2k_gemm_pack_rhs_qd8(b.view(), layout, bias, scales, w->packed.data(), bytes);
      break;
    }
    case SME2K_VARIANT_QD8_QC4W:
    case SME2K_VARIANT_QD8_QB4W: {
      if (variant == SME2K_VARIANT_QD8_QB4W && f.ConsumeIntegralInRange<int>(0, 3) == 0) {
        // GGUF Q4_0 blocks: N rows of K / 32 blocks of 18 bytes.
        Operand blocks;
        size_t block_bytes = 0;
        const bool fits = k % 32 == 0 && !__builtin_mul_overflow(n, k / 32 * 18, &block_bytes);
        if (!allocate(f, fits ? block_bytes : 64, false, &blocks)) return false;
        must_refuse = must_refuse || !fits;
        s = sme2k_gemm_pack_rhs_q4_0(blocks.data, n, k, bias, w->packed.data(), bytes);
        break;
      }
      const sme2k_int4_storage storage = enum_in<sme2k_int4_storage>(f, 1, 2);
      const size_t row_bytes = storage == SME2K_INT4_NIBBLES ? cols / 2 : cols;
      const size_t ld = ld_for(f, row_bytes);
      Operand q4;
      size_t q4_bytes = 0;
      const bool fits = extent_bytes(rows, row_bytes, ld, 1, &q4_bytes);
      if (!allocate(f, fits ? q4_bytes : 64, false, &q4)) return false;
      if (storage == SME2K_INT4_INT8 && f.ConsumeBool()) {
        for (size_t i = 0; i < q4.bytes; ++i)
          q4.data[i] = static_cast<uint8_t>((q4.data[i] & 15) - 8);
      }
      const sme2k_int4_matrix b4 = {q4.data, rows, cols, ld, storage};
      must_refuse = must_refuse || !fits;
      if (variant == SME2K_VARIANT_QD8_QC4W) {
        must_refuse = must_refuse || scales == nullptr;
        s = sme2k_gemm_pack_rhs_qc4w(b4, layout, bias, scales, w->packed.data(), bytes);
      } else {
        static constexpr size_t kBlocks[] = {32, 64, 96, 128, 0, 48, SIZE_MAX};
        sme2k_block_scales bs;
        bs.block = f.PickValueInArray(kBlocks);
        bs.type = enum_in<sme2k_scale_type>(f, 1, 2);
        const size_t per_row = bs.block != 0 && bs.block != SIZE_MAX ? k / bs.block : 1;
        bs.ld = f.ConsumeIntegralInRange<int>(0, 7) == 0 ? size_in(f, 8) : per_row;
        Operand sc;
        size_t sc_bytes = 0;
        const size_t esize = bs.type == SME2K_SCALE_BF16 ? 2 : 4;
        const bool sc_fits = per_row > 0 && extent_bytes(n, per_row, bs.ld, esize, &sc_bytes);
        if (!allocate(f, sc_fits ? sc_bytes : 64, false, &sc)) return false;
        for (size_t i = 0; i + esize <= sc.bytes; i += esize) {  // positive finite scales
          const uint32_t bits = 0x3C000000u + (static_cast<uint32_t>(sc.data[i]) << 16);
          if (esize == 4) {
            std::memcpy(sc.data + i, &bits, 4);
          } else {
            const uint16_t top = static_cast<uint16_t>(bits >> 16);
            std::memcpy(sc.data + i, &top, 2);
          }
        }
        bs.data = sc.data;
        must_refuse = must_refuse || !sc_fits;
        s = sme2k_gemm_pack_rhs_qb4w(b4, layout, bias,
                                     f.ConsumeIntegralInRange<int>(0, 31) == 0 ? nullptr : &bs,
                                     w->packed.data(), bytes);
      }
      break;
    }
    default:
      s = sme2k_gemm_pack_rhs(variant, {nullptr, 1, 1, 1, SME2K_DTYPE_F32}, layout, nullptr,
                              SME2K_DTYPE_F32, w->packed.data(), bytes);
      must_refuse = true;
      break;
  }
  check(s, must_refuse, {&snap}, "packing accepted invalid weights");
  w->ok = s == SME2K_OK;
  return true;
}

sme2k_dtype input_dtype(FuzzedDataProvider& f, sme2k_variant v) {
  if (f.ConsumeIntegralInRange<int>(0, 15) == 0) return enum_in<sme2k_dtype>(f, 1, 4);
  switch (v) {
    case SME2K_VARIANT_F32: return SME2K_DTYPE_F32;
    case SME2K_VARIANT_F16:
    case SME2K_VARIANT_F16_ACC16: return SME2K_DTYPE_F16;
    case SME2K_VARIANT_QS8: return SME2K_DTYPE_INT8;
    default: return f.ConsumeBool() ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16;
  }
}

sme2k_dtype output_dtype(FuzzedDataProvider& f, sme2k_variant v) {
  if (f.ConsumeIntegralInRange<int>(0, 15) == 0) return enum_in<sme2k_dtype>(f, 1, 4);
  switch (v) {
    case SME2K_VARIANT_F32: return SME2K_DTYPE_F32;
    case SME2K_VARIANT_QS8: return SME2K_DTYPE_INT8;
    default: return f.ConsumeBool() ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider f(data, size);
  const sme2k_variant variant = enum_in<sme2k_variant>(f, 1, 7);
  const size_t n = size_in(f, 40), k = size_in(f, 96);
  Weights w;
  if (!pack_weights(f, variant, n, k, &w) || !w.ok) return 0;

  // A (M x K), C (M x N or N x M), epilogue, workspace, parallel-for.
  const size_t m = size_in(f, 24);
  if (too_much_work(m, n, k)) return 0;
  std::vector<float> arrays;
  std::vector<int8_t> table;
  const sme2k_epilogue e =
      f.ConsumeBool() ? sme2k_epilogue_default() : epilogue_from(f, n, &arrays, &table);
  const bool transposed = e.order == SME2K_OUTPUT_TRANSPOSED;
  const size_t c_rows = (transposed ? n : m) + (f.ConsumeIntegralInRange<int>(0, 31) == 0 ? 1 : 0);
  const size_t c_cols = transposed ? m : n;
  Matrix a, c;
  if (!make_matrix(f, m, k, input_dtype(f, variant), &a)) return 0;
  if (!make_matrix(f, c_rows, c_cols, output_dtype(f, variant), &c)) return 0;
  sme2k_parallel_for pf;
  const sme2k_parallel_for* parallel = parallel_from(f, &pf);
  size_t ws_bytes = 0;
  if (sme2k_gemm_workspace_size(variant, m, n, k, e.order, &ws_bytes, parallel) != SME2K_OK) {
    ws_bytes = 0;
  }
  if (ws_bytes > 0 && f.ConsumeIntegralInRange<int>(0, 15) == 0) --ws_bytes;
  Operand ws;
  if (!allocate(f, ws_bytes, false, &ws)) return 0;
  const Packed packed(f, w.packed.data(), w.packed.size());
  const Snapshot snap(c);
  const sme2k_status s = sme2k_gemm(variant, a.view(), packed.data(), packed.bytes, c.out(), &e,
                                    ws.bytes > 0 ? ws.data : nullptr, ws.bytes, parallel);
  check(s, !a.valid || !c.valid || packed.header_damaged, {&snap}, "gemm accepted invalid input");
  // F32 with no epilogue and intact weights: the plain reference, within a bound.
  if (s == SME2K_OK && !w.b_kxn.empty() && packed.bytes == w.packed.size() &&
      std::memcmp(packed.data(), w.packed.data(), packed.bytes) == 0 && e.activation == 0 &&
      e.affine_scale == nullptr && e.affine_shift == nullptr && !transposed &&
      std::isinf(e.clamp_min) && std::isinf(e.clamp_max) && a.dtype == SME2K_DTYPE_F32) {
    for (size_t i = 0; i < m; ++i) {
      for (size_t j = 0; j < n; ++j) {
        double want = w.bias[j], mag = std::fabs(want);
        for (size_t kk = 0; kk < k; ++kk) {
          const double p = double{f32_at(a, i, kk)} * w.b_kxn[kk * n + j];
          want += p;
          mag += std::fabs(p);
        }
        const double got = f32_at(c, i, j);
        if (std::fabs(got - want) > 1e-5 * mag + 1e-6)
          fail("gemm f32 differs from the reference", s);
      }
    }
  }
  return 0;
}
