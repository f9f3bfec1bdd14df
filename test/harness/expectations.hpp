// What the current test run must observe, as ctest tells it (cmake/Sme2kTesting.cmake): each
// configuration (an SVL under QEMU, SME switched off, the host) sets
//   SME2K_EXPECT_PATH  the dispatch path select_path() must pick: "sme2" or "portable"
//   SME2K_EXPECT_SVL   the streaming vector length in bits, 0 for none
// so a test can assert that dispatch took the path the configuration implies instead of
// trusting whatever it took. Both are unset when a developer runs a test binary by hand.
#pragma once

#include <cstddef>
#include <optional>

#include "sme2k/arch/dispatch.hpp"

namespace sme2k {
namespace test {

/// A path named as path_name() spells it ("portable", "sme2", "sme2-f16f16"); nullopt for a
/// null pointer or anything else.
std::optional<Path> parse_expected_path(const char* text);
/// A decimal bit count (0, or a multiple of 128 up to 2048); nullopt for a null pointer or
/// anything else.
std::optional<size_t> parse_expected_svl_bits(const char* text);

/// SME2K_EXPECT_PATH, or nullopt when unset. A value that does not parse ends the process
/// with a message: a misconfigured run must not pass by skipping its checks.
std::optional<Path> expected_path();
/// SME2K_EXPECT_SVL in bits (0: no SME), or nullopt when unset; exits like expected_path().
std::optional<size_t> expected_svl_bits();

}  // namespace test
}  // namespace sme2k
