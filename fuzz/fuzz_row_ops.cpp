// libFuzzer target: the LLM row ops of the C API, sme2k_rms_norm, sme2k_layer_norm and
// sme2k_rope: F32 and F16 rows with fuzzed shapes, lds and strides (sometimes overflowing,
// short or misaligned), in place or not, weights and biases present or not (sometimes
// misaligned), eps in and out of range; RoPE tensors in [B,S,H,D], [B,H,S,D] or fuzzed
// strides, both pairings, partial rotary_dim, positions in and out of the table. Beyond the
// invariants: a norm with eps > 0 gives finite rows; RoPE with unit (cos, sin) keeps every
// pair's length and leaves the elements past rotary_dim as they were.
#include <cmath>

#include "fuzz_common.hpp"

using namespace sme2k_fuzz;

namespace {

void norm(FuzzedDataProvider& f, const sme2k_parallel_for* parallel) {
  const bool rms = f.ConsumeBool();
  const sme2k_dtype dtype = f.ConsumeBool() ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16;
  const size_t rows = size_in(f, 40), cols = size_in(f, 300);
  Matrix x;
  if (!make_matrix(f, rows, cols, dtype, &x)) return;
  const bool in_place = f.ConsumeIntegralInRange<int>(0, 3) == 0;
  Matrix y_own;
  if (!in_place && !make_matrix(f, rows, cols, dtype, &y_own)) return;
  Matrix& y = in_place ? x : y_own;
  // weight and bias: cols floats each (when cols is possible), sometimes misaligned.
  const size_t held = cols <= 4096 ? cols : 1;
  Operand params;
  const bool misalign = f.ConsumeIntegralInRange<int>(0, 31) == 0;
  if (!allocate(f, 2 * held * sizeof(float), misalign, &params)) return;
  make_finite(&params, SME2K_DTYPE_F32);
  // (Rows longer than 4096 get no arrays: the op would read cols values from them.)
  const auto* w = reinterpret_cast<const float*>(params.data);
  const float* weight = held == cols && f.ConsumeBool() ? w : nullptr;
  const float* bias = held == cols && !rms && f.ConsumeBool() ? w + held : nullptr;
  static constexpr float kEps[] = {1e-5f, 1e-6f, 0.0f, 1.0f, -1e-5f, NAN, INFINITY, 1e-5f};
  const float eps = f.PickValueInArray(kEps);
  const Snapshot snap(y);
  const sme2k_status s = rms ? sme2k_rms_norm(x.view(), y.out(), weight, eps, parallel)
                             : sme2k_layer_norm(x.view(), y.out(), weight, bias, eps, parallel);
  const bool bad_arrays = (weight != nullptr || bias != nullptr) && misalign;
  check(s, !x.valid || !y.valid || bad_arrays || !(eps >= 0.0f) || !std::isfinite(eps), {&snap},
        rms ? "rms_norm accepted invalid input" : "layer_norm accepted invalid input");
  if (s != SME2K_OK || !(eps >= 1e-6f)) return;
  const size_t esize = dtype_bytes(dtype);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      if (!std::isfinite(element_at(y.data + (r * y.ld + c) * esize, dtype))) {
        fail("row norm: a non-finite output for finite rows and eps > 0", s);
      }
    }
  }
}

void rope(FuzzedDataProvider& f, const sme2k_parallel_for* parallel) {
  const sme2k_dtype dtype = f.ConsumeBool() ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16;
  const size_t esize = dtype_bytes(dtype);
  sme2k_rope_tensor t;
  std::memset(&t, 0, sizeof t);
  t.dtype = dtype;
  t.batch = f.ConsumeIntegralInRange<int>(0, 15) == 0 ? size_in(f, 3) : 1 + f.ConsumeBool();
  t.seq = size_in(f, 12);
  t.heads = size_in(f, 6);
  t.head_dim = size_in(f, 140);
  switch (f.ConsumeIntegralInRange<int>(0, 5)) {
    case 0:  // [B, H, S, D]
      t.seq_stride = t.head_dim;
      t.head_stride = mul_or_max(t.seq, t.head_dim);
      t.batch_stride = mul_or_max(t.heads, t.head_stride);
      break;
    case 1:  // fuzzed
      t.seq_stride = size_in(f, 600);
      t.head_stride = ld_for(f, t.head_dim);
      t.batch_stride = size_in(f, 4000);
      break;
    default:  // [B, S, H, D]
      t.head_stride = t.head_dim;
      t.seq_stride = mul_or_max(t.heads, t.head_dim);
      t.batch_stride = mul_or_max(t.seq, t.seq_stride);
      break;
  }
  size_t bytes = 0;
  const bool fits =
      strided_bytes({t.batch, t.seq, t.heads}, {t.batch_stride, t.seq_stride, t.head_stride},
                    t.head_dim, esize, &bytes);
  Operand data;
  const bool misalign = f.ConsumeIntegralInRange<int>(0, 63) == 0;
  if (!allocate(f, fits ? bytes : 64, misalign, &data)) return;
  make_finite(&data, dtype);
  t.data = data.data;
  // Tables of unit (cos, sin) pairs: [positions][rotary_dim / 2].
  size_t rotary = 2 * f.ConsumeIntegralInRange<size_t>(1, 70);
  if (f.ConsumeIntegralInRange<int>(0, 15) == 0) rotary = size_in(f, 300);  // odd, 0, too big
  const size_t table_rows = f.ConsumeIntegralInRange<size_t>(1, 24);
  const size_t half = rotary / 2;
  const size_t table_floats = table_rows * (half == 0 ? 1 : half);
  if (rotary > 4096 || table_floats * 4 > kMaxBytes) return;
  std::vector<float> cos_table(table_floats + 1), sin_table(table_floats + 1);
  for (size_t i = 0; i < table_floats; ++i) {
    const float angle = 0.37f * static_cast<float>(i % 97) - 3.0f;
    cos_table[i] = std::cos(angle);
    sin_table[i] = std::sin(angle);
  }
  const int table_misalign = f.ConsumeIntegralInRange<int>(0, 31) == 0 ? 1 : 0;
  const float* cs = reinterpret_cast<const float*>(
      reinterpret_cast<const uint8_t*>(cos_table.data()) + table_misalign);
  const float* sn = sin_table.data();
  // Positions: batch * seq values (usually in the table), or null with a first position.
  std::vector<int32_t> positions;
  const int32_t* pos = nullptr;
  size_t first = 0;
  bool positions_valid = true;
  const size_t n_pos = mul_or_max(t.batch, t.seq);
  if (f.ConsumeBool() && n_pos <= 4096) {
    positions.resize(n_pos);
    for (auto& p : positions) {
      p = f.ConsumeIntegralInRange<int>(0, 31) == 0
              ? f.ConsumeIntegral<int32_t>()
              : f.ConsumeIntegralInRange<int32_t>(0, static_cast<int32_t>(table_rows) - 1);
      positions_valid = positions_valid && p >= 0 && static_cast<size_t>(p) < table_rows;
    }
    pos = positions.data();
  } else {
    first = f.ConsumeIntegralInRange<int>(0, 15) == 0 ? size_in(f, 30)
                                                      : f.ConsumeIntegralInRange<size_t>(0, 4);
    positions_valid = first < table_rows && t.seq <= table_rows - first;
  }
  const sme2k_rope_pairing pairing = enum_in<sme2k_rope_pairing>(f, 1, 2);
  const Snapshot snap(data);
  const sme2k_status s = sme2k_rope(&t, cs, sn, table_rows, rotary, pairing, pos, first, parallel);
  const bool bad = !fits || misalign || table_misalign != 0 || !positions_valid || rotary == 0 ||
                   rotary % 2 != 0 || rotary > t.head_dim ||
                   (pairing != SME2K_ROPE_INTERLEAVED && pairing != SME2K_ROPE_HALF_SPLIT);
  check(s, bad, {&snap}, "rope accepted invalid input");
  if (s != SME2K_OK) return;
  // Each row: pair lengths kept, the elements past rotary_dim untouched.
  const double tol = dtype == SME2K_DTYPE_F16 ? 4e-3 : 4e-6;
  for (size_t b = 0; b < t.batch; ++b) {
    for (size_t q = 0; q < t.seq; ++q) {
      for (size_t h = 0; h < t.heads; ++h) {
        const size_t row = b * t.batch_stride + q * t.seq_stride + h * t.head_stride;
        const uint8_t* now = data.data + row * esize;
        const uint8_t* was = snap.copy.data() + row * esize;
        for (size_t i = 0; i < half; ++i) {
          const size_t a = pairing == SME2K_ROPE_INTERLEAVED ? 2 * i : i;
          const size_t c = pairing == SME2K_ROPE_INTERLEAVED ? 2 * i + 1 : i + half;
          const double x0 = element_at(was + a * esize, dtype),
                       y0 = element_at(was + c * esize, dtype);
          const double x1 = element_at(now + a * esize, dtype),
                       y1 = element_at(now + c * esize, dtype);
          const double r0 = std::sqrt(x0 * x0 + y0 * y0), r1 = std::sqrt(x1 * x1 + y1 * y1);
          if (!(std::fabs(r1 - r0) <= tol * (r0 + 1e-3))) {
            fail("rope: a pair's length changed", s);
          }
        }
        if (std::memcmp(now + rotary * esize, was + rotary * esize,
                        (t.head_dim - rotary) * esize) != 0) {
          fail("rope: an element past rotary_dim changed", s);
        }
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider f(data, size);
  sme2k_parallel_for pf;
  const sme2k_parallel_for* parallel = parallel_from(f, &pf);
  if (f.ConsumeIntegralInRange<int>(0, 2) == 0) {
    rope(f, parallel);
  } else {
    norm(f, parallel);
  }
  return 0;
}
