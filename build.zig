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
}
