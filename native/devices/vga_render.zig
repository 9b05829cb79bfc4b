//! The one renderer: turns the VGA/VBE registers of vga.zig and the adapter's video memory into a
//! packed RGB24 frame (display.zig), after the IBM VGA's display pipeline: CRTC addressing
//! (start address, offset, line compare, row-scan address substitution), text generation (font
//! maps, cursor, underline, blink, 9th column), the graphics controller's serialisers (planar
//! 16-colour, CGA shift-register interleave, 256-colour), the attribute controller's palette and
//! colour select, and the DAC. Bochs VBE (dispi) modes and the VMware SVGA device go through the
//! linear framebuffer path (`renderLinear`). Output is at the mode's logical resolution
//! (mode 13h is 320×200, not 640×400).
//!
//! Video memory: the first 256 KiB hold the four planes interleaved, plane p's byte at plane
//! offset o at `vram[o * 4 + p]` (vga_memory.zig). Plane offsets here are CRTC memory-address
//! counter values, so text cell n is plane offset n (character in plane 0, attribute in plane 1),
//! and every plane offset wraps at 64 KiB. Every register value is guest-chosen: sizes are
//! clamped to display.max_width × display.max_height, and every video memory index is wrapped
//! or checked. The caller holds the Vga mutex.
const std = @import("std");
const assert = std.debug.assert;
const display = @import("display.zig");
const vga_memory = @import("vga_memory.zig");
const vga_device = @import("vga.zig");
const Vga = vga_device.Vga;

/// Rendering choices that are not in the registers.
pub const Options = struct {
    /// The blink phase: the text cursor and blinking characters show only while it is on.
    blink_on: bool = true,
};

/// One character cell of the visible text screen, colours already through the palette and DAC.
pub const TextCell = struct {
    char: u8,
    foreground: [3]u8,
    background: [3]u8,
    /// This is the cell under the (enabled) hardware cursor.
    cursor: bool,
};

/// The size of the text screen `textCells` wrote, row-major, `columns` cells a row.
pub const TextSize = struct {
    columns: u16,
    rows: u16,
};

/// The most cells `textCells` writes: the text dump's limits in vga.zig.
pub const max_text_cells: u32 = @as(u32, vga_device.max_text_columns) * vga_device.max_text_rows;

/// The bytes of video memory the current frame reads.
pub const Scanout = struct {
    offset: u64,
    len: u64,
};

/// What a nonsensical programming (no displayed lines, no VBE size) shows: 640×480 black.
pub const fallback_frame = display.Frame{ .width = 640, .height = 480, .text_mode = false };

const Sequencer = struct {
    const clocking_mode: u8 = 0x01;
    const character_map_select: u8 = 0x03;
};
const clocking_dots8: u8 = 0x01;
const clocking_dot_clock_half: u8 = 0x08;
const clocking_screen_off: u8 = 0x20;

const Graphics = struct {
    const mode: u8 = 0x05;
    const misc: u8 = 0x06;
};
const mode_shift_interleave: u8 = 0x20;
const mode_256_color: u8 = 0x40;
const misc_graphics: u8 = 0x01;

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
    const vertical_display_end: u8 = 0x12;
    const offset: u8 = 0x13;
    const underline_location: u8 = 0x14;
    const mode_control: u8 = 0x17;
    const line_compare: u8 = 0x18;
};
const overflow_display_end_8: u8 = 0x02;
const overflow_line_compare_8: u8 = 0x10;
const overflow_display_end_9: u8 = 0x40;
const max_scan_line_height: u8 = 0x1F;
const max_scan_line_compare_9: u8 = 0x40;
const max_scan_line_double: u8 = 0x80;
const cursor_disable: u8 = 0x20;
const cursor_line: u8 = 0x1F;
const underline_line: u8 = 0x1F;
const underline_dword: u8 = 0x40;
/// CRTC mode control: bit 0 clear puts row-scan bit 0 on memory address bit 13 (CGA), bit 1
/// clear row-scan bit 1 on address bit 14 (Hercules); bit 6 set is byte mode, clear word mode.
const mode_control_compatibility: u8 = 0x01;
const mode_control_select_row_scan: u8 = 0x02;
const mode_control_byte: u8 = 0x40;

const Attribute = struct {
    const mode_control: u8 = 0x10;
    const color_plane_enable: u8 = 0x12;
    const color_select: u8 = 0x14;
};
const attribute_mode_line_graphics: u8 = 0x04;
const attribute_mode_blink: u8 = 0x08;
const attribute_mode_p54s: u8 = 0x80;
const color_plane_mask: u8 = 0x0F;
/// With line graphics enabled, the 9th dot of these characters repeats the 8th (IBM: C0h-DFh;
/// QEMU starts at B0h, which differs only for glyphs with the 8th dot lit, the shades B0h-B2h).
const line_graphics_first: u8 = 0xC0;
const line_graphics_last: u8 = 0xDF;

const dispi_enable_enabled: u16 = 0x01;
const dispi_enable_8bit_dac: u16 = 0x20;

/// Character map select index → font base in plane 2 (8 KiB maps, IBM order).
const font_bases = [8]u16{ 0x0000, 0x4000, 0x8000, 0xC000, 0x2000, 0x6000, 0xA000, 0xE000 };
const glyph_stride: u16 = 32;

comptime {
    assert(@typeInfo(@FieldType(Vga, "sequencer")).array.len > Sequencer.character_map_select);
    assert(@typeInfo(@FieldType(Vga, "graphics")).array.len > Graphics.misc);
    assert(@typeInfo(@FieldType(Vga, "crtc")).array.len > Crtc.line_compare);
    assert(@typeInfo(@FieldType(Vga, "attribute")).array.len > Attribute.color_select);
    // Text: 256 columns of 18 dots; graphics: 256 × 8 dots; lines: 1024. Widths are clamped,
    // heights never exceed the limit.
    assert(1024 <= display.max_height);
    assert(256 * 8 <= display.max_width);
    assert(fallback_frame.width <= display.max_width and fallback_frame.height <= display.max_height);
}

/// The size `render` produces for the current registers. `vram_len` is the adapter's memory.
pub fn frameSize(vga: *const Vga, vram_len: usize) display.Frame {
    return modeOf(vga, vram_len).frame();
}

/// Renders the current screen into `out` (width × height × 3 bytes, RGB) and says what it drew.
/// `vram` is the adapter's whole memory.
pub fn render(vga: *const Vga, vram: []const u8, out: []u8, options: Options) error{FrameTooLarge}!display.Frame {
    assert(vram.len >= vga_memory.planar_bytes);
    const mode = modeOf(vga, vram.len);
    const frame = mode.frame();
    const bytes = frameBytes(frame);
    if (out.len < bytes) return error.FrameTooLarge;
    const pixels = out[0..bytes];
    switch (mode) {
        .blank => @memset(pixels, 0),
        .vbe => |vbe| if (vbe.layout) |layout| {
            const palette = dacPalette(vga);
            drawLinear(vram, layout, &palette, pixels);
        } else @memset(pixels, 0),
        .text => |text| if (text.screen_off) @memset(pixels, 0) else drawText(vga, vram, text, options.blink_on, pixels),
        .graphics => |graphics| if (graphics.screen_off) @memset(pixels, 0) else drawGraphics(vga, vram, graphics, pixels),
    }
    return frame;
}

/// Renders a linear framebuffer (VBE, VMware SVGA) into `out` (width × height × 3 bytes, RGB).
/// `palette` (8-bit RGB) colours indexed pixels.
pub fn renderLinear(
    vram: []const u8,
    layout: display.LinearLayout,
    palette: *const [256][3]u8,
    out: []u8,
) error{ FrameTooLarge, OutsideVram }!void {
    if (!layout.fits(vram.len)) return error.OutsideVram;
    const bytes = @as(usize, layout.width) * layout.height * display.rgb_bytes;
    if (out.len < bytes) return error.FrameTooLarge;
    drawLinear(vram, layout, palette, out[0..bytes]);
}

/// Alpha-blends `cursor` over a rendered frame; parts outside the frame are clipped. An invalid
/// cursor draws nothing.
pub fn drawCursor(out: []u8, frame: display.Frame, cursor: display.Cursor) void {
    assert(frame.width <= display.max_width and frame.height <= display.max_height);
    assert(out.len >= frameBytes(frame));
    if (!cursor.valid()) return;
    const left = @as(i64, cursor.x) - cursor.hot_x;
    const top = @as(i64, cursor.y) - cursor.hot_y;
    for (0..cursor.height) |row| {
        const y = top + @as(i64, @intCast(row));
        if (y < 0) continue;
        if (y >= frame.height) break;
        for (0..cursor.width) |column| {
            const x = left + @as(i64, @intCast(column));
            if (x < 0) continue;
            if (x >= frame.width) break;
            const argb = cursor.pixels[row * cursor.width + column];
            const alpha: u32 = argb >> 24;
            if (alpha == 0) continue;
            const index = (@as(usize, @intCast(y)) * frame.width + @as(usize, @intCast(x))) * display.rgb_bytes;
            const target = out[index..][0..3];
            for (target, 0..) |*channel, component| {
                const shift: u5 = @intCast(16 - 8 * component);
                const source: u32 = (argb >> shift) & 0xFF;
                const blended = (source * alpha + @as(u32, channel.*) * (255 - alpha) + 127) / 255;
                channel.* = @intCast(blended);
            }
        }
    }
}

/// DAC entry `index` (after the pixel mask) as 8-bit RGB: as stored with the dispi 8-bit-DAC
/// flag, else 6-bit values widened as QEMU's screendump does.
pub fn dacColor(vga: *const Vga, index: u8) [3]u8 {
    const entry = vga.dac_palette[index & vga.dac_pixel_mask];
    if (vga.vbe_enable & dispi_enable_8bit_dac != 0) return entry;
    var color: [3]u8 = undefined;
    for (&color, entry) |*channel, value| {
        const six = value & 0x3F;
        channel.* = (six << 2) | ((six & 1) << 1) | (six & 1);
    }
    return color;
}

/// The visible text screen as cells, row-major, at most `max_text_columns` × `max_text_rows`
/// and as many whole rows as `out` holds; null when the screen is not a text mode. With the
/// screen off every cell is a black blank.
pub fn textCells(vga: *const Vga, vram: []const u8, out: []TextCell) ?TextSize {
    assert(vram.len >= vga_memory.planar_bytes);
    const text = switch (modeOf(vga, vram.len)) {
        .text => |text| text,
        else => return null,
    };
    const columns: u16 = @min(text.columns, vga_device.max_text_columns);
    const rows: u16 = @intCast(@min(text.rows, vga_device.max_text_rows, out.len / columns));
    const colors = attributeColors(vga);
    const blink_enabled = vga.attribute[Attribute.mode_control] & attribute_mode_blink != 0;
    const cursor = textCursor(vga, text.char_height);
    for (0..rows) |row| {
        for (0..columns) |column| {
            const address = text.cellAddress(@intCast(row), @intCast(column));
            const attribute = planeByte(vram, 1, address);
            out[row * columns + column] = if (text.screen_off) .{
                .char = ' ',
                .foreground = .{ 0, 0, 0 },
                .background = .{ 0, 0, 0 },
                .cursor = false,
            } else .{
                .char = planeByte(vram, 0, address),
                .foreground = colors[attribute & 0x0F],
                .background = colors[backgroundColor(attribute, blink_enabled)],
                .cursor = if (cursor) |c| c.address == address else false,
            };
        }
    }
    return .{ .columns = columns, .rows = rows };
}

/// The video memory the current frame reads, for dirty tracking: a VBE mode's span, the planes
/// for VGA modes, nothing for a black frame.
pub fn scanout(vga: *const Vga, vram_len: usize) Scanout {
    return switch (modeOf(vga, vram_len)) {
        .blank => .{ .offset = 0, .len = 0 },
        .vbe => |vbe| if (vbe.layout) |layout|
            .{ .offset = layout.offset, .len = layout.spanBytes() }
        else
            .{ .offset = 0, .len = 0 },
        .text, .graphics => .{ .offset = 0, .len = vga_memory.planar_bytes },
    };
}

/// What the registers ask the display to show.
const Mode = union(enum) {
    blank: display.Frame,
    vbe: Vbe,
    text: Text,
    graphics: Planes,

    fn frame(self: Mode) display.Frame {
        const result: display.Frame = switch (self) {
            .blank => |blank| blank,
            .vbe => |vbe| .{ .width = vbe.width, .height = vbe.height, .text_mode = false },
            .text => |text| .{ .width = text.width, .height = text.height, .text_mode = true },
            .graphics => |graphics| .{ .width = graphics.width, .height = graphics.height, .text_mode = false },
        };
        assert(result.width > 0 and result.width <= display.max_width);
        assert(result.height > 0 and result.height <= display.max_height);
        return result;
    }
};

/// A Bochs VBE mode: its frame size, and its layout when that is a format the renderer knows and
/// lies inside video memory (else the frame is black).
const Vbe = struct {
    width: u32,
    height: u32,
    layout: ?display.LinearLayout,
};

/// An alphanumeric mode as the CRTC, sequencer and attribute controller set it up.
const Text = struct {
    columns: u16,
    rows: u16,
    /// Dots a character: 8 or 9 (always 8 with the dot clock halved, as QEMU draws 40-column
    /// text, so that screenshots of those modes match its screendump).
    char_width: u8,
    /// Dot clock halved (40-column modes): every dot is two pixels wide.
    double_width: bool,
    /// Scan lines a character row: 1..32.
    char_height: u8,
    start_address: u16,
    row_stride: u16,
    width: u32,
    height: u32,
    screen_off: bool,

    fn cellWidth(self: Text) u32 {
        return @as(u32, self.char_width) * @as(u32, if (self.double_width) 2 else 1);
    }

    fn cellAddress(self: Text, row: u16, column: u16) u16 {
        return @truncate(@as(u32, self.start_address) + @as(u32, row) * self.row_stride + column);
    }
};

/// How the serialisers turn plane bytes into pixels.
const PixelKind = enum { planar16, cga4, color256 };

/// A graphics mode: which plane offset each output line starts at, and how it is decoded.
const Planes = struct {
    kind: PixelKind,
    width: u32,
    height: u32,
    start_address: u16,
    /// Plane offsets from one character row to the next: CRTC offset × 2.
    row_stride: u32,
    /// Output lines a character row when row-scan address substitution is on (else 1).
    row_lines: u32,
    /// Output lines from this one on restart at plane offset 0 (line compare).
    split_line: u32,
    /// Plane offset bits that row-scan bits 0 and 1 replace (0 when not substituted).
    row_scan_bit0: u16,
    row_scan_bit1: u16,
    screen_off: bool,

    fn lineAddress(self: Planes, line: u32) u16 {
        assert(line < self.height);
        const split = line >= self.split_line;
        const counted = if (split) line - self.split_line else line;
        const base: u32 = if (split) 0 else self.start_address;
        const row = counted / self.row_lines;
        const row_scan = counted % self.row_lines;
        var address: u16 = @truncate(base + row * self.row_stride);
        address = (address & ~self.row_scan_bit0) | (if (row_scan & 1 != 0) self.row_scan_bit0 else 0);
        address = (address & ~self.row_scan_bit1) | (if (row_scan & 2 != 0) self.row_scan_bit1 else 0);
        return address;
    }
};

fn modeOf(vga: *const Vga, vram_len: usize) Mode {
    assert(vram_len >= vga_memory.planar_bytes);
    if (vga.vbe_enable & dispi_enable_enabled != 0) return vbeMode(vga, vram_len);
    if (vga.graphics[Graphics.misc] & misc_graphics == 0) {
        if (textMode(vga)) |text| return .{ .text = text };
    } else {
        if (graphicsMode(vga)) |graphics| return .{ .graphics = graphics };
    }
    return .{ .blank = fallback_frame };
}

fn vbeMode(vga: *const Vga, vram_len: usize) Mode {
    if (vga.vbe_xres == 0 or vga.vbe_yres == 0) return .{ .blank = fallback_frame };
    const width: u32 = @min(vga.vbe_xres, display.max_width);
    const height: u32 = @min(vga.vbe_yres, display.max_height);
    const format: display.PixelFormat = switch (vga.vbe_bpp) {
        8 => .indexed8,
        15 => .rgb555,
        16 => .rgb565,
        24 => .bgr24,
        32 => .bgrx32,
        else => return .{ .vbe = .{ .width = width, .height = height, .layout = null } },
    };
    const pixel_bytes: u64 = format.bytesPerPixel();
    const pitch_bytes = @as(u64, @max(vga.vbe_virt_width, vga.vbe_xres)) * pixel_bytes;
    const layout = display.LinearLayout{
        .offset = @as(u64, vga.vbe_y_offset) * pitch_bytes + @as(u64, vga.vbe_x_offset) * pixel_bytes,
        .pitch_bytes = pitch_bytes,
        .width = width,
        .height = height,
        .format = format,
    };
    return .{ .vbe = .{
        .width = width,
        .height = height,
        .layout = if (layout.fits(vram_len)) layout else null,
    } };
}

/// Scan lines the CRTC displays: vertical display end (10 bits) + 1, halved by double scan.
fn displayedLines(vga: *const Vga) u32 {
    const overflow = vga.crtc[Crtc.overflow];
    var display_end: u32 = vga.crtc[Crtc.vertical_display_end];
    if (overflow & overflow_display_end_8 != 0) display_end |= 0x100;
    if (overflow & overflow_display_end_9 != 0) display_end |= 0x200;
    const lines = display_end + 1;
    return if (vga.crtc[Crtc.max_scan_line] & max_scan_line_double != 0) lines / 2 else lines;
}

fn startAddress(vga: *const Vga) u16 {
    return @as(u16, vga.crtc[Crtc.start_address_high]) << 8 | vga.crtc[Crtc.start_address_low];
}

fn screenOff(vga: *const Vga) bool {
    return vga.sequencer[Sequencer.clocking_mode] & clocking_screen_off != 0;
}

fn textMode(vga: *const Vga) ?Text {
    const clocking = vga.sequencer[Sequencer.clocking_mode];
    const columns = @as(u16, vga.crtc[Crtc.horizontal_display_end]) + 1;
    const char_height: u8 = (vga.crtc[Crtc.max_scan_line] & max_scan_line_height) + 1;
    const rows: u16 = @intCast(displayedLines(vga) / char_height);
    if (rows == 0) return null;
    var text = Text{
        .columns = columns,
        .rows = rows,
        .char_width = if (clocking & (clocking_dots8 | clocking_dot_clock_half) != 0) 8 else 9,
        .double_width = clocking & clocking_dot_clock_half != 0,
        .char_height = char_height,
        .start_address = startAddress(vga),
        .row_stride = @as(u16, vga.crtc[Crtc.offset]) * 2,
        .width = 0,
        .height = @as(u32, rows) * char_height,
        .screen_off = screenOff(vga),
    };
    text.width = @min(@as(u32, columns) * text.cellWidth(), display.max_width);
    assert(text.height <= 1024);
    return text;
}

fn graphicsMode(vga: *const Vga) ?Planes {
    const graphics_mode = vga.graphics[Graphics.mode];
    const kind: PixelKind = if (graphics_mode & mode_256_color != 0)
        .color256
    else if (graphics_mode & mode_shift_interleave != 0)
        .cga4
    else
        .planar16;
    const dots = (@as(u32, vga.crtc[Crtc.horizontal_display_end]) + 1) * 8;
    const width = if (kind == .color256) dots / 2 else dots;

    const max_scan_line = vga.crtc[Crtc.max_scan_line];
    const repeat = @as(u32, max_scan_line & max_scan_line_height) + 1;
    const mode_control = vga.crtc[Crtc.mode_control];
    // Memory address bits 13 and 14 are plane offset bits 13, 12 or 11 (and one up) in byte,
    // word or doubleword mode: plane offsets count CRTC address units.
    const unit_shift: u4 = if (vga.crtc[Crtc.underline_location] & underline_dword != 0)
        2
    else if (mode_control & mode_control_byte == 0) 1 else 0;
    const row_scan_bit0: u16 = if (mode_control & mode_control_compatibility == 0) @as(u16, 1) << (13 - unit_shift) else 0;
    const row_scan_bit1: u16 = if (mode_control & mode_control_select_row_scan == 0) @as(u16, 1) << (14 - unit_shift) else 0;
    const substituted = row_scan_bit0 != 0 or row_scan_bit1 != 0;
    const row_lines: u32 = if (substituted) repeat else 1;

    const scan_lines = displayedLines(vga);
    const height = if (substituted) scan_lines else scan_lines / repeat;
    if (height == 0) return null;
    // Scan lines an output line stands for, in the units of the line compare register.
    const double: u32 = if (max_scan_line & max_scan_line_double != 0) 2 else 1;
    const scan_per_line = double * (if (substituted) 1 else repeat);
    var line_compare: u32 = vga.crtc[Crtc.line_compare];
    if (vga.crtc[Crtc.overflow] & overflow_line_compare_8 != 0) line_compare |= 0x100;
    if (max_scan_line & max_scan_line_compare_9 != 0) line_compare |= 0x200;

    assert(width > 0 and width <= display.max_width);
    assert(height <= 1024);
    return .{
        .kind = kind,
        .width = width,
        .height = height,
        .start_address = startAddress(vga),
        .row_stride = @as(u32, vga.crtc[Crtc.offset]) * 2,
        .row_lines = row_lines,
        .split_line = line_compare / scan_per_line + 1,
        .row_scan_bit0 = row_scan_bit0,
        .row_scan_bit1 = row_scan_bit1,
        .screen_off = screenOff(vga),
    };
}

fn frameBytes(frame: display.Frame) usize {
    return @as(usize, frame.width) * frame.height * display.rgb_bytes;
}

fn planeByte(vram: []const u8, plane: u2, offset: u16) u8 {
    return vram[@as(u32, offset) * vga_memory.plane_count + plane];
}

fn putPixel(out: []u8, pixel: usize, color: [3]u8) void {
    out[pixel * display.rgb_bytes ..][0..3].* = color;
}

fn dacPalette(vga: *const Vga) [256][3]u8 {
    var palette: [256][3]u8 = undefined;
    for (&palette, 0..) |*entry, index| entry.* = dacColor(vga, @intCast(index));
    return palette;
}

/// The DAC index the attribute controller makes of a 4-bit colour: palette register, then
/// colour select bits 4-5 (with P5/P4 select) and 6-7.
fn attributeIndex(vga: *const Vga, color: u4) u8 {
    const palette = vga.attribute[color];
    const mode = vga.attribute[Attribute.mode_control];
    const select = vga.attribute[Attribute.color_select];
    var index: u8 = if (mode & attribute_mode_p54s != 0)
        (palette & 0x0F) | ((select & 0x03) << 4)
    else
        palette & 0x3F;
    index |= (select & 0x0C) << 4;
    return index;
}

fn attributeColors(vga: *const Vga) [16][3]u8 {
    var colors: [16][3]u8 = undefined;
    for (&colors, 0..) |*color, index| color.* = dacColor(vga, attributeIndex(vga, @intCast(index)));
    return colors;
}

fn backgroundColor(attribute: u8, blink_enabled: bool) u8 {
    return if (blink_enabled) (attribute >> 4) & 0x07 else attribute >> 4;
}

const TextCursor = struct {
    address: u16,
    first_line: u8,
    last_line: u8,
};

/// The cursor when enabled and at least one of its lines falls inside the cell.
fn textCursor(vga: *const Vga, char_height: u8) ?TextCursor {
    assert(char_height > 0);
    const start = vga.crtc[Crtc.cursor_start];
    if (start & cursor_disable != 0) return null;
    const first_line = start & cursor_line;
    const last_line = @min(vga.crtc[Crtc.cursor_end] & cursor_line, char_height - 1);
    if (first_line > last_line) return null;
    return .{
        .address = @as(u16, vga.crtc[Crtc.cursor_location_high]) << 8 | vga.crtc[Crtc.cursor_location_low],
        .first_line = first_line,
        .last_line = last_line,
    };
}

fn drawText(vga: *const Vga, vram: []const u8, text: Text, blink_on: bool, out: []u8) void {
    assert(out.len == @as(usize, text.width) * text.height * display.rgb_bytes);
    const colors = attributeColors(vga);
    const map_select = vga.sequencer[Sequencer.character_map_select];
    const font_a = font_bases[((map_select >> 2) & 0x03) | ((map_select >> 3) & 0x04)];
    const font_b = font_bases[(map_select & 0x03) | ((map_select >> 2) & 0x04)];
    const mode = vga.attribute[Attribute.mode_control];
    const blink_enabled = mode & attribute_mode_blink != 0;
    const line_graphics = mode & attribute_mode_line_graphics != 0;
    const cursor = textCursor(vga, text.char_height);
    const underline = vga.crtc[Crtc.underline_location] & underline_line;
    const cell_width = text.cellWidth();
    const dot_width: u32 = if (text.double_width) 2 else 1;

    for (0..text.rows) |row| {
        for (0..text.char_height) |scan| {
            const line_index = row * text.char_height + scan;
            const line = out[line_index * text.width * display.rgb_bytes ..][0 .. text.width * display.rgb_bytes];
            for (0..text.columns) |column| {
                const x0 = column * cell_width;
                if (x0 >= text.width) break;
                const address = text.cellAddress(@intCast(row), @intCast(column));
                const char = planeByte(vram, 0, address);
                const attribute = planeByte(vram, 1, address);
                const font = if (font_a != font_b and attribute & 0x08 == 0) font_b else font_a;
                const glyph_offset = @as(u16, char) * glyph_stride + @as(u16, @intCast(scan));
                assert(glyph_offset < 0x2000);
                var glyph = planeByte(vram, 2, font + glyph_offset);
                var ninth = line_graphics and char >= line_graphics_first and char <= line_graphics_last and glyph & 0x01 != 0;
                if (scan == underline and attribute & 0x77 == 0x01) {
                    glyph = 0xFF;
                    ninth = true;
                }
                if (blink_enabled and attribute & 0x80 != 0 and !blink_on) {
                    glyph = 0;
                    ninth = false;
                }
                if (cursor) |c| {
                    if (blink_on and c.address == address and scan >= c.first_line and scan <= c.last_line) {
                        glyph = 0xFF;
                        ninth = true;
                    }
                }
                const foreground = colors[attribute & 0x0F];
                const background = colors[backgroundColor(attribute, blink_enabled)];
                for (0..text.char_width) |dot| {
                    const on = if (dot < 8) (glyph >> @intCast(7 - dot)) & 1 != 0 else ninth;
                    const color = if (on) foreground else background;
                    for (0..dot_width) |half| {
                        const x = x0 + dot * dot_width + half;
                        if (x < text.width) putPixel(line, x, color);
                    }
                }
            }
        }
    }
}

fn drawGraphics(vga: *const Vga, vram: []const u8, planes: Planes, out: []u8) void {
    assert(out.len == @as(usize, planes.width) * planes.height * display.rgb_bytes);
    const plane_enable = vga.attribute[Attribute.color_plane_enable] & color_plane_mask;
    const colors = attributeColors(vga);
    const palette = dacPalette(vga);
    for (0..planes.height) |line_index| {
        const address = planes.lineAddress(@intCast(line_index));
        const line = out[line_index * planes.width * display.rgb_bytes ..][0 .. planes.width * display.rgb_bytes];
        switch (planes.kind) {
            .color256 => for (0..planes.width) |x| {
                const index = (@as(u32, address) * vga_memory.plane_count + x) % vga_memory.planar_bytes;
                putPixel(line, x, palette[vram[index]]);
            },
            .planar16 => for (0..planes.width) |x| {
                const offset = address +% @as(u16, @intCast(x / 8));
                const bit: u3 = @intCast(7 - x % 8);
                var color: u8 = 0;
                for (0..vga_memory.plane_count) |plane| {
                    color |= ((planeByte(vram, @intCast(plane), offset) >> bit) & 1) << @intCast(plane);
                }
                putPixel(line, x, colors[color & plane_enable]);
            },
            .cga4 => for (0..planes.width) |x| {
                const offset = address +% @as(u16, @intCast(x / 8));
                const dot = x % 8;
                const low_plane: u2 = if (dot < 4) 0 else 1;
                const shift: u3 = @intCast(6 - 2 * (dot % 4));
                const low = (planeByte(vram, low_plane, offset) >> shift) & 0x03;
                const high = (planeByte(vram, low_plane + 2, offset) >> shift) & 0x03;
                putPixel(line, x, colors[(low | high << 2) & plane_enable]);
            },
        }
    }
}

fn drawLinear(vram: []const u8, layout: display.LinearLayout, palette: *const [256][3]u8, out: []u8) void {
    assert(layout.fits(vram.len));
    assert(out.len == @as(usize, layout.width) * layout.height * display.rgb_bytes);
    switch (layout.format) {
        inline else => |format| {
            const pixel_bytes = comptime format.bytesPerPixel();
            for (0..layout.height) |y| {
                const row_start: usize = @intCast(layout.offset + y * layout.pitch_bytes);
                const row = vram[row_start..][0 .. layout.width * pixel_bytes];
                const line = out[y * layout.width * display.rgb_bytes ..][0 .. layout.width * display.rgb_bytes];
                for (0..layout.width) |x| {
                    const pixel = row[x * pixel_bytes ..][0..pixel_bytes];
                    putPixel(line, x, linearColor(format, pixel, palette));
                }
            }
        },
    }
}

fn linearColor(
    comptime format: display.PixelFormat,
    pixel: *const [format.bytesPerPixel()]u8,
    palette: *const [256][3]u8,
) [3]u8 {
    return switch (format) {
        .indexed8 => palette[pixel[0]],
        .rgb555 => blk: {
            const word = std.mem.readInt(u16, pixel, .little);
            break :blk .{
                widen5(@truncate(word >> 10)),
                widen5(@truncate(word >> 5)),
                widen5(@truncate(word)),
            };
        },
        .rgb565 => blk: {
            const word = std.mem.readInt(u16, pixel, .little);
            const green: u6 = @truncate(word >> 5);
            break :blk .{
                widen5(@truncate(word >> 11)),
                (@as(u8, green) << 2) | (green >> 4),
                widen5(@truncate(word)),
            };
        },
        .bgr24, .bgrx32 => .{ pixel[2], pixel[1], pixel[0] },
    };
}

/// A 5-bit channel to 8 bits by bit replication (0 → 0, 31 → 255).
fn widen5(value: u5) u8 {
    return (@as(u8, value) << 3) | (value >> 2);
}

const testing = std.testing;

const TestAdapter = struct {
    vga: Vga,
    vram: []u8,

    fn init(vram_bytes: u32) !TestAdapter {
        const vram = try testing.allocator.alloc(u8, vram_bytes);
        @memset(vram, 0);
        var vga = Vga.init(vram_bytes);
        // Distinct 6-bit DAC colours: entry i is (i, 63 - i, i / 2) in its low six bits.
        for (&vga.dac_palette, 0..) |*entry, index| {
            const i: u8 = @intCast(index & 0x3F);
            entry.* = .{ i, 63 - i, i / 2 };
        }
        return .{ .vga = vga, .vram = vram };
    }

    fn deinit(self: *TestAdapter) void {
        testing.allocator.free(self.vram);
    }

    fn setPlane(self: *TestAdapter, plane: u2, offset: u16, value: u8) void {
        self.vram[@as(u32, offset) * 4 + plane] = value;
    }

    fn setMode(self: *TestAdapter, mode: ModeTable) void {
        self.vga.misc_output = mode.misc_output;
        self.vga.sequencer = mode.sequencer;
        self.vga.crtc = mode.crtc;
        self.vga.graphics = mode.graphics;
        self.vga.attribute = mode.attribute;
    }

    fn draw(self: *TestAdapter, out: []u8, options: Options) !display.Frame {
        return try render(&self.vga, self.vram, out, options);
    }
};

/// The registers of an IBM BIOS mode (IBM VGA technical reference mode tables).
const ModeTable = struct {
    misc_output: u8,
    sequencer: [5]u8,
    crtc: [25]u8,
    graphics: [9]u8,
    attribute: [21]u8,
};

const ega_palette = [16]u8{ 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F };

const mode_3 = ModeTable{
    .misc_output = 0x67,
    .sequencer = .{ 0x03, 0x00, 0x03, 0x00, 0x02 },
    .crtc = .{
        0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00,
        0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF,
    },
    .graphics = .{ 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF },
    .attribute = ega_palette ++ [_]u8{ 0x0C, 0x00, 0x0F, 0x08, 0x00 },
};

const mode_1 = ModeTable{
    .misc_output = 0x67,
    .sequencer = .{ 0x03, 0x08, 0x03, 0x00, 0x02 },
    .crtc = .{
        0x2D, 0x27, 0x28, 0x90, 0x2B, 0xA0, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00,
        0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x14, 0x1F, 0x96, 0xB9, 0xA3, 0xFF,
    },
    .graphics = mode_3.graphics,
    .attribute = mode_3.attribute,
};

const mode_80x50 = blk: {
    var mode = mode_3;
    mode.crtc[0x09] = 0x47;
    mode.crtc[0x0A] = 0x06;
    mode.crtc[0x0B] = 0x07;
    break :blk mode;
};

const mode_4 = ModeTable{
    .misc_output = 0x63,
    .sequencer = .{ 0x03, 0x09, 0x03, 0x00, 0x02 },
    .crtc = .{
        0x2D, 0x27, 0x28, 0x90, 0x2B, 0x80, 0xBF, 0x1F, 0x00, 0xC1, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x14, 0x00, 0x96, 0xB9, 0xA2, 0xFF,
    },
    .graphics = .{ 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x0F, 0x00, 0xFF },
    .attribute = [_]u8{ 0x00, 0x13, 0x15, 0x17, 0x02, 0x04, 0x06, 0x07, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17 } ++
        [_]u8{ 0x01, 0x00, 0x03, 0x00, 0x00 },
};

const mode_0d = ModeTable{
    .misc_output = 0x63,
    .sequencer = .{ 0x03, 0x09, 0x0F, 0x00, 0x06 },
    .crtc = .{
        0x2D, 0x27, 0x28, 0x90, 0x2B, 0x80, 0xBF, 0x1F, 0x00, 0xC0, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x14, 0x00, 0x96, 0xB9, 0xE3, 0xFF,
    },
    .graphics = .{ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF },
    .attribute = [_]u8{ 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17 } ++
        [_]u8{ 0x01, 0x00, 0x0F, 0x00, 0x00 },
};

const mode_12 = ModeTable{
    .misc_output = 0xE3,
    .sequencer = .{ 0x03, 0x01, 0x0F, 0x00, 0x06 },
    .crtc = .{
        0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0x0B, 0x3E, 0x00, 0x40, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0xEA, 0x8C, 0xDF, 0x28, 0x00, 0xE7, 0x04, 0xE3, 0xFF,
    },
    .graphics = .{ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF },
    .attribute = ega_palette ++ [_]u8{ 0x01, 0x00, 0x0F, 0x00, 0x00 },
};

const mode_13 = ModeTable{
    .misc_output = 0x63,
    .sequencer = .{ 0x03, 0x01, 0x0F, 0x00, 0x0E },
    .crtc = .{
        0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x41, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3, 0xFF,
    },
    .graphics = .{ 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0F, 0xFF },
    .attribute = [_]u8{ 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F } ++
        [_]u8{ 0x41, 0x00, 0x0F, 0x00, 0x00 },
};

/// Mode X (320×240, unchained): mode 13h with chain 4 off, byte mode and 480 scan lines.
const mode_x = blk: {
    var mode = mode_13;
    mode.misc_output = 0xE3;
    mode.sequencer[4] = 0x06;
    mode.crtc[0x06] = 0x0D;
    mode.crtc[0x07] = 0x3E;
    mode.crtc[0x10] = 0xEA;
    mode.crtc[0x11] = 0xAC;
    mode.crtc[0x12] = 0xDF;
    mode.crtc[0x14] = 0x00;
    mode.crtc[0x15] = 0xE7;
    mode.crtc[0x16] = 0x06;
    mode.crtc[0x17] = 0xE3;
    break :blk mode;
};

fn expectPixel(out: []const u8, frame: display.Frame, x: u32, y: u32, expected: [3]u8) !void {
    try testing.expect(x < frame.width and y < frame.height);
    const index = (@as(usize, y) * frame.width + x) * 3;
    try testing.expectEqual(expected, out[index..][0..3].*);
}

fn testDac(vga: *const Vga, index: u8) [3]u8 {
    return dacColor(vga, index);
}

test "each standard mode has its IBM resolution" {
    var adapter = try TestAdapter.init(256 << 10);
    defer adapter.deinit();
    const cases = [_]struct { mode: ModeTable, width: u32, height: u32, text: bool }{
        .{ .mode = mode_3, .width = 720, .height = 400, .text = true },
        .{ .mode = mode_1, .width = 640, .height = 400, .text = true },
        .{ .mode = mode_80x50, .width = 720, .height = 400, .text = true },
        .{ .mode = mode_4, .width = 320, .height = 200, .text = false },
        .{ .mode = mode_0d, .width = 320, .height = 200, .text = false },
        .{ .mode = mode_12, .width = 640, .height = 480, .text = false },
        .{ .mode = mode_13, .width = 320, .height = 200, .text = false },
        .{ .mode = mode_x, .width = 320, .height = 240, .text = false },
    };
    // A fresh device is mode 3.
    try testing.expectEqual(display.Frame{ .width = 720, .height = 400, .text_mode = true }, frameSize(&adapter.vga, adapter.vram.len));
    for (cases) |case| {
        adapter.setMode(case.mode);
        const frame = frameSize(&adapter.vga, adapter.vram.len);
        try testing.expectEqual(display.Frame{ .width = case.width, .height = case.height, .text_mode = case.text }, frame);
    }
    adapter.setMode(mode_80x50);
    var cells: [max_text_cells]TextCell = undefined;
    try testing.expectEqual(TextSize{ .columns = 80, .rows = 50 }, textCells(&adapter.vga, adapter.vram, &cells).?);
    adapter.setMode(mode_12);
    try testing.expect(textCells(&adapter.vga, adapter.vram, &cells) == null);
}

/// Glyph rows of a test character: row s is 0x80 >> (s % 8) | 0x01 (a diagonal plus the last
/// column, which exercises the 9th dot).
fn testGlyphRow(scan: u32) u8 {
    return (@as(u8, 0x80) >> @intCast(scan % 8)) | 0x01;
}

fn loadTestGlyph(adapter: *TestAdapter, font_base: u16, char: u8) void {
    for (0..32) |scan| adapter.setPlane(2, font_base + @as(u16, char) * 32 + @as(u16, @intCast(scan)), testGlyphRow(@intCast(scan)));
}

test "text: a glyph from plane 2 in the foreground over the background, 9th column" {
    var adapter = try TestAdapter.init(256 << 10);
    defer adapter.deinit();
    const out = try testing.allocator.alloc(u8, 720 * 400 * 3);
    defer testing.allocator.free(out);
    loadTestGlyph(&adapter, 0, 'A');
    loadTestGlyph(&adapter, 0, 0xC4);
    adapter.setPlane(0, 0, 'A');
    adapter.setPlane(1, 0, 0x1E); // yellow (palette 0x3E) on blue (palette 0x01)
    adapter.setPlane(0, 1, 0xC4);
    adapter.setPlane(1, 1, 0x1E);
    adapter.vga.crtc[Crtc.cursor_start] = cursor_disable;
    const frame = try adapter.draw(out, .{});
    try testing.expectEqual(display.Frame{ .width = 720, .height = 400, .text_mode = true }, frame);
    const fg = testDac(&adapter.vga, 0x3E);
    const bg = testDac(&adapter.vga, 0x01);
    for (0..16) |scan| {
        const row = testGlyphRow(@intCast(scan));
        for (0..8) |dot| {
            const on = (row >> @intCast(7 - dot)) & 1 != 0;
            try expectPixel(out, frame, @intCast(dot), @intCast(scan), if (on) fg else bg);
        }
        // 'A' is no line-graphics character: its 9th column is background.
        try expectPixel(out, frame, 8, @intCast(scan), bg);
        // 0xC4 with line graphics on (mode 3's AC mode control 0x0C) copies the 8th dot.
        try expectPixel(out, frame, 9 + 8, @intCast(scan), fg);
    }
    // The rest of the screen: blank cells, black on black (attribute 0).
    try expectPixel(out, frame, 719, 399, testDac(&adapter.vga, 0));

    // Line graphics off: the 9th column is background for 0xC4 too.
    adapter.vga.attribute[Attribute.mode_control] &= ~attribute_mode_line_graphics;
    _ = try adapter.draw(out, .{});
    try expectPixel(out, frame, 17, 0, bg);
    // 8-dot characters: 640 wide, the second cell starts at x = 8.
    adapter.vga.sequencer[Sequencer.clocking_mode] |= clocking_dots8;
    const narrow = try adapter.draw(out, .{});
    try testing.expectEqual(@as(u32, 640), narrow.width);
    try expectPixel(out, narrow, 8, 0, fg);
    try expectPixel(out, narrow, 9, 0, bg);
}

test "text: blink, cursor, underline, intensity as colour when blink is off" {
    var adapter = try TestAdapter.init(256 << 10);
    defer adapter.deinit();
    const out = try testing.allocator.alloc(u8, 720 * 400 * 3);
    defer testing.allocator.free(out);
    // Cell 0: solid glyph, blinking white on red (0xC7 with blink: bg 4, blink bit).
    for (0..32) |scan| adapter.setPlane(2, 0x10 * 32 + @as(u16, @intCast(scan)), 0xFF);
    adapter.setPlane(0, 0, 0x10);
    adapter.setPlane(1, 0, 0xC7);
    // Cell 1: a space, underlined (attribute 0x01: blue on black), underline at line 15.
    adapter.setPlane(0, 1, ' ');
    adapter.setPlane(1, 1, 0x01);
    adapter.vga.crtc[Crtc.underline_location] = 0x0F;
    // Cell 80 (row 1): a space with the cursor, light grey on black; cursor lines 14-15.
    adapter.setPlane(0, 80, ' ');
    adapter.setPlane(1, 80, 0x07);
    adapter.vga.crtc[Crtc.cursor_location_high] = 0;
    adapter.vga.crtc[Crtc.cursor_location_low] = 80;
    adapter.vga.crtc[Crtc.cursor_start] = 0x0E;
    adapter.vga.crtc[Crtc.cursor_end] = 0x0F;
    adapter.vga.attribute[Attribute.mode_control] |= attribute_mode_blink;

    const white = testDac(&adapter.vga, 0x07);
    const red = testDac(&adapter.vga, 0x04);
    const blue = testDac(&adapter.vga, 0x01);
    const black = testDac(&adapter.vga, 0x00);
    var frame = try adapter.draw(out, .{ .blink_on = true });
    try expectPixel(out, frame, 0, 0, white);
    try expectPixel(out, frame, 8, 0, red); // 0x10 is no line-graphics character
    try expectPixel(out, frame, 9, 14, black);
    try expectPixel(out, frame, 9, 15, blue);
    try expectPixel(out, frame, 17, 15, blue); // underline covers the 9th column
    try expectPixel(out, frame, 0, 16 + 13, black);
    try expectPixel(out, frame, 0, 16 + 14, white);
    try expectPixel(out, frame, 8, 16 + 15, white);

    frame = try adapter.draw(out, .{ .blink_on = false });
    try expectPixel(out, frame, 0, 0, red); // the blinking glyph is off
    try expectPixel(out, frame, 0, 16 + 14, black); // so is the cursor
    try expectPixel(out, frame, 9, 15, blue); // the underline does not blink

    // Blink disabled: bit 7 is background intensity (palette 0x0C → DAC 0x3C), no blinking.
    adapter.vga.attribute[Attribute.mode_control] &= ~attribute_mode_blink;
    frame = try adapter.draw(out, .{ .blink_on = false });
    try expectPixel(out, frame, 0, 0, white);
    try expectPixel(out, frame, 8, 0, testDac(&adapter.vga, 0x3C));

    // Cursor start after its end, or disabled: no cursor.
    adapter.vga.crtc[Crtc.cursor_start] = 0x0F;
    adapter.vga.crtc[Crtc.cursor_end] = 0x0E;
    frame = try adapter.draw(out, .{});
    try expectPixel(out, frame, 0, 16 + 15, black);
    adapter.vga.crtc[Crtc.cursor_start] = 0x2E;
    adapter.vga.crtc[Crtc.cursor_end] = 0x0F;
    frame = try adapter.draw(out, .{});
    try expectPixel(out, frame, 0, 16 + 15, black);
    // A cursor end beyond the cell is clipped to its last line.
    adapter.vga.crtc[Crtc.cursor_start] = 0x0F;
    adapter.vga.crtc[Crtc.cursor_end] = 0x1F;
    frame = try adapter.draw(out, .{});
    try expectPixel(out, frame, 0, 16 + 15, white);

    // Screen off: black, same size.
    adapter.vga.sequencer[Sequencer.clocking_mode] |= clocking_screen_off;
    @memset(out, 0xAA);
    frame = try adapter.draw(out, .{});
    try testing.expectEqual(@as(u32, 720), frame.width);
    for (out[0 .. 720 * 400 * 3]) |byte| try testing.expectEqual(@as(u8, 0), byte);
}

test "text: 40 columns double every dot of 8-dot cells; start address and row stride; 512 characters" {
    var adapter = try TestAdapter.init(256 << 10);
    defer adapter.deinit();
    const out = try testing.allocator.alloc(u8, 720 * 400 * 3);
    defer testing.allocator.free(out);
    adapter.setMode(mode_1);
    adapter.vga.crtc[Crtc.cursor_start] = cursor_disable;
    loadTestGlyph(&adapter, 0, 'B');
    // Start address 100: cell 100 is the top left, row 1 starts at 140.
    adapter.vga.crtc[Crtc.start_address_low] = 100;
    adapter.setPlane(0, 140 + 1, 'B');
    adapter.setPlane(1, 140 + 1, 0x0F);
    const frame = try adapter.draw(out, .{});
    try testing.expectEqual(display.Frame{ .width = 640, .height = 400, .text_mode = true }, frame);
    const fg = testDac(&adapter.vga, 0x3F);
    const bg = testDac(&adapter.vga, 0x00);
    // Row 1, column 1, scan 0: glyph 0x81 → dots 0 and 7 lit, each two pixels wide.
    const x0: u32 = 16;
    try expectPixel(out, frame, x0, 16, fg);
    try expectPixel(out, frame, x0 + 1, 16, fg);
    try expectPixel(out, frame, x0 + 2, 16, bg);
    try expectPixel(out, frame, x0 + 14, 16, fg);
    try expectPixel(out, frame, x0 + 15, 16, fg);
    try expectPixel(out, frame, x0 + 16, 16, bg);
    // Scan 1: glyph 0x41 → dot 1.
    try expectPixel(out, frame, x0 + 2, 17, fg);
    try expectPixel(out, frame, x0 + 3, 17, fg);
    try expectPixel(out, frame, x0, 17, bg);

    // 512-character mode: map A = 1 (16 KiB), map B = 0; attribute bit 3 picks map A.
    adapter.setMode(mode_3);
    adapter.vga.crtc[Crtc.cursor_start] = cursor_disable;
    adapter.vga.sequencer[Sequencer.character_map_select] = 0x04;
    for (0..16) |scan| adapter.setPlane(2, 0x4000 + 'C' * 32 + @as(u16, @intCast(scan)), 0xF0);
    for (0..16) |scan| adapter.setPlane(2, 'C' * 32 + @as(u16, @intCast(scan)), 0x0F);
    adapter.setPlane(0, 0, 'C');
    adapter.setPlane(1, 0, 0x0F); // bit 3 set: map A
    adapter.setPlane(0, 1, 'C');
    adapter.setPlane(1, 1, 0x07); // bit 3 clear: map B
    const text = try adapter.draw(out, .{});
    try expectPixel(out, text, 0, 0, fg);
    try expectPixel(out, text, 7, 0, bg);
    try expectPixel(out, text, 9, 0, bg);
    try expectPixel(out, text, 9 + 7, 0, testDac(&adapter.vga, 0x07));
}

test "text cells: characters, colours, cursor; clipped to the buffer" {
    var adapter = try TestAdapter.init(256 << 10);
    defer adapter.deinit();
    adapter.setPlane(0, 0, 'H');
    adapter.setPlane(1, 0, 0x4E);
    adapter.setPlane(0, 81, 'i');
    adapter.setPlane(1, 81, 0x9F); // blink enabled in mode 3: background 1, not 9
    adapter.vga.crtc[Crtc.cursor_location_low] = 81;
    var cells: [max_text_cells]TextCell = undefined;
    const size = textCells(&adapter.vga, adapter.vram, &cells).?;
    try testing.expectEqual(TextSize{ .columns = 80, .rows = 25 }, size);
    try testing.expectEqual(TextCell{
        .char = 'H',
        .foreground = testDac(&adapter.vga, 0x3E),
        .background = testDac(&adapter.vga, 0x04),
        .cursor = false,
    }, cells[0]);
    try testing.expectEqual(TextCell{
        .char = 'i',
        .foreground = testDac(&adapter.vga, 0x3F),
        .background = testDac(&adapter.vga, 0x01),
        .cursor = true,
    }, cells[81]);
    try testing.expectEqual(TextSize{ .columns = 80, .rows = 2 }, textCells(&adapter.vga, adapter.vram, cells[0..200]).?);
    try testing.expectEqual(TextSize{ .columns = 80, .rows = 0 }, textCells(&adapter.vga, adapter.vram, cells[0..10]).?);
    adapter.vga.sequencer[Sequencer.clocking_mode] |= clocking_screen_off;
    _ = textCells(&adapter.vga, adapter.vram, &cells).?;
    try testing.expectEqual(@as(u8, ' '), cells[0].char);
    try testing.expect(!cells[81].cursor);
}

test "planar 16 colours go through the attribute palette and colour plane enable" {
    var adapter = try TestAdapter.init(256 << 10);
    defer adapter.deinit();
    const out = try testing.allocator.alloc(u8, 640 * 480 * 3);
    defer testing.allocator.free(out);
    adapter.setMode(mode_12);
    // Line 1 (offset 80), first byte: pixel 0 colour 0xF, pixel 1 colour 0x5, pixel 2 colour 0x6.
    adapter.setPlane(0, 80, 0xC0);
    adapter.setPlane(1, 80, 0xA0);
    adapter.setPlane(2, 80, 0xE0);
    adapter.setPlane(3, 80, 0x80);
    // Last pixel of the last line.
    adapter.setPlane(3, 479 * 80 + 79, 0x01);
    var frame = try adapter.draw(out, .{});
    try testing.expectEqual(display.Frame{ .width = 640, .height = 480, .text_mode = false }, frame);
    try expectPixel(out, frame, 0, 1, testDac(&adapter.vga, 0x3F));
    try expectPixel(out, frame, 1, 1, testDac(&adapter.vga, 0x05));
    try expectPixel(out, frame, 2, 1, testDac(&adapter.vga, 0x14)); // brown
    try expectPixel(out, frame, 3, 1, testDac(&adapter.vga, 0x00));
    try expectPixel(out, frame, 0, 0, testDac(&adapter.vga, 0x00));
    try expectPixel(out, frame, 639, 479, testDac(&adapter.vga, 0x38));

    // Colour plane enable 0x3 keeps planes 0 and 1: 0xF → 3, 0x6 → 2.
    adapter.vga.attribute[Attribute.color_plane_enable] = 0x03;
    frame = try adapter.draw(out, .{});
    try expectPixel(out, frame, 0, 1, testDac(&adapter.vga, 0x03));
    try expectPixel(out, frame, 2, 1, testDac(&adapter.vga, 0x02));

    // P5/P4 select and colour select: index = (pal & 0xF) | select bits.
    adapter.vga.attribute[Attribute.color_plane_enable] = 0x0F;
    adapter.vga.attribute[Attribute.mode_control] |= attribute_mode_p54s;
    adapter.vga.attribute[Attribute.color_select] = 0x0E;
    frame = try adapter.draw(out, .{});
    try expectPixel(out, frame, 0, 1, testDac(&adapter.vga, 0xEF));
    // The DAC pixel mask applies last.
    adapter.vga.dac_pixel_mask = 0x0F;
    frame = try adapter.draw(out, .{});
    try expectPixel(out, frame, 0, 1, testDac(&adapter.vga, 0x0F));

    // Line compare at scan line 99: lines 100 and on restart at offset 0.
    adapter.vga.dac_pixel_mask = 0xFF;
    adapter.vga.attribute[Attribute.mode_control] &= ~attribute_mode_p54s;
    adapter.vga.attribute[Attribute.color_select] = 0;
    adapter.vga.crtc[Crtc.line_compare] = 99;
    adapter.vga.crtc[Crtc.overflow] &= ~overflow_line_compare_8;
    adapter.vga.crtc[Crtc.max_scan_line] &= ~max_scan_line_compare_9;
    adapter.vga.crtc[Crtc.start_address_low] = 80; // the top half starts one line down
    frame = try adapter.draw(out, .{});
    try expectPixel(out, frame, 0, 0, testDac(&adapter.vga, 0x3F));
    try expectPixel(out, frame, 0, 100, testDac(&adapter.vga, 0x00));
    try expectPixel(out, frame, 0, 101, testDac(&adapter.vga, 0x3F));
}

test "mode 0Dh: 320×200 from 40-byte lines, double scanned" {
    var adapter = try TestAdapter.init(256 << 10);
    defer adapter.deinit();
    const out = try testing.allocator.alloc(u8, 320 * 200 * 3);
    defer testing.allocator.free(out);
    adapter.setMode(mode_0d);
    adapter.setPlane(0, 199 * 40 + 39, 0x01);
    adapter.setPlane(3, 199 * 40 + 39, 0x01);
    const frame = try adapter.draw(out, .{});
    try testing.expectEqual(display.Frame{ .width = 320, .height = 200, .text_mode = false }, frame);
    try expectPixel(out, frame, 319, 199, testDac(&adapter.vga, 0x11)); // colour 9 → palette 0x11
    try expectPixel(out, frame, 318, 199, testDac(&adapter.vga, 0x00));
}

test "256 colours: chained mode 13h and unchained mode X read the same pixels" {
    var adapter = try TestAdapter.init(256 << 10);
    defer adapter.deinit();
    const out = try testing.allocator.alloc(u8, 320 * 240 * 3);
    defer testing.allocator.free(out);
    const copy = try testing.allocator.alloc(u8, 320 * 200 * 3);
    defer testing.allocator.free(copy);
    // Pixel (x, y) at CPU address y * 320 + x in chain 4: video memory byte y * 320 + x.
    for (0..240) |y| {
        for (0..320) |x| adapter.vram[y * 320 + x] = @truncate(x ^ (y * 7));
    }
    adapter.setMode(mode_13);
    const chained = try adapter.draw(out, .{});
    try testing.expectEqual(display.Frame{ .width = 320, .height = 200, .text_mode = false }, chained);
    @memcpy(copy, out[0 .. 320 * 200 * 3]);
    try expectPixel(out, chained, 5, 3, testDac(&adapter.vga, 5 ^ 21));
    try expectPixel(out, chained, 319, 199, testDac(&adapter.vga, @truncate(319 ^ (199 * 7))));

    // Mode X: pixel x at plane x % 4, offset y * 80 + x / 4: the same byte.
    adapter.setMode(mode_x);
    const unchained = try adapter.draw(out, .{});
    try testing.expectEqual(display.Frame{ .width = 320, .height = 240, .text_mode = false }, unchained);
    try testing.expectEqualSlices(u8, copy, out[0 .. 320 * 200 * 3]);
    try expectPixel(out, unchained, 100, 239, testDac(&adapter.vga, @truncate(100 ^ (239 * 7))));

    // Page flipping: start address 80 (one line of plane offsets) scrolls by one line.
    adapter.vga.crtc[Crtc.start_address_low] = 80;
    _ = try adapter.draw(out, .{});
    try testing.expectEqualSlices(u8, copy[320 * 3 ..], out[0 .. 320 * 199 * 3]);
    // 256-colour pixels bypass the attribute palette but not the pixel mask: (5, 3) is now
    // byte 4 * 320 + 5 = 25, masked to 16, DAC entry (16, 47, 8).
    adapter.vga.attribute[5] = 0x3F;
    adapter.vga.dac_pixel_mask = 0xF0;
    _ = try adapter.draw(out, .{});
    try expectPixel(out, unchained, 5, 3, .{ 64, 191, 32 });
}

test "CGA 4 colours: interleaved plane bytes, odd lines from the 8 KiB bank" {
    var adapter = try TestAdapter.init(256 << 10);
    defer adapter.deinit();
    const out = try testing.allocator.alloc(u8, 320 * 200 * 3);
    defer testing.allocator.free(out);
    adapter.setMode(mode_4);
    // CPU byte a at 0xB8000 + a is plane a & 1, offset a >> 1. Line 0: bytes 0 and 1; line 1:
    // bytes 0x2000 and 0x2001; line 2: bytes 80 and 81.
    adapter.setPlane(0, 0, 0b00_01_10_11); // pixels 0-3: 0 1 2 3
    adapter.setPlane(1, 0, 0b11_00_00_00); // pixel 4: 3
    adapter.setPlane(0, 0x1000, 0b10_00_00_00); // line 1, pixel 0: 2
    adapter.setPlane(0, 40, 0b01_00_00_00); // line 2, pixel 0: 1
    const frame = try adapter.draw(out, .{});
    try testing.expectEqual(display.Frame{ .width = 320, .height = 200, .text_mode = false }, frame);
    try expectPixel(out, frame, 0, 0, testDac(&adapter.vga, 0x00));
    try expectPixel(out, frame, 1, 0, testDac(&adapter.vga, 0x13));
    try expectPixel(out, frame, 2, 0, testDac(&adapter.vga, 0x15));
    try expectPixel(out, frame, 3, 0, testDac(&adapter.vga, 0x17));
    try expectPixel(out, frame, 4, 0, testDac(&adapter.vga, 0x17));
    try expectPixel(out, frame, 5, 0, testDac(&adapter.vga, 0x00));
    try expectPixel(out, frame, 0, 1, testDac(&adapter.vga, 0x15));
    try expectPixel(out, frame, 0, 2, testDac(&adapter.vga, 0x13));
    try expectPixel(out, frame, 0, 3, testDac(&adapter.vga, 0x00));
}

test "DAC: 6-bit entries widen as QEMU does, 8-bit ones pass" {
    var adapter = try TestAdapter.init(256 << 10);
    defer adapter.deinit();
    adapter.vga.dac_palette[7] = .{ 0x3F, 0x01, 0x20 };
    try testing.expectEqual([3]u8{ 0xFF, 0x07, 0x80 }, dacColor(&adapter.vga, 7));
    adapter.vga.dac_palette[7] = .{ 0xFF, 0x41, 0x00 }; // stored in 8-bit mode, read in 6-bit
    try testing.expectEqual([3]u8{ 0xFF, 0x07, 0x00 }, dacColor(&adapter.vga, 7));
    adapter.vga.vbe_enable = dispi_enable_8bit_dac;
    try testing.expectEqual([3]u8{ 0xFF, 0x41, 0x00 }, dacColor(&adapter.vga, 7));
    adapter.vga.dac_pixel_mask = 0x03;
    try testing.expectEqual(adapter.vga.dac_palette[3], dacColor(&adapter.vga, 7));
}

fn setVbe(vga: *Vga, xres: u16, yres: u16, bpp: u16, virt_width: u16, x_offset: u16, y_offset: u16) void {
    vga.vbe_enable = dispi_enable_enabled;
    vga.vbe_xres = xres;
    vga.vbe_yres = yres;
    vga.vbe_bpp = bpp;
    vga.vbe_virt_width = virt_width;
    vga.vbe_x_offset = x_offset;
    vga.vbe_y_offset = y_offset;
}

test "VBE at every depth, with virtual width and panning offsets" {
    var adapter = try TestAdapter.init(1 << 20);
    defer adapter.deinit();
    var out: [64 * 48 * 3]u8 = undefined;
    const cases = [_]struct { bpp: u16, pixel: []const u8, rgb: [3]u8 }{
        .{ .bpp = 8, .pixel = &.{0x21}, .rgb = .{ 0x87, 0x78, 0x40 } }, // DAC (33, 30, 16)
        .{ .bpp = 15, .pixel = &.{ 0x1F, 0x7C }, .rgb = .{ 0xFF, 0x00, 0xFF } }, // 0x7C1F
        .{ .bpp = 15, .pixel = &.{ 0xE0, 0x03 }, .rgb = .{ 0x00, 0xFF, 0x00 } },
        .{ .bpp = 16, .pixel = &.{ 0xE0, 0x07 }, .rgb = .{ 0x00, 0xFF, 0x00 } },
        .{ .bpp = 16, .pixel = &.{ 0x10, 0x84 }, .rgb = .{ 0x84, 0x82, 0x84 } }, // 10000 100000 10000
        .{ .bpp = 24, .pixel = &.{ 0x11, 0x22, 0x33 }, .rgb = .{ 0x33, 0x22, 0x11 } },
        .{ .bpp = 32, .pixel = &.{ 0x11, 0x22, 0x33, 0x44 }, .rgb = .{ 0x33, 0x22, 0x11 } },
    };
    for (cases) |case| {
        @memset(adapter.vram, 0);
        const pixel_bytes: u32 = (case.bpp + 7) / 8;
        // 64×48 visible of a 100-pixel-wide virtual screen, panned to (10, 5). Frame pixel
        // (3, 2) is virtual (13, 7).
        setVbe(&adapter.vga, 64, 48, case.bpp, 100, 10, 5);
        const at = (7 * 100 + 13) * pixel_bytes;
        @memcpy(adapter.vram[at..][0..case.pixel.len], case.pixel);
        const frame = try adapter.draw(&out, .{});
        try testing.expectEqual(display.Frame{ .width = 64, .height = 48, .text_mode = false }, frame);
        try expectPixel(&out, frame, 3, 2, case.rgb);
        // Zero bytes: black, or DAC entry 0 (0, 63, 0) when indexed.
        try expectPixel(&out, frame, 2, 2, if (case.bpp == 8) .{ 0, 0xFF, 0 } else .{ 0, 0, 0 });
        const span = scanout(&adapter.vga, adapter.vram.len);
        try testing.expectEqual(Scanout{ .offset = (5 * 100 + 10) * pixel_bytes, .len = 47 * 100 * pixel_bytes + 64 * pixel_bytes }, span);
    }
    // A virtual width below the visible one is the visible width.
    setVbe(&adapter.vga, 64, 48, 32, 0, 0, 0);
    try testing.expectEqual(@as(u64, 47 * 256 + 256), scanout(&adapter.vga, adapter.vram.len).len);
}

test "VBE beyond video memory, unknown depths and no size are black frames" {
    var adapter = try TestAdapter.init(256 << 10);
    defer adapter.deinit();
    @memset(adapter.vram, 0x5A);
    const out = try testing.allocator.alloc(u8, 640 * 480 * 3);
    defer testing.allocator.free(out);
    setVbe(&adapter.vga, 640, 480, 32, 640, 0, 0); // 1.2 MB in 256 KiB
    var frame = try adapter.draw(out, .{});
    try testing.expectEqual(display.Frame{ .width = 640, .height = 480, .text_mode = false }, frame);
    for (out) |byte| try testing.expectEqual(@as(u8, 0), byte);
    try testing.expectEqual(Scanout{ .offset = 0, .len = 0 }, scanout(&adapter.vga, adapter.vram.len));
    setVbe(&adapter.vga, 320, 200, 8, 320, 0, 0xFFFF); // panned past the end
    @memset(out, 1);
    frame = try adapter.draw(out, .{});
    for (out[0 .. 320 * 200 * 3]) |byte| try testing.expectEqual(@as(u8, 0), byte);
    setVbe(&adapter.vga, 320, 200, 4, 320, 0, 0);
    @memset(out, 1);
    frame = try adapter.draw(out, .{});
    try testing.expectEqual(@as(u32, 320), frame.width);
    for (out[0 .. 320 * 200 * 3]) |byte| try testing.expectEqual(@as(u8, 0), byte);
    setVbe(&adapter.vga, 0, 200, 8, 0, 0, 0);
    try testing.expectEqual(fallback_frame, frameSize(&adapter.vga, adapter.vram.len));
    // Too small an output buffer.
    setVbe(&adapter.vga, 320, 200, 8, 320, 0, 0);
    try testing.expectError(error.FrameTooLarge, adapter.draw(out[0 .. 320 * 200 * 3 - 1], .{}));
}

test "renderLinear checks the layout and the output buffer" {
    var vram = [_]u8{0} ** 64;
    var palette: [256][3]u8 = undefined;
    for (&palette, 0..) |*entry, index| entry.* = .{ @intCast(index), 0, 0 };
    vram[9] = 200;
    const layout = display.LinearLayout{ .offset = 8, .pitch_bytes = 8, .width = 4, .height = 2, .format = .indexed8 };
    var out: [4 * 2 * 3]u8 = undefined;
    try renderLinear(&vram, layout, &palette, &out);
    try testing.expectEqualSlices(u8, &.{ 0, 0, 0, 200, 0, 0 }, out[0..6]);
    try testing.expectError(error.FrameTooLarge, renderLinear(&vram, layout, &palette, out[0..23]));
    var outside = layout;
    outside.offset = 60;
    try testing.expectError(error.OutsideVram, renderLinear(&vram, outside, &palette, &out));
}

test "cursor: alpha blending, clipping at every edge" {
    var out: [4 * 3 * 3]u8 = undefined;
    @memset(&out, 0);
    const frame = display.Frame{ .width = 4, .height = 3, .text_mode = false };
    const pixels = [4]u32{ 0xFFFF0000, 0x80FFFFFF, 0x00FFFFFF, 0xFF00FF00 };
    var cursor = display.Cursor{ .x = 1, .y = 1, .hot_x = 0, .hot_y = 0, .width = 2, .height = 2, .pixels = &pixels };
    drawCursor(&out, frame, cursor);
    try expectPixel(&out, frame, 1, 1, .{ 255, 0, 0 });
    try expectPixel(&out, frame, 2, 1, .{ 128, 128, 128 });
    try expectPixel(&out, frame, 1, 2, .{ 0, 0, 0 });
    try expectPixel(&out, frame, 2, 2, .{ 0, 255, 0 });
    try expectPixel(&out, frame, 0, 0, .{ 0, 0, 0 });
    // Hot spot (1, 1) at (0, 0): only the bottom-right pixel lands, at (0, 0).
    @memset(&out, 0);
    cursor.hot_x = 1;
    cursor.hot_y = 1;
    cursor.x = 0;
    cursor.y = 0;
    drawCursor(&out, frame, cursor);
    try expectPixel(&out, frame, 0, 0, .{ 0, 255, 0 });
    try expectPixel(&out, frame, 1, 0, .{ 0, 0, 0 });
    // Off the right and bottom edges: only the top-left pixel at (3, 2).
    @memset(&out, 0);
    cursor.hot_x = 0;
    cursor.hot_y = 0;
    cursor.x = 3;
    cursor.y = 2;
    drawCursor(&out, frame, cursor);
    try expectPixel(&out, frame, 3, 2, .{ 255, 0, 0 });
    try expectPixel(&out, frame, 2, 2, .{ 0, 0, 0 });
    // Far outside, or invalid: nothing.
    @memset(&out, 0);
    cursor.x = std.math.minInt(i32);
    drawCursor(&out, frame, cursor);
    cursor.x = std.math.maxInt(i32);
    drawCursor(&out, frame, cursor);
    cursor.x = 0;
    cursor.width = 3; // more than `pixels` holds
    drawCursor(&out, frame, cursor);
    for (out) |byte| try testing.expectEqual(@as(u8, 0), byte);
}

test "hostile registers and video memory never panic and stay within the limits" {
    var adapter = try TestAdapter.init(512 << 10);
    defer adapter.deinit();
    var prng = std.Random.DefaultPrng.init(0x76_67_61);
    const random = prng.random();
    random.bytes(adapter.vram);
    // Every VGA frame fits in 4096 × 1024; larger VBE frames must report FrameTooLarge.
    const out = try testing.allocator.alloc(u8, display.max_width * 1024 * 3);
    defer testing.allocator.free(out);
    var cells: [max_text_cells]TextCell = undefined;
    var cursor_pixels: [64]u32 = undefined;
    random.bytes(std.mem.sliceAsBytes(&cursor_pixels));
    for (0..300) |_| {
        const vga = &adapter.vga;
        vga.misc_output = random.int(u8);
        random.bytes(&vga.sequencer);
        random.bytes(&vga.graphics);
        random.bytes(&vga.crtc);
        random.bytes(&vga.attribute);
        random.bytes(std.mem.sliceAsBytes(&vga.dac_palette));
        vga.dac_pixel_mask = random.int(u8);
        vga.vbe_enable = if (random.uintLessThan(u8, 4) == 0) random.int(u16) else random.int(u16) & ~dispi_enable_enabled;
        const small = random.boolean();
        vga.vbe_xres = if (small) random.uintLessThan(u16, 800) else random.int(u16);
        vga.vbe_yres = if (small) random.uintLessThan(u16, 600) else random.int(u16);
        vga.vbe_bpp = random.uintLessThan(u16, 40);
        vga.vbe_virt_width = random.int(u16);
        vga.vbe_x_offset = if (small) random.uintLessThan(u16, 64) else random.int(u16);
        vga.vbe_y_offset = if (small) random.uintLessThan(u16, 64) else random.int(u16);

        const size = frameSize(vga, adapter.vram.len);
        try testing.expect(size.width > 0 and size.width <= display.max_width);
        try testing.expect(size.height > 0 and size.height <= display.max_height);
        if (adapter.draw(out, .{ .blink_on = random.boolean() })) |frame| {
            try testing.expectEqual(size, frame);
            drawCursor(out, frame, .{
                .x = random.int(i32) >> @intCast(random.uintLessThan(u8, 32)),
                .y = random.int(i32) >> @intCast(random.uintLessThan(u8, 32)),
                .hot_x = random.uintLessThan(u32, 8),
                .hot_y = random.uintLessThan(u32, 8),
                .width = random.uintLessThan(u32, 9),
                .height = random.uintLessThan(u32, 9),
                .pixels = &cursor_pixels,
            });
        } else |err| {
            try testing.expectEqual(error.FrameTooLarge, err);
            try testing.expect(frameBytes(size) > out.len);
        }
        if (textCells(vga, adapter.vram, &cells)) |text| {
            try testing.expect(text.columns <= vga_device.max_text_columns and text.rows <= vga_device.max_text_rows);
            try testing.expect(size.text_mode);
        }
        const span = scanout(vga, adapter.vram.len);
        try testing.expect(span.offset + span.len <= adapter.vram.len);
    }
}
