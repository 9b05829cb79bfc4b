//! Drives and INT 13h. Two controllers: PIIX IDE (legacy ports; bus-master DMA, or PIO with
//! `rep insw` when there is no bus master) and ICH9 AHCI (DMA straight into the caller's
//! buffer). Either way a request costs a handful of exits, not one per sector. ATA disks get
//! BIOS numbers 0x80.., ATAPI CD-ROMs 0xE0...
const std = @import("std");
const assert = @import("panic.zig").assert;
const io = @import("io.zig");
const bda = @import("bda.zig");
const pci = @import("pci.zig");
const main = @import("main.zig");
const platform = @import("platform");
const emulation = @import("emulation.zig");
const video = @import("video.zig");
const Frame = @import("frame.zig").Frame;
const Action = main.Action;

pub const Bus = enum { ide, ahci };
pub const Kind = enum { ata, atapi };

pub const Drive = struct {
    kind: Kind,
    bus: Bus,
    /// IDE: channel (0 primary, 1 secondary); AHCI: port.
    unit: u8,
    /// IDE: 0 master, 1 slave; AHCI: 0.
    position: u1,
    sectors: u64,
    sector_bytes: u32,
    lba48: bool,
    /// BIOS drive number (0x80.. or 0xE0..).
    number: u8 = 0,
    /// AHCI: the port's command list, FIS area and command table (in the high zone).
    command_list: u32 = 0,
    command_table: u32 = 0,
};

pub const max_drives = 12;
pub var drives: [max_drives]Drive = undefined;
pub var drive_count: u32 = 0;

const Error = error{ DeviceError, Timeout, BadRequest };

// ---------------------------------------------------------------------------------------------
// Discovery

pub fn init() void {
    drive_count = 0;
    ide_bus_master = @intCast(pci.barAddress(pci.piix_slot, pci.ide_function, 4));
    var channel: u8 = 0;
    while (channel < 2) : (channel += 1) {
        var position: u8 = 0;
        while (position < 2) : (position += 1) ideProbe(channel, @intCast(position));
    }
    ahciInit();
    numberDrives(null);
}

fn addDrive(drive: Drive) void {
    if (drive_count == max_drives) return;
    drives[drive_count] = drive;
    drive_count += 1;
}

/// Gives disks 0x80.. and CDs 0xE0.., `first` (a disk to boot from) taking 0x80.
pub fn numberDrives(first: ?*Drive) void {
    // An emulated El Torito hard disk is 80h: the real ones follow it.
    var next_disk: u8 = if (emulation.active != null and emulation.active.?.number == 0x80) 0x81 else 0x80;
    var next_cd: u8 = 0xE0;
    if (first) |drive| {
        assert(drive.kind == .ata);
        drive.number = next_disk;
        next_disk += 1;
    }
    for (drives[0..drive_count]) |*drive| {
        if (first != null and drive == first.?) continue;
        switch (drive.kind) {
            .ata => {
                drive.number = next_disk;
                next_disk += 1;
            },
            .atapi => {
                drive.number = next_cd;
                next_cd += 1;
            },
        }
    }
    io.write8(bda.hard_disk_count, next_disk - 0x80);
}

pub fn byNumber(number: u8) ?*Drive {
    for (drives[0..drive_count]) |*drive| if (drive.number == number) return drive;
    return null;
}

// ---------------------------------------------------------------------------------------------
// IDE (PIIX, legacy ports, PIO)

const ide_command_base = [2]u16{ platform.ide_primary.base, platform.ide_secondary.base };
const ide_control = [2]u16{ platform.ide_primary_control.base, platform.ide_secondary_control.base };
const status_busy: u8 = 0x80;
const status_ready: u8 = 0x40;
const status_drq: u8 = 0x08;
const status_error: u8 = 0x01;
const status_fault: u8 = 0x20;
const floating_bus: u8 = 0x7F;

const reg_data = 0;
const reg_features = 1;
const reg_count = 2;
const reg_lba_low = 3;
const reg_lba_mid = 4;
const reg_lba_high = 5;
const reg_device = 6;
const reg_command = 7;

/// Polls the status until BSY clears. vmctl's drives complete inside the command's OUT, so
/// this is one read in practice; the bound is for a hung device.
fn ideWait(base: u16) Error!u8 {
    var tries: u32 = 0;
    while (tries < 10_000_000) : (tries += 1) {
        const status = io.inb(base + reg_command);
        if (status & status_busy == 0) return status;
    }
    return error.Timeout;
}

fn ideSelect(channel: u8, position: u1, lba_bits: u8) void {
    io.outb(ide_command_base[channel] + reg_device, 0xA0 | 0x40 | @as(u8, position) << 4 | lba_bits);
}

fn ideProbe(channel: u8, position: u1) void {
    const base = ide_command_base[channel];
    // nIEN: the firmware polls; no IRQ 14/15 from these commands.
    io.outb(ide_control[channel], 0x02);
    ideSelect(channel, position, 0);
    const status = io.inb(base + reg_command);
    if (status == floating_bus) return;
    const mid = io.inb(base + reg_lba_mid);
    const high = io.inb(base + reg_lba_high);
    var identify: [256]u16 = undefined;
    if (mid == 0x14 and high == 0xEB) {
        io.outb(base + reg_command, 0xA1); // IDENTIFY PACKET DEVICE
        const after = ideWait(base) catch return;
        if (after & status_drq == 0) return;
        io.insw(base, &identify, 256);
        addDrive(.{ .kind = .atapi, .bus = .ide, .unit = channel, .position = position, .sectors = 0, .sector_bytes = 2048, .lba48 = false });
        return;
    }
    if (status & status_ready == 0) return;
    io.outb(base + reg_command, 0xEC); // IDENTIFY DEVICE
    const after = ideWait(base) catch return;
    if (after & (status_error | status_drq) != status_drq) return;
    io.insw(base, &identify, 256);
    addDrive(ataDrive(.ide, channel, position, &identify));
}

fn ataDrive(bus: Bus, unit: u8, position: u1, identify: *const [256]u16) Drive {
    const lba48 = identify[83] & (1 << 10) != 0;
    const sectors: u64 = if (lba48)
        @as(u64, identify[100]) | @as(u64, identify[101]) << 16 | @as(u64, identify[102]) << 32 | @as(u64, identify[103]) << 48
    else
        @as(u64, identify[60]) | @as(u64, identify[61]) << 16;
    return .{ .kind = .ata, .bus = bus, .unit = unit, .position = position, .sectors = sectors, .sector_bytes = 512, .lba48 = lba48 };
}

/// ATA opcodes for a drive: the 48-bit ("EXT") ones, or the 28-bit ones for an old drive.
const AtaCommands = struct { read_pio: u8, write_pio: u8, read_dma: u8, write_dma: u8, flush: u8 };
const lba48_commands = AtaCommands{ .read_pio = 0x24, .write_pio = 0x34, .read_dma = 0x25, .write_dma = 0x35, .flush = 0xEA };
const lba28_commands = AtaCommands{ .read_pio = 0x20, .write_pio = 0x30, .read_dma = 0xC8, .write_dma = 0xCA, .flush = 0xE7 };

fn ataCommands(drive: *const Drive) AtaCommands {
    return if (drive.lba48) lba48_commands else lba28_commands;
}

fn ideAtaTransfer(drive: *const Drive, lba: u64, count: u32, buffer: u32, write: bool) Error!void {
    assert(count >= 1 and count <= 256);
    const base = ide_command_base[drive.unit];
    if (lba + count > drive.sectors) return error.BadRequest;
    if (!drive.lba48 and lba + count > 1 << 28) return error.BadRequest;
    const commands = ataCommands(drive);
    _ = try ideWait(base);
    if (drive.lba48) {
        ideSelect(drive.unit, drive.position, 0);
        // The high-order bytes first: each register keeps the previous write as its HOB.
        io.outb(base + reg_count, @intCast((count >> 8) & 0xFF));
        io.outb(base + reg_lba_low, @truncate(lba >> 24));
        io.outb(base + reg_lba_mid, @truncate(lba >> 32));
        io.outb(base + reg_lba_high, @truncate(lba >> 40));
    } else {
        ideSelect(drive.unit, drive.position, @intCast((lba >> 24) & 0x0F));
    }
    io.outb(base + reg_count, @truncate(count));
    io.outb(base + reg_lba_low, @truncate(lba));
    io.outb(base + reg_lba_mid, @truncate(lba >> 8));
    io.outb(base + reg_lba_high, @truncate(lba >> 16));
    if (ide_bus_master != 0 and buffer % 2 == 0) {
        try busMasterPrepare(drive.unit, buffer, count * 512, !write);
        io.outb(base + reg_command, if (write) commands.write_dma else commands.read_dma);
        try busMasterRun(drive.unit, !write);
    } else {
        io.outb(base + reg_command, if (write) commands.write_pio else commands.read_pio);
        var sector: u32 = 0;
        while (sector < count) : (sector += 1) {
            const status = try ideWait(base);
            if (status & (status_error | status_fault) != 0 or status & status_drq == 0) return error.DeviceError;
            const address = buffer + sector * 512;
            if (write) io.outsw(base, @ptrFromInt(address), 256) else io.insw(base, @ptrFromInt(address), 256);
        }
        const status = try ideWait(base);
        if (status & (status_error | status_fault) != 0) return error.DeviceError;
    }
    if (write) {
        // INT 13h has no flush of its own: a write is durable when the call returns.
        io.outb(base + reg_command, commands.flush);
        _ = try ideWait(base);
    }
}

/// An ATAPI command with data in (READ(10) and the like), PIO, blocks as the drive sends them.
fn idePacket(drive: *const Drive, packet: *const [12]u8, buffer: u32, max_bytes: u32) Error!u32 {
    const base = ide_command_base[drive.unit];
    _ = try ideWait(base);
    ideSelect(drive.unit, drive.position, 0);
    const dma = ide_bus_master != 0 and buffer % 2 == 0 and max_bytes % 2 == 0;
    if (dma) try busMasterPrepare(drive.unit, buffer, max_bytes, true);
    io.outb(base + reg_features, @intFromBool(dma)); // DMA, or PIO
    // Byte count limit: the largest multiple of 2048 below 64 KiB.
    io.outb(base + reg_lba_mid, 0x00);
    io.outb(base + reg_lba_high, 0xF8);
    io.outb(base + reg_command, 0xA0);
    var status = try ideWait(base);
    if (status & status_drq == 0 or status & status_error != 0) return error.DeviceError;
    var words: [6]u16 = undefined;
    @memcpy(std.mem.sliceAsBytes(&words), packet);
    io.outsw(base, &words, 6);
    if (dma) {
        try busMasterRun(drive.unit, true);
        return max_bytes;
    }
    var done: u32 = 0;
    var blocks: u32 = 0;
    while (blocks < 65536) : (blocks += 1) {
        status = try ideWait(base);
        if (status & status_error != 0) return error.DeviceError;
        if (status & status_drq == 0) break;
        const bytes: u32 = @as(u32, io.inb(base + reg_lba_mid)) | @as(u32, io.inb(base + reg_lba_high)) << 8;
        if (bytes == 0 or done + bytes > max_bytes) return error.DeviceError;
        io.insw(base, @ptrFromInt(buffer + done), bytes / 2);
        done += bytes;
    }
    return done;
}

// PIIX bus-master DMA (BAR 4): one exit moves a whole request instead of one per sector or
// page. Per channel: BMIC (command) at +0, BMIS (status) at +2, BMIDTP (PRD table) at +4.
var ide_bus_master: u16 = 0;
const bmic_start: u8 = 0x01;
/// The controller writes memory (a read from the drive).
const bmic_to_memory: u8 = 0x08;
const bmis_active: u8 = 0x01;
const bmis_error: u8 = 0x02;
const bmis_interrupt: u8 = 0x04;

const Prd = extern struct { address: u32, bytes: u16, flags: u16 };
const prd_end_of_table: u16 = 0x8000;
/// Aligned to its size, so the table never crosses a 64 KiB boundary (the PIIX cannot).
var prd_table: [8]Prd align(64) = undefined;

/// Fills the PRD table for [buffer, buffer+bytes) (no region may cross 64 KiB) and loads the
/// channel's engine, stopped: the drive command comes next, then `busMasterRun`.
fn busMasterPrepare(channel: u8, buffer: u32, bytes: u32, to_memory: bool) Error!void {
    assert(bytes > 0 and bytes % 2 == 0);
    var count: u32 = 0;
    var address = buffer;
    const end = buffer + bytes;
    while (address < end) : (count += 1) {
        if (count == prd_table.len) return error.BadRequest;
        const boundary = (address & 0xFFFF_0000) + 0x1_0000;
        const piece = @min(end, boundary) - address;
        prd_table[count] = .{ .address = address, .bytes = @truncate(piece), .flags = 0 };
        address += piece;
    }
    prd_table[count - 1].flags = prd_end_of_table;
    const bm = ide_bus_master + @as(u16, channel) * 8;
    io.outb(bm, 0);
    io.outb(bm + 2, bmis_error | bmis_interrupt);
    io.outl(bm + 4, @intFromPtr(&prd_table));
    io.outb(bm, if (to_memory) bmic_to_memory else 0);
}

/// Starts the engine (the PIIX moves the data when both the drive and the start bit are there)
/// and waits for the drive.
fn busMasterRun(channel: u8, to_memory: bool) Error!void {
    const bm = ide_bus_master + @as(u16, channel) * 8;
    const direction: u8 = if (to_memory) bmic_to_memory else 0;
    io.outb(bm, direction | bmic_start);
    const status = ideWait(ide_command_base[channel]) catch |err| {
        io.outb(bm, direction);
        return err;
    };
    const bm_status = io.inb(bm + 2);
    io.outb(bm, direction);
    if (status & (status_error | status_fault) != 0 or bm_status & bmis_error != 0) return error.DeviceError;
}

// ---------------------------------------------------------------------------------------------
// AHCI (ICH9 at 00:03.0)

var abar: u32 = 0;

const ghc_ahci_enable: u32 = 1 << 31;
const port_base: u32 = 0x100;
const port_stride: u32 = 0x80;
const px_clb = 0x00;
const px_fb = 0x08;
const px_is = 0x10;
const px_cmd = 0x18;
const px_tfd = 0x20;
const px_sig = 0x24;
const px_ssts = 0x28;
const px_serr = 0x30;
const px_ci = 0x38;
const cmd_start: u32 = 1 << 0;
const cmd_fis_receive: u32 = 1 << 4;
const cmd_fis_running: u32 = 1 << 14;
const cmd_list_running: u32 = 1 << 15;
const is_task_file_error: u32 = 1 << 30;
/// Per port: command list (1 KiB, 1 KiB aligned), received FIS (256 B), command table (0x80
/// header and ACMD, then one PRD).
const port_memory_bytes: u32 = 1024 + 256 + 256;

fn portRegister(port: u8, offset: u32) u32 {
    return abar + port_base + @as(u32, port) * port_stride + offset;
}

fn ahciInit() void {
    var found: ?pci.Function = null;
    for (pci.functions[0..pci.function_count]) |f| {
        if (f.class == 0x010601) found = f;
    }
    const f = found orelse return;
    abar = pci.barAddress(f.device, f.function, 5);
    if (abar == 0) return;
    io.write32(abar + 0x04, io.read32(abar + 0x04) | ghc_ahci_enable);
    const implemented = io.read32(abar + 0x0C);
    var port: u8 = 0;
    while (port < 32) : (port += 1) {
        if (implemented & (@as(u32, 1) << @intCast(port)) == 0) continue;
        if (io.read32(portRegister(port, px_ssts)) & 0xF != 3) continue;
        const memory = main.highAlloc(port_memory_bytes, 1024) orelse return;
        if (!ahciStartPort(port, memory)) continue;
        const signature = io.read32(portRegister(port, px_sig));
        var drive = Drive{ .kind = .atapi, .bus = .ahci, .unit = port, .position = 0, .sectors = 0, .sector_bytes = 2048, .lba48 = false, .command_list = memory, .command_table = memory + 1024 + 256 };
        if (signature == 0xEB14_0101) {
            addDrive(drive);
            continue;
        }
        var identify: [256]u16 = undefined;
        drive.kind = .ata;
        const fis = hostToDevice(0xEC, 0, 0, 0);
        ahciCommand(&drive, &fis, null, @intFromPtr(&identify), 512, false) catch continue;
        var ata = ataDrive(.ahci, port, 0, &identify);
        ata.command_list = drive.command_list;
        ata.command_table = drive.command_table;
        addDrive(ata);
    }
}

fn ahciStartPort(port: u8, memory: u32) bool {
    const cmd_register = portRegister(port, px_cmd);
    var cmd = io.read32(cmd_register);
    if (cmd & (cmd_start | cmd_fis_receive) != 0) {
        io.write32(cmd_register, cmd & ~(cmd_start | cmd_fis_receive));
        var tries: u32 = 0;
        while (io.read32(cmd_register) & (cmd_list_running | cmd_fis_running) != 0) : (tries += 1) {
            if (tries > 1_000_000) return false;
        }
    }
    io.write32(portRegister(port, px_clb), memory);
    io.write32(portRegister(port, px_clb + 4), 0);
    io.write32(portRegister(port, px_fb), memory + 1024);
    io.write32(portRegister(port, px_fb + 4), 0);
    io.write32(portRegister(port, px_serr), 0xFFFF_FFFF);
    io.write32(portRegister(port, px_is), 0xFFFF_FFFF);
    cmd = io.read32(cmd_register);
    io.write32(cmd_register, cmd | cmd_fis_receive);
    io.write32(cmd_register, cmd | cmd_fis_receive | cmd_start);
    return true;
}

/// A Register Host-to-Device FIS with the command bit set.
fn hostToDevice(command: u8, features: u8, lba: u64, count: u16) [20]u8 {
    var fis = [_]u8{0} ** 20;
    fis[0] = 0x27;
    fis[1] = 0x80;
    fis[2] = command;
    fis[3] = features;
    fis[4] = @truncate(lba);
    fis[5] = @truncate(lba >> 8);
    fis[6] = @truncate(lba >> 16);
    fis[7] = 0x40; // LBA mode
    // 28-bit commands take LBA bits 24-27 from the device register.
    if (command == lba28_commands.read_dma or command == lba28_commands.write_dma) fis[7] |= @truncate((lba >> 24) & 0x0F);
    fis[8] = @truncate(lba >> 24);
    fis[9] = @truncate(lba >> 32);
    fis[10] = @truncate(lba >> 40);
    fis[12] = @truncate(count);
    fis[13] = @truncate(count >> 8);
    return fis;
}

/// Runs one command in slot 0 with one PRD covering [buffer, buffer+bytes).
fn ahciCommand(drive: *const Drive, fis: *const [20]u8, packet: ?*const [12]u8, buffer: u32, bytes: u32, write: bool) Error!void {
    assert(bytes > 0 and bytes % 2 == 0 and bytes <= 4 << 20);
    const port = drive.unit;
    const table = drive.command_table;
    @memset(io.bytes(table, 0x90), 0);
    @memcpy(io.bytes(table, 20), fis);
    if (packet) |p| @memcpy(io.bytes(table + 0x40, 12), p);
    io.write32(table + 0x80, buffer);
    io.write32(table + 0x84, 0);
    io.write32(table + 0x8C, bytes - 1);
    const flags: u32 = 5 | (if (packet != null) @as(u32, 1 << 5) else 0) | (if (write) @as(u32, 1 << 6) else 0);
    io.write32(drive.command_list, flags | 1 << 16);
    io.write32(drive.command_list + 4, 0);
    io.write32(drive.command_list + 8, table);
    io.write32(drive.command_list + 12, 0);
    io.write32(portRegister(port, px_is), 0xFFFF_FFFF);
    io.write32(portRegister(port, px_ci), 1);
    var tries: u32 = 0;
    while (io.read32(portRegister(port, px_ci)) & 1 != 0) : (tries += 1) {
        if (io.read32(portRegister(port, px_is)) & is_task_file_error != 0) break;
        if (tries > 10_000_000) return error.Timeout;
    }
    if (io.read32(portRegister(port, px_tfd)) & status_error != 0 or
        io.read32(portRegister(port, px_is)) & is_task_file_error != 0)
    {
        // Restart the port so the next command finds it idle.
        _ = ahciStartPort(port, drive.command_list);
        return error.DeviceError;
    }
}

// ---------------------------------------------------------------------------------------------
// Reads and writes, whichever the controller

/// Reads or writes `count` sectors of the drive's size at `lba` to/from physical `buffer`.
pub fn transfer(drive: *const Drive, lba: u64, count: u32, buffer: u32, write: bool) Error!void {
    if (count == 0) return;
    if (drive.kind == .atapi) {
        if (write) return error.BadRequest;
        return readCd(drive, lba, count, buffer);
    }
    if (lba + count > drive.sectors) return error.BadRequest;
    var done: u32 = 0;
    while (done < count) {
        const chunk: u32 = @min(count - done, 128);
        const address = buffer + done * 512;
        switch (drive.bus) {
            .ide => try ideAtaTransfer(drive, lba + done, chunk, address, write),
            .ahci => {
                const commands = ataCommands(drive);
                const fis = hostToDevice(if (write) commands.write_dma else commands.read_dma, 0, lba + done, @intCast(chunk));
                try ahciCommand(drive, &fis, null, address, chunk * 512, write);
            },
        }
        done += chunk;
    }
}

fn readCd(drive: *const Drive, lba: u64, count: u32, buffer: u32) Error!void {
    var done: u32 = 0;
    while (done < count) {
        // 31 blocks (62 KiB) per command: under the IDE byte-count limit and one PRD.
        const chunk: u32 = @min(count - done, 31);
        const block: u32 = @intCast(lba + done);
        const packet = [12]u8{ 0x28, 0, @truncate(block >> 24), @truncate(block >> 16), @truncate(block >> 8), @truncate(block), 0, 0, @intCast(chunk), 0, 0, 0 };
        try packetRead(drive, &packet, buffer + done * 2048, chunk * 2048);
        done += chunk;
    }
}

/// A data-in ATAPI command. A drive reports UNIT ATTENTION once after reset or a media change:
/// REQUEST SENSE clears it and the command is tried again.
fn packetRead(drive: *const Drive, packet: *const [12]u8, buffer: u32, bytes: u32) Error!void {
    var attempt: u32 = 0;
    while (true) : (attempt += 1) {
        packetOnce(drive, packet, buffer, bytes) catch |err| {
            if (attempt == 3) return err;
            const sense_packet = [12]u8{ 0x03, 0, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0 };
            packetOnce(drive, &sense_packet, @intFromPtr(&sense), 18) catch {};
            continue;
        };
        return;
    }
}

var sense: [18]u8 align(4) = undefined;

fn packetOnce(drive: *const Drive, packet: *const [12]u8, buffer: u32, bytes: u32) Error!void {
    switch (drive.bus) {
        .ide => {
            const got = try idePacket(drive, packet, buffer, bytes);
            if (got != bytes) return error.DeviceError;
        },
        .ahci => {
            const fis = hostToDevice(0xA0, 1, @as(u64, bytes) << 8, 0);
            try ahciCommand(drive, &fis, packet, buffer, bytes, false);
        },
    }
}

// ---------------------------------------------------------------------------------------------
// INT 13h

/// Translated CHS geometry for the legacy calls: 16 or 255 heads, 63 sectors per track.
const Geometry = struct { cylinders: u32, heads: u32, sectors: u32 };

fn geometry(drive: *const Drive) Geometry {
    const heads: u32 = if (drive.sectors <= 1024 * 16 * 63) 16 else 255;
    const cylinders: u32 = @intCast(@min(drive.sectors / (heads * 63), 1024));
    return .{ .cylinders = @max(cylinders, 1), .heads = heads, .sectors = 63 };
}

/// The El Torito state INT 13h 4Bh reports: set by the CD boot.
pub var cd_boot: struct { drive: u8 = 0, image_lba: u32 = 0, load_segment: u16 = 0, sector_count: u16 = 0 } = .{};

var last_status: u8 = 0;

fn finish(frame: *Frame, status: u8) Action {
    last_status = status;
    if (status == 0) {
        frame.setAh(0);
        frame.ok();
    } else frame.fail(status);
    return .@"return";
}

pub fn int13(frame: *Frame) Action {
    const number = frame.dl();
    const function = frame.ah();
    if (emulation.active) |*emulated| {
        if (emulated.number == number) return emulation.int13(frame, emulated);
    }
    if (function == 0x08 and number >= 0x80 and number < 0xE0 and byNumber(number) == null) {
        return finish(frame, 0x01);
    }
    const drive = byNumber(number) orelse {
        // Floppies and absent drives: reset "works", the rest fails.
        if (function == 0x00) return finish(frame, 0);
        return finish(frame, 0x01);
    };
    switch (function) {
        0x00, 0x0D => return finish(frame, 0), // reset
        0x01 => {
            frame.setAl(last_status);
            return finish(frame, 0);
        },
        0x02, 0x03, 0x04 => return chsCall(frame, drive),
        0x08 => {
            if (drive.kind == .atapi) return finish(frame, 0x01);
            const g = geometry(drive);
            // The highest usable cylinder: the last one is kept back for diagnostics, as PC
            // BIOSes (and SeaBIOS) report it.
            const last_cylinder = g.cylinders -| 2;
            frame.setCh(@truncate(last_cylinder));
            frame.setCl(@intCast(g.sectors | ((last_cylinder >> 2) & 0xC0)));
            frame.setDh(@intCast(g.heads - 1));
            frame.setDl(io.read8(bda.hard_disk_count));
            frame.setAl(0);
            frame.setBl(0);
            return finish(frame, 0);
        },
        0x10, 0x11, 0x14, 0x44, 0x47 => return finish(frame, 0), // ready, recalibrate, verify, seek
        0x15 => {
            if (drive.kind == .atapi) {
                frame.setAh(0x02);
            } else {
                frame.setAh(0x03);
                const sectors: u32 = @intCast(@min(drive.sectors, 0xFFFF_FFFF));
                frame.setCx(@intCast(sectors >> 16));
                frame.setDx(@truncate(sectors));
            }
            last_status = 0;
            frame.ok();
            return .@"return";
        },
        0x41 => {
            if (frame.bx() != 0x55AA) return finish(frame, 0x01);
            frame.setBx(0xAA55);
            frame.setCx(0x0007); // extended access, removable-media functions, EDD
            frame.setAh(0x30);
            last_status = 0;
            frame.ok();
            return .@"return";
        },
        0x42, 0x43 => return extendedCall(frame, drive, function == 0x43),
        0x48 => return parameters(frame, drive),
        0x4B => return cdStatus(frame, drive),
        0x45, 0x46, 0x49 => return finish(frame, 0), // lock, eject (ignored), media changed: no
        else => return finish(frame, 0x01),
    }
}

fn chsCall(frame: *Frame, drive: *Drive) Action {
    if (drive.kind != .ata) return finish(frame, 0x01);
    const count: u32 = frame.al();
    const cylinder: u32 = @as(u32, frame.ch()) | (@as(u32, frame.cl()) & 0xC0) << 2;
    const sector: u32 = frame.cl() & 0x3F;
    const head: u32 = frame.dh();
    const g = geometry(drive);
    if (count == 0 or sector == 0 or sector > g.sectors or head >= g.heads) return finish(frame, 0x01);
    const lba = (@as(u64, cylinder) * g.heads + head) * g.sectors + sector - 1;
    if (frame.ah() == 0x04) return finish(frame, 0);
    const buffer = io.linear(frame.es, frame.bx());
    transfer(drive, lba, count, buffer, frame.ah() == 0x03) catch {
        frame.setAl(0);
        return finish(frame, 0x04);
    };
    frame.setAl(@intCast(count));
    return finish(frame, 0);
}

fn extendedCall(frame: *Frame, drive: *Drive, write: bool) Action {
    const packet = io.linear(frame.ds, frame.si());
    const size = io.read8(packet);
    if (size < 0x10) return finish(frame, 0x01);
    const count: u32 = io.read16(packet + 2);
    const offset = io.read16(packet + 4);
    const segment = io.read16(packet + 6);
    const lba = @as(u64, io.read32(packet + 8)) | @as(u64, io.read32(packet + 12)) << 32;
    var buffer = io.linear(segment, offset);
    if (offset == 0xFFFF and segment == 0xFFFF and size >= 0x18) buffer = io.read32(packet + 16);
    if (count == 0) return finish(frame, 0);
    if (buffer == 0 or count > 0x4000) return finish(frame, 0x01);
    transfer(drive, lba, count, buffer, write) catch {
        io.write16(packet + 2, 0);
        return finish(frame, 0x0C);
    };
    return finish(frame, 0);
}

fn parameters(frame: *Frame, drive: *Drive) Action {
    const result = io.linear(frame.ds, frame.si());
    const size = io.read16(result);
    if (size < 0x1A) return finish(frame, 0x01);
    const g = geometry(drive);
    const is_cd = drive.kind == .atapi;
    io.write16(result, 0x1A);
    io.write16(result + 2, if (is_cd) 0x0074 else 0x0002); // CHS valid / removable, lockable
    io.write32(result + 4, if (is_cd) 0xFFFF_FFFF else g.cylinders);
    io.write32(result + 8, if (is_cd) 0xFFFF_FFFF else g.heads);
    io.write32(result + 12, if (is_cd) 0xFFFF_FFFF else g.sectors);
    const sectors: u64 = if (is_cd) 0xFFFF_FFFF_FFFF_FFFF else drive.sectors;
    io.write32(result + 16, @truncate(sectors));
    io.write32(result + 20, @truncate(sectors >> 32));
    io.write16(result + 24, @intCast(drive.sector_bytes));
    if (size >= 0x1E) {
        io.write16(result, 0x1E);
        io.write32(result + 26, 0xFFFF_FFFF); // no DPTE
    }
    return finish(frame, 0);
}

/// INT 13h 4Bh: El Torito's "terminate emulation / get status" with its specification packet.
fn cdStatus(frame: *Frame, drive: *Drive) Action {
    if (frame.al() != 0x00 and frame.al() != 0x01) return finish(frame, 0x01);
    if (drive.kind != .atapi) return finish(frame, 0x01);
    const packet = io.linear(frame.ds, frame.si());
    @memset(io.bytes(packet, 0x13), 0);
    io.write8(packet, 0x13);
    io.write8(packet + 1, 0x00); // no emulation
    io.write8(packet + 2, drive.number);
    io.write8(packet + 3, drive.unit);
    io.write32(packet + 4, cd_boot.image_lba);
    io.write16(packet + 8, if (drive.bus == .ide) drive.position else 0);
    io.write16(packet + 12, cd_boot.load_segment);
    io.write16(packet + 14, cd_boot.sector_count);
    return finish(frame, 0);
}

pub fn describe(drive: *const Drive, buffer: []u8) []const u8 {
    const what = if (drive.kind == .atapi) "DVD/CD" else "Hard Disk";
    return switch (drive.bus) {
        .ide => std.fmt.bufPrint(buffer, "{s} (IDE {s} {s})", .{
            what, if (drive.unit == 0) "primary" else "secondary", if (drive.position == 0) "master" else "slave",
        }) catch what,
        .ahci => std.fmt.bufPrint(buffer, "{s} (AHCI port {d})", .{ what, drive.unit }) catch what,
    };
}
