/**
 * `deno task bench-keys`: the PS/2 keyboard path's speed, on a Linux guest that echoes each line
 * it reads from its first virtual terminal to COM1 (the test initramfs' `keys` mode).
 *
 * 1. Keystroke latency: vmctl `-g` on a pseudo-terminal (`script`), COM1 to a FIFO (`--serial`);
 *    the host writes one character and Enter to the terminal and times until the guest's line
 *    comes back on the FIFO. That is the whole way a user's key takes (terminal, vmctl's console,
 *    the i8042, atkbd, the VT, the guest's shell, COM1), {@link LATENCY_KEYS} keys, median and
 *    maximum.
 * 2. Typing without loss: `--type` of {@link BULK_LINES} lines of {@link BULK_LINE_CHARS}
 *    printable characters with `--key-interval 0` (as fast as the guest reads its keyboard),
 *    each checked byte for byte; characters per second from the first line's echo to the last.
 *
 * Runs on the host's /dev/kvm when usable, otherwise in the nested-KVM box, where the absolute
 * times are inflated.
 *
 *   deno task bench-keys
 * @module
 */
import { join } from "node:path";
import { runInBoxOrDirect } from "./box.ts";
import { debianKernel, ensureCommand } from "./debian.ts";
import { testCmdline, testInitramfs } from "./guest_images.ts";
import { vmctlOnTerminal } from "../tests/vmctl.ts";

const REPO = new URL("..", import.meta.url).pathname;
const READY = "VMCTL-KEYS-READY";
const LATENCY_KEYS = 40;
const BULK_LINES = 20;
const BULK_LINE_CHARS = 100;
/** When the bulk text starts, from the VM's start: the guest reads its terminal by then. */
const BULK_AT_MS = 20_000;

/** Lines "typed: [LINE]" as they come from a FIFO, with the time each arrived. */
class LineReader {
  lines: { text: string; atMs: number }[] = [];
  #waiters: (() => void)[] = [];
  done: Promise<void>;

  constructor(path: string) {
    this.done = (async () => {
      const file = await Deno.open(path, { read: true });
      const decoder = new TextDecoder();
      let partial = "";
      for await (const chunk of file.readable) {
        partial += decoder.decode(chunk, { stream: true });
        const parts = partial.split("\n");
        partial = parts.pop()!;
        for (const part of parts) {
          this.lines.push({ text: part.replace(/\r$/, ""), atMs: performance.now() });
        }
        for (const wake of this.#waiters.splice(0)) wake();
      }
    })();
  }

  async waitFor(text: string, fromIndex: number, limitMs: number): Promise<number | undefined> {
    const deadline = performance.now() + limitMs;
    for (;;) {
      const found = this.lines.findIndex((line, index) => index >= fromIndex && line.text === text);
      if (found >= 0) return found;
      const left = deadline - performance.now();
      if (left <= 0) return undefined;
      await new Promise<void>((wake) => {
        this.#waiters.push(wake);
        setTimeout(wake, left);
      });
    }
  }
}

/** `vmctl run`'s options for the keys guest, `extra` after them. */
async function guestArgs(extra: string[]): Promise<string[]> {
  const kernel = (await debianKernel()).vmlinuz;
  const initrd = await testInitramfs();
  return [
    ...["-r", "128", "-t", "300", "--kernel", kernel, "--initrd", initrd],
    ...["--append", testCmdline("keys"), ...extra],
  ];
}

async function latency(folder: string): Promise<number[]> {
  const fifo = join(folder, "serial.fifo");
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const args = await guestArgs(["--serial", fifo]);
  const child = vmctlOnTerminal(args, { columns: 100, rows: 30 }, {
    stdin: "piped",
    stdout: "null",
  });
  const reader = new LineReader(fifo);
  const input = child.stdin.getWriter();
  const samples: number[] = [];
  try {
    if (await reader.waitFor(READY, 0, 120_000) === undefined) throw new Error("guest not ready");
    for (let index = 0; index < LATENCY_KEYS; index++) {
      const char = "abcdefghijklmnopqrstuvwxyz"[index % 26];
      const from = reader.lines.length;
      const sent = performance.now();
      await input.write(new TextEncoder().encode(`${char}\r`));
      const found = await reader.waitFor(`typed: [${char}]`, from, 30_000);
      if (found === undefined) throw new Error(`key ${index} ('${char}') never arrived`);
      samples.push(reader.lines[found].atMs - sent);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await input.write(new TextEncoder().encode("quit\r"));
  } finally {
    await child.status;
    await input.close().catch(() => {});
    await reader.done;
  }
  return samples;
}

async function bulk(folder: string): Promise<{ ok: boolean; charsPerSecond: number }> {
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)).join("");
  const lines = Array.from(
    { length: BULK_LINES },
    (_, line) => (printable + printable).slice(line % 95, line % 95 + BULK_LINE_CHARS),
  );
  const escaped = lines.map((line) => `${line.replaceAll("\\", "\\\\")}\\n`).join("");
  const fifo = join(folder, "bulk.fifo");
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const argv = [
    Deno.execPath(),
    "run",
    "-A",
    `${REPO}main.ts`,
    "run",
    ...await guestArgs([
      ...["--serial", fifo, "--key-interval", "0"],
      ...["--type", `${BULK_AT_MS}:${escaped}quit\\n`],
    ]),
  ];
  const child = new Deno.Command(argv[0], { args: argv.slice(1), stdin: "null", stderr: "null" })
    .spawn();
  const reader = new LineReader(fifo);
  const { code } = await child.status;
  await reader.done;
  const typed = reader.lines.filter((line) => line.text.startsWith("typed: ["));
  const ok = code === 0 && typed.length === BULK_LINES + 1 &&
    lines.every((line, index) => typed[index].text === `typed: [${line}]`);
  // From the first line's echo to the last one's: the lines between, typed in that time.
  const spanS = ok ? (typed[BULK_LINES - 1].atMs - typed[0].atMs) / 1000 : NaN;
  return { ok, charsPerSecond: ((BULK_LINES - 1) * (BULK_LINE_CHARS + 1)) / spanS };
}

async function inside(): Promise<void> {
  const folder = await Deno.makeTempDir({ prefix: "vmctl-keys-bench-" });
  try {
    const samples = (await latency(folder)).sort((a, b) => a - b);
    const median = samples[Math.floor(samples.length / 2)];
    console.log(
      `keystroke latency, terminal to the guest's echo on COM1, ${samples.length} keys: ` +
        `median ${median.toFixed(1)} ms, max ${samples.at(-1)!.toFixed(1)} ms`,
    );
    const { ok, charsPerSecond } = await bulk(folder);
    console.log(
      `--type of ${BULK_LINES} lines of ${BULK_LINE_CHARS} characters at --key-interval 0: ` +
        (ok
          ? `all arrived, byte-exact, ${charsPerSecond.toFixed(0)} characters/s`
          : "LOST OR CHANGED"),
    );
    if (!ok) Deno.exitCode = 1;
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--inside") {
    await inside();
  } else {
    await ensureCommand("script", "util-linux");
    // Fill the guest and Deno caches on the host, so the box (which shares them) only runs.
    await debianKernel();
    await testInitramfs();
    await new Deno.Command(Deno.execPath(), { args: ["check", `${REPO}main.ts`] }).output();
    const self = new URL(import.meta.url).pathname;
    const result = await runInBoxOrDirect([Deno.execPath(), "run", "-A", self, "--inside"], {
      timeoutMs: 900_000,
      cwd: REPO,
    });
    if (result.code !== 0) {
      console.error(`bench-keys: exit ${result.code}${result.boxDied ? " (the box died)" : ""}`);
      console.error(result.stderr.slice(-2000));
      Deno.exit(1);
    }
  }
}
