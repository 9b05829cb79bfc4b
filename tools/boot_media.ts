/**
 * Boot media made the way users make them, for the firmware boot tests: a GRUB rescue CD from
 * `grub-mkrescue`, a partitioned disk with SYSLINUX on a FAT partition, and the ISOLINUX test CD
 * with an isohybrid MBR so it boots as a disk too. Each carries Debian's kernel and the test
 * initramfs and boots straight into `vmctl_test=MODE` on the serial console.
 *
 * The images are built on the host (host tools installed with apt-get when missing, see
 * {@link ensureCommand}) and cached under `<cache>/images/`, each named after a hash of its
 * inputs, so a second run neither builds nor installs anything. No loop devices and no mounts:
 * the FAT file system is written with mtools at an offset inside the image file.
 *
 * @module
 */

import { join } from "node:path";
import {
  cacheDir,
  debianKernel,
  ensureCommand,
  exists,
  fetchDebianPackage,
  note,
} from "./debian.ts";
import {
  removeStaleImages,
  sha256Hex,
  syslinuxConfig,
  testCmdline,
  testInitramfs,
  testIsolinuxIso,
} from "./guest_images.ts";

/** Bump when the layout of these images changes in a way the hashed inputs do not show. */
const BOOT_MEDIA_FORMAT = 1;

const SECTOR_BYTES = 512;
/** The CHS geometry isohybrid and most partitioning tools assume: a cylinder is 1 MiB. */
const HEADS = 64;
const SECTORS_PER_TRACK = 32;
const CYLINDER_SECTORS = HEADS * SECTORS_PER_TRACK;
/** The partition starts at 1 MiB, as fdisk and parted place it. */
const PARTITION_START_SECTOR = 2048;

/**
 * Runs a host tool and throws, with its stderr, when it fails. `MTOOLS_SKIP_CHECK` keeps mtools
 * from refusing a file system whose geometry does not look like a floppy's.
 */
async function runTool(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { MTOOLS_SKIP_CHECK: "1" },
  }).output();
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}): ${stderr}`);
  }
}

/**
 * Returns `<cache>/images/<name>-<key>.<ext>`, building it first with `build(scratchPath)` when
 * it is not there. The scratch file is renamed into place only once complete, so a killed build
 * leaves no half image behind; old images of the same name with another key are removed.
 */
async function cachedImage(
  name: string,
  key: string,
  ext: string,
  build: (scratch: string) => Promise<void>,
): Promise<string> {
  const images = join(cacheDir(), "images");
  const fileName = `${name}-${key.slice(0, 16)}.${ext}`;
  const path = join(images, fileName);
  if (exists(path)) return path;
  const started = performance.now();
  await Deno.mkdir(images, { recursive: true });
  const scratch = `${path}.${Deno.pid}.tmp`;
  try {
    await build(scratch);
    await Deno.rename(scratch, path);
  } finally {
    await Deno.remove(scratch).catch(() => {});
  }
  await removeStaleImages(images, name, fileName);
  const kib = Math.round((await Deno.stat(path)).size / 1024);
  note(`built ${fileName} (${kib} KiB, ${Math.round(performance.now() - started)} ms)`);
  return path;
}

// ---------------------------------------------------------------------------------------------
// MBR partition tables

/** One MBR partition table entry. */
export interface MbrPartition {
  bootable: boolean;
  /** Partition type: 0x06 FAT16, 0x0C FAT32 (LBA), 0x17 (isohybrid's "hidden NTFS"), ... */
  type: number;
  startSector: number;
  sectorCount: number;
}

/** The 3-byte CHS address of `lba` in the 64-head, 32-sector geometry, capped at cylinder 1023. */
function chsBytes(lba: number): [number, number, number] {
  let cylinder = Math.floor(lba / CYLINDER_SECTORS);
  let head = Math.floor(lba / SECTORS_PER_TRACK) % HEADS;
  let sector = (lba % SECTORS_PER_TRACK) + 1;
  if (cylinder > 1023) [cylinder, head, sector] = [1023, HEADS - 1, SECTORS_PER_TRACK];
  return [head, sector | ((cylinder >> 2) & 0xc0), cylinder & 0xff];
}

/**
 * Writes an MBR into `sector0` (512 bytes): `code` (at most 440 bytes) at offset 0, the disk
 * signature at 440, `partitions` from 446, and the 0x55AA boot signature. Bytes 432–439 are left
 * as they are when `code` is shorter (isohybrid keeps the boot image's LBA there).
 */
export function writeMbr(
  sector0: Uint8Array,
  code: Uint8Array,
  diskSignature: number,
  partitions: MbrPartition[],
): void {
  if (sector0.length < SECTOR_BYTES) throw new Error("an MBR needs 512 bytes");
  if (code.length > 440) throw new Error(`MBR boot code is ${code.length} bytes; at most 440 fit`);
  if (partitions.length > 4) throw new Error("an MBR holds at most 4 partitions");
  const view = new DataView(sector0.buffer, sector0.byteOffset, SECTOR_BYTES);
  sector0.set(code, 0);
  view.setUint32(440, diskSignature, true);
  view.setUint16(444, 0, true);
  sector0.fill(0, 446, 510);
  partitions.forEach((part, i) => {
    const at = 446 + 16 * i;
    sector0[at] = part.bootable ? 0x80 : 0x00;
    sector0.set(chsBytes(part.startSector), at + 1);
    sector0[at + 4] = part.type;
    sector0.set(chsBytes(part.startSector + part.sectorCount - 1), at + 5);
    view.setUint32(at + 8, part.startSector, true);
    view.setUint32(at + 12, part.sectorCount, true);
  });
  sector0[510] = 0x55;
  sector0[511] = 0xaa;
}

// ---------------------------------------------------------------------------------------------
// GRUB rescue CD

/**
 * Modules installed on the CD besides the ones grub-mkrescue puts into its core image (iso9660,
 * biosdisk) and every partition map (below): enough for the menu entry, to keep the image small.
 */
const GRUB_MODULES = ["normal", "linux", "serial", "terminal", "configfile", "echo", "test"];

/**
 * The partition map modules of partmap.lst: GRUB loads each of them when it probes a disk and
 * prints "error: file ... not found" for any missing one.
 */
async function grubPartmaps(grubPc: string): Promise<string[]> {
  const list = await Deno.readTextFile(join(grubPc, "partmap.lst"));
  return list.split("\n").map((line) => line.trim()).filter((name) => /^part_\w+$/.test(name));
}

function grubConfig(mode: string, menu: boolean): string {
  return [
    "serial --unit=0 --speed=115200",
    "terminal_input serial console",
    "terminal_output serial console",
    // With the menu, GRUB waits a minute for keys before it boots the entry as it is.
    `set timeout=${menu ? 60 : 0}`,
    'menuentry "vmctl test" {',
    // The menu's entry carries a value for the exit port, for a test that edits in its mode.
    `  linux /boot/vmlinuz ${testCmdline(mode)}${menu ? " vmctl_exit_value=42" : ""}`,
    "  initrd /boot/initrd.img",
    "}",
    "",
  ].join("\n");
}

/**
 * A BIOS (i386-pc) GRUB rescue CD made by the host's `grub-mkrescue` (Debian's grub-common and
 * xorriso) from Debian's grub-pc-bin modules, with Debian's kernel and the test initramfs and a
 * grub.cfg on the serial console that boots `vmctl_test=MODE` at once, or with `menu` after
 * showing its menu for a minute (its entry's command line then also has vmctl_exit_value=42). grub-mkrescue also writes its hybrid MBR (boot_hybrid.img), so
 * the same file boots as a disk. Returns its cached path.
 */
export async function grubRescueIso(mode: string, menu = false): Promise<string> {
  // `-d` names the one platform to build for: without it grub-mkrescue adds every platform
  // installed on the host (EFI ones included, which need mtools and more).
  const grubPc = join(await fetchDebianPackage("grub-pc-bin"), "usr", "lib", "grub", "i386-pc");
  if (!exists(join(grubPc, "boot_hybrid.img"))) {
    throw new Error(`grub-pc-bin has no ${grubPc}/boot_hybrid.img`);
  }
  const kernel = (await debianKernel()).vmlinuz;
  const initrd = await testInitramfs();
  const config = grubConfig(mode, menu);
  const modules = [...GRUB_MODULES, ...await grubPartmaps(grubPc)].join(" ");
  const key = await sha256Hex([
    `grub-iso ${BOOT_MEDIA_FORMAT}`,
    grubPc, // its folder names the package version
    kernel,
    initrd, // its name holds its content hash
    config,
    modules,
  ]);
  const name = `grub-${menu ? "menu" : "rescue"}-${mode}`;
  return await cachedImage(name, key, "iso", async (scratch) => {
    const mkrescue = await ensureCommand("grub-mkrescue", "grub-common");
    await ensureCommand("xorriso", "xorriso");
    const tree = await Deno.makeTempDir({ prefix: "vmctl-grub-iso-" });
    try {
      await Deno.mkdir(join(tree, "boot", "grub"), { recursive: true });
      await Deno.copyFile(kernel, join(tree, "boot", "vmlinuz"));
      await Deno.copyFile(initrd, join(tree, "boot", "initrd.img"));
      await Deno.writeTextFile(join(tree, "boot", "grub", "grub.cfg"), config);
      await runTool(mkrescue, [
        "-d",
        grubPc,
        "-o",
        scratch,
        `--install-modules=${modules}`,
        "--fonts=",
        "--locales=",
        "--themes=",
        "--compress=xz",
        tree,
      ]);
    } finally {
      await Deno.remove(tree, { recursive: true }).catch(() => {});
    }
  });
}

// ---------------------------------------------------------------------------------------------
// SYSLINUX on a partitioned disk

/**
 * A raw disk image as a USB stick would be: an MBR (SYSLINUX's mbr.bin, from Debian's
 * syslinux-common) with one bootable FAT16 partition at 1 MiB holding SYSLINUX (installed by the
 * host's mtools-based `syslinux --offset`), syslinux.cfg on the serial console, Debian's kernel
 * and the test initramfs, booting `vmctl_test=MODE`. Returns its cached path; the tests boot
 * copies of it, since a `-d` disk is opened read-write.
 */
export async function mbrDiskImage(mode: string): Promise<string> {
  const syslinuxCommon = await fetchDebianPackage("syslinux-common");
  const mbrCode = join(syslinuxCommon, "usr", "lib", "syslinux", "mbr", "mbr.bin");
  const kernel = (await debianKernel()).vmlinuz;
  const initrd = await testInitramfs();
  const config = syslinuxConfig(testCmdline(mode));
  const key = await sha256Hex([
    `mbr-disk ${BOOT_MEDIA_FORMAT}`,
    syslinuxCommon,
    kernel,
    initrd,
    config,
  ]);
  return await cachedImage(`mbr-syslinux-${mode}`, key, "img", async (scratch) => {
    const syslinux = await ensureCommand("syslinux", "syslinux");
    const mformat = await ensureCommand("mformat", "mtools");
    const mcopy = await ensureCommand("mcopy", "mtools");
    const payload = (await Deno.stat(kernel)).size + (await Deno.stat(initrd)).size;
    // Room for the files, the FATs and slack, in whole cylinders (1 MiB); at least 31 MiB, which
    // is too many clusters for FAT12, so mformat makes the FAT16 the partition type says.
    const partitionSectors = Math.max(
      31 * CYLINDER_SECTORS,
      Math.ceil((payload * 1.25 + (4 << 20)) / SECTOR_BYTES / CYLINDER_SECTORS) * CYLINDER_SECTORS,
    );
    const totalSectors = PARTITION_START_SECTOR + partitionSectors;
    const offset = PARTITION_START_SECTOR * SECTOR_BYTES;
    const fat = `${scratch}@@${offset}`;
    const file = await Deno.open(scratch, { write: true, create: true, truncate: true });
    try {
      await file.truncate(totalSectors * SECTOR_BYTES);
    } finally {
      file.close();
    }
    // -H: the partition's start, which SYSLINUX's boot sector adds to find its own sectors.
    await runTool(mformat, [
      "-i",
      fat,
      ...["-T", String(partitionSectors), "-h", String(HEADS), "-s", String(SECTORS_PER_TRACK)],
      ...["-H", String(PARTITION_START_SECTOR), "-N", "564d4354", "-v", "VMCTL", "::"],
    ]);
    const cfg = `${scratch}.cfg`;
    await Deno.writeTextFile(cfg, config);
    try {
      await runTool(mcopy, ["-i", fat, kernel, "::/VMLINUZ"]);
      await runTool(mcopy, ["-i", fat, initrd, "::/INITRD.IMG"]);
      await runTool(mcopy, ["-i", fat, cfg, "::/SYSLINUX.CFG"]);
    } finally {
      await Deno.remove(cfg).catch(() => {});
    }
    // Writes ldlinux.sys and its own matching ldlinux.c32 (the pair must come from one build) into
    // the file system, and the boot sector; the MBR is ours, below.
    await runTool(syslinux, ["--install", "--offset", String(offset), scratch]);
    const image = await Deno.open(scratch, { read: true, write: true });
    try {
      const sector0 = new Uint8Array(SECTOR_BYTES);
      await readFull(image, sector0);
      writeMbr(sector0, await Deno.readFile(mbrCode), 0x564d4354, [{
        bootable: true,
        type: 0x06,
        startSector: PARTITION_START_SECTOR,
        sectorCount: partitionSectors,
      }]);
      await image.seek(0, Deno.SeekMode.Start);
      await image.write(sector0);
    } finally {
      image.close();
    }
  });
}

async function readFull(file: Deno.FsFile, into: Uint8Array): Promise<void> {
  let got = 0;
  while (got < into.length) {
    const n = await file.read(into.subarray(got));
    if (n === null) throw new Error("unexpected end of image");
    got += n;
  }
}

// ---------------------------------------------------------------------------------------------
// isohybrid

const ISO_SECTOR_BYTES = 2048;
/** What isolinux.bin holds at offset 0x40 when it has the entry point isohdpfx jumps to. */
const ISOLINUX_HYBRID_MAGIC = 0x7078c0fb;

/**
 * Makes an ISOLINUX CD image bootable as a disk, as syslinux's `isohybrid` does: the 432-byte
 * `isohdpfx.bin` MBR code, the El Torito boot image's LBA in 512-byte sectors at 432, a disk
 * signature at 440, one bootable partition (type 0x17) from sector 0 over the whole image, and the
 * image padded to whole 64-head, 32-sector cylinders. The ISO 9660 contents are unchanged.
 */
export function isohybrid(iso: Uint8Array, isohdpfx: Uint8Array): Uint8Array {
  if (isohdpfx.length !== 432) throw new Error(`isohdpfx.bin is ${isohdpfx.length} bytes, not 432`);
  const view = new DataView(iso.buffer, iso.byteOffset, iso.byteLength);
  const record = 17 * ISO_SECTOR_BYTES;
  const elTorito = new TextDecoder().decode(iso.subarray(record + 7, record + 30));
  if (iso[record] !== 0 || elTorito !== "EL TORITO SPECIFICATION") {
    throw new Error("no El Torito boot record at sector 17: not a bootable CD image");
  }
  const entry = view.getUint32(record + 71, true) * ISO_SECTOR_BYTES + 32;
  const bootLba = view.getUint32(entry + 8, true);
  // isohdpfx.bin loads the boot image's first 2 KiB itself and expects a no-emulation entry.
  if (iso[entry] !== 0x88 || iso[entry + 1] !== 0 || view.getUint16(entry + 6, true) !== 4) {
    throw new Error("the El Torito default entry is not a bootable no-emulation isolinux.bin");
  }
  if (view.getUint32(bootLba * ISO_SECTOR_BYTES + 0x40, true) !== ISOLINUX_HYBRID_MAGIC) {
    throw new Error("the boot image is not an isolinux.bin with a hybrid entry point");
  }
  const cylinderBytes = CYLINDER_SECTORS * SECTOR_BYTES;
  const cylinders = Math.ceil(iso.length / cylinderBytes);
  const out = new Uint8Array(cylinders * cylinderBytes);
  out.set(iso);
  if (out.subarray(0, 512).some((b) => b !== 0)) throw new Error("the ISO's MBR is not empty");
  new DataView(out.buffer).setUint32(432, bootLba * 4, true);
  writeMbr(out.subarray(0, 512), isohdpfx, 0x564d4354, [{
    bootable: true,
    type: 0x17,
    startSector: 0,
    sectorCount: Math.min(cylinders, 1024) * CYLINDER_SECTORS,
  }]);
  return out;
}

/**
 * The ISOLINUX test CD ({@link testIsolinuxIso}) made hybrid with Debian's isohdpfx.bin (from
 * the isolinux package), so it boots from a `-d` disk as from a CD. Returns its cached path.
 */
export async function isolinuxHybridIso(mode: string): Promise<string> {
  const iso = await testIsolinuxIso(mode);
  const isohdpfx = join(await fetchDebianPackage("isolinux"), "usr/lib/ISOLINUX/isohdpfx.bin");
  const key = await sha256Hex([`isohybrid ${BOOT_MEDIA_FORMAT}`, iso, isohdpfx]);
  return await cachedImage(`isolinux-hybrid-${mode}`, key, "iso", async (scratch) => {
    const image = isohybrid(await Deno.readFile(iso), await Deno.readFile(isohdpfx));
    await Deno.writeFile(scratch, image);
  });
}

// ---------------------------------------------------------------------------------------------
// A timing boot sector

/**
 * A boot sector that reads the TSC first thing, prints `COREVM-MBR-OK tsc=0x<16 hex> dl=0x<2
 * hex>` on COM1 and powers off (PM1a control at 0x604: SLP_TYP 5, SLP_EN). Source, GNU as
 * `.code16` linked at 0x7C00: rdtsc into esi:edi and DL into ebp, then port writes of the three
 * strings and the hex digits, then `outw 0x3400, 0x604`. A KVM guest's TSC starts near 0 when its
 * vCPU is made, so the value is the cycles from reset to the boot sector.
 */
const TSC_BOOT_SECTOR_HEX =
  "fa660fb6ea0f316689d66689c731c08ed8baf803bb6d7ce82f006689f0e834006689f8e82e00" +
  "bb827ce81d006689e866c1e018b90200e81e00bb897ce80a00ba0406b80034eff4ebfd8a0784c07404ee43ebf6c3" +
  "b9080066c1c0046650240f04303c3976020407ee6658e2ebc3434f5245564d2d4d42522d4f4b207473633d307800" +
  "20646c3d3078000d0a";

/** What the timing boot sector prints: its TSC (hex) and boot drive (DL, hex). */
export const TSC_BOOT_SECTOR_MARKER = /COREVM-MBR-OK tsc=0x([0-9A-F]{16}) dl=0x([0-9A-F]{2})/;

/**
 * A raw image of `bytes` bytes (1 MiB unless given) that starts with the machine code `hex`
 * (hex digits, at most 510 bytes), with the 55AA boot signature: a hand-assembled boot sector.
 */
export function bootSectorImage(hex: string, bytes = 1 << 20): Uint8Array {
  const code = hex.match(/../g)!.map((byte) => parseInt(byte, 16));
  if (code.length > 510) {
    throw new Error(`a boot sector holds 510 bytes of code, not ${code.length}`);
  }
  const image = new Uint8Array(bytes);
  image.set(code);
  image[510] = 0x55;
  image[511] = 0xaa;
  return image;
}

/** A 1 MiB raw disk whose MBR is the timing boot sector (no partitions). */
export function tscBootSectorDisk(): Uint8Array {
  return bootSectorImage(TSC_BOOT_SECTOR_HEX);
}
