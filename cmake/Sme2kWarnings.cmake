# Warnings for sme2k's own tests and benchmarks (never imposed on users of the package).
option(SME2K_WERROR "Treat warnings as errors" ON)
add_library(sme2k_warnings INTERFACE)
target_compile_options(sme2k_warnings INTERFACE -Wall -Wextra -Wshadow -Wconversion
  -Wno-sign-conversion $<$<BOOL:${SME2K_WERROR}>:-Werror>)
# C sources (the C API's test and example) also keep to strict prototypes and ISO C.
target_compile_options(sme2k_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes -Wmissing-prototypes -pedantic>)
