/**
 * `deno task bench-disk`: sequential AHCI throughput of vmctl against QEMU/KVM's ICH9 AHCI
 * (`-device ahci` + `ide-hd`), same kernel, storage initramfs and raw image. The guest writes and
 * then reads N MiB of /dev/sda with `dd` in 1 MiB O_DIRECT blocks (guest mode `ddbench`) and
 * reports its own uptime around each pass, so start-up costs are left out. Both use writeback
 * caching of a sparse raw image on the same file system. Interleaved runs, medians, ratios
 * (vmctl / QEMU throughput: above 1 is faster). Runs on the host's /dev/kvm when usable,
 * otherwise inside the nested-KVM box (absolute numbers there are far below hardware; read the
 * ratios).
 *
 *   deno task bench-disk [--runs N] [--mib N]
 * @module
 */
import { runInBoxOrDirect } from "./box.ts";
import { debianKernel, ensureCommand } from "./debian.ts";
import { testCmdline, testStorageInitramfs } from "./guest_images.ts";

const REPO = new URL("..", import.meta.url).pathname;
const RAM_MIB = "256";

interface Sample {
  writeMibS: number;
  readMibS: number;
}

interface Contender {
  name: string;
  argv: (kernel: string, initrd: string, image: string, mib: number) => string[];
}

function cmdline(mib: number): string {
  return `${testCmdline("ddbench")} vmctl_ddbench_mib=${mib}`;
}

const CONTENDERS: Contender[] = [
  {
    name: "vmctl",
    argv: (kernel, initrd, image, mib) => [
      ...[Deno.execPath(), "run", "-A", `${REPO}main.ts`, "run", "-r", RAM_MIB, "-t", "600"],
      ...["-d", image, "--cache", "writeback"],
      ...["--kernel", kernel, "--initrd", initrd, "--append", cmdline(mib)],
    ],
  },
  {
    name: "qemu -M pc + ahci",
    argv: (kernel, initrd, image, mib) => [
      "qemu-system-x86_64",
      ...["-M", "pc", "-enable-kvm", "-cpu", "host", "-m", RAM_MIB],
      ...["-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot"],
      ...["-device", "ahci,id=sata"],
      ...["-drive", `file=${image},if=none,id=disk0,format=raw,cache=writeback`],
      ...["-device", "ide-hd,drive=disk0,bus=sata.0"],
      ...["-kernel", kernel, "-initrd", initrd, "-append", cmdline(mib)],
    ],
  },
];

/** Runs one guest; returns its write and read throughput from the `ddbench:` line. */
async function measure(argv: string[]): Promise<Sample> {
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const match = text.match(/ddbench: mib=(\d+) start=([\d.]+) written=([\d.]+) read=([\d.]+)/);
  if (!out.success || !match) {
    throw new Error(
      `${argv.slice(0, 3).join(" ")}… failed (exit ${out.code}):\n${text.slice(-2000)}`,
    );
  }
  const [mib, start, written, read] = match.slice(1).map(Number);
  return { writeMibS: mib / (written - start), readMibS: mib / (read - written) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function inside(kernel: string, initrd: string, runs: number, mib: number): Promise<void> {
  const image = await Deno.makeTempFile({ prefix: "vmctl-disk-bench-", suffix: ".img" });
  try {
    await Deno.truncate(image, (mib + 16) * 1024 * 1024);
    const samples = new Map<string, Sample[]>(CONTENDERS.map((c) => [c.name, []]));
    for (let run = 1; run <= runs; run++) {
      for (const contender of CONTENDERS) {
        const sample = await measure(contender.argv(kernel, initrd, image, mib));
        samples.get(contender.name)!.push(sample);
        console.log(
          `run ${run} ${contender.name.padEnd(18)} write ${sample.writeMibS.toFixed(1)} MiB/s` +
            `  read ${sample.readMibS.toFixed(1)} MiB/s`,
        );
      }
    }
    console.log(`\nmedian over ${runs} runs (${mib} MiB, dd bs=1M O_DIRECT, AHCI, writeback):`);
    const medians = new Map<string, Sample>();
    for (const [name, list] of samples) {
      const m = {
        writeMibS: median(list.map((s) => s.writeMibS)),
        readMibS: median(list.map((s) => s.readMibS)),
      };
      medians.set(name, m);
      console.log(
        `  ${name.padEnd(18)} write ${m.writeMibS.toFixed(1)} MiB/s  read ${
          m.readMibS.toFixed(1)
        } MiB/s`,
      );
    }
    const ours = medians.get(CONTENDERS[0].name)!;
    const theirs = medians.get(CONTENDERS[1].name)!;
    console.log(
      `  vmctl / qemu write throughput = ${(ours.writeMibS / theirs.writeMibS).toFixed(2)}`,
    );
    console.log(`  vmctl / qemu read throughput = ${(ours.readMibS / theirs.readMibS).toFixed(2)}`);
  } finally {
    await Deno.remove(image);
  }
}

function flag(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  const value = at >= 0 ? Number(args[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} takes a whole number ≥ 1`);
  return value;
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "--inside") {
    await inside(args[1], args[2], Number(args[3]), Number(args[4]));
    return 0;
  }
  const runs = flag(args, "--runs", 3);
  const mib = flag(args, "--mib", 128);
  await ensureCommand("qemu-system-x86_64", "qemu-system-x86");
  const kernel = (await debianKernel()).vmlinuz;
  const initrd = await testStorageInitramfs();
  // Fill Deno's caches on the host, so the box (which shares them) does not compile main.ts.
  await new Deno.Command(Deno.execPath(), { args: ["check", `${REPO}main.ts`] }).output();
  const self = new URL(import.meta.url).pathname;
  const result = await runInBoxOrDirect(
    [Deno.execPath(), "run", "-A", self, "--inside", kernel, initrd, String(runs), String(mib)],
    { timeoutMs: 3_600_000, cwd: REPO },
  );
  if (result.inBox) {
    console.error("bench-disk: ran inside the nested-KVM box (no usable /dev/kvm here)");
  }
  if (result.boxDied) console.error(`bench-disk: the box died: ${result.boxDeathReason}`);
  return result.code === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
