/**
 * `deno task bench`: boot-to-marker time of vmctl against QEMU/KVM (`-M pc` and `-M microvm`),
 * same kernel, initramfs and command line, interleaved runs, medians and ratios. vmctl runs twice
 * over: direct boot, and through SeaBIOS's linuxboot ROM (`-b seabios`), which is the path QEMU
 * `-M pc -kernel` takes, so that pair compares like with like. Runs on the
 * host's /dev/kvm when usable, otherwise inside the nested-KVM box (where absolute times are
 * inflated and noisy, so read the ratios).
 *
 *   deno task bench [--runs N]
 * @module
 */
import { runInBoxOrDirect } from "./box.ts";
import { debianKernel, ensureCommand } from "./debian.ts";
import { TEST_READY_MARKER, testInitramfs } from "./guest_images.ts";

const REPO = new URL("..", import.meta.url).pathname;
const CMDLINE = "console=ttyS0 quiet vmctl_test=poweroff";
const RAM_MIB = "256";

interface Sample {
  markerMs: number;
  exitMs: number;
}

interface Contender {
  name: string;
  argv: (kernel: string, initrd: string) => string[];
}

/** QEMU/KVM with the given machine type, as lean as its defaults allow. */
function qemu(machine: string): Contender {
  return {
    name: `qemu -M ${machine}`,
    argv: (kernel, initrd) => [
      "qemu-system-x86_64",
      ...["-M", machine, "-enable-kvm", "-cpu", "host", "-m", RAM_MIB],
      ...["-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot"],
      ...["-kernel", kernel, "-initrd", initrd, "-append", CMDLINE],
    ],
  };
}

/** vmctl, with extra options before the kernel's. */
function vmctl(name: string, extra: string[]): Contender {
  return {
    name,
    argv: (kernel, initrd) => [
      ...[Deno.execPath(), "run", "-A", `${REPO}main.ts`, "run", "-r", RAM_MIB, ...extra],
      ...["--kernel", kernel, "--initrd", initrd, "--append", CMDLINE, "-t", "300"],
    ],
  };
}

const CONTENDERS: Contender[] = [
  vmctl("vmctl", []),
  vmctl("vmctl -b seabios", ["-b", "seabios"]),
  qemu("pc"),
  qemu("microvm"),
];

/** The pairs whose ratio the summary prints: [vmctl variant, QEMU variant]. */
const RATIOS: [string, string][] = [
  ["vmctl", "qemu -M pc"],
  ["vmctl", "qemu -M microvm"],
  ["vmctl -b seabios", "qemu -M pc"],
];

/** Runs one boot; resolves with the time to the marker and to the process' exit. */
async function measure(argv: string[]): Promise<Sample> {
  const started = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 300_000);
  let markerMs = NaN;
  let seen = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    if (Number.isNaN(markerMs)) {
      seen = (seen + decoder.decode(chunk)).slice(-4096);
      if (seen.includes(TEST_READY_MARKER)) markerMs = performance.now() - started;
    }
  }
  const status = await child.status;
  clearTimeout(killer);
  if (!status.success || Number.isNaN(markerMs)) {
    throw new Error(
      `${argv.slice(0, 3).join(" ")}… failed (exit ${status.code}, marker ${!Number.isNaN(
        markerMs,
      )})`,
    );
  }
  return { markerMs, exitMs: performance.now() - started };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function inside(kernel: string, initrd: string, runs: number): Promise<void> {
  const samples = new Map<string, Sample[]>(CONTENDERS.map((c) => [c.name, []]));
  // Warm-up: page cache, Deno's module cache.
  for (const contender of CONTENDERS) await measure(contender.argv(kernel, initrd));
  for (let run = 1; run <= runs; run++) {
    for (const contender of CONTENDERS) {
      const sample = await measure(contender.argv(kernel, initrd));
      samples.get(contender.name)!.push(sample);
      console.log(
        `run ${run} ${contender.name.padEnd(16)} marker ${(sample.markerMs / 1000).toFixed(2)} s` +
          `  exit ${(sample.exitMs / 1000).toFixed(2)} s`,
      );
    }
  }
  console.log(
    `\nmedian boot-to-marker over ${runs} runs (kernel + busybox initramfs, ${RAM_MIB} MiB):`,
  );
  const markers = new Map<string, number>();
  for (const [name, list] of samples) {
    const marker = median(list.map((s) => s.markerMs));
    const exit = median(list.map((s) => s.exitMs));
    markers.set(name, marker);
    console.log(
      `  ${name.padEnd(16)} marker ${(marker / 1000).toFixed(2)} s  exit ${
        (exit / 1000).toFixed(2)
      } s`,
    );
  }
  for (const [ours, theirs] of RATIOS) {
    const ratio = markers.get(ours)! / markers.get(theirs)!;
    console.log(`  ${ours} / ${theirs} = ${ratio.toFixed(2)}`);
  }
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "--inside") {
    await inside(args[1], args[2], Number(args[3]));
    return 0;
  }
  const runsFlag = args.indexOf("--runs");
  const runs = runsFlag >= 0 ? Number(args[runsFlag + 1]) : 5;
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs takes a whole number ≥ 1");
  await ensureCommand("qemu-system-x86_64", "qemu-system-x86");
  const kernel = (await debianKernel()).vmlinuz;
  const initrd = await testInitramfs();
  // Fill Deno's caches on the host, so the box (which shares them) does not compile main.ts.
  await new Deno.Command(Deno.execPath(), { args: ["check", `${REPO}main.ts`] }).output();
  const self = new URL(import.meta.url).pathname;
  const result = await runInBoxOrDirect(
    [Deno.execPath(), "run", "-A", self, "--inside", kernel, initrd, String(runs)],
    { timeoutMs: 3_600_000, cwd: REPO },
  );
  if (result.inBox) console.error("bench: ran inside the nested-KVM box (no usable /dev/kvm here)");
  if (result.boxDied) console.error(`bench: the box died: ${result.boxDeathReason}`);
  return result.code === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
