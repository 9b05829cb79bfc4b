// The display benchmark's guest (tools/display_bench.ts): SeaBIOS loads sector 0 at 0x7C00,
// which reads the rest of the image (STAGE2_SECTORS sectors, INT 13h AH=42h) to 0x7E00, then
// times three framebuffer fills in the guest's own TSC cycles (RDTSC before and after, interrupts
// off) and prints each on COM1 (polled 16550 at 0x3F8) as "FILL <what> <cycles, 16 hex digits>":
//   mode12  mode 12h (planar, 16 colours): FILLS fills of 38400 bytes at 0xA0000 with
//           `rep stosb`, map mask 0x0F, write mode 0 (an MMIO write per byte: planar memory
//           cannot be mapped into the guest)
//   mode13  mode 13h (chain-4, 256 colours): FILLS fills of 64000 bytes at 0xA0000
//   lfb     the Bochs VBE linear framebuffer at 1024x768x32, programmed through the dispi ports
//           0x1CE/0x1CF, its address from BAR0 of PCI 00:02.0: FILLS fills of 3 MiB with
//           `rep stosl` from 16-bit protected mode with a flat ES (interrupts off)
// A guest that cannot do a step prints "FILL <what> ERROR" instead. Then "DONE", and ACPI S5
// (SLP_TYP 5 | SLP_EN) on vmctl's PM1a control port 0x604, then it halts forever: QEMU's PIIX4
// PM takes SLP_TYP 0 as soft-off, so the benchmark stops QEMU at "DONE" (as vga_draw.S).
// The image's last stage 2 byte (`bench_mode`, at byte 512 * (1 + STAGE2_SECTORS) - 1) picks
// what the host's CPU is measured on instead: 1 fills the LFB screen once, prints "STILL" and
// halts with interrupts on (a still graphical screen); 2 fills the LFB screen over and over,
// another colour each time, and never stops (a full-screen redraw loop).
        .code16
        .set    STAGE2_SECTORS, 2
        .set    COM1, 0x3F8
        .set    PM1A_CNT, 0x604
        .set    S5_SLP_EN, 0x3400
        .set    FILLS, 16
        .set    BENCH_FILLS, 0
        .set    BENCH_STILL, 1
        .set    BENCH_REDRAW, 2
        .set    SEQ_INDEX, 0x3C4
        .set    SEQ_MAP_MASK, 0x02
        .set    GC_INDEX, 0x3CE
        .set    GC_SET_RESET, 0x00
        .set    GC_ENABLE_SET_RESET, 0x01
        .set    GC_DATA_ROTATE, 0x03
        .set    GC_MODE, 0x05
        .set    GC_BIT_MASK, 0x08
        .set    MODE12_BYTES, 640 * 480 / 8
        .set    MODE13_BYTES, 320 * 200
        .set    DISPI_INDEX, 0x1CE        // data at DISPI_INDEX + 1; 16-bit accesses
        .set    DISPI_ID, 0
        .set    DISPI_XRES, 1
        .set    DISPI_YRES, 2
        .set    DISPI_BPP, 3
        .set    DISPI_ENABLE, 4
        .set    DISPI_ID_OLDEST, 0xB0C0
        .set    DISPI_ENABLED_LFB, 0x41   // enabled | linear framebuffer
        .set    LFB_WIDTH, 1024
        .set    LFB_HEIGHT, 768
        .set    LFB_BPP, 32
        .set    LFB_BYTES, LFB_WIDTH * LFB_HEIGHT * LFB_BPP / 8
        .set    PCI_CONFIG_ADDRESS, 0xCF8
        .set    PCI_CONFIG_DATA, 0xCFC
        .set    PCI_VGA_ID, 0x80001000    // bus 0, slot 2, function 0, register 0x00
        .set    PCI_VGA_BAR0, 0x80001010  // register 0x10
        .set    BOCHS_VGA_ID, 0x11111234  // device 0x1111, vendor 0x1234
        .set    CODE16_SELECTOR, 0x08
        .set    FLAT_DATA_SELECTOR, 0x10

// Writes \value to register \index of the chip whose index port is \port (data at \port + 1),
// one byte access each.
.macro  reg port, index, value
        mov     $\port, %dx
        mov     $\index, %al
        out     %al, %dx
        inc     %dx
        mov     $\value, %al
        out     %al, %dx
.endm
.macro  gc index, value
        reg     GC_INDEX, \index, \value
.endm
// Writes \value to dispi register \index, one 16-bit access each.
.macro  dispi index, value
        mov     $DISPI_INDEX, %dx
        mov     $\index, %ax
        out     %ax, %dx
        inc     %dx
        mov     $\value, %ax
        out     %ax, %dx
.endm
// Reads dispi register \index into AX.
.macro  dispi_read index
        mov     $DISPI_INDEX, %dx
        mov     $\index, %ax
        out     %ax, %dx
        inc     %dx
        in      %dx, %ax
.endm
// Reads the PCI configuration dword \address into EAX.
.macro  pci_read address
        mov     $\address, %eax
        mov     $PCI_CONFIG_ADDRESS, %dx
        out     %eax, %dx
        mov     $PCI_CONFIG_DATA, %dx
        in      %dx, %eax
.endm

        .text
        .globl  _start
_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7C00, %sp
        ljmp    $0, $1f
1:      sti
        cld
        mov     $0x4200, %ax            // extended read, DL: the boot drive
        mov     $disk_address_packet, %si
        int     $0x13
        jc      disk_error
        cmpb    $BENCH_FILLS, bench_mode
        jne     lfb
        jmp     mode12
disk_error:
        mov     $msg_disk, %si
        call    puts
        jmp     done

// Prints the NUL-terminated string at DS:SI on COM1.
puts:   lodsb
        test    %al, %al
        jz      1f
        call    putc
        jmp     puts
1:      ret

// Prints AL on COM1, waiting for the transmitter holding register to empty.
putc:   push    %dx
        push    %ax
        mov     $(COM1 + 5), %dx
1:      in      %dx, %al
        test    $0x20, %al
        jz      1b
        pop     %ax
        mov     $COM1, %dx
        out     %al, %dx
        pop     %dx
        ret

// Prints EAX as eight hex digits (EAX unchanged).
puthex32:
        push    %cx
        mov     $8, %cx
1:      rol     $4, %eax
        push    %eax
        and     $0x0F, %al
        add     $'0', %al
        cmp     $'9', %al
        jbe     2f
        add     $('A' - '9' - 1), %al
2:      call    putc
        pop     %eax
        loop    1b
        pop     %cx
        ret

// Prints the label at DS:SI, then EDX:EAX as sixteen hex digits and a line end.
report: call    puts
        push    %eax
        mov     %edx, %eax
        call    puthex32
        pop     %eax
        call    puthex32
        mov     $msg_crlf, %si
        jmp     puts

// Prints the label at DS:SI and "ERROR".
report_error:
        call    puts
        mov     $msg_error, %si
        jmp     puts

// Keeps the TSC in tsc_start.
tsc_mark:
        rdtsc
        mov     %eax, tsc_start
        mov     %edx, tsc_start + 4
        ret
// EDX:EAX: TSC cycles since tsc_mark.
tsc_elapsed:
        rdtsc
        sub     tsc_start, %eax
        sbb     tsc_start + 4, %edx
        ret

done:   mov     $msg_done, %si
        call    puts
        mov     $PM1A_CNT, %dx
        mov     $S5_SLP_EN, %ax
        out     %ax, %dx
1:      cli
        hlt
        jmp     1b

// INT 13h AH=42h: the stage 2 sectors from LBA 1 to 0000:7E00.
disk_address_packet:
        .byte   16, 0
        .word   STAGE2_SECTORS
        .word   0x7E00, 0
        .quad   1
msg_disk:       .asciz  "DISK ERROR\r\n"
msg_done:       .asciz  "DONE\r\n"
msg_crlf:       .asciz  "\r\n"

        .org    510
        .word   0xAA55

// ---- Stage 2, loaded at 0x7E00 --------------------------------------------------------------

msg_mode12:     .asciz  "FILL mode12 "
msg_mode13:     .asciz  "FILL mode13 "
msg_lfb:        .asciz  "FILL lfb "
msg_error:      .asciz  "ERROR\r\n"
msg_still:      .asciz  "STILL\r\n"
        .p2align 2
tsc_start:      .quad   0
lfb_base:       .long   0

// Mode 12h: FILLS fills of the whole screen, every plane, write mode 0, byte by byte.
mode12: mov     $0x0012, %ax
        int     $0x10
        reg     SEQ_INDEX, SEQ_MAP_MASK, 0x0F
        gc      GC_MODE, 0x00
        gc      GC_ENABLE_SET_RESET, 0x00
        gc      GC_SET_RESET, 0x00
        gc      GC_DATA_ROTATE, 0x00
        gc      GC_BIT_MASK, 0xFF
        mov     $0xA000, %ax
        mov     %ax, %es
        cli
        call    tsc_mark
        mov     $FILLS, %bx
1:      xor     %di, %di
        mov     $MODE12_BYTES, %cx
        mov     %bl, %al
        rep stosb
        dec     %bx
        jnz     1b
        call    tsc_elapsed
        sti
        mov     $msg_mode12, %si
        call    report

// Mode 13h: FILLS fills of the 64000 chain-4 bytes.
mode13: mov     $0x0013, %ax
        int     $0x10
        mov     $0xA000, %ax
        mov     %ax, %es
        cli
        call    tsc_mark
        mov     $FILLS, %bx
1:      xor     %di, %di
        mov     $MODE13_BYTES, %cx
        mov     %bl, %al
        rep stosb
        dec     %bx
        jnz     1b
        call    tsc_elapsed
        sti
        mov     $msg_mode13, %si
        call    report

// The linear framebuffer: find it, set 1024x768x32 through the dispi registers, fill it.
lfb:    pci_read PCI_VGA_ID
        cmp     $BOCHS_VGA_ID, %eax
        jne     lfb_error
        pci_read PCI_VGA_BAR0
        and     $0xFFFFFFF0, %eax
        jz      lfb_error
        mov     %eax, lfb_base
        dispi_read DISPI_ID
        cmp     $DISPI_ID_OLDEST, %ax
        jb      lfb_error
        dispi   DISPI_ENABLE, 0
        dispi   DISPI_XRES, LFB_WIDTH
        dispi   DISPI_YRES, LFB_HEIGHT
        dispi   DISPI_BPP, LFB_BPP
        dispi   DISPI_ENABLE, DISPI_ENABLED_LFB
        dispi_read DISPI_XRES
        cmp     $LFB_WIDTH, %ax
        jne     lfb_error
        dispi_read DISPI_YRES
        cmp     $LFB_HEIGHT, %ax
        jne     lfb_error
        dispi_read DISPI_BPP
        cmp     $LFB_BPP, %ax
        jne     lfb_error
        // 16-bit protected mode: CS a 16-bit code segment, ES flat over 4 GiB; DS and SS keep
        // their real-mode segments (base 0), so the code and its data stay where they are.
        cli
        lgdt    gdt_descriptor
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmp    $CODE16_SELECTOR, $1f
1:      mov     $FLAT_DATA_SELECTOR, %ax
        mov     %ax, %es
        call    tsc_mark
        mov     $FILLS, %bx
2:      mov     lfb_base, %edi
        mov     $(LFB_BYTES / 4), %ecx
        movzx   %bx, %eax
        imul    $0x00111111, %eax, %eax
        rep stosl %eax, %es:(%edi)
        dec     %bx
        jnz     2b
        cmpb    $BENCH_REDRAW, bench_mode
        jne     4f
        mov     $FILLS, %bx
        jmp     2b
4:      call    tsc_elapsed
        mov     %eax, tsc_start
        mov     %edx, tsc_start + 4
        mov     %cr0, %eax
        and     $0xFFFFFFFE, %eax
        mov     %eax, %cr0
        ljmp    $0, $3f
3:      xor     %ax, %ax
        mov     %ax, %es
        sti
        mov     tsc_start, %eax
        mov     tsc_start + 4, %edx
        mov     $msg_lfb, %si
        call    report
        cmpb    $BENCH_STILL, bench_mode
        jne     done
        mov     $msg_still, %si
        call    puts
1:      hlt
        jmp     1b
lfb_error:
        mov     $msg_lfb, %si
        call    report_error
        jmp     done

// Null, a 16-bit code segment (base 0, 64 KiB) and a flat 32-bit data segment (base 0, 4 GiB).
        .p2align 3
gdt:    .quad   0
        .quad   0x00009A000000FFFF
        .quad   0x00CF92000000FFFF
gdt_end:
gdt_descriptor:
        .word   gdt_end - gdt - 1
        .long   gdt

        .org    512 * (1 + STAGE2_SECTORS) - 1 // fails to assemble if the guest outgrew it
bench_mode:     .byte   BENCH_FILLS
