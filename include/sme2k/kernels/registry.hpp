// The one list of micro-kernels. Dispatch, tests (names, formats) and benchmarks all read it;
// a kernel that is not listed here does not exist for sme2k.
//
// Each kernel type states its Variant, Path, kName (docs/naming.md) and the LhsFormat /
// RhsFormat it consumes, so a pack/kernel mismatch is a compile error. A build without SME2
// code (x86-64, GCC, SME2K_NO_SME2) simply lists fewer kernels.
#pragma once

#include <cstddef>
#include <string_view>
#include <type_traits>

#include "sme2k/arch/config.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/kernels/portable/gemm_f16_f16_f16p8x1bf32_4x8_portable_loops.hpp"
#include "sme2k/kernels/portable/gemm_f32_f32_f32p8x1bf32_4x8_portable_loops.hpp"
#include "sme2k/kernels/sme2/gemm_f16_f16_f16p2vlx2bf32_4x2vl_sme2_dot.hpp"
#include "sme2k/kernels/sme2/gemm_f16_f16p2vlx2_f16p2vlx2bf32_2vlx2vl_sme2_mopa.hpp"
#include "sme2k/kernels/sme2/gemm_f32_f32_f32p2vlx1bf32_4x2vl_sme2_dot.hpp"
#include "sme2k/kernels/sme2/gemm_f32_f32p2vlx1_f32p2vlx1bf32_2vlx2vl_sme2_mopa.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {

template <class... Ts>
struct TypeList {};

using GemmKernels = TypeList<
#if SME2K_HAS_SME2_CODE
    GemmF32F32p2vlx1F32p2vlx1bf32_2vlx2vlSme2Mopa, GemmF16F16p2vlx2F16p2vlx2bf32_2vlx2vlSme2Mopa,
    GemmF32F32F32p2vlx1bf32_4x2vlSme2Dot, GemmF16F16F16p2vlx2bf32_4x2vlSme2Dot,
#endif
    GemmF32F32F32p8x1bf32_4x8PortableLoops, GemmF16F16F16p8x1bf32_4x8PortableLoops>;

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

/// The GEMM kernel of variant V on path P for any M (or only for few rows, U = kSmallM), or
/// void when this build has none.
template <class V, Path P, KernelUse U = KernelUse::kAnyM>
using GemmKernelFor = typename detail::FindGemmKernel<V, P, U, GemmKernels>::type;

template <class K>
struct KernelTag {
  using type = K;
};

/// Calls fn(KernelTag<K>{}) with the GEMM kernel of variant V for `path`, falling back to the
/// portable kernel when this build has no kernel for the path.
template <class V, class Fn>
decltype(auto) visit_gemm_kernel(Path path, Fn&& fn) {
  using Portable = GemmKernelFor<V, Path::kPortable>;
  static_assert(!std::is_void_v<Portable>, "sme2k: every variant needs a portable kernel");
  using Sme2 = GemmKernelFor<V, Path::kSme2>;
  if constexpr (!std::is_void_v<Sme2>) {
    if (path == Path::kSme2) return fn(KernelTag<Sme2>{});
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
