#include "harness/expectations.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sme2k {
namespace test {

std::optional<Path> parse_expected_path(const char* text) {
  if (text == nullptr) return std::nullopt;
  for (Path p : {Path::kPortable, Path::kSme2, Path::kSme2F16F16}) {
    if (std::strcmp(text, path_name(p)) == 0) return p;
  }
  return std::nullopt;
}

std::optional<size_t> parse_expected_svl_bits(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  size_t bits = 0;
  for (const char* c = text; *c != '\0'; ++c) {
    if (*c < '0' || *c > '9' || bits > 2048) return std::nullopt;
    bits = bits * 10 + static_cast<size_t>(*c - '0');
  }
  if (bits > 2048 || bits % 128 != 0) return std::nullopt;
  return bits;
}

namespace {

[[noreturn]] void bad_variable(const char* name, const char* value) {
  std::fprintf(stderr, "sme2k test harness: %s=\"%s\" is not a valid value\n", name, value);
  std::exit(2);
}

}  // namespace

std::optional<Path> expected_path() {
  const char* value = std::getenv("SME2K_EXPECT_PATH");
  if (value == nullptr) return std::nullopt;
  const std::optional<Path> path = parse_expected_path(value);
  if (!path) bad_variable("SME2K_EXPECT_PATH", value);
  return path;
}

std::optional<size_t> expected_svl_bits() {
  const char* value = std::getenv("SME2K_EXPECT_SVL");
  if (value == nullptr) return std::nullopt;
  const std::optional<size_t> bits = parse_expected_svl_bits(value);
  if (!bits) bad_variable("SME2K_EXPECT_SVL", value);
  return bits;
}

}  // namespace test
}  // namespace sme2k
