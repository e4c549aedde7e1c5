/* Ring 3: entering it, leaving it for good, and the syscall instruction's entry point (user.cpp has the C++ side).
 *
 * u64 platypos_enter_user(UserContext* ctx, u64 entry, u64 user_stack, u64 arg)
 *     Saves the callee-saved registers on the kernel stack and the stack pointer in ctx->resume_rsp; that stack
 *     pointer is also where every trap and system call from ring 3 arrives (the TSS's rsp0 through ctx->rsp0_slot,
 *     and this CPU's syscall_kernel_rsp). Then iretq to `entry` in ring 3 on `user_stack` with rdi = arg, IF on and
 *     every other register zero. Returns only through platypos_leave_user(ctx, value), with that value.
 *     Called with interrupts disabled.
 *
 * [[noreturn]] void platypos_leave_user(UserContext* ctx, u64 value)
 *     From kernel code running on that task's kernel stack below the saved state (a system call, an interrupt or an
 *     exception that came from ring 3): drops everything above, as longjmp does, and returns `value` from
 *     platypos_enter_user. GS must be the kernel's (it is, anywhere in the kernel).
 *
 * platypos_syscall_entry (IA32_LSTAR)
 *     The CPU comes here from `syscall` in ring 3 with rcx = the user's rip, r11 = its rflags, interrupts masked
 *     (IA32_FMASK), and still the user's rsp and GS base. It switches to the kernel's GS and this CPU's
 *     syscall_kernel_rsp, builds a TrapFrame (trap.hpp) as an interrupt from ring 3 would, calls
 *     platypos_syscall_dispatch(frame), and returns with sysretq to the (unchanged) rip and rflags: every register but
 *     rax (the result), rcx and r11 as the program left it.
 */

#define PERCPU_SYSCALL_USER_RSP 64      /* percpu.hpp kPerCpuSyscallUserRsp */
#define PERCPU_SYSCALL_KERNEL_RSP 72    /* percpu.hpp kPerCpuSyscallKernelRsp */
#define USER_DATA (0x20 | 3)            /* gdt.hpp kUserData */
#define USER_CODE (0x28 | 3)            /* gdt.hpp kUserCode */
#define VECTOR_SYSCALL 0x100            /* trap.hpp kVectorSyscall: not an IDT vector */

    .text
    .globl platypos_enter_user, platypos_leave_user, platypos_syscall_entry

    .type platypos_enter_user, @function
platypos_enter_user:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    movq %rsp, %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp                       /* 16-byte aligned: the frames pushed on it from ring 3 stay aligned */
    movq %rsp, (%rdi)                   /* ctx->resume_rsp */
    movq 8(%rdi), %rax                  /* ctx->rsp0_slot: this CPU's TSS rsp0 */
    movq %rsp, (%rax)
    movq %rsp, %gs:PERCPU_SYSCALL_KERNEL_RSP
    pushq $USER_DATA                    /* ss */
    pushq %rdx                          /* rsp */
    pushq $0x202                        /* rflags: IF */
    pushq $USER_CODE                    /* cs */
    pushq %rsi                          /* rip */
    movq %rcx, %rdi
    xorl %eax, %eax
    xorl %ebx, %ebx
    xorl %ecx, %ecx
    xorl %edx, %edx
    xorl %esi, %esi
    xorl %ebp, %ebp
    xorl %r8d, %r8d
    xorl %r9d, %r9d
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    swapgs
    iretq
    .cfi_endproc
    .size platypos_enter_user, . - platypos_enter_user

    .type platypos_leave_user, @function
platypos_leave_user:
    .cfi_startproc
    movq (%rdi), %rsp
    movq %rsi, %rax
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size platypos_leave_user, . - platypos_leave_user

    .align 16
    .type platypos_syscall_entry, @function
platypos_syscall_entry:
    swapgs
    movq %rsp, %gs:PERCPU_SYSCALL_USER_RSP
    movq %gs:PERCPU_SYSCALL_KERNEL_RSP, %rsp
    pushq $USER_DATA                    /* ss */
    pushq %gs:PERCPU_SYSCALL_USER_RSP   /* rsp */
    pushq %r11                          /* rflags */
    pushq $USER_CODE                    /* cs */
    pushq %rcx                          /* rip */
    pushq $0                            /* error code */
    pushq $VECTOR_SYSCALL
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    /* A frame for backtraces, as trap_entry.S's: [user rbp, user rip]. */
    pushq 17 * 8(%rsp)
    pushq %rbp
    movq %rsp, %rbp
    leaq 16(%rsp), %rdi
    cld
    call platypos_syscall_dispatch      /* returns with interrupts disabled */
    addq $16, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp                      /* vector and error code */
    movq (%rsp), %rcx                   /* rip */
    movq 16(%rsp), %r11                 /* rflags */
    movq 24(%rsp), %rsp                 /* the user's stack */
    swapgs
    sysretq
    .size platypos_syscall_entry, . - platypos_syscall_entry

    .section .note.GNU-stack, "", @progbits
