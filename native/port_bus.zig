//! The port bus: the machine's fixed I/O port ranges and the device behind each, registered
//! while the machine is built (an overlap is refused there, naming both claimants) and looked
//! up by binary search on every port exit. Registration ends before any vCPU runs, so lookups
//! take no lock. PCI BARs that decode I/O are not here: the guest moves them, and `pci.Bus`
//! finds them after this bus has said no.
const std = @import("std");

/// What a range's device does with an access: `offset` is from the range's base, `data` is
/// 1, 2 or 4 bytes and may run past the range's end (the device decides what that means).
pub const Handler = struct {
    context: *anyopaque,
    readFn: *const fn (context: *anyopaque, offset: u16, data: []u8) void,
    writeFn: *const fn (context: *anyopaque, offset: u16, data: []const u8) void,

    /// The handler of a device type with `read(offset, data)` and `write(offset, data)`.
    pub fn of(comptime T: type, device: *T) Handler {
        const thunks = struct {
            fn read(context: *anyopaque, offset: u16, data: []u8) void {
                const self: *T = @ptrCast(@alignCast(context));
                self.read(offset, data);
            }
            fn write(context: *anyopaque, offset: u16, data: []const u8) void {
                const self: *T = @ptrCast(@alignCast(context));
                self.write(offset, data);
            }
        };
        return .{ .context = device, .readFn = thunks.read, .writeFn = thunks.write };
    }
};

pub const Range = struct {
    base: u16,
    len: u16,
    /// Who owns the range, for messages ("COM1", "i8042").
    name: []const u8,
    handler: Handler,

    fn end(self: Range) u32 {
        return @as(u32, self.base) + self.len;
    }
};

/// Ranges a machine may register: today's PC has 14, the coming devices add a few.
pub const max_ranges: u32 = 32;

pub const RegisterError = error{ Overlap, Full };

pub const PortBus = struct {
    /// Sorted by base, never overlapping.
    ranges: [max_ranges]Range = undefined,
    count: u32 = 0,

    /// Adds `[base, base + len)`; on `error.Overlap` `conflict` names the range in the way.
    pub fn register(self: *PortBus, range: Range, conflict: *[]const u8) RegisterError!void {
        std.debug.assert(range.len > 0);
        std.debug.assert(range.end() <= 0x1_0000);
        std.debug.assert(self.count <= max_ranges);
        var at: u32 = 0;
        while (at < self.count and self.ranges[at].base < range.base) at += 1;
        if (at > 0 and self.ranges[at - 1].end() > range.base) {
            conflict.* = self.ranges[at - 1].name;
            return error.Overlap;
        }
        if (at < self.count and range.end() > self.ranges[at].base) {
            conflict.* = self.ranges[at].name;
            return error.Overlap;
        }
        if (self.count == max_ranges) return error.Full;
        std.mem.copyBackwards(Range, self.ranges[at + 1 .. self.count + 1], self.ranges[at..self.count]);
        self.ranges[at] = range;
        self.count += 1;
    }

    /// The range holding `port`, or null.
    pub fn find(self: *const PortBus, port: u16) ?*const Range {
        var low: u32 = 0;
        var high: u32 = self.count;
        // The first range whose base is above `port` is at `low` when the loop ends.
        while (low < high) {
            const middle = low + (high - low) / 2;
            if (self.ranges[middle].base <= port) low = middle + 1 else high = middle;
        }
        if (low == 0) return null;
        const range = &self.ranges[low - 1];
        return if (port < range.end()) range else null;
    }

    /// Reads through the device at `port`; false when no range holds it.
    pub fn read(self: *const PortBus, port: u16, data: []u8) bool {
        const range = self.find(port) orelse return false;
        range.handler.readFn(range.handler.context, port - range.base, data);
        return true;
    }

    /// Writes through the device at `port`; false when no range holds it.
    pub fn write(self: *const PortBus, port: u16, data: []const u8) bool {
        const range = self.find(port) orelse return false;
        range.handler.writeFn(range.handler.context, port - range.base, data);
        return true;
    }
};

const testing = std.testing;

const Latch = struct {
    value: u8 = 0,
    last_offset: u16 = 0xFFFF,

    pub fn read(self: *Latch, offset: u16, data: []u8) void {
        self.last_offset = offset;
        @memset(data, self.value);
    }

    pub fn write(self: *Latch, offset: u16, data: []const u8) void {
        self.last_offset = offset;
        self.value = data[0];
    }
};

test "ranges are found by any port inside them, with the offset from their base" {
    var bus: PortBus = .{};
    var a: Latch = .{};
    var b: Latch = .{};
    var c: Latch = .{};
    var conflict: []const u8 = "";
    // Registered out of order; lookups see them sorted.
    try bus.register(.{ .base = 0x3F8, .len = 8, .name = "a", .handler = Handler.of(Latch, &a) }, &conflict);
    try bus.register(.{ .base = 0x60, .len = 5, .name = "b", .handler = Handler.of(Latch, &b) }, &conflict);
    try bus.register(.{ .base = 0xFFFF, .len = 1, .name = "c", .handler = Handler.of(Latch, &c) }, &conflict);
    try testing.expect(bus.write(0x3FF, &.{0x42}));
    try testing.expectEqual(@as(u16, 7), a.last_offset);
    var data: [2]u8 = undefined;
    try testing.expect(bus.read(0x3F8, &data));
    try testing.expectEqualSlices(u8, &.{ 0x42, 0x42 }, &data);
    try testing.expectEqual(@as(u16, 0), a.last_offset);
    try testing.expect(bus.write(0x64, &.{1}));
    try testing.expectEqual(@as(u16, 4), b.last_offset);
    try testing.expect(bus.write(0xFFFF, &.{9}));
    try testing.expectEqual(@as(u8, 9), c.value);
    for ([_]u16{ 0, 0x5F, 0x65, 0x3F7, 0x400, 0xFFFE }) |port| {
        try testing.expect(bus.find(port) == null);
        try testing.expect(!bus.write(port, &.{0}));
    }
}

test "an overlapping range is refused and the one in the way is named" {
    var bus: PortBus = .{};
    var latch: Latch = .{};
    var conflict: []const u8 = "";
    const handler = Handler.of(Latch, &latch);
    try bus.register(.{ .base = 0x70, .len = 2, .name = "cmos", .handler = handler }, &conflict);
    try bus.register(.{ .base = 0x60, .len = 5, .name = "i8042", .handler = handler }, &conflict);
    try testing.expectError(error.Overlap, bus.register(.{ .base = 0x71, .len = 1, .name = "x", .handler = handler }, &conflict));
    try testing.expectEqualStrings("cmos", conflict);
    try testing.expectError(error.Overlap, bus.register(.{ .base = 0x5E, .len = 3, .name = "x", .handler = handler }, &conflict));
    try testing.expectEqualStrings("i8042", conflict);
    try testing.expectError(error.Overlap, bus.register(.{ .base = 0x64, .len = 0x10, .name = "x", .handler = handler }, &conflict));
    // Touching is not overlapping.
    try bus.register(.{ .base = 0x65, .len = 0xB, .name = "between", .handler = handler }, &conflict);
    try testing.expectEqual(@as(u32, 3), bus.count);
    var index: u16 = 0;
    while (bus.count < max_ranges) : (index += 1) {
        try bus.register(.{ .base = 0x1000 + index, .len = 1, .name = "filler", .handler = handler }, &conflict);
    }
    try testing.expectError(error.Full, bus.register(.{ .base = 0x2000, .len = 1, .name = "x", .handler = handler }, &conflict));
}
