//! Guest RAM as seen from the host: one anonymous shared mapping, whose first part appears at
//! guest-physical 0 and whose rest (if RAM reaches into the PCI hole) appears at 4 GiB.
//! Every access from device or boot code goes through `slice`, which checks the whole range.
const std = @import("std");
const platform = @import("platform.zig");
const DmaMemory = @import("devices/device.zig").DmaMemory;

pub const GuestMemory = struct {
    /// Host view of all guest RAM: [0, low_size) then [4 GiB, 4 GiB + high_size).
    host: []u8,
    low_size: u64,
    high_size: u64,

    /// Splits `size_bytes` of RAM around the 32-bit PCI hole.
    pub fn layout(size_bytes: u64) struct { low: u64, high: u64 } {
        const low = @min(size_bytes, platform.memory.pci_hole_start);
        return .{ .low = low, .high = size_bytes - low };
    }

    pub fn init(host: []u8) GuestMemory {
        const split = layout(host.len);
        return .{ .host = host, .low_size = split.low, .high_size = split.high };
    }

    /// The host bytes behind guest-physical [gpa, gpa + len), or null when any part of that range
    /// is not RAM. A range never spans the hole: the two RAM regions are not contiguous.
    pub fn slice(self: GuestMemory, gpa: u64, len: u64) ?[]u8 {
        if (gpa < self.low_size) {
            if (len > self.low_size - gpa) return null;
            return self.host[@intCast(gpa)..][0..@intCast(len)];
        }
        const high_start = platform.memory.high_ram_start;
        if (gpa >= high_start and gpa - high_start < self.high_size) {
            const offset = gpa - high_start;
            if (len > self.high_size - offset) return null;
            const host_offset = self.low_size + offset;
            return self.host[@intCast(host_offset)..][0..@intCast(len)];
        }
        if (len == 0 and (gpa == self.low_size or gpa == high_start + self.high_size)) {
            return self.host[0..0];
        }
        return null;
    }

    /// This RAM as DMA-capable devices see it. `self` must outlive the devices.
    pub fn dma(self: *const GuestMemory) DmaMemory {
        return .{ .context = self, .sliceFn = dmaSlice };
    }

    fn dmaSlice(context: *const anyopaque, gpa: u64, len: u64) ?[]u8 {
        const self: *const GuestMemory = @ptrCast(@alignCast(context));
        return self.slice(gpa, len);
    }

    pub fn write(self: GuestMemory, gpa: u64, bytes: []const u8) error{OutsideGuestRam}!void {
        const dest = self.slice(gpa, bytes.len) orelse return error.OutsideGuestRam;
        @memcpy(dest, bytes);
    }
};

test "layout splits RAM around the PCI hole" {
    const small = GuestMemory.layout(256 << 20);
    try std.testing.expectEqual(@as(u64, 256 << 20), small.low);
    try std.testing.expectEqual(@as(u64, 0), small.high);
    const large = GuestMemory.layout(3500 << 20);
    try std.testing.expectEqual(platform.memory.pci_hole_start, large.low);
    try std.testing.expectEqual(@as(u64, (3500 << 20) - platform.memory.pci_hole_start), large.high);
}

test "slice rejects every range that leaves RAM" {
    var backing = [_]u8{0} ** 4096;
    const mem = GuestMemory{ .host = &backing, .low_size = 4096, .high_size = 0 };
    try std.testing.expect(mem.slice(0, 4096) != null);
    try std.testing.expect(mem.slice(4095, 1) != null);
    try std.testing.expect(mem.slice(4095, 2) == null);
    try std.testing.expect(mem.slice(4096, 1) == null);
    try std.testing.expect(mem.slice(std.math.maxInt(u64), 1) == null);
    try std.testing.expect(mem.slice(1, std.math.maxInt(u64)) == null);
    try std.testing.expect(mem.slice(platform.memory.high_ram_start, 1) == null);
    try std.testing.expectError(error.OutsideGuestRam, mem.write(4000, &([_]u8{1} ** 200)));
}

test "slice maps high RAM after low RAM in the host view" {
    var backing = [_]u8{0} ** 8192;
    const mem = GuestMemory{ .host = &backing, .low_size = 4096, .high_size = 4096 };
    const high = mem.slice(platform.memory.high_ram_start + 10, 4).?;
    high[0] = 0xAB;
    try std.testing.expectEqual(@as(u8, 0xAB), backing[4096 + 10]);
    try std.testing.expect(mem.slice(platform.memory.high_ram_start + 4095, 2) == null);
    try std.testing.expect(mem.slice(4096, 1) == null);
}
