// QD8 x QB4W GEMM in plain C++ (kernels/portable/gemm_4x8_loops.hpp): each block of 4 rows of
// A is quantized per row (QD8) and dequantized, s * (q - zp) rounded to f32, into the
// workspace; the 4-bit weights are widened and scaled per k inside the tile loop; f32
// accumulation, as the SME2 kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/lhs_qd8p1x1.hpp"
#include "sme2k/formats/rhs_qb4p8x1bf32.hpp"
#include "sme2k/kernels/portable/gemm_4x8_loops.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {

struct GemmF32Qd8Qb4p8x1bf32_4x8PortableLoops : GemmPortable4x8Loops<float, RhsQb4p8x1bf32> {
  using Loops = GemmPortable4x8Loops<float, RhsQb4p8x1bf32>;
  using Variant = QD8QB4W;
  using LhsFormat = RowQuantizedLhs;
  static constexpr Path kPath = Path::kPortable;
  static constexpr std::string_view kName = "gemm_f32_qd8_qb4p8x1bf32_4x8_portable_loops";

  /// Bytes of workspace run() needs: 4 rows' parameters, int8 values and f32 values.
  static constexpr size_t workspace_bytes(size_t k) {
    return 4 * sizeof(Qd8RowParams) + 4 * k + 4 * k * sizeof(float) + 64;
  }

  template <class In, class Out>
  static void run(size_t m, size_t n_begin, size_t n_end, size_t k, const In* a, size_t lda,
                  const void* rhs_payload, const EpiloguePlan& plan, Out* c, size_t ldc,
                  void* workspace) {
    auto* params = static_cast<Qd8RowParams*>(workspace);
    auto* q = reinterpret_cast<int8_t*>(params + 4);
    auto* values = reinterpret_cast<float*>(static_cast<uint8_t*>(workspace) +
                                            round_up(4 * sizeof(Qd8RowParams) + 4 * k, 64));
    const size_t row_step = plan.transposed ? 1 : ldc;
    for (size_t m0 = 0; m0 < m; m0 += 4) {
      const size_t rows = m - m0 < 4 ? m - m0 : 4;
      LhsQd8p1x1::quantize_rows(MatrixView<const In>{a + m0 * lda, rows, k, lda}, params, q, k);
      for (size_t i = 0; i < rows; ++i) {
        for (size_t kk = 0; kk < k; ++kk) {
          values[i * k + kk] =
              params[i].scale * static_cast<float>(q[i * k + kk] + params[i].neg_zero_point);
        }
      }
      Loops::run(rows, n_begin, n_end, k, values, k, rhs_payload, plan, c + m0 * row_step, ldc);
    }
  }
};

}  // namespace sme2k
