// libFuzzer target: sme2k_batch_matmul with fuzzed batch, strides (0: broadcast; hostile:
// overflowing), shapes, layouts, epilogue, workspace and parallel-for.
#include "fuzz_common.hpp"

using namespace sme2k_fuzz;

namespace {
// Batch items of `m` at `stride` elements: (batch - 1) * stride + one item's extent, in bytes.
bool batch_bytes(size_t batch, size_t stride, const Matrix& m, size_t* bytes) {
  size_t one = 0, span = 0;
  if (batch == 0 || !extent_bytes(m.rows, m.cols, m.ld, dtype_bytes(m.dtype), &one)) return false;
  return !__builtin_mul_overflow(batch - 1, stride, &span) &&
         !__builtin_mul_overflow(span, dtype_bytes(m.dtype), &span) &&
         !__builtin_add_overflow(span, one, bytes) && *bytes <= static_cast<size_t>(PTRDIFF_MAX);
}

size_t stride_for(FuzzedDataProvider& f, const Matrix& m, bool broadcast_ok) {
  const size_t one = m.rows == 0 ? 0 : (m.rows - 1) * m.ld + m.cols;
  switch (f.ConsumeIntegralInRange<int>(0, 15)) {
    case 0: return broadcast_ok ? 0 : one;
    case 1: return size_in(f, 64);
    case 2: return one == 0 ? 0 : one - 1;
    default: return one + f.ConsumeIntegralInRange<size_t>(0, 5);
  }
}

// Replaces a matrix's buffer by one that holds all batch items (false: skip).
bool grow(FuzzedDataProvider& f, size_t batch, size_t stride, Matrix* m, bool* valid) {
  size_t bytes = 0;
  if (!batch_bytes(batch, stride, *m, &bytes)) {
    *valid = false;
    return true;
  }
  Operand big;
  if (!allocate(f, bytes, m->misaligned, &big)) return false;
  make_finite(&big, m->dtype);
  m->storage = std::move(big.storage);
  m->data = big.data;
  m->bytes = big.bytes;
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider f(data, size);
  const sme2k_variant variant = enum_in<sme2k_variant>(f, 1, 7);
  const size_t batch = size_in(f, 5), m = size_in(f, 20), n = size_in(f, 20), k = size_in(f, 40);
  if (too_much_work(batch, m, n, k)) return 0;
  const sme2k_rhs_layout layout = enum_in<sme2k_rhs_layout>(f, 1, 2);
  std::vector<float> arrays;
  std::vector<int8_t> table;
  const sme2k_epilogue e = epilogue_from(f, n, &arrays, &table);
  const bool transposed = e.order == SME2K_OUTPUT_TRANSPOSED;
  const sme2k_dtype in = variant == SME2K_VARIANT_F32 ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16;
  const sme2k_dtype out = f.ConsumeBool() ? in : SME2K_DTYPE_F32;
  Matrix a, b, c;
  if (!make_matrix(f, m, k, in, &a)) return 0;
  if (!make_matrix(f, layout == SME2K_RHS_NXK ? n : k, layout == SME2K_RHS_NXK ? k : n, in, &b)) {
    return 0;
  }
  if (!make_matrix(f, transposed ? n : m, transposed ? m : n, out, &c)) return 0;
  bool valid = a.valid && b.valid && c.valid && batch > 0;
  const size_t a_stride = stride_for(f, a, true), b_stride = stride_for(f, b, true);
  const size_t c_stride = stride_for(f, c, false);
  if (valid && (!grow(f, batch, a_stride, &a, &valid) || !grow(f, batch, b_stride, &b, &valid) ||
                !grow(f, batch, c_stride, &c, &valid))) {
    return 0;
  }
  sme2k_parallel_for pf;
  const sme2k_parallel_for* parallel = parallel_from(f, &pf);
  size_t ws_bytes = 0;
  if (sme2k_batch_matmul_workspace_size(variant, batch, m, n, k, e.order, &ws_bytes, parallel) !=
      SME2K_OK) {
    ws_bytes = 0;
  }
  Operand ws;
  if (!allocate(f, ws_bytes, false, &ws)) return 0;
  const Snapshot snap(c);
  const sme2k_status s =
      sme2k_batch_matmul(variant, batch, a.view(), a_stride, b.view(), layout, b_stride, c.out(),
                         c_stride, &e, ws.bytes > 0 ? ws.data : nullptr, ws.bytes, parallel);
  check(s, !valid, {&snap}, "batch_matmul accepted invalid input");
  return 0;
}
