/* The first code of the kernel: the multiboot (v1) header and the 32-bit entry stub.
 *
 * A multiboot loader (QEMU's -kernel, GRUB) enters platypos_boot_entry in 32-bit protected mode, paging off,
 * with EAX = 0x2BADB002 and EBX = the physical address of the multiboot information. The stub:
 *
 *   1. checks the magic and that the CPU has long mode (otherwise it prints why on COM1 and stops the machine);
 *   2. builds the boot page tables (in .bss, zeroed by the loader), all with 2 MiB pages:
 *        identity       [0, 4 GiB)                        so this stub keeps running after paging is on
 *        direct map     0xffff800000000000 + [0, 4 GiB)   phys_to_virt() for the multiboot info, early on
 *        kernel         0xffffffff80000000 + [0, 1 GiB)   the higher-half kernel (-mcmodel=kernel)
 *   3. enables PAE, long mode (and NX when the CPU has it), paging and write protection;
 *   4. far-jumps into 64-bit code, jumps to the higher half, and calls
 *        platypos_kernel_main(u32 multiboot_magic, u32 multiboot_info_phys)   (kmain.cpp, never returns)
 *
 * paging.cpp later replaces these tables with the kernel's own (no identity map, 4 KiB pages with permissions for
 * the image, the direct map sized to the memory map).
 *
 * The header uses the a.out kludge (flag 16): QEMU refuses to load an ELF64 file as an ELF, but loads its bytes
 * from the addresses in the header, so the same ELF file boots and feeds gdb. kernel.ld defines the symbols.
 */

#define KERNEL_VIRT_OFFSET 0xffffffff80000000
#define PHYS(sym) ((sym) - KERNEL_VIRT_OFFSET)

#define MULTIBOOT_HEADER_MAGIC 0x1BADB002
#define MULTIBOOT_BOOT_MAGIC 0x2BADB002
/* bit 0: page-align modules, bit 1: memory information wanted, bit 16: the address fields below are valid */
#define MULTIBOOT_HEADER_FLAGS 0x00010003

#define PTE_PRESENT 0x1
#define PTE_WRITABLE 0x2
#define PTE_HUGE 0x80

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4
#define DEBUG_EXIT_BOOT_FAILURE 0x13   /* QEMU exits with (0x13 << 1) | 1 = 39 */

    .section .multiboot, "a"
    .align 4
multiboot_header:
    .long MULTIBOOT_HEADER_MAGIC
    .long MULTIBOOT_HEADER_FLAGS
    .long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_HEADER_FLAGS)
    .long multiboot_header              /* header_addr: .boot is linked at its physical address */
    .long __kernel_phys_start           /* load_addr */
    .long __kernel_load_end_phys        /* load_end_addr: end of the file-backed part */
    .long __kernel_phys_end             /* bss_end_addr: the loader zeroes [load_end, bss_end) */
    .long platypos_boot_entry           /* entry_addr */

    .section .boot.text, "ax"
    .code32
    .globl platypos_boot_entry
    .type platypos_boot_entry, @function
platypos_boot_entry:
    cli
    cld
    movl %eax, %edi                     /* edi, esi: multiboot magic and info, kept until kernel_main */
    movl %ebx, %esi

    cmpl $MULTIBOOT_BOOT_MAGIC, %edi
    jne .Lno_multiboot

    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb .Lno_long_mode
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx              /* LM */
    jz .Lno_long_mode
    movl %edx, %ebp                     /* extended features: NX is bit 20 */

    /* Four page directories of 2 MiB pages: physical [0, 4 GiB). */
    movl $PHYS(platypos_boot_pd), %ebx
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax                      /* low half of index * 2 MiB */
    orl $(PTE_PRESENT | PTE_WRITABLE | PTE_HUGE), %eax
    movl %eax, (%ebx, %ecx, 8)
    movl %ecx, %eax
    shrl $11, %eax                      /* high half of index * 2 MiB */
    movl %eax, 4(%ebx, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jne 1b

    /* The low PDPT points at the four directories; the identity map and the direct map share it. */
    movl $PHYS(platypos_boot_pdpt_low), %ebx
    movl $(PHYS(platypos_boot_pd) + PTE_PRESENT + PTE_WRITABLE), %eax
    xorl %ecx, %ecx
2:  movl %eax, (%ebx, %ecx, 8)
    addl $4096, %eax
    incl %ecx
    cmpl $4, %ecx
    jne 2b

    /* The kernel's PDPT: entry 510 maps 0xffffffff80000000 to the first GiB. */
    movl $(PHYS(platypos_boot_pd) + PTE_PRESENT + PTE_WRITABLE), PHYS(platypos_boot_pdpt_high) + 510 * 8

    movl $PHYS(platypos_boot_pml4), %ebx
    movl $(PHYS(platypos_boot_pdpt_low) + PTE_PRESENT + PTE_WRITABLE), %eax
    movl %eax, 0(%ebx)                  /* PML4[0]: identity */
    movl %eax, 256 * 8(%ebx)            /* PML4[256]: direct map at 0xffff800000000000 */
    movl $(PHYS(platypos_boot_pdpt_high) + PTE_PRESENT + PTE_WRITABLE), 511 * 8(%ebx)

    movl %cr4, %eax
    orl $(1 << 5), %eax                 /* PAE */
    movl %eax, %cr4
    movl %ebx, %cr3

    movl $0xC0000080, %ecx              /* EFER */
    rdmsr
    orl $(1 << 8), %eax                 /* LME */
    testl $(1 << 20), %ebp
    jz 3f
    orl $(1 << 11), %eax                /* NXE, when the CPU has NX */
3:  wrmsr

    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16) | 1), %eax   /* PG | WP | PE */
    movl %eax, %cr0

    lgdt platypos_boot_gdt_ptr
    ljmp $0x08, $.Llong_mode

.Lno_multiboot:
    movl $.Lmsg_no_multiboot, %esi
    jmp .Lfail
.Lno_long_mode:
    movl $.Lmsg_no_long_mode, %esi
    /* fall through */

/* Prints the NUL-terminated string at esi on COM1, then asks QEMU to exit (isa-debug-exit) or halts. */
.Lfail:
    movw $(COM1 + 5), %dx
4:  inb %dx, %al
    testb $0x20, %al                    /* transmitter holding register empty */
    jz 4b
    lodsb
    testb %al, %al
    jz 5f
    movw $COM1, %dx
    outb %al, %dx
    jmp .Lfail
5:  movw $DEBUG_EXIT_PORT, %dx
    movl $DEBUG_EXIT_BOOT_FAILURE, %eax
    outl %eax, %dx
6:  hlt
    jmp 6b

    .code64
.Llong_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $platypos_boot_higher_half, %rax
    jmp *%rax
    .size platypos_boot_entry, . - platypos_boot_entry

    .section .boot.rodata, "a"
.Lmsg_no_multiboot:
    .asciz "PlatypOS: not started by a multiboot loader (bad magic in EAX); boot with qemu -kernel\n"
.Lmsg_no_long_mode:
    .asciz "PlatypOS: this CPU has no 64-bit long mode\n"

    .section .boot.data, "aw"
    .align 8
/* Just enough GDT for the jump into long mode; gdt.cpp loads the kernel's own (with the TSS). */
platypos_boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff            /* 0x08: 64-bit code, ring 0 */
    .quad 0x00cf92000000ffff            /* 0x10: data, ring 0 */
platypos_boot_gdt_end:
platypos_boot_gdt_ptr:
    .word platypos_boot_gdt_end - platypos_boot_gdt - 1
    .long platypos_boot_gdt

/* The higher half: from here on, everything is at its kernel virtual address. */
    .text
    .cfi_sections .debug_frame
    .type platypos_boot_higher_half, @function
platypos_boot_higher_half:
    .cfi_startproc
    .cfi_undefined %rip                 /* the outermost frame: debuggers stop unwinding here */
    leaq platypos_boot_stack_top(%rip), %rsp
    xorl %ebp, %ebp                     /* ends frame-pointer backtraces */
    movl %edi, %edi                     /* zero-extend: the upper halves are undefined after the mode switch */
    movl %esi, %esi
    call platypos_kernel_main
7:  cli
    hlt
    jmp 7b
    .cfi_endproc
    .size platypos_boot_higher_half, . - platypos_boot_higher_half

    .section .bss.boot, "aw", @nobits
    .align 4096
    .globl platypos_boot_pml4, platypos_boot_pdpt_low, platypos_boot_pdpt_high, platypos_boot_pd
platypos_boot_pml4:
    .skip 4096
platypos_boot_pdpt_low:
    .skip 4096
platypos_boot_pdpt_high:
    .skip 4096
platypos_boot_pd:
    .skip 4 * 4096

/* The boot CPU's stack. The page below it stays unmapped once paging.cpp has built the kernel's tables, so an
 * overflow faults (and becomes a double fault on its own IST stack) instead of corrupting .bss. */
    .globl platypos_boot_stack_guard, platypos_boot_stack_top
platypos_boot_stack_guard:
    .skip 4096
platypos_boot_stack:
    .skip 32768
platypos_boot_stack_top:

    .section .note.GNU-stack, "", @progbits
