// The alignment rule for caller arrays: every pointer to elements of type T (float, f16,
// int32_t, ...) is aligned to alignof(T), as C and C++ require of any T* that is read. sme2k
// reads them as T (plain loops, and the portable path's references), so a misaligned one is
// refused with kInvalidArgument at the door instead of read with undefined behaviour.
// int8 and byte data (int8 matrices, 4-bit weights, Q4_0 blocks) take any alignment.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sme2k/types/status.hpp"

namespace sme2k {

/// Whether `p` may point to a T (null is: null pointers are refused by their own checks).
template <class T>
bool is_element_aligned(const T* p) {
  return reinterpret_cast<uintptr_t>(p) % alignof(T) == 0;
}

/// kInvalidArgument naming `op` and `what` when `p` is not aligned to its elements.
template <class T>
Status check_element_aligned(const T* p, const char* op, const char* what) {
  if (is_element_aligned(p)) return Status();
  return Status::error(StatusCode::kInvalidArgument,
                       "%s: %s (%p) is not aligned to its %zu-byte elements", op, what,
                       static_cast<const void*>(p), alignof(T));
}

}  // namespace sme2k
