// sme2k-run: runs one sme2k op once, for the cycle model (DESIGN.md sections 5 and 7).
//
//   sme2k-run gemm --variant f32 --m 256 --n 2048 --k 2048 [options]
//
// What a runtime does once per model (making the data, packing the weights, sizing and
// allocating the workspace) happens before sme2k_roi_begin(); what it does per inference
// (the op call) happens between the markers, which is all `insn-mix --roi` counts. The result
// is then checked against the independent reference (test/reference/) and a mismatch exits 1.
// Each verb is a file bench/run/verb_*.cpp on the shared option and data modules
// (options.hpp, data.hpp); this file holds the markers and the one verb table.
//
// Exit status: 0 ok, 1 an sme2k error or a wrong result, 2 a bad command line.
#include <cstdio>
#include <cstring>

#include "run/options.hpp"
#include "run/verbs.hpp"

// The region of interest. Not inlined, so insn-mix can find them by symbol; the barrier keeps
// the compiler from moving memory accesses across them.
extern "C" __attribute__((noinline)) void sme2k_roi_begin() { asm volatile("" ::: "memory"); }
extern "C" __attribute__((noinline)) void sme2k_roi_end() { asm volatile("" ::: "memory"); }

namespace {

using namespace sme2k_run;

/// One op per verb (DESIGN.md section 5): a new verb is a verb_*.cpp and a line here.
constexpr Verb kVerbs[] = {
    {"gemm", "C = clamp(A x B + bias), weights packed before the region", gemm_verb, gemm_usage},
    {"conv2d", "2D convolution (NCHW/NHWC, groups, depthwise), weights packed before the region",
     conv2d_verb, conv2d_usage},
    {"pack-rhs", "4-bit weights packed (qd8-qc4w), the one-time cost", pack_rhs_verb,
     pack_rhs_usage},
    {"pack-lhs", "activations quantized and packed for later GEMMs (qd8)", pack_lhs_verb,
     pack_lhs_usage},
    {"chain", "a SqueezeSAM-like block chain, fused or transposing (examples/block_chain.hpp)",
     chain_verb, chain_usage},
    {"transpose", "NCHW <-> NHWC layout conversion (convert_layout)", transpose_verb,
     transpose_usage},
    {"softmax", "softmax over rows (scale, mask), f32 / f16", softmax_verb, softmax_usage},
    {"rms-norm", "RMSNorm over rows (f32/f16)", rms_norm_verb, rms_norm_usage},
    {"layer-norm", "LayerNorm over rows (f32/f16)", layer_norm_verb, layer_norm_usage},
    {"rope", "rotary embedding in place on [B,S,H,D] / [B,H,S,D]", rope_verb, rope_usage},
    {"attention", "fused softmax(scale Q K^T + mask) V (f16/f32, GQA, causal, window)",
     attention_verb, attention_usage},
    {"llm-layer", "one decoder layer, prefill or decode, the region around every op or one",
     llm_layer_verb, llm_layer_usage},
};

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: sme2k-run VERB --variant NAME [options]   (sme2k-run VERB --help)\n"
               "Runs one sme2k op between sme2k_roi_begin() and sme2k_roi_end() for\n"
               "`insn-mix --roi`, then checks the result against the reference.\n"
               "Exit status: 0 ok, 1 sme2k error or wrong result, 2 bad command line.\n\n"
               "Verbs:\n");
  for (const auto& verb : kVerbs) std::fprintf(out, "  %-10s %s\n", verb.name, verb.summary);
}

bool is_help(const char* arg) {
  return std::strcmp(arg, "--help") == 0 || std::strcmp(arg, "-h") == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || is_help(argv[1])) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitUsage : kExitOk;
  }
  for (const auto& verb : kVerbs) {
    if (std::strcmp(argv[1], verb.name) != 0) continue;
    for (int i = 2; i < argc; ++i) {
      if (is_help(argv[i])) {
        verb.usage(stdout);
        return kExitOk;
      }
    }
    return verb.run(argc, argv);
  }
  std::fprintf(stderr, "sme2k-run: unknown verb '%s'\n", argv[1]);
  usage(stderr);
  return kExitUsage;
}
