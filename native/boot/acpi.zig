//! ACPI tables (ACPI 6.x, chapter 5): RSDP → {RSDT, XSDT} → {FADT → {FACS, DSDT}, MADT}.
//! Enough for an OS to find the interrupt controllers and CPUs (MADT), the fixed PM hardware —
//! PM1 event/control, PM timer, reset register — (FADT), and in the DSDT how to power off
//! (\_S5), the PCI root bridge with its windows and interrupt routing, and the ISA devices.
//!
//! One builder lays every table except the RSDP out in a byte buffer, the "tables blob", with
//! each table pointer holding its target's offset in that blob and every checksum zero; a fixed
//! list says which fields are pointers and which ranges need checksums. Two outputs use it:
//! - `build` (direct boot) puts the RSDP and the blob in guest RAM, adds the blob's address to
//!   each pointer and fills in the checksums;
//! - `buildForFirmware` hands the blob and the RSDP to firmware as fw_cfg files, with a BIOS
//!   linker/loader script that tells the firmware to allocate them, patch the pointers and
//!   compute the checksums itself: SeaBIOS's way of taking ACPI tables from QEMU.
//! Sizes are computed before the first byte is written; nothing is allocated.
const std = @import("std");
const assert = std.debug.assert;
const platform = @import("../platform.zig");
const GuestMemory = @import("../memory.zig").GuestMemory;

pub const Config = struct {
    cpu_count: u32,
    pm1a_event: u16,
    pm1a_control: u16,
    pm_timer: u16,
    /// ISA IRQ (and, 1:1, GSI) of the System Control Interrupt.
    sci_irq: u8,
    reset_port: u16,
    reset_value: u8,
    /// Also where the 32-bit PCI MMIO window ends: it reaches up to just below the I/O APIC.
    ioapic_base: u32,
    lapic_base: u32,
    /// SLP_TYP for S5 (soft off), announced by \_S5 and recognised by the PM1 control register.
    s5_sleep_type: u3,
    /// First address of the 32-bit PCI MMIO window that \_SB.PCI0._CRS announces.
    pci_hole_start: u32,
    /// PCI device number of the PIIX3; its function 0, the ISA bridge, holds the PIRQ route
    /// registers that the interrupt links LNKA–LNKD read and write.
    piix_slot: u5,
    /// ISA IRQs (bit n: IRQ n) that the interrupt links may be routed to. The links offer them
    /// level-triggered, active-high and shared, and the MADT overrides them to match.
    pci_irq_mask: u16,
};

/// Local APIC IDs run 0..cpu_count-1 and the I/O APIC takes ID cpu_count; xAPIC IDs are 8-bit
/// and 0xFF is the broadcast ID, so at most 254 CPUs leave the I/O APIC a valid ID.
pub const max_cpus: u32 = 254;

pub fn configForPlatform(cpu_count: u32) Config {
    return .{
        .cpu_count = cpu_count,
        .pm1a_event = platform.acpi_pm1a_event,
        .pm1a_control = platform.acpi_pm1a_control,
        .pm_timer = platform.acpi_pm_timer,
        .sci_irq = platform.sci_irq,
        .reset_port = platform.reset_control.base,
        .reset_value = platform.acpi_reset_value,
        .ioapic_base = @intCast(platform.memory.ioapic_base),
        .lapic_base = @intCast(platform.memory.lapic_base),
        .s5_sleep_type = platform.acpi_s5_sleep_type,
        .pci_hole_start = @intCast(platform.memory.pci_hole_start),
        .piix_slot = platform.pci.piix_slot,
        // The IRQs QEMU's pc machine offers its PCI links; SeaBIOS routes PIRQA-D to 10, 10, 11, 11.
        .pci_irq_mask = (1 << 5) | (1 << 10) | (1 << 11),
    };
}

/// The byte that makes `bytes` sum to zero (mod 256) when stored in a checksum field that is
/// currently zero. Over a whole valid table it returns 0, so it also serves as the check.
pub fn checksum(bytes: []const u8) u8 {
    var sum: u8 = 0;
    for (bytes) |byte| sum +%= byte;
    return 0 -% sum;
}

/// Writes the tables into guest-physical [base, limit) and returns the RSDP's address. The RSDP
/// comes first, at `base` rounded up to 16 bytes, so with `base` in 0xE0000–0xFFFFF (as
/// `platform.linux_boot.acpi_tables` is) the legacy BIOS-area scan finds it too.
pub fn build(mem: GuestMemory, base: u64, limit: u64, config: Config) error{ OutsideGuestRam, TablesTooLarge }!u64 {
    assert(base <= limit);
    // The 32-bit table pointers (RSDT, FADT→FACS/DSDT) must be able to hold every address.
    assert(limit <= 1 << 32);
    assertValid(config);

    const placement = DirectPlacement.compute(base, config);
    if (placement.end > limit) return error.TablesTooLarge;
    const bytes = mem.slice(placement.rsdp, placement.end - placement.rsdp) orelse return error.OutsideGuestRam;
    @memset(bytes, 0);
    const rsdp = bytes[0..@sizeOf(Rsdp)];
    const tables = bytes[@intCast(placement.tables - placement.rsdp)..];
    assert(tables.len == placement.layout.size);

    writeTables(config, placement.layout, tables, rsdp);
    const script = linkScript(placement.layout);
    for (script.pointers) |pointer| addPointer(pointer.field(tables, rsdp), placement.tables);
    for (script.checksums) |sum| sum.apply(tables, rsdp);
    return placement.rsdp;
}

/// fw_cfg file names under which firmware (SeaBIOS, OVMF) looks for QEMU-style ACPI tables.
pub const fw_cfg_tables_file = "etc/acpi/tables";
pub const fw_cfg_rsdp_file = "etc/acpi/rsdp";
pub const fw_cfg_loader_file = "etc/table-loader";

/// Bytes of `rsdp_out` and `loader_out` that `buildForFirmware` fills, whatever the Config.
pub const rsdp_file_bytes: u32 = @sizeOf(Rsdp);
pub const loader_file_bytes: u32 = loader.command_bytes * loader.command_count;

/// Bytes of `tables_out` that `buildForFirmware` fills for `config`.
pub fn tablesFileBytes(config: Config) u32 {
    assertValid(config);
    return Layout.compute(config).size;
}

/// An upper bound of `tablesFileBytes` over every valid Config: a fixed buffer of this size
/// always holds the tables.
pub const tables_file_max_bytes: u32 = blk: {
    @setEvalBranchQuota(100_000);
    break :blk Layout.compute(largest_config).size;
};

/// The Config with the largest tables: most CPUs, every IRQ a link may use, the longest
/// encodings of the integers that vary.
const largest_config = blk: {
    var config = configForPlatform(max_cpus);
    config.pci_irq_mask = ~@as(u16, (1 << 0) | (1 << 2));
    config.s5_sleep_type = 7;
    break :blk config;
};

/// Used lengths of the three fw_cfg files.
pub const FirmwareTables = struct {
    /// Of `tables_out`: the file `fw_cfg_tables_file`.
    tables_len: u32,
    /// Of `rsdp_out`: the file `fw_cfg_rsdp_file`.
    rsdp_len: u32,
    /// Of `loader_out`: the file `fw_cfg_loader_file`.
    loader_len: u32,
};

/// Lays the tables out for firmware that runs QEMU's BIOS linker/loader script (SeaBIOS does,
/// before it boots anything): the RSDP goes in its own file, which the script allocates in the
/// F segment (so the legacy scan of 0xE0000–0xFFFFF finds it), and every other table in one file
/// allocated in high memory below 4 GiB. Table pointers hold offsets into the tables file; the
/// script has the firmware add the file's address to each and then compute every checksum.
/// Fails when an output buffer is shorter than the file it must hold (`tablesFileBytes`,
/// `rsdp_file_bytes`, `loader_file_bytes`).
pub fn buildForFirmware(config: Config, tables_out: []u8, rsdp_out: []u8, loader_out: []u8) error{TablesTooLarge}!FirmwareTables {
    assertValid(config);
    const layout = Layout.compute(config);
    if (tables_out.len < layout.size or rsdp_out.len < rsdp_file_bytes or loader_out.len < loader_file_bytes) {
        return error.TablesTooLarge;
    }
    const tables = tables_out[0..layout.size];
    const rsdp = rsdp_out[0..rsdp_file_bytes];
    @memset(tables, 0);
    @memset(rsdp, 0);
    writeTables(config, layout, tables, rsdp);
    writeLoaderScript(linkScript(layout), loader_out[0..loader_file_bytes]);
    return .{ .tables_len = layout.size, .rsdp_len = rsdp_file_bytes, .loader_len = loader_file_bytes };
}

fn assertValid(config: Config) void {
    assert(config.cpu_count >= 1 and config.cpu_count <= max_cpus);
    // The SCI is an ISA IRQ; 0 and 2 are the timer and the cascade.
    assert(config.sci_irq < 16 and config.sci_irq != 0 and config.sci_irq != 2);
    assert(config.pm1a_event != 0 and config.pm1a_control != 0 and config.pm_timer != 0);
    // The window starts above the BIOS area and ends below the I/O APIC.
    assert(config.pci_hole_start >= platform.memory.bios_area_end);
    assert(config.pci_hole_start < config.ioapic_base);
    // Slot 0 is the host bridge.
    assert(config.piix_slot != 0);
    assert(config.pci_irq_mask != 0 and config.pci_irq_mask & ((1 << 0) | (1 << 2)) == 0);
}

// ---------------------------------------------------------------------------------------------
// Layouts (ACPI 6.x, section 5.2). Every multi-byte field is align(1) so the extern structs have
// no padding and match the spec byte for byte; the comptime blocks check the spec's offsets.

const Header = extern struct {
    signature: [4]u8,
    length: u32 align(1),
    revision: u8,
    checksum: u8 = 0,
    oem_id: [6]u8 = "VMCTL ".*,
    oem_table_id: [8]u8 = "VMCTLPC ".*,
    oem_revision: u32 align(1) = 1,
    creator_id: [4]u8 = "VMCT".*,
    creator_revision: u32 align(1) = 1,

    const checksum_offset = 9;

    comptime {
        assert(@sizeOf(Header) == 36);
        assert(@offsetOf(Header, "checksum") == checksum_offset);
        assert(@offsetOf(Header, "oem_table_id") == 16);
        assert(@offsetOf(Header, "creator_id") == 28);
    }
};

const Rsdp = extern struct {
    signature: [8]u8 = "RSD PTR ".*,
    /// Covers the ACPI 1.0 part: the first 20 bytes.
    checksum: u8 = 0,
    oem_id: [6]u8 = "VMCTL ".*,
    revision: u8 = 2,
    /// For ACPI 1.0 consumers (and SeaBIOS versions that only read the RSDT).
    rsdt_address: u32 align(1),
    length: u32 align(1) = @sizeOf(Rsdp),
    xsdt_address: u64 align(1),
    /// Covers all 36 bytes.
    extended_checksum: u8 = 0,
    reserved: [3]u8 = .{ 0, 0, 0 },

    const v1_length = 20;

    comptime {
        assert(@sizeOf(Rsdp) == 36);
        assert(@offsetOf(Rsdp, "rsdt_address") == 16);
        assert(@offsetOf(Rsdp, "length") == 20);
        assert(@offsetOf(Rsdp, "xsdt_address") == 24);
        assert(@offsetOf(Rsdp, "extended_checksum") == 32);
    }
};

/// Generic Address Structure (5.2.3.2).
const Gas = extern struct {
    address_space_id: u8 = 0,
    register_bit_width: u8 = 0,
    register_bit_offset: u8 = 0,
    access_size: u8 = 0,
    address: u64 align(1) = 0,

    const system_io: u8 = 1;
    const access_byte: u8 = 1;
    const access_word: u8 = 2;
    const access_dword: u8 = 3;

    fn io(port: u16, bytes: u8, access_size: u8) Gas {
        return .{
            .address_space_id = system_io,
            .register_bit_width = bytes * 8,
            .access_size = access_size,
            .address = port,
        };
    }

    comptime {
        assert(@sizeOf(Gas) == 12);
    }
};

/// Fixed ACPI Description Table, revision 6 (ACPI 6.0+, Table 5.9): 276 bytes.
const Fadt = extern struct {
    header: Header,
    firmware_ctrl: u32 align(1) = 0,
    dsdt: u32 align(1) = 0,
    reserved0: u8 = 0,
    preferred_pm_profile: u8 = 0,
    sci_int: u16 align(1) = 0,
    smi_cmd: u32 align(1) = 0,
    acpi_enable: u8 = 0,
    acpi_disable: u8 = 0,
    s4bios_req: u8 = 0,
    pstate_cnt: u8 = 0,
    pm1a_evt_blk: u32 align(1) = 0,
    pm1b_evt_blk: u32 align(1) = 0,
    pm1a_cnt_blk: u32 align(1) = 0,
    pm1b_cnt_blk: u32 align(1) = 0,
    pm2_cnt_blk: u32 align(1) = 0,
    pm_tmr_blk: u32 align(1) = 0,
    gpe0_blk: u32 align(1) = 0,
    gpe1_blk: u32 align(1) = 0,
    pm1_evt_len: u8 = 0,
    pm1_cnt_len: u8 = 0,
    pm2_cnt_len: u8 = 0,
    pm_tmr_len: u8 = 0,
    gpe0_blk_len: u8 = 0,
    gpe1_blk_len: u8 = 0,
    gpe1_base: u8 = 0,
    cst_cnt: u8 = 0,
    p_lvl2_lat: u16 align(1) = 0,
    p_lvl3_lat: u16 align(1) = 0,
    flush_size: u16 align(1) = 0,
    flush_stride: u16 align(1) = 0,
    duty_offset: u8 = 0,
    duty_width: u8 = 0,
    day_alrm: u8 = 0,
    mon_alrm: u8 = 0,
    century: u8 = 0,
    iapc_boot_arch: u16 align(1) = 0,
    reserved1: u8 = 0,
    flags: u32 align(1) = 0,
    reset_reg: Gas = .{},
    reset_value: u8 = 0,
    arm_boot_arch: u16 align(1) = 0,
    fadt_minor_version: u8 = 0,
    x_firmware_ctrl: u64 align(1) = 0,
    x_dsdt: u64 align(1) = 0,
    x_pm1a_evt_blk: Gas = .{},
    x_pm1b_evt_blk: Gas = .{},
    x_pm1a_cnt_blk: Gas = .{},
    x_pm1b_cnt_blk: Gas = .{},
    x_pm2_cnt_blk: Gas = .{},
    x_pm_tmr_blk: Gas = .{},
    x_gpe0_blk: Gas = .{},
    x_gpe1_blk: Gas = .{},
    sleep_control_reg: Gas = .{},
    sleep_status_reg: Gas = .{},
    hypervisor_vendor_identity: u64 align(1) = 0,

    const revision = 6;
    const pm1_event_bytes = 4;
    const pm1_control_bytes = 2;
    const pm_timer_bytes = 4;
    /// A C2/C3 latency above 100/1000 µs means the state is not supported.
    const no_c2_latency = 101;
    const no_c3_latency = 1001;
    /// The RTC CMOS register holding the century, in the IBM PC/AT convention (cmos.zig too).
    const cmos_century_register = 0x32;

    const boot_arch_legacy_devices: u16 = 1 << 0;
    const boot_arch_8042: u16 = 1 << 1;

    const flag_wbinvd: u32 = 1 << 0;
    const flag_proc_c1: u32 = 1 << 2;
    /// Set: the power button is not a fixed-feature button (a control-method one, if any).
    const flag_pwr_button: u32 = 1 << 4;
    /// Set: likewise for the sleep button.
    const flag_slp_button: u32 = 1 << 5;
    /// The PM timer counts 32 bits, not 24.
    const flag_tmr_val_ext: u32 = 1 << 8;
    const flag_reset_reg_sup: u32 = 1 << 10;

    comptime {
        assert(@sizeOf(Fadt) == 276);
        assert(@offsetOf(Fadt, "firmware_ctrl") == 36);
        assert(@offsetOf(Fadt, "dsdt") == 40);
        assert(@offsetOf(Fadt, "sci_int") == 46);
        assert(@offsetOf(Fadt, "smi_cmd") == 48);
        assert(@offsetOf(Fadt, "pm1a_evt_blk") == 56);
        assert(@offsetOf(Fadt, "pm1a_cnt_blk") == 64);
        assert(@offsetOf(Fadt, "pm_tmr_blk") == 76);
        assert(@offsetOf(Fadt, "pm1_evt_len") == 88);
        assert(@offsetOf(Fadt, "pm_tmr_len") == 91);
        assert(@offsetOf(Fadt, "p_lvl2_lat") == 96);
        assert(@offsetOf(Fadt, "p_lvl3_lat") == 98);
        assert(@offsetOf(Fadt, "century") == 108);
        assert(@offsetOf(Fadt, "iapc_boot_arch") == 109);
        assert(@offsetOf(Fadt, "flags") == 112);
        assert(@offsetOf(Fadt, "reset_reg") == 116);
        assert(@offsetOf(Fadt, "reset_value") == 128);
        assert(@offsetOf(Fadt, "arm_boot_arch") == 129);
        assert(@offsetOf(Fadt, "fadt_minor_version") == 131);
        assert(@offsetOf(Fadt, "x_firmware_ctrl") == 132);
        assert(@offsetOf(Fadt, "x_dsdt") == 140);
        assert(@offsetOf(Fadt, "x_pm1a_evt_blk") == 148);
        assert(@offsetOf(Fadt, "x_pm1a_cnt_blk") == 172);
        assert(@offsetOf(Fadt, "x_pm_tmr_blk") == 208);
        assert(@offsetOf(Fadt, "x_gpe0_blk") == 220);
        assert(@offsetOf(Fadt, "sleep_control_reg") == 244);
        assert(@offsetOf(Fadt, "sleep_status_reg") == 256);
        assert(@offsetOf(Fadt, "hypervisor_vendor_identity") == 268);
    }
};

/// Firmware ACPI Control Structure (5.2.10): no header, no checksum, 64-byte aligned.
const Facs = extern struct {
    signature: [4]u8 = "FACS".*,
    length: u32 align(1) = @sizeOf(Facs),
    hardware_signature: u32 align(1) = 0,
    firmware_waking_vector: u32 align(1) = 0,
    global_lock: u32 align(1) = 0,
    flags: u32 align(1) = 0,
    x_firmware_waking_vector: u64 align(1) = 0,
    version: u8 = 2,
    reserved0: [3]u8 = .{ 0, 0, 0 },
    ospm_flags: u32 align(1) = 0,
    reserved1: [24]u8 = [_]u8{0} ** 24,

    const alignment = 64;

    comptime {
        assert(@sizeOf(Facs) == 64);
        assert(@offsetOf(Facs, "x_firmware_waking_vector") == 24);
        assert(@offsetOf(Facs, "version") == 32);
        assert(@offsetOf(Facs, "ospm_flags") == 36);
    }
};

/// Multiple APIC Description Table (5.2.12), revision 4 (ACPI 6.0 errata A).
const Madt = extern struct {
    header: Header,
    local_apic_address: u32 align(1),
    flags: u32 align(1),

    const revision = 4;
    /// The PC has dual 8259s, which the OS must mask when it uses the APICs.
    const flag_pcat_compat: u32 = 1 << 0;

    comptime {
        assert(@sizeOf(Madt) == 44);
    }
};

const MadtLocalApic = extern struct {
    type: u8 = 0,
    length: u8 = @sizeOf(MadtLocalApic),
    processor_uid: u8,
    apic_id: u8,
    flags: u32 align(1) = enabled,

    const enabled: u32 = 1 << 0;

    comptime {
        assert(@sizeOf(MadtLocalApic) == 8);
    }
};

const MadtIoApic = extern struct {
    type: u8 = 1,
    length: u8 = @sizeOf(MadtIoApic),
    io_apic_id: u8,
    reserved: u8 = 0,
    io_apic_address: u32 align(1),
    global_system_interrupt_base: u32 align(1),

    comptime {
        assert(@sizeOf(MadtIoApic) == 12);
    }
};

const MadtInterruptSourceOverride = extern struct {
    type: u8 = 2,
    length: u8 = @sizeOf(MadtInterruptSourceOverride),
    /// 0: ISA.
    bus: u8 = 0,
    source: u8,
    global_system_interrupt: u32 align(1),
    flags: u16 align(1),

    /// MPS INTI flags: polarity bits 1:0 = 01 (active high), trigger mode bits 3:2 = 11 (level).
    const active_high_level: u16 = 0x000D;
    /// Both fields 00: conforms to the bus (ISA: edge, active high).
    const conforming: u16 = 0;

    comptime {
        assert(@sizeOf(MadtInterruptSourceOverride) == 10);
    }
};

const MadtLocalApicNmi = extern struct {
    type: u8 = 4,
    length: u8 = @sizeOf(MadtLocalApicNmi),
    /// 0xFF: all processors.
    processor_uid: u8 = 0xFF,
    flags: u16 align(1) = 0,
    lint: u8 = 1,

    comptime {
        assert(@sizeOf(MadtLocalApicNmi) == 6);
    }
};

comptime {
    // Tables are copied out as host bytes: the host must be little-endian like the guest.
    assert(@import("builtin").cpu.arch.endian() == .little);
}

/// The tables the RSDT and XSDT list, in this order.
const root_entries = 2;
const rsdt_size = @sizeOf(Header) + root_entries * 4;
const xsdt_size = @sizeOf(Header) + root_entries * 8;
const dsdt_revision = 2; // 64-bit AML integers

/// ISA IRQs whose MADT override makes them level-triggered, active-high: the SCI and every IRQ
/// a PCI interrupt link may be routed to (as QEMU's pc machine does for 5, 9, 10 and 11).
fn levelIrqMask(config: Config) u16 {
    return config.pci_irq_mask | (@as(u16, 1) << @intCast(config.sci_irq));
}

fn madtSize(config: Config) u32 {
    // IRQ 0 → GSI 2, then one override per level-triggered IRQ.
    const overrides: u32 = 1 + @popCount(levelIrqMask(config));
    return @sizeOf(Madt) + config.cpu_count * @sizeOf(MadtLocalApic) + @sizeOf(MadtIoApic) +
        overrides * @sizeOf(MadtInterruptSourceOverride) + @sizeOf(MadtLocalApicNmi);
}

// ---------------------------------------------------------------------------------------------
// Layout of the tables blob, and the script that links it

/// Offsets in the tables blob. The FACS comes first: the blob itself is placed 64-byte aligned,
/// so the FACS is too.
const Layout = struct {
    facs: u32,
    dsdt: u32,
    dsdt_size: u32,
    fadt: u32,
    madt: u32,
    madt_size: u32,
    rsdt: u32,
    xsdt: u32,
    size: u32,

    /// How the blob itself must be aligned.
    const alignment = Facs.alignment;

    fn compute(config: Config) Layout {
        const dsdt_size = dsdtSize(config);
        const madt_size = madtSize(config);
        const facs = 0;
        const dsdt = facs + @sizeOf(Facs);
        const fadt = std.mem.alignForward(u32, dsdt + dsdt_size, 8);
        const madt = std.mem.alignForward(u32, fadt + @sizeOf(Fadt), 8);
        const rsdt = std.mem.alignForward(u32, madt + madt_size, 8);
        const xsdt = std.mem.alignForward(u32, rsdt + rsdt_size, 8);
        return .{
            .facs = facs,
            .dsdt = dsdt,
            .dsdt_size = dsdt_size,
            .fadt = fadt,
            .madt = madt,
            .madt_size = madt_size,
            .rsdt = rsdt,
            .xsdt = xsdt,
            .size = xsdt + xsdt_size,
        };
    }
};

/// Direct boot: the RSDP at `base` (16-byte aligned), the blob after it (64-byte aligned).
const DirectPlacement = struct {
    rsdp: u64,
    tables: u64,
    end: u64,
    layout: Layout,

    fn compute(base: u64, config: Config) DirectPlacement {
        const layout = Layout.compute(config);
        const rsdp = std.mem.alignForward(u64, base, 16);
        const tables = std.mem.alignForward(u64, rsdp + @sizeOf(Rsdp), Layout.alignment);
        return .{ .rsdp = rsdp, .tables = tables, .end = tables + layout.size, .layout = layout };
    }
};

const File = enum { tables, rsdp };

/// A pointer field in `file`: it holds an offset into the tables blob, to which the blob's
/// address must be added.
const Pointer = struct {
    file: File,
    offset: u32,
    size: u8,

    fn field(self: Pointer, tables: []u8, rsdp: []u8) []u8 {
        const bytes = if (self.file == .tables) tables else rsdp;
        return bytes[self.offset..][0..self.size];
    }
};

/// A checksum byte at `offset` in `file` that makes [start, start + length) sum to zero.
const Checksum = struct {
    file: File,
    offset: u32,
    start: u32,
    length: u32,

    /// What the BIOS loader's ADD_CHECKSUM does: subtract the range's sum from the field.
    fn apply(self: Checksum, tables: []u8, rsdp: []u8) void {
        const bytes = if (self.file == .tables) tables else rsdp;
        bytes[self.offset] +%= checksum(bytes[self.start..][0..self.length]);
    }

    fn ofTable(offset: u32, length: u32) Checksum {
        return .{ .file = .tables, .offset = offset + Header.checksum_offset, .start = offset, .length = length };
    }
};

/// Every pointer, then every checksum, in the order they must be applied: a checksum after
/// the pointers inside its range, the RSDP's 20-byte checksum before its extended one.
const LinkScript = struct {
    pointers: [pointer_count]Pointer,
    checksums: [checksum_count]Checksum,

    const pointer_count = 9;
    const checksum_count = 7;
};

fn linkScript(layout: Layout) LinkScript {
    const entries = @sizeOf(Header);
    return .{
        .pointers = .{
            .{ .file = .rsdp, .offset = @offsetOf(Rsdp, "rsdt_address"), .size = 4 },
            .{ .file = .rsdp, .offset = @offsetOf(Rsdp, "xsdt_address"), .size = 8 },
            .{ .file = .tables, .offset = layout.rsdt + entries, .size = 4 },
            .{ .file = .tables, .offset = layout.rsdt + entries + 4, .size = 4 },
            .{ .file = .tables, .offset = layout.xsdt + entries, .size = 8 },
            .{ .file = .tables, .offset = layout.xsdt + entries + 8, .size = 8 },
            .{ .file = .tables, .offset = layout.fadt + @offsetOf(Fadt, "firmware_ctrl"), .size = 4 },
            .{ .file = .tables, .offset = layout.fadt + @offsetOf(Fadt, "dsdt"), .size = 4 },
            .{ .file = .tables, .offset = layout.fadt + @offsetOf(Fadt, "x_dsdt"), .size = 8 },
        },
        .checksums = .{
            Checksum.ofTable(layout.dsdt, layout.dsdt_size),
            Checksum.ofTable(layout.fadt, @sizeOf(Fadt)),
            Checksum.ofTable(layout.madt, layout.madt_size),
            Checksum.ofTable(layout.rsdt, rsdt_size),
            Checksum.ofTable(layout.xsdt, xsdt_size),
            .{ .file = .rsdp, .offset = @offsetOf(Rsdp, "checksum"), .start = 0, .length = Rsdp.v1_length },
            .{ .file = .rsdp, .offset = @offsetOf(Rsdp, "extended_checksum"), .start = 0, .length = @sizeOf(Rsdp) },
        },
    };
}

/// What the BIOS loader's ADD_POINTER does: little-endian addition of `base` to the field.
fn addPointer(field: []u8, base: u64) void {
    var value: u64 = 0;
    for (field, 0..) |byte, i| value |= @as(u64, byte) << @intCast(8 * i);
    value += base;
    // Every target must be addressable through every field that points to it.
    assert(field.len == 8 or value >> @intCast(8 * field.len) == 0);
    for (field, 0..) |*byte, i| byte.* = @truncate(value >> @intCast(8 * i));
}

/// Writes every table into `tables` (laid out by `layout`) and the RSDP into `rsdp`, both
/// zeroed: pointers hold offsets into `tables`, checksums stay zero (see `linkScript`).
fn writeTables(config: Config, layout: Layout, tables: []u8, rsdp: []u8) void {
    assert(tables.len == layout.size and rsdp.len == @sizeOf(Rsdp));
    const blob = Blob{ .bytes = tables };
    blob.put(layout.facs, Facs{});
    writeDsdt(blob, layout, config);
    writeFadt(blob, layout, config);
    writeMadt(blob, layout.madt, config);
    blob.put(layout.rsdt, tableHeader("RSDT", rsdt_size, 1));
    blob.put(layout.xsdt, tableHeader("XSDT", xsdt_size, 1));
    for ([root_entries]u32{ layout.fadt, layout.madt }, 0..) |entry, i| {
        // Entries are 4- and 8-byte fields at offset 36: not naturally aligned, so written as bytes.
        const index: u32 = @intCast(i);
        std.mem.writeInt(u32, blob.at(layout.rsdt + @sizeOf(Header) + index * 4, 4)[0..4], entry, .little);
        std.mem.writeInt(u64, blob.at(layout.xsdt + @sizeOf(Header) + index * 8, 8)[0..8], entry, .little);
    }
    @memcpy(rsdp, std.mem.asBytes(&Rsdp{ .rsdt_address = layout.rsdt, .xsdt_address = layout.xsdt }));
}

/// The tables blob, addressed by offset.
const Blob = struct {
    bytes: []u8,

    fn at(self: Blob, offset: u32, len: usize) []u8 {
        return self.bytes[offset..][0..len];
    }

    fn put(self: Blob, offset: u32, value: anytype) void {
        const bytes = std.mem.asBytes(&value);
        @memcpy(self.at(offset, bytes.len), bytes);
    }
};

fn tableHeader(signature: *const [4]u8, length: u32, revision: u8) Header {
    return .{ .signature = signature.*, .length = length, .revision = revision };
}

fn writeFadt(blob: Blob, layout: Layout, config: Config) void {
    blob.put(layout.fadt, Fadt{
        .header = tableHeader("FACP", @sizeOf(Fadt), Fadt.revision),
        .firmware_ctrl = layout.facs,
        .dsdt = layout.dsdt,
        .sci_int = config.sci_irq,
        // SMI_CMD 0: the hardware is always in ACPI mode; there is no transition to request.
        .smi_cmd = 0,
        .pm1a_evt_blk = config.pm1a_event,
        .pm1a_cnt_blk = config.pm1a_control,
        .pm_tmr_blk = config.pm_timer,
        .pm1_evt_len = Fadt.pm1_event_bytes,
        .pm1_cnt_len = Fadt.pm1_control_bytes,
        .pm_tmr_len = Fadt.pm_timer_bytes,
        .p_lvl2_lat = Fadt.no_c2_latency,
        .p_lvl3_lat = Fadt.no_c3_latency,
        .century = Fadt.cmos_century_register,
        .iapc_boot_arch = Fadt.boot_arch_legacy_devices | Fadt.boot_arch_8042,
        .flags = Fadt.flag_wbinvd | Fadt.flag_proc_c1 | Fadt.flag_pwr_button |
            Fadt.flag_slp_button | Fadt.flag_tmr_val_ext | Fadt.flag_reset_reg_sup,
        .reset_reg = Gas.io(config.reset_port, 1, Gas.access_byte),
        .reset_value = config.reset_value,
        // X_FIRMWARE_CTRL must be zero when FIRMWARE_CTRL is set (ACPI 6.4, 5.2.9); the FACS
        // always sits below 4 GiB, so FIRMWARE_CTRL can hold it.
        .x_firmware_ctrl = 0,
        .x_dsdt = layout.dsdt,
        // PM1 event = status + enable, two 16-bit registers: word access throughout.
        .x_pm1a_evt_blk = Gas.io(config.pm1a_event, Fadt.pm1_event_bytes, Gas.access_word),
        .x_pm1a_cnt_blk = Gas.io(config.pm1a_control, Fadt.pm1_control_bytes, Gas.access_word),
        .x_pm_tmr_blk = Gas.io(config.pm_timer, Fadt.pm_timer_bytes, Gas.access_dword),
    });
}

fn writeMadt(blob: Blob, offset: u32, config: Config) void {
    const size = madtSize(config);
    blob.put(offset, Madt{
        .header = tableHeader("APIC", size, Madt.revision),
        .local_apic_address = config.lapic_base,
        .flags = Madt.flag_pcat_compat,
    });
    var cursor = offset + @sizeOf(Madt);
    for (0..config.cpu_count) |cpu| {
        const id: u8 = @intCast(cpu);
        blob.put(cursor, MadtLocalApic{ .processor_uid = id, .apic_id = id });
        cursor += @sizeOf(MadtLocalApic);
    }
    blob.put(cursor, MadtIoApic{
        .io_apic_id = @intCast(config.cpu_count),
        .io_apic_address = config.ioapic_base,
        .global_system_interrupt_base = 0,
    });
    cursor += @sizeOf(MadtIoApic);
    // The PIT's IRQ 0 arrives at I/O APIC pin 2, as on real PCs (pin 0 is the 8259 cascade).
    blob.put(cursor, MadtInterruptSourceOverride{
        .source = 0,
        .global_system_interrupt = platform.gsi_timer,
        .flags = MadtInterruptSourceOverride.conforming,
    });
    cursor += @sizeOf(MadtInterruptSourceOverride);
    // The SCI and the PCI link IRQs are level-triggered, active high: our devices drive the line
    // high while an interrupt is pending, and PCI devices share these lines.
    const level = levelIrqMask(config);
    for (0..16) |irq| {
        if (level & (@as(u16, 1) << @intCast(irq)) == 0) continue;
        blob.put(cursor, MadtInterruptSourceOverride{
            .source = @intCast(irq),
            .global_system_interrupt = @intCast(irq),
            .flags = MadtInterruptSourceOverride.active_high_level,
        });
        cursor += @sizeOf(MadtInterruptSourceOverride);
    }
    blob.put(cursor, MadtLocalApicNmi{});
    cursor += @sizeOf(MadtLocalApicNmi);
    assert(cursor == offset + size);
}

// ---------------------------------------------------------------------------------------------
// BIOS linker/loader script (QEMU hw/acpi/bios-linker-loader.c, as SeaBIOS's
// src/fw/romfile_loader.c runs it): "etc/table-loader" is an array of 128-byte little-endian
// commands, each a u32 command number and a command-specific body:
//
//   ALLOCATE (1):     file[56] @4, align u32 @60, zone u8 @64 (1 high memory, 2 F segment).
//                     Loads the fw_cfg file into memory of that zone; must come before any
//                     command that names the file.
//   ADD_POINTER (2):  dest_file[56] @4, src_file[56] @60, offset u32 @116, size u8 @120.
//                     Adds src_file's address to the size-byte (1, 2, 4, 8) little-endian
//                     value at dest_file+offset, which holds an offset into src_file.
//   ADD_CHECKSUM (3): file[56] @4, offset u32 @60, start u32 @64, length u32 @68.
//                     Subtracts the byte sum of file[start, start+length) from file[offset].
//
// File names are NUL-terminated within their 56 bytes (FW_CFG_MAX_FILE_PATH); unused bytes are 0.

const loader = struct {
    const command_bytes = 128;
    const file_name_bytes = 56;
    /// Two ALLOCATEs, then the link script's pointers and checksums.
    const command_count = 2 + LinkScript.pointer_count + LinkScript.checksum_count;

    const allocate: u32 = 1;
    const add_pointer: u32 = 2;
    const add_checksum: u32 = 3;

    /// Memory below 4 GiB.
    const zone_high: u8 = 1;
    /// The F segment (0xF0000–0xFFFFF), where the legacy RSDP scan looks.
    const zone_fseg: u8 = 2;
    const rsdp_alignment = 16;

    const Allocate = extern struct {
        command: u32 align(1) = allocate,
        file: [file_name_bytes]u8,
        alignment: u32 align(1),
        zone: u8,
        unused: [63]u8 = @splat(0),
    };

    const AddPointer = extern struct {
        command: u32 align(1) = add_pointer,
        dest_file: [file_name_bytes]u8,
        src_file: [file_name_bytes]u8,
        offset: u32 align(1),
        size: u8,
        unused: [7]u8 = @splat(0),
    };

    const AddChecksum = extern struct {
        command: u32 align(1) = add_checksum,
        file: [file_name_bytes]u8,
        offset: u32 align(1),
        start: u32 align(1),
        length: u32 align(1),
        unused: [56]u8 = @splat(0),
    };

    comptime {
        assert(@sizeOf(Allocate) == command_bytes);
        assert(@offsetOf(Allocate, "file") == 4);
        assert(@offsetOf(Allocate, "alignment") == 60);
        assert(@offsetOf(Allocate, "zone") == 64);
        assert(@sizeOf(AddPointer) == command_bytes);
        assert(@offsetOf(AddPointer, "dest_file") == 4);
        assert(@offsetOf(AddPointer, "src_file") == 60);
        assert(@offsetOf(AddPointer, "offset") == 116);
        assert(@offsetOf(AddPointer, "size") == 120);
        assert(@sizeOf(AddChecksum) == command_bytes);
        assert(@offsetOf(AddChecksum, "file") == 4);
        assert(@offsetOf(AddChecksum, "offset") == 60);
        assert(@offsetOf(AddChecksum, "start") == 64);
        assert(@offsetOf(AddChecksum, "length") == 68);
    }

    fn fileName(file: File) [file_name_bytes]u8 {
        const name = switch (file) {
            .tables => fw_cfg_tables_file,
            .rsdp => fw_cfg_rsdp_file,
        };
        comptime assert(fw_cfg_tables_file.len < file_name_bytes and fw_cfg_rsdp_file.len < file_name_bytes);
        var field: [file_name_bytes]u8 = @splat(0);
        @memcpy(field[0..name.len], name);
        return field;
    }
};

fn writeLoaderScript(script: LinkScript, out: []u8) void {
    assert(out.len == loader_file_bytes);
    var cursor: usize = 0;
    const put = struct {
        fn command(dest: []u8, at: *usize, value: anytype) void {
            comptime assert(@sizeOf(@TypeOf(value)) == loader.command_bytes);
            @memcpy(dest[at.*..][0..loader.command_bytes], std.mem.asBytes(&value));
            at.* += loader.command_bytes;
        }
    };
    put.command(out, &cursor, loader.Allocate{
        .file = loader.fileName(.tables),
        .alignment = Layout.alignment,
        .zone = loader.zone_high,
    });
    put.command(out, &cursor, loader.Allocate{
        .file = loader.fileName(.rsdp),
        .alignment = loader.rsdp_alignment,
        .zone = loader.zone_fseg,
    });
    for (script.pointers) |pointer| {
        put.command(out, &cursor, loader.AddPointer{
            .dest_file = loader.fileName(pointer.file),
            .src_file = loader.fileName(.tables),
            .offset = pointer.offset,
            .size = pointer.size,
        });
    }
    for (script.checksums) |sum| {
        put.command(out, &cursor, loader.AddChecksum{
            .file = loader.fileName(sum.file),
            .offset = sum.offset,
            .start = sum.start,
            .length = sum.length,
        });
    }
    assert(cursor == out.len);
}

// ---------------------------------------------------------------------------------------------
// DSDT AML (ACPI 6.x, chapter 20), hand-encoded. In ASL:
//
//   Scope (\_SB) {
//     Device (PCI0) {
//       Name (_HID, EisaId ("PNP0A03"))  Name (_ADR, 0)  Name (_UID, 0)  Name (_BBN, 0)
//       Name (_CRS, ResourceTemplate () {
//         WordBusNumber 0x00-0xFF, IO 0xCF8 (8, consumed), WordIO 0x0000-0x0CF7,
//         WordIO 0x0D00-0xFFFF, DWordMemory 0xA0000-0xBFFFF, DWordMemory hole-(I/O APIC - 1) })
//       Name (_PRT, Package () { Package () { 0xSSSSFFFF, pin, LNKx, 0 }, ... })
//       Device (ISA) {
//         Name (_ADR, piix_slot << 16)
//         OperationRegion (PIRQ, PCI_Config, 0x60, 4)
//         Field (PIRQ, ByteAcc, NoLock, Preserve) { PRQ0, 8, PRQ1, 8, PRQ2, 8, PRQ3, 8 }
//         Device (RTC) ... Device (KBD) ... Device (MOU) ... Device (COM1) ...
//       }
//     }
//     Device (LNKA) ... Device (LNKD)
//   }
//   Name (_S5, Package (4) { s5, s5, 0, 0 })
//
// Each link device reads and writes one PIIX3 PIRQ route register (bit 7 set: routing off;
// bits 3:0 the ISA IRQ):
//
//   Device (LNKA) {
//     Name (_HID, EisaId ("PNP0C0F"))  Name (_UID, 1)
//     Name (_PRS, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 5, 10, 11 } })
//     Method (_STA, 0, NotSerialized) { If (And (PRQ0, 0x80)) { Return (0x09) }  Return (0x0B) }
//     Method (_DIS, 0, NotSerialized) { Or (PRQ0, 0x80, PRQ0) }
//     Method (_CRS, 0, Serialized) {
//       Name (BUF, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 0 } })
//       CreateDWordField (BUF, 5, IRQ)
//       If (LNot (And (PRQ0, 0x80))) { Store (And (PRQ0, 0x0F), IRQ) }
//       Return (BUF)
//     }
//     Method (_SRS, 1, Serialized) { CreateDWordField (Arg0, 5, IRQ)  Store (And (IRQ, 0x0F), PRQ0) }
//   }
//
// (PRQn written out as \_SB.PCI0.ISA.PRQn.) _CRS and _SRS create named objects, so they are
// Serialized: a second caller would otherwise fail with AE_ALREADY_EXISTS.
//
// SeaBIOS parses the DSDT too (src/fw/dsdt_parser.c) to learn which devices exist — it skips
// PS/2 setup unless it finds PNP0303 — and its parser knows only Name, Method, Scope, Device,
// OperationRegion and Field at namespace level, and a _HID only as `Name (_HID, EisaId (...))`.
// This DSDT uses nothing else there.

const op = struct {
    const zero = 0x00;
    const one = 0x01;
    const name = 0x08;
    const byte_prefix = 0x0A;
    const word_prefix = 0x0B;
    const dword_prefix = 0x0C;
    const qword_prefix = 0x0E;
    const scope = 0x10;
    const buffer = 0x11;
    const package = 0x12;
    const method = 0x14;
    const dual_name_prefix = 0x2E;
    const multi_name_prefix = 0x2F;
    const ext_prefix = 0x5B;
    const ext_op_region = 0x80;
    const ext_field = 0x81;
    const ext_device = 0x82;
    const root_char = '\\';
    const parent_prefix = '^';
    const local0 = 0x60;
    const arg0 = 0x68;
    const store = 0x70;
    const @"and" = 0x7B;
    const @"or" = 0x7D;
    const create_dword_field = 0x8A;
    const lnot = 0x92;
    const @"if" = 0xA0;
    const @"return" = 0xA4;
    const ones = 0xFF;
    /// NullName: the Target of And/Or when the result is only returned.
    const null_name = 0x00;
};

/// The encoding of a NameString (20.2.2) given as ASL-like text: "\\_SB_.PCI0", "LNKA",
/// "^PCI0". Segments must be 4 characters (pad with '_').
fn nameString(comptime text: []const u8) []const u8 {
    return comptime blk: {
        @setEvalBranchQuota(10_000);
        var rest = text;
        var prefix: []const u8 = "";
        while (rest.len > 0 and (rest[0] == op.root_char or rest[0] == op.parent_prefix)) {
            prefix = prefix ++ rest[0..1];
            rest = rest[1..];
        }
        var segments: []const u8 = "";
        var count = 0;
        var it = std.mem.splitScalar(u8, rest, '.');
        while (it.next()) |segment| {
            assert(segment.len == 4);
            assert(std.ascii.isUpper(segment[0]) or segment[0] == '_');
            for (segment[1..]) |c| assert(std.ascii.isUpper(c) or std.ascii.isDigit(c) or c == '_');
            segments = segments ++ segment;
            count += 1;
        }
        var encoded: []const u8 = prefix;
        if (count == 2) encoded = encoded ++ .{op.dual_name_prefix};
        if (count > 2) encoded = encoded ++ .{ op.multi_name_prefix, count };
        encoded = encoded ++ segments;
        const result: [encoded.len]u8 = encoded[0..encoded.len].*;
        break :blk &result;
    };
}

/// A compressed EISA ID (the ASL EisaId macro): "PNP0A03" → 0x41 0xD0 0x0A 0x03 in memory.
fn eisaId(comptime id: *const [7]u8) [4]u8 {
    return comptime blk: {
        for (id[0..3]) |c| assert(std.ascii.isUpper(c));
        const vendor: u16 = @as(u16, id[0] - '@') << 10 | @as(u16, id[1] - '@') << 5 | (id[2] - '@');
        const product = std.fmt.parseInt(u16, id[3..7], 16) catch unreachable;
        break :blk .{ @intCast(vendor >> 8), @truncate(vendor), @intCast(product >> 8), @truncate(product) };
    };
}

/// Writes AML, or only measures it when `out` is null. A package's PkgLength is written once
/// its contents are: `open` leaves one byte for it and `close` widens that to the length's
/// encoding (20.2.4), moving the contents up. The contents never grow by more than their final
/// encoding does, so writing never runs past the measured size.
const Aml = struct {
    out: ?[]u8,
    len: u32 = 0,
    open_at: [max_depth]u32 = undefined,
    depth: u32 = 0,

    const max_depth = 8;

    fn byte(self: *Aml, value: u8) void {
        if (self.out) |out| out[self.len] = value;
        self.len += 1;
    }

    fn bytes(self: *Aml, values: []const u8) void {
        if (self.out) |out| @memcpy(out[self.len..][0..values.len], values);
        self.len += @intCast(values.len);
    }

    fn open(self: *Aml) void {
        assert(self.depth < max_depth);
        self.open_at[self.depth] = self.len;
        self.depth += 1;
        self.byte(0);
    }

    fn close(self: *Aml) void {
        assert(self.depth > 0);
        self.depth -= 1;
        const start = self.open_at[self.depth];
        const contents = self.len - start - 1;
        const size = pkgLengthSize(contents);
        if (self.out) |out| {
            std.mem.copyBackwards(u8, out[start + size .. self.len + size - 1], out[start + 1 .. self.len]);
            encodePkgLength(out[start..][0..size], contents + size);
        }
        self.len += size - 1;
    }

    fn name(self: *Aml, comptime text: []const u8) void {
        self.bytes(comptime nameString(text));
    }

    /// The shortest encoding of an integer constant.
    fn integer(self: *Aml, value: u64) void {
        if (value == 0) return self.byte(op.zero);
        if (value == 1) return self.byte(op.one);
        var prefix: u8 = op.qword_prefix;
        var size: u8 = 8;
        if (value <= 0xFF) {
            prefix = op.byte_prefix;
            size = 1;
        } else if (value <= 0xFFFF) {
            prefix = op.word_prefix;
            size = 2;
        } else if (value <= 0xFFFF_FFFF) {
            prefix = op.dword_prefix;
            size = 4;
        }
        self.byte(prefix);
        for (0..size) |i| self.byte(@truncate(value >> @intCast(8 * i)));
    }

    /// DWordConst whatever the value: the _PRT's addresses and EISA IDs are written this way.
    fn dword(self: *Aml, value: [4]u8) void {
        self.byte(op.dword_prefix);
        self.bytes(&value);
    }

    /// Scope (path) { ... close }
    fn scope(self: *Aml, comptime path: []const u8) void {
        self.byte(op.scope);
        self.open();
        self.name(path);
    }

    /// Device (path) { ... close }
    fn device(self: *Aml, comptime path: []const u8) void {
        self.bytes(&.{ op.ext_prefix, op.ext_device });
        self.open();
        self.name(path);
    }

    /// Method (path, args, Serialized or NotSerialized) { ... close }, sync level 0.
    fn method(self: *Aml, comptime path: []const u8, args: u3, serialized: bool) void {
        self.byte(op.method);
        self.open();
        self.name(path);
        self.byte(@as(u8, args) | @as(u8, @intFromBool(serialized)) << 3);
    }

    /// Name (segment, <the data object that follows>)
    fn named(self: *Aml, comptime segment: *const [4]u8) void {
        self.byte(op.name);
        self.name(segment);
    }

    /// If (<the predicate that follows>) { ... close }
    fn @"if"(self: *Aml) void {
        self.byte(op.@"if");
        self.open();
    }

    /// Buffer () { descriptors..., EndTag }: a ResourceTemplate.
    fn resourceTemplate(self: *Aml, descriptors: []const []const u8) void {
        var size: u32 = resource.end_tag.len;
        for (descriptors) |descriptor| size += @intCast(descriptor.len);
        self.byte(op.buffer);
        self.open();
        self.integer(size);
        for (descriptors) |descriptor| self.bytes(descriptor);
        self.bytes(&resource.end_tag);
        self.close();
    }
};

/// Bytes a PkgLength takes for a package whose contents (after the PkgLength) are `contents`
/// bytes: the length it encodes counts itself too.
fn pkgLengthSize(contents: u32) u32 {
    if (contents + 1 <= 0x3F) return 1;
    if (contents + 2 < 1 << 12) return 2;
    if (contents + 3 < 1 << 20) return 3;
    assert(contents + 4 < 1 << 28);
    return 4;
}

/// One byte: bits 5:0 the length. More: bits 7:6 the count of bytes that follow, bits 3:0 the
/// low nibble, each following byte the next 8 bits.
fn encodePkgLength(dest: []u8, value: u32) void {
    if (dest.len == 1) {
        assert(value <= 0x3F);
        dest[0] = @intCast(value);
        return;
    }
    dest[0] = @intCast((dest.len - 1) << 6 | (value & 0x0F));
    for (dest[1..], 0..) |*b, i| b.* = @truncate(value >> @intCast(4 + 8 * i));
    assert(value >> @intCast(4 + 8 * (dest.len - 1)) == 0);
}

/// Resource descriptors (ACPI 6.x, section 6.4), little-endian.
const resource = struct {
    /// EndTag with checksum 0: "treat the template as correctly summed".
    const end_tag = [2]u8{ 0x79, 0x00 };

    /// I/O Port Descriptor: a fixed range, 16-bit decode.
    fn io(port: u16, len: u8) [8]u8 {
        const lo: u8 = @truncate(port);
        const hi: u8 = @intCast(port >> 8);
        return .{ 0x47, 0x01, lo, hi, lo, hi, 0x01, len };
    }

    /// IRQ Descriptor without the flags byte: edge-triggered, active high, exclusive (ISA).
    fn irqNoFlags(irq: u8) [3]u8 {
        const mask = @as(u16, 1) << @intCast(irq);
        return .{ 0x22, @truncate(mask), @intCast(mask >> 8) };
    }

    const space_memory: u8 = 0;
    const space_io: u8 = 1;
    const space_bus: u8 = 2;
    /// General flags: _MIF and _MAF set (a fixed window), positive decode, producer.
    const fixed_window: u8 = 0x0C;
    /// I/O type-specific flags: _RNG = 3, ISA and non-ISA ranges.
    const io_entire_range: u8 = 0x03;
    /// Memory type-specific flags: _RW read-write; _MEM 0 non-cacheable, 1 cacheable.
    const memory_non_cacheable: u8 = 0x01;
    const memory_cacheable: u8 = 0x03;

    /// WORD Address Space Descriptor for a window the bridge forwards: [min, max].
    fn wordWindow(space: u8, type_flags: u8, min: u16, max: u16) [16]u8 {
        assert(min <= max and max - min < 0xFFFF);
        var d = [16]u8{ 0x88, 13, 0, space, fixed_window, type_flags, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        std.mem.writeInt(u16, d[8..10], min, .little);
        std.mem.writeInt(u16, d[10..12], max, .little);
        std.mem.writeInt(u16, d[14..16], max - min + 1, .little);
        return d;
    }

    /// DWORD Address Space Descriptor for a memory window the bridge forwards: [min, max].
    fn dwordMemoryWindow(type_flags: u8, min: u32, max: u32) [26]u8 {
        var d = [_]u8{0} ** 26;
        d[0] = 0x87;
        d[1] = 23;
        d[3] = space_memory;
        d[4] = fixed_window;
        d[5] = type_flags;
        std.mem.writeInt(u32, d[10..14], min, .little);
        std.mem.writeInt(u32, d[14..18], max, .little);
        std.mem.writeInt(u32, d[22..26], max - min + 1, .little);
        return d;
    }

    /// Extended Interrupt Descriptor: consumer, level-triggered, active high, shared.
    const ExtendedIrq = struct {
        bytes: [first_interrupt + 4 * 16]u8,
        len: usize,

        /// Offset of the first interrupt number (what _CRS and _SRS patch and read).
        const first_interrupt = 5;
        const consumer_level_high_shared: u8 = 0x01 | 0x08;

        fn init(irqs: []const u8) ExtendedIrq {
            assert(irqs.len >= 1 and irqs.len <= 16);
            var d = ExtendedIrq{ .bytes = undefined, .len = first_interrupt + 4 * irqs.len };
            d.bytes[0] = 0x89;
            std.mem.writeInt(u16, d.bytes[1..3], @intCast(d.len - 3), .little);
            d.bytes[3] = consumer_level_high_shared;
            d.bytes[4] = @intCast(irqs.len);
            for (irqs, 0..) |irq, i| {
                std.mem.writeInt(u32, d.bytes[first_interrupt + 4 * i ..][0..4], irq, .little);
            }
            return d;
        }

        fn fromMask(mask: u16) ExtendedIrq {
            var irqs: [16]u8 = undefined;
            var count: usize = 0;
            for (0..16) |irq| {
                if (mask & (@as(u16, 1) << @intCast(irq)) == 0) continue;
                irqs[count] = @intCast(irq);
                count += 1;
            }
            return init(irqs[0..count]);
        }

        fn slice(self: *const ExtendedIrq) []const u8 {
            return self.bytes[0..self.len];
        }
    };
};

/// The PIIX3's PIRQ route control registers PIRQRC[A:D], one byte each, in its config space.
const piix3_pirq_route = 0x60;
/// PIRQRC bit 7: interrupt routing disabled. Bits 3:0: the ISA IRQ.
const pirq_disabled = 0x80;
const pirq_irq_mask = 0x0F;
/// _STA: present and functioning; 0x0B adds enabled (bit 1). Not shown in the UI.
const link_status_disabled = 0x09;
const link_status_enabled = 0x0B;
/// OperationRegion space PCI_Config.
const region_pci_config = 0x02;
/// Field flags: ByteAcc, NoLock, Preserve.
const field_byte_access = 0x01;

const link_names = [4]*const [4]u8{ "LNKA", "LNKB", "LNKC", "LNKD" };
const pirq_fields = [4]*const [4]u8{ "PRQ0", "PRQ1", "PRQ2", "PRQ3" };

/// The link that INTx pin `pin` (0 = INTA) of a device in `slot` drives, as the PIIX3 wires it
/// on QEMU's pc machine and as SeaBIOS assumes: PIRQ[(slot + pin - 1) mod 4]. Slot 1 INTA is
/// PIRQA; QEMU's DSDT writes the same as "(slot + pin) mod 4, with 0 meaning LNKD".
fn linkIndex(slot: u32, pin: u32) u32 {
    assert(slot >= 1 and slot < 32 and pin < 4);
    return (slot + pin - 1) % 4;
}

fn dsdtSize(config: Config) u32 {
    var measure = Aml{ .out = null };
    writeDsdtBody(&measure, config);
    return @sizeOf(Header) + measure.len;
}

fn writeDsdt(blob: Blob, layout: Layout, config: Config) void {
    blob.put(layout.dsdt, tableHeader("DSDT", layout.dsdt_size, dsdt_revision));
    const body = blob.at(layout.dsdt + @sizeOf(Header), layout.dsdt_size - @sizeOf(Header));
    var aml = Aml{ .out = body };
    writeDsdtBody(&aml, config);
    assert(aml.len == body.len and aml.depth == 0);
}

fn writeDsdtBody(aml: *Aml, config: Config) void {
    aml.scope("\\_SB_");
    writePciRoot(aml, config);
    inline for (0..link_names.len) |index| writeLink(aml, index, config);
    aml.close();

    aml.named("_S5_");
    aml.byte(op.package);
    aml.open();
    aml.byte(4); // NumElements: SLP_TYPa, SLP_TYPb, two reserved
    aml.integer(config.s5_sleep_type);
    aml.integer(config.s5_sleep_type);
    aml.integer(0);
    aml.integer(0);
    aml.close();
    assert(aml.depth == 0);
}

fn writePciRoot(aml: *Aml, config: Config) void {
    aml.device("PCI0");
    aml.named("_HID");
    aml.dword(comptime eisaId("PNP0A03"));
    aml.named("_ADR");
    aml.integer(0);
    aml.named("_UID");
    aml.integer(0);
    aml.named("_BBN");
    aml.integer(0);

    const r = resource;
    const config_ports = platform.pci_config;
    const buses = r.wordWindow(r.space_bus, 0, 0x00, 0xFF);
    // The configuration ports are the bridge's own, so they sit between the two I/O windows.
    const own_ports = r.io(config_ports.base, @intCast(config_ports.len));
    const ports_below = r.wordWindow(r.space_io, r.io_entire_range, 0x0000, config_ports.base - 1);
    const ports_above = r.wordWindow(r.space_io, r.io_entire_range, 0x0D00, 0xFFFF);
    const vga_window = r.dwordMemoryWindow(r.memory_cacheable, 0xA_0000, 0xB_FFFF);
    const pci_hole = r.dwordMemoryWindow(r.memory_non_cacheable, config.pci_hole_start, config.ioapic_base - 1);
    aml.named("_CRS");
    aml.resourceTemplate(&.{ &buses, &own_ports, &ports_below, &ports_above, &vga_window, &pci_hole });

    // Every slot but the host bridge's, every pin.
    aml.named("_PRT");
    aml.byte(op.package);
    aml.open();
    aml.byte(31 * 4);
    for (1..32) |slot| {
        for (0..4) |pin| {
            aml.byte(op.package);
            aml.open();
            aml.byte(4); // NumElements: Address, Pin, Source, SourceIndex
            var address: [4]u8 = undefined;
            std.mem.writeInt(u32, &address, @as(u32, @intCast(slot)) << 16 | 0xFFFF, .little);
            aml.dword(address);
            aml.integer(pin);
            // A single segment: found from \_SB.PCI0 by the upward name search.
            switch (linkIndex(@intCast(slot), @intCast(pin))) {
                inline 0...link_names.len - 1 => |index| aml.name(link_names[index]),
                else => unreachable,
            }
            aml.integer(0);
            aml.close();
        }
    }
    aml.close();

    writeIsaBridge(aml, config);
    aml.close();
}

fn writeIsaBridge(aml: *Aml, config: Config) void {
    aml.device("ISA_");
    aml.named("_ADR");
    aml.integer(@as(u32, config.piix_slot) << 16); // function 0

    aml.bytes(&.{ op.ext_prefix, op.ext_op_region });
    aml.name("PIRQ");
    aml.byte(region_pci_config);
    aml.integer(piix3_pirq_route);
    aml.integer(pirq_fields.len);

    aml.bytes(&.{ op.ext_prefix, op.ext_field });
    aml.open();
    aml.name("PIRQ");
    aml.byte(field_byte_access);
    inline for (pirq_fields) |field| {
        aml.name(field);
        aml.byte(8); // bits, encoded as a PkgLength
    }
    aml.close();

    const r = resource;
    const rtc_ports = r.io(platform.cmos.base, @intCast(platform.cmos.len));
    const rtc_irq = r.irqNoFlags(platform.cmos.irq.?);
    writeIsaDevice(aml, "RTC_", "PNP0B00", null, &.{ &rtc_ports, &rtc_irq });

    // The i8042's data port and its command/status port, not the PIT's 0x61 between them.
    const kbc = platform.keyboard_controller;
    const kbc_data = r.io(kbc.base, 1);
    const kbc_command = r.io(kbc.base + kbc.len - 1, 1);
    const kbc_irq = r.irqNoFlags(kbc.irq.?);
    writeIsaDevice(aml, "KBD_", "PNP0303", null, &.{ &kbc_data, &kbc_command, &kbc_irq });

    const mouse_irq = r.irqNoFlags(platform.mouse_irq);
    writeIsaDevice(aml, "MOU_", "PNP0F13", null, &.{&mouse_irq});

    const com1_ports = r.io(platform.com1.base, @intCast(platform.com1.len));
    const com1_irq = r.irqNoFlags(platform.com1.irq.?);
    writeIsaDevice(aml, "COM1", "PNP0501", 1, &.{ &com1_ports, &com1_irq });
    aml.close();
}

/// Device (segment) { Name (_HID, EisaId (hid))  [Name (_UID, uid)]  Name (_CRS, ...) }. No
/// _STA: an absent _STA means present, enabled and functioning.
fn writeIsaDevice(aml: *Aml, comptime segment: *const [4]u8, comptime hid: *const [7]u8, uid: ?u8, resources: []const []const u8) void {
    aml.device(segment);
    aml.named("_HID");
    aml.dword(comptime eisaId(hid));
    if (uid) |value| {
        aml.named("_UID");
        aml.integer(value);
    }
    aml.named("_CRS");
    aml.resourceTemplate(resources);
    aml.close();
}

fn writeLink(aml: *Aml, comptime index: usize, config: Config) void {
    const field = comptime std.fmt.comptimePrint("\\_SB_.PCI0.ISA_.{s}", .{pirq_fields[index]});
    const r = resource;

    aml.device(link_names[index]);
    aml.named("_HID");
    aml.dword(comptime eisaId("PNP0C0F"));
    aml.named("_UID");
    aml.integer(index + 1);
    const possible = r.ExtendedIrq.fromMask(config.pci_irq_mask);
    aml.named("_PRS");
    aml.resourceTemplate(&.{possible.slice()});

    aml.method("_STA", 0, false);
    aml.@"if"();
    aml.byte(op.@"and");
    aml.name(field);
    aml.integer(pirq_disabled);
    aml.byte(op.null_name);
    aml.byte(op.@"return");
    aml.integer(link_status_disabled);
    aml.close();
    aml.byte(op.@"return");
    aml.integer(link_status_enabled);
    aml.close();

    aml.method("_DIS", 0, false);
    aml.byte(op.@"or");
    aml.name(field);
    aml.integer(pirq_disabled);
    aml.name(field);
    aml.close();

    const current = r.ExtendedIrq.init(&.{0});
    aml.method("_CRS", 0, true);
    aml.named("BUF_");
    aml.resourceTemplate(&.{current.slice()});
    aml.byte(op.create_dword_field);
    aml.name("BUF_");
    aml.integer(r.ExtendedIrq.first_interrupt);
    aml.name("IRQ_");
    aml.@"if"();
    aml.byte(op.lnot);
    aml.byte(op.@"and");
    aml.name(field);
    aml.integer(pirq_disabled);
    aml.byte(op.null_name);
    aml.byte(op.store);
    aml.byte(op.@"and");
    aml.name(field);
    aml.integer(pirq_irq_mask);
    aml.byte(op.null_name);
    aml.name("IRQ_");
    aml.close();
    aml.byte(op.@"return");
    aml.name("BUF_");
    aml.close();

    aml.method("_SRS", 1, true);
    aml.byte(op.create_dword_field);
    aml.byte(op.arg0);
    aml.integer(r.ExtendedIrq.first_interrupt);
    aml.name("IRQ_");
    aml.byte(op.store);
    aml.byte(op.@"and");
    aml.name("IRQ_");
    aml.integer(pirq_irq_mask);
    aml.byte(op.null_name);
    aml.name(field);
    aml.close();

    aml.close();
}

// ---------------------------------------------------------------------------------------------
// Tests

const testing = std.testing;

fn readInt(comptime T: type, bytes: []const u8, offset: usize) T {
    return std.mem.readInt(T, bytes[offset..][0..@sizeOf(T)], .little);
}

/// Two MiB of guest RAM: the BIOS area (and the legacy RSDP scan range), and above it room for
/// the BIOS loader's high-memory allocations.
const TestRam = struct {
    backing: []u8,

    fn init() !TestRam {
        const backing = try testing.allocator.alloc(u8, 2 << 20);
        @memset(backing, 0xAA);
        return .{ .backing = backing };
    }

    fn deinit(self: TestRam) void {
        testing.allocator.free(self.backing);
    }

    fn memory(self: TestRam) GuestMemory {
        return .{ .host = self.backing, .low_size = self.backing.len, .high_size = 0 };
    }
};

const BootPath = enum { direct, firmware };
const boot_paths = [_]BootPath{ .direct, .firmware };

/// Puts the tables in guest RAM the way `path` does — for firmware boot, by running the loader
/// script over the fw_cfg files as SeaBIOS would — and returns the RSDP's address.
fn buildForTest(ram: TestRam, path: BootPath, config: Config) !u64 {
    switch (path) {
        .direct => {
            const base = platform.linux_boot.acpi_tables;
            return build(ram.memory(), base, platform.memory.bios_area_end, config);
        },
        .firmware => {
            var tables: [tables_file_max_bytes]u8 = undefined;
            var rsdp: [rsdp_file_bytes]u8 = undefined;
            var script: [loader_file_bytes]u8 = undefined;
            const used = try buildForFirmware(config, &tables, &rsdp, &script);
            try testing.expectEqual(tablesFileBytes(config), used.tables_len);
            var files = [_]TestFile{
                .{ .name = fw_cfg_tables_file, .bytes = tables[0..used.tables_len] },
                .{ .name = fw_cfg_rsdp_file, .bytes = rsdp[0..used.rsdp_len] },
            };
            try runLoaderScript(ram.memory(), script[0..used.loader_len], &files);
            return files[1].address.?;
        },
    }
}

const TestFile = struct {
    name: []const u8,
    bytes: []const u8,
    address: ?u64 = null,
};

/// Runs a BIOS linker/loader script as SeaBIOS's romfile_loader does, but fails wherever
/// SeaBIOS would only warn or skip a command. F-segment allocations go up from 0xF0000,
/// high-memory ones down from the top of RAM.
fn runLoaderScript(mem: GuestMemory, script: []const u8, files: []TestFile) !void {
    try testing.expectEqual(@as(usize, 0), script.len % loader.command_bytes);
    var fseg_next: u64 = 0xF_0000;
    var high_next: u64 = mem.low_size;
    var offset: usize = 0;
    while (offset < script.len) : (offset += loader.command_bytes) {
        const command = script[offset..][0..loader.command_bytes];
        switch (readInt(u32, command, 0)) {
            loader.allocate => {
                const file = try findFile(files, command[4..60]);
                try testing.expect(file.address == null);
                const alignment = readInt(u32, command, 60);
                try testing.expect(std.math.isPowerOfTwo(alignment));
                const address = switch (command[64]) {
                    loader.zone_high => blk: {
                        high_next = std.mem.alignBackward(u64, high_next - file.bytes.len, alignment);
                        break :blk high_next;
                    },
                    loader.zone_fseg => blk: {
                        const at = std.mem.alignForward(u64, fseg_next, alignment);
                        fseg_next = at + file.bytes.len;
                        try testing.expect(fseg_next <= platform.memory.bios_area_end);
                        break :blk at;
                    },
                    else => return error.TestUnexpectedResult,
                };
                try mem.write(address, file.bytes);
                file.address = address;
                try testing.expect(std.mem.allEqual(u8, command[65..], 0));
            },
            loader.add_pointer => {
                const dest = try findAllocated(files, command[4..60]);
                const source = try findAllocated(files, command[60..116]);
                const at = readInt(u32, command, 116);
                const size = command[120];
                try testing.expect(size == 1 or size == 2 or size == 4 or size == 8);
                try testing.expect(at + size <= dest.bytes.len);
                const field = mem.slice(dest.address.? + at, size).?;
                var value: u64 = 0;
                for (field, 0..) |byte, i| value |= @as(u64, byte) << @intCast(8 * i);
                // Before linking, the field holds an offset into the source file.
                try testing.expect(value < source.bytes.len);
                value += source.address.?;
                if (size < 8) try testing.expect(value >> @intCast(8 * size) == 0);
                for (field, 0..) |*byte, i| byte.* = @truncate(value >> @intCast(8 * i));
                try testing.expect(std.mem.allEqual(u8, command[121..], 0));
            },
            loader.add_checksum => {
                const file = try findAllocated(files, command[4..60]);
                const at = readInt(u32, command, 60);
                const start = readInt(u32, command, 64);
                const length = readInt(u32, command, 68);
                try testing.expect(start + length <= file.bytes.len);
                try testing.expect(at >= start and at < start + length);
                const bytes = mem.slice(file.address.?, file.bytes.len).?;
                bytes[at] +%= checksum(bytes[start..][0..length]);
                try testing.expect(std.mem.allEqual(u8, command[72..], 0));
            },
            else => return error.TestUnexpectedResult,
        }
    }
    for (files) |file| try testing.expect(file.address != null);
}

/// The file a command's 56-byte name field names: NUL-terminated, zero-padded.
fn findFile(files: []TestFile, field: []const u8) !*TestFile {
    try testing.expectEqual(@as(usize, loader.file_name_bytes), field.len);
    const end = std.mem.indexOfScalar(u8, field, 0) orelse return error.TestUnexpectedResult;
    try testing.expect(std.mem.allEqual(u8, field[end..], 0));
    for (files) |*file| {
        if (std.mem.eql(u8, file.name, field[0..end])) return file;
    }
    return error.TestUnexpectedResult;
}

fn findAllocated(files: []TestFile, field: []const u8) !*TestFile {
    const file = try findFile(files, field);
    try testing.expect(file.address != null);
    return file;
}

/// Checks a table's signature, minimum length and checksum; returns its bytes.
fn expectTable(mem: GuestMemory, gpa: u64, signature: *const [4]u8) ![]const u8 {
    const head = mem.slice(gpa, @sizeOf(Header)) orelse return error.TestUnexpectedResult;
    try testing.expectEqualSlices(u8, signature, head[0..4]);
    const length = readInt(u32, head, 4);
    try testing.expect(length >= @sizeOf(Header));
    const table = mem.slice(gpa, length) orelse return error.TestUnexpectedResult;
    try testing.expectEqual(@as(u8, 0), checksum(table));
    try testing.expectEqualSlices(u8, "VMCTL ", table[10..16]);
    try testing.expectEqualSlices(u8, "VMCTLPC ", table[16..24]);
    try testing.expectEqualSlices(u8, "VMCT", table[28..32]);
    return table;
}

/// Finds the RSDP the way a legacy OS does: "RSD PTR " on a 16-byte boundary in 0xE0000–0xFFFFF.
fn scanForRsdp(mem: GuestMemory) ?u64 {
    var gpa = platform.memory.bios_area_start;
    while (gpa < platform.memory.bios_area_end) : (gpa += 16) {
        const candidate = mem.slice(gpa, 20) orelse return null;
        if (std.mem.eql(u8, candidate[0..8], "RSD PTR ") and checksum(candidate) == 0) return gpa;
    }
    return null;
}

const FoundTables = struct {
    rsdp: []const u8,
    rsdt: []const u8,
    xsdt: []const u8,
    fadt: []const u8,
    madt: []const u8,
    dsdt: []const u8,
    facs: []const u8,
    dsdt_gpa: u64,
};

/// Follows every pointer from the RSDP as an OS does, checking each table on the way.
fn expectTables(mem: GuestMemory, rsdp_gpa: u64) !FoundTables {
    try testing.expectEqual(@as(?u64, rsdp_gpa), scanForRsdp(mem));
    const rsdp = mem.slice(rsdp_gpa, 36).?;
    try testing.expectEqual(@as(u8, 0), checksum(rsdp[0..20]));
    try testing.expectEqual(@as(u8, 0), checksum(rsdp));
    try testing.expectEqual(@as(u8, 2), rsdp[15]);
    try testing.expectEqual(@as(u32, 36), readInt(u32, rsdp, 20));

    const rsdt = try expectTable(mem, readInt(u32, rsdp, 16), "RSDT");
    const xsdt = try expectTable(mem, readInt(u64, rsdp, 24), "XSDT");
    try testing.expectEqual(@as(usize, 36 + 2 * 4), rsdt.len);
    try testing.expectEqual(@as(usize, 36 + 2 * 8), xsdt.len);
    for (0..2) |i| try testing.expectEqual(@as(u64, readInt(u32, rsdt, 36 + 4 * i)), readInt(u64, xsdt, 36 + 8 * i));

    const fadt = try expectTable(mem, readInt(u64, xsdt, 36), "FACP");
    const madt = try expectTable(mem, readInt(u64, xsdt, 44), "APIC");
    try testing.expectEqual(@as(usize, 276), fadt.len);
    try testing.expectEqual(@as(u8, 6), fadt[8]);

    const dsdt_gpa = readInt(u64, fadt, 140);
    try testing.expectEqual(@as(u64, readInt(u32, fadt, 40)), dsdt_gpa);
    const dsdt = try expectTable(mem, dsdt_gpa, "DSDT");
    try testing.expectEqual(@as(u8, 2), dsdt[8]);

    // FIRMWARE_CTRL holds the FACS; X_FIRMWARE_CTRL must then be zero.
    const facs_gpa: u64 = readInt(u32, fadt, 36);
    try testing.expectEqual(@as(u64, 0), readInt(u64, fadt, 132));
    try testing.expect(facs_gpa != 0);
    try testing.expectEqual(@as(u64, 0), facs_gpa % 64);
    const facs = mem.slice(facs_gpa, 64).?;
    try testing.expectEqualSlices(u8, "FACS", facs[0..4]);
    try testing.expectEqual(@as(u32, 64), readInt(u32, facs, 4));

    return .{ .rsdp = rsdp, .rsdt = rsdt, .xsdt = xsdt, .fadt = fadt, .madt = madt, .dsdt = dsdt, .facs = facs, .dsdt_gpa = dsdt_gpa };
}

test "checksum makes a byte sequence sum to zero" {
    var bytes = [_]u8{ 1, 2, 3, 250, 0 };
    bytes[4] = checksum(&bytes);
    try testing.expectEqual(@as(u8, 0), checksum(&bytes));
    try testing.expectEqual(@as(u8, 0), checksum(&.{}));
}

test "every table reachable from the RSDP has a valid header and checksum, on both boot paths" {
    inline for (boot_paths) |path| {
        const ram = try TestRam.init();
        defer ram.deinit();
        const rsdp_gpa = try buildForTest(ram, path, configForPlatform(2));
        const found = try expectTables(ram.memory(), rsdp_gpa);
        try testing.expectEqual(@as(usize, madtSize(configForPlatform(2))), found.madt.len);
        _ = try AmlWalker.walk(found.dsdt[@sizeOf(Header)..]);
    }
}

test "direct boot puts the RSDP first, at the base in the BIOS area" {
    const ram = try TestRam.init();
    defer ram.deinit();
    const rsdp_gpa = try buildForTest(ram, .direct, configForPlatform(2));
    try testing.expectEqual(platform.linux_boot.acpi_tables, rsdp_gpa);
    const found = try expectTables(ram.memory(), rsdp_gpa);
    // Every table lies in the BIOS area, after the RSDP.
    try testing.expect(found.dsdt_gpa > rsdp_gpa and found.dsdt_gpa < platform.memory.bios_area_end);
}

test "firmware boot puts the RSDP in the F segment and the tables in high memory" {
    const ram = try TestRam.init();
    defer ram.deinit();
    const rsdp_gpa = try buildForTest(ram, .firmware, configForPlatform(2));
    try testing.expect(rsdp_gpa >= 0xF_0000 and rsdp_gpa < platform.memory.bios_area_end);
    try testing.expectEqual(@as(u64, 0), rsdp_gpa % 16);
    const found = try expectTables(ram.memory(), rsdp_gpa);
    try testing.expect(found.dsdt_gpa >= platform.memory.bios_area_end);
}

test "both boot paths produce the same tables but for their addresses" {
    const config = configForPlatform(3);
    var found: [boot_paths.len]FoundTables = undefined;
    var rams: [boot_paths.len]TestRam = undefined;
    inline for (boot_paths, 0..) |path, i| {
        rams[i] = try TestRam.init();
        found[i] = try expectTables(rams[i].memory(), try buildForTest(rams[i], path, config));
    }
    defer for (rams) |ram| ram.deinit();
    try testing.expectEqualSlices(u8, found[0].dsdt, found[1].dsdt);
    try testing.expectEqualSlices(u8, found[0].madt, found[1].madt);
    try testing.expectEqualSlices(u8, found[0].facs, found[1].facs);
    // The FADT differs only in its pointers and, so, its checksum.
    var fadts: [2][276]u8 = .{ found[0].fadt[0..276].*, found[1].fadt[0..276].* };
    for (&fadts) |*fadt| {
        fadt[Header.checksum_offset] = 0;
        @memset(fadt[36..44], 0);
        @memset(fadt[140..148], 0);
    }
    try testing.expectEqualSlices(u8, &fadts[0], &fadts[1]);
}

test "FADT fields describe the platform's PM hardware" {
    inline for (boot_paths) |path| {
        const ram = try TestRam.init();
        defer ram.deinit();
        const fadt = (try expectTables(ram.memory(), try buildForTest(ram, path, configForPlatform(1)))).fadt;

        try testing.expectEqual(@as(u16, 9), readInt(u16, fadt, 46));
        try testing.expectEqual(@as(u32, 0), readInt(u32, fadt, 48));
        try testing.expectEqual(@as(u32, 0x600), readInt(u32, fadt, 56));
        try testing.expectEqual(@as(u32, 0x604), readInt(u32, fadt, 64));
        try testing.expectEqual(@as(u32, 0x608), readInt(u32, fadt, 76));
        try testing.expectEqualSlices(u8, &.{ 4, 2, 0, 4 }, fadt[88..92]);
        try testing.expectEqual(@as(u16, 101), readInt(u16, fadt, 96));
        try testing.expectEqual(@as(u16, 1001), readInt(u16, fadt, 98));
        // CENTURY: CMOS register 0x32. IAPC_BOOT_ARCH: legacy devices and an 8042.
        try testing.expectEqual(@as(u8, 0x32), fadt[108]);
        try testing.expectEqual(@as(u16, 0x0003), readInt(u16, fadt, 109));
        try testing.expectEqual(@as(u32, 0x0000_0535), readInt(u32, fadt, 112));
        // RESET_REG: system I/O, 8 bits, byte access, port 0xCF9; RESET_VALUE 6.
        try testing.expectEqualSlices(u8, &.{ 1, 8, 0, 1 }, fadt[116..120]);
        try testing.expectEqual(@as(u64, 0xCF9), readInt(u64, fadt, 120));
        try testing.expectEqual(@as(u8, 6), fadt[128]);
        // X_PM1a_EVT_BLK, X_PM1a_CNT_BLK, X_PM_TMR_BLK match the 32-bit fields.
        try testing.expectEqualSlices(u8, &.{ 1, 32, 0, 2 }, fadt[148..152]);
        try testing.expectEqual(@as(u64, 0x600), readInt(u64, fadt, 152));
        try testing.expectEqualSlices(u8, &.{ 1, 16, 0, 2 }, fadt[172..176]);
        try testing.expectEqual(@as(u64, 0x604), readInt(u64, fadt, 176));
        try testing.expectEqualSlices(u8, &.{ 1, 32, 0, 3 }, fadt[208..212]);
        try testing.expectEqual(@as(u64, 0x608), readInt(u64, fadt, 212));
    }
}

/// Counts MADT entries by type, checking that their lengths tile the table exactly.
fn countMadtEntries(madt: []const u8) ![5]u32 {
    var counts = [_]u32{0} ** 5;
    var offset: usize = @sizeOf(Madt);
    while (offset < madt.len) {
        const kind = madt[offset];
        const length = madt[offset + 1];
        try testing.expect(length >= 2 and offset + length <= madt.len);
        try testing.expect(kind < counts.len);
        counts[kind] += 1;
        offset += length;
    }
    try testing.expectEqual(madt.len, offset);
    return counts;
}

test "MADT lists each CPU, one I/O APIC, the interrupt overrides and the LINT1 NMI" {
    inline for (boot_paths) |path| {
        inline for (.{ 1, 4 }) |cpu_count| {
            const ram = try TestRam.init();
            defer ram.deinit();
            const madt = (try expectTables(ram.memory(), try buildForTest(ram, path, configForPlatform(cpu_count)))).madt;

            try testing.expectEqual(@as(u32, 0xFEE0_0000), readInt(u32, madt, 36));
            try testing.expectEqual(@as(u32, 1), readInt(u32, madt, 40));
            const counts = try countMadtEntries(madt);
            try testing.expectEqual([5]u32{ cpu_count, 1, 5, 0, 1 }, counts);

            const last_cpu = 44 + (cpu_count - 1) * 8;
            try testing.expectEqualSlices(u8, &.{ 0, 8, cpu_count - 1, cpu_count - 1, 1, 0, 0, 0 }, madt[last_cpu..][0..8]);
            const ioapic = 44 + cpu_count * 8;
            try testing.expectEqual(@as(u8, cpu_count), madt[ioapic + 2]);
            try testing.expectEqual(@as(u32, 0xFEC0_0000), readInt(u32, madt, ioapic + 4));
            try testing.expectEqual(@as(u32, 0), readInt(u32, madt, ioapic + 8));
            // IRQ 0 → GSI 2, conforming; then 5, 9 (the SCI), 10 and 11 level-triggered,
            // active high (flags 0x000D), as on QEMU's pc machine.
            var entry: usize = ioapic + 12;
            try testing.expectEqualSlices(u8, &.{ 2, 10, 0, 0, 2, 0, 0, 0, 0, 0 }, madt[entry..][0..10]);
            for ([_]u8{ 5, 9, 10, 11 }) |irq| {
                entry += 10;
                try testing.expectEqualSlices(u8, &.{ 2, 10, 0, irq, irq, 0, 0, 0, 0x0D, 0 }, madt[entry..][0..10]);
            }
            try testing.expectEqualSlices(u8, &.{ 4, 6, 0xFF, 0, 0, 1 }, madt[entry + 10 ..][0..6]);
        }
    }
}

test "MADT overrides follow the Config's SCI and link IRQs" {
    var config = configForPlatform(1);
    config.pci_irq_mask = (1 << 9) | (1 << 11);
    config.sci_irq = 9;
    const ram = try TestRam.init();
    defer ram.deinit();
    const madt = (try expectTables(ram.memory(), try buildForTest(ram, .firmware, config))).madt;
    // The SCI shares IRQ 9 with a link: one override for both.
    try testing.expectEqual([5]u32{ 1, 1, 3, 0, 1 }, try countMadtEntries(madt));
    try testing.expectEqual(@as(u8, 9), madt[44 + 8 + 12 + 10 + 3]);
    try testing.expectEqual(@as(u8, 11), madt[44 + 8 + 12 + 20 + 3]);
}

test "the loader script allocates both files, then patches every pointer, then every checksum" {
    const config = configForPlatform(2);
    var tables: [tables_file_max_bytes]u8 = undefined;
    var rsdp: [rsdp_file_bytes]u8 = undefined;
    var script: [loader_file_bytes]u8 = undefined;
    const used = try buildForFirmware(config, &tables, &rsdp, &script);
    try testing.expectEqual(@as(u32, 36), used.rsdp_len);
    try testing.expectEqual(@as(u32, 18 * 128), used.loader_len);
    const blob = tables[0..used.tables_len];

    // Unlinked, each pointer holds its target's offset in the tables file.
    const rsdt: u32 = readInt(u32, &rsdp, 16);
    const xsdt: u32 = @intCast(readInt(u64, &rsdp, 24));
    const fadt: u32 = @intCast(readInt(u64, blob, xsdt + 36));
    const madt: u32 = @intCast(readInt(u64, blob, xsdt + 44));
    const facs: u32 = readInt(u32, blob, fadt + 36);
    const dsdt: u32 = readInt(u32, blob, fadt + 40);
    try testing.expectEqual(fadt, readInt(u32, blob, rsdt + 36));
    try testing.expectEqual(madt, readInt(u32, blob, rsdt + 40));
    try testing.expectEqual(@as(u64, dsdt), readInt(u64, blob, fadt + 140));
    for ([_]struct { u32, *const [4]u8 }{
        .{ rsdt, "RSDT" }, .{ xsdt, "XSDT" }, .{ fadt, "FACP" },
        .{ madt, "APIC" }, .{ facs, "FACS" }, .{ dsdt, "DSDT" },
    }) |table| try testing.expectEqualSlices(u8, table[1], blob[table[0]..][0..4]);
    try testing.expectEqual(@as(u32, 0), facs % 64);

    const T = fw_cfg_tables_file;
    const R = fw_cfg_rsdp_file;
    const Expected = union(enum) {
        allocate: struct { []const u8, u32, u8 },
        pointer: struct { []const u8, u32, u8 },
        checksum: struct { []const u8, u32, u32, u32 },
    };
    const tableLength = struct {
        fn of(bytes: []const u8, offset: u32) u32 {
            return readInt(u32, bytes, offset + 4);
        }
    }.of;
    const expected = [_]Expected{
        .{ .allocate = .{ T, 64, 1 } },
        .{ .allocate = .{ R, 16, 2 } },
        .{ .pointer = .{ R, 16, 4 } },
        .{ .pointer = .{ R, 24, 8 } },
        .{ .pointer = .{ T, rsdt + 36, 4 } },
        .{ .pointer = .{ T, rsdt + 40, 4 } },
        .{ .pointer = .{ T, xsdt + 36, 8 } },
        .{ .pointer = .{ T, xsdt + 44, 8 } },
        .{ .pointer = .{ T, fadt + 36, 4 } },
        .{ .pointer = .{ T, fadt + 40, 4 } },
        .{ .pointer = .{ T, fadt + 140, 8 } },
        .{ .checksum = .{ T, dsdt + 9, dsdt, tableLength(blob, dsdt) } },
        .{ .checksum = .{ T, fadt + 9, fadt, 276 } },
        .{ .checksum = .{ T, madt + 9, madt, tableLength(blob, madt) } },
        .{ .checksum = .{ T, rsdt + 9, rsdt, 44 } },
        .{ .checksum = .{ T, xsdt + 9, xsdt, 52 } },
        .{ .checksum = .{ R, 8, 0, 20 } },
        .{ .checksum = .{ R, 32, 0, 36 } },
    };
    try testing.expectEqual(expected.len * 128, used.loader_len);
    for (expected, 0..) |want, i| {
        const command = script[i * 128 ..][0..128];
        const name = command[4..][0..std.mem.indexOfScalar(u8, command[4..60], 0).?];
        switch (want) {
            .allocate => |a| {
                try testing.expectEqual(@as(u32, 1), readInt(u32, command, 0));
                try testing.expectEqualStrings(a[0], name);
                try testing.expectEqual(a[1], readInt(u32, command, 60));
                try testing.expectEqual(a[2], command[64]);
            },
            .pointer => |p| {
                try testing.expectEqual(@as(u32, 2), readInt(u32, command, 0));
                try testing.expectEqualStrings(p[0], name);
                try testing.expectEqualStrings(T, command[60..][0..std.mem.indexOfScalar(u8, command[60..116], 0).?]);
                try testing.expectEqual(p[1], readInt(u32, command, 116));
                try testing.expectEqual(p[2], command[120]);
            },
            .checksum => |c| {
                try testing.expectEqual(@as(u32, 3), readInt(u32, command, 0));
                try testing.expectEqualStrings(c[0], name);
                try testing.expectEqual(c[1], readInt(u32, command, 60));
                try testing.expectEqual(c[2], readInt(u32, command, 64));
                try testing.expectEqual(c[3], readInt(u32, command, 68));
                // The firmware computes every checksum: the files leave them zero.
                const file = if (std.mem.eql(u8, c[0], R)) rsdp[0..] else blob;
                try testing.expectEqual(@as(u8, 0), file[c[1]]);
            },
        }
    }
}

test "buildForFirmware refuses output buffers too short for their files" {
    const config = configForPlatform(4);
    var tables: [tables_file_max_bytes]u8 = undefined;
    var rsdp: [rsdp_file_bytes]u8 = undefined;
    var script: [loader_file_bytes]u8 = undefined;
    const needed = tablesFileBytes(config);
    try testing.expectError(error.TablesTooLarge, buildForFirmware(config, tables[0 .. needed - 1], &rsdp, &script));
    try testing.expectError(error.TablesTooLarge, buildForFirmware(config, &tables, rsdp[0..35], &script));
    try testing.expectError(error.TablesTooLarge, buildForFirmware(config, &tables, &rsdp, script[0 .. script.len - 1]));
    const used = try buildForFirmware(config, tables[0..needed], &rsdp, &script);
    try testing.expectEqual(needed, used.tables_len);
}

test "build fails cleanly when the tables do not fit" {
    const ram = try TestRam.init();
    defer ram.deinit();
    const mem = ram.memory();
    const base = platform.linux_boot.acpi_tables;
    const config = configForPlatform(4);

    try testing.expectError(error.TablesTooLarge, build(mem, base, base + 100, config));
    const needed = DirectPlacement.compute(base, config).end;
    try testing.expectError(error.TablesTooLarge, build(mem, base, needed - 1, config));
    // Tables whose end would leave RAM are refused even when the limit allows them.
    const near_end = ram.backing.len - 256;
    try testing.expectError(error.OutsideGuestRam, build(mem, near_end, near_end + 0x1_0000, config));
    try testing.expect(std.mem.allEqual(u8, ram.backing, 0xAA));

    _ = try build(mem, base, needed, config);
}

test "the largest configuration fits the BIOS area and the firmware buffers" {
    try testing.expectEqual(tables_file_max_bytes, tablesFileBytes(largest_config));
    try testing.expect(DirectPlacement.compute(platform.linux_boot.acpi_tables, largest_config).end <= platform.memory.bios_area_end);
    inline for (boot_paths) |path| {
        const ram = try TestRam.init();
        defer ram.deinit();
        const found = try expectTables(ram.memory(), try buildForTest(ram, path, largest_config));
        try testing.expectEqual(@as(u32, max_cpus), (try countMadtEntries(found.madt))[0]);
        _ = try AmlWalker.walk(found.dsdt[@sizeOf(Header)..]);
    }
    // Fewer CPUs or link IRQs never need more room.
    var config = configForPlatform(1);
    for ([_]u16{ 1 << 3, (1 << 5) | (1 << 10) | (1 << 11), 0xFFFA }) |mask| {
        for ([_]u3{ 0, 1, 5, 7 }) |sleep_type| {
            config.pci_irq_mask = mask;
            config.s5_sleep_type = sleep_type;
            try testing.expect(tablesFileBytes(config) <= tables_file_max_bytes);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AML checks

/// Decodes a PkgLength (20.2.4) at `aml_bytes[offset]`: returns its value and encoded size.
fn decodePkgLength(aml_bytes: []const u8, offset: usize) struct { value: usize, size: usize } {
    const lead = aml_bytes[offset];
    const follow: usize = lead >> 6;
    if (follow == 0) return .{ .value = lead & 0x3F, .size = 1 };
    var value: usize = lead & 0x0F;
    for (0..follow) |i| value |= @as(usize, aml_bytes[offset + 1 + i]) << @intCast(4 + 8 * i);
    return .{ .value = value, .size = 1 + follow };
}

/// Decodes a ComputationalData integer constant; returns its value and encoded size.
fn decodeInteger(aml_bytes: []const u8, offset: usize) !struct { value: u64, size: usize } {
    return switch (aml_bytes[offset]) {
        op.zero => .{ .value = 0, .size = 1 },
        op.one => .{ .value = 1, .size = 1 },
        op.byte_prefix => .{ .value = aml_bytes[offset + 1], .size = 2 },
        op.word_prefix => .{ .value = readInt(u16, aml_bytes, offset + 1), .size = 3 },
        op.dword_prefix => .{ .value = readInt(u32, aml_bytes, offset + 1), .size = 5 },
        op.qword_prefix => .{ .value = readInt(u64, aml_bytes, offset + 1), .size = 9 },
        else => error.TestUnexpectedResult,
    };
}

/// Walks the AML this file writes — the part of chapter 20 it uses — checking that every
/// PkgLength is the shortest encoding and ends inside its parent, that each term list ends
/// exactly where its package does, that namespace-level terms are only those SeaBIOS's DSDT
/// parser knows, that names are declared once, and that every Buffer is a well-formed
/// resource template. Records each declared name with its full path.
const AmlWalker = struct {
    aml: []const u8,
    objects: [max_objects]Object = undefined,
    count: usize = 0,

    const max_objects = 128;

    const Kind = enum { scope, device, method, name, op_region, field, buffer_field };

    const Object = struct {
        path: Path,
        kind: Kind,
        /// Name: where the data object starts. Method: the flags byte. Field: its bit count.
        /// Buffer field: its byte index.
        data: usize,
        end: usize,
    };

    /// An absolute path such as "\\_SB_.PCI0".
    const Path = struct {
        buf: [64]u8 = undefined,
        len: usize = 0,

        fn root() Path {
            var path = Path{};
            path.buf[0] = '\\';
            path.len = 1;
            return path;
        }

        fn slice(self: *const Path) []const u8 {
            return self.buf[0..self.len];
        }

        fn parent(self: Path) Path {
            var path = self;
            path.len = if (self.len <= 5) 1 else self.len - 5;
            return path;
        }

        fn child(self: Path, segment: [4]u8) Path {
            var path = self;
            if (path.len > 1) {
                path.buf[path.len] = '.';
                path.len += 1;
            }
            @memcpy(path.buf[path.len..][0..4], &segment);
            path.len += 4;
            return path;
        }
    };

    const Name = struct {
        root: bool = false,
        parents: usize = 0,
        segments: [8][4]u8 = undefined,
        count: usize = 0,
        end: usize = 0,

        fn resolve(self: Name, scope: Path) Path {
            var path = if (self.root) Path.root() else scope;
            for (0..self.parents) |_| path = path.parent();
            for (self.segments[0..self.count]) |segment| path = path.child(segment);
            return path;
        }
    };

    fn walk(aml: []const u8) !AmlWalker {
        var walker = AmlWalker{ .aml = aml };
        try walker.termList(0, aml.len, Path.root(), false);
        return walker;
    }

    fn find(self: *const AmlWalker, path: []const u8) ?Object {
        for (self.objects[0..self.count]) |object| {
            if (std.mem.eql(u8, object.path.slice(), path)) return object;
        }
        return null;
    }

    fn expectObject(self: *const AmlWalker, path: []const u8, kind: Kind) !Object {
        const object = self.find(path) orelse {
            std.debug.print("no AML object {s}\n", .{path});
            return error.TestUnexpectedResult;
        };
        try testing.expectEqual(kind, object.kind);
        return object;
    }

    fn record(self: *AmlWalker, path: Path, kind: Kind, data: usize, end: usize) !void {
        try testing.expect(self.count < max_objects);
        try testing.expect(self.find(path.slice()) == null);
        self.objects[self.count] = .{ .path = path, .kind = kind, .data = data, .end = end };
        self.count += 1;
    }

    fn termList(self: *AmlWalker, start: usize, end: usize, scope: Path, in_method: bool) anyerror!void {
        var pos = start;
        while (pos < end) pos = try self.term(pos, end, scope, in_method);
        try testing.expectEqual(end, pos);
    }

    const Package = struct { contents: usize, end: usize };

    /// The PkgLength at `pos`, of a package that must end by `parent_end`.
    fn package(self: *AmlWalker, pos: usize, parent_end: usize) !Package {
        try testing.expect(pos < parent_end);
        const length = decodePkgLength(self.aml, pos);
        try testing.expect(length.value >= length.size);
        try testing.expectEqual(@as(usize, pkgLengthSize(@intCast(length.value - length.size))), length.size);
        const end = pos + length.value;
        try testing.expect(end <= parent_end);
        return .{ .contents = pos + length.size, .end = end };
    }

    fn term(self: *AmlWalker, pos: usize, end: usize, scope: Path, in_method: bool) anyerror!usize {
        const aml = self.aml;
        switch (aml[pos]) {
            op.scope => {
                try testing.expect(!in_method);
                const pkg = try self.package(pos + 1, end);
                const name = try self.nameString(pkg.contents, pkg.end);
                const path = name.resolve(scope);
                try self.record(path, .scope, name.end, pkg.end);
                try self.termList(name.end, pkg.end, path, false);
                return pkg.end;
            },
            op.method => {
                try testing.expect(!in_method);
                const pkg = try self.package(pos + 1, end);
                const name = try self.nameString(pkg.contents, pkg.end);
                const path = name.resolve(scope);
                try testing.expect(name.end < pkg.end);
                try self.record(path, .method, name.end, pkg.end);
                try self.termList(name.end + 1, pkg.end, path, true);
                return pkg.end;
            },
            op.name => {
                const name = try self.nameString(pos + 1, end);
                const data_end = try self.termArg(name.end, end);
                try self.record(name.resolve(scope), .name, name.end, data_end);
                return data_end;
            },
            op.ext_prefix => {
                try testing.expect(!in_method and pos + 1 < end);
                switch (aml[pos + 1]) {
                    op.ext_device => {
                        const pkg = try self.package(pos + 2, end);
                        const name = try self.nameString(pkg.contents, pkg.end);
                        const path = name.resolve(scope);
                        try self.record(path, .device, name.end, pkg.end);
                        try self.termList(name.end, pkg.end, path, false);
                        return pkg.end;
                    },
                    op.ext_op_region => {
                        const name = try self.nameString(pos + 2, end);
                        const offset_end = try self.termArg(name.end + 1, end);
                        const length_end = try self.termArg(offset_end, end);
                        try self.record(name.resolve(scope), .op_region, name.end, length_end);
                        return length_end;
                    },
                    op.ext_field => {
                        const pkg = try self.package(pos + 2, end);
                        const region = try self.nameString(pkg.contents, pkg.end);
                        _ = try self.expectObject(region.resolve(scope).slice(), .op_region);
                        var at = region.end + 1; // FieldFlags
                        while (at < pkg.end) {
                            try testing.expect(at + 4 < pkg.end);
                            var field = Name{ .count = 1 };
                            field.segments[0] = aml[at..][0..4].*;
                            try expectNameSegment(field.segments[0]);
                            const bits = decodePkgLength(aml, at + 4);
                            try self.record(field.resolve(scope), .field, at + 4, at + 4 + bits.size);
                            at += 4 + bits.size;
                        }
                        try testing.expectEqual(pkg.end, at);
                        return pkg.end;
                    },
                    else => return error.TestUnexpectedResult,
                }
            },
            else => {
                // Anything else is a statement, which this DSDT has only inside methods.
                try testing.expect(in_method);
                return self.statement(pos, end, scope);
            },
        }
    }

    fn statement(self: *AmlWalker, pos: usize, end: usize, scope: Path) !usize {
        switch (self.aml[pos]) {
            op.@"if" => {
                const pkg = try self.package(pos + 1, end);
                const predicate_end = try self.termArg(pkg.contents, pkg.end);
                try self.termList(predicate_end, pkg.end, scope, true);
                return pkg.end;
            },
            op.@"return" => return self.termArg(pos + 1, end),
            op.store => return self.superName(try self.termArg(pos + 1, end), end),
            op.@"and", op.@"or" => return self.termArg(pos, end),
            op.create_dword_field => {
                const buffer_end = try self.termArg(pos + 1, end);
                const index_end = try self.termArg(buffer_end, end);
                const name = try self.nameString(index_end, end);
                try self.record(name.resolve(scope), .buffer_field, buffer_end, name.end);
                return name.end;
            },
            else => return error.TestUnexpectedResult,
        }
    }

    fn termArg(self: *AmlWalker, pos: usize, end: usize) anyerror!usize {
        try testing.expect(pos < end);
        const next = switch (self.aml[pos]) {
            op.zero, op.one, op.ones => pos + 1,
            op.byte_prefix => pos + 2,
            op.word_prefix => pos + 3,
            op.dword_prefix => pos + 5,
            op.qword_prefix => pos + 9,
            op.local0...op.local0 + 7, op.arg0...op.arg0 + 6 => pos + 1,
            op.@"and", op.@"or" => blk: {
                const left = try self.termArg(pos + 1, end);
                const right = try self.termArg(left, end);
                break :blk try self.target(right, end);
            },
            op.lnot => try self.termArg(pos + 1, end),
            op.buffer => try self.buffer(pos, end),
            op.package => try self.packageObject(pos, end),
            else => (try self.nameString(pos, end)).end,
        };
        try testing.expect(next <= end);
        return next;
    }

    fn target(self: *AmlWalker, pos: usize, end: usize) !usize {
        try testing.expect(pos < end);
        if (self.aml[pos] == op.null_name) return pos + 1;
        return self.superName(pos, end);
    }

    fn superName(self: *AmlWalker, pos: usize, end: usize) !usize {
        try testing.expect(pos < end);
        return switch (self.aml[pos]) {
            op.local0...op.local0 + 7, op.arg0...op.arg0 + 6 => pos + 1,
            else => (try self.nameString(pos, end)).end,
        };
    }

    fn buffer(self: *AmlWalker, pos: usize, end: usize) !usize {
        const pkg = try self.package(pos + 1, end);
        const size = try decodeInteger(self.aml, pkg.contents);
        const data = pkg.contents + size.size;
        try testing.expect(data <= pkg.end);
        try testing.expectEqual(size.value, pkg.end - data);
        var descriptors = Resources{ .bytes = self.aml[data..pkg.end] };
        while (try descriptors.next()) |_| {}
        return pkg.end;
    }

    fn packageObject(self: *AmlWalker, pos: usize, end: usize) !usize {
        const pkg = try self.package(pos + 1, end);
        try testing.expect(pkg.contents < pkg.end);
        const count = self.aml[pkg.contents];
        var at = pkg.contents + 1;
        var elements: usize = 0;
        while (at < pkg.end) : (elements += 1) at = try self.termArg(at, pkg.end);
        try testing.expectEqual(pkg.end, at);
        try testing.expectEqual(@as(usize, count), elements);
        return pkg.end;
    }

    fn nameString(self: *AmlWalker, pos: usize, end: usize) !Name {
        const aml = self.aml;
        var name = Name{};
        var at = pos;
        if (at < end and aml[at] == op.root_char) {
            name.root = true;
            at += 1;
        }
        while (at < end and aml[at] == op.parent_prefix) : (at += 1) name.parents += 1;
        try testing.expect(at < end);
        name.count = 1;
        if (aml[at] == op.dual_name_prefix) {
            name.count = 2;
            at += 1;
        } else if (aml[at] == op.multi_name_prefix) {
            try testing.expect(at + 1 < end);
            name.count = aml[at + 1];
            try testing.expect(name.count >= 3 and name.count <= name.segments.len);
            at += 2;
        }
        for (name.segments[0..name.count]) |*segment| {
            try testing.expect(at + 4 <= end);
            segment.* = aml[at..][0..4].*;
            try expectNameSegment(segment.*);
            at += 4;
        }
        name.end = at;
        return name;
    }
};

fn expectNameSegment(segment: [4]u8) !void {
    try testing.expect(std.ascii.isUpper(segment[0]) or segment[0] == '_');
    for (segment[1..]) |c| try testing.expect(std.ascii.isUpper(c) or std.ascii.isDigit(c) or c == '_');
}

/// Iterates over a resource template's descriptors (6.4), checking that each fits and that the
/// template ends with an EndTag whose checksum is 0, exactly at its end.
const Resources = struct {
    bytes: []const u8,
    at: usize = 0,
    ended: bool = false,

    const Descriptor = struct {
        /// Small items: the item name (bits 6:3). Large items: the whole tag byte.
        tag: u8,
        body: []const u8,
    };

    fn next(self: *Resources) !?Descriptor {
        if (self.ended) return null;
        try testing.expect(self.at < self.bytes.len);
        const tag = self.bytes[self.at];
        var body_start: usize = undefined;
        var length: usize = undefined;
        if (tag & 0x80 == 0) {
            body_start = self.at + 1;
            length = tag & 0x07;
        } else {
            try testing.expect(self.at + 3 <= self.bytes.len);
            body_start = self.at + 3;
            length = readInt(u16, self.bytes, self.at + 1);
        }
        const body_end = body_start + length;
        try testing.expect(body_end <= self.bytes.len);
        self.at = body_end;
        const body = self.bytes[body_start..body_end];
        if (tag & 0x80 == 0 and (tag >> 3) & 0x0F == 0x0F) {
            try testing.expectEqual(@as(usize, 1), length);
            try testing.expectEqual(@as(u8, 0), body[0]);
            try testing.expectEqual(self.bytes.len, body_end);
            self.ended = true;
            return null;
        }
        return .{ .tag = if (tag & 0x80 == 0) (tag >> 3) & 0x0F else tag, .body = body };
    }

    /// Every descriptor of the template, which must hold exactly `expected.len` of them.
    fn all(bytes: []const u8, comptime count: usize) ![count]Descriptor {
        var iterator = Resources{ .bytes = bytes };
        var out: [count]Descriptor = undefined;
        for (&out) |*descriptor| descriptor.* = (try iterator.next()) orelse return error.TestUnexpectedResult;
        try testing.expect(try iterator.next() == null);
        return out;
    }
};

fn testDsdt(config: Config) !struct { ram: TestRam, walker: AmlWalker } {
    const ram = try TestRam.init();
    errdefer ram.deinit();
    const found = try expectTables(ram.memory(), try buildForTest(ram, .direct, config));
    return .{ .ram = ram, .walker = try AmlWalker.walk(found.dsdt[@sizeOf(Header)..]) };
}

/// The resource template a `Name (x, ResourceTemplate () {...})` holds.
fn nameTemplate(walker: *const AmlWalker, path: []const u8) ![]const u8 {
    const object = try walker.expectObject(path, .name);
    const aml = walker.aml;
    try testing.expectEqual(@as(u8, op.buffer), aml[object.data]);
    const length = decodePkgLength(aml, object.data + 1);
    const size = try decodeInteger(aml, object.data + 1 + length.size);
    const start = object.data + 1 + length.size + size.size;
    return aml[start..object.end];
}

fn expectNameInteger(walker: *const AmlWalker, path: []const u8, value: u64) !void {
    const object = try walker.expectObject(path, .name);
    const integer = try decodeInteger(walker.aml, object.data);
    try testing.expectEqual(value, integer.value);
    try testing.expectEqual(object.end, object.data + integer.size);
}

/// `Name (_HID, EisaId (id))` in the one form SeaBIOS recognises: NameOp, "_HID", DWordConst.
fn expectHid(walker: *const AmlWalker, device: []const u8, comptime id: *const [7]u8) !void {
    var path_buf: [64]u8 = undefined;
    const path = try std.fmt.bufPrint(&path_buf, "{s}._HID", .{device});
    const object = try walker.expectObject(path, .name);
    const aml = walker.aml;
    try testing.expectEqualSlices(u8, "\x08_HID", aml[object.data - 5 .. object.data]);
    try testing.expectEqualSlices(u8, &([_]u8{op.dword_prefix} ++ eisaId(id)), aml[object.data..object.end]);
}

fn expectWindow(descriptor: Resources.Descriptor, space: u8, type_flags: u8, min: u32, max: u32) !void {
    const body = descriptor.body;
    try testing.expectEqual(space, body[0]);
    try testing.expectEqual(@as(u8, 0x0C), body[1]); // fixed minimum and maximum, positive decode
    try testing.expectEqual(type_flags, body[2]);
    switch (descriptor.tag) {
        0x88 => {
            try testing.expectEqual(@as(usize, 13), body.len);
            try testing.expectEqual(min, readInt(u16, body, 5));
            try testing.expectEqual(max, readInt(u16, body, 7));
            try testing.expectEqual(@as(u16, 0), readInt(u16, body, 9));
            try testing.expectEqual(max - min + 1, readInt(u16, body, 11));
        },
        0x87 => {
            try testing.expectEqual(@as(usize, 23), body.len);
            try testing.expectEqual(min, readInt(u32, body, 7));
            try testing.expectEqual(max, readInt(u32, body, 11));
            try testing.expectEqual(@as(u32, 0), readInt(u32, body, 15));
            try testing.expectEqual(max - min + 1, readInt(u32, body, 19));
        },
        else => return error.TestUnexpectedResult,
    }
}

fn expectIo(descriptor: Resources.Descriptor, port: u16, len: u8) !void {
    try testing.expectEqual(@as(u8, 0x08), descriptor.tag);
    try testing.expectEqualSlices(u8, &resource.io(port, len), &([_]u8{0x47} ++ descriptor.body[0..7].*));
}

fn expectIrq(descriptor: Resources.Descriptor, irq: u4) !void {
    try testing.expectEqual(@as(u8, 0x04), descriptor.tag);
    try testing.expectEqual(@as(usize, 2), descriptor.body.len); // no flags byte: edge, high, exclusive
    try testing.expectEqual(@as(u16, 1) << irq, readInt(u16, descriptor.body, 0));
}

fn expectExtendedIrqs(descriptor: Resources.Descriptor, irqs: []const u32) !void {
    try testing.expectEqual(@as(u8, 0x89), descriptor.tag);
    try testing.expectEqual(@as(u8, 0x09), descriptor.body[0]); // consumer, level, active high, shared
    try testing.expectEqual(irqs.len, descriptor.body[1]);
    try testing.expectEqual(2 + 4 * irqs.len, descriptor.body.len);
    for (irqs, 0..) |irq, i| try testing.expectEqual(irq, readInt(u32, descriptor.body, 2 + 4 * i));
}

test "PkgLength takes the shortest encoding, and Aml.close widens it in place" {
    for ([_]u32{ 0, 1, 0x3E, 0x3F, 0x40, 0xFFD, 0xFFE, 0xFFFFC, 0xFFFFD, 0x10_0000 }) |contents| {
        const size = pkgLengthSize(contents);
        var encoded: [4]u8 = undefined;
        encodePkgLength(encoded[0..size], contents + size);
        const decoded = decodePkgLength(&encoded, 0);
        try testing.expectEqual(@as(usize, size), decoded.size);
        try testing.expectEqual(@as(usize, contents + size), decoded.value);
    }
    try testing.expectEqual(@as(u32, 1), pkgLengthSize(0x3E));
    try testing.expectEqual(@as(u32, 2), pkgLengthSize(0x3F));
    try testing.expectEqual(@as(u32, 3), pkgLengthSize(0xFFE));

    // Nested packages whose lengths straddle the one- and two-byte encodings, measured and
    // then written into exactly the measured room.
    const Nested = struct {
        fn write(aml: *Aml, inner: u32) void {
            aml.byte(op.package);
            aml.open();
            aml.byte(2);
            aml.byte(op.buffer);
            aml.open();
            for (0..inner) |_| aml.byte(0x5A);
            aml.close();
            aml.integer(0x1234);
            aml.close();
        }
    };
    for ([_]u32{ 1, 0x3C, 0x3D, 0x3E, 0x200, 0xFFB, 0xFFC, 0x1000 }) |inner| {
        var measure = Aml{ .out = null };
        Nested.write(&measure, inner);
        const out = try testing.allocator.alloc(u8, measure.len);
        defer testing.allocator.free(out);
        var aml = Aml{ .out = out };
        Nested.write(&aml, inner);
        try testing.expectEqual(measure.len, aml.len);
        const outer = decodePkgLength(out, 1);
        try testing.expectEqual(out.len, 1 + outer.value);
        const buffer_at = 1 + outer.size + 1;
        const inner_length = decodePkgLength(out, buffer_at + 1);
        try testing.expectEqual(@as(usize, inner + inner_length.size), inner_length.value);
        try testing.expect(std.mem.allEqual(u8, out[buffer_at + 1 + inner_length.size ..][0..inner], 0x5A));
        try testing.expectEqualSlices(u8, &.{ op.word_prefix, 0x34, 0x12 }, out[out.len - 3 ..]);
    }
}

test "nameString and eisaId encode as ASL does" {
    try testing.expectEqualSlices(u8, "_S5_", nameString("_S5_"));
    try testing.expectEqualSlices(u8, "\\_SB_", nameString("\\_SB_"));
    try testing.expectEqualSlices(u8, "\\\x2E_SB_PCI0", nameString("\\_SB_.PCI0"));
    try testing.expectEqualSlices(u8, "\\\x2F\x04_SB_PCI0ISA_PRQ0", nameString("\\_SB_.PCI0.ISA_.PRQ0"));
    try testing.expectEqualSlices(u8, "^^LNKA", nameString("^^LNKA"));
    try testing.expectEqual([4]u8{ 0x41, 0xD0, 0x0A, 0x03 }, eisaId("PNP0A03"));
    try testing.expectEqual([4]u8{ 0x41, 0xD0, 0x03, 0x03 }, eisaId("PNP0303"));
    try testing.expectEqual([4]u8{ 0x41, 0xD0, 0x0C, 0x0F }, eisaId("PNP0C0F"));
}

test "DSDT declares exactly the expected namespace" {
    const dsdt = try testDsdt(configForPlatform(1));
    defer dsdt.ram.deinit();
    const w = &dsdt.walker;
    const D = AmlWalker.Kind;
    const expected = [_]struct { []const u8, D }{
        .{ "\\_SB_", .scope },
        .{ "\\_SB_.PCI0", .device },
        .{ "\\_SB_.PCI0._HID", .name },
        .{ "\\_SB_.PCI0._ADR", .name },
        .{ "\\_SB_.PCI0._UID", .name },
        .{ "\\_SB_.PCI0._BBN", .name },
        .{ "\\_SB_.PCI0._CRS", .name },
        .{ "\\_SB_.PCI0._PRT", .name },
        .{ "\\_SB_.PCI0.ISA_", .device },
        .{ "\\_SB_.PCI0.ISA_._ADR", .name },
        .{ "\\_SB_.PCI0.ISA_.PIRQ", .op_region },
        .{ "\\_SB_.PCI0.ISA_.PRQ0", .field },
        .{ "\\_SB_.PCI0.ISA_.PRQ1", .field },
        .{ "\\_SB_.PCI0.ISA_.PRQ2", .field },
        .{ "\\_SB_.PCI0.ISA_.PRQ3", .field },
        .{ "\\_SB_.PCI0.ISA_.RTC_", .device },
        .{ "\\_SB_.PCI0.ISA_.RTC_._HID", .name },
        .{ "\\_SB_.PCI0.ISA_.RTC_._CRS", .name },
        .{ "\\_SB_.PCI0.ISA_.KBD_", .device },
        .{ "\\_SB_.PCI0.ISA_.KBD_._HID", .name },
        .{ "\\_SB_.PCI0.ISA_.KBD_._CRS", .name },
        .{ "\\_SB_.PCI0.ISA_.MOU_", .device },
        .{ "\\_SB_.PCI0.ISA_.MOU_._HID", .name },
        .{ "\\_SB_.PCI0.ISA_.MOU_._CRS", .name },
        .{ "\\_SB_.PCI0.ISA_.COM1", .device },
        .{ "\\_SB_.PCI0.ISA_.COM1._HID", .name },
        .{ "\\_SB_.PCI0.ISA_.COM1._UID", .name },
        .{ "\\_SB_.PCI0.ISA_.COM1._CRS", .name },
        .{ "\\_S5_", .name },
    };
    for (expected) |object| _ = try w.expectObject(object[0], object[1]);
    // Each link: the device, _HID, _UID, _PRS, four methods and the three names they create.
    const per_link = [_]struct { []const u8, D }{
        .{ "", .device },                 .{ "._HID", .name },              .{ "._UID", .name },
        .{ "._PRS", .name },              .{ "._STA", .method },            .{ "._DIS", .method },
        .{ "._CRS", .method },            .{ "._SRS", .method },            .{ "._CRS.BUF_", .name },
        .{ "._CRS.IRQ_", .buffer_field }, .{ "._SRS.IRQ_", .buffer_field },
    };
    for (link_names) |link| {
        for (per_link) |object| {
            var buf: [64]u8 = undefined;
            _ = try w.expectObject(try std.fmt.bufPrint(&buf, "\\_SB_.{s}{s}", .{ link, object[0] }), object[1]);
        }
    }
    try testing.expectEqual(expected.len + link_names.len * per_link.len, w.count);
}

test "DSDT: \\_SB.PCI0 is a PCI root bridge with the machine's windows" {
    var config = configForPlatform(1);
    config.pci_hole_start = 0x8000_0000;
    const dsdt = try testDsdt(config);
    defer dsdt.ram.deinit();
    const w = &dsdt.walker;

    try expectHid(w, "\\_SB_.PCI0", "PNP0A03");
    try expectNameInteger(w, "\\_SB_.PCI0._ADR", 0);
    try expectNameInteger(w, "\\_SB_.PCI0._UID", 0);
    try expectNameInteger(w, "\\_SB_.PCI0._BBN", 0);

    const r = try Resources.all(try nameTemplate(w, "\\_SB_.PCI0._CRS"), 6);
    try expectWindow(r[0], resource.space_bus, 0, 0x00, 0xFF);
    try expectIo(r[1], 0xCF8, 8);
    try expectWindow(r[2], resource.space_io, 0x03, 0x0000, 0x0CF7);
    try expectWindow(r[3], resource.space_io, 0x03, 0x0D00, 0xFFFF);
    try expectWindow(r[4], resource.space_memory, 0x03, 0xA_0000, 0xB_FFFF);
    try expectWindow(r[5], resource.space_memory, 0x01, 0x8000_0000, 0xFEBF_FFFF);
}

test "DSDT: _PRT routes every slot and pin to LNKA-LNKD the way the PIIX3 does" {
    const dsdt = try testDsdt(configForPlatform(1));
    defer dsdt.ram.deinit();
    const w = &dsdt.walker;
    const aml = w.aml;
    const prt = try w.expectObject("\\_SB_.PCI0._PRT", .name);
    try testing.expectEqual(@as(u8, op.package), aml[prt.data]);
    const outer = decodePkgLength(aml, prt.data + 1);
    try testing.expectEqual(@as(u8, 124), aml[prt.data + 1 + outer.size]);
    var at = prt.data + 1 + outer.size + 1;
    for (1..32) |slot| {
        for (0..4) |pin| {
            try testing.expectEqual(@as(u8, op.package), aml[at]);
            const entry = decodePkgLength(aml, at + 1);
            const entry_end = at + 1 + entry.value;
            var e = at + 1 + entry.size;
            try testing.expectEqual(@as(u8, 4), aml[e]);
            e += 1;
            const address = try decodeInteger(aml, e);
            try testing.expectEqual(@as(u64, slot << 16 | 0xFFFF), address.value);
            e += address.size;
            const pin_value = try decodeInteger(aml, e);
            try testing.expectEqual(@as(u64, pin), pin_value.value);
            e += pin_value.size;
            // Source: a single name segment; the upward search from \_SB.PCI0 finds it in \_SB.
            const link = aml[e..][0..4];
            const expected_link = [4]u8{ 'L', 'N', 'K', 'A' + @as(u8, @intCast((slot + pin - 1) % 4)) };
            try testing.expectEqualSlices(u8, &expected_link, link);
            var buf: [32]u8 = undefined;
            try testing.expect(w.find(try std.fmt.bufPrint(&buf, "\\_SB_.PCI0.{s}", .{link})) == null);
            _ = try w.expectObject(try std.fmt.bufPrint(&buf, "\\_SB_.{s}", .{link}), .device);
            e += 4;
            try testing.expectEqual(@as(u8, op.zero), aml[e]);
            try testing.expectEqual(entry_end, e + 1);
            at = entry_end;
        }
    }
    try testing.expectEqual(prt.end, at);
    // Slot 1 INTA is PIRQA, slot 2 INTA PIRQB, slot 1 INTD PIRQD, slot 4 INTB PIRQA.
    try testing.expectEqual(@as(u32, 0), linkIndex(1, 0));
    try testing.expectEqual(@as(u32, 1), linkIndex(2, 0));
    try testing.expectEqual(@as(u32, 3), linkIndex(1, 3));
    try testing.expectEqual(@as(u32, 0), linkIndex(4, 1));
}

test "DSDT: the links read and write the PIIX3 PIRQ route registers" {
    const dsdt = try testDsdt(configForPlatform(1));
    defer dsdt.ram.deinit();
    const w = &dsdt.walker;
    const aml = w.aml;

    try expectNameInteger(w, "\\_SB_.PCI0.ISA_._ADR", 0x0001_0000);
    const region = try w.expectObject("\\_SB_.PCI0.ISA_.PIRQ", .op_region);
    try testing.expectEqualSlices(u8, &.{ region_pci_config, op.byte_prefix, 0x60, op.byte_prefix, 4 }, aml[region.data..region.end]);
    for (pirq_fields) |field| {
        var buf: [32]u8 = undefined;
        const object = try w.expectObject(try std.fmt.bufPrint(&buf, "\\_SB_.PCI0.ISA_.{s}", .{field}), .field);
        try testing.expectEqual(@as(u8, 8), aml[object.data]);
    }

    inline for (link_names, 0..) |link, index| {
        const device = "\\_SB_." ++ link;
        try expectHid(w, device, "PNP0C0F");
        try expectNameInteger(w, device ++ "._UID", index + 1);
        try expectExtendedIrqs((try Resources.all(try nameTemplate(w, device ++ "._PRS"), 1))[0], &.{ 5, 10, 11 });
        try expectExtendedIrqs((try Resources.all(try nameTemplate(w, device ++ "._CRS.BUF_"), 1))[0], &.{0});

        // Flags: argument count, and bit 3 for the methods that create names.
        for ([_]struct { []const u8, u8 }{ .{ "_STA", 0x00 }, .{ "_DIS", 0x00 }, .{ "_CRS", 0x08 }, .{ "_SRS", 0x09 } }) |m| {
            var buf: [32]u8 = undefined;
            const method = try w.expectObject(try std.fmt.bufPrint(&buf, "{s}.{s}", .{ device, m[0] }), .method);
            try testing.expectEqual(m[1], aml[method.data]);
            // Each method uses its own link's register, and no other.
            const body = aml[method.data..method.end];
            inline for (pirq_fields, 0..) |field, other| {
                const path = comptime nameString("\\_SB_.PCI0.ISA_." ++ field);
                try testing.expectEqual(other == index, std.mem.indexOf(u8, body, path) != null);
            }
        }
        // IRQ_ is the first interrupt number: byte 5 of the descriptor.
        const created = try w.expectObject(device ++ "._CRS.IRQ_", .buffer_field);
        try testing.expectEqual(@as(u64, 5), (try decodeInteger(aml, created.data)).value);
    }
}

test "DSDT: ISA devices under \\_SB.PCI0.ISA, as SeaBIOS and Linux look for them" {
    const dsdt = try testDsdt(configForPlatform(1));
    defer dsdt.ram.deinit();
    const w = &dsdt.walker;

    try expectHid(w, "\\_SB_.PCI0.ISA_.RTC_", "PNP0B00");
    const rtc = try Resources.all(try nameTemplate(w, "\\_SB_.PCI0.ISA_.RTC_._CRS"), 2);
    try expectIo(rtc[0], 0x70, 2);
    try expectIrq(rtc[1], 8);

    try expectHid(w, "\\_SB_.PCI0.ISA_.KBD_", "PNP0303");
    const kbd = try Resources.all(try nameTemplate(w, "\\_SB_.PCI0.ISA_.KBD_._CRS"), 3);
    try expectIo(kbd[0], 0x60, 1);
    try expectIo(kbd[1], 0x64, 1);
    try expectIrq(kbd[2], 1);
    // SeaBIOS initialises PS/2 only if PNP0303 is present: no _STA means present.
    try testing.expect(w.find("\\_SB_.PCI0.ISA_.KBD_._STA") == null);

    try expectHid(w, "\\_SB_.PCI0.ISA_.MOU_", "PNP0F13");
    try expectIrq((try Resources.all(try nameTemplate(w, "\\_SB_.PCI0.ISA_.MOU_._CRS"), 1))[0], 12);

    try expectHid(w, "\\_SB_.PCI0.ISA_.COM1", "PNP0501");
    try expectNameInteger(w, "\\_SB_.PCI0.ISA_.COM1._UID", 1);
    const com1 = try Resources.all(try nameTemplate(w, "\\_SB_.PCI0.ISA_.COM1._CRS"), 2);
    try expectIo(com1[0], 0x3F8, 8);
    try expectIrq(com1[1], 4);
}

test "DSDT: \\_S5 announces the Config's sleep type" {
    for (0..8) |sleep_type| {
        var config = configForPlatform(1);
        config.s5_sleep_type = @intCast(sleep_type);
        const dsdt = try testDsdt(config);
        defer dsdt.ram.deinit();
        const w = &dsdt.walker;
        const aml = w.aml;
        const s5 = try w.expectObject("\\_S5_", .name);
        try testing.expectEqual(aml.len, s5.end);
        try testing.expectEqual(@as(u8, op.package), aml[s5.data]);
        const length = decodePkgLength(aml, s5.data + 1);
        var at = s5.data + 1 + length.size;
        try testing.expectEqual(@as(u8, 4), aml[at]);
        at += 1;
        var elements: [4]u64 = undefined;
        for (&elements) |*element| {
            const integer = try decodeInteger(aml, at);
            element.* = integer.value;
            at += integer.size;
        }
        try testing.expectEqual(s5.end, at);
        try testing.expectEqual([4]u64{ sleep_type, sleep_type, 0, 0 }, elements);
    }
}
