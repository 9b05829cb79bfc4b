/**
 * Runs a command where a real /dev/kvm exists: directly when this machine has hardware KVM,
 * otherwise inside "the box", a QEMU TCG machine (`-cpu max`, which emulates AMD SVM) booting
 * Debian's kernel with kvm-amd loaded, so that its /dev/kvm is the real kernel KVM code.
 * See shared/notes/nested-kvm.md for the recipe and its hazards.
 *
 * In the box the host's `/` is shared read-only over 9p with a tmpfs overlay on top (writes work
 * and vanish at power-off), and one host folder (the "share") is mounted writable at its own path:
 * it carries the job script in and stdout, stderr and the exit code out. A box that leaves no exit
 * code (lock-up, panic, freeze, host-side timeout) "died": that is told apart from a failed command.
 *
 * Environment: `VMCTL_KVM=direct|box` forces a mode (default: {@link kvmUsable} decides),
 * `VMCTL_BOX_MEM_MB` (default 6144) and `VMCTL_BOX_CPUS` (default 1) size the box. One CPU: with
 * two, creating and destroying VMs in a loop froze the box within a minute, every time we tried;
 * with one, 1,750 VMs in 45 s went through (see tests/README.md).
 *
 * @module
 */

import { join, resolve } from "node:path";
import { cacheDir, debianKernel, ensureCommand } from "./debian.ts";
import { busyboxInitramfs } from "./guest_images.ts";
import type { CpioEntry } from "./cpio.ts";

/** Options of {@link runWithKvm}. */
export interface KvmRunOptions {
  /** Working directory (default: the current one). The same path is used inside the box. */
  cwd?: string;
  /** Extra environment variables for the command. */
  env?: Record<string, string>;
  /** Text for the command's standard input (default: none, like /dev/null). */
  stdin?: string;
  /** The command's own time limit; the box's boot time comes on top of it. */
  timeoutMs: number;
  /** Called with each piece of the command's stdout as it arrives. */
  onStdout?: (chunk: Uint8Array) => void;
  /** Called with each piece of the command's stderr as it arrives. */
  onStderr?: (chunk: Uint8Array) => void;
  /**
   * A host folder the command may write to, writable at the same path inside the box (e.g. for a
   * JUnit report). The box's own files in it are named `box-*`. Default: a temporary folder.
   */
  shareDir?: string;
  /** Where to run: `auto` (default; `VMCTL_KVM` or {@link kvmUsable}), `direct` or `box`. */
  mode?: "auto" | "direct" | "box";
}

/** What {@link runWithKvm} reports. */
export interface KvmRunResult {
  /** Exit code of the command (-1 when the box died before it ended). */
  code: number;
  stdout: string;
  stderr: string;
  /** The box ended without the command's exit code: lock-up, panic, freeze or host timeout. */
  boxDied: boolean;
  /** Why the box died, in one sentence. */
  boxDeathReason?: string;
  /** The box's console (kernel messages, init's notes), when it ran in a box. */
  boxLog?: string;
  /** The command hit `timeoutMs` and was killed. */
  timedOut: boolean;
  /** Whether it ran in the box. */
  inBox: boolean;
  /** Box only: from starting QEMU to the command starting inside. */
  bootMs?: number;
  /** Box only: how often its heartbeat was late and a key press woke it (see NUDGE_AFTER_MS). */
  nudges?: number;
  /** Box only: the vCPU's state (RIP, HLT) when each late heartbeat's first key press went out. */
  lateStates?: string[];
  /** Wall time, box boot included. */
  elapsedMs: number;
}

/**
 * Whether this machine can run KVM guests directly: /dev/kvm opens read-write and the CPU shows
 * hardware virtualization (`vmx` or `svm`). The second check matters: some hosts offer a
 * /dev/kvm backed by a paravirtual KVM (e.g. `kvm_pvm`) that cannot boot an ordinary kernel.
 */
export function kvmUsable(): boolean {
  try {
    Deno.openSync("/dev/kvm", { read: true, write: true }).close();
  } catch {
    return false;
  }
  let cpuinfo = "";
  try {
    cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  } catch {
    return false;
  }
  const flags = cpuinfo.match(/^flags\s*:(.*)$/m)?.[1].split(/\s+/) ?? [];
  return flags.includes("vmx") || flags.includes("svm");
}

/** The mode `auto` resolves to: `VMCTL_KVM` if set, else direct when {@link kvmUsable}. */
export function kvmMode(): "direct" | "box" {
  const forced = Deno.env.get("VMCTL_KVM");
  if (forced === "direct" || forced === "box") return forced;
  if (forced) throw new Error(`VMCTL_KVM must be "direct" or "box", not "${forced}"`);
  return kvmUsable() ? "direct" : "box";
}

/**
 * Runs `argv` where /dev/kvm works (see the module doc), capturing its output.
 * Never throws for a failing command or a dying box: look at `code` and `boxDied`.
 */
export async function runWithKvm(argv: string[], opts: KvmRunOptions): Promise<KvmRunResult> {
  if (argv.length === 0) throw new Error("runWithKvm: empty argv");
  const mode = !opts.mode || opts.mode === "auto" ? kvmMode() : opts.mode;
  return mode === "direct" ? await runDirect(argv, opts) : await runInBox(argv, opts);
}

/**
 * {@link runWithKvm} for a whole command a human watches: its stdout and stderr are also copied
 * to ours as they come (unless `onStdout`/`onStderr` are given).
 */
export function runInBoxOrDirect(argv: string[], opts: KvmRunOptions): Promise<KvmRunResult> {
  return runWithKvm(argv, {
    ...opts,
    onStdout: opts.onStdout ?? ((chunk) => writeAllSync(Deno.stdout, chunk)),
    onStderr: opts.onStderr ?? ((chunk) => writeAllSync(Deno.stderr, chunk)),
  });
}

function writeAllSync(to: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) done += to.writeSync(bytes.subarray(done));
}

class Collector {
  #chunks: Uint8Array[] = [];
  constructor(private readonly sink?: (chunk: Uint8Array) => void) {}
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.sink?.(chunk);
  }
  text(): string {
    const total = this.#chunks.reduce((n, c) => n + c.length, 0);
    const all = new Uint8Array(total);
    let offset = 0;
    for (const c of this.#chunks) {
      all.set(c, offset);
      offset += c.length;
    }
    return new TextDecoder().decode(all);
  }
}

async function pump(stream: ReadableStream<Uint8Array>, into: Collector): Promise<void> {
  for await (const chunk of stream) into.push(chunk);
}

async function runDirect(argv: string[], opts: KvmRunOptions): Promise<KvmRunResult> {
  const started = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: opts.cwd,
    env: opts.env,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new Collector(opts.onStdout);
  const err = new Collector(opts.onStderr);
  const pumps = [pump(child.stdout, out), pump(child.stderr, err)];
  if (opts.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(opts.stdin)).catch(() => {});
    await writer.close().catch(() => {});
  }
  let timedOut = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    tryKill(child, "SIGTERM");
    killTimer = setTimeout(() => tryKill(child, "SIGKILL"), 10_000);
  }, opts.timeoutMs);
  const status = await child.status;
  clearTimeout(timer);
  clearTimeout(killTimer);
  await Promise.all(pumps);
  return {
    code: status.code,
    stdout: out.text(),
    stderr: err.text(),
    boxDied: false,
    timedOut,
    inBox: false,
    elapsedMs: performance.now() - started,
  };
}

function tryKill(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------------------------
// The box

/** Modules for the box, in load order (paths under lib/modules/<version>/kernel/). */
const BOX_MODULES: readonly { path: string; params?: string }[] = [
  { path: "virt/lib/irqbypass" },
  // No virtual PMU for nested guests: with it, ~1 in 10 nested boots hung (see the note).
  { path: "arch/x86/kvm/kvm", params: "enable_pmu=0" },
  { path: "drivers/crypto/ccp/ccp" },
  { path: "arch/x86/kvm/kvm-amd" },
  { path: "drivers/virtio/virtio_ring" },
  { path: "drivers/virtio/virtio" },
  { path: "drivers/virtio/virtio_pci_modern_dev" },
  { path: "drivers/virtio/virtio_pci_legacy_dev" },
  { path: "drivers/virtio/virtio_pci" },
  { path: "fs/netfs/netfs" },
  { path: "fs/fscache/fscache" },
  { path: "net/9p/9pnet" },
  { path: "net/9p/9pnet_virtio" },
  { path: "fs/9p/9p" },
  { path: "fs/overlayfs/overlay" },
];

/** The box's kernel command line: a lock-up or panic ends the machine (with -no-reboot). */
const BOX_APPEND = "console=ttyS0 quiet panic=-1 softlockup_panic=1";

/** Console lines that tell a box died of a lock-up, panic or kernel bug. */
const DEATH_SIGNS = /soft lockup|hard LOCKUP|Kernel panic|BUG:|Oops/;

/** Seconds between heartbeats written by the box; the host gives up after HEARTBEAT_LOST_MS. */
const HEARTBEAT_S = 2;
const HEARTBEAT_LOST_MS = 120_000;
/**
 * A box whose heartbeat is this late gets a key press on its PS/2 keyboard, then again every
 * NUDGE_EVERY_MS. Now and then the box's CPU halts and its timer interrupt never comes (QEMU's
 * TCG: QEMU idle, the vCPU in HLT, the clock running on); any interrupt ends that, and the
 * keyboard's is one nothing in the box listens to. Without it such a stall lasts forever.
 */
const NUDGE_AFTER_MS = 8_000;
const NUDGE_EVERY_MS = 4_000;
/** The same for a box still booting this long after QEMU started (a boot takes ~5 s). */
const NUDGE_BOOT_AFTER_MS = 30_000;
/** How long the box may take from QEMU's start to the job's start. */
const BOOT_LIMIT_MS = 240_000;

function boxInit(insmods: string): string {
  return `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# A stuck box's blocked tasks and backtraces (SysRq W, L from the host) reach the console.
echo 1 > /proc/sys/kernel/sysrq
dmesg -n 7
say() { echo "vmctl-box: $*"; }
die() { say "$*"; poweroff -f; sleep 60; }
${insmods}
[ -c /dev/kvm ] || die "no /dev/kvm after loading kvm-amd"
opts9p=trans=virtio,version=9p2000.L,msize=512000
mkdir -p /share /host /rw /newroot
mount -t 9p -o "$opts9p" results /share || die "cannot mount the results share"
. /share/box.conf
mount -t 9p -o "$opts9p,ro,cache=loose" host /host || die "cannot mount the host's /"
mount -t tmpfs -o mode=0755 tmpfs /rw && mkdir /rw/upper /rw/work || die "cannot make the overlay's tmpfs"
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
  die "cannot mount the overlay"
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
mount -o bind /share "/newroot$VMCTL_BOX_SHARE" || die "cannot bind the share at $VMCTL_BOX_SHARE"
(while :; do cat /proc/uptime > /share/box-heartbeat; sleep ${HEARTBEAT_S}; done) &
cat /proc/uptime > /share/box-started
chroot /newroot /bin/sh "$VMCTL_BOX_SHARE/box-job.sh" &
job=$!
(sleep "$VMCTL_BOX_TIMEOUT_S"; echo timeout > /share/box-timed-out; kill -TERM $job; sleep 10; kill -KILL $job) &
watchdog=$!
wait $job
rc=$?
kill $watchdog
echo $rc > /share/box-exit-code.tmp && mv /share/box-exit-code.tmp /share/box-exit-code
sync
poweroff -f
sleep 60
`;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The box's initramfs (busybox, the modules, the init above), cached. */
export async function boxInitramfs(): Promise<{ kernel: string; initramfs: string }> {
  const kernel = await debianKernel();
  const extra: CpioEntry[] = [{ kind: "dir", path: "lib/modules" }];
  const insmods: string[] = [];
  for (const mod of BOX_MODULES) {
    const base = mod.path.slice(mod.path.lastIndexOf("/") + 1);
    const source = join(kernel.modulesDir, "kernel", `${mod.path}.ko`);
    let data: Uint8Array;
    try {
      data = await Deno.readFile(source);
    } catch (error) {
      throw new Error(`kernel ${kernel.version} lacks module ${mod.path}.ko: ${error}`);
    }
    extra.push({ kind: "file", path: `lib/modules/${base}.ko`, data });
    const line = `insmod /lib/modules/${base}.ko${mod.params ? " " + mod.params : ""}`;
    insmods.push(`${line} || die "${line} failed"`);
  }
  const initramfs = await busyboxInitramfs({
    name: "box-initramfs",
    init: boxInit(insmods.join("\n")),
    extra,
    extraKey: [kernel.modulesDir, ...BOX_MODULES.map((m) => `${m.path} ${m.params ?? ""}`)],
    gzip: false,
  });
  return { kernel: kernel.vmlinuz, initramfs };
}

function defaultDenoDir(): string {
  const explicit = Deno.env.get("DENO_DIR");
  if (explicit) return explicit;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  return join(xdg ?? join(Deno.env.get("HOME") ?? "/root", ".cache"), "deno");
}

/** The environment a command gets inside the box. */
export function boxEnv(extra?: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    HOME: Deno.env.get("HOME") ?? "/root",
    VMCTL_CACHE: cacheDir(),
    DENO_DIR: defaultDenoDir(),
    LANG: "C.UTF-8",
    VMCTL_IN_BOX: "1",
  };
  for (const name of ["TERM", "NO_COLOR", "CI", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

function jobScript(argv: string[], opts: KvmRunOptions, share: string): string {
  const lines = ["# generated by tools/box.ts: runs inside the box's chroot"];
  lines.push(`cd ${shellQuote(resolve(opts.cwd ?? Deno.cwd()))} || exit 125`);
  for (const [name, value] of Object.entries(boxEnv(opts.env))) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`bad environment name "${name}"`);
    lines.push(`export ${name}=${shellQuote(value)}`);
  }
  const stdin = opts.stdin === undefined ? "/dev/null" : join(share, "box-stdin");
  const redirects = `<${shellQuote(stdin)} >${shellQuote(join(share, "box-stdout"))} 2>${
    shellQuote(join(share, "box-stderr"))
  }`;
  lines.push(`exec ${argv.map(shellQuote).join(" ")} ${redirects}`);
  return lines.join("\n") + "\n";
}

function readIfThere(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** Copies what was appended to a growing file since the last call into a collector. */
class Tail {
  #offset = 0;
  constructor(private readonly path: string, private readonly into: Collector) {}
  poll(): void {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(this.path, { read: true });
    } catch {
      return;
    }
    try {
      file.seekSync(this.#offset, Deno.SeekMode.Start);
      const buffer = new Uint8Array(1 << 16);
      while (true) {
        const n = file.readSync(buffer);
        if (n === null || n === 0) break;
        this.into.push(buffer.slice(0, n));
        this.#offset += n;
      }
    } finally {
      file.close();
    }
  }
}

async function runInBox(argv: string[], opts: KvmRunOptions): Promise<KvmRunResult> {
  const started = performance.now();
  const qemu = await ensureCommand("qemu-system-x86_64", "qemu-system-x86");
  const { kernel, initramfs } = await boxInitramfs();
  const ownShare = opts.shareDir === undefined;
  const wanted = opts.shareDir ?? await Deno.makeTempDir({ prefix: "vmctl-box-" });
  await Deno.mkdir(wanted, { recursive: true });
  // Symlinks resolved: the box binds the share at this path inside its root.
  const share = await Deno.realPath(wanted);
  for (const name of ["box-exit-code", "box-started", "box-heartbeat", "box-timed-out"]) {
    await Deno.remove(join(share, name)).catch(() => {});
  }
  const timeoutS = Math.max(1, Math.ceil(opts.timeoutMs / 1000));
  await Deno.writeTextFile(
    join(share, "box.conf"),
    `VMCTL_BOX_SHARE=${shellQuote(share)}\nVMCTL_BOX_TIMEOUT_S=${timeoutS}\n`,
  );
  await Deno.writeTextFile(join(share, "box-job.sh"), jobScript(argv, opts, share));
  if (opts.stdin !== undefined) await Deno.writeTextFile(join(share, "box-stdin"), opts.stdin);
  await Deno.writeFile(join(share, "box-stdout"), new Uint8Array(0));
  await Deno.writeFile(join(share, "box-stderr"), new Uint8Array(0));

  const memMb = Deno.env.get("VMCTL_BOX_MEM_MB") ?? "6144";
  const cpus = Deno.env.get("VMCTL_BOX_CPUS") ?? "1";
  const virtfsPath = (path: string) => path.replaceAll(",", ",,");
  // QEMU's monitor, asked for the vCPU's state when the box stops responding.
  const monitor = join(share, "box-monitor");
  await Deno.remove(monitor).catch(() => {});
  const args = [
    ...["-accel", "tcg,thread=multi", "-cpu", "max", "-m", memMb, "-smp", cpus],
    ...(monitor.length < 100 ? ["-monitor", `unix:${monitor},server=on,wait=off`] : []),
    ...["-nographic", "-no-reboot", "-nic", "none"],
    ...["-kernel", kernel, "-initrd", initramfs, "-append", BOX_APPEND],
    "-virtfs",
    "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
    "-virtfs",
    `local,path=${virtfsPath(share)},mount_tag=results,security_model=none,multidevs=remap`,
  ];
  const child = new Deno.Command(qemu, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const consoleLog = new Collector();
  const pumps = [pump(child.stdout, consoleLog), pump(child.stderr, consoleLog)];
  const out = new Collector(opts.onStdout);
  const err = new Collector(opts.onStderr);
  const tails = [
    new Tail(join(share, "box-stdout"), out),
    new Tail(join(share, "box-stderr"), err),
  ];

  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  let deathReason: string | undefined;
  let bootMs: number | undefined;
  let lastBeat = "";
  let lastBeatAt = performance.now();
  let lastNudgeAt = 0;
  let nudges = 0;
  const lateStates: string[] = [];
  while (!exited) {
    await Promise.race([status, new Promise((r) => setTimeout(r, 250))]);
    for (const tail of tails) tail.poll();
    if (exited) break;
    const now = performance.now();
    if (bootMs === undefined) {
      if (readIfThere(join(share, "box-started")) !== undefined) {
        bootMs = now - started;
        lastBeatAt = now;
      } else if (now - started > BOOT_LIMIT_MS) {
        deathReason = `the box did not start the command within ${BOOT_LIMIT_MS / 1000} s`;
      }
    } else {
      const beat = readIfThere(join(share, "box-heartbeat")) ?? "";
      if (beat !== lastBeat) {
        lastBeat = beat;
        lastBeatAt = now;
      } else if (now - lastBeatAt > HEARTBEAT_LOST_MS) {
        deathReason = `the box stopped responding (no heartbeat for ${
          HEARTBEAT_LOST_MS / 1000
        } s; ${await stuckBoxFacts(child.pid, monitor)})`;
      }
      if (now - started - bootMs > opts.timeoutMs + 60_000) {
        deathReason = `the box outlived the command's ${timeoutS} s limit by 60 s`;
      }
    }
    if (deathReason) {
      tryKill(child, "SIGKILL");
      break;
    }
    const late = bootMs === undefined
      ? now - started > NUDGE_BOOT_AFTER_MS
      : now - lastBeatAt > NUDGE_AFTER_MS;
    if (late && now - lastNudgeAt > NUDGE_EVERY_MS) {
      if (lastNudgeAt < lastBeatAt) lateStates.push(await vcpuState(monitor));
      lastNudgeAt = now;
      nudges++;
      await monitorCommand(monitor, "sendkey shift", MONITOR_ANSWERED, 2000).catch(() => {});
    }
  }
  const qemuStatus = await status;
  await Promise.all(pumps);
  for (const tail of tails) tail.poll();

  const boxLog = consoleLog.text();
  await Deno.writeTextFile(join(share, "box-console.log"), boxLog).catch(() => {});
  const codeText = readIfThere(join(share, "box-exit-code"));
  const timedOut = readIfThere(join(share, "box-timed-out")) !== undefined;
  let code = -1;
  let boxDied = true;
  if (codeText !== undefined && /^\d+\s*$/.test(codeText)) {
    code = Number(codeText.trim());
    boxDied = false;
  } else if (!deathReason) {
    const lockup = DEATH_SIGNS.exec(boxLog);
    deathReason = lockup
      ? `the box crashed (console: "${lockup[0]}")`
      : `the box ended without an exit code (QEMU exit ${qemuStatus.code})`;
  }
  if (ownShare) await Deno.remove(wanted, { recursive: true }).catch(() => {});
  return {
    code,
    stdout: out.text(),
    stderr: err.text(),
    boxDied,
    boxDeathReason: boxDied ? deathReason : undefined,
    boxLog,
    timedOut,
    inBox: true,
    bootMs,
    nudges,
    lateStates,
    elapsedMs: performance.now() - started,
  };
}

/** QEMU's user+system CPU time in clock ticks (1/100 s on Linux), from /proc. */
function cpuTicks(pid: number): number | undefined {
  const stat = readIfThere(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** The monitor's greeting prompt, then the prompt after a command's answer. */
const MONITOR_ANSWERED = /\(qemu\)[^]*\(qemu\)/;

/**
 * Sends one command to QEMU's human monitor at `path` and returns what it printed until `done`
 * matched or `timeoutMs` passed (a hung QEMU may never answer).
 */
async function monitorCommand(
  path: string,
  command: string,
  done: RegExp,
  timeoutMs: number,
): Promise<string> {
  let text = "";
  const connection = await Deno.connect({ transport: "unix", path });
  const reading = (async () => {
    await connection.write(new TextEncoder().encode(`${command}\n`));
    const buffer = new Uint8Array(16384);
    const decoder = new TextDecoder();
    while (!done.test(text)) {
      const n = await connection.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
  })();
  await Promise.race([reading, new Promise((r) => setTimeout(r, timeoutMs))]);
  connection.close();
  await reading.catch(() => {});
  return text;
}

/** The vCPU's registers named by `patterns` from the monitor's `info registers`, e.g. `HLT=1`. */
async function vcpuState(
  monitor: string,
  patterns = [/RIP=\S+/, /CPL=\d/, /HLT=\d/],
): Promise<string> {
  // EFER comes after RIP and HLT in the answer.
  const registers = await monitorCommand(monitor, "info registers", /EFER=[0-9a-f]+\s/, 3000)
    .catch((error) => `no monitor (${(error as Error).message})`);
  const found = patterns.map((pattern) => pattern.exec(registers)?.[0]).filter((x) => x);
  return found.length ? found.join(" ") : registers.trim().slice(0, 80);
}

/**
 * What a box that stopped responding was doing, for telling a halted box (lost interrupt, a
 * request QEMU never answered) from a spinning one: QEMU's CPU use over two seconds, the vCPU's
 * RIP, CR0, EFER and HLT state (`info registers`), and on the box's console the kernel's list of
 * blocked tasks and each CPU's backtrace (SysRq W and L, pressed on the box's keyboard).
 */
async function stuckBoxFacts(pid: number, monitor: string): Promise<string> {
  const before = cpuTicks(pid);
  await new Promise((r) => setTimeout(r, 2000));
  const after = cpuTicks(pid);
  const facts = [
    before === undefined || after === undefined
      ? "QEMU's CPU use unknown"
      : `QEMU used ${Math.round((after - before) / 2)} % of a CPU`,
  ];
  try {
    facts.push(await vcpuState(monitor, [/RIP=\S+/, /CR0=\S+/, /EFER=\S+/, /CPL=\d/, /HLT=\d/]));
    for (const key of ["w", "l"]) {
      await monitorCommand(monitor, `sendkey alt-sysrq-${key}`, MONITOR_ANSWERED, 2000);
    }
    // Time for the box to print them (slowly, under TCG).
    await new Promise((r) => setTimeout(r, 10_000));
  } catch (error) {
    facts.push(`no monitor (${(error as Error).message})`);
  }
  return facts.join(", ");
}

/** The last `lines` lines of a box console log, without terminal escapes, for reports. */
export function logTail(log: string, lines = 40): string {
  // deno-lint-ignore no-control-regex
  const clean = log.replace(/\x1b(\[[0-9;?]*[A-Za-z]|c)/g, "").replaceAll("\r", "");
  return clean.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * The part of a box console log that tells why it died: from the first lock-up, panic or BUG
 * line on (at most `lines` lines), else its tail.
 */
export function deathExcerpt(log: string, lines = 15): string {
  const clean = logTail(log, Infinity).split("\n");
  const first = clean.findIndex((line) => DEATH_SIGNS.test(line) || line.includes("sysrq: "));
  return first < 0 ? clean.slice(-lines).join("\n") : clean.slice(first, first + lines).join("\n");
}
