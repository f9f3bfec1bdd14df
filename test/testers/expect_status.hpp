// EXPECT_STATUS(code, expr): the bad-input suites' check that a call is refused with the
// StatusCode it should be, and with a message a caller can act on (more than 10 characters).
// On failure it prints the call, the code it got and its message.
#pragma once

#include <gtest/gtest.h>

#include <cstring>

#include "sme2k/types/status.hpp"

#define EXPECT_STATUS(want_code, expr)                                              \
  do {                                                                              \
    const ::sme2k::Status s_ = (expr);                                              \
    EXPECT_EQ(static_cast<int>(s_.code()), static_cast<int>(want_code))             \
        << #expr << " -> " << status_code_name(s_.code()) << ": " << s_.message();  \
    if (!s_.ok()) EXPECT_GT(std::strlen(s_.message()), 10u) << "message too terse"; \
  } while (0)
