// sme2k-run's command-line module (options.hpp).
#include "run/options.hpp"

#include <cerrno>
#include <cstdlib>
#include <limits>

namespace sme2k_run {
namespace {

bool parse_float_prefix(const char* s, char** end, float* out) {
  errno = 0;
  *out = std::strtof(s, end);
  return errno == 0 && *end != s;
}

}  // namespace

bool parse_size(const char* s, size_t* out) {
  if (*s < '0' || *s > '9') return false;  // strtoull would accept "-1" and " 1"
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v > std::numeric_limits<size_t>::max()) return false;
  *out = static_cast<size_t>(v);
  return true;
}

bool parse_positive(const char* s, size_t* out) { return parse_size(s, out) && *out > 0; }

bool parse_float(const char* s, float* out) {
  char* end = nullptr;
  return parse_float_prefix(s, &end, out) && *end == '\0';
}

bool parse_pair(const char* s, float* lo, float* hi) {
  char* end = nullptr;
  if (!parse_float_prefix(s, &end, lo) || *end != ',') return false;
  const char* second = end + 1;
  return parse_float_prefix(second, &end, hi) && *end == '\0';
}

void print_option(std::FILE* out, const char* name, const char* value, const char* help) {
  std::string left = name;
  if (value != nullptr) left += std::string(" ") + value;
  std::fprintf(out, "  %-26s %s\n", left.c_str(), help);
}

int find_option(int argc, char** argv, int* i, const char* const* names, const char* const* values,
                size_t count, const char** value) {
  std::string arg = argv[*i];
  *value = nullptr;
  const size_t eq = arg.find('=');
  if (eq != std::string::npos) {
    *value = argv[*i] + eq + 1;
    arg.resize(eq);
  }
  int found = -1;
  for (size_t s = 0; s < count; ++s) {
    if (arg == names[s]) found = static_cast<int>(s);
  }
  if (found < 0) {
    std::fprintf(stderr, "sme2k-run: unknown option '%s'\n", arg.c_str());
    return -1;
  }
  if (values[found] == nullptr && *value != nullptr) {
    std::fprintf(stderr, "sme2k-run: %s takes no value\n", names[found]);
    return -1;
  }
  if (values[found] != nullptr && *value == nullptr) {
    if (*i + 1 == argc) {
      std::fprintf(stderr, "sme2k-run: %s needs a value (%s)\n", names[found], values[found]);
      return -1;
    }
    *value = argv[++*i];
  }
  return found;
}

void print_plan(const char* op, const sme2k::OpPlan& plan) {
  std::printf("plan %s: kernel %.*s, path %s, %zu task(s), workspace %zu bytes\n", op,
              static_cast<int>(plan.kernel.size()), plan.kernel.data(), sme2k::path_name(plan.path),
              plan.tasks, plan.workspace_bytes);
}

}  // namespace sme2k_run
