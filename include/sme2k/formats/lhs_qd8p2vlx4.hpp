// lhs_qd8p2vlx4: f32 or f16 activations quantized per row at run time (QD8, types/
// dynamic_quantization.hpp) for the SME2 4-way int8 kernel. Quantization is fused into the
// packing: each row is read twice (its min/max, then its values) and never written as int8
// anywhere but here.
//
// One panel (rows m0 .. m0+2VL-1), kp = K rounded up to 4:
//
//   +-----------------------------------------------------------------------+
//   | Qd8RowParams[2VL]: per row (int16 -128 zp, int16 -zp, f32 scale)      |  8 B per row
//   +-----------------------------------------------------------------------+  0 past M
//   | k-quad 0: q[m0][0..3]  q[m0+1][0..3]  ...  q[m0+2VL-1][0..3]          |  2VL x 4 int8
//   | k-quad 1: q[m0][4..7]  ...                                            |
//   | ... kp / 4 quads                                                      |  0 past M; past
//   +-----------------------------------------------------------------------+  K: the row's zp
//
// The int8 part is lhs_qs8p2vlx4's layout. Past K a row holds its zero point (quantized 0);
// the weights are zero there, so it adds nothing. The int8 values of a row holding an
// infinity or a NaN are unspecified (its scale is NaN). Panels follow each other at
// panel_bytes().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/formats/lhs_panel_format.hpp"
#include "sme2k/formats/packed_header.hpp"
#include "sme2k/formats/za_quantize_rows.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"

namespace sme2k {

struct LhsQd8p2vlx4 {
  using Element = int8_t;
  using PanelWidth = VlMultiple<2>;
  using Quads = LhsPanelFormat<int8_t, VlMultiple<2>, 4>;  // the int8 part
  static constexpr size_t kKr = 4;
  static constexpr PackedFormatId kId = PackedFormatId::kLhsQd8p2vlx4;
  static constexpr std::string_view kName = packed_format_name(kId);

  static constexpr size_t mr(size_t vl) { return 2 * vl; }
  static constexpr size_t kp(size_t k) { return Quads::kp(k); }
  static constexpr size_t params_bytes(size_t vl) { return mr(vl) * sizeof(Qd8RowParams); }
  static constexpr size_t panel_bytes(size_t k, size_t vl) {
    return params_bytes(vl) + Quads::panel_bytes(k, vl);
  }
  /// Scratch pack_panel_sme2() needs.
  static constexpr size_t pack_scratch_bytes(size_t vl) {
    return sme2::quantize_rows_scratch_bytes(vl);
  }
  static bool checked_panel_bytes(size_t k, size_t vl, size_t* bytes) {
    return Quads::checked_panel_bytes(k, vl, bytes) && checked_add(*bytes, params_bytes(vl), bytes);
  }

  static const Qd8RowParams* row_params(const void* panel) {
    return static_cast<const Qd8RowParams*>(panel);
  }
  /// Row i's parameters in a payload of panels of depth k.
  static Qd8RowParams row_params_of(const void* payload, size_t k, size_t vl, size_t i) {
    Qd8RowParams p;
    std::memcpy(&p,
                static_cast<const uint8_t*>(payload) + i / mr(vl) * panel_bytes(k, vl) +
                    i % mr(vl) * sizeof p,
                sizeof p);
    return p;
  }
  static const int8_t* panel_data(const void* panel, size_t vl) {
    return static_cast<const int8_t*>(panel) + params_bytes(vl);
  }
  static int8_t* panel_data(void* panel, size_t vl) {
    return static_cast<int8_t*>(panel) + params_bytes(vl);
  }

  /// Quantizes and packs rows [0, a.rows) of `a` (at most 2VL) into one panel. The plain C++
  /// version: the specification of the format (tests, other engines).
  template <class In>
  static void pack_panel(MatrixView<const In> a, size_t vl, void* panel) {
    std::memset(panel, 0, panel_bytes(a.cols, vl));
    auto* params = static_cast<Qd8RowParams*>(panel);
    int8_t* data = panel_data(panel, vl);
    for (size_t i = 0; i < a.rows; ++i) {
      const RowQuantization q = row_quantization(&a(i, 0), a.cols);
      params[i] = qd8_row_params(q);
      const float inv = 1.0f / q.scale;
      for (size_t k = 0; k < kp(a.cols); ++k) {
        data[Quads::element_offset(i, k, vl)] =
            k < a.cols ? quantize_dynamic(to_f32(a(i, k)), inv, q.zero_point)
                       : static_cast<int8_t>(q.zero_point);
      }
    }
  }

#if SME2K_HAS_SME2_CODE
  /// pack_panel() in streaming mode (formats/za_quantize_rows.hpp). Clobbers ZA.
  /// @param[in] scratch  pack_scratch_bytes(VL) bytes, 64-byte aligned
  template <class In>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void pack_panel_sme2(
      MatrixView<const In> a, void* panel, void* scratch) SME2K_STREAMING SME2K_INOUT_ZA {
    sme2::quantize_rows_2vl(a, static_cast<Qd8RowParams*>(panel), panel_data(panel, svcntsw()),
                            static_cast<float*>(scratch));
  }
#endif
};

}  // namespace sme2k
