// sme2k_abi_trampoline (AAPCS64): calls fn(context) with known patterns in every callee-saved
// register and records what comes back. See abi_check.hpp.
//
//   void sme2k_abi_trampoline(TrampolineFrame* frame,   // x0
//                             void (*fn)(void*),        // x1
//                             void* context,            // x2
//                             uint64_t has_sme);        // x3: SVCR / TPIDR2_EL0 readable
//
// TrampolineFrame (abi_check.cpp checks these offsets):
//     0  in[18]    x19-x28, d8-d15 loaded before the call
//   144  out[18]   the same registers after it
//   288  svcr      SVCR after the call (bit 0 PSTATE.SM, bit 1 PSTATE.ZA), with has_sme only
//   296  tpidr2    TPIDR2_EL0 after the call, with has_sme only
//
// Our frame (192 bytes, keeps sp 16-byte aligned at the call):
//     0  x29, x30        16  x19-x28 of our caller       96  d8-d15 of our caller
//   160  frame pointer  168  has_sme                    176  TPIDR2_EL0 before the call
//
// SME instructions are spelled as encodings so no -march flag is needed; they run only when
// has_sme is set. The system registers use their generic names:
//   SVCR        S3_3_C4_C2_2
//   TPIDR2_EL0  S3_3_C13_C0_5
//   smstop      0xd503467f   (PSTATE.SM = 0 and PSTATE.ZA = 0)

#if defined(__APPLE__)
#define SYMBOL(name) _##name
#else
#define SYMBOL(name) name
#endif

        .text
        .p2align 2
        .globl  SYMBOL(sme2k_abi_trampoline)
#if defined(__ELF__)
        .type   SYMBOL(sme2k_abi_trampoline), %function
#endif
SYMBOL(sme2k_abi_trampoline):
        .cfi_startproc
        hint    #34                     // bti c (a nop without BTI)
        stp     x29, x30, [sp, #-192]!
        .cfi_def_cfa_offset 192
        .cfi_offset 29, -192
        .cfi_offset 30, -184
        mov     x29, sp
        stp     x19, x20, [sp, #16]
        stp     x21, x22, [sp, #32]
        stp     x23, x24, [sp, #48]
        stp     x25, x26, [sp, #64]
        stp     x27, x28, [sp, #80]
        .cfi_offset 19, -176
        .cfi_offset 20, -168
        .cfi_offset 21, -160
        .cfi_offset 22, -152
        .cfi_offset 23, -144
        .cfi_offset 24, -136
        .cfi_offset 25, -128
        .cfi_offset 26, -120
        .cfi_offset 27, -112
        .cfi_offset 28, -104
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        .cfi_offset 72, -96             // DWARF 64 + n: v8-v15 (their low 64 bits)
        .cfi_offset 73, -88
        .cfi_offset 74, -80
        .cfi_offset 75, -72
        .cfi_offset 76, -64
        .cfi_offset 77, -56
        .cfi_offset 78, -48
        .cfi_offset 79, -40
        stp     x0, x3, [sp, #160]
        mov     x4, #0
        cbz     x3, 1f
        mrs     x4, S3_3_C13_C0_5       // TPIDR2_EL0, put back after the call
1:      str     x4, [sp, #176]

        mov     x16, x1
        mov     x9, x0
        mov     x0, x2
        ldp     x19, x20, [x9, #0]
        ldp     x21, x22, [x9, #16]
        ldp     x23, x24, [x9, #32]
        ldp     x25, x26, [x9, #48]
        ldp     x27, x28, [x9, #64]
        ldp     d8, d9, [x9, #80]
        ldp     d10, d11, [x9, #96]
        ldp     d12, d13, [x9, #112]
        ldp     d14, d15, [x9, #128]
        blr     x16

        // Record before anything else: leaving streaming mode would zero v8-v15.
        ldr     x9, [sp, #160]
        stp     x19, x20, [x9, #144]
        stp     x21, x22, [x9, #160]
        stp     x23, x24, [x9, #176]
        stp     x25, x26, [x9, #192]
        stp     x27, x28, [x9, #208]
        stp     d8, d9, [x9, #224]
        stp     d10, d11, [x9, #240]
        stp     d12, d13, [x9, #256]
        stp     d14, d15, [x9, #272]
        ldr     x10, [sp, #168]
        cbz     x10, 3f
        mrs     x11, S3_3_C4_C2_2       // SVCR
        mrs     x12, S3_3_C13_C0_5      // TPIDR2_EL0
        stp     x11, x12, [x9, #288]
        // A call that left streaming mode or ZA on would derail our caller: switch both off.
        cbz     x11, 2f
        .inst   0xd503467f              // smstop
2:      ldr     x12, [sp, #176]
        msr     S3_3_C13_C0_5, x12
3:
        ldp     d14, d15, [sp, #144]
        ldp     d12, d13, [sp, #128]
        ldp     d10, d11, [sp, #112]
        ldp     d8, d9, [sp, #96]
        ldp     x27, x28, [sp, #80]
        ldp     x25, x26, [sp, #64]
        ldp     x23, x24, [sp, #48]
        ldp     x21, x22, [sp, #32]
        ldp     x19, x20, [sp, #16]
        ldp     x29, x30, [sp], #192
        .cfi_def_cfa_offset 0
        .cfi_restore 29
        .cfi_restore 30
        .cfi_restore 19
        .cfi_restore 20
        .cfi_restore 21
        .cfi_restore 22
        .cfi_restore 23
        .cfi_restore 24
        .cfi_restore 25
        .cfi_restore 26
        .cfi_restore 27
        .cfi_restore 28
        .cfi_restore 72
        .cfi_restore 73
        .cfi_restore 74
        .cfi_restore 75
        .cfi_restore 76
        .cfi_restore 77
        .cfi_restore 78
        .cfi_restore 79
        ret
        .cfi_endproc
#if defined(__ELF__)
        .size   SYMBOL(sme2k_abi_trampoline), . - SYMBOL(sme2k_abi_trampoline)
        .section .note.GNU-stack, "", %progbits
#endif
