//! QEMU's firmware configuration interface as vmctl offers it (native/devices/fw_cfg.zig):
//! selector 0x510, data 0x511, DMA address 0x514 (big-endian, the low half's write starts the
//! transfer). Items are read by DMA: one exit per item instead of one per byte.
const std = @import("std");
const assert = @import("panic.zig").assert;
const io = @import("io.zig");
const platform = @import("platform");

/// The device's own description of the interface: keys, port offsets, DMA control bits.
const FwCfg = @import("fw_cfg_device").FwCfg;
pub const key = FwCfg.Key;

const port_selector: u16 = platform.fw_cfg.base + FwCfg.Port.selector;
const port_data: u16 = platform.fw_cfg.base + FwCfg.Port.data;
const port_dma_high: u16 = platform.fw_cfg.base + FwCfg.Port.dma_address_high;
const port_dma_low: u16 = platform.fw_cfg.base + FwCfg.Port.dma_address_low;

const dma_error = FwCfg.dma_error;
const dma_read = FwCfg.dma_read;
const dma_select = FwCfg.dma_select;
const id_dma = FwCfg.id_dma;

const DmaAccess = extern struct {
    control_be: u32,
    length_be: u32,
    address_be: u64,
};

var dma_available: bool = false;
var dma_access: DmaAccess align(16) = undefined;

/// Checks the "QEMU" signature and whether DMA is offered. False: no fw_cfg at all.
pub fn detect() bool {
    io.outw(port_selector, key.signature);
    var signature: [4]u8 = undefined;
    for (&signature) |*byte| byte.* = io.inb(port_data);
    if (!std.mem.eql(u8, &signature, "QEMU")) return false;
    dma_available = readU32(key.id) & id_dma != 0;
    return true;
}

/// Reads the first `out.len` bytes of item `item_key` (past its end: zeros, as the device gives).
pub fn read(item_key: u16, out: []u8) void {
    if (out.len == 0) return;
    if (!dma_available) {
        io.outw(port_selector, item_key);
        for (out) |*byte| byte.* = io.inb(port_data);
        return;
    }
    assert(out.len <= std.math.maxInt(u32));
    dma_access = .{
        .control_be = std.mem.nativeToBig(u32, @as(u32, item_key) << 16 | dma_select | dma_read),
        .length_be = std.mem.nativeToBig(u32, @intCast(out.len)),
        .address_be = std.mem.nativeToBig(u64, @intFromPtr(out.ptr)),
    };
    const address: u32 = @intFromPtr(&dma_access);
    io.outl(port_dma_high, 0);
    io.outl(port_dma_low, std.mem.nativeToBig(u32, address));
    // vmctl completes the transfer inside the OUT; the loop only guards a slower device.
    var spins: u32 = 0;
    while (std.mem.bigToNative(u32, @as(*volatile u32, &dma_access.control_be).*) & ~dma_error != 0) : (spins += 1) {
        assert(spins < 1_000_000);
    }
}

/// Reads item `item_key` into physical memory at `address` (`len` bytes).
pub fn readTo(item_key: u16, address: u32, len: u32) void {
    if (len == 0) return;
    read(item_key, io.bytes(address, len));
}

pub fn readU32(item_key: u16) u32 {
    var value: [4]u8 = undefined;
    if (!dma_available) {
        io.outw(port_selector, item_key);
        for (&value) |*byte| byte.* = io.inb(port_data);
    } else read(item_key, &value);
    return std.mem.readInt(u32, &value, .little);
}

pub fn readU64(item_key: u16) u64 {
    var value: [8]u8 = undefined;
    read(item_key, &value);
    return std.mem.readInt(u64, &value, .little);
}

pub const File = struct { size: u32, select: u16 };

/// fw_cfg's file directory: a big-endian count, then 64-byte entries.
const dir_entry_bytes = 64;
const max_files = 64;
var dir_buffer: [4 + max_files * dir_entry_bytes]u8 = undefined;
var dir_count: u32 = 0;

/// Reads the file directory once (POST); `findFile` looks names up in it.
pub fn loadDirectory() void {
    read(key.file_dir, &dir_buffer);
    dir_count = @min(std.mem.readInt(u32, dir_buffer[0..4], .big), max_files);
}

pub fn findFile(name: []const u8) ?File {
    assert(name.len < 56);
    var index: u32 = 0;
    while (index < dir_count) : (index += 1) {
        const entry = dir_buffer[4 + index * dir_entry_bytes ..][0..dir_entry_bytes];
        const entry_name = std.mem.sliceTo(entry[8..64], 0);
        if (std.mem.eql(u8, entry_name, name)) return .{
            .size = std.mem.readInt(u32, entry[0..4], .big),
            .select = std.mem.readInt(u16, entry[4..6], .big),
        };
    }
    return null;
}
