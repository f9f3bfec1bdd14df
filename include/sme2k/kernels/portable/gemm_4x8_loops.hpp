// The portable GEMM micro-kernel machinery, in plain C++: the fallback on every CPU without
// SME2, with the same op contract as the SME2 kernels, one template for every float variant.
//
// 4 x 8 outputs per pass: 32 f32 accumulators fit the 16 128-bit registers of SSE and the 32
// of NEON next to the operands, and compilers vectorise the 8-wide inner loop on both. A is
// read where it lies (row-major, lda), f16 widened on the fly: with 4 rows per pass there is
// no column gather worth a packing pass. B comes as 8-column panels with an f32 bias row
// first, so the accumulators start from the bias. Output is f32 or f16 (rounded to nearest
// even once, at the store).
#pragma once

#include <cstddef>
#include <string_view>
#include <type_traits>

#include "sme2k/epilogue/ops.hpp"
#include "sme2k/formats/row_major_lhs.hpp"
#include "sme2k/kernels/kernel_queries.hpp"
#include "sme2k/types/bf16.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/quantization.hpp"

namespace sme2k {

/// Whether a panel format holds 4-bit weights two a byte (it has weights_at()).
template <class F, class = void>
inline constexpr bool kNibbles = false;
template <class F>
inline constexpr bool kNibbles<F, std::void_t<decltype(&F::weights_at)>> = true;

template <class LhsElem, class Rhs>
struct GemmPortable4x8Loops : KernelQueries<RowMajorLhs<LhsElem>, Rhs, FixedExtent<4>> {
  using Queries = KernelQueries<RowMajorLhs<LhsElem>, Rhs, FixedExtent<4>>;
  using Queries::mr;
  using Queries::nr;
  using LhsFormat = RowMajorLhs<LhsElem>;
  using RhsFormat = Rhs;
  static_assert(Rhs::kKr == 1 && Rhs::PanelWidth::kUnits == 8 && !Rhs::PanelWidth::kScalesWithVl,
                "the portable kernel reads 8-column panels, one k per row");

  /// C[0, m) x [n_begin, n_end) = epilogue(bias + A * B). n_begin is a multiple of nr().
  /// @param[in] a            (m, k) row-major, row stride lda
  /// @param[in] rhs_payload  RhsFormat payload of all N columns
  /// @param[in] plan         activation, affine, clamp, order
  /// @param[out] c           f32 or f16: C (m, n_end) row-major, or C^T (n_end, m) with
  ///                         plan.transposed; stride ldc
  /// @param[in] row_params   QD8 (Qd8ChannelParams weights): the m rows' quantization
  template <class Out>
  static void run(size_t m, size_t n_begin, size_t n_end, size_t k, const LhsElem* a, size_t lda,
                  const void* rhs_payload, const EpiloguePlan& plan, Out* c, size_t ldc,
                  const Qd8RowParams* row_params = nullptr) {
    const size_t row_step = plan.transposed ? 1 : ldc;  // between C(i, j) and C(i + 1, j)
    const size_t col_step = plan.transposed ? ldc : 1;
    for (size_t m0 = 0; m0 < m; m0 += mr()) {
      const size_t rows = m - m0 < mr() ? m - m0 : mr();
      for (size_t n0 = n_begin; n0 < n_end; n0 += nr()) {
        const size_t panel = n0 / nr();
        const size_t cols = n_end - n0 < nr() ? n_end - n0 : nr();
        const Tile<Out> t{k,
                          a + m0 * lda,
                          lda,
                          RhsFormat::panel_bias(rhs_payload, panel, k, 0),
                          RhsFormat::panel_data(rhs_payload, panel, k, 0),
                          n0,
                          cols,
                          c + m0 * row_step + n0 * col_step,
                          row_step,
                          col_step,
                          row_params != nullptr ? row_params + m0 : nullptr};
        switch (rows) {  // full-size register blocks for the tail rows too
          case 4: tile<4>(t, plan); break;
          case 3: tile<3>(t, plan); break;
          case 2: tile<2>(t, plan); break;
          default: tile<1>(t, plan); break;
        }
      }
    }
  }

 private:
  using RhsElem = typename Rhs::Element;
  using Bias = typename Rhs::BiasElement;

  template <class Out>
  struct Tile {
    size_t k;
    const LhsElem* a;  // (rows, k), stride lda
    size_t lda;
    const Bias* bias;  // (8): f32 biases, QS8's (folded bias, scale) pairs, QD8's params
    const RhsElem* b;  // (k, 8)
    size_t n0;         // the tile's first column of C
    size_t cols;       // 1..8 columns to store
    Out* c;            // C(tile row 0, column n0); C(i, j) at c[i * row_step + j * col_step]
    size_t row_step, col_step;
    const Qd8RowParams* row_params;  // QD8 only
  };

  template <size_t kRows, class Out>
  static void tile(const Tile<Out>& t, const EpiloguePlan& plan) {
    constexpr size_t kNr = 8;
    constexpr bool kQuantized = std::is_same_v<Bias, Qs8ChannelParams>;
    constexpr bool kDequantized = std::is_same_v<Bias, Qd8ChannelParams>;
    // int8: exact int32 sums
    using Acc = std::conditional_t<kQuantized || kDequantized, int32_t, float>;
    Acc acc[kRows][kNr];
    for (size_t i = 0; i < kRows; ++i) {
      for (size_t j = 0; j < kNr; ++j) {
        if constexpr (kDequantized) {  // the zero-point term: -zp * column sum
          acc[i][j] = t.row_params[i].neg_zero_point * qd8_column_sum(t.bias[j]);
        } else if constexpr (kQuantized) {
          acc[i][j] = t.bias[j].bias;
        } else {
          acc[i][j] = plan.add_bias ? t.bias[j] : 0.0f;
        }
      }
    }
    for (size_t kk = 0; kk < t.k; ++kk) {
      Acc b[kNr];
      if constexpr (kNibbles<RhsFormat> && std::is_same_v<Acc, float>) {  // scaled 4-bit (QB4W)
        RhsFormat::weights_at(t.b, t.k, kk, b);
      } else if constexpr (kNibbles<RhsFormat>) {  // two 4-bit weights a byte
        int32_t w[kNr];
        RhsFormat::weights_at(t.b, kk, w);
        for (size_t j = 0; j < kNr; ++j) b[j] = w[j];
      } else {
        for (size_t j = 0; j < kNr; ++j) b[j] = widen(t.b[kk * kNr + j]);
      }
      for (size_t i = 0; i < kRows; ++i) {
        const Acc x = widen(t.a[i * t.lda + kk]);
        for (size_t j = 0; j < kNr; ++j) acc[i][j] += x * b[j];
      }
    }
    for (size_t i = 0; i < kRows; ++i) {
      for (size_t j = 0; j < t.cols; ++j) {
        Out& out = t.c[i * t.row_step + j * t.col_step];
        if constexpr (kDequantized) {
          const float value = qd8_dequantize(acc[i][j], t.row_params[i].scale, t.bias[j]);
          out = convert_to<Out>(apply(plan, value, t.n0 + j));
        } else if constexpr (kQuantized) {
          out = apply_int8_stages(plan,
                                  requantize(acc[i][j], t.bias[j].scale, plan.out_zero_point,
                                             plan.quantized_range.min, plan.quantized_range.max),
                                  t.n0 + j);
        } else {
          out = convert_to<Out>(apply(plan, acc[i][j], t.n0 + j));
        }
      }
    }
  }

  static float widen(float x) { return x; }
  static float widen(f16 x) { return to_f32(x); }
  static float widen(bf16 x) { return to_f32(x); }
  static int32_t widen(int8_t x) { return x; }
};

}  // namespace sme2k
