// What the fused output stage does, as plain data. The order is fixed and written once:
//
//   acc (in ZA or registers, started from the packed bias)  ->  clamp  ->  store
//
// Bias lives in the packed weights (a constant of the layer), so it costs the SME2 kernel
// one outer product per tile instead of an add per output. The SME2 "how" (ZA slices,
// registers, stores) is in epilogue/sme2_store.hpp, the portable one in the portable
// kernel; test/reference/gemm.hpp follows the same order. Activations, a per-channel affine
// after the activation, and conversions join this list as the variants that need them land.
#pragma once

#include <cmath>
#include <limits>

#include "sme2k/types/status.hpp"

namespace sme2k {

/// out = fmin(fmax(x, min), max): IEEE maxNum/minNum, as the SME2 FCLAMP instruction and C's
/// fmin/fmax do, so an active clamp turns a NaN into `min`. Inactive (both bounds infinite)
/// it is skipped and NaN stays NaN.
struct Clamp {
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();

  bool active() const { return !(std::isinf(min) && min < 0 && std::isinf(max) && max > 0); }
  float apply(float x) const { return std::fmin(std::fmax(x, min), max); }
};

struct GemmEpilogue {
  Clamp clamp;
};

/// Checks an epilogue at the door of an op named `op`.
inline Status validate_epilogue(const GemmEpilogue& e, const char* op) {
  if (std::isnan(e.clamp.min) || std::isnan(e.clamp.max)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: clamp bound is NaN", op);
  }
  if (e.clamp.min > e.clamp.max) {
    return Status::error(StatusCode::kInvalidArgument, "%s: clamp min (%g) is above max (%g)", op,
                         static_cast<double>(e.clamp.min), static_cast<double>(e.clamp.max));
  }
  return Status();
}

}  // namespace sme2k
