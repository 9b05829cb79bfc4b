// corevm, vmctl's own BIOS (bios/, `-b corevm`): POST with nothing to boot, an MBR boot sector
// from an AHCI and an IDE disk, the ISOLINUX CD from the SATA and the IDE CD-ROM, Linux from
// fw_cfg (--kernel) with the same PCI devices and ACPI tables as under SeaBIOS, and how long each
// BIOS takes from reset to the boot sector.
import assert from "node:assert/strict";
import { isoImage } from "../../tools/iso9660.ts";
import {
  bootSectorImage,
  TSC_BOOT_SECTOR_MARKER,
  tscBootSectorDisk,
} from "../../tools/boot_media.ts";
import { testIsolinuxIso } from "../../tools/guest_images.ts";
import {
  assertPlatform,
  bootArgs,
  bootTwiceThenStop,
  count,
  describe,
  GUEST_LIMIT_S,
  TEST_READY_MARKER,
  Vmctl,
} from "./linux_guest.ts";

Deno.test("corevm with nothing to boot prints No bootable device (exit 2 on -t)", async () => {
  const run = await new Vmctl(["-b", "corevm", "-r", "128", "-t", "5", "-s"]).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 2, describe(run));
  assert.match(run.stderr, /timeout: stopped the guest/, describe(run));
  // COM1 mirrors the screen with CRLF line ends; the -s dump follows with plain lines.
  assert.match(run.stdout, /^corevm BIOS\r\n/, describe(run));
  assert.match(run.stdout, /No bootable device\.\r\n/, describe(run));
  const dump = run.stdout.slice(run.stdout.lastIndexOf("\r\n") + 2);
  const lines = dump.split("\n").filter((line) => line.length > 0);
  assert.equal(lines[0], "corevm BIOS", dump);
  assert.equal(lines.at(-1), "No bootable device.", dump);
  assert.equal(count(run.stdout, "No bootable device."), 2, describe(run));
});

/** Writes `bytes` to a temporary file (`name`: `mbr.img`, `emu.iso`, …), runs `use` on its
 * path and removes the file however `use` ends. */
async function withImage<T>(
  bytes: Uint8Array,
  name: string,
  use: (path: string) => Promise<T>,
): Promise<T> {
  const dot = name.lastIndexOf(".");
  const path = await Deno.makeTempFile({
    prefix: `vmctl-corevm-${name.slice(0, dot)}-`,
    suffix: name.slice(dot),
  });
  try {
    await Deno.writeFile(path, bytes);
    return await use(path);
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

/** Boots the boot sector disk; returns the guest's TSC at its first instruction. */
function bootSector(bios: string, diskArg: (disk: string) => string): Promise<bigint> {
  return withImage(tscBootSectorDisk(), "mbr.img", async (disk) => {
    const run = await new Vmctl(["-b", bios, "-r", "128", "-t", "30", "-d", diskArg(disk)])
      .finish();
    assert.ok(!run.hung, describe(run));
    assert.equal(run.code, 0, describe(run));
    const marker = TSC_BOOT_SECTOR_MARKER.exec(run.stdout);
    assert.ok(marker !== null, `no boot sector marker\n${describe(run)}`);
    assert.equal(marker[2], "80", `the boot disk is not drive 0x80\n${describe(run)}`);
    return BigInt(`0x${marker[1]}`);
  });
}

Deno.test("corevm boots an MBR boot sector from an AHCI disk and an IDE disk with DL=0x80", async () => {
  await bootSector("corevm", (disk) => disk);
  await bootSector("corevm", (disk) => `${disk},ide`);
});

Deno.test("corevm follows the boot order: disk first by default (CMOS), the CD first with --boot-order cd", async () => {
  const iso = Deno.env.get("VMCTL_TEST_ISOLINUX_ISO") ?? await testIsolinuxIso("poweroff");
  await withImage(tscBootSectorDisk(), "mbr.img", async (disk) => {
    const base = ["-b", "corevm", "-r", "256", "-d", disk, "-i", iso];
    const byDefault = await new Vmctl([...base, "-t", "30"]).finish();
    assert.equal(byDefault.code, 0, describe(byDefault));
    assert.match(byDefault.stdout, TSC_BOOT_SECTOR_MARKER, describe(byDefault));
    assert.doesNotMatch(byDefault.stdout, /DVD\/CD/, describe(byDefault));
    // The CD first: ISOLINUX starts (the run is cut short by -t once it does).
    const cdFirst = new Vmctl([...base, "--boot-order", "cd,disk", "-t", "60"]);
    const started = await cdFirst.waitForStdout((out) => out.includes("ISOLINUX"), 60_000);
    cdFirst.kill("SIGTERM");
    const run = await cdFirst.finish();
    assert.ok(started, describe(run));
    assert.match(run.stdout, /corevm: booting from DVD\/CD \(AHCI port 1\)/, describe(run));
    assert.doesNotMatch(run.stdout, TSC_BOOT_SECTOR_MARKER, describe(run));
  });
});

/**
 * A boot sector that asks the BIOS what boot loaders and Linux's setup code ask and prints the
 * answers on COM1 (its own port writes, not INT 10h), then powers off: every INT 15h E820 entry
 * (`E820 <base> <length> <type>`), INT 12h, INT 11h, INT 13h 41h (BX, CX) and 08h (CX, DX) on its
 * boot drive, INT 15h E801 (AX, BX) and 88h, INT 10h 0Fh (AX, BX), INT 16h 01h (FLAGS & ZF) and
 * the INT 1Ah tick count across an INT 15h 86h wait of 200 ms. GNU as `.code16` at 0x7C00.
 * It first waits 200 ms with interrupts on, then prints with them off: SeaBIOS mirrors its screen
 * to COM1 lazily from its timer interrupt ("sercon"), and its last "." and line break once landed
 * inside a line of ours.
 */
const SERVICES_SECTOR_HEX =
  "31c08ed88ec08ed0bc007c8816f47dfbb486b90300ba400dcd15fa6631db66b820e8000066b91400000066ba" +
  "50414d53bf007ecd15723b6653be5e7de8f00066a1047ee8fd0066a1007ee8f600e8d40066a10c7ee8ec0066" +
  "a1087ee8e500e8c30066a1107ee8db00e8bd00665b6685db75accd12be647de88e00cd11be697de88600b441" +
  "bbaa558a16f47dcd13be6e7de87f00b4088a16f47dcd1389cb89d1be757de86d00b801e8cd1589d989c3be7c" +
  "7de85e00b488cd15be827de84a00b40fcd1089d989c3be897de84600b401cd169c5883e040be907de82d0030" +
  "e4cd1a8916f57dfbb486b90300ba400dcd1530e4cd1a2b16f57d89d0be977de80a00ba0406b80034eff4ebfd" +
  "50e8230058e82a00eb165153e8180058e81f00e8060058e81800eb04b020eb02b00abaf803eec3ac84c07405" +
  "e8f3ffebf6c366c1e010b90400eb03b9080066c1c0046650240f04303c3976020407e8d1ff6658e2e9c34538" +
  "3230200049313220004931312000493133343120004931333038200045383031200049313538382000493130" +
  "30462000493136303120005449434b5320";

function servicesRun(bios: string): Promise<string[]> {
  return withImage(bootSectorImage(SERVICES_SECTOR_HEX), "svc.img", async (path) => {
    const run = await new Vmctl(["-b", bios, "-r", "128", "-t", "30", "-d", path]).finish();
    assert.equal(run.code, 0, describe(run));
    return run.stdout.split(/\r?\n|(?=E820 )/).map((line) => line.trim())
      .filter((line) => /^(E820|I1|E801|TICKS)/.test(line));
  });
}

Deno.test("corevm's BIOS services answer a boot sector as expected, and as SeaBIOS does", async () => {
  const lines = await servicesRun("corevm");
  const context = lines.join("\n");
  // 128 MiB: conventional memory to the EBDA, the BIOS segment, RAM up to corevm's 64 KiB at the
  // top, KVM's pages, corevm's image below 4 GiB.
  assert.deepEqual(lines.filter((line) => line.startsWith("E820")), [
    "E820 0000000000000000 000000000009FC00 00000001",
    "E820 000000000009FC00 0000000000000400 00000002",
    "E820 00000000000F0000 0000000000010000 00000002",
    "E820 0000000000100000 0000000007EF0000 00000001",
    "E820 0000000007FF0000 0000000000010000 00000002",
    "E820 00000000FEFFC000 0000000000004000 00000002",
    "E820 00000000FFFE0000 0000000000020000 00000002",
  ], context);
  const answers = lines.filter((line) => !line.startsWith("E820") && !line.startsWith("TICKS"));
  assert.deepEqual(answers, [
    "I12 027F", // 639 KiB below the EBDA
    "I11 0226", // serial port, 80x25 colour, PS/2 mouse, FPU
    "I1341 AA55 0007", // EDD 3.0: extended reads, removable media, EDD
    "I1308 003F 0F01", // 2048 sectors: 16 heads, 63 sectors; one disk
    "E801 3C00 06FF", // 15 MiB below 16 MiB, 64 KiB blocks above
    "I1588 FC00",
    "I100F 5003 0000", // mode 3, 80 columns, page 0
    "I1601 0040", // no key waiting: ZF set
  ], context);
  const ticks = Number.parseInt(lines.find((line) => line.startsWith("TICKS"))!.slice(6), 16);
  assert.ok(ticks >= 1 && ticks <= 20, `the tick count did not follow a 200 ms wait\n${context}`);
  // SeaBIOS gives the same answers (its e820 differs: it keeps other areas for itself).
  const seabios = await servicesRun("seabios");
  assert.deepEqual(
    seabios.filter((line) => !line.startsWith("E820") && !line.startsWith("TICKS")),
    answers,
    seabios.join("\n"),
  );
});

for (const [where, extra] of [["SATA", []], ["IDE", ["--ide-cdrom"]]] as const) {
  Deno.test(`corevm: ISOLINUX CD via -i on ${where} boots to the Linux test marker`, async () => {
    const iso = Deno.env.get("VMCTL_TEST_ISOLINUX_ISO") ?? await testIsolinuxIso("poweroff");
    const args = ["-b", "corevm", "-r", "256", "-t", GUEST_LIMIT_S, "-i", iso, ...extra];
    const run = await new Vmctl(args).finish();
    assert.ok(!run.hung, describe(run));
    assert.equal(run.code, 0, describe(run));
    assert.match(run.stdout, /corevm: booting from DVD\/CD/, describe(run));
    assert.match(run.stdout, /ISOLINUX/, describe(run));
    assert.equal(count(run.stdout, TEST_READY_MARKER), 1, describe(run));
  });
}

Deno.test("direct Linux boot via -b corevm --kernel sees the same PCI devices/ACPI as under SeaBIOS", async () => {
  const args = await bootArgs("platform", ["-b", "corevm", "-r", "256", "-t", GUEST_LIMIT_S]);
  const run = await new Vmctl(args).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 0, describe(run));
  assert.match(run.stdout, /corevm: booting Linux from fw_cfg/, describe(run));
  assert.ok(!run.stdout.includes("SeaBIOS"), describe(run));
  assert.equal(count(run.stdout, TEST_READY_MARKER), 1, describe(run));
  assertPlatform(run.stdout, describe(run));
});

Deno.test("a guest reboot under corevm runs POST and Linux again", async () => {
  const run = await bootTwiceThenStop(["-b", "corevm"]);
  assert.ok(count(run.stdout, "corevm BIOS") >= 2, `POST did not run again\n${describe(run)}`);
});

/**
 * The boot sector of an El Torito 1.44 MB floppy image: reads CHS 0/0/2 and 1/0/2 through INT 13h
 * on its boot drive and prints the ASCIIZ text at the start of each, then INT 13h 08h's CX and DX
 * and the boot drive (DL) in hex, then ` EMU-DONE` (or `EMU-FAILED` on a carry), and powers off.
 */
const FLOPPY_SECTOR_HEX =
  "31c08ed88ec08ed0bc007c8816b47cb80102b9020030f68a16b47cbb0080cd137243be0080e85200b80102b9" +
  "020130f68a16b47cbb0080cd13722abe0080e83900b4088a16b47ccd13721a525158e8340058e830000fb606b4" +
  "7ce82800be9d7ce81700eb06bea87ce80f00ba0406b80034eff4ebfdbaf803eec3ac84c07405e8f3ffebf6c3b9" +
  "0400c1c00450240f04303c3976020407e8dcff58e2ecc320454d552d444f4e450a00454d552d4641494c45440a";

/**
 * A CD whose El Torito boot entry is an emulated image with that boot sector: a 1.44 MB floppy
 * (media type 2; CHS 1/0/2 is sector 38) or a hard disk (media type 4; its MBR's partition entry
 * ends at cylinder 1, head 15, sector 63, so CHS 1/0/2 is sector 1010).
 */
function emulationIso(media: "floppy" | "disk"): Uint8Array {
  const floppy = media === "floppy";
  const image = bootSectorImage(FLOPPY_SECTOR_HEX, floppy ? 1474560 : 2 * 16 * 63 * 512);
  if (!floppy) image.set([0x80, 1, 1, 0, 0x83, 15, 63, 1, 63, 0, 0, 0, 0xc1, 7, 0, 0], 446);
  const text = new TextEncoder();
  image.set(text.encode("EMU-SECTOR-2 "), 512);
  image.set(
    text.encode(floppy ? "EMU-SECTOR-38 " : "EMU-SECTOR-1010 "),
    (floppy ? 37 : 1009) * 512,
  );
  const files = [{ name: "BOOT.IMG", bytes: image }];
  const iso = isoImage({ volumeId: "VMCTL_EMU", files, bootFile: "BOOT.IMG" });
  const view = new DataView(iso.buffer);
  const catalog = view.getUint32(17 * 2048 + 0x47, true) * 2048;
  iso[catalog + 33] = floppy ? 2 : 4;
  view.setUint16(catalog + 38, 1, true); // load one sector
  return iso;
}

for (
  const [media, expected] of [
    // 80 cylinders (last 79), 18 sectors, 2 heads, one diskette drive; booted as 00h.
    ["floppy", "EMU-SECTOR-2 EMU-SECTOR-38 4F1201010000 EMU-DONE"],
    // 2 cylinders (last 1), 63 sectors, 16 heads, one hard disk; booted as 80h.
    ["disk", "EMU-SECTOR-2 EMU-SECTOR-1010 013F0F010080 EMU-DONE"],
  ] as const
) {
  Deno.test(`corevm boots an El Torito ${media}-emulation CD through INT 13h on the image`, async () => {
    await withImage(emulationIso(media), "emu.iso", async (path) => {
      const run = await new Vmctl(["-b", "corevm", "-r", "128", "-t", "30", "-i", path]).finish();
      assert.equal(run.code, 0, describe(run));
      assert.ok(run.stdout.includes(expected), `no "${expected}"\n${describe(run)}`);
    });
  });
}

/**
 * A boot sector that prints `KEYS-READY`, then reads two keys with INT 16h 00h (blocking) and
 * prints ` KEY=<AX in hex>` for each, then powers off.
 */
const KEYS_SECTOR_HEX =
  "31c08ed88ed0bc007cbe5c7ce82a00bd020030e4cd1650be687ce81c0058e823004d75eebe6e7ce80f00ba04" +
  "06b80034eff4ebfdbaf803eec3ac84c07405e8f3ffebf6c3b90400c1c00450240f04303c3976020407e8dcff" +
  "58e2ecc34b4559532d52454144590a00204b45593d000a";

Deno.test("corevm turns COM1 input into INT 16h keystrokes (a headless prompt can be answered)", async () => {
  await withImage(bootSectorImage(KEYS_SECTOR_HEX), "keys.img", async (path) => {
    const vmctl = new Vmctl(["-b", "corevm", "-r", "128", "-t", "30", "-d", path], { stdin: true });
    const ready = await vmctl.waitForStdout((out) => out.includes("KEYS-READY"), 20_000);
    if (ready) await vmctl.type("a\r");
    const run = await vmctl.finish();
    assert.ok(ready, describe(run));
    assert.equal(run.code, 0, describe(run));
    // "a" with the A key's scan code (1Eh), then Enter (1Ch, CR).
    assert.match(run.stdout, /KEYS-READY\r?\n KEY=1E61 KEY=1C0D/, describe(run));
  });
});
