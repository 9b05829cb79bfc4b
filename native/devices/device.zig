//! What every emulated device shares: an interrupt line it drives, the machine-wide requests it
//! can make (power off, reset), and where bytes it emits go.
const std = @import("std");

/// One interrupt line. The device drives the level; the VM forwards changes to KVM_IRQ_LINE.
/// Edge-triggered ISA lines work by driving 1 then 0, which the in-kernel PIC/IOAPIC sees as an edge.
pub const IrqLine = struct {
    gsi: u32,
    level: bool = false,
    context: ?*anyopaque = null,
    setFn: ?*const fn (context: ?*anyopaque, gsi: u32, level: bool) void = null,

    pub fn set(self: *IrqLine, level: bool) void {
        if (self.level == level) return;
        self.level = level;
        if (self.setFn) |f| f(self.context, self.gsi, level);
    }

    /// An edge: raise, then lower.
    pub fn pulse(self: *IrqLine) void {
        self.set(true);
        self.set(false);
    }
};

/// Machine-wide requests a device can make. The vCPU loop polls them after each exit it handles.
pub const MachineRequests = struct {
    /// Ordered by precedence: a power-off request is never downgraded to a reset, and a guest's
    /// exit status (exit_port.zig) outranks both.
    pub const Request = enum(u32) { none = 0, reset = 1, power_off = 2, guest_exit = 3 };

    pending: std.atomic.Value(u32) = std.atomic.Value(u32).init(0),

    pub fn request(self: *MachineRequests, what: Request) void {
        std.debug.assert(what != .none);
        _ = self.pending.fetchMax(@intFromEnum(what), .acq_rel);
    }

    pub fn get(self: *const MachineRequests) Request {
        return @enumFromInt(self.pending.load(.acquire));
    }

    pub fn clear(self: *MachineRequests) void {
        self.pending.store(0, .release);
    }
};

/// Where a device's output bytes go (the serial console's transmit side, debug ports).
pub const ByteSink = struct {
    context: ?*anyopaque = null,
    writeFn: ?*const fn (context: ?*anyopaque, bytes: []const u8) void = null,

    pub fn write(self: ByteSink, bytes: []const u8) void {
        if (self.writeFn) |f| f(self.context, bytes);
    }
};

/// Guest RAM as a DMA-capable device sees it. `slice` returns the host bytes behind guest-physical
/// [gpa, gpa + len) only when the whole range is RAM; a device must treat null as a failed transfer.
pub const DmaMemory = struct {
    context: *const anyopaque,
    sliceFn: *const fn (context: *const anyopaque, gpa: u64, len: u64) ?[]u8,

    pub fn slice(self: DmaMemory, gpa: u64, len: u64) ?[]u8 {
        return self.sliceFn(self.context, gpa, len);
    }
};

/// Test double for DMA: a small RAM that starts at guest-physical 0.
pub const DmaRecorder = struct {
    ram: []u8,

    fn sliceOf(context: *const anyopaque, gpa: u64, len: u64) ?[]u8 {
        const self: *const DmaRecorder = @ptrCast(@alignCast(context));
        if (gpa > self.ram.len or len > self.ram.len - gpa) return null;
        return self.ram[@intCast(gpa)..][0..@intCast(len)];
    }

    pub fn memory(self: *const DmaRecorder) DmaMemory {
        return .{ .context = self, .sliceFn = sliceOf };
    }
};

/// Byte-wide register files take one-byte accesses inside their range only. Anything else is
/// counted in `bad_accesses` and refused; a refused read floats high (all ones).
pub fn byteReadAllowed(bad_accesses: *u32, offset: u16, data: []u8, register_bytes: u16) bool {
    if (data.len == 1 and offset < register_bytes) return true;
    @memset(data, 0xFF);
    bad_accesses.* +|= 1;
    return false;
}

/// The write side of `byteReadAllowed`.
pub fn byteWriteAllowed(bad_accesses: *u32, offset: u16, data: []const u8, register_bytes: u16) bool {
    if (data.len == 1 and offset < register_bytes) return true;
    bad_accesses.* +|= 1;
    return false;
}

/// Test double for an interrupt line: remembers the level and counts rising edges.
pub const IrqRecorder = struct {
    level: bool = false,
    rises: u32 = 0,

    fn record(context: ?*anyopaque, gsi: u32, level: bool) void {
        _ = gsi;
        const self: *IrqRecorder = @ptrCast(@alignCast(context.?));
        if (level and !self.level) self.rises += 1;
        self.level = level;
    }

    pub fn line(self: *IrqRecorder, gsi: u32) IrqLine {
        return .{ .gsi = gsi, .context = self, .setFn = record };
    }
};

/// Test double for a byte sink: keeps the first 256 bytes and counts them all.
pub const SinkRecorder = struct {
    bytes: [256]u8 = undefined,
    len: usize = 0,
    total: usize = 0,

    fn record(context: ?*anyopaque, bytes: []const u8) void {
        const self: *SinkRecorder = @ptrCast(@alignCast(context.?));
        for (bytes) |byte| {
            if (self.len < self.bytes.len) {
                self.bytes[self.len] = byte;
                self.len += 1;
            }
            self.total += 1;
        }
    }

    pub fn sink(self: *SinkRecorder) ByteSink {
        return .{ .context = self, .writeFn = record };
    }

    pub fn written(self: *const SinkRecorder) []const u8 {
        return self.bytes[0..self.len];
    }
};

test "IrqLine forwards only level changes" {
    var recorder = IrqRecorder{};
    var line = recorder.line(4);
    line.set(false);
    try std.testing.expectEqual(@as(u32, 0), recorder.rises);
    line.set(true);
    line.set(true);
    try std.testing.expectEqual(@as(u32, 1), recorder.rises);
    line.set(false);
    line.pulse();
    try std.testing.expectEqual(@as(u32, 2), recorder.rises);
    try std.testing.expect(!line.level and !recorder.level);
}

test "MachineRequests: power off outranks reset" {
    var requests = MachineRequests{};
    try std.testing.expectEqual(MachineRequests.Request.none, requests.get());
    requests.request(.reset);
    try std.testing.expectEqual(MachineRequests.Request.reset, requests.get());
    requests.request(.power_off);
    requests.request(.reset);
    try std.testing.expectEqual(MachineRequests.Request.power_off, requests.get());
    requests.clear();
    try std.testing.expectEqual(MachineRequests.Request.none, requests.get());
}
