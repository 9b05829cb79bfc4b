//! QEMU's ACPI linker/loader script (fw_cfg "etc/table-loader"): 128-byte little-endian
//! commands that have the firmware place fw_cfg files in memory and link them.
//!
//!   ALLOCATE (1):     file[56] @4, align u32 @60, zone u8 @64 (1 high memory, 2 F segment)
//!   ADD_POINTER (2):  dest[56] @4, src[56] @60, offset u32 @116, size u8 @120: the size-byte
//!                     value at dest+offset (an offset into src) gets src's address added
//!   ADD_CHECKSUM (3): file[56] @4, result offset u32 @60, start u32 @64, length u32 @68: the
//!                     byte at result offset makes the bytes [start, start+length) sum to zero
//!   WRITE_POINTER (4) and anything else: ignored (nothing here writes back to fw_cfg)
//!
//! Pure: the caller's `Env` allocates memory and loads files, so the script runs in tests too.
const std = @import("std");
const assert = std.debug.assert;

pub const command_bytes = 128;
pub const name_bytes = 56;
pub const Zone = enum(u8) { high = 1, fseg = 2, _ };

pub const max_files = 8;

pub const Error = error{ UnknownFile, TooManyFiles, OutOfMemory, BadCommand };

/// An allocated file: its guest address and its bytes there.
pub const Placed = struct { name: [name_bytes]u8, address: u32, data: []u8 };

/// What running the script needs from the firmware.
pub const Env = struct {
    context: *anyopaque,
    /// Allocates `size` bytes aligned to `alignment` in `zone` and loads file `name` there.
    allocate: *const fn (context: *anyopaque, name: []const u8, alignment: u32, zone: Zone) ?Placed,
};

fn name(bytes: *const [name_bytes]u8) []const u8 {
    return std.mem.sliceTo(bytes, 0);
}

fn find(files: []Placed, wanted: []const u8) Error!*Placed {
    for (files) |*file| if (std.mem.eql(u8, name(&file.name), wanted)) return file;
    return error.UnknownFile;
}

/// Runs `script`; returns how many files it placed into `files`.
pub fn run(script: []const u8, env: Env, files: *[max_files]Placed) Error!u32 {
    var count: u32 = 0;
    var offset: usize = 0;
    while (offset + command_bytes <= script.len) : (offset += command_bytes) {
        const c = script[offset..][0..command_bytes];
        switch (std.mem.readInt(u32, c[0..4], .little)) {
            1 => {
                if (count == max_files) return error.TooManyFiles;
                const file_name = name(c[4..60]);
                const alignment = std.mem.readInt(u32, c[60..64], .little);
                if (alignment == 0 or !std.math.isPowerOfTwo(alignment)) return error.BadCommand;
                const placed = env.allocate(env.context, file_name, alignment, @enumFromInt(c[64])) orelse return error.OutOfMemory;
                assert(placed.address % alignment == 0);
                files[count] = placed;
                count += 1;
            },
            2 => {
                const destination = try find(files[0..count], name(c[4..60]));
                const source = try find(files[0..count], name(c[60..116]));
                const at = std.mem.readInt(u32, c[116..120], .little);
                const size = c[120];
                if (size != 1 and size != 2 and size != 4 and size != 8) return error.BadCommand;
                if (@as(u64, at) + size > destination.data.len) return error.BadCommand;
                var value: u64 = 0;
                var i: u32 = 0;
                while (i < size) : (i += 1) value |= @as(u64, destination.data[at + i]) << @intCast(i * 8);
                value +%= source.address;
                i = 0;
                while (i < size) : (i += 1) destination.data[at + i] = @truncate(value >> @intCast(i * 8));
            },
            3 => {
                const file = try find(files[0..count], name(c[4..60]));
                const result = std.mem.readInt(u32, c[60..64], .little);
                const start = std.mem.readInt(u32, c[64..68], .little);
                const length = std.mem.readInt(u32, c[68..72], .little);
                if (result >= file.data.len or @as(u64, start) + length > file.data.len) return error.BadCommand;
                var sum: u8 = 0;
                for (file.data[start..][0..length]) |byte| sum +%= byte;
                file.data[result] -%= sum;
            },
            else => {},
        }
    }
    return count;
}

fn command(kind: u32) [command_bytes]u8 {
    var c = [_]u8{0} ** command_bytes;
    std.mem.writeInt(u32, c[0..4], kind, .little);
    return c;
}

fn setName(c: *[command_bytes]u8, at: usize, text: []const u8) void {
    @memcpy(c[at..][0..text.len], text);
}

test "allocate, add a pointer and fix a checksum" {
    const Memory = struct {
        tables: [16]u8 = .{ 1, 2, 3, 4, 0x10, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0 },
        rsdp: [8]u8 = .{ 0, 0, 0, 0, 0, 0, 0, 0 },
        fn allocate(context: *anyopaque, file_name: []const u8, alignment: u32, zone: Zone) ?Placed {
            const self: *@This() = @ptrCast(@alignCast(context));
            var placed = Placed{ .name = [_]u8{0} ** name_bytes, .address = 0, .data = undefined };
            @memcpy(placed.name[0..file_name.len], file_name);
            if (std.mem.eql(u8, file_name, "etc/acpi/tables")) {
                std.testing.expectEqual(Zone.high, zone) catch return null;
                placed.address = 0x0FFC_0000;
                placed.data = &self.tables;
            } else {
                std.testing.expectEqual(@as(u32, 16), alignment) catch return null;
                placed.address = 0xF_5000;
                placed.data = &self.rsdp;
            }
            return placed;
        }
    };
    var memory = Memory{};
    var script: [4 * command_bytes]u8 = undefined;
    var c = command(1);
    setName(&c, 4, "etc/acpi/tables");
    std.mem.writeInt(u32, c[60..64], 64, .little);
    c[64] = 1;
    script[0..128].* = c;
    c = command(1);
    setName(&c, 4, "etc/acpi/rsdp");
    std.mem.writeInt(u32, c[60..64], 16, .little);
    c[64] = 2;
    script[128..256].* = c;
    c = command(2);
    setName(&c, 4, "etc/acpi/rsdp");
    setName(&c, 60, "etc/acpi/tables");
    std.mem.writeInt(u32, c[116..120], 4, .little);
    c[120] = 4;
    script[256..384].* = c;
    c = command(3);
    setName(&c, 4, "etc/acpi/tables");
    std.mem.writeInt(u32, c[60..64], 9, .little);
    std.mem.writeInt(u32, c[64..68], 0, .little);
    std.mem.writeInt(u32, c[68..72], 16, .little);
    script[384..512].* = c;

    var files: [max_files]Placed = undefined;
    const count = try run(&script, .{ .context = &memory, .allocate = Memory.allocate }, &files);
    try std.testing.expectEqual(@as(u32, 2), count);
    try std.testing.expectEqual(@as(u32, 0x0FFC_0000), std.mem.readInt(u32, memory.rsdp[4..8], .little));
    var sum: u8 = 0;
    for (memory.tables) |byte| sum +%= byte;
    try std.testing.expectEqual(@as(u8, 0), sum);
}

test "a pointer to a file never allocated is an error" {
    var script = command(2);
    setName(&script, 4, "a");
    setName(&script, 60, "b");
    script[120] = 4;
    var files: [max_files]Placed = undefined;
    const Never = struct {
        fn allocate(_: *anyopaque, _: []const u8, _: u32, _: Zone) ?Placed {
            return null;
        }
    };
    var dummy: u8 = 0;
    try std.testing.expectError(error.UnknownFile, run(&script, .{ .context = &dummy, .allocate = Never.allocate }, &files));
}
