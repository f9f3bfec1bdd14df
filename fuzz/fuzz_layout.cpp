// libFuzzer target: the layout transforms, sme2k_transpose (fuzzed shapes, strides, dtypes,
// misalignment) and sme2k_convert_layout (NCHW <-> NHWC, hostile dimensions). Results are
// checked element by element.
#include "fuzz_common.hpp"

using namespace sme2k_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider f(data, size);
  const sme2k_dtype dtype = enum_in<sme2k_dtype>(f, 1, 4);
  const size_t es = dtype_bytes(dtype);
  sme2k_parallel_for pf;
  const sme2k_parallel_for* parallel = parallel_from(f, &pf);
  if (f.ConsumeBool()) {
    const size_t rows = size_in(f, 70), cols = size_in(f, 70);
    Matrix src, dst;
    if (!make_matrix(f, rows, cols, dtype, &src)) return 0;
    if (!make_matrix(f, cols + (f.ConsumeIntegralInRange<int>(0, 31) == 0 ? 1 : 0), rows, dtype,
                     &dst)) {
      return 0;
    }
    const Snapshot snap(dst);
    const sme2k_status s = sme2k_transpose(src.view(), dst.out(), parallel);
    check(s, !src.valid || !dst.valid, {&snap}, "transpose accepted invalid input");
    if (s == SME2K_OK) {
      for (size_t r = 0; r < rows; ++r) {
        for (size_t c = 0; c < cols; ++c) {
          if (std::memcmp(src.data + (r * src.ld + c) * es, dst.data + (c * dst.ld + r) * es, es) !=
              0) {
            fail("transpose moved an element wrongly", s);
          }
        }
      }
    }
    return 0;
  }
  const size_t n = size_in(f, 3), c = size_in(f, 17), h = size_in(f, 9), w = size_in(f, 9);
  const sme2k_tensor_layout from = enum_in<sme2k_tensor_layout>(f, 1, 2);
  const sme2k_tensor_layout to = enum_in<sme2k_tensor_layout>(f, 1, 2);
  size_t count = 0;
  const bool fits =
      n > 0 && c > 0 && h > 0 && w > 0 && !__builtin_mul_overflow(n, c, &count) &&
      !__builtin_mul_overflow(count, h, &count) && !__builtin_mul_overflow(count, w, &count) &&
      !__builtin_mul_overflow(count, es, &count) && count <= static_cast<size_t>(PTRDIFF_MAX);
  const bool misalign = es > 1 && f.ConsumeIntegralInRange<int>(0, 63) == 0;
  Operand src, dst;
  if (!allocate(f, fits ? count : 64, misalign, &src)) return 0;
  if (!allocate(f, fits ? count : 64, false, &dst)) return 0;
  const Snapshot snap(dst);
  const sme2k_status s =
      sme2k_convert_layout(src.data, from, dst.data, to, dtype, n, c, h, w, parallel);
  check(s, !fits || misalign, {&snap}, "convert_layout accepted invalid input");
  if (s == SME2K_OK) {
    const auto at = [&](sme2k_tensor_layout l, size_t b, size_t ch, size_t y, size_t x) {
      return l == SME2K_LAYOUT_NCHW ? ((b * c + ch) * h + y) * w + x
                                    : ((b * h + y) * w + x) * c + ch;
    };
    for (size_t b = 0; b < n; ++b)
      for (size_t ch = 0; ch < c; ++ch)
        for (size_t y = 0; y < h; ++y)
          for (size_t x = 0; x < w; ++x)
            if (std::memcmp(src.data + at(from, b, ch, y, x) * es,
                            dst.data + at(to, b, ch, y, x) * es, es) != 0) {
              fail("convert_layout moved an element wrongly", s);
            }
  }
  return 0;
}
