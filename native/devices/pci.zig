//! PCI bus 0 behind configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2): the address
//! register at 0xCF8 and the data window at 0xCFC-0xCFF. Each function is a 256-byte
//! configuration space with a per-byte write mask, so BAR sizing (write all ones, read back the
//! size mask) and read-only identity fields need no code of their own. Functions declare their
//! BARs; the VM asks the bus which function decodes a port or an address. INTx lines are routed
//! through the ISA bridge's PIRQ registers, as on a PIIX3.
const std = @import("std");
const assert = std.debug.assert;
const device = @import("device.zig");

/// Standard configuration header offsets (type 0).
pub const Config = struct {
    pub const vendor_id: u8 = 0x00;
    pub const device_id: u8 = 0x02;
    pub const command: u8 = 0x04;
    pub const status: u8 = 0x06;
    pub const revision: u8 = 0x08;
    pub const class_code: u8 = 0x09;
    pub const header_type: u8 = 0x0E;
    pub const bar0: u8 = 0x10;
    pub const subsystem_vendor_id: u8 = 0x2C;
    pub const subsystem_id: u8 = 0x2E;
    pub const rom_address: u8 = 0x30;
    pub const interrupt_line: u8 = 0x3C;
    pub const interrupt_pin: u8 = 0x3D;
};

pub const command_io: u16 = 1 << 0;
pub const command_memory: u16 = 1 << 1;
pub const command_bus_master: u16 = 1 << 2;
pub const command_intx_disable: u16 = 1 << 10;
const status_interrupt: u16 = 1 << 3;
const header_multi_function: u8 = 0x80;
const rom_enable: u32 = 1;

pub const bar_count = 6;

pub const BarKind = enum { none, io, memory32, memory32_prefetchable };

pub const Bar = struct {
    kind: BarKind = .none,
    /// A power of two: at least 4 for I/O, at least 16 for memory.
    size: u32 = 0,
};

/// What the VM gets back when a function decodes an access.
pub const Hit = struct {
    function: *Function,
    /// 0-5, or `rom_bar` for the expansion ROM.
    bar: u3,
    offset: u32,
};

pub const rom_bar: u3 = 6;

/// A device's side of its BARs. Offsets are relative to the BAR's base and inside its size.
pub const Handler = struct {
    context: *anyopaque,
    readFn: *const fn (context: *anyopaque, bar: u3, offset: u32, data: []u8) void,
    writeFn: *const fn (context: *anyopaque, bar: u3, offset: u32, data: []const u8) void,
};

/// Identity of a function: what `lspci -n` shows.
pub const Identity = struct {
    vendor_id: u16,
    device_id: u16,
    revision: u8 = 0,
    /// Base class, subclass, programming interface.
    class_code: u24,
    subsystem_vendor_id: u16 = 0,
    subsystem_id: u16 = 0,
    /// 0 none, 1-4 INTA#-INTD#.
    interrupt_pin: u8 = 0,
};

pub const Function = struct {
    config: [256]u8 = [_]u8{0} ** 256,
    /// Bit set = the guest may change that bit of `config`.
    writable: [256]u8 = [_]u8{0} ** 256,
    bars: [bar_count]Bar = [_]Bar{.{}} ** bar_count,
    /// Expansion ROM contents, served read-only through the ROM BAR; empty = no ROM BAR.
    rom: []const u8 = &.{},
    rom_size: u32 = 0,
    handler: ?Handler = null,
    /// devfn on bus 0, set by `Bus.attach`.
    devfn: u8 = 0,
    /// The level this function drives on its INTx pin (before the command register's disable bit).
    intx_level: bool = false,

    pub fn init(identity: Identity) Function {
        var self = Function{};
        self.put16(Config.vendor_id, identity.vendor_id);
        self.put16(Config.device_id, identity.device_id);
        self.config[Config.revision] = identity.revision;
        self.config[Config.class_code] = @truncate(identity.class_code);
        self.config[Config.class_code + 1] = @truncate(identity.class_code >> 8);
        self.config[Config.class_code + 2] = @truncate(identity.class_code >> 16);
        self.put16(Config.subsystem_vendor_id, identity.subsystem_vendor_id);
        self.put16(Config.subsystem_id, identity.subsystem_id);
        self.config[Config.interrupt_pin] = identity.interrupt_pin;
        // I/O, memory and bus-master enables, and INTx disable.
        self.putMask16(Config.command, command_io | command_memory | command_bus_master | command_intx_disable);
        self.writable[Config.interrupt_line] = 0xFF;
        return self;
    }

    /// Declares BAR `index`. Its address bits become writable; the type bits are fixed.
    pub fn setBar(self: *Function, index: u3, kind: BarKind, size: u32) void {
        assert(index < bar_count);
        assert(std.math.isPowerOfTwo(size));
        const offset = Config.bar0 + @as(u8, index) * 4;
        const type_bits: u32 = switch (kind) {
            .none => unreachable,
            .io => blk: {
                assert(size >= 4 and size <= 256);
                break :blk 0x1;
            },
            .memory32 => 0x0,
            .memory32_prefetchable => 0x8,
        };
        if (kind != .io) assert(size >= 16);
        self.bars[index] = .{ .kind = kind, .size = size };
        self.put32(offset, type_bits);
        self.putMask32(offset, ~(size - 1) & if (kind == .io) @as(u32, 0xFFFF_FFFC) else 0xFFFF_FFF0);
    }

    /// Gives the function an expansion ROM of `contents`, in a BAR of the next power of two.
    pub fn setRom(self: *Function, contents: []const u8) void {
        assert(contents.len > 0 and contents.len <= 16 << 20);
        const size = std.math.ceilPowerOfTwoAssert(u32, @max(@as(u32, @intCast(contents.len)), 2048));
        self.rom = contents;
        self.rom_size = size;
        self.putMask32(Config.rom_address, ~(size - 1) | rom_enable);
    }

    pub fn command(self: *const Function) u16 {
        return self.get16(Config.command);
    }

    /// Where BAR `index` decodes now, or null when it is absent, disabled or unassigned.
    pub fn barAddress(self: *const Function, index: u3) ?u32 {
        assert(index < bar_count);
        const bar = self.bars[index];
        const value = self.get32(Config.bar0 + @as(u8, index) * 4);
        const enabled = switch (bar.kind) {
            .none => return null,
            .io => self.command() & command_io != 0,
            .memory32, .memory32_prefetchable => self.command() & command_memory != 0,
        };
        const address = value & ~(bar.size - 1);
        // Address 0 means "not assigned yet"; an all-ones probe value must not decode either,
        // and I/O space ends at 64 KiB.
        if (!enabled or address == 0 or address == ~(bar.size - 1)) return null;
        if (bar.kind == .io and address > 0xFFFF - (bar.size - 1)) return null;
        return address;
    }

    pub fn romAddress(self: *const Function) ?u32 {
        if (self.rom_size == 0) return null;
        const value = self.get32(Config.rom_address);
        if (value & rom_enable == 0 or self.command() & command_memory == 0) return null;
        const address = value & ~(self.rom_size - 1);
        if (address == 0 or address == ~(self.rom_size - 1)) return null;
        return address;
    }

    pub fn get16(self: *const Function, offset: u8) u16 {
        return std.mem.readInt(u16, self.config[offset..][0..2], .little);
    }

    pub fn get32(self: *const Function, offset: u8) u32 {
        return std.mem.readInt(u32, self.config[offset..][0..4], .little);
    }

    pub fn put16(self: *Function, offset: u8, value: u16) void {
        std.mem.writeInt(u16, self.config[offset..][0..2], value, .little);
    }

    pub fn put32(self: *Function, offset: u8, value: u32) void {
        std.mem.writeInt(u32, self.config[offset..][0..4], value, .little);
    }

    pub fn putMask16(self: *Function, offset: u8, mask: u16) void {
        std.mem.writeInt(u16, self.writable[offset..][0..2], mask, .little);
    }

    pub fn putMask32(self: *Function, offset: u8, mask: u32) void {
        std.mem.writeInt(u32, self.writable[offset..][0..4], mask, .little);
    }

    fn configRead(self: *const Function, offset: u8, data: []u8) void {
        for (data, 0..) |*byte, i| byte.* = self.config[offset +% @as(u8, @intCast(i))];
    }

    /// Returns whether the write touched something that changes what the function decodes.
    fn configWrite(self: *Function, offset: u8, data: []const u8) bool {
        for (data, 0..) |byte, i| {
            const at = offset +% @as(u8, @intCast(i));
            self.config[at] = (self.config[at] & ~self.writable[at]) | (byte & self.writable[at]);
        }
        const end: u16 = @intCast(@as(usize, offset) + data.len);
        const touches = struct {
            fn range(start: u16, stop: u16, first: u16, last_exclusive: u16) bool {
                return start < last_exclusive and first < stop;
            }
        }.range;
        return touches(offset, end, Config.command, Config.command + 2) or
            touches(offset, end, Config.bar0, Config.bar0 + 4 * bar_count) or
            touches(offset, end, Config.rom_address, Config.rom_address + 4);
    }
};

/// Where routed PCI interrupts go: ISA IRQ numbers, level-triggered.
pub const IrqSink = struct {
    context: ?*anyopaque = null,
    setFn: ?*const fn (context: ?*anyopaque, irq: u8, level: bool) void = null,

    fn set(self: IrqSink, irq: u8, level: bool) void {
        if (self.setFn) |f| f(self.context, irq, level);
    }
};

/// Tells the VM that a function's decoding changed (BAR moved, enable toggled).
pub const RemapSink = struct {
    context: ?*anyopaque = null,
    remapFn: ?*const fn (context: ?*anyopaque, function: *Function) void = null,
};

pub const Bus = struct {
    /// Ports relative to 0xCF8: 0-3 the address register, 4-7 the data window.
    pub const port_count: u16 = 8;
    /// The PIIX3 PIRQA#-PIRQD# route control registers in the ISA bridge's configuration space.
    pub const pirq_route_offset: u8 = 0x60;
    const pirq_disabled: u8 = 0x80;

    mutex: std.Thread.Mutex = .{},
    /// CONFIG_ADDRESS: enable (31), bus (23-16), device (15-11), function (10-8), register (7-2).
    address: u32 = 0,
    functions: [256]?*Function = [_]?*Function{null} ** 256,
    /// The function whose PIRQ registers route INTx (the ISA bridge), once attached.
    router: ?*Function = null,
    irq_sink: IrqSink,
    remap_sink: RemapSink,
    /// The ISA IRQ each PIRQ line was last driven on, and its level, so a re-route can drop it.
    pirq_driven: [4]?u8 = [_]?u8{null} ** 4,
    /// Accesses of the wrong width or alignment (saturating).
    bad_accesses: u32 = 0,

    pub fn init(irq_sink: IrqSink, remap_sink: RemapSink) Bus {
        return .{ .irq_sink = irq_sink, .remap_sink = remap_sink };
    }

    pub fn attach(self: *Bus, slot: u5, function_number: u3, function: *Function) void {
        const devfn = @as(u8, slot) << 3 | function_number;
        assert(self.functions[devfn] == null);
        if (function_number != 0) {
            // Function 0 must exist for software to look at the others; mark it multi-function.
            const first = self.functions[devfn & ~@as(u8, 7)].?;
            first.config[Config.header_type] |= header_multi_function;
        }
        function.devfn = devfn;
        self.functions[devfn] = function;
    }

    /// Makes `function`'s PIRQ registers the INTx router, all lines disabled until firmware
    /// programs them.
    pub fn setRouter(self: *Bus, function: *Function) void {
        for (0..4) |i| function.config[pirq_route_offset + i] = pirq_disabled;
        @memset(function.writable[pirq_route_offset..][0..4], 0x8F);
        self.router = function;
    }

    pub fn read(self: *Bus, offset: u16, data: []u8) void {
        var remapped: ?*Function = null;
        defer self.afterAccess(remapped);
        self.mutex.lock();
        defer self.mutex.unlock();
        self.access(offset, .{ .read = data }, &remapped);
    }

    pub fn write(self: *Bus, offset: u16, data: []const u8) void {
        var remapped: ?*Function = null;
        defer self.afterAccess(remapped);
        self.mutex.lock();
        defer self.mutex.unlock();
        self.access(offset, .{ .write = data }, &remapped);
    }

    const Access = union(enum) { read: []u8, write: []const u8 };

    fn access(self: *Bus, offset: u16, request: Access, remapped: *?*Function) void {
        const len = switch (request) {
            inline else => |bytes| bytes.len,
        };
        if (offset == 0 and len == 4) {
            switch (request) {
                .read => |data| std.mem.writeInt(u32, data[0..4], self.address, .little),
                .write => |data| self.address = std.mem.readInt(u32, data[0..4], .little) & 0x80FF_FFFC,
            }
            return;
        }
        // The data window: byte lanes of the dword the address register selects.
        const lane = offset -% 4;
        const aligned = (len == 1 or len == 2 or len == 4) and lane < 4 and lane % len == 0;
        if (!aligned) {
            self.bad_accesses +|= 1;
            if (request == .read) @memset(request.read, 0xFF);
            return;
        }
        const function = self.selected() orelse {
            if (request == .read) @memset(request.read, 0xFF);
            return;
        };
        const register: u8 = @intCast((self.address & 0xFC) + lane);
        switch (request) {
            .read => |data| function.configRead(register, data),
            .write => |data| {
                const old_pin_enable = function.command() & command_intx_disable;
                if (function.configWrite(register, data)) remapped.* = function;
                if (function.command() & command_intx_disable != old_pin_enable) self.routeAll();
                if (function == self.router and register < pirq_route_offset + 4 and
                    register + len > pirq_route_offset) self.routeAll();
            },
        }
    }

    fn afterAccess(self: *Bus, remapped: ?*Function) void {
        const function = remapped orelse return;
        if (self.remap_sink.remapFn) |f| f(self.remap_sink.context, function);
    }

    fn selected(self: *Bus) ?*Function {
        if (self.address & 0x8000_0000 == 0) return null;
        if ((self.address >> 16) & 0xFF != 0) return null; // only bus 0 exists
        return self.functions[@as(u8, @truncate(self.address >> 8))];
    }

    /// The function and BAR that decode I/O port `port`, if any.
    pub fn findIo(self: *Bus, port: u16) ?Hit {
        return self.find(port, .io);
    }

    /// The function and BAR (or ROM) that decode guest-physical `address`, if any.
    pub fn findMemory(self: *Bus, address: u64) ?Hit {
        return self.find(address, .memory);
    }

    fn find(self: *Bus, address: u64, space: enum { io, memory }) ?Hit {
        self.mutex.lock();
        defer self.mutex.unlock();
        for (self.functions) |maybe| {
            const function = maybe orelse continue;
            for (function.bars, 0..) |bar, i| {
                const is_io = bar.kind == .io;
                if (bar.kind == .none or is_io != (space == .io)) continue;
                const base = function.barAddress(@intCast(i)) orelse continue;
                if (address >= base and address - base < bar.size) {
                    return .{ .function = function, .bar = @intCast(i), .offset = @intCast(address - base) };
                }
            }
            if (space == .memory) {
                const base = function.romAddress() orelse continue;
                if (address >= base and address - base < function.rom_size) {
                    return .{ .function = function, .bar = rom_bar, .offset = @intCast(address - base) };
                }
            }
        }
        return null;
    }

    /// Reads from the function that `hit` names: the ROM here, BARs through the device's handler.
    pub fn readBar(hit: Hit, data: []u8) void {
        if (hit.bar == rom_bar) {
            const rom = hit.function.rom;
            for (data, 0..) |*byte, i| {
                const at = @as(u64, hit.offset) + i;
                byte.* = if (at < rom.len) rom[@intCast(at)] else 0;
            }
            return;
        }
        const handler = hit.function.handler orelse return @memset(data, 0xFF);
        handler.readFn(handler.context, hit.bar, hit.offset, data);
    }

    pub fn writeBar(hit: Hit, data: []const u8) void {
        if (hit.bar == rom_bar) return;
        const handler = hit.function.handler orelse return;
        handler.writeFn(handler.context, hit.bar, hit.offset, data);
    }

    /// Drives `function`'s INTx pin. Safe from any thread.
    pub fn setIntx(self: *Bus, function: *Function, level: bool) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        function.intx_level = level;
        const status = function.get16(Config.status);
        function.put16(Config.status, if (level) status | status_interrupt else status & ~status_interrupt);
        self.routeAll();
    }

    /// The PIRQ line (0-3) a slot's pin reaches: PIIX boards rotate by slot so that slot 1 INTA#
    /// is PIRQA#; the DSDT's _PRT and SeaBIOS assume the same wiring.
    pub fn pirqOf(slot: u5, pin: u8) u2 {
        assert(pin >= 1 and pin <= 4);
        return @truncate(@as(u8, slot) +% 3 +% (pin - 1));
    }

    /// Recomputes all four PIRQ lines and drives the ISA IRQs they are routed to.
    fn routeAll(self: *Bus) void {
        var levels = [4]bool{ false, false, false, false };
        for (self.functions) |maybe| {
            const function = maybe orelse continue;
            const pin = function.config[Config.interrupt_pin];
            if (!function.intx_level or pin < 1 or pin > 4) continue;
            if (function.command() & command_intx_disable != 0) continue;
            levels[pirqOf(@intCast(function.devfn >> 3), pin)] = true;
        }
        for (0..4) |pirq| {
            const route: ?u8 = if (self.router) |router| blk: {
                const value = router.config[pirq_route_offset + pirq];
                break :blk if (value & pirq_disabled != 0 or value & 0x0F == 0) null else value & 0x0F;
            } else null;
            if (self.pirq_driven[pirq]) |old| {
                if (route != old or !levels[pirq]) self.irq_sink.set(old, false);
            }
            self.pirq_driven[pirq] = null;
            if (route) |irq| {
                if (levels[pirq]) {
                    self.irq_sink.set(irq, true);
                    self.pirq_driven[pirq] = irq;
                }
            }
        }
    }
};

const testing = std.testing;

fn configAddress(slot: u5, function: u3, register: u8) [4]u8 {
    var bytes: [4]u8 = undefined;
    std.mem.writeInt(u32, &bytes, 0x8000_0000 | @as(u32, slot) << 11 | @as(u32, function) << 8 | register, .little);
    return bytes;
}

fn readConfig32(bus: *Bus, slot: u5, function: u3, register: u8) u32 {
    bus.write(0, &configAddress(slot, function, register));
    var data: [4]u8 = undefined;
    bus.read(4, &data);
    return std.mem.readInt(u32, &data, .little);
}

fn writeConfig32(bus: *Bus, slot: u5, function: u3, register: u8, value: u32) void {
    bus.write(0, &configAddress(slot, function, register));
    var data: [4]u8 = undefined;
    std.mem.writeInt(u32, &data, value, .little);
    bus.write(4, &data);
}

const IrqLog = struct {
    levels: [16]bool = [_]bool{false} ** 16,
    changes: u32 = 0,

    fn set(context: ?*anyopaque, irq: u8, level: bool) void {
        const self: *IrqLog = @ptrCast(@alignCast(context.?));
        self.levels[irq] = level;
        self.changes += 1;
    }

    fn sink(self: *IrqLog) IrqSink {
        return .{ .context = self, .setFn = set };
    }
};

test "identity fields read back and are read-only; absent functions float high" {
    var bus = Bus.init(.{}, .{});
    var host = Function.init(.{ .vendor_id = 0x8086, .device_id = 0x1237, .revision = 2, .class_code = 0x060000 });
    bus.attach(0, 0, &host);
    try testing.expectEqual(@as(u32, 0x1237_8086), readConfig32(&bus, 0, 0, 0));
    writeConfig32(&bus, 0, 0, 0, 0x1234_5678);
    try testing.expectEqual(@as(u32, 0x1237_8086), readConfig32(&bus, 0, 0, 0));
    try testing.expectEqual(@as(u32, 0x0600_0002), readConfig32(&bus, 0, 0, 8));
    try testing.expectEqual(@as(u32, 0xFFFF_FFFF), readConfig32(&bus, 1, 0, 0));
    // Enable bit clear: nothing is selected.
    bus.write(0, &[4]u8{ 0, 0, 0, 0 });
    var data: [4]u8 = undefined;
    bus.read(4, &data);
    try testing.expectEqual(@as(u32, 0xFFFF_FFFF), std.mem.readInt(u32, &data, .little));
    // Only bus 0 exists.
    bus.write(0, &[4]u8{ 0, 0, 1, 0x80 });
    bus.read(4, &data);
    try testing.expectEqual(@as(u32, 0xFFFF_FFFF), std.mem.readInt(u32, &data, .little));
}

test "the address register keeps enable, bus, devfn and dword register only" {
    var bus = Bus.init(.{}, .{});
    bus.write(0, &[4]u8{ 0xFF, 0xFF, 0xFF, 0xFF });
    var data: [4]u8 = undefined;
    bus.read(0, &data);
    try testing.expectEqual(@as(u32, 0x80FF_FFFC), std.mem.readInt(u32, &data, .little));
}

test "byte and word lanes of the data window" {
    var bus = Bus.init(.{}, .{});
    var f = Function.init(.{ .vendor_id = 0x1234, .device_id = 0x1111, .class_code = 0x030000 });
    bus.attach(2, 0, &f);
    bus.write(0, &configAddress(2, 0, 0));
    var word: [2]u8 = undefined;
    bus.read(6, &word);
    try testing.expectEqual(@as(u16, 0x1111), std.mem.readInt(u16, &word, .little));
    var byte: [1]u8 = undefined;
    bus.read(5, &byte);
    try testing.expectEqual(@as(u8, 0x12), byte[0]);
    // Misaligned: refused and counted.
    bus.read(5, &word);
    try testing.expectEqual(@as(u16, 0xFFFF), std.mem.readInt(u16, &word, .little));
    try testing.expectEqual(@as(u32, 1), bus.bad_accesses);
    // Interrupt line is writable through a byte lane.
    bus.write(0, &configAddress(2, 0, 0x3C));
    bus.write(4, &[1]u8{11});
    try testing.expectEqual(@as(u8, 11), f.config[Config.interrupt_line]);
}

test "BAR sizing, assignment and decoding" {
    var bus = Bus.init(.{}, .{});
    var f = Function.init(.{ .vendor_id = 0x1234, .device_id = 0x1111, .class_code = 0x030000 });
    f.setBar(0, .memory32_prefetchable, 16 << 20);
    f.setBar(1, .io, 32);
    bus.attach(3, 0, &f);
    writeConfig32(&bus, 3, 0, 0x10, 0xFFFF_FFFF);
    try testing.expectEqual(@as(u32, 0xFF00_0008), readConfig32(&bus, 3, 0, 0x10));
    writeConfig32(&bus, 3, 0, 0x14, 0xFFFF_FFFF);
    try testing.expectEqual(@as(u32, 0xFFFF_FFE1), readConfig32(&bus, 3, 0, 0x14));
    // Unused BARs read as zero and stay zero.
    writeConfig32(&bus, 3, 0, 0x18, 0xFFFF_FFFF);
    try testing.expectEqual(@as(u32, 0), readConfig32(&bus, 3, 0, 0x18));

    writeConfig32(&bus, 3, 0, 0x10, 0xFD12_3456);
    writeConfig32(&bus, 3, 0, 0x14, 0xC040);
    try testing.expect(bus.findMemory(0xFD00_0000) == null); // memory decoding off
    writeConfig32(&bus, 3, 0, 0x04, command_io | command_memory);
    const hit = bus.findMemory(0xFD00_0010).?;
    try testing.expectEqual(@as(u3, 0), hit.bar);
    try testing.expectEqual(@as(u32, 0x10), hit.offset);
    try testing.expect(bus.findMemory(0xFE00_0000) == null);
    const io = bus.findIo(0xC05F).?;
    try testing.expectEqual(@as(u3, 1), io.bar);
    try testing.expectEqual(@as(u32, 0x1F), io.offset);
    try testing.expect(bus.findIo(0xC060) == null);

    // Probe values and I/O addresses past 64 KiB decode nowhere.
    writeConfig32(&bus, 3, 0, 0x14, 0xFFFF_FFFF);
    try testing.expect(bus.findIo(0xFFE0) == null);
    writeConfig32(&bus, 3, 0, 0x14, 0x1_0000);
    try testing.expect(bus.findIo(0x0000) == null);
    writeConfig32(&bus, 3, 0, 0x10, 0xFFFF_FFFF);
    try testing.expect(bus.findMemory(0xFF00_0000) == null);
}

test "expansion ROM: sized, enabled, read-only contents, zero past the image" {
    var bus = Bus.init(.{}, .{});
    var f = Function.init(.{ .vendor_id = 0x1234, .device_id = 0x1111, .class_code = 0x030000 });
    const rom = [_]u8{ 0x55, 0xAA, 0x10 } ++ [_]u8{0x42} ** 3000;
    f.setRom(&rom);
    bus.attach(2, 0, &f);
    writeConfig32(&bus, 2, 0, 0x30, 0xFFFF_FFFF);
    try testing.expectEqual(@as(u32, 0xFFFF_F001), readConfig32(&bus, 2, 0, 0x30));
    writeConfig32(&bus, 2, 0, 0x04, command_memory);
    try testing.expect(bus.findMemory(0xFFFF_F000) == null); // the sizing probe decodes nowhere
    writeConfig32(&bus, 2, 0, 0x04, 0);
    writeConfig32(&bus, 2, 0, 0x30, 0xFEB0_0000);
    writeConfig32(&bus, 2, 0, 0x04, command_memory);
    try testing.expect(bus.findMemory(0xFEB0_0000) == null); // enable bit clear
    writeConfig32(&bus, 2, 0, 0x30, 0xFEB0_0001);
    const hit = bus.findMemory(0xFEB0_0000).?;
    var data: [4]u8 = undefined;
    Bus.readBar(hit, &data);
    try testing.expectEqualSlices(u8, &[_]u8{ 0x55, 0xAA, 0x10, 0x42 }, &data);
    const end = bus.findMemory(0xFEB0_0FFE).?;
    var tail: [2]u8 = undefined;
    Bus.readBar(end, &tail);
    try testing.expectEqualSlices(u8, &[_]u8{ 0, 0 }, &tail);
    Bus.writeBar(hit, &[_]u8{ 1, 2, 3, 4 });
    Bus.readBar(hit, &data);
    try testing.expectEqual(@as(u8, 0x55), data[0]);
}

test "function 0 becomes multi-function when another function attaches" {
    var bus = Bus.init(.{}, .{});
    var isa = Function.init(.{ .vendor_id = 0x8086, .device_id = 0x7000, .class_code = 0x060100 });
    var pm = Function.init(.{ .vendor_id = 0x8086, .device_id = 0x7113, .class_code = 0x068000 });
    bus.attach(1, 0, &isa);
    try testing.expectEqual(@as(u8, 0), isa.config[Config.header_type]);
    bus.attach(1, 3, &pm);
    try testing.expectEqual(@as(u8, 0x80), isa.config[Config.header_type]);
}

test "remap sink hears about command and BAR writes only" {
    const Counter = struct {
        count: u32 = 0,
        fn remap(context: ?*anyopaque, function: *Function) void {
            _ = function;
            const self: *@This() = @ptrCast(@alignCast(context.?));
            self.count += 1;
        }
    };
    var counter = Counter{};
    var bus = Bus.init(.{}, .{ .context = &counter, .remapFn = Counter.remap });
    var f = Function.init(.{ .vendor_id = 0x1234, .device_id = 0x1111, .class_code = 0x030000 });
    f.setBar(0, .memory32, 4096);
    bus.attach(2, 0, &f);
    writeConfig32(&bus, 2, 0, 0x3C, 0x0B);
    try testing.expectEqual(@as(u32, 0), counter.count);
    writeConfig32(&bus, 2, 0, 0x04, command_memory);
    writeConfig32(&bus, 2, 0, 0x10, 0xFE00_0000);
    try testing.expectEqual(@as(u32, 2), counter.count);
}

test "INTx follows the PIRQ routing, shares lines and honours INTx disable" {
    var log = IrqLog{};
    var bus = Bus.init(log.sink(), .{});
    var isa = Function.init(.{ .vendor_id = 0x8086, .device_id = 0x7000, .class_code = 0x060100 });
    bus.attach(1, 0, &isa);
    bus.setRouter(&isa);
    var a = Function.init(.{ .vendor_id = 1, .device_id = 1, .class_code = 0x020000, .interrupt_pin = 1 });
    var b = Function.init(.{ .vendor_id = 1, .device_id = 2, .class_code = 0x020000, .interrupt_pin = 1 });
    bus.attach(4, 0, &a); // slot 4, INTA -> PIRQD
    bus.attach(8, 0, &b); // slot 8, INTA -> PIRQD as well
    try testing.expectEqual(@as(u2, 0), Bus.pirqOf(1, 1));
    try testing.expectEqual(@as(u2, 2), Bus.pirqOf(3, 1));
    try testing.expectEqual(@as(u2, 3), Bus.pirqOf(3, 2));
    try testing.expectEqual(@as(u2, 3), Bus.pirqOf(4, 1));
    try testing.expectEqual(@as(u2, 0), Bus.pirqOf(5, 1));

    // Not routed yet: nothing happens.
    bus.setIntx(&a, true);
    try testing.expect(!log.levels[11]);
    // Firmware routes PIRQD to IRQ 11: the pending level appears at once.
    writeConfig32(&bus, 1, 0, 0x60, 0x0B0B_0A0A);
    try testing.expect(log.levels[11]);
    try testing.expectEqual(@as(u16, status_interrupt), a.get16(Config.status) & status_interrupt);
    bus.setIntx(&b, true);
    bus.setIntx(&a, false);
    try testing.expect(log.levels[11]); // b still holds the shared line
    bus.setIntx(&b, false);
    try testing.expect(!log.levels[11]);

    // INTx disable masks the pin.
    bus.setIntx(&a, true);
    writeConfig32(&bus, 4, 0, 0x04, command_intx_disable);
    try testing.expect(!log.levels[11]);
    writeConfig32(&bus, 4, 0, 0x04, 0);
    try testing.expect(log.levels[11]);
    // Re-routing moves the level; disabling the route drops it.
    writeConfig32(&bus, 1, 0, 0x60, 0x050B_0A0A);
    try testing.expect(!log.levels[11]);
    try testing.expect(log.levels[5]);
    writeConfig32(&bus, 1, 0, 0x60, 0x850B_0A0A);
    try testing.expect(!log.levels[5]);
}

test "random configuration traffic never escapes the configuration spaces" {
    var log = IrqLog{};
    var bus = Bus.init(log.sink(), .{});
    var functions: [4]Function = undefined;
    functions[0] = Function.init(.{ .vendor_id = 0x8086, .device_id = 0x1237, .class_code = 0x060000 });
    functions[1] = Function.init(.{ .vendor_id = 0x8086, .device_id = 0x7000, .class_code = 0x060100 });
    functions[2] = Function.init(.{ .vendor_id = 0x8086, .device_id = 0x7113, .class_code = 0x068000, .interrupt_pin = 1 });
    functions[3] = Function.init(.{ .vendor_id = 0x1234, .device_id = 0x1111, .class_code = 0x030000, .interrupt_pin = 2 });
    functions[3].setBar(0, .memory32_prefetchable, 16 << 20);
    functions[3].setBar(2, .io, 16);
    const rom = [_]u8{0x55} ** 100;
    functions[3].setRom(&rom);
    bus.attach(0, 0, &functions[0]);
    bus.attach(1, 0, &functions[1]);
    bus.attach(1, 3, &functions[2]);
    bus.attach(2, 0, &functions[3]);
    bus.setRouter(&functions[1]);

    var prng = std.Random.DefaultPrng.init(0x9C1);
    const random = prng.random();
    var buffer: [8]u8 = undefined;
    for (0..100_000) |_| {
        const len = random.uintAtMost(usize, 8);
        const data = buffer[0..len];
        random.bytes(data);
        const offset = random.uintLessThan(u16, Bus.port_count + 2);
        switch (random.uintLessThan(u8, 5)) {
            0 => bus.read(offset, data),
            1 => bus.write(offset, data),
            2 => bus.setIntx(&functions[random.uintLessThan(usize, 4)], random.boolean()),
            3 => if (bus.findMemory(random.int(u32))) |hit| Bus.readBar(hit, data),
            else => _ = bus.findIo(random.int(u16)),
        }
    }
    // Identity survived everything.
    for (functions) |function| {
        try testing.expect(function.get16(Config.vendor_id) == 0x8086 or function.get16(Config.vendor_id) == 0x1234);
    }
}
