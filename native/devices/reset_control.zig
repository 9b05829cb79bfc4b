//! The PIIX/ICH reset control register at port 0xCF9, which the FADT's RESET_REG points at.
//! Bit 1 (SYS_RST) picks a hard reset, bit 2 (RST_CPU) starts the reset, bit 3 (FULL_RST) asks for
//! a power cycle. Every kind becomes the same machine reset here.
const std = @import("std");
const device = @import("device.zig");
const MachineRequests = device.MachineRequests;

pub const ResetControl = struct {
    pub const register_bytes: u16 = 1;

    /// Guards everything below: any vCPU thread may get here.
    mutex: std.Thread.Mutex = .{},
    requests: *MachineRequests,
    /// Bits 0-3 as last written; the upper bits are reserved and read as 0.
    value: u8 = 0,
    /// Accesses with the wrong width or offset (saturating).
    bad_accesses: u32 = 0,

    const rst_cpu: u8 = 0x04;
    const stored_bits: u8 = 0x0F;

    pub fn init(requests: *MachineRequests) ResetControl {
        return .{ .requests = requests };
    }

    pub fn read(self: *ResetControl, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteReadAllowed(&self.bad_accesses, offset, data, register_bytes)) return;
        data[0] = self.value;
    }

    pub fn write(self: *ResetControl, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteWriteAllowed(&self.bad_accesses, offset, data, register_bytes)) return;
        self.value = data[0] & stored_bits;
        if (self.value & rst_cpu != 0) self.requests.request(.reset);
    }
};

const testing = std.testing;

test "RST_CPU requests a reset; other bits are only stored" {
    var requests = MachineRequests{};
    var control = ResetControl.init(&requests);
    control.write(0, &[1]u8{0x02}); // SYS_RST: chooses the reset type only
    try testing.expectEqual(MachineRequests.Request.none, requests.get());
    var data = [1]u8{0};
    control.read(0, &data);
    try testing.expectEqual(@as(u8, 0x02), data[0]);

    control.write(0, &[1]u8{0x06}); // the FADT's reset value
    try testing.expectEqual(MachineRequests.Request.reset, requests.get());
    control.read(0, &data);
    try testing.expectEqual(@as(u8, 0x06), data[0]);

    requests.clear();
    control.write(0, &[1]u8{0xFB}); // everything but RST_CPU; reserved bits dropped
    try testing.expectEqual(MachineRequests.Request.none, requests.get());
    control.read(0, &data);
    try testing.expectEqual(@as(u8, 0x0B), data[0]);
    control.write(0, &[1]u8{0x04});
    try testing.expectEqual(MachineRequests.Request.reset, requests.get());
}

test "wrong widths and offsets are ignored, read as ones and counted" {
    var requests = MachineRequests{};
    var control = ResetControl.init(&requests);
    control.write(0, &[2]u8{ 0x06, 0x06 });
    control.write(1, &[1]u8{0x06});
    var wide = [4]u8{ 0, 0, 0, 0 };
    control.read(0, &wide);
    try testing.expectEqualSlices(u8, &[4]u8{ 0xFF, 0xFF, 0xFF, 0xFF }, &wide);
    try testing.expectEqual(MachineRequests.Request.none, requests.get());
    try testing.expectEqual(@as(u32, 3), control.bad_accesses);
}

test "hostile guest: random accesses never panic" {
    var requests = MachineRequests{};
    var control = ResetControl.init(&requests);
    var prng = std.Random.DefaultPrng.init(0xCF9);
    const random = prng.random();
    const widths = [_]usize{ 1, 2, 4 };
    var i: u32 = 0;
    while (i < 100_000) : (i += 1) {
        const offset = random.uintLessThan(u16, ResetControl.register_bytes + 8);
        const width = widths[random.uintLessThan(usize, widths.len)];
        var data: [4]u8 = undefined;
        random.bytes(&data);
        if (random.boolean()) control.read(offset, data[0..width]) else control.write(offset, data[0..width]);
        try testing.expect(control.value & ~ResetControl.stored_bits == 0);
        if (requests.get() != .none) {
            try testing.expect(control.value & ResetControl.rst_cpu != 0);
            requests.clear();
        }
    }
    try testing.expect(control.bad_accesses > 0);
}
