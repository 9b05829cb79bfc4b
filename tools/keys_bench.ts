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
 * 3. The control socket's latency: `{"cmd":"type"}` of one character and Enter (`--key-interval
 *    0`), timed from the command to the guest's echo arriving as a `serial` event,
 *    {@link LATENCY_KEYS} keys.
 *    The same through QEMU's monitor (`sendkey`, QEMU/KVM `-M pc` in the same box), for the ratio.
 * 4. The 64-character line of every printable class (the keyboard test's), typed by
 *    `--send-text` after `--expect` at the default `--key-interval`, {@link REPEAT_RUNS} boots in
 *    a row, each checked byte for byte.
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
import { MonitorClient, vmctlOnTerminal } from "../tests/vmctl.ts";

const REPO = new URL("..", import.meta.url).pathname;
const READY = "VMCTL-KEYS-READY";
const LATENCY_KEYS = 40;
const BULK_LINES = 20;
const BULK_LINE_CHARS = 100;
const REPEAT_RUNS = 20;
const PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
const TEXT64 = `The Quick Brown Fox Ju${PUNCTUATION}0123456789`;
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

async function socketLatency(folder: string): Promise<number[]> {
  const socket = join(folder, "vm.sock");
  const argv = [Deno.execPath(), "run", "-A", `${REPO}main.ts`, "run"];
  // No pause between the character and Enter, as QEMU's sendkey below holds each key 1 ms.
  argv.push(...await guestArgs(["--monitor", `unix:${socket}`, "--key-interval", "0"]));
  const child = new Deno.Command(argv[0], { args: argv.slice(1), stdout: "null", stderr: "null" })
    .spawn();
  const client = await MonitorClient.connect(socket, 60_000);
  const samples: number[] = [];
  try {
    await client.event((event) => event.line === READY, 120_000);
    for (let index = 0; index < LATENCY_KEYS; index++) {
      const char = "abcdefghijklmnopqrstuvwxyz"[index % 26];
      const seen = client.events.length;
      const sent = performance.now();
      await client.command({ cmd: "type", text: `${char}\n` });
      await client.event(
        (event) => client.events.indexOf(event) >= seen && event.line === `typed: [${char}]`,
        30_000,
      );
      samples.push(performance.now() - sent);
    }
    await client.command({ cmd: "quit" });
  } finally {
    client.close();
    await child.status;
  }
  return samples;
}

/** QEMU's answer to part 3: HMP `sendkey` over its monitor socket to the guest's echo on COM1. */
async function qemuLatency(folder: string): Promise<number[]> {
  const fifo = join(folder, "qemu-serial.fifo");
  const monitor = join(folder, "qemu-monitor.sock");
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const kernel = (await debianKernel()).vmlinuz;
  const initrd = await testInitramfs();
  const child = new Deno.Command("qemu-system-x86_64", {
    args: [
      ...["-M", "pc", "-enable-kvm", "-cpu", "host", "-m", "128", "-nodefaults", "-vga", "std"],
      ...["-display", "none", "-serial", `file:${fifo}`, "-no-reboot"],
      ...["-monitor", `unix:${monitor},server=on,wait=off`],
      ...["-kernel", kernel, "-initrd", initrd, "-append", testCmdline("keys")],
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const reader = new LineReader(fifo);
  const samples: number[] = [];
  let conn: Deno.UnixConn | undefined;
  try {
    if (await reader.waitFor(READY, 0, 120_000) === undefined) throw new Error("guest not ready");
    conn = await Deno.connect({ transport: "unix", path: monitor });
    const drain = (async () => {
      const buffer = new Uint8Array(4096);
      while ((await conn!.read(buffer).catch(() => null)) !== null) {
        // The monitor's echo and prompts: not needed.
      }
    })();
    const say = (line: string) => conn!.write(new TextEncoder().encode(`${line}\n`));
    for (let index = 0; index < LATENCY_KEYS; index++) {
      const char = "abcdefghijklmnopqrstuvwxyz"[index % 26];
      const from = reader.lines.length;
      const sent = performance.now();
      await say(`sendkey ${char} 1`);
      await say("sendkey ret 1");
      const found = await reader.waitFor(`typed: [${char}]`, from, 30_000);
      if (found === undefined) throw new Error(`QEMU: key ${index} ('${char}') never arrived`);
      samples.push(reader.lines[found].atMs - sent);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await say("quit");
    await drain;
  } finally {
    conn?.close();
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone after quit.
    }
    await child.status;
    await reader.done;
  }
  return samples;
}

async function repeatedType(): Promise<number> {
  let exact = 0;
  for (let run = 0; run < REPEAT_RUNS; run++) {
    const argv = [Deno.execPath(), "run", "-A", `${REPO}main.ts`, "run"];
    argv.push(
      ...await guestArgs([
        ...["--expect", READY, "--send-text", `${TEXT64.replaceAll("\\", "\\\\")}\\nquit\\n`],
      ]),
    );
    const { code, stdout } = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      stderr: "null",
    })
      .output();
    const lines = new TextDecoder().decode(stdout).split("\n").map((line) =>
      line.replace(/\r$/, "")
    );
    const typed = lines.filter((line) => line.startsWith("typed: ["));
    if (code === 0 && typed.length === 2 && typed[0] === `typed: [${TEXT64}]`) exact++;
    else console.log(`run ${run + 1}: exit ${code}, typed ${JSON.stringify(typed)}`);
  }
  return exact;
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
    const socket = (await socketLatency(folder)).sort((a, b) => a - b);
    console.log(
      `keystroke latency, control socket's type command to the guest's echo as an event, ` +
        `${socket.length} keys: median ${socket[Math.floor(socket.length / 2)].toFixed(1)} ms, ` +
        `max ${socket.at(-1)!.toFixed(1)} ms`,
    );
    const qemu = (await qemuLatency(folder)).sort((a, b) => a - b);
    const qemuMedian = qemu[Math.floor(qemu.length / 2)];
    const socketMedian = socket[Math.floor(socket.length / 2)];
    console.log(
      `QEMU/KVM -M pc, monitor sendkey to the guest's echo on COM1, ${qemu.length} keys: ` +
        `median ${qemuMedian.toFixed(1)} ms, max ${qemu.at(-1)!.toFixed(1)} ms; ` +
        `QEMU / vmctl: ${(qemuMedian / socketMedian).toFixed(2)}`,
    );
    const exact = await repeatedType();
    console.log(
      `the 64-character line at the default --key-interval, ${REPEAT_RUNS} boots in a row: ` +
        `${exact} byte-exact`,
    );
    if (exact !== REPEAT_RUNS) Deno.exitCode = 1;
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--inside") {
    await inside();
  } else {
    await ensureCommand("script", "util-linux");
    await ensureCommand("qemu-system-x86_64", "qemu-system-x86");
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
