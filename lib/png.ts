/**
 * PNG screenshots: RGB frames to truecolour PNG files (PNG specification, ISO/IEC 15948), the
 * image data compressed with Deno's built-in zlib `CompressionStream("deflate")`.
 * @module
 */
import { dirname } from "node:path";
import { UserError } from "./errors.ts";

/** Packed R, G, B rows, top to bottom. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

const SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const COLOUR_TYPE_RGB = 2;
const FILTER_NONE = 0;
const FILTER_UP = 2;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC-32 of `bytes` (ISO 3309, as PNG chunks use it). */
export function crc32(bytes: Uint8Array, crc = 0xffffffff): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)) ^ 0xffffffff);
  return out;
}

/**
 * The scanlines with their filter bytes: Up where a row repeats much of the one above (screens
 * are mostly flat areas and repeated rows: Up turns those into runs of zeros), None otherwise.
 */
function filteredRows(image: RgbImage): Uint8Array<ArrayBuffer> {
  const stride = image.width * 3;
  const out = new Uint8Array((stride + 1) * image.height);
  const rgb = image.rgb;
  for (let y = 0; y < image.height; y++) {
    const row = y * stride;
    const at = y * (stride + 1);
    if (y === 0) {
      out[at] = FILTER_NONE;
      out.set(rgb.subarray(row, row + stride), at + 1);
      continue;
    }
    out[at] = FILTER_UP;
    const above = row - stride;
    for (let x = 0; x < stride; x++) out[at + 1 + x] = (rgb[row + x] - rgb[above + x]) & 0xff;
  }
  return out;
}

async function deflate(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Encodes `image` as an 8-bit truecolour, non-interlaced PNG. */
export async function encodePng(image: RgbImage): Promise<Uint8Array> {
  if (image.width < 1 || image.height < 1 || image.rgb.length < image.width * image.height * 3) {
    throw new Error(
      `cannot encode a ${image.width}×${image.height} image from ${image.rgb.length} bytes`,
    );
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, image.width);
  view.setUint32(4, image.height);
  header[8] = 8; // bits per channel
  header[9] = COLOUR_TYPE_RGB;
  const parts = [
    SIGNATURE,
    chunk("IHDR", header),
    chunk("IDAT", await deflate(filteredRows(image))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Writes `image` as a PNG to `path`, atomically: a reader sees the old file or the whole new one. */
export async function writePng(path: string, image: RgbImage): Promise<void> {
  const bytes = await encodePng(image);
  const temporary = `${path}.${Deno.pid}.tmp`;
  try {
    await Deno.writeFile(temporary, bytes);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/** The name of on-demand shot `counter` of `base`: "shot.png" → "shot-1.png", "shot" → "shot-1.png". */
export function screenshotPath(base: string, counter: number): string {
  const match = base.match(/^(.*)\.png$/i);
  return match ? `${match[1]}-${counter}.png` : `${base}-${counter}.png`;
}

/**
 * Checks up front that a screenshot can be written to `path`, so a bad path fails at start and
 * not after a long run. Leaves nothing behind.
 */
export function checkScreenshotPath(path: string): void {
  try {
    if (Deno.statSync(path).isDirectory) {
      throw new UserError(
        `--screenshot ${path} is a folder: give a file name, e.g. ${path}/screen.png`,
      );
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const folder = dirname(path);
  const probe = `${path}.${Deno.pid}.tmp`;
  try {
    Deno.writeFileSync(probe, new Uint8Array(0));
    Deno.removeSync(probe);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? `the folder ${folder} does not exist`
      : error instanceof Deno.errors.PermissionDenied
      ? `no permission to write in ${folder}`
      : (error as Error).message;
    throw new UserError(`cannot write the screenshot ${path}: ${why}: choose another path`);
  }
}
