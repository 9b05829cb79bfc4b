/**
 * The command line: parsing `vmctl run` options into a validated {@linkcode RunConfig}.
 * Unknown flags and bad values are errors, never ignored.
 * @module
 */
import { UserError } from "./errors.ts";
import type { VgaKind } from "./machine.ts";
import {
  DEFAULT_KEY_INTERVAL_MS,
  KEY_STEP_OPTIONS,
  type KeyStep,
  type KeyStepOption,
  parseKeyInterval,
  parseKeySteps,
} from "./key_schedule.ts";
import {
  AUTOMATION_STEP_OPTIONS,
  type AutomationConfig,
  type AutomationStepOption,
  DEFAULT_EXPECT_TIMEOUT_S,
  parseAutomation,
} from "./automation.ts";
import { parseMonitorSpec } from "./monitor.ts";

/** Everything `vmctl run` needs to know, checked. */
export interface RunConfig {
  ramMib: number;
  /** "seabios" (Debian's SeaBIOS), "corevm" (vmctl's own BIOS), "none" (direct Linux boot) or a
   * firmware image's path. */
  bios: string;
  kernel?: string;
  initrd?: string;
  append: string;
  timeoutSeconds?: number;
  noReboot: boolean;
  showRegs: boolean;
  screenDump: boolean;
  verbose: boolean;
  kvmDevice: string;
  /** Raw disk images (`-d`), in the order given. */
  disks: DiskConfig[];
  /** An ISO 9660 image for the CD-ROM drive (`-i`). */
  cdrom?: string;
  /** The CD-ROM on IDE (secondary master) instead of a SATA port (`--ide-cdrom`). */
  ideCdrom: boolean;
  cache: CacheMode;
  /** Boot devices in order (`--boot-order`), for the firmware. */
  bootOrder?: BootDevice[];
  /** Offer the firmware's boot menu (`--boot-menu`). */
  bootMenu: boolean;
  /** Show the guest's screen live in the terminal (`-g`). */
  graphics: boolean;
  /** A PNG of the screen written when the VM stops (`--screenshot`). */
  screenshot?: string;
  /** Where the guest's COM1 output goes instead of stdout (`--serial`). */
  serialFile?: string;
  /** The display adapter (`--vga`). */
  vga: VgaKind;
  /** Video memory in MiB (`--vram`). */
  vramMib: number;
  /** Scheduled keystrokes (`-k`, `--key`, `--type`), in command-line order. */
  keySteps: KeyStep[];
  /** The pause between keystrokes of a step (`--key-interval`). */
  keyIntervalMs: number;
  /** Console automation (`--expect`, `--send`, `--fail-on`, …), in command-line order. */
  automation: AutomationConfig;
  /** The control socket's path (`--monitor unix:PATH`). */
  monitor?: string;
  /** Print a JSON summary on stderr at exit (`--json`). */
  json: boolean;
  /** VMware's absolute pointer (`--vmmouse`, implied by `--mouse-abs`). */
  vmmouse: boolean;
  /** Where the guest exit port sits (`--exit-port`), if anywhere. */
  exitPort?: number;
}

export type CacheMode = "writeback" | "writethrough" | "none";
export type BootDevice = "disk" | "cd";

export interface DiskConfig {
  path: string;
  readOnly: boolean;
  /** On the IDE controller instead of AHCI (SATA). */
  ide: boolean;
}

/** What the command line asked for. */
export type Command =
  | { kind: "help"; topic: "main" | "run" }
  | { kind: "version" }
  | { kind: "run"; config: RunConfig };

export const DEFAULT_RAM_MIB = 256;
export const MIN_RAM_MIB = 16;
export const DEFAULT_VRAM_MIB = 16;
const MAX_VRAM_MIB = 256;

type OptionSpec = { names: string[]; value?: string; help: string; repeatable?: boolean };

const RUN_OPTIONS: OptionSpec[] = [
  { names: ["-r", "--ram"], value: "MB", help: `guest RAM in MiB (default ${DEFAULT_RAM_MIB})` },
  {
    names: ["-b", "--bios"],
    value: "FW",
    help: "firmware: seabios (default), corevm, none (direct --kernel boot) or an image FILE",
  },
  {
    names: ["--kernel"],
    value: "FILE",
    help: "Linux kernel (bzImage); boots directly unless -b is given",
  },
  { names: ["--initrd"], value: "FILE", help: "initial ramdisk for --kernel" },
  { names: ["--append"], value: "STR", help: "kernel command line for --kernel" },
  {
    names: ["-d", "--disk"],
    value: "FILE[,ro][,ide]",
    help: "raw disk image (repeatable) on SATA; ',ro' read-only, ',ide' on IDE",
    repeatable: true,
  },
  { names: ["-i", "--cdrom"], value: "FILE", help: "ISO 9660 image in the CD-ROM drive (SATA)" },
  { names: ["--ide-cdrom"], help: "put the -i CD-ROM on IDE (secondary master) instead of SATA" },
  {
    names: ["--cache"],
    value: "MODE",
    help: "disk cache: writeback (default; guest FLUSH is durable), writethrough, none",
  },
  { names: ["--boot-order"], value: "LIST", help: "boot devices in order, e.g. cd,disk" },
  {
    names: ["--boot-menu"],
    help: "SeaBIOS offers its boot menu for 2.5 s (press it with e.g. -k 1000:esc)",
  },
  {
    names: ["-t", "--timeout"],
    value: "SECS",
    help: "stop the guest after SECS seconds (exit code 2)",
  },
  { names: ["--no-reboot"], help: "exit 0 when the guest reboots instead of restarting it" },
  {
    names: ["-s", "--screen"],
    help: "print the screen on stdout when the VM stops (text, or ASCII art of graphics)",
  },
  {
    names: ["--screenshot"],
    value: "FILE",
    help: "write the screen as a PNG to FILE when the VM stops; SIGUSR1 writes FILE-N.png",
  },
  {
    names: ["-g", "--graphics"],
    help: "show the guest's screen live in the terminal, typing goes to its keyboard; serial " +
      "output then goes to --serial FILE or is dropped",
  },
  { names: ["--serial"], value: "FILE", help: "write the guest's COM1 output to FILE" },
  {
    names: ["--vga"],
    value: "KIND",
    help: "display adapter: std (Bochs VBE, default), vmware (VMware SVGA II), none",
  },
  {
    names: ["--vram"],
    value: "MB",
    help: `video memory in MiB, a power of two from 1 to 256 (default ${DEFAULT_VRAM_MIB})`,
  },
  {
    names: ["-k"],
    value: "MS:KEYS",
    repeatable: true,
    help: "press keys at MS ms after the start (+MS: after the step before), e.g. -k 5000:esc " +
      "or -k 3000:e,down,ctrl+x",
  },
  {
    names: ["--key"],
    value: "MS:KEY",
    repeatable: true,
    help: "press one key or combination at MS ms, e.g. --key 2000:ctrl+alt+delete",
  },
  {
    names: ["--type"],
    value: "MS:TEXT",
    repeatable: true,
    help: "type text at MS ms on the PS/2 keyboard (US layout; \\n Enter, \\t Tab), " +
      "e.g. --type '8000:root\\n'",
  },
  {
    names: ["--mouse"],
    value: "MS:DX,DY[,B[,W]]",
    repeatable: true,
    help: "move the PS/2 mouse at MS ms by DX right, DY down, holding buttons B from then on " +
      "(1 left, 2 right, 4 middle), wheel W (+ toward you), e.g. --mouse 5000:50,0,1",
  },
  {
    names: ["--mouse-abs"],
    value: "MS:X,Y[,B[,W]]",
    repeatable: true,
    help: "put VMware's absolute pointer (vmmouse) on pixel X,Y of the guest's screen at MS ms, " +
      "buttons B held, wheel W; waits until the guest's driver turns the pointer on",
  },
  {
    names: ["--vmmouse"],
    help: "give the guest VMware's absolute pointer (port 0x5658), as QEMU's vmport; implied by " +
      "--mouse-abs. A guest that finds it (Linux's psmouse does) takes pointer input from it",
  },
  {
    names: ["--key-interval"],
    value: "MS",
    help: `pause between keystrokes (default ${DEFAULT_KEY_INTERVAL_MS} ms)`,
  },
  {
    names: ["--expect"],
    value: "PATTERN",
    repeatable: true,
    help: "wait until COM1 prints PATTERN (text, or re:REGEX), then go on to the next step; " +
      "not seen within --expect-timeout: exit 3",
  },
  {
    names: ["--expect-screen"],
    value: "PATTERN",
    repeatable: true,
    help: "wait until the text screen shows PATTERN",
  },
  {
    names: ["--send"],
    value: "TEXT",
    repeatable: true,
    help: "send TEXT to COM1 (\\n, \\r, \\t, \\e, \\xHH), e.g. --send 'root\\n'",
  },
  {
    names: ["--send-keys"],
    value: "KEYS",
    repeatable: true,
    help: "press keys on the keyboard as a step, e.g. --send-keys ctrl+x or down,enter",
  },
  {
    names: ["--send-text"],
    value: "TEXT",
    repeatable: true,
    help: "type TEXT on the keyboard as a step (\\n Enter, \\t Tab)",
  },
  {
    names: ["--send-mouse"],
    value: "DX,DY[,B[,W]]",
    repeatable: true,
    help: "move the mouse as a step (as --mouse)",
  },
  {
    names: ["--boot-command"],
    value: "KEYS",
    repeatable: true,
    help: "type as Packer's boot_command does, as a step: text, <enter>, <esc>, <f12>, " +
      "<leftCtrlOn>…<leftCtrlOff>, <wait5>, e.g. '<wait>e<down><end> quiet<leftCtrlOn>x<leftCtrlOff>'",
  },
  {
    names: ["--expect-timeout"],
    value: "SECS",
    repeatable: true,
    help: `time each later --expect step gets (default ${DEFAULT_EXPECT_TIMEOUT_S} s)`,
  },
  {
    names: ["--fail-on"],
    value: "PATTERN",
    repeatable: true,
    help: "stop at once with exit code 4 when COM1 prints PATTERN",
  },
  { names: ["--fail-on-panic"], help: `--fail-on 'Kernel panic - not syncing'` },
  {
    names: ["--success-on"],
    value: "PATTERN",
    repeatable: true,
    help: "stop at once with exit code 0 when COM1 prints PATTERN",
  },
  {
    names: ["--exit-port"],
    value: "PORT",
    help: "a QEMU isa-debug-exit port at PORT (0x501 as QEMU): the guest writing V there " +
      "stops it, exit code (V << 1) | 1",
  },
  {
    names: ["--monitor"],
    value: "unix:PATH",
    help: "a control socket (mode 0600) speaking JSON lines: status, screenshot, key, type, " +
      "send, mouse, pointer, expect, pause, cont, quit; events for serial lines, resets, exit",
  },
  {
    names: ["--json"],
    help: "at exit, one JSON object on stderr's last line: exit_reason, exit_code, boots, " +
      "run_seconds, serial_bytes, exits by kind, screenshots",
  },
  { names: ["--show-regs"], help: "print vCPU registers on stderr when the VM stops" },
  { names: ["-v", "--verbose"], help: "diagnostics on stderr (debug port 0x402, unclaimed I/O)" },
  { names: ["-h", "--help"], help: "show this help" },
];

export const MAIN_HELP = `vmctl — run x86 virtual machines on KVM from scripts and CI

Usage:
  vmctl run [options]     boot a guest (see 'vmctl run --help')
  vmctl --help            show this help
  vmctl --version         show the version

Exit codes: 0 guest powered off (or --success-on), 1 error, 2 timeout, 3 an --expect step
not met, 4 --fail-on matched, (V << 1) | 1 the guest wrote V to --exit-port, 130/143 stopped
by SIGINT/SIGTERM.
`;

/** The text of `vmctl run --help`. */
export function runHelp(): string {
  const lines = RUN_OPTIONS.map((option) => {
    const flag = option.names.join(", ") + (option.value ? ` ${option.value}` : "");
    return `  ${flag.padEnd(22)} ${option.help}`;
  });
  return `Usage: vmctl run [options]

Boots a guest under KVM: a Linux kernel directly (--kernel), or firmware (SeaBIOS by default).
Guest serial (COM1) is on stdout; stdin goes to the guest. SeaBIOS mirrors its screen to COM1.
vmctl's own messages go to stderr. On a terminal, Ctrl-A x quits.

Options:
${lines.join("\n")}

Environment:
  VMCTL_KVM_DEVICE       KVM device to open (default /dev/kvm)
  VMCTL_FIRMWARE_PATH    folders (colon-separated) searched for firmware before
                         /usr/share/seabios and /usr/share/qemu
`;
}

/** Parses argv (without the program name). Throws {@linkcode UserError} on bad input. */
export function parseCommandLine(args: string[]): Command {
  if (args.length === 0) return { kind: "help", topic: "main" };
  const [first, ...rest] = args;
  if (first === "-h" || first === "--help" || first === "help") {
    return { kind: "help", topic: "main" };
  }
  if (first === "--version" || first === "-V") return { kind: "version" };
  if (first === "run") return parseRun(rest);
  if (first.startsWith("-")) {
    throw new UserError(`unknown option '${first}': see 'vmctl --help'`);
  }
  throw new UserError(
    `unknown command '${first}': the command is 'vmctl run' (see 'vmctl --help')`,
  );
}

function findOption(name: string): OptionSpec | undefined {
  return RUN_OPTIONS.find((option) => option.names.includes(name));
}

function parseRun(args: string[]): Command {
  const values = new Map<string, string>();
  const repeated = new Map<string, string[]>();
  const keySteps: [KeyStepOption, string][] = [];
  const automationSteps: [AutomationStepOption, string][] = [];
  const flags = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("-") || arg === "-") {
      throw new UserError(
        `unexpected argument '${arg}': options take the form --kernel FILE (see 'vmctl run --help')`,
      );
    }
    const equals = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = equals > 0 ? arg.slice(0, equals) : arg;
    const option = findOption(name);
    if (!option) throw new UserError(`unknown option '${name}': see 'vmctl run --help'`);
    const key = option.names[option.names.length - 1];
    if (!option.value) {
      if (equals > 0) throw new UserError(`option ${name} takes no value`);
      flags.add(key);
      continue;
    }
    let value: string;
    if (equals > 0) {
      value = arg.slice(equals + 1);
    } else {
      if (i + 1 >= args.length) {
        throw new UserError(`option ${name} needs a value (${option.value})`);
      }
      value = args[++i];
    }
    if ((KEY_STEP_OPTIONS as readonly string[]).includes(key)) {
      keySteps.push([key as KeyStepOption, value]);
      continue;
    }
    if ((AUTOMATION_STEP_OPTIONS as readonly string[]).includes(key)) {
      automationSteps.push([key as AutomationStepOption, value]);
      continue;
    }
    if (option.repeatable) {
      repeated.set(key, [...(repeated.get(key) ?? []), value]);
      continue;
    }
    if (values.has(key)) throw new UserError(`option ${name} was given twice`);
    values.set(key, value);
  }
  if (flags.has("--help")) return { kind: "help", topic: "run" };

  const kernel = values.get("--kernel");
  if (kernel === "") throw new UserError("--kernel needs a file name");
  const bios = values.get("--bios") ?? (kernel === undefined ? "seabios" : "none");
  if (bios === "") {
    throw new UserError("-b needs a value: seabios, corevm, none or a firmware file");
  }
  if (bios === "none" && kernel === undefined) {
    throw new UserError("-b none boots a kernel directly: give one with --kernel FILE");
  }
  for (const option of ["--initrd", "--append"]) {
    if (values.has(option) && kernel === undefined) {
      throw new UserError(`${option} needs a kernel: give one with --kernel FILE`);
    }
  }
  if (flags.has("--boot-menu") && (bios === "none" || bios === "corevm")) {
    throw new UserError(
      `--boot-menu is SeaBIOS's boot menu, and -b ${bios} has none: drop it or use -b seabios`,
    );
  }
  if (flags.has("--ide-cdrom") && !values.has("--cdrom")) {
    throw new UserError("--ide-cdrom moves the CD-ROM to IDE: give an ISO with -i FILE");
  }
  const vga = parseVga(values.get("--vga"));
  const graphics = flags.has("--graphics");
  const screenshot = nonEmpty(values.get("--screenshot"), "--screenshot");
  if (vga === "none" && (graphics || screenshot !== undefined)) {
    throw new UserError(
      `${graphics ? "-g" : "--screenshot"} shows the guest's screen, but --vga none gives it ` +
        "none: drop --vga none",
    );
  }
  const automation = parseAutomation(
    automationSteps,
    repeated.get("--fail-on") ?? [],
    repeated.get("--success-on") ?? [],
    flags.has("--fail-on-panic"),
  );
  if (vga === "none" && keySteps.some(([option]) => option === "--mouse-abs")) {
    throw new UserError(
      "--mouse-abs points at the guest's screen, but --vga none gives it none: drop --vga none",
    );
  }
  if (vga === "none" && automation.steps.some((s) => s.kind === "expect" && s.on === "screen")) {
    throw new UserError(
      "--expect-screen reads the guest's screen, but --vga none gives it none: drop --vga none",
    );
  }
  return {
    kind: "run",
    config: {
      ramMib: parseRam(values.get("--ram")),
      bios,
      kernel,
      initrd: values.get("--initrd"),
      append: values.get("--append") ?? "",
      timeoutSeconds: parseTimeout(values.get("--timeout")),
      noReboot: flags.has("--no-reboot"),
      disks: (repeated.get("--disk") ?? []).map(parseDisk),
      cdrom: nonEmpty(values.get("--cdrom"), "-i"),
      ideCdrom: flags.has("--ide-cdrom"),
      cache: parseCache(values.get("--cache")),
      bootOrder: parseBootOrder(values.get("--boot-order")),
      bootMenu: flags.has("--boot-menu"),
      showRegs: flags.has("--show-regs"),
      screenDump: flags.has("--screen"),
      verbose: flags.has("--verbose"),
      kvmDevice: Deno.env.get("VMCTL_KVM_DEVICE") || "/dev/kvm",
      graphics,
      screenshot,
      serialFile: nonEmpty(values.get("--serial"), "--serial"),
      vga,
      vramMib: parseVram(values.get("--vram")),
      keySteps: parseKeySteps(keySteps),
      keyIntervalMs: parseKeyInterval(values.get("--key-interval")),
      automation,
      json: flags.has("--json"),
      vmmouse: flags.has("--vmmouse") || keySteps.some(([option]) => option === "--mouse-abs"),
      monitor: values.has("--monitor") ? parseMonitorSpec(values.get("--monitor")!) : undefined,
      exitPort: parseExitPort(values.get("--exit-port")),
    },
  };
}

function parseExitPort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = /^0x[0-9a-f]{1,4}$/i.test(text)
    ? parseInt(text, 16)
    : /^\d+$/.test(text)
    ? Number(text)
    : NaN;
  if (!(port >= 0 && port <= 0xfffe)) {
    throw new UserError(
      `--exit-port ${text}: the port is a number from 0 to 0xFFFE, e.g. --exit-port 0x501`,
    );
  }
  return port;
}

function parseRam(text: string | undefined): number {
  if (text === undefined) return DEFAULT_RAM_MIB;
  if (!/^\d+$/.test(text)) {
    throw new UserError(`-r ${text}: RAM is a whole number of MiB, e.g. -r 512`);
  }
  const mib = Number(text);
  if (mib < MIN_RAM_MIB) {
    throw new UserError(`-r ${text}: guest RAM must be at least ${MIN_RAM_MIB} MiB`);
  }
  return mib;
}

const VGA_KINDS: VgaKind[] = ["std", "vmware", "none"];

function parseVga(text: string | undefined): VgaKind {
  if (text === undefined) return "std";
  if (!(VGA_KINDS as string[]).includes(text)) {
    throw new UserError(`--vga ${text}: the display adapter is one of ${VGA_KINDS.join(", ")}`);
  }
  return text as VgaKind;
}

function parseVram(text: string | undefined): number {
  if (text === undefined) return DEFAULT_VRAM_MIB;
  const mib = Number(text);
  if (!/^\d+$/.test(text) || mib < 1 || mib > MAX_VRAM_MIB || (mib & (mib - 1)) !== 0) {
    throw new UserError(
      `--vram ${text}: video memory is a power of two from 1 to ${MAX_VRAM_MIB} MiB, e.g. --vram 16`,
    );
  }
  return mib;
}

function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(seconds > 0)) {
    throw new UserError(`-t ${text}: the timeout is a positive number of seconds, e.g. -t 60`);
  }
  return seconds;
}

function nonEmpty(text: string | undefined, option: string): string | undefined {
  if (text === "") throw new UserError(`${option} needs a file name`);
  return text;
}

function parseDisk(text: string): DiskConfig {
  let path = text;
  let readOnly = false;
  let ide = false;
  for (;;) {
    if (path.endsWith(",ro")) readOnly = true;
    else if (path.endsWith(",ide")) ide = true;
    else break;
    path = path.slice(0, path.lastIndexOf(","));
  }
  if (path === "") throw new UserError("-d needs a file name, e.g. -d disk.img or -d disk.img,ro");
  return { path, readOnly, ide };
}

const CACHE_MODES: CacheMode[] = ["writeback", "writethrough", "none"];

function parseCache(text: string | undefined): CacheMode {
  if (text === undefined) return "writeback";
  if (!(CACHE_MODES as string[]).includes(text)) {
    throw new UserError(`--cache ${text}: the cache mode is one of ${CACHE_MODES.join(", ")}`);
  }
  return text as CacheMode;
}

const BOOT_DEVICES: BootDevice[] = ["disk", "cd"];

function parseBootOrder(text: string | undefined): BootDevice[] | undefined {
  if (text === undefined) return undefined;
  const devices = text.split(",");
  for (const device of devices) {
    if (!(BOOT_DEVICES as string[]).includes(device)) {
      throw new UserError(
        `--boot-order ${text}: '${device}' is not a boot device; use ${
          BOOT_DEVICES.join(", ")
        }, comma-separated`,
      );
    }
  }
  return devices as BootDevice[];
}
