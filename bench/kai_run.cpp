// kai-run: one KleidiAI op, run once between sme2k_roi_begin() and sme2k_roi_end(), for the
// cycle model's KleidiAI rows (scripts/bench runs it under tools/insn-mix --roi, beside
// sme2k-run's rows of the same shapes). Weights are packed and inputs made before the region;
// in it, what a runtime does per inference (kleidiai_ops.hpp). The result is checked after it.
//
//   kai-run gemm --variant f32|f16|qs8|qd8-qc4w|qd8-qb4w --m M --n N --k K
//   kai-run conv2d --variant f16|qs8 --k KERNEL --cin CIN --cout COUT --h HW [--w HW]
//
// Exit status: 0 ok, 1 wrong result, 2 usage.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "kleidiai_ops.hpp"

extern "C" __attribute__((noinline)) void sme2k_roi_begin() { asm volatile("" ::: "memory"); }
extern "C" __attribute__((noinline)) void sme2k_roi_end() { asm volatile("" ::: "memory"); }

namespace {

int usage(const char* why) {
  std::fprintf(stderr,
               "kai-run: %s\nusage: kai-run gemm --variant V --m M --n N --k K\n"
               "       kai-run conv2d --variant V --k KERNEL --cin C --cout C --h HW [--w HW]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage("no op");
  const std::string op = argv[1];
  std::map<std::string, std::string> opt;
  for (int i = 2; i < argc; i += 2) {
    if (std::strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) return usage("bad option");
    opt[argv[i] + 2] = argv[i + 1];
  }
  const auto size = [&](const char* name) -> size_t {
    const auto it = opt.find(name);
    return it == opt.end() ? 0 : std::strtoul(it->second.c_str(), nullptr, 10);
  };
  const std::string variant = opt.count("variant") ? opt["variant"] : "";
  std::string why;
  std::unique_ptr<sme2k_kleidiai::Op> run;
  if (op == "gemm") {
    run = sme2k_kleidiai::make_gemm(variant, size("m"), size("n"), size("k"), &why);
  } else if (op == "conv2d") {
    if (opt.count("w") && size("w") != size("h")) return usage("only square images (--w = --h)");
    run = sme2k_kleidiai::make_conv(variant, size("k"), size("cin"), size("cout"), size("h"), &why);
  } else {
    return usage("unknown op");
  }
  if (!run) return usage(why.c_str());

  sme2k_roi_begin();
  run->run();
  sme2k_roi_end();

  const std::string wrong = run->check();
  std::printf("kai-run %s %s: kernel=%s check=%s\n", op.c_str(), variant.c_str(), run->kernel(),
              wrong.empty() ? "ok" : wrong.c_str());
  return wrong.empty() ? 0 : 1;
}
