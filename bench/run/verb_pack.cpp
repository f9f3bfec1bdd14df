// sme2k-run pack-lhs and pack-rhs: packing alone in the region. pack-lhs: QD8 activation
// quantization and packing (gemm_pack_lhs), checked byte for byte against the format's
// specification; pack-rhs: 4-bit weights (a one-time cost per model), checked by a GEMV of
// the packed weights against test/reference/dynamic_quant.hpp.
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

#include "reference/dynamic_quant.hpp"
#include "reference/gemm.hpp"
#include "run/data.hpp"
#include "run/options.hpp"
#include "run/verbs.hpp"
#include "sme2k/sme2k.hpp"

namespace sme2k_run {
namespace {

struct PackLhsOptions {
  const char* variant = nullptr;
  OutChoice in = OutChoice::kDefault;
  size_t m = 0, k = 0, lda = 0;
  uint32_t seed = 1;
  PathChoice path = PathChoice::kAuto;
  size_t repeat = 1;
};

using PackLhsSpec = OptionSpec<PackLhsOptions>;
const PackLhsSpec kPackLhsOptions[] = {
    {"--variant", "NAME", "numeric variant whose activations are packed before the GEMM: qd8",
     [](const char* v, PackLhsOptions* o) {
       o->variant = v;
       return true;
     }},
    {"--in", "f32|f16", "the activations' element type (default f32)", parse_in<PackLhsOptions>},
    {"--m", "M", "rows of A (required)",
     [](const char* v, PackLhsOptions* o) { return parse_positive(v, &o->m); }},
    {"--k", "K", "columns of A (required)",
     [](const char* v, PackLhsOptions* o) { return parse_positive(v, &o->k); }},
    {"--lda", "X", "leading dimension of A (default K)", parse_lda<PackLhsOptions>},
    {"--seed", "S", "seed of the random data (default 1)", parse_seed<PackLhsOptions>},
    {"--path", "auto|portable|sme2", "force a path (default auto)", parse_path<PackLhsOptions>},
    {"--repeat", "R", "calls inside the region of interest (default 1)",
     parse_repeat<PackLhsOptions>},
};

/// The bytes gemm_pack_lhs() must write on `path`, from the formats' plain C++ packers (the
/// specifications, themselves checked against test/reference/dynamic_quant.hpp by the tests).
template <class In>
std::vector<uint8_t> expected_packed_lhs(sme2k::MatrixView<const In> a, sme2k::Path path,
                                         size_t payload_bytes) {
  std::vector<uint8_t> want(payload_bytes);
  if (path == sme2k::Path::kPortable) {
    sme2k::LhsQd8p1x1::pack(a, want.data());
    return want;
  }
  const size_t vl = sme2k::streaming_vl();
  using Format = sme2k::LhsQd8p2vlx4;
  const size_t mr = Format::mr(vl), panel_bytes = Format::panel_bytes(a.cols, vl);
  for (size_t m0 = 0; m0 < a.rows; m0 += mr) {
    const size_t rows = std::min(mr, a.rows - m0);
    Format::pack_panel<In>({a.data + m0 * a.ld, rows, a.cols, a.ld}, vl,
                           want.data() + m0 / mr * panel_bytes);
  }
  return want;
}

/// QD8 activation quantization and packing alone in the region (gemm_pack_lhs), checked
/// byte for byte against the format's specification.
template <class In>
int run_pack_lhs_qd8(PackLhsOptions o) {
  if (o.lda == 0) o.lda = o.k;
  if (o.lda < o.k) {
    std::fprintf(stderr, "sme2k-run: --lda %zu is below K %zu\n", o.lda, o.k);
    return kExitUsage;
  }
  const std::optional<sme2k::Path> forced = forced_path(o.path);
  if (forced && !sme2k::path_available(*forced, sme2k::cpu_features())) {
    std::fprintf(stderr, "sme2k-run: path %s is not available\n", sme2k::path_name(*forced));
    return kExitFailure;
  }
  std::optional<sme2k::testing::ScopedForcePath> force;
  if (forced) force.emplace(*forced);
  const size_t a_count = matrix_extent(o.m, o.k, o.lda);
  Buffer<float> a_values = random_matrix(o.m, o.k, o.lda, o.seed * 3);
  const Buffer<In> a = stored_as<In>(&a_values, a_count);
  const sme2k::MatrixView<const In> view{a.get(), o.m, o.k, o.lda};
  size_t bytes = 0;
  sme2k::Status status = sme2k::gemm_packed_lhs_size<sme2k::QD8>(o.m, o.k, &bytes);
  Buffer<unsigned char> packed = allocate<unsigned char>(bytes);

  sme2k_roi_begin();
  for (size_t r = 0; r < o.repeat && status.ok(); ++r) {
    status = sme2k::gemm_pack_lhs<sme2k::QD8>(view, packed.get(), bytes);
  }
  sme2k_roi_end();

  const sme2k::Path path = sme2k::last_used_path();
  const size_t svl_bits = sme2k::streaming_vector_bytes() * 8;
  std::printf("pack-lhs qd8 in=%s M=%zu K=%zu lda=%zu bytes=%zu path=%s svl=%zu status=%s\n",
              std::is_same_v<In, float> ? "f32" : "f16", o.m, o.k, o.lda, bytes,
              status.ok() ? sme2k::path_name(path) : "-", svl_bits,
              status.ok() ? "ok" : sme2k::status_code_name(status.code()));
  if (!status.ok()) {
    std::fprintf(stderr, "sme2k-run: %s\n", status.message());
    return kExitFailure;
  }
  const size_t payload = bytes - sme2k::kPackedHeaderBytes;
  const std::vector<uint8_t> want = expected_packed_lhs(view, path, payload);
  size_t wrong = 0;
  for (size_t i = 0; i < payload; ++i) wrong += packed[sme2k::kPackedHeaderBytes + i] != want[i];
  std::printf("verified %zu packed bytes against the format: %s\n", payload,
              wrong == 0 ? "ok" : "MISMATCH");
  if (wrong != 0) return kExitFailure;
  return meets_expectations(o.path, path, svl_bits) ? kExitOk : kExitFailure;
}

// ------------------------------------------------------------------------------ pack-rhs

struct PackRhsOptions {
  const char* variant = nullptr;
  size_t n = 0, k = 0;
  sme2k::RhsLayout b_layout = sme2k::RhsLayout::kNxK;
  bool int8_values = false;  // 4-bit weights one a byte instead of two
  uint32_t seed = 1;
  PathChoice path = PathChoice::kAuto;
};

using PackRhsSpec = OptionSpec<PackRhsOptions>;
const PackRhsSpec kPackRhsOptions[] = {
    {"--variant", "NAME", "weights of: qd8-qc4w, qd8-qb4w (block 32), qd8-qb4w-q4_0 (from GGUF)",
     [](const char* v, PackRhsOptions* o) {
       o->variant = v;
       return true;
     }},
    {"--n", "N", "output channels (required)",
     [](const char* v, PackRhsOptions* o) { return parse_positive(v, &o->n); }},
    {"--k", "K", "input channels (required)",
     [](const char* v, PackRhsOptions* o) { return parse_positive(v, &o->k); }},
    {"--b-layout", "kxn|nxk", "how B is stored before packing (default nxk)",
     [](const char* v, PackRhsOptions* o) { return parse_choice(v, kLayoutNames, &o->b_layout); }},
    {"--int8-values", nullptr, "4-bit values given one a byte (default: nibbles, two a byte)",
     [](const char*, PackRhsOptions* o) {
       o->int8_values = true;
       return true;
     }},
    {"--seed", "S", "seed of the random data (default 1)", parse_seed<PackRhsOptions>},
    {"--path", "auto|portable|sme2", "force a path (default auto)", parse_path<PackRhsOptions>},
};

/// 4-bit weight packing alone in the region (gemm_pack_rhs / gemm_pack_rhs_q4_0, a one-time
/// cost per model); checked after it by a GEMV of the packed weights against the reference.
enum class PackedWeights { kQc4w, kQb4w, kQ4_0 };

int run_pack_rhs(const PackRhsOptions& o, PackedWeights kind) {
  const std::optional<sme2k::Path> forced = forced_path(o.path);
  if (forced && !sme2k::path_available(*forced, sme2k::cpu_features())) {
    std::fprintf(stderr, "sme2k-run: path %s is not available\n", sme2k::path_name(*forced));
    return kExitFailure;
  }
  std::optional<sme2k::testing::ScopedForcePath> force;
  if (forced) force.emplace(*forced);
  const bool kxn = o.b_layout == sme2k::RhsLayout::kKxN;
  const size_t rows = kxn ? o.k : o.n, cols = kxn ? o.n : o.k;
  if (!o.int8_values && cols % 2 != 0) {
    std::fprintf(stderr, "sme2k-run: nibble rows need an even length (%zu)\n", cols);
    return kExitUsage;
  }
  if (kind != PackedWeights::kQc4w && (o.k % 32 != 0 || (kind == PackedWeights::kQ4_0 && kxn))) {
    std::fprintf(stderr, "sme2k-run: QB4W needs K a multiple of 32 (Q4_0: N x K rows)\n");
    return kExitUsage;
  }
  Buffer<float> values = random_matrix(rows, cols, cols, o.seed * 5);
  Buffer<int8_t> b = allocate<int8_t>(rows * cols);
  for (size_t i = 0; i < rows * cols; ++i) b[i] = static_cast<int8_t>(values[i] * 7.99f);
  const size_t ld = o.int8_values ? cols : cols / 2;
  Buffer<uint8_t> stored = allocate<uint8_t>(rows * ld);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      if (o.int8_values) {
        stored[r * ld + c] = static_cast<uint8_t>(b[r * cols + c]);
      } else {
        const auto nibble = static_cast<unsigned>(b[r * cols + c]) & 0xFu;
        uint8_t& byte = stored[r * ld + c / 2];
        byte = static_cast<uint8_t>(c % 2 == 0 ? nibble : (byte | nibble << 4));
      }
    }
  }
  const sme2k::Int4View view{
      stored.get(), rows, cols, ld,
      o.int8_values ? sme2k::Int4Storage::kInt8 : sme2k::Int4Storage::kNibbles};
  Buffer<float> w_scales = allocate<float>(o.n);
  for (size_t j = 0; j < o.n; ++j) w_scales[j] = 0.01f * (1.0f + static_cast<float>(j % 5));
  // QB4W: a scale per 32 k (f16 values, so Q4_0's blocks hold the same ones).
  const size_t groups = o.k / 32;
  Buffer<float> block_scale = allocate<float>(o.n * groups);
  Buffer<uint8_t> q4_0 = allocate<uint8_t>(o.n * groups * sme2k::kQ4_0BlockBytes);
  if (kind != PackedWeights::kQc4w) {
    for (size_t j = 0; j < o.n; ++j) {
      for (size_t g = 0; g < groups; ++g) {
        const sme2k::f16 d = sme2k::to_f16(w_scales[j] * (1.0f + static_cast<float>(g % 3) / 4));
        block_scale[j * groups + g] = sme2k::to_f32(d);
        uint8_t* block = &q4_0[(j * groups + g) * sme2k::kQ4_0BlockBytes];
        block[0] = static_cast<uint8_t>(d.bits & 0xFF),
        block[1] = static_cast<uint8_t>(d.bits >> 8);
        for (size_t i = 0; i < 32 && !kxn; ++i) {
          const auto nibble = static_cast<unsigned>(b[j * cols + g * 32 + i] + 8);
          uint8_t& byte = block[2 + i % 16];
          byte = static_cast<uint8_t>(i < 16 ? nibble : (byte | nibble << 4));
        }
      }
    }
  }
  const sme2k::BlockScales scales{block_scale.get(), sme2k::ScaleType::kF32, 32, groups};
  size_t bytes = 0;
  sme2k::Status status = kind == PackedWeights::kQc4w
                             ? sme2k::gemm_packed_rhs_size<sme2k::QD8QC4W>(o.n, o.k, &bytes)
                             : sme2k::gemm_packed_rhs_size<sme2k::QD8QB4W>(o.n, o.k, 32, &bytes);
  Buffer<unsigned char> packed = allocate<unsigned char>(bytes);

  sme2k_roi_begin();
  if (status.ok()) {
    switch (kind) {
      case PackedWeights::kQc4w:
        status = sme2k::gemm_pack_rhs<sme2k::QD8QC4W>(view, o.b_layout, nullptr, w_scales.get(),
                                                      packed.get(), bytes);
        break;
      case PackedWeights::kQb4w:
        status = sme2k::gemm_pack_rhs<sme2k::QD8QB4W>(view, o.b_layout, nullptr, scales,
                                                      packed.get(), bytes);
        break;
      case PackedWeights::kQ4_0:
        status = sme2k::gemm_pack_rhs_q4_0<sme2k::QD8QB4W>(q4_0.get(), o.n, o.k, nullptr,
                                                           packed.get(), bytes);
        break;
    }
  }
  sme2k_roi_end();

  sme2k::PackedHeader header{};  // the path the weights were packed for
  if (status.ok()) std::memcpy(&header, packed.get(), sizeof header);
  const sme2k::Path path = header.path;
  const size_t svl_bits = sme2k::streaming_vector_bytes() * 8;
  std::printf("pack-rhs %s N=%zu K=%zu b=%s storage=%s bytes=%zu path=%s svl=%zu status=%s\n",
              o.variant, o.n, o.k, sme2k::rhs_layout_name(o.b_layout),
              kind == PackedWeights::kQ4_0 ? "q4_0"
              : o.int8_values              ? "int8"
                                           : "nibbles",
              bytes, status.ok() ? sme2k::path_name(path) : "-", svl_bits,
              status.ok() ? "ok" : sme2k::status_code_name(status.code()));
  if (!status.ok()) {
    std::fprintf(stderr, "sme2k-run: %s\n", status.message());
    return kExitFailure;
  }
  // One row of activations through the packed weights, against the reference.
  sme2k::reference::Qd8GemmProblem p;
  p.m = 1, p.n = o.n, p.k = o.k;
  Buffer<float> a = random_matrix(1, o.k, o.k, o.seed * 5 + 1);
  p.a.assign(a.get(), a.get() + o.k);
  p.b = b.get(), p.ldb = cols, p.b_layout = o.b_layout;
  p.w_scales = w_scales.get();
  Buffer<float> c = allocate<float>(o.n);
  const sme2k::MatrixView<const float> a_view{a.get(), 1, o.k, o.k};
  const sme2k::MatrixView<float> c_view{c.get(), 1, o.n, o.n};
  status = kind == PackedWeights::kQc4w
               ? sme2k::gemm<sme2k::QD8QC4W>(a_view, packed.get(), bytes, c_view)
               : sme2k::gemm<sme2k::QD8QB4W>(a_view, packed.get(), bytes, c_view);
  if (!status.ok()) {
    std::fprintf(stderr, "sme2k-run: %s\n", status.message());
    return kExitFailure;
  }
  const std::vector<sme2k::reference::QuantizedRow> quantized = sme2k::reference::quantize_rows(p);
  Verifier v;
  for (size_t j = 0; j < o.n; ++j) {
    if (kind == PackedWeights::kQc4w) {
      const sme2k::reference::Qd8Element want = sme2k::reference::qd8_at(p, quantized[0], 0, j);
      v.expect_near(0, j, c[j], want.value, sme2k::reference::qd8_dequant_bound(want.magnitude));
    } else {
      const sme2k::reference::Qd8Element want = sme2k::reference::qb4w_at(
          p, quantized[0], [&](size_t jj, size_t kk) { return scales.at(jj, kk); }, 0, j);
      v.expect_near(0, j, c[j], want.value,
                    sme2k::reference::f32_gemm_error_bound(o.k + 2, want.magnitude));
    }
  }
  std::printf("verified %zu outputs of a GEMV through the packed weights: %s\n", v.checked(),
              v.failed() == 0 ? "ok" : "MISMATCH");
  if (v.failed() != 0) return kExitFailure;
  return meets_expectations(o.path, path, svl_bits) ? kExitOk : kExitFailure;
}

}  // namespace

void pack_lhs_usage(std::FILE* out) {
  std::fprintf(out, "usage: sme2k-run pack-lhs --variant qd8 --m M --k K [options]\n\n");
  std::fprintf(out,
               "Quantizes A (M x K, f32 or f16) per row and packs it for gemm (gemm_pack_lhs).\n"
               "Options:\n");
  print_options(out, kPackLhsOptions);
}

int pack_lhs_verb(int argc, char** argv) {
  PackLhsOptions o;
  if (!parse_options(argc, argv, 2, kPackLhsOptions, &o)) {
    pack_lhs_usage(stderr);
    return kExitUsage;
  }
  if (o.variant == nullptr || o.m == 0 || o.k == 0) {
    std::fprintf(stderr, "sme2k-run pack-lhs: --variant, --m and --k are required\n");
    pack_lhs_usage(stderr);
    return kExitUsage;
  }
  if (std::strcmp(o.variant, "qd8") != 0) {
    std::fprintf(stderr, "sme2k-run pack-lhs: unknown variant '%s'; known: qd8\n", o.variant);
    return kExitUsage;
  }
  return o.in == OutChoice::kF16 ? run_pack_lhs_qd8<sme2k::f16>(o) : run_pack_lhs_qd8<float>(o);
}

void pack_rhs_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run pack-rhs --variant qd8-qc4w|qd8-qb4w|qd8-qb4w-q4_0 --n N --k K "
               "[options]\n\n");
  std::fprintf(out, "Packs 4-bit weights (gemm_pack_rhs) alone in the region.\nOptions:\n");
  print_options(out, kPackRhsOptions);
}

int pack_rhs_verb(int argc, char** argv) {
  PackRhsOptions o;
  if (!parse_options(argc, argv, 2, kPackRhsOptions, &o)) {
    pack_rhs_usage(stderr);
    return kExitUsage;
  }
  if (o.variant == nullptr || o.n == 0 || o.k == 0) {
    std::fprintf(stderr, "sme2k-run pack-rhs: --variant, --n and --k are required\n");
    pack_rhs_usage(stderr);
    return kExitUsage;
  }
  constexpr std::pair<const char*, PackedWeights> kKinds[] = {
      {"qd8-qc4w", PackedWeights::kQc4w},
      {"qd8-qb4w", PackedWeights::kQb4w},
      {"qd8-qb4w-q4_0", PackedWeights::kQ4_0}};
  PackedWeights kind = PackedWeights::kQc4w;
  if (!parse_choice(o.variant, kKinds, &kind)) {
    std::fprintf(stderr,
                 "sme2k-run pack-rhs: unknown variant '%s'; known: qd8-qc4w qd8-qb4w "
                 "qd8-qb4w-q4_0\n",
                 o.variant);
    return kExitUsage;
  }
  return run_pack_rhs(o, kind);
}

}  // namespace sme2k_run
