// How an op splits its work among the runtime's threads (types/parallel.hpp).
//
// An op's output is a grid of tiles: row units (2VL-row panels of A, batch items, images)
// by column units (2VL-column panels of the weights, channels, pixels). plan_tasks() cuts
// that grid into at most max_tasks contiguous, balanced blocks of whole tiles, first along
// the dimension whose split repeats no work (a task's LHS panel serves all its columns; a
// 4-bit weight panel expanded once serves all its rows), then along the other. Every output
// is computed by the same kernel, over the same tile and the same k order, whichever task
// computes it: results are bit-identical for any number of tasks.
//
// Each task gets a workspace slice of its own (task_workspace_bytes(), each on its own cache
// lines) and enters streaming mode itself; the serial default is one task covering the
// whole grid, exactly the loop the op ran before it could split.
#pragma once

#include <atomic>
#include <cstddef>

#include "sme2k/arch/vl.hpp"
#include "sme2k/ops/detail/validate.hpp"
#include "sme2k/types/parallel.hpp"
#include "sme2k/types/size_math.hpp"
#include "sme2k/types/status.hpp"

namespace sme2k {
namespace detail {

/// Units [begin, end) of a dimension.
struct Range {
  size_t begin, end;
  size_t size() const { return end - begin; }
};

/// Part i of `parts` balanced contiguous parts of `units` (parts <= units).
constexpr Range part_of(size_t units, size_t parts, size_t i) {
  const size_t base = units / parts, extra = units % parts;
  const size_t begin = i * base + (i < extra ? i : extra);
  return {begin, begin + base + (i < extra ? 1 : 0)};
}

/// Units [begin, end) of `step` elements each as elements, clipped to `limit`.
constexpr Range units_to_elements(Range units, size_t step, size_t limit) {
  return {units.begin * step, units.end * step < limit ? units.end * step : limit};
}

/// Tasks as a row_parts x col_parts grid over row_units x col_units tiles.
struct TaskGrid {
  size_t row_units = 1, col_units = 1;
  size_t row_parts = 1, col_parts = 1;
  bool columns_first = false;  // plan_tasks() split the columns first

  size_t count() const { return row_parts * col_parts; }
  Range rows(size_t task) const { return part_of(row_units, row_parts, task / col_parts); }
  Range cols(size_t task) const { return part_of(col_units, col_parts, task % col_parts); }
  /// The most row / column units any task gets.
  size_t max_rows() const { return ceil_div(row_units, row_parts); }
  size_t max_cols() const { return ceil_div(col_units, col_parts); }
};

/// How many tasks the runtime lets an op make: 1 when it runs serially.
inline size_t task_budget(const ParallelFor& parallel) {
  return parallel.parallel() ? parallel.max_tasks : 1;
}

/// At most `budget` tasks over the grid: as many parts along the preferred dimension as it
/// has units, then what the budget leaves along the other (at least two per part).
inline TaskGrid plan_tasks(size_t row_units, size_t col_units, size_t budget,
                           bool columns_first = false) {
  TaskGrid g;
  g.row_units = row_units > 0 ? row_units : 1;
  g.col_units = col_units > 0 ? col_units : 1;
  g.columns_first = columns_first;
  if (budget <= 1) return g;
  size_t& first = columns_first ? g.col_parts : g.row_parts;
  size_t& second = columns_first ? g.row_parts : g.col_parts;
  const size_t first_units = columns_first ? g.col_units : g.row_units;
  const size_t second_units = columns_first ? g.row_units : g.col_units;
  first = first_units < budget ? first_units : budget;
  const size_t left = budget / first;
  second = second_units < left ? second_units : left;
  return g;
}

/// The most tasks plan_tasks() makes for `grid`'s columns and budget over up to its row
/// units. Rows first, fewer rows can make more tasks (budget 4: 3 for 3 row units, 4 for 2),
/// so a workspace sized for a call serves every call with fewer rows only with this many
/// slices. Columns first, the count only grows with the rows.
inline size_t most_tasks_up_to(const TaskGrid& grid, size_t budget) {
  if (budget <= 1 || grid.columns_first) return grid.count();
  size_t most = 1;
  for (size_t r = 1; r <= grid.row_units && r <= budget; ++r) {
    const size_t cols = budget / r;
    const size_t count = r * (grid.col_units < cols ? grid.col_units : cols);
    most = count > most ? count : most;
  }
  return most;
}

/// Bytes of `tasks` workspace slices of `one` bytes each (`one` includes the slack that
/// aligns a caller pointer); false on overflow. One slice: `one`, unchanged.
inline bool task_workspace_bytes(size_t one, size_t tasks, size_t* bytes) {
  if (tasks <= 1 || one == 0) {
    *bytes = one;
    return true;
  }
  size_t slice = 0;
  return checked_add(one, kWorkspaceAlignment - 1, &slice) &&
         checked_mul(slice / kWorkspaceAlignment * kWorkspaceAlignment, tasks, bytes);
}

/// Task t's slice of an aligned workspace laid out by task_workspace_bytes(one, tasks).
inline void* task_workspace(void* aligned, size_t one, size_t task) {
  if (aligned == nullptr) return nullptr;
  return static_cast<uint8_t*>(aligned) + task * round_up(one, kWorkspaceAlignment);
}

/// Runs body(task) for every task: through the runtime's pool when there are several, else
/// on the calling thread. Tasks of an SME2 path (vl != 0: the VL the op validated packed
/// data against) first check that their thread has that streaming vector length, since
/// Linux lets a thread change it; a task on another one computes nothing, and the result is
/// false (the op then fails: svl_mismatch()).
template <class Body>
bool run_tasks(const ParallelFor& parallel, size_t count, size_t vl, const Body& body) {
  if (count <= 1 || !parallel.parallel()) {
    for (size_t t = 0; t < count; ++t) body(t);
    return true;
  }
  struct Context {
    const Body& body;
    size_t vl;
    std::atomic<bool> svl_differs;
  } context{body, vl, {false}};
  parallel.run(
      parallel.context, count,
      [](void* opaque, size_t task) {
        auto& c = *static_cast<Context*>(opaque);
        if (c.vl != 0 && streaming_vl() != c.vl) {
          c.svl_differs.store(true, std::memory_order_relaxed);
          return;
        }
        c.body(task);
      },
      &context);
  return !context.svl_differs.load(std::memory_order_relaxed);
}

/// What an op returns when run_tasks() failed.
inline Status svl_mismatch(const char* op, size_t vl) {
  return Status::error(StatusCode::kUnsupported,
                       "%s: a pool thread's streaming vector length is not the caller's %zu bits; "
                       "the output is incomplete",
                       op, vl * 32);
}

}  // namespace detail
}  // namespace sme2k
