// The result of every public sme2k call: a code a program can branch on and a message a
// person can read ("gemm: lda (5) is smaller than K (7)"). Nothing in sme2k throws or aborts.
#pragma once

#include <cstdarg>
#include <cstdio>

namespace sme2k {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,  ///< a size is zero, a stride too small, a parameter out of its range
  kNullPointer,      ///< a required pointer is null
  kSizeOverflow,     ///< sizes whose products or byte counts do not fit in size_t
  kBufferTooSmall,   ///< a workspace or packed buffer is shorter than required
  kUnsupported,      ///< a type, layout or option this build or CPU does not provide
  kPackedMismatch,   ///< packed data made for another variant, format, path, SVL or shape
  kOutOfMemory,      ///< an allocating convenience overload could not allocate
};

inline const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kNullPointer: return "null pointer";
    case StatusCode::kSizeOverflow: return "size overflow";
    case StatusCode::kBufferTooSmall: return "buffer too small";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kPackedMismatch: return "packed data mismatch";
    case StatusCode::kOutOfMemory: return "out of memory";
  }
  return "unknown status";
}

class [[nodiscard]] Status {
 public:
  /// Success.
  constexpr Status() = default;

  /// An error with a printf-formatted message (truncated to kMessageCapacity - 1 chars).
  __attribute__((format(printf, 2, 3))) static Status error(StatusCode code, const char* format,
                                                            ...) {
    Status s;
    s.code_ = code;
    va_list args;
    va_start(args, format);
    std::vsnprintf(s.message_, kMessageCapacity, format, args);
    va_end(args);
    return s;
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  /// "ok" on success, else the error's message.
  const char* message() const { return ok() ? "ok" : message_; }

  static constexpr int kMessageCapacity = 120;

 private:
  StatusCode code_ = StatusCode::kOk;
  char message_[kMessageCapacity] = {};
};

}  // namespace sme2k

/// Returns the Status of `expr` from the enclosing function when it is an error.
#define SME2K_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::sme2k::Status sme2k_status_ = (expr);        \
    if (!sme2k_status_.ok()) return sme2k_status_; \
  } while (0)
