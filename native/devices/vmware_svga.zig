//! The VMware SVGA II adapter (PCI 15AD:0405) as VMware's svga_reg.h describes it, far enough for
//! Linux's vmwgfx (legacy display unit, no 3D, no GMRs, no screen objects) and Xorg's vmware
//! driver. BAR0 holds four I/O ports: an index register at +0, the value of the register it names
//! at +1, a BIOS port at +2 and the interrupt status at +8 (svga_reg.h: SVGA_*_PORT, not scaled for
//! SVGA_ID_1 and later). BAR1 is the guest framebuffer (video memory) and BAR2 the command FIFO;
//! both are guest RAM the VM maps at the BARs, handed here as slices the guest writes directly.
//!
//! The FIFO is a ring of 32-bit words in BAR2: its first words are registers (MIN, MAX, NEXT_CMD,
//! STOP, then the extended ones up to SVGA_FIFO_BUSY), the bytes [MIN, MAX) the ring. The guest
//! appends commands at NEXT_CMD; the device consumes them from STOP. Everything in it is guest
//! input, read once per use into locals: a pointer that is unaligned or out of range makes the
//! device ignore the FIFO, an unknown command stops it until the guest configures it again, a
//! command not yet wholly written waits for the rest, and each pass is bounded by what lies
//! between STOP and NEXT_CMD and by a budget of framebuffer bytes written.
const std = @import("std");
const assert = std.debug.assert;
const display = @import("display.zig");
const pci = @import("pci.zig");

/// What `lspci -n` shows: 15AD:0405, a VGA-compatible display controller, INTA#.
pub const identity = pci.Identity{
    .vendor_id = 0x15AD,
    .device_id = 0x0405,
    .class_code = 0x030000,
    .subsystem_vendor_id = 0x15AD,
    .subsystem_id = 0x0405,
    .interrupt_pin = 1,
};

/// BAR0: the I/O ports. BAR1: video memory. BAR2: FIFO memory.
pub const io_bar: u3 = 0;
pub const vram_bar: u3 = 1;
pub const fifo_bar: u3 = 2;
pub const io_bytes: u32 = 16;

/// Port offsets inside BAR0.
const Port = struct {
    const index: u32 = 0x0;
    const value: u32 = 0x1;
    const bios: u32 = 0x2;
    const irq_status: u32 = 0x8;
};

/// SVGA_MAKE_ID(version): the values the ID register negotiates.
pub const id_0: u32 = 0x9000_0000;
pub const id_1: u32 = 0x9000_0001;
pub const id_2: u32 = 0x9000_0002;

/// Register indices (SVGA_REG_*).
const Reg = struct {
    const id: u32 = 0;
    const enable: u32 = 1;
    const width: u32 = 2;
    const height: u32 = 3;
    const max_width: u32 = 4;
    const max_height: u32 = 5;
    const depth: u32 = 6;
    const bits_per_pixel: u32 = 7;
    const pseudocolor: u32 = 8;
    const red_mask: u32 = 9;
    const green_mask: u32 = 10;
    const blue_mask: u32 = 11;
    const bytes_per_line: u32 = 12;
    const fb_start: u32 = 13;
    const fb_offset: u32 = 14;
    const vram_size: u32 = 15;
    const fb_size: u32 = 16;
    const capabilities: u32 = 17;
    const mem_start: u32 = 18;
    const mem_size: u32 = 19;
    const config_done: u32 = 20;
    const sync: u32 = 21;
    const busy: u32 = 22;
    const guest_id: u32 = 23;
    const cursor_id: u32 = 24;
    const cursor_x: u32 = 25;
    const cursor_y: u32 = 26;
    const cursor_on: u32 = 27;
    const host_bits_per_pixel: u32 = 28;
    const scratch_size: u32 = 29;
    const mem_regs: u32 = 30;
    const num_displays: u32 = 31;
    const pitchlock: u32 = 32;
    const irq_mask: u32 = 33;
    const traces: u32 = 45;
    const palette_base: u32 = 1024;
    const palette_count: u32 = 3 * 256;
    const scratch_base: u32 = palette_base + palette_count;
    const scratch_count: u32 = 64;
};

/// SVGA_REG_ENABLE bits: SVGA mode on; HIDE keeps the FIFO running but shows the VGA instead.
const Enable = struct {
    const enable: u32 = 1 << 0;
    const hide: u32 = 1 << 1;
};

/// SVGA_CAP_* bits.
const Cap = struct {
    const rect_fill: u32 = 0x0000_0001;
    const rect_copy: u32 = 0x0000_0002;
    const cursor: u32 = 0x0000_0020;
    const cursor_bypass: u32 = 0x0000_0040;
    const cursor_bypass_2: u32 = 0x0000_0080;
    const emulation_8bit: u32 = 0x0000_0100;
    const alpha_cursor: u32 = 0x0000_0200;
    const extended_fifo: u32 = 0x0000_8000;
    const pitchlock: u32 = 0x0002_0000;
    const irq_mask: u32 = 0x0004_0000;
};

/// What SVGA_REG_CAPABILITIES reports: 2D commands, both cursor kinds, the extended FIFO,
/// pitch lock and interrupts. No 3D, GMR, screen objects or command buffers, so vmwgfx settles on
/// its legacy display unit.
pub const capabilities: u32 = Cap.rect_fill | Cap.rect_copy | Cap.cursor | Cap.cursor_bypass |
    Cap.cursor_bypass_2 | Cap.emulation_8bit | Cap.alpha_cursor | Cap.extended_fifo | Cap.pitchlock |
    Cap.irq_mask;

/// FIFO register indices (32-bit words from the start of BAR2).
const Fifo = struct {
    const min: u32 = 0;
    const max: u32 = 1;
    const next_cmd: u32 = 2;
    const stop: u32 = 3;
    const capabilities: u32 = 4;
    const flags: u32 = 5;
    const fence: u32 = 6;
    const hw_version_3d: u32 = 7;
    const cursor_on: u32 = 9;
    const cursor_x: u32 = 10;
    const cursor_y: u32 = 11;
    const cursor_count: u32 = 12;
    const fence_goal: u32 = 289;
    const busy: u32 = 290;
    /// SVGA_FIFO_NUM_REGS, what SVGA_REG_MEM_REGS reports.
    const num_regs: u32 = 291;
};

/// SVGA_FIFO_CAP_* bits.
const FifoCap = struct {
    const fence: u32 = 1 << 0;
    const cursor_bypass_3: u32 = 1 << 4;
    const reserve: u32 = 1 << 6;
};

/// What SVGA_FIFO_CAPABILITIES reports once the guest configures the FIFO.
pub const fifo_capabilities: u32 = FifoCap.fence | FifoCap.cursor_bypass_3 | FifoCap.reserve;

/// SVGA_IRQFLAG_* bits, in IRQSTATUS and IRQMASK.
pub const Irq = struct {
    /// A SVGA_CMD_FENCE passed.
    pub const any_fence: u32 = 0x1;
    /// A pass consumed commands.
    pub const fifo_progress: u32 = 0x2;
    /// The fence in SVGA_FIFO_FENCE_GOAL passed.
    pub const fence_goal: u32 = 0x4;
    /// Every bit this device raises; IRQMASK keeps only these.
    pub const known: u32 = any_fence | fifo_progress | fence_goal;
};

/// SVGA_CMD_* ids this device executes or skips.
const Cmd = struct {
    const update: u32 = 1;
    const rect_fill: u32 = 2;
    const rect_copy: u32 = 3;
    const rect_rop_copy: u32 = 14;
    const define_cursor: u32 = 19;
    const define_alpha_cursor: u32 = 22;
    const update_verbose: u32 = 25;
    const fence: u32 = 30;
    const escape: u32 = 33;
    const nop: u32 = 45;
};
const rop_copy: u32 = 0x03;

/// The largest modes the device offers as MAX_WIDTH × MAX_HEIGHT, largest first: the first whose
/// 32-bit framebuffer fits the video memory wins, so every mode within the limits fits (vmwgfx
/// asks for pitch × height below the video memory size; older Xorg drivers do not check).
const mode_limits = [_][2]u32{
    .{ 2560, 1600 }, .{ 1920, 1200 }, .{ 1920, 1080 }, .{ 1600, 1200 }, .{ 1280, 1024 },
    .{ 1280, 800 },  .{ 1024, 768 },  .{ 800, 600 },   .{ 640, 480 },   .{ 640, 400 },
};
/// A ring narrower than this is refused (svga_reg.h asks for 10 KiB; vmwgfx uses all of BAR2).
const min_ring_bytes: u32 = 64;
/// Framebuffer bytes a FIFO pass may write before it yields (the rest waits for the next pass).
const work_budget_bytes: u64 = 64 << 20;
/// Fixed words after the command id, at most (SVGAFifoCmdDefineCursor).
const max_fields: u32 = 7;
const cursor_side = display.Cursor.max_side;

comptime {
    for (mode_limits) |limit| assert(limit[0] <= display.max_width and limit[1] <= display.max_height);
    // The smallest limit fits the smallest video memory `Svga.init` accepts.
    assert(@as(u64, mode_limits[mode_limits.len - 1][0]) * mode_limits[mode_limits.len - 1][1] * 4 < 1 << 20);
    assert(Reg.scratch_base == 1792);
    assert(Fifo.busy + 1 == Fifo.num_regs);
}

/// How the adapter interrupts. Called under the device lock, on level changes only.
pub const InterruptSink = struct {
    context: ?*anyopaque = null,
    /// The function's INTx level; the VM passes it to `pci.Bus.setIntx`.
    setLevelFn: ?*const fn (context: ?*anyopaque, level: bool) void = null,
};

/// The PCI function as firmware finds it: BARs unassigned, INTA#. `vram_bytes` and `fifo_bytes`
/// are the sizes of the slices later given to `Svga.init` (powers of two).
pub fn initPciFunction(vram_bytes: u32, fifo_bytes: u32) pci.Function {
    var function = pci.Function.init(identity);
    function.setBar(io_bar, .io, io_bytes);
    function.setBar(vram_bar, .memory32_prefetchable, vram_bytes);
    function.setBar(fifo_bar, .memory32, fifo_bytes);
    return function;
}

/// The FIFO pointers of one pass, checked: 4-aligned, MIN past the basic registers, MAX inside
/// BAR2, NEXT_CMD and STOP inside [MIN, MAX).
const Ring = struct {
    min: u32,
    max: u32,
    next: u32,

    fn capacity(self: Ring) u32 {
        return self.max - self.min;
    }

    /// Bytes written by the guest and not yet consumed, from `stop`.
    fn available(self: Ring, stop: u32) u32 {
        assert(stop >= self.min and stop < self.max);
        if (self.next >= stop) return self.next - stop;
        return (self.max - stop) + (self.next - self.min);
    }

    fn advance(self: Ring, at: u32, bytes: u32) u32 {
        assert(bytes < self.capacity());
        const rest = self.max - at;
        return if (bytes < rest) at + bytes else self.min + (bytes - rest);
    }
};

/// Reads one command's bytes out of the ring, wrapping from MAX to MIN.
const Reader = struct {
    fifo: []const u8,
    ring: Ring,
    start: u32,
    /// Bytes from `start` the guest has written (a multiple of 4).
    available_bytes: u32,

    fn position(self: Reader, offset: u64) usize {
        assert(offset < self.available_bytes);
        var at = @as(u64, self.start) + offset;
        if (at >= self.ring.max) at = at - self.ring.max + self.ring.min;
        assert(at >= self.ring.min and at < self.ring.max);
        return @intCast(at);
    }

    fn word(self: Reader, index: u64) u32 {
        const at = self.position(index * 4);
        return std.mem.readInt(u32, self.fifo[at..][0..4], .little);
    }

    fn byte(self: Reader, offset: u64) u8 {
        return self.fifo[self.position(offset)];
    }
};

/// One command whose words are all in the ring; its fixed fields read once.
const Command = struct {
    id: u32,
    words: u32,
    fields: [max_fields]u32,
};

const Decoded = union(enum) {
    /// The guest has not written the whole command yet.
    incomplete,
    /// Unknown, or longer than the ring can ever hold: the FIFO stops.
    invalid,
    command: Command,
};

/// The adapter. All methods lock `mutex`; vCPUs and the renderer may call them at once.
pub const Svga = struct {
    mutex: std.Thread.Mutex = .{},
    vram: []u8,
    fifo: []u8,
    interrupt: InterruptSink,
    /// The PCI function (after `connect`), for FB_START and MEM_START.
    function: ?*const pci.Function = null,

    /// Bumped on every UPDATE, mode change, cursor change, fill and copy.
    generation: u64 = 0,
    /// Port accesses of a wrong width or offset (saturating).
    bad_accesses: u32 = 0,

    index: u32 = 0,
    id: u32 = id_2,
    enable: u32 = 0,
    width: u32,
    height: u32,
    max_width: u32,
    max_height: u32,
    bits_per_pixel: u32 = 32,
    pitchlock: u32 = 0,
    config_done: bool = false,
    /// SVGA_REG_BUSY: set by SYNC, clear once a pass drains the FIFO.
    busy: bool = false,
    /// The FIFO stopped on a command it cannot execute; cleared by the next CONFIG_DONE.
    fifo_error: bool = false,
    guest_id: u32 = 0,
    traces: u32 = 0,
    irq_mask: u32 = 0,
    irq_status: u32 = 0,
    intx_level: bool = false,
    palette: [Reg.palette_count]u8 = [_]u8{0} ** Reg.palette_count,
    scratch: [Reg.scratch_count]u32 = [_]u32{0} ** Reg.scratch_count,

    cursor_id: u32 = 0,
    cursor_x: i32 = 0,
    cursor_y: i32 = 0,
    cursor_visible: bool = false,
    /// SVGA_FIFO_CURSOR_COUNT as last seen: a change means the guest moved the cursor there.
    fifo_cursor_count: u32 = 0,
    cursor_defined: bool = false,
    cursor_width: u32 = 0,
    cursor_height: u32 = 0,
    cursor_hot_x: u32 = 0,
    cursor_hot_y: u32 = 0,
    cursor_pixels: [cursor_side * cursor_side]u32 = [_]u32{0} ** (cursor_side * cursor_side),

    /// `vram` backs BAR1 and `fifo` BAR2; both must outlive the device. `vram` is 1 MiB to 2 GiB
    /// (it sets MAX_WIDTH × MAX_HEIGHT, `mode_limits`), `fifo` 64 KiB to 2 GiB.
    pub fn init(vram: []u8, fifo: []u8, interrupt: InterruptSink) Svga {
        assert(vram.len >= 1 << 20 and vram.len <= 1 << 31);
        assert(fifo.len >= 64 << 10 and fifo.len <= 1 << 31 and fifo.len % 4 == 0);
        const limit = for (mode_limits) |limit| {
            if (@as(u64, limit[0]) * limit[1] * 4 < vram.len) break limit;
        } else mode_limits[mode_limits.len - 1];
        assert(@as(u64, limit[0]) * limit[1] * 4 < vram.len);
        return .{
            .vram = vram,
            .fifo = fifo,
            .interrupt = interrupt,
            .max_width = limit[0],
            .max_height = limit[1],
            .width = @min(1024, limit[0]),
            .height = @min(768, limit[1]),
        };
    }

    /// Ties the device to its PCI function (which must outlive it), for the BAR addresses the
    /// FB_START and MEM_START registers report.
    pub fn connect(self: *Svga, function: *const pci.Function) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        self.function = function;
    }

    /// Routes the BARs here (the VM stores it in the function's `handler`). BAR1 and BAR2 accesses
    /// arrive only while the VM traps them instead of mapping the memory.
    pub fn pciHandler(self: *Svga) pci.Handler {
        return .{ .context = self, .readFn = barRead, .writeFn = barWrite };
    }

    fn barRead(context: *anyopaque, bar: u3, offset: u32, data: []u8) void {
        const self: *Svga = @ptrCast(@alignCast(context));
        switch (bar) {
            io_bar => self.ioRead(offset, data),
            vram_bar => copyOut(self.vram, offset, data),
            fifo_bar => copyOut(self.fifo, offset, data),
            else => @memset(data, 0xFF),
        }
    }

    fn barWrite(context: *anyopaque, bar: u3, offset: u32, data: []const u8) void {
        const self: *Svga = @ptrCast(@alignCast(context));
        switch (bar) {
            io_bar => self.ioWrite(offset, data),
            vram_bar => copyIn(self.vram, offset, data),
            fifo_bar => copyIn(self.fifo, offset, data),
            else => {},
        }
    }

    /// Runs the FIFO and picks up cursor moves made through the FIFO cursor registers. The VM
    /// calls it periodically; the guest's SYNC and BUSY accesses run the FIFO too.
    pub fn poll(self: *Svga) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        self.syncFifoCursor();
        self.processFifo();
    }

    /// The framebuffer the renderer shows, or null while SVGA mode is off or hidden (the VGA
    /// core then shows the screen) or the programmed mode does not fit the video memory.
    pub fn frameLayout(self: *Svga) ?display.LinearLayout {
        self.mutex.lock();
        defer self.mutex.unlock();
        return self.visibleLayout();
    }

    /// The hardware cursor over the frame, or null when none is defined, it is hidden or the
    /// frame is not shown. `pixels` points into the device: a concurrent DEFINE_CURSOR can tear
    /// one frame's cursor, never reach outside the buffer.
    pub fn cursor(self: *Svga) ?display.Cursor {
        self.mutex.lock();
        defer self.mutex.unlock();
        self.syncFifoCursor();
        if (!self.cursor_defined or !self.cursor_visible) return null;
        if (self.visibleLayout() == null) return null;
        const result = display.Cursor{
            .x = self.cursor_x,
            .y = self.cursor_y,
            .hot_x = self.cursor_hot_x,
            .hot_y = self.cursor_hot_y,
            .width = self.cursor_width,
            .height = self.cursor_height,
            .pixels = self.cursor_pixels[0 .. self.cursor_width * self.cursor_height],
        };
        assert(result.valid());
        return result;
    }

    /// The 256-entry palette of 8-bit modes (SVGA_PALETTE_BASE registers), as red, green, blue.
    pub fn copyPalette(self: *Svga, out: *[256][3]u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        for (out, 0..) |*entry, i| entry.* = self.palette[i * 3 ..][0..3].*;
    }

    fn ioRead(self: *Svga, offset: u32, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (data.len != 4) return self.refuseRead(data);
        const value: u32 = switch (offset) {
            Port.index => self.index,
            Port.value => self.readRegister(self.index),
            Port.bios => 0,
            Port.irq_status => self.irq_status,
            else => return self.refuseRead(data),
        };
        std.mem.writeInt(u32, data[0..4], value, .little);
    }

    fn ioWrite(self: *Svga, offset: u32, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (data.len != 4) {
            self.bad_accesses +|= 1;
            return;
        }
        const value = std.mem.readInt(u32, data[0..4], .little);
        switch (offset) {
            Port.index => self.index = value,
            Port.value => self.writeRegister(self.index, value),
            Port.bios => {},
            Port.irq_status => {
                self.irq_status &= ~value;
                self.updateInterrupt();
            },
            else => self.bad_accesses +|= 1,
        }
    }

    fn refuseRead(self: *Svga, data: []u8) void {
        self.bad_accesses +|= 1;
        @memset(data, 0xFF);
    }

    fn readRegister(self: *Svga, index: u32) u32 {
        return switch (index) {
            Reg.id => self.id,
            Reg.enable => self.enable,
            Reg.width => self.width,
            Reg.height => self.height,
            Reg.max_width => self.max_width,
            Reg.max_height => self.max_height,
            Reg.depth => depthOf(self.bits_per_pixel),
            Reg.bits_per_pixel => self.bits_per_pixel,
            Reg.pseudocolor => @intFromBool(self.bits_per_pixel == 8),
            Reg.red_mask => masksOf(self.bits_per_pixel)[0],
            Reg.green_mask => masksOf(self.bits_per_pixel)[1],
            Reg.blue_mask => masksOf(self.bits_per_pixel)[2],
            Reg.bytes_per_line => saturate(self.bytesPerLine()),
            Reg.fb_start => self.barAddress(vram_bar),
            Reg.fb_offset => 0,
            Reg.vram_size => @intCast(self.vram.len),
            Reg.fb_size => saturate(@min(self.bytesPerLine() *| self.height, self.vram.len)),
            Reg.capabilities => capabilities,
            Reg.mem_start => self.barAddress(fifo_bar),
            Reg.mem_size => @intCast(self.fifo.len),
            Reg.config_done => @intFromBool(self.config_done),
            Reg.busy => blk: {
                self.processFifo();
                break :blk @intFromBool(self.busy);
            },
            Reg.guest_id => self.guest_id,
            Reg.cursor_id => self.cursor_id,
            Reg.cursor_x => @bitCast(self.cursor_x),
            Reg.cursor_y => @bitCast(self.cursor_y),
            Reg.cursor_on => @intFromBool(self.cursor_visible),
            Reg.host_bits_per_pixel => 32,
            Reg.scratch_size => Reg.scratch_count,
            Reg.mem_regs => Fifo.num_regs,
            Reg.num_displays => 1,
            Reg.pitchlock => self.pitchlock,
            Reg.irq_mask => self.irq_mask,
            Reg.traces => self.traces,
            else => if (index >= Reg.palette_base and index - Reg.palette_base < Reg.palette_count)
                self.palette[index - Reg.palette_base]
            else if (index >= Reg.scratch_base and index - Reg.scratch_base < Reg.scratch_count)
                self.scratch[index - Reg.scratch_base]
            else
                0,
        };
    }

    fn writeRegister(self: *Svga, index: u32, value: u32) void {
        switch (index) {
            // SVGA_ID_0 moved the ports apart; this PCI device speaks ID 1 and 2 only, and an ID it
            // does not speak leaves the register as it was (the guest reads back and falls back).
            Reg.id => if (value == id_1 or value == id_2) {
                self.id = value;
            },
            Reg.enable => self.setMode(&self.enable, value & (Enable.enable | Enable.hide)),
            Reg.width => self.setMode(&self.width, value),
            Reg.height => self.setMode(&self.height, value),
            Reg.bits_per_pixel => if (value == 8 or value == 16 or value == 32) {
                self.setMode(&self.bits_per_pixel, value);
            },
            Reg.pitchlock => self.setMode(&self.pitchlock, value),
            Reg.config_done => self.setConfigDone(value != 0),
            Reg.sync => {
                self.busy = true;
                self.processFifo();
            },
            Reg.guest_id => self.guest_id = value,
            Reg.cursor_id => self.cursor_id = value,
            Reg.cursor_x => self.moveCursor(@bitCast(value), self.cursor_y, self.cursor_visible),
            Reg.cursor_y => self.moveCursor(self.cursor_x, @bitCast(value), self.cursor_visible),
            // SHOW (1) and RESTORE_TO_FB (3) show it; HIDE (0) and REMOVE_FROM_FB (2) hide it.
            Reg.cursor_on => self.moveCursor(self.cursor_x, self.cursor_y, value & 1 != 0),
            Reg.irq_mask => {
                self.irq_mask = value & Irq.known;
                self.updateInterrupt();
            },
            Reg.traces => self.traces = value & 1,
            else => if (index >= Reg.palette_base and index - Reg.palette_base < Reg.palette_count) {
                self.palette[index - Reg.palette_base] = @truncate(value);
                self.generation +%= 1;
            } else if (index >= Reg.scratch_base and index - Reg.scratch_base < Reg.scratch_count) {
                self.scratch[index - Reg.scratch_base] = value;
            },
        }
    }

    fn setMode(self: *Svga, register: *u32, value: u32) void {
        if (register.* == value) return;
        register.* = value;
        self.generation +%= 1;
    }

    fn moveCursor(self: *Svga, x: i32, y: i32, visible: bool) void {
        if (self.cursor_x == x and self.cursor_y == y and self.cursor_visible == visible) return;
        self.cursor_x = x;
        self.cursor_y = y;
        self.cursor_visible = visible;
        self.generation +%= 1;
    }

    /// CONFIG_DONE going to 1 starts the FIFO the guest has laid out: the device fills in the
    /// extended registers the guest left room for (capabilities, flags, no 3D).
    fn setConfigDone(self: *Svga, done: bool) void {
        defer self.config_done = done;
        if (!done or self.config_done) return;
        self.fifo_error = false;
        const min = self.loadFifo(Fifo.min);
        if (min % 4 != 0 or min > self.fifo.len) return;
        if (hasRegister(min, Fifo.capabilities)) self.storeFifo(Fifo.capabilities, fifo_capabilities);
        if (hasRegister(min, Fifo.flags)) self.storeFifo(Fifo.flags, 0);
        if (hasRegister(min, Fifo.hw_version_3d)) self.storeFifo(Fifo.hw_version_3d, 0);
        if (hasRegister(min, Fifo.cursor_count)) self.fifo_cursor_count = self.loadFifo(Fifo.cursor_count);
    }

    fn barAddress(self: *const Svga, bar: u3) u32 {
        const function = self.function orelse return 0;
        return function.barAddress(bar) orelse 0;
    }

    fn bytesPerLine(self: *const Svga) u64 {
        if (self.pitchlock != 0) return self.pitchlock;
        return (@as(u64, self.width) * self.bits_per_pixel + 31) / 32 * 4;
    }

    /// The programmed mode's framebuffer, whether shown or not; null unless it fits.
    fn modeLayout(self: *const Svga) ?display.LinearLayout {
        if (self.width == 0 or self.width > self.max_width) return null;
        if (self.height == 0 or self.height > self.max_height) return null;
        const layout = display.LinearLayout{
            .offset = 0,
            .pitch_bytes = self.bytesPerLine(),
            .width = self.width,
            .height = self.height,
            .format = formatOf(self.bits_per_pixel),
        };
        return if (layout.fits(self.vram.len)) layout else null;
    }

    fn visibleLayout(self: *const Svga) ?display.LinearLayout {
        if (self.enable != Enable.enable) return null;
        return self.modeLayout();
    }

    fn fifoRunning(self: *const Svga) bool {
        return self.enable & Enable.enable != 0 and self.config_done and !self.fifo_error;
    }

    fn loadFifo(self: *const Svga, register: u32) u32 {
        assert(register < Fifo.num_regs);
        return std.mem.readInt(u32, self.fifo[register * 4 ..][0..4], .little);
    }

    fn storeFifo(self: *Svga, register: u32, value: u32) void {
        assert(register < Fifo.num_regs);
        std.mem.writeInt(u32, self.fifo[register * 4 ..][0..4], value, .little);
    }

    /// The guest's FIFO pointers, if sane; STOP separately (it moves during a pass).
    fn ring(self: *const Svga) ?struct { ring: Ring, stop: u32 } {
        const min = self.loadFifo(Fifo.min);
        const max = self.loadFifo(Fifo.max);
        const next = self.loadFifo(Fifo.next_cmd);
        const stop = self.loadFifo(Fifo.stop);
        if ((min | max | next | stop) % 4 != 0) return null;
        if (min < 4 * 4 or max > self.fifo.len or min >= max or max - min < min_ring_bytes) return null;
        if (next < min or next >= max or stop < min or stop >= max) return null;
        return .{ .ring = .{ .min = min, .max = max, .next = next }, .stop = stop };
    }

    fn processFifo(self: *Svga) void {
        self.busy = self.runFifo();
    }

    /// One bounded pass over the ring; true when commands are left for a later pass.
    fn runFifo(self: *Svga) bool {
        if (!self.fifoRunning()) return false;
        const snapshot = self.ring() orelse return false;
        const r = snapshot.ring;
        var stop = snapshot.stop;
        var work: u64 = 0;
        var progress = false;
        const pending = while (stop != r.next) {
            if (work >= work_budget_bytes) break true;
            const reader = Reader{ .fifo = self.fifo, .ring = r, .start = stop, .available_bytes = r.available(stop) };
            switch (decode(reader)) {
                .incomplete => break true,
                .invalid => {
                    self.fifo_error = true;
                    break false;
                },
                .command => |command| {
                    assert(command.words * 4 <= reader.available_bytes);
                    work += self.execute(reader, command);
                    stop = r.advance(stop, command.words * 4);
                    self.storeFifo(Fifo.stop, stop);
                    progress = true;
                },
            }
        } else false;
        if (progress) self.raise(Irq.fifo_progress);
        // The guest writes SYNC only after setting FIFO_BUSY from 0; clear it so it wakes us again.
        if (hasRegister(r.min, Fifo.busy)) self.storeFifo(Fifo.busy, 0);
        return pending;
    }

    fn execute(self: *Svga, reader: Reader, command: Command) u64 {
        const f = command.fields;
        switch (command.id) {
            Cmd.update, Cmd.update_verbose => {
                self.generation +%= 1;
                return 0;
            },
            Cmd.rect_fill => return self.fillRect(f[0], f[1], f[2], f[3], f[4]),
            Cmd.rect_copy => return self.copyRect(f[0], f[1], f[2], f[3], f[4], f[5]),
            Cmd.rect_rop_copy => {
                if (f[6] != rop_copy) return 0;
                return self.copyRect(f[0], f[1], f[2], f[3], f[4], f[5]);
            },
            Cmd.define_cursor => return self.defineCursor(reader, f),
            Cmd.define_alpha_cursor => return self.defineAlphaCursor(reader, f),
            Cmd.fence => {
                self.passFence(reader.ring.min, f[0]);
                return 0;
            },
            else => return 0,
        }
    }

    fn passFence(self: *Svga, min: u32, fence: u32) void {
        if (hasRegister(min, Fifo.fence)) self.storeFifo(Fifo.fence, fence);
        self.raise(Irq.any_fence);
        if (hasRegister(min, Fifo.fence_goal) and self.loadFifo(Fifo.fence_goal) == fence) {
            self.raise(Irq.fence_goal);
        }
    }

    fn raise(self: *Svga, flag: u32) void {
        if (self.irq_mask & flag == 0) return;
        self.irq_status |= flag;
        self.updateInterrupt();
    }

    fn updateInterrupt(self: *Svga) void {
        const level = self.irq_status & self.irq_mask != 0;
        if (level == self.intx_level) return;
        self.intx_level = level;
        if (self.interrupt.setLevelFn) |f| f(self.interrupt.context, level);
    }

    fn fillRect(self: *Svga, color: u32, x: u32, y: u32, width: u32, height: u32) u64 {
        const layout = self.modeLayout() orelse return 0;
        if (x >= layout.width or y >= layout.height) return 0;
        const w = @min(width, layout.width - x);
        const h = @min(height, layout.height - y);
        const bpp = layout.format.bytesPerPixel();
        var pixel: [4]u8 = undefined;
        std.mem.writeInt(u32, &pixel, color, .little);
        for (0..h) |row| {
            const start = layout.offset + (y + row) * layout.pitch_bytes + @as(u64, x) * bpp;
            const bytes = self.vram[@intCast(start)..][0 .. @as(usize, w) * bpp];
            if (bpp == 1) {
                @memset(bytes, pixel[0]);
            } else {
                var at: usize = 0;
                while (at < bytes.len) : (at += bpp) @memcpy(bytes[at..][0..bpp], pixel[0..bpp]);
            }
        }
        self.generation +%= 1;
        return @as(u64, w) * h * bpp;
    }

    fn copyRect(self: *Svga, src_x: u32, src_y: u32, dst_x: u32, dst_y: u32, width: u32, height: u32) u64 {
        const layout = self.modeLayout() orelse return 0;
        if (src_x >= layout.width or dst_x >= layout.width) return 0;
        if (src_y >= layout.height or dst_y >= layout.height) return 0;
        const w = @min(width, layout.width - src_x, layout.width - dst_x);
        const h = @min(height, layout.height - src_y, layout.height - dst_y);
        const bpp = layout.format.bytesPerPixel();
        const row_bytes = @as(usize, w) * bpp;
        for (0..h) |step| {
            // Overlapping rectangles: walk rows away from the destination.
            const row = if (dst_y > src_y) h - 1 - step else step;
            const src: usize = @intCast(layout.offset + (src_y + row) * layout.pitch_bytes + @as(u64, src_x) * bpp);
            const dst: usize = @intCast(layout.offset + (dst_y + row) * layout.pitch_bytes + @as(u64, dst_x) * bpp);
            if (dst <= src) {
                std.mem.copyForwards(u8, self.vram[dst..][0..row_bytes], self.vram[src..][0..row_bytes]);
            } else {
                std.mem.copyBackwards(u8, self.vram[dst..][0..row_bytes], self.vram[src..][0..row_bytes]);
            }
        }
        self.generation +%= 1;
        return @as(u64, w) * h * bpp;
    }

    /// SVGA_CMD_DEFINE_CURSOR: AND and XOR masks, each `height` rows padded to 32 bits. A clear
    /// AND bit shows the XOR colour; a set one leaves the screen (transparent), or inverts it
    /// where the XOR colour is not black, which is drawn as that colour.
    fn defineCursor(self: *Svga, reader: Reader, f: [max_fields]u32) u64 {
        const width = f[3];
        const height = f[4];
        const and_depth = f[5];
        const xor_depth = f[6];
        if (width == 0 or height == 0 or width > cursor_side or height > cursor_side) return 0;
        const and_row_bytes = rowWords(width, and_depth) * 4;
        const xor_row_bytes = rowWords(width, xor_depth) * 4;
        const and_base: u64 = (1 + max_fields) * 4;
        const xor_base = and_base + height * and_row_bytes;
        for (0..height) |y| {
            for (0..width) |x| {
                const and_bit = maskValue(reader, and_base + y * and_row_bytes, x, and_depth) != 0;
                const value = maskValue(reader, xor_base + y * xor_row_bytes, x, xor_depth);
                const color = self.colorOf(value, xor_depth);
                const pixel: u32 = if (!and_bit or color != 0) 0xFF00_0000 | color else 0;
                self.cursor_pixels[y * width + x] = pixel;
            }
        }
        self.defineCursorShape(width, height, f[1], f[2]);
        return @as(u64, width) * height * 4;
    }

    /// SVGA_CMD_DEFINE_ALPHA_CURSOR: `width` × `height` words of premultiplied BGRA.
    fn defineAlphaCursor(self: *Svga, reader: Reader, f: [max_fields]u32) u64 {
        const width = f[3];
        const height = f[4];
        if (width == 0 or height == 0 or width > cursor_side or height > cursor_side) return 0;
        const first_word: u64 = 1 + 5;
        for (0..@as(usize, width) * height) |i| {
            self.cursor_pixels[i] = straightAlpha(reader.word(first_word + i));
        }
        self.defineCursorShape(width, height, f[1], f[2]);
        return @as(u64, width) * height * 4;
    }

    fn defineCursorShape(self: *Svga, width: u32, height: u32, hot_x: u32, hot_y: u32) void {
        assert(width > 0 and width <= cursor_side and height > 0 and height <= cursor_side);
        self.cursor_width = width;
        self.cursor_height = height;
        self.cursor_hot_x = @min(hot_x, width - 1);
        self.cursor_hot_y = @min(hot_y, height - 1);
        self.cursor_defined = true;
        self.generation +%= 1;
    }

    /// A mask pixel's colour as 0x00RRGGBB: 1-bit masks are black or white, 8-bit ones index the
    /// palette, 16-bit ones are RGB 5:6:5, deeper ones BGRX.
    fn colorOf(self: *const Svga, value: u32, depth: u32) u32 {
        return switch (depth) {
            1 => if (value != 0) 0x00FF_FFFF else 0,
            8 => blk: {
                const entry = self.palette[(value & 0xFF) * 3 ..][0..3];
                break :blk @as(u32, entry[0]) << 16 | @as(u32, entry[1]) << 8 | entry[2];
            },
            16 => expand565(@truncate(value)),
            else => value & 0x00FF_FFFF,
        };
    }

    /// Cursor moves through SVGA_FIFO_CURSOR_ON/X/Y (cursor bypass 3), announced by a new
    /// SVGA_FIFO_CURSOR_COUNT.
    fn syncFifoCursor(self: *Svga) void {
        if (!self.fifoRunning()) return;
        const min = self.loadFifo(Fifo.min);
        if (min % 4 != 0 or min > self.fifo.len or !hasRegister(min, Fifo.cursor_count)) return;
        const count = self.loadFifo(Fifo.cursor_count);
        if (count == self.fifo_cursor_count) return;
        self.fifo_cursor_count = count;
        const visible = self.loadFifo(Fifo.cursor_on) != 0;
        self.moveCursor(@bitCast(self.loadFifo(Fifo.cursor_x)), @bitCast(self.loadFifo(Fifo.cursor_y)), visible);
    }
};

/// Splits off the next command at the reader's start: its id, fixed fields, and length.
fn decode(reader: Reader) Decoded {
    const available_words = reader.available_bytes / 4;
    assert(available_words > 0);
    const id = reader.word(0);
    const field_count = fieldCount(id) orelse return .invalid;
    assert(field_count <= max_fields);
    if (available_words < 1 + field_count) return .incomplete;
    var command = Command{ .id = id, .words = 0, .fields = [_]u32{0} ** max_fields };
    for (0..field_count) |i| command.fields[i] = reader.word(1 + i);
    const f = command.fields;
    const payload_words: u64 = switch (id) {
        Cmd.define_cursor => blk: {
            if (!depthKnown(f[5]) or !depthKnown(f[6])) return .invalid;
            break :blk @as(u64, f[4]) *| (rowWords(f[3], f[5]) + rowWords(f[3], f[6]));
        },
        Cmd.define_alpha_cursor => @as(u64, f[3]) * f[4],
        Cmd.escape => (@as(u64, f[1]) + 3) / 4,
        else => 0,
    };
    // Saturating: an absurd cursor's payload is near 2^64 words.
    const words = payload_words +| (1 + field_count);
    // The guest keeps one word free, so no command longer than this can ever be complete.
    if (words *| 4 > reader.ring.capacity() - 4) return .invalid;
    if (words > available_words) return .incomplete;
    command.words = @intCast(words);
    return .{ .command = command };
}

/// Fixed words after command `id` (svga_reg.h's SVGAFifoCmd* structures), or null when this
/// device does not know the command.
fn fieldCount(id: u32) ?u32 {
    return switch (id) {
        Cmd.update => 4,
        Cmd.rect_fill => 5,
        Cmd.rect_copy => 6,
        Cmd.rect_rop_copy => 7,
        Cmd.define_cursor => 7,
        Cmd.define_alpha_cursor => 5,
        Cmd.update_verbose => 5,
        Cmd.fence => 1,
        Cmd.escape => 2,
        Cmd.nop => 0,
        else => null,
    };
}

/// Whether FIFO register `register` lies below MIN, the part the guest gave to registers.
fn hasRegister(min: u32, register: u32) bool {
    return (@as(u64, register) + 1) * 4 <= min;
}

fn depthKnown(depth: u32) bool {
    return depth == 1 or depth == 8 or depth == 16 or depth == 24 or depth == 32;
}

/// 32-bit words in one mask row of `width` pixels at `depth` bits.
fn rowWords(width: u32, depth: u32) u64 {
    assert(depth <= 32);
    return (@as(u64, width) * depth + 31) / 32;
}

/// Pixel `x` of a mask row at byte `row` of the command: 1-bit rows most significant bit first,
/// deeper ones little-endian bytes.
fn maskValue(reader: Reader, row: u64, x: u64, depth: u32) u32 {
    assert(depthKnown(depth));
    if (depth == 1) {
        const bits = reader.byte(row + x / 8);
        return (bits >> @intCast(7 - x % 8)) & 1;
    }
    const bytes = depth / 8;
    var value: u32 = 0;
    for (0..bytes) |i| value |= @as(u32, reader.byte(row + x * bytes + i)) << @intCast(8 * i);
    return value;
}

fn expand565(value: u16) u32 {
    const r: u32 = (value >> 11) & 0x1F;
    const g: u32 = (value >> 5) & 0x3F;
    const b: u32 = value & 0x1F;
    return ((r << 3) | (r >> 2)) << 16 | ((g << 2) | (g >> 4)) << 8 | ((b << 3) | (b >> 2));
}

/// Premultiplied 0xAARRGGBB to straight alpha (what display.Cursor holds).
fn straightAlpha(pixel: u32) u32 {
    const alpha = pixel >> 24;
    if (alpha == 0) return 0;
    if (alpha == 0xFF) return pixel;
    var result = alpha << 24;
    inline for (.{ 16, 8, 0 }) |shift| {
        const channel = (pixel >> shift) & 0xFF;
        result |= @as(u32, @min(255, channel * 255 / alpha)) << shift;
    }
    return result;
}

fn depthOf(bits_per_pixel: u32) u32 {
    return switch (bits_per_pixel) {
        8 => 8,
        16 => 16,
        else => 24,
    };
}

fn masksOf(bits_per_pixel: u32) [3]u32 {
    return switch (bits_per_pixel) {
        8 => .{ 0, 0, 0 },
        16 => .{ 0xF800, 0x07E0, 0x001F },
        else => .{ 0xFF_0000, 0x00_FF00, 0x00_00FF },
    };
}

fn formatOf(bits_per_pixel: u32) display.PixelFormat {
    return switch (bits_per_pixel) {
        8 => .indexed8,
        16 => .rgb565,
        else => .bgrx32,
    };
}

fn saturate(value: u64) u32 {
    return @intCast(@min(value, std.math.maxInt(u32)));
}

fn copyOut(memory: []const u8, offset: u32, data: []u8) void {
    if (offset > memory.len or data.len > memory.len - offset) return @memset(data, 0xFF);
    @memcpy(data, memory[offset..][0..data.len]);
}

fn copyIn(memory: []u8, offset: u32, data: []const u8) void {
    if (offset > memory.len or data.len > memory.len - offset) return;
    @memcpy(memory[offset..][0..data.len], data);
}

const testing = std.testing;

/// Test double for the interrupt line: the level and the rising edges.
const InterruptRecorder = struct {
    level: bool = false,
    rises: u32 = 0,

    fn setLevel(context: ?*anyopaque, level: bool) void {
        const self: *InterruptRecorder = @ptrCast(@alignCast(context.?));
        if (level and !self.level) self.rises += 1;
        self.level = level;
    }

    fn sink(self: *InterruptRecorder) InterruptSink {
        return .{ .context = self, .setLevelFn = setLevel };
    }
};

const guard_bytes = 256;
const guard_value: u8 = 0xA5;
const test_vram_bytes: u32 = 4 << 20;
const test_fifo_bytes: u32 = 256 << 10;

/// A device over video and FIFO memory fenced by guard bytes, driven through its BAR0 ports.
const Bench = struct {
    vram_store: []u8,
    fifo_store: []u8,
    svga: Svga,
    interrupt: InterruptRecorder = .{},
    handler: pci.Handler = undefined,

    fn create(vram_bytes: u32, fifo_bytes: u32) !*Bench {
        const bench = try testing.allocator.create(Bench);
        errdefer testing.allocator.destroy(bench);
        bench.vram_store = try testing.allocator.alloc(u8, vram_bytes + 2 * guard_bytes);
        errdefer testing.allocator.free(bench.vram_store);
        bench.fifo_store = try testing.allocator.alloc(u8, fifo_bytes + 2 * guard_bytes);
        @memset(bench.vram_store, guard_value);
        @memset(bench.fifo_store, guard_value);
        bench.interrupt = .{};
        const video = bench.vram_store[guard_bytes..][0..vram_bytes];
        const commands = bench.fifo_store[guard_bytes..][0..fifo_bytes];
        @memset(video, 0);
        @memset(commands, 0);
        bench.svga = Svga.init(video, commands, bench.interrupt.sink());
        bench.handler = bench.svga.pciHandler();
        return bench;
    }

    fn destroy(self: *Bench) void {
        testing.allocator.free(self.vram_store);
        testing.allocator.free(self.fifo_store);
        testing.allocator.destroy(self);
    }

    fn guardsIntact(self: *const Bench) bool {
        for ([_][]const u8{ self.vram_store, self.fifo_store }) |store| {
            for (store[0..guard_bytes]) |b| if (b != guard_value) return false;
            for (store[store.len - guard_bytes ..]) |b| if (b != guard_value) return false;
        }
        return true;
    }

    fn vram(self: *Bench) []u8 {
        return self.svga.vram;
    }

    fn portWrite(self: *Bench, offset: u32, value: u32) void {
        var bytes: [4]u8 = undefined;
        std.mem.writeInt(u32, &bytes, value, .little);
        self.handler.writeFn(self.handler.context, io_bar, offset, &bytes);
    }

    fn portRead(self: *Bench, offset: u32) u32 {
        var bytes: [4]u8 = undefined;
        self.handler.readFn(self.handler.context, io_bar, offset, &bytes);
        return std.mem.readInt(u32, &bytes, .little);
    }

    fn write(self: *Bench, register: u32, value: u32) void {
        self.portWrite(Port.index, register);
        self.portWrite(Port.value, value);
    }

    fn read(self: *Bench, register: u32) u32 {
        self.portWrite(Port.index, register);
        return self.portRead(Port.value);
    }

    fn fifoGet(self: *Bench, register: u32) u32 {
        return std.mem.readInt(u32, self.svga.fifo[register * 4 ..][0..4], .little);
    }

    fn fifoSet(self: *Bench, register: u32, value: u32) void {
        std.mem.writeInt(u32, self.svga.fifo[register * 4 ..][0..4], value, .little);
    }

    /// Appends words at NEXT_CMD the way vmwgfx does with FIFO_CAP_RESERVE: data, then NEXT_CMD.
    fn push(self: *Bench, words: []const u32) void {
        const min = self.fifoGet(Fifo.min);
        const max = self.fifoGet(Fifo.max);
        var next = self.fifoGet(Fifo.next_cmd);
        for (words) |word| {
            std.mem.writeInt(u32, self.svga.fifo[next..][0..4], word, .little);
            next += 4;
            if (next == max) next = min;
        }
        self.fifoSet(Fifo.next_cmd, next);
    }

    /// Pings the device as vmw_fifo_ping_host does, then waits on BUSY as a full sync does.
    fn sync(self: *Bench) !void {
        self.fifoSet(Fifo.busy, 1);
        self.write(Reg.sync, 1);
        try testing.expectEqual(@as(u32, 0), self.read(Reg.busy));
        try testing.expectEqual(@as(u32, 0), self.fifoGet(Fifo.busy));
    }

    /// vmwgfx's probe: vmw_detect_version, the capability reads, vmw_device_init, vmw_fifo_create.
    fn probe(self: *Bench) !void {
        self.write(Reg.id, id_2);
        try testing.expectEqual(id_2, self.read(Reg.id));
        const caps = self.read(Reg.capabilities);
        try testing.expect(caps & Cap.extended_fifo != 0 and caps & Cap.irq_mask != 0);
        try testing.expectEqual(@as(u32, @intCast(self.svga.vram.len)), self.read(Reg.vram_size));
        const mem_size = self.read(Reg.mem_size);
        try testing.expectEqual(@as(u32, @intCast(self.svga.fifo.len)), mem_size);
        try testing.expect(self.read(Reg.max_width) >= 800 and self.read(Reg.max_height) >= 600);
        self.write(Reg.enable, Enable.enable | Enable.hide);
        self.write(Reg.traces, 0);
        const min = @max(self.read(Reg.mem_regs) << 2, 4096);
        self.fifoSet(Fifo.min, min);
        self.fifoSet(Fifo.max, mem_size);
        self.fifoSet(Fifo.next_cmd, min);
        self.fifoSet(Fifo.stop, min);
        self.fifoSet(Fifo.busy, 0);
        self.write(Reg.config_done, 1);
        try testing.expect(self.fifoGet(Fifo.min) < self.fifoGet(Fifo.max));
        try testing.expectEqual(fifo_capabilities, self.fifoGet(Fifo.capabilities));
        try testing.expectEqual(@as(u32, 0), self.fifoGet(Fifo.hw_version_3d));
    }

    /// vmw_kms_write_svga for an XRGB8888 mode, then vmw_svga_enable.
    fn setMode(self: *Bench, width: u32, height: u32) !void {
        self.write(Reg.pitchlock, width * 4);
        self.write(Reg.width, width);
        self.write(Reg.height, height);
        self.write(Reg.bits_per_pixel, 32);
        try testing.expectEqual(@as(u32, 24), self.read(Reg.depth));
        self.write(Reg.enable, Enable.enable);
    }

    fn pixel(self: *Bench, x: u32, y: u32) u32 {
        const pitch = self.read(Reg.bytes_per_line);
        return std.mem.readInt(u32, self.vram()[y * pitch + x * 4 ..][0..4], .little);
    }
};

test "vmwgfx probe, mode set and UPDATE" {
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    try testing.expectEqual(@as(?display.LinearLayout, null), bench.svga.frameLayout());
    try bench.probe();
    // Hidden: the FIFO runs, the VGA still shows.
    try testing.expectEqual(@as(?display.LinearLayout, null), bench.svga.frameLayout());
    try bench.setMode(1024, 768);
    try testing.expectEqual(@as(u32, 4096), bench.read(Reg.bytes_per_line));
    try testing.expectEqual(@as(u32, 4096 * 768), bench.read(Reg.fb_size));
    try testing.expectEqual(@as(u32, 0), bench.read(Reg.fb_offset));
    const layout = bench.svga.frameLayout().?;
    try testing.expectEqual(display.LinearLayout{ .offset = 0, .pitch_bytes = 4096, .width = 1024, .height = 768, .format = .bgrx32 }, layout);
    const before = bench.svga.generation;
    bench.push(&.{ Cmd.update, 0, 0, 1024, 768 });
    try bench.sync();
    try testing.expect(bench.svga.generation != before);
    try testing.expectEqual(bench.fifoGet(Fifo.next_cmd), bench.fifoGet(Fifo.stop));
    try testing.expect(bench.guardsIntact());
}

test "ID negotiation keeps to the versions this device speaks" {
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    bench.write(Reg.id, 0x9000_0003);
    try testing.expectEqual(id_2, bench.read(Reg.id));
    bench.write(Reg.id, id_1);
    try testing.expectEqual(id_1, bench.read(Reg.id));
    bench.write(Reg.id, id_0);
    try testing.expectEqual(id_1, bench.read(Reg.id));
    bench.write(Reg.id, id_2);
    try testing.expectEqual(id_2, bench.read(Reg.id));
}

test "registers: masks, depth, pitch, scratch and palette" {
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    try testing.expectEqual(@as(u32, 0xFF0000), bench.read(Reg.red_mask));
    bench.write(Reg.bits_per_pixel, 16);
    try testing.expectEqual(@as(u32, 16), bench.read(Reg.depth));
    try testing.expectEqual(@as(u32, 0x07E0), bench.read(Reg.green_mask));
    bench.write(Reg.width, 1001);
    try testing.expectEqual(@as(u32, 2004), bench.read(Reg.bytes_per_line));
    bench.write(Reg.bits_per_pixel, 8);
    try testing.expectEqual(@as(u32, 1), bench.read(Reg.pseudocolor));
    try testing.expectEqual(@as(u32, 1004), bench.read(Reg.bytes_per_line));
    bench.write(Reg.bits_per_pixel, 24); // not offered: unchanged
    try testing.expectEqual(@as(u32, 8), bench.read(Reg.bits_per_pixel));
    bench.write(Reg.scratch_base + 3, 0x1234);
    try testing.expectEqual(@as(u32, 0x1234), bench.read(Reg.scratch_base + 3));
    bench.write(Reg.palette_base + 3, 0x1FF);
    try testing.expectEqual(@as(u32, 0xFF), bench.read(Reg.palette_base + 3));
    var palette: [256][3]u8 = undefined;
    bench.svga.copyPalette(&palette);
    try testing.expectEqual([3]u8{ 0xFF, 0, 0 }, palette[1]);
    try testing.expectEqual(@as(u32, 0), bench.read(Reg.scratch_base + Reg.scratch_count));
    try testing.expectEqual(@as(u32, Fifo.num_regs), bench.read(Reg.mem_regs));
}

test "the mode limit follows the video memory" {
    const bench = try Bench.create(1 << 20, 64 << 10);
    defer bench.destroy();
    const width = bench.read(Reg.max_width);
    const height = bench.read(Reg.max_height);
    try testing.expect(@as(u64, width) * height * 4 < 1 << 20);
    bench.write(Reg.width, width + 1);
    bench.write(Reg.enable, Enable.enable);
    try testing.expectEqual(@as(?display.LinearLayout, null), bench.svga.frameLayout());
    bench.write(Reg.width, width);
    bench.write(Reg.height, height);
    try testing.expect(bench.svga.frameLayout() != null);
    // Larger memories offer larger limits, each the largest standard mode that fits.
    const video = try testing.allocator.alloc(u8, 16 << 20);
    defer testing.allocator.free(video);
    var commands: [64 << 10]u8 = undefined;
    const expected = [_][3]u32{
        .{ 1, 640, 400 },   .{ 2, 800, 600 },    .{ 4, 1280, 800 },
        .{ 8, 1920, 1080 }, .{ 16, 2560, 1600 },
    };
    for (expected) |case| {
        const svga = Svga.init(video[0 .. case[0] << 20], &commands, .{});
        try testing.expectEqual(case[1], svga.max_width);
        try testing.expectEqual(case[2], svga.max_height);
    }
}

test "PCI function: BARs and identity; FB_START and MEM_START follow them" {
    var function = initPciFunction(test_vram_bytes, test_fifo_bytes);
    try testing.expectEqual(@as(u16, 0x15AD), function.get16(pci.Config.vendor_id));
    try testing.expectEqual(@as(u16, 0x0405), function.get16(pci.Config.device_id));
    try testing.expectEqual(pci.BarKind.io, function.bars[io_bar].kind);
    try testing.expectEqual(io_bytes, function.bars[io_bar].size);
    try testing.expectEqual(test_vram_bytes, function.bars[vram_bar].size);
    try testing.expectEqual(test_fifo_bytes, function.bars[fifo_bar].size);
    function.put32(pci.Config.bar0 + 4, 0xE000_0000);
    function.put32(pci.Config.bar0 + 8, 0xE100_0000);
    function.put16(pci.Config.command, pci.command_memory | pci.command_io);
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    bench.svga.connect(&function);
    try testing.expectEqual(@as(u32, 0xE000_0000), bench.read(Reg.fb_start));
    try testing.expectEqual(@as(u32, 0xE100_0000), bench.read(Reg.mem_start));
}

test "RECT_FILL and RECT_COPY draw inside the mode, overlapping copies included" {
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    try bench.probe();
    try bench.setMode(640, 480);
    bench.push(&.{ Cmd.rect_fill, 0x00112233, 10, 20, 4, 3 });
    try bench.sync();
    try testing.expectEqual(@as(u32, 0x00112233), bench.pixel(10, 20));
    try testing.expectEqual(@as(u32, 0x00112233), bench.pixel(13, 22));
    try testing.expectEqual(@as(u32, 0), bench.pixel(14, 22));
    try testing.expectEqual(@as(u32, 0), bench.pixel(10, 23));
    // A row 0..9 of distinct pixels, copied one to the right onto itself.
    for (0..10) |x| bench.push(&.{ Cmd.rect_fill, @intCast(x + 1), @intCast(x), 100, 1, 1 });
    bench.push(&.{ Cmd.rect_copy, 0, 100, 1, 100, 10, 1 });
    try bench.sync();
    try testing.expectEqual(@as(u32, 1), bench.pixel(0, 100));
    for (1..11) |x| try testing.expectEqual(@as(u32, @intCast(x)), bench.pixel(@intCast(x), 100));
    // Downward overlapping copy of a column.
    for (0..5) |y| bench.push(&.{ Cmd.rect_fill, @intCast(0x100 + y), 300, @intCast(200 + y), 1, 1 });
    bench.push(&.{ Cmd.rect_rop_copy, 300, 200, 300, 202, 1, 5, rop_copy });
    try bench.sync();
    for (0..5) |y| try testing.expectEqual(@as(u32, @intCast(0x100 + y)), bench.pixel(300, @intCast(202 + y)));
    // Clipped at the right and bottom edges; entirely outside: nothing (a fill at x = 640 would
    // land on (0, 1), the next row).
    bench.push(&.{ Cmd.rect_fill, 0xABCDEF, 638, 478, 0xFFFF_FFFF, 0xFFFF_FFFF });
    bench.push(&.{ Cmd.rect_fill, 0x123456, 640, 0, 10, 10 });
    bench.push(&.{ Cmd.rect_copy, 638, 478, 100, 300, 0xFFFF_FFFF, 0xFFFF_FFFF });
    bench.push(&.{ Cmd.rect_copy, 0, 0, 0, 480, 1, 1 });
    try bench.sync();
    try testing.expectEqual(@as(u32, 0xABCDEF), bench.pixel(638, 478));
    try testing.expectEqual(@as(u32, 0xABCDEF), bench.pixel(639, 479));
    try testing.expectEqual(@as(u32, 0), bench.pixel(637, 479));
    try testing.expectEqual(@as(u32, 0xABCDEF), bench.pixel(100, 300));
    try testing.expectEqual(@as(u32, 0xABCDEF), bench.pixel(101, 301));
    try testing.expectEqual(@as(u32, 0), bench.pixel(102, 300));
    try testing.expectEqual(@as(u32, 0), bench.pixel(100, 302));
    try testing.expectEqual(@as(u32, 0), bench.pixel(0, 1));
    try testing.expect(bench.guardsIntact());
}

test "alpha cursor through the FIFO, positioned by cursor bypass 3" {
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    try bench.probe();
    try bench.setMode(800, 600);
    try testing.expectEqual(@as(?display.Cursor, null), bench.svga.cursor());
    var command = [_]u32{ Cmd.define_alpha_cursor, 0, 1, 2, 2, 3 } ++ [_]u32{0} ** 6;
    command[6] = 0xFF00FF00; // opaque green
    command[7] = 0x80400000; // half-transparent red, premultiplied
    bench.push(&command);
    try bench.sync();
    bench.fifoSet(Fifo.cursor_on, 1);
    bench.fifoSet(Fifo.cursor_x, 50);
    bench.fifoSet(Fifo.cursor_y, @bitCast(@as(i32, -3)));
    bench.fifoSet(Fifo.cursor_count, bench.fifoGet(Fifo.cursor_count) + 1);
    const shown = bench.svga.cursor().?;
    try testing.expectEqual(@as(i32, 50), shown.x);
    try testing.expectEqual(@as(i32, -3), shown.y);
    try testing.expectEqual(@as(u32, 1), shown.hot_x);
    try testing.expectEqual(@as(u32, 2), shown.hot_y);
    try testing.expectEqual(@as(u32, 2), shown.width);
    try testing.expectEqual(@as(u32, 3), shown.height);
    try testing.expectEqual(@as(u32, 0xFF00FF00), shown.pixels[0]);
    try testing.expectEqual(@as(u32, 0x807F0000), shown.pixels[1]);
    // A hot spot outside the image is clamped into it (display.Cursor.valid asks for that).
    bench.push(&.{ Cmd.define_alpha_cursor, 0, 9, 0xFFFF_FFFF, 1, 1, 0xFFFFFFFF });
    try bench.sync();
    const clamped = bench.svga.cursor().?;
    try testing.expectEqual(@as(u32, 0), clamped.hot_x);
    try testing.expectEqual(@as(u32, 0), clamped.hot_y);
    try testing.expectEqual(@as(u32, 1), clamped.width);
    bench.fifoSet(Fifo.cursor_on, 0);
    bench.fifoSet(Fifo.cursor_count, bench.fifoGet(Fifo.cursor_count) + 1);
    try testing.expectEqual(@as(?display.Cursor, null), bench.svga.cursor());
}

test "AND/XOR cursor at 1 and 32 bits, positioned through the legacy registers" {
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    try bench.probe();
    try bench.setMode(800, 600);
    // 2 × 2, 1-bit masks. AND rows: 0b01.., 0b10..; XOR rows: 0b11.., 0b00..
    bench.push(&.{ Cmd.define_cursor, 0, 0, 0, 2, 2, 1, 1, 0x40, 0x80, 0xC0, 0x00 });
    try bench.sync();
    bench.write(Reg.cursor_x, 7);
    bench.write(Reg.cursor_y, 9);
    bench.write(Reg.cursor_on, 1);
    var shown = bench.svga.cursor().?;
    try testing.expectEqual(@as(i32, 7), shown.x);
    // (0,0): AND 0, XOR 1 → white. (1,0): AND 1, XOR 1 → inverting, drawn white.
    // (0,1): AND 1, XOR 0 → transparent. (1,1): AND 0, XOR 0 → black.
    try testing.expectEqualSlices(u32, &.{ 0xFFFFFFFF, 0xFFFFFFFF, 0, 0xFF000000 }, shown.pixels);
    // 1 × 2 with a 1-bit AND mask and a 32-bit XOR mask.
    bench.push(&.{ Cmd.define_cursor, 0, 0, 0, 1, 2, 1, 32, 0x00, 0x80, 0x00123456, 0x00654321 });
    try bench.sync();
    shown = bench.svga.cursor().?;
    try testing.expectEqualSlices(u32, &.{ 0xFF123456, 0xFF654321 }, shown.pixels);
    bench.write(Reg.cursor_on, 0);
    try testing.expectEqual(@as(?display.Cursor, null), bench.svga.cursor());
}

test "commands wrap from MAX to MIN" {
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    try bench.probe();
    try bench.setMode(640, 480);
    const max = bench.fifoGet(Fifo.max);
    // Three words before MAX: the fill's last three words land at MIN.
    bench.fifoSet(Fifo.next_cmd, max - 12);
    bench.fifoSet(Fifo.stop, max - 12);
    bench.push(&.{ Cmd.rect_fill, 0x0077_7777, 5, 6, 1, 1 });
    try testing.expectEqual(bench.fifoGet(Fifo.min) + 12, bench.fifoGet(Fifo.next_cmd));
    try bench.sync();
    try testing.expectEqual(@as(u32, 0x777777), bench.pixel(5, 6));
    try testing.expectEqual(bench.fifoGet(Fifo.next_cmd), bench.fifoGet(Fifo.stop));
}

test "fences: FIFO_FENCE, ANY_FENCE and FENCE_GOAL interrupts, status write-1-to-clear" {
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    try bench.probe();
    // Masked: the fence passes, no status, no interrupt.
    bench.push(&.{ Cmd.fence, 7 });
    try bench.sync();
    try testing.expectEqual(@as(u32, 7), bench.fifoGet(Fifo.fence));
    try testing.expectEqual(@as(u32, 0), bench.portRead(Port.irq_status));
    try testing.expect(!bench.interrupt.level);
    bench.write(Reg.irq_mask, Irq.any_fence | Irq.fence_goal | 0x8000_0000);
    try testing.expectEqual(Irq.any_fence | Irq.fence_goal, bench.read(Reg.irq_mask));
    bench.fifoSet(Fifo.fence_goal, 9);
    bench.push(&.{ Cmd.fence, 8 });
    try bench.sync();
    try testing.expectEqual(Irq.any_fence, bench.portRead(Port.irq_status));
    try testing.expect(bench.interrupt.level);
    bench.portWrite(Port.irq_status, Irq.any_fence);
    try testing.expect(!bench.interrupt.level);
    bench.push(&.{ Cmd.fence, 9 });
    try bench.sync();
    try testing.expectEqual(Irq.any_fence | Irq.fence_goal, bench.portRead(Port.irq_status));
    try testing.expectEqual(@as(u32, 2), bench.interrupt.rises);
    // Masking the causes drops the line; the status stays until cleared.
    bench.write(Reg.irq_mask, 0);
    try testing.expect(!bench.interrupt.level);
    bench.portWrite(Port.irq_status, 0xFFFF_FFFF);
    try testing.expectEqual(@as(u32, 0), bench.portRead(Port.irq_status));
    // FIFO progress.
    bench.write(Reg.irq_mask, Irq.fifo_progress);
    bench.push(&.{Cmd.nop});
    bench.svga.poll();
    try testing.expectEqual(Irq.fifo_progress, bench.portRead(Port.irq_status));
    try testing.expect(bench.interrupt.level);
}

test "a command written word by word waits for its last word" {
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    try bench.probe();
    try bench.setMode(640, 480);
    const start = bench.fifoGet(Fifo.stop);
    bench.push(&.{ Cmd.rect_fill, 0x00ABCDEF, 1, 1 });
    bench.write(Reg.sync, 1);
    try testing.expectEqual(@as(u32, 1), bench.read(Reg.busy));
    try testing.expectEqual(start, bench.fifoGet(Fifo.stop));
    try testing.expectEqual(@as(u32, 0), bench.pixel(1, 1));
    bench.push(&.{1});
    bench.svga.poll();
    try testing.expectEqual(@as(u32, 1), bench.read(Reg.busy));
    bench.push(&.{1});
    try bench.sync();
    try testing.expectEqual(@as(u32, 0xABCDEF), bench.pixel(1, 1));
}

test "an unknown command stops the FIFO until CONFIG_DONE again" {
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    try bench.probe();
    try bench.setMode(640, 480);
    const generation = bench.svga.generation;
    bench.push(&.{ 0x1234, Cmd.update, 0, 0, 1, 1 });
    try bench.sync();
    try testing.expectEqual(generation, bench.svga.generation);
    try testing.expect(bench.fifoGet(Fifo.stop) != bench.fifoGet(Fifo.next_cmd));
    // The guest resets its FIFO and configures it again.
    bench.write(Reg.config_done, 0);
    const min = bench.fifoGet(Fifo.min);
    bench.fifoSet(Fifo.next_cmd, min);
    bench.fifoSet(Fifo.stop, min);
    bench.write(Reg.config_done, 1);
    bench.push(&.{ Cmd.update, 0, 0, 1, 1 });
    try bench.sync();
    try testing.expect(bench.svga.generation != generation);
}

test "commands longer than the ring stop the FIFO; oversized cursors are skipped" {
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    try bench.probe();
    try bench.setMode(640, 480);
    // 300 × 1 alpha cursor: fits the ring, too wide for the cursor buffer: consumed, not defined.
    var wide = [_]u32{ Cmd.define_alpha_cursor, 0, 0, 0, 300, 1 } ++ [_]u32{0xFFFFFFFF} ** 300;
    bench.push(&wide);
    try bench.sync();
    try testing.expectEqual(bench.fifoGet(Fifo.next_cmd), bench.fifoGet(Fifo.stop));
    try testing.expect(!bench.svga.cursor_defined);
    // Absurd sizes: can never be complete.
    bench.push(&.{ Cmd.define_alpha_cursor, 0, 0, 0, 0xFFFF_FFFF, 0xFFFF_FFFF });
    try bench.sync();
    try testing.expect(bench.svga.fifo_error);
    bench.write(Reg.config_done, 0);
    bench.fifoSet(Fifo.stop, bench.fifoGet(Fifo.next_cmd));
    bench.write(Reg.config_done, 1);
    bench.push(&.{ Cmd.define_cursor, 0, 0, 0, 0x8000_0000, 0x8000_0000, 32, 32 });
    try bench.sync();
    try testing.expect(bench.svga.fifo_error);
    bench.write(Reg.config_done, 0);
    bench.fifoSet(Fifo.stop, bench.fifoGet(Fifo.next_cmd));
    bench.write(Reg.config_done, 1);
    // A payload length that saturates 64 bits.
    bench.push(&.{ Cmd.define_cursor, 0, 0, 0, 0xFFFF_FFFF, 0xFFFF_FFFF, 32, 32 });
    try bench.sync();
    try testing.expect(bench.svga.fifo_error);
    bench.write(Reg.config_done, 0);
    bench.fifoSet(Fifo.stop, bench.fifoGet(Fifo.next_cmd));
    bench.write(Reg.config_done, 1);
    bench.push(&.{ Cmd.define_cursor, 0, 0, 0, 2, 2, 7, 1 }); // depth 7: undefined layout
    try bench.sync();
    try testing.expect(bench.svga.fifo_error);
    try testing.expect(bench.guardsIntact());
}

test "garbage FIFO pointers are ignored and BUSY still clears" {
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    try bench.probe();
    const cases = [_][4]u32{
        .{ 4096, 4096, 4096, 4096 }, // empty ring
        .{ 8192, 4096, 4096, 4096 }, // MIN above MAX
        .{ 4097, test_fifo_bytes, 4100, 4100 }, // unaligned
        .{ 4096, test_fifo_bytes + 4, 4096, 4100 }, // MAX past BAR2
        .{ 4096, test_fifo_bytes, test_fifo_bytes, 4096 }, // NEXT_CMD at MAX
        .{ 4096, test_fifo_bytes, 4096, 0 }, // STOP below MIN
        .{ 0, test_fifo_bytes, 4, 8 }, // MIN over the registers
        .{ 0xFFFF_FFFC, 0xFFFF_FFFC, 0xFFFF_FFFC, 0 },
    };
    for (cases) |case| {
        bench.fifoSet(Fifo.min, case[0]);
        bench.fifoSet(Fifo.max, case[1]);
        bench.fifoSet(Fifo.next_cmd, case[2]);
        bench.fifoSet(Fifo.stop, case[3]);
        bench.write(Reg.sync, 1);
        try testing.expectEqual(@as(u32, 0), bench.read(Reg.busy));
        try testing.expectEqual(case[3], bench.fifoGet(Fifo.stop));
        bench.svga.poll();
    }
    try testing.expect(bench.guardsIntact());
}

test "absurd modes and pitches never reach outside video memory" {
    // The smallest video memory that holds vmwgfx's 800 × 600 × 32 initial mode.
    const vram_bytes: u32 = 2 << 20;
    const bench = try Bench.create(vram_bytes, 64 << 10);
    defer bench.destroy();
    try bench.probe();
    const modes = [_][3]u32{
        .{ 0xFFFF_FFFF, 0xFFFF_FFFF, 0 },
        .{ 320, 200, 1 }, // pitch below a row
        .{ 320, 200, 0xFFFF_FFFF },
        .{ 320, 200, 1 << 20 },
        .{ 0, 200, 0 },
        .{ 320, 0, 0 },
    };
    for (modes) |mode| {
        bench.write(Reg.width, mode[0]);
        bench.write(Reg.height, mode[1]);
        bench.write(Reg.pitchlock, mode[2]);
        bench.write(Reg.enable, Enable.enable);
        try testing.expectEqual(@as(?display.LinearLayout, null), bench.svga.frameLayout());
        _ = bench.read(Reg.bytes_per_line);
        _ = bench.read(Reg.fb_size);
        bench.push(&.{ Cmd.rect_fill, 0xFFFFFFFF, 0, 0, 0xFFFF_FFFF, 0xFFFF_FFFF });
        bench.push(&.{ Cmd.rect_copy, 0, 0, 1, 1, 0xFFFF_FFFF, 0xFFFF_FFFF });
        try bench.sync();
    }
    // The largest mode the device offers, at the largest pitch that still fits.
    const width = bench.read(Reg.max_width);
    const height = bench.read(Reg.max_height);
    bench.write(Reg.width, width);
    bench.write(Reg.height, height);
    try testing.expectEqual(@as(u32, 800), width);
    try testing.expectEqual(@as(u32, 600), height);
    bench.write(Reg.pitchlock, vram_bytes / height);
    try testing.expect(bench.svga.frameLayout() != null);
    bench.push(&.{ Cmd.rect_fill, 0xFFFFFFFF, 0, 0, 0xFFFF_FFFF, 0xFFFF_FFFF });
    bench.push(&.{ Cmd.rect_copy, 0, 0, 1, 1, 0xFFFF_FFFF, 0xFFFF_FFFF });
    try bench.sync();
    try testing.expect(bench.guardsIntact());
}

test "port accesses of the wrong width or offset are refused" {
    const bench = try Bench.create(test_vram_bytes, test_fifo_bytes);
    defer bench.destroy();
    var byte = [1]u8{0};
    bench.handler.readFn(bench.handler.context, io_bar, Port.value, &byte);
    try testing.expectEqual(@as(u8, 0xFF), byte[0]);
    bench.handler.writeFn(bench.handler.context, io_bar, Port.index, &byte);
    try testing.expectEqual(@as(u32, 0xFFFF_FFFF), bench.portRead(4));
    bench.portWrite(12, 1);
    // Byte read, byte write, and the two offsets that are no port.
    try testing.expectEqual(@as(u32, 4), bench.svga.bad_accesses);
    try testing.expectEqual(@as(u32, 0), bench.portRead(Port.bios));
    var word: [4]u8 = undefined;
    bench.handler.readFn(bench.handler.context, 5, 0, &word);
    try testing.expectEqual(@as(u32, 0xFFFF_FFFF), std.mem.readInt(u32, &word, .little));
    // Trapped BAR1/BAR2 accesses stay inside the memory.
    bench.handler.writeFn(bench.handler.context, vram_bar, test_vram_bytes - 2, &word);
    bench.handler.readFn(bench.handler.context, fifo_bar, test_fifo_bytes - 2, &word);
    try testing.expect(bench.guardsIntact());
}

test "a FIFO full of full-screen fills is done in bounded passes" {
    const bench = try Bench.create(16 << 20, test_fifo_bytes);
    defer bench.destroy();
    try bench.probe();
    try bench.setMode(2048, 1536);
    var count: u32 = 0;
    while (count < 400) : (count += 1) bench.push(&.{ Cmd.rect_fill, count, 0, 0, 2048, 1536 });
    bench.write(Reg.sync, 1);
    // One pass stops at the work budget, well short of the queue.
    try testing.expectEqual(@as(u32, 1), bench.read(Reg.busy));
    var passes: u32 = 0;
    while (bench.read(Reg.busy) != 0) : (passes += 1) try testing.expect(passes < 400);
    try testing.expectEqual(@as(u32, 399), bench.pixel(2047, 1535));
}

/// Writes a run of commands at STOP for the random-traffic test: known ids (now and then an
/// unknown one), fields that are small, edge values or noise, payloads of random length, then
/// moves NEXT_CMD behind them. The pointers are sane but arbitrary, so commands wrap at MAX.
fn pushRandomCommands(bench: *Bench, random: std.Random, interesting: []const u32) void {
    const fifo_bytes: u32 = @intCast(bench.svga.fifo.len);
    const min = 4 * (Fifo.num_regs + random.uintLessThan(u32, 64));
    const max = fifo_bytes - 4 * random.uintLessThan(u32, 4096);
    const stop = min + 4 * random.uintLessThan(u32, (max - min) / 4);
    bench.fifoSet(Fifo.min, min);
    bench.fifoSet(Fifo.max, max);
    bench.fifoSet(Fifo.stop, stop);
    bench.fifoSet(Fifo.next_cmd, stop);
    bench.write(Reg.config_done, 0);
    bench.write(Reg.config_done, 1);
    const ids = [_]u32{ 1, 2, 3, 14, 19, 22, 25, 30, 33, 45 };
    var words: [128]u32 = undefined;
    for (0..1 + random.uintLessThan(u32, 8)) |_| {
        const id = if (random.uintLessThan(u8, 32) == 0) random.int(u32) else ids[random.uintLessThan(usize, ids.len)];
        words[0] = id;
        for (words[1..]) |*word| word.* = switch (random.uintLessThan(u8, 4)) {
            0 => interesting[random.uintLessThan(usize, interesting.len)],
            1 => random.int(u32),
            else => random.uintLessThan(u32, 700),
        };
        // Mostly well-formed: small cursors of known depths, short escapes, the exact length.
        var count = 1 + random.uintLessThan(usize, words.len - 1);
        if (fieldCount(id)) |fields| if (random.uintLessThan(u8, 16) != 0) {
            const depths = [_]u32{ 1, 8, 16, 24, 32 };
            const payload: u64 = switch (id) {
                Cmd.define_cursor => blk: {
                    words[4] = 1 + random.uintLessThan(u32, 5);
                    words[5] = 1 + random.uintLessThan(u32, 5);
                    words[6] = depths[random.uintLessThan(usize, depths.len)];
                    words[7] = depths[random.uintLessThan(usize, depths.len)];
                    break :blk words[5] * (rowWords(words[4], words[6]) + rowWords(words[4], words[7]));
                },
                Cmd.define_alpha_cursor => blk: {
                    words[4] = 1 + random.uintLessThan(u32, 10);
                    words[5] = 1 + random.uintLessThan(u32, 10);
                    break :blk words[4] * words[5];
                },
                Cmd.escape => blk: {
                    words[2] = random.uintLessThan(u32, 64);
                    break :blk (words[2] + 3) / 4;
                },
                else => 0,
            };
            count = @intCast(1 + fields + payload);
        };
        bench.push(words[0..count]);
    }
}

test "random register, port and FIFO traffic never panics or escapes its memory" {
    const bench = try Bench.create(2 << 20, 64 << 10);
    defer bench.destroy();
    var prng = std.Random.DefaultPrng.init(0x5647_4132);
    const random = prng.random();
    const interesting = [_]u32{ 0, 1, 2, 3, 4, 0x40, 0x80, 0xFFF, 0x1000, 0xFFFF, 1 << 20, 0x7FFF_FFFF, 0xFFFF_FFFC, 0xFFFF_FFFF };
    var executed: u64 = 0;
    for (0..4000) |round| {
        const value = if (random.boolean()) interesting[random.uintLessThan(usize, interesting.len)] else random.int(u32);
        switch (random.uintLessThan(u8, 12)) {
            0, 1 => bench.write(random.uintLessThan(u32, 60), value),
            2 => bench.write(random.uintLessThan(u32, 2000), value),
            3 => bench.portWrite(random.uintLessThan(u32, io_bytes), value),
            4 => _ = bench.read(random.uintLessThan(u32, 2000)),
            5 => bench.fifoSet(random.uintLessThan(u32, Fifo.num_regs), value),
            6 => {
                // A mode that mostly fits, so that fills, copies and cursors draw.
                const modes = [_][2]u32{ .{ 640, 480 }, .{ 800, 600 }, .{ 320, 200 }, .{ 1, 1 }, .{ 801, 601 } };
                const mode = modes[random.uintLessThan(usize, modes.len)];
                const depths = [_]u32{ 8, 16, 32 };
                bench.write(Reg.width, mode[0]);
                bench.write(Reg.height, mode[1]);
                bench.write(Reg.bits_per_pixel, depths[random.uintLessThan(usize, depths.len)]);
                bench.write(Reg.pitchlock, if (random.boolean()) 0 else value);
                bench.write(Reg.enable, Enable.enable);
            },
            7, 8 => {
                const before = bench.svga.generation;
                pushRandomCommands(bench, random, &interesting);
                if (random.boolean()) bench.write(Reg.sync, 1) else bench.svga.poll();
                executed += bench.svga.generation -% before;
            },
            9 => {
                // Garbage in the whole ring, read as commands from wherever STOP points.
                for (0..64) |_| {
                    const word = Fifo.num_regs + random.uintLessThan(u32, @intCast(bench.svga.fifo.len / 4 - Fifo.num_regs));
                    bench.fifoSet(word, if (random.boolean()) random.uintLessThan(u32, 50) else value);
                }
                bench.svga.poll();
            },
            10 => bench.svga.poll(),
            else => {
                _ = bench.svga.frameLayout();
                if (bench.svga.cursor()) |shown| try testing.expect(shown.valid());
            },
        }
        if (round % 500 == 0) try testing.expect(bench.guardsIntact());
    }
    // The traffic reached the command handlers, not only the decoder.
    try testing.expect(executed > 500);
    try testing.expect(bench.guardsIntact());
}
