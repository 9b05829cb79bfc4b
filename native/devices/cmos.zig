//! The MC146818 real-time clock and its 128 bytes of CMOS RAM, behind the PC's index port (0x70)
//! and data port (0x71). The clock registers are not stored: each read derives them from the host
//! clock plus the offset the guest chose when it last set the time. The RAM carries the memory
//! sizes a PC BIOS would leave there.
const std = @import("std");
const assert = std.debug.assert;
const device = @import("device.zig");
const IrqLine = device.IrqLine;

pub const Cmos = struct {
    pub const ram_size: u8 = 128;
    /// Offset 0 is the index port (0x70), offset 1 the data port (0x71).
    pub const port_count: u16 = 2;

    /// Guards everything below: several vCPUs may access the ports at once.
    mutex: std.Thread.Mutex = .{},
    /// IRQ 8. Periodic, alarm and update-ended interrupts are not generated; reading register C
    /// drives the line low, which is the acknowledgement they will need.
    irq: IrqLine,
    /// Host wall clock, Unix seconds.
    clock: *const fn () i64,

    /// The register the data port reaches (port 0x70 bits 0-6).
    index: u7 = 0,
    /// Port 0x70 bit 7 (NMI mask). Recorded only: nothing here raises NMIs.
    nmi_disabled: bool = false,
    /// Guest time minus host time, in seconds, fixed whenever the guest sets the clock.
    offset_seconds: i64 = 0,
    /// While register B's SET bit is 1 the clock stands still at these values and the guest
    /// writes them field by field; clearing SET starts the clock from them.
    frozen: Time = .{},
    /// Register A without UIP (bit 7, read-only): divider and rate-select bits.
    register_a: u8 = 0x26,
    /// Register B: SET, PIE, AIE, UIE, SQWE, DM (binary), 24/12, DSE. BIOS default: 24-hour, BCD.
    register_b: u8 = register_b_24_hour,
    /// Register C: IRQF, PF, AF, UF. Nothing sets them yet; reading clears them.
    register_c: u8 = 0,
    /// The RAM, including the alarm bytes and registers A-D's slots (which stay unused).
    ram: [ram_size]u8 = [_]u8{0} ** ram_size,

    /// Accesses with the wrong width or outside the two ports (saturating).
    bad_accesses: u32 = 0,

    const Register = struct {
        const seconds: u7 = 0x00;
        const seconds_alarm: u7 = 0x01;
        const minutes: u7 = 0x02;
        const minutes_alarm: u7 = 0x03;
        const hours: u7 = 0x04;
        const hours_alarm: u7 = 0x05;
        const day_of_week: u7 = 0x06;
        const day_of_month: u7 = 0x07;
        const month: u7 = 0x08;
        const year: u7 = 0x09;
        const a: u7 = 0x0A;
        const b: u7 = 0x0B;
        const c: u7 = 0x0C;
        const d: u7 = 0x0D;
        /// The IBM PC/AT convention, and what the FADT's CENTURY field names.
        const century: u7 = 0x32;
    };

    /// Where a PC BIOS reports memory sizes.
    const Layout = struct {
        const base_memory_low: u7 = 0x15;
        const base_memory_high: u7 = 0x16;
        const extended_memory_low: u7 = 0x17;
        const extended_memory_high: u7 = 0x18;
        const checksum_first: u7 = 0x10;
        const checksum_last: u7 = 0x2D;
        const checksum_high: u7 = 0x2E;
        const checksum_low: u7 = 0x2F;
        const extended_memory_copy_low: u7 = 0x30;
        const extended_memory_copy_high: u7 = 0x31;
        const memory_above_16m_low: u7 = 0x34;
        const memory_above_16m_high: u7 = 0x35;
        const memory_above_4g_low: u7 = 0x5B;
        const memory_above_4g_middle: u7 = 0x5C;
        const memory_above_4g_high: u7 = 0x5D;
    };

    const register_a_uip: u8 = 0x80;
    const register_b_set: u8 = 0x80;
    const register_b_uie: u8 = 0x10;
    const register_b_binary: u8 = 0x04;
    const register_b_24_hour: u8 = 0x02;
    const register_d_vrt: u8 = 0x80;
    const hour_pm: u8 = 0x80;

    const base_memory_kib: u16 = 640;
    const kib: u64 = 1024;
    const one_mib: u64 = 1 << 20;
    const sixteen_mib: u64 = 16 << 20;
    const chunk_64k: u64 = 64 << 10;

    pub fn init(irq: IrqLine, ram_low_bytes: u64, ram_high_bytes: u64, clock: *const fn () i64) Cmos {
        var cmos = Cmos{ .irq = irq, .clock = clock };
        cmos.setRam16(Layout.base_memory_low, base_memory_kib);
        const extended_kib = @min((ram_low_bytes -| one_mib) / kib, 0xFFFF);
        cmos.setRam16(Layout.extended_memory_low, @intCast(extended_kib));
        cmos.setRam16(Layout.extended_memory_copy_low, @intCast(extended_kib));
        const above_16m = @min((ram_low_bytes -| sixteen_mib) / chunk_64k, 0xFFFF);
        cmos.setRam16(Layout.memory_above_16m_low, @intCast(above_16m));
        const above_4g: u24 = @intCast(@min(ram_high_bytes / chunk_64k, 0xFF_FFFF));
        cmos.ram[Layout.memory_above_4g_low] = @truncate(above_4g);
        cmos.ram[Layout.memory_above_4g_middle] = @truncate(above_4g >> 8);
        cmos.ram[Layout.memory_above_4g_high] = @truncate(above_4g >> 16);
        cmos.setChecksum();
        return cmos;
    }

    pub fn read(self: *Cmos, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteReadAllowed(&self.bad_accesses, offset, data, port_count)) return;
        // The index port is write-only on the PC; its reads float.
        data[0] = if (offset == 0) 0xFF else self.readRegister(self.index);
    }

    pub fn write(self: *Cmos, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteWriteAllowed(&self.bad_accesses, offset, data, port_count)) return;
        if (offset == 0) {
            self.index = @truncate(data[0]);
            self.nmi_disabled = data[0] & 0x80 != 0;
        } else {
            self.writeRegister(self.index, data[0]);
        }
    }

    fn readRegister(self: *Cmos, index: u7) u8 {
        return switch (index) {
            Register.seconds,
            Register.minutes,
            Register.hours,
            Register.day_of_week,
            Register.day_of_month,
            Register.month,
            Register.year,
            Register.century,
            => self.encodeField(self.currentTime(), index),
            Register.a => self.register_a & ~register_a_uip, // never mid-update
            Register.b => self.register_b,
            Register.c => self.readRegisterC(),
            Register.d => register_d_vrt, // the "battery" is always good
            else => self.ram[index],
        };
    }

    fn writeRegister(self: *Cmos, index: u7, value: u8) void {
        switch (index) {
            Register.seconds,
            Register.minutes,
            Register.hours,
            Register.day_of_week,
            Register.day_of_month,
            Register.month,
            Register.year,
            Register.century,
            => self.writeTimeField(index, value),
            Register.a => self.register_a = value & ~register_a_uip,
            Register.b => self.writeRegisterB(value),
            Register.c, Register.d => {}, // read-only
            else => self.ram[index] = value,
        }
    }

    fn readRegisterC(self: *Cmos) u8 {
        const value = self.register_c;
        self.register_c = 0;
        self.irq.set(false);
        return value;
    }

    fn writeRegisterB(self: *Cmos, value: u8) void {
        const was_set = self.register_b & register_b_set != 0;
        const is_set = value & register_b_set != 0;
        // Setting SET also clears UIE on the chip.
        self.register_b = if (is_set) value & ~register_b_uie else value;
        if (!was_set and is_set) {
            self.frozen = Time.fromSeconds(self.runningSeconds());
        } else if (was_set and !is_set) {
            self.offset_seconds = self.frozen.toSeconds() - self.hostSeconds();
        }
    }

    fn setMode(self: *const Cmos) bool {
        return self.register_b & register_b_set != 0;
    }

    fn currentTime(self: *const Cmos) Time {
        if (self.setMode()) return self.frozen;
        return Time.fromSeconds(self.runningSeconds());
    }

    /// Writes without SET go to the running clock, as on the chip, by re-basing the offset.
    fn writeTimeField(self: *Cmos, index: u7, value: u8) void {
        var time = self.currentTime();
        time.setField(index, self.decodeField(index, value));
        if (self.setMode()) {
            self.frozen = time;
        } else {
            self.offset_seconds = time.toSeconds() - self.hostSeconds();
        }
    }

    fn hostSeconds(self: *const Cmos) i64 {
        return std.math.clamp(self.clock(), Time.min_seconds, Time.max_seconds);
    }

    fn runningSeconds(self: *const Cmos) i64 {
        const seconds = self.hostSeconds() +| self.offset_seconds;
        return std.math.clamp(seconds, Time.min_seconds, Time.max_seconds);
    }

    fn binaryMode(self: *const Cmos) bool {
        return self.register_b & register_b_binary != 0;
    }

    fn hour24Mode(self: *const Cmos) bool {
        return self.register_b & register_b_24_hour != 0;
    }

    /// A field's value in register format: BCD or binary, hours possibly 12-hour with bit 7 = PM.
    fn encodeField(self: *const Cmos, time: Time, index: u7) u8 {
        const value = time.field(index);
        if (index != Register.hours or self.hour24Mode()) return self.encodeNumber(value);
        const pm: u8 = if (value >= 12) hour_pm else 0;
        const hour12: u8 = if (value % 12 == 0) 12 else value % 12;
        return self.encodeNumber(hour12) | pm;
    }

    /// The inverse of `encodeField`, for any byte a guest may write; the result may be out of
    /// the field's range, which `Time.setField` clamps.
    fn decodeField(self: *const Cmos, index: u7, raw: u8) u8 {
        if (index != Register.hours or self.hour24Mode()) return self.decodeNumber(raw);
        const hour12 = self.decodeNumber(raw & ~hour_pm) % 12;
        return if (raw & hour_pm != 0) hour12 + 12 else hour12;
    }

    fn encodeNumber(self: *const Cmos, value: u8) u8 {
        assert(value < 100);
        if (self.binaryMode()) return value;
        return (value / 10) << 4 | value % 10;
    }

    fn decodeNumber(self: *const Cmos, raw: u8) u8 {
        if (self.binaryMode()) return raw;
        // Invalid BCD digits decode to something above 99 at worst (0xFF → 165).
        return (raw >> 4) * 10 + (raw & 0x0F);
    }

    fn setRam16(self: *Cmos, low: u7, value: u16) void {
        self.ram[low] = @truncate(value);
        self.ram[low + 1] = @truncate(value >> 8);
    }

    /// The AT BIOS checksum over 0x10-0x2D, stored big-endian at 0x2E.
    fn setChecksum(self: *Cmos) void {
        var sum: u16 = 0;
        for (self.ram[Layout.checksum_first .. @as(u8, Layout.checksum_last) + 1]) |byte| sum += byte;
        self.ram[Layout.checksum_high] = @truncate(sum >> 8);
        self.ram[Layout.checksum_low] = @truncate(sum);
    }
};

/// A calendar time as the RTC's registers hold it, all fields binary.
const Time = struct {
    second: u8 = 0,
    minute: u8 = 0,
    hour: u8 = 0,
    /// 1 = Sunday.
    day_of_week: u8 = 5,
    day_of_month: u8 = 1,
    month: u8 = 1,
    year: u8 = 70,
    century: u8 = 19,

    const seconds_per_day: i64 = 86_400;
    /// The range the century and year registers can hold: 0000-01-01 to 9999-12-31.
    const min_seconds: i64 = daysFromCivil(0, 1, 1) * seconds_per_day;
    const max_seconds: i64 = (daysFromCivil(9999, 12, 31) + 1) * seconds_per_day - 1;

    fn fromSeconds(seconds: i64) Time {
        assert(seconds >= min_seconds and seconds <= max_seconds);
        const days = @divFloor(seconds, seconds_per_day);
        const second_of_day = @mod(seconds, seconds_per_day);
        const date = civilFromDays(days);
        assert(date.year >= 0 and date.year <= 9999);
        const year: u16 = @intCast(date.year);
        return .{
            .second = @intCast(@mod(second_of_day, 60)),
            .minute = @intCast(@mod(@divFloor(second_of_day, 60), 60)),
            .hour = @intCast(@divFloor(second_of_day, 3600)),
            // 1970-01-01 was a Thursday (day 5 when Sunday is 1).
            .day_of_week = @intCast(@mod(days + 4, 7) + 1),
            .day_of_month = date.day,
            .month = date.month,
            .year = @intCast(year % 100),
            .century = @intCast(year / 100),
        };
    }

    /// Days past the end of a month (Feb 31) roll into the next month, as the chip's next
    /// update would leave them; the day of week is derived from the date.
    fn toSeconds(self: Time) i64 {
        const year = @as(i64, self.century) * 100 + self.year;
        const days = daysFromCivil(year, self.month, self.day_of_month);
        const second_of_day = @as(i64, self.hour) * 3600 + @as(i64, self.minute) * 60 + self.second;
        return days * seconds_per_day + second_of_day;
    }

    fn field(self: Time, index: u7) u8 {
        return switch (index) {
            Cmos.Register.seconds => self.second,
            Cmos.Register.minutes => self.minute,
            Cmos.Register.hours => self.hour,
            Cmos.Register.day_of_week => self.day_of_week,
            Cmos.Register.day_of_month => self.day_of_month,
            Cmos.Register.month => self.month,
            Cmos.Register.year => self.year,
            Cmos.Register.century => self.century,
            else => unreachable,
        };
    }

    /// Stores a decoded value, clamped to the field's range so every `Time` stays convertible.
    fn setField(self: *Time, index: u7, value: u8) void {
        switch (index) {
            Cmos.Register.seconds => self.second = @min(value, 59),
            Cmos.Register.minutes => self.minute = @min(value, 59),
            Cmos.Register.hours => self.hour = @min(value, 23),
            Cmos.Register.day_of_week => self.day_of_week = std.math.clamp(value, 1, 7),
            Cmos.Register.day_of_month => self.day_of_month = std.math.clamp(value, 1, 31),
            Cmos.Register.month => self.month = std.math.clamp(value, 1, 12),
            Cmos.Register.year => self.year = @min(value, 99),
            Cmos.Register.century => self.century = @min(value, 99),
            else => unreachable,
        }
    }
};

/// Days since 1970-01-01 of a proleptic Gregorian date; `month` 1-12, `day` counted from 1.
/// Works in 400-year eras (146097 days) with years starting in March, so leap days fall last.
fn daysFromCivil(year: i64, month: u8, day: u8) i64 {
    assert(month >= 1 and month <= 12);
    const march_year = if (month <= 2) year - 1 else year;
    const era = @divFloor(march_year, 400);
    const year_of_era = march_year - era * 400;
    const march_month: i64 = if (month > 2) month - 3 else month + 9;
    const day_of_year = @divFloor(153 * march_month + 2, 5) + day - 1;
    const day_of_era = year_of_era * 365 + @divFloor(year_of_era, 4) - @divFloor(year_of_era, 100) + day_of_year;
    return era * 146_097 + day_of_era - 719_468;
}

const CivilDate = struct { year: i64, month: u8, day: u8 };

/// The inverse of `daysFromCivil`.
fn civilFromDays(days: i64) CivilDate {
    const shifted = days + 719_468;
    const era = @divFloor(shifted, 146_097);
    const day_of_era = shifted - era * 146_097;
    const year_of_era = @divFloor(day_of_era - @divFloor(day_of_era, 1460) + @divFloor(day_of_era, 36_524) - @divFloor(day_of_era, 146_096), 365);
    const day_of_year = day_of_era - (365 * year_of_era + @divFloor(year_of_era, 4) - @divFloor(year_of_era, 100));
    const march_month = @divFloor(5 * day_of_year + 2, 153);
    const day: u8 = @intCast(day_of_year - @divFloor(153 * march_month + 2, 5) + 1);
    const month: u8 = @intCast(if (march_month < 10) march_month + 3 else march_month - 9);
    const year = year_of_era + era * 400 + @intFromBool(month <= 2);
    return .{ .year = year, .month = month, .day = day };
}

const testing = std.testing;

/// 2024-02-29 13:45:30 UTC, a Thursday.
const fixed_now: i64 = 1_709_214_330;

fn fixedClock() i64 {
    return fixed_now;
}

var adjustable_now: i64 = fixed_now;

fn adjustableClock() i64 {
    return adjustable_now;
}

fn hostileClock() i64 {
    return std.math.maxInt(i64);
}

fn readRegister(cmos: *Cmos, index: u8) u8 {
    cmos.write(0, &[1]u8{index});
    var data = [1]u8{0};
    cmos.read(1, &data);
    return data[0];
}

fn writeRegister(cmos: *Cmos, index: u8, value: u8) void {
    cmos.write(0, &[1]u8{index});
    cmos.write(1, &[1]u8{value});
}

test "calendar conversion round-trips known dates" {
    try testing.expectEqual(@as(i64, 0), daysFromCivil(1970, 1, 1));
    try testing.expectEqual(@as(i64, 19_782), daysFromCivil(2024, 2, 29));
    try testing.expectEqual(@as(i64, -25_567), daysFromCivil(1900, 1, 1));
    const dates = [_]CivilDate{
        .{ .year = 0, .month = 1, .day = 1 },
        .{ .year = 1900, .month = 2, .day = 28 },
        .{ .year = 2000, .month = 2, .day = 29 },
        .{ .year = 2100, .month = 3, .day = 1 },
        .{ .year = 9999, .month = 12, .day = 31 },
    };
    for (dates) |date| {
        const back = civilFromDays(daysFromCivil(date.year, date.month, date.day));
        try testing.expectEqual(date, back);
    }
    const time = Time.fromSeconds(fixed_now);
    try testing.expectEqual(Time{ .second = 30, .minute = 45, .hour = 13, .day_of_week = 5, .day_of_month = 29, .month = 2, .year = 24, .century = 20 }, time);
    try testing.expectEqual(fixed_now, time.toSeconds());
    try testing.expectEqual(Time.max_seconds, Time.fromSeconds(Time.max_seconds).toSeconds());
    try testing.expectEqual(Time.min_seconds, Time.fromSeconds(Time.min_seconds).toSeconds());
}

test "time registers in BCD (the default) at a fixed date, century included" {
    var cmos = Cmos.init(.{ .gsi = 8 }, 256 << 20, 0, fixedClock);
    try testing.expectEqual(@as(u8, 0x30), readRegister(&cmos, 0x00));
    try testing.expectEqual(@as(u8, 0x45), readRegister(&cmos, 0x02));
    try testing.expectEqual(@as(u8, 0x13), readRegister(&cmos, 0x04));
    try testing.expectEqual(@as(u8, 0x05), readRegister(&cmos, 0x06));
    try testing.expectEqual(@as(u8, 0x29), readRegister(&cmos, 0x07));
    try testing.expectEqual(@as(u8, 0x02), readRegister(&cmos, 0x08));
    try testing.expectEqual(@as(u8, 0x24), readRegister(&cmos, 0x09));
    try testing.expectEqual(@as(u8, 0x20), readRegister(&cmos, 0x32));
    try testing.expectEqual(@as(u8, 0x26), readRegister(&cmos, 0x0A));
    try testing.expectEqual(@as(u8, 0x02), readRegister(&cmos, 0x0B));
    try testing.expectEqual(@as(u8, 0x80), readRegister(&cmos, 0x0D));
}

test "binary mode and 12-hour mode" {
    var cmos = Cmos.init(.{ .gsi = 8 }, 256 << 20, 0, fixedClock);
    writeRegister(&cmos, 0x0B, 0x06); // binary, 24-hour
    try testing.expectEqual(@as(u8, 30), readRegister(&cmos, 0x00));
    try testing.expectEqual(@as(u8, 45), readRegister(&cmos, 0x02));
    try testing.expectEqual(@as(u8, 13), readRegister(&cmos, 0x04));
    try testing.expectEqual(@as(u8, 29), readRegister(&cmos, 0x07));
    try testing.expectEqual(@as(u8, 24), readRegister(&cmos, 0x09));
    try testing.expectEqual(@as(u8, 20), readRegister(&cmos, 0x32));
    writeRegister(&cmos, 0x0B, 0x04); // binary, 12-hour: 1 PM
    try testing.expectEqual(@as(u8, 0x81), readRegister(&cmos, 0x04));
    writeRegister(&cmos, 0x0B, 0x00); // BCD, 12-hour
    try testing.expectEqual(@as(u8, 0x81), readRegister(&cmos, 0x04));

    // Midnight and noon in 12-hour mode are 12 AM and 12 PM.
    writeRegister(&cmos, 0x0B, 0x80);
    writeRegister(&cmos, 0x04, 0x12); // 12 AM
    try testing.expectEqual(@as(u8, 0x12), readRegister(&cmos, 0x04));
    writeRegister(&cmos, 0x0B, 0x82);
    try testing.expectEqual(@as(u8, 0x00), readRegister(&cmos, 0x04));
    writeRegister(&cmos, 0x0B, 0x80);
    writeRegister(&cmos, 0x04, 0x92); // 12 PM
    writeRegister(&cmos, 0x0B, 0x82);
    try testing.expectEqual(@as(u8, 0x12), readRegister(&cmos, 0x04));
}

test "setting the clock as Linux does: SET, fields, then clear SET" {
    adjustable_now = fixed_now;
    var cmos = Cmos.init(.{ .gsi = 8 }, 256 << 20, 0, adjustableClock);
    const control = readRegister(&cmos, 0x0B);
    writeRegister(&cmos, 0x0B, control | 0x80 | 0x10);
    try testing.expectEqual(@as(u8, 0x82), readRegister(&cmos, 0x0B)); // UIE cleared by SET
    const freq = readRegister(&cmos, 0x0A);
    writeRegister(&cmos, 0x0A, freq | 0x70);
    // 2023-03-31 would be reached through 2023-02-31 if fields were normalised one by one.
    writeRegister(&cmos, 0x09, 0x23);
    writeRegister(&cmos, 0x08, 0x03);
    writeRegister(&cmos, 0x07, 0x31);
    writeRegister(&cmos, 0x04, 0x08);
    writeRegister(&cmos, 0x02, 0x00);
    writeRegister(&cmos, 0x00, 0x05);
    adjustable_now += 100; // frozen while SET
    try testing.expectEqual(@as(u8, 0x05), readRegister(&cmos, 0x00));
    writeRegister(&cmos, 0x0B, control);
    writeRegister(&cmos, 0x0A, freq);
    try testing.expectEqual(@as(u8, 0x26), readRegister(&cmos, 0x0A));

    adjustable_now += 62;
    try testing.expectEqual(@as(u8, 0x07), readRegister(&cmos, 0x00));
    try testing.expectEqual(@as(u8, 0x01), readRegister(&cmos, 0x02));
    try testing.expectEqual(@as(u8, 0x08), readRegister(&cmos, 0x04));
    try testing.expectEqual(@as(u8, 0x31), readRegister(&cmos, 0x07));
    try testing.expectEqual(@as(u8, 0x03), readRegister(&cmos, 0x08));
    try testing.expectEqual(@as(u8, 0x23), readRegister(&cmos, 0x09));
    try testing.expectEqual(@as(u8, 0x20), readRegister(&cmos, 0x32));
    try testing.expectEqual(@as(u8, 0x06), readRegister(&cmos, 0x06)); // a Friday

    // A write without SET adjusts the running clock.
    writeRegister(&cmos, 0x32, 0x19);
    adjustable_now += 1;
    try testing.expectEqual(@as(u8, 0x19), readRegister(&cmos, 0x32));
    try testing.expectEqual(@as(u8, 0x08), readRegister(&cmos, 0x00));
}

test "registers C and D, and the index port" {
    var cmos = Cmos.init(.{ .gsi = 8 }, 256 << 20, 0, fixedClock);
    cmos.register_c = 0xC0;
    try testing.expectEqual(@as(u8, 0xC0), readRegister(&cmos, 0x0C));
    try testing.expectEqual(@as(u8, 0x00), readRegister(&cmos, 0x0C));
    writeRegister(&cmos, 0x0C, 0xFF);
    writeRegister(&cmos, 0x0D, 0x00);
    try testing.expectEqual(@as(u8, 0x00), readRegister(&cmos, 0x0C));
    try testing.expectEqual(@as(u8, 0x80), readRegister(&cmos, 0x0D));
    writeRegister(&cmos, 0x0A, 0xFF);
    try testing.expectEqual(@as(u8, 0x7F), readRegister(&cmos, 0x0A)); // UIP is never set

    // Bit 7 of the index is the NMI mask; the index wraps into 0..127.
    writeRegister(&cmos, 0x8F, 0x5A);
    try testing.expect(cmos.nmi_disabled);
    try testing.expectEqual(@as(u7, 0x0F), cmos.index);
    try testing.expectEqual(@as(u8, 0x5A), readRegister(&cmos, 0x0F));
    try testing.expect(!cmos.nmi_disabled);
    var data = [1]u8{0};
    cmos.read(0, &data);
    try testing.expectEqual(@as(u8, 0xFF), data[0]);

    // Alarm bytes are plain storage.
    writeRegister(&cmos, 0x01, 0xC0);
    try testing.expectEqual(@as(u8, 0xC0), readRegister(&cmos, 0x01));
}

test "memory size fields as a PC BIOS leaves them" {
    const mib: u64 = 1 << 20;
    var small = Cmos.init(.{ .gsi = 8 }, 256 * mib, 0, fixedClock);
    try testing.expectEqual(@as(u8, 0x80), readRegister(&small, 0x15));
    try testing.expectEqual(@as(u8, 0x02), readRegister(&small, 0x16));
    // 255 MiB above 1 MiB = 261120 KiB, capped at 0xFFFF.
    try testing.expectEqual(@as(u8, 0xFF), readRegister(&small, 0x17));
    try testing.expectEqual(@as(u8, 0xFF), readRegister(&small, 0x18));
    try testing.expectEqual(@as(u8, 0xFF), readRegister(&small, 0x30));
    try testing.expectEqual(@as(u8, 0xFF), readRegister(&small, 0x31));
    // 240 MiB above 16 MiB = 3840 chunks of 64 KiB.
    try testing.expectEqual(@as(u8, 0x00), readRegister(&small, 0x34));
    try testing.expectEqual(@as(u8, 0x0F), readRegister(&small, 0x35));
    try testing.expectEqual(@as(u8, 0), readRegister(&small, 0x5B));

    var tiny = Cmos.init(.{ .gsi = 8 }, 8 * mib, 0, fixedClock);
    try testing.expectEqual(@as(u8, 0x00), readRegister(&tiny, 0x17)); // 7168 KiB = 0x1C00
    try testing.expectEqual(@as(u8, 0x1C), readRegister(&tiny, 0x18));
    try testing.expectEqual(@as(u8, 0), readRegister(&tiny, 0x34));
    try testing.expectEqual(@as(u8, 0), readRegister(&tiny, 0x35));
    // Checksum over 0x10-0x2D: 0x80 + 0x02 + 0x00 + 0x1C.
    try testing.expectEqual(@as(u8, 0x00), readRegister(&tiny, 0x2E));
    try testing.expectEqual(@as(u8, 0x9E), readRegister(&tiny, 0x2F));

    // 3 GiB below the hole and 5 GiB above 4 GiB.
    var large = Cmos.init(.{ .gsi = 8 }, 3072 * mib, 5120 * mib, fixedClock);
    // 3056 MiB above 16 MiB = 48896 = 0xBF00 chunks.
    try testing.expectEqual(@as(u8, 0x00), readRegister(&large, 0x34));
    try testing.expectEqual(@as(u8, 0xBF), readRegister(&large, 0x35));
    // 5 GiB / 64 KiB = 81920 = 0x014000.
    try testing.expectEqual(@as(u8, 0x00), readRegister(&large, 0x5B));
    try testing.expectEqual(@as(u8, 0x40), readRegister(&large, 0x5C));
    try testing.expectEqual(@as(u8, 0x01), readRegister(&large, 0x5D));

    // Absurd sizes saturate every field.
    var huge = Cmos.init(.{ .gsi = 8 }, std.math.maxInt(u64), std.math.maxInt(u64), fixedClock);
    for ([_]u8{ 0x17, 0x18, 0x30, 0x31, 0x34, 0x35, 0x5B, 0x5C, 0x5D }) |index| {
        try testing.expectEqual(@as(u8, 0xFF), readRegister(&huge, index));
    }
}

test "wrong widths and offsets are ignored, read as ones and counted" {
    var cmos = Cmos.init(.{ .gsi = 8 }, 256 << 20, 0, fixedClock);
    var wide = [2]u8{ 0, 0 };
    cmos.read(0, &wide);
    try testing.expectEqualSlices(u8, &[2]u8{ 0xFF, 0xFF }, &wide);
    cmos.write(0, &[2]u8{ 0x0E, 0x55 });
    cmos.write(2, &[1]u8{0x0E});
    try testing.expectEqual(@as(u7, 0), cmos.index);
    try testing.expectEqual(@as(u32, 3), cmos.bad_accesses);
}

test "hostile guest: random accesses never panic and keep the clock in range" {
    const clocks = [_]*const fn () i64{ fixedClock, hostileClock };
    for (clocks) |clock| {
        var cmos = Cmos.init(.{ .gsi = 8 }, 1 << 30, 1 << 30, clock);
        var prng = std.Random.DefaultPrng.init(0x146818);
        const random = prng.random();
        const widths = [_]usize{ 1, 2, 4 };
        var i: u32 = 0;
        while (i < 100_000) : (i += 1) {
            const offset = random.uintLessThan(u16, Cmos.port_count + 8);
            const width = widths[random.uintLessThan(usize, widths.len)];
            var data: [4]u8 = undefined;
            random.bytes(&data);
            if (random.boolean()) cmos.read(offset, data[0..width]) else cmos.write(offset, data[0..width]);
            const time = cmos.currentTime();
            try testing.expect(time.toSeconds() >= Time.min_seconds);
            try testing.expect(time.toSeconds() <= Time.max_seconds);
        }
        try testing.expect(cmos.bad_accesses > 0);
    }
}
