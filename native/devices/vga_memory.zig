//! The VGA's display memory as the CPU sees it through the legacy window (0xA0000-0xBFFFF), after
//! the IBM VGA programming model: four 64 KiB planes behind 32-bit latches, the graphics
//! controller's write modes 0-3 (rotate, set/reset, logical function, bit mask) and read modes 0-1
//! (read map select, colour compare), the sequencer's map mask, and the three ways a CPU address
//! reaches the planes (planar, odd/even, chain 4). Plain functions on small values, without locks:
//! vga.zig owns the registers and the mutex and calls in here for every byte.
//!
//! Storage: the first 256 KiB of video memory hold the planes interleaved, plane p's byte at
//! offset o is `vram[o * 4 + p]`, so that chain 4 (mode 13h) is a linear view of video memory.
const std = @import("std");
const assert = std.debug.assert;

/// Four planes of 64 KiB each: 256 KiB, the IBM VGA's display memory.
pub const plane_count: u32 = 4;
pub const plane_bytes: u32 = 64 << 10;
/// The part of video memory that holds the planes.
pub const planar_bytes: u32 = plane_count * plane_bytes;
/// The legacy window, 0xA0000-0xBFFFF: what `decodeWindow` takes offsets into.
pub const window_base: u32 = 0xA0000;
pub const window_bytes: u32 = 128 << 10;
/// The text window of memory maps 2 and 3, the most the text shadow covers.
pub const text_window_bytes: u32 = 32 << 10;

/// Sequencer memory mode register (index 4) bits.
pub const memory_mode_odd_even_disable: u8 = 0x04;
pub const memory_mode_chain4: u8 = 0x08;
/// Graphics controller data rotate register (index 3): rotate count and logical function.
pub const data_rotate_count: u8 = 0x07;
pub const data_rotate_function_shift: u3 = 3;
/// Graphics controller graphics mode register (index 5) bits.
pub const graphics_mode_write_mode: u8 = 0x03;
pub const graphics_mode_read_mode: u8 = 0x08;
pub const graphics_mode_host_odd_even: u8 = 0x10;
/// Graphics controller miscellaneous register (index 6): memory map select, bits 2-3.
pub const misc_memory_map_shift: u3 = 2;

/// What the ALU does with the data and the latch (data rotate bits 3-4).
pub const LogicalFunction = enum(u2) { replace = 0, @"and" = 1, @"or" = 2, xor = 3 };

/// Where the CPU window lies (graphics controller misc bits 2-3).
pub const MemoryMap = enum(u2) {
    a0000_128k = 0,
    a0000_64k = 1,
    b0000_32k = 2,
    b8000_32k = 3,

    /// The window's start, counted from 0xA0000.
    pub fn start(self: MemoryMap) u32 {
        return switch (self) {
            .a0000_128k, .a0000_64k => 0,
            .b0000_32k => 0x10000,
            .b8000_32k => 0x18000,
        };
    }

    /// The window's size: 128 KiB, 64 KiB or 32 KiB.
    pub fn bytes(self: MemoryMap) u32 {
        return switch (self) {
            .a0000_128k => window_bytes,
            .a0000_64k => plane_bytes,
            .b0000_32k, .b8000_32k => text_window_bytes,
        };
    }

    /// The address inside the window of the byte at `offset` from 0xA0000, or null when the
    /// window does not decode it.
    pub fn decode(self: MemoryMap, offset: u32) ?u32 {
        const first = self.start();
        if (offset < first or offset - first >= self.bytes()) return null;
        return offset - first;
    }
};

/// How a CPU address picks planes and the offset within them.
pub const Addressing = enum {
    /// Every plane (as the map mask allows) at offset `a`.
    planar,
    /// Even addresses reach planes 0 and 2, odd ones 1 and 3, at offset `a >> 1`.
    odd_even,
    /// Plane `a & 3` at offset `a >> 2`: video memory byte `a`.
    chain4,

    /// The plane offset of window address `address`; planar offsets wrap at 64 KiB.
    pub fn planeOffset(self: Addressing, address: u32) u16 {
        return @truncate(switch (self) {
            .planar => address,
            .odd_even => address >> 1,
            .chain4 => address >> 2,
        });
    }
};

/// The sequencer and graphics controller registers that steer a memory access, named after
/// the chip's registers.
pub const Registers = struct {
    /// Sequencer index 2: the planes a write may change (bits 0-3).
    map_mask: u8,
    /// Sequencer index 4.
    memory_mode: u8,
    /// Graphics controller indexes 0, 1, 2, 3, 4, 5, 7, 8.
    set_reset: u8,
    enable_set_reset: u8,
    color_compare: u8,
    data_rotate: u8,
    read_map_select: u8,
    graphics_mode: u8,
    color_dont_care: u8,
    bit_mask: u8,

    /// Chain 4 wins over odd/even; odd/even is on while "odd/even disable" is clear.
    pub fn writeAddressing(self: Registers) Addressing {
        if (self.memory_mode & memory_mode_chain4 != 0) return .chain4;
        if (self.memory_mode & memory_mode_odd_even_disable == 0) return .odd_even;
        return .planar;
    }

    /// Reads follow the graphics controller's host odd/even bit instead of the sequencer's.
    pub fn readAddressing(self: Registers) Addressing {
        if (self.memory_mode & memory_mode_chain4 != 0) return .chain4;
        if (self.graphics_mode & graphics_mode_host_odd_even != 0) return .odd_even;
        return .planar;
    }

    /// Graphics mode bits 0-1.
    pub fn writeMode(self: Registers) u2 {
        return @truncate(self.graphics_mode & graphics_mode_write_mode);
    }

    /// Graphics mode bit 3: read mode 1, colour compare.
    pub fn readModeCompare(self: Registers) bool {
        return self.graphics_mode & graphics_mode_read_mode != 0;
    }

    /// Data rotate bits 0-2: how far write modes 0 and 3 rotate the data right.
    pub fn rotateCount(self: Registers) u3 {
        return @truncate(self.data_rotate & data_rotate_count);
    }

    /// Data rotate bits 3-4.
    pub fn logicalFunction(self: Registers) LogicalFunction {
        return @enumFromInt(@as(u2, @truncate(self.data_rotate >> data_rotate_function_shift)));
    }
};

/// The planes, wherever they are: `vram` holds all four interleaved; while the text shadow is in
/// force, `shadow` (the CPU's view of an odd/even text window: byte `2 * o + p` is plane p,
/// offset o) holds planes 0 and 1 for the offsets it covers, and `vram` is stale there.
pub const Planes = struct {
    vram: []u8,
    shadow: []u8 = &.{},

    fn inShadow(self: Planes, plane: u2, offset: u16) bool {
        return plane < 2 and @as(u32, offset) * 2 + 1 < self.shadow.len;
    }

    /// Plane `plane`'s byte at `offset`.
    pub fn get(self: Planes, plane: u2, offset: u16) u8 {
        assert(self.vram.len >= planar_bytes);
        if (self.inShadow(plane, offset)) return self.shadow[@as(u32, offset) * 2 + plane];
        return self.vram[@as(u32, offset) * plane_count + plane];
    }

    /// Stores plane `plane`'s byte at `offset`.
    pub fn set(self: Planes, plane: u2, offset: u16, value: u8) void {
        assert(self.vram.len >= planar_bytes);
        if (self.inShadow(plane, offset)) {
            self.shadow[@as(u32, offset) * 2 + plane] = value;
        } else {
            self.vram[@as(u32, offset) * plane_count + plane] = value;
        }
    }
};

/// A CPU read of window address `address` (already decoded by the memory map): loads the four
/// latches from the plane offset the read addressing gives, then answers with one plane (read
/// mode 0) or the colour compare (read mode 1).
pub fn read(registers: Registers, latches: *[plane_count]u8, planes: Planes, address: u32) u8 {
    const addressing = registers.readAddressing();
    const offset = addressing.planeOffset(address);
    for (latches, 0..) |*latch, plane| latch.* = planes.get(@intCast(plane), offset);
    if (registers.readModeCompare()) return colorCompare(registers, latches.*);
    return latches[readPlane(registers, addressing, address)];
}

/// The plane read mode 0 returns.
pub fn readPlane(registers: Registers, addressing: Addressing, address: u32) u2 {
    const read_map: u2 = @truncate(registers.read_map_select);
    const low: u2 = @truncate(address);
    return switch (addressing) {
        .planar => read_map,
        .odd_even => (read_map & 2) | (low & 1),
        .chain4 => low,
    };
}

/// Read mode 1: a bit is set where every plane not excluded by colour don't care matches the
/// colour compare register.
pub fn colorCompare(registers: Registers, latches: [plane_count]u8) u8 {
    var differs: u8 = 0;
    for (latches, 0..) |latch, plane| {
        const bit = @as(u8, 1) << @intCast(plane);
        if (registers.color_dont_care & bit == 0) continue;
        differs |= latch ^ expand(registers.color_compare & bit != 0);
    }
    return ~differs;
}

/// A CPU write of `data` to window address `address` (already decoded by the memory map): the
/// write mode's result for each plane, stored in the planes the addressing and the map mask
/// select. The latches are not changed.
pub fn write(registers: Registers, latches: [plane_count]u8, planes: Planes, address: u32, data: u8) void {
    const addressing = registers.writeAddressing();
    const offset = addressing.planeOffset(address);
    const enabled = writePlanes(registers, addressing, address);
    const values = writeValues(registers, latches, data);
    for (values, 0..) |value, plane| {
        if (enabled & (@as(u8, 1) << @intCast(plane)) != 0) planes.set(@intCast(plane), offset, value);
    }
}

/// The planes (bits 0-3) a write to `address` reaches: the map mask, narrowed by odd/even or
/// chain 4 addressing.
pub fn writePlanes(registers: Registers, addressing: Addressing, address: u32) u8 {
    const map_mask = registers.map_mask & 0x0F;
    const low: u2 = @truncate(address);
    return switch (addressing) {
        .planar => map_mask,
        .odd_even => map_mask & @as(u8, if (low & 1 == 0) 0x05 else 0x0A),
        .chain4 => map_mask & (@as(u8, 1) << low),
    };
}

/// What each plane would receive from a write of `data`, per the write mode:
/// 0: rotated data or set/reset (where enabled), function with the latch, bit mask;
/// 1: the latches; 2: data bits 0-3 expanded to whole bytes, function, bit mask;
/// 3: set/reset as the colour, function, masked by the rotated data AND the bit mask.
pub fn writeValues(registers: Registers, latches: [plane_count]u8, data: u8) [plane_count]u8 {
    const rotated = std.math.rotr(u8, data, registers.rotateCount());
    const function = registers.logicalFunction();
    var values: [plane_count]u8 = undefined;
    for (&values, latches, 0..) |*value, latch, plane| {
        const bit = @as(u8, 1) << @intCast(plane);
        const set_reset = expand(registers.set_reset & bit != 0);
        value.* = switch (registers.writeMode()) {
            0 => blend(apply(function, if (registers.enable_set_reset & bit != 0) set_reset else rotated, latch), latch, registers.bit_mask),
            1 => latch,
            2 => blend(apply(function, expand(data & bit != 0), latch), latch, registers.bit_mask),
            3 => blend(apply(function, set_reset, latch), latch, rotated & registers.bit_mask),
        };
    }
    return values;
}

fn expand(set: bool) u8 {
    return if (set) 0xFF else 0x00;
}

fn apply(function: LogicalFunction, value: u8, latch: u8) u8 {
    return switch (function) {
        .replace => value,
        .@"and" => value & latch,
        .@"or" => value | latch,
        .xor => value ^ latch,
    };
}

/// Bits set in `mask` come from `value`, the others from the latch.
fn blend(value: u8, latch: u8, mask: u8) u8 {
    return (value & mask) | (latch & ~mask);
}

/// Fills an odd/even text shadow from planes 0 and 1 (byte a = plane a & 1, offset a >> 1).
pub fn planesToShadow(vram: []const u8, shadow: []u8) void {
    assert(vram.len >= planar_bytes);
    assert(shadow.len % 2 == 0 and shadow.len <= text_window_bytes);
    for (shadow, 0..) |*byte, address| byte.* = vram[(address >> 1) * plane_count + (address & 1)];
}

/// Stores an odd/even text shadow back into planes 0 and 1.
pub fn shadowToPlanes(shadow: []const u8, vram: []u8) void {
    assert(vram.len >= planar_bytes);
    assert(shadow.len % 2 == 0 and shadow.len <= text_window_bytes);
    for (shadow, 0..) |byte, address| vram[(address >> 1) * plane_count + (address & 1)] = byte;
}

comptime {
    assert(planar_bytes == 256 << 10);
    assert(window_bytes / 2 <= plane_bytes * 2);
    assert(text_window_bytes / 2 <= plane_bytes);
}

const testing = std.testing;

/// Registers of a planar 16-colour mode (12h) as a BIOS leaves them: write mode 0, replace.
const planar_registers = Registers{
    .map_mask = 0x0F,
    .memory_mode = 0x06,
    .set_reset = 0,
    .enable_set_reset = 0,
    .color_compare = 0,
    .data_rotate = 0,
    .read_map_select = 0,
    .graphics_mode = 0x00,
    .color_dont_care = 0x0F,
    .bit_mask = 0xFF,
};

fn testVram() ![]u8 {
    const vram = try testing.allocator.alloc(u8, planar_bytes);
    @memset(vram, 0);
    return vram;
}

test "write mode 0: rotate, set/reset where enabled, every logical function, bit mask" {
    const latches = [4]u8{ 0xF0, 0x0F, 0xAA, 0x55 };
    var registers = planar_registers;
    try testing.expectEqual([4]u8{ 0x81, 0x81, 0x81, 0x81 }, writeValues(registers, latches, 0x81));
    registers.data_rotate = 0x01; // rotate right by one
    try testing.expectEqual([4]u8{ 0xC0, 0xC0, 0xC0, 0xC0 }, writeValues(registers, latches, 0x81));
    registers.data_rotate = 0x07;
    try testing.expectEqual([4]u8{ 0x03, 0x03, 0x03, 0x03 }, writeValues(registers, latches, 0x81));

    registers.data_rotate = 0x00;
    registers.enable_set_reset = 0x05; // planes 0 and 2 take set/reset
    registers.set_reset = 0x0C; // plane 0 cleared, plane 2 set
    try testing.expectEqual([4]u8{ 0x00, 0x3C, 0xFF, 0x3C }, writeValues(registers, latches, 0x3C));

    registers.enable_set_reset = 0;
    registers.data_rotate = 0x08; // AND
    try testing.expectEqual([4]u8{ 0x30, 0x0C, 0x28, 0x14 }, writeValues(registers, latches, 0x3C));
    registers.data_rotate = 0x10; // OR
    try testing.expectEqual([4]u8{ 0xFC, 0x3F, 0xBE, 0x7D }, writeValues(registers, latches, 0x3C));
    registers.data_rotate = 0x18; // XOR
    try testing.expectEqual([4]u8{ 0xCC, 0x33, 0x96, 0x69 }, writeValues(registers, latches, 0x3C));
    registers.data_rotate = 0x1C; // XOR after rotating by four: 0x3C becomes 0xC3
    try testing.expectEqual([4]u8{ 0x33, 0xCC, 0x69, 0x96 }, writeValues(registers, latches, 0x3C));

    registers.data_rotate = 0x00;
    registers.bit_mask = 0x0F; // high nibble from the latch
    try testing.expectEqual([4]u8{ 0xF6, 0x06, 0xA6, 0x56 }, writeValues(registers, latches, 0x66));
    registers.bit_mask = 0x00;
    try testing.expectEqual(latches, writeValues(registers, latches, 0x66));
}

test "write mode 1 copies the latches; 2 expands the colour; 3 masks set/reset by rotated data" {
    const latches = [4]u8{ 0xF0, 0x0F, 0xAA, 0x55 };
    var registers = planar_registers;
    registers.graphics_mode = 0x01;
    registers.bit_mask = 0x00; // ignored in write mode 1
    registers.data_rotate = 0x18;
    try testing.expectEqual(latches, writeValues(registers, latches, 0x12));

    registers.graphics_mode = 0x02;
    registers.data_rotate = 0x00;
    registers.bit_mask = 0xFF;
    try testing.expectEqual([4]u8{ 0xFF, 0x00, 0xFF, 0x00 }, writeValues(registers, latches, 0xF5));
    registers.bit_mask = 0x81;
    try testing.expectEqual([4]u8{ 0xF1, 0x0E, 0xAB, 0x54 }, writeValues(registers, latches, 0x05));
    registers.data_rotate = 0x18; // XOR with the latch, then the bit mask
    try testing.expectEqual([4]u8{ 0x71, 0x0F, 0x2B, 0x55 }, writeValues(registers, latches, 0x05));

    registers.graphics_mode = 0x03;
    registers.data_rotate = 0x02; // rotate right by two, replace
    registers.set_reset = 0x09;
    registers.enable_set_reset = 0x00; // ignored in write mode 3
    registers.bit_mask = 0xF0;
    // Data 0xF3 rotated is 0xFC; AND the bit mask gives the mask 0xF0.
    try testing.expectEqual([4]u8{ 0xF0, 0x0F, 0x0A, 0xF5 }, writeValues(registers, latches, 0xF3));
    registers.data_rotate = 0x0A; // AND with the latch
    try testing.expectEqual([4]u8{ 0xF0, 0x0F, 0x0A, 0x55 }, writeValues(registers, latches, 0xF3));
}

test "read mode 0 picks a plane per the addressing; read mode 1 compares colours" {
    const vram = try testVram();
    defer testing.allocator.free(vram);
    const planes = Planes{ .vram = vram };
    for (0..4) |plane| planes.set(@intCast(plane), 0x1234, @as(u8, 0x10) + @as(u8, @intCast(plane)));
    var latches = [4]u8{ 0, 0, 0, 0 };
    var registers = planar_registers;
    registers.read_map_select = 2;
    try testing.expectEqual(@as(u8, 0x12), read(registers, &latches, planes, 0x1234));
    try testing.expectEqual([4]u8{ 0x10, 0x11, 0x12, 0x13 }, latches);
    registers.read_map_select = 0x07; // two bits decoded
    try testing.expectEqual(@as(u8, 0x13), read(registers, &latches, planes, 0x1234));
    // Planar offsets wrap at 64 KiB: the 128 KiB window sees the planes twice.
    try testing.expectEqual(@as(u8, 0x13), read(registers, &latches, planes, 0x11234));

    registers.graphics_mode = 0x10; // odd/even reads: plane (read map & 2) | (a & 1) at a >> 1
    registers.read_map_select = 0;
    try testing.expectEqual(@as(u8, 0x10), read(registers, &latches, planes, 0x2468));
    try testing.expectEqual(@as(u8, 0x11), read(registers, &latches, planes, 0x2469));
    registers.read_map_select = 2;
    try testing.expectEqual(@as(u8, 0x12), read(registers, &latches, planes, 0x2468));
    try testing.expectEqual(@as(u8, 0x13), read(registers, &latches, planes, 0x2469));

    registers.memory_mode = 0x0E; // chain 4: plane a & 3 at a >> 2, video memory byte a
    for (0..4) |low| {
        const address = 0x1234 * 4 + @as(u32, @intCast(low));
        try testing.expectEqual(vram[address], read(registers, &latches, planes, address));
    }

    // Read mode 1: pixels of colour 0b0101 in plane bits where each plane matches.
    vram[0x40 * 4 + 0] = 0b1111_0000;
    vram[0x40 * 4 + 1] = 0b1100_1100;
    vram[0x40 * 4 + 2] = 0b1010_1010;
    vram[0x40 * 4 + 3] = 0b0000_1111;
    registers = planar_registers;
    registers.graphics_mode = 0x08;
    registers.color_compare = 0x05;
    // Pixel colours, bit 7 to 0: 7, 3, 5, 1, 14, 10, 12, 8; only bit 5 is colour 5.
    try testing.expectEqual(@as(u8, 0b0010_0000), read(registers, &latches, planes, 0x40));
    registers.color_dont_care = 0x05; // planes 0 and 2 only: colours 5, 7 match
    try testing.expectEqual(@as(u8, 0b1010_0000), read(registers, &latches, planes, 0x40));
    registers.color_dont_care = 0x00; // nothing compared: all match
    try testing.expectEqual(@as(u8, 0xFF), read(registers, &latches, planes, 0x40));
    try testing.expectEqual([4]u8{ 0xF0, 0xCC, 0xAA, 0x0F }, latches);
}

test "latch copy: a read loads all four planes, write mode 1 stores them elsewhere" {
    const vram = try testVram();
    defer testing.allocator.free(vram);
    const planes = Planes{ .vram = vram };
    for (0..4) |plane| planes.set(@intCast(plane), 100, @as(u8, 0xA0) | @as(u8, @intCast(plane)));
    var latches = [4]u8{ 0, 0, 0, 0 };
    var registers = planar_registers;
    _ = read(registers, &latches, planes, 100);
    registers.graphics_mode = 0x01;
    write(registers, latches, planes, 5000, 0x00);
    registers.map_mask = 0x06; // only planes 1 and 2
    write(registers, latches, planes, 9000, 0x00);
    for (0..4) |plane| {
        const p: u2 = @intCast(plane);
        try testing.expectEqual(@as(u8, 0xA0) | p, planes.get(p, 5000));
        try testing.expectEqual(if (plane == 1 or plane == 2) @as(u8, 0xA0) | p else 0, planes.get(p, 9000));
    }
}

test "odd/even and chain 4 writes reach the planes the map mask allows" {
    const vram = try testVram();
    defer testing.allocator.free(vram);
    const planes = Planes{ .vram = vram };
    var registers = planar_registers;
    registers.memory_mode = 0x02; // odd/even
    registers.map_mask = 0x0F;
    write(registers, .{ 0, 0, 0, 0 }, planes, 0x20, 0x41);
    write(registers, .{ 0, 0, 0, 0 }, planes, 0x21, 0x07);
    try testing.expectEqualSlices(u8, &[4]u8{ 0x41, 0x07, 0x41, 0x07 }, vram[0x10 * 4 ..][0..4]);
    registers.map_mask = 0x03; // text: characters and attributes only
    write(registers, .{ 0, 0, 0, 0 }, planes, 0x20, 0x42);
    write(registers, .{ 0, 0, 0, 0 }, planes, 0x21, 0x1F);
    try testing.expectEqualSlices(u8, &[4]u8{ 0x42, 0x1F, 0x41, 0x07 }, vram[0x10 * 4 ..][0..4]);
    registers.map_mask = 0x08;
    write(registers, .{ 0, 0, 0, 0 }, planes, 0x20, 0xEE); // plane 2 is masked off
    try testing.expectEqualSlices(u8, &[4]u8{ 0x42, 0x1F, 0x41, 0x07 }, vram[0x10 * 4 ..][0..4]);

    registers.memory_mode = 0x0E; // chain 4
    registers.map_mask = 0x0F;
    for (0..8) |i| write(registers, .{ 0, 0, 0, 0 }, planes, 0x1000 + @as(u32, @intCast(i)), @intCast(i + 1));
    try testing.expectEqualSlices(u8, &[8]u8{ 1, 2, 3, 4, 5, 6, 7, 8 }, vram[0x1000..][0..8]);
    registers.map_mask = 0x05;
    for (0..4) |i| write(registers, .{ 0, 0, 0, 0 }, planes, 0x1000 + @as(u32, @intCast(i)), 0xFF);
    try testing.expectEqualSlices(u8, &[4]u8{ 0xFF, 2, 0xFF, 4 }, vram[0x1000..][0..4]);
    // The highest chain-4 address of the 128 KiB window stays inside the planes.
    write(registers, .{ 0, 0, 0, 0 }, planes, window_bytes - 4, 0x99);
    try testing.expectEqual(@as(u8, 0x99), vram[window_bytes - 4]);
}

test "memory map select decodes four windows" {
    try testing.expectEqual(@as(?u32, 0x1FFFF), MemoryMap.a0000_128k.decode(0x1FFFF));
    try testing.expectEqual(@as(?u32, null), MemoryMap.a0000_128k.decode(0x20000));
    try testing.expectEqual(@as(?u32, 0xFFFF), MemoryMap.a0000_64k.decode(0xFFFF));
    try testing.expectEqual(@as(?u32, null), MemoryMap.a0000_64k.decode(0x10000));
    try testing.expectEqual(@as(?u32, null), MemoryMap.b0000_32k.decode(0xFFFF));
    try testing.expectEqual(@as(?u32, 0), MemoryMap.b0000_32k.decode(0x10000));
    try testing.expectEqual(@as(?u32, 0x7FFF), MemoryMap.b0000_32k.decode(0x17FFF));
    try testing.expectEqual(@as(?u32, null), MemoryMap.b0000_32k.decode(0x18000));
    try testing.expectEqual(@as(?u32, null), MemoryMap.b8000_32k.decode(0x17FFF));
    try testing.expectEqual(@as(?u32, 0x10), MemoryMap.b8000_32k.decode(0x18010));
    try testing.expectEqual(@as(?u32, null), MemoryMap.b8000_32k.decode(0x20000));
    try testing.expectEqual(@as(?u32, null), MemoryMap.b8000_32k.decode(std.math.maxInt(u32)));
}

test "the text shadow stands in for planes 0 and 1 and round-trips" {
    const vram = try testVram();
    defer testing.allocator.free(vram);
    var shadow: [text_window_bytes]u8 = undefined;
    for (vram, 0..) |*byte, i| byte.* = @truncate(i *% 7);
    planesToShadow(vram, &shadow);
    try testing.expectEqual(vram[0], shadow[0]);
    try testing.expectEqual(vram[1], shadow[1]);
    try testing.expectEqual(vram[4], shadow[2]);
    try testing.expectEqual(vram[(0x3FFF * 4) + 1], shadow[0x7FFF]);
    const planes = Planes{ .vram = vram, .shadow = &shadow };
    planes.set(0, 3, 0x55); // in the shadow
    planes.set(2, 3, 0x66); // plane 2 is never shadowed
    planes.set(1, 0x4000, 0x77); // past the shadow
    try testing.expectEqual(@as(u8, 0x55), shadow[6]);
    try testing.expectEqual(@as(u8, 0x66), vram[3 * 4 + 2]);
    try testing.expectEqual(@as(u8, 0x77), vram[0x4000 * 4 + 1]);
    try testing.expectEqual(@as(u8, 0x55), planes.get(0, 3));
    try testing.expect(vram[3 * 4] != 0x55);
    shadowToPlanes(&shadow, vram);
    try testing.expectEqual(@as(u8, 0x55), vram[3 * 4]);
}

test "hostile registers and addresses: reads and writes never leave the planes" {
    var guarded: [planar_bytes + 64]u8 = undefined;
    @memset(&guarded, 0xCC);
    const vram = guarded[32..][0..planar_bytes];
    var shadow_guarded: [text_window_bytes + 64]u8 = undefined;
    @memset(&shadow_guarded, 0xCC);
    const shadow = shadow_guarded[32..][0..text_window_bytes];
    var prng = std.Random.DefaultPrng.init(0xA0000);
    const random = prng.random();
    var latches = [4]u8{ 0, 0, 0, 0 };
    for (0..100_000) |_| {
        var bytes: [10]u8 = undefined;
        random.bytes(&bytes);
        const registers = Registers{
            .map_mask = bytes[0],
            .memory_mode = bytes[1],
            .set_reset = bytes[2],
            .enable_set_reset = bytes[3],
            .color_compare = bytes[4],
            .data_rotate = bytes[5],
            .read_map_select = bytes[6],
            .graphics_mode = bytes[7],
            .color_dont_care = bytes[8],
            .bit_mask = bytes[9],
        };
        const planes = Planes{ .vram = vram, .shadow = if (random.boolean()) shadow else &.{} };
        const map: MemoryMap = @enumFromInt(random.int(u2));
        const address = map.decode(random.uintLessThan(u32, window_bytes + 16)) orelse continue;
        if (random.boolean()) {
            _ = read(registers, &latches, planes, address);
        } else {
            write(registers, latches, planes, address, random.int(u8));
        }
    }
    try expectGuards(&guarded, planar_bytes);
    try expectGuards(&shadow_guarded, text_window_bytes);
}

/// The 32 bytes either side of a slice of `inner_bytes` are still 0xCC.
fn expectGuards(guarded: []const u8, inner_bytes: u32) !void {
    try testing.expectEqual(guarded.len, inner_bytes + 64);
    for (guarded[0..32]) |byte| try testing.expectEqual(@as(u8, 0xCC), byte);
    for (guarded[32 + inner_bytes ..]) |byte| try testing.expectEqual(@as(u8, 0xCC), byte);
}
