//! The memory map INT 15h E820 reports: fw_cfg's `etc/e820` (RAM and KVM's private pages) with
//! the holes a PC BIOS cuts into it (EBDA, VGA/ROM area, the firmware's own F segment and its
//! reserved top of low RAM). Pure: `Map` is a sorted list of non-overlapping ranges.
const std = @import("std");
const assert = std.debug.assert;

pub const Type = enum(u32) { ram = 1, reserved = 2, acpi = 3, nvs = 4, _ };

pub const Entry = struct {
    start: u64,
    length: u64,
    type: Type,

    fn end(self: Entry) u64 {
        return self.start + self.length;
    }
};

pub const max_entries = 32;

pub const Map = struct {
    entries: [max_entries]Entry = undefined,
    count: u32 = 0,

    /// Makes [start, start+length) `kind`, cutting whatever was there; neighbours of the same
    /// kind merge, so the map stays sorted, disjoint and minimal.
    pub fn set(self: *Map, start: u64, length: u64, kind: Type) void {
        self.replace(start, length, kind);
    }

    /// Takes [start, start+length) out of the map: neither RAM nor reserved.
    pub fn remove(self: *Map, start: u64, length: u64) void {
        self.replace(start, length, null);
    }

    fn replace(self: *Map, start: u64, length: u64, kind_or_hole: ?Type) void {
        if (length == 0) return;
        const end = start + length;
        var out: [max_entries + 2]Entry = undefined;
        var n: u32 = 0;
        var inserted = false;
        for (self.entries[0..self.count]) |entry| {
            if (!inserted and entry.start >= start) {
                if (kind_or_hole) |kind| {
                    out[n] = .{ .start = start, .length = length, .type = kind };
                    n += 1;
                }
                inserted = true;
            }
            // The parts of `entry` outside [start, end).
            if (entry.start < start) {
                const cut_end = @min(entry.end(), start);
                out[n] = .{ .start = entry.start, .length = cut_end - entry.start, .type = entry.type };
                n += 1;
                if (entry.end() > end) {
                    if (!inserted) {
                        if (kind_or_hole) |kind| {
                            out[n] = .{ .start = start, .length = length, .type = kind };
                            n += 1;
                        }
                        inserted = true;
                    }
                    out[n] = .{ .start = end, .length = entry.end() - end, .type = entry.type };
                    n += 1;
                }
            } else if (entry.end() > end) {
                const cut_start = @max(entry.start, end);
                out[n] = .{ .start = cut_start, .length = entry.end() - cut_start, .type = entry.type };
                n += 1;
            }
            assert(n <= out.len);
        }
        if (!inserted) {
            if (kind_or_hole) |kind| {
                out[n] = .{ .start = start, .length = length, .type = kind };
                n += 1;
            }
        }
        // Sort stays: every piece was emitted in address order. Merge equal neighbours.
        self.count = 0;
        for (out[0..n]) |piece| {
            if (self.count > 0) {
                const last = &self.entries[self.count - 1];
                assert(last.end() <= piece.start);
                if (last.end() == piece.start and last.type == piece.type) {
                    last.length += piece.length;
                    continue;
                }
            }
            assert(self.count < max_entries);
            self.entries[self.count] = piece;
            self.count += 1;
        }
    }

    /// The end of the RAM that starts at 1 MiB (below 4 GiB): where the firmware's high zone goes.
    pub fn lowRamEnd(self: *const Map) u64 {
        for (self.entries[0..self.count]) |entry| {
            if (entry.type == .ram and entry.start <= 0x10_0000 and entry.end() > 0x10_0000) return entry.end();
        }
        return 0x10_0000;
    }

    /// Bytes of RAM in [from, to).
    pub fn ramBetween(self: *const Map, from: u64, to: u64) u64 {
        var total: u64 = 0;
        for (self.entries[0..self.count]) |entry| {
            if (entry.type != .ram) continue;
            const a = @max(entry.start, from);
            const b = @min(entry.end(), to);
            if (b > a) total += b - a;
        }
        return total;
    }
};

/// fw_cfg's etc/e820 record: u64 address, u64 length, u32 type, packed little-endian.
pub const fw_cfg_entry_bytes = 20;

pub const Layout = struct {
    /// Start of the Extended BIOS Data Area (conventional memory ends here).
    ebda_start: u64,
    /// Bytes at the top of low RAM kept for the firmware (ACPI tables, AHCI structures).
    high_zone_bytes: u64,
};

/// Builds the map from `etc/e820`'s bytes.
pub fn build(fw_cfg_e820: []const u8, layout: Layout) Map {
    assert(fw_cfg_e820.len % fw_cfg_entry_bytes == 0);
    var map = Map{};
    var offset: usize = 0;
    while (offset < fw_cfg_e820.len) : (offset += fw_cfg_entry_bytes) {
        const raw = fw_cfg_e820[offset..][0..fw_cfg_entry_bytes];
        const kind: Type = @enumFromInt(std.mem.readInt(u32, raw[16..20], .little));
        map.set(std.mem.readInt(u64, raw[0..8], .little), std.mem.readInt(u64, raw[8..16], .little), kind);
    }
    const low_end = map.lowRamEnd();
    // The EBDA, the VGA window and option ROM area are not RAM to the OS; 0xF0000 is the BIOS.
    // 0xA0000-0xEFFFF (VGA window, option ROM area) is a hole: neither RAM nor reserved.
    map.set(layout.ebda_start, 0xA_0000 - layout.ebda_start, .reserved);
    map.remove(0xA_0000, 0x5_0000);
    map.set(0xF_0000, 0x1_0000, .reserved);
    if (low_end > 0x10_0000 + layout.high_zone_bytes) {
        map.set(low_end - layout.high_zone_bytes, layout.high_zone_bytes, .reserved);
    }
    return map;
}

fn record(address: u64, length: u64, kind: u32) [fw_cfg_entry_bytes]u8 {
    var out: [fw_cfg_entry_bytes]u8 = undefined;
    std.mem.writeInt(u64, out[0..8], address, .little);
    std.mem.writeInt(u64, out[8..16], length, .little);
    std.mem.writeInt(u32, out[16..20], kind, .little);
    return out;
}

test "vmctl's etc/e820 becomes a PC map: EBDA, BIOS and high zone reserved" {
    const input = record(0, 256 << 20, 1) ++ record(0xFEFF_C000, 0x4000, 2);
    const map = build(&input, .{ .ebda_start = 0x9_FC00, .high_zone_bytes = 256 << 10 });
    const expected = [_]Entry{
        .{ .start = 0, .length = 0x9_FC00, .type = .ram },
        .{ .start = 0x9_FC00, .length = 0x400, .type = .reserved },
        .{ .start = 0xF_0000, .length = 0x1_0000, .type = .reserved },
        .{ .start = 0x10_0000, .length = (256 << 20) - 0x10_0000 - (256 << 10), .type = .ram },
        .{ .start = (256 << 20) - (256 << 10), .length = 256 << 10, .type = .reserved },
        .{ .start = 0xFEFF_C000, .length = 0x4000, .type = .reserved },
    };
    try std.testing.expectEqualSlices(Entry, &expected, map.entries[0..map.count]);
}

test "RAM above 4 GiB stays; set merges and splits" {
    const input = record(0, 0xC000_0000, 1) ++ record(0x1_0000_0000, 1 << 30, 1);
    var map = build(&input, .{ .ebda_start = 0x9_FC00, .high_zone_bytes = 0x4_0000 });
    // The top 256 KiB of low RAM are the firmware's now.
    try std.testing.expectEqual(@as(u64, 0xC000_0000 - 0x4_0000), map.lowRamEnd());
    try std.testing.expectEqual(@as(u32, 6), map.count);
    try std.testing.expectEqual(@as(u64, 1 << 30), map.entries[5].length);
    map.set(0x20_0000, 0x1000, .reserved);
    try std.testing.expectEqual(@as(u32, 8), map.count);
    map.set(0x20_0000, 0x1000, .ram);
    try std.testing.expectEqual(@as(u32, 6), map.count);
    try std.testing.expectEqual(@as(u64, 0x9_FC00 + (0xC000_0000 - 0x10_0000 - 0x4_0000)), map.ramBetween(0, 1 << 32));
}
