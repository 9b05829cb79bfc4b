/**
 * The serial console's host side: stdin to the guest's COM1 (the guest's output is written to
 * stdout by the native UART directly). On a terminal stdin is raw and Ctrl-A starts an escape:
 * Ctrl-A x quits, Ctrl-A Ctrl-A sends a literal Ctrl-A.
 * @module
 */

const CTRL_A = 0x01;

/** Where console input goes; `send` returns how many bytes the guest accepted. */
export interface ConsoleTarget {
  send(bytes: Uint8Array): number;
}

/** How {@linkcode sendToConsole} waits and knows when to give up. */
export interface ConsoleSender {
  sleep(ms: number): Promise<void>;
  stopped(): boolean;
}

/** How long a full receive buffer is left to drain before the rest is offered again. */
const FULL_RETRY_MS = 5;

/** Hands `bytes` to whatever `target()` is, waiting while its receive buffer is full (or there is
 * no machine, between boots), until all are taken or `stopped()`. */
export async function sendToConsole(
  bytes: Uint8Array,
  target: () => ConsoleTarget | undefined,
  sender: ConsoleSender,
): Promise<void> {
  let rest = bytes;
  while (rest.length > 0 && !sender.stopped()) {
    rest = rest.subarray(target()?.send(rest) ?? 0);
    if (rest.length > 0) await sender.sleep(FULL_RETRY_MS);
  }
}

/** Reads stdin and feeds the current target until stopped or stdin ends. */
export class Console {
  #target: ConsoleTarget | undefined;
  #stopped = false;
  #raw = false;
  #escapePending = false;
  #onQuit: () => void;

  constructor(onQuit: () => void) {
    this.#onQuit = onQuit;
  }

  /** The VM that receives input now (it changes when the guest reboots). */
  set target(target: ConsoleTarget | undefined) {
    this.#target = target;
  }

  /** Starts forwarding stdin; returns at once. */
  start(): void {
    if (Deno.stdin.isTerminal()) {
      Deno.stdin.setRaw(true);
      this.#raw = true;
    }
    this.#pump().catch(() => {/* stdin closed or unreadable: the guest runs on without input */});
  }

  /** Restores the terminal. */
  stop(): void {
    this.#stopped = true;
    if (this.#raw) {
      Deno.stdin.setRaw(false);
      this.#raw = false;
    }
  }

  async #pump(): Promise<void> {
    const buffer = new Uint8Array(4096);
    while (!this.#stopped) {
      const count = await Deno.stdin.read(buffer);
      if (count === null) return;
      const input = this.#raw
        ? this.#filterEscapes(buffer.subarray(0, count))
        : buffer.subarray(0, count);
      await this.#deliver(input);
    }
  }

  #filterEscapes(bytes: Uint8Array): Uint8Array {
    const out: number[] = [];
    for (const byte of bytes) {
      if (this.#escapePending) {
        this.#escapePending = false;
        if (byte === 0x78 /* x */) {
          this.#onQuit();
          return new Uint8Array(out);
        }
        if (byte === CTRL_A) out.push(CTRL_A);
        continue;
      }
      if (byte === CTRL_A) this.#escapePending = true;
      else out.push(byte);
    }
    return new Uint8Array(out);
  }

  /** Hands bytes to the guest, waiting while its receive buffer is full. */
  #deliver(bytes: Uint8Array): Promise<void> {
    return sendToConsole(bytes, () => this.#target, {
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      stopped: () => this.#stopped,
    });
  }
}
