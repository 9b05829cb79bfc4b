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
 * `--boot-sector` times reset to the boot sector instead, in the guest's own TSC cycles: vmctl
 * with corevm and with SeaBIOS, and QEMU `-M pc` (SeaBIOS), each booting a disk whose boot sector
 * reads the TSC first thing.
 *
 *   deno task bench [--runs N] [--cd | --boot-sector]
 * @module
 */
import { runInBoxOrDirect } from "./box.ts";
import { debianKernel, ensureCommand } from "./debian.ts";
import { TSC_BOOT_SECTOR_MARKER, tscBootSectorDisk } from "./boot_media.ts";
import { TEST_READY_MARKER, testCmdline, testInitramfs, testIsolinuxIso } from "./guest_images.ts";

const REPO = new URL("..", import.meta.url).pathname;
const CMDLINE = testCmdline("poweroff");
const RAM_MIB = "256";

interface Sample {
  markerMs: number;
  exitMs: number;
  /** The guest's TSC at its boot sector (`--boot-sector`): cycles from reset. */
  cycles?: number;
}

/** What the guests boot: Debian's kernel and the test initramfs, the ISOLINUX CD of both, or a
 * disk whose boot sector reports its TSC. */
interface Media {
  kernel: string;
  initrd: string;
  iso: string;
  bootDisk: string;
}

interface Contender {
  name: string;
  argv: (media: Media) => string[];
}

/** QEMU/KVM as lean as its defaults allow, up to the media. */
function qemuArgs(machine: string): string[] {
  return [
    ...["qemu-system-x86_64", "-M", machine, "-enable-kvm", "-cpu", "host", "-m", RAM_MIB],
    ...["-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot"],
  ];
}

/** `vmctl run` with the benchmark's RAM, up to the options that differ. */
const VMCTL_RUN = [Deno.execPath(), "run", "-A", `${REPO}main.ts`, "run", "-r", RAM_MIB];

/** QEMU/KVM with the given machine type, as lean as its defaults allow. */
function qemu(machine: string): Contender {
  return {
    name: `qemu -M ${machine}`,
    argv: ({ kernel, initrd }) => [
      ...qemuArgs(machine),
      ...["-kernel", kernel, "-initrd", initrd, "-append", CMDLINE],
    ],
  };
}

/** vmctl, with extra options before the kernel's. */
function vmctl(name: string, extra: string[]): Contender {
  return {
    name,
    argv: ({ kernel, initrd }) => [
      ...VMCTL_RUN,
      ...extra,
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
      ...VMCTL_RUN,
      ...extra,
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
    argv: ({ iso }) => [...qemuArgs("pc"), "-cdrom", iso],
  },
  {
    name: "qemu pc ahci",
    argv: ({ iso }) => [
      ...qemuArgs("pc"),
      ...["-device", "ahci,id=sata"],
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

/** vmctl booting the timing boot sector from a SATA disk. */
function vmctlBootSector(bios: string): Contender {
  return {
    name: `vmctl ${bios}`,
    argv: ({ bootDisk }) => [
      ...VMCTL_RUN,
      ...["-b", bios],
      ...["-d", `${bootDisk},ro`, "-t", "300"],
    ],
  };
}

const BOOT_SECTOR_CONTENDERS: Contender[] = [
  vmctlBootSector("corevm"),
  vmctlBootSector("seabios"),
  {
    name: "qemu pc seabios",
    argv: ({ bootDisk }) => [
      ...qemuArgs("pc"),
      ...["-device", "ahci,id=sata"],
      ...["-drive", `file=${bootDisk},if=none,id=disk0,format=raw,snapshot=on`],
      ...["-device", "ide-hd,drive=disk0,bus=sata.0"],
    ],
  },
];

const BOOT_SECTOR_RATIOS: [string, string][] = [
  ["vmctl corevm", "vmctl seabios"],
  ["vmctl corevm", "qemu pc seabios"],
  ["vmctl seabios", "qemu pc seabios"],
];

/**
 * Runs one boot; resolves with the time to the marker and to the process' exit. A marker with a
 * capture group carries the guest's cycle count; then the guest is killed at the marker (QEMU's
 * power-off register wants another sleep type than vmctl's, so the boot sector cannot stop both).
 */
async function measure(argv: string[], marker: RegExp): Promise<Sample> {
  const started = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 300_000);
  let markerMs = NaN;
  let cycles: number | undefined;
  let seen = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    if (Number.isNaN(markerMs)) {
      seen = (seen + decoder.decode(chunk)).slice(-4096);
      const match = marker.exec(seen);
      if (match) {
        markerMs = performance.now() - started;
        if (match[1] !== undefined) {
          cycles = parseInt(match[1], 16);
          child.kill("SIGKILL");
        }
      }
    }
  }
  const status = await child.status;
  clearTimeout(killer);
  if ((!status.success && cycles === undefined) || Number.isNaN(markerMs)) {
    throw new Error(
      `${argv.slice(0, 3).join(" ")}… failed (exit ${status.code}, marker ${!Number.isNaN(
        markerMs,
      )})`,
    );
  }
  return { markerMs, exitMs: performance.now() - started, cycles };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

type Mode = "linux" | "cd" | "boot-sector";

/** Each mode's contenders, the pairs whose ratio it prints, its marker, and what it boots. */
const MODES: Record<
  Mode,
  { contenders: Contender[]; ratios: [string, string][]; marker: RegExp; what: string }
> = {
  linux: {
    contenders: CONTENDERS,
    ratios: RATIOS,
    marker: new RegExp(TEST_READY_MARKER),
    what: "kernel + busybox initramfs",
  },
  cd: {
    contenders: CD_CONTENDERS,
    ratios: CD_RATIOS,
    marker: new RegExp(TEST_READY_MARKER),
    what: "ISOLINUX CD with kernel + busybox initramfs",
  },
  "boot-sector": {
    contenders: BOOT_SECTOR_CONTENDERS,
    ratios: BOOT_SECTOR_RATIOS,
    marker: TSC_BOOT_SECTOR_MARKER,
    what: "reset to the boot sector of a SATA disk, guest TSC cycles",
  },
};

async function inside(mode: Mode, media: Media, runs: number): Promise<void> {
  const { contenders, ratios, marker, what } = MODES[mode];
  const width = Math.max(...contenders.map((c) => c.name.length));
  const samples = new Map<string, Sample[]>(contenders.map((c) => [c.name, []]));
  // Warm-up: page cache, Deno's module cache.
  for (const contender of contenders) await measure(contender.argv(media), marker);
  for (let run = 1; run <= runs; run++) {
    for (const contender of contenders) {
      const sample = await measure(contender.argv(media), marker);
      samples.get(contender.name)!.push(sample);
      const cycles = sample.cycles === undefined
        ? ""
        : `  ${(sample.cycles / 1e6).toFixed(0)} Mcycles`;
      console.log(
        `run ${run} ${contender.name.padEnd(width)} marker ${
          (sample.markerMs / 1000).toFixed(2)
        } s  exit ${(sample.exitMs / 1000).toFixed(2)} s${cycles}`,
      );
    }
  }
  console.log(`\nmedians over ${runs} runs (${what}, ${RAM_MIB} MiB):`);
  // Ratios compare guest cycles where the guest reports them, else wall time to the marker.
  const scores = new Map<string, number>();
  for (const [name, list] of samples) {
    const markerMs = median(list.map((s) => s.markerMs));
    const exit = median(list.map((s) => s.exitMs));
    const cycles = list.every((s) => s.cycles !== undefined)
      ? median(list.map((s) => s.cycles!))
      : undefined;
    scores.set(name, cycles ?? markerMs);
    console.log(
      `  ${name.padEnd(width)} marker ${(markerMs / 1000).toFixed(2)} s  exit ${
        (exit / 1000).toFixed(2)
      } s${cycles === undefined ? "" : `  ${(cycles / 1e6).toFixed(0)} Mcycles`}`,
    );
  }
  for (const [ours, theirs] of ratios) {
    const ratio = scores.get(ours)! / scores.get(theirs)!;
    console.log(`  ${ours} / ${theirs} = ${ratio.toFixed(2)}`);
  }
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "--inside") {
    const [mode, kernel, initrd, iso, runs] = args.slice(1);
    const bootDisk = await Deno.makeTempFile({ prefix: "vmctl-bench-mbr-", suffix: ".img" });
    try {
      await Deno.writeFile(bootDisk, tscBootSectorDisk());
      await inside(mode as Mode, { kernel, initrd, iso, bootDisk }, Number(runs));
    } finally {
      await Deno.remove(bootDisk);
    }
    return 0;
  }
  const runsFlag = args.indexOf("--runs");
  const runs = runsFlag >= 0 ? Number(args[runsFlag + 1]) : 5;
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs takes a whole number ≥ 1");
  const mode: Mode = args.includes("--cd")
    ? "cd"
    : args.includes("--boot-sector")
    ? "boot-sector"
    : "linux";
  await ensureCommand("qemu-system-x86_64", "qemu-system-x86");
  const kernel = (await debianKernel()).vmlinuz;
  const initrd = await testInitramfs();
  const iso = mode === "cd" ? await testIsolinuxIso("poweroff") : "";
  // Fill Deno's caches on the host, so the box (which shares them) does not compile main.ts.
  await new Deno.Command(Deno.execPath(), { args: ["check", `${REPO}main.ts`] }).output();
  const self = new URL(import.meta.url).pathname;
  const result = await runInBoxOrDirect(
    [Deno.execPath(), "run", "-A", self, "--inside", mode, kernel, initrd, iso, String(runs)],
    { timeoutMs: 3_600_000, cwd: REPO },
  );
  if (result.inBox) console.error("bench: ran inside the nested-KVM box (no usable /dev/kvm here)");
  if (result.boxDied) console.error(`bench: the box died: ${result.boxDeathReason}`);
  return result.code === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
