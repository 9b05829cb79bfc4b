// A hostile guest for vmctl's tests: entered at the Linux 64-bit boot entry, it hammers every
// I/O port, the emulated devices' registers, string I/O and unmapped MMIO with pseudo-random
// values, then reports on COM1 and ends the way the last byte of the image says:
//   'h' hang (cli; hlt)  'p' ACPI S5 power off  'r' i8042 reset pulse  'c' reset via 0xCF9
//   't' triple fault
// Ports that would end the run early (PM1 control, 0xCF9, i8042 command) are spared until then,
// and so is KVM's in-kernel PIT (see `spared`).
// An upper-case action letter skips the fuzzing and goes straight to the report and the end.
        .code64
        .text
        .globl _start
_start:
        cli
        mov     $0x80000, %esp            // a stack in conventional memory
        mov     $0x2545F491, %r8d        // xorshift32 state
        lea     image_end(%rip), %rax
        testb   $0x20, (%rax)             // upper case: no fuzzing
        jz      report

        // 1. Every port: one write and one read, of a width that rotates with the port number.
        xor     %ebx, %ebx
sweep:
        mov     %ebx, %edx
        call    spared
        jz      sweep_next
        call    next_random
        test    $1, %bl
        jnz     sweep_word
        test    $2, %bl
        jnz     sweep_dword
        out     %al, %dx
        in      %dx, %al
        jmp     sweep_next
sweep_word:
        out     %ax, %dx
        in      %dx, %ax
        jmp     sweep_next
sweep_dword:
        out     %eax, %dx
        in      %dx, %eax
sweep_next:
        inc     %ebx
        cmp     $0x10000, %ebx
        jb      sweep

        // 2. The emulated devices' own registers, many times over.
        mov     $20000, %r9d
device_fuzz:
        call    next_random
        mov     %eax, %ecx
        and     $7, %ecx                  // which device range
        lea     device_ports(%rip), %rsi
        movzwl  (%rsi,%rcx,2), %edx
        call    next_random
        mov     %eax, %ecx
        shr     $8, %ecx
        and     $15, %ecx
        add     %ecx, %edx                // base + offset 0..15
        call    spared
        jz      device_next
        call    next_random
        test    $0x300, %eax
        jz      wide
        out     %al, %dx
        in      %dx, %al
        jmp     device_next
wide:
        out     %eax, %dx
        in      %dx, %ax
device_next:
        dec     %r9d
        jnz     device_fuzz

        // 3. String I/O with long counts, to and from RAM at 2 MiB.
        mov     $0x200000, %rsi
        mov     $0x3F8, %edx
        mov     $8192, %ecx
        rep outsb
        mov     $0x200000, %rdi
        mov     $0x3FD, %edx
        mov     $8192, %ecx
        rep insb
        mov     $0x71, %edx
        mov     $4096, %ecx
        rep insl

        // 4. MMIO nobody owns: the PCI hole and the HPET address.
        mov     $0xC0000000, %rax
        movl    $0xDEADBEEF, (%rax)
        mov     (%rax), %ecx
        mov     $0xFED00000, %rax
        movq    $-1, (%rax)
        mov     (%rax), %rcx

        // Report: put COM1 back into a sane state, then print the marker.
report:
        mov     $0x3FB, %edx
        mov     $0x03, %al                // LCR: 8N1, DLAB off
        out     %al, %dx
        mov     $0x3FC, %edx
        mov     $0x03, %al                // MCR: DTR|RTS, no loopback
        out     %al, %dx
        lea     marker(%rip), %rsi
print:
        movzbl  (%rsi), %eax
        test    %al, %al
        jz      finish
        mov     $0x3F8, %edx
        out     %al, %dx
        inc     %rsi
        jmp     print

finish:
        lea     image_end(%rip), %rax
        movzbl  (%rax), %eax
        or      $0x20, %al                // the action, in lower case
        cmp     $'p', %al
        je      power_off
        cmp     $'h', %al
        je      hang
        // Resets wait ~0.2 s (TSC ticks) first: a guest resetting as fast as it can makes vmctl
        // rebuild its VM thousands of times a second, which the nested test box does not survive.
        mov     %eax, %ebx
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        lea     500000000(%rax), %rcx
wait:
        pause
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        cmp     %rcx, %rax
        jb      wait
        mov     %ebx, %eax
        cmp     $'r', %al
        je      keyboard_reset
        cmp     $'c', %al
        je      chipset_reset
        cmp     $'t', %al
        je      triple_fault
hang:
        cli
        hlt
        jmp     hang
power_off:
        mov     $0x604, %edx
        mov     $0x3400, %ax              // SLP_EN | SLP_TYP 5 (S5)
        out     %ax, %dx
        jmp     hang
keyboard_reset:
        mov     $0x64, %edx
        mov     $0xFE, %al
        out     %al, %dx
        jmp     hang
chipset_reset:
        mov     $0xCF9, %edx
        mov     $0x06, %al
        out     %al, %dx
        jmp     hang
triple_fault:
        lea     empty_idt(%rip), %rax
        lidt    (%rax)
        ud2

// ZF set when port %dx must be spared: the run-ending registers, and the PIT (0x40-0x43), which
// is KVM's own device, not vmctl's: a random reload value makes it tick at up to 1.2 MHz, more
// than the nested test box keeps up with. Clobbers nothing else.
spared:
        cmp     $0x40, %dx
        jb      2f
        cmp     $0x43, %dx
        ja      2f
        cmp     %dx, %dx                  // 0x40-0x43: set ZF
        ret
2:      cmp     $0x604, %dx
        je      1f
        cmp     $0x605, %dx
        je      1f
        cmp     $0xCF9, %dx
        je      1f
        cmp     $0x64, %dx
1:      ret

// xorshift32 of %r8d; the new value also in %eax.
next_random:
        mov     %r8d, %eax
        shl     $13, %eax
        xor     %eax, %r8d
        mov     %r8d, %eax
        shr     $17, %eax
        xor     %eax, %r8d
        mov     %r8d, %eax
        shl     $5, %eax
        xor     %eax, %r8d
        mov     %r8d, %eax
        ret

        .balign 2
device_ports:
        .word   0x3F8, 0x70, 0x60, 0x600, 0x80, 0x402, 0x3F8, 0x600
empty_idt:
        .word   0
        .quad   0
marker:
        .asciz  "HOSTILE-GUEST-SURVIVED\n"
image_end:
