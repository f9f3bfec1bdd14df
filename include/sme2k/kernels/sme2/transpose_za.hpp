// Transposing a matrix of 8-, 16- or 32-bit elements through ZA: a tile of E x E elements
// (E = SVL / element bits: 16 f32, 32 f16, 64 int8 at SVL 512) goes in as horizontal slices
// (rows of the source) and out as vertical slices (rows of the destination). Loads and
// stores only, one vector each per row of the tile: on the Apple M4 model exactly the
// load/store bound of the bytes (1 cycle per 64 B in, 1.28 out), whatever the shape; tails
// are predicated, so nothing outside either matrix is read or written.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/arch/attributes.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {
namespace sme2 {
namespace detail {

template <size_t kBytes>
struct ZaTile;

template <>
struct ZaTile<1> {
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static size_t side() SME2K_STREAMING { return svcntb(); }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static svbool_t below(size_t n) SME2K_STREAMING {
    return svwhilelt_b8_u64(0, n);
  }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void load_row(uint32_t i, svbool_t pg, const void* p)
      SME2K_STREAMING SME2K_INOUT_ZA {
    svld1_hor_za8(0, i, pg, p);
  }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void store_column(uint32_t j, svbool_t pg, void* p)
      SME2K_STREAMING SME2K_INOUT_ZA {
    svst1_ver_za8(0, j, pg, p);
  }
};

template <>
struct ZaTile<2> {
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static size_t side() SME2K_STREAMING { return svcnth(); }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static svbool_t below(size_t n) SME2K_STREAMING {
    return svwhilelt_b16_u64(0, n);
  }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void load_row(uint32_t i, svbool_t pg, const void* p)
      SME2K_STREAMING SME2K_INOUT_ZA {
    svld1_hor_za16(0, i, pg, p);
  }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void store_column(uint32_t j, svbool_t pg, void* p)
      SME2K_STREAMING SME2K_INOUT_ZA {
    svst1_ver_za16(0, j, pg, p);
  }
};

template <>
struct ZaTile<4> {
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static size_t side() SME2K_STREAMING { return svcntw(); }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static svbool_t below(size_t n) SME2K_STREAMING {
    return svwhilelt_b32_u64(0, n);
  }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void load_row(uint32_t i, svbool_t pg, const void* p)
      SME2K_STREAMING SME2K_INOUT_ZA {
    svld1_hor_za32(0, i, pg, p);
  }
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void store_column(uint32_t j, svbool_t pg, void* p)
      SME2K_STREAMING SME2K_INOUT_ZA {
    svst1_ver_za32(0, j, pg, p);
  }
};

}  // namespace detail

/// dst (cols x rows, row stride ldd elements) = src^T (rows x cols, row stride lds), for
/// elements of kBytes bytes. Clobbers ZA tile 0 of that element size.
template <size_t kBytes>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void transpose_za(const void* src, size_t rows, size_t cols,
                                                        size_t lds, void* dst,
                                                        size_t ldd) SME2K_STREAMING SME2K_INOUT_ZA {
  using Tile = detail::ZaTile<kBytes>;
  const size_t side = Tile::side();
  const auto* in = static_cast<const uint8_t*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  const size_t row_bytes = lds * kBytes, out_row_bytes = ldd * kBytes;
  for (size_t r0 = 0; r0 < rows; r0 += side) {
    const size_t tile_rows = rows - r0 < side ? rows - r0 : side;
    const svbool_t in_rows = Tile::below(tile_rows);
    for (size_t c0 = 0; c0 < cols; c0 += side) {
      const size_t tile_cols = cols - c0 < side ? cols - c0 : side;
      const svbool_t in_cols = Tile::below(tile_cols);
      const uint8_t* s = in + r0 * row_bytes + c0 * kBytes;
      for (uint32_t i = 0; i < tile_rows; ++i, s += row_bytes) Tile::load_row(i, in_cols, s);
      uint8_t* d = out + c0 * out_row_bytes + r0 * kBytes;
      for (uint32_t j = 0; j < tile_cols; ++j, d += out_row_bytes) {
        Tile::store_column(j, in_rows, d);
      }
    }
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
