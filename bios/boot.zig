//! INT 19h: choose the boot device and load its boot code. The order is fw_cfg's `bootorder`
//! (vmctl writes it from --boot-order, with the kernel first under --kernel), then the CMOS
//! boot order (0x3D/0x38, QEMU's "cad" by default: disk, floppy, CD), then anything left.
const std = @import("std");
const assert = @import("panic.zig").assert;
const io = @import("io.zig");
const fw_cfg = @import("fw_cfg.zig");
const disk = @import("disk.zig");
const video = @import("video.zig");
const eltorito = @import("eltorito.zig");
const emulation = @import("emulation.zig");
const bootorder = @import("bootorder.zig");
const main = @import("main.zig");
const Action = main.Action;

/// The registers entry.S loads for the jump into boot code (its `corevm_boot`).
const BootRegisters = extern struct {
    cs: u16,
    ip: u16,
    ss: u16,
    sp: u16,
    ds: u16,
    flags: u16,
    edx: u32,
};
extern var corevm_boot: BootRegisters;

/// entry.S's 16-bit section is linked at offsets inside segment F000.
fn bootRegisters() *volatile BootRegisters {
    return @ptrFromInt(@as(u32, @intFromPtr(&corevm_boot)) + 0xF_0000);
}

const flags_interrupts: u16 = 0x0202;
const flags_no_interrupts: u16 = 0x0002;

const Candidate = union(enum) { linux, drive: *disk.Drive };

pub fn int19() Action {
    var tried = [_]bool{false} ** disk.max_drives;
    var linux_tried = false;
    if (fw_cfg.findFile("bootorder")) |file| {
        var text: [1024]u8 = undefined;
        const len = @min(file.size, text.len);
        fw_cfg.read(file.select, text[0..len]);
        const order = bootorder.parse(text[0..len]);
        for (order.slice()) |target| {
            switch (target) {
                .linux => {
                    if (linux_tried) continue;
                    linux_tried = true;
                    if (bootLinux()) return .boot;
                },
                .ide => |ide| if (findDrive(.ide, ide.channel, ide.position)) |index| {
                    if (tried[index]) continue;
                    tried[index] = true;
                    if (bootDrive(&disk.drives[index])) return .boot;
                },
                .ahci => |ahci| if (findDrive(.ahci, ahci.port, 0)) |index| {
                    if (tried[index]) continue;
                    tried[index] = true;
                    if (bootDrive(&disk.drives[index])) return .boot;
                },
            }
        }
    }
    if (!linux_tried) {
        linux_tried = true;
        if (bootLinux()) return .boot;
    }
    // CMOS: nibbles 1 floppy, 2 hard disk, 3 CD-ROM; first device in 0x3D's low nibble.
    const order = io.cmosRead(0x3D);
    const third = io.cmosRead(0x38) >> 4;
    const kinds = [_]u8{ order & 0xF, order >> 4, third, 3, 2 };
    for (kinds) |code| {
        const kind: disk.Kind = switch (code) {
            2 => .ata,
            3 => .atapi,
            else => continue,
        };
        for (disk.drives[0..disk.drive_count], 0..) |*drive, index| {
            if (drive.kind != kind or tried[index]) continue;
            tried[index] = true;
            if (bootDrive(drive)) return .boot;
        }
    }
    video.print("No bootable device.\n");
    return .halt;
}

fn findDrive(bus: disk.Bus, unit: u8, position: u1) ?usize {
    for (disk.drives[0..disk.drive_count], 0..) |drive, index| {
        if (drive.bus == bus and drive.unit == unit and drive.position == position) return index;
    }
    return null;
}

fn bootDrive(drive: *disk.Drive) bool {
    var name: [48]u8 = undefined;
    video.printf("corevm: booting from {s}...\n", .{disk.describe(drive, &name)});
    return switch (drive.kind) {
        .ata => bootDisk(drive),
        .atapi => bootCd(drive),
    };
}

/// MBR: sector 0 at 0000:7C00 with the 55AA signature, DL = 0x80 (this disk goes first).
fn bootDisk(drive: *disk.Drive) bool {
    disk.numberDrives(drive);
    const load: u32 = 0x7C00;
    disk.transfer(drive, 0, 1, load, false) catch {
        video.print("corevm: cannot read the boot sector\n");
        return false;
    };
    if (io.read16(load + 510) != 0xAA55) {
        video.print("corevm: no boot signature on the disk\n");
        return false;
    }
    jump(0, 0x7C00, 0, drive.number, flags_interrupts);
    main.debugTiming("the boot sector");
    return true;
}

var cd_sector: [eltorito.sector_bytes]u8 align(16) = undefined;

/// El Torito, no emulation: the boot image at its load segment, entered at segment:0.
fn bootCd(drive: *disk.Drive) bool {
    disk.numberDrives(null);
    disk.transfer(drive, eltorito.boot_record_sector, 1, @intFromPtr(&cd_sector), false) catch {
        video.print("corevm: cannot read the CD\n");
        return false;
    };
    const catalog = eltorito.catalogSector(&cd_sector) catch {
        video.print("corevm: the CD is not bootable (no El Torito boot record)\n");
        return false;
    };
    disk.transfer(drive, catalog, 1, @intFromPtr(&cd_sector), false) catch return false;
    const image = eltorito.parseCatalog(&cd_sector) catch |err| {
        video.printf("corevm: bad El Torito boot catalog: {s}\n", .{@errorName(err)});
        return false;
    };
    if (image.media != .no_emulation) return bootEmulated(drive, image);
    const count = @max(image.sector_count, 1);
    const load = @as(u32, image.load_segment) * 16;
    const blocks = (@as(u32, count) * 512 + eltorito.sector_bytes - 1) / eltorito.sector_bytes;
    if (load < 0x500 or load + blocks * eltorito.sector_bytes > main.ebda_start) return false;
    disk.transfer(drive, image.load_rba, blocks, load, false) catch return false;
    disk.cd_boot = .{ .drive = drive.number, .image_lba = image.load_rba, .load_segment = image.load_segment, .sector_count = count };
    jump(image.load_segment, 0, 0, drive.number, flags_interrupts);
    main.debugTiming("the CD boot image");
    return true;
}

/// El Torito floppy or hard disk emulation: the image answers as drive 00h or 80h, and its
/// first sector(s) run at its load segment (07C0h) with DL set to that drive.
fn bootEmulated(drive: *disk.Drive, image: eltorito.BootImage) bool {
    if (!emulation.start(drive, image)) {
        video.print("corevm: the El Torito emulated image is not usable\n");
        return false;
    }
    const emulated = &emulation.active.?;
    // Counts an emulated hard disk in the BDA too: numbering starts after it.
    disk.numberDrives(null);
    if (!emulation.load(emulated)) {
        emulation.active = null;
        return false;
    }
    jump(image.load_segment, 0, 0, emulated.number, flags_interrupts);
    main.debugTiming("the emulated boot image");
    return true;
}

/// Linux from fw_cfg (what QEMU's linuxboot_dma.bin does): setup code, kernel, command line
/// and initrd go where vmctl chose (native/boot/linux.zig prepareFirmwareBoot patched the
/// header), then the real-mode setup entry at setup segment + 0x20, offset 0.
fn bootLinux() bool {
    const kernel_size = fw_cfg.readU32(fw_cfg.key.kernel_size);
    if (kernel_size == 0) return false;
    video.print("corevm: booting Linux from fw_cfg...\n");
    const setup_address = fw_cfg.readU32(fw_cfg.key.setup_addr);
    const setup_size = fw_cfg.readU32(fw_cfg.key.setup_size);
    const kernel_address = fw_cfg.readU32(fw_cfg.key.kernel_addr);
    const cmdline_address = fw_cfg.readU32(fw_cfg.key.cmdline_addr);
    const cmdline_size = fw_cfg.readU32(fw_cfg.key.cmdline_size);
    const initrd_address = fw_cfg.readU32(fw_cfg.key.initrd_addr);
    const initrd_size = fw_cfg.readU32(fw_cfg.key.initrd_size);
    if (setup_address < 0x1000 or setup_address % 16 != 0 or setup_address + setup_size > 0x9_0000 or
        cmdline_address <= setup_address)
    {
        video.print("corevm: the fw_cfg Linux items make no sense\n");
        return false;
    }
    fw_cfg.readTo(fw_cfg.key.setup_data, setup_address, setup_size);
    fw_cfg.readTo(fw_cfg.key.kernel_data, kernel_address, kernel_size);
    fw_cfg.readTo(fw_cfg.key.cmdline_data, cmdline_address, cmdline_size);
    if (initrd_size != 0) fw_cfg.readTo(fw_cfg.key.initrd_data, initrd_address, initrd_size);
    const segment: u16 = @intCast(setup_address >> 4);
    // The stack ends just below the command line, inside the setup segment's 64 KiB.
    const stack_top: u32 = @min(cmdline_address - setup_address, 0x1_0000) - 16;
    assert(stack_top <= 0xFFFF);
    jump(segment + 0x20, 0, segment, 0, flags_no_interrupts);
    const registers = bootRegisters();
    registers.ss = segment;
    registers.sp = @intCast(stack_top);
    main.debugTiming("Linux");
    return true;
}

/// Sets up entry.S's jump: CS:IP, DS=ES=FS=GS=SS=`data_segment`, DL=`drive`.
fn jump(cs: u16, ip: u16, data_segment: u16, drive: u8, flags: u16) void {
    const registers = bootRegisters();
    registers.cs = cs;
    registers.ip = ip;
    registers.ds = data_segment;
    registers.ss = data_segment;
    registers.sp = if (data_segment == 0) 0x7C00 else 0xFFF0;
    registers.flags = flags;
    registers.edx = drive;
}
