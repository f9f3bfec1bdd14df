// Which attention kernel runs a (variant, output type, path, shape): looked up in
// registry.hpp's AttentionKernels by the kernel's Input, Output and kPath, so a new kernel
// joins dispatch by being listed there, and the op never names one. A kernel with kDecode (few
// query rows per KV head) is offered beside the any-shape one of its path and runs where its
// fits(shape, vl) says it beats it.
#pragma once

#include <type_traits>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/kernels/registry.hpp"
#include "sme2k/types/attention.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {
namespace detail {
template <class K, class = void>
struct IsDecodeKernel : std::false_type {};
template <class K>
struct IsDecodeKernel<K, std::void_t<decltype(K::kDecode)>> : std::bool_constant<K::kDecode> {};

template <class In, class Out, Path P, bool kDecode, class List>
struct FindAttentionKernel {
  using type = void;
};
template <class In, class Out, Path P, bool kDecode, class K, class... Rest>
struct FindAttentionKernel<In, Out, P, kDecode, TypeList<K, Rest...>> {
  using type = std::conditional_t<
      std::is_same_v<typename K::Input, In> && std::is_same_v<typename K::Output, Out> &&
          K::kPath == P && IsDecodeKernel<K>::value == kDecode,
      K, typename FindAttentionKernel<In, Out, P, kDecode, TypeList<Rest...>>::type>;
};
}  // namespace detail

/// The any-shape attention kernel of variant V writing Out on path P, or void when none is
/// listed.
template <class V, class Out, Path P>
using AttentionKernelFor = typename detail::FindAttentionKernel<typename VariantTraits<V>::Lhs, Out,
                                                                P, false, AttentionKernels>::type;
/// The decode kernel of (V, Out, P), or void.
template <class V, class Out, Path P>
using AttentionDecodeKernelFor =
    typename detail::FindAttentionKernel<typename VariantTraits<V>::Lhs, Out, P, true,
                                         AttentionKernels>::type;

/// Calls fn(KernelTag<K>{}) with the attention kernel of (V, Out) for `path` and `shape`: on
/// kSme2 and kSme2F16F16 the SME2 decode kernel where it fits the shape, else the SME2 one,
/// when listed; else the portable one.
template <class V, class Out, class Fn>
decltype(auto) visit_attention_kernel(Path path, const AttentionShape& shape, Fn&& fn) {
  using Portable = AttentionKernelFor<V, Out, Path::kPortable>;
  static_assert(!std::is_void_v<Portable>, "sme2k: attention needs a portable kernel");
  using Sme2 = AttentionKernelFor<V, Out, Path::kSme2>;
  using Decode = AttentionDecodeKernelFor<V, Out, Path::kSme2>;
  if constexpr (!std::is_void_v<Decode>) {
    if (path != Path::kPortable && Decode::fits(shape, kernel_vl<Decode>())) {
      return fn(KernelTag<Decode>{});
    }
  }
  if constexpr (!std::is_void_v<Sme2>) {
    if (path != Path::kPortable) return fn(KernelTag<Sme2>{});
  }
  return fn(KernelTag<Portable>{});
}

}  // namespace sme2k
