// The VGA as SeaBIOS and its VGA BIOS leave it to a boot sector, and `--screenshot`: the guest
// (tests/guests/vga_draw.S, booted from an AHCI disk) sets a mode with INT 10h, programs the VGA
// registers itself, draws, prints what it read back on COM1 and powers off, and the PNG vmctl
// writes then must be, pixel for pixel, what tests/display_expect.ts computes from the drawing
// program's description (mode 12h write and read modes, mode 13h, mode X, the DAC) or what QEMU
// `-M pc -vga std` shows of the same disk with the same firmware (text modes). Then a screenshot
// taken on the -t timeout, of SeaBIOS's own screen, and `-g` on a pseudo-terminal: SeaBIOS's text
// screen drawn as text, and a still VBE picture (tests/guests/vga_fill.S) drawn in half blocks
// and then left alone.
import assert from "node:assert/strict";
import { join } from "node:path";
import { assembleBootSector, type VgaDrawAction, vgaDrawDisk } from "../guests/boot_sector.ts";
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
import { describe, type Finished, Vmctl, vmctlOnTerminal } from "../vmctl.ts";

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

const TERMINAL = { columns: 100, rows: 30 };
const STATUS_MARK = "Ctrl-A x quits";

/** What `-g` left on the terminal: its cells (character, foreground, background) as last drawn
 * on the alternate screen, when each frame (a status line) was written and when the output
 * ended, in ms from the start. */
interface TerminalRun {
  code: number;
  output: string;
  cells: { char: string; fg: string; bg: string }[][];
  frameTimesMs: number[];
  elapsedMs: number;
}

/** Runs `vmctl run ARGS -g` on a {@link TERMINAL}-sized pseudo-terminal of script(1). */
async function runOnTerminal(args: string[]): Promise<TerminalRun> {
  const child = vmctlOnTerminal(args, TERMINAL, { stdin: "null", stdout: "piped" });
  const started = performance.now();
  const decoder = new TextDecoder();
  let output = "";
  const frameTimesMs: number[] = [];
  for await (const chunk of child.stdout) {
    const text = decoder.decode(chunk, { stream: true });
    const now = performance.now() - started;
    for (let i = 0; i < text.split(STATUS_MARK).length - 1; i++) frameTimesMs.push(now);
    output += text;
  }
  const elapsedMs = performance.now() - started;
  const { code } = await child.status;
  return { code, output, cells: replayTerminal(output), frameTimesMs, elapsedMs };
}

/** Plays what vmctl wrote (cursor moves, colours, clears, characters: what its drawing uses)
 * onto a grid, up to where it leaves the alternate screen. */
// An escape sequence (parameters, command) or one character.
// deno-lint-ignore no-control-regex
const ESCAPE_OR_CHAR = /\x1b\[([?\d;]*)([A-Za-z])|([^\x1b])/gu;

function replayTerminal(output: string): TerminalRun["cells"] {
  const blank = () => ({ char: " ", fg: "", bg: "" });
  const grid = Array.from(
    { length: TERMINAL.rows },
    () => Array.from({ length: TERMINAL.columns }, blank),
  );
  let row = 0, column = 0, fg = "", bg = "";
  for (
    const [, params, command, char] of output.matchAll(ESCAPE_OR_CHAR)
  ) {
    if (char !== undefined) {
      if (row < TERMINAL.rows && column < TERMINAL.columns) grid[row][column] = { char, fg, bg };
      column++;
    } else if (command === "H") {
      const [r, c] = params.split(";").map(Number);
      [row, column] = [(r || 1) - 1, (c || 1) - 1];
    } else if (command === "J") {
      for (const line of grid) line.fill(blank());
    } else if (command === "K") {
      if (row < TERMINAL.rows) grid[row].fill(blank());
    } else if (command === "m") {
      if (params === "0" || params === "") [fg, bg] = ["", ""];
      else if (params.startsWith("38;2;")) fg = params.slice(5);
      else if (params.startsWith("48;2;")) bg = params.slice(5);
    } else if (command === "l" && params === "?1049") {
      break;
    }
  }
  return grid;
}

function screenLines(cells: TerminalRun["cells"]): string[] {
  return cells.map((line) => line.map((cell) => cell.char).join("").trimEnd());
}

Deno.test("-g draws SeaBIOS's text screen as text on the terminal and follows it to 'No bootable device'", async () => {
  const run = await runOnTerminal(["-r", "64", "-t", "10"]);
  const lines = screenLines(run.cells);
  const shown = `exit ${run.code}, the terminal:\n${lines.join("\n")}`;
  assert.equal(run.code, 2, shown);
  assert.ok(run.output.includes("\x1b[?1049h") && run.output.includes("\x1b[?1049l"), shown);
  assert.ok(lines.some((line) => /^SeaBIOS \(version \S+\)$/.test(line)), shown);
  assert.ok(lines.includes("No bootable device."), shown);
  assert.equal(lines[TERMINAL.rows - 1], `vmctl: 80×25 text — ${STATUS_MARK}`, shown);
  // The banner and the boot failure come seconds apart: redrawn on change, not drawn once.
  assert.ok(run.frameTimesMs.length >= 2, `${run.frameTimesMs.length} frames\n${shown}`);
});

Deno.test("-g draws a VBE picture in half blocks, then leaves a still screen alone", async () => {
  const work = await Deno.makeTempDir({ prefix: "vmctl-display-test-" });
  try {
    // vga_fill.S in its "still" mode: fills the 1024×768×32 LFB, prints STILL, halts.
    const disk = join(work, "still.img");
    const image = new Uint8Array(1 << 20);
    image.set(await assembleBootSector("vga_fill"));
    image[3 * 512 - 1] = 1;
    await Deno.writeFile(disk, image);
    const run = await runOnTerminal(["-r", "64", "-d", disk, "-t", "12"]);
    const lines = screenLines(run.cells);
    const shown = `exit ${run.code}, frames at ${run.frameTimesMs.map(Math.round)} ms, the ` +
      `terminal:\n${lines.join("\n")}`;
    assert.equal(run.code, 2, shown);
    assert.equal(lines[TERMINAL.rows - 1], `vmctl: 1024×768 — ${STATUS_MARK}`, shown);
    // 4:3 in 100×29 cells of two pixel rows each: 77 columns by 29 rows, all the last fill's grey.
    const picture = run.cells.slice(0, TERMINAL.rows - 1).flat().filter((cell) =>
      cell.char !== " "
    );
    assert.ok(picture.length >= 70 * 29, shown);
    for (const cell of picture) {
      assert.deepEqual(cell, { char: "▀", fg: "17;17;17", bg: "17;17;17" }, shown);
    }
    // The picture is still for the last 6 s before the -t timeout: at most a frame or two then
    // (the firmware may still touch a display register), where redrawing at a fixed rate, as
    // a display that does not watch for changes would, draws dozens.
    const late = run.frameTimesMs.filter((at) => at > run.elapsedMs - 6000);
    assert.ok(late.length <= 2, `ended at ${Math.round(run.elapsedMs)} ms; ${shown}`);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
