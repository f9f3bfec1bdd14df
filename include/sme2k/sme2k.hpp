// sme2k: Arm SME2 kernels for inference runtimes. Include this one header.
//
// What is here (see README.md): GEMM, batched matmul and conv2d for the variants of
// types/variant.hpp with weight packing, layout transforms, attention and the LLM row ops
// (softmax, rms_norm, layer_norm, rope), plan queries saying which kernel serves a call
// (ops/op_plan.hpp), run-time CPU dispatch to SME2 or a portable path, Status errors, f16 and
// bf16 storage.
#pragma once

#include "sme2k/arch/cpu_features.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/epilogue/ops.hpp"
#include "sme2k/kernels/registry.hpp"
#include "sme2k/ops/attention.hpp"
#include "sme2k/ops/batch_matmul.hpp"
#include "sme2k/ops/batchnorm.hpp"
#include "sme2k/ops/conv2d.hpp"
#include "sme2k/ops/gemm.hpp"
#include "sme2k/ops/gemm_packed_lhs.hpp"
#include "sme2k/ops/layer_norm.hpp"
#include "sme2k/ops/op_plan.hpp"
#include "sme2k/ops/rms_norm.hpp"
#include "sme2k/ops/rope.hpp"
#include "sme2k/ops/softmax.hpp"
#include "sme2k/ops/transpose.hpp"
#include "sme2k/types/attention.hpp"
#include "sme2k/types/bf16.hpp"
#include "sme2k/types/conv.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/layout.hpp"
#include "sme2k/types/matrix_view.hpp"
#include "sme2k/types/parallel.hpp"
#include "sme2k/types/status.hpp"
#include "sme2k/types/variant.hpp"
#include "sme2k/version.hpp"
