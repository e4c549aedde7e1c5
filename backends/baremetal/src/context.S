/* Context switch for the bare-metal Platform (System V x86_64).
 *
 * A suspended context is its stack pointer; the callee-saved registers (rbx, rbp, r12-r15) sit on its stack under
 * the return address. context_init() builds such a frame by hand whose "return address" is
 * platypos_context_trampoline, with the entry function in r12 and its argument in r13.
 *
 *   void platypos_context_switch(uptr* save_rsp, uptr new_rsp)
 */
    .text
    .cfi_sections .debug_frame
    .globl platypos_context_switch
    .type platypos_context_switch, @function
platypos_context_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size platypos_context_switch, . - platypos_context_switch

    .globl platypos_context_trampoline
    .type platypos_context_trampoline, @function
platypos_context_trampoline:
    .cfi_startproc
    .cfi_undefined %rip      /* the outermost frame of a context: debuggers stop unwinding here */
    movq %r13, %rdi
    xorl %ebp, %ebp          /* ends frame-pointer backtraces here */
    callq *%r12
    /* The entry returned: that is a bug. */
    movq %r12, %rdi
    callq platypos_context_returned
    ud2
    .cfi_endproc
    .size platypos_context_trampoline, . - platypos_context_trampoline

    .section .note.GNU-stack,"",@progbits
