// Helpers for the tests that boot Debian's kernel with the busybox test initramfs under the vmctl
// CLI on a real /dev/kvm (the test runner puts those tests in the nested box when the host has
// none). Each linux_*_test.ts file runs in a box of its own, so a box that dies costs little.
//
// The test guest's /init prints `mem_total_kb=<MemTotal>` and VMCTL-TEST-READY, then does what
// `vmctl_test=` on the kernel command line says: poweroff, reboot, hang or shell.
// VMCTL_TEST_KERNEL and VMCTL_TEST_INITRD (set by tests/run.ts) skip the cache look-ups.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { debianKernel } from "../../tools/debian.ts";
import { testInitramfs } from "../../tools/guest_images.ts";

export { TEST_READY_MARKER } from "../../tools/guest_images.ts";

const MAIN_TS = fileURLToPath(new URL("../../main.ts", import.meta.url));
/** A vmctl that takes longer than this is stuck: it is killed and the test fails. */
const HARD_TIMEOUT_MS = 180_000;
/** vmctl's own limit for guests that should power off by themselves (`-t`). */
export const GUEST_LIMIT_S = "120";

interface Guest {
  kernel: string;
  initrd: string;
}

let guestPromise: Promise<Guest> | undefined;

function guest(): Promise<Guest> {
  guestPromise ??= (async () => ({
    kernel: Deno.env.get("VMCTL_TEST_KERNEL") ?? (await debianKernel()).vmlinuz,
    initrd: Deno.env.get("VMCTL_TEST_INITRD") ?? await testInitramfs(),
  }))();
  return guestPromise;
}

export interface Finished {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  /** vmctl outlived HARD_TIMEOUT_MS and was killed with SIGKILL. */
  hung: boolean;
}

/** One vmctl process: its output as it comes, its stdin, a hard time limit. */
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

  constructor(args: string[], opts: { stdin?: boolean } = {}) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN_TS, "run", ...args],
      stdin: opts.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (opts.stdin) this.#stdin = this.#child.stdin.getWriter();
    this.#pumps = [
      this.#pump(this.#child.stdout, (text) => (this.stdout += text), true),
      this.#pump(this.#child.stderr, (text) => (this.stderr += text), false),
    ];
    this.#hardTimer = setTimeout(() => {
      this.#hung = true;
      this.kill("SIGKILL");
    }, HARD_TIMEOUT_MS);
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

  async type(text: string): Promise<void> {
    assert.ok(this.#stdin, "vmctl was started without a stdin pipe");
    await this.#stdin.write(new TextEncoder().encode(text));
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
    await this.#stdin?.close().catch(() => {});
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

export function tail(text: string, lines = 25): string {
  return text.split("\n").slice(-lines).join("\n");
}

export function describe(run: Finished): string {
  return `vmctl exit code ${run.code}${run.signal ? ` (signal ${run.signal})` : ""} after ` +
    `${(run.elapsedMs / 1000).toFixed(1)} s${
      run.hung ? ", killed: it outlived the hard limit" : ""
    }` +
    `\n--- stdout (tail) ---\n${tail(run.stdout)}\n--- stderr (tail) ---\n${tail(run.stderr)}`;
}

export function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

export async function bootArgs(mode: string, extra: string[] = []): Promise<string[]> {
  const { kernel, initrd } = await guest();
  return [
    ...extra,
    "--kernel",
    kernel,
    "--initrd",
    initrd,
    "--append",
    // quiet: kernel messages cross the emulated UART one exit per byte, slow in the nested box.
    `console=ttyS0 quiet vmctl_test=${mode}`,
  ];
}
