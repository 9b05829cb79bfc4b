// A hostile guest for vmctl's tests: entered at the Linux 64-bit boot entry, it hammers every
// I/O port, the emulated devices' registers, string I/O and unmapped MMIO with pseudo-random
// values, then reports on COM1 and ends the way the last byte of the image says:
//   'h' hang (cli; hlt)  'p' ACPI S5 power off  'r' i8042 reset pulse  'c' reset via 0xCF9
//   't' triple fault
//   'd' instead of the port fuzzing, attack the PCI bus, fw_cfg and the VGA (see `devices`),
//       checking what vmctl does, then power off as 'p' does
// Ports that would end the run early (PM1 control, 0xCF9, i8042 command) are spared until then,
// and so is KVM's in-kernel PIT (see `spared`).
// An upper-case action letter skips the fuzzing and goes straight to the report and the end.
//
// The device attacks print one line per phase on COM1: "PCI-OK", "FWCFG-OK", "VGA-OK", or
// "<phase>-FAIL check C got G want W (N failed)" naming the first check that failed. The guest
// runs with -r 64: RAM is guest-physical 0 to 64 MiB, identity-mapped (with the rest of the first
// 4 GiB) by the boot page tables. What it uses of it:
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
        // 0xA0000-0xBFFFF, the VGA window (RAM here): random characters for vmctl's screen dump
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

        .set    PCI_ENABLE, 0x80000000
        .set    ISA_CFG, 0x80000800       // 00:01.0 PIIX3
        .set    VGA_CFG, 0x80001000       // 00:02.0 std VGA
        .set    OTHER_BUS_DEVFNS, 24      // buses 1 and 255: slots 0-2, where bus 0 has devices
        .set    KNOWN_COUNT, 5            // functions on bus 0: see known_devfns
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
        call    save_sums
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
        //    and memory window, random characters all over the legacy window.
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

// ---- helpers: all keep every register but %rax (and what they say they return) ------------

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
        mov     $3, %ecx
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
        .long   0x12378086, 0x70008086, 0x70108086, 0x71138086, 0x11111234
known_devfns:
        .byte   0x00, 0x08, 0x09, 0x0B, 0x10 // 00:00.0, 00:01.0, 00:01.1, 00:01.3, 00:02.0
known_devfns_end:
        .balign 2
device_ports:
        .word   0x3F8, 0x70, 0x60, 0x600, 0x80, 0x402, 0x3F8, 0x600
empty_idt:
        .word   0
        .quad   0
pci_name:
        .asciz  "PCI"
fwcfg_name:
        .asciz  "FWCFG"
vga_name:
        .asciz  "VGA"
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
