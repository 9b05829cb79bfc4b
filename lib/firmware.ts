/**
 * Finding firmware files (SeaBIOS, its VGA BIOS, QEMU's Linux-loader option ROM) and choosing
 * what the firmware is told through fw_cfg: boot order, serial console mirroring, boot failure.
 * @module
 */
import type { BootDevice } from "./config.ts";
import { UserError } from "./errors.ts";
import type { DriveSpec } from "./storage.ts";

/** Where Debian installs the files vmctl uses, after any folders in VMCTL_FIRMWARE_PATH. */
export function firmwareSearchPath(): string[] {
  const extra = (Deno.env.get("VMCTL_FIRMWARE_PATH") ?? "").split(":").filter((dir) => dir);
  return [...extra, "/usr/share/seabios", "/usr/share/qemu"];
}

/** The first `name` in `dirs` that is a file, or undefined. */
export function findFile(name: string, dirs: string[]): string | undefined {
  for (const dir of dirs) {
    const path = `${dir}/${name}`;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Not in this folder.
    }
  }
  return undefined;
}

/** Like {@linkcode findFile}, but a missing file is the user's to fix. */
export function requireFile(name: string, what: string, debianPackage: string): string {
  const dirs = firmwareSearchPath();
  const path = findFile(name, dirs);
  if (path === undefined) {
    throw new UserError(
      `${what} not found (no ${name} in ${dirs.join(", ")}): install Debian's ` +
        `${debianPackage} package or set VMCTL_FIRMWARE_PATH`,
    );
  }
  return path;
}

/** Where `zig build` puts corevm's image (bios/); also what `deno compile` embeds. */
export const COREVM_BUILD_PATH = new URL("../zig-out/bios/corevm.bin", import.meta.url).pathname;

/** corevm's image: next to the native library that VMCTL_NATIVE_LIB names, else the build's;
 * undefined when neither is there (not built). */
export function corevmImagePath(): string | undefined {
  const dirs = [COREVM_BUILD_PATH.replace(/\/[^/]*$/, "")];
  const library = Deno.env.get("VMCTL_NATIVE_LIB");
  if (library !== undefined) {
    const folder = library.includes("/") ? library.replace(/\/[^/]*$/, "") || "/" : ".";
    dirs.unshift(`${folder}/../bios`);
  }
  return findFile("corevm.bin", dirs);
}

/** SeaBIOS's name for an option ROM from fw_cfg in its boot order. */
export const LINUX_LOADER_ROM = "genroms/linuxboot_dma.bin";

function u16(value: number): Uint8Array {
  return new Uint8Array([value & 0xff, value >> 8]);
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

/** The Open Firmware path SeaBIOS matches in `bootorder` for a drive (QEMU's spelling): PIIX IDE
 * at 00:01.1 (`drive@channel/disk@position`), AHCI at 00:03.0 (`drive@port/disk@0`). */
export function bootPath(drive: DriveSpec): string {
  const slot = drive.slot;
  return slot.bus === "ide"
    ? `/pci@i0cf8/ide@1,1/drive@${slot.channel}/disk@${slot.position}`
    : `/pci@i0cf8/ahci@3/drive@${slot.port}/disk@0`;
}

/** The fw_cfg files that set SeaBIOS's behaviour, as QEMU's `-M pc` would by default. */
/** How long SeaBIOS's "Press ESC for boot menu." waits for the key (SeaBIOS's own default). */
export const BOOT_MENU_WAIT_MS = 2500;

export function firmwarePolicyFiles(
  options: {
    linuxLoader: boolean;
    bootOrder?: BootDevice[];
    drives: DriveSpec[];
    /** Offer SeaBIOS's boot menu (`--boot-menu`). */
    bootMenu?: boolean;
  },
): { name: string; bytes: Uint8Array }[] {
  const files = [
    // Mirror the text screen to COM1 (SeaBIOS "sercon"), so a headless run shows it on stdout.
    { name: "etc/sercon-port", bytes: u16(0x3f8) },
    // With nothing to boot, say so and wait (QEMU's default reboot-timeout of -1).
    { name: "etc/boot-fail-wait", bytes: u32(0xffffffff) },
  ];
  if (options.bootMenu) {
    // SeaBIOS prefers these files to the legacy boot-menu key vmctl leaves at 0.
    files.push({ name: "etc/show-boot-menu", bytes: u16(1) });
    files.push({ name: "etc/boot-menu-wait", bytes: u16(BOOT_MENU_WAIT_MS) });
  }
  const order = [
    ...(options.linuxLoader ? [`/rom@${LINUX_LOADER_ROM}`] : []),
    ...(options.bootOrder ?? []).flatMap((device) =>
      options.drives.filter((drive) => drive.kind === (device === "cd" ? "cdrom" : "disk"))
        .map(bootPath)
    ),
  ];
  if (order.length > 0) {
    files.push({ name: "bootorder", bytes: new TextEncoder().encode(`${order.join("\n")}\n`) });
  }
  return files;
}
