//! The QEMU/Bochs-style debug console at port 0x402, where firmware prints its log one byte at a
//! time. Reads return 0xE9, the value firmware checks to see that the console is present.
const std = @import("std");
const device = @import("device.zig");
const ByteSink = device.ByteSink;

pub const DebugConsole = struct {
    pub const register_bytes: u16 = 1;
    /// What a read returns: the "debug console present" signature.
    pub const signature: u8 = 0xE9;

    /// Guards everything below, and keeps bytes from several vCPUs from interleaving in the sink.
    mutex: std.Thread.Mutex = .{},
    /// Called with the mutex held: the sink must not call back into this device.
    output: ByteSink,
    /// Accesses with the wrong width or offset (saturating).
    bad_accesses: u32 = 0,

    pub fn init(output: ByteSink) DebugConsole {
        return .{ .output = output };
    }

    pub fn read(self: *DebugConsole, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteReadAllowed(&self.bad_accesses, offset, data, register_bytes)) return;
        data[0] = signature;
    }

    pub fn write(self: *DebugConsole, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteWriteAllowed(&self.bad_accesses, offset, data, register_bytes)) return;
        self.output.write(data[0..1]);
    }
};

const testing = std.testing;
const SinkRecorder = device.SinkRecorder;

test "bytes go to the sink and reads return the signature" {
    var recorder = SinkRecorder{};
    var console = DebugConsole.init(recorder.sink());
    for ("BdsDxe\n") |c| console.write(0, &[1]u8{c});
    try testing.expectEqualSlices(u8, "BdsDxe\n", recorder.bytes[0..recorder.len]);
    var data = [1]u8{0};
    console.read(0, &data);
    try testing.expectEqual(@as(u8, 0xE9), data[0]);
}

test "a console without a sink swallows bytes" {
    var console = DebugConsole.init(.{});
    console.write(0, &[1]u8{'x'});
    try testing.expectEqual(@as(u32, 0), console.bad_accesses);
}

test "wrong widths and offsets are ignored, read as ones and counted" {
    var recorder = SinkRecorder{};
    var console = DebugConsole.init(recorder.sink());
    console.write(0, &[2]u8{ 'a', 'b' });
    console.write(0, &[4]u8{ 'a', 'b', 'c', 'd' });
    console.write(1, &[1]u8{'e'});
    var wide = [2]u8{ 0, 0 };
    console.read(0, &wide);
    try testing.expectEqualSlices(u8, &[2]u8{ 0xFF, 0xFF }, &wide);
    try testing.expectEqual(@as(usize, 0), recorder.total);
    try testing.expectEqual(@as(u32, 4), console.bad_accesses);
}

test "hostile guest: random accesses never panic and only good writes reach the sink" {
    var recorder = SinkRecorder{};
    var console = DebugConsole.init(recorder.sink());
    var prng = std.Random.DefaultPrng.init(0x402);
    const random = prng.random();
    const widths = [_]usize{ 1, 2, 4 };
    var good_writes: usize = 0;
    var i: u32 = 0;
    while (i < 100_000) : (i += 1) {
        const offset = random.uintLessThan(u16, DebugConsole.register_bytes + 8);
        const width = widths[random.uintLessThan(usize, widths.len)];
        var data: [4]u8 = undefined;
        random.bytes(&data);
        if (random.boolean()) {
            console.read(offset, data[0..width]);
            if (offset == 0 and width == 1) try testing.expectEqual(DebugConsole.signature, data[0]);
        } else {
            console.write(offset, data[0..width]);
            if (offset == 0 and width == 1) good_writes += 1;
        }
    }
    try testing.expectEqual(good_writes, recorder.total);
    try testing.expect(console.bad_accesses > 0);
}
