/**
 * `deno task bench`: boot-to-marker time of vmctl against QEMU/KVM (`-M pc` and `-M microvm`),
 * same kernel, initramfs and command line, interleaved runs, medians and ratios. vmctl runs twice
 * over: direct boot, and through SeaBIOS's linuxboot ROM (`-b seabios`), which is the path QEMU
 * `-M pc -kernel` takes, so that pair compares like with like. With `--cd`, the same guest boots
 * from the ISOLINUX test CD instead, through the firmware: vmctl with SeaBIOS and with corevm, the
 * CD on SATA and on IDE, against QEMU `-M pc` with the CD on IDE (`-cdrom`) and on its ICH9 AHCI.
 * Runs on the host's /dev/kvm when usable, otherwise inside the nested-KVM box (where absolute
 * times are inflated and noisy, so read the ratios).
 *
 *   deno task bench [--runs N] [--cd]
 * @module
 */
import { runInBoxOrDirect } from "./box.ts";
import { debianKernel, ensureCommand } from "./debian.ts";
import { TEST_READY_MARKER, testInitramfs, testIsolinuxIso } from "./guest_images.ts";

const REPO = new URL("..", import.meta.url).pathname;
const CMDLINE = "console=ttyS0 quiet vmctl_test=poweroff";
const RAM_MIB = "256";

interface Sample {
  markerMs: number;
  exitMs: number;
}

/** What the guests boot: Debian's kernel and the test initramfs, or the ISOLINUX CD of both. */
interface Media {
  kernel: string;
  initrd: string;
  iso: string;
}

interface Contender {
  name: string;
  argv: (media: Media) => string[];
}

const QEMU_COMMON = [
  ...["-enable-kvm", "-cpu", "host", "-m", RAM_MIB, "-nodefaults", "-no-user-config"],
  ...["-display", "none", "-serial", "stdio", "-no-reboot"],
];

/** QEMU/KVM with the given machine type, as lean as its defaults allow. */
function qemu(machine: string): Contender {
  return {
    name: `qemu -M ${machine}`,
    argv: ({ kernel, initrd }) => [
      ...["qemu-system-x86_64", "-M", machine, ...QEMU_COMMON],
      ...["-kernel", kernel, "-initrd", initrd, "-append", CMDLINE],
    ],
  };
}

/** vmctl, with extra options before the kernel's. */
function vmctl(name: string, extra: string[]): Contender {
  return {
    name,
    argv: ({ kernel, initrd }) => [
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

/** vmctl booting the CD through firmware. */
function vmctlCd(name: string, extra: string[]): Contender {
  return {
    name,
    argv: ({ iso }) => [
      ...[Deno.execPath(), "run", "-A", `${REPO}main.ts`, "run", "-r", RAM_MIB, ...extra],
      ...["-i", iso, "-t", "300"],
    ],
  };
}

const CD_CONTENDERS: Contender[] = [
  vmctlCd("vmctl seabios sata", ["-b", "seabios"]),
  vmctlCd("vmctl seabios ide", ["-b", "seabios", "--ide-cdrom"]),
  vmctlCd("vmctl corevm sata", ["-b", "corevm"]),
  vmctlCd("vmctl corevm ide", ["-b", "corevm", "--ide-cdrom"]),
  {
    name: "qemu pc ide",
    argv: ({ iso }) => ["qemu-system-x86_64", "-M", "pc", ...QEMU_COMMON, "-cdrom", iso],
  },
  {
    name: "qemu pc ahci",
    argv: ({ iso }) => [
      ...["qemu-system-x86_64", "-M", "pc", ...QEMU_COMMON, "-device", "ahci,id=sata"],
      ...["-drive", `file=${iso},if=none,id=cd0,media=cdrom,readonly=on`],
      ...["-device", "ide-cd,drive=cd0,bus=sata.0", "-boot", "d"],
    ],
  },
];

const CD_RATIOS: [string, string][] = [
  ["vmctl seabios ide", "qemu pc ide"],
  ["vmctl seabios sata", "qemu pc ahci"],
  ["vmctl corevm ide", "qemu pc ide"],
  ["vmctl corevm sata", "qemu pc ahci"],
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

async function inside(cd: boolean, media: Media, runs: number): Promise<void> {
  const contenders = cd ? CD_CONTENDERS : CONTENDERS;
  const width = Math.max(...contenders.map((c) => c.name.length));
  const samples = new Map<string, Sample[]>(contenders.map((c) => [c.name, []]));
  // Warm-up: page cache, Deno's module cache.
  for (const contender of contenders) await measure(contender.argv(media));
  for (let run = 1; run <= runs; run++) {
    for (const contender of contenders) {
      const sample = await measure(contender.argv(media));
      samples.get(contender.name)!.push(sample);
      console.log(
        `run ${run} ${contender.name.padEnd(width)} marker ${
          (sample.markerMs / 1000).toFixed(2)
        } s  exit ${(sample.exitMs / 1000).toFixed(2)} s`,
      );
    }
  }
  const what = cd ? "ISOLINUX CD with kernel + busybox initramfs" : "kernel + busybox initramfs";
  console.log(`\nmedian boot-to-marker over ${runs} runs (${what}, ${RAM_MIB} MiB):`);
  const markers = new Map<string, number>();
  for (const [name, list] of samples) {
    const marker = median(list.map((s) => s.markerMs));
    const exit = median(list.map((s) => s.exitMs));
    markers.set(name, marker);
    console.log(
      `  ${name.padEnd(width)} marker ${(marker / 1000).toFixed(2)} s  exit ${
        (exit / 1000).toFixed(2)
      } s`,
    );
  }
  for (const [ours, theirs] of cd ? CD_RATIOS : RATIOS) {
    const ratio = markers.get(ours)! / markers.get(theirs)!;
    console.log(`  ${ours} / ${theirs} = ${ratio.toFixed(2)}`);
  }
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "--inside") {
    const [cd, kernel, initrd, iso, runs] = args.slice(1);
    await inside(cd === "cd", { kernel, initrd, iso }, Number(runs));
    return 0;
  }
  const runsFlag = args.indexOf("--runs");
  const runs = runsFlag >= 0 ? Number(args[runsFlag + 1]) : 5;
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs takes a whole number ≥ 1");
  const cd = args.includes("--cd");
  await ensureCommand("qemu-system-x86_64", "qemu-system-x86");
  const kernel = (await debianKernel()).vmlinuz;
  const initrd = await testInitramfs();
  const iso = cd ? await testIsolinuxIso("poweroff") : "";
  // Fill Deno's caches on the host, so the box (which shares them) does not compile main.ts.
  await new Deno.Command(Deno.execPath(), { args: ["check", `${REPO}main.ts`] }).output();
  const self = new URL(import.meta.url).pathname;
  const inner = [cd ? "cd" : "linux", kernel, initrd, iso, String(runs)];
  const result = await runInBoxOrDirect(
    [Deno.execPath(), "run", "-A", self, "--inside", ...inner],
    { timeoutMs: 3_600_000, cwd: REPO },
  );
  if (result.inBox) console.error("bench: ran inside the nested-KVM box (no usable /dev/kvm here)");
  if (result.boxDied) console.error(`bench: the box died: ${result.boxDeathReason}`);
  return result.code === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
