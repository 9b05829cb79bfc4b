/**
 * `deno task bench-display`: the display's costs, vmctl against QEMU/KVM where a VMM is involved.
 *
 * 1. Guest fill rate, in the guest's own TSC cycles: tests/guests/vga_fill.S times 16 full-screen
 *    fills of mode 12h (planar: every byte an MMIO write, which QEMU lets KVM queue in its
 *    coalesced-MMIO ring instead of exiting to user space for each), of mode 13h (chain-4) and of
 *    the Bochs VBE linear framebuffer at 1024x768x32, booted from a disk through SeaBIOS by vmctl
 *    and by QEMU `-M pc -vga std`. The ratio is QEMU's cycles over vmctl's: above 1.0, vmctl is
 *    faster.
 * 2. PNG encoding on the host, no VM: {@linkcode encodePng} on a 1024x768 desktop-like frame and
 *    on noise (the worst case), median of {@link PNG_ENCODES} encodes each.
 * 3. Host CPU the display costs, vmctl's user + system time from `/usr/bin/time` over
 *    {@link IDLE_SECONDS} s, once plain and once with `-g` on a pseudo-terminal (`script`), on
 *    three screens: SeaBIOS's idle text screen ("No bootable device", no disk), a still
 *    1024x768x32 VBE screen and a full-screen redraw loop there (the fill guest's `bench_mode` 1
 *    and 2). The redraw loop's vCPU is busy either way; the difference is what `-g` costs, and
 *    the frames it drew (its status lines) say how fast it kept up.
 *
 * Interleaved runs, medians. The VM parts run on the host's /dev/kvm when usable, otherwise all of
 * them in one start of the nested-KVM box, where absolute numbers are inflated: read the ratios.
 *
 *   deno task bench-display [--runs N]
 * @module
 */
import { join } from "node:path";
import { runInBoxOrDirect } from "./box.ts";
import { ensureCommand } from "./debian.ts";
import { assembleBootSector } from "../tests/guests/boot_sector.ts";
import { encodePng, type RgbImage } from "../lib/png.ts";

const REPO = new URL("..", import.meta.url).pathname;
const RAM_MIB = "64";
/** The guest's fills per mode (its FILLS) and the bytes of one fill. */
const FILLS = 16;
const FILLS_BYTES = { mode12: 640 * 480 / 8, mode13: 320 * 200, lfb: 1024 * 768 * 4 } as const;
type Fill = keyof typeof FILLS_BYTES;
const FILL_NAMES: Record<Fill, string> = {
  mode12: "mode 12h planar",
  mode13: "mode 13h chain-4",
  lfb: "VBE LFB 1024x768x32",
};
const FILL_KINDS = Object.keys(FILLS_BYTES) as Fill[];
/** The fill guest's disk: 1 MiB, the guest at its start. */
const DISK_BYTES = 1 << 20;
/** Where the fill guest keeps its `bench_mode` byte: the last byte of its 3 sectors. */
const BENCH_MODE_OFFSET = 3 * 512 - 1;
/** The screens the host's CPU is measured on, and the fill guest's `bench_mode` for each. */
const SCENES = { text: undefined, still: 1, redraw: 2 } as const;
type Scene = keyof typeof SCENES;
const SCENE_NAMES: Record<Scene, string> = {
  text: `idle text screen ("No bootable device")`,
  still: "still 1024x768x32 VBE screen",
  redraw: "1024x768x32 full-screen redraw loop",
};
const SCENE_KINDS = Object.keys(SCENES) as Scene[];
/** What `-g` writes once per frame it draws. */
const FRAME_MARK = "Ctrl-A x quits";
const FILL_TIMEOUT_SECONDS = 120;
const PNG_WIDTH = 1024;
const PNG_HEIGHT = 768;
const PNG_ENCODES = 20;
const IDLE_SECONDS = 20;
/** When the steady window starts: every scene's screen is drawn by then, even in the box. */
const SETTLE_SECONDS = 8;
const STEADY_SECONDS = IDLE_SECONDS - 1 - SETTLE_SECONDS;
/** The pseudo-terminal `-g` draws on. */
const PTY_COLUMNS = 160;
const PTY_ROWS = 50;

/** Guest TSC cycles of each fill. */
type FillSample = Record<Fill, number>;

/**
 * One CPU run: the vmctl process' user + system seconds over the whole run and over the steady
 * window (from {@link SETTLE_SECONDS} s to one second before the end, the boot over), what it
 * wrote and the frames `-g` drew.
 */
interface CpuSample {
  cpuSeconds: number;
  steadyCpuSeconds: number;
  outputBytes: number;
  frames: number;
}

/** What the VM parts measured, written by the `--inside` run for the host to print. */
interface InsideResult {
  runs: number;
  fills: Record<string, FillSample[]>;
  /** By scene, then "plain" or "graphics". */
  cpu: Record<string, Record<string, CpuSample[]>>;
  /** Why the `-g` run could not be measured, if it could not. */
  graphicsError?: string;
}

interface FillContender {
  name: string;
  argv: (disk: string) => string[];
  /** QEMU does not power off on vmctl's S5 write: the run is ended at the guest's "DONE". */
  killAtDone: boolean;
}

const VMCTL = [Deno.execPath(), "run", "-A", `${REPO}main.ts`, "run", "-r", RAM_MIB];

const FILL_CONTENDERS: FillContender[] = [
  {
    name: "vmctl",
    argv: (disk) => [...VMCTL, "-d", disk, "-t", String(FILL_TIMEOUT_SECONDS)],
    killAtDone: false,
  },
  {
    name: "qemu",
    argv: (disk) => [
      ...["qemu-system-x86_64", "-M", "pc", "-enable-kvm", "-cpu", "host", "-m", RAM_MIB],
      ...["-nodefaults", "-no-user-config", "-display", "none", "-vga", "std"],
      ...["-serial", "stdio", "-drive", `file=${disk},format=raw,if=ide`],
    ],
    killAtDone: true,
  },
];

const FILL_LINE = /FILL (\w+) ([0-9A-F]{16}|ERROR)/g;

/** Boots the fill guest once; resolves with its cycles per fill. */
async function measureFill(contender: FillContender, disk: string): Promise<FillSample> {
  const argv = contender.argv(disk);
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), (FILL_TIMEOUT_SECONDS + 30) * 1000);
  const stderr = new Response(child.stderr).text();
  const decoder = new TextDecoder();
  let seen = "";
  let done = false;
  for await (const chunk of child.stdout) {
    seen += decoder.decode(chunk, { stream: true });
    if (!done && seen.includes("DONE")) {
      done = true;
      if (contender.killAtDone) child.kill("SIGKILL");
    }
  }
  const status = await child.status;
  clearTimeout(killer);
  const sample: Partial<FillSample> = {};
  for (const [, what, cycles] of seen.matchAll(FILL_LINE)) {
    if (what in FILLS_BYTES && cycles !== "ERROR") sample[what as Fill] = parseInt(cycles, 16);
  }
  const missing = FILL_KINDS.filter((fill) => sample[fill] === undefined);
  if (!done || missing.length > 0 || (!contender.killAtDone && !status.success)) {
    throw new Error(
      `${contender.name} fill guest failed (exit ${status.code}, no cycles for ` +
        `${missing.join(", ") || "none"}):\n${seen.slice(-1500)}\n${(await stderr).slice(-1500)}`,
    );
  }
  return sample as FillSample;
}

/** A shell word for `script -c`. */
function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** /proc's unit of CPU time (USER_HZ), 100 on every Linux architecture vmctl runs on. */
const CLOCK_TICKS = 100;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The process' parent and its user + system time in clock ticks, from /proc/PID/stat. */
async function processStat(pid: number): Promise<{ parent: number; ticks: number; name: string }> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // "pid (comm) state ppid ..." where comm may hold spaces and parentheses: split after the last ")".
  const close = stat.lastIndexOf(")");
  const fields = stat.slice(close + 2).split(" ");
  return {
    name: stat.slice(stat.indexOf("(") + 1, close),
    parent: Number(fields[1]),
    ticks: Number(fields[11]) + Number(fields[12]),
  };
}

async function cpuTicks(pid: number): Promise<number> {
  return (await processStat(pid)).ticks;
}

/** The Deno process (vmctl) among the descendants of `root` (script, sh, time). */
async function findDeno(root: number): Promise<number> {
  const parents = new Map<number, number>();
  let found: number | undefined;
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    const stat = await processStat(pid).catch(() => undefined);
    if (stat === undefined) continue;
    parents.set(pid, stat.parent);
    if (stat.name !== "deno") continue;
    for (let up = stat.parent; up > 1; up = parents.get(up) ?? (await processStat(up)).parent) {
      if (up === root) found = pid;
    }
  }
  if (found === undefined) throw new Error(`no vmctl (deno) process under pid ${root}`);
  return found;
}

/**
 * vmctl for {@link IDLE_SECONDS} s under `/usr/bin/time`, booting `disk` (SeaBIOS's idle screen
 * without one); with `graphics`, with `-g` on a pseudo-terminal of `script`. Resolves with the
 * vmctl process' CPU time, or throws when it did not stop at its timeout (exit 2).
 */
async function measureCpu(
  disk: string | undefined,
  graphics: boolean,
  timeFile: string,
): Promise<CpuSample> {
  // Gone first, so that a run in which time(1) never ran cannot read the previous run's times.
  await Deno.remove(timeFile).catch(() => {});
  const vmctl = [
    ...["/usr/bin/time", "-f", "%U %S", "-o", timeFile],
    ...VMCTL,
    ...(disk === undefined ? [] : ["-d", disk]),
    ...["-t", String(IDLE_SECONDS)],
    ...(graphics ? ["-g"] : []),
  ];
  const argv = graphics
    ? [
      ...["script", "-qfec"],
      `stty cols ${PTY_COLUMNS} rows ${PTY_ROWS}; exec ${vmctl.map(shellQuote).join(" ")}`,
      "/dev/null",
    ]
    : vmctl;
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { TERM: "xterm-256color" },
  }).spawn();
  const output = child.output();
  // NaN when vmctl was gone early: the exit check below then says why.
  const steadyTicks = await (async () => {
    await sleep(SETTLE_SECONDS * 1000);
    const vmctlPid = await findDeno(child.pid);
    const settled = await cpuTicks(vmctlPid);
    await sleep(STEADY_SECONDS * 1000);
    return (await cpuTicks(vmctlPid)) - settled;
  })().catch(() => NaN);
  const { stdout, stderr } = await output;
  // time(1) writes "Command exited with non-zero status N" first when the command fails.
  const lines = (await Deno.readTextFile(timeFile)).trim().split("\n");
  const [user, system] = lines[lines.length - 1].split(" ").map(Number);
  const exit = lines[0].match(/non-zero status (\d+)/)?.[1] ?? "0";
  const text = new TextDecoder().decode(stdout);
  if (
    exit !== "2" || !Number.isFinite(user) || !Number.isFinite(system) ||
    !Number.isFinite(steadyTicks)
  ) {
    throw new Error(
      `vmctl${graphics ? " -g" : ""} did not run until its -t ${IDLE_SECONDS} (exit ${exit}): ` +
        (text + new TextDecoder().decode(stderr)).slice(-600),
    );
  }
  return {
    cpuSeconds: user + system,
    steadyCpuSeconds: steadyTicks / CLOCK_TICKS,
    outputBytes: stdout.length,
    frames: text.split(FRAME_MARK).length - 1,
  };
}

/**
 * The VM parts, all runs, interleaved; runs where /dev/kvm works. The guest boots from a copy of
 * `hostDisk` in the temporary folder: the share is 9p in the box, where image locks may fail.
 */
async function inside(share: string, hostDisk: string, runs: number): Promise<void> {
  const folder = await Deno.makeTempDir({ prefix: "vmctl-vga-fill-" });
  try {
    const image = await Deno.readFile(hostDisk);
    const disks: Record<string, string> = {};
    for (const [name, mode] of Object.entries({ fills: 0, ...SCENES })) {
      if (mode === undefined) continue;
      image[BENCH_MODE_OFFSET] = mode;
      disks[name] = join(folder, `${name}.img`);
      await Deno.writeFile(disks[name], image);
    }
    await insideRuns(share, disks, runs);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
}

async function insideRuns(
  share: string,
  disks: Record<string, string>,
  runs: number,
): Promise<void> {
  const result: InsideResult = {
    runs,
    fills: Object.fromEntries(FILL_CONTENDERS.map((c) => [c.name, []])),
    cpu: Object.fromEntries(SCENE_KINDS.map((scene) => [scene, { plain: [], graphics: [] }])),
  };
  const timeFile = join(share, "time.txt");
  for (let run = 1; run <= runs; run++) {
    for (const contender of FILL_CONTENDERS) {
      const started = performance.now();
      const sample = await measureFill(contender, disks.fills);
      const seconds = (performance.now() - started) / 1000;
      result.fills[contender.name].push(sample);
      const text = FILL_KINDS.map((fill) => `${fill} ${(sample[fill] / 1e6).toFixed(1)} M`);
      console.log(
        `run ${run} fill ${contender.name.padEnd(5)} ${text.join("  ")} cycles ` +
          `(whole run ${seconds.toFixed(1)} s)`,
      );
    }
    for (const scene of SCENE_KINDS) {
      const disk = SCENES[scene] === undefined ? undefined : disks[scene];
      const plain = await measureCpu(disk, false, timeFile);
      result.cpu[scene].plain.push(plain);
      console.log(
        `run ${run} ${scene.padEnd(6)} plain ${plain.cpuSeconds.toFixed(2)} s CPU, ` +
          `${plain.steadyCpuSeconds.toFixed(2)} s steady`,
      );
      if (result.graphicsError !== undefined) continue;
      try {
        const graphics = await measureCpu(disk, true, timeFile);
        result.cpu[scene].graphics.push(graphics);
        console.log(
          `run ${run} ${scene.padEnd(6)} -g    ${graphics.cpuSeconds.toFixed(2)} s CPU, ` +
            `${graphics.steadyCpuSeconds.toFixed(2)} s steady, ` +
            `${graphics.frames} frames, ${graphics.outputBytes} bytes to the terminal`,
        );
      } catch (error) {
        result.graphicsError = (error as Error).message;
        console.log(`run ${run} ${scene.padEnd(6)} -g    failed: ${result.graphicsError}`);
      }
    }
  }
  await Deno.writeTextFile(join(share, "result.json"), JSON.stringify(result));
}

/** A deterministic byte stream (xorshift32), so every run encodes the same frames. */
function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

function fillRect(
  image: RgbImage,
  x0: number,
  y0: number,
  width: number,
  height: number,
  rgb: number,
): void {
  for (let y = y0; y < y0 + height; y++) {
    for (let x = x0; x < x0 + width; x++) {
      const at = (y * image.width + x) * 3;
      image.rgb[at] = rgb >> 16;
      image.rgb[at + 1] = (rgb >> 8) & 0xff;
      image.rgb[at + 2] = rgb & 0xff;
    }
  }
}

/**
 * A desktop-like frame: a flat background, a panel with a horizontal gradient, two windows with
 * title bars and lines of text-like noise (random 8x16 glyph bits), and a vertical gradient.
 */
function desktopFrame(): RgbImage {
  const image = {
    width: PNG_WIDTH,
    height: PNG_HEIGHT,
    rgb: new Uint8Array(PNG_WIDTH * PNG_HEIGHT * 3),
  };
  const random = xorshift(0x5eed);
  fillRect(image, 0, 0, PNG_WIDTH, PNG_HEIGHT, 0x2e5e8c);
  for (let x = 0; x < PNG_WIDTH; x++) {
    const level = Math.round((x / (PNG_WIDTH - 1)) * 255);
    fillRect(image, x, PNG_HEIGHT - 32, 1, 32, (level << 16) | (level << 8) | 0x60);
  }
  for (const [x0, y0, width, height] of [[64, 48, 560, 400], [400, 300, 520, 380]]) {
    fillRect(image, x0, y0, width, height, 0xf4f4f4);
    fillRect(image, x0, y0, width, 24, 0x3050a0);
    for (let row = y0 + 32; row + 16 <= y0 + height - 8; row += 18) {
      const columns = 8 + (random() % Math.floor((width - 16) / 8 - 8));
      for (let column = 0; column < columns; column++) {
        if (random() % 7 === 0) continue; // a space
        for (let y = 2; y < 14; y++) {
          const bits = random();
          for (let x = 1; x < 7; x++) {
            if ((bits >> x) & 1) fillRect(image, x0 + 8 + column * 8 + x, row + y, 1, 1, 0x101010);
          }
        }
      }
    }
  }
  for (let y = 0; y < 200; y++) {
    const level = Math.round((y / 199) * 255);
    fillRect(image, 960, 48 + y, 48, 1, (0x40 << 16) | (level << 8) | (255 - level));
  }
  return image;
}

/** Every byte random: what no screen looks like, the encoder's worst case. */
function noiseFrame(): RgbImage {
  const random = xorshift(0xbad5eed);
  const rgb = new Uint8Array(PNG_WIDTH * PNG_HEIGHT * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = random() & 0xff;
  return { width: PNG_WIDTH, height: PNG_HEIGHT, rgb };
}

interface PngResult {
  name: string;
  medianMs: number;
  bytes: number;
}

async function benchPng(name: string, image: RgbImage): Promise<PngResult> {
  let bytes = (await encodePng(image)).length; // warm-up
  const times: number[] = [];
  for (let i = 0; i < PNG_ENCODES; i++) {
    const started = performance.now();
    bytes = (await encodePng(image)).length;
    times.push(performance.now() - started);
  }
  return { name, medianMs: median(times), bytes };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) =>
    "  " + row.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))
      .join("  ")
  ).join("\n");
}

function report(result: InsideResult, png: PngResult[], inBox: boolean): void {
  const where = inBox ? "nested-KVM box: absolute numbers inflated, read the ratios" : "host KVM";
  console.log(`\ndisplay benchmark, medians of ${result.runs} interleaved runs (${where})`);
  console.log(
    `\nguest fills, ${FILLS} per mode, guest TSC cycles (qemu/vmctl > 1.0: vmctl faster)`,
  );
  const fillRows = [[
    "fill",
    "bytes",
    "vmctl Mcyc",
    "qemu Mcyc",
    "vmctl B/cyc",
    "qemu B/cyc",
    "qemu/vmctl",
  ]];
  for (const fill of FILL_KINDS) {
    const bytes = FILLS * FILLS_BYTES[fill];
    const ours = median(result.fills.vmctl.map((s) => s[fill]));
    const theirs = median(result.fills.qemu.map((s) => s[fill]));
    fillRows.push([
      FILL_NAMES[fill],
      String(bytes),
      (ours / 1e6).toFixed(1),
      (theirs / 1e6).toFixed(1),
      (bytes / ours).toPrecision(3),
      (bytes / theirs).toPrecision(3),
      (theirs / ours).toFixed(2),
    ]);
  }
  console.log(table(fillRows));
  console.log(`\nPNG encode on the host, ${PNG_WIDTH}x${PNG_HEIGHT}, median of ${PNG_ENCODES}`);
  console.log(table([
    ["frame", "ms", "PNG bytes"],
    ...png.map((p) => [p.name, p.medianMs.toFixed(1), String(p.bytes)]),
  ]));
  console.log(
    `\nhost CPU of vmctl (user+sys), plain and with -g on a ${PTY_COLUMNS}x${PTY_ROWS} pty: ` +
      `the whole ${IDLE_SECONDS} s run, and as a share of a core in the steady window ` +
      `(${SETTLE_SECONDS}-${IDLE_SECONDS - 1} s)`,
  );
  const cpuRows = [[
    "screen",
    "plain s",
    "-g s",
    "-g costs",
    "steady plain",
    "steady -g",
    "-g costs",
    "-g frames/s",
  ]];
  const percent = (seconds: number, of: number) =>
    `${seconds >= 0 ? "" : "-"}${Math.abs(seconds / of * 100).toFixed(1)} %`;
  for (const scene of SCENE_KINDS) {
    const plain = result.cpu[scene].plain;
    const graphics = result.cpu[scene].graphics;
    const whole = median(plain.map((s) => s.cpuSeconds));
    const steady = median(plain.map((s) => s.steadyCpuSeconds));
    if (graphics.length === 0) {
      cpuRows.push([
        SCENE_NAMES[scene],
        whole.toFixed(2),
        "-",
        "-",
        percent(steady, STEADY_SECONDS),
        "-",
        "-",
        "-",
      ]);
      continue;
    }
    const wholeG = median(graphics.map((s) => s.cpuSeconds));
    const steadyG = median(graphics.map((s) => s.steadyCpuSeconds));
    cpuRows.push([
      SCENE_NAMES[scene],
      whole.toFixed(2),
      wholeG.toFixed(2),
      `${wholeG >= whole ? "+" : ""}${(wholeG - whole).toFixed(2)} s`,
      percent(steady, STEADY_SECONDS),
      percent(steadyG, STEADY_SECONDS),
      percent(steadyG - steady, STEADY_SECONDS),
      (median(graphics.map((s) => s.frames)) / IDLE_SECONDS).toFixed(1),
    ]);
  }
  console.log(table(cpuRows));
  if (result.graphicsError !== undefined) console.log(`  -g: ${result.graphicsError}`);
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "--inside") {
    const [share, disk, runs] = args.slice(1);
    await inside(share, disk, Number(runs));
    return 0;
  }
  const runsFlag = args.indexOf("--runs");
  const runs = runsFlag >= 0 ? Number(args[runsFlag + 1]) : 3;
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs takes a whole number ≥ 1");
  await ensureCommand("qemu-system-x86_64", "qemu-system-x86");
  await ensureCommand("/usr/bin/time", "time");
  await ensureCommand("script", "util-linux");
  const png = [
    await benchPng("desktop-like", desktopFrame()),
    await benchPng("noise (worst case)", noiseFrame()),
  ];
  const share = await Deno.makeTempDir({ prefix: "vmctl-display-bench-" });
  try {
    const disk = join(share, "vga_fill.img");
    const image = new Uint8Array(DISK_BYTES);
    image.set(await assembleBootSector("vga_fill"));
    await Deno.writeFile(disk, image);
    // Fill Deno's caches on the host, so the box (which shares them) does not compile main.ts.
    await new Deno.Command(Deno.execPath(), { args: ["check", `${REPO}main.ts`] }).output();
    const self = new URL(import.meta.url).pathname;
    // Two box CPUs, so that -g's drawing does not take turns with the redraw loop's vCPU.
    if (Deno.env.get("VMCTL_BOX_CPUS") === undefined) Deno.env.set("VMCTL_BOX_CPUS", "2");
    const result = await runInBoxOrDirect(
      [Deno.execPath(), "run", "-A", self, "--inside", share, disk, String(runs)],
      { timeoutMs: 3_600_000, cwd: REPO, shareDir: share },
    );
    if (result.boxDied) console.error(`bench-display: the box died: ${result.boxDeathReason}`);
    if (result.code !== 0) return 1;
    const measured = JSON.parse(await Deno.readTextFile(join(share, "result.json")));
    report(measured as InsideResult, png, result.inBox);
    return 0;
  } finally {
    await Deno.remove(share, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
