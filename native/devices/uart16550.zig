//! A 16550A UART, wired as COM1. Transmission is instant: every byte written to THR leaves through
//! `output` at once, so THR and the transmitter are always empty (LSR.THRE and LSR.TEMT set).
//! Received bytes come from the host (`pushInput`, another thread) into a backlog, bytes still
//! "on the wire". The guest sees them only while it listens: not in loopback, and either with the
//! received-data interrupt enabled (what a driver does when a program opens the port) or polling:
//! LSR read again and again with interrupts off and no reconfiguration in between (firmware and
//! boot loaders: SeaBIOS's serial console, GRUB). They arrive just in time: a FIFO reset clears
//! only what the chip itself holds (looped-back bytes), so input piped in before the guest is
//! ready is not eaten by probes and resets, which reconfigure the chip between their few reads.
const std = @import("std");
const assert = std.debug.assert;
const device = @import("device.zig");
const IrqLine = device.IrqLine;
const ByteSink = device.ByteSink;

pub const Uart16550 = struct {
    /// Host-side receive backlog: large enough that a pasted line or two is never dropped.
    pub const backlog_capacity: u32 = 4096;
    /// The 16550A's receive FIFO depth.
    pub const rx_fifo_depth: u32 = 16;
    /// Registers occupy offsets 0..7 from the base.
    pub const register_count: u16 = 8;

    comptime {
        assert(std.math.isPowerOfTwo(backlog_capacity));
        assert(std.math.isPowerOfTwo(rx_fifo_depth));
    }

    /// Guards everything below: the vCPU thread and the host's stdin thread both get here.
    mutex: std.Thread.Mutex = .{},
    irq: IrqLine,
    /// Called with the mutex held: the sink must not call back into this UART.
    output: ByteSink,

    /// Interrupt Enable Register: only the low four bits exist on a 16550A.
    ier: u8 = 0,
    /// Line Control Register; bit 7 (DLAB) switches offsets 0 and 1 to the divisor latch.
    lcr: u8 = 0,
    /// Modem Control Register: only the low five bits exist.
    mcr: u8 = 0,
    /// FIFO Control Register as programmed: FIFO enable (bit 0) and RX trigger (bits 6-7).
    fcr: u8 = 0,
    /// Scratch Register.
    scr: u8 = 0,
    /// Divisor latch. Reset value is undefined on the chip; 1 (115200 baud) keeps guests that
    /// divide by it safe.
    dll: u8 = 1,
    dlm: u8 = 0,
    /// LSR error bits (only OE can happen here), sticky until LSR is read.
    lsr_errors: u8 = 0,
    /// MSR delta bits (DCTS, DDSR, TERI, DDCD), sticky until MSR is read.
    msr_deltas: u8 = 0,
    /// The last byte read from RBR, returned again when the receiver is empty.
    rbr: u8 = 0,
    /// The latched THR-empty interrupt: set when THR becomes empty (after every transmit) or when
    /// ETBEI is enabled, cleared by a THR write or by an IIR read that reports it.
    thre_pending: bool = false,

    /// The receiver: FIFO contents (or the single receive buffer in 16450 mode).
    rx_fifo: [rx_fifo_depth]u8 = undefined,
    rx_head: u32 = 0,
    rx_count: u32 = 0,
    /// Host input not yet in the receiver.
    backlog: [backlog_capacity]u8 = undefined,
    backlog_head: u32 = 0,
    backlog_count: u32 = 0,

    /// LSR reads in a row with IER zero and no write to IER, FCR, LCR or MCR in between.
    idle_lsr_polls: u8 = 0,

    /// Accesses with the wrong width or outside the registers (saturating).
    bad_accesses: u32 = 0,

    /// This many idle LSR polls make a polling guest: far more than a driver's probe reads
    /// between two reconfigurations, and a fraction of a millisecond of a polling loop.
    const polling_lsr_reads: u8 = 32;

    const Register = struct {
        const rbr_thr_dll: u3 = 0;
        const ier_dlm: u3 = 1;
        const iir_fcr: u3 = 2;
        const lcr: u3 = 3;
        const mcr: u3 = 4;
        const lsr: u3 = 5;
        const msr: u3 = 6;
        const scr: u3 = 7;
    };

    const ier_erbfi: u8 = 0x01;
    const ier_etbei: u8 = 0x02;
    const ier_elsi: u8 = 0x04;
    const ier_edssi: u8 = 0x08;
    const ier_mask: u8 = 0x0F;

    const iir_modem_status: u8 = 0x00;
    const iir_no_interrupt: u8 = 0x01;
    const iir_thr_empty: u8 = 0x02;
    const iir_rx_data: u8 = 0x04;
    const iir_line_status: u8 = 0x06;
    const iir_char_timeout: u8 = 0x0C;
    const iir_fifos_enabled: u8 = 0xC0;

    const fcr_fifo_enable: u8 = 0x01;
    const fcr_rx_clear: u8 = 0x02;
    const fcr_trigger_mask: u8 = 0xC0;

    const lcr_dlab: u8 = 0x80;

    const mcr_dtr: u8 = 0x01;
    const mcr_rts: u8 = 0x02;
    const mcr_out1: u8 = 0x04;
    const mcr_out2: u8 = 0x08;
    const mcr_loop: u8 = 0x10;
    const mcr_mask: u8 = 0x1F;

    const lsr_dr: u8 = 0x01;
    const lsr_oe: u8 = 0x02;
    const lsr_thre: u8 = 0x20;
    const lsr_temt: u8 = 0x40;

    const msr_dcts: u8 = 0x01;
    const msr_ddsr: u8 = 0x02;
    const msr_teri: u8 = 0x04;
    const msr_ddcd: u8 = 0x08;
    const msr_cts: u8 = 0x10;
    const msr_dsr: u8 = 0x20;
    const msr_ri: u8 = 0x40;
    const msr_dcd: u8 = 0x80;

    pub fn init(irq: IrqLine, output: ByteSink) Uart16550 {
        return .{ .irq = irq, .output = output };
    }

    pub fn read(self: *Uart16550, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteReadAllowed(&self.bad_accesses, offset, data, register_count)) return;
        data[0] = self.readRegister(@intCast(offset));
        self.updateIrq();
    }

    pub fn write(self: *Uart16550, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!device.byteWriteAllowed(&self.bad_accesses, offset, data, register_count)) return;
        self.writeRegister(@intCast(offset), data[0]);
        self.updateIrq();
    }

    /// Queues host input for the guest; returns how many bytes were accepted (the rest must be
    /// offered again later).
    pub fn pushInput(self: *Uart16550, bytes: []const u8) usize {
        self.mutex.lock();
        defer self.mutex.unlock();
        const accepted: usize = @min(bytes.len, self.inputSpaceLocked());
        for (bytes[0..accepted]) |byte| {
            self.backlog[(self.backlog_head + self.backlog_count) % backlog_capacity] = byte;
            self.backlog_count += 1;
        }
        self.updateIrq();
        return accepted;
    }

    /// How many bytes `pushInput` would accept now.
    pub fn inputSpace(self: *Uart16550) usize {
        self.mutex.lock();
        defer self.mutex.unlock();
        return self.inputSpaceLocked();
    }

    fn inputSpaceLocked(self: *const Uart16550) u32 {
        return backlog_capacity - self.backlog_count;
    }

    fn listening(self: *const Uart16550) bool {
        const polling = self.idle_lsr_polls >= polling_lsr_reads;
        return self.mcr & mcr_loop == 0 and (self.ier & ier_erbfi != 0 or polling);
    }

    /// Bytes the guest can read now: what the chip holds, then host input while it listens,
    /// counted up to what the receiver could hold.
    fn receivedCount(self: *const Uart16550) u32 {
        const from_host: u32 = if (self.listening()) self.backlog_count else 0;
        return @min(self.rx_count + from_host, self.receiverCapacity());
    }

    fn receiverCapacity(self: *const Uart16550) u32 {
        return if (self.fifoEnabled()) rx_fifo_depth else 1;
    }

    fn readRegister(self: *Uart16550, register: u3) u8 {
        const dlab = self.lcr & lcr_dlab != 0;
        return switch (register) {
            Register.rbr_thr_dll => if (dlab) self.dll else self.readRbr(),
            Register.ier_dlm => if (dlab) self.dlm else self.ier,
            Register.iir_fcr => self.readIir(),
            Register.lcr => self.lcr,
            Register.mcr => self.mcr,
            Register.lsr => self.readLsr(),
            Register.msr => self.readMsr(),
            Register.scr => self.scr,
        };
    }

    fn writeRegister(self: *Uart16550, register: u3, value: u8) void {
        const dlab = self.lcr & lcr_dlab != 0;
        switch (register) {
            Register.ier_dlm, Register.iir_fcr, Register.lcr, Register.mcr => self.idle_lsr_polls = 0,
            else => {},
        }
        switch (register) {
            Register.rbr_thr_dll => if (dlab) {
                self.dll = value;
            } else {
                self.transmit(value);
            },
            Register.ier_dlm => if (dlab) {
                self.dlm = value;
            } else {
                self.writeIer(value);
            },
            Register.iir_fcr => self.writeFcr(value),
            Register.lcr => self.lcr = value,
            Register.mcr => self.writeMcr(value),
            // LSR and MSR are read-only; writes to them are ignored, as on the chip.
            Register.lsr, Register.msr => {},
            Register.scr => self.scr = value,
        }
    }

    fn readRbr(self: *Uart16550) u8 {
        if (self.rx_count > 0) {
            self.rbr = self.rxPop();
        } else if (self.listening() and self.backlog_count > 0) {
            self.rbr = self.backlog[self.backlog_head];
            self.backlog_head = (self.backlog_head + 1) % backlog_capacity;
            self.backlog_count -= 1;
        }
        return self.rbr;
    }

    fn readIir(self: *Uart16550) u8 {
        const id = self.interruptId();
        // Reading IIR is the acknowledgement for a THR-empty interrupt (and only for that one).
        if (id == iir_thr_empty) self.thre_pending = false;
        const fifo_bits: u8 = if (self.fifoEnabled()) iir_fifos_enabled else 0;
        return id | fifo_bits;
    }

    fn readLsr(self: *Uart16550) u8 {
        if (self.ier == 0 and self.idle_lsr_polls < polling_lsr_reads) self.idle_lsr_polls += 1;
        const dr: u8 = if (self.receivedCount() > 0) lsr_dr else 0;
        const value = dr | self.lsr_errors | lsr_thre | lsr_temt;
        self.lsr_errors = 0;
        return value;
    }

    fn readMsr(self: *Uart16550) u8 {
        const value = modemInputs(self.mcr) | self.msr_deltas;
        self.msr_deltas = 0;
        return value;
    }

    fn writeIer(self: *Uart16550, value: u8) void {
        const enabling_thre = self.ier & ier_etbei == 0 and value & ier_etbei != 0;
        self.ier = value & ier_mask;
        // THR is always empty, so enabling ETBEI raises the THRE interrupt at once. Linux's
        // startup test counts on it being raised again after IER is cleared and set.
        if (enabling_thre) self.thre_pending = true;
    }

    fn writeFcr(self: *Uart16550, value: u8) void {
        const enable = value & fcr_fifo_enable != 0;
        // Switching between FIFO and 16450 mode empties the FIFOs.
        if (enable != self.fifoEnabled()) self.clearRxFifo();
        if (!enable) {
            // The other FCR bits are only programmed while bit 0 is written as 1.
            self.fcr = 0;
            return;
        }
        if (value & fcr_rx_clear != 0) self.clearRxFifo();
        // Clearing the transmit FIFO has nothing to do: transmission is instant.
        self.fcr = value & (fcr_fifo_enable | fcr_trigger_mask);
    }

    fn writeMcr(self: *Uart16550, value: u8) void {
        const before = modemInputs(self.mcr);
        self.mcr = value & mcr_mask;
        const after = modemInputs(self.mcr);
        const changed = before ^ after;
        if (changed & msr_cts != 0) self.msr_deltas |= msr_dcts;
        if (changed & msr_dsr != 0) self.msr_deltas |= msr_ddsr;
        if (changed & msr_dcd != 0) self.msr_deltas |= msr_ddcd;
        // TERI flags only the trailing edge of RI (on to off).
        if (before & msr_ri != 0 and after & msr_ri == 0) self.msr_deltas |= msr_teri;
    }

    /// The modem status inputs. In loopback the outputs feed back (RTS→CTS, DTR→DSR, OUT1→RI,
    /// OUT2→DCD); otherwise the host end is a ready terminal: CTS, DSR and DCD asserted.
    fn modemInputs(mcr: u8) u8 {
        if (mcr & mcr_loop == 0) return msr_cts | msr_dsr | msr_dcd;
        var inputs: u8 = 0;
        if (mcr & mcr_rts != 0) inputs |= msr_cts;
        if (mcr & mcr_dtr != 0) inputs |= msr_dsr;
        if (mcr & mcr_out1 != 0) inputs |= msr_ri;
        if (mcr & mcr_out2 != 0) inputs |= msr_dcd;
        return inputs;
    }

    fn transmit(self: *Uart16550, byte: u8) void {
        if (self.mcr & mcr_loop != 0) {
            self.receiveLoopback(byte);
        } else {
            self.output.write(&[1]u8{byte});
        }
        // The byte is gone at once: THR is empty again, which is a fresh THRE interrupt.
        self.thre_pending = true;
    }

    /// In loopback the receiver holds what the chip would: the FIFO, or one byte in 16450 mode.
    /// A byte arriving when that is full is lost and flagged as an overrun.
    fn receiveLoopback(self: *Uart16550, byte: u8) void {
        if (self.rx_count >= self.receiverCapacity()) {
            self.lsr_errors |= lsr_oe;
            return;
        }
        self.rxPush(byte);
    }

    fn fifoEnabled(self: *const Uart16550) bool {
        return self.fcr & fcr_fifo_enable != 0;
    }

    fn rxTriggerLevel(self: *const Uart16550) u32 {
        return switch (self.fcr >> 6) {
            0 => 1,
            1 => 4,
            2 => 8,
            else => 14,
        };
    }

    /// Highest-priority pending enabled interrupt, as IIR bits 0-3.
    fn interruptId(self: *const Uart16550) u8 {
        if (self.ier & ier_elsi != 0 and self.lsr_errors != 0) return iir_line_status;
        const received = self.receivedCount();
        if (self.ier & ier_erbfi != 0 and received > 0) {
            // Below the trigger level a FIFO reports a character timeout; with instant
            // transmission the four idle character times have always already passed.
            if (self.fifoEnabled() and received < self.rxTriggerLevel()) return iir_char_timeout;
            return iir_rx_data;
        }
        if (self.ier & ier_etbei != 0 and self.thre_pending) return iir_thr_empty;
        if (self.ier & ier_edssi != 0 and self.msr_deltas != 0) return iir_modem_status;
        return iir_no_interrupt;
    }

    /// PC serial ports gate the interrupt pin with OUT2, and loopback forces the OUT2 pin off.
    fn updateIrq(self: *Uart16550) void {
        const pending = self.interruptId() != iir_no_interrupt;
        const gate_open = self.mcr & (mcr_out2 | mcr_loop) == mcr_out2;
        self.irq.set(pending and gate_open);
    }

    /// Empties what the chip holds; host input is still on the wire and stays.
    fn clearRxFifo(self: *Uart16550) void {
        self.rx_head = 0;
        self.rx_count = 0;
    }

    fn rxPush(self: *Uart16550, byte: u8) void {
        assert(self.rx_count < rx_fifo_depth);
        self.rx_fifo[(self.rx_head + self.rx_count) % rx_fifo_depth] = byte;
        self.rx_count += 1;
    }

    fn rxPop(self: *Uart16550) u8 {
        assert(self.rx_count > 0);
        const byte = self.rx_fifo[self.rx_head];
        self.rx_head = (self.rx_head + 1) % rx_fifo_depth;
        self.rx_count -= 1;
        return byte;
    }

    fn checkInvariants(self: *const Uart16550) void {
        assert(self.rx_count <= rx_fifo_depth);
        assert(self.rx_head < rx_fifo_depth);
        assert(self.backlog_count <= backlog_capacity);
        assert(self.backlog_head < backlog_capacity);
        assert(self.ier & ~ier_mask == 0);
        assert(self.mcr & ~mcr_mask == 0);
        assert(self.fcr & ~(fcr_fifo_enable | fcr_trigger_mask) == 0);
        assert(self.lsr_errors & ~lsr_oe == 0);
    }
};

const testing = std.testing;
const IrqRecorder = device.IrqRecorder;
const SinkRecorder = device.SinkRecorder;

fn readByte(uart: *Uart16550, offset: u16) u8 {
    var data = [1]u8{0};
    uart.read(offset, &data);
    return data[0];
}

fn writeByte(uart: *Uart16550, offset: u16, value: u8) void {
    uart.write(offset, &[1]u8{value});
}

test "Linux 8250 autoconfig probe identifies a 16550A" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());

    // Scratch register holds what is written.
    writeByte(&uart, 7, 0xA5);
    try testing.expectEqual(@as(u8, 0xA5), readByte(&uart, 7));
    writeByte(&uart, 7, 0x5A);
    try testing.expectEqual(@as(u8, 0x5A), readByte(&uart, 7));

    // IER: 0 reads back 0, 0x0F reads back 0x0F; the upper bits do not exist (not an XScale).
    writeByte(&uart, 1, 0x00);
    try testing.expectEqual(@as(u8, 0x00), readByte(&uart, 1) & 0x0F);
    writeByte(&uart, 1, 0x0F);
    try testing.expectEqual(@as(u8, 0x0F), readByte(&uart, 1) & 0x0F);
    writeByte(&uart, 1, 0xFF);
    try testing.expectEqual(@as(u8, 0x0F), readByte(&uart, 1));
    writeByte(&uart, 1, 0x00);

    // Loopback check: MCR = LOOP | OUT2 | RTS makes MSR's top nibble DCD | CTS.
    const saved_mcr = readByte(&uart, 4);
    writeByte(&uart, 4, 0x10 | 0x0A);
    try testing.expectEqual(@as(u8, 0x90), readByte(&uart, 6) & 0xF0);
    writeByte(&uart, 4, saved_mcr);

    // FIFO detection: IIR bits 6-7 both set once FCR enables the FIFOs; bit 5 (64-byte FIFO)
    // stays clear even when asked for, so this is not a 16750.
    writeByte(&uart, 2, 0x01);
    try testing.expectEqual(@as(u8, 3), readByte(&uart, 2) >> 6);
    writeByte(&uart, 2, 0x21);
    try testing.expectEqual(@as(u8, 0xC1), readByte(&uart, 2));
    writeByte(&uart, 3, 0xBF);
    try testing.expect(readByte(&uart, 2) != 0); // no EFR behind IIR
    writeByte(&uart, 3, 0x00);

    // MCR upper bits do not exist.
    writeByte(&uart, 4, 0xE0);
    try testing.expectEqual(@as(u8, 0x00), readByte(&uart, 4));

    try testing.expectEqual(@as(usize, 0), sink.total);
    try testing.expectEqual(@as(u32, 0), uart.bad_accesses);
    uart.checkInvariants();
}

test "DLAB switches offsets 0 and 1 to the divisor latch" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());

    writeByte(&uart, 1, 0x05);
    writeByte(&uart, 3, 0x83); // DLAB | 8 data bits
    try testing.expectEqual(@as(u8, 0x01), readByte(&uart, 0)); // reset divisor: 115200 baud
    writeByte(&uart, 0, 0x0C);
    writeByte(&uart, 1, 0x00);
    try testing.expectEqual(@as(u8, 0x0C), readByte(&uart, 0));
    try testing.expectEqual(@as(u8, 0x00), readByte(&uart, 1));
    writeByte(&uart, 1, 0x12);
    try testing.expectEqual(@as(u8, 0x12), readByte(&uart, 1));
    writeByte(&uart, 3, 0x03);
    // IER and the transmitter come back untouched by the divisor writes.
    try testing.expectEqual(@as(u8, 0x05), readByte(&uart, 1));
    try testing.expectEqual(@as(u8, 0x03), readByte(&uart, 3));
    try testing.expectEqual(@as(usize, 0), sink.total);
    writeByte(&uart, 0, 'x');
    try testing.expectEqualSlices(u8, "x", sink.written());
    writeByte(&uart, 3, 0x83);
    try testing.expectEqual(@as(u8, 0x0C), readByte(&uart, 0));
    try testing.expectEqual(@as(u8, 0x12), readByte(&uart, 1));
}

test "transmit goes to the sink and LSR always shows an empty transmitter" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());

    try testing.expectEqual(@as(u8, 0x60), readByte(&uart, 5));
    for ("hello\n") |c| writeByte(&uart, 0, c);
    try testing.expectEqualSlices(u8, "hello\n", sink.written());
    try testing.expectEqual(@as(u8, 0x60), readByte(&uart, 5));
    try testing.expect(!irq.level);
}

test "loopback: transmitted bytes are received, not sent, and overflow sets OE" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());

    writeByte(&uart, 4, 0x10);
    writeByte(&uart, 0, 'A');
    try testing.expectEqual(@as(usize, 0), sink.total);
    try testing.expectEqual(@as(u8, 0x61), readByte(&uart, 5));
    try testing.expectEqual(@as(u8, 'A'), readByte(&uart, 0));
    try testing.expectEqual(@as(u8, 0x60), readByte(&uart, 5));

    // 16450 mode holds one byte; the second overruns.
    writeByte(&uart, 0, 'B');
    writeByte(&uart, 0, 'C');
    try testing.expectEqual(@as(u8, 0x63), readByte(&uart, 5));
    try testing.expectEqual(@as(u8, 0x61), readByte(&uart, 5)); // OE cleared by the read
    try testing.expectEqual(@as(u8, 'B'), readByte(&uart, 0));

    // Linux's size_fifo(): 256 bytes into a FIFO-mode loopback; the 16550A keeps 16.
    writeByte(&uart, 2, 0x07);
    var sent: u32 = 0;
    while (sent < 256) : (sent += 1) writeByte(&uart, 0, @truncate(sent));
    var count: u32 = 0;
    while (readByte(&uart, 5) & 0x01 != 0 and count < 256) : (count += 1) {
        try testing.expectEqual(@as(u8, @truncate(count)), readByte(&uart, 0));
    }
    try testing.expectEqual(Uart16550.rx_fifo_depth, count);

    // Host input waits in the backlog while looping back (a driver probing the chip must not
    // eat it), and reaches the receiver once the guest listens with ERBFI.
    try testing.expectEqual(@as(usize, 2), uart.pushInput("zz"));
    try testing.expectEqual(@as(u8, 0x60), readByte(&uart, 5));
    writeByte(&uart, 4, 0x00);
    try testing.expectEqual(@as(u8, 0x60), readByte(&uart, 5));
    writeByte(&uart, 1, 0x01);
    try testing.expectEqual(@as(u8, 0x61), readByte(&uart, 5));
    try testing.expectEqual(@as(u8, 'z'), readByte(&uart, 0));
    try testing.expectEqual(@as(u8, 'z'), readByte(&uart, 0));
    try testing.expectEqual(@as(u8, 0x60), readByte(&uart, 5));
    try testing.expectEqual(@as(usize, Uart16550.backlog_capacity), uart.inputSpace());
    try testing.expectEqual(@as(usize, 0), sink.total);
}

test "a guest polling LSR with interrupts off receives host input; a probe does not" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());
    try testing.expectEqual(@as(usize, 3), uart.pushInput("abc"));

    // A driver's probe: reconfiguration between a few LSR reads, and an RBR read "for luck".
    for (0..20) |_| {
        writeByte(&uart, 2, 0x07); // FCR: enable and clear the FIFOs
        for (0..4) |_| try testing.expectEqual(@as(u8, 0x60), readByte(&uart, 5));
        _ = readByte(&uart, 0);
        writeByte(&uart, 1, 0x00);
    }
    try testing.expectEqual(@as(usize, Uart16550.backlog_capacity - 3), uart.inputSpace());

    // Firmware polling for a key: after enough idle LSR reads the input shows, no interrupt.
    var polls: u32 = 0;
    while (readByte(&uart, 5) & 0x01 == 0) : (polls += 1) try testing.expect(polls < 100);
    try testing.expectEqual(@as(u32, Uart16550.polling_lsr_reads - 1), polls);
    try testing.expectEqual(@as(u8, 'a'), readByte(&uart, 0));
    try testing.expectEqual(@as(u8, 'b'), readByte(&uart, 0));
    try testing.expect(!irq.level);
    // Transmitting while polling keeps it polling.
    writeByte(&uart, 0, 'x');
    try testing.expectEqual(@as(u8, 0x61), readByte(&uart, 5));
    try testing.expectEqual(@as(u8, 'c'), readByte(&uart, 0));
    // Reconfiguring ends it until the polls add up again.
    try testing.expectEqual(@as(usize, 1), uart.pushInput("d"));
    writeByte(&uart, 3, 0x03);
    try testing.expectEqual(@as(u8, 0x60), readByte(&uart, 5));
}

test "loopback: MSR follows MCR and reports deltas" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());

    try testing.expectEqual(@as(u8, 0xB0), readByte(&uart, 6)); // ready terminal
    writeByte(&uart, 4, 0x10); // loop with all outputs off: CTS, DSR, DCD drop
    try testing.expectEqual(@as(u8, 0x0B), readByte(&uart, 6));
    try testing.expectEqual(@as(u8, 0x00), readByte(&uart, 6));
    writeByte(&uart, 4, 0x10 | 0x01); // DTR → DSR
    try testing.expectEqual(@as(u8, 0x22), readByte(&uart, 6));
    writeByte(&uart, 4, 0x10 | 0x04); // OUT1 → RI; DTR off
    try testing.expectEqual(@as(u8, 0x42), readByte(&uart, 6));
    writeByte(&uart, 4, 0x10); // RI trailing edge
    try testing.expectEqual(@as(u8, 0x04), readByte(&uart, 6));
    writeByte(&uart, 4, 0x10 | 0x0F);
    try testing.expectEqual(@as(u8, 0xFB), readByte(&uart, 6));
}

test "THRE interrupt: raised on enable, cleared by IIR read, raised again by THR write" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());

    writeByte(&uart, 4, 0x0B); // DTR | RTS | OUT2, as Linux opens the port
    writeByte(&uart, 1, 0x02);
    try testing.expect(irq.level);
    try testing.expectEqual(@as(u8, 0x02), readByte(&uart, 2));
    try testing.expect(!irq.level);
    try testing.expectEqual(@as(u8, 0x01), readByte(&uart, 2));

    // Linux's THRE test: clearing and setting ETBEI re-asserts the interrupt.
    writeByte(&uart, 1, 0x00);
    writeByte(&uart, 1, 0x02);
    try testing.expectEqual(@as(u8, 0x02), readByte(&uart, 2));
    try testing.expectEqual(@as(u8, 0x01), readByte(&uart, 2));

    // Rewriting IER with ETBEI already set is not an enable.
    writeByte(&uart, 1, 0x02);
    try testing.expectEqual(@as(u8, 0x01), readByte(&uart, 2));

    const rises_before = irq.rises;
    writeByte(&uart, 0, 'a');
    try testing.expect(irq.level);
    try testing.expectEqual(rises_before + 1, irq.rises);
    try testing.expectEqualSlices(u8, "a", sink.written());

    // A THR write also acknowledges: after the write the only pending THRE is the new one.
    try testing.expectEqual(@as(u8, 0x02), readByte(&uart, 2));
    writeByte(&uart, 1, 0x00);
    try testing.expect(!irq.level);
}

test "OUT2 gates the interrupt pin but not IIR" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());

    writeByte(&uart, 1, 0x01);
    try testing.expectEqual(@as(usize, 3), uart.pushInput("abc"));
    try testing.expect(!irq.level);
    try testing.expectEqual(@as(u8, 0x04), readByte(&uart, 2));
    writeByte(&uart, 4, 0x08);
    try testing.expect(irq.level);
    writeByte(&uart, 4, 0x18); // loopback forces the OUT2 pin off
    try testing.expect(!irq.level);
    writeByte(&uart, 4, 0x08);
    try testing.expect(irq.level);
    writeByte(&uart, 4, 0x00);
    try testing.expect(!irq.level);
}

test "IIR reports interrupts in priority order" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());

    writeByte(&uart, 4, 0x10); // loopback, outputs off: MSR deltas pending
    writeByte(&uart, 0, 'x');
    writeByte(&uart, 0, 'y'); // overrun
    writeByte(&uart, 1, 0x0F);
    try testing.expectEqual(@as(u8, 0x06), readByte(&uart, 2)); // line status
    try testing.expectEqual(@as(u8, 0x06), readByte(&uart, 2)); // IIR read does not clear it
    _ = readByte(&uart, 5);
    try testing.expectEqual(@as(u8, 0x04), readByte(&uart, 2)); // received data
    try testing.expectEqual(@as(u8, 'x'), readByte(&uart, 0));
    try testing.expectEqual(@as(u8, 0x02), readByte(&uart, 2)); // THR empty, now acknowledged
    try testing.expectEqual(@as(u8, 0x00), readByte(&uart, 2)); // modem status
    _ = readByte(&uart, 6);
    try testing.expectEqual(@as(u8, 0x01), readByte(&uart, 2));
    try testing.expect(!irq.level); // loopback: pin gated throughout
}

test "received data: the backlog takes 4096 bytes, raises and drops the interrupt" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());

    writeByte(&uart, 4, 0x0B);
    writeByte(&uart, 1, 0x01);
    try testing.expect(!irq.level);

    var input: [5000]u8 = undefined;
    for (&input, 0..) |*byte, i| byte.* = @truncate(i *% 7);
    try testing.expectEqual(@as(usize, 4096), uart.pushInput(&input));
    try testing.expectEqual(@as(usize, 0), uart.inputSpace());
    try testing.expectEqual(@as(usize, 0), uart.pushInput(input[4096..]));
    try testing.expect(irq.level);
    try testing.expectEqual(@as(u8, 0x61), readByte(&uart, 5)); // DR, no overrun

    for (input[0..4096]) |expected| {
        try testing.expect(irq.level);
        try testing.expectEqual(expected, readByte(&uart, 0));
    }
    try testing.expect(!irq.level);
    try testing.expectEqual(@as(u8, 0x60), readByte(&uart, 5));
    try testing.expectEqual(@as(u8, 0x01), readByte(&uart, 2));
    try testing.expectEqual(@as(usize, 4096), uart.inputSpace());
    // The remainder goes in once there is room, wrapping the ring.
    try testing.expectEqual(@as(usize, 904), uart.pushInput(input[4096..]));
    for (input[4096..]) |expected| try testing.expectEqual(expected, readByte(&uart, 0));
    // An empty receiver repeats the last byte.
    try testing.expectEqual(input[4999], readByte(&uart, 0));
    uart.checkInvariants();
}

test "FIFO mode: timeout below the trigger level; FIFO resets keep host input" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());

    writeByte(&uart, 2, 0x81); // FIFO, trigger 8
    writeByte(&uart, 1, 0x01);
    try testing.expectEqual(@as(usize, 3), uart.pushInput("abc"));
    try testing.expectEqual(@as(u8, 0xCC), readByte(&uart, 2));
    var input: [40]u8 = undefined;
    for (&input, 0..) |*byte, i| byte.* = @intCast(i);
    try testing.expectEqual(@as(usize, 40), uart.pushInput(&input));
    try testing.expectEqual(@as(u8, 0xC4), readByte(&uart, 2));

    // Drivers reset the FIFOs while opening the port; host input is still on the wire.
    writeByte(&uart, 2, 0x83);
    try testing.expectEqual(@as(u8, 'a'), readByte(&uart, 0));
    writeByte(&uart, 2, 0x00); // 16450 mode
    try testing.expectEqual(@as(u8, 'b'), readByte(&uart, 0));
    try testing.expectEqual(@as(u8, 0x04), readByte(&uart, 2));
    writeByte(&uart, 2, 0x06); // bit 0 clear: nothing is programmed
    try testing.expectEqual(@as(u8, 'c'), readByte(&uart, 0));
    try testing.expectEqual(@as(u8, 0), readByte(&uart, 0));

    // What the chip itself holds (looped-back bytes) is what a reset clears.
    writeByte(&uart, 2, 0x01);
    writeByte(&uart, 4, 0x10);
    writeByte(&uart, 0, 'L');
    try testing.expectEqual(@as(u8, 0x61), readByte(&uart, 5));
    writeByte(&uart, 2, 0x03);
    try testing.expectEqual(@as(u8, 0x60), readByte(&uart, 5));
}

test "wrong widths and offsets are ignored, read as ones and counted" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());

    var wide = [4]u8{ 0, 0, 0, 0 };
    uart.read(5, &wide);
    try testing.expectEqualSlices(u8, &[4]u8{ 0xFF, 0xFF, 0xFF, 0xFF }, &wide);
    uart.write(0, &[2]u8{ 'a', 'b' });
    uart.write(8, &[1]u8{'c'});
    try testing.expectEqual(@as(u8, 0xFF), readByte(&uart, 0xFFFF));
    uart.write(1, &[0]u8{});
    try testing.expectEqual(@as(usize, 0), sink.total);
    try testing.expectEqual(@as(u32, 5), uart.bad_accesses);
    uart.bad_accesses = std.math.maxInt(u32);
    uart.write(9, &[1]u8{0});
    try testing.expectEqual(std.math.maxInt(u32), uart.bad_accesses);
}

test "host input from another thread arrives in order" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());
    const total: usize = 20_000;

    const Producer = struct {
        fn run(target: *Uart16550) void {
            var next: usize = 0;
            var chunk: [97]u8 = undefined;
            while (next < total) {
                const len = @min(chunk.len, total - next);
                for (chunk[0..len], 0..) |*byte, i| byte.* = @truncate(next + i);
                next += target.pushInput(chunk[0..len]);
                std.Thread.yield() catch {};
            }
        }
    };
    writeByte(&uart, 1, 0x01); // the guest listens: received-data interrupt enabled
    const thread = try std.Thread.spawn(.{}, Producer.run, .{&uart});
    var received: usize = 0;
    while (received < total) {
        if (readByte(&uart, 5) & 0x01 == 0) {
            std.Thread.yield() catch {};
            continue;
        }
        try testing.expectEqual(@as(u8, @truncate(received)), readByte(&uart, 0));
        received += 1;
    }
    thread.join();
    try testing.expectEqual(@as(usize, Uart16550.backlog_capacity), uart.inputSpace());
}

test "hostile guest: random accesses never panic and keep invariants" {
    var irq = IrqRecorder{};
    var sink = SinkRecorder{};
    var uart = Uart16550.init(irq.line(4), sink.sink());
    var prng = std.Random.DefaultPrng.init(0x16550A);
    const random = prng.random();
    const widths = [_]usize{ 1, 2, 4 };

    var i: u32 = 0;
    while (i < 100_000) : (i += 1) {
        const offset = random.uintLessThan(u16, Uart16550.register_count + 8);
        const width = widths[random.uintLessThan(usize, widths.len)];
        var data: [4]u8 = undefined;
        random.bytes(&data);
        switch (random.uintLessThan(u8, 8)) {
            0...3 => uart.read(offset, data[0..width]),
            4...6 => uart.write(offset, data[0..width]),
            else => _ = uart.pushInput(data[0..width]),
        }
        uart.checkInvariants();
        const gate = uart.mcr & 0x18 == 0x08;
        try testing.expectEqual(gate and uart.interruptId() != 0x01, irq.level);
        try testing.expectEqual(irq.level, uart.irq.level);
    }
    try testing.expect(uart.bad_accesses > 0);
    try testing.expect(sink.total > 0);
}
