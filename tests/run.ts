/**
 * The whole test suite (`deno task test`):
 *
 * 1. `zig build test --summary all` — the Zig unit tests;
 * 2. `deno test tests/unit/` — TypeScript tests that need no KVM;
 * 3. `deno test tests/kvm/<file>` — tests on a real /dev/kvm: directly when this machine has one,
 *    otherwise each file in its own nested-KVM box (tools/box.ts). A file whose box died (lock-up,
 *    panic, freeze) is run once more; a file that failed on its own is not.
 *
 * Arguments, if any, pick KVM test files (by part of their path); steps 1 and 2 always run.
 * Output streams as it comes; the last line is `N passed, N failed` for the whole suite, and the
 * exit code is non-zero when anything failed or a step could not run.
 *
 * @module
 */

import { assembleGuest } from "./guests/flat_kernel.ts";
import { assembleBootSector } from "./guests/boot_sector.ts";
import { displayInitramfs } from "../tools/display_guest.ts";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { boxInitramfs, deathExcerpt, kvmMode, runInBoxOrDirect } from "../tools/box.ts";
import { debianKernel, exists, firmwareDirs } from "../tools/debian.ts";
import {
  testInitramfs,
  testInputInitramfs,
  testIsolinuxIso,
  testStorageInitramfs,
} from "../tools/guest_images.ts";
import { grubRescueIso, isolinuxHybridIso, mbrDiskImage } from "../tools/boot_media.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const DENO = Deno.execPath();
const STEP_TIMEOUT_MS = 20 * 60_000;
/** One KVM test file's limit (each vmctl inside has its own, shorter one). */
const KVM_FILE_TIMEOUT_MS = 20 * 60_000;
const TEST_FILE = /(^|[_.])test\.(ts|tsx|mts|js|mjs|jsx)$/;

interface StepResult {
  name: string;
  passed: number;
  failed: number;
  skipped: number;
  /** One line per failure, for the summary. */
  failures: string[];
  /** Extra facts for the summary line (timings, retries). */
  facts: string[];
}

function newStep(name: string): StepResult {
  return { name, passed: 0, failed: 0, skipped: 0, failures: [], facts: [] };
}

function banner(text: string): void {
  console.log(`\n━━━ ${text} ━━━`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

// ---------------------------------------------------------------------------------------------
// Step 1: Zig

async function zigStep(): Promise<StepResult> {
  const step = newStep("zig build test");
  banner("zig build test --summary all");
  const run = await runInBoxOrDirect(["zig", "build", "test", "--summary", "all"], {
    cwd: REPO,
    timeoutMs: STEP_TIMEOUT_MS,
    mode: "direct",
  }).catch((error) => ({ code: 127, stdout: "", stderr: String(error), timedOut: false }));
  const output = run.stdout + "\n" + run.stderr;
  const summary = [...output.matchAll(/(\d+)\/(\d+) tests passed([^\n]*)/g)].at(-1);
  if (summary) {
    const passed = Number(summary[1]);
    const total = Number(summary[2]);
    const skipped = Number(/(\d+) skipped/.exec(summary[3])?.[1] ?? 0);
    step.passed = passed;
    step.skipped = skipped;
    step.failed = Math.max(0, total - passed - skipped);
    if (step.failed > 0) step.failures.push(`zig: ${step.failed} Zig test(s) failed (see above)`);
  }
  if (run.code !== 0 && step.failed === 0) {
    step.failed += 1;
    const why = run.timedOut ? "timed out" : `exited with code ${run.code}`;
    const what = summary ? "" : " before running any test (build error?)";
    step.failures.push(`zig: zig build test ${why}${what}`);
  }
  return step;
}

// ---------------------------------------------------------------------------------------------
// Step 0: formatting, lint and type checks, each counted as one test

const STYLE_CHECKS: [string, string[]][] = [
  ["deno fmt --check", [DENO, "fmt", "--check"]],
  ["deno lint", [DENO, "lint"]],
  ["deno check", [DENO, "check", "main.ts", "lib", "tests", "tools"]],
  ["zig fmt --check", ["zig", "fmt", "--check", "native", "bios", "build.zig"]],
];

async function styleStep(): Promise<StepResult> {
  const step = newStep("style checks");
  banner("deno fmt --check, deno lint, deno check, zig fmt --check");
  for (const [name, argv] of STYLE_CHECKS) {
    const output = await new Deno.Command(argv[0], { args: argv.slice(1), cwd: REPO }).output();
    if (output.success) {
      step.passed += 1;
      console.log(`${name}: ok`);
    } else {
      step.failed += 1;
      step.failures.push(`style: ${name} failed`);
      console.log(`${name}: FAILED`);
      Deno.stdout.writeSync(output.stdout);
      Deno.stdout.writeSync(output.stderr);
    }
  }
  return step;
}

// ---------------------------------------------------------------------------------------------
// JUnit reports from `deno test --junit-path`

interface JUnitCounts {
  passed: number;
  failed: number;
  skipped: number;
  failures: string[];
}

function xmlText(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);/gi, (_, entity: string) => {
    const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
    if (entity in named) return named[entity];
    const hex = entity.startsWith("#x") || entity.startsWith("#X");
    return String.fromCodePoint(parseInt(entity.slice(hex ? 2 : 1), hex ? 16 : 10));
  });
}

function attribute(attrs: string, name: string): string {
  const found = new RegExp(`\\b${name}="([^"]*)"`).exec(attrs);
  return found ? xmlText(found[1]) : "";
}

/** Counts top-level tests (steps, reported as "test > step", are left out). */
export function parseJUnit(xml: string): JUnitCounts {
  const cases = [...xml.matchAll(/<testcase\s([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)].map(
    (m) => ({
      name: attribute(m[1], "name"),
      file: attribute(m[1], "classname"),
      body: m[2] ?? "",
    }),
  );
  const names = new Set(cases.map((c) => `${c.file}\0${c.name}`));
  const isStep = (c: { name: string; file: string }) => {
    for (let cut = c.name.lastIndexOf(" > "); cut > 0; cut = c.name.lastIndexOf(" > ", cut - 1)) {
      if (names.has(`${c.file}\0${c.name.slice(0, cut)}`)) return true;
    }
    return false;
  };
  const counts: JUnitCounts = { passed: 0, failed: 0, skipped: 0, failures: [] };
  for (const c of cases) {
    if (isStep(c)) continue;
    const failure = /<(failure|error)\b([^>]*)>/.exec(c.body);
    if (failure) {
      counts.failed++;
      const message = attribute(failure[2], "message").split("\n")[0];
      counts.failures.push(`${c.file.replace(/^\.\//, "")}: ${c.name}: ${message}`);
    } else if (/<skipped\b/.test(c.body)) {
      counts.skipped++;
    } else {
      counts.passed++;
    }
  }
  return counts;
}

function readJUnit(path: string): JUnitCounts | undefined {
  try {
    return parseJUnit(Deno.readTextFileSync(path));
  } catch {
    return undefined;
  }
}

function listTests(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(at)];
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(at, entry.name);
      if (entry.isDirectory) walk(path);
      else if (entry.isFile && TEST_FILE.test(entry.name)) found.push(path);
    }
  };
  walk(dir);
  return found.sort();
}

/**
 * How many tests a file registers, for files that produced no report: `deno test` on the host
 * with a filter nothing matches reports them all as "filtered out" (only module-level code runs);
 * failing that, its `Deno.test(` calls are counted.
 */
async function declaredTests(file: string): Promise<number> {
  const out = await new Deno.Command(DENO, {
    args: ["test", "-A", "--no-check", "--filter=/^vmctl-count-only$/", file],
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output().catch(() => undefined);
  const text = out ? new TextDecoder().decode(out.stdout) : "";
  const filtered = /(\d+) filtered out/.exec(text);
  if (filtered && Number(filtered[1]) > 0) return Number(filtered[1]);
  try {
    return Math.max(1, (Deno.readTextFileSync(file).match(/\bDeno\.test\s*\(/g) ?? []).length);
  } catch {
    return 1;
  }
}

async function declaredTestsIn(files: string[]): Promise<number> {
  let total = 0;
  for (const file of files) total += await declaredTests(file);
  return total;
}

// ---------------------------------------------------------------------------------------------
// Step 2: unit tests

async function unitStep(scratch: string): Promise<StepResult> {
  const step = newStep("deno unit tests");
  const files = listTests(join(REPO, "tests", "unit"));
  banner(`deno test tests/unit/ (${files.length} files)`);
  if (files.length === 0) {
    console.log("no unit test files");
    return step;
  }
  const junit = join(scratch, "unit.xml");
  const run = await runInBoxOrDirect(
    [DENO, "test", "-A", `--junit-path=${junit}`, "tests/unit/"],
    { cwd: REPO, timeoutMs: STEP_TIMEOUT_MS, mode: "direct" },
  );
  const counts = readJUnit(junit);
  if (counts) {
    step.passed = counts.passed;
    step.failed = counts.failed;
    step.skipped = counts.skipped;
    step.failures.push(...counts.failures.map((f) => `unit: ${f}`));
  }
  if (run.code !== 0 && step.failed === 0) {
    step.failed += counts ? 1 : await declaredTestsIn(files);
    step.failures.push(
      `unit: deno test exited with code ${run.code}${counts ? "" : " and wrote no report"}`,
    );
  }
  return step;
}

// ---------------------------------------------------------------------------------------------
// Step 3: KVM tests

async function kvmStep(scratch: string, only: string[]): Promise<StepResult> {
  const files = listTests(join(REPO, "tests", "kvm")).filter((file) =>
    only.length === 0 || only.some((part) => file.includes(part))
  );
  const mode = kvmMode();
  const step = newStep(mode === "box" ? "KVM tests (nested box)" : "KVM tests (host /dev/kvm)");
  banner(
    `KVM tests: ${files.length} files, ${
      mode === "box" ? "each in a nested-KVM box" : "on this host's /dev/kvm"
    }`,
  );
  if (files.length === 0) return step;

  // Images and Deno's caches first, on the host: the box is slow and cannot keep what it writes.
  const prepStarted = performance.now();
  let env: Record<string, string>;
  try {
    const kernel = await debianKernel();
    env = {
      VMCTL_TEST_KERNEL: kernel.vmlinuz,
      VMCTL_TEST_INITRD: await testInitramfs(),
      VMCTL_FIRMWARE_PATH: (await firmwareDirs()).join(":"),
      VMCTL_TEST_STORAGE_INITRD: await testStorageInitramfs(),
      VMCTL_TEST_INPUT_INITRD: await testInputInitramfs(),
      VMCTL_TEST_ISOLINUX_ISO: await testIsolinuxIso("poweroff"),
      VMCTL_TEST_GRUB_ISO: await grubRescueIso("shell"),
      VMCTL_TEST_GRUB_MENU_ISO: await grubRescueIso("poweroff", true),
      VMCTL_TEST_MBR_DISK: await mbrDiskImage("poweroff"),
      VMCTL_TEST_HYBRID_ISO: await isolinuxHybridIso("poweroff"),
      VMCTL_TEST_DISPLAY_INITRD: await displayInitramfs(),
    };
    if (mode === "box") await boxInitramfs();
    await assembleGuest("hostile");
    await assembleGuest("vmmouse");
    await assembleBootSector("vga_draw");
  } catch (error) {
    const missed = await declaredTestsIn(files);
    step.failed += missed;
    step.failures.push(`kvm: could not prepare the guest images: ${(error as Error).message}`);
    return step;
  }
  const entries = [...files];
  if (exists(join(REPO, "main.ts"))) entries.unshift(join(REPO, "main.ts"));
  // `deno check` caches the modules (DENO_DIR, seen by the box through the host's /) and checks
  // every file here, at the host's speed: `deno test` in the box then runs with --no-check, since
  // its own check of each file (a different set of roots, so a cache miss) took up to a minute
  // of the box's emulated CPU per file.
  const checked = await runInBoxOrDirect([DENO, "check", ...entries], {
    cwd: REPO,
    timeoutMs: STEP_TIMEOUT_MS,
    mode: "direct",
  });
  if (checked.code !== 0) console.log(`(deno check exited with ${checked.code}: tests may fail)`);
  step.facts.push(`preparation ${seconds(performance.now() - prepStarted)}`);

  let retries = 0;
  let boxes = 0;
  let nudges = 0;
  const boots: number[] = [];
  for (const file of files) {
    const name = relative(REPO, file);
    for (let attempt = 1;; attempt++) {
      const share = join(scratch, `${name.replaceAll("/", "_")}-${attempt}`);
      await Deno.mkdir(share, { recursive: true });
      const junit = join(share, "junit.xml");
      console.log(`\n── ${name}${attempt > 1 ? ` (attempt ${attempt})` : ""} ──`);
      const run = await runInBoxOrDirect(
        [DENO, "test", "-A", "--no-check", `--junit-path=${junit}`, file],
        {
          cwd: REPO,
          // The share is writable host storage inside the box too, where O_DIRECT works (the
          // box's own tmpfs-backed root refuses it).
          env: { ...env, VMCTL_TEST_DIRECT_IO_DIR: share },
          timeoutMs: KVM_FILE_TIMEOUT_MS,
          shareDir: share,
          mode,
        },
      );
      if (run.inBox) {
        boxes++;
        nudges += run.nudges ?? 0;
        if (run.bootMs !== undefined) boots.push(run.bootMs);
      }
      const timing = run.inBox
        ? `box boot ${run.bootMs === undefined ? "?" : seconds(run.bootMs)}, `
        : "";
      const nudged = run.nudges
        ? `, ${run.nudges} key presses (late heartbeat; vCPU then: ${run.lateStates?.join(", ")})`
        : "";
      console.log(
        `── ${name}: exit ${run.code}, ${timing}total ${seconds(run.elapsedMs)}${nudged} ──`,
      );
      if (run.boxDied) {
        console.log(`!! the box died: ${run.boxDeathReason}`);
        console.log(`!! box console:\n${deathExcerpt(run.boxLog ?? "", 80)}`);
        if (attempt < 2) {
          retries++;
          console.log(`!! running ${name} once more in a new box`);
          continue;
        }
        const missed = await declaredTests(file);
        step.failed += missed;
        step.failures.push(
          `kvm: ${name}: box died twice (${run.boxDeathReason}); counted ${missed} test(s) as ` +
            `failed. Box console:\n${deathExcerpt(run.boxLog ?? "")}`,
        );
        break;
      }
      const counts = readJUnit(junit);
      if (counts) {
        step.passed += counts.passed;
        step.failed += counts.failed;
        step.skipped += counts.skipped;
        step.failures.push(...counts.failures.map((f) => `kvm: ${f}`));
      }
      if (run.code !== 0 && (!counts || counts.failed === 0)) {
        const missed = counts ? 1 : await declaredTests(file);
        step.failed += missed;
        const why = run.timedOut ? "timed out" : `exited with code ${run.code}`;
        step.failures.push(`kvm: ${name}: deno test ${why}${counts ? "" : ", no report"}`);
      }
      break;
    }
  }
  if (mode === "box") {
    const average = boots.length ? seconds(boots.reduce((a, b) => a + b, 0) / boots.length) : "?";
    step.facts.push(
      `${boxes} boxes, ${retries} retries after a box died, ${nudges} key presses to boxes ` +
        `whose heartbeat was late, average boot ${average}`,
    );
  }
  return step;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const started = performance.now();
  const scratch = await Deno.makeTempDir({ prefix: "vmctl-test-" });
  const steps: StepResult[] = [];
  const guarded = async (name: string, body: () => Promise<StepResult>) => {
    const stepStarted = performance.now();
    let step: StepResult;
    try {
      step = await body();
    } catch (error) {
      step = newStep(name);
      step.failed = 1;
      step.failures.push(`${name}: could not run: ${(error as Error).stack ?? error}`);
    }
    step.facts.unshift(seconds(performance.now() - stepStarted));
    steps.push(step);
  };
  // `--kvm-only PATTERN…` skips the first three steps, for working on one KVM test file.
  const kvmOnly = Deno.args[0] === "--kvm-only";
  const patterns = kvmOnly ? Deno.args.slice(1) : Deno.args;
  try {
    if (!kvmOnly) {
      await guarded("style checks", styleStep);
      await guarded("zig build test", zigStep);
      await guarded("deno unit tests", () => unitStep(scratch));
    }
    await guarded("KVM tests", () => kvmStep(scratch, patterns));
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }

  banner(`summary (${seconds(performance.now() - started)})`);
  for (const step of steps) {
    const skipped = step.skipped ? `, ${step.skipped} skipped` : "";
    const facts = step.facts.length ? `  [${step.facts.join("; ")}]` : "";
    console.log(`${step.name}: ${step.passed} passed, ${step.failed} failed${skipped}${facts}`);
  }
  const failures = steps.flatMap((s) => s.failures);
  if (failures.length) {
    console.log("\nfailures:");
    for (const failure of failures) console.log(`  - ${failure}`);
  }
  const passed = steps.reduce((n, s) => n + s.passed, 0);
  const failed = steps.reduce((n, s) => n + s.failed, 0);
  console.log(`\n${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
