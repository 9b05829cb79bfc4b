//! The console tap: while TypeScript watches the guest's serial console (`--expect`,
//! `--fail-on`), a copy of every byte COM1 transmits waits here until it is read. The bytes'
//! own path to stdout or `--serial FILE` does not go through the tap and never waits for it.
//!
//! The ring is bounded. A guest that writes faster than vmctl reads for longer than the ring
//! holds loses bytes from the copy only; `lost` counts them, so the reader can say so.
const std = @import("std");

/// Bytes the tap holds between reads: about two seconds of a 115200-baud console's worth
/// many times over, since a UART with no baud-rate pacing runs as fast as the guest writes.
pub const capacity: u32 = 256 << 10;

pub const ConsoleTap = struct {
    mutex: std.Thread.Mutex = .{},
    watching: std.atomic.Value(bool) = std.atomic.Value(bool).init(false),
    ring: [capacity]u8 = undefined,
    first: u32 = 0,
    count: u32 = 0,
    lost: u64 = 0,

    /// Keeps a copy of `bytes` while watched; returns whether the reader should be told.
    pub fn append(self: *ConsoleTap, bytes: []const u8) bool {
        if (!self.watching.load(.acquire) or bytes.len == 0) return false;
        self.mutex.lock();
        defer self.mutex.unlock();
        std.debug.assert(self.count <= capacity);
        const room = capacity - self.count;
        const kept: u32 = @intCast(@min(room, bytes.len));
        self.lost += bytes.len - kept;
        for (bytes[0..kept], 0..) |byte, index| {
            self.ring[(self.first + self.count + @as(u32, @intCast(index))) % capacity] = byte;
        }
        self.count += kept;
        return true;
    }

    /// Moves up to `out.len` of the oldest bytes into `out`; returns how many.
    pub fn take(self: *ConsoleTap, out: []u8) usize {
        self.mutex.lock();
        defer self.mutex.unlock();
        const taken: u32 = @intCast(@min(out.len, self.count));
        for (out[0..taken], 0..) |*slot, index| slot.* = self.ring[(self.first + @as(u32, @intCast(index))) % capacity];
        self.first = (self.first + taken) % capacity;
        self.count -= taken;
        return taken;
    }

    pub fn lostBytes(self: *ConsoleTap) u64 {
        self.mutex.lock();
        defer self.mutex.unlock();
        return self.lost;
    }
};

const testing = std.testing;

test "the tap keeps bytes only while watched, in order, and counts what did not fit" {
    const tap = try testing.allocator.create(ConsoleTap);
    defer testing.allocator.destroy(tap);
    tap.* = .{};
    try testing.expect(!tap.append("ignored"));
    tap.watching.store(true, .release);
    try testing.expect(tap.append("hello "));
    try testing.expect(tap.append("world"));
    var out: [8]u8 = undefined;
    try testing.expectEqual(@as(usize, 8), tap.take(&out));
    try testing.expectEqualStrings("hello wo", &out);
    try testing.expectEqual(@as(usize, 3), tap.take(&out));
    try testing.expectEqualStrings("rld", out[0..3]);
    try testing.expectEqual(@as(usize, 0), tap.take(&out));

    // Fill past the end: the copy keeps the first `capacity` bytes and counts the rest.
    const big = try testing.allocator.alloc(u8, capacity + 10);
    defer testing.allocator.free(big);
    for (big, 0..) |*byte, index| byte.* = @truncate(index);
    try testing.expect(tap.append(big));
    try testing.expectEqual(@as(u64, 10), tap.lostBytes());
    const back = try testing.allocator.alloc(u8, capacity + 10);
    defer testing.allocator.free(back);
    try testing.expectEqual(@as(usize, capacity), tap.take(back));
    try testing.expectEqualSlices(u8, big[0..capacity], back[0..capacity]);
}
