//! The guest's screen as the host sees it: which adapter is showing (VMware SVGA's own mode, else
//! the VGA/VBE core), drawn by the one renderer (devices/vga_render.zig), and whether anything
//! changed since the host last looked — register and window writes counted by the devices, RAM
//! writes by KVM's dirty log on the framebuffer and the legacy window, queued window writes replayed
//! first — so an idle screen costs
//! one cheap ioctl a look and no rendering.
const std = @import("std");
const vm_mod = @import("vm.zig");
const Vm = vm_mod.Vm;
const kvm = @import("kvm.zig");
const display = @import("devices/display.zig");
const vga_mod = @import("devices/vga.zig");
const render = @import("devices/vga_render.zig");

pub const Error = error{ NoDisplay, BufferTooSmall };

/// Renders the screen into `out` (packed RGB). On `BufferTooSmall`, `needed` holds the size.
pub fn renderFrame(vm: *Vm, out: []u8, needed: *display.Frame) Error!display.Frame {
    if (vm.vga_kind == .none) return error.NoDisplay;
    vm_mod.flushCoalescedMmio(vm);
    const vga = &vm.vga;
    vga.mutex.lock();
    defer vga.mutex.unlock();
    // The SVGA's own mode shows video memory the VGA's text window shares: bringing the text
    // shadow into the planes now would draw the VGA's idle text page over its first 64 KiB.
    if (vm.vga_kind == .vmware) {
        if (vm.svga.frameLayout()) |layout| return renderSvga(vm, layout, out, needed);
    }
    vga.absorbTextShadow();
    const size = render.frameSize(vga, vm.vram.len);
    needed.* = size;
    if (frameBytes(size) > out.len) return error.BufferTooSmall;
    return render.render(vga, vm.vram, out, .{}) catch error.BufferTooSmall;
}

fn renderSvga(vm: *Vm, layout: display.LinearLayout, out: []u8, needed: *display.Frame) Error!display.Frame {
    const frame = display.Frame{ .width = layout.width, .height = layout.height, .text_mode = false };
    needed.* = frame;
    if (frameBytes(frame) > out.len) return error.BufferTooSmall;
    var palette: [256][3]u8 = undefined;
    vm.svga.copyPalette(&palette);
    render.renderLinear(vm.vram, layout, &palette, out) catch @memset(out[0..frameBytes(frame)], 0);
    if (vm.svga.cursor()) |cursor| render.drawCursor(out, frame, cursor);
    return frame;
}

fn frameBytes(frame: display.Frame) usize {
    return @as(usize, frame.width) * frame.height * display.rgb_bytes;
}

/// Bytes per cell of `textCells`' output: code point (u32 LE), foreground RGB, background RGB,
/// flags (bit 0: the cursor), padding.
pub const text_cell_bytes = 12;

pub const TextSize = struct { columns: u32, rows: u32 };

const Cells = [render.max_text_cells]render.TextCell;

/// The text screen's cells into `cells`; `NoDisplay` when there is no display or it shows
/// graphics.
fn readCells(vm: *Vm, cells: *Cells) Error!render.TextSize {
    if (vm.vga_kind == .none) return error.NoDisplay;
    if (vm.vga_kind == .vmware and vm.svga.frameLayout() != null) return error.NoDisplay;
    vm_mod.flushCoalescedMmio(vm);
    const vga = &vm.vga;
    vga.mutex.lock();
    defer vga.mutex.unlock();
    vga.absorbTextShadow();
    return render.textCells(vga, vm.vram, cells) orelse error.NoDisplay;
}

/// The text screen as cells of `text_cell_bytes`; `NoDisplay` when there is no display or it
/// shows graphics.
pub fn textCells(vm: *Vm, out: []u8) Error!TextSize {
    var cells: Cells = undefined;
    const text = try readCells(vm, &cells);
    const count = @as(usize, text.columns) * text.rows;
    std.debug.assert(count <= cells.len);
    if (count * text_cell_bytes > out.len) return error.BufferTooSmall;
    for (cells[0..count], 0..) |cell, index| {
        const bytes = out[index * text_cell_bytes ..][0..text_cell_bytes];
        std.mem.writeInt(u32, bytes[0..4], vga_mod.cp437Codepoint(cell.char), .little);
        bytes[4..7].* = cell.foreground;
        bytes[7..10].* = cell.background;
        bytes[10] = @intFromBool(cell.cursor);
        bytes[11] = 0;
    }
    return .{ .columns = text.columns, .rows = text.rows };
}

/// The text screen as UTF-8 lines into `out`, each ending in '\n', trailing spaces trimmed and
/// trailing blank rows left out; returns the length (0 in graphics modes or without a display).
/// Lines that do not fit in `out` are left out whole.
pub fn textLines(vm: *Vm, out: []u8) usize {
    var cells: Cells = undefined;
    const text = readCells(vm, &cells) catch return 0;
    return writeLines(cells[0 .. @as(usize, text.columns) * text.rows], text.columns, out);
}

/// `textLines` for `cells`, rows of `columns` cells.
fn writeLines(cells: []const render.TextCell, columns: usize, out: []u8) usize {
    std.debug.assert(columns > 0 and columns <= vga_mod.max_text_columns and cells.len % columns == 0);
    var len: usize = 0;
    var blank_rows: usize = 0;
    var rows = std.mem.window(render.TextCell, cells, columns, columns);
    while (rows.next()) |row| {
        var line: [vga_mod.max_text_columns * 3]u8 = undefined;
        var line_len: usize = 0;
        var kept: usize = 0;
        for (row) |cell| {
            const codepoint = vga_mod.cp437Codepoint(cell.char);
            // Code page 437 maps to the Basic Multilingual Plane only: at most 3 bytes each.
            const bytes = std.unicode.utf8Encode(codepoint, line[line_len..]) catch unreachable;
            line_len += bytes;
            if (codepoint != ' ') kept = line_len;
        }
        if (kept == 0) {
            blank_rows += 1;
            continue;
        }
        if (out.len - len < blank_rows + kept + 1) break;
        @memset(out[len..][0..blank_rows], '\n');
        len += blank_rows;
        blank_rows = 0;
        @memcpy(out[len..][0..kept], line[0..kept]);
        out[len + kept] = '\n';
        len += kept + 1;
    }
    return len;
}

/// A number that changes whenever the screen may have changed.
pub fn generation(vm: *Vm) u64 {
    if (vm.vga_kind == .none) return 0;
    vm_mod.flushCoalescedMmio(vm);
    if (vm.vram_guest_address != null and slotDirty(vm, vm_mod.Slot.vram, vm.vram.len)) {
        _ = vm.screen_writes.fetchAdd(1, .monotonic);
    }
    if (vm.window_mapped.load(.acquire) and slotDirty(vm, vm_mod.Slot.legacy_window, vm_mod.legacy_window_bytes)) {
        _ = vm.screen_writes.fetchAdd(1, .monotonic);
    }
    vm.vga.mutex.lock();
    var sum = vm.vga.display_generation;
    vm.vga.mutex.unlock();
    if (vm.vga_kind == .vmware) {
        vm.svga.mutex.lock();
        sum +%= vm.svga.generation;
        vm.svga.mutex.unlock();
    }
    return sum +% vm.screen_writes.load(.monotonic);
}

/// Whether the guest wrote any page of memory slot `slot` (of `bytes` bytes) since the last
/// look; KVM clears the log as it hands it over. A failed look counts as a change.
fn slotDirty(vm: *Vm, slot: u32, bytes: usize) bool {
    const pages = std.math.divCeil(usize, bytes, std.heap.page_size_min) catch unreachable;
    const words = std.math.divCeil(usize, pages, 64) catch unreachable;
    std.debug.assert(words <= vm.dirty_bitmap.len);
    const bitmap = vm.dirty_bitmap[0..words];
    var log = kvm.DirtyLog{ .slot = slot, .dirty_bitmap = @intFromPtr(bitmap.ptr) };
    _ = kvm.call(vm.vm_fd, kvm.ioctl.get_dirty_log, @intFromPtr(&log)) catch return true;
    for (bitmap) |word| if (word != 0) return true;
    return false;
}

const testing = std.testing;

fn testCells(comptime rows: []const []const u8, comptime columns: usize) [rows.len * columns]render.TextCell {
    var cells: [rows.len * columns]render.TextCell = undefined;
    for (&cells) |*cell| cell.* = .{ .char = ' ', .foreground = .{ 0, 0, 0 }, .background = .{ 0, 0, 0 }, .cursor = false };
    for (rows, 0..) |row, r| {
        for (row, 0..) |char, c| cells[r * columns + c].char = char;
    }
    return cells;
}

test "text lines: code page 437 as UTF-8, trailing spaces and rows dropped, inner blank rows kept" {
    const cells = testCells(&.{ "\xC9\xCD\xBB A ", "", "  \x00\xFFx", "", "" }, 6);
    var out: [256]u8 = undefined;
    const len = writeLines(&cells, 6, &out);
    try testing.expectEqualStrings("╔═╗ A\n\n    x\n", out[0..len]);
    // A blank screen writes nothing; lines that do not fit are left out whole.
    const blank = testCells(&.{ "", "" }, 4);
    try testing.expectEqual(@as(usize, 0), writeLines(&blank, 4, &out));
    try testing.expectEqual(@as(usize, 12), writeLines(&cells, 6, out[0..18]));
}
