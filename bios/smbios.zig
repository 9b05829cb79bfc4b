//! A minimal SMBIOS 2.8 (DSP0134) so the OS finds DMI data as it does under SeaBIOS: BIOS
//! information (type 0), system information (type 1) and the end marker (type 127), with the
//! 2.1-style entry point that the legacy scan of 0xF0000-0xFFFFF finds. Pure: `build` fills
//! caller buffers; `main.zig` places them.
const std = @import("std");
const assert = std.debug.assert;

pub const entry_point_bytes = 31;
pub const table_max_bytes = 160;

pub const Built = struct { table_len: u16, structure_count: u16, max_structure_bytes: u16 };

/// Writes the structure table into `table` and, pointing at `table_address`, the entry point
/// into `entry`.
pub fn build(table: *[table_max_bytes]u8, table_address: u32, entry: *[entry_point_bytes]u8) Built {
    var len: usize = 0;
    var max: usize = 0;
    const bios_information = [_]u8{
        0, 0x18, 0x00, 0x00, // type 0, length, handle 0
        1, 2, 0x00, 0xF0, // vendor, version, starting segment F000
        3, 1, // release date, ROM size (128 KiB: 2 blocks of 64 KiB, minus 1)
        0x08, 0, 0, 0, 0, 0, 0, 0, // characteristics: "not supported"
        0x00, 0x10, // extension bytes: byte 2 bit 4, a virtual machine
        0, 1, 0xFF, 0xFF, // BIOS release 0.1, no embedded controller
    };
    max = @max(max, append(table, &len, &bios_information, &.{ "vmctl", "corevm", "11/26/2026" }));
    var system_information = [_]u8{0} ** 0x1B;
    system_information[0] = 1;
    system_information[1] = 0x1B;
    system_information[2] = 0x00;
    system_information[3] = 0x01; // handle 0x100
    system_information[4] = 1; // manufacturer
    system_information[5] = 2; // product name
    system_information[24] = 0x06; // wake-up type: power switch
    max = @max(max, append(table, &len, &system_information, &.{ "vmctl", "corevm PC" }));
    max = @max(max, append(table, &len, &.{ 127, 4, 0x00, 0x7F }, &.{}));

    @memset(entry, 0);
    @memcpy(entry[0..4], "_SM_");
    entry[5] = entry_point_bytes;
    entry[6] = 2;
    entry[7] = 8;
    std.mem.writeInt(u16, entry[8..10], @intCast(max), .little);
    @memcpy(entry[16..21], "_DMI_");
    std.mem.writeInt(u16, entry[22..24], @intCast(len), .little);
    std.mem.writeInt(u32, entry[24..28], table_address, .little);
    std.mem.writeInt(u16, entry[28..30], 3, .little);
    entry[30] = 0x28;
    entry[21] = 0 -% sum(entry[16..31]);
    entry[4] = 0 -% sum(entry[0..31]);
    return .{ .table_len = @intCast(len), .structure_count = 3, .max_structure_bytes = @intCast(max) };
}

/// Appends a structure (formatted part, then its strings, then the double NUL); returns its size.
fn append(table: *[table_max_bytes]u8, len: *usize, formatted: []const u8, strings: []const []const u8) usize {
    const start = len.*;
    @memcpy(table[len.*..][0..formatted.len], formatted);
    len.* += formatted.len;
    for (strings) |string| {
        @memcpy(table[len.*..][0..string.len], string);
        len.* += string.len;
        table[len.*] = 0;
        len.* += 1;
    }
    // No strings: two NULs; otherwise one more after the last string's own.
    if (strings.len == 0) {
        table[len.*] = 0;
        len.* += 1;
    }
    table[len.*] = 0;
    len.* += 1;
    assert(len.* <= table_max_bytes);
    return len.* - start;
}

fn sum(bytes: []const u8) u8 {
    var total: u8 = 0;
    for (bytes) |byte| total +%= byte;
    return total;
}

test "entry point checksums, table layout and strings" {
    var table: [table_max_bytes]u8 = undefined;
    var entry: [entry_point_bytes]u8 = undefined;
    const built = build(&table, 0x0FFF_0000, &entry);
    try std.testing.expectEqual(@as(u8, 0), sum(&entry));
    try std.testing.expectEqual(@as(u8, 0), sum(entry[16..31]));
    try std.testing.expectEqual(built.table_len, std.mem.readInt(u16, entry[22..24], .little));
    try std.testing.expectEqual(@as(u32, 0x0FFF_0000), std.mem.readInt(u32, entry[24..28], .little));
    // Walk the structures the way an OS does: formatted length, then strings up to "\0\0".
    var offset: usize = 0;
    var types: [3]u8 = undefined;
    var index: usize = 0;
    while (offset < built.table_len) : (index += 1) {
        types[index] = table[offset];
        offset += table[offset + 1];
        while (!(table[offset] == 0 and table[offset + 1] == 0)) offset += 1;
        offset += 2;
    }
    try std.testing.expectEqual(@as(usize, built.table_len), offset);
    try std.testing.expectEqualSlices(u8, &.{ 0, 1, 127 }, &types);
    try std.testing.expect(std.mem.indexOf(u8, table[0..offset], "corevm PC") != null);
}
