// sme2k-run's one command-line module: the option table every verb declares (OptionSpec),
// the parsers of its values, the choice tables several verbs share, the entry of main.cpp's
// verb table (Verb), the path checks and the --plan hook (print_plan). A verb is a file
// bench/run/verb_*.cpp defining the run and usage functions verbs.hpp declares.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "sme2k/sme2k.hpp"

// The region of interest (main.cpp): not inlined, so insn-mix finds them by symbol.
extern "C" void sme2k_roi_begin();
extern "C" void sme2k_roi_end();

namespace sme2k_run {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

/// One verb of the command line (DESIGN.md section 5): `sme2k-run NAME [options]`.
struct Verb {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);  // argv[1] is the verb
  void (*usage)(std::FILE* out);
};

// ------------------------------------------------------------------------------ options

/// One command-line option: `--name VALUE` (or `--name=VALUE`), or a flag when `value` is null.
template <class Options>
struct OptionSpec {
  const char* name;
  const char* value;  // what the value is, for the usage text; null: a flag
  const char* help;
  bool (*parse)(const char* value, Options* options);  // false: the value is malformed
};

/// A decimal count (no sign, no space); parse_positive: and above 0.
bool parse_size(const char* s, size_t* out);
bool parse_positive(const char* s, size_t* out);
bool parse_float(const char* s, float* out);
/// "LO,HI"
bool parse_pair(const char* s, float* lo, float* hi);

/// Picks `*out` from a table of names.
template <class T, size_t N>
bool parse_choice(const char* s, const std::pair<const char*, T> (&choices)[N], T* out) {
  for (const auto& c : choices) {
    if (std::strcmp(s, c.first) == 0) {
      *out = c.second;
      return true;
    }
  }
  return false;
}

/// The name of `value` in a table of names ("unknown" if absent).
template <class T, size_t N>
const char* choice_name(const std::pair<const char*, T> (&choices)[N], T value) {
  for (const auto& c : choices) {
    if (c.second == value) return c.first;
  }
  return "unknown";
}

void print_option(std::FILE* out, const char* name, const char* value, const char* help);

template <class Options, size_t N>
void print_options(std::FILE* out, const OptionSpec<Options> (&specs)[N]) {
  for (const auto& spec : specs) print_option(out, spec.name, spec.value, spec.help);
}

/// Finds `arg` (and its "=VALUE" part) among `count` specs: the index, or -1 with the reason
/// printed. Advances *i past a separate value; *value is the value (null for a flag).
int find_option(int argc, char** argv, int* i, const char* const* names, const char* const* values,
                size_t count, const char** value);

/// Fills `options` from argv[first, argc); prints the reason and returns false on an error.
template <class Options, size_t N>
bool parse_options(int argc, char** argv, int first, const OptionSpec<Options> (&specs)[N],
                   Options* options) {
  const char* names[N];
  const char* values[N];
  for (size_t s = 0; s < N; ++s) names[s] = specs[s].name, values[s] = specs[s].value;
  for (int i = first; i < argc; ++i) {
    const char* value = nullptr;
    const int s = find_option(argc, argv, &i, names, values, N, &value);
    if (s < 0) return false;
    if (!specs[s].parse(value, options)) {
      std::fprintf(stderr, "sme2k-run: bad value '%s' for %s (%s)\n", value, specs[s].name,
                   specs[s].value);
      return false;
    }
  }
  return true;
}

// ----------------------------------------------------------------- shared option values

enum class PathChoice { kAuto, kPortable, kSme2 };
enum class VerifyPolicy { kAuto, kFull, kSample };
enum class OutChoice { kDefault, kF32, kF16, kBF16 };

constexpr std::pair<const char*, sme2k::RhsLayout> kLayoutNames[] = {
    {"kxn", sme2k::RhsLayout::kKxN}, {"nxk", sme2k::RhsLayout::kNxK}};
constexpr std::pair<const char*, PathChoice> kPathNames[] = {
    {"auto", PathChoice::kAuto}, {"portable", PathChoice::kPortable}, {"sme2", PathChoice::kSme2}};
constexpr std::pair<const char*, OutChoice> kOutNames[] = {
    {"f32", OutChoice::kF32}, {"f16", OutChoice::kF16}, {"bf16", OutChoice::kBF16}};
constexpr std::pair<const char*, sme2k::Activation> kActivationNames[] = {
    {"none", sme2k::Activation::kNone},   {"relu", sme2k::Activation::kRelu},
    {"relu6", sme2k::Activation::kRelu6}, {"hardswish", sme2k::Activation::kHardSwish},
    {"gelu", sme2k::Activation::kGelu},   {"silu", sme2k::Activation::kSilu}};
constexpr std::pair<const char*, VerifyPolicy> kVerifyNames[] = {{"auto", VerifyPolicy::kAuto},
                                                                 {"full", VerifyPolicy::kFull},
                                                                 {"sample", VerifyPolicy::kSample}};
constexpr std::pair<const char*, sme2k::TensorLayout> kTensorLayoutNames[] = {
    {"nchw", sme2k::TensorLayout::kNCHW}, {"nhwc", sme2k::TensorLayout::kNHWC}};

// Parsers of the options several verbs share, for any options struct with the field.
template <class Options>
bool parse_seed(const char* v, Options* o) {
  size_t s = 0;
  if (!parse_size(v, &s) || s > UINT32_MAX) return false;
  o->seed = static_cast<uint32_t>(s);
  return true;
}
template <class Options>
bool parse_path(const char* v, Options* o) {
  return parse_choice(v, kPathNames, &o->path);
}
template <class Options>
bool parse_in(const char* v, Options* o) {
  return parse_choice(v, kOutNames, &o->in);
}
template <class Options>
bool parse_lda(const char* v, Options* o) {
  return parse_positive(v, &o->lda);
}
template <class Options>
bool parse_repeat(const char* v, Options* o) {
  return parse_positive(v, &o->repeat);
}

// --------------------------------------------------------------------- path and checks

inline std::optional<sme2k::Path> forced_path(PathChoice choice) {
  switch (choice) {
    case PathChoice::kAuto: return std::nullopt;
    case PathChoice::kPortable: return sme2k::Path::kPortable;
    case PathChoice::kSme2: return sme2k::Path::kSme2;
  }
  return std::nullopt;
}

/// The path and SVL the test matrix says this run must see (cmake/Sme2kTesting.cmake sets
/// SME2K_EXPECT_PATH / SME2K_EXPECT_SVL), so a smoke test also catches a wrong dispatch.
inline bool meets_expectations(PathChoice choice, sme2k::Path path, size_t svl_bits) {
  bool ok = true;
  const char* want_path = std::getenv("SME2K_EXPECT_PATH");
  if (choice == PathChoice::kAuto && want_path != nullptr &&
      std::strcmp(want_path, sme2k::path_name(path)) != 0) {
    std::fprintf(stderr, "sme2k-run: took path %s, SME2K_EXPECT_PATH is %s\n",
                 sme2k::path_name(path), want_path);
    ok = false;
  }
  const char* want_svl = std::getenv("SME2K_EXPECT_SVL");
  if (want_svl != nullptr && std::strtoull(want_svl, nullptr, 10) != svl_bits) {
    std::fprintf(stderr, "sme2k-run: SVL is %zu bits, SME2K_EXPECT_SVL is %s\n", svl_bits,
                 want_svl);
    ok = false;
  }
  return ok;
}

/// Prints an op's plan (the --plan hook): kernel, path, task split and workspace.
void print_plan(const char* op, const sme2k::OpPlan& plan);

}  // namespace sme2k_run
