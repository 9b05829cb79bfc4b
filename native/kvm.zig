//! The KVM API: ioctl numbers and the structures they carry (include/uapi/linux/kvm.h, x86).
//! Only what vmctl uses; every layout is pinned by a compile-time size check.
const std = @import("std");
const linux = std.os.linux;

const kvmio: u32 = 0xAE;

fn io(nr: u8) u32 {
    return (kvmio << 8) | nr;
}

fn ioc(dir: u32, nr: u8, comptime T: type) u32 {
    return (dir << 30) | (@as(u32, @sizeOf(T)) << 16) | (kvmio << 8) | nr;
}

fn iow(nr: u8, comptime T: type) u32 {
    return ioc(1, nr, T);
}

fn ior(nr: u8, comptime T: type) u32 {
    return ioc(2, nr, T);
}

fn iowr(nr: u8, comptime T: type) u32 {
    return ioc(3, nr, T);
}

pub const api_version: u32 = 12;

/// KVM_MEM_READONLY: guest writes to the slot exit as MMIO writes.
pub const mem_readonly: u32 = 1 << 1;

pub const UserspaceMemoryRegion = extern struct {
    slot: u32,
    flags: u32,
    guest_phys_addr: u64,
    memory_size: u64,
    userspace_addr: u64,
};

/// KVM_MEM_LOG_DIRTY_PAGES: KVM records which pages of the slot the guest writes.
pub const mem_log_dirty_pages: u32 = 1 << 0;

/// KVM_GET_DIRTY_LOG: the slot's dirty-page bitmap (one bit a page, in u64 words), cleared as
/// it is read.
pub const DirtyLog = extern struct {
    slot: u32,
    padding: u32 = 0,
    dirty_bitmap: u64,
};

/// KVM_REGISTER_COALESCED_MMIO: guest writes inside the zone do not exit; KVM queues them in
/// the ring and userspace replays them at its next exit.
pub const CoalescedMmioZone = extern struct {
    addr: u64,
    size: u32,
    pio: u32 = 0,
};

/// KVM_CAP_COALESCED_MMIO: KVM_CHECK_EXTENSION answers the ring's page offset in the vCPU area.
pub const cap_coalesced_mmio: u32 = 15;

/// One queued write in the coalesced MMIO ring.
pub const CoalescedMmio = extern struct {
    phys_addr: u64,
    len: u32,
    pio: u32,
    data: [8]u8,
};

/// The ring's header; `coalesced_mmio_max` entries follow it on the same page. KVM advances
/// `last`, userspace `first`.
pub const CoalescedMmioRing = extern struct {
    first: u32,
    last: u32,
};

pub const coalesced_mmio_max: u32 = (4096 - @sizeOf(CoalescedMmioRing)) / @sizeOf(CoalescedMmio);

pub const PitConfig = extern struct {
    flags: u32 = 0,
    pad: [15]u32 = [_]u32{0} ** 15,
};

pub const IrqLevel = extern struct {
    irq: u32,
    level: u32,
};

/// One message-signalled interrupt for the in-kernel LAPICs (KVM_SIGNAL_MSI).
pub const Msi = extern struct {
    address_lo: u32,
    address_hi: u32,
    data: u32,
    flags: u32 = 0,
    devid: u32 = 0,
    pad: [12]u8 = [_]u8{0} ** 12,
};

pub const Regs = extern struct {
    rax: u64 = 0,
    rbx: u64 = 0,
    rcx: u64 = 0,
    rdx: u64 = 0,
    rsi: u64 = 0,
    rdi: u64 = 0,
    rsp: u64 = 0,
    rbp: u64 = 0,
    r8: u64 = 0,
    r9: u64 = 0,
    r10: u64 = 0,
    r11: u64 = 0,
    r12: u64 = 0,
    r13: u64 = 0,
    r14: u64 = 0,
    r15: u64 = 0,
    rip: u64 = 0,
    rflags: u64 = 0,
};

pub const Segment = extern struct {
    base: u64,
    limit: u32,
    selector: u16,
    type: u8,
    present: u8,
    dpl: u8,
    db: u8,
    s: u8,
    l: u8,
    g: u8,
    avl: u8,
    unusable: u8,
    padding: u8 = 0,
};

pub const DescriptorTable = extern struct {
    base: u64,
    limit: u16,
    padding: [3]u16 = .{ 0, 0, 0 },
};

pub const Sregs = extern struct {
    cs: Segment,
    ds: Segment,
    es: Segment,
    fs: Segment,
    gs: Segment,
    ss: Segment,
    tr: Segment,
    ldt: Segment,
    gdt: DescriptorTable,
    idt: DescriptorTable,
    cr0: u64,
    cr2: u64,
    cr3: u64,
    cr4: u64,
    cr8: u64,
    efer: u64,
    apic_base: u64,
    interrupt_bitmap: [4]u64,
};

pub const Fpu = extern struct {
    fpr: [8][16]u8 = std.mem.zeroes([8][16]u8),
    fcw: u16 = 0,
    fsw: u16 = 0,
    ftwx: u8 = 0,
    pad1: u8 = 0,
    last_opcode: u16 = 0,
    last_ip: u64 = 0,
    last_dp: u64 = 0,
    xmm: [16][16]u8 = std.mem.zeroes([16][16]u8),
    mxcsr: u32 = 0,
    pad2: u32 = 0,
};

pub const CpuidEntry = extern struct {
    function: u32,
    index: u32,
    flags: u32,
    eax: u32,
    ebx: u32,
    ecx: u32,
    edx: u32,
    padding: [3]u32,
};

/// KVM_GET_SUPPORTED_CPUID and KVM_SET_CPUID2 take a header followed by entries; the table
/// is sized for every leaf a current CPU reports, with room to spare.
pub const cpuid_max_entries: u32 = 256;
pub const Cpuid = extern struct {
    nent: u32,
    padding: u32 = 0,
    entries: [cpuid_max_entries]CpuidEntry,
};
const CpuidHeader = extern struct { nent: u32, padding: u32 };

pub const MsrEntry = extern struct {
    index: u32,
    reserved: u32 = 0,
    data: u64,
};

pub const msrs_max_entries: u32 = 8;
pub const Msrs = extern struct {
    nmsrs: u32,
    pad: u32 = 0,
    entries: [msrs_max_entries]MsrEntry,
};
const MsrsHeader = extern struct { nmsrs: u32, pad: u32 };

pub const LapicState = extern struct {
    regs: [1024]u8,
};

pub const ioctl = struct {
    // System ioctls (on the /dev/kvm fd).
    pub const get_api_version = io(0x00);
    pub const create_vm = io(0x01);
    pub const check_extension = io(0x03);
    pub const get_vcpu_mmap_size = io(0x04);
    pub const get_supported_cpuid = iowr(0x05, CpuidHeader);
    // VM ioctls.
    pub const create_vcpu = io(0x41);
    pub const get_dirty_log = iow(0x42, DirtyLog);
    pub const set_user_memory_region = iow(0x46, UserspaceMemoryRegion);
    pub const set_tss_addr = io(0x47);
    pub const set_identity_map_addr = iow(0x48, u64);
    pub const register_coalesced_mmio = iow(0x67, CoalescedMmioZone);
    pub const create_irqchip = io(0x60);
    pub const irq_line = iow(0x61, IrqLevel);
    pub const create_pit2 = iow(0x77, PitConfig);
    pub const signal_msi = iow(0xA5, Msi);
    // vCPU ioctls.
    pub const run = io(0x80);
    pub const get_regs = ior(0x81, Regs);
    pub const set_regs = iow(0x82, Regs);
    pub const get_sregs = ior(0x83, Sregs);
    pub const set_sregs = iow(0x84, Sregs);
    pub const set_msrs = iow(0x89, MsrsHeader);
    pub const set_fpu = iow(0x8D, Fpu);
    pub const get_lapic = ior(0x8E, LapicState);
    pub const set_lapic = iow(0x8F, LapicState);
    pub const set_cpuid2 = iow(0x90, CpuidHeader);
};

pub const exit_reason = struct {
    pub const io: u32 = 2;
    pub const mmio: u32 = 6;
    pub const shutdown: u32 = 8;
    pub const fail_entry: u32 = 9;
    pub const intr: u32 = 10;
    pub const internal_error: u32 = 17;
    pub const system_event: u32 = 24;
};

pub const system_event = struct {
    pub const shutdown: u32 = 1;
    pub const reset: u32 = 2;
};

pub const io_direction_out: u8 = 1;

/// The start of the shared `struct kvm_run` page; the exit-specific union begins at byte 32.
pub const Run = extern struct {
    request_interrupt_window: u8,
    immediate_exit: u8,
    padding1: [6]u8,
    exit_reason: u32,
    ready_for_interrupt_injection: u8,
    if_flag: u8,
    flags: u16,
    cr8: u64,
    apic_base: u64,
    exit: extern union {
        io: extern struct { direction: u8, size: u8, port: u16, count: u32, data_offset: u64 },
        mmio: extern struct { phys_addr: u64, data: [8]u8, len: u32, is_write: u8 },
        fail_entry: extern struct { hardware_entry_failure_reason: u64, cpu: u32 },
        internal: extern struct { suberror: u32, ndata: u32, data: [16]u64 },
        system_event: extern struct { type: u32, ndata: u32, data: [16]u64 },
        padding: [256]u8,
    },
};

comptime {
    std.debug.assert(@sizeOf(UserspaceMemoryRegion) == 32);
    std.debug.assert(@sizeOf(DirtyLog) == 16);
    std.debug.assert(@sizeOf(Msi) == 32);
    std.debug.assert(@sizeOf(PitConfig) == 64);
    std.debug.assert(@sizeOf(CoalescedMmioZone) == 16);
    std.debug.assert(@sizeOf(CoalescedMmio) == 24);
    std.debug.assert(coalesced_mmio_max == 170);
    std.debug.assert(@sizeOf(Regs) == 144);
    std.debug.assert(@sizeOf(Segment) == 24);
    std.debug.assert(@sizeOf(Sregs) == 312);
    std.debug.assert(@sizeOf(Fpu) == 416);
    std.debug.assert(@sizeOf(CpuidEntry) == 40);
    std.debug.assert(@sizeOf(MsrEntry) == 16);
    std.debug.assert(@offsetOf(Run, "exit") == 32);
    std.debug.assert(@sizeOf(Run) == 32 + 256);
    std.debug.assert(@offsetOf(Cpuid, "entries") == 8);
    std.debug.assert(@offsetOf(Msrs, "entries") == 8);
}

pub const Errno = linux.E;

/// Issues an ioctl and returns its non-negative result, or the errno.
pub fn call(fd: i32, request: u32, arg: usize) error{IoctlFailed}!u32 {
    const rc = linux.ioctl(fd, request, arg);
    if (linux.E.init(rc) != .SUCCESS) {
        last_errno = linux.E.init(rc);
        return error.IoctlFailed;
    }
    return @intCast(rc);
}

/// The errno of the last failed ioctl on this thread, for error messages.
pub threadlocal var last_errno: Errno = .SUCCESS;

test "ioctl numbers match the kernel's" {
    try std.testing.expectEqual(@as(u32, 0xAE00), ioctl.get_api_version);
    try std.testing.expectEqual(@as(u32, 0xC008AE05), ioctl.get_supported_cpuid);
    try std.testing.expectEqual(@as(u32, 0x4020AE46), ioctl.set_user_memory_region);
    try std.testing.expectEqual(@as(u32, 0x4040AE77), ioctl.create_pit2);
    try std.testing.expectEqual(@as(u32, 0x8090AE81), ioctl.get_regs);
    try std.testing.expectEqual(@as(u32, 0x4138AE84), ioctl.set_sregs);
    try std.testing.expectEqual(@as(u32, 0x41A0AE8D), ioctl.set_fpu);
    try std.testing.expectEqual(@as(u32, 0x8400AE8E), ioctl.get_lapic);
    try std.testing.expectEqual(@as(u32, 0x4008AE90), ioctl.set_cpuid2);
    try std.testing.expectEqual(@as(u32, 0x4008AE61), ioctl.irq_line);
    try std.testing.expectEqual(@as(u32, 0x4010AE67), ioctl.register_coalesced_mmio);
}
