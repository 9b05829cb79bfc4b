//! ACPI: runs fw_cfg's etc/table-loader so the tables sit in the reserved high zone and the RSDP
//! in the F segment, where Linux's legacy scan of 0xE0000-0xFFFFF finds it.
const std = @import("std");
const io = @import("io.zig");
const fw_cfg = @import("fw_cfg.zig");
const loader = @import("loader.zig");
const main = @import("main.zig");
const video = @import("video.zig");
const smbios = @import("smbios.zig");

/// SMBIOS: the structure table in the reserved high zone, the entry point in the F segment.
pub fn installSmbios() void {
    const address = main.highAlloc(smbios.table_max_bytes, 16) orelse return;
    const table: *[smbios.table_max_bytes]u8 = @ptrFromInt(address);
    _ = smbios.build(table, address, &smbios_entry);
}

/// The F-segment pool for the RSDP (and any other FSEG allocation).
var fseg_pool: [1024]u8 align(16) linksection(".fseg") = [_]u8{0} ** 1024;
/// The SMBIOS entry point, also found by a scan of the F segment (16-byte aligned).
var smbios_entry: [smbios.entry_point_bytes]u8 align(16) linksection(".fseg") = [_]u8{0} ** smbios.entry_point_bytes;
var fseg_used: u32 = 0;
var script: [4096]u8 = undefined;

fn allocate(_: *anyopaque, name: []const u8, alignment: u32, zone: loader.Zone) ?loader.Placed {
    const file = fw_cfg.findFile(name) orelse return null;
    var address: u32 = 0;
    switch (zone) {
        .fseg => {
            const pool: u32 = @intFromPtr(&fseg_pool);
            const start = std.mem.alignForward(u32, pool + fseg_used, alignment);
            if (start + file.size > pool + fseg_pool.len) return null;
            fseg_used = start + file.size - pool;
            address = start;
        },
        else => address = main.highAlloc(file.size, @max(alignment, 16)) orelse return null,
    }
    const data = io.bytes(address, file.size);
    fw_cfg.read(file.select, data);
    var placed = loader.Placed{ .name = [_]u8{0} ** loader.name_bytes, .address = address, .data = data };
    @memcpy(placed.name[0..name.len], name);
    return placed;
}

pub fn install() void {
    const file = fw_cfg.findFile("etc/table-loader") orelse return;
    if (file.size > script.len) video.print("corevm: etc/table-loader too long; ACPI tables cut short\n");
    const len = @min(file.size, script.len);
    fw_cfg.read(file.select, script[0..len]);
    var files: [loader.max_files]loader.Placed = undefined;
    var context: u8 = 0;
    _ = loader.run(script[0..len], .{ .context = &context, .allocate = allocate }, &files) catch |err| {
        video.printf("corevm: ACPI tables not installed: {s}\n", .{@errorName(err)});
    };
}
