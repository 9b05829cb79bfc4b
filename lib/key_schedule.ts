/**
 * Scheduled keystrokes and mouse moves: `-k DELAY_MS:KEY[,KEY…]`, `--key DELAY_MS:KEY`,
 * `--type DELAY_MS:TEXT` and `--mouse DELAY_MS:DX,DY[,BUTTONS[,WHEEL]]`, in command-line order. A delay counts from the VM's start, or with a leading `+` from the end
 * of the step before. Within a step, keystrokes go out `--key-interval` ms apart (Packer's
 * 100 ms by default); a keystroke is its keys' presses and releases, which the keyboard hands
 * the guest one key at a time as it reads them. Nothing is dropped: when the keyboard's queue is
 * full (a guest that does not read its keyboard), the schedule waits and tries again.
 * @module
 */
import { UserError } from "./errors.ts";
import { comboEvents, type KeyEvent, packKey, textEvents } from "./keys.ts";

/** The options that make steps, as config.ts names them. */
export const KEY_STEP_OPTIONS = ["-k", "--key", "--type", "--mouse", "--mouse-abs"] as const;
export type KeyStepOption = typeof KEY_STEP_OPTIONS[number];

export const DEFAULT_KEY_INTERVAL_MS = 100;
/** A day: longer delays are typing mistakes. */
const MAX_DELAY_MS = 86_400_000;

/** One step of the schedule. */
export interface KeyStep {
  delayMs: number;
  /** The delay counts from the previous step's end, not from the start. */
  relative: boolean;
  /** Keystrokes, each a list of key events sent together. */
  strokes: KeyEvent[][];
  /** A mouse move instead (`--mouse`). */
  mouse?: MouseMove;
}

/** One `--mouse` step: motion in counts (`dy` down, `wheel` toward the user) and the buttons
 * held from then on (bit 0 left, 1 right, 2 middle). */
export interface MouseMove {
  dx: number;
  dy: number;
  buttons: number;
  wheel: number;
  /** `dx`, `dy` are a pixel on the screen for VMware's absolute pointer (`--mouse-abs`). */
  absolute?: boolean;
}

/** Counts one step may move an axis; larger is a typing mistake. */
const MAX_MOUSE_COUNTS = 100_000;

/** Parses `X,Y[,BUTTONS[,WHEEL]]`: a pixel of the guest's screen, for `--mouse-abs`. */
export function parseMousePosition(text: string): MouseMove {
  const numbers = text.split(",").map((part) => /^\d+$/.test(part) ? Number(part) : NaN);
  const wheelText = text.split(",")[3];
  const [dx, dy, buttons = 0] = numbers;
  const wheel = wheelText === undefined
    ? 0
    : /^[+-]?\d+$/.test(wheelText)
    ? Number(wheelText)
    : NaN;
  if (
    numbers.length < 2 || numbers.length > 4 || [dx, dy, buttons].some(Number.isNaN) ||
    Number.isNaN(wheel) || dx > 16384 || dy > 16384 || buttons > 7 || Math.abs(wheel) > 127
  ) {
    throw new UserError(
      "write X,Y[,BUTTONS[,WHEEL]]: a pixel of the guest's screen from 0,0 at the top left, " +
        "BUTTONS 0-7 (1 left, 2 right, 4 middle), WHEEL -127 to 127, e.g. 512,384,1",
    );
  }
  return { dx, dy, buttons, wheel };
}

/** Parses `DX,DY[,BUTTONS[,WHEEL]]`. */
export function parseMouseMove(text: string): MouseMove {
  const parts = text.split(",");
  const numbers = parts.map((part) => /^[+-]?\d+$/.test(part) ? Number(part) : NaN);
  const [dx, dy, buttons = 0, wheel = 0] = numbers;
  if (
    parts.length < 2 || parts.length > 4 || numbers.some((n) => Number.isNaN(n)) ||
    [dx, dy, wheel].some((n) => Math.abs(n) > MAX_MOUSE_COUNTS) || buttons < 0 || buttons > 7
  ) {
    throw new UserError(
      `write DX,DY[,BUTTONS[,WHEEL]]: whole counts up to ${MAX_MOUSE_COUNTS} (DY down), ` +
        "BUTTONS 0-7 (1 left, 2 right, 4 middle), WHEEL + toward you, e.g. 50,0,1",
    );
  }
  return { dx, dy, buttons, wheel };
}

/** Parses the key options in the order given: `[option, value]` pairs. */
export function parseKeySteps(entries: [KeyStepOption, string][]): KeyStep[] {
  return entries.map(([option, value]) => {
    const match = /^(\+?)(\d+):(.+)$/s.exec(value);
    if (match === null) {
      throw new UserError(
        `${option} ${value}: write DELAY_MS:${WHAT[option]}, e.g. ${option} ${EXAMPLE[option]}, ` +
          `or +DELAY_MS:… to count from the step before`,
      );
    }
    const [, plus, digits, rest] = match;
    const delayMs = Number(digits);
    if (delayMs > MAX_DELAY_MS) {
      throw new UserError(`${option} ${value}: a delay of ${digits} ms is over a day`);
    }
    let strokes: KeyEvent[][] = [];
    let mouse: MouseMove | undefined;
    try {
      if (option === "--mouse") mouse = parseMouseMove(rest);
      else if (option === "--mouse-abs") mouse = { ...parseMousePosition(rest), absolute: true };
      else if (option === "--type") strokes = textEvents(unescapeTypedText(rest));
      else if (option === "-k") strokes = rest.split(",").map((spec) => comboEvents(spec));
      else strokes = [comboEvents(rest)];
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      throw new UserError(`${option} ${value}: ${error.message}`);
    }
    return { delayMs, relative: plus === "+", strokes, mouse };
  });
}

const WHAT: Record<KeyStepOption, string> = {
  "-k": "KEY",
  "--key": "KEY",
  "--type": "TEXT",
  "--mouse": "DX,DY[,BUTTONS[,WHEEL]]",
  "--mouse-abs": "X,Y[,BUTTONS[,WHEEL]]",
};
const EXAMPLE: Record<KeyStepOption, string> = {
  "-k": "5000:enter",
  "--key": "5000:enter",
  "--type": "2000:root\\n",
  "--mouse": "5000:50,0,1",
  "--mouse-abs": "5000:512,384,1",
};

/** `\n`, `\t` and `\\` in typed text (`--type`, `--send-text`). */
export function unescapeTypedText(text: string): string {
  return text.replace(/\\(.?)/gs, (_, next: string) => {
    if (next === "n") return "\n";
    if (next === "t") return "\t";
    if (next === "\\") return "\\";
    throw new UserError(
      `unknown escape '\\${next}': the escapes are \\n (Enter), \\t (Tab) and \\\\`,
    );
  });
}

/** Parses `--key-interval MS`. */
export function parseKeyInterval(text: string | undefined): number {
  if (text === undefined) return DEFAULT_KEY_INTERVAL_MS;
  if (!/^\d+$/.test(text) || Number(text) > 10_000) {
    throw new UserError(
      `--key-interval ${text}: the pause between keystrokes is 0 to 10000 ms, e.g. --key-interval 50`,
    );
  }
  return Number(text);
}

/** How {@linkcode sendStrokes} reaches the keyboard and waits. */
export interface StrokeSender {
  intervalMs: number;
  /** Queues one packed key event; false when the keyboard's queue is full (or no machine). */
  push(packed: number): boolean;
  sleep(ms: number): Promise<void>;
  stopped(): boolean;
}

/** Sends keystrokes `intervalMs` apart, each key event retried while the keyboard's queue is
 * full: nothing is dropped. Returns early once `stopped()`. */
export async function sendStrokes(strokes: KeyEvent[][], sender: StrokeSender): Promise<void> {
  for (const [index, stroke] of strokes.entries()) {
    if (index > 0) await sender.sleep(sender.intervalMs);
    for (const event of stroke) {
      while (!sender.stopped() && !sender.push(packKey(event))) {
        await sender.sleep(sender.intervalMs || 10);
      }
      if (sender.stopped()) return;
    }
  }
}

/** Where keys go: the running machine's keyboard, or nothing between boots. */
export interface KeyTarget {
  /** Queues one packed key event; false when the keyboard's queue is full. */
  pushKey(packed: number): boolean;
}

/** Where a schedule's keys and mouse moves go. */
export interface ScheduleTarget extends KeyTarget {
  /** Moves the mouse (never refused: motion adds up until the guest reads it). */
  moveMouse(dx: number, dy: number, wheel: number, buttons: number): void;
  /** Puts the absolute pointer on a pixel; false while the guest does not take it yet. */
  pointTo(x: number, y: number, wheel: number, buttons: number): boolean;
}

/** Runs the steps against whatever machine {@linkcode target} is at each moment. */
export class KeySchedule {
  target: ScheduleTarget | undefined;
  readonly #steps: KeyStep[];
  readonly #intervalMs: number;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;
  #done: Promise<void> | undefined;

  constructor(steps: KeyStep[], intervalMs: number) {
    this.#steps = steps;
    this.#intervalMs = intervalMs;
  }

  /** Starts the clock: absolute delays count from now. */
  start(): void {
    if (this.#steps.length === 0) return;
    this.#done ??= this.#run(performance.now());
  }

  /** Ends the schedule where it is; resolves once it has. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#done;
  }

  async #run(started: number): Promise<void> {
    let previousEnd = started;
    for (const step of this.#steps) {
      const due = (step.relative ? previousEnd : started) + step.delayMs;
      if (step.mouse !== undefined) {
        await this.#sleep(due - performance.now());
        // Between boots there is no mouse: the move waits for the next machine.
        while (!this.#stopped && this.target === undefined) await this.#sleep(10);
        if (this.#stopped) return;
        const { dx, dy, wheel, buttons, absolute } = step.mouse;
        if (!absolute) {
          this.target!.moveMouse(dx, dy, wheel, buttons);
        } else {
          // Until the guest's driver has turned the pointer on, the step (and those after it) wait.
          while (!this.#stopped && !(this.target?.pointTo(dx, dy, wheel, buttons) ?? false)) {
            await this.#sleep(10);
          }
        }
      }
      if (step.strokes.length > 0) await this.#sleep(due - performance.now());
      await sendStrokes(step.strokes, {
        intervalMs: this.#intervalMs,
        push: (packed) => this.target?.pushKey(packed) ?? false,
        sleep: (ms) => this.#sleep(ms),
        stopped: () => this.#stopped,
      });
      if (this.#stopped) return;
      previousEnd = performance.now();
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, Math.max(0, ms));
    });
  }
}
