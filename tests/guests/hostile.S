// A hostile guest for vmctl's tests: entered at the Linux 64-bit boot entry, it hammers every
// I/O port, the emulated devices' registers, string I/O and unmapped MMIO with pseudo-random
// values, then reports on COM1 and ends the way the last byte of the image says:
//   'h' hang (cli; hlt)  'p' ACPI S5 power off  'r' i8042 reset pulse  'c' reset via 0xCF9
//   't' triple fault
//   'd' instead of the port fuzzing, attack the PCI bus, fw_cfg and the VGA (see `devices`),
//       checking what vmctl does, then power off as 'p' does
//   'i' instead of the port fuzzing, attack the IDE controller and its drives (see `storage`):
//       the test puts a disk image and a CD on the IDE channels; then power off as 'p' does
//   'a' the same for the AHCI controller (see `ahci`): a blank disk on SATA port 0, a CD on 1
//   'g' instead of the port fuzzing, random VGA register, plane and VBE traffic (see
//       `graphics`), then power off as 'p' does
//   'w' the same for the VMware SVGA II's registers and FIFO (see `svga`; vmctl --vga vmware)
// Ports that would end the run early (PM1 control, 0xCF9, i8042 command) are spared until then,
// and so is KVM's in-kernel PIT (see `spared`).
// An upper-case action letter skips the fuzzing and goes straight to the report and the end.
//
// The device attacks print one line per phase on COM1: "PCI-OK", "FWCFG-OK", "VGA-OK" ('d'),
// "IDE-OK", "IDE-DMA-OK", ... ('i'), "AHCI-INIT-OK", ... ('a'), or "<phase>-FAIL check C got G
// want W (N failed)" naming the first check that failed. The guest runs with -r 64: RAM is
// guest-physical 0 to 64 MiB, identity-mapped (with the rest of the first 4 GiB) by the boot page
// tables. What it uses of it:
        .set    VARS, 0x60000             // the failure record, checksums, PCI snapshots
        .set    FAIL_ID, VARS             // first failed check (0: none yet)
        .set    FAIL_COUNT, VARS + 4
        .set    FAIL_GOT, VARS + 8
        .set    FAIL_WANT, VARS + 16
        .set    SUM_CANARY, VARS + 24
        .set    SUM_CODE, VARS + 32
        .set    SUM_RAM16, VARS + 40
        .set    SUM_RAM_END, VARS + 48
        .set    SUM_PAGE0, VARS + 56
        .set    APIC_VERSIONS, VARS + 64  // local APIC version | I/O APIC version << 32
        .set    PRESENT_COUNT, VARS + 72
        .set    SUM_VRAM, VARS + 80
        .set    PRESENT, VARS + 0x100     // one byte per devfn on bus 0
        .set    SNAP_BEFORE, VARS + 0x200 // read-only PCI fields, see pci_snapshot
        .set    SNAP_AFTER, VARS + 0x300
        // 0xA0000-0xBFFFF, the VGA window: random characters for vmctl's screen dump
        .set    CANARY, 0x400000          // 64 KiB of random data, checksummed
        .set    CANARY_DWORDS, 0x4000
        .set    DMA_ACCESS, 0x800000      // fw_cfg DMA control structures
        .set    DMA_TARGET, 0x810000      // DMA and string I/O buffer, 1 MiB + a 4 KiB sentinel
        .set    DMA_TARGET_BYTES, 0x100000
        .set    RAM16, 0x1000000          // a checksummed page where VGA BAR 0 is pointed at RAM
        .set    SCRATCH, 0x2000000        // 32-49 MiB: where random DMA may write
        .set    RAM_END_PAGE, 0x3FFF000   // the last page of RAM, checksummed
        .set    RAM_END, 0x4000000
// Every checksummed range (the canary, this code, RAM16, the last page of RAM and page 0) is
// compared again after each attack: vmctl must never write to guest RAM it was not asked to.

// 'i' uses the same guards and checksums, and these (see `storage`):
        .set    IDE_CFG, 0x80000900       // 00:01.1 PIIX3 IDE
        .set    IDE_BM, 0xC000            // where the guest puts BAR4, the bus-master registers
        .set    IDE_PRD, 0x900000         // PRD tables (64 KiB aligned)
        .set    IDE_OUT, 0xA00000         // what DMA and PIO writes send to the disk
        .set    IDE_IN, 0xB00000          // where reads land (up to 512 KiB), 0xAA around them
        .set    IDE_IN_BYTES, 0x21000     // what a DMA case checks: 128 KiB and a 4 KiB margin
        .set    IDE_IDENT, 0xC00000       // IDENTIFY data
        .set    IDE_CDB, 0xC01000         // the ATAPI command packet being sent
        .set    FUZZ_PRD, 0x3000000       // 64 KiB of descriptors, all into SCRATCH (the port fuzz)
        .set    DISK_SECTORS, 2048        // the test's disk image: 1 MiB
        .set    CUR_BASE, VARS + 0x400    // the channel in use: command block, control, bus master
        .set    CUR_CTRL, VARS + 0x404
        .set    CUR_BM, VARS + 0x408
        .set    PIO_DWORDS, VARS + 0x40C  // PIO data moves in dwords instead of words
        .set    ATAPI_CAP, VARS + 0x410   // the most PIO blocks atapi_drain reads
        .set    ATAPI_BYTES, VARS + 0x414 // what the last data phase announced
        .set    ATAPI_BAD, VARS + 0x418   // protocol faults seen (BSY, wrong phase, byte counts)
        .set    ATAPI_DATA, VARS + 0x41C  // random packets that moved data
        .set    ATAPI_ERRORS, VARS + 0x420 // random packets that ended in CHECK CONDITION
        .set    FUZZ_VALUE, VARS + 0x424  // the value being filtered for the IDE port fuzz
        .set    SUM_FUZZ_PRD, VARS + 0x428
        .set    ATAPI_FUZZ_COUNT, 256
        .set    IDE_FUZZ_COUNT, 16000
        .set    IDE_FUZZ_PORTS, 34        // entries of ide_fuzz_ports
        .set    EOT, 0x80000000           // put_prd: the descriptor ends the table
        .set    PRD_NONE, 0xFFFFFFFF      // DMA_CASE: no second descriptor
        .set    TO_MEM, 0x08              // bus-master direction: the controller writes RAM
        .set    AT_A0, 0x40               // DMA_CASE: the data is at the first descriptor's address
        .set    EARLY, 0x80               // DMA_CASE: the engine starts before the command
        // ide_cmd's command word: opcode | device << 8 | 0x10000 for the 48-bit register order
        .set    READ_DMA, 0xE0C8
        .set    WRITE_DMA, 0xE0CA
        .set    READ_DMA_EXT, 0x14025
        .set    WRITE_DMA_EXT, 0x14035
        .set    READ_SECTORS, 0xE020
        .set    WRITE_SECTORS, 0xE030
        .set    READ_SECTORS_EXT, 0x14024
        .set    WRITE_SECTORS_EXT, 0x14034
        .set    READ_MULTIPLE, 0xE0C4
        .set    WRITE_MULTIPLE, 0xE0C5

// 'a' uses the same guards, checksums and IDE_OUT/IDE_IN/IDE_IDENT/IDE_CDB buffers, and these
// (see `ahci`):
        .set    AHCI_CFG, 0x80001800      // 00:03.0 ICH9 AHCI
        .set    ABAR, 0xFEB00000          // where the guest puts BAR5 (8 KiB), below the I/O APIC
        .set    AHCI_CL, 0xD00000         // command lists, 1 KiB a port
        .set    AHCI_FB, 0xD01800         // FIS receive areas, 256 bytes a port
        .set    AHCI_CT, 0xD10000         // command tables, 4 KiB a slot
        .set    AHCI_BIG, 0xE00000        // a table of 65535 PRDs (1 MiB + 128 bytes)
        .set    AHCI_DISK_SECTORS, 16384  // the test's sparse disk image: 8 MiB of zeros
        .set    AHCI_LAST, AHCI_DISK_SECTORS - 1
        .set    AHCI_FUZZ_COUNT, 192
        .set    AHCI_IN_BYTES, 0x3000     // what reads check of IDE_IN: 4 KiB, 8 KiB margin
        .set    CUR_PX, VARS + 0x440      // the port in use: its registers, list, FIS area
        .set    CUR_CL, VARS + 0x444
        .set    CUR_FB, VARS + 0x448
        .set    BLANK_DISK, VARS + 0x44C  // pattern kind 0 is zeros, not the sector number
        .set    AHCI_PRDTL, VARS + 0x450  // PRDs in the table at AHCI_CT (ahci_table_issue)
        // Port registers, PxIS and PxCMD bits.
        .set    PX_CLB, 0x00
        .set    PX_CLBU, 0x04
        .set    PX_FB, 0x08
        .set    PX_FBU, 0x0C
        .set    PX_IS, 0x10
        .set    PX_IE, 0x14
        .set    PX_CMD, 0x18
        .set    PX_TFD, 0x20
        .set    PX_SIG, 0x24
        .set    PX_SSTS, 0x28
        .set    PX_SCTL, 0x2C
        .set    PX_SERR, 0x30
        .set    PX_SACT, 0x34
        .set    PX_CI, 0x38
        .set    IS_DHRS, 1 << 0
        .set    IS_SDBS, 1 << 3
        .set    IS_OFS, 1 << 24
        .set    IS_IFS, 1 << 27
        .set    IS_HBFS, 1 << 29
        .set    IS_TFES, 1 << 30
        .set    IS_SEEN, IS_TFES | IS_HBFS | IS_IFS | IS_OFS | IS_SDBS | IS_DHRS
        .set    CMD_ST, 1 << 0
        .set    CMD_FRE, 1 << 4
        .set    CMD_FR, 1 << 14
        .set    CMD_CR, 1 << 15
        .set    HDR_A, 1 << 5             // command header: ATAPI
        .set    H2D, 0x8027               // FIS dword 0: Register Host-to-Device, C set
// Command header DW0 with CFL 5 and `prdtl` PRDs; a command FIS's dword 0 with the command and
// features 7:0; a port's state after a command (ahci_outcome): PxIS bits (IS_SEEN), PxTFD,
// PxCI not zero, PxSACT not zero.
#define HDR(prdtl) (5 | (prdtl) << 16)
#define H2D_CMD(command) (H2D | (command) << 16)
#define H2D_FEAT(command, features) (H2D | (command) << 16 | (features) << 24)
#define AHCI_OUT(is, tfd, ci, sact) ((is) | (tfd) << 32 | (ci) << 48 | (sact) << 49)

        .set    PCI_ENABLE, 0x80000000
        .set    ISA_CFG, 0x80000800       // 00:01.0 PIIX3
        .set    VGA_CFG, 0x80001000       // 00:02.0 std VGA
        .set    OTHER_BUS_DEVFNS, 24      // buses 1 and 255: slots 0-2, where bus 0 has devices
        .set    KNOWN_COUNT, 6            // functions on bus 0: see known_devfns
        .set    FW_SEL, 0x510
        .set    FW_DATA, 0x511
        .set    FW_DMA_HIGH, 0x514
        .set    FW_DMA_LOW, 0x518
        .set    DMA_ERROR, 1
        .set    DMA_READ, 2
        .set    DMA_SKIP, 4
        .set    DMA_SELECT, 8
        .set    DMA_WRITE, 0x10
        .set    DMA_FUZZ_COUNT, 512
        .set    VGA_FUZZ_COUNT, 6000
        .set    GFX_FUZZ_COUNT, 20000
        .set    GFX_PROBE, 0xA1234        // where 'g' checks the planes afterwards
        .set    SVGA_CFG, 0x80001000      // 00:02.0 with --vga vmware
        .set    SVGA_IO, 0xC100           // BAR 0: index at +0, value at +1, IRQ status at +8
        .set    SVGA_FB, 0xE0000000       // BAR 1
        .set    SVGA_FIFO, 0xE8000000     // BAR 2
        .set    SVGA_FIFO_BYTES, 0x40000
        .set    SVGA_RING_START, 0x1000   // MIN: room for all 291 FIFO registers
        .set    SVGA_RING_END, 0x11000    // MAX: a 64 KiB ring
        .set    SVGA_FUZZ_COUNT, 200
        .set    SVGA_BAD_RINGS, 11
        .set    SVGA_REG_ID, 0
        .set    SVGA_REG_ENABLE, 1
        .set    SVGA_REG_WIDTH, 2
        .set    SVGA_REG_HEIGHT, 3
        .set    SVGA_REG_BPP, 7
        .set    SVGA_REG_FB_START, 13
        .set    SVGA_REG_MEM_START, 18
        .set    SVGA_REG_MEM_SIZE, 19
        .set    SVGA_REG_CONFIG_DONE, 20
        .set    SVGA_REG_SYNC, 21
        .set    SVGA_REG_BUSY, 22
        .set    SVGA_REG_CURSOR_X, 25
        .set    SVGA_REG_CURSOR_Y, 26
        .set    SVGA_REG_CURSOR_ON, 27
        .set    SVGA_REG_PITCHLOCK, 32
        .set    SVGA_REG_IRQMASK, 33
        .set    SVGA_CMD_UPDATE, 1
        .set    SVGA_CMD_RECT_FILL, 2
        .set    SVGA_CMD_RECT_COPY, 3
        .set    SVGA_CMD_RECT_ROP_COPY, 14
        .set    SVGA_CMD_DEFINE_CURSOR, 19
        .set    SVGA_CMD_DEFINE_ALPHA_CURSOR, 22
        .set    SVGA_CMD_UPDATE_VERBOSE, 25
        .set    SVGA_CMD_FENCE, 30
        .set    SVGA_CMD_ESCAPE, 33
        .set    SVGA_CMD_NOP, 45

// fw_cfg DMA control word: select `key`, then do `ops`.
#define SEL(key, ops) (((key) << 16) | DMA_SELECT | (ops))

        .code64
        .text
        .globl _start
_start:
image_start:                              // local: `lea _start(%rip)` would need a relocation
        cli
        cld
        mov     $0x80000, %esp            // a stack in conventional memory
        mov     $0x2545F491, %r8d        // xorshift32 state
        lea     image_end(%rip), %rax
        testb   $0x20, (%rax)             // upper case: no fuzzing
        jz      report
        cmpb    $'d', (%rax)
        je      devices
        cmpb    $'i', (%rax)
        je      storage
        cmpb    $'a', (%rax)
        je      ahci
        cmpb    $'g', (%rax)
        je      graphics
        cmpb    $'w', (%rax)
        je      svga

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
        call    com1_init
        lea     marker(%rip), %rsi
        call    puts

finish:
        lea     image_end(%rip), %rax
        movzbl  (%rax), %eax
        or      $0x20, %al                // the action, in lower case
        cmp     $'p', %al
        je      power_off
        cmp     $'d', %al
        je      power_off
        cmp     $'i', %al
        je      power_off
        cmp     $'a', %al
        je      power_off
        cmp     $'g', %al
        je      power_off
        cmp     $'w', %al
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

// ---- 'd': the PCI bus, fw_cfg and the VGA under attack -----------------------------------
// The exit budget matters: each port access or unmapped MMIO access costs ~60 us in the nested
// test box, so bulk traffic goes through string I/O where one exit carries a page of accesses.
devices:
        call    guards
        call    apic_versions
        mov     %rax, APIC_VERSIONS

        call    pci_phase
        lea     pci_name(%rip), %rsi
        call    phase_report
        call    fwcfg_phase
        lea     fwcfg_name(%rip), %rsi
        call    phase_report
        call    vga_phase
        lea     vga_name(%rip), %rsi
        call    phase_report
        jmp     report

// ---- PCI ---------------------------------------------------------------------------------
pci_phase:
        // The address register keeps enable, bus, device, function and register bits only.
        mov     $0xFFFFFFFF, %eax
        call    pci_set
        mov     $0xCF8, %edx
        in      %dx, %eax
        mov     $0x80FFFFFC, %edx
        mov     $0x101, %edi
        call    expect
        // The known functions are where the platform puts them; remember their read-only fields.
        mov     $SNAP_BEFORE, %ebx
        call    pci_snapshot
        lea     known_ids(%rip), %rsi
        xor     %ecx, %ecx
1:      mov     SNAP_BEFORE(,%rcx,4), %eax
        mov     (%rsi), %edx
        mov     $0x102, %edi
        call    expect
        add     $4, %rsi
        add     $5, %ecx
        cmp     $5 * KNOWN_COUNT, %ecx
        jb      1b
        // Enable bit clear, or another bus: nothing answers.
        xor     %eax, %eax
        call    pci_read
        mov     $0xFFFFFFFF, %edx
        mov     $0x103, %edi
        call    expect
        mov     $0x80010000, %eax
        call    pci_read
        mov     $0x104, %edi
        call    expect

        // 1. Every register of every devfn on bus 0 (and of slots 0-2 on buses 1 and 255): with
        //    the enable bit clear, a random write and read of random width and byte lane; with it
        //    set, a dword read and a random write. Absent functions must read as all ones.
        mov     $PRESENT, %edi
        mov     $256, %ecx
        xor     %eax, %eax
        call    fill_bytes
        movl    $0, PRESENT_COUNT
        lea     bus_table(%rip), %r12
        mov     $3, %r13d
pci_bus_loop:
        mov     (%r12), %ebx              // bus << 16
        mov     4(%r12), %r14d            // how many devfns
        xor     %r15d, %r15d
pci_function_loop:
        mov     %r15d, %ebp
        shl     $8, %ebp
        or      %ebx, %ebp                // the function's address, enable bit clear
        mov     %ebp, %eax
        or      $PCI_ENABLE, %eax
        call    pci_read
        xor     %r10d, %r10d
        cmp     $0xFFFFFFFF, %eax
        setne   %r10b                     // present
        test    %ebx, %ebx
        jz      1f
        mov     $0xFFFFFFFF, %edx         // buses 1 and 255 have nothing
        mov     $0x110, %edi
        call    expect
        jmp     2f
1:      test    %r10d, %r10d
        jz      2f
        movb    $1, PRESENT(%r15)
        incl    PRESENT_COUNT
2:      xor     %r11d, %r11d
pci_register_loop:
        mov     %ebp, %eax
        or      %r11d, %eax
        call    pci_set
        call    pci_random_write
        call    pci_random_read           // enable clear: all ones, whatever the width
        mov     $1, %edx
        mov     $0x111, %edi
        call    expect
        mov     %ebp, %eax
        or      %r11d, %eax
        or      $PCI_ENABLE, %eax
        call    pci_set
        mov     $0xCFC, %edx
        in      %dx, %eax
        test    %r10d, %r10d
        jnz     3f
        mov     $0xFFFFFFFF, %edx
        mov     $0x112, %edi
        call    expect
3:      call    pci_random_write
        add     $4, %r11d
        cmp     $0x100, %r11d
        jb      pci_register_loop
        inc     %r15d
        cmp     %r14d, %r15d
        jb      pci_function_loop
        add     $8, %r12
        dec     %r13d
        jnz     pci_bus_loop

        // Exactly the known functions answered on bus 0: none aliased to another devfn.
        mov     PRESENT_COUNT, %eax
        mov     $KNOWN_COUNT, %edx
        mov     $0x120, %edi
        call    expect
        lea     known_devfns(%rip), %rsi
        mov     $KNOWN_COUNT, %ecx
1:      movzbl  (%rsi), %eax
        movzbl  PRESENT(%rax), %eax
        mov     $1, %edx
        mov     $0x121, %edi
        call    expect
        inc     %rsi
        dec     %ecx
        jnz     1b

        // 2. The known functions again, every register through every byte lane and width, then
        //    the misaligned accesses, which must be refused (read as ones).
        lea     known_devfns(%rip), %r12
        mov     $KNOWN_COUNT, %r13d
1:      movzbl  (%r12), %ebp
        shl     $8, %ebp
        or      $PCI_ENABLE, %ebp
        xor     %r11d, %r11d
2:      mov     %ebp, %eax
        or      %r11d, %eax
        call    pci_set
        call    pci_lanes
        add     $4, %r11d
        cmp     $0x100, %r11d
        jb      2b
        inc     %r12
        dec     %r13d
        jnz     1b
        call    pci_restore
        mov     $SNAP_AFTER, %ebx
        call    pci_snapshot
        mov     $0x130, %edi
        call    pci_compare_snapshots
        mov     $0x138, %edi
        call    check_sums

        // 3. VGA BAR 0 (16 MiB, prefetchable). Sizing first.
        mov     $VGA_CFG | 0x10, %eax
        mov     $0xFFFFFFFF, %ecx
        call    pci_write
        mov     $VGA_CFG | 0x10, %eax
        call    pci_read
        mov     $0xFF000008, %edx
        mov     $0x140, %edi
        call    expect
        // Over RAM, the guest's code, the APICs and the top of the address space, with memory
        // decoding on and off: RAM must stay RAM and the APICs must stay the APICs.
        lea     bar_places(%rip), %r12
        lea     bar_places_end(%rip), %r13
bar_loop:
        xor     %ecx, %ecx
        call    vga_command
        mov     $VGA_CFG | 0x10, %eax
        mov     (%r12), %ecx
        call    pci_write
        mov     $VGA_CFG | 0x10, %eax
        call    pci_read
        mov     4(%r12), %edx
        mov     $0x141, %edi
        call    expect
        mov     $2, %ecx                  // memory decoding on
        call    vga_command
        mov     %eax, %ecx
        and     $0xFFFFFFF0, %ecx
        mov     (%rcx), %eax              // whatever is there now: RAM, an APIC, nothing
        mov     $0x142, %edi
        call    check_sums
        mov     $0x147, %edi
        call    check_apics
        xor     %ecx, %ecx
        call    vga_command
        mov     $0x149, %edi
        call    check_sums
        add     $8, %r12
        cmp     %r13, %r12
        jb      bar_loop

        // A legal place: the video memory appears there, keeps what is written to it, follows
        // the BAR when it moves and disappears when decoding is off.
        mov     $VGA_CFG | 0x10, %eax
        mov     $0xE0000000, %ecx
        call    pci_write
        mov     $2, %ecx
        call    vga_command
        mov     $0xE0000000, %edi
        mov     $1024, %ecx
        call    fill_random
        mov     $0xE0000000, %esi
        mov     $1024, %ecx
        call    checksum
        mov     %rax, SUM_VRAM
        mov     $0xE0FFFFF0, %ecx         // the last bytes of video memory
        movabs  $0x0123456789ABCDEF, %rax
        mov     %rax, (%rcx)
        not     %rax
        mov     %rax, 8(%rcx)
        mov     (%rcx), %rax
        movabs  $0x0123456789ABCDEF, %rdx
        mov     $0x150, %edi
        call    expect
        mov     $0x151, %edi
        call    vram_matches
        mov     $VGA_CFG | 0x10, %eax     // moved while decoding
        mov     $0xD0000000, %ecx
        call    pci_write
        mov     $0xD0000000, %esi
        mov     $0x152, %edi
        call    vram_matches_at
        mov     $0xE0000000, %ecx         // nothing left behind
        mov     (%rcx), %eax
        mov     $0xFFFFFFFF, %edx
        mov     $0x153, %edi
        call    expect
        xor     %ecx, %ecx
        call    vga_command
        mov     $0xD0000000, %ecx
        mov     (%rcx), %eax
        mov     $0xFFFFFFFF, %edx
        mov     $0x154, %edi
        call    expect
        mov     $2, %ecx
        call    vga_command
        mov     $0xD0000000, %esi
        mov     $0x155, %edi
        call    vram_matches_at
        mov     $VGA_CFG | 0x10, %eax     // right after the end of RAM
        mov     $RAM_END, %ecx
        call    pci_write
        mov     $RAM_END, %esi
        mov     $0x156, %edi
        call    vram_matches_at
        mov     $0x157, %edi
        call    check_sums
        mov     $VGA_CFG | 0x10, %eax     // address 0: not assigned, nothing decodes
        xor     %ecx, %ecx
        call    pci_write
        mov     $RAM_END, %ecx
        mov     (%rcx), %eax
        mov     $0xFFFFFFFF, %edx
        mov     $0x15C, %edi
        call    expect
        xor     %ecx, %ecx
        call    vga_command

        // 4. The expansion ROM BAR: sized or absent, and wherever it is enabled, reading it
        //    gives the ROM or floats (0 or ones).
        mov     $VGA_CFG | 0x30, %eax
        mov     $0xFFFFFFFE, %ecx
        call    pci_write
        mov     $VGA_CFG | 0x30, %eax
        call    pci_read
        and     $0x7FF, %eax              // reserved bits, and enable was written 0
        xor     %edx, %edx
        mov     $0x160, %edi
        call    expect
        lea     rom_places(%rip), %r12
        lea     rom_places_end(%rip), %r13
rom_loop:
        xor     %ecx, %ecx
        call    vga_command
        mov     $VGA_CFG | 0x30, %eax
        mov     (%r12), %ecx
        call    pci_write
        mov     $2, %ecx
        call    vga_command
        cmpl    $0, 4(%r12)
        je      1f
        mov     (%r12), %ecx
        and     $0xFFFFF800, %ecx
        mov     (%rcx), %eax
        cmp     $0xFFFFFFFF, %eax
        je      1f
        test    %eax, %eax
        jz      1f
        cmp     $0xAA55, %ax
        je      1f
        mov     $0xFFFFFFFF, %edx
        mov     $0x161, %edi
        call    expect
1:      mov     $0x162, %edi
        call    check_sums
        mov     $0x167, %edi
        call    check_apics
        add     $8, %r12
        cmp     %r13, %r12
        jb      rom_loop
        xor     %ecx, %ecx
        call    vga_command
        mov     $VGA_CFG | 0x30, %eax
        call    pci_write

        // 5. PIRQ routing with random values while no function asserts INTx: the registers
        //    keep bits 7 and 3-0, through dword and byte writes alike.
        mov     $64, %r13d
pirq_loop:
        call    next_random
        mov     %eax, %ecx
        mov     $ISA_CFG | 0x60, %eax
        call    pci_write
        mov     %ecx, %r9d
        and     $0x8F8F8F8F, %r9d
        mov     $ISA_CFG | 0x60, %eax
        call    pci_read
        mov     %r9d, %edx
        mov     $0x170, %edi
        call    expect
        call    next_random               // one byte lane
        mov     %eax, %r10d
        mov     %r10d, %edx
        and     $3, %edx
        add     $0xCFC, %edx
        shr     $8, %eax
        out     %al, %dx
        mov     %r10d, %ecx
        and     $3, %ecx
        shl     $3, %ecx
        mov     $0xFF, %eax
        shl     %cl, %eax
        not     %eax
        and     %eax, %r9d
        mov     %r10d, %eax
        shr     $8, %eax
        and     $0x8F, %eax
        shl     %cl, %eax
        or      %eax, %r9d
        mov     $ISA_CFG | 0x60, %eax
        call    pci_read
        mov     %r9d, %edx
        mov     $0x171, %edi
        call    expect
        dec     %r13d
        jnz     pirq_loop

        // 6. The wrong widths at the address register (a byte at 0xCF9 is the reset register,
        //    which only sees a read here).
        mov     $0xCF8, %edx
        mov     $0xFF, %al
        out     %al, %dx
        mov     $0xFFFF, %ax
        out     %ax, %dx
        in      %dx, %al
        in      %dx, %ax
        mov     $0xCFA, %edx
        out     %ax, %dx
        in      %dx, %ax
        mov     $0xCFB, %edx
        out     %al, %dx
        in      %dx, %al
        mov     $0xCF9, %edx
        in      %dx, %al

        call    pci_restore
        mov     $SNAP_AFTER, %ebx
        call    pci_snapshot
        mov     $0x180, %edi
        call    pci_compare_snapshots
        mov     $0x188, %edi
        call    check_sums
        mov     $0x18D, %edi
        call    check_apics
        ret

// ---- fw_cfg ------------------------------------------------------------------------------
fwcfg_phase:
        // The id item says DMA is there (bit 1).
        mov     $1, %eax
        call    fw_select
        mov     $FW_DATA, %edx
        in      %dx, %al
        and     $2, %eax
        mov     $2, %edx
        mov     $0x201, %edi
        call    expect

        // 1. Control structures in RAM whose targets are outside it, straddle its end, wrap
        //    near 2^64, or which ask for writes and skips: the control word must come back 0 or
        //    with the error bit, as each case says.
        lea     dma_cases(%rip), %r12
        lea     dma_cases_end(%rip), %r13
        mov     $0x210, %ebp
1:      mov     $DMA_ACCESS, %edi
        mov     (%r12), %esi
        mov     4(%r12), %edx
        mov     12(%r12), %ecx
        shl     $32, %rcx
        mov     8(%r12), %eax
        or      %rax, %rcx
        call    dma_run
        mov     16(%r12), %edx
        mov     %ebp, %edi
        call    expect
        add     $20, %r12
        inc     %ebp
        cmp     %r13, %r12
        jb      1b
        mov     $0x240, %edi
        call    check_sums

        // 2. What must work: the signature and id into RAM, the last 16 bytes of RAM as the
        //    control structure, oversized reads that zero-fill exactly the length asked for.
        mov     $DMA_TARGET, %edi
        mov     $64, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        mov     $DMA_ACCESS, %edi
        mov     $SEL(0, DMA_READ), %esi
        mov     $4, %edx
        mov     $DMA_TARGET, %ecx
        call    dma_run
        xor     %edx, %edx
        mov     $0x250, %edi
        call    expect
        mov     DMA_TARGET, %eax
        mov     $0x554D4551, %edx         // "QEMU"
        mov     $0x251, %edi
        call    expect
        movzbl  DMA_TARGET + 4, %eax
        mov     $0xAA, %edx
        mov     $0x252, %edi
        call    expect
        mov     $DMA_ACCESS, %edi
        mov     $SEL(1, DMA_READ), %esi
        mov     $4, %edx
        mov     $DMA_TARGET, %ecx
        call    dma_run
        mov     DMA_TARGET, %eax
        and     $2, %eax
        mov     $2, %edx
        mov     $0x253, %edi
        call    expect
        mov     $RAM_END - 16, %edi
        mov     $SEL(0, DMA_READ), %esi
        mov     $4, %edx
        mov     $DMA_TARGET + 8, %ecx
        call    dma_run
        xor     %edx, %edx
        mov     $0x254, %edi
        call    expect
        mov     DMA_TARGET + 8, %eax
        mov     $0x554D4551, %edx
        mov     $0x255, %edi
        call    expect

        // The file directory, 1 MiB of it: the count, the entries, then zeros up to the length
        // and not a byte further.
        mov     $0x19, %esi
        mov     $0x256, %edi
        call    oversized_read
        mov     DMA_TARGET, %eax
        bswap   %eax
        mov     %eax, %ecx
        cmp     $48, %eax
        jbe     1f
        mov     $48, %edx                 // at most 48 files
        mov     $0x259, %edi
        call    expect
        xor     %ecx, %ecx
1:      shl     $6, %ecx
        add     $4, %ecx                  // the directory's size
        lea     DMA_TARGET(%rcx), %rdi
        neg     %ecx
        add     $DMA_TARGET_BYTES, %ecx
        xor     %eax, %eax
        call    bytes_equal
        xor     %edx, %edx
        mov     $0x25A, %edi
        call    expect
        // Keys with no item: all zeros.
        mov     $0x1234, %esi
        mov     $0x25B, %edi
        call    oversized_read
        mov     $0xFFFF, %esi
        mov     $0x260, %edi
        call    oversized_read
        mov     $0x7FFF, %esi
        mov     $0x265, %edi
        call    oversized_read

        // Skips move through the item and stop at its end; their address is never used.
        mov     $DMA_ACCESS, %edi
        mov     $SEL(0, DMA_SKIP), %esi
        mov     $2, %edx
        mov     $-1, %rcx
        call    dma_run
        xor     %edx, %edx
        mov     $0x26A, %edi
        call    expect
        mov     $DMA_ACCESS, %edi
        mov     $DMA_READ, %esi
        mov     $2, %edx
        mov     $DMA_TARGET, %ecx
        call    dma_run
        movzwl  DMA_TARGET, %eax
        mov     $0x554D, %edx             // "MU"
        mov     $0x26B, %edi
        call    expect
        mov     $DMA_ACCESS, %edi
        mov     $DMA_SKIP, %esi
        mov     $0xFFFFFFFF, %edx
        xor     %ecx, %ecx
        call    dma_run
        xor     %edx, %edx
        mov     $0x26C, %edi
        call    expect
        mov     $DMA_ACCESS, %edi
        mov     $DMA_READ, %esi
        mov     $4, %edx
        mov     $DMA_TARGET, %ecx
        call    dma_run
        mov     DMA_TARGET, %eax
        xor     %edx, %edx
        mov     $0x26D, %edi
        call    expect
        // A read over its own control structure.
        mov     $DMA_ACCESS, %edi
        mov     $SEL(0, DMA_READ), %esi
        mov     $16, %edx
        mov     $DMA_ACCESS, %ecx
        call    dma_run
        xor     %edx, %edx
        mov     $0x26E, %edi
        call    expect
        mov     DMA_ACCESS + 8, %rax
        mov     $0x26F, %edi
        call    expect

        // 3. Control structures outside RAM: ignored, nothing written anywhere.
        lea     outside_structures(%rip), %r12
        lea     outside_structures_end(%rip), %r13
1:      mov     (%r12), %rdi
        call    dma_start
        add     $8, %r12
        cmp     %r13, %r12
        jb      1b
        // Straddling the end of RAM: the 8 (then 4) bytes inside it ask for the signature, and
        // must stay as they are.
        mov     $RAM_END - 8, %edi
        movl    $0x0A000000, (%rdi)       // be32 select 0 | read
        movl    $0x04000000, 4(%rdi)      // be32 4
        call    dma_start
        mov     (%rdi), %rax
        movabs  $0x040000000A000000, %rdx
        mov     $0x270, %edi
        call    expect
        mov     $RAM_END - 4, %edi
        movl    $0x0A000000, (%rdi)
        call    dma_start
        mov     (%rdi), %eax
        mov     $0x0A000000, %edx
        mov     $0x271, %edi
        call    expect
        mov     $0x272, %edi
        call    check_sums_but_ram_end
        call    save_sums                 // the last page of RAM changed on purpose

        // 4. With the video memory right after RAM: a control structure in it is not RAM (not
        //    run, not written), and neither is a target in it or one straddling into it.
        mov     $VGA_CFG | 0x10, %eax
        mov     $RAM_END, %ecx
        call    pci_write
        mov     $2, %ecx
        call    vga_command
        mov     $RAM_END, %edi
        mov     $1024, %ecx
        call    fill_random
        mov     $DMA_TARGET, %edi
        mov     $64, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        mov     $RAM_END, %edi
        mov     $SEL(0, DMA_READ), %esi
        mov     $4, %edx
        mov     $DMA_TARGET, %ecx
        call    put_access
        mov     $RAM_END, %esi
        mov     $1024, %ecx
        call    checksum
        mov     %rax, SUM_VRAM
        call    dma_start
        mov     $DMA_TARGET, %edi
        mov     $64, %ecx
        mov     $0xAA, %al
        call    bytes_equal
        xor     %edx, %edx
        mov     $0x280, %edi
        call    expect
        mov     $RAM_END, %esi
        mov     $0x281, %edi
        call    vram_matches_at
        mov     $DMA_ACCESS, %edi
        mov     $SEL(0, DMA_READ), %esi
        mov     $4, %edx
        mov     $RAM_END, %ecx
        call    dma_run
        mov     $DMA_ERROR, %edx
        mov     $0x282, %edi
        call    expect
        mov     $DMA_ACCESS, %edi
        mov     $SEL(0, DMA_READ), %esi
        mov     $0x20, %edx
        mov     $RAM_END - 16, %ecx
        call    dma_run
        mov     $DMA_ERROR, %edx
        mov     $0x283, %edi
        call    expect
        mov     $RAM_END, %esi
        mov     $0x284, %edi
        call    vram_matches_at
        mov     $0x285, %edi
        call    check_sums
        mov     $VGA_CFG | 0x10, %eax
        xor     %ecx, %ecx
        call    pci_write
        call    vga_command

        // 5. The data port, 128 Ki reads of the 4-byte signature: the item, then zeros.
        mov     $DMA_TARGET, %edi
        mov     $0x21000, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        xor     %eax, %eax
        call    fw_select
        mov     $DMA_TARGET, %edi
        mov     $FW_DATA, %edx
        mov     $0x20000, %ecx
        rep insb
        mov     DMA_TARGET, %eax
        mov     $0x554D4551, %edx
        mov     $0x290, %edi
        call    expect
        mov     $DMA_TARGET + 4, %edi
        mov     $0x20000 - 4, %ecx
        xor     %eax, %eax
        call    bytes_equal
        xor     %edx, %edx
        mov     $0x291, %edi
        call    expect
        mov     $DMA_TARGET + 0x20000, %edi
        mov     $0x1000, %ecx
        mov     $0xAA, %al
        call    bytes_equal
        xor     %edx, %edx
        mov     $0x292, %edi
        call    expect
        // Wrong widths read as ones; the DMA register reads "QEMU CFG"; the selector floats.
        mov     $FW_DATA, %edx
        xor     %eax, %eax
        in      %dx, %ax
        mov     $0xFFFF, %edx
        mov     $0x293, %edi
        call    expect
        mov     $FW_DATA, %edx
        in      %dx, %eax
        mov     $0xFFFFFFFF, %edx
        mov     $0x294, %edi
        call    expect
        mov     $FW_DMA_HIGH, %edx
        in      %dx, %eax
        mov     $0x554D4551, %edx
        mov     $0x295, %edi
        call    expect
        mov     $FW_DMA_LOW, %edx
        in      %dx, %eax
        mov     $0x47464320, %edx         // " CFG"
        mov     $0x296, %edi
        call    expect
        mov     $FW_SEL, %edx
        xor     %eax, %eax
        in      %dx, %ax
        mov     $0xFFFF, %edx
        mov     $0x297, %edi
        call    expect
        // Selector writes of the wrong width do not select; nor do the other wrong accesses
        // start a transfer.
        xor     %eax, %eax
        call    fw_select
        mov     $FW_DATA, %edx
        in      %dx, %al                  // 'Q'
        mov     $FW_SEL, %edx
        mov     $1, %eax
        out     %al, %dx
        out     %eax, %dx
        mov     $FW_DATA, %edx
        out     %ax, %dx
        mov     $FW_DMA_HIGH, %edx
        out     %ax, %dx
        mov     $FW_DMA_LOW, %edx
        mov     $0x00008000, %eax         // as a byte or word: would be DMA at 0x80 in RAM
        out     %al, %dx
        out     %ax, %dx
        mov     $0x516, %edx
        out     %eax, %dx
        mov     $0x51B, %edx
        out     %eax, %dx
        mov     $FW_DATA, %edx
        xor     %eax, %eax
        in      %dx, %al
        mov     $'E', %edx
        mov     $0x298, %edi
        call    expect

        // 6. String I/O: 8 Ki random selections, 4 Ki data port writes and reads, 4 Ki writes
        //    to the high address half, then 4 Ki transfers started at addresses of 2 GiB and up.
        mov     $DMA_TARGET, %edi
        mov     $0x1000, %ecx
        call    fill_random
        mov     $DMA_TARGET, %esi
        mov     $FW_SEL, %edx
        mov     $0x2000, %ecx
        rep outsw
        mov     $DMA_TARGET, %esi
        mov     $FW_DATA, %edx
        mov     $0x1000, %ecx
        rep outsb
        mov     $DMA_TARGET + 0x4000, %edi
        mov     $0x1000, %ecx
        rep insb
        mov     $DMA_TARGET, %esi
        mov     $FW_DMA_HIGH, %edx
        mov     $0x1000, %ecx
        rep outsl
        mov     $DMA_TARGET, %edi
        mov     $0x1000, %ecx
1:      orb     $0x80, (%rdi)             // the big-endian address's top byte
        add     $4, %rdi
        dec     %ecx
        jnz     1b
        mov     $DMA_TARGET, %esi
        mov     $FW_DMA_LOW, %edx
        mov     $0x1000, %ecx
        rep outsl
        mov     $0x2A0, %edi
        call    check_sums

        // 7. Random control structures: random keys and operation bits, lengths from 0 to
        //    0xFFFFFFFF, targets in the scratch area, straddling the end of RAM, past it, at
        //    the APICs, near 2^64 and above 4 GiB; structures in RAM or outside it. Every
        //    control word in RAM must come back 0 or 1.
        mov     $DMA_FUZZ_COUNT, %r13d
dma_fuzz:
        call    next_random
        mov     %eax, %ebx                // choices
        call    next_random
        mov     %eax, %r14d               // address bits
        call    next_random
        mov     %eax, %r15d               // length bits
        mov     %ebx, %eax
        shr     $8, %eax
        and     $7, %eax
        lea     length_masks(%rip), %rcx
        mov     %r15d, %edx
        and     (%rcx,%rax,4), %edx
        lea     length_bases(%rip), %rcx
        or      (%rcx,%rax,4), %edx
        mov     %ebx, %eax
        and     $7, %eax
        cmp     $3, %eax
        jb      2f
        je      3f
        cmp     $5, %eax
        jb      4f
        je      5f
        cmp     $6, %eax
        je      6f
        mov     %r15d, %ecx               // above 4 GiB
        shl     $32, %rcx
        or      %r14, %rcx
        bts     $32, %rcx
        jmp     7f
2:      mov     %r14d, %ecx               // the scratch area: at most 49 MiB is written
        and     $0xFFFFF, %ecx
        add     $SCRATCH, %ecx
        jmp     7f
3:      mov     %r14d, %ecx               // up to 256 bytes before the end, 256 or more long
        and     $0xFF, %ecx
        neg     %ecx
        add     $RAM_END - 1, %ecx
        or      $0x100, %edx
        jmp     7f
4:      mov     %r14d, %ecx               // past the end of RAM
        and     $0xFFFFFF, %ecx
        add     $RAM_END, %ecx
        jmp     7f
5:      mov     %r14d, %ecx               // the APICs and the firmware area
        and     $0x1FFFFFF, %ecx
        add     $0xFE000000, %ecx
        jmp     7f
6:      mov     %r14d, %ecx               // the last 64 KiB below 2^64
        and     $0xFFFF, %ecx
        not     %rcx
7:      mov     %ebx, %eax                // the control word
        shr     $12, %eax
        and     $7, %eax
        lea     fuzz_keys(%rip), %rsi
        movzwl  (%rsi,%rax,2), %esi
        shl     $16, %esi
        mov     %ebx, %eax
        shr     $16, %eax
        and     $0x1F, %eax
        or      %eax, %esi
        test    $0x03000000, %ebx
        jz      8f
        mov     %ebx, %edi                // the structure in RAM
        shr     $20, %edi
        and     $0xFF0, %edi
        add     $DMA_ACCESS, %edi
        call    dma_run
        and     $~DMA_ERROR, %eax
        xor     %edx, %edx
        mov     $0x2B0, %edi
        call    expect
        jmp     9f
8:      mov     %r14d, %edi               // the structure past RAM
        shr     $8, %edi
        and     $0xFFFFF0, %edi
        add     $RAM_END - 8, %edi
        call    dma_start
9:      dec     %r13d
        jnz     dma_fuzz
        mov     $0x2B1, %edi
        call    check_sums

        // Still works.
        mov     $DMA_ACCESS, %edi
        mov     $SEL(0, DMA_READ), %esi
        mov     $4, %edx
        mov     $DMA_TARGET, %ecx
        call    dma_run
        xor     %edx, %edx
        mov     $0x2C0, %edi
        call    expect
        mov     DMA_TARGET, %eax
        mov     $0x554D4551, %edx
        mov     $0x2C1, %edi
        call    expect
        ret

// Selects key %esi and reads 1 MiB of it by DMA into DMA_TARGET, which is filled with 0xAA
// first: the control word must come back 0 and the 4 KiB after the buffer keep 0xAA. An item
// other than the directory (0x19) must read as all zeros. Checks %edi to %edi + 4.
oversized_read:
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %rbx
        mov     %edi, %ebx
        mov     %esi, %eax
        mov     $DMA_TARGET, %edi
        mov     $DMA_TARGET_BYTES + 0x1000, %ecx
        push    %rax
        mov     $0xAA, %al
        call    fill_bytes
        pop     %rax
        shl     $16, %esi
        or      $DMA_SELECT | DMA_READ, %esi
        mov     $DMA_ACCESS, %edi
        mov     $DMA_TARGET_BYTES, %edx
        mov     $DMA_TARGET, %ecx
        push    %rax
        call    dma_run
        xor     %edx, %edx
        mov     %ebx, %edi
        call    expect
        mov     $DMA_TARGET + DMA_TARGET_BYTES, %edi
        mov     $0x1000, %ecx
        mov     $0xAA, %al
        call    bytes_equal
        lea     1(%rbx), %edi
        call    expect
        pop     %rax
        cmp     $0x19, %eax
        je      1f
        mov     $DMA_TARGET, %edi
        mov     $DMA_TARGET_BYTES, %ecx
        xor     %eax, %eax
        call    bytes_equal
        lea     2(%rbx), %edi
        call    expect
1:      pop     %rbx
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        ret

// ---- VGA ---------------------------------------------------------------------------------
vga_phase:
        // 1. Random accesses of every width to 0x3B0-0x3DF and to the dispi pair 0x1CE/0x1CF.
        mov     $VGA_FUZZ_COUNT, %r13d
vga_fuzz:
        call    next_random
        mov     %eax, %ebx
        test    $7, %bl
        jnz     1f
        mov     %ebx, %edx                // 1 in 8: dispi
        shr     $3, %edx
        and     $1, %edx
        add     $0x1CE, %edx
        jmp     2f
1:      mov     %ebx, %edx
        shr     $3, %edx
        and     $0x3F, %edx
        cmp     $0x30, %edx
        jb      3f
        sub     $0x10, %edx
3:      add     $0x3B0, %edx
2:      call    next_random               // the value
        cmp     $0x1CE, %edx
        jne     4f
        test    $0x100, %ebx
        jnz     4f
        and     $0xF, %eax                // mostly an index that names a register
4:      mov     %ebx, %ecx
        shr     $9, %ecx
        and     $3, %ecx
        test    $0x800, %ebx
        jnz     vga_fuzz_read
        test    %ecx, %ecx
        jz      5f
        cmp     $3, %ecx
        je      6f
        out     %ax, %dx
        jmp     vga_fuzz_next
5:      out     %al, %dx
        jmp     vga_fuzz_next
6:      out     %eax, %dx
        jmp     vga_fuzz_next
vga_fuzz_read:
        test    %ecx, %ecx
        jz      5f
        cmp     $3, %ecx
        je      6f
        in      %dx, %ax
        jmp     vga_fuzz_next
5:      in      %dx, %al
        jmp     vga_fuzz_next
6:      in      %dx, %eax
vga_fuzz_next:
        dec     %r13d
        jnz     vga_fuzz

        // 2. Bochs VBE mode sets, the huge ones refused, the rest kept inside video memory.
        .macro  DISPI index, value
        mov     $\index, %ecx
        mov     $\value, %eax
        call    dispi_write
        .endm
        .macro  DISPI_EXPECT index, want, check
        mov     $\index, %ecx
        call    dispi_read
        mov     $\want, %edx
        mov     $\check, %edi
        call    expect
        .endm
        DISPI   4, 0
        DISPI   0, 0xB0C5
        DISPI_EXPECT 0, 0xB0C5, 0x301
        DISPI   0, 0x1234                 // no such interface revision: ignored
        DISPI_EXPECT 0, 0xB0C5, 0x302
        DISPI_EXPECT 0xA, 256, 0x303      // 16 MiB of video memory in 64 KiB units
        DISPI   1, 16000                  // 16000 x 12000 x 32 bpp: 732 MiB, refused
        DISPI   2, 12000
        DISPI   3, 32
        DISPI   4, 0x41
        DISPI_EXPECT 4, 0x40, 0x304
        DISPI   1, 0xFFFF                 // beyond the limits: ignored
        DISPI_EXPECT 1, 16000, 0x305
        DISPI   3, 7
        DISPI_EXPECT 3, 32, 0x306
        DISPI   3, 4                      // 4 bpp: still 91 MiB, refused
        DISPI   4, 1
        DISPI_EXPECT 4, 0, 0x307
        DISPI   1, 2048                   // 2048 x 2048 x 32 bpp fills video memory exactly
        DISPI   2, 2048
        DISPI   3, 32
        DISPI   4, 0x41
        DISPI_EXPECT 4, 0x41, 0x308
        DISPI   1, 8                      // locked while enabled
        DISPI_EXPECT 1, 2048, 0x309
        DISPI   6, 0xFFFF                 // no wider or taller virtual screen fits
        DISPI_EXPECT 6, 2048, 0x30A
        DISPI   7, 0xFFFF
        DISPI_EXPECT 7, 2048, 0x30B
        DISPI   9, 0xFFFF                 // panning past the end: refused
        DISPI_EXPECT 9, 0, 0x30C
        DISPI   8, 1
        DISPI_EXPECT 8, 0, 0x30D
        DISPI   6, 0                      // narrower than the screen: clamped
        DISPI_EXPECT 6, 2048, 0x30E
        DISPI   5, 0xFFFF                 // no such bank
        mov     $5, %ecx
        call    dispi_read
        and     $0xFF00, %eax
        xor     %edx, %edx
        mov     $0x30F, %edi
        call    expect
        DISPI   4, 0                      // the limits, as GETCAPS reports them
        DISPI   4, 2
        DISPI_EXPECT 1, 16000, 0x310
        DISPI_EXPECT 2, 12000, 0x311
        DISPI_EXPECT 3, 32, 0x312
        DISPI   4, 0
        DISPI   1, 640                    // an ordinary mode, panned
        DISPI   2, 480
        DISPI   3, 8
        DISPI   4, 1
        DISPI_EXPECT 4, 1, 0x313
        DISPI   9, 100
        DISPI_EXPECT 9, 100, 0x314
        DISPI   4, 0
        mov     $0x1CE, %edx              // byte and dword accesses to the dispi ports: refused
        xor     %eax, %eax
        in      %dx, %al
        mov     $0xFF, %edx
        mov     $0x315, %edi
        call    expect
        mov     $0x1CF, %edx
        in      %dx, %eax
        mov     $0xFFFFFFFF, %edx
        mov     $0x316, %edi
        call    expect
        mov     $0x1CF, %edx
        mov     $0x0041, %eax
        out     %eax, %dx
        out     %al, %dx
        mov     $4, %ecx
        call    dispi_read
        xor     %edx, %edx
        mov     $0x317, %edi
        call    expect

        // 3. The legacy registers still answer as a VGA's do.
        mov     $0x3C4, %edx              // a word write: sequencer index, then map mask
        mov     $0xFF02, %eax
        out     %ax, %dx
        mov     $0x3C5, %edx
        xor     %eax, %eax
        in      %dx, %al
        mov     $0x0F, %edx               // 4 bits of it
        mov     $0x320, %edi
        call    expect
        mov     $0x3CE, %edx              // graphics controller bit mask
        mov     $0xA508, %eax
        out     %ax, %dx
        mov     $0x3CF, %edx
        xor     %eax, %eax
        in      %dx, %al
        mov     $0xA5, %edx
        mov     $0x321, %edi
        call    expect
        mov     $0x3C2, %edx              // colour I/O: the CRTC at 0x3D4
        mov     $0x67, %al
        out     %al, %dx
        mov     $0x3CC, %edx
        xor     %eax, %eax
        in      %dx, %al
        mov     $0x67, %edx
        mov     $0x322, %edi
        call    expect
        mov     $0x3D4, %edx
        mov     $0x3C0C, %eax             // start address high
        out     %ax, %dx
        mov     $0x3D5, %edx
        xor     %eax, %eax
        in      %dx, %al
        mov     $0x3C, %edx
        mov     $0x323, %edi
        call    expect
        mov     $0x3B5, %edx              // the monochrome CRTC is not there meanwhile
        xor     %eax, %eax
        in      %dx, %al
        mov     $0xFF, %edx
        mov     $0x324, %edi
        call    expect
        mov     $0x3C8, %edx              // a DAC entry, written and read back
        mov     $0x10, %al
        out     %al, %dx
        mov     $0x3C9, %edx
        mov     $0x3F, %al
        out     %al, %dx
        mov     $0x15, %al
        out     %al, %dx
        mov     $0x2A, %al
        out     %al, %dx
        mov     $0x3C7, %edx
        mov     $0x10, %al
        out     %al, %dx
        mov     $0x3C9, %edx
        xor     %eax, %eax
        in      %dx, %al
        mov     %eax, %ebx
        in      %dx, %al
        shl     $8, %eax
        or      %eax, %ebx
        xor     %eax, %eax
        in      %dx, %al
        shl     $16, %eax
        or      %ebx, %eax
        mov     $0x2A153F, %edx
        mov     $0x325, %edi
        call    expect
        mov     $0x3DD, %edx              // a dword running past 0x3DF: refused
        in      %dx, %eax
        mov     $0xFFFFFFFF, %edx
        mov     $0x326, %edi
        call    expect
        mov     $0x3C4, %edx
        mov     $0x0302, %eax
        out     %ax, %dx
        mov     $0x3CE, %edx
        mov     $0xFF08, %eax
        out     %ax, %dx

        // 4. A hostile text screen for the host's dump (vmctl -s) when the guest is gone: the
        //    largest geometry the registers can describe, a random start address, row stride
        //    and memory window, random characters all over the legacy window. The window
        //    first decodes all 128 KiB at 0xA0000 with plain odd/even writes, so the characters
        //    fill planes 0 and 1 whatever window the display then reads.
        mov     $0x3CE, %edx
        .irp    value, 0x0206, 0x1005, 0x0003, 0x0001, 0xFF08
        mov     $\value, %eax            // A0000 128K + odd/even; write mode 0; no rotate,
        out     %ax, %dx                  // no set/reset; bit mask all
        .endr
        mov     $0x3C4, %edx
        .irp    value, 0x0302, 0x0204
        mov     $\value, %eax            // planes 0 and 1; odd/even, not chain 4
        out     %ax, %dx
        .endr
        mov     $0xA0000, %edi
        mov     $0x8000, %ecx
        call    fill_random
        mov     $0x3D4, %edx
        .irp    value, 0x0011, 0xFF01, 0x4207, 0xFF12, 0x0009
        mov     $\value, %eax             // unprotect; 256 columns; 1024 lines of 1 scan line
        out     %ax, %dx
        .endr
        .irp    index, 0x0C, 0x0D, 0x0E, 0x0F, 0x13
        call    next_random               // start address, cursor, row stride
        shl     $8, %eax
        mov     $\index, %al
        out     %ax, %dx
        .endr
        call    next_random               // any memory window, still alphanumeric
        and     $0x0E, %eax
        shl     $8, %eax
        mov     $0x06, %al
        mov     $0x3CE, %edx
        out     %ax, %dx
        mov     $0x3DA, %edx              // attribute flip-flop to index
        in      %dx, %al
        mov     $0x3C0, %edx
        mov     $0x30, %al                // mode control, display owns the palette
        out     %al, %dx
        call    next_random
        and     $0xEE, %al                // text
        out     %al, %dx

        mov     $0x330, %edi
        call    check_sums
        mov     $0x335, %edi
        call    check_apics
        ret

// ---- 'g': the VGA's planes, registers and VBE modes under random traffic ------------------
// Random writes to the graphics controller, sequencer, CRTC, attribute controller and Bochs VBE
// registers, between random reads and writes of every width in the 128 KiB window, short string
// moves and stores in it, and accesses that straddle its ends (0x9FFFF/0xA0000 and
// 0xBFFFF/0xC0000), while the test takes screenshots (SIGUSR1) of whatever the registers say.
// "GFX-START" first: the test's cue. Then the planes must still work as a VGA's, a write read
// back at once included (checks 0x40xx), and no RAM outside the window may have changed; one
// line, "VGA-PLANES-OK" or "VGA-PLANES-FAIL ...".
graphics:
        call    guards
        call    apic_versions
        mov     %rax, APIC_VERSIONS
        mov     $VGA_CFG | 0x10, %eax     // BAR 0, the VBE framebuffer, above RAM
        mov     $0xE0000000, %ecx
        call    pci_write
        mov     $2, %ecx                  // memory decoding
        call    vga_command
        lea     gfx_start_text(%rip), %rsi
        call    puts
        mov     $GFX_FUZZ_COUNT, %r13d
gfx_fuzz:
        call    next_random
        mov     %eax, %ebx                // bits 0-4: what; 5-15: an index; 16-23: a value
        mov     %ebx, %ecx
        and     $0x1F, %ecx
        cmp     $4, %ecx
        jb      gfx_gc
        cmp     $6, %ecx
        jb      gfx_seq
        je      gfx_crtc
        cmp     $7, %ecx
        je      gfx_attr
        cmp     $8, %ecx
        je      gfx_vbe
        cmp     $9, %ecx
        je      gfx_straddle
        cmp     $10, %ecx
        je      gfx_string
        jmp     gfx_access
gfx_gc: mov     $0x3CE, %edx              // indices 0-15, 9-15 naming nothing
        mov     $0xF, %ecx
        jmp     gfx_indexed
gfx_seq:
        mov     $0x3C4, %edx
        mov     $0x7, %ecx
        jmp     gfx_indexed
gfx_crtc:
        mov     $0x3D4, %edx
        mov     $0x1F, %ecx
gfx_indexed:                              // one word write: the index, then its value
        mov     %ebx, %eax
        shr     $5, %eax
        and     %ecx, %eax
        mov     %ebx, %ecx
        shr     $16, %ecx
        mov     %cl, %ah
        out     %ax, %dx
        jmp     gfx_next
gfx_attr:
        mov     $0x3DA, %edx              // the flip-flop to index
        in      %dx, %al
        mov     $0x3C0, %edx
        mov     %ebx, %eax
        shr     $5, %eax
        and     $0x1F, %eax
        or      $0x20, %al                // the display keeps the palette
        out     %al, %dx
        mov     %ebx, %eax
        shr     $16, %eax
        out     %al, %dx
        jmp     gfx_next
gfx_vbe:
        mov     %ebx, %ecx
        shr     $5, %ecx
        and     $0xF, %ecx                // registers 0-9, 10-15 naming nothing
        mov     %ebx, %eax
        shr     $16, %eax
        cmp     $3, %ecx
        jne     1f
        test    $0x400, %ebx
        jz      1f
        mov     %ebx, %eax                // a depth the interface knows, half the time
        shr     $11, %eax
        and     $7, %eax
        lea     gfx_depths(%rip), %rsi
        movzbl  (%rsi,%rax), %eax
        jmp     2f
1:      test    $0x200, %ebx              // a size that may fit, half the time
        jz      2f
        and     $0x7FF, %eax
2:      call    dispi_write
        jmp     gfx_next
gfx_straddle:
        mov     %ebx, %eax
        shr     $5, %eax
        and     $7, %eax
        lea     gfx_edges(%rip), %rsi
        mov     (%rsi,%rax,4), %edi
        call    next_random
        test    $0x100, %ebx
        jz      1f
        mov     (%rdi), %rax
        jmp     gfx_next
1:      mov     %rax, (%rdi)
        jmp     gfx_next
gfx_string:                               // 16 bytes, maybe running on into RAM at 0xC0000
        mov     %ebx, %edi
        shr     $5, %edi
        and     $0x1FFFF, %edi
        add     $0xA0000, %edi
        mov     $16, %ecx
        test    $0x400000, %ebx
        jz      1f
        mov     %edi, %esi                // a move inside the window, overlapping or not
        xor     $0x18, %esi
        rep movsb
        jmp     gfx_next
1:      mov     %ebx, %eax
        rep stosb
        jmp     gfx_next
gfx_access:                               // bit 5: read; bits 6-7: the width
        call    next_random
        mov     %eax, %edi
        and     $0x1FFFF, %edi
        cmp     $0x1FFF8, %edi
        jb      1f
        sub     $8, %edi                  // the ends are gfx_straddle's
1:      add     $0xA0000, %edi
        call    next_random
        test    $0x20, %ebx
        jnz     gfx_read
        test    $0x40, %ebx
        jnz     2f
        test    $0x80, %ebx
        jnz     1f
        mov     %al, (%rdi)
        jmp     gfx_next
1:      mov     %ax, (%rdi)
        jmp     gfx_next
2:      test    $0x80, %ebx
        jnz     3f
        mov     %eax, (%rdi)
        jmp     gfx_next
3:      shl     $32, %rax
        or      %r8, %rax
        mov     %rax, (%rdi)
        jmp     gfx_next
gfx_read:
        test    $0x40, %ebx
        jnz     2f
        test    $0x80, %ebx
        jnz     1f
        mov     (%rdi), %al
        jmp     gfx_next
1:      mov     (%rdi), %ax
        jmp     gfx_next
2:      test    $0x80, %ebx
        jnz     3f
        mov     (%rdi), %eax
        jmp     gfx_next
3:      mov     (%rdi), %rax
gfx_next:
        dec     %r13d
        jnz     gfx_fuzz

        // The planes still work: a planar mode's registers, one byte to all four planes, then
        // to plane 0 alone, each read back at once through every plane; then write mode 1
        // copies the latches the last read loaded.
        DISPI   4, 0
        mov     $0x3C2, %edx              // colour ports, video RAM enabled
        mov     $0x63, %al
        out     %al, %dx
        mov     $0x3C4, %edx
        .irp    value, 0x0F02, 0x0604     // all planes; no odd/even, no chain 4
        mov     $\value, %eax
        out     %ax, %dx
        .endr
        mov     $0x3CE, %edx
        .irp    value, 0x0000, 0x0001, 0x0003, 0x0005, 0x0506, 0xFF08
        mov     $\value, %eax             // no set/reset, no rotate, write mode 0, read mode
        out     %ax, %dx                  // 0, graphics at A0000 (64 KiB), bit mask all
        .endr
        movb    $0x5A, GFX_PROBE
        xor     %ebx, %ebx
1:      mov     %ebx, %eax
        call    gfx_read_plane
        mov     $0x5A, %edx
        lea     0x4000(%rbx), %edi
        call    expect
        inc     %ebx
        cmp     $4, %ebx
        jb      1b
        mov     $0x3C4, %edx
        mov     $0x0102, %eax             // plane 0 only
        out     %ax, %dx
        movb    $0xC3, GFX_PROBE
        xor     %eax, %eax
        call    gfx_read_plane
        mov     $0xC3, %edx
        mov     $0x4004, %edi
        call    expect
        mov     $1, %eax                  // plane 1 kept the first byte; the latches now hold
        call    gfx_read_plane            // C3 (plane 0) and 5A (planes 1-3)
        mov     $0x5A, %edx
        mov     $0x4005, %edi
        call    expect
        mov     $0x3C4, %edx
        mov     $0x0F02, %eax
        out     %ax, %dx
        mov     $0x3CE, %edx
        mov     $0x0105, %eax             // write mode 1: the latches, whatever the CPU writes
        out     %ax, %dx
        movb    $0x00, GFX_PROBE + 0x100
        mov     $0x0005, %eax
        out     %ax, %dx
        xor     %eax, %eax
        xor     %ebx, %ebx
        mov     $GFX_PROBE + 0x100, %esi
        call    gfx_read_plane_at
        mov     $0xC3, %edx
        mov     $0x4006, %edi
        call    expect
        mov     $3, %eax
        call    gfx_read_plane_at
        mov     $0x5A, %edx
        mov     $0x4007, %edi
        call    expect

        mov     $0x4010, %edi
        call    check_sums
        mov     $0x4015, %edi
        call    check_apics
        lea     vga_planes_name(%rip), %rsi
        call    phase_report
        jmp     report

// %eax = the byte at GFX_PROBE in plane %eax (read mode 0).
gfx_read_plane:
        push    %rsi
        mov     $GFX_PROBE, %esi
        call    gfx_read_plane_at
        pop     %rsi
        ret
// %eax = the byte at %rsi in plane %eax (read mode 0).
gfx_read_plane_at:
        push    %rdx
        mov     %al, %ah
        mov     $0x04, %al                // read map select
        mov     $0x3CE, %edx
        out     %ax, %dx
        movzbl  (%rsi), %eax
        pop     %rdx
        ret

// ---- 'w': the VMware SVGA II's registers and FIFO under attack (--vga vmware) -------------
// The guest maps the device (BAR 0 ports, BAR 1 framebuffer, BAR 2 FIFO), checks what it
// reports, then feeds the FIFO commands with rectangles outside the screen and video memory,
// absurd cursors, a command that wraps the ring, a broken ring (MIN, MAX, NEXT_CMD, STOP),
// random command streams and random register writes, checking after each batch with a FENCE
// that the device got through it (or, after a command that cannot be, that it stopped).
// "SVGA-START" first: the test's cue for its screenshots. Last, a known picture: the screen
// 1024x768x32 filled with 0x204080 and a white 100x100 square at (50, 50), which the test
// finds in its screenshot. One line, "SVGA-OK" or "SVGA-FAIL ..." (checks 0x41xx).
        .macro  SVGA_SET index, value
        mov     $\index, %ecx
        mov     $\value, %eax
        call    svga_write
        .endm
        .macro  SVGA_EXPECT index, want, check
        mov     $\index, %ecx
        call    svga_read
        mov     $\want, %edx
        mov     $\check, %edi
        call    expect
        .endm
        .macro  FIFO words:vararg         // a command and its fields, at %r12 on
        .irp    word, \words
        mov     $\word, %eax
        call    fifo_put
        .endr
        .endm
svga:
        call    guards
        call    apic_versions
        mov     %rax, APIC_VERSIONS
        mov     $SVGA_FIFO, %r15d
        mov     $SVGA_FB, %r14d
        mov     $SVGA_CFG | 0x10, %eax
        mov     $SVGA_IO, %ecx
        call    pci_write
        mov     $SVGA_CFG | 0x14, %eax
        mov     $SVGA_FB, %ecx
        call    pci_write
        mov     $SVGA_CFG | 0x18, %eax
        mov     $SVGA_FIFO, %ecx
        call    pci_write
        mov     $SVGA_CFG | 0x04, %eax
        mov     $3, %ecx                  // I/O and memory decoding
        call    pci_write
        lea     svga_start_text(%rip), %rsi
        call    puts

        SVGA_SET SVGA_REG_ID, 0x90000002
        SVGA_EXPECT SVGA_REG_ID, 0x90000002, 0x4100
        SVGA_SET SVGA_REG_ID, 0x90000007  // an ID it does not speak: ignored
        SVGA_EXPECT SVGA_REG_ID, 0x90000002, 0x4101
        SVGA_EXPECT SVGA_REG_FB_START, SVGA_FB, 0x4102
        SVGA_EXPECT SVGA_REG_MEM_START, SVGA_FIFO, 0x4103
        SVGA_EXPECT SVGA_REG_MEM_SIZE, SVGA_FIFO_BYTES, 0x4104
        call    svga_mode
        call    svga_ring

        // 1. Commands inside the screen do what they say.
        FIFO    SVGA_CMD_RECT_FILL, 0x00ABCDEF, 0, 0, 16, 16
        mov     $0x1111, %eax
        call    svga_fence
        mov     $0x4105, %edi
        call    svga_expect_fence
        mov     (%r14), %eax
        mov     $0x00ABCDEF, %edx
        mov     $0x4106, %edi
        call    expect
        mov     15 * 4096 + 15 * 4(%r14), %eax
        mov     $0x4107, %edi
        call    expect
        mov     16 * 4(%r14), %eax        // just outside the rectangle: never written
        xor     %edx, %edx
        mov     $0x4108, %edi
        call    expect

        // 2. Rectangles outside the screen, past video memory, with sizes that overflow; the
        //    one that starts on the screen is clipped to its 24x8 pixels there.
        FIFO    SVGA_CMD_RECT_FILL, 0x00FF0000, 0xFFFFFFF0, 0, 0x100, 0x100
        FIFO    SVGA_CMD_RECT_FILL, 0x0000FF00, 1000, 760, 0xFFFFFFFF, 0xFFFFFFFF
        FIFO    SVGA_CMD_RECT_FILL, 0x000000FF, 0, 0xFFFFFFFF, 0xFFFFFFFF, 1
        mov     $0x2222, %eax
        call    svga_fence
        mov     $0x4109, %edi
        call    svga_expect_fence
        mov     1023 * 4 + 767 * 4096(%r14), %eax
        mov     $0x0000FF00, %edx
        mov     $0x410A, %edi
        call    expect
        mov     999 * 4 + 767 * 4096(%r14), %eax
        xor     %edx, %edx
        mov     $0x410B, %edi
        call    expect
        FIFO    SVGA_CMD_RECT_COPY, 0xFFFFFFFF, 0, 0, 0, 16, 16
        FIFO    SVGA_CMD_RECT_COPY, 1000, 700, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF
        FIFO    SVGA_CMD_RECT_COPY, 0, 0, 1023, 767, 0x80000000, 0x80000000
        FIFO    SVGA_CMD_RECT_ROP_COPY, 0, 0, 8, 8, 0xFFFFFFFF, 0xFFFFFFFF, 3
        FIFO    SVGA_CMD_UPDATE, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF
        FIFO    SVGA_CMD_UPDATE_VERBOSE, 0, 0, 0x7FFFFFFF, 0x7FFFFFFF, 0xFFFFFFFF
        FIFO    SVGA_CMD_NOP
        FIFO    SVGA_CMD_ESCAPE, 0x12345678, 8, 0xAAAAAAAA, 0x55555555
        mov     $0x2223, %eax
        call    svga_fence
        mov     $0x410C, %edi
        call    svga_expect_fence
        mov     (%r14), %ebp              // what the copies left at (0, 0)

        // 3. Modes that do not fit: a pitch past video memory, a width past the maximum; the
        //    commands find no screen and do nothing.
        SVGA_SET SVGA_REG_PITCHLOCK, 0xFFFFFFF0
        FIFO    SVGA_CMD_RECT_FILL, 0x00FFFFFF, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF
        mov     $0x3333, %eax
        call    svga_fence
        mov     $0x410D, %edi
        call    svga_expect_fence
        SVGA_SET SVGA_REG_PITCHLOCK, 0
        SVGA_SET SVGA_REG_WIDTH, 0xFFFFFFFF
        SVGA_SET SVGA_REG_HEIGHT, 0xFFFFFFFF
        FIFO    SVGA_CMD_RECT_COPY, 0, 0, 8, 8, 0xFFFFFFFF, 0xFFFFFFFF
        mov     $0x3334, %eax
        call    svga_fence
        mov     $0x410E, %edi
        call    svga_expect_fence
        mov     (%r14), %eax              // neither touched the framebuffer
        mov     %ebp, %edx
        mov     $0x410F, %edi
        call    expect
        call    svga_mode

        // 4. Cursors: one far too large for the ring stops the FIFO (the fence after it is not
        //    reached) until CONFIG_DONE starts it again; then real ones, hot spots anywhere.
        FIFO    SVGA_CMD_DEFINE_CURSOR, 0, 0, 0, 0xFFFF, 0xFFFF, 1, 32
        mov     $0x4444, %eax
        call    svga_fence
        mov     24(%r15), %eax
        mov     $0x3334, %edx
        mov     $0x4110, %edi
        call    expect
        call    svga_ring
        FIFO    SVGA_CMD_DEFINE_CURSOR, 1, 0xFFFFFFFF, 0x7FFFFFFF, 32, 32, 1, 32
        mov     $32 * 33, %ecx            // 32 rows of one AND word and 32 XOR words
        call    fifo_random
        FIFO    SVGA_CMD_DEFINE_ALPHA_CURSOR, 2, 63, 63, 64, 64
        mov     $64 * 64, %ecx
        call    fifo_random
        FIFO    SVGA_CMD_DEFINE_CURSOR, 3, 0, 0, 0, 0, 8, 8 // an empty one
        mov     $0x4445, %eax
        call    svga_fence
        mov     $0x4111, %edi
        call    svga_expect_fence
        SVGA_SET SVGA_REG_CURSOR_X, 0x80000000
        SVGA_SET SVGA_REG_CURSOR_Y, 0x7FFFFFFF
        SVGA_SET SVGA_REG_CURSOR_ON, 1
        movl    $1, 9 * 4(%r15)           // the FIFO's cursor registers, off screen
        movl    $0xFFFFFFF0, 10 * 4(%r15)
        movl    $2000, 11 * 4(%r15)
        incl    12 * 4(%r15)
        FIFO    SVGA_CMD_DEFINE_ALPHA_CURSOR, 4, 0, 0, 0x10000, 0x10000 // too large: stops
        mov     $0x4446, %eax
        call    svga_fence
        mov     24(%r15), %eax
        mov     $0x4445, %edx
        mov     $0x4112, %edi
        call    expect
        call    svga_ring

        // 5. A command that wraps from the ring's end to its start.
        mov     $SVGA_RING_END - 8, %r12d
        mov     %r12d, 8(%r15)            // NEXT_CMD
        mov     %r12d, 12(%r15)           // STOP
        FIFO    SVGA_CMD_RECT_FILL, 0x00777777, 100, 100, 1, 1
        mov     $0x5555, %eax
        call    svga_fence
        mov     $0x4113, %edi
        call    svga_expect_fence
        mov     100 * 4096 + 100 * 4(%r14), %eax
        mov     $0x00777777, %edx
        mov     $0x4114, %edi
        call    expect

        // 6. Broken rings: the device must not run them, nor stop on them for good.
        lea     svga_bad_rings(%rip), %rbx
        mov     $SVGA_BAD_RINGS, %r13d
1:      SVGA_SET SVGA_REG_CONFIG_DONE, 0
        mov     (%rbx), %eax
        mov     %eax, (%r15)              // MIN
        mov     4(%rbx), %eax
        mov     %eax, 4(%r15)             // MAX
        mov     8(%rbx), %eax
        mov     %eax, 8(%r15)             // NEXT_CMD
        mov     12(%rbx), %eax
        mov     %eax, 12(%r15)            // STOP
        SVGA_SET SVGA_REG_CONFIG_DONE, 1
        SVGA_SET SVGA_REG_SYNC, 1
        mov     $SVGA_REG_BUSY, %ecx
        call    svga_read
        add     $16, %rbx
        dec     %r13d
        jnz     1b
        call    svga_ring
        mov     $0x6666, %eax
        call    svga_fence
        mov     $0x4115, %edi
        call    svga_expect_fence

        // 7. Random: command streams of known and unknown commands with random fields from
        //    random places in the ring, random registers (palette and scratch included), random
        //    accesses of every width to the ports.
        mov     $SVGA_FUZZ_COUNT, %r13d
svga_fuzz:
        call    svga_ring
        mov     $SVGA_RING_START, %edi
        add     %r15, %rdi
        mov     $(SVGA_RING_END - SVGA_RING_START) / 4, %ecx
        call    fill_random
        mov     $32, %ebx                 // commands the device knows, at random places
1:      call    next_random
        and     $(SVGA_RING_END - SVGA_RING_START - 4) & ~3, %eax
        lea     SVGA_RING_START(%rax), %edi
        call    next_random
        and     $15, %eax
        lea     svga_commands(%rip), %rsi
        movzbl  (%rsi,%rax), %eax
        mov     %eax, (%r15,%rdi)
        dec     %ebx
        jnz     1b
        call    next_random               // STOP somewhere, NEXT_CMD somewhere else
        and     $(SVGA_RING_END - SVGA_RING_START - 4) & ~3, %eax
        add     $SVGA_RING_START, %eax
        mov     %eax, 12(%r15)
        call    next_random
        and     $(SVGA_RING_END - SVGA_RING_START - 4) & ~3, %eax
        add     $SVGA_RING_START, %eax
        mov     %eax, 8(%r15)
        SVGA_SET SVGA_REG_SYNC, 1
        mov     $SVGA_REG_BUSY, %ecx
        call    svga_read
        mov     $4, %ebx
2:      call    next_random               // a register, mostly the known ones
        mov     %eax, %ecx
        test    $0x10000, %eax
        jz      3f
        and     $0x7FF, %ecx
3:      cmp     $SVGA_REG_ENABLE, %ecx    // keep the mode for the screenshots
        je      4f
        call    next_random
        call    svga_write
4:      call    next_random               // a port access of any width, at any offset
        mov     %eax, %edx
        and     $0xF, %edx
        add     $SVGA_IO, %edx
        test    $0x100, %eax
        jz      5f
        in      %dx, %al
        in      %dx, %ax
        jmp     6f
5:      cmp     $SVGA_IO + 1, %edx        // not the value port: its index is random now
        je      6f
        out     %al, %dx
        out     %ax, %dx
6:      dec     %ebx
        jnz     2b
        dec     %r13d
        jnz     svga_fuzz

        // 8. The known picture, through a ring started again from scratch.
        mov     $SVGA_IO + 8, %edx        // IRQ status: clear all
        mov     $0xFFFFFFFF, %eax
        out     %eax, %dx
        SVGA_SET SVGA_REG_IRQMASK, 0
        SVGA_SET SVGA_REG_CURSOR_ON, 0
        movl    $0, 9 * 4(%r15)
        SVGA_SET SVGA_REG_PITCHLOCK, 0
        call    svga_mode
        call    svga_ring
        FIFO    SVGA_CMD_RECT_FILL, 0x00204080, 0, 0, 1024, 768
        FIFO    SVGA_CMD_RECT_FILL, 0x00FFFFFF, 50, 50, 100, 100
        FIFO    SVGA_CMD_UPDATE, 0, 0, 1024, 768
        mov     $0x7777, %eax
        call    svga_fence
        mov     $0x4116, %edi
        call    svga_expect_fence
        mov     100 * 4096 + 100 * 4(%r14), %eax
        mov     $0x00FFFFFF, %edx
        mov     $0x4117, %edi
        call    expect

        mov     $0x4120, %edi
        call    check_sums
        mov     $0x4125, %edi
        call    check_apics
        lea     svga_name(%rip), %rsi
        call    phase_report
        jmp     report

// SVGA register %ecx = %eax.
svga_write:
        push    %rax
        push    %rdx
        mov     $SVGA_IO, %edx
        mov     %ecx, %eax
        out     %eax, %dx
        inc     %edx
        mov     8(%rsp), %rax
        out     %eax, %dx
        pop     %rdx
        pop     %rax
        ret

// %eax = SVGA register %ecx.
svga_read:
        push    %rdx
        mov     $SVGA_IO, %edx
        mov     %ecx, %eax
        out     %eax, %dx
        inc     %edx
        in      %dx, %eax
        pop     %rdx
        ret

// 1024x768x32, enabled (which clears nothing: the guest's pixels stay).
svga_mode:
        SVGA_SET SVGA_REG_WIDTH, 1024
        SVGA_SET SVGA_REG_HEIGHT, 768
        SVGA_SET SVGA_REG_BPP, 32
        SVGA_SET SVGA_REG_ENABLE, 1
        ret

// A sane ring, empty, the FIFO started (again): CONFIG_DONE 0, MIN, MAX, NEXT_CMD and STOP,
// CONFIG_DONE 1; %r12 = where the next command goes.
svga_ring:
        SVGA_SET SVGA_REG_CONFIG_DONE, 0
        movl    $SVGA_RING_START, (%r15)
        movl    $SVGA_RING_END, 4(%r15)
        movl    $SVGA_RING_START, 8(%r15)
        movl    $SVGA_RING_START, 12(%r15)
        mov     $SVGA_RING_START, %r12d
        SVGA_SET SVGA_REG_CONFIG_DONE, 1
        ret

// The FIFO word at %r12 = %eax; %r12 moves on, from the ring's end to its start.
fifo_put:
        mov     %eax, (%r15,%r12)
        add     $4, %r12d
        cmp     $SVGA_RING_END, %r12d
        jb      1f
        mov     $SVGA_RING_START, %r12d
1:      ret

// %ecx random words into the FIFO (a cursor's masks and pixels).
fifo_random:
        push    %rcx
1:      call    next_random
        call    fifo_put
        dec     %ecx
        jnz     1b
        pop     %rcx
        ret

// A FENCE with %eax, then NEXT_CMD = %r12, SYNC, and BUSY read until it clears (64 reads at
// most: each read runs the FIFO on).
svga_fence:
        push    %rax
        push    %rcx
        push    %rax
        mov     $SVGA_CMD_FENCE, %eax
        call    fifo_put
        pop     %rax
        call    fifo_put
        mov     %r12d, 8(%r15)
        SVGA_SET SVGA_REG_SYNC, 1
        mov     $64, %ecx
1:      push    %rcx
        mov     $SVGA_REG_BUSY, %ecx
        call    svga_read
        pop     %rcx
        test    %eax, %eax
        jz      2f
        dec     %ecx
        jnz     1b
2:      pop     %rcx
        pop     %rax
        ret

// Check %edi: the FIFO's FENCE register holds %eax (the last svga_fence passed) and STOP
// caught up with NEXT_CMD; check %edi + 0x80: BUSY is clear.
svga_expect_fence:
        push    %rax
        mov     %eax, %edx
        mov     24(%r15), %eax
        call    expect
        mov     12(%r15), %eax
        mov     8(%r15), %edx
        call    expect
        mov     $SVGA_REG_BUSY, %ecx
        call    svga_read
        xor     %edx, %edx
        add     $0x80, %edi
        call    expect
        sub     $0x80, %edi
        pop     %rax
        ret

// ---- 'i': the IDE controller and its drives under attack ---------------------------------
// The test attaches a disk image of DISK_SECTORS sectors (-d: primary master), every dword of
// sector s holding s, and an ISO (-i: secondary master, ATAPI), and afterwards checks that the
// image changed only where this guest wrote (see fill_pattern for what it writes, and
// hostile_guest_test.ts for the list of sectors). One line per phase on COM1: "IDE-OK",
// "IDE-DMA-OK", "IDE-CMD-OK", "IDE-ATAPI-OK", "IDE-FUZZ-OK" or "<phase>-FAIL ...". Checks are
// numbered by phase: 0x4xx IDE (0x5xx its DMA cases, 16 each), 0x6xx-0x8xx the DMA attacks,
// 0x9xx DMA to the CD and SRST, 0xAxx commands, 0xBxx ATAPI, 0xCxx the port fuzz. A later
// controller (AHCI) gets phases of its own after these.
storage:
        call    guards
        call    ide_phase
        lea     ide_name(%rip), %rsi
        call    phase_report
        call    ide_dma_phase
        lea     ide_dma_name(%rip), %rsi
        call    phase_report
        call    ide_cmd_phase
        lea     ide_cmd_name(%rip), %rsi
        call    phase_report
        call    atapi_phase
        lea     atapi_name(%rip), %rsi
        call    phase_report
        call    ide_fuzz_phase
        lea     ide_fuzz_name(%rip), %rsi
        call    phase_report
        jmp     report

// PIO WRITE of `count` sectors of pattern `kind` at `lba` from IDE_OUT: every block must be
// asked for (check), the command must end well (check + 1).
        .macro  PIO_WRITE command, lba, count, kind, check
        mov     $IDE_OUT, %edi
        mov     $\lba, %esi
        mov     $\count, %ecx
        mov     $\kind, %edx
        call    fill_pattern
        mov     $\command, %eax
        call    ide_cmd
        mov     $IDE_OUT, %esi
        call    pio_out
        xor     %edx, %edx
        mov     $\check, %edi
        call    expect
        mov     $0x50, %edx
        inc     %edi
        call    ide_check
        .endm

// PIO READ of `count` sectors at `lba` into IDE_IN: every block there (check), the command
// ended well (check + 1), the data is pattern `kind` (check + 2).
        .macro  PIO_READ command, lba, count, kind, check
        mov     $IDE_IN, %edi
        mov     $\count * 512, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        mov     $\command, %eax
        mov     $\lba, %esi
        mov     $\count, %ecx
        call    ide_cmd
        call    pio_in
        xor     %edx, %edx
        mov     $\check, %edi
        call    expect
        mov     $0x50, %edx
        inc     %edi
        call    ide_check
        mov     $IDE_IN, %edi
        mov     $\kind, %edx
        call    pattern_check
        xor     %edx, %edx
        mov     $\check + 2, %edi
        call    expect
        .endm

// ---- IDE: the function, IDENTIFY, legitimate DMA and PIO ---------------------------------
ide_phase:
        // 1. 00:01.1 is the PIIX3 IDE function; BAR4 sizes as 16 I/O ports; put it at IDE_BM with
        //    I/O decoding and bus mastering on. Both channels' drives are DMA capable.
        mov     $IDE_CFG, %eax
        call    pci_read
        mov     $0x70108086, %edx
        mov     $0x400, %edi
        call    expect
        mov     $IDE_CFG | 0x20, %eax
        mov     $0xFFFFFFFF, %ecx
        call    pci_write
        mov     $IDE_CFG | 0x20, %eax
        call    pci_read
        and     $0xFFFF, %eax
        mov     $0xFFF1, %edx
        mov     $0x401, %edi
        call    expect
        mov     $IDE_CFG | 0x20, %eax
        mov     $IDE_BM, %ecx
        call    pci_write
        mov     $IDE_CFG | 0x04, %eax
        mov     $5, %ecx                  // I/O space, bus master
        call    pci_write
        mov     $IDE_CFG | 0x20, %eax
        call    pci_read
        mov     $IDE_BM | 1, %edx
        mov     $0x402, %edi
        call    expect
        call    ide_use_primary
        call    bm_status_byte
        mov     $0x20, %edx
        mov     $0x403, %edi
        call    expect
        call    ide_use_secondary
        call    bm_status_byte
        mov     $0x404, %edi
        call    expect

        // 2. IDENTIFY DEVICE: the capacity in LBA28 and LBA48 words, 48-bit and DMA support, the
        //    integrity word.
        call    ide_use_primary
        mov     $0xE0EC, %eax
        xor     %ecx, %ecx
        xor     %esi, %esi
        call    ide_cmd
        mov     $0x58, %edx
        mov     $0x405, %edi
        call    ide_check
        mov     $IDE_IDENT, %edi
        mov     $1, %ecx
        call    pio_in
        xor     %edx, %edx
        mov     $0x406, %edi
        call    expect
        mov     $0x50, %edx
        mov     $0x407, %edi
        call    ide_check
        movzwl  IDE_IDENT, %eax           // word 0: ATA
        mov     $0x0040, %edx
        mov     $0x408, %edi
        call    expect
        mov     IDE_IDENT + 120, %eax     // words 60-61
        mov     $DISK_SECTORS, %edx
        mov     $0x409, %edi
        call    expect
        mov     IDE_IDENT + 200, %rax     // words 100-103
        mov     $0x40A, %edi
        call    expect
        movzwl  IDE_IDENT + 166, %eax     // word 83 bit 10: 48-bit addresses
        and     $0x400, %eax
        mov     $0x400, %edx
        mov     $0x40B, %edi
        call    expect
        movzwl  IDE_IDENT + 98, %eax      // word 49 bit 8: DMA
        and     $0x100, %eax
        mov     $0x100, %edx
        mov     $0x40C, %edi
        call    expect
        movzbl  IDE_IDENT + 510, %eax
        mov     $0xA5, %edx
        mov     $0x40D, %edi
        call    expect
        mov     $IDE_IDENT, %esi
        mov     $512, %ecx
        xor     %eax, %eax
1:      add     (%rsi), %al
        inc     %rsi
        dec     %ecx
        jnz     1b
        movzbl  %al, %eax
        xor     %edx, %edx
        mov     $0x40E, %edi
        call    expect
        // IDENTIFY PACKET DEVICE on the CD: ATAPI, a CD-ROM.
        call    ide_use_secondary
        mov     $0xA0A1, %eax
        call    ide_cmd
        mov     $0x58, %edx
        mov     $0x40F, %edi
        call    ide_check
        mov     $IDE_IDENT, %edi
        mov     $1, %ecx
        call    pio_in
        xor     %edx, %edx
        mov     $0x410, %edi
        call    expect
        movzwl  IDE_IDENT, %eax
        shr     $8, %eax
        mov     $0x85, %edx
        mov     $0x411, %edi
        call    expect
        mov     $0x50, %edx
        mov     $0x412, %edi
        call    ide_check

        // 3. DMA done right: written, read back, the neighbours untouched, 64 KiB descriptors up
        //    to the end of RAM and of the image, tables at RAM's end and across a page.
        call    ide_use_primary
        lea     legit_cases(%rip), %r12
        lea     legit_cases_end(%rip), %r13
        mov     $0x500, %ebp
        call    dma_cases_run

        // 4. PIO done right: READ/WRITE SECTORS in words and in dwords, MULTIPLE in blocks of 16,
        //    the 48-bit commands at the image's last sector.
        PIO_WRITE WRITE_SECTORS, 40, 2, 2, 0x420
        PIO_READ READ_SECTORS, 40, 2, 2, 0x422
        PIO_READ READ_SECTORS, 42, 1, 0, 0x425
        mov     $0xE0C6, %eax             // SET MULTIPLE MODE: 16 sectors
        mov     $16, %ecx
        call    ide_cmd
        mov     $0x50, %edx
        mov     $0x428, %edi
        call    ide_check
        PIO_WRITE WRITE_MULTIPLE, 100, 20, 4, 0x429
        PIO_READ READ_MULTIPLE, 100, 20, 4, 0x42B
        PIO_WRITE WRITE_SECTORS_EXT, DISK_SECTORS - 1, 1, 3, 0x42E
        PIO_READ READ_SECTORS_EXT, DISK_SECTORS - 1, 1, 3, 0x430
        PIO_READ READ_SECTORS_EXT, DISK_SECTORS - 2, 1, 0, 0x433
        movl    $1, PIO_DWORDS
        PIO_WRITE WRITE_SECTORS, 200, 1, 6, 0x436
        PIO_READ READ_SECTORS, 200, 1, 6, 0x438
        movl    $0, PIO_DWORDS
        mov     $0x43B, %edi
        call    check_sums
        ret

// ---- IDE-DMA: PRD tables and descriptors outside RAM, short tables, the wrong direction, ------
// ranges beyond the image, SRST while a DMA command waits.
ide_dma_phase:
        call    ide_use_primary
        lea     dma_attacks(%rip), %r12
        lea     dma_attacks_end(%rip), %r13
        mov     $0x600, %ebp
        call    dma_cases_run
        // DMA commands to the CD: a packet device aborts them; nothing moves.
        call    ide_use_secondary
        lea     cd_dma_attacks(%rip), %r12
        lea     cd_dma_attacks_end(%rip), %r13
        mov     $0x900, %ebp
        call    dma_cases_run

        // SRST between a WRITE DMA command and the engine's start: the command is gone, the
        // engine finds nothing to do, nothing is written (sectors 380-383).
        call    ide_use_primary
        mov     $IDE_OUT, %edi
        mov     $380, %esi
        mov     $4, %ecx
        mov     $17, %edx
        call    fill_pattern
        mov     $IDE_PRD, %edi
        mov     $IDE_OUT, %esi
        mov     $EOT | 0x800, %ecx
        call    put_prd
        mov     $IDE_PRD, %esi
        xor     %ecx, %ecx
        call    bm_setup
        mov     $WRITE_DMA, %eax
        mov     $4, %ecx
        mov     $380, %esi
        call    ide_cmd
        mov     $0x58, %edx
        mov     $0x940, %edi
        call    ide_check
        mov     $0x04, %al
        call    ide_control
        call    ide_result                // every register reads BSY while SRST is held
        mov     $0x8080, %edx
        mov     $0x941, %edi
        call    expect
        xor     %eax, %eax
        call    ide_control
        mov     $0x0150, %edx             // ready, diagnostic code 1, the ATA signature
        mov     $0x942, %edi
        call    ide_check
        call    ide_signature
        mov     $0x00000101, %edx
        mov     $0x943, %edi
        call    expect
        xor     %ecx, %ecx
        call    bm_start
        mov     $1, %edx                  // active, no interrupt, no error
        mov     $0x944, %edi
        call    bm_check
        call    bm_stop
        PIO_READ READ_SECTORS, 380, 4, 0, 0x945
        // The same with READ DMA: the buffer keeps its sentinel.
        mov     $IDE_IN, %edi
        mov     $IDE_IN_BYTES, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        mov     $IDE_PRD, %edi
        mov     $IDE_IN, %esi
        mov     $EOT | 0x800, %ecx
        call    put_prd
        mov     $IDE_PRD, %esi
        mov     $TO_MEM, %ecx
        call    bm_setup
        mov     $READ_DMA, %eax
        mov     $4, %ecx
        mov     $1000, %esi
        call    ide_cmd
        call    ide_srst
        mov     $TO_MEM, %ecx
        call    bm_start
        mov     $1, %edx
        mov     $0x948, %edi
        call    bm_check
        call    bm_stop
        mov     $IDE_IN, %edi
        mov     $IDE_IN_BYTES, %ecx
        mov     $0xAA, %al
        call    bytes_equal
        xor     %edx, %edx
        mov     $0x949, %edi
        call    expect
        // A command written while a DMA command waits replaces it (sector 390 stays).
        mov     $IDE_OUT, %edi
        mov     $390, %esi
        mov     $1, %ecx
        mov     $18, %edx
        call    fill_pattern
        mov     $IDE_PRD, %edi
        mov     $IDE_OUT, %esi
        mov     $EOT | 0x200, %ecx
        call    put_prd
        mov     $IDE_PRD, %esi
        xor     %ecx, %ecx
        call    bm_setup
        mov     $WRITE_DMA, %eax
        mov     $1, %ecx
        mov     $390, %esi
        call    ide_cmd
        mov     $0xE0EC, %eax             // IDENTIFY DEVICE
        call    ide_cmd
        xor     %ecx, %ecx
        call    bm_start
        mov     $5, %edx                  // active; IDENTIFY's interrupt
        mov     $0x94A, %edi
        call    bm_check
        call    bm_stop
        mov     $IDE_IDENT, %edi
        mov     $1, %ecx
        call    pio_in
        xor     %edx, %edx
        mov     $0x94B, %edi
        call    expect
        PIO_READ READ_SECTORS, 390, 1, 0, 0x94C

        // SRST in the middle of a PIO write: the finished sector (320) may be on the disk, the
        // half-sent one (321) is not, and what comes after the reset goes nowhere.
        mov     $IDE_OUT, %edi
        mov     $320, %esi
        mov     $2, %ecx
        mov     $9, %edx
        call    fill_pattern
        mov     $WRITE_SECTORS, %eax
        mov     $2, %ecx
        mov     $320, %esi
        call    ide_cmd
        mov     $IDE_OUT, %esi
        mov     CUR_BASE, %edx
        mov     $384, %ecx
        rep outsw
        call    ide_srst
        mov     CUR_BASE, %edx
        mov     $384, %ecx
        rep outsw
        mov     $0x0150, %edx
        mov     $0x950, %edi
        call    ide_check
        PIO_READ READ_SECTORS, 321, 1, 0, 0x951
        // More data than the command asked for: sector 330 gets the first 512 bytes, 331 nothing.
        mov     $IDE_OUT, %edi
        mov     $330, %esi
        mov     $2, %ecx
        mov     $10, %edx
        call    fill_pattern
        mov     $WRITE_SECTORS, %eax
        mov     $1, %ecx
        mov     $330, %esi
        call    ide_cmd
        mov     $IDE_OUT, %esi
        mov     CUR_BASE, %edx
        mov     $512, %ecx
        rep outsw
        mov     $0x50, %edx
        mov     $0x954, %edi
        call    ide_check
        PIO_READ READ_SECTORS, 330, 1, 10, 0x955
        PIO_READ READ_SECTORS, 331, 1, 0, 0x958

        // SRST on the CD halfway through the command packet: the rest goes nowhere, the drive
        // posts the ATAPI signature.
        call    ide_use_secondary
        lea     cdb_read_pvd(%rip), %rsi
        call    set_cdb
        mov     CUR_BASE, %edx
        inc     %edx
        xor     %eax, %eax
        out     %al, %dx                  // features: PIO
        add     $3, %edx
        out     %al, %dx                  // byte count limit 0x800
        inc     %edx
        mov     $0x08, %al
        out     %al, %dx
        inc     %edx
        mov     $0xA0, %al
        out     %al, %dx
        inc     %edx
        out     %al, %dx                  // PACKET
        mov     $IDE_CDB, %esi
        mov     CUR_BASE, %edx
        mov     $3, %ecx
        rep outsw
        call    ide_srst
        mov     CUR_BASE, %edx
        mov     $3, %ecx
        rep outsw
        mov     $0x0100, %edx
        mov     $0x95B, %edi
        call    ide_check
        call    ide_signature
        mov     $0xEB140101, %edx
        mov     $0x95C, %edi
        call    expect
        mov     $0x95D, %edi
        call    check_sums
        ret

// ---- IDE-CMD: LBAs beyond the image, every opcode, writes to the CD, absent drives, the -------
// data port with no command pending.
ide_cmd_phase:
        call    ide_use_primary
        // 1. Ranges beyond the image by PIO, in LBA28, LBA48 (up to 2^48 - 1, and 65536 sectors)
        //    and CHS: IDNF before any data phase; data sent anyway goes nowhere.
        mov     $IDE_OUT, %edi
        mov     $DISK_SECTORS - 8, %esi
        mov     $8, %ecx
        mov     $15, %edx
        call    fill_pattern
        lea     range_cases(%rip), %r12
        lea     range_cases_end(%rip), %r13
        mov     $0xA00, %ebp
1:      mov     (%r12), %eax
        mov     4(%r12), %ecx
        mov     8(%r12), %rsi
        call    ide_cmd
        movzwl  16(%r12), %edx
        mov     %ebp, %edi
        call    ide_check
        cmpb    $0, 18(%r12)
        je      2f
        mov     $IDE_OUT, %esi
        mov     CUR_BASE, %edx
        mov     $256, %ecx
        rep outsw
        movzwl  16(%r12), %edx
        call    ide_check
2:      add     $24, %r12
        inc     %ebp
        cmp     %r13, %r12
        jb      1b

        // 2. Every opcode once, count 0 and LBA 0: those the drive does not know abort; none
        //    writes (write commands get no data, the engine is stopped).
        call    bm_stop
        mov     $0xE0, %ebx
        lea     disk_opcodes(%rip), %r12
        mov     $0xA40, %ebp
        call    opcode_sweep
        mov     $0xE0C6, %eax             // SET MULTIPLE MODE back to 16 (the sweep set 0)
        mov     $16, %ecx
        xor     %esi, %esi
        call    ide_cmd
        mov     $0x50, %edx
        mov     $0xA41, %edi
        call    ide_check
        call    ide_use_secondary
        call    bm_stop
        mov     $0xA0, %ebx
        lea     cd_opcodes(%rip), %r12
        mov     $0xA42, %ebp
        call    opcode_sweep

        // 3. ATA writes to the CD abort (data sent anyway goes nowhere); IDENTIFY DEVICE aborts
        //    with the ATAPI signature.
        mov     $0xA030, %eax
        mov     $1, %ecx
        xor     %esi, %esi
        call    ide_cmd
        mov     $0x0441, %edx
        mov     $0xA43, %edi
        call    ide_check
        mov     $IDE_OUT, %esi
        mov     CUR_BASE, %edx
        mov     $1024, %ecx
        rep outsw
        mov     $0x0441, %edx
        mov     $0xA44, %edi
        call    ide_check
        mov     $0x14034 | 0xA000, %eax   // WRITE SECTORS EXT
        mov     $1, %ecx
        call    ide_cmd
        mov     $0x0441, %edx
        mov     $0xA45, %edi
        call    ide_check
        mov     $0xA0EC, %eax
        call    ide_cmd
        mov     $0x0441, %edx
        mov     $0xA46, %edi
        call    ide_check
        call    ide_signature
        mov     $0xEB140101, %edx
        mov     $0xA47, %edi
        call    expect

        // 4. Absent drives (both slaves): registers read 0, commands do nothing, the data port
        //    gives zeros and takes nothing.
        call    ide_use_primary
        mov     $0xF0, %al
        call    ide_select
        call    ide_result
        xor     %edx, %edx
        mov     $0xA48, %edi
        call    expect
        mov     $0xF0EC, %eax
        xor     %ecx, %ecx
        xor     %esi, %esi
        call    ide_cmd
        call    ide_result
        mov     $0xA49, %edi
        call    expect
        mov     $IDE_IN, %edi
        mov     $512, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        mov     CUR_BASE, %edx
        mov     $256, %ecx
        rep insw
        mov     $IDE_IN, %edi
        mov     $512, %ecx
        xor     %eax, %eax
        call    bytes_equal
        xor     %edx, %edx
        mov     $0xA4A, %edi
        call    expect
        mov     $0xF030, %eax             // WRITE SECTORS at 0, and its data: nowhere
        mov     $1, %ecx
        call    ide_cmd
        mov     $IDE_OUT, %esi
        mov     CUR_BASE, %edx
        mov     $256, %ecx
        rep outsw
        call    ide_result
        xor     %edx, %edx
        mov     $0xA4B, %edi
        call    expect
        mov     $0xE0, %al                // the master, as it was (SET MULTIPLE MODE's result)
        call    ide_select
        mov     $0x50, %edx
        mov     $0xA4C, %edi
        call    ide_check
        call    ide_use_secondary
        mov     $0xB0, %al
        call    ide_select
        mov     $0xB0A0, %eax             // PACKET to nobody
        xor     %ecx, %ecx
        call    ide_cmd
        call    ide_result
        xor     %edx, %edx
        mov     $0xA4D, %edi
        call    expect
        mov     $0xA0, %al
        call    ide_select

        // 5. The data port with no command pending, in every width, both ways, on both drives:
        //    the status stays as the last command left it.
        call    ide_use_primary
        mov     $0x50, %ebx
        mov     $0xA50, %edi
        call    idle_data_port
        call    ide_use_secondary
        mov     $0x0441, %ebx             // IDENTIFY DEVICE's abort, from step 3
        mov     $0xA52, %edi
        call    idle_data_port
        // Data written during a data-in command, and read during a data-out one, goes nowhere.
        call    ide_use_primary
        mov     $IDE_OUT, %edi
        mov     $900, %esi
        mov     $1, %ecx
        mov     $16, %edx
        call    fill_pattern
        mov     $READ_SECTORS, %eax
        mov     $1, %ecx
        mov     $900, %esi
        call    ide_cmd
        mov     $IDE_OUT, %esi
        mov     CUR_BASE, %edx
        mov     $256, %ecx
        rep outsw
        mov     $IDE_IN, %edi
        mov     $1, %ecx
        call    pio_in
        xor     %edx, %edx
        mov     $0xA54, %edi
        call    expect
        mov     $IDE_IN, %edi
        mov     $900, %esi
        mov     $1, %ecx
        xor     %edx, %edx
        call    pattern_check
        mov     $0xA55, %edi
        call    expect
        mov     $IDE_OUT, %edi
        mov     $910, %esi
        mov     $1, %ecx
        mov     $16, %edx
        call    fill_pattern
        mov     $WRITE_SECTORS, %eax
        call    ide_cmd
        mov     $IDE_IN, %edi
        mov     CUR_BASE, %edx
        mov     $256, %ecx
        rep insw
        mov     $IDE_OUT, %esi
        mov     $1, %ecx
        call    pio_out
        xor     %edx, %edx
        mov     $0xA56, %edi
        call    expect
        mov     $0x50, %edx
        mov     $0xA57, %edi
        call    ide_check
        PIO_READ READ_SECTORS, 910, 1, 16, 0xA58
        mov     $0xA5B, %edi
        call    check_sums
        ret

// Checks %edi and %edi + 1: the data port of the current channel, with no command pending,
// read and written in words, dwords and bytes (refused), leaves status and error as %ebx says.
idle_data_port:
        push    %rdi
        mov     CUR_BASE, %edx
        mov     $IDE_IN, %edi
        mov     $4096, %ecx
        rep insw
        mov     $2048, %ecx
        rep insl
        mov     $64, %ecx
        rep insb
        mov     $IDE_OUT, %esi
        mov     $4096, %ecx
        rep outsw
        mov     $2048, %ecx
        rep outsl
        mov     $64, %ecx
        rep outsb
        pop     %rdi
        mov     %ebx, %edx
        call    ide_check
        inc     %edi
        mov     %ebx, %edx
        jmp     ide_check

// Every opcode once on the current channel to device %ebx (master), count 0 and LBA 0 in the
// 48-bit register order, features 0. The list at %r12 (first, last, outcome; outcome 0xFF ends
// it) says what the drive does: 1 no error (DRQ allowed), 2 IDNF; any other opcode must abort.
// Check %ebp, with the opcode in bits 39:32 of what it reports.
opcode_sweep:
        push    %r9
        push    %r13
        xor     %r13d, %r13d
1:      mov     %ebx, %eax
        shl     $8, %eax
        or      %r13d, %eax
        or      $0x10000, %eax
        xor     %ecx, %ecx
        xor     %esi, %esi
        call    ide_cmd
        call    ide_result
        mov     %eax, %r9d
        mov     %r12, %rsi                // the outcome the list names, 0 (abort) by default
        xor     %ecx, %ecx
2:      movzbl  2(%rsi), %eax
        cmp     $0xFF, %eax
        je      4f
        cmp     (%rsi), %r13b
        jb      3f
        cmp     1(%rsi), %r13b
        ja      3f
        mov     %eax, %ecx
        jmp     4f
3:      add     $3, %rsi
        jmp     2b
4:      mov     %r9d, %eax
        mov     %r9d, %edx
        and     $0x89, %edx               // BSY, DRQ, ERR
        cmp     $1, %ecx
        je      5f
        cmp     $2, %ecx
        je      6f
        and     $0x0400, %eax             // abort: ERR and ABRT, no DRQ
        or      %edx, %eax
        mov     $0x0401, %edx
        jmp     7f
5:      and     $0x81, %eax               // no BSY, no ERR
        xor     %edx, %edx
        jmp     7f
6:      and     $0xFF00, %eax             // IDNF
        or      %edx, %eax
        mov     $0x1001, %edx
7:      mov     %r13, %rcx
        shl     $32, %rcx
        or      %rcx, %rax
        or      %rcx, %rdx
        mov     %ebp, %edi
        call    expect
        inc     %r13d
        cmp     $256, %r13d
        jb      1b
        pop     %r13
        pop     %r9
        ret

// ---- IDE-ATAPI: command packets on the CD, sensible, random and writing; absurd byte count ----
// limits; DMA with bad tables.
atapi_phase:
        call    ide_use_secondary
        movl    $0, ATAPI_BAD
        movl    $64, ATAPI_CAP
        // 1. The first command after the disc arrived reports UNIT ATTENTION; then it is ready.
        lea     cdb_tur(%rip), %rsi
        call    set_cdb
        mov     $0x800, %ecx
        call    atapi_cmd
        mov     $0x036041, %edx           // reason I/O+C/D, UNIT ATTENTION, ERR
        mov     $0xB00, %edi
        call    expect
        call    atapi_cmd
        mov     $0x030050, %edx
        mov     $0xB01, %edi
        call    expect

        // 2. READ(10) of the primary volume descriptor by PIO under byte count limits of 0x800,
        //    1 (1024 blocks of 2 bytes), 0 (no limit a host may set), 0xFFFF and odd ones.
        lea     cdb_read_pvd(%rip), %rsi
        call    set_cdb
        movl    $2048, ATAPI_CAP
        lea     atapi_pvd_limits(%rip), %r12
        mov     $0xB02, %ebp
1:      mov     $IDE_IN, %edi
        mov     $0x1000, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        movzwl  (%r12), %ecx
        call    atapi_cmd
        mov     $0x030050, %edx
        mov     %ebp, %edi
        call    expect
        mov     ATAPI_BYTES, %eax
        mov     $2048, %edx
        inc     %edi
        call    expect
        inc     %edi
        call    pvd_check
        add     $2, %r12
        add     $3, %ebp
        cmpw    $0xFFFF, -2(%r12)
        jne     1b
        movl    $64, ATAPI_CAP

        // 3. READ(10) by DMA: into RAM; with the table or its descriptor outside RAM, the engine
        //    going the wrong way or a table too short: CHECK CONDITION (aborted command), the
        //    bus-master error bit, nothing written outside the descriptors' regions.
        lea     atapi_dma_cases(%rip), %r12
        lea     atapi_dma_cases_end(%rip), %r13
        mov     $0xB20, %ebp
2:      mov     $IDE_IN, %edi
        mov     $0x1000, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        mov     (%r12), %edi
        cmp     $RAM_END - 8, %edi
        ja      3f
        mov     4(%r12), %esi
        mov     8(%r12), %ecx
        call    put_prd
3:      call    save_sums
        mov     (%r12), %esi
        mov     12(%r12), %ecx
        call    bm_setup
        call    bm_start
        mov     $0x10800, %ecx            // DMA, limit 0x800
        call    atapi_cmd
        mov     16(%r12), %edx
        mov     %ebp, %edi
        call    expect
        mov     20(%r12), %edx
        inc     %edi
        call    bm_check
        call    bm_stop
        mov     $IDE_IN + 0x800, %edi     // nothing past the sector
        mov     $0x800, %ecx
        mov     $0xAA, %al
        call    bytes_equal
        xor     %edx, %edx
        lea     2(%rbp), %edi
        call    expect
        lea     3(%rbp), %edi
        call    check_sums
        cmpl    $4, 20(%r12)
        jne     4f
        lea     8(%rbp), %edi
        call    pvd_check
4:      add     $24, %r12
        add     $16, %ebp
        cmp     %r13, %r12
        jb      2b

        // 4. Writes to the read-only disc: CHECK CONDITION, ILLEGAL REQUEST; the data sent after
        //    goes nowhere. A packet followed by more words than its 12 bytes: they are ignored.
        lea     cdb_write10(%rip), %rsi
        call    set_cdb
        mov     $0x800, %ecx
        call    atapi_cmd
        mov     $0x035041, %edx
        mov     $0xB80, %edi
        call    expect
        mov     $IDE_OUT, %esi
        mov     CUR_BASE, %edx
        mov     $1024, %ecx
        rep outsw
        lea     cdb_write12(%rip), %rsi
        call    set_cdb
        mov     $0x800, %ecx
        call    atapi_cmd
        mov     $0x035041, %edx
        mov     $0xB81, %edi
        call    expect
        lea     cdb_tur(%rip), %rsi
        call    set_cdb
        mov     $0x800, %ecx
        call    atapi_packet
        mov     $IDE_CDB, %esi
        mov     CUR_BASE, %edx
        mov     $6, %ecx
        rep outsw
        call    atapi_drain
        mov     $0x030050, %edx
        mov     $0xB82, %edi
        call    expect

        // 5. Random command packets: any bytes, or a command the drive knows with random fields,
        //    under random byte count limits, by PIO or by DMA (now and then with a bad table or
        //    the wrong direction). A transfer longer than 16 blocks is abandoned by DEVICE RESET.
        //    Every packet must end in the status phase without BSY; an error must carry a sense
        //    key; a command the drive does not know (writes among them) must fail.
        mov     $IDE_PRD + 0x8000, %edi   // DMA goes to 16 regions of 64 KiB in SCRATCH
        xor     %ebx, %ebx
5:      mov     %ebx, %esi
        shl     $16, %esi
        add     $SCRATCH, %esi
        xor     %ecx, %ecx
        cmp     $15, %ebx
        jne     6f
        mov     $EOT, %ecx
6:      call    put_prd
        add     $8, %edi
        inc     %ebx
        cmp     $16, %ebx
        jb      5b
        call    save_sums
        movl    $16, ATAPI_CAP
        movl    $0, ATAPI_DATA
        movl    $0, ATAPI_ERRORS
        mov     $ATAPI_FUZZ_COUNT, %r13d
atapi_fuzz:
        mov     $IDE_CDB, %edi
        mov     $3, %ecx
        call    fill_random
        call    next_random
        mov     %eax, %ebx                // choices
        test    $3, %bl
        jz      2f
        mov     %ebx, %eax                // a known command
        shr     $2, %eax
        and     $15, %eax
        lea     atapi_opcodes(%rip), %rcx
        movzbl  (%rcx,%rax), %eax
        mov     %al, IDE_CDB
        test    $0x40, %bl
        jz      2f
        movb    $0, IDE_CDB + 1           // tamed: small addresses and lengths
        movw    $0, IDE_CDB + 2
        movb    $0, IDE_CDB + 4
        andb    $0x3F, IDE_CDB + 5
        movw    $0, IDE_CDB + 6
        andb    $0x1F, IDE_CDB + 8
        andb    $0x03, IDE_CDB + 9
        cmpb    $0x20, IDE_CDB
        jae     2f
        mov     IDE_CDB + 8, %al          // a 6-byte command: its length in byte 4
        mov     %al, IDE_CDB + 4
2:      mov     %ebx, %eax                // the byte count limit
        shr     $8, %eax
        and     $7, %eax
        lea     atapi_limits(%rip), %rcx
        movzwl  (%rcx,%rax,2), %ecx
        cmp     $7, %eax
        jne     3f
        mov     %ebx, %ecx
        shr     $16, %ecx
3:      test    $0x3000, %ebx             // one in four by DMA
        jnz     5f
        or      $0x10000, %ecx
        push    %rcx
        mov     $IDE_PRD + 0x8000, %esi
        test    $0xC000, %ebx             // one in four: outside RAM
        jnz     4f
        mov     $0xFEC00000, %esi
4:      mov     $TO_MEM, %ecx
        test    $0x30000, %ebx            // one in four: the wrong way
        jnz     4f
        xor     %ecx, %ecx
4:      call    bm_setup
        call    bm_start
        pop     %rcx
5:      call    atapi_cmd
        mov     %eax, %r9d
        call    bm_stop
        test    $0x08, %r9b
        jnz     atapi_fuzz_next           // abandoned (and reset)
        mov     %r9d, %eax                // the status phase
        shr     $16, %eax
        cmp     $3, %eax
        je      6f
        incl    ATAPI_BAD
6:      cmpl    $0, ATAPI_BYTES
        je      7f
        incl    ATAPI_DATA
7:      movzbl  IDE_CDB, %eax
        bt      %eax, scsi_known(%rip)
        setc    %r10b
        test    $0x01, %r9b
        jz      8f
        incl    ATAPI_ERRORS
        mov     %r9d, %eax                // the sense key
        shr     $12, %eax
        and     $0xF, %eax
        jz      9f
        test    %r10b, %r10b
        jnz     atapi_fuzz_next
        cmp     $5, %eax                  // unknown: ILLEGAL REQUEST, or a unit attention first
        je      atapi_fuzz_next
        cmp     $6, %eax
        je      atapi_fuzz_next
        jmp     9f
8:      test    %r10b, %r10b              // no error: the drive must know the command
        jnz     atapi_fuzz_next
9:      incl    ATAPI_BAD
atapi_fuzz_next:
        dec     %r13d
        jnz     atapi_fuzz
        mov     ATAPI_BAD, %eax
        xor     %edx, %edx
        mov     $0xB90, %edi
        call    expect
        mov     ATAPI_DATA, %eax          // the fuzz reached both outcomes often
        mov     $16, %edx
        cmp     %edx, %eax
        cmova   %edx, %eax
        mov     $0xB91, %edi
        call    expect
        mov     ATAPI_ERRORS, %eax
        cmp     %edx, %eax
        cmova   %edx, %eax
        mov     $0xB92, %edi
        call    expect
        mov     $0xB93, %edi
        call    check_sums
        mov     $0xB98, %edi
        call    atapi_recover
        ret

// The CD back in order: the tray closed, unit attentions consumed, unlocked; then READ(10) of
// the volume descriptor by PIO. Checks %edi to %edi + 2.
atapi_recover:
        push    %rbx
        push    %rdi
        movl    $64, ATAPI_CAP
        lea     cdb_close(%rip), %rsi
        mov     $4, %ebx
1:      call    set_cdb
        mov     $0x800, %ecx
        call    atapi_cmd
        cmp     $0x030050, %eax
        je      2f
        dec     %ebx
        jnz     1b
2:      lea     cdb_tur(%rip), %rsi
        call    set_cdb
        mov     $4, %ebx
3:      call    atapi_cmd
        cmp     $0x030050, %eax
        je      4f
        dec     %ebx
        jnz     3b
4:      mov     $0x030050, %edx
        call    expect
        lea     cdb_unlock(%rip), %rsi
        call    set_cdb
        call    atapi_cmd
        lea     cdb_read_pvd(%rip), %rsi
        call    set_cdb
        mov     $IDE_IN, %edi
        mov     $0x800, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        mov     (%rsp), %edi
        mov     $0x800, %ecx
        call    atapi_cmd
        mov     $0x030050, %edx
        inc     %edi
        call    expect
        inc     %edi
        call    pvd_check
        pop     %rdi
        pop     %rbx
        ret

// Check %edi: IDE_IN holds the primary volume descriptor's start, 01 "CD001".
pvd_check:
        push    %rdx
        mov     IDE_IN, %rax
        movabs  $0xFFFFFFFFFFFF, %rdx
        and     %rdx, %rax
        movabs  $0x313030444301, %rdx
        call    expect
        pop     %rdx
        ret

// ---- IDE-FUZZ: random values to every IDE port --------------------------------------------
// Any width, either way, now and then 256 words of string I/O at a data port. Two things are
// kept from the guest's own fuzz so that the outcome can be checked: write opcodes never reach
// a command register (they would put random data on the disk legitimately), and the PRD table
// pointers stay in FUZZ_PRD (whose descriptors all name SCRATCH) or above 2 GiB, so that DMA
// may only land in SCRATCH. Then both channels are reset and must work as before.
ide_fuzz_phase:
        mov     $FUZZ_PRD, %edi
        xor     %ebx, %ebx
1:      mov     %ebx, %esi
        and     $0xFF, %esi
        shl     $16, %esi
        add     $SCRATCH, %esi
        call    next_random
        mov     %eax, %ecx
        and     $0xFFFF, %ecx
        test    $0x70000, %eax
        jnz     2f
        or      $EOT, %ecx
2:      call    put_prd
        add     $8, %edi
        inc     %ebx
        cmp     $8192, %ebx
        jb      1b
        mov     $FUZZ_PRD, %esi
        mov     $0x4000, %ecx
        call    checksum
        mov     %rax, SUM_FUZZ_PRD
        mov     $IDE_OUT, %edi
        mov     $0x4000, %ecx
        call    fill_random
        call    save_sums
        call    ide_use_primary
        mov     $FUZZ_PRD, %esi
        mov     $TO_MEM, %ecx
        call    bm_setup
        call    ide_use_secondary
        call    bm_setup

        mov     $IDE_FUZZ_COUNT, %r13d
ide_fuzz:
        call    next_random
        mov     %eax, %ebx                // choices
        movzbl  %bl, %eax                 // which port: one of 34
        imul    $IDE_FUZZ_PORTS, %eax
        shr     $8, %eax
        lea     ide_fuzz_ports(%rip), %rcx
        movzwl  (%rcx,%rax,2), %edx
        mov     %ebx, %ecx                // width: 1, 1, 2, 4
        shr     $8, %ecx
        and     $3, %ecx
        jnz     1f
        inc     %ecx
1:      cmp     $3, %ecx
        jne     2f
        inc     %ecx
2:      test    $0x3F000, %ebx            // one in 64: string I/O at a data port
        jnz     4f
        cmp     $0x1F0, %edx
        je      3f
        cmp     $0x170, %edx
        jne     4f
3:      mov     $256, %ecx
        test    $0x400, %ebx
        jz      3f
        mov     $IDE_IN, %edi
        rep insw
        jmp     ide_fuzz_next
3:      mov     %ebx, %esi
        shr     $20, %esi
        and     $0x7FFE, %esi
        add     $IDE_OUT, %esi
        rep outsw
        jmp     ide_fuzz_next
4:      test    $0x400, %ebx              // read
        jz      6f
        cmp     $1, %ecx
        je      5f
        cmp     $2, %ecx
        je      4f
        in      %dx, %eax
        jmp     ide_fuzz_next
4:      in      %dx, %ax
        jmp     ide_fuzz_next
5:      in      %dx, %al
        jmp     ide_fuzz_next
6:      call    next_random               // write
        call    fuzz_filter
        cmp     $1, %ecx
        je      8f
        cmp     $2, %ecx
        je      7f
        out     %eax, %dx
        jmp     ide_fuzz_next
7:      out     %ax, %dx
        jmp     ide_fuzz_next
8:      out     %al, %dx
ide_fuzz_next:
        dec     %r13d
        jnz     ide_fuzz

        // Quiet again: engines stopped, their status cleared, both channels reset, master
        // selected; RAM outside SCRATCH as it was.
        call    ide_use_primary
        call    ide_quiesce
        mov     $0x0150, %edx
        mov     $0xC00, %edi
        call    ide_check
        call    ide_use_secondary
        call    ide_quiesce
        mov     $0x0100, %edx
        mov     $0xC01, %edi
        call    ide_check
        mov     $0xC02, %edi
        call    check_sums
        mov     $FUZZ_PRD, %esi
        mov     $0x4000, %ecx
        call    checksum
        mov     SUM_FUZZ_PRD, %rdx
        mov     $0xC07, %edi
        call    expect

        // Everything works as before: IDENTIFY, READ DMA of what the first phase wrote, the CD.
        call    ide_use_primary
        mov     $0xE0EC, %eax
        xor     %ecx, %ecx
        xor     %esi, %esi
        call    ide_cmd
        mov     $IDE_IDENT, %edi
        mov     $1, %ecx
        call    pio_in
        xor     %edx, %edx
        mov     $0xC08, %edi
        call    expect
        mov     IDE_IDENT + 200, %rax
        mov     $DISK_SECTORS, %edx
        mov     $0xC09, %edi
        call    expect
        lea     legit_cases + DMA_CASE_BYTES(%rip), %r12  // READ DMA of sectors 16-23
        lea     DMA_CASE_BYTES(%r12), %r13
        mov     $0xC10, %ebp
        call    dma_cases_run
        call    ide_use_secondary
        mov     $0xC20, %edi
        call    atapi_recover
        mov     $0xC23, %edi
        call    check_sums
        ret

// The value %eax to be written to port %dx with width %ecx, with its bytes made safe for the
// fuzz (see ide_fuzz_phase).
fuzz_filter:
        push    %rcx
        push    %rsi
        push    %r9
        mov     %eax, FUZZ_VALUE
        mov     %ecx, %r9d
        xor     %ecx, %ecx
1:      lea     (%rdx,%rcx), %esi         // the port this byte lands on
        movzbl  FUZZ_VALUE(%rcx), %eax
        cmp     $0x1F7, %esi
        je      2f
        cmp     $0x177, %esi
        je      2f
        cmp     $IDE_BM + 6, %esi
        je      3f
        cmp     $IDE_BM + 14, %esi
        je      3f
        cmp     $IDE_BM + 7, %esi
        je      4f
        cmp     $IDE_BM + 15, %esi
        je      4f
        jmp     5f
2:      bt      %eax, writes_bitmap(%rip) // a command that writes: NOP instead
        jnc     5f
3:      movb    $0, FUZZ_VALUE(%rcx)      // the table pointer's bits 23:16
        jmp     5f
4:      test    $0x80, %al                // bits 31:24: above 2 GiB, or FUZZ_PRD
        jnz     5f
        movb    $FUZZ_PRD >> 24, FUZZ_VALUE(%rcx)
5:      inc     %ecx
        cmp     %r9d, %ecx
        jb      1b
        mov     FUZZ_VALUE, %eax
        pop     %r9
        pop     %rsi
        pop     %rcx
        ret

// The current channel quiet: its engine stopped and its status cleared, SRST pulsed with
// interrupts enabled, the master selected.
ide_quiesce:
        push    %rcx
        push    %rsi
        call    bm_stop
        mov     $FUZZ_PRD, %esi
        xor     %ecx, %ecx
        call    bm_setup
        call    ide_srst
        mov     $0xA0, %al
        call    ide_select
        pop     %rsi
        pop     %rcx
        ret

// ---- IDE helpers: all keep every register but %rax (and what they say they return) --------

// The channel the helpers below work on: its command block, control register and bus master.
ide_use_primary:
        movl    $0x1F0, CUR_BASE
        movl    $0x3F6, CUR_CTRL
        movl    $IDE_BM, CUR_BM
        ret
ide_use_secondary:
        movl    $0x170, CUR_BASE
        movl    $0x376, CUR_CTRL
        movl    $IDE_BM + 8, CUR_BM
        ret

// Writes the task file and then the command register. %eax: the opcode (bits 7:0), the device
// register (15:8), bit 16 for the 48-bit order (the previous values first, as a host writes
// them), features (31:24); %ecx = count; %rsi = LBA (bits 27:24 of a 28-bit command go to the
// device register).
ide_cmd:
        push    %rbx
        push    %rcx
        push    %rdx
        mov     %eax, %ebx
        mov     CUR_BASE, %edx
        test    $0x10000, %ebx
        jz      1f
        inc     %edx                      // the previous features, count, LBA
        xor     %eax, %eax
        out     %al, %dx
        inc     %edx
        mov     %ecx, %eax
        shr     $8, %eax
        out     %al, %dx
        inc     %edx
        mov     %rsi, %rax
        shr     $24, %rax
        out     %al, %dx
        inc     %edx
        shr     $8, %rax
        out     %al, %dx
        inc     %edx
        shr     $8, %rax
        out     %al, %dx
        mov     CUR_BASE, %edx
1:      inc     %edx                      // features
        mov     %ebx, %eax
        shr     $24, %eax
        out     %al, %dx
        inc     %edx                      // count
        mov     %ecx, %eax
        out     %al, %dx
        inc     %edx                      // LBA low, mid, high
        mov     %esi, %eax
        out     %al, %dx
        inc     %edx
        shr     $8, %eax
        out     %al, %dx
        inc     %edx
        shr     $8, %eax
        out     %al, %dx
        inc     %edx                      // device
        mov     %ebx, %eax
        shr     $8, %eax
        test    $0x10000, %ebx
        jnz     2f
        mov     %esi, %ecx
        shr     $24, %ecx
        and     $0x0F, %ecx
        or      %ecx, %eax
2:      out     %al, %dx
        inc     %edx                      // command
        mov     %ebx, %eax
        out     %al, %dx
        pop     %rdx
        pop     %rcx
        pop     %rbx
        ret

// %rax = status | error << 8 (reading Status acknowledges the interrupt).
ide_result:
        push    %rcx
        push    %rdx
        mov     CUR_BASE, %edx
        inc     %edx
        xor     %eax, %eax
        in      %dx, %al
        mov     %eax, %ecx
        shl     $8, %ecx
        add     $6, %edx
        in      %dx, %al
        or      %ecx, %eax
        pop     %rdx
        pop     %rcx
        ret

// Check %edi: status | error << 8 is %rdx.
ide_check:
        call    ide_result
        jmp     expect

// %rax = count | LBA low << 8 | mid << 16 | high << 24: a signature.
ide_signature:
        push    %rcx
        push    %rdx
        mov     CUR_BASE, %edx
        add     $5, %edx
        xor     %ecx, %ecx
1:      shl     $8, %ecx
        xor     %eax, %eax
        in      %dx, %al
        or      %eax, %ecx
        dec     %edx
        mov     CUR_BASE, %eax
        inc     %eax
        cmp     %eax, %edx
        jne     1b
        mov     %ecx, %eax
        pop     %rdx
        pop     %rcx
        ret

// Device control = %al.
ide_control:
        push    %rdx
        mov     CUR_CTRL, %edx
        out     %al, %dx
        pop     %rdx
        ret

// SRST set, then cleared (interrupts enabled).
ide_srst:
        mov     $0x04, %al
        call    ide_control
        xor     %eax, %eax
        jmp     ide_control

// Device register = %al.
ide_select:
        push    %rdx
        mov     CUR_BASE, %edx
        add     $6, %edx
        out     %al, %dx
        pop     %rdx
        ret

// The bus master stopped, its error and interrupt bits cleared, the table at %esi, the
// direction %ecx (TO_MEM: the controller writes RAM).
bm_setup:
        push    %rdx
        mov     CUR_BM, %edx
        xor     %eax, %eax
        out     %al, %dx
        add     $2, %edx
        mov     $0x66, %al                // clear error and interrupt; both drives DMA capable
        out     %al, %dx
        add     $2, %edx
        mov     %esi, %eax
        out     %eax, %dx
        sub     $4, %edx
        mov     %ecx, %eax
        and     $TO_MEM, %eax
        out     %al, %dx
        pop     %rdx
        ret

// Starts the bus master in direction %ecx.
bm_start:
        push    %rdx
        mov     CUR_BM, %edx
        mov     %ecx, %eax
        and     $TO_MEM, %eax
        or      $1, %eax
        out     %al, %dx
        pop     %rdx
        ret

bm_stop:
        push    %rdx
        mov     CUR_BM, %edx
        xor     %eax, %eax
        out     %al, %dx
        pop     %rdx
        ret

// %rax = the bus-master status register.
bm_status_byte:
        push    %rdx
        mov     CUR_BM, %edx
        add     $2, %edx
        xor     %eax, %eax
        in      %dx, %al
        pop     %rdx
        ret

// Check %edi: the bus-master status's interrupt, error and active bits are %rdx.
bm_check:
        call    bm_status_byte
        and     $7, %eax
        jmp     expect

// A descriptor at %rdi: region %esi, byte count %cx (0: 64 KiB), end of table when %ecx has
// EOT.
put_prd:
        mov     %esi, (%rdi)
        mov     %ecx, %eax
        and     $0xFFFF, %eax
        test    %ecx, %ecx
        jns     1f
        or      $0x80000000, %eax
1:      mov     %eax, 4(%rdi)
        ret

// Dword %ebx of sector %esi in pattern %edx: kind 0 is the image as the test made it (every
// dword the sector number, or zero with BLANK_DISK), any other what the guest writes: 1 << 31 |
// kind << 24 | sector << 8 | dword index.
pattern_dword:
        test    %edx, %edx
        jz      1f
        mov     %edx, %eax
        shl     $24, %eax
        or      $0x80000000, %eax
        push    %rsi
        shl     $8, %esi
        or      %esi, %eax
        pop     %rsi
        or      %ebx, %eax
        ret
1:      xor     %eax, %eax                // kind 0: zeros on a blank disk, else the number
        cmpl    $0, BLANK_DISK
        jne     2f
        mov     %esi, %eax
2:      ret

// %ecx sectors of pattern %edx from sector %esi on, at %rdi.
fill_pattern:
        push    %rbx
        push    %rcx
        push    %rsi
        push    %rdi
        test    %ecx, %ecx
        jz      3f
1:      xor     %ebx, %ebx
2:      call    pattern_dword
        mov     %eax, (%rdi)
        add     $4, %rdi
        inc     %ebx
        cmp     $128, %ebx
        jb      2b
        inc     %esi
        dec     %ecx
        jnz     1b
3:      pop     %rdi
        pop     %rsi
        pop     %rcx
        pop     %rbx
        ret

// %rax = 0 when the %ecx sectors at %rdi hold pattern %edx from sector %esi on, else the
// address of the first dword that does not.
pattern_check:
        push    %rbx
        push    %rcx
        push    %rsi
        push    %rdi
        test    %ecx, %ecx
        jz      3f
1:      xor     %ebx, %ebx
2:      call    pattern_dword
        cmp     %eax, (%rdi)
        jne     4f
        add     $4, %rdi
        inc     %ebx
        cmp     $128, %ebx
        jb      2b
        inc     %esi
        dec     %ecx
        jnz     1b
3:      xor     %eax, %eax
        jmp     5f
4:      mov     %rdi, %rax
5:      pop     %rdi
        pop     %rsi
        pop     %rcx
        pop     %rbx
        ret

// PIO data-in of %ecx sectors into %rdi: per sector, Status, then 256 words (128 dwords when
// PIO_DWORDS). %rax = 0 when every Status showed DRQ without BSY or ERR.
pio_in:
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rdi
        push    %r9
        mov     %ecx, %ebx
        xor     %r9d, %r9d
1:      mov     CUR_BASE, %edx
        add     $7, %edx
        xor     %eax, %eax
        in      %dx, %al
        and     $0x89, %eax
        xor     $0x08, %eax
        or      %eax, %r9d
        mov     CUR_BASE, %edx
        mov     $256, %ecx
        cmpl    $0, PIO_DWORDS
        je      2f
        shr     %ecx
        rep insl
        jmp     3f
2:      rep insw
3:      dec     %ebx
        jnz     1b
        mov     %r9d, %eax
        pop     %r9
        pop     %rdi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        ret

// PIO data-out of %ecx sectors from %rsi, as pio_in reads them.
pio_out:
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rsi
        push    %r9
        mov     %ecx, %ebx
        xor     %r9d, %r9d
1:      mov     CUR_BASE, %edx
        add     $7, %edx
        xor     %eax, %eax
        in      %dx, %al
        and     $0x89, %eax
        xor     $0x08, %eax
        or      %eax, %r9d
        mov     CUR_BASE, %edx
        mov     $256, %ecx
        cmpl    $0, PIO_DWORDS
        je      2f
        shr     %ecx
        rep outsl
        jmp     3f
2:      rep outsw
3:      dec     %ebx
        jnz     1b
        mov     %r9d, %eax
        pop     %r9
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        ret

// Runs the DMA_CASE records from %r12 to %r13 on the current channel; case i checks
// %ebp + 16 * i + 0..8.
dma_cases_run:
        push    %rbp
        push    %r12
1:      cmp     %r13, %r12
        jae     2f
        call    dma_case
        add     $DMA_CASE_BYTES, %r12
        add     $16, %ebp
        jmp     1b
2:      pop     %r12
        pop     %rbp
        ret

// One DMA_CASE at %r12: IDE_IN filled with 0xAA; the data to write (or the place a read goes
// to, when it is not IDE_IN) prepared; the descriptors written where they are in RAM; the
// checksums taken; the engine programmed and started (before or after the command); then
// checks %ebp: the bus-master status, +1 status and error, +2 IDE_IN past what was moved there
// untouched, +3 the data read, +4..+8 the checksums.
dma_case:
        push    %rbx
        mov     $IDE_IN, %edi
        mov     $IDE_IN_BYTES, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        movzbl  34(%r12), %ebx            // flags
        mov     $IDE_OUT, %edi
        test    $AT_A0, %ebx
        jz      1f
        mov     4(%r12), %edi
1:      test    $TO_MEM, %ebx
        jnz     2f
        mov     24(%r12), %esi            // a write: its data
        movzwl  32(%r12), %ecx
        cmp     $512, %ecx
        ja      3f
        movzbl  35(%r12), %edx
        call    fill_pattern
        jmp     3f
2:      test    $AT_A0, %ebx              // a read elsewhere: clear its place
        jz      3f
        mov     40(%r12), %ecx
        mov     $0xAA, %al
        call    fill_bytes
3:      mov     (%r12), %edi              // the descriptors that are in RAM
        cmp     $RAM_END - 8, %edi
        ja      4f
        mov     4(%r12), %esi
        mov     8(%r12), %ecx
        call    put_prd
        cmpl    $PRD_NONE, 16(%r12)
        je      4f
        cmp     $RAM_END - 16, %edi
        ja      4f
        add     $8, %edi
        mov     12(%r12), %esi
        mov     16(%r12), %ecx
        call    put_prd
4:      call    save_sums
        mov     (%r12), %esi
        mov     %ebx, %ecx
        call    bm_setup
        test    $EARLY, %ebx
        jz      5f
        call    bm_start
5:      mov     20(%r12), %eax
        mov     24(%r12), %rsi
        movzwl  32(%r12), %ecx
        call    ide_cmd
        test    $EARLY, %ebx
        jnz     6f
        mov     %ebx, %ecx
        call    bm_start
6:      movzbl  36(%r12), %edx
        mov     %ebp, %edi
        call    bm_check
        movzbl  38(%r12), %edx
        shl     $8, %edx
        movzbl  37(%r12), %eax
        or      %eax, %edx
        inc     %edi
        call    ide_check
        call    bm_stop
        mov     $IDE_IN, %edi             // IDE_IN past what a read put there
        mov     $IDE_IN_BYTES, %ecx
        test    $TO_MEM, %ebx
        jz      7f
        test    $AT_A0, %ebx
        jnz     7f
        mov     40(%r12), %eax
        add     %rax, %rdi
        sub     %eax, %ecx
7:      mov     $0xAA, %al
        call    bytes_equal
        xor     %edx, %edx
        lea     2(%rbp), %edi
        call    expect
        test    $TO_MEM, %ebx             // what a read brought
        jz      8f
        mov     40(%r12), %ecx
        shr     $9, %ecx
        jz      8f
        mov     $IDE_IN, %edi
        test    $AT_A0, %ebx
        jz      9f
        mov     4(%r12), %edi
9:      mov     24(%r12), %esi
        movzbl  35(%r12), %edx
        call    pattern_check
        xor     %edx, %edx
        lea     3(%rbp), %edi
        call    expect
8:      lea     4(%rbp), %edi
        and     $TO_MEM | AT_A0, %ebx
        cmp     $TO_MEM | AT_A0, %ebx
        jne     9f
        call    check_sums_but_ram_end    // a read into the last 64 KiB of RAM
        pop     %rbx
        ret
9:      call    check_sums
        pop     %rbx
        ret

// The 12-byte command packet at %rsi into IDE_CDB.
set_cdb:
        mov     (%rsi), %rax
        mov     %rax, IDE_CDB
        mov     8(%rsi), %eax
        mov     %eax, IDE_CDB + 8
        ret

// PACKET to the current channel's master, by DMA when %ecx has bit 16, with byte count limit
// %cx; then the packet at IDE_CDB. Counts in ATAPI_BAD a drive that did not ask for the packet
// (DRQ and C/D, no BSY).
atapi_packet:
        push    %rcx
        push    %rdx
        push    %rsi
        mov     CUR_BASE, %edx
        inc     %edx
        mov     %ecx, %eax
        shr     $16, %eax
        and     $1, %eax
        out     %al, %dx                  // features: DMA
        add     $3, %edx
        mov     %ecx, %eax
        out     %al, %dx                  // byte count limit
        inc     %edx
        mov     %ch, %al
        out     %al, %dx
        inc     %edx
        mov     $0xA0, %al
        out     %al, %dx                  // device 0
        inc     %edx
        out     %al, %dx                  // PACKET
        xor     %eax, %eax
        in      %dx, %al
        and     $0x89, %eax
        cmp     $0x08, %eax
        jne     1f
        mov     CUR_BASE, %edx
        add     $2, %edx
        in      %dx, %al
        and     $3, %eax
        cmp     $1, %eax
        je      2f
1:      incl    ATAPI_BAD
2:      mov     CUR_BASE, %edx
        mov     $IDE_CDB, %esi
        mov     $6, %ecx
        rep outsw
        pop     %rsi
        pop     %rdx
        pop     %rcx
        ret

// The PIO data phase of the current PACKET command into IDE_IN (wrapping within 512 KiB):
// while DRQ, the block the byte count announces, at most ATAPI_CAP blocks. %rax = status |
// error << 8 | interrupt reason << 16 at the end (DRQ still set when the cap stopped it);
// ATAPI_BYTES = the bytes announced. Counts in ATAPI_BAD: BSY, a data block without I/O or
// with C/D, a byte count of 0 or above the limit %cx allowed.
atapi_drain:
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rdi
        push    %r9
        push    %r10
        movzwl  %cx, %r9d                 // the largest block allowed
        test    %r9d, %r9d
        jnz     1f
        mov     $0xFFFE, %r9d
1:      cmp     $2, %r9d
        jae     2f
        mov     $2, %r9d
2:      movl    $0, ATAPI_BYTES
        mov     ATAPI_CAP, %r10d
        mov     $IDE_IN, %edi
3:      call    ide_result
        mov     %eax, %ebx
        mov     CUR_BASE, %edx
        add     $2, %edx
        xor     %eax, %eax
        in      %dx, %al
        and     $3, %eax
        shl     $16, %eax
        or      %eax, %ebx
        test    $0x80, %bl
        jz      4f
        incl    ATAPI_BAD
        jmp     9f
4:      test    $0x08, %bl
        jz      9f
        test    %r10d, %r10d
        jz      9f
        dec     %r10d
        mov     %ebx, %eax
        shr     $16, %eax
        cmp     $2, %eax
        je      5f
        incl    ATAPI_BAD
        jmp     9f
5:      mov     CUR_BASE, %edx            // the byte count
        add     $4, %edx
        xor     %eax, %eax
        in      %dx, %al
        mov     %eax, %ecx
        inc     %edx
        in      %dx, %al
        shl     $8, %eax
        or      %eax, %ecx
        jz      6f
        cmp     %r9d, %ecx
        jbe     7f
6:      incl    ATAPI_BAD
        jmp     9f
7:      add     %ecx, ATAPI_BYTES
        lea     (%rdi,%rcx), %rax
        cmp     $IDE_IN + 0x80000, %rax
        jbe     8f
        mov     $IDE_IN, %edi
8:      inc     %ecx
        shr     %ecx
        mov     CUR_BASE, %edx
        rep insw
        jmp     3b
9:      mov     %ebx, %eax
        pop     %r10
        pop     %r9
        pop     %rdi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        ret

// atapi_packet, then atapi_drain; a transfer the cap stopped is ended by DEVICE RESET. %rax as
// atapi_drain returns it.
atapi_cmd:
        call    atapi_packet
        call    atapi_drain
        test    $0x08, %al
        jz      1f
        push    %rax
        push    %rsi
        xor     %esi, %esi
        mov     $0xA008, %eax
        call    ide_cmd
        pop     %rsi
        pop     %rax
1:      ret

// ---- 'a': the AHCI controller and its drives under attack --------------------------------
// The test attaches a sparse, all-zero disk image of AHCI_DISK_SECTORS sectors (-d: SATA port
// 0) and an ISO (-i: port 1, ATAPI), and afterwards checks that the image is still zero except
// where this guest wrote (hostile_guest_test.ts lists the sectors; kind 0 of fill_pattern is
// zeros here). The guest places BAR5 (the ABAR) itself and turns on memory decoding and bus
// mastering; after every attack it recovers the port as a driver does (ahci_restart). One line
// per phase on COM1: "AHCI-INIT", "AHCI-DMA", "AHCI-CMD", "AHCI-ATAPI", "AHCI-RESET" and, after
// one last good write and read, "AHCI"; each "-OK" or "-FAIL ...". Checks: 0x10xx AHCI-INIT,
// 0x11xx command lists and FIS areas outside RAM, 0x14xx-0x18xx the DMA cases (16 each),
// 0x1Fxx scatter/gather and 65535 PRDs, 0x20xx AHCI-CMD, 0x28xx AHCI-ATAPI, 0x30xx AHCI-RESET,
// 0x38xx the end. The HBA runs a command to its end inside the guest's PxCI write, so "mid-
// command" resets and stops come while a failed slot halts the list with another one behind it.
ahci:
        call    guards
        call    apic_versions
        mov     %rax, APIC_VERSIONS
        movl    $1, BLANK_DISK
        call    ahci_init_phase
        lea     ahci_init_name(%rip), %rsi
        call    phase_report
        call    ahci_dma_phase
        lea     ahci_dma_name(%rip), %rsi
        call    phase_report
        call    ahci_cmd_phase
        lea     ahci_cmd_name(%rip), %rsi
        call    phase_report
        call    ahci_atapi_phase
        lea     ahci_atapi_name(%rip), %rsi
        call    phase_report
        call    ahci_reset_phase
        lea     ahci_reset_name(%rip), %rsi
        call    phase_report
        call    ahci_end_phase
        lea     ahci_name(%rip), %rsi
        call    phase_report
        jmp     report

// Slot %ebx: FIS dword 0 `fis`, LBA, count; one PRD of `bytes` at `region` (none for 0);
// issued; check `check`: the outcome (ahci_outcome) is `want`.
        .macro  AHCI_CMD fis, lba, count, region, bytes, want, check
        mov     $\fis, %eax
        movabs  $\lba, %rsi
        mov     $\count, %ecx
        mov     $\region, %edi
        mov     $\bytes, %edx
        call    ahci_put
        call    ahci_issue
        movabs  $\want, %rdx
        mov     $\check, %edi
        call    ahci_check
        .endm

// AHCI_CMD into IDE_IN (0xAA in its first AHCI_IN_BYTES): `sectors` of pattern `kind` from
// `lba` arrive (check + 1), nothing after them (check + 2).
        .macro  AHCI_READ fis, lba, count, sectors, kind, want, check
        mov     $IDE_IN, %edi
        mov     $AHCI_IN_BYTES, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        AHCI_CMD \fis, \lba, \count, IDE_IN, \sectors * 512, \want, \check
        mov     $IDE_IN, %edi
        mov     $\lba, %esi
        mov     $\sectors, %ecx
        mov     $\kind, %edx
        call    pattern_check
        xor     %edx, %edx
        mov     $\check + 1, %edi
        call    expect
        mov     $IDE_IN + \sectors * 512, %edi
        mov     $AHCI_IN_BYTES - \sectors * 512, %ecx
        mov     $0xAA, %al
        call    bytes_equal
        mov     $\check + 2, %edi
        call    expect
        .endm

// ---- AHCI-INIT: the function, the ports, IDENTIFY, legitimate DMA and NCQ -----------------
ahci_init_phase:
        // 1. 00:03.0 is the ICH9 AHCI function; BAR5 sizes as 8 KiB of 32-bit memory; put it at
        //    ABAR with memory decoding and bus mastering on; CAP, PI; GHC keeps AE, takes IE.
        mov     $AHCI_CFG, %eax
        call    pci_read
        mov     $0x29228086, %edx
        mov     $0x1000, %edi
        call    expect
        mov     $AHCI_CFG | 0x24, %eax
        mov     $0xFFFFFFFF, %ecx
        call    pci_write
        mov     $AHCI_CFG | 0x24, %eax
        call    pci_read
        mov     $0xFFFFE000, %edx
        mov     $0x1001, %edi
        call    expect
        mov     $AHCI_CFG | 0x24, %eax
        mov     $ABAR, %ecx
        call    pci_write
        mov     $6, %ecx                  // memory space, bus master
        call    ahci_pci_command
        mov     $ABAR, %ecx
        mov     (%rcx), %eax              // CAP
        mov     $0xE1249F05, %edx
        mov     $0x1002, %edi
        call    expect
        mov     0x0C(%rcx), %eax          // PI: six ports
        mov     $0x3F, %edx
        mov     $0x1003, %edi
        call    expect
        movl    $0x00000002, 4(%rcx)      // GHC: IE (AE stays: it is read-only 1)
        mov     4(%rcx), %eax
        mov     $0x80000002, %edx
        mov     $0x1004, %edi
        call    expect

        // 2. A disk on port 0 (link up, its signature), the CD on 1, nothing on 2.
        xor     %eax, %eax
        call    ahci_use_port
        mov     $PX_SSTS, %ecx
        call    px_read
        and     $0xF, %eax
        mov     $3, %edx
        mov     $0x1005, %edi
        call    expect
        mov     $PX_SIG, %ecx
        call    px_read
        mov     $0x101, %edx
        mov     $0x1006, %edi
        call    expect
        mov     $2, %eax
        call    ahci_use_port
        mov     $PX_SSTS, %ecx
        call    px_read
        xor     %edx, %edx
        mov     $0x1007, %edi
        call    expect
        mov     $1, %eax
        call    ahci_use_port
        mov     $PX_SIG, %ecx
        call    px_read
        mov     $0xEB140101, %edx
        mov     $0x1008, %edi
        call    expect
        call    ahci_restart
        xor     %eax, %eax
        call    ahci_use_port
        call    ahci_restart
        mov     $PX_CMD, %ecx
        call    px_read
        and     $CMD_ST | CMD_FRE | CMD_FR | CMD_CR, %eax
        mov     $CMD_ST | CMD_FRE | CMD_FR | CMD_CR, %edx
        mov     $0x1009, %edi
        call    expect

        // 3. IDENTIFY DEVICE by PIO into one PRD: the capacity, NCQ with 32 tags.
        xor     %ebx, %ebx
        AHCI_CMD H2D_CMD(0xEC), 0, 0, IDE_IDENT, 512, AHCI_OUT(0, 0x50, 0, 0), 0x100A
        mov     IDE_IDENT + 200, %rax     // words 100-103
        mov     $AHCI_DISK_SECTORS, %edx
        mov     $0x100B, %edi
        call    expect
        movzwl  IDE_IDENT + 152, %eax     // word 76 bit 8: NCQ
        and     $0x100, %eax
        mov     $0x100, %edx
        mov     $0x100C, %edi
        call    expect
        movzwl  IDE_IDENT + 150, %eax     // word 75: queue depth - 1
        and     $0x1F, %eax
        mov     $31, %edx
        mov     $0x100D, %edi
        call    expect

        // 4. DMA done right: sectors 64-71 (kind 20) written and read back; WRITE/READ FPDMA
        //    QUEUED with tags 2 and 7 in their own slots (128-131, kind 21); the last sector by
        //    28-bit WRITE DMA (kind 22).
        mov     $IDE_OUT, %edi
        mov     $64, %esi
        mov     $8, %ecx
        mov     $20, %edx
        call    fill_pattern
        AHCI_CMD H2D_CMD(0x35), 64, 8, IDE_OUT, 0x1000, AHCI_OUT(IS_DHRS, 0x50, 0, 0), 0x1010
        AHCI_READ H2D_CMD(0x25), 64, 8, 8, 20, AHCI_OUT(IS_DHRS, 0x50, 0, 0), 0x1011
        mov     $IDE_OUT, %edi
        mov     $128, %esi
        mov     $4, %ecx
        mov     $21, %edx
        call    fill_pattern
        mov     $2, %ebx
        mov     $PX_SACT, %ecx
        mov     $1 << 2, %edx
        call    px_write
        AHCI_CMD H2D_FEAT(0x61, 4), 128, 2 << 3, IDE_OUT, 0x800, AHCI_OUT(IS_SDBS, 0x50, 0, 0), 0x1014
        mov     $7, %ebx
        mov     $PX_SACT, %ecx
        mov     $1 << 7, %edx
        call    px_write
        AHCI_READ H2D_FEAT(0x60, 4), 128, 7 << 3, 4, 21, AHCI_OUT(IS_SDBS, 0x50, 0, 0), 0x1015
        xor     %ebx, %ebx
        mov     $IDE_OUT, %edi
        mov     $AHCI_DISK_SECTORS - 1, %esi
        mov     $1, %ecx
        mov     $22, %edx
        call    fill_pattern
        AHCI_CMD H2D_CMD(0xCA), AHCI_LAST, 1, IDE_OUT, 512, AHCI_OUT(IS_DHRS, 0x50, 0, 0), 0x1018
        AHCI_READ H2D_CMD(0xC8), AHCI_LAST, 1, 1, 22, AHCI_OUT(IS_DHRS, 0x50, 0, 0), 0x1019

        // 5. One PRD of the largest size, 4 MiB, in SCRATCH: 8192 sectors; PRDBC says so.
        AHCI_CMD H2D_CMD(0x25), 0, 0x2000, SCRATCH, 0x400000, AHCI_OUT(IS_DHRS, 0x50, 0, 0), 0x101C
        call    ahci_header
        mov     4(%rax), %eax
        mov     $0x400000, %edx
        mov     $0x101D, %edi
        call    expect
        mov     $0x1020, %edi
        call    check_sums
        ret

// ---- AHCI-DMA: command lists, FIS areas, command tables and PRDs outside RAM; short PRDTs ---
ahci_dma_phase:
        xor     %eax, %eax
        call    ahci_use_port
        call    ahci_restart
        // 1. The command list outside RAM (slot 0, and slot 31 at its top): HBFS, the slot stays
        //    issued, PxTFD aborted. The FIS area outside RAM: the command (a read) runs, its
        //    D2H FIS has nowhere to go: HBFS.
        lea     ahci_outside(%rip), %r12
        lea     ahci_outside_end(%rip), %r13
        mov     $0x1100, %ebp
1:      mov     $31, %ebx
        call    ahci_bait
        xor     %ebx, %ebx
        call    ahci_bait
        call    save_sums
        mov     $PX_CLB, %ecx
        mov     (%r12), %edx
        call    px_write
        mov     $PX_CLBU, %ecx
        mov     4(%r12), %edx
        call    px_write
        call    ahci_issue
        movabs  $AHCI_OUT(IS_HBFS, 0x0451, 1, 0), %rdx
        mov     %ebp, %edi
        call    ahci_check
        call    ahci_restart
        mov     $PX_CLB, %ecx
        mov     (%r12), %edx
        call    px_write
        mov     $PX_CLBU, %ecx
        mov     4(%r12), %edx
        call    px_write
        mov     $31, %ebx
        call    ahci_issue
        movabs  $AHCI_OUT(IS_HBFS, 0x0451, 1, 0), %rdx
        lea     1(%rbp), %edi
        call    ahci_check
        call    ahci_restart
        mov     $PX_FB, %ecx
        mov     (%r12), %edx
        call    px_write
        mov     $PX_FBU, %ecx
        mov     4(%r12), %edx
        call    px_write
        xor     %ebx, %ebx
        call    ahci_issue
        movabs  $AHCI_OUT(IS_HBFS, 0x50, 1, 0), %rdx
        lea     2(%rbp), %edi
        call    ahci_check
        call    ahci_restart
        lea     3(%rbp), %edi
        call    check_sums
        add     $8, %r12
        add     $16, %ebp
        cmp     %r13, %r12
        jb      1b

        // 2. The cases: tables and PRDs outside RAM and across its end, short PRDTs, bad FISes,
        //    LBAs beyond the image, NCQ.
        lea     ahci_cases(%rip), %r12
        lea     ahci_cases_end(%rip), %r13
        mov     $0x1400, %ebp
2:      call    ahci_case
        add     $AHCI_CASE_BYTES, %r12
        add     $16, %ebp
        cmp     %r13, %r12
        jb      2b

        // 3. Scatter/gather done right, across the drive's batches of 64 regions: 130 sectors
        //    (3000-3129, kind 41) written from 130 PRDs naming their places in RAM in reverse
        //    order, read back into PRDs of 256 and 768 bytes in turn; 130 sectors (3200-3329,
        //    kind 42) written from PRDs of 256 and 768 bytes, read back into PRDs of 512.
        xor     %ecx, %ecx
4:      mov     $129, %edi                // PRD i: sector 3000 + i, at IDE_OUT + 512 * (129 - i)
        sub     %ecx, %edi
        shl     $9, %edi
        add     $IDE_OUT, %edi
        lea     3000(%rcx), %esi
        push    %rcx
        mov     $1, %ecx
        mov     $41, %edx
        call    fill_pattern
        mov     (%rsp), %eax
        mov     %rdi, %rsi
        shl     $4, %eax
        lea     AHCI_CT + 0x80(%rax), %rdi
        mov     $0x1FF, %ecx
        call    put_ahci_prd
        pop     %rcx
        inc     %ecx
        cmp     $130, %ecx
        jb      4b
        movl    $130, AHCI_PRDTL
        mov     $H2D_CMD(0x35), %eax
        mov     $3000, %esi
        mov     $130, %ecx
        call    ahci_table_issue
        movabs  $AHCI_OUT(IS_DHRS, 0x50, 0, 0), %rdx
        mov     $0x1F10, %edi
        call    ahci_check
        call    ahci_header
        mov     4(%rax), %eax             // PRDBC
        mov     $130 * 512, %edx
        mov     $0x1F11, %edi
        call    expect
        mov     $IDE_IN, %esi
        mov     $0xFF, %ecx
        mov     $0x2FF, %edx
        call    ahci_prdt_run
        mov     $H2D_CMD(0x25), %eax
        mov     $3000, %esi
        mov     $130, %ecx
        mov     $41, %edx
        mov     $0x1F12, %ebp
        call    ahci_scatter_read
        mov     $IDE_OUT, %edi
        mov     $3200, %esi
        mov     $130, %ecx
        mov     $42, %edx
        call    fill_pattern
        mov     $IDE_OUT, %esi
        mov     $0xFF, %ecx
        mov     $0x2FF, %edx
        call    ahci_prdt_run
        mov     $H2D_CMD(0x35), %eax
        mov     $3200, %esi
        mov     $130, %ecx
        call    ahci_table_issue
        movabs  $AHCI_OUT(IS_DHRS, 0x50, 0, 0), %rdx
        mov     $0x1F16, %edi
        call    ahci_check
        mov     $IDE_IN, %esi
        mov     $0x1FF, %ecx
        mov     $0x1FF, %edx
        call    ahci_prdt_run
        mov     $H2D_CMD(0x25), %eax
        mov     $3200, %esi
        mov     $130, %ecx
        mov     $42, %edx
        mov     $0x1F17, %ebp
        call    ahci_scatter_read
        // 199 sectors (3400-3598, kind 43) from PRDs of 256, 256, then 512 bytes: a first
        // batch of part sectors, then whole-sector batches; read back the same way.
        mov     $IDE_OUT, %edi
        mov     $3400, %esi
        mov     $199, %ecx
        mov     $43, %edx
        call    fill_pattern
        mov     $IDE_OUT, %esi
        call    ahci_prdt_halves
        mov     $H2D_CMD(0x35), %eax
        mov     $3400, %esi
        mov     $199, %ecx
        call    ahci_table_issue
        movabs  $AHCI_OUT(IS_DHRS, 0x50, 0, 0), %rdx
        mov     $0x1F1A, %edi
        call    ahci_check
        mov     $IDE_IN, %esi
        call    ahci_prdt_halves
        mov     $H2D_CMD(0x25), %eax
        mov     $3400, %esi
        mov     $199, %ecx
        mov     $43, %edx
        mov     $0x1F1B, %ebp
        call    ahci_scatter_read
        mov     $0x1F20, %edi
        call    check_sums

        // 4. PRDTL 65535: descriptors of 2 bytes (DBC 0 and 1), one after another in SCRATCH,
        //    131070 bytes, 2 short of 256 sectors. A read fills them all and ends in IFS and
        //    OFS; a write puts at most 255 sectors (2000-2254, kind 32) on the disk.
        mov     $AHCI_BIG + 0x80, %edi
        mov     $SCRATCH, %esi
        xor     %ecx, %ecx
3:      mov     %ecx, %eax
        and     $1, %eax
        mov     %rsi, (%rdi)
        movl    $0, 8(%rdi)
        mov     %eax, 12(%rdi)
        add     $16, %rdi
        add     $2, %esi
        inc     %ecx
        cmp     $65535, %ecx
        jb      3b
        mov     $H2D_CMD(0x25), %eax
        xor     %esi, %esi
        mov     $256, %ecx
        call    ahci_big_command
        movabs  $AHCI_OUT(IS_IFS | IS_OFS, 0x0451, 1, 0), %rdx
        mov     $0x1F00, %edi
        call    ahci_check
        call    ahci_header
        mov     4(%rax), %eax
        mov     $131070, %edx
        mov     $0x1F01, %edi
        call    expect
        call    ahci_restart
        mov     $SCRATCH, %edi
        mov     $2000, %esi
        mov     $256, %ecx
        mov     $32, %edx
        call    fill_pattern
        mov     $H2D_CMD(0x35), %eax
        mov     $2000, %esi
        mov     $256, %ecx
        call    ahci_big_command
        movabs  $AHCI_OUT(IS_IFS, 0x0451, 1, 0), %rdx
        mov     $0x1F02, %edi
        call    ahci_check
        call    ahci_restart
        mov     $0x1F03, %edi
        call    check_sums
        ret

// Slot 0: the command FIS (put_cfis: %eax, LBA %rsi, count %cx) in the table at AHCI_CT, whose
// AHCI_PRDTL PRDs are there already; issued.
ahci_table_issue:
        push    %rbx
        push    %rcx
        push    %rdi
        xor     %ebx, %ebx
        mov     $AHCI_CT, %edi
        call    put_cfis
        mov     AHCI_PRDTL, %ecx
        shl     $16, %ecx
        or      $5, %ecx
        call    ahci_header
        mov     %ecx, (%rax)
        movl    $0, 4(%rax)
        movq    $AHCI_CT, 8(%rax)
        call    ahci_issue
        pop     %rdi
        pop     %rcx
        pop     %rbx
        ret

// 130 PRDs at AHCI_CT + 0x80, one region after another from %esi, their DBCs %ecx and %edx
// in turn.
ahci_prdt_run:
        push    %rcx
        push    %rsi
        push    %rdi
        push    %r9
        mov     $AHCI_CT + 0x80, %edi
        mov     $65, %r9d
1:      call    put_ahci_prd
        lea     1(%rsi,%rcx), %esi
        add     $16, %edi
        xchg    %ecx, %edx
        call    put_ahci_prd
        lea     1(%rsi,%rcx), %esi
        add     $16, %edi
        xchg    %ecx, %edx
        dec     %r9d
        jnz     1b
        movl    $130, AHCI_PRDTL
        pop     %r9
        pop     %rdi
        pop     %rsi
        pop     %rcx
        ret

// 200 PRDs at AHCI_CT + 0x80, one region after another from %esi: 256, 256, then 512 bytes.
ahci_prdt_halves:
        push    %rcx
        push    %rsi
        push    %rdi
        push    %r9
        mov     $AHCI_CT + 0x80, %edi
        xor     %r9d, %r9d
1:      mov     $0x1FF, %ecx
        cmp     $2, %r9d
        jae     2f
        mov     $0xFF, %ecx
2:      call    put_ahci_prd
        lea     1(%rsi,%rcx), %esi
        add     $16, %edi
        inc     %r9d
        cmp     $200, %r9d
        jb      1b
        movl    $200, AHCI_PRDTL
        pop     %r9
        pop     %rdi
        pop     %rsi
        pop     %rcx
        ret

// READ (FIS dword 0 %eax) of %ecx sectors at %esi into the PRDs at AHCI_CT, which name IDE_IN
// (0xAA first, and 4 KiB after): checks %ebp the outcome, +1 the pattern %edx arrived, +2
// nothing after it.
ahci_scatter_read:
        push    %rcx
        push    %rdx
        push    %rdi
        push    %rax
        push    %rcx
        mov     $IDE_IN, %edi
        shl     $9, %ecx
        add     $0x1000, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        pop     %rcx
        pop     %rax
        call    ahci_table_issue
        push    %rdx
        movabs  $AHCI_OUT(IS_DHRS, 0x50, 0, 0), %rdx
        mov     %ebp, %edi
        call    ahci_check
        pop     %rdx
        mov     $IDE_IN, %edi
        call    pattern_check
        push    %rdx
        xor     %edx, %edx
        lea     1(%rbp), %edi
        call    expect
        pop     %rdx
        mov     %ecx, %edi
        shl     $9, %edi
        add     $IDE_IN, %edi
        mov     $0x1000, %ecx
        mov     $0xAA, %al
        call    bytes_equal
        xor     %edx, %edx
        lea     2(%rbp), %edi
        call    expect
        pop     %rdi
        pop     %rdx
        pop     %rcx
        ret

// Slot %ebx: READ DMA EXT of sector 0 into IDE_IN, what the pointer attacks find if they are
// taken for RAM.
ahci_bait:
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        mov     $H2D_CMD(0x25), %eax
        xor     %esi, %esi
        mov     $1, %ecx
        mov     $IDE_IN, %edi
        mov     $512, %edx
        call    ahci_put
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        ret

// Slot 0: FIS dword 0 %eax, LBA %rsi, count %cx, with the table at AHCI_BIG (PRDTL 65535);
// issued.
ahci_big_command:
        push    %rdi
        xor     %ebx, %ebx
        mov     $AHCI_BIG, %edi
        call    put_cfis
        call    ahci_header
        movl    $5 | 0xFFFF << 16, (%rax)
        movl    $0, 4(%rax)
        movq    $AHCI_BIG, 8(%rax)
        call    ahci_issue
        pop     %rdi
        ret

// One AHCI_CASE at %r12 on slot 0 of the current port: IDE_IN's first AHCI_IN_BYTES 0xAA; the
// data to write prepared; the table's FIS and PRDs written where they are in RAM; the header; the
// checksums taken; PxSACT, then PxCI. Checks %ebp: the outcome, +1 the sectors that arrived in
// IDE_IN, +2 nothing after them, +3..+7 the checksums. The port restarted.
ahci_case:
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        xor     %ebx, %ebx
        mov     $IDE_IN, %edi
        mov     $AHCI_IN_BYTES, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        testb   $TO_MEM, AC_FLAGS(%r12)
        jnz     1f
        mov     $IDE_OUT, %edi
        mov     AC_LBA(%r12), %rsi
        movzwl  AC_COUNT(%r12), %ecx
        movzbl  AC_KIND(%r12), %edx
        call    fill_pattern
1:      mov     AC_CTBA(%r12), %rdi
        and     $~0x7F, %rdi
        mov     $RAM_END - 0x80, %eax
        cmp     %rax, %rdi
        ja      2f                        // the table is not in RAM
        mov     AC_FIS(%r12), %eax
        mov     AC_LBA(%r12), %rsi
        movzwl  AC_COUNT(%r12), %ecx
        call    put_cfis
        add     $0x80, %rdi
        mov     AC_A0(%r12), %rsi
        mov     AC_C0(%r12), %ecx
        call    ahci_case_prd
        add     $16, %rdi
        mov     AC_A1(%r12), %rsi
        mov     AC_C1(%r12), %ecx
        call    ahci_case_prd
2:      call    ahci_header
        mov     AC_DW0(%r12), %ecx
        mov     %ecx, (%rax)
        movl    $0, 4(%rax)
        mov     AC_CTBA(%r12), %rcx
        mov     %rcx, 8(%rax)
        call    save_sums
        mov     $PX_SACT, %ecx
        mov     AC_SACT(%r12), %edx
        call    px_write
        call    ahci_issue
        mov     AC_WANT(%r12), %rdx
        mov     %ebp, %edi
        call    ahci_check
        mov     AC_MOVED(%r12), %ecx      // whole sectors of the pattern in IDE_IN ...
        shr     $9, %ecx
        mov     $IDE_IN, %edi
        mov     AC_LBA(%r12), %rsi
        movzbl  AC_KIND(%r12), %edx
        call    pattern_check
        xor     %edx, %edx
        lea     1(%rbp), %edi
        call    expect
        mov     AC_MOVED(%r12), %ecx      // ... and nothing after what moved
        mov     $IDE_IN, %edi
        add     %ecx, %edi
        neg     %ecx
        add     $AHCI_IN_BYTES, %ecx
        mov     $0xAA, %al
        call    bytes_equal
        lea     2(%rbp), %edi
        call    expect
        lea     3(%rbp), %edi
        call    check_sums
        call    ahci_restart
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        ret

// The PRD at %rdi (region %rsi, DBC %ecx), unless it is PRD_NONE or not in RAM.
ahci_case_prd:
        cmp     $PRD_NONE, %ecx
        je      1f
        mov     $RAM_END - 16, %eax
        cmp     %rax, %rdi
        ja      1f
        call    put_ahci_prd
1:      ret

// ---- AHCI-CMD: every opcode on the disk and on the CD -------------------------------------
ahci_cmd_phase:
        xor     %eax, %eax
        call    ahci_use_port
        call    ahci_restart
        lea     ahci_disk_opcodes(%rip), %r12
        mov     $0x2000, %ebp
        call    ahci_opcode_sweep
        // The disk still reads.
        xor     %ebx, %ebx
        AHCI_READ H2D_CMD(0x25), 64, 8, 8, 20, AHCI_OUT(IS_DHRS, 0x50, 0, 0), 0x2001
        mov     $1, %eax
        call    ahci_use_port
        call    ahci_restart
        lea     ahci_cd_opcodes(%rip), %r12
        mov     $0x2004, %ebp
        call    ahci_opcode_sweep
        mov     $0x2008, %edi
        call    check_sums
        ret

// Every opcode once on the current port's slot 0: count 0, LBA 0, features 0, no PRDT. The
// list at %r12 (first, last, class; class 0xFF ends it) says what the drive does: 1 no error
// (but a data phase finds no PRDT: IFS), 2 IDNF, 3 an error; any other opcode must abort (ERR,
// ABRT). Never HBFS. Check %ebp, with the opcode in bits 63:56 of what it reports.
ahci_opcode_sweep:
        push    %rbx
        push    %r9
        push    %r13
        xor     %ebx, %ebx
        xor     %r13d, %r13d
1:      mov     %r13d, %eax
        shl     $16, %eax
        or      $H2D, %eax
        xor     %esi, %esi
        xor     %ecx, %ecx
        xor     %edx, %edx
        call    ahci_put
        call    ahci_issue
        call    ahci_outcome
        mov     %rax, %r9
        mov     %r12, %rsi                // the class the list names, 0 (abort) by default
        xor     %ecx, %ecx
2:      movzbl  2(%rsi), %eax
        cmp     $0xFF, %eax
        je      4f
        cmp     (%rsi), %r13b
        jb      3f
        cmp     1(%rsi), %r13b
        ja      3f
        mov     %eax, %ecx
        jmp     4f
3:      add     $3, %rsi
        jmp     2b
4:      lea     sweep_masks(%rip), %rsi
        mov     (%rsi,%rcx,8), %rax
        and     %r9, %rax
        lea     sweep_wants(%rip), %rsi
        mov     (%rsi,%rcx,8), %rdx
        mov     %r13, %rcx
        shl     $56, %rcx
        or      %rcx, %rax
        or      %rcx, %rdx
        mov     %ebp, %edi
        call    expect
        call    ahci_restart
        inc     %r13d
        cmp     $256, %r13d
        jb      1b
        pop     %r13
        pop     %r9
        pop     %rbx
        ret

// ---- AHCI-ATAPI: command packets to the CD on port 1 --------------------------------------
ahci_atapi_phase:
        mov     $1, %eax
        call    ahci_use_port
        call    ahci_restart
        xor     %ebx, %ebx
        // 1. IDENTIFY PACKET DEVICE: a CD-ROM.
        AHCI_CMD H2D_CMD(0xA1), 0, 0, IDE_IDENT, 512, AHCI_OUT(0, 0x50, 0, 0), 0x2800
        movzwl  IDE_IDENT, %eax
        shr     $8, %eax
        mov     $0x85, %edx
        mov     $0x2801, %edi
        call    expect
        // 2. TEST UNIT READY until the unit attention is reported (at most 3 times); READ(10)
        //    of the volume descriptor by DMA, by PIO in blocks of 2048 and of 2 bytes.
        call    ahci_cd_ready
        mov     $0x2802, %edi
        call    ahci_check_ok
        lea     ahci_pvd_reads(%rip), %r12
        mov     $0x2804, %ebp
1:      call    ahci_pvd_read
        mov     %ebp, %edi
        call    ahci_check_ok
        lea     1(%rbp), %edi
        call    pvd_check
        call    ahci_restart
        add     $4, %r12
        add     $2, %ebp
        cmpl    $0, (%r12)
        jne     1b

        // 3. READ(10) by DMA with the PRD outside RAM or across its end (HBFS), a PRDT too short
        //    or empty (IFS, OFS): nothing lands past the PRD; the port recovers.
        lea     ahci_cd_dma_cases(%rip), %r12
        mov     $0x2810, %ebp
2:      mov     $IDE_IN, %edi
        mov     $0x1000, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        call    save_sums
        lea     cdb_read_pvd(%rip), %r10
        mov     $0x10000, %ecx            // DMA
        mov     (%r12), %edi
        mov     4(%r12), %edx
        call    ahci_packet
        call    ahci_outcome
        movabs  $AHCI_OUT(IS_TFES | IS_HBFS | IS_IFS | IS_OFS, 0, 1, 0), %rdx
        and     %rdx, %rax
        mov     8(%r12), %rdx
        mov     %ebp, %edi
        call    expect
        mov     $IDE_IN + 0x800, %edi     // nothing past the sector
        mov     $0x800, %ecx
        mov     $0xAA, %al
        call    bytes_equal
        xor     %edx, %edx
        lea     1(%rbp), %edi
        call    expect
        lea     2(%rbp), %edi
        call    check_sums
        call    ahci_restart
        add     $16, %r12
        add     $8, %ebp
        cmpl    $0, 4(%r12)
        jne     2b

        // 4. WRITE(10) and WRITE(12) to the read-only disc: CHECK CONDITION, ILLEGAL REQUEST.
        lea     cdb_write10(%rip), %r10
        mov     $0x10000, %ecx
        mov     $IDE_OUT, %edi
        mov     $0x800, %edx
        call    ahci_packet
        mov     $0x2840, %edi
        call    ahci_check_illegal
        call    ahci_restart
        lea     cdb_write12(%rip), %r10
        mov     $0x800, %ecx
        call    ahci_packet
        mov     $0x2841, %edi
        call    ahci_check_illegal
        call    ahci_restart

        // 5. Random command packets: any bytes, or a command the drive knows with random
        //    fields, under random byte count limits, by PIO or DMA, with no PRDT, one PRD in
        //    SCRATCH or one across the end of RAM. Each must end with PxCI clear and no error,
        //    or with the slot issued and TFES, IFS or HBFS (HBFS only with the PRD outside
        //    RAM, whose part in RAM the command may fill); never BSY or DRQ; a command the drive
        //    does not know must fail.
        call    save_sums
        mov     $AHCI_FUZZ_COUNT, %r13d
3:      mov     $IDE_CDB, %edi
        mov     $3, %ecx
        call    fill_random
        call    next_random
        mov     %eax, %r14d               // the choices
        test    $1, %r14b
        jz      4f
        mov     %r14d, %eax               // a known opcode
        shr     $1, %eax
        and     $15, %eax
        lea     atapi_opcodes(%rip), %rsi
        movzbl  (%rsi,%rax), %eax
        mov     %al, IDE_CDB
4:      mov     %r14d, %eax               // the byte count limit
        shr     $5, %eax
        and     $7, %eax
        lea     atapi_limits(%rip), %rsi
        movzwl  (%rsi,%rax,2), %ecx
        cmp     $7, %eax
        jne     5f
        call    next_random
        movzwl  %ax, %ecx
5:      mov     %r14d, %eax               // PIO or DMA
        and     $0x100, %eax
        shl     $8, %eax
        or      %eax, %ecx
        mov     %r14d, %eax               // the PRDT
        shr     $9, %eax
        and     $3, %eax
        lea     ahci_fuzz_prds(%rip), %rsi
        mov     (%rsi,%rax,8), %edi
        mov     4(%rsi,%rax,8), %edx
        mov     $IDE_CDB, %r10d
        call    ahci_packet
        call    ahci_outcome
        mov     %rax, %r15
        xor     %r9d, %r9d                // what is wrong, a bit each
        bt      $48, %r15                 // issued still <=> an error
        setc    %al
        test    $IS_TFES | IS_HBFS | IS_IFS, %r15d
        setnz   %dl
        cmp     %al, %dl
        je      6f
        or      $1, %r9d
6:      test    $IS_HBFS, %r15d           // HBFS only with the PRD across the end of RAM
        jz      7f
        mov     %r14d, %eax
        shr     $9, %eax
        and     $3, %eax
        cmp     $3, %eax
        je      7f
        or      $2, %r9d
7:      mov     %r15, %rax                // neither BSY nor DRQ
        shr     $32, %rax
        test    $0x88, %al
        jz      8f
        or      $4, %r9d
8:      movzbl  IDE_CDB, %eax             // an unknown command fails
        bt      %eax, scsi_known(%rip)
        jc      9f
        bt      $48, %r15
        jc      9f
        or      $8, %r9d
9:      movzbl  IDE_CDB, %eax
        shl     $32, %rax
        mov     %rax, %rdx
        or      %r9, %rax
        mov     $0x2842, %edi
        call    expect
        call    ahci_restart
        dec     %r13d
        jnz     3b
        mov     $0x2843, %edi             // the PRD across the end of RAM may have filled its
        call    check_sums_but_ram_end    // part of the last page
        call    save_sums

        // 6. The disc back in and unlocked, ready; the volume descriptor reads as before.
        lea     cdb_close(%rip), %r10
        mov     $0x800, %ecx
        xor     %edx, %edx
        call    ahci_packet
        call    ahci_restart
        lea     cdb_unlock(%rip), %r10
        call    ahci_packet
        call    ahci_restart
        call    ahci_cd_ready
        mov     $0x2848, %edi
        call    ahci_check_ok
        lea     ahci_pvd_reads(%rip), %r12
        call    ahci_pvd_read
        mov     $0x2849, %edi
        call    ahci_check_ok
        mov     $0x284A, %edi
        call    pvd_check
        call    ahci_restart
        ret

// TEST UNIT READY on slot 0 of the current port until it succeeds, at most 3 times.
ahci_cd_ready:
        push    %rcx
        push    %rdx
        push    %rdi
        push    %r9
        push    %r10
        mov     $3, %r9d
1:      call    ahci_restart
        lea     cdb_tur(%rip), %r10
        mov     $0x800, %ecx
        xor     %edx, %edx
        call    ahci_packet
        call    ahci_outcome
        bt      $48, %rax
        jnc     2f
        dec     %r9d
        jnz     1b
2:      pop     %r10
        pop     %r9
        pop     %rdi
        pop     %rdx
        pop     %rcx
        ret

// READ(10) of the volume descriptor into IDE_IN (0xAA first) on slot 0, as the dword at %r12
// says: the byte count limit, DMA in bit 16.
ahci_pvd_read:
        push    %rcx
        push    %rdx
        push    %rdi
        push    %r10
        mov     $IDE_IN, %edi
        mov     $0x1000, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        lea     cdb_read_pvd(%rip), %r10
        mov     (%r12), %ecx
        mov     $0x800, %edx
        call    ahci_packet
        pop     %r10
        pop     %rdi
        pop     %rdx
        pop     %rcx
        ret

// Check %edi: the command ended well (no error bits, not issued, no BSY, DRQ or ERR).
ahci_check_ok:
        push    %rdx
        call    ahci_outcome
        movabs  $AHCI_OUT(IS_TFES | IS_HBFS | IS_IFS | IS_OFS, 0x89, 1, 0), %rdx
        and     %rdx, %rax
        xor     %edx, %edx
        call    expect
        pop     %rdx
        ret

// Check %edi: the packet failed with CHECK CONDITION, sense key ILLEGAL REQUEST.
ahci_check_illegal:
        push    %rdx
        call    ahci_outcome
        movabs  $AHCI_OUT(IS_TFES | IS_HBFS | IS_IFS, 0xF001, 1, 0), %rdx
        and     %rdx, %rax
        movabs  $AHCI_OUT(IS_TFES, 0x5001, 1, 0), %rdx
        call    expect
        pop     %rdx
        ret

// ---- AHCI-RESET: bus mastering and memory decoding off, GHC.HR, PxCMD.ST, SRST, COMRESET ---
ahci_reset_phase:
        xor     %eax, %eax
        call    ahci_use_port
        call    ahci_restart
        xor     %ebx, %ebx
        // 1. Bus mastering off: the HBA cannot fetch a command, HBFS; nothing is read or
        //    written (sector 1100). Back on, the same read works.
        mov     $2, %ecx
        call    ahci_pci_command
        mov     $IDE_IN, %edi
        mov     $AHCI_IN_BYTES, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        AHCI_CMD H2D_CMD(0x25), 64, 1, IDE_IN, 512, AHCI_OUT(IS_HBFS, 0x0451, 1, 0), 0x3000
        mov     $IDE_IN, %edi
        mov     $AHCI_IN_BYTES, %ecx
        mov     $0xAA, %al
        call    bytes_equal
        xor     %edx, %edx
        mov     $0x3001, %edi
        call    expect
        call    ahci_restart
        mov     $IDE_OUT, %edi
        mov     $1100, %esi
        mov     $1, %ecx
        mov     $53, %edx
        call    fill_pattern
        AHCI_CMD H2D_CMD(0x35), 1100, 1, IDE_OUT, 512, AHCI_OUT(IS_HBFS, 0x0451, 1, 0), 0x3002
        mov     $6, %ecx
        call    ahci_pci_command
        call    ahci_restart
        AHCI_READ H2D_CMD(0x25), 64, 1, 1, 20, AHCI_OUT(IS_DHRS, 0x50, 0, 0), 0x3003

        // 2. Memory decoding off: a command issued then reaches nobody (sector 1110); back on,
        //    nothing is pending.
        mov     $IDE_OUT, %edi
        mov     $1110, %esi
        mov     $1, %ecx
        mov     $53, %edx
        call    fill_pattern
        mov     $H2D_CMD(0x35), %eax
        mov     $IDE_OUT, %edi
        mov     $512, %edx
        call    ahci_put
        mov     $4, %ecx
        call    ahci_pci_command
        call    ahci_issue
        mov     $6, %ecx
        call    ahci_pci_command
        mov     $PX_CI, %ecx
        call    px_read
        xor     %edx, %edx
        mov     $0x3006, %edi
        call    expect

        // 3. A halted list, slot 1 (a write to sector 1120) behind the failed slot 0: clearing
        //    ST drops it; PxCI and PxSACT written while ST is off are ignored; ST on again runs
        //    nothing.
        mov     $1120, %esi
        call    ahci_halted_pair
        movabs  $AHCI_OUT(IS_HBFS, 0x0451, 1, 0), %rdx
        mov     $0x3007, %edi
        call    ahci_check
        mov     $PX_CI, %ecx
        call    px_read
        mov     $3, %edx
        mov     $0x3008, %edi
        call    expect
        mov     $PX_CMD, %ecx
        mov     $CMD_FRE, %edx
        call    px_write
        mov     $PX_CI, %ecx
        call    px_read
        xor     %edx, %edx
        mov     $0x3009, %edi
        call    expect
        mov     $2, %edx
        call    px_write
        mov     $PX_SACT, %ecx
        call    px_write
        mov     $PX_CI, %ecx
        call    px_read
        mov     $PX_SACT, %ecx
        mov     %eax, %edx
        call    px_read
        or      %edx, %eax
        xor     %edx, %edx
        mov     $0x300A, %edi
        call    expect
        mov     $PX_CMD, %ecx
        mov     $CMD_FRE | CMD_ST, %edx
        call    px_write
        mov     $PX_CI, %ecx
        call    px_read
        xor     %edx, %edx
        mov     $0x300B, %edi
        call    expect
        call    ahci_restart

        // 4. GHC.HR with a halted list (sector 1130): the port in its reset state (stopped,
        //    nothing issued, no status, the disk's signature), the addresses kept, GHC back to
        //    AE alone.
        mov     $1130, %esi
        call    ahci_halted_pair
        call    ahci_hba_reset
        mov     $ABAR, %ecx
        mov     4(%rcx), %eax
        mov     $0x80000000, %edx
        mov     $0x3010, %edi
        call    expect
        mov     $PX_CI, %ecx
        call    px_read
        xor     %edx, %edx
        mov     $0x3011, %edi
        call    expect
        mov     $PX_CMD, %ecx
        call    px_read
        and     $CMD_ST | CMD_FRE | CMD_FR | CMD_CR, %eax
        mov     $0x3012, %edi
        call    expect
        mov     $PX_IS, %ecx
        call    px_read
        mov     $0x3013, %edi
        call    expect
        mov     $PX_SIG, %ecx
        call    px_read
        mov     $0x101, %edx
        mov     $0x3014, %edi
        call    expect
        mov     $PX_CLB, %ecx
        call    px_read
        mov     CUR_CL, %edx
        mov     $0x3015, %edi
        call    expect
        call    ahci_hba_on

        // 5. GHC.HR while SRST is held (a control FIS, C clear): BSY until the reset, then the
        //    disk is ready.
        xor     %ebx, %ebx
        mov     $0x04, %eax
        call    ahci_control
        movabs  $AHCI_OUT(0, 0x80, 0, 0), %rdx
        mov     $0x3016, %edi
        call    ahci_check
        call    ahci_hba_reset
        mov     $PX_TFD, %ecx
        call    px_read
        and     $0xFF, %eax
        mov     $0x50, %edx
        mov     $0x3017, %edi
        call    expect
        call    ahci_hba_on

        // 6. SRST asserted and released by two control FISes: the signature FIS arrives.
        mov     CUR_FB, %edi
        movl    $0, 0x40(%rdi)
        xor     %ebx, %ebx
        mov     $0x04, %eax
        call    ahci_control
        mov     $1, %ebx
        xor     %eax, %eax
        call    ahci_control
        mov     CUR_FB, %eax
        movzbl  0x40(%rax), %eax
        mov     $0x34, %edx
        mov     $0x3018, %edi
        call    expect
        mov     $PX_SIG, %ecx
        call    px_read
        mov     $0x101, %edx
        mov     $0x3019, %edi
        call    expect
        movabs  $AHCI_OUT(0, 0x150, 0, 0), %rdx
        mov     $0x301A, %edi
        call    ahci_check
        call    ahci_restart

        // 7. COMRESET with a halted list (sector 1140): the link and the signature come back;
        //    after the restart nothing is issued.
        mov     $1140, %esi
        call    ahci_halted_pair
        mov     $PX_SCTL, %ecx
        mov     $1, %edx
        call    px_write
        xor     %edx, %edx
        call    px_write
        mov     $PX_SSTS, %ecx
        call    px_read
        and     $0xF, %eax
        mov     $3, %edx
        mov     $0x301B, %edi
        call    expect
        mov     $PX_SIG, %ecx
        call    px_read
        mov     $0x101, %edx
        mov     $0x301C, %edi
        call    expect
        call    ahci_restart
        mov     $PX_CI, %ecx
        call    px_read
        xor     %edx, %edx
        mov     $0x301D, %edi
        call    expect

        // 8. COMRESET with the FIS area outside RAM: the signature FIS has nowhere to go, HBFS.
        mov     $PX_FB, %ecx
        mov     $RAM_END, %edx
        call    px_write
        mov     $PX_IS, %ecx
        mov     $0xFFFFFFFF, %edx
        call    px_write
        mov     $PX_SCTL, %ecx
        mov     $1, %edx
        call    px_write
        xor     %edx, %edx
        call    px_write
        mov     $PX_IS, %ecx
        call    px_read
        and     $IS_HBFS, %eax
        mov     $IS_HBFS, %edx
        mov     $0x301E, %edi
        call    expect
        call    ahci_restart
        // ... and with bus mastering off: the HBA may not write the FIS to RAM; HBFS.
        mov     CUR_FB, %edi
        mov     $0x100, %ecx
        mov     $0xAA, %al
        call    fill_bytes
        mov     $2, %ecx
        call    ahci_pci_command
        mov     $PX_IS, %ecx
        mov     $0xFFFFFFFF, %edx
        call    px_write
        mov     $PX_SCTL, %ecx
        mov     $1, %edx
        call    px_write
        xor     %edx, %edx
        call    px_write
        mov     $6, %ecx
        call    ahci_pci_command
        mov     CUR_FB, %edi
        mov     $0x100, %ecx
        mov     $0xAA, %al
        call    bytes_equal
        xor     %edx, %edx
        mov     $0x302B, %edi
        call    expect
        mov     $PX_IS, %ecx
        call    px_read
        and     $IS_HBFS, %eax
        mov     $IS_HBFS, %edx
        mov     $0x302C, %edi
        call    expect
        call    ahci_restart

        // 9. Ports without a drive (2 and 5), their command list outside RAM: a command issued
        //    there stays issued and nothing happens.
        .irp    port, 2, 5
        mov     $\port, %eax
        call    ahci_use_port
        call    ahci_restart
        mov     $PX_CLB, %ecx
        mov     $RAM_END, %edx
        call    px_write
        xor     %ebx, %ebx
        call    ahci_issue
        movabs  $AHCI_OUT(0, 0x7F, 1, 0), %rdx
        mov     $0x3020 + \port, %edi
        call    ahci_check
        call    ahci_restart
        .endr
        xor     %eax, %eax
        call    ahci_use_port

        // 10. BAR5 moved over RAM (this code), the APICs and the top of 4 GiB and read there,
        //     then back: the registers answer at ABAR again; RAM and the APICs are untouched.
        lea     ahci_bar_places(%rip), %rsi
1:      mov     $AHCI_CFG | 0x24, %eax
        mov     (%rsi), %ecx
        call    pci_write
        mov     (%rsi), %ecx
        mov     (%rcx), %eax
        mov     0x118(%rcx), %eax
        add     $4, %rsi
        cmpl    $0, (%rsi)
        jne     1b
        mov     $AHCI_CFG | 0x24, %eax
        mov     $ABAR, %ecx
        call    pci_write
        mov     $ABAR, %ecx
        mov     (%rcx), %eax
        mov     $0xE1249F05, %edx
        mov     $0x3028, %edi
        call    expect
        mov     $0x3029, %edi
        call    check_apics
        call    ahci_restart
        AHCI_READ H2D_CMD(0x25), 64, 1, 1, 20, AHCI_OUT(IS_DHRS, 0x50, 0, 0), 0x302A

        // 11. MSI enabled with hostile addresses (page 0, the I/O APIC, the top of the 64-bit
        //     space, the local APIC) and data: each command's interrupt is a message that KVM
        //     refuses or delivers (to a guest with interrupts off); nothing lands in RAM.
        lea     ahci_msi_places(%rip), %r12
        lea     ahci_msi_places_end(%rip), %r13
        mov     $0x3030, %ebp
2:      call    save_sums
        mov     $AHCI_CFG | 0x84, %eax
        mov     (%r12), %ecx
        call    pci_write
        mov     $AHCI_CFG | 0x88, %eax
        mov     4(%r12), %ecx
        call    pci_write
        mov     $AHCI_CFG | 0x8C, %eax
        mov     %ebp, %ecx                // the data: anything
        call    pci_write
        mov     $AHCI_CFG | 0x80, %eax
        mov     $0x00810000, %ecx         // message control: 64-bit, enabled
        call    pci_write
        call    ahci_restart
        mov     $H2D_CMD(0x25), %eax
        mov     $64, %esi
        mov     $1, %ecx
        mov     $IDE_IN, %edi
        mov     $512, %edx
        call    ahci_put
        call    ahci_issue
        movabs  $AHCI_OUT(IS_DHRS, 0x50, 0, 0), %rdx
        mov     %ebp, %edi
        call    ahci_check
        lea     1(%rbp), %edi
        call    check_sums
        lea     6(%rbp), %edi
        call    check_apics
        add     $8, %r12
        add     $8, %ebp
        cmp     %r13, %r12
        jb      2b
        mov     $AHCI_CFG | 0x80, %eax
        mov     $0x00800000, %ecx         // MSI off
        call    pci_write
        call    ahci_restart

        // 12. Accesses the HBA refuses: bytes and words to its registers (PxCI, with a write to
        //     sector 1150 in slot 0: it must not run), reads of every width, a dword across the
        //     end of the ABAR, then 8 KiB of byte writes (0xFF) over all of it. The registers
        //     keep their values and the port still works.
        mov     $IDE_OUT, %edi
        mov     $1150, %esi
        mov     $1, %ecx
        mov     $53, %edx
        call    fill_pattern
        xor     %ebx, %ebx
        mov     $H2D_CMD(0x35), %eax
        mov     $512, %edx
        call    ahci_put
        mov     CUR_PX, %ecx
        movb    $1, PX_CI(%rcx)
        movw    $1, PX_CI(%rcx)
        movb    PX_CI(%rcx), %al
        movw    PX_CI(%rcx), %ax
        movq    PX_CLB(%rcx), %rax
        mov     $ABAR + 0x1FFE, %edx
        movl    $0xFFFFFFFF, (%rdx)
        mov     (%rdx), %eax
        mov     $ABAR, %edi
        mov     $0x2000, %ecx
        mov     $0xFF, %al
        rep stosb
        mov     $PX_CI, %ecx
        call    px_read
        xor     %edx, %edx
        mov     $0x3060, %edi
        call    expect
        mov     $PX_CLB, %ecx
        call    px_read
        mov     CUR_CL, %edx
        mov     $0x3061, %edi
        call    expect
        mov     $ABAR, %ecx
        mov     4(%rcx), %eax
        mov     $0x80000002, %edx
        mov     $0x3062, %edi
        call    expect
        call    ahci_restart
        AHCI_READ H2D_CMD(0x25), 64, 1, 1, 20, AHCI_OUT(IS_DHRS, 0x50, 0, 0), 0x3063
        mov     $0x3070, %edi
        call    check_sums
        ret

// Slot 1 of the current port: WRITE DMA EXT of sector %esi (kind 53, never to arrive); slot
// 0: a read whose table is outside RAM. Both issued at once: slot 0 halts the list.
ahci_halted_pair:
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rdi
        mov     $IDE_OUT, %edi
        mov     $1, %ecx
        mov     $53, %edx
        call    fill_pattern
        mov     $1, %ebx
        mov     $H2D_CMD(0x35), %eax
        mov     $512, %edx
        call    ahci_put
        xor     %ebx, %ebx
        mov     $H2D_CMD(0x25), %eax
        call    ahci_put
        call    ahci_header
        movl    $RAM_END, 8(%rax)
        mov     $PX_IS, %ecx
        mov     $0xFFFFFFFF, %edx
        call    px_write
        mov     $PX_CI, %ecx
        mov     $3, %edx
        call    px_write
        pop     %rdi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        ret

// Slot %ebx: a Register FIS with C clear, device control %al; issued.
ahci_control:
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %rax
        mov     $0x27, %eax
        xor     %esi, %esi
        xor     %ecx, %ecx
        xor     %edx, %edx
        call    ahci_put
        pop     %rcx
        mov     %cl, 15(%rax)
        call    ahci_issue
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        ret

// GHC.HR; GHC.IE again and the port restarted.
ahci_hba_reset:
        push    %rcx
        mov     $ABAR, %ecx
        movl    $1, 4(%rcx)
        pop     %rcx
        ret
ahci_hba_on:
        push    %rcx
        mov     $ABAR, %ecx
        movl    $2, 4(%rcx)
        pop     %rcx
        jmp     ahci_restart

// ---- AHCI: after all that, a good write and its read-back ---------------------------------
ahci_end_phase:
        xor     %eax, %eax
        call    ahci_use_port
        call    ahci_restart
        xor     %ebx, %ebx
        mov     $IDE_OUT, %edi
        mov     $5000, %esi
        mov     $16, %ecx
        mov     $40, %edx
        call    fill_pattern
        AHCI_CMD H2D_CMD(0x35), 5000, 16, IDE_OUT, 0x2000, AHCI_OUT(IS_DHRS, 0x50, 0, 0), 0x3800
        AHCI_READ H2D_CMD(0x25), 5000, 16, 16, 40, AHCI_OUT(IS_DHRS, 0x50, 0, 0), 0x3801
        mov     $0x3808, %edi
        call    check_sums
        ret

// ---- AHCI helpers -------------------------------------------------------------------------

// The AHCI function's command register = %ecx.
ahci_pci_command:
        push    %rax
        mov     $AHCI_CFG | 0x04, %eax
        call    pci_write
        pop     %rax
        ret

// Port %eax from now on: its registers, command list and FIS area.
ahci_use_port:
        push    %rcx
        mov     %eax, %ecx
        shl     $7, %ecx
        add     $ABAR + 0x100, %ecx
        mov     %ecx, CUR_PX
        mov     %eax, %ecx
        shl     $10, %ecx
        add     $AHCI_CL, %ecx
        mov     %ecx, CUR_CL
        mov     %eax, %ecx
        shl     $8, %ecx
        add     $AHCI_FB, %ecx
        mov     %ecx, CUR_FB
        pop     %rcx
        ret

// %eax = register %ecx of the current port.
px_read:
        push    %rcx
        add     CUR_PX, %ecx
        mov     (%rcx), %eax
        pop     %rcx
        ret

// Register %ecx of the current port = %edx.
px_write:
        push    %rcx
        add     CUR_PX, %ecx
        mov     %edx, (%rcx)
        pop     %rcx
        ret

// What a driver does after an error: the port stopped (ST and FRE off, CR and FR awaited),
// PxSERR and PxIS cleared, the command list and FIS area where they belong, every interrupt
// enabled (the guest runs with interrupts off), FIS receive and the list started again.
ahci_restart:
        push    %rcx
        push    %rdx
        mov     $PX_CMD, %ecx
        xor     %edx, %edx
        call    px_write
        mov     $1000, %edx
1:      call    px_read
        test    $CMD_CR | CMD_FR, %eax
        jz      2f
        dec     %edx
        jnz     1b
2:      mov     $PX_SERR, %ecx
        mov     $0xFFFFFFFF, %edx
        call    px_write
        mov     $PX_IS, %ecx
        call    px_write
        mov     $PX_IE, %ecx
        call    px_write
        mov     $PX_CLB, %ecx
        mov     CUR_CL, %edx
        call    px_write
        mov     $PX_FB, %ecx
        mov     CUR_FB, %edx
        call    px_write
        xor     %edx, %edx
        mov     $PX_CLBU, %ecx
        call    px_write
        mov     $PX_FBU, %ecx
        call    px_write
        mov     $PX_CMD, %ecx
        mov     $CMD_FRE, %edx
        call    px_write
        mov     $CMD_FRE | CMD_ST, %edx
        call    px_write
        pop     %rdx
        pop     %rcx
        ret

// %rax = slot %ebx's command header in the current command list.
ahci_header:
        mov     %ebx, %eax
        shl     $5, %eax
        add     CUR_CL, %eax
        ret

// The command FIS at %rdi (the rest of the table's first 128 bytes zero): dword 0 %eax (type,
// C bit, command, features 7:0), LBA %rsi (48 bits), device 0x40, count %cx.
put_cfis:
        push    %rdi
        push    %rax
        push    %rcx
        mov     $0x80, %ecx
        xor     %eax, %eax
        rep stosb
        pop     %rcx
        pop     %rax
        pop     %rdi
        mov     %eax, (%rdi)
        mov     %esi, 4(%rdi)
        movb    $0x40, 7(%rdi)
        push    %rsi
        shr     $24, %rsi
        mov     %esi, 8(%rdi)             // LBA 47:24; features 15:8 zero
        pop     %rsi
        mov     %cx, 12(%rdi)
        ret

// A PRD at %rdi: region %rsi, DBC (byte count - 1, I in bit 31) %ecx.
put_ahci_prd:
        mov     %rsi, (%rdi)
        movl    $0, 8(%rdi)
        mov     %ecx, 12(%rdi)
        ret

// Slot %ebx of the current port: the command FIS (put_cfis: %eax, %rsi, %cx) in the table at
// AHCI_CT + 4 KiB * slot, one PRD of %edx bytes at %rdi (none when %edx is 0), the header
// (CFL 5). %rax = the table.
ahci_put:
        push    %rcx
        push    %rsi
        push    %rdi
        push    %r9
        push    %r10
        mov     %rdi, %r9
        mov     %ebx, %r10d
        shl     $12, %r10d
        add     $AHCI_CT, %r10d
        mov     %r10, %rdi
        call    put_cfis
        xor     %eax, %eax
        test    %edx, %edx
        jz      1f
        lea     0x80(%r10), %rdi
        mov     %r9, %rsi
        lea     -1(%rdx), %ecx
        call    put_ahci_prd
        mov     $1 << 16, %eax
1:      or      $5, %eax
        mov     %eax, %ecx
        call    ahci_header
        mov     %ecx, (%rax)
        movl    $0, 4(%rax)
        mov     %r10, 8(%rax)
        movq    $0, 16(%rax)
        movq    $0, 24(%rax)
        mov     %r10, %rax
        pop     %r10
        pop     %r9
        pop     %rdi
        pop     %rsi
        pop     %rcx
        ret

// Slot %ebx: PACKET with the command at %r10 (12 bytes, to ACMD; the header's A bit), byte
// count limit %cx, DMA when %ecx has bit 16; one PRD of %edx bytes at %rdi (none for 0);
// issued.
ahci_packet:
        push    %rcx
        push    %rsi
        mov     %ecx, %esi
        and     $0xFFFF, %esi
        shl     $8, %esi                  // the limit in LBA 23:8
        mov     %ecx, %eax
        and     $0x10000, %eax
        shl     $8, %eax                  // features bit 0: DMA
        or      $H2D_CMD(0xA0), %eax
        xor     %ecx, %ecx
        call    ahci_put
        mov     (%r10), %rcx
        mov     %rcx, 0x40(%rax)
        mov     8(%r10), %ecx
        mov     %ecx, 0x48(%rax)
        call    ahci_header
        orl     $HDR_A, (%rax)
        call    ahci_issue
        pop     %rsi
        pop     %rcx
        ret

// PxIS cleared, then slot %ebx issued (PxCI).
ahci_issue:
        push    %rcx
        push    %rdx
        mov     $PX_IS, %ecx
        mov     $0xFFFFFFFF, %edx
        call    px_write
        mov     $1, %edx
        mov     %ebx, %ecx
        shl     %cl, %edx
        mov     $PX_CI, %ecx
        call    px_write
        pop     %rdx
        pop     %rcx
        ret

// %rax = the current port's state after a command, as AHCI_OUT puts it: PxIS's error and FIS
// bits (IS_SEEN), PxTFD in bits 47:32, PxCI not zero in bit 48, PxSACT not zero in bit 49.
ahci_outcome:
        push    %rcx
        push    %rdx
        mov     $PX_SACT, %ecx
        call    px_read
        xor     %edx, %edx
        test    %eax, %eax
        setnz   %dl
        add     %edx, %edx
        mov     $PX_CI, %ecx
        call    px_read
        test    %eax, %eax
        jz      1f
        or      $1, %edx
1:      shl     $16, %rdx
        mov     $PX_TFD, %ecx
        call    px_read
        movzwl  %ax, %eax
        or      %rax, %rdx
        shl     $32, %rdx
        mov     $PX_IS, %ecx
        call    px_read
        and     $IS_SEEN, %eax
        or      %rdx, %rax
        pop     %rdx
        pop     %rcx
        ret

// Check %edi: the outcome is %rdx.
ahci_check:
        call    ahci_outcome
        jmp     expect

// ---- helpers: all keep every register but %rax (and what they say they return) ------------

// COM1 ready, no failure recorded; the canary, RAM16 and the last page of RAM random; the
// checksums saved.
guards:
        call    com1_init
        movl    $0, FAIL_ID
        movl    $0, FAIL_COUNT
        mov     $CANARY, %edi
        mov     $CANARY_DWORDS, %ecx
        call    fill_random
        mov     $RAM16, %edi
        mov     $1024, %ecx
        call    fill_random
        mov     $RAM_END_PAGE, %edi
        mov     $1024, %ecx
        call    fill_random
        jmp     save_sums

// COM1 to 8N1, DLAB off, no loopback.
com1_init:
        push    %rdx
        mov     $0x3FB, %edx
        mov     $0x03, %al                // LCR: 8N1, DLAB off
        out     %al, %dx
        mov     $0x3FC, %edx
        mov     $0x03, %al                // MCR: DTR|RTS, no loopback
        out     %al, %dx
        pop     %rdx
        ret

// The NUL-terminated string at %rsi, on COM1.
puts:
        push    %rdx
        push    %rsi
        mov     $0x3F8, %edx
1:      movzbl  (%rsi), %eax
        test    %al, %al
        jz      2f
        out     %al, %dx
        inc     %rsi
        jmp     1b
2:      pop     %rsi
        pop     %rdx
        ret

// The low %ecx hex digits of %rax, on COM1.
put_hex:
        push    %rax
        push    %rcx
        push    %rdx
        push    %rdi
        mov     %rax, %rdi
        mov     $0x3F8, %edx
1:      dec     %ecx
        push    %rcx
        shl     $2, %ecx
        mov     %rdi, %rax
        shr     %cl, %rax
        pop     %rcx
        and     $0xF, %eax
        cmp     $10, %eax
        jb      2f
        add     $'a' - '0' - 10, %eax
2:      add     $'0', %eax
        out     %al, %dx
        test    %ecx, %ecx
        jnz     1b
        pop     %rdi
        pop     %rdx
        pop     %rcx
        pop     %rax
        ret

// Check %edi: %rax must equal %rdx. The first failure is kept for phase_report.
expect:
        cmp     %rdx, %rax
        je      1f
        incl    FAIL_COUNT
        cmpl    $0, FAIL_ID
        jne     1f
        mov     %edi, FAIL_ID
        mov     %rax, FAIL_GOT
        mov     %rdx, FAIL_WANT
1:      ret

// "<name>-OK" or "<name>-FAIL check C got G want W (N failed)" for the phase named at %rsi.
phase_report:
        push    %rcx
        push    %rsi
        call    puts
        cmpl    $0, FAIL_COUNT
        jne     1f
        lea     ok_text(%rip), %rsi
        call    puts
        jmp     2f
1:      lea     fail_text(%rip), %rsi
        call    puts
        mov     FAIL_ID, %eax
        mov     $4, %ecx
        call    put_hex
        lea     got_text(%rip), %rsi
        call    puts
        mov     FAIL_GOT, %rax
        mov     $16, %ecx
        call    put_hex
        lea     want_text(%rip), %rsi
        call    puts
        mov     FAIL_WANT, %rax
        call    put_hex
        lea     count_text(%rip), %rsi
        call    puts
        mov     FAIL_COUNT, %eax
        mov     $8, %ecx
        call    put_hex
        lea     failed_text(%rip), %rsi
        call    puts
2:      movl    $0, FAIL_ID
        movl    $0, FAIL_COUNT
        pop     %rsi
        pop     %rcx
        ret

// Fills %ecx dwords at %rdi with random values.
fill_random:
        push    %rcx
        push    %rdi
1:      call    next_random
        mov     %eax, (%rdi)
        add     $4, %rdi
        dec     %ecx
        jnz     1b
        pop     %rdi
        pop     %rcx
        ret

// %rcx bytes of %al at %rdi.
fill_bytes:
        push    %rcx
        push    %rdi
        rep stosb
        pop     %rdi
        pop     %rcx
        ret

// %rax = 0 when the %rcx (> 0) bytes at %rdi all equal %al, else the first that does not.
bytes_equal:
        push    %rcx
        push    %rdi
        repe scasb
        je      1f
        lea     -1(%rdi), %rax
        jmp     2f
1:      xor     %eax, %eax
2:      pop     %rdi
        pop     %rcx
        ret

// %rax = a checksum of the %ecx dwords at %rsi.
checksum:
        push    %rcx
        push    %rdx
        push    %rsi
        xor     %eax, %eax
1:      rol     $5, %rax
        mov     (%rsi), %edx
        add     %rdx, %rax
        add     $4, %rsi
        dec     %ecx
        jnz     1b
        pop     %rsi
        pop     %rdx
        pop     %rcx
        ret

// %rax = the checksum of this code, from image_start to image_end.
code_sum:
        push    %rcx
        push    %rsi
        lea     image_start(%rip), %rsi
        lea     image_end(%rip), %rcx
        sub     %rsi, %rcx
        shr     $2, %ecx
        call    checksum
        pop     %rsi
        pop     %rcx
        ret

// Remembers the checksums of the canary, the code, RAM16, the last page of RAM and page 0.
save_sums:
        push    %rcx
        push    %rsi
        mov     $CANARY, %esi
        mov     $CANARY_DWORDS, %ecx
        call    checksum
        mov     %rax, SUM_CANARY
        call    code_sum
        mov     %rax, SUM_CODE
        mov     $1024, %ecx
        mov     $RAM16, %esi
        call    checksum
        mov     %rax, SUM_RAM16
        mov     $RAM_END_PAGE, %esi
        call    checksum
        mov     %rax, SUM_RAM_END
        xor     %esi, %esi
        call    checksum
        mov     %rax, SUM_PAGE0
        pop     %rsi
        pop     %rcx
        ret

// Checks %edi to %edi + 4: the canary, the code, RAM16, the last page of RAM, page 0.
check_sums:
        push    %rdi
        push    %rsi
        push    %rcx
        push    %rdx
        call    check_sums_but_ram_end
        mov     $RAM_END_PAGE, %esi
        mov     $1024, %ecx
        call    checksum
        mov     SUM_RAM_END, %rdx
        add     $3, %edi
        call    expect
        pop     %rdx
        pop     %rcx
        pop     %rsi
        pop     %rdi
        ret

// check_sums without the last page of RAM (check %edi + 3).
check_sums_but_ram_end:
        push    %rdi
        push    %rsi
        push    %rcx
        push    %rdx
        mov     $CANARY, %esi
        mov     $CANARY_DWORDS, %ecx
        call    checksum
        mov     SUM_CANARY, %rdx
        call    expect
        inc     %edi
        call    code_sum
        mov     SUM_CODE, %rdx
        call    expect
        inc     %edi
        mov     $1024, %ecx
        mov     $RAM16, %esi
        call    checksum
        mov     SUM_RAM16, %rdx
        call    expect
        add     $2, %edi
        xor     %esi, %esi
        call    checksum
        mov     SUM_PAGE0, %rdx
        call    expect
        pop     %rdx
        pop     %rcx
        pop     %rsi
        pop     %rdi
        ret

// %rax = the local APIC's version register | the I/O APIC's << 32.
apic_versions:
        push    %rcx
        push    %rdx
        mov     $0xFEE00030, %ecx
        mov     (%rcx), %eax
        mov     $0xFEC00000, %ecx
        movl    $1, (%rcx)                // IOREGSEL: the version register
        mov     0x10(%rcx), %edx
        shl     $32, %rdx
        or      %rdx, %rax
        pop     %rdx
        pop     %rcx
        ret

// Check %edi: both APICs still answer with the versions they had at the start.
check_apics:
        push    %rdx
        call    apic_versions
        mov     APIC_VERSIONS, %rdx
        call    expect
        pop     %rdx
        ret

// Check %edi: the 4 KiB at %rsi (0xE0000000 for vram_matches) hold what was written to the
// video memory's first 4 KiB (SUM_VRAM).
vram_matches:
        push    %rsi
        mov     $0xE0000000, %esi
        call    vram_matches_at
        pop     %rsi
        ret
vram_matches_at:
        push    %rcx
        push    %rdx
        mov     $1024, %ecx
        call    checksum
        mov     SUM_VRAM, %rdx
        call    expect
        pop     %rdx
        pop     %rcx
        ret

// CONFIG_ADDRESS = %eax.
pci_set:
        push    %rdx
        mov     $0xCF8, %edx
        out     %eax, %dx
        pop     %rdx
        ret

// %eax = the configuration dword at address %eax.
pci_read:
        push    %rdx
        mov     $0xCF8, %edx
        out     %eax, %dx
        mov     $0xCFC, %edx
        in      %dx, %eax
        pop     %rdx
        ret

// The configuration dword at address %eax = %ecx.
pci_write:
        push    %rdx
        mov     $0xCF8, %edx
        out     %eax, %dx
        mov     $0xCFC, %edx
        mov     %ecx, %eax
        out     %eax, %dx
        pop     %rdx
        ret

// VGA command register = %ecx (bit 1: memory decoding).
vga_command:
        push    %rax
        mov     $VGA_CFG | 0x04, %eax
        call    pci_write
        pop     %rax
        ret

// A random value written to a random byte lane of the data window with a random width (byte,
// word, dword; aligned or not).
pci_random_write:
        push    %rcx
        push    %rdx
        call    next_random
        mov     %eax, %ecx
        mov     %eax, %edx
        shr     $2, %edx
        and     $3, %edx
        add     $0xCFC, %edx
        call    next_random
        test    $1, %cl
        jnz     1f
        test    $2, %cl
        jnz     2f
        out     %al, %dx
        jmp     3f
1:      out     %ax, %dx
        jmp     3f
2:      out     %eax, %dx
3:      pop     %rdx
        pop     %rcx
        ret

// A read of random width and byte lane; %eax = 1 when it read as all ones.
pci_random_read:
        push    %rcx
        push    %rdx
        call    next_random
        mov     %eax, %ecx
        mov     %eax, %edx
        shr     $2, %edx
        and     $3, %edx
        add     $0xCFC, %edx
        xor     %eax, %eax
        test    $1, %cl
        jnz     1f
        test    $2, %cl
        jnz     2f
        in      %dx, %al
        cmp     $0xFF, %eax
        jmp     3f
1:      in      %dx, %ax
        cmp     $0xFFFF, %eax
        jmp     3f
2:      in      %dx, %eax
        cmp     $0xFFFFFFFF, %eax
3:      sete    %al
        movzbl  %al, %eax
        pop     %rdx
        pop     %rcx
        ret

// The register CONFIG_ADDRESS selects: a random write and a read through each aligned lane and
// width, then misaligned word and dword accesses, which must be refused (checks 0x122-0x125).
pci_lanes:
        push    %rdx
        push    %rdi
        .irp    port, 0xCFC, 0xCFD, 0xCFE, 0xCFF
        mov     $\port, %edx
        call    next_random
        out     %al, %dx
        in      %dx, %al
        .endr
        .irp    port, 0xCFC, 0xCFE
        mov     $\port, %edx
        call    next_random
        out     %ax, %dx
        in      %dx, %ax
        .endr
        mov     $0xCFC, %edx
        call    next_random
        out     %eax, %dx
        in      %dx, %eax
        mov     $0xCFD, %edx
        call    next_random
        out     %ax, %dx
        xor     %eax, %eax
        in      %dx, %ax
        mov     $0xFFFF, %edx
        mov     $0x122, %edi
        call    expect
        .irp    port, 0xCFD, 0xCFE, 0xCFF
        mov     $\port, %edx
        call    next_random
        out     %eax, %dx
        in      %dx, %eax
        mov     $0xFFFFFFFF, %edx
        mov     $0x123, %edi
        call    expect
        .endr
        pop     %rdi
        pop     %rdx
        ret

// Back to the state at power-on: the known functions' command registers 0, VGA BARs 0, PIRQs
// disabled.
pci_restore:
        push    %rcx
        push    %rsi
        lea     known_devfns(%rip), %rsi
1:      movzbl  (%rsi), %eax
        shl     $8, %eax
        or      $PCI_ENABLE | 0x04, %eax
        xor     %ecx, %ecx
        call    pci_write
        inc     %rsi
        lea     known_devfns_end(%rip), %rax
        cmp     %rax, %rsi
        jb      1b
        mov     $VGA_CFG | 0x10, %eax
        call    pci_write
        mov     $VGA_CFG | 0x30, %eax
        call    pci_write
        mov     $ISA_CFG | 0x60, %eax
        mov     $0x80808080, %ecx
        call    pci_write
        pop     %rsi
        pop     %rcx
        ret

// The read-only fields of the known functions into 5 dwords each at %rbx: dwords 0x00 (ids),
// 0x08 (revision, class), 0x0C (header type), 0x2C (subsystem) and 0x3C without the writable
// interrupt line.
pci_snapshot:
        push    %rbx
        push    %rcx
        push    %rsi
        push    %r9
        lea     known_devfns(%rip), %rsi
        mov     $KNOWN_COUNT, %ecx
1:      movzbl  (%rsi), %r9d
        shl     $8, %r9d
        or      $PCI_ENABLE, %r9d
        mov     %r9d, %eax
        call    pci_read
        mov     %eax, (%rbx)
        lea     0x08(%r9), %eax
        call    pci_read
        mov     %eax, 4(%rbx)
        lea     0x0C(%r9), %eax
        call    pci_read
        mov     %eax, 8(%rbx)
        lea     0x2C(%r9), %eax
        call    pci_read
        mov     %eax, 12(%rbx)
        lea     0x3C(%r9), %eax
        call    pci_read
        and     $0xFFFFFF00, %eax
        mov     %eax, 16(%rbx)
        add     $20, %rbx
        inc     %rsi
        dec     %ecx
        jnz     1b
        pop     %r9
        pop     %rsi
        pop     %rcx
        pop     %rbx
        ret

// Check %edi: SNAP_AFTER equals SNAP_BEFORE.
pci_compare_snapshots:
        push    %rcx
        push    %rdx
        xor     %ecx, %ecx
1:      mov     SNAP_AFTER(,%rcx,4), %eax
        mov     SNAP_BEFORE(,%rcx,4), %edx
        call    expect
        inc     %ecx
        cmp     $5 * KNOWN_COUNT, %ecx
        jb      1b
        pop     %rdx
        pop     %rcx
        ret

// fw_cfg selector = %ax.
fw_select:
        push    %rdx
        mov     $FW_SEL, %edx
        out     %ax, %dx
        pop     %rdx
        ret

// Starts the DMA transfer whose control structure is at guest-physical %rdi: the high half of
// the address register (big-endian), then the low half.
dma_start:
        push    %rdx
        mov     %rdi, %rax
        shr     $32, %rax
        bswap   %eax
        mov     $FW_DMA_HIGH, %edx
        out     %eax, %dx
        mov     %edi, %eax
        bswap   %eax
        mov     $FW_DMA_LOW, %edx
        out     %eax, %dx
        pop     %rdx
        ret

// A control structure at %rdi: control %esi, length %edx, address %rcx, all big-endian.
put_access:
        mov     %esi, %eax
        bswap   %eax
        mov     %eax, (%rdi)
        mov     %edx, %eax
        bswap   %eax
        mov     %eax, 4(%rdi)
        mov     %rcx, %rax
        bswap   %rax
        mov     %rax, 8(%rdi)
        ret

// put_access, dma_start; %rax = the control word the transfer left (host order).
dma_run:
        call    put_access
        call    dma_start
        mov     (%rdi), %eax
        bswap   %eax
        ret

// Bochs VBE register %ecx = %ax.
dispi_write:
        push    %rax
        push    %rdx
        mov     $0x1CE, %edx
        mov     %ecx, %eax
        out     %ax, %dx
        mov     8(%rsp), %rax
        mov     $0x1CF, %edx
        out     %ax, %dx
        pop     %rdx
        pop     %rax
        ret

// %eax = Bochs VBE register %ecx.
dispi_read:
        push    %rdx
        mov     $0x1CE, %edx
        mov     %ecx, %eax
        out     %ax, %dx
        mov     $0x1CF, %edx
        xor     %eax, %eax
        in      %dx, %ax
        pop     %rdx
        ret

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

        .balign 4
// Buses to sweep: bus number << 16, devfns from 0.
bus_table:
        .long   0x000000, 256
        .long   0x010000, OTHER_BUS_DEVFNS
        .long   0xFF0000, OTHER_BUS_DEVFNS
// VGA BAR 0 values and what they read back as (the BAR is 16 MiB, prefetchable).
bar_places:
        .long   0x00000000, 0x00000008
        .long   0x00100000, 0x00000008    // the guest's code at 1 MiB: masked to 0, unassigned
        .long   0x00100008, 0x00000008
        .long   0x01000000, 0x01000008    // RAM16
        .long   0x03000000, 0x03000008    // the last 16 MiB of RAM
        .long   0xFEC00000, 0xFE000008    // over the I/O APIC
        .long   0xFEE00000, 0xFE000008    // over the local APIC
        .long   0xFD000000, 0xFD000008    // just below them: legal
        .long   0xFFFFFFF0, 0xFF000008
        .long   0xFFFFFFFF, 0xFF000008
bar_places_end:
// Expansion ROM BAR values, and whether to read the ROM there (not where RAM or an APIC is).
rom_places:
        .long   0xD0000001, 1
        .long   0xE0000001, 1
        .long   0xFFFFF801, 1
        .long   0xFFFFFFFF, 1
        .long   0xFEE00001, 0
        .long   0xFEC00001, 0
        .long   0x01000001, 0
        .long   0x00000001, 0
rom_places_end:
// Control word, length, address (low, high), the control word expected afterwards.
dma_cases:
        .long   SEL(0, DMA_READ), 1, RAM_END, 0, DMA_ERROR
        .long   SEL(0, DMA_READ), 0, RAM_END, 0, 0              // nothing to copy
        .long   SEL(0, DMA_READ), 0xFFFFFFFF, RAM_END, 0, DMA_ERROR
        .long   SEL(0, DMA_READ), 1, 0xFEC00000, 0, DMA_ERROR   // I/O APIC
        .long   SEL(0, DMA_READ), 0xFFFFFFFF, 0xFEC00000, 0, DMA_ERROR
        .long   SEL(0, DMA_READ), 4, 0xFEE00000, 0, DMA_ERROR   // local APIC
        .long   SEL(0, DMA_READ), 4, 0xFFFFFFF0, 0, DMA_ERROR
        .long   SEL(0, DMA_READ), 16, RAM_END - 8, 0, DMA_ERROR // straddles the end of RAM
        .long   SEL(0, DMA_READ), 0xFFFFFFFF, RAM_END - 8, 0, DMA_ERROR
        .long   SEL(0, DMA_READ), 2, RAM_END - 1, 0, DMA_ERROR
        .long   SEL(0, DMA_READ), 0, RAM_END - 8, 0, 0
        .long   SEL(0, DMA_READ), 0xFFFFFFFF, 0, 0, DMA_ERROR   // all of RAM and more
        .long   SEL(0, DMA_READ), RAM_END + 1, 0, 0, DMA_ERROR
        .long   SEL(0, DMA_READ), 1, 0, 1, DMA_ERROR            // 4 GiB: no RAM there
        .long   SEL(0, DMA_READ), 1, 0xFFFFFFFF, 0xFFFFFFFF, DMA_ERROR
        .long   SEL(0, DMA_READ), 16, 0xFFFFFFF8, 0xFFFFFFFF, DMA_ERROR  // would wrap to 8
        .long   SEL(0, DMA_READ), 0x1000, 0xFFFFF000, 0xFFFFFFFF, DMA_ERROR // ends at 2^64
        .long   SEL(0, DMA_READ), 0xFFFFFFFF, 0x10, 0xFFFFFFFF, DMA_ERROR
        .long   SEL(0, DMA_READ), 0, 0xFFFFFFFF, 0xFFFFFFFF, 0
        .long   SEL(0x19, DMA_READ), 0xFFFFFFFF, DMA_TARGET, 0, DMA_ERROR
        .long   SEL(0x4000, DMA_READ), 16, RAM_END, 0, DMA_ERROR // the write channel
        .long   SEL(0x19, DMA_WRITE), 16, DMA_TARGET, 0, DMA_ERROR // items are read-only
        .long   SEL(0, DMA_WRITE), 4, 0xFEC00000, 0, DMA_ERROR
        .long   SEL(0, DMA_WRITE), 0xFFFFFFFF, 0, 0, DMA_ERROR
        .long   SEL(0x19, DMA_WRITE), 0, RAM_END, 0, DMA_ERROR
        .long   DMA_WRITE, 1, 0xFFFFFFFF, 0xFFFFFFFF, DMA_ERROR
        .long   SEL(0, DMA_SKIP), 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0 // skips use no address
        .long   SEL(0x19, DMA_SKIP), 0x7FFFFFFF, RAM_END, 0, 0
        .long   0, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0        // no operation
        .long   DMA_ERROR, 0, 0, 0, 0
        .long   0xFFFF001F, 8, DMA_TARGET, 0, 0                 // read outranks write and skip
dma_cases_end:
        .balign 8
// Control structure addresses outside RAM.
outside_structures:
        .quad   RAM_END
        .quad   RAM_END + 0x1000
        .quad   0xC0000000
        .quad   0xFEC00000
        .quad   0xFEE00000
        .quad   0xFFFFFFF0
        .quad   0xFFFFFFFF
        .quad   0x100000000
        .quad   0xFFFFFFFFFFFFFFF8        // the 2^64 - 8 of the brief: wraps to 8
        .quad   0xFFFFFFFFFFFFFFF0
        .quad   0x8000000000000000
outside_structures_end:
// Random DMA lengths: (random & mask) | base.
length_masks:
        .long   0, 0, 0xFFFF, 0, 0, 0xFFFFF, 0, 0xFF
length_bases:
        .long   0, 1, 0, 0xFFFFFFFF, 0x1000000, 0, 16, 0x100
fuzz_keys:
        .word   0x00, 0x01, 0x19, 0x1234, 0xFFFF, 0x4000, 0x8003, 0x20
// The platform's PCI functions (platform.zig): a new one goes here and into KNOWN_COUNT.
known_ids:
        .long   0x12378086, 0x70008086, 0x70108086, 0x71138086, 0x11111234, 0x29228086
known_devfns:
        .byte   0x00, 0x08, 0x09, 0x0B, 0x10, 0x18 // 00:00.0, 00:01.0, .1, .3, 00:02.0, 00:03.0
known_devfns_end:
        .balign 2
device_ports:
        .word   0x3F8, 0x70, 0x60, 0x600, 0x80, 0x402, 0x3F8, 0x600
empty_idt:
        .word   0
        .quad   0
// ---- 'i' data ------------------------------------------------------------------------------
// A DMA case for dma_case: the table (BMIDTP; its descriptors are written where they are in
// RAM), two descriptors (address, byte count | EOT; PRD_NONE: no second one), the command for
// ide_cmd, LBA, count; flags (TO_MEM, AT_A0, EARLY), the pattern kind written or expected; the
// bus-master status, status and error afterwards; how many bytes the engine moves to or from
// RAM (for a read: what is checked, and where IDE_IN's sentinel starts).
        .set    DMA_CASE_BYTES, 48
        .macro  DMA_CASE table, a0, c0, a1, c1, command, lba, count, flags, kind, bmis, status, error, moved
        .long   \table, \a0, \c0, \a1, \c1, \command
        .quad   \lba
        .word   \count
        .byte   \flags, \kind, \bmis, \status, \error, 0
        .long   \moved, 0
        .endm
        .balign 8
// Legitimate DMA; the sectors written are in hostile_guest_test.ts.
legit_cases:
        // 8 sectors at 16 (kind 1) from two descriptors; read back into one; by READ DMA EXT
        // into descriptors of odd sizes; the sectors on either side untouched.
        DMA_CASE IDE_PRD, IDE_OUT, 0x600, IDE_OUT + 0x600, EOT | 0xA00, WRITE_DMA, 16, 8, 0, 1, 4, 0x50, 0, 0x1000
        DMA_CASE IDE_PRD, IDE_IN, EOT | 0x1000, 0, PRD_NONE, READ_DMA, 16, 8, TO_MEM, 1, 4, 0x50, 0, 0x1000
        DMA_CASE IDE_PRD, IDE_IN, 0x301, IDE_IN + 0x301, EOT | 0xCFF, READ_DMA_EXT, 16, 8, TO_MEM, 1, 4, 0x50, 0, 0x1000
        DMA_CASE IDE_PRD, IDE_IN, EOT | 0x400, 0, PRD_NONE, READ_DMA_EXT, 14, 2, TO_MEM, 0, 4, 0x50, 0, 0x400
        DMA_CASE IDE_PRD, IDE_IN, EOT | 0x400, 0, PRD_NONE, READ_DMA, 24, 2, TO_MEM, 0, 4, 0x50, 0, 0x400
        // 256 sectors (count 0) up to the image's end, in two 64 KiB descriptors (count 0).
        DMA_CASE IDE_PRD, IDE_IN, 0, IDE_IN + 0x10000, EOT, READ_DMA, DISK_SECTORS - 256, 0, TO_MEM, 0, 4, 0x50, 0, 0x20000
        // The last 64 KiB of RAM in one count-0 descriptor: to sectors 1500-1627 (kind 5), back.
        DMA_CASE IDE_PRD, RAM_END - 0x10000, EOT, 0, PRD_NONE, WRITE_DMA_EXT, 1500, 128, AT_A0, 5, 4, 0x50, 0, 0x10000
        DMA_CASE IDE_PRD, RAM_END - 0x10000, EOT, 0, PRD_NONE, READ_DMA_EXT, 1500, 128, TO_MEM | AT_A0, 5, 4, 0x50, 0, 0x10000
        // The table in the last 8 bytes of RAM.
        DMA_CASE RAM_END - 8, IDE_IN, EOT | 0x200, 0, PRD_NONE, READ_DMA, 500, 1, TO_MEM, 0, 4, 0x50, 0, 0x200
        // A table longer than the transfer: the engine stays active until stopped.
        DMA_CASE IDE_PRD, IDE_IN, EOT, 0, PRD_NONE, READ_DMA, 600, 2, TO_MEM, 0, 5, 0x50, 0, 0x400
        // The engine started before the command.
        DMA_CASE IDE_PRD, IDE_IN, EOT | 0x800, 0, PRD_NONE, READ_DMA, 700, 4, TO_MEM | EARLY, 0, 4, 0x50, 0, 0x800
        // A table without EOT in its first page, going on in the next.
        DMA_CASE IDE_PRD + 0xFF8, IDE_IN, 0x200, IDE_IN + 0x200, EOT | 0x200, READ_DMA, 800, 2, TO_MEM, 0, 4, 0x50, 0, 0x400
legit_cases_end:
// Attacks: each must end with the error status it names and nothing moved but what it says.
dma_attacks:
        // Tables outside RAM: past its end, the APICs, the PCI hole, the top of 4 GiB, half in RAM.
        DMA_CASE RAM_END, IDE_IN, EOT | 0x200, 0, PRD_NONE, READ_DMA, 1000, 1, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE 0xFEC00000, IDE_IN, EOT | 0x200, 0, PRD_NONE, READ_DMA, 1000, 1, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE 0xFEE00000, IDE_IN, EOT | 0x200, 0, PRD_NONE, READ_DMA, 1000, 1, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE 0xC0000000, IDE_IN, EOT | 0x200, 0, PRD_NONE, READ_DMA_EXT, 1000, 1, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE 0xFFFFFFF0, IDE_IN, EOT | 0x200, 0, PRD_NONE, READ_DMA, 1000, 1, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE RAM_END - 4, IDE_IN, EOT | 0x200, 0, PRD_NONE, READ_DMA, 1000, 1, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE RAM_END, IDE_OUT, EOT | 0x200, 0, PRD_NONE, WRITE_DMA, 1010, 1, 0, 12, 6, 0x51, 4, 0
        DMA_CASE 0xFFFFFFF0, IDE_OUT, EOT | 0x200, 0, PRD_NONE, WRITE_DMA_EXT, 1011, 1, 0, 12, 6, 0x51, 4, 0
        // Descriptors outside RAM: past its end, the APICs, wrapping at 4 GiB, up to 4 GiB.
        DMA_CASE IDE_PRD, RAM_END, EOT | 0x200, 0, PRD_NONE, READ_DMA, 1000, 1, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE IDE_PRD, 0xFEC00000, EOT | 0x200, 0, PRD_NONE, READ_DMA, 1000, 1, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE IDE_PRD, 0xFEE00000, EOT | 0x200, 0, PRD_NONE, READ_DMA, 1000, 1, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE IDE_PRD, 0xFFFFFFF0, EOT | 0x200, 0, PRD_NONE, READ_DMA, 1000, 1, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE IDE_PRD, 0xFFFF0000, EOT, 0, PRD_NONE, READ_DMA, 1000, 128, TO_MEM, 0, 6, 0x51, 4, 0
        // ... or across its end, 64 KiB (count 0) among them; reads and writes.
        DMA_CASE IDE_PRD, RAM_END - 0x100, EOT | 0x200, 0, PRD_NONE, READ_DMA, 1000, 1, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE IDE_PRD, RAM_END - 0x8000, EOT, 0, PRD_NONE, READ_DMA_EXT, 1000, 128, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE IDE_PRD, RAM_END - 1, EOT | 2, 0, PRD_NONE, READ_DMA, 1000, 1, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE IDE_PRD, RAM_END - 0x100, EOT | 0x200, 0, PRD_NONE, WRITE_DMA, 1020, 1, 0, 13, 6, 0x51, 4, 0
        DMA_CASE IDE_PRD, RAM_END - 0x8000, EOT, 0, PRD_NONE, WRITE_DMA_EXT, 1021, 128, 0, 13, 6, 0x51, 4, 0
        // A good descriptor, then one outside RAM: the first region moves (sectors 300-301 may
        // be written), the rest does not.
        DMA_CASE IDE_PRD, IDE_IN, 0x400, 0xFEC00000, EOT | 0x400, READ_DMA, 1000, 4, TO_MEM, 0, 6, 0x51, 4, 0x400
        DMA_CASE IDE_PRD, IDE_OUT, 0x400, 0xFEC00000, EOT | 0x400, WRITE_DMA, 300, 4, 0, 7, 6, 0x51, 4, 0
        // No EOT: the table runs off the end of RAM (340-341 may be written) ...
        DMA_CASE RAM_END - 16, IDE_IN, 0x200, IDE_IN + 0x200, 0x200, READ_DMA, 1000, 4, TO_MEM, 0, 6, 0x51, 4, 0x400
        DMA_CASE RAM_END - 16, IDE_OUT, 0x200, IDE_OUT + 0x200, 0x200, WRITE_DMA, 340, 4, 0, 11, 6, 0x51, 4, 0
        // ... or off the 64 KiB block it starts in (which a PIIX table may not cross).
        DMA_CASE IDE_PRD + 0xFFF0, IDE_IN, 0x200, IDE_IN + 0x200, 0x200, READ_DMA, 1000, 4, TO_MEM, 0, 6, 0x51, 4, 0x400
        // Tables shorter than the transfer (310-311 may be written); 2 bytes short.
        DMA_CASE IDE_PRD, IDE_IN, EOT | 0x400, 0, PRD_NONE, READ_DMA, 1000, 8, TO_MEM, 0, 6, 0x51, 4, 0x400
        DMA_CASE IDE_PRD, IDE_OUT, EOT | 0x400, 0, PRD_NONE, WRITE_DMA, 310, 8, 0, 8, 6, 0x51, 4, 0
        DMA_CASE IDE_PRD, IDE_IN, EOT | 0x1FE, 0, PRD_NONE, READ_DMA_EXT, 1000, 1, TO_MEM, 0, 6, 0x51, 4, 0x1FE
        // The engine going the wrong way, started after the command or before it.
        DMA_CASE IDE_PRD, IDE_IN, EOT | 0x200, 0, PRD_NONE, READ_DMA, 1000, 1, 0, 0, 6, 0x51, 4, 0
        DMA_CASE IDE_PRD, IDE_IN, EOT | 0x200, 0, PRD_NONE, WRITE_DMA, 350, 1, TO_MEM, 0, 6, 0x51, 4, 0
        DMA_CASE IDE_PRD, IDE_IN, EOT | 0x200, 0, PRD_NONE, READ_DMA_EXT, 1000, 1, EARLY, 0, 6, 0x51, 4, 0
        DMA_CASE IDE_PRD, IDE_IN, EOT | 0x200, 0, PRD_NONE, WRITE_DMA_EXT, 351, 1, TO_MEM | EARLY, 0, 6, 0x51, 4, 0
        // Ranges beyond the image: IDNF before any data phase; the engine just sits active.
        DMA_CASE IDE_PRD, IDE_OUT, EOT, 0, PRD_NONE, WRITE_DMA_EXT, 0, 0, 0, 15, 5, 0x51, 0x10, 0
        DMA_CASE IDE_PRD, IDE_IN, EOT, 0, PRD_NONE, READ_DMA_EXT, DISK_SECTORS - 48, 0, TO_MEM, 0, 5, 0x51, 0x10, 0
        DMA_CASE IDE_PRD, IDE_IN, EOT, 0, PRD_NONE, READ_DMA_EXT, DISK_SECTORS - 8, 48, TO_MEM, 0, 5, 0x51, 0x10, 0
        DMA_CASE IDE_PRD, IDE_IN, EOT, 0, PRD_NONE, READ_DMA, DISK_SECTORS - 100, 0, TO_MEM, 0, 5, 0x51, 0x10, 0
        DMA_CASE IDE_PRD, IDE_IN, EOT, 0, PRD_NONE, READ_DMA, DISK_SECTORS, 1, TO_MEM, 0, 5, 0x51, 0x10, 0
        DMA_CASE IDE_PRD, IDE_OUT, EOT, 0, PRD_NONE, WRITE_DMA, 0x0FFFFFFF, 1, 0, 15, 5, 0x51, 0x10, 0
        DMA_CASE IDE_PRD, IDE_IN, EOT, 0, PRD_NONE, READ_DMA_EXT, 0xFFFFFFFFFFFF, 1, TO_MEM, 0, 5, 0x51, 0x10, 0
        DMA_CASE IDE_PRD, IDE_OUT, EOT, 0, PRD_NONE, WRITE_DMA_EXT, 0xFFFFFFFFFFFF, 0, 0, 15, 5, 0x51, 0x10, 0
        DMA_CASE IDE_PRD, IDE_IN, EOT, 0, PRD_NONE, READ_DMA_EXT, 0x100000000, 1, TO_MEM, 0, 5, 0x51, 0x10, 0
        DMA_CASE IDE_PRD, IDE_IN, EOT, 0, PRD_NONE, READ_DMA_EXT, DISK_SECTORS - 1, 2, TO_MEM, 0, 5, 0x51, 0x10, 0
dma_attacks_end:
// DMA commands to the CD: a packet device aborts them.
cd_dma_attacks:
        DMA_CASE IDE_PRD, IDE_OUT, EOT | 0x200, 0, PRD_NONE, WRITE_DMA, 0, 1, 0, 15, 5, 0x41, 4, 0
        DMA_CASE IDE_PRD, IDE_IN, EOT | 0x800, 0, PRD_NONE, READ_DMA, 16, 4, TO_MEM, 0, 5, 0x41, 4, 0
        DMA_CASE IDE_PRD, IDE_OUT, EOT | 0x200, 0, PRD_NONE, WRITE_DMA_EXT | 0xA000, 0, 1, EARLY, 15, 5, 0x41, 4, 0
cd_dma_attacks_end:

// Commands beyond the image by PIO: the command, count, LBA, status | error << 8 afterwards,
// and whether to send a sector of data anyway.
        .macro  RANGE_CASE command, count, lba, want, push
        .long   \command, \count
        .quad   \lba
        .word   \want
        .byte   \push, 0
        .long   0
        .endm
range_cases:
        RANGE_CASE READ_SECTORS, 1, DISK_SECTORS, 0x1051, 0
        RANGE_CASE READ_SECTORS, 2, DISK_SECTORS - 1, 0x1051, 0
        RANGE_CASE READ_SECTORS, 1, 0x0FFFFFFF, 0x1051, 0
        RANGE_CASE READ_SECTORS, 0, DISK_SECTORS - 255, 0x1051, 0  // 256 sectors: one too many
        RANGE_CASE WRITE_SECTORS, 1, DISK_SECTORS, 0x1051, 1
        RANGE_CASE WRITE_SECTORS, 0, 0x0FFFFF00, 0x1051, 1
        RANGE_CASE WRITE_MULTIPLE, 1, DISK_SECTORS, 0x1051, 1
        RANGE_CASE READ_SECTORS_EXT, 0, 0, 0x1051, 0                // 65536 sectors
        RANGE_CASE READ_SECTORS_EXT, 0, DISK_SECTORS - 16, 0x1051, 0
        RANGE_CASE READ_SECTORS_EXT, 1, 0xFFFFFFFFFFFF, 0x1051, 0   // 2^48 - 1
        RANGE_CASE READ_SECTORS_EXT, 0, 0xFFFFFFFFFFFF, 0x1051, 0
        RANGE_CASE READ_SECTORS_EXT, 2, 0xFFFFFFFFFFFE, 0x1051, 0
        RANGE_CASE READ_SECTORS_EXT, 1, 0x100000000, 0x1051, 0
        RANGE_CASE WRITE_SECTORS_EXT, 1, 0xFFFFFFFFFFFF, 0x1051, 1
        RANGE_CASE WRITE_SECTORS_EXT, 0, 0, 0x1051, 1
        RANGE_CASE 0x14039, 1, DISK_SECTORS, 0x1051, 1               // WRITE MULTIPLE EXT
        RANGE_CASE 0x14029, 0, 0, 0x1051, 0                          // READ MULTIPLE EXT
        RANGE_CASE 0xE040, 1, DISK_SECTORS, 0x1051, 0                // READ VERIFY SECTORS
        RANGE_CASE 0x14042, 0, DISK_SECTORS - 1, 0x1051, 0           // READ VERIFY SECTORS EXT
        RANGE_CASE 0xE070, 0, DISK_SECTORS, 0x1051, 0                // SEEK
        RANGE_CASE 0xAF20, 1, 0xFFFFFF, 0x1051, 0   // CHS: cylinder 65535, head 15, sector 255
        RANGE_CASE 0xA020, 1, 0, 0x1051, 0          // CHS sector 0
        RANGE_CASE 0xA030, 1, 0, 0x1051, 1
range_cases_end:
// What the drives do with count 0 and LBA 0 (opcode_sweep): first, last, outcome (1 no error,
// 2 IDNF); every other opcode aborts. As ata.zig implements them: a command added there goes
// here too.
disk_opcodes:
        .byte   0x10, 0x21, 1             // RECALIBRATE, READ SECTORS (256 from 0)
        .byte   0x24, 0x25, 2             // 48-bit: 65536 sectors, more than the image
        .byte   0x29, 0x29, 2
        .byte   0x30, 0x31, 1             // WRITE SECTORS: waits for data that never comes
        .byte   0x34, 0x35, 2
        .byte   0x39, 0x39, 2
        .byte   0x40, 0x41, 1             // READ VERIFY
        .byte   0x42, 0x42, 2
        .byte   0x70, 0x7F, 1             // SEEK
        .byte   0x90, 0x90, 1             // EXECUTE DEVICE DIAGNOSTIC
        .byte   0xC4, 0xC6, 1             // READ/WRITE MULTIPLE, SET MULTIPLE MODE (to 0)
        .byte   0xC8, 0xCB, 1             // READ/WRITE DMA: wait for the engine, which is stopped
        .byte   0xE0, 0xE3, 1             // power management
        .byte   0xE5, 0xE7, 1             // CHECK POWER MODE, SLEEP, FLUSH CACHE
        .byte   0xEA, 0xEA, 1
        .byte   0xEC, 0xEC, 1
        .byte   0, 0, 0xFF
cd_opcodes:
        .byte   0x08, 0x08, 1             // DEVICE RESET
        .byte   0x90, 0x90, 1
        .byte   0xA0, 0xA1, 1             // PACKET, IDENTIFY PACKET DEVICE
        .byte   0xE0, 0xE1, 1
        .byte   0xE5, 0xE6, 1
        .byte   0, 0, 0xFF
// ATA opcodes that write the medium (or could, in some command set): kept from the port fuzz.
writes_bitmap:
        .byte   0xC0, 0, 0, 0, 0, 0, 0xFF, 0xFF   // 06-07 (DATA SET MANAGEMENT), 30-3F
        .byte   0x20, 0, 0x80, 0, 0xFF, 0, 0, 0   // 45, 57, 60-67 (NCQ)
        .byte   0, 0, 0x0C, 0, 0, 0, 0x12, 0      // 92-93 (microcode), B1, B4 (sanitize)
        .byte   0x20, 0xFC, 0, 0, 0, 0x01, 0x7E, 0x02 // C5, CA-CF, E8, F1-F6 (security), F9
// SCSI operation codes the CD knows (ata.zig's scsiCommand): any other must fail.
scsi_known:
        .byte   0x09, 0, 0x04, 0x48, 0x20, 0x01, 0, 0     // 00 03 12 1B 1E 25 28
        .byte   0x48, 0x04, 0x02, 0x04, 0, 0, 0, 0        // 43 46 4A 51 5A
        .byte   0, 0, 0, 0, 0, 0x01, 0, 0x28              // A8 BB BD
        .byte   0, 0, 0, 0, 0, 0, 0, 0
// Commands the random packets start from (WRITE(10) among them, which must fail).
atapi_opcodes:
        .byte   0x00, 0x03, 0x12, 0x1B, 0x1E, 0x25, 0x28, 0x28
        .byte   0xA8, 0x43, 0x46, 0x4A, 0x51, 0x5A, 0xBD, 0x2A
        .balign 2
// Byte count limits for random packets (the last entry: random).
atapi_limits:
        .word   0, 1, 2, 3, 0x800, 0xFFFE, 0xFFFF, 0
// Limits for READ(10) of the volume descriptor; 0xFFFF ends the list.
atapi_pvd_limits:
        .word   0x800, 1, 0, 0x7FF, 0x801, 0xFFFF
        .balign 4
// ATAPI READ(10) by DMA: table, descriptor, byte count, direction; result (status | error << 8
// | reason << 16), bus-master status.
atapi_dma_cases:
        .long   IDE_PRD, IDE_IN, EOT | 0x800, TO_MEM, 0x030050, 4
        .long   RAM_END, IDE_IN, EOT | 0x800, TO_MEM, 0x03B041, 6
        .long   IDE_PRD, 0xFEC00000, EOT | 0x800, TO_MEM, 0x03B041, 6
        .long   IDE_PRD, RAM_END - 0x400, EOT | 0x800, TO_MEM, 0x03B041, 6
        .long   IDE_PRD, IDE_IN, EOT | 0x800, 0, 0x03B041, 6
        .long   IDE_PRD, IDE_IN, EOT | 0x400, TO_MEM, 0x03B041, 6
atapi_dma_cases_end:
cdb_tur:
        .byte   0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
cdb_read_pvd:                             // READ(10), LBA 16, 1 sector
        .byte   0x28, 0, 0, 0, 0, 16, 0, 0, 1, 0, 0, 0
cdb_close:                                // START STOP UNIT: load (close the tray), start
        .byte   0x1B, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0
cdb_unlock:                               // PREVENT ALLOW MEDIUM REMOVAL: allow
        .byte   0x1E, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
cdb_write10:
        .byte   0x2A, 0, 0, 0, 0, 16, 0, 0, 1, 0, 0, 0
cdb_write12:
        .byte   0xAA, 0, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0
// ---- 'a' data ------------------------------------------------------------------------------
        .balign 8
// Command list and FIS area addresses outside RAM: low dword, high dword. The HBA aligns them
// (1 KiB, 256 bytes); slot 31 of a list at 2^64 - 1 KiB is the top 32 bytes below 2^64.
ahci_outside:
        .quad   RAM_END
        .quad   RAM_END + 0x400
        .quad   0xC0000000
        .quad   ABAR                      // the HBA's own registers
        .quad   0xFEC00000
        .quad   0xFEE00000
        .quad   0xFFFFFC00
        .quad   0x100000000
        .quad   0x7FFFFFFFFFFFFC00
        .quad   0xFFFFFFFFFFFFFC00
        .quad   0xFFFFFFFFFFFFFFFF
ahci_outside_end:
// An AHCI_CASE for ahci_case: the command table address (CTBA, CTBAU); two PRDs (region, DBC;
// PRD_NONE: not written), written where they are in RAM; the header's DW0 (CFL, A, PRDTL);
// the command FIS's first dword, LBA, count; TO_MEM for a read into IDE_IN (else the data
// written, pattern `kind` from `lba`, is at IDE_OUT); PxSACT before PxCI; the outcome
// (AHCI_OUT) and how many bytes land in IDE_IN (whole sectors of pattern `kind` from `lba`).
        .set    AC_CTBA, 0
        .set    AC_A0, 8
        .set    AC_A1, 16
        .set    AC_C0, 24
        .set    AC_C1, 28
        .set    AC_DW0, 32
        .set    AC_FIS, 36
        .set    AC_LBA, 40
        .set    AC_COUNT, 48
        .set    AC_FLAGS, 50
        .set    AC_KIND, 51
        .set    AC_SACT, 52
        .set    AC_WANT, 56
        .set    AC_MOVED, 64
        .set    AHCI_CASE_BYTES, 72
        .macro  AHCI_CASE ctba, a0, c0, a1, c1, dw0, fis, lba, count, flags, kind, sact, want, moved
        .quad   \ctba, \a0, \a1
        .long   \c0, \c1, \dw0, \fis
        .quad   \lba
        .word   \count
        .byte   \flags, \kind
        .long   \sact
        .quad   \want
        .long   \moved, 0
        .endm
// Outcomes that recur: the command done; the HBA gave up (HBFS) before or during it, or the
// PRDT ran out (IFS, with OFS when data came from the device); the drive failed it (TFES).
#define AC_DONE AHCI_OUT(IS_DHRS, 0x50, 0, 0)
#define AC_HOST_BUS AHCI_OUT(IS_HBFS, 0x0451, 1, 0)
#define AC_SHORT_IN AHCI_OUT(IS_IFS | IS_OFS, 0x0451, 1, 0)
#define AC_SHORT_OUT AHCI_OUT(IS_IFS, 0x0451, 1, 0)
#define AC_BAD_FIS AHCI_OUT(IS_IFS, 0x0451, 1, 0)
#define AC_IDNF AHCI_OUT(IS_TFES | IS_DHRS, 0x1051, 1, 0)
#define AC_NCQ_IDNF(sact) AHCI_OUT(IS_TFES | IS_SDBS, 0x1051, 0, sact)
        .set    READ_DMA_EXT_FIS, H2D_CMD(0x25)
        .set    WRITE_DMA_EXT_FIS, H2D_CMD(0x35)
        .set    AC_MAX48, 0xFFFFFFFFFFFF
ahci_cases:
        // Done right, for reference: sectors 64-71 (kind 20) into two PRDs; an odd region
        // address (bit 0 is ignored), reserved DBC bits and I; a longer command FIS (CFL 31);
        // the A bit on the disk (no packet phase: nothing changes).
        AHCI_CASE AHCI_CT, IDE_IN, 0x5FF, IDE_IN + 0x600, 0x9FF, HDR(2), READ_DMA_EXT_FIS, 64, 8, TO_MEM, 20, 0, AC_DONE, 0x1000
        AHCI_CASE AHCI_CT, IDE_IN + 1, 0x7FC001FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), 64, 1, TO_MEM, 20, 0, AC_DONE, 0x200
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, 31 | 1 << 16, READ_DMA_EXT_FIS, 65, 1, TO_MEM, 20, 0, AC_DONE, 0x200
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1) | HDR_A, READ_DMA_EXT_FIS, 66, 1, TO_MEM, 20, 0, AC_DONE, 0x200
        // Command tables outside RAM: past its end, its last 128 bytes (the FIS in RAM, the
        // PRDT not; RAM_END - 0x40 is aligned down to that), the PCI hole, the HBA itself, the
        // APICs, 4 GiB, the top of the 64-bit space. Reads, and writes that must not arrive.
        AHCI_CASE RAM_END, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE RAM_END - 0x40, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE RAM_END - 0x80, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(0xFFFF), READ_DMA_EXT_FIS, 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE 0xC0000000, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE ABAR, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE 0xFEC00000, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE 0xFEE00000, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE 0x100000000, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE 0xFFFFFFFFFFFFFF80, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE 0xFFFFFFFFFFFFFFFF, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE RAM_END, IDE_OUT, 0x1FF, 0, PRD_NONE, HDR(1), WRITE_DMA_EXT_FIS, 1000, 1, 0, 50, 0, AC_HOST_BUS, 0
        AHCI_CASE RAM_END - 0x80, IDE_OUT, 0x1FF, 0, PRD_NONE, HDR(1), WRITE_DMA_EXT_FIS, 1000, 1, 0, 50, 0, AC_HOST_BUS, 0
        AHCI_CASE 0xFFFFFFFFFFFFFF80, IDE_OUT, 0x1FF, 0, PRD_NONE, HDR(1), WRITE_DMA_EXT_FIS, 1000, 1, 0, 50, 0, AC_HOST_BUS, 0
        // PRDs outside RAM: past its end, the PCI hole, the HBA, the APICs, below and at 4 GiB,
        // ending at 2^64, wrapping past it; 4 MiB below 4 GiB.
        AHCI_CASE AHCI_CT, RAM_END, 0x1FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, 0xC0000000, 0x1FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, ABAR, 0x1FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, 0xFEC00000, 0x1FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, 0xFEE00000, 0x1FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, 0xFFFFFFFE, 0x1FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, 0x100000000, 0x1FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, 0xFFFFFFFFFFFFFE00, 0x1FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, 0xFFFFFFFFFFFFFFFE, 0x1FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, 0xFFC00000, 0x3FFFFF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 0, 0x2000, TO_MEM, 0, 0, AC_HOST_BUS, 0
        // ... across its end: 512 bytes, 4 bytes over the last 2, 4 MiB over the last 2 MiB.
        AHCI_CASE AHCI_CT, RAM_END - 0x100, 0x1FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, RAM_END - 2, 3, IDE_IN, 0x1FB, HDR(2), H2D_CMD(0xC8), 64, 1, TO_MEM, 0, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, RAM_END - 0x200000, 0x3FFFFF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 0, 0x2000, TO_MEM, 0, 0, AC_HOST_BUS, 0
        // A good PRD, then one outside RAM or across its end: the first region fills (sectors
        // 64-65), the rest does not; writes: 1010-1011 (kind 30) may arrive, 1012-1013 not.
        AHCI_CASE AHCI_CT, IDE_IN, 0x3FF, 0xFEC00000, 0x3FF, HDR(2), H2D_CMD(0xC8), 64, 4, TO_MEM, 20, 0, AC_HOST_BUS, 0x400
        AHCI_CASE AHCI_CT, IDE_IN, 0x3FF, RAM_END - 0x200, 0x3FF, HDR(2), READ_DMA_EXT_FIS, 64, 4, TO_MEM, 20, 0, AC_HOST_BUS, 0x400
        AHCI_CASE AHCI_CT, IDE_OUT, 0x3FF, 0xFEC00000, 0x3FF, HDR(2), H2D_CMD(0xCA), 1010, 4, 0, 30, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, RAM_END, 0x1FF, 0, PRD_NONE, HDR(1), WRITE_DMA_EXT_FIS, 1000, 1, 0, 50, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, ABAR, 0x1FF, 0, PRD_NONE, HDR(1), WRITE_DMA_EXT_FIS, 1000, 1, 0, 50, 0, AC_HOST_BUS, 0
        AHCI_CASE AHCI_CT, RAM_END - 0x100, 0x1FF, 0, PRD_NONE, HDR(1), WRITE_DMA_EXT_FIS, 1000, 1, 0, 50, 0, AC_HOST_BUS, 0
        // PRDTs shorter than the transfer: 1 KiB of 4 KiB, 510 bytes of 512, none at all;
        // writes: 1020-1021 (kind 31) may arrive, 1022-1027 and 1030 not.
        AHCI_CASE AHCI_CT, IDE_IN, 0x3FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), 64, 8, TO_MEM, 20, 0, AC_SHORT_IN, 0x400
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FD, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 64, 1, TO_MEM, 20, 0, AC_SHORT_IN, 0x1FE
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(0), READ_DMA_EXT_FIS, 64, 1, TO_MEM, 20, 0, AC_SHORT_IN, 0
        AHCI_CASE AHCI_CT, IDE_OUT, 0x3FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xCA), 1020, 8, 0, 31, 0, AC_SHORT_OUT, 0
        AHCI_CASE AHCI_CT, IDE_OUT, 0x1FF, 0, PRD_NONE, HDR(0), WRITE_DMA_EXT_FIS, 1030, 1, 0, 50, 0, AC_SHORT_OUT, 0
        // Command FISes the HBA must refuse: CFL 0, 1, 4 (shorter than a Register FIS); not a
        // Register Host-to-Device FIS (D2H, Set Device Bits, PIO Setup, DMA Activate, DMA
        // Setup, Data, zero, 0xFF).
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, 0 | 1 << 16, READ_DMA_EXT_FIS, 64, 1, TO_MEM, 0, 0, AC_BAD_FIS, 0
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, 1 | 1 << 16, READ_DMA_EXT_FIS, 64, 1, TO_MEM, 0, 0, AC_BAD_FIS, 0
        AHCI_CASE AHCI_CT, IDE_OUT, 0x1FF, 0, PRD_NONE, 4 | 1 << 16, WRITE_DMA_EXT_FIS, 1000, 1, 0, 50, 0, AC_BAD_FIS, 0
        .irp    type, 0x34, 0xA1, 0x5F, 0x39, 0x41, 0x46, 0x00, 0xFF
        AHCI_CASE AHCI_CT, IDE_OUT, 0x1FF, 0, PRD_NONE, HDR(1), WRITE_DMA_EXT_FIS - 0x27 + \type, 1000, 1, 0, 50, 0, AC_BAD_FIS, 0
        .endr
        // LBAs beyond the image, READ/WRITE DMA (EXT): IDNF before any data moves.
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, AHCI_DISK_SECTORS, 1, TO_MEM, 0, 0, AC_IDNF, 0
        AHCI_CASE AHCI_CT, IDE_IN, 0x3FF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, AHCI_LAST, 2, TO_MEM, 0, 0, AC_IDNF, 0
        AHCI_CASE AHCI_CT, IDE_IN, 0x3FFFFF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 0, 0, TO_MEM, 0, 0, AC_IDNF, 0
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, AC_MAX48, 1, TO_MEM, 0, 0, AC_IDNF, 0
        AHCI_CASE AHCI_CT, IDE_IN, 0x3FFFFF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, AC_MAX48, 0, TO_MEM, 0, 0, AC_IDNF, 0
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), READ_DMA_EXT_FIS, 0x100000000, 1, TO_MEM, 0, 0, AC_IDNF, 0
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), 0x0FFFFFFF, 1, TO_MEM, 0, 0, AC_IDNF, 0
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FFFF, 0, PRD_NONE, HDR(1), H2D_CMD(0xC8), AHCI_DISK_SECTORS - 100, 0, TO_MEM, 0, 0, AC_IDNF, 0
        AHCI_CASE AHCI_CT, IDE_OUT, 0x1FF, 0, PRD_NONE, HDR(1), WRITE_DMA_EXT_FIS, AHCI_DISK_SECTORS, 1, 0, 51, 0, AC_IDNF, 0
        AHCI_CASE AHCI_CT, IDE_OUT, 0x5FF, 0, PRD_NONE, HDR(1), WRITE_DMA_EXT_FIS, AHCI_LAST - 1, 3, 0, 51, 0, AC_IDNF, 0
        AHCI_CASE AHCI_CT, IDE_OUT, 0x1FF, 0, PRD_NONE, HDR(1), WRITE_DMA_EXT_FIS, AC_MAX48, 1, 0, 51, 0, AC_IDNF, 0
        AHCI_CASE AHCI_CT, IDE_OUT, 0x1FF, 0, PRD_NONE, HDR(1), H2D_CMD(0xCA), 0x0FFFFFFF, 1, 0, 51, 0, AC_IDNF, 0
        AHCI_CASE AHCI_CT, IDE_OUT, 0x3FFFFF, 0, PRD_NONE, HDR(1), WRITE_DMA_EXT_FIS, 0, 0, 0, 0, 0, AC_IDNF, 0
        // READ/WRITE FPDMA QUEUED (sectors in the features, the tag in count bits 7:3) beyond
        // the image, with SACT bits that match the slot, the tag, or neither: an SDB FIS with
        // ERR, TFES; PxCI is clear (the device took the command), PxSACT keeps its bits.
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), H2D_FEAT(0x60, 1), AHCI_DISK_SECTORS, 0, TO_MEM, 0, 1, AC_NCQ_IDNF(1), 0
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), H2D_FEAT(0x60, 0), 0, 31 << 3, TO_MEM, 0, 1, AC_NCQ_IDNF(1), 0
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), H2D_FEAT(0x60, 1), AC_MAX48, 5 << 3, TO_MEM, 0, 1 << 5, AC_NCQ_IDNF(1), 0
        AHCI_CASE AHCI_CT, IDE_OUT, 0x3FF, 0, PRD_NONE, HDR(1), H2D_FEAT(0x61, 2), AHCI_LAST, 3 << 3, 0, 52, 1 << 3, AC_NCQ_IDNF(1), 0
        AHCI_CASE AHCI_CT, IDE_OUT, 0x1FF, 0, PRD_NONE, HDR(1), H2D_FEAT(0x61, 1), AC_MAX48, 0, 0, 52, 0, AC_NCQ_IDNF(0), 0
        // FPDMA done right with tag 9 in slot 0 (the SDB FIS completes tag 9: SACT bit 0
        // stays), and with no SACT bit at all.
        AHCI_CASE AHCI_CT, IDE_IN, 0xFFF, 0, PRD_NONE, HDR(1), H2D_FEAT(0x60, 8), 64, 9 << 3, TO_MEM, 20, 1, AHCI_OUT(IS_SDBS, 0x50, 0, 1), 0x1000
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1), H2D_FEAT(0x60, 1), 64, 0, TO_MEM, 20, 0, AHCI_OUT(IS_SDBS, 0x50, 0, 0), 0x200
        // FPDMA with its PRD outside RAM, or too short.
        AHCI_CASE AHCI_CT, RAM_END, 0x1FF, 0, PRD_NONE, HDR(1), H2D_FEAT(0x60, 1), 64, 0, TO_MEM, 0, 1, AHCI_OUT(IS_HBFS, 0x0451, 0, 1), 0
        AHCI_CASE AHCI_CT, IDE_IN, 0x3FF, 0, PRD_NONE, HDR(1), H2D_FEAT(0x60, 8), 64, 0, TO_MEM, 20, 1, AHCI_OUT(IS_IFS | IS_OFS, 0x0451, 0, 1), 0x400
        // PACKET to the disk: aborted.
        AHCI_CASE AHCI_CT, IDE_IN, 0x1FF, 0, PRD_NONE, HDR(1) | HDR_A, H2D_CMD(0xA0), 0, 0, TO_MEM, 0, 0, AHCI_OUT(IS_TFES | IS_DHRS, 0x0451, 1, 0), 0
ahci_cases_end:
// What ahci_opcode_sweep accepts, by class: the outcome's bits it looks at, and their values.
sweep_masks:
        .quad   AHCI_OUT(IS_TFES | IS_HBFS, 0x0401, 1, 0)
        .quad   AHCI_OUT(IS_TFES | IS_HBFS, 0, 0, 0)
        .quad   AHCI_OUT(IS_TFES | IS_HBFS, 0x1001, 0, 0)
        .quad   AHCI_OUT(IS_TFES | IS_HBFS, 0x0001, 0, 0)
sweep_wants:
        .quad   AHCI_OUT(IS_TFES, 0x0401, 1, 0)
        .quad   0
        .quad   AHCI_OUT(IS_TFES, 0x1001, 0, 0)
        .quad   AHCI_OUT(IS_TFES, 0x0001, 0, 0)
// What the disk does with count 0 and LBA 0 and no PRDT (first, last, class), as ata.zig and
// the HBA implement it: disk_opcodes, and NCQ (65536 sectors: IDNF).
ahci_disk_opcodes:
        .byte   0x10, 0x21, 1             // RECALIBRATE, READ SECTORS (no PRDT: IFS)
        .byte   0x24, 0x25, 2             // 48-bit: 65536 sectors, more than the image
        .byte   0x29, 0x29, 2
        .byte   0x30, 0x31, 1             // WRITE SECTORS: no PRDT, no data
        .byte   0x34, 0x35, 2
        .byte   0x39, 0x39, 2
        .byte   0x40, 0x41, 1             // READ VERIFY
        .byte   0x42, 0x42, 2
        .byte   0x60, 0x61, 2             // FPDMA QUEUED
        .byte   0x70, 0x7F, 1             // SEEK
        .byte   0x90, 0x90, 1             // EXECUTE DEVICE DIAGNOSTIC
        .byte   0xC4, 0xC6, 1             // READ/WRITE MULTIPLE, SET MULTIPLE MODE
        .byte   0xC8, 0xCB, 1             // READ/WRITE DMA: no PRDT
        .byte   0xE0, 0xE3, 1             // power management
        .byte   0xE5, 0xE7, 1             // CHECK POWER MODE, SLEEP, FLUSH CACHE
        .byte   0xEA, 0xEA, 1
        .byte   0xEC, 0xEC, 1
        .byte   0, 0, 0xFF
// ... and the CD: PACKET without the A bit has no command to send, and fails.
ahci_cd_opcodes:
        .byte   0x08, 0x08, 1             // DEVICE RESET
        .byte   0x90, 0x90, 1
        .byte   0x60, 0x61, 3             // FPDMA QUEUED: the device takes it, then fails it
        .byte   0xA0, 0xA0, 3
        .byte   0xA1, 0xA1, 1             // IDENTIFY PACKET DEVICE
        .byte   0xE0, 0xE1, 1
        .byte   0xE5, 0xE6, 1
        .byte   0, 0, 0xFF
        .balign 4
// READ(10) of the volume descriptor: byte count limit | DMA << 16; 0 ends the list.
ahci_pvd_reads:
        .long   0x10000, 0x800, 2, 0xFFFF, 0
// READ(10) by DMA with bad PRDs: region, bytes (0: none), the outcome's TFES, HBFS, IFS, OFS
// and PxCI bits. A zero byte count ends the list.
ahci_cd_dma_cases:
        .long   RAM_END, 0x800
        .quad   AHCI_OUT(IS_HBFS, 0, 1, 0)
        .long   RAM_END - 0x400, 0x800
        .quad   AHCI_OUT(IS_HBFS, 0, 1, 0)
        .long   IDE_IN, 0x400
        .quad   AHCI_OUT(IS_IFS | IS_OFS, 0, 1, 0)
        .long   0, 0
// Where AHCI-RESET moves BAR5 for a moment; 0 ends the list.
ahci_bar_places:
        .long   0x100000, RAM16, 0xFEC00000, 0xFEE00000, 0xFFFFE000, 0
// MSI addresses for AHCI-RESET: low, high.
ahci_msi_places:
        .long   0, 0
        .long   0xFEC00000, 0
        .long   0xFFFFFFFC, 0xFFFFFFFF
        .long   0xFEE00000, 0
ahci_msi_places_end:
// The random packets' PRDs: region, bytes (0: no PRDT).
ahci_fuzz_prds:
        .long   0, 0
        .long   SCRATCH, 0x10000
        .long   SCRATCH + 0x20000, 0x1000
        .long   RAM_END - 0x100, 0x1000
        .balign 2
// Every IDE port: command blocks, control registers, the bus master (IDE_FUZZ_PORTS of them).
ide_fuzz_ports:
        .word   0x1F0, 0x1F1, 0x1F2, 0x1F3, 0x1F4, 0x1F5, 0x1F6, 0x1F7, 0x3F6
        .word   0x170, 0x171, 0x172, 0x173, 0x174, 0x175, 0x176, 0x177, 0x376
        .word   IDE_BM, IDE_BM + 1, IDE_BM + 2, IDE_BM + 3, IDE_BM + 4, IDE_BM + 5, IDE_BM + 6
        .word   IDE_BM + 7, IDE_BM + 8, IDE_BM + 9, IDE_BM + 10, IDE_BM + 11, IDE_BM + 12
        .word   IDE_BM + 13, IDE_BM + 14, IDE_BM + 15
ide_name:
        .asciz  "IDE"
ide_dma_name:
        .asciz  "IDE-DMA"
ide_cmd_name:
        .asciz  "IDE-CMD"
atapi_name:
        .asciz  "IDE-ATAPI"
ide_fuzz_name:
        .asciz  "IDE-FUZZ"
pci_name:
        .asciz  "PCI"
fwcfg_name:
        .asciz  "FWCFG"
vga_name:
        .asciz  "VGA"
vga_planes_name:
        .asciz  "VGA-PLANES"
svga_name:
        .asciz  "SVGA"
gfx_start_text:
        .asciz  "GFX-START\n"
svga_start_text:
        .asciz  "SVGA-START\n"
// Bochs VBE depths for 'g', the first one refused.
gfx_depths:
        .byte   4, 8, 15, 16, 24, 32, 8, 32
// Command ids for 'w''s random streams: all it knows, then some it does not.
svga_commands:
        .byte   1, 2, 3, 14, 19, 22, 25, 30, 33, 45, 0, 0xFF, 4, 19, 22, 30
        .balign 4
// Addresses 1 to 7 bytes before an end of the VGA window, for 'g''s straddling accesses.
gfx_edges:
        .long   0x9FFFC, 0x9FFFE, 0x9FFF9, 0x9FFFF, 0xBFFFC, 0xBFFFE, 0xBFFF9, 0xBFFFF
// Broken SVGA FIFO rings: MIN, MAX, NEXT_CMD, STOP.
svga_bad_rings:
        .long   0, 0x11000, 0x1000, 0x1000                // MIN inside the header
        .long   0x1000, 0x1000, 0x1000, 0x1000            // empty
        .long   0x1000, 0x40004, 0x1000, 0x1000           // MAX past the FIFO
        .long   0x1000, 0xFFFFFFFC, 0x1000, 0x1000
        .long   0x1002, 0x11000, 0x1002, 0x1002           // unaligned
        .long   0x1000, 0x11000, 0x11000, 0x1000          // NEXT_CMD at MAX
        .long   0x1000, 0x11000, 0x1000, 0xFFFFFFF0       // STOP outside
        .long   0x1000, 0x1020, 0x1000, 0x1004            // a ring of 32 bytes
        .long   0x11000, 0x1000, 0x1000, 0x1000           // MIN above MAX
        .long   0x3FFF0, 0x40000, 0x3FFF0, 0x3FFF4        // 16 bytes at the FIFO's end
        .long   0x20, 0x40000, 0x3FFFC, 0x20              // sane, over the registers
ahci_init_name:
        .asciz  "AHCI-INIT"
ahci_dma_name:
        .asciz  "AHCI-DMA"
ahci_cmd_name:
        .asciz  "AHCI-CMD"
ahci_atapi_name:
        .asciz  "AHCI-ATAPI"
ahci_reset_name:
        .asciz  "AHCI-RESET"
ahci_name:
        .asciz  "AHCI"
ok_text:
        .asciz  "-OK\n"
fail_text:
        .asciz  "-FAIL check "
got_text:
        .asciz  " got "
want_text:
        .asciz  " want "
count_text:
        .asciz  " ("
failed_text:
        .asciz  " failed)\n"
marker:
        .asciz  "HOSTILE-GUEST-SURVIVED\n"
image_end:
