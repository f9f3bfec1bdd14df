// The SME2 depthwise kernels as the op sees them: which calls they serve (element types,
// layout pairs, strides, channel multipliers; every other call runs the portable kernel, and
// the plan says so) and their names (docs/naming.md). The float kernels are in
// depthwise_conv2d_sme2.hpp, the QS8 ones in depthwise_conv2d_qs8_sme2.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "sme2k/kernels/sme2/depthwise_conv2d_qs8_sme2.hpp"
#include "sme2k/kernels/sme2/depthwise_conv2d_sme2.hpp"
#include "sme2k/types/conv.hpp"
#include "sme2k/types/f16.hpp"

#if SME2K_HAS_SME2_CODE
namespace sme2k {
namespace sme2 {

/// Element types the SME2 kernel takes (bf16 runs the portable kernel for now).
template <class T>
inline constexpr bool kDepthwiseSme2Types =
    std::is_same_v<T, float> || std::is_same_v<T, f16> || std::is_same_v<T, int8_t>;

/// Whether the SME2 kernel serves a layout pair / shape (else the portable one runs):
/// the same layout in and out, NCHW with a width stride of 1 to 4, NHWC with multiplier 1.
inline bool depthwise_sme2_serves(TensorLayout in, TensorLayout out, size_t stride_width,
                                  size_t multiplier) {
  if (in != out) return false;
  if (in == TensorLayout::kNCHW) return stride_width >= 1 && stride_width <= 4;
  return multiplier == 1;
}

/// The kernel's name for element type T in `layout` (docs/naming.md): a row of 2VL output
/// pixels (NCHW) or channels (NHWC) per pass, multi-vector multiply-adds into ZA.
template <class T>
constexpr std::string_view depthwise_sme2_name(TensorLayout layout) {
  const bool nchw = layout == TensorLayout::kNCHW;
  if constexpr (std::is_same_v<T, int8_t>) {
    return nchw ? "dwconv_qs8_qs8_nchw_2vl_sme2_mla" : "dwconv_qs8_qs8_nhwc_2vl_sme2_mla";
  } else if constexpr (std::is_same_v<T, f16>) {
    return nchw ? "dwconv_f16_f16_nchw_2vl_sme2_mla" : "dwconv_f16_f16_nhwc_2vl_sme2_mla";
  } else {
    return nchw ? "dwconv_f32_f32_nchw_2vl_sme2_mla" : "dwconv_f32_f32_nhwc_2vl_sme2_mla";
  }
}

}  // namespace sme2
}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
