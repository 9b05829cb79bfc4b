/**
 * The control socket, `--monitor unix:PATH`: newline-delimited JSON on a Unix socket only its
 * owner may open (mode 0600). A client sends one command object a line and gets one reply a
 * line, `{"ok":true,…}` or `{"ok":false,"error":"…"}`, with the command's `id` echoed. Commands
 * start in the order sent and run side by side, so a reply comes when its command is done (an
 * `expect` when its pattern is seen) and replies may overtake each other: match them by `id`.
 * Events carry `"event"` instead of `"ok"`.
 *
 * Commands (`"cmd"`): `status`; `screenshot {path}`; `key {keys}` (as `-k`: `ctrl+alt+delete`,
 * `down,enter`); `type {text}` (typed on the keyboard); `send {text}` (COM1 input, sent as
 * is); `mouse {dx, dy, buttons?, wheel?}`; `pointer {x, y, buttons?, wheel?}` (VMware's
 * absolute pointer on a pixel of the screen); `expect {pattern, timeout?}` (COM1 output from now on;
 * text, or `re:REGEX`; the reply comes when it is seen or after `timeout` seconds, default 60);
 * `pause`; `cont`; `quit`. Events: `serial {line}` for each line COM1 prints, `reset {boots}`
 * when the guest reboots, `exit {reason, code}` as vmctl ends.
 * @module
 */
import process from "node:process";
import { UserError } from "./errors.ts";
import { parsePattern, type Pattern } from "./automation.ts";

/** What the monitor's commands act on; run.ts provides it. */
export interface MonitorHandler {
  status(): Record<string, unknown>;
  screenshot(path: string): Promise<void>;
  key(keys: string): Promise<void>;
  type(text: string): Promise<void>;
  send(text: string): Promise<void>;
  mouse(dx: number, dy: number, buttons: number, wheel: number): void;
  /** Puts the absolute pointer on a pixel; false if the guest did not take it in time. */
  pointer(x: number, y: number, buttons: number, wheel: number): Promise<boolean>;
  pause(): void;
  cont(): void;
  quit(): void;
}

type Reply = Record<string, unknown>;

/** Longest command line a client may send. */
const MAX_LINE_BYTES = 1 << 20;
/** A serial line longer than this is sent in pieces. */
const MAX_EVENT_LINE = 4096;
const DEFAULT_EXPECT_S = 60;

/** Checks `--monitor unix:PATH` and returns the path. */
export function parseMonitorSpec(spec: string): string {
  if (!spec.startsWith("unix:") || spec.length === 5) {
    throw new UserError(`--monitor ${spec}: write unix:PATH, e.g. --monitor unix:/tmp/vm.sock`);
  }
  return spec.slice(5);
}

interface Waiter {
  pattern: Pattern;
  resolve: (line: string | undefined) => void;
}

export class Monitor {
  readonly path: string;
  readonly #listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  readonly #clients = new Set<Client>();
  #handler: MonitorHandler | undefined;
  #partialLine = "";
  #pendingText = "";
  #waiters = new Set<Waiter>();
  readonly #decoder = new TextDecoder();
  #accepting: Promise<void>;

  private constructor(path: string, listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>) {
    this.path = path;
    this.#listener = listener;
    this.#accepting = this.#accept();
  }

  /** Creates the socket; refuses a path that exists, unless it is a socket nobody serves. */
  static async open(path: string): Promise<Monitor> {
    let existing: Deno.FileInfo | undefined;
    try {
      existing = Deno.lstatSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new UserError(`--monitor ${path}: ${(error as Error).message}`);
      }
    }
    if (existing !== undefined) {
      if (!existing.isSocket) {
        throw new UserError(
          `--monitor ${path}: the path exists and is not a socket: choose another path`,
        );
      }
      let conn: Deno.UnixConn | undefined;
      try {
        conn = await Deno.connect({ transport: "unix", path });
      } catch {
        // Nobody answers: a socket left by a vmctl that was killed. Take its place.
      }
      if (conn !== undefined) {
        conn.close();
        throw new UserError(
          `--monitor ${path}: another process serves this socket: choose another path`,
        );
      }
      Deno.removeSync(path);
    }
    // Created with mode 0600 from the start: no moment where others may connect.
    const mask = process.umask(0o177);
    try {
      return new Monitor(path, Deno.listen({ transport: "unix", path }));
    } catch (error) {
      throw new UserError(
        `--monitor ${path}: cannot listen there (${(error as Error).message}): check that its ` +
          "folder exists and is writable",
      );
    } finally {
      process.umask(mask);
    }
  }

  set handler(handler: MonitorHandler) {
    this.#handler = handler;
  }

  /** COM1 output: `serial` events for every line, and the `expect` commands waiting. */
  serial(bytes: Uint8Array): void {
    const text = this.#decoder.decode(bytes, { stream: true });
    if (this.#waiters.size > 0) {
      this.#pendingText = (this.#pendingText + text).slice(-(1 << 20));
      for (const waiter of this.#waiters) {
        const hit = waiter.pattern.find(this.#pendingText);
        if (hit !== undefined) {
          this.#waiters.delete(waiter);
          waiter.resolve(this.#pendingText.slice(hit.index, hit.end));
        }
      }
    }
    if (this.#clients.size === 0) return;
    const lines = (this.#partialLine + text).split("\n");
    this.#partialLine = lines.pop()!;
    if (this.#partialLine.length > MAX_EVENT_LINE) {
      lines.push(this.#partialLine);
      this.#partialLine = "";
    }
    for (const line of lines) this.event({ event: "serial", line: line.replace(/\r$/, "") });
  }

  /** Sends an event to every client. */
  event(event: Reply): void {
    const line = `${JSON.stringify(event)}\n`;
    for (const client of this.#clients) client.write(line);
  }

  /** Closes the socket (Deno removes its file) and every connection. */
  async close(): Promise<void> {
    for (const waiter of this.#waiters) waiter.resolve(undefined);
    this.#waiters.clear();
    this.#listener.close();
    for (const client of this.#clients) await client.close();
    await this.#accepting;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const client = new Client(conn, (client, line) => this.#command(client, line));
        this.#clients.add(client);
        client.done.finally(() => this.#clients.delete(client));
      }
    } catch {
      // The listener was closed.
    }
  }

  async #command(client: Client, line: string): Promise<void> {
    let request: Record<string, unknown>;
    try {
      request = JSON.parse(line);
      if (typeof request !== "object" || request === null || Array.isArray(request)) throw 0;
    } catch {
      client.write(`${JSON.stringify({ ok: false, error: "not a JSON object" })}\n`);
      return;
    }
    const id = request.id === undefined ? {} : { id: request.id };
    try {
      const result = await this.#run(request);
      client.write(`${JSON.stringify({ ...id, ok: true, ...result })}\n`);
    } catch (error) {
      const message = error instanceof UserError || error instanceof CommandError
        ? error.message
        : String(error);
      client.write(`${JSON.stringify({ ...id, ok: false, error: message })}\n`);
    }
  }

  async #run(request: Record<string, unknown>): Promise<Reply> {
    const handler = this.#handler;
    if (handler === undefined) throw new CommandError("the machine is not running yet");
    switch (request.cmd) {
      case "status":
        return handler.status();
      case "screenshot":
        await handler.screenshot(stringField(request, "path"));
        return {};
      case "key":
        await handler.key(stringField(request, "keys"));
        return {};
      case "type":
        await handler.type(stringField(request, "text"));
        return {};
      case "send":
        await handler.send(stringField(request, "text"));
        return {};
      case "mouse":
        handler.mouse(
          intField(request, "dx"),
          intField(request, "dy"),
          intField(request, "buttons", 0),
          intField(request, "wheel", 0),
        );
        return {};
      case "pointer": {
        const taken = await handler.pointer(
          intField(request, "x"),
          intField(request, "y"),
          intField(request, "buttons", 0),
          intField(request, "wheel", 0),
        );
        if (!taken) {
          throw new CommandError(
            "the guest has not turned on the absolute pointer (does vmctl run with --vmmouse?)",
          );
        }
        return {};
      }
      case "expect": {
        const pattern = parsePattern("expect", stringField(request, "pattern"));
        const timeout = request.timeout ?? DEFAULT_EXPECT_S;
        if (typeof timeout !== "number" || !(timeout > 0) || timeout > 86_400) {
          throw new CommandError("timeout is a number of seconds, more than 0, up to a day");
        }
        const matched = await this.#expect(pattern, timeout * 1000);
        if (matched === undefined) throw new CommandError(`not seen within ${timeout} s`);
        return { matched };
      }
      case "pause":
        handler.pause();
        return {};
      case "cont":
        handler.cont();
        return {};
      case "quit":
        handler.quit();
        return {};
      default:
        throw new CommandError(
          `unknown cmd ${JSON.stringify(request.cmd)}: the commands are status, screenshot, ` +
            "key, type, send, mouse, pointer, expect, pause, cont, quit",
        );
    }
  }

  #expect(pattern: Pattern, timeoutMs: number): Promise<string | undefined> {
    if (this.#waiters.size === 0) this.#pendingText = "";
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve(undefined);
      }, timeoutMs);
      const waiter: Waiter = {
        pattern,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      this.#waiters.add(waiter);
    });
  }
}

class CommandError extends Error {}

function stringField(request: Record<string, unknown>, name: string): string {
  const value = request[name];
  if (typeof value !== "string") throw new CommandError(`${name} must be a string`);
  return value;
}

function intField(request: Record<string, unknown>, name: string, fallback?: number): number {
  const value = request[name] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new CommandError(`${name} must be a whole number`);
  }
  return value;
}

/** One connection: reads command lines, writes replies and events in order. */
class Client {
  readonly done: Promise<void>;
  readonly #conn: Deno.UnixConn;
  readonly #encoder = new TextEncoder();
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(conn: Deno.UnixConn, onLine: (client: Client, line: string) => Promise<void>) {
    this.#conn = conn;
    this.done = this.#read(onLine);
  }

  write(line: string): void {
    if (this.#closed) return;
    const bytes = this.#encoder.encode(line);
    this.#writing = this.#writing.then(async () => {
      let rest = bytes;
      while (rest.length > 0 && !this.#closed) rest = rest.subarray(await this.#conn.write(rest));
    }).catch(() => {
      this.#closed = true;
    });
  }

  async close(): Promise<void> {
    await this.#writing;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
    await this.done;
  }

  async #read(onLine: (client: Client, line: string) => Promise<void>): Promise<void> {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 << 10);
    let pending = "";
    try {
      while (!this.#closed) {
        const count = await this.#conn.read(buffer);
        if (count === null) break;
        pending += decoder.decode(buffer.subarray(0, count), { stream: true });
        let newline;
        while ((newline = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          // Commands start in the order sent and run side by side: an `expect` waiting for
          // output must not hold up the `cont` that lets the guest print it.
          if (line !== "") onLine(this, line).catch(() => {});
        }
        if (pending.length > MAX_LINE_BYTES) {
          this.write(`${JSON.stringify({ ok: false, error: "line too long" })}\n`);
          break;
        }
      }
    } catch {
      // The connection broke or was closed.
    }
    this.#closed = true;
  }
}
