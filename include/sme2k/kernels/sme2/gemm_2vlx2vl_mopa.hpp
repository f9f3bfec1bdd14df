// The SME2 GEMM micro-kernel machinery: a 2VL x 2VL block of C per pass (32 x 32 outputs at
// SVL 512), accumulated in all four 32-bit ZA tiles, one template for every variant whose
// outer products accumulate in 32 bits. The variant supplies the k-step (kernels/sme2/
// mopa_steps.hpp: element type, KR, loads and outer products) and the formats it consumes.
//
// Per block: zero ZA; start from the packed bias with one f32 outer product of a vector of
// ones and the bias row per tile (not an add per output); run the k-steps over the
// zero-padded packed panels, unrolled by 4 so the loop is outer products and loads; then
// the epilogue (epilogue/sme2_store.hpp) picks its way out of ZA by output type, clamp and
// what bounds the variant. Packed operands are zero-padded, so only the stores are
// predicated (M and N tails).
//
// Preconditions (ops/ guarantees them): streaming mode, ZA owned by the caller, rows in
// [1, 2VL], n_begin a multiple of 2VL, operands packed for this SVL, `scratch` holding
// scratch_bytes(VL).
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "sme2k/arch/attributes.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/epilogue/sme2_dequant.hpp"
#include "sme2k/epilogue/sme2_requant.hpp"
#include "sme2k/epilogue/sme2_sigmoid_za.hpp"
#include "sme2k/epilogue/sme2_store.hpp"
#include "sme2k/kernels/kernel_queries.hpp"
#include "sme2k/kernels/sme2/mopa_steps.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>

namespace sme2k {

template <class Step, class Lhs, class Rhs>
struct Gemm2vlx2vlMopa : KernelQueries<Lhs, Rhs, typename Lhs::PanelWidth> {
  using LhsFormat = Lhs;
  using RhsFormat = Rhs;
  using Element = typename Step::Element;
  static_assert(std::is_same_v<typename Lhs::Element, Element> &&
                    std::is_same_v<typename Rhs::Element, Element> && Lhs::kKr == Step::kKr &&
                    Rhs::kKr == Step::kKr,
                "the packed formats must hold what the k-step consumes");

  /// QD8: the int32 block becomes f32 (epilogue/sme2_dequant.hpp) before the float epilogue.
  static constexpr bool kDequantizes = std::is_same_v<typename Rhs::BiasElement, Qd8ChannelParams>;

  /// Bytes of scratch run() needs, and the LHS packer before it (the same bytes).
  static constexpr size_t scratch_bytes(size_t vl) {
    // int8 outputs take the whole block through scratch (epilogue/sme2_requant.hpp), and so
    // does QD8's dequantization, before (not while) the float epilogue uses its scratch.
    size_t bytes = sme2::epilogue_scratch_bytes(vl);
    if constexpr (kDequantizes) bytes = std::max(bytes, sme2::dequant_scratch_bytes(vl));
    if constexpr (std::is_same_v<Element, int8_t> && !kDequantizes) {
      bytes = sme2::requant_scratch_bytes(vl);
    }
    return std::max(bytes, Lhs::pack_scratch_bytes(vl));
  }

  /// C[0, rows) x [n_begin, n_end) = epilogue(bias + lhs_panel * B) for one packed LHS panel.
  /// @param[in] lhs_panel    one LhsFormat panel: rows 0 .. rows-1
  /// @param[in] rhs_payload  packed weights of all N columns (RhsFormat)
  /// @param[in] plan         activation, affine, clamp, order (decided outside streaming mode)
  /// @param[out] c           f32 or f16: C at (row 0 of the panel, column 0), or with
  ///                         plan.transposed C^T at (row 0, column of the panel's row 0)
  /// @param[in] scratch      scratch_bytes(VL) bytes for the epilogue
  /// @param[in] rhs_first_panel  the panel rhs_payload starts with (a payload holding only
  ///                         some panels, e.g. one expanded from 4-bit weights)
  template <class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void run(
      size_t rows, size_t n_begin, size_t n_end, size_t k, const void* lhs_panel,
      const void* rhs_payload, bool has_bias, const EpiloguePlan& plan, Out* c, size_t ldc,
      float* scratch, size_t rhs_first_panel = 0) SME2K_STREAMING SME2K_INOUT_ZA {
    // One tile loop per way out, so what one epilogue needs (the activations' constants) is
    // never hoisted into another's loop: each such constant is a 4-cycle instruction per tile
    // on the M4 model.
    const Tiles<Out> t{rows,     n_begin, n_end, k,   lhs_panel, rhs_payload, rhs_first_panel,
                       has_bias, &plan,   c,     ldc, scratch};
    if constexpr (std::is_same_v<Out, int8_t>) {
      if (plan.int8_stages.active()) {  // always clamped: the affine reads q1 - zp1
        return plan.transposed ? tiles<Exit::kRequantStagedTransposed>(t)
                               : tiles<Exit::kRequantStaged>(t);
      }
      if (plan.transposed) {
        return plan.requant_clamp ? tiles<Exit::kRequantClampTransposed>(t)
                                  : tiles<Exit::kRequantTransposed>(t);
      }
      return plan.requant_clamp ? tiles<Exit::kRequantClamp>(t) : tiles<Exit::kRequant>(t);
    } else {
      run_float(t);
    }
  }

 private:
  template <class Out>
  struct Tiles;

  template <class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void run_float(const Tiles<Out>& t)
      SME2K_STREAMING SME2K_INOUT_ZA {
    const EpiloguePlan& plan = *t.plan;
    if (sme2::sigmoid_in_za(plan)) return sigmoid_tiles(t);
    if (sme2::epilogue_in_za(plan)) {
      return plan.transposed ? tiles<Exit::kAffineTransposed>(t) : tiles<Exit::kAffine>(t);
    }
    if (plan.transposed) return tiles<Exit::kTransposed>(t);
    if (plan.elementwise()) return tiles<Exit::kRowsFull>(t);
    if (std::is_same_v<Out, float> && (!plan.clamped || !Step::kComputeBound)) {
      return plan.clamped ? tiles<Exit::kDirectClamp>(t) : tiles<Exit::kDirect>(t);
    }
    return plan.clamped ? tiles<Exit::kRowsClamp>(t) : tiles<Exit::kRowsStore>(t);
  }

  // GELU or SiLU the ZA way: one tile loop per (order, activation, affine), so the loop's
  // constants are made once per block, never for another epilogue's loop.
  template <class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void sigmoid_tiles(const Tiles<Out>& t)
      SME2K_STREAMING SME2K_INOUT_ZA {
    const EpiloguePlan& plan = *t.plan;
    const bool gelu = plan.activation == Activation::kGelu;
    const bool affine = plan.scale != nullptr || plan.shift != nullptr;
    return plan.transposed ? sigmoid_tiles_as<Exit::kSigmoidTransposed>(t, gelu, affine)
                           : sigmoid_tiles_as<Exit::kSigmoid>(t, gelu, affine);
  }
  template <auto kExit, class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void sigmoid_tiles_as(
      const Tiles<Out>& t, bool gelu, bool affine) SME2K_STREAMING SME2K_INOUT_ZA {
    if (gelu) {
      return affine ? tiles<kExit, Activation::kGelu, true>(t)
                    : tiles<kExit, Activation::kGelu, false>(t);
    }
    return affine ? tiles<kExit, Activation::kSilu, true>(t)
                  : tiles<kExit, Activation::kSilu, false>(t);
  }

  // How a finished block leaves ZA (epilogue/sme2_store.hpp, sme2_requant.hpp); the
  // requantizing ways last (kExit >= kRequant).
  enum class Exit {
    kDirect,
    kDirectClamp,
    kRowsStore,
    kRowsClamp,
    kRowsFull,
    kTransposed,
    kAffine,
    kAffineTransposed,
    kSigmoid,
    kSigmoidTransposed,
    kRequant,
    kRequantClamp,
    kRequantTransposed,
    kRequantClampTransposed,
    kRequantStaged,
    kRequantStagedTransposed
  };

  template <class Out>
  struct Tiles {
    size_t rows, n_begin, n_end, k;
    const void* lhs_panel;
    const void* rhs_payload;
    size_t rhs_first_panel;
    bool has_bias;
    const EpiloguePlan* plan;
    Out* c;
    size_t ldc;
    float* scratch;
  };

  template <Exit kExit, Activation kAct = Activation::kNone, bool kAffine = false, class Out>
  SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE static void tiles(const Tiles<Out>& t)
      SME2K_STREAMING SME2K_INOUT_ZA {
    const EpiloguePlan& plan = *t.plan;
    const size_t vl = svcntsw();
    const size_t width = 2 * vl;
    const size_t steps = LhsFormat::kp(t.k) / Step::kKr;
    const size_t step_elements = width * Step::kKr;  // per operand per k-step
    const svbool_t step_lanes = sme2::all_lanes(Element{});
    for (size_t n0 = t.n_begin; n0 < t.n_end; n0 += width) {
      const size_t panel = n0 / width - t.rhs_first_panel;
      const Element* b = RhsFormat::panel_data(t.rhs_payload, panel, t.k, vl);
      svzero_za();
      if constexpr (kDequantizes) {
        sme2::start_from_zero_points(LhsFormat::row_params(t.lhs_panel),
                                     RhsFormat::panel_bias(t.rhs_payload, panel, t.k, vl));
      } else if (t.has_bias) {
        sme2::start_from_bias(RhsFormat::panel_bias(t.rhs_payload, panel, t.k, vl));
      }
      const Element* a = LhsFormat::panel_data(t.lhs_panel, vl);
#pragma clang loop unroll_count(4)
      for (size_t s = 0; s < steps; ++s) {
        Step::step(step_lanes, a, b);
        a += step_elements;
        b += step_elements;
      }
      if constexpr (kDequantizes) {
        sme2::dequantize_2vlx2vl(LhsFormat::row_params(t.lhs_panel),
                                 RhsFormat::panel_bias(t.rhs_payload, panel, t.k, vl), t.scratch);
      }
      using sme2::detail::RowStages;
      if constexpr (kExit >= Exit::kRequant) {
        constexpr bool kTransposed = kExit == Exit::kRequantTransposed ||
                                     kExit == Exit::kRequantClampTransposed ||
                                     kExit == Exit::kRequantStagedTransposed;
        constexpr bool kStaged =
            kExit == Exit::kRequantStaged || kExit == Exit::kRequantStagedTransposed;
        constexpr bool kClamp =
            kStaged || kExit == Exit::kRequantClamp || kExit == Exit::kRequantClampTransposed;
        sme2::store_2vlx2vl_requant<kClamp, kTransposed, kStaged>(
            t.rows, n0, t.n_end, RhsFormat::panel_bias(t.rhs_payload, panel, t.k, vl),
            plan.out_zero_point, plan.quantized_range.min, plan.quantized_range.max,
            plan.int8_stages, kTransposed ? t.c + n0 * t.ldc : t.c + n0, t.ldc,
            reinterpret_cast<int32_t*>(t.scratch));
      } else if constexpr (kExit == Exit::kAffine || kExit == Exit::kAffineTransposed) {
        constexpr bool kT = kExit == Exit::kAffineTransposed;
        sme2::store_2vlx2vl_in_za<kT>(t.rows, n0, t.n_end, plan, kT ? t.c + n0 * t.ldc : t.c + n0,
                                      t.ldc, t.scratch);
      } else if constexpr (kExit == Exit::kSigmoid || kExit == Exit::kSigmoidTransposed) {
        constexpr bool kT = kExit == Exit::kSigmoidTransposed;
        sme2::store_2vlx2vl_sigmoid_za<kT, kAct, kAffine>(
            t.rows, n0, t.n_end, plan, kT ? t.c + n0 * t.ldc : t.c + n0, t.ldc, t.scratch);
      } else if constexpr (kExit == Exit::kTransposed) {
        sme2::store_2vlx2vl_transposed(t.rows, n0, t.n_end, plan, t.c + n0 * t.ldc, t.ldc,
                                       t.scratch);
      } else if constexpr (kExit == Exit::kRowsFull) {
        sme2::store_2vlx2vl_via_memory<RowStages::kFull>(t.rows, n0, t.n_end, plan, t.c + n0, t.ldc,
                                                         t.scratch);
      } else if constexpr (kExit == Exit::kRowsClamp) {
        sme2::store_2vlx2vl_via_memory<RowStages::kClamp>(t.rows, n0, t.n_end, plan, t.c + n0,
                                                          t.ldc, t.scratch);
      } else if constexpr (kExit == Exit::kRowsStore) {
        sme2::store_2vlx2vl_via_memory<RowStages::kStore>(t.rows, n0, t.n_end, plan, t.c + n0,
                                                          t.ldc, t.scratch);
      } else if constexpr (std::is_same_v<Out, float>) {
        const svbool_t cols_lo = svwhilelt_b32_u64(n0, t.n_end);
        const svbool_t cols_hi = svwhilelt_b32_u64(n0 + vl, t.n_end);
        if constexpr (kExit == Exit::kDirectClamp) {
          sme2::store_f32_2vlx2vl_clamped(t.rows, cols_lo, cols_hi, svdup_f32(plan.clamp.min),
                                          svdup_f32(plan.clamp.max), t.c + n0, t.ldc);
        } else {
          sme2::store_f32_2vlx2vl(t.rows, cols_lo, cols_hi, t.c + n0, t.ldc);
        }
      }
    }
  }
};

}  // namespace sme2k

#endif  // SME2K_HAS_SME2_CODE
