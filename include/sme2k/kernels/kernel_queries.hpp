// The query set every micro-kernel answers (after KleidiAI's), derived once from the formats
// it reads and the rows it makes per pass, so no kernel spells them out again.
//
//   mr / nr / kr      rows and columns of C per pass, k per packed group
//   m_step / n_step   the multiples m_idx and n_idx of the offsets below must be
//   lhs_packed_offset byte offset of row m_idx in a packed A (packed LHS formats only)
//   rhs_packed_offset byte offset of column n_idx in the packed weights
//   dst_offset        element offset of C(m_idx, n_idx), row-major
#pragma once

#include <cstddef>

#include "sme2k/arch/vl.hpp"

namespace sme2k {

/// Rows: an extent type (VlMultiple, FixedExtent) of rows per pass.
template <class Lhs, class Rhs, class Rows>
struct KernelQueries {
  using LhsFormat = Lhs;
  using RhsFormat = Rhs;

  static constexpr size_t mr(size_t vl = 0) { return Rows::size(vl); }
  static constexpr size_t nr(size_t vl = 0) { return Rhs::nr(vl); }
  static constexpr size_t kr() { return Rhs::kKr; }
  static constexpr size_t m_step(size_t vl = 0) { return mr(vl); }
  static constexpr size_t n_step(size_t vl = 0) { return nr(vl); }
  /// Needs a packed LHS format (one with panel_bytes).
  static constexpr size_t lhs_packed_offset(size_t m_idx, size_t k, size_t vl) {
    return m_idx / mr(vl) * Lhs::panel_bytes(k, vl);
  }
  static constexpr size_t rhs_packed_offset(size_t n_idx, size_t k, size_t vl = 0) {
    return n_idx / nr(vl) * Rhs::panel_bytes(k, vl);
  }
  static constexpr size_t dst_offset(size_t m_idx, size_t n_idx, size_t ldc) {
    return m_idx * ldc + n_idx;
  }
};

}  // namespace sme2k
