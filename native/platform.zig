//! The PC platform's fixed addresses: every port base, IRQ line and guest-physical address that
//! more than one file needs lives here, so the wiring can be read in one place.

/// Guest-physical memory layout.
pub const memory = struct {
    /// RAM above this address is relocated above 4 GiB, leaving a hole for 32-bit MMIO (PCI, APICs).
    pub const pci_hole_start: u64 = 0xC000_0000;
    pub const high_ram_start: u64 = 0x1_0000_0000;
    /// The classic end of conventional memory; the EBDA-sized gap above it is reserved.
    pub const conventional_end: u64 = 0x9_FC00;
    /// The BIOS area (0xE0000–0xFFFFF); ACPI tables and the RSDP live here.
    pub const bios_area_start: u64 = 0xE_0000;
    pub const bios_area_end: u64 = 0x10_0000;
    /// KVM needs three pages for the TSS and one for the identity map, below 4 GiB outside RAM.
    /// They sit where QEMU puts them, below the 16 MiB that firmware images may occupy.
    pub const kvm_identity_map: u64 = 0xFEFF_C000;
    pub const kvm_tss: u64 = 0xFEFF_D000;
    pub const kvm_private_bytes: u64 = 0x4000;
    /// Where 32-bit PCI BARs end: the I/O APIC, local APIC and firmware live above.
    pub const pci_mmio_end: u64 = 0xFEC0_0000;
    pub const ioapic_base: u64 = 0xFEC0_0000;
    pub const lapic_base: u64 = 0xFEE0_0000;
};

/// Where direct Linux boot puts things in low memory.
pub const linux_boot = struct {
    pub const gdt: u64 = 0x500;
    pub const boot_params: u64 = 0x7000;
    /// PML4, PDPT and four page directories identity-map the first 4 GiB with 2 MiB pages.
    pub const page_tables: u64 = 0x9000;
    pub const cmdline: u64 = 0x2_0000;
    pub const cmdline_max_bytes: u32 = 0x1_0000;
    pub const kernel: u64 = 0x10_0000;
    pub const acpi_tables: u64 = memory.bios_area_start;
};

/// Firmware boot (SeaBIOS or any PC BIOS image): the image ends at 4 GiB, read-only, and its last
/// 128 KiB are also copied into RAM at 0xE0000, where a PC's CPU finds its BIOS after reset.
pub const firmware = struct {
    pub const image_end: u64 = 1 << 32;
    pub const max_image_bytes: u64 = 16 << 20;
    pub const min_image_bytes: u64 = 64 << 10;
    pub const low_copy_bytes: u64 = memory.bios_area_end - memory.bios_area_start;
};

/// Bus 0 as on QEMU's pc machine, so firmware and guests find what they expect where they expect it.
pub const pci = struct {
    pub const host_bridge_slot: u5 = 0;
    /// PIIX: function 0 the ISA bridge, function 3 power management (ACPI).
    pub const piix_slot: u5 = 1;
    pub const isa_bridge_function: u3 = 0;
    pub const ide_function: u3 = 1;
    pub const power_management_function: u3 = 3;
    pub const vga_slot: u5 = 2;
    /// ICH9 AHCI (SATA), where `-device ahci` lands on QEMU's pc machine.
    pub const ahci_slot: u5 = 3;
    /// Red Hat / "QEMU virtual machine": SeaBIOS recognises a QEMU-like machine by these IDs on
    /// the host bridge and then uses fw_cfg.
    pub const subsystem_vendor_id: u16 = 0x1AF4;
    pub const subsystem_id: u16 = 0x1100;
    /// The Bochs/QEMU standard VGA, which Debian's vgabios-stdvga.bin drives.
    pub const vga_vendor_id: u16 = 0x1234;
    pub const vga_device_id: u16 = 0x1111;
    pub const vga_vram_bytes: u32 = 16 << 20;
};

/// A legacy port range and its ISA interrupt line.
pub const PortDevice = struct {
    base: u16,
    len: u16,
    irq: ?u8,
};

pub const com1 = PortDevice{ .base = 0x3F8, .len = 8, .irq = 4 };
pub const cmos = PortDevice{ .base = 0x70, .len = 2, .irq = 8 };
/// The i8042 answers on 0x60 (data) and 0x64 (command/status); 0x61 belongs to the in-kernel PIT.
pub const keyboard_controller = PortDevice{ .base = 0x60, .len = 5, .irq = 1 };
pub const post_code = PortDevice{ .base = 0x80, .len = 1, .irq = null };
pub const debug_console = PortDevice{ .base = 0x402, .len = 1, .irq = null };
/// PIIX-style reset control register, a byte inside the PCI address register's dword.
pub const reset_control = PortDevice{ .base = 0xCF9, .len = 1, .irq = null };
/// PCI configuration mechanism #1: address at 0xCF8, data at 0xCFC.
pub const pci_config = PortDevice{ .base = 0xCF8, .len = 8, .irq = null };
/// The PIIX IDE controller's legacy channels: command block, control register (alternate status
/// and device control), interrupt line.
pub const ide_primary = PortDevice{ .base = 0x1F0, .len = 8, .irq = 14 };
pub const ide_primary_control = PortDevice{ .base = 0x3F6, .len = 1, .irq = null };
pub const ide_secondary = PortDevice{ .base = 0x170, .len = 8, .irq = 15 };
pub const ide_secondary_control = PortDevice{ .base = 0x376, .len = 1, .irq = null };
/// QEMU's firmware configuration device: selector, data, and DMA address.
pub const fw_cfg = PortDevice{ .base = 0x510, .len = 12, .irq = null };
/// VGA registers (0x3B0-0x3DF) and the Bochs VBE index/data pair.
pub const vga = PortDevice{ .base = 0x3B0, .len = 0x30, .irq = null };
pub const vga_dispi = PortDevice{ .base = 0x1CE, .len = 2, .irq = null };
/// ACPI fixed hardware: PM1a event block (4 bytes), PM1a control (2 bytes), PM timer (4 bytes).
pub const acpi_pm = PortDevice{ .base = 0x600, .len = 12, .irq = 9 };
pub const acpi_pm1a_event: u16 = acpi_pm.base;
pub const acpi_pm1a_control: u16 = acpi_pm.base + 4;
pub const acpi_pm_timer: u16 = acpi_pm.base + 8;
/// The value written to the reset register (0xCF9) by the FADT's RESET_REG: full reset.
pub const acpi_reset_value: u8 = 0x06;
/// SLP_TYP that the DSDT's \_S5 package announces and the PM1 control register recognises.
pub const acpi_s5_sleep_type: u3 = 5;

/// ISA IRQs are wired 1:1 to GSIs except IRQ 0, which the MADT overrides to GSI 2 (as on real PCs).
pub const gsi_timer: u32 = 2;
pub const sci_irq: u8 = 9;
pub const mouse_irq: u8 = 12;
