//! The C ABI of libvmctl: every exported symbol lives in this file.
const std = @import("std");

comptime {
    std.testing.refAllDecls(@This());
}

test {
    _ = @import("memory.zig");
    _ = @import("devices/device.zig");
}
