//! The memory half of entering a kernel directly in 64-bit (or 32-bit protected) mode: the GDT
//! the boot protocol requires and identity-mapping page tables. The KVM half (loading CR0/CR3/
//! CR4/EFER and the segment registers) uses the same `Segment` values, so the descriptor caches
//! KVM sets up and the descriptors in guest memory cannot disagree.
//!
//! Boot protocol (boot.rst, "32-bit/64-bit boot protocol"): a GDT with __BOOT_CS (0x10), a flat
//! 4 GiB execute/read code segment, and __BOOT_DS (0x18), a flat 4 GiB read/write data segment;
//! CS = __BOOT_CS, DS = ES = SS = __BOOT_DS. In 64-bit mode the kernel and the zero page must be
//! identity-mapped; we map all of the first 4 GiB.
const std = @import("std");
const assert = std.debug.assert;
const GuestMemory = @import("../memory.zig").GuestMemory;

/// A segment descriptor's fields, named as in the Intel SDM (vol. 3A, 3.4.5).
pub const Segment = struct {
    base: u32,
    /// The raw 20-bit limit field: in 4 KiB units when g = 1.
    limit: u20,
    /// For code (S = 1, type bit 3 set): bit 0 accessed, bit 1 readable, bit 2 conforming.
    /// For data (S = 1, type bit 3 clear): bit 0 accessed, bit 1 writable, bit 2 expand-down.
    type: u4,
    /// 1: code or data; 0: system.
    s: u1,
    dpl: u2,
    present: u1,
    avl: u1 = 0,
    /// 64-bit code segment (IA-32e mode only; must be 0 elsewhere).
    l: u1,
    /// D/B: 32-bit default operand size (code) or 32-bit stack (data). Must be 0 when l = 1.
    db: u1,
    /// Granularity: the limit counts 4 KiB units.
    g: u1,

    /// The 8-byte GDT descriptor.
    pub fn descriptor(self: Segment) u64 {
        assert(!(self.l == 1 and self.db == 1));
        const limit: u64 = self.limit;
        const base: u64 = self.base;
        return (limit & 0xFFFF) |
            (base & 0xFF_FFFF) << 16 |
            @as(u64, self.type) << 40 |
            @as(u64, self.s) << 44 |
            @as(u64, self.dpl) << 45 |
            @as(u64, self.present) << 47 |
            (limit >> 16) << 48 |
            @as(u64, self.avl) << 52 |
            @as(u64, self.l) << 53 |
            @as(u64, self.db) << 54 |
            @as(u64, self.g) << 55 |
            (base >> 24) << 56;
    }

    pub fn decode(descriptor_value: u64) Segment {
        const d = descriptor_value;
        return .{
            .base = @intCast((d >> 16 & 0xFF_FFFF) | (d >> 56) << 24),
            .limit = @intCast((d & 0xFFFF) | (d >> 48 & 0xF) << 16),
            .type = @intCast(d >> 40 & 0xF),
            .s = @intCast(d >> 44 & 1),
            .dpl = @intCast(d >> 45 & 3),
            .present = @intCast(d >> 47 & 1),
            .avl = @intCast(d >> 52 & 1),
            .l = @intCast(d >> 53 & 1),
            .db = @intCast(d >> 54 & 1),
            .g = @intCast(d >> 55 & 1),
        };
    }

    /// The limit in bytes, as the descriptor cache (and kvm_segment.limit) holds it.
    pub fn limitBytes(self: Segment) u32 {
        if (self.g == 0) return self.limit;
        return (@as(u32, self.limit) << 12) | 0xFFF;
    }
};

/// Type 0xB: execute/read, accessed. The accessed bit is preset so the CPU never needs to write
/// the descriptor back, and because VM entry requires it in the guest's CS/DS/SS caches.
const type_code_execute_read_accessed: u4 = 0xB;
/// Type 0x3: read/write, accessed.
const type_data_read_write_accessed: u4 = 0x3;

/// Flat 64-bit code: access byte 0x9B (P=1, DPL=0, S=1, type 0xB); flags G=1, L=1, D=0.
pub const code64 = Segment{
    .base = 0,
    .limit = 0xF_FFFF,
    .type = type_code_execute_read_accessed,
    .s = 1,
    .dpl = 0,
    .present = 1,
    .l = 1,
    .db = 0,
    .g = 1,
};

/// Flat 32-bit code: access byte 0x9B; flags G=1, D=1, L=0.
pub const code32 = Segment{
    .base = 0,
    .limit = 0xF_FFFF,
    .type = type_code_execute_read_accessed,
    .s = 1,
    .dpl = 0,
    .present = 1,
    .l = 0,
    .db = 1,
    .g = 1,
};

/// Flat data: access byte 0x93 (P=1, DPL=0, S=1, type 0x3); flags G=1, B=1.
pub const data = Segment{
    .base = 0,
    .limit = 0xF_FFFF,
    .type = type_data_read_write_accessed,
    .s = 1,
    .dpl = 0,
    .present = 1,
    .l = 0,
    .db = 1,
    .g = 1,
};

/// __BOOT_CS and __BOOT_DS: GDT entries 2 and 3, RPL 0.
pub const boot_cs: u16 = 2 * 8;
pub const boot_ds: u16 = 3 * 8;
pub const gdt_entries = 4;
pub const gdt_bytes = gdt_entries * 8;
/// The GDTR limit (kvm_dtable.limit): the offset of the last valid byte.
pub const gdt_limit: u16 = gdt_bytes - 1;

/// Writes the boot GDT at `gpa`: entries 0 and 1 null, 2 = `code` (__BOOT_CS), 3 = data
/// (__BOOT_DS). Pass `code64` for the 64-bit entry point and `code32` for the 32-bit one: in
/// protected mode the L bit is reserved and a D=0 code segment would be 16-bit.
pub fn writeGdt(mem: GuestMemory, gpa: u64, code: Segment) error{OutsideGuestRam}!void {
    assert(code.s == 1 and code.type & 0x8 != 0); // a code segment
    const table = [gdt_entries]u64{ 0, 0, code.descriptor(), data.descriptor() };
    var bytes: [gdt_bytes]u8 = undefined;
    for (table, 0..) |entry, i| std.mem.writeInt(u64, bytes[i * 8 ..][0..8], entry, .little);
    try mem.write(gpa, &bytes);
}

/// Control-register and EFER bits the KVM side sets to enter long mode with these tables.
pub const cr0_pe: u64 = 1 << 0;
pub const cr0_pg: u64 = 1 << 31;
pub const cr4_pae: u64 = 1 << 5;
pub const efer_lme: u64 = 1 << 8;
pub const efer_lma: u64 = 1 << 10;

const page_size = 4096;
const entries_per_table = 512;
const large_page_size: u64 = 2 << 20;
/// PML4, PDPT and one page directory per GiB: six pages.
const page_directories = 4;
pub const page_tables_bytes = (2 + page_directories) * page_size;

const pte_present: u64 = 1 << 0;
const pte_writable: u64 = 1 << 1;
/// In a page-directory entry: maps a 2 MiB page instead of pointing at a page table.
const pte_large: u64 = 1 << 7;

/// Builds at `gpa` (4 KiB aligned) a PML4, a PDPT and four page directories of 2 MiB pages that
/// identity-map [0, 4 GiB), and returns the CR3 value. Nothing is written unless all six pages
/// are in guest RAM.
pub fn writeIdentityPageTables(mem: GuestMemory, gpa: u64) error{OutsideGuestRam}!u64 {
    assert(gpa % page_size == 0);
    const bytes = mem.slice(gpa, page_tables_bytes) orelse return error.OutsideGuestRam;
    @memset(bytes, 0);
    const pml4 = gpa;
    const pdpt = gpa + page_size;
    const directories = gpa + 2 * page_size;

    putEntry(bytes, 0, 0, pdpt | pte_present | pte_writable);
    for (0..page_directories) |gib| {
        putEntry(bytes, 1, gib, (directories + gib * page_size) | pte_present | pte_writable);
        for (0..entries_per_table) |i| {
            const address = (gib * entries_per_table + i) * large_page_size;
            putEntry(bytes, 2 + gib, i, address | pte_present | pte_writable | pte_large);
        }
    }
    return pml4;
}

/// Writes entry `index` of the `table`-th page (0 = PML4, 1 = PDPT, 2.. = page directories).
fn putEntry(bytes: []u8, table: usize, index: usize, value: u64) void {
    assert(index < entries_per_table);
    std.mem.writeInt(u64, bytes[table * page_size + index * 8 ..][0..8], value, .little);
}

// ---------------------------------------------------------------------------------------------
// Tests

const testing = std.testing;

fn testMemory(backing: []u8) GuestMemory {
    return .{ .host = backing, .low_size = backing.len, .high_size = 0 };
}

fn readEntry(mem: GuestMemory, table: u64, index: u64) !u64 {
    const bytes = mem.slice(table + index * 8, 8) orelse return error.TestUnexpectedResult;
    return std.mem.readInt(u64, bytes[0..8], .little);
}

/// Walks the tables like the MMU for a 4-level, 2 MiB-page translation; null if not present.
fn translate(mem: GuestMemory, cr3: u64, virtual: u64) !?u64 {
    const address_mask: u64 = 0x000F_FFFF_FFFF_F000;
    const pml4e = try readEntry(mem, cr3 & address_mask, virtual >> 39 & 0x1FF);
    if (pml4e & pte_present == 0) return null;
    const pdpte = try readEntry(mem, pml4e & address_mask, virtual >> 30 & 0x1FF);
    if (pdpte & pte_present == 0) return null;
    try testing.expect(pdpte & pte_large == 0);
    const pde = try readEntry(mem, pdpte & address_mask, virtual >> 21 & 0x1FF);
    if (pde & pte_present == 0) return null;
    try testing.expect(pde & pte_large != 0);
    try testing.expect(pde & pte_writable != 0);
    return (pde & 0x000F_FFFF_FFE0_0000) | (virtual & (large_page_size - 1));
}

test "segment descriptors encode the documented access bytes and flags" {
    try testing.expectEqual(@as(u64, 0x00AF_9B00_0000_FFFF), code64.descriptor());
    try testing.expectEqual(@as(u64, 0x00CF_9B00_0000_FFFF), code32.descriptor());
    try testing.expectEqual(@as(u64, 0x00CF_9300_0000_FFFF), data.descriptor());
    try testing.expectEqual(@as(u32, 0xFFFF_FFFF), code64.limitBytes());
    const odd = Segment{ .base = 0x1234_5678, .limit = 0xA_BCDE, .type = 0x5, .s = 0, .dpl = 3, .present = 1, .avl = 1, .l = 0, .db = 1, .g = 0 };
    try testing.expectEqual(odd, Segment.decode(odd.descriptor()));
    try testing.expectEqual(@as(u32, 0xA_BCDE), odd.limitBytes());
}

test "writeGdt lays out null, null, __BOOT_CS, __BOOT_DS" {
    var backing = [_]u8{0xEE} ** 0x1000;
    const mem = testMemory(&backing);
    try writeGdt(mem, 0x500, code64);

    const gdt = mem.slice(0x500, gdt_bytes).?;
    try testing.expect(std.mem.allEqual(u8, gdt[0..16], 0));
    const cs = Segment.decode(std.mem.readInt(u64, gdt[boot_cs..][0..8], .little));
    try testing.expectEqual(code64, cs);
    try testing.expectEqual(@as(u1, 1), cs.l);
    try testing.expectEqual(@as(u8, 0x9B), gdt[boot_cs + 5]);
    try testing.expectEqual(@as(u8, 0xAF), gdt[boot_cs + 6]);
    const ds = Segment.decode(std.mem.readInt(u64, gdt[boot_ds..][0..8], .little));
    try testing.expectEqual(data, ds);
    try testing.expectEqual(@as(u8, 0x93), gdt[boot_ds + 5]);
    try testing.expectEqual(@as(u8, 0xEE), backing[0x500 + gdt_bytes]);

    try writeGdt(mem, 0x500, code32);
    try testing.expectEqual(@as(u8, 0xCF), gdt[boot_cs + 6]);
    try testing.expectError(error.OutsideGuestRam, writeGdt(mem, 0x1000 - 8, code64));
}

test "identity page tables map the first 4 GiB onto itself" {
    const backing = try testing.allocator.alloc(u8, 0x10_0000);
    defer testing.allocator.free(backing);
    @memset(backing, 0xEE);
    const mem = testMemory(backing);
    const cr3 = try writeIdentityPageTables(mem, 0x9000);
    try testing.expectEqual(@as(u64, 0x9000), cr3);

    const addresses = [_]u64{ 0, 0x7000, 0x10_0200, 0x1234_5678, 0x4000_0000, 0xBFFF_FFFF, 0xFEE0_0000, 0xFFFF_FFFF };
    for (addresses) |address| {
        try testing.expectEqual(@as(?u64, address), try translate(mem, cr3, address));
    }
    try testing.expectEqual(@as(?u64, null), try translate(mem, cr3, 1 << 32));
    try testing.expectEqual(@as(?u64, null), try translate(mem, cr3, 1 << 39));
    // Six pages exactly: the bytes around them are untouched.
    try testing.expectEqual(@as(u8, 0xEE), backing[0x9000 - 1]);
    try testing.expectEqual(@as(u8, 0xEE), backing[0x9000 + page_tables_bytes]);
}

test "writeIdentityPageTables refuses tables that leave RAM, writing nothing" {
    var backing = [_]u8{0xEE} ** 0x8000;
    const mem = testMemory(&backing);
    try testing.expectError(error.OutsideGuestRam, writeIdentityPageTables(mem, 0x3000));
    try testing.expect(std.mem.allEqual(u8, &backing, 0xEE));
}
