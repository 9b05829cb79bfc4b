//! PCI bus 0 through configuration mechanism #1: BARs sized and placed (largest first, each
//! aligned to its size), decoding switched on, the PIIX IDE channels enabled, and the PIIX3
//! PIRQ links routed to IRQs 10, 10, 11, 11 with each function's Interrupt Line to match, as
//! SeaBIOS does on QEMU's pc machine (the DSDT's _PRT and LNKx devices expect that wiring).
const std = @import("std");
const assert = @import("panic.zig").assert;
const io = @import("io.zig");
const platform = @import("platform");

const config_address: u16 = platform.pci_config.base;
const config_data: u16 = platform.pci_config.base + 4;

pub fn address(device: u5, function: u3, offset: u8) u32 {
    return 0x8000_0000 | @as(u32, device) << 11 | @as(u32, function) << 8 | (offset & 0xFC);
}

pub fn read32(device: u5, function: u3, offset: u8) u32 {
    assert(offset & 3 == 0);
    io.outl(config_address, address(device, function, offset));
    return io.inl(config_data);
}

pub fn write32(device: u5, function: u3, offset: u8, value: u32) void {
    assert(offset & 3 == 0);
    io.outl(config_address, address(device, function, offset));
    io.outl(config_data, value);
}

pub fn read16(device: u5, function: u3, offset: u8) u16 {
    assert(offset & 1 == 0);
    io.outl(config_address, address(device, function, offset));
    return io.inw(config_data + (offset & 2));
}

pub fn write16(device: u5, function: u3, offset: u8, value: u16) void {
    assert(offset & 1 == 0);
    io.outl(config_address, address(device, function, offset));
    io.outw(config_data + (offset & 2), value);
}

pub fn read8(device: u5, function: u3, offset: u8) u8 {
    io.outl(config_address, address(device, function, offset));
    return io.inb(config_data + (offset & 3));
}

pub fn write8(device: u5, function: u3, offset: u8, value: u8) void {
    io.outl(config_address, address(device, function, offset));
    io.outb(config_data + (offset & 3), value);
}

const command_io: u16 = 1 << 0;
const command_memory: u16 = 1 << 1;
const command_bus_master: u16 = 1 << 2;

pub const piix_slot: u5 = platform.pci.piix_slot;
pub const ide_function: u3 = platform.pci.ide_function;
/// PIRQA..D to ISA IRQs.
const pirq_irqs = [4]u8{ 10, 10, 11, 11 };
/// Where I/O and memory BARs go: I/O above the legacy ports, memory in the PCI hole that the
/// DSDT's root bridge _CRS announces (0xC0000000 up to the I/O APIC).
const io_window_start: u32 = 0xC000;
const io_window_end: u32 = 0x1_0000;
const memory_window_start: u32 = platform.memory.pci_hole_start;
const memory_window_end: u32 = platform.memory.pci_mmio_end;

const Bar = struct { device: u5, function: u3, index: u3, size: u32, is_io: bool, is_64: bool };
const max_bars = 64;

/// A found function, for the drivers: vendor/device ID and where its BARs went.
pub const Function = struct { device: u5, function: u3, vendor_device: u32, class: u32 };
pub var functions: [32]Function = undefined;
pub var function_count: u32 = 0;

pub fn init() void {
    var bars: [max_bars]Bar = undefined;
    var bar_count: u32 = 0;
    function_count = 0;
    var device: u32 = 0;
    while (device < 32) : (device += 1) {
        const slot: u5 = @intCast(device);
        var function: u32 = 0;
        while (function < 8) : (function += 1) {
            const func: u3 = @intCast(function);
            const id = read32(slot, func, 0x00);
            if (id == 0xFFFF_FFFF or id == 0) {
                if (function == 0) break;
                continue;
            }
            if (function_count < functions.len) {
                functions[function_count] = .{ .device = slot, .function = func, .vendor_device = id, .class = read32(slot, func, 0x08) >> 8 };
                function_count += 1;
            }
            const header_type = read8(slot, func, 0x0E);
            if (header_type & 0x7F == 0) sizeBars(slot, func, &bars, &bar_count);
            routeInterrupt(slot, func);
            if (function == 0 and header_type & 0x80 == 0) break;
        }
    }
    assignBars(bars[0..bar_count]);
    // Enable decoding (and bus mastering for the storage controllers) on every function.
    for (functions[0..function_count]) |f| {
        if (f.device == 0) continue;
        const command = read16(f.device, f.function, 0x04);
        write16(f.device, f.function, 0x04, command | command_io | command_memory | command_bus_master);
    }
    // PIIX IDE: IDETIM bit 15 (IDE decode enable) for both channels, or the legacy ports stay
    // silent.
    write16(piix_slot, ide_function, 0x40, 0x8000);
    write16(piix_slot, ide_function, 0x42, 0x8000);
    // PIRQ route control on the PIIX3 ISA bridge, and the ELCR: PCI interrupts are level.
    var pirq: u8 = 0;
    while (pirq < 4) : (pirq += 1) write8(piix_slot, 0, 0x60 + pirq, pirq_irqs[pirq]);
    var elcr: u16 = 0;
    for (pirq_irqs) |irq| elcr |= @as(u16, 1) << @intCast(irq);
    io.outb(0x4D0, @truncate(elcr));
    io.outb(0x4D1, @intCast(elcr >> 8));
}

fn sizeBars(slot: u5, func: u3, bars: *[max_bars]Bar, count: *u32) void {
    var index: u32 = 0;
    while (index < 6) : (index += 1) {
        const offset: u8 = @intCast(0x10 + index * 4);
        // One address write for the data accesses (the address register stays latched). The old
        // value is not kept: `assignBars` writes every sized BAR again, 0 if it did not fit.
        io.outl(config_address, address(slot, func, offset));
        io.outl(config_data, 0xFFFF_FFFF);
        const probe = io.inl(config_data);
        const bar = decodeProbe(probe, slot, func, @intCast(index));
        if (bar == null or count.* == max_bars) {
            // Nothing there (or no room to track it): leave it at 0, not at all-ones.
            if (probe != 0) io.outl(config_data, 0);
            continue;
        }
        bars[count.*] = bar.?;
        count.* += 1;
        if (bar.?.is_64) index += 1;
    }
}

/// What the value read back after writing all-ones says about a BAR; null when none is there.
fn decodeProbe(probe: u32, slot: u5, func: u3, index: u3) ?Bar {
    if (probe == 0 or probe == 0xFFFF_FFFF) return null;
    const is_io = probe & 1 != 0;
    const is_64 = !is_io and (probe >> 1) & 3 == 2;
    const mask: u32 = if (is_io) probe & 0xFFFF_FFFC else probe & 0xFFFF_FFF0;
    if (mask == 0) return null;
    var size = ~mask +% 1;
    if (is_io) size &= 0xFFFF;
    if (size == 0) return null;
    return .{ .device = slot, .function = func, .index = index, .size = size, .is_io = is_io, .is_64 = is_64 };
}

fn assignBars(bars: []Bar) void {
    // Largest first: every BAR then lands aligned without gaps between the big ones.
    std.mem.sort(Bar, bars, {}, struct {
        fn larger(_: void, a: Bar, b: Bar) bool {
            return a.size > b.size;
        }
    }.larger);
    var next_io: u32 = io_window_start;
    var next_memory: u32 = memory_window_start;
    for (bars) |bar| {
        const offset: u8 = 0x10 + @as(u8, bar.index) * 4;
        const size = @max(bar.size, if (bar.is_io) @as(u32, 4) else @as(u32, 16));
        if (bar.is_io) {
            const base = std.mem.alignForward(u32, next_io, size);
            if (base + size > io_window_end) {
                write32(bar.device, bar.function, offset, 0);
                continue;
            }
            next_io = base + size;
            write32(bar.device, bar.function, offset, base);
        } else {
            const base = std.mem.alignForward(u32, next_memory, size);
            if (base + size > memory_window_end or base < next_memory) {
                write32(bar.device, bar.function, offset, 0);
                continue;
            }
            next_memory = base + size;
            write32(bar.device, bar.function, offset, base);
            if (bar.is_64) write32(bar.device, bar.function, offset + 4, 0);
        }
    }
}

/// PIIX wiring: device d's INTx goes to PIRQ (x + d - 1) mod 4 (slot 1's INTA is PIRQA).
fn routeInterrupt(slot: u5, func: u3) void {
    const pin = read8(slot, func, 0x3D);
    if (pin == 0 or pin > 4) return;
    const pirq = (@as(u32, pin) - 1 + slot + 3) & 3;
    write8(slot, func, 0x3C, pirq_irqs[pirq]);
}

/// BAR `index` of `device`.`function` without its flag bits.
pub fn barAddress(device: u5, function: u3, index: u3) u32 {
    const value = read32(device, function, 0x10 + @as(u8, index) * 4);
    return if (value & 1 != 0) value & 0xFFFC else value & 0xFFFF_FFF0;
}
