//! ATA drives as command sets, apart from the controller that carries them: a hard disk (the
//! general and 48-bit feature sets of ATA/ATAPI-7, ACS where they differ) and a CD/DVD-ROM (the
//! PACKET feature set of ATA/ATAPI-7 carrying SPC/MMC commands, as SFF-8020 and INF-8090 describe
//! them). A drive does no file I/O: its medium is a `Backend`, which the VM adapts from a disk
//! image (block.zig's Image) and tests fill from memory.
//!
//! # The seam between a drive and its transport
//!
//! A transport is what a guest programs: IDE's task file registers and bus-master DMA (ide.zig),
//! and later AHCI's FISes and PRDTs. The transport owns the registers the host writes, the path
//! to guest memory and the interrupt line; a `Drive` owns everything on the far side of the cable:
//! the command set, its state, and the medium. Every call below is made under the transport's
//! lock, and one drive belongs to one transport.
//!
//!   1. `execute(TaskFile) Outcome`: the host issued a command. A `TaskFile` holds the registers
//!      as a Host-to-Device Register FIS does: 16-bit features and count and a 48-bit LBA whose
//!      high bytes are the "previous" (HOB) values, so IDE and AHCI build it the same way.
//!      `execute` always starts afresh: whatever the drive was doing is dropped.
//!   2. The `Outcome` says what the bus does next, and whether the drive asserts INTRQ now
//!      (`interrupt`; AHCI: the I bit of the FIS that reports it):
//!        .idle     the command is over; `registers` hold its result (a D2H Register FIS).
//!        .packet   the drive wants the 12-byte ATAPI command packet (`writeData`).
//!        .pio_in   one PIO DRQ block of `bytes` bytes leaves the drive (`readData`).
//!        .pio_out  one PIO DRQ block of `bytes` bytes enters the drive (`writeData`).
//!        .dma_in   the whole rest of the transfer, `bytes` bytes, leaves by DMA.
//!        .dma_out  the whole rest of the transfer, `bytes` bytes, enters by DMA.
//!      For PIO blocks `registers` already show DRQ (and for ATAPI the interrupt reason and byte
//!      count) as the host sees them while the block waits.
//!   3. `readData(out)` / `writeData(data)` move bytes of the current block (PIO) or transfer
//!      (DMA) in chunks of any size up to `remainingBytes()`: a PIO transport moves a block at
//!      once through its buffer, a DMA engine moves one PRD region at a time straight to or from
//!      guest RAM. `false` means the drive failed (a medium error): it takes no more data.
//!   4. `finishData() Outcome`: the block or transfer has moved, or a data call failed: the
//!      drive goes on to its next phase (the next block, the command's result, or an error).
//!   5. `abortData() Outcome`: the transport could not move the data (a bad PRD, a PRDT shorter
//!      than the transfer). The command ends with an abort error and an interrupt.
//!   `reset()` is a software reset (SRST, COMRESET): the command is dropped and the signature
//!   (ATA 01/01/00/00, ATAPI 01/01/14/EB in count and LBA low/mid/high) is posted.
//!
//! A PIO block is at most `max_pio_block_bytes`; responses to non-data commands and data of
//! any length come through the same calls, so a transport needs no knowledge of the command set.
//!
//! Choices: disk CHS addressing is implemented (translated through the current geometry:
//! 16 heads and 63 sectors by default, or what INITIALIZE DEVICE PARAMETERS set); READ VERIFY
//! checks the range but reads nothing; SLEEP behaves as STANDBY (no reset needed to wake); the
//! CD-ROM reports UNIT ATTENTION (medium may have changed) once after a medium arrives.
const std = @import("std");
const assert = std.debug.assert;

/// Where a drive's sectors live. Calls never cross the medium's end; `out` and `data` are
/// whole sectors. Errors are reported, never raised: the drive turns them into ATA errors.
pub const Backend = struct {
    context: *anyopaque,
    /// 512 for disks, 2048 for CD-ROMs.
    sector_bytes: u32,
    sector_count: u64,
    read_only: bool,
    /// False: an I/O error.
    readFn: *const fn (context: *anyopaque, sector: u64, out: []u8) bool,
    writeFn: *const fn (context: *anyopaque, sector: u64, data: []const u8) bool,
    flushFn: *const fn (context: *anyopaque) bool,
    /// Optional scatter/gather forms of readFn/writeFn: consecutive sectors into or from up to
    /// `max_regions` whole-sector regions, in order (a DMA transfer's guest pages in one call).
    readRegionsFn: ?*const fn (context: *anyopaque, sector: u64, regions: []const []u8) bool = null,
    writeRegionsFn: ?*const fn (context: *anyopaque, sector: u64, regions: []const []const u8) bool = null,

    fn read(self: Backend, sector: u64, out: []u8) bool {
        self.checkRange(sector, out.len);
        return self.readFn(self.context, sector, out);
    }

    fn write(self: Backend, sector: u64, data: []const u8) bool {
        assert(!self.read_only);
        self.checkRange(sector, data.len);
        return self.writeFn(self.context, sector, data);
    }

    fn flush(self: Backend) bool {
        return self.flushFn(self.context);
    }

    /// The sector count of whole-sector regions, or null when one is not whole sectors.
    fn regionSectors(self: Backend, regions: []const []const u8) ?u64 {
        var bytes: u64 = 0;
        for (regions) |region| {
            if (region.len == 0 or region.len % self.sector_bytes != 0) return null;
            bytes += region.len;
        }
        return bytes / self.sector_bytes;
    }

    fn checkRange(self: Backend, sector: u64, len: usize) void {
        assert(len > 0 and len % self.sector_bytes == 0);
        assert(sector < self.sector_count and len / self.sector_bytes <= self.sector_count - sector);
    }
};

/// Test double for a backend: sectors in memory, with counters and switchable failures.
pub const MemoryBackend = struct {
    bytes: []u8,
    sector_bytes: u32,
    read_only: bool = false,
    fail_reads: bool = false,
    fail_writes: bool = false,
    fail_flushes: bool = false,
    reads: u32 = 0,
    writes: u32 = 0,
    flushes: u32 = 0,

    pub fn backend(self: *MemoryBackend) Backend {
        assert(self.bytes.len % self.sector_bytes == 0);
        return .{
            .context = self,
            .sector_bytes = self.sector_bytes,
            .sector_count = self.bytes.len / self.sector_bytes,
            .read_only = self.read_only,
            .readFn = readSectors,
            .writeFn = writeSectors,
            .flushFn = flush,
            .readRegionsFn = readRegions,
            .writeRegionsFn = writeRegions,
        };
    }

    /// One call, like a preadv: counted as one read.
    fn readRegions(context: *anyopaque, sector: u64, regions: []const []u8) bool {
        const self: *MemoryBackend = @ptrCast(@alignCast(context));
        self.reads += 1;
        if (self.fail_reads) return false;
        var at: usize = @intCast(sector * self.sector_bytes);
        for (regions) |region| {
            @memcpy(region, self.bytes[at..][0..region.len]);
            at += region.len;
        }
        return true;
    }

    fn writeRegions(context: *anyopaque, sector: u64, regions: []const []const u8) bool {
        const self: *MemoryBackend = @ptrCast(@alignCast(context));
        self.writes += 1;
        if (self.fail_writes) return false;
        var at: usize = @intCast(sector * self.sector_bytes);
        for (regions) |region| {
            @memcpy(self.bytes[at..][0..region.len], region);
            at += region.len;
        }
        return true;
    }

    fn readSectors(context: *anyopaque, sector: u64, out: []u8) bool {
        const self: *MemoryBackend = @ptrCast(@alignCast(context));
        self.reads += 1;
        if (self.fail_reads) return false;
        @memcpy(out, self.bytes[@intCast(sector * self.sector_bytes)..][0..out.len]);
        return true;
    }

    fn writeSectors(context: *anyopaque, sector: u64, data: []const u8) bool {
        const self: *MemoryBackend = @ptrCast(@alignCast(context));
        self.writes += 1;
        if (self.fail_writes) return false;
        @memcpy(self.bytes[@intCast(sector * self.sector_bytes)..][0..data.len], data);
        return true;
    }

    fn flush(context: *anyopaque) bool {
        const self: *MemoryBackend = @ptrCast(@alignCast(context));
        self.flushes += 1;
        return !self.fail_flushes;
    }
};

pub const disk_sector_bytes: u32 = 512;
pub const cdrom_sector_bytes: u32 = 2048;
/// The largest DRQ block of READ/WRITE MULTIPLE, in sectors (IDENTIFY word 47).
pub const max_multiple_sectors: u8 = 16;
/// The largest PIO block a drive announces: an ATAPI byte count limit, which is even and
/// below 64 KiB. A PIO transport's buffer holds one.
pub const max_pio_block_bytes: u32 = 0xFFFE;

/// Most regions one `readDataRegions`/`writeDataRegions` call takes (block.zig's max_regions).
pub const max_regions: usize = 64;
/// The ATAPI command packet (IDENTIFY PACKET DEVICE word 0 bits 1:0 = 00).
pub const packet_bytes: u32 = 12;
/// Media up to this many 2048-byte sectors are CDs (the lead-out of 99:59:74 in MSF still
/// fits); larger ones are DVDs, for GET CONFIGURATION and the TOC.
pub const cd_max_sectors: u64 = 100 * 60 * 75 - 150;

comptime {
    assert(max_multiple_sectors * disk_sector_bytes <= max_pio_block_bytes);
    assert(max_pio_block_bytes % 2 == 0);
}

/// Status register bits.
pub const status_err: u8 = 0x01;
pub const status_drq: u8 = 0x08;
/// DSC (disks) / SERV (packet devices).
pub const status_dsc: u8 = 0x10;
pub const status_df: u8 = 0x20;
pub const status_drdy: u8 = 0x40;
pub const status_bsy: u8 = 0x80;

/// Error register bits. Packet devices put the sense key in bits 7:4.
pub const error_abrt: u8 = 0x04;
pub const error_idnf: u8 = 0x10;
pub const error_unc: u8 = 0x40;
/// After reset and EXECUTE DEVICE DIAGNOSTIC: device 0 passed (and device 1 did not fail).
pub const error_diagnostic_passed: u8 = 0x01;

/// ATAPI interrupt reason, in the sector count register.
pub const reason_cod: u8 = 0x01;
pub const reason_io: u8 = 0x02;

/// Device register bits.
pub const device_lba: u8 = 0x40;
pub const device_dev: u8 = 0x10;

/// ATA command opcodes (ATA/ATAPI-7 and ACS).
pub const Command = struct {
    pub const nop: u8 = 0x00;
    pub const device_reset: u8 = 0x08;
    pub const recalibrate: u8 = 0x10;
    pub const read_sectors: u8 = 0x20;
    pub const read_sectors_no_retry: u8 = 0x21;
    pub const read_sectors_ext: u8 = 0x24;
    pub const read_dma_ext: u8 = 0x25;
    pub const read_multiple_ext: u8 = 0x29;
    pub const write_sectors: u8 = 0x30;
    pub const write_sectors_no_retry: u8 = 0x31;
    pub const write_sectors_ext: u8 = 0x34;
    pub const write_dma_ext: u8 = 0x35;
    pub const write_multiple_ext: u8 = 0x39;
    pub const read_verify_sectors: u8 = 0x40;
    pub const read_verify_sectors_no_retry: u8 = 0x41;
    pub const read_verify_sectors_ext: u8 = 0x42;
    pub const seek: u8 = 0x70;
    pub const execute_device_diagnostic: u8 = 0x90;
    pub const initialize_device_parameters: u8 = 0x91;
    pub const packet: u8 = 0xA0;
    pub const identify_packet_device: u8 = 0xA1;
    pub const read_multiple: u8 = 0xC4;
    pub const write_multiple: u8 = 0xC5;
    pub const set_multiple_mode: u8 = 0xC6;
    pub const read_dma: u8 = 0xC8;
    pub const read_dma_no_retry: u8 = 0xC9;
    pub const write_dma: u8 = 0xCA;
    pub const write_dma_no_retry: u8 = 0xCB;
    pub const standby_immediate: u8 = 0xE0;
    pub const idle_immediate: u8 = 0xE1;
    pub const standby: u8 = 0xE2;
    pub const idle: u8 = 0xE3;
    pub const check_power_mode: u8 = 0xE5;
    pub const sleep: u8 = 0xE6;
    pub const flush_cache: u8 = 0xE7;
    pub const flush_cache_ext: u8 = 0xEA;
    pub const identify_device: u8 = 0xEC;
    pub const set_features: u8 = 0xEF;
};

/// SET FEATURES subcommands (features register).
pub const Feature = struct {
    pub const enable_write_cache: u8 = 0x02;
    pub const set_transfer_mode: u8 = 0x03;
    pub const disable_read_look_ahead: u8 = 0x55;
    pub const disable_revert_to_defaults: u8 = 0x66;
    pub const disable_write_cache: u8 = 0x82;
    pub const enable_read_look_ahead: u8 = 0xAA;
    pub const enable_revert_to_defaults: u8 = 0xCC;
};

/// SCSI/MMC operation codes the CD-ROM knows.
pub const Scsi = struct {
    pub const test_unit_ready: u8 = 0x00;
    pub const request_sense: u8 = 0x03;
    pub const inquiry: u8 = 0x12;
    pub const start_stop_unit: u8 = 0x1B;
    pub const prevent_allow_medium_removal: u8 = 0x1E;
    pub const read_capacity: u8 = 0x25;
    pub const read_10: u8 = 0x28;
    pub const read_toc: u8 = 0x43;
    pub const get_configuration: u8 = 0x46;
    pub const get_event_status_notification: u8 = 0x4A;
    pub const read_disc_information: u8 = 0x51;
    pub const mode_sense_10: u8 = 0x5A;
    pub const read_12: u8 = 0xA8;
    pub const set_cd_speed: u8 = 0xBB;
    pub const mechanism_status: u8 = 0xBD;
};

/// Sense data: key, additional sense code and qualifier.
pub const Sense = struct {
    key: u4 = 0,
    asc: u8 = 0,
    ascq: u8 = 0,

    pub const none = Sense{};
    pub const not_ready_tray_closed = Sense{ .key = 0x2, .asc = 0x3A, .ascq = 0x01 };
    pub const not_ready_tray_open = Sense{ .key = 0x2, .asc = 0x3A, .ascq = 0x02 };
    pub const unrecovered_read_error = Sense{ .key = 0x3, .asc = 0x11 };
    pub const invalid_opcode = Sense{ .key = 0x5, .asc = 0x20 };
    pub const lba_out_of_range = Sense{ .key = 0x5, .asc = 0x21 };
    pub const invalid_field = Sense{ .key = 0x5, .asc = 0x24 };
    pub const saving_not_supported = Sense{ .key = 0x5, .asc = 0x39 };
    pub const removal_prevented = Sense{ .key = 0x5, .asc = 0x53, .ascq = 0x02 };
    pub const medium_changed = Sense{ .key = 0x6, .asc = 0x28 };
    pub const aborted = Sense{ .key = 0xB };
};

/// What the host wrote, as a Host-to-Device Register FIS carries it.
pub const TaskFile = struct {
    command: u8,
    /// Bits 7:0 the current value, 15:8 the previous one (48-bit commands).
    features: u16 = 0,
    count: u16 = 0,
    /// LBA low, mid and high in bits 7:0, 15:8 and 23:16; their previous values in 31:24,
    /// 39:32 and 47:40, which is the 48-bit address. For ATAPI, mid and high are the byte count.
    lba: u48 = 0,
    device: u8 = 0,
};

/// What the drive shows the host: status, error, and the registers it changed (a signature,
/// the ATAPI interrupt reason and byte count, the LBA of a failed sector).
pub const Registers = struct {
    status: u8,
    err: u8,
    count: u16,
    lba: u48,
    device: u8,
};

pub const Phase = enum { idle, packet, pio_in, pio_out, dma_in, dma_out };

pub const Outcome = struct {
    phase: Phase,
    /// PIO and packet: the bytes of this block; DMA: the bytes of the whole transfer.
    bytes: u64 = 0,
    /// The drive asserts INTRQ now.
    interrupt: bool,
};

/// Multiword DMA and Ultra DMA modes: all supported, one selected (SET FEATURES 03h).
const Modes = struct {
    mwdma: ?u2 = 2,
    udma: ?u3 = null,
};

/// A CHS translation: what INITIALIZE DEVICE PARAMETERS sets and CHS addresses go through.
const Geometry = struct {
    cylinders: u16,
    heads: u8,
    sectors: u8,

    fn default(sector_count: u64) Geometry {
        return forSize(sector_count, 16, 63, 16383);
    }

    fn forSize(sector_count: u64, heads: u8, sectors: u8, max_cylinders: u16) Geometry {
        const per_cylinder = @as(u64, heads) * sectors;
        const cylinders = if (per_cylinder == 0) 0 else @min(sector_count / per_cylinder, max_cylinders);
        return .{ .cylinders = @intCast(@max(cylinders, 1)), .heads = heads, .sectors = sectors };
    }

    fn capacity(self: Geometry) u64 {
        return @as(u64, self.cylinders) * self.heads * self.sectors;
    }
};

pub const Options = struct {
    /// Up to 20 characters (IDENTIFY words 10-19).
    serial: []const u8 = "VMCTL-0001",
};

pub const Disk = struct {
    backend: Backend,
    /// READ/WRITE MULTIPLE block in sectors; 0 = multiple mode off.
    multiple_sectors: u8 = max_multiple_sectors,
    write_cache: bool = true,
    look_ahead: bool = true,
    geometry: Geometry,
    /// The transfer in flight is a write (what a failure reports, and whether to flush).
    writing: bool = false,
    /// The transfer in flight used a 48-bit command (how a failed LBA is reported).
    lba48: bool = false,
};

pub const Cdrom = struct {
    /// The disc in the drive, when there is one; it can be read while the tray is closed.
    medium: ?Backend,
    tray_open: bool = false,
    /// PREVENT ALLOW MEDIUM REMOVAL: the guest forbade ejecting.
    locked: bool = false,
    /// Sense data of the last command, for REQUEST SENSE.
    sense: Sense = .{},
    /// A medium arrived and no command has been told yet.
    unit_attention: bool = false,
    /// The media event GET EVENT STATUS NOTIFICATION reports next.
    media_event: MediaEvent = .none,
    /// The PACKET command in flight: its packet, DMA bit and byte count limit.
    cdb: [packet_bytes]u8 = [_]u8{0} ** packet_bytes,
    dma: bool = false,
    byte_count_limit: u16 = 0,

    const MediaEvent = enum(u8) { none = 0, new_media = 2, media_removal = 3 };

    fn present(self: *const Cdrom) bool {
        return self.medium != null and !self.tray_open;
    }

    fn notReady(self: *const Cdrom) Sense {
        return if (self.tray_open) Sense.not_ready_tray_open else Sense.not_ready_tray_closed;
    }

    fn isDvd(self: *const Cdrom) bool {
        return self.medium.?.sector_count > cd_max_sectors;
    }
};

const Source = enum { none, medium, response, packet };

/// The data phase in flight.
const Transfer = struct {
    phase: Phase = .idle,
    source: Source = .none,
    /// A medium transfer's first sector.
    sector: u64 = 0,
    total: u64 = 0,
    moved: u64 = 0,
    /// Where the current PIO block (or the DMA transfer) ends.
    block_end: u64 = 0,
    /// The largest PIO block; 0 = as the ATAPI byte count limit allows.
    block_limit: u64 = 0,
    /// A data call failed; the drive takes no more data.
    failed: bool = false,
    /// The data of a PACKET command, which ends in a status phase with an interrupt.
    in_packet: bool = false,
};

/// IDENTIFY data strings.
const disk_model = "VMCTL HARDDISK";
const cdrom_model = "VMCTL CD-ROM";
const firmware_revision = "1.0";
const inquiry_vendor = "VMCTL";
const inquiry_product = "CD-ROM";
const inquiry_revision = "1.0";

/// Largest response a command builds: IDENTIFY data.
const response_bytes = 512;

pub const Drive = struct {
    /// What the host reads back; see `Registers`.
    registers: Registers = .{ .status = 0, .err = 0, .count = 0, .lba = 0, .device = 0 },
    serial: [20]u8,
    modes: Modes = .{},
    /// STANDBY (or SLEEP) entered and no media access since.
    standby: bool = false,
    transfer: Transfer = .{},
    /// A sector read for a transfer that starts or ends inside it, or one being assembled
    /// from a write that arrives in pieces.
    staging: [cdrom_sector_bytes]u8 = undefined,
    staged_sector: ?u64 = null,
    /// IDENTIFY data and SCSI responses.
    response: [response_bytes]u8 = undefined,
    kind: Kind,

    pub const Kind = union(enum) { disk: Disk, cdrom: Cdrom };

    pub fn initDisk(backend: Backend, options: Options) Drive {
        assert(backend.sector_bytes == disk_sector_bytes);
        assert(backend.sector_count > 0);
        var drive = Drive{
            .serial = paddedSerial(options.serial),
            .kind = .{ .disk = .{ .backend = backend, .geometry = Geometry.default(backend.sector_count) } },
        };
        drive.reset();
        return drive;
    }

    /// A CD-ROM drive, with a disc in it or empty.
    pub fn initCdrom(medium: ?Backend, options: Options) Drive {
        if (medium) |backend| checkDisc(backend);
        var drive = Drive{ .serial = paddedSerial(options.serial), .kind = .{ .cdrom = .{ .medium = null } } };
        drive.reset();
        if (medium) |backend| drive.insertMedium(backend);
        return drive;
    }

    fn checkDisc(backend: Backend) void {
        assert(backend.sector_bytes == cdrom_sector_bytes);
        assert(backend.read_only);
        assert(backend.sector_count > 0 and backend.sector_count <= std.math.maxInt(u32));
    }

    /// The host puts a disc in and closes the tray (under the transport's lock).
    pub fn insertMedium(self: *Drive, backend: Backend) void {
        checkDisc(backend);
        const cd = &self.kind.cdrom;
        cd.medium = backend;
        cd.tray_open = false;
        cd.unit_attention = true;
        cd.media_event = .new_media;
    }

    /// The host takes the disc out (under the transport's lock); a read in flight fails.
    pub fn removeMedium(self: *Drive) void {
        const cd = &self.kind.cdrom;
        if (cd.medium != null) cd.media_event = .media_removal;
        cd.medium = null;
    }

    pub fn isPacketDevice(self: *const Drive) bool {
        return self.kind == .cdrom;
    }

    /// The data phase the drive is in.
    pub fn phase(self: *const Drive) Phase {
        return self.transfer.phase;
    }

    /// Bytes left in the current PIO block or DMA transfer.
    pub fn remainingBytes(self: *const Drive) u64 {
        return self.transfer.block_end - self.transfer.moved;
    }

    /// Software reset (SRST, DEVICE RESET, COMRESET): drops the command, posts the signature.
    /// Settings (multiple mode, write cache, transfer mode) survive, as with revert-to-defaults
    /// disabled, the power-on default.
    pub fn reset(self: *Drive) void {
        self.transfer = .{};
        self.staged_sector = null;
        self.standby = false;
        self.postSignature();
        self.registers.device = 0;
        self.registers.status = if (self.isPacketDevice()) 0 else status_drdy | status_dsc;
    }

    fn postSignature(self: *Drive) void {
        self.registers.err = error_diagnostic_passed;
        self.registers.count = 1;
        self.registers.lba = if (self.isPacketDevice()) 0xEB_14_01 else 0x00_00_01;
    }

    /// Starts a command; see the file comment.
    pub fn execute(self: *Drive, tf: TaskFile) Outcome {
        self.transfer = .{};
        self.staged_sector = null;
        self.registers = .{ .status = status_drdy | status_dsc, .err = 0, .count = tf.count, .lba = tf.lba, .device = tf.device };
        return switch (self.kind) {
            .disk => |*disk| self.diskExecute(disk, tf),
            .cdrom => |*cd| self.cdromExecute(cd, tf),
        };
    }

    /// Moves the next `out.len` bytes of a data-in phase into `out`; see the file comment.
    pub fn readData(self: *Drive, out: []u8) bool {
        const t = &self.transfer;
        assert(t.phase == .pio_in or t.phase == .dma_in);
        assert(out.len <= t.block_end - t.moved);
        const ok = !t.failed and switch (t.source) {
            .response => blk: {
                @memcpy(out, self.response[@intCast(t.moved)..][0..out.len]);
                break :blk true;
            },
            .medium => if (self.currentMedium()) |b| self.mediumRead(b, out) else false,
            .none, .packet => unreachable,
        };
        if (!ok) {
            @memset(out, 0);
            t.failed = true;
            return false;
        }
        t.moved += out.len;
        return true;
    }

    /// `readData` over consecutive regions (a DMA engine's scattered guest pages), with one
    /// backend call when the medium takes scatter/gather and the regions are whole sectors.
    pub fn readDataRegions(self: *Drive, regions: []const []u8) bool {
        assert(regions.len <= max_regions);
        assert(self.transfer.phase == .pio_in or self.transfer.phase == .dma_in);
        if (self.vectoredSpan(regions, true)) |span| {
            if (!span.backend.readRegionsFn.?(span.backend.context, span.sector, regions)) {
                for (regions) |region| @memset(region, 0);
                self.transfer.failed = true;
                return false;
            }
            self.transfer.moved += span.bytes;
            return true;
        }
        for (regions) |region| if (!self.readData(region)) return false;
        return true;
    }

    /// `writeData` over consecutive regions; see `readDataRegions`.
    pub fn writeDataRegions(self: *Drive, regions: []const []const u8) bool {
        assert(regions.len <= max_regions);
        assert(self.transfer.phase == .pio_out or self.transfer.phase == .dma_out);
        if (self.vectoredSpan(regions, false)) |span| {
            assert(!span.backend.read_only);
            // The staging buffer may hold a sector this write replaces.
            self.staged_sector = null;
            if (!span.backend.writeRegionsFn.?(span.backend.context, span.sector, regions)) {
                self.transfer.failed = true;
                return false;
            }
            self.transfer.moved += span.bytes;
            return true;
        }
        for (regions) |region| if (!self.writeData(region)) return false;
        return true;
    }

    const VectoredSpan = struct { backend: Backend, sector: u64, bytes: u64 };

    /// Where a one-call scatter/gather transfer of `regions` goes, or null when the per-region
    /// path must be taken: a response rather than the medium, a failed transfer, a position or
    /// region that is not whole sectors, or a backend without scatter/gather.
    fn vectoredSpan(self: *const Drive, regions: []const []const u8, reading: bool) ?VectoredSpan {
        const t = &self.transfer;
        if (t.failed or t.source != .medium) return null;
        const b = self.currentMedium() orelse return null;
        if ((if (reading) b.readRegionsFn == null else b.writeRegionsFn == null)) return null;
        if (t.moved % b.sector_bytes != 0) return null;
        const sectors = b.regionSectors(regions) orelse return null;
        if (sectors == 0) return null;
        const bytes = sectors * b.sector_bytes;
        assert(bytes <= t.block_end - t.moved);
        const sector = t.sector + t.moved / b.sector_bytes;
        b.checkRange(sector, @intCast(bytes));
        return .{ .backend = b, .sector = sector, .bytes = bytes };
    }

    /// Takes the next `data.len` bytes of a data-out or packet phase; see the file comment.
    pub fn writeData(self: *Drive, data: []const u8) bool {
        const t = &self.transfer;
        assert(t.phase == .pio_out or t.phase == .dma_out or t.phase == .packet);
        assert(data.len <= t.block_end - t.moved);
        const ok = !t.failed and switch (t.source) {
            .packet => blk: {
                @memcpy(self.kind.cdrom.cdb[@intCast(t.moved)..][0..data.len], data);
                break :blk true;
            },
            .medium => if (self.currentMedium()) |b| self.mediumWrite(b, data) else false,
            .none, .response => unreachable,
        };
        if (!ok) {
            t.failed = true;
            return false;
        }
        t.moved += data.len;
        return true;
    }

    /// The current block or transfer has moved (or a data call failed): the next phase.
    pub fn finishData(self: *Drive) Outcome {
        const t = &self.transfer;
        assert(t.phase != .idle);
        if (t.failed) return self.dataFailed();
        // A transport that stops short of the block gave up on it.
        if (t.moved < t.block_end) return self.abortData();
        if (t.phase == .packet) {
            t.* = .{};
            return self.runPacket(&self.kind.cdrom);
        }
        if (t.moved == t.total) return self.dataDone();
        return self.nextBlock(true);
    }

    /// The transport could not move the data: the command ends with an abort.
    pub fn abortData(self: *Drive) Outcome {
        if (self.transfer.phase == .idle) return .{ .phase = .idle, .interrupt = false };
        const was_packet = self.transfer.phase == .packet;
        self.transfer = .{};
        return switch (self.kind) {
            .disk => self.fail(error_abrt),
            .cdrom => |*cd| if (was_packet) self.packetFail(error_abrt) else self.checkCondition(cd, Sense.aborted),
        };
    }

    fn currentMedium(self: *const Drive) ?Backend {
        return switch (self.kind) {
            .disk => |disk| disk.backend,
            .cdrom => |cd| cd.medium,
        };
    }

    // Common completions.

    fn complete(self: *Drive) Outcome {
        self.transfer = .{};
        self.registers.status = status_drdy | status_dsc;
        self.registers.err = 0;
        return .{ .phase = .idle, .interrupt = true };
    }

    /// An ATA-level error: ERR with `err` in the error register.
    fn fail(self: *Drive, err: u8) Outcome {
        self.transfer = .{};
        self.registers.status = status_drdy | status_err | if (self.isPacketDevice()) 0 else status_dsc;
        self.registers.err = err;
        return .{ .phase = .idle, .interrupt = true };
    }

    fn startTransfer(self: *Drive, phase_: Phase, source: Source, sector: u64, total: u64, block_limit: u64) Outcome {
        assert(total > 0);
        assert(block_limit <= max_pio_block_bytes);
        self.transfer = .{ .phase = phase_, .source = source, .sector = sector, .total = total, .block_limit = block_limit };
        self.staged_sector = null;
        if (phase_ == .dma_in or phase_ == .dma_out) {
            self.transfer.block_end = total;
            self.registers.status = status_drdy | status_dsc | status_drq;
            return .{ .phase = phase_, .bytes = total, .interrupt = false };
        }
        // PIO data-in interrupts as each block is ready; data-out only for blocks after the first
        // (ATA/ATAPI-7 PIO data-out protocol); the packet phase has no interrupt (IDENTIFY PACKET
        // DEVICE word 0 bits 6:5 = 10b).
        return self.nextBlock(phase_ == .pio_in);
    }

    fn nextBlock(self: *Drive, interrupt: bool) Outcome {
        const t = &self.transfer;
        const remaining = t.total - t.moved;
        const bytes: u64 = if (t.block_limit != 0)
            @min(remaining, t.block_limit)
        else
            atapiBlockBytes(self.kind.cdrom.byte_count_limit, remaining, t.source == .medium);
        assert(bytes > 0 and bytes <= max_pio_block_bytes);
        t.block_end = t.moved + bytes;
        self.registers.status = status_drdy | status_dsc | status_drq;
        if (self.isPacketDevice()) {
            self.registers.count = switch (t.phase) {
                .packet => reason_cod,
                .pio_in => reason_io,
                else => 0,
            };
            if (t.phase != .packet) self.registers.lba = (self.registers.lba & ~@as(u48, 0xFFFF00)) | (@as(u48, @intCast(bytes)) << 8);
        }
        return .{ .phase = t.phase, .bytes = bytes, .interrupt = interrupt };
    }

    fn dataDone(self: *Drive) Outcome {
        const t = self.transfer;
        switch (self.kind) {
            // Without a write cache, data is on the medium before the command completes.
            .disk => |*disk| if (disk.writing and !disk.write_cache and !disk.backend.flush()) return self.fail(error_abrt),
            .cdrom => if (t.in_packet) return self.packetGood(),
        }
        _ = self.complete();
        // PIO data-in ends without an interrupt: the host had one for each block.
        return .{ .phase = .idle, .interrupt = t.phase != .pio_in };
    }

    fn dataFailed(self: *Drive) Outcome {
        const t = self.transfer;
        switch (self.kind) {
            .disk => |*disk| {
                const sector = t.sector + t.moved / disk_sector_bytes;
                const outcome = self.fail(if (disk.writing) error_abrt else error_unc);
                self.reportLba(sector, disk.lba48);
                return outcome;
            },
            .cdrom => |*cd| {
                if (t.phase == .packet) return self.packetFail(error_abrt);
                return self.checkCondition(cd, if (t.source == .medium) Sense.unrecovered_read_error else Sense.aborted);
            },
        }
    }

    /// The LBA of a failed sector, where the error outputs of ATA/ATAPI-7 put it.
    fn reportLba(self: *Drive, sector: u64, lba48: bool) void {
        if (lba48) {
            self.registers.lba = @truncate(sector);
        } else {
            self.registers.lba = (self.registers.lba & ~@as(u48, 0xFF_FFFF)) | @as(u48, @truncate(sector & 0xFF_FFFF));
            self.registers.device = (self.registers.device & 0xF0) | @as(u8, @truncate(sector >> 24 & 0x0F));
        }
    }

    // Medium access in chunks of any size.

    fn mediumRead(self: *Drive, b: Backend, out: []u8) bool {
        const sector_bytes: u64 = b.sector_bytes;
        var done: usize = 0;
        while (done < out.len) {
            const position = self.transfer.moved + done;
            const sector = self.transfer.sector + position / sector_bytes;
            const within: usize = @intCast(position % sector_bytes);
            const left = out.len - done;
            if (within == 0 and left >= sector_bytes) {
                const whole = left - left % sector_bytes;
                if (!b.read(sector, out[done..][0..whole])) return false;
                done += whole;
                continue;
            }
            if (self.staged_sector != sector) {
                self.staged_sector = null;
                if (!b.read(sector, self.staging[0..@intCast(sector_bytes)])) return false;
                self.staged_sector = sector;
            }
            const n: usize = @intCast(@min(sector_bytes - within, left));
            @memcpy(out[done..][0..n], self.staging[within..][0..n]);
            done += n;
        }
        return true;
    }

    fn mediumWrite(self: *Drive, b: Backend, data: []const u8) bool {
        const sector_bytes: u64 = b.sector_bytes;
        // The staging buffer now assembles a sector; it caches nothing.
        self.staged_sector = null;
        var done: usize = 0;
        while (done < data.len) {
            const position = self.transfer.moved + done;
            const sector = self.transfer.sector + position / sector_bytes;
            const within: usize = @intCast(position % sector_bytes);
            const left = data.len - done;
            if (within == 0 and left >= sector_bytes) {
                const whole = left - left % sector_bytes;
                if (!b.write(sector, data[done..][0..whole])) return false;
                done += whole;
                continue;
            }
            const n: usize = @intCast(@min(sector_bytes - within, left));
            @memcpy(self.staging[within..][0..n], data[done..][0..n]);
            done += n;
            if (within + n == sector_bytes and !b.write(sector, self.staging[0..@intCast(sector_bytes)])) return false;
        }
        return true;
    }

    // The hard disk.

    const Access = struct {
        lba48: bool = false,
        dma: bool = false,
        multiple: bool = false,
        write: bool = false,
    };

    fn diskExecute(self: *Drive, disk: *Disk, tf: TaskFile) Outcome {
        const c = tf.command;
        disk.writing = false;
        disk.lba48 = false;
        return switch (c) {
            Command.read_sectors, Command.read_sectors_no_retry => self.diskTransfer(disk, tf, .{}),
            Command.read_sectors_ext => self.diskTransfer(disk, tf, .{ .lba48 = true }),
            Command.read_multiple => self.diskTransfer(disk, tf, .{ .multiple = true }),
            Command.read_multiple_ext => self.diskTransfer(disk, tf, .{ .lba48 = true, .multiple = true }),
            Command.read_dma, Command.read_dma_no_retry => self.diskTransfer(disk, tf, .{ .dma = true }),
            Command.read_dma_ext => self.diskTransfer(disk, tf, .{ .lba48 = true, .dma = true }),
            Command.write_sectors, Command.write_sectors_no_retry => self.diskTransfer(disk, tf, .{ .write = true }),
            Command.write_sectors_ext => self.diskTransfer(disk, tf, .{ .lba48 = true, .write = true }),
            Command.write_multiple => self.diskTransfer(disk, tf, .{ .multiple = true, .write = true }),
            Command.write_multiple_ext => self.diskTransfer(disk, tf, .{ .lba48 = true, .multiple = true, .write = true }),
            Command.write_dma, Command.write_dma_no_retry => self.diskTransfer(disk, tf, .{ .dma = true, .write = true }),
            Command.write_dma_ext => self.diskTransfer(disk, tf, .{ .lba48 = true, .dma = true, .write = true }),
            Command.read_verify_sectors, Command.read_verify_sectors_no_retry => self.diskVerify(disk, tf, false),
            Command.read_verify_sectors_ext => self.diskVerify(disk, tf, true),
            Command.identify_device => blk: {
                self.diskIdentify(disk);
                break :blk self.startTransfer(.pio_in, .response, 0, 512, 512);
            },
            Command.set_features => self.setFeatures(tf),
            Command.set_multiple_mode => blk: {
                const sectors: u8 = @truncate(tf.count);
                if (sectors > max_multiple_sectors or (sectors != 0 and !std.math.isPowerOfTwo(sectors))) break :blk self.fail(error_abrt);
                disk.multiple_sectors = sectors;
                break :blk self.complete();
            },
            Command.initialize_device_parameters => blk: {
                const sectors: u8 = @truncate(tf.count);
                if (sectors == 0) break :blk self.fail(error_abrt);
                disk.geometry = Geometry.forSize(disk.backend.sector_count, (tf.device & 0x0F) + 1, sectors, 65535);
                break :blk self.complete();
            },
            Command.flush_cache, Command.flush_cache_ext => if (disk.backend.flush()) self.complete() else self.fail(error_abrt),
            Command.execute_device_diagnostic => blk: {
                _ = self.complete();
                self.postSignature();
                break :blk .{ .phase = .idle, .interrupt = true };
            },
            Command.check_power_mode => blk: {
                const outcome = self.complete();
                self.registers.count = (self.registers.count & 0xFF00) | @as(u16, if (self.standby) 0x00 else 0xFF);
                break :blk outcome;
            },
            Command.standby_immediate, Command.standby, Command.sleep => blk: {
                self.standby = true;
                break :blk self.complete();
            },
            Command.idle_immediate, Command.idle => blk: {
                self.standby = false;
                break :blk self.complete();
            },
            // NOP always aborts; DEVICE RESET, PACKET and IDENTIFY PACKET DEVICE are for packet
            // devices, and a disk aborts them without posting the ATAPI signature.
            else => if (c >= Command.recalibrate and c <= Command.recalibrate + 0x0F)
                self.complete()
            else if (c >= Command.seek and c <= Command.seek + 0x0F)
                self.diskSeek(disk, tf)
            else
                self.fail(error_abrt),
        };
    }

    /// The address of a 28-bit command: LBA, or CHS through the current geometry.
    fn address28(disk: *const Disk, tf: TaskFile) ?u64 {
        if (tf.device & device_lba != 0) return @as(u64, tf.device & 0x0F) << 24 | (tf.lba & 0xFF_FFFF);
        const g = disk.geometry;
        const sector: u64 = tf.lba & 0xFF;
        const cylinder: u64 = (tf.lba >> 8) & 0xFFFF;
        const head: u64 = tf.device & 0x0F;
        if (sector == 0 or sector > g.sectors or head >= g.heads or cylinder >= g.cylinders) return null;
        return (cylinder * g.heads + head) * g.sectors + sector - 1;
    }

    fn addressAndCount(disk: *const Disk, tf: TaskFile, lba48: bool) ?struct { lba: u64, count: u64 } {
        const lba = if (lba48) @as(u64, tf.lba) else address28(disk, tf) orelse return null;
        const count: u64 = if (lba48)
            (if (tf.count == 0) 65536 else tf.count)
        else if (tf.count & 0xFF == 0) 256 else tf.count & 0xFF;
        const sectors = disk.backend.sector_count;
        if (lba >= sectors or count > sectors - lba) return null;
        return .{ .lba = lba, .count = count };
    }

    fn diskTransfer(self: *Drive, disk: *Disk, tf: TaskFile, access: Access) Outcome {
        if (access.multiple and disk.multiple_sectors == 0) return self.fail(error_abrt);
        const range = addressAndCount(disk, tf, access.lba48) orelse return self.fail(error_idnf);
        if (access.write and disk.backend.read_only) return self.fail(error_abrt);
        self.standby = false;
        disk.writing = access.write;
        disk.lba48 = access.lba48;
        const phase_: Phase = if (access.dma)
            (if (access.write) .dma_out else .dma_in)
        else if (access.write) .pio_out else .pio_in;
        // Commands other than READ/WRITE MULTIPLE move one sector per DRQ block.
        const block_sectors: u64 = if (access.multiple) disk.multiple_sectors else 1;
        return self.startTransfer(phase_, .medium, range.lba, range.count * disk_sector_bytes, block_sectors * disk_sector_bytes);
    }

    fn diskVerify(self: *Drive, disk: *Disk, tf: TaskFile, lba48: bool) Outcome {
        _ = addressAndCount(disk, tf, lba48) orelse return self.fail(error_idnf);
        self.standby = false;
        return self.complete();
    }

    fn diskSeek(self: *Drive, disk: *Disk, tf: TaskFile) Outcome {
        const lba = address28(disk, tf) orelse return self.fail(error_idnf);
        if (lba >= disk.backend.sector_count) return self.fail(error_idnf);
        self.standby = false;
        return self.complete();
    }

    fn setFeatures(self: *Drive, tf: TaskFile) Outcome {
        const disk: ?*Disk = if (self.kind == .disk) &self.kind.disk else null;
        switch (@as(u8, @truncate(tf.features))) {
            Feature.set_transfer_mode => {
                const mode: u8 = @truncate(tf.count);
                switch (mode >> 3) {
                    // PIO default, PIO default without IORDY, PIO flow control modes 0-4.
                    0 => if (mode > 1) return self.fail(error_abrt),
                    1 => if (mode & 7 > 4) return self.fail(error_abrt),
                    // Multiword DMA 0-2.
                    4 => {
                        if (mode & 7 > 2) return self.fail(error_abrt);
                        self.modes = .{ .mwdma = @intCast(mode & 7), .udma = null };
                    },
                    // Ultra DMA 0-5.
                    8 => {
                        if (mode & 7 > 5) return self.fail(error_abrt);
                        self.modes = .{ .mwdma = null, .udma = @intCast(mode & 7) };
                    },
                    else => return self.fail(error_abrt),
                }
            },
            Feature.enable_write_cache, Feature.disable_write_cache => {
                const d = disk orelse return self.fail(error_abrt);
                d.write_cache = tf.features & 0xFF == Feature.enable_write_cache;
            },
            Feature.enable_read_look_ahead, Feature.disable_read_look_ahead => {
                const d = disk orelse return self.fail(error_abrt);
                d.look_ahead = tf.features & 0xFF == Feature.enable_read_look_ahead;
            },
            Feature.disable_revert_to_defaults, Feature.enable_revert_to_defaults => {},
            else => return self.fail(error_abrt),
        }
        return self.complete();
    }

    // IDENTIFY data.

    /// Words 49, 63-68 and 88: LBA, DMA and IORDY; PIO 3-4, multiword DMA 0-2, Ultra DMA 0-5.
    fn putTransferModes(self: *const Drive, w: *[256]u16) void {
        w[49] = 1 << 11 | 1 << 10 | 1 << 9 | 1 << 8;
        w[51] = 0x0200;
        w[52] = 0x0200;
        w[63] = 0x0007 | if (self.modes.mwdma) |m| @as(u16, 0x100) << m else 0;
        w[64] = 0x0003;
        for (65..69) |i| w[i] = 120;
        w[88] = 0x003F | if (self.modes.udma) |u| @as(u16, 0x100) << u else 0;
        // Bits 14 and 13 (an 80-conductor cable); the device 0/1 reset results are left out,
        // as a drive does not know where it sits.
        w[93] = 0x6000;
    }

    fn diskIdentify(self: *Drive, disk: *const Disk) void {
        var w = [_]u16{0} ** 256;
        const sectors = disk.backend.sector_count;
        const default = Geometry.default(sectors);
        w[0] = 0x0040; // ATA, fixed
        w[1] = default.cylinders;
        w[3] = default.heads;
        w[6] = default.sectors;
        putAtaString(&w, 10, 10, &self.serial);
        putAtaString(&w, 23, 4, firmware_revision);
        putAtaString(&w, 27, 20, disk_model);
        w[47] = 0x8000 | @as(u16, max_multiple_sectors);
        self.putTransferModes(&w);
        w[50] = 0x4000;
        w[53] = 0x0007; // words 54-58, 64-70 and 88 are valid
        const g = disk.geometry;
        w[54] = g.cylinders;
        w[55] = g.heads;
        w[56] = g.sectors;
        w[57] = @truncate(g.capacity());
        w[58] = @truncate(g.capacity() >> 16);
        w[59] = 0x0100 | @as(u16, disk.multiple_sectors);
        const lba28_sectors = @min(sectors, 0x0FFF_FFFF);
        w[60] = @truncate(lba28_sectors);
        w[61] = @truncate(lba28_sectors >> 16);
        w[80] = 0x00F0; // ATA/ATAPI-4 to -7
        // NOP, look-ahead, write cache, power management; FLUSH CACHE (EXT), 48-bit addresses.
        const nop: u16 = 1 << 14;
        const look_ahead: u16 = 1 << 6;
        const write_cache: u16 = 1 << 5;
        const power_management: u16 = 1 << 3;
        const flush_ext: u16 = 1 << 13;
        const flush: u16 = 1 << 12;
        const lba48: u16 = 1 << 10;
        w[82] = nop | look_ahead | write_cache | power_management;
        w[83] = 0x4000 | flush_ext | flush | lba48;
        w[84] = 0x4000;
        w[85] = nop | power_management | (if (disk.write_cache) write_cache else 0) | (if (disk.look_ahead) look_ahead else 0);
        w[86] = flush_ext | flush | lba48;
        w[87] = 0x4000;
        for (0..4) |i| w[100 + i] = @truncate(sectors >> @intCast(16 * i));
        w[106] = 0x4000; // one 512-byte logical sector per physical sector
        storeIdentify(&w, &self.response);
    }

    fn cdromIdentify(self: *Drive) void {
        var w = [_]u16{0} ** 256;
        // ATAPI, CD-ROM, removable, DRQ within 50 µs of PACKET (no interrupt), 12-byte packets.
        w[0] = 0b10 << 14 | 0x05 << 8 | 1 << 7 | 0b10 << 5;
        putAtaString(&w, 10, 10, &self.serial);
        putAtaString(&w, 23, 4, firmware_revision);
        putAtaString(&w, 27, 20, cdrom_model);
        self.putTransferModes(&w);
        w[50] = 0x4000;
        w[53] = 0x0006; // words 64-70 and 88 are valid
        w[80] = 0x00F0;
        // NOP, DEVICE RESET, PACKET, power management.
        const supported: u16 = 1 << 14 | 1 << 9 | 1 << 4 | 1 << 3;
        w[82] = supported;
        w[83] = 0x4000;
        w[84] = 0x4000;
        w[85] = supported;
        w[87] = 0x4000;
        storeIdentify(&w, &self.response);
    }

    // The CD-ROM: the ATA commands of the PACKET feature set.

    fn cdromExecute(self: *Drive, cd: *Cdrom, tf: TaskFile) Outcome {
        return switch (tf.command) {
            Command.packet => blk: {
                // Features bit 0 asks for DMA; overlap (bit 1) is not supported and ignored.
                cd.dma = tf.features & 0x01 != 0;
                cd.byte_count_limit = @truncate(tf.lba >> 8);
                cd.cdb = [_]u8{0} ** packet_bytes;
                break :blk self.startTransfer(.packet, .packet, 0, packet_bytes, packet_bytes);
            },
            Command.identify_packet_device => blk: {
                self.cdromIdentify();
                break :blk self.startTransfer(.pio_in, .response, 0, 512, 512);
            },
            // Reset without an interrupt (ATA/ATAPI-7 device reset protocol).
            Command.device_reset => blk: {
                self.reset();
                break :blk .{ .phase = .idle, .interrupt = false };
            },
            Command.execute_device_diagnostic => blk: {
                self.reset();
                break :blk .{ .phase = .idle, .interrupt = true };
            },
            // What a packet device answers to the commands that identify an ATA device: abort,
            // with the signature that tells the host what it found.
            Command.identify_device, Command.read_sectors, Command.read_sectors_no_retry => blk: {
                const outcome = self.fail(error_abrt);
                self.registers.count = 1;
                self.registers.lba = 0xEB_14_01;
                break :blk outcome;
            },
            Command.check_power_mode => blk: {
                const outcome = self.complete();
                self.registers.count = (self.registers.count & 0xFF00) | @as(u16, if (self.standby) 0x00 else 0xFF);
                break :blk outcome;
            },
            Command.standby_immediate, Command.sleep => blk: {
                self.standby = true;
                break :blk self.complete();
            },
            Command.idle_immediate => blk: {
                self.standby = false;
                break :blk self.complete();
            },
            Command.set_features => self.setFeatures(tf),
            else => self.fail(error_abrt),
        };
    }

    /// A PACKET command ended well: status phase (I/O and C/D set).
    fn packetGood(self: *Drive) Outcome {
        const outcome = self.complete();
        self.registers.count = reason_io | reason_cod;
        return outcome;
    }

    /// A PACKET command ended in CHECK CONDITION: the sense key goes to error bits 7:4.
    fn checkCondition(self: *Drive, cd: *Cdrom, sense: Sense) Outcome {
        cd.sense = sense;
        return self.packetFail(@as(u8, sense.key) << 4);
    }

    /// A PACKET command ended in error: status phase (I/O and C/D set) with ERR.
    fn packetFail(self: *Drive, err: u8) Outcome {
        const outcome = self.fail(err);
        self.registers.count = reason_io | reason_cod;
        return outcome;
    }

    fn runPacket(self: *Drive, cd: *Cdrom) Outcome {
        return switch (self.scsiCommand(cd)) {
            .good => self.packetGood(),
            .check => |sense| self.checkCondition(cd, sense),
            .data => |len| if (len == 0) self.packetGood() else self.packetData(cd, .response, 0, len),
            .sectors => |range| if (range.count == 0)
                self.packetGood()
            else
                self.packetData(cd, .medium, range.lba, range.count * cdrom_sector_bytes),
        };
    }

    fn packetData(self: *Drive, cd: *const Cdrom, source: Source, sector: u64, total: u64) Outcome {
        const outcome = self.startTransfer(if (cd.dma) .dma_in else .pio_in, source, sector, total, 0);
        self.transfer.in_packet = true;
        return outcome;
    }

    const Reply = union(enum) {
        good,
        check: Sense,
        /// This many bytes of `response`, already cut to the allocation length.
        data: u32,
        sectors: struct { lba: u64, count: u64 },
    };

    fn respond(len: usize, allocation: u32) Reply {
        assert(len <= response_bytes);
        return .{ .data = @min(@as(u32, @intCast(len)), allocation) };
    }

    /// A zeroed response of `len` bytes.
    fn responseOf(self: *Drive, comptime len: usize) *[len]u8 {
        comptime assert(len <= response_bytes);
        const out = self.response[0..len];
        @memset(out, 0);
        return out;
    }

    fn scsiCommand(self: *Drive, cd: *Cdrom) Reply {
        const cdb = &cd.cdb;
        const opcode = cdb[0];
        if (opcode == Scsi.request_sense) return self.requestSense(cd);
        cd.sense = .{};
        // INQUIRY, GET CONFIGURATION and GET EVENT STATUS NOTIFICATION never report a unit
        // attention (SPC-3 5.9.7, MMC-5); every other command reports it once.
        const attention_exempt = opcode == Scsi.inquiry or opcode == Scsi.get_configuration or
            opcode == Scsi.get_event_status_notification;
        if (cd.unit_attention and !attention_exempt) {
            cd.unit_attention = false;
            return .{ .check = Sense.medium_changed };
        }
        return switch (opcode) {
            Scsi.test_unit_ready => if (cd.present()) .good else .{ .check = cd.notReady() },
            Scsi.inquiry => self.inquiry(cdb),
            Scsi.start_stop_unit => startStopUnit(cd, cdb),
            Scsi.prevent_allow_medium_removal => blk: {
                cd.locked = cdb[4] & 0x01 != 0;
                break :blk .good;
            },
            Scsi.read_capacity => self.readCapacity(cd),
            Scsi.read_10 => readSectors(cd, be32(cdb[2..6]), be16(cdb[7..9])),
            Scsi.read_12 => readSectors(cd, be32(cdb[2..6]), be32(cdb[6..10])),
            Scsi.read_toc => self.readToc(cd, cdb),
            Scsi.get_configuration => self.getConfiguration(cd, cdb),
            Scsi.get_event_status_notification => self.getEventStatus(cd, cdb),
            Scsi.read_disc_information => self.readDiscInformation(cd, cdb),
            Scsi.mode_sense_10 => self.modeSense(cd, cdb),
            Scsi.set_cd_speed => .good,
            Scsi.mechanism_status => self.mechanismStatus(cd, cdb),
            else => .{ .check = Sense.invalid_opcode },
        };
    }

    /// Fixed-format sense data (SPC-3 4.5.3): what the last command left, or a pending unit
    /// attention. Reading it clears it.
    fn requestSense(self: *Drive, cd: *Cdrom) Reply {
        var sense = cd.sense;
        if (sense.key == 0 and cd.unit_attention) {
            sense = Sense.medium_changed;
            cd.unit_attention = false;
        }
        cd.sense = .{};
        const r = self.responseOf(18);
        r[0] = 0x70; // current error, fixed format
        r[2] = sense.key;
        r[7] = 10; // additional sense length
        r[12] = sense.asc;
        r[13] = sense.ascq;
        return respond(r.len, cd.cdb[4]);
    }

    fn inquiry(self: *Drive, cdb: *const [packet_bytes]u8) Reply {
        // No vital product data pages.
        if (cdb[1] & 0x01 != 0 or cdb[2] != 0) return .{ .check = Sense.invalid_field };
        const r = self.responseOf(36);
        r[0] = 0x05; // CD/DVD device
        r[1] = 0x80; // removable
        r[2] = 0x05; // SPC-3
        r[3] = 0x02; // response data format
        r[4] = r.len - 5;
        putPadded(r[8..16], inquiry_vendor);
        putPadded(r[16..32], inquiry_product);
        putPadded(r[32..36], inquiry_revision);
        return respond(r.len, be16(cdb[3..5]));
    }

    fn startStopUnit(cd: *Cdrom, cdb: *const [packet_bytes]u8) Reply {
        const start = cdb[4] & 0x01 != 0;
        const load_eject = cdb[4] & 0x02 != 0;
        if (!load_eject) return .good; // spinning up or down
        if (start) {
            // Close the tray: a disc that was in it is back.
            if (cd.tray_open) {
                cd.tray_open = false;
                if (cd.medium != null) {
                    cd.unit_attention = true;
                    cd.media_event = .new_media;
                }
            }
            return .good;
        }
        if (cd.locked) return .{ .check = Sense.removal_prevented };
        if (!cd.tray_open and cd.medium != null) cd.media_event = .media_removal;
        cd.tray_open = true;
        return .good;
    }

    fn readCapacity(self: *Drive, cd: *Cdrom) Reply {
        if (!cd.present()) return .{ .check = cd.notReady() };
        const r = self.responseOf(8);
        std.mem.writeInt(u32, r[0..4], @intCast(cd.medium.?.sector_count - 1), .big);
        std.mem.writeInt(u32, r[4..8], cdrom_sector_bytes, .big);
        return respond(r.len, r.len);
    }

    fn readSectors(cd: *Cdrom, lba: u32, count: u32) Reply {
        if (!cd.present()) return .{ .check = cd.notReady() };
        const sectors = cd.medium.?.sector_count;
        if (lba > sectors or count > sectors - lba) return .{ .check = Sense.lba_out_of_range };
        return .{ .sectors = .{ .lba = lba, .count = count } };
    }

    /// READ TOC/PMA/ATIP formats 0 (TOC) and 1 (session information): one data track from
    /// LBA 0, and the lead-out.
    fn readToc(self: *Drive, cd: *Cdrom, cdb: *const [packet_bytes]u8) Reply {
        if (!cd.present()) return .{ .check = cd.notReady() };
        const msf = cdb[1] & 0x02 != 0;
        // SFF-8020 put the format in the top bits of byte 9; MMC moved it to byte 2.
        var format = cdb[2] & 0x0F;
        if (format == 0) format = cdb[9] >> 6;
        const track = cdb[6];
        const allocation = be16(cdb[7..9]);
        const data_track: u8 = 0x14; // ADR 1 (Q sub-channel position), control 4 (data track)
        const lead_out: u8 = 0xAA;
        switch (format) {
            0 => {
                if (track > 1 and track != lead_out) return .{ .check = Sense.invalid_field };
                const r = self.responseOf(4 + 2 * 8);
                var len: usize = 4;
                if (track <= 1) {
                    putTocEntry(r[len..][0..8], data_track, 1, 0, msf);
                    len += 8;
                }
                putTocEntry(r[len..][0..8], data_track, lead_out, cd.medium.?.sector_count, msf);
                len += 8;
                std.mem.writeInt(u16, r[0..2], @intCast(len - 2), .big);
                r[2] = 1; // first track
                r[3] = 1; // last track
                return respond(len, allocation);
            },
            1 => {
                const r = self.responseOf(12);
                std.mem.writeInt(u16, r[0..2], 10, .big);
                r[2] = 1; // first session
                r[3] = 1; // last session
                putTocEntry(r[4..12], data_track, 1, 0, msf);
                return respond(r.len, allocation);
            },
            else => return .{ .check = Sense.invalid_field },
        }
    }

    /// GET CONFIGURATION (MMC-5 5.2): profile list, core, removable medium and, with a disc,
    /// random readable. The current profile is CD-ROM or DVD-ROM by the medium's size.
    fn getConfiguration(self: *Drive, cd: *Cdrom, cdb: *const [packet_bytes]u8) Reply {
        const requested = cdb[1] & 0x03;
        if (requested == 3) return .{ .check = Sense.invalid_field };
        const start = be16(cdb[2..4]);
        const allocation = be16(cdb[7..9]);
        const dvd_rom: u16 = 0x0010;
        const cd_rom: u16 = 0x0008;
        const profile: u16 = if (!cd.present()) 0 else if (cd.isDvd()) dvd_rom else cd_rom;
        const r = self.responseOf(8 + 12 + 12 + 8 + 12);
        var len: usize = 8;
        const Feature_ = struct { code: u16, current: bool };
        const features = [_]Feature_{
            .{ .code = 0x0000, .current = true }, // profile list
            .{ .code = 0x0001, .current = true }, // core
            .{ .code = 0x0003, .current = true }, // removable medium
            .{ .code = 0x0010, .current = profile != 0 }, // random readable
        };
        for (features) |feature| {
            const wanted = switch (requested) {
                0 => feature.code >= start,
                1 => feature.code >= start and feature.current,
                else => feature.code == start,
            };
            if (!wanted) continue;
            const f = r[len..];
            std.mem.writeInt(u16, f[0..2], feature.code, .big);
            switch (feature.code) {
                0x0000 => {
                    f[2] = 0x03; // persistent, current
                    f[3] = 8;
                    std.mem.writeInt(u16, f[4..6], dvd_rom, .big);
                    f[6] = @intFromBool(profile == dvd_rom);
                    std.mem.writeInt(u16, f[8..10], cd_rom, .big);
                    f[10] = @intFromBool(profile == cd_rom);
                    len += 12;
                },
                0x0001 => {
                    f[2] = 1 << 2 | 0x03; // version 1, persistent, current
                    f[3] = 8;
                    std.mem.writeInt(u32, f[4..8], 2, .big); // physical interface: ATAPI
                    len += 12;
                },
                0x0003 => {
                    f[2] = 0x03;
                    f[3] = 4;
                    f[4] = 0b001 << 5 | 1 << 3 | 1 << 0; // tray, eject, lock
                    len += 8;
                },
                0x0010 => {
                    f[2] = @intFromBool(feature.current);
                    f[3] = 8;
                    std.mem.writeInt(u32, f[4..8], cdrom_sector_bytes, .big);
                    std.mem.writeInt(u16, f[8..10], if (profile == dvd_rom) 16 else 1, .big); // blocking
                    len += 12;
                },
                else => unreachable,
            }
        }
        std.mem.writeInt(u32, r[0..4], @intCast(len - 4), .big);
        std.mem.writeInt(u16, r[6..8], profile, .big);
        return respond(len, allocation);
    }

    /// GET EVENT STATUS NOTIFICATION, polled only, media class only.
    fn getEventStatus(self: *Drive, cd: *Cdrom, cdb: *const [packet_bytes]u8) Reply {
        if (cdb[1] & 0x01 == 0) return .{ .check = Sense.invalid_field }; // asynchronous
        const media_class: u8 = 1 << 4;
        const allocation = be16(cdb[7..9]);
        const r = self.responseOf(8);
        r[3] = media_class; // supported event classes
        if (cdb[4] & media_class == 0) {
            std.mem.writeInt(u16, r[0..2], 2, .big);
            r[2] = 0x80; // no event available
            return respond(4, allocation);
        }
        std.mem.writeInt(u16, r[0..2], 6, .big);
        r[2] = 4; // media class
        r[4] = @intFromEnum(cd.media_event);
        r[5] = @as(u8, @intFromBool(cd.tray_open)) | @as(u8, @intFromBool(cd.present())) << 1;
        cd.media_event = .none;
        return respond(r.len, allocation);
    }

    /// READ DISC INFORMATION: a finalised single-session disc.
    fn readDiscInformation(self: *Drive, cd: *Cdrom, cdb: *const [packet_bytes]u8) Reply {
        if (cdb[1] & 0x07 != 0) return .{ .check = Sense.invalid_field };
        if (!cd.present()) return .{ .check = cd.notReady() };
        const r = self.responseOf(34);
        std.mem.writeInt(u16, r[0..2], r.len - 2, .big);
        r[2] = 0b11 << 2 | 0b10; // last session complete, disc finalised
        r[3] = 1; // first track on the disc
        r[4] = 1; // sessions
        r[5] = 1; // first track in the last session
        r[6] = 1; // last track in the last session
        std.mem.writeInt(u32, r[16..20], 0xFFFF_FFFF, .big); // no next session
        std.mem.writeInt(u32, r[20..24], 0xFFFF_FFFF, .big);
        return respond(r.len, be16(cdb[7..9]));
    }

    /// MODE SENSE(10): read error recovery (01h) and CD/DVD capabilities (2Ah) pages.
    fn modeSense(self: *Drive, cd: *Cdrom, cdb: *const [packet_bytes]u8) Reply {
        const control = cdb[2] >> 6;
        const page = cdb[2] & 0x3F;
        if (control == 3) return .{ .check = Sense.saving_not_supported };
        if (page != 0x01 and page != 0x2A and page != 0x3F) return .{ .check = Sense.invalid_field };
        const changeable = control == 1;
        const r = self.responseOf(8 + 12 + 22);
        // SFF-8020 medium types: 120 mm data disc, or no disc with the door closed or open.
        r[2] = if (cd.present()) 0x01 else if (cd.tray_open) 0x71 else 0x70;
        var len: usize = 8;
        if (page == 0x01 or page == 0x3F) {
            const p = r[len..][0..12];
            p[0] = 0x01;
            p[1] = 10;
            if (!changeable) p[3] = 5; // read retry count
            len += p.len;
        }
        if (page == 0x2A or page == 0x3F) {
            const p = r[len..][0..22];
            p[0] = 0x2A;
            p[1] = 20;
            if (!changeable) {
                p[2] = 1 << 3 | 1 << 1 | 1 << 0; // reads DVD-ROM, CD-RW, CD-R
                p[4] = 1 << 6; // multi-session
                p[6] = 0b001 << 5 | 1 << 3 | 1 << 0 | @as(u8, @intFromBool(cd.locked)) << 1; // tray, eject, lock
                const speed_kbps: u16 = 24 * 176;
                std.mem.writeInt(u16, p[8..10], speed_kbps, .big); // maximum read speed
                std.mem.writeInt(u16, p[14..16], speed_kbps, .big); // current read speed
            }
            len += p.len;
        }
        std.mem.writeInt(u16, r[0..2], @intCast(len - 2), .big);
        return respond(len, be16(cdb[7..9]));
    }

    fn mechanismStatus(self: *Drive, cd: *Cdrom, cdb: *const [packet_bytes]u8) Reply {
        const r = self.responseOf(8);
        r[1] = @as(u8, @intFromBool(cd.tray_open)) << 4; // idle mechanism; door open
        return respond(r.len, be16(cdb[8..10]));
    }
};

/// The DRQ block for `remaining` bytes of an ATAPI PIO transfer under the byte count limit the
/// host set with PACKET. 0 is no limit a host may set; it is taken as the largest. Blocks before
/// the last are even, and whole sectors when the limit holds one.
fn atapiBlockBytes(limit_register: u16, remaining: u64, sectors: bool) u64 {
    const limit: u64 = if (limit_register == 0) max_pio_block_bytes else @min(limit_register, max_pio_block_bytes);
    if (remaining <= limit) return remaining;
    var block = @max(limit & ~@as(u64, 1), 2);
    if (sectors and block >= cdrom_sector_bytes) block -= block % cdrom_sector_bytes;
    return block;
}

fn paddedSerial(serial: []const u8) [20]u8 {
    assert(serial.len <= 20);
    var out = [_]u8{' '} ** 20;
    @memcpy(out[0..serial.len], serial);
    return out;
}

/// An ATA string: two characters a word, the first in the high byte, padded with spaces.
fn putAtaString(w: *[256]u16, first_word: usize, word_count: usize, text: []const u8) void {
    assert(text.len <= word_count * 2);
    for (0..word_count * 2) |i| {
        const c: u16 = if (i < text.len) text[i] else ' ';
        w[first_word + i / 2] |= if (i % 2 == 0) c << 8 else c;
    }
}

/// Little-endian words, with the integrity word 255: signature A5h, and a checksum that makes
/// all 512 bytes sum to zero.
fn storeIdentify(w: *[256]u16, out: *[response_bytes]u8) void {
    w[255] = 0x00A5;
    for (w, 0..) |word, i| std.mem.writeInt(u16, out[i * 2 ..][0..2], word, .little);
    var sum: u8 = 0;
    for (out[0..511]) |byte| sum +%= byte;
    out[511] = 0 -% sum;
}

fn putPadded(out: []u8, text: []const u8) void {
    assert(text.len <= out.len);
    @memset(out, ' ');
    @memcpy(out[0..text.len], text);
}

/// A TOC track descriptor: ADR/control, track number, and its start as LBA or MSF.
fn putTocEntry(out: *[8]u8, adr_control: u8, track: u8, lba: u64, msf: bool) void {
    out.* = .{ 0, adr_control, track, 0, 0, 0, 0, 0 };
    putAddress(out[4..8], lba, msf);
}

/// MSF addresses count from 00:02:00 at LBA 0; beyond 255 minutes they stop at FF:3B:4A.
fn putAddress(out: *[4]u8, lba: u64, msf: bool) void {
    if (!msf) {
        std.mem.writeInt(u32, out, @intCast(lba), .big);
        return;
    }
    const frames = lba + 150;
    const minutes = frames / (60 * 75);
    if (minutes > 0xFF) {
        out.* = .{ 0, 0xFF, 0x3B, 0x4A };
        return;
    }
    out.* = .{ 0, @intCast(minutes), @intCast(frames / 75 % 60), @intCast(frames % 75) };
}

fn be16(bytes: *const [2]u8) u16 {
    return std.mem.readInt(u16, bytes, .big);
}

fn be32(bytes: *const [4]u8) u32 {
    return std.mem.readInt(u32, bytes, .big);
}

const testing = std.testing;

/// Test double for a huge medium: reads zeros, forgets writes, counts calls.
const ZeroBackend = struct {
    calls: u32 = 0,

    fn readSectors(context: *anyopaque, sector: u64, out: []u8) bool {
        _ = sector;
        const self: *ZeroBackend = @ptrCast(@alignCast(context));
        self.calls += 1;
        @memset(out, 0);
        return true;
    }

    fn writeSectors(context: *anyopaque, sector: u64, data: []const u8) bool {
        _ = sector;
        _ = data;
        const self: *ZeroBackend = @ptrCast(@alignCast(context));
        self.calls += 1;
        return true;
    }

    fn flush(context: *anyopaque) bool {
        const self: *ZeroBackend = @ptrCast(@alignCast(context));
        self.calls += 1;
        return true;
    }

    fn backend(self: *ZeroBackend, sector_bytes: u32, sector_count: u64, read_only: bool) Backend {
        return .{
            .context = self,
            .sector_bytes = sector_bytes,
            .sector_count = sector_count,
            .read_only = read_only,
            .readFn = readSectors,
            .writeFn = writeSectors,
            .flushFn = flush,
        };
    }
};

/// A medium in memory with a recognisable pattern: byte i of sector s is (s * 7 + i) mod 251.
fn patternedMedium(sector_bytes: u32, sector_count: usize) !MemoryBackend {
    const bytes = try testing.allocator.alloc(u8, sector_bytes * sector_count);
    for (bytes, 0..) |*byte, i| byte.* = @intCast(((i / sector_bytes) * 7 + i % sector_bytes) % 251);
    return .{ .bytes = bytes, .sector_bytes = sector_bytes };
}

/// What a minimal transport saw while running a command to its end.
const Run = struct {
    in_bytes: usize = 0,
    out_bytes: usize = 0,
    /// Outcomes with `interrupt` set, the final one included.
    interrupts: u32 = 0,
    /// Data and packet phases.
    phases: u32 = 0,
    /// The bytes of each of the first PIO blocks, and whether each interrupted.
    block_bytes: [8]u64 = [_]u64{0} ** 8,
    block_interrupts: [8]bool = [_]bool{false} ** 8,
    final: Outcome = undefined,
};

/// A minimal transport: runs a command to its end, moving data in pieces of at most `chunk` bytes.
fn runCommand(drive: *Drive, tf: TaskFile, packet: ?[]const u8, in: []u8, out: []const u8, chunk: usize) Run {
    var run = Run{};
    var outcome = drive.execute(tf);
    while (outcome.phase != .idle) {
        assert(run.phases < 100_000);
        if (run.phases < run.block_bytes.len) {
            run.block_bytes[run.phases] = outcome.bytes;
            run.block_interrupts[run.phases] = outcome.interrupt;
        }
        run.phases += 1;
        if (outcome.interrupt) run.interrupts += 1;
        var left: usize = @intCast(outcome.bytes);
        var packet_offset: usize = 0;
        while (left > 0) {
            const n = @min(chunk, left);
            const ok = switch (outcome.phase) {
                .packet => blk: {
                    var cdb = [_]u8{0} ** packet_bytes;
                    @memcpy(cdb[0..packet.?.len], packet.?);
                    defer packet_offset += n;
                    break :blk drive.writeData(cdb[packet_offset..][0..n]);
                },
                .pio_in, .dma_in => blk: {
                    const ok = drive.readData(in[run.in_bytes..][0..n]);
                    if (ok) run.in_bytes += n;
                    break :blk ok;
                },
                .pio_out, .dma_out => blk: {
                    const ok = drive.writeData(out[run.out_bytes..][0..n]);
                    if (ok) run.out_bytes += n;
                    break :blk ok;
                },
                .idle => unreachable,
            };
            if (!ok) break;
            left -= n;
        }
        outcome = drive.finishData();
    }
    if (outcome.interrupt) run.interrupts += 1;
    run.final = outcome;
    return run;
}

fn tf28(command: u8, lba: u28, count: u8) TaskFile {
    return .{ .command = command, .count = count, .lba = lba & 0xFF_FFFF, .device = device_lba | @as(u8, @intCast(lba >> 24)) };
}

fn tf48(command: u8, lba: u48, count: u16) TaskFile {
    return .{ .command = command, .count = count, .lba = lba, .device = device_lba };
}

fn identifyWord(data: []const u8, word: usize) u16 {
    return std.mem.readInt(u16, data[word * 2 ..][0..2], .little);
}

/// Decodes an ATA string (the first character of each pair in the high byte).
fn identifyString(data: []const u8, first_word: usize, word_count: usize, out: []u8) []const u8 {
    for (0..word_count) |i| {
        const word = identifyWord(data, first_word + i);
        out[i * 2] = @intCast(word >> 8);
        out[i * 2 + 1] = @truncate(word);
    }
    return std.mem.trimRight(u8, out[0 .. word_count * 2], " ");
}

fn expectChecksum(data: []const u8) !void {
    try testing.expectEqual(@as(u8, 0xA5), data[510]);
    var sum: u8 = 0;
    for (data[0..512]) |byte| sum +%= byte;
    try testing.expectEqual(@as(u8, 0), sum);
}

fn expectSuccess(drive: *const Drive) !void {
    try testing.expectEqual(@as(u8, 0), drive.registers.status & (status_err | status_drq | status_bsy));
    try testing.expect(drive.registers.status & status_drdy != 0);
}

fn expectError(drive: *const Drive, err: u8) !void {
    try testing.expectEqual(status_err, drive.registers.status & (status_err | status_drq | status_bsy));
    try testing.expectEqual(err, drive.registers.err);
}

test "IDENTIFY DEVICE: strings, capacity words, feature bits and the integrity word" {
    var zero = ZeroBackend{};
    // 2^28 + 5 sectors: more than 28-bit commands reach.
    const sectors: u64 = (1 << 28) + 5;
    var drive = Drive.initDisk(zero.backend(512, sectors, false), .{ .serial = "SN-42" });
    var data: [512]u8 = undefined;
    const run = runCommand(&drive, .{ .command = Command.identify_device }, null, &data, &.{}, 512);
    try testing.expectEqual(@as(usize, 512), run.in_bytes);
    try testing.expectEqual(@as(u32, 1), run.phases);
    try testing.expectEqual(@as(u32, 1), run.interrupts); // the block's; none after it
    try expectSuccess(&drive);
    try expectChecksum(&data);

    var text: [40]u8 = undefined;
    try testing.expectEqualStrings("VMCTL HARDDISK", identifyString(&data, 27, 20, &text));
    try testing.expectEqualStrings("SN-42", identifyString(&data, 10, 10, &text));
    try testing.expectEqualStrings("1.0", identifyString(&data, 23, 4, &text));
    try testing.expectEqual(@as(u16, 0x0040), identifyWord(&data, 0));
    try testing.expectEqual(@as(u16, 16383), identifyWord(&data, 1));
    try testing.expectEqual(@as(u16, 16), identifyWord(&data, 3));
    try testing.expectEqual(@as(u16, 63), identifyWord(&data, 6));
    try testing.expectEqual(@as(u16, 0x8010), identifyWord(&data, 47));
    try testing.expect(identifyWord(&data, 49) & (1 << 9 | 1 << 8) == 1 << 9 | 1 << 8); // LBA, DMA
    try testing.expectEqual(@as(u16, 0x0110), identifyWord(&data, 59));
    // Words 60-61 stop at 0x0FFFFFFF; 100-103 hold the whole size.
    try testing.expectEqual(@as(u16, 0xFFFF), identifyWord(&data, 60));
    try testing.expectEqual(@as(u16, 0x0FFF), identifyWord(&data, 61));
    try testing.expectEqual(@as(u16, 5), identifyWord(&data, 100));
    try testing.expectEqual(@as(u16, 0x1000), identifyWord(&data, 101));
    try testing.expectEqual(@as(u16, 0), identifyWord(&data, 102));
    try testing.expectEqual(@as(u16, 0x0407), identifyWord(&data, 63)); // MWDMA 2 selected
    try testing.expectEqual(@as(u16, 0x003F), identifyWord(&data, 88));
    // Write cache, FLUSH CACHE (EXT) and 48-bit addresses: supported and enabled.
    try testing.expect(identifyWord(&data, 82) & (1 << 5) != 0);
    try testing.expect(identifyWord(&data, 85) & (1 << 5) != 0);
    try testing.expectEqual(@as(u16, 0x7400), identifyWord(&data, 83) & 0xFC00);
    try testing.expectEqual(@as(u16, 0x3400), identifyWord(&data, 86) & 0x3400);
    try testing.expectEqual(@as(u32, 0), zero.calls);

    // A small disk: words 60-61 and 100-103 agree.
    var small = ZeroBackend{};
    var little = Drive.initDisk(small.backend(512, 20160, false), .{});
    _ = runCommand(&little, .{ .command = Command.identify_device }, null, &data, &.{}, 100);
    try expectChecksum(&data);
    try testing.expectEqual(@as(u16, 20160), identifyWord(&data, 60));
    try testing.expectEqual(@as(u16, 0), identifyWord(&data, 61));
    try testing.expectEqual(@as(u16, 20160), identifyWord(&data, 100));
    try testing.expectEqual(@as(u16, 20), identifyWord(&data, 1));
    try testing.expectEqual(@as(u16, 20160), identifyWord(&data, 57));
}

test "READ SECTORS moves one sector per block, READ MULTIPLE one block per interrupt" {
    var medium = try patternedMedium(512, 64);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initDisk(medium.backend(), .{});
    var data: [40 * 512]u8 = undefined;

    var run = runCommand(&drive, tf28(Command.read_sectors, 3, 5), null, &data, &.{}, 512);
    try testing.expectEqual(@as(u32, 5), run.phases);
    try testing.expectEqual(@as(u32, 5), run.interrupts);
    try testing.expectEqual(@as(u64, 512), run.block_bytes[4]);
    try testing.expectEqualSlices(u8, medium.bytes[3 * 512 ..][0 .. 5 * 512], data[0 .. 5 * 512]);
    try expectSuccess(&drive);
    try testing.expectEqual(@as(u16, 5), drive.registers.count);

    // 16 sectors a block by default; 40 sectors = 16 + 16 + 8.
    run = runCommand(&drive, tf28(Command.read_multiple, 10, 40), null, &data, &.{}, 2);
    try testing.expectEqual(@as(u32, 3), run.phases);
    try testing.expectEqual(@as(u64, 8 * 512), run.block_bytes[2]);
    try testing.expectEqualSlices(u8, medium.bytes[10 * 512 ..][0 .. 40 * 512], &data);

    // SET MULTIPLE MODE: powers of two up to 16; 0 turns multiple mode off.
    _ = runCommand(&drive, .{ .command = Command.set_multiple_mode, .count = 3 }, null, &.{}, &.{}, 1);
    try expectError(&drive, error_abrt);
    _ = runCommand(&drive, .{ .command = Command.set_multiple_mode, .count = 32 }, null, &.{}, &.{}, 1);
    try expectError(&drive, error_abrt);
    _ = runCommand(&drive, .{ .command = Command.set_multiple_mode, .count = 4 }, null, &.{}, &.{}, 1);
    try expectSuccess(&drive);
    run = runCommand(&drive, tf48(Command.read_multiple_ext, 0, 9), null, &data, &.{}, 512);
    try testing.expectEqual(@as(u32, 3), run.phases);
    try testing.expectEqual(@as(u64, 2048), run.block_bytes[0]);
    try testing.expectEqual(@as(u64, 512), run.block_bytes[2]);
    _ = runCommand(&drive, .{ .command = Command.set_multiple_mode, .count = 0 }, null, &.{}, &.{}, 1);
    run = runCommand(&drive, tf28(Command.read_multiple, 0, 1), null, &data, &.{}, 512);
    try testing.expectEqual(@as(u32, 0), run.phases);
    try expectError(&drive, error_abrt);
    var identify: [512]u8 = undefined;
    _ = runCommand(&drive, .{ .command = Command.identify_device }, null, &identify, &.{}, 512);
    try testing.expectEqual(@as(u16, 0x0100), identifyWord(&identify, 59));
}

test "WRITE SECTORS and WRITE MULTIPLE: no interrupt before the first block, one after each" {
    var medium = try patternedMedium(512, 64);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initDisk(medium.backend(), .{});
    var data: [20 * 512]u8 = undefined;
    for (&data, 0..) |*byte, i| byte.* = @truncate(i * 13 + 1);

    var run = runCommand(&drive, tf28(Command.write_sectors, 7, 2), null, &.{}, &data, 512);
    try testing.expectEqual(@as(u32, 2), run.phases);
    try testing.expect(!run.block_interrupts[0]);
    try testing.expect(run.block_interrupts[1]);
    try testing.expectEqual(@as(u32, 2), run.interrupts); // second block, completion
    try testing.expect(run.final.interrupt);
    try testing.expectEqualSlices(u8, data[0..1024], medium.bytes[7 * 512 ..][0..1024]);

    run = runCommand(&drive, tf48(Command.write_multiple_ext, 30, 20), null, &.{}, &data, 3);
    try testing.expectEqual(@as(u32, 2), run.phases);
    try testing.expectEqual(@as(u64, 16 * 512), run.block_bytes[0]);
    try testing.expectEqualSlices(u8, &data, medium.bytes[30 * 512 ..][0 .. 20 * 512]);
    try testing.expectEqual(@as(u32, 0), medium.flushes);
    try expectSuccess(&drive);
}

test "DMA transfers move in chunks of any size, partial sectors included" {
    var medium = try patternedMedium(512, 64);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initDisk(medium.backend(), .{});
    var data: [9 * 512]u8 = undefined;
    for ([_]usize{ 1, 2, 7, 511, 513, 4000, 9 * 512 }) |chunk| {
        @memset(&data, 0);
        const run = runCommand(&drive, tf28(Command.read_dma, 20, 9), null, &data, &.{}, chunk);
        try testing.expectEqual(@as(u32, 1), run.phases);
        try testing.expectEqual(@as(u64, 9 * 512), run.block_bytes[0]);
        try testing.expect(!run.block_interrupts[0]);
        try testing.expect(run.final.interrupt);
        try testing.expectEqualSlices(u8, medium.bytes[20 * 512 ..][0 .. 9 * 512], &data);
    }
    // Writes in odd pieces land whole, and a read straight after sees them (no stale staging).
    for (&data, 0..) |*byte, i| byte.* = @truncate(i * 3);
    _ = runCommand(&drive, tf48(Command.write_dma_ext, 40, 9), null, &.{}, &data, 77);
    try expectSuccess(&drive);
    try testing.expectEqualSlices(u8, &data, medium.bytes[40 * 512 ..][0 .. 9 * 512]);
    var back: [9 * 512]u8 = undefined;
    _ = runCommand(&drive, tf28(Command.read_dma, 40, 9), null, &back, &.{}, 100);
    try testing.expectEqualSlices(u8, &data, &back);

    // A transport that gives up part way aborts the command.
    var outcome = drive.execute(tf28(Command.read_dma, 0, 4));
    try testing.expectEqual(Phase.dma_in, outcome.phase);
    try testing.expect(drive.readData(back[0..100]));
    try testing.expectEqual(@as(u64, 4 * 512 - 100), drive.remainingBytes());
    outcome = drive.abortData();
    try testing.expect(outcome.interrupt and outcome.phase == .idle);
    try expectError(&drive, error_abrt);
    // So does one that calls finishData early.
    _ = drive.execute(tf28(Command.read_dma, 0, 4));
    try testing.expect(drive.readData(back[0..10]));
    _ = drive.finishData();
    try expectError(&drive, error_abrt);
}

test "LBA48 addresses and counts: 0 is 65536 sectors, 28-bit 0 is 256" {
    var zero = ZeroBackend{};
    var drive = Drive.initDisk(zero.backend(512, 1 << 40, false), .{});
    const outcome = drive.execute(tf48(Command.read_dma_ext, (1 << 40) - 65536, 0));
    try testing.expectEqual(Phase.dma_in, outcome.phase);
    try testing.expectEqual(@as(u64, 65536 * 512), outcome.bytes);
    const small = drive.execute(tf28(Command.read_dma, 0, 0));
    try testing.expectEqual(@as(u64, 256 * 512), small.bytes);
    // The 28-bit address includes device bits 3:0.
    _ = drive.execute(tf48(Command.read_dma_ext, (1 << 40) - 65535, 0));
    try expectError(&drive, error_idnf);
}

test "out-of-range addresses and counts fail with IDNF, read-only writes with ABRT, and no backend call" {
    var medium = try patternedMedium(512, 100);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initDisk(medium.backend(), .{});
    const cases = [_]TaskFile{
        tf28(Command.read_sectors, 100, 1),
        tf28(Command.read_sectors, 99, 2),
        tf28(Command.read_dma, 0, 0), // 256 sectors
        tf48(Command.read_sectors_ext, 1 << 47, 1),
        tf48(Command.write_dma_ext, 0xFFFF_FFFF_FFFF, 0xFFFF),
        tf28(Command.write_multiple, 98, 3),
        tf28(Command.read_verify_sectors, 100, 1),
        tf28(Command.seek, 100, 0),
    };
    for (cases) |tf| {
        const outcome = drive.execute(tf);
        try testing.expectEqual(Phase.idle, outcome.phase);
        try testing.expect(outcome.interrupt);
        try expectError(&drive, error_idnf);
    }
    _ = runCommand(&drive, tf28(Command.read_verify_sectors, 90, 10), null, &.{}, &.{}, 1);
    try expectSuccess(&drive);
    try testing.expectEqual(@as(u32, 0), medium.reads + medium.writes);

    var read_only = try patternedMedium(512, 100);
    defer testing.allocator.free(read_only.bytes);
    read_only.read_only = true;
    var cdless = Drive.initDisk(read_only.backend(), .{});
    for ([_]TaskFile{ tf28(Command.write_sectors, 0, 1), tf28(Command.write_dma, 5, 1), tf48(Command.write_multiple_ext, 0, 1) }) |tf| {
        try testing.expectEqual(Phase.idle, cdless.execute(tf).phase);
        try expectError(&cdless, error_abrt);
    }
    try testing.expectEqual(@as(u32, 0), read_only.writes);
    var data: [512]u8 = undefined;
    _ = runCommand(&cdless, tf28(Command.read_sectors, 0, 1), null, &data, &.{}, 512);
    try expectSuccess(&cdless);
}

test "medium errors: UNC with the failing LBA on reads, ABRT on writes" {
    var medium = try patternedMedium(512, 100);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initDisk(medium.backend(), .{});
    var data: [4 * 512]u8 = undefined;
    medium.fail_reads = true;
    var run = runCommand(&drive, tf28(Command.read_sectors, 0x45, 4), null, &data, &.{}, 512);
    try testing.expectEqual(@as(usize, 0), run.in_bytes);
    try testing.expect(run.final.interrupt);
    try expectError(&drive, error_unc);
    try testing.expectEqual(@as(u48, 0x45), drive.registers.lba & 0xFF_FFFF);
    run = runCommand(&drive, tf48(Command.read_dma_ext, 0x51, 4), null, &data, &.{}, 512);
    try expectError(&drive, error_unc);
    try testing.expectEqual(@as(u48, 0x51), drive.registers.lba);
    medium.fail_reads = false;
    medium.fail_writes = true;
    run = runCommand(&drive, tf28(Command.write_dma, 0, 4), null, &.{}, &data, 512);
    try expectError(&drive, error_abrt);
}

test "FLUSH CACHE (EXT) calls the backend; without a write cache every write is flushed" {
    var medium = try patternedMedium(512, 16);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initDisk(medium.backend(), .{});
    _ = runCommand(&drive, .{ .command = Command.flush_cache }, null, &.{}, &.{}, 1);
    try expectSuccess(&drive);
    _ = runCommand(&drive, .{ .command = Command.flush_cache_ext }, null, &.{}, &.{}, 1);
    try testing.expectEqual(@as(u32, 2), medium.flushes);
    medium.fail_flushes = true;
    const run = runCommand(&drive, .{ .command = Command.flush_cache }, null, &.{}, &.{}, 1);
    try testing.expect(run.final.interrupt);
    try expectError(&drive, error_abrt);
    medium.fail_flushes = false;

    var data = [_]u8{0x5A} ** 512;
    _ = runCommand(&drive, tf28(Command.write_sectors, 1, 1), null, &.{}, &data, 512);
    try testing.expectEqual(@as(u32, 3), medium.flushes);
    _ = runCommand(&drive, .{ .command = Command.set_features, .features = Feature.disable_write_cache }, null, &.{}, &.{}, 1);
    try expectSuccess(&drive);
    _ = runCommand(&drive, tf28(Command.write_sectors, 1, 1), null, &.{}, &data, 512);
    try testing.expectEqual(@as(u32, 4), medium.flushes);
    _ = runCommand(&drive, tf28(Command.read_sectors, 1, 1), null, &data, &.{}, 512);
    try testing.expectEqual(@as(u32, 4), medium.flushes);
    var identify: [512]u8 = undefined;
    _ = runCommand(&drive, .{ .command = Command.identify_device }, null, &identify, &.{}, 512);
    try testing.expectEqual(@as(u16, 0), identifyWord(&identify, 85) & (1 << 5));
    try testing.expect(identifyWord(&identify, 82) & (1 << 5) != 0);
}

test "SET FEATURES transfer modes show in IDENTIFY; unknown subcommands abort" {
    var zero = ZeroBackend{};
    var drive = Drive.initDisk(zero.backend(512, 1000, false), .{});
    var identify: [512]u8 = undefined;
    const set_mode = struct {
        fn tf(mode: u8) TaskFile {
            return .{ .command = Command.set_features, .features = Feature.set_transfer_mode, .count = mode };
        }
    }.tf;
    _ = runCommand(&drive, set_mode(0x45), null, &.{}, &.{}, 1); // UDMA 5
    try expectSuccess(&drive);
    _ = runCommand(&drive, .{ .command = Command.identify_device }, null, &identify, &.{}, 512);
    try testing.expectEqual(@as(u16, 0x2000 | 0x3F), identifyWord(&identify, 88));
    try testing.expectEqual(@as(u16, 0x0007), identifyWord(&identify, 63));
    _ = runCommand(&drive, set_mode(0x21), null, &.{}, &.{}, 1); // MWDMA 1
    _ = runCommand(&drive, set_mode(0x0C), null, &.{}, &.{}, 1); // PIO 4 leaves DMA alone
    try expectSuccess(&drive);
    _ = runCommand(&drive, .{ .command = Command.identify_device }, null, &identify, &.{}, 512);
    try testing.expectEqual(@as(u16, 0x0207), identifyWord(&identify, 63));
    try testing.expectEqual(@as(u16, 0x003F), identifyWord(&identify, 88));
    try expectChecksum(&identify);
    for ([_]u8{ 0x46, 0x23, 0x0D, 0x10, 0x02, 0xFF }) |mode| {
        _ = runCommand(&drive, set_mode(mode), null, &.{}, &.{}, 1);
        try expectError(&drive, error_abrt);
    }
    _ = runCommand(&drive, .{ .command = Command.set_features, .features = 0x05 }, null, &.{}, &.{}, 1);
    try expectError(&drive, error_abrt);
    _ = runCommand(&drive, .{ .command = Command.set_features, .features = Feature.disable_read_look_ahead }, null, &.{}, &.{}, 1);
    try expectSuccess(&drive);
}

test "CHS addressing through the default and an initialised geometry" {
    var medium = try patternedMedium(512, 16 * 63 * 3);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initDisk(medium.backend(), .{});
    var data: [512]u8 = undefined;
    // Cylinder 1, head 2, sector 5 = (1 * 16 + 2) * 63 + 4.
    const chs = TaskFile{ .command = Command.read_sectors, .count = 1, .lba = 1 << 8 | 5, .device = 0xA2 };
    _ = runCommand(&drive, chs, null, &data, &.{}, 512);
    try expectSuccess(&drive);
    try testing.expectEqualSlices(u8, medium.bytes[((1 * 16 + 2) * 63 + 4) * 512 ..][0..512], &data);
    // Sector 0, sector past the track, head past the heads, cylinder past the disk.
    for ([_]TaskFile{
        .{ .command = Command.read_sectors, .count = 1, .lba = 0, .device = 0xA0 },
        .{ .command = Command.read_sectors, .count = 1, .lba = 64, .device = 0xA0 },
        .{ .command = Command.read_sectors, .count = 1, .lba = 3 << 8 | 1, .device = 0xA0 },
    }) |tf| {
        _ = drive.execute(tf);
        try expectError(&drive, error_idnf);
    }
    // INITIALIZE DEVICE PARAMETERS: 4 heads, 32 sectors a track.
    _ = runCommand(&drive, .{ .command = Command.initialize_device_parameters, .count = 32, .device = 0xA3 }, null, &.{}, &.{}, 1);
    try expectSuccess(&drive);
    _ = runCommand(&drive, .{ .command = Command.read_sectors, .count = 1, .lba = 2 << 8 | 1, .device = 0xA1 }, null, &data, &.{}, 512);
    try testing.expectEqualSlices(u8, medium.bytes[((2 * 4 + 1) * 32) * 512 ..][0..512], &data);
    var identify: [512]u8 = undefined;
    _ = runCommand(&drive, .{ .command = Command.identify_device }, null, &identify, &.{}, 512);
    try testing.expectEqual(@as(u16, 4), identifyWord(&identify, 55));
    try testing.expectEqual(@as(u16, 32), identifyWord(&identify, 56));
    try testing.expectEqual(@as(u16, 16 * 63 * 3 / 128), identifyWord(&identify, 54));
    try testing.expectEqual(@as(u16, 16), identifyWord(&identify, 3)); // the default stays
    _ = runCommand(&drive, .{ .command = Command.initialize_device_parameters, .count = 0 }, null, &.{}, &.{}, 1);
    try expectError(&drive, error_abrt);
}

test "non-data disk commands: power modes, NOP, diagnostics, packet commands" {
    var zero = ZeroBackend{};
    var drive = Drive.initDisk(zero.backend(512, 1000, false), .{});
    _ = runCommand(&drive, .{ .command = Command.check_power_mode }, null, &.{}, &.{}, 1);
    try testing.expectEqual(@as(u16, 0xFF), drive.registers.count & 0xFF);
    for ([_]u8{ Command.standby_immediate, Command.standby, Command.sleep }) |command| {
        _ = runCommand(&drive, .{ .command = Command.idle_immediate }, null, &.{}, &.{}, 1);
        _ = runCommand(&drive, .{ .command = command }, null, &.{}, &.{}, 1);
        try expectSuccess(&drive);
        _ = runCommand(&drive, .{ .command = Command.check_power_mode }, null, &.{}, &.{}, 1);
        try testing.expectEqual(@as(u16, 0x00), drive.registers.count & 0xFF);
    }
    _ = runCommand(&drive, tf28(Command.seek, 10, 0), null, &.{}, &.{}, 1);
    _ = runCommand(&drive, .{ .command = Command.check_power_mode }, null, &.{}, &.{}, 1);
    try testing.expectEqual(@as(u16, 0xFF), drive.registers.count & 0xFF);
    _ = runCommand(&drive, .{ .command = Command.recalibrate + 3 }, null, &.{}, &.{}, 1);
    try expectSuccess(&drive);

    // A disk aborts what only packet devices do, and shows no ATAPI signature doing so.
    for ([_]u8{ Command.nop, Command.device_reset, Command.packet, Command.identify_packet_device, 0xB0, 0xFF }) |command| {
        const tf = TaskFile{ .command = command, .lba = 0x33_22_11, .count = 7 };
        const run = runCommand(&drive, tf, null, &.{}, &.{}, 1);
        try testing.expectEqual(@as(u32, 0), run.phases);
        try testing.expect(run.final.interrupt);
        try expectError(&drive, error_abrt);
        try testing.expectEqual(@as(u48, 0x33_22_11), drive.registers.lba);
    }
    const run = runCommand(&drive, .{ .command = Command.execute_device_diagnostic }, null, &.{}, &.{}, 1);
    try testing.expect(run.final.interrupt);
    try testing.expectEqual(error_diagnostic_passed, drive.registers.err);
    try testing.expectEqual(@as(u16, 1), drive.registers.count);
    try testing.expectEqual(@as(u48, 1), drive.registers.lba);
    try testing.expectEqual(status_drdy | status_dsc, drive.registers.status);
}

/// A disc of `sectors` 2048-byte sectors, patterned.
fn disc(sectors: usize) !MemoryBackend {
    var medium = try patternedMedium(2048, sectors);
    medium.read_only = true;
    return medium;
}

fn packetCommand(drive: *Drive, cdb: []const u8, byte_count_limit: u16, in: []u8) Run {
    const tf = TaskFile{ .command = Command.packet, .lba = @as(u48, byte_count_limit) << 8 };
    return runCommand(drive, tf, cdb, in, &.{}, 4096);
}

/// The sense data REQUEST SENSE returns now.
fn senseOf(drive: *Drive) !Sense {
    var data: [18]u8 = undefined;
    const run = packetCommand(drive, &.{ Scsi.request_sense, 0, 0, 0, 18 }, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 18), run.in_bytes);
    try testing.expectEqual(@as(u8, 0x70), data[0]);
    return .{ .key = @intCast(data[2]), .asc = data[12], .ascq = data[13] };
}

fn expectGood(drive: *const Drive) !void {
    try expectSuccess(drive);
    try testing.expectEqual(@as(u16, reason_io | reason_cod), drive.registers.count & 0xFF);
}

fn expectCheck(drive: *Drive, sense: Sense) !void {
    try testing.expectEqual(status_err, drive.registers.status & (status_err | status_drq | status_bsy));
    try testing.expectEqual(@as(u8, sense.key) << 4, drive.registers.err);
    try testing.expectEqual(@as(u16, reason_io | reason_cod), drive.registers.count & 0xFF);
    try testing.expectEqual(sense, try senseOf(drive));
}

test "ATAPI: signature after reset and on IDENTIFY DEVICE; IDENTIFY PACKET DEVICE" {
    var medium = try disc(10);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initCdrom(medium.backend(), .{ .serial = "CD-1" });
    try testing.expect(drive.isPacketDevice());
    try testing.expectEqual(@as(u48, 0xEB_14_01), drive.registers.lba);
    try testing.expectEqual(@as(u16, 1), drive.registers.count);
    try testing.expectEqual(@as(u8, 0), drive.registers.status);
    try testing.expectEqual(error_diagnostic_passed, drive.registers.err);

    for ([_]u8{ Command.identify_device, Command.read_sectors }) |command| {
        const run = runCommand(&drive, .{ .command = command, .lba = 0x77 }, null, &.{}, &.{}, 1);
        try testing.expectEqual(@as(u32, 0), run.phases);
        try testing.expect(run.final.interrupt);
        try testing.expect(drive.registers.status & status_err != 0);
        try testing.expectEqual(error_abrt, drive.registers.err);
        try testing.expectEqual(@as(u48, 0xEB_14_01), drive.registers.lba);
        try testing.expectEqual(@as(u16, 1), drive.registers.count);
    }

    var data: [512]u8 = undefined;
    const run = runCommand(&drive, .{ .command = Command.identify_packet_device }, null, &data, &.{}, 512);
    try testing.expectEqual(@as(usize, 512), run.in_bytes);
    try testing.expectEqual(@as(u32, 1), run.interrupts);
    try expectChecksum(&data);
    try testing.expectEqual(@as(u16, 0x85C0), identifyWord(&data, 0));
    var text: [40]u8 = undefined;
    try testing.expectEqualStrings("VMCTL CD-ROM", identifyString(&data, 27, 20, &text));
    try testing.expectEqualStrings("CD-1", identifyString(&data, 10, 10, &text));
    try testing.expect(identifyWord(&data, 49) & (1 << 9 | 1 << 8) == 1 << 9 | 1 << 8);
    try testing.expect(identifyWord(&data, 82) & (1 << 4) != 0); // PACKET
    try testing.expectEqual(@as(u16, 0), identifyWord(&data, 60));

    // DEVICE RESET posts the signature without an interrupt; diagnostics with one.
    _ = drive.execute(.{ .command = Command.packet });
    const reset = drive.execute(.{ .command = Command.device_reset });
    try testing.expect(!reset.interrupt and reset.phase == .idle);
    try testing.expectEqual(@as(u48, 0xEB_14_01), drive.registers.lba);
    try testing.expectEqual(@as(u8, 0), drive.registers.status);
    const diagnostic = drive.execute(.{ .command = Command.execute_device_diagnostic });
    try testing.expect(diagnostic.interrupt);
    try testing.expectEqual(@as(u48, 0xEB_14_01), drive.registers.lba);
    _ = runCommand(&drive, .{ .command = Command.nop }, null, &.{}, &.{}, 1);
    try testing.expectEqual(error_abrt, drive.registers.err);
    _ = runCommand(&drive, .{ .command = Command.check_power_mode }, null, &.{}, &.{}, 1);
    try testing.expectEqual(@as(u16, 0xFF), drive.registers.count & 0xFF);
}

test "ATAPI packet phase, then unit attention once, TEST UNIT READY, INQUIRY and READ CAPACITY" {
    var medium = try disc(300);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initCdrom(medium.backend(), .{});

    // The packet phase: 12 bytes out, command/data set, no interrupt.
    const packet = drive.execute(.{ .command = Command.packet, .lba = 0xFFFE << 8 });
    try testing.expectEqual(Phase.packet, packet.phase);
    try testing.expectEqual(@as(u64, 12), packet.bytes);
    try testing.expect(!packet.interrupt);
    try testing.expectEqual(@as(u16, reason_cod), drive.registers.count);
    try testing.expect(drive.registers.status & status_drq != 0);
    try testing.expect(drive.writeData(&[_]u8{0} ** 12));
    const first = drive.finishData();
    try testing.expect(first.interrupt and first.phase == .idle);
    try testing.expectEqual(Sense.medium_changed, drive.kind.cdrom.sense);
    try expectCheck(&drive, Sense.medium_changed);

    var run = packetCommand(&drive, &.{Scsi.test_unit_ready}, 0xFFFE, &.{});
    try testing.expectEqual(@as(u32, 1), run.phases); // the packet alone
    try testing.expectEqual(@as(u32, 1), run.interrupts);
    try expectGood(&drive);
    try testing.expectEqual(Sense.none, try senseOf(&drive));

    var data: [64]u8 = undefined;
    run = packetCommand(&drive, &.{ Scsi.inquiry, 0, 0, 0, 96, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 36), run.in_bytes);
    try testing.expectEqual(@as(u8, 0x05), data[0]);
    try testing.expectEqual(@as(u8, 0x80), data[1]);
    try testing.expectEqualStrings("VMCTL   ", data[8..16]);
    try testing.expectEqualStrings("CD-ROM          ", data[16..32]);
    try expectGood(&drive);
    // The allocation length cuts the data; vital product data is not there.
    run = packetCommand(&drive, &.{ Scsi.inquiry, 0, 0, 0, 5, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 5), run.in_bytes);
    run = packetCommand(&drive, &.{ Scsi.inquiry, 1, 0x80, 0, 96, 0 }, 0xFFFE, &data);
    try expectCheck(&drive, Sense.invalid_field);

    run = packetCommand(&drive, &.{Scsi.read_capacity}, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 8), run.in_bytes);
    try testing.expectEqual(@as(u32, 299), std.mem.readInt(u32, data[0..4], .big));
    try testing.expectEqual(@as(u32, 2048), std.mem.readInt(u32, data[4..8], .big));
}

test "ATAPI READ(10)/READ(12): blocks under the byte count limit, interrupt reasons, DMA, range" {
    var medium = try disc(300);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initCdrom(medium.backend(), .{});
    _ = packetCommand(&drive, &.{Scsi.test_unit_ready}, 0, &.{}); // the unit attention
    var data: [10 * 2048]u8 = undefined;

    // Limit 0xFFFE: whole sectors, all in one block, then a status phase with an interrupt.
    var run = packetCommand(&drive, &.{ Scsi.read_10, 0, 0, 0, 0, 5, 0, 0, 3, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 3 * 2048), run.in_bytes);
    try testing.expectEqual(@as(u32, 2), run.phases); // packet, one data block
    try testing.expectEqual(@as(u64, 3 * 2048), run.block_bytes[1]);
    try testing.expectEqual(@as(u32, 2), run.interrupts);
    try testing.expectEqualSlices(u8, medium.bytes[5 * 2048 ..][0 .. 3 * 2048], data[0 .. 3 * 2048]);
    try expectGood(&drive);

    // Limit 5000: two sectors a block. Limit 1000: pieces of sectors, even-sized.
    run = packetCommand(&drive, &.{ Scsi.read_12, 0, 0, 0, 0, 7, 0, 0, 0, 5, 0, 0 }, 5000, &data);
    try testing.expectEqual(@as(u32, 4), run.phases);
    try testing.expectEqual(@as(u64, 4096), run.block_bytes[1]);
    try testing.expectEqual(@as(u64, 2048), run.block_bytes[3]);
    try testing.expectEqualSlices(u8, medium.bytes[7 * 2048 ..][0 .. 5 * 2048], data[0 .. 5 * 2048]);
    run = packetCommand(&drive, &.{ Scsi.read_10, 0, 0, 0, 0, 1, 0, 0, 1, 0 }, 1001, &data);
    try testing.expectEqual(@as(u32, 4), run.phases);
    try testing.expectEqual(@as(u64, 1000), run.block_bytes[1]);
    try testing.expectEqual(@as(u64, 48), run.block_bytes[3]);
    try testing.expectEqualSlices(u8, medium.bytes[2048..][0..2048], data[0..2048]);

    // While a block waits: DRQ, I/O set, C/D clear, the byte count in LBA mid/high.
    var outcome = drive.execute(.{ .command = Command.packet, .lba = 0x0800 << 8 });
    try testing.expect(drive.writeData(&[_]u8{ Scsi.read_10, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0 }));
    outcome = drive.finishData();
    try testing.expectEqual(Phase.pio_in, outcome.phase);
    try testing.expect(outcome.interrupt);
    try testing.expectEqual(@as(u16, reason_io), drive.registers.count);
    try testing.expectEqual(@as(u48, 0x0800), drive.registers.lba >> 8 & 0xFFFF);
    try testing.expect(drive.registers.status & status_drq != 0);

    // DMA (features bit 0): the whole transfer at once, then the status phase.
    const dma = TaskFile{ .command = Command.packet, .features = 1 };
    run = runCommand(&drive, dma, &.{ Scsi.read_10, 0, 0, 0, 1, 0x2A, 0, 0, 2, 0 }, &data, &.{}, 1000);
    try testing.expectEqual(@as(u64, 2 * 2048), run.block_bytes[1]);
    try testing.expect(!run.block_interrupts[1]);
    try testing.expect(run.final.interrupt);
    try testing.expectEqualSlices(u8, medium.bytes[299 * 2048 ..][0..2048], data[2048..4096]);
    try expectGood(&drive);

    // Nothing to read is fine; past the end is not, and reads nothing.
    const reads = medium.reads;
    run = packetCommand(&drive, &.{ Scsi.read_10, 0, 0, 0, 1, 0x2C, 0, 0, 0, 0 }, 0xFFFE, &data);
    try expectGood(&drive);
    for ([_][]const u8{
        &.{ Scsi.read_10, 0, 0, 0, 1, 0x2C, 0, 0, 1, 0 },
        &.{ Scsi.read_10, 0, 0, 0, 1, 0x2B, 0, 0, 2, 0 },
        &.{ Scsi.read_12, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1 },
        &.{ Scsi.read_12, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF },
    }) |cdb| {
        run = packetCommand(&drive, cdb, 0xFFFE, &data);
        try testing.expectEqual(@as(usize, 0), run.in_bytes);
        try expectCheck(&drive, Sense.lba_out_of_range);
    }
    try testing.expectEqual(reads, medium.reads);

    // A medium error mid-read: CHECK CONDITION, MEDIUM ERROR.
    medium.fail_reads = true;
    run = packetCommand(&drive, &.{ Scsi.read_10, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 0xFFFE, &data);
    try testing.expect(run.final.interrupt);
    medium.fail_reads = false;
    try expectCheck(&drive, Sense.unrecovered_read_error);
}

test "ATAPI unknown opcodes: ILLEGAL REQUEST, invalid command operation code" {
    var medium = try disc(4);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initCdrom(medium.backend(), .{});
    _ = packetCommand(&drive, &.{Scsi.test_unit_ready}, 0, &.{});
    for ([_]u8{ 0x0A, 0x2A, 0xFF, 0x1A, 0x55, 0xA1 }) |opcode| {
        var data: [16]u8 = undefined;
        const run = packetCommand(&drive, &.{ opcode, 0, 0, 0, 16 }, 0xFFFE, &data);
        try testing.expectEqual(@as(usize, 0), run.in_bytes);
        try testing.expect(run.final.interrupt);
        try expectCheck(&drive, Sense.invalid_opcode);
    }
    // Sense data is read once, then gone.
    try testing.expectEqual(Sense.none, try senseOf(&drive));
}

test "READ TOC formats 0 and 1, LBA and MSF" {
    var medium = try disc(1000);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initCdrom(medium.backend(), .{});
    _ = packetCommand(&drive, &.{Scsi.test_unit_ready}, 0, &.{});
    var data: [64]u8 = undefined;

    var run = packetCommand(&drive, &.{ Scsi.read_toc, 0, 0, 0, 0, 0, 0, 0, 64, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 20), run.in_bytes);
    try testing.expectEqualSlices(u8, &.{ 0, 18, 1, 1 }, data[0..4]);
    try testing.expectEqualSlices(u8, &.{ 0, 0x14, 1, 0, 0, 0, 0, 0 }, data[4..12]);
    try testing.expectEqualSlices(u8, &.{ 0, 0x14, 0xAA, 0, 0, 0, 0x03, 0xE8 }, data[12..20]);
    // MSF: track 1 at 00:02:00, the lead-out at 1000 + 150 frames = 00:15:25.
    run = packetCommand(&drive, &.{ Scsi.read_toc, 2, 0, 0, 0, 0, 0, 0, 64, 0 }, 0xFFFE, &data);
    try testing.expectEqualSlices(u8, &.{ 0, 0, 2, 0 }, data[8..12]);
    try testing.expectEqualSlices(u8, &.{ 0, 0, 15, 25 }, data[16..20]);
    // Starting at the lead-out: it alone. A track past the last: invalid.
    run = packetCommand(&drive, &.{ Scsi.read_toc, 0, 0, 0, 0, 0, 0xAA, 0, 64, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 12), run.in_bytes);
    try testing.expectEqual(@as(u8, 0xAA), data[6]);
    run = packetCommand(&drive, &.{ Scsi.read_toc, 0, 0, 0, 0, 0, 2, 0, 64, 0 }, 0xFFFE, &data);
    try expectCheck(&drive, Sense.invalid_field);
    // Session information, the MMC way and the SFF-8020 way (format in byte 9).
    for ([_][]const u8{
        &.{ Scsi.read_toc, 0, 1, 0, 0, 0, 0, 0, 12, 0 },
        &.{ Scsi.read_toc, 0, 0, 0, 0, 0, 0, 0, 12, 0x40 },
    }) |cdb| {
        run = packetCommand(&drive, cdb, 0xFFFE, &data);
        try testing.expectEqual(@as(usize, 12), run.in_bytes);
        try testing.expectEqualSlices(u8, &.{ 0, 10, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0 }, data[0..12]);
    }
    run = packetCommand(&drive, &.{ Scsi.read_toc, 0, 2, 0, 0, 0, 0, 0, 64, 0 }, 0xFFFE, &data);
    try expectCheck(&drive, Sense.invalid_field);
    // Allocation length 4: the header alone.
    run = packetCommand(&drive, &.{ Scsi.read_toc, 0, 0, 0, 0, 0, 0, 0, 4, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 4), run.in_bytes);
}

test "GET CONFIGURATION: CD-ROM or DVD-ROM by size, none without a disc; feature selection" {
    var small = try disc(100);
    defer testing.allocator.free(small.bytes);
    var zero = ZeroBackend{};
    var data: [128]u8 = undefined;

    var cd = Drive.initCdrom(small.backend(), .{});
    var run = packetCommand(&cd, &.{ Scsi.get_configuration, 0, 0, 0, 0, 0, 0, 0, 128, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(u16, 0x0008), std.mem.readInt(u16, data[6..8], .big));
    try testing.expectEqual(@as(u32, @intCast(run.in_bytes - 4)), std.mem.readInt(u32, data[0..4], .big));
    try testing.expectEqual(@as(usize, 8 + 12 + 12 + 8 + 12), run.in_bytes);
    // Profile list: DVD-ROM not current, CD-ROM current.
    try testing.expectEqualSlices(u8, &.{ 0, 0, 3, 8, 0, 0x10, 0, 0, 0, 0x08, 1, 0 }, data[8..20]);
    try expectGood(&cd); // no unit attention for GET CONFIGURATION
    try testing.expect(cd.kind.cdrom.unit_attention);

    var dvd = Drive.initCdrom(zero.backend(2048, cd_max_sectors + 1, true), .{});
    run = packetCommand(&dvd, &.{ Scsi.get_configuration, 0, 0, 0, 0, 0, 0, 0, 128, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(u16, 0x0010), std.mem.readInt(u16, data[6..8], .big));
    try testing.expectEqual(@as(u8, 1), data[14]);
    // RT 2: the one feature asked for (random readable, blocking 16 on a DVD).
    run = packetCommand(&dvd, &.{ Scsi.get_configuration, 2, 0, 0x10, 0, 0, 0, 0, 128, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 8 + 12), run.in_bytes);
    try testing.expectEqual(@as(u16, 0x0010), std.mem.readInt(u16, data[8..10], .big));
    try testing.expectEqual(@as(u16, 16), std.mem.readInt(u16, data[16..18], .big));
    try testing.expectEqual(@as(u32, 0), zero.calls);

    var empty = Drive.initCdrom(null, .{});
    run = packetCommand(&empty, &.{ Scsi.get_configuration, 1, 0, 0, 0, 0, 0, 0, 128, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(u16, 0), std.mem.readInt(u16, data[6..8], .big));
    try testing.expectEqual(@as(usize, 8 + 12 + 12 + 8), run.in_bytes); // random readable is not current
    run = packetCommand(&empty, &.{ Scsi.get_configuration, 3, 0, 0, 0, 0, 0, 0, 128, 0 }, 0xFFFE, &data);
    try expectCheck(&empty, Sense.invalid_field);
}

test "MODE SENSE(10): capabilities and error recovery pages, changeable values, no saved ones" {
    var medium = try disc(10);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initCdrom(medium.backend(), .{});
    _ = packetCommand(&drive, &.{Scsi.test_unit_ready}, 0, &.{});
    var data: [64]u8 = undefined;
    var run = packetCommand(&drive, &.{ Scsi.mode_sense_10, 0, 0x2A, 0, 0, 0, 0, 0, 64, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 8 + 22), run.in_bytes);
    try testing.expectEqual(@as(u16, 28), std.mem.readInt(u16, data[0..2], .big));
    try testing.expectEqual(@as(u16, 0), std.mem.readInt(u16, data[6..8], .big)); // no block descriptors
    try testing.expectEqualSlices(u8, &.{ 0x2A, 20 }, data[8..10]);
    try testing.expect(data[10] & 0x08 != 0); // DVD-ROM read
    try testing.expectEqual(@as(u8, 0x29), data[14]); // tray, eject, lock; unlocked
    _ = packetCommand(&drive, &.{ Scsi.prevent_allow_medium_removal, 0, 0, 0, 1, 0 }, 0, &.{});
    run = packetCommand(&drive, &.{ Scsi.mode_sense_10, 0, 0x3F, 0, 0, 0, 0, 0, 64, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 8 + 12 + 22), run.in_bytes);
    try testing.expectEqualSlices(u8, &.{ 0x01, 10 }, data[8..10]);
    try testing.expectEqual(@as(u8, 0x2B), data[20 + 6]); // locked
    run = packetCommand(&drive, &.{ Scsi.mode_sense_10, 0, 0x40 | 0x2A, 0, 0, 0, 0, 0, 64, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(u8, 0), data[14]);
    run = packetCommand(&drive, &.{ Scsi.mode_sense_10, 0, 0xC0 | 0x2A, 0, 0, 0, 0, 0, 64, 0 }, 0xFFFE, &data);
    try expectCheck(&drive, Sense.saving_not_supported);
    run = packetCommand(&drive, &.{ Scsi.mode_sense_10, 0, 0x0E, 0, 0, 0, 0, 0, 64, 0 }, 0xFFFE, &data);
    try expectCheck(&drive, Sense.invalid_field);
}

test "tray and events: GESN, PREVENT ALLOW, START STOP UNIT, NOT READY, reloading" {
    var medium = try disc(10);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initCdrom(medium.backend(), .{});
    var data: [16]u8 = undefined;
    const gesn = [_]u8{ Scsi.get_event_status_notification, 1, 0, 0, 0x10, 0, 0, 0, 8, 0 };

    // A new disc: reported once, with media present.
    var run = packetCommand(&drive, &gesn, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 8), run.in_bytes);
    try testing.expectEqualSlices(u8, &.{ 0, 6, 4, 0x10, 2, 2, 0, 0 }, data[0..8]);
    try expectGood(&drive);
    run = packetCommand(&drive, &gesn, 0xFFFE, &data);
    try testing.expectEqualSlices(u8, &.{ 0, 2 }, data[4..6]);
    // Other classes: no event available.
    run = packetCommand(&drive, &.{ Scsi.get_event_status_notification, 1, 0, 0, 0x02, 0, 0, 0, 8, 0 }, 0xFFFE, &data);
    try testing.expectEqualSlices(u8, &.{ 0, 2, 0x80, 0x10 }, data[0..4]);
    run = packetCommand(&drive, &.{ Scsi.get_event_status_notification, 0, 0, 0, 0x10, 0, 0, 0, 8, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 0), run.in_bytes);
    try testing.expectEqual(@as(u16, 0x24), @as(u16, drive.kind.cdrom.sense.asc));

    _ = packetCommand(&drive, &.{Scsi.test_unit_ready}, 0, &.{}); // the unit attention
    // Locked: no eject.
    _ = packetCommand(&drive, &.{ Scsi.prevent_allow_medium_removal, 0, 0, 0, 1, 0 }, 0, &.{});
    run = packetCommand(&drive, &.{ Scsi.start_stop_unit, 0, 0, 0, 2, 0 }, 0, &.{});
    try expectCheck(&drive, Sense.removal_prevented);
    _ = packetCommand(&drive, &.{ Scsi.prevent_allow_medium_removal, 0, 0, 0, 0, 0 }, 0, &.{});
    _ = packetCommand(&drive, &.{ Scsi.start_stop_unit, 0, 0, 0, 2, 0 }, 0, &.{});
    try expectGood(&drive);
    run = packetCommand(&drive, &gesn, 0xFFFE, &data);
    try testing.expectEqualSlices(u8, &.{ 3, 1 }, data[4..6]); // removal; tray open, no media
    _ = packetCommand(&drive, &.{Scsi.test_unit_ready}, 0, &.{});
    try expectCheck(&drive, Sense.not_ready_tray_open);
    run = packetCommand(&drive, &.{ Scsi.mechanism_status, 0, 0, 0, 0, 0, 0, 0, 0, 8 }, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 8), run.in_bytes);
    try testing.expectEqual(@as(u8, 0x10), data[1]);
    for ([_][]const u8{
        &.{Scsi.read_capacity},
        &.{ Scsi.read_10, 0, 0, 0, 0, 0, 0, 0, 1, 0 },
        &.{ Scsi.read_toc, 0, 0, 0, 0, 0, 0, 0, 12, 0 },
        &.{ Scsi.read_disc_information, 0, 0, 0, 0, 0, 0, 0, 34, 0 },
    }) |cdb| {
        run = packetCommand(&drive, cdb, 0xFFFE, &data);
        try testing.expectEqual(@as(usize, 0), run.in_bytes);
        try expectCheck(&drive, Sense.not_ready_tray_open);
    }
    // Closing the tray brings the disc back, with a unit attention and a new-media event.
    _ = packetCommand(&drive, &.{ Scsi.start_stop_unit, 0, 0, 0, 3, 0 }, 0, &.{});
    try expectGood(&drive);
    _ = packetCommand(&drive, &.{Scsi.test_unit_ready}, 0, &.{});
    try expectCheck(&drive, Sense.medium_changed);
    _ = packetCommand(&drive, &.{Scsi.test_unit_ready}, 0, &.{});
    try expectGood(&drive);
    run = packetCommand(&drive, &gesn, 0xFFFE, &data);
    try testing.expectEqualSlices(u8, &.{ 2, 2 }, data[4..6]);

    // The host takes the disc out: closed tray, no medium.
    drive.removeMedium();
    _ = packetCommand(&drive, &.{Scsi.test_unit_ready}, 0, &.{});
    try expectCheck(&drive, Sense.not_ready_tray_closed);
    drive.insertMedium(medium.backend());
    _ = packetCommand(&drive, &.{Scsi.test_unit_ready}, 0, &.{});
    try expectCheck(&drive, Sense.medium_changed);
    run = packetCommand(&drive, &.{ Scsi.set_cd_speed, 0, 0xFF, 0xFF, 0xFF, 0xFF }, 0, &.{});
    try expectGood(&drive);
}

test "READ DISC INFORMATION: one finalised session" {
    var medium = try disc(10);
    defer testing.allocator.free(medium.bytes);
    var drive = Drive.initCdrom(medium.backend(), .{});
    _ = packetCommand(&drive, &.{Scsi.test_unit_ready}, 0, &.{});
    var data: [40]u8 = undefined;
    var run = packetCommand(&drive, &.{ Scsi.read_disc_information, 0, 0, 0, 0, 0, 0, 0, 40, 0 }, 0xFFFE, &data);
    try testing.expectEqual(@as(usize, 34), run.in_bytes);
    try testing.expectEqualSlices(u8, &.{ 0, 32, 0x0E, 1, 1, 1, 1 }, data[0..7]);
    run = packetCommand(&drive, &.{ Scsi.read_disc_information, 1, 0, 0, 0, 0, 0, 0, 40, 0 }, 0xFFFE, &data);
    try expectCheck(&drive, Sense.invalid_field);
}

test "ATAPI byte count limits: 0 is the largest, odd limits give even blocks before the last" {
    try testing.expectEqual(@as(u64, 0xFFFE), atapiBlockBytes(0, 1 << 20, false));
    try testing.expectEqual(@as(u64, 0xF800), atapiBlockBytes(0, 1 << 20, true));
    try testing.expectEqual(@as(u64, 0xFFFE), atapiBlockBytes(0xFFFF, 1 << 20, false));
    try testing.expectEqual(@as(u64, 36), atapiBlockBytes(0xFFFF, 36, false));
    try testing.expectEqual(@as(u64, 36), atapiBlockBytes(37, 36, false));
    try testing.expectEqual(@as(u64, 35), atapiBlockBytes(35, 35, false));
    try testing.expectEqual(@as(u64, 34), atapiBlockBytes(35, 36, false));
    try testing.expectEqual(@as(u64, 2), atapiBlockBytes(1, 36, false));
    try testing.expectEqual(@as(u64, 2048), atapiBlockBytes(4000, 8192, true));
    try testing.expectEqual(@as(u64, 1000), atapiBlockBytes(1001, 8192, true));
}
