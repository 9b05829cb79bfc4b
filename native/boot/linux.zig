//! Linux boot: the x86 boot protocol (Documentation/arch/x86/boot.rst and zero-page.rst) for
//! bzImage kernels, two ways.
//! - Direct boot enters the kernel through its 32-bit or 64-bit entry point, skipping the
//!   real-mode setup code. `load` copies kernel, initrd and command line into guest RAM and
//!   fills the zero page; the caller sets up the CPU (GDT, page tables, registers) to match the
//!   returned `Entry`.
//! - Firmware boot lets a PC BIOS start the kernel through its 16-bit real-mode entry, the way
//!   QEMU's linuxboot_dma.bin option ROM does. `prepareFirmwareBoot` checks the image, chooses
//!   the addresses and patches a copy of the setup code's header; the caller offers the pieces
//!   as fw_cfg items and the ROM loads them.
//!
//! The kernel image, initrd and command line come from the user: every length and offset read
//! from the image header is checked against the image, and every guest write goes through
//! `GuestMemory`, which checks it against guest RAM.
const std = @import("std");
const assert = std.debug.assert;
const platform = @import("../platform.zig");
const GuestMemory = @import("../memory.zig").GuestMemory;

pub const Error = error{
    NotBzImage,
    ProtocolTooOld,
    KernelTooLarge,
    InitrdTooLarge,
    CmdlineTooLong,
    OutsideGuestRam,
};

/// Offsets of setup-header fields. The header sits at 0x1F1 both in the image and in the zero
/// page (boot_params.hdr), so the same offsets serve for reading the image and filling the page.
const header = struct {
    const start = 0x1F1;
    const setup_sects = 0x1F1;
    const vid_mode = 0x1FA;
    const boot_flag = 0x1FE;
    /// The second byte of the two-byte short jump at 0x200 is the header length past 0x202.
    const jump_length = 0x201;
    const magic = 0x202;
    const version = 0x206;
    const type_of_loader = 0x210;
    const loadflags = 0x211;
    const code32_start = 0x214;
    const ramdisk_image = 0x218;
    const ramdisk_size = 0x21C;
    const heap_end_ptr = 0x224;
    const cmd_line_ptr = 0x228;
    const initrd_addr_max = 0x22C;
    const kernel_alignment = 0x230;
    const relocatable_kernel = 0x234;
    const xloadflags = 0x236;
    const cmdline_size = 0x238;
    const pref_address = 0x258;
    const init_size = 0x260;

    /// The header must reach past the last field that its protocol version promises and we read.
    const end_v2_06 = cmdline_size + 4;
    const end_v2_10 = init_size + 4;
};

/// Zero-page fields outside the setup header (zero-page.rst).
const zero_page = struct {
    const size = 4096;
    const acpi_rsdp_addr = 0x070;
    const ext_ramdisk_image = 0x0C0;
    const ext_ramdisk_size = 0x0C4;
    const ext_cmd_line_ptr = 0x0C8;
    const e820_entries = 0x1E8;
    /// edd_mbr_sig_buffer follows the setup header: a header copy must stop here.
    const setup_header_limit = 0x290;
    const e820_table = 0x2D0;
    const e820_max_entries = 128;
};

const protocol = struct {
    const v2_06: u16 = 0x0206;
    const v2_10: u16 = 0x020A;
    const v2_12: u16 = 0x020C;
    const v2_14: u16 = 0x020E;
};

const boot_flag_value: u16 = 0xAA55;
const header_magic = "HdrS";
const loadflag_loaded_high: u8 = 1 << 0;
/// heap_end_ptr is valid: the real-mode setup code may use the memory up to it as its heap.
const loadflag_can_use_heap: u8 = 1 << 7;
const xlf_kernel_64: u16 = 1 << 0;
/// type_of_loader 0xFF: "undefined" boot loader, i.e. not one the kernel has an ID for.
const loader_type_undefined: u8 = 0xFF;
/// vid_mode 0xFFFF: "normal" text mode; only the real-mode setup code reads it.
const vid_mode_normal: u16 = 0xFFFF;

/// CONFIG_PHYSICAL_START's default: a relocatable kernel never decompresses itself below
/// LOAD_PHYSICAL_ADDR. The header states it as pref_address from protocol 2.10; older headers
/// do not, so assume the default.
const load_physical_addr_default: u64 = 16 << 20;
const page_size: u64 = 4096;
/// Low RAM must at least hold the zero page, command line and the start of the kernel at 1 MiB.
const low_ram_min: u64 = 2 << 20;

pub const KernelImage = struct {
    protocol_version: u16,
    /// Bytes of the real-mode part that precedes the protected-mode code: (setup_sects + 1) * 512.
    setup_bytes: u32,
    /// The setup header as the image carries it, from 0x1F1, ready to copy into the zero page.
    setup_header: []const u8,
    /// The protected-mode kernel: everything after the setup code.
    protected_mode: []const u8,
    loadflags: u8,
    /// Zero before protocol 2.12, which introduced the field.
    xloadflags: u16,
    initrd_addr_max: u32,
    /// Longest command line without its terminating NUL.
    cmdline_size: u32,
    kernel_alignment: u32,
    relocatable: bool,
    /// Zero before protocol 2.10.
    pref_address: u64,
    /// Bytes the kernel needs from its runtime start address until it has read the memory map.
    /// Before protocol 2.10 the header does not say; `parse` estimates it (see `estimateInitSize`).
    init_size: u32,

    pub fn supports64BitEntry(self: KernelImage) bool {
        return self.protocol_version >= protocol.v2_12 and self.xloadflags & xlf_kernel_64 != 0;
    }

    /// The guest-physical range the kernel occupies before it reads the memory map, when its
    /// protected-mode code is loaded at `load_address`. Nothing else may live here.
    pub fn runtimeRegion(self: KernelImage, load_address: u64) Region {
        // A relocatable kernel decompresses to its load address rounded up to kernel_alignment,
        // but never below LOAD_PHYSICAL_ADDR (pref_address); a non-relocatable one moves to
        // pref_address unconditionally. So loading low at 1 MiB still claims RAM from 16 MiB.
        const floor = if (self.pref_address != 0) self.pref_address else load_physical_addr_default;
        const aligned = if (self.relocatable)
            std.mem.alignForward(u64, load_address, self.kernel_alignment)
        else
            load_address;
        const start = @max(aligned, floor);
        const loaded_end = load_address + self.protected_mode.len;
        // Saturating: pref_address is untrusted and may be absurd; the range then exceeds RAM.
        return .{ .start = start, .end = @max(start +| self.init_size, loaded_end) };
    }

    /// Low RAM needed to boot this kernel with an initrd of `initrd_len` bytes loaded at
    /// `platform.linux_boot.kernel`: the front end can report it when the guest is too small.
    pub fn requiredLowRam(self: KernelImage, initrd_len: u64) u64 {
        const kernel_end = self.runtimeRegion(platform.linux_boot.kernel).end;
        return @max(low_ram_min, kernel_end +| std.mem.alignForward(u64, initrd_len, page_size));
    }
};

pub const Region = struct { start: u64, end: u64 };

pub fn parse(image: []const u8) Error!KernelImage {
    if (image.len < header.magic + header_magic.len) return error.NotBzImage;
    const header_end: usize = header.magic + @as(usize, image[header.jump_length]);
    if (image.len < header_end) return error.NotBzImage;
    if (readInt(u16, image, header.boot_flag) != boot_flag_value) return error.NotBzImage;
    if (!std.mem.eql(u8, image[header.magic..][0..4], header_magic)) return error.NotBzImage;

    const version = readInt(u16, image, header.version);
    if (version < protocol.v2_06) return error.ProtocolTooOld;
    const fields_end: usize = if (version >= protocol.v2_10) header.end_v2_10 else header.end_v2_06;
    if (header_end < fields_end) return error.NotBzImage;

    // zImage kernels load at 0x10000 and are not supported: only LOADED_HIGH (bzImage) ones.
    const loadflags = image[header.loadflags];
    if (loadflags & loadflag_loaded_high == 0) return error.NotBzImage;

    const setup_sects: u32 = image[header.setup_sects];
    // A zero setup_sects means 4, for compatibility with ancient kernels.
    const setup_bytes = ((if (setup_sects == 0) 4 else setup_sects) + 1) * 512;
    if (setup_bytes >= image.len) return error.NotBzImage;

    const relocatable = image[header.relocatable_kernel] != 0;
    const kernel_alignment = readInt(u32, image, header.kernel_alignment);
    if (relocatable and (kernel_alignment == 0 or !std.math.isPowerOfTwo(kernel_alignment))) {
        return error.NotBzImage;
    }

    const protected_mode = image[setup_bytes..];
    const v2_10 = version >= protocol.v2_10;
    return .{
        .protocol_version = version,
        .setup_bytes = setup_bytes,
        .setup_header = image[header.start..@min(header_end, zero_page.setup_header_limit)],
        .protected_mode = protected_mode,
        .loadflags = loadflags,
        .xloadflags = if (version >= protocol.v2_12) readInt(u16, image, header.xloadflags) else 0,
        .initrd_addr_max = readInt(u32, image, header.initrd_addr_max),
        .cmdline_size = readInt(u32, image, header.cmdline_size),
        .kernel_alignment = kernel_alignment,
        .relocatable = relocatable,
        .pref_address = if (v2_10) readInt(u64, image, header.pref_address) else 0,
        .init_size = if (v2_10) readInt(u32, image, header.init_size) else estimateInitSize(protected_mode.len),
    };
}

/// Headers before 2.10 do not state init_size. Reserve four times the compressed kernel: a
/// heuristic for the decompressed image plus the decompressor's buffer, not a promise.
fn estimateInitSize(protected_mode_len: usize) u32 {
    const estimate = @as(u64, protected_mode_len) * 4;
    return @intCast(@min(estimate, std.math.maxInt(u32)));
}

/// One BIOS memory-map entry as boot_params.e820_table stores it: packed, 20 bytes.
pub const E820Entry = extern struct {
    addr: u64 align(1),
    size: u64 align(1),
    kind: u32 align(1),

    pub const usable: u32 = 1;
    pub const reserved: u32 = 2;

    comptime {
        assert(@sizeOf(E820Entry) == 20);
    }
};

/// The guest's memory map. The whole BIOS area, ACPI tables included, is type 2 (reserved)
/// rather than type 3 (ACPI reclaimable): the FACS must never be reclaimed (the spec wants it
/// in NVS), the RSDP must stay where the legacy scan finds it, and one reserved entry covers
/// both while matching what a PC reports for 0xE0000–0xFFFFF. Linux maps tables in reserved
/// memory without complaint. [0xA0000, 0xE0000) (VGA window, option ROMs) is left out: not RAM.
pub fn buildE820(low_size: u64, high_size: u64, out: []E820Entry) []E820Entry {
    assert(low_size >= low_ram_min);
    assert(low_size <= platform.memory.pci_hole_start);
    assert(out.len >= 5);
    const m = platform.memory;
    out[0] = .{ .addr = 0, .size = m.conventional_end, .kind = E820Entry.usable };
    out[1] = .{ .addr = m.conventional_end, .size = 0xA_0000 - m.conventional_end, .kind = E820Entry.reserved };
    out[2] = .{ .addr = m.bios_area_start, .size = m.bios_area_end - m.bios_area_start, .kind = E820Entry.reserved };
    out[3] = .{ .addr = m.bios_area_end, .size = low_size - m.bios_area_end, .kind = E820Entry.usable };
    if (high_size == 0) return out[0..4];
    out[4] = .{ .addr = m.high_ram_start, .size = high_size, .kind = E820Entry.usable };
    return out[0..5];
}

pub const EntryMode = enum { long_64, protected_32 };

pub const Entry = struct {
    mode: EntryMode,
    rip: u64,
    /// Guest-physical address of the zero page, for RSI (64-bit) or ESI (32-bit).
    boot_params: u64,
};

/// Loads `image` at `platform.linux_boot.kernel` with its initrd and command line, and fills the
/// zero page. Every input is checked before the first write, so a failed load leaves guest RAM
/// untouched. `acpi_rsdp` (0 for none) is passed to kernels that take it (protocol 2.14+).
pub fn load(mem: GuestMemory, image: []const u8, initrd: []const u8, cmdline: []const u8, acpi_rsdp: u64) Error!Entry {
    const kernel = try parse(image);
    const load_address = platform.linux_boot.kernel;
    const boot_params = platform.linux_boot.boot_params;

    if (mem.low_size < kernel.requiredLowRam(0)) return error.KernelTooLarge;
    if (cmdline.len > kernel.cmdline_size) return error.CmdlineTooLong;
    if (cmdline.len >= platform.linux_boot.cmdline_max_bytes) return error.CmdlineTooLong;
    const kernel_end = kernel.runtimeRegion(load_address).end;
    const initrd_address = try placeInitrd(kernel_end, mem.low_size, kernel.initrd_addr_max, initrd.len);

    const params = mem.slice(boot_params, zero_page.size) orelse return error.OutsideGuestRam;
    const cmdline_dest = mem.slice(platform.linux_boot.cmdline, cmdline.len + 1) orelse
        return error.OutsideGuestRam;
    try mem.write(load_address, kernel.protected_mode);
    if (initrd.len > 0) try mem.write(initrd_address, initrd);
    @memcpy(cmdline_dest[0..cmdline.len], cmdline);
    cmdline_dest[cmdline.len] = 0;

    @memset(params, 0);
    @memcpy(params[header.start..][0..kernel.setup_header.len], kernel.setup_header);
    fillLoaderFields(params, load_address);
    writeSplit(params, header.cmd_line_ptr, zero_page.ext_cmd_line_ptr, platform.linux_boot.cmdline);
    writeSplit(params, header.ramdisk_image, zero_page.ext_ramdisk_image, initrd_address);
    writeSplit(params, header.ramdisk_size, zero_page.ext_ramdisk_size, initrd.len);
    writeE820(params, mem.low_size, mem.high_size);
    if (kernel.protocol_version >= protocol.v2_14 and acpi_rsdp != 0) {
        writeInt(u64, params, zero_page.acpi_rsdp_addr, acpi_rsdp);
    }

    if (kernel.supports64BitEntry()) {
        // The 64-bit entry point sits 0x200 past the start of the protected-mode code.
        return .{ .mode = .long_64, .rip = load_address + 0x200, .boot_params = boot_params };
    }
    return .{ .mode = .protected_32, .rip = load_address, .boot_params = boot_params };
}

/// The highest page-aligned spot for the initrd below both initrd_addr_max and the end of low
/// RAM, and above everything the kernel claims. Returns 0 for an empty initrd (no ramdisk).
fn placeInitrd(kernel_end: u64, low_size: u64, initrd_addr_max: u32, len: u64) Error!u64 {
    if (len == 0) return 0;
    // initrd_addr_max is the highest address the initrd's last byte may occupy.
    const ceiling = @min(@as(u64, initrd_addr_max) + 1, low_size);
    if (len > ceiling) return error.InitrdTooLarge;
    const start = std.mem.alignBackward(u64, ceiling - len, page_size);
    if (start < kernel_end) return error.InitrdTooLarge;
    assert(start + len <= low_size);
    return start;
}

/// The fields a boot loader must (or, per boot.rst, should) set after copying the header.
fn fillLoaderFields(params: []u8, load_address: u64) void {
    params[header.type_of_loader] = loader_type_undefined;
    writeInt(u16, params, header.vid_mode, vid_mode_normal);
    // Only LOADED_HIGH. CAN_USE_HEAP (and heap_end_ptr) describe the real-mode setup code's
    // heap; that code never runs on the 32/64-bit entry path, so the heap is not offered.
    // QUIET_FLAG and KEEP_SEGMENTS stay clear: we want messages, and segments get reloaded.
    params[header.loadflags] = loadflag_loaded_high;
    writeInt(u32, params, header.code32_start, @intCast(load_address));
}

/// Writes a 64-bit value whose low half lives in the setup header and high half in an ext_ field.
fn writeSplit(params: []u8, low_offset: usize, high_offset: usize, value: u64) void {
    writeInt(u32, params, low_offset, @truncate(value));
    writeInt(u32, params, high_offset, @intCast(value >> 32));
}

fn writeE820(params: []u8, low_size: u64, high_size: u64) void {
    var entries: [5]E820Entry = undefined;
    const map = buildE820(low_size, high_size, &entries);
    assert(map.len <= zero_page.e820_max_entries);
    params[zero_page.e820_entries] = @intCast(map.len);
    const table = params[zero_page.e820_table..][0 .. map.len * @sizeOf(E820Entry)];
    @memcpy(table, std.mem.sliceAsBytes(map));
}

// ---------------------------------------------------------------------------------------------
// Firmware boot through QEMU's linuxboot_dma.bin option ROM (pc-bios/optionrom/linuxboot_dma.c).
//
// SeaBIOS runs the ROM as a boot entry. With fw_cfg DMA, the ROM reads each (ADDR, SIZE) pair of
// little-endian u32 items and copies the DATA item to that address, in this order: SETUP
// (keys 0x16, 0x17, 0x18), INITRD (0x0A, 0x0B, 0x12), KERNEL (0x07, 0x08, 0x11), CMDLINE (0x13,
// 0x14, 0x15). Then it loads DS = ES = FS = GS = SS = setup_addr >> 4 and
// SP = cmdline_addr - setup_addr - 16, and far-jumps to (setup_addr >> 4) + 0x20 : 0, the real-mode
// kernel's entry (boot.rst, "Running the Kernel"). The setup code reads the header we patched,
// builds the zero page itself from BIOS calls (E820 and the rest) and enters the protected-mode
// kernel at 1 MiB.
//
// One quirk: after copying the setup code, the ROM compares the page of initrd_addr +
// initrd_size with the page of the header's initrd_addr_max. If they differ (and neither is 0)
// it takes the loader to have stopped at the end of RAM, moves the initrd to just below the top
// of RAM that INT 15h E801 reports (SeaBIOS: the end of the highest RAM below 4 GiB, less the
// 256 KiB it keeps for its high tables), and rewrites ramdisk_image to match.
// `prepareFirmwareBoot` places the initrd so that the pages match whenever initrd_addr_max is
// what limits it; when RAM does, the ROM's move can only raise the initrd within RAM, never
// into the kernel or the firmware's tables.

/// Where the real-mode setup code goes: the lowest spot boot.rst suggests for a modern bzImage,
/// with its 64 KiB segment (setup code, then heap and stack) ending at the command line.
pub const firmware_setup_address: u32 = 0x1_0000;
/// The real-mode code may be at most 32 KiB (boot.rst); the rest of its segment is heap and stack.
pub const firmware_setup_max_bytes: usize = 0x8000;
/// RAM at the top of low memory kept free for the firmware: SeaBIOS keeps its high zone (256 KiB:
/// the ACPI tables, among others) there. A MiB leaves room to spare.
pub const firmware_reserved_bytes: u64 = 1 << 20;

/// What the fw_cfg items for linuxboot_dma.bin hold. Every address is below 4 GiB, as the ROM's
/// 32-bit items require.
pub const FirmwareBoot = struct {
    /// SETUP_ADDR.
    setup_address: u32,
    /// SETUP_DATA (and its length SETUP_SIZE): the image's boot sector and setup code,
    /// (setup_sects + 1) * 512 bytes, with the setup header patched. A slice of `setup_out`.
    setup: []const u8,
    /// KERNEL_ADDR: 1 MiB, where a bzImage's protected-mode code must go.
    kernel_address: u32,
    /// KERNEL_DATA (and KERNEL_SIZE): the protected-mode code, a slice of the image.
    kernel: []const u8,
    /// CMDLINE_ADDR.
    cmdline_address: u32,
    /// CMDLINE_SIZE: the command line's length with its terminating NUL. CMDLINE_DATA is the
    /// command line followed by that NUL.
    cmdline_len: u32,
    /// INITRD_ADDR: page-aligned; 0 when there is no initrd.
    initrd_address: u32,
    /// INITRD_SIZE.
    initrd_len: u32,
};

/// Checks `image` for a firmware-path boot with an initrd of `initrd_len` bytes and `cmdline`
/// in a guest whose RAM below 4 GiB ends at `ram_below_4g`, chooses where everything goes, and
/// copies the image's real-mode part into `setup_out` (which must hold
/// `firmware_setup_max_bytes`, or at least the image's setup code) with its header patched for
/// the 16-bit entry. Addresses follow QEMU's: setup code at 64 KiB, command line at 128 KiB,
/// kernel at 1 MiB, and the initrd as high as it may go below both initrd_addr_max and the top of
/// RAM less `firmware_reserved_bytes`, above everything the kernel claims while it starts.
pub fn prepareFirmwareBoot(image: []const u8, initrd_len: u64, cmdline: []const u8, ram_below_4g: u64, setup_out: []u8) Error!FirmwareBoot {
    assert(ram_below_4g <= 1 << 32);
    const kernel = try parse(image);
    // More real-mode code than that would run into its own heap and stack.
    if (kernel.setup_bytes > firmware_setup_max_bytes) return error.NotBzImage;
    assert(setup_out.len >= kernel.setup_bytes);
    if (cmdline.len > kernel.cmdline_size) return error.CmdlineTooLong;
    if (cmdline.len >= platform.linux_boot.cmdline_max_bytes) return error.CmdlineTooLong;

    const kernel_address = platform.linux_boot.kernel;
    // RAM the kernel and initrd may use: below the firmware's reserved top, whole pages.
    const usable_end = std.mem.alignBackward(u64, ram_below_4g, page_size) -| firmware_reserved_bytes;
    const kernel_end = kernel.runtimeRegion(kernel_address).end;
    if (kernel_end > usable_end) return error.KernelTooLarge;
    const initrd_address = try placeFirmwareInitrd(kernel_end, usable_end, kernel.initrd_addr_max, initrd_len);

    const setup = setup_out[0..kernel.setup_bytes];
    @memcpy(setup, image[0..kernel.setup_bytes]);
    patchSetupHeader(setup, cmdline, initrd_address, @intCast(initrd_len));
    return .{
        .setup_address = firmware_setup_address,
        .setup = setup,
        .kernel_address = @intCast(kernel_address),
        .kernel = kernel.protected_mode,
        .cmdline_address = @intCast(platform.linux_boot.cmdline),
        .cmdline_len = @intCast(cmdline.len + 1),
        .initrd_address = initrd_address,
        .initrd_len = @intCast(initrd_len),
    };
}

comptime {
    // The setup segment, then the command line right after it (boot.rst's suggested layout),
    // all below the EBDA; the protected-mode kernel above the BIOS area.
    assert(platform.linux_boot.cmdline == firmware_setup_address + 0x1_0000);
    assert(platform.linux_boot.cmdline + platform.linux_boot.cmdline_max_bytes <= platform.memory.conventional_end);
    assert(firmware_setup_address + firmware_setup_max_bytes <= platform.linux_boot.cmdline);
    assert(platform.linux_boot.kernel >= platform.memory.bios_area_end);
}

/// The initrd's address for the firmware path: as QEMU computes it, `initrd_max` being the
/// highest byte the initrd may occupy, the start is (initrd_max - len) rounded down to a page.
/// That leaves the byte at initrd_max unused but keeps the initrd's end in initrd_max's page,
/// which is what stops linuxboot_dma.bin from moving the initrd when initrd_addr_max limits it.
fn placeFirmwareInitrd(kernel_end: u64, usable_end: u64, initrd_addr_max: u32, len: u64) Error!u32 {
    if (len == 0) return 0;
    assert(usable_end <= 1 << 32);
    if (usable_end == 0) return error.InitrdTooLarge;
    const initrd_max = @min(@as(u64, initrd_addr_max), usable_end - 1);
    if (len >= initrd_max) return error.InitrdTooLarge;
    const start = std.mem.alignBackward(u64, initrd_max - len, page_size);
    if (start < kernel_end) return error.InitrdTooLarge;
    assert(start + len <= usable_end);
    return @intCast(start);
}

/// The header fields a loader must write for the real-mode entry (boot.rst, "Details of Header
/// Fields" and "Sample Boot Configuration"), in the image's setup code copied to `setup`.
fn patchSetupHeader(setup: []u8, cmdline: []const u8, initrd_address: u32, initrd_len: u32) void {
    // setup_sects 0 means 4; boot.rst's sample loader writes the real value back.
    if (setup[header.setup_sects] == 0) setup[header.setup_sects] = 4;
    writeInt(u16, setup, header.vid_mode, videoMode(cmdline));
    // 0xFF, not QEMU's 0xB0: vmctl is not QEMU and has no assigned loader ID; the kernel only
    // reports the value (and the direct path writes 0xFF too).
    setup[header.type_of_loader] = loader_type_undefined;
    // LOADED_HIGH (what the kernel says it is) and CAN_USE_HEAP; QUIET_FLAG clear, for messages.
    setup[header.loadflags] = loadflag_loaded_high | loadflag_can_use_heap;
    // The heap reaches up to the command line, less the 0x200 bytes boot.rst subtracts.
    const heap_end = platform.linux_boot.cmdline - firmware_setup_address;
    writeInt(u16, setup, header.heap_end_ptr, @intCast(heap_end - 0x200));
    writeInt(u32, setup, header.cmd_line_ptr, @intCast(platform.linux_boot.cmdline));
    writeInt(u32, setup, header.ramdisk_image, initrd_address);
    writeInt(u32, setup, header.ramdisk_size, initrd_len);
}

/// vid_mode for the command line: the last "vga=" option's value, as boot.rst's "Special
/// Command Line Options" says a loader should enter it, or "normal" (0xFFFF). Numbers take
/// Zig's prefixes (0x, 0o, 0b); one that does not parse counts as "normal".
fn videoMode(cmdline: []const u8) u16 {
    var mode = vid_mode_normal;
    var options = std.mem.tokenizeAny(u8, cmdline, " \t\n");
    while (options.next()) |option| {
        if (!std.mem.startsWith(u8, option, "vga=")) continue;
        const value = option["vga=".len..];
        mode = if (std.mem.eql(u8, value, "normal"))
            0xFFFF
        else if (std.mem.eql(u8, value, "ext"))
            0xFFFE
        else if (std.mem.eql(u8, value, "ask"))
            0xFFFD
        else
            std.fmt.parseInt(u16, value, 0) catch vid_mode_normal;
    }
    return mode;
}

fn readInt(comptime T: type, bytes: []const u8, offset: usize) T {
    return std.mem.readInt(T, bytes[offset..][0..@sizeOf(T)], .little);
}

fn writeInt(comptime T: type, bytes: []u8, offset: usize, value: T) void {
    std.mem.writeInt(T, bytes[offset..][0..@sizeOf(T)], value, .little);
}

comptime {
    // E820Entry is copied into the zero page as host bytes: the host must be little-endian like
    // the guest (true of every KVM x86 host).
    assert(@import("builtin").cpu.arch.endian() == .little);
    assert(zero_page.e820_table + zero_page.e820_max_entries * @sizeOf(E820Entry) <= 0xD00);
    assert(header.end_v2_10 <= zero_page.setup_header_limit);
}

// ---------------------------------------------------------------------------------------------
// Tests

const testing = std.testing;

/// The setup header (0x1F1–0x26B) of Debian's linux-image-6.1.0-56-amd64 vmlinuz, byte for byte:
/// protocol 2.15, setup_sects 39, loadflags 0x01, initrd_addr_max 0x7FFFFFFF, kernel_alignment
/// 2 MiB, relocatable, xloadflags 0x7F, cmdline_size 2047, pref_address 16 MiB, init_size
/// 0x3F98000 (~63.6 MiB).
const debian_6_1_header = [_]u8{
    0x27, 0x01, 0x00, 0x20, 0xD8, 0x07, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x55, 0xAA, 0xEB,
    0x6A, 0x48, 0x64, 0x72, 0x53, 0x0F, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0xC0, 0x42, 0x00,
    0x01, 0x00, 0x80, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xE0, 0x5B, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x7F, 0x00,
    0x00, 0x20, 0x00, 0x01, 0x15, 0x7F, 0x00, 0xFF, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xCC, 0x02, 0x00, 0x00, 0x70, 0xF0, 0x7B, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x80, 0xF9, 0x03, 0xB0, 0x8D, 0x7C, 0x00, 0x9C, 0x57, 0x7D, 0x00,
};
/// The real file's size; the test image has the real header and a patterned body.
const debian_6_1_image_len = 8_247_232;

/// A host mapping that commits pages only when touched, so tests can model multi-GiB guests.
const TestRam = struct {
    backing: []align(std.heap.page_size_min) u8,

    fn init(size: usize) !TestRam {
        const prot = std.posix.PROT.READ | std.posix.PROT.WRITE;
        const flags: std.posix.MAP = .{ .TYPE = .PRIVATE, .ANONYMOUS = true, .NORESERVE = true };
        return .{ .backing = try std.posix.mmap(null, size, prot, flags, -1, 0) };
    }

    fn deinit(self: TestRam) void {
        std.posix.munmap(self.backing);
    }

    fn memory(self: TestRam) GuestMemory {
        return GuestMemory.init(self.backing);
    }
};

fn debianImage(allocator: std.mem.Allocator) ![]u8 {
    const image = try allocator.alloc(u8, debian_6_1_image_len);
    for (image, 0..) |*byte, i| byte.* = @truncate(i *% 7 +% 3);
    @memcpy(image[header.start..][0..debian_6_1_header.len], &debian_6_1_header);
    return image;
}

/// A minimal well-formed header for error-path tests: protocol 2.15, 64-bit capable.
fn syntheticImage(buffer: []u8) void {
    @memset(buffer, 0);
    @memcpy(buffer[header.start..][0..debian_6_1_header.len], &debian_6_1_header);
    buffer[header.setup_sects] = 4;
}

fn zeroPage(mem: GuestMemory) []u8 {
    return mem.slice(platform.linux_boot.boot_params, zero_page.size).?;
}

test "parse reads the Debian 6.1 header" {
    const image = try debianImage(testing.allocator);
    defer testing.allocator.free(image);
    const kernel = try parse(image);
    try testing.expectEqual(@as(u16, 0x020F), kernel.protocol_version);
    try testing.expectEqual(@as(u32, 40 * 512), kernel.setup_bytes);
    try testing.expectEqual(@as(usize, debian_6_1_image_len - 40 * 512), kernel.protected_mode.len);
    try testing.expectEqual(@as(u32, 0x7FFF_FFFF), kernel.initrd_addr_max);
    try testing.expectEqual(@as(u32, 2 << 20), kernel.kernel_alignment);
    try testing.expect(kernel.relocatable);
    try testing.expectEqual(@as(u16, 0x7F), kernel.xloadflags);
    try testing.expectEqual(@as(u32, 2047), kernel.cmdline_size);
    try testing.expectEqual(@as(u64, 16 << 20), kernel.pref_address);
    try testing.expectEqual(@as(u32, 0x3F9_8000), kernel.init_size);
    try testing.expectEqual(@as(usize, 0x26C - 0x1F1), kernel.setup_header.len);
    try testing.expect(kernel.supports64BitEntry());
    // Loaded at 1 MiB, it decompresses at 16 MiB and claims init_size from there: ~79.6 MiB.
    const region = kernel.runtimeRegion(platform.linux_boot.kernel);
    try testing.expectEqual(@as(u64, 16 << 20), region.start);
    try testing.expectEqual(@as(u64, (16 << 20) + 0x3F9_8000), region.end);
}

test "parse rejects malformed and unsupported images" {
    var buffer: [8192]u8 = undefined;
    syntheticImage(&buffer);
    _ = try parse(&buffer);

    try testing.expectError(error.NotBzImage, parse(buffer[0..0x205]));
    try testing.expectError(error.NotBzImage, parse(buffer[0..0x260]));
    // setup_sects 4 → 2560 setup bytes; an image that ends there has no kernel.
    try testing.expectError(error.NotBzImage, parse(buffer[0..2560]));

    syntheticImage(&buffer);
    buffer[header.boot_flag] = 0;
    try testing.expectError(error.NotBzImage, parse(&buffer));

    syntheticImage(&buffer);
    buffer[header.magic + 3] = 'X';
    try testing.expectError(error.NotBzImage, parse(&buffer));

    syntheticImage(&buffer);
    writeInt(u16, &buffer, header.version, 0x0205);
    try testing.expectError(error.ProtocolTooOld, parse(&buffer));

    syntheticImage(&buffer);
    buffer[header.loadflags] = 0;
    try testing.expectError(error.NotBzImage, parse(&buffer));

    syntheticImage(&buffer);
    buffer[header.jump_length] = 0x20; // header ends before init_size, which 2.15 promises
    try testing.expectError(error.NotBzImage, parse(&buffer));

    syntheticImage(&buffer);
    buffer[header.setup_sects] = 0xFF; // 256 * 512 bytes of setup: beyond the image
    try testing.expectError(error.NotBzImage, parse(&buffer));

    syntheticImage(&buffer);
    writeInt(u32, &buffer, header.kernel_alignment, 3 << 20);
    try testing.expectError(error.NotBzImage, parse(&buffer));
}

test "parse: setup_sects 0 means 4, old protocols lack 64-bit entry, oversized header is clamped" {
    var buffer: [8192]u8 = undefined;
    syntheticImage(&buffer);
    buffer[header.setup_sects] = 0;
    try testing.expectEqual(@as(u32, 5 * 512), (try parse(&buffer)).setup_bytes);

    syntheticImage(&buffer);
    writeInt(u16, &buffer, header.version, 0x020B);
    const old = try parse(&buffer);
    try testing.expectEqual(@as(u16, 0), old.xloadflags);
    try testing.expect(!old.supports64BitEntry());

    syntheticImage(&buffer);
    writeInt(u16, &buffer, header.version, 0x0206);
    const ancient = try parse(&buffer);
    try testing.expectEqual(@as(u64, 0), ancient.pref_address);
    try testing.expectEqual(estimateInitSize(ancient.protected_mode.len), ancient.init_size);

    syntheticImage(&buffer);
    buffer[header.jump_length] = 0xFF;
    const long_header = try parse(&buffer);
    try testing.expectEqual(@as(usize, zero_page.setup_header_limit - header.start), long_header.setup_header.len);
}

test "buildE820 describes low RAM, the reserved holes and high RAM" {
    var entries: [5]E820Entry = undefined;
    const low = buildE820(256 << 20, 0, &entries);
    try testing.expectEqual(@as(usize, 4), low.len);
    try testing.expectEqual(E820Entry{ .addr = 0, .size = 0x9_FC00, .kind = 1 }, low[0]);
    try testing.expectEqual(E820Entry{ .addr = 0x9_FC00, .size = 0x400, .kind = 2 }, low[1]);
    try testing.expectEqual(E820Entry{ .addr = 0xE_0000, .size = 0x2_0000, .kind = 2 }, low[2]);
    try testing.expectEqual(E820Entry{ .addr = 0x10_0000, .size = (256 << 20) - 0x10_0000, .kind = 1 }, low[3]);

    const split = GuestMemory.layout(3500 << 20);
    const both = buildE820(split.low, split.high, &entries);
    try testing.expectEqual(@as(usize, 5), both.len);
    try testing.expectEqual(@as(u64, 0xC000_0000 - 0x10_0000), both[3].size);
    try testing.expectEqual(E820Entry{ .addr = 1 << 32, .size = split.high, .kind = 1 }, both[4]);
}

test "load: Debian 6.1 kernel does not fit a 64 MiB guest and fits 96 MiB" {
    const image = try debianImage(testing.allocator);
    defer testing.allocator.free(image);
    const initrd = [_]u8{0x5A} ** 4096;

    const small = try TestRam.init(64 << 20);
    defer small.deinit();
    try testing.expectError(error.KernelTooLarge, load(small.memory(), image, &initrd, "console=ttyS0", 0));
    // Nothing was written: checks come before the first write.
    try testing.expect(std.mem.allEqual(u8, zeroPage(small.memory()), 0));

    const kernel = try parse(image);
    try testing.expectEqual(@as(u64, (16 << 20) + 0x3F9_8000 + 4096), kernel.requiredLowRam(initrd.len));

    const enough = try TestRam.init(96 << 20);
    defer enough.deinit();
    const entry = try load(enough.memory(), image, &initrd, "console=ttyS0", 0xE_0000);
    try testing.expectEqual(EntryMode.long_64, entry.mode);
    const params = zeroPage(enough.memory());
    try testing.expectEqual(@as(u32, (96 << 20) - 4096), readInt(u32, params, header.ramdisk_image));
}

test "load: 256 MiB guest gets a complete zero page" {
    const image = try debianImage(testing.allocator);
    defer testing.allocator.free(image);
    const ram = try TestRam.init(256 << 20);
    defer ram.deinit();
    const mem = ram.memory();
    const initrd_len = 2 * 1024 * 1024 + 123;
    const initrd = try testing.allocator.alloc(u8, initrd_len);
    defer testing.allocator.free(initrd);
    @memset(initrd, 0xC3);

    const entry = try load(mem, image, initrd, "console=ttyS0 quiet", 0xE_0000);
    try testing.expectEqual(EntryMode.long_64, entry.mode);
    try testing.expectEqual(@as(u64, 0x10_0200), entry.rip);
    try testing.expectEqual(platform.linux_boot.boot_params, entry.boot_params);

    const params = zeroPage(mem);
    try testing.expectEqualSlices(u8, debian_6_1_header[0 .. header.type_of_loader - header.start], params[header.start..header.type_of_loader]);
    try testing.expectEqual(@as(u8, 0xFF), params[header.type_of_loader]);
    try testing.expectEqual(@as(u16, 0xFFFF), readInt(u16, params, header.vid_mode));
    try testing.expectEqual(@as(u8, 0x01), params[header.loadflags]);
    try testing.expectEqual(@as(u32, 0x10_0000), readInt(u32, params, header.code32_start));
    try testing.expectEqual(@as(u32, 0x2_0000), readInt(u32, params, header.cmd_line_ptr));
    try testing.expectEqual(@as(u32, 0), readInt(u32, params, zero_page.ext_cmd_line_ptr));
    try testing.expectEqual(@as(u64, 0xE_0000), readInt(u64, params, zero_page.acpi_rsdp_addr));

    // The initrd ends at the last page boundary that leaves room, below the end of RAM.
    const initrd_start = std.mem.alignBackward(u64, (256 << 20) - initrd_len, 4096);
    try testing.expectEqual(@as(u32, @intCast(initrd_start)), readInt(u32, params, header.ramdisk_image));
    try testing.expectEqual(@as(u32, initrd_len), readInt(u32, params, header.ramdisk_size));
    try testing.expectEqual(@as(u32, 0), readInt(u32, params, zero_page.ext_ramdisk_image));
    try testing.expectEqualSlices(u8, initrd, mem.slice(initrd_start, initrd_len).?);

    try testing.expectEqualSlices(u8, image[40 * 512 ..], mem.slice(0x10_0000, image.len - 40 * 512).?);
    try testing.expectEqualSlices(u8, "console=ttyS0 quiet\x00", mem.slice(0x2_0000, 20).?);

    try testing.expectEqual(@as(u8, 4), params[zero_page.e820_entries]);
    const e820 = std.mem.bytesAsSlice(E820Entry, params[zero_page.e820_table..][0 .. 4 * 20]);
    try testing.expectEqual(@as(u64, (256 << 20) - 0x10_0000), e820[3].size);
}

test "load: 3500 MiB guest keeps the initrd below initrd_addr_max and maps high RAM" {
    const image = try debianImage(testing.allocator);
    defer testing.allocator.free(image);
    const ram = try TestRam.init(3500 << 20);
    defer ram.deinit();
    const mem = ram.memory();
    const initrd = [_]u8{0x11} ** 10_000;

    _ = try load(mem, image, &initrd, "", 0);
    const params = zeroPage(mem);
    const start = readInt(u32, params, header.ramdisk_image);
    try testing.expectEqual(@as(u32, 0x8000_0000 - 3 * 4096), start);
    try testing.expect(start + initrd.len <= 0x8000_0000);
    try testing.expectEqual(@as(u8, 5), params[zero_page.e820_entries]);
    try testing.expectEqual(@as(u64, 0), readInt(u64, params, zero_page.acpi_rsdp_addr));
    try testing.expectEqual(@as(u8, 0), mem.slice(0x2_0000, 1).?[0]);
}

test "load: command line and initrd limits" {
    const image = try debianImage(testing.allocator);
    defer testing.allocator.free(image);
    const ram = try TestRam.init(128 << 20);
    defer ram.deinit();
    const mem = ram.memory();

    const longest = [_]u8{'a'} ** 2047;
    _ = try load(mem, image, "", &longest, 0);
    try testing.expectEqual(@as(u8, 0), mem.slice(0x2_0000 + 2047, 1).?[0]);
    const too_long = [_]u8{'a'} ** 2048;
    try testing.expectError(error.CmdlineTooLong, load(mem, image, "", &too_long, 0));

    // 128 MiB minus the kernel's ~79.6 MiB leaves ~48 MiB for the initrd.
    const big = try TestRam.init(49 << 20);
    defer big.deinit();
    try testing.expectError(error.InitrdTooLarge, load(mem, image, big.backing, "", 0));
    _ = try load(mem, image, big.backing[0 .. 47 << 20], "", 0);

    // No initrd: ramdisk fields stay zero.
    _ = try load(mem, image, "", "", 0);
    try testing.expectEqual(@as(u32, 0), readInt(u32, zeroPage(mem), header.ramdisk_image));
    try testing.expectEqual(@as(u32, 0), readInt(u32, zeroPage(mem), header.ramdisk_size));
}

test "load: kernels without 64-bit entry start at code32_start in protected mode" {
    var buffer: [16384]u8 = undefined;
    syntheticImage(&buffer);
    writeInt(u16, &buffer, header.version, 0x020B);
    const ram = try TestRam.init(128 << 20);
    defer ram.deinit();
    const entry = try load(ram.memory(), &buffer, "", "", 0xE_0000);
    try testing.expectEqual(EntryMode.protected_32, entry.mode);
    try testing.expectEqual(@as(u64, 0x10_0000), entry.rip);
    // Protocol 2.11 has no acpi_rsdp_addr field: it stays zero.
    try testing.expectEqual(@as(u64, 0), readInt(u64, zeroPage(ram.memory()), zero_page.acpi_rsdp_addr));
}

test "load: absurd header values fail cleanly" {
    var buffer: [16384]u8 = undefined;
    syntheticImage(&buffer);
    writeInt(u64, &buffer, header.pref_address, std.math.maxInt(u64));
    const ram = try TestRam.init(128 << 20);
    defer ram.deinit();
    try testing.expectError(error.KernelTooLarge, load(ram.memory(), &buffer, "", "", 0));

    syntheticImage(&buffer);
    writeInt(u32, &buffer, header.initrd_addr_max, 0);
    try testing.expectError(error.InitrdTooLarge, load(ram.memory(), &buffer, "x", "", 0));

    syntheticImage(&buffer);
    writeInt(u32, &buffer, header.cmdline_size, 0);
    try testing.expectError(error.CmdlineTooLong, load(ram.memory(), &buffer, "", "x", 0));
}

/// What linuxboot_dma.bin does with the initrd address it is given (see the firmware section):
/// true when it would move the initrd below the top of RAM that E801 reports instead.
fn romMovesInitrd(initrd_address: u32, initrd_len: u32, initrd_addr_max: u32) bool {
    const end_page = (initrd_address +% initrd_len) & ~@as(u32, 0xFFF);
    const max_page = initrd_addr_max & ~@as(u32, 0xFFF);
    return end_page != 0 and max_page != 0 and end_page != max_page;
}

/// The header offsets `patchSetupHeader` writes, for comparing the rest with the image.
fn expectPatchedSetup(image: []const u8, boot: FirmwareBoot, vid_mode: u16) !void {
    const setup = boot.setup;
    try testing.expectEqual(@as(u8, 0xFF), setup[header.type_of_loader]);
    try testing.expectEqual(@as(u8, 0x81), setup[header.loadflags]);
    try testing.expectEqual(@as(u16, 0xFE00), readInt(u16, setup, header.heap_end_ptr));
    try testing.expectEqual(@as(u32, 0x2_0000), readInt(u32, setup, header.cmd_line_ptr));
    try testing.expectEqual(boot.initrd_address, readInt(u32, setup, header.ramdisk_image));
    try testing.expectEqual(boot.initrd_len, readInt(u32, setup, header.ramdisk_size));
    try testing.expectEqual(vid_mode, readInt(u16, setup, header.vid_mode));

    // Every other byte is the image's.
    const expected = try testing.allocator.dupe(u8, image[0..setup.len]);
    defer testing.allocator.free(expected);
    if (expected[header.setup_sects] == 0) expected[header.setup_sects] = 4;
    for ([_]struct { usize, usize }{
        .{ header.vid_mode, 2 },     .{ header.type_of_loader, 2 }, .{ header.ramdisk_image, 8 },
        .{ header.heap_end_ptr, 2 }, .{ header.cmd_line_ptr, 4 },
    }) |field| @memcpy(expected[field[0]..][0..field[1]], setup[field[0]..][0..field[1]]);
    try testing.expectEqualSlices(u8, expected, setup);
}

test "prepareFirmwareBoot: Debian 6.1 in a 256 MiB guest gets QEMU's layout and a patched header" {
    const image = try debianImage(testing.allocator);
    defer testing.allocator.free(image);
    var setup_buffer: [firmware_setup_max_bytes]u8 = undefined;
    const initrd_len = 2 * 1024 * 1024 + 123;
    const cmdline = "console=ttyS0 quiet";

    const boot = try prepareFirmwareBoot(image, initrd_len, cmdline, 256 << 20, &setup_buffer);
    try testing.expectEqual(@as(u32, 0x1_0000), boot.setup_address);
    try testing.expectEqual(@as(u32, 0x10_0000), boot.kernel_address);
    try testing.expectEqual(@as(u32, 0x2_0000), boot.cmdline_address);
    try testing.expectEqual(@as(u32, cmdline.len + 1), boot.cmdline_len);
    try testing.expectEqual(@as(usize, 40 * 512), boot.setup.len);
    try testing.expectEqual(@as([*]const u8, &setup_buffer), boot.setup.ptr);
    try testing.expectEqual(image[40 * 512 ..].ptr, boot.kernel.ptr);
    try testing.expectEqual(image.len - 40 * 512, boot.kernel.len);
    try testing.expectEqual(@as(u32, initrd_len), boot.initrd_len);

    // RAM limits the initrd: it ends below 255 MiB (the top MiB is the firmware's), page-aligned.
    const initrd_max = (255 << 20) - 1;
    try testing.expectEqual(@as(u32, @intCast(std.mem.alignBackward(u64, initrd_max - initrd_len, 4096))), boot.initrd_address);
    try testing.expect(boot.initrd_address + initrd_len <= 255 << 20);
    try testing.expect(boot.initrd_address >= (16 << 20) + 0x3F9_8000);
    try expectPatchedSetup(image, boot, 0xFFFF);

    // The ROM moves this initrd below the E801 top of RAM, which SeaBIOS puts 256 KiB below
    // the end of RAM: higher, so still clear of the kernel and still below the end of RAM.
    try testing.expect(romMovesInitrd(boot.initrd_address, boot.initrd_len, 0x7FFF_FFFF));
    const e801_top: u32 = (256 << 20) - (256 << 10);
    const moved = (e801_top - boot.initrd_len) & ~@as(u32, 0xFFF);
    try testing.expect(moved >= boot.initrd_address);
}

test "prepareFirmwareBoot: when initrd_addr_max limits the initrd, linuxboot_dma.bin keeps it in place" {
    const image = try debianImage(testing.allocator);
    defer testing.allocator.free(image);
    var setup_buffer: [firmware_setup_max_bytes]u8 = undefined;
    // 3 GiB below 4 GiB: initrd_addr_max (2 GiB - 1) is the lower limit. Page multiples too:
    // their end lands exactly on a page boundary unless the placement leaves initrd_max's byte free.
    for ([_]u32{ 1, 123, 4096, 3 * 4096, 10_000, 2 << 20, 100 << 20 }) |len| {
        const boot = try prepareFirmwareBoot(image, len, "", 0xC000_0000, &setup_buffer);
        try testing.expectEqual(@as(u32, @intCast(std.mem.alignBackward(u64, 0x7FFF_FFFF - len, 4096))), boot.initrd_address);
        try testing.expect(boot.initrd_address + len - 1 <= 0x7FFF_FFFF);
        try testing.expect(!romMovesInitrd(boot.initrd_address, len, 0x7FFF_FFFF));
        try expectPatchedSetup(image, boot, 0xFFFF);
    }
}

test "prepareFirmwareBoot: initrd and kernel placement edge cases" {
    const image = try debianImage(testing.allocator);
    defer testing.allocator.free(image);
    var setup_buffer: [firmware_setup_max_bytes]u8 = undefined;
    const kernel_end: u64 = (16 << 20) + 0x3F9_8000;

    // No initrd: no ramdisk fields, and the kernel alone needs its runtime region plus the
    // firmware's MiB.
    const bare = try prepareFirmwareBoot(image, 0, "", 81 << 20, &setup_buffer);
    try testing.expectEqual(@as(u32, 0), bare.initrd_address);
    try testing.expectEqual(@as(u32, 0), bare.initrd_len);
    try testing.expectEqual(@as(u32, 0), readInt(u32, bare.setup, header.ramdisk_image));
    try testing.expectEqual(@as(u32, 0), readInt(u32, bare.setup, header.ramdisk_size));
    try testing.expectEqual(@as(u32, 1), bare.cmdline_len);
    try testing.expectError(error.KernelTooLarge, prepareFirmwareBoot(image, 0, "", 80 << 20, &setup_buffer));
    try testing.expectError(error.KernelTooLarge, prepareFirmwareBoot(image, 0, "", 512 << 10, &setup_buffer));
    // RAM that is not a whole number of pages counts down to a page.
    try testing.expectError(error.KernelTooLarge, prepareFirmwareBoot(image, 0, "", kernel_end + (1 << 20) - 1, &setup_buffer));
    _ = try prepareFirmwareBoot(image, 0, "", kernel_end + (1 << 20), &setup_buffer);

    // In 128 MiB the initrd may fill [kernel_end, 127 MiB - 1): one byte more does not fit.
    const ram = 128 << 20;
    const largest = (127 << 20) - 1 - kernel_end;
    const full = try prepareFirmwareBoot(image, largest, "", ram, &setup_buffer);
    try testing.expectEqual(@as(u32, @intCast(kernel_end)), full.initrd_address);
    try testing.expectError(error.InitrdTooLarge, prepareFirmwareBoot(image, largest + 1, "", ram, &setup_buffer));
    try testing.expectError(error.InitrdTooLarge, prepareFirmwareBoot(image, 5 << 30, "", ram, &setup_buffer));

    // An initrd_addr_max below the kernel leaves no room at all.
    var buffer: [16384]u8 = undefined;
    syntheticImage(&buffer);
    writeInt(u32, &buffer, header.initrd_addr_max, 0x00FF_FFFF);
    try testing.expectError(error.InitrdTooLarge, prepareFirmwareBoot(&buffer, 4096, "", ram, &setup_buffer));
    writeInt(u32, &buffer, header.initrd_addr_max, 0);
    try testing.expectError(error.InitrdTooLarge, prepareFirmwareBoot(&buffer, 1, "", ram, &setup_buffer));
    _ = try prepareFirmwareBoot(&buffer, 0, "", ram, &setup_buffer);
}

test "prepareFirmwareBoot: setup size, command line and image checks" {
    var setup_buffer: [firmware_setup_max_bytes]u8 = undefined;
    var buffer: [40_000]u8 = undefined;
    const ram = 128 << 20;

    // setup_sects 0 means 4, and is written back as 4.
    syntheticImage(&buffer);
    buffer[header.setup_sects] = 0;
    const zero = try prepareFirmwareBoot(&buffer, 0, "", ram, &setup_buffer);
    try testing.expectEqual(@as(usize, 5 * 512), zero.setup.len);
    try testing.expectEqual(@as(u8, 4), zero.setup[header.setup_sects]);
    try expectPatchedSetup(&buffer, zero, 0xFFFF);

    // 32 KiB of real-mode code fits its segment; a sector more does not.
    syntheticImage(&buffer);
    buffer[header.setup_sects] = 63;
    try testing.expectEqual(@as(usize, 0x8000), (try prepareFirmwareBoot(&buffer, 0, "", ram, &setup_buffer)).setup.len);
    buffer[header.setup_sects] = 64;
    try testing.expectError(error.NotBzImage, prepareFirmwareBoot(&buffer, 0, "", ram, &setup_buffer));

    syntheticImage(&buffer);
    const longest = [_]u8{'a'} ** 2047;
    try testing.expectEqual(@as(u32, 2048), (try prepareFirmwareBoot(&buffer, 0, &longest, ram, &setup_buffer)).cmdline_len);
    const too_long = [_]u8{'a'} ** 2048;
    try testing.expectError(error.CmdlineTooLong, prepareFirmwareBoot(&buffer, 0, &too_long, ram, &setup_buffer));

    buffer[header.magic] = 'X';
    try testing.expectError(error.NotBzImage, prepareFirmwareBoot(&buffer, 0, "", ram, &setup_buffer));
    syntheticImage(&buffer);
    writeInt(u16, &buffer, header.version, 0x0205);
    try testing.expectError(error.ProtocolTooOld, prepareFirmwareBoot(&buffer, 0, "", ram, &setup_buffer));
}

test "prepareFirmwareBoot: vga= on the command line sets vid_mode" {
    var setup_buffer: [firmware_setup_max_bytes]u8 = undefined;
    var buffer: [16384]u8 = undefined;
    syntheticImage(&buffer);
    for ([_]struct { []const u8, u16 }{
        .{ "", 0xFFFF },
        .{ "console=ttyS0", 0xFFFF },
        .{ "vga=normal", 0xFFFF },
        .{ "quiet vga=ext", 0xFFFE },
        .{ "vga=ask root=/dev/sda", 0xFFFD },
        .{ "vga=0x317", 0x317 },
        .{ "vga=791", 791 },
        .{ "vga=791 vga=ext", 0xFFFE },
        .{ "xvga=791", 0xFFFF },
        .{ "vga=bogus", 0xFFFF },
        .{ "vga=70000", 0xFFFF },
    }) |case| {
        const boot = try prepareFirmwareBoot(&buffer, 0, case[0], 128 << 20, &setup_buffer);
        try expectPatchedSetup(&buffer, boot, case[1]);
    }
}
