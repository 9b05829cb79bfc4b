/** The terminal renderings of the screen: half blocks, text cells, diffs, ASCII art. */
import assert from "node:assert/strict";
import {
  asciiArt,
  drawCanvas,
  fitCells,
  halfBlockCanvas,
  textCanvas,
} from "../../lib/terminal_screen.ts";
import { TEXT_CELL_BYTES } from "../../lib/machine.ts";

function frame(width: number, height: number, pixel: (x: number, y: number) => number[]) {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rgb.set(pixel(x, y), (y * width + x) * 3);
  }
  return { width, height, rgb, textMode: false };
}

Deno.test("a 640×480 frame fits an 80×24 terminal keeping its aspect ratio", () => {
  assert.deepEqual(fitCells(640, 480, 80, 24), { columns: 64, rows: 24 });
  assert.deepEqual(fitCells(640, 480, 200, 200), { columns: 200, rows: 75 });
});

Deno.test("half blocks: top pixel in the foreground, bottom in the background, averaged", () => {
  // Top half red, bottom half blue; the left column's top row is white.
  const image = frame(
    4,
    4,
    (x, y) => y < 2 ? (x < 2 && y === 0 ? [255, 255, 255] : [255, 0, 0]) : [0, 0, 255],
  );
  const canvas = halfBlockCanvas(image, 2, 1);
  assert.equal(canvas.columns, 2);
  assert.equal(canvas.rows, 1);
  assert.equal(canvas.cells[1].fg, 0xff0000);
  assert.equal(canvas.cells[1].bg, 0x0000ff);
  assert.equal(canvas.cells[0].fg, (255 << 16) | (128 << 8) | 128); // white and red averaged
  assert.equal(canvas.cells[0].char, "▀");
});

Deno.test("a redraw sends only the cells that changed", () => {
  const before = halfBlockCanvas(frame(4, 4, () => [0, 0, 0]), 4, 2);
  const after = halfBlockCanvas(
    frame(4, 4, (x, y) => x === 3 && y === 2 ? [9, 8, 7] : [0, 0, 0]),
    4,
    2,
  );
  const full = drawCanvas(after, undefined);
  assert.equal(full.split("▀").length - 1, 8);
  const diff = drawCanvas(after, before);
  assert.equal(diff.split("▀").length - 1, 1);
  assert.ok(diff.startsWith("\x1b[2;4H"), JSON.stringify(diff));
  assert.ok(diff.includes("\x1b[38;2;9;8;7m"));
  assert.equal(drawCanvas(after, after), "");
});

Deno.test("text cells keep their characters and colours; the cursor cell is reversed", () => {
  const cells = new Uint8Array(2 * TEXT_CELL_BYTES);
  const view = new DataView(cells.buffer);
  view.setUint32(0, 0x2554, true); // ╔
  cells.set([170, 170, 170, 0, 0, 170, 0], 4);
  view.setUint32(TEXT_CELL_BYTES, 0x41, true);
  cells.set([255, 255, 255, 0, 0, 0, 1], TEXT_CELL_BYTES + 4);
  const canvas = textCanvas({ columns: 2, rows: 1, cells }, 80, 25);
  assert.deepEqual(canvas.cells[0], { char: "╔", fg: 0xaaaaaa, bg: 0x0000aa });
  assert.deepEqual(canvas.cells[1], { char: "A", fg: 0x000000, bg: 0xffffff });
});

Deno.test("ASCII art: a left-to-right gradient runs from blank to @", () => {
  const art = asciiArt(frame(100, 20, (x) => [x * 2.55, x * 2.55, x * 2.55]), 10);
  const lines = art.trimEnd().split("\n");
  assert.equal(lines.length, 1);
  assert.equal(lines[0], " .:-=+*#%@");
  assert.equal(asciiArt(frame(8, 8, () => [0, 0, 0]), 8), "");
});
