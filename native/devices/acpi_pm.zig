//! ACPI fixed hardware: the PM1a event block (status and enable), the PM1a control register and
//! the PM timer, at platform.acpi_pm (0x600):
//!   0-1 PM1a_STS, 2-3 PM1a_EN, 4-5 PM1a_CNT, 6-7 nothing, 8-11 PM_TMR.
//! There is no SMI_CMD, so the machine is always in ACPI mode (SCI_EN reads 1). Sleeping into S5
//! is a request to power off; the other sleep states wake at once.
const std = @import("std");
const assert = std.debug.assert;
const device = @import("device.zig");
const IrqLine = device.IrqLine;
const MachineRequests = device.MachineRequests;

pub const AcpiPm = struct {
    /// The PM timer's rate, fixed by the ACPI specification.
    pub const timer_frequency_hz: u64 = 3_579_545;
    pub const register_bytes: u16 = 12;
    /// Must equal platform.acpi_s5_sleep_type (the DSDT's \_S5 value). Mirrored here because a
    /// device file tested on its own cannot import ../platform.zig; root.zig can check the two.
    pub const s5_sleep_type: u3 = 5;

    /// Guards everything below: vCPU threads and the host's power button get here.
    mutex: std.Thread.Mutex = .{},
    /// The SCI: level-triggered, high while an enabled status bit is set.
    sci: IrqLine,
    requests: *MachineRequests,
    /// Monotonic host time in nanoseconds.
    clock_ns: *const fn () u64,
    /// Where the PM timer counts from.
    clock_start_ns: u64,

    /// PM1a_STS. Bits are set by events and cleared by writing 1 to them.
    pm1_sts: u16 = 0,
    /// PM1a_EN, stored as written; only TMR_EN and PWRBTN_EN have events behind them.
    pm1_en: u16 = 0,
    /// PM1a_CNT's stored bits (BM_RLD, SLP_TYP). SCI_EN is added on read; SLP_EN and GBL_RLS
    /// are write-only.
    pm1_cnt: u16 = 0,
    /// How many times the timer's top bit had toggled when last looked at. TMR_STS is set when
    /// it toggles; with no timer thread this is noticed on the next register access.
    timer_msb_toggles: u64 = 0,

    /// Accesses with a width or offset that does not fit one register (saturating).
    bad_accesses: u32 = 0,

    const sts_tmr: u16 = 1 << 0;
    const sts_pwrbtn: u16 = 1 << 8;
    const sts_wak: u16 = 1 << 15;
    /// The status bits this machine can raise an SCI for.
    const sts_sci_sources: u16 = sts_tmr | sts_pwrbtn;

    const cnt_sci_en: u16 = 1 << 0;
    const cnt_bm_rld: u16 = 1 << 1;
    const cnt_slp_typ_shift: u4 = 10;
    const cnt_slp_typ: u16 = 0b111 << cnt_slp_typ_shift;
    const cnt_slp_en: u16 = 1 << 13;
    const cnt_stored: u16 = cnt_bm_rld | cnt_slp_typ;

    const Register = enum { pm1_sts, pm1_en, pm1_event_block, pm1_cnt, pm_tmr };

    /// One register's byte range within the block.
    const Span = struct { register: Register, first: u16, size: u16 };
    const spans = [_]Span{
        .{ .register = .pm1_sts, .first = 0, .size = 2 },
        .{ .register = .pm1_en, .first = 2, .size = 2 },
        .{ .register = .pm1_cnt, .first = 4, .size = 2 },
        .{ .register = .pm_tmr, .first = 8, .size = 4 },
    };

    /// A decoded access: the register, and where in it the access starts (in bits).
    const Access = struct { register: Register, shift: u5, len: u3 };

    pub fn init(sci: IrqLine, requests: *MachineRequests, clock_ns: *const fn () u64) AcpiPm {
        return .{ .sci = sci, .requests = requests, .clock_ns = clock_ns, .clock_start_ns = clock_ns() };
    }

    pub fn read(self: *AcpiPm, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        self.updateTimerStatus();
        defer self.updateSci();
        const access = decode(offset, data.len) orelse {
            @memset(data, 0xFF);
            self.bad_accesses +|= 1;
            return;
        };
        const value = self.registerValue(access.register) >> access.shift;
        for (data, 0..) |*byte, i| byte.* = @truncate(value >> @intCast(i * 8));
    }

    pub fn write(self: *AcpiPm, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        self.updateTimerStatus();
        defer self.updateSci();
        const access = decode(offset, data.len) orelse {
            self.bad_accesses +|= 1;
            return;
        };
        var value: u32 = 0;
        for (data, 0..) |byte, i| value |= @as(u32, byte) << @intCast(i * 8);
        const all_ones: u32 = std.math.maxInt(u32);
        const mask = (all_ones >> @intCast(32 - @as(u6, access.len) * 8)) << access.shift;
        self.writeRegister(access.register, value << access.shift, mask);
    }

    /// Presses the power button: the guest sees PWRBTN_STS (and an SCI if PWRBTN_EN is set) and
    /// normally answers by shutting down.
    pub fn pressPowerButton(self: *AcpiPm) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        self.updateTimerStatus();
        self.pm1_sts |= sts_pwrbtn;
        self.updateSci();
    }

    /// Accepts 1-, 2- and 4-byte accesses inside one register, plus a 4-byte access to the whole
    /// event block (STS in the low half, EN in the high half).
    fn decode(offset: u16, len: usize) ?Access {
        if (len != 1 and len != 2 and len != 4) return null;
        if (offset == 0 and len == 4) return .{ .register = .pm1_event_block, .shift = 0, .len = 4 };
        const end = @as(usize, offset) + len;
        for (spans) |span| {
            if (offset >= span.first and end <= span.first + span.size) {
                return .{ .register = span.register, .shift = @intCast((offset - span.first) * 8), .len = @intCast(len) };
            }
        }
        return null;
    }

    fn registerValue(self: *const AcpiPm, register: Register) u32 {
        return switch (register) {
            .pm1_sts => self.pm1_sts,
            .pm1_en => self.pm1_en,
            .pm1_event_block => @as(u32, self.pm1_en) << 16 | self.pm1_sts,
            .pm1_cnt => self.pm1_cnt | cnt_sci_en,
            .pm_tmr => @truncate(self.timerTicks()),
        };
    }

    /// `value` and `mask` are already shifted to the register's bit positions.
    fn writeRegister(self: *AcpiPm, register: Register, value: u32, mask: u32) void {
        const low: u16 = @truncate(value & mask);
        const low_mask: u16 = @truncate(mask);
        switch (register) {
            .pm1_sts => self.pm1_sts &= ~low,
            .pm1_en => self.pm1_en = (self.pm1_en & ~low_mask) | low,
            .pm1_event_block => {
                self.pm1_sts &= ~low;
                self.pm1_en = @truncate(value >> 16);
            },
            .pm1_cnt => self.writeControl(low, low_mask),
            .pm_tmr => {}, // read-only
        }
    }

    fn writeControl(self: *AcpiPm, value: u16, mask: u16) void {
        const stored_mask = mask & cnt_stored;
        self.pm1_cnt = (self.pm1_cnt & ~stored_mask) | (value & stored_mask);
        if (value & cnt_slp_en == 0) return;
        const sleep_type: u3 = @truncate(self.pm1_cnt >> cnt_slp_typ_shift);
        if (sleep_type == s5_sleep_type) {
            self.requests.request(.power_off);
        } else {
            // Only \_S5 is offered, so any other sleep is a guest mistake: wake at once rather
            // than leave the guest polling WAK_STS forever.
            self.pm1_sts |= sts_wak;
        }
    }

    /// Ticks since init at 3.579545 MHz; 128-bit so that no uptime can overflow the product.
    fn timerTicks(self: *const AcpiPm) u64 {
        const elapsed_ns = self.clock_ns() -| self.clock_start_ns;
        const ticks = @as(u128, elapsed_ns) * timer_frequency_hz / std.time.ns_per_s;
        return @intCast(ticks);
    }

    /// The 32-bit timer's top bit toggles every 2^31 ticks; each toggle sets TMR_STS.
    fn updateTimerStatus(self: *AcpiPm) void {
        const toggles = self.timerTicks() >> 31;
        if (toggles != self.timer_msb_toggles) {
            self.timer_msb_toggles = toggles;
            self.pm1_sts |= sts_tmr;
        }
    }

    fn updateSci(self: *AcpiPm) void {
        self.sci.set(self.pm1_sts & self.pm1_en & sts_sci_sources != 0);
    }
};

const testing = std.testing;

var fake_now_ns: u64 = 0;

fn fakeClock() u64 {
    return fake_now_ns;
}

fn backwardsClock() u64 {
    // A broken host clock that runs backwards must not break the timer.
    fake_now_ns -%= 12_345;
    return fake_now_ns;
}

const Rig = struct {
    sci_level: bool = false,
    requests: MachineRequests = .{},
    pm: AcpiPm = undefined,

    fn record(context: ?*anyopaque, gsi: u32, level: bool) void {
        assert(gsi == 9);
        const rig: *Rig = @ptrCast(@alignCast(context.?));
        rig.sci_level = level;
    }

    fn setUp(rig: *Rig, clock: *const fn () u64) void {
        rig.pm = AcpiPm.init(.{ .gsi = 9, .context = rig, .setFn = record }, &rig.requests, clock);
    }

    fn read(rig: *Rig, offset: u16, comptime len: usize) u32 {
        var data = [_]u8{0} ** len;
        rig.pm.read(offset, &data);
        var value: u32 = 0;
        for (data, 0..) |byte, i| value |= @as(u32, byte) << @intCast(i * 8);
        return value;
    }

    fn write(rig: *Rig, offset: u16, comptime len: usize, value: u32) void {
        var data: [len]u8 = undefined;
        for (&data, 0..) |*byte, i| byte.* = @truncate(value >> @intCast(i * 8));
        rig.pm.write(offset, &data);
    }
};

test "S5 sleep requests power off; other sleep types wake at once" {
    fake_now_ns = 1_000_000;
    var rig = Rig{};
    rig.setUp(fakeClock);

    // S3 (as Linux would write it: SLP_TYP then SLP_EN in one 16-bit write).
    rig.write(4, 2, (3 << 10) | (1 << 13));
    try testing.expectEqual(MachineRequests.Request.none, rig.requests.get());
    try testing.expectEqual(@as(u32, 0x8000), rig.read(0, 2)); // WAK_STS
    rig.write(0, 2, 0x8000);
    try testing.expectEqual(@as(u32, 0), rig.read(0, 2));
    // SLP_EN is write-only; SLP_TYP and SCI_EN read back.
    try testing.expectEqual(@as(u32, (3 << 10) | 1), rig.read(4, 2));

    // SLP_TYP alone does nothing.
    rig.write(4, 2, @as(u32, AcpiPm.s5_sleep_type) << 10);
    try testing.expectEqual(MachineRequests.Request.none, rig.requests.get());
    // A one-byte write to the high half carries both SLP_TYP and SLP_EN.
    rig.write(5, 1, (@as(u32, AcpiPm.s5_sleep_type) << 2) | (1 << 5));
    try testing.expectEqual(MachineRequests.Request.power_off, rig.requests.get());
}

test "SCI_EN always reads as 1" {
    fake_now_ns = 0;
    var rig = Rig{};
    rig.setUp(fakeClock);
    try testing.expectEqual(@as(u32, 1), rig.read(4, 2));
    rig.write(4, 2, 0);
    try testing.expectEqual(@as(u32, 1), rig.read(4, 1));
    try testing.expectEqual(@as(u32, 0), rig.read(5, 1));
}

test "power button: status is write-1-to-clear and drives the SCI through PWRBTN_EN" {
    fake_now_ns = 0;
    var rig = Rig{};
    rig.setUp(fakeClock);

    rig.pm.pressPowerButton();
    try testing.expect(!rig.sci_level); // not enabled yet
    try testing.expectEqual(@as(u32, 0x0100), rig.read(0, 2));
    rig.write(2, 2, 0x0100);
    try testing.expect(rig.sci_level);
    try testing.expectEqual(@as(u32, 0x0100_0100), rig.read(0, 4));
    try testing.expectEqual(@as(u32, 0x01), rig.read(1, 1));
    try testing.expectEqual(@as(u32, 0x01), rig.read(3, 1));

    // Writing 0 clears nothing; writing 1 to another bit clears nothing either.
    rig.write(0, 2, 0x0000);
    rig.write(0, 2, 0x0001);
    try testing.expect(rig.sci_level);
    // A one-byte write of the high half clears PWRBTN_STS.
    rig.write(1, 1, 0x01);
    try testing.expect(!rig.sci_level);
    try testing.expectEqual(@as(u32, 0), rig.read(0, 2));

    // A 4-byte write at 0: clear status in the low half, set enables in the high half.
    rig.pm.pressPowerButton();
    try testing.expect(rig.sci_level);
    rig.write(0, 4, 0x0000_0100);
    try testing.expect(!rig.sci_level);
    try testing.expectEqual(@as(u32, 0), rig.read(0, 4));
}

test "PM timer counts at 3.579545 MHz from the fake clock, wraps, and sets TMR_STS" {
    fake_now_ns = 5_000_000_000;
    var rig = Rig{};
    rig.setUp(fakeClock);
    try testing.expectEqual(@as(u32, 0), rig.read(8, 4));
    fake_now_ns += std.time.ns_per_s;
    try testing.expectEqual(@as(u32, 3_579_545), rig.read(8, 4));
    try testing.expectEqual(@as(u32, 3_579_545 & 0xFFFF), rig.read(8, 2));
    try testing.expectEqual(@as(u32, 3_579_545 >> 16), rig.read(10, 2));
    try testing.expectEqual(@as(u32, (3_579_545 >> 8) & 0xFF), rig.read(9, 1));
    fake_now_ns += 1_000; // 3.58 ticks
    try testing.expectEqual(@as(u32, 3_579_548), rig.read(8, 4));
    rig.write(8, 4, 0); // read-only
    try testing.expectEqual(@as(u32, 3_579_548), rig.read(8, 4));
    try testing.expectEqual(@as(u32, 0), rig.read(0, 2));

    // Past 2^31 ticks (about 600 s) the top bit toggles: TMR_STS, and an SCI once enabled.
    rig.write(2, 2, 0x0001);
    fake_now_ns += 600 * std.time.ns_per_s;
    try testing.expectEqual(@as(u32, 0x0001), rig.read(0, 2));
    try testing.expect(rig.sci_level);
    rig.write(0, 2, 0x0001);
    try testing.expect(!rig.sci_level);

    // A day of uptime: the 32-bit counter has wrapped, and no arithmetic overflowed.
    fake_now_ns = 5_000_000_000 + 86_400 * std.time.ns_per_s;
    const expected: u32 = @truncate(@as(u64, 86_400) * AcpiPm.timer_frequency_hz);
    try testing.expectEqual(expected, rig.read(8, 4));
    fake_now_ns = std.math.maxInt(u64);
    _ = rig.read(8, 4);
}

test "accesses that do not fit one register are ignored, read as ones and counted" {
    fake_now_ns = 0;
    var rig = Rig{};
    rig.setUp(fakeClock);
    rig.pm.pressPowerButton();
    try testing.expectEqual(@as(u32, 0xFFFF), rig.read(1, 2)); // straddles STS and EN
    try testing.expectEqual(@as(u32, 0xFFFF_FFFF), rig.read(4, 4)); // CNT is two bytes
    try testing.expectEqual(@as(u32, 0xFF), rig.read(6, 1));
    try testing.expectEqual(@as(u32, 0xFFFF), rig.read(10, 4) & 0xFFFF);
    try testing.expectEqual(@as(u32, 0xFF), rig.read(12, 1));
    try testing.expectEqual(@as(u32, 0xFFFF_FFFF), rig.read(2, 4));
    rig.write(1, 2, 0xFFFF);
    rig.write(4, 4, 0xFFFF_FFFF);
    var odd = [3]u8{ 0xFF, 0xFF, 0xFF };
    rig.pm.write(0, &odd);
    try testing.expectEqual(@as(u32, 0x0100), rig.read(0, 2));
    try testing.expectEqual(MachineRequests.Request.none, rig.requests.get());
    try testing.expectEqual(@as(u32, 9), rig.pm.bad_accesses);
}

test "hostile guest: random accesses never panic and keep the SCI consistent" {
    const clocks = [_]*const fn () u64{ fakeClock, backwardsClock };
    for (clocks) |clock| {
        fake_now_ns = 0;
        var rig = Rig{};
        rig.setUp(clock);
        var prng = std.Random.DefaultPrng.init(0xAC91);
        const random = prng.random();
        const widths = [_]usize{ 1, 2, 4 };
        var i: u32 = 0;
        while (i < 100_000) : (i += 1) {
            fake_now_ns +%= random.int(u32);
            const offset = random.uintLessThan(u16, AcpiPm.register_bytes + 8);
            const width = widths[random.uintLessThan(usize, widths.len)];
            var data: [4]u8 = undefined;
            random.bytes(&data);
            switch (random.uintLessThan(u8, 16)) {
                0...7 => rig.pm.read(offset, data[0..width]),
                8...14 => rig.pm.write(offset, data[0..width]),
                else => rig.pm.pressPowerButton(),
            }
            const pending = rig.pm.pm1_sts & rig.pm.pm1_en & AcpiPm.sts_sci_sources != 0;
            try testing.expectEqual(pending, rig.sci_level);
            try testing.expect(rig.pm.pm1_cnt & ~AcpiPm.cnt_stored == 0);
        }
        try testing.expect(rig.pm.bad_accesses > 0);
    }
}
