//! El Torito (CD-ROM boot) structures: the Boot Record Volume Descriptor at sector 17 and the
//! boot catalog's validation and initial/default entries. Pure.
const std = @import("std");
const assert = std.debug.assert;

pub const sector_bytes = 2048;
pub const boot_record_sector = 17;

pub const Error = error{ NoBootRecord, BadCatalog, NotBootable };

/// The boot catalog's sector, from the Boot Record Volume Descriptor.
pub fn catalogSector(descriptor: *const [sector_bytes]u8) Error!u32 {
    if (descriptor[0] != 0 or !std.mem.eql(u8, descriptor[1..6], "CD001") or descriptor[6] != 1) return error.NoBootRecord;
    const system_id = "EL TORITO SPECIFICATION";
    if (!std.mem.eql(u8, descriptor[7..][0..system_id.len], system_id)) return error.NoBootRecord;
    return std.mem.readInt(u32, descriptor[0x47..0x4B], .little);
}

pub const Media = enum(u8) { no_emulation = 0, floppy_1_2m = 1, floppy_1_44m = 2, floppy_2_88m = 3, hard_disk = 4, _ };

pub const BootImage = struct {
    media: Media,
    /// Real-mode segment the image goes to (0x7C0 when the catalog says 0).
    load_segment: u16,
    /// Virtual (512-byte) sectors to load.
    sector_count: u16,
    /// The image's first CD sector.
    load_rba: u32,
};

/// The initial/default entry of a catalog whose validation entry checks out.
pub fn parseCatalog(catalog: *const [sector_bytes]u8) Error!BootImage {
    const validation = catalog[0..32];
    if (validation[0] != 1 or validation[30] != 0x55 or validation[31] != 0xAA) return error.BadCatalog;
    var sum: u16 = 0;
    var i: usize = 0;
    while (i < 32) : (i += 2) sum +%= std.mem.readInt(u16, validation[i..][0..2], .little);
    if (sum != 0) return error.BadCatalog;
    const entry = catalog[32..64];
    if (entry[0] != 0x88) return error.NotBootable;
    const segment = std.mem.readInt(u16, entry[2..4], .little);
    return .{
        .media = @enumFromInt(entry[1] & 0x0F),
        .load_segment = if (segment == 0) 0x7C0 else segment,
        .sector_count = std.mem.readInt(u16, entry[6..8], .little),
        .load_rba = std.mem.readInt(u32, entry[8..12], .little),
    };
}

fn testCatalog(boot_indicator: u8) [sector_bytes]u8 {
    var catalog = [_]u8{0} ** sector_bytes;
    catalog[0] = 1;
    catalog[30] = 0x55;
    catalog[31] = 0xAA;
    var sum: u16 = 0;
    var i: usize = 0;
    while (i < 32) : (i += 2) sum +%= std.mem.readInt(u16, catalog[i..][0..2], .little);
    std.mem.writeInt(u16, catalog[28..30], 0 -% sum, .little);
    catalog[32] = boot_indicator;
    std.mem.writeInt(u16, catalog[38..40], 4, .little);
    std.mem.writeInt(u32, catalog[40..44], 0x1234, .little);
    return catalog;
}

test "a no-emulation ISOLINUX-style catalog" {
    const image = try parseCatalog(&testCatalog(0x88));
    try std.testing.expectEqual(Media.no_emulation, image.media);
    try std.testing.expectEqual(@as(u16, 0x7C0), image.load_segment);
    try std.testing.expectEqual(@as(u16, 4), image.sector_count);
    try std.testing.expectEqual(@as(u32, 0x1234), image.load_rba);
}

test "bad checksum, non-bootable entry, missing boot record" {
    var catalog = testCatalog(0x88);
    catalog[28] +%= 1;
    try std.testing.expectError(error.BadCatalog, parseCatalog(&catalog));
    try std.testing.expectError(error.NotBootable, parseCatalog(&testCatalog(0x00)));
    var descriptor = [_]u8{0} ** sector_bytes;
    try std.testing.expectError(error.NoBootRecord, catalogSector(&descriptor));
    @memcpy(descriptor[1..6], "CD001");
    descriptor[6] = 1;
    @memcpy(descriptor[7..30], "EL TORITO SPECIFICATION");
    std.mem.writeInt(u32, descriptor[0x47..0x4B], 19, .little);
    try std.testing.expectEqual(@as(u32, 19), try catalogSector(&descriptor));
}
