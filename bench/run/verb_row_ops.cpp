// sme2k-run rms-norm | layer-norm | rope: one call of the op between sme2k_roi_begin() and
// sme2k_roi_end(), then the result against the f64 reference
// (test/reference/row_ops.hpp) within its stated bounds; a mismatch exits 1. Inputs come
// from an integer hash (cheap outside the region); above 64 rows (or 64 (batch, seq)
// rows for rope) a deterministic sample of 16 of them is checked in full.
//
//   sme2k-run rms-norm --rows 256 --cols 4096 [--dtype f16] [--no-weight] [--eps E] [--ld X]
//   sme2k-run rope --batch 1 --seq 256 --heads 32 --dim 64 [--rotary-dim R]
//                  [--pairing interleaved|half-split] [--layout bshd|bhsd] [--dtype f16]
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "reference/row_ops.hpp"
#include "run/options.hpp"
#include "run/verbs.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k_run {
namespace {

struct RowOptions {
  bool f16 = false;
  size_t rows = 256, cols = 4096, ld = 0;
  bool weight = true, bias = true, in_place = false;
  float eps = 1e-5f;
  // rope
  size_t batch = 1, seq = 256, heads = 32, dim = 64, rotary_dim = 0;
  bool interleaved = false, bhsd = false;
};

constexpr std::pair<const char*, bool> kF16Names[] = {{"f32", false}, {"f16", true}};
constexpr std::pair<const char*, bool> kInterleavedNames[] = {{"half-split", false},
                                                              {"interleaved", true}};
constexpr std::pair<const char*, bool> kBhsdNames[] = {{"bshd", false}, {"bhsd", true}};

// One table for the three verbs (each takes every option, as it always did); their usage
// texts say which matter.
using RowSpec = OptionSpec<RowOptions>;
const RowSpec kRowOptions[] = {
    {"--dtype", "f32|f16", "element type (default f32)",
     [](const char* v, RowOptions* o) { return parse_choice(v, kF16Names, &o->f16); }},
    {"--rows", "R", "rows",
     [](const char* v, RowOptions* o) { return parse_positive(v, &o->rows); }},
    {"--cols", "C", "columns",
     [](const char* v, RowOptions* o) { return parse_positive(v, &o->cols); }},
    {"--ld", "X", "leading dimension",
     [](const char* v, RowOptions* o) { return parse_positive(v, &o->ld); }},
    {"--eps", "E", "epsilon", [](const char* v, RowOptions* o) { return parse_float(v, &o->eps); }},
    {"--batch", "B", "rope: batch",
     [](const char* v, RowOptions* o) { return parse_positive(v, &o->batch); }},
    {"--seq", "S", "rope: sequence length",
     [](const char* v, RowOptions* o) { return parse_positive(v, &o->seq); }},
    {"--heads", "H", "rope: heads",
     [](const char* v, RowOptions* o) { return parse_positive(v, &o->heads); }},
    {"--dim", "D", "rope: head dimension",
     [](const char* v, RowOptions* o) { return parse_positive(v, &o->dim); }},
    {"--rotary-dim", "R", "rope: rotated dimensions",
     [](const char* v, RowOptions* o) { return parse_positive(v, &o->rotary_dim); }},
    {"--pairing", "interleaved|half-split", "rope: pairing",
     [](const char* v, RowOptions* o) {
       return parse_choice(v, kInterleavedNames, &o->interleaved);
     }},
    {"--layout", "bshd|bhsd", "rope: layout",
     [](const char* v, RowOptions* o) { return parse_choice(v, kBhsdNames, &o->bhsd); }},
    {"--no-weight", nullptr, "no weight",
     [](const char*, RowOptions* o) {
       o->weight = false;
       return true;
     }},
    {"--no-bias", nullptr, "layer-norm: no bias",
     [](const char*, RowOptions* o) {
       o->bias = false;
       return true;
     }},
    {"--in-place", nullptr, "y = x",
     [](const char*, RowOptions* o) {
       o->in_place = true;
       return true;
     }},
};

bool parse(int argc, char** argv, RowOptions* o) {
  return parse_options(argc, argv, 2, kRowOptions, o);
}

/// A value in [-2, 2) from an integer hash of i (vectorizable, cheap outside the region).
double hashed(size_t i, uint32_t salt) {
  const uint32_t h = (static_cast<uint32_t>(i) ^ salt) * 2654435761u;
  return static_cast<double>(h >> 8) / 4194304.0 - 2.0;
}

/// The rows checked: all of them up to 64, else 16 spread over [0, n) (first and last too).
std::vector<size_t> checked_rows(size_t n) {
  std::vector<size_t> rows;
  if (n <= 64) {
    for (size_t r = 0; r < n; ++r) rows.push_back(r);
  } else {
    for (size_t k = 0; k < 16; ++k) rows.push_back(k * (n - 1) / 15);
  }
  return rows;
}

template <class T>
double out_rounding(double ref) {
  return std::is_same_v<T, sme2k::f16> ? sme2k::reference::f16_rounding(ref) : 0.0;
}

template <class T>
int run_norm(const RowOptions& o, bool rms) {
  const char* name = rms ? "rms-norm" : "layer-norm";
  const size_t ld = o.ld != 0 ? o.ld : o.cols;
  if (ld < o.cols) {
    std::fprintf(stderr, "sme2k-run %s: --ld %zu < --cols %zu\n", name, ld, o.cols);
    return kExitUsage;
  }
  const size_t extent = (o.rows - 1) * ld + o.cols;
  std::vector<T> x(extent), y(o.in_place ? 0 : extent);
  std::vector<float> w(o.cols), b(o.cols);
  for (size_t i = 0; i < extent; ++i) {
    x[i] = sme2k::convert_to<T>(static_cast<float>(hashed(i, 1) + (rms ? 0.0 : 1.0)));
  }
  for (size_t i = 0; i < o.cols; ++i) {
    w[i] = static_cast<float>(hashed(i, 2) * 0.5);
    b[i] = static_cast<float>(hashed(i, 3) * 0.25);
  }
  const std::vector<T> x0 = x;
  T* out = o.in_place ? x.data() : y.data();
  const sme2k::MatrixView<const T> xv{x.data(), o.rows, o.cols, ld};
  const sme2k::MatrixView<T> yv{out, o.rows, o.cols, ld};
  const float* wp = o.weight ? w.data() : nullptr;
  const float* bp = o.bias && !rms ? b.data() : nullptr;
  sme2k_roi_begin();
  const sme2k::Status s =
      rms ? sme2k::rms_norm<T>(xv, yv, wp, o.eps) : sme2k::layer_norm<T>(xv, yv, wp, bp, o.eps);
  sme2k_roi_end();
  if (!s.ok()) {
    std::fprintf(stderr, "sme2k-run %s: %s\n", name, s.message());
    return kExitFailure;
  }
  size_t wrong = 0, checked = 0;
  double worst = 0.0;  // the largest error / bound
  for (size_t r : checked_rows(o.rows)) {
    std::vector<double> xr(o.cols), wr, br;
    for (size_t i = 0; i < o.cols; ++i) xr[i] = sme2k::to_f32(x0[r * ld + i]);
    if (wp != nullptr) wr.assign(w.begin(), w.end());
    if (bp != nullptr) br.assign(b.begin(), b.end());
    const std::vector<double> ref = rms ? sme2k::reference::rms_norm_row(xr, wr, o.eps)
                                        : sme2k::reference::layer_norm_row(xr, wr, br, o.eps);
    double mean = 0.0, inv = 0.0, mean_abs = 0.0;
    sme2k::reference::layer_norm_stats(xr, o.eps, &mean, &inv);
    for (double v : xr) mean_abs += std::fabs(v) / static_cast<double>(o.cols);
    for (size_t i = 0; i < o.cols; ++i, ++checked) {
      const double wa = wr.empty() ? 1.0 : std::fabs(wr[i]);
      const double ba = br.empty() ? 0.0 : std::fabs(br[i]);
      const double bound =
          (rms ? sme2k::reference::rms_norm_bound(ref[i], o.cols)
               : sme2k::reference::layer_norm_bound(xr[i], mean, mean_abs, inv, wa, ba, o.cols)) +
          out_rounding<T>(ref[i]);
      const double err = std::fabs(sme2k::to_f32(out[r * ld + i]) - ref[i]);
      if (!(err <= bound)) ++wrong;
      if (bound > 0.0 && err / bound > worst) worst = err / bound;
    }
  }
  std::printf(
      "%s %s: rows %zu cols %zu ld %zu weight %s%s eps %g, path %s: %s (%zu checked, "
      "worst error %.2f of the bound)\n",
      name, std::is_same_v<T, float> ? "f32" : "f16", o.rows, o.cols, ld,
      wp != nullptr ? "yes" : "no", rms ? "" : (bp != nullptr ? " bias yes" : " bias no"),
      static_cast<double>(o.eps), sme2k::path_name(sme2k::last_used_path()),
      wrong == 0 ? "ok" : "WRONG", checked, worst);
  return wrong == 0 ? kExitOk : kExitFailure;
}

template <class T>
int run_rope(const RowOptions& o) {
  const size_t rotary = o.rotary_dim != 0 ? o.rotary_dim : o.dim, half = rotary / 2;
  sme2k::RopeTensor<T> t =
      o.bhsd ? sme2k::rope_tensor_bhsd<T>(nullptr, o.batch, o.heads, o.seq, o.dim)
             : sme2k::rope_tensor_bshd<T>(nullptr, o.batch, o.seq, o.heads, o.dim);
  const size_t count = o.batch * o.seq * o.heads * o.dim, positions = o.seq + 16;
  std::vector<T> x(count);
  for (size_t i = 0; i < count; ++i) x[i] = sme2k::convert_to<T>(static_cast<float>(hashed(i, 4)));
  std::vector<float> cs(positions * half), sn(positions * half);
  for (size_t p = 0; p < positions; ++p) {
    for (size_t i = 0; i < half; ++i) {
      const double angle =
          static_cast<double>(p) *
          std::pow(10000.0, -2.0 * static_cast<double>(i) / static_cast<double>(rotary));
      cs[p * half + i] = static_cast<float>(std::cos(angle));
      sn[p * half + i] = static_cast<float>(std::sin(angle));
    }
  }
  std::vector<int32_t> pos(o.batch * o.seq);
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>((i * 7 + 3) % positions);
  const std::vector<T> x0 = x;
  t.data = x.data();
  const sme2k::RopePairing pairing =
      o.interleaved ? sme2k::RopePairing::kInterleaved : sme2k::RopePairing::kHalfSplit;
  sme2k_roi_begin();
  const sme2k::Status s = sme2k::rope<T>(
      t, sme2k::RopeTables{cs.data(), sn.data(), positions, rotary}, pairing, pos.data(), 0);
  sme2k_roi_end();
  if (!s.ok()) {
    std::fprintf(stderr, "sme2k-run rope: %s\n", s.message());
    return kExitFailure;
  }
  size_t wrong = 0, checked = 0;
  for (size_t u : checked_rows(o.batch * o.seq)) {
    const size_t b = u / o.seq, sq = u % o.seq, p = static_cast<size_t>(pos[u]);
    std::vector<double> cd(cs.begin() + p * half, cs.begin() + (p + 1) * half);
    std::vector<double> sd(sn.begin() + p * half, sn.begin() + (p + 1) * half);
    for (size_t h = 0; h < o.heads; ++h) {
      const size_t base = b * t.batch_stride + sq * t.seq_stride + h * t.head_stride;
      std::vector<double> xr(o.dim);
      for (size_t i = 0; i < o.dim; ++i) xr[i] = sme2k::to_f32(x0[base + i]);
      const std::vector<double> ref =
          sme2k::reference::rope_row(xr, cd.data(), sd.data(), half, o.interleaved);
      for (size_t i = 0; i < o.dim; ++i, ++checked) {
        double bound = 0.0;
        if (i < rotary) {
          const size_t k = o.interleaved ? i / 2 : i % half;
          const size_t ia = o.interleaved ? 2 * k : k, ib = o.interleaved ? 2 * k + 1 : k + half;
          bound =
              sme2k::reference::rope_bound(xr[ia], xr[ib], cd[k], sd[k]) + out_rounding<T>(ref[i]);
        }
        if (!(std::fabs(sme2k::to_f32(x[base + i]) - ref[i]) <= bound)) ++wrong;
      }
    }
  }
  std::printf("rope %s %s %s: B %zu S %zu H %zu D %zu rotary %zu, path %s: %s (%zu checked)\n",
              std::is_same_v<T, float> ? "f32" : "f16", o.bhsd ? "bhsd" : "bshd",
              o.interleaved ? "interleaved" : "half-split", o.batch, o.seq, o.heads, o.dim, rotary,
              sme2k::path_name(sme2k::last_used_path()), wrong == 0 ? "ok" : "WRONG", checked);
  return wrong == 0 ? kExitOk : kExitFailure;
}

void norm_usage(std::FILE* out, bool rms) {
  std::fprintf(out,
               "usage: sme2k-run %s [--dtype f32|f16] [--rows R] [--cols C] [--ld X] "
               "[--no-weight]%s [--eps E] [--in-place]\n\n"
               "One %s call inside the region (defaults: 256 x 4096 f32, eps 1e-5), then\n"
               "checked against the f64 reference within its stated bound. Its load/store\n"
               "bound on the M4 model: rows x cols x bytes / 64 x (1 + 1.28) cycles (x read\n"
               "once, y written once).\n",
               rms ? "rms-norm" : "layer-norm", rms ? "" : " [--no-bias]",
               rms ? "rms_norm" : "layer_norm");
}

}  // namespace

void rms_norm_usage(std::FILE* out) { norm_usage(out, true); }
void layer_norm_usage(std::FILE* out) { norm_usage(out, false); }
void rope_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run rope [--dtype f32|f16] [--batch B] [--seq S] [--heads H] "
               "[--dim D]\n                      [--rotary-dim R] [--pairing "
               "interleaved|half-split] [--layout bshd|bhsd]\n\n"
               "One rope call on a dense [B, S, H, D] or [B, H, S, D] tensor in place inside\n"
               "the region (defaults: B 1, S 256, H 32, D 64, rotary D, half-split), with a\n"
               "position per (b, s) from a table of S + 16 rows, then checked against the f64\n"
               "reference within its stated bound.\n");
}

int rms_norm_verb(int argc, char** argv) {
  RowOptions o;
  if (!parse(argc, argv, &o)) {
    rms_norm_usage(stderr);
    return kExitUsage;
  }
  return o.f16 ? run_norm<sme2k::f16>(o, true) : run_norm<float>(o, true);
}

int layer_norm_verb(int argc, char** argv) {
  RowOptions o;
  if (!parse(argc, argv, &o)) {
    layer_norm_usage(stderr);
    return kExitUsage;
  }
  return o.f16 ? run_norm<sme2k::f16>(o, false) : run_norm<float>(o, false);
}

int rope_verb(int argc, char** argv) {
  RowOptions o;
  if (!parse(argc, argv, &o)) {
    rope_usage(stderr);
    return kExitUsage;
  }
  return o.f16 ? run_rope<sme2k::f16>(o) : run_rope<float>(o);
}

}  // namespace sme2k_run
