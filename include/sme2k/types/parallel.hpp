// The threading hook: how an op hands its independent tasks to the runtime's thread pool.
//
// sme2k owns no threads. An op splits its work into independent, tile-aligned tasks (no
// reduction is ever split, so the result does not depend on how many tasks run or where)
// and, if the caller gave a ParallelFor, lets the caller's pool run them; the default runs
// them one after another on the calling thread. Every task enters and leaves streaming mode
// itself, so tasks may run on any threads.
//
// C++ callers wrap any callable with make_parallel_for(); C callers fill the same struct
// (sme2k.h declares it layout-compatible).
#pragma once

#include <cstddef>

namespace sme2k {

/// The task an op gives the pool: task(task_context, index) for index in [0, count).
using ParallelTask = void (*)(void* task_context, size_t index);

/// The runtime's parallel-for. run == nullptr (the default): serial, on the calling thread.
struct ParallelFor {
  /// Must call task(task_context, i) exactly once for every i in [0, count), on any threads,
  /// in any order, and return when all calls have returned.
  void (*run)(void* context, size_t count, ParallelTask task, void* task_context) = nullptr;
  void* context = nullptr;
  /// The most tasks an op should make (the threads the runtime gives this op; on a cluster
  /// whose cores share one SME unit, the SME units). 0 or 1: one task.
  size_t max_tasks = 0;

  bool parallel() const { return run != nullptr && max_tasks > 1; }
};

/// A callable view of one op task, what make_parallel_for() hands the caller's callable.
class ParallelTaskRef {
 public:
  ParallelTaskRef(ParallelTask task, void* task_context) : task_(task), context_(task_context) {}
  void operator()(size_t index) const { task_(context_, index); }

 private:
  ParallelTask task_;
  void* context_;
};

/// Wraps a callable `pool(size_t count, ParallelTaskRef task)` that runs task(i) for every i
/// in [0, count) and returns when all are done. `pool` must outlive the returned value.
template <class Pool>
ParallelFor make_parallel_for(Pool& pool, size_t max_tasks) {
  ParallelFor p;
  p.context = &pool;
  p.max_tasks = max_tasks;
  p.run = [](void* context, size_t count, ParallelTask task, void* task_context) {
    (*static_cast<Pool*>(context))(count, ParallelTaskRef(task, task_context));
  };
  return p;
}

}  // namespace sme2k
