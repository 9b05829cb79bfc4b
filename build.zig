const std = @import("std");

pub fn build(b: *std.Build) void {
    // Baseline x86-64 so the library runs on any KVM host, not only the build machine.
    const target = b.standardTargetOptions(.{ .default_target = .{ .cpu_model = .baseline } });
    // `zig build --release` picks ReleaseSafe: it keeps bounds and overflow checks: a bug stops vmctl instead of corrupting memory.
    const optimize = b.standardOptimizeOption(.{ .preferred_optimize_mode = .ReleaseSafe });

    const native = b.createModule(.{
        .root_source_file = b.path("native/root.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    const lib = b.addLibrary(.{ .linkage = .dynamic, .name = "vmctl", .root_module = native });
    b.installArtifact(lib);

    const unit_tests = b.addTest(.{ .root_module = native });
    const run_unit_tests = b.addRunArtifact(unit_tests);
    const test_step = b.step("test", "Run the Zig unit tests");
    test_step.dependOn(&run_unit_tests.step);

    addCorevm(b, test_step, target);
}

/// corevm, vmctl's BIOS (bios/): 16-bit assembly and 32-bit freestanding Zig, linked at the
/// addresses of the BIOS area and flattened into the 128 KiB image `-b corevm` loads
/// (zig-out/bios/corevm.bin).
fn addCorevm(b: *std.Build, test_step: *std.Build.Step, host: std.Build.ResolvedTarget) void {
    // i686 without SSE: firmware never enables the FPU/SSE state an SSE instruction needs.
    const bios_target = b.resolveTargetQuery(.{
        .cpu_arch = .x86,
        .os_tag = .freestanding,
        .abi = .none,
        .cpu_model = .{ .explicit = &std.Target.x86.cpu.i686 },
    });
    const module = b.createModule(.{
        .root_source_file = b.path("bios/main.zig"),
        .target = bios_target,
        // Small: the 32-bit part must fit in 64 KiB with its stack and data.
        .optimize = .ReleaseSmall,
        .single_threaded = true,
        .strip = false,
        .pic = false,
    });
    module.addAssemblyFile(b.path("bios/entry.S"));
    // The machine's ports, slots and addresses: one table for vmctl and its firmware.
    module.addImport("platform", b.createModule(.{
        .root_source_file = b.path("native/platform.zig"),
        .target = bios_target,
        .optimize = .ReleaseSmall,
    }));
    // fw_cfg's keys, ports and DMA bits, as the device that answers them defines them.
    module.addImport("fw_cfg_device", b.createModule(.{
        .root_source_file = b.path("native/devices/fw_cfg.zig"),
        .target = bios_target,
        .optimize = .ReleaseSmall,
    }));
    const elf = b.addExecutable(.{ .name = "corevm.elf", .root_module = module });
    elf.setLinkerScript(b.path("bios/link.ld"));
    elf.entry = .{ .symbol_name = "reset_vector" };
    const image = b.addObjCopy(elf.getEmittedBin(), .{ .format = .bin, .basename = "corevm.bin" });
    b.getInstallStep().dependOn(&b.addInstallFile(image.getOutput(), "bios/corevm.bin").step);
    b.getInstallStep().dependOn(&b.addInstallFile(elf.getEmittedBin(), "bios/corevm.elf").step);

    const tests = b.addTest(.{ .root_module = b.createModule(.{
        .root_source_file = b.path("bios/tests.zig"),
        .target = host,
    }) });
    test_step.dependOn(&b.addRunArtifact(tests).step);
}
