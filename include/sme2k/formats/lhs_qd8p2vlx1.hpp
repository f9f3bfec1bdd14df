// lhs_qd8p2vlx1: activations quantized per row at run time (QD8) and dequantized again,
// s * (q - zp) rounded to f32, in the f32 LHS panel layout (lhs_f32p2vlx1: k-major, 2VL rows
// per k, rows past M zero): what the QB4W kernel multiplies, since per-block weight scales
// leave no int32 sum over K to scale once (kernels/sme2/gemm_f32_qd8p2vlx1_qb4p2vlx4bf32_
// 2vlx2vl_sme2_mopa.hpp). The values are exactly QD8's quantized activations.
#pragma once

#include <cstddef>
#include <string_view>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/formats/lhs_panel_format.hpp"
#include "sme2k/formats/za_quantize_rows.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/matrix_view.hpp"

namespace sme2k {

struct LhsQd8p2vlx1 : LhsPanelFormat<float, VlMultiple<2>, 1> {
  static constexpr std::string_view kName = "qd8p2vlx1";

  /// Scratch pack_panel_sme2() needs.
  static constexpr size_t pack_scratch_bytes(size_t vl) {
    return sme2::dequantize_rows_scratch_bytes(vl);
  }

#if SME2K_HAS_SME2_CODE
  /// Quantizes, dequantizes and packs rows [0, a.rows) (at most 2VL) into one panel.
  /// Clobbers ZA.
  template <class In>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void pack_panel_sme2(
      MatrixView<const In> a, void* panel, void* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
    sme2::dequantize_rows_2vl(a, static_cast<float*>(panel), static_cast<float*>(scratch));
  }
#endif
};

}  // namespace sme2k
