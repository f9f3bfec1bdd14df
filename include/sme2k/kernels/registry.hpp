// The one list of micro-kernels. Dispatch, tests (names, formats) and benchmarks all read it;
// a kernel that is not listed here does not exist for sme2k.
//
// Each kernel type states its Variant, Path, kName (docs/naming.md) and the LhsFormat /
// RhsFormat it consumes, so a pack/kernel mismatch is a compile error. A build without SME2
// code (x86-64, GCC, SME2K_NO_SME2) simply lists fewer kernels.
// The row ops (RMSNorm, LayerNorm, RoPE: kernels/sme2/row_norm_za.hpp, rope_za.hpp) are not
// listed: they have no variant, no packed operands and no tile, which is all this table and
// docs/naming.md describe; each has exactly one kernel per path, chosen by select_path().
#pragma once

#include <cstddef>
#include <string_view>
#include <type_traits>

#include "sme2k/arch/config.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/kernels/portable/attention_portable.hpp"
#include "sme2k/kernels/portable/gemm_bf16_bf16_bf16p8x1bf32_4x8_portable_loops.hpp"
#include "sme2k/kernels/portable/gemm_f16_f16_f16p8x1bf32_4x8_portable_loops.hpp"
#include "sme2k/kernels/portable/gemm_f32_f32_f32p8x1bf32_4x8_portable_loops.hpp"
#include "sme2k/kernels/portable/gemm_f32_qd8_qb4p8x1bf32_4x8_portable_loops.hpp"
#include "sme2k/kernels/portable/gemm_f32_qd8_qc4p8x1bf32_4x8_portable_loops.hpp"
#include "sme2k/kernels/portable/gemm_f32_qd8_qc8p8x1bf32_4x8_portable_loops.hpp"
#include "sme2k/kernels/portable/gemm_qs8_qs8_qs8p8x1bs32_4x8_portable_loops.hpp"
#include "sme2k/kernels/sme2/attention_decode_sme2.hpp"
#include "sme2k/kernels/sme2/attention_sme2.hpp"
#include "sme2k/kernels/sme2/gemm_bf16_bf16_bf16p2vlx2bf32_4x2vl_sme2_dot.hpp"
#include "sme2k/kernels/sme2/gemm_bf16_bf16p2vlx2_bf16p2vlx2bf32_2vlx2vl_sme2_mopa.hpp"
#include "sme2k/kernels/sme2/gemm_f16_f16_f16p2vlx2bf32_4x2vl_sme2_dot.hpp"
#include "sme2k/kernels/sme2/gemm_f16_f16p2vlx1_f16p4vlx1bf16_2vlx4vl_sme2_mopa.hpp"
#include "sme2k/kernels/sme2/gemm_f16_f16p2vlx2_f16p2vlx2bf32_2vlx2vl_sme2_mopa.hpp"
#include "sme2k/kernels/sme2/gemm_f32_f32_f32p2vlx1bf32_4x2vl_sme2_dot.hpp"
#include "sme2k/kernels/sme2/gemm_f32_f32p2vlx1_f32p2vlx1bf32_2vlx2vl_sme2_mopa.hpp"
#include "sme2k/kernels/sme2/gemm_f32_qd8_qb4p2vlx4bf32_1x2vl_sme2_dot.hpp"
#include "sme2k/kernels/sme2/gemm_f32_qd8_qc4p2vlx4bf32_2x2vl_sme2_dot.hpp"
#include "sme2k/kernels/sme2/gemm_f32_qd8p2vlx1_qb4p2vlx4bf32_2vlx2vl_sme2_mopa.hpp"
#include "sme2k/kernels/sme2/gemm_f32_qd8p2vlx4_qc4p2vlx4bf32_2vlx2vl_sme2_mopa.hpp"
#include "sme2k/kernels/sme2/gemm_f32_qd8p2vlx4_qc8p2vlx4bf32_2vlx2vl_sme2_mopa.hpp"
#include "sme2k/kernels/sme2/gemm_qs8_qs8p2vlx4_qs8p2vlx4bs32_2vlx2vl_sme2_mopa.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {

using GemmKernels = TypeList<
#if SME2K_HAS_SME2_CODE
    GemmF32F32p2vlx1F32p2vlx1bf32_2vlx2vlSme2Mopa, GemmF16F16p2vlx2F16p2vlx2bf32_2vlx2vlSme2Mopa,
    GemmF32F32F32p2vlx1bf32_4x2vlSme2Dot, GemmF16F16F16p2vlx2bf32_4x2vlSme2Dot,
#if SME2K_HAS_SME_F16F16_CODE
    GemmF16F16p2vlx1F16p4vlx1bf16_2vlx4vlSme2Mopa,
#endif
    GemmQs8Qs8p2vlx4Qs8p2vlx4bs32_2vlx2vlSme2Mopa, GemmF32Qd8p2vlx4Qc8p2vlx4bf32_2vlx2vlSme2Mopa,
    GemmF32Qd8p2vlx4Qc4p2vlx4bf32_2vlx2vlSme2Mopa, GemmF32Qd8Qc4p2vlx4bf32_2x2vlSme2Dot,
    GemmF32Qd8p2vlx1Qb4p2vlx4bf32_2vlx2vlSme2Mopa, GemmF32Qd8Qb4p2vlx4bf32_1x2vlSme2Dot,
    GemmBf16Bf16p2vlx2Bf16p2vlx2bf32_2vlx2vlSme2Mopa, GemmBf16Bf16Bf16p2vlx2bf32_4x2vlSme2Dot,
#endif
    GemmF32F32F32p8x1bf32_4x8PortableLoops, GemmF16F16F16p8x1bf32_4x8PortableLoops,
    GemmQs8Qs8Qs8p8x1bs32_4x8PortableLoops, GemmF32Qd8Qc8p8x1bf32_4x8PortableLoops,
    GemmF32Qd8Qc4p8x1bf32_4x8PortableLoops, GemmF32Qd8Qb4p8x1bf32_4x8PortableLoops,
    GemmBf16Bf16Bf16p8x1bf32_4x8PortableLoops>;

/// The attention kernels (ops/detail/attention_call.hpp's contract), one per (input,
/// output, path); kernels/attention_registry.hpp picks from this list.
using AttentionKernels = TypeList<
#if SME2K_HAS_SME2_CODE
    sme2::AttentionSme2<f16, f16>, sme2::AttentionSme2<f16, float>,
    sme2::AttentionSme2<float, float>, sme2::AttentionDecodeSme2<f16, f16>,
    sme2::AttentionDecodeSme2<f16, float>,
#endif
    AttentionPortable<f16, f16>, AttentionPortable<f16, float>, AttentionPortable<float, float>>;

/// What a GEMM kernel is for: any M, or only few rows (it has kMaxRows, and the op runs it
/// for M <= kMaxRows on the weights the any-M kernel of its path reads).
enum class KernelUse : uint8_t { kAnyM = 1, kSmallM = 2 };

namespace detail {
template <class K, class = void>
struct UseOf : std::integral_constant<KernelUse, KernelUse::kAnyM> {};
template <class K>
struct UseOf<K, std::void_t<decltype(K::kMaxRows)>>
    : std::integral_constant<KernelUse, KernelUse::kSmallM> {};

template <class V, Path P, KernelUse U, class List>
struct FindGemmKernel {
  using type = void;
};
template <class V, Path P, KernelUse U, class K, class... Rest>
struct FindGemmKernel<V, P, U, TypeList<K, Rest...>> {
  using type = std::conditional_t<std::is_same_v<typename K::Variant, V> && K::kPath == P &&
                                      UseOf<K>::value == U,
                                  K, typename FindGemmKernel<V, P, U, TypeList<Rest...>>::type>;
};
}  // namespace detail

template <class K>
inline constexpr KernelUse kKernelUse = detail::UseOf<K>::value;

namespace detail {
template <class V, class = void>
struct FallbackOf {
  using type = void;
};
template <class V>
struct FallbackOf<V, std::void_t<typename VariantTraits<V>::Fallback>> {
  using type = typename VariantTraits<V>::Fallback;
};
// V's own kernel, else its fallback variant's (F16Acc16 has kernels on one path only).
template <class V, Path P, KernelUse U, class Fallback = typename FallbackOf<V>::type>
struct KernelOrFallback {
  using Own = typename FindGemmKernel<V, P, U, GemmKernels>::type;
  using type = std::conditional_t<!std::is_void_v<Own>, Own,
                                  typename KernelOrFallback<Fallback, P, U>::type>;
};
template <class V, Path P, KernelUse U>
struct KernelOrFallback<V, P, U, void> {
  using type = typename FindGemmKernel<V, P, U, GemmKernels>::type;
};
}  // namespace detail

/// The GEMM kernel of variant V on path P for any M (or only for few rows, U = kSmallM),
/// V's fallback variant's when V has none there, or void when this build has none.
template <class V, Path P, KernelUse U = KernelUse::kAnyM>
using GemmKernelFor = typename detail::KernelOrFallback<V, P, U>::type;

/// The path a call of variant V runs: its preferred path when it has a kernel there and the
/// CPU can run it (kSme2F16F16 for F16Acc16), else select_path().
template <class V>
Path select_path_for() {
  using F16F16 =
      typename detail::FindGemmKernel<V, Path::kSme2F16F16, KernelUse::kAnyM, GemmKernels>::type;
  if constexpr (!std::is_void_v<F16F16>) return select_path(Path::kSme2F16F16);
  return select_path();
}

template <class K>
struct KernelTag {
  using type = K;
};

/// Calls fn(KernelTag<K>{}) with the GEMM kernel of variant V for `path`, falling back to the
/// portable kernel when this build has no kernel for the path. kF16F16 = false leaves out the
/// f16-accumulating kernel (ops it does not serve yet), running the baseline SME2 one.
template <class V, bool kF16F16 = true, class Fn>
decltype(auto) visit_gemm_kernel(Path path, Fn&& fn) {
  using Portable = GemmKernelFor<V, Path::kPortable>;
  static_assert(!std::is_void_v<Portable>, "sme2k: every variant needs a portable kernel");
  using Sme2 = GemmKernelFor<V, Path::kSme2>;
  using Sme2F16F16 = std::conditional_t<kF16F16, GemmKernelFor<V, Path::kSme2F16F16>, void>;
  if constexpr (!std::is_void_v<Sme2F16F16>) {
    if (path == Path::kSme2F16F16) return fn(KernelTag<Sme2F16F16>{});
  }
  if constexpr (!std::is_void_v<Sme2>) {
    if (path == Path::kSme2 || path == Path::kSme2F16F16) return fn(KernelTag<Sme2>{});
  }
  return fn(KernelTag<Portable>{});
}

/// The VL a kernel's packed formats are laid out for on this thread (0: fixed-size formats).
template <class Kernel>
size_t kernel_vl() {
  return Kernel::kPath == Path::kPortable ? 0 : streaming_vl();
}

/// What tests and benchmarks need to know of a kernel without instantiating it.
struct KernelInfo {
  std::string_view name;
  std::string_view lhs_format;
  std::string_view rhs_format;
  Path path;
  VariantId variant;
  KernelUse use;
};

namespace detail {
template <class... Ks>
constexpr auto kernel_infos(TypeList<Ks...>) {
  struct Table {
    KernelInfo items[sizeof...(Ks)];
  };
  return Table{{KernelInfo{Ks::kName, Ks::LhsFormat::kName, Ks::RhsFormat::kName, Ks::kPath,
                           VariantTraits<typename Ks::Variant>::kId, kKernelUse<Ks>}...}};
}
}  // namespace detail

/// Every GEMM kernel of this build.
inline constexpr auto kGemmKernelInfos = detail::kernel_infos(GemmKernels{});

}  // namespace sme2k
