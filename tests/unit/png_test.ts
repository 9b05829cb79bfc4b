/**
 * vmctl's PNG encoder, checked by an independent decoder (tests/display_expect.ts, node:zlib)
 * and by the chunk CRCs of the specification's algorithm; screenshot names and path checks.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { checkScreenshotPath, crc32, encodePng, screenshotPath, writePng } from "../../lib/png.ts";
import { decodePng } from "../display_expect.ts";
import { UserError } from "../../lib/errors.ts";

function randomImage(
  width: number,
  height: number,
): { width: number; height: number; rgb: Uint8Array } {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i += 65536) crypto.getRandomValues(rgb.subarray(i, i + 65536));
  return { width, height, rgb };
}

Deno.test("CRC-32 of the IEND chunk type is the specification's AE426082", () => {
  assert.equal(crc32(new TextEncoder().encode("IEND")) ^ 0xffffffff, 0xae426082 | 0);
  assert.equal((crc32(new TextEncoder().encode("123456789")) ^ 0xffffffff) >>> 0, 0xcbf43926);
});

Deno.test("random, flat and odd-sized images round-trip exactly", async () => {
  const flat = { width: 1024, height: 768, rgb: new Uint8Array(1024 * 768 * 3).fill(0x55) };
  for (const image of [randomImage(1, 1), randomImage(3, 5), randomImage(720, 400), flat]) {
    const png = await encodePng(image);
    const decoded = decodePng(png);
    assert.equal(decoded.width, image.width);
    assert.equal(decoded.height, image.height);
    assert.deepEqual(decoded.rgb, image.rgb.subarray(0, image.width * image.height * 3));
  }
});

Deno.test("a flat 1024×768 frame compresses to a few KiB", async () => {
  const flat = { width: 1024, height: 768, rgb: new Uint8Array(1024 * 768 * 3).fill(0x20) };
  assert.ok((await encodePng(flat)).length < 8192);
});

Deno.test("an empty or short image is refused", async () => {
  await assert.rejects(() => encodePng({ width: 0, height: 1, rgb: new Uint8Array(0) }));
  await assert.rejects(() => encodePng({ width: 2, height: 2, rgb: new Uint8Array(11) }));
});

Deno.test("screenshot names: FILE-N.png for on-demand shots", () => {
  assert.equal(screenshotPath("shot.png", 1), "shot-1.png");
  assert.equal(screenshotPath("/a/b/boot.PNG", 12), "/a/b/boot-12.png");
  assert.equal(screenshotPath("screen", 2), "screen-2.png");
});

Deno.test("writePng replaces the file whole; checkScreenshotPath leaves nothing behind", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "s.png");
    checkScreenshotPath(path);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    await writePng(path, randomImage(4, 4));
    await writePng(path, randomImage(8, 2));
    assert.equal(decodePng(await Deno.readFile(path)).width, 8);
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["s.png"]);
    assert.throws(() => checkScreenshotPath(dir), UserError);
    assert.throws(() => checkScreenshotPath(join(dir, "missing", "s.png")), UserError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
