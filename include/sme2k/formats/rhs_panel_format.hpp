// Packed weights (the GEMM's B, K x N) as column panels with a bias row: the generic format
// behind rhs_f32p2vlx1bf32, rhs_f16p2vlx2bf32 and rhs_f16p4vlx1bf16 (SME2), rhs_f32p8x1bf32
// and rhs_f16p8x1bf32 (portable).
//
// A micro-kernel producing NR columns of C reads, per k, NR consecutive weights; packing
// puts them there once, offline, from either caller layout (K x N or N x K). The bias goes
// in front of each panel so that the SME2 kernel can start its accumulators from it (one
// outer product with a vector of ones) instead of adding it in the epilogue. Everything
// past N or K is zero, so kernels read whole panels without predicates.
//
// Payload (after the 64-byte PackedHeader), NR = Width::size(VL), kp = K rounded up to KR:
//
//   panel 0 (columns 0 .. NR-1)              panel 1 (NR .. 2NR-1)     ... ceil(N / NR) panels
//   +------------------------------------+  +-------------------+
//   | bias[0] ... bias[NR-1]     (Bias)  |  | bias[NR] ...      |   0 past N, all 0 without bias
//   +------------------------------------+  +-------------------+
//   | k-block 0: for n in panel:         |  |                   |
//   |   B[0][n] B[1][n] .. B[KR-1][n]    |  |      ...          |   KR consecutive k of column n
//   | k-block 1: B[KR][n] ..             |  |                   |
//   | ... kp / KR blocks        (Elem)   |  |                   |   0 past N and past K
//   +------------------------------------+  +-------------------+
//
// With KR = 1 (f32) a k-block is simply row k of B restricted to the panel: NR contiguous
// values, so element (k, n) of panel p sits at data + k * NR + (n - p * NR).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/formats/za_transpose.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/layout.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"

namespace sme2k {

template <class Elem, class Bias, class Width, size_t Kr>
struct RhsPanelFormat {
  using Element = Elem;
  using BiasElement = Bias;
  using PanelWidth = Width;
  static constexpr size_t kKr = Kr;

  /// Columns per panel.
  static constexpr size_t nr(size_t vl) { return Width::size(vl); }
  /// K padded to the k-block.
  static constexpr size_t kp(size_t k) { return round_up(k, Kr); }
  /// Bytes of one panel (bias row + kp x NR elements); valid once payload_bytes() succeeded.
  static constexpr size_t panel_bytes(size_t k, size_t vl) {
    return nr(vl) * sizeof(Bias) + kp(k) * nr(vl) * sizeof(Elem);
  }
  /// Offset in elements of (k, column j of the panel) from the panel's first element.
  static constexpr size_t element_offset(size_t k, size_t j, size_t vl) {
    return (k / Kr) * nr(vl) * Kr + j * Kr + k % Kr;
  }

  /// Payload bytes for N x K weights; false when that does not fit in size_t.
  static bool payload_bytes(size_t n, size_t k, size_t vl, size_t* bytes) {
    size_t per_panel = 0;
    size_t elements = 0;
    if (!checked_add(k, Kr - 1, &elements) || !checked_mul(elements / Kr * Kr, nr(vl), &elements) ||
        !checked_mul(elements, sizeof(Elem), &per_panel) ||
        !checked_add(per_panel, nr(vl) * sizeof(Bias), &per_panel)) {
      return false;
    }
    return checked_mul(ceil_div(n, nr(vl)), per_panel, bytes);
  }

  static const Bias* panel_bias(const void* payload, size_t panel, size_t k, size_t vl) {
    return reinterpret_cast<const Bias*>(static_cast<const uint8_t*>(payload) +
                                         panel * panel_bytes(k, vl));
  }
  static const Elem* panel_data(const void* payload, size_t panel, size_t k, size_t vl) {
    return reinterpret_cast<const Elem*>(panel_bias(payload, panel, k, vl) + nr(vl));
  }

  /// Packs B (K x N given as `layout`) and `bias` (N values of any type convertible to Bias
  /// through to_f32, or null for none) into `payload`, which holds payload_bytes(n, k, vl).
  /// Writes every byte, padding included.
  template <class BiasIn>
  static void pack(MatrixView<const Elem> b, RhsLayout layout, const BiasIn* bias, size_t vl,
                   void* payload) {
    const RhsShape shape = rhs_shape(b.rows, b.cols, layout);
    if (layout == RhsLayout::kKxN) {
      pack_from(shape.n, shape.k, [&](size_t kk, size_t j) { return b(kk, j); }, bias, vl, payload);
    } else {
      pack_from(shape.n, shape.k, [&](size_t kk, size_t j) { return b(j, kk); }, bias, vl, payload);
    }
  }

  /// The same for weights (k, j) = at(k, j) from anywhere (a convolution's kernel), walked
  /// column by column.
  template <class At, class BiasIn>
  static void pack_from(size_t n, size_t k, At&& at, const BiasIn* bias, size_t vl, void* payload) {
    const size_t width = nr(vl);
    for (size_t n0 = 0, p = 0; n0 < n; n0 += width, ++p) {
      const size_t cols = n - n0 < width ? n - n0 : width;
      auto* panel = static_cast<uint8_t*>(payload) + p * panel_bytes(k, vl);
      std::memset(panel, 0, panel_bytes(k, vl));
      if (bias != nullptr) {
        for (size_t j = 0; j < cols; ++j) {
          Bias value;
          if constexpr (std::is_same_v<BiasIn, Bias>) {
            value = bias[n0 + j];
          } else {
            value = convert_to<Bias>(to_f32(bias[n0 + j]));
          }
          std::memcpy(panel + j * sizeof(Bias), &value, sizeof value);
        }
      }
      Elem* data = reinterpret_cast<Elem*>(panel + width * sizeof(Bias));
      for (size_t j = 0; j < cols; ++j) {
        SME2K_UNROLL_8
        for (size_t kk = 0; kk < k; ++kk) data[element_offset(kk, j, vl)] = at(kk, n0 + j);
      }
    }
  }

#if SME2K_HAS_SME2_CODE
  /// One panel (columns [n0, n0 + NR) of B, zero past N and K) packed at run time in
  /// streaming mode, for B that changes every call (attention's K and V). The bias row is
  /// zeroed. N x K through ZA (a transpose of B's rows: formats/za_transpose.hpp); K x N by
  /// copying rows (KR = 1) or by zipping pairs of rows into k pairs (KR = 2, one SME2
  /// two-register ZIP per panel row). Clobbers ZA tiles 0 and 1.
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void pack_panel_sme2(
      MatrixView<const Elem> b, RhsLayout layout, size_t n0,
      void* panel) SME2K_STREAMING SME2K_INOUT_ZA {
    static_assert(
        sizeof(Bias) == 4 && sizeof(Elem) * Kr == 4 && Width::kScalesWithVl && Width::kUnits == 2,
        "2VL-column panels of 32-bit words behind a 32-bit bias row");
    const size_t vl = svcntsw();
    const size_t width = 2 * vl;
    const size_t n = layout == RhsLayout::kKxN ? b.cols : b.rows;
    const size_t k = layout == RhsLayout::kKxN ? b.rows : b.cols;
    const size_t cols = n - n0 < width ? n - n0 : width;
    svst1(svptrue_c32(), static_cast<float*>(panel), svcreate2(svdup_f32(0), svdup_f32(0)));
    Elem* data = reinterpret_cast<Elem*>(static_cast<uint8_t*>(panel) + width * sizeof(Bias));
    if (layout == RhsLayout::kNxK) {
      sme2::transpose_words_2vl<Kr>(MatrixView<const Elem>{&b(n0, 0), cols, k, b.ld}, data);
    } else if constexpr (Kr == 1) {
      const svcount_t in_n = svwhilelt_c32_u64(0, cols, 2);
      for (size_t kk = 0; kk < k; ++kk, data += width) {
        svst1(svptrue_c32(), reinterpret_cast<float*>(data),
              svld1_x2(in_n, reinterpret_cast<const float*>(&b(kk, n0))));
      }
    } else {
      const svbool_t in_n = svwhilelt_b16_u64(0, cols);
      for (size_t kk = 0; kk < k; kk += 2, data += 2 * width) {
        const auto* even = reinterpret_cast<const float16_t*>(&b(kk, n0));
        const svfloat16_t r0 = svld1(in_n, even);
        const svfloat16_t r1 =
            kk + 1 < k ? svld1(in_n, even + b.ld) : svdup_f16(static_cast<float16_t>(0));
        svst1(svptrue_c16(), reinterpret_cast<float16_t*>(data), svzip_f16_x2(svcreate2(r0, r1)));
      }
    }
  }
#endif

  /// The inverse of pack(), for tests: B as dense K x N and the bias (N values).
  static void unpack(const void* payload, size_t n, size_t k, size_t vl, Elem* b_kxn, Bias* bias) {
    const size_t width = nr(vl);
    for (size_t n0 = 0, p = 0; n0 < n; n0 += width, ++p) {
      const size_t cols = n - n0 < width ? n - n0 : width;
      const Elem* data = panel_data(payload, p, k, vl);
      std::memcpy(bias + n0, panel_bias(payload, p, k, vl), cols * sizeof(Bias));
      for (size_t kk = 0; kk < k; ++kk) {
        for (size_t j = 0; j < cols; ++j) b_kxn[kk * n + n0 + j] = data[element_offset(kk, j, vl)];
      }
    }
  }
};

}  // namespace sme2k
