/**
 * `-g`: the guest's screen live in the terminal. The alternate screen, redrawn only when the
 * guest changed something or the terminal was resized. The change cue comes from the machine's
 * screen watch (native/events.zig), which looks at the screen's generation (KVM's dirty log and
 * the devices) on the native timer thread every 33 ms, every 100 ms once the screen has been
 * still for half a second: a moving screen gets up to 30 frames/s, a change after a still spell
 * shows within 100 ms, and a still screen costs nothing on this side — no timer, no calls. What the user types goes
 * to the guest's keyboard (lib/terminal_keyboard.ts); Ctrl-A x quits.
 * @module
 */
import { UserError } from "./errors.ts";
import type { ScreenFrame, TextScreen } from "./machine.ts";
import { type Canvas, drawCanvas, halfBlockCanvas, textCanvas } from "./terminal_screen.ts";

/** Where the display gets the picture. */
export interface ScreenSource {
  frame(): ScreenFrame | undefined;
  text(): TextScreen | undefined;
}

const ENTER = "\x1b[?1049h\x1b[?25l\x1b[2J";
const LEAVE = "\x1b[0m\x1b[?25h\x1b[?1049l";
const encoder = new TextEncoder();

/** Fails unless stdout is a terminal, which `-g` draws on. */
export function requireTerminal(): void {
  if (!Deno.stdout.isTerminal()) {
    throw new UserError(
      "-g draws the guest's screen in a terminal, but stdout is not one: run vmctl in a " +
        "terminal, or use --screenshot FILE",
    );
  }
}

function writeAll(text: string): void {
  const bytes = encoder.encode(text);
  let done = 0;
  while (done < bytes.length) done += Deno.stdout.writeSync(bytes.subarray(done));
}

export class TerminalDisplay {
  #source: ScreenSource | undefined;
  #shown: Canvas | undefined;
  #onResize = () => {
    if (this.#source === undefined) return;
    this.#shown = undefined;
    writeAll("\x1b[0m\x1b[2J");
    this.#draw(this.#source);
  };

  start(source: ScreenSource): void {
    if (this.#source !== undefined) return;
    this.#source = source;
    writeAll(ENTER);
    Deno.addSignalListener("SIGWINCH", this.#onResize);
    this.#draw(source);
  }

  /** The screen may have changed: draws it (only what differs from the last picture). */
  changed(): void {
    if (this.#source !== undefined) this.#draw(this.#source);
  }

  /** Restores the terminal; safe to call more than once. */
  stop(): void {
    if (this.#source === undefined) return;
    Deno.removeSignalListener("SIGWINCH", this.#onResize);
    this.#source = undefined;
    this.#shown = undefined;
    writeAll(LEAVE);
  }

  #draw(source: ScreenSource): void {
    const { columns, rows } = Deno.consoleSize();
    const screenRows = Math.max(1, rows - 1);
    const text = source.text();
    let canvas: Canvas;
    let what: string;
    if (text !== undefined) {
      canvas = textCanvas(text, columns, screenRows);
      what = `${text.columns}×${text.rows} text`;
    } else {
      const frame = source.frame();
      if (frame === undefined) return;
      canvas = halfBlockCanvas(frame, columns, screenRows);
      what = `${frame.width}×${frame.height}`;
    }
    if (
      this.#shown && (this.#shown.columns !== canvas.columns || this.#shown.rows !== canvas.rows)
    ) {
      writeAll("\x1b[0m\x1b[2J");
      this.#shown = undefined;
    }
    const status = `\x1b[${rows};1H\x1b[0m\x1b[2Kvmctl: ${what} — Ctrl-A x quits`;
    writeAll(drawCanvas(canvas, this.#shown) + status);
    this.#shown = canvas;
  }
}
