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
#include "sme2k/kernels/sme2/gemm_f16_f16p2vlx2_f16p2vlx2bf32_2vlx2vl_sme2_mopa.hpp"
#include "sme2k/kernels/sme2/gemm_f32_f32p2vlx1_f32p2vlx1bf32_2vlx2vl_sme2_mopa.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {

template <class... Ts>
struct TypeList {};

using GemmKernels = TypeList<
#if SME2K_HAS_SME2_CODE
    GemmF32F32p2vlx1F32p2vlx1bf32_2vlx2vlSme2Mopa, GemmF16F16p2vlx2F16p2vlx2bf32_2vlx2vlSme2Mopa,
#endif
    GemmF32F32F32p8x1bf32_4x8PortableLoops, GemmF16F16F16p8x1bf32_4x8PortableLoops>;

namespace detail {
template <class V, Path P, class List>
struct FindGemmKernel {
  using type = void;
};
template <class V, Path P, class K, class... Rest>
struct FindGemmKernel<V, P, TypeList<K, Rest...>> {
  using type = std::conditional_t<std::is_same_v<typename K::Variant, V> && K::kPath == P, K,
                                  typename FindGemmKernel<V, P, TypeList<Rest...>>::type>;
};
}  // namespace detail

/// The GEMM kernel of variant V on path P, or void when this build has none.
template <class V, Path P>
using GemmKernelFor = typename detail::FindGemmKernel<V, P, GemmKernels>::type;

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
};

namespace detail {
template <class... Ks>
constexpr auto kernel_infos(TypeList<Ks...>) {
  struct Table {
    KernelInfo items[sizeof...(Ks)];
  };
  return Table{{KernelInfo{Ks::kName, Ks::LhsFormat::kName, Ks::RhsFormat::kName, Ks::kPath,
                           VariantTraits<typename Ks::Variant>::kId}...}};
}
}  // namespace detail

/// Every GEMM kernel of this build.
inline constexpr auto kGemmKernelInfos = detail::kernel_infos(GemmKernels{});

}  // namespace sme2k
