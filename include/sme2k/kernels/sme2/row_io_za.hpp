// Moving f32 and f16 rows between memory, Z registers and ZA for the row ops (norms, RoPE):
// every row op works on four rows at a time as one ZA vector group (za.s[w, 0, vgx4] is one
// vector in each quarter of ZA, i.e. vectors slot + q * VL for q = 0..3), so one SME2
// multi-vector FMLA (2 M4 cycles) does the work of four streaming SVE instructions (16).
// f16 rows are widened on load (LD1H into 32-bit lanes + FCVT) and rounded once on store.
// A full f32 vector leaves ZA by STR ZA: a store, no ZA-to-Z move.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/types/f16.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {

/// The ZERO mask of the 32-bit tile holding vector-group slot `slot` (slot < 4): slot i's
/// vectors are i + q * VL, VL a multiple of 4, so all lie in tile ZAi.S.
constexpr uint64_t za32_slot_mask(unsigned slot) { return uint64_t{0x11} << slot; }

SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t load_f32(svbool_t pg,
                                                           const float* p) SME2K_STREAMING {
  return svld1(pg, p);
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t load_f32(svbool_t pg,
                                                           const f16* p) SME2K_STREAMING {
  const svuint32_t h = svld1uh_u32(pg, reinterpret_cast<const uint16_t*>(p));
  return svcvt_f32_f16_z(pg, svreinterpret_f16(h));  // _z: lanes outside pg add 0 to sums
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_f32(svbool_t pg, float* p,
                                                     svfloat32_t v) SME2K_STREAMING {
  svst1(pg, p, v);
}
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_f32(svbool_t pg, f16* p,
                                                     svfloat32_t v) SME2K_STREAMING {
  svst1h(pg, reinterpret_cast<uint16_t*>(p), svreinterpret_u32(svcvt_f16_f32_x(pg, v)));
}

/// Elements [c, c + VL) of rows[0..3] (lanes outside pg are 0).
template <class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t load_x4_rows(svbool_t pg, const T* const* rows,
                                                                 size_t c) SME2K_STREAMING {
  return svcreate4(load_f32(pg, rows[0] + c), load_f32(pg, rows[1] + c), load_f32(pg, rows[2] + c),
                   load_f32(pg, rows[3] + c));
}

/// Writes vector-group `slot` of ZA to elements [c, c + VL) of rows[0 .. valid) (pg: the
/// lanes to write; full: all VL of them, f32 rows then leave ZA by STR ZA).
template <class T>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_x4_rows(uint32_t slot, svbool_t pg, bool full,
                                                         T* const* rows, size_t valid,
                                                         size_t c) SME2K_STREAMING SME2K_INOUT_ZA {
  if constexpr (std::is_same_v<T, float>) {
    if (full) {
      const uint32_t quarter = static_cast<uint32_t>(svcntsw());
      for (size_t q = 0; q < valid; ++q) {
        svstr_za(slot + static_cast<uint32_t>(q) * quarter, rows[q] + c);
      }
      return;
    }
  }
  const svfloat32x4_t v = svread_za32_f32_vg1x4(slot);
  store_f32(pg, rows[0] + c, svget4(v, 0));
  if (valid > 1) store_f32(pg, rows[1] + c, svget4(v, 1));
  if (valid > 2) store_f32(pg, rows[2] + c, svget4(v, 2));
  if (valid > 3) store_f32(pg, rows[3] + c, svget4(v, 3));
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
