// An LHS a kernel reads where it lies: row-major with a leading dimension, no packing. Used
// by kernels whose A access is already contiguous (the portable kernel's rows, the small-M
// SME2 kernel's 16-byte quads of one row). kName is the element type, as docs/naming.md
// writes an unpacked operand.
#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

#include "sme2k/types/bf16.hpp"
#include "sme2k/types/f16.hpp"

namespace sme2k {

template <class Elem>
struct RowMajorLhs {
  using Element = Elem;
  static constexpr std::string_view kName = std::is_same_v<Elem, float>    ? "f32"
                                            : std::is_same_v<Elem, int8_t> ? "qs8"
                                            : std::is_same_v<Elem, bf16>   ? "bf16"
                                                                           : "f16";
};

}  // namespace sme2k
