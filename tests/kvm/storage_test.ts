// Disks and CDs on the AHCI (SATA) and IDE controllers: an ISOLINUX CD booted by SeaBIOS from
// either, a Linux guest's writes reaching the images however the run ends, and image locking
// between two vmctl processes.
// VMCTL_TEST_STORAGE_INITRD and VMCTL_TEST_ISOLINUX_ISO are built on the host by tests/run.ts.
import assert from "node:assert/strict";
import { debianKernel } from "../../tools/debian.ts";
import { testCmdline, testIsolinuxIso, testStorageInitramfs } from "../../tools/guest_images.ts";
import { count, describe, GUEST_LIMIT_S, TEST_READY_MARKER, Vmctl } from "./linux_guest.ts";

const WRITTEN = "VMCTL-DISK-WRITTEN";
const PATTERN_OFFSET = 1 << 20;
const PATTERN_BYTES = 65536;

async function diskGuestArgs(disk: string, extra: string[], then = ""): Promise<string[]> {
  const kernel = Deno.env.get("VMCTL_TEST_KERNEL") ?? (await debianKernel()).vmlinuz;
  const initrd = Deno.env.get("VMCTL_TEST_STORAGE_INITRD") ?? await testStorageInitramfs();
  return [
    ...extra,
    ...["-d", disk, "--kernel", kernel, "--initrd", initrd],
    ...["--append", `${testCmdline("disk")} ${then}`.trim()],
  ];
}

/** A 64 MiB sparse image; for `--cache none` on a file system that takes O_DIRECT. */
async function blankDisk(directIo = false): Promise<string> {
  const dir = directIo ? Deno.env.get("VMCTL_TEST_DIRECT_IO_DIR") : undefined;
  const path = await Deno.makeTempFile({ dir, prefix: "vmctl-disk-", suffix: ".img" });
  await Deno.truncate(path, 64 << 20);
  return path;
}

/** Checks that the guest's pattern is in the image, byte for byte, and nothing around it. */
async function assertPattern(disk: string, context: string): Promise<void> {
  const file = await Deno.open(disk, { read: true });
  try {
    const bytes = new Uint8Array(PATTERN_BYTES + 8192);
    await file.seek(PATTERN_OFFSET - 4096, Deno.SeekMode.Start);
    let got = 0;
    while (got < bytes.length) {
      const n = await file.read(bytes.subarray(got));
      if (n === null) break;
      got += n;
    }
    const line = new TextEncoder().encode("VMCTL-PATTERN\n");
    const expected = new Uint8Array(PATTERN_BYTES).map((_, i) => line[i % line.length]);
    const middle = bytes.subarray(4096, 4096 + PATTERN_BYTES);
    const wrong = middle.findIndex((byte, i) => byte !== expected[i]);
    assert.equal(wrong, -1, `pattern differs at byte ${wrong}\n${context}`);
    assert.ok(bytes.subarray(0, 4096).every((b) => b === 0), `bytes before changed\n${context}`);
    assert.ok(bytes.subarray(4096 + PATTERN_BYTES).every((b) => b === 0), `after\n${context}`);
  } finally {
    file.close();
  }
}

for (const [where, extra] of [["SATA", []], ["IDE", ["--ide-cdrom"]]] as const) {
  Deno.test(`SeaBIOS boots an ISOLINUX CD from the ${where} CD-ROM (${["-i", ...extra].join(" ")}) into Linux`, async () => {
    const iso = Deno.env.get("VMCTL_TEST_ISOLINUX_ISO") ?? await testIsolinuxIso("poweroff");
    const run = await new Vmctl(["-r", "256", "-t", GUEST_LIMIT_S, "-i", iso, ...extra]).finish();
    assert.ok(!run.hung, describe(run));
    assert.equal(run.code, 0, describe(run));
    assert.match(run.stdout, /Booting from DVD\/CD/, describe(run));
    assert.match(run.stdout, /ISOLINUX/, describe(run));
    assert.equal(count(run.stdout, TEST_READY_MARKER), 1, describe(run));
  });
}

// Booted directly, and by corevm (whose BAR, bus-master, IDETIM and PIRQ set-up Linux then uses).
for (const [how, firmware] of [["direct boot", []], ["corevm", ["-b", "corevm"]]] as const) {
  Deno.test(`${how}: Linux sees an AHCI disk (ahci), an IDE disk (ata_piix) and the SATA CD; writes reach both images`, async () => {
    const sata = await blankDisk();
    const ide = await blankDisk();
    const iso = Deno.env.get("VMCTL_TEST_ISOLINUX_ISO") ?? await testIsolinuxIso("poweroff");
    const args = await diskGuestArgs(
      sata,
      [...firmware, "-d", `${ide},ide`, "-i", iso, "-t", GUEST_LIMIT_S],
      "vmctl_disks=3",
    );
    const run = await new Vmctl(args).finish();
    assert.equal(run.code, 0, describe(run));
    assert.match(run.stdout, /^driver: ahci 0000:00:03\.0/m, describe(run));
    assert.match(run.stdout, /^driver: ata_piix 0000:00:01\.1/m, describe(run));
    // The AHCI function interrupts by MSI (KVM_SIGNAL_MSI), IDE by IRQ 14/15 — both counted.
    const ahciIrq = run.stdout.match(/^irq: +\d+: +(\d+) .*PCI-MSI.*ahci/m);
    assert.ok(ahciIrq && Number(ahciIrq[1]) > 0, `no AHCI MSIs counted\n${describe(run)}`);
    const ideIrq = run.stdout.match(/^irq: +1[45]: +(\d+) .*ata_piix/m);
    assert.ok(ideIrq && Number(ideIrq[1]) > 0, `no IDE interrupts counted\n${describe(run)}`);
    assert.equal(count(run.stdout, "131072 sectors"), 2, describe(run));
    // The CD on SATA port 1, read by Linux over ATAPI: its size and ISO 9660 volume descriptor.
    const isoSectors = (await Deno.stat(iso)).size / 512;
    assert.match(
      run.stdout,
      new RegExp(`^cdrom: sr0 ${isoSectors} sectors, volume descriptor CD001`, "m"),
      describe(run),
    );
    assert.ok(run.stdout.includes(WRITTEN), describe(run));
    await assertPattern(sata, describe(run));
    await assertPattern(ide, describe(run));
    await Deno.remove(sata);
    await Deno.remove(ide);
  });
}

for (
  const [how, cache, signal] of [
    ["SIGTERM", "writeback", "SIGTERM"],
    ["Ctrl-C (SIGINT)", "writeback", "SIGINT"],
    ["SIGKILL", "writethrough", "SIGKILL"],
    ["SIGKILL", "none", "SIGKILL"],
  ] as const
) {
  Deno.test(`--cache ${cache}: the synced write survives ${how} of vmctl`, async () => {
    const disk = await blankDisk(cache === "none");
    const vmctl = new Vmctl(
      await diskGuestArgs(disk, ["--cache", cache, "-t", GUEST_LIMIT_S], "vmctl_then=hang"),
    );
    const written = await vmctl.waitForStdout((out) => out.includes(WRITTEN), 150_000);
    vmctl.kill(signal);
    const run = await vmctl.finish();
    assert.ok(written, `the guest never wrote\n${describe(run)}`);
    if (signal !== "SIGKILL") {
      assert.equal(run.code, signal === "SIGINT" ? 130 : 143, describe(run));
    }
    await assertPattern(disk, describe(run));
    await Deno.remove(disk);
  });
}

Deno.test("-t ends a run after the write: the data is in the image", async () => {
  const disk = await blankDisk();
  const run = await new Vmctl(await diskGuestArgs(disk, ["-t", "25"], "vmctl_then=hang"))
    .finish();
  assert.equal(run.code, 2, describe(run));
  assert.ok(run.stdout.includes(WRITTEN), describe(run));
  await assertPattern(disk, describe(run));
  await Deno.remove(disk);
});

Deno.test("a second vmctl on a running VM's disk exits 1; the first runs on", async () => {
  const disk = await blankDisk();
  const first = new Vmctl(await diskGuestArgs(disk, ["-t", GUEST_LIMIT_S], "vmctl_then=hang"));
  const up = await first.waitForStdout((out) => out.includes(WRITTEN), 150_000);
  const second = await new Vmctl(["-d", disk, "-b", "seabios", "-t", "30"]).finish();
  first.kill("SIGTERM");
  const run = await first.finish();
  assert.ok(up, describe(run));
  assert.equal(second.code, 1, describe(second));
  assert.match(second.stderr, /^vmctl: image .* is in use by another VM \(it is locked\)/m);
  assert.equal(second.stderr.trim().split("\n").length, 1, describe(second));
  assert.equal(run.code, 143, `the first VM did not run on\n${describe(run)}`);
  await assertPattern(disk, describe(run));
  await Deno.remove(disk);
});
