//! One virtual machine: the KVM VM and vCPU file descriptors, guest RAM, and the emulated devices
//! on the port bus. Built in one straight line by `create`; run one vCPU per thread with `runVcpu`.
const std = @import("std");
const linux = std.os.linux;
const posix = std.posix;

const kvm = @import("kvm.zig");
const platform = @import("platform.zig");
const GuestMemory = @import("memory.zig").GuestMemory;
const device = @import("devices/device.zig");
const Uart16550 = @import("devices/uart16550.zig").Uart16550;
const Cmos = @import("devices/cmos.zig").Cmos;
const I8042 = @import("devices/i8042.zig").I8042;
const AcpiPm = @import("devices/acpi_pm.zig").AcpiPm;
const ResetControl = @import("devices/reset_control.zig").ResetControl;
const PostCode = @import("devices/post_code.zig").PostCode;
const DebugConsole = @import("devices/debug_console.zig").DebugConsole;
const exit_port_mod = @import("devices/exit_port.zig");
const vmmouse = @import("devices/vmmouse.zig");
const ExitPort = exit_port_mod.ExitPort;
const pci = @import("devices/pci.zig");
const i440fx = @import("devices/i440fx.zig");
const FwCfg = @import("devices/fw_cfg.zig").FwCfg;
const vga_mod = @import("devices/vga.zig");
const ata = @import("devices/ata.zig");
const ide_mod = @import("devices/ide.zig");
const Ide = ide_mod.Ide;
const ahci_mod = @import("devices/ahci.zig");
const Ahci = ahci_mod.Ahci;
const block = @import("block.zig");
const Vga = vga_mod.Vga;
const vga_memory = @import("devices/vga_memory.zig");
const svga_mod = @import("devices/vmware_svga.zig");
const Svga = svga_mod.Svga;
const piix = @import("devices/piix.zig");
const linux_boot = @import("boot/linux.zig");
const acpi = @import("boot/acpi.zig");
const long_mode = @import("boot/long_mode.zig");
const events = @import("events.zig");
const port_bus = @import("port_bus.zig");
const ConsoleTap = @import("console_tap.zig").ConsoleTap;

pub const max_vcpus: u32 = 64;
pub const min_ram_bytes: u64 = 16 << 20;
const page_size = std.heap.page_size_min;

/// Why a vCPU's run loop returned to its caller.
pub const Exit = enum(i32) {
    /// Kicked (timeout, Ctrl-C, another vCPU's exit): the caller decides what happens next.
    interrupted = 0,
    power_off = 1,
    reset = 2,
    /// KVM could not continue the guest (entry failure, internal error, guest crash event).
    failed = 3,
    /// The guest wrote its exit status to the exit port (`exit_port.value`).
    guest_exit = 4,
};

/// The last thing that went wrong, as one sentence for the user. Written by any thread.
pub const ErrorMessage = struct {
    var mutex: std.Thread.Mutex = .{};
    var text: [512]u8 = undefined;
    var len: usize = 0;

    pub fn set(comptime fmt: []const u8, args: anytype) void {
        mutex.lock();
        defer mutex.unlock();
        const written = std.fmt.bufPrint(&text, fmt, args) catch text[0..text.len];
        len = written.len;
    }

    pub fn copy(dest: []u8) usize {
        mutex.lock();
        defer mutex.unlock();
        const n = @min(dest.len, len);
        @memcpy(dest[0..n], text[0..n]);
        return n;
    }
};

/// The reset control register is the second byte of the PCI address register's dword: byte
/// accesses there go to it, everything else in 0xCF8-0xCFF to the PCI bus.
const reset_control_offset = platform.reset_control.base - platform.pci_config.base;

/// KVM memory slots. Low RAM is two slots around the legacy VGA window (0xA0000-0xBFFFF), which
/// the VGA serves: as MMIO, or through `legacy_window` where plain memory behaves like the chip.
pub const Slot = struct {
    pub const low_ram: u32 = 0;
    pub const high_ram: u32 = 1;
    pub const vram: u32 = 2;
    pub const firmware: u32 = 3;
    pub const low_ram_upper: u32 = 4;
    pub const legacy_window: u32 = 5;
    pub const svga_fifo: u32 = 6;
};

pub const legacy_window_base: u32 = vga_memory.window_base;
pub const legacy_window_bytes: u32 = vga_memory.window_bytes;
const legacy_window_end: u32 = legacy_window_base + legacy_window_bytes;

/// Which display adapter the machine has (`--vga`).
pub const VgaKind = enum(u32) { none = 0, std = 1, vmware = 2 };

/// Video memory sizes `--vram` accepts: a power of two, 1 MiB to 256 MiB.
pub const min_vram_bytes: u32 = 1 << 20;
pub const max_vram_bytes: u32 = 256 << 20;
/// The VMware SVGA's command FIFO (BAR2).
const svga_fifo_bytes: u32 = 256 << 10;

comptime {
    // A DMA batch from the controllers fits one vectored image request.
    std.debug.assert(ata.max_regions == block.max_regions);
    for (ide_mod.legacy_ports, [_]platform.PortDevice{ platform.ide_primary, platform.ide_secondary }, [_]platform.PortDevice{ platform.ide_primary_control, platform.ide_secondary_control }) |ports, command, control| {
        std.debug.assert(ports.command == command.base and ports.control == control.base and ports.irq == command.irq.?);
    }
    std.debug.assert(platform.vga.base == vga_mod.legacy_port_base and platform.vga.len == vga_mod.legacy_port_count);
    std.debug.assert(platform.vga_dispi.base == vga_mod.dispi_port_base and platform.vga_dispi.len == vga_mod.dispi_port_count);
    std.debug.assert(platform.reset_control.base > platform.pci_config.base and
        platform.reset_control.base < platform.pci_config.base + platform.pci_config.len);
}

/// KVM exits by kind, for `--json`; lib/native.ts `EXIT_COUNT_KINDS` names them in this order.
pub const ExitCount = enum(u32) {
    io,
    mmio,
    /// Guest MMIO writes KVM queued in the coalesced ring instead of exiting for each.
    coalesced_mmio,
    /// KVM_RUN returned for a signal (a kick) or an external interrupt.
    interrupted,
    shutdown,
    system_event,
    failed,
};
pub const exit_count_kinds: u32 = @typeInfo(ExitCount).@"enum".fields.len;

pub const Vcpu = struct {
    index: u32,
    /// Written by this vCPU's thread only; read by any (monotonic loads).
    exit_counts: [exit_count_kinds]u64 = [_]u64{0} ** exit_count_kinds,
    fd: i32,
    run: *volatile kvm.Run,
    run_mapping: []align(page_size) u8,
    kick_requested: std.atomic.Value(bool) = std.atomic.Value(bool).init(false),
    /// The thread inside KVM_RUN (0 when none), so a kick can interrupt it with a signal.
    thread: std.atomic.Value(usize) = std.atomic.Value(usize).init(0),
};

pub const Vm = struct {
    kvm_fd: i32,
    vm_fd: i32,
    memory: GuestMemory,
    memory_mapping: []align(page_size) u8,
    vcpus: [max_vcpus]Vcpu,
    vcpu_count: u32,
    requests: device.MachineRequests = .{},
    /// The fixed port ranges (registered by `create`, read-only while vCPUs run).
    port_bus: port_bus.PortBus = .{},

    uart: Uart16550,
    cmos: Cmos,
    keyboard_controller: I8042,
    acpi_pm: AcpiPm,
    reset_control: ResetControl,
    post_code: PostCode,
    debug_console: DebugConsole,
    /// Answers only where `addExitPort` registered it (`--exit-port`).
    exit_port: ExitPort,
    /// VMware's absolute pointer behind the backdoor port (answered in `handlePortIo` once
    /// `vmmouse_enabled`; without it the port is unclaimed, and Linux's psmouse keeps to PS/2).
    vmmouse: vmmouse.VmMouse = .{},
    vmmouse_enabled: bool = false,
    fw_cfg: FwCfg,
    vga: Vga,
    ide: Ide,
    /// The drives on the IDE channels: [channel * 2 + position]; an image backs each one.
    drives: [4]ata.Drive,
    ahci: Ahci,
    /// The drives on the AHCI ports.
    sata_drives: [ahci_mod.port_count]ata.Drive,
    /// Owns the bytes behind fw_cfg items (firmware files, the kernel for firmware boot) until
    /// the VM is destroyed.
    firmware_storage: std.heap.ArenaAllocator,

    pci_bus: pci.Bus,
    host_bridge: pci.Function,
    isa_bridge: pci.Function,
    ide_function: pci.Function,
    ahci_function: pci.Function,
    power_management: pci.Function,
    vga_function: pci.Function,
    vga_kind: VgaKind,
    /// The VMware SVGA II (`--vga vmware`); its VGA core is `vga`, sharing the video memory.
    svga: Svga,
    /// The SVGA's FIFO memory, mapped into the guest at its BAR 2 while enabled.
    svga_fifo: []align(page_size) u8,
    svga_fifo_guest_address: ?u32 = null,
    /// The video memory, mapped into the guest wherever the display's framebuffer BAR points
    /// while enabled (BAR 0 of the std VGA, BAR 1 of the SVGA).
    vram: []align(page_size) u8,
    vram_guest_address: ?u32 = null,
    /// Whether `Slot.legacy_window` is registered (the VGA's `WindowMapping` is not `.mmio`).
    window_mapped: std.atomic.Value(bool) = std.atomic.Value(bool).init(false),
    /// Screen changes found in KVM's dirty log, part of `screen.generation`.
    screen_writes: std.atomic.Value(u64) = std.atomic.Value(u64).init(0),
    /// KVM_GET_DIRTY_LOG's bitmap for the largest slot looked at (256 MiB of video memory);
    /// only the timer thread, which runs the screen watch, uses it.
    dirty_bitmap: [max_vram_bytes / page_size / 64]u64 = undefined,
    /// The firmware image's read-only host copy, mapped just below 4 GiB (firmware boot only).
    firmware_image: ?[]align(page_size) u8 = null,

    /// Drives the RTC's periodic, alarm and update interrupts between guest accesses.
    timer_thread: ?std.Thread = null,
    timer_running: std.atomic.Value(bool) = std.atomic.Value(bool).init(false),
    screen_watch: ScreenWatch = .{},
    /// What native code tells TypeScript (events.zig).
    events: events.Channel = .{},
    /// The BIOS keyboard buffer's head and tail as last seen, and since when (firmwareKeysFull).
    firmware_keys_seen: struct { state: u32 = 0, since_ns: u64 = 0 } = .{},
    /// A copy of COM1's output for TypeScript while it watches the console.
    console_tap: ConsoleTap = .{},

    serial_output_fd: std.atomic.Value(i32) = std.atomic.Value(i32).init(-1),
    debug_output_fd: std.atomic.Value(i32) = std.atomic.Value(i32).init(-1),
    /// KVM's coalesced MMIO ring (a page of vCPU 0's area) while the legacy window is a
    /// coalesced zone: the guest's planar writes wait there instead of exiting one by one, and
    /// `flushCoalescedMmio` replays them, in order, before anything else looks at the VGA.
    coalesced_ring: ?*[page_size]u8 = null,
    coalesced_mutex: std.Thread.Mutex = .{},
    coalesced_writes: std.atomic.Value(u64) = std.atomic.Value(u64).init(0),
    /// Bytes COM1 has transmitted.
    serial_bytes: std.atomic.Value(u64) = std.atomic.Value(u64).init(0),
    /// Set when KVM refused the legacy window's slot; `create` fails on it, later guests go slow.
    window_register_failed: bool = false,
    /// Guest accesses that no device claimed: counted, answered with all-ones, never trusted.
    unclaimed_port_accesses: std.atomic.Value(u64) = std.atomic.Value(u64).init(0),
    unclaimed_mmio_accesses: std.atomic.Value(u64) = std.atomic.Value(u64).init(0),
};

/// The screen watch: while `interval_ns` is set, the timer thread looks at the screen's
/// generation that often and posts `screen_changed` when it moved, so the `-g` display redraws
/// on change without a timer of its own. Once the screen has been still for `still_looks_max`
/// looks it looks `idle_factor` times less often, until the next change.
pub const ScreenWatch = struct {
    pub const still_looks_max: u32 = 15;
    pub const idle_factor: u64 = 3;

    interval_ns: std.atomic.Value(u64) = std.atomic.Value(u64).init(0),
    /// screen.zig's `generation`, set by root.zig before the watch can start (vm.zig does not
    /// import the screen); read only after a nonzero `interval_ns` is seen.
    generation_fn: ?*const fn (*Vm) u64 = null,
    /// The timer thread's own: the generation last posted, looks since, when to look next.
    last_generation: ?u64 = null,
    still_looks: u32 = 0,
    next_ns: u64 = 0,
};

pub const CreateError = error{ KvmMissing, KvmPermission, KvmNotKvm, KvmApiMismatch, KvmFailed, OutOfMemory };

pub fn create(kvm_path: [*:0]const u8, ram_bytes: u64, cpu_count: u32, vga_kind: VgaKind, vram_bytes: u32) CreateError!*Vm {
    std.debug.assert(ram_bytes >= min_ram_bytes);
    std.debug.assert(ram_bytes % page_size == 0);
    std.debug.assert(cpu_count >= 1 and cpu_count <= max_vcpus);
    std.debug.assert(std.math.isPowerOfTwo(vram_bytes) and vram_bytes >= min_vram_bytes and vram_bytes <= max_vram_bytes);
    installKickSignalHandler();

    const kvm_fd = try openKvm(kvm_path);
    errdefer posix.close(kvm_fd);
    const vm_fd: i32 = @intCast(try kvmCall(kvm_fd, kvm.ioctl.create_vm, 0, "KVM_CREATE_VM"));
    errdefer posix.close(vm_fd);

    _ = try kvmCall(vm_fd, kvm.ioctl.set_tss_addr, platform.memory.kvm_tss, "KVM_SET_TSS_ADDR");
    var identity_map: u64 = platform.memory.kvm_identity_map;
    _ = try kvmCall(vm_fd, kvm.ioctl.set_identity_map_addr, @intFromPtr(&identity_map), "KVM_SET_IDENTITY_MAP_ADDR");
    _ = try kvmCall(vm_fd, kvm.ioctl.create_irqchip, 0, "KVM_CREATE_IRQCHIP");
    var pit = kvm.PitConfig{};
    _ = try kvmCall(vm_fd, kvm.ioctl.create_pit2, @intFromPtr(&pit), "KVM_CREATE_PIT2");

    const mapping = mapGuestRam(@intCast(ram_bytes)) catch {
        ErrorMessage.set("cannot map {d} MiB of guest RAM", .{ram_bytes >> 20});
        return error.OutOfMemory;
    };
    errdefer posix.munmap(mapping);
    const memory = GuestMemory.init(mapping);
    std.debug.assert(memory.low_size > legacy_window_end);
    try registerMemory(vm_fd, Slot.low_ram, 0, memory.host[0..legacy_window_base]);
    try registerMemory(vm_fd, Slot.low_ram_upper, legacy_window_end, memory.host[legacy_window_end..@intCast(memory.low_size)]);
    if (memory.high_size > 0) {
        try registerMemory(vm_fd, Slot.high_ram, platform.memory.high_ram_start, memory.host[@intCast(memory.low_size)..]);
    }

    const vram = try mapDeviceMemory(vram_bytes, "video memory");
    errdefer posix.munmap(vram);
    const svga_fifo = try mapDeviceMemory(svga_fifo_bytes, "SVGA FIFO memory");
    errdefer posix.munmap(svga_fifo);

    const vm = std.heap.page_allocator.create(Vm) catch {
        ErrorMessage.set("out of memory for the VM state", .{});
        return error.OutOfMemory;
    };
    errdefer std.heap.page_allocator.destroy(vm);
    vm.* = .{
        .kvm_fd = kvm_fd,
        .vm_fd = vm_fd,
        .memory = memory,
        .memory_mapping = mapping,
        .vcpus = undefined,
        .vcpu_count = 0,
        .uart = undefined,
        .cmos = undefined,
        .keyboard_controller = undefined,
        .acpi_pm = undefined,
        .reset_control = undefined,
        .post_code = undefined,
        .debug_console = undefined,
        .exit_port = undefined,
        .fw_cfg = undefined,
        .vga = undefined,
        .ide = undefined,
        .drives = undefined,
        .ahci = undefined,
        .sata_drives = undefined,
        .firmware_storage = std.heap.ArenaAllocator.init(std.heap.page_allocator),
        .pci_bus = undefined,
        .host_bridge = undefined,
        .isa_bridge = undefined,
        .ide_function = undefined,
        .ahci_function = undefined,
        .power_management = undefined,
        .vga_function = undefined,
        .vga_kind = vga_kind,
        .svga = undefined,
        .svga_fifo = svga_fifo,
        .vram = vram,
    };
    initDevices(vm);
    initPciBus(vm);
    try registerPorts(vm);
    if (vga_kind != .none) {
        // Tells windowChanged the initial mapping, which registers the legacy window's slot.
        vm.vga.attachMemory(vram, memory.host[legacy_window_base..legacy_window_end], .{ .context = vm, .changedFn = windowChanged });
        if (vm.window_register_failed) return error.KvmFailed;
    }
    errdefer destroyVcpus(vm);
    for (0..cpu_count) |index| try createVcpu(vm, @intCast(index));
    if (vga_kind != .none) coalesceLegacyWindow(vm);
    // QEMU's pc defaults, which SeaBIOS reads from CMOS: boot order "cad" and the CPU count.
    vm.cmos.setBootOrder(&.{ .hard_disk, .floppy, .cdrom });
    vm.cmos.setCpuCount(cpu_count);
    vm.timer_running.store(true, .release);
    vm.timer_thread = std.Thread.spawn(.{ .stack_size = 64 << 10 }, runTimers, .{vm}) catch {
        ErrorMessage.set("cannot start the device timer thread", .{});
        return error.OutOfMemory;
    };
    return vm;
}

/// Makes guest writes to the legacy window coalesced MMIO where KVM can (see `coalesced_ring`);
/// without it every write exits, which is slower but the same to the guest.
fn coalesceLegacyWindow(vm: *Vm) void {
    std.debug.assert(vm.vcpu_count >= 1 and vm.coalesced_ring == null);
    const page_offset = kvm.call(vm.kvm_fd, kvm.ioctl.check_extension, kvm.cap_coalesced_mmio) catch return;
    if (page_offset == 0) return;
    const area = vm.vcpus[0].run_mapping;
    if (area.len / page_size <= page_offset) return;
    // The ring must be reachable before the zone exists, or queued writes would never be seen.
    vm.coalesced_ring = area[page_offset * page_size ..][0..page_size];
    var zone = kvm.CoalescedMmioZone{ .addr = legacy_window_base, .size = legacy_window_bytes };
    _ = kvm.call(vm.vm_fd, kvm.ioctl.register_coalesced_mmio, @intFromPtr(&zone)) catch {
        vm.coalesced_ring = null;
    };
}

/// Replays the guest's queued window writes, oldest first. Every vCPU exit starts with it and
/// so does every look at the screen, so nothing reads the VGA around a write still queued.
pub fn flushCoalescedMmio(vm: *Vm) void {
    const page = vm.coalesced_ring orelse return;
    const ring: *kvm.CoalescedMmioRing = @ptrCast(@alignCast(page));
    if (@atomicLoad(u32, &ring.last, .acquire) == @atomicLoad(u32, &ring.first, .monotonic)) return;
    const entries: *const [kvm.coalesced_mmio_max]kvm.CoalescedMmio = @ptrCast(@alignCast(page[@sizeOf(kvm.CoalescedMmioRing)..]));
    vm.coalesced_mutex.lock();
    defer vm.coalesced_mutex.unlock();
    var first = ring.first;
    while (true) {
        const last = @atomicLoad(u32, &ring.last, .acquire);
        // KVM keeps both below the ring's size; anything else would index past the page.
        if (first == last or first >= kvm.coalesced_mmio_max or last >= kvm.coalesced_mmio_max) break;
        const entry = entries[first];
        mmioWrite(vm, entry.phys_addr, entry.data[0..@min(entry.len, entry.data.len)]);
        _ = vm.coalesced_writes.fetchAdd(1, .monotonic);
        first = (first + 1) % kvm.coalesced_mmio_max;
        @atomicStore(u32, &ring.first, first, .release);
    }
}

/// The device timer thread: lets the RTC raise its interrupts on time. It sleeps until the
/// RTC's next event, but never longer than 10 ms, so a newly programmed rate takes effect soon.
fn runTimers(vm: *Vm) void {
    const max_sleep_ns: u64 = 10 * std.time.ns_per_ms;
    // Below the RTC's fastest period (122 us), so no tick is missed, and never a busy loop.
    const min_sleep_ns: u64 = 50 * std.time.ns_per_us;
    while (vm.timer_running.load(.acquire)) {
        vm.cmos.poll();
        vm.keyboard_controller.poll();
        if (vm.vga_kind == .vmware) vm.svga.poll();
        const now = hostMonotonicNs();
        const watch_next = watchScreen(vm, now);
        const next = @min(vm.cmos.nextEventNs() orelse now + max_sleep_ns, watch_next orelse now + max_sleep_ns);
        const sleep_ns = if (next > now) @min(next - now, max_sleep_ns) else 0;
        std.time.sleep(@max(sleep_ns, min_sleep_ns));
    }
}

/// The screen watch's turn on the timer thread: returns when it wants to look next, or null
/// while nobody watches.
fn watchScreen(vm: *Vm, now: u64) ?u64 {
    const watch = &vm.screen_watch;
    const interval_ns = watch.interval_ns.load(.acquire);
    if (interval_ns == 0) {
        watch.last_generation = null;
        return null;
    }
    if (now < watch.next_ns) return watch.next_ns;
    const generation = watch.generation_fn.?(vm);
    // The first look always posts, so a new watcher draws the screen as it is.
    if (watch.last_generation != generation) {
        watch.last_generation = generation;
        watch.still_looks = 0;
        _ = vm.events.postUnlessQueued(.{ .kind = .screen_changed });
    } else {
        watch.still_looks = @min(watch.still_looks + 1, ScreenWatch.still_looks_max);
    }
    const idle = watch.still_looks == ScreenWatch.still_looks_max;
    watch.next_ns = now + if (idle) interval_ns * ScreenWatch.idle_factor else interval_ns;
    return watch.next_ns;
}

/// Video or FIFO memory: shared, so that KVM's dirty log and the host's renderer see one copy.
fn mapDeviceMemory(bytes: u32, comptime what: []const u8) CreateError![]align(page_size) u8 {
    return posix.mmap(null, bytes, posix.PROT.READ | posix.PROT.WRITE, .{ .TYPE = .SHARED, .ANONYMOUS = true, .NORESERVE = true }, -1, 0) catch {
        ErrorMessage.set("cannot map {d} KiB of " ++ what, .{bytes >> 10});
        return error.OutOfMemory;
    };
}

/// Guest RAM: private anonymous memory on a 2 MiB boundary, with transparent huge pages asked
/// for, so the guest's memory is backed by 2 MiB pages where the host allows: far fewer nested
/// page faults and TLB misses than 4 KiB pages (shared anonymous memory gets no huge pages).
fn mapGuestRam(len: usize) error{OutOfMemory}![]align(page_size) u8 {
    const huge_page: usize = 2 << 20;
    const padded = std.math.add(usize, len, huge_page) catch return error.OutOfMemory;
    const whole = posix.mmap(null, padded, posix.PROT.READ | posix.PROT.WRITE, .{ .TYPE = .PRIVATE, .ANONYMOUS = true, .NORESERVE = true }, -1, 0) catch return error.OutOfMemory;
    const start = std.mem.alignForward(usize, @intFromPtr(whole.ptr), huge_page);
    const head = start - @intFromPtr(whole.ptr);
    // Give back the unaligned head and the tail beyond `len`.
    if (head > 0) posix.munmap(@alignCast(whole[0..head]));
    const tail_start = head + len;
    if (tail_start < padded) posix.munmap(@alignCast(whole[tail_start..]));
    const ram: []align(page_size) u8 = @alignCast(whole[head..tail_start]);
    posix.madvise(ram.ptr, ram.len, posix.MADV.HUGEPAGE) catch {};
    return ram;
}

pub fn destroy(vm: *Vm) void {
    vm.events.close();
    if (vm.timer_thread) |thread| {
        vm.timer_running.store(false, .release);
        thread.join();
    }
    // Let KVM tear the VM down (vCPU areas and fds hold it) before its RAM goes away, so the
    // kernel frees the guest's page tables once instead of invalidating every mapping first.
    destroyVcpus(vm);
    posix.close(vm.vm_fd);
    posix.munmap(vm.memory_mapping);
    posix.munmap(vm.vram);
    posix.munmap(vm.svga_fifo);
    if (vm.firmware_image) |image| posix.munmap(image);
    vm.firmware_storage.deinit();
    posix.close(vm.kvm_fd);
    std.heap.page_allocator.destroy(vm);
}

fn destroyVcpus(vm: *Vm) void {
    vm.coalesced_ring = null;
    for (vm.vcpus[0..vm.vcpu_count]) |*vcpu| {
        posix.munmap(vcpu.run_mapping);
        posix.close(vcpu.fd);
    }
    vm.vcpu_count = 0;
}

fn openKvm(path: [*:0]const u8) CreateError!i32 {
    const fd = posix.openZ(path, .{ .ACCMODE = .RDWR, .CLOEXEC = true }, 0) catch |err| {
        const shown = std.mem.span(path);
        switch (err) {
            error.FileNotFound => {
                ErrorMessage.set("{s} does not exist", .{shown});
                return error.KvmMissing;
            },
            error.AccessDenied => {
                ErrorMessage.set("no permission to open {s}", .{shown});
                return error.KvmPermission;
            },
            else => {
                ErrorMessage.set("cannot open {s}: {s}", .{ shown, @errorName(err) });
                return error.KvmNotKvm;
            },
        }
    };
    errdefer posix.close(fd);
    const version = kvm.call(fd, kvm.ioctl.get_api_version, 0) catch {
        ErrorMessage.set("{s} is not a KVM device ({s})", .{ std.mem.span(path), @tagName(kvm.last_errno) });
        return error.KvmNotKvm;
    };
    if (version != kvm.api_version) {
        ErrorMessage.set("KVM API version {d}, vmctl needs {d}", .{ version, kvm.api_version });
        return error.KvmApiMismatch;
    }
    return fd;
}

fn kvmCall(fd: i32, request: u32, arg: usize, comptime name: []const u8) error{KvmFailed}!u32 {
    return kvm.call(fd, request, arg) catch {
        ErrorMessage.set(name ++ " failed: {s}", .{@tagName(kvm.last_errno)});
        return error.KvmFailed;
    };
}

fn registerMemory(vm_fd: i32, slot: u32, gpa: u64, host: []u8) error{KvmFailed}!void {
    try registerMemoryWithFlags(vm_fd, slot, gpa, host, 0);
}

fn registerMemoryWithFlags(vm_fd: i32, slot: u32, gpa: u64, host: []u8, flags: u32) error{KvmFailed}!void {
    var region = kvm.UserspaceMemoryRegion{
        .slot = slot,
        .flags = flags,
        .guest_phys_addr = gpa,
        .memory_size = host.len,
        .userspace_addr = @intFromPtr(host.ptr),
    };
    _ = try kvmCall(vm_fd, kvm.ioctl.set_user_memory_region, @intFromPtr(&region), "KVM_SET_USER_MEMORY_REGION");
}

fn initDevices(vm: *Vm) void {
    const serial_sink = device.ByteSink{ .context = vm, .writeFn = writeSerialOutput };
    const debug_sink = device.ByteSink{ .context = vm, .writeFn = writeDebugOutput };
    vm.uart = Uart16550.init(irqLine(vm, platform.com1.irq.?), serial_sink);
    vm.cmos = Cmos.init(irqLine(vm, platform.cmos.irq.?), vm.memory.low_size, vm.memory.high_size, hostUnixSeconds, hostMonotonicNs);
    vm.keyboard_controller = I8042.init(irqLine(vm, platform.keyboard_controller.irq.?), irqLine(vm, platform.mouse_irq), &vm.requests);
    vm.keyboard_controller.firmware_keys = .{ .context = vm, .fullFn = firmwareKeysFull };
    vm.acpi_pm = AcpiPm.init(irqLine(vm, platform.sci_irq), &vm.requests, hostMonotonicNs);
    vm.reset_control = ResetControl.init(&vm.requests);
    vm.post_code = PostCode.init();
    vm.debug_console = DebugConsole.init(debug_sink);
    vm.exit_port = ExitPort.init(&vm.requests);
    vm.fw_cfg = FwCfg.init(vm.memory.dma());
    vm.vga = Vga.init(@intCast(vm.vram.len));
    vm.svga = Svga.init(vm.vram, vm.svga_fifo, .{ .context = vm, .setLevelFn = setSvgaIntx });
    vm.ide = Ide.init(.{ irqLine(vm, platform.ide_primary.irq.?), irqLine(vm, platform.ide_secondary.irq.?) }, vm.memory.dma());
    vm.ahci = Ahci.init(vm.memory.dma(), .{ .context = vm, .setLevelFn = setAhciIntx, .msiFn = signalMsi });
}

/// A device's MSI write, delivered by the in-kernel LAPICs. Addresses outside the LAPIC's
/// 0xFEExxxxx window are a guest's mistake: KVM drops those messages.
fn signalMsi(context: ?*anyopaque, address: u64, data: u32) void {
    const vm: *Vm = @ptrCast(@alignCast(context.?));
    var msi = kvm.Msi{ .address_lo = @truncate(address), .address_hi = @truncate(address >> 32), .data = data };
    // A failure here means the VM fd is gone; the vCPU loop reports that on its next KVM_RUN.
    _ = kvm.call(vm.vm_fd, kvm.ioctl.signal_msi, @intFromPtr(&msi)) catch {};
}

fn setAhciIntx(context: ?*anyopaque, level: bool) void {
    const vm: *Vm = @ptrCast(@alignCast(context.?));
    vm.pci_bus.setIntx(&vm.ahci_function, level);
}

fn setSvgaIntx(context: ?*anyopaque, level: bool) void {
    const vm: *Vm = @ptrCast(@alignCast(context.?));
    vm.pci_bus.setIntx(&vm.vga_function, level);
}

fn initPciBus(vm: *Vm) void {
    const layout = platform.pci;
    vm.pci_bus = pci.Bus.init(
        .{ .context = vm, .setFn = setPciIrq },
        .{ .context = vm, .remapFn = remapPciFunction },
    );
    vm.host_bridge = i440fx.init();
    vm.isa_bridge = piix.initIsaBridge();
    vm.ide_function = ide_mod.initPciFunction();
    vm.ide_function.handler = vm.ide.pciHandler();
    vm.ahci_function = ahci_mod.initPciFunction();
    ahci_mod.addMsiCapability(&vm.ahci_function);
    vm.ahci_function.handler = vm.ahci.pciHandler();
    vm.power_management = piix.initPowerManagement(platform.acpi_pm.base, platform.sci_irq);
    const vram_bytes: u32 = @intCast(vm.vram.len);
    switch (vm.vga_kind) {
        .none, .std => {
            vm.vga_function = pci.Function.init(.{
                .vendor_id = layout.vga_vendor_id,
                .device_id = layout.vga_device_id,
                .class_code = 0x030000,
                .subsystem_vendor_id = layout.subsystem_vendor_id,
                .subsystem_id = layout.subsystem_id,
            });
            vm.vga_function.setBar(0, .memory32_prefetchable, vram_bytes);
        },
        .vmware => {
            vm.vga_function = svga_mod.initPciFunction(vram_bytes, svga_fifo_bytes);
            vm.vga_function.handler = vm.svga.pciHandler();
        },
    }
    for ([_]*pci.Function{ &vm.host_bridge, &vm.isa_bridge, &vm.ide_function, &vm.power_management, &vm.ahci_function }) |function| {
        function.put16(pci.Config.subsystem_vendor_id, layout.subsystem_vendor_id);
        function.put16(pci.Config.subsystem_id, layout.subsystem_id);
    }
    vm.pci_bus.attach(layout.host_bridge_slot, 0, &vm.host_bridge);
    vm.pci_bus.attach(layout.piix_slot, layout.isa_bridge_function, &vm.isa_bridge);
    vm.pci_bus.attach(layout.piix_slot, layout.ide_function, &vm.ide_function);
    vm.pci_bus.attach(layout.piix_slot, layout.power_management_function, &vm.power_management);
    if (vm.vga_kind != .none) vm.pci_bus.attach(layout.vga_slot, 0, &vm.vga_function);
    vm.pci_bus.attach(layout.ahci_slot, 0, &vm.ahci_function);
    vm.pci_bus.setRouter(&vm.isa_bridge);
    vm.ide.connect(&vm.ide_function);
    vm.ahci.connect(&vm.ahci_function);
    if (vm.vga_kind == .vmware) vm.svga.connect(&vm.vga_function);
}

fn setPciIrq(context: ?*anyopaque, irq: u8, level: bool) void {
    setIrqLine(context, irq, level);
}

/// A function's BARs moved or were switched on or off. Only the display's video memory (and the
/// SVGA's FIFO) is RAM-backed; everything else is decoded on each access by the bus.
fn remapPciFunction(context: ?*anyopaque, function: *pci.Function) void {
    const vm: *Vm = @ptrCast(@alignCast(context.?));
    if (function != &vm.vga_function) return;
    switch (vm.vga_kind) {
        .none => {},
        .std => remapBar(vm, Slot.vram, vm.vram, function.barAddress(0), &vm.vram_guest_address),
        .vmware => {
            remapBar(vm, Slot.vram, vm.vram, function.barAddress(svga_mod.vram_bar), &vm.vram_guest_address);
            remapBar(vm, Slot.svga_fifo, vm.svga_fifo, function.barAddress(svga_mod.fifo_bar), &vm.svga_fifo_guest_address);
        },
    }
}

/// Moves memory slot `slot` (backed by `host`) to `wanted`, or removes it for null. The video
/// memory's slot logs dirty pages, for `screen.generation`.
fn remapBar(vm: *Vm, slot: u32, host: []u8, wanted: ?u32, current: *?u32) void {
    if (wanted == current.*) return;
    if (current.* != null) {
        registerMemory(vm.vm_fd, slot, 0, host[0..0]) catch {};
        current.* = null;
    }
    const address = wanted orelse return;
    // A BAR over RAM or the APIC/firmware area is the guest's mistake: leave it unmapped.
    const end = @as(u64, address) + host.len;
    if (address < vm.memory.low_size or end > platform.memory.pci_mmio_end) return;
    const flags: u32 = if (slot == Slot.vram) kvm.mem_log_dirty_pages else 0;
    registerMemoryWithFlags(vm.vm_fd, slot, address, host, flags) catch return;
    current.* = address;
}

/// The VGA's legacy window changed how it wants to be served (called with the VGA's mutex held):
/// drop the old slot, map the new memory, or leave the window to MMIO exits. Between the two
/// ioctls other vCPUs take MMIO exits, which wait for the VGA's mutex and then see the new state.
fn windowChanged(context: *anyopaque, mapping: vga_mod.WindowMapping) void {
    const vm: *Vm = @ptrCast(@alignCast(context));
    if (vm.window_mapped.load(.acquire)) {
        registerMemory(vm.vm_fd, Slot.legacy_window, 0, vm.vram[0..0]) catch {};
        vm.window_mapped.store(false, .release);
    }
    const gpa: u32, const host: []u8 = switch (mapping) {
        .mmio => return,
        .text => |text| .{ text.gpa, vm.memory.host[text.gpa..][0..text.len] },
        .vram => |window| .{ window.gpa, vm.vram[window.vram_offset..][0..window.len] },
    };
    std.debug.assert(gpa >= legacy_window_base and gpa + host.len <= legacy_window_end);
    registerMemoryWithFlags(vm.vm_fd, Slot.legacy_window, gpa, host, kvm.mem_log_dirty_pages) catch {
        // The window stays MMIO, which serves every access correctly, only slower.
        vm.window_register_failed = true;
        return;
    };
    vm.window_mapped.store(true, .release);
    _ = vm.screen_writes.fetchAdd(1, .monotonic);
}

fn irqLine(vm: *Vm, irq: u8) device.IrqLine {
    return .{ .gsi = irq, .context = vm, .setFn = setIrqLine };
}

fn setIrqLine(context: ?*anyopaque, gsi: u32, level: bool) void {
    const vm: *Vm = @ptrCast(@alignCast(context.?));
    var irq_level = kvm.IrqLevel{ .irq = gsi, .level = @intFromBool(level) };
    // A failure here means the VM fd is gone; the vCPU loop reports that on its next KVM_RUN.
    _ = kvm.call(vm.vm_fd, kvm.ioctl.irq_line, @intFromPtr(&irq_level)) catch {};
}

fn hostUnixSeconds() i64 {
    return std.time.timestamp();
}

fn hostMonotonicNs() u64 {
    const now = posix.clock_gettime(.MONOTONIC) catch return 0;
    return @as(u64, @intCast(now.sec)) * std.time.ns_per_s + @as(u64, @intCast(now.nsec));
}

/// The BIOS keyboard buffer in the BIOS data area (SeaBIOS's and corevm's): head and tail
/// offsets at 0x41A and 0x41C, the buffer's bounds at 0x480 and 0x482, two bytes a key.
const bios_key_buffer = struct {
    const data_area: u64 = 0x400;
    const head: usize = 0x1A;
    const tail: usize = 0x1C;
    const start: usize = 0x80;
    const end: usize = 0x82;
    const standard_start: u16 = 0x1E;
    const standard_end: u16 = 0x3E;
    /// Keys it may hold before host keys wait: half of its fifteen.
    const keys_before_waiting: u16 = 8;
    /// Unchanged this long, nobody reads it (an operating system runs): stop waiting for it.
    const abandoned_ns: u64 = 2 * std.time.ns_per_s;
};

/// Whether the BIOS's own keyboard buffer holds many keys (see I8042.FirmwareKeys). Looks only
/// at a buffer that has the standard bounds; called with the i8042's lock held, which also
/// guards `firmware_keys_seen`.
fn firmwareKeysFull(context: *anyopaque) bool {
    const vm: *Vm = @ptrCast(@alignCast(context));
    const b = bios_key_buffer;
    const area = vm.memory.slice(b.data_area, 0x100) orelse return false;
    const read = struct {
        fn at(bytes: []const u8, offset: usize) u16 {
            return std.mem.readInt(u16, bytes[offset..][0..2], .little);
        }
    }.at;
    const head = read(area, b.head);
    const tail = read(area, b.tail);
    if (read(area, b.start) != b.standard_start or read(area, b.end) != b.standard_end) return false;
    for ([_]u16{ head, tail }) |offset| {
        if (offset < b.standard_start or offset >= b.standard_end or offset % 2 != 0) return false;
    }
    const now = hostMonotonicNs();
    const state = @as(u32, head) | @as(u32, tail) << 16;
    if (state != vm.firmware_keys_seen.state) vm.firmware_keys_seen = .{ .state = state, .since_ns = now };
    if (now -| vm.firmware_keys_seen.since_ns > b.abandoned_ns) return false;
    const size = b.standard_end - b.standard_start;
    const held = ((tail + size - head) % size) / 2;
    return held >= b.keys_before_waiting;
}

fn writeSerialOutput(context: ?*anyopaque, bytes: []const u8) void {
    const vm: *Vm = @ptrCast(@alignCast(context.?));
    writeAll(vm.serial_output_fd.load(.acquire), bytes);
    _ = vm.serial_bytes.fetchAdd(bytes.len, .monotonic);
    if (vm.console_tap.append(bytes)) _ = vm.events.postUnlessQueued(.{ .kind = .console_output });
}

fn writeDebugOutput(context: ?*anyopaque, bytes: []const u8) void {
    const vm: *Vm = @ptrCast(@alignCast(context.?));
    writeAll(vm.debug_output_fd.load(.acquire), bytes);
}

/// Writes everything unless the reader is gone; guest output must not stop the guest.
fn writeAll(fd: i32, bytes: []const u8) void {
    if (fd < 0) return;
    var rest = bytes;
    while (rest.len > 0) {
        const written = posix.write(fd, rest) catch |err| switch (err) {
            error.WouldBlock => {
                var poll_fds = [_]posix.pollfd{.{ .fd = fd, .events = posix.POLL.OUT, .revents = 0 }};
                _ = posix.poll(&poll_fds, 100) catch return;
                continue;
            },
            else => return,
        };
        rest = rest[written..];
    }
}

fn createVcpu(vm: *Vm, index: u32) CreateError!void {
    std.debug.assert(index == vm.vcpu_count);
    const fd: i32 = @intCast(try kvmCall(vm.vm_fd, kvm.ioctl.create_vcpu, index, "KVM_CREATE_VCPU"));
    errdefer posix.close(fd);
    const mmap_size = try kvmCall(vm.kvm_fd, kvm.ioctl.get_vcpu_mmap_size, 0, "KVM_GET_VCPU_MMAP_SIZE");
    if (mmap_size < @sizeOf(kvm.Run)) {
        ErrorMessage.set("KVM's vCPU area is only {d} bytes", .{mmap_size});
        return error.KvmFailed;
    }
    const run_mapping = posix.mmap(null, mmap_size, posix.PROT.READ | posix.PROT.WRITE, .{ .TYPE = .SHARED }, fd, 0) catch {
        ErrorMessage.set("cannot map the vCPU run area", .{});
        return error.KvmFailed;
    };
    errdefer posix.munmap(run_mapping);
    try setCpuid(vm, fd, index);
    try setMsrs(fd);
    try setFpu(fd);
    try setLapic(fd);
    vm.vcpus[index] = .{ .index = index, .fd = fd, .run = @ptrCast(run_mapping.ptr), .run_mapping = run_mapping };
    vm.vcpu_count += 1;
}

fn setCpuid(vm: *Vm, vcpu_fd: i32, index: u32) CreateError!void {
    var cpuid: kvm.Cpuid = undefined;
    cpuid.nent = kvm.cpuid_max_entries;
    cpuid.padding = 0;
    _ = try kvmCall(vm.kvm_fd, kvm.ioctl.get_supported_cpuid, @intFromPtr(&cpuid), "KVM_GET_SUPPORTED_CPUID");
    std.debug.assert(cpuid.nent <= kvm.cpuid_max_entries);
    for (cpuid.entries[0..cpuid.nent]) |*entry| {
        switch (entry.function) {
            1 => {
                // Initial APIC ID in EBX[31:24]; ECX[31] tells the guest it runs under a hypervisor.
                entry.ebx = (entry.ebx & 0x00FF_FFFF) | (index << 24);
                entry.ecx |= 1 << 31;
            },
            0xB, 0x1F => entry.edx = index, // x2APIC ID of this processor.
            else => {},
        }
    }
    _ = try kvmCall(vcpu_fd, kvm.ioctl.set_cpuid2, @intFromPtr(&cpuid), "KVM_SET_CPUID2");
}

fn setMsrs(vcpu_fd: i32) CreateError!void {
    const ia32_misc_enable: u32 = 0x1A0;
    const misc_enable_fast_strings: u64 = 1;
    var msrs = kvm.Msrs{ .nmsrs = 1, .entries = undefined };
    msrs.entries[0] = .{ .index = ia32_misc_enable, .data = misc_enable_fast_strings };
    const set = try kvmCall(vcpu_fd, kvm.ioctl.set_msrs, @intFromPtr(&msrs), "KVM_SET_MSRS");
    if (set != msrs.nmsrs) {
        ErrorMessage.set("KVM_SET_MSRS set {d} of {d} MSRs", .{ set, msrs.nmsrs });
        return error.KvmFailed;
    }
}

fn setFpu(vcpu_fd: i32) CreateError!void {
    // The power-on x87 control word and SSE control/status (all exceptions masked).
    var fpu = kvm.Fpu{ .fcw = 0x37F, .mxcsr = 0x1F80 };
    _ = try kvmCall(vcpu_fd, kvm.ioctl.set_fpu, @intFromPtr(&fpu), "KVM_SET_FPU");
}

fn setLapic(vcpu_fd: i32) CreateError!void {
    // Wire LINT0 to the 8259 (ExtINT) and LINT1 to NMI, as firmware does on a PC, so
    // interrupts from the PIC reach the CPU before the guest programs its local APIC.
    const lvt_lint0 = 0x350;
    const lvt_lint1 = 0x360;
    const delivery_extint: u32 = 0b111 << 8;
    const delivery_nmi: u32 = 0b100 << 8;
    const delivery_mask: u32 = 0b111 << 8;
    var lapic: kvm.LapicState = undefined;
    _ = try kvmCall(vcpu_fd, kvm.ioctl.get_lapic, @intFromPtr(&lapic), "KVM_GET_LAPIC");
    const lint0 = std.mem.readInt(u32, lapic.regs[lvt_lint0..][0..4], .little);
    const lint1 = std.mem.readInt(u32, lapic.regs[lvt_lint1..][0..4], .little);
    std.mem.writeInt(u32, lapic.regs[lvt_lint0..][0..4], (lint0 & ~delivery_mask) | delivery_extint, .little);
    std.mem.writeInt(u32, lapic.regs[lvt_lint1..][0..4], (lint1 & ~delivery_mask) | delivery_nmi, .little);
    _ = try kvmCall(vcpu_fd, kvm.ioctl.set_lapic, @intFromPtr(&lapic), "KVM_SET_LAPIC");
}

pub const LoadError = linux_boot.Error || error{ TablesTooLarge, KvmFailed };

/// Direct Linux boot: ACPI tables, kernel, initrd and command line into RAM; vCPU 0 at the entry.
pub fn loadLinux(vm: *Vm, kernel_image: []const u8, initrd: []const u8, cmdline: []const u8) LoadError!void {
    std.debug.assert(vm.vcpu_count >= 1);
    const rsdp = try acpi.build(vm.memory, platform.linux_boot.acpi_tables, platform.memory.bios_area_end, acpi.configForPlatform(vm.vcpu_count));
    const entry = try linux_boot.load(vm.memory, kernel_image, initrd, cmdline, rsdp);
    const long = entry.mode == .long_64;
    const code = if (long) long_mode.code64 else long_mode.code32;
    try long_mode.writeGdt(vm.memory, platform.linux_boot.gdt, code);
    const cr3 = try long_mode.writeIdentityPageTables(vm.memory, platform.linux_boot.page_tables);
    const fd = vm.vcpus[0].fd;

    var sregs: kvm.Sregs = undefined;
    _ = try kvmCall(fd, kvm.ioctl.get_sregs, @intFromPtr(&sregs), "KVM_GET_SREGS");
    sregs.cs = segment(code, long_mode.boot_cs);
    const data = segment(long_mode.data, long_mode.boot_ds);
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.gdt = .{ .base = platform.linux_boot.gdt, .limit = long_mode.gdt_limit };
    sregs.idt = .{ .base = 0, .limit = 0 };
    // ET is hard-wired to 1 on every CPU since the 486; KVM reports it set at reset.
    const cr0_et: u64 = 1 << 4;
    if (long) {
        sregs.cr0 = long_mode.cr0_pe | cr0_et | long_mode.cr0_pg;
        sregs.cr3 = cr3;
        sregs.cr4 = long_mode.cr4_pae;
        sregs.efer = long_mode.efer_lme | long_mode.efer_lma;
    } else {
        sregs.cr0 = long_mode.cr0_pe | cr0_et;
        sregs.cr3 = 0;
        sregs.cr4 = 0;
        sregs.efer = 0;
    }
    _ = try kvmCall(fd, kvm.ioctl.set_sregs, @intFromPtr(&sregs), "KVM_SET_SREGS");

    // The boot protocol: boot_params in RSI/ESI, interrupts off, the rest zero.
    var regs = kvm.Regs{ .rip = entry.rip, .rsi = entry.boot_params, .rflags = 0x2 };
    _ = try kvmCall(fd, kvm.ioctl.set_regs, @intFromPtr(&regs), "KVM_SET_REGS");
}

pub const DriveKind = enum(u32) { disk = 0, cdrom = 1 };

/// Where a drive goes: an IDE channel and position, or an AHCI port.
pub const DriveSlot = union(enum) { ide: struct { channel: u1, position: u1 }, ahci: u3 };

/// Puts an open image on an IDE channel (0 primary, 1 secondary) as master (0) or slave (1), or
/// on an AHCI port. The image must outlive the VM; the caller opened it with 512-byte (disk) or
/// 2048-byte (CD) sectors, read-only for a CD.
pub fn attachDrive(vm: *Vm, image: *block.Image, slot: DriveSlot, kind: DriveKind) error{InvalidDrive}!void {
    const backend = ata.Backend{
        .context = image,
        .sector_bytes = image.sector_bytes,
        .sector_count = image.sectorCount(),
        .read_only = image.read_only,
        .readFn = imageRead,
        .writeFn = imageWrite,
        .flushFn = imageFlush,
        .readRegionsFn = imageReadRegions,
        .writeRegionsFn = imageWriteRegions,
    };
    const wanted_sector: u32 = if (kind == .cdrom) ata.cdrom_sector_bytes else ata.disk_sector_bytes;
    if (backend.sector_bytes != wanted_sector or (kind == .cdrom and !backend.read_only)) {
        ErrorMessage.set("a {s} needs {d}-byte sectors{s}", .{ @tagName(kind), wanted_sector, if (kind == .cdrom) ", read-only" else "" });
        return error.InvalidDrive;
    }
    if (slot == .ahci and slot.ahci >= ahci_mod.port_count) return error.InvalidDrive;
    const index: usize = switch (slot) {
        .ide => |ide| @as(usize, ide.channel) * 2 + ide.position,
        .ahci => |port| vm.drives.len + port,
    };
    const drive = switch (slot) {
        .ide => &vm.drives[index],
        .ahci => |port| &vm.sata_drives[port],
    };
    var serial_buffer: [16]u8 = undefined;
    const serial = std.fmt.bufPrint(&serial_buffer, "VMCTL-{d:0>4}", .{index + 1}) catch unreachable;
    drive.* = switch (kind) {
        .disk => ata.Drive.initDisk(backend, .{ .serial = serial }),
        .cdrom => ata.Drive.initCdrom(backend, .{ .serial = serial }),
    };
    switch (slot) {
        .ide => |ide| vm.ide.attach(ide.channel, ide.position, drive),
        .ahci => |port| vm.ahci.attach(port, drive),
    }
}

fn imageRead(context: *anyopaque, sector: u64, out: []u8) bool {
    const image: *block.Image = @ptrCast(@alignCast(context));
    image.read(sector, out) catch return false;
    return true;
}

fn imageReadRegions(context: *anyopaque, sector: u64, regions: []const []u8) bool {
    const image: *block.Image = @ptrCast(@alignCast(context));
    image.readRegions(sector, regions) catch return false;
    return true;
}

fn imageWriteRegions(context: *anyopaque, sector: u64, regions: []const []const u8) bool {
    const image: *block.Image = @ptrCast(@alignCast(context));
    image.writeRegions(sector, regions) catch return false;
    return true;
}

fn imageWrite(context: *anyopaque, sector: u64, data: []const u8) bool {
    const image: *block.Image = @ptrCast(@alignCast(context));
    image.write(sector, data) catch return false;
    return true;
}

fn imageFlush(context: *anyopaque) bool {
    const image: *block.Image = @ptrCast(@alignCast(context));
    image.flush() catch return false;
    return true;
}

pub const FirmwareError = error{ FirmwareSize, KvmFailed, OutOfMemory, OutsideGuestRam, FirmwareItems };

/// Firmware boot: the image read-only just below 4 GiB and its last 128 KiB copied into RAM at
/// 0xE0000. vCPU 0 stays in its reset state, so it starts at the reset vector (0xFFFFFFF0).
pub fn loadFirmware(vm: *Vm, image: []const u8) FirmwareError!void {
    std.debug.assert(vm.firmware_image == null);
    const limits = platform.firmware;
    if (image.len < limits.min_image_bytes or image.len > limits.max_image_bytes or image.len % page_size != 0) {
        ErrorMessage.set("a firmware image must be {d} KiB to {d} MiB in whole pages, not {d} bytes", .{
            limits.min_image_bytes >> 10, limits.max_image_bytes >> 20, image.len,
        });
        return error.FirmwareSize;
    }
    const copy = posix.mmap(null, image.len, posix.PROT.READ | posix.PROT.WRITE, .{ .TYPE = .PRIVATE, .ANONYMOUS = true }, -1, 0) catch {
        ErrorMessage.set("cannot map the firmware image", .{});
        return error.OutOfMemory;
    };
    errdefer posix.munmap(copy);
    @memcpy(copy, image);
    posix.mprotect(copy, posix.PROT.READ) catch {};
    try registerMemoryWithFlags(vm.vm_fd, Slot.firmware, limits.image_end - image.len, copy, kvm.mem_readonly);
    vm.firmware_image = copy;
    const low_bytes: usize = @intCast(@min(image.len, limits.low_copy_bytes));
    try vm.memory.write(platform.memory.bios_area_end - low_bytes, image[image.len - low_bytes ..]);
    try addMachineDescription(vm);
}

/// What firmware learns about the machine through fw_cfg: RAM, CPUs and the memory map.
fn addMachineDescription(vm: *Vm) FirmwareError!void {
    const boot_menu_off: u16 = 0;
    // Firmware adds the IRQ0 -> pin 2 override to its MP table, as the MADT has it.
    const irq0_override: u8 = 1;
    const cpus: u16 = @intCast(vm.vcpu_count);
    try addFirmwareItem(vm, FwCfg.Key.ram_size, std.mem.asBytes(&(vm.memory.low_size + vm.memory.high_size)));
    try addFirmwareItem(vm, FwCfg.Key.nb_cpus, std.mem.asBytes(&cpus));
    try addFirmwareItem(vm, FwCfg.Key.max_cpus, std.mem.asBytes(&cpus));
    try addFirmwareItem(vm, FwCfg.Key.boot_menu, std.mem.asBytes(&boot_menu_off));
    try addFirmwareItem(vm, FwCfg.Key.irq0_override, std.mem.asBytes(&irq0_override));

    // etc/e820: RAM and the pages KVM keeps for itself (QEMU's layout: u64 address, u64 length,
    // u32 type, packed, little-endian).
    const entry_bytes = 20;
    var e820: [3 * entry_bytes]u8 = undefined;
    var count: usize = 0;
    const entries = [_]struct { address: u64, length: u64, kind: u32 }{
        .{ .address = 0, .length = vm.memory.low_size, .kind = 1 },
        .{ .address = platform.memory.kvm_identity_map, .length = platform.memory.kvm_private_bytes, .kind = 2 },
        .{ .address = platform.memory.high_ram_start, .length = vm.memory.high_size, .kind = 1 },
    };
    for (entries) |entry| {
        if (entry.length == 0) continue;
        const slot = e820[count * entry_bytes ..][0..entry_bytes];
        std.mem.writeInt(u64, slot[0..8], entry.address, .little);
        std.mem.writeInt(u64, slot[8..16], entry.length, .little);
        std.mem.writeInt(u32, slot[16..20], entry.kind, .little);
        count += 1;
    }
    try addFirmwareFile(vm, "etc/e820", e820[0 .. count * entry_bytes]);

    // ACPI tables with the linker/loader script that has the firmware place and link them.
    var tables: [acpi.tables_file_max_bytes]u8 = undefined;
    var rsdp: [acpi.rsdp_file_bytes]u8 = undefined;
    var loader: [acpi.loader_file_bytes]u8 = undefined;
    const built = acpi.buildForFirmware(acpi.configForPlatform(vm.vcpu_count), &tables, &rsdp, &loader) catch unreachable;
    try addFirmwareFile(vm, acpi.fw_cfg_tables_file, tables[0..built.tables_len]);
    try addFirmwareFile(vm, acpi.fw_cfg_rsdp_file, rsdp[0..built.rsdp_len]);
    try addFirmwareFile(vm, acpi.fw_cfg_loader_file, loader[0..built.loader_len]);
}

/// Linux through firmware: the fw_cfg items that QEMU's linuxboot_dma.bin option ROM loads and
/// starts (the ROM itself comes as the firmware file "genroms/linuxboot_dma.bin").
pub fn loadLinuxViaFirmware(vm: *Vm, kernel_image: []const u8, initrd: []const u8, cmdline: []const u8) (linux_boot.Error || FirmwareError)!void {
    std.debug.assert(vm.firmware_image != null);
    const storage = vm.firmware_storage.allocator();
    // fw_cfg items borrow their bytes: keep copies for the VM's lifetime.
    const image = storage.dupe(u8, kernel_image) catch return error.OutOfMemory;
    const initrd_copy = storage.dupe(u8, initrd) catch return error.OutOfMemory;
    const setup_out = storage.alloc(u8, linux_boot.firmware_setup_max_bytes) catch return error.OutOfMemory;
    const boot = try linux_boot.prepareFirmwareBoot(image, initrd.len, cmdline, vm.memory.low_size, setup_out);
    const cmdline_data = storage.alloc(u8, boot.cmdline_len) catch return error.OutOfMemory;
    @memcpy(cmdline_data[0..cmdline.len], cmdline);
    cmdline_data[cmdline.len] = 0;
    const Key = FwCfg.Key;
    const Item = struct { key: u16, value: u32 };
    const numbers = [_]Item{
        .{ .key = Key.setup_addr, .value = boot.setup_address },
        .{ .key = Key.setup_size, .value = @intCast(boot.setup.len) },
        .{ .key = Key.kernel_addr, .value = boot.kernel_address },
        .{ .key = Key.kernel_size, .value = @intCast(boot.kernel.len) },
        .{ .key = Key.cmdline_addr, .value = boot.cmdline_address },
        .{ .key = Key.cmdline_size, .value = boot.cmdline_len },
        .{ .key = Key.initrd_addr, .value = boot.initrd_address },
        .{ .key = Key.initrd_size, .value = @intCast(boot.initrd_len) },
    };
    for (numbers) |item| try addFirmwareItem(vm, item.key, std.mem.asBytes(&item.value));
    try lendFirmwareItem(vm, Key.setup_data, boot.setup);
    try lendFirmwareItem(vm, Key.kernel_data, boot.kernel);
    try lendFirmwareItem(vm, Key.cmdline_data, cmdline_data);
    try lendFirmwareItem(vm, Key.initrd_data, initrd_copy);
}

/// Copies `bytes` into VM-owned storage and offers them at fw_cfg key `key`.
fn addFirmwareItem(vm: *Vm, key: u16, bytes: []const u8) FirmwareError!void {
    const copy = vm.firmware_storage.allocator().dupe(u8, bytes) catch return error.OutOfMemory;
    try lendFirmwareItem(vm, key, copy);
}

/// Offers `bytes`, which must live as long as the VM, at fw_cfg key `key`.
fn lendFirmwareItem(vm: *Vm, key: u16, bytes: []const u8) FirmwareError!void {
    vm.fw_cfg.addItem(key, bytes) catch |err| {
        ErrorMessage.set("cannot add fw_cfg item 0x{x}: {s}", .{ key, @errorName(err) });
        return error.FirmwareItems;
    };
}

/// Copies `bytes` into VM-owned storage and offers them as fw_cfg file `name`.
pub fn addFirmwareFile(vm: *Vm, name: []const u8, bytes: []const u8) FirmwareError!void {
    const copy = vm.firmware_storage.allocator().dupe(u8, bytes) catch return error.OutOfMemory;
    _ = vm.fw_cfg.addFile(name, copy) catch |err| {
        ErrorMessage.set("cannot add firmware file '{s}': {s}", .{ name, @errorName(err) });
        return error.FirmwareItems;
    };
}

/// The VGA BIOS: the VGA function's expansion ROM, and the same bytes as fw_cfg file
/// "pciVVVV,DDDD.rom", where SeaBIOS looks first (reading a ROM BAR costs an exit per access).
pub fn setVgaRom(vm: *Vm, rom: []const u8) FirmwareError!void {
    std.debug.assert(vm.vga_kind != .none);
    if (rom.len < 512 or rom.len > 1 << 20 or rom[0] != 0x55 or rom[1] != 0xAA) {
        ErrorMessage.set("the VGA BIOS is not an option ROM (no 55 AA signature, or not 512 B to 1 MiB)", .{});
        return error.FirmwareSize;
    }
    const copy = vm.firmware_storage.allocator().dupe(u8, rom) catch return error.OutOfMemory;
    vm.vga_function.setRom(copy);
    var name_buffer: [32]u8 = undefined;
    const vendor_id = vm.vga_function.get16(pci.Config.vendor_id);
    const device_id = vm.vga_function.get16(pci.Config.device_id);
    const name = std.fmt.bufPrint(&name_buffer, "pci{x:0>4},{x:0>4}.rom", .{ vendor_id, device_id }) catch unreachable;
    _ = vm.fw_cfg.addFile(name, copy) catch |err| {
        ErrorMessage.set("cannot add the VGA BIOS: {s}", .{@errorName(err)});
        return error.FirmwareItems;
    };
}

fn segment(descriptor: long_mode.Segment, selector: u16) kvm.Segment {
    return .{
        .base = descriptor.base,
        .limit = descriptor.limitBytes(),
        .selector = selector,
        .type = descriptor.type,
        .present = descriptor.present,
        .dpl = descriptor.dpl,
        .db = descriptor.db,
        .s = descriptor.s,
        .l = descriptor.l,
        .g = descriptor.g,
        .avl = 0,
        .unusable = 0,
    };
}

// ---- Running ----------------------------------------------------------------------------------

/// The signal that interrupts a vCPU thread inside KVM_RUN. Its handler does nothing: the point
/// is the EINTR, and `immediate_exit` covers a kick that lands just before the ioctl.
const kick_signal = posix.SIG.USR2;

fn onKickSignal(_: i32) callconv(.c) void {}

var kick_handler_installed = std.atomic.Value(bool).init(false);

fn installKickSignalHandler() void {
    if (kick_handler_installed.swap(true, .acq_rel)) return;
    const action = posix.Sigaction{
        .handler = .{ .handler = onKickSignal },
        .mask = posix.empty_sigset,
        .flags = 0, // No SA_RESTART: KVM_RUN must return EINTR.
    };
    posix.sigaction(kick_signal, &action, null);
}

extern "c" fn pthread_kill(thread: std.c.pthread_t, sig: c_int) c_int;

/// Makes the vCPU's run loop return `interrupted` soon, from any thread.
pub fn kick(vcpu: *Vcpu) void {
    vcpu.kick_requested.store(true, .release);
    vcpu.run.immediate_exit = 1;
    const thread = vcpu.thread.load(.acquire);
    if (thread != 0) _ = pthread_kill(@ptrFromInt(thread), kick_signal);
}

/// The detail behind the last `failed` exit, for the error message.
pub const FailureDetail = extern struct {
    exit_reason: u32 = 0,
    suberror: u32 = 0,
    hardware_reason: u64 = 0,
};

/// Runs the vCPU until something the caller must decide on happens. Port and MMIO exits are
/// handled here, on the vCPU's own thread, without returning.
pub fn runVcpu(vm: *Vm, vcpu: *Vcpu) Exit {
    vcpu.thread.store(@intFromPtr(std.c.pthread_self()), .release);
    defer vcpu.thread.store(0, .release);
    while (true) {
        switch (vm.requests.get()) {
            .none => {},
            .power_off => return .power_off,
            .reset => return .reset,
            .guest_exit => return .guest_exit,
        }
        if (vcpu.kick_requested.swap(false, .acq_rel)) {
            vcpu.run.immediate_exit = 0;
            return .interrupted;
        }
        const rc = linux.ioctl(vcpu.fd, kvm.ioctl.run, 0);
        flushCoalescedMmio(vm);
        switch (linux.E.init(rc)) {
            .SUCCESS => {},
            .INTR, .AGAIN => {
                countExit(vcpu, .interrupted);
                continue;
            },
            else => |errno| {
                ErrorMessage.set("KVM_RUN failed: {s}", .{@tagName(errno)});
                return .failed;
            },
        }
        if (handleExit(vm, vcpu)) |exit| return exit;
    }
}

fn countExit(vcpu: *Vcpu, kind: ExitCount) void {
    const slot = &vcpu.exit_counts[@intFromEnum(kind)];
    @atomicStore(u64, slot, @atomicLoad(u64, slot, .monotonic) +% 1, .monotonic);
}

fn exitCountOf(reason: u32) ExitCount {
    return switch (reason) {
        kvm.exit_reason.io => .io,
        kvm.exit_reason.mmio => .mmio,
        kvm.exit_reason.intr => .interrupted,
        kvm.exit_reason.shutdown => .shutdown,
        kvm.exit_reason.system_event => .system_event,
        else => .failed,
    };
}

/// The exits of every vCPU so far, by kind.
pub fn exitCounts(vm: *const Vm) [exit_count_kinds]u64 {
    var total = [_]u64{0} ** exit_count_kinds;
    for (vm.vcpus[0..vm.vcpu_count]) |*vcpu| {
        for (&total, &vcpu.exit_counts) |*sum, *count| sum.* +%= @atomicLoad(u64, count, .monotonic);
    }
    total[@intFromEnum(ExitCount.coalesced_mmio)] = vm.coalesced_writes.load(.monotonic);
    return total;
}

fn handleExit(vm: *Vm, vcpu: *Vcpu) ?Exit {
    const run = vcpu.run;
    countExit(vcpu, exitCountOf(run.exit_reason));
    switch (run.exit_reason) {
        kvm.exit_reason.io => handlePortIo(vm, vcpu),
        kvm.exit_reason.mmio => handleMmio(vm, run),
        kvm.exit_reason.intr => {},
        // A triple fault: on a PC the chipset turns the shutdown cycle into a reset.
        kvm.exit_reason.shutdown => return .reset,
        kvm.exit_reason.system_event => switch (run.exit.system_event.type) {
            kvm.system_event.shutdown => return .power_off,
            kvm.system_event.reset => return .reset,
            else => {
                ErrorMessage.set("the guest reported a crash (KVM system event {d})", .{run.exit.system_event.type});
                return .failed;
            },
        },
        kvm.exit_reason.fail_entry => {
            ErrorMessage.set("KVM could not enter the guest (hardware reason 0x{x})", .{run.exit.fail_entry.hardware_entry_failure_reason});
            return .failed;
        },
        kvm.exit_reason.internal_error => {
            ErrorMessage.set("KVM internal error (suberror {d}) on vCPU {d}", .{ run.exit.internal.suberror, vcpu.index });
            return .failed;
        },
        else => |reason| {
            ErrorMessage.set("unexpected KVM exit reason {d} on vCPU {d}", .{ reason, vcpu.index });
            return .failed;
        },
    }
    return null;
}

fn handlePortIo(vm: *Vm, vcpu: *Vcpu) void {
    const io = vcpu.run.exit.io;
    const size: usize = io.size;
    if (size != 1 and size != 2 and size != 4) return;
    // KVM fills these, but they index our mapping: check them like any other input.
    const total = std.math.mul(usize, size, io.count) catch return;
    if (io.data_offset > vcpu.run_mapping.len or total > vcpu.run_mapping.len - io.data_offset) return;
    const data_start: usize = @intCast(io.data_offset);
    const bytes = vcpu.run_mapping[data_start..][0..total];
    if (io.port == vmmouse.port and vm.vmmouse_enabled) return vmwareBackdoor(vm, vcpu, io.direction == kvm.io_direction_out, bytes);
    var i: usize = 0;
    while (i < total) : (i += size) {
        const data = bytes[i..][0..size];
        if (io.direction == kvm.io_direction_out) portWrite(vm, io.port, data) else portRead(vm, io.port, data);
    }
}

fn portRead(vm: *Vm, port: u16, data: []u8) void {
    if (vm.port_bus.read(port, data)) return;
    if (vm.pci_bus.findIo(port)) |hit| return pci.Bus.readBar(hit, data);
    _ = vm.unclaimed_port_accesses.fetchAdd(1, .monotonic);
    @memset(data, 0xFF);
}

fn portWrite(vm: *Vm, port: u16, data: []const u8) void {
    if (vm.port_bus.write(port, data)) return;
    if (vm.pci_bus.findIo(port)) |hit| return pci.Bus.writeBar(hit, data);
    _ = vm.unclaimed_port_accesses.fetchAdd(1, .monotonic);
}

/// The machine's fixed port ranges, one line per device. Without a display (`--vga none`)
/// nothing answers the VGA's ports.
fn registerPorts(vm: *Vm) CreateError!void {
    const H = port_bus.Handler;
    try addPorts(vm, platform.com1, "COM1", H.of(Uart16550, &vm.uart));
    try addPorts(vm, platform.cmos, "CMOS", H.of(Cmos, &vm.cmos));
    try addPorts(vm, platform.keyboard_controller, "i8042", H.of(I8042, &vm.keyboard_controller));
    try addPorts(vm, platform.acpi_pm, "ACPI PM", H.of(AcpiPm, &vm.acpi_pm));
    try addPorts(vm, platform.pci_config, "PCI configuration", .{ .context = vm, .readFn = pciConfigRead, .writeFn = pciConfigWrite });
    try addPorts(vm, platform.post_code, "POST code", H.of(PostCode, &vm.post_code));
    try addPorts(vm, platform.debug_console, "debug console", H.of(DebugConsole, &vm.debug_console));
    try addPorts(vm, platform.fw_cfg, "fw_cfg", H.of(FwCfg, &vm.fw_cfg));
    if (vm.vga_kind != .none) {
        try addPorts(vm, platform.vga, "VGA", H.of(Vga, &vm.vga));
        try addPorts(vm, platform.vga_dispi, "VBE", .{ .context = vm, .readFn = vbeRead, .writeFn = vbeWrite });
    }
    inline for (.{ 0, 1 }) |channel| {
        const ports = IdeLegacyPorts(channel);
        const command = if (channel == 0) platform.ide_primary else platform.ide_secondary;
        const control = if (channel == 0) platform.ide_primary_control else platform.ide_secondary_control;
        try addPorts(vm, command, "IDE", .{ .context = vm, .readFn = ports.commandRead, .writeFn = ports.commandWrite });
        try addPorts(vm, control, "IDE", .{ .context = vm, .readFn = ports.controlRead, .writeFn = ports.controlWrite });
    }
}

pub const AddPortError = error{ PortOutOfRange, PortInUse };

/// Puts the guest exit port at `base` (`--exit-port`), before any vCPU runs; on `PortInUse`
/// the error message names the device there.
pub fn addExitPort(vm: *Vm, base: u16) AddPortError!void {
    std.debug.assert(vm.vcpus[0].thread.load(.acquire) == 0);
    if (@as(u32, base) + exit_port_mod.port_count > 0x1_0000) {
        ErrorMessage.set("port 0x{X}: the exit port needs {d} ports below 0x10000", .{ base, exit_port_mod.port_count });
        return error.PortOutOfRange;
    }
    var conflict: []const u8 = "";
    const range = port_bus.Range{ .base = base, .len = exit_port_mod.port_count, .name = "exit port", .handler = port_bus.Handler.of(ExitPort, &vm.exit_port) };
    vm.port_bus.register(range, &conflict) catch |err| switch (err) {
        error.Overlap => {
            ErrorMessage.set("ports 0x{X}-0x{X} belong to {s}", .{ base, base + exit_port_mod.port_count - 1, conflict });
            return error.PortInUse;
        },
        error.Full => {
            ErrorMessage.set("no room for another port range", .{});
            return error.PortInUse;
        },
    };
}

fn addPorts(vm: *Vm, ports: platform.PortDevice, name: []const u8, handler: port_bus.Handler) CreateError!void {
    var conflict: []const u8 = "";
    vm.port_bus.register(.{ .base = ports.base, .len = ports.len, .name = name, .handler = handler }, &conflict) catch |err| {
        ErrorMessage.set("ports 0x{X}-0x{X} of {s}: {s} ({s})", .{ ports.base, ports.base + ports.len - 1, name, @errorName(err), conflict });
        return error.KvmFailed;
    };
}

fn vmOf(context: *anyopaque) *Vm {
    return @ptrCast(@alignCast(context));
}

fn pciConfigRead(context: *anyopaque, offset: u16, data: []u8) void {
    const vm = vmOf(context);
    if (offset == reset_control_offset and data.len == 1) vm.reset_control.read(0, data) else vm.pci_bus.read(offset, data);
}

fn pciConfigWrite(context: *anyopaque, offset: u16, data: []const u8) void {
    const vm = vmOf(context);
    if (offset == reset_control_offset and data.len == 1) vm.reset_control.write(0, data) else vm.pci_bus.write(offset, data);
}

fn vbeRead(context: *anyopaque, offset: u16, data: []u8) void {
    vmOf(context).vga.readDispi(offset, data);
}

fn vbeWrite(context: *anyopaque, offset: u16, data: []const u8) void {
    vmOf(context).vga.writeDispi(offset, data);
}

fn IdeLegacyPorts(comptime channel: u1) type {
    return struct {
        fn commandRead(context: *anyopaque, offset: u16, data: []u8) void {
            const vm = vmOf(context);
            if (ideDecodes(vm, channel)) vm.ide.commandRead(channel, offset, data) else @memset(data, 0xFF);
        }
        fn commandWrite(context: *anyopaque, offset: u16, data: []const u8) void {
            const vm = vmOf(context);
            if (ideDecodes(vm, channel)) vm.ide.commandWrite(channel, offset, data);
        }
        fn controlRead(context: *anyopaque, offset: u16, data: []u8) void {
            const vm = vmOf(context);
            if (ideDecodes(vm, channel)) vm.ide.controlRead(channel, offset, data) else @memset(data, 0xFF);
        }
        fn controlWrite(context: *anyopaque, offset: u16, data: []const u8) void {
            const vm = vmOf(context);
            if (ideDecodes(vm, channel)) vm.ide.controlWrite(channel, offset, data);
        }
    };
}

/// The VMware backdoor: a dword read with the magic in EAX is a call answered in EAX, EBX, ECX
/// and EDX, so it needs the vCPU's registers, not just the port's data. Anything else (writes,
/// other widths, string I/O) reads as all-ones and does nothing. KVM writes the data into EAX as
/// it completes the read; the other registers are set here.
fn vmwareBackdoor(vm: *Vm, vcpu: *Vcpu, is_write: bool, data: []u8) void {
    if (is_write) return;
    @memset(data, 0xFF);
    if (data.len != 4) return;
    var regs: kvm.Regs = undefined;
    _ = kvm.call(vcpu.fd, kvm.ioctl.get_regs, @intFromPtr(&regs)) catch return;
    var call = vmmouse.Registers{
        .eax = @truncate(regs.rax),
        .ebx = @truncate(regs.rbx),
        .ecx = @truncate(regs.rcx),
        .edx = @truncate(regs.rdx),
    };
    const before = call;
    vm.vmmouse.call(&call);
    std.mem.writeInt(u32, data[0..4], call.eax, .little);
    if (call.ebx == before.ebx and call.ecx == before.ecx and call.edx == before.edx) return;
    // 32-bit results, zero-extended as a 32-bit register write would leave them.
    regs.rbx = call.ebx;
    regs.rcx = call.ecx;
    regs.rdx = call.edx;
    _ = kvm.call(vcpu.fd, kvm.ioctl.set_regs, @intFromPtr(&regs)) catch {};
}

/// The legacy IDE ports answer only while the IDE function decodes I/O and the channel is enabled
/// in its IDETIM register, as on a PIIX.
fn ideDecodes(vm: *Vm, channel: u1) bool {
    return ide_mod.legacyDecodeEnabled(&vm.ide_function, channel);
}

fn handleMmio(vm: *Vm, run: *volatile kvm.Run) void {
    const mmio = &run.exit.mmio;
    const len = @min(mmio.len, mmio.data.len);
    var buffer: [8]u8 = undefined;
    const data = buffer[0..len];
    if (mmio.is_write != 0) {
        for (data, 0..) |*byte, i| byte.* = mmio.data[i];
        mmioWrite(vm, mmio.phys_addr, data);
    } else {
        mmioRead(vm, mmio.phys_addr, data);
        for (data, 0..) |byte, i| mmio.data[i] = byte;
    }
}

fn inLegacyWindow(vm: *const Vm, address: u64) bool {
    return vm.vga_kind != .none and address >= legacy_window_base and address < legacy_window_end;
}

/// A guest write of 0 to 8 bytes to `address`, from an exit or the coalesced ring.
fn mmioWrite(vm: *Vm, address: u64, data: []const u8) void {
    if (inLegacyWindow(vm, address)) {
        // The VGA window wherever it is not mapped memory now; `writeMemory` refuses accesses
        // that run past its end.
        vm.vga.writeMemory(@intCast(address - legacy_window_base), data);
    } else if (vm.pci_bus.findMemory(address)) |hit| {
        pci.Bus.writeBar(hit, data);
    } else if (inFirmwareImage(vm, address)) {
        // Writes to the read-only firmware image are dropped, as a flash chip would.
    } else {
        _ = vm.unclaimed_mmio_accesses.fetchAdd(1, .monotonic);
    }
}

fn mmioRead(vm: *Vm, address: u64, data: []u8) void {
    if (inLegacyWindow(vm, address)) {
        vm.vga.readMemory(@intCast(address - legacy_window_base), data);
    } else if (vm.pci_bus.findMemory(address)) |hit| {
        pci.Bus.readBar(hit, data);
    } else {
        _ = vm.unclaimed_mmio_accesses.fetchAdd(1, .monotonic);
        @memset(data, 0xFF);
    }
}

fn inFirmwareImage(vm: *const Vm, address: u64) bool {
    const image = vm.firmware_image orelse return false;
    return address >= platform.firmware.image_end - image.len and address < platform.firmware.image_end;
}
