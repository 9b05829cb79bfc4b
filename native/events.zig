//! The one channel from native code to TypeScript. Devices and the timer thread post small
//! fixed-size events into a bounded ring; TypeScript takes them with one call,
//! `vmctl_vm_events_wait`, made nonblocking through Deno's FFI: it parks on a thread of Deno's
//! blocking pool until there is something to read or the channel closes, and TypeScript awaits
//! its promise. No polling loop in TypeScript, no busy calls. (Deno cannot await an arbitrary
//! file descriptor's readability, so a pipe or eventfd would park a pool thread all the same.)
//!
//! Closing wakes the reader and waits until it has left, so the VM can be freed right after.
const std = @import("std");

/// What happened; lib/native.ts `EventKind` has the same values.
pub const Kind = enum(u32) {
    /// The screen may have changed since the last such event (the screen watch, `watchScreen`).
    screen_changed = 1,
    /// COM1 wrote bytes the console tap holds (`vmctl_vm_console_read` takes them).
    console_output = 2,
};

/// One event as TypeScript reads it: 16 bytes, little endian.
pub const Event = extern struct {
    kind: Kind,
    value: u32 = 0,
    data: u64 = 0,
};

comptime {
    std.debug.assert(@sizeOf(Event) == 16);
}

/// Events the ring holds before `post` refuses more.
pub const capacity: u32 = 64;

pub const Channel = struct {
    mutex: std.Thread.Mutex = .{},
    /// Signalled when an event arrives or the channel closes.
    readable: std.Thread.Condition = .{},
    /// Signalled when the reader leaves `wait`, for `close`.
    left: std.Thread.Condition = .{},
    ring: [capacity]Event = undefined,
    first: u32 = 0,
    count: u32 = 0,
    closed: bool = false,
    readers: u32 = 0,

    /// Queues `event`; false when the ring is full or closed (the event is dropped).
    pub fn post(self: *Channel, event: Event) bool {
        self.mutex.lock();
        defer self.mutex.unlock();
        return self.push(event);
    }

    /// Queues `event` unless one of its kind is still waiting to be read: for events that say
    /// "look again", where a second copy tells the reader nothing new.
    pub fn postUnlessQueued(self: *Channel, event: Event) bool {
        self.mutex.lock();
        defer self.mutex.unlock();
        for (0..self.count) |index| {
            if (self.ring[(self.first + index) % capacity].kind == event.kind) return true;
        }
        return self.push(event);
    }

    fn push(self: *Channel, event: Event) bool {
        std.debug.assert(self.count <= capacity);
        if (self.closed or self.count == capacity) return false;
        self.ring[(self.first + self.count) % capacity] = event;
        self.count += 1;
        self.readable.signal();
        return true;
    }

    /// Blocks until at least one event is queued, then moves up to `out.len` of them, oldest
    /// first, into `out`; returns how many. Returns 0 once the channel is closed.
    pub fn wait(self: *Channel, out: []Event) usize {
        std.debug.assert(out.len > 0);
        self.mutex.lock();
        defer self.mutex.unlock();
        self.readers += 1;
        defer {
            self.readers -= 1;
            self.left.broadcast();
        }
        while (self.count == 0 and !self.closed) self.readable.wait(&self.mutex);
        if (self.closed) return 0;
        const taken: u32 = @intCast(@min(out.len, self.count));
        for (out[0..taken], 0..) |*slot, index| slot.* = self.ring[(self.first + index) % capacity];
        self.first = (self.first + taken) % capacity;
        self.count -= taken;
        return taken;
    }

    /// Ends the channel: a waiting reader returns 0 at once, later waits too, posts are
    /// dropped. Returns once no reader is inside `wait`.
    pub fn close(self: *Channel) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        self.closed = true;
        self.readable.broadcast();
        while (self.readers > 0) self.left.wait(&self.mutex);
    }
};

const testing = std.testing;

test "events come out in order, as many as fit, and the ring refuses what it cannot hold" {
    var channel: Channel = .{};
    for (0..capacity) |index| {
        try testing.expect(channel.post(.{ .kind = .screen_changed, .value = @intCast(index) }));
    }
    try testing.expect(!channel.post(.{ .kind = .screen_changed }));
    var out: [capacity - 4]Event = undefined;
    try testing.expectEqual(@as(usize, capacity - 4), channel.wait(&out));
    for (out, 0..) |event, index| try testing.expectEqual(@as(u32, @intCast(index)), event.value);
    // The ring wraps: new events follow the four left over.
    try testing.expect(channel.post(.{ .kind = .screen_changed, .value = 1000 }));
    var rest: [8]Event = undefined;
    try testing.expectEqual(@as(usize, 5), channel.wait(&rest));
    try testing.expectEqual(@as(u32, capacity - 4), rest[0].value);
    try testing.expectEqual(@as(u32, 1000), rest[4].value);
}

test "postUnlessQueued keeps one event of a kind until it is read" {
    var channel: Channel = .{};
    for (0..5) |_| try testing.expect(channel.postUnlessQueued(.{ .kind = .screen_changed }));
    var out: [8]Event = undefined;
    try testing.expectEqual(@as(usize, 1), channel.wait(&out));
    try testing.expect(channel.postUnlessQueued(.{ .kind = .screen_changed }));
    try testing.expectEqual(@as(usize, 1), channel.wait(&out));
}

test "a waiting reader wakes for an event from another thread, and close ends the wait" {
    var channel: Channel = .{};
    const Reader = struct {
        fn run(target: *Channel, result: *[2]usize) void {
            var out: [4]Event = undefined;
            result[0] = target.wait(&out);
            result[1] = target.wait(&out);
        }
    };
    var result: [2]usize = .{ 99, 99 };
    const thread = try std.Thread.spawn(.{}, Reader.run, .{ &channel, &result });
    std.time.sleep(5 * std.time.ns_per_ms);
    try testing.expect(channel.post(.{ .kind = .screen_changed }));
    // The second wait blocks until close, which returns only after the reader has left.
    while (@atomicLoad(usize, &result[0], .acquire) == 99) std.time.sleep(std.time.ns_per_ms);
    channel.close();
    thread.join();
    try testing.expectEqual([2]usize{ 1, 0 }, result);
    try testing.expect(!channel.post(.{ .kind = .screen_changed }));
    var out: [1]Event = undefined;
    try testing.expectEqual(@as(usize, 0), channel.wait(&out));
}
