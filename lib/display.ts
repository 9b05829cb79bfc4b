/**
 * `-g`: the guest's screen live in the terminal. The alternate screen, redrawn only when the
 * guest changed something (the screen's generation, from KVM's dirty log and the devices) or the
 * terminal was resized. It looks every 33 ms while the screen changes and every 100 ms once it has
 * been still for half a second, so a moving screen gets 30 frames/s, a change after a still spell
 * shows within 100 ms (10 frames/s at worst), and an idle screen costs a few cheap calls a second.
 * Input stays with the console (stdin to COM1, Ctrl-A x quits).
 * @module
 */
import { UserError } from "./errors.ts";
import type { ScreenFrame, TextScreen } from "./machine.ts";
import { type Canvas, drawCanvas, halfBlockCanvas, textCanvas } from "./terminal_screen.ts";

/** Where the display gets the picture. */
export interface ScreenSource {
  generation(): bigint;
  frame(): ScreenFrame | undefined;
  text(): TextScreen | undefined;
}

const TICK_MS = 33;
const IDLE_TICK_MS = 100;
/** Unchanged ticks after which the display looks every {@link IDLE_TICK_MS}. */
const TICKS_BEFORE_IDLE = 15;
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
  #timer: ReturnType<typeof setTimeout> | undefined;
  #shown: Canvas | undefined;
  #generation = -1n;
  #stillTicks = 0;
  #resized = false;
  #onResize = () => {
    this.#resized = true;
  };

  start(source: ScreenSource): void {
    if (this.#source !== undefined) return;
    this.#source = source;
    writeAll(ENTER);
    Deno.addSignalListener("SIGWINCH", this.#onResize);
    this.#tick();
  }

  /** Restores the terminal; safe to call more than once. */
  stop(): void {
    if (this.#source === undefined) return;
    clearTimeout(this.#timer);
    Deno.removeSignalListener("SIGWINCH", this.#onResize);
    this.#source = undefined;
    this.#shown = undefined;
    writeAll(LEAVE);
  }

  #tick(): void {
    const source = this.#source;
    if (source === undefined) return;
    const generation = source.generation();
    if (generation !== this.#generation || this.#resized) {
      if (this.#resized) {
        this.#shown = undefined;
        writeAll("\x1b[0m\x1b[2J");
      }
      this.#resized = false;
      this.#generation = generation;
      this.#stillTicks = 0;
      this.#draw(source);
    } else {
      this.#stillTicks = Math.min(this.#stillTicks + 1, TICKS_BEFORE_IDLE);
    }
    const wait = this.#stillTicks < TICKS_BEFORE_IDLE ? TICK_MS : IDLE_TICK_MS;
    this.#timer = setTimeout(() => this.#tick(), wait);
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
