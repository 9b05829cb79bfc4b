/**
 * `vmctl run`: reads the guest files, builds the machine, runs it until it powers off, times
 * out or is stopped, reboots it when the guest asks, and turns the outcome into an exit code.
 * @module
 */
import type { RunConfig } from "./config.ts";
import { Console, sendToConsole } from "./console.ts";
import { UserError } from "./errors.ts";
import { type MachineExit, runUntilExit, StopSwitch } from "./exit_loop.ts";
import {
  COREVM_BUILD_PATH,
  corevmImagePath,
  findFile,
  firmwarePolicyFiles,
  firmwareSearchPath,
  LINUX_LOADER_ROM,
  requireFile,
} from "./firmware.ts";
import { type BootSpec, type GuestFile, Machine, type MachineSpec } from "./machine.ts";
import { loadNative, type Native } from "./native.ts";
import { checkImageFile, closeImages, type DriveSpec, openImages, planDrives } from "./storage.ts";
import { formatRegisters } from "./registers.ts";
import { checkScreenshotPath, screenshotPath } from "./png.ts";
import { requireTerminal, TerminalDisplay } from "./display.ts";
import { KeySchedule } from "./key_schedule.ts";
import { TerminalKeyboard } from "./terminal_keyboard.ts";
import { asciiArt } from "./terminal_screen.ts";
import { Screen } from "./screen.ts";
import { Automation, type AutomationOutcome } from "./automation.ts";
import { Monitor, type MonitorHandler } from "./monitor.ts";
import { comboEvents, textEvents } from "./keys.ts";
import { parseMouseMove, parseMousePosition, sendStrokes } from "./key_schedule.ts";

const STDOUT_FD = 1;
const STDERR_FD = 2;

/** Exit codes of `vmctl run`. */
export const EXIT = {
  poweredOff: 0,
  error: 1,
  timeout: 2,
  expectationNotMet: 3,
  failOn: 4,
  sigint: 130,
  sigterm: 143,
} as const;

/** Boots the configured guest and returns vmctl's exit code. */
export async function run(config: RunConfig): Promise<number> {
  const drives = planDrives(config);
  for (const drive of drives) checkImageFile(drive);
  const spec: MachineSpec = {
    kvmDevice: config.kvmDevice,
    ramMib: config.ramMib,
    cpus: 1,
    vga: config.vga,
    vramMib: config.vramMib,
    boot: bootSpec(config, drives),
    exitPort: config.exitPort,
    vmmouse: config.vmmouse,
  };
  checkHostMemory(config.ramMib);
  if (config.screenshot !== undefined) checkScreenshotPath(config.screenshot);
  if (config.graphics) requireTerminal();
  const native = loadNative();
  const monitor = config.monitor === undefined ? undefined : await Monitor.open(config.monitor);
  let serialFd = -1;
  // Opened (and locked) once for the whole run: a guest reset keeps its disks.
  let images;
  try {
    serialFd = openSerialOutput(native, config);
    images = openImages(native, drives, config.cache);
  } catch (error) {
    closeSerialOutput(native, serialFd);
    await monitor?.close();
    throw error;
  }

  const started = performance.now();
  const stop = new StopSwitch();
  const console = new Console(() => stop.stop({ kind: "quit", via: "console" }));
  const screen = new Screen();
  const display = config.graphics ? new TerminalDisplay() : undefined;
  const keyboard = config.graphics ? new TerminalKeyboard() : undefined;
  const keys = new KeySchedule(config.keySteps, config.keyIntervalMs);
  const automation = new Automation(
    config.automation,
    config.keyIntervalMs,
    (outcome) => stop.stop({ kind: "automation", outcome }),
  );
  let shots = 0;
  const screenshots: string[] = [];
  let serialBytes = 0;
  const exits: Record<string, number> = {};
  const onSigint = () => stop.stop({ kind: "signal", signal: "SIGINT" });
  const onSigterm = () => stop.stop({ kind: "signal", signal: "SIGTERM" });
  const onSigusr1 = () => {
    if (config.screenshot === undefined) return;
    const path = screenshotPath(config.screenshot, ++shots);
    screen.saveShot(path).then(
      () => screenshots.push(path),
      (error) => say(`cannot write ${path}: ${error.message}`),
    );
  };
  Deno.addSignalListener("SIGINT", onSigint);
  Deno.addSignalListener("SIGTERM", onSigterm);
  Deno.addSignalListener("SIGUSR1", onSigusr1);
  const timer = config.timeoutSeconds === undefined ? undefined : setTimeout(
    () => stop.stop({ kind: "timeout", seconds: config.timeoutSeconds! }),
    config.timeoutSeconds * 1000,
  );

  let boots = 0;
  let current: Machine | undefined;
  if (monitor !== undefined) {
    monitor.handler = monitorHandler({
      stop,
      screen,
      intervalMs: config.keyIntervalMs,
      machine: () => current,
      status: () => ({
        state: stop.paused ? "paused" : current === undefined ? "rebooting" : "running",
        boots,
        run_seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
        serial_bytes: serialBytes + (current?.serialBytes() ?? 0),
      }),
      screenshots,
    });
  }
  let exit: MachineExit;
  let ended = false;
  try {
    while (true) {
      const machine = Machine.create(native, spec, images);
      boots++;
      current = machine;
      if (boots > 1) monitor?.event({ event: "reset", boots });
      machine.setOutput(serialFd, config.verbose ? STDERR_FD : -1);
      stop.machine = machine;
      // With -g the terminal's keys go to the guest's keyboard, else its bytes go to COM1.
      if (keyboard !== undefined) keyboard.target = machine;
      console.target = keyboard ?? machine;
      screen.machine = machine;
      keys.target = machine;
      automation.target = machine;
      if (automation.watchesSerial || monitor !== undefined) {
        machine.watchConsole((bytes) => {
          automation.serial(bytes);
          monitor?.serial(bytes);
        });
      }
      if (automation.watchesScreen) machine.watchScreen(() => automation.screenChanged());
      if (boots === 1) {
        console.start();
        display?.start(screen);
        keys.start();
        automation.start();
      }
      if (display !== undefined) machine.watchScreen(() => display.changed());
      exit = await runUntilExit(machine, stop);
      current = undefined;
      keys.target = undefined;
      automation.target = undefined;
      if (keyboard !== undefined) keyboard.target = undefined;
      console.target = undefined;
      stop.machine = undefined;
      const restarting = exit.kind === "reset" && !config.noReboot;
      if (!restarting) {
        // The last frame, whichever way the run ended: a timed-out boot leaves its picture.
        display?.stop();
        if (config.screenshot !== undefined) {
          const path = config.screenshot;
          await screen.saveShot(path).then(
            () => screenshots.push(path),
            (error) => say(`cannot write ${path}: ${error.message}`),
          );
        }
        if (config.screenDump) writeAllSync(Deno.stdout, encode(screenDump(machine)));
      }
      screen.machine = undefined;
      if (config.showRegs) Deno.stderr.writeSync(encode(formatRegisters(machine.registers(0))));
      if (config.verbose) {
        say(`boot ${boots}: ${machine.unclaimedAccesses()} unclaimed port/MMIO accesses`);
        const missed = machine.consoleBytesLost();
        if (missed > 0n) say(`boot ${boots}: --expect and --fail-on missed ${missed} COM1 bytes`);
      }
      serialBytes += machine.serialBytes();
      for (const [kind, count] of Object.entries(machine.exitCounts())) {
        exits[kind] = (exits[kind] ?? 0) + count;
      }
      await machine.destroy();
      if (restarting) {
        if (config.verbose) say("guest reset: booting again");
        continue;
      }
      break;
    }
    ended = true;
  } finally {
    // On an error the socket closes here; on an ordinary end, after its exit event.
    if (!ended) await monitor?.close();
    await keys.stop();
    await automation.stop();
    display?.stop();
    closeImages(native, images);
    closeSerialOutput(native, serialFd);
    console.stop();
    clearTimeout(timer);
    Deno.removeSignalListener("SIGINT", onSigint);
    Deno.removeSignalListener("SIGTERM", onSigterm);
    Deno.removeSignalListener("SIGUSR1", onSigusr1);
  }
  const seconds = (performance.now() - started) / 1000;
  const outcome = outcomeOf(exit, seconds.toFixed(2), boots);
  say(outcome.message);
  if (monitor !== undefined) {
    monitor.event({ event: "exit", reason: outcome.reason, code: outcome.code });
    await monitor.close();
  }
  if (config.json) {
    printSummary({
      outcome,
      seconds: Number(seconds.toFixed(3)),
      boots,
      serialBytes,
      exits,
      screenshots,
    });
  }
  return outcome.code;
}

const ERRNO_WORDS: Record<number, string> = {
  2: "no such folder",
  13: "permission denied",
  20: "a part of the path is not a folder",
  21: "it is a folder",
  30: "read-only file system",
};

/** How long the control socket's `pointer` waits for the guest to take the position. */
const POINTER_WAIT_MS = 10_000;

interface MonitorContext {
  stop: StopSwitch;
  screen: Screen;
  intervalMs: number;
  machine: () => Machine | undefined;
  status: () => Record<string, unknown>;
  screenshots: string[];
}

/** What the control socket's commands do, on whichever machine runs at the moment. */
function monitorHandler(context: MonitorContext): MonitorHandler {
  const { stop, screen } = context;
  const stopped = () => stop.request !== undefined;
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const strokes = (list: ReturnType<typeof textEvents>) =>
    sendStrokes(list, {
      intervalMs: context.intervalMs,
      push: (packed) => context.machine()?.pushKey(packed) ?? false,
      sleep,
      stopped,
    });
  return {
    status: context.status,
    async screenshot(path) {
      checkScreenshotPath(path);
      await screen.saveShot(path);
      context.screenshots.push(path);
    },
    key: (keys) => strokes(keys.split(",").map(comboEvents)),
    type: (text) => strokes(textEvents(text)),
    send: (text) => sendToConsole(encode(text), context.machine, { sleep, stopped }),
    mouse(dx, dy, buttons, wheel) {
      const move = parseMouseMove(`${dx},${dy},${buttons},${wheel}`);
      context.machine()?.moveMouse(move.dx, move.dy, move.wheel, move.buttons);
    },
    async pointer(x, y, buttons, wheel) {
      const at = parseMousePosition(`${x},${y},${buttons},${wheel}`);
      const deadline = performance.now() + POINTER_WAIT_MS;
      while (!stopped() && performance.now() < deadline) {
        if (context.machine()?.pointTo(at.dx, at.dy, at.wheel, at.buttons)) return true;
        await sleep(10);
      }
      return false;
    },
    pause: () => stop.pause(),
    cont: () => stop.resume(),
    quit: () => stop.stop({ kind: "quit", via: "monitor" }),
  };
}

/** Where guest serial output goes: stdout, `--serial FILE`, or nowhere under `-g`. */
function openSerialOutput(native: Native, config: RunConfig): number {
  if (config.serialFile === undefined) return config.graphics ? -1 : STDOUT_FD;
  const fd = native.vmctl_output_open(encode(`${config.serialFile}\0`));
  if (fd < 0) {
    const why = ERRNO_WORDS[-fd] ?? `errno ${-fd}`;
    throw new UserError(
      `cannot write the serial output to ${config.serialFile} (${why}): check the path ` +
        `and its folder's permissions`,
    );
  }
  return fd;
}

function closeSerialOutput(native: Native, fd: number): void {
  if (fd > STDERR_FD) native.vmctl_output_close(fd);
}

/** What `-s` prints: the text screen, or an ASCII-art rendering of a graphics mode. */
function screenDump(machine: Machine): string {
  if (machine.screenText() !== undefined) return machine.textScreen();
  const frame = machine.screenFrame();
  return frame === undefined ? "" : asciiArt(frame, 80);
}

/** SeaVGABIOS's build for each adapter (Debian's seabios package has both). */
const VGA_BIOS = { std: "vgabios-stdvga.bin", vmware: "vgabios-vmware.bin" } as const;

/** Reads every file the boot needs, so a missing one is reported before any VM exists. */
function bootSpec(config: RunConfig, drives: DriveSpec[]): BootSpec {
  const linux = config.kernel === undefined ? undefined : {
    kernel: checkBzImage(readGuestFile(config.kernel, "kernel")),
    initrd: config.initrd === undefined ? undefined : readGuestFile(config.initrd, "initrd"),
    cmdline: config.append,
  };
  if (config.bios === "none") return { kind: "direct", linux: linux! };
  if (config.bios === "corevm") {
    // corevm loads Linux from fw_cfg itself and draws its own text screen: no option ROMs.
    const path = corevmImagePath();
    if (path === undefined) {
      throw new UserError(`corevm is not built (no ${COREVM_BUILD_PATH}): run 'deno task build'`);
    }
    const bios = readGuestFile(path, "corevm firmware");
    const files = firmwarePolicyFiles({
      linuxLoader: linux !== undefined,
      bootOrder: config.bootOrder,
      drives,
      bootMenu: config.bootMenu,
    });
    return { kind: "firmware", bios, files, linux };
  }
  let bios: GuestFile;
  let romDirs = firmwareSearchPath();
  if (config.bios === "seabios") {
    bios = readGuestFile(requireFile("bios-256k.bin", "SeaBIOS", "seabios"), "firmware");
  } else {
    bios = checkFirmwareImage(readGuestFile(config.bios, "firmware"));
    romDirs = [config.bios.replace(/\/[^/]*$/, "") || ".", ...romDirs];
  }
  // Without a VGA BIOS the machine still boots; SeaBIOS then uses COM1 as its only screen.
  const vgaRomPath = config.vga === "none" ? undefined : findFile(VGA_BIOS[config.vga], romDirs);
  const vgaRom = vgaRomPath === undefined ? undefined : readGuestFile(vgaRomPath, "VGA BIOS");
  const files = firmwarePolicyFiles({
    linuxLoader: linux !== undefined,
    bootOrder: config.bootOrder,
    drives,
    bootMenu: config.bootMenu,
  });
  if (linux) {
    const loader = requireFile("linuxboot_dma.bin", "QEMU's Linux loader ROM", "qemu-system-data");
    files.push({ name: LINUX_LOADER_ROM, bytes: readGuestFile(loader, "option ROM").bytes });
  }
  return { kind: "firmware", bios, vgaRom, files, linux };
}

/** How a run ended, for the user's line and `--json`. */
interface Outcome {
  code: number;
  /** One word for scripts: power_off, reboot, error, guest_exit, timeout, signal, quit,
   * expectation_not_met, fail_on, success_on. */
  reason: string;
  message: string;
  details?: Record<string, unknown>;
}

function outcomeOf(exit: MachineExit, seconds: string, boots: number): Outcome {
  const after = `after ${seconds} s${boots > 1 ? ` and ${boots} boots` : ""}`;
  switch (exit.kind) {
    case "power_off":
      return { code: EXIT.poweredOff, reason: "power_off", message: `guest powered off ${after}` };
    case "reset":
      return {
        code: EXIT.poweredOff,
        reason: "reboot",
        message: `guest rebooted ${after}; not restarting it (--no-reboot)`,
      };
    case "failed":
      return {
        code: EXIT.error,
        reason: "error",
        message: `the guest stopped with an error ${after}: ${exit.message}`,
      };
    case "guest_exit": {
      const code = ((exit.value << 1) | 1) & 0xff;
      return {
        code,
        reason: "guest_exit",
        message: `the guest wrote ${exit.value} to the exit port ${after}: exit code ${code}`,
        details: { guest_exit_value: exit.value },
      };
    }
    case "stopped":
      switch (exit.request.kind) {
        case "timeout":
          return {
            code: EXIT.timeout,
            reason: "timeout",
            message: `timeout: stopped the guest ${after} (-t ${exit.request.seconds})`,
          };
        case "signal":
          return {
            code: exit.request.signal === "SIGINT" ? EXIT.sigint : EXIT.sigterm,
            reason: "signal",
            message: `stopped by ${exit.request.signal} ${after}`,
            details: { signal: exit.request.signal },
          };
        case "quit":
          return {
            code: EXIT.poweredOff,
            reason: "quit",
            message: exit.request.via === "console"
              ? `quit from the console (Ctrl-A x) ${after}`
              : `quit through the control socket ${after}`,
          };
        case "automation":
          return automationOutcome(exit.request.outcome, after);
      }
  }
}

function automationOutcome(outcome: AutomationOutcome, after: string): Outcome {
  switch (outcome.kind) {
    case "success_on":
      return {
        code: EXIT.poweredOff,
        reason: "success_on",
        message: `--success-on ${
          JSON.stringify(outcome.pattern)
        } matched ${after}: ${outcome.line}`,
        details: { pattern: outcome.pattern, line: outcome.line },
      };
    case "fail_on":
      return {
        code: EXIT.failOn,
        reason: "fail_on",
        message: `--fail-on ${JSON.stringify(outcome.pattern)} matched ${after}: ${outcome.line}`,
        details: { pattern: outcome.pattern, line: outcome.line },
      };
    case "expect_failed": {
      const seconds = outcome.timeoutMs / 1000;
      const where = outcome.label.startsWith("--expect-screen") ? "screen" : "console";
      const lines = outcome.lastLines.length === 0
        ? ` (the ${where} showed nothing)`
        : `; the ${where}'s last lines:\n${outcome.lastLines.map((l) => `  | ${l}`).join("\n")}`;
      return {
        code: EXIT.expectationNotMet,
        reason: "expectation_not_met",
        message: `expectation not met: step ${outcome.step}, ${outcome.label}, not seen within ` +
          `${seconds} s (${after})${lines}`,
        details: { step: outcome.step, expect: outcome.label, last_lines: outcome.lastLines },
      };
    }
  }
}

/** What `--json` prints, one object on one line of stderr. */
interface Summary {
  outcome: Outcome;
  seconds: number;
  boots: number;
  serialBytes: number;
  exits: Record<string, number>;
  screenshots: string[];
}

function printSummary(summary: Summary): void {
  const { outcome } = summary;
  const object = {
    exit_reason: outcome.reason,
    exit_code: outcome.code,
    message: outcome.message,
    ...outcome.details,
    boots: summary.boots,
    run_seconds: summary.seconds,
    serial_bytes: summary.serialBytes,
    exits: summary.exits,
    screenshots: summary.screenshots,
  };
  Deno.stderr.writeSync(encode(`${JSON.stringify(object)}\n`));
}

const encoder = new TextEncoder();

function writeAllSync(file: { writeSync(bytes: Uint8Array): number }, bytes: Uint8Array): void {
  let rest = bytes;
  while (rest.length > 0) rest = rest.subarray(file.writeSync(rest));
}

function encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** One line from vmctl itself, on stderr. */
export function say(message: string): void {
  Deno.stderr.writeSync(encode(`vmctl: ${message}\n`));
}

/** Reads a file the user named, turning every failure into a one-line fix. */
export function readGuestFile(path: string, what: string): { path: string; bytes: Uint8Array } {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UserError(`${what} file ${path} does not exist: check the path`);
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new UserError(`cannot reach ${what} file ${path}: permission denied on its folder`);
    }
    throw new UserError(`cannot read ${what} file ${path}: ${(error as Error).message}`);
  }
  if (info.isDirectory) throw new UserError(`${what} ${path} is a folder: give the file inside it`);
  if (!info.isFile) throw new UserError(`${what} ${path} is not a regular file`);
  if (info.size === 0) throw new UserError(`${what} file ${path} is empty`);
  try {
    return { path, bytes: Deno.readFileSync(path) };
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new UserError(`cannot read ${what} file ${path}: permission denied (check its mode)`);
    }
    throw new UserError(`cannot read ${what} file ${path}: ${(error as Error).message}`);
  }
}

/** Refuses a kernel without the x86 boot header before any VM exists (libvmctl checks again). */
export function checkBzImage(file: { path: string; bytes: Uint8Array }): typeof file {
  const bytes = file.bytes;
  const magic = new TextDecoder().decode(bytes.subarray(0x202, 0x206));
  if (bytes.length < 0x250 || bytes[0x1fe] !== 0x55 || bytes[0x1ff] !== 0xaa || magic !== "HdrS") {
    throw new UserError(
      `${file.path} is not a Linux bzImage (no x86 boot header): pass a kernel like /boot/vmlinuz-*`,
    );
  }
  return file;
}

/** Refuses an image that cannot be a BIOS before any VM exists (libvmctl checks again). */
function checkFirmwareImage(file: GuestFile): GuestFile {
  const size = file.bytes.length;
  if (size < 64 << 10 || size > 16 << 20 || size % 4096 !== 0) {
    throw new UserError(
      `${file.path} is not a PC firmware image: it has ${size} bytes, and an image is ` +
        `64 KiB to 16 MiB in whole 4 KiB pages (try -b seabios)`,
    );
  }
  return file;
}

/** Refuses guest RAM larger than the host's physical memory. */
export function checkHostMemory(ramMib: number): void {
  let totalKib: number | undefined;
  try {
    const match = Deno.readTextFileSync("/proc/meminfo").match(/^MemTotal:\s+(\d+) kB/m);
    if (match) totalKib = Number(match[1]);
  } catch {
    return; // Without /proc the kernel still refuses what it cannot map.
  }
  if (totalKib !== undefined && ramMib * 1024 > totalKib) {
    throw new UserError(
      `-r ${ramMib}: more RAM than this host has (${Math.floor(totalKib / 1024)} MiB): ` +
        `choose a smaller size`,
    );
  }
}
