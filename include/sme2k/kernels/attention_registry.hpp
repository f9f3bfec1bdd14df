// Which attention kernel runs a (variant, output type, path): looked up in registry.hpp's
// AttentionKernels by the kernel's Input, Output and kPath, so a new kernel joins dispatch
// by being listed there, and the op never names one.
#pragma once

#include <type_traits>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/kernels/registry.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {
namespace detail {
template <class In, class Out, Path P, class List>
struct FindAttentionKernel {
  using type = void;
};
template <class In, class Out, Path P, class K, class... Rest>
struct FindAttentionKernel<In, Out, P, TypeList<K, Rest...>> {
  using type =
      std::conditional_t<std::is_same_v<typename K::Input, In> &&
                             std::is_same_v<typename K::Output, Out> && K::kPath == P,
                         K, typename FindAttentionKernel<In, Out, P, TypeList<Rest...>>::type>;
};
}  // namespace detail

/// The attention kernel of variant V writing Out on path P, or void when none is listed.
template <class V, class Out, Path P>
using AttentionKernelFor = typename detail::FindAttentionKernel<typename VariantTraits<V>::Lhs, Out,
                                                                P, AttentionKernels>::type;

/// Calls fn(KernelTag<K>{}) with the attention kernel of (V, Out) for `path`: the SME2 one
/// on kSme2 and kSme2F16F16 when listed, else the portable one.
template <class V, class Out, class Fn>
decltype(auto) visit_attention_kernel(Path path, Fn&& fn) {
  using Portable = AttentionKernelFor<V, Out, Path::kPortable>;
  static_assert(!std::is_void_v<Portable>, "sme2k: attention needs a portable kernel");
  using Sme2 = AttentionKernelFor<V, Out, Path::kSme2>;
  if constexpr (!std::is_void_v<Sme2>) {
    if (path != Path::kPortable) return fn(KernelTag<Sme2>{});
  }
  return fn(KernelTag<Portable>{});
}

}  // namespace sme2k
