// A llama.cpp-style 4-bit linear layer: weights as ggml Q4_0 blocks (the struct llama.cpp
// reads from a GGUF file), packed once by gemm_pack_rhs_q4_0 for the QD8 x QB4W GEMM, then a
// prefill (M = 7 tokens) and a decode (M = 1) matmul against f32 activations, each checked
// against dequantize-to-f32-then-multiply (what ggml's reference path computes).
//
// The bound. sme2k quantizes each activation row to int8 (types/dynamic_quantization.hpp):
// with s = (max(0, max a) - min(0, min a)) / 255 the row's step, every activation moves by at
// most s / 2 (half a step; the factor 1 + 2^-12 below covers the f32 rounding of s and 1/s).
// The weights are used exactly (4-bit value times an f16 scale is exact in f32). So
//   |C - ref| <= s / 2 (1 + 2^-12) sum_k |w[k]| + gamma(K + 2) sum_k (|a[k]| + s) |w[k]|,
// the second term the f32 arithmetic (gamma(n) = n u / (1 - n u), u = 2^-24).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sme2k/sme2k.hpp>
#include <vector>

namespace {

// ggml's block_q4_0 (ggml-common.h): ggml_half d; uint8_t qs[QK4_0 / 2]. Weight j < 16 of
// the block is the low nibble of qs[j], weight 16 + j its high nibble; value = d * (q - 8).
constexpr size_t kQk4_0 = 32;
struct block_q4_0 {
  uint16_t d;  // f16 bits
  uint8_t qs[kQk4_0 / 2];
};
static_assert(sizeof(block_q4_0) == 18, "ggml's Q4_0 block is 18 bytes");

// One block of 32 weights. ggml's quantizer sets d = max / -8 (negative when the largest
// magnitude is positive, 0 for an all-zero block); gemm_pack_rhs_q4_0 takes d > 0 only
// (docs/integration/llama_cpp.md), so this one maps the extreme to -8 or to +7 instead.
block_q4_0 quantize_q4_0(const float* x) {
  float amax = 0.0f, max = 0.0f;
  for (size_t j = 0; j < kQk4_0; ++j) {
    if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), max = x[j];
  }
  block_q4_0 b{};
  b.d = sme2k::to_f16(amax == 0.0f ? 1.0f : max < 0.0f ? max / -8.0f : max / 7.0f).bits;
  const float inv = 1.0f / sme2k::f16_bits_to_f32(b.d);
  for (size_t j = 0; j < kQk4_0; ++j) {
    const long q = std::lround(x[j] * inv) + 8;
    const auto nibble = static_cast<uint8_t>(q < 0 ? 0 : q > 15 ? 15 : q);
    b.qs[j % 16] |= j < 16 ? nibble : static_cast<uint8_t>(nibble << 4);
  }
  return b;
}

// ggml's dequantize_row_q4_0 for one block.
void dequantize_q4_0(const block_q4_0& b, float* y) {
  const float d = sme2k::f16_bits_to_f32(b.d);
  for (size_t j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((b.qs[j] & 0xF) - 8) * d;
    y[j + 16] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
  }
}

// C (M x N) = A (M x K) x W^T through sme2k, checked against the dequantized weights.
bool matmul(const char* what, size_t m, size_t n, size_t k, const float* a, const void* packed,
            size_t packed_bytes, const std::vector<float>& w) {
  using namespace sme2k;
  std::vector<float> c(m * n);
  size_t workspace_bytes = 0;  // a runtime sizes this once, for its largest batch
  Status s = gemm_workspace_size<QD8QB4W>(m, n, k, &workspace_bytes);
  std::vector<uint8_t> workspace(workspace_bytes);
  if (s.ok()) {
    s = gemm<QD8QB4W>(dense_matrix(a, m, k), packed, packed_bytes, dense_matrix(c.data(), m, n),
                      GemmEpilogue{}, workspace.data(), workspace_bytes);
  }
  if (!s.ok()) {
    std::fprintf(stderr, "llama_q4_0 %s: %s\n", what, s.message());
    return false;
  }
  const double u = std::ldexp(1.0, -24), nu = static_cast<double>(k + 2) * u;
  const double gamma = nu / (1.0 - nu);
  double worst = 0.0, worst_bound = 0.0;
  bool ok = true;
  for (size_t i = 0; i < m; ++i) {
    double lo = 0.0, hi = 0.0;
    for (size_t kk = 0; kk < k; ++kk)
      lo = std::fmin(lo, a[i * k + kk]), hi = std::fmax(hi, a[i * k + kk]);
    const double step = (hi - lo) / 255.0 * (1.0 + std::ldexp(1.0, -20));
    for (size_t j = 0; j < n; ++j) {
      double ref = 0.0, sum_w = 0.0, magnitude = 0.0;
      for (size_t kk = 0; kk < k; ++kk) {
        const double wt = w[j * k + kk], x = a[i * k + kk];
        ref += x * wt;
        sum_w += std::fabs(wt);
        magnitude += (std::fabs(x) + step) * std::fabs(wt);
      }
      const double bound = step / 2 * (1.0 + std::ldexp(1.0, -12)) * sum_w + gamma * magnitude;
      const double error = std::fabs(c[i * n + j] - ref);
      if (!(error <= bound)) {
        std::fprintf(stderr, "llama_q4_0 %s: C(%zu, %zu) = %g, want %g within %g\n", what, i, j,
                     static_cast<double>(c[i * n + j]), ref, bound);
        ok = false;
      }
      if (error > worst) worst = error, worst_bound = bound;
    }
  }
  std::printf("llama_q4_0 %s: M=%zu N=%zu K=%zu, %s path, max |C - ref| = %.3g (its bound %.3g)\n",
              what, m, n, k, path_name(last_used_path()), worst, worst_bound);
  return ok;
}

}  // namespace

int main() {
  using namespace sme2k;
  const size_t n = 40, k = 256;  // N output features (rows of blocks), K inputs: K / 32 blocks

  // The model file's weights, as llama.cpp holds them: N rows of K / 32 blocks.
  std::vector<block_q4_0> blocks(n * k / kQk4_0);
  std::vector<float> row(k), w(n * k);
  for (size_t j = 0; j < n; ++j) {
    for (size_t kk = 0; kk < k; ++kk) {
      const double x = 0.7 * static_cast<double>(j) + 0.31 * static_cast<double>(kk);
      row[kk] = static_cast<float>(std::sin(x) * static_cast<double>(1 + kk % 3));
    }
    for (size_t b = 0; b < k / kQk4_0; ++b) {
      blocks[j * k / kQk4_0 + b] = quantize_q4_0(&row[b * kQk4_0]);
      dequantize_q4_0(blocks[j * k / kQk4_0 + b], &w[j * k + b * kQk4_0]);
    }
  }

  // Load time: pack once (block size 32); the Q4_0 bytes are no longer needed afterwards.
  size_t packed_bytes = 0;
  Status s = gemm_packed_rhs_size<QD8QB4W>(n, k, /*block=*/32, &packed_bytes);
  std::vector<uint8_t> packed(packed_bytes);
  if (s.ok()) {
    s = gemm_pack_rhs_q4_0<QD8QB4W>(blocks.data(), n, k, /*bias=*/nullptr, packed.data(),
                                    packed_bytes);
  }
  if (!s.ok()) {
    std::fprintf(stderr, "llama_q4_0: %s\n", s.message());
    return 1;
  }
  std::printf("llama_q4_0: %zu bytes of Q4_0 blocks packed into %zu bytes\n",
              blocks.size() * sizeof(block_q4_0), packed_bytes);

  // Activations of 7 tokens (prefill), then of the next one alone (decode).
  const size_t prompt = 7;
  std::vector<float> a((prompt + 1) * k);
  for (size_t i = 0; i < a.size(); ++i) {  // an outlier every 11th value, as LLM activations have
    a[i] = static_cast<float>(std::cos(0.05 * static_cast<double>(i)) * (i % 11 == 0 ? 4.0 : 1.0));
  }
  const bool prefill = matmul("prefill", prompt, n, k, a.data(), packed.data(), packed_bytes, w);
  const bool decode =
      matmul("decode", 1, n, k, a.data() + prompt * k, packed.data(), packed_bytes, w);
  return prefill && decode ? 0 : 1;
}
