//! QEMU's firmware configuration device (fw_cfg) as x86 firmware finds it at ports 0x510-0x51B:
//! a 16-bit selector, an 8-bit data port and a 64-bit DMA address register. SeaBIOS reads its
//! tables and the Linux boot items through it; QEMU's linuxboot_dma.bin option ROM loads the
//! kernel with DMA. Items are read-only byte strings the host lends the device. Fixed items sit
//! at well-known keys; file items get keys from 0x20 on and an entry in the file directory
//! (key 0x19), which firmware searches by name.
const std = @import("std");
const assert = std.debug.assert;
const device = @import("device.zig");

pub const FwCfg = struct {
    /// Offset 0 is the selector (0x510), 1 the data port (0x511), 4-11 the DMA address register
    /// (0x514-0x51B).
    pub const port_count: u16 = 12;
    /// Fixed items the host can add, besides the built-in signature, id and file directory.
    pub const max_items: u16 = 64;
    pub const max_files: u16 = 48;
    /// A file name fills at most 55 bytes of its 56-byte directory field: one NUL must follow.
    pub const max_name_bytes: usize = file_name_bytes - 1;
    /// Item sizes travel as 32-bit fields (the directory's size, a DMA length).
    pub const max_item_bytes: usize = std.math.maxInt(u32);

    /// Selector keys. Bit 14 (write channel) is ignored when selecting: it reaches the same item.
    /// Bit 15 marks architecture-specific items; the x86 ones follow.
    pub const Key = struct {
        pub const signature: u16 = 0x00;
        pub const id: u16 = 0x01;
        pub const uuid: u16 = 0x02;
        pub const ram_size: u16 = 0x03;
        pub const nographic: u16 = 0x04;
        pub const nb_cpus: u16 = 0x05;
        pub const machine_id: u16 = 0x06;
        pub const kernel_addr: u16 = 0x07;
        pub const kernel_size: u16 = 0x08;
        pub const kernel_cmdline: u16 = 0x09;
        pub const initrd_addr: u16 = 0x0A;
        pub const initrd_size: u16 = 0x0B;
        pub const boot_device: u16 = 0x0C;
        pub const numa: u16 = 0x0D;
        pub const boot_menu: u16 = 0x0E;
        pub const max_cpus: u16 = 0x0F;
        pub const kernel_entry: u16 = 0x10;
        pub const kernel_data: u16 = 0x11;
        pub const initrd_data: u16 = 0x12;
        pub const cmdline_addr: u16 = 0x13;
        pub const cmdline_size: u16 = 0x14;
        pub const cmdline_data: u16 = 0x15;
        pub const setup_addr: u16 = 0x16;
        pub const setup_size: u16 = 0x17;
        pub const setup_data: u16 = 0x18;
        pub const file_dir: u16 = 0x19;
        /// The first key `addFile` hands out.
        pub const file_first: u16 = 0x20;

        pub const write_channel: u16 = 0x4000;
        pub const arch_local: u16 = 0x8000;

        pub const acpi_tables: u16 = arch_local + 0;
        pub const smbios_entries: u16 = arch_local + 1;
        pub const irq0_override: u16 = arch_local + 2;
        pub const e820_table: u16 = arch_local + 3;
        pub const hpet: u16 = arch_local + 4;
    };

    /// Offsets inside the port range.
    pub const Port = struct {
        pub const selector: u16 = 0;
        pub const data: u16 = 1;
        /// Bits 63..32 of the DMA address, a 32-bit big-endian write.
        pub const dma_address_high: u16 = 4;
        /// Bits 31..0, a 32-bit big-endian write that starts the transfer.
        pub const dma_address_low: u16 = 8;
    };

    /// Bits of the id item (key 0x01).
    pub const id_traditional: u32 = 0x01;
    pub const id_dma: u32 = 0x02;

    /// Bits of a DMA control word. With `dma_select`, bits 31..16 hold the key.
    pub const dma_error: u32 = 0x01;
    pub const dma_read: u32 = 0x02;
    pub const dma_skip: u32 = 0x04;
    pub const dma_select: u32 = 0x08;
    pub const dma_write: u32 = 0x10;
    /// The control structure: be32 control, be32 length, be64 address.
    pub const dma_access_bytes: u64 = 16;

    pub const AddItemError = error{
        /// A built-in key (signature, id, file directory), one in the file range (0x20-0x3FFF),
        /// or one with the write-channel bit.
        ReservedKey,
        DuplicateKey,
        TooManyItems,
        ItemTooLarge,
    };

    pub const AddFileError = error{
        /// Empty, or containing a NUL byte.
        InvalidName,
        NameTooLong,
        DuplicateName,
        TooManyFiles,
        ItemTooLarge,
    };

    /// Guards everything below: several vCPUs may access the ports at once, and the host may add
    /// items while the guest runs.
    mutex: std.Thread.Mutex = .{},
    /// Guest RAM, for DMA.
    dma: device.DmaMemory,

    /// The selected key, as last written (write-channel bit included).
    selector: u16 = Key.signature,
    /// The next byte of the selected item that the data port or a DMA read returns. Never past
    /// the item's end: reads and skips beyond it stop there.
    data_offset: u32 = 0,
    /// Bits 63..32 of the DMA address; back to 0 after every transfer, so 32-bit addresses need
    /// only the low write.
    dma_address_high: u32 = 0,

    /// Fixed items the host added, in the order added. The data is borrowed.
    items: [max_items]Item = undefined,
    item_count: u16 = 0,
    /// File items by key: file_data[i] is key file_first + i. The data is borrowed.
    file_data: [max_files][]const u8 = undefined,
    file_count: u16 = 0,
    /// The file directory item, kept sorted by name; only its first `fileDirectory().len`
    /// bytes are the item.
    file_dir: [file_dir_capacity_bytes]u8 = [_]u8{0} ** file_dir_capacity_bytes,

    /// Port accesses with the wrong width or outside the registers, and DMA control structures
    /// outside guest RAM (saturating).
    bad_accesses: u32 = 0,

    const Item = struct {
        key: u16,
        data: []const u8,
    };

    const signature_bytes = "QEMU".*;
    /// What the DMA address register reads as: 0x51454D5520434647 big-endian.
    const dma_signature_bytes = "QEMU CFG".*;
    const id_bytes = leBytes(id_traditional | id_dma);

    const directory_header_bytes: usize = 4;
    const file_name_bytes: usize = 56;
    const file_entry_bytes: usize = 64;
    const file_dir_capacity_bytes: usize = directory_header_bytes + @as(usize, max_files) * file_entry_bytes;

    comptime {
        assert(file_entry_bytes == 4 + 2 + 2 + file_name_bytes);
        assert(@as(u32, Key.file_first) + max_files <= Key.write_channel);
        assert(Port.dma_address_high + dma_signature_bytes.len == port_count);
        assert(Port.dma_address_low == Port.dma_address_high + 4);
        assert(file_dir_capacity_bytes <= max_item_bytes);
    }

    pub fn init(dma: device.DmaMemory) FwCfg {
        return .{ .dma = dma };
    }

    /// Adds an item at a fixed key (see `Key`). `data` stays the caller's: it must outlive the
    /// device, must not change while the guest may read it, and must not lie in guest RAM.
    pub fn addItem(self: *FwCfg, key: u16, data: []const u8) AddItemError!void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (!fixedKey(key)) return error.ReservedKey;
        if (data.len > max_item_bytes) return error.ItemTooLarge;
        for (self.items[0..self.item_count]) |item| {
            if (item.key == key) return error.DuplicateKey;
        }
        if (self.item_count == max_items) return error.TooManyItems;
        self.items[self.item_count] = .{ .key = key, .data = data };
        self.item_count += 1;
    }

    /// Adds a file item and its directory entry; returns its key. `data` is borrowed as in
    /// `addItem`; `name` is copied.
    pub fn addFile(self: *FwCfg, name: []const u8, data: []const u8) AddFileError!u16 {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (name.len == 0 or std.mem.indexOfScalar(u8, name, 0) != null) return error.InvalidName;
        if (name.len > max_name_bytes) return error.NameTooLong;
        if (data.len > max_item_bytes) return error.ItemTooLarge;

        // The directory is sorted, so the first entry above `name` is where it goes.
        var position: usize = 0;
        while (position < self.file_count) : (position += 1) {
            switch (std.mem.order(u8, name, self.entryName(position))) {
                .lt => break,
                .eq => return error.DuplicateName,
                .gt => {},
            }
        }
        if (self.file_count == max_files) return error.TooManyFiles;

        const key = Key.file_first + self.file_count;
        const directory_end = self.fileDirectory().len;
        const entry_start = directory_header_bytes + position * file_entry_bytes;
        std.mem.copyBackwards(
            u8,
            self.file_dir[entry_start + file_entry_bytes .. directory_end + file_entry_bytes],
            self.file_dir[entry_start..directory_end],
        );
        const entry = self.file_dir[entry_start..][0..file_entry_bytes];
        std.mem.writeInt(u32, entry[0..4], @intCast(data.len), .big);
        std.mem.writeInt(u16, entry[4..6], key, .big);
        std.mem.writeInt(u16, entry[6..8], 0, .big);
        @memset(entry[8..], 0);
        @memcpy(entry[8..][0..name.len], name);

        self.file_data[self.file_count] = data;
        self.file_count += 1;
        std.mem.writeInt(u32, self.file_dir[0..4], self.file_count, .big);
        return key;
    }

    pub fn read(self: *FwCfg, offset: u16, data: []u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (offset == Port.selector and data.len == 2) {
            @memset(data, 0xFF); // write-only: floats
            return;
        }
        if (offset == Port.data and data.len == 1) {
            data[0] = self.readDataByte();
            return;
        }
        if (dmaSignatureReadAllowed(offset, data.len)) {
            @memcpy(data, dma_signature_bytes[offset - Port.dma_address_high ..][0..data.len]);
            return;
        }
        @memset(data, 0xFF);
        self.bad_accesses +|= 1;
    }

    pub fn write(self: *FwCfg, offset: u16, data: []const u8) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        switch (offset) {
            Port.selector => if (data.len == 2) {
                self.select(std.mem.readInt(u16, data[0..2], .little));
                return;
            },
            // Data port writes have been ignored since QEMU 2.4; items change only through DMA.
            Port.data => if (data.len == 1) return,
            Port.dma_address_high => if (data.len == 4) {
                self.dma_address_high = std.mem.readInt(u32, data[0..4], .big);
                return;
            },
            Port.dma_address_low => if (data.len == 4) {
                const low = std.mem.readInt(u32, data[0..4], .big);
                const address = @as(u64, self.dma_address_high) << 32 | low;
                self.dma_address_high = 0;
                self.runDma(address);
                return;
            },
            else => {},
        }
        self.bad_accesses +|= 1;
    }

    fn dmaSignatureReadAllowed(offset: u16, width: usize) bool {
        if (width != 1 and width != 2 and width != 4) return false;
        if (offset < Port.dma_address_high) return false;
        return @as(usize, offset) + width <= port_count;
    }

    fn select(self: *FwCfg, key: u16) void {
        self.selector = key;
        self.data_offset = 0;
    }

    fn readDataByte(self: *FwCfg) u8 {
        const item = self.itemData(self.selector);
        if (self.data_offset >= item.len) return 0;
        const byte = item[self.data_offset];
        self.data_offset += 1;
        return byte;
    }

    /// Moves the data offset on by `count`, stopping at the item's end.
    fn advance(self: *FwCfg, count: u32) void {
        const item_bytes: u32 = @intCast(self.itemData(self.selector).len);
        self.data_offset = @min(self.data_offset +| count, item_bytes);
    }

    /// The bytes behind a selector; a key with no item reads as an empty item.
    fn itemData(self: *const FwCfg, selector: u16) []const u8 {
        const key = selector & ~Key.write_channel;
        switch (key) {
            Key.signature => return &signature_bytes,
            Key.id => return &id_bytes,
            Key.file_dir => return self.fileDirectory(),
            else => {},
        }
        if (key >= Key.file_first and key < Key.arch_local) {
            const index = key - Key.file_first;
            return if (index < self.file_count) self.file_data[index] else &.{};
        }
        for (self.items[0..self.item_count]) |item| {
            if (item.key == key) return item.data;
        }
        return &.{};
    }

    fn fixedKey(key: u16) bool {
        if (key & Key.write_channel != 0) return false;
        if (key == Key.signature or key == Key.id or key == Key.file_dir) return false;
        return key & Key.arch_local != 0 or key < Key.file_first;
    }

    fn fileDirectory(self: *const FwCfg) []const u8 {
        return self.file_dir[0 .. directory_header_bytes + @as(usize, self.file_count) * file_entry_bytes];
    }

    /// The name in directory entry `position`, without its NUL padding.
    fn entryName(self: *const FwCfg, position: usize) []const u8 {
        assert(position < self.file_count);
        const entry_start = directory_header_bytes + position * file_entry_bytes;
        const field = self.file_dir[entry_start + 8 ..][0..file_name_bytes];
        return field[0 .. std.mem.indexOfScalar(u8, field, 0) orelse file_name_bytes];
    }

    /// Guest RAM behind [gpa, gpa + len), or null when any of it is not RAM. The sum is checked
    /// here so no `DmaMemory` ever sees a range that wraps past 2^64.
    fn dmaSlice(self: *const FwCfg, gpa: u64, len: u64) ?[]u8 {
        _ = std.math.add(u64, gpa, len) catch return null;
        const bytes = self.dma.slice(gpa, len) orelse return null;
        assert(bytes.len == len);
        return bytes;
    }

    /// One DMA operation on the control structure at `access_address`. A structure outside RAM
    /// has nowhere to report an error, so it is only counted.
    fn runDma(self: *FwCfg, access_address: u64) void {
        const access = self.dmaSlice(access_address, dma_access_bytes) orelse {
            self.bad_accesses +|= 1;
            return;
        };
        // Copied out first: the transfer may overwrite the structure itself.
        const control = std.mem.readInt(u32, access[0..4], .big);
        const length = std.mem.readInt(u32, access[4..8], .big);
        const address = std.mem.readInt(u64, access[8..16], .big);
        const ok = self.transfer(control, length, address);
        std.mem.writeInt(u32, access[0..4], if (ok) 0 else dma_error, .big);
    }

    /// Select, then at most one of read, write, skip (in that order of precedence).
    fn transfer(self: *FwCfg, control: u32, length: u32, address: u64) bool {
        if (control & dma_select != 0) self.select(@intCast(control >> 16));
        if (control & dma_read != 0) return self.dmaReadInto(length, address);
        // Every item is read-only.
        if (control & dma_write != 0) return false;
        if (control & dma_skip != 0) self.advance(length);
        return true;
    }

    /// Copies `length` bytes of the selected item from the data offset to guest RAM; bytes past
    /// the item's end read as zero. Fails, touching nothing, unless the whole target is RAM.
    fn dmaReadInto(self: *FwCfg, length: u32, address: u64) bool {
        if (length == 0) return true;
        const target = self.dmaSlice(address, length) orelse return false;
        const item = self.itemData(self.selector);
        const start = @min(self.data_offset, item.len);
        const copied = @min(target.len, item.len - start);
        @memcpy(target[0..copied], item[start..][0..copied]);
        @memset(target[copied..], 0);
        self.advance(length);
        return true;
    }

    fn leBytes(value: u32) [4]u8 {
        var bytes: [4]u8 = undefined;
        std.mem.writeInt(u32, &bytes, value, .little);
        return bytes;
    }
};

const testing = std.testing;

fn selectKey(fw_cfg: *FwCfg, key: u16) void {
    var bytes: [2]u8 = undefined;
    std.mem.writeInt(u16, &bytes, key, .little);
    fw_cfg.write(FwCfg.Port.selector, &bytes);
}

fn readDataPort(fw_cfg: *FwCfg, out: []u8) void {
    for (out) |*byte| {
        var data = [1]u8{0};
        fw_cfg.read(FwCfg.Port.data, &data);
        byte.* = data[0];
    }
}

fn writeDmaHalf(fw_cfg: *FwCfg, offset: u16, value: u32) void {
    var bytes: [4]u8 = undefined;
    std.mem.writeInt(u32, &bytes, value, .big);
    fw_cfg.write(offset, &bytes);
}

/// As SeaBIOS does it: the high half, then the low half, which starts the transfer.
fn startDma(fw_cfg: *FwCfg, access_address: u64) void {
    writeDmaHalf(fw_cfg, FwCfg.Port.dma_address_high, @truncate(access_address >> 32));
    writeDmaHalf(fw_cfg, FwCfg.Port.dma_address_low, @truncate(access_address));
}

fn putAccess(ram: []u8, at: usize, control: u32, length: u32, address: u64) void {
    std.mem.writeInt(u32, ram[at..][0..4], control, .big);
    std.mem.writeInt(u32, ram[at + 4 ..][0..4], length, .big);
    std.mem.writeInt(u64, ram[at + 8 ..][0..8], address, .big);
}

fn accessControl(ram: []const u8, at: usize) u32 {
    return std.mem.readInt(u32, ram[at..][0..4], .big);
}

fn selectControl(key: u16) u32 {
    return @as(u32, key) << 16 | FwCfg.dma_select;
}

/// Every byte of `ram` equals `fill` except [except_start, except_start + except_len).
fn expectUntouched(ram: []const u8, fill: u8, except_start: usize, except_len: usize) !void {
    for (ram, 0..) |byte, i| {
        if (i >= except_start and i < except_start + except_len) continue;
        try testing.expectEqual(fill, byte);
    }
}

const test_ram_bytes = 4096;
const access_at = 0x100;
const target_at = 0x800;

test "signature and id through the data port, DMA signature at the address register" {
    var ram = [_]u8{0} ** test_ram_bytes;
    const recorder = device.DmaRecorder{ .ram = &ram };
    var fw_cfg = FwCfg.init(recorder.memory());

    selectKey(&fw_cfg, FwCfg.Key.signature);
    var signature: [4]u8 = undefined;
    readDataPort(&fw_cfg, &signature);
    try testing.expectEqualSlices(u8, "QEMU", &signature);

    selectKey(&fw_cfg, FwCfg.Key.id);
    var id: [4]u8 = undefined;
    readDataPort(&fw_cfg, &id);
    try testing.expectEqual(FwCfg.id_traditional | FwCfg.id_dma, std.mem.readInt(u32, &id, .little));

    // Past the end: zeros, however long the guest keeps reading.
    var past: [3]u8 = undefined;
    readDataPort(&fw_cfg, &past);
    try testing.expectEqualSlices(u8, &[3]u8{ 0, 0, 0 }, &past);

    // Reselecting starts over; the write-channel bit reaches the same item.
    selectKey(&fw_cfg, FwCfg.Key.signature | FwCfg.Key.write_channel);
    readDataPort(&fw_cfg, &signature);
    try testing.expectEqualSlices(u8, "QEMU", &signature);

    // The DMA register reads 0x51454D5520434647 as two big-endian 32-bit halves.
    var half: [4]u8 = undefined;
    fw_cfg.read(FwCfg.Port.dma_address_high, &half);
    try testing.expectEqual(@as(u32, 0x51454D55), std.mem.readInt(u32, &half, .big));
    fw_cfg.read(FwCfg.Port.dma_address_low, &half);
    try testing.expectEqual(@as(u32, 0x20434647), std.mem.readInt(u32, &half, .big));
    var byte = [1]u8{0};
    fw_cfg.read(11, &byte);
    try testing.expectEqual(@as(u8, 'G'), byte[0]);
    var word: [2]u8 = undefined;
    fw_cfg.read(6, &word);
    try testing.expectEqualSlices(u8, "MU", &word);

    // The selector is write-only.
    fw_cfg.read(FwCfg.Port.selector, &word);
    try testing.expectEqualSlices(u8, &[2]u8{ 0xFF, 0xFF }, &word);
    try testing.expectEqual(@as(u32, 0), fw_cfg.bad_accesses);
}

test "file directory: big-endian count, size and key, NUL-padded names, sorted by name" {
    var ram = [_]u8{0} ** test_ram_bytes;
    const recorder = device.DmaRecorder{ .ram = &ram };
    var fw_cfg = FwCfg.init(recorder.memory());

    const loader = [_]u8{0x11} ** 300;
    const e820 = [_]u8{0x22} ** 40;
    const order = "HALT";
    try testing.expectEqual(@as(u16, 0x20), try fw_cfg.addFile("opt/org.vmctl/loader", &loader));
    try testing.expectEqual(@as(u16, 0x21), try fw_cfg.addFile("etc/e820", &e820));
    try testing.expectEqual(@as(u16, 0x22), try fw_cfg.addFile("bootorder", order));

    selectKey(&fw_cfg, FwCfg.Key.file_dir);
    var directory: [4 + 3 * 64]u8 = undefined;
    readDataPort(&fw_cfg, &directory);
    try testing.expectEqual(@as(u32, 3), std.mem.readInt(u32, directory[0..4], .big));

    const expected = [_]struct { name: []const u8, size: u32, key: u16 }{
        .{ .name = "bootorder", .size = 4, .key = 0x22 },
        .{ .name = "etc/e820", .size = 40, .key = 0x21 },
        .{ .name = "opt/org.vmctl/loader", .size = 300, .key = 0x20 },
    };
    for (expected, 0..) |file, i| {
        const entry = directory[4 + i * 64 ..][0..64];
        try testing.expectEqual(file.size, std.mem.readInt(u32, entry[0..4], .big));
        try testing.expectEqual(file.key, std.mem.readInt(u16, entry[4..6], .big));
        try testing.expectEqual(@as(u16, 0), std.mem.readInt(u16, entry[6..8], .big));
        try testing.expectEqualSlices(u8, file.name, entry[8..][0..file.name.len]);
        for (entry[8 + file.name.len ..]) |pad| try testing.expectEqual(@as(u8, 0), pad);
    }
    var past = [1]u8{0xAA};
    readDataPort(&fw_cfg, &past);
    try testing.expectEqual(@as(u8, 0), past[0]);

    // The directory entry leads to the item.
    selectKey(&fw_cfg, 0x21);
    var first: [2]u8 = undefined;
    readDataPort(&fw_cfg, &first);
    try testing.expectEqualSlices(u8, &[2]u8{ 0x22, 0x22 }, &first);
}

test "addFile and addItem refuse bad names, duplicates, reserved keys and a full table" {
    var ram = [_]u8{0} ** test_ram_bytes;
    const recorder = device.DmaRecorder{ .ram = &ram };
    var fw_cfg = FwCfg.init(recorder.memory());
    const data = "x";

    const longest = "n" ** FwCfg.max_name_bytes;
    _ = try fw_cfg.addFile(longest, data);
    try testing.expectError(error.NameTooLong, fw_cfg.addFile(longest ++ "n", data));
    try testing.expectError(error.InvalidName, fw_cfg.addFile("", data));
    try testing.expectError(error.InvalidName, fw_cfg.addFile("a\x00b", data));
    try testing.expectError(error.DuplicateName, fw_cfg.addFile(longest, data));

    var name_buffer: [16]u8 = undefined;
    var i: u16 = 1;
    while (i < FwCfg.max_files) : (i += 1) {
        const name = try std.fmt.bufPrint(&name_buffer, "opt/file{d}", .{i});
        try testing.expectEqual(FwCfg.Key.file_first + i, try fw_cfg.addFile(name, data));
    }
    try testing.expectError(error.TooManyFiles, fw_cfg.addFile("opt/one-too-many", data));
    try testing.expectError(error.DuplicateName, fw_cfg.addFile("opt/file7", data));

    // The full directory is still sorted.
    var previous: []const u8 = "";
    var position: usize = 0;
    while (position < fw_cfg.file_count) : (position += 1) {
        const name = fw_cfg.entryName(position);
        try testing.expect(std.mem.order(u8, previous, name) == .lt);
        previous = name;
    }

    try testing.expectError(error.ReservedKey, fw_cfg.addItem(FwCfg.Key.signature, data));
    try testing.expectError(error.ReservedKey, fw_cfg.addItem(FwCfg.Key.id, data));
    try testing.expectError(error.ReservedKey, fw_cfg.addItem(FwCfg.Key.file_dir, data));
    try testing.expectError(error.ReservedKey, fw_cfg.addItem(FwCfg.Key.file_first, data));
    try testing.expectError(error.ReservedKey, fw_cfg.addItem(0x3FFF, data));
    try testing.expectError(error.ReservedKey, fw_cfg.addItem(FwCfg.Key.kernel_data | FwCfg.Key.write_channel, data));
    try fw_cfg.addItem(FwCfg.Key.e820_table, data);
    try testing.expectError(error.DuplicateKey, fw_cfg.addItem(FwCfg.Key.e820_table, data));
    var key: u16 = FwCfg.Key.arch_local + 0x100;
    while (fw_cfg.item_count < FwCfg.max_items) : (key += 1) try fw_cfg.addItem(key, data);
    try testing.expectError(error.TooManyItems, fw_cfg.addItem(FwCfg.Key.nb_cpus, data));
}

test "selecting a file and reading it byte by byte and past its end" {
    var ram = [_]u8{0} ** test_ram_bytes;
    const recorder = device.DmaRecorder{ .ram = &ram };
    var fw_cfg = FwCfg.init(recorder.memory());
    const contents = "console=ttyS0";
    const key = try fw_cfg.addFile("opt/cmdline", contents);
    var count = [_]u8{ 1, 0 };
    try fw_cfg.addItem(FwCfg.Key.nb_cpus, &count);

    selectKey(&fw_cfg, key);
    for (contents) |expected| {
        var byte = [1]u8{0};
        fw_cfg.read(FwCfg.Port.data, &byte);
        try testing.expectEqual(expected, byte[0]);
    }
    for (0..5) |_| {
        var byte = [1]u8{0xAA};
        fw_cfg.read(FwCfg.Port.data, &byte);
        try testing.expectEqual(@as(u8, 0), byte[0]);
    }
    try testing.expectEqual(@as(u32, contents.len), fw_cfg.data_offset);

    // Data port writes are ignored and change nothing.
    selectKey(&fw_cfg, FwCfg.Key.nb_cpus);
    fw_cfg.write(FwCfg.Port.data, &[1]u8{7});
    var cpus: [2]u8 = undefined;
    readDataPort(&fw_cfg, &cpus);
    try testing.expectEqualSlices(u8, &[2]u8{ 1, 0 }, &cpus);

    // Keys without an item read as empty.
    selectKey(&fw_cfg, 0x2F);
    var nothing = [1]u8{0xAA};
    readDataPort(&fw_cfg, &nothing);
    try testing.expectEqual(@as(u8, 0), nothing[0]);
    selectKey(&fw_cfg, FwCfg.Key.hpet);
    readDataPort(&fw_cfg, &nothing);
    try testing.expectEqual(@as(u8, 0), nothing[0]);
    try testing.expectEqual(@as(u32, 0), fw_cfg.bad_accesses);
}

test "DMA read into RAM, select and read in one transfer, zero fill past the end" {
    var ram = [_]u8{0xAA} ** test_ram_bytes;
    const recorder = device.DmaRecorder{ .ram = &ram };
    var fw_cfg = FwCfg.init(recorder.memory());
    var kernel: [100]u8 = undefined;
    for (&kernel, 0..) |*byte, i| byte.* = @truncate(i * 7 + 1);
    try fw_cfg.addItem(FwCfg.Key.kernel_data, &kernel);

    // Selected through the port, read through DMA.
    selectKey(&fw_cfg, FwCfg.Key.kernel_data);
    putAccess(&ram, access_at, FwCfg.dma_read, 10, target_at);
    startDma(&fw_cfg, access_at);
    try testing.expectEqual(@as(u32, 0), accessControl(&ram, access_at));
    try testing.expectEqualSlices(u8, kernel[0..10], ram[target_at..][0..10]);
    try testing.expectEqual(@as(u8, 0xAA), ram[target_at + 10]);

    // The next transfer continues where the last stopped; only the low half is written, the
    // high half having gone back to zero.
    putAccess(&ram, access_at, FwCfg.dma_read, 20, target_at + 10);
    writeDmaHalf(&fw_cfg, FwCfg.Port.dma_address_low, access_at);
    try testing.expectEqual(@as(u32, 0), accessControl(&ram, access_at));
    try testing.expectEqualSlices(u8, kernel[0..30], ram[target_at..][0..30]);

    // Select and read in one transfer, longer than the item: the rest is zeros.
    @memset(&ram, 0xAA);
    putAccess(&ram, access_at, selectControl(FwCfg.Key.kernel_data) | FwCfg.dma_read, 150, target_at);
    startDma(&fw_cfg, access_at);
    try testing.expectEqual(@as(u32, 0), accessControl(&ram, access_at));
    try testing.expectEqualSlices(u8, &kernel, ram[target_at..][0..100]);
    for (ram[target_at + 100 ..][0..50]) |byte| try testing.expectEqual(@as(u8, 0), byte);
    try testing.expectEqual(@as(u8, 0xAA), ram[target_at + 150]);
    try testing.expectEqual(@as(u32, 100), fw_cfg.data_offset);

    // A read at the end fills zeros and succeeds; a zero-length read touches nothing.
    putAccess(&ram, access_at, FwCfg.dma_read, 4, target_at);
    startDma(&fw_cfg, access_at);
    try testing.expectEqual(@as(u32, 0), accessControl(&ram, access_at));
    try testing.expectEqualSlices(u8, &[4]u8{ 0, 0, 0, 0 }, ram[target_at..][0..4]);
    putAccess(&ram, access_at, selectControl(FwCfg.Key.kernel_data) | FwCfg.dma_read, 0, test_ram_bytes + 1);
    startDma(&fw_cfg, access_at);
    try testing.expectEqual(@as(u32, 0), accessControl(&ram, access_at));

    // The signature read as linuxboot_dma.bin's checks would.
    putAccess(&ram, access_at, selectControl(FwCfg.Key.signature) | FwCfg.dma_read, 4, target_at);
    startDma(&fw_cfg, access_at);
    try testing.expectEqualSlices(u8, "QEMU", ram[target_at..][0..4]);

    // A structure above 4 GiB needs both halves; here there is no RAM there.
    writeDmaHalf(&fw_cfg, FwCfg.Port.dma_address_high, 1);
    writeDmaHalf(&fw_cfg, FwCfg.Port.dma_address_low, access_at);
    try testing.expectEqual(@as(u32, 1), fw_cfg.bad_accesses);
    try testing.expectEqual(@as(u32, 0), fw_cfg.dma_address_high);
}

test "DMA skip moves the offset, and stops at the item's end" {
    var ram = [_]u8{0xAA} ** test_ram_bytes;
    const recorder = device.DmaRecorder{ .ram = &ram };
    var fw_cfg = FwCfg.init(recorder.memory());
    const setup = "0123456789";
    try fw_cfg.addItem(FwCfg.Key.setup_data, setup);

    putAccess(&ram, access_at, selectControl(FwCfg.Key.setup_data) | FwCfg.dma_skip, 3, 0);
    startDma(&fw_cfg, access_at);
    try testing.expectEqual(@as(u32, 0), accessControl(&ram, access_at));
    putAccess(&ram, access_at, FwCfg.dma_read, 2, target_at);
    startDma(&fw_cfg, access_at);
    try testing.expectEqualSlices(u8, "34", ram[target_at..][0..2]);

    // The skip's address is not used: it may point anywhere.
    putAccess(&ram, access_at, FwCfg.dma_skip, 0xFFFF_FFFF, std.math.maxInt(u64));
    startDma(&fw_cfg, access_at);
    try testing.expectEqual(@as(u32, 0), accessControl(&ram, access_at));
    try testing.expectEqual(@as(u32, setup.len), fw_cfg.data_offset);
    putAccess(&ram, access_at, FwCfg.dma_skip, 0xFFFF_FFFF, 0);
    startDma(&fw_cfg, access_at);
    try testing.expectEqual(@as(u32, setup.len), fw_cfg.data_offset);
    var byte = [1]u8{0xAA};
    readDataPort(&fw_cfg, &byte);
    try testing.expectEqual(@as(u8, 0), byte[0]);

    // A skip then a port read mixes both interfaces.
    putAccess(&ram, access_at, selectControl(FwCfg.Key.setup_data) | FwCfg.dma_skip, 9, 0);
    startDma(&fw_cfg, access_at);
    readDataPort(&fw_cfg, &byte);
    try testing.expectEqual(@as(u8, '9'), byte[0]);

    // Read outranks skip.
    putAccess(&ram, access_at, selectControl(FwCfg.Key.setup_data) | FwCfg.dma_read | FwCfg.dma_skip, 2, target_at);
    startDma(&fw_cfg, access_at);
    try testing.expectEqualSlices(u8, "01", ram[target_at..][0..2]);
}

test "DMA writes are refused with the error bit and change nothing" {
    var ram = [_]u8{0xAA} ** test_ram_bytes;
    const recorder = device.DmaRecorder{ .ram = &ram };
    var fw_cfg = FwCfg.init(recorder.memory());
    const initrd = [_]u8{ 1, 2, 3, 4 };
    try fw_cfg.addItem(FwCfg.Key.initrd_data, &initrd);
    const file_key = try fw_cfg.addFile("etc/boot-fail-wait", &initrd);

    for ([_]u16{ FwCfg.Key.initrd_data, file_key, FwCfg.Key.signature, FwCfg.Key.file_dir, 0x1234 }) |key| {
        putAccess(&ram, access_at, selectControl(key) | FwCfg.dma_write, 4, target_at);
        startDma(&fw_cfg, access_at);
        try testing.expectEqual(FwCfg.dma_error, accessControl(&ram, access_at));
        try expectUntouched(&ram, 0xAA, access_at, FwCfg.dma_access_bytes);
    }
    try testing.expectEqualSlices(u8, &[4]u8{ 1, 2, 3, 4 }, &initrd);

    // The selection still happened; the offset did not move.
    try testing.expectEqual(@as(u16, 0x1234), fw_cfg.selector);
    putAccess(&ram, access_at, selectControl(FwCfg.Key.initrd_data) | FwCfg.dma_write | FwCfg.dma_skip, 2, target_at);
    startDma(&fw_cfg, access_at);
    try testing.expectEqual(FwCfg.dma_error, accessControl(&ram, access_at));
    try testing.expectEqual(@as(u32, 0), fw_cfg.data_offset);
}

test "a control structure outside RAM is ignored and counted" {
    var ram = [_]u8{0xAA} ** test_ram_bytes;
    const recorder = device.DmaRecorder{ .ram = &ram };
    var fw_cfg = FwCfg.init(recorder.memory());
    try fw_cfg.addItem(FwCfg.Key.kernel_data, "kernel");

    // Entirely outside, straddling the end, and the last 16 bytes of RAM (inside).
    startDma(&fw_cfg, test_ram_bytes);
    startDma(&fw_cfg, test_ram_bytes - 8);
    startDma(&fw_cfg, 0xFFFF_FFFF_0000_0000);
    try testing.expectEqual(@as(u32, 3), fw_cfg.bad_accesses);
    try expectUntouched(&ram, 0xAA, 0, 0);

    const last = test_ram_bytes - FwCfg.dma_access_bytes;
    putAccess(&ram, last, selectControl(FwCfg.Key.kernel_data) | FwCfg.dma_read, 6, target_at);
    startDma(&fw_cfg, last);
    try testing.expectEqual(@as(u32, 3), fw_cfg.bad_accesses);
    try testing.expectEqual(@as(u32, 0), accessControl(&ram, last));
    try testing.expectEqualSlices(u8, "kernel", ram[target_at..][0..6]);
}

test "targets outside RAM, straddling its end, or 0xFFFFFFFF long fail and touch nothing" {
    var ram = [_]u8{0xAA} ** test_ram_bytes;
    const recorder = device.DmaRecorder{ .ram = &ram };
    var fw_cfg = FwCfg.init(recorder.memory());
    var big = [_]u8{0x5A} ** 8192;
    try fw_cfg.addItem(FwCfg.Key.initrd_data, &big);

    const cases = [_]struct { length: u32, address: u64 }{
        .{ .length = 1, .address = test_ram_bytes },
        .{ .length = 16, .address = test_ram_bytes - 8 },
        .{ .length = test_ram_bytes + 1, .address = 0 },
        .{ .length = 0xFFFF_FFFF, .address = 0 },
        .{ .length = 0xFFFF_FFFF, .address = target_at },
        .{ .length = 4, .address = 0x1_0000_0000 },
    };
    for (cases) |case| {
        putAccess(&ram, access_at, selectControl(FwCfg.Key.initrd_data) | FwCfg.dma_read, case.length, case.address);
        startDma(&fw_cfg, access_at);
        try testing.expectEqual(FwCfg.dma_error, accessControl(&ram, access_at));
        try expectUntouched(&ram, 0xAA, access_at, FwCfg.dma_access_bytes);
        try testing.expectEqual(@as(u32, 0), fw_cfg.data_offset);
    }
    try testing.expectEqual(@as(u32, 0), fw_cfg.bad_accesses);

    // The whole of RAM, structure included, is a valid target; the control word written back
    // last is the only byte range that does not hold the item.
    putAccess(&ram, access_at, selectControl(FwCfg.Key.initrd_data) | FwCfg.dma_read, test_ram_bytes, 0);
    startDma(&fw_cfg, access_at);
    try testing.expectEqual(@as(u32, 0), accessControl(&ram, access_at));
    try testing.expectEqualSlices(u8, big[0..access_at], ram[0..access_at]);
    try testing.expectEqualSlices(u8, big[access_at + 4 .. test_ram_bytes], ram[access_at + 4 ..]);
    try testing.expectEqual(@as(u32, test_ram_bytes), fw_cfg.data_offset);
}

/// A DmaMemory over a DmaRecorder that counts requests whose range wraps past 2^64.
const WrapWatch = struct {
    recorder: device.DmaRecorder,
    wrapping_requests: *u32,

    fn sliceOf(context: *const anyopaque, gpa: u64, len: u64) ?[]u8 {
        const self: *const WrapWatch = @ptrCast(@alignCast(context));
        if (gpa +% len < gpa) self.wrapping_requests.* += 1;
        return self.recorder.memory().slice(gpa, len);
    }

    fn memory(self: *const WrapWatch) device.DmaMemory {
        return .{ .context = self, .sliceFn = sliceOf };
    }
};

test "addresses near 2^64 never wrap into RAM" {
    var ram = [_]u8{0xAA} ** test_ram_bytes;
    var wrapping_requests: u32 = 0;
    const watch = WrapWatch{ .recorder = .{ .ram = &ram }, .wrapping_requests = &wrapping_requests };
    var fw_cfg = FwCfg.init(watch.memory());
    try fw_cfg.addItem(FwCfg.Key.kernel_data, &([_]u8{0x77} ** 64));

    const max = std.math.maxInt(u64);
    const targets = [_]struct { length: u32, address: u64 }{
        .{ .length = 1, .address = max },
        .{ .length = 0x20, .address = max - 0xF },
        .{ .length = 0xFFFF_FFFF, .address = max - 0xFFFF_FFF0 },
        .{ .length = 0x1000, .address = max - 0xFFF },
    };
    for (targets) |target| {
        putAccess(&ram, access_at, selectControl(FwCfg.Key.kernel_data) | FwCfg.dma_read, target.length, target.address);
        startDma(&fw_cfg, access_at);
        try testing.expectEqual(FwCfg.dma_error, accessControl(&ram, access_at));
        try expectUntouched(&ram, 0xAA, access_at, FwCfg.dma_access_bytes);
    }

    // Control structures that would wrap are ignored.
    for ([_]u64{ max, max - 7, max - 15 }) |address| startDma(&fw_cfg, address);
    try testing.expectEqual(@as(u32, 3), fw_cfg.bad_accesses);
    try testing.expectEqual(@as(u32, 0), wrapping_requests);
    try expectUntouched(&ram, 0xAA, access_at, FwCfg.dma_access_bytes);
}

test "oversized reads: wide port accesses are refused, long DMA reads stop at RAM's end" {
    var ram = [_]u8{0xAA} ** test_ram_bytes;
    const recorder = device.DmaRecorder{ .ram = &ram };
    var fw_cfg = FwCfg.init(recorder.memory());
    const item = [_]u8{ 9, 8, 7 };
    try fw_cfg.addItem(FwCfg.Key.cmdline_data, &item);
    selectKey(&fw_cfg, FwCfg.Key.cmdline_data);

    var wide = [4]u8{ 0, 0, 0, 0 };
    fw_cfg.read(FwCfg.Port.data, wide[0..2]);
    fw_cfg.read(FwCfg.Port.data, &wide);
    try testing.expectEqualSlices(u8, &[4]u8{ 0xFF, 0xFF, 0xFF, 0xFF }, &wide);
    try testing.expectEqual(@as(u32, 2), fw_cfg.bad_accesses);
    try testing.expectEqual(@as(u32, 0), fw_cfg.data_offset);

    // From the target to the last byte of RAM: the item, then zeros.
    const length = test_ram_bytes - target_at;
    putAccess(&ram, access_at, FwCfg.dma_read, length, target_at);
    startDma(&fw_cfg, access_at);
    try testing.expectEqual(@as(u32, 0), accessControl(&ram, access_at));
    try testing.expectEqualSlices(u8, &item, ram[target_at..][0..3]);
    for (ram[target_at + 3 ..]) |byte| try testing.expectEqual(@as(u8, 0), byte);
    try testing.expectEqual(@as(u32, item.len), fw_cfg.data_offset);

    // One byte further fails as a whole.
    @memset(ram[target_at..], 0xAA);
    selectKey(&fw_cfg, FwCfg.Key.cmdline_data);
    putAccess(&ram, access_at, FwCfg.dma_read, length + 1, target_at);
    startDma(&fw_cfg, access_at);
    try testing.expectEqual(FwCfg.dma_error, accessControl(&ram, access_at));
    try expectUntouched(&ram, 0xAA, access_at, FwCfg.dma_access_bytes);
}

test "wrong widths and offsets are ignored, read as ones and counted" {
    var ram = [_]u8{0xAA} ** test_ram_bytes;
    const recorder = device.DmaRecorder{ .ram = &ram };
    var fw_cfg = FwCfg.init(recorder.memory());
    selectKey(&fw_cfg, FwCfg.Key.id);

    fw_cfg.write(FwCfg.Port.selector, &[1]u8{0});
    fw_cfg.write(FwCfg.Port.selector, &[4]u8{ 0, 0, 0, 0 });
    fw_cfg.write(FwCfg.Port.data, &[2]u8{ 0, 0 });
    fw_cfg.write(2, &[2]u8{ 0, 0 });
    fw_cfg.write(FwCfg.Port.dma_address_high, &[2]u8{ 0, 0 });
    fw_cfg.write(FwCfg.Port.dma_address_low, &[1]u8{0});
    fw_cfg.write(6, &[4]u8{ 0, 0, 0, 0 });
    fw_cfg.write(FwCfg.port_count, &[1]u8{0});
    try testing.expectEqual(@as(u32, 8), fw_cfg.bad_accesses);
    try testing.expectEqual(FwCfg.Key.id, fw_cfg.selector);
    try expectUntouched(&ram, 0xAA, 0, 0);

    var byte = [1]u8{0};
    fw_cfg.read(FwCfg.Port.selector, &byte);
    try testing.expectEqual(@as(u8, 0xFF), byte[0]);
    var word = [2]u8{ 0, 0 };
    fw_cfg.read(2, &word);
    fw_cfg.read(10, &word);
    try testing.expectEqual(@as(u32, 10), fw_cfg.bad_accesses);
    var long = [4]u8{ 0, 0, 0, 0 };
    fw_cfg.read(9, &long);
    fw_cfg.read(FwCfg.port_count, &long);
    try testing.expectEqualSlices(u8, &[4]u8{ 0xFF, 0xFF, 0xFF, 0xFF }, &long);
    try testing.expectEqual(@as(u32, 12), fw_cfg.bad_accesses);
    try testing.expectEqual(@as(u32, 0), fw_cfg.data_offset);
}

test "hostile guest: random accesses and DMA structures never panic or touch memory outside RAM" {
    const ram_bytes = 16 << 10;
    const guard_bytes = 256;
    const guard = 0xC3;
    var backing = [_]u8{guard} ** (guard_bytes + ram_bytes + guard_bytes);
    const ram = backing[guard_bytes..][0..ram_bytes];
    @memset(ram, 0);
    const recorder = device.DmaRecorder{ .ram = ram };
    var fw_cfg = FwCfg.init(recorder.memory());

    var kernel: [6000]u8 = undefined;
    var small: [3]u8 = undefined;
    var prng = std.Random.DefaultPrng.init(0x510);
    const random = prng.random();
    random.bytes(&kernel);
    random.bytes(&small);
    const kernel_copy = kernel;
    const small_copy = small;
    try fw_cfg.addItem(FwCfg.Key.kernel_data, &kernel);
    try fw_cfg.addItem(FwCfg.Key.e820_table, &small);
    try fw_cfg.addItem(FwCfg.Key.uuid, &.{});
    _ = try fw_cfg.addFile("etc/table-loader", &kernel);
    _ = try fw_cfg.addFile("etc/acpi/rsdp", &small);
    const keys = [_]u16{
        FwCfg.Key.signature, FwCfg.Key.id,       FwCfg.Key.kernel_data, FwCfg.Key.e820_table,
        FwCfg.Key.uuid,      FwCfg.Key.file_dir, 0x20,                  0x21,
        0x22,                0x4011,             0xFFFF,
    };

    const widths = [_]usize{ 1, 2, 4 };
    const max = std.math.maxInt(u64);
    var i: u32 = 0;
    while (i < 50_000) : (i += 1) {
        if (random.uintLessThan(u8, 3) != 0) {
            const offset = random.uintLessThan(u16, FwCfg.port_count + 4);
            const width = widths[random.uintLessThan(usize, widths.len)];
            var data: [4]u8 = undefined;
            random.bytes(&data);
            if (random.boolean()) fw_cfg.read(offset, data[0..width]) else fw_cfg.write(offset, data[0..width]);
        } else {
            // A structure somewhere near RAM (partly outside it at times), then its address.
            const at = random.uintLessThan(u64, ram_bytes + 32);
            var access: [FwCfg.dma_access_bytes]u8 = undefined;
            const control: u32 = switch (random.uintLessThan(u8, 3)) {
                0 => random.int(u32),
                1 => selectControl(keys[random.uintLessThan(usize, keys.len)]) | random.uintLessThan(u32, 0x20),
                else => random.uintLessThan(u32, 0x20),
            };
            const length: u32 = switch (random.uintLessThan(u8, 4)) {
                0 => random.int(u32),
                1 => 0xFFFF_FFFF,
                else => random.uintLessThan(u32, ram_bytes + 64),
            };
            const address: u64 = switch (random.uintLessThan(u8, 4)) {
                0 => random.int(u64),
                1 => max - random.uintLessThan(u64, 0x1_0000_0000),
                else => random.uintLessThan(u64, ram_bytes + 64),
            };
            std.mem.writeInt(u32, access[0..4], control, .big);
            std.mem.writeInt(u32, access[4..8], length, .big);
            std.mem.writeInt(u64, access[8..16], address, .big);
            for (access, 0..) |byte, j| {
                if (at + j < ram_bytes) ram[@intCast(at + j)] = byte;
            }
            const start: u64 = switch (random.uintLessThan(u8, 4)) {
                0 => random.int(u64),
                1 => max - random.uintLessThan(u64, 32),
                else => at,
            };
            startDma(&fw_cfg, start);
        }
        try testing.expect(fw_cfg.data_offset <= fw_cfg.itemData(fw_cfg.selector).len);
        for (backing[0..guard_bytes]) |byte| try testing.expectEqual(@as(u8, guard), byte);
        for (backing[guard_bytes + ram_bytes ..]) |byte| try testing.expectEqual(@as(u8, guard), byte);
    }
    try testing.expectEqualSlices(u8, &kernel_copy, &kernel);
    try testing.expectEqualSlices(u8, &small_copy, &small);
    try testing.expect(fw_cfg.bad_accesses > 0);
    try testing.expectEqual(@as(u16, 2), fw_cfg.file_count);
}
