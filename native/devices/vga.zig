//! The VGA of QEMU's "std" adapter (PCI 1234:1111), registers only: the IBM VGA register file at
//! 0x3B0-0x3DF and the Bochs VBE "dispi" extension at 0x1CE/0x1CF, which is what Debian's
//! vgabios-stdvga.bin programs. The legacy memory window (0xA0000-0xBFFFF) is plain guest RAM in
//! vmctl, so planes, latches, write modes and scan-out are not emulated; the register state is kept
//! complete for a renderer to come. What works today is text: `textGeometry` says where the
//! characters are and how the screen is laid out, and `renderText` turns them into UTF-8 lines.
const std = @import("std");
const assert = std.debug.assert;

/// The legacy register file: 0x3B0-0x3BF (monochrome), 0x3C0-0x3CF, 0x3D0-0x3DF (colour).
pub const legacy_port_base: u16 = 0x3B0;
pub const legacy_port_count: u16 = 0x30;
/// The Bochs VBE interface: offset 0 is the index port (0x1CE), offset 1 the data port (0x1CF).
pub const dispi_port_base: u16 = 0x1CE;
pub const dispi_port_count: u16 = 2;

/// How much text memory a dump reads: the 32 KiB CPU window at 0xB8000 (colour text modes).
pub const text_memory_bytes: u32 = 32 << 10;
/// Bounds on what a dump shows, whatever the guest programs.
pub const max_text_columns: u16 = 132;
pub const max_text_rows: u16 = 60;

/// What the host needs to dump the text screen, derived from the CRTC, graphics controller,
/// attribute controller and dispi registers. Addresses count character cells (two bytes each:
/// character, then attribute) from the start of the text memory window.
pub const TextGeometry = struct {
    /// Characters per row: CRTC horizontal display end + 1, at most `max_text_columns`.
    columns: u16,
    /// Displayed scan lines divided by the character height, at most `max_text_rows`.
    rows: u16,
    /// Cells from the start of one row to the start of the next: the CRTC offset register × 2.
    row_stride: u16,
    /// The first displayed cell (CRTC start address, registers 0x0C/0x0D).
    start_address: u16,
    /// The cell under the cursor (CRTC registers 0x0E/0x0F).
    cursor_address: u16,
    /// Cursor enabled (CRTC 0x0A bit 5 clear) with a start scan line not below its end line.
    cursor_visible: bool,
    /// Guest-physical address of the window the CPU writes the characters through (graphics
    /// controller memory map select): 0xB8000 for colour text, 0xB0000 for monochrome.
    memory_address: u32,
    /// Alphanumeric mode: graphics controller misc bit 0 and attribute mode control bit 0 clear,
    /// and no VBE mode enabled.
    text_mode: bool,
    /// A Bochs VBE (dispi) graphics mode is enabled; the screen is then not text.
    vbe_enabled: bool,

    pub const CellPosition = struct { row: u16, column: u16 };

    /// Where the cursor is on screen, or null if it is hidden or outside the displayed cells.
    pub fn cursorPosition(self: TextGeometry) ?CellPosition {
        if (!self.cursor_visible or self.row_stride == 0) return null;
        const cells_in_window = text_memory_bytes / 2;
        const distance = @as(u32, self.cursor_address -% self.start_address) % cells_in_window;
        const row = distance / self.row_stride;
        const column = distance % self.row_stride;
        if (row >= self.rows or column >= self.columns) return null;
        return .{ .row = @intCast(row), .column = @intCast(column) };
    }
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

    /// Accesses with a width or offset that fits no register (saturating).
    bad_accesses: u32 = 0,

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
        const horizontal_display_end: u8 = 0x01;
        const overflow: u8 = 0x07;
        const max_scan_line: u8 = 0x09;
        const cursor_start: u8 = 0x0A;
        const cursor_end: u8 = 0x0B;
        const start_address_high: u8 = 0x0C;
        const start_address_low: u8 = 0x0D;
        const cursor_location_high: u8 = 0x0E;
        const cursor_location_low: u8 = 0x0F;
        const vertical_retrace_end: u8 = 0x11;
        const vertical_display_end: u8 = 0x12;
        const offset: u8 = 0x13;
        /// Registers 0-7 are write-protected while bit 7 of vertical retrace end is set.
        const last_protected: u8 = 0x07;
    };
    const crtc_protect: u8 = 0x80;
    const overflow_line_compare_8: u8 = 0x10;
    const overflow_display_end_8: u8 = 0x02;
    const overflow_display_end_9: u8 = 0x40;
    const max_scan_line_double: u8 = 0x80;
    const max_scan_line_height: u8 = 0x1F;
    const cursor_disable: u8 = 0x20;
    const cursor_line: u8 = 0x1F;

    const graphics_misc: u8 = 0x06;
    const graphics_misc_graphics: u8 = 0x01;
    const attribute_mode_control: u8 = 0x10;
    const attribute_mode_graphics: u8 = 0x01;

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
        if (offset == 0) self.dispi_index = value else self.writeDispiRegister(self.dispi_index, value);
    }

    /// The text screen as the registers describe it, clamped so that no guest setting makes a
    /// dump read more than `max_text_columns` × `max_text_rows` cells.
    pub fn textGeometry(self: *Vga) TextGeometry {
        self.mutex.lock();
        defer self.mutex.unlock();
        const crtc = &self.crtc;
        const columns = @as(u16, crtc[Crtc.horizontal_display_end]) + 1;
        const overflow = crtc[Crtc.overflow];
        var display_end: u16 = crtc[Crtc.vertical_display_end];
        if (overflow & overflow_display_end_8 != 0) display_end |= 0x100;
        if (overflow & overflow_display_end_9 != 0) display_end |= 0x200;
        var scan_lines = display_end + 1;
        if (crtc[Crtc.max_scan_line] & max_scan_line_double != 0) scan_lines /= 2;
        const char_height = @as(u16, crtc[Crtc.max_scan_line] & max_scan_line_height) + 1;
        const cursor_start = crtc[Crtc.cursor_start];
        const cursor_end = crtc[Crtc.cursor_end];
        const vbe_enabled = self.vbe_enable & enable_enabled != 0;
        const alphanumeric = self.graphics[graphics_misc] & graphics_misc_graphics == 0 and
            self.attribute[attribute_mode_control] & attribute_mode_graphics == 0;
        const memory_map: u2 = @truncate(self.graphics[graphics_misc] >> 2);
        return .{
            .columns = @min(columns, max_text_columns),
            .rows = @min(scan_lines / char_height, max_text_rows),
            .row_stride = @as(u16, crtc[Crtc.offset]) * 2,
            .start_address = @as(u16, crtc[Crtc.start_address_high]) << 8 | crtc[Crtc.start_address_low],
            .cursor_address = @as(u16, crtc[Crtc.cursor_location_high]) << 8 | crtc[Crtc.cursor_location_low],
            .cursor_visible = cursor_start & cursor_disable == 0 and
                cursor_start & cursor_line <= cursor_end & cursor_line,
            .memory_address = switch (memory_map) {
                0, 1 => 0xA0000,
                2 => 0xB0000,
                3 => 0xB8000,
            },
            .text_mode = alphanumeric and !vbe_enabled,
            .vbe_enabled = vbe_enabled,
        };
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

/// Writes the text screen `geometry` describes as UTF-8 lines, each ending in '\n', trailing
/// spaces trimmed and trailing empty rows left out (a blank screen writes nothing).
/// `text_memory` is the text window (normally the 32 KiB at 0xB8000): character and attribute
/// bytes in turn. Cell addresses wrap within it; only the first `text_memory_bytes` are used.
/// Characters are code page 437, the VGA's ROM font. The output is at most `max_text_rows` ×
/// (`max_text_columns` × 3 + 1) bytes, whatever the geometry says.
pub fn renderText(geometry: TextGeometry, text_memory: []const u8, out: anytype) !void {
    const memory = text_memory[0..@min(text_memory.len, text_memory_bytes)];
    const cell_count: u32 = @intCast(memory.len / 2);
    if (cell_count == 0) return;
    const columns = @min(geometry.columns, max_text_columns);
    const rows = @min(geometry.rows, max_text_rows);
    var line: [max_text_columns * Glyph.max_bytes]u8 = undefined;
    var empty_rows_pending: u32 = 0;
    for (0..rows) |row| {
        const row_start = @as(u32, geometry.start_address) + @as(u32, @intCast(row)) * geometry.row_stride;
        var len: usize = 0;
        var kept: usize = 0;
        for (0..columns) |column| {
            const cell = (row_start + @as(u32, @intCast(column))) % cell_count;
            const glyph = &cp437[memory[cell * 2]];
            @memcpy(line[len..][0..glyph.len], glyph.utf8());
            len += glyph.len;
            if (!glyph.isSpace()) kept = len;
        }
        if (kept == 0) {
            empty_rows_pending += 1;
            continue;
        }
        while (empty_rows_pending > 0) : (empty_rows_pending -= 1) try out.writeByte('\n');
        try out.writeAll(line[0..kept]);
        try out.writeByte('\n');
    }
}

/// One code page 437 character as UTF-8.
const Glyph = struct {
    const max_bytes = 3;

    bytes: [max_bytes]u8,
    len: u8,

    fn utf8(self: *const Glyph) []const u8 {
        return self.bytes[0..self.len];
    }

    fn isSpace(self: *const Glyph) bool {
        return self.len == 1 and self.bytes[0] == ' ';
    }
};

/// Code page 437 in rows of 16, as the VGA's ROM font draws it: control codes are symbols.
/// NUL (0x00) and the no-break space (0xFF) draw nothing and are plain spaces here, so that
/// trimming removes them.
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

const cp437: [256]Glyph = table: {
    @setEvalBranchQuota(20_000);
    var glyphs: [256]Glyph = undefined;
    for (cp437_rows, 0..) |row, high| {
        var characters = std.unicode.Utf8View.initComptime(row).iterator();
        var low: usize = 0;
        while (characters.nextCodepointSlice()) |character| : (low += 1) {
            if (low == 16 or character.len > Glyph.max_bytes) @compileError("bad code page 437 row");
            var glyph = Glyph{ .bytes = .{ 0, 0, 0 }, .len = character.len };
            @memcpy(glyph.bytes[0..character.len], character);
            glyphs[high * 16 + low] = glyph;
        }
        if (low != 16) @compileError("code page 437 rows hold 16 characters");
    }
    break :table glyphs;
};

const testing = std.testing;

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

/// A text window with `text` written from cell `start` on, attribute 0x07.
fn textMemory(buffer: *[text_memory_bytes]u8, start: u32, text: []const u8) void {
    @memset(buffer, 0);
    for (text, 0..) |character, i| {
        const cell = (start + @as(u32, @intCast(i))) % (text_memory_bytes / 2);
        buffer[cell * 2] = character;
        buffer[cell * 2 + 1] = 0x07;
    }
}

fn renderToList(geometry: TextGeometry, memory: []const u8) !std.ArrayList(u8) {
    var list = std.ArrayList(u8).init(testing.allocator);
    errdefer list.deinit();
    try renderText(geometry, memory, list.writer());
    return list;
}

const geometry_80x25 = TextGeometry{
    .columns = 80,
    .rows = 25,
    .row_stride = 80,
    .start_address = 0,
    .cursor_address = 0,
    .cursor_visible = true,
    .memory_address = 0xB8000,
    .text_mode = true,
    .vbe_enabled = false,
};

test "a fresh device holds mode 3 and describes an 80x25 colour text screen" {
    var vga = Vga.init(test_vram_bytes);
    try testing.expectEqual(@as(u8, 0x67), inb(&vga, 0x3CC));
    try testing.expectEqual(@as(u8, 0x4F), crtcRead(&vga, 0x01));
    try testing.expectEqual(@as(u8, 0x8E), crtcRead(&vga, 0x11));
    try testing.expectEqual(@as(u8, 0x0C), attributeRead(&vga, 0x10));
    try testing.expectEqual(TextGeometry{
        .columns = 80,
        .rows = 25,
        .row_stride = 80,
        .start_address = 0,
        .cursor_address = 0,
        .cursor_visible = true,
        .memory_address = 0xB8000,
        .text_mode = true,
        .vbe_enabled = false,
    }, vga.textGeometry());
    try testing.expectEqual(TextGeometry.CellPosition{ .row = 0, .column = 0 }, vga.textGeometry().cursorPosition().?);
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
    const geometry = vga.textGeometry();
    try testing.expect(!geometry.text_mode);
    try testing.expectEqual(@as(u32, 0xA0000), geometry.memory_address);
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
    try testing.expectEqual(@as(u16, 0x1234), vga.textGeometry().cursor_address);
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
    try testing.expectEqual(@as(u16, 132), vga.textGeometry().columns);
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

    // Mode control bit 0 turns graphics on; registers past 0x14 read as ones.
    attributeWrite(&vga, 0x10, 0x41);
    try testing.expect(!vga.textGeometry().text_mode);
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
    const geometry = vga.textGeometry();
    try testing.expect(geometry.vbe_enabled and !geometry.text_mode);

    // Resolution and depth cannot change while enabled.
    dispiWrite(&vga, 0x1, 640);
    dispiWrite(&vga, 0x3, 8);
    try testing.expectEqual(@as(u16, 1024), dispiRead(&vga, 0x1));
    try testing.expectEqual(@as(u16, 32), dispiRead(&vga, 0x3));
    try testing.expect(vga.vbeConsistent());

    // Disabled again: invalid values are ignored, widths round down to 8 pixels, 0 bpp is 8.
    dispiWrite(&vga, 0x4, 0x00);
    try testing.expect(!vga.textGeometry().vbe_enabled);
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
    try testing.expect(!vga.textGeometry().vbe_enabled);
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

test "textGeometry: 80x50, start address, cursor, scan doubling and clamping" {
    var vga = Vga.init(test_vram_bytes);
    crtcWrite(&vga, 0x09, 0x47); // 8-line cells: 400 lines make 50 rows
    crtcWrite(&vga, 0x0A, 0x06);
    crtcWrite(&vga, 0x0B, 0x07);
    outw(&vga, 0x3D4, 0x070C); // start address 0x07D0 = 2000: the second page of 80x25
    outw(&vga, 0x3D4, 0xD00D);
    outw(&vga, 0x3D4, 0x080E); // cursor at 0x0820 = 2000 + 80 + 0
    outw(&vga, 0x3D4, 0x200F);
    var geometry = vga.textGeometry();
    try testing.expectEqual(@as(u16, 80), geometry.columns);
    try testing.expectEqual(@as(u16, 50), geometry.rows);
    try testing.expectEqual(@as(u16, 2000), geometry.start_address);
    try testing.expectEqual(@as(u16, 0x820), geometry.cursor_address);
    try testing.expect(geometry.cursor_visible);
    try testing.expectEqual(TextGeometry.CellPosition{ .row = 1, .column = 0 }, geometry.cursorPosition().?);

    crtcWrite(&vga, 0x0A, 0x26); // cursor disabled
    try testing.expect(!vga.textGeometry().cursor_visible);
    try testing.expectEqual(@as(?TextGeometry.CellPosition, null), vga.textGeometry().cursorPosition());
    crtcWrite(&vga, 0x0A, 0x08); // start line below the end line: no cursor either
    try testing.expect(!vga.textGeometry().cursor_visible);
    crtcWrite(&vga, 0x0A, 0x06);
    outw(&vga, 0x3D4, 0x000E); // cursor before the start address: not on screen
    try testing.expectEqual(@as(?TextGeometry.CellPosition, null), vga.textGeometry().cursorPosition());

    crtcWrite(&vga, 0x09, 0xC7); // scan doubling halves the rows
    try testing.expectEqual(@as(u16, 25), vga.textGeometry().rows);

    // A hostile setting: 1024 lines of 1-line cells, 256 columns.
    crtcWrite(&vga, 0x11, 0x00);
    crtcWrite(&vga, 0x01, 0xFF);
    crtcWrite(&vga, 0x07, 0x42);
    crtcWrite(&vga, 0x12, 0xFF);
    crtcWrite(&vga, 0x09, 0x00);
    crtcWrite(&vga, 0x13, 0xFF);
    geometry = vga.textGeometry();
    try testing.expectEqual(@as(u16, 132), geometry.columns);
    try testing.expectEqual(@as(u16, 60), geometry.rows);
    try testing.expectEqual(@as(u16, 510), geometry.row_stride);

    // Monochrome text lives at 0xB0000.
    outw(&vga, 0x3CE, 0x0A06);
    try testing.expectEqual(@as(u32, 0xB0000), vga.textGeometry().memory_address);
    try testing.expect(vga.textGeometry().text_mode);
}

test "renderText: code page 437 box drawing, symbols and accents" {
    var memory: [text_memory_bytes]u8 = undefined;
    @memset(&memory, 0);
    const rows = [_][]const u8{
        "\xDA\xC4\xC4\xC4\xC4\xBF",
        "\xB3Hi \x01\xB3",
        "\xC0\xC4\xC4\xC4\xC4\xD9",
        "caf\x82 \x03 \xB0\xB1\xB2\xDB \xC9\xCD\xBB \xE0\xE1\xE3 \xF1\xFB\xFD",
    };
    for (rows, 0..) |row, i| {
        for (row, 0..) |character, column| memory[(i * 80 + column) * 2] = character;
    }
    var list = try renderToList(geometry_80x25, &memory);
    defer list.deinit();
    try testing.expectEqualStrings(
        "┌────┐\n│Hi ☺│\n└────┘\ncafé ♥ ░▒▓█ ╔═╗ αßπ ±√²\n",
        list.items,
    );
    for (cp437) |glyph| try testing.expect(std.unicode.utf8ValidateSlice(glyph.utf8()));
    try testing.expectEqualStrings("⌂", cp437[0x7F].utf8());
    try testing.expectEqualStrings("▼", cp437[0x1F].utf8());
    try testing.expectEqualStrings("Ç", cp437[0x80].utf8());
    try testing.expectEqualStrings("■", cp437[0xFE].utf8());
    try testing.expectEqualStrings(" ", cp437[0xFF].utf8());
}

test "renderText: trailing spaces and rows dropped, inner empty rows kept" {
    var memory: [text_memory_bytes]u8 = undefined;
    @memset(&memory, 0);
    var list = try renderToList(geometry_80x25, &memory);
    try testing.expectEqual(@as(usize, 0), list.items.len);
    list.deinit();

    textMemory(&memory, 0, "C:\\>dir   ");
    for ("Volume", 0..) |character, i| memory[(3 * 80 + 2 + i) * 2] = character;
    memory[(4 * 80 + 79) * 2] = ' ';
    memory[(5 * 80 + 10) * 2] = 0xFF; // the no-break space draws nothing
    list = try renderToList(geometry_80x25, &memory);
    defer list.deinit();
    try testing.expectEqualStrings("C:\\>dir\n\n\n  Volume\n", list.items);

    // Geometry is honoured: fewer columns cut the rows, a larger stride skips cells.
    var narrow = geometry_80x25;
    narrow.columns = 3;
    var cut = try renderToList(narrow, &memory);
    defer cut.deinit();
    try testing.expectEqualStrings("C:\\\n\n\n  V\n", cut.items);
    var sparse = geometry_80x25;
    sparse.row_stride = 3 * 80;
    var skipped = try renderToList(sparse, &memory);
    defer skipped.deinit();
    try testing.expectEqualStrings("C:\\>dir\n  Volume\n", skipped.items);
}

test "renderText wraps the start address within the text memory" {
    var memory: [text_memory_bytes]u8 = undefined;
    const cells = text_memory_bytes / 2;
    textMemory(&memory, cells - 3, "wrapped around");
    var geometry = geometry_80x25;
    geometry.start_address = cells - 3;
    var list = try renderToList(geometry, &memory);
    defer list.deinit();
    try testing.expectEqualStrings("wrapped around\n", list.items);

    // A start address past the window (the CRTC counts 64 Ki cells) wraps too.
    geometry.start_address = cells * 3 - 3;
    var again = try renderToList(geometry, &memory);
    defer again.deinit();
    try testing.expectEqualStrings("wrapped around\n", again.items);

    // A short or empty window does not fault.
    var short = try renderToList(geometry, memory[0..7]);
    defer short.deinit();
    var none = try renderToList(geometry, memory[0..0]);
    defer none.deinit();
    try testing.expectEqual(@as(usize, 0), none.items.len);
}

test "hostile guest: random accesses on both ranges never panic, dumps stay bounded" {
    var vga = Vga.init(test_vram_bytes);
    var prng = std.Random.DefaultPrng.init(0x3C0_1CE);
    const random = prng.random();
    const widths = [_]usize{ 1, 2, 4 };
    const dispi_values = [_]u16{ 0, 1, 4, 8, 15, 16, 24, 32, 0x41, 0x43, 0xC1, 640, 480, 1024, 768, 2048, 4000, 0xB0C0, 0xB0C5 };
    var memory: [text_memory_bytes]u8 = undefined;
    const max_output = @as(usize, max_text_rows) * (@as(usize, max_text_columns) * Glyph.max_bytes + 1);
    var output: [max_output]u8 = undefined;
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
            random.bytes(&memory);
            const geometry = vga.textGeometry();
            try testing.expect(geometry.columns >= 1 and geometry.columns <= max_text_columns);
            try testing.expect(geometry.rows <= max_text_rows);
            _ = geometry.cursorPosition();
            var stream = std.io.fixedBufferStream(&output);
            try renderText(geometry, &memory, stream.writer());
            try testing.expect(std.unicode.utf8ValidateSlice(stream.getWritten()));
        }
    }
    try testing.expect(vga.bad_accesses > 0);

    // A hand-made geometry beyond every bound still renders within the bound.
    random.bytes(&memory);
    const huge = TextGeometry{
        .columns = std.math.maxInt(u16),
        .rows = std.math.maxInt(u16),
        .row_stride = std.math.maxInt(u16),
        .start_address = std.math.maxInt(u16),
        .cursor_address = 0,
        .cursor_visible = true,
        .memory_address = 0xB8000,
        .text_mode = true,
        .vbe_enabled = false,
    };
    var stream = std.io.fixedBufferStream(&output);
    try renderText(huge, &memory, stream.writer());
    _ = huge.cursorPosition();
}
