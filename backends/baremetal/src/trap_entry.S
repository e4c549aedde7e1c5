/* Interrupt and exception entry: one stub per vector (0-255) and a common path that builds a TrapFrame (trap.hpp)
 * and calls platypos_trap_dispatch(frame).
 *
 * Each stub pushes a 0 error code when the CPU pushes none (so every frame has the same layout), then its vector.
 * The common path also pushes a fake call frame [interrupted rbp, interrupted rip] and points rbp at it: frame-
 * pointer backtraces taken inside a handler continue into the interrupted code as if it had called the handler.
 *
 * From ring 3 the CPU switches to the TSS's rsp0 first (the running user task's kernel stack, user.cpp), and the
 * common path does swapgs on the way in and out (percpu.hpp).
 *
 * Stack alignment: the CPU aligns rsp to 16 before pushing its 5-word frame; error code + vector + 15 registers +
 * the 2-word fake frame make 22 more words, so rsp is 16-byte aligned at the call, as the ABI requires.
 */

    .altmacro

/* Exceptions for which the CPU pushes an error code. */
.macro TRAP_STUB vector
    .align 16
platypos_trap_stub_\vector:
    .if (\vector == 8) || ((\vector >= 10) && (\vector <= 14)) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
    .else
    pushq $0
    .endif
    pushq $\vector
    jmp platypos_trap_common
.endm

.macro TRAP_STUB_ADDRESS vector
    .quad platypos_trap_stub_\vector
.endm

/* CFI: describes the trap frame to debuggers, so gdb's backtrace from a handler continues into the interrupted
 * code (the interrupted rip and rsp are in the frame the CPU pushed). A signal frame: the interrupted rip is not a
 * return address. */
.macro PUSH_REG reg
    pushq %\reg
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %\reg, 0
.endm
.macro POP_REG reg
    popq %\reg
    .cfi_adjust_cfa_offset -8
    .cfi_restore %\reg
.endm

    .text
    .cfi_sections .debug_frame
    .align 16
    .type platypos_trap_common, @function
platypos_trap_common:
    .cfi_startproc simple
    .cfi_signal_frame
    .cfi_def_cfa %rsp, 7 * 8            /* vector, error code, rip, cs, rflags, rsp, ss */
    .cfi_offset %rip, -5 * 8
    .cfi_offset %rsp, -2 * 8
    /* From ring 3 (the pushed cs has RPL 3): the user's GS base goes, the kernel's per-CPU one comes back. */
    testb $3, 3 * 8(%rsp)
    jz 1f
    swapgs
1:
    PUSH_REG rax
    PUSH_REG rbx
    PUSH_REG rcx
    PUSH_REG rdx
    PUSH_REG rsi
    PUSH_REG rdi
    PUSH_REG rbp
    PUSH_REG r8
    PUSH_REG r9
    PUSH_REG r10
    PUSH_REG r11
    PUSH_REG r12
    PUSH_REG r13
    PUSH_REG r14
    PUSH_REG r15
    pushq 17 * 8(%rsp)                  /* the interrupted rip (TrapFrame::rip) */
    .cfi_adjust_cfa_offset 8
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    movq %rsp, %rbp
    leaq 16(%rsp), %rdi                 /* TrapFrame* */
    cld
    call platypos_trap_dispatch
    addq $16, %rsp
    .cfi_adjust_cfa_offset -16
    POP_REG r15
    POP_REG r14
    POP_REG r13
    POP_REG r12
    POP_REG r11
    POP_REG r10
    POP_REG r9
    POP_REG r8
    POP_REG rbp
    POP_REG rdi
    POP_REG rsi
    POP_REG rdx
    POP_REG rcx
    POP_REG rbx
    POP_REG rax
    addq $16, %rsp                      /* vector and error code */
    .cfi_adjust_cfa_offset -16
    /* Back to ring 3: its GS base again. (Interrupts are off from here to iretq; only an NMI could arrive in
     * between, and would then run with the user's GS base: NMIs are not used while programs run.) */
    testb $3, 8(%rsp)
    jz 2f
    swapgs
2:
    iretq
    .cfi_endproc
    .size platypos_trap_common, . - platypos_trap_common

    .set vector, 0
    .rept 256
    TRAP_STUB %vector
    .set vector, vector + 1
    .endr

    .section .rodata
    .align 8
    .globl platypos_trap_stubs
platypos_trap_stubs:
    .set vector, 0
    .rept 256
    TRAP_STUB_ADDRESS %vector
    .set vector, vector + 1
    .endr

/* bool platypos_call_with_catcher(FaultCatcher* catcher, void (*fn)(void*), void* arg)
 *
 * Saves the callee-saved registers on the stack, stores the stack pointer in catcher->resume_rsp (offset 0), and
 * calls fn(arg): returns false when fn returns. When the exception handler catches the expected fault, it resumes
 * at platypos_catcher_resume with rsp = resume_rsp: the registers are popped back and the function returns true.
 */
    .text
    .globl platypos_call_with_catcher, platypos_catcher_resume
    .type platypos_call_with_catcher, @function
platypos_call_with_catcher:
    .cfi_startproc
    PUSH_REG rbp
    movq %rsp, %rbp
    PUSH_REG rbx
    PUSH_REG r12
    PUSH_REG r13
    PUSH_REG r14
    PUSH_REG r15
    subq $8, %rsp                       /* keep the call below 16-byte aligned */
    .cfi_adjust_cfa_offset 8
    movq %rsp, (%rdi)
    movq %rsi, %rax
    movq %rdx, %rdi
    call *%rax
    xorl %eax, %eax
    jmp 1f
platypos_catcher_resume:                /* same rsp (and so the same CFI) as after the subq above */
    movl $1, %eax
1:  addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    POP_REG r15
    POP_REG r14
    POP_REG r13
    POP_REG r12
    POP_REG rbx
    POP_REG rbp
    ret
    .cfi_endproc
    .size platypos_call_with_catcher, . - platypos_call_with_catcher

    .section .note.GNU-stack, "", @progbits
