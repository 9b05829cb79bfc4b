/**
 * A small ISO 9660 writer with an El Torito "no emulation" boot entry, enough to make bootable
 * test CDs (ISOLINUX) without xorriso: one root directory of files with 8.3 names, both path
 * tables, a boot catalog, and the boot information table that isolinux.bin expects
 * (ECMA-119; El Torito 1.0).
 * @module
 */

const SECTOR = 2048;

/** One file in the root directory. Names are ISO 9660 level 1: `NAME.EXT`, upper case. */
export interface IsoFile {
  name: string;
  bytes: Uint8Array;
}

export interface IsoImage {
  volumeId: string;
  files: IsoFile[];
  /** Name of the file El Torito boots (no emulation, loaded at 0x7C00). */
  bootFile?: string;
  /** Patch the boot file with a boot information table (what `-boot-info-table` does). */
  bootInfoTable?: boolean;
}

function both16(view: DataView, offset: number, value: number): void {
  view.setUint16(offset, value, true);
  view.setUint16(offset + 2, value, false);
}

function both32(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value, true);
  view.setUint32(offset + 4, value, false);
}

function ascii(target: Uint8Array, offset: number, text: string, length: number): void {
  const padded = text.padEnd(length, " ").slice(0, length);
  for (let i = 0; i < length; i++) target[offset + i] = padded.charCodeAt(i);
}

const NAME = /^[A-Z0-9_]{1,8}(\.[A-Z0-9_]{0,3})?$/;

/** A directory record (ECMA-119 9.1) for `name` (a one-byte name for "." and ".."). */
function directoryRecord(name: Uint8Array, extent: number, size: number, dir: boolean): Uint8Array {
  const length = 33 + name.length + (name.length % 2 === 0 ? 1 : 0);
  const record = new Uint8Array(length);
  const view = new DataView(record.buffer);
  record[0] = length;
  both32(view, 2, extent);
  both32(view, 10, size);
  // Recording date: 2000-01-01 00:00:00 UTC, so images are reproducible.
  record.set([100, 1, 1, 0, 0, 0, 0], 18);
  record[25] = dir ? 0x02 : 0x00;
  both16(view, 28, 1); // volume sequence number
  record[32] = name.length;
  record.set(name, 33);
  return record;
}

/** Builds the image. Layout: system area, volume descriptors, path tables, boot catalog, root
 * directory, then the files, each starting on a sector. */
export function isoImage(spec: IsoImage): Uint8Array {
  for (const file of spec.files) {
    if (!NAME.test(file.name)) throw new Error(`ISO 9660 level 1 name required: ${file.name}`);
  }
  const booting = spec.bootFile !== undefined;
  const bootIndex = spec.files.findIndex((file) => file.name === spec.bootFile);
  if (booting && bootIndex < 0) throw new Error(`boot file ${spec.bootFile} is not in the image`);
  const files = [...spec.files].sort((a, b) => a.name.localeCompare(b.name));

  const pvdSector = 16;
  let next = booting ? 19 : 18; // PVD, [boot record], terminator
  const pathTableL = next++;
  const pathTableM = next++;
  const catalog = booting ? next++ : 0;
  const rootSector = next;
  const encoder = new TextEncoder();
  const records = files.map((file) => encoder.encode(`${file.name};1`));
  let rootBytes = 34 + 34;
  for (const name of records) rootBytes += 33 + name.length + (name.length % 2 === 0 ? 1 : 0);
  const rootSectors = Math.ceil(rootBytes / SECTOR);
  if (rootSectors > 1) throw new Error("too many files for a one-sector root directory");
  next += rootSectors;
  const extents = files.map((file) => {
    const extent = next;
    next += Math.max(1, Math.ceil(file.bytes.length / SECTOR));
    return extent;
  });
  const image = new Uint8Array(next * SECTOR);
  const view = new DataView(image.buffer);

  // Primary volume descriptor.
  const pvd = pvdSector * SECTOR;
  image[pvd] = 1;
  ascii(image, pvd + 1, "CD001", 5);
  image[pvd + 6] = 1;
  ascii(image, pvd + 8, "", 32);
  ascii(image, pvd + 40, spec.volumeId.toUpperCase(), 32);
  both32(view, pvd + 80, next);
  both16(view, pvd + 120, 1);
  both16(view, pvd + 124, 1);
  both16(view, pvd + 128, SECTOR);
  both32(view, pvd + 132, 10); // path table size: one root entry
  view.setUint32(pvd + 140, pathTableL, true);
  view.setUint32(pvd + 148, pathTableM, false);
  image.set(
    directoryRecord(new Uint8Array([0]), rootSector, rootSectors * SECTOR, true),
    pvd + 156,
  );
  for (const offset of [190, 318, 446, 574]) ascii(image, pvd + offset, "", 128);
  for (const offset of [702, 739, 776]) ascii(image, pvd + offset, "", 37);
  for (const offset of [813, 830, 847, 864]) {
    ascii(image, pvd + offset, "0000000000000000", 16); // dates "not specified"
  }
  image[pvd + 881] = 1; // file structure version

  let descriptor = pvdSector + 1;
  if (booting) {
    const record = descriptor++ * SECTOR;
    image[record] = 0;
    ascii(image, record + 1, "CD001", 5);
    image[record + 6] = 1;
    const system = "EL TORITO SPECIFICATION";
    for (let i = 0; i < system.length; i++) image[record + 7 + i] = system.charCodeAt(i);
    view.setUint32(record + 71, catalog, true);
  }
  const terminator = descriptor * SECTOR;
  image[terminator] = 255;
  ascii(image, terminator + 1, "CD001", 5);
  image[terminator + 6] = 1;

  // Path tables: the root only (identifier length 1, name 0).
  image[pathTableL * SECTOR] = 1;
  view.setUint32(pathTableL * SECTOR + 2, rootSector, true);
  view.setUint16(pathTableL * SECTOR + 6, 1, true);
  image[pathTableM * SECTOR] = 1;
  view.setUint32(pathTableM * SECTOR + 2, rootSector, false);
  view.setUint16(pathTableM * SECTOR + 6, 1, false);

  // Root directory: ".", "..", then the files in name order.
  let at = rootSector * SECTOR;
  for (const name of [new Uint8Array([0]), new Uint8Array([1])]) {
    const record = directoryRecord(name, rootSector, rootSectors * SECTOR, true);
    image.set(record, at);
    at += record.length;
  }
  files.forEach((file, i) => {
    const record = directoryRecord(records[i], extents[i], file.bytes.length, false);
    image.set(record, at);
    at += record.length;
    image.set(file.bytes, extents[i] * SECTOR);
  });

  if (booting) {
    const boot = files.findIndex((file) => file.name === spec.bootFile);
    const bootExtent = extents[boot];
    const bootLength = files[boot].bytes.length;
    // Boot catalog: validation entry, then the initial/default entry.
    const entry = catalog * SECTOR;
    image[entry] = 1; // header ID
    image[entry + 1] = 0; // platform: 80x86
    ascii(image, entry + 4, "VMCTL", 24);
    image[entry + 30] = 0x55;
    image[entry + 31] = 0xaa;
    let sum = 0;
    for (let i = 0; i < 32; i += 2) sum = (sum + view.getUint16(entry + i, true)) & 0xffff;
    view.setUint16(entry + 28, (0x10000 - sum) & 0xffff, true);
    image[entry + 32] = 0x88; // bootable
    image[entry + 33] = 0; // no emulation
    view.setUint16(entry + 34, 0, true); // load segment: the default, 0x7C0
    view.setUint16(entry + 38, 4, true); // 4 virtual (512-byte) sectors
    view.setUint32(entry + 40, bootExtent, true);
    if (spec.bootInfoTable) {
      // Boot information table at offset 8: PVD LBA, boot file LBA, length, and the 32-bit sum
      // of the file from offset 64.
      const base = bootExtent * SECTOR;
      view.setUint32(base + 8, pvdSector, true);
      view.setUint32(base + 12, bootExtent, true);
      view.setUint32(base + 16, bootLength, true);
      let checksum = 0;
      for (let i = 64; i < bootLength; i += 4) {
        checksum = (checksum + view.getUint32(base + i, true)) >>> 0;
      }
      view.setUint32(base + 20, checksum, true);
    }
  }
  return image;
}
