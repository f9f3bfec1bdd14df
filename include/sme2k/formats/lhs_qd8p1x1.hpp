// lhs_qd8p1x1: f32 or f16 activations quantized per row (QD8, types/dynamic_quantization.hpp)
// as the portable QD8 kernel reads them: plain int8 rows, their parameters in front.
//
//   +-------------------------------------------------------------+
//   | Qd8RowParams[M]: per row (int16 -128 zp, int16 -zp, f32 scale) |  8 B per row
//   +-------------------------------------------------------------+  0 up to a 64-byte boundary
//   | row 0: q[0][0] .. q[0][K-1]                                 |  K int8
//   | row 1: q[1][0] .. q[1][K-1]                                 |
//   | ... M rows                                                  |
//   +-------------------------------------------------------------+
//
// The same quantization as lhs_qd8p2vlx4 (bit for bit), without the panel layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "sme2k/formats/packed_header.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/size_math.hpp"

namespace sme2k {

/// A read where it lies and quantized per row by the kernel itself, a few rows at a time
/// (the portable kernels, the few-rows SME2 kernels).
struct RowQuantizedLhs {
  using Element = int8_t;
  static constexpr std::string_view kName = "qd8";
};

struct LhsQd8p1x1 {
  using Element = int8_t;
  static constexpr PackedFormatId kId = PackedFormatId::kLhsQd8p1x1;
  static constexpr std::string_view kName = packed_format_name(kId);

  static constexpr size_t params_bytes(size_t m) { return round_up(m * sizeof(Qd8RowParams), 64); }
  /// Bytes of M x K packed activations; false on overflow.
  static bool checked_payload_bytes(size_t m, size_t k, size_t* bytes) {
    size_t data = 0;
    return m <= SIZE_MAX / 64 && checked_mul(m, k, &data) &&
           checked_add(data, params_bytes(m), bytes);
  }

  static const Qd8RowParams* row_params(const void* payload) {
    return static_cast<const Qd8RowParams*>(payload);
  }
  /// Row i's parameters in a payload of any M (k and vl: unused, as in LhsQd8p2vlx4).
  static Qd8RowParams row_params_of(const void* payload, size_t /*k*/, size_t /*vl*/, size_t i) {
    Qd8RowParams p;
    std::memcpy(&p, static_cast<const uint8_t*>(payload) + i * sizeof p, sizeof p);
    return p;
  }
  static const int8_t* rows(const void* payload, size_t m) {
    return static_cast<const int8_t*>(payload) + params_bytes(m);
  }

  /// Quantizes rows [0, a.rows) of `a`: their parameters to `params`, their values to `q`
  /// (row i at q + i * ldq).
  template <class In>
  static void quantize_rows(MatrixView<const In> a, Qd8RowParams* params, int8_t* q, size_t ldq) {
    for (size_t i = 0; i < a.rows; ++i) {
      const In* row = &a(i, 0);
      const RowQuantization rq = row_quantization(row, a.cols);
      params[i] = qd8_row_params(rq);
      const float inv = 1.0f / rq.scale;
      for (size_t k = 0; k < a.cols; ++k) {
        q[i * ldq + k] = quantize_dynamic(to_f32(row[k]), inv, rq.zero_point);
      }
    }
  }

  /// Packs all of `a` into `payload` (checked_payload_bytes(a.rows, a.cols) bytes).
  template <class In>
  static void pack(MatrixView<const In> a, void* payload) {
    pack_padding(a.rows, payload);
    pack_rows(a, a.rows, 0, payload);
  }
  /// The same in parts: the padding after the parameters of all m rows, and rows
  /// [row0, row0 + a.rows) of them.
  static void pack_padding(size_t m, void* payload) {
    auto* bytes = static_cast<uint8_t*>(payload);
    for (size_t b = m * sizeof(Qd8RowParams); b < params_bytes(m); ++b) bytes[b] = 0;
  }
  template <class In>
  static void pack_rows(MatrixView<const In> a, size_t m, size_t row0, void* payload) {
    auto* params = static_cast<Qd8RowParams*>(payload) + row0;
    int8_t* q = static_cast<int8_t*>(payload) + params_bytes(m) + row0 * a.cols;
    quantize_rows(a, params, q, a.cols);
  }
};

}  // namespace sme2k
