// sme2k-run's attention verb (bench/run_attention.cpp). sme2k_run.cpp lists it in its verb
// table with SME2K_RUN_ATTENTION_VERBS.
#pragma once

#include <cstdio>

namespace sme2k_run {

int attention_verb(int argc, char** argv);
void attention_usage(std::FILE* out);

}  // namespace sme2k_run

// An entry of sme2k_run.cpp's verb table: {name, summary, run, usage}.
#define SME2K_RUN_ATTENTION_VERBS                                                     \
  {"attention", "fused softmax(scale Q K^T + mask) V (f16/f32, GQA, causal, window)", \
   sme2k_run::attention_verb, sme2k_run::attention_usage},
