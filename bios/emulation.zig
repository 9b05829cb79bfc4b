//! El Torito floppy and hard disk emulation: the boot image on the CD answers INT 13h as drive
//! 00h (a 1.2/1.44/2.88 MB diskette) or 80h (a hard disk, the real ones moving up by one), in
//! 512-byte sectors read from the CD's 2048-byte blocks. Read-only, as a CD is.
const std = @import("std");
const assert = @import("panic.zig").assert;
const io = @import("io.zig");
const bda = @import("bda.zig");
const disk = @import("disk.zig");
const eltorito = @import("eltorito.zig");
const Frame = @import("frame.zig").Frame;
const Action = @import("main.zig").Action;

pub const Emulated = struct {
    cd: *disk.Drive,
    media: eltorito.Media,
    /// The BIOS number the image answers as: 00h or 80h.
    number: u8,
    /// The image's first CD block.
    image_lba: u32,
    load_segment: u16,
    load_count: u16,
    cylinders: u32,
    heads: u32,
    sectors_per_track: u32,
};

pub var active: ?Emulated = null;

var block: [eltorito.sector_bytes]u8 align(16) = undefined;
var block_lba: ?u32 = null;

const sectors_per_block = eltorito.sector_bytes / 512;

/// Geometry of an emulated diskette, by media type.
fn floppyGeometry(media: eltorito.Media) ?[3]u32 {
    return switch (media) {
        .floppy_1_2m => .{ 80, 2, 15 },
        .floppy_1_44m => .{ 80, 2, 18 },
        .floppy_2_88m => .{ 80, 2, 36 },
        else => null,
    };
}

/// Starts emulating `image` from `cd`; for a hard disk image the geometry comes from its MBR's
/// first partition entry (the end head and sector), as El Torito asks.
pub fn start(cd: *disk.Drive, image: eltorito.BootImage) bool {
    assert(image.media != .no_emulation);
    block_lba = null;
    var emulated = Emulated{
        .cd = cd,
        .media = image.media,
        .number = 0x00,
        .image_lba = image.load_rba,
        .load_segment = image.load_segment,
        .load_count = @max(image.sector_count, 1),
        .cylinders = 0,
        .heads = 0,
        .sectors_per_track = 0,
    };
    if (floppyGeometry(image.media)) |g| {
        emulated.cylinders = g[0];
        emulated.heads = g[1];
        emulated.sectors_per_track = g[2];
        // Equipment word: one diskette drive (bit 0; bits 6-7 = count - 1).
        io.write16(bda.equipment, io.read16(bda.equipment) | 1);
    } else if (image.media == .hard_disk) {
        var mbr: [512]u8 = undefined;
        readSectors(&emulated, 0, 1, @intFromPtr(&mbr)) catch return false;
        const entry = mbr[446..462];
        const heads: u32 = @as(u32, entry[5]) + 1;
        const sectors: u32 = entry[6] & 0x3F;
        const cylinders: u32 = (@as(u32, entry[6] & 0xC0) << 2 | entry[7]) + 1;
        if (mbr[510] != 0x55 or mbr[511] != 0xAA or sectors == 0) return false;
        emulated.number = 0x80;
        emulated.heads = heads;
        emulated.sectors_per_track = sectors;
        emulated.cylinders = cylinders;
    } else return false;
    active = emulated;
    return true;
}

/// Reads `count` 512-byte sectors of the image from `sector` to physical `buffer`, a CD block
/// at a time (the last block read is kept: a loader reading sector by sector costs one block).
fn readSectors(e: *const Emulated, sector: u32, count: u32, buffer: u32) !void {
    var index: u32 = 0;
    while (index < count) : (index += 1) {
        const virtual = sector + index;
        const lba = e.image_lba + virtual / sectors_per_block;
        if (block_lba != lba) {
            block_lba = null;
            try disk.transfer(e.cd, lba, 1, @intFromPtr(&block), false);
            block_lba = lba;
        }
        const offset = (virtual % sectors_per_block) * 512;
        @memcpy(io.bytes(buffer + index * 512, 512), block[offset..][0..512]);
    }
}

/// Loads the boot image's first `load_count` sectors to its segment.
pub fn load(e: *const Emulated) bool {
    const address = @as(u32, e.load_segment) * 16;
    readSectors(e, 0, e.load_count, address) catch return false;
    return true;
}

fn finish(frame: *Frame, status: u8) Action {
    if (status == 0) {
        frame.setAh(0);
        frame.ok();
    } else frame.fail(status);
    return .@"return";
}

/// INT 13h for the emulated drive.
pub fn int13(frame: *Frame, e: *Emulated) Action {
    const total = e.cylinders * e.heads * e.sectors_per_track;
    switch (frame.ah()) {
        0x00, 0x0D, 0x10, 0x11, 0x14, 0x47 => return finish(frame, 0),
        0x01 => {
            frame.setAl(0);
            return finish(frame, 0);
        },
        0x02, 0x04 => {
            const count: u32 = frame.al();
            const cylinder: u32 = @as(u32, frame.ch()) | (@as(u32, frame.cl()) & 0xC0) << 2;
            const sector: u32 = frame.cl() & 0x3F;
            const head: u32 = frame.dh();
            if (count == 0 or sector == 0 or sector > e.sectors_per_track or head >= e.heads or cylinder >= e.cylinders) {
                return finish(frame, 0x04);
            }
            const lba = (cylinder * e.heads + head) * e.sectors_per_track + sector - 1;
            if (lba + count > total) return finish(frame, 0x04);
            if (frame.ah() == 0x02) {
                readSectors(e, lba, count, io.linear(frame.es, frame.bx())) catch return finish(frame, 0x20);
            }
            frame.setAl(@intCast(count));
            return finish(frame, 0);
        },
        0x03, 0x05, 0x43 => return finish(frame, 0x03), // write protected
        0x08 => {
            const last_cylinder = e.cylinders - 1;
            frame.setCh(@truncate(last_cylinder));
            frame.setCl(@intCast(e.sectors_per_track | ((last_cylinder >> 2) & 0xC0)));
            frame.setDh(@intCast(e.heads - 1));
            if (e.number == 0x00) {
                frame.setBl(switch (e.media) {
                    .floppy_1_2m => 0x02,
                    .floppy_2_88m => 0x06,
                    else => 0x04,
                });
                frame.setDl(1);
                frame.es = 0;
                frame.edi &= 0xFFFF_0000;
            } else {
                frame.setDl(io.read8(bda.hard_disk_count));
            }
            frame.setAl(0);
            return finish(frame, 0);
        },
        0x15 => {
            frame.setAh(if (e.number == 0x00) 0x01 else 0x03);
            if (e.number != 0x00) {
                frame.setCx(@intCast(total >> 16));
                frame.setDx(@truncate(total));
            }
            frame.ok();
            return .@"return";
        },
        0x41 => {
            if (e.number == 0x00 or frame.bx() != 0x55AA) return finish(frame, 0x01);
            frame.setBx(0xAA55);
            frame.setCx(0x0001);
            frame.setAh(0x30);
            frame.ok();
            return .@"return";
        },
        0x42 => {
            if (e.number == 0x00) return finish(frame, 0x01);
            const packet = io.linear(frame.ds, frame.si());
            const count: u32 = io.read16(packet + 2);
            const buffer = io.linear(io.read16(packet + 6), io.read16(packet + 4));
            const lba = io.read32(packet + 8);
            if (lba + count > total) return finish(frame, 0x04);
            readSectors(e, lba, count, buffer) catch {
                io.write16(packet + 2, 0);
                return finish(frame, 0x20);
            };
            return finish(frame, 0);
        },
        0x4B => {
            if (frame.al() > 0x01) return finish(frame, 0x01);
            const packet = io.linear(frame.ds, frame.si());
            @memset(io.bytes(packet, 0x13), 0);
            io.write8(packet, 0x13);
            io.write8(packet + 1, @intFromEnum(e.media));
            io.write8(packet + 2, e.number);
            io.write8(packet + 3, e.cd.unit);
            io.write32(packet + 4, e.image_lba);
            io.write16(packet + 12, e.load_segment);
            io.write16(packet + 14, e.load_count);
            io.write8(packet + 16, @truncate(e.cylinders - 1));
            io.write8(packet + 17, @intCast(e.sectors_per_track | (((e.cylinders - 1) >> 2) & 0xC0)));
            io.write8(packet + 18, @intCast(e.heads - 1));
            // AL=00h also ends the emulation: the drive number is the hard disk's again.
            if (frame.al() == 0x00) active = null;
            return finish(frame, 0);
        },
        else => return finish(frame, 0x01),
    }
}
