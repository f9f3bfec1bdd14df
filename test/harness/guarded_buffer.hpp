// Guard-page buffers: test operands placed flush against an inaccessible page, so a kernel
// that reads or writes one byte past its operand (or before it) faults on the spot instead of
// passing silently on whatever memory happens to follow.
//
// Layout of one mapping (page = 4 KiB or whatever the OS uses):
//
//   | guard (PROT_NONE) | slack (canary) | buffer | guard (PROT_NONE) |     GuardSide::kEnd
//   | guard (PROT_NONE) | buffer | slack (canary) | guard (PROT_NONE) |     GuardSide::kStart
//
// The slack on the other side is filled with a canary pattern, so a stray write there is
// caught afterwards by canary_intact(). A fault inside a guard page prints one line (write(2),
// from a SIGSEGV/SIGBUS handler installed with the first buffer) naming the buffer, and then
// kills the process with the signal, as an unhandled fault would: gtest and ctest report it.
//   sme2k test harness: access to guard page at 0x7f3f1d6b8000 (1 byte past the end of a
//   buffer of 40 bytes: offset 40)
// Distances count bytes, so the neighbours on either side are "1 byte" away; the offset is
// the faulting address minus data(). Faults anywhere else go to the handler installed before
// (AddressSanitizer's on the host) or get the default action.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

namespace sme2k {
namespace test {

/// Which guard page the usable bytes touch.
enum class GuardSide : uint8_t {
  kEnd,    ///< the last byte is followed by the guard page: catches overruns
  kStart,  ///< the first byte follows the guard page: catches underruns
};

const char* guard_side_name(GuardSide side);

/// Bytes in a guard-page mapping, move-only. Zero bytes are allowed: data() then points at the
/// guard boundary (touching it faults) and size() is 0.
class GuardedBuffer {
 public:
  /// An empty, unmapped buffer (data() is null).
  GuardedBuffer() = default;
  /// @param[in] bytes      usable bytes, zero-initialized
  /// @param[in] side       which guard page they touch
  /// @param[in] alignment  of data(), a power of two <= the page size; with kEnd, bytes that
  ///                       are not a multiple of it leave a canary gap before the guard page
  explicit GuardedBuffer(size_t bytes, GuardSide side = GuardSide::kEnd, size_t alignment = 1);
  ~GuardedBuffer();
  GuardedBuffer(GuardedBuffer&& other) noexcept;
  GuardedBuffer& operator=(GuardedBuffer&& other) noexcept;
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  GuardSide side() const { return side_; }

  /// Whether the slack between the buffer and the far guard page still holds the canary.
  bool canary_intact() const;
  /// Bytes of canary slack before and after the buffer (one of them is 0 when the buffer is
  /// flush against its guard).
  size_t slack_before() const;
  size_t slack_after() const;

  static size_t page_size();

 private:
  void release();

  uint8_t* map_ = nullptr;  // whole mapping, guards included
  size_t map_bytes_ = 0;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  GuardSide side_ = GuardSide::kEnd;
  int registry_slot_ = -1;  // fault-message registry entry, -1 when none
};

/// A typed GuardedBuffer of `count` elements aligned to alignof(T). With kEnd the last element
/// ends exactly at the guard page (the page boundary is aligned for any T up to a page).
/// Elements start zero-filled; T must be trivially copyable (f16, float, int8_t, ...).
template <class T>
class GuardedArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                "GuardedArray holds plain data: its elements start as zero bytes");
  static_assert(alignof(T) <= 4096, "GuardedArray: alignment above a page is not supported");

 public:
  GuardedArray() = default;
  explicit GuardedArray(size_t count, GuardSide side = GuardSide::kEnd)
      : buffer_(count * sizeof(T), side, alignof(T)), count_(count) {}
  explicit GuardedArray(const std::vector<T>& values, GuardSide side = GuardSide::kEnd)
      : GuardedArray(values.size(), side) {
    assign(values);
  }
  GuardedArray(GuardedArray&& other) noexcept
      : buffer_(std::move(other.buffer_)), count_(std::exchange(other.count_, 0)) {}
  GuardedArray& operator=(GuardedArray&& other) noexcept {
    buffer_ = std::move(other.buffer_);
    count_ = std::exchange(other.count_, 0);
    return *this;
  }

  T* data() { return reinterpret_cast<T*>(buffer_.data()); }
  const T* data() const { return reinterpret_cast<const T*>(buffer_.data()); }
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  size_t size_bytes() const { return buffer_.size(); }
  GuardSide side() const { return buffer_.side(); }

  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  T* begin() { return data(); }
  T* end() { return data() + count_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + count_; }

  /// Copies min(size(), values.size()) elements from `values`.
  void assign(const std::vector<T>& values) {
    const size_t n = values.size() < count_ ? values.size() : count_;
    if (n != 0) std::memcpy(data(), values.data(), n * sizeof(T));
  }
  /// Sets element i to gen(i) when gen takes an index, else to gen(), in order.
  template <class Gen>
  void generate(Gen&& gen) {
    for (size_t i = 0; i < count_; ++i) {
      if constexpr (std::is_invocable_v<Gen&, size_t>) {
        data()[i] = static_cast<T>(gen(i));
      } else {
        data()[i] = static_cast<T>(gen());
      }
    }
  }
  void fill(const T& value) {
    for (T& x : *this) x = value;
  }
  std::vector<T> to_vector() const { return std::vector<T>(begin(), end()); }

  bool canary_intact() const { return buffer_.canary_intact(); }
  const GuardedBuffer& buffer() const { return buffer_; }

 private:
  GuardedBuffer buffer_;
  size_t count_ = 0;
};

}  // namespace test
}  // namespace sme2k
