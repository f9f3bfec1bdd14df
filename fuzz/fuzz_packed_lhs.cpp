// libFuzzer target: QD8 activations packed once (sme2k_gemm_pack_lhs) and GEMMs on them
// (sme2k_gemm_packed_lhs), with QD8 / QD8_QC4W weights; either packed buffer sometimes
// damaged. The result on intact data must equal sme2k_gemm() on the same A, bit for bit.
#include "fuzz_common.hpp"

using namespace sme2k_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider f(data, size);
  const sme2k_variant variant = f.ConsumeIntegralInRange<int>(0, 15) == 0
                                    ? enum_in<sme2k_variant>(f, 1, 7)
                                : f.ConsumeBool() ? SME2K_VARIANT_QD8
                                                  : SME2K_VARIANT_QD8_QC4W;
  const size_t m = size_in(f, 24), n = size_in(f, 24), k = size_in(f, 96);
  if (too_much_work(m, n, k)) return 0;
  // A, packed.
  Matrix a;
  if (!make_matrix(f, m, k, f.ConsumeBool() ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16, &a)) return 0;
  size_t lhs_bytes = 0;
  const sme2k_status size_status = sme2k_gemm_packed_lhs_size(variant, m, k, &lhs_bytes);
  if (size_status != SME2K_OK) lhs_bytes = 64;
  if (f.ConsumeIntegralInRange<int>(0, 15) == 0 && lhs_bytes > 0) --lhs_bytes;
  Operand lhs;
  if (!allocate(f, lhs_bytes, false, &lhs)) return 0;
  sme2k_parallel_for pf;
  const sme2k_parallel_for* parallel = parallel_from(f, &pf);
  {
    const Snapshot snap(lhs);
    const sme2k_status s = sme2k_gemm_pack_lhs(variant, a.view(), lhs.data, lhs.bytes, parallel);
    check(s, !a.valid || size_status != SME2K_OK, {&snap}, "pack_lhs accepted invalid input");
    if (s != SME2K_OK) return 0;
  }
  // Weights: int8 (QD8) or int8-stored 4-bit values (QD8_QC4W), N x K.
  if (n > 4096 || k > 4096) return 0;
  size_t rhs_bytes = 0;
  if (sme2k_gemm_packed_rhs_size(variant, n, k, &rhs_bytes) != SME2K_OK || rhs_bytes > kMaxBytes) {
    return 0;
  }
  std::vector<uint8_t> rhs(rhs_bytes);
  std::vector<int8_t> b(n * k);
  for (size_t i = 0; i < b.size(); ++i)
    b[i] = static_cast<int8_t>(f.ConsumeIntegralInRange<int>(-8, 7));
  std::vector<float> scales(n), bias(n);
  finite_floats(f, scales.data(), n, true);
  finite_floats(f, bias.data(), n, false);
  const sme2k_status ps =
      variant == SME2K_VARIANT_QD8
          ? sme2k_gemm_pack_rhs_qd8({b.data(), n, k, k, SME2K_DTYPE_INT8}, SME2K_RHS_NXK,
                                    bias.data(), scales.data(), rhs.data(), rhs_bytes)
          : sme2k_gemm_pack_rhs_qc4w({b.data(), n, k, k, SME2K_INT4_INT8}, SME2K_RHS_NXK,
                                     bias.data(), scales.data(), rhs.data(), rhs_bytes);
  if (ps != SME2K_OK) return 0;
  // C, epilogue, workspace.
  std::vector<float> arrays;
  std::vector<int8_t> table;
  const sme2k_epilogue e = epilogue_from(f, n, &arrays, &table);
  const bool transposed = e.order == SME2K_OUTPUT_TRANSPOSED;
  Matrix c;
  const sme2k_dtype out = f.ConsumeBool() ? SME2K_DTYPE_F32 : SME2K_DTYPE_F16;
  if (!make_matrix(f, transposed ? n : m, transposed ? m : n, out, &c)) return 0;
  size_t ws_bytes = 0;
  if (sme2k_gemm_workspace_size(variant, m, n, k, e.order, &ws_bytes, parallel) != SME2K_OK) {
    ws_bytes = 0;
  }
  Operand ws;
  if (!allocate(f, ws_bytes, false, &ws)) return 0;
  const Packed packed_lhs(f, lhs.data, lhs.bytes);
  const Packed packed_rhs(f, rhs.data(), rhs.size());
  const Snapshot snap(c);
  const sme2k_status s = sme2k_gemm_packed_lhs(
      variant, packed_lhs.data(), packed_lhs.bytes, packed_rhs.data(), packed_rhs.bytes, c.out(),
      &e, ws.bytes > 0 ? ws.data : nullptr, ws.bytes, parallel);
  check(s, !c.valid || packed_lhs.header_damaged || packed_rhs.header_damaged, {&snap},
        "gemm_packed_lhs accepted invalid input");
  // Intact data: the same bits as sme2k_gemm() on A.
  const bool intact = packed_lhs.bytes == lhs.bytes && packed_rhs.bytes == rhs.size() &&
                      std::memcmp(packed_lhs.data(), lhs.data, lhs.bytes) == 0 &&
                      std::memcmp(packed_rhs.data(), rhs.data(), rhs.size()) == 0;
  if (s == SME2K_OK && intact) {
    std::vector<uint8_t> direct(c.bytes);
    std::memcpy(direct.data(), c.data, c.bytes);
    const std::vector<uint8_t> got = direct;
    const sme2k_status s2 = sme2k_gemm(variant, a.view(), rhs.data(), rhs.size(),
                                       {direct.data(), c.rows, c.cols, c.ld, c.dtype}, &e,
                                       ws.bytes > 0 ? ws.data : nullptr, ws.bytes, parallel);
    if (s2 != SME2K_OK) fail("gemm refused what gemm_packed_lhs took", s2);
    if (std::memcmp(direct.data(), c.data, c.bytes) != 0) {
      fail("gemm on packed activations differs from gemm on A", s2);
    }
    (void)got;
  }
  return 0;
}
