//! fw_cfg's `bootorder`: one Open Firmware device path per line, first choice first, as QEMU
//! and vmctl (lib/firmware.ts bootPath) write them. Pure.
const std = @import("std");
const assert = std.debug.assert;

pub const Target = union(enum) {
    /// `/rom@genroms/linuxboot_dma.bin` (or linuxboot.bin): the kernel fw_cfg carries.
    linux,
    /// `/pci@i0cf8/ide@1,1/drive@C/disk@P`: PIIX IDE channel C, position P (0 master).
    ide: struct { channel: u1, position: u1 },
    /// `/pci@i0cf8/ahci@3/drive@N/disk@0`: AHCI port N.
    ahci: struct { port: u5 },
};

pub const max_targets = 16;

pub const Order = struct {
    targets: [max_targets]Target = undefined,
    count: u32 = 0,

    pub fn slice(self: *const Order) []const Target {
        return self.targets[0..self.count];
    }
};

/// Parses `text`; lines it does not know (other ROMs, devices vmctl does not have) are skipped.
pub fn parse(text: []const u8) Order {
    var order = Order{};
    var lines = std.mem.tokenizeAny(u8, text, "\n\r\x00");
    while (lines.next()) |line| {
        if (order.count == max_targets) break;
        const target = parseLine(line) orelse continue;
        order.targets[order.count] = target;
        order.count += 1;
    }
    return order;
}

fn parseLine(line: []const u8) ?Target {
    if (std.mem.startsWith(u8, line, "/rom@genroms/linuxboot")) return .linux;
    const ide_prefix = "/pci@i0cf8/ide@1,1/drive@";
    if (std.mem.startsWith(u8, line, ide_prefix)) {
        const rest = line[ide_prefix.len..];
        const channel = unitBefore(rest, "/disk@") orelse return null;
        const position_text = rest[std.mem.indexOf(u8, rest, "/disk@").? + "/disk@".len ..];
        const position = std.fmt.parseInt(u8, position_text, 16) catch return null;
        if (channel > 1 or position > 1) return null;
        return .{ .ide = .{ .channel = @intCast(channel), .position = @intCast(position) } };
    }
    const ahci_prefix = "/pci@i0cf8/ahci@3/drive@";
    if (std.mem.startsWith(u8, line, ahci_prefix)) {
        const port = unitBefore(line[ahci_prefix.len..], "/disk@") orelse return null;
        if (port > 31) return null;
        return .{ .ahci = .{ .port = @intCast(port) } };
    }
    return null;
}

/// The hexadecimal unit address before `separator`.
fn unitBefore(text: []const u8, separator: []const u8) ?u32 {
    const end = std.mem.indexOf(u8, text, separator) orelse return null;
    return std.fmt.parseInt(u32, text[0..end], 16) catch null;
}

test "vmctl's boot paths: linux, IDE and AHCI, unknown lines skipped" {
    const text =
        \\/rom@genroms/linuxboot_dma.bin
        \\/pci@i0cf8/ide@1,1/drive@1/disk@0
        \\/pci@i0cf8/isa@1/fdc@03f0/floppy@0
        \\/pci@i0cf8/ahci@3/drive@a/disk@0
        \\/pci@i0cf8/ide@1,1/drive@0/disk@1
        \\
    ;
    const order = parse(text);
    try std.testing.expectEqual(@as(u32, 4), order.count);
    try std.testing.expectEqual(Target.linux, order.targets[0]);
    try std.testing.expectEqual(Target{ .ide = .{ .channel = 1, .position = 0 } }, order.targets[1]);
    try std.testing.expectEqual(Target{ .ahci = .{ .port = 10 } }, order.targets[2]);
    try std.testing.expectEqual(Target{ .ide = .{ .channel = 0, .position = 1 } }, order.targets[3]);
}

test "garbage gives an empty order" {
    try std.testing.expectEqual(@as(u32, 0), parse("").count);
    try std.testing.expectEqual(@as(u32, 0), parse("/pci@i0cf8/ide@1,1/drive@7/disk@0\n/x").count);
    try std.testing.expectEqual(@as(u32, 0), parse("/pci@i0cf8/ahci@3/drive@zz/disk@0").count);
}
