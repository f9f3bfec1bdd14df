#include "harness/guarded_buffer.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace sme2k {
namespace test {
namespace {

// ---------------------------------------------------------------------------------------------
// Registry of live guard mappings, read by the fault handler. Fixed size and lock-free: the
// handler may not allocate or take locks. 1024 slots: a test keeps a handful of operands alive
// (a GEMM case has six); past that, buffers still fault, only without the message.

constexpr int kRegistrySlots = 1024;

struct GuardRecord {
  std::atomic<int> state{0};  // kFree, kWriting, kLive
  std::atomic<uintptr_t> map_begin{0};
  std::atomic<uintptr_t> map_end{0};
  std::atomic<uintptr_t> data_begin{0};
  std::atomic<uintptr_t> data_size{0};
};
constexpr int kFree = 0, kWriting = 1, kLive = 2;

GuardRecord g_registry[kRegistrySlots];

int register_guards(uintptr_t map_begin, uintptr_t map_end, uintptr_t data_begin,
                    uintptr_t data_size) {
  for (int i = 0; i < kRegistrySlots; ++i) {
    GuardRecord& r = g_registry[i];
    int expected = kFree;
    if (!r.state.compare_exchange_strong(expected, kWriting, std::memory_order_acquire)) continue;
    r.map_begin.store(map_begin, std::memory_order_relaxed);
    r.map_end.store(map_end, std::memory_order_relaxed);
    r.data_begin.store(data_begin, std::memory_order_relaxed);
    r.data_size.store(data_size, std::memory_order_relaxed);
    r.state.store(kLive, std::memory_order_release);
    return i;
  }
  return -1;
}

void unregister_guards(int slot) {
  if (slot >= 0) g_registry[slot].state.store(kFree, std::memory_order_release);
}

// ---------------------------------------------------------------------------------------------
// Async-signal-safe message formatting: a fixed buffer, no stdio.

struct Message {
  char text[192];
  size_t length = 0;

  void append(const char* s) {
    while (*s != '\0' && length < sizeof text) text[length++] = *s++;
  }
  void append_hex(uintptr_t v) {
    char digits[2 * sizeof v];
    int n = 0;
    do {
      digits[n++] = "0123456789abcdef"[v & 0xf];
      v >>= 4;
    } while (v != 0);
    append("0x");
    while (n > 0 && length < sizeof text) text[length++] = digits[--n];
  }
  void append_dec(uintptr_t v) {
    char digits[24];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0 && length < sizeof text) text[length++] = digits[--n];
  }
  void write_to_stderr() const {
    size_t done = 0;
    while (done < length) {
      const ssize_t w = write(STDERR_FILENO, text + done, length - done);
      if (w <= 0) return;
      done += static_cast<size_t>(w);
    }
  }
};

// Both signals are chained to whatever handler was installed before ours (AddressSanitizer's
// on the host build), so faults outside guard pages are reported as they were.
struct sigaction g_previous_segv;
struct sigaction g_previous_bus;

void die_with_default_action(int sig) {
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  // Pending until the handler returns (the signal is blocked meanwhile), then fatal; a real
  // fault would also recur when the faulting instruction runs again.
  raise(sig);
}

// Whether `addr` lies in a registered guard page; if so, says where, relative to the buffer.
bool describe_guard_fault(uintptr_t addr, Message* m) {
  for (GuardRecord& r : g_registry) {
    if (r.state.load(std::memory_order_acquire) != kLive) continue;
    const uintptr_t begin = r.map_begin.load(std::memory_order_relaxed);
    const uintptr_t end = r.map_end.load(std::memory_order_relaxed);
    const uintptr_t data = r.data_begin.load(std::memory_order_relaxed);
    const uintptr_t size = r.data_size.load(std::memory_order_relaxed);
    const uintptr_t page = static_cast<uintptr_t>(GuardedBuffer::page_size());
    const bool in_leading = addr >= begin && addr < begin + page;
    const bool in_trailing = addr >= end - page && addr < end;
    if (!in_leading && !in_trailing) continue;
    m->append("sme2k test harness: access to guard page at ");
    m->append_hex(addr);
    m->append(" (");
    // Counted so that both neighbours of the buffer are "1 byte" away.
    const uintptr_t distance = in_trailing ? addr - (data + size) + 1 : data - addr;
    m->append_dec(distance);
    m->append(distance == 1 ? " byte " : " bytes ");
    m->append(in_trailing ? "past the end" : "before the start");
    m->append(" of a buffer of ");
    m->append_dec(size);
    m->append(size == 1 ? " byte: offset " : " bytes: offset ");
    if (in_trailing) {
      m->append_dec(addr - data);
    } else {
      m->append("-");
      m->append_dec(data - addr);
    }
    m->append(")\n");
    return true;
  }
  return false;
}

void on_fault(int sig, siginfo_t* info, void* context) {
  Message m;
  if (info != nullptr && describe_guard_fault(reinterpret_cast<uintptr_t>(info->si_addr), &m)) {
    m.write_to_stderr();
    die_with_default_action(sig);
    return;
  }
  const struct sigaction& previous = sig == SIGBUS ? g_previous_bus : g_previous_segv;
  if ((previous.sa_flags & SA_SIGINFO) != 0 && previous.sa_sigaction != nullptr) {
    previous.sa_sigaction(sig, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN &&
             previous.sa_handler != nullptr) {
    previous.sa_handler(sig);
  } else {
    die_with_default_action(sig);
  }
}

void install_fault_handler_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &g_previous_segv);
    sigaction(SIGBUS, &action, &g_previous_bus);
  });
}

[[noreturn]] void fail(const char* what, size_t bytes) {
  std::fprintf(stderr, "sme2k test harness: GuardedBuffer of %zu bytes: %s\n", bytes, what);
  std::abort();
}

// The canary depends on the position, so bytes shifted within the slack are noticed too.
uint8_t canary_byte(size_t offset) { return static_cast<uint8_t>(0xa5u ^ (offset * 0x3bu)); }

}  // namespace

const char* guard_side_name(GuardSide side) {
  return side == GuardSide::kEnd ? "guard-at-end" : "guard-at-start";
}

size_t GuardedBuffer::page_size() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

GuardedBuffer::GuardedBuffer(size_t bytes, GuardSide side, size_t alignment) : side_(side) {
  const size_t page = page_size();
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > page) {
    fail("alignment must be a power of two no larger than a page", bytes);
  }
  if (bytes > SIZE_MAX / 2 - 2 * page) fail("too large", bytes);
  const size_t usable = (bytes + page - 1) / page * page;
  map_bytes_ = usable + 2 * page;
  void* map = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) fail("mmap failed", bytes);
  map_ = static_cast<uint8_t*>(map);
  uint8_t* const first = map_ + page;  // first usable byte
  uint8_t* const trailing_guard = first + usable;
  if (mprotect(map_, page, PROT_NONE) != 0 || mprotect(trailing_guard, page, PROT_NONE) != 0) {
    fail("mprotect failed", bytes);
  }
  if (side == GuardSide::kEnd) {
    // The trailing guard is page aligned, so for sizes that are a multiple of the alignment
    // (any array of T) aligning down leaves the buffer flush against it.
    const auto end = reinterpret_cast<uintptr_t>(trailing_guard);
    data_ = reinterpret_cast<uint8_t*>((end - bytes) & ~static_cast<uintptr_t>(alignment - 1));
  } else {
    data_ = first;
  }
  size_ = bytes;
  for (uint8_t* p = first; p < data_; ++p) *p = canary_byte(static_cast<size_t>(p - first));
  for (uint8_t* p = data_ + size_; p < trailing_guard; ++p) {
    *p = canary_byte(static_cast<size_t>(p - first));
  }
  install_fault_handler_once();
  registry_slot_ = register_guards(reinterpret_cast<uintptr_t>(map_),
                                   reinterpret_cast<uintptr_t>(map_ + map_bytes_),
                                   reinterpret_cast<uintptr_t>(data_), size_);
}

GuardedBuffer::~GuardedBuffer() { release(); }

GuardedBuffer::GuardedBuffer(GuardedBuffer&& other) noexcept
    : map_(std::exchange(other.map_, nullptr)),
      map_bytes_(std::exchange(other.map_bytes_, 0)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      side_(other.side_),
      registry_slot_(std::exchange(other.registry_slot_, -1)) {}

GuardedBuffer& GuardedBuffer::operator=(GuardedBuffer&& other) noexcept {
  if (this != &other) {
    release();
    map_ = std::exchange(other.map_, nullptr);
    map_bytes_ = std::exchange(other.map_bytes_, 0);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    side_ = other.side_;
    registry_slot_ = std::exchange(other.registry_slot_, -1);
  }
  return *this;
}

void GuardedBuffer::release() {
  if (map_ == nullptr) return;
  // Unregister first: once unmapped, the addresses may be handed to someone else.
  unregister_guards(registry_slot_);
  munmap(map_, map_bytes_);
  map_ = nullptr;
  map_bytes_ = 0;
  data_ = nullptr;
  size_ = 0;
  registry_slot_ = -1;
}

size_t GuardedBuffer::slack_before() const {
  return map_ == nullptr ? 0 : static_cast<size_t>(data_ - (map_ + page_size()));
}

size_t GuardedBuffer::slack_after() const {
  return map_ == nullptr ? 0
                         : static_cast<size_t>((map_ + map_bytes_ - page_size()) - (data_ + size_));
}

bool GuardedBuffer::canary_intact() const {
  if (map_ == nullptr) return true;
  const uint8_t* const first = map_ + page_size();
  const uint8_t* const trailing_guard = map_ + map_bytes_ - page_size();
  for (const uint8_t* p = first; p < data_; ++p) {
    if (*p != canary_byte(static_cast<size_t>(p - first))) return false;
  }
  for (const uint8_t* p = data_ + size_; p < trailing_guard; ++p) {
    if (*p != canary_byte(static_cast<size_t>(p - first))) return false;
  }
  return true;
}

}  // namespace test
}  // namespace sme2k
