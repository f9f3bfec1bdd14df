// Reference packers: the byte image a packed format must have, computed from a small
// descriptor and the format diagrams (formats/rhs_panel_format.hpp, lhs_panel_format.hpp),
// element by element, without any of the library's offset arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "sme2k/types/layout.hpp"

namespace sme2k {
namespace reference {

struct PanelDescriptor {
  size_t width;  // NR (RHS) or MR (LHS)
  size_t kr;     // consecutive k per element group
};

/// RHS: panels of `width` columns; each: width bias values, then per k-block, per column,
/// kr values of k. Zero past N, past K, and for the bias when there is none.
template <class Elem, class Bias>
std::vector<uint8_t> pack_rhs(PanelDescriptor d, const Elem* b, size_t ldb, RhsLayout layout,
                              size_t n, size_t k, const Bias* bias) {
  std::vector<uint8_t> out;
  const auto append = [&out](const void* p, size_t bytes) {
    const auto* q = static_cast<const uint8_t*>(p);
    out.insert(out.end(), q, q + bytes);
  };
  const size_t blocks = (k + d.kr - 1) / d.kr;
  for (size_t n0 = 0; n0 < n; n0 += d.width) {
    for (size_t j = 0; j < d.width; ++j) {
      const Bias v = (bias != nullptr && n0 + j < n) ? bias[n0 + j] : Bias{};
      append(&v, sizeof v);
    }
    for (size_t q = 0; q < blocks; ++q) {
      for (size_t j = 0; j < d.width; ++j) {
        for (size_t r = 0; r < d.kr; ++r) {
          const size_t kk = q * d.kr + r, col = n0 + j;
          Elem v{};
          if (kk < k && col < n)
            v = layout == RhsLayout::kKxN ? b[kk * ldb + col] : b[col * ldb + kk];
          append(&v, sizeof v);
        }
      }
    }
  }
  return out;
}

/// LHS: one panel of `width` rows; per k-block, per row, kr values of k. Zero past the rows
/// given and past K.
template <class Elem>
std::vector<uint8_t> pack_lhs_panel(PanelDescriptor d, const Elem* a, size_t lda, size_t rows,
                                    size_t k) {
  std::vector<uint8_t> out;
  const size_t blocks = (k + d.kr - 1) / d.kr;
  for (size_t q = 0; q < blocks; ++q) {
    for (size_t i = 0; i < d.width; ++i) {
      for (size_t r = 0; r < d.kr; ++r) {
        const size_t kk = q * d.kr + r;
        const Elem v = (i < rows && kk < k) ? a[i * lda + kk] : Elem{};
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        out.insert(out.end(), p, p + sizeof v);
      }
    }
  }
  return out;
}

}  // namespace reference
}  // namespace sme2k
