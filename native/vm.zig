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
const linux_boot = @import("boot/linux.zig");
const acpi = @import("boot/acpi.zig");
const long_mode = @import("boot/long_mode.zig");

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

const Device = enum { uart, cmos, keyboard_controller, acpi_pm, reset_control, post_code, debug_console };

const PortRange = struct { base: u16, len: u16, device: Device };

const port_map = [_]PortRange{
    .{ .base = platform.com1.base, .len = platform.com1.len, .device = .uart },
    .{ .base = platform.cmos.base, .len = platform.cmos.len, .device = .cmos },
    .{ .base = platform.keyboard_controller.base, .len = platform.keyboard_controller.len, .device = .keyboard_controller },
    .{ .base = platform.acpi_pm.base, .len = platform.acpi_pm.len, .device = .acpi_pm },
    .{ .base = platform.reset_control.base, .len = platform.reset_control.len, .device = .reset_control },
    .{ .base = platform.post_code.base, .len = platform.post_code.len, .device = .post_code },
    .{ .base = platform.debug_console.base, .len = platform.debug_console.len, .device = .debug_console },
};

comptime {
    // No two devices may claim the same port.
    for (port_map, 0..) |a, i| {
        for (port_map[i + 1 ..]) |b| {
            std.debug.assert(a.base + a.len <= b.base or b.base + b.len <= a.base);
        }
    }
}

pub const Vcpu = struct {
    index: u32,
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

    uart: Uart16550,
    cmos: Cmos,
    keyboard_controller: I8042,
    acpi_pm: AcpiPm,
    reset_control: ResetControl,
    post_code: PostCode,
    debug_console: DebugConsole,

    serial_output_fd: std.atomic.Value(i32) = std.atomic.Value(i32).init(-1),
    debug_output_fd: std.atomic.Value(i32) = std.atomic.Value(i32).init(-1),
    /// Guest accesses that no device claimed: counted, answered with all-ones, never trusted.
    unclaimed_port_accesses: std.atomic.Value(u64) = std.atomic.Value(u64).init(0),
    unclaimed_mmio_accesses: std.atomic.Value(u64) = std.atomic.Value(u64).init(0),
};

pub const CreateError = error{ KvmMissing, KvmPermission, KvmNotKvm, KvmApiMismatch, KvmFailed, OutOfMemory };

pub fn create(kvm_path: [*:0]const u8, ram_bytes: u64, cpu_count: u32) CreateError!*Vm {
    std.debug.assert(ram_bytes >= min_ram_bytes);
    std.debug.assert(ram_bytes % page_size == 0);
    std.debug.assert(cpu_count >= 1 and cpu_count <= max_vcpus);
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

    const mapping = posix.mmap(
        null,
        @intCast(ram_bytes),
        posix.PROT.READ | posix.PROT.WRITE,
        .{ .TYPE = .SHARED, .ANONYMOUS = true, .NORESERVE = true },
        -1,
        0,
    ) catch {
        ErrorMessage.set("cannot map {d} MiB of guest RAM", .{ram_bytes >> 20});
        return error.OutOfMemory;
    };
    errdefer posix.munmap(mapping);
    const memory = GuestMemory.init(mapping);
    try registerMemory(vm_fd, 0, 0, memory.host[0..@intCast(memory.low_size)]);
    if (memory.high_size > 0) {
        try registerMemory(vm_fd, 1, platform.memory.high_ram_start, memory.host[@intCast(memory.low_size)..]);
    }

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
    };
    initDevices(vm);
    errdefer destroyVcpus(vm);
    for (0..cpu_count) |index| try createVcpu(vm, @intCast(index));
    return vm;
}

pub fn destroy(vm: *Vm) void {
    // Let KVM tear the VM down (vCPU areas and fds hold it) before its RAM goes away, so the
    // kernel frees the guest's page tables once instead of invalidating every mapping first.
    destroyVcpus(vm);
    posix.close(vm.vm_fd);
    posix.munmap(vm.memory_mapping);
    posix.close(vm.kvm_fd);
    std.heap.page_allocator.destroy(vm);
}

fn destroyVcpus(vm: *Vm) void {
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

fn registerMemory(vm_fd: i32, slot: u32, gpa: u64, host: []u8) CreateError!void {
    var region = kvm.UserspaceMemoryRegion{
        .slot = slot,
        .flags = 0,
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
    vm.cmos = Cmos.init(irqLine(vm, platform.cmos.irq.?), vm.memory.low_size, vm.memory.high_size, hostUnixSeconds);
    vm.keyboard_controller = I8042.init(irqLine(vm, platform.keyboard_controller.irq.?), irqLine(vm, platform.mouse_irq), &vm.requests);
    vm.acpi_pm = AcpiPm.init(irqLine(vm, platform.sci_irq), &vm.requests, hostMonotonicNs);
    vm.reset_control = ResetControl.init(&vm.requests);
    vm.post_code = PostCode.init();
    vm.debug_console = DebugConsole.init(debug_sink);
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

fn writeSerialOutput(context: ?*anyopaque, bytes: []const u8) void {
    const vm: *Vm = @ptrCast(@alignCast(context.?));
    writeAll(vm.serial_output_fd.load(.acquire), bytes);
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
        }
        if (vcpu.kick_requested.swap(false, .acq_rel)) {
            vcpu.run.immediate_exit = 0;
            return .interrupted;
        }
        const rc = linux.ioctl(vcpu.fd, kvm.ioctl.run, 0);
        switch (linux.E.init(rc)) {
            .SUCCESS => {},
            .INTR, .AGAIN => continue,
            else => |errno| {
                ErrorMessage.set("KVM_RUN failed: {s}", .{@tagName(errno)});
                return .failed;
            },
        }
        if (handleExit(vm, vcpu)) |exit| return exit;
    }
}

fn handleExit(vm: *Vm, vcpu: *Vcpu) ?Exit {
    const run = vcpu.run;
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
    var i: usize = 0;
    while (i < total) : (i += size) {
        const data = bytes[i..][0..size];
        if (io.direction == kvm.io_direction_out) portWrite(vm, io.port, data) else portRead(vm, io.port, data);
    }
}

fn findPortDevice(port: u16) ?struct { device: Device, offset: u16 } {
    for (port_map) |range| {
        if (port >= range.base and port - range.base < range.len) {
            return .{ .device = range.device, .offset = port - range.base };
        }
    }
    return null;
}

fn portRead(vm: *Vm, port: u16, data: []u8) void {
    const found = findPortDevice(port) orelse {
        _ = vm.unclaimed_port_accesses.fetchAdd(1, .monotonic);
        @memset(data, 0xFF);
        return;
    };
    switch (found.device) {
        .uart => vm.uart.read(found.offset, data),
        .cmos => vm.cmos.read(found.offset, data),
        .keyboard_controller => vm.keyboard_controller.read(found.offset, data),
        .acpi_pm => vm.acpi_pm.read(found.offset, data),
        .reset_control => vm.reset_control.read(found.offset, data),
        .post_code => vm.post_code.read(found.offset, data),
        .debug_console => vm.debug_console.read(found.offset, data),
    }
}

fn portWrite(vm: *Vm, port: u16, data: []const u8) void {
    const found = findPortDevice(port) orelse {
        _ = vm.unclaimed_port_accesses.fetchAdd(1, .monotonic);
        return;
    };
    switch (found.device) {
        .uart => vm.uart.write(found.offset, data),
        .cmos => vm.cmos.write(found.offset, data),
        .keyboard_controller => vm.keyboard_controller.write(found.offset, data),
        .acpi_pm => vm.acpi_pm.write(found.offset, data),
        .reset_control => vm.reset_control.write(found.offset, data),
        .post_code => vm.post_code.write(found.offset, data),
        .debug_console => vm.debug_console.write(found.offset, data),
    }
}

fn handleMmio(vm: *Vm, run: *volatile kvm.Run) void {
    // Nothing is mapped in MMIO space yet besides the in-kernel APICs: reads float high.
    _ = vm.unclaimed_mmio_accesses.fetchAdd(1, .monotonic);
    if (run.exit.mmio.is_write == 0) {
        const len = @min(run.exit.mmio.len, run.exit.mmio.data.len);
        for (0..len) |i| run.exit.mmio.data[i] = 0xFF;
    }
}
