//! The ICH9 AHCI function (8086:2922): a Serial ATA host bus adapter as the AHCI 1.3
//! specification describes it, with six ports, each the far end of one cable to a drive of
//! ata.zig. The guest programs the HBA through memory-mapped registers behind BAR5 (the ABAR):
//! the generic host control block at 0x00 and one 128-byte block per port from 0x100.
//!
//! Software hands a port commands through memory it owns: a command list (PxCLB, 32 headers of
//! 32 bytes), a command table per command (the command FIS, the ATAPI packet and the PRDT) and a
//! FIS receive area (PxFB) where the HBA copies the FISes the device sends. Setting a bit of PxCI
//! while the port runs (PxCMD.ST) issues a command; this HBA runs it to the end before the MMIO
//! write returns, one slot after another in slot order, through the seam of ata.zig:
//! `execute`, then each data phase moved between the drive and the PRDT regions, then
//! `finishData`. PIO data-in blocks go through a buffer (the PIO Setup FIS carries their ending
//! status, as on the wire); DMA moves straight between the drive and guest RAM.
//!
//! Every address the guest supplies (command list, command table, PRDT entries and the regions
//! they name, FIS receive area) is checked against guest RAM through `DmaMemory.slice`, with
//! 64-bit arithmetic that cannot wrap; nothing outside RAM is touched. What goes wrong is
//! reported as real HBAs report it, the slot stays set in PxCI with PxCMD.CCS naming it, and
//! the port halts until software clears PxCMD.ST:
//!   - a pointer outside RAM (command header, table, PRD region, FIS area), or any of them
//!     while the PCI command register denies Bus Master Enable: PxIS.HBFS;
//!   - a PRDT shorter than the transfer: PxIS.IFS (with OFS when data came from the device);
//!     a command FIS that is not a Register Host-to-Device FIS: PxIS.IFS;
//!   - a command the device fails (ERR in its status): PxIS.TFES, with the D2H FIS posted.
//! The drive is told to abort, so PxTFD shows ERR with ABRT, or the drive's own error for a
//! command it failed. (Only a FIS area found outside RAM after a command succeeded leaves
//! PxTFD with the good status.)
//!
//! Native Command Queuing: READ/WRITE FPDMA QUEUED (60h/61h) with the tag in count bits 7:3 run
//! as READ/WRITE DMA EXT on the drive (FUA writes are followed by FLUSH CACHE EXT); each
//! completion posts a Set Device Bits FIS naming its tag, clears that PxSACT bit and sets
//! PxIS.SDBS. An error posts a Set Device Bits FIS with ERR and halts the port with TFES. So
//! that guests use it, IDENTIFY DEVICE data passing through the HBA from a disk gains the SATA
//! words: 75 (queue depth 32) and 76 (NCQ, Gen1 and Gen2 speeds), with the checksum redone.
//!
//! Interrupts: PxIS bits enabled in PxIE set the port's bit in IS; the function interrupts
//! while GHC.IE is set and IS is not zero: INTx through the VM's callback (a level), or, when
//! the VM added the MSI capability and the guest enabled it, one message per event.
//!
//! Resets: PxSCTL.DET 1 then 0 (COMRESET) and GHC.HR return ports to their power-on state: the
//! drive is reset, PxSIG holds its signature (00000101h disk, EB140101h ATAPI), PxTFD its status
//! and PxSSTS an established link (DET 3, Gen2 unless PxSCTL.SPD limits it to Gen1, IPM active);
//! after a COMRESET the signature D2H FIS is posted when FIS receive is on. A Register FIS with
//! the C bit clear drives SRST: asserting it resets the drive, releasing it posts the signature.
//! While COMRESET is held or the PHY is offline (DET 4) issued commands wait in PxCI.
//!
//! Left out: port multipliers and FIS-based switching, command completion coalescing,
//! enclosure management, staggered spin-up and cold presence (PxCMD.SUD/POD read 1), link power
//! management (partial/slumber), hot plug and the PxSERR/PxIS.PCS events that come with it,
//! BIST, DMA Setup FISes, asynchronous notification from devices, the ICH9 BAR4 index/data
//! pair and its vendor registers.
const std = @import("std");
const assert = std.debug.assert;
const device = @import("device.zig");
const pci = @import("pci.zig");
const ata = @import("ata.zig");

pub const identity = pci.Identity{
    .vendor_id = 0x8086,
    .device_id = 0x2922,
    .revision = 0x02,
    // Mass storage, Serial ATA, AHCI 1.0 programming interface.
    .class_code = 0x010601,
    .interrupt_pin = 1,
};

/// BAR5: the AHCI base address (ABAR), the HBA's memory-mapped registers.
pub const abar_index: u3 = 5;
pub const abar_bytes: u32 = 8 << 10;
pub const port_count = 6;
/// Command slots per port (CAP.NCS + 1), one per NCQ tag.
pub const slot_count = 32;

/// The MSI capability, when `addMsiCapability` gives the function one.
pub const msi_capability_offset: u8 = 0x80;
const msi_capability_id: u8 = 0x05;
const msi_enable: u16 = 1 << 0;
const msi_64bit: u16 = 1 << 7;
const capabilities_pointer: u8 = 0x34;
const status_capabilities: u16 = 1 << 4;

/// The AHCI function as firmware finds it: BAR5 unassigned, INTA#, no capabilities.
pub fn initPciFunction() pci.Function {
    var function = pci.Function.init(identity);
    function.setBar(abar_index, .memory32, abar_bytes);
    return function;
}

/// Gives the function a 64-bit MSI capability with one message. Only for a VM that delivers
/// MSIs (`InterruptSink.msiFn`): a guest that enables MSI gets no INTx any more.
pub fn addMsiCapability(function: *pci.Function) void {
    assert(function.config[capabilities_pointer] == 0);
    const at = msi_capability_offset;
    function.put16(pci.Config.status, function.get16(pci.Config.status) | status_capabilities);
    function.config[capabilities_pointer] = at;
    function.config[at] = msi_capability_id;
    function.config[at + 1] = 0; // the last capability
    function.put16(at + 2, msi_64bit);
    function.putMask16(at + 2, msi_enable);
    function.putMask32(at + 4, 0xFFFF_FFFC);
    function.putMask32(at + 8, 0xFFFF_FFFF);
    function.putMask16(at + 12, 0xFFFF);
}

/// How the HBA interrupts. Callbacks run under the HBA's lock.
pub const InterruptSink = struct {
    context: ?*anyopaque = null,
    /// The function's INTx level; the VM passes it to `pci.Bus.setIntx`. Called on changes only.
    setLevelFn: ?*const fn (context: ?*anyopaque, level: bool) void = null,
    /// One MSI write (KVM_SIGNAL_MSI), when the function has the capability and it is enabled.
    msiFn: ?*const fn (context: ?*anyopaque, address: u64, data: u32) void = null,

    fn setLevel(self: InterruptSink, level: bool) void {
        if (self.setLevelFn) |f| f(self.context, level);
    }

    fn message(self: InterruptSink, address: u64, data: u32) void {
        if (self.msiFn) |f| f(self.context, address, data);
    }
};

/// Generic host control registers.
const Hba = struct {
    const cap: u32 = 0x00;
    const ghc: u32 = 0x04;
    const is: u32 = 0x08;
    const pi: u32 = 0x0C;
    const vs: u32 = 0x10;
    const cap2: u32 = 0x24;
};

const cap_s64a: u32 = 1 << 31;
const cap_sncq: u32 = 1 << 30;
const cap_ssntf: u32 = 1 << 29;
const cap_sclo: u32 = 1 << 24;
const cap_iss_shift = 20;
const cap_sam: u32 = 1 << 18;
const cap_pmd: u32 = 1 << 15;
const cap_ncs_shift = 8;
/// 64-bit addressing, NCQ, SNotification register, command list override, Gen2 (3 Gb/s),
/// AHCI only, PIO multiple DRQ blocks, 32 slots, six ports.
const capabilities: u32 = cap_s64a | cap_sncq | cap_ssntf | cap_sclo | speed_gen2 << cap_iss_shift |
    cap_sam | cap_pmd | (slot_count - 1) << cap_ncs_shift | (port_count - 1);
const ports_implemented: u32 = (1 << port_count) - 1;
const version: u32 = 0x0001_0300;

const ghc_hr: u32 = 1 << 0;
const ghc_ie: u32 = 1 << 1;
/// AHCI enable: read-only 1 with CAP.SAM.
const ghc_ae: u32 = 1 << 31;

const port_base: u32 = 0x100;
const port_stride: u32 = 0x80;

/// Port registers, relative to the port's block.
const Px = struct {
    const clb: u32 = 0x00;
    const clbu: u32 = 0x04;
    const fb: u32 = 0x08;
    const fbu: u32 = 0x0C;
    const is: u32 = 0x10;
    const ie: u32 = 0x14;
    const cmd: u32 = 0x18;
    const tfd: u32 = 0x20;
    const sig: u32 = 0x24;
    const ssts: u32 = 0x28;
    const sctl: u32 = 0x2C;
    const serr: u32 = 0x30;
    const sact: u32 = 0x34;
    const ci: u32 = 0x38;
    const sntf: u32 = 0x3C;
};

/// PxIS and PxIE bits.
const Irq = struct {
    const dhrs: u32 = 1 << 0;
    const pss: u32 = 1 << 1;
    const dss: u32 = 1 << 2;
    const sdbs: u32 = 1 << 3;
    const ufs: u32 = 1 << 4;
    const dps: u32 = 1 << 5;
    const pcs: u32 = 1 << 6;
    const dmps: u32 = 1 << 7;
    const prcs: u32 = 1 << 22;
    const ipms: u32 = 1 << 23;
    const ofs: u32 = 1 << 24;
    const infs: u32 = 1 << 26;
    const ifs: u32 = 1 << 27;
    const hbds: u32 = 1 << 28;
    const hbfs: u32 = 1 << 29;
    const tfes: u32 = 1 << 30;
    const cpds: u32 = 1 << 31;
    /// Software clears these by writing 1; UFS, PCS and PRCS mirror PxSERR instead.
    const clearable = dhrs | pss | dss | sdbs | dps | dmps | ipms | ofs | infs | ifs | hbds | hbfs | tfes | cpds;
    const enable_mask = clearable | ufs | pcs | prcs;
};

/// PxCMD bits.
const Cmd = struct {
    const st: u32 = 1 << 0;
    /// Spin-up and power-on device: read-only 1 without staggered spin-up and cold presence.
    const sud: u32 = 1 << 1;
    const pod: u32 = 1 << 2;
    const clo: u32 = 1 << 3;
    const fre: u32 = 1 << 4;
    const ccs_shift = 8;
    const ccs_mask: u32 = 0x1F << ccs_shift;
    const fr: u32 = 1 << 14;
    const cr: u32 = 1 << 15;
    const atapi: u32 = 1 << 24;
    const dlae: u32 = 1 << 25;
    /// Kept as written, with no effect here.
    const stored = atapi | dlae;
    const reset_value = sud | pod;
};

/// PxSCTL and PxSSTS fields.
const sctl_mask: u32 = 0xFFF;
const det_mask: u32 = 0xF;
const det_none: u32 = 0;
const det_comreset: u32 = 1;
const det_offline: u32 = 4;
/// PxSSTS.DET: a device is there but the link is down / the link is up / the PHY is offline.
const ssts_present: u32 = 1;
const ssts_established: u32 = 3;
const ssts_offline: u32 = 4;
const speed_gen1: u32 = 1;
const speed_gen2: u32 = 2;
const ipm_active: u32 = 1;
/// PxSERR: the ERR bits software clears (11:8, 1:0) and the DIAG bits (26:16).
const serr_mask: u32 = 0x07FF_0F03;

/// What PxTFD and PxSIG read without a device (or before one answers).
const tfd_absent: u32 = 0x7F;
const sig_unknown: u32 = 0xFFFF_FFFF;

/// Command header: DW0 flags and PRDTL, DW1 PRDBC, DW2-3 CTBA.
const Header = struct {
    const bytes: u32 = 32;
    const cfl_mask: u32 = 0x1F;
    const atapi: u32 = 1 << 5;
    const clear_busy: u32 = 1 << 10;
    const prdtl_shift = 16;
};
const command_list_align: u32 = 1024;
const fis_area_align: u32 = 256;

/// Command table: the command FIS, the ATAPI command and the PRDT.
const Table = struct {
    const acmd: u32 = 0x40;
    const acmd_bytes: u32 = 16;
    const prdt: u32 = 0x80;
    const align_mask: u32 = 0x7F;
    const entry_bytes: u32 = 16;
};
/// PRD DW3: the byte count less one (bit 0 always 1: even counts, up to 4 MiB), and I.
const prd_count_mask: u32 = 0x3F_FFFF;
const prd_interrupt: u32 = 1 << 31;

const Fis = struct {
    const register_h2d: u8 = 0x27;
    const register_d2h: u8 = 0x34;
    const set_device_bits: u8 = 0xA1;
    const pio_setup: u8 = 0x5F;
    /// Register H2D byte 1: the FIS updates the command register (else the device control one).
    const command_bit: u8 = 0x80;
    const interrupt_bit: u8 = 0x40;
    /// PIO Setup byte 1: data goes from the device to the host.
    const direction_bit: u8 = 0x20;
    const control_srst: u8 = 0x04;
    /// Register H2D FIS length, the least CFL that carries one.
    const h2d_bytes = 20;
    const d2h_bytes = 20;
    const pio_setup_bytes = 20;
    const sdb_bytes = 8;
};

/// Where received FISes land in the FIS receive area.
const Rfis = struct {
    const pio_setup: u32 = 0x20;
    const d2h: u32 = 0x40;
    const sdb: u32 = 0x58;
    const bytes: u32 = 256;
};

const Ncq = struct {
    const read: u8 = 0x60;
    const write: u8 = 0x61;
    /// Device register bit 7 of an FPDMA command: force unit access.
    const fua: u8 = 0x80;
    /// IDENTIFY DEVICE words 75 and 76.
    const depth_word = 75;
    const capabilities_word = 76;
    const gen1: u16 = 1 << 1;
    const gen2: u16 = 1 << 2;
    const supported: u16 = 1 << 8;
};

/// Data and packet phases one command may go through before the HBA gives up on it (a
/// command with a tiny ATAPI byte count limit could otherwise take the vCPU for very long).
const max_phases: u32 = 1 << 24;

comptime {
    assert(port_base + port_count * port_stride <= abar_bytes);
    assert(Rfis.sdb + Fis.sdb_bytes <= Rfis.bytes and Rfis.d2h + Fis.d2h_bytes <= Rfis.sdb);
    assert(Table.acmd + Table.acmd_bytes <= Table.prdt and ata.packet_bytes <= Table.acmd_bytes);
    assert(Fis.h2d_bytes <= Table.acmd);
    assert(capabilities == 0xE124_9F05);
}

const Port = struct {
    drive: ?*ata.Drive = null,
    clb: u32 = 0,
    clbu: u32 = 0,
    fb: u32 = 0,
    fbu: u32 = 0,
    is: u32 = 0,
    ie: u32 = 0,
    cmd: u32 = Cmd.reset_value,
    tfd: u32 = tfd_absent,
    sig: u32 = sig_unknown,
    ssts: u32 = 0,
    sctl: u32 = 0,
    serr: u32 = 0,
    sact: u32 = 0,
    ci: u32 = 0,
    sntf: u32 = 0,
    /// An error stopped the command list; it stays stopped until software clears PxCMD.ST.
    halted: bool = false,
    /// SRST is asserted by a control FIS and not yet released.
    srst: bool = false,

    fn commandList(self: *const Port) u64 {
        return @as(u64, self.clbu) << 32 | self.clb;
    }

    fn fisArea(self: *const Port) u64 {
        return @as(u64, self.fbu) << 32 | self.fb;
    }

    /// The port as after power-on or COMRESET: the drive reset, its signature latched.
    fn linkUp(self: *Port) void {
        self.srst = false;
        const drive = self.drive orelse {
            self.ssts = 0;
            self.tfd = tfd_absent;
            self.sig = sig_unknown;
            return;
        };
        drive.reset();
        const speed = if ((self.sctl >> 4) & 0xF == speed_gen1) speed_gen1 else speed_gen2;
        self.ssts = ssts_established | speed << 4 | ipm_active << 8;
        self.sig = signatureOf(drive.registers);
        self.tfd = taskFileData(drive.registers);
    }

    /// PxSSTS.DET says the device and the HBA are talking (not in COMRESET, not offline).
    fn linkEstablished(self: *const Port) bool {
        return self.ssts & det_mask == ssts_established;
    }
};

/// A command's position in its PRDT, and what it has moved so far (PRDBC).
const Cursor = struct {
    table: u64,
    entries: u32,
    index: u32 = 0,
    /// The entry being used and how many of its bytes are.
    current: ?Entry = null,
    offset: u32 = 0,
    moved: u64 = 0,
    /// An entry with its I bit set was used up (PxIS.DPS).
    descriptor_interrupt: bool = false,
};

const Entry = struct {
    address: u64,
    bytes: u32,
    interrupt: bool,
};

const Stop = enum { drive_failed, host_bus, prdt_short };

const Flow = union(enum) {
    drive_to_memory,
    memory_to_drive,
    buffer_to_memory: []const u8,
};

/// How a command's run through the drive ended.
const End = struct {
    /// PxIS error bits of a fault the HBA found (the drive was told to abort); 0 for none.
    fault: u32 = 0,
    /// The drive's final interrupt request (the I bit of its D2H Register FIS).
    interrupt: bool = false,
    /// The last phase was a PIO data-in block, whose PIO Setup FIS carried the ending status.
    pio_in_last: bool = false,
};

pub const Ahci = struct {
    /// Guards everything below (and the drives): vCPUs may reach the ports at once.
    mutex: std.Thread.Mutex = .{},
    dma: device.DmaMemory,
    interrupt: InterruptSink,
    /// The PCI function (after `connect`): its command register says whether the HBA may
    /// master the bus, its MSI capability how it interrupts.
    function: ?*const pci.Function = null,
    ghc: u32 = ghc_ae,
    is: u32 = 0,
    ports: [port_count]Port = [_]Port{.{}} ** port_count,
    /// The INTx level last driven, and whether the function was interrupting at the last update.
    intx_level: bool = false,
    asserted: bool = false,
    /// An enabled PxIS bit was set since the last update (another MSI is due).
    event: bool = false,
    /// Accesses of a wrong width, misaligned or outside the ABAR (saturating).
    bad_accesses: u32 = 0,
    /// One PIO data-in block on its way to the PRDT.
    pio_buffer: [ata.max_pio_block_bytes]u8 = undefined,

    pub fn init(dma: device.DmaMemory, interrupt: InterruptSink) Ahci {
        return .{ .dma = dma, .interrupt = interrupt };
    }

    /// Connects a drive to a port (before the guest runs); the drive must outlive the HBA.
    pub fn attach(self: *Ahci, port: u3, drive: *ata.Drive) void {
        assert(port < port_count);
        self.mutex.lock();
        defer self.mutex.unlock();
        const p = &self.ports[port];
        assert(p.drive == null);
        p.drive = drive;
        p.linkUp();
    }

    /// Ties the HBA to its PCI function, which must outlive it: DMA only while the guest lets
    /// the function master the bus, MSIs while it enables them (see `addMsiCapability`).
    pub fn connect(self: *Ahci, function: *const pci.Function) void {
        const has_msi = function.config[msi_capability_offset] == msi_capability_id;
        assert(!has_msi or self.interrupt.msiFn != null);
        self.mutex.lock();
        defer self.mutex.unlock();
        self.function = function;
    }

    /// Whether the HBA may read and write guest memory: always without a function (unit
    /// tests), else only while the guest sets Bus Master Enable.
    fn mastersBus(self: *const Ahci) bool {
        const function = self.function orelse return true;
        return function.command() & pci.command_bus_master != 0;
    }

    pub fn mmioRead(self: *Ahci, offset: u32, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!self.accessAllowed(offset, data.len)) return @memset(data, 0xFF);
        std.mem.writeInt(u32, data[0..4], self.readRegister(offset), .little);
    }

    pub fn mmioWrite(self: *Ahci, offset: u32, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!self.accessAllowed(offset, data.len)) return;
        self.writeRegister(offset, std.mem.readInt(u32, data[0..4], .little));
        self.updateInterrupt();
    }

    /// Routes BAR5 of the PCI function here (the VM stores it in the function's `handler`).
    pub fn pciHandler(self: *Ahci) pci.Handler {
        return .{ .context = self, .readFn = barRead, .writeFn = barWrite };
    }

    fn barRead(context: *anyopaque, bar: u3, offset: u32, data: []u8) void {
        const self: *Ahci = @ptrCast(@alignCast(context));
        // Anything but BAR5 is refused (and counted) by the range check.
        self.mmioRead(if (bar == abar_index) offset else abar_bytes, data);
    }

    fn barWrite(context: *anyopaque, bar: u3, offset: u32, data: []const u8) void {
        const self: *Ahci = @ptrCast(@alignCast(context));
        self.mmioWrite(if (bar == abar_index) offset else abar_bytes, data);
    }

    /// Registers are 32 bits wide and take aligned dword accesses only.
    fn accessAllowed(self: *Ahci, offset: u32, len: usize) bool {
        const ok = len == 4 and offset % 4 == 0 and offset < abar_bytes;
        if (!ok) self.bad_accesses +|= 1;
        return ok;
    }

    fn portAt(self: *Ahci, offset: u32) ?*Port {
        if (offset < port_base) return null;
        const index = (offset - port_base) / port_stride;
        return if (index < port_count) &self.ports[index] else null;
    }

    fn readRegister(self: *Ahci, offset: u32) u32 {
        if (offset < port_base) return switch (offset) {
            Hba.cap => capabilities,
            Hba.ghc => self.ghc,
            Hba.is => self.is,
            Hba.pi => ports_implemented,
            Hba.vs => version,
            // CAP2, coalescing, enclosure management, BIOS handoff: nothing implemented.
            else => 0,
        };
        const p = self.portAt(offset) orelse return 0;
        return switch ((offset - port_base) % port_stride) {
            Px.clb => p.clb,
            Px.clbu => p.clbu,
            Px.fb => p.fb,
            Px.fbu => p.fbu,
            Px.is => p.is,
            Px.ie => p.ie,
            Px.cmd => p.cmd,
            Px.tfd => p.tfd,
            Px.sig => p.sig,
            Px.ssts => p.ssts,
            Px.sctl => p.sctl,
            Px.serr => p.serr,
            Px.sact => p.sact,
            Px.ci => p.ci,
            Px.sntf => p.sntf,
            else => 0,
        };
    }

    fn writeRegister(self: *Ahci, offset: u32, value: u32) void {
        if (offset < port_base) {
            switch (offset) {
                Hba.ghc => if (value & ghc_hr != 0) self.resetHba() else {
                    self.ghc = ghc_ae | (value & ghc_ie);
                },
                Hba.is => self.is &= ~(value & ports_implemented),
                else => {},
            }
            return;
        }
        const p = self.portAt(offset) orelse return;
        switch ((offset - port_base) % port_stride) {
            Px.clb => p.clb = value & ~(command_list_align - 1),
            Px.clbu => p.clbu = value,
            Px.fb => p.fb = value & ~(fis_area_align - 1),
            Px.fbu => p.fbu = value,
            Px.is => p.is &= ~(value & Irq.clearable),
            Px.ie => p.ie = value & Irq.enable_mask,
            Px.cmd => writeCommand(p, value),
            Px.sctl => self.writeControl(p, value),
            Px.serr => p.serr &= ~(value & serr_mask),
            // Software may only set PxSACT and PxCI bits, and only while the port runs.
            Px.sact => if (p.cmd & Cmd.st != 0) {
                p.sact |= value;
            },
            Px.ci => if (p.cmd & Cmd.st != 0) {
                p.ci |= value;
                self.processCommandList(p);
            },
            Px.sntf => p.sntf &= ~(value & 0xFFFF),
            else => {},
        }
    }

    /// PxCMD: FIS receive and the command list start at once (FR and CR follow FRE and ST);
    /// stopping the list clears PxCI and PxSACT and ends a halt; CLO clears BSY and DRQ.
    fn writeCommand(p: *Port, value: u32) void {
        const was_running = p.cmd & Cmd.st != 0;
        var cmd = (p.cmd & ~(Cmd.stored | Cmd.fre | Cmd.fr | Cmd.st | Cmd.cr)) | (value & Cmd.stored);
        if (value & Cmd.fre != 0) cmd |= Cmd.fre | Cmd.fr;
        if (value & Cmd.st != 0) cmd |= Cmd.st | Cmd.cr;
        p.cmd = cmd;
        if (was_running and value & Cmd.st == 0) {
            p.ci = 0;
            p.sact = 0;
            p.halted = false;
            p.cmd &= ~Cmd.ccs_mask;
        }
        if (value & Cmd.clo != 0) p.tfd &= ~@as(u32, ata.status_bsy | ata.status_drq);
    }

    /// PxSCTL: DET 1 holds the link in COMRESET, 4 takes the PHY offline; back to 0, the link
    /// comes up again and the drive reports its signature.
    fn writeControl(self: *Ahci, p: *Port, value: u32) void {
        const old_det = p.sctl & det_mask;
        p.sctl = value & sctl_mask;
        const det = value & det_mask;
        if (det == old_det) return;
        switch (det) {
            det_comreset => {
                p.srst = false;
                if (p.drive) |drive| {
                    drive.reset();
                    p.ssts = ssts_present;
                    p.tfd = ata.status_bsy;
                } else {
                    p.ssts = 0;
                    p.tfd = tfd_absent;
                }
                p.sig = sig_unknown;
            },
            det_offline => {
                p.ssts = ssts_offline;
                p.tfd = tfd_absent;
                p.sig = sig_unknown;
            },
            det_none => {
                p.linkUp();
                // The device's first D2H Register FIS after reset carries its signature.
                if (p.drive) |drive| {
                    if (!self.postFis(p, Rfis.d2h, &d2hFis(drive.registers, false))) self.failPort(p, Irq.hbfs, p.tfd);
                }
            },
            else => {},
        }
    }

    /// GHC.HR: the global registers and every port back to their reset values (the command
    /// list and FIS area addresses stay), the links re-established.
    fn resetHba(self: *Ahci) void {
        self.ghc = ghc_ae;
        self.is = 0;
        for (&self.ports) |*p| {
            p.* = .{ .drive = p.drive, .clb = p.clb, .clbu = p.clbu, .fb = p.fb, .fbu = p.fbu };
            p.linkUp();
        }
    }

    // Interrupts.

    fn raise(self: *Ahci, p: *Port, bits: u32) void {
        p.is |= bits;
        if (bits & p.ie != 0) self.event = true;
    }

    /// IS gains the ports with enabled status pending; the function interrupts while GHC.IE
    /// is set and IS is not zero.
    fn updateInterrupt(self: *Ahci) void {
        for (self.ports, 0..) |p, i| {
            if (p.is & p.ie != 0) self.is |= @as(u32, 1) << @intCast(i);
        }
        const level = self.ghc & ghc_ie != 0 and self.is != 0;
        const event = self.event;
        self.event = false;
        defer self.asserted = level;
        if (self.msiFunction()) |function| {
            self.setIntx(false);
            if (!level or (!event and self.asserted)) return;
            // A message is a memory write: the function must be allowed to master the bus.
            if (function.command() & pci.command_bus_master == 0) return;
            const at = msi_capability_offset;
            const address = @as(u64, function.get32(at + 8)) << 32 | function.get32(at + 4);
            self.interrupt.message(address, function.get16(at + 12));
            return;
        }
        self.setIntx(level);
    }

    /// The function, when the guest has enabled MSI in it. (The configuration space is read
    /// without the bus's lock: a guest that reprograms MSI while using it can only lose or
    /// misroute its own message.)
    fn msiFunction(self: *const Ahci) ?*const pci.Function {
        const function = self.function orelse return null;
        if (function.config[msi_capability_offset] != msi_capability_id) return null;
        return if (function.get16(msi_capability_offset + 2) & msi_enable != 0) function else null;
    }

    fn setIntx(self: *Ahci, level: bool) void {
        if (self.intx_level == level) return;
        self.intx_level = level;
        self.interrupt.setLevel(level);
    }

    /// A fatal error or a task file error: the status bits, PxTFD, and the list stops.
    fn failPort(self: *Ahci, p: *Port, bits: u32, tfd: u32) void {
        p.tfd = tfd;
        p.halted = true;
        self.raise(p, bits);
    }

    // Command processing.

    /// Runs the commands issued in PxCI, in slot order, until one fails.
    fn processCommandList(self: *Ahci, p: *Port) void {
        const drive = p.drive orelse return;
        // No link (COMRESET held, PHY offline): nothing reaches the device, the commands stay
        // in PxCI until the link is back and the guest issues again, or it stops the list.
        if (!p.linkEstablished()) return;
        for (0..slot_count) |i| {
            if (p.cmd & Cmd.st == 0 or p.halted) return;
            const slot: u5 = @intCast(i);
            if (p.ci & bit(slot) == 0) continue;
            p.cmd = (p.cmd & ~Cmd.ccs_mask) | @as(u32, slot) << Cmd.ccs_shift;
            self.runSlot(p, drive, slot);
        }
    }

    fn runSlot(self: *Ahci, p: *Port, drive: *ata.Drive, slot: u5) void {
        const aborted = abortedTaskFile(drive);
        // Without Bus Master Enable the HBA cannot fetch the command: a host bus error.
        if (!self.mastersBus()) return self.failPort(p, Irq.hbfs, aborted);
        const header_address = offsetAddress(p.commandList(), @as(u64, slot) * Header.bytes) orelse
            return self.failPort(p, Irq.hbfs, aborted);
        const header = self.dma.slice(header_address, Header.bytes) orelse return self.failPort(p, Irq.hbfs, aborted);
        const flags = std.mem.readInt(u32, header[0..4], .little);
        const table_address = @as(u64, std.mem.readInt(u32, header[12..16], .little)) << 32 |
            (std.mem.readInt(u32, header[8..12], .little) & ~Table.align_mask);
        const table = self.dma.slice(table_address, Table.prdt) orelse return self.failPort(p, Irq.hbfs, aborted);
        // Copies: the guest may change its memory while the command runs.
        const cfis: [Fis.h2d_bytes]u8 = table[0..Fis.h2d_bytes].*;
        const acmd: [Table.acmd_bytes]u8 = table[Table.acmd..][0..Table.acmd_bytes].*;
        if ((flags & Header.cfl_mask) * 4 < Fis.h2d_bytes or cfis[0] != Fis.register_h2d) {
            return self.failPort(p, Irq.ifs, aborted);
        }
        if (cfis[1] & Fis.command_bit == 0) return self.deviceControl(p, drive, slot, cfis[15], flags & Header.clear_busy != 0);
        p.srst = false;
        var cursor = Cursor{
            .table = offsetAddress(table_address, Table.prdt) orelse return self.failPort(p, Irq.hbfs, aborted),
            .entries = flags >> Header.prdtl_shift,
        };
        const tf = taskFileOf(&cfis);
        if (tf.command == Ncq.read or tf.command == Ncq.write) return self.runQueued(p, drive, slot, tf, header, &cursor);
        const packet: ?[]const u8 = if (flags & Header.atapi != 0) acmd[0..ata.packet_bytes] else null;
        const end = self.run(p, drive, tf, packet, &cursor);
        storeByteCount(header, cursor.moved);
        self.complete(p, drive, slot, end, &cursor);
    }

    /// The result of a non-queued command: TFES and a halt on ERR, else the D2H Register FIS
    /// (unless a PIO data-in command already ended in its PIO Setup FIS) and the slot done.
    fn complete(self: *Ahci, p: *Port, drive: *ata.Drive, slot: u5, end: End, cursor: *const Cursor) void {
        const registers = drive.registers;
        const tfd = taskFileData(registers);
        if (end.fault != 0) return self.failPort(p, end.fault, tfd);
        if (registers.status & ata.status_err != 0) {
            if (!self.postFis(p, Rfis.d2h, &d2hFis(registers, true))) return self.failPort(p, Irq.hbfs, tfd);
            // The D2H FIS carried I=1, so DHRS is set next to TFES (pollers wait for DHRS).
            return self.failPort(p, Irq.tfes | Irq.dhrs, tfd);
        }
        if (!end.pio_in_last or end.interrupt) {
            if (!self.postFis(p, Rfis.d2h, &d2hFis(registers, end.interrupt))) return self.failPort(p, Irq.hbfs, tfd);
            if (end.interrupt) self.raise(p, Irq.dhrs);
        }
        if (cursor.descriptor_interrupt) self.raise(p, Irq.dps);
        p.tfd = tfd;
        p.ci &= ~bit(slot);
    }

    /// READ/WRITE FPDMA QUEUED: the device accepts the command (PxCI clears), moves the data as
    /// READ/WRITE DMA EXT, then reports the tag in a Set Device Bits FIS.
    fn runQueued(self: *Ahci, p: *Port, drive: *ata.Drive, slot: u5, tf: ata.TaskFile, header: []u8, cursor: *Cursor) void {
        const tag: u5 = @truncate(tf.count >> 3);
        const write = tf.command == Ncq.write;
        p.ci &= ~bit(slot);
        const end = self.run(p, drive, .{
            .command = if (write) ata.Command.write_dma_ext else ata.Command.read_dma_ext,
            .count = tf.features,
            .lba = tf.lba,
            .device = ata.device_lba,
        }, null, cursor);
        storeByteCount(header, cursor.moved);
        if (end.fault == 0 and drive.registers.status & ata.status_err == 0 and write and tf.device & Ncq.fua != 0) {
            _ = drive.execute(.{ .command = ata.Command.flush_cache_ext });
        }
        const registers = drive.registers;
        if (end.fault != 0) return self.failPort(p, end.fault, taskFileData(registers));
        const failed = registers.status & ata.status_err != 0;
        const done: u32 = if (failed) 0 else bit(tag);
        if (!self.postFis(p, Rfis.sdb, &sdbFis(registers.status, registers.err, done))) {
            return self.failPort(p, Irq.hbfs, taskFileData(registers));
        }
        // Set Device Bits updates status bits 6:4 and 2:0 and the error register.
        const tfd = @as(u32, registers.err) << 8 | (p.tfd & 0x88) | (registers.status & 0x77);
        if (failed) return self.failPort(p, Irq.tfes | Irq.sdbs, tfd);
        p.tfd = tfd;
        p.sact &= ~done;
        self.raise(p, Irq.sdbs);
        if (cursor.descriptor_interrupt) self.raise(p, Irq.dps);
    }

    /// A Register FIS with C clear writes the device control register: SRST resets the drive,
    /// and its release makes the drive post its signature.
    fn deviceControl(self: *Ahci, p: *Port, drive: *ata.Drive, slot: u5, control: u8, clear_busy: bool) void {
        if (control & Fis.control_srst != 0) {
            p.srst = true;
            drive.reset();
            // BSY holds until the release, unless the header asked to clear it once sent.
            p.tfd = if (clear_busy) taskFileData(drive.registers) else ata.status_bsy;
        } else if (p.srst) {
            p.srst = false;
            drive.reset();
            p.sig = signatureOf(drive.registers);
            p.tfd = taskFileData(drive.registers);
            if (!self.postFis(p, Rfis.d2h, &d2hFis(drive.registers, false))) return self.failPort(p, Irq.hbfs, p.tfd);
        }
        p.ci &= ~bit(slot);
    }

    /// Runs one command through the drive to its end, moving its data through the PRDT.
    fn run(self: *Ahci, p: *Port, drive: *ata.Drive, tf: ata.TaskFile, packet: ?[]const u8, cursor: *Cursor) End {
        const identify = tf.command == ata.Command.identify_device and !drive.isPacketDevice();
        var outcome = drive.execute(tf);
        var pio_in_last = false;
        var phases: u32 = 0;
        while (outcome.phase != .idle) : (phases += 1) {
            if (phases == max_phases) return abort(drive, Irq.ifs);
            pio_in_last = false;
            const block_bytes = outcome.bytes;
            const block_interrupt = outcome.interrupt;
            const at_start = drive.registers;
            switch (outcome.phase) {
                .idle => unreachable,
                .packet => {
                    // The ATAPI command comes from ACMD, when the header says there is one.
                    const cdb = packet orelse {
                        outcome = drive.abortData();
                        continue;
                    };
                    _ = drive.writeData(cdb[0..@intCast(block_bytes)]);
                },
                .pio_in => {
                    const block = self.pio_buffer[0..@intCast(block_bytes)];
                    if (drive.readData(block)) {
                        if (identify) advertiseQueuing(block);
                        if (self.transfer(cursor, drive, .{ .buffer_to_memory = block }, block_bytes)) |stop| {
                            return abort(drive, faultOf(stop, true));
                        }
                    }
                },
                .pio_out => if (self.transfer(cursor, drive, .memory_to_drive, block_bytes)) |stop| {
                    if (stop != .drive_failed) return abort(drive, faultOf(stop, false));
                },
                .dma_in, .dma_out => {
                    const to_memory = outcome.phase == .dma_in;
                    if (self.transfer(cursor, drive, if (to_memory) .drive_to_memory else .memory_to_drive, block_bytes)) |stop| {
                        if (stop != .drive_failed) return abort(drive, faultOf(stop, to_memory));
                    }
                },
            }
            const phase = outcome.phase;
            outcome = drive.finishData();
            if (phase == .pio_in or phase == .pio_out) {
                // The device's PIO Setup FIS for the block: its status while the block waited,
                // and the ending status once it has moved.
                if (drive.registers.status & ata.status_err != 0) continue;
                const fis = pioSetupFis(at_start, phase == .pio_in, block_interrupt, drive.registers.status, block_bytes);
                if (!self.postFis(p, Rfis.pio_setup, &fis)) return abort(drive, Irq.hbfs);
                if (block_interrupt) self.raise(p, Irq.pss);
                pio_in_last = phase == .pio_in;
            }
        }
        return .{ .interrupt = outcome.interrupt, .pio_in_last = pio_in_last };
    }

    /// Moves `len` bytes of a phase through the PRDT; null when all of them moved. The drive's
    /// data goes in batches of up to `ata.max_regions` regions, one medium access each.
    fn transfer(self: *Ahci, cursor: *Cursor, drive: *ata.Drive, flow: Flow, len: u64) ?Stop {
        var batch: [ata.max_regions][]u8 = undefined;
        var batched: usize = 0;
        var done: u64 = 0;
        // Each round uses up an entry or ends the phase.
        while (done < len) {
            const entry = cursor.current orelse blk: {
                if (cursor.index >= cursor.entries) return stopAfter(drive, flow, batch[0..batched], .prdt_short);
                const fetched = self.fetchEntry(cursor.table, cursor.index) orelse return stopAfter(drive, flow, batch[0..batched], .host_bus);
                cursor.current = fetched;
                cursor.offset = 0;
                break :blk fetched;
            };
            assert(cursor.offset < entry.bytes);
            const n: u32 = @intCast(@min(len - done, entry.bytes - cursor.offset));
            const address = offsetAddress(entry.address, cursor.offset) orelse return stopAfter(drive, flow, batch[0..batched], .host_bus);
            const region = self.dma.slice(address, n) orelse return stopAfter(drive, flow, batch[0..batched], .host_bus);
            switch (flow) {
                .drive_to_memory, .memory_to_drive => {
                    batch[batched] = region;
                    batched += 1;
                    if (batched == batch.len) {
                        if (!moveRegions(drive, flow, batch[0..batched])) return .drive_failed;
                        batched = 0;
                    }
                },
                .buffer_to_memory => |buffer| @memcpy(region, buffer[@intCast(done)..][0..n]),
            }
            done += n;
            cursor.moved += n;
            cursor.offset += n;
            if (cursor.offset == entry.bytes) {
                if (entry.interrupt) cursor.descriptor_interrupt = true;
                cursor.current = null;
                cursor.index += 1;
            }
        }
        if (batched > 0 and !moveRegions(drive, flow, batch[0..batched])) return .drive_failed;
        return null;
    }

    fn fetchEntry(self: *Ahci, table: u64, index: u32) ?Entry {
        const at = offsetAddress(table, @as(u64, index) * Table.entry_bytes) orelse return null;
        const bytes = self.dma.slice(at, Table.entry_bytes) orelse return null;
        const count = std.mem.readInt(u32, bytes[12..16], .little);
        const address = @as(u64, std.mem.readInt(u32, bytes[4..8], .little)) << 32 | std.mem.readInt(u32, bytes[0..4], .little);
        return .{
            .address = address & ~@as(u64, 1),
            .bytes = (count & prd_count_mask | 1) + 1,
            .interrupt = count & prd_interrupt != 0,
        };
    }

    /// Copies a FIS into the port's receive area when FIS receive is on; false when the area
    /// lies outside RAM or the HBA may not master the bus (a COMRESET's signature FIS comes
    /// without a command, so no command fetch has checked that).
    fn postFis(self: *Ahci, p: *Port, offset: u32, fis: []const u8) bool {
        if (p.cmd & Cmd.fre == 0) return true;
        if (!self.mastersBus()) return false;
        const at = offsetAddress(p.fisArea(), offset) orelse return false;
        const area = self.dma.slice(at, fis.len) orelse return false;
        @memcpy(area, fis);
        return true;
    }
};

/// A transfer stops at a bad entry after the regions before it have moved (a drive error
/// while moving them is what the command reports instead).
fn stopAfter(drive: *ata.Drive, flow: Flow, regions: []const []u8, stop: Stop) Stop {
    if (regions.len > 0 and !moveRegions(drive, flow, regions)) return .drive_failed;
    return stop;
}

fn moveRegions(drive: *ata.Drive, flow: Flow, regions: []const []u8) bool {
    return switch (flow) {
        .drive_to_memory => drive.readDataRegions(regions),
        .memory_to_drive => drive.writeDataRegions(regions),
        .buffer_to_memory => unreachable,
    };
}

fn bit(slot: u5) u32 {
    return @as(u32, 1) << slot;
}

/// `base + offset`, or null past the 64-bit address space.
fn offsetAddress(base: u64, offset: u64) ?u64 {
    const sum, const overflow = @addWithOverflow(base, offset);
    return if (overflow == 0) sum else null;
}

fn abort(drive: *ata.Drive, fault: u32) End {
    _ = drive.abortData();
    return .{ .fault = fault };
}

fn faultOf(stop: Stop, to_memory: bool) u32 {
    return switch (stop) {
        .host_bus => Irq.hbfs,
        // The device had more data than the PRDT had room for (overflow), or wanted more.
        .prdt_short => Irq.ifs | if (to_memory) Irq.ofs else 0,
        .drive_failed => unreachable,
    };
}

/// PxTFD: error in bits 15:8, status in 7:0.
fn taskFileData(registers: ata.Registers) u32 {
    return @as(u32, registers.err) << 8 | registers.status;
}

/// What PxTFD shows when the HBA gives up on a command before the drive saw it.
fn abortedTaskFile(drive: *const ata.Drive) u32 {
    const status = ata.status_drdy | ata.status_err | if (drive.isPacketDevice()) 0 else ata.status_dsc;
    return @as(u32, ata.error_abrt) << 8 | status;
}

/// PxSIG: LBA high, mid and low, then the sector count, as the signature FIS carries them.
fn signatureOf(registers: ata.Registers) u32 {
    return @as(u32, @truncate(registers.lba & 0xFF_FFFF)) << 8 | (registers.count & 0xFF);
}

fn taskFileOf(cfis: *const [Fis.h2d_bytes]u8) ata.TaskFile {
    var lba: u48 = 0;
    for ([_]usize{ 10, 9, 8, 6, 5, 4 }) |i| lba = lba << 8 | cfis[i];
    return .{
        .command = cfis[2],
        .features = @as(u16, cfis[11]) << 8 | cfis[3],
        .count = @as(u16, cfis[13]) << 8 | cfis[12],
        .lba = lba,
        .device = cfis[7],
    };
}

/// The task file registers as a Register FIS carries them (bytes 4-13).
fn putRegisters(fis: []u8, registers: ata.Registers) void {
    const lba = registers.lba;
    fis[4] = @truncate(lba);
    fis[5] = @truncate(lba >> 8);
    fis[6] = @truncate(lba >> 16);
    fis[7] = registers.device;
    fis[8] = @truncate(lba >> 24);
    fis[9] = @truncate(lba >> 32);
    fis[10] = @truncate(lba >> 40);
    fis[12] = @truncate(registers.count);
    fis[13] = @truncate(registers.count >> 8);
}

fn d2hFis(registers: ata.Registers, interrupt: bool) [Fis.d2h_bytes]u8 {
    var fis = [_]u8{0} ** Fis.d2h_bytes;
    fis[0] = Fis.register_d2h;
    fis[1] = if (interrupt) Fis.interrupt_bit else 0;
    fis[2] = registers.status;
    fis[3] = registers.err;
    putRegisters(&fis, registers);
    return fis;
}

fn pioSetupFis(registers: ata.Registers, to_host: bool, interrupt: bool, ending_status: u8, bytes: u64) [Fis.pio_setup_bytes]u8 {
    var fis = [_]u8{0} ** Fis.pio_setup_bytes;
    fis[0] = Fis.pio_setup;
    fis[1] = (if (to_host) Fis.direction_bit else 0) | if (interrupt) Fis.interrupt_bit else 0;
    fis[2] = registers.status;
    fis[3] = registers.err;
    putRegisters(&fis, registers);
    fis[15] = ending_status;
    std.mem.writeInt(u16, fis[16..18], @intCast(bytes), .little);
    return fis;
}

fn sdbFis(status: u8, err: u8, completed: u32) [Fis.sdb_bytes]u8 {
    var fis = [_]u8{0} ** Fis.sdb_bytes;
    fis[0] = Fis.set_device_bits;
    fis[1] = Fis.interrupt_bit;
    fis[2] = status & 0x77;
    fis[3] = err;
    std.mem.writeInt(u32, fis[4..8], completed, .little);
    return fis;
}

/// PRDBC, in the command header's second dword.
fn storeByteCount(header: []u8, moved: u64) void {
    std.mem.writeInt(u32, header[4..8], @intCast(@min(moved, std.math.maxInt(u32))), .little);
}

/// IDENTIFY DEVICE data as a SATA disk behind this HBA shows it: NCQ with 32 tags, Gen1 and
/// Gen2 signalling (words 75 and 76), and the integrity word redone.
fn advertiseQueuing(data: []u8) void {
    if (data.len != 512) return;
    std.mem.writeInt(u16, data[Ncq.depth_word * 2 ..][0..2], slot_count - 1, .little);
    const word = data[Ncq.capabilities_word * 2 ..][0..2];
    std.mem.writeInt(u16, word, std.mem.readInt(u16, word, .little) | Ncq.supported | Ncq.gen1 | Ncq.gen2, .little);
    if (data[510] != 0xA5) return;
    var sum: u8 = 0;
    for (data[0..511]) |byte| sum +%= byte;
    data[511] = 0 -% sum;
}

const testing = std.testing;

/// Test double for the function's interrupt: the INTx level with its rising edges, and MSIs.
const InterruptRecorder = struct {
    level: bool = false,
    rises: u32 = 0,
    messages: u32 = 0,
    address: u64 = 0,
    data: u32 = 0,

    fn setLevel(context: ?*anyopaque, level: bool) void {
        const self: *InterruptRecorder = @ptrCast(@alignCast(context.?));
        if (level and !self.level) self.rises += 1;
        self.level = level;
    }

    fn message(context: ?*anyopaque, address: u64, data: u32) void {
        const self: *InterruptRecorder = @ptrCast(@alignCast(context.?));
        self.messages += 1;
        self.address = address;
        self.data = data;
    }

    fn sink(self: *InterruptRecorder) InterruptSink {
        return .{ .context = self, .setLevelFn = setLevel, .msiFn = message };
    }
};

/// Test double around a medium: counts calls that name sectors past its end (and refuses them).
const RangeChecked = struct {
    inner: ata.Backend,
    violations: u32 = 0,

    fn backend(self: *RangeChecked) ata.Backend {
        var wrapped = self.inner;
        wrapped.context = self;
        wrapped.readFn = read;
        wrapped.writeFn = write;
        wrapped.flushFn = flush;
        wrapped.readRegionsFn = if (self.inner.readRegionsFn == null) null else readRegions;
        wrapped.writeRegionsFn = if (self.inner.writeRegionsFn == null) null else writeRegions;
        return wrapped;
    }

    fn regionsInRange(self: *RangeChecked, sector: u64, regions: []const []const u8) bool {
        var len: usize = 0;
        for (regions) |region| len += region.len;
        return self.inRange(sector, len);
    }

    fn readRegions(context: *anyopaque, sector: u64, regions: []const []u8) bool {
        const self: *RangeChecked = @ptrCast(@alignCast(context));
        return self.regionsInRange(sector, regions) and self.inner.readRegionsFn.?(self.inner.context, sector, regions);
    }

    fn writeRegions(context: *anyopaque, sector: u64, regions: []const []const u8) bool {
        const self: *RangeChecked = @ptrCast(@alignCast(context));
        return self.regionsInRange(sector, regions) and self.inner.writeRegionsFn.?(self.inner.context, sector, regions);
    }

    fn inRange(self: *RangeChecked, sector: u64, len: usize) bool {
        const sector_bytes = self.inner.sector_bytes;
        const count = self.inner.sector_count;
        const ok = len > 0 and len % sector_bytes == 0 and sector < count and len / sector_bytes <= count - sector;
        if (!ok) self.violations += 1;
        return ok;
    }

    fn read(context: *anyopaque, sector: u64, out: []u8) bool {
        const self: *RangeChecked = @ptrCast(@alignCast(context));
        return self.inRange(sector, out.len) and self.inner.readFn(self.inner.context, sector, out);
    }

    fn write(context: *anyopaque, sector: u64, data: []const u8) bool {
        const self: *RangeChecked = @ptrCast(@alignCast(context));
        return self.inRange(sector, data.len) and self.inner.writeFn(self.inner.context, sector, data);
    }

    fn flush(context: *anyopaque) bool {
        const self: *RangeChecked = @ptrCast(@alignCast(context));
        return self.inner.flushFn(self.inner.context);
    }
};

const Region = struct {
    address: u64,
    bytes: u32,
    interrupt: bool = false,
};

/// A command as a test puts it in a slot: the Register FIS fields, the ATAPI command, the PRDT.
const TestCommand = struct {
    command: u8 = 0,
    features: u16 = 0,
    count: u16 = 0,
    lba: u48 = 0,
    device: u8 = ata.device_lba,
    /// Goes to ACMD and sets the header's A bit.
    cdb: ?[]const u8 = null,
    prds: []const Region = &.{},
    /// A device control FIS (C clear) with this control byte instead of a command.
    control: ?u8 = null,
    header_flags: u32 = 0,
    fis_type: u8 = Fis.register_h2d,
};

/// An HBA with a disk on port 0, a CD-ROM with a disc on port 1, an empty CD-ROM drive on port
/// 2 and nothing on ports 3-5; guest RAM from 0 with guard bytes on both sides.
const Bench = struct {
    const ram_bytes = 1 << 20;
    const guard_bytes = 4096;
    const guard = 0xC5;
    /// Where the tests keep things: command lists (1 KiB a port), FIS areas (256 bytes a port),
    /// command tables (1 KiB a slot of each port) and the data buffers.
    const command_lists: u32 = 0x1000;
    const fis_areas: u32 = 0x3000;
    const tables: u32 = 0x8000;
    const buffers: u32 = 0x40000;
    const disk_sectors = 256;
    const cd_sectors = 64;

    backing: []u8,
    ram: []u8,
    recorder: device.DmaRecorder,
    irq: InterruptRecorder,
    disk_medium: ata.MemoryBackend,
    cd_medium: ata.MemoryBackend,
    disk_check: RangeChecked,
    cd_check: RangeChecked,
    disk: ata.Drive,
    cdrom: ata.Drive,
    empty_cdrom: ata.Drive,
    ahci: Ahci,

    fn create() !*Bench {
        const self = try testing.allocator.create(Bench);
        errdefer testing.allocator.destroy(self);
        self.backing = try testing.allocator.alloc(u8, guard_bytes + ram_bytes + guard_bytes);
        errdefer testing.allocator.free(self.backing);
        @memset(self.backing, guard);
        self.ram = self.backing[guard_bytes..][0..ram_bytes];
        @memset(self.ram, 0);
        self.recorder = .{ .ram = self.ram };
        self.irq = .{};
        self.disk_medium = .{ .bytes = try patterned(ata.disk_sector_bytes, disk_sectors), .sector_bytes = ata.disk_sector_bytes };
        errdefer testing.allocator.free(self.disk_medium.bytes);
        self.cd_medium = .{
            .bytes = try patterned(ata.cdrom_sector_bytes, cd_sectors),
            .sector_bytes = ata.cdrom_sector_bytes,
            .read_only = true,
        };
        self.disk_check = .{ .inner = self.disk_medium.backend() };
        self.cd_check = .{ .inner = self.cd_medium.backend() };
        self.disk = ata.Drive.initDisk(self.disk_check.backend(), .{});
        self.cdrom = ata.Drive.initCdrom(self.cd_check.backend(), .{});
        self.empty_cdrom = ata.Drive.initCdrom(null, .{});
        self.ahci = Ahci.init(self.recorder.memory(), self.irq.sink());
        self.ahci.attach(0, &self.disk);
        self.ahci.attach(1, &self.cdrom);
        self.ahci.attach(2, &self.empty_cdrom);
        return self;
    }

    fn destroy(self: *Bench) void {
        testing.allocator.free(self.disk_medium.bytes);
        testing.allocator.free(self.cd_medium.bytes);
        testing.allocator.free(self.backing);
        testing.allocator.destroy(self);
    }

    fn patterned(sector_bytes: usize, sectors: usize) ![]u8 {
        const bytes = try testing.allocator.alloc(u8, sector_bytes * sectors);
        for (bytes, 0..) |*byte, i| byte.* = @truncate((i / sector_bytes) * 31 + (i % sector_bytes) * 3 + 1);
        return bytes;
    }

    fn read(self: *Bench, offset: u32) u32 {
        var data: [4]u8 = undefined;
        self.ahci.mmioRead(offset, &data);
        return std.mem.readInt(u32, &data, .little);
    }

    fn write(self: *Bench, offset: u32, value: u32) void {
        var data: [4]u8 = undefined;
        std.mem.writeInt(u32, &data, value, .little);
        self.ahci.mmioWrite(offset, &data);
    }

    fn portOffset(port: u3, register: u32) u32 {
        return port_base + @as(u32, port) * port_stride + register;
    }

    fn portRead(self: *Bench, port: u3, register: u32) u32 {
        return self.read(portOffset(port, register));
    }

    fn portWrite(self: *Bench, port: u3, register: u32, value: u32) void {
        self.write(portOffset(port, register), value);
    }

    fn commandList(port: u3) u32 {
        return command_lists + @as(u32, port) * 0x400;
    }

    fn fisArea(port: u3) u32 {
        return fis_areas + @as(u32, port) * 0x100;
    }

    fn tableOf(port: u3, slot: u5) u32 {
        return tables + (@as(u32, port) * slot_count + slot) * 0x400;
    }

    /// What a driver does: list and FIS area addresses, FIS receive on, then the list started.
    fn start(self: *Bench, port: u3) void {
        self.portWrite(port, Px.clb, commandList(port));
        self.portWrite(port, Px.clbu, 0);
        self.portWrite(port, Px.fb, fisArea(port));
        self.portWrite(port, Px.fbu, 0);
        self.portWrite(port, Px.cmd, Cmd.fre);
        self.portWrite(port, Px.cmd, Cmd.fre | Cmd.st);
    }

    /// Error recovery: stop the list, clear the status, start it again.
    fn restart(self: *Bench, port: u3) void {
        self.portWrite(port, Px.cmd, Cmd.fre);
        self.portWrite(port, Px.is, 0xFFFF_FFFF);
        self.portWrite(port, Px.serr, 0xFFFF_FFFF);
        self.portWrite(port, Px.cmd, Cmd.fre | Cmd.st);
    }

    fn enableInterrupts(self: *Bench, port: u3) void {
        self.portWrite(port, Px.ie, Irq.enable_mask);
        self.write(Hba.ghc, ghc_ie);
    }

    fn put(self: *Bench, port: u3, slot: u5, c: TestCommand) void {
        const table = tableOf(port, slot);
        // 1 KiB a slot, unless a long PRDT runs into the next slot's table.
        const t = self.ram[table..][0..@max(0x400, Table.prdt + c.prds.len * Table.entry_bytes)];
        @memset(t[0..Table.prdt], 0);
        t[0] = c.fis_type;
        t[1] = if (c.control == null) Fis.command_bit else 0;
        t[2] = c.command;
        t[3] = @truncate(c.features);
        t[4] = @truncate(c.lba);
        t[5] = @truncate(c.lba >> 8);
        t[6] = @truncate(c.lba >> 16);
        t[7] = c.device;
        t[8] = @truncate(c.lba >> 24);
        t[9] = @truncate(c.lba >> 32);
        t[10] = @truncate(c.lba >> 40);
        t[11] = @truncate(c.features >> 8);
        t[12] = @truncate(c.count);
        t[13] = @truncate(c.count >> 8);
        t[15] = c.control orelse 0;
        if (c.cdb) |cdb| @memcpy(t[Table.acmd..][0..cdb.len], cdb);
        for (c.prds, 0..) |region, i| putPrd(t[Table.prdt + i * Table.entry_bytes ..][0..16], region);
        var flags: u32 = 5 | @as(u32, @intCast(c.prds.len)) << Header.prdtl_shift | c.header_flags;
        if (c.cdb != null) flags |= Header.atapi;
        self.putHeader(commandList(port) + @as(u32, slot) * Header.bytes, flags, table);
    }

    fn putHeader(self: *Bench, at: u32, flags: u32, table: u64) void {
        const header = self.ram[at..][0..Header.bytes];
        @memset(header, 0);
        std.mem.writeInt(u32, header[0..4], flags, .little);
        std.mem.writeInt(u32, header[8..12], @truncate(table), .little);
        std.mem.writeInt(u32, header[12..16], @truncate(table >> 32), .little);
    }

    fn putPrd(out: *[16]u8, region: Region) void {
        std.mem.writeInt(u32, out[0..4], @truncate(region.address), .little);
        std.mem.writeInt(u32, out[4..8], @truncate(region.address >> 32), .little);
        std.mem.writeInt(u32, out[8..12], 0, .little);
        std.mem.writeInt(u32, out[12..16], (region.bytes - 1) | if (region.interrupt) prd_interrupt else 0, .little);
    }

    fn issue(self: *Bench, port: u3, slot: u5) void {
        self.portWrite(port, Px.ci, bit(slot));
    }

    fn byteCount(self: *Bench, port: u3, slot: u5) u32 {
        return std.mem.readInt(u32, self.ram[commandList(port) + @as(u32, slot) * Header.bytes + 4 ..][0..4], .little);
    }

    /// A FIS in the port's receive area.
    fn received(self: *Bench, port: u3, offset: u32, len: usize) []const u8 {
        return self.ram[fisArea(port) + offset ..][0..len];
    }

    fn diskBytes(self: *Bench, lba: usize, sectors: usize) []const u8 {
        return self.disk_medium.bytes[lba * ata.disk_sector_bytes ..][0 .. sectors * ata.disk_sector_bytes];
    }

    fn cdBytes(self: *Bench, lba: usize, sectors: usize) []const u8 {
        return self.cd_medium.bytes[lba * ata.cdrom_sector_bytes ..][0 .. sectors * ata.cdrom_sector_bytes];
    }
};

fn identifyWord(data: []const u8, word: usize) u16 {
    return std.mem.readInt(u16, data[word * 2 ..][0..2], .little);
}

test "register defaults: capabilities, version, ports, and each port's link, signature and task file" {
    const bench = try Bench.create();
    defer bench.destroy();
    const cap = bench.read(Hba.cap);
    try testing.expect(cap & cap_s64a != 0 and cap & cap_sncq != 0 and cap & cap_sam != 0 and cap & cap_sclo != 0);
    try testing.expectEqual(@as(u32, port_count - 1), cap & 0x1F);
    try testing.expectEqual(@as(u32, 31), (cap >> cap_ncs_shift) & 0x1F);
    try testing.expectEqual(speed_gen2, (cap >> cap_iss_shift) & 0xF);
    try testing.expectEqual(@as(u32, 0xE124_9F05), cap);
    try testing.expectEqual(@as(u32, 0x8000_0000), bench.read(Hba.ghc));
    try testing.expectEqual(@as(u32, 0), bench.read(Hba.is));
    try testing.expectEqual(@as(u32, 0x3F), bench.read(Hba.pi));
    try testing.expectEqual(@as(u32, 0x0001_0300), bench.read(Hba.vs));
    for ([_]u32{ Hba.cap2, 0x14, 0x18, 0x1C, 0x20, 0x28, 0xA0, 0xFC }) |offset| {
        try testing.expectEqual(@as(u32, 0), bench.read(offset));
    }

    // The disk: link up at Gen2, ATA signature, DRDY|DSC with the diagnostic code.
    try testing.expectEqual(@as(u32, 0x123), bench.portRead(0, Px.ssts));
    try testing.expectEqual(@as(u32, 0x0000_0101), bench.portRead(0, Px.sig));
    try testing.expectEqual(@as(u32, 0x0150), bench.portRead(0, Px.tfd));
    try testing.expectEqual(@as(u32, Cmd.sud | Cmd.pod), bench.portRead(0, Px.cmd));
    for ([_]u32{ Px.clb, Px.clbu, Px.fb, Px.fbu, Px.is, Px.ie, Px.sctl, Px.serr, Px.sact, Px.ci, Px.sntf, 0x40, 0x44, 0x70 }) |register| {
        try testing.expectEqual(@as(u32, 0), bench.portRead(0, register));
    }
    // CD-ROM drives, with a disc or without: the ATAPI signature.
    for ([_]u3{ 1, 2 }) |port| {
        try testing.expectEqual(@as(u32, 0x123), bench.portRead(port, Px.ssts));
        try testing.expectEqual(@as(u32, 0xEB14_0101), bench.portRead(port, Px.sig));
        try testing.expectEqual(@as(u32, 0x0100), bench.portRead(port, Px.tfd));
    }
    // No device: no link, no signature, the floating task file.
    for ([_]u3{ 3, 4, 5 }) |port| {
        try testing.expectEqual(@as(u32, 0), bench.portRead(port, Px.ssts));
        try testing.expectEqual(@as(u32, 0xFFFF_FFFF), bench.portRead(port, Px.sig));
        try testing.expectEqual(@as(u32, 0x7F), bench.portRead(port, Px.tfd));
    }
    // Past the last port.
    try testing.expectEqual(@as(u32, 0), bench.read(port_base + port_count * port_stride + Px.ssts));
    try testing.expectEqual(@as(u32, 0), bench.read(abar_bytes - 4));
    try testing.expectEqual(@as(u32, 0), bench.ahci.bad_accesses);
}

test "dword accesses only: other widths, misaligned and out-of-range accesses are refused and counted" {
    const bench = try Bench.create();
    defer bench.destroy();
    var data: [8]u8 = undefined;
    bench.ahci.mmioRead(Hba.vs, data[0..2]);
    try testing.expectEqualSlices(u8, &.{ 0xFF, 0xFF }, data[0..2]);
    bench.ahci.mmioRead(Hba.vs, data[0..1]);
    bench.ahci.mmioRead(Hba.vs + 2, data[0..4]);
    try testing.expectEqual(@as(u32, 0xFFFF_FFFF), std.mem.readInt(u32, data[0..4], .little));
    bench.ahci.mmioRead(abar_bytes, data[0..4]);
    bench.ahci.mmioRead(Hba.cap, data[0..8]);
    try testing.expectEqual(@as(u64, std.math.maxInt(u64)), std.mem.readInt(u64, &data, .little));
    // Refused writes change nothing.
    const ie = Bench.portOffset(0, Px.ie);
    bench.ahci.mmioWrite(ie, &.{ 0xFF, 0xFF });
    bench.ahci.mmioWrite(ie + 1, &.{ 0xFF, 0xFF, 0xFF, 0xFF });
    bench.ahci.mmioWrite(ie, &.{ 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF });
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.ie));
    try testing.expectEqual(@as(u32, 8), bench.ahci.bad_accesses);

    // Through pci.Handler: BAR5 reaches the registers, other BARs and offsets are refused.
    const handler = bench.ahci.pciHandler();
    handler.writeFn(handler.context, abar_index, ie, &.{ 0x01, 0x00, 0x00, 0x00 });
    handler.readFn(handler.context, abar_index, ie, data[0..4]);
    try testing.expectEqual(@as(u32, Irq.dhrs), std.mem.readInt(u32, data[0..4], .little));
    handler.readFn(handler.context, 0, Hba.vs, data[0..4]);
    try testing.expectEqual(@as(u32, 0xFFFF_FFFF), std.mem.readInt(u32, data[0..4], .little));
    handler.writeFn(handler.context, 4, ie, &.{ 0xFF, 0xFF, 0xFF, 0xFF });
    handler.readFn(handler.context, abar_index, abar_bytes + 0x10, data[0..4]);
    try testing.expectEqual(@as(u32, Irq.dhrs), bench.portRead(0, Px.ie));
    try testing.expectEqual(@as(u32, 11), bench.ahci.bad_accesses);
}

test "write-1-clear status registers, read-only identity registers, aligned list and FIS bases" {
    const bench = try Bench.create();
    defer bench.destroy();
    const p = &bench.ahci.ports[0];
    p.is = Irq.clearable | Irq.pcs;
    bench.portWrite(0, Px.is, Irq.dhrs | Irq.tfes | Irq.pcs);
    try testing.expectEqual((Irq.clearable & ~(Irq.dhrs | Irq.tfes)) | Irq.pcs, bench.portRead(0, Px.is));
    bench.portWrite(0, Px.is, 0);
    try testing.expectEqual((Irq.clearable & ~(Irq.dhrs | Irq.tfes)) | Irq.pcs, bench.portRead(0, Px.is));
    // PCS mirrors PxSERR.DIAG.X and is not cleared here.
    bench.portWrite(0, Px.is, 0xFFFF_FFFF);
    try testing.expectEqual(Irq.pcs, bench.portRead(0, Px.is));

    p.serr = serr_mask;
    bench.portWrite(0, Px.serr, 0x0000_0F00);
    try testing.expectEqual(serr_mask & ~@as(u32, 0xF00), bench.portRead(0, Px.serr));
    bench.portWrite(0, Px.serr, 0xFFFF_FFFF);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.serr));
    p.sntf = 0x8001;
    bench.portWrite(0, Px.sntf, 0x1);
    try testing.expectEqual(@as(u32, 0x8000), bench.portRead(0, Px.sntf));

    bench.ahci.is = 0b101;
    bench.write(Hba.is, 0b001);
    try testing.expectEqual(@as(u32, 0b100), bench.read(Hba.is));
    bench.write(Hba.is, 0xFFFF_FFFF);
    try testing.expectEqual(@as(u32, 0), bench.read(Hba.is));

    // Read-only registers ignore writes.
    for ([_]u32{ Hba.cap, Hba.pi, Hba.vs, Hba.cap2 }) |offset| {
        const before = bench.read(offset);
        bench.write(offset, 0x5A5A_5A5A);
        try testing.expectEqual(before, bench.read(offset));
    }
    for ([_]u32{ Px.tfd, Px.sig, Px.ssts }) |register| {
        const before = bench.portRead(0, register);
        bench.portWrite(0, register, 0x5A5A_5A5A);
        try testing.expectEqual(before, bench.portRead(0, register));
    }
    // Bases: the command list is 1 KiB aligned, the FIS area 256 bytes; the upper halves are whole.
    bench.portWrite(0, Px.clb, 0x1234_5FFF);
    bench.portWrite(0, Px.fb, 0xABCD_EFFF);
    bench.portWrite(0, Px.clbu, 0xFFFF_FFFF);
    bench.portWrite(0, Px.fbu, 0x8000_0001);
    try testing.expectEqual(@as(u32, 0x1234_5C00), bench.portRead(0, Px.clb));
    try testing.expectEqual(@as(u32, 0xABCD_EF00), bench.portRead(0, Px.fb));
    try testing.expectEqual(@as(u32, 0xFFFF_FFFF), bench.portRead(0, Px.clbu));
    try testing.expectEqual(@as(u32, 0x8000_0001), bench.portRead(0, Px.fbu));
    bench.portWrite(0, Px.ie, 0xFFFF_FFFF);
    try testing.expectEqual(@as(u32, 0xFDC0_00FF), bench.portRead(0, Px.ie));
    // PxSACT and PxCI take bits only while the list runs.
    bench.portWrite(0, Px.sact, 0x3);
    bench.portWrite(0, Px.ci, 0x3);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.sact) | bench.portRead(0, Px.ci));
}

test "starting and stopping a port: FR and CR follow FRE and ST; stopping clears CI, SACT and CCS; CLO" {
    const bench = try Bench.create();
    defer bench.destroy();
    // No drive on port 3: issued commands wait for ever, as nothing answers.
    bench.portWrite(3, Px.cmd, Cmd.fre);
    try testing.expectEqual(Cmd.sud | Cmd.pod | Cmd.fre | Cmd.fr, bench.portRead(3, Px.cmd));
    bench.portWrite(3, Px.cmd, Cmd.fre | Cmd.st | Cmd.atapi);
    try testing.expectEqual(Cmd.sud | Cmd.pod | Cmd.fre | Cmd.fr | Cmd.st | Cmd.cr | Cmd.atapi, bench.portRead(3, Px.cmd));
    bench.portWrite(3, Px.sact, 0x3);
    bench.portWrite(3, Px.ci, 0x5);
    bench.portWrite(3, Px.ci, 0x8);
    try testing.expectEqual(@as(u32, 0x3), bench.portRead(3, Px.sact));
    try testing.expectEqual(@as(u32, 0xD), bench.portRead(3, Px.ci));
    bench.portWrite(3, Px.cmd, Cmd.fre);
    try testing.expectEqual(Cmd.sud | Cmd.pod | Cmd.fre | Cmd.fr, bench.portRead(3, Px.cmd));
    try testing.expectEqual(@as(u32, 0), bench.portRead(3, Px.sact) | bench.portRead(3, Px.ci));
    bench.portWrite(3, Px.cmd, 0);
    try testing.expectEqual(Cmd.sud | Cmd.pod, bench.portRead(3, Px.cmd));

    // CCS names the slot last run.
    bench.start(0);
    bench.put(0, 7, .{ .command = ata.Command.check_power_mode });
    bench.issue(0, 7);
    try testing.expectEqual(@as(u32, 7), (bench.portRead(0, Px.cmd) & Cmd.ccs_mask) >> Cmd.ccs_shift);
    bench.portWrite(0, Px.cmd, Cmd.fre);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.cmd) & Cmd.ccs_mask);

    // CLO clears BSY and DRQ and reads back 0.
    bench.ahci.ports[0].tfd = 0x04D9;
    bench.portWrite(0, Px.cmd, Cmd.fre | Cmd.clo);
    try testing.expectEqual(@as(u32, 0x0451), bench.portRead(0, Px.tfd));
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.cmd) & Cmd.clo);
}

test "IDENTIFY DEVICE by PIO data-in through a PRDT of two regions: data, PRDBC, PIO Setup FIS, PSS" {
    const bench = try Bench.create();
    defer bench.destroy();
    bench.start(0);
    bench.enableInterrupts(0);
    const a = Bench.buffers;
    const b = Bench.buffers + 0x1000;
    @memset(bench.ram[a..][0..0x2000], 0xEE);
    bench.put(0, 3, .{ .command = ata.Command.identify_device, .device = 0, .prds = &.{
        .{ .address = a, .bytes = 256 },
        .{ .address = b, .bytes = 1024 },
    } });
    bench.issue(0, 3);

    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.ci));
    try testing.expectEqual(@as(u32, 512), bench.byteCount(0, 3));
    var data: [512]u8 = undefined;
    @memcpy(data[0..256], bench.ram[a..][0..256]);
    @memcpy(data[256..], bench.ram[b..][0..256]);
    try testing.expectEqual(@as(u8, 0xEE), bench.ram[a + 256]);
    for (bench.ram[b + 256 ..][0..768]) |byte| try testing.expectEqual(@as(u8, 0xEE), byte);
    // The disk's identity, with the SATA words this HBA adds and a valid integrity word.
    try testing.expectEqual(@as(u16, 0x0040), identifyWord(&data, 0));
    var model: [14]u8 = undefined;
    for (0..7) |i| {
        const word = identifyWord(&data, 27 + i);
        model[2 * i] = @truncate(word >> 8);
        model[2 * i + 1] = @truncate(word);
    }
    try testing.expectEqualStrings("VMCTL HARDDISK", &model);
    try testing.expectEqual(@as(u16, 31), identifyWord(&data, 75));
    try testing.expectEqual(Ncq.supported | Ncq.gen1 | Ncq.gen2, identifyWord(&data, 76));
    try testing.expectEqual(@as(u16, Bench.disk_sectors), identifyWord(&data, 100));
    try testing.expectEqual(@as(u8, 0xA5), data[510]);
    var sum: u8 = 0;
    for (data) |byte| sum +%= byte;
    try testing.expectEqual(@as(u8, 0), sum);

    // PIO Setup: device to host with I; DRQ while the block waited, DRDY|DSC at its end; 512 bytes.
    const pio = bench.received(0, Rfis.pio_setup, Fis.pio_setup_bytes);
    try testing.expectEqual(Fis.pio_setup, pio[0]);
    try testing.expectEqual(Fis.direction_bit | Fis.interrupt_bit, pio[1]);
    try testing.expectEqual(ata.status_drdy | ata.status_dsc | ata.status_drq, pio[2]);
    try testing.expectEqual(@as(u8, 0), pio[3]);
    try testing.expectEqual(ata.status_drdy | ata.status_dsc, pio[15]);
    try testing.expectEqual(@as(u16, 512), std.mem.readInt(u16, pio[16..18], .little));
    // The ending status came in the PIO Setup FIS: no D2H Register FIS.
    try testing.expectEqual(@as(u8, 0), bench.received(0, Rfis.d2h, 1)[0]);
    try testing.expectEqual(Irq.pss, bench.portRead(0, Px.is));
    try testing.expectEqual(@as(u32, 0x50), bench.portRead(0, Px.tfd));
    try testing.expectEqual(@as(u32, 1), bench.read(Hba.is));
    try testing.expect(bench.irq.level);
    bench.portWrite(0, Px.is, Irq.pss);
    bench.write(Hba.is, 1);
    try testing.expect(!bench.irq.level);
}

test "READ/WRITE DMA EXT over several sectors and regions: D2H FIS, DHRS, DPS, PRDBC" {
    const bench = try Bench.create();
    defer bench.destroy();
    bench.start(0);
    bench.enableInterrupts(0);
    const regions = [_]Region{
        .{ .address = Bench.buffers, .bytes = 1000 },
        .{ .address = Bench.buffers + 0x2000, .bytes = 2000, .interrupt = true },
        .{ .address = Bench.buffers + 0x4000, .bytes = 1096 },
    };
    var expected: [4096]u8 = undefined;
    var at: usize = 0;
    for (regions, 0..) |region, r| {
        const bytes = bench.ram[@intCast(region.address)..][0..region.bytes];
        for (bytes, 0..) |*byte, i| byte.* = @truncate(i * 7 + r + 3);
        @memcpy(expected[at..][0..region.bytes], bytes);
        at += region.bytes;
    }
    bench.put(0, 0, .{ .command = ata.Command.write_dma_ext, .lba = 10, .count = 8, .prds = &regions });
    bench.issue(0, 0);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.ci));
    try testing.expectEqualSlices(u8, &expected, bench.diskBytes(10, 8));
    try testing.expectEqual(@as(u32, 4096), bench.byteCount(0, 0));
    const d2h = bench.received(0, Rfis.d2h, Fis.d2h_bytes);
    try testing.expectEqual(Fis.register_d2h, d2h[0]);
    try testing.expectEqual(Fis.interrupt_bit, d2h[1]);
    try testing.expectEqual(ata.status_drdy | ata.status_dsc, d2h[2]);
    try testing.expectEqual(@as(u8, 0), d2h[3]);
    try testing.expectEqualSlices(u8, &.{ 10, 0, 0, ata.device_lba, 0, 0, 0 }, d2h[4..11]);
    try testing.expectEqualSlices(u8, &.{ 8, 0 }, d2h[12..14]);
    try testing.expectEqual(Irq.dhrs | Irq.dps, bench.portRead(0, Px.is));
    try testing.expectEqual(@as(u32, 0x50), bench.portRead(0, Px.tfd));
    bench.portWrite(0, Px.is, 0xFFFF_FFFF);

    // Back by READ DMA EXT into one region larger than the transfer: the rest stays.
    const into = Bench.buffers + 0x10000;
    @memset(bench.ram[into..][0..8192], 0xEE);
    bench.put(0, 1, .{ .command = ata.Command.read_dma_ext, .lba = 10, .count = 8, .prds = &.{.{ .address = into, .bytes = 8192 }} });
    bench.issue(0, 1);
    try testing.expectEqualSlices(u8, &expected, bench.ram[into..][0..4096]);
    for (bench.ram[into + 4096 ..][0..4096]) |byte| try testing.expectEqual(@as(u8, 0xEE), byte);
    try testing.expectEqual(@as(u32, 4096), bench.byteCount(0, 1));
    try testing.expectEqual(Irq.dhrs, bench.portRead(0, Px.is));

    // 28-bit READ DMA of sectors elsewhere, three slots issued by one write, run in slot order.
    for (0..3) |i| {
        const slot: u5 = @intCast(4 + i);
        bench.put(0, slot, .{ .command = ata.Command.read_dma, .lba = @intCast(100 + i), .count = 1, .device = ata.device_lba, .prds = &.{
            .{ .address = Bench.buffers + 0x20000 + i * 512, .bytes = 512 },
        } });
    }
    bench.portWrite(0, Px.ci, 0x70);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.ci));
    try testing.expectEqualSlices(u8, bench.diskBytes(100, 3), bench.ram[Bench.buffers + 0x20000 ..][0 .. 3 * 512]);

    // Seventy one-sector regions placed back to front (slot 31: its table runs into port 1's,
    // unused here): the medium sees one access per batch of ata.max_regions regions.
    var scattered: [70]Region = undefined;
    for (&scattered, 0..) |*region, i| region.* = .{ .address = Bench.buffers + 0x40000 + (69 - i) * 512, .bytes = 512 };
    for (scattered, 0..) |region, i| @memset(bench.ram[@intCast(region.address)..][0..512], @truncate(i + 1));
    const writes = bench.disk_medium.writes;
    bench.put(0, 31, .{ .command = ata.Command.write_dma_ext, .lba = 150, .count = 70, .prds = &scattered });
    bench.issue(0, 31);
    try testing.expectEqual(writes + 2, bench.disk_medium.writes);
    for (0..70) |i| {
        for (bench.diskBytes(150 + i, 1)) |byte| try testing.expectEqual(@as(u8, @truncate(i + 1)), byte);
    }
    @memset(bench.ram[Bench.buffers + 0x40000 ..][0 .. 70 * 512], 0);
    const reads = bench.disk_medium.reads;
    bench.put(0, 31, .{ .command = ata.Command.read_dma_ext, .lba = 150, .count = 70, .prds = &scattered });
    bench.issue(0, 31);
    try testing.expectEqual(reads + 2, bench.disk_medium.reads);
    for (scattered, 0..) |region, i| {
        for (bench.ram[@intCast(region.address)..][0..512]) |byte| try testing.expectEqual(@as(u8, @truncate(i + 1)), byte);
    }
    try testing.expectEqual(@as(u32, 70 * 512), bench.byteCount(0, 31));
    try testing.expectEqual(@as(u32, 0), bench.disk_check.violations);
}

test "PIO READ SECTORS in several blocks, PIO WRITE SECTORS: PIO Setup FISes, PSS and DHRS" {
    const bench = try Bench.create();
    defer bench.destroy();
    bench.start(0);
    bench.enableInterrupts(0);
    bench.put(0, 0, .{ .command = ata.Command.read_sectors, .lba = 5, .count = 3, .prds = &.{.{ .address = Bench.buffers, .bytes = 2048 }} });
    bench.issue(0, 0);
    try testing.expectEqualSlices(u8, bench.diskBytes(5, 3), bench.ram[Bench.buffers..][0..1536]);
    try testing.expectEqual(@as(u32, 1536), bench.byteCount(0, 0));
    const pio = bench.received(0, Rfis.pio_setup, Fis.pio_setup_bytes);
    try testing.expectEqual(Fis.direction_bit | Fis.interrupt_bit, pio[1]);
    try testing.expectEqual(ata.status_drdy | ata.status_dsc, pio[15]);
    try testing.expectEqual(@as(u16, 512), std.mem.readInt(u16, pio[16..18], .little));
    try testing.expectEqual(Irq.pss, bench.portRead(0, Px.is));
    bench.portWrite(0, Px.is, 0xFFFF_FFFF);

    const source = bench.ram[Bench.buffers + 0x1000 ..][0..1024];
    for (source, 0..) |*byte, i| byte.* = @truncate(i ^ 0x5A);
    bench.put(0, 1, .{ .command = ata.Command.write_sectors_ext, .lba = 20, .count = 2, .prds = &.{
        .{ .address = Bench.buffers + 0x1000, .bytes = 600 },
        .{ .address = Bench.buffers + 0x1000 + 600, .bytes = 424 },
    } });
    bench.issue(0, 1);
    try testing.expectEqualSlices(u8, source, bench.diskBytes(20, 2));
    // The second block's PIO Setup (host to device, with I), then the D2H Register FIS.
    try testing.expectEqual(Fis.interrupt_bit, pio[1]);
    const d2h = bench.received(0, Rfis.d2h, Fis.d2h_bytes);
    try testing.expectEqual(Fis.register_d2h, d2h[0]);
    try testing.expectEqual(Fis.interrupt_bit, d2h[1]);
    try testing.expectEqual(ata.status_drdy | ata.status_dsc, d2h[2]);
    try testing.expectEqual(Irq.pss | Irq.dhrs, bench.portRead(0, Px.is));
    try testing.expectEqual(@as(u32, 1024), bench.byteCount(0, 1));
}

test "NCQ: READ/WRITE FPDMA QUEUED with SACT, tags, the Set Device Bits FIS, FUA, and a failing tag" {
    const bench = try Bench.create();
    defer bench.destroy();
    bench.start(0);
    bench.enableInterrupts(0);
    const source = bench.ram[Bench.buffers + 0x3000 ..][0..1024];
    for (source, 0..) |*byte, i| byte.* = @truncate(i * 13 + 1);
    // Tag 1 reads 4 sectors at 30; tag 3 writes 2 sectors at 40 with FUA.
    bench.put(0, 1, .{ .command = Ncq.read, .features = 4, .count = 1 << 3, .lba = 30, .prds = &.{.{ .address = Bench.buffers, .bytes = 2048 }} });
    bench.put(0, 3, .{ .command = Ncq.write, .features = 2, .count = 3 << 3, .lba = 40, .device = ata.device_lba | Ncq.fua, .prds = &.{
        .{ .address = Bench.buffers + 0x3000, .bytes = 1024 },
    } });
    const flushes = bench.disk_medium.flushes;
    bench.portWrite(0, Px.sact, 0b1010);
    bench.portWrite(0, Px.ci, 0b1010);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.ci));
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.sact));
    try testing.expectEqualSlices(u8, bench.diskBytes(30, 4), bench.ram[Bench.buffers..][0..2048]);
    try testing.expectEqualSlices(u8, source, bench.diskBytes(40, 2));
    try testing.expectEqual(flushes + 1, bench.disk_medium.flushes);
    try testing.expectEqual(@as(u32, 2048), bench.byteCount(0, 1));
    try testing.expectEqual(@as(u32, 1024), bench.byteCount(0, 3));
    // The last Set Device Bits FIS names tag 3; good status, an interrupt.
    const sdb = bench.received(0, Rfis.sdb, Fis.sdb_bytes);
    try testing.expectEqual(Fis.set_device_bits, sdb[0]);
    try testing.expectEqual(Fis.interrupt_bit, sdb[1]);
    try testing.expectEqual(ata.status_drdy | ata.status_dsc, sdb[2]);
    try testing.expectEqual(@as(u8, 0), sdb[3]);
    try testing.expectEqual(@as(u32, 0b1000), std.mem.readInt(u32, sdb[4..8], .little));
    try testing.expectEqual(Irq.sdbs, bench.portRead(0, Px.is));
    try testing.expectEqual(@as(u32, 0x50), bench.portRead(0, Px.tfd));
    try testing.expect(bench.irq.level);
    bench.portWrite(0, Px.is, 0xFFFF_FFFF);

    // Tag 0 runs past the end of the disk: an error SDB, TFES, the tag still active.
    const reads = bench.disk_medium.reads;
    bench.put(0, 0, .{ .command = Ncq.read, .features = 2, .count = 0, .lba = Bench.disk_sectors - 1, .prds = &.{.{ .address = Bench.buffers, .bytes = 1024 }} });
    bench.portWrite(0, Px.sact, 0b1);
    bench.portWrite(0, Px.ci, 0b1);
    try testing.expectEqual(reads, bench.disk_medium.reads);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.ci));
    try testing.expectEqual(@as(u32, 1), bench.portRead(0, Px.sact));
    try testing.expectEqual(ata.status_drdy | ata.status_dsc | ata.status_err, sdb[2]);
    try testing.expectEqual(ata.error_idnf, sdb[3]);
    try testing.expectEqual(@as(u32, 0), std.mem.readInt(u32, sdb[4..8], .little));
    try testing.expectEqual(Irq.tfes | Irq.sdbs, bench.portRead(0, Px.is));
    try testing.expectEqual(@as(u32, 0x1051), bench.portRead(0, Px.tfd));
    // Halted: further commands wait until software restarts the port.
    bench.put(0, 2, .{ .command = Ncq.read, .features = 1, .count = 2 << 3, .lba = 0, .prds = &.{.{ .address = Bench.buffers, .bytes = 512 }} });
    bench.portWrite(0, Px.sact, 0b100);
    bench.portWrite(0, Px.ci, 0b100);
    try testing.expectEqual(@as(u32, 0b100), bench.portRead(0, Px.ci));
    bench.restart(0);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.sact) | bench.portRead(0, Px.ci));
    bench.portWrite(0, Px.sact, 0b100);
    bench.portWrite(0, Px.ci, 0b100);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.sact) | bench.portRead(0, Px.ci));
    try testing.expectEqual(@as(u32, 0b100), std.mem.readInt(u32, sdb[4..8], .little));
}

test "ATAPI through the A bit and ACMD: INQUIRY by PIO, unit attention, READ(10) by DMA and PIO" {
    const bench = try Bench.create();
    defer bench.destroy();
    bench.start(1);
    bench.enableInterrupts(1);
    // Byte count limit 0xFFFE in LBA mid/high, PIO (features bit 0 clear).
    const pio_limit: u48 = 0xFFFE << 8;
    bench.put(1, 0, .{ .command = ata.Command.packet, .lba = pio_limit, .device = 0, .cdb = &.{ ata.Scsi.inquiry, 0, 0, 0, 36, 0 }, .prds = &.{
        .{ .address = Bench.buffers, .bytes = 512 },
    } });
    bench.issue(1, 0);
    try testing.expectEqual(@as(u32, 0), bench.portRead(1, Px.ci));
    try testing.expectEqual(@as(u32, 36), bench.byteCount(1, 0));
    const inquiry = bench.ram[Bench.buffers..][0..36];
    try testing.expectEqual(@as(u8, 0x05), inquiry[0]);
    try testing.expectEqualStrings("VMCTL   ", inquiry[8..16]);
    const pio = bench.received(1, Rfis.pio_setup, Fis.pio_setup_bytes);
    try testing.expectEqual(Fis.direction_bit | Fis.interrupt_bit, pio[1]);
    try testing.expectEqual(@as(u16, 36), std.mem.readInt(u16, pio[16..18], .little));
    // The status phase comes as a D2H Register FIS: I/O and C/D, an interrupt.
    const d2h = bench.received(1, Rfis.d2h, Fis.d2h_bytes);
    try testing.expectEqual(Fis.interrupt_bit, d2h[1]);
    try testing.expectEqual(ata.status_drdy | ata.status_dsc, d2h[2]);
    try testing.expectEqual(ata.reason_io | ata.reason_cod, d2h[12]);
    try testing.expectEqual(Irq.pss | Irq.dhrs, bench.portRead(1, Px.is));
    bench.portWrite(1, Px.is, 0xFFFF_FFFF);

    // READ(10) of 3 sectors at 2 by DMA: first the unit attention (CHECK CONDITION, sense key 6).
    const read_10 = [_]u8{ ata.Scsi.read_10, 0, 0, 0, 0, 2, 0, 0, 3, 0 };
    const dma_read = TestCommand{ .command = ata.Command.packet, .features = 1, .device = 0, .cdb = &read_10, .prds = &.{
        .{ .address = Bench.buffers + 0x10000, .bytes = 4096 },
        .{ .address = Bench.buffers + 0x20000, .bytes = 4096 },
    } };
    bench.put(1, 1, dma_read);
    bench.issue(1, 1);
    try testing.expectEqual(@as(u32, 0b10), bench.portRead(1, Px.ci));
    try testing.expectEqual(Irq.tfes | Irq.dhrs, bench.portRead(1, Px.is));
    try testing.expectEqual(@as(u32, 0x6041), bench.portRead(1, Px.tfd));
    try testing.expectEqual(ata.status_drdy | ata.status_err, d2h[2]);
    bench.restart(1);
    bench.issue(1, 1);
    try testing.expectEqual(@as(u32, 0), bench.portRead(1, Px.ci));
    try testing.expectEqual(@as(u32, 6144), bench.byteCount(1, 1));
    try testing.expectEqualSlices(u8, bench.cdBytes(2, 2), bench.ram[Bench.buffers + 0x10000 ..][0..4096]);
    try testing.expectEqualSlices(u8, bench.cdBytes(4, 1), bench.ram[Bench.buffers + 0x20000 ..][0..2048]);
    try testing.expectEqual(Irq.dhrs, bench.portRead(1, Px.is));
    bench.portWrite(1, Px.is, 0xFFFF_FFFF);

    // The same by PIO with a byte count limit of one sector: three blocks, then the status.
    bench.put(1, 2, .{ .command = ata.Command.packet, .lba = 2048 << 8, .device = 0, .cdb = &read_10, .prds = &.{
        .{ .address = Bench.buffers + 0x30000, .bytes = 1000 },
        .{ .address = Bench.buffers + 0x31000, .bytes = 5144 },
    } });
    bench.issue(1, 2);
    try testing.expectEqual(@as(u32, 6144), bench.byteCount(1, 2));
    try testing.expectEqualSlices(u8, bench.cdBytes(2, 3)[0..1000], bench.ram[Bench.buffers + 0x30000 ..][0..1000]);
    try testing.expectEqualSlices(u8, bench.cdBytes(2, 3)[1000..], bench.ram[Bench.buffers + 0x31000 ..][0..5144]);
    try testing.expectEqual(@as(u16, 2048), std.mem.readInt(u16, pio[16..18], .little));
    try testing.expectEqual(Irq.pss | Irq.dhrs, bench.portRead(1, Px.is));
    try testing.expectEqual(@as(u32, 0x50), bench.portRead(1, Px.tfd));

    // PACKET without the A bit: the drive gets no command packet and aborts.
    bench.put(1, 3, .{ .command = ata.Command.packet, .device = 0 });
    bench.issue(1, 3);
    try testing.expectEqual(Irq.tfes, bench.portRead(1, Px.is) & Irq.tfes);
    try testing.expectEqual(@as(u32, ata.error_abrt), bench.portRead(1, Px.tfd) >> 8);
}

test "task file errors: an LBA past the disk fails with TFES and IDNF, and the port waits for a restart" {
    const bench = try Bench.create();
    defer bench.destroy();
    bench.start(0);
    bench.enableInterrupts(0);
    const reads = bench.disk_medium.reads;
    bench.put(0, 0, .{ .command = ata.Command.read_dma_ext, .lba = Bench.disk_sectors, .count = 1, .prds = &.{.{ .address = Bench.buffers, .bytes = 512 }} });
    bench.put(0, 1, .{ .command = ata.Command.read_dma_ext, .lba = 0, .count = 1, .prds = &.{.{ .address = Bench.buffers, .bytes = 512 }} });
    bench.portWrite(0, Px.ci, 0b11);
    try testing.expectEqual(reads, bench.disk_medium.reads);
    // Slot 0 failed and stays issued; slot 1 never ran.
    try testing.expectEqual(@as(u32, 0b11), bench.portRead(0, Px.ci));
    try testing.expectEqual(@as(u32, 0), (bench.portRead(0, Px.cmd) & Cmd.ccs_mask) >> Cmd.ccs_shift);
    try testing.expectEqual(Irq.tfes | Irq.dhrs, bench.portRead(0, Px.is));
    try testing.expectEqual(@as(u32, 0x1051), bench.portRead(0, Px.tfd));
    const d2h = bench.received(0, Rfis.d2h, Fis.d2h_bytes);
    try testing.expectEqual(Fis.interrupt_bit, d2h[1]);
    try testing.expectEqual(@as(u8, 0x51), d2h[2]);
    try testing.expectEqual(ata.error_idnf, d2h[3]);
    try testing.expect(bench.irq.level);
    // Still halted after PxIS is cleared.
    bench.portWrite(0, Px.is, 0xFFFF_FFFF);
    bench.portWrite(0, Px.ci, 0b10);
    try testing.expectEqual(@as(u32, 0b11), bench.portRead(0, Px.ci));
    // The recovery: ST off (CR drops, CI clears), then on again.
    bench.portWrite(0, Px.cmd, Cmd.fre);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.cmd) & Cmd.cr);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.ci));
    bench.portWrite(0, Px.cmd, Cmd.fre | Cmd.st);
    bench.issue(0, 1);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.ci));
    try testing.expectEqual(Irq.dhrs, bench.portRead(0, Px.is));
    try testing.expectEqualSlices(u8, bench.diskBytes(0, 1), bench.ram[Bench.buffers..][0..512]);

    // A medium error: UNC with the failing LBA.
    bench.portWrite(0, Px.is, 0xFFFF_FFFF);
    bench.disk_medium.fail_reads = true;
    bench.put(0, 2, .{ .command = ata.Command.read_dma_ext, .lba = 7, .count = 2, .prds = &.{.{ .address = Bench.buffers, .bytes = 1024 }} });
    bench.issue(0, 2);
    try testing.expectEqual(Irq.tfes | Irq.dhrs, bench.portRead(0, Px.is));
    try testing.expectEqual(@as(u32, ata.error_unc), bench.portRead(0, Px.tfd) >> 8);
    try testing.expectEqual(@as(u8, 7), d2h[4]);
}

test "host bus and interface errors: tables, PRDs, lists and FIS areas outside RAM; bad FISes; short PRDTs" {
    const bench = try Bench.create();
    defer bench.destroy();
    bench.start(0);
    bench.enableInterrupts(0);
    const snapshot = try testing.allocator.dupe(u8, bench.backing);
    defer testing.allocator.free(snapshot);
    const reads = bench.disk_medium.reads;
    const ram_end: u64 = Bench.ram_bytes;

    // A command table outside RAM.
    bench.putHeader(Bench.commandList(0), 5 | 1 << Header.prdtl_shift, ram_end);
    @memcpy(snapshot, bench.backing);
    bench.issue(0, 0);
    try testing.expectEqual(Irq.hbfs, bench.portRead(0, Px.is));
    try testing.expectEqual(@as(u32, 0x0451), bench.portRead(0, Px.tfd));
    try testing.expectEqual(@as(u32, 1), bench.portRead(0, Px.ci));
    try testing.expectEqualSlices(u8, snapshot, bench.backing);

    // A PRD region straddling the end of RAM; one above 4 GiB; one whose entry lies past RAM.
    const bad_regions = [_]Region{
        .{ .address = ram_end - 512, .bytes = 1024 },
        .{ .address = 0x1_0000_0000 + @as(u64, Bench.buffers), .bytes = 1024 },
        .{ .address = std.math.maxInt(u64) - 511, .bytes = 1024 },
    };
    for (bad_regions) |region| {
        bench.restart(0);
        bench.put(0, 0, .{ .command = ata.Command.read_dma_ext, .lba = 0, .count = 2, .prds = &.{region} });
        @memcpy(snapshot, bench.backing);
        bench.issue(0, 0);
        try testing.expectEqual(Irq.hbfs, bench.portRead(0, Px.is));
        try testing.expectEqual(@as(u32, 0x0451), bench.portRead(0, Px.tfd));
        try testing.expectEqual(@as(u32, 1), bench.portRead(0, Px.ci));
        // Only PRDBC (0 bytes) may have been written.
        try testing.expectEqualSlices(u8, snapshot, bench.backing);
    }
    bench.restart(0);
    const last_table = Bench.ram_bytes - Table.prdt;
    @memset(bench.ram[last_table..][0..Table.prdt], 0);
    bench.ram[last_table] = Fis.register_h2d;
    bench.ram[last_table + 1] = Fis.command_bit;
    bench.ram[last_table + 2] = ata.Command.read_dma_ext;
    bench.ram[last_table + 12] = 1;
    bench.putHeader(Bench.commandList(0), 5 | 1 << Header.prdtl_shift, last_table);
    bench.issue(0, 0);
    try testing.expectEqual(Irq.hbfs, bench.portRead(0, Px.is));
    try testing.expectEqual(reads, bench.disk_medium.reads);

    // A command list outside RAM (64-bit address).
    bench.restart(0);
    bench.portWrite(0, Px.clbu, 1);
    bench.issue(0, 0);
    try testing.expectEqual(Irq.hbfs, bench.portRead(0, Px.is));
    bench.portWrite(0, Px.clbu, 0);

    // A FIS area outside RAM: the command runs, posting its result fails.
    bench.portWrite(0, Px.cmd, 0);
    bench.portWrite(0, Px.fb, Bench.ram_bytes);
    bench.portWrite(0, Px.is, 0xFFFF_FFFF);
    bench.portWrite(0, Px.cmd, Cmd.fre | Cmd.st);
    bench.put(0, 0, .{ .command = ata.Command.flush_cache_ext });
    bench.issue(0, 0);
    try testing.expectEqual(Irq.hbfs, bench.portRead(0, Px.is));
    try testing.expectEqual(@as(u32, 1), bench.portRead(0, Px.ci));
    bench.portWrite(0, Px.cmd, 0);
    bench.portWrite(0, Px.fb, Bench.fisArea(0));

    // A command FIS of the wrong type, or shorter than a Register FIS: interface fatal.
    bench.restart(0);
    bench.put(0, 0, .{ .command = ata.Command.flush_cache_ext, .fis_type = Fis.register_d2h });
    bench.issue(0, 0);
    try testing.expectEqual(Irq.ifs, bench.portRead(0, Px.is));
    try testing.expectEqual(@as(u32, 0x0451), bench.portRead(0, Px.tfd));
    bench.restart(0);
    bench.put(0, 0, .{ .command = ata.Command.flush_cache_ext });
    bench.ram[Bench.commandList(0)] = 4;
    bench.issue(0, 0);
    try testing.expectEqual(Irq.ifs, bench.portRead(0, Px.is));

    // A PRDT shorter than the transfer: IFS, with OFS when the data came from the device.
    bench.restart(0);
    bench.put(0, 0, .{ .command = ata.Command.read_dma_ext, .lba = 0, .count = 4, .prds = &.{.{ .address = Bench.buffers, .bytes = 1024 }} });
    bench.issue(0, 0);
    try testing.expectEqual(Irq.ifs | Irq.ofs, bench.portRead(0, Px.is));
    try testing.expectEqual(@as(u32, 0x0451), bench.portRead(0, Px.tfd));
    try testing.expectEqual(@as(u32, 1024), bench.byteCount(0, 0));
    try testing.expectEqual(@as(u32, 1), bench.portRead(0, Px.ci));
    bench.restart(0);
    bench.put(0, 0, .{ .command = ata.Command.write_dma_ext, .lba = 0, .count = 2, .prds = &.{.{ .address = Bench.buffers, .bytes = 512 }} });
    bench.issue(0, 0);
    try testing.expectEqual(Irq.ifs, bench.portRead(0, Px.is));
    bench.restart(0);
    bench.put(0, 0, .{ .command = ata.Command.identify_device });
    bench.issue(0, 0);
    try testing.expectEqual(Irq.ifs | Irq.ofs, bench.portRead(0, Px.is));

    // After all of it, the port works.
    bench.restart(0);
    bench.put(0, 0, .{ .command = ata.Command.read_dma_ext, .lba = 3, .count = 1, .prds = &.{.{ .address = Bench.buffers, .bytes = 512 }} });
    bench.issue(0, 0);
    try testing.expectEqual(Irq.dhrs, bench.portRead(0, Px.is));
    try testing.expectEqualSlices(u8, bench.diskBytes(3, 1), bench.ram[Bench.buffers..][0..512]);
    try testing.expectEqual(@as(u32, 0), bench.disk_check.violations);
    try testing.expectEqualSlices(u8, snapshot[0..Bench.guard_bytes], bench.backing[0..Bench.guard_bytes]);
    try testing.expectEqualSlices(u8, snapshot[Bench.guard_bytes + Bench.ram_bytes ..], bench.backing[Bench.guard_bytes + Bench.ram_bytes ..]);
}

test "interrupts: PxIE gates IS, GHC.IE gates the line, IS bits return while their port is pending" {
    const bench = try Bench.create();
    defer bench.destroy();
    bench.start(0);
    bench.start(1);
    // CHECK POWER MODE: a non-data command both drives take.
    const check_power = TestCommand{ .command = ata.Command.check_power_mode };
    bench.put(0, 0, check_power);
    bench.issue(0, 0);
    try testing.expectEqual(Irq.dhrs, bench.portRead(0, Px.is));
    try testing.expectEqual(@as(u32, 0), bench.read(Hba.is));
    try testing.expect(!bench.irq.level);
    // Enabling the bit reports the port; the line waits for GHC.IE.
    bench.portWrite(0, Px.ie, Irq.dhrs);
    try testing.expectEqual(@as(u32, 1), bench.read(Hba.is));
    try testing.expect(!bench.irq.level);
    bench.write(Hba.ghc, ghc_ie);
    try testing.expect(bench.irq.level);
    try testing.expectEqual(@as(u32, 1), bench.irq.rises);
    try testing.expectEqual(ghc_ae | ghc_ie, bench.read(Hba.ghc));
    // IS cannot be cleared while the port's status is pending.
    bench.write(Hba.is, 1);
    try testing.expectEqual(@as(u32, 1), bench.read(Hba.is));
    try testing.expect(bench.irq.level);
    // Port status first, then IS: the line drops.
    bench.portWrite(0, Px.is, Irq.dhrs);
    try testing.expectEqual(@as(u32, 1), bench.read(Hba.is));
    try testing.expect(bench.irq.level);
    bench.write(Hba.is, 1);
    try testing.expect(!bench.irq.level);
    // A second port: both bits, one line.
    bench.portWrite(1, Px.ie, Irq.dhrs);
    bench.put(1, 0, check_power);
    bench.issue(0, 0);
    bench.issue(1, 0);
    try testing.expectEqual(@as(u32, 0b11), bench.read(Hba.is));
    try testing.expect(bench.irq.level);
    try testing.expectEqual(@as(u32, 2), bench.irq.rises);
    bench.write(Hba.ghc, 0);
    try testing.expect(!bench.irq.level);
    bench.write(Hba.ghc, ghc_ie);
    try testing.expect(bench.irq.level);
    for ([_]u3{ 0, 1 }) |port| bench.portWrite(port, Px.is, 0xFFFF_FFFF);
    bench.write(Hba.is, 0xFFFF_FFFF);
    try testing.expect(!bench.irq.level);
    // Status not enabled in PxIE never reaches IS.
    bench.portWrite(0, Px.ie, Irq.tfes);
    bench.issue(0, 0);
    try testing.expectEqual(Irq.dhrs, bench.portRead(0, Px.is));
    try testing.expectEqual(@as(u32, 0), bench.read(Hba.is));
    try testing.expect(!bench.irq.level);
    try testing.expectEqual(@as(u32, 0), bench.irq.messages);
}

test "MSI: the capability, one message per event while enabled, INTx otherwise" {
    const bench = try Bench.create();
    defer bench.destroy();
    var function = initPciFunction();
    addMsiCapability(&function);
    try testing.expect(function.get16(pci.Config.status) & status_capabilities != 0);
    try testing.expectEqual(msi_capability_offset, function.config[capabilities_pointer]);
    try testing.expectEqual(msi_capability_id, function.config[msi_capability_offset]);
    try testing.expectEqual(@as(u8, 0), function.config[msi_capability_offset + 1]);
    try testing.expectEqual(msi_64bit, function.get16(msi_capability_offset + 2));
    try testing.expectEqual(@as(u8, 0x01), function.writable[msi_capability_offset + 2]);
    try testing.expectEqual(@as(u8, 0xFC), function.writable[msi_capability_offset + 4]);
    try testing.expectEqual(@as(u8, 0xFF), function.writable[msi_capability_offset + 13]);
    try testing.expectEqual(@as(u8, 0x00), function.writable[msi_capability_offset + 14]);
    bench.ahci.connect(&function);
    function.put16(pci.Config.command, pci.command_memory | pci.command_bus_master);

    // Not enabled yet: INTx.
    bench.start(0);
    bench.enableInterrupts(0);
    bench.put(0, 0, .{ .command = ata.Command.flush_cache });
    bench.issue(0, 0);
    try testing.expect(bench.irq.level);
    bench.portWrite(0, Px.is, 0xFFFF_FFFF);
    bench.write(Hba.is, 1);
    try testing.expect(!bench.irq.level);

    // Enabled as a guest does it: address, data, enable; the function may master the bus.
    function.put32(msi_capability_offset + 4, 0xFEE0_1000);
    function.put32(msi_capability_offset + 8, 0);
    function.put16(msi_capability_offset + 12, 0x4041);
    function.put16(msi_capability_offset + 2, msi_64bit | msi_enable);
    bench.issue(0, 0);
    try testing.expectEqual(@as(u32, 1), bench.irq.messages);
    try testing.expectEqual(@as(u64, 0xFEE0_1000), bench.irq.address);
    try testing.expectEqual(@as(u32, 0x4041), bench.irq.data);
    try testing.expect(!bench.irq.level);
    // A second event before the first is acknowledged is a second message; a register write
    // with no new event is none.
    bench.issue(0, 0);
    try testing.expectEqual(@as(u32, 2), bench.irq.messages);
    _ = bench.read(Hba.is);
    bench.portWrite(0, Px.serr, 0);
    try testing.expectEqual(@as(u32, 2), bench.irq.messages);
    // Without bus mastering the message cannot be sent, nor the command fetched: the port
    // stops with a host bus fatal error.
    function.put16(pci.Config.command, pci.command_memory);
    bench.portWrite(0, Px.ie, Irq.hbfs);
    bench.issue(0, 0);
    try testing.expectEqual(@as(u32, 2), bench.irq.messages);
    try testing.expect(bench.portRead(0, Px.is) & Irq.hbfs != 0);
    try testing.expectEqual(@as(u32, 1), bench.portRead(0, Px.ci));
    // MSI off: the pending status comes out on INTx.
    function.put16(msi_capability_offset + 2, msi_64bit);
    bench.portWrite(0, Px.serr, 0);
    try testing.expect(bench.irq.level);
}

test "COMRESET through PxSCTL.DET: link down while held, then the signature in PxSIG and the FIS area" {
    const bench = try Bench.create();
    defer bench.destroy();
    for ([_]u3{ 0, 1 }) |port| {
        bench.portWrite(port, Px.fb, Bench.fisArea(port));
        bench.portWrite(port, Px.cmd, Cmd.fre);
    }
    bench.portWrite(0, Px.sctl, det_comreset);
    try testing.expectEqual(ssts_present, bench.portRead(0, Px.ssts));
    try testing.expectEqual(@as(u32, ata.status_bsy), bench.portRead(0, Px.tfd));
    try testing.expectEqual(sig_unknown, bench.portRead(0, Px.sig));
    try testing.expectEqual(@as(u8, 0), bench.received(0, Rfis.d2h, 1)[0]);
    bench.portWrite(0, Px.sctl, det_none);
    try testing.expectEqual(@as(u32, 0x123), bench.portRead(0, Px.ssts));
    try testing.expectEqual(@as(u32, 0x0000_0101), bench.portRead(0, Px.sig));
    try testing.expectEqual(@as(u32, 0x0150), bench.portRead(0, Px.tfd));
    const d2h = bench.received(0, Rfis.d2h, Fis.d2h_bytes);
    try testing.expectEqualSlices(u8, &.{ Fis.register_d2h, 0, 0x50, 0x01, 0x01, 0, 0, 0 }, d2h[0..8]);
    try testing.expectEqual(@as(u8, 1), d2h[12]);
    // The signature FIS asks for no interrupt.
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.is));

    // The CD-ROM's signature; a speed limit of Gen1 in PxSCTL.SPD.
    bench.portWrite(1, Px.sctl, 0x10 | det_comreset);
    bench.portWrite(1, Px.sctl, 0x10);
    try testing.expectEqual(@as(u32, 0x113), bench.portRead(1, Px.ssts));
    try testing.expectEqual(@as(u32, 0xEB14_0101), bench.portRead(1, Px.sig));
    try testing.expectEqualSlices(u8, &.{ 0x01, 0x14, 0xEB }, bench.received(1, Rfis.d2h, 8)[4..7]);
    try testing.expectEqual(@as(u32, 0x10), bench.portRead(1, Px.sctl));

    // Offline, then back; and a port with no device stays without a link.
    bench.portWrite(0, Px.sctl, det_offline);
    try testing.expectEqual(ssts_offline, bench.portRead(0, Px.ssts));
    bench.portWrite(0, Px.sctl, det_none);
    try testing.expectEqual(@as(u32, 0x123), bench.portRead(0, Px.ssts));
    bench.portWrite(3, Px.sctl, det_comreset);
    bench.portWrite(3, Px.sctl, det_none);
    try testing.expectEqual(@as(u32, 0), bench.portRead(3, Px.ssts));
    try testing.expectEqual(tfd_absent, bench.portRead(3, Px.tfd));
}

test "commands wait in PxCI while the link is down and run once it is back" {
    const bench = try Bench.create();
    defer bench.destroy();
    bench.start(0);
    bench.enableInterrupts(0);
    for ([_]u32{ det_offline, det_comreset }) |det| {
        bench.portWrite(0, Px.sctl, det);
        bench.put(0, 0, .{ .command = ata.Command.flush_cache_ext });
        bench.issue(0, 0);
        try testing.expectEqual(@as(u32, 1), bench.portRead(0, Px.ci));
        try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.is));
        try testing.expect(!bench.irq.level);
        bench.portWrite(0, Px.sctl, det_none);
        try testing.expectEqual(@as(u32, 1), bench.portRead(0, Px.ci));
        // The next PxCI write runs both the waiting command and the new one.
        bench.put(0, 1, .{ .command = ata.Command.flush_cache_ext });
        bench.issue(0, 1);
        try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.ci));
        try testing.expectEqual(Irq.dhrs, bench.portRead(0, Px.is));
        bench.portWrite(0, Px.is, 0xFFFF_FFFF);
        bench.write(Hba.is, 0xFFFF_FFFF);
    }
}

test "GHC.HR resets the HBA and every port, keeping the list and FIS area addresses" {
    const bench = try Bench.create();
    defer bench.destroy();
    bench.start(0);
    bench.enableInterrupts(0);
    bench.portWrite(0, Px.sctl, 0x300);
    bench.put(0, 0, .{ .command = ata.Command.read_dma_ext, .lba = Bench.disk_sectors, .count = 1 });
    bench.issue(0, 0);
    try testing.expect(bench.irq.level);
    try testing.expectEqual(@as(u32, 0x1051), bench.portRead(0, Px.tfd));
    bench.write(Hba.ghc, ghc_hr | ghc_ie);
    try testing.expectEqual(ghc_ae, bench.read(Hba.ghc));
    try testing.expectEqual(@as(u32, 0), bench.read(Hba.is));
    try testing.expect(!bench.irq.level);
    try testing.expectEqual(Bench.commandList(0), bench.portRead(0, Px.clb));
    try testing.expectEqual(Bench.fisArea(0), bench.portRead(0, Px.fb));
    try testing.expectEqual(Cmd.sud | Cmd.pod, bench.portRead(0, Px.cmd));
    for ([_]u32{ Px.is, Px.ie, Px.sctl, Px.serr, Px.sact, Px.ci }) |register| {
        try testing.expectEqual(@as(u32, 0), bench.portRead(0, register));
    }
    try testing.expectEqual(@as(u32, 0x123), bench.portRead(0, Px.ssts));
    try testing.expectEqual(@as(u32, 0x0000_0101), bench.portRead(0, Px.sig));
    try testing.expectEqual(@as(u32, 0x0150), bench.portRead(0, Px.tfd));
    try testing.expectEqual(@as(u32, 0xEB14_0101), bench.portRead(1, Px.sig));
    // The port runs again once started.
    bench.start(0);
    bench.put(0, 0, .{ .command = ata.Command.read_dma_ext, .lba = 1, .count = 1, .prds = &.{.{ .address = Bench.buffers, .bytes = 512 }} });
    bench.issue(0, 0);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.ci));
}

test "software reset through control FISes: SRST, then the signature on release" {
    const bench = try Bench.create();
    defer bench.destroy();
    bench.start(1);
    bench.enableInterrupts(1);
    bench.ahci.ports[1].sig = sig_unknown;
    // Reset and clear-busy in the header, as drivers send the first FIS.
    bench.put(1, 0, .{ .control = Fis.control_srst, .header_flags = Header.clear_busy | 1 << 8 });
    bench.put(1, 1, .{ .control = 0 });
    bench.issue(1, 0);
    try testing.expectEqual(@as(u32, 0), bench.portRead(1, Px.ci));
    try testing.expectEqual(@as(u32, 0x0100), bench.portRead(1, Px.tfd));
    try testing.expectEqual(sig_unknown, bench.portRead(1, Px.sig));
    bench.issue(1, 1);
    try testing.expectEqual(@as(u32, 0), bench.portRead(1, Px.ci));
    try testing.expectEqual(@as(u32, 0xEB14_0101), bench.portRead(1, Px.sig));
    try testing.expectEqualSlices(u8, &.{ Fis.register_d2h, 0, 0x00, 0x01, 0x01, 0x14, 0xEB }, bench.received(1, Rfis.d2h, 7));
    try testing.expectEqual(@as(u32, 0), bench.portRead(1, Px.is));
    // Without clear-busy, BSY shows until the release.
    bench.put(1, 0, .{ .control = Fis.control_srst });
    bench.issue(1, 0);
    try testing.expectEqual(@as(u32, ata.status_bsy), bench.portRead(1, Px.tfd));
    bench.issue(1, 1);
    try testing.expectEqual(@as(u32, 0x0100), bench.portRead(1, Px.tfd));
}

test "COMRESET without Bus Master Enable: no signature FIS in RAM, HBFS; with it, the FIS" {
    const bench = try Bench.create();
    defer bench.destroy();
    var function = initPciFunction();
    bench.ahci.connect(&function);
    function.put16(pci.Config.command, pci.command_memory);
    bench.portWrite(0, Px.fb, Bench.fisArea(0));
    bench.portWrite(0, Px.cmd, Cmd.fre);
    @memset(bench.ram[Bench.fisArea(0)..][0..Rfis.bytes], 0xAA);
    bench.portWrite(0, Px.sctl, det_comreset);
    bench.portWrite(0, Px.sctl, det_none);
    // The link and the signature come back; the FIS has nowhere to go.
    try testing.expectEqual(@as(u32, 0x0000_0101), bench.portRead(0, Px.sig));
    for (bench.ram[Bench.fisArea(0)..][0..Rfis.bytes]) |byte| try testing.expectEqual(@as(u8, 0xAA), byte);
    try testing.expectEqual(Irq.hbfs, bench.portRead(0, Px.is));
    function.put16(pci.Config.command, pci.command_memory | pci.command_bus_master);
    bench.portWrite(0, Px.is, 0xFFFF_FFFF);
    bench.portWrite(0, Px.sctl, det_comreset);
    bench.portWrite(0, Px.sctl, det_none);
    try testing.expectEqual(Fis.register_d2h, bench.received(0, Rfis.d2h, 1)[0]);
    try testing.expectEqual(@as(u32, 0), bench.portRead(0, Px.is));
}

test "the PCI function: ICH9 AHCI, class 010601, BAR5 of 8 KiB, INTA" {
    const function = initPciFunction();
    try testing.expectEqual(@as(u32, 0x2922_8086), function.get32(pci.Config.vendor_id));
    try testing.expectEqual(@as(u32, 0x0106_0102), function.get32(pci.Config.revision));
    try testing.expectEqual(pci.BarKind.memory32, function.bars[abar_index].kind);
    try testing.expectEqual(abar_bytes, function.bars[abar_index].size);
    try testing.expectEqual(@as(u32, 0xFFFF_E000), std.mem.readInt(u32, function.writable[0x24..0x28], .little));
    for (0..5) |i| try testing.expectEqual(pci.BarKind.none, function.bars[i].kind);
    try testing.expectEqual(@as(u8, 1), function.config[pci.Config.interrupt_pin]);
    try testing.expectEqual(@as(u16, 0), function.get16(pci.Config.status) & status_capabilities);
    try testing.expectEqual(@as(u8, 0), function.config[capabilities_pointer]);
}

/// The hostile guest's memory: where it keeps command lists, FIS areas, tables and buffers, and
/// what it last wrote everywhere the HBA may not write.
const Guest = struct {
    bench: *Bench,
    random: std.Random,
    expected: []u8,

    /// Command lists (16 of 1 KiB) and FIS areas (16 of 256 bytes) below `fis_end`; command
    /// tables (48 of 2 KiB, up to 120 PRDs each); data buffers up to the end of RAM, so that
    /// regions straddling it start in them. The HBA may write the buffers, the FIS areas and
    /// the PRDBC dword of each header, nothing else.
    const lists_end: u32 = 0x4000;
    const fis_start: u32 = 0x4000;
    const fis_end: u32 = 0x5000;
    const tables_start: u32 = 0x8000;
    const table_bytes: u32 = 0x800;
    const table_count = 48;
    const max_entries = (table_bytes - Table.prdt) / Table.entry_bytes;
    const buffers_start: u32 = 0x80000;
    const buffers_end: u32 = Bench.ram_bytes;
    const ram_end: u64 = Bench.ram_bytes;

    const opcodes = [_]u8{
        ata.Command.identify_device,   ata.Command.identify_packet_device,    ata.Command.read_dma_ext,
        ata.Command.write_dma_ext,     ata.Command.read_dma,                  ata.Command.write_dma,
        ata.Command.read_sectors,      ata.Command.write_sectors,             ata.Command.read_sectors_ext,
        ata.Command.write_sectors_ext, ata.Command.read_multiple,             ata.Command.write_multiple,
        Ncq.read,                      Ncq.write,                             Ncq.read,
        Ncq.write,                     ata.Command.packet,                    ata.Command.packet,
        ata.Command.packet,            ata.Command.packet,                    ata.Command.flush_cache_ext,
        ata.Command.set_features,      ata.Command.set_multiple_mode,         ata.Command.check_power_mode,
        ata.Command.device_reset,      ata.Command.execute_device_diagnostic, ata.Command.read_verify_sectors,
    };
    const cdbs = [_][]const u8{
        &.{ata.Scsi.test_unit_ready},
        &.{ ata.Scsi.request_sense, 0, 0, 0, 18 },
        &.{ ata.Scsi.inquiry, 0, 0, 0, 36 },
        &.{ata.Scsi.read_capacity},
        &.{ ata.Scsi.read_10, 0, 0, 0, 0, 3, 0, 0, 4, 0 },
        &.{ ata.Scsi.read_12, 0, 0, 0, 0, 60, 0, 0, 0, 4 },
        &.{ ata.Scsi.read_10, 0, 0, 0, 0, 63, 0, 0, 2, 0 },
        &.{ ata.Scsi.read_10, 0, 0, 0, 0, 0, 0, 0, 40, 0 },
        &.{ ata.Scsi.read_toc, 2, 0, 0, 0, 0, 0, 0, 20, 0 },
        &.{ ata.Scsi.mode_sense_10, 0, 0x3F, 0, 0, 0, 0, 0, 64, 0 },
        &.{ ata.Scsi.start_stop_unit, 0, 0, 0, 2, 0 },
        &.{ ata.Scsi.start_stop_unit, 0, 0, 0, 3, 0 },
    };

    fn store(self: *Guest, at: u64, bytes: []const u8) void {
        const start: usize = @intCast(at);
        @memcpy(self.bench.ram[start..][0..bytes.len], bytes);
        @memcpy(self.expected[start..][0..bytes.len], bytes);
    }

    fn pick(self: *Guest, n: usize) usize {
        return self.random.uintLessThan(usize, n);
    }

    fn listAddress(self: *Guest) u64 {
        return switch (self.pick(10)) {
            0 => ram_end + @as(u64, self.random.uintLessThan(u32, 1 << 20)) * command_list_align,
            1 => 0xFFFF_FFFF_FFFF_FC00,
            else => @as(u64, self.pick(lists_end / command_list_align)) * command_list_align,
        };
    }

    fn fisAddress(self: *Guest) u64 {
        return switch (self.pick(10)) {
            0 => ram_end + @as(u64, self.random.uintLessThan(u32, 1 << 20)) * fis_area_align,
            1 => 0xFFFF_FFFF_FFFF_FF00,
            else => fis_start + @as(u64, self.pick((fis_end - fis_start) / fis_area_align)) * fis_area_align,
        };
    }

    fn tableAddress(self: *Guest) u64 {
        return switch (self.pick(12)) {
            0 => ram_end + @as(u64, self.random.uintLessThan(u32, 1 << 20)) * 128,
            // The command FIS in RAM, the PRDT past its end.
            1 => ram_end - Table.prdt,
            else => tables_start + @as(u64, self.pick(table_count)) * table_bytes,
        };
    }

    /// A PRD region: mostly in the buffers, else outside RAM, straddling its end, or at the top
    /// of the address space.
    fn region(self: *Guest) Region {
        const bytes: u32 = switch (self.pick(8)) {
            0 => @as(u32, self.random.intRangeAtMost(u32, 1, 2048)) * 2048,
            1 => 2,
            else => @as(u32, self.random.intRangeAtMost(u32, 1, 8192)) * 2,
        };
        const address: u64 = switch (self.pick(16)) {
            0 => ram_end + self.random.uintLessThan(u64, 1 << 40),
            1 => ram_end - 1 - self.random.uintLessThan(u64, @min(bytes, buffers_end - buffers_start - 1)),
            2 => std.math.maxInt(u64) - self.random.uintLessThan(u64, bytes),
            else => blk: {
                const size = @min(bytes, buffers_end - buffers_start);
                break :blk buffers_start + self.random.uintAtMost(u64, buffers_end - buffers_start - size);
            },
        };
        // Inside the buffers, a region never reaches past them.
        const inside = address >= buffers_start and address < buffers_end;
        return .{
            .address = address,
            .bytes = if (inside) @intCast(@min(bytes, buffers_end - address)) else bytes,
            .interrupt = self.random.boolean(),
        };
    }

    /// A plausible command (now and then any byte) in a table, with up to `entries` PRDs;
    /// mostly PACKET for a CD-ROM.
    fn writeTable(self: *Guest, table: u64, entries: u32, cdrom: bool) void {
        var fis = [_]u8{0} ** Table.prdt;
        self.random.bytes(fis[0..Fis.h2d_bytes]);
        fis[0] = if (self.pick(16) == 0) self.random.int(u8) else Fis.register_h2d;
        fis[1] = if (self.pick(16) == 0) 0 else Fis.command_bit;
        if (fis[1] == 0) fis[15] = if (self.random.boolean()) Fis.control_srst else 0;
        const opcode = if (self.pick(16) == 0)
            self.random.int(u8)
        else if (cdrom and self.pick(4) != 0)
            ata.Command.packet
        else
            opcodes[self.pick(opcodes.len)];
        fis[2] = opcode;
        const small = self.pick(4) != 0;
        // Count, features (an NCQ command's sector count) and LBA: mostly small.
        const count: u16 = if (small) self.random.uintAtMost(u16, 24) else self.random.int(u16);
        fis[12] = @truncate(count);
        fis[13] = @truncate(count >> 8);
        if (small) {
            fis[3] = self.random.uintAtMost(u8, 24);
            fis[11] = 0;
            fis[4] = self.random.int(u8);
            fis[5] = self.random.uintAtMost(u8, 1);
            @memset(fis[8..11], 0);
            fis[6] = 0;
        }
        fis[7] = if (self.random.boolean()) ata.device_lba else self.random.int(u8);
        if (opcode == ata.Command.packet) {
            // DMA or PIO; the byte count limit in LBA mid/high.
            fis[3] = self.random.uintAtMost(u8, 1);
            const limits = [_]u16{ 0, 2, 512, 2048, 0xFFFE, 0xFFFF };
            const limit = if (self.pick(8) == 0) self.random.int(u16) else limits[self.pick(limits.len)];
            fis[5] = @truncate(limit);
            fis[6] = @truncate(limit >> 8);
        }
        if (self.pick(8) == 0) {
            self.random.bytes(fis[Table.acmd..][0..Table.acmd_bytes]);
        } else {
            const cdb = cdbs[self.pick(cdbs.len)];
            @memcpy(fis[Table.acmd..][0..cdb.len], cdb);
        }
        if (table + Table.prdt > ram_end) return;
        self.store(table, &fis);
        if (table + Table.prdt == ram_end) return;
        for (0..entries) |i| {
            var entry: [16]u8 = undefined;
            Bench.putPrd(&entry, self.region());
            self.store(table + Table.prdt + i * Table.entry_bytes, &entry);
        }
    }

    /// A header in a command list in RAM: a table, its PRDTL, CFL, A and C bits.
    fn writeHeader(self: *Guest, list: u64, slot: u5, cdrom: bool) void {
        const table = self.tableAddress();
        const in_tables = table >= tables_start and table < tables_start + table_count * table_bytes;
        const entries: u32 = if (in_tables) self.random.uintAtMost(u32, max_entries) else self.random.uintAtMost(u32, 0xFFFF);
        if (self.random.boolean()) self.writeTable(table, if (in_tables) entries else 0, cdrom);
        var flags: u32 = if (self.pick(16) == 0) self.random.uintAtMost(u32, 31) else 5;
        if (if (cdrom) self.pick(8) != 0 else self.random.boolean()) flags |= Header.atapi;
        if (self.pick(4) == 0) flags |= Header.clear_busy;
        flags |= entries << Header.prdtl_shift;
        var header = [_]u8{0} ** Header.bytes;
        std.mem.writeInt(u32, header[0..4], flags, .little);
        std.mem.writeInt(u32, header[8..12], @truncate(table), .little);
        std.mem.writeInt(u32, header[12..16], @truncate(table >> 32), .little);
        self.store(list + @as(u64, slot) * Header.bytes, &header);
    }

    fn check(self: *Guest, guards: []const u8) !void {
        const ram = self.bench.ram;
        var at: usize = 0;
        while (at < lists_end) : (at += Header.bytes) {
            try testing.expectEqualSlices(u8, self.expected[at..][0..4], ram[at..][0..4]);
            try testing.expectEqualSlices(u8, self.expected[at + 8 ..][0..24], ram[at + 8 ..][0..24]);
        }
        try testing.expectEqualSlices(u8, self.expected[fis_end..buffers_start], ram[fis_end..buffers_start]);
        try testing.expectEqualSlices(u8, self.expected[buffers_end..], ram[buffers_end..]);
        const backing = self.bench.backing;
        try testing.expectEqualSlices(u8, guards[0..Bench.guard_bytes], backing[0..Bench.guard_bytes]);
        try testing.expectEqualSlices(u8, guards[Bench.guard_bytes + Bench.ram_bytes ..], backing[Bench.guard_bytes + Bench.ram_bytes ..]);
        try testing.expectEqual(@as(u32, 0), self.bench.disk_check.violations);
        try testing.expectEqual(@as(u32, 0), self.bench.cd_check.violations);
        try testing.expectEqual(self.bench.ahci.intx_level, self.bench.irq.level);
    }
};

test "hostile guest: random registers, command lists, tables and PRDTs never panic or stray" {
    const bench = try Bench.create();
    defer bench.destroy();
    var prng = std.Random.DefaultPrng.init(0xA4C1);
    const random = prng.random();
    random.bytes(bench.ram[Guest.buffers_start..Guest.buffers_end]);
    const expected = try testing.allocator.dupe(u8, bench.ram);
    defer testing.allocator.free(expected);
    const guards = try testing.allocator.dupe(u8, bench.backing);
    defer testing.allocator.free(guards);
    var guest = Guest{ .bench = bench, .random = random, .expected = expected };

    // Every PRD slot of every table names a buffer, and every header a table, so stale ones
    // are as safe as fresh ones.
    for (0..Guest.table_count) |t| {
        const table = Guest.tables_start + t * Guest.table_bytes;
        for (0..Guest.max_entries) |i| {
            var entry: [16]u8 = undefined;
            Bench.putPrd(&entry, .{ .address = Guest.buffers_start + random.uintLessThan(u32, 0x1000) * 2, .bytes = 512 });
            guest.store(table + Table.prdt + i * Table.entry_bytes, &entry);
        }
    }
    for (0..Guest.lists_end / command_list_align) |list| {
        for (0..slot_count) |slot| guest.writeHeader(list * command_list_align, @intCast(slot), false);
    }

    var seen: u32 = 0;
    var issued: u32 = 0;
    const port_registers = [_]u32{ Px.clb, Px.clbu, Px.fb, Px.fbu, Px.is, Px.ie, Px.cmd, Px.tfd, Px.sig, Px.ssts, Px.sctl, Px.serr, Px.sact, Px.ci, Px.sntf, 0x1C, 0x40, 0x7C };
    for (0..30_000) |i| {
        // Mostly the disk and the CD-ROM; the empty drive and the empty ports now and then.
        const port: u3 = if (guest.pick(8) == 0) @intCast(guest.pick(port_count)) else @intCast(guest.pick(2));
        switch (guest.pick(20)) {
            // Commands in 1-4 slots, issued together (queued ones with their SACT bits).
            0...7 => {
                const p = &bench.ahci.ports[port];
                if (p.cmd & Cmd.st == 0 or !p.linkEstablished() or guest.pick(16) == 0) {
                    const list = guest.listAddress();
                    const fis = guest.fisAddress();
                    bench.portWrite(port, Px.cmd, Cmd.fre);
                    // A driver brings the link up before it starts the list.
                    if (!p.linkEstablished()) bench.portWrite(port, Px.sctl, det_none);
                    bench.portWrite(port, Px.clb, @truncate(list));
                    bench.portWrite(port, Px.clbu, @truncate(list >> 32));
                    bench.portWrite(port, Px.fb, @truncate(fis));
                    bench.portWrite(port, Px.fbu, @truncate(fis >> 32));
                    bench.portWrite(port, Px.cmd, Cmd.fre | Cmd.st);
                }
                const list = p.commandList();
                var slots: u32 = 0;
                var queued: u32 = 0;
                for (0..guest.pick(4) + 1) |_| {
                    const slot: u5 = @intCast(guest.pick(slot_count));
                    slots |= bit(slot);
                    if (list < Guest.lists_end and guest.pick(4) != 0) guest.writeHeader(list, slot, port == 1);
                    if (guest.random.boolean()) queued |= bit(slot);
                }
                if (queued != 0) bench.portWrite(port, Px.sact, queued);
                bench.portWrite(port, Px.ci, slots);
                issued += 1;
                seen |= p.is;
                // A driver's recovery after an error, most of the time.
                if (p.halted and guest.pick(4) != 0) bench.restart(port);
            },
            // Any port register, with addresses from the guest's choices.
            8...11 => {
                const register = port_registers[guest.pick(port_registers.len)];
                var value = random.int(u32);
                switch (register) {
                    Px.clb => value = @truncate(guest.listAddress()),
                    Px.fb => value = @truncate(guest.fisAddress()),
                    Px.clbu, Px.fbu => value = if (guest.pick(4) == 0) random.int(u32) else 0,
                    Px.cmd => if (guest.random.boolean()) {
                        value &= Cmd.clo | Cmd.atapi;
                        value |= Cmd.fre | if (guest.pick(4) != 0) Cmd.st else 0;
                    },
                    Px.sctl => if (guest.pick(4) != 0) {
                        value = ([_]u32{ det_none, det_comreset, det_offline, 0x10 })[guest.pick(4)];
                    },
                    else => {},
                }
                bench.portWrite(port, register, value);
                seen |= bench.ahci.ports[port].is;
            },
            // The global registers: a rare HBA reset.
            12 => {
                const register = ([_]u32{ Hba.cap, Hba.ghc, Hba.is, Hba.pi, Hba.vs, Hba.cap2, 0x14, 0x28 })[guest.pick(8)];
                var value = random.int(u32);
                if (register == Hba.ghc and guest.pick(16) != 0) value &= ~ghc_hr;
                bench.write(register, value);
            },
            // Anything at all, any width.
            13, 14 => {
                var data: [8]u8 = undefined;
                random.bytes(&data);
                const widths = [_]usize{ 1, 2, 4, 4, 8 };
                const width = widths[guest.pick(widths.len)];
                const offset = random.uintLessThan(u32, abar_bytes + 64);
                if (guest.random.boolean()) {
                    bench.ahci.mmioRead(offset, data[0..width]);
                } else {
                    // Writes avoid the list and FIS area bases (the guest's own choices only).
                    const register = if (offset >= port_base) (offset - port_base) % port_stride else port_stride;
                    if (register <= Px.fbu + 3 and offset < port_base + port_count * port_stride) continue;
                    bench.ahci.mmioWrite(offset, data[0..width]);
                }
            },
            15 => {
                const list = bench.ahci.ports[port].commandList();
                if (list < Guest.lists_end) guest.writeHeader(list, @intCast(guest.pick(slot_count)), port == 1);
            },
            16 => guest.writeTable(guest.tableAddress(), @intCast(guest.pick(Guest.max_entries + 1)), guest.random.boolean()),
            17 => {
                bench.disk_medium.fail_reads = guest.pick(8) == 0;
                bench.disk_medium.fail_writes = guest.pick(8) == 0;
                bench.disk_medium.fail_flushes = guest.pick(8) == 0;
                bench.cd_medium.fail_reads = guest.pick(8) == 0;
            },
            // The host swaps the disc now and then.
            18 => if (guest.pick(4) == 0) {
                bench.ahci.mutex.lock();
                defer bench.ahci.mutex.unlock();
                if (guest.pick(4) == 0) bench.cdrom.removeMedium() else bench.cdrom.insertMedium(bench.cd_check.backend());
            },
            else => _ = bench.portRead(port, port_registers[guest.pick(port_registers.len)]),
        }
        if (i % 32 == 0) try guest.check(guards);
    }
    try guest.check(guards);
    try testing.expect(issued > 8000);
    // The traffic reached deep: media moved both ways, and every kind of outcome happened.
    try testing.expect(bench.disk_medium.reads > 250 and bench.disk_medium.writes > 150);
    try testing.expect(bench.cd_medium.reads > 300);
    for ([_]u32{ Irq.dhrs, Irq.pss, Irq.sdbs, Irq.dps, Irq.tfes, Irq.hbfs, Irq.ifs, Irq.ofs }) |kind| {
        try testing.expect(seen & kind != 0);
    }
    try testing.expect(bench.ahci.bad_accesses > 100);
}
