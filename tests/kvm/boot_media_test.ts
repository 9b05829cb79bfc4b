// Boot media made the way users make them, booted through the firmware into the test guest: a
// GRUB rescue CD from grub-mkrescue (SATA and IDE CD-ROM, and as a disk through its hybrid MBR),
// a partitioned disk with SYSLINUX on FAT, and the ISOLINUX CD made isohybrid, as a disk.
// VMCTL_TEST_GRUB_ISO, VMCTL_TEST_MBR_DISK and VMCTL_TEST_HYBRID_ISO are built on the host by
// tests/run.ts (the box cannot keep what it writes); without them the images are built here.
import assert from "node:assert/strict";
import { grubRescueIso, isolinuxHybridIso, mbrDiskImage } from "../../tools/boot_media.ts";
import { testIsolinuxIso } from "../../tools/guest_images.ts";
import {
  count,
  describe,
  type Finished,
  GUEST_LIMIT_S,
  shellRoundTrip,
  TEST_READY_MARKER,
  Vmctl,
} from "./linux_guest.ts";

/** The firmware every medium is booted with (`-b`); BOOT_WORDS below knows what each prints. */
const BIOSES = ["seabios", "corevm"];

async function grubIso(): Promise<string> {
  return Deno.env.get("VMCTL_TEST_GRUB_ISO") ?? await grubRescueIso("shell");
}

async function grubMenuIso(): Promise<string> {
  return Deno.env.get("VMCTL_TEST_GRUB_MENU_ISO") ?? await grubRescueIso("poweroff", true);
}

async function mbrDisk(): Promise<string> {
  return Deno.env.get("VMCTL_TEST_MBR_DISK") ?? await mbrDiskImage("poweroff");
}

async function hybridIso(): Promise<string> {
  return Deno.env.get("VMCTL_TEST_HYBRID_ISO") ?? await isolinuxHybridIso("poweroff");
}

/**
 * Boots `args` (a `vmctl_test=shell` medium), waits for the ready marker, has the shell compute
 * something and powers the guest off from it: the loader handed over a working serial console.
 */
function bootToShell(args: string[]): Promise<Finished> {
  return shellRoundTrip(new Vmctl(["-r", "256", "-t", GUEST_LIMIT_S, ...args], { stdin: true }));
}

/** Boots `args` (a `vmctl_test=poweroff` medium) and checks the guest came up once and exited 0. */
async function bootToPoweroff(args: string[]): Promise<Finished> {
  const run = await new Vmctl(["-r", "256", "-t", GUEST_LIMIT_S, ...args]).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 0, describe(run));
  assert.equal(count(run.stdout, TEST_READY_MARKER), 1, describe(run));
  return run;
}

/** GRUB ran our grub.cfg on its serial terminal, and found every module it looked for. */
function assertGrub(run: Finished): void {
  assert.match(run.stdout, /Booting `vmctl test'/, describe(run));
  const beforeLinux = run.stdout.slice(0, run.stdout.indexOf(TEST_READY_MARKER));
  assert.doesNotMatch(beforeLinux, /error: /, describe(run));
}

/** Where the medium sits: the CD on SATA (`-i`), on IDE (`--ide-cdrom`), or a SATA disk (`-d`). */
type Drive = "sata-cd" | "ide-cd" | "sata-disk";

/**
 * What each firmware says about the boot drive: SeaBIOS on its debug port (stderr under -v) where
 * it found the drive, and on its screen (mirrored to COM1) what it boots; corevm on COM1.
 */
const BOOT_WORDS: Record<string, Record<Drive, { stderr?: RegExp; stdout: string }>> = {
  seabios: {
    "sata-cd": { stderr: /AHCI\/0: registering: "DVD\/CD/, stdout: "Booting from DVD/CD..." },
    "ide-cd": { stderr: /DVD\/CD \[ata1-0: /, stdout: "Booting from DVD/CD..." },
    "sata-disk": {
      stderr: /AHCI\/0: registering: .*Hard-Disk/,
      stdout: "Booting from Hard Disk...",
    },
  },
  corevm: {
    "sata-cd": { stdout: "corevm: booting from DVD/CD (AHCI port 0)" },
    "ide-cd": { stdout: "corevm: booting from DVD/CD (IDE secondary master)" },
    "sata-disk": { stdout: "corevm: booting from Hard Disk (AHCI port 0)" },
  },
};

/** The firmware found the medium where the test put it and booted from it. */
function assertBootedFrom(bios: string, drive: Drive, run: Finished): void {
  const words = BOOT_WORDS[bios]?.[drive];
  if (!words) return;
  if (words.stderr) assert.match(run.stderr, words.stderr, describe(run));
  assert.ok(run.stdout.includes(words.stdout), `no "${words.stdout}"\n${describe(run)}`);
}

Deno.test("seabios: keys drive GRUB's menu on a grub-mkrescue CD: e, the command line edited, ctrl+x", async () => {
  // The entry boots vmctl_test=poweroff with vmctl_exit_value=42; appended on GRUB's edit
  // screen, the later vmctl_test=exitport wins, and the guest's 42 on the exit port says the edit
  // reached Linux. The edit is typed in Packer's boot-command form, at the default 100 ms a key.
  // GRUB reads keys from the BIOS's 16-key buffer, and in the box it redraws so slowly (its
  // screen mirrored to COM1 by SeaBIOS) that the keys would overflow it: vmctl holds them back
  // while that buffer is half full, so none is lost.
  const run = await new Vmctl([
    ...["-b", "seabios", "-r", "256", "-t", GUEST_LIMIT_S, "-i", await grubMenuIso()],
    ...["--exit-port", "0x501", "--expect-timeout", "60"],
    ...["--expect-screen", "GNU GRUB", "--send-keys", "e"],
    ...["--expect-screen", "initrd /boot/initrd.img"],
    // To the last line (GRUB's editor ends the entry with an empty one), two up (linux), to its
    // end; then ctrl+x boots.
    "--boot-command",
    "<down><down><down><down><down><up><up><end> vmctl_test=exitport<leftCtrlOn>x<leftCtrlOff>",
  ]).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 85, describe(run));
  assert.match(run.stdout, /exitport: writing 42 to 0x501/, describe(run));
});

for (const bios of BIOSES) {
  const firmware = ["-b", bios, ...(bios === "seabios" ? ["-v"] : [])];

  Deno.test(`${bios}: a grub-mkrescue CD on SATA (-i) boots GRUB, Linux and its shell`, async () => {
    const run = await bootToShell([...firmware, "-i", await grubIso()]);
    assertGrub(run);
    assertBootedFrom(bios, "sata-cd", run);
  });

  Deno.test(`${bios}: a grub-mkrescue CD on IDE (-i --ide-cdrom) boots GRUB, Linux and its shell`, async () => {
    const run = await bootToShell([...firmware, "-i", await grubIso(), "--ide-cdrom"]);
    assertGrub(run);
    assertBootedFrom(bios, "ide-cd", run);
  });

  Deno.test(`${bios}: a grub-mkrescue CD as a disk (-d, its hybrid MBR) boots to the shell`, async () => {
    const run = await bootToShell([...firmware, "-d", `${await grubIso()},ro`]);
    assertGrub(run);
    assertBootedFrom(bios, "sata-disk", run);
  });

  Deno.test(`${bios}: an MBR disk with SYSLINUX on FAT (-d) boots Linux; poweroff exits 0`, async () => {
    // A -d disk is opened read-write and locked: boot a copy, so the cached image stays as built.
    const disk = await Deno.makeTempFile({ prefix: "vmctl-mbr-", suffix: ".img" });
    try {
      await Deno.copyFile(await mbrDisk(), disk);
      const run = await bootToPoweroff([...firmware, "-d", disk]);
      assert.match(run.stdout, /SYSLINUX \d/, describe(run));
      assertBootedFrom(bios, "sata-disk", run);
    } finally {
      await Deno.remove(disk).catch(() => {});
    }
  });

  for (const order of ["cd,disk", "disk,cd"]) {
    Deno.test(`${bios}: --boot-order ${order} with a SYSLINUX disk and an ISOLINUX CD on SATA`, async () => {
      const iso = Deno.env.get("VMCTL_TEST_ISOLINUX_ISO") ?? await testIsolinuxIso("poweroff");
      const run = await bootToPoweroff([
        ...firmware,
        ...["-d", `${await mbrDisk()},ro`, "-i", iso, "--boot-order", order],
      ]);
      const loader = order === "cd,disk" ? /ISOLINUX \d/ : /SYSLINUX \d/;
      const other = order === "cd,disk" ? /SYSLINUX \d/ : /ISOLINUX \d/;
      assert.match(run.stdout, loader, describe(run));
      assert.doesNotMatch(run.stdout, other, describe(run));
    });
  }

  Deno.test(`${bios}: the ISOLINUX CD made isohybrid boots as a disk (-d); poweroff exits 0`, async () => {
    const run = await bootToPoweroff([...firmware, "-d", `${await hybridIso()},ro`]);
    assert.match(run.stdout, /ISOLINUX \d/, describe(run));
    assertBootedFrom(bios, "sata-disk", run);
  });
}
