/**
 * Disks and CDs: where each image goes on the AHCI ports and IDE channels, the checks that turn a bad
 * image into one clear line before any VM exists, and the open (and locked) images of a run,
 * which outlive guest resets and are flushed and closed at every way a run ends.
 * @module
 */
import type { CacheMode, RunConfig } from "./config.ts";
import { UserError } from "./errors.ts";
import { type Native, nativeErrorMessage, Status } from "./native.ts";

/** One drive: an image on an AHCI (SATA) port, or on an IDE channel (0 primary, 1 secondary)
 * as master (0) or slave (1). */
export interface DriveSpec {
  path: string;
  kind: "disk" | "cdrom";
  readOnly: boolean;
  slot: { bus: "ahci"; port: number } | { bus: "ide"; channel: 0 | 1; position: 0 | 1 };
}

export const AHCI_PORTS = 6;

/** SATA disks take AHCI ports 0, 1, …, then the CD-ROM takes the next port; IDE disks (`,ide`)
 * fill primary master, primary slave, then the secondary channel — around the CD-ROM when
 * `--ide-cdrom` puts it on IDE secondary master, where QEMU's -cdrom sits. */
export function planDrives(config: RunConfig): DriveSpec[] {
  const drives: DriveSpec[] = [];
  let port = 0;
  const takePort = (what: string): number => {
    if (port >= AHCI_PORTS) {
      throw new UserError(
        `no SATA port left for ${what}: the AHCI controller has ${AHCI_PORTS}; put disks on ` +
          `IDE with ',ide'`,
      );
    }
    return port++;
  };
  const ideSlots: [0 | 1, 0 | 1][] = [[0, 0], [0, 1], [1, 0], [1, 1]];
  const ideCd = config.cdrom !== undefined && config.ideCdrom;
  const freeIde = ideCd ? ideSlots.filter(([c, p]) => !(c === 1 && p === 0)) : ideSlots;
  for (const disk of config.disks) {
    if (disk.ide) {
      const next = freeIde.shift();
      if (next === undefined) {
        throw new UserError(
          `too many IDE disks: the IDE channels hold ${ideCd ? 3 : 4}` +
            `${ideCd ? " next to the CD-ROM" : ""}; leave ',ide' off to use SATA`,
        );
      }
      const [channel, position] = next;
      drives.push({ ...disk, kind: "disk", slot: { bus: "ide", channel, position } });
    } else {
      const slot = { bus: "ahci" as const, port: takePort(disk.path) };
      drives.push({ path: disk.path, kind: "disk", readOnly: disk.readOnly, slot });
    }
  }
  if (config.cdrom !== undefined) {
    const slot = ideCd
      ? { bus: "ide" as const, channel: 1 as const, position: 0 as const }
      : { bus: "ahci" as const, port: takePort(config.cdrom) };
    drives.push({ path: config.cdrom, kind: "cdrom", readOnly: true, slot });
  }
  return drives;
}

/** Refuses what cannot be an image before any VM exists: missing, a folder, empty, unreadable,
 * or (for a CD) not ISO 9660. */
export function checkImageFile(drive: DriveSpec): void {
  const what = drive.kind === "cdrom" ? "ISO image" : "disk image";
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(drive.path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UserError(`${what} ${drive.path} does not exist: check the path`);
    }
    throw new UserError(`cannot reach ${what} ${drive.path}: ${(error as Error).message}`);
  }
  if (info.isDirectory) throw new UserError(`${what} ${drive.path} is a folder, not an image`);
  if (!info.isFile) throw new UserError(`${what} ${drive.path} is not a regular file`);
  if (info.size === 0) throw new UserError(`${what} ${drive.path} is empty`);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(drive.path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new UserError(`cannot read ${what} ${drive.path}: permission denied (check its mode)`);
    }
    throw new UserError(`cannot read ${what} ${drive.path}: ${(error as Error).message}`);
  }
  try {
    if (drive.kind !== "cdrom") return;
    // ECMA-119: the first volume descriptor, at byte 32768, carries "CD001" at offset 1.
    const header = new Uint8Array(6);
    file.seekSync(16 * 2048, Deno.SeekMode.Start);
    const got = file.readSync(header) ?? 0;
    if (got < 6 || new TextDecoder().decode(header.subarray(1, 6)) !== "CD001") {
      throw new UserError(
        `${drive.path} is not an ISO 9660 image (no CD001 volume descriptor): -i takes a CD ` +
          `image; use -d for a disk image`,
      );
    }
  } finally {
    file.close();
  }
}

const CACHE_CODES: Record<CacheMode, number> = { writeback: 0, writethrough: 1, none: 2 };

/** An image opened (and locked) by the native side. */
export interface OpenImage {
  drive: DriveSpec;
  handle: Deno.PointerObject;
}

/** Opens every drive's image; on any failure closes the ones already open and throws. */
export function openImages(native: Native, drives: DriveSpec[], cache: CacheMode): OpenImage[] {
  const opened: OpenImage[] = [];
  try {
    for (const drive of drives) {
      const out = new BigUint64Array(1);
      const path = new TextEncoder().encode(`${drive.path}\0`);
      const sectorBytes = drive.kind === "cdrom" ? 2048 : 512;
      const status = native.vmctl_image_open(
        path,
        drive.readOnly,
        CACHE_CODES[cache],
        sectorBytes,
        out,
      );
      if (status !== Status.Ok) throw imageError(status, drive, cache, nativeErrorMessage(native));
      const handle = Deno.UnsafePointer.create(out[0]);
      if (handle === null) throw new Error("vmctl_image_open returned ok without an image");
      opened.push({ drive, handle });
    }
  } catch (error) {
    closeImages(native, opened);
    throw error;
  }
  return opened;
}

/** Flushes and closes the images (releasing their locks). */
export function closeImages(native: Native, images: OpenImage[]): void {
  for (const image of images) native.vmctl_image_close(image.handle);
  images.length = 0;
}

function imageError(status: Status, drive: DriveSpec, cache: CacheMode, detail: string): Error {
  const path = drive.path;
  switch (status) {
    case Status.ImageNotFound:
      return new UserError(`image ${path} does not exist: check the path`);
    case Status.ImageAccessDenied:
      return new UserError(
        `no permission to open ${path}${drive.readOnly ? "" : " for writing"}: check its mode` +
          `${drive.readOnly ? "" : ", or add ,ro to use it read-only"}`,
      );
    case Status.ImageReadOnlyFs:
      return new UserError(`${path} is on a read-only file system: add ,ro to use it read-only`);
    case Status.ImageIsDirectory:
      return new UserError(`image ${path} is a folder, not an image`);
    case Status.ImageNotRegular:
      return new UserError(`image ${path} is not a regular file`);
    case Status.ImageEmpty:
      return new UserError(`image ${path} is empty`);
    case Status.ImagePartialSector:
      return new UserError(
        `disk image ${path} is not a whole number of sectors` +
          `${cache === "none" ? " (for --cache none: of the file system's blocks)" : ""}` +
          `: resize it (truncate -s) or add ,ro`,
      );
    case Status.ImageLocked:
      return new UserError(
        `image ${path} is in use by another VM (it is locked): stop that VM first` +
          `${drive.readOnly ? "" : ", or add ,ro if both only read it"}`,
      );
    case Status.ImageLockUnsupported:
      return new UserError(`cannot lock ${path}: its file system has no file locks`);
    case Status.ImageDirectIoUnsupported:
      return new UserError(
        `the file system of ${path} does not support direct I/O: use --cache writeback`,
      );
    default:
      return new UserError(`cannot open image ${path}: ${detail}`);
  }
}
