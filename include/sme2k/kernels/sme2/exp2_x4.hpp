// Moved to epilogue/sme2_exp2.hpp (the GEMM epilogue's GELU and SiLU use it too, and the
// epilogue sits below the kernels). This forward stays only until the attention kernel's
// include is switched; nothing else includes it.
#pragma once

#include "sme2k/epilogue/sme2_exp2.hpp"
