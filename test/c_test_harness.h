/* The check macros of the C API tests (c_api_test.c, c_attention_test.c, row_ops_c_test.c):
 * plain C11, no framework. A failed check prints where and why and the run goes on; the
 * test's main() returns c_test_finish(), non-zero when any check failed. One translation
 * unit per test program, so the counters are static. */
#ifndef SME2K_TEST_C_TEST_HARNESS_H
#define SME2K_TEST_C_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

#include "sme2k.h"

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    ++g_checks;                                                                \
    if (!(cond)) {                                                             \
      ++g_failures;                                                            \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, "\n");                                                   \
    }                                                                          \
  } while (0)

/* A call that must return `want`; a failure must come with a message of its own. */
#define EXPECT_STATUS(want, call)                                                           \
  do {                                                                                      \
    const sme2k_status got_ = (call);                                                       \
    const char* message_ = sme2k_last_error_message();                                      \
    CHECK(got_ == (want), "%s returned %s (%s), want %s", #call, sme2k_status_string(got_), \
          message_, sme2k_status_string(want));                                             \
    if ((want) != SME2K_OK) {                                                               \
      CHECK(message_ != NULL && message_[0] != '\0' && strcmp(message_, "ok") != 0,         \
            "%s: no error message", #call);                                                 \
    }                                                                                       \
  } while (0)

#define EXPECT_OK(call) EXPECT_STATUS(SME2K_OK, call)

/* The run's verdict: prints the counts (and the path the last call took), returns main()'s
 * exit code. */
static inline int c_test_finish(const char* name) {
  if (g_failures > 0) {
    fprintf(stderr, "%s: %d of %d checks FAILED\n", name, g_failures, g_checks);
    return 1;
  }
  printf("%s: all %d checks passed (last path %s)\n", name, g_checks,
         sme2k_path_name(sme2k_last_used_path()));
  return 0;
}

#endif /* SME2K_TEST_C_TEST_HARNESS_H */
