import assert from "node:assert/strict";
import { isohybrid, writeMbr } from "../../tools/boot_media.ts";
import { isoImage } from "../../tools/iso9660.ts";

/** Decodes a 3-byte CHS address as the MBR stores it: head, sector | cylinder bits 8–9, cylinder. */
function chs(bytes: Uint8Array): { c: number; h: number; s: number } {
  return { h: bytes[0], s: bytes[1] & 0x3f, c: bytes[2] | ((bytes[1] & 0xc0) << 2) };
}

Deno.test("writeMbr lays out code, signature, one partition with LBA and CHS, and 0x55AA", () => {
  const sector = new Uint8Array(512).fill(0xee);
  const code = new Uint8Array(440).fill(0x90);
  writeMbr(sector, code, 0x12345678, [
    { bootable: true, type: 0x06, startSector: 2048, sectorCount: 63488 },
  ]);
  const view = new DataView(sector.buffer);
  assert.ok(sector.subarray(0, 440).every((b) => b === 0x90));
  assert.equal(view.getUint32(440, true), 0x12345678);
  assert.equal(sector[446], 0x80);
  assert.deepEqual(chs(sector.subarray(447, 450)), { c: 1, h: 0, s: 1 });
  assert.equal(sector[450], 0x06);
  assert.deepEqual(chs(sector.subarray(451, 454)), { c: 31, h: 63, s: 32 });
  assert.equal(view.getUint32(454, true), 2048);
  assert.equal(view.getUint32(458, true), 63488);
  assert.ok(sector.subarray(462, 510).every((b) => b === 0), "unused entries are zero");
  assert.deepEqual([sector[510], sector[511]], [0x55, 0xaa]);
});

Deno.test("writeMbr caps CHS at cylinder 1023 for partitions beyond 1 GiB", () => {
  const sector = new Uint8Array(512);
  writeMbr(sector, new Uint8Array(0), 0, [
    { bootable: false, type: 0x0c, startSector: 2048, sectorCount: 8 << 20 },
  ]);
  assert.equal(sector[446], 0x00);
  assert.deepEqual(chs(sector.subarray(451, 454)), { c: 1023, h: 63, s: 32 });
});

Deno.test("isohybrid: isohdpfx code, boot image LBA ×4 at 432, a 0x17 partition over whole cylinders", () => {
  const loader = new Uint8Array(4096);
  new DataView(loader.buffer).setUint32(0x40, 0x7078c0fb, true); // isolinux.bin's hybrid magic
  const iso = isoImage({
    volumeId: "T",
    bootFile: "ISOLINUX.BIN",
    files: [{ name: "ISOLINUX.BIN", bytes: loader }, { name: "A.TXT", bytes: new Uint8Array(9) }],
  });
  const code = new Uint8Array(432).fill(0xfa);
  const hybrid = isohybrid(iso, code);
  const view = new DataView(hybrid.buffer);
  assert.equal(hybrid.length, 1 << 20, "padded to one 64×32 cylinder");
  assert.deepEqual(hybrid.subarray(512, iso.length), iso.subarray(512), "ISO contents unchanged");
  assert.ok(hybrid.subarray(0, 432).every((b) => b === 0xfa));
  // The boot catalog's default entry names the boot image's 2 KiB sector.
  const catalog = new DataView(iso.buffer).getUint32(17 * 2048 + 71, true);
  const bootLba = new DataView(iso.buffer).getUint32(catalog * 2048 + 40, true);
  assert.equal(view.getUint32(432, true), bootLba * 4);
  assert.equal(hybrid[446], 0x80);
  assert.equal(hybrid[450], 0x17);
  assert.deepEqual(chs(hybrid.subarray(447, 450)), { c: 0, h: 0, s: 1 });
  assert.deepEqual(chs(hybrid.subarray(451, 454)), { c: 0, h: 63, s: 32 });
  assert.equal(view.getUint32(454, true), 0);
  assert.equal(view.getUint32(458, true), 2048);
  assert.deepEqual([hybrid[510], hybrid[511]], [0x55, 0xaa]);
});

Deno.test("isohybrid refuses a CD whose boot image is not a hybrid isolinux.bin", () => {
  const iso = isoImage({
    volumeId: "T",
    bootFile: "BOOT.BIN",
    files: [{ name: "BOOT.BIN", bytes: new Uint8Array(2048) }],
  });
  assert.throws(() => isohybrid(iso, new Uint8Array(432)), /hybrid entry point/);
  const plain = isoImage({ volumeId: "T", files: [{ name: "A", bytes: new Uint8Array(1) }] });
  assert.throws(() => isohybrid(plain, new Uint8Array(432)), /El Torito/);
});
