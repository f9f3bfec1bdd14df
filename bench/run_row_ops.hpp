// sme2k-run's row-op verbs (bench/run_row_ops.cpp): rms-norm, layer-norm, rope. sme2k_run.cpp
// lists them in its verb table with SME2K_RUN_ROW_OP_VERBS.
#pragma once

#include <cstdio>

namespace sme2k_run {

int rms_norm_verb(int argc, char** argv);
int layer_norm_verb(int argc, char** argv);
int rope_verb(int argc, char** argv);
void rms_norm_usage(std::FILE* out);
void layer_norm_usage(std::FILE* out);
void rope_usage(std::FILE* out);

}  // namespace sme2k_run

// Entries of sme2k_run.cpp's verb table: {name, summary, run, usage}.
#define SME2K_RUN_ROW_OP_VERBS                                                             \
  {"rms-norm", "RMSNorm over rows (f32/f16)", sme2k_run::rms_norm_verb,                    \
   sme2k_run::rms_norm_usage},                                                             \
      {"layer-norm", "LayerNorm over rows (f32/f16)", sme2k_run::layer_norm_verb,          \
       sme2k_run::layer_norm_usage},                                                       \
      {"rope", "rotary embedding in place on [B,S,H,D] / [B,H,S,D]", sme2k_run::rope_verb, \
       sme2k_run::rope_usage},
