// The portable QD8 kernels (kernels/portable/gemm_4x8_loops.hpp) on int8 or 4-bit weights:
// each block of 4 rows of A is quantized (formats/lhs_qd8p1x1.hpp) into the workspace, or
// was by gemm_pack_lhs(), then multiplied with int32 accumulation from the zero-point term,
// and dequantized as the SME2 kernels do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/formats/lhs_qd8p1x1.hpp"
#include "sme2k/kernels/portable/gemm_4x8_loops.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/matrix_view.hpp"

namespace sme2k {

/// The portable QD8 kernel of variant V on int8 or 4-bit weights (Rhs).
template <class V, class Rhs>
struct GemmQd8PortableLoops : GemmPortable4x8Loops<int8_t, Rhs> {
  using Loops = GemmPortable4x8Loops<int8_t, Rhs>;
  using Variant = V;
  using LhsFormat = RowQuantizedLhs;
  using PackedLhsFormat = LhsQd8p1x1;  // what gemm_pack_lhs() writes for this kernel
  static constexpr Path kPath = Path::kPortable;

  /// Bytes of workspace run() needs: 4 rows' parameters and int8 values.
  static constexpr size_t workspace_bytes(size_t k) { return 4 * sizeof(Qd8RowParams) + 4 * k; }

  /// Loops::run() on A (f32 or f16) quantized 4 rows at a time into `workspace`.
  template <class In, class Out>
  static void run(size_t m, size_t n_begin, size_t n_end, size_t k, const In* a, size_t lda,
                  const void* rhs_payload, const EpiloguePlan& plan, Out* c, size_t ldc,
                  void* workspace) {
    auto* params = static_cast<Qd8RowParams*>(workspace);
    auto* q = reinterpret_cast<int8_t*>(params + 4);
    const size_t row_step = plan.transposed ? 1 : ldc;
    for (size_t m0 = 0; m0 < m; m0 += 4) {
      const size_t rows = m - m0 < 4 ? m - m0 : 4;
      LhsQd8p1x1::quantize_rows(MatrixView<const In>{a + m0 * lda, rows, k, lda}, params, q, k);
      Loops::run(rows, n_begin, n_end, k, q, k, rhs_payload, plan, c + m0 * row_step, ldc, params);
    }
  }

  /// Loops::run() on rows [row0, row0 + m) of the lhs_rows activations gemm_pack_lhs()
  /// quantized before (an lhs_qd8p1x1 payload).
  template <class Out>
  static void run_packed(size_t m, size_t n_begin, size_t n_end, size_t k, const void* lhs_payload,
                         size_t lhs_rows, size_t row0, const void* rhs_payload,
                         const EpiloguePlan& plan, Out* c, size_t ldc) {
    Loops::run(m, n_begin, n_end, k, LhsQd8p1x1::rows(lhs_payload, lhs_rows) + row0 * k, k,
               rhs_payload, plan, c, ldc, LhsQd8p1x1::row_params(lhs_payload) + row0);
  }
};

}  // namespace sme2k
