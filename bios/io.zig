//! Port I/O and physical memory access for the 32-bit, flat, identity-mapped firmware code.
const std = @import("std");
const assert = @import("panic.zig").assert;

pub inline fn outb(port: u16, value: u8) void {
    asm volatile ("outb %[value], %[port]"
        :
        : [value] "{al}" (value),
          [port] "{dx}" (port),
    );
}

pub inline fn outw(port: u16, value: u16) void {
    asm volatile ("outw %[value], %[port]"
        :
        : [value] "{ax}" (value),
          [port] "{dx}" (port),
    );
}

pub inline fn outl(port: u16, value: u32) void {
    asm volatile ("outl %[value], %[port]"
        :
        : [value] "{eax}" (value),
          [port] "{dx}" (port),
    );
}

pub inline fn inb(port: u16) u8 {
    return asm volatile ("inb %[port], %[value]"
        : [value] "={al}" (-> u8),
        : [port] "{dx}" (port),
    );
}

pub inline fn inw(port: u16) u16 {
    return asm volatile ("inw %[port], %[value]"
        : [value] "={ax}" (-> u16),
        : [port] "{dx}" (port),
    );
}

pub inline fn inl(port: u16) u32 {
    return asm volatile ("inl %[port], %[value]"
        : [value] "={eax}" (-> u32),
        : [port] "{dx}" (port),
    );
}

/// `rep insw`: one exit for a whole sector instead of one per word.
pub fn insw(port: u16, destination: [*]u16, count: u32) void {
    var d = destination;
    var c = count;
    asm volatile ("rep insw"
        : [d] "+{edi}" (d),
          [c] "+{ecx}" (c),
        : [port] "{dx}" (port),
        : "memory"
    );
}

/// `rep outsb`: KVM hands the whole string to vmctl in one exit (up to a page).
pub fn outsb(port: u16, source: []const u8) void {
    var s = source.ptr;
    var c: u32 = @intCast(source.len);
    asm volatile ("rep outsb"
        : [s] "+{esi}" (s),
          [c] "+{ecx}" (c),
        : [port] "{dx}" (port),
        : "memory"
    );
}

pub fn outsw(port: u16, source: [*]const u16, count: u32) void {
    var s = source;
    var c = count;
    asm volatile ("rep outsw"
        : [s] "+{esi}" (s),
          [c] "+{ecx}" (c),
        : [port] "{dx}" (port),
        : "memory"
    );
}

/// Guest-physical memory: the firmware runs with paging off, so a linear address is physical.
pub fn bytes(address: u32, len: u32) []u8 {
    assert(address != 0 or len == 0);
    assert(@as(u64, address) + len <= 1 << 32);
    const base: [*]u8 = @ptrFromInt(address);
    return base[0..len];
}

pub fn read16(address: u32) u16 {
    const p: *allowzero align(1) volatile u16 = @ptrFromInt(address);
    return p.*;
}

pub fn write16(address: u32, value: u16) void {
    const p: *allowzero align(1) volatile u16 = @ptrFromInt(address);
    p.* = value;
}

pub fn read8(address: u32) u8 {
    const p: *allowzero volatile u8 = @ptrFromInt(address);
    return p.*;
}

pub fn write8(address: u32, value: u8) void {
    const p: *allowzero volatile u8 = @ptrFromInt(address);
    p.* = value;
}

pub fn read32(address: u32) u32 {
    const p: *allowzero align(1) volatile u32 = @ptrFromInt(address);
    return p.*;
}

pub fn write32(address: u32, value: u32) void {
    const p: *allowzero align(1) volatile u32 = @ptrFromInt(address);
    p.* = value;
}

/// A real-mode segment:offset as a linear address.
pub fn linear(segment: u16, offset: u16) u32 {
    return @as(u32, segment) * 16 + offset;
}

/// CMOS/RTC register `index` (NMI stays enabled: bit 7 clear).
pub fn cmosRead(index: u8) u8 {
    assert(index < 0x80);
    outb(0x70, index);
    return inb(0x71);
}

pub fn cmosWrite(index: u8, value: u8) void {
    assert(index < 0x80);
    outb(0x70, index);
    outb(0x71, value);
}
