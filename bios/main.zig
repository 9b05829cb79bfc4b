//! corevm: vmctl's own PC BIOS. entry.S carries every real-mode interrupt that needs more than
//! a few instructions into `corevm_dispatch`, in 32-bit flat protected mode; this file is POST
//! and the small services (INT 11h, 12h, 15h, 16h, 18h, 19h, 1Ah and the keyboard IRQ).
const std = @import("std");
const assert = @import("panic.zig").assert;
const io = @import("io.zig");
const bda = @import("bda.zig");
const fw_cfg = @import("fw_cfg.zig");
const e820 = @import("e820.zig");
const video = @import("video.zig");
const pci = @import("pci.zig");
const acpi = @import("acpi.zig");
const disk = @import("disk.zig");
const boot = @import("boot.zig");
const Frame = @import("frame.zig").Frame;
const platform = @import("platform");

comptime {
    // Everything here is reached from entry.S; the tests pull in the pure modules.
    _ = &corevm_dispatch;
}

/// What entry.S does after `corevm_dispatch` returns (see entry.S).
pub const Action = enum(u32) { @"return" = 0, wait = 1, boot = 2, halt = 3 };

const vector_post: u16 = 0x100;
/// Conventional memory ends at the EBDA: 639 KiB, as on QEMU.
pub const ebda_start: u32 = platform.memory.conventional_end;
const ebda_bytes: u32 = 0xA_0000 - ebda_start;
/// Top of low RAM kept for the firmware (ACPI tables, AHCI command lists): reserved in e820.
/// The tables take a few KiB and six AHCI ports 12 KiB; the rest is slack.
pub const high_zone_bytes: u32 = 64 << 10;
/// corevm's image, mapped read-only just below 4 GiB: reserved in e820, as SeaBIOS does for its.
const image_bytes: u32 = 128 << 10;

extern var corevm_bss_start: u8;
extern var corevm_bss_end: u8;

pub var memory_map: e820.Map = .{};
/// [high_zone_next, high_zone_end): what is left of the reserved top of low RAM, handed out
/// upwards by `highAlloc`.
var high_zone_next: u32 = 0;
var high_zone_end: u32 = 0;
var ram_size_bytes: u64 = 0;

/// Allocates `len` bytes of the reserved high zone (zeroed), aligned to `alignment`.
pub fn highAlloc(len: u32, alignment: u32) ?u32 {
    assert(std.math.isPowerOfTwo(alignment));
    const start = std.mem.alignForward(u32, high_zone_next, alignment);
    if (start + len > high_zone_end or start < high_zone_next) return null;
    high_zone_next = start + len;
    @memset(io.bytes(start, len), 0);
    return start;
}

export fn corevm_dispatch(frame: *Frame) callconv(.C) Action {
    return switch (frame.vector) {
        vector_post => post(),
        0x09 => keyboardIrq(),
        0x10 => blk: {
            video.int10(frame);
            break :blk .@"return";
        },
        0x11 => blk: {
            frame.setAx(io.read16(bda.equipment));
            break :blk .@"return";
        },
        0x12 => blk: {
            frame.setAx(io.read16(bda.memory_kib));
            break :blk .@"return";
        },
        0x13 => disk.int13(frame),
        0x14 => blk: { // serial services: not offered (AH bit 7: timeout)
            frame.setAh(0x80);
            break :blk .@"return";
        },
        0x15 => int15(frame),
        0x16 => int16(frame),
        0x17 => blk: { // printer: none (status "not busy, selected" would be a lie)
            frame.setAh(0x00);
            break :blk .@"return";
        },
        0x18 => noBootableDevice(),
        0x19 => boot.int19(),
        0x1A => int1a(frame),
        else => .@"return",
    };
}

pub const panic = @import("panic.zig");

/// INT 18h (a boot loader giving up): say so and stay, as INT 19h does with nothing to boot.
fn noBootableDevice() Action {
    video.print("No bootable device.\n");
    return .halt;
}

// ---------------------------------------------------------------------------------------------
// POST

/// The TSC when POST began: `debugTiming` reports it with the TSC at the boot jump.
var post_tsc: u64 = 0;

pub fn rdtsc() u64 {
    var low: u32 = undefined;
    var high: u32 = undefined;
    asm volatile ("rdtsc"
        : [low] "={eax}" (low),
          [high] "={edx}" (high),
    );
    return @as(u64, high) << 32 | low;
}

/// On the firmware debug port (0x402, `vmctl -v`): the TSC at POST and at the jump into boot
/// code. The TSC counts from the vCPU's creation, so the first number is vmctl's share.
pub fn debugTiming(what: []const u8) void {
    var buffer: [128]u8 = undefined;
    const text = std.fmt.bufPrint(&buffer, "corevm: TSC {d} at POST, {d} entering {s}\n", .{ post_tsc, rdtsc(), what }) catch return;
    io.outsb(platform.debug_console.base, text);
}

fn post() Action {
    const tsc = rdtsc();
    const bss_start: u32 = @intFromPtr(&corevm_bss_start);
    const bss_end: u32 = @intFromPtr(&corevm_bss_end);
    assert(bss_end >= bss_start);
    @memset(io.bytes(bss_start, bss_end - bss_start), 0);
    post_tsc = tsc;

    video.serialInit();
    initBda();
    video.init();
    initInterruptControllers();
    video.print("corevm BIOS\n");

    if (!fw_cfg.detect()) @panic("no fw_cfg: corevm needs vmctl's (or QEMU's) machine");
    fw_cfg.loadDirectory();
    initMemoryMap();
    setupMtrrs();
    pci.init();
    acpi.install();
    acpi.installSmbios();
    disk.init();
    return .@"return";
}

fn initBda() void {
    // The BDA and the EBDA start zeroed: RAM is fresh after each reset, but say so explicitly.
    var address: u32 = 0x400;
    while (address < 0x500) : (address += 4) io.write32(address, 0);
    @memset(io.bytes(ebda_start, ebda_bytes), 0);
    io.write16(bda.com_ports, platform.com1.base);
    io.write16(bda.ebda_segment, @intCast(ebda_start >> 4));
    io.write8(ebda_start, @intCast(ebda_bytes >> 10)); // EBDA size in KiB
    io.write16(bda.memory_kib, @intCast(ebda_start >> 10));
    // Equipment: one serial port (bits 9-11), 80x25 colour (bits 4-5 = 10b), PS/2 mouse
    // (bit 2: the i8042 has one), math coprocessor (bit 1).
    io.write16(bda.equipment, 1 << 9 | 0b10 << 4 | 1 << 2 | 1 << 1);
    io.write16(bda.keyboard_head, @intCast(bda.keyboard_buffer_default - 0x400));
    io.write16(bda.keyboard_tail, @intCast(bda.keyboard_buffer_default - 0x400));
    io.write16(bda.keyboard_buffer_start, @intCast(bda.keyboard_buffer_default - 0x400));
    io.write16(bda.keyboard_buffer_end, @intCast(bda.keyboard_buffer_default + 32 - 0x400));
    io.write8(bda.keyboard_flags3, 0x10); // an enhanced (101-key) keyboard
}

/// The in-kernel PICs start uninitialised: vectors 08h (master) and 70h (slave) as on a PC;
/// the PIT ticks at 18.2 Hz for INT 08h. Only the timer, keyboard and cascade are unmasked.
fn initInterruptControllers() void {
    io.outb(0x20, 0x11);
    io.outb(0xA0, 0x11);
    io.outb(0x21, 0x08);
    io.outb(0xA1, 0x70);
    io.outb(0x21, 0x04);
    io.outb(0xA1, 0x02);
    io.outb(0x21, 0x01);
    io.outb(0xA1, 0x01);
    io.outb(0x21, 0xF8);
    io.outb(0xA1, 0xFF);
    // PIT channel 0, mode 2, divisor 65536.
    io.outb(0x43, 0x34);
    io.outb(0x40, 0);
    io.outb(0x40, 0);
    // i8042 command byte: keyboard IRQ on, scan code translation on, system flag set.
    io.outb(0x64, 0x60);
    io.outb(0x60, 0x65);
}

fn initMemoryMap() void {
    var raw: [e820.max_entries * e820.fw_cfg_entry_bytes]u8 = undefined;
    ram_size_bytes = fw_cfg.readU64(fw_cfg.key.ram_size);
    var len: u32 = 0;
    if (fw_cfg.findFile("etc/e820")) |file| {
        len = @min(file.size, raw.len) / e820.fw_cfg_entry_bytes * e820.fw_cfg_entry_bytes;
        fw_cfg.read(file.select, raw[0..len]);
    } else {
        // An older machine without etc/e820: RAM from 0 up to the size fw_cfg gives, below 3 GiB.
        const low = @min(ram_size_bytes, 0xC000_0000);
        std.mem.writeInt(u64, raw[0..8], 0, .little);
        std.mem.writeInt(u64, raw[8..16], low, .little);
        std.mem.writeInt(u32, raw[16..20], 1, .little);
        len = e820.fw_cfg_entry_bytes;
    }
    memory_map = e820.build(raw[0..len], .{ .ebda_start = ebda_start, .high_zone_bytes = high_zone_bytes });
    memory_map.set((1 << 32) - @as(u64, image_bytes), image_bytes, .reserved);
    const low_end: u32 = @intCast(memory_map.lowRamEnd());
    assert(low_end > 0x20_0000);
    high_zone_next = low_end;
    high_zone_end = low_end + high_zone_bytes;
    // lowRamEnd already stops at the reserved zone: the zone is what follows it.
    assert(memory_map.ramBetween(high_zone_next, high_zone_end) == 0);
}

// ---------------------------------------------------------------------------------------------
// MTRRs: write-back RAM, uncached VGA window and PCI hole, as SeaBIOS leaves them, so Linux
// sets up PAT the same way under either BIOS.

fn cpuid(leaf: u32) [4]u32 {
    var a: u32 = undefined;
    var b: u32 = undefined;
    var c: u32 = undefined;
    var d: u32 = undefined;
    asm volatile ("cpuid"
        : [a] "={eax}" (a),
          [b] "={ebx}" (b),
          [c] "={ecx}" (c),
          [d] "={edx}" (d),
        : [leaf] "{eax}" (leaf),
          [sub] "{ecx}" (@as(u32, 0)),
    );
    return .{ a, b, c, d };
}

fn rdmsr(msr: u32) u64 {
    var low: u32 = undefined;
    var high: u32 = undefined;
    asm volatile ("rdmsr"
        : [low] "={eax}" (low),
          [high] "={edx}" (high),
        : [msr] "{ecx}" (msr),
    );
    return @as(u64, high) << 32 | low;
}

fn wrmsr(msr: u32, value: u64) void {
    asm volatile ("wrmsr"
        :
        : [msr] "{ecx}" (msr),
          [low] "{eax}" (@as(u32, @truncate(value))),
          [high] "{edx}" (@as(u32, @intCast(value >> 32))),
    );
}

fn setupMtrrs() void {
    const mtrr_supported = cpuid(1)[3] & (1 << 12) != 0;
    if (!mtrr_supported) return;
    const capabilities = rdmsr(0xFE);
    const variable_count = capabilities & 0xFF;
    const fixed_supported = capabilities & (1 << 8) != 0;
    const write_back: u64 = 0x0606_0606_0606_0606;
    const uncached: u64 = 0;
    const write_protect: u64 = 0x0505_0505_0505_0505;
    if (fixed_supported) {
        wrmsr(0x250, write_back); // 0x00000-0x7FFFF
        wrmsr(0x258, write_back); // 0x80000-0x9FFFF
        wrmsr(0x259, uncached); // 0xA0000-0xBFFFF: VGA
        var msr: u32 = 0x268; // 0xC0000-0xFFFFF: ROM area, 4 KiB ranges
        while (msr <= 0x26F) : (msr += 1) wrmsr(msr, write_protect);
    }
    var physical_bits: u6 = 36;
    if (cpuid(0x8000_0000)[0] >= 0x8000_0008) physical_bits = @intCast(cpuid(0x8000_0008)[0] & 0xFF);
    const address_mask: u64 = (@as(u64, 1) << physical_bits) - 1;
    if (variable_count >= 1) {
        // 0xC0000000-0xFFFFFFFF (the PCI hole, I/O APIC, LAPIC, firmware): uncached.
        const hole_start: u64 = platform.memory.pci_hole_start;
        const hole_bytes: u64 = (1 << 32) - hole_start;
        // One variable MTRR covers it only as a naturally aligned power of two.
        comptime assert(std.math.isPowerOfTwo(hole_bytes) and hole_start % hole_bytes == 0);
        wrmsr(0x200, hole_start | 0);
        wrmsr(0x201, (address_mask & ~(hole_bytes - 1)) | (1 << 11));
    }
    // Default write-back; fixed and variable ranges on.
    const fixed_enable: u64 = if (fixed_supported) 1 << 10 else 0;
    wrmsr(0x2FF, 0x06 | fixed_enable | 1 << 11);
}

// ---------------------------------------------------------------------------------------------
// INT 15h: system services

fn int15(frame: *Frame) Action {
    const ax = frame.ax();
    switch (frame.ah()) {
        0x24 => switch (frame.al()) { // A20 gate: always on in vmctl
            0x00, 0x01 => frame.setAh(0),
            0x02 => {
                frame.setAh(0);
                frame.setAl(1);
            },
            0x03 => {
                frame.setAx(0);
                frame.setBx(0x0003);
            },
            else => return failed(frame, 0x86),
        },
        0x86 => waitMicroseconds(@as(u32, frame.cx()) << 16 | frame.dx()),
        0x87 => blockMove(frame),
        0x88 => {
            const kib = memory_map.ramBetween(0x10_0000, 0x400_0000) >> 10;
            frame.setAx(@intCast(@min(kib, 0xFC00)));
        },
        0xC0 => {
            const table: u32 = @intFromPtr(&system_configuration);
            frame.es = @intCast(table >> 4);
            frame.setBx(@intCast(table & 0xF));
            frame.setAh(0);
        },
        0xE8 => switch (ax) {
            0xE801 => {
                const below_16m: u16 = @intCast(memory_map.ramBetween(0x10_0000, 0x100_0000) >> 10);
                const above_16m: u16 = @intCast(@min(memory_map.ramBetween(0x100_0000, 1 << 32) >> 16, 0xFFFF));
                frame.setAx(below_16m);
                frame.setCx(below_16m);
                frame.setBx(above_16m);
                frame.setDx(above_16m);
            },
            0xE820 => return e820Call(frame),
            else => return failed(frame, 0x86),
        },
        0x4F => return failed(frame, 0x86), // keyboard intercept: the scan code goes on as is
        0x90, 0x91 => frame.setAh(0),
        else => return failed(frame, 0x86),
    }
    frame.ok();
    return .@"return";
}

fn failed(frame: *Frame, status: u8) Action {
    frame.fail(status);
    return .@"return";
}

/// INT 15h 87h: copy CX words between the bases of the source (GDT+10h) and destination
/// (GDT+18h) descriptors the caller built at ES:SI. corevm is in protected mode already.
fn blockMove(frame: *Frame) void {
    const gdt = io.linear(frame.es, frame.si());
    const source = descriptorBase(gdt + 0x10);
    const destination = descriptorBase(gdt + 0x18);
    const len: u32 = @as(u32, frame.cx()) * 2;
    if (len == 0) return;
    const from = io.bytes(source, len);
    const to = io.bytes(destination, len);
    // Overlapping moves copy forwards, as a `rep movsw` would.
    std.mem.copyForwards(u8, to, from);
    frame.setAh(0);
}

fn descriptorBase(descriptor: u32) u32 {
    return @as(u32, io.read16(descriptor + 2)) | @as(u32, io.read8(descriptor + 4)) << 16 |
        @as(u32, io.read8(descriptor + 7)) << 24;
}

/// INT 15h E820: one map entry per call, EBX the continuation.
fn e820Call(frame: *Frame) Action {
    const smap: u32 = 0x534D4150;
    if (frame.edx != smap or frame.ecx < 20) return failed(frame, 0x86);
    const index = frame.ebx;
    if (index >= memory_map.count) return failed(frame, 0x86);
    const entry = memory_map.entries[index];
    const out = io.linear(frame.es, frame.di());
    io.write32(out, @truncate(entry.start));
    io.write32(out + 4, @intCast(entry.start >> 32));
    io.write32(out + 8, @truncate(entry.length));
    io.write32(out + 12, @intCast(entry.length >> 32));
    io.write32(out + 16, @intFromEnum(entry.type));
    var size: u32 = 20;
    if (frame.ecx >= 24) {
        io.write32(out + 20, 1); // ACPI 3.0 extended attributes: enabled
        size = 24;
    }
    frame.eax = smap;
    frame.ecx = size;
    frame.ebx = if (index + 1 < memory_map.count) index + 1 else 0;
    frame.ok();
    return .@"return";
}

/// The ACPI PM timer (3.579545 MHz, 24 bits) measures the wait: no IRQ needed, few exits.
fn waitMicroseconds(microseconds: u32) void {
    const pm_timer: u16 = platform.acpi_pm_timer;
    const ticks_total: u64 = @as(u64, microseconds) * 3_579_545 / 1_000_000;
    var waited: u64 = 0;
    var last = io.inl(pm_timer) & 0xFF_FFFF;
    while (waited < ticks_total) {
        const now = io.inl(pm_timer) & 0xFF_FFFF;
        waited += (now -% last) & 0xFF_FFFF;
        last = now;
    }
}

/// INT 15h C0h's system configuration table, in the F segment where a real-mode pointer reaches.
const SystemConfiguration = extern struct {
    bytes: u16 = 8,
    model: u8 = 0xFC,
    submodel: u8 = 0x00,
    revision: u8 = 0x00,
    /// Second PIC, RTC, INT 15h/4Fh keyboard intercept, EBDA.
    feature1: u8 = 0x74,
    feature2: u8 = 0x40,
    feature3: u8 = 0,
    feature4: u8 = 0,
    feature5: u8 = 0,
};
export var system_configuration: SystemConfiguration linksection(".fseg") = .{};

// ---------------------------------------------------------------------------------------------
// Keyboard: IRQ 1 fills the BDA ring buffer; INT 16h reads it.

const ascii_plain = "\x00\x1b1234567890-=\x08\tqwertyuiop[]\r\x00asdfghjkl;'`\x00\\zxcvbnm,./\x00*\x00 ";
const ascii_shift = "\x00\x1b!@#$%^&*()_+\x08\tQWERTYUIOP{}\r\x00ASDFGHJKL:\"~\x00|ZXCVBNM<>?\x00*\x00 ";
const flag_right_shift: u8 = 1 << 0;
const flag_left_shift: u8 = 1 << 1;
const flag_ctrl: u8 = 1 << 2;
const flag_alt: u8 = 1 << 3;

fn keyboardIrq() Action {
    const scancode = io.inb(0x60);
    io.outb(0x20, 0x20);
    var flags = io.read8(bda.keyboard_flags);
    const released = scancode & 0x80 != 0;
    const code = scancode & 0x7F;
    const modifier: u8 = switch (code) {
        0x2A => flag_left_shift,
        0x36 => flag_right_shift,
        0x1D => flag_ctrl,
        0x38 => flag_alt,
        else => 0,
    };
    if (modifier != 0) {
        if (released) flags &= ~modifier else flags |= modifier;
        io.write8(bda.keyboard_flags, flags);
        return .@"return";
    }
    if (released or scancode == 0xE0) return .@"return";
    var ascii: u8 = 0;
    if (code < ascii_plain.len) {
        ascii = if (flags & (flag_left_shift | flag_right_shift) != 0) ascii_shift[code] else ascii_plain[code];
        if (flags & flag_ctrl != 0 and ascii >= 'a' and ascii <= 'z') ascii -= 'a' - 1;
    }
    _ = keyboardPush(@as(u16, code) << 8 | ascii);
    return .@"return";
}

fn keyboardPush(key: u16) bool {
    const start = io.read16(bda.keyboard_buffer_start);
    const end = io.read16(bda.keyboard_buffer_end);
    const head = io.read16(bda.keyboard_head);
    const tail = io.read16(bda.keyboard_tail);
    var next = tail + 2;
    if (next >= end) next = start;
    if (next == head) return false;
    io.write16(0x400 + @as(u32, tail), key);
    io.write16(bda.keyboard_tail, next);
    return true;
}

fn keyboardPeek() ?u16 {
    const head = io.read16(bda.keyboard_head);
    if (head == io.read16(bda.keyboard_tail)) return null;
    return io.read16(0x400 + @as(u32, head));
}

fn keyboardPop() void {
    var head = io.read16(bda.keyboard_head) + 2;
    if (head >= io.read16(bda.keyboard_buffer_end)) head = io.read16(bda.keyboard_buffer_start);
    io.write16(bda.keyboard_head, head);
}

/// COM1 input as keystrokes (what SeaBIOS's serial console does): a headless run's stdin can
/// answer a boot loader's INT 16h prompt. Bytes waiting in the UART become BDA buffer entries:
/// ASCII with the scan code of its key, CR as Enter, DEL/BS as Backspace, ESC [ A-D as arrows.
fn pollSerialInput() void {
    const com1 = platform.com1.base;
    const data_ready: u8 = 0x01;
    var taken: u32 = 0;
    while (taken < 16 and io.inb(com1 + 5) & data_ready != 0) : (taken += 1) {
        const byte = io.inb(com1);
        var key: u16 = switch (byte) {
            '\r', '\n' => 0x1C0D,
            0x08, 0x7F => 0x0E08,
            '\t' => 0x0F09,
            0x1B => 0x011B,
            else => scanCodeOf(byte) << 8 | byte,
        };
        if (byte == 0x1B and io.inb(com1 + 5) & data_ready != 0 and io.inb(com1) == '[' and
            io.inb(com1 + 5) & data_ready != 0)
        {
            key = switch (io.inb(com1)) {
                'A' => 0x4800,
                'B' => 0x5000,
                'C' => 0x4D00,
                'D' => 0x4B00,
                else => 0x011B,
            };
        }
        _ = keyboardPush(key);
    }
}

/// The set-1 scan code of the key that types `ascii` (control characters: their letter's).
fn scanCodeOf(ascii: u8) u16 {
    const wanted = if (ascii >= 1 and ascii <= 26) ascii + 'a' - 1 else ascii;
    if (wanted == 0) return 0;
    for (ascii_plain, ascii_shift, 0..) |plain, shifted, code| {
        if (plain == wanted or shifted == wanted) return @intCast(code);
    }
    return 0;
}

fn int16(frame: *Frame) Action {
    if (frame.ah() & 0xEF <= 0x01) pollSerialInput();
    switch (frame.ah()) {
        0x00, 0x10 => {
            const key = keyboardPeek() orelse return .wait;
            keyboardPop();
            frame.setAx(key);
        },
        0x01, 0x11 => {
            const key = keyboardPeek();
            frame.setZero(key == null);
            if (key) |value| frame.setAx(value);
        },
        0x02 => frame.setAl(io.read8(bda.keyboard_flags)),
        0x12 => frame.setAx(io.read8(bda.keyboard_flags)),
        0x03 => {},
        0x05 => frame.setAl(if (keyboardPush(frame.cx())) 0 else 1),
        0x0A => frame.setBx(0xAB41), // keyboard ID: an MF2 keyboard
        else => {},
    }
    return .@"return";
}

// ---------------------------------------------------------------------------------------------
// INT 1Ah: time of day

fn int1a(frame: *Frame) Action {
    switch (frame.ah()) {
        0x00 => {
            const ticks = io.read32(bda.ticks);
            frame.setCx(@intCast(ticks >> 16));
            frame.setDx(@truncate(ticks));
            frame.setAl(io.read8(bda.ticks_midnight));
            io.write8(bda.ticks_midnight, 0);
        },
        0x01 => {
            io.write32(bda.ticks, @as(u32, frame.cx()) << 16 | frame.dx());
            io.write8(bda.ticks_midnight, 0);
        },
        0x02 => {
            frame.setCh(io.cmosRead(0x04));
            frame.setCl(io.cmosRead(0x02));
            frame.setDh(io.cmosRead(0x00));
            frame.setDl(io.cmosRead(0x0B) & 1);
            frame.ok();
        },
        0x04 => {
            frame.setCh(io.cmosRead(0x32));
            frame.setCl(io.cmosRead(0x09));
            frame.setDh(io.cmosRead(0x08));
            frame.setDl(io.cmosRead(0x07));
            frame.ok();
        },
        0x03, 0x05 => frame.ok(), // setting the RTC: the guest's clock follows the host's
        0xB1 => pciBios(frame),
        else => frame.fail(0x86),
    }
    return .@"return";
}

// ---------------------------------------------------------------------------------------------
// INT 1Ah B1xxh: the PCI BIOS (real-mode interface), over configuration mechanism #1, bus 0.

const pci_successful: u8 = 0x00;
const pci_function_not_supported: u8 = 0x81;
const pci_device_not_found: u8 = 0x86;
const pci_bad_register: u8 = 0x87;

fn pciBios(frame: *Frame) void {
    const bus = frame.bh();
    const slot: u5 = @intCast(frame.bl() >> 3);
    const func: u3 = @intCast(frame.bl() & 7);
    const register = frame.di();
    switch (frame.al()) {
        0x01 => { // installation check: mechanism #1, version 2.10, last bus 0
            frame.setAx(0x0001);
            frame.setBx(0x0210);
            frame.setCl(0);
            frame.edx = 0x2049_4350; // "PCI "
            frame.edi = 0;
            frame.ok();
            return;
        },
        0x02, 0x03 => { // find device (CX device, DX vendor) / find class (ECX class code)
            var index: u32 = frame.si();
            for (pci.functions[0..pci.function_count]) |f| {
                const match = if (frame.al() == 0x02)
                    f.vendor_device == (@as(u32, frame.cx()) << 16 | frame.dx())
                else
                    f.class == frame.ecx & 0xFF_FFFF;
                if (!match) continue;
                if (index > 0) {
                    index -= 1;
                    continue;
                }
                frame.setBh(0);
                frame.setBl(@as(u8, f.device) << 3 | f.function);
                return pciResult(frame, pci_successful);
            }
            return pciResult(frame, pci_device_not_found);
        },
        0x08...0x0D => {
            if (bus != 0 or register > 0xFF) return pciResult(frame, pci_bad_register);
            const offset: u8 = @intCast(register);
            switch (frame.al()) {
                0x08 => frame.setCl(pci.read8(slot, func, offset)),
                0x09 => {
                    if (offset & 1 != 0) return pciResult(frame, pci_bad_register);
                    frame.setCx(pci.read16(slot, func, offset));
                },
                0x0C => {
                    if (offset & 1 != 0) return pciResult(frame, pci_bad_register);
                    pci.write16(slot, func, offset, frame.cx());
                },
                0x0A => {
                    if (offset & 3 != 0) return pciResult(frame, pci_bad_register);
                    frame.ecx = pci.read32(slot, func, offset);
                },
                0x0D => {
                    if (offset & 3 != 0) return pciResult(frame, pci_bad_register);
                    pci.write32(slot, func, offset, frame.ecx);
                },
                0x0B => pci.write8(slot, func, offset, frame.cl()),
                else => unreachable,
            }
            return pciResult(frame, pci_successful);
        },
        else => return pciResult(frame, pci_function_not_supported),
    }
}

fn pciResult(frame: *Frame, status: u8) void {
    if (status == pci_successful) {
        frame.setAh(status);
        frame.ok();
    } else frame.fail(status);
}
