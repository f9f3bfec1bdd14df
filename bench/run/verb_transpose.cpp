// sme2k-run transpose: one convert_layout call (NCHW <-> NHWC) inside the region, then
// checked element by element.
#include <cstdio>
#include <cstring>
#include <vector>

#include "run/options.hpp"
#include "run/verbs.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k_run {
namespace {

struct TransposeOptions {
  size_t bytes = 2;  // element size
  sme2k::TensorLayout from = sme2k::TensorLayout::kNCHW, to = sme2k::TensorLayout::kNHWC;
  size_t batch = 1, c = 64, h = 128, w = 128;
};
constexpr std::pair<const char*, size_t> kDtypeNames[] = {
    {"f32", 4}, {"f16", 2}, {"i8", 1}, {"int8", 1}};
using TransposeSpec = OptionSpec<TransposeOptions>;
const TransposeSpec kTransposeOptions[] = {
    {"--dtype", "f32|f16|i8", "element type (default f16)",
     [](const char* v, TransposeOptions* o) { return parse_choice(v, kDtypeNames, &o->bytes); }},
    {"--from", "nchw|nhwc", "source layout (default nchw)",
     [](const char* v, TransposeOptions* o) {
       return parse_choice(v, kTensorLayoutNames, &o->from);
     }},
    {"--to", "nchw|nhwc", "destination layout (default nhwc)",
     [](const char* v, TransposeOptions* o) {
       return parse_choice(v, kTensorLayoutNames, &o->to);
     }},
    {"--n", "N", "batch (default 1)",
     [](const char* v, TransposeOptions* o) { return parse_positive(v, &o->batch); }},
    {"--c", "C", "channels (default 64)",
     [](const char* v, TransposeOptions* o) { return parse_positive(v, &o->c); }},
    {"--h", "H", "height (default 128)",
     [](const char* v, TransposeOptions* o) { return parse_positive(v, &o->h); }},
    {"--w", "W", "width (default 128)",
     [](const char* v, TransposeOptions* o) { return parse_positive(v, &o->w); }},
};

template <class T>
int run_transpose(const TransposeOptions& o) {
  const size_t count = o.batch * o.c * o.h * o.w;
  std::vector<T> src(count), dst(count);
  for (size_t i = 0; i < count; ++i) {
    const auto bits = static_cast<uint32_t>(i * 2654435761u);
    std::memcpy(&src[i], &bits, sizeof(T));
  }
  sme2k_roi_begin();
  const sme2k::Status s =
      sme2k::convert_layout<T>(src.data(), o.from, dst.data(), o.to, o.batch, o.c, o.h, o.w);
  sme2k_roi_end();
  if (!s.ok()) {
    std::fprintf(stderr, "sme2k-run transpose: %s\n", s.message());
    return kExitFailure;
  }
  const size_t pixels = o.h * o.w;
  const auto at = [&](sme2k::TensorLayout layout, size_t n, size_t c, size_t p) {
    return layout == sme2k::TensorLayout::kNCHW ? (n * o.c + c) * pixels + p
                                                : (n * pixels + p) * o.c + c;
  };
  size_t wrong = 0;
  for (size_t n = 0; n < o.batch; ++n) {
    for (size_t c = 0; c < o.c; ++c) {
      for (size_t p = 0; p < pixels; ++p) {
        wrong += std::memcmp(&dst[at(o.to, n, c, p)], &src[at(o.from, n, c, p)], sizeof(T)) != 0;
      }
    }
  }
  std::printf("transpose %zu-byte %s -> %s: N=%zu C=%zu H=%zu W=%zu (%zu bytes), path %s: %s\n",
              sizeof(T), sme2k::tensor_layout_name(o.from), sme2k::tensor_layout_name(o.to),
              o.batch, o.c, o.h, o.w, count * sizeof(T), sme2k::path_name(sme2k::last_used_path()),
              wrong == 0 ? "ok" : "WRONG");
  return wrong == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void transpose_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run transpose [--dtype f32|f16|i8] [--from nchw|nhwc] [--to "
               "nchw|nhwc]\n                           [--n N] [--c C] [--h H] [--w W]\n\n"
               "One convert_layout call inside the region, then checked element by element.\n"
               "Its load/store bound on the M4 model: bytes / 64 + 1.28 x bytes / 64 cycles.\n"
               "Options:\n");
  print_options(out, kTransposeOptions);
}

int transpose_verb(int argc, char** argv) {
  TransposeOptions o;
  if (!parse_options(argc, argv, 2, kTransposeOptions, &o)) {
    transpose_usage(stderr);
    return kExitUsage;
  }
  if (o.bytes == 4) return run_transpose<float>(o);
  if (o.bytes == 2) return run_transpose<sme2k::f16>(o);
  return run_transpose<int8_t>(o);
}

}  // namespace sme2k_run
