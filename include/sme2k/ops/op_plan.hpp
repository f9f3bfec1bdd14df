// What an op will do for a call's shape, asked before the call (DESIGN.md, "Observable"): the
// kernel that runs, on which path, in how many tasks, with how much workspace. A runtime logs
// it, sizes its arena with it, or checks that the SME2 kernel is the one it gets.
#pragma once

#include <cstddef>
#include <string_view>

#include "sme2k/arch/dispatch.hpp"

namespace sme2k {

struct OpPlan {
  std::string_view kernel;      // the kernel's kName (docs/naming.md)
  Path path = Path::kPortable;  // the kernel's path (what last_used_path() will say)
  size_t tasks = 1;             // tasks handed to the ParallelFor (1: serial)
  size_t workspace_bytes = 0;   // what the workspace-taking overload needs
};

}  // namespace sme2k
