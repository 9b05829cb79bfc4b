//! Port 0x80, the POST diagnostic port: firmware writes progress codes here (and old kernels
//! write to it as an I/O delay). The last code is kept for debugging and reads back.
const std = @import("std");
const device = @import("device.zig");

pub const PostCode = struct {
    pub const register_bytes: u16 = 1;

    /// Guards everything below: any vCPU thread may get here.
    mutex: std.Thread.Mutex = .{},
    /// The last POST code written.
    last: u8 = 0,
    /// Accesses with the wrong width or offset (saturating).
    bad_accesses: u32 = 0,

    pub fn init() PostCode {
        return .{};
    }

    pub fn read(self: *PostCode, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteReadAllowed(&self.bad_accesses, offset, data, register_bytes)) return;
        data[0] = self.last;
    }

    pub fn write(self: *PostCode, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteWriteAllowed(&self.bad_accesses, offset, data, register_bytes)) return;
        self.last = data[0];
    }
};

const testing = std.testing;

test "the last code written reads back" {
    var post = PostCode.init();
    var data = [1]u8{0xAA};
    post.read(0, &data);
    try testing.expectEqual(@as(u8, 0), data[0]);
    post.write(0, &[1]u8{0x12});
    post.write(0, &[1]u8{0x7F});
    post.read(0, &data);
    try testing.expectEqual(@as(u8, 0x7F), data[0]);
    try testing.expectEqual(@as(u8, 0x7F), post.last);
}

test "wrong widths and offsets are ignored, read as ones and counted" {
    var post = PostCode.init();
    post.write(0, &[2]u8{ 0x34, 0x12 });
    post.write(1, &[1]u8{0x55});
    var wide = [2]u8{ 0, 0 };
    post.read(0, &wide);
    try testing.expectEqualSlices(u8, &[2]u8{ 0xFF, 0xFF }, &wide);
    try testing.expectEqual(@as(u8, 0), post.last);
    try testing.expectEqual(@as(u32, 3), post.bad_accesses);
}

test "hostile guest: random accesses never panic" {
    var post = PostCode.init();
    var prng = std.Random.DefaultPrng.init(0x80);
    const random = prng.random();
    const widths = [_]usize{ 1, 2, 4 };
    var expected_last: u8 = 0;
    var i: u32 = 0;
    while (i < 100_000) : (i += 1) {
        const offset = random.uintLessThan(u16, PostCode.register_bytes + 8);
        const width = widths[random.uintLessThan(usize, widths.len)];
        var data: [4]u8 = undefined;
        random.bytes(&data);
        if (random.boolean()) {
            post.read(offset, data[0..width]);
        } else {
            post.write(offset, data[0..width]);
            if (offset == 0 and width == 1) expected_last = data[0];
        }
        try testing.expectEqual(expected_last, post.last);
    }
    try testing.expect(post.bad_accesses > 0);
}
