//! ACPI tables for direct boot (ACPI 6.x, chapter 5): RSDP → XSDT → {FADT → {FACS, DSDT}, MADT}.
//! Just enough for Linux to find the interrupt controllers and CPUs (MADT), the fixed PM
//! hardware — PM1 event/control, PM timer, reset register — (FADT), and how to power off (the
//! DSDT's \_S5 object). Tables are laid out and checked against the limit and guest RAM before
//! the first byte is written.
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
    ioapic_base: u32,
    lapic_base: u32,
    /// SLP_TYP for S5 (soft off), announced by \_S5 and recognised by the PM1 control register.
    s5_sleep_type: u3,
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
    // The 32-bit table pointers (RSDP→RSDT aside, FADT→FACS/DSDT) must be able to hold every address.
    assert(limit <= 1 << 32);
    assertValid(config);

    const layout = Layout.compute(base, config.cpu_count);
    if (layout.end > limit) return error.TablesTooLarge;
    const bytes = mem.slice(layout.rsdp, layout.end - layout.rsdp) orelse return error.OutsideGuestRam;
    @memset(bytes, 0);
    const region = Region{ .bytes = bytes, .gpa = layout.rsdp };

    writeFacs(region, layout.facs);
    writeDsdt(region, layout.dsdt, config.s5_sleep_type);
    writeFadt(region, layout, config);
    writeMadt(region, layout.madt, config);
    writeXsdt(region, layout.xsdt, &.{ layout.fadt, layout.madt });
    writeRsdp(region, layout.rsdp, layout.xsdt);
    return layout.rsdp;
}

fn assertValid(config: Config) void {
    assert(config.cpu_count >= 1 and config.cpu_count <= max_cpus);
    // The SCI is an ISA IRQ; 0 and 2 are the timer and the cascade.
    assert(config.sci_irq < 16 and config.sci_irq != 0 and config.sci_irq != 2);
    assert(config.pm1a_event != 0 and config.pm1a_control != 0 and config.pm_timer != 0);
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
    /// No RSDT: revision-2 consumers use the XSDT.
    rsdt_address: u32 align(1) = 0,
    length: u32 align(1) = @sizeOf(Rsdp),
    xsdt_address: u64 align(1),
    /// Covers all 36 bytes.
    extended_checksum: u8 = 0,
    reserved: [3]u8 = .{ 0, 0, 0 },

    const v1_length = 20;

    comptime {
        assert(@sizeOf(Rsdp) == 36);
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

const xsdt_entries = 2;
const xsdt_size = @sizeOf(Header) + xsdt_entries * 8;
const dsdt_revision = 2; // 64-bit AML integers

fn madtSize(cpu_count: u32) u32 {
    return @sizeOf(Madt) + cpu_count * @sizeOf(MadtLocalApic) + @sizeOf(MadtIoApic) +
        2 * @sizeOf(MadtInterruptSourceOverride) + @sizeOf(MadtLocalApicNmi);
}

// ---------------------------------------------------------------------------------------------
// DSDT AML (ACPI 6.x, chapter 20), hand-encoded:
//
//   Scope (\_SB) {}
//   Name (_S5, Package (4) { s5, s5, 0, 0 })
//
// The Scope gives devices a home later. The package elements use BytePrefix constants so the
// encoding has a fixed size whatever the sleep type.

const aml = struct {
    const zero_op = 0x00;
    const name_op = 0x08;
    const byte_prefix = 0x0A;
    const scope_op = 0x10;
    const package_op = 0x12;
    const root_char = '\\';
};

const aml_sb_scope = [_]u8{
    aml.scope_op,
    6, // PkgLength: itself (1) + NameString (5)
    aml.root_char,
    '_',
    'S',
    'B',
    '_',
};

/// Offset of each sleep-type byte in `amlS5`.
const aml_s5_sleep_type_offsets = [_]usize{ 9, 11 };

fn amlS5(sleep_type: u3) [14]u8 {
    return .{
        aml.name_op,    '_', 'S', '5', '_',
        aml.package_op,
        8, // PkgLength: itself (1) + NumElements (1) + 2 + 2 + 1 + 1
        4, // NumElements
        aml.byte_prefix, sleep_type, // SLP_TYPa
        aml.byte_prefix, sleep_type, // SLP_TYPb
        aml.zero_op, // reserved
        aml.zero_op, // reserved
    };
}

const dsdt_size = @sizeOf(Header) + aml_sb_scope.len + amlS5(0).len;

// ---------------------------------------------------------------------------------------------
// Placement and writing

const Layout = struct {
    rsdp: u64,
    xsdt: u64,
    fadt: u64,
    madt: u64,
    dsdt: u64,
    facs: u64,
    end: u64,

    fn compute(base: u64, cpu_count: u32) Layout {
        const rsdp = std.mem.alignForward(u64, base, 16);
        const xsdt = std.mem.alignForward(u64, rsdp + @sizeOf(Rsdp), 8);
        const fadt = std.mem.alignForward(u64, xsdt + xsdt_size, 8);
        const madt = std.mem.alignForward(u64, fadt + @sizeOf(Fadt), 8);
        const dsdt = std.mem.alignForward(u64, madt + madtSize(cpu_count), 8);
        const facs = std.mem.alignForward(u64, dsdt + dsdt_size, Facs.alignment);
        return .{ .rsdp = rsdp, .xsdt = xsdt, .fadt = fadt, .madt = madt, .dsdt = dsdt, .facs = facs, .end = facs + @sizeOf(Facs) };
    }
};

/// The host view of the guest range the tables occupy, addressed by guest-physical address.
const Region = struct {
    bytes: []u8,
    gpa: u64,

    fn at(self: Region, gpa: u64, len: usize) []u8 {
        assert(gpa >= self.gpa);
        return self.bytes[@intCast(gpa - self.gpa)..][0..len];
    }

    fn put(self: Region, gpa: u64, value: anytype) void {
        const bytes = std.mem.asBytes(&value);
        @memcpy(self.at(gpa, bytes.len), bytes);
    }

    /// Fills in the header checksum once the whole table has been written.
    fn seal(self: Region, gpa: u64, len: usize) void {
        const table = self.at(gpa, len);
        assert(table[Header.checksum_offset] == 0);
        table[Header.checksum_offset] = checksum(table);
    }
};

fn tableHeader(signature: *const [4]u8, length: u32, revision: u8) Header {
    return .{ .signature = signature.*, .length = length, .revision = revision };
}

fn writeRsdp(region: Region, gpa: u64, xsdt: u64) void {
    region.put(gpa, Rsdp{ .xsdt_address = xsdt });
    const bytes = region.at(gpa, @sizeOf(Rsdp));
    bytes[@offsetOf(Rsdp, "checksum")] = checksum(bytes[0..Rsdp.v1_length]);
    bytes[@offsetOf(Rsdp, "extended_checksum")] = checksum(bytes);
}

fn writeXsdt(region: Region, gpa: u64, entries: *const [xsdt_entries]u64) void {
    region.put(gpa, tableHeader("XSDT", xsdt_size, 1));
    for (entries, 0..) |entry, i| {
        // Entries are 8-byte fields at offset 36: not naturally aligned, so written as bytes.
        std.mem.writeInt(u64, region.at(gpa + @sizeOf(Header) + i * 8, 8)[0..8], entry, .little);
    }
    region.seal(gpa, xsdt_size);
}

fn writeFadt(region: Region, layout: Layout, config: Config) void {
    region.put(layout.fadt, Fadt{
        .header = tableHeader("FACP", @sizeOf(Fadt), Fadt.revision),
        .firmware_ctrl = @intCast(layout.facs),
        .dsdt = @intCast(layout.dsdt),
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
        .iapc_boot_arch = Fadt.boot_arch_legacy_devices | Fadt.boot_arch_8042,
        .flags = Fadt.flag_wbinvd | Fadt.flag_proc_c1 | Fadt.flag_pwr_button |
            Fadt.flag_slp_button | Fadt.flag_tmr_val_ext | Fadt.flag_reset_reg_sup,
        .reset_reg = Gas.io(config.reset_port, 1, Gas.access_byte),
        .reset_value = config.reset_value,
        // X_FIRMWARE_CTRL must be zero when FIRMWARE_CTRL is set (ACPI 6.4, 5.2.9).
        .x_firmware_ctrl = 0,
        .x_dsdt = layout.dsdt,
        // PM1 event = status + enable, two 16-bit registers: word access throughout.
        .x_pm1a_evt_blk = Gas.io(config.pm1a_event, Fadt.pm1_event_bytes, Gas.access_word),
        .x_pm1a_cnt_blk = Gas.io(config.pm1a_control, Fadt.pm1_control_bytes, Gas.access_word),
        .x_pm_tmr_blk = Gas.io(config.pm_timer, Fadt.pm_timer_bytes, Gas.access_dword),
    });
    region.seal(layout.fadt, @sizeOf(Fadt));
}

fn writeFacs(region: Region, gpa: u64) void {
    assert(gpa % Facs.alignment == 0);
    region.put(gpa, Facs{});
}

fn writeDsdt(region: Region, gpa: u64, sleep_type: u3) void {
    region.put(gpa, tableHeader("DSDT", dsdt_size, dsdt_revision));
    const body = gpa + @sizeOf(Header);
    @memcpy(region.at(body, aml_sb_scope.len), &aml_sb_scope);
    const s5 = amlS5(sleep_type);
    @memcpy(region.at(body + aml_sb_scope.len, s5.len), &s5);
    region.seal(gpa, dsdt_size);
}

fn writeMadt(region: Region, gpa: u64, config: Config) void {
    const size = madtSize(config.cpu_count);
    region.put(gpa, Madt{
        .header = tableHeader("APIC", size, Madt.revision),
        .local_apic_address = config.lapic_base,
        .flags = Madt.flag_pcat_compat,
    });
    var cursor = gpa + @sizeOf(Madt);
    for (0..config.cpu_count) |cpu| {
        const id: u8 = @intCast(cpu);
        region.put(cursor, MadtLocalApic{ .processor_uid = id, .apic_id = id });
        cursor += @sizeOf(MadtLocalApic);
    }
    region.put(cursor, MadtIoApic{
        .io_apic_id = @intCast(config.cpu_count),
        .io_apic_address = config.ioapic_base,
        .global_system_interrupt_base = 0,
    });
    cursor += @sizeOf(MadtIoApic);
    // The PIT's IRQ 0 arrives at I/O APIC pin 2, as on real PCs (pin 0 is the 8259 cascade).
    region.put(cursor, MadtInterruptSourceOverride{
        .source = 0,
        .global_system_interrupt = platform.gsi_timer,
        .flags = MadtInterruptSourceOverride.conforming,
    });
    cursor += @sizeOf(MadtInterruptSourceOverride);
    // The SCI is level-triggered; our PM device drives the line high while an event is pending.
    region.put(cursor, MadtInterruptSourceOverride{
        .source = config.sci_irq,
        .global_system_interrupt = config.sci_irq,
        .flags = MadtInterruptSourceOverride.active_high_level,
    });
    cursor += @sizeOf(MadtInterruptSourceOverride);
    region.put(cursor, MadtLocalApicNmi{});
    cursor += @sizeOf(MadtLocalApicNmi);
    assert(cursor == gpa + size);
    region.seal(gpa, size);
}

// ---------------------------------------------------------------------------------------------
// Tests

const testing = std.testing;

fn readInt(comptime T: type, bytes: []const u8, offset: usize) T {
    return std.mem.readInt(T, bytes[offset..][0..@sizeOf(T)], .little);
}

/// One MiB of guest RAM, so the BIOS area (and the legacy RSDP scan range) is inside it.
const TestRam = struct {
    backing: []u8,

    fn init() !TestRam {
        const backing = try testing.allocator.alloc(u8, platform.memory.bios_area_end);
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

fn buildForTest(ram: TestRam, cpu_count: u32) !u64 {
    const base = platform.linux_boot.acpi_tables;
    return build(ram.memory(), base, platform.memory.bios_area_end, configForPlatform(cpu_count));
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

test "checksum makes a byte sequence sum to zero" {
    var bytes = [_]u8{ 1, 2, 3, 250, 0 };
    bytes[4] = checksum(&bytes);
    try testing.expectEqual(@as(u8, 0), checksum(&bytes));
    try testing.expectEqual(@as(u8, 0), checksum(&.{}));
}

test "every table reachable from the RSDP has a valid header and checksum" {
    const ram = try TestRam.init();
    defer ram.deinit();
    const mem = ram.memory();
    const rsdp_gpa = try buildForTest(ram, 2);

    try testing.expectEqual(platform.linux_boot.acpi_tables, rsdp_gpa);
    try testing.expectEqual(@as(?u64, rsdp_gpa), scanForRsdp(mem));
    const rsdp = mem.slice(rsdp_gpa, 36).?;
    try testing.expectEqual(@as(u8, 0), checksum(rsdp[0..20]));
    try testing.expectEqual(@as(u8, 0), checksum(rsdp));
    try testing.expectEqual(@as(u8, 2), rsdp[15]);
    try testing.expectEqual(@as(u32, 36), readInt(u32, rsdp, 20));

    const xsdt = try expectTable(mem, readInt(u64, rsdp, 24), "XSDT");
    try testing.expectEqual(@as(usize, 36 + 2 * 8), xsdt.len);
    const fadt = try expectTable(mem, readInt(u64, xsdt, 36), "FACP");
    const madt = try expectTable(mem, readInt(u64, xsdt, 44), "APIC");
    try testing.expectEqual(@as(usize, 276), fadt.len);
    try testing.expectEqual(@as(u8, 6), fadt[8]);
    try testing.expectEqual(@as(usize, madtSize(2)), madt.len);

    const dsdt_gpa = readInt(u64, fadt, 140);
    try testing.expectEqual(@as(u64, readInt(u32, fadt, 40)), dsdt_gpa);
    _ = try expectTable(mem, dsdt_gpa, "DSDT");

    // FIRMWARE_CTRL holds the FACS; X_FIRMWARE_CTRL must then be zero.
    const facs_gpa: u64 = readInt(u32, fadt, 36);
    try testing.expectEqual(@as(u64, 0), readInt(u64, fadt, 132));
    try testing.expect(facs_gpa != 0);
    try testing.expectEqual(@as(u64, 0), facs_gpa % 64);
    const facs = mem.slice(facs_gpa, 64).?;
    try testing.expectEqualSlices(u8, "FACS", facs[0..4]);
    try testing.expectEqual(@as(u32, 64), readInt(u32, facs, 4));
}

test "FADT fields describe the platform's PM hardware" {
    const ram = try TestRam.init();
    defer ram.deinit();
    const mem = ram.memory();
    const rsdp = mem.slice(try buildForTest(ram, 1), 36).?;
    const xsdt = mem.slice(readInt(u64, rsdp, 24), 52).?;
    const fadt = mem.slice(readInt(u64, xsdt, 36), 276).?;

    try testing.expectEqual(@as(u16, 9), readInt(u16, fadt, 46));
    try testing.expectEqual(@as(u32, 0), readInt(u32, fadt, 48));
    try testing.expectEqual(@as(u32, 0x600), readInt(u32, fadt, 56));
    try testing.expectEqual(@as(u32, 0x604), readInt(u32, fadt, 64));
    try testing.expectEqual(@as(u32, 0x608), readInt(u32, fadt, 76));
    try testing.expectEqualSlices(u8, &.{ 4, 2, 0, 4 }, fadt[88..92]);
    try testing.expectEqual(@as(u16, 101), readInt(u16, fadt, 96));
    try testing.expectEqual(@as(u16, 1001), readInt(u16, fadt, 98));
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

test "MADT lists each CPU, one I/O APIC, two overrides and the LINT1 NMI" {
    inline for (.{ 1, 4 }) |cpu_count| {
        const ram = try TestRam.init();
        defer ram.deinit();
        const mem = ram.memory();
        const rsdp = mem.slice(try buildForTest(ram, cpu_count), 36).?;
        const xsdt = mem.slice(readInt(u64, rsdp, 24), 52).?;
        const madt = try expectTable(mem, readInt(u64, xsdt, 44), "APIC");

        try testing.expectEqual(@as(u32, 0xFEE0_0000), readInt(u32, madt, 36));
        try testing.expectEqual(@as(u32, 1), readInt(u32, madt, 40));
        const counts = try countMadtEntries(madt);
        try testing.expectEqual([5]u32{ cpu_count, 1, 2, 0, 1 }, counts);

        const last_cpu = 44 + (cpu_count - 1) * 8;
        try testing.expectEqualSlices(u8, &.{ 0, 8, cpu_count - 1, cpu_count - 1, 1, 0, 0, 0 }, madt[last_cpu..][0..8]);
        const ioapic = 44 + cpu_count * 8;
        try testing.expectEqual(@as(u8, cpu_count), madt[ioapic + 2]);
        try testing.expectEqual(@as(u32, 0xFEC0_0000), readInt(u32, madt, ioapic + 4));
        try testing.expectEqual(@as(u32, 0), readInt(u32, madt, ioapic + 8));
        const timer = ioapic + 12;
        try testing.expectEqualSlices(u8, &.{ 2, 10, 0, 0, 2, 0, 0, 0, 0, 0 }, madt[timer..][0..10]);
        const sci = timer + 10;
        try testing.expectEqualSlices(u8, &.{ 2, 10, 0, 9, 9, 0, 0, 0, 0x0D, 0 }, madt[sci..][0..10]);
        try testing.expectEqualSlices(u8, &.{ 4, 6, 0xFF, 0, 0, 1 }, madt[sci + 10 ..][0..6]);
    }
}

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
        aml.zero_op => .{ .value = 0, .size = 1 },
        0x01 => .{ .value = 1, .size = 1 }, // OneOp
        aml.byte_prefix => .{ .value = aml_bytes[offset + 1], .size = 2 },
        else => error.TestUnexpectedResult,
    };
}

test "DSDT defines a parsable \\_S5 package with the platform's sleep type" {
    const ram = try TestRam.init();
    defer ram.deinit();
    const mem = ram.memory();
    const rsdp = mem.slice(try buildForTest(ram, 1), 36).?;
    const xsdt = mem.slice(readInt(u64, rsdp, 24), 52).?;
    const fadt = mem.slice(readInt(u64, xsdt, 36), 276).?;
    const dsdt = try expectTable(mem, readInt(u64, fadt, 140), "DSDT");
    const body = dsdt[@sizeOf(Header)..];

    // Top-level term list: the \_SB scope, then Name(_S5_, ...), and nothing else.
    try testing.expectEqual(@as(u8, aml.scope_op), body[0]);
    const scope_length = decodePkgLength(body, 1);
    try testing.expectEqualSlices(u8, "\\_SB_", body[1 + scope_length.size ..][0..5]);
    var offset = 1 + scope_length.value;

    try testing.expectEqual(@as(u8, aml.name_op), body[offset]);
    try testing.expectEqualSlices(u8, "_S5_", body[offset + 1 ..][0..4]);
    offset += 5;
    try testing.expectEqual(@as(u8, aml.package_op), body[offset]);
    const package_length = decodePkgLength(body, offset + 1);
    const package_end = offset + 1 + package_length.value;
    try testing.expectEqual(body.len, package_end);
    offset += 1 + package_length.size;
    try testing.expectEqual(@as(u8, 4), body[offset]);
    offset += 1;

    var elements: [4]u64 = undefined;
    for (&elements) |*element| {
        const integer = try decodeInteger(body, offset);
        element.* = integer.value;
        offset += integer.size;
    }
    try testing.expectEqual(package_end, offset);
    try testing.expectEqual([4]u64{ 5, 5, 0, 0 }, elements);
}

test "amlS5 encodes every sleep type at fixed offsets" {
    for (0..8) |value| {
        const encoded = amlS5(@intCast(value));
        for (aml_s5_sleep_type_offsets) |offset| {
            try testing.expectEqual(@as(u8, aml.byte_prefix), encoded[offset - 1]);
            try testing.expectEqual(@as(u8, @intCast(value)), encoded[offset]);
        }
    }
}

test "build fails cleanly when the tables do not fit" {
    const ram = try TestRam.init();
    defer ram.deinit();
    const mem = ram.memory();
    const base = platform.linux_boot.acpi_tables;
    const config = configForPlatform(4);

    try testing.expectError(error.TablesTooLarge, build(mem, base, base + 100, config));
    const needed = Layout.compute(base, 4).end;
    try testing.expectError(error.TablesTooLarge, build(mem, base, needed - 1, config));
    // Tables whose end would leave RAM are refused even when the limit allows them.
    const near_end = ram.backing.len - 256;
    try testing.expectError(error.OutsideGuestRam, build(mem, near_end, near_end + 0x1_0000, config));
    try testing.expect(std.mem.allEqual(u8, ram.backing, 0xAA));

    _ = try build(mem, base, needed, config);
}

test "the largest configuration fits the BIOS area" {
    const ram = try TestRam.init();
    defer ram.deinit();
    const rsdp_gpa = try buildForTest(ram, max_cpus);
    const rsdp = ram.memory().slice(rsdp_gpa, 36).?;
    const xsdt = ram.memory().slice(readInt(u64, rsdp, 24), 52).?;
    const madt = try expectTable(ram.memory(), readInt(u64, xsdt, 44), "APIC");
    try testing.expectEqual(@as(u32, max_cpus), (try countMadtEntries(madt))[0]);
    try testing.expect(Layout.compute(platform.linux_boot.acpi_tables, max_cpus).end <= platform.memory.bios_area_end);
}
