/**
 * Console automation: steps that wait for the guest and answer it, in command-line order —
 * `--expect PATTERN` (COM1 output), `--expect-screen PATTERN` (the text screen), `--send TEXT`
 * (COM1 input), `--send-keys KEYS` and `--send-text TEXT` (the PS/2 keyboard), `--send-mouse
 * DX,DY[,BUTTONS[,WHEEL]]` (the PS/2 mouse), `--boot-command` (Packer's form: text, `<enter>`,
 * `<wait5>`, `<leftCtrlOn>`…) — each expect with
 * the `--expect-timeout` given before it; and watches that end the run at once: `--fail-on
 * PATTERN` (exit 4; `--fail-on-panic` adds Linux's panic line) and `--success-on PATTERN`
 * (exit 0).
 *
 * A pattern is literal text, or a regular expression after `re:`. Serial expects consume what
 * they match: the next one looks only at output after it. A screen expect looks at the screen
 * as it is, whenever it changes. Steps run across guest reboots; the watches see every byte.
 * @module
 */
import { sendToConsole } from "./console.ts";
import { UserError } from "./errors.ts";
import {
  type BootCommandItem,
  bootCommandItems,
  comboEvents,
  type KeyEvent,
  textEvents,
} from "./keys.ts";
import { type MouseMove, parseMouseMove, sendStrokes, unescapeTypedText } from "./key_schedule.ts";

/** The options that make steps, as config.ts names them; order matters among them. */
export const AUTOMATION_STEP_OPTIONS = [
  "--expect",
  "--expect-screen",
  "--send",
  "--send-keys",
  "--send-text",
  "--send-mouse",
  "--boot-command",
  "--expect-timeout",
] as const;
export type AutomationStepOption = typeof AUTOMATION_STEP_OPTIONS[number];

export const DEFAULT_EXPECT_TIMEOUT_S = 60;
/** What `--fail-on-panic` watches for. */
export const PANIC_LINE = "Kernel panic - not syncing";
/** Serial output kept for the watches and for the lines shown when an expect fails. */
const RECENT_CHARS = 16 << 10;
/** How long a `--fail-on`/`--success-on` match waits for the rest of its line. */
const LINE_END_WAIT_MS = 200;
/** Serial output an expect keeps waiting in: a pattern longer than this is never found. */
const PENDING_CHARS = 1 << 20;

export interface Pattern {
  /** As the user wrote it. */
  source: string;
  find(text: string): { index: number; end: number } | undefined;
}

export type AutomationStep =
  | { kind: "expect"; on: "serial" | "screen"; pattern: Pattern; timeoutMs: number; label: string }
  | { kind: "send"; bytes: Uint8Array; label: string }
  | { kind: "keys"; strokes: KeyEvent[][]; label: string }
  | { kind: "mouse"; move: MouseMove; label: string }
  | { kind: "boot_command"; items: BootCommandItem[]; label: string };

export interface AutomationConfig {
  steps: AutomationStep[];
  failOn: Pattern[];
  successOn: Pattern[];
}

/** How the automation ended the run. */
export type AutomationOutcome =
  | {
    kind: "expect_failed";
    step: number;
    label: string;
    timeoutMs: number;
    /** The last lines of what the step was looking at. */
    lastLines: string[];
  }
  | { kind: "fail_on"; pattern: string; line: string }
  | { kind: "success_on"; pattern: string; line: string };

/** Parses a pattern: literal text, or `re:REGEX`. */
export function parsePattern(option: string, text: string): Pattern {
  if (text === "") throw new UserError(`${option} needs a pattern: text, or re:REGEX`);
  if (text.startsWith("re:")) {
    let regex: RegExp;
    try {
      regex = new RegExp(text.slice(3), "m");
    } catch (error) {
      throw new UserError(
        `${option} ${text}: not a regular expression (${(error as Error).message}); ` +
          `drop the 're:' prefix to match the text literally`,
      );
    }
    return {
      source: text,
      find(haystack) {
        const match = regex.exec(haystack);
        return match === null ? undefined : {
          index: match.index,
          end: match.index + Math.max(match[0].length, 1),
        };
      },
    };
  }
  return {
    source: text,
    find(haystack) {
      const index = haystack.indexOf(text);
      return index < 0 ? undefined : { index, end: index + text.length };
    },
  };
}

/** Parses the step options in the order given, and the watches. */
export function parseAutomation(
  entries: [AutomationStepOption, string][],
  failOn: string[],
  successOn: string[],
  failOnPanic: boolean,
): AutomationConfig {
  const steps: AutomationStep[] = [];
  let timeoutMs = DEFAULT_EXPECT_TIMEOUT_S * 1000;
  for (const [option, value] of entries) {
    const label = `${option} ${JSON.stringify(value)}`;
    try {
      switch (option) {
        case "--expect-timeout":
          timeoutMs = parseExpectTimeout(value);
          break;
        case "--expect":
        case "--expect-screen":
          steps.push({
            kind: "expect",
            on: option === "--expect" ? "serial" : "screen",
            pattern: parsePattern(option, value),
            timeoutMs,
            label,
          });
          break;
        case "--send":
          steps.push({ kind: "send", bytes: unescapeSerial(value), label });
          break;
        case "--send-keys":
          if (value === "") throw new UserError("give keys, e.g. --send-keys ctrl+x or down,enter");
          steps.push({ kind: "keys", strokes: value.split(",").map(comboEvents), label });
          break;
        case "--send-text":
          steps.push({ kind: "keys", strokes: textEvents(unescapeTypedText(value)), label });
          break;
        case "--send-mouse":
          steps.push({ kind: "mouse", move: parseMouseMove(value), label });
          break;
        case "--boot-command":
          steps.push({ kind: "boot_command", items: bootCommandItems(value), label });
          break;
      }
    } catch (error) {
      if (!(error instanceof UserError) || error.message.startsWith(`${option} `)) throw error;
      throw new UserError(`${option} ${value}: ${error.message}`);
    }
  }
  const fails = failOn.map((text) => parsePattern("--fail-on", text));
  if (failOnPanic) fails.push(parsePattern("--fail-on-panic", PANIC_LINE));
  return { steps, failOn: fails, successOn: successOn.map((t) => parsePattern("--success-on", t)) };
}

function parseExpectTimeout(text: string): number {
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(seconds > 0) || seconds > 86_400) {
    throw new UserError(
      "the expect timeout is a positive number of seconds up to a day, e.g. --expect-timeout 30",
    );
  }
  return seconds * 1000;
}

const SERIAL_ESCAPES: Record<string, number> = { n: 10, r: 13, t: 9, e: 27, "\\": 92 };

/** `--send` text as bytes: UTF-8, with `\n`, `\r`, `\t`, `\e`, `\\` and `\xHH`. */
function unescapeSerial(text: string): Uint8Array {
  const out: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char !== "\\") {
      const code = text.codePointAt(i)!;
      if (code > 0xffff) i++;
      out.push(...encoder.encode(String.fromCodePoint(code)));
      continue;
    }
    const next = text[i + 1] ?? "";
    if (next in SERIAL_ESCAPES) {
      out.push(SERIAL_ESCAPES[next]);
      i++;
    } else if (next === "x" && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
      out.push(parseInt(text.slice(i + 2, i + 4), 16));
      i += 3;
    } else {
      throw new UserError(
        `unknown escape '\\${next}': the escapes are \\n, \\r, \\t, \\e (Esc), \\\\ and \\xHH`,
      );
    }
  }
  return new Uint8Array(out);
}

/** The running machine as the automation sees it. */
export interface AutomationTarget {
  /** Queues COM1 input; returns how many bytes fit. */
  send(bytes: Uint8Array): number;
  /** Queues one packed key event; false when the keyboard's queue is full. */
  pushKey(packed: number): boolean;
  /** Moves the mouse (motion adds up until the guest reads it). */
  moveMouse(dx: number, dy: number, wheel: number, buttons: number): void;
  /** The text screen as lines; empty in graphics modes. */
  textScreen(): string;
}

/** Runs the steps and the watches against whatever machine {@linkcode target} is. */
export class Automation {
  target: AutomationTarget | undefined;
  readonly #config: AutomationConfig;
  readonly #intervalMs: number;
  readonly #onOutcome: (outcome: AutomationOutcome) => void;
  readonly #decoder = new TextDecoder();
  /** Serial output not yet consumed by an expect. */
  #pending = "";
  /** The last RECENT_CHARS of serial output. */
  #recent = "";
  #finished = false;
  /** A watch's match whose line has not ended yet, and the timer that stops waiting for it. */
  #held: Extract<AutomationOutcome, { kind: "fail_on" | "success_on" }> | undefined;
  #heldTimer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;
  #done: Promise<void> | undefined;

  constructor(
    config: AutomationConfig,
    intervalMs: number,
    onOutcome: (outcome: AutomationOutcome) => void,
  ) {
    this.#config = config;
    this.#intervalMs = intervalMs;
    this.#onOutcome = onOutcome;
  }

  /** Whether the serial console must be watched. */
  get watchesSerial(): boolean {
    return this.#config.failOn.length > 0 || this.#config.successOn.length > 0 ||
      this.#config.steps.some((step) => step.kind === "expect" && step.on === "serial");
  }

  /** Whether the screen must be watched. */
  get watchesScreen(): boolean {
    return this.#config.steps.some((step) => step.kind === "expect" && step.on === "screen");
  }

  /** Starts the steps; expect timeouts count from when each step begins. */
  start(): void {
    if (this.#config.steps.length === 0) return;
    this.#done ??= this.#run();
  }

  /** Ends the automation where it is; resolves once it has. */
  async stop(): Promise<void> {
    this.#finished = true;
    this.#poke();
    await this.#done;
  }

  /** COM1 output from the guest, in order. */
  serial(bytes: Uint8Array): void {
    if (this.#finished) return;
    const text = this.#decoder.decode(bytes, { stream: true });
    const held = this.#held;
    if (held !== undefined) {
      const end = text.indexOf("\n");
      held.line += (end < 0 ? text : text.slice(0, end)).replace(/\r$/, "");
      if (end >= 0) this.#finish(held);
      return;
    }
    const before = this.#recent.length;
    this.#recent += text;
    this.#checkWatches(Math.max(0, before - this.#longestWatch()));
    if (this.#recent.length > 2 * RECENT_CHARS) this.#recent = this.#recent.slice(-RECENT_CHARS);
    this.#pending += text;
    if (this.#pending.length > 2 * PENDING_CHARS) {
      this.#pending = this.#pending.slice(-PENDING_CHARS);
    }
    this.#poke();
  }

  /** The screen may have changed. */
  screenChanged(): void {
    this.#poke();
  }

  #longestWatch(): number {
    // Literal patterns can straddle chunks; a regular expression is looked for in all of
    // #recent, which holds the line it is on unless that line is longer than RECENT_CHARS.
    const all = [...this.#config.failOn, ...this.#config.successOn];
    if (all.some((pattern) => pattern.source.startsWith("re:"))) return this.#recent.length;
    return Math.max(0, ...all.map((pattern) => pattern.source.length - 1));
  }

  #checkWatches(from: number): void {
    const text = this.#recent.slice(from);
    for (
      const [kind, patterns] of [["fail_on", this.#config.failOn], [
        "success_on",
        this.#config.successOn,
      ]] as const
    ) {
      for (const pattern of patterns) {
        const hit = pattern.find(text);
        if (hit === undefined) continue;
        const at = from + hit.index;
        const line = lineAround(this.#recent, at);
        const outcome = { kind, pattern: pattern.source, line };
        if (this.#recent.indexOf("\n", at) >= 0) {
          this.#finish(outcome);
        } else {
          // The line is still coming: wait a moment for its end, so the message shows it all.
          this.#held = outcome;
          this.#heldTimer = setTimeout(() => this.#finish(outcome), LINE_END_WAIT_MS);
        }
        return;
      }
    }
  }

  #finish(outcome: AutomationOutcome): void {
    clearTimeout(this.#heldTimer);
    if (this.#finished) return;
    this.#finished = true;
    this.#poke();
    this.#onOutcome(outcome);
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #run(): Promise<void> {
    for (const [index, step] of this.#config.steps.entries()) {
      if (this.#finished) return;
      if (step.kind === "expect") {
        if (!(await this.#expect(step))) {
          const lastLines = step.on === "serial"
            ? lastLinesOf(this.#recent)
            : lastLinesOf(this.target?.textScreen() ?? "");
          this.#finish({
            kind: "expect_failed",
            step: index + 1,
            label: step.label,
            timeoutMs: step.timeoutMs,
            lastLines,
          });
          return;
        }
      } else if (step.kind === "send") {
        await this.#send(step.bytes);
      } else if (step.kind === "boot_command") {
        await this.#bootCommand(step.items);
      } else if (step.kind === "mouse") {
        while (!this.#finished && this.target === undefined) await this.#sleep(10);
        const { dx, dy, wheel, buttons } = step.move;
        this.target?.moveMouse(dx, dy, wheel, buttons);
      } else {
        await this.#keys(step.strokes);
      }
    }
  }

  /** Waits for the step's pattern; false when its timeout passes first. */
  async #expect(step: Extract<AutomationStep, { kind: "expect" }>): Promise<boolean> {
    const deadline = performance.now() + step.timeoutMs;
    while (!this.#finished) {
      if (step.on === "serial") {
        const hit = step.pattern.find(this.#pending);
        if (hit !== undefined) {
          this.#pending = this.#pending.slice(hit.end);
          return true;
        }
      } else if (this.target && step.pattern.find(this.target.textScreen()) !== undefined) {
        return true;
      }
      const left = deadline - performance.now();
      if (left <= 0) return false;
      // Woken by output, a screen change or stop; the screen is also looked at twice a second,
      // since a new machine after a reboot starts its own screen watch.
      await this.#sleep(step.on === "screen" ? Math.min(left, 500) : left);
    }
    return true;
  }

  #send(bytes: Uint8Array): Promise<void> {
    return sendToConsole(bytes, () => this.target, {
      sleep: (ms) => this.#sleep(ms),
      stopped: () => this.#finished,
    });
  }

  /** Keystrokes `--key-interval` apart, as Packer's boot command types them, and its pauses. */
  async #bootCommand(items: BootCommandItem[]): Promise<void> {
    let previous: BootCommandItem["kind"] | undefined;
    for (const item of items) {
      if (this.#finished) return;
      if (item.kind === "wait") {
        await this.#sleep(item.ms);
      } else {
        if (previous === "stroke") await this.#sleep(this.#intervalMs);
        await this.#keys([item.events]);
      }
      previous = item.kind;
    }
  }

  async #keys(strokes: KeyEvent[][]): Promise<void> {
    await sendStrokes(strokes, {
      intervalMs: this.#intervalMs,
      push: (packed) => this.target?.pushKey(packed) ?? false,
      sleep: (ms) => this.#sleep(ms),
      stopped: () => this.#finished,
    });
  }

  #sleep(ms: number): Promise<void> {
    if (this.#finished) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, Math.max(0, ms));
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** The line of `text` that holds `index`, without its line end. */
function lineAround(text: string, index: number): string {
  const start = text.lastIndexOf("\n", index) + 1;
  const end = text.indexOf("\n", index);
  return text.slice(start, end < 0 ? undefined : end).replace(/\r$/, "");
}

/** The last 10 non-blank lines. */
function lastLinesOf(text: string): string[] {
  return text.split("\n").map((line) => line.replace(/\r$/, "")).filter((line) =>
    line.trim() !== ""
  ).slice(-10);
}
