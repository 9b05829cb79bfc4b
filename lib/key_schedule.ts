/**
 * Scheduled keystrokes: `-k DELAY_MS:KEY[,KEY…]`, `--key DELAY_MS:KEY` and `--type DELAY_MS:TEXT`,
 * in command-line order. A delay counts from the VM's start, or with a leading `+` from the end
 * of the step before. Within a step, keystrokes go out `--key-interval` ms apart (Packer's
 * 100 ms by default); a keystroke is its keys' presses and releases, which the keyboard hands
 * the guest one key at a time as it reads them. Nothing is dropped: when the keyboard's queue is
 * full (a guest that does not read its keyboard), the schedule waits and tries again.
 * @module
 */
import { UserError } from "./errors.ts";
import { comboEvents, type KeyEvent, packKey, textEvents } from "./keys.ts";

/** The options that make steps, as config.ts names them. */
export const KEY_STEP_OPTIONS = ["-k", "--key", "--type"] as const;
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
}

/** Parses the key options in the order given: `[option, value]` pairs. */
export function parseKeySteps(entries: [KeyStepOption, string][]): KeyStep[] {
  return entries.map(([option, value]) => {
    const match = /^(\+?)(\d+):(.+)$/s.exec(value);
    if (match === null) {
      throw new UserError(
        `${option} ${value}: write DELAY_MS:${option === "--type" ? "TEXT" : "KEY"}, e.g. ` +
          `${option} ${option === "--type" ? "2000:root\\n" : "5000:enter"}, or +DELAY_MS:… ` +
          `to count from the step before`,
      );
    }
    const [, plus, digits, rest] = match;
    const delayMs = Number(digits);
    if (delayMs > MAX_DELAY_MS) {
      throw new UserError(`${option} ${value}: a delay of ${digits} ms is over a day`);
    }
    let strokes: KeyEvent[][];
    try {
      if (option === "--type") strokes = textEvents(unescape(rest));
      else if (option === "-k") strokes = rest.split(",").map((spec) => comboEvents(spec));
      else strokes = [comboEvents(rest)];
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      throw new UserError(`${option} ${value}: ${error.message}`);
    }
    return { delayMs, relative: plus === "+", strokes };
  });
}

/** `\n`, `\t` and `\\` in --type text. */
function unescape(text: string): string {
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

/** Where keys go: the running machine's keyboard, or nothing between boots. */
export interface KeyTarget {
  /** Queues one packed key event; false when the keyboard's queue is full. */
  pushKey(packed: number): boolean;
}

/** Runs the steps against whatever machine {@linkcode target} is at each moment. */
export class KeySchedule {
  target: KeyTarget | undefined;
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
      for (const [index, stroke] of step.strokes.entries()) {
        if (index > 0) await this.#sleep(this.#intervalMs);
        else await this.#sleep(due - performance.now());
        for (const event of stroke) {
          while (!this.#stopped && !(this.target?.pushKey(packKey(event)) ?? false)) {
            await this.#sleep(this.#intervalMs || 10);
          }
          if (this.#stopped) return;
        }
      }
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
