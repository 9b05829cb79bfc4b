//! The PIIX south bridge functions on slot 1, as on QEMU's pc machine: function 0 is the PIIX3
//! PCI-to-ISA bridge, whose PIRQ route registers (0x60-0x63) steer PCI INTx to ISA IRQs; function
//! 3 is the PIIX4 power-management function that owns the ACPI registers (acpi_pm.zig).
//! The PM I/O block is fixed at platform.acpi_pm (0x600): PMBA and its enable read back as
//! firmware programs them on QEMU, and writes to them are ignored.
const std = @import("std");
const pci = @import("pci.zig");

pub const isa_bridge_identity = pci.Identity{ .vendor_id = 0x8086, .device_id = 0x7000, .class_code = 0x060100 };
/// No interrupt pin: the SCI is wired to its ISA IRQ (the FADT's SCI_INT), not through INTx.
pub const power_management_identity = pci.Identity{ .vendor_id = 0x8086, .device_id = 0x7113, .revision = 0x03, .class_code = 0x068000 };

pub fn initIsaBridge() pci.Function {
    var function = pci.Function.init(isa_bridge_identity);
    // ISA bus and DMA timing and APIC/X-bus control: scratch registers to vmctl.
    @memset(function.writable[0x4C..][0..4], 0xFF);
    @memset(function.writable[0x69..][0..0x17], 0xFF);
    return function;
}

/// PMBA (0x40): the PM I/O base with bit 0 set (I/O space).
const pm_base: u8 = 0x40;
/// DEVACTB (0x58-0x5B); bit 25 is APMC_EN. Set, it tells firmware SMM is already initialised,
/// so it skips SMM setup: vmctl has no SMM.
const device_activity_b: u8 = 0x58;
const apmc_enable: u32 = 1 << 25;
/// PMREGMISC: bit 0 enables the PM I/O space.
const pm_misc: u8 = 0x80;

pub fn initPowerManagement(pm_io_base: u16, sci_irq: u8) pci.Function {
    var function = pci.Function.init(power_management_identity);
    function.put32(pm_base, @as(u32, pm_io_base) | 1);
    function.put32(device_activity_b, apmc_enable);
    function.config[pm_misc] = 1;
    function.config[pci.Config.interrupt_line] = sci_irq;
    return function;
}

test "the ISA bridge and PM function identify as PIIX3 and PIIX4" {
    const isa = initIsaBridge();
    try std.testing.expectEqual(@as(u16, 0x7000), isa.get16(pci.Config.device_id));
    const pm = initPowerManagement(0x600, 9);
    try std.testing.expectEqual(@as(u16, 0x7113), pm.get16(pci.Config.device_id));
    try std.testing.expectEqual(@as(u32, 0x601), pm.get32(pm_base));
    try std.testing.expectEqual(@as(u8, 0), pm.writable[pm_base]);
    try std.testing.expectEqual(@as(u8, 0x02), pm.config[0x5B]);
    try std.testing.expectEqual(@as(u8, 9), pm.config[pci.Config.interrupt_line]);
}
