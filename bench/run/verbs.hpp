// The verbs of sme2k-run, one file each (bench/run/verb_*.cpp): `run` takes the whole
// command line (argv[1] is the verb), `usage` prints its help. main.cpp lists them in its one
// verb table with their names and summaries.
#pragma once

#include <cstdio>

namespace sme2k_run {

int gemm_verb(int argc, char** argv);  // verb_gemm.cpp
void gemm_usage(std::FILE* out);
int conv2d_verb(int argc, char** argv);  // verb_conv2d.cpp
void conv2d_usage(std::FILE* out);
int pack_rhs_verb(int argc, char** argv);  // verb_pack.cpp
void pack_rhs_usage(std::FILE* out);
int pack_lhs_verb(int argc, char** argv);  // verb_pack.cpp
void pack_lhs_usage(std::FILE* out);
int chain_verb(int argc, char** argv);  // verb_chain.cpp
void chain_usage(std::FILE* out);
int transpose_verb(int argc, char** argv);  // verb_transpose.cpp
void transpose_usage(std::FILE* out);
int softmax_verb(int argc, char** argv);  // verb_softmax.cpp
void softmax_usage(std::FILE* out);
int rms_norm_verb(int argc, char** argv);  // verb_row_ops.cpp
void rms_norm_usage(std::FILE* out);
int layer_norm_verb(int argc, char** argv);  // verb_row_ops.cpp
void layer_norm_usage(std::FILE* out);
int rope_verb(int argc, char** argv);  // verb_row_ops.cpp
void rope_usage(std::FILE* out);
int attention_verb(int argc, char** argv);  // verb_attention.cpp
void attention_usage(std::FILE* out);
int llm_layer_verb(int argc, char** argv);  // verb_llm_layer.cpp
void llm_layer_usage(std::FILE* out);

}  // namespace sme2k_run
