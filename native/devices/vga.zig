//! The VGA of QEMU's "std" adapter (PCI 1234:1111): the IBM VGA register file at 0x3B0-0x3DF, the
//! Bochs VBE "dispi" extension at 0x1CE/0x1CF (what Debian's vgabios-stdvga.bin programs), and the
//! legacy memory window 0xA0000-0xBFFFF onto the video memory (the PCI BAR): planes, latches,
//! write and read modes per byte in vga_memory.zig, the window's decoding, locking and the choice
//! of how the VM serves the window here. Where plain memory answers every access exactly
//! (`windowMapping`: odd/even text, chain-4 256-colour, a VBE bank) the VM maps memory instead of
//! trapping; in text modes that memory is a shadow in guest RAM, kept coherent with the planes on
//! every mapping change. `cp437Codepoint` names the character a text cell's byte shows.
const std = @import("std");
const assert = std.debug.assert;
const vga_memory = @import("vga_memory.zig");

/// The legacy register file: 0x3B0-0x3BF (monochrome), 0x3C0-0x3CF, 0x3D0-0x3DF (colour).
pub const legacy_port_base: u16 = 0x3B0;
pub const legacy_port_count: u16 = 0x30;
/// The Bochs VBE interface: offset 0 is the index port (0x1CE), offset 1 the data port (0x1CF).
pub const dispi_port_base: u16 = 0x1CE;
pub const dispi_port_count: u16 = 2;

/// Bounds on the text screen a dump shows (vga_render.textCells), whatever the guest programs.
pub const max_text_columns: u16 = 132;
pub const max_text_rows: u16 = 60;

/// How the VM serves the legacy window 0xA0000-0xBFFFF: where plain memory gives every CPU
/// access exactly what the chip would, it is mapped into the guest and accesses cost no exits.
pub const WindowMapping = union(enum) {
    /// Every access traps into `readMemory`/`writeMemory` (planar modes, font loading, any write
    /// mode but plain replace).
    mmio,
    /// Guest RAM at `gpa` (the same address in `legacy_ram`) holds the odd/even text window as
    /// the CPU sees it: byte a is plane a & 1, offset a >> 1. `absorbTextShadow` brings it back
    /// into the planes.
    text: struct { gpa: u32, len: u32 },
    /// Video memory from byte `vram_offset` on is mapped at `gpa`: chain 4, or a VBE bank.
    vram: struct { gpa: u32, vram_offset: u32, len: u32 },

    /// Same kind, same addresses and lengths.
    pub fn eql(a: WindowMapping, b: WindowMapping) bool {
        return std.meta.eql(a, b);
    }
};

/// Told about every change of `Vga.windowMapping()` once memory is attached, with the VGA's mutex
/// held: it must only swap the VM's memory slots, never call back into the VGA.
pub const WindowListener = struct {
    context: *anyopaque,
    changedFn: *const fn (context: *anyopaque, mapping: WindowMapping) void,
};

pub const Vga = struct {
    /// The dispi interface revisions a BIOS may ask for; the newest one is the default.
    pub const dispi_id_oldest: u16 = 0xB0C0;
    pub const dispi_id_newest: u16 = 0xB0C5;
    /// What GETCAPS reports: the limits of QEMU's std VGA, which vgabios-stdvga.bin checks its
    /// mode list against.
    pub const vbe_max_xres: u16 = 16000;
    pub const vbe_max_yres: u16 = 12000;
    pub const vbe_max_bpp: u16 = 32;

    /// Guards everything below: vCPU threads and the host's screen dump get here.
    mutex: std.Thread.Mutex = .{},
    /// Size of the adapter's video memory (the PCI BAR), a power of two.
    vram_bytes: u32,

    /// Miscellaneous output register (write 0x3C2, read 0x3CC). Bit 0 (I/O address select) puts
    /// the CRTC, input status 1 and feature control at 0x3Dx when set, at 0x3Bx when clear.
    misc_output: u8 = mode3.misc_output,
    /// Feature control (write 0x3xA, read 0x3CA): FC0 and FC1, recorded only.
    feature_control: u8 = 0,
    /// Video subsystem enable (0x3C3) bit 0, recorded only: the ports answer either way.
    vga_enable: u8 = 0x01,

    /// Sequencer address register (0x3C4) and its registers (0x3C5).
    sequencer_index: u8 = 0,
    sequencer: [sequencer_count]u8 = mode3.sequencer,
    /// Graphics controller address register (0x3CE) and its registers (0x3CF).
    graphics_index: u8 = 0,
    graphics: [graphics_count]u8 = mode3.graphics,
    /// CRT controller address register (0x3x4) and its registers (0x3x5).
    crtc_index: u8 = 0,
    crtc: [crtc_count]u8 = mode3.crtc,

    /// Attribute controller address register: bits 0-4 the register, bit 5 the palette address
    /// source (1 = the display owns the palette and the screen is on).
    attribute_index: u8 = attribute_palette_source,
    /// The 0x3C0 flip-flop: false while the next write is an index, true while it is data.
    /// Reading input status 1 sets it back to index.
    attribute_flip_flop_data: bool = false,
    attribute: [attribute_count]u8 = mode3.attribute,

    /// DAC pixel mask (0x3C6), ANDed with every pixel value on its way to the palette.
    dac_pixel_mask: u8 = 0xFF,
    /// DAC address read mode (write 0x3C7) and write mode (0x3C8) registers.
    dac_read_index: u8 = 0,
    dac_write_index: u8 = 0,
    /// Which of red (0), green (1), blue (2) the next 0x3C9 access reaches.
    dac_component: u8 = 0,
    /// The DAC state register (read 0x3C7): whether 0x3C7 (read) or 0x3C8 (write) was set last.
    dac_read_mode: bool = false,
    /// 256 entries of red, green, blue: 6 bits each, 8 with the dispi 8-bit DAC flag.
    dac_palette: [256][3]u8 = [_][3]u8{.{ 0, 0, 0 }} ** 256,

    /// Input status 1 alternates between active display and vertical retrace on every read.
    in_retrace: bool = false,

    /// The dispi index register (0x1CE) and the registers behind the data port (0x1CF).
    dispi_index: u16 = 0,
    vbe_id: u16 = dispi_id_newest,
    vbe_xres: u16 = 0,
    vbe_yres: u16 = 0,
    vbe_bpp: u16 = 0,
    vbe_enable: u16 = 0,
    vbe_bank: u16 = 0,
    vbe_virt_width: u16 = 0,
    vbe_virt_height: u16 = 0,
    vbe_x_offset: u16 = 0,
    vbe_y_offset: u16 = 0,

    /// Accesses with a width or offset that fits no register or window byte (saturating).
    bad_accesses: u32 = 0,

    /// The video memory (the PCI BAR's memory, at least `vram_bytes`) and the guest RAM behind
    /// 0xA0000-0xBFFFF, both empty until `attachMemory`.
    vram: []u8 = &.{},
    legacy_ram: []u8 = &.{},
    listener: ?WindowListener = null,
    /// The mapping the VM was last told about (`.mmio` until memory is attached).
    window: WindowMapping = .mmio,
    /// The graphics controller's four 8-bit latches, loaded by every read of the window.
    latches: [vga_memory.plane_count]u8 = .{ 0, 0, 0, 0 },
    /// Changes (wrapping) on every register write and every window write that reaches the
    /// device, so that the host can skip re-rendering an unchanged screen.
    display_generation: u64 = 0,

    const sequencer_count = 5;
    const graphics_count = 9;
    const crtc_count = 25;
    const attribute_count = 21;

    /// Address registers keep the bits the chip decodes.
    const sequencer_index_mask: u8 = 0x07;
    const graphics_index_mask: u8 = 0x0F;
    const crtc_index_mask: u8 = 0x1F;
    const attribute_register_mask: u8 = 0x1F;
    const attribute_palette_source: u8 = 0x20;
    const attribute_palette_count = 16;

    /// The bits each register holds; reserved bits read 0.
    const sequencer_masks = [sequencer_count]u8{
        0x03, // reset: synchronous, asynchronous
        0x3D, // clocking mode: 9/8 dots, shift/load rate, dot clock rate, shift four, screen off
        0x0F, // map mask
        0x3F, // character map select
        0x0E, // memory mode: extended memory, odd/even disable, chain 4
    };
    const graphics_masks = [graphics_count]u8{
        0x0F, // set/reset
        0x0F, // enable set/reset
        0x0F, // color compare
        0x1F, // data rotate: logical operation, rotate count
        0x03, // read map select
        0x7B, // graphics mode: write mode, read mode, host odd/even, shift register, 256 colour
        0x0F, // miscellaneous: alphanumeric disable, chain odd/even, memory map select
        0x0F, // color don't care
        0xFF, // bit mask
    };
    const attribute_masks = [_]u8{0x3F} ** attribute_palette_count ++ [_]u8{
        0xEF, // mode control (bit 4 reserved)
        0xFF, // overscan color
        0x3F, // color plane enable, video status mux
        0x0F, // horizontal pixel panning
        0x0F, // color select
    };

    const Port = struct {
        const crtc_index_mono: u16 = 0x3B4;
        const crtc_data_mono: u16 = 0x3B5;
        const status1_mono: u16 = 0x3BA;
        const attribute_write: u16 = 0x3C0;
        const attribute_read: u16 = 0x3C1;
        const misc_write_status0: u16 = 0x3C2;
        const vga_enable: u16 = 0x3C3;
        const sequencer_index: u16 = 0x3C4;
        const sequencer_data: u16 = 0x3C5;
        const dac_pixel_mask: u16 = 0x3C6;
        const dac_read_index_state: u16 = 0x3C7;
        const dac_write_index: u16 = 0x3C8;
        const dac_data: u16 = 0x3C9;
        const feature_control_read: u16 = 0x3CA;
        const misc_read: u16 = 0x3CC;
        const graphics_index: u16 = 0x3CE;
        const graphics_data: u16 = 0x3CF;
        const crtc_index_color: u16 = 0x3D4;
        const crtc_data_color: u16 = 0x3D5;
        const status1_color: u16 = 0x3DA;
    };

    const misc_io_color: u8 = 0x01;
    const feature_control_mask: u8 = 0x03;
    const status1_display_disabled: u8 = 0x01;
    const status1_vertical_retrace: u8 = 0x08;
    const dac_state_read: u8 = 0x03;
    const dac_6bit_mask: u8 = 0x3F;

    const Crtc = struct {
        const overflow: u8 = 0x07;
        const vertical_retrace_end: u8 = 0x11;
        /// Registers 0-7 are write-protected while bit 7 of vertical retrace end is set.
        const last_protected: u8 = 0x07;
    };
    const crtc_protect: u8 = 0x80;
    const overflow_line_compare_8: u8 = 0x10;

    const sequencer_map_mask: u8 = 0x02;
    const sequencer_memory_mode: u8 = 0x04;
    const graphics_set_reset: u8 = 0x00;
    const graphics_enable_set_reset: u8 = 0x01;
    const graphics_color_compare: u8 = 0x02;
    const graphics_data_rotate: u8 = 0x03;
    const graphics_read_map_select: u8 = 0x04;
    const graphics_mode: u8 = 0x05;
    const graphics_misc: u8 = 0x06;
    const graphics_color_dont_care: u8 = 0x07;
    const graphics_bit_mask: u8 = 0x08;

    const Dispi = struct {
        const id: u16 = 0x0;
        const xres: u16 = 0x1;
        const yres: u16 = 0x2;
        const bpp: u16 = 0x3;
        const enable: u16 = 0x4;
        const bank: u16 = 0x5;
        const virt_width: u16 = 0x6;
        const virt_height: u16 = 0x7;
        const x_offset: u16 = 0x8;
        const y_offset: u16 = 0x9;
        const video_memory_64k: u16 = 0xA;
    };
    const enable_enabled: u16 = 0x01;
    const enable_getcaps: u16 = 0x02;
    const enable_8bit_dac: u16 = 0x20;
    const enable_lfb: u16 = 0x40;
    const enable_noclearmem: u16 = 0x80;
    const enable_flags: u16 = enable_enabled | enable_getcaps | enable_8bit_dac | enable_lfb | enable_noclearmem;
    const bank_bytes: u32 = 64 << 10;

    const min_vram_bytes: u32 = 256 << 10;
    const max_vram_bytes: u32 = 1 << 30;

    /// IBM BIOS mode 3 (80x25 colour text, 9x16 cells, 720x400): what a fresh device holds, so a
    /// dump works before any BIOS has set a mode.
    const mode3 = struct {
        const misc_output: u8 = 0x67;
        const sequencer = [sequencer_count]u8{ 0x03, 0x00, 0x03, 0x00, 0x02 };
        const crtc = [crtc_count]u8{
            0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00,
            0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF,
        };
        const graphics = [graphics_count]u8{ 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF };
        const attribute = [attribute_count]u8{
            0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A,
            0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x0C, 0x00, 0x0F, 0x08, 0x00,
        };
    };

    comptime {
        assert(attribute_masks.len == attribute_count);
        assert(crtc_count - 1 <= crtc_index_mask);
        assert(attribute_count - 1 <= attribute_register_mask);
        for (mode3.sequencer, sequencer_masks) |value, mask| assert(value & ~mask == 0);
        for (mode3.graphics, graphics_masks) |value, mask| assert(value & ~mask == 0);
        for (mode3.attribute, attribute_masks) |value, mask| assert(value & ~mask == 0);
        assert(@as(u32, vbe_max_xres) * vbe_max_bpp / 8 * vbe_max_yres < std.math.maxInt(u32));
        assert(max_vram_bytes / bank_bytes <= std.math.maxInt(u16));
    }

    pub fn init(vram_bytes: u32) Vga {
        assert(std.math.isPowerOfTwo(vram_bytes));
        assert(vram_bytes >= min_vram_bytes and vram_bytes <= max_vram_bytes);
        return .{ .vram_bytes = vram_bytes };
    }

    /// An access to the legacy registers, `offset` counted from 0x3B0. Wider accesses reach
    /// consecutive ports, as an ISA bus splits them: `outw 0x3C4` writes the sequencer index,
    /// then the data register.
    pub fn read(self: *Vga, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!legacyAccessFits(offset, data.len)) {
            @memset(data, 0xFF);
            self.bad_accesses +|= 1;
            return;
        }
        for (data, 0..) |*byte, i| byte.* = self.readPort(legacy_port_base + offset + @as(u16, @intCast(i)));
    }

    pub fn write(self: *Vga, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!legacyAccessFits(offset, data.len)) {
            self.bad_accesses +|= 1;
            return;
        }
        for (data, 0..) |byte, i| self.writePort(legacy_port_base + offset + @as(u16, @intCast(i)), byte);
        self.display_generation +%= 1;
        self.updateWindow();
    }

    /// A 16-bit access to the dispi index (offset 0) or data (offset 1) port.
    pub fn readDispi(self: *Vga, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (data.len != 2 or offset >= dispi_port_count) {
            @memset(data, 0xFF);
            self.bad_accesses +|= 1;
            return;
        }
        const value = if (offset == 0) self.dispi_index else self.readDispiRegister(self.dispi_index);
        std.mem.writeInt(u16, data[0..2], value, .little);
    }

    pub fn writeDispi(self: *Vga, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (data.len != 2 or offset >= dispi_port_count) {
            self.bad_accesses +|= 1;
            return;
        }
        const value = std.mem.readInt(u16, data[0..2], .little);
        const was_enabled = self.vbeEnabled();
        if (offset == 0) self.dispi_index = value else self.writeDispiRegister(self.dispi_index, value);
        self.display_generation +%= 1;
        // The legacy window goes back to the planes first, so that the clear below is final.
        self.updateWindow();
        if (!was_enabled and self.vbeEnabled() and self.vbe_enable & enable_noclearmem == 0) self.clearFrame();
    }

    /// Gives the device its memory: `vram` (the PCI BAR's memory, a power of two of at least
    /// `vram_bytes`) and `legacy_ram`, the 128 KiB of guest RAM behind 0xA0000-0xBFFFF that the VM
    /// maps for `.text`. Fills the shadow if the registers call for it, then tells `listener` the
    /// initial mapping (a fresh device holds mode 3: `.text` at 0xB8000).
    pub fn attachMemory(self: *Vga, vram: []u8, legacy_ram: []u8, listener: WindowListener) void {
        assert(std.math.isPowerOfTwo(vram.len));
        assert(vram.len >= self.vram_bytes and vram.len >= vga_memory.planar_bytes);
        assert(legacy_ram.len == vga_memory.window_bytes);
        self.mutex.lock();
        defer self.mutex.unlock();
        assert(self.listener == null);
        self.vram = vram;
        self.legacy_ram = legacy_ram;
        self.listener = listener;
        const mapping = self.windowMapping();
        if (mapping == .text) vga_memory.planesToShadow(self.vram, self.textShadow(mapping));
        self.window = mapping;
        listener.changedFn(listener.context, mapping);
    }

    /// A CPU read of 1 to 8 bytes at 0xA0000 + `offset` (consecutive bytes, little-endian);
    /// bytes outside the window the registers select read 0xFF, as does everything before
    /// `attachMemory`. Accesses of another length or past 0xBFFFF read 0xFF and are counted.
    pub fn readMemory(self: *Vga, offset: u32, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!memoryAccessFits(offset, data.len)) {
            @memset(data, 0xFF);
            self.bad_accesses +|= 1;
            return;
        }
        for (data, 0..) |*byte, i| byte.* = self.readMemoryByte(offset + @as(u32, @intCast(i)));
    }

    /// A CPU write of 1 to 8 bytes at 0xA0000 + `offset`, as `readMemory` decodes them; bytes
    /// outside the window are dropped.
    pub fn writeMemory(self: *Vga, offset: u32, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!memoryAccessFits(offset, data.len)) {
            self.bad_accesses +|= 1;
            return;
        }
        for (data, 0..) |byte, i| self.writeMemoryByte(offset + @as(u32, @intCast(i)), byte);
        self.display_generation +%= 1;
    }

    /// Where plain memory serves every CPU access to the legacy window exactly, per the
    /// registers (the caller holds `mutex`, or owns the device alone): an odd/even text window with plain writes to planes 0 and 1 (`.text`), chain 4
    /// with plain writes to all planes, or the VBE bank (`.vram`); `.mmio` otherwise.
    pub fn windowMapping(self: *const Vga) WindowMapping {
        if (self.vbeEnabled()) {
            const bank_offset = @as(u32, self.vbe_bank) * bank_bytes;
            if (bank_offset >= self.vram_bytes or self.vram_bytes - bank_offset < bank_bytes) return .mmio;
            return .{ .vram = .{ .gpa = vga_memory.window_base, .vram_offset = bank_offset, .len = bank_bytes } };
        }
        const registers = self.memoryRegisters();
        const plain_writes = registers.writeMode() == 0 and registers.data_rotate == 0 and
            registers.enable_set_reset == 0 and registers.bit_mask == 0xFF;
        if (!plain_writes or registers.readModeCompare()) return .mmio;
        const map = self.memoryMap();
        if (registers.memory_mode & vga_memory.memory_mode_chain4 != 0) {
            if (registers.map_mask != 0x0F) return .mmio;
            return switch (map) {
                .a0000_128k, .a0000_64k => .{ .vram = .{
                    .gpa = vga_memory.window_base,
                    .vram_offset = 0,
                    .len = map.bytes(),
                } },
                .b0000_32k, .b8000_32k => .mmio,
            };
        }
        const odd_even = registers.writeAddressing() == .odd_even and registers.readAddressing() == .odd_even;
        if (!odd_even or registers.map_mask != 0x03 or registers.read_map_select & 0x02 != 0) return .mmio;
        return switch (map) {
            .a0000_128k, .a0000_64k => .mmio,
            .b0000_32k, .b8000_32k => .{ .text = .{ .gpa = vga_memory.window_base + map.start(), .len = map.bytes() } },
        };
    }

    /// Brings a text shadow's contents into planes 0 and 1, for a renderer about to read them.
    /// The caller holds `mutex`.
    pub fn absorbTextShadow(self: *Vga) void {
        if (self.window == .text) vga_memory.shadowToPlanes(self.textShadow(self.window), self.vram);
    }

    fn memoryAccessFits(offset: u32, len: usize) bool {
        if (len < 1 or len > 8) return false;
        return offset < vga_memory.window_bytes and vga_memory.window_bytes - offset >= len;
    }

    fn memoryRegisters(self: *const Vga) vga_memory.Registers {
        return .{
            .map_mask = self.sequencer[sequencer_map_mask],
            .memory_mode = self.sequencer[sequencer_memory_mode],
            .set_reset = self.graphics[graphics_set_reset],
            .enable_set_reset = self.graphics[graphics_enable_set_reset],
            .color_compare = self.graphics[graphics_color_compare],
            .data_rotate = self.graphics[graphics_data_rotate],
            .read_map_select = self.graphics[graphics_read_map_select],
            .graphics_mode = self.graphics[graphics_mode],
            .color_dont_care = self.graphics[graphics_color_dont_care],
            .bit_mask = self.graphics[graphics_bit_mask],
        };
    }

    fn memoryMap(self: *const Vga) vga_memory.MemoryMap {
        return @enumFromInt(@as(u2, @truncate(self.graphics[graphics_misc] >> vga_memory.misc_memory_map_shift)));
    }

    /// The planes as the CPU reaches them: with the text shadow in force, planes 0 and 1 of the
    /// text window live in guest RAM.
    fn planes(self: *const Vga) vga_memory.Planes {
        const shadow: []u8 = if (self.window == .text) self.textShadow(self.window) else &.{};
        return .{ .vram = self.vram, .shadow = shadow };
    }

    fn textShadow(self: *const Vga, mapping: WindowMapping) []u8 {
        const text = mapping.text;
        assert(text.gpa >= vga_memory.window_base and text.len == vga_memory.text_window_bytes);
        const start = text.gpa - vga_memory.window_base;
        assert(start <= self.legacy_ram.len and self.legacy_ram.len - start >= text.len);
        return self.legacy_ram[start..][0..text.len];
    }

    /// The byte of video memory the VBE bank window puts at `offset`, or null if none.
    fn bankIndex(self: *const Vga, offset: u32) ?usize {
        assert(self.vbeEnabled());
        if (offset >= bank_bytes) return null;
        const index = @as(usize, self.vbe_bank) * bank_bytes + offset;
        return if (index < self.vram.len) index else null;
    }

    fn readMemoryByte(self: *Vga, offset: u32) u8 {
        if (self.listener == null) return 0xFF;
        if (self.vbeEnabled()) {
            const index = self.bankIndex(offset) orelse return 0xFF;
            return self.vram[index];
        }
        const address = self.memoryMap().decode(offset) orelse return 0xFF;
        return vga_memory.read(self.memoryRegisters(), &self.latches, self.planes(), address);
    }

    fn writeMemoryByte(self: *Vga, offset: u32, value: u8) void {
        if (self.listener == null) return;
        if (self.vbeEnabled()) {
            const index = self.bankIndex(offset) orelse return;
            self.vram[index] = value;
            return;
        }
        const address = self.memoryMap().decode(offset) orelse return;
        vga_memory.write(self.memoryRegisters(), self.latches, self.planes(), address, value);
    }

    /// After any register write: if the mapping changed, move the text window between the
    /// shadow and the planes and tell the VM.
    fn updateWindow(self: *Vga) void {
        const listener = self.listener orelse return;
        const mapping = self.windowMapping();
        if (mapping.eql(self.window)) return;
        if (self.window == .text) vga_memory.shadowToPlanes(self.textShadow(self.window), self.vram);
        if (mapping == .text) vga_memory.planesToShadow(self.vram, self.textShadow(mapping));
        self.window = mapping;
        listener.changedFn(listener.context, mapping);
    }

    /// Enabling a VBE mode without the no-clear flag blanks the visible frame, as Bochs does.
    fn clearFrame(self: *Vga) void {
        assert(self.vbeEnabled());
        const frame_bytes = self.lineBytes(self.vbe_virt_width) * self.vbe_yres;
        @memset(self.vram[0..@min(frame_bytes, self.vram.len)], 0);
    }

    fn legacyAccessFits(offset: u16, len: usize) bool {
        if (len != 1 and len != 2 and len != 4) return false;
        return @as(usize, offset) + len <= legacy_port_count;
    }

    fn colorIo(self: *const Vga) bool {
        return self.misc_output & misc_io_color != 0;
    }

    /// The CRTC and input status 1 / feature control answer at 0x3Dx or 0x3Bx, never both.
    fn ioSetActive(self: *const Vga, port: u16) bool {
        const color_port = port >= Port.crtc_index_color;
        return color_port == self.colorIo();
    }

    fn readPort(self: *Vga, port: u16) u8 {
        return switch (port) {
            Port.crtc_index_mono, Port.crtc_index_color => if (self.ioSetActive(port)) self.crtc_index else 0xFF,
            Port.crtc_data_mono, Port.crtc_data_color => if (self.ioSetActive(port)) self.readCrtc() else 0xFF,
            Port.status1_mono, Port.status1_color => if (self.ioSetActive(port)) self.readInputStatus1() else 0xFF,
            Port.attribute_write => self.attribute_index,
            Port.attribute_read => self.readAttribute(),
            // Input status 0: no vertical retrace interrupt pending, switch sense 0.
            Port.misc_write_status0 => 0x00,
            Port.vga_enable => self.vga_enable,
            Port.sequencer_index => self.sequencer_index,
            Port.sequencer_data => registerOrOnes(&self.sequencer, self.sequencer_index),
            Port.dac_pixel_mask => self.dac_pixel_mask,
            Port.dac_read_index_state => if (self.dac_read_mode) dac_state_read else 0x00,
            Port.dac_write_index => self.dac_write_index,
            Port.dac_data => self.readDacData(),
            Port.feature_control_read => self.feature_control,
            Port.misc_read => self.misc_output,
            Port.graphics_index => self.graphics_index,
            Port.graphics_data => registerOrOnes(&self.graphics, self.graphics_index),
            else => 0xFF,
        };
    }

    fn writePort(self: *Vga, port: u16, value: u8) void {
        switch (port) {
            Port.crtc_index_mono, Port.crtc_index_color => {
                if (self.ioSetActive(port)) self.crtc_index = value & crtc_index_mask;
            },
            Port.crtc_data_mono, Port.crtc_data_color => {
                if (self.ioSetActive(port)) self.writeCrtc(value);
            },
            Port.status1_mono, Port.status1_color => {
                if (self.ioSetActive(port)) self.feature_control = value & feature_control_mask;
            },
            Port.attribute_write => self.writeAttribute(value),
            Port.misc_write_status0 => self.misc_output = value,
            Port.vga_enable => self.vga_enable = value & 0x01,
            Port.sequencer_index => self.sequencer_index = value & sequencer_index_mask,
            Port.sequencer_data => writeMasked(&self.sequencer, &sequencer_masks, self.sequencer_index, value),
            Port.dac_pixel_mask => self.dac_pixel_mask = value,
            Port.dac_read_index_state => {
                self.dac_read_index = value;
                self.dac_component = 0;
                self.dac_read_mode = true;
            },
            Port.dac_write_index => {
                self.dac_write_index = value;
                self.dac_component = 0;
                self.dac_read_mode = false;
            },
            Port.dac_data => self.writeDacData(value),
            Port.graphics_index => self.graphics_index = value & graphics_index_mask,
            Port.graphics_data => writeMasked(&self.graphics, &graphics_masks, self.graphics_index, value),
            // 0x3C1 (attribute data read), 0x3CA and 0x3CC are read-only; the rest are unassigned.
            else => {},
        }
    }

    /// A register file's value at `index`; indexes the chip decodes but does not implement
    /// float high.
    fn registerOrOnes(registers: []const u8, index: u8) u8 {
        return if (index < registers.len) registers[index] else 0xFF;
    }

    fn writeMasked(registers: []u8, masks: []const u8, index: u8, value: u8) void {
        assert(registers.len == masks.len);
        if (index < registers.len) registers[index] = value & masks[index];
    }

    fn readCrtc(self: *const Vga) u8 {
        return registerOrOnes(&self.crtc, self.crtc_index);
    }

    fn writeCrtc(self: *Vga, value: u8) void {
        const index = self.crtc_index;
        if (index >= crtc_count) return;
        const protected = self.crtc[Crtc.vertical_retrace_end] & crtc_protect != 0;
        if (protected and index <= Crtc.last_protected) {
            // Line compare bit 8 stays writable: it belongs to the split screen, not the timing.
            if (index == Crtc.overflow) {
                self.crtc[index] = (self.crtc[index] & ~overflow_line_compare_8) | (value & overflow_line_compare_8);
            }
            return;
        }
        self.crtc[index] = value;
    }

    /// Reading input status 1 resets the attribute flip-flop to index and moves the fake beam:
    /// successive reads alternate between active display and vertical retrace (display disabled
    /// too), so any loop waiting for either edge of the retrace ends after a read or two.
    fn readInputStatus1(self: *Vga) u8 {
        self.attribute_flip_flop_data = false;
        self.in_retrace = !self.in_retrace;
        return if (self.in_retrace) status1_vertical_retrace | status1_display_disabled else 0x00;
    }

    fn readAttribute(self: *const Vga) u8 {
        return registerOrOnes(&self.attribute, self.attribute_index & attribute_register_mask);
    }

    fn writeAttribute(self: *Vga, value: u8) void {
        if (!self.attribute_flip_flop_data) {
            self.attribute_index = value & (attribute_register_mask | attribute_palette_source);
        } else {
            const index = self.attribute_index & attribute_register_mask;
            // While the display owns the palette (palette address source set) the CPU cannot
            // load the 16 palette registers.
            const palette_locked = index < attribute_palette_count and
                self.attribute_index & attribute_palette_source != 0;
            if (!palette_locked) writeMasked(&self.attribute, &attribute_masks, index, value);
        }
        self.attribute_flip_flop_data = !self.attribute_flip_flop_data;
    }

    fn dacMask(self: *const Vga) u8 {
        return if (self.vbe_enable & enable_8bit_dac != 0) 0xFF else dac_6bit_mask;
    }

    fn readDacData(self: *Vga) u8 {
        assert(self.dac_component < 3);
        const value = self.dac_palette[self.dac_read_index][self.dac_component];
        self.dac_component += 1;
        if (self.dac_component == 3) {
            self.dac_component = 0;
            self.dac_read_index +%= 1;
        }
        return value;
    }

    fn writeDacData(self: *Vga, value: u8) void {
        assert(self.dac_component < 3);
        self.dac_palette[self.dac_write_index][self.dac_component] = value & self.dacMask();
        self.dac_component += 1;
        if (self.dac_component == 3) {
            self.dac_component = 0;
            self.dac_write_index +%= 1;
        }
    }

    fn vbeEnabled(self: *const Vga) bool {
        return self.vbe_enable & enable_enabled != 0;
    }

    fn readDispiRegister(self: *const Vga, index: u16) u16 {
        const getcaps = self.vbe_enable & enable_getcaps != 0;
        return switch (index) {
            Dispi.id => self.vbe_id,
            Dispi.xres => if (getcaps) vbe_max_xres else self.vbe_xres,
            Dispi.yres => if (getcaps) vbe_max_yres else self.vbe_yres,
            Dispi.bpp => if (getcaps) vbe_max_bpp else self.vbe_bpp,
            Dispi.enable => self.vbe_enable,
            Dispi.bank => self.vbe_bank,
            Dispi.virt_width => self.vbe_virt_width,
            Dispi.virt_height => self.vbe_virt_height,
            Dispi.x_offset => self.vbe_x_offset,
            Dispi.y_offset => self.vbe_y_offset,
            Dispi.video_memory_64k => @intCast(self.vram_bytes / bank_bytes),
            else => 0,
        };
    }

    /// The dispi rules: resolution and depth change only while no mode is enabled, and values
    /// the adapter cannot show are ignored (the Bochs display code would panic on them), so a
    /// BIOS reading a register back learns what took effect.
    fn writeDispiRegister(self: *Vga, index: u16, value: u16) void {
        switch (index) {
            Dispi.id => {
                if (value >= dispi_id_oldest and value <= dispi_id_newest) self.vbe_id = value;
            },
            Dispi.xres => {
                // Widths go in steps of 8 pixels (one byte of a 1-bit plane).
                if (!self.vbeEnabled() and value <= vbe_max_xres) self.vbe_xres = value & ~@as(u16, 7);
            },
            Dispi.yres => {
                if (!self.vbeEnabled() and value <= vbe_max_yres) self.vbe_yres = value;
            },
            Dispi.bpp => {
                // 0 means 8 for interface revisions before 0xB0C2.
                const bpp = if (value == 0) 8 else value;
                if (!self.vbeEnabled() and validBpp(bpp)) self.vbe_bpp = bpp;
            },
            Dispi.enable => self.writeVbeEnable(value),
            Dispi.bank => {
                if (value < self.vram_bytes / bank_bytes) self.vbe_bank = value;
            },
            Dispi.virt_width => {
                if (self.vbeEnabled()) self.setVirtualWidth(value) else self.vbe_virt_width = value;
            },
            Dispi.virt_height => {
                if (self.vbeEnabled()) self.setVirtualHeight(value) else self.vbe_virt_height = value;
            },
            Dispi.x_offset => {
                if (!self.vbeEnabled()) {
                    self.vbe_x_offset = value;
                } else if (self.frameFits(value, self.vbe_y_offset)) {
                    self.vbe_x_offset = value;
                }
            },
            Dispi.y_offset => {
                if (!self.vbeEnabled()) {
                    self.vbe_y_offset = value;
                } else if (self.frameFits(self.vbe_x_offset, value)) {
                    self.vbe_y_offset = value;
                }
            },
            // VIDEO_MEMORY_64K is read-only; other indexes name nothing.
            else => {},
        }
    }

    fn validBpp(bpp: u16) bool {
        return switch (bpp) {
            4, 8, 15, 16, 24, 32 => true,
            else => false,
        };
    }

    /// Bits a pixel takes in memory: 15-bit colour is stored in 16.
    fn storedBits(bpp: u16) u32 {
        assert(validBpp(bpp));
        return if (bpp == 15) 16 else bpp;
    }

    fn lineBytes(self: *const Vga, width: u32) u64 {
        return (@as(u64, width) * storedBits(self.vbe_bpp) + 7) / 8;
    }

    /// Enabling takes the stored XRES/YRES/BPP; a mode larger than the video memory (or without
    /// a size) is refused and ENABLE reads back without its enabled bit. On success the virtual
    /// screen is the visible one and the display starts at the top left.
    fn writeVbeEnable(self: *Vga, value: u16) void {
        var flags = value & enable_flags;
        if (flags & enable_enabled != 0 and !self.vbeEnabled()) {
            const fits = self.vbe_xres != 0 and self.vbe_yres != 0 and validBpp(self.vbe_bpp) and
                self.lineBytes(self.vbe_xres) * self.vbe_yres <= self.vram_bytes;
            if (fits) {
                self.vbe_virt_width = self.vbe_xres;
                self.vbe_virt_height = self.vbe_yres;
                self.vbe_x_offset = 0;
                self.vbe_y_offset = 0;
            } else {
                flags &= ~enable_enabled;
            }
        }
        self.vbe_enable = flags;
    }

    /// The most rows of `width` pixels the video memory holds, within the interface's limit.
    fn maxVirtualHeight(self: *const Vga, width: u16) u16 {
        const rows = self.vram_bytes / self.lineBytes(width);
        return @intCast(@min(rows, vbe_max_yres));
    }

    /// A new virtual width while a mode is enabled: at least the visible width, at most what the
    /// memory holds for the visible height; the virtual height and the offsets are then pulled
    /// back inside the memory.
    fn setVirtualWidth(self: *Vga, value: u16) void {
        assert(self.vbeEnabled());
        const memory_width = (self.vram_bytes / self.vbe_yres) * 8 / storedBits(self.vbe_bpp);
        const widest: u16 = @intCast(@min(memory_width, vbe_max_xres));
        assert(widest >= self.vbe_xres);
        self.vbe_virt_width = std.math.clamp(value, self.vbe_xres, widest);
        self.setVirtualHeight(self.vbe_virt_height);
        if (!self.frameFits(self.vbe_x_offset, self.vbe_y_offset)) {
            self.vbe_x_offset = 0;
            self.vbe_y_offset = 0;
        }
    }

    fn setVirtualHeight(self: *Vga, value: u16) void {
        assert(self.vbeEnabled());
        const tallest = self.maxVirtualHeight(self.vbe_virt_width);
        assert(tallest >= self.vbe_yres);
        self.vbe_virt_height = std.math.clamp(value, self.vbe_yres, tallest);
    }

    /// Whether the visible frame, panned to (x, y) of the virtual screen, lies inside the video
    /// memory. Panning anywhere in memory is allowed (page flipping moves y past the virtual
    /// height), but never past its end.
    fn frameFits(self: *const Vga, x: u16, y: u16) bool {
        assert(self.vbeEnabled());
        const line = self.lineBytes(self.vbe_virt_width);
        const start = @as(u64, y) * line + @as(u64, x) * storedBits(self.vbe_bpp) / 8;
        return start + line * self.vbe_yres <= self.vram_bytes;
    }

    /// The invariant every dispi register write keeps (checked by the tests).
    fn vbeConsistent(self: *const Vga) bool {
        if (self.vbe_enable & ~enable_flags != 0) return false;
        if (self.vbe_id < dispi_id_oldest or self.vbe_id > dispi_id_newest) return false;
        if (self.vbe_bank >= self.vram_bytes / bank_bytes) return false;
        if (self.vbe_xres > vbe_max_xres or self.vbe_yres > vbe_max_yres) return false;
        if (self.vbe_bpp != 0 and !validBpp(self.vbe_bpp)) return false;
        if (!self.vbeEnabled()) return true;
        if (self.vbe_xres == 0 or self.vbe_yres == 0) return false;
        if (self.vbe_virt_width < self.vbe_xres or self.vbe_virt_height < self.vbe_yres) return false;
        if (self.lineBytes(self.vbe_virt_width) * self.vbe_virt_height > self.vram_bytes) return false;
        return self.frameFits(self.vbe_x_offset, self.vbe_y_offset);
    }
};

/// Code page 437 in rows of 16, as the VGA's ROM font draws it: control codes are symbols.
/// NUL (0x00) and the no-break space (0xFF) draw nothing and are plain spaces here, so that a
/// text dump's trimming removes them.
const cp437_rows = [16][]const u8{
    " ☺☻♥♦♣♠•◘○◙♂♀♪♫☼",
    "►◄↕‼¶§▬↨↑↓→←∟↔▲▼",
    " !\"#$%&'()*+,-./",
    "0123456789:;<=>?",
    "@ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZ[\\]^_",
    "`abcdefghijklmno",
    "pqrstuvwxyz{|}~⌂",
    "ÇüéâäàåçêëèïîìÄÅ",
    "ÉæÆôöòûùÿÖÜ¢£¥₧ƒ",
    "áíóúñÑªº¿⌐¬½¼¡«»",
    "░▒▓│┤╡╢╖╕╣║╗╝╜╛┐",
    "└┴┬├─┼╞╟╚╔╩╦╠═╬╧",
    "╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀",
    "αßΓπΣσµτΦΘΩδ∞φε∩",
    "≡±≥≤⌠⌡÷≈°∙·√ⁿ²■ ",
};

/// The Unicode code point code page 437 draws for `character` (a text cell's character byte); NUL
/// and 0xFF are spaces.
pub fn cp437Codepoint(character: u8) u21 {
    return cp437_codepoints[character];
}

const cp437_codepoints: [256]u21 = table: {
    @setEvalBranchQuota(20_000);
    var codepoints: [256]u21 = undefined;
    for (cp437_rows, 0..) |row, high| {
        var characters = std.unicode.Utf8View.initComptime(row).iterator();
        var low: usize = 0;
        while (characters.nextCodepoint()) |codepoint| : (low += 1) {
            if (low == 16) @compileError("code page 437 rows hold 16 characters");
            codepoints[high * 16 + low] = codepoint;
        }
        if (low != 16) @compileError("code page 437 rows hold 16 characters");
    }
    break :table codepoints;
};

const testing = std.testing;
const vga_render = @import("vga_render.zig");

const test_vram_bytes: u32 = 16 << 20;

fn outb(vga: *Vga, port: u16, value: u8) void {
    vga.write(port - legacy_port_base, &[1]u8{value});
}

fn inb(vga: *Vga, port: u16) u8 {
    var data = [1]u8{0};
    vga.read(port - legacy_port_base, &data);
    return data[0];
}

fn outw(vga: *Vga, port: u16, value: u16) void {
    var data: [2]u8 = undefined;
    std.mem.writeInt(u16, &data, value, .little);
    vga.write(port - legacy_port_base, &data);
}

fn inw(vga: *Vga, port: u16) u16 {
    var data: [2]u8 = undefined;
    vga.read(port - legacy_port_base, &data);
    return std.mem.readInt(u16, &data, .little);
}

fn dispiWrite(vga: *Vga, index: u16, value: u16) void {
    var data: [2]u8 = undefined;
    std.mem.writeInt(u16, &data, index, .little);
    vga.writeDispi(0, &data);
    std.mem.writeInt(u16, &data, value, .little);
    vga.writeDispi(1, &data);
}

fn dispiRead(vga: *Vga, index: u16) u16 {
    var data: [2]u8 = undefined;
    std.mem.writeInt(u16, &data, index, .little);
    vga.writeDispi(0, &data);
    vga.readDispi(1, &data);
    return std.mem.readInt(u16, &data, .little);
}

fn crtcWrite(vga: *Vga, index: u8, value: u8) void {
    outb(vga, 0x3D4, index);
    outb(vga, 0x3D5, value);
}

fn crtcRead(vga: *Vga, index: u8) u8 {
    outb(vga, 0x3D4, index);
    return inb(vga, 0x3D5);
}

/// Writes an attribute register the way a BIOS does: reset the flip-flop, index, data, then
/// hand the palette back to the display.
fn attributeWrite(vga: *Vga, index: u8, value: u8) void {
    _ = inb(vga, 0x3DA);
    outb(vga, 0x3C0, index);
    outb(vga, 0x3C0, value);
    outb(vga, 0x3C0, 0x20);
}

fn attributeRead(vga: *Vga, index: u8) u8 {
    _ = inb(vga, 0x3DA);
    outb(vga, 0x3C0, index);
    const value = inb(vga, 0x3C1);
    _ = inb(vga, 0x3DA);
    outb(vga, 0x3C0, 0x20);
    return value;
}

const TestCells = [vga_render.max_text_cells]vga_render.TextCell;

/// Zeroed planes for `vga_render` to read (the attached memory is not needed to show text).
fn testPlanes() ![]u8 {
    const planes = try testing.allocator.alloc(u8, vga_memory.planar_bytes);
    @memset(planes, 0);
    return planes;
}

/// Puts `character` with attribute 0x07 in the text cell at plane offset `address`.
fn setCell(planes: []u8, address: u16, character: u8) void {
    planes[@as(u32, address) * vga_memory.plane_count] = character;
    planes[@as(u32, address) * vga_memory.plane_count + 1] = 0x07;
}

/// The index of the first cell of a `size` screen that shows the cursor, if any.
fn cursorCell(cells: []const vga_render.TextCell, size: vga_render.TextSize) ?usize {
    for (cells[0 .. @as(usize, size.columns) * size.rows], 0..) |cell, index| {
        if (cell.cursor) return index;
    }
    return null;
}

test "a fresh device holds mode 3 and describes an 80x25 colour text screen" {
    var vga = Vga.init(test_vram_bytes);
    try testing.expectEqual(@as(u8, 0x67), inb(&vga, 0x3CC));
    try testing.expectEqual(@as(u8, 0x4F), crtcRead(&vga, 0x01));
    try testing.expectEqual(@as(u8, 0x8E), crtcRead(&vga, 0x11));
    try testing.expectEqual(@as(u8, 0x0C), attributeRead(&vga, 0x10));
    const planes = try testPlanes();
    defer testing.allocator.free(planes);
    setCell(planes, 80, 'R'); // a row is 80 cells
    var cells: TestCells = undefined;
    const size = vga_render.textCells(&vga, planes, &cells).?;
    try testing.expectEqual(vga_render.TextSize{ .columns = 80, .rows = 25 }, size);
    try testing.expectEqual(@as(u8, 'R'), cells[80].char);
    try testing.expectEqual(@as(?usize, 0), cursorCell(&cells, size));
    const frame = vga_render.frameSize(&vga, planes.len);
    try testing.expect(frame.text_mode and frame.width == 720 and frame.height == 400);
    try testing.expect(vga.windowMapping().eql(text_mapping));
    try testing.expectEqual(@as(u32, 0), vga.bad_accesses);
}

test "sequencer and graphics controller: index, data, reserved bits and word writes" {
    var vga = Vga.init(test_vram_bytes);
    outb(&vga, 0x3C4, 0x02);
    try testing.expectEqual(@as(u8, 0x02), inb(&vga, 0x3C4));
    outb(&vga, 0x3C5, 0xFF);
    try testing.expectEqual(@as(u8, 0x0F), inb(&vga, 0x3C5)); // map mask has 4 bits
    outw(&vga, 0x3C4, 0x0E04); // memory mode 0x0E, as firmware writes it
    try testing.expectEqual(@as(u8, 0x04), inb(&vga, 0x3C4));
    try testing.expectEqual(@as(u8, 0x0E), vga.sequencer[4]);
    try testing.expectEqual(@as(u16, 0x0E04), inw(&vga, 0x3C4));
    outb(&vga, 0x3C4, 0x0D); // index 5 after masking: decoded, not implemented
    try testing.expectEqual(@as(u8, 0x05), inb(&vga, 0x3C4));
    outb(&vga, 0x3C5, 0x12);
    try testing.expectEqual(@as(u8, 0xFF), inb(&vga, 0x3C5));

    outw(&vga, 0x3CE, 0x0506); // misc: graphics, memory map 1 (0xA0000, 64 KiB)
    try testing.expectEqual(@as(u8, 0x05), vga.graphics[6]);
    outw(&vga, 0x3CE, 0xFF05);
    try testing.expectEqual(@as(u8, 0x7B), inb(&vga, 0x3CF));
    outw(&vga, 0x3CE, 0x5508);
    try testing.expectEqual(@as(u8, 0x55), inb(&vga, 0x3CF));
    outb(&vga, 0x3CE, 0x1F);
    try testing.expectEqual(@as(u8, 0x0F), inb(&vga, 0x3CE));
    try testing.expectEqual(@as(u8, 0xFF), inb(&vga, 0x3CF));
    const planes = try testPlanes();
    defer testing.allocator.free(planes);
    var cells: TestCells = undefined;
    try testing.expectEqual(@as(?vga_render.TextSize, null), vga_render.textCells(&vga, planes, &cells));
    try testing.expect(!vga_render.frameSize(&vga, planes.len).text_mode);
}

test "CRTC: colour and monochrome addresses follow misc output bit 0" {
    var vga = Vga.init(test_vram_bytes);
    outw(&vga, 0x3D4, 0x120E); // cursor location high, as firmware writes it
    try testing.expectEqual(@as(u8, 0x12), crtcRead(&vga, 0x0E));
    try testing.expectEqual(@as(u8, 0xFF), inb(&vga, 0x3B4));
    try testing.expectEqual(@as(u8, 0xFF), inb(&vga, 0x3B5));
    try testing.expectEqual(@as(u8, 0xFF), inb(&vga, 0x3BA));
    outb(&vga, 0x3B4, 0x0E);
    outb(&vga, 0x3B5, 0x77); // the inactive set ignores writes
    try testing.expectEqual(@as(u8, 0x12), crtcRead(&vga, 0x0E));

    outb(&vga, 0x3C2, 0x66); // monochrome addresses
    try testing.expectEqual(@as(u8, 0x66), inb(&vga, 0x3CC));
    try testing.expectEqual(@as(u8, 0xFF), inb(&vga, 0x3D4));
    try testing.expectEqual(@as(u8, 0xFF), inb(&vga, 0x3DA));
    outw(&vga, 0x3B4, 0x340F);
    try testing.expectEqual(@as(u8, 0x0F), inb(&vga, 0x3B4));
    try testing.expectEqual(@as(u8, 0x34), inb(&vga, 0x3B5));
    outb(&vga, 0x3BA, 0xFF); // feature control, monochrome address
    try testing.expectEqual(@as(u8, 0x03), inb(&vga, 0x3CA));
    outb(&vga, 0x3B4, 0xFF);
    try testing.expectEqual(@as(u8, 0x1F), inb(&vga, 0x3B4));
    try testing.expectEqual(@as(u8, 0xFF), inb(&vga, 0x3B5));
    outb(&vga, 0x3B5, 0x00);
    outb(&vga, 0x3B4, 0x0E); // one register file behind both address sets
    try testing.expectEqual(@as(u8, 0x12), inb(&vga, 0x3B5));

    // The display follows registers written at the monochrome addresses: cursor at cell 80.
    outw(&vga, 0x3B4, 0x000E);
    outw(&vga, 0x3B4, 0x500F);
    const planes = try testPlanes();
    defer testing.allocator.free(planes);
    var cells: TestCells = undefined;
    const size = vga_render.textCells(&vga, planes, &cells).?;
    try testing.expectEqual(@as(?usize, 80), cursorCell(&cells, size));
}

test "CRTC protect bit guards registers 0-7 except line compare bit 8" {
    var vga = Vga.init(test_vram_bytes);
    try testing.expect(vga.crtc[0x11] & 0x80 != 0); // mode 3 leaves the timing protected
    crtcWrite(&vga, 0x01, 0x83);
    crtcWrite(&vga, 0x06, 0x00);
    crtcWrite(&vga, 0x07, 0xF0);
    try testing.expectEqual(@as(u8, 0x4F), crtcRead(&vga, 0x01));
    try testing.expectEqual(@as(u8, 0xBF), crtcRead(&vga, 0x06));
    try testing.expectEqual(@as(u8, 0x1F), crtcRead(&vga, 0x07)); // bit 4 was already set
    crtcWrite(&vga, 0x07, 0x00);
    try testing.expectEqual(@as(u8, 0x0F), crtcRead(&vga, 0x07)); // only bit 4 moved
    crtcWrite(&vga, 0x08, 0x05); // not protected
    try testing.expectEqual(@as(u8, 0x05), crtcRead(&vga, 0x08));

    crtcWrite(&vga, 0x11, 0x0E); // unprotect, as a BIOS does before setting a mode
    crtcWrite(&vga, 0x01, 0x83);
    crtcWrite(&vga, 0x07, 0xF0);
    try testing.expectEqual(@as(u8, 0x83), crtcRead(&vga, 0x01));
    try testing.expectEqual(@as(u8, 0xF0), crtcRead(&vga, 0x07));
    const planes = try testPlanes();
    defer testing.allocator.free(planes);
    var cells: TestCells = undefined;
    try testing.expectEqual(@as(u16, 132), vga_render.textCells(&vga, planes, &cells).?.columns);
}

test "attribute controller: flip-flop, palette address source, reset by input status 1" {
    var vga = Vga.init(test_vram_bytes);
    _ = inb(&vga, 0x3DA);
    outb(&vga, 0x3C0, 0x01); // index 1, palette owned by the CPU (screen off)
    try testing.expectEqual(@as(u8, 0x01), inb(&vga, 0x3C0));
    outb(&vga, 0x3C0, 0xFF); // data
    try testing.expectEqual(@as(u8, 0x3F), inb(&vga, 0x3C1));
    try testing.expect(!vga.attribute_flip_flop_data);
    outb(&vga, 0x3C0, 0x31); // index 0x11 with the palette source bit: overscan
    try testing.expectEqual(@as(u8, 0x31), inb(&vga, 0x3C0));
    outb(&vga, 0x3C0, 0x5A);
    try testing.expectEqual(@as(u8, 0x5A), vga.attribute[0x11]);

    // With the display owning the palette, palette writes are ignored; others still land.
    outb(&vga, 0x3C0, 0x22);
    outb(&vga, 0x3C0, 0x3F);
    try testing.expectEqual(@as(u8, 0x02), vga.attribute[2]);

    // A read of input status 1 in the middle puts the flip-flop back to index.
    outb(&vga, 0x3C0, 0x13);
    try testing.expect(vga.attribute_flip_flop_data);
    _ = inb(&vga, 0x3DA);
    try testing.expect(!vga.attribute_flip_flop_data);
    outb(&vga, 0x3C0, 0x14); // an index again, not data for 0x13
    outb(&vga, 0x3C0, 0x0B);
    try testing.expectEqual(@as(u8, 0x08), vga.attribute[0x13]);
    try testing.expectEqual(@as(u8, 0x0B), vga.attribute[0x14]);

    // The monochrome status port resets it only while monochrome addresses are selected.
    outb(&vga, 0x3C0, 0x13);
    _ = inb(&vga, 0x3BA);
    try testing.expect(vga.attribute_flip_flop_data);
    outb(&vga, 0x3C0, 0x00);

    // Mode control takes all its bits but the reserved bit 4; registers past 0x14 read as ones.
    attributeWrite(&vga, 0x10, 0x51);
    try testing.expectEqual(@as(u8, 0x41), attributeRead(&vga, 0x10));
    try testing.expectEqual(@as(u8, 0xFF), attributeRead(&vga, 0x1F));
    try testing.expectEqual(@as(u8, 0x20), inb(&vga, 0x3C0));
    // A word write to 0x3C0 is an index then a write to the read-only 0x3C1.
    _ = inb(&vga, 0x3DA);
    outw(&vga, 0x3C0, 0x7710);
    try testing.expectEqual(@as(u8, 0x10), inb(&vga, 0x3C0));
    try testing.expect(vga.attribute_flip_flop_data);
    try testing.expectEqual(@as(u8, 0x41), inb(&vga, 0x3C1));
}

test "input status 1: retrace and display-disabled bits toggle on successive reads" {
    var vga = Vga.init(test_vram_bytes);
    var seen_retrace = false;
    var seen_active = false;
    for (0..4) |_| {
        const status = inb(&vga, 0x3DA);
        try testing.expect(status == 0x09 or status == 0x00);
        if (status & 0x08 != 0) seen_retrace = true else seen_active = true;
    }
    try testing.expect(seen_retrace and seen_active);
    // The classic wait: for the end of a retrace, then for the start of the next.
    var reads: u32 = 0;
    while (inb(&vga, 0x3DA) & 0x08 != 0) reads += 1;
    while (inb(&vga, 0x3DA) & 0x08 == 0) reads += 1;
    try testing.expect(reads <= 2);
    const first = inb(&vga, 0x3DA);
    try testing.expectEqual(first ^ 0x09, inb(&vga, 0x3DA));
    try testing.expectEqual(@as(u8, 0x00), inb(&vga, 0x3C2)); // input status 0
}

test "DAC: three-step cycling, separate read and write indexes, state, mask" {
    var vga = Vga.init(test_vram_bytes);
    outb(&vga, 0x3C8, 0xFE);
    try testing.expectEqual(@as(u8, 0x00), inb(&vga, 0x3C7)); // write mode
    for ([_]u8{ 0x3F, 0x20, 0x10, 0x01, 0x02, 0xFF, 0x0A }) |value| outb(&vga, 0x3C9, value);
    try testing.expectEqual([3]u8{ 0x3F, 0x20, 0x10 }, vga.dac_palette[0xFE]);
    try testing.expectEqual([3]u8{ 0x01, 0x02, 0x3F }, vga.dac_palette[0xFF]); // 6 bits
    try testing.expectEqual([3]u8{ 0x0A, 0x00, 0x00 }, vga.dac_palette[0x00]); // index wrapped
    try testing.expectEqual(@as(u8, 0x00), inb(&vga, 0x3C8));

    outb(&vga, 0x3C7, 0xFE);
    try testing.expectEqual(@as(u8, 0x03), inb(&vga, 0x3C7)); // read mode
    var triples: [6]u8 = undefined;
    for (&triples) |*byte| byte.* = inb(&vga, 0x3C9);
    try testing.expectEqualSlices(u8, &[_]u8{ 0x3F, 0x20, 0x10, 0x01, 0x02, 0x3F }, &triples);
    try testing.expectEqual(@as(u8, 0x00), vga.dac_read_index);
    try testing.expectEqual(@as(u8, 0x00), inb(&vga, 0x3C8)); // the write index is untouched

    // Setting an index restarts the red-green-blue cycle.
    outb(&vga, 0x3C8, 0x10);
    outb(&vga, 0x3C9, 0x11);
    outb(&vga, 0x3C8, 0x10);
    outb(&vga, 0x3C9, 0x21);
    outb(&vga, 0x3C9, 0x22);
    outb(&vga, 0x3C9, 0x23);
    try testing.expectEqual([3]u8{ 0x21, 0x22, 0x23 }, vga.dac_palette[0x10]);

    // With the dispi 8-bit DAC flag, entries take eight bits.
    dispiWrite(&vga, 0x4, 0x20);
    outb(&vga, 0x3C8, 0x20);
    for ([_]u8{ 0xFF, 0x80, 0x41 }) |value| outb(&vga, 0x3C9, value);
    try testing.expectEqual([3]u8{ 0xFF, 0x80, 0x41 }, vga.dac_palette[0x20]);

    try testing.expectEqual(@as(u8, 0xFF), inb(&vga, 0x3C6));
    outb(&vga, 0x3C6, 0x0F);
    try testing.expectEqual(@as(u8, 0x0F), inb(&vga, 0x3C6));
}

test "feature control, VGA enable, read-only and unassigned ports" {
    var vga = Vga.init(test_vram_bytes);
    outb(&vga, 0x3DA, 0xFF);
    try testing.expectEqual(@as(u8, 0x03), inb(&vga, 0x3CA));
    outb(&vga, 0x3CA, 0x00); // read-only
    try testing.expectEqual(@as(u8, 0x03), inb(&vga, 0x3CA));
    try testing.expectEqual(@as(u8, 0x01), inb(&vga, 0x3C3));
    outb(&vga, 0x3C3, 0xFE);
    try testing.expectEqual(@as(u8, 0x00), inb(&vga, 0x3C3));
    outb(&vga, 0x3CC, 0x00); // misc output is written at 0x3C2 only
    try testing.expectEqual(@as(u8, 0x67), inb(&vga, 0x3CC));
    for ([_]u16{ 0x3B0, 0x3B3, 0x3BF, 0x3CB, 0x3CD, 0x3D0, 0x3DB, 0x3DF }) |port| {
        outb(&vga, port, 0x00);
        try testing.expectEqual(@as(u8, 0xFF), inb(&vga, port));
    }
    try testing.expectEqual(@as(u32, 0), vga.bad_accesses);
}

test "wrong widths and offsets are ignored, read as ones and counted" {
    var vga = Vga.init(test_vram_bytes);
    var three = [3]u8{ 0, 0, 0 };
    vga.read(0x14, &three); // 0x3C4, three bytes
    try testing.expectEqualSlices(u8, &[3]u8{ 0xFF, 0xFF, 0xFF }, &three);
    vga.write(0x2F, &[2]u8{ 0x00, 0x00 }); // runs past 0x3DF
    vga.write(0x30, &[1]u8{0x00});
    var dword = [4]u8{ 0, 0, 0, 0 };
    vga.read(0x14, &dword); // four ports from 0x3C4: allowed, split into bytes
    try testing.expectEqualSlices(u8, &[4]u8{ 0x00, 0x03, 0xFF, 0x00 }, &dword);

    var byte = [1]u8{0};
    vga.readDispi(0, &byte);
    try testing.expectEqual(@as(u8, 0xFF), byte[0]);
    vga.writeDispi(1, &[1]u8{0x00});
    vga.writeDispi(2, &[2]u8{ 0x00, 0x00 });
    var wide = [4]u8{ 0, 0, 0, 0 };
    vga.readDispi(0, &wide);
    try testing.expectEqualSlices(u8, &[4]u8{ 0xFF, 0xFF, 0xFF, 0xFF }, &wide);
    try testing.expectEqual(@as(u32, 7), vga.bad_accesses);
    try testing.expectEqual(@as(u16, 0xB0C5), dispiRead(&vga, 0));
}

test "dispi: ID negotiation as the VGA BIOS probes it" {
    var vga = Vga.init(test_vram_bytes);
    try testing.expectEqual(@as(u16, 0xB0C5), dispiRead(&vga, 0x0));
    dispiWrite(&vga, 0x0, 0xB0C0);
    try testing.expectEqual(@as(u16, 0xB0C0), dispiRead(&vga, 0x0));
    dispiWrite(&vga, 0x0, 0xB0C6); // not a revision this adapter speaks
    try testing.expectEqual(@as(u16, 0xB0C0), dispiRead(&vga, 0x0));
    dispiWrite(&vga, 0x0, 0xBE00);
    try testing.expectEqual(@as(u16, 0xB0C0), dispiRead(&vga, 0x0));
    dispiWrite(&vga, 0x0, 0xB0C5);
    try testing.expectEqual(@as(u16, 0xB0C5), dispiRead(&vga, 0x0));
    // The index port reads back; unknown indexes read 0 and ignore writes.
    var data: [2]u8 = undefined;
    vga.readDispi(0, &data);
    try testing.expectEqual(@as(u16, 0x0), std.mem.readInt(u16, &data, .little));
    dispiWrite(&vga, 0x1234, 0xFFFF);
    try testing.expectEqual(@as(u16, 0), dispiRead(&vga, 0x1234));
    vga.readDispi(0, &data);
    try testing.expectEqual(@as(u16, 0x1234), std.mem.readInt(u16, &data, .little));
}

test "dispi: GETCAPS reports the maxima and the video memory size is read-only" {
    var vga = Vga.init(test_vram_bytes);
    dispiWrite(&vga, 0x3, 16);
    dispiWrite(&vga, 0x1, 800);
    const enable = dispiRead(&vga, 0x4);
    dispiWrite(&vga, 0x4, enable | 0x02);
    try testing.expectEqual(@as(u16, 16000), dispiRead(&vga, 0x1));
    try testing.expectEqual(@as(u16, 12000), dispiRead(&vga, 0x2));
    try testing.expectEqual(@as(u16, 32), dispiRead(&vga, 0x3));
    try testing.expectEqual(@as(u16, 0xB0C5), dispiRead(&vga, 0x0));
    try testing.expectEqual(@as(u16, 0x02), dispiRead(&vga, 0x4));
    dispiWrite(&vga, 0x4, enable);
    try testing.expectEqual(@as(u16, 800), dispiRead(&vga, 0x1));
    try testing.expectEqual(@as(u16, 16), dispiRead(&vga, 0x3));

    try testing.expectEqual(@as(u16, 256), dispiRead(&vga, 0xA));
    dispiWrite(&vga, 0xA, 1);
    try testing.expectEqual(@as(u16, 256), dispiRead(&vga, 0xA));
    var small = Vga.init(1 << 20);
    try testing.expectEqual(@as(u16, 16), dispiRead(&small, 0xA));
}

test "dispi: a VBE mode set as vgabios-stdvga does it, and what is refused" {
    var vga = Vga.init(test_vram_bytes);
    dispiWrite(&vga, 0x4, 0x00);
    dispiWrite(&vga, 0x3, 32);
    dispiWrite(&vga, 0x1, 1024);
    dispiWrite(&vga, 0x2, 768);
    dispiWrite(&vga, 0x5, 0);
    dispiWrite(&vga, 0x6, 4000); // stale virtual size and offsets are replaced on enable
    dispiWrite(&vga, 0x9, 77);
    dispiWrite(&vga, 0x4, 0x41); // enabled, linear frame buffer
    try testing.expectEqual(@as(u16, 0x41), dispiRead(&vga, 0x4));
    try testing.expectEqual(@as(u16, 1024), dispiRead(&vga, 0x6));
    try testing.expectEqual(@as(u16, 768), dispiRead(&vga, 0x7));
    try testing.expectEqual(@as(u16, 0), dispiRead(&vga, 0x9));
    const planes = try testPlanes();
    defer testing.allocator.free(planes);
    var cells: TestCells = undefined;
    const frame = vga_render.frameSize(&vga, test_vram_bytes);
    try testing.expect(!frame.text_mode and frame.width == 1024 and frame.height == 768);
    try testing.expectEqual(@as(?vga_render.TextSize, null), vga_render.textCells(&vga, planes, &cells));

    // Resolution and depth cannot change while enabled.
    dispiWrite(&vga, 0x1, 640);
    dispiWrite(&vga, 0x3, 8);
    try testing.expectEqual(@as(u16, 1024), dispiRead(&vga, 0x1));
    try testing.expectEqual(@as(u16, 32), dispiRead(&vga, 0x3));
    try testing.expect(vga.vbeConsistent());

    // Disabled again: invalid values are ignored, widths round down to 8 pixels, 0 bpp is 8.
    dispiWrite(&vga, 0x4, 0x00);
    try testing.expect(vga_render.frameSize(&vga, test_vram_bytes).text_mode);
    try testing.expect(vga_render.textCells(&vga, planes, &cells) != null);
    dispiWrite(&vga, 0x1, 16008);
    dispiWrite(&vga, 0x2, 12001);
    dispiWrite(&vga, 0x3, 7);
    try testing.expectEqual(@as(u16, 1024), dispiRead(&vga, 0x1));
    try testing.expectEqual(@as(u16, 768), dispiRead(&vga, 0x2));
    try testing.expectEqual(@as(u16, 32), dispiRead(&vga, 0x3));
    dispiWrite(&vga, 0x1, 1366);
    try testing.expectEqual(@as(u16, 1360), dispiRead(&vga, 0x1));
    dispiWrite(&vga, 0x3, 0);
    try testing.expectEqual(@as(u16, 8), dispiRead(&vga, 0x3));
    for ([_]u16{ 4, 15, 16, 24 }) |bpp| {
        dispiWrite(&vga, 0x3, bpp);
        try testing.expectEqual(bpp, dispiRead(&vga, 0x3));
    }

    // A mode larger than the video memory is not enabled: 4000x3000x32 needs 48 MB.
    dispiWrite(&vga, 0x3, 32);
    dispiWrite(&vga, 0x1, 4000);
    dispiWrite(&vga, 0x2, 3000);
    dispiWrite(&vga, 0x4, 0xC1);
    try testing.expectEqual(@as(u16, 0xC0), dispiRead(&vga, 0x4));
    try testing.expect(vga_render.frameSize(&vga, test_vram_bytes).text_mode);
    // Nor one without a size.
    var fresh = Vga.init(test_vram_bytes);
    dispiWrite(&fresh, 0x4, 0x01);
    try testing.expectEqual(@as(u16, 0x00), dispiRead(&fresh, 0x4));
    // 4000x3000 at 8 bpp fits.
    dispiWrite(&vga, 0x3, 8);
    dispiWrite(&vga, 0x4, 0x01);
    try testing.expectEqual(@as(u16, 0x01), dispiRead(&vga, 0x4));
    try testing.expect(vga.vbeConsistent());
}

test "dispi: virtual size, panning and bank stay inside the video memory" {
    var vga = Vga.init(test_vram_bytes);
    dispiWrite(&vga, 0x3, 32);
    dispiWrite(&vga, 0x1, 1024);
    dispiWrite(&vga, 0x2, 768);
    dispiWrite(&vga, 0x4, 0x41);
    dispiWrite(&vga, 0x6, 2048);
    try testing.expectEqual(@as(u16, 2048), dispiRead(&vga, 0x6));
    try testing.expectEqual(@as(u16, 768), dispiRead(&vga, 0x7));
    dispiWrite(&vga, 0x7, 4000); // 16 MiB / 8 KiB per line = 2048 lines
    try testing.expectEqual(@as(u16, 2048), dispiRead(&vga, 0x7));
    dispiWrite(&vga, 0x7, 100); // never below the visible height
    try testing.expectEqual(@as(u16, 768), dispiRead(&vga, 0x7));
    dispiWrite(&vga, 0x6, 100); // nor narrower than the visible width
    try testing.expectEqual(@as(u16, 1024), dispiRead(&vga, 0x6));
    dispiWrite(&vga, 0x6, 2048);

    dispiWrite(&vga, 0x9, 1280); // the frame ends exactly at the end of memory
    try testing.expectEqual(@as(u16, 1280), dispiRead(&vga, 0x9));
    dispiWrite(&vga, 0x9, 1281);
    try testing.expectEqual(@as(u16, 1280), dispiRead(&vga, 0x9));
    dispiWrite(&vga, 0x8, 1024);
    try testing.expectEqual(@as(u16, 0), dispiRead(&vga, 0x8)); // would run past the end
    dispiWrite(&vga, 0x9, 0);
    dispiWrite(&vga, 0x8, 1024);
    try testing.expectEqual(@as(u16, 1024), dispiRead(&vga, 0x8));

    // Too wide for the memory: (16 MiB / 768 lines) holds 5461 pixels of 4 bytes.
    dispiWrite(&vga, 0x9, 1000);
    dispiWrite(&vga, 0x6, 8000);
    try testing.expectEqual(@as(u16, 5461), dispiRead(&vga, 0x6));
    try testing.expectEqual(@as(u16, 768), dispiRead(&vga, 0x7));
    try testing.expectEqual(@as(u16, 0), dispiRead(&vga, 0x8)); // pulled back to the origin
    try testing.expectEqual(@as(u16, 0), dispiRead(&vga, 0x9));
    try testing.expect(vga.vbeConsistent());

    dispiWrite(&vga, 0x5, 255);
    try testing.expectEqual(@as(u16, 255), dispiRead(&vga, 0x5));
    dispiWrite(&vga, 0x5, 256); // past the last 64 KiB bank: ignored, as the BIOS can check
    try testing.expectEqual(@as(u16, 255), dispiRead(&vga, 0x5));
}

test "text screen: 80x50, start address, row stride, cursor, scan doubling and clamping" {
    var vga = Vga.init(test_vram_bytes);
    const planes = try testPlanes();
    defer testing.allocator.free(planes);
    var cells: TestCells = undefined;
    crtcWrite(&vga, 0x09, 0x47); // 8-line cells: 400 lines make 50 rows
    crtcWrite(&vga, 0x0A, 0x06);
    crtcWrite(&vga, 0x0B, 0x07);
    outw(&vga, 0x3D4, 0x070C); // start address 0x07D0 = 2000: the second page of 80x25
    outw(&vga, 0x3D4, 0xD00D);
    outw(&vga, 0x3D4, 0x080E); // cursor at 0x0820 = 2000 + 80 + 0
    outw(&vga, 0x3D4, 0x200F);
    setCell(planes, 2000, 'S');
    setCell(planes, 2080, 'N');
    var size = vga_render.textCells(&vga, planes, &cells).?;
    try testing.expectEqual(vga_render.TextSize{ .columns = 80, .rows = 50 }, size);
    try testing.expectEqual(@as(u8, 'S'), cells[0].char);
    try testing.expectEqual(@as(u8, 'N'), cells[80].char);
    try testing.expectEqual(@as(?usize, 80), cursorCell(&cells, size));

    crtcWrite(&vga, 0x0A, 0x26); // cursor disabled
    size = vga_render.textCells(&vga, planes, &cells).?;
    try testing.expectEqual(@as(?usize, null), cursorCell(&cells, size));
    crtcWrite(&vga, 0x0A, 0x08); // start line below the end line: no cursor either
    size = vga_render.textCells(&vga, planes, &cells).?;
    try testing.expectEqual(@as(?usize, null), cursorCell(&cells, size));
    crtcWrite(&vga, 0x0A, 0x06);
    outw(&vga, 0x3D4, 0x000E); // cursor before the start address: not on screen
    size = vga_render.textCells(&vga, planes, &cells).?;
    try testing.expectEqual(@as(?usize, null), cursorCell(&cells, size));

    crtcWrite(&vga, 0x09, 0xC7); // scan doubling halves the rows
    try testing.expectEqual(@as(u16, 25), vga_render.textCells(&vga, planes, &cells).?.rows);

    // A hostile setting: 1024 lines of 1-line cells, 256 columns, rows 510 cells apart.
    crtcWrite(&vga, 0x11, 0x00);
    crtcWrite(&vga, 0x01, 0xFF);
    crtcWrite(&vga, 0x07, 0x42);
    crtcWrite(&vga, 0x12, 0xFF);
    crtcWrite(&vga, 0x09, 0x00);
    crtcWrite(&vga, 0x13, 0xFF);
    setCell(planes, 2000 + 510, 'W');
    size = vga_render.textCells(&vga, planes, &cells).?;
    try testing.expectEqual(vga_render.TextSize{ .columns = 132, .rows = 60 }, size);
    try testing.expectEqual(@as(u8, 'S'), cells[0].char);
    try testing.expectEqual(@as(u8, 'W'), cells[132].char);

    // Monochrome text lives at 0xB0000.
    outw(&vga, 0x3CE, 0x0A06);
    try testing.expect(vga.windowMapping().eql(.{ .text = .{ .gpa = 0xB0000, .len = 0x8000 } }));
    try testing.expect(vga_render.textCells(&vga, planes, &cells) != null);
}

test "cp437Codepoint: the VGA ROM font's symbols, box drawing and accents" {
    const cases = [_]struct { char: u8, codepoint: u21 }{
        .{ .char = 'A', .codepoint = 'A' },
        .{ .char = 0x00, .codepoint = ' ' },
        .{ .char = 0x01, .codepoint = 0x263A }, // ☺
        .{ .char = 0x03, .codepoint = 0x2665 }, // ♥
        .{ .char = 0x1F, .codepoint = 0x25BC }, // ▼
        .{ .char = 0x7F, .codepoint = 0x2302 }, // ⌂
        .{ .char = 0x80, .codepoint = 0x00C7 }, // Ç
        .{ .char = 0x82, .codepoint = 0x00E9 }, // é
        .{ .char = 0xB0, .codepoint = 0x2591 }, // ░
        .{ .char = 0xB3, .codepoint = 0x2502 }, // │
        .{ .char = 0xC4, .codepoint = 0x2500 }, // ─
        .{ .char = 0xC9, .codepoint = 0x2554 }, // ╔
        .{ .char = 0xDA, .codepoint = 0x250C }, // ┌
        .{ .char = 0xDB, .codepoint = 0x2588 }, // █
        .{ .char = 0xE0, .codepoint = 0x03B1 }, // α
        .{ .char = 0xE1, .codepoint = 0x00DF }, // ß
        .{ .char = 0xFB, .codepoint = 0x221A }, // √
        .{ .char = 0xFD, .codepoint = 0x00B2 }, // ²
        .{ .char = 0xFE, .codepoint = 0x25A0 }, // ■
        .{ .char = 0xFF, .codepoint = ' ' },
    };
    for (cases) |case| try testing.expectEqual(case.codepoint, cp437Codepoint(case.char));
    // ASCII prints as itself; every other byte is a distinct character, but for the three spaces.
    for (0x20..0x7F) |char| try testing.expectEqual(@as(u21, @intCast(char)), cp437Codepoint(@intCast(char)));
    var spaces: u32 = 0;
    for (0..256) |a| {
        const codepoint = cp437Codepoint(@intCast(a));
        try testing.expect(std.unicode.utf8ValidCodepoint(codepoint));
        if (codepoint == ' ') spaces += 1;
        for (a + 1..256) |b| try testing.expect(codepoint == ' ' or codepoint != cp437Codepoint(@intCast(b)));
    }
    try testing.expectEqual(@as(u32, 3), spaces);
}

test "hostile guest: random accesses on both ranges never panic, dumps stay bounded" {
    var vga = Vga.init(test_vram_bytes);
    var prng = std.Random.DefaultPrng.init(0x3C0_1CE);
    const random = prng.random();
    const widths = [_]usize{ 1, 2, 4 };
    const dispi_values = [_]u16{ 0, 1, 4, 8, 15, 16, 24, 32, 0x41, 0x43, 0xC1, 640, 480, 1024, 768, 2048, 4000, 0xB0C0, 0xB0C5 };
    const planes = try testPlanes();
    defer testing.allocator.free(planes);
    var cells: TestCells = undefined;
    var i: u32 = 0;
    while (i < 200_000) : (i += 1) {
        var data: [4]u8 = undefined;
        random.bytes(&data);
        const width = widths[random.uintLessThan(usize, widths.len)];
        if (random.uintLessThan(u8, 4) != 0) {
            const offset = random.uintLessThan(u16, legacy_port_count + 4);
            if (random.boolean()) vga.read(offset, data[0..width]) else vga.write(offset, data[0..width]);
        } else if (random.uintLessThan(u8, 8) == 0) {
            const offset = random.uintLessThan(u16, dispi_port_count + 2);
            if (random.boolean()) vga.readDispi(offset, data[0..width]) else vga.writeDispi(offset, data[0..width]);
        } else {
            // Mostly well-formed dispi traffic, so that modes really get enabled.
            const index = random.uintLessThan(u16, 0xC);
            const value = if (random.boolean()) dispi_values[random.uintLessThan(usize, dispi_values.len)] else random.int(u16);
            if (random.boolean()) dispiWrite(&vga, index, value) else _ = dispiRead(&vga, index);
        }
        try testing.expect(vga.vbeConsistent());
        try testing.expect(vga.sequencer_index <= Vga.sequencer_index_mask);
        try testing.expect(vga.graphics_index <= Vga.graphics_index_mask);
        try testing.expect(vga.crtc_index <= Vga.crtc_index_mask);
        try testing.expect(vga.attribute_index <= 0x3F);
        try testing.expect(vga.dac_component < 3);
        if (i % 1000 == 0) {
            random.bytes(planes);
            const frame = vga_render.frameSize(&vga, test_vram_bytes);
            try testing.expect(frame.width >= 1 and frame.width <= 4096 and frame.height >= 1 and frame.height <= 4096);
            if (vga_render.textCells(&vga, planes, &cells)) |size| {
                try testing.expect(frame.text_mode);
                try testing.expect(size.columns >= 1 and size.columns <= max_text_columns);
                try testing.expect(size.rows <= max_text_rows);
            } else try testing.expect(!frame.text_mode);
        }
    }
    try testing.expect(vga.bad_accesses > 0);
}

/// Video memory and the legacy window's guest RAM with guard bytes either side, and a listener
/// that records what it hears.
const TestMemory = struct {
    const guard_bytes = 64;
    const guard: u8 = 0xCC;

    vram_guarded: []u8,
    legacy_guarded: []u8,
    changes: u32 = 0,
    last: WindowMapping = .mmio,

    fn init(vram_bytes: u32) !TestMemory {
        const vram_guarded = try testing.allocator.alloc(u8, vram_bytes + 2 * guard_bytes);
        errdefer testing.allocator.free(vram_guarded);
        const legacy_guarded = try testing.allocator.alloc(u8, vga_memory.window_bytes + 2 * guard_bytes);
        @memset(vram_guarded, guard);
        @memset(legacy_guarded, guard);
        var memory = TestMemory{ .vram_guarded = vram_guarded, .legacy_guarded = legacy_guarded };
        @memset(memory.vram(), 0);
        @memset(memory.legacy(), 0);
        return memory;
    }

    fn deinit(self: *TestMemory) void {
        testing.allocator.free(self.vram_guarded);
        testing.allocator.free(self.legacy_guarded);
    }

    fn vram(self: *TestMemory) []u8 {
        return self.vram_guarded[guard_bytes .. self.vram_guarded.len - guard_bytes];
    }

    fn legacy(self: *TestMemory) []u8 {
        return self.legacy_guarded[guard_bytes .. self.legacy_guarded.len - guard_bytes];
    }

    /// The guest RAM at guest-physical `gpa` of the legacy window.
    fn ram(self: *TestMemory, gpa: u32) *u8 {
        return &self.legacy()[gpa - 0xA0000];
    }

    fn attach(self: *TestMemory, vga: *Vga) void {
        vga.attachMemory(self.vram(), self.legacy(), .{ .context = self, .changedFn = changed });
    }

    fn changed(context: *anyopaque, mapping: WindowMapping) void {
        const self: *TestMemory = @ptrCast(@alignCast(context));
        self.changes += 1;
        self.last = mapping;
    }

    fn expectGuards(self: *TestMemory) !void {
        for ([_][]u8{ self.vram_guarded, self.legacy_guarded }) |guarded| {
            for (guarded[0..guard_bytes]) |byte| try testing.expectEqual(guard, byte);
            for (guarded[guarded.len - guard_bytes ..]) |byte| try testing.expectEqual(guard, byte);
        }
    }
};

fn memoryWrite(vga: *Vga, gpa: u32, value: u8) void {
    vga.writeMemory(gpa - 0xA0000, &[1]u8{value});
}

fn memoryRead(vga: *Vga, gpa: u32) u8 {
    var data = [1]u8{0};
    vga.readMemory(gpa - 0xA0000, &data);
    return data[0];
}

/// The sequencer and graphics controller registers that steer memory accesses, as a BIOS sets
/// them for a mode.
fn setMemoryRegisters(vga: *Vga, map_mask: u8, memory_mode: u8, graphics_mode: u8, misc: u8, dont_care: u8) void {
    for ([_]u8{ 0x00, 0x01, 0x02, 0x03, 0x04 }) |index| outw(vga, 0x3CE, index);
    outw(vga, 0x3C4, @as(u16, map_mask) << 8 | 0x02);
    outw(vga, 0x3C4, @as(u16, memory_mode) << 8 | 0x04);
    outw(vga, 0x3CE, @as(u16, graphics_mode) << 8 | 0x05);
    outw(vga, 0x3CE, @as(u16, misc) << 8 | 0x06);
    outw(vga, 0x3CE, @as(u16, dont_care) << 8 | 0x07);
    outw(vga, 0x3CE, 0xFF08);
}

/// IBM BIOS mode 12h (640x480 16 colours).
fn setPlanarMode(vga: *Vga) void {
    setMemoryRegisters(vga, 0x0F, 0x06, 0x00, 0x05, 0x0F);
}

/// IBM BIOS mode 3 (80x25 colour text).
fn setTextMode(vga: *Vga) void {
    setMemoryRegisters(vga, 0x03, 0x02, 0x10, 0x0E, 0x00);
}

/// IBM BIOS mode 13h (320x200 256 colours).
fn setChain4Mode(vga: *Vga) void {
    setMemoryRegisters(vga, 0x0F, 0x0E, 0x40, 0x05, 0x0F);
}

const text_mapping = WindowMapping{ .text = .{ .gpa = 0xB8000, .len = 0x8000 } };

test "a fresh attached device maps the text shadow at 0xB8000; before that, memory reads ones" {
    var memory = try TestMemory.init(1 << 20);
    defer memory.deinit();
    var vga = Vga.init(1 << 20);
    try testing.expectEqual(@as(u8, 0xFF), memoryRead(&vga, 0xB8000));
    memoryWrite(&vga, 0xB8000, 0x41); // dropped
    try testing.expect(vga.windowMapping().eql(text_mapping));

    memory.vram()[0] = 'A'; // plane 0, offset 0: the first character
    memory.vram()[1] = 0x1E; // plane 1: its attribute
    memory.vram()[4] = 'B';
    memory.attach(&vga);
    try testing.expectEqual(@as(u32, 1), memory.changes);
    try testing.expect(memory.last.eql(text_mapping));
    try testing.expectEqualSlices(u8, &[_]u8{ 'A', 0x1E, 'B', 0 }, memory.legacy()[0x18000..][0..4]);

    // A trapped access in text mode sees the shadow too, and the latches get plane 2 and 3.
    memory.vram()[2] = 0x77;
    try testing.expectEqual(@as(u8, 0x1E), memoryRead(&vga, 0xB8001));
    try testing.expectEqual([4]u8{ 'A', 0x1E, 0x77, 0 }, vga.latches);
    memoryWrite(&vga, 0xB8002, 'C');
    try testing.expectEqual(@as(u8, 'C'), memory.ram(0xB8002).*);
    try testing.expectEqual(@as(u8, 'B'), memory.vram()[4]); // the planes are stale until absorbed
    memory.ram(0xB8003).* = 0x2F; // a guest write through the mapped RAM
    vga.mutex.lock();
    vga.absorbTextShadow();
    vga.mutex.unlock();
    try testing.expectEqualSlices(u8, &[_]u8{ 'C', 0x2F }, memory.vram()[4..6]);
    // Outside the text window nothing is decoded.
    try testing.expectEqual(@as(u8, 0xFF), memoryRead(&vga, 0xA0000));
    try testing.expectEqual(@as(u8, 0xFF), memoryRead(&vga, 0xB0000));
    try memory.expectGuards();
}

test "font loading as a VGA BIOS does it: the text survives the round trip through the shadow" {
    var memory = try TestMemory.init(1 << 20);
    defer memory.deinit();
    var vga = Vga.init(1 << 20);
    memory.attach(&vga);
    for ("Hello", 0..) |character, i| {
        memory.ram(0xB8000 + 2 * @as(u32, @intCast(i))).* = character;
        memory.ram(0xB8001 + 2 * @as(u32, @intCast(i))).* = 0x07;
    }

    // Open plane 2: sequencer reset, map mask 4, odd/even off; read map 2, no host odd/even,
    // memory map 1 (0xA0000, 64 KiB).
    outw(&vga, 0x3C4, 0x0100);
    outw(&vga, 0x3C4, 0x0402);
    try testing.expectEqual(WindowMapping.mmio, memory.last);
    try testing.expectEqual(@as(u32, 2), memory.changes);
    try testing.expectEqualSlices(u8, &[_]u8{ 'H', 0x07, 0, 0, 'e', 0x07 }, memory.vram()[0..6]);
    outw(&vga, 0x3C4, 0x0704);
    outw(&vga, 0x3C4, 0x0300);
    outw(&vga, 0x3CE, 0x0204);
    outw(&vga, 0x3CE, 0x0005);
    outw(&vga, 0x3CE, 0x0406);
    try testing.expectEqual(@as(u32, 2), memory.changes); // still trapping: nothing to tell

    // Character 0x41, 16 scan lines at 0x41 * 32 of plane 2; read back through read map 2.
    for (0..16) |line| memoryWrite(&vga, 0xA0000 + 0x41 * 32 + @as(u32, @intCast(line)), @intCast(0x80 | line));
    for (0..16) |line| {
        try testing.expectEqual(@as(u8, @intCast(0x80 | line)), memoryRead(&vga, 0xA0000 + 0x41 * 32 + @as(u32, @intCast(line))));
        try testing.expectEqual(@as(u8, @intCast(0x80 | line)), memory.vram()[(0x41 * 32 + line) * 4 + 2]);
    }
    try testing.expectEqual(@as(u8, 0xFF), memoryRead(&vga, 0xB8000)); // map 1 ends at 0xAFFFF

    // Close plane 2 again, in the BIOS's order.
    outw(&vga, 0x3C4, 0x0100);
    outw(&vga, 0x3C4, 0x0302);
    outw(&vga, 0x3C4, 0x0304);
    outw(&vga, 0x3C4, 0x0300);
    outw(&vga, 0x3CE, 0x0E06);
    outw(&vga, 0x3CE, 0x0004);
    try testing.expectEqual(@as(u32, 2), memory.changes); // host odd/even still off
    outw(&vga, 0x3CE, 0x1005);
    try testing.expectEqual(@as(u32, 3), memory.changes);
    try testing.expect(memory.last.eql(text_mapping));
    for ("Hello", 0..) |character, i| {
        try testing.expectEqual(character, memory.ram(0xB8000 + 2 * @as(u32, @intCast(i))).*);
        try testing.expectEqual(@as(u8, 0x07), memory.ram(0xB8001 + 2 * @as(u32, @intCast(i))).*);
    }
    try testing.expectEqual(@as(u8, 0x80), memory.vram()[0x41 * 32 * 4 + 2]); // the font stays
    try memory.expectGuards();
}

test "mode 13h: chain 4 maps video memory linearly, 64 or 128 KiB of it" {
    var memory = try TestMemory.init(1 << 20);
    defer memory.deinit();
    var vga = Vga.init(1 << 20);
    memory.attach(&vga);
    memory.ram(0xB8000).* = 'X';
    outw(&vga, 0x3C4, 0x0F02);
    outw(&vga, 0x3C4, 0x0E04);
    outw(&vga, 0x3CE, 0x4005);
    try testing.expectEqual(WindowMapping.mmio, memory.last); // map 3 does not decode 0xA0000
    try testing.expectEqual(@as(u8, 'X'), memory.vram()[0]);
    outw(&vga, 0x3CE, 0x0506);
    try testing.expect(memory.last.eql(.{ .vram = .{ .gpa = 0xA0000, .vram_offset = 0, .len = 0x10000 } }));
    outw(&vga, 0x3CE, 0x0106);
    try testing.expect(memory.last.eql(.{ .vram = .{ .gpa = 0xA0000, .vram_offset = 0, .len = 0x20000 } }));
    try testing.expectEqual(@as(u32, 4), memory.changes);
    // A trapped access gives what the mapped memory would.
    memoryWrite(&vga, 0xA0000 + 321, 0x2A);
    try testing.expectEqual(@as(u8, 0x2A), memory.vram()[321]);
    memoryWrite(&vga, 0xBFFFF, 0x2B);
    try testing.expectEqual(@as(u8, 0x2B), memory.vram()[0x1FFFF]);
    try testing.expectEqual(@as(u8, 0x2B), memoryRead(&vga, 0xBFFFF));
    // A partial map mask or a write mode other than 0 traps.
    outw(&vga, 0x3C4, 0x0702);
    try testing.expectEqual(WindowMapping.mmio, memory.last);
    outw(&vga, 0x3C4, 0x0F02);
    outw(&vga, 0x3CE, 0x4105);
    try testing.expectEqual(WindowMapping.mmio, memory.last);
    outw(&vga, 0x3CE, 0x4005);
    outw(&vga, 0x3CE, 0x7F08);
    try testing.expectEqual(WindowMapping.mmio, memory.last);
    try memory.expectGuards();
}

test "planar mode 12h traps: write modes, latches and colour compare through the window" {
    var memory = try TestMemory.init(1 << 20);
    defer memory.deinit();
    var vga = Vga.init(1 << 20);
    memory.attach(&vga);
    setPlanarMode(&vga);
    try testing.expectEqual(WindowMapping.mmio, memory.last);

    // Write mode 2: colour 0x0B at pixel 1 of byte 10 (bit mask 0x40).
    outw(&vga, 0x3CE, 0x0205);
    outw(&vga, 0x3CE, 0x4008);
    _ = memoryRead(&vga, 0xA000A); // load the latches
    memoryWrite(&vga, 0xA000A, 0x0B);
    try testing.expectEqualSlices(u8, &[_]u8{ 0x40, 0x40, 0x00, 0x40 }, memory.vram()[40..44]);
    // Read mode 1: which pixels have colour 0x0B.
    outw(&vga, 0x3CE, 0x0B02);
    outw(&vga, 0x3CE, 0x0805);
    try testing.expectEqual(@as(u8, 0x40), memoryRead(&vga, 0xA000A));
    // Write mode 1 copies byte 10 to byte 20 through the latches, a 16-bit access at once.
    outw(&vga, 0x3CE, 0x0105);
    var pair: [2]u8 = undefined;
    vga.readMemory(0xA, &pair);
    vga.writeMemory(20, &[2]u8{ 0, 0 });
    try testing.expectEqualSlices(u8, &[_]u8{ 0x00, 0x00, 0x00, 0x00 }, memory.vram()[84..88]);
    try testing.expectEqualSlices(u8, &[_]u8{ 0x00, 0x00, 0x00, 0x00 }, memory.vram()[80..84]);
    _ = memoryRead(&vga, 0xA000A);
    memoryWrite(&vga, 0xA0014, 0);
    try testing.expectEqualSlices(u8, &[_]u8{ 0x40, 0x40, 0x00, 0x40 }, memory.vram()[80..84]);
    // Write mode 0 with set/reset on planes 0-3: a colour regardless of the data.
    outw(&vga, 0x3CE, 0x0005);
    outw(&vga, 0x3CE, 0x0F01);
    outw(&vga, 0x3CE, 0x0600);
    outw(&vga, 0x3CE, 0xFF08);
    memoryWrite(&vga, 0xA0000, 0x12);
    try testing.expectEqualSlices(u8, &[_]u8{ 0x00, 0xFF, 0xFF, 0x00 }, memory.vram()[0..4]);
    try memory.expectGuards();
}

test "memory map select: each window decodes its range only" {
    var memory = try TestMemory.init(1 << 20);
    defer memory.deinit();
    var vga = Vga.init(1 << 20);
    memory.attach(&vga);
    setPlanarMode(&vga);
    outw(&vga, 0x3C4, 0x0102); // plane 0 only
    const cases = [_]struct { misc: u16, first: u32, last: u32 }{
        .{ .misc = 0x0106, .first = 0xA0000, .last = 0xBFFFF },
        .{ .misc = 0x0506, .first = 0xA0000, .last = 0xAFFFF },
        .{ .misc = 0x0906, .first = 0xB0000, .last = 0xB7FFF },
        .{ .misc = 0x0D06, .first = 0xB8000, .last = 0xBFFFF },
    };
    for (cases) |case| {
        outw(&vga, 0x3CE, case.misc);
        @memset(memory.vram()[0..vga_memory.planar_bytes], 0);
        for ([_]u32{ 0xA0000, 0xAFFFF, 0xB0000, 0xB7FFF, 0xB8000, 0xBFFFF }) |gpa| {
            const decoded = gpa >= case.first and gpa <= case.last;
            memoryWrite(&vga, gpa, 0x5A);
            if (decoded) {
                const plane_offset = (gpa - case.first) & 0xFFFF;
                try testing.expectEqual(@as(u8, 0x5A), memory.vram()[plane_offset * 4]);
                try testing.expectEqual(@as(u8, 0x5A), memoryRead(&vga, gpa));
            } else {
                try testing.expectEqual(@as(u8, 0xFF), memoryRead(&vga, gpa));
            }
        }
    }
    try testing.expectEqual(@as(u32, 0), vga.bad_accesses);
    try memory.expectGuards();
}

test "VBE: the bank window at 0xA0000 is mapped, bounds-checked when trapped, 0xB0000 is not decoded" {
    var memory = try TestMemory.init(1 << 20);
    defer memory.deinit();
    var vga = Vga.init(1 << 20);
    memory.attach(&vga);
    memory.ram(0xB8000).* = 'T';
    @memset(memory.vram()[0x40000..0x50000], 0x33); // beyond the first 640x480 frame
    dispiWrite(&vga, 0x3, 8);
    dispiWrite(&vga, 0x1, 640);
    dispiWrite(&vga, 0x2, 480);
    memory.vram()[0] = 0x99;
    dispiWrite(&vga, 0x4, 0x01); // enabled, memory cleared
    try testing.expect(memory.last.eql(.{ .vram = .{ .gpa = 0xA0000, .vram_offset = 0, .len = 0x10000 } }));
    try testing.expectEqual(@as(u8, 0), memory.vram()[0]); // the old text went back, then was cleared
    try testing.expectEqual(@as(u8, 0x33), memory.vram()[0x4B000]);
    dispiWrite(&vga, 0x5, 3);
    try testing.expect(memory.last.eql(.{ .vram = .{ .gpa = 0xA0000, .vram_offset = 3 << 16, .len = 0x10000 } }));
    memoryWrite(&vga, 0xA0010, 0x44);
    try testing.expectEqual(@as(u8, 0x44), memory.vram()[(3 << 16) + 0x10]);
    try testing.expectEqual(@as(u8, 0x44), memoryRead(&vga, 0xA0010));
    try testing.expectEqual(@as(u8, 0xFF), memoryRead(&vga, 0xB0000));
    memoryWrite(&vga, 0xB8000, 0x55);
    try testing.expectEqual(@as(u8, 0xFF), memoryRead(&vga, 0xB8000));
    dispiWrite(&vga, 0x5, 15); // the last bank
    memoryWrite(&vga, 0xAFFFF, 0x66);
    try testing.expectEqual(@as(u8, 0x66), memory.vram()[(1 << 20) - 1]);
    dispiWrite(&vga, 0x5, 16); // past the memory: refused
    try testing.expectEqual(@as(u16, 15), dispiRead(&vga, 0x5));

    // With the no-clear flag memory is kept; disabling brings the text mapping back.
    dispiWrite(&vga, 0x4, 0x00);
    try testing.expect(memory.last.eql(text_mapping));
    dispiWrite(&vga, 0x5, 0);
    memory.vram()[0x102] = 0x77; // plane 2: not in the shadow
    dispiWrite(&vga, 0x4, 0x81);
    try testing.expectEqual(@as(u8, 0x77), memory.vram()[0x102]);
    try memory.expectGuards();
}

test "display generation moves with register and window writes, not with reads" {
    var memory = try TestMemory.init(1 << 20);
    defer memory.deinit();
    var vga = Vga.init(1 << 20);
    memory.attach(&vga);
    var generation = vga.display_generation;
    _ = memoryRead(&vga, 0xB8000);
    _ = inb(&vga, 0x3DA);
    try testing.expectEqual(generation, vga.display_generation);
    outb(&vga, 0x3C8, 1);
    try testing.expect(vga.display_generation != generation);
    generation = vga.display_generation;
    memoryWrite(&vga, 0xB8000, 'x');
    try testing.expect(vga.display_generation != generation);
    generation = vga.display_generation;
    dispiWrite(&vga, 0x5, 0);
    try testing.expect(vga.display_generation != generation);
    generation = vga.display_generation;
    vga.writeMemory(0, &[_]u8{0} ** 9); // a bad access changes nothing
    try testing.expectEqual(generation, vga.display_generation);
    vga.display_generation = std.math.maxInt(u64);
    outb(&vga, 0x3C8, 1);
    try testing.expectEqual(@as(u64, 0), vga.display_generation);
}

test "window accesses of a bad length or past 0xBFFFF are ignored, read as ones and counted" {
    var memory = try TestMemory.init(1 << 20);
    defer memory.deinit();
    var vga = Vga.init(1 << 20);
    memory.attach(&vga);
    var nine = [_]u8{0} ** 9;
    vga.readMemory(0x18000, &nine);
    try testing.expectEqualSlices(u8, &([_]u8{0xFF} ** 9), &nine);
    vga.readMemory(0x18000, nine[0..0]);
    vga.writeMemory(0x20000, &[1]u8{1});
    vga.writeMemory(0x1FFFF, &[2]u8{ 1, 2 });
    vga.readMemory(std.math.maxInt(u32), nine[0..1]);
    try testing.expectEqual(@as(u32, 5), vga.bad_accesses);
    var eight = [_]u8{0} ** 8;
    memory.legacy()[0x1FFF8..][0..8].* = .{ 1, 2, 3, 4, 5, 6, 7, 8 };
    vga.readMemory(0x1FFF8, &eight);
    try testing.expectEqualSlices(u8, &[_]u8{ 1, 2, 3, 4, 5, 6, 7, 8 }, &eight);
    try testing.expectEqual(@as(u32, 5), vga.bad_accesses);
    try memory.expectGuards();
}

test "hostile guest: random registers, windows, banks and accesses stay inside the memory" {
    var memory = try TestMemory.init(256 << 10);
    defer memory.deinit();
    var vga = Vga.init(256 << 10);
    memory.attach(&vga);
    var prng = std.Random.DefaultPrng.init(0xA0000_B8000);
    const random = prng.random();
    const interesting = [_]u8{ 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0E, 0x0F, 0x10, 0x40, 0xFF };
    var data: [10]u8 = undefined;
    for (0..200_000) |_| {
        random.bytes(&data);
        switch (random.uintLessThan(u8, 40)) {
            0, 1 => outw(&vga, 0x3C4, @as(u16, interesting[random.uintLessThan(usize, interesting.len)]) << 8 | random.uintLessThan(u8, 5)),
            2, 3 => outw(&vga, 0x3CE, @as(u16, interesting[random.uintLessThan(usize, interesting.len)]) << 8 | random.uintLessThan(u8, 9)),
            4 => dispiWrite(&vga, random.uintLessThan(u16, 10), if (random.boolean()) interesting[random.uintLessThan(usize, interesting.len)] else random.int(u16)),
            5 => vga.write(random.uintLessThan(u16, legacy_port_count), data[0..1]),
            // Whole modes now and then, so that every mapping comes and goes.
            6, 7 => switch (random.uintLessThan(u8, 4)) {
                0 => setTextMode(&vga),
                1 => setPlanarMode(&vga),
                2 => setChain4Mode(&vga),
                else => dispiWrite(&vga, 0x4, 0),
            },
            else => {
                const offset = if (random.uintLessThan(u8, 16) == 0) random.int(u32) else random.uintLessThan(u32, 0x20010);
                const len = random.uintLessThan(usize, 10);
                if (random.boolean()) vga.readMemory(offset, data[0..len]) else vga.writeMemory(offset, data[0..len]);
            },
        }
        if (random.uintLessThan(u8, 64) == 0) {
            vga.mutex.lock();
            vga.absorbTextShadow();
            vga.mutex.unlock();
        }
        try testing.expect(vga.window.eql(vga.windowMapping()));
        try testing.expect(memory.last.eql(vga.window));
        switch (vga.window) {
            .mmio => {},
            .text => |text| try testing.expect(text.gpa >= 0xB0000 and text.gpa + text.len <= 0xC0000),
            .vram => |window| try testing.expect(window.vram_offset + window.len <= memory.vram().len and
                window.gpa + window.len <= 0xC0000),
        }
    }
    try testing.expect(memory.changes > 100);
    try testing.expect(vga.bad_accesses > 0);
    try memory.expectGuards();
}
