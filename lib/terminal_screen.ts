/**
 * The guest's screen as terminal output: graphics as truecolour half blocks (each character cell
 * two pixels, upper half block "▀" with the top pixel as foreground, the bottom one as
 * background), text modes as their characters in their colours, and ASCII art for `-s`. Pure
 * functions; the `-g` loop in display.ts writes what they return.
 * @module
 */
import { type ScreenFrame, TEXT_CELL_BYTES, type TextScreen } from "./machine.ts";

/** What one terminal cell shows: a character with 24-bit foreground and background colours. */
export interface Cell {
  char: string;
  fg: number;
  bg: number;
}

/** The terminal's cells after a draw, row-major; the next draw sends only what differs. */
export interface Canvas {
  columns: number;
  rows: number;
  cells: Cell[];
}

const UPPER_HALF = "▀";

/** The largest `columns × rows` area of terminal cells showing `width × height` pixels with
 * their aspect ratio, a cell being twice as tall as wide (two pixels in half-block mode). */
export function fitCells(
  width: number,
  height: number,
  columns: number,
  rows: number,
): { columns: number; rows: number } {
  const scale = Math.min(columns / width, (rows * 2) / height);
  return {
    columns: Math.max(1, Math.min(columns, Math.round(width * scale))),
    rows: Math.max(1, Math.min(rows, Math.round((height * scale) / 2))),
  };
}

/** The frame's pixels averaged over the box each target pixel covers (nearest when enlarging). */
function scaledPixel(frame: ScreenFrame, x0: number, x1: number, y0: number, y1: number): number {
  const left = Math.floor(x0);
  const right = Math.max(left + 1, Math.min(frame.width, Math.ceil(x1)));
  const top = Math.floor(y0);
  const bottom = Math.max(top + 1, Math.min(frame.height, Math.ceil(y1)));
  let r = 0, g = 0, b = 0;
  for (let y = top; y < bottom; y++) {
    let at = (y * frame.width + left) * 3;
    for (let x = left; x < right; x++, at += 3) {
      r += frame.rgb[at];
      g += frame.rgb[at + 1];
      b += frame.rgb[at + 2];
    }
  }
  const n = (right - left) * (bottom - top);
  return (Math.round(r / n) << 16) | (Math.round(g / n) << 8) | Math.round(b / n);
}

/** A graphics frame as half-block cells filling at most `columns × rows`. */
export function halfBlockCanvas(frame: ScreenFrame, columns: number, rows: number): Canvas {
  const size = fitCells(frame.width, frame.height, columns, rows);
  const sx = frame.width / size.columns;
  const sy = frame.height / (size.rows * 2);
  const cells: Cell[] = [];
  for (let row = 0; row < size.rows; row++) {
    const top = row * 2 * sy;
    for (let column = 0; column < size.columns; column++) {
      const x0 = column * sx;
      cells.push({
        char: UPPER_HALF,
        fg: scaledPixel(frame, x0, x0 + sx, top, top + sy),
        bg: scaledPixel(frame, x0, x0 + sx, top + sy, top + 2 * sy),
      });
    }
  }
  return { columns: size.columns, rows: size.rows, cells };
}

/** A text screen as its characters and colours, cropped to `columns × rows`; the guest's
 * cursor cell in reverse video. */
export function textCanvas(screen: TextScreen, columns: number, rows: number): Canvas {
  const shownColumns = Math.min(columns, screen.columns);
  const shownRows = Math.min(rows, screen.rows);
  const view = new DataView(screen.cells.buffer, screen.cells.byteOffset, screen.cells.byteLength);
  const cells: Cell[] = [];
  for (let row = 0; row < shownRows; row++) {
    for (let column = 0; column < shownColumns; column++) {
      const at = (row * screen.columns + column) * TEXT_CELL_BYTES;
      const c = screen.cells;
      const fg = (c[at + 4] << 16) | (c[at + 5] << 8) | c[at + 6];
      const bg = (c[at + 7] << 16) | (c[at + 8] << 8) | c[at + 9];
      const cursor = (c[at + 10] & 1) !== 0;
      const codepoint = view.getUint32(at, true);
      const char = codepoint < 0x20 ? " " : String.fromCodePoint(codepoint);
      cells.push(cursor ? { char, fg: bg, bg: fg } : { char, fg, bg });
    }
  }
  return { columns: shownColumns, rows: shownRows, cells };
}

function colour(kind: 38 | 48, rgb: number): string {
  return `\x1b[${kind};2;${rgb >> 16};${(rgb >> 8) & 0xff};${rgb & 0xff}m`;
}

/**
 * The escape sequences that turn `previous` (what the terminal shows; undefined: unknown) into
 * `next`, placed with its top-left cell at `origin` (1-based row and column): only changed cells
 * are sent, with cursor moves and colour changes only where needed.
 */
export function drawCanvas(
  next: Canvas,
  previous: Canvas | undefined,
  origin = { row: 1, column: 1 },
): string {
  const same = previous !== undefined && previous.columns === next.columns &&
    previous.rows === next.rows;
  const parts: string[] = [];
  let fg = -1, bg = -1;
  for (let row = 0; row < next.rows; row++) {
    let cursorAt = -1; // the column the terminal's cursor is at on this row, if known
    for (let column = 0; column < next.columns; column++) {
      const index = row * next.columns + column;
      const cell = next.cells[index];
      if (same) {
        const old = previous.cells[index];
        if (old.char === cell.char && old.fg === cell.fg && old.bg === cell.bg) continue;
      }
      if (cursorAt !== column) parts.push(`\x1b[${origin.row + row};${origin.column + column}H`);
      if (cell.fg !== fg) parts.push(colour(38, fg = cell.fg));
      if (cell.bg !== bg) parts.push(colour(48, bg = cell.bg));
      parts.push(cell.char);
      cursorAt = column + 1;
    }
  }
  if (parts.length > 0) parts.push("\x1b[0m");
  return parts.join("");
}

const RAMP = " .:-=+*#%@";

/** The frame as ASCII art `columns` wide (cells twice as tall as wide), lines trimmed. */
export function asciiArt(frame: ScreenFrame, columns: number): string {
  const shown = Math.max(1, Math.min(columns, frame.width));
  const rows = Math.max(1, Math.round((frame.height / frame.width) * shown / 2));
  const sx = frame.width / shown;
  const sy = frame.height / rows;
  const lines: string[] = [];
  for (let row = 0; row < rows; row++) {
    let line = "";
    for (let column = 0; column < shown; column++) {
      const rgb = scaledPixel(frame, column * sx, (column + 1) * sx, row * sy, (row + 1) * sy);
      const luma = (0.299 * (rgb >> 16) + 0.587 * ((rgb >> 8) & 0xff) + 0.114 * (rgb & 0xff)) /
        255;
      line += RAMP[Math.min(RAMP.length - 1, Math.floor(luma * RAMP.length))];
    }
    lines.push(line.trimEnd());
  }
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines.map((line) => `${line}\n`).join("");
}
