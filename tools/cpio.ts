/**
 * A writer for "newc" cpio archives (magic `070701`), the format the Linux kernel unpacks as an
 * initramfs. Pure: entries in, bytes out. Timestamps are zero so equal input gives equal bytes.
 *
 * @module
 */

import { gzipSync } from "node:zlib";

/** One member of an archive. Paths are relative ("bin/sh"); parents must come before children. */
export type CpioEntry =
  | { kind: "dir"; path: string; mode?: number }
  | { kind: "file"; path: string; data: Uint8Array | string; mode?: number }
  | { kind: "symlink"; path: string; target: string }
  | { kind: "chardev"; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const HEADER_BYTES = 110;
const MAGIC = "070701";
const TRAILER = "TRAILER!!!";

const encoder = new TextEncoder();

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`cpio: field value ${value} does not fit in 32 bits`);
  }
  return value.toString(16).padStart(8, "0");
}

function pad4(length: number): number {
  return (4 - (length % 4)) % 4;
}

function normalizePath(path: string): string {
  const trimmed = path.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "" || trimmed.split("/").some((part) => part === ".." || part === "")) {
    throw new Error(`cpio: bad member path "${path}": use a relative path without "..", "//"`);
  }
  return trimmed;
}

interface Member {
  name: string;
  mode: number;
  nlink: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
}

function toMember(entry: CpioEntry): Member {
  const name = normalizePath(entry.path);
  switch (entry.kind) {
    case "dir":
      return {
        name,
        mode: S_IFDIR | (entry.mode ?? 0o755),
        nlink: 2,
        rdevMajor: 0,
        rdevMinor: 0,
        data: new Uint8Array(0),
      };
    case "file":
      return {
        name,
        mode: S_IFREG | (entry.mode ?? 0o644),
        nlink: 1,
        rdevMajor: 0,
        rdevMinor: 0,
        data: typeof entry.data === "string" ? encoder.encode(entry.data) : entry.data,
      };
    case "symlink":
      return {
        name,
        mode: S_IFLNK | 0o777,
        nlink: 1,
        rdevMajor: 0,
        rdevMinor: 0,
        data: encoder.encode(entry.target),
      };
    case "chardev":
      return {
        name,
        mode: S_IFCHR | (entry.mode ?? 0o600),
        nlink: 1,
        rdevMajor: entry.major,
        rdevMinor: entry.minor,
        data: new Uint8Array(0),
      };
  }
}

function header(member: Member, ino: number, nameBytes: number): string {
  return MAGIC + [
    ino,
    member.mode,
    0, // uid
    0, // gid
    member.nlink,
    0, // mtime
    member.data.length,
    0, // devmajor
    0, // devminor
    member.rdevMajor,
    member.rdevMinor,
    nameBytes,
    0, // check (unused by newc)
  ].map(hex8).join("");
}

/**
 * Builds a newc cpio archive from `entries` (in order) plus the trailer.
 * Throws on duplicate or malformed paths.
 */
export function cpioArchive(entries: readonly CpioEntry[]): Uint8Array {
  const seen = new Set<string>();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const push = (bytes: Uint8Array) => {
    chunks.push(bytes);
    total += bytes.length;
  };
  const emit = (member: Member, ino: number) => {
    const name = encoder.encode(member.name + "\0");
    push(encoder.encode(header(member, ino, name.length)));
    push(name);
    push(new Uint8Array(pad4(HEADER_BYTES + name.length)));
    push(member.data);
    push(new Uint8Array(pad4(member.data.length)));
  };
  let ino = 1;
  for (const entry of entries) {
    const member = toMember(entry);
    if (seen.has(member.name)) throw new Error(`cpio: duplicate member "${member.name}"`);
    seen.add(member.name);
    emit(member, ino++);
  }
  emit(
    { name: TRAILER, mode: 0, nlink: 1, rdevMajor: 0, rdevMinor: 0, data: new Uint8Array(0) },
    0,
  );
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Like {@link cpioArchive}, gzip-compressed (the kernel needs CONFIG_RD_GZIP, as Debian has). */
export function cpioArchiveGzip(entries: readonly CpioEntry[], level = 6): Uint8Array {
  return new Uint8Array(gzipSync(cpioArchive(entries), { level }));
}
