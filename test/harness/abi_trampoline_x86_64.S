// sme2k_abi_trampoline (System V x86-64): calls fn(context) with known patterns in every
// callee-saved general register and records what comes back. See abi_check.hpp.
//
//   void sme2k_abi_trampoline(TrampolineFrame* frame,   // rdi
//                             void (*fn)(void*),        // rsi
//                             void* context,            // rdx
//                             uint64_t has_sme);        // rcx: ignored (no SME here)
//
// TrampolineFrame (abi_check.cpp checks these offsets):
//    0  in[6]    rbx, rbp, r12, r13, r14, r15 loaded before the call
//   48  out[6]   the same registers after it
//
// Six saved registers and the frame pointer: 7 pushes after the return address leave rsp
// 16-byte aligned at the call, as the ABI requires.

#if defined(__APPLE__)
#define SYMBOL(name) _##name
#else
#define SYMBOL(name) name
#endif

        .text
        .p2align 4
        .globl  SYMBOL(sme2k_abi_trampoline)
#if defined(__ELF__)
        .type   SYMBOL(sme2k_abi_trampoline), @function
#endif
SYMBOL(sme2k_abi_trampoline):
        .cfi_startproc
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_offset %rbp, -16
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_offset %rbx, -24
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_offset %r12, -32
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_offset %r13, -40
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_offset %r14, -48
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_offset %r15, -56
        pushq   %rdi
        .cfi_adjust_cfa_offset 8

        movq    %rsi, %rax
        movq    %rdi, %r8
        movq    %rdx, %rdi
        movq    0(%r8), %rbx
        movq    8(%r8), %rbp
        movq    16(%r8), %r12
        movq    24(%r8), %r13
        movq    32(%r8), %r14
        movq    40(%r8), %r15
        callq   *%rax

        movq    (%rsp), %rax
        movq    %rbx, 48(%rax)
        movq    %rbp, 56(%rax)
        movq    %r12, 64(%rax)
        movq    %r13, 72(%rax)
        movq    %r14, 80(%rax)
        movq    %r15, 88(%rax)

        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        popq    %r15
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r15
        popq    %r14
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r14
        popq    %r13
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r13
        popq    %r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r12
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbx
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbp
        ret
        .cfi_endproc
#if defined(__ELF__)
        .size   SYMBOL(sme2k_abi_trampoline), . - SYMBOL(sme2k_abi_trampoline)
        .section .note.GNU-stack, "", @progbits
#endif
