// The vector-length unit every sme2k tile and format is written in.
//
// Glossary
//   SVL   streaming vector length in bits: 128 to 2048 (Apple M4 and Arm C1: 512).
//   VL    the number of 32-bit lanes in one streaming vector, SVL / 32 (svcntsw()): 16 at
//         SVL 512. A 32-bit ZA tile is VL x VL. Tiles and panels are counts of VL:
//         "2vlx2vl" is a tile of 2VL x 2VL outputs (all four 32-bit ZA tiles), "p2vl" a
//         panel 2VL rows (LHS) or columns (RHS) wide.
//   MR/NR the rows / columns of C a micro-kernel produces per call (m_step / n_step).
//   KR    how many consecutive k one packed row holds together: 1 for f32, 2 for the
//         widening f16 outer product, 4 for the 4-way int8 one.
//   kp    K rounded up to a multiple of KR (the packed depth).
// Fixed-size portable formats use plain numbers instead ("p8" = 8 columns).
#pragma once

#include <cstddef>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/cpu_features.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>
#endif

namespace sme2k {

/// The largest VL the architecture allows (SVL 2048): bounds fixed-size buffers.
constexpr size_t kMaxVl = 2048 / 32;

#if SME2K_HAS_SME2_CODE
namespace sme2 {
/// VL inside SME code (one RDSVL, no memory access). Needs a CPU with SME.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE size_t vl() SME2K_STREAMING_COMPATIBLE { return svcntsw(); }

SME2K_TARGET_SME2 inline size_t streaming_vector_bytes_unchecked() SME2K_STREAMING_COMPATIBLE {
  return svcntsb();
}
}  // namespace sme2
#endif

/// The streaming vector length of the calling thread in bytes (SVL / 8), or 0 when sme2k
/// may not use SME here (no SME, or built without SME2 code). Linux lets a thread change
/// it (prctl PR_SME_SET_VL), so it is read on every call: one instruction.
inline size_t streaming_vector_bytes() {
#if SME2K_HAS_SME2_CODE
  if (cpu_features().has(CpuFeature::kSme)) return sme2::streaming_vector_bytes_unchecked();
#endif
  return 0;
}

/// VL (32-bit lanes per streaming vector), or 0 as for streaming_vector_bytes().
inline size_t streaming_vl() { return streaming_vector_bytes() / 4; }

/// A panel or tile extent of N x VL (SME2 formats): its size is known at run time.
template <size_t N>
struct VlMultiple {
  static constexpr size_t kUnits = N;
  static constexpr bool kScalesWithVl = true;
  static constexpr size_t size(size_t vl) { return N * vl; }
};

/// A fixed extent of N (portable formats); the VL argument is ignored.
template <size_t N>
struct FixedExtent {
  static constexpr size_t kUnits = N;
  static constexpr bool kScalesWithVl = false;
  static constexpr size_t size(size_t /*vl*/) { return N; }
};

}  // namespace sme2k
