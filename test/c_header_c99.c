/* sme2k.h compiles alone as pedantic C99 (and twice: its include guard works). */
#include "sme2k.h"

int sme2k_c_header_c99_unit(void);
int sme2k_c_header_c99_unit(void) { return (int)sizeof(sme2k_epilogue); }
