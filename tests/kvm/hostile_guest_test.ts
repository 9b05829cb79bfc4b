/**
 * A hostile guest against real KVM: it writes pseudo-random values to every I/O port and to
 * each emulated device's registers, does string I/O with long counts and touches MMIO nobody
 * owns. vmctl must keep running, and must still serve the guest's COM1 and its way out.
 *
 * With action "d" the guest attacks the PCI bus, fw_cfg and the VGA instead (configuration
 * space fuzz, BARs over RAM and the APICs, DMA outside RAM, oversized reads, huge VBE modes) and
 * checks what vmctl did: one line per phase on COM1, "<phase>-OK" or "<phase>-FAIL ...". With
 * action "i" it does the same to the IDE controller, a disk image and a CD, and the test then
 * checks the image sector by sector; action "a" to the AHCI controller, a blank sparse disk image
 * and a CD on its SATA ports. Actions "g" and "w" attack the display (VGA planes and registers,
 * VBE modes; the VMware SVGA II's FIFO) while the test takes screenshots.
 */
import { join } from "node:path";
import { countOccurrences, describe, runVmctl, Vmctl, type VmctlResult } from "../vmctl.ts";
import { type HostileAction, hostileKernel } from "../guests/flat_kernel.ts";
import { isoImage } from "../../tools/iso9660.ts";
import { decodePng, type Image } from "../display_expect.ts";

const MARKER = "HOSTILE-GUEST-SURVIVED";

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** vmctl reported no error, panic or warning on stderr (its summary line is all it prints). */
function assertNoVmctlError(result: VmctlResult): void {
  const bad = result.stderr.split("\n").filter((line) => /error|panic|fail|warn/i.test(line));
  assert(bad.length === 0, `vmctl reported a problem: ${bad.join(" | ")}\n${describe(result)}`);
}

Deno.test("hostile guest: port and MMIO fuzzing, keys and mouse moves pouring in, leaves vmctl serving the guest, ACPI S5 ends it", async () => {
  const kernel = await hostileKernel("p");
  // The i8042 gets random commands and data (LEDs, scancode sets, mouse commands through 0xD4)
  // while the host types and moves the mouse without pause, and COM1 is watched for a pattern.
  const schedule = [
    ...["--key-interval", "0", "--type", `0:${"hostile 0123 !@#\n".repeat(40)}`],
    ...["-k", "+0:ctrl+alt+f1,pause,printscreen,kpenter,rightalt+up"],
    ...Array.from(
      { length: 20 },
      (_, i) => ["--mouse", `+5:${300 - i * 31},-${i * 17},${i % 8},${i - 9}`],
    ).flat(),
    ...["--fail-on", "never printed by this guest"],
  ];
  const result = await runVmctl(["run", "-r", "64", "--kernel", kernel, ...schedule, "-t", "120"]);
  assert(result.code === 0, `expected power off (exit 0)\n${describe(result)}`);
  assert(result.stdout.includes(MARKER), `guest marker missing\n${describe(result)}`);
  assert(result.stderr.includes("powered off"), `no power-off summary\n${describe(result)}`);
  assertNoVmctlError(result);
});

/** The guest's own verdicts first (they say which check failed, with what value), then every
 * phase's "-OK" line in order, the marker, and a clean power off. Returns the marker's offset in
 * stdout and a description of the run for further messages. */
function assertPhases(result: VmctlResult, phases: string[]): { end: number; context: string } {
  const end = result.stdout.indexOf(`${MARKER}\n`);
  const guest = end < 0 ? result.stdout : result.stdout.slice(0, end);
  const context = `guest output:\n${guest.slice(-2000)}\n${describe(result)}`;
  const failures = guest.split("\n").filter((line) => line.includes("-FAIL"));
  assert(failures.length === 0, `guest checks failed: ${failures.join(" | ")}\n${context}`);
  let at = 0;
  for (const phase of phases) {
    const found = guest.indexOf(`${phase}-OK\n`, at);
    assert(found >= 0, `no ${phase}-OK from the guest (in order)\n${context}`);
    at = found;
  }
  assert(end > at, `guest marker missing\n${context}`);
  assert(result.code === 0, `expected power off (exit 0)\n${context}`);
  assert(result.stderr.includes("powered off"), `no power-off summary\n${context}`);
  assertNoVmctlError(result);
  return { end, context };
}

const PHASES = ["PCI", "FWCFG", "VGA"];

Deno.test("hostile guest: PCI config, fw_cfg DMA and VGA attacks touch nothing outside guest RAM", async () => {
  const kernel = await hostileKernel("d");
  // -s: when the guest is gone, vmctl dumps the text screen it left, with hostile geometry.
  const result = await runVmctl(["run", "-r", "64", "--kernel", kernel, "-s", "-t", "120"]);
  const { end } = assertPhases(result, PHASES);
  // The dump stays within 60 rows of 132 characters, whatever the registers say.
  const dump = result.stdout.slice(end + MARKER.length + 1).split("\n");
  if (dump.at(-1) === "") dump.pop();
  const widest = Math.max(0, ...dump.map((line) => [...line].length));
  assert(
    dump.length >= 1 && dump.length <= 60 && widest <= 132,
    `screen dump of ${dump.length} rows, widest ${widest} characters\n${describe(result)}`,
  );
});

/**
 * Runs the hostile display guest `action` with `args`, a SIGUSR1 screenshot every 200 ms from
 * its `cue` line to its marker and `--screenshot` at the end; checks its `phase` and that every
 * screenshot is a PNG of a sane size. Returns the last screenshot.
 */
async function attackDisplay(
  action: HostileAction,
  args: string[],
  cue: string,
  phase: string,
): Promise<Image> {
  const kernel = await hostileKernel(action);
  const dir = await Deno.makeTempDir({ prefix: `vmctl-hostile-${action}-` });
  try {
    const shot = join(dir, "shot.png");
    const vmctl = new Vmctl(
      ["-r", "64", "--kernel", kernel, ...args, "--screenshot", shot, "-t", "150"],
      { limitMs: 180_000 },
    );
    let taken = 0;
    if (await vmctl.waitForStdout((out) => out.includes(`${cue}\n`), 120_000)) {
      while (!vmctl.stdout.includes(MARKER)) {
        vmctl.kill("SIGUSR1");
        taken++;
        if (await vmctl.waitForStdout((out) => out.includes(MARKER), 200)) break;
      }
    }
    const result = await vmctl.finish();
    const { context } = assertPhases(result, [phase]);
    const names = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    const during = names.filter((name) => /^shot-\d+\.png$/.test(name));
    assert(
      during.length >= 1,
      `no screenshot while the guest attacked (${taken} asked for): ${names.join(" ")}\n${context}`,
    );
    assert(names.includes("shot.png"), `no screenshot at the end\n${context}`);
    let last: Image | undefined;
    for (const name of names) {
      const image = decodePng(await Deno.readFile(join(dir, name)));
      assert(
        image.width >= 1 && image.width <= 16384 && image.height >= 1 && image.height <= 16384,
        `${name} is ${image.width}x${image.height}\n${context}`,
      );
      if (name === "shot.png") last = image;
    }
    return last!;
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(kernel);
  }
}

Deno.test("hostile guest: random VGA register, plane and VBE traffic while screenshots are taken; the planes still work", async () => {
  await attackDisplay("g", [], "GFX-START", "VGA-PLANES");
});

Deno.test("hostile guest: SVGA FIFO garbage, broken rings, rects outside VRAM and huge cursors; then the guest's picture", async () => {
  const image = await attackDisplay("w", ["--vga", "vmware"], "SVGA-START", "SVGA");
  assert(image.width === 1024 && image.height === 768, `final ${image.width}x${image.height}`);
  const pixel = (x: number, y: number) =>
    [...image.rgb.subarray((y * 1024 + x) * 3, (y * 1024 + x) * 3 + 3)]
      .map((v) => v.toString(16).padStart(2, "0")).join("");
  // The background the guest filled last, and its white square at (50, 50), 100 pixels wide.
  for (
    const [x, y, want] of [[0, 0, "204080"], [1023, 767, "204080"], [50, 50, "ffffff"], [
      149,
      149,
      "ffffff",
    ], [150, 150, "204080"]] as const
  ) {
    assert(pixel(x, y) === want, `pixel (${x}, ${y}) is ${pixel(x, y)}, want ${want}`);
  }
});

// Action "i": the disk image the guest gets (primary master), DISK_SECTORS sectors in which
// every little-endian dword holds its sector's number, and what the guest writes there
// (tests/guests/hostile.S, pattern_dword): 1 << 31 | kind << 24 | sector << 8 | dword index.
const DISK_SECTORS = 2048;
const SECTOR_BYTES = 512;
/** Sectors the guest writes on purpose: first sector, count, pattern kind. They must hold it. */
const IDE_WRITTEN: [number, number, number][] = [
  [16, 8, 1], // WRITE DMA, two descriptors
  [40, 2, 2], // WRITE SECTORS
  [100, 20, 4], // WRITE MULTIPLE
  [200, 1, 6], // WRITE SECTORS in dwords
  [330, 1, 10], // WRITE SECTORS given two sectors of data
  [910, 1, 16], // WRITE SECTORS after data-port reads during it
  [1500, 128, 5], // WRITE DMA EXT from the last 64 KiB of RAM
  [2047, 1, 3], // WRITE SECTORS EXT, the last sector
];
/** Sectors an attack may have written before it failed, from the descriptors that were good or
 * the block that was complete (a controller may or may not have): the pattern or the original. */
const IDE_MAY_WRITE: [number, number, number][] = [
  [300, 2, 7], // a descriptor outside RAM after a good one
  [310, 2, 8], // a table shorter than the transfer
  [320, 1, 9], // SRST in the second sector of a PIO write
  [340, 2, 11], // a table without EOT running off the end of RAM
];
const IDE_PHASES = ["IDE", "IDE-DMA", "IDE-CMD", "IDE-ATAPI", "IDE-FUZZ"];

/** What an image must hold after a run: its size, the sectors the guest writes and those it may
 * write (first, count, pattern kind), and whether the sectors it leaves alone are zeros (a blank
 * image) or the test's kind 0. */
interface ImageLayout {
  sectors: number;
  written: [number, number, number][];
  mayWrite: [number, number, number][];
  blank: boolean;
}

const IDE_IMAGE: ImageLayout = {
  sectors: DISK_SECTORS,
  written: IDE_WRITTEN,
  mayWrite: IDE_MAY_WRITE,
  blank: false,
};

// Action "a": a sparse image of zeros on SATA port 0 (the CD on port 1), the same patterns.
const AHCI_DISK_SECTORS = 16384;
const AHCI_IMAGE: ImageLayout = {
  sectors: AHCI_DISK_SECTORS,
  written: [
    [64, 8, 20], // WRITE DMA EXT
    [128, 4, 21], // WRITE FPDMA QUEUED, tag 2 in slot 2
    [3000, 130, 41], // 130 PRDs naming the sectors' data in reverse order
    [3200, 130, 42], // 130 PRDs of 256 and 768 bytes
    [3400, 199, 43], // PRDs of 256, 256, then 512 bytes
    [5000, 16, 40], // the good write after all the attacks
    [AHCI_DISK_SECTORS - 1, 1, 22], // WRITE DMA, the last sector
  ],
  mayWrite: [
    [1010, 2, 30], // a good PRD before one outside RAM
    [1020, 2, 31], // a PRDT shorter than the transfer
    [2000, 255, 32], // 65535 PRDs of 2 bytes: 2 bytes short of 256 sectors
  ],
  blank: true,
};
const AHCI_PHASES = ["AHCI-INIT", "AHCI-DMA", "AHCI-CMD", "AHCI-ATAPI", "AHCI-RESET", "AHCI"];

/** Sector `lba` as the test made it (kind 0) or as the guest writes it (kind > 0). */
function sectorPattern(lba: number, kind: number): Uint8Array {
  const sector = new Uint8Array(SECTOR_BYTES);
  const view = new DataView(sector.buffer);
  for (let i = 0; i < SECTOR_BYTES / 4; i++) {
    const dword = kind === 0 ? lba : (0x80000000 | (kind << 24) | (lba << 8) | i) >>> 0;
    view.setUint32(i * 4, dword, true);
  }
  return sector;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function allZero(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte !== 0) return false;
  return true;
}

/** What is wrong with the image after the run, one line per sector (empty: nothing). */
function diskProblems(image: Uint8Array, layout: ImageLayout): string[] {
  if (image.length !== layout.sectors * SECTOR_BYTES) {
    return [`the image is ${image.length} bytes, not ${layout.sectors * SECTOR_BYTES}`];
  }
  const kinds = new Map<number, { kind: number; may: boolean }>();
  for (const [list, may] of [[layout.written, false], [layout.mayWrite, true]] as const) {
    for (const [first, count, kind] of list) {
      for (let lba = first; lba < first + count; lba++) kinds.set(lba, { kind, may });
    }
  }
  const problems: string[] = [];
  for (let lba = 0; lba < layout.sectors; lba++) {
    const got = image.subarray(lba * SECTOR_BYTES, (lba + 1) * SECTOR_BYTES);
    const written = kinds.get(lba);
    const original = layout.blank ? allZero(got) : sameBytes(got, sectorPattern(lba, 0));
    if (written === undefined && original) continue;
    if (written !== undefined && sameBytes(got, sectorPattern(lba, written.kind))) continue;
    if (written?.may && original) continue;
    const view = new DataView(got.buffer, got.byteOffset, 8);
    const start = [view.getUint32(0, true), view.getUint32(4, true)]
      .map((dword) => dword.toString(16).padStart(8, "0")).join(" ");
    const want = written === undefined
      ? "the original"
      : `kind ${written.kind}${written.may ? " or the original" : ""}`;
    problems.push(`sector ${lba}: starts ${start}, want ${want}`);
  }
  return problems;
}

/** vmctl's arguments for the disk as IDE primary master and the CD as secondary master. */
function ideDriveArgs(disk: string, iso: string): string[] {
  return ["-d", `${disk},ide`, "-i", iso, "--ide-cdrom"];
}

/** A CD of about 150 sectors, written to a temp file (in `dir`, when given): the random
 * READ(10)s of the guest find data at low addresses. */
async function hostileIso(dir?: string): Promise<{ iso: string; isoBytes: Uint8Array }> {
  const data = new Uint8Array(256 << 10).map((_, i) => (i * 7) >> 3);
  const isoBytes = isoImage({
    volumeId: "VMCTL_HOSTILE",
    files: [{ name: "DATA.BIN", bytes: data }],
  });
  const iso = await Deno.makeTempFile({ dir, prefix: "vmctl-hostile-cd-", suffix: ".iso" });
  await Deno.writeFile(iso, isoBytes);
  return { iso, isoBytes };
}

/** The disk image: DISK_SECTORS sectors of kind 0. */
async function patternedDisk(): Promise<string> {
  const image = new Uint8Array(DISK_SECTORS * SECTOR_BYTES);
  for (let lba = 0; lba < DISK_SECTORS; lba++) image.set(sectorPattern(lba, 0), lba * SECTOR_BYTES);
  const path = await Deno.makeTempFile({ prefix: "vmctl-hostile-disk-", suffix: ".img" });
  await Deno.writeFile(path, image);
  return path;
}

/**
 * Runs the hostile `kernel` with `drives` (the disk and the CD among them), checks its phases,
 * that the disk holds what `layout` allows and that the CD is unchanged; removes both files.
 */
async function attackStorage(
  kernel: string,
  drives: string[],
  phases: string[],
  disk: { path: string; layout: ImageLayout },
  cd: { iso: string; isoBytes: Uint8Array },
): Promise<void> {
  try {
    const result = await runVmctl(["run", "-r", "64", "--kernel", kernel, ...drives, "-t", "120"]);
    const { context } = assertPhases(result, phases);
    const problems = diskProblems(await Deno.readFile(disk.path), disk.layout);
    assert(
      problems.length === 0,
      `the disk image is not what the guest wrote (${problems.length} sectors):\n` +
        `${problems.slice(0, 20).join("\n")}\n${context}`,
    );
    assert(sameBytes(await Deno.readFile(cd.iso), cd.isoBytes), `the ISO changed\n${context}`);
  } finally {
    await Deno.remove(disk.path);
    await Deno.remove(cd.iso);
  }
}

Deno.test("hostile guest: IDE DMA, command and ATAPI attacks leave the disk as the guest wrote it", async () => {
  const kernel = await hostileKernel("i");
  const disk = await patternedDisk();
  const cd = await hostileIso();
  const drives = ideDriveArgs(disk, cd.iso);
  await attackStorage(kernel, drives, IDE_PHASES, { path: disk, layout: IDE_IMAGE }, cd);
});

// With cache=none the guest's odd PRD addresses and sizes also meet O_DIRECT's alignment rules.
for (const cache of ["writeback", "none"]) {
  Deno.test(`hostile guest: AHCI lists, tables, PRDs, FISes, commands, ATAPI and resets leave the disk as the guest wrote it (cache=${cache})`, async () => {
    await ahciAttack(cache);
  });
}

async function ahciAttack(cache: string): Promise<void> {
  const kernel = await hostileKernel("a");
  // Sparse: zeros the guest may only overwrite where AHCI_IMAGE says. O_DIRECT (for the disk
  // and the CD) needs a file system that takes it, which the box's root does not.
  const dir = cache === "none" ? Deno.env.get("VMCTL_TEST_DIRECT_IO_DIR") : undefined;
  const disk = await Deno.makeTempFile({ dir, prefix: "vmctl-hostile-sata-", suffix: ".img" });
  await Deno.truncate(disk, AHCI_IMAGE.sectors * SECTOR_BYTES);
  const cd = await hostileIso(dir);
  // The disk on SATA port 0, the CD on port 1.
  const drives = ["-d", disk, "-i", cd.iso, "--cache", cache];
  await attackStorage(kernel, drives, AHCI_PHASES, { path: disk, layout: AHCI_IMAGE }, cd);
}

const RESETS = [["R", "i8042 reset pulse"], ["C", "reset control 0xCF9"], ["T", "triple fault"]];
for (const [action, how] of RESETS) {
  Deno.test(`hostile guest: ${how} with --no-reboot exits 0 after one boot`, async () => {
    const kernel = await hostileKernel(action as HostileAction);
    const result = await runVmctl([
      "run",
      "-r",
      "64",
      "--kernel",
      kernel,
      "--no-reboot",
      "-t",
      "120",
    ]);
    assert(result.code === 0, `expected exit 0\n${describe(result)}`);
    assert(countOccurrences(result.stdout, MARKER) === 1, `expected one boot\n${describe(result)}`);
    assert(result.stderr.includes("rebooted"), `no reboot summary\n${describe(result)}`);
  });
}

for (const [action, how] of [["C", "a 0xCF9 reset"], ["T", "a triple fault"]]) {
  Deno.test(`hostile guest: ${how} without --no-reboot boots the guest again`, async () => {
    // The guest resets ~0.2 s after it is up; stop it after three boots.
    const kernel = await hostileKernel(action as HostileAction);
    const result = await runVmctl(["run", "-r", "64", "--kernel", kernel, "-t", "60"], {
      terminateWhen: (stdout) => countOccurrences(stdout, MARKER) >= 3,
    });
    assert(result.code === 143, `expected SIGTERM to stop the reboot loop\n${describe(result)}`);
    assert(
      countOccurrences(result.stdout, MARKER) >= 3,
      `expected three boots\n${describe(result)}`,
    );
    assert(result.stderr.includes("stopped by SIGTERM"), `no summary\n${describe(result)}`);
  });
}

Deno.test("a guest that never stops ends with exit 2 at the -t limit", async () => {
  const kernel = await hostileKernel("H");
  const result = await runVmctl(["run", "-r", "64", "--kernel", kernel, "-t", "5"]);
  assert(result.code === 2, `expected timeout exit 2\n${describe(result)}`);
  assert(result.elapsedMs >= 5000, `stopped before the limit\n${describe(result)}`);
  assert(result.elapsedMs < 5000 + 10_000, `took far longer than the limit\n${describe(result)}`);
  assert(result.stderr.includes("timeout"), `no timeout summary\n${describe(result)}`);
});

Deno.test("--show-regs prints vCPU 0's registers on stderr when the VM stops", async () => {
  const kernel = await hostileKernel("P");
  const result = await runVmctl(["run", "-r", "64", "--kernel", kernel, "--show-regs", "-t", "60"]);
  assert(result.code === 0, `expected power off\n${describe(result)}`);
  assert(result.stderr.includes("vCPU 0 registers:"), `no register dump\n${describe(result)}`);
  // The guest stops in its hang loop right after the S5 write: RIP is inside the image at 1 MiB.
  const rip = /RIP\s+([0-9a-f]{16})/.exec(result.stderr);
  assert(rip !== null, `no RIP\n${describe(result)}`);
  const address = parseInt(rip[1], 16);
  assert(
    address >= 0x100000 && address < 0x101000,
    `RIP ${rip[1]} outside the guest\n${describe(result)}`,
  );
  assert(/CR0\s+0*80000011/.test(result.stderr), `expected long mode CR0\n${describe(result)}`);
});
