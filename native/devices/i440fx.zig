//! The Intel 82441FX (i440FX) PCI and memory controller as PCI function 00:00.0: identity, and
//! the PAM and SMRAM registers firmware writes while it shadows itself into RAM. vmctl keeps
//! 0xC0000-0xFFFFF as plain RAM, so the registers are stored and have no further effect.
const std = @import("std");
const pci = @import("pci.zig");

pub const identity = pci.Identity{ .vendor_id = 0x8086, .device_id = 0x1237, .revision = 0x02, .class_code = 0x060000 };

/// PAM0-PAM6: read/write enables for the BIOS and option ROM areas.
const pam_first: u8 = 0x59;
const pam_count: u8 = 7;
/// SMRAM control.
const smram: u8 = 0x72;

pub fn init() pci.Function {
    var function = pci.Function.init(identity);
    @memset(function.writable[pam_first..][0..pam_count], 0x33);
    function.config[smram] = 0x02;
    function.writable[smram] = 0x78;
    return function;
}

test "identity and the PAM registers" {
    const function = init();
    try std.testing.expectEqual(@as(u16, 0x8086), function.get16(pci.Config.vendor_id));
    try std.testing.expectEqual(@as(u16, 0x1237), function.get16(pci.Config.device_id));
    try std.testing.expectEqual(@as(u8, 0x33), function.writable[0x5F]);
    try std.testing.expectEqual(@as(u8, 0), function.writable[0x58]);
}
