//! The MC146818 real-time clock and its 128 bytes of CMOS RAM, behind the PC's index port (0x70)
//! and data port (0x71).
//!
//! The device has no thread. Its divider chain runs on the host's monotonic clock and is brought
//! up to date whenever the device is touched: each data-port access and each `poll`, which the
//! VM's timer thread calls at `nextEventNs`. Catching up latches into register C whatever fell due
//! since the last time (periodic, alarm and update-ended flags; missed periodic ticks coalesce
//! into one PF) and drives IRQ 8. The clock counts whole seconds on that divider, starting from the
//! host wall clock plus the offset the guest chose when it last set the time, and follows the host
//! wall clock again when the two drift 2 s apart (the host clock was set, or the host slept). The
//! RAM carries the memory sizes, boot order and CPU count a PC BIOS reads there.
const std = @import("std");
const assert = std.debug.assert;
const device = @import("device.zig");
const IrqLine = device.IrqLine;
const ns_per_s: u64 = std.time.ns_per_s;

pub const Cmos = struct {
    pub const ram_size: u8 = 128;
    /// Offset 0 is the index port (0x70), offset 1 the data port (0x71).
    pub const port_count: u16 = 2;
    /// QEMU's pc machine passes at most three boot devices through CMOS.
    pub const max_boot_devices: u8 = 3;

    /// Boot devices in the nibble code the Bochs BIOS and SeaBIOS read from CMOS 0x3D and 0x38.
    pub const BootDevice = enum(u4) { floppy = 1, hard_disk = 2, cdrom = 3, network = 4 };

    /// Guards everything below: several vCPUs and the VM's timer thread may get here at once.
    mutex: std.Thread.Mutex = .{},
    /// IRQ 8, high while IRQF is set: the rising level is the edge the PIC or IOAPIC sees.
    /// Reading register C lowers it.
    irq: IrqLine,
    /// Host wall clock, Unix seconds: where the guest clock starts, and what it follows.
    clock: *const fn () i64,
    /// Host monotonic clock, nanoseconds: the divider chain's time base.
    monotonic_ns: *const fn () u64,

    /// The register the data port reaches (port 0x70 bits 0-6).
    index: u7 = 0,
    /// Port 0x70 bit 7 (NMI mask). Recorded only: nothing here raises NMIs.
    nmi_disabled: bool = false,
    /// Guest time minus host time, in seconds, fixed whenever the guest sets or stops the clock.
    offset_seconds: i64 = 0,
    /// The running clock: the guest time of the current second, in seconds since 1970 as if the
    /// guest's time zone were UTC. Unused while SET is 1.
    seconds: i64 = 0,
    /// While register B's SET bit is 1 the clock stands still at these values and the guest
    /// writes them field by field; clearing SET starts the clock from them.
    frozen: Time = .{},
    /// When the divider chain next completes a second, in monotonic ns: the update, which UIP
    /// announces 244 µs ahead. Periodic ticks fall on the same chain, so every update is also
    /// one. Meaningless while the chain is held in reset.
    next_update_ns: u64 = 0,
    /// Everything due up to this monotonic instant is latched in register C. While the chain
    /// runs, `caught_up_ns < next_update_ns <= caught_up_ns + 1 s`.
    caught_up_ns: u64 = 0,
    /// Register A without UIP (bit 7, read-only): divider and rate-select bits.
    register_a: u8 = register_a_divider_32k | 0x06,
    /// Register B: SET, PIE, AIE, UIE, SQWE, DM (binary), 24/12, DSE. BIOS default: 24-hour, BCD.
    register_b: u8 = register_b_24_hour,
    /// Register C's flags as latched: PF, AF, UF. IRQF (bit 7) is derived from them and the
    /// enable bits in register B, as the datasheet defines it.
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

    /// Where a PC BIOS finds what the machine tells it.
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
        /// Bits 4-7: third boot device. Bit 0: 1 = boot floppies without checking the boot
        /// sector's signature.
        const boot_flags: u7 = 0x38;
        /// Bits 0-3: first boot device; bits 4-7: second.
        const boot_order: u7 = 0x3D;
        const memory_above_4g_low: u7 = 0x5B;
        const memory_above_4g_middle: u7 = 0x5C;
        const memory_above_4g_high: u7 = 0x5D;
        /// CPU count minus one, which SeaBIOS reads on QEMU.
        const cpu_count_minus_one: u7 = 0x5F;
    };

    comptime {
        // Fields written after init lie outside the checksummed range: the checksum stays valid.
        for ([_]u7{ Layout.boot_flags, Layout.boot_order, Layout.cpu_count_minus_one }) |index| {
            assert(index < Layout.checksum_first or index > Layout.checksum_last);
        }
        // Each flag in register C sits at its enable bit's position in register B.
        assert(register_c_pf == register_b_pie);
        assert(register_c_af == register_b_aie);
        assert(register_c_uf == register_b_uie);
        // Every periodic rate divides a second, so every update is also a periodic tick.
        var rate: u8 = 1;
        while (rate < 16) : (rate += 1) assert(divider_input_hz % periodTicks(@intCast(rate)) == 0);
    }

    const register_a_uip: u8 = 0x80;
    /// DV2-DV0: the time base.
    const register_a_divider: u8 = 0x70;
    /// DV = 010, the PC's 32.768 kHz crystal.
    const register_a_divider_32k: u8 = 0x20;
    /// DV = 11x holds the divider chain in reset.
    const register_a_divider_reset: u8 = 0x60;
    const register_b_set: u8 = 0x80;
    const register_b_pie: u8 = 0x40;
    const register_b_aie: u8 = 0x20;
    const register_b_uie: u8 = 0x10;
    const register_b_binary: u8 = 0x04;
    const register_b_24_hour: u8 = 0x02;
    const register_c_irqf: u8 = 0x80;
    const register_c_pf: u8 = 0x40;
    const register_c_af: u8 = 0x20;
    const register_c_uf: u8 = 0x10;
    const register_c_flags: u8 = register_c_pf | register_c_af | register_c_uf;
    const register_d_vrt: u8 = 0x80;
    const hour_pm: u8 = 0x80;
    /// An alarm byte with both top bits set matches every value.
    const alarm_dont_care: u8 = 0xC0;

    /// The divider chain's input.
    const divider_input_hz: u64 = 32_768;
    /// UIP rises this long before each update (the datasheet's tBUC).
    const update_warning_ns: u64 = 244 * std.time.ns_per_us;
    /// After the divider chain leaves reset, the first update comes half a second later.
    const first_update_after_reset_ns: u64 = ns_per_s / 2;
    /// The clock follows the host wall clock once they disagree by this much. Less is rounding
    /// (the wall clock gives whole seconds) or drift between the host's two clocks.
    const follow_host_seconds: u64 = 2;
    /// Monotonic readings are capped here, so deadlines a day later still fit in a u64.
    const monotonic_limit_ns: u64 = std.math.maxInt(u64) / 2;
    /// Bounds the alarm search. The longest one starts just past a match at S seconds and M
    /// minutes, whose next is a day away: 59 - S second steps, 59 - M minute steps, 23 hour steps
    /// round to the alarm's hour, M minute steps, S second steps, then the match. Bytes that find
    /// nothing within this never match.
    const alarm_search_steps: u32 = 59 + 59 + 23 + 1;

    const base_memory_kib: u16 = 640;
    const kib: u64 = 1024;
    const one_mib: u64 = 1 << 20;
    const sixteen_mib: u64 = 16 << 20;
    const chunk_64k: u64 = 64 << 10;

    pub fn init(irq: IrqLine, ram_low_bytes: u64, ram_high_bytes: u64, clock: *const fn () i64, monotonic_ns: *const fn () u64) Cmos {
        var cmos = Cmos{ .irq = irq, .clock = clock, .monotonic_ns = monotonic_ns };
        cmos.caught_up_ns = cmos.nowNs();
        cmos.next_update_ns = cmos.caught_up_ns + ns_per_s;
        cmos.seconds = cmos.hostSeconds();
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

    /// The BIOS boot order, first device first, as QEMU's pc machine records it. Bit 0 of 0x38
    /// (the floppy signature check) keeps its value: 0 after init, so the check is made.
    pub fn setBootOrder(self: *Cmos, devices: []const BootDevice) void {
        assert(devices.len <= max_boot_devices);
        self.mutex.lock();
        defer self.mutex.unlock();
        var codes = [_]u8{0} ** max_boot_devices;
        for (devices, 0..) |boot_device, i| codes[i] = @intFromEnum(boot_device);
        self.ram[Layout.boot_order] = codes[1] << 4 | codes[0];
        self.ram[Layout.boot_flags] = codes[2] << 4 | (self.ram[Layout.boot_flags] & 0x0F);
    }

    /// The number of CPUs, stored minus one where SeaBIOS looks for it on QEMU.
    pub fn setCpuCount(self: *Cmos, count: u32) void {
        assert(count >= 1 and count <= 256);
        self.mutex.lock();
        defer self.mutex.unlock();
        self.ram[Layout.cpu_count_minus_one] = @intCast(count - 1);
    }

    /// Latches whatever fell due since the last poll or data-port access and drives IRQ 8.
    /// The VM's timer thread calls it at `nextEventNs`; calling it at any other time is harmless.
    pub fn poll(self: *Cmos) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        self.catchUp();
    }

    /// The monotonic instant (ns) of the first tick of an enabled interrupt source after the last
    /// poll or data-port access, or null when no enabled source can fire: PIE, AIE and UIE all 0;
    /// SET holding back the alarm and update-ended sources; the divider chain in reset; no
    /// periodic rate; alarm bytes no time matches. It may already be past when nothing polled
    /// lately: then poll at once. Reads never move it earlier; data-port writes can.
    pub fn nextEventNs(self: *Cmos) ?u64 {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (self.dividerHeld()) return null;
        var next: ?u64 = null;
        if (self.register_b & register_b_pie != 0) {
            if (self.periodicTicks()) |ticks| next = self.nextPeriodicNs(ticks);
        }
        if (self.setMode()) return next;
        if (self.register_b & register_b_uie != 0) next = earliest(next, self.next_update_ns);
        if (self.register_b & register_b_aie != 0) {
            if (self.nextAlarmSecond(self.seconds)) |alarm| {
                const updates_before: u64 = @intCast(alarm - self.seconds - 1);
                next = earliest(next, self.next_update_ns + updates_before * ns_per_s);
            }
        }
        return next;
    }

    pub fn read(self: *Cmos, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteReadAllowed(&self.bad_accesses, offset, data, port_count)) return;
        // The index port is write-only on the PC; its reads float.
        if (offset == 0) {
            data[0] = 0xFF;
            return;
        }
        self.catchUp();
        data[0] = self.readRegister(self.index);
    }

    pub fn write(self: *Cmos, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteWriteAllowed(&self.bad_accesses, offset, data, port_count)) return;
        if (offset == 0) {
            self.index = @truncate(data[0]);
            self.nmi_disabled = data[0] & 0x80 != 0;
        } else {
            self.catchUp();
            self.writeRegister(self.index, data[0]);
            self.driveLine();
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
            Register.a => self.readRegisterA(),
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
            Register.a => self.writeRegisterA(value),
            Register.b => self.writeRegisterB(value),
            Register.c, Register.d => {}, // read-only
            else => self.ram[index] = value,
        }
    }

    /// UIP is 1 in the last 244 µs before an update. Updates happen only at `next_update_ns`, so
    /// the time a guest reads after seeing UIP = 0 holds for at least those 244 µs.
    fn readRegisterA(self: *const Cmos) u8 {
        const updating = !self.dividerHeld() and !self.setMode() and
            self.next_update_ns - self.caught_up_ns <= update_warning_ns;
        return if (updating) self.register_a | register_a_uip else self.register_a;
    }

    fn readRegisterC(self: *Cmos) u8 {
        const value = if (self.interruptRequested()) self.register_c | register_c_irqf else self.register_c;
        self.register_c = 0;
        self.irq.set(false);
        return value;
    }

    fn writeRegisterA(self: *Cmos, value: u8) void {
        const was_held = self.dividerHeld();
        self.register_a = value & ~register_a_uip;
        if (was_held and !self.dividerHeld()) {
            self.next_update_ns = self.caught_up_ns + first_update_after_reset_ns;
            // The clock stood still while held: the guest chose a new offset.
            self.offset_seconds = self.seconds - self.hostSeconds();
        }
    }

    fn writeRegisterB(self: *Cmos, value: u8) void {
        const was_set = self.setMode();
        const is_set = value & register_b_set != 0;
        // Setting SET also clears UIE on the chip.
        self.register_b = if (is_set) value & ~register_b_uie else value;
        if (!was_set and is_set) {
            self.frozen = Time.fromSeconds(self.seconds);
        } else if (was_set and !is_set) {
            self.seconds = clampSeconds(self.frozen.toSeconds());
            self.offset_seconds = self.seconds - self.hostSeconds();
        }
    }

    fn setMode(self: *const Cmos) bool {
        return self.register_b & register_b_set != 0;
    }

    fn dividerHeld(self: *const Cmos) bool {
        return self.register_a & register_a_divider_reset == register_a_divider_reset;
    }

    fn interruptRequested(self: *const Cmos) bool {
        assert(self.register_c & ~register_c_flags == 0);
        return self.register_c & self.register_b & register_c_flags != 0;
    }

    fn driveLine(self: *Cmos) void {
        self.irq.set(self.interruptRequested());
    }

    fn nowNs(self: *const Cmos) u64 {
        return @min(self.monotonic_ns(), monotonic_limit_ns);
    }

    /// Runs the divider chain up to now: latches PF if a periodic tick passed, and makes the
    /// updates that fell due (unless SET holds them back). A clock that went backwards is taken
    /// as standing still.
    fn catchUp(self: *Cmos) void {
        const now_ns = @max(self.nowNs(), self.caught_up_ns);
        if (!self.dividerHeld()) {
            assert(self.caught_up_ns < self.next_update_ns);
            assert(self.next_update_ns - self.caught_up_ns <= ns_per_s);
            if (self.periodicTicks()) |ticks| {
                if (now_ns >= self.next_update_ns or
                    self.periodIndex(ticks, self.caught_up_ns) < self.periodIndex(ticks, now_ns))
                {
                    self.register_c |= register_c_pf;
                }
            }
            if (now_ns >= self.next_update_ns) {
                const updates = (now_ns - self.next_update_ns) / ns_per_s + 1;
                self.next_update_ns += updates * ns_per_s;
                if (!self.setMode()) self.update(updates);
            }
        }
        self.caught_up_ns = now_ns;
        self.driveLine();
    }

    /// `count` updates in a row, one a second on the chip: the time advances, UF is set, and AF
    /// if any of the new times matches the alarm.
    fn update(self: *Cmos, count: u64) void {
        assert(count >= 1 and count <= monotonic_limit_ns / ns_per_s + 1);
        const before = self.seconds;
        const after = before + @as(i64, @intCast(count));
        self.register_c |= register_c_uf;
        if (self.nextAlarmSecond(before)) |alarm| {
            if (alarm <= after) self.register_c |= register_c_af;
        }
        self.seconds = clampSeconds(after);
        // Only at an update, so that a guest that saw UIP = 0 never sees the time jump.
        const host = self.runningSeconds();
        if (@abs(self.seconds - host) >= follow_host_seconds) self.seconds = host;
    }

    /// The periodic interrupt's period in ticks of the 32.768 kHz input, or null when off: rate
    /// 0, or a time base other than the PC's crystal (the only one the rates below hold for).
    fn periodicTicks(self: *const Cmos) ?u64 {
        if (self.register_a & register_a_divider != register_a_divider_32k) return null;
        const rate: u4 = @truncate(self.register_a);
        if (rate == 0) return null;
        return periodTicks(rate);
    }

    /// Rates 1 and 2 would tap the chain too early for a 32.768 kHz input; the chip gives
    /// 256 Hz and 128 Hz there, as rates 8 and 9 do.
    fn periodTicks(rate: u4) u64 {
        assert(rate != 0);
        return switch (rate) {
            1 => 1 << 7,
            2 => 1 << 8,
            else => @as(u64, 1) << (rate - 1),
        };
    }

    /// How many periodic ticks of the current second have passed at `at_ns`.
    fn periodIndex(self: *const Cmos, ticks: u64, at_ns: u64) u64 {
        assert(at_ns < self.next_update_ns and self.next_update_ns - at_ns <= ns_per_s);
        const into_second_ns = ns_per_s - (self.next_update_ns - at_ns);
        return into_second_ns * divider_input_hz / (ticks * ns_per_s);
    }

    fn nextPeriodicNs(self: *const Cmos, ticks: u64) u64 {
        const into_second_ns = ns_per_s - (self.next_update_ns - self.caught_up_ns);
        const index = self.periodIndex(ticks, self.caught_up_ns) + 1;
        assert(index * ticks <= divider_input_hz);
        const tick_into_second_ns = std.math.divCeil(u64, index * ticks * ns_per_s, divider_input_hz) catch unreachable;
        assert(tick_into_second_ns > into_second_ns);
        return self.caught_up_ns + (tick_into_second_ns - into_second_ns);
    }

    /// The first second after `after` whose hours, minutes and seconds match the alarm bytes in
    /// the current format, or null if none ever does (a byte no time encodes to). Skips ahead by
    /// the largest unit that does not match, so it takes a few hundred steps at most.
    fn nextAlarmSecond(self: *const Cmos, after: i64) ?i64 {
        var candidate = after + 1;
        var steps: u32 = 0;
        while (steps < alarm_search_steps) : (steps += 1) {
            const second_of_day: u32 = @intCast(@mod(candidate, Time.seconds_per_day));
            const second_of_hour = second_of_day % 3600;
            const second: u8 = @intCast(second_of_day % 60);
            if (!self.alarmMatches(Register.hours_alarm, Register.hours, @intCast(second_of_day / 3600))) {
                candidate += 3600 - second_of_hour;
            } else if (!self.alarmMatches(Register.minutes_alarm, Register.minutes, @intCast(second_of_hour / 60))) {
                candidate += 60 - @as(i64, second);
            } else if (!self.alarmMatches(Register.seconds_alarm, Register.seconds, second)) {
                candidate += 1;
            } else {
                return candidate;
            }
        }
        return null;
    }

    /// The chip compares register bytes, so the alarm uses the current BCD/binary and 12/24-hour
    /// format and a byte no time encodes to never matches.
    fn alarmMatches(self: *const Cmos, alarm_index: u7, field_index: u7, value: u8) bool {
        const alarm = self.ram[alarm_index];
        return alarm & alarm_dont_care == alarm_dont_care or alarm == self.encodeValue(field_index, value);
    }

    fn currentTime(self: *const Cmos) Time {
        if (self.setMode()) return self.frozen;
        return Time.fromSeconds(self.seconds);
    }

    /// Writes without SET go to the running clock, as on the chip, and re-base the offset. The
    /// divider chain keeps its phase.
    fn writeTimeField(self: *Cmos, index: u7, value: u8) void {
        var time = self.currentTime();
        time.setField(index, self.decodeField(index, value));
        if (self.setMode()) {
            self.frozen = time;
        } else {
            self.seconds = clampSeconds(time.toSeconds());
            self.offset_seconds = self.seconds - self.hostSeconds();
        }
    }

    fn hostSeconds(self: *const Cmos) i64 {
        return clampSeconds(self.clock());
    }

    /// Where the host wall clock and the guest's offset put the clock.
    fn runningSeconds(self: *const Cmos) i64 {
        return clampSeconds(self.hostSeconds() +| self.offset_seconds);
    }

    fn clampSeconds(seconds: i64) i64 {
        return std.math.clamp(seconds, Time.min_seconds, Time.max_seconds);
    }

    fn binaryMode(self: *const Cmos) bool {
        return self.register_b & register_b_binary != 0;
    }

    fn hour24Mode(self: *const Cmos) bool {
        return self.register_b & register_b_24_hour != 0;
    }

    /// A field's value in register format.
    fn encodeField(self: *const Cmos, time: Time, index: u7) u8 {
        return self.encodeValue(index, time.field(index));
    }

    /// A binary value in register format: BCD or binary, hours possibly 12-hour with bit 7 = PM.
    fn encodeValue(self: *const Cmos, index: u7, value: u8) u8 {
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

fn earliest(a: ?u64, b: u64) u64 {
    return if (a) |value| @min(value, b) else b;
}

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
const IrqRecorder = device.IrqRecorder;

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

/// A whole number of seconds, so the fake wall clock ticks when the guest clock first updates.
const test_start_ns: u64 = 1_000 * ns_per_s;

var fake_monotonic_ns: u64 = test_start_ns;

fn fakeMonotonic() u64 {
    return fake_monotonic_ns;
}

fn resetClocks() void {
    adjustable_now = fixed_now;
    fake_monotonic_ns = test_start_ns;
}

/// Moves both fake clocks on, the wall clock in whole seconds as the host's moves.
fn elapse(ns: u64) void {
    const before_ns = fake_monotonic_ns;
    fake_monotonic_ns += ns;
    adjustable_now += @intCast(fake_monotonic_ns / ns_per_s - before_ns / ns_per_s);
}

fn elapseTo(at_ns: u64) void {
    elapse(at_ns - fake_monotonic_ns);
}

/// A clock at 2024-02-29 13:45:30 whose first update is 1 s after `test_start_ns`, with IRQ 8
/// on `recorder`.
fn testCmos(recorder: *IrqRecorder) Cmos {
    resetClocks();
    return Cmos.init(recorder.line(8), 256 << 20, 0, adjustableClock, fakeMonotonic);
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
    var cmos = Cmos.init(.{ .gsi = 8 }, 256 << 20, 0, fixedClock, fakeMonotonic);
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
    var cmos = Cmos.init(.{ .gsi = 8 }, 256 << 20, 0, fixedClock, fakeMonotonic);
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
    resetClocks();
    var cmos = Cmos.init(.{ .gsi = 8 }, 256 << 20, 0, adjustableClock, fakeMonotonic);
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

    // Released from divider reset, the clock's first update comes 500 ms later.
    elapse(62 * ns_per_s);
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
    elapse(ns_per_s);
    try testing.expectEqual(@as(u8, 0x19), readRegister(&cmos, 0x32));
    try testing.expectEqual(@as(u8, 0x08), readRegister(&cmos, 0x00));
}

test "registers C and D, and the index port" {
    var cmos = Cmos.init(.{ .gsi = 8 }, 256 << 20, 0, fixedClock, fakeMonotonic);
    cmos.register_c = 0x40;
    try testing.expectEqual(@as(u8, 0x40), readRegister(&cmos, 0x0C));
    try testing.expectEqual(@as(u8, 0x00), readRegister(&cmos, 0x0C));
    writeRegister(&cmos, 0x0C, 0xFF);
    writeRegister(&cmos, 0x0D, 0x00);
    try testing.expectEqual(@as(u8, 0x00), readRegister(&cmos, 0x0C));
    try testing.expectEqual(@as(u8, 0x80), readRegister(&cmos, 0x0D));
    writeRegister(&cmos, 0x0A, 0xFF);
    // The divider chain is held in reset: no updates, so UIP stays 0.
    try testing.expectEqual(@as(u8, 0x7F), readRegister(&cmos, 0x0A));

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
    var small = Cmos.init(.{ .gsi = 8 }, 256 * mib, 0, fixedClock, fakeMonotonic);
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

    var tiny = Cmos.init(.{ .gsi = 8 }, 8 * mib, 0, fixedClock, fakeMonotonic);
    try testing.expectEqual(@as(u8, 0x00), readRegister(&tiny, 0x17)); // 7168 KiB = 0x1C00
    try testing.expectEqual(@as(u8, 0x1C), readRegister(&tiny, 0x18));
    try testing.expectEqual(@as(u8, 0), readRegister(&tiny, 0x34));
    try testing.expectEqual(@as(u8, 0), readRegister(&tiny, 0x35));
    // Checksum over 0x10-0x2D: 0x80 + 0x02 + 0x00 + 0x1C.
    try testing.expectEqual(@as(u8, 0x00), readRegister(&tiny, 0x2E));
    try testing.expectEqual(@as(u8, 0x9E), readRegister(&tiny, 0x2F));

    // 3 GiB below the hole and 5 GiB above 4 GiB.
    var large = Cmos.init(.{ .gsi = 8 }, 3072 * mib, 5120 * mib, fixedClock, fakeMonotonic);
    // 3056 MiB above 16 MiB = 48896 = 0xBF00 chunks.
    try testing.expectEqual(@as(u8, 0x00), readRegister(&large, 0x34));
    try testing.expectEqual(@as(u8, 0xBF), readRegister(&large, 0x35));
    // 5 GiB / 64 KiB = 81920 = 0x014000.
    try testing.expectEqual(@as(u8, 0x00), readRegister(&large, 0x5B));
    try testing.expectEqual(@as(u8, 0x40), readRegister(&large, 0x5C));
    try testing.expectEqual(@as(u8, 0x01), readRegister(&large, 0x5D));

    // Absurd sizes saturate every field.
    var huge = Cmos.init(.{ .gsi = 8 }, std.math.maxInt(u64), std.math.maxInt(u64), fixedClock, fakeMonotonic);
    for ([_]u8{ 0x17, 0x18, 0x30, 0x31, 0x34, 0x35, 0x5B, 0x5C, 0x5D }) |index| {
        try testing.expectEqual(@as(u8, 0xFF), readRegister(&huge, index));
    }
}

test "wrong widths and offsets are ignored, read as ones and counted" {
    var cmos = Cmos.init(.{ .gsi = 8 }, 256 << 20, 0, fixedClock, fakeMonotonic);
    var wide = [2]u8{ 0, 0 };
    cmos.read(0, &wide);
    try testing.expectEqualSlices(u8, &[2]u8{ 0xFF, 0xFF }, &wide);
    cmos.write(0, &[2]u8{ 0x0E, 0x55 });
    cmos.write(2, &[1]u8{0x0E});
    try testing.expectEqual(@as(u7, 0), cmos.index);
    try testing.expectEqual(@as(u32, 3), cmos.bad_accesses);
}

test "periodic interrupt: each rate's period, rates 1 and 2 as 256 Hz and 128 Hz, rate 0 off" {
    const rate_hz = [16]u64{ 0, 256, 128, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2 };
    for (rate_hz, 0..) |hz, rate| {
        var recorder = IrqRecorder{};
        var cmos = testCmos(&recorder);
        writeRegister(&cmos, 0x0A, 0x20 | @as(u8, @intCast(rate)));
        writeRegister(&cmos, 0x0B, 0x42); // PIE, 24-hour
        if (hz == 0) {
            try testing.expectEqual(null, cmos.nextEventNs());
            elapse(ns_per_s);
            cmos.poll();
            try testing.expectEqual(@as(u32, 0), recorder.rises);
            try testing.expectEqual(@as(u8, 0x10), readRegister(&cmos, 0x0C)); // UF only
            continue;
        }
        const period_ns = std.math.divCeil(u64, ns_per_s, hz) catch unreachable;
        try testing.expectEqual(test_start_ns + period_ns, cmos.nextEventNs().?);
        // Each tick of one second, met exactly: nothing a nanosecond early, one interrupt on time.
        var ticks: u64 = 0;
        while (fake_monotonic_ns < test_start_ns + ns_per_s) : (ticks += 1) {
            const next_ns = cmos.nextEventNs().?;
            elapseTo(next_ns - 1);
            cmos.poll();
            try testing.expect(!recorder.level);
            elapseTo(next_ns);
            cmos.poll();
            try testing.expect(recorder.level);
            try testing.expectEqual(@as(u8, 0xC0), readRegister(&cmos, 0x0C) & 0xC0);
            try testing.expect(!recorder.level);
        }
        try testing.expectEqual(hz, ticks);
        try testing.expectEqual(hz, recorder.rises);
        // The last tick fell on the update.
        try testing.expectEqual(test_start_ns + ns_per_s, fake_monotonic_ns);
    }
}

test "periodic flag: latched without PIE and no interrupt; with PIE the line rises until C is read" {
    var recorder = IrqRecorder{};
    var cmos = testCmos(&recorder); // 1024 Hz, nothing enabled
    try testing.expectEqual(null, cmos.nextEventNs());
    elapse(2 * std.time.ns_per_ms);
    cmos.poll();
    try testing.expect(!recorder.level);
    try testing.expectEqual(@as(u8, 0x40), readRegister(&cmos, 0x0C));
    try testing.expectEqual(@as(u8, 0x00), readRegister(&cmos, 0x0C));

    // IRQF = PF·PIE + AF·AIE + UF·UIE: enabling PIE over a latched PF raises the line at once,
    // disabling it lowers the line, and PF stays until register C is read.
    elapse(std.time.ns_per_ms);
    writeRegister(&cmos, 0x0B, 0x42);
    try testing.expect(recorder.level);
    writeRegister(&cmos, 0x0B, 0x02);
    try testing.expect(!recorder.level);
    writeRegister(&cmos, 0x0B, 0x42);
    try testing.expectEqual(@as(u32, 2), recorder.rises);
    try testing.expectEqual(@as(u8, 0xC0), readRegister(&cmos, 0x0C));
    try testing.expect(!recorder.level);

    // 3 ms into the second, the next 1024 Hz tick is the fourth: 4 × 976562.5 ns.
    const next_ns = cmos.nextEventNs().?;
    try testing.expectEqual(test_start_ns + 3_906_250, next_ns);
    elapseTo(next_ns);
    cmos.poll();
    try testing.expect(recorder.level);
    try testing.expectEqual(@as(u8, 0xC0), readRegister(&cmos, 0x0C));
    try testing.expect(!recorder.level);
    try testing.expectEqual(@as(u32, 3), recorder.rises);
}

test "periodic ticks missed while nobody polls coalesce into one PF and one interrupt" {
    var recorder = IrqRecorder{};
    var cmos = testCmos(&recorder);
    writeRegister(&cmos, 0x0A, 0x23); // 8192 Hz
    writeRegister(&cmos, 0x0B, 0x42);
    elapse(10 * ns_per_s + 12_345);
    cmos.poll();
    cmos.poll();
    try testing.expectEqual(@as(u32, 1), recorder.rises);
    // Ten updates latched UF once too, without an interrupt (UIE is 0).
    try testing.expectEqual(@as(u8, 0xD0), readRegister(&cmos, 0x0C));
    try testing.expectEqual(@as(u8, 0x00), readRegister(&cmos, 0x0C));
    try testing.expect(!recorder.level);
    const next_ns = cmos.nextEventNs().?;
    try testing.expect(next_ns > fake_monotonic_ns and next_ns - fake_monotonic_ns <= 122_071);
}

test "alarm: an exact match in BCD, binary and 12-hour formats" {
    const Case = struct { control: u8, hours: u8, minutes: u8, seconds: u8 };
    // 13:45:35, five seconds after the clock starts.
    const cases = [_]Case{
        .{ .control = 0x22, .hours = 0x13, .minutes = 0x45, .seconds = 0x35 }, // BCD, 24-hour
        .{ .control = 0x26, .hours = 13, .minutes = 45, .seconds = 35 }, // binary, 24-hour
        .{ .control = 0x20, .hours = 0x81, .minutes = 0x45, .seconds = 0x35 }, // BCD, 1 PM
        .{ .control = 0x24, .hours = 0x81, .minutes = 45, .seconds = 35 }, // binary, 1 PM
    };
    for (cases) |case| {
        var recorder = IrqRecorder{};
        var cmos = testCmos(&recorder);
        writeRegister(&cmos, 0x0A, 0x20); // no periodic rate, so PF stays out of the way
        writeRegister(&cmos, 0x05, case.hours);
        writeRegister(&cmos, 0x03, case.minutes);
        writeRegister(&cmos, 0x01, case.seconds);
        writeRegister(&cmos, 0x0B, case.control);
        const alarm_ns = test_start_ns + 5 * ns_per_s;
        try testing.expectEqual(alarm_ns, cmos.nextEventNs().?);
        elapseTo(alarm_ns - 1);
        cmos.poll();
        try testing.expect(!recorder.level);
        try testing.expectEqual(@as(u8, 0x10), readRegister(&cmos, 0x0C)); // UF, no interrupt
        elapse(1);
        cmos.poll();
        try testing.expect(recorder.level);
        try testing.expectEqual(@as(u8, 0xB0), readRegister(&cmos, 0x0C)); // IRQF, AF, UF
        try testing.expect(!recorder.level);
        // The same time tomorrow.
        try testing.expectEqual(alarm_ns + 86_400 * ns_per_s, cmos.nextEventNs().?);
    }

    // 1 AM is not 1 PM: the next 01:45:35 is twelve hours and five seconds away.
    var recorder = IrqRecorder{};
    var cmos = testCmos(&recorder);
    writeRegister(&cmos, 0x05, 0x01);
    writeRegister(&cmos, 0x03, 0x45);
    writeRegister(&cmos, 0x01, 0x35);
    writeRegister(&cmos, 0x0B, 0x20);
    try testing.expectEqual(test_start_ns + (12 * 3600 + 5) * ns_per_s, cmos.nextEventNs().?);
}

test "alarm: bytes 0xC0-0xFF match every value" {
    const Case = struct { control: u8, hours: u8, minutes: u8, seconds: u8, after_seconds: u64 };
    // From 13:45:30.
    const cases = [_]Case{
        .{ .control = 0x22, .hours = 0xC0, .minutes = 0xC0, .seconds = 0xC0, .after_seconds = 1 },
        .{ .control = 0x22, .hours = 0xFF, .minutes = 0xD5, .seconds = 0x00, .after_seconds = 30 }, // 13:46:00
        .{ .control = 0x22, .hours = 0xC0, .minutes = 0x50, .seconds = 0xC3, .after_seconds = 270 }, // 13:50:00
        .{ .control = 0x26, .hours = 0xE7, .minutes = 46, .seconds = 0, .after_seconds = 30 }, // binary
        .{ .control = 0x20, .hours = 0x82, .minutes = 0xC0, .seconds = 0xC0, .after_seconds = 870 }, // 2 PM
        .{ .control = 0x26, .hours = 14, .minutes = 0xFF, .seconds = 59, .after_seconds = 929 }, // 14:00:59
    };
    for (cases) |case| {
        var recorder = IrqRecorder{};
        var cmos = testCmos(&recorder);
        writeRegister(&cmos, 0x0A, 0x20);
        writeRegister(&cmos, 0x05, case.hours);
        writeRegister(&cmos, 0x03, case.minutes);
        writeRegister(&cmos, 0x01, case.seconds);
        writeRegister(&cmos, 0x0B, case.control);
        const alarm_ns = test_start_ns + case.after_seconds * ns_per_s;
        try testing.expectEqual(alarm_ns, cmos.nextEventNs().?);
        elapseTo(alarm_ns - 1);
        cmos.poll();
        try testing.expect(!recorder.level);
        elapse(1);
        cmos.poll();
        try testing.expect(recorder.level);
        try testing.expectEqual(@as(u8, 0xA0), readRegister(&cmos, 0x0C) & 0xA0);
    }

    // A byte no time encodes to (second 60 in BCD) never matches.
    var recorder = IrqRecorder{};
    var cmos = testCmos(&recorder);
    writeRegister(&cmos, 0x0A, 0x20);
    writeRegister(&cmos, 0x05, 0xC0);
    writeRegister(&cmos, 0x03, 0xC0);
    writeRegister(&cmos, 0x01, 0x60);
    writeRegister(&cmos, 0x0B, 0x22);
    try testing.expectEqual(null, cmos.nextEventNs());
    elapse(2 * 86_400 * ns_per_s);
    cmos.poll();
    try testing.expect(!recorder.level);
    try testing.expectEqual(@as(u8, 0x10), readRegister(&cmos, 0x0C));
}

test "alarm search agrees with a second-by-second scan" {
    var cmos = Cmos.init(.{ .gsi = 8 }, 256 << 20, 0, fixedClock, fakeMonotonic);
    var prng = std.Random.DefaultPrng.init(0xA1A7);
    const random = prng.random();
    const controls = [_]u8{ 0x00, 0x02, 0x04, 0x06 };
    const alarm_fields = [_]struct { alarm: u7, field: u7, limit: u8 }{
        .{ .alarm = 0x01, .field = 0x00, .limit = 60 },
        .{ .alarm = 0x03, .field = 0x02, .limit = 60 },
        .{ .alarm = 0x05, .field = 0x04, .limit = 24 },
    };
    var case: u32 = 0;
    while (case < 100) : (case += 1) {
        cmos.register_b = controls[random.uintLessThan(usize, controls.len)];
        for (alarm_fields) |alarm_field| {
            cmos.ram[alarm_field.alarm] = switch (random.uintLessThan(u8, 3)) {
                0 => 0xC0 | random.int(u8),
                1 => cmos.encodeValue(alarm_field.field, random.uintLessThan(u8, alarm_field.limit)),
                else => random.int(u8),
            };
        }
        const after = fixed_now + random.intRangeAtMost(i64, -400 * 86_400, 400 * 86_400);
        var expected: ?i64 = null;
        var candidate = after + 1;
        while (candidate <= after + 86_400) : (candidate += 1) {
            const second_of_day: u32 = @intCast(@mod(candidate, 86_400));
            if (cmos.alarmMatches(0x05, 0x04, @intCast(second_of_day / 3600)) and
                cmos.alarmMatches(0x03, 0x02, @intCast(second_of_day / 60 % 60)) and
                cmos.alarmMatches(0x01, 0x00, @intCast(second_of_day % 60)))
            {
                expected = candidate;
                break;
            }
        }
        try testing.expectEqual(expected, cmos.nextAlarmSecond(after));
    }

    // The longest searches start just past a match: the next one is a day away.
    const midnight = fixed_now - @mod(fixed_now, 86_400);
    for (controls) |control| {
        cmos.register_b = control;
        var hour: u8 = 0;
        while (hour < 24) : (hour += 1) {
            for ([_]u8{ 0, 59 }) |minute| {
                for ([_]u8{ 0, 59 }) |second| {
                    cmos.ram[0x05] = cmos.encodeValue(0x04, hour);
                    cmos.ram[0x03] = cmos.encodeValue(0x02, minute);
                    cmos.ram[0x01] = cmos.encodeValue(0x00, second);
                    const match = midnight + @as(i64, hour) * 3600 + @as(i64, minute) * 60 + second;
                    try testing.expectEqual(@as(?i64, match + 86_400), cmos.nextAlarmSecond(match));
                    try testing.expectEqual(@as(?i64, match), cmos.nextAlarmSecond(match - 1));
                }
            }
        }
    }
}

test "alarm and update flags are latched across a gap with their interrupts off" {
    var recorder = IrqRecorder{};
    var cmos = testCmos(&recorder);
    writeRegister(&cmos, 0x0A, 0x20);
    writeRegister(&cmos, 0x05, 0x13);
    writeRegister(&cmos, 0x03, 0x45);
    writeRegister(&cmos, 0x01, 0x35);
    try testing.expectEqual(null, cmos.nextEventNs());
    elapse(10 * ns_per_s); // past 13:45:35, and nobody polled
    try testing.expectEqual(@as(u8, 0x30), readRegister(&cmos, 0x0C));
    try testing.expectEqual(@as(u8, 0x00), readRegister(&cmos, 0x0C));
    elapse(10 * ns_per_s);
    try testing.expectEqual(@as(u8, 0x10), readRegister(&cmos, 0x0C));
    try testing.expectEqual(@as(u32, 0), recorder.rises);
}

test "update-ended interrupt: once per second, as the seconds register changes" {
    var recorder = IrqRecorder{};
    var cmos = testCmos(&recorder);
    writeRegister(&cmos, 0x0A, 0x20);
    writeRegister(&cmos, 0x0B, 0x12); // UIE, 24-hour
    try testing.expectEqual(test_start_ns + ns_per_s, cmos.nextEventNs().?);
    var step: u32 = 0;
    while (step < 50) : (step += 1) {
        elapse(100 * std.time.ns_per_ms);
        cmos.poll();
        const expected_seconds: u8 = 0x30 + @as(u8, @intCast((step + 1) / 10));
        try testing.expectEqual(expected_seconds, readRegister(&cmos, 0x00));
        if (recorder.level) try testing.expectEqual(@as(u8, 0x90), readRegister(&cmos, 0x0C));
        try testing.expect(!recorder.level);
    }
    try testing.expectEqual(@as(u32, 5), recorder.rises);
    try testing.expectEqual(test_start_ns + 6 * ns_per_s, cmos.nextEventNs().?);
}

test "SET holds back updates: no UF or AF, no UIP, the time stands still; PF goes on" {
    var recorder = IrqRecorder{};
    var cmos = testCmos(&recorder);
    writeRegister(&cmos, 0x0A, 0x2F); // 2 Hz
    writeRegister(&cmos, 0x05, 0xC0);
    writeRegister(&cmos, 0x03, 0xC0);
    writeRegister(&cmos, 0x01, 0xC0);
    writeRegister(&cmos, 0x0B, 0xB2); // SET, AIE, UIE (which SET clears)
    try testing.expectEqual(@as(u8, 0xA2), readRegister(&cmos, 0x0B));
    try testing.expectEqual(null, cmos.nextEventNs());
    elapseTo(test_start_ns + ns_per_s - 100_000);
    try testing.expectEqual(@as(u8, 0x2F), readRegister(&cmos, 0x0A)); // no UIP
    elapse(3 * ns_per_s);
    cmos.poll();
    try testing.expect(!recorder.level);
    try testing.expectEqual(@as(u8, 0x40), readRegister(&cmos, 0x0C)); // PF only
    try testing.expectEqual(@as(u8, 0x30), readRegister(&cmos, 0x00));

    // Cleared, the clock runs from where it stood, on the chain's phase.
    writeRegister(&cmos, 0x0B, 0x22);
    try testing.expectEqual(test_start_ns + 4 * ns_per_s, cmos.nextEventNs().?);
    elapseTo(test_start_ns + 4 * ns_per_s);
    cmos.poll();
    try testing.expect(recorder.level);
    try testing.expectEqual(@as(u8, 0xF0), readRegister(&cmos, 0x0C));
    try testing.expectEqual(@as(u8, 0x31), readRegister(&cmos, 0x00));
}

test "UIP reads 1 in the last 244 µs before each update, and the time changes only after it" {
    var recorder = IrqRecorder{};
    var cmos = testCmos(&recorder);
    const update_ns = test_start_ns + ns_per_s;
    elapseTo(update_ns - 244_001);
    try testing.expectEqual(@as(u8, 0x26), readRegister(&cmos, 0x0A));
    try testing.expectEqual(@as(u8, 0x30), readRegister(&cmos, 0x00));
    elapseTo(update_ns - 244_000);
    try testing.expectEqual(@as(u8, 0xA6), readRegister(&cmos, 0x0A));
    try testing.expectEqual(@as(u8, 0x30), readRegister(&cmos, 0x00));
    elapseTo(update_ns - 1);
    try testing.expectEqual(@as(u8, 0xA6), readRegister(&cmos, 0x0A));
    try testing.expectEqual(@as(u8, 0x30), readRegister(&cmos, 0x00));
    elapseTo(update_ns);
    try testing.expectEqual(@as(u8, 0x26), readRegister(&cmos, 0x0A));
    try testing.expectEqual(@as(u8, 0x31), readRegister(&cmos, 0x00));

    // A guest polling every 50 µs sees UIP rise once a second, and after every fall a new time.
    var rises: u32 = 0;
    var updating = false;
    var seconds = readRegister(&cmos, 0x00);
    while (fake_monotonic_ns < update_ns + 3 * ns_per_s) {
        elapse(50 * std.time.ns_per_us);
        const uip = readRegister(&cmos, 0x0A) & 0x80 != 0;
        const now_seconds = readRegister(&cmos, 0x00);
        if (uip and !updating) rises += 1;
        if (now_seconds != seconds) try testing.expect(updating and !uip);
        updating = uip;
        seconds = now_seconds;
    }
    try testing.expectEqual(@as(u32, 3), rises);
    try testing.expectEqual(@as(u8, 0x34), seconds);
}

test "the divider held in reset stops the clock; the first update comes 500 ms after release" {
    var recorder = IrqRecorder{};
    var cmos = testCmos(&recorder);
    writeRegister(&cmos, 0x0B, 0x52); // PIE, UIE
    writeRegister(&cmos, 0x0A, 0x76); // held, 1024 Hz
    try testing.expectEqual(null, cmos.nextEventNs());
    elapse(5 * ns_per_s + 300 * std.time.ns_per_ms);
    cmos.poll();
    try testing.expect(!recorder.level);
    try testing.expectEqual(@as(u8, 0x00), readRegister(&cmos, 0x0C));
    try testing.expectEqual(@as(u8, 0x30), readRegister(&cmos, 0x00));
    try testing.expectEqual(@as(u8, 0x76), readRegister(&cmos, 0x0A));

    const release_ns = fake_monotonic_ns;
    writeRegister(&cmos, 0x0A, 0x26);
    // Half a second into the chain's second: the 513th 1024 Hz tick is 976563 ns away.
    try testing.expectEqual(release_ns + 976_563, cmos.nextEventNs().?);
    writeRegister(&cmos, 0x0B, 0x12); // UIE only
    try testing.expectEqual(release_ns + ns_per_s / 2, cmos.nextEventNs().?);
    elapseTo(release_ns + ns_per_s / 2 - 1);
    try testing.expectEqual(@as(u8, 0x30), readRegister(&cmos, 0x00));
    elapse(1);
    cmos.poll();
    try testing.expect(recorder.level);
    try testing.expectEqual(@as(u8, 0x31), readRegister(&cmos, 0x00));
    // The stop moved the guest's offset: the clock does not jump to the host's time.
    elapse(3 * ns_per_s);
    try testing.expectEqual(@as(u8, 0x34), readRegister(&cmos, 0x00));
}

test "the clock follows the host wall clock when it steps, not when it only rounds" {
    var recorder = IrqRecorder{};
    var cmos = testCmos(&recorder);
    adjustable_now += 3600; // the host clock was set an hour ahead
    try testing.expectEqual(@as(u8, 0x13), readRegister(&cmos, 0x04)); // not before an update
    elapse(ns_per_s);
    try testing.expectEqual(@as(u8, 0x14), readRegister(&cmos, 0x04));
    try testing.expectEqual(@as(u8, 0x45), readRegister(&cmos, 0x02));
    try testing.expectEqual(@as(u8, 0x31), readRegister(&cmos, 0x00));
    adjustable_now -= 1; // a second's disagreement is rounding
    elapse(ns_per_s);
    try testing.expectEqual(@as(u8, 0x32), readRegister(&cmos, 0x00));

    // A time the guest set keeps its offset from the host when the host clock steps.
    writeRegister(&cmos, 0x02, 0x00); // 14:00:32
    adjustable_now -= 600;
    elapse(ns_per_s);
    try testing.expectEqual(@as(u8, 0x13), readRegister(&cmos, 0x04));
    try testing.expectEqual(@as(u8, 0x50), readRegister(&cmos, 0x02));
    try testing.expectEqual(@as(u8, 0x33), readRegister(&cmos, 0x00));
}

test "nextEventNs: the earliest enabled source, null when none can fire" {
    var recorder = IrqRecorder{};
    var cmos = testCmos(&recorder);
    try testing.expectEqual(null, cmos.nextEventNs());
    writeRegister(&cmos, 0x0B, 0x12); // UIE
    try testing.expectEqual(test_start_ns + ns_per_s, cmos.nextEventNs().?);
    writeRegister(&cmos, 0x0A, 0x2F); // 2 Hz
    writeRegister(&cmos, 0x0B, 0x52); // PIE, UIE
    try testing.expectEqual(test_start_ns + ns_per_s / 2, cmos.nextEventNs().?);
    writeRegister(&cmos, 0x0B, 0x42); // PIE
    try testing.expectEqual(test_start_ns + ns_per_s / 2, cmos.nextEventNs().?);
    writeRegister(&cmos, 0x0A, 0x20); // no rate
    try testing.expectEqual(null, cmos.nextEventNs());
    writeRegister(&cmos, 0x0A, 0x0F); // 2 Hz on a time base the PC does not have
    try testing.expectEqual(null, cmos.nextEventNs());
    writeRegister(&cmos, 0x0A, 0x2F);
    writeRegister(&cmos, 0x05, 0x13);
    writeRegister(&cmos, 0x03, 0x45);
    writeRegister(&cmos, 0x01, 0x33);
    writeRegister(&cmos, 0x0B, 0x22); // AIE
    try testing.expectEqual(test_start_ns + 3 * ns_per_s, cmos.nextEventNs().?);
    writeRegister(&cmos, 0x0B, 0xA2); // SET holds the alarm back
    try testing.expectEqual(null, cmos.nextEventNs());
    writeRegister(&cmos, 0x0B, 0x62); // PIE, AIE
    try testing.expectEqual(test_start_ns + ns_per_s / 2, cmos.nextEventNs().?);
    writeRegister(&cmos, 0x0A, 0x7F); // divider held in reset
    try testing.expectEqual(null, cmos.nextEventNs());
    // Polled late, the answer is the first event after the last poll, already past.
    writeRegister(&cmos, 0x0A, 0x2F);
    writeRegister(&cmos, 0x0B, 0x12);
    const next_ns = cmos.nextEventNs().?;
    elapse(5 * ns_per_s);
    try testing.expectEqual(next_ns, cmos.nextEventNs().?);
    cmos.poll();
    try testing.expect(cmos.nextEventNs().? > fake_monotonic_ns);
}

test "boot order, CPU count, and the checksum they leave valid" {
    var cmos = Cmos.init(.{ .gsi = 8 }, 256 << 20, 0, fixedClock, fakeMonotonic);
    // The codes SeaBIOS decodes: 1 floppy, 2 hard disk, 3 CD-ROM, 4 network (BEV).
    try testing.expectEqual(1, @intFromEnum(Cmos.BootDevice.floppy));
    try testing.expectEqual(2, @intFromEnum(Cmos.BootDevice.hard_disk));
    try testing.expectEqual(3, @intFromEnum(Cmos.BootDevice.cdrom));
    try testing.expectEqual(4, @intFromEnum(Cmos.BootDevice.network));

    cmos.setBootOrder(&.{ .cdrom, .hard_disk, .floppy });
    try testing.expectEqual(@as(u8, 0x23), readRegister(&cmos, 0x3D));
    try testing.expectEqual(@as(u8, 0x10), readRegister(&cmos, 0x38));
    cmos.setBootOrder(&.{.network});
    try testing.expectEqual(@as(u8, 0x04), readRegister(&cmos, 0x3D));
    try testing.expectEqual(@as(u8, 0x00), readRegister(&cmos, 0x38));
    // Bit 0 of 0x38 (skip the floppy signature check) keeps its value.
    writeRegister(&cmos, 0x38, 0x01);
    cmos.setBootOrder(&.{ .hard_disk, .network, .cdrom });
    try testing.expectEqual(@as(u8, 0x42), readRegister(&cmos, 0x3D));
    try testing.expectEqual(@as(u8, 0x31), readRegister(&cmos, 0x38));
    cmos.setBootOrder(&.{});
    try testing.expectEqual(@as(u8, 0x00), readRegister(&cmos, 0x3D));
    try testing.expectEqual(@as(u8, 0x01), readRegister(&cmos, 0x38));

    for ([_]u32{ 1, 4, 64, 256 }) |count| {
        cmos.setCpuCount(count);
        try testing.expectEqual(@as(u8, @intCast(count - 1)), readRegister(&cmos, 0x5F));
    }

    var sum: u16 = 0;
    var index: u8 = 0x10;
    while (index <= 0x2D) : (index += 1) sum += readRegister(&cmos, index);
    try testing.expectEqual(@as(u8, @truncate(sum >> 8)), readRegister(&cmos, 0x2E));
    try testing.expectEqual(@as(u8, @truncate(sum)), readRegister(&cmos, 0x2F));
    try testing.expectEqual(@as(u16, 0x80 + 0x02 + 0xFF + 0xFF), sum); // 640 KiB, 0xFFFF KiB
    // The century byte stays where the FADT says it is.
    try testing.expectEqual(@as(u8, 0x20), readRegister(&cmos, 0x32));
}

test "hostile guest: random accesses and polls never panic, keep the clock in range, and the line follows IRQF" {
    const clocks = [_]*const fn () i64{ fixedClock, adjustableClock, hostileClock };
    for (clocks) |clock| {
        resetClocks();
        var recorder = IrqRecorder{};
        var cmos = Cmos.init(recorder.line(8), 1 << 30, 1 << 30, clock, fakeMonotonic);
        var prng = std.Random.DefaultPrng.init(0x146818);
        const random = prng.random();
        const widths = [_]usize{ 1, 2, 4 };
        var i: u32 = 0;
        while (i < 100_000) : (i += 1) {
            switch (random.uintLessThan(u8, 16)) {
                // Time passes: mostly a little, now and then a lot, even past the end of u64
                // (the clock then appears to run backwards, which a fake can do).
                0, 1 => fake_monotonic_ns +%= random.uintLessThan(u64, 3 * ns_per_s / 2),
                2 => fake_monotonic_ns +%= random.int(u64) >> random.int(u6),
                3 => cmos.poll(),
                4 => if (cmos.nextEventNs()) |next_ns| try testing.expect(next_ns > cmos.caught_up_ns),
                // The clock, alarm and control registers, where the interrupts come from.
                5, 6, 7, 8 => {
                    cmos.write(0, &[1]u8{random.uintAtMost(u8, 0x0D)});
                    var data = [1]u8{random.int(u8)};
                    if (random.boolean()) cmos.read(1, &data) else cmos.write(1, &data);
                },
                else => {
                    const offset = random.uintLessThan(u16, Cmos.port_count + 8);
                    const width = widths[random.uintLessThan(usize, widths.len)];
                    var data: [4]u8 = undefined;
                    random.bytes(&data);
                    if (random.boolean()) cmos.read(offset, data[0..width]) else cmos.write(offset, data[0..width]);
                },
            }
            adjustable_now = fixed_now + @as(i64, @intCast(fake_monotonic_ns / ns_per_s));
            try testing.expectEqual(cmos.interruptRequested(), recorder.level);
            try testing.expectEqual(cmos.irq.level, recorder.level);
            const time = cmos.currentTime();
            try testing.expect(time.toSeconds() >= Time.min_seconds);
            try testing.expect(time.toSeconds() <= Time.max_seconds);
        }
        try testing.expect(cmos.bad_accesses > 0);
        try testing.expect(recorder.rises > 0);
    }
}
