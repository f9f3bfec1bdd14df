// The (variant, output type) pairs typed tests run over, with readable names
// ("f16_to_f32"), shared by the GEMM and batched-matmul suites.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <type_traits>

#include "sme2k/sme2k.hpp"

namespace sme2k {
namespace test {

template <class V, class O>
struct Case {
  using Variant = V;
  using Out = O;
};

struct CaseNames {
  template <class C>
  static std::string GetName(int) {
    return std::string(VariantTraits<typename C::Variant>::kName) + "_to_" +
           (std::is_same_v<typename C::Out, f16>    ? "f16"
            : std::is_same_v<typename C::Out, bf16> ? "bf16"
                                                    : "f32");
  }
};

}  // namespace test
}  // namespace sme2k
