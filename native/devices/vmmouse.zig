//! VMware's absolute pointer, "vmmouse", behind the VMware backdoor I/O port 0x5658 (as QEMU's
//! vmport and vmmouse offer it). The guest puts the backdoor's magic in EAX, a command in CX and
//! a parameter in EBX, and reads a dword from the port: the answer comes back in EAX, EBX, ECX
//! and EDX. The pointer's commands:
//!
//! - 10 get version: EAX a version, EBX the magic (a guest checks for it);
//! - 41 pointer command, EBX: enable (queues the pointer's version ID), disable, request
//!   absolute or relative packets;
//! - 40 status: EAX the number of dwords queued, or 0xFFFF0000 while disabled;
//! - 39 data, EBX dwords (1-4) taken from the queue into EAX, EBX, ECX, EDX.
//!
//! A packet is four dwords: the buttons (left 0x20, right 0x10, middle 0x08), X and Y from 0 to
//! 0xFFFF across the screen, and the wheel; vmctl only sends absolute packets. A call without
//! the magic, an unknown command or a read past the queue answers 0xFFFFFFFF in EAX and changes
//! nothing else.
const std = @import("std");

pub const port: u16 = 0x5658;
pub const magic: u32 = 0x564D_5868;
/// What the pointer's enable command queues, for the guest to check.
pub const version_id: u32 = 0x3442_554A;
/// Get version's EAX: any value but all-ones says "present".
pub const backdoor_version: u32 = 6;
pub const error_status: u32 = 0xFFFF_0000;
pub const failure: u32 = 0xFFFF_FFFF;

pub const Command = struct {
    pub const get_version: u16 = 10;
    pub const data: u16 = 39;
    pub const status: u16 = 40;
    pub const pointer: u16 = 41;
};

pub const PointerCommand = struct {
    pub const enable: u32 = 0x4541_4552;
    pub const disable: u32 = 0x0000_00F5;
    pub const request_relative: u32 = 0x4C45_5252;
    pub const request_absolute: u32 = 0x5342_4152;
};

pub const Button = struct {
    pub const left: u32 = 0x20;
    pub const right: u32 = 0x10;
    pub const middle: u32 = 0x08;
};

/// The registers a backdoor call reads and answers in (their low 32 bits).
pub const Registers = struct { eax: u32, ebx: u32, ecx: u32, edx: u32 };

pub const VmMouse = struct {
    /// Dwords the queue holds: 256 packets.
    pub const queue_capacity: u32 = 1024;
    pub const packet_dwords: u32 = 4;

    /// Guards everything below: vCPU threads and the host's pointer moves get here.
    mutex: std.Thread.Mutex = .{},
    enabled: bool = false,
    absolute: bool = false,
    queue: [queue_capacity]u32 = undefined,
    head: u32 = 0,
    count: u32 = 0,

    pub const PushResult = enum { accepted, full, disabled };

    /// Queues a pointer position (0-0xFFFF on each axis), the buttons held (bit 0 left, 1 right,
    /// 2 middle) and wheel counts; `disabled` until the guest has enabled the absolute pointer,
    /// `full` while 256 packets wait (the caller tries again later).
    pub fn pushAbsolute(self: *VmMouse, x: u16, y: u16, wheel: i8, buttons: u3) PushResult {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!self.enabled or !self.absolute) return .disabled;
        if (self.count + packet_dwords > queue_capacity) return .full;
        var status: u32 = 0;
        if (buttons & 1 != 0) status |= Button.left;
        if (buttons & 2 != 0) status |= Button.right;
        if (buttons & 4 != 0) status |= Button.middle;
        for ([_]u32{ status, x, y, @bitCast(@as(i32, wheel)) }) |dword| self.enqueue(dword);
        return .accepted;
    }

    /// One backdoor call, answered in `regs`.
    pub fn call(self: *VmMouse, regs: *Registers) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        defer assert(self.count <= queue_capacity and self.head < queue_capacity);
        if (regs.eax != magic) {
            regs.eax = failure;
            return;
        }
        switch (@as(u16, @truncate(regs.ecx))) {
            Command.get_version => {
                regs.eax = backdoor_version;
                regs.ebx = magic;
            },
            Command.status => regs.eax = if (self.enabled) self.count else error_status,
            Command.data => self.take(regs),
            Command.pointer => {
                self.pointerCommand(regs.ebx);
                regs.eax = 0;
            },
            else => regs.eax = failure,
        }
    }

    fn pointerCommand(self: *VmMouse, command: u32) void {
        switch (command) {
            PointerCommand.enable => {
                self.enabled = true;
                self.clear();
                self.enqueue(version_id);
            },
            PointerCommand.disable => {
                self.enabled = false;
                self.absolute = false;
                self.clear();
            },
            PointerCommand.request_absolute => self.absolute = true,
            PointerCommand.request_relative => self.absolute = false,
            else => {},
        }
    }

    /// Data: EBX dwords, 1 to 4, out of the queue; more than it holds is a failure.
    fn take(self: *VmMouse, regs: *Registers) void {
        const wanted = regs.ebx;
        if (!self.enabled or wanted == 0 or wanted > packet_dwords or wanted > self.count) {
            regs.eax = failure;
            return;
        }
        const out = [_]*u32{ &regs.eax, &regs.ebx, &regs.ecx, &regs.edx };
        for (out[0..wanted]) |slot| slot.* = self.dequeue();
    }

    fn enqueue(self: *VmMouse, dword: u32) void {
        assert(self.count < queue_capacity);
        self.queue[(self.head + self.count) % queue_capacity] = dword;
        self.count += 1;
    }

    fn dequeue(self: *VmMouse) u32 {
        assert(self.count > 0);
        const dword = self.queue[self.head];
        self.head = (self.head + 1) % queue_capacity;
        self.count -= 1;
        return dword;
    }

    fn clear(self: *VmMouse) void {
        self.head = 0;
        self.count = 0;
    }
};

const assert = std.debug.assert;
const testing = std.testing;

fn backdoor(mouse: *VmMouse, command: u16, parameter: u32) Registers {
    var regs = Registers{ .eax = magic, .ebx = parameter, .ecx = command, .edx = port };
    mouse.call(&regs);
    return regs;
}

test "the Linux/Xorg driver's handshake: version, enable, the ID, absolute mode" {
    var mouse = VmMouse{};
    const version = backdoor(&mouse, Command.get_version, 0);
    try testing.expectEqual(magic, version.ebx);
    try testing.expect(version.eax != failure);
    try testing.expectEqual(error_status, backdoor(&mouse, Command.status, 0).eax);
    try testing.expectEqual(VmMouse.PushResult.disabled, mouse.pushAbsolute(1, 2, 0, 0));
    _ = backdoor(&mouse, Command.pointer, PointerCommand.enable);
    try testing.expectEqual(@as(u32, 1), backdoor(&mouse, Command.status, 0).eax);
    try testing.expectEqual(version_id, backdoor(&mouse, Command.data, 1).eax);
    _ = backdoor(&mouse, Command.pointer, PointerCommand.request_absolute);
    try testing.expectEqual(VmMouse.PushResult.accepted, mouse.pushAbsolute(0xFFFF, 0x8000, -2, 0b101));
    try testing.expectEqual(@as(u32, 4), backdoor(&mouse, Command.status, 0).eax);
    const packet = backdoor(&mouse, Command.data, 4);
    try testing.expectEqual(Registers{ .eax = Button.left | Button.middle, .ebx = 0xFFFF, .ecx = 0x8000, .edx = 0xFFFF_FFFE }, packet);
    try testing.expectEqual(@as(u32, 0), backdoor(&mouse, Command.status, 0).eax);
}

test "hostile calls: no magic, unknown commands, reads past the queue, a full queue" {
    var mouse = VmMouse{};
    var regs = Registers{ .eax = 0, .ebx = 7, .ecx = Command.get_version, .edx = port };
    mouse.call(&regs);
    try testing.expectEqual(Registers{ .eax = failure, .ebx = 7, .ecx = Command.get_version, .edx = port }, regs);
    try testing.expectEqual(failure, backdoor(&mouse, 0xFFFF, 0).eax);
    try testing.expectEqual(failure, backdoor(&mouse, Command.data, 1).eax); // disabled
    _ = backdoor(&mouse, Command.pointer, PointerCommand.enable);
    _ = backdoor(&mouse, Command.pointer, PointerCommand.request_absolute);
    for ([_]u32{ 0, 2, 5, 0xFFFF_FFFF }) |wanted| try testing.expectEqual(failure, backdoor(&mouse, Command.data, wanted).eax);
    try testing.expectEqual(version_id, backdoor(&mouse, Command.data, 1).eax);
    var accepted: u32 = 0;
    while (mouse.pushAbsolute(1, 1, 0, 0) == .accepted) accepted += 1;
    try testing.expectEqual(VmMouse.queue_capacity / VmMouse.packet_dwords, accepted);
    var prng = std.Random.DefaultPrng.init(0x5658);
    const random = prng.random();
    for (0..100_000) |_| {
        var r = Registers{ .eax = if (random.boolean()) magic else random.int(u32), .ebx = random.uintLessThan(u32, 6), .ecx = random.uintLessThan(u32, 45), .edx = random.int(u32) };
        mouse.call(&r);
        if (random.uintLessThan(u8, 4) == 0) _ = mouse.pushAbsolute(random.int(u16), random.int(u16), random.int(i8), random.int(u3));
        try testing.expect(mouse.count <= VmMouse.queue_capacity);
    }
    _ = backdoor(&mouse, Command.pointer, PointerCommand.disable);
    try testing.expectEqual(error_status, backdoor(&mouse, Command.status, 0).eax);
}
