// A boot-sector guest for vmctl's display tests: SeaBIOS loads sector 0 at 0x7C00, which reads
// the rest of the image (STAGE2_SECTORS sectors, INT 13h AH=42h) to 0x7E00 and draws what the
// action byte at offset 509 (just before the 0xAA55 signature) names:
//   '2' mode 12h (640×480, 16 colours, planar): every write mode, rotate and the logical
//       functions, set/reset, the bit mask; read mode 0 and 1 results printed on COM1
//   '3' mode 13h (320×200, 256 colours, chain-4) with a DAC palette programmed afterwards
//   'x' mode X: mode 13h unchained (chain-4 off, CRTC byte mode), drawn plane by plane
//   't' text mode 3: several attributes (blink off, bright backgrounds), CP437 characters
//   '5' text mode 3 with the 8×8 font: 80×50
//   '4' text mode 1: 40×25
// Every action ends by printing "DONE" on COM1 (polled 16550 at 0x3F8) and writing ACPI S5
// (SLP_TYP 5 | SLP_EN) to vmctl's PM1a control port 0x604, then halts forever: QEMU's PIIX4 PM
// takes SLP_TYP 0 as soft-off, so under QEMU the guest stays halted with its picture on screen.
// tests/display_expect.ts describes what each action draws; keep the two in step.
        .code16
        .set    STAGE2_SECTORS, 4
        .set    COM1, 0x3F8
        .set    PM1A_CNT, 0x604
        .set    S5_SLP_EN, 0x3400
        .set    SEQ_INDEX, 0x3C4          // sequencer: 0x02 map mask, 0x04 memory mode
        .set    GC_INDEX, 0x3CE           // graphics controller, see the gc macro
        .set    CRTC_INDEX, 0x3D4
        .set    DAC_READ_INDEX, 0x3C7
        .set    DAC_WRITE_INDEX, 0x3C8
        .set    DAC_DATA, 0x3C9
        .set    GC_SET_RESET, 0x00
        .set    GC_ENABLE_SET_RESET, 0x01
        .set    GC_COLOR_COMPARE, 0x02
        .set    GC_DATA_ROTATE, 0x03      // bits 2-0 rotate count, bits 4-3 function
        .set    GC_READ_MAP, 0x04
        .set    GC_MODE, 0x05             // bits 1-0 write mode, bit 3 read mode
        .set    GC_COLOR_DONT_CARE, 0x07
        .set    GC_BIT_MASK, 0x08
        .set    SEQ_MAP_MASK, 0x02
        .set    SEQ_MEMORY_MODE, 0x04
        .set    BAND_BYTES, 16 * 80       // mode 12h: a band is 16 rows of 80 bytes

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
.macro  mapmask planes
        reg     SEQ_INDEX, SEQ_MAP_MASK, \planes
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
        mov     $0x4200, %ax            // extended read, DL: the boot drive
        mov     $disk_address_packet, %si
        int     $0x13
        jc      disk_error
        mov     action, %al
        cmp     $'2', %al
        je      mode12
        cmp     $'3', %al
        je      mode13
        cmp     $'x', %al
        je      modex
        cmp     $'t', %al
        je      text3
        cmp     $'5', %al
        je      text50
        cmp     $'4', %al
        je      text40
        mov     $msg_bad_action, %si
        jmp     fail
disk_error:
        mov     $msg_disk, %si
fail:   call    puts
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

// Prints AL as two hex digits and a space.
puthex: push    %ax
        shr     $4, %al
        call    nibble
        pop     %ax
        push    %ax
        call    nibble
        mov     $' ', %al
        call    putc
        pop     %ax
        ret
nibble: and     $0x0F, %al
        add     $'0', %al
        cmp     $'9', %al
        jbe     1f
        add     $('A' - '9' - 1), %al
1:      jmp     putc

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

        .org    509
action: .byte   0
        .word   0xAA55

// ---- Stage 2, loaded at 0x7E00 --------------------------------------------------------------

msg_bad_action: .asciz  "BAD ACTION\r\n"
msg_read0:      .asciz  "R0 "
msg_read1:      .asciz  "R1 "
msg_dac:        .asciz  "DAC "
msg_crlf:       .asciz  "\r\n"

// Mode 12h fill helpers, ES = 0xA000. DI: first byte, CX: count, AL: the CPU data.
// fill: one write per byte.
fill:   mov     %al, %es:(%di)
        inc     %di
        loop    fill
        ret
// rmw: a read (loading the latches) then a write per byte.
rmw:    mov     %es:(%di), %ah
        mov     %al, %es:(%di)
        inc     %di
        loop    rmw
        ret

mode12: mov     $0x0012, %ax
        int     $0x10
        mov     $0xA000, %ax
        mov     %ax, %es
        // Band 0: the base pattern.
        mov     $(0 * BAND_BYTES), %di
        call    base
        // Band 1: set/reset on planes 0 and 1 (colour 1), the CPU byte 0x0F on planes 2 and 3.
        gc      GC_ENABLE_SET_RESET, 0x03
        gc      GC_SET_RESET, 0x01
        mov     $(1 * BAND_BYTES), %di
        mov     $BAND_BYTES, %cx
        mov     $0x0F, %al
        call    fill
        gc      GC_ENABLE_SET_RESET, 0x00
        gc      GC_SET_RESET, 0x00
        // Band 2: rotate right by 4 (0x1E becomes 0xE1) into planes 0 and 2 only.
        gc      GC_DATA_ROTATE, 0x04
        mapmask 0x05
        mov     $(2 * BAND_BYTES), %di
        mov     $BAND_BYTES, %cx
        mov     $0x1E, %al
        call    fill
        mapmask 0x0F
        gc      GC_DATA_ROTATE, 0x00
        // Bands 3-5: over the base pattern, rotate right by 1, then AND 0x3C, OR 0x81, XOR 0x66.
        mov     $(3 * BAND_BYTES), %di
        call    base
        gc      GC_DATA_ROTATE, 0x09
        mov     $BAND_BYTES, %cx
        mov     $0x78, %al
        call    rmw
        gc      GC_DATA_ROTATE, 0x00
        mov     $(4 * BAND_BYTES), %di
        call    base
        gc      GC_DATA_ROTATE, 0x11
        mov     $BAND_BYTES, %cx
        mov     $0x03, %al
        call    rmw
        gc      GC_DATA_ROTATE, 0x00
        mov     $(5 * BAND_BYTES), %di
        call    base
        gc      GC_DATA_ROTATE, 0x19
        mov     $BAND_BYTES, %cx
        mov     $0xCC, %al
        call    rmw
        gc      GC_DATA_ROTATE, 0x00
        // Band 6: set/reset colour 12 on all planes through bit mask 0x0F over the base pattern.
        mov     $(6 * BAND_BYTES), %di
        call    base
        gc      GC_ENABLE_SET_RESET, 0x0F
        gc      GC_SET_RESET, 0x0C
        gc      GC_BIT_MASK, 0x0F
        mov     $BAND_BYTES, %cx
        mov     $0x55, %al
        call    rmw
        gc      GC_ENABLE_SET_RESET, 0x00
        gc      GC_SET_RESET, 0x00
        // Band 7: write mode 1 copies band 0 through the latches (the bit mask does not apply).
        gc      GC_MODE, 0x01
        mov     $0, %si
        mov     $(7 * BAND_BYTES), %di
        mov     $BAND_BYTES, %cx
1:      mov     %es:(%si), %al
        inc     %si
        mov     %al, %es:(%di)
        inc     %di
        loop    1b
        gc      GC_BIT_MASK, 0xFF
        // Band 8: write mode 2, colour 9 (the CPU byte 0xF9) through bit mask 0x3C.
        gc      GC_MODE, 0x00
        mov     $(8 * BAND_BYTES), %di
        call    base
        gc      GC_MODE, 0x02
        gc      GC_BIT_MASK, 0x3C
        mov     $BAND_BYTES, %cx
        mov     $0xF9, %al
        call    rmw
        // Band 9: write mode 3, set/reset colour 14 (enable set/reset 0 is ignored), the CPU byte
        // 0xF0 rotated right by 2 (0x3C) and the bit mask 0xF0: mask 0x30.
        gc      GC_MODE, 0x00
        gc      GC_BIT_MASK, 0xFF
        mov     $(9 * BAND_BYTES), %di
        call    base
        gc      GC_MODE, 0x03
        gc      GC_SET_RESET, 0x0E
        gc      GC_DATA_ROTATE, 0x02
        gc      GC_BIT_MASK, 0xF0
        mov     $BAND_BYTES, %cx
        mov     $0xF0, %al
        call    rmw
        gc      GC_MODE, 0x00
        gc      GC_SET_RESET, 0x00
        gc      GC_DATA_ROTATE, 0x00
        gc      GC_BIT_MASK, 0xFF
        // Band 10: every byte holds the low byte of its own offset, on all planes.
        mov     $(10 * BAND_BYTES), %di
        mov     $BAND_BYTES, %cx
1:      mov     %di, %ax
        mov     %al, %es:(%di)
        inc     %di
        loop    1b
        // Band 11: set/reset colour 2 in the right half of each row only.
        gc      GC_ENABLE_SET_RESET, 0x0F
        gc      GC_SET_RESET, 0x02
        mov     $(11 * BAND_BYTES + 40), %di
        mov     $16, %bx
1:      mov     $40, %cx
        call    fill
        add     $40, %di
        dec     %bx
        jnz     1b
        gc      GC_ENABLE_SET_RESET, 0x00
        gc      GC_SET_RESET, 0x00
        // Read mode 0 of band 0's first byte from each plane: F0 CC AA FF.
        mov     $msg_read0, %si
        call    puts
        xor     %bl, %bl
1:      mov     $GC_INDEX, %dx
        mov     $GC_READ_MAP, %al
        out     %al, %dx
        inc     %dx
        mov     %bl, %al
        out     %al, %dx
        mov     %es:0, %al
        call    puthex
        inc     %bl
        cmp     $4, %bl
        jb      1b
        mov     $msg_crlf, %si
        call    puts
        gc      GC_READ_MAP, 0x00
        // Read mode 1 of the same byte (pixel colours 15 11 13 9 14 10 12 8) against colour
        // compare / colour don't care pairs: 80 10 FF F0 88 FF.
        gc      GC_MODE, 0x08
        mov     $msg_read1, %si
        call    puts
        mov     $compare_pairs, %bx
1:      mov     $GC_INDEX, %dx
        mov     $GC_COLOR_COMPARE, %al
        out     %al, %dx
        inc     %dx
        mov     (%bx), %al
        out     %al, %dx
        dec     %dx
        mov     $GC_COLOR_DONT_CARE, %al
        out     %al, %dx
        inc     %dx
        mov     1(%bx), %al
        out     %al, %dx
        mov     %es:0, %al
        call    puthex
        add     $2, %bx
        cmp     $compare_pairs_end, %bx
        jb      1b
        mov     $msg_crlf, %si
        call    puts
        gc      GC_MODE, 0x00
        gc      GC_COLOR_COMPARE, 0x00
        gc      GC_COLOR_DONT_CARE, 0x0F
        jmp     done

// Colour compare, colour don't care.
compare_pairs:
        .byte   0x0F, 0x0F, 0x09, 0x0F, 0x08, 0x08, 0x09, 0x09, 0x06, 0x06, 0x05, 0x00
compare_pairs_end:

// The base pattern over the band at DI (DI unchanged), written plane by plane in write mode 0:
// planes 0-3 hold 0xF0, 0xCC, 0xAA, 0xFF in every byte. Ends with the map mask at all planes.
base:   push    %di
        mov     $0x01, %bl
        mov     $0xF0, %bh
        call    plane_fill
        mov     $0x02, %bl
        mov     $0xCC, %bh
        call    plane_fill
        mov     $0x04, %bl
        mov     $0xAA, %bh
        call    plane_fill
        mov     $0x08, %bl
        mov     $0xFF, %bh
        call    plane_fill
        mapmask 0x0F
        pop     %di
        ret
// Fills the band at DI (DI unchanged) with BH through map mask BL.
plane_fill:
        push    %di
        mov     $SEQ_INDEX, %dx
        mov     $SEQ_MAP_MASK, %al
        out     %al, %dx
        inc     %dx
        mov     %bl, %al
        out     %al, %dx
        mov     $BAND_BYTES, %cx
        mov     %bh, %al
        call    fill
        pop     %di
        ret

// Mode 13h: pixel (x, y) gets colour (x + y) & 0xFF; then the DAC palette (see dac).
mode13: mov     $0x0013, %ax
        int     $0x10
        mov     $0xA000, %ax
        mov     %ax, %es
        xor     %di, %di
        xor     %dx, %dx                // y
1:      xor     %cx, %cx                // x
2:      mov     %cl, %al
        add     %dl, %al
        mov     %al, %es:(%di)
        inc     %di
        inc     %cx
        cmp     $320, %cx
        jb      2b
        inc     %dx
        cmp     $200, %dx
        jb      1b
        call    dac
        jmp     done

// Mode X: mode 13h with chain-4 off and the CRTC in byte mode; pixel (x, y) is byte
// y * 80 + x / 4 of plane x % 4. Every plane is cleared, then pixel (x, y) gets colour
// (x + 2y) & 0xFF, plane by plane; then the DAC palette (see dac).
modex:  mov     $0x0013, %ax
        int     $0x10
        reg     SEQ_INDEX, SEQ_MEMORY_MODE, 0x06 // odd/even off, chain-4 off
        reg     CRTC_INDEX, 0x14, 0x00           // underline location: doubleword mode off
        reg     CRTC_INDEX, 0x17, 0xE3           // mode control: byte mode
        mov     $0xA000, %ax
        mov     %ax, %es
        mapmask 0x0F
        xor     %di, %di
        mov     $16000, %cx
        xor     %al, %al
        call    fill
        xor     %bl, %bl                // plane
1:      mov     $SEQ_INDEX, %dx
        mov     $SEQ_MAP_MASK, %al
        out     %al, %dx
        inc     %dx
        mov     %bl, %cl
        mov     $1, %al
        shl     %cl, %al
        out     %al, %dx
        xor     %di, %di
        xor     %si, %si                // y
2:      xor     %cx, %cx                // x / 4
3:      mov     %si, %ax
        shl     $1, %al
        mov     %cl, %ah
        shl     $2, %ah
        add     %ah, %al
        add     %bl, %al
        mov     %al, %es:(%di)
        inc     %di
        inc     %cx
        cmp     $80, %cx
        jb      3b
        inc     %si
        cmp     $200, %si
        jb      2b
        inc     %bl
        cmp     $4, %bl
        jb      1b
        call    dac
        jmp     done

// Programs all 256 DAC entries: entry i is red i >> 2, green i & 0x3F, blue 0x3F - (i >> 2)
// (6-bit values); then reads entry 5 back and prints it: "DAC 01 05 3E".
dac:    mov     $DAC_WRITE_INDEX, %dx
        xor     %al, %al
        out     %al, %dx
        mov     $DAC_DATA, %dx
        xor     %bl, %bl
1:      mov     %bl, %al
        shr     $2, %al
        out     %al, %dx
        mov     %bl, %al
        and     $0x3F, %al
        out     %al, %dx
        mov     %bl, %ah
        shr     $2, %ah
        mov     $0x3F, %al
        sub     %ah, %al
        out     %al, %dx
        inc     %bl
        jnz     1b
        mov     $DAC_READ_INDEX, %dx
        mov     $5, %al
        out     %al, %dx
        mov     $msg_dac, %si
        call    puts
        mov     $DAC_DATA, %dx
        mov     $3, %cx
1:      in      %dx, %al
        call    puthex
        loop    1b
        mov     $msg_crlf, %si
        jmp     puts

// Hides the cursor and turns blinking off (attribute bit 7: bright background).
text_setup:
        mov     $0x0100, %ax
        mov     $0x2000, %cx
        int     $0x10
        mov     $0x1003, %ax
        xor     %bx, %bx
        int     $0x10
        ret

// Writes the text records at DS:SI to the screen at 0xB800:0: each is the cell's byte offset
// (a word), an attribute byte and a NUL-terminated string; a word 0xFFFF ends them.
text_lines:
        mov     $0xB800, %ax
        mov     %ax, %es
1:      lodsw
        cmp     $0xFFFF, %ax
        je      3f
        mov     %ax, %di
        lodsb
        mov     %al, %ah
2:      lodsb
        test    %al, %al
        jz      1b
        stosw
        jmp     2b
3:      ret

// Mode 3 with the text records of text3_lines; row 10 has character 0xDB in colours 0-15,
// row 11 the letters a-p in background colour i and foreground 15 - i, each cell twice.
text3:  mov     $0x0003, %ax
        int     $0x10
        call    text_setup
        mov     $text3_lines, %si
        call    text_lines
        mov     $(10 * 160), %di
        xor     %ah, %ah
1:      mov     $0xDB, %al
        stosw
        stosw
        inc     %ah
        cmp     $16, %ah
        jb      1b
        mov     $(11 * 160), %di
        xor     %bl, %bl
1:      mov     %bl, %ah
        shl     $4, %ah
        mov     $15, %al
        sub     %bl, %al
        or      %al, %ah
        mov     $'a', %al
        add     %bl, %al
        stosw
        stosw
        inc     %bl
        cmp     $16, %bl
        jb      1b
        jmp     done

// Mode 3 with the 8×8 font (INT 10h AX=1112h): 80 columns, 50 rows.
text50: mov     $0x0003, %ax
        int     $0x10
        mov     $0x1112, %ax
        xor     %bl, %bl
        int     $0x10
        call    text_setup
        mov     $text50_lines, %si
        call    text_lines
        jmp     done

// Mode 1: 40 columns, 25 rows.
text40: mov     $0x0001, %ax
        int     $0x10
        call    text_setup
        mov     $text40_lines, %si
        call    text_lines
        jmp     done

// tests/display_expect.ts has the same texts.
text3_lines:
        .word   0
        .byte   0x07
        .asciz  "vmctl display test: text mode 3, 80x25"
        .word   (1 * 80 + 2) * 2
        .byte   0x1F
        .asciz  " bright white on blue "
        .word   (2 * 80 + 4) * 2
        .byte   0x4E
        .asciz  " yellow on red "
        .word   (3 * 80 + 6) * 2
        .byte   0xB0
        .asciz  " black on bright cyan (attribute bit 7, blink off) "
        .word   (4 * 80) * 2
        .byte   0x0A
        .asciz  "CP437: "
        .word   (4 * 80 + 7) * 2
        .byte   0x0E
        .byte   0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0E, 0x0F, 0x18, 0x19, 0x1A, 0x1B
        .byte   0x80, 0x81, 0x82, 0x9B, 0x9C, 0xE0, 0xE1, 0xE3, 0xF8, 0xFB, 0xFD, 0xFE, 0
        .word   (5 * 80) * 2
        .byte   0x1E
        .byte   0xC4, 0xC4, 0xC4, 0xC4, 0xC4, 0xC4, 0xC4, 0xC4, 0xC5, 0xCD, 0xCD, 0xCD
        .byte   0xCB, 0xC9, 0xC8, 0xDB, 0xDB, 0xDC, 0xDF, 0xDD, 0xDE, 0xC0, 0xC3, 0
        .word   (7 * 80 + 20) * 2
        .byte   0x8F
        .asciz  "bright white on dark grey"
        .word   (24 * 80 + 60) * 2
        .byte   0x70
        .asciz  "last row, column 60"
        .word   0xFFFF

text50_lines:
        .word   0
        .byte   0x1F
        .asciz  "80x50 text: row 0"
        .word   (25 * 80 + 10) * 2
        .byte   0x4E
        .asciz  "row 25"
        .word   (49 * 80 + 70) * 2
        .byte   0x07
        .asciz  "row 49"
        .word   0xFFFF

text40_lines:
        .word   0
        .byte   0x1F
        .asciz  "40x25 text: row 0"
        .word   (12 * 40 + 10) * 2
        .byte   0x4E
        .asciz  "row 12"
        .word   (24 * 40 + 30) * 2
        .byte   0x07
        .asciz  "row 24"
        .word   0xFFFF

        .org    512 * (1 + STAGE2_SECTORS) // fails to assemble if the guest outgrew it
