//! The registers of a real-mode interrupt as entry.S pushes them on the caller's stack. A
//! handler reads and changes them here; the thunk pops them back and irets.
const std = @import("std");

pub const Frame = extern struct {
    gs: u16,
    fs: u16,
    es: u16,
    ds: u16,
    edi: u32,
    esi: u32,
    ebp: u32,
    esp_unused: u32,
    ebx: u32,
    edx: u32,
    ecx: u32,
    eax: u32,
    vector: u16,
    ip: u16,
    cs: u16,
    flags: u16,

    comptime {
        std.debug.assert(@sizeOf(Frame) == 48);
        std.debug.assert(@offsetOf(Frame, "vector") == 40);
    }

    const carry: u16 = 1 << 0;
    const zero: u16 = 1 << 6;

    pub fn ax(f: *const Frame) u16 {
        return @truncate(f.eax);
    }
    pub fn bx(f: *const Frame) u16 {
        return @truncate(f.ebx);
    }
    pub fn cx(f: *const Frame) u16 {
        return @truncate(f.ecx);
    }
    pub fn dx(f: *const Frame) u16 {
        return @truncate(f.edx);
    }
    pub fn si(f: *const Frame) u16 {
        return @truncate(f.esi);
    }
    pub fn di(f: *const Frame) u16 {
        return @truncate(f.edi);
    }
    pub fn bp(f: *const Frame) u16 {
        return @truncate(f.ebp);
    }
    pub fn ah(f: *const Frame) u8 {
        return @truncate(f.eax >> 8);
    }
    pub fn al(f: *const Frame) u8 {
        return @truncate(f.eax);
    }
    pub fn bh(f: *const Frame) u8 {
        return @truncate(f.ebx >> 8);
    }
    pub fn bl(f: *const Frame) u8 {
        return @truncate(f.ebx);
    }
    pub fn ch(f: *const Frame) u8 {
        return @truncate(f.ecx >> 8);
    }
    pub fn cl(f: *const Frame) u8 {
        return @truncate(f.ecx);
    }
    pub fn dh(f: *const Frame) u8 {
        return @truncate(f.edx >> 8);
    }
    pub fn dl(f: *const Frame) u8 {
        return @truncate(f.edx);
    }

    pub fn setAx(f: *Frame, v: u16) void {
        f.eax = (f.eax & 0xFFFF_0000) | v;
    }
    pub fn setBx(f: *Frame, v: u16) void {
        f.ebx = (f.ebx & 0xFFFF_0000) | v;
    }
    pub fn setCx(f: *Frame, v: u16) void {
        f.ecx = (f.ecx & 0xFFFF_0000) | v;
    }
    pub fn setDx(f: *Frame, v: u16) void {
        f.edx = (f.edx & 0xFFFF_0000) | v;
    }
    pub fn setAh(f: *Frame, v: u8) void {
        f.eax = (f.eax & 0xFFFF_00FF) | @as(u32, v) << 8;
    }
    pub fn setAl(f: *Frame, v: u8) void {
        f.eax = (f.eax & 0xFFFF_FF00) | v;
    }
    pub fn setBh(f: *Frame, v: u8) void {
        f.ebx = (f.ebx & 0xFFFF_00FF) | @as(u32, v) << 8;
    }
    pub fn setBl(f: *Frame, v: u8) void {
        f.ebx = (f.ebx & 0xFFFF_FF00) | v;
    }
    pub fn setCl(f: *Frame, v: u8) void {
        f.ecx = (f.ecx & 0xFFFF_FF00) | v;
    }
    pub fn setCh(f: *Frame, v: u8) void {
        f.ecx = (f.ecx & 0xFFFF_00FF) | @as(u32, v) << 8;
    }
    pub fn setDh(f: *Frame, v: u8) void {
        f.edx = (f.edx & 0xFFFF_00FF) | @as(u32, v) << 8;
    }
    pub fn setDl(f: *Frame, v: u8) void {
        f.edx = (f.edx & 0xFFFF_FF00) | v;
    }

    /// Success: CF clear.
    pub fn ok(f: *Frame) void {
        f.flags &= ~carry;
    }
    /// Failure with status `status` in AH: CF set.
    pub fn fail(f: *Frame, status: u8) void {
        f.flags |= carry;
        f.setAh(status);
    }
    pub fn setZero(f: *Frame, set: bool) void {
        if (set) f.flags |= zero else f.flags &= ~zero;
    }
};
