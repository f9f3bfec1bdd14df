// What the QD8-family GEMM suites (qd8, qc4w, qb4w_gemm_test.cpp) share: the activation rows
// of every kind the per-row quantization meets, 4-bit weights as a caller holds them, and the
// check of C against the reference element by element: within the float epilogue's bound of
// the exact QD8 result, close to the float GEMM of the unquantized A (the quantization error)
// where no stage follows, and nothing written between the rows of C.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "harness/abi_check.hpp"
#include "harness/guarded_buffer.hpp"
#include "reference/gemm.hpp"
#include "sme2k/sme2k.hpp"
#include "testers/gemm_tester.hpp"

namespace sme2k {
namespace test {

/// Row values of every kind the quantization meets.
enum class Rows : uint8_t {
  kMixed,     // random signs, ~[-1, 1)
  kPositive,  // all >= 0: the zero point at -128
  kNegative,  // all <= 0: the zero point at 127
  kZero,      // all 0: the smallest scale
  kScaled,    // each row its own magnitude, 10^-decades to 10^decades
};

/// `decades`: kScaled rows span 10^-decades .. 10^decades (f16 holds 4, f32 30).
inline float row_value(Rows kind, ValueStream& r, size_t row, int decades = 30) {
  const float x = r.next();
  switch (kind) {
    case Rows::kMixed: return x;
    case Rows::kPositive: return std::fabs(x);
    case Rows::kNegative: return -std::fabs(x);
    case Rows::kZero: return 0.0f;
    case Rows::kScaled: {
      const int span = 2 * decades + 1;
      return x * std::pow(10.0f, static_cast<float>(static_cast<int>(row) % span - decades));
    }
  }
  return x;
}

template <class T>
T from_f32(float x) {
  if constexpr (std::is_same_v<T, f16>) {
    return to_f16(x);
  } else {
    return x;
  }
}

template <class T>
const char* type_name() {
  return std::is_same_v<T, f16> ? "f16" : "f32";
}

// The 4-bit values of B.
enum class Weights : uint8_t {
  kRandom,       // uniform in -8..7
  kAllMinus8,    // the most negative value everywhere
  kAllPlus7,     // the most positive value everywhere
  kAlternating,  // -8, 7, -8, 7, ... along every row, shifted by one each row
};

inline const char* weights_name(Weights w) {
  switch (w) {
    case Weights::kRandom: return "random";
    case Weights::kAllMinus8: return "all-8";
    case Weights::kAllPlus7: return "all7";
    case Weights::kAlternating: return "alternating";
  }
  return "?";
}

inline const char* storage_name(Int4Storage s) {
  switch (s) {
    case Int4Storage::kNibbles: return "nibbles";
    case Int4Storage::kInt8: return "int8";
  }
  return "?";
}

/// rows x cols values in -8..7, dense.
inline std::vector<int8_t> make_values(Weights w, size_t rows, size_t cols, ValueStream& r) {
  std::vector<int8_t> v(rows * cols);
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < cols; ++j) {
      int8_t x = 0;
      switch (w) {
        case Weights::kRandom: x = static_cast<int8_t>(static_cast<int>(r.below(16)) - 8); break;
        case Weights::kAllMinus8: x = -8; break;
        case Weights::kAllPlus7: x = 7; break;
        case Weights::kAlternating: x = (i + j) % 2 == 0 ? -8 : 7; break;
      }
      v[i * cols + j] = x;
    }
  }
  return v;
}

inline std::vector<int8_t> transpose(const std::vector<int8_t>& v, size_t rows, size_t cols) {
  std::vector<int8_t> t(v.size());
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < cols; ++j) t[j * rows + i] = v[i * cols + j];
  }
  return t;
}

/// 4-bit weights as a caller holds them: `rows` rows of `cols` values in `storage`, each row
/// `ld` bytes apart (its bytes, then `pad` bytes of 0xAA garbage), the last row flush against
/// a guard page.
struct Int4Weights {
  size_t rows = 0, cols = 0, ld = 0;
  Int4Storage storage = Int4Storage::kNibbles;
  GuardedArray<uint8_t> bytes;

  Int4View view() const { return Int4View{bytes.data(), rows, cols, ld, storage}; }
};

inline Int4Weights store_int4(const std::vector<int8_t>& values, size_t rows, size_t cols,
                              Int4Storage storage, size_t pad) {
  Int4Weights w;
  w.rows = rows, w.cols = cols, w.storage = storage;
  const size_t row_bytes = storage == Int4Storage::kNibbles ? cols / 2 : cols;
  w.ld = row_bytes + pad;
  w.bytes = GuardedArray<uint8_t>((rows - 1) * w.ld + row_bytes);
  w.bytes.fill(0xAA);
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < cols; ++j) {
      const auto bits = static_cast<uint8_t>(values[i * cols + j]);
      if (storage == Int4Storage::kInt8) {
        w.bytes[i * w.ld + j] = bits;
      } else {
        uint8_t& byte = w.bytes[i * w.ld + j / 2];
        byte = j % 2 == 0 ? static_cast<uint8_t>((byte & 0xF0u) | (bits & 0x0Fu))
                          : static_cast<uint8_t>((byte & 0x0Fu) | ((bits & 0x0Fu) << 4));
      }
    }
  }
  return w;
}

inline bool nibbles_allowed(size_t cols) { return cols % 2 == 0; }

/// The step of the SME2 tile the tails are taken around: 2 VL (VL = 4 without SME).
inline size_t qd8_tile_step() {
  const size_t vl = streaming_vl();
  return 2 * (vl != 0 ? vl : 4);
}

/// The float stages of a case's epilogue (the clamp, when on, is [-0.75, 0.5]).
struct FloatStages {
  Activation activation = Activation::kNone;
  const float* scale = nullptr;  // with shift: the affine, or null
  const float* shift = nullptr;
  bool clamp = false;
};

inline GemmEpilogue make_epilogue(const FloatStages& stages, bool transposed) {
  GemmEpilogue e;
  e.activation = stages.activation;
  if (stages.scale != nullptr) e.affine = {stages.scale, stages.shift};
  if (stages.clamp) e.clamp = {-0.75f, 0.5f};
  e.order = transposed ? OutputOrder::kTransposed : OutputOrder::kRowMajor;
  return e;
}

/// One element of the exact result before the float stages.
struct Qd8Want {
  double value = 0;               // the exact QD8 result on the quantized rows
  double magnitude = 0;           // for rounding bounds
  double float_value = 0;         // the float GEMM of the unquantized A
  double quantization_error = 0;  // bound of |value - float_value|
  double accumulation_bound = 0;  // the kernels' rounding of `value`
};

/// Checks C (m x n, or n x m when transposed, leading dimension ldc, the gaps holding 77)
/// against want(i, j) -> Qd8Want through the float stages; at most 8 failures reported.
template <class Out, class Want>
void check_qd8_c(const GuardedArray<Out>& c, size_t m, size_t n, size_t ldc, bool transposed,
                 size_t k, const FloatStages& s, Want&& want) {
  reference::GemmF32Problem stages;  // the float epilogue after the dequantization
  stages.k = k;
  stages.activation = s.activation;
  stages.scale = s.scale;
  stages.shift = s.shift;
  stages.clamp = s.clamp;
  stages.clamp_min = -0.75f, stages.clamp_max = 0.5f;
  const bool no_stages = s.activation == Activation::kNone && s.scale == nullptr && !s.clamp;
  size_t failures = 0;
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      const Qd8Want w = want(i, j);
      const size_t at = transposed ? j * ldc + i : i * ldc + j;
      const double got = to_f32(c[at]);
      const double exact = reference::finish(stages, w.value, j);
      double bound = reference::f32_epilogue_bound(stages, j, w.value, w.magnitude, exact,
                                                   w.accumulation_bound);
      if (std::is_same_v<Out, f16>) bound = reference::f16_rounding_bound(exact, bound);
      if (!(std::fabs(got - exact) <= bound) && failures++ < 8) {
        ADD_FAILURE() << "C(" << i << ", " << j << ") = " << got << ", want " << exact << " within "
                      << bound << " (off by " << std::fabs(got - exact) << ")";
      }
      // And the whole point of it: close to the float GEMM of the unquantized A.
      if (no_stages) {
        const double slack = w.quantization_error + bound + std::fabs(exact) * 1e-6;
        if (!(std::fabs(got - w.float_value) <= slack) && failures++ < 8) {
          ADD_FAILURE() << "C(" << i << ", " << j << ") = " << got << ", float GEMM "
                        << w.float_value << " beyond the quantization error " << slack;
        }
      }
    }
  }
  EXPECT_EQ(failures, 0u);
  // Nothing written between the rows of C (or columns, transposed).
  const size_t c_rows = transposed ? n : m, c_cols = transposed ? m : n;
  for (size_t i = 0; i + 1 < c_rows; ++i) {
    for (size_t j = c_cols; j < ldc; ++j) {
      ASSERT_EQ(to_f32(c[i * ldc + j]), 77.0f) << "gap (" << i << ", " << j << ") written";
    }
  }
}

/// gemm() on activations packed by gemm_pack_lhs() writes what gemm() on A wrote (`c`), bit
/// for bit, gaps included; for QD8 the packed bytes are also the format's plain packer's.
template <class V, class In, class Out>
void check_packed_lhs_gives_the_same(MatrixView<const In> a, const void* packed_rhs,
                                     size_t packed_rhs_bytes, const GuardedArray<Out>& c,
                                     size_t c_rows, size_t c_cols, size_t ldc,
                                     const GemmEpilogue& e, size_t ws, Path path) {
  size_t bytes = 0;
  Status s;
  SME2K_EXPECT_ABI_PRESERVED(s = gemm_packed_lhs_size<V>(a.rows, a.cols, &bytes));
  ASSERT_TRUE(s.ok()) << s.message();
  GuardedBuffer packed(bytes, GuardSide::kEnd, 64);
  SME2K_EXPECT_ABI_PRESERVED(s = gemm_pack_lhs<V>(a, packed.data(), bytes));
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_STREQ(path_name(last_used_path()), path_name(path));
  if constexpr (std::is_same_v<V, QD8>) {
    std::vector<uint8_t> want(bytes - kPackedHeaderBytes);
    if (path == Path::kPortable) {
      LhsQd8p1x1::pack(a, want.data());
    } else {
      const size_t vl = streaming_vl();
      const size_t mr = LhsQd8p2vlx4::mr(vl), panel = LhsQd8p2vlx4::panel_bytes(a.cols, vl);
      for (size_t m0 = 0; m0 < a.rows; m0 += mr) {
        LhsQd8p2vlx4::pack_panel<In>({&a(m0, 0), std::min(mr, a.rows - m0), a.cols, a.ld}, vl,
                                     want.data() + m0 / mr * panel);
      }
    }
    ASSERT_EQ(std::memcmp(packed.data() + kPackedHeaderBytes, want.data(), want.size()), 0);
  }

  GuardedArray<Out> c2(c.size());
  std::memcpy(c2.data(), c.data(), c.size() * sizeof(Out));  // the gaps too
  GuardedBuffer workspace(ws);
  SME2K_EXPECT_ABI_PRESERVED(
      s = gemm<V, Out>(PackedLhs{packed.data(), bytes}, packed_rhs, packed_rhs_bytes,
                       MatrixView<Out>{c2.data(), c_rows, c_cols, ldc}, e, workspace.data(), ws));
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_STREQ(path_name(last_used_path()), path_name(path));
  EXPECT_EQ(std::memcmp(c2.data(), c.data(), c.size() * sizeof(Out)), 0)
      << "gemm on packed activations differs from gemm on A";
  EXPECT_TRUE(packed.canary_intact() && c2.canary_intact() && workspace.canary_intact());
}

}  // namespace test
}  // namespace sme2k
