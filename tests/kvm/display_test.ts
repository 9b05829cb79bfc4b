// The VGA as SeaBIOS and its VGA BIOS leave it to a boot sector, and `--screenshot`: the guest
// (tests/guests/vga_draw.S, booted from an AHCI disk) sets a mode with INT 10h, programs the VGA
// registers itself, draws, prints what it read back on COM1 and powers off, and the PNG vmctl
// writes then must be, pixel for pixel, what tests/display_expect.ts computes from the drawing
// program's description (mode 12h write and read modes, mode 13h, mode X, the DAC) or what QEMU
// `-M pc -vga std` shows of the same disk with the same firmware (text modes). Last, a screenshot
// taken on the -t timeout, of SeaBIOS's own screen.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type VgaDrawAction, vgaDrawDisk } from "../guests/boot_sector.ts";
import {
  DAC_READ_LINE,
  decodePng,
  diffPixels,
  expected256,
  expectedMode12,
  type Image,
  MODE12_READ_LINES,
  mode12Region,
  qemuScreendump,
  TEXT_LINES,
} from "../display_expect.ts";
import { describe, type Finished, Vmctl } from "../vmctl.ts";

/** Every guest here powers off within seconds; this only stops a stuck one. */
const GUEST_LIMIT_S = "60";
const DONE_MARKER = "DONE";

/** Runs vmctl on a fresh vga_draw disk for `action` with `--screenshot`, expecting a power-off. */
async function drawAndShoot(
  action: VgaDrawAction,
  extra: string[] = [],
): Promise<{ run: Finished; image: Image; disk: string }> {
  const disk = await vgaDrawDisk(action);
  const work = await Deno.makeTempDir({ prefix: "vmctl-display-test-" });
  const shot = join(work, "screen.png");
  try {
    const run = await new Vmctl([
      ...["-r", "64", "-d", disk, "-t", GUEST_LIMIT_S, "--screenshot", shot, ...extra],
    ]).finish();
    assert.ok(!run.hung, describe(run));
    assert.equal(run.code, 0, describe(run));
    assert.ok(run.stdout.includes(DONE_MARKER), describe(run));
    assert.ok(!run.stdout.includes("ERROR"), describe(run));
    return { run, image: decodePng(await Deno.readFile(shot)), disk };
  } catch (error) {
    await Deno.remove(disk);
    throw error;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

function assertSameImage(
  got: Image,
  want: Image,
  what: string,
  region?: (y: number) => string,
): void {
  const diffs = diffPixels(got, want, 8, region);
  assert.deepEqual(diffs, [], `${what}: the screenshot differs:\n${diffs.join("\n")}`);
}

/** Boots the disk in QEMU and checks vmctl's screenshot of it is identical to QEMU's. */
async function assertLikeQemu(disk: string, image: Image, what: string): Promise<void> {
  const qemu = await qemuScreendump(disk, (serial) => serial.includes(DONE_MARKER));
  assertSameImage(image, qemu.image, `${what} (vmctl vs QEMU)`);
}

Deno.test("mode 12h: write modes 0-3, rotate, AND/OR/XOR, set/reset and the bit mask draw exactly; read modes 0 and 1 read back", async () => {
  const { run, image, disk } = await drawAndShoot("2");
  await Deno.remove(disk);
  for (const line of MODE12_READ_LINES) assert.ok(run.stdout.includes(line), describe(run));
  assertSameImage(image, expectedMode12(), "mode 12h", mode12Region);
});

Deno.test("mode 13h and mode X (chain-4 off, CRTC byte mode) through a DAC palette the guest programmed draw exactly", async () => {
  for (const action of ["3", "x"] as const) {
    const { run, image, disk } = await drawAndShoot(action);
    await Deno.remove(disk);
    assert.ok(run.stdout.includes(DAC_READ_LINE), describe(run));
    assertSameImage(image, expected256(action), action === "3" ? "mode 13h" : "mode X");
  }
});

Deno.test("text mode 3 with colours, bright backgrounds and CP437 characters looks exactly as in QEMU", async () => {
  const { image, disk } = await drawAndShoot("t");
  try {
    assert.equal(`${image.width}×${image.height}`, "720×400");
    await assertLikeQemu(disk, image, "text mode 3");
  } finally {
    await Deno.remove(disk);
  }
});

Deno.test("80×50 text (8×8 font) and 40-column text: -s prints the text, the screenshot matches QEMU", async () => {
  for (const action of ["5", "4"] as const) {
    const { run, image, disk } = await drawAndShoot(action, ["-s"]);
    try {
      const lines = run.stdout.split("\n").map((line) => line.replace(/\s+$/, ""));
      for (const [row, text] of Object.entries(TEXT_LINES[action])) {
        assert.ok(
          lines.includes(text),
          `row ${row} "${text}" is not in the -s dump\n${describe(run)}`,
        );
      }
      await assertLikeQemu(disk, image, action === "5" ? "80×50 text" : "40×25 text");
    } finally {
      await Deno.remove(disk);
    }
  }
});

Deno.test("a -t timeout still writes the screenshot: SeaBIOS's banner in a 720×400 text-mode PNG", async () => {
  const work = await Deno.makeTempDir({ prefix: "vmctl-display-test-" });
  try {
    const shot = join(work, "timeout.png");
    const run = await new Vmctl(["-r", "64", "-t", "8", "--screenshot", shot]).finish();
    assert.ok(!run.hung, describe(run));
    assert.equal(run.code, 2, describe(run));
    const image = decodePng(await Deno.readFile(shot));
    assert.equal(`${image.width}×${image.height}`, "720×400", describe(run));
    // The first text row (16 pixel rows) holds SeaBIOS's banner: some pixels are not black.
    const topRow = image.rgb.subarray(0, image.width * 16 * 3);
    assert.ok(topRow.some((value) => value !== 0), "the top text row of the screenshot is blank");
    const bottom = image.rgb.subarray(image.width * 390 * 3);
    assert.ok(bottom.every((value) => value === 0), "the bottom rows should be black");
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
