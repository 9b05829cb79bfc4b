//! INT 10h for the colour text mode vmctl's VGA resets into (mode 3, 80x25 at 0xB8000): the
//! calls boot loaders and Linux's setup code make. Every character also goes to COM1, so a
//! headless run shows the screen on stdout.
const std = @import("std");
const assert = @import("panic.zig").assert;
const io = @import("io.zig");
const bda = @import("bda.zig");
const platform = @import("platform");

pub const columns = 80;
pub const rows = 25;
const text_base: u32 = 0xB_8000;
const page_bytes: u32 = 0x1000;
const default_attribute: u8 = 0x07;
const crtc_index: u16 = 0x3D4;
const com1: u16 = platform.com1.base;

pub fn serialInit() void {
    io.outb(com1 + 1, 0x00); // no interrupts
    io.outb(com1 + 3, 0x80); // DLAB
    io.outb(com1 + 0, 0x01); // 115200 baud
    io.outb(com1 + 1, 0x00);
    io.outb(com1 + 3, 0x03); // 8N1
    io.outb(com1 + 2, 0x07); // FIFOs on and cleared
    io.outb(com1 + 4, 0x03); // DTR, RTS
}

/// vmctl's 16550 takes a byte whenever it comes, so no LSR poll (which would double the exits).
pub fn serialPut(byte: u8) void {
    io.outb(com1, byte);
}

/// POST: BDA video fields for mode 3, a clear screen, cursor at the top left.
pub fn init() void {
    io.write8(bda.video_mode, 0x03);
    io.write16(bda.video_columns, columns);
    io.write16(bda.video_page_bytes, page_bytes);
    io.write16(bda.video_page_offset, 0);
    io.write16(bda.crtc_base, crtc_index);
    io.write8(bda.video_rows_minus_one, rows - 1);
    io.write16(bda.char_height, 16);
    io.write8(bda.video_page, 0);
    io.write16(bda.cursor_shape, 0x0607);
    var page: u8 = 0;
    while (page < 8) : (page += 1) io.write16(bda.cursor_position + page * 2, 0);
    clear(0, 0, rows - 1, columns - 1, default_attribute);
    syncCursor();
}

fn cell(page: u8, row: u32, column: u32) u32 {
    assert(row < rows and column < columns);
    return text_base + @as(u32, page & 7) * page_bytes + (row * columns + column) * 2;
}

fn clear(top: u8, left: u8, bottom: u8, right: u8, attribute: u8) void {
    var row: u32 = top;
    while (row <= bottom and row < rows) : (row += 1) {
        var column: u32 = left;
        while (column <= right and column < columns) : (column += 1) {
            io.write16(cell(0, row, column), @as(u16, attribute) << 8 | ' ');
        }
    }
}

/// Scrolls the window up by `lines` (0: clear it), filling with `attribute`.
fn scrollUp(lines: u8, top: u8, left: u8, bottom: u8, right: u8, attribute: u8) void {
    if (bottom < top or right < left) return;
    const height: u32 = @as(u32, @min(bottom, rows - 1)) - top + 1;
    if (lines == 0 or lines >= height) return clear(top, left, bottom, right, attribute);
    var row: u32 = top;
    while (row + lines <= @min(bottom, rows - 1)) : (row += 1) {
        var column: u32 = left;
        while (column <= right and column < columns) : (column += 1) {
            io.write16(cell(0, row, column), io.read16(cell(0, row + lines, column)));
        }
    }
    clear(@intCast(row), left, bottom, right, attribute);
}

fn scrollDown(lines: u8, top: u8, left: u8, bottom: u8, right: u8, attribute: u8) void {
    if (bottom < top or right < left) return;
    const last: u32 = @min(bottom, rows - 1);
    const height: u32 = last - top + 1;
    if (lines == 0 or lines >= height) return clear(top, left, bottom, right, attribute);
    var row: u32 = last;
    while (row >= top + lines) : (row -= 1) {
        var column: u32 = left;
        while (column <= right and column < columns) : (column += 1) {
            io.write16(cell(0, row, column), io.read16(cell(0, row - lines, column)));
        }
        if (row == 0) break;
    }
    clear(top, left, @intCast(top + lines - 1), right, attribute);
}

fn cursor(page: u8) struct { row: u8, column: u8 } {
    const value = io.read16(bda.cursor_position + @as(u32, page & 7) * 2);
    return .{ .row = @intCast(@min(value >> 8, rows - 1)), .column = @intCast(@min(value & 0xFF, columns - 1)) };
}

fn setCursor(page: u8, row: u8, column: u8) void {
    io.write16(bda.cursor_position + @as(u32, page & 7) * 2, @as(u16, row) << 8 | column);
}

/// The CRTC cursor registers follow page 0's BDA cursor; done once per call, not per character.
pub fn syncCursor() void {
    const position = cursor(0);
    const address: u16 = @as(u16, position.row) * columns + position.column;
    io.outw(crtc_index, 0x0E | (address & 0xFF00));
    io.outw(crtc_index, 0x0F | (address << 8));
}

/// Teletype output of one character on the active page, mirrored to COM1.
pub fn teletype(char: u8, attribute: ?u8) void {
    serialPut(char);
    teletypeScreen(char, attribute);
}

fn teletypeScreen(char: u8, attribute: ?u8) void {
    const position = cursor(0);
    var row = position.row;
    var column = position.column;
    switch (char) {
        '\r' => column = 0,
        '\n' => row += 1,
        0x08 => column -|= 1,
        0x07 => {},
        else => {
            const address = cell(0, row, column);
            const old_attribute: u8 = @intCast(io.read16(address) >> 8);
            io.write16(address, @as(u16, attribute orelse old_attribute) << 8 | char);
            column += 1;
            if (column >= columns) {
                column = 0;
                row += 1;
            }
        },
    }
    if (row >= rows) {
        scrollUp(1, 0, 0, rows - 1, columns - 1, default_attribute);
        row = rows - 1;
    }
    setCursor(0, row, column);
}

/// corevm's own messages: "\n" becomes CRLF. The screen is plain memory; COM1 gets the text
/// in one `rep outsb` per 256 bytes rather than one exit per character.
pub fn print(text: []const u8) void {
    var serial: [256]u8 = undefined;
    var len: usize = 0;
    for (text) |char| {
        if (len + 2 > serial.len) {
            io.outsb(com1, serial[0..len]);
            len = 0;
        }
        if (char == '\n') {
            teletypeScreen('\r', null);
            serial[len] = '\r';
            len += 1;
        }
        teletypeScreen(char, null);
        serial[len] = char;
        len += 1;
    }
    if (len > 0) io.outsb(com1, serial[0..len]);
    syncCursor();
}

pub fn printf(comptime format: []const u8, args: anytype) void {
    var buffer: [256]u8 = undefined;
    const text = std.fmt.bufPrint(&buffer, format, args) catch buffer[0..];
    print(text);
}

const Frame = @import("frame.zig").Frame;

pub fn int10(frame: *Frame) void {
    const ah = frame.ah();
    const al = frame.al();
    switch (ah) {
        0x00 => { // set mode: text modes clear the screen; the mode number is remembered
            const mode = al & 0x7F;
            io.write8(bda.video_mode, if (mode == 2 or mode == 3 or mode == 7) mode else 3);
            if (al & 0x80 == 0) clear(0, 0, rows - 1, columns - 1, default_attribute);
            setCursor(0, 0, 0);
            frame.setAl(0x30);
        },
        0x01 => io.write16(bda.cursor_shape, frame.cx()),
        0x02 => setCursor(frame.bh(), frame.dh(), frame.dl()),
        0x03 => {
            const position = cursor(frame.bh());
            frame.setDx(@as(u16, position.row) << 8 | position.column);
            frame.setCx(io.read16(bda.cursor_shape));
        },
        0x05 => io.write8(bda.video_page, al & 7),
        0x06 => scrollUp(al, frame.ch(), frame.cl(), frame.dh(), frame.dl(), frame.bh()),
        0x07 => scrollDown(al, frame.ch(), frame.cl(), frame.dh(), frame.dl(), frame.bh()),
        0x08 => { // read character and attribute at the cursor
            const position = cursor(0);
            frame.setAx(io.read16(cell(0, position.row, position.column)));
        },
        0x09, 0x0A => { // write character (and attribute) CX times, cursor unmoved
            const position = cursor(0);
            var index: u32 = 0;
            const start: u32 = @as(u32, position.row) * columns + position.column;
            while (index < frame.cx() and start + index < rows * columns) : (index += 1) {
                const address = text_base + (start + index) * 2;
                const attribute: u16 = if (ah == 0x09) frame.bl() else io.read16(address) >> 8;
                io.write16(address, attribute << 8 | al);
            }
            serialPut(al);
        },
        0x0E => teletype(al, null),
        0x0F => {
            frame.setAl(io.read8(bda.video_mode));
            frame.setAh(columns);
            frame.setBh(io.read8(bda.video_page));
        },
        0x10, 0x11 => {}, // palette and font loading: the text screen has no pixels to change
        0x12 => if (frame.bl() == 0x10) { // EGA information: colour, 256 KiB
            frame.setBx(0x0003);
            frame.setCx(0x0009);
        },
        0x13 => { // write string ES:BP, CX characters, at DH:DL
            setCursor(frame.bh(), frame.dh(), frame.dl());
            const string = io.linear(frame.es, frame.bp());
            var index: u16 = 0;
            const with_attributes = al & 2 != 0;
            const start = cursor(0);
            while (index < frame.cx()) : (index += 1) {
                const char = io.read8(string + if (with_attributes) @as(u32, index) * 2 else index);
                const attribute = if (with_attributes) io.read8(string + @as(u32, index) * 2 + 1) else frame.bl();
                teletype(char, attribute);
            }
            if (al & 1 == 0) setCursor(0, start.row, start.column);
        },
        0x1A => if (al == 0x00) { // display combination: VGA with colour display
            frame.setAl(0x1A);
            frame.setBx(0x0008);
        },
        else => {}, // VBE (4Fh) and the rest: unsupported, AX left as is (not 0x004F)
    }
    syncCursor();
}
