// libFuzzer target: sme2k_softmax (f32 / f16 rows in and out, in place, an additive f32 mask
// of its own ld or one shared row, any scale) through the C API, with the shared operand rules
// of fuzz_common.hpp. Beyond the invariants: every accepted row is a distribution (values in
// [0, 1], summing to 1) or, fully masked, all zeros; a parallel run gives the serial run's bits.
#include <cmath>

#include "fuzz_common.hpp"

using namespace sme2k_fuzz;

namespace {

void serial_reversed(void*, size_t count, void (*task)(void*, size_t), void* context) {
  for (size_t i = count; i-- > 0;) task(context, i);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider f(data, size);
  const size_t rows = size_in(f, 12), cols = size_in(f, 300);
  const sme2k_dtype in = f.ConsumeBool() ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16;
  const sme2k_dtype out = f.ConsumeBool() ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16;
  Matrix x;
  if (!make_matrix(f, rows, cols, in, &x)) return 0;
  // Scores of any magnitude (the elements make_matrix wrote, times a power of two).
  const float gain = std::ldexp(1.0f, f.ConsumeIntegralInRange<int>(-4, 10));
  if (x.valid) {
    for (size_t i = 0; i < x.bytes / dtype_bytes(in); ++i) {
      const float v = element_at(x.data + i * dtype_bytes(in), in) * gain;
      if (in == SME2K_DTYPE_F32) {
        std::memcpy(x.data + 4 * i, &v, 4);
      } else {
        const uint16_t h = sme2k_f32_to_f16(v);
        std::memcpy(x.data + 2 * i, &h, 2);
      }
    }
  }
  const bool in_place = in == out && f.ConsumeIntegralInRange<int>(0, 3) == 0;
  Matrix y_own;
  if (!in_place && !make_matrix(f, rows, cols, out, &y_own)) return 0;
  Matrix& y = in_place ? x : y_own;
  sme2k_softmax_params p = {1.0f, nullptr, 0};
  static constexpr float kScales[] = {1.0f, 0.125f, 3.0f, 0.0f, -1.0f, INFINITY, NAN, 1e-30f};
  const size_t scale_pick = f.ConsumeIntegralInRange<size_t>(0, 15);
  p.scale = scale_pick < 8 ? kScales[scale_pick] : 1.0f;
  const bool bad_scale = !(p.scale > 0.0f) || !std::isfinite(p.scale);
  Matrix mask;
  if (f.ConsumeBool()) {
    // One row shared by all (mask_ld 0: the op reads cols values), or rows x cols of its own ld.
    const bool shared = f.ConsumeBool();
    if (shared) {
      mask.rows = 1, mask.cols = cols, mask.ld = cols, mask.dtype = SME2K_DTYPE_F32;
      if (!matrix_operand(f, 1, cols, cols, SME2K_DTYPE_F32, &mask)) return 0;
      make_finite(&mask, SME2K_DTYPE_F32);
    } else if (!make_matrix(f, rows, cols, SME2K_DTYPE_F32, &mask) || mask.ld == 0) {
      return 0;  // (ld 0 would ask for the shared row, which this allocation is not)
    }
    // Some entries -inf (a masked key), sometimes every one of them.
    if (mask.valid) {
      auto* m = reinterpret_cast<float*>(mask.data);
      const int every = f.ConsumeIntegralInRange<int>(0, 4);
      for (size_t i = 0; i < mask.bytes / 4; ++i) {
        if (every == 4 || (every != 0 && i % (every + 1) == 0)) m[i] = -INFINITY;
      }
    }
    p.mask = reinterpret_cast<const float*>(mask.data);
    p.mask_ld = shared ? 0 : mask.ld;
  }
  sme2k_parallel_for parallel = {nullptr, nullptr, 0};
  if (f.ConsumeBool()) {
    parallel.run = serial_reversed;
    parallel.max_tasks = f.ConsumeIntegralInRange<size_t>(0, 9);
  }
  const Snapshot snap(y);
  const sme2k_status code = sme2k_softmax(x.view(), y.out(), &p, &parallel);
  check(code, !x.valid || !y.valid || bad_scale || (p.mask != nullptr && !mask.valid), {&snap},
        "softmax accepted invalid input");
  if (code != SME2K_OK) return 0;
  // Each row: a distribution, or all zeros (every element masked).
  for (size_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (size_t c = 0; c < cols; ++c) {
      const float v = element_at(y.data + (r * y.ld + c) * dtype_bytes(out), out);
      if (!(v >= 0.0f && v <= 1.0f)) fail("softmax: an output outside [0, 1]", code);
      sum += v;
    }
    const double tol = out == SME2K_DTYPE_F16 ? 1e-3 * static_cast<double>(cols) + 1e-3 : 1e-3;
    if (sum != 0.0 && std::fabs(sum - 1.0) > tol) fail("softmax: a row does not sum to 1", code);
  }
  // Tasks give the serial bits (not in place: the input is gone).
  if (parallel.run != nullptr && !in_place) {
    std::vector<uint8_t> first(y.data, y.data + y.bytes);
    const sme2k_status s2 = sme2k_softmax(x.view(), y.out(), &p, nullptr);
    if (s2 != SME2K_OK || std::memcmp(first.data(), y.data, y.bytes) != 0) {
      fail("softmax: a parallel run differs from the serial one", code);
    }
  }
  return 0;
}
