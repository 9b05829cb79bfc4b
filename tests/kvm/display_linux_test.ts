// Linux drives vmctl's display adapters, and `--screenshot` shows exactly what it drew: bochs-drm
// on the Bochs VBE adapter (direct boot), vesafb on the VBE mode SeaBIOS's VGA BIOS set for
// Linux's setup code (`vga=0x318`, 1024×768×24), and vmwgfx on VMware SVGA II (`--vga vmware`).
// The guest (tools/display_guest.ts) prints `FB <xres>x<yres> bpp=… stride=… driver=…`, writes
// a text marker on tty1 (fbcon, top left) and draws eight 32×32 squares in pure colours; the PNG
// must be the framebuffer's size, hold every square exactly, fbcon's text above them and black
// everywhere else.
// VMCTL_TEST_DISPLAY_INITRD (if tests/run.ts sets it) skips building the guest image.
import assert from "node:assert/strict";
import { join } from "node:path";
import { debianKernel } from "../../tools/debian.ts";
import {
  DISPLAY_DONE_MARKER,
  DISPLAY_SQUARES,
  displayCmdline,
  displayInitramfs,
  type DisplayMode,
  SQUARE_SIDE,
  TEXT_ROWS,
} from "../../tools/display_guest.ts";
import { decodePng, type Image } from "../display_expect.ts";
import { describe, type Finished, GUEST_LIMIT_S, Vmctl } from "./linux_guest.ts";

function pixelAt(image: Image, x: number, y: number): number {
  const at = (y * image.width + x) * 3;
  return (image.rgb[at] << 16) | (image.rgb[at + 1] << 8) | image.rgb[at + 2];
}

const hex = (rgb: number) => `#${rgb.toString(16).padStart(6, "0")}`;

/** What the guest's `FB …` line says about its framebuffer. */
export interface FbLine {
  width: number;
  height: number;
  bpp: number;
  stride: number;
  driver: string;
}

/** Finds the guest's `FB <xres>x<yres> bpp=<n> stride=<n> driver=<id>` line. */
export function parseFbLine(stdout: string, context: string): FbLine {
  const match = /^FB (\d+)x(\d+) bpp=(\d+) stride=(\d+) driver=(.*?)\r?$/m.exec(stdout);
  assert.ok(match, `the guest printed no FB line\n${context}`);
  const [width, height, bpp, stride] = match.slice(1, 5).map(Number);
  return { width, height, bpp, stride, driver: match[5] };
}

/**
 * Checks a screenshot of the guest's screen: the framebuffer's size, every square exactly its
 * colour with black just around it, non-black fbcon text in the top rows, black everywhere else.
 */
export function assertScreen(image: Image, fb: FbLine, context: string): void {
  assert.equal(`${image.width}x${image.height}`, `${fb.width}x${fb.height}`, context);
  const owner = new Int8Array(image.width * image.height).fill(-1);
  for (const [index, square] of DISPLAY_SQUARES.entries()) {
    for (let y = square.y; y < square.y + SQUARE_SIDE; y++) {
      for (let x = square.x; x < square.x + SQUARE_SIDE; x++) {
        owner[y * image.width + x] = index;
        const got = pixelAt(image, x, y);
        assert.ok(
          got === square.rgb,
          `square ${index} (${hex(square.rgb)} at ${square.x},${square.y}): pixel ${x},${y} is ` +
            `${hex(got)}\n${context}`,
        );
      }
    }
  }
  let textPixels = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (owner[y * image.width + x] >= 0) continue;
      const got = pixelAt(image, x, y);
      if (y < TEXT_ROWS) {
        if (got !== 0) textPixels++;
      } else {
        assert.ok(got === 0, `pixel ${x},${y} should be black, is ${hex(got)}\n${context}`);
      }
    }
  }
  // Two lines of 8×16 glyphs, about 50 characters: a few hundred lit pixels at least.
  assert.ok(textPixels >= 300, `fbcon's text left only ${textPixels} lit pixels\n${context}`);
}

/** One display configuration and what Linux says when it drives it. */
interface Case {
  name: string;
  mode: DisplayMode;
  vmctlArgs: string[];
  appendExtra?: string;
  /** A kernel message (a `dmesg: ` line on the serial console) that says the driver bound. */
  bound: RegExp;
  /** fbdev's `fix.id`. */
  driver: RegExp;
  /** Bits per pixel, where the mode fixes them. */
  bpp?: number;
  /** xres×yres, where the mode fixes them. */
  size?: string;
}

const CASES: Case[] = [
  {
    name: "bochs-drm on the Bochs VBE adapter (direct boot)",
    mode: "bochs",
    vmctlArgs: [],
    bound: /^dmesg: .*\[drm\] Initialized bochs-drm /m,
    driver: /^bochs-drmdrmfb$/,
    bpp: 32,
  },
  {
    name: "vesafb on VBE mode 0x118 set through SeaBIOS's VGA BIOS (vga=0x318)",
    mode: "vesa",
    vmctlArgs: ["-b", "seabios"],
    appendExtra: "vga=0x318",
    bound: /^dmesg: .*vesafb: mode is 1024x768x24, linelength=3072/m,
    driver: /^VESA VGA$/,
    bpp: 24,
    size: "1024x768",
  },
  {
    name: "vmwgfx on VMware SVGA II (--vga vmware)",
    mode: "vmwgfx",
    vmctlArgs: ["--vga", "vmware"],
    bound: /^dmesg: .*\[drm\] Initialized vmwgfx /m,
    driver: /^(svgadrmfb|vmwgfxdrmfb)$/,
    bpp: 32,
  },
];

async function displayGuest(): Promise<{ kernel: string; initrd: string }> {
  return {
    kernel: Deno.env.get("VMCTL_TEST_KERNEL") ?? (await debianKernel()).vmlinuz,
    initrd: Deno.env.get("VMCTL_TEST_DISPLAY_INITRD") ?? await displayInitramfs(),
  };
}

async function bootAndScreenshot(test: Case): Promise<{ run: Finished; png: Uint8Array }> {
  const { kernel, initrd } = await displayGuest();
  const dir = await Deno.makeTempDir({ prefix: "vmctl-display-" });
  const screenshot = join(dir, "screen.png");
  try {
    const run = await new Vmctl([
      ...test.vmctlArgs,
      ...["-r", "256", "-t", GUEST_LIMIT_S, "--screenshot", screenshot],
      ...["--kernel", kernel, "--initrd", initrd],
      ...["--append", displayCmdline(test.mode, test.appendExtra)],
    ]).finish();
    const png = await Deno.readFile(screenshot).catch(() => new Uint8Array());
    return { run, png };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const test of CASES) {
  Deno.test(`${test.name}: the screenshot shows the guest's squares and fbcon's text`, async () => {
    const { run, png } = await bootAndScreenshot(test);
    const context = describe(run);
    assert.ok(!run.hung, context);
    assert.equal(run.code, 0, context);
    assert.match(run.stdout, test.bound, context);
    const fb = parseFbLine(run.stdout, context);
    assert.match(fb.driver, test.driver, context);
    if (test.bpp !== undefined) assert.equal(fb.bpp, test.bpp, context);
    if (test.size !== undefined) assert.equal(`${fb.width}x${fb.height}`, test.size, context);
    assert.ok(fb.stride >= fb.width * (fb.bpp / 8), `stride ${fb.stride} too short\n${context}`);
    assert.match(run.stdout, /^FB drawn 8 squares\r?$/m, context);
    assert.ok(run.stdout.includes(DISPLAY_DONE_MARKER), context);
    assert.ok(png.length > 0, `vmctl wrote no screenshot\n${context}`);
    assertScreen(decodePng(png), fb, context);
  });
}
