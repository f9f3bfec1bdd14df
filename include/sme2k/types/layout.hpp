// How a caller's weight matrix is laid out before packing.
//
// A GEMM's B is K x N mathematically. Frameworks store it either way round: ONNX MatMul and
// TFLite weights as [K x N], PyTorch nn.Linear and attention's K as [N x K] (each output
// channel's weights contiguous). Packing reads either directly, so no transpose is needed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sme2k {

enum class RhsLayout : uint8_t {
  kKxN = 1,  ///< row k holds the N weights of input k; ld >= N
  kNxK = 2,  ///< row n holds the K weights of output n; ld >= K
};

/// N and K of a B stored `rows` x `cols` in `layout`.
struct RhsShape {
  size_t n, k;
};
constexpr RhsShape rhs_shape(size_t rows, size_t cols, RhsLayout layout) {
  return layout == RhsLayout::kKxN ? RhsShape{cols, rows} : RhsShape{rows, cols};
}

inline const char* rhs_layout_name(RhsLayout layout) {
  switch (layout) {
    case RhsLayout::kKxN: return "kxn";
    case RhsLayout::kNxK: return "nxk";
  }
  return "unknown";
}

}  // namespace sme2k
