//! The pure parts of corevm, tested on the host by `zig build test`.
test {
    _ = @import("e820.zig");
    _ = @import("bootorder.zig");
    _ = @import("eltorito.zig");
    _ = @import("loader.zig");
    _ = @import("smbios.zig");
}
