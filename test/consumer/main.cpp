// Uses the installed (or added) sme2k: one include, one GEMM, checked by hand.
#include <cstdio>
#include <sme2k/sme2k.hpp>
#include <vector>

int main() {
  const size_t m = 3, n = 5, k = 4;
  std::vector<float> a(m * k, 1.0f), b(k * n, 2.0f), c(m * n);
  size_t bytes = 0;
  if (!sme2k::gemm_packed_rhs_size<sme2k::F32>(n, k, &bytes).ok()) return 1;
  std::vector<unsigned char> packed(bytes);
  sme2k::Status s = sme2k::gemm_pack_rhs<sme2k::F32>({b.data(), k, n, n}, sme2k::RhsLayout::kKxN,
                                                     nullptr, packed.data(), bytes);
  if (s.ok())
    s = sme2k::gemm<sme2k::F32>({a.data(), m, k, k}, packed.data(), bytes, {c.data(), m, n, n});
  if (!s.ok()) {
    std::printf("sme2k: %s\n", s.message());
    return 1;
  }
  for (float x : c) {
    if (x != 8.0f) return 1;
  }
  std::printf("consumer ok: sme2k %d.%d.%d, path %s\n", SME2K_VERSION_MAJOR, SME2K_VERSION_MINOR,
              SME2K_VERSION_PATCH, sme2k::path_name(sme2k::last_used_path()));
  return 0;
}
