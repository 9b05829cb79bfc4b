/**
 * What the display tests expect to see: the pictures tests/guests/vga_draw.S draws, computed from
 * the drawing program's description (bands of plane bytes, colour formulas, the DAC palette it
 * programs, the VGA BIOS's standard 16 colours), never from an emulator; pixel comparison with a
 * report of the first differences; and QEMU (`-M pc -vga std`, the same SeaBIOS and VGA BIOS) as
 * the reference for text modes, read from its monitor's `screendump` (PPM).
 * @module
 */
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { firmwareDirs } from "../tools/debian.ts";

/** A picture: `width` × `height` pixels, packed RGB, rows top to bottom. */
export interface Image {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** A 6-bit DAC value as 8 bits, as QEMU and vmctl convert it. */
export function dac6to8(value: number): number {
  return (value << 2) | ((value & 1) << 1) | (value & 1);
}

/** The 16 colours the VGA BIOS sets up (attribute palette through the DAC), as 6-bit RGB. */
const STANDARD_COLORS_6BIT: readonly (readonly [number, number, number])[] = [
  [0x00, 0x00, 0x00],
  [0x00, 0x00, 0x2a],
  [0x00, 0x2a, 0x00],
  [0x00, 0x2a, 0x2a],
  [0x2a, 0x00, 0x00],
  [0x2a, 0x00, 0x2a],
  [0x2a, 0x15, 0x00],
  [0x2a, 0x2a, 0x2a],
  [0x15, 0x15, 0x15],
  [0x15, 0x15, 0x3f],
  [0x15, 0x3f, 0x15],
  [0x15, 0x3f, 0x3f],
  [0x3f, 0x15, 0x15],
  [0x3f, 0x15, 0x3f],
  [0x3f, 0x3f, 0x15],
  [0x3f, 0x3f, 0x3f],
];

function blank(width: number, height: number): Image {
  return { width, height, rgb: new Uint8Array(width * height * 3) };
}

function setPixel(image: Image, x: number, y: number, rgb6: readonly number[]): void {
  const at = (y * image.width + x) * 3;
  image.rgb[at] = dac6to8(rgb6[0]);
  image.rgb[at + 1] = dac6to8(rgb6[1]);
  image.rgb[at + 2] = dac6to8(rgb6[2]);
}

/** Mode 12h rows per band (vga_draw.S BAND_BYTES / 80). */
const BAND_ROWS = 16;
const MODE12_BYTES_PER_ROW = 80;

/**
 * The four plane bytes every byte of a mode 12h band holds after vga_draw.S action '2', derived by
 * hand from what the guest writes (see its comments). The base pattern is F0 CC AA FF.
 */
export const MODE12_BANDS: readonly { what: string; planes: readonly number[] }[] = [
  {
    what: "write mode 0 through the map mask (the base pattern)",
    planes: [0xf0, 0xcc, 0xaa, 0xff],
  },
  { what: "set/reset 1 on planes 0-1, data 0x0F", planes: [0xff, 0x00, 0x0f, 0x0f] },
  { what: "rotate 4 of 0x1E into planes 0 and 2", planes: [0xe1, 0x00, 0xe1, 0x00] },
  { what: "base AND (0x78 ror 1)", planes: [0x30, 0x0c, 0x28, 0x3c] },
  { what: "base OR (0x03 ror 1)", planes: [0xf1, 0xcd, 0xab, 0xff] },
  { what: "base XOR (0xCC ror 1)", planes: [0x96, 0xaa, 0xcc, 0x99] },
  { what: "set/reset 12 through bit mask 0x0F", planes: [0xf0, 0xc0, 0xaf, 0xff] },
  { what: "write mode 1 copy of band 0", planes: [0xf0, 0xcc, 0xaa, 0xff] },
  { what: "write mode 2 colour 9 through bit mask 0x3C", planes: [0xfc, 0xc0, 0x82, 0xff] },
  { what: "write mode 3 colour 14, mask (0xF0 ror 2) & 0xF0", planes: [0xc0, 0xfc, 0xba, 0xff] },
];

/** The COM1 lines action '2' prints: read mode 0 of planes 0-3, read mode 1 compares. */
export const MODE12_READ_LINES = ["R0 F0 CC AA FF ", "R1 80 10 FF F0 88 FF "];

/** Where a mode 12h pixel is described, for mismatch reports. */
export function mode12Region(y: number): string {
  const band = Math.floor(y / BAND_ROWS);
  if (band < MODE12_BANDS.length) return `band ${band}: ${MODE12_BANDS[band].what}`;
  if (band === 10) return "band 10: each byte its offset's low byte";
  if (band === 11) return "band 11: set/reset 2 in the right half";
  return "untouched (black)";
}

/** The 640×480 picture of vga_draw.S action '2'. */
export function expectedMode12(): Image {
  const image = blank(640, 480);
  const planesAt = (x: number, y: number): readonly number[] => {
    const band = Math.floor(y / BAND_ROWS);
    const column = Math.floor(x / 8);
    if (band < MODE12_BANDS.length) return MODE12_BANDS[band].planes;
    if (band === 10) {
      const value = (y * MODE12_BYTES_PER_ROW + column) & 0xff;
      return [value, value, value, value];
    }
    if (band === 11 && column >= 40) return [0x00, 0xff, 0x00, 0x00];
    return [0, 0, 0, 0];
  };
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const planes = planesAt(x, y);
      const bit = 7 - (x % 8);
      let color = 0;
      for (let plane = 0; plane < 4; plane++) color |= ((planes[plane] >> bit) & 1) << plane;
      setPixel(image, x, y, STANDARD_COLORS_6BIT[color]);
    }
  }
  return image;
}

/** The DAC entry vga_draw.S's `dac` programs for index `i` (6-bit RGB). */
function guestDac(i: number): [number, number, number] {
  return [i >> 2, i & 0x3f, 0x3f - (i >> 2)];
}

/** The COM1 line modes 13h and X print: DAC entry 5 read back. */
export const DAC_READ_LINE = "DAC 01 05 3E ";

/**
 * The picture of action '3' (pixel (x, y) colour (x + y) & 0xFF) or 'x' ((x + 2y) & 0xFF) through
 * the guest's DAC palette, at the mode's own 320×200 (vmctl draws each pixel once, where QEMU
 * shows the doubled 640×400 the CRTC scans out).
 */
export function expected256(action: "3" | "x"): Image {
  const image = blank(320, 200);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const color = (action === "3" ? x + y : x + 2 * y) & 0xff;
      setPixel(image, x, y, guestDac(color));
    }
  }
  return image;
}

/** Lines (trimmed of trailing blanks) the text actions put on screen, for the `-s` dump, by row. */
export const TEXT_LINES: Record<"5" | "4", Record<number, string>> = {
  "5": { 0: "80x50 text: row 0", 25: " ".repeat(10) + "row 25", 49: " ".repeat(70) + "row 49" },
  "4": { 0: "40x25 text: row 0", 12: " ".repeat(10) + "row 12", 24: " ".repeat(30) + "row 24" },
};

/** Up to `limit` differing pixels of two same-sized images, as "(x,y) got #rrggbb want #rrggbb". */
export function diffPixels(
  got: Image,
  want: Image,
  limit = 8,
  region: (y: number) => string = () => "",
): string[] {
  if (got.width !== want.width || got.height !== want.height) {
    return [`size ${got.width}×${got.height}, want ${want.width}×${want.height}`];
  }
  const hex = (rgb: Uint8Array, at: number) =>
    "#" + Array.from(rgb.subarray(at, at + 3), (b) => b.toString(16).padStart(2, "0")).join("");
  const found: string[] = [];
  let count = 0;
  for (let at = 0; at < want.rgb.length; at += 3) {
    if (
      got.rgb[at] === want.rgb[at] && got.rgb[at + 1] === want.rgb[at + 1] &&
      got.rgb[at + 2] === want.rgb[at + 2]
    ) continue;
    count++;
    if (found.length < limit) {
      const x = (at / 3) % want.width;
      const y = Math.floor(at / 3 / want.width);
      const where = region(y);
      found.push(
        `(${x},${y}) got ${hex(got.rgb, at)} want ${hex(want.rgb, at)}${
          where ? ` [${where}]` : ""
        }`,
      );
    }
  }
  if (count > found.length) found.push(`... ${count} differing pixels in all`);
  return found;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Decodes a non-interlaced 8-bit RGB or RGBA PNG (alpha dropped), checking its structure: what
 * the tests need of vmctl's screenshots until lib/png.ts's decoder replaces it.
 */
export function decodePng(bytes: Uint8Array): Image {
  if (PNG_SIGNATURE.some((byte, i) => bytes[i] !== byte)) throw new Error("not a PNG");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  let channels = 0;
  const compressed: Uint8Array[] = [];
  let at = 8;
  let ended = false;
  while (!ended) {
    if (at + 12 > bytes.length) throw new Error("PNG ends without IEND");
    const length = view.getUint32(at);
    const type = new TextDecoder().decode(bytes.subarray(at + 4, at + 8));
    if (at + 12 + length > bytes.length) throw new Error(`PNG chunk ${type} runs past the end`);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      const [depth, colorType, , , interlace] = data.subarray(8, 13);
      if (depth !== 8 || (colorType !== 2 && colorType !== 6) || interlace !== 0) {
        throw new Error(`unsupported PNG: depth ${depth}, colour type ${colorType}`);
      }
      channels = colorType === 2 ? 3 : 4;
    } else if (type === "IDAT") {
      compressed.push(data);
    } else if (type === "IEND") {
      ended = true;
    }
    at += 12 + length;
  }
  if (channels === 0 || width === 0 || height === 0) throw new Error("PNG without a valid IHDR");
  const raw = new Uint8Array(inflateSync(concat(compressed)));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) throw new Error("PNG image data has the wrong size");
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const left = i >= channels ? pixels[y * stride + i - channels] : 0;
      const up = y > 0 ? pixels[(y - 1) * stride + i] : 0;
      const upLeft = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels] : 0;
      const predictor = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)][filter];
      if (predictor === undefined) throw new Error(`bad PNG filter type ${filter}`);
      pixels[y * stride + i] = (line[i] + predictor) & 0xff;
    }
  }
  if (channels === 3) return { width, height, rgb: pixels };
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb.set(pixels.subarray(i * 4, i * 4 + 3), i * 3);
  return { width, height, rgb };
}

/** The Paeth predictor of the PNG specification (filter type 4). */
function paeth(left: number, up: number, upLeft: number): number {
  const p = left + up - upLeft;
  const [pa, pb, pc] = [Math.abs(p - left), Math.abs(p - up), Math.abs(p - upLeft)];
  if (pa <= pb && pa <= pc) return left;
  return pb <= pc ? up : upLeft;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/** Decodes a binary PPM (P6, maxval 255), as QEMU's `screendump` writes it. */
export function decodePpm(bytes: Uint8Array): Image {
  const fields: string[] = [];
  let at = 0;
  while (fields.length < 4) {
    while (at < bytes.length && /\s/.test(String.fromCharCode(bytes[at]))) at++;
    if (bytes[at] === 0x23) { // a comment to the end of the line
      while (at < bytes.length && bytes[at] !== 0x0a) at++;
      continue;
    }
    const start = at;
    while (at < bytes.length && !/\s/.test(String.fromCharCode(bytes[at]))) at++;
    if (at === start) throw new Error("truncated PPM header");
    fields.push(new TextDecoder().decode(bytes.subarray(start, at)));
  }
  at++; // the single whitespace byte after maxval
  const [magic, width, height, maxval] = [fields[0], +fields[1], +fields[2], +fields[3]];
  if (magic !== "P6" || maxval !== 255) throw new Error(`not an 8-bit P6 PPM: ${fields}`);
  const rgb = bytes.slice(at, at + width * height * 3);
  if (rgb.length !== width * height * 3) throw new Error("truncated PPM pixels");
  return { width, height, rgb };
}

/** The folders of SeaBIOS's and QEMU's firmware: VMCTL_FIRMWARE_PATH (as the test runner sets
 * it), else the Debian packages unpacked in ~/.cache/vmctl. */
async function firmwareFolders(): Promise<string[]> {
  const path = Deno.env.get("VMCTL_FIRMWARE_PATH");
  return path ? path.split(":").filter((dir) => dir !== "") : await firmwareDirs();
}

async function findFirmware(folders: string[], file: string): Promise<string> {
  for (const dir of folders) {
    try {
      await Deno.stat(join(dir, file));
      return join(dir, file);
    } catch {
      // not here
    }
  }
  throw new Error(`no ${file} in ${folders.join(":")}: unpack Debian's seabios package`);
}

/** What a QEMU run of a boot disk left: its COM1 output and its screen once `ready` held. */
export interface QemuShot {
  serial: string;
  image: Image;
}

/**
 * Boots `disk` (raw, IDE) in QEMU `-M pc -vga std` with vmctl's SeaBIOS and VGA BIOS (KVM if it
 * opens, else TCG), waits until its COM1 output satisfies `ready` (at most `limitMs`), takes a
 * `screendump` and stops QEMU.
 */
export async function qemuScreendump(
  disk: string,
  ready: (serial: string) => boolean,
  limitMs = 60_000,
): Promise<QemuShot> {
  const folders = await firmwareFolders();
  const bios = await findFirmware(folders, "bios-256k.bin");
  const work = await Deno.makeTempDir({ prefix: "vmctl-qemu-shot-" });
  const socket = join(work, "monitor");
  const ppm = join(work, "screen.ppm");
  const child = new Deno.Command("qemu-system-x86_64", {
    args: [
      ...["-M", "pc", "-accel", "kvm", "-accel", "tcg", "-m", "64", "-nodefaults"],
      ...["-no-user-config", "-display", "none", "-vga", "std", "-bios", bios],
      ...folders.flatMap((dir) => ["-L", dir]),
      ...["-drive", `file=${disk},format=raw,if=ide,snapshot=on`, "-serial", "stdio"],
      ...["-monitor", `unix:${socket},server=on,wait=off`],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let serial = "";
  let stderr = "";
  const decoder = new TextDecoder();
  const pumpErr = (async () => {
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk);
  })();
  const reader = child.stdout.getReader();
  try {
    const deadline = Date.now() + limitMs;
    while (!ready(serial)) {
      const left = deadline - Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((wake) =>
        timer = setTimeout(() => wake("timeout"), left)
      );
      const next = await Promise.race([reader.read(), timeout]);
      clearTimeout(timer);
      if (next === "timeout" || next.done) {
        throw new Error(`QEMU never got there; COM1:\n${serial}\nstderr:\n${stderr}`);
      }
      serial += new TextDecoder().decode(next.value);
    }
    await monitorCommand(socket, `screendump ${ppm}`);
    return { serial, image: decodePpm(await Deno.readFile(ppm)) };
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await reader.cancel().catch(() => {});
    await child.status;
    await pumpErr.catch(() => {});
    await Deno.remove(work, { recursive: true });
  }
}

/** Sends one HMP command over the monitor socket and waits for the prompt after it. */
async function monitorCommand(socket: string, command: string): Promise<void> {
  const connection = await Deno.connect({ transport: "unix", path: socket });
  try {
    const decoder = new TextDecoder();
    let text = "";
    const buffer = new Uint8Array(4096);
    const readUntilPrompt = async (prompts: number) => {
      while (text.split("(qemu)").length - 1 < prompts) {
        const n = await connection.read(buffer);
        if (n === null) throw new Error(`QEMU's monitor closed: ${text}`);
        text += decoder.decode(buffer.subarray(0, n));
      }
    };
    await readUntilPrompt(1);
    await connection.write(new TextEncoder().encode(`${command}\n`));
    await readUntilPrompt(2);
  } finally {
    connection.close();
  }
}
