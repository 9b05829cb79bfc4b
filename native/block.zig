//! The host side of a virtual disk: a raw image file that the disk controllers (IDE, AHCI) read and
//! write in whole sectors. Every request is checked against the image's end here, so a device model
//! may pass the guest's sector numbers straight through and only has to map the errors.
//!
//! Cache modes keep QEMU's names and meanings:
//! - writeback: writes land in the host page cache; flush() or close() makes them durable.
//! - writethrough: the file is opened O_DSYNC, so every pwrite is durable before it returns.
//! - none: O_DIRECT bypasses the page cache. The disk's own cache is still volatile, so flush()
//!   is needed as in writeback. Requests O_DIRECT cannot take as they are (see open(2), NOTES:
//!   buffer address, length and offset aligned) go through a bounce buffer the Image owns.
//!
//! An image is locked for as long as it is open, like QEMU's image locking: an exclusive open file
//! description lock (fcntl(2) F_OFD_SETLK) on the whole file when writable, a shared one when
//! read-only. A second writer, or a reader next to a writer, is refused with error.Locked; the lock
//! belongs to the open file description, so two opens in one process conflict as well.
//!
//! An Image serves one thread at a time: all its requests share the bounce buffer.
const std = @import("std");
const linux = std.os.linux;
const posix = std.posix;
const assert = std.debug.assert;

pub const CacheMode = enum { writeback, writethrough, none };

pub const Options = struct {
    read_only: bool,
    cache: CacheMode,
    /// 512 for disks, 2048 for CD-ROMs; a power of two between min_sector_bytes and max_sector_bytes.
    sector_bytes: u32 = 512,
};

pub const min_sector_bytes: u32 = 512;
pub const max_sector_bytes: u32 = 4096;

/// Size of the bounce buffer for cache=none requests that O_DIRECT cannot take directly. Larger
/// requests are split into chunks of this size, so a request never allocates.
pub const bounce_bytes: u32 = 256 << 10;

/// Most regions one vectored request (`readRegions`, `writeRegions`) may carry; IOV_MAX is 1024.
pub const max_regions: usize = 64;

/// The direct-I/O alignment assumed when the kernel does not report one (statx STATX_DIOALIGN is
/// Linux 6.1+): no logical block size exceeds a 4 KiB page in practice.
const fallback_direct_align_bytes: u32 = 4096;

/// Larger reported alignments are treated as "no usable direct I/O": a bounce chunk must hold
/// several blocks for every chunk to make progress.
const max_direct_align_bytes: u32 = 64 << 10;

/// fcntl(2) command taking an open file description lock without waiting
/// (include/uapi/asm-generic/fcntl.h); std.os.linux.F does not define it.
const f_ofd_setlk: i32 = 37;

/// statx(2) mask bit for stx_dio_mem_align and stx_dio_offset_align.
const statx_dioalign: u32 = 0x2000;

comptime {
    assert(bounce_bytes % std.heap.page_size_min == 0);
    assert(bounce_bytes >= 2 * max_direct_align_bytes);
    assert(fallback_direct_align_bytes <= max_direct_align_bytes);
    assert(std.math.isPowerOfTwo(min_sector_bytes) and std.math.isPowerOfTwo(max_sector_bytes));
}

/// struct statx (include/uapi/linux/stat.h) as far as the direct-I/O alignments, which Zig's
/// std.os.linux.Statx hides in its padding. The kernel fills at most these 256 bytes.
const Statx = extern struct {
    mask: u32,
    blksize: u32,
    attributes: u64,
    nlink: u32,
    uid: u32,
    gid: u32,
    mode: u16,
    pad0: u16,
    ino: u64,
    size: u64,
    blocks: u64,
    attributes_mask: u64,
    /// atime, btime, ctime and mtime: four 16-byte struct statx_timestamp.
    timestamps: [8]u64,
    rdev_major: u32,
    rdev_minor: u32,
    dev_major: u32,
    dev_minor: u32,
    mnt_id: u64,
    dio_mem_align: u32,
    dio_offset_align: u32,
    spare: [12]u64,
};

comptime {
    assert(@sizeOf(Statx) == 0x100);
    assert(@offsetOf(Statx, "mode") == 0x1C);
    assert(@offsetOf(Statx, "size") == 0x28);
    assert(@offsetOf(Statx, "rdev_major") == 0x80);
    assert(@offsetOf(Statx, "dio_mem_align") == 0x98);
    assert(@offsetOf(Statx, "dio_offset_align") == 0x9C);
}

pub const OpenError = error{
    /// Nothing at that path (or a path component is not a directory, or the path is too long).
    FileNotFound,
    /// Permission denied by mode bits, an LSM, or the file is being executed.
    AccessDenied,
    /// A writable open on a read-only filesystem: the image can only be used read-only.
    ReadOnlyFileSystem,
    IsDirectory,
    /// A character device, FIFO or socket (block devices too, for now).
    NotRegularFile,
    /// Zero bytes long: there is no disk to show the guest.
    Empty,
    /// A writable image must be a whole number of sectors; only read-only ones may end mid-sector.
    PartialSector,
    /// Another open image (in this or another process) holds a conflicting lock.
    Locked,
    /// The filesystem does not do open file description locks.
    LockUnsupported,
    /// cache=none on a filesystem that refuses O_DIRECT (EINVAL): use cache=writeback.
    DirectIoUnsupported,
    /// cache=none, writable, and the size is not a whole number of direct-I/O blocks, so the last
    /// block could not be written without growing the file: use cache=writeback.
    DirectIoPartialBlock,
    /// Out of file descriptors or memory.
    SystemResources,
    /// Any other errno; last_open_errno holds it.
    Unexpected,
};

pub const IoError = error{
    /// The request does not lie wholly inside the image (or sector + count overflows).
    OutOfRange,
    /// A write to an image opened read-only.
    ReadOnly,
    /// The host failed the request (EIO and anything unexpected); Image.last_errno holds the errno.
    Io,
    /// The host filesystem is full or over quota (ENOSPC, EDQUOT).
    NoSpace,
};

/// The errno behind the last OpenError on this thread, for the user's error message.
pub threadlocal var last_open_errno: linux.E = .SUCCESS;

pub const Image = struct {
    fd: i32,
    read_only: bool,
    cache: CacheMode,
    sector_bytes: u32,
    /// The file's size at open. A read-only image may end mid-sector; the rest of that last sector
    /// reads as zeros, as it would from a CD whose image was cut short.
    size_bytes: u64,
    /// Sectors the guest sees: size_bytes rounded up to whole sectors.
    sector_count: u64,
    /// O_DIRECT's alignment for buffer addresses (cache none only; 1 otherwise).
    direct_memory_align_bytes: u32,
    /// O_DIRECT's alignment for file offsets and lengths, at least direct_memory_align_bytes so that
    /// block-aligned places in the (page-aligned) bounce buffer satisfy both (cache none only).
    direct_block_bytes: u32,
    /// bounce_bytes of page-aligned memory, mapped at open for cache none only.
    bounce: ?[]align(std.heap.page_size_min) u8,
    /// Writes since the last successful fdatasync. Never set for writethrough, whose writes are
    /// durable on return; set before a write starts, since a write that fails halfway may have
    /// changed the file all the same.
    dirty: bool = false,
    /// Requests that went through the bounce buffer, for diagnostics.
    bounced_requests: u64 = 0,
    /// The errno behind the last IoError.Io or IoError.NoSpace, for the user's error message.
    last_errno: linux.E = .SUCCESS,

    /// Flushes, unmaps the bounce buffer and closes the file, which releases the lock. A failed
    /// flush cannot be reported from here (last_errno keeps it): callers that must know whether
    /// data reached the disk call flush() first.
    pub fn close(self: *Image) void {
        assert(self.fd >= 0);
        self.flush() catch {};
        if (self.bounce) |bounce| posix.munmap(bounce);
        // The fdatasync above is what protects the data; close(2) errors after it carry no news.
        _ = linux.close(self.fd);
        self.fd = -1;
        self.bounce = null;
    }

    pub fn sectorCount(self: *const Image) u64 {
        return self.sector_count;
    }

    /// Reads sectors [sector, sector + out.len / sector_bytes). out.len must be a multiple of
    /// sector_bytes. On error.OutOfRange, `out` is left untouched.
    pub fn read(self: *Image, sector: u64, out: []u8) IoError!void {
        assert(self.fd >= 0);
        const offset = try self.byteOffset(sector, out.len);
        if (out.len == 0) return;
        if (self.needsBounce(@intFromPtr(out.ptr), out.len, offset)) return self.readBounced(out, offset);
        return self.preadAll(out, offset);
    }

    /// Reads consecutive sectors from `sector` on into `regions`, in order: one DMA transfer's
    /// scattered guest pages, with one preadv(2) where the cache mode allows. Each region's length
    /// must be a multiple of sector_bytes. On error.OutOfRange, nothing is touched.
    pub fn readRegions(self: *Image, sector: u64, regions: []const []u8) IoError!void {
        assert(self.fd >= 0);
        assert(regions.len <= max_regions);
        var total: usize = 0;
        for (regions) |region| total += region.len;
        const offset = try self.byteOffset(sector, total);
        if (total == 0) return;
        if (self.anyNeedsBounce(regions, offset)) {
            var at = sector;
            for (regions) |region| {
                try self.read(at, region);
                at += region.len / self.sector_bytes;
            }
            return;
        }
        var iov: [max_regions]posix.iovec = undefined;
        for (regions, iov[0..regions.len]) |region, *entry| entry.* = .{ .base = region.ptr, .len = region.len };
        return self.preadvAll(iov[0..regions.len], offset);
    }

    /// Writes consecutive sectors from `sector` on from `regions`, in order, with one pwritev(2)
    /// where the cache mode allows; see `readRegions`. Refused when the image is read-only.
    pub fn writeRegions(self: *Image, sector: u64, regions: []const []const u8) IoError!void {
        assert(self.fd >= 0);
        assert(regions.len <= max_regions);
        if (self.read_only) return error.ReadOnly;
        var total: usize = 0;
        for (regions) |region| total += region.len;
        const offset = try self.byteOffset(sector, total);
        if (total == 0) return;
        if (self.anyNeedsBounce(regions, offset)) {
            var at = sector;
            for (regions) |region| {
                try self.write(at, region);
                at += region.len / self.sector_bytes;
            }
            return;
        }
        if (self.cache != .writethrough) self.dirty = true;
        var iov: [max_regions]posix.iovec_const = undefined;
        for (regions, iov[0..regions.len]) |region, *entry| entry.* = .{ .base = region.ptr, .len = region.len };
        return self.pwritevAll(iov[0..regions.len], offset);
    }

    /// Writes sectors [sector, sector + data.len / sector_bytes). data.len must be a multiple of
    /// sector_bytes. Refused before any bounds check when the image is read-only.
    pub fn write(self: *Image, sector: u64, data: []const u8) IoError!void {
        assert(self.fd >= 0);
        if (self.read_only) return error.ReadOnly;
        const offset = try self.byteOffset(sector, data.len);
        assert(offset + data.len <= self.size_bytes);
        if (data.len == 0) return;
        if (self.cache != .writethrough) self.dirty = true;
        if (self.needsBounce(@intFromPtr(data.ptr), data.len, offset)) return self.writeBounced(data, offset);
        return self.pwriteAll(data, offset);
    }

    /// The guest's FLUSH CACHE: every write that returned before this call is durable (fdatasync)
    /// when it returns. Nothing to do for read-only and writethrough images, or when clean.
    pub fn flush(self: *Image) IoError!void {
        assert(self.fd >= 0);
        if (!self.dirty) return;
        assert(!self.read_only and self.cache != .writethrough);
        while (true) {
            const rc = linux.fdatasync(self.fd);
            switch (linux.E.init(rc)) {
                .SUCCESS => break,
                .INTR => continue,
                else => |errno| return self.fail(errno),
            }
        }
        self.dirty = false;
    }

    /// The byte offset of `sector`, once the whole request is known to lie inside the image.
    fn byteOffset(self: *const Image, sector: u64, len: usize) IoError!u64 {
        assert(len % self.sector_bytes == 0);
        const count: u64 = len / self.sector_bytes;
        const end = std.math.add(u64, sector, count) catch return error.OutOfRange;
        if (end > self.sector_count) return error.OutOfRange;
        // Cannot overflow: sector < sector_count, and sector_count * sector_bytes < size + sector.
        return sector * self.sector_bytes;
    }

    /// Whether any region of a vectored request (laid end to end from `offset`) cannot go to
    /// O_DIRECT as it is.
    fn anyNeedsBounce(self: *const Image, regions: []const []const u8, offset: u64) bool {
        var at = offset;
        for (regions) |region| {
            assert(region.len % self.sector_bytes == 0);
            if (self.needsBounce(@intFromPtr(region.ptr), region.len, at)) return true;
            at += region.len;
        }
        return false;
    }

    fn needsBounce(self: *const Image, address: usize, len: usize, offset: u64) bool {
        if (self.cache != .none) return false;
        return address % self.direct_memory_align_bytes != 0 or
            len % self.direct_block_bytes != 0 or
            offset % self.direct_block_bytes != 0;
    }

    fn fail(self: *Image, errno: linux.E) IoError {
        self.last_errno = errno;
        return switch (errno) {
            .NOSPC, .DQUOT => error.NoSpace,
            else => error.Io,
        };
    }

    /// pread(2) until `buffer` is full. Bytes at or past the end of the file read as zeros: the
    /// rest of a read-only image's partial last sector, or the file shrank behind our back. Stopping
    /// at size_bytes also keeps O_DIRECT from retrying at the unaligned offset where the file ends.
    fn preadAll(self: *Image, buffer: []u8, offset: u64) IoError!void {
        var done: usize = 0;
        while (done < buffer.len) {
            const position = offset + done;
            if (position >= self.size_bytes) break;
            const rest = buffer[done..];
            const rc = linux.pread(self.fd, rest.ptr, rest.len, @intCast(position));
            switch (linux.E.init(rc)) {
                .SUCCESS => {},
                // A signal handler ran; each retry answers a real signal, so this ends.
                .INTR => continue,
                else => |errno| return self.fail(errno),
            }
            if (rc == 0) break;
            assert(rc <= rest.len);
            done += rc;
        }
        @memset(buffer[done..], 0);
    }

    /// preadv(2) until every region is full; like `preadAll`, bytes at or past the end of the
    /// file read as zeros. `iov` is used up as it goes.
    fn preadvAll(self: *Image, iov: []posix.iovec, offset: u64) IoError!void {
        var first: usize = 0;
        var position = offset;
        while (first < iov.len and position < self.size_bytes) {
            const rc = linux.preadv(self.fd, iov[first..].ptr, iov.len - first, @intCast(position));
            switch (linux.E.init(rc)) {
                .SUCCESS => {},
                .INTR => continue,
                else => |errno| return self.fail(errno),
            }
            if (rc == 0) break;
            position += rc;
            first = consume(posix.iovec, iov, first, rc);
        }
        for (iov[first..]) |entry| @memset(entry.base[0..entry.len], 0);
    }

    /// pwritev(2) until every region is written.
    fn pwritevAll(self: *Image, iov: []posix.iovec_const, offset: u64) IoError!void {
        var first: usize = 0;
        var position = offset;
        while (first < iov.len) {
            const rc = linux.pwritev(self.fd, iov[first..].ptr, iov.len - first, @intCast(position));
            switch (linux.E.init(rc)) {
                .SUCCESS => {},
                .INTR => continue,
                else => |errno| return self.fail(errno),
            }
            if (rc == 0) return self.fail(.IO);
            position += rc;
            first = consume(posix.iovec_const, iov, first, rc);
        }
        assert(position <= self.size_bytes);
    }

    /// pwrite(2) until all of `data` is written.
    fn pwriteAll(self: *Image, data: []const u8, offset: u64) IoError!void {
        assert(offset + data.len <= self.size_bytes);
        var done: usize = 0;
        while (done < data.len) {
            const rest = data[done..];
            const rc = linux.pwrite(self.fd, rest.ptr, rest.len, @intCast(offset + done));
            switch (linux.E.init(rc)) {
                .SUCCESS => {},
                .INTR => continue,
                else => |errno| return self.fail(errno),
            }
            // write(2) returns 0 for a non-empty buffer only when it can make no progress at all.
            if (rc == 0) return self.fail(.IO);
            assert(rc <= rest.len);
            done += rc;
        }
    }

    /// One chunk of a bounced request: the part of the request it carries and the block-aligned
    /// span of the file around that part, which is what goes through O_DIRECT.
    const Chunk = struct {
        /// File offset of the span; a multiple of direct_block_bytes.
        span_offset: u64,
        /// Bytes in the span; a multiple of direct_block_bytes, at most bounce_bytes.
        span_len: usize,
        /// Where the request's part starts inside the span (less than one block).
        head: usize,
        /// Request bytes in this chunk; never zero.
        part: usize,
    };

    fn chunkAt(self: *const Image, position: u64, remaining: usize) Chunk {
        const block: usize = self.direct_block_bytes;
        const span_offset = std.mem.alignBackward(u64, position, block);
        const head: usize = @intCast(position - span_offset);
        assert(head < block and 2 * block <= bounce_bytes);
        const part = @min(remaining, bounce_bytes - head);
        const span_len = std.mem.alignForward(usize, head + part, block);
        assert(part > 0 and span_len <= bounce_bytes);
        return .{ .span_offset = span_offset, .span_len = span_len, .head = head, .part = part };
    }

    fn readBounced(self: *Image, out: []u8, offset: u64) IoError!void {
        const bounce = self.bounce.?;
        self.bounced_requests += 1;
        var done: usize = 0;
        while (done < out.len) {
            const chunk = self.chunkAt(offset + done, out.len - done);
            try self.preadAll(bounce[0..chunk.span_len], chunk.span_offset);
            @memcpy(out[done..][0..chunk.part], bounce[chunk.head..][0..chunk.part]);
            done += chunk.part;
        }
    }

    /// Read-modify-write of the blocks a chunk covers only in part, then one write of the span.
    /// Writable cache-none images are whole blocks long (DirectIoPartialBlock), so a span never
    /// reaches past the end of the file.
    fn writeBounced(self: *Image, data: []const u8, offset: u64) IoError!void {
        const bounce = self.bounce.?;
        const block: usize = self.direct_block_bytes;
        self.bounced_requests += 1;
        var done: usize = 0;
        while (done < data.len) {
            const chunk = self.chunkAt(offset + done, data.len - done);
            const first_partial = chunk.head != 0;
            const last_partial = (chunk.head + chunk.part) % block != 0;
            const last_block = chunk.span_len - block;
            if (first_partial) try self.preadAll(bounce[0..block], chunk.span_offset);
            if (last_partial and !(first_partial and last_block == 0)) {
                try self.preadAll(bounce[last_block..chunk.span_len], chunk.span_offset + last_block);
            }
            @memcpy(bounce[chunk.head..][0..chunk.part], data[done..][0..chunk.part]);
            try self.pwriteAll(bounce[0..chunk.span_len], chunk.span_offset);
            done += chunk.part;
        }
    }
};

/// Opens and locks a raw image. Checks, in order: the path opens, it is a regular non-empty file,
/// a writable image is whole sectors, O_DIRECT works (cache none), and the lock is free.
pub fn open(path: [*:0]const u8, options: Options) OpenError!Image {
    assert(std.math.isPowerOfTwo(options.sector_bytes));
    assert(options.sector_bytes >= min_sector_bytes and options.sector_bytes <= max_sector_bytes);
    last_open_errno = .SUCCESS;
    const fd = try openFile(path, options);
    errdefer _ = linux.close(fd);

    var status: Statx = undefined;
    try statFile(fd, &status);
    const kind = status.mode & linux.S.IFMT;
    if (kind == linux.S.IFDIR) return error.IsDirectory;
    if (kind != linux.S.IFREG) return error.NotRegularFile;
    if (status.size == 0) return error.Empty;
    if (!options.read_only and status.size % options.sector_bytes != 0) return error.PartialSector;

    const direct = options.cache == .none;
    try setStatusFlags(fd, direct);
    if (direct) try checkDirectOpen(fd);
    var memory_align: u32 = 1;
    var block: u32 = 1;
    if (direct) {
        memory_align, block = try directAlignment(&status);
        if (!options.read_only and status.size % block != 0) return error.DirectIoPartialBlock;
    }

    try lockFile(fd, options.read_only);

    var bounce: ?[]align(std.heap.page_size_min) u8 = null;
    if (direct) {
        bounce = posix.mmap(
            null,
            bounce_bytes,
            posix.PROT.READ | posix.PROT.WRITE,
            .{ .TYPE = .PRIVATE, .ANONYMOUS = true },
            -1,
            0,
        ) catch return error.SystemResources;
    }

    const sector_count = std.math.divCeil(u64, status.size, options.sector_bytes) catch unreachable;
    return .{
        .fd = fd,
        .read_only = options.read_only,
        .cache = options.cache,
        .sector_bytes = options.sector_bytes,
        .size_bytes = status.size,
        .sector_count = sector_count,
        .direct_memory_align_bytes = memory_align,
        .direct_block_bytes = block,
        .bounce = bounce,
    };
}

fn openFile(path: [*:0]const u8, options: Options) OpenError!i32 {
    const flags: linux.O = .{
        .ACCMODE = if (options.read_only) .RDONLY else .RDWR,
        // A child process must not inherit the descriptor, and with it the lock.
        .CLOEXEC = true,
        .NOCTTY = true,
        // Opening a FIFO for reading would wait for a writer; cleared once the file is regular.
        .NONBLOCK = true,
        // Writethrough: every pwrite is durable on return, as if followed by fdatasync (open(2)).
        .DSYNC = options.cache == .writethrough and !options.read_only,
    };
    while (true) {
        const rc = linux.openat(linux.AT.FDCWD, path, flags, 0);
        const errno = linux.E.init(rc);
        if (errno != .SUCCESS) last_open_errno = errno;
        switch (errno) {
            .SUCCESS => return @intCast(rc),
            .INTR => continue,
            .NOENT, .NOTDIR, .NAMETOOLONG, .LOOP => return error.FileNotFound,
            .ACCES, .PERM, .TXTBSY => return error.AccessDenied,
            .ROFS => return error.ReadOnlyFileSystem,
            .ISDIR => return error.IsDirectory,
            // A device with no driver, a FIFO with no reader, a socket.
            .NXIO, .NODEV, .OPNOTSUPP => return error.NotRegularFile,
            .MFILE, .NFILE, .NOMEM => return error.SystemResources,
            else => return error.Unexpected,
        }
    }
}

fn statFile(fd: i32, status: *Statx) OpenError!void {
    const mask = linux.STATX_TYPE | linux.STATX_SIZE | statx_dioalign;
    const rc = linux.statx(fd, "", linux.AT.EMPTY_PATH, mask, @ptrCast(status));
    switch (linux.E.init(rc)) {
        .SUCCESS => {},
        .NOMEM => return error.SystemResources,
        else => |errno| {
            last_open_errno = errno;
            return error.Unexpected;
        },
    }
    // Basic fields that local filesystems always fill; without them nothing below can be checked.
    const needed = linux.STATX_TYPE | linux.STATX_SIZE;
    if (status.mask & needed != needed) return error.Unexpected;
}

/// Sets the file status flags to exactly O_DIRECT or nothing: this clears the O_NONBLOCK that only
/// guarded open(). fcntl(2) F_SETFL may change O_DIRECT, and fails with EINVAL on a filesystem that
/// cannot do direct I/O, as open(2) itself would.
fn setStatusFlags(fd: i32, direct: bool) OpenError!void {
    const flags: linux.O = .{ .DIRECT = direct };
    const rc = linux.fcntl(fd, linux.F.SETFL, @as(u32, @bitCast(flags)));
    switch (linux.E.init(rc)) {
        .SUCCESS => {},
        .INVAL => {
            last_open_errno = .INVAL;
            return if (direct) error.DirectIoUnsupported else error.Unexpected;
        },
        else => |errno| {
            last_open_errno = errno;
            return error.Unexpected;
        },
    }
}

/// fcntl(2) sets O_DIRECT on some stacked filesystems (overlayfs over tmpfs) whose files then
/// fail every direct read and write; opening the file again with O_DIRECT asks the filesystem
/// itself, which refuses with EINVAL as it would at the first open.
fn checkDirectOpen(fd: i32) OpenError!void {
    var path_buffer: [32]u8 = undefined;
    const path = std.fmt.bufPrintZ(&path_buffer, "/proc/self/fd/{d}", .{fd}) catch unreachable;
    const flags: linux.O = .{ .ACCMODE = .RDONLY, .DIRECT = true, .CLOEXEC = true, .NONBLOCK = true, .NOCTTY = true };
    const rc = linux.open(path, flags, 0);
    switch (linux.E.init(rc)) {
        .SUCCESS => _ = linux.close(@intCast(rc)),
        .INVAL => {
            last_open_errno = .INVAL;
            return error.DirectIoUnsupported;
        },
        // Without /proc, fcntl's answer stands.
        else => {},
    }
}

/// O_DIRECT's alignments as statx(2) reports them: buffer address, and file offset and length
/// (raised to at least the address alignment, see Image.direct_block_bytes).
fn directAlignment(status: *const Statx) OpenError!struct { u32, u32 } {
    if (status.mask & statx_dioalign == 0) {
        return .{ fallback_direct_align_bytes, fallback_direct_align_bytes };
    }
    const memory_align = status.dio_mem_align;
    const offset_align = status.dio_offset_align;
    // Zero means the file does no direct I/O (statx(2)); some filesystems accept O_DIRECT and then
    // quietly fall back to the page cache.
    if (memory_align == 0 or offset_align == 0) return error.DirectIoUnsupported;
    if (!std.math.isPowerOfTwo(memory_align) or memory_align > std.heap.page_size_min) return error.DirectIoUnsupported;
    if (!std.math.isPowerOfTwo(offset_align)) return error.DirectIoUnsupported;
    const block = @max(memory_align, offset_align);
    if (block > max_direct_align_bytes) return error.DirectIoUnsupported;
    return .{ memory_align, block };
}

/// A whole-file open file description lock: shared for readers, exclusive for a writer. It lives
/// until the last descriptor of this open file description is closed.
fn lockFile(fd: i32, read_only: bool) OpenError!void {
    var lock = linux.Flock{
        .type = if (read_only) linux.F.RDLCK else linux.F.WRLCK,
        .whence = linux.SEEK.SET,
        .start = 0,
        // Zero length: to the end of the file, however far it grows.
        .len = 0,
        // Must be zero for OFD locks (fcntl(2)).
        .pid = 0,
    };
    while (true) {
        const rc = linux.fcntl(fd, f_ofd_setlk, @intFromPtr(&lock));
        const errno = linux.E.init(rc);
        if (errno != .SUCCESS) last_open_errno = errno;
        switch (errno) {
            .SUCCESS => return,
            .INTR => continue,
            .AGAIN, .ACCES => return error.Locked,
            .NOLCK, .INVAL, .OPNOTSUPP => return error.LockUnsupported,
            else => return error.Unexpected,
        }
    }
}

// Tests. Images live in fresh directories under /tmp; cache=none tests look for a filesystem that
// takes O_DIRECT (tmpfs may not), starting with the build's .zig-cache.

const testing = std.testing;
const PathBuffer = [std.fs.max_path_bytes]u8;

/// A fresh directory under `base` for one test's images; `remove` deletes it and all inside.
const TestDir = struct {
    buffer: PathBuffer = undefined,
    len: usize = 0,

    fn create(base: []const u8) !TestDir {
        var random_bytes: [8]u8 = undefined;
        std.crypto.random.bytes(&random_bytes);
        var self = TestDir{};
        const hex = std.fmt.fmtSliceHexLower(&random_bytes);
        const path = try std.fmt.bufPrint(&self.buffer, "{s}/vmctl-block-{s}", .{ base, hex });
        self.len = path.len;
        try std.fs.cwd().makePath(base);
        try std.fs.cwd().makeDir(path);
        return self;
    }

    fn dirPath(self: *const TestDir) []const u8 {
        return self.buffer[0..self.len];
    }

    fn file(self: *const TestDir, buffer: *PathBuffer, name: []const u8) [:0]const u8 {
        return std.fmt.bufPrintZ(buffer, "{s}/{s}", .{ self.dirPath(), name }) catch unreachable;
    }

    fn remove(self: *const TestDir) void {
        std.fs.cwd().deleteTree(self.dirPath()) catch {};
    }
};

fn writeTestFile(path: []const u8, bytes: []const u8) !void {
    try std.fs.cwd().writeFile(.{ .sub_path = path, .data = bytes });
}

/// The file's bytes through an ordinary buffered read, to check what really reached it.
fn readTestFile(path: []const u8) ![]u8 {
    return std.fs.cwd().readFileAlloc(testing.allocator, path, 64 << 20);
}

fn fillPattern(bytes: []u8, seed: u8) void {
    for (bytes, 0..) |*byte, i| byte.* = @truncate(i *% 7 +% seed +% (i >> 9));
}

fn statusFlags(image: *const Image) linux.O {
    const rc = linux.fcntl(image.fd, linux.F.GETFL, 0);
    assert(linux.E.init(rc) == .SUCCESS);
    return @bitCast(@as(u32, @truncate(rc)));
}

/// A directory on a filesystem that takes O_DIRECT, or SkipZigTest when none of the candidates do.
fn directTestDir() !TestDir {
    const candidates = [_][]const u8{ ".zig-cache/tmp", "/tmp", "/var/tmp" };
    for (candidates) |base| {
        const dir = TestDir.create(base) catch continue;
        var path_buffer: PathBuffer = undefined;
        const path = dir.file(&path_buffer, "probe.img");
        try writeTestFile(path, &([_]u8{0} ** 4096));
        var image = open(path, .{ .read_only = true, .cache = .none }) catch |err| switch (err) {
            error.DirectIoUnsupported => {
                dir.remove();
                continue;
            },
            else => return err,
        };
        image.close();
        return dir;
    }
    return error.SkipZigTest;
}

fn openDescriptorCount() !usize {
    var dir = try std.fs.openDirAbsolute("/proc/self/fd", .{ .iterate = true });
    defer dir.close();
    var count: usize = 0;
    var it = dir.iterate();
    while (try it.next()) |_| count += 1;
    return count;
}

/// Drops the first `n` bytes of `iov[first..]` (a partial preadv/pwritev); returns the index of
/// the first entry with bytes left.
fn consume(comptime Iovec: type, iov: []Iovec, first: usize, n: usize) usize {
    var left = n;
    var index = first;
    while (left > 0) {
        assert(index < iov.len);
        if (left >= iov[index].len) {
            left -= iov[index].len;
            index += 1;
        } else {
            iov[index].base += left;
            iov[index].len -= left;
            left = 0;
        }
    }
    while (index < iov.len and iov[index].len == 0) index += 1;
    return index;
}

test "open refuses missing paths, directories, FIFOs, character devices and empty files" {
    const dir = try TestDir.create("/tmp");
    defer dir.remove();
    const descriptors_before = try openDescriptorCount();
    var path_buffer: PathBuffer = undefined;
    for ([_]bool{ true, false }) |read_only| {
        const options = Options{ .read_only = read_only, .cache = .writeback };
        try testing.expectError(error.FileNotFound, open(dir.file(&path_buffer, "missing.img"), options));
        try testing.expectError(error.FileNotFound, open(dir.file(&path_buffer, "missing/disk.img"), options));

        const dir_path = try std.fmt.bufPrintZ(&path_buffer, "{s}", .{dir.dirPath()});
        try testing.expectError(error.IsDirectory, open(dir_path, options));

        try testing.expectError(error.NotRegularFile, open("/dev/null", options));

        const empty = dir.file(&path_buffer, "empty.img");
        try writeTestFile(empty, "");
        try testing.expectError(error.Empty, open(empty, options));
        try testing.expectError(error.Empty, open(empty, .{ .read_only = read_only, .cache = .none }));
    }

    // A FIFO would block open(2) for reading until a writer came; it must be refused at once.
    const fifo = dir.file(&path_buffer, "fifo");
    try testing.expectEqual(linux.E.SUCCESS, linux.E.init(linux.mknodat(linux.AT.FDCWD, fifo, linux.S.IFIFO | 0o600, 0)));
    try testing.expectError(error.NotRegularFile, open(fifo, .{ .read_only = true, .cache = .writeback }));
    try testing.expectError(error.NotRegularFile, open(fifo, .{ .read_only = false, .cache = .writethrough }));

    // Every refusal closed what it opened.
    try testing.expectEqual(descriptors_before, try openDescriptorCount());
}

test "writable images are whole sectors; a read-only image's partial last sector reads as zeros" {
    const dir = try TestDir.create("/tmp");
    defer dir.remove();
    var path_buffer: PathBuffer = undefined;
    const path = dir.file(&path_buffer, "short.iso");
    var contents: [1000]u8 = undefined;
    fillPattern(&contents, 3);
    try writeTestFile(path, &contents);

    try testing.expectError(error.PartialSector, open(path, .{ .read_only = false, .cache = .writeback }));
    try testing.expectError(error.PartialSector, open(path, .{ .read_only = false, .cache = .none }));

    for ([_]CacheMode{ .writeback, .writethrough }) |cache| {
        var image = try open(path, .{ .read_only = true, .cache = cache });
        defer image.close();
        try testing.expectEqual(@as(u64, 1000), image.size_bytes);
        try testing.expectEqual(@as(u64, 2), image.sectorCount());

        var out: [1024]u8 = undefined;
        @memset(&out, 0xEE);
        try image.read(0, &out);
        try testing.expectEqualSlices(u8, &contents, out[0..1000]);
        try testing.expect(std.mem.allEqual(u8, out[1000..], 0));

        @memset(&out, 0xEE);
        try image.read(1, out[0..512]);
        try testing.expectEqualSlices(u8, contents[512..], out[0..488]);
        try testing.expect(std.mem.allEqual(u8, out[488..512], 0));
        try testing.expectError(error.OutOfRange, image.read(2, out[0..512]));
    }
}

test "a read-only CD image with 2048-byte sectors ends mid-sector under O_DIRECT too" {
    const dir = try directTestDir();
    defer dir.remove();
    var path_buffer: PathBuffer = undefined;
    const path = dir.file(&path_buffer, "cd.iso");
    const contents = try testing.allocator.alloc(u8, 2048 * 3 + 700);
    defer testing.allocator.free(contents);
    fillPattern(contents, 9);
    try writeTestFile(path, contents);

    var image = try open(path, .{ .read_only = true, .cache = .none, .sector_bytes = 2048 });
    defer image.close();
    try testing.expectEqual(@as(u64, 4), image.sectorCount());
    try testing.expect(statusFlags(&image).DIRECT);

    // Aligned (straight into the caller's buffer) and misaligned (through the bounce buffer).
    const storage = try testing.allocator.alignedAlloc(u8, 4096, 4 * 2048 + 4096);
    defer testing.allocator.free(storage);
    for ([_]usize{ 0, 1 }) |shift| {
        const out = storage[shift..][0 .. 4 * 2048];
        @memset(out, 0xEE);
        try image.read(0, out);
        try testing.expectEqualSlices(u8, contents, out[0..contents.len]);
        try testing.expect(std.mem.allEqual(u8, out[contents.len..], 0));
    }
    try testing.expectEqual(@as(u64, 1), image.bounced_requests);
    try testing.expectError(error.OutOfRange, image.read(4, storage[0..2048]));
}

test "requests are bounds-checked: the last sector is fine, one past or overflowing does nothing" {
    const dir = try TestDir.create("/tmp");
    defer dir.remove();
    var path_buffer: PathBuffer = undefined;
    const path = dir.file(&path_buffer, "disk.img");
    var contents: [8 * 512]u8 = undefined;
    fillPattern(&contents, 1);
    try writeTestFile(path, &contents);

    var image = try open(path, .{ .read_only = false, .cache = .writeback });
    var image_open = true;
    defer if (image_open) image.close();
    try testing.expectEqual(@as(u64, 8), image.sectorCount());

    var one: [512]u8 = undefined;
    try image.read(7, &one);
    try testing.expectEqualSlices(u8, contents[7 * 512 ..], &one);
    @memset(&one, 0x5A);
    try image.write(7, &one);

    var two: [1024]u8 = undefined;
    @memset(&two, 0xEE);
    const max = std.math.maxInt(u64);
    for ([_]u64{ 8, 9, max - 1, max }) |sector| {
        try testing.expectError(error.OutOfRange, image.read(sector, &one));
        try testing.expectError(error.OutOfRange, image.write(sector, &two));
    }
    // Starts inside, runs past the end; and sector + count wrapping around 2^64.
    try testing.expectError(error.OutOfRange, image.read(7, &two));
    try testing.expectError(error.OutOfRange, image.write(7, &two));
    try testing.expectError(error.OutOfRange, image.read(max - 1, &two));
    try testing.expectError(error.OutOfRange, image.read(max, &one));
    try testing.expect(std.mem.allEqual(u8, &two, 0xEE));

    // Empty requests are in range up to the end itself.
    try image.read(8, two[0..0]);
    try image.write(8, two[0..0]);
    try testing.expectError(error.OutOfRange, image.read(9, two[0..0]));
    try testing.expectError(error.OutOfRange, image.write(max, two[0..0]));

    image.close();
    image_open = false;
    const on_disk = try readTestFile(path);
    defer testing.allocator.free(on_disk);
    try testing.expectEqualSlices(u8, contents[0 .. 7 * 512], on_disk[0 .. 7 * 512]);
    try testing.expect(std.mem.allEqual(u8, on_disk[7 * 512 ..], 0x5A));
}

test "a read-only image refuses every write and leaves the file alone" {
    const dir = try TestDir.create("/tmp");
    defer dir.remove();
    var path_buffer: PathBuffer = undefined;
    const path = dir.file(&path_buffer, "disk.img");
    var contents: [4 * 512]u8 = undefined;
    fillPattern(&contents, 2);
    try writeTestFile(path, &contents);

    for ([_]CacheMode{ .writeback, .writethrough, .none }) |cache| {
        var image = open(path, .{ .read_only = true, .cache = cache }) catch |err| switch (err) {
            error.DirectIoUnsupported => continue,
            else => return err,
        };
        defer image.close();
        try testing.expect(!statusFlags(&image).DSYNC);
        var sector: [512]u8 = [_]u8{0xAB} ** 512;
        try testing.expectError(error.ReadOnly, image.write(0, &sector));
        try testing.expectError(error.ReadOnly, image.write(3, &sector));
        // ReadOnly comes before the bounds check: any write at all is refused the same way.
        try testing.expectError(error.ReadOnly, image.write(100, &sector));
        try testing.expect(!image.dirty);
        try image.flush();
        try image.read(3, &sector);
        try testing.expectEqualSlices(u8, contents[3 * 512 ..], &sector);
    }
    const on_disk = try readTestFile(path);
    defer testing.allocator.free(on_disk);
    try testing.expectEqualSlices(u8, &contents, on_disk);
}

test "a writer excludes other writers and readers; readers share; close releases the lock" {
    const dir = try TestDir.create("/tmp");
    defer dir.remove();
    var path_buffer: PathBuffer = undefined;
    const path = dir.file(&path_buffer, "disk.img");
    try writeTestFile(path, &([_]u8{0} ** 4096));
    const writer_options = Options{ .read_only = false, .cache = .writeback };
    const reader_options = Options{ .read_only = true, .cache = .writeback };

    var writer = try open(path, writer_options);
    try testing.expectError(error.Locked, open(path, writer_options));
    try testing.expectError(error.Locked, open(path, .{ .read_only = false, .cache = .writethrough }));
    try testing.expectError(error.Locked, open(path, reader_options));
    writer.close();

    var reader_a = try open(path, reader_options);
    var reader_b = try open(path, .{ .read_only = true, .cache = .writethrough });
    try testing.expectError(error.Locked, open(path, writer_options));
    reader_a.close();
    // One reader is enough to keep writers out.
    try testing.expectError(error.Locked, open(path, writer_options));
    reader_b.close();

    // Failed opens took no lock: the image is free again.
    var writer_again = try open(path, writer_options);
    writer_again.close();
}

test "writeback: writes read back at once and are in the file after close" {
    const dir = try TestDir.create("/tmp");
    defer dir.remove();
    var path_buffer: PathBuffer = undefined;
    const path = dir.file(&path_buffer, "disk.img");
    try writeTestFile(path, &([_]u8{0} ** (16 * 512)));

    var image = try open(path, .{ .read_only = false, .cache = .writeback });
    const flags = statusFlags(&image);
    try testing.expect(!flags.DSYNC and !flags.DIRECT and !flags.NONBLOCK);
    try testing.expect(flags.ACCMODE == .RDWR and image.bounce == null);

    var data: [3 * 512]u8 = undefined;
    fillPattern(&data, 11);
    try image.write(5, &data);
    try testing.expect(image.dirty);
    var out: [3 * 512]u8 = undefined;
    try image.read(5, &out);
    try testing.expectEqualSlices(u8, &data, &out);
    try image.flush();
    try testing.expect(!image.dirty);

    // A write after the last flush is still flushed by close.
    try image.write(15, data[0..512]);
    try testing.expect(image.dirty);
    image.close();
    try testing.expectEqual(@as(i32, -1), image.fd);

    const on_disk = try readTestFile(path);
    defer testing.allocator.free(on_disk);
    try testing.expectEqualSlices(u8, &data, on_disk[5 * 512 ..][0 .. 3 * 512]);
    try testing.expectEqualSlices(u8, data[0..512], on_disk[15 * 512 ..]);
    try testing.expect(std.mem.allEqual(u8, on_disk[0 .. 5 * 512], 0));
}

test "writethrough: the file is O_DSYNC, so nothing is ever left to flush" {
    const dir = try TestDir.create("/tmp");
    defer dir.remove();
    var path_buffer: PathBuffer = undefined;
    const path = dir.file(&path_buffer, "disk.img");
    try writeTestFile(path, &([_]u8{0} ** (8 * 512)));

    var image = try open(path, .{ .read_only = false, .cache = .writethrough });
    try testing.expect(statusFlags(&image).DSYNC);
    var data: [2 * 512]u8 = undefined;
    fillPattern(&data, 5);
    try image.write(3, &data);
    try testing.expect(!image.dirty);
    var out: [2 * 512]u8 = undefined;
    try image.read(3, &out);
    try testing.expectEqualSlices(u8, &data, &out);

    // The bytes are in the file before any flush or close.
    const before_close = try readTestFile(path);
    defer testing.allocator.free(before_close);
    try testing.expectEqualSlices(u8, &data, before_close[3 * 512 ..][0 .. 2 * 512]);
    try image.flush();
    image.close();

    const on_disk = try readTestFile(path);
    defer testing.allocator.free(on_disk);
    try testing.expectEqualSlices(u8, &data, on_disk[3 * 512 ..][0 .. 2 * 512]);
}

test "none: O_DIRECT takes aligned requests as they are and bounces unaligned ones" {
    const dir = try directTestDir();
    defer dir.remove();
    var path_buffer: PathBuffer = undefined;
    const path = dir.file(&path_buffer, "disk.img");
    // 1 MiB: big enough for requests that span several bounce chunks.
    const image_bytes = 1 << 20;
    const expected = try testing.allocator.alloc(u8, image_bytes);
    defer testing.allocator.free(expected);
    fillPattern(expected, 17);
    try writeTestFile(path, expected);

    var image = try open(path, .{ .read_only = false, .cache = .none });
    var image_open = true;
    defer if (image_open) image.close();
    try testing.expect(statusFlags(&image).DIRECT and !statusFlags(&image).DSYNC);
    try testing.expect(image.bounce != null);
    try testing.expect(image.direct_block_bytes >= 512);
    try testing.expect(image.direct_block_bytes % image.direct_memory_align_bytes == 0);
    // Behave as on a 4Kn disk even where the kernel allows 512: a coarser alignment is always
    // allowed, and single sectors then need the read-modify-write of a partial block.
    image.direct_block_bytes = @max(image.direct_block_bytes, 4096);
    const block = image.direct_block_bytes;

    const storage = try testing.allocator.alignedAlloc(u8, 4096, 600 << 10);
    defer testing.allocator.free(storage);
    const Case = struct { shift: usize, sector: u64, sectors: usize };
    const cases = [_]Case{
        // Aligned in every way: straight to the file.
        .{ .shift = 0, .sector = 0, .sectors = 16 },
        // Unaligned buffer address only.
        .{ .shift = 1, .sector = 16, .sectors = 16 },
        // One sector inside a block (unaligned length and, for blocks above 512, offset).
        .{ .shift = 0, .sector = 33, .sectors = 1 },
        // Odd address, odd sector, odd length, across the block boundary.
        .{ .shift = 3, .sector = 63, .sectors = 3 },
        // Larger than the bounce buffer: split into chunks, partial blocks at both ends.
        .{ .shift = 5, .sector = 101, .sectors = (bounce_bytes / 512) + 123 },
        // The very last sector.
        .{ .shift = 7, .sector = image_bytes / 512 - 1, .sectors = 1 },
    };
    var seed: u8 = 40;
    for (cases) |case| {
        const data = storage[case.shift..][0 .. case.sectors * 512];
        fillPattern(data, seed);
        seed +%= 1;
        const bounced_before = image.bounced_requests;
        try image.write(case.sector, data);
        const aligned = case.shift == 0 and (case.sector * 512) % block == 0 and data.len % block == 0;
        try testing.expectEqual(bounced_before + @intFromBool(!aligned), image.bounced_requests);
        @memcpy(expected[case.sector * 512 ..][0..data.len], data);
    }
    // At least the misaligned buffer addresses went through the bounce buffer.
    try testing.expect(image.bounced_requests >= 4);

    // Read everything back, through the bounce buffer (odd address) and straight (aligned).
    for ([_]usize{ 9, 0 }) |shift| {
        const out = storage[shift..][0 .. 512 << 10];
        for (0..2) |half| {
            @memset(out, 0xEE);
            try image.read(half * 1024, out);
            try testing.expectEqualSlices(u8, expected[half * (512 << 10) ..][0 .. 512 << 10], out);
        }
    }
    try testing.expect(image.dirty);
    try image.flush();
    try testing.expect(!image.dirty);
    image.close();
    image_open = false;

    const on_disk = try readTestFile(path);
    defer testing.allocator.free(on_disk);
    try testing.expectEqual(expected.len, on_disk.len);
    try testing.expectEqualSlices(u8, expected, on_disk);
}

test "none: a writable image must be whole direct-I/O blocks, a read-only one need not" {
    const dir = try directTestDir();
    defer dir.remove();
    var path_buffer: PathBuffer = undefined;
    const path = dir.file(&path_buffer, "odd.img");
    try writeTestFile(path, &([_]u8{0x33} ** (3 * 512)));

    var reader = try open(path, .{ .read_only = true, .cache = .none });
    const block = reader.direct_block_bytes;
    var out: [3 * 512]u8 = undefined;
    try reader.read(0, &out);
    try testing.expect(std.mem.allEqual(u8, &out, 0x33));
    reader.close();

    if ((3 * 512) % block == 0) {
        var writer = try open(path, .{ .read_only = false, .cache = .none });
        writer.close();
    } else {
        try testing.expectError(error.DirectIoPartialBlock, open(path, .{ .read_only = false, .cache = .none }));
    }
}

test "direct-I/O alignment: reported, assumed, or refused" {
    var status = std.mem.zeroes(Statx);
    status.mask = linux.STATX_TYPE | linux.STATX_SIZE;
    try testing.expectEqual(.{ fallback_direct_align_bytes, fallback_direct_align_bytes }, try directAlignment(&status));

    status.mask |= statx_dioalign;
    status.dio_mem_align = 4;
    status.dio_offset_align = 512;
    try testing.expectEqual(.{ @as(u32, 4), @as(u32, 512) }, try directAlignment(&status));
    // The block is raised to the memory alignment so the bounce buffer's blocks satisfy both.
    status.dio_mem_align = 4096;
    try testing.expectEqual(.{ @as(u32, 4096), @as(u32, 4096) }, try directAlignment(&status));

    const refused = [_][2]u32{ .{ 0, 0 }, .{ 512, 0 }, .{ 0, 512 }, .{ 3, 512 }, .{ 512, 1536 }, .{ 8192, 512 }, .{ 512, 128 << 10 } };
    for (refused) |pair| {
        status.dio_mem_align, status.dio_offset_align = pair;
        try testing.expectError(error.DirectIoUnsupported, directAlignment(&status));
    }
}

test "none where the filesystem refuses O_DIRECT reports DirectIoUnsupported" {
    // sysfs attributes are regular files of nonzero size without direct I/O.
    var image = open("/sys/kernel/mm/transparent_hugepage/enabled", .{ .read_only = true, .cache = .none }) catch |err| switch (err) {
        error.DirectIoUnsupported => return,
        error.FileNotFound, error.AccessDenied => return error.SkipZigTest,
        else => return err,
    };
    image.close();
    return error.TestUnexpectedResult;
}

/// Random reads, writes, flushes and reopens against an in-memory model of the image, including
/// requests that run past the end or wrap around 2^64; the file must equal the model at the end.
/// `min_block_bytes` coarsens the direct-I/O block (cache none) to force partial-block writes.
fn checkAgainstModel(dir: *const TestDir, cache: CacheMode, seed: u64, operations: u32, min_block_bytes: u32) !void {
    const sector_bytes = 512;
    const image_sectors = 2048;
    // Up to 350 KiB: larger than the bounce buffer.
    const max_request_sectors = 700;
    var path_buffer: PathBuffer = undefined;
    const path = dir.file(&path_buffer, "model.img");

    var prng = std.Random.DefaultPrng.init(seed);
    const random = prng.random();
    const model = try testing.allocator.alloc(u8, image_sectors * sector_bytes);
    defer testing.allocator.free(model);
    random.bytes(model);
    try writeTestFile(path, model);
    const storage = try testing.allocator.alignedAlloc(u8, 4096, max_request_sectors * sector_bytes + 4096);
    defer testing.allocator.free(storage);
    const expected = try testing.allocator.alloc(u8, max_request_sectors * sector_bytes);
    defer testing.allocator.free(expected);

    const options = Options{ .read_only = false, .cache = cache };
    var image: ?Image = try open(path, options);
    defer if (image) |*open_image| open_image.close();
    if (cache == .none) image.?.direct_block_bytes = @max(image.?.direct_block_bytes, min_block_bytes);

    for (0..operations) |_| {
        const roll = random.uintLessThan(u32, 100);
        if (roll < 6) {
            try image.?.flush();
            try testing.expect(!image.?.dirty);
            continue;
        }
        if (roll < 9) {
            // close must flush and unlock: the reopen sees the model and takes the lock again.
            image.?.close();
            image = null;
            image = try open(path, options);
            if (cache == .none) image.?.direct_block_bytes = @max(image.?.direct_block_bytes, min_block_bytes);
            continue;
        }
        const count = random.uintAtMost(u64, max_request_sectors);
        var sector = random.uintLessThan(u64, image_sectors + 16);
        if (random.uintLessThan(u32, 16) == 0) sector = std.math.maxInt(u64) - random.uintLessThan(u64, 4);
        const shift = if (random.boolean()) 0 else random.uintLessThan(usize, 4096);
        const bytes = storage[shift..][0 .. count * sector_bytes];
        const in_range = sector <= image_sectors and count <= image_sectors - sector;

        if (roll < 30) {
            // A scattered request: the regions lie in memory in reverse order.
            var regions_buffer: [8][]u8 = undefined;
            const regions = reversedRegions(random, bytes, sector_bytes, &regions_buffer);
            random.bytes(bytes);
            if (!in_range) {
                @memcpy(expected[0..bytes.len], bytes);
                try testing.expectError(error.OutOfRange, image.?.writeRegions(sector, regions));
                try testing.expectError(error.OutOfRange, image.?.readRegions(sector, regions));
                try testing.expectEqualSlices(u8, expected[0..bytes.len], bytes);
                continue;
            }
            var at = sector * sector_bytes;
            if (random.boolean()) {
                try image.?.writeRegions(sector, regions);
                for (regions) |region| {
                    @memcpy(model[at..][0..region.len], region);
                    at += region.len;
                }
            } else {
                try image.?.readRegions(sector, regions);
                for (regions) |region| {
                    try testing.expectEqualSlices(u8, model[at..][0..region.len], region);
                    at += region.len;
                }
            }
        } else if (roll < 55) {
            random.bytes(bytes);
            if (in_range) {
                try image.?.write(sector, bytes);
                @memcpy(model[sector * sector_bytes ..][0..bytes.len], bytes);
            } else {
                try testing.expectError(error.OutOfRange, image.?.write(sector, bytes));
            }
        } else {
            random.bytes(bytes);
            const before = expected[0..bytes.len];
            @memcpy(before, bytes);
            if (in_range) {
                try image.?.read(sector, bytes);
                try testing.expectEqualSlices(u8, model[sector * sector_bytes ..][0..bytes.len], bytes);
            } else {
                try testing.expectError(error.OutOfRange, image.?.read(sector, bytes));
                try testing.expectEqualSlices(u8, before, bytes);
            }
        }
    }
    image.?.close();
    image = null;

    const on_disk = try readTestFile(path);
    defer testing.allocator.free(on_disk);
    try testing.expectEqualSlices(u8, model, on_disk);
}

/// Splits `bytes` into up to `out.len` whole-sector regions, in file order, placed in memory
/// back to front, so a request that mixed up their order or ran them together would show.
fn reversedRegions(random: std.Random, bytes: []u8, sector_bytes: usize, out: [][]u8) [][]u8 {
    const sectors = bytes.len / sector_bytes;
    if (sectors == 0) return out[0..0];
    const count = random.uintAtMost(usize, @min(sectors, out.len) - 1) + 1;
    var left = sectors;
    var end = bytes.len;
    for (out[0..count], 0..) |*region, i| {
        const size = if (i == count - 1) left else random.uintAtMost(usize, left - (count - 1 - i) - 1) + 1;
        left -= size;
        end -= size * sector_bytes;
        region.* = bytes[end..][0 .. size * sector_bytes];
    }
    assert(left == 0 and end == 0);
    return out[0..count];
}

test "random requests match an in-memory model: writeback" {
    const dir = try TestDir.create("/tmp");
    defer dir.remove();
    try checkAgainstModel(&dir, .writeback, 0x5eed_0001, 400, 1);
}

test "random requests match an in-memory model: writethrough" {
    const dir = try TestDir.create("/tmp");
    defer dir.remove();
    try checkAgainstModel(&dir, .writethrough, 0x5eed_0002, 150, 1);
}

test "random requests match an in-memory model: none (O_DIRECT)" {
    const dir = try directTestDir();
    defer dir.remove();
    // The alignment the kernel reports, then 4 KiB blocks as on a 4Kn disk.
    try checkAgainstModel(&dir, .none, 0x5eed_0003, 400, 1);
    try checkAgainstModel(&dir, .none, 0x5eed_0004, 400, 4096);
}
