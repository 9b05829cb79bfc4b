//! The i8042 PS/2 controller with a keyboard and a mouse behind it. Data goes through port 0x60
//! (offset 0), status and controller commands through port 0x64 (offset 4). Every command is
//! handled at once, so the input buffer is never full; replies queue in a small output ring whose
//! head is what port 0x60 shows. Keys the host presses (`pushKey`) wait in their own bounded
//! queue and go out one key at a time, each only once the guest has read every byte before it,
//! encoded in the scancode set the guest uses at that moment (set 2, or set 1: selected, or set 2
//! through the controller's translation). Mouse motion the host gives (`pushMouse`) adds up
//! until the mouse may report (streaming, enabled, aux port on) and the output buffer is empty,
//! then goes out as packets of at most 255 counts an axis, three bytes, or four with the wheel
//! once the guest has knocked for the IntelliMouse (sample rates 200, 100, 80; ID 3). Keys and
//! packets take turns, so neither starves the other.
const std = @import("std");
const assert = std.debug.assert;
const device = @import("device.zig");
const IrqLine = device.IrqLine;
const MachineRequests = device.MachineRequests;

pub const I8042 = struct {
    /// Output ring size; far more than any reply (at most four bytes) needs.
    pub const queue_capacity: u8 = 32;
    /// Room injected keyboard bytes leave free, so replies to commands always fit.
    pub const reply_reserve: u8 = 8;
    /// Host key presses and releases waiting for the guest; `pushKey` refuses more.
    pub const key_capacity: u8 = 128;
    /// Offsets 0 (port 0x60) to 4 (port 0x64); 1-3 are not ours.
    pub const port_count: u16 = 5;
    pub const data_offset: u16 = 0;
    pub const command_offset: u16 = 4;

    comptime {
        assert(reply_reserve < queue_capacity);
    }

    /// Guards everything below: vCPU threads and the key injector get here.
    mutex: std.Thread.Mutex = .{},
    keyboard_irq: IrqLine,
    mouse_irq: IrqLine,
    requests: *MachineRequests,

    queue: [queue_capacity]Output = undefined,
    queue_head: u8 = 0,
    queue_count: u8 = 0,
    /// The last byte read from port 0x60, which reads again while the output buffer is empty.
    data: u8 = 0,
    /// The controller's internal RAM (commands 0x20-0x3F read it, 0x60-0x7F write it); byte 0 is
    /// the controller command byte. As a BIOS leaves it: translation, system flag, keyboard
    /// interrupt on, aux port disabled.
    ram: [32]u8 = [_]u8{ctr_translate | ctr_aux_disable | ctr_system_flag | ctr_keyboard_interrupt} ++ [_]u8{0} ** 31,
    /// The controller output port (0xD0/0xD1): bit 0 is the CPU reset line (active low), bit 1
    /// the A20 gate.
    output_port: u8 = 0x03,
    /// Status bit 3: whether the last write went to port 0x64 (a command) rather than 0x60.
    last_write_was_command: bool = false,
    /// What the next byte written to port 0x60 means.
    pending: Pending = .keyboard,
    keyboard: Keyboard = .{},
    mouse: Mouse = .{},
    keys: [key_capacity]Key = undefined,
    keys_head: u8 = 0,
    keys_count: u8 = 0,
    /// Host mouse motion and buttons not yet sent; kept across the mouse's resets.
    host_mouse: MouseMotion = .{},
    /// Whether the mouse goes first the next time both a key and motion wait.
    mouse_turn: bool = false,
    /// Says when the guest's firmware still holds many of the keys already sent in its own
    /// buffer (see `FirmwareKeys`); host keys then wait, so none overflow it.
    firmware_keys: ?FirmwareKeys = null,

    /// Reply bytes lost to a full output ring (saturating).
    dropped_bytes: u32 = 0,
    /// Accesses with the wrong width or outside ports 0x60 and 0x64 (saturating).
    bad_accesses: u32 = 0,

    const Source = enum { keyboard, aux };
    const Output = struct { byte: u8, source: Source };

    const Pending = union(enum) {
        /// Plain data: a command for the keyboard.
        keyboard,
        write_ram: u5,
        write_output_port,
        write_keyboard_output,
        write_aux_output,
        write_aux,
    };

    const status_output_full: u8 = 0x01;
    const status_system_flag: u8 = 0x04;
    const status_command: u8 = 0x08;
    /// Set when the keyboard is not inhibited (no keylock); Linux warns when it reads clear.
    const status_unlocked: u8 = 0x10;
    const status_aux_data: u8 = 0x20;

    const ctr_keyboard_interrupt: u8 = 0x01;
    const ctr_aux_interrupt: u8 = 0x02;
    const ctr_system_flag: u8 = 0x04;
    const ctr_keyboard_disable: u8 = 0x10;
    const ctr_aux_disable: u8 = 0x20;
    const ctr_translate: u8 = 0x40;

    const Command = struct {
        const read_ram_first: u8 = 0x20;
        const read_ram_last: u8 = 0x3F;
        const write_ram_first: u8 = 0x60;
        const write_ram_last: u8 = 0x7F;
        const disable_aux: u8 = 0xA7;
        const enable_aux: u8 = 0xA8;
        const test_aux: u8 = 0xA9;
        const self_test: u8 = 0xAA;
        const test_keyboard: u8 = 0xAB;
        const disable_keyboard: u8 = 0xAD;
        const enable_keyboard: u8 = 0xAE;
        const read_output_port: u8 = 0xD0;
        const write_output_port: u8 = 0xD1;
        const write_keyboard_output: u8 = 0xD2;
        const write_aux_output: u8 = 0xD3;
        const write_aux: u8 = 0xD4;
        const pulse_first: u8 = 0xF0;
    };

    const self_test_passed: u8 = 0x55;
    const interface_test_passed: u8 = 0x00;
    const output_port_reset: u8 = 0x01;

    pub fn init(keyboard_irq: IrqLine, mouse_irq: IrqLine, requests: *MachineRequests) I8042 {
        return .{ .keyboard_irq = keyboard_irq, .mouse_irq = mouse_irq, .requests = requests };
    }

    /// A BIOS takes each key from the controller at once into a small buffer (16 keys in the
    /// BIOS data area) that a boot loader empties through INT 16h at its own pace; typing faster
    /// than a slow loader reads overflows it and the BIOS drops keys. `full` looks at that
    /// buffer; while it says so, host keys wait in the controller's queue.
    pub const FirmwareKeys = struct {
        context: *anyopaque,
        fullFn: *const fn (context: *anyopaque) bool,
    };

    /// Sends what waits once the firmware's buffer has room again: INT 16h reads touch no port
    /// of ours, so the device timer asks.
    pub fn poll(self: *I8042) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (self.keys_count == 0) return;
        self.feed();
    }

    pub fn read(self: *I8042, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (data.len != 1 or (offset != data_offset and offset != command_offset)) {
            @memset(data, 0xFF);
            self.bad_accesses +|= 1;
            return;
        }
        data[0] = if (offset == data_offset) self.readData() else self.status();
        self.feed();
    }

    pub fn write(self: *I8042, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (data.len != 1 or (offset != data_offset and offset != command_offset)) {
            self.bad_accesses +|= 1;
            return;
        }
        self.last_write_was_command = offset == command_offset;
        if (offset == data_offset) self.writeData(data[0]) else self.controllerCommand(data[0]);
        self.feed();
        self.updateIrqs();
    }

    pub const PushResult = enum { accepted, full };

    /// Queues a host key press or release; `full` when `key_capacity` keys already wait (the
    /// caller tries again later: nothing is dropped). Keys wait while the guest has the
    /// keyboard disabled or not scanning.
    pub fn pushKey(self: *I8042, key: Key) PushResult {
        assert(key.valid());
        self.mutex.lock();
        defer self.mutex.unlock();
        if (self.keys_count == key_capacity) return .full;
        self.keys[(@as(u16, self.keys_head) + self.keys_count) % key_capacity] = key;
        self.keys_count += 1;
        self.feed();
        return .accepted;
    }

    /// Adds host mouse motion (`dy` up, PS/2's direction; `dz` toward the user) and sets the
    /// buttons held (bit 0 left, 1 right, 2 middle). Motion adds up to `max_motion` counts an
    /// axis while the guest is not reading; never refused.
    pub fn pushMouse(self: *I8042, dx: i32, dy: i32, dz: i32, buttons: u3) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        self.host_mouse.dx = addMotion(self.host_mouse.dx, dx);
        self.host_mouse.dy = addMotion(self.host_mouse.dy, dy);
        self.host_mouse.dz = addMotion(self.host_mouse.dz, dz);
        self.host_mouse.buttons = buttons;
        self.feed();
    }

    /// Has the mouse send a packet even without motion, as soon as it may: a vmmouse driver
    /// reads the absolute pointer when the PS/2 mouse interrupts.
    pub fn pokeMouse(self: *I8042) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        self.host_mouse.poke = true;
        self.feed();
    }

    pub const max_motion: i32 = 1 << 24;

    fn addMotion(total: i32, delta: i32) i32 {
        const sum = @as(i64, total) + delta;
        return @intCast(std.math.clamp(sum, -max_motion, max_motion));
    }

    /// Host mouse motion not yet sent, for tests and the hostile-guest checks.
    pub fn pendingMouse(self: *I8042) MouseMotion {
        self.mutex.lock();
        defer self.mutex.unlock();
        return self.host_mouse;
    }

    /// Sends a waiting key or mouse packet, taking turns when both wait.
    fn feed(self: *I8042) void {
        if (self.mouse_turn) {
            if (!self.feedMouse()) _ = self.feedKey();
        } else {
            if (!self.feedKey()) _ = self.feedMouse();
        }
    }

    /// Sends one packet of host motion once the output buffer is empty and the mouse may
    /// report; returns whether it did.
    fn feedMouse(self: *I8042) bool {
        if (self.queue_count != 0 or self.commandByte() & ctr_aux_disable != 0) return false;
        const mouse = &self.mouse;
        if (!mouse.reporting or mouse.remote_mode or mouse.awaiting != .none) return false;
        // A byte for the mouse is on its way (0xD4 written, data not yet): do not answer it.
        if (self.pending == .write_aux) return false;
        if (!mouse.hasNews(&self.host_mouse)) return false;
        var packet = Replies{};
        mouse.packet(&self.host_mouse, &packet);
        for (packet.slice()) |byte| self.enqueue(byte, .aux);
        self.mouse_turn = false;
        self.updateIrqs();
        return true;
    }

    /// Host keys still waiting, the one being sent included.
    pub fn pendingKeys(self: *I8042) u8 {
        self.mutex.lock();
        defer self.mutex.unlock();
        return self.keys_count;
    }

    /// Sends the next waiting key once the output buffer is empty and the keyboard may talk;
    /// returns whether it did.
    fn feedKey(self: *I8042) bool {
        if (self.keys_count == 0 or self.queue_count != 0) return false;
        if (self.commandByte() & ctr_keyboard_disable != 0 or !self.keyboard.scanning) return false;
        // A command's parameter byte still to come would take the key for its answer.
        if (self.keyboard.awaiting != .none) return false;
        if (self.firmware_keys) |firmware| if (firmware.fullFn(firmware.context)) return false;
        const set1 = self.keyboard.scancode_set == 1 or self.commandByte() & ctr_translate != 0;
        // Pause's release sends nothing: go on to the next key.
        while (self.keys_count > 0 and self.queue_count == 0) {
            const key = self.keys[self.keys_head];
            self.keys_head = (self.keys_head + 1) % key_capacity;
            self.keys_count -= 1;
            var bytes: KeyBytes = .{};
            if (set1) key.encodeSet1(&bytes) else key.encodeSet2(&bytes);
            assert(bytes.len <= queue_capacity);
            for (bytes.slice()) |byte| self.enqueue(byte, .keyboard);
        }
        self.mouse_turn = true;
        self.updateIrqs();
        return true;
    }

    fn commandByte(self: *const I8042) u8 {
        return self.ram[0];
    }

    fn status(self: *const I8042) u8 {
        var value: u8 = status_unlocked;
        if (self.queue_count > 0) {
            value |= status_output_full;
            if (self.queue[self.queue_head].source == .aux) value |= status_aux_data;
        }
        if (self.commandByte() & ctr_system_flag != 0) value |= status_system_flag;
        if (self.last_write_was_command) value |= status_command;
        return value;
    }

    fn readData(self: *I8042) u8 {
        if (self.queue_count == 0) return self.data;
        self.data = self.dequeue();
        // Drop both lines so that a byte already waiting behind this one makes a fresh edge.
        self.keyboard_irq.set(false);
        self.mouse_irq.set(false);
        self.updateIrqs();
        return self.data;
    }

    fn writeData(self: *I8042, byte: u8) void {
        const pending = self.pending;
        self.pending = .keyboard;
        switch (pending) {
            .keyboard => self.keyboardCommand(byte),
            .write_ram => |index| self.ram[index] = byte,
            .write_output_port => self.writeOutputPort(byte),
            .write_keyboard_output => self.enqueue(byte, .keyboard),
            .write_aux_output => self.enqueue(byte, .aux),
            .write_aux => self.mouseCommand(byte),
        }
    }

    fn controllerCommand(self: *I8042, command: u8) void {
        // A new command abandons one still waiting for its parameter byte.
        self.pending = .keyboard;
        switch (command) {
            Command.read_ram_first...Command.read_ram_last => {
                self.enqueue(self.ram[command - Command.read_ram_first], .keyboard);
            },
            Command.write_ram_first...Command.write_ram_last => {
                self.pending = .{ .write_ram = @intCast(command - Command.write_ram_first) };
            },
            Command.disable_aux => self.ram[0] |= ctr_aux_disable,
            Command.enable_aux => self.ram[0] &= ~ctr_aux_disable,
            Command.test_aux, Command.test_keyboard => self.enqueue(interface_test_passed, .keyboard),
            Command.self_test => self.enqueue(self_test_passed, .keyboard),
            Command.disable_keyboard => self.ram[0] |= ctr_keyboard_disable,
            Command.enable_keyboard => self.ram[0] &= ~ctr_keyboard_disable,
            Command.read_output_port => self.enqueue(self.output_port, .keyboard),
            Command.write_output_port => self.pending = .write_output_port,
            Command.write_keyboard_output => self.pending = .write_keyboard_output,
            Command.write_aux_output => self.pending = .write_aux_output,
            Command.write_aux => self.pending = .write_aux,
            // Pulse the output lines whose bits are clear; line 0 is the CPU reset.
            Command.pulse_first...0xFF => if (command & output_port_reset == 0) {
                self.requests.request(.reset);
            },
            else => {}, // vendor commands: ignored
        }
    }

    fn writeOutputPort(self: *I8042, byte: u8) void {
        self.output_port = byte;
        if (byte & output_port_reset == 0) self.requests.request(.reset);
    }

    fn keyboardCommand(self: *I8042, byte: u8) void {
        var replies = Replies{};
        self.keyboard.command(byte, &replies);
        for (replies.slice()) |reply| self.enqueue(reply, .keyboard);
    }

    fn mouseCommand(self: *I8042, byte: u8) void {
        var replies = Replies{};
        self.mouse.command(byte, &self.host_mouse, &replies);
        for (replies.slice()) |reply| self.enqueue(reply, .aux);
    }

    fn enqueue(self: *I8042, byte: u8, source: Source) void {
        if (self.queue_count == queue_capacity) {
            self.dropped_bytes +|= 1;
            return;
        }
        const tail = (self.queue_head + self.queue_count) % queue_capacity;
        self.queue[tail] = .{ .byte = byte, .source = source };
        self.queue_count += 1;
    }

    fn dequeue(self: *I8042) u8 {
        assert(self.queue_count > 0);
        const byte = self.queue[self.queue_head].byte;
        self.queue_head = (self.queue_head + 1) % queue_capacity;
        self.queue_count -= 1;
        return byte;
    }

    /// IRQ 1 is raised while a keyboard byte waits in the output buffer, IRQ 12 while an aux
    /// byte does, each only if the command byte enables it.
    fn updateIrqs(self: *I8042) void {
        var keyboard = false;
        var aux = false;
        if (self.queue_count > 0) {
            const ctr = self.commandByte();
            switch (self.queue[self.queue_head].source) {
                .keyboard => keyboard = ctr & ctr_keyboard_interrupt != 0,
                .aux => aux = ctr & ctr_aux_interrupt != 0,
            }
        }
        self.keyboard_irq.set(keyboard);
        self.mouse_irq.set(aux);
    }

    fn checkInvariants(self: *const I8042) void {
        assert(self.queue_count <= queue_capacity);
        assert(self.queue_head < queue_capacity);
        assert(self.keys_count <= key_capacity);
        assert(self.keys_head < key_capacity);
        for ([_]i32{ self.host_mouse.dx, self.host_mouse.dy, self.host_mouse.dz }) |axis| {
            assert(axis >= -max_motion and axis <= max_motion);
        }
        assert(!(self.keyboard_irq.level and self.mouse_irq.level));
        if (self.queue_count == 0) assert(!self.keyboard_irq.level and !self.mouse_irq.level);
    }
};

/// A key the host presses or releases, as lib/keys.ts packs it: the key's make code in scancode
/// sets 1 and 2 and how it is sent.
pub const Key = packed struct(u32) {
    set1: u8,
    set2: u8,
    kind: Kind,
    released: bool,
    reserved: u13 = 0,

    pub const Kind = enum(u2) {
        /// One make code; the break code follows set 1's or set 2's rule.
        plain = 0,
        /// Preceded by 0xE0 (the arrows, the right-hand modifiers, the keypad's Enter, ...).
        extended = 1,
        /// Pause: one sequence on press, nothing on release; the codes are fixed.
        pause = 2,
        /// Print Screen: a fake left shift around the extended code 0x37 / 0x7C.
        print_screen = 3,
    };

    /// Whether the codes can be sent: make codes below 0x80 in set 1, and no prefix byte.
    pub fn valid(self: Key) bool {
        if (self.reserved != 0) return false;
        if (self.kind == .pause or self.kind == .print_screen) return true;
        return self.set1 != 0 and self.set1 < 0x80 and self.set2 != 0 and
            self.set2 != 0xE0 and self.set2 != 0xE1 and self.set2 != 0xF0;
    }

    /// Set 1 (what the guest reads through translation, too): a release sets bit 7.
    fn encodeSet1(self: Key, out: *KeyBytes) void {
        switch (self.kind) {
            .plain, .extended => {
                if (self.kind == .extended) out.add(0xE0);
                out.add(if (self.released) self.set1 | 0x80 else self.set1);
            },
            .pause => if (!self.released) out.addAll(&.{ 0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5 }),
            .print_screen => out.addAll(if (self.released) &.{ 0xE0, 0xB7, 0xE0, 0xAA } else &.{ 0xE0, 0x2A, 0xE0, 0x37 }),
        }
    }

    /// Set 2: a release is 0xF0 before the make code (after 0xE0 for extended keys).
    fn encodeSet2(self: Key, out: *KeyBytes) void {
        switch (self.kind) {
            .plain, .extended => {
                if (self.kind == .extended) out.add(0xE0);
                if (self.released) out.add(0xF0);
                out.add(self.set2);
            },
            .pause => if (!self.released) out.addAll(&.{ 0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77 }),
            .print_screen => out.addAll(if (self.released) &.{ 0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12 } else &.{ 0xE0, 0x12, 0xE0, 0x7C }),
        }
    }
};

/// The bytes one key event becomes: at most Pause's eight.
const KeyBytes = struct {
    bytes: [8]u8 = undefined,
    len: u8 = 0,

    fn add(self: *KeyBytes, byte: u8) void {
        assert(self.len < self.bytes.len);
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    fn addAll(self: *KeyBytes, bytes: []const u8) void {
        for (bytes) |byte| self.add(byte);
    }

    fn slice(self: *const KeyBytes) []const u8 {
        return self.bytes[0..self.len];
    }
};

/// The bytes a PS/2 device sends back for one command byte.
const Replies = struct {
    /// The longest: remote mode's read data, an acknowledgement and a four-byte packet.
    bytes: [5]u8 = undefined,
    len: u8 = 0,

    fn add(self: *Replies, byte: u8) void {
        assert(self.len < self.bytes.len);
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    fn slice(self: *const Replies) []const u8 {
        return self.bytes[0..self.len];
    }
};

const ack: u8 = 0xFA;
const resend: u8 = 0xFE;
const self_test_ok: u8 = 0xAA;

/// An MF2 keyboard as far as its command set goes.
const Keyboard = struct {
    /// Whether keys are reported (0xF4 enables, 0xF5 disables).
    scanning: bool = true,
    scancode_set: u8 = 2,
    leds: u8 = 0,
    /// Typematic rate and delay; 0x2B (10.9 characters/s after 500 ms) is the default.
    typematic: u8 = default_typematic,
    /// Which command's parameter byte comes next, if any.
    awaiting: Parameter = .none,

    const Parameter = enum { none, leds, typematic, scancode_set };
    const default_typematic: u8 = 0x2B;

    const set_leds: u8 = 0xED;
    const echo: u8 = 0xEE;
    const select_scancode_set: u8 = 0xF0;
    const identify: u8 = 0xF2;
    const set_typematic: u8 = 0xF3;
    const enable_scanning: u8 = 0xF4;
    const disable_scanning: u8 = 0xF5;
    const set_defaults: u8 = 0xF6;
    const reset: u8 = 0xFF;
    const id = [2]u8{ 0xAB, 0x83 };

    fn command(self: *Keyboard, byte: u8, replies: *Replies) void {
        const awaiting = self.awaiting;
        self.awaiting = .none;
        switch (awaiting) {
            .none => self.newCommand(byte, replies),
            .leds => {
                self.leds = byte & 0x07;
                replies.add(ack);
            },
            .typematic => {
                self.typematic = byte & 0x7F;
                replies.add(ack);
            },
            .scancode_set => self.scancodeSet(byte, replies),
        }
    }

    fn newCommand(self: *Keyboard, byte: u8, replies: *Replies) void {
        switch (byte) {
            set_leds => self.acknowledgeAndAwait(.leds, replies),
            echo => replies.add(echo),
            select_scancode_set => self.acknowledgeAndAwait(.scancode_set, replies),
            identify => {
                replies.add(ack);
                replies.add(id[0]);
                replies.add(id[1]);
            },
            set_typematic => self.acknowledgeAndAwait(.typematic, replies),
            enable_scanning => {
                self.scanning = true;
                replies.add(ack);
            },
            disable_scanning => {
                self.setDefaults();
                self.scanning = false;
                replies.add(ack);
            },
            set_defaults => {
                self.setDefaults();
                replies.add(ack);
            },
            reset => {
                self.* = .{};
                replies.add(ack);
                replies.add(self_test_ok);
            },
            else => replies.add(resend),
        }
    }

    fn acknowledgeAndAwait(self: *Keyboard, parameter: Parameter, replies: *Replies) void {
        self.awaiting = parameter;
        replies.add(ack);
    }

    /// 0xF0's parameter: 0 asks for the current set, 1-3 select one.
    fn scancodeSet(self: *Keyboard, byte: u8, replies: *Replies) void {
        switch (byte) {
            0 => {
                replies.add(ack);
                replies.add(self.scancode_set);
            },
            1...3 => {
                self.scancode_set = byte;
                replies.add(ack);
            },
            else => replies.add(resend),
        }
    }

    fn setDefaults(self: *Keyboard) void {
        self.typematic = default_typematic;
        self.leds = 0;
    }
};

/// Host mouse motion and buttons waiting to be sent.
pub const MouseMotion = struct {
    /// Right.
    dx: i32 = 0,
    /// Up, as PS/2 counts it.
    dy: i32 = 0,
    /// The wheel, toward the user.
    dz: i32 = 0,
    /// Held now: bit 0 left, 1 right, 2 middle.
    buttons: u3 = 0,
    /// A packet is wanted even if nothing moved (`pokeMouse`).
    poke: bool = false,
};

/// A PS/2 mouse: device ID 0, or 3 (IntelliMouse: a wheel in a fourth packet byte) once the
/// guest has set the sample rates 200, 100 and 80 in a row.
const Mouse = struct {
    /// Data reporting in stream mode (0xF4/0xF5).
    reporting: bool = false,
    remote_mode: bool = false,
    scaling_2to1: bool = false,
    /// Counts per millimetre as 0-3 (1, 2, 4, 8).
    resolution: u8 = 2,
    /// Reports per second.
    sample_rate: u8 = 100,
    awaiting: Parameter = .none,
    /// The last three sample rates set, newest last: the IntelliMouse knock.
    rates: [3]u8 = .{ 0, 0, 0 },
    /// ID 3: packets carry the wheel. Only a reset (0xFF) ends it.
    wheel: bool = false,
    /// The buttons the last packet reported.
    reported_buttons: u3 = 0,

    const Parameter = enum { none, resolution, sample_rate };

    const set_scaling_1to1: u8 = 0xE6;
    const set_scaling_2to1: u8 = 0xE7;
    const set_resolution: u8 = 0xE8;
    const status_request: u8 = 0xE9;
    const set_stream_mode: u8 = 0xEA;
    const read_data: u8 = 0xEB;
    const set_remote_mode: u8 = 0xF0;
    const get_id: u8 = 0xF2;
    const set_sample_rate: u8 = 0xF3;
    const enable_reporting: u8 = 0xF4;
    const disable_reporting: u8 = 0xF5;
    const set_defaults: u8 = 0xF6;
    const reset: u8 = 0xFF;
    const standard_id: u8 = 0x00;
    const wheel_id: u8 = 0x03;
    const wheel_knock = [3]u8{ 200, 100, 80 };

    const status_remote: u8 = 0x40;
    const status_enabled: u8 = 0x20;
    const status_scaling: u8 = 0x10;

    const packet_always_one: u8 = 0x08;
    const packet_x_negative: u8 = 0x10;
    const packet_y_negative: u8 = 0x20;

    fn command(self: *Mouse, byte: u8, motion: *MouseMotion, replies: *Replies) void {
        const awaiting = self.awaiting;
        self.awaiting = .none;
        switch (awaiting) {
            .none => self.newCommand(byte, motion, replies),
            .resolution => self.resolution = byte & 0x03,
            .sample_rate => {
                self.sample_rate = byte;
                self.rates = .{ self.rates[1], self.rates[2], byte };
                if (std.mem.eql(u8, &self.rates, &wheel_knock)) self.wheel = true;
            },
        }
        if (awaiting != .none) replies.add(ack);
    }

    fn newCommand(self: *Mouse, byte: u8, motion: *MouseMotion, replies: *Replies) void {
        switch (byte) {
            set_scaling_1to1 => self.scaling_2to1 = false,
            set_scaling_2to1 => self.scaling_2to1 = true,
            set_resolution => self.awaiting = .resolution,
            set_stream_mode => self.remote_mode = false,
            set_remote_mode => self.remote_mode = true,
            set_sample_rate => self.awaiting = .sample_rate,
            enable_reporting => self.reporting = true,
            disable_reporting => self.reporting = false,
            set_defaults => self.* = .{ .wheel = self.wheel },
            status_request, get_id, reset, read_data => {},
            else => {
                replies.add(resend);
                return;
            },
        }
        replies.add(ack);
        switch (byte) {
            status_request => {
                replies.add(self.statusByte(motion.buttons));
                replies.add(self.resolution);
                replies.add(self.sample_rate);
            },
            get_id => replies.add(if (self.wheel) wheel_id else standard_id),
            reset => {
                self.* = .{};
                replies.add(self_test_ok);
                replies.add(standard_id);
            },
            // Remote mode's poll: a packet whether or not anything moved.
            read_data => self.packet(motion, replies),
            else => {},
        }
    }

    /// Whether a packet has something to say: motion, or buttons that changed.
    fn hasNews(self: *const Mouse, motion: *MouseMotion) bool {
        // Without the wheel protocol the guest cannot be told about the wheel.
        if (!self.wheel) motion.dz = 0;
        return motion.poke or motion.dx != 0 or motion.dy != 0 or motion.dz != 0 or
            motion.buttons != self.reported_buttons;
    }

    /// Takes one packet's worth of `motion` into `out`: X and Y are 9-bit two's complement
    /// (sign in the first byte), the wheel a signed 4-bit count.
    fn packet(self: *Mouse, motion: *MouseMotion, out: *Replies) void {
        const dx = std.math.clamp(motion.dx, -256, 255);
        const dy = std.math.clamp(motion.dy, -256, 255);
        motion.dx -= dx;
        motion.dy -= dy;
        var first: u8 = packet_always_one | @as(u8, motion.buttons);
        if (dx < 0) first |= packet_x_negative;
        if (dy < 0) first |= packet_y_negative;
        out.add(first);
        out.add(@truncate(@as(u32, @bitCast(dx))));
        out.add(@truncate(@as(u32, @bitCast(dy))));
        if (self.wheel) {
            const dz = std.math.clamp(motion.dz, -8, 7);
            motion.dz -= dz;
            out.add(@truncate(@as(u32, @bitCast(dz))));
        }
        self.reported_buttons = motion.buttons;
        motion.poke = false;
    }

    /// First byte of the 0xE9 reply: mode bits, then the buttons (left bit 2, middle bit 1,
    /// right bit 0).
    fn statusByte(self: *const Mouse, buttons: u3) u8 {
        var value: u8 = 0;
        if (self.remote_mode) value |= status_remote;
        if (self.reporting) value |= status_enabled;
        if (self.scaling_2to1) value |= status_scaling;
        if (buttons & 1 != 0) value |= 0x04;
        if (buttons & 4 != 0) value |= 0x02;
        if (buttons & 2 != 0) value |= 0x01;
        return value;
    }
};

const testing = std.testing;
const IrqRecorder = device.IrqRecorder;

const Rig = struct {
    keyboard_irq: IrqRecorder = .{},
    mouse_irq: IrqRecorder = .{},
    requests: MachineRequests = .{},
    controller: I8042 = undefined,

    fn setUp(rig: *Rig) void {
        rig.controller = I8042.init(rig.keyboard_irq.line(1), rig.mouse_irq.line(12), &rig.requests);
    }

    fn status(rig: *Rig) u8 {
        var data = [1]u8{0};
        rig.controller.read(4, &data);
        return data[0];
    }

    fn readData(rig: *Rig) u8 {
        var data = [1]u8{0};
        rig.controller.read(0, &data);
        return data[0];
    }

    fn command(rig: *Rig, byte: u8) void {
        rig.controller.write(4, &[1]u8{byte});
    }

    fn writeData(rig: *Rig, byte: u8) void {
        rig.controller.write(0, &[1]u8{byte});
    }

    /// Reads every queued byte, checking each is flagged as coming from `aux` or not.
    fn expectReplies(rig: *Rig, expected: []const u8, aux: bool) !void {
        for (expected) |byte| {
            const status_value = rig.status();
            try testing.expect(status_value & 0x01 != 0);
            try testing.expectEqual(aux, status_value & 0x20 != 0);
            try testing.expectEqual(byte, rig.readData());
        }
        try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    }
};

test "Linux i8042 probe: flush, self test, command byte, aux loop, interrupt delivery" {
    var rig = Rig{};
    rig.setUp();

    // Flush: nothing waiting; the keylock bit reads as unlocked and the system flag is set.
    try testing.expectEqual(@as(u8, 0x14), rig.status());
    rig.command(0xAA);
    try testing.expectEqual(@as(u8, 0x1D), rig.status()); // OBF | SYS | A2 | unlocked
    try testing.expectEqual(@as(u8, 0x55), rig.readData());
    try testing.expect(rig.keyboard_irq.rises > 0); // keyboard interrupts were on

    rig.command(0x20);
    try rig.expectReplies(&.{0x65}, false);
    // Disable the keyboard and its interrupt while probing, as Linux does.
    rig.command(0x60);
    rig.writeData(0x74);
    try testing.expectEqual(@as(u8, 0x00), rig.status() & 0x08); // data write clears A2
    rig.command(0x20);
    try rig.expectReplies(&.{0x74}, false);

    // AUX loopback: the byte comes back marked as aux data.
    rig.command(0xD3);
    rig.writeData(0x5A);
    try rig.expectReplies(&.{0x5A}, true);
    try testing.expectEqual(@as(u32, 0), rig.mouse_irq.rises); // aux interrupt still off

    // Toggle the aux port and read the command byte back each time.
    rig.command(0xA7);
    rig.command(0x20);
    try rig.expectReplies(&.{0x74}, false);
    rig.command(0xA8);
    rig.command(0x20);
    try rig.expectReplies(&.{0x54}, false);

    // With AUXINT set, the loopback byte raises IRQ 12 and reading it lowers it.
    rig.command(0x60);
    rig.writeData(0x56);
    rig.command(0xD3);
    rig.writeData(0xA5);
    try testing.expect(rig.mouse_irq.level);
    try testing.expect(!rig.keyboard_irq.level);
    try testing.expectEqual(@as(u8, 0xA5), rig.readData());
    try testing.expect(!rig.mouse_irq.level);

    // Interface tests.
    rig.command(0xAB);
    rig.command(0xA9);
    try rig.expectReplies(&.{ 0x00, 0x00 }, false);
    try testing.expectEqual(MachineRequests.Request.none, rig.requests.get());
}

test "keyboard reset and identify through port 0x60, each byte its own interrupt edge" {
    var rig = Rig{};
    rig.setUp();

    rig.writeData(0xFF);
    try testing.expect(rig.keyboard_irq.level);
    const rises = rig.keyboard_irq.rises;
    try testing.expectEqual(@as(u8, 0xFA), rig.readData());
    try testing.expect(rig.keyboard_irq.level);
    try testing.expectEqual(rises + 1, rig.keyboard_irq.rises);
    try testing.expectEqual(@as(u8, 0xAA), rig.readData());
    try testing.expect(!rig.keyboard_irq.level);

    rig.writeData(0xF2);
    try rig.expectReplies(&.{ 0xFA, 0xAB, 0x83 }, false);
    rig.writeData(0xED);
    rig.writeData(0x07);
    try rig.expectReplies(&.{ 0xFA, 0xFA }, false);
    try testing.expectEqual(@as(u8, 7), rig.controller.keyboard.leds);
    rig.writeData(0xF3);
    rig.writeData(0x00);
    try rig.expectReplies(&.{ 0xFA, 0xFA }, false);
    rig.writeData(0xF0);
    rig.writeData(0x00);
    try rig.expectReplies(&.{ 0xFA, 0xFA, 0x02 }, false);
    rig.writeData(0xF0);
    rig.writeData(0x01);
    rig.writeData(0xF0);
    rig.writeData(0x00);
    try rig.expectReplies(&.{ 0xFA, 0xFA, 0xFA, 0xFA, 0x01 }, false);
    rig.writeData(0xF0);
    rig.writeData(0x09);
    try rig.expectReplies(&.{ 0xFA, 0xFE }, false);
    rig.writeData(0xEE);
    rig.writeData(0x12);
    try rig.expectReplies(&.{ 0xEE, 0xFE }, false);
    rig.writeData(0xF5);
    rig.writeData(0xF6);
    rig.writeData(0xF4);
    try rig.expectReplies(&.{ 0xFA, 0xFA, 0xFA }, false);
    // An empty output buffer reads the last byte again.
    try testing.expectEqual(@as(u8, 0xFA), rig.readData());
}

test "mouse commands through 0xD4" {
    var rig = Rig{};
    rig.setUp();
    rig.command(0xA8);
    rig.command(0x60);
    rig.writeData(0x47); // both interrupts, aux enabled

    const Exchange = struct { send: []const u8, expect: []const u8 };
    const exchanges = [_]Exchange{
        .{ .send = &.{0xFF}, .expect = &.{ 0xFA, 0xAA, 0x00 } },
        .{ .send = &.{0xF2}, .expect = &.{ 0xFA, 0x00 } },
        .{ .send = &.{ 0xF3, 0xC8 }, .expect = &.{ 0xFA, 0xFA } },
        .{ .send = &.{ 0xE8, 0x03 }, .expect = &.{ 0xFA, 0xFA } },
        .{ .send = &.{0xE7}, .expect = &.{0xFA} },
        .{ .send = &.{0xE9}, .expect = &.{ 0xFA, 0x10, 0x03, 0xC8 } },
        .{ .send = &.{0xE6}, .expect = &.{0xFA} },
        .{ .send = &.{0xF4}, .expect = &.{0xFA} },
        .{ .send = &.{0xF0}, .expect = &.{0xFA} },
        .{ .send = &.{0xE9}, .expect = &.{ 0xFA, 0x60, 0x03, 0xC8 } },
        .{ .send = &.{0xEA}, .expect = &.{0xFA} },
        .{ .send = &.{0xF6}, .expect = &.{0xFA} },
        .{ .send = &.{0xE9}, .expect = &.{ 0xFA, 0x00, 0x02, 0x64 } },
        .{ .send = &.{0xF5}, .expect = &.{0xFA} },
        .{ .send = &.{0xEB}, .expect = &.{ 0xFA, 0x08, 0x00, 0x00 } },
        .{ .send = &.{0xEC}, .expect = &.{0xFE} },
    };
    for (exchanges) |exchange| {
        for (exchange.send) |byte| {
            rig.command(0xD4);
            rig.writeData(byte);
        }
        try testing.expect(rig.mouse_irq.level);
        try rig.expectReplies(exchange.expect, true);
        try testing.expect(!rig.mouse_irq.level);
    }
    try testing.expectEqual(@as(u32, 0), rig.keyboard_irq.rises);
}

/// Reads one packet (or any bytes) the mouse sent, checking each is aux data.
fn readAux(rig: *Rig, count: usize) ![5]u8 {
    var bytes: [5]u8 = undefined;
    for (bytes[0..count]) |*byte| {
        try testing.expect(rig.status() & 0x21 == 0x21);
        byte.* = rig.readData();
    }
    return bytes;
}

fn mouseSend(rig: *Rig, bytes: []const u8) void {
    for (bytes) |byte| {
        rig.command(0xD4);
        rig.writeData(byte);
    }
}

fn enableMouse(rig: *Rig) !void {
    rig.command(0xA8);
    rig.command(0x60);
    rig.writeData(0x47);
    mouseSend(rig, &.{0xF4});
    try testing.expectEqual(@as(u8, 0xFA), (try readAux(rig, 1))[0]);
}

test "host mouse motion goes out in packets of at most 255 counts, with the buttons held" {
    var rig = Rig{};
    rig.setUp();
    // Motion before the mouse reports waits, adding up.
    rig.controller.pushMouse(200, -4, 0, 0);
    rig.controller.pushMouse(100, -6, 0, 1);
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    try enableMouse(&rig);
    try testing.expect(rig.mouse_irq.level);
    try testing.expectEqualSlices(u8, &.{ 0x29, 0xFF, 0xF6 }, (try readAux(&rig, 3))[0..3]);
    try testing.expectEqualSlices(u8, &.{ 0x09, 0x2D, 0x00 }, (try readAux(&rig, 3))[0..3]);
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    // A button released is news without motion; a large negative move takes -256 at a time.
    rig.controller.pushMouse(-300, 0, 0, 0);
    try testing.expectEqualSlices(u8, &.{ 0x18, 0x00, 0x00 }, (try readAux(&rig, 3))[0..3]);
    try testing.expectEqualSlices(u8, &.{ 0x18, 0xD4, 0x00 }, (try readAux(&rig, 3))[0..3]);
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    // Status request shows the buttons held: left is bit 2.
    rig.controller.pushMouse(0, 0, 0, 1);
    _ = try readAux(&rig, 3);
    mouseSend(&rig, &.{0xE9});
    try testing.expectEqualSlices(u8, &.{ 0xFA, 0x24, 0x02, 0x64 }, (try readAux(&rig, 4))[0..4]);
    try testing.expectEqual(@as(u32, 0), rig.controller.dropped_bytes);
}

test "the IntelliMouse knock gives ID 3 and a wheel byte; only a reset ends it" {
    var rig = Rig{};
    rig.setUp();
    try enableMouse(&rig);
    // Without the knock the wheel is dropped: nothing to send.
    rig.controller.pushMouse(0, 0, 5, 0);
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    mouseSend(&rig, &.{ 0xF3, 200, 0xF3, 100, 0xF3, 80, 0xF2 });
    try testing.expectEqualSlices(u8, &.{ 0xFA, 0xFA, 0xFA, 0xFA, 0xFA, 0xFA, 0xFA, 0x03 }, &.{
        (try readAux(&rig, 1))[0], (try readAux(&rig, 1))[0], (try readAux(&rig, 1))[0], (try readAux(&rig, 1))[0],
        (try readAux(&rig, 1))[0], (try readAux(&rig, 1))[0], (try readAux(&rig, 1))[0], (try readAux(&rig, 1))[0],
    });
    rig.controller.pushMouse(1, 1, 10, 0);
    try testing.expectEqualSlices(u8, &.{ 0x08, 0x01, 0x01, 0x07 }, (try readAux(&rig, 4))[0..4]);
    try testing.expectEqualSlices(u8, &.{ 0x08, 0x00, 0x00, 0x03 }, (try readAux(&rig, 4))[0..4]);
    rig.controller.pushMouse(0, 0, -9, 0);
    try testing.expectEqualSlices(u8, &.{ 0x08, 0x00, 0x00, 0xF8 }, (try readAux(&rig, 4))[0..4]);
    try testing.expectEqualSlices(u8, &.{ 0x08, 0x00, 0x00, 0xFF }, (try readAux(&rig, 4))[0..4]);
    // Set defaults keeps the wheel; reset does not.
    mouseSend(&rig, &.{ 0xF6, 0xF2 });
    try testing.expectEqualSlices(u8, &.{ 0xFA, 0xFA, 0x03 }, (try readAux(&rig, 3))[0..3]);
    mouseSend(&rig, &.{ 0xFF, 0xF2 });
    try testing.expectEqualSlices(u8, &.{ 0xFA, 0xAA, 0x00, 0xFA, 0x00 }, (try readAux(&rig, 5))[0..5]);
}

test "remote mode sends packets only when polled; a disabled aux port holds them" {
    var rig = Rig{};
    rig.setUp();
    try enableMouse(&rig);
    mouseSend(&rig, &.{0xF0});
    _ = try readAux(&rig, 1);
    rig.controller.pushMouse(3, 4, 0, 0);
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    mouseSend(&rig, &.{0xEB});
    try testing.expectEqualSlices(u8, &.{ 0xFA, 0x08, 0x03, 0x04 }, (try readAux(&rig, 4))[0..4]);
    mouseSend(&rig, &.{0xEA});
    _ = try readAux(&rig, 1);
    rig.command(0xA7); // aux port off: motion waits
    rig.controller.pushMouse(1, 0, 0, 0);
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    rig.command(0xA8);
    try testing.expectEqualSlices(u8, &.{ 0x08, 0x01, 0x00 }, (try readAux(&rig, 3))[0..3]);
}

test "keys and mouse packets take turns; neither is lost" {
    var rig = Rig{};
    rig.setUp();
    try enableMouse(&rig);
    for (0..4) |_| {
        try testing.expectEqual(I8042.PushResult.accepted, rig.controller.pushKey(key_a));
    }
    rig.controller.pushMouse(1000, 0, 0, 0);
    var keys: u32 = 0;
    var packets: u32 = 0;
    var moved: i32 = 0;
    var last_was_mouse = false;
    var alternations: u32 = 0;
    while (rig.status() & 0x01 != 0) {
        if (rig.status() & 0x20 != 0) {
            const packet = try readAux(&rig, 3);
            moved += packet[1];
            packets += 1;
            if (!last_was_mouse) alternations += 1;
            last_was_mouse = true;
        } else {
            try testing.expectEqual(@as(u8, 0x1E), rig.readData());
            keys += 1;
            if (last_was_mouse) alternations += 1;
            last_was_mouse = false;
        }
    }
    try testing.expectEqual(@as(u32, 4), keys);
    try testing.expectEqual(@as(u32, 4), packets);
    try testing.expectEqual(@as(i32, 1000), moved);
    try testing.expect(alternations >= 7);
}

test "host keys wait while the firmware's own key buffer is full, and go on when polled" {
    var rig = Rig{};
    rig.setUp();
    const Firmware = struct {
        full: bool = true,
        fn isFull(context: *anyopaque) bool {
            const self: *@This() = @ptrCast(@alignCast(context));
            return self.full;
        }
    };
    var firmware = Firmware{};
    rig.controller.firmware_keys = .{ .context = &firmware, .fullFn = Firmware.isFull };
    try testing.expectEqual(I8042.PushResult.accepted, rig.controller.pushKey(key_a));
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    rig.controller.poll();
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    firmware.full = false;
    rig.controller.poll();
    try testing.expectEqual(@as(u8, 0x1E), rig.readData());
    try testing.expectEqual(@as(u8, 0), rig.controller.pendingKeys());
}

test "reset via 0xFE, the output port and the pulse commands" {
    var rig = Rig{};
    rig.setUp();
    rig.command(0xFF); // pulses nothing
    rig.command(0xF1); // line 0 not pulsed
    try testing.expectEqual(MachineRequests.Request.none, rig.requests.get());
    rig.command(0xFE);
    try testing.expectEqual(MachineRequests.Request.reset, rig.requests.get());
    rig.requests.clear();
    rig.command(0xF0);
    try testing.expectEqual(MachineRequests.Request.reset, rig.requests.get());
    rig.requests.clear();

    rig.command(0xD0);
    try rig.expectReplies(&.{0x03}, false);
    rig.command(0xD1);
    rig.writeData(0xDF); // A20 on, reset line high
    try testing.expectEqual(MachineRequests.Request.none, rig.requests.get());
    rig.command(0xD0);
    try rig.expectReplies(&.{0xDF}, false);
    rig.command(0xD1);
    rig.writeData(0xDE);
    try testing.expectEqual(MachineRequests.Request.reset, rig.requests.get());

    // A command abandons an earlier one's parameter: 0xFE here goes to the keyboard.
    rig.requests.clear();
    rig.command(0xD1);
    rig.command(0xAE);
    rig.writeData(0xFE);
    try testing.expectEqual(MachineRequests.Request.none, rig.requests.get());
    try rig.expectReplies(&.{0xFE}, false);
}

test "keyboard echo through 0xD2, disable bits and controller RAM" {
    var rig = Rig{};
    rig.setUp();
    rig.command(0xD2);
    rig.writeData(0x1C);
    try rig.expectReplies(&.{0x1C}, false);
    rig.command(0xAD);
    rig.command(0x20);
    try rig.expectReplies(&.{0x75}, false);
    rig.command(0xAE);
    rig.command(0x7F);
    rig.writeData(0x99);
    rig.command(0x3F);
    rig.command(0x20);
    try rig.expectReplies(&.{ 0x99, 0x65 }, false);

    // With the keyboard interrupt off, replies wait silently; enabling it raises IRQ 1.
    rig.command(0x60);
    rig.writeData(0x64);
    rig.command(0xAA);
    try testing.expect(!rig.keyboard_irq.level);
    rig.command(0x60);
    rig.writeData(0x65);
    try testing.expect(rig.keyboard_irq.level);
    try rig.expectReplies(&.{0x55}, false);
}

const key_a = Key{ .set1 = 0x1E, .set2 = 0x1C, .kind = .plain, .released = false };
const key_up = Key{ .set1 = 0x48, .set2 = 0x75, .kind = .extended, .released = false };

fn released(key: Key) Key {
    var copy = key;
    copy.released = true;
    return copy;
}

test "host keys: one key at a time once the guest read the last, translated to set 1 as a BIOS leaves it" {
    var rig = Rig{};
    rig.setUp();
    for ([_]Key{ key_a, released(key_a), key_up, released(key_up) }) |key| {
        try testing.expectEqual(I8042.PushResult.accepted, rig.controller.pushKey(key));
    }
    // Only the first key's bytes are in the output buffer; the next follows the guest's read.
    try testing.expect(rig.keyboard_irq.level);
    try testing.expectEqual(@as(u8, 1), rig.controller.queue_count);
    for ([_]u8{ 0x1E, 0x9E, 0xE0, 0x48, 0xE0, 0xC8 }) |byte| {
        try testing.expectEqual(byte, rig.readData());
    }
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    try testing.expectEqual(@as(u8, 0), rig.controller.pendingKeys());
}

test "host keys in set 2 without translation, Pause and Print Screen, and in set 1" {
    var rig = Rig{};
    rig.setUp();
    rig.command(0x60);
    rig.writeData(0x05); // translation off
    const pause = Key{ .set1 = 0, .set2 = 0, .kind = .pause, .released = false };
    const print = Key{ .set1 = 0, .set2 = 0, .kind = .print_screen, .released = false };
    for ([_]Key{ key_up, released(key_up), pause, released(pause), print, released(print) }) |key| {
        _ = rig.controller.pushKey(key);
    }
    const set2 = [_]u8{ 0xE0, 0x75, 0xE0, 0xF0, 0x75, 0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77, 0xE0, 0x12, 0xE0, 0x7C, 0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12 };
    for (set2) |byte| try testing.expectEqual(byte, rig.readData());
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    // The guest selects set 1 on the keyboard itself.
    rig.writeData(0xF0);
    rig.writeData(0x01);
    try rig.expectReplies(&.{ 0xFA, 0xFA }, false);
    _ = rig.controller.pushKey(key_a);
    _ = rig.controller.pushKey(released(key_a));
    try rig.expectReplies(&.{ 0x1E, 0x9E }, false);
}

test "host keys wait while the keyboard is disabled, not scanning or owed a parameter, and are bounded" {
    var rig = Rig{};
    rig.setUp();
    rig.command(0xAD);
    _ = rig.controller.pushKey(key_a);
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    rig.command(0xAE);
    try rig.expectReplies(&.{0x1E}, false);
    rig.writeData(0xF5);
    try rig.expectReplies(&.{0xFA}, false);
    _ = rig.controller.pushKey(released(key_a));
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    // Set LEDs: the parameter byte comes before any key.
    rig.writeData(0xF4);
    rig.writeData(0xED);
    try rig.expectReplies(&.{ 0xFA, 0xFA }, false);
    rig.writeData(0x02);
    try rig.expectReplies(&.{ 0xFA, 0x9E }, false);
    // The first goes straight to the output buffer; the queue holds the rest.
    for (0..I8042.key_capacity + 1) |_| {
        try testing.expectEqual(I8042.PushResult.accepted, rig.controller.pushKey(key_a));
    }
    try testing.expectEqual(I8042.PushResult.full, rig.controller.pushKey(key_a));
    for (0..I8042.key_capacity + 1) |_| try testing.expectEqual(@as(u8, 0x1E), rig.readData());
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    try testing.expectEqual(@as(u32, 0), rig.controller.dropped_bytes);
}

test "a key pack with a prefix byte or a set-1 release code is not a key" {
    try testing.expect(key_a.valid() and key_up.valid());
    try testing.expect(!(Key{ .set1 = 0x9E, .set2 = 0x1C, .kind = .plain, .released = false }).valid());
    try testing.expect(!(Key{ .set1 = 0x1E, .set2 = 0xF0, .kind = .plain, .released = false }).valid());
    try testing.expect(!(Key{ .set1 = 0, .set2 = 0x1C, .kind = .extended, .released = false }).valid());
    try testing.expect(!@as(Key, @bitCast(@as(u32, 0x8000_1C1E))).valid());
}

test "a flood of replies fills the ring and the rest are dropped" {
    var rig = Rig{};
    rig.setUp();
    var i: u32 = 0;
    while (i < 40) : (i += 1) rig.command(0xAA);
    try testing.expectEqual(I8042.queue_capacity, rig.controller.queue_count);
    try testing.expectEqual(@as(u32, 8), rig.controller.dropped_bytes);
    i = 0;
    while (i < I8042.queue_capacity) : (i += 1) try testing.expectEqual(@as(u8, 0x55), rig.readData());
    try testing.expectEqual(@as(u8, 0), rig.status() & 0x01);
    try testing.expect(!rig.keyboard_irq.level);
}

test "wrong widths and other offsets are ignored, read as ones and counted" {
    var rig = Rig{};
    rig.setUp();
    var wide = [2]u8{ 0, 0 };
    rig.controller.read(4, &wide);
    try testing.expectEqualSlices(u8, &[2]u8{ 0xFF, 0xFF }, &wide);
    rig.controller.write(4, &[2]u8{ 0xFE, 0xFE });
    rig.controller.write(1, &[1]u8{0xFE});
    rig.controller.write(3, &[1]u8{0xFE});
    var data = [1]u8{0};
    rig.controller.read(2, &data);
    try testing.expectEqual(@as(u8, 0xFF), data[0]);
    try testing.expectEqual(MachineRequests.Request.none, rig.requests.get());
    try testing.expectEqual(@as(u32, 5), rig.controller.bad_accesses);
}

test "hostile guest: random accesses never panic and keep invariants" {
    var rig = Rig{};
    rig.setUp();
    var prng = std.Random.DefaultPrng.init(0x8042);
    const random = prng.random();
    const widths = [_]usize{ 1, 2, 4 };
    var i: u32 = 0;
    while (i < 100_000) : (i += 1) {
        const offset = random.uintLessThan(u16, I8042.port_count + 8);
        const width = widths[random.uintLessThan(usize, widths.len)];
        var data: [4]u8 = undefined;
        random.bytes(&data);
        switch (random.uintLessThan(u8, 8)) {
            0...3 => rig.controller.read(offset, data[0..width]),
            4...6 => rig.controller.write(offset, data[0..width]),
            else => if (data[3] & 1 == 0) {
                _ = rig.controller.pushKey(.{ .set1 = (data[0] & 0x7F) | 1, .set2 = 0x1C, .kind = @enumFromInt(data[1] & 3), .released = data[2] & 1 != 0 });
            } else {
                const big = std.math.maxInt(i32);
                rig.controller.pushMouse(if (data[0] & 1 == 0) big else -big, @as(i8, @bitCast(data[1])), @as(i8, @bitCast(data[2])), @truncate(data[3] >> 1));
            },
        }
        rig.controller.checkInvariants();
        try testing.expectEqual(rig.controller.keyboard_irq.level, rig.keyboard_irq.level);
        try testing.expectEqual(rig.controller.mouse_irq.level, rig.mouse_irq.level);
    }
    try testing.expect(rig.controller.bad_accesses > 0);
}
