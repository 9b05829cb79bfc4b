// corevm: the 16-bit side of the firmware.
//
// The reset vector, the real-mode interrupt vector table's entry points, the two timer/IRQ
// handlers that must stay cheap, and the thunk that carries a real-mode interrupt into the
// 32-bit Zig code (corevm_dispatch) and back:
//
//   INT n -> stub_n: push n, pushal, push ds es fs gs  (a Frame on the caller's stack)
//         -> protected mode, flat segments, corevm's own stack
//         -> corevm_dispatch(frame linear address) returns an Action in eax
//         -> real mode, caller's GDTR and stack back; then by Action:
//            0 return: pop the (possibly changed) Frame and iret
//            1 wait:   sti; hlt; cli and call the handler again (a blocking INT 16h read)
//            2 boot:   load corevm_boot's registers and iret into the boot code
//            3 halt:   stay in `forever` (nothing to boot), interrupts on so -t still ends it
//
// Interrupts stay disabled from the INT to the iret (INT clears IF), so the thunk's save slots
// and the 32-bit stack are never used twice at once.
//
// This section is linked at offsets inside segment F000 (see link.ld): a symbol here is its
// offset; 32-bit code reaches it at symbol + 0xF0000 (F_BASE).

.set F_BASE, 0xF0000
.set SEL_CODE32, 0x08
.set SEL_DATA32, 0x10
.set SEL_CODE16, 0x18
.set SEL_DATA16, 0x20
// The pseudo-vector of POST itself (not an interrupt: a frame built by post16).
.set VECTOR_POST, 0x100
.set ACTION_WAIT, 1
.set ACTION_BOOT, 2
.set ACTION_HALT, 3

    .section .text16, "awx"
    .code16

    .globl corevm_text16_start
corevm_text16_start:
    .ascii "corevm BIOS"
    .balign 16

// Descriptors: flat 32-bit code and data; 16-bit code at F000 and 16-bit data with real-mode
// limits, so that the caller gets 64 KiB segments back after the switch.
    .balign 8
gdt:
    .quad 0
    .quad 0x00CF9B000000FFFF // 0x08 code32, base 0, 4 GiB
    .quad 0x00CF93000000FFFF // 0x10 data32, base 0, 4 GiB
    .quad 0x00009B0F0000FFFF // 0x18 code16, base 0xF0000, 64 KiB
    .quad 0x000093000000FFFF // 0x20 data16, base 0, 64 KiB
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt + F_BASE
    .balign 4
caller_gdt:
    .word 0
    .long 0
caller_ss:
    .word 0
    .balign 4
// All of ESP: a caller in real mode may keep the high half and rely on it after switching to
// protected mode itself (GRUB's real_to_prot reads (%esp) first thing).
caller_esp:
    .long 0

// The registers the boot code starts with (written by the Zig side, Action 2).
    .balign 4
    .globl corevm_boot
corevm_boot:
boot_cs: .word 0
boot_ip: .word 0
boot_ss: .word 0
boot_sp: .word 0
boot_ds: .word 0
boot_flags: .word 0
boot_edx: .long 0

// ---------------------------------------------------------------------------------------
// POST: reached from the reset vector with CS=F000.
    .globl post16
post16:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ss
    movw $0x7000, %sp
    movw %ax, %ds
    movw %ax, %es
    // Every vector first points at an iret, then the table below fills in the real ones.
    xorw %di, %di
    movw $256, %cx
1:  movw $dummy_iret, %ax
    stosw
    movw $0xF000, %ax
    stosw
    loop 1b
    movw $ivt_table, %si
2:  movw %cs:(%si), %bx
    cmpw $0xFFFF, %bx
    je 3f
    movw %cs:2(%si), %ax
    shlw $2, %bx
    movw %ax, (%bx)
    movw $0xF000, 2(%bx)
    addw $4, %si
    jmp 2b
3:
    // POST runs through the thunk like any interrupt: a frame that "returns" to after_post.
    pushfw
    pushw %cs
    pushw $after_post
    pushw $VECTOR_POST
    jmp common16
after_post:
    sti
    int $0x19
    // INT 19h comes back only if it could not boot (it has said so): wait for the end.
forever:
    sti
    hlt
    jmp forever

// ---------------------------------------------------------------------------------------
// The thunk.
.macro STUB vec
stub_\vec:
    pushw $0x\vec
    jmp common16
.endm

    STUB 09
    STUB 10
    STUB 11
    STUB 12
    STUB 13
    STUB 14
    STUB 15
    STUB 16
    STUB 17
    STUB 18
    STUB 19
    STUB 1A

common16:
    pushal
    pushw %ds
    pushw %es
    pushw %fs
    pushw %gs
reenter:
    movw %ss, %cs:caller_ss
    movl %esp, %cs:caller_esp
    xorl %ebx, %ebx
    movw %ss, %bx
    shll $4, %ebx
    movzwl %sp, %eax
    addl %eax, %ebx
    sgdtl %cs:caller_gdt
    lgdtl %cs:gdt_desc
    movl %cr0, %eax
    orb $1, %al
    movl %eax, %cr0
    ljmpl $SEL_CODE32, $enter32

    .globl exit16
exit16:
    // 16-bit protected mode, CS base 0xF0000: give every segment real-mode limits, leave.
    movw $SEL_DATA16, %cx
    movw %cx, %ds
    movw %cx, %es
    movw %cx, %fs
    movw %cx, %gs
    movw %cx, %ss
    movl %cr0, %ecx
    andb $0xFE, %cl
    movl %ecx, %cr0
    ljmpw $0xF000, $real16
real16:
    lgdtl %cs:caller_gdt
    movw %cs:caller_ss, %ss
    movl %cs:caller_esp, %esp
    cmpl $ACTION_WAIT, %eax
    je wait16
    cmpl $ACTION_BOOT, %eax
    je boot16
    cmpl $ACTION_HALT, %eax
    je forever
    popw %gs
    popw %fs
    popw %es
    popw %ds
    popal
    addw $2, %sp
    iret
wait16:
    sti
    hlt
    cli
    jmp reenter
boot16:
    movw %cs:boot_ss, %ss
    movzwl %cs:boot_sp, %esp
    pushw %cs:boot_flags
    pushw %cs:boot_cs
    pushw %cs:boot_ip
    movw %cs:boot_ds, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movl %cs:boot_edx, %edx
    xorl %eax, %eax
    xorl %ebx, %ebx
    xorl %ecx, %ecx
    xorl %esi, %esi
    xorl %edi, %edi
    xorl %ebp, %ebp
    iret

// ---------------------------------------------------------------------------------------
// Cheap handlers that never leave real mode.

// IRQ0 (PIT, 18.2 Hz): the BIOS tick count at 40:6C, its midnight wrap at 40:70, INT 1Ch.
irq0:
    pushw %ds
    pushl %eax
    xorw %ax, %ax
    movw %ax, %ds
    movl 0x46C, %eax
    incl %eax
    cmpl $0x1800B0, %eax
    jb 1f
    xorl %eax, %eax
    incb 0x470
1:  movl %eax, 0x46C
    int $0x1C
    movb $0x20, %al
    outb %al, $0x20
    popl %eax
    popw %ds
    iret

// Other IRQs nobody claimed: acknowledge so the PIC does not stay stuck.
irq_master:
    pushw %ax
    movb $0x20, %al
    outb %al, $0x20
    popw %ax
    iret
irq_slave:
    pushw %ax
    movb $0x20, %al
    outb %al, $0xA0
    outb %al, $0x20
    popw %ax
    iret

dummy_iret:
    iret

// vector, handler offset; ends with 0xFFFF.
ivt_table:
    .word 0x08, irq0
    .word 0x09, stub_09
    .word 0x0A, irq_master
    .word 0x0B, irq_master
    .word 0x0C, irq_master
    .word 0x0D, irq_master
    .word 0x0E, irq_master
    .word 0x0F, irq_master
    .word 0x10, stub_10
    .word 0x11, stub_11
    .word 0x12, stub_12
    .word 0x13, stub_13
    .word 0x14, stub_14
    .word 0x15, stub_15
    .word 0x16, stub_16
    .word 0x17, stub_17
    .word 0x18, stub_18
    .word 0x19, stub_19
    .word 0x1A, stub_1A
    .word 0x70, irq_slave
    .word 0x71, irq_slave
    .word 0x72, irq_slave
    .word 0x73, irq_slave
    .word 0x74, irq_slave
    .word 0x75, irq_slave
    .word 0x76, irq_slave
    .word 0x77, irq_slave
    .word 0xFFFF, 0

// ---------------------------------------------------------------------------------------
// 32-bit side of the thunk, linked at its linear address.
    .section .text.corevm_enter32, "ax"
    .code32
enter32:
    movw $SEL_DATA32, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl $corevm_stack_top, %esp
    cld
    pushl %ebx
    call corevm_dispatch
    addl $4, %esp
    ljmp $SEL_CODE16, $exit16

// ---------------------------------------------------------------------------------------
// The reset vector at F000:FFF0, then the BIOS date and the AT model byte where software
// looks for them.
    .section .reset, "ax"
    .code16
    .globl reset_vector
reset_vector:
    ljmpw $0xF000, $post16
    .ascii "11/26/26"
    .byte 0
    .byte 0xFC
    .byte 0
