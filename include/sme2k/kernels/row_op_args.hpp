// The argument structs of the row-op kernels (RMSNorm, LayerNorm, RoPE), one per family, shared
// by the SME2 and portable kernels: a kernel takes one of these for the rows of its task and
// never validates it (the ops in ops/rms_norm.hpp, ops/layer_norm.hpp, ops/rope.hpp do).
//
// T is the element type of the rows (float or f16); every table and per-channel array is f32,
// and all arithmetic is f32 (f16 rows are widened on load and rounded once on store).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sme2k {

/// Rows [0, rows) of x (row stride ldx) normalized into y (row stride ldy; y may be x when
/// ldy == ldx). weight / bias: cols f32 values, or null (1 / 0). rms: RMSNorm (no mean, no
/// bias), else LayerNorm.
template <class T>
struct RowNormArgs {
  const T* x;  // rows x cols, row stride ldx
  size_t ldx;
  T* y;  // rows x cols, row stride ldy
  size_t ldy;
  size_t rows, cols;
  const float* weight;  // cols, or null
  const float* bias;    // cols, or null (LayerNorm only)
  float eps;
};

/// How RoPE pairs the rotary elements of a head vector.
enum class RopePairing : uint8_t {
  kInterleaved = 1,  ///< (2i, 2i+1): GPT-J, llama.cpp's default ("normal") mode
  kHalfSplit = 2,    ///< (i, i + rotary_dim/2): GPT-NeoX, Hugging Face llama ("neox" mode)
};

/// RoPE over head rows grouped as [seq][heads]: row (s, h) at data + s * seq_stride +
/// h * head_stride, rotated in place by the angles of position positions[s] (or
/// first_position + s when positions is null). cos / sin: [table rows][rotary_dim / 2] f32.
template <class T>
struct RopeArgs {
  T* data;
  size_t seq, heads;
  size_t seq_stride, head_stride;  // elements
  size_t half;                     // rotary_dim / 2 pairs per row
  RopePairing pairing;
  const float* cos;          // [positions][half]
  const float* sin;          // [positions][half]
  const int32_t* positions;  // seq values, or null
  size_t first_position;     // when positions is null
};

}  // namespace sme2k
