import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { cpioArchive, cpioArchiveGzip, type CpioEntry } from "../../tools/cpio.ts";

interface ReadMember {
  name: string;
  mode: number;
  nlink: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
}

/** A small newc reader, independent of the writer, to check what the kernel would see. */
function readNewc(bytes: Uint8Array): ReadMember[] {
  const text = new TextDecoder();
  const members: ReadMember[] = [];
  let at = 0;
  const align = (n: number) => (n + 3) & ~3;
  for (;;) {
    const header = text.decode(bytes.subarray(at, at + 110));
    assert.equal(header.slice(0, 6), "070701", `bad magic at offset ${at}`);
    const field = (i: number) => parseInt(header.slice(6 + i * 8, 14 + i * 8), 16);
    const nameSize = field(11);
    const fileSize = field(6);
    const name = text.decode(bytes.subarray(at + 110, at + 110 + nameSize - 1));
    assert.equal(bytes[at + 110 + nameSize - 1], 0, "name must end with NUL");
    const dataAt = align(at + 110 + nameSize);
    const member = {
      name,
      mode: field(1),
      nlink: field(4),
      rdevMajor: field(9),
      rdevMinor: field(10),
      data: bytes.subarray(dataAt, dataAt + fileSize),
    };
    at = align(dataAt + fileSize);
    if (name === "TRAILER!!!") break;
    members.push(member);
  }
  assert.equal(at, bytes.length, "nothing may follow the trailer");
  return members;
}

const entries: CpioEntry[] = [
  { kind: "dir", path: "bin" },
  { kind: "file", path: "bin/busybox", data: new Uint8Array([1, 2, 3, 4, 5]), mode: 0o755 },
  { kind: "symlink", path: "bin/sh", target: "busybox" },
  { kind: "dir", path: "dev", mode: 0o700 },
  { kind: "chardev", path: "dev/console", major: 5, minor: 1 },
  { kind: "file", path: "/init", data: "#!/bin/sh\necho hi\n", mode: 0o755 },
];

Deno.test("cpioArchive writes newc members a reader can walk", () => {
  const members = readNewc(cpioArchive(entries));
  assert.deepEqual(members.map((m) => m.name), [
    "bin",
    "bin/busybox",
    "bin/sh",
    "dev",
    "dev/console",
    "init",
  ]);
  const byName = new Map(members.map((m) => [m.name, m]));
  assert.equal(byName.get("bin")!.mode, 0o040755);
  assert.equal(byName.get("dev")!.mode, 0o040700);
  assert.equal(byName.get("bin/busybox")!.mode, 0o100755);
  assert.deepEqual([...byName.get("bin/busybox")!.data], [1, 2, 3, 4, 5]);
  assert.equal(byName.get("bin/sh")!.mode, 0o120777);
  assert.equal(new TextDecoder().decode(byName.get("bin/sh")!.data), "busybox");
  const console = byName.get("dev/console")!;
  assert.equal(console.mode, 0o020600);
  assert.deepEqual([console.rdevMajor, console.rdevMinor], [5, 1]);
  assert.equal(new TextDecoder().decode(byName.get("init")!.data), "#!/bin/sh\necho hi\n");
});

Deno.test("cpioArchive is deterministic and 4-byte aligned", () => {
  const a = cpioArchive(entries);
  const b = cpioArchive(entries);
  assert.deepEqual(a, b);
  assert.equal(a.length % 4, 0);
});

Deno.test("cpioArchiveGzip round-trips through gunzip", () => {
  const plain = cpioArchive(entries);
  assert.deepEqual(new Uint8Array(gunzipSync(cpioArchiveGzip(entries))), plain);
});

Deno.test("cpioArchive rejects duplicate and escaping paths", () => {
  assert.throws(
    () => cpioArchive([{ kind: "dir", path: "a" }, { kind: "dir", path: "a/" }]),
    /duplicate/,
  );
  assert.throws(() => cpioArchive([{ kind: "dir", path: "../etc" }]), /bad member path/);
  assert.throws(() => cpioArchive([{ kind: "dir", path: "" }]), /bad member path/);
});
