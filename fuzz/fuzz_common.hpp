// What every libFuzzer target over the C API (include/sme2k.h) shares: sizes drawn from the
// input (mostly small, sometimes hostile: 0, SIZE_MAX, 2^61, ld < cols), caller buffers
// allocated to exactly the bytes the call may touch (so AddressSanitizer sees any read or
// write past them), sometimes misaligned, and the two invariants checked after every call:
//   - a call whose operands cannot be valid (empty, ld < cols, an extent that overflows, a
//     misaligned f32/f16/int32 pointer) is refused;
//   - a refused call leaves every output byte as it was.
// A violated invariant aborts (libFuzzer saves the input); sanitizers catch the rest.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>
#include <sme2k.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace sme2k_fuzz {

/// The most bytes one operand may take: bigger valid shapes are skipped, not allocated.
constexpr size_t kMaxBytes = size_t{1} << 18;

/// The most multiply-adds a call may do (a broadcast batch of 65536 items is valid and slow):
/// beyond it the call is skipped, so one input stays well under a second with ASan.
constexpr double kMaxWork = double(1 << 22);
inline bool too_much_work(double a, double b, double c, double d = 1.0) {
  return a * b * c * d > kMaxWork;
}

[[noreturn]] inline void fail(const char* what, sme2k_status s) {
  std::fprintf(stderr, "sme2k fuzz: %s (status %s: %s)\n", what, sme2k_status_string(s),
               sme2k_last_error_message());
  std::abort();
}

inline size_t dtype_bytes(sme2k_dtype d) {
  switch (d) {
    case SME2K_DTYPE_F32: return 4;
    case SME2K_DTYPE_F16: return 2;
    case SME2K_DTYPE_INT8: return 1;
    case SME2K_DTYPE_INT32: return 4;
    default: return 1;
  }
}

/// The f32 or f16 element at p (any alignment), as a float.
inline float element_at(const uint8_t* p, sme2k_dtype dtype) {
  if (dtype == SME2K_DTYPE_F32) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return sme2k_f16_to_f32(h);
}

/// a * b, or SIZE_MAX when it wraps (a stride derived from hostile sizes stays hostile).
inline size_t mul_or_max(size_t a, size_t b) {
  size_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}

/// A size: usually in [1, small_max], sometimes 0 or a hostile value.
inline size_t size_in(FuzzedDataProvider& f, size_t small_max) {
  static constexpr size_t kHostile[] = {SIZE_MAX,
                                        SIZE_MAX / 2,
                                        SIZE_MAX / 4 + 1,
                                        size_t{1} << 32,
                                        size_t{1} << 61,
                                        size_t{1} << 62,
                                        static_cast<size_t>(PTRDIFF_MAX),
                                        size_t{1} << 24,
                                        32768,
                                        65536};
  switch (f.ConsumeIntegralInRange<int>(0, 31)) {
    case 0: return 0;
    case 1: return f.PickValueInArray(kHostile);
    default: return f.ConsumeIntegralInRange<size_t>(1, small_max);
  }
}

/// A leading dimension for `cols` columns: cols, a bit more, too small, or hostile.
inline size_t ld_for(FuzzedDataProvider& f, size_t cols) {
  switch (f.ConsumeIntegralInRange<int>(0, 15)) {
    case 0: return cols == 0 ? 0 : cols - 1;
    case 1: return size_in(f, 64);
    case 2:
    case 3: return cols + f.ConsumeIntegralInRange<size_t>(1, 9);
    default: return cols;
  }
}

/// (rows - 1) * ld + cols elements of `esize` bytes, or false when empty, short or overflowing.
inline bool extent_bytes(size_t rows, size_t cols, size_t ld, size_t esize, size_t* bytes) {
  size_t span = 0;
  if (rows == 0 || cols == 0 || ld < cols) return false;
  if (__builtin_mul_overflow(rows - 1, ld, &span) || __builtin_add_overflow(span, cols, &span) ||
      __builtin_mul_overflow(span, esize, bytes) || *bytes > static_cast<size_t>(PTRDIFF_MAX)) {
    return false;
  }
  return true;
}

/// Bytes of rows of `row` elements at sum_i k_i * stride_i (k_i < count_i, three dimensions:
/// attention's and RoPE's tensors), or false when a count is 0 or the extent overflows.
inline bool strided_bytes(const size_t (&count)[3], const size_t (&stride)[3], size_t row,
                          size_t esize, size_t* bytes) {
  size_t e = row, part = 0;
  if (row == 0) return false;
  for (int i = 0; i < 3; ++i) {
    if (count[i] == 0 || __builtin_mul_overflow(count[i] - 1, stride[i], &part) ||
        __builtin_add_overflow(e, part, &e)) {
      return false;
    }
  }
  return extent_bytes(1, e, e, esize, bytes);
}

/// One caller buffer, allocated to exactly its bytes (plus a misalignment offset), filled from
/// the input; `valid` false: the operand cannot be valid (the call must be refused).
struct Operand {
  std::unique_ptr<uint8_t[]> storage;
  uint8_t* data = nullptr;
  size_t bytes = 0;
  bool valid = true;
  bool misaligned = false;
};

/// Allocates `bytes` (kMaxBytes at most: false to skip the call), offset by 1 when
/// `misalign`, contents from the input (the rest of the bytes a ramp).
inline bool allocate(FuzzedDataProvider& f, size_t bytes, bool misalign, Operand* op) {
  if (bytes > kMaxBytes) return false;
  const size_t offset = misalign ? 1 : 0;
  op->storage.reset(new uint8_t[bytes + offset]);
  op->data = op->storage.get() + offset;
  op->bytes = bytes;
  const std::vector<uint8_t> fill =
      f.ConsumeBytes<uint8_t>(f.ConsumeIntegralInRange<size_t>(0, bytes));
  for (size_t i = 0; i < bytes; ++i) {
    op->data[i] = i < fill.size() ? fill[i] : static_cast<uint8_t>(i * 37 + 11);
  }
  return true;
}

/// A matrix operand of `dtype`: exact extent when valid, a 64-byte dummy when it cannot be.
/// Finite float contents when `finite_floats` (weights and scales must be finite to pack).
inline bool matrix_operand(FuzzedDataProvider& f, size_t rows, size_t cols, size_t ld,
                           sme2k_dtype dtype, Operand* op) {
  size_t bytes = 0;
  const size_t esize = dtype_bytes(dtype);
  const bool misalign = esize > 1 && f.ConsumeIntegralInRange<int>(0, 63) == 0;
  if (!extent_bytes(rows, cols, ld, esize, &bytes)) {
    op->valid = false;
    return allocate(f, 64, misalign, op);
  }
  op->misaligned = misalign;
  op->valid = !misalign;
  return allocate(f, bytes, misalign, op);
}

/// Floats that are finite (and, with `positive`, in [2^-8, 4]): scales, biases, inputs.
inline void finite_floats(FuzzedDataProvider& f, float* v, size_t count, bool positive) {
  for (size_t i = 0; i < count; ++i) {
    const float x = static_cast<float>(f.ConsumeIntegralInRange<int>(-64, 64)) / 16.0f;
    v[i] = positive ? 0.00390625f + (x < 0 ? -x : x) / 16.0f : x;
  }
}

/// Rewrites an operand's f32 or f16 elements as small finite values (from their first byte),
/// so that packing's finiteness checks pass and results can be compared.
inline void make_finite(Operand* op, sme2k_dtype dtype) {
  const size_t esize = dtype_bytes(dtype);
  if (dtype != SME2K_DTYPE_F32 && dtype != SME2K_DTYPE_F16) return;
  for (size_t i = 0; i + esize <= op->bytes; i += esize) {
    const float v = static_cast<float>(static_cast<int8_t>(op->data[i])) / 16.0f;
    if (dtype == SME2K_DTYPE_F32) {
      std::memcpy(op->data + i, &v, 4);
    } else {
      const uint16_t h = sme2k_f32_to_f16(v);
      std::memcpy(op->data + i, &h, 2);
    }
  }
}

/// A matrix operand with the shape and ld it was made for.
struct Matrix : Operand {
  size_t rows = 0, cols = 0, ld = 0;
  sme2k_dtype dtype = SME2K_DTYPE_F32;
  sme2k_matrix view() const { return {data, rows, cols, ld, dtype}; }
  sme2k_mutable_matrix out() { return {data, rows, cols, ld, dtype}; }
};

/// rows x cols of `dtype` with a fuzzed ld, finite float contents; false: skip (too big).
inline bool make_matrix(FuzzedDataProvider& f, size_t rows, size_t cols, sme2k_dtype dtype,
                        Matrix* m) {
  m->rows = rows;
  m->cols = cols;
  m->ld = ld_for(f, cols);
  m->dtype = dtype;
  if (!matrix_operand(f, rows, cols, m->ld, dtype, m)) return false;
  make_finite(m, dtype);
  return true;
}

/// Snapshot of output bytes: a refused call must leave them as they were.
struct Snapshot {
  const uint8_t* data;
  std::vector<uint8_t> copy;
  explicit Snapshot(const Operand& op) : data(op.data), copy(op.data, op.data + op.bytes) {}
  bool unchanged() const { return std::memcmp(data, copy.data(), copy.size()) == 0; }
};

/// The invariants after a call: refused when it had to be, outputs untouched when refused.
inline void check(sme2k_status s, bool must_refuse, std::initializer_list<const Snapshot*> outs,
                  const char* what) {
  if (must_refuse && s == SME2K_OK) fail(what, s);
  if (s != SME2K_OK) {
    for (const Snapshot* o : outs) {
      if (!o->unchanged()) fail("a refused call wrote its output", s);
    }
  }
}

/// Serial tasks, as a runtime's pool would run them (any order is allowed; this one is
/// reversed), with max_tasks from the input.
inline void run_reversed(void*, size_t count, void (*task)(void*, size_t), void* context) {
  for (size_t i = count; i-- > 0;) task(context, i);
}

inline const sme2k_parallel_for* parallel_from(FuzzedDataProvider& f, sme2k_parallel_for* pf) {
  if (f.ConsumeBool()) return nullptr;
  pf->run = run_reversed;
  pf->context = nullptr;
  pf->max_tasks = f.ConsumeIntegralInRange<size_t>(0, 9);
  return pf;
}

/// An enum value: usually a valid one of [lo, hi], sometimes anything.
template <class E>
E enum_in(FuzzedDataProvider& f, int lo, int hi) {
  if (f.ConsumeIntegralInRange<int>(0, 31) == 0)
    return static_cast<E>(f.ConsumeIntegral<int32_t>());
  return static_cast<E>(f.ConsumeIntegralInRange<int>(lo, hi));
}

/// An epilogue: default, or with an activation, clamp, order and (sometimes) arrays of `n`
/// values (held in `arrays`).
inline sme2k_epilogue epilogue_from(FuzzedDataProvider& f, size_t n, std::vector<float>* arrays,
                                    std::vector<int8_t>* table) {
  sme2k_epilogue e = sme2k_epilogue_default();
  if (f.ConsumeBool()) return e;
  e.activation = enum_in<sme2k_activation>(f, 0, 5);
  e.order = enum_in<sme2k_output_order>(f, 0, 1);
  if (f.ConsumeBool()) {
    e.clamp_min = static_cast<float>(f.ConsumeIntegralInRange<int>(-8, 2));
    e.clamp_max = static_cast<float>(f.ConsumeIntegralInRange<int>(-2, 8));
  }
  e.quantized_min = f.ConsumeIntegralInRange<int32_t>(-130, 20);
  e.quantized_max = f.ConsumeIntegralInRange<int32_t>(-20, 130);
  if (n <= 4096 && f.ConsumeBool()) {
    arrays->assign(4 * n, 0.0f);
    finite_floats(f, arrays->data(), arrays->size(), false);
    if (f.ConsumeBool()) {
      e.affine_scale = arrays->data();
      e.affine_shift = f.ConsumeBool() ? arrays->data() + n : nullptr;
    } else {
      e.int8_affine_scale = arrays->data() + 2 * n;
      e.int8_affine_shift = f.ConsumeBool() ? arrays->data() + 3 * n : nullptr;
      e.int8_affine_zero_point = f.ConsumeIntegralInRange<int32_t>(-130, 130);
      e.int8_affine_min = f.ConsumeIntegralInRange<int32_t>(-130, 0);
      e.int8_affine_max = f.ConsumeIntegralInRange<int32_t>(0, 130);
    }
  }
  if (f.ConsumeBool()) {
    table->resize(256);
    for (auto& t : *table) t = f.ConsumeIntegral<int8_t>();
    e.int8_table = table->data();
  }
  return e;
}

/// Sometimes damages a packed buffer as a file or cache could: one flipped bit (header or
/// payload), or a shorter size. Returns the size to pass; *header_damaged when the header
/// changed (the call must then be refused).
inline size_t damage(FuzzedDataProvider& f, uint8_t* packed, size_t bytes, bool* header_damaged) {
  *header_damaged = false;
  switch (f.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: {
      const size_t bit = f.ConsumeIntegralInRange<size_t>(0, bytes * 8 - 1);
      packed[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      *header_damaged = bit < 64 * 8;
      return bytes;
    }
    case 1: return f.ConsumeIntegralInRange<size_t>(0, bytes);
    default: return bytes;
  }
}

/// A packed buffer as a runtime would pass it after loading: maybe damaged, copied into an
/// allocation of exactly the size passed (so a read past that size is seen).
struct Packed {
  std::unique_ptr<uint8_t[]> storage;
  size_t bytes = 0;
  bool header_damaged = false;
  Packed(FuzzedDataProvider& f, const uint8_t* packed, size_t full) {
    std::vector<uint8_t> copy(packed, packed + full);
    bytes = full == 0 ? 0 : damage(f, copy.data(), full, &header_damaged);
    storage.reset(new uint8_t[bytes == 0 ? 1 : bytes]);
    std::memcpy(storage.get(), copy.data(), bytes);
  }
  const uint8_t* data() const { return storage.get(); }
};

}  // namespace sme2k_fuzz
