// A known instruction stream for tools/test/test_insn_mix.py, run under QEMU: inside the
// region of interest, smstart, LOOPS x four fmopa (one per ZA tile) and smstop. The test
// checks that insn-mix --roi counts exactly 4 x LOOPS outer products and two toggles.
#include <stdlib.h>

__attribute__((noinline)) void sme2k_roi_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void sme2k_roi_end(void) { __asm__ volatile("" ::: "memory"); }

__attribute__((noinline, target("sme"))) static void outer_products(long loops) {
  __asm__ volatile(
      "smstart\n"
      "ptrue p0.s\n"
      "1:\n"
      "fmopa za0.s, p0/m, p0/m, z0.s, z1.s\n"
      "fmopa za1.s, p0/m, p0/m, z0.s, z1.s\n"
      "fmopa za2.s, p0/m, p0/m, z0.s, z1.s\n"
      "fmopa za3.s, p0/m, p0/m, z0.s, z1.s\n"
      "subs %0, %0, #1\n"
      "b.ne 1b\n"
      "smstop\n"
      : "+r"(loops)
      :
      : "p0", "z0", "z1", "cc", "memory");
}

int main(int argc, char** argv) {
  const long loops = argc > 1 ? atol(argv[1]) : 10;
  if (loops < 1) return 2;
  sme2k_roi_begin();
  outer_products(loops);
  sme2k_roi_end();
  return 0;
}
