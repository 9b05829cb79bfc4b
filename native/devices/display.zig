//! What a display adapter hands the one renderer (vga_render.zig): a linear framebuffer's layout
//! in video memory and a hardware cursor. The renderer's output is always packed RGB, three bytes
//! a pixel (red, green, blue), rows top to bottom, no padding: what a PNG or a terminal wants.
const std = @import("std");
const assert = std.debug.assert;

/// The largest frame the renderer produces, whatever the guest programs: 4096 × 4096 × 3 bytes.
pub const max_width: u32 = 4096;
pub const max_height: u32 = 4096;
pub const rgb_bytes: u32 = 3;
pub const max_frame_bytes: u32 = max_width * max_height * rgb_bytes;

/// How the pixels of a linear framebuffer are stored in video memory (little-endian words).
pub const PixelFormat = enum(u8) {
    /// One byte a pixel, an index into the DAC palette.
    indexed8,
    /// 16-bit words: x RRRRR GGGGG BBBBB.
    rgb555,
    /// 16-bit words: RRRRR GGGGGG BBBBB.
    rgb565,
    /// Three bytes a pixel: blue, green, red.
    bgr24,
    /// Four bytes a pixel: blue, green, red, unused.
    bgrx32,

    pub fn bytesPerPixel(self: PixelFormat) u32 {
        return switch (self) {
            .indexed8 => 1,
            .rgb555, .rgb565 => 2,
            .bgr24 => 3,
            .bgrx32 => 4,
        };
    }
};

/// A linear framebuffer: `height` rows of `width` pixels, the first at byte `offset` of video
/// memory, each row `pitch_bytes` after the previous one. Guest-programmed: the renderer checks it
/// against the video memory before reading (`fits`).
pub const LinearLayout = struct {
    offset: u64,
    pitch_bytes: u64,
    width: u32,
    height: u32,
    format: PixelFormat,

    /// The whole visible frame lies inside `vram_bytes` of video memory and within the renderer's
    /// limits.
    pub fn fits(self: LinearLayout, vram_bytes: u64) bool {
        if (self.width == 0 or self.height == 0) return false;
        if (self.width > max_width or self.height > max_height) return false;
        const row_bytes = @as(u64, self.width) * self.format.bytesPerPixel();
        if (self.pitch_bytes < row_bytes) return false;
        // Rows are at most 4096 × pitch apart; pitch is below 2^32 on every adapter.
        if (self.pitch_bytes > std.math.maxInt(u32)) return false;
        if (vram_bytes > 1 << 40) return false;
        if (self.offset > vram_bytes) return false;
        // Both terms are below 2^44 here, so the sum cannot overflow.
        const last_row = self.offset + (@as(u64, self.height) - 1) * self.pitch_bytes;
        return last_row <= vram_bytes and row_bytes <= vram_bytes - last_row;
    }

    /// Bytes of video memory from the first visible byte to the end of the last visible row.
    pub fn spanBytes(self: LinearLayout) u64 {
        assert(self.height > 0);
        return (@as(u64, self.height) - 1) * self.pitch_bytes + @as(u64, self.width) * self.format.bytesPerPixel();
    }
};

/// A hardware cursor drawn over the frame: `width` × `height` pixels of 0xAARRGGBB (straight, not
/// premultiplied alpha), its hot spot at frame position (`x`, `y`).
pub const Cursor = struct {
    pub const max_side: u32 = 256;

    x: i32,
    y: i32,
    hot_x: u32,
    hot_y: u32,
    width: u32,
    height: u32,
    pixels: []const u32,

    pub fn valid(self: Cursor) bool {
        return self.width > 0 and self.height > 0 and self.width <= max_side and self.height <= max_side and
            self.pixels.len >= @as(usize, self.width) * self.height and self.hot_x < self.width and self.hot_y < self.height;
    }
};

/// What was drawn: the frame's size, and whether it came from a text mode (then the text
/// screen dump says the same in characters).
pub const Frame = struct {
    width: u32,
    height: u32,
    text_mode: bool,
};

comptime {
    assert(max_frame_bytes < std.math.maxInt(u32));
}

test "a layout fits only inside video memory" {
    const layout = LinearLayout{ .offset = 0, .pitch_bytes = 4096, .width = 1024, .height = 768, .format = .bgrx32 };
    try std.testing.expect(layout.fits(4 << 20));
    try std.testing.expect(layout.fits(3 << 20));
    try std.testing.expect(!layout.fits((3 << 20) - 1));
    var shifted = layout;
    shifted.offset = (16 << 20) - 4096 * 767;
    try std.testing.expect(!shifted.fits(16 << 20));
    shifted.offset -= 4096;
    try std.testing.expect(shifted.fits(16 << 20));
    try std.testing.expectEqual(@as(u64, 4096 * 767 + 4096), layout.spanBytes());
    var narrow = layout;
    narrow.pitch_bytes = 100;
    try std.testing.expect(!narrow.fits(16 << 20));
    var huge = layout;
    huge.offset = std.math.maxInt(u64) - 10;
    try std.testing.expect(!huge.fits(16 << 20));
}
