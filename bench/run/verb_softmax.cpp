// sme2k-run softmax: one softmax call between sme2k_roi_begin() and sme2k_roi_end(), checked
// against test/reference/softmax.hpp.
//   sme2k-run softmax --rows 256 --cols 4096 [--in f32|f16] [--out f32|f16] [--scale S]
//                     [--mask] [--ld N]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "reference/softmax.hpp"
#include "run/options.hpp"
#include "run/verbs.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k_run {
namespace {

struct SoftmaxOptions {
  size_t rows = 256, cols = 4096, ld = 0;
  bool in_f16 = false, out_f16 = false, mask = false;
  float scale = 1.0f;
};

constexpr std::pair<const char*, bool> kF16Names[] = {{"f32", false}, {"f16", true}};

using SoftmaxSpec = OptionSpec<SoftmaxOptions>;
const SoftmaxSpec kSoftmaxOptions[] = {
    {"--rows", "R", "rows",
     [](const char* v, SoftmaxOptions* o) { return parse_size(v, &o->rows); }},
    {"--cols", "C", "columns",
     [](const char* v, SoftmaxOptions* o) { return parse_size(v, &o->cols); }},
    {"--ld", "N", "leading dimension (default C)",
     [](const char* v, SoftmaxOptions* o) { return parse_size(v, &o->ld); }},
    {"--scale", "S", "scale of x",
     [](const char* v, SoftmaxOptions* o) { return parse_float(v, &o->scale); }},
    {"--in", "f32|f16", "input type",
     [](const char* v, SoftmaxOptions* o) { return parse_choice(v, kF16Names, &o->in_f16); }},
    {"--out", "f32|f16", "output type",
     [](const char* v, SoftmaxOptions* o) { return parse_choice(v, kF16Names, &o->out_f16); }},
    {"--mask", nullptr, "a causal -inf mask",
     [](const char*, SoftmaxOptions* o) {
       o->mask = true;
       return true;
     }},
};

template <class In, class Out>
int run_softmax(const SoftmaxOptions& o) {
  using namespace sme2k;
  const size_t ld = o.ld != 0 ? o.ld : o.cols;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  std::vector<In> x(o.rows * ld);
  std::vector<double> xd(o.rows * o.cols);
  for (size_t r = 0; r < o.rows; ++r) {
    for (size_t i = 0; i < o.cols; ++i) {
      x[r * ld + i] = convert_to<In>(dist(rng));
      xd[r * o.cols + i] = to_f32(x[r * ld + i]);
    }
  }
  std::vector<float> mask;
  if (o.mask) {  // causal-style: row r sees the first r + cols - rows + 1 elements
    mask.assign(o.rows * o.cols, 0.0f);
    for (size_t r = 0; r < o.rows; ++r) {
      for (size_t i = 0; i < o.cols; ++i) {
        if (i + o.rows > r + o.cols) mask[r * o.cols + i] = -INFINITY;
      }
    }
  }
  std::vector<Out> y(o.rows * ld);
  SoftmaxParams p;
  p.scale = o.scale;
  p.mask = o.mask ? mask.data() : nullptr;
  p.mask_ld = o.cols;
  sme2k_roi_begin();
  const Status s =
      softmax<In, Out>({x.data(), o.rows, o.cols, ld}, {y.data(), o.rows, o.cols, ld}, p);
  sme2k_roi_end();
  if (!s.ok()) {
    std::fprintf(stderr, "sme2k-run softmax: %s\n", s.message());
    return 1;
  }
  const auto ref = reference::softmax_rows(xd, o.rows, o.cols, o.scale, p.mask, p.mask_ld);
  const double rel = std::is_same_v<Out, f16> ? 2e-3 : 5e-5;
  double worst = 0.0;
  for (size_t r = 0; r < o.rows; ++r) {
    for (size_t i = 0; i < o.cols; ++i) {
      const double want = ref[r * o.cols + i], got = to_f32(y[r * ld + i]);
      const double err = std::fabs(got - want), tol = rel * want + 1e-7;
      if (!(err <= tol)) {
        std::fprintf(stderr, "sme2k-run softmax: y[%zu][%zu] = %.9g, reference %.9g\n", r, i, got,
                     want);
        return 1;
      }
      if (want > 1e-30 && err / want > worst) worst = err / want;
    }
  }
  std::printf("softmax %zu x %zu (%s -> %s, %s, %s): ok, worst relative error %.3g\n", o.rows,
              o.cols, o.in_f16 ? "f16" : "f32", o.out_f16 ? "f16" : "f32",
              path_name(last_used_path()), softmax_kernel_name<In, Out>(), worst);
  return 0;
}

}  // namespace

void softmax_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run softmax --rows R --cols C [--in f32|f16] [--out f32|f16]\n"
               "                         [--scale S] [--mask] [--ld N]\n"
               "Softmax of R rows of C elements (scale * x + an optional causal -inf mask).\n"
               "SME2K_COST_MODEL=m4|c1 picks the kernel's way (arch/cost_model.hpp).\n");
}

int softmax_verb(int argc, char** argv) {
  SoftmaxOptions o;
  if (!parse_options(argc, argv, 2, kSoftmaxOptions, &o)) {
    softmax_usage(stderr);
    return kExitUsage;
  }
  if (o.rows == 0 || o.cols == 0 || (o.ld != 0 && o.ld < o.cols)) {
    std::fprintf(stderr, "sme2k-run softmax: --rows and --cols must be >= 1, --ld >= --cols\n");
    return kExitUsage;
  }
  using sme2k::f16;
  if (o.in_f16) return o.out_f16 ? run_softmax<f16, f16>(o) : run_softmax<f16, float>(o);
  return o.out_f16 ? run_softmax<float, f16>(o) : run_softmax<float, float>(o);
}

}  // namespace sme2k_run
