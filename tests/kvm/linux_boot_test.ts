// Boots Debian's kernel with the busybox test initramfs under the vmctl CLI on a real /dev/kvm
// (the test runner puts these tests in the nested box when the host has none).
//
// The test guest's /init prints `mem_total_kb=<MemTotal>` and VMCTL-TEST-READY, then does what
// `vmctl_test=` on the kernel command line says: poweroff, reboot, hang or shell.
// VMCTL_TEST_KERNEL and VMCTL_TEST_INITRD (set by tests/run.ts) skip the cache look-ups.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { debianKernel } from "../../tools/debian.ts";
import { TEST_READY_MARKER, testInitramfs } from "../../tools/guest_images.ts";

const MAIN_TS = fileURLToPath(new URL("../../main.ts", import.meta.url));
/** A vmctl that takes longer than this is stuck: it is killed and the test fails. */
const HARD_TIMEOUT_MS = 180_000;
/** vmctl's own limit for guests that should power off by themselves (`-t`). */
const GUEST_LIMIT_S = "120";

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

interface Finished {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  /** vmctl outlived HARD_TIMEOUT_MS and was killed with SIGKILL. */
  hung: boolean;
}

/** One vmctl process: its output as it comes, its stdin, a hard time limit. */
class Vmctl {
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

function tail(text: string, lines = 25): string {
  return text.split("\n").slice(-lines).join("\n");
}

function describe(run: Finished): string {
  return `vmctl exit code ${run.code}${run.signal ? ` (signal ${run.signal})` : ""} after ` +
    `${(run.elapsedMs / 1000).toFixed(1)} s${
      run.hung ? ", killed: it outlived the hard limit" : ""
    }` +
    `\n--- stdout (tail) ---\n${tail(run.stdout)}\n--- stderr (tail) ---\n${tail(run.stderr)}`;
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

async function bootArgs(mode: string, extra: string[] = []): Promise<string[]> {
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

Deno.test("a guest that powers off ends vmctl with exit code 0", async () => {
  const run = await new Vmctl(await bootArgs("poweroff", ["-t", GUEST_LIMIT_S])).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 0, describe(run));
  assert.ok(run.stdout.includes(TEST_READY_MARKER), `no ready marker on stdout\n${describe(run)}`);
  assert.match(run.stdout, /mem_total_kb=\d+/, describe(run));
});

Deno.test("a hanging guest is stopped by -t with exit code 2", async () => {
  const run = await new Vmctl(await bootArgs("hang", ["-r", "256", "-t", "5"])).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 2, describe(run));
  assert.ok(run.elapsedMs >= 5_000, `stopped too early\n${describe(run)}`);
  assert.ok(run.elapsedMs < 15_000, `-t 5 took too long to stop the guest\n${describe(run)}`);
});

Deno.test("stdin reaches the guest's serial console and the shell answers", async () => {
  const vmctl = new Vmctl(await bootArgs("shell", ["-r", "256", "-t", GUEST_LIMIT_S]), {
    stdin: true,
  });
  try {
    const ready = await vmctl.waitForStdout((out) => out.includes(TEST_READY_MARKER), 120_000);
    assert.ok(ready, `the guest never printed the ready marker\n${tail(vmctl.stdout)}`);
    await vmctl.type("echo answer-$((6*7))\n");
    const answered = await vmctl.waitForStdout((out) => out.includes("answer-42"), 60_000);
    assert.ok(answered, `the shell never answered\n${tail(vmctl.stdout)}`);
    await vmctl.type("poweroff -f\n");
  } catch (error) {
    vmctl.kill("SIGKILL");
    await vmctl.finish();
    throw error;
  }
  const run = await vmctl.finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 0, describe(run));
});

Deno.test("a rebooting guest with --no-reboot ends vmctl with exit code 0", async () => {
  const args = await bootArgs("reboot", ["-r", "256", "-t", GUEST_LIMIT_S, "--no-reboot"]);
  const run = await new Vmctl(args).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 0, describe(run));
  assert.equal(count(run.stdout, TEST_READY_MARKER), 1, `marker count\n${describe(run)}`);
});

Deno.test("a rebooting guest boots again, and SIGTERM stops vmctl cleanly", async () => {
  const vmctl = new Vmctl(await bootArgs("reboot", ["-r", "256", "-t", GUEST_LIMIT_S]));
  const twice = await vmctl.waitForStdout(
    (out) => count(out, TEST_READY_MARKER) >= 2,
    150_000,
  );
  vmctl.kill("SIGTERM");
  const run = await vmctl.finish();
  assert.ok(twice, `the guest did not come up a second time\n${describe(run)}`);
  assert.ok(!run.hung, describe(run));
  assert.equal(run.signal, null, `vmctl died of a signal instead of exiting\n${describe(run)}`);
  assert.equal(run.code, 143, describe(run));
  assert.match(run.stderr, /stopped by SIGTERM/, describe(run));
});

Deno.test("-r 64 is too small for Debian's kernel: exit 1 with one line saying so", async () => {
  const run = await new Vmctl(await bootArgs("poweroff", ["-r", "64", "-t", GUEST_LIMIT_S]))
    .finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 1, describe(run));
  assert.match(run.stderr, /^vmctl: .* does not fit in 64 MiB of RAM: raise -r\n$/, describe(run));
  assert.equal(run.stdout, "", describe(run));
});

// MemTotal excludes what the kernel keeps for itself: Debian's 6.1 kernel holds ~48 MiB (its
// image, bss, early tables) plus ~1.6% for the page array. It does not boot in 64 MiB (it runs out
// of memory parsing its BTF), so 128 MiB is the smallest size tested.
for (const mib of [128, 256, 3500]) {
  Deno.test(`-r ${mib} gives the guest ${mib} MiB of memory`, async () => {
    const args = await bootArgs("poweroff", ["-r", String(mib), "-t", GUEST_LIMIT_S]);
    const run = await new Vmctl(args).finish();
    assert.ok(!run.hung, describe(run));
    assert.equal(run.code, 0, describe(run));
    assert.ok(run.stdout.includes(TEST_READY_MARKER), `no ready marker\n${describe(run)}`);
    const found = run.stdout.match(/mem_total_kb=(\d+)/);
    assert.ok(found, `no mem_total_kb line\n${describe(run)}`);
    const totalKib = Number(found[1]);
    const lowKib = (mib * 0.9 - 64) * 1024;
    assert.ok(
      totalKib > lowKib && totalKib <= mib * 1024,
      `MemTotal ${totalKib} KiB is not plausible for -r ${mib} (expected ${lowKib}..${mib * 1024})`,
    );
  });
}
