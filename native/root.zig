//! The C ABI of libvmctl: every exported symbol lives in this file, and Zig errors become status
//! codes here and nowhere else. lib/native.ts declares the same symbols for Deno.dlopen.
const std = @import("std");
const kvm = @import("kvm.zig");
const vm_mod = @import("vm.zig");
const Vm = vm_mod.Vm;
const block = @import("block.zig");
const screen = @import("screen.zig");
const events = @import("events.zig");
const ps2 = @import("devices/i8042.zig");

/// Bumped whenever a signature below changes, so a stale library is refused at load time.
pub const abi_version: u32 = 7;

pub const Status = enum(c_int) {
    ok = 0,
    kvm_missing = 1,
    kvm_permission = 2,
    kvm_not_kvm = 3,
    kvm_api_mismatch = 4,
    kvm_failed = 5,
    out_of_memory = 6,
    kernel_not_bzimage = 7,
    kernel_protocol_too_old = 8,
    kernel_too_large = 9,
    initrd_too_large = 10,
    cmdline_too_long = 11,
    invalid_argument = 12,
    firmware_invalid = 13,
    image_not_found = 14,
    image_access_denied = 15,
    image_read_only_fs = 16,
    image_is_directory = 17,
    image_not_regular = 18,
    image_empty = 19,
    image_partial_sector = 20,
    image_locked = 21,
    image_lock_unsupported = 22,
    image_direct_io_unsupported = 23,
    image_failed = 24,
    no_display = 25,
    buffer_too_small = 26,
    /// The keyboard's queue of host keys is full: try again once the guest has read some.
    key_queue_full = 27,
    /// A port range the caller asked for is outside the port space or taken (message names it).
    port_in_use = 28,
    /// The guest has not turned on the absolute pointer (vmmouse): try again later.
    pointer_disabled = 29,
};

export fn vmctl_abi_version() u32 {
    return abi_version;
}

/// Creates a VM with `ram_mib` MiB of RAM, `cpu_count` vCPUs and display adapter `vga` (0 none,
/// 1 std VGA, 2 VMware SVGA II) with `vram_mib` MiB of video memory (a power of two, 1 to 256);
/// on success *out_vm holds it.
export fn vmctl_vm_create(kvm_path: [*:0]const u8, ram_mib: u32, cpu_count: u32, vga: u32, vram_mib: u32, out_vm: *?*Vm) Status {
    out_vm.* = null;
    const ram_bytes = @as(u64, ram_mib) << 20;
    if (ram_bytes < vm_mod.min_ram_bytes or cpu_count < 1 or cpu_count > vm_mod.max_vcpus) {
        vm_mod.ErrorMessage.set("invalid VM size: {d} MiB, {d} vCPUs", .{ ram_mib, cpu_count });
        return .invalid_argument;
    }
    const vram_bytes = @as(u64, vram_mib) << 20;
    if (vga > 2 or !std.math.isPowerOfTwo(@max(vram_bytes, 1)) or vram_bytes < vm_mod.min_vram_bytes or vram_bytes > vm_mod.max_vram_bytes) {
        vm_mod.ErrorMessage.set("invalid display: adapter {d}, {d} MiB of video memory", .{ vga, vram_mib });
        return .invalid_argument;
    }
    const vm = vm_mod.create(kvm_path, ram_bytes, cpu_count, @enumFromInt(vga), @intCast(vram_bytes)) catch |err| return switch (err) {
        error.KvmMissing => .kvm_missing,
        error.KvmPermission => .kvm_permission,
        error.KvmNotKvm => .kvm_not_kvm,
        error.KvmApiMismatch => .kvm_api_mismatch,
        error.KvmFailed => .kvm_failed,
        error.OutOfMemory => .out_of_memory,
    };
    vm.screen_watch.generation_fn = screen.generation;
    out_vm.* = vm;
    return .ok;
}

export fn vmctl_vm_destroy(vm: *Vm) void {
    vm_mod.destroy(vm);
}

/// Loads a bzImage, an optional initrd and a command line for direct boot on vCPU 0.
export fn vmctl_vm_load_linux(
    vm: *Vm,
    kernel_ptr: [*]const u8,
    kernel_len: usize,
    initrd_ptr: ?[*]const u8,
    initrd_len: usize,
    cmdline_ptr: ?[*]const u8,
    cmdline_len: usize,
) Status {
    const initrd: []const u8 = if (initrd_ptr) |p| p[0..initrd_len] else &.{};
    const cmdline: []const u8 = if (cmdline_ptr) |p| p[0..cmdline_len] else &.{};
    vm_mod.loadLinux(vm, kernel_ptr[0..kernel_len], initrd, cmdline) catch |err| return linuxStatus(err);
    return .ok;
}

const LinuxLoadError = vm_mod.LoadError || vm_mod.FirmwareError;

/// The status for a failed Linux load, direct or through firmware.
fn linuxStatus(err: LinuxLoadError) Status {
    return switch (err) {
        error.NotBzImage => .kernel_not_bzimage,
        error.ProtocolTooOld => .kernel_protocol_too_old,
        error.KernelTooLarge => .kernel_too_large,
        error.InitrdTooLarge => .initrd_too_large,
        error.CmdlineTooLong => .cmdline_too_long,
        error.OutsideGuestRam, error.TablesTooLarge, error.OutOfMemory => .out_of_memory,
        error.FirmwareSize, error.FirmwareItems => .firmware_invalid,
        error.KvmFailed => .kvm_failed,
    };
}

/// Maps a PC firmware image (SeaBIOS's bios-256k.bin, say) for firmware boot.
export fn vmctl_vm_load_firmware(vm: *Vm, image_ptr: [*]const u8, image_len: usize) Status {
    vm_mod.loadFirmware(vm, image_ptr[0..image_len]) catch |err| return firmwareStatus(err);
    return .ok;
}

/// Linux through firmware (after vmctl_vm_load_firmware): the kernel, initrd and command line
/// for the linuxboot_dma.bin option ROM, which the caller adds as "genroms/linuxboot_dma.bin".
export fn vmctl_vm_load_linux_via_firmware(
    vm: *Vm,
    kernel_ptr: [*]const u8,
    kernel_len: usize,
    initrd_ptr: ?[*]const u8,
    initrd_len: usize,
    cmdline_ptr: ?[*]const u8,
    cmdline_len: usize,
) Status {
    const initrd: []const u8 = if (initrd_ptr) |p| p[0..initrd_len] else &.{};
    const cmdline: []const u8 = if (cmdline_ptr) |p| p[0..cmdline_len] else &.{};
    vm_mod.loadLinuxViaFirmware(vm, kernel_ptr[0..kernel_len], initrd, cmdline) catch |err| return linuxStatus(err);
    return .ok;
}

/// Offers `data` to the firmware as fw_cfg file `name` (bootorder, etc/sercon-port, genroms/...).
export fn vmctl_vm_add_firmware_file(vm: *Vm, name_ptr: [*]const u8, name_len: usize, data_ptr: [*]const u8, data_len: usize) Status {
    vm_mod.addFirmwareFile(vm, name_ptr[0..name_len], data_ptr[0..data_len]) catch |err| return firmwareStatus(err);
    return .ok;
}

/// Gives the display adapter its BIOS (an option ROM such as vgabios-stdvga.bin).
export fn vmctl_vm_set_vga_rom(vm: *Vm, rom_ptr: [*]const u8, rom_len: usize) Status {
    if (vm.vga_kind == .none) return .no_display;
    vm_mod.setVgaRom(vm, rom_ptr[0..rom_len]) catch |err| return firmwareStatus(err);
    return .ok;
}

fn firmwareStatus(err: vm_mod.FirmwareError) Status {
    return switch (err) {
        error.FirmwareSize, error.FirmwareItems => .firmware_invalid,
        error.KvmFailed => .kvm_failed,
        error.OutOfMemory, error.OutsideGuestRam => .out_of_memory,
    };
}

/// Opens a disk or CD image for the VMs of one run (it stays open, and locked, across guest
/// resets). `cache`: 0 writeback, 1 writethrough, 2 none.
export fn vmctl_image_open(path: [*:0]const u8, read_only: bool, cache: u32, sector_bytes: u32, out_image: *?*block.Image) Status {
    out_image.* = null;
    if (cache > 2 or (sector_bytes != 512 and sector_bytes != 2048)) return .invalid_argument;
    const image = std.heap.page_allocator.create(block.Image) catch return .out_of_memory;
    image.* = block.open(path, .{ .read_only = read_only, .cache = @enumFromInt(cache), .sector_bytes = sector_bytes }) catch |err| {
        std.heap.page_allocator.destroy(image);
        vm_mod.ErrorMessage.set("{s} (errno {s})", .{ @errorName(err), @tagName(block.last_open_errno) });
        return switch (err) {
            error.FileNotFound => .image_not_found,
            error.AccessDenied => .image_access_denied,
            error.ReadOnlyFileSystem => .image_read_only_fs,
            error.IsDirectory => .image_is_directory,
            error.NotRegularFile => .image_not_regular,
            error.Empty => .image_empty,
            error.PartialSector, error.DirectIoPartialBlock => .image_partial_sector,
            error.Locked => .image_locked,
            error.LockUnsupported => .image_lock_unsupported,
            error.DirectIoUnsupported => .image_direct_io_unsupported,
            else => .image_failed,
        };
    };
    out_image.* = image;
    return .ok;
}

/// Puts an open image on IDE `channel` (0, 1) as `position` (0 master, 1 slave); `kind`: 0 disk
/// (512-byte sectors), 1 CD-ROM (2048-byte sectors, read-only).
export fn vmctl_vm_attach_ide(vm: *Vm, image: *block.Image, channel: u32, position: u32, kind: u32) Status {
    if (channel > 1 or position > 1 or kind > 1) return .invalid_argument;
    const slot = vm_mod.DriveSlot{ .ide = .{ .channel = @intCast(channel), .position = @intCast(position) } };
    vm_mod.attachDrive(vm, image, slot, @enumFromInt(kind)) catch return .invalid_argument;
    return .ok;
}

/// Puts an open image on AHCI port `port` (0-5); `kind` as for vmctl_vm_attach_ide.
export fn vmctl_vm_attach_ahci(vm: *Vm, image: *block.Image, port: u32, kind: u32) Status {
    if (port > 5 or kind > 1) return .invalid_argument;
    vm_mod.attachDrive(vm, image, .{ .ahci = @intCast(port) }, @enumFromInt(kind)) catch return .invalid_argument;
    return .ok;
}

/// Flushes and closes an image (releasing its lock). No VM may still use it.
export fn vmctl_image_close(image: *block.Image) void {
    image.close();
    std.heap.page_allocator.destroy(image);
}

/// Where guest serial output (COM1) and the firmware debug port (0x402) go; -1 discards.
export fn vmctl_vm_set_output(vm: *Vm, serial_fd: i32, debug_fd: i32) void {
    vm.serial_output_fd.store(serial_fd, .release);
    vm.debug_output_fd.store(debug_fd, .release);
}

/// Queues bytes for the guest's COM1 receiver; returns how many were accepted.
export fn vmctl_vm_serial_input(vm: *Vm, bytes: [*]const u8, len: usize) usize {
    return vm.uart.pushInput(bytes[0..len]);
}

/// Runs vCPU `index` on the calling thread until it needs a decision (see vm.Exit).
export fn vmctl_vcpu_run(vm: *Vm, index: u32) i32 {
    if (index >= vm.vcpu_count) return @intFromEnum(vm_mod.Exit.failed);
    return @intFromEnum(vm_mod.runVcpu(vm, &vm.vcpus[index]));
}

/// Makes vCPU `index` return from vmctl_vcpu_run soon; safe from any thread.
export fn vmctl_vcpu_kick(vm: *Vm, index: u32) void {
    if (index >= vm.vcpu_count) return;
    vm_mod.kick(&vm.vcpus[index]);
}

export fn vmctl_vcpu_get_regs(vm: *Vm, index: u32, out: *kvm.Regs) Status {
    if (index >= vm.vcpu_count) return .invalid_argument;
    _ = kvm.call(vm.vcpus[index].fd, kvm.ioctl.get_regs, @intFromPtr(out)) catch return .kvm_failed;
    return .ok;
}

export fn vmctl_vcpu_get_sregs(vm: *Vm, index: u32, out: *kvm.Sregs) Status {
    if (index >= vm.vcpu_count) return .invalid_argument;
    _ = kvm.call(vm.vcpus[index].fd, kvm.ioctl.get_sregs, @intFromPtr(out)) catch return .kvm_failed;
    return .ok;
}

/// The VGA text screen as UTF-8 lines (at most 60 rows of 132 columns fit in 24 KiB).
export fn vmctl_vm_text_screen(vm: *Vm, out: [*]u8, len: usize) usize {
    return screen.textLines(vm, out[0..len]);
}

/// What vmctl_vm_screen_render drew (or, with buffer_too_small, would draw).
const ScreenInfo = extern struct { width: u32, height: u32, text_mode: u32 };

/// Renders the guest's screen into `rgb` (packed R, G, B rows); `info` gets its size. With
/// buffer_too_small nothing is drawn and `info` says what size is needed.
export fn vmctl_vm_screen_render(vm: *Vm, rgb: [*]u8, len: usize, info: *ScreenInfo) Status {
    var needed: @import("devices/display.zig").Frame = undefined;
    info.* = .{ .width = 0, .height = 0, .text_mode = 0 };
    const frame = screen.renderFrame(vm, rgb[0..len], &needed) catch |err| {
        if (err == error.BufferTooSmall) info.* = .{ .width = needed.width, .height = needed.height, .text_mode = @intFromBool(needed.text_mode) };
        return screenStatus(err);
    };
    info.* = .{ .width = frame.width, .height = frame.height, .text_mode = @intFromBool(frame.text_mode) };
    return .ok;
}

/// The text screen as cells (screen.text_cell_bytes each, row-major) into `cells`;
/// `size` gets columns and rows. no_display in graphics modes.
export fn vmctl_vm_screen_text(vm: *Vm, cells: [*]u8, len: usize, size: *[2]u32) Status {
    size.* = .{ 0, 0 };
    const text = screen.textCells(vm, cells[0..len]) catch |err| return screenStatus(err);
    size.* = .{ text.columns, text.rows };
    return .ok;
}

fn screenStatus(err: screen.Error) Status {
    return switch (err) {
        error.NoDisplay => .no_display,
        error.BufferTooSmall => .buffer_too_small,
    };
}

/// Presses or releases a key on the PS/2 keyboard (a packed i8042 `Key`, see lib/keys.ts).
export fn vmctl_vm_key(vm: *Vm, key: u32) Status {
    const unpacked: ps2.Key = @bitCast(key);
    if (!unpacked.valid()) {
        vm_mod.ErrorMessage.set("not a key: 0x{X:0>8}", .{key});
        return .invalid_argument;
    }
    return switch (vm.keyboard_controller.pushKey(unpacked)) {
        .accepted => .ok,
        .full => .key_queue_full,
    };
}

/// Moves the PS/2 mouse by `dx` (right), `dy` (down, as on a screen) and `dz` (wheel: toward
/// the user, scrolling down) counts and sets the buttons held (bit 0 left, 1 right, 2 middle).
/// Motion the guest has not read yet adds up; nothing is refused but absurd values.
export fn vmctl_vm_mouse(vm: *Vm, dx: i32, dy: i32, dz: i32, buttons: u32) Status {
    const limit = ps2.I8042.max_motion;
    if (buttons > 7 or @abs(dx) > limit or @abs(dy) > limit or @abs(dz) > limit) {
        vm_mod.ErrorMessage.set("mouse motion out of range: {d},{d},{d} buttons {d}", .{ dx, dy, dz, buttons });
        return .invalid_argument;
    }
    vm.keyboard_controller.pushMouse(dx, -dy, dz, @intCast(buttons));
    return .ok;
}

/// Gives the machine VMware's absolute pointer behind the backdoor port; call before the first
/// vmctl_vcpu_run. A guest that finds it (Linux's psmouse does) uses it instead of PS/2 motion.
export fn vmctl_vm_enable_vmmouse(vm: *Vm) void {
    vm.vmmouse_enabled = true;
}

/// Puts VMware's absolute pointer at `x`, `y` (0-0xFFFF across the screen), turns the wheel by
/// `wheel` (toward the user) and sets the buttons held (bit 0 left, 1 right, 2 middle); the PS/2
/// mouse then sends an empty packet, which is how a vmmouse driver learns to look.
export fn vmctl_vm_mouse_absolute(vm: *Vm, x: u32, y: u32, wheel: i32, buttons: u32) Status {
    if (x > 0xFFFF or y > 0xFFFF or buttons > 7 or wheel < -127 or wheel > 127) {
        vm_mod.ErrorMessage.set("pointer position out of range: {d},{d} wheel {d} buttons {d}", .{ x, y, wheel, buttons });
        return .invalid_argument;
    }
    return switch (vm.vmmouse.pushAbsolute(@intCast(x), @intCast(y), @intCast(wheel), @intCast(buttons))) {
        .accepted => {
            vm.keyboard_controller.pokeMouse();
            return .ok;
        },
        .full => .key_queue_full,
        .disabled => .pointer_disabled,
    };
}

/// Puts the guest exit port (QEMU's isa-debug-exit) at ports `base` and `base + 1`; call before
/// the first vmctl_vcpu_run.
export fn vmctl_vm_add_exit_port(vm: *Vm, base: u32) Status {
    if (base > std.math.maxInt(u16)) {
        vm_mod.ErrorMessage.set("port 0x{X} is beyond the last port, 0xFFFF", .{base});
        return .port_in_use;
    }
    vm_mod.addExitPort(vm, @intCast(base)) catch return .port_in_use;
    return .ok;
}

/// The value the guest wrote to the exit port after vmctl_vcpu_run returned `guest_exit`
/// (vmctl exits with (value << 1) | 1); 0xFFFF_FFFF_FFFF_FFFF if it never wrote one.
export fn vmctl_vm_guest_exit_value(vm: *Vm) u64 {
    return vm.exit_port.value() orelse std.math.maxInt(u64);
}

/// Copies the VM's KVM exit counts by kind (vm.ExitCount order) into `out`, up to `capacity`
/// of them; returns how many kinds there are.
export fn vmctl_vm_exit_counts(vm: *Vm, out: [*]u64, capacity: usize) usize {
    const counts = vm_mod.exitCounts(vm);
    const n = @min(capacity, counts.len);
    @memcpy(out[0..n], counts[0..n]);
    return counts.len;
}

/// Bytes the guest has written to COM1.
export fn vmctl_vm_serial_bytes(vm: *Vm) u64 {
    return vm.serial_bytes.load(.monotonic);
}

/// Starts (or stops) keeping a copy of COM1's output for vmctl_vm_console_read, announced by
/// `console_output` events.
export fn vmctl_vm_watch_console(vm: *Vm, on: bool) void {
    vm.console_tap.watching.store(on, .release);
}

/// Moves up to `len` bytes of COM1 output the console tap holds into `out`; returns how many.
export fn vmctl_vm_console_read(vm: *Vm, out: [*]u8, len: usize) usize {
    return vm.console_tap.take(out[0..len]);
}

/// Bytes of COM1 output the console tap could not hold (its reader fell behind).
export fn vmctl_vm_console_lost(vm: *Vm) u64 {
    return vm.console_tap.lostBytes();
}

/// Has the timer thread look at the screen every `interval_ms` (three times less often once it
/// has been still for 15 looks) and post `screen_changed` when it may have changed (first look
/// included); 0 stops the watch.
export fn vmctl_vm_watch_screen(vm: *Vm, interval_ms: u32) void {
    vm.screen_watch.interval_ns.store(@as(u64, interval_ms) * std.time.ns_per_ms, .release);
}

/// Blocks until an event is queued, then copies up to `capacity` events (16 bytes each: kind,
/// value, data) to `out` and returns how many; 0 once the channel is closed. Called as a
/// nonblocking FFI function, so it waits on a thread of Deno's blocking pool.
export fn vmctl_vm_events_wait(vm: *Vm, out: [*]events.Event, capacity: usize) usize {
    if (capacity == 0) return 0;
    return vm.events.wait(out[0..capacity]);
}

/// Closes the event channel: a waiting vmctl_vm_events_wait returns 0, and so do later ones.
export fn vmctl_vm_events_close(vm: *Vm) void {
    vm.events.close();
}

/// Opens (creates or truncates) a file for guest serial output: returns the fd, or -errno.
export fn vmctl_output_open(path: [*:0]const u8) i32 {
    const flags = std.os.linux.O{ .ACCMODE = .WRONLY, .CREAT = true, .TRUNC = true, .CLOEXEC = true };
    const rc = std.os.linux.open(path, flags, 0o644);
    return switch (std.os.linux.E.init(rc)) {
        .SUCCESS => @intCast(rc),
        else => |errno| -@as(i32, @intFromEnum(errno)),
    };
}

/// Closes a file from vmctl_output_open.
export fn vmctl_output_close(fd: i32) void {
    std.posix.close(fd);
}

/// Guest accesses to ports and MMIO that no device claimed, for diagnostics.
export fn vmctl_vm_unclaimed_accesses(vm: *Vm) u64 {
    return vm.unclaimed_port_accesses.load(.monotonic) + vm.unclaimed_mmio_accesses.load(.monotonic);
}

/// Copies the last error message (not NUL-terminated) and returns its length.
export fn vmctl_error_message(buffer: [*]u8, len: usize) usize {
    return vm_mod.ErrorMessage.copy(buffer[0..len]);
}

comptime {
    // Device files are tested on their own and so cannot import platform.zig; keep them in step.
    std.debug.assert(@import("devices/acpi_pm.zig").AcpiPm.s5_sleep_type == @import("platform.zig").acpi_s5_sleep_type);
}

test {
    _ = @import("memory.zig");
    _ = @import("kvm.zig");
    _ = @import("events.zig");
    _ = @import("port_bus.zig");
    _ = @import("console_tap.zig");
    _ = @import("devices/device.zig");
    _ = @import("devices/uart16550.zig");
    _ = @import("devices/cmos.zig");
    _ = @import("devices/i8042.zig");
    _ = @import("devices/acpi_pm.zig");
    _ = @import("devices/reset_control.zig");
    _ = @import("devices/post_code.zig");
    _ = @import("devices/debug_console.zig");
    _ = @import("devices/exit_port.zig");
    _ = @import("devices/vmmouse.zig");
    _ = @import("devices/pci.zig");
    _ = @import("devices/i440fx.zig");
    _ = @import("devices/piix.zig");
    _ = @import("devices/fw_cfg.zig");
    _ = @import("devices/vga.zig");
    _ = @import("devices/vga_memory.zig");
    _ = @import("devices/vga_render.zig");
    _ = @import("devices/display.zig");
    _ = @import("devices/vmware_svga.zig");
    _ = @import("screen.zig");
    _ = @import("devices/ata.zig");
    _ = @import("devices/ide.zig");
    _ = @import("devices/ahci.zig");
    _ = @import("boot/linux.zig");
    _ = @import("boot/acpi.zig");
    _ = @import("boot/long_mode.zig");
    _ = @import("block.zig");
}
