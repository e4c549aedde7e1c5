/* The application processors' start-up code: real mode -> protected mode -> long mode -> the kernel.
 *
 * smp.cpp copies the bytes between platypos_ap_trampoline_start and platypos_ap_trampoline_end to the start of a
 * page below 1 MiB (taken at boot, see smp.cpp) and fills in the parameter block at its end. A Startup IPI whose
 * vector is that page's number makes the AP start here in real mode with CS = page << 8 and IP = 0 (Intel SDM
 * vol. 3, "MP Initialization Protocol Algorithm for MP Systems", "Typical AP Initialization Sequence").
 *
 * The code runs at whatever address it was copied to, so it never uses an absolute address of its own:
 *   16-bit  DS = CS, offsets from the start of the blob;
 *   32-bit  EBX = the blob's physical address, computed from CS in real mode; offsets from it;
 *   64-bit  RIP-relative addressing (still in the copy, which the trampoline page tables identity-map).
 * The two far jumps go through pointers in the parameter block that smp.cpp computed for the copy.
 *
 * Steps (SDM vol. 3, "Switching to Protected Mode" and "Initializing IA-32e Mode"):
 *   1. real mode: load the trampoline GDT (flat 32-bit code/data, 64-bit code), set CR0.PE, far-jump to 32-bit code;
 *   2. protected mode: data segments; CR4 (PAE) and CR3 (the trampoline page tables: the copy identity-mapped, plus
 *      every kernel mapping) as on the boot CPU; EFER.LME (and NXE, which the kernel's page tables need); then CR0
 *      with PG: IA-32e mode is active, in compatibility mode; far-jump to the 64-bit code segment;
 *   3. long mode: the AP's stack, then call the kernel's platypos_ap_main(cpu) in the higher half, which loads the
 *      kernel's own GDT, IDT and page tables.
 * Each step stores its number in `progress`, so the boot CPU can say where an AP that never checked in got stuck.
 */

#define SEG_CODE32 0x08
#define SEG_DATA 0x10
#define SEG_CODE64 0x18
#define MSR_EFER 0xC0000080

/* The parameter block; smp.cpp's TrampolineParams has the same layout (static_asserts there). */
#define P_FAR32 0           /* u32 offset, u16 selector: the 16 -> 32-bit far jump */
#define P_GDT_PTR 6         /* u16 limit, u32 base: lgdt operand */
#define P_FAR64 12          /* u32 offset, u16 selector: the 32 -> 64-bit far jump */
#define P_CR0 20
#define P_CR3 24
#define P_CR4 28
#define P_EFER 32
#define P_PROGRESS 36
#define P_STACK_TOP 40
#define P_CPU 48
#define P_ENTRY 56

#define OFF(label) ((label) - platypos_ap_trampoline_start)

    .section .rodata, "a"
    .balign 16
    .globl platypos_ap_trampoline_start, platypos_ap_trampoline_end, platypos_ap_trampoline_params
    .globl platypos_ap_trampoline_pm32, platypos_ap_trampoline_lm64, platypos_ap_trampoline_gdt
platypos_ap_trampoline_start:
    .code16
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    xorl %ebx, %ebx
    movw %ax, %bx
    shll $4, %ebx                       /* ebx = physical address of the copy */
    movl $1, OFF(platypos_ap_trampoline_params) + P_PROGRESS
    lgdtl OFF(platypos_ap_trampoline_params) + P_GDT_PTR
    movl %cr0, %eax
    orl $1, %eax                        /* PE */
    movl %eax, %cr0
    /* The SDM asks for a far jump right after the MOV to CR0 that sets PE. */
    ljmpl *OFF(platypos_ap_trampoline_params) + P_FAR32

    .code32
platypos_ap_trampoline_pm32:
    movw $SEG_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl $2, OFF(platypos_ap_trampoline_params) + P_PROGRESS(%ebx)
    movl OFF(platypos_ap_trampoline_params) + P_CR4(%ebx), %eax
    movl %eax, %cr4                     /* PAE (and whatever else the boot CPU has) */
    movl OFF(platypos_ap_trampoline_params) + P_CR3(%ebx), %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    movl OFF(platypos_ap_trampoline_params) + P_EFER(%ebx), %eax
    xorl %edx, %edx
    wrmsr                               /* LME, NXE */
    movl OFF(platypos_ap_trampoline_params) + P_CR0(%ebx), %eax
    movl %eax, %cr0                     /* PG (with PE, WP; CD and NW cleared): IA-32e mode, compatibility mode */
    ljmp *OFF(platypos_ap_trampoline_params) + P_FAR64(%ebx)

    .code64
platypos_ap_trampoline_lm64:
    leaq platypos_ap_trampoline_params(%rip), %rbx
    movl $3, P_PROGRESS(%rbx)
    movq P_STACK_TOP(%rbx), %rsp
    movq P_CPU(%rbx), %rdi
    xorl %ebp, %ebp                     /* ends frame-pointer backtraces */
    callq *P_ENTRY(%rbx)                /* platypos_ap_main(cpu): never returns */
1:  cli
    hlt
    jmp 1b

    .balign 8
platypos_ap_trampoline_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff            /* 0x08: 32-bit code, flat */
    .quad 0x00cf92000000ffff            /* 0x10: data, flat */
    .quad 0x00af9a000000ffff            /* 0x18: 64-bit code */
platypos_ap_trampoline_gdt_end:

    .balign 8
platypos_ap_trampoline_params:
    .skip 64
platypos_ap_trampoline_end:

    .section .note.GNU-stack, "", @progbits
