//! The PIIX3 IDE function (82371SB, the same interface as the PIIX4's): two channels in legacy
//! mode, each with a command block (primary 0x1F0-0x1F7, secondary 0x170-0x177), a control
//! register (0x3F6, 0x376) and an ISA interrupt (14, 15), plus the 16-byte bus-master DMA block
//! behind BAR4 (SFF-8038i). Up to two drives per channel (ata.zig), master and slave, chosen by
//! bit 4 of the device register.
//!
//! Each drive has its own task file, as on the cable: both latch what the host writes; reads
//! come from the selected one; a drive's results (status, error, signatures, ATAPI interrupt
//! reason and byte count) land in its own copy. 48-bit commands see the previous value of every
//! register (HOB), which reads back with device control bit 7 set.
//!
//! An absent drive: when the channel has none at all, every register reads 0x7F (the data lines
//! float high and DD7 is pulled down, as ATA requires), which SeaBIOS and Linux take for "no
//! device" without waiting for BSY. When only the other drive is there, the absent one's
//! registers read 0, so the 0x55/0xAA register probe of SeaBIOS's ata_detect and Linux's
//! ata_devchk fails for it at once.
//!
//! Commands run to completion while the guest writes the command register; BSY shows only while
//! SRST is held. PIO blocks go through a per-channel buffer; bus-master DMA runs synchronously
//! when both the drive's DMA phase and the start bit are there (whichever comes last), walking
//! the PRD table in guest RAM with every descriptor and region bounds-checked.
const std = @import("std");
const assert = std.debug.assert;
const device = @import("device.zig");
const pci = @import("pci.zig");
const ata = @import("ata.zig");
const IrqLine = device.IrqLine;

/// Legacy ports and interrupts of the two channels.
pub const ChannelPorts = struct {
    command: u16,
    control: u16,
    irq: u8,
};

pub const legacy_ports = [2]ChannelPorts{
    .{ .command = 0x1F0, .control = 0x3F6, .irq = 14 },
    .{ .command = 0x170, .control = 0x376, .irq = 15 },
};

pub const identity = pci.Identity{ .vendor_id = 0x8086, .device_id = 0x7010, .class_code = 0x010180 };
/// BAR4: the bus-master registers, 16 bytes of I/O space.
pub const bus_master_bar: u3 = 4;

/// IDETIM (primary 0x40, secondary 0x42): bit 15 enables decoding of the channel's legacy ports.
const idetim_primary: u8 = 0x40;
const idetim_secondary: u8 = 0x42;
const idetim_decode_enable: u16 = 0x8000;
/// SIDETIM: slave timings.
const sidetim: u8 = 0x44;

/// The PIIX3 IDE function as firmware leaves it: legacy mode, bus-master capable, both channels
/// decoding (so a kernel booted without firmware finds them), BAR4 unassigned. No INTx pin: the
/// channels use IRQ 14 and 15. The timing registers are scratch to vmctl.
pub fn initPciFunction() pci.Function {
    var function = pci.Function.init(identity);
    function.setBar(bus_master_bar, .io, Ide.bus_master_port_count);
    function.put16(pci.Config.status, 0x0280); // medium DEVSEL timing, fast back-to-back capable
    function.put16(idetim_primary, idetim_decode_enable);
    function.put16(idetim_secondary, idetim_decode_enable);
    @memset(function.writable[idetim_primary..][0 .. sidetim - idetim_primary + 1], 0xFF);
    return function;
}

/// Whether `channel`'s legacy ports decode: I/O space enabled and the channel's IDETIM bit set.
/// The VM asks before routing a legacy port access here.
pub fn legacyDecodeEnabled(function: *const pci.Function, channel: u1) bool {
    const idetim = if (channel == 0) idetim_primary else idetim_secondary;
    return function.command() & pci.command_io != 0 and function.get16(idetim) & idetim_decode_enable != 0;
}

pub const Ide = struct {
    /// Command block: data (0), error/features (1), sector count (2), LBA low/mid/high (3-5),
    /// device (6), status/command (7).
    pub const command_port_count: u16 = 8;
    /// Control block: alternate status / device control, one byte (0x3F7 belongs to the floppy).
    pub const control_port_count: u16 = 1;
    /// Bus-master block: per channel (secondary at +8) command, status, PRD table pointer.
    pub const bus_master_port_count: u16 = 16;
    /// A 64 KiB PRD table holds this many descriptors; the table may not cross 64 KiB.
    pub const max_prds: u32 = 8192;
    /// One PIO DRQ block.
    pub const buffer_bytes: u32 = 64 << 10;

    comptime {
        assert(buffer_bytes >= ata.max_pio_block_bytes);
        assert(max_prds * prd_bytes == 64 << 10);
    }

    /// Guards everything below (and the drives): vCPUs may reach both channels at once.
    mutex: std.Thread.Mutex = .{},
    /// Guest RAM, for bus-master DMA.
    dma: device.DmaMemory,
    channels: [2]Channel,
    /// The PCI function (after `connect`): bus-master DMA runs only while the guest sets its
    /// Bus Master Enable.
    function: ?*const pci.Function = null,
    /// Accesses with a wrong width or outside a block (saturating).
    bad_accesses: u32 = 0,

    const Register = struct {
        const data: u3 = 0;
        const error_features: u3 = 1;
        const count: u3 = 2;
        const lba_low: u3 = 3;
        const lba_mid: u3 = 4;
        const lba_high: u3 = 5;
        const device: u3 = 6;
        const status_command: u3 = 7;
    };

    /// Device control register bits.
    const control_nien: u8 = 0x02;
    const control_srst: u8 = 0x04;
    const control_hob: u8 = 0x80;

    /// BMICx: start/stop bus master, and the direction (1: the controller writes memory).
    const bmic_start: u8 = 0x01;
    const bmic_write_memory: u8 = 0x08;
    /// BMISx.
    const bmis_active: u8 = 0x01;
    const bmis_error: u8 = 0x02;
    const bmis_interrupt: u8 = 0x04;
    const bmis_drive0_dma: u8 = 0x20;
    const bmis_drive1_dma: u8 = 0x40;

    const prd_bytes: u32 = 8;
    const prd_end_of_table: u8 = 0x80;
    /// A PRD byte count of 0 means 64 KiB.
    const prd_max_region_bytes: u32 = 64 << 10;

    /// What a floating, drive-less channel reads as.
    const floating_bus: u8 = 0x7F;

    pub fn init(irqs: [2]IrqLine, dma: device.DmaMemory) Ide {
        return .{ .dma = dma, .channels = .{ .{ .irq = irqs[0] }, .{ .irq = irqs[1] } } };
    }

    /// Ties the controller to its PCI function, which must outlive it.
    pub fn connect(self: *Ide, function: *const pci.Function) void {
        self.function = function;
    }

    /// Connects a drive (before the guest runs). The drive must outlive the controller.
    pub fn attach(self: *Ide, channel: u1, slot: u1, drive: *ata.Drive) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        const ch = &self.channels[channel];
        assert(ch.drives[slot] == null);
        ch.drives[slot] = drive;
        ch.sync(slot);
        // What firmware would record after probing the drive.
        ch.bmis |= if (slot == 0) bmis_drive0_dma else bmis_drive1_dma;
    }

    pub fn commandRead(self: *Ide, channel: u1, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!self.commandAccessAllowed(offset, data.len)) return @memset(data, 0xFF);
        const ch = &self.channels[channel];
        if (offset == Register.data) {
            var i: usize = 0;
            while (i < data.len) : (i += 2) std.mem.writeInt(u16, data[i..][0..2], self.dataRead(ch), .little);
            return;
        }
        data[0] = registerRead(ch, @intCast(offset));
    }

    pub fn commandWrite(self: *Ide, channel: u1, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!self.commandAccessAllowed(offset, data.len)) return;
        const ch = &self.channels[channel];
        if (offset == Register.data) {
            var i: usize = 0;
            while (i < data.len) : (i += 2) self.dataWrite(ch, std.mem.readInt(u16, data[i..][0..2], .little));
            return;
        }
        self.registerWrite(ch, @intCast(offset), data[0]);
    }

    /// Alternate status: the status register without acknowledging the interrupt.
    pub fn controlRead(self: *Ide, channel: u1, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteReadAllowed(&self.bad_accesses, offset, data, control_port_count)) return;
        data[0] = self.channels[channel].status();
    }

    /// Device control: nIEN, SRST, HOB.
    pub fn controlWrite(self: *Ide, channel: u1, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteWriteAllowed(&self.bad_accesses, offset, data, control_port_count)) return;
        const ch = &self.channels[channel];
        const old = ch.device_control;
        ch.device_control = data[0] & (control_nien | control_srst | control_hob);
        if (ch.device_control & control_srst != 0 and old & control_srst == 0) ch.softReset();
        updateIrq(ch);
    }

    pub fn busMasterRead(self: *Ide, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!self.busMasterAccessAllowed(offset, data.len)) return @memset(data, 0xFF);
        for (data, 0..) |*byte, i| {
            const at = offset + @as(u16, @intCast(i));
            const ch = &self.channels[at >> 3];
            byte.* = switch (at & 7) {
                0 => ch.bmic,
                2 => ch.bmis,
                4, 5, 6, 7 => @truncate(ch.bmidtp >> @intCast(8 * (at & 3))),
                else => 0, // device-specific, unused on the PIIX
            };
        }
    }

    pub fn busMasterWrite(self: *Ide, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!self.busMasterAccessAllowed(offset, data.len)) return;
        var started = [2]bool{ false, false };
        for (data, 0..) |byte, i| {
            const at = offset + @as(u16, @intCast(i));
            const channel: u1 = @intCast(at >> 3);
            const ch = &self.channels[channel];
            switch (at & 7) {
                0 => started[channel] = ch.writeBmic(byte) or started[channel],
                2 => {
                    const capable = bmis_drive0_dma | bmis_drive1_dma;
                    ch.bmis &= ~(byte & (bmis_error | bmis_interrupt));
                    ch.bmis = (ch.bmis & ~capable) | (byte & capable);
                },
                4, 5, 6, 7 => {
                    const shift: u5 = @intCast(8 * (at & 3));
                    ch.bmidtp = (ch.bmidtp & ~(@as(u32, 0xFF) << shift)) | @as(u32, byte) << shift;
                    ch.bmidtp &= ~@as(u32, 3); // dword aligned
                },
                else => {},
            }
        }
        // A transfer starts once the whole access has landed (a dword write may also set the
        // status byte, which must not clear what the transfer sets).
        for (&self.channels, started) |*ch, start| {
            if (start) if (ch.dma_slot) |slot| self.apply(ch, slot, self.runDma(ch, slot));
        }
    }

    /// Routes BAR4 of the PCI function here (the VM stores it in the function's `handler`).
    pub fn pciHandler(self: *Ide) pci.Handler {
        return .{ .context = self, .readFn = barRead, .writeFn = barWrite };
    }

    fn barRead(context: *anyopaque, bar: u3, offset: u32, data: []u8) void {
        const self: *Ide = @ptrCast(@alignCast(context));
        // Anything but BAR4 is refused (and counted) by the range check.
        const at: u16 = if (bar == bus_master_bar and offset < bus_master_port_count) @intCast(offset) else bus_master_port_count;
        self.busMasterRead(at, data);
    }

    fn barWrite(context: *anyopaque, bar: u3, offset: u32, data: []const u8) void {
        const self: *Ide = @ptrCast(@alignCast(context));
        const at: u16 = if (bar == bus_master_bar and offset < bus_master_port_count) @intCast(offset) else bus_master_port_count;
        self.busMasterWrite(at, data);
    }

    /// The data register takes 16- and 32-bit accesses (the PIIX splits a dword into two words);
    /// the others one byte.
    fn commandAccessAllowed(self: *Ide, offset: u16, len: usize) bool {
        const ok = if (offset == Register.data) len == 2 or len == 4 else offset < command_port_count and len == 1;
        if (!ok) self.bad_accesses +|= 1;
        return ok;
    }

    fn busMasterAccessAllowed(self: *Ide, offset: u16, len: usize) bool {
        const ok = (len == 1 or len == 2 or len == 4) and offset < bus_master_port_count and
            len <= bus_master_port_count - offset;
        if (!ok) self.bad_accesses +|= 1;
        return ok;
    }

    fn registerRead(ch: *Channel, register: u3) u8 {
        if (ch.device_control & control_srst != 0 and ch.anyDrive()) return ata.status_bsy;
        const slot = ch.selected();
        const drive = ch.drives[slot] orelse return ch.absentValue();
        const latch = &ch.latches[slot];
        const hob = ch.device_control & control_hob != 0;
        const lba_shift: u6 = if (hob) 24 else 0;
        return switch (register) {
            Register.error_features => drive.registers.err,
            Register.count => @truncate(latch.count >> if (hob) 8 else 0),
            Register.lba_low => @truncate(latch.lba >> lba_shift),
            Register.lba_mid => @truncate(latch.lba >> (lba_shift + 8)),
            Register.lba_high => @truncate(latch.lba >> (lba_shift + 16)),
            Register.device => ch.device,
            Register.status_command => blk: {
                // Reading Status acknowledges the interrupt.
                ch.pending[slot] = false;
                updateIrq(ch);
                break :blk drive.registers.status;
            },
            Register.data => unreachable,
        };
    }

    fn registerWrite(self: *Ide, ch: *Channel, register: u3, value: u8) void {
        // Drives in reset are busy and ignore the command block.
        if (ch.device_control & control_srst != 0) return;
        // Any command block write ends HOB reads (ATA/ATAPI-7 device control register).
        ch.device_control &= ~control_hob;
        switch (register) {
            Register.error_features => ch.features = ch.features << 8 | value,
            Register.count => for (&ch.latches) |*latch| {
                latch.count = latch.count << 8 | value;
            },
            Register.lba_low, Register.lba_mid, Register.lba_high => for (&ch.latches) |*latch| {
                latch.shiftLba(register - Register.lba_low, value);
            },
            Register.device => {
                ch.device = value;
                // INTRQ follows the selected drive.
                updateIrq(ch);
            },
            Register.status_command => self.command(ch, value),
            Register.data => unreachable,
        }
    }

    fn command(self: *Ide, ch: *Channel, opcode: u8) void {
        if (opcode == ata.Command.execute_device_diagnostic) {
            // Both drives run it, whichever is selected; device 0 reports.
            ch.cancel();
            var reporter: ?u1 = null;
            for (0..2) |i| {
                const slot: u1 = @intCast(i);
                const drive = ch.drives[slot] orelse continue;
                _ = drive.execute(ch.taskFile(slot, opcode));
                ch.sync(slot);
                ch.pending[slot] = false;
                if (reporter == null) reporter = slot;
            }
            if (reporter) |slot| ch.pending[slot] = true;
            updateIrq(ch);
            return;
        }
        const slot = ch.selected();
        const drive = ch.drives[slot] orelse return;
        ch.cancel();
        // Writing the command register acknowledges the interrupt: the line drops, so the
        // command's own interrupt is a new edge.
        ch.pending[slot] = false;
        updateIrq(ch);
        self.apply(ch, slot, drive.execute(ch.taskFile(slot, opcode)));
    }

    /// Carries out what a drive asked for: fill or expect a PIO block, or run DMA once the bus
    /// master is started; raises INTRQ when the drive says so.
    fn apply(self: *Ide, ch: *Channel, slot: u1, first: ata.Outcome) void {
        const drive = ch.drives[slot].?;
        var outcome = first;
        var interrupt = false;
        // A step fills a PIO block (which may fail once) or runs DMA (which ends the command).
        var steps: u32 = 0;
        while (true) : (steps += 1) {
            assert(steps < 4);
            interrupt = interrupt or outcome.interrupt;
            ch.sync(slot);
            ch.cancel();
            switch (outcome.phase) {
                .idle => {},
                .pio_in => {
                    const len: u32 = @intCast(outcome.bytes);
                    if (!drive.readData(ch.buffer[0..len])) {
                        outcome = drive.finishData();
                        continue;
                    }
                    ch.pio = .{ .slot = slot, .to_host = true, .len = len };
                },
                .pio_out, .packet => ch.pio = .{ .slot = slot, .to_host = false, .len = @intCast(outcome.bytes) },
                .dma_in, .dma_out => {
                    ch.dma_slot = slot;
                    if (ch.bmic & bmic_start != 0 and ch.bmis & bmis_active != 0) {
                        outcome = self.runDma(ch, slot);
                        continue;
                    }
                },
            }
            break;
        }
        if (interrupt) ch.pending[slot] = true;
        updateIrq(ch);
    }

    fn dataRead(self: *Ide, ch: *Channel) u16 {
        const pio = ch.pio orelse return ch.idleData();
        if (!pio.to_host or pio.slot != ch.selected()) return ch.idleData();
        var word: u16 = 0;
        for (0..2) |i| {
            if (pio.position + i < pio.len) word |= @as(u16, ch.buffer[pio.position + i]) << @intCast(8 * i);
        }
        ch.pio.?.position += 2;
        if (ch.pio.?.position >= pio.len) {
            ch.pio = null;
            self.apply(ch, pio.slot, ch.drives[pio.slot].?.finishData());
        }
        return word;
    }

    fn dataWrite(self: *Ide, ch: *Channel, word: u16) void {
        const pio = ch.pio orelse return;
        if (pio.to_host or pio.slot != ch.selected()) return;
        for (0..2) |i| {
            if (pio.position + i < pio.len) ch.buffer[pio.position + i] = @truncate(word >> @intCast(8 * i));
        }
        ch.pio.?.position += 2;
        if (ch.pio.?.position >= pio.len) {
            ch.pio = null;
            const drive = ch.drives[pio.slot].?;
            // A failed write is the drive's to report: finishData returns the error.
            _ = drive.writeData(ch.buffer[0..pio.len]);
            self.apply(ch, pio.slot, drive.finishData());
        }
    }

    /// Moves a drive's DMA phase through the PRD table and returns what the drive does next.
    /// Every descriptor and region is checked against guest RAM; any failure sets the error
    /// bit, stops the engine and aborts the command, which interrupts.
    fn runDma(self: *Ide, ch: *Channel, slot: u1) ata.Outcome {
        const drive = ch.drives[slot].?;
        const to_memory = drive.phase() == .dma_in;
        assert(to_memory or drive.phase() == .dma_out);
        if (to_memory != (ch.bmic & bmic_write_memory != 0)) return busError(ch, drive);
        if (self.function) |function| {
            // A function the guest does not let master the bus cannot move data.
            if (function.command() & pci.command_bus_master == 0) return busError(ch, drive);
        }
        var remaining = drive.remainingBytes();
        var index: u32 = 0;
        var exact_end = false;
        // Regions go to the drive in batches, one medium access each.
        var batch: [ata.max_regions][]u8 = undefined;
        var batched: usize = 0;
        while (remaining > 0) : (index += 1) {
            // A bad descriptor stops the engine after the regions before it have moved.
            const prd = self.fetchPrd(ch.bmidtp, index) orelse return failAfter(ch, drive, to_memory, batch[0..batched]);
            const region = self.dma.slice(prd.address, prd.bytes) orelse return failAfter(ch, drive, to_memory, batch[0..batched]);
            const n: usize = @intCast(@min(remaining, prd.bytes));
            batch[batched] = region[0..n];
            batched += 1;
            remaining -= n;
            exact_end = prd.end_of_table and n == prd.bytes;
            // The table ended before the transfer did.
            if (prd.end_of_table and remaining > 0) return failAfter(ch, drive, to_memory, batch[0..batched]);
            if (batched == batch.len or remaining == 0) {
                // A drive error ends the command; the engine stays active until the host stops it.
                if (!moveRegions(drive, to_memory, batch[0..batched])) return drive.finishData();
                batched = 0;
            }
        }
        // With descriptors left over, the engine stays active until the host stops it.
        if (exact_end) ch.bmis &= ~bmis_active;
        return drive.finishData();
    }

    const Prd = struct {
        address: u64,
        bytes: u32,
        end_of_table: bool,
    };

    /// Descriptor `index` of the table at `table`, or null when it lies outside RAM or past the
    /// 64 KiB block the table starts in.
    fn fetchPrd(self: *Ide, table: u32, index: u32) ?Prd {
        if (index >= max_prds) return null;
        const at = @as(u64, table) + @as(u64, index) * prd_bytes;
        if ((at + prd_bytes - 1) >> 16 != table >> 16) return null;
        const bytes = self.dma.slice(at, prd_bytes) orelse return null;
        const count = std.mem.readInt(u16, bytes[4..6], .little);
        return .{
            .address = std.mem.readInt(u32, bytes[0..4], .little),
            .bytes = if (count == 0) prd_max_region_bytes else count,
            .end_of_table = bytes[7] & prd_end_of_table != 0,
        };
    }

    fn moveRegions(drive: *ata.Drive, to_memory: bool, regions: []const []u8) bool {
        if (regions.len == 0) return true;
        return if (to_memory) drive.readDataRegions(regions) else drive.writeDataRegions(regions);
    }

    /// Moves the regions fetched before a bad descriptor, then fails the transfer (a drive
    /// error while moving them is what the command reports instead).
    fn failAfter(ch: *Channel, drive: *ata.Drive, to_memory: bool, regions: []const []u8) ata.Outcome {
        if (!moveRegions(drive, to_memory, regions)) return drive.finishData();
        return busError(ch, drive);
    }

    fn busError(ch: *Channel, drive: *ata.Drive) ata.Outcome {
        ch.bmis = (ch.bmis | bmis_error) & ~bmis_active;
        return drive.abortData();
    }

    /// INTRQ: the selected drive's pending interrupt, unless nIEN (or SRST) silences it. The
    /// bus-master status latches each rising edge.
    fn updateIrq(ch: *Channel) void {
        const slot = ch.selected();
        const level = ch.device_control & (control_nien | control_srst) == 0 and
            ch.drives[slot] != null and ch.pending[slot];
        if (level and !ch.irq.level) ch.bmis |= bmis_interrupt;
        ch.irq.set(level);
    }
};

/// One drive's copy of the task file: the current value of each register and, above it, the
/// previous one (what HOB reads and 48-bit commands use).
const Latches = struct {
    count: u16 = 0,
    lba: u48 = 0,

    /// Writes LBA byte `index` (0 low, 1 mid, 2 high); the old value becomes the previous one.
    fn shiftLba(self: *Latches, index: u3, value: u8) void {
        const current: u6 = @as(u6, index) * 8;
        const previous: u6 = current + 24;
        const old: u48 = (self.lba >> current) & 0xFF;
        const mask = (@as(u48, 0xFF) << current) | (@as(u48, 0xFF) << previous);
        self.lba = (self.lba & ~mask) | (old << previous) | (@as(u48, value) << current);
    }
};

const Pio = struct {
    slot: u1,
    /// Data-in (the host reads the data register) or data-out/packet (it writes).
    to_host: bool,
    len: u32,
    position: u32 = 0,
};

const Channel = struct {
    irq: IrqLine,
    drives: [2]?*ata.Drive = .{ null, null },
    latches: [2]Latches = .{ .{}, .{} },
    /// Features (with its previous value) and device: write-only or not changed by drives.
    features: u16 = 0,
    device: u8 = 0,
    /// Device control as last written: nIEN, SRST, HOB.
    device_control: u8 = 0,
    /// A drive's INTRQ, until Status is read or a command written.
    pending: [2]bool = .{ false, false },
    /// The PIO block in flight.
    pio: ?Pio = null,
    /// The drive waiting for the bus master to move its DMA phase.
    dma_slot: ?u1 = null,
    /// Bus-master command, status and descriptor table pointer (PIIX BMICx, BMISx, BMIDTPx).
    bmic: u8 = 0,
    bmis: u8 = 0,
    bmidtp: u32 = 0,
    buffer: [Ide.buffer_bytes]u8 = undefined,

    fn selected(self: *const Channel) u1 {
        return @intFromBool(self.device & ata.device_dev != 0);
    }

    fn anyDrive(self: *const Channel) bool {
        return self.drives[0] != null or self.drives[1] != null;
    }

    /// What the registers of an absent selected drive read.
    fn absentValue(self: *const Channel) u8 {
        return if (self.anyDrive()) 0 else Ide.floating_bus;
    }

    fn idleData(self: *const Channel) u16 {
        const byte: u16 = self.absentValue();
        return byte << 8 | byte;
    }

    fn status(self: *const Channel) u8 {
        if (self.device_control & Ide.control_srst != 0 and self.anyDrive()) return ata.status_bsy;
        const drive = self.drives[self.selected()] orelse return self.absentValue();
        return drive.registers.status;
    }

    fn taskFile(self: *const Channel, slot: u1, opcode: u8) ata.TaskFile {
        const latch = self.latches[slot];
        return .{ .command = opcode, .features = self.features, .count = latch.count, .lba = latch.lba, .device = self.device };
    }

    /// Copies what a drive changed into its task file.
    fn sync(self: *Channel, slot: u1) void {
        const drive = self.drives[slot] orelse return;
        self.latches[slot] = .{ .count = drive.registers.count, .lba = drive.registers.lba };
    }

    fn cancel(self: *Channel) void {
        self.pio = null;
        self.dma_slot = null;
    }

    /// SRST: both drives reset and post their signatures; device 0 is selected.
    fn softReset(self: *Channel) void {
        self.cancel();
        self.device = 0;
        for (0..2) |i| {
            const slot: u1 = @intCast(i);
            self.pending[slot] = false;
            const drive = self.drives[slot] orelse continue;
            drive.reset();
            self.sync(slot);
        }
    }

    /// Returns whether the write started the engine.
    fn writeBmic(self: *Channel, value: u8) bool {
        const was_started = self.bmic & Ide.bmic_start != 0;
        const start = value & Ide.bmic_start != 0;
        // The direction may not change while the engine runs.
        const direction = if (was_started and start) self.bmic & Ide.bmic_write_memory else value & Ide.bmic_write_memory;
        self.bmic = direction | @as(u8, @intFromBool(start));
        if (start and !was_started) {
            self.bmis |= Ide.bmis_active;
            return true;
        }
        if (!start) self.bmis &= ~Ide.bmis_active;
        return false;
    }
};

const testing = std.testing;

/// A controller with a disk (primary master), a CD-ROM with a disc (primary slave) and an empty
/// CD-ROM drive (secondary master), guest RAM from 0 with guard bytes on both sides, and
/// interrupt recorders.
const Bench = struct {
    const ram_bytes = 256 << 10;
    const guard_bytes = 4096;
    const guard = 0xC5;

    backing: []u8,
    ram: []u8,
    recorder: device.DmaRecorder,
    irqs: [2]device.IrqRecorder,
    disk_medium: ata.MemoryBackend,
    cd_medium: ata.MemoryBackend,
    disk: ata.Drive,
    cdrom: ata.Drive,
    empty_cdrom: ata.Drive,
    ide: Ide,

    fn create(disk_sectors: usize, cd_sectors: usize) !*Bench {
        const self = try testing.allocator.create(Bench);
        errdefer testing.allocator.destroy(self);
        self.backing = try testing.allocator.alloc(u8, guard_bytes + ram_bytes + guard_bytes);
        errdefer testing.allocator.free(self.backing);
        @memset(self.backing, guard);
        self.ram = self.backing[guard_bytes..][0..ram_bytes];
        @memset(self.ram, 0);
        self.recorder = .{ .ram = self.ram };
        self.irqs = .{ .{}, .{} };
        self.disk_medium = .{ .bytes = try patterned(512, disk_sectors), .sector_bytes = 512 };
        errdefer testing.allocator.free(self.disk_medium.bytes);
        self.cd_medium = .{ .bytes = try patterned(2048, cd_sectors), .sector_bytes = 2048, .read_only = true };
        self.disk = ata.Drive.initDisk(self.disk_medium.backend(), .{});
        self.cdrom = ata.Drive.initCdrom(self.cd_medium.backend(), .{});
        self.empty_cdrom = ata.Drive.initCdrom(null, .{});
        self.ide = Ide.init(.{ self.irqs[0].line(14), self.irqs[1].line(15) }, self.recorder.memory());
        self.ide.attach(0, 0, &self.disk);
        self.ide.attach(0, 1, &self.cdrom);
        self.ide.attach(1, 0, &self.empty_cdrom);
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

    fn outb(self: *Bench, channel: u1, offset: u16, value: u8) void {
        self.ide.commandWrite(channel, offset, &.{value});
    }

    fn inb(self: *Bench, channel: u1, offset: u16) u8 {
        var data: [1]u8 = undefined;
        self.ide.commandRead(channel, offset, &data);
        return data[0];
    }

    fn inw(self: *Bench, channel: u1) u16 {
        var data: [2]u8 = undefined;
        self.ide.commandRead(channel, 0, &data);
        return std.mem.readInt(u16, &data, .little);
    }

    fn outw(self: *Bench, channel: u1, value: u16) void {
        var data: [2]u8 = undefined;
        std.mem.writeInt(u16, &data, value, .little);
        self.ide.commandWrite(channel, 0, &data);
    }

    fn status(self: *Bench, channel: u1) u8 {
        return self.inb(channel, 7);
    }

    fn altStatus(self: *Bench, channel: u1) u8 {
        var data: [1]u8 = undefined;
        self.ide.controlRead(channel, 0, &data);
        return data[0];
    }

    fn control(self: *Bench, channel: u1, value: u8) void {
        self.ide.controlWrite(channel, 0, &.{value});
    }

    fn bmOut8(self: *Bench, offset: u16, value: u8) void {
        self.ide.busMasterWrite(offset, &.{value});
    }

    fn bmOut32(self: *Bench, offset: u16, value: u32) void {
        var data: [4]u8 = undefined;
        std.mem.writeInt(u32, &data, value, .little);
        self.ide.busMasterWrite(offset, &data);
    }

    fn bmIn8(self: *Bench, offset: u16) u8 {
        var data: [1]u8 = undefined;
        self.ide.busMasterRead(offset, &data);
        return data[0];
    }

    fn select(self: *Bench, channel: u1, slot: u1) void {
        self.outb(channel, 6, 0xA0 | ata.device_lba | @as(u8, slot) << 4);
    }

    fn command28(self: *Bench, channel: u1, slot: u1, opcode: u8, lba: u28, count: u8) void {
        self.outb(channel, 1, 0);
        self.outb(channel, 2, count);
        self.outb(channel, 3, @truncate(lba));
        self.outb(channel, 4, @truncate(lba >> 8));
        self.outb(channel, 5, @truncate(lba >> 16));
        self.outb(channel, 6, 0xE0 | @as(u8, slot) << 4 | @as(u8, @intCast(lba >> 24)));
        self.outb(channel, 7, opcode);
    }

    /// A 48-bit command: the high (previous) bytes first, as a host writes them.
    fn command48(self: *Bench, channel: u1, slot: u1, opcode: u8, lba: u48, count: u16) void {
        self.outb(channel, 2, @truncate(count >> 8));
        self.outb(channel, 3, @truncate(lba >> 24));
        self.outb(channel, 4, @truncate(lba >> 32));
        self.outb(channel, 5, @truncate(lba >> 40));
        self.outb(channel, 2, @truncate(count));
        self.outb(channel, 3, @truncate(lba));
        self.outb(channel, 4, @truncate(lba >> 8));
        self.outb(channel, 5, @truncate(lba >> 16));
        self.outb(channel, 6, 0x40 | @as(u8, slot) << 4);
        self.outb(channel, 7, opcode);
    }

    /// Reads `out.len` bytes through the data port, in words or dwords.
    fn readData(self: *Bench, channel: u1, out: []u8, dwords: bool) void {
        const width: usize = if (dwords) 4 else 2;
        assert(out.len % width == 0);
        var i: usize = 0;
        while (i < out.len) : (i += width) self.ide.commandRead(channel, 0, out[i..][0..width]);
    }

    fn writeData(self: *Bench, channel: u1, data: []const u8, dwords: bool) void {
        const width: usize = if (dwords) 4 else 2;
        assert(data.len % width == 0);
        var i: usize = 0;
        while (i < data.len) : (i += width) self.ide.commandWrite(channel, 0, data[i..][0..width]);
    }

    fn putPrd(self: *Bench, at: usize, address: u32, count: u16, end_of_table: bool) void {
        std.mem.writeInt(u32, self.ram[at..][0..4], address, .little);
        std.mem.writeInt(u16, self.ram[at + 4 ..][0..2], count, .little);
        std.mem.writeInt(u16, self.ram[at + 6 ..][0..2], if (end_of_table) 0x8000 else 0, .little);
    }

    /// Issues PACKET with `cdb` (PIO unless `dma`) and sends the packet.
    fn packet(self: *Bench, channel: u1, slot: u1, cdb: []const u8, byte_count_limit: u16, dma: bool) !void {
        self.outb(channel, 1, @intFromBool(dma));
        self.outb(channel, 4, @truncate(byte_count_limit));
        self.outb(channel, 5, @truncate(byte_count_limit >> 8));
        self.outb(channel, 6, 0xA0 | @as(u8, slot) << 4);
        self.outb(channel, 7, ata.Command.packet);
        try testing.expectEqual(ata.status_drq, self.altStatus(channel) & (ata.status_drq | ata.status_bsy | ata.status_err));
        try testing.expectEqual(ata.reason_cod, self.inb(channel, 2) & 3);
        var bytes = [_]u8{0} ** 12;
        @memcpy(bytes[0..cdb.len], cdb);
        self.writeData(channel, &bytes, false);
    }

    /// Reads every PIO block of an ATAPI data-in phase into `out` (acknowledging each
    /// interrupt, as a driver does); returns the byte counts of the blocks.
    fn packetIn(self: *Bench, channel: u1, out: []u8, counts: []u32) !usize {
        var total: usize = 0;
        var blocks: usize = 0;
        while (self.altStatus(channel) & ata.status_drq != 0) : (blocks += 1) {
            try testing.expect(self.irqs[channel].level);
            const st = self.status(channel);
            try testing.expect(st & ata.status_drq != 0 and !self.irqs[channel].level);
            try testing.expectEqual(ata.reason_io, self.inb(channel, 2) & 3);
            const count = @as(u32, self.inb(channel, 5)) << 8 | self.inb(channel, 4);
            if (blocks < counts.len) counts[blocks] = count;
            var i: usize = 0;
            while (i < count) : (i += 2) {
                const word = self.inw(channel);
                out[total + i] = @truncate(word);
                if (i + 1 < count) out[total + i + 1] = @intCast(word >> 8);
            }
            total += count;
        }
        // The status phase: I/O and C/D, and an interrupt.
        try testing.expectEqual(ata.reason_io | ata.reason_cod, self.inb(channel, 2) & 3);
        try testing.expect(self.irqs[channel].level);
        return total;
    }
};

test "an empty channel floats at 0x7F; an absent slave reads 0 and fails the register probe" {
    const bench = try Bench.create(64, 16);
    defer bench.destroy();
    var lone = Ide.init(.{ bench.irqs[0].line(14), bench.irqs[1].line(15) }, bench.recorder.memory());
    for (1..8) |offset| try testing.expectEqual(@as(u8, 0x7F), loneInb(&lone, @intCast(offset)));
    lone.commandWrite(0, 2, &.{0x55});
    lone.commandWrite(0, 7, &.{ata.Command.identify_device});
    try testing.expectEqual(@as(u8, 0x7F), loneInb(&lone, 2));
    var word: [2]u8 = undefined;
    lone.commandRead(0, 0, &word);
    try testing.expectEqualSlices(u8, &.{ 0x7F, 0x7F }, &word);
    var alt: [1]u8 = undefined;
    lone.controlRead(1, 0, &alt);
    try testing.expectEqual(@as(u8, 0x7F), alt[0]);
    lone.controlWrite(0, 0, &.{0x04});
    try testing.expectEqual(@as(u8, 0x7F), loneInb(&lone, 7));
    try testing.expect(!bench.irqs[0].level);

    // The secondary channel has a master only. The probe of SeaBIOS and Linux: select, write
    // 0x55/0xAA to count and LBA low, read them (and the device register) back.
    for ([_]u1{ 0, 1 }) |slot| {
        const dh: u8 = 0xA0 | @as(u8, slot) << 4;
        bench.outb(1, 6, dh);
        bench.outb(1, 2, 0x55);
        bench.outb(1, 3, 0xAA);
        const found = bench.inb(1, 2) == 0x55 and bench.inb(1, 3) == 0xAA and bench.inb(1, 6) == dh;
        try testing.expectEqual(slot == 0, found);
    }
    bench.select(1, 1);
    try testing.expectEqual(@as(u8, 0), bench.status(1));
    try testing.expectEqual(@as(u8, 0), bench.altStatus(1));
    bench.outb(1, 7, ata.Command.identify_packet_device);
    try testing.expect(!bench.irqs[1].level);
    try testing.expectEqual(@as(u16, 0), bench.inw(1));
}

fn loneInb(ide: *Ide, offset: u16) u8 {
    var data: [1]u8 = undefined;
    ide.commandRead(0, offset, &data);
    return data[0];
}

test "SRST: BSY while held, then the ATA signature on the master and the ATAPI one on the slave" {
    const bench = try Bench.create(64, 16);
    defer bench.destroy();
    bench.select(0, 1);
    bench.command28(0, 1, ata.Command.identify_packet_device, 0, 0);
    try testing.expect(bench.irqs[0].level);
    bench.control(0, 0x04 | 0x02);
    try testing.expect(!bench.irqs[0].level);
    for (1..8) |offset| try testing.expectEqual(ata.status_bsy, bench.inb(0, @intCast(offset)));
    try testing.expectEqual(ata.status_bsy, bench.altStatus(0));
    bench.outb(0, 6, 0xB0); // ignored while in reset
    bench.control(0, 0x00);
    try testing.expect(!bench.irqs[0].level);
    // Device 0 is selected after reset.
    try testing.expectEqual(@as(u8, 0), bench.inb(0, 6));
    try testing.expectEqual(@as(u8, 0x50), bench.status(0));
    try testing.expectEqualSlices(u8, &.{ 0x01, 0x01, 0x01, 0x00, 0x00 }, &.{ bench.inb(0, 1), bench.inb(0, 2), bench.inb(0, 3), bench.inb(0, 4), bench.inb(0, 5) });
    bench.outb(0, 6, 0xB0);
    try testing.expectEqual(@as(u8, 0x00), bench.status(0));
    try testing.expectEqualSlices(u8, &.{ 0x01, 0x01, 0x01, 0x14, 0xEB }, &.{ bench.inb(0, 1), bench.inb(0, 2), bench.inb(0, 3), bench.inb(0, 4), bench.inb(0, 5) });
    // IDENTIFY DEVICE on the CD-ROM: abort, the signature again, and an interrupt.
    bench.outb(0, 4, 0);
    bench.outb(0, 7, ata.Command.identify_device);
    try testing.expect(bench.irqs[0].level);
    try testing.expect(bench.status(0) & ata.status_err != 0);
    try testing.expectEqual(ata.error_abrt, bench.inb(0, 1));
    try testing.expectEqual(@as(u8, 0x14), bench.inb(0, 4));
    try testing.expectEqual(@as(u8, 0xEB), bench.inb(0, 5));
    // EXECUTE DEVICE DIAGNOSTIC: both drives, device 0's interrupt.
    bench.outb(0, 7, ata.Command.execute_device_diagnostic);
    try testing.expect(!bench.irqs[0].level); // device 1 is selected
    bench.select(0, 0);
    try testing.expect(bench.irqs[0].level);
    try testing.expectEqual(@as(u8, 0x01), bench.inb(0, 1));
    try testing.expectEqual(@as(u8, 0x50), bench.status(0));
    try testing.expect(!bench.irqs[0].level);
}

test "IDENTIFY through the data port in words and dwords; INTRQ until Status is read; nIEN" {
    const bench = try Bench.create(20160, 16);
    defer bench.destroy();
    var words: [512]u8 = undefined;
    var dwords: [512]u8 = undefined;
    bench.command28(0, 0, ata.Command.identify_device, 0, 0);
    try testing.expect(bench.irqs[0].level);
    try testing.expectEqual(@as(u32, 1), bench.irqs[0].rises);
    try testing.expectEqual(@as(u8, 0x58), bench.altStatus(0));
    try testing.expect(bench.irqs[0].level); // alternate status does not acknowledge
    try testing.expectEqual(@as(u8, 0x58), bench.status(0));
    try testing.expect(!bench.irqs[0].level);
    bench.readData(0, &words, false);
    try testing.expectEqual(@as(u8, 0x50), bench.status(0));
    try testing.expect(!bench.irqs[0].level); // no interrupt after the last block
    try testing.expectEqual(@as(u16, 20160), std.mem.readInt(u16, words[120..122], .little));
    var sum: u8 = 0;
    for (words) |byte| sum +%= byte;
    try testing.expectEqual(@as(u8, 0), sum);

    bench.command28(0, 0, ata.Command.identify_device, 0, 0);
    bench.readData(0, &dwords, true);
    try testing.expectEqualSlices(u8, &words, &dwords);
    try testing.expect(bench.irqs[0].level);
    // The data register past the block: nothing more, the status unchanged.
    try testing.expectEqual(@as(u16, 0), bench.inw(0));
    try testing.expectEqual(@as(u8, 0x50), bench.status(0));

    // nIEN silences INTRQ (and the bus-master interrupt bit); clearing it lets a pending one out.
    bench.bmOut8(2, 0x04);
    bench.control(0, 0x02);
    bench.command28(0, 0, ata.Command.flush_cache, 0, 0);
    try testing.expect(!bench.irqs[0].level);
    try testing.expectEqual(@as(u8, 0), bench.bmIn8(2) & 0x04);
    bench.control(0, 0x00);
    try testing.expect(bench.irqs[0].level);
    try testing.expectEqual(@as(u8, 0x04), bench.bmIn8(2) & 0x04);
    // Writing a command acknowledges too.
    bench.command28(0, 0, ata.Command.identify_device, 0, 0);
    try testing.expectEqual(@as(u32, 4), bench.irqs[0].rises);
    // INTRQ belongs to the selected drive.
    bench.select(0, 1);
    try testing.expect(!bench.irqs[0].level);
    bench.select(0, 0);
    try testing.expect(bench.irqs[0].level);
    // Wrong widths: counted, refused.
    var byte: [1]u8 = undefined;
    bench.ide.commandRead(0, 0, &byte);
    var wide: [2]u8 = undefined;
    bench.ide.commandRead(0, 7, &wide);
    bench.ide.controlWrite(0, 1, &.{0});
    try testing.expectEqual(@as(u32, 3), bench.ide.bad_accesses);
    try testing.expect(bench.irqs[0].level);
}

test "PIO READ/WRITE SECTORS and MULTIPLE through the data port, one and many sectors" {
    const bench = try Bench.create(256, 16);
    defer bench.destroy();
    var data: [24 * 512]u8 = undefined;
    // One sector, in words.
    bench.command28(0, 0, ata.Command.read_sectors, 9, 1);
    _ = bench.status(0);
    bench.readData(0, data[0..512], false);
    try testing.expectEqualSlices(u8, bench.disk_medium.bytes[9 * 512 ..][0..512], data[0..512]);
    try testing.expectEqual(@as(u8, 0x50), bench.status(0));
    // 24 sectors in dwords, an interrupt per sector.
    const rises = bench.irqs[0].rises;
    bench.command28(0, 0, ata.Command.read_sectors, 100, 24);
    for (0..24) |i| {
        try testing.expect(bench.irqs[0].level);
        try testing.expectEqual(@as(u8, 0x58), bench.status(0));
        bench.readData(0, data[i * 512 ..][0..512], true);
    }
    try testing.expectEqual(rises + 24, bench.irqs[0].rises);
    try testing.expectEqualSlices(u8, bench.disk_medium.bytes[100 * 512 ..][0 .. 24 * 512], &data);
    // READ MULTIPLE: 16 + 8 sectors.
    bench.command28(0, 0, ata.Command.read_multiple, 50, 24);
    _ = bench.status(0);
    bench.readData(0, data[0 .. 16 * 512], false);
    try testing.expect(bench.irqs[0].level);
    _ = bench.status(0);
    bench.readData(0, data[16 * 512 ..], false);
    try testing.expectEqualSlices(u8, bench.disk_medium.bytes[50 * 512 ..][0 .. 24 * 512], &data);

    // WRITE SECTORS: DRQ for the first block without an interrupt, then one per block.
    for (&data, 0..) |*byte, i| byte.* = @truncate(i ^ 0x5A);
    bench.command28(0, 0, ata.Command.write_sectors, 200, 3);
    try testing.expect(!bench.irqs[0].level);
    try testing.expectEqual(@as(u8, 0x58), bench.altStatus(0));
    for (0..3) |i| {
        bench.writeData(0, data[i * 512 ..][0..512], i % 2 == 0);
        try testing.expect(bench.irqs[0].level);
        _ = bench.status(0);
    }
    try testing.expectEqual(@as(u8, 0x50), bench.status(0));
    try testing.expectEqualSlices(u8, data[0 .. 3 * 512], bench.disk_medium.bytes[200 * 512 ..][0 .. 3 * 512]);
    bench.command28(0, 0, ata.Command.write_multiple, 230, 20);
    bench.writeData(0, data[0 .. 16 * 512], true);
    _ = bench.status(0);
    bench.writeData(0, data[16 * 512 .. 20 * 512], true);
    try testing.expectEqualSlices(u8, data[0 .. 20 * 512], bench.disk_medium.bytes[230 * 512 ..][0 .. 20 * 512]);

    // Out of range: IDNF and an interrupt, nothing read. FLUSH CACHE reaches the backend.
    const reads = bench.disk_medium.reads;
    bench.command28(0, 0, ata.Command.read_sectors, 250, 7);
    try testing.expect(bench.irqs[0].level);
    try testing.expectEqual(@as(u8, 0x51), bench.status(0));
    try testing.expectEqual(ata.error_idnf, bench.inb(0, 1));
    try testing.expectEqual(reads, bench.disk_medium.reads);
    bench.command28(0, 0, ata.Command.flush_cache, 0, 0);
    try testing.expectEqual(@as(u32, 1), bench.disk_medium.flushes);
    try testing.expectEqual(@as(u8, 0x50), bench.status(0));
}

test "LBA48 through HOB: previous register values, HOB read-back, writes clear HOB" {
    const bench = try Bench.create(256, 16);
    defer bench.destroy();
    var data: [2 * 512]u8 = undefined;
    // LBA 0x0000_0000_00F0 with the previous bytes zero, count 0x0002.
    bench.command48(0, 0, ata.Command.read_sectors_ext, 0xF0, 2);
    _ = bench.status(0);
    bench.readData(0, data[0..512], false);
    _ = bench.status(0);
    bench.readData(0, data[512..], false);
    try testing.expectEqualSlices(u8, bench.disk_medium.bytes[0xF0 * 512 ..][0 .. 2 * 512], &data);
    // An address above 2^32: beyond this disk, IDNF; the registers read back both halves.
    bench.command48(0, 0, ata.Command.read_sectors_ext, 0x0123_4567_89AB, 0x0102);
    try testing.expectEqual(@as(u8, 0x51), bench.status(0));
    try testing.expectEqual(ata.error_idnf, bench.inb(0, 1));
    try testing.expectEqualSlices(u8, &.{ 0x02, 0xAB, 0x89, 0x67 }, &.{ bench.inb(0, 2), bench.inb(0, 3), bench.inb(0, 4), bench.inb(0, 5) });
    bench.control(0, 0x80);
    try testing.expectEqualSlices(u8, &.{ 0x01, 0x45, 0x23, 0x01 }, &.{ bench.inb(0, 2), bench.inb(0, 3), bench.inb(0, 4), bench.inb(0, 5) });
    bench.outb(0, 1, 0);
    try testing.expectEqual(@as(u8, 0xAB), bench.inb(0, 3));
    // Write 16 sectors by WRITE SECTORS EXT at 0x80, then read them back by READ DMA EXT.
    for (&data, 0..) |*byte, i| byte.* = @truncate(i * 7);
    bench.command48(0, 0, ata.Command.write_sectors_ext, 0x80, 2);
    bench.writeData(0, &data, false);
    try testing.expectEqualSlices(u8, &data, bench.disk_medium.bytes[0x80 * 512 ..][0 .. 2 * 512]);
}

test "READ/WRITE DMA with scattered PRDs, EOT, 64 KiB descriptors; active and interrupt bits" {
    const bench = try Bench.create(512, 16);
    defer bench.destroy();
    // A table at 0x1000: 100 bytes at 0x2001 (odd), 412 at 0x3000, 64 KiB at 0x10000, then
    // 512 at 0x8000 with EOT. 100 + 412 + 65536 + 512 = 130 sectors.
    bench.putPrd(0x1000, 0x2001, 100, false);
    bench.putPrd(0x1008, 0x3000, 412, false);
    bench.putPrd(0x1010, 0x10000, 0, false);
    bench.putPrd(0x1018, 0x8000, 512, true);
    bench.bmOut32(4, 0x1000);
    bench.bmOut8(0, 0x08); // to memory
    bench.command28(0, 0, ata.Command.read_dma, 3, 130);
    try testing.expect(!bench.irqs[0].level);
    try testing.expectEqual(@as(u8, 0x58), bench.altStatus(0));
    bench.bmOut8(0, 0x09);
    try testing.expect(bench.irqs[0].level);
    // The transfer fills the table exactly: active drops; the interrupt bit is set.
    try testing.expectEqual(@as(u8, 0x04), bench.bmIn8(2) & 0x07);
    const disk = bench.disk_medium.bytes[3 * 512 ..];
    try testing.expectEqualSlices(u8, disk[0..100], bench.ram[0x2001..][0..100]);
    try testing.expectEqualSlices(u8, disk[100..512], bench.ram[0x3000..][0..412]);
    try testing.expectEqualSlices(u8, disk[512..][0..65536], bench.ram[0x10000..][0..65536]);
    try testing.expectEqualSlices(u8, disk[512 + 65536 ..][0..512], bench.ram[0x8000..][0..512]);
    try testing.expectEqual(@as(u8, 0), bench.ram[0x2000]);
    try testing.expectEqual(@as(u8, 0), bench.ram[0x2001 + 100]);
    try testing.expectEqual(@as(u8, 0x50), bench.status(0));
    bench.bmOut8(0, 0x08);
    bench.bmOut8(2, 0x04);
    try testing.expectEqual(@as(u8, 0), bench.bmIn8(2) & 0x07);

    // A table longer than the transfer: the engine stays active until stopped.
    bench.putPrd(0x1000, 0x30000, 0, true);
    bench.bmOut8(0, 0x09); // start first, command second
    try testing.expectEqual(@as(u8, 0x01), bench.bmIn8(2) & 0x07);
    bench.command28(0, 0, ata.Command.read_dma, 0, 2);
    try testing.expectEqual(@as(u8, 0x05), bench.bmIn8(2) & 0x07);
    try testing.expectEqualSlices(u8, bench.disk_medium.bytes[0..1024], bench.ram[0x30000..][0..1024]);
    bench.bmOut8(0, 0x00);
    try testing.expectEqual(@as(u8, 0x04), bench.bmIn8(2) & 0x07);
    bench.bmOut8(2, 0x06);
    _ = bench.status(0);

    // WRITE DMA EXT from three regions into sectors 400-402.
    for (bench.ram[0x20000..0x20600], 0..) |*byte, i| byte.* = @truncate(i * 11 + 3);
    bench.putPrd(0x1000, 0x20000, 1000, false);
    bench.putPrd(0x1008, 0x20000 + 1000, 36, false);
    bench.putPrd(0x1010, 0x20000 + 1036, 500, true);
    bench.bmOut8(0, 0x00); // from memory
    bench.command48(0, 0, ata.Command.write_dma_ext, 400, 3);
    bench.bmOut8(0, 0x01);
    try testing.expect(bench.irqs[0].level);
    try testing.expectEqual(@as(u8, 0x04), bench.bmIn8(2) & 0x07);
    try testing.expectEqual(@as(u8, 0x50), bench.status(0));
    try testing.expectEqualSlices(u8, bench.ram[0x20000..][0 .. 3 * 512], bench.disk_medium.bytes[400 * 512 ..][0 .. 3 * 512]);
}

/// Runs READ DMA of `sectors` sectors from LBA 0 with the table at 0x1000 (or `table`) and
/// returns the bus-master status; the drive must have failed the command with an interrupt.
fn expectDmaError(bench: *Bench, table: u32, sectors: u8, to_memory: bool) !void {
    bench.bmOut8(0, 0x00);
    bench.bmOut8(2, 0x06);
    _ = bench.status(0);
    bench.bmOut32(4, table);
    bench.bmOut8(0, if (to_memory) 0x08 else 0x00);
    bench.command28(0, 0, ata.Command.read_dma, 0, sectors);
    const rises = bench.irqs[0].rises;
    bench.bmOut8(0, if (to_memory) 0x09 else 0x01);
    try testing.expect(bench.irqs[0].level);
    try testing.expectEqual(rises + 1, bench.irqs[0].rises);
    try testing.expectEqual(@as(u8, 0x06), bench.bmIn8(2) & 0x07); // error, interrupt, not active
    try testing.expectEqual(@as(u8, 0x51), bench.status(0));
    try testing.expectEqual(ata.error_abrt, bench.inb(0, 1));
}

test "DMA errors: PRDs or table outside RAM, tables too short or without EOT, wrong direction" {
    const bench = try Bench.create(512, 16);
    defer bench.destroy();
    const snapshot = try testing.allocator.dupe(u8, bench.backing);
    defer testing.allocator.free(snapshot);

    // A region past the end of RAM, and one straddling it.
    bench.putPrd(0x1000, Bench.ram_bytes, 512, true);
    try expectDmaError(bench, 0x1000, 1, true);
    bench.putPrd(0x1000, Bench.ram_bytes - 256, 512, true);
    try expectDmaError(bench, 0x1000, 1, true);
    bench.putPrd(0x1000, 0xFFFF_FF00, 0, true);
    try expectDmaError(bench, 0x1000, 1, true);
    // The table itself outside RAM, or its last descriptor straddling RAM's end.
    try expectDmaError(bench, 0x8000_0000, 1, true);
    try expectDmaError(bench, Bench.ram_bytes - 4, 1, true);
    // Shorter than the transfer: 512 bytes with EOT for 2 sectors. The first sector landed.
    bench.putPrd(0x1000, 0x30000, 512, true);
    try expectDmaError(bench, 0x1000, 2, true);
    try testing.expectEqualSlices(u8, bench.disk_medium.bytes[0..512], bench.ram[0x30000..][0..512]);
    @memset(bench.ram[0x30000..][0..512], 0);
    // No EOT anywhere: the table runs into the next 64 KiB block (8192 descriptors at most).
    for (0..8192) |i| bench.putPrd(0x10000 + i * 8, 0x30000, 2, false);
    try expectDmaError(bench, 0x10000, 255, true);
    @memset(bench.ram[0x10000..0x20000], 0);
    @memset(bench.ram[0x30000..][0..2], 0);
    // A table starting 8 bytes below a 64 KiB line, without EOT in its one descriptor.
    bench.putPrd(0xFFF8, 0x30000, 2, false);
    try expectDmaError(bench, 0xFFF8, 1, true);
    @memset(bench.ram[0xFFF8..0x10000], 0);
    @memset(bench.ram[0x30000..][0..2], 0);
    // The engine set to read memory for a command that writes it.
    bench.putPrd(0x1000, 0x30000, 512, true);
    try expectDmaError(bench, 0x1000, 1, false);
    // A valid table, but the PCI function may not master the bus.
    var function = initPciFunction();
    bench.ide.connect(&function);
    function.put16(pci.Config.command, pci.command_io);
    try expectDmaError(bench, 0x1000, 1, true);
    function.put16(pci.Config.command, pci.command_io | pci.command_bus_master);
    bench.ide.function = null;
    @memset(bench.ram[0x1000..][0..8], 0);
    // Nothing else changed, inside RAM or around it.
    try testing.expectEqualSlices(u8, snapshot, bench.backing);
    try testing.expectEqual(@as(u32, 0), bench.disk_medium.writes);
}

test "ATAPI through PACKET in PIO: INQUIRY, READ CAPACITY, READ(10) under byte count limits, READ TOC, REQUEST SENSE" {
    const bench = try Bench.create(16, 40);
    defer bench.destroy();
    var data: [16 * 2048]u8 = undefined;
    var counts: [16]u32 = undefined;
    bench.select(0, 1);
    try testing.expectEqual(@as(u8, 0x00), bench.status(0)); // after power-on reset

    // The first command meets the unit attention; REQUEST SENSE says why.
    try bench.packet(0, 1, &.{ata.Scsi.test_unit_ready}, 0xFFFE, false);
    try testing.expect(bench.irqs[0].level);
    try testing.expectEqual(@as(u8, 0x41), bench.status(0));
    try testing.expectEqual(@as(u8, 0x60), bench.inb(0, 1));
    try testing.expectEqual(@as(u8, 3), bench.inb(0, 2));
    try bench.packet(0, 1, &.{ ata.Scsi.request_sense, 0, 0, 0, 18 }, 0xFFFE, false);
    try testing.expectEqual(@as(usize, 18), try bench.packetIn(0, &data, &counts));
    try testing.expectEqualSlices(u8, &.{ 0x70, 0, 0x06 }, data[0..3]);
    try testing.expectEqualSlices(u8, &.{ 0x28, 0x00 }, data[12..14]);
    try testing.expectEqual(@as(u8, 0x50), bench.status(0));

    // INQUIRY with a byte count limit of 16: 16 + 16 + 4 bytes, an interrupt per block.
    try bench.packet(0, 1, &.{ ata.Scsi.inquiry, 0, 0, 0, 36 }, 16, false);
    try testing.expectEqual(@as(usize, 36), try bench.packetIn(0, &data, &counts));
    try testing.expectEqualSlices(u32, &.{ 16, 16, 4 }, counts[0..3]);
    try testing.expectEqual(@as(u8, 0x05), data[0]);
    try testing.expectEqualStrings("VMCTL   CD-ROM          ", data[8..32]);
    // An odd limit: blocks one byte short of it, the last one as it falls.
    try bench.packet(0, 1, &.{ ata.Scsi.inquiry, 0, 0, 0, 36 }, 15, false);
    try testing.expectEqual(@as(usize, 36), try bench.packetIn(0, &data, &counts));
    try testing.expectEqualSlices(u32, &.{ 14, 14, 8 }, counts[0..3]);
    try testing.expectEqualStrings("VMCTL   CD-ROM          ", data[8..32]);

    try bench.packet(0, 1, &.{ata.Scsi.read_capacity}, 0xFFFE, false);
    try testing.expectEqual(@as(usize, 8), try bench.packetIn(0, &data, &counts));
    try testing.expectEqualSlices(u8, &.{ 0, 0, 0, 39, 0, 0, 8, 0 }, data[0..8]);

    // READ(10) of 5 sectors from 30: limit 0xFFFE in one block; 2048 (SeaBIOS) a block each;
    // 3000 rounds down to whole sectors.
    for ([_]u16{ 0xFFFE, 2048, 3000, 1000 }) |limit| {
        try bench.packet(0, 1, &.{ ata.Scsi.read_10, 0, 0, 0, 0, 30, 0, 0, 5, 0 }, limit, false);
        try testing.expectEqual(@as(usize, 5 * 2048), try bench.packetIn(0, &data, &counts));
        try testing.expectEqualSlices(u8, bench.cd_medium.bytes[30 * 2048 ..][0 .. 5 * 2048], data[0 .. 5 * 2048]);
        try testing.expectEqual(@as(u32, @min(limit, 5 * 2048) / 2 * 2 / 2048 * 2048 + if (limit < 2048) limit else 0), counts[0]);
    }
    // Past the end: CHECK CONDITION, ILLEGAL REQUEST, LBA out of range.
    try bench.packet(0, 1, &.{ ata.Scsi.read_10, 0, 0, 0, 0, 38, 0, 0, 3, 0 }, 0xFFFE, false);
    try testing.expectEqual(@as(u8, 0x41), bench.status(0));
    try testing.expectEqual(@as(u8, 0x50), bench.inb(0, 1));
    try bench.packet(0, 1, &.{ ata.Scsi.request_sense, 0, 0, 0, 18 }, 0xFFFE, false);
    _ = try bench.packetIn(0, &data, &counts);
    try testing.expectEqualSlices(u8, &.{ 0x05, 0x21, 0x00 }, &.{ data[2], data[12], data[13] });

    try bench.packet(0, 1, &.{ ata.Scsi.read_toc, 2, 0, 0, 0, 0, 0, 0, 20, 0 }, 0xFFFE, false);
    try testing.expectEqual(@as(usize, 20), try bench.packetIn(0, &data, &counts));
    try testing.expectEqualSlices(u8, &.{ 0, 18, 1, 1 }, data[0..4]);
    try testing.expectEqualSlices(u8, &.{ 0, 0, 2, 40 }, data[16..20]); // 40 + 150 frames

    // An unknown opcode: ILLEGAL REQUEST, invalid command operation code.
    try bench.packet(0, 1, &.{ 0xD7, 1, 2, 3 }, 0xFFFE, false);
    try testing.expectEqual(@as(u8, 0x41), bench.status(0));
    try bench.packet(0, 1, &.{ ata.Scsi.request_sense, 0, 0, 0, 18 }, 0xFFFE, false);
    _ = try bench.packetIn(0, &data, &counts);
    try testing.expectEqualSlices(u8, &.{ 0x05, 0x20, 0x00 }, &.{ data[2], data[12], data[13] });

    // The empty drive on the other channel: NOT READY, medium not present.
    try bench.packet(1, 0, &.{ata.Scsi.test_unit_ready}, 0xFFFE, false);
    _ = bench.status(1);
    try bench.packet(1, 0, &.{ata.Scsi.test_unit_ready}, 0xFFFE, false);
    try testing.expectEqual(@as(u8, 0x20), bench.inb(1, 1));
}

test "ATAPI READ(10) by bus-master DMA" {
    const bench = try Bench.create(16, 40);
    defer bench.destroy();
    bench.select(0, 1);
    try bench.packet(0, 1, &.{ata.Scsi.test_unit_ready}, 0, false);
    _ = bench.status(0);
    bench.putPrd(0x1000, 0x4000, 2048, false);
    bench.putPrd(0x1008, 0x9000, 4096, true);
    bench.bmOut32(4, 0x1000);
    bench.bmOut8(0, 0x08);
    try bench.packet(0, 1, &.{ ata.Scsi.read_10, 0, 0, 0, 0, 10, 0, 0, 3, 0 }, 0, true);
    try testing.expect(!bench.irqs[0].level);
    bench.bmOut8(0, 0x09);
    try testing.expect(bench.irqs[0].level);
    try testing.expectEqual(@as(u8, 0x04), bench.bmIn8(2) & 0x07);
    try testing.expectEqual(@as(u8, 0x50), bench.status(0));
    try testing.expectEqual(@as(u8, 3), bench.inb(0, 2));
    try testing.expectEqualSlices(u8, bench.cd_medium.bytes[10 * 2048 ..][0..2048], bench.ram[0x4000..][0..2048]);
    try testing.expectEqualSlices(u8, bench.cd_medium.bytes[11 * 2048 ..][0..4096], bench.ram[0x9000..][0..4096]);
}

test "bus-master registers: write-1-clear, capable bits, pointer alignment, widths, the PCI handler" {
    const bench = try Bench.create(16, 16);
    defer bench.destroy();
    // Drives 0 and 1 on the primary channel, drive 0 on the secondary.
    try testing.expectEqual(@as(u8, 0x60), bench.bmIn8(2));
    try testing.expectEqual(@as(u8, 0x20), bench.bmIn8(10));
    bench.bmOut8(10, 0x46);
    try testing.expectEqual(@as(u8, 0x40), bench.bmIn8(10));
    bench.bmOut32(12, 0x1234_5677);
    var data: [4]u8 = undefined;
    bench.ide.busMasterRead(12, &data);
    try testing.expectEqual(@as(u32, 0x1234_5674), std.mem.readInt(u32, &data, .little));
    bench.ide.busMasterRead(13, data[0..2]);
    try testing.expectEqualSlices(u8, &.{ 0x56, 0x34 }, data[0..2]);
    // Start: active; reserved command bits read 0; the direction holds while running.
    bench.bmOut8(8, 0xF9);
    try testing.expectEqual(@as(u8, 0x09), bench.bmIn8(8));
    try testing.expectEqual(@as(u8, 0x41), bench.bmIn8(10));
    bench.bmOut8(8, 0x01);
    try testing.expectEqual(@as(u8, 0x09), bench.bmIn8(8));
    bench.bmOut8(8, 0x00);
    try testing.expectEqual(@as(u8, 0x40), bench.bmIn8(10));
    try testing.expectEqual(@as(u8, 0), bench.bmIn8(1));
    try testing.expectEqual(@as(u8, 0), bench.bmIn8(3));
    // Refused: beyond the block, straddling its end, three bytes wide.
    bench.ide.busMasterRead(16, data[0..1]);
    try testing.expectEqual(@as(u8, 0xFF), data[0]);
    bench.ide.busMasterRead(14, data[0..4]);
    bench.ide.busMasterWrite(0, data[0..3]);
    try testing.expectEqual(@as(u32, 3), bench.ide.bad_accesses);

    // Through pci.Handler: BAR4 reaches the registers, other BARs are refused.
    const handler = bench.ide.pciHandler();
    handler.writeFn(handler.context, bus_master_bar, 4, &.{ 0x00, 0x20, 0x00, 0x00 });
    handler.readFn(handler.context, bus_master_bar, 4, &data);
    try testing.expectEqual(@as(u32, 0x2000), std.mem.readInt(u32, &data, .little));
    handler.readFn(handler.context, 0, 0, data[0..1]);
    try testing.expectEqual(@as(u8, 0xFF), data[0]);
    handler.writeFn(handler.context, bus_master_bar, 0x1_0000, data[0..1]);
    try testing.expectEqual(@as(u32, 5), bench.ide.bad_accesses);
}

test "the PCI function: PIIX3 IDE in legacy mode with BAR4 and the channels decoding" {
    var function = initPciFunction();
    try testing.expectEqual(@as(u32, 0x7010_8086), function.get32(pci.Config.vendor_id));
    try testing.expectEqual(@as(u32, 0x0101_8000), function.get32(pci.Config.revision));
    try testing.expectEqual(pci.BarKind.io, function.bars[bus_master_bar].kind);
    try testing.expectEqual(@as(u32, 16), function.bars[bus_master_bar].size);
    try testing.expectEqual(@as(u32, 1), function.get32(pci.Config.bar0 + 4 * 4));
    try testing.expectEqual(@as(u8, 0), function.config[pci.Config.interrupt_pin]);
    try testing.expect(!legacyDecodeEnabled(&function, 0)); // I/O space off
    function.put16(pci.Config.command, pci.command_io);
    try testing.expect(legacyDecodeEnabled(&function, 0) and legacyDecodeEnabled(&function, 1));
    function.put16(idetim_secondary, 0);
    try testing.expect(!legacyDecodeEnabled(&function, 1));
    try testing.expectEqual(@as(u8, 0xFF), function.writable[idetim_primary + 1]);
    try testing.expectEqual(@as(u8, 0xFF), function.writable[sidetim]);
    try testing.expectEqual(@as(u8, 0), function.writable[sidetim + 1]);
}

test "hostile guest: random traffic on every port and random PRD tables never panic or stray" {
    const bench = try Bench.create(128, 64);
    defer bench.destroy();
    var prng = std.Random.DefaultPrng.init(0x1DE);
    const random = prng.random();
    random.bytes(bench.ram);

    // RAM: PRD tables below 64 KiB, the buffers they name from 0x18000 to 0x38000, guard areas
    // elsewhere. Only the buffers may change behind the test's back.
    const tables = [_]u32{ 0x0000, 0x1000, 0x2000, 0xFF80 };
    const buffers_start: u32 = 0x18000;
    const buffers_end: u32 = 0x38000;
    const ram_end: u32 = Bench.ram_bytes;
    const expected = try testing.allocator.dupe(u8, bench.ram);
    defer testing.allocator.free(expected);
    const guards = try testing.allocator.dupe(u8, bench.backing);
    defer testing.allocator.free(guards);
    const check = struct {
        fn run(b: *Bench, want: []const u8, backing: []const u8) !void {
            try testing.expectEqualSlices(u8, want[0..buffers_start], b.ram[0..buffers_start]);
            try testing.expectEqualSlices(u8, want[buffers_end..], b.ram[buffers_end..]);
            try testing.expectEqualSlices(u8, backing[0..Bench.guard_bytes], b.backing[0..Bench.guard_bytes]);
            try testing.expectEqualSlices(u8, backing[Bench.guard_bytes + Bench.ram_bytes ..], b.backing[Bench.guard_bytes + Bench.ram_bytes ..]);
        }
    }.run;

    const opcodes = [_]u8{
        ata.Command.read_sectors,              ata.Command.read_sectors_ext, ata.Command.write_sectors,
        ata.Command.write_sectors_ext,         ata.Command.read_multiple,    ata.Command.write_multiple_ext,
        ata.Command.read_dma,                  ata.Command.write_dma,        ata.Command.read_dma_ext,
        ata.Command.write_dma_ext,             ata.Command.identify_device,  ata.Command.identify_packet_device,
        ata.Command.packet,                    ata.Command.packet,           ata.Command.packet,
        ata.Command.packet,                    ata.Command.packet,           ata.Command.packet,
        ata.Command.flush_cache,               ata.Command.set_features,     ata.Command.set_multiple_mode,
        ata.Command.execute_device_diagnostic, ata.Command.device_reset,     ata.Command.check_power_mode,
        ata.Command.read_verify_sectors,       ata.Command.nop,              ata.Command.standby_immediate,
    };
    const cdbs = [_][]const u8{
        &.{ata.Scsi.test_unit_ready},
        &.{ ata.Scsi.request_sense, 0, 0, 0, 18 },
        &.{ ata.Scsi.inquiry, 0, 0, 0, 36 },
        &.{ata.Scsi.read_capacity},
        &.{ ata.Scsi.read_10, 0, 0, 0, 0, 3, 0, 0, 4, 0 },
        &.{ ata.Scsi.read_12, 0, 0, 0, 0, 60, 0, 0, 0, 4 },
        &.{ ata.Scsi.read_10, 0, 0, 0, 0, 0, 0, 0, 1, 0 },
        &.{ ata.Scsi.read_10, 0, 0, 0, 0, 17, 0, 0, 9, 0 },
        &.{ ata.Scsi.read_10, 0, 0, 0, 0, 63, 0, 0, 1, 0 },
        &.{ ata.Scsi.read_10, 0, 0, 0, 0, 63, 0, 0, 2, 0 },
        &.{ ata.Scsi.read_toc, 2, 0, 0, 0, 0, 0, 0, 20, 0 },
        &.{ ata.Scsi.get_configuration, 0, 0, 0, 0, 0, 0, 0, 64, 0 },
        &.{ ata.Scsi.mode_sense_10, 0, 0x3F, 0, 0, 0, 0, 0, 64, 0 },
        &.{ ata.Scsi.get_event_status_notification, 1, 0, 0, 0x10, 0, 0, 0, 8, 0 },
        &.{ ata.Scsi.start_stop_unit, 0, 0, 0, 2, 0 },
        &.{ ata.Scsi.start_stop_unit, 0, 0, 0, 3, 0 },
        &.{ ata.Scsi.start_stop_unit, 0, 0, 0, 3, 0 },
        &.{ ata.Scsi.mechanism_status, 0, 0, 0, 0, 0, 0, 0, 0, 8 },
    };

    var transfers: u32 = 0;
    var bm_errors: u32 = 0;
    var i: u32 = 0;
    while (i < 40_000) : (i += 1) {
        const channel: u1 = @intCast(random.uintLessThan(u8, 4) / 3); // mostly the primary
        switch (random.uintLessThan(u8, 20)) {
            // A PRD table: descriptors in the buffers, outside RAM, or across its end.
            0 => {
                try check(bench, expected, guards);
                const table = tables[random.uintLessThan(usize, tables.len)];
                const entries = random.uintAtMost(u32, 16);
                var e: u32 = 0;
                while (e < entries and table + e * 8 + 8 <= buffers_start) : (e += 1) {
                    const count = if (random.uintLessThan(u8, 8) == 0) 0 else random.intRangeAtMost(u16, 1, 8192);
                    const bytes: u32 = if (count == 0) 0x10000 else count;
                    const address: u32 = switch (random.uintLessThan(u8, 8)) {
                        0 => random.intRangeAtMost(u32, ram_end, std.math.maxInt(u32)),
                        1 => ram_end - random.uintAtMost(u32, bytes - 1),
                        else => random.intRangeAtMost(u32, buffers_start, buffers_end - bytes),
                    };
                    const at = table + e * 8;
                    const end_of_table = e + 1 == entries and random.uintLessThan(u8, 5) != 0;
                    bench.putPrd(at, address, count, end_of_table);
                    @memcpy(expected[at..][0..8], bench.ram[at..][0..8]);
                }
            },
            // The table pointer: a table, outside RAM, or straddling RAM's end.
            1 => {
                const pointer = switch (random.uintLessThan(u8, 6)) {
                    0 => random.intRangeAtMost(u32, ram_end, std.math.maxInt(u32)),
                    1 => ram_end - 4,
                    else => tables[random.uintLessThan(usize, tables.len)],
                };
                bench.bmOut32(@as(u16, channel) * 8 + 4, pointer);
            },
            // Command and status bytes of the bus master (never the table pointer).
            2, 3 => {
                const widths = [_]usize{ 1, 2, 4 };
                const width = widths[random.uintLessThan(usize, widths.len)];
                const offset: u16 = @as(u16, channel) * 8 + random.uintLessThan(u16, @intCast(5 - width));
                var data: [4]u8 = undefined;
                random.bytes(&data);
                if (random.uintLessThan(u8, 3) == 0) data[0] = 0x01 | (data[0] & 0x08);
                bench.ide.busMasterWrite(offset, data[0..width]);
            },
            4 => {
                var data: [4]u8 = undefined;
                const width = random.intRangeAtMost(usize, 1, 4);
                bench.ide.busMasterRead(random.uintLessThan(u16, 20), data[0..width]);
            },
            // A command with plausible registers.
            5, 6, 7 => {
                const opcode = if (random.uintLessThan(u8, 10) == 0) random.int(u8) else opcodes[random.uintLessThan(usize, opcodes.len)];
                // Packet commands mostly to the CD-ROM, the others mostly to the disk.
                const packetish = opcode == ata.Command.packet or opcode == ata.Command.identify_packet_device;
                const slot: u1 = if (random.uintLessThan(u8, 8) == 0) random.int(u1) else @intFromBool(packetish);
                const count: u16 = if (random.uintLessThan(u8, 4) != 0) random.uintAtMost(u16, 24) else random.int(u16);
                const lba: u48 = if (random.uintLessThan(u8, 4) != 0) random.uintAtMost(u48, 110) else random.int(u48);
                bench.outb(channel, 1, random.uintLessThan(u8, 2));
                bench.outb(channel, 2, @truncate(count >> 8));
                bench.outb(channel, 3, @truncate(lba >> 24));
                bench.outb(channel, 4, @truncate(lba >> 32));
                bench.outb(channel, 5, @truncate(lba >> 40));
                bench.outb(channel, 2, @truncate(count));
                bench.outb(channel, 3, @truncate(lba));
                bench.outb(channel, 4, @truncate(lba >> 8));
                bench.outb(channel, 5, @truncate(lba >> 16));
                bench.outb(channel, 6, 0xE0 | @as(u8, slot) << 4);
                bench.outb(channel, 7, opcode);
                transfers += 1;
                // Half the time, what a driver does next: the packet, the engine, the data.
                if (random.boolean()) {
                    if (opcode == ata.Command.packet) {
                        var cdb = [_]u8{0} ** 12;
                        const sensible = cdbs[random.uintLessThan(usize, cdbs.len)];
                        @memcpy(cdb[0..sensible.len], sensible);
                        bench.writeData(channel, &cdb, false);
                    }
                    const to_memory = random.uintLessThan(u8, 8) != 0;
                    const base = @as(u16, channel) * 8;
                    bench.bmOut8(base, 0x00);
                    bench.bmOut8(base, 0x01 | if (to_memory) @as(u8, 0x08) else 0);
                    var data: [4096]u8 = undefined;
                    random.bytes(&data);
                    if (to_memory) bench.readData(channel, &data, true) else bench.writeData(channel, &data, true);
                }
            },
            // A command packet, sensible or not.
            8 => {
                var cdb: [12]u8 = undefined;
                random.bytes(&cdb);
                if (random.uintLessThan(u8, 4) != 0) {
                    const sensible = cdbs[random.uintLessThan(usize, cdbs.len)];
                    @memset(&cdb, 0);
                    @memcpy(cdb[0..sensible.len], sensible);
                }
                bench.writeData(channel, &cdb, false);
            },
            // The data register, in words and dwords, both ways.
            9, 10, 11 => {
                var data: [2048]u8 = undefined;
                random.bytes(&data);
                const dwords = random.boolean();
                const len = random.intRangeAtMost(usize, 1, 512) * 4;
                if (random.boolean()) bench.readData(channel, data[0..len], dwords) else bench.writeData(channel, data[0..len], dwords);
            },
            // Any register, any width (the odd ones are refused).
            12, 13 => {
                var data: [4]u8 = undefined;
                random.bytes(&data);
                const width = random.intRangeAtMost(usize, 1, 4);
                const offset = random.uintLessThan(u16, 10);
                if (random.boolean()) bench.ide.commandRead(channel, offset, data[0..width]) else bench.ide.commandWrite(channel, offset, data[0..width]);
            },
            14 => _ = bench.status(channel),
            15 => {
                var data: [2]u8 = undefined;
                random.bytes(&data);
                const width = random.intRangeAtMost(usize, 1, 2);
                const offset = random.uintLessThan(u16, 2);
                if (random.boolean()) bench.ide.controlRead(channel, offset, data[0..width]) else {
                    // SRST now and then; nIEN and HOB often.
                    if (random.uintLessThan(u8, 4) != 0) data[0] &= ~@as(u8, 0x04);
                    bench.ide.controlWrite(channel, offset, data[0..width]);
                }
            },
            16 => {
                bench.disk_medium.fail_reads = random.uintLessThan(u8, 8) == 0;
                bench.disk_medium.fail_writes = random.uintLessThan(u8, 8) == 0;
                bench.disk_medium.fail_flushes = random.uintLessThan(u8, 8) == 0;
                bench.cd_medium.fail_reads = random.uintLessThan(u8, 8) == 0;
            },
            // The host swaps the disc now and then.
            17 => if (random.uintLessThan(u8, 8) == 0) {
                bench.ide.mutex.lock();
                defer bench.ide.mutex.unlock();
                if (random.uintLessThan(u8, 4) == 0) bench.cdrom.removeMedium() else bench.cdrom.insertMedium(bench.cd_medium.backend());
            },
            else => {
                // Start the engine, the way a driver does after a DMA command.
                bench.bmOut8(@as(u16, channel) * 8, 0x00);
                bench.bmOut8(@as(u16, channel) * 8, 0x01 | if (random.boolean()) @as(u8, 0x08) else 0);
            },
        }
        for (bench.ide.channels, bench.irqs) |ch, recorder| try testing.expectEqual(ch.irq.level, recorder.level);
        if (bench.ide.channels[0].bmis & 0x02 != 0) {
            bm_errors += 1;
            bench.bmOut8(2, 0x02);
        }
        if (i % 64 == 0) try check(bench, expected, guards);
    }
    try check(bench, expected, guards);
    try testing.expect(transfers > 1000);
    try testing.expect(bench.irqs[0].rises > 100);
    try testing.expect(bench.ide.bad_accesses > 100);
    // The traffic reached deep enough: media moved both ways, DMA failed on bad tables.
    try testing.expect(bench.disk_medium.reads > 100 and bench.disk_medium.writes > 100);
    try testing.expect(bench.cd_medium.reads > 50);
    try testing.expect(bm_errors > 50);
}
