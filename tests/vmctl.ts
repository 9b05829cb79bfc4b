/**
 * Running the vmctl CLI from tests: as a child process, exactly as a user would — its output as
 * it comes, its stdin, signals, and a hard time limit so a hung vmctl fails its test, not the
 * suite.
 * @module
 */
import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** A vmctl that takes longer than this (unless told otherwise) is stuck: killed, and it fails. */
const HARD_TIMEOUT_MS = 180_000;

/** What a finished vmctl run left behind. */
export interface Finished {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  /** vmctl outlived its hard limit and was killed with SIGKILL. */
  hung: boolean;
}

/** The older name of {@linkcode Finished}. */
export type VmctlResult = Finished;

export interface VmctlOptions {
  /** A pipe to vmctl's stdin, for {@linkcode Vmctl.type}. */
  stdin?: boolean;
  env?: Record<string, string>;
  /** A command prefix, e.g. to run vmctl with fewer privileges. */
  wrapper?: string[];
  /** The hard limit (default 180 s). */
  limitMs?: number;
  /** The subcommand before `args` (default `run`); null for none. */
  subcommand?: string | null;
}

/** One vmctl process: `vmctl run ARGS` unless the options say otherwise. */
export class Vmctl {
  stdout = "";
  stderr = "";
  readonly #child: Deno.ChildProcess;
  readonly #started = performance.now();
  readonly #pumps: Promise<void>[];
  readonly #stdin?: WritableStreamDefaultWriter<Uint8Array>;
  #waiters: (() => void)[] = [];
  #hung = false;
  #hardTimer: ReturnType<typeof setTimeout>;
  #closed = false;

  constructor(args: string[], options: VmctlOptions = {}) {
    const subcommand = options.subcommand === undefined ? "run" : options.subcommand;
    const argv = [
      ...(options.wrapper ?? []),
      ...[Deno.execPath(), "run", "-A", MAIN],
      ...(subcommand === null ? [] : [subcommand]),
      ...args,
    ];
    this.#child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      env: options.env,
    }).spawn();
    if (options.stdin) this.#stdin = this.#child.stdin.getWriter();
    this.#pumps = [
      this.#pump(this.#child.stdout, (text) => (this.stdout += text), true),
      this.#pump(this.#child.stderr, (text) => (this.stderr += text), false),
    ];
    this.#hardTimer = setTimeout(() => {
      this.#hung = true;
      this.kill("SIGKILL");
    }, options.limitMs ?? HARD_TIMEOUT_MS);
  }

  async #pump(
    stream: ReadableStream<Uint8Array>,
    add: (text: string) => void,
    isStdout: boolean,
  ): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      add(decoder.decode(chunk, { stream: true }));
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }
    add(decoder.decode());
    if (!isStdout) return;
    this.#closed = true;
    for (const wake of this.#waiters) wake();
  }

  /** Waits until `ready(stdout)` holds; false if it did not within `ms` or stdout closed. */
  async waitForStdout(ready: (stdout: string) => boolean, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!ready(this.stdout)) {
      const left = deadline - performance.now();
      if (left <= 0 || this.#closed) return ready(this.stdout);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((wake) => {
        this.#waiters.push(wake);
        timer = setTimeout(wake, left);
      });
      clearTimeout(timer);
    }
    return true;
  }

  /** Writes `text` to vmctl's stdin (the guest's serial input). */
  async type(text: string): Promise<void> {
    assert.ok(this.#stdin, "vmctl was started without a stdin pipe");
    await this.#stdin.write(new TextEncoder().encode(text));
  }

  /** Closes vmctl's stdin (end of input). */
  async closeStdin(): Promise<void> {
    await this.#stdin?.close().catch(() => {});
  }

  kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // already gone
    }
  }

  /** Waits for the process to end (at most until the hard limit) and for all its output. */
  async finish(): Promise<Finished> {
    const status = await this.#child.status;
    clearTimeout(this.#hardTimer);
    await this.closeStdin();
    await Promise.all(this.#pumps);
    return {
      code: status.code,
      signal: status.signal,
      stdout: this.stdout,
      stderr: this.stderr,
      elapsedMs: performance.now() - this.#started,
      hung: this.#hung,
    };
  }
}

/**
 * Runs `vmctl ARGS` (the subcommand included) to its end: with `stdin` written and closed, and
 * SIGTERM sent once its stdout satisfies `terminateWhen`.
 */
export async function runVmctl(
  args: string[],
  options: Omit<VmctlOptions, "stdin" | "subcommand"> & {
    stdin?: string;
    /** Sends SIGTERM to vmctl once its stdout so far satisfies this. */
    terminateWhen?: (stdout: string) => boolean;
  } = {},
): Promise<Finished> {
  const vmctl = new Vmctl(args, {
    ...options,
    stdin: options.stdin !== undefined,
    subcommand: null,
    limitMs: options.limitMs ?? 120_000,
  });
  if (options.stdin !== undefined) {
    await vmctl.type(options.stdin);
    await vmctl.closeStdin();
  }
  if (options.terminateWhen) {
    if (await vmctl.waitForStdout(options.terminateWhen, options.limitMs ?? 120_000)) {
      vmctl.kill("SIGTERM");
    }
  }
  return await vmctl.finish();
}

/** The last `lines` lines of `text`. */
export function tail(text: string, lines = 25): string {
  return text.split("\n").slice(-lines).join("\n");
}

/** How a run ended and the tails of its output: the message of a failed assertion. */
export function describe(run: Finished): string {
  return `vmctl exit code ${run.code}${run.signal ? ` (signal ${run.signal})` : ""} after ` +
    `${(run.elapsedMs / 1000).toFixed(1)} s${
      run.hung ? ", killed: it outlived the hard limit" : ""
    }` +
    `\n--- stdout (tail) ---\n${tail(run.stdout)}\n--- stderr (tail) ---\n${tail(run.stderr)}`;
}

/** Counts the non-overlapping occurrences of `needle` in `text`. */
export function countOccurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/**
 * `vmctl run ARGS -g` on a `columns`×`rows` pseudo-terminal of script(1), as a user's terminal:
 * stdin (when `stdin` is "piped") is what they type, stdout is what the terminal gets.
 */
export function vmctlOnTerminal(
  args: string[],
  size: { columns: number; rows: number },
  streams: { stdin: "piped" | "null"; stdout: "piped" | "null" },
): Deno.ChildProcess {
  const argv = [Deno.execPath(), "run", "-A", MAIN, "run", ...args, "-g"];
  const quoted = argv.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(" ");
  return new Deno.Command("script", {
    args: ["-qfec", `stty cols ${size.columns} rows ${size.rows}; exec ${quoted}`, "/dev/null"],
    ...streams,
    stderr: "null",
    env: { TERM: "xterm-256color" },
  }).spawn();
}

/** A control-socket client: commands with ids, replies matched to them, events in order. */
export class MonitorClient {
  readonly events: Record<string, unknown>[] = [];
  readonly #conn: Deno.UnixConn;
  readonly #replies = new Map<number, (reply: Record<string, unknown>) => void>();
  readonly #eventWaiters: (() => void)[] = [];
  #nextId = 1;
  readonly reading: Promise<void>;

  constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
    this.reading = this.#read();
  }

  static async connect(path: string, deadlineMs: number): Promise<MonitorClient> {
    const deadline = performance.now() + deadlineMs;
    for (;;) {
      try {
        return new MonitorClient(await Deno.connect({ transport: "unix", path }));
      } catch (error) {
        if (performance.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  async command(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const reply = new Promise<Record<string, unknown>>((resolve) => this.#replies.set(id, resolve));
    await this.raw(`${JSON.stringify({ id, ...request })}\n`);
    return reply;
  }

  async raw(line: string): Promise<void> {
    const bytes = new TextEncoder().encode(line);
    let rest = bytes;
    while (rest.length > 0) rest = rest.subarray(await this.#conn.write(rest));
  }

  /** Waits for an event satisfying `match`, among those already seen or still to come. */
  async event(match: (event: Record<string, unknown>) => boolean, ms: number) {
    const deadline = performance.now() + ms;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (performance.now() > deadline) {
        assert.fail(`no such event in ${JSON.stringify(this.events.slice(-20))}`);
      }
      await new Promise<void>((resolve) => {
        this.#eventWaiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(65536);
    let pending = "";
    for (;;) {
      const count = await this.#conn.read(buffer).catch(() => null);
      if (count === null) return;
      pending += decoder.decode(buffer.subarray(0, count), { stream: true });
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const message = JSON.parse(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        if ("event" in message) {
          this.events.push(message);
          for (const wake of this.#eventWaiters.splice(0)) wake();
        } else {
          this.#replies.get(message.id)?.(message);
          this.#replies.delete(message.id);
        }
      }
    }
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // closed by vmctl already
    }
  }
}
