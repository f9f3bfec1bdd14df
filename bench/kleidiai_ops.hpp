// KleidiAI's SME2 micro-kernels driven as a runtime drives them, for the side-by-side
// benchmarks (BM_<op>/kleidiai/..., kleidiai_bench.cpp) and the cycle model's KleidiAI rows
// (kai-run, kai_run.cpp). Built only when scripts/setup extracted Debian's libkleidiai-dev.
//
// Each op packs its weights when it is made (a runtime does that once per model) and, per
// run(), does what a runtime does per inference: packs or dynamically quantizes the
// activations and runs the kernel over the whole output. check() compares sampled outputs
// with an independent reference (test/reference/ where one fits, else a direct loop here)
// within the bound stated at each op, and returns "" or what is wrong.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace sme2k_kleidiai {

class Op {
 public:
  virtual ~Op() = default;
  /// The per-inference work: activation packing / quantization and the kernel.
  virtual void run() = 0;
  /// "" when the sampled outputs are within the op's bound, else the first failure.
  virtual std::string check() const = 0;
  /// The KleidiAI kernel run() calls, for reports.
  virtual const char* kernel() const = 0;
};

/// GEMM C (M x N) = A (M x K) x B (K x N) + bias with B packed once. Variants: f32, f16,
/// qs8, qd8-qc4w, qd8-qb4w (block 32). M == 1 takes KleidiAI's GEMV kernel, else its
/// 2VL-tile (mopa) kernel. Null with *why set when the variant or shape is not served.
std::unique_ptr<Op> make_gemm(const std::string& variant, size_t m, size_t n, size_t k,
                              std::string* why);

/// Conv2d K x K, stride 1, "same" padding, batch 1, NHWC in and out, through KleidiAI's
/// indirect GEMM (imatmul): the indirection table is built once for the input buffer (as a
/// runtime does when it sets up the operator); per run() the LHS imatmul packing and the
/// kernel. Variants: f16, qs8.
std::unique_ptr<Op> make_conv(const std::string& variant, size_t kernel, size_t cin, size_t cout,
                              size_t hw, std::string* why);

}  // namespace sme2k_kleidiai
