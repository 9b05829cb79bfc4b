//! The guest exit port, compatible with QEMU's `isa-debug-exit`: a write of V (1, 2 or 4 bytes,
//! little endian, to either of its two ports) stops the machine, and vmctl exits with
//! `(V << 1) | 1`. Test guests report pass or fail with it. Reads float high.
//!
//! The first write wins: later ones (another vCPU, the same one before the machine stops)
//! change nothing.
const std = @import("std");
const device = @import("device.zig");

/// QEMU's `isa-debug-exit` defaults: base 0x501, two ports.
pub const default_base: u16 = 0x501;
pub const port_count: u16 = 2;

pub const ExitPort = struct {
    requests: *device.MachineRequests,
    /// The value the guest wrote first, or `none`.
    written: std.atomic.Value(u64) = std.atomic.Value(u64).init(none),

    const none: u64 = std.math.maxInt(u64);

    pub fn init(requests: *device.MachineRequests) ExitPort {
        return .{ .requests = requests };
    }

    pub fn read(self: *ExitPort, offset: u16, data: []u8) void {
        _ = self;
        _ = offset;
        @memset(data, 0xFF);
    }

    pub fn write(self: *ExitPort, offset: u16, data: []const u8) void {
        _ = offset;
        std.debug.assert(data.len <= 4);
        var written: u32 = 0;
        for (data, 0..) |byte, index| written |= @as(u32, byte) << @intCast(8 * index);
        _ = self.written.cmpxchgStrong(none, written, .acq_rel, .acquire);
        self.requests.request(.guest_exit);
    }

    /// What the guest wrote first, or null if it never wrote.
    pub fn value(self: *const ExitPort) ?u32 {
        const written = self.written.load(.acquire);
        return if (written == none) null else @intCast(written);
    }

    /// vmctl's exit code for a written value, as QEMU computes it (the OS keeps the low 8 bits).
    pub fn exitCode(written: u32) u8 {
        return @truncate((written << 1) | 1);
    }
};

const testing = std.testing;

test "the first write asks for the machine to stop and keeps its value, any width" {
    var requests = device.MachineRequests{};
    var port = ExitPort.init(&requests);
    try testing.expect(port.value() == null);
    var data: [4]u8 = undefined;
    port.read(0, data[0..2]);
    try testing.expectEqualSlices(u8, &.{ 0xFF, 0xFF }, data[0..2]);
    try testing.expectEqual(device.MachineRequests.Request.none, requests.get());
    port.write(1, &.{ 0x2A, 0x01 });
    try testing.expectEqual(device.MachineRequests.Request.guest_exit, requests.get());
    try testing.expectEqual(@as(?u32, 0x12A), port.value());
    port.write(0, &.{0});
    try testing.expectEqual(@as(?u32, 0x12A), port.value());
}

test "exit codes follow QEMU: (value << 1) | 1" {
    try testing.expectEqual(@as(u8, 1), ExitPort.exitCode(0));
    try testing.expectEqual(@as(u8, 3), ExitPort.exitCode(1));
    try testing.expectEqual(@as(u8, 85), ExitPort.exitCode(42));
    try testing.expectEqual(@as(u8, 255), ExitPort.exitCode(0xFFFF_FFFF));
}
