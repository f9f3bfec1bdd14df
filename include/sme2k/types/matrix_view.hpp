// A row-major matrix that sme2k reads or writes where it lies: pointer, extents, leading
// dimension (elements between the starts of consecutive rows, >= cols).
#pragma once

#include <cstddef>

namespace sme2k {

template <class T>
struct MatrixView {
  T* data = nullptr;  // rows x cols, row r at data + r * ld
  size_t rows = 0;
  size_t cols = 0;
  size_t ld = 0;

  T& operator()(size_t r, size_t c) const { return data[r * ld + c]; }
  operator MatrixView<const T>() const { return {data, rows, cols, ld}; }
};

/// A dense row-major view (ld = cols).
template <class T>
MatrixView<T> dense_matrix(T* data, size_t rows, size_t cols) {
  return {data, rows, cols, cols};
}

}  // namespace sme2k
