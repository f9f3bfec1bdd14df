// A real thread pool, as a runtime would hand its threads to sme2k (types/parallel.hpp): a
// fixed set of workers plus the calling thread. Task i of a call runs on thread i % threads
// (the caller is thread 0), so a call with several tasks really runs on several threads,
// and the pool counts what it was given, for tests to assert.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "sme2k/types/parallel.hpp"

namespace sme2k {
namespace test {

class ThreadPool {
 public:
  /// threads >= 1 (the caller included); `thread_init` runs first on each worker thread.
  explicit ThreadPool(size_t threads, std::function<void()> thread_init = {}) {
    for (size_t w = 1; w < threads; ++w) {
      workers_.emplace_back([this, w, thread_init] {
        if (thread_init) thread_init();
        work(w);
      });
    }
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    start_.notify_all();
    for (std::thread& t : workers_) t.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t threads() const { return workers_.size() + 1; }
  /// Tasks of the last call, and calls so far.
  size_t last_count() const { return last_count_; }
  size_t calls() const { return calls_; }

  /// The parallel-for: task(i) for every i in [0, count), returning when all are done.
  void operator()(size_t count, ParallelTaskRef task) {
    std::unique_lock<std::mutex> lock(mutex_);
    task_ = &task;
    count_ = count;
    last_count_ = count;
    ++calls_;
    pending_ = workers_.size();
    ++generation_;
    lock.unlock();
    start_.notify_all();
    run_share(0, count, task);
    lock.lock();
    done_.wait(lock, [this] { return pending_ == 0; });
    task_ = nullptr;
  }

  /// A ParallelFor over this pool letting an op make up to max_tasks tasks.
  ParallelFor parallel_for(size_t max_tasks) { return make_parallel_for(*this, max_tasks); }

 private:
  void run_share(size_t thread, size_t count, const ParallelTaskRef& task) const {
    for (size_t i = thread; i < count; i += threads()) task(i);
  }

  void work(size_t w) {
    size_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      const ParallelTaskRef* task = task_;
      const size_t count = count_;
      lock.unlock();
      run_share(w, count, *task);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_, done_;
  const ParallelTaskRef* task_ = nullptr;
  size_t count_ = 0, pending_ = 0, generation_ = 0;
  size_t last_count_ = 0, calls_ = 0;
  bool stop_ = false;
};

}  // namespace test
}  // namespace sme2k
