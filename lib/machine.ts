/**
 * The machine recipe: a KVM VM with its RAM, devices and vCPUs, loaded with a guest.
 * One straight line: create → load kernel, initrd and command line → ready to run.
 * @module
 */
import { UserError } from "./errors.ts";
import type { OpenImage } from "./storage.ts";
import {
  EVENT_BYTES,
  EventKind,
  EXIT_COUNT_KINDS,
  KVM_REGS_BYTES,
  KVM_SREGS_BYTES,
  type Native,
  nativeErrorMessage,
  Status,
} from "./native.ts";

/** A kind of KVM exit, as {@linkcode Machine.exitCounts} counts them. */
export type ExitCountKind = typeof EXIT_COUNT_KINDS[number];

/** A file the user named (or vmctl found), read. */
export interface GuestFile {
  path: string;
  bytes: Uint8Array;
}

/** A Linux kernel with its initrd and command line. */
export interface LinuxGuest {
  kernel: GuestFile;
  initrd?: GuestFile;
  cmdline: string;
}

/** How the machine starts: straight into Linux, or at the reset vector of a firmware image. */
export type BootSpec =
  | { kind: "direct"; linux: LinuxGuest }
  | {
    kind: "firmware";
    bios: GuestFile;
    vgaRom?: GuestFile;
    /** fw_cfg files for the firmware (boot order, console, option ROMs). */
    files: { name: string; bytes: Uint8Array }[];
    /** Linux for the firmware's Linux loader option ROM (one of `files`) to start. */
    linux?: LinuxGuest;
  };

/** The display adapter at 00:02.0: none, the Bochs/QEMU standard VGA, or VMware SVGA II. */
export type VgaKind = "none" | "std" | "vmware";

const VGA_KINDS: Record<VgaKind, number> = { none: 0, std: 1, vmware: 2 };

/** What to build: sizes and the guest to load. */
export interface MachineSpec {
  kvmDevice: string;
  ramMib: number;
  cpus: number;
  vga: VgaKind;
  vramMib: number;
  boot: BootSpec;
  /** The guest exit port's base (`--exit-port`), if the machine has one. */
  exitPort?: number;
  /** VMware's absolute pointer behind the backdoor port (`--vmmouse`, `--mouse-abs`). */
  vmmouse?: boolean;
}

/** One rendered frame of the guest's screen: packed R, G, B bytes, rows top to bottom. */
export interface ScreenFrame {
  width: number;
  height: number;
  rgb: Uint8Array;
  /** Drawn from a text mode (then {@linkcode Machine.screenText} has the same in characters). */
  textMode: boolean;
}

/** The text screen as cells of 12 bytes: the character's Unicode code point (u32, little
 * endian), foreground R, G, B, background R, G, B, flags (bit 0: the cursor is here), padding. */
export interface TextScreen {
  columns: number;
  rows: number;
  cells: Uint8Array;
}

/** One event from the native side (native/events.zig `Event`). */
export interface MachineEvent {
  kind: EventKind;
  value: number;
  data: bigint;
}

/** How often the screen watch looks for changes: up to 30 redraws a second. */
export const SCREEN_WATCH_MS = 33;

/** Bytes of COM1 output taken from the console tap at a time. */
const CONSOLE_CHUNK = 64 << 10;

/** Bytes per cell of {@linkcode TextScreen}. */
export const TEXT_CELL_BYTES = 12;

const encoder = new TextEncoder();

/** A created and loaded VM. Destroy it exactly once. */
export class Machine {
  readonly native: Native;
  readonly handle: Deno.PointerObject;
  readonly cpus: number;
  #frameBuffer = new Uint8Array(720 * 400 * 3);
  #listeners: { kind: EventKind; listener: (event: MachineEvent) => void }[] = [];
  #reader: Promise<void> | undefined;
  #consoleListener: ((bytes: Uint8Array) => void) | undefined;
  #consoleBuffer = new Uint8Array(CONSOLE_CHUNK);
  #readerError: unknown;

  private constructor(native: Native, handle: Deno.PointerObject, cpus: number) {
    this.native = native;
    this.handle = handle;
    this.cpus = cpus;
  }

  /** Builds the VM and loads the guest; throws {@linkcode UserError} with a fix on failure. */
  static create(native: Native, spec: MachineSpec, images: OpenImage[] = []): Machine {
    const out = new BigUint64Array(1);
    const path = encoder.encode(`${spec.kvmDevice}\0`);
    const status = native.vmctl_vm_create(
      path,
      spec.ramMib,
      spec.cpus,
      VGA_KINDS[spec.vga],
      spec.vramMib,
      out,
    );
    if (status !== Status.Ok) throw createError(status, spec, nativeErrorMessage(native));
    const handle = Deno.UnsafePointer.create(out[0]);
    if (handle === null) throw new Error("vmctl_vm_create returned ok without a VM");
    const machine = new Machine(native, handle, spec.cpus);
    try {
      if (spec.exitPort !== undefined) machine.#addExitPort(spec.exitPort);
      if (spec.vmmouse) native.vmctl_vm_enable_vmmouse(handle);
      machine.#load(spec);
      machine.#attach(images);
    } catch (error) {
      machine.#free();
      throw error;
    }
    return machine;
  }

  #addExitPort(base: number): void {
    if (this.native.vmctl_vm_add_exit_port(this.handle, base) === Status.Ok) return;
    throw new UserError(
      `--exit-port 0x${base.toString(16)}: ${nativeErrorMessage(this.native)}; choose a free ` +
        `port (QEMU's is 0x501)`,
    );
  }

  /** What the guest wrote to the exit port, if it did. */
  guestExitValue(): number | undefined {
    const value = this.native.vmctl_vm_guest_exit_value(this.handle);
    return value === 0xffff_ffff_ffff_ffffn ? undefined : Number(value);
  }

  #load(spec: MachineSpec): void {
    const boot = spec.boot;
    if (boot.kind === "direct") {
      this.#loadLinux(this.native.vmctl_vm_load_linux, spec.ramMib, boot.linux);
      return;
    }
    const native = this.native;
    const check = (status: number, what: string) => {
      if (status === Status.Ok) return;
      const detail = nativeErrorMessage(native);
      if (status === Status.OutOfMemory) throw new UserError(`${what}: ${detail}: raise -r`);
      throw new UserError(`${what}: ${detail}`);
    };
    check(
      native.vmctl_vm_load_firmware(this.handle, boot.bios.bytes, BigInt(boot.bios.bytes.length)),
      `cannot use ${boot.bios.path} as firmware`,
    );
    if (boot.vgaRom) {
      const rom = boot.vgaRom.bytes;
      check(
        native.vmctl_vm_set_vga_rom(this.handle, rom, BigInt(rom.length)),
        `cannot use ${boot.vgaRom.path} as the VGA BIOS`,
      );
    }
    for (const file of boot.files) {
      const name = encoder.encode(file.name);
      check(
        native.vmctl_vm_add_firmware_file(
          this.handle,
          name,
          BigInt(name.length),
          file.bytes,
          BigInt(file.bytes.length),
        ),
        `cannot hand ${file.name} to the firmware`,
      );
    }
    if (boot.linux) {
      this.#loadLinux(this.native.vmctl_vm_load_linux_via_firmware, spec.ramMib, boot.linux);
    }
  }

  #attach(images: OpenImage[]): void {
    for (const { drive, handle } of images) {
      const kind = drive.kind === "cdrom" ? 1 : 0;
      const slot = drive.slot;
      const status = slot.bus === "ide"
        ? this.native.vmctl_vm_attach_ide(this.handle, handle, slot.channel, slot.position, kind)
        : this.native.vmctl_vm_attach_ahci(this.handle, handle, slot.port, kind);
      if (status !== Status.Ok) {
        throw new UserError(`cannot attach ${drive.path}: ${nativeErrorMessage(this.native)}`);
      }
    }
  }

  #loadLinux(
    load: Native["vmctl_vm_load_linux"],
    ramMib: number,
    linux: LinuxGuest,
  ): void {
    const cmdline = encoder.encode(linux.cmdline);
    const initrd = linux.initrd?.bytes ?? new Uint8Array(0);
    const status = load(
      this.handle,
      linux.kernel.bytes,
      BigInt(linux.kernel.bytes.length),
      initrd,
      BigInt(initrd.length),
      cmdline,
      BigInt(cmdline.length),
    );
    if (status !== Status.Ok) {
      throw loadError(status, ramMib, linux, nativeErrorMessage(this.native));
    }
  }

  /** Sends guest serial output to `serialFd` and the firmware debug port to `debugFd` (-1: drop). */
  setOutput(serialFd: number, debugFd: number): void {
    this.native.vmctl_vm_set_output(this.handle, serialFd, debugFd);
  }

  /** Queues console input for COM1; returns how many bytes fit. */
  send(bytes: Uint8Array): number {
    return Number(this.native.vmctl_vm_serial_input(this.handle, bytes, BigInt(bytes.length)));
  }

  /** Queues a packed key event (lib/keys.ts) on the PS/2 keyboard; false when its queue is full. */
  pushKey(packed: number): boolean {
    const status = this.native.vmctl_vm_key(this.handle, packed);
    if (status === Status.KeyQueueFull) return false;
    if (status !== Status.Ok) throw new Error(nativeErrorMessage(this.native));
    return true;
  }

  /** Moves the PS/2 mouse (`dy` down, `wheel` toward the user) and sets the buttons held (bit 0
   * left, 1 right, 2 middle). */
  moveMouse(dx: number, dy: number, wheel: number, buttons: number): void {
    const status = this.native.vmctl_vm_mouse(this.handle, dx, dy, wheel, buttons);
    if (status !== Status.Ok) throw new Error(nativeErrorMessage(this.native));
  }

  /** Puts VMware's absolute pointer (vmmouse) on pixel `x`, `y` of the screen as it is now
   * (clamped to it), turns the wheel and sets the buttons held; false while the guest has not
   * turned the pointer on or its queue is full (try again later). */
  pointTo(x: number, y: number, wheel: number, buttons: number): boolean {
    const size = this.screenSize() ?? { width: 1024, height: 768 };
    const scale = (value: number, extent: number) =>
      extent > 1 ? Math.round(Math.min(Math.max(value, 0), extent - 1) * 0xffff / (extent - 1)) : 0;
    const status = this.native.vmctl_vm_mouse_absolute(
      this.handle,
      scale(x, size.width),
      scale(y, size.height),
      Math.max(-127, Math.min(127, wheel)),
      buttons,
    );
    if (status === Status.PointerDisabled || status === Status.KeyQueueFull) return false;
    if (status !== Status.Ok) throw new Error(nativeErrorMessage(this.native));
    return true;
  }

  /** The screen's size in pixels now, without drawing it; undefined without a display. */
  screenSize(): { width: number; height: number } | undefined {
    const info = new Uint32Array(3);
    const status = this.native.vmctl_vm_screen_render(this.handle, new Uint8Array(1), 1n, info);
    if (status === Status.Ok || status === Status.BufferTooSmall) {
      return { width: info[0], height: info[1] };
    }
    return undefined;
  }

  kick(vcpu: number): void {
    this.native.vmctl_vcpu_kick(this.handle, vcpu);
  }

  /** The VGA text screen as lines, trailing blanks trimmed; empty in graphics modes. */
  textScreen(): string {
    const buffer = new Uint8Array(24 << 10);
    const length = Number(
      this.native.vmctl_vm_text_screen(this.handle, buffer, BigInt(buffer.length)),
    );
    return new TextDecoder().decode(buffer.subarray(0, length));
  }

  /** Calls `listener` for each event of `kind` the native side posts, until {@linkcode destroy}. */
  onEvent(kind: EventKind, listener: (event: MachineEvent) => void): void {
    this.#listeners.push({ kind, listener });
    this.#reader ??= this.#readEvents().catch((error) => {
      this.#readerError = error;
    });
  }

  /** Calls `listener` whenever the screen may have changed, looking every
   * {@linkcode SCREEN_WATCH_MS} (three times less often once the screen has been still for half
   * a second) on the native timer thread, so a still screen costs nothing here; the first call
   * comes at once. */
  watchScreen(listener: () => void): void {
    this.onEvent(EventKind.ScreenChanged, listener);
    this.native.vmctl_vm_watch_screen(this.handle, SCREEN_WATCH_MS);
  }

  /** Calls `listener` with COM1's output, in order, from now until {@linkcode destroy}
   * (which hands over the last bytes first). The output's own way to stdout is unchanged. */
  watchConsole(listener: (bytes: Uint8Array) => void): void {
    this.#consoleListener = listener;
    this.onEvent(EventKind.ConsoleOutput, () => this.#drainConsole());
    this.native.vmctl_vm_watch_console(this.handle, true);
  }

  #drainConsole(): void {
    const listener = this.#consoleListener;
    if (listener === undefined) return;
    for (;;) {
      const count = Number(
        this.native.vmctl_vm_console_read(this.handle, this.#consoleBuffer, BigInt(CONSOLE_CHUNK)),
      );
      if (count === 0) return;
      listener(this.#consoleBuffer.slice(0, count));
    }
  }

  /** COM1 output bytes the console watch missed because vmctl fell behind the guest. */
  consoleBytesLost(): bigint {
    return this.native.vmctl_vm_console_lost(this.handle);
  }

  /** Awaits the native event channel and hands each event to its listeners. */
  async #readEvents(): Promise<void> {
    const capacity = 64;
    const buffer = new Uint8Array(EVENT_BYTES * capacity);
    const view = new DataView(buffer.buffer);
    for (;;) {
      const count = Number(
        await this.native.vmctl_vm_events_wait(this.handle, buffer, BigInt(capacity)),
      );
      if (count === 0) return; // Closed: the machine is being destroyed.
      for (let index = 0; index < count; index++) {
        const at = index * EVENT_BYTES;
        const event: MachineEvent = {
          kind: view.getUint32(at, true),
          value: view.getUint32(at + 4, true),
          data: view.getBigUint64(at + 8, true),
        };
        for (const { kind, listener } of this.#listeners) if (kind === event.kind) listener(event);
      }
    }
  }

  /** The guest's screen now, at its own resolution; undefined without a display. */
  screenFrame(): ScreenFrame | undefined {
    const info = new Uint32Array(3);
    for (;;) {
      const status = this.native.vmctl_vm_screen_render(
        this.handle,
        this.#frameBuffer,
        BigInt(this.#frameBuffer.length),
        info,
      );
      if (status === Status.BufferTooSmall) {
        this.#frameBuffer = new Uint8Array(info[0] * info[1] * 3);
        continue;
      }
      if (status !== Status.Ok) return undefined;
      const [width, height, textMode] = info;
      return {
        width,
        height,
        textMode: textMode !== 0,
        rgb: this.#frameBuffer.slice(0, width * height * 3),
      };
    }
  }

  /** The text screen's cells with their colours; undefined in graphics modes or without a display. */
  screenText(): TextScreen | undefined {
    const size = new Uint32Array(2);
    const cells = new Uint8Array(TEXT_CELL_BYTES * 132 * 60);
    const status = this.native.vmctl_vm_screen_text(this.handle, cells, BigInt(cells.length), size);
    if (status !== Status.Ok) return undefined;
    const [columns, rows] = size;
    return { columns, rows, cells: cells.slice(0, columns * rows * TEXT_CELL_BYTES) };
  }

  /** KVM exits so far, by kind. */
  exitCounts(): Record<ExitCountKind, number> {
    const counts = new BigUint64Array(EXIT_COUNT_KINDS.length);
    this.native.vmctl_vm_exit_counts(this.handle, counts, BigInt(counts.length));
    return Object.fromEntries(
      EXIT_COUNT_KINDS.map((kind, index) => [kind, Number(counts[index])]),
    ) as Record<ExitCountKind, number>;
  }

  /** Bytes the guest has written to COM1. */
  serialBytes(): number {
    return Number(this.native.vmctl_vm_serial_bytes(this.handle));
  }

  /** Guest port/MMIO accesses no device claimed. */
  unclaimedAccesses(): bigint {
    return this.native.vmctl_vm_unclaimed_accesses(this.handle);
  }

  /** Raw `struct kvm_regs` and `struct kvm_sregs` of a stopped vCPU. */
  registers(vcpu: number): { regs: BigUint64Array; sregs: Uint8Array } | undefined {
    const regs = new BigUint64Array(KVM_REGS_BYTES / 8);
    const sregs = new Uint8Array(KVM_SREGS_BYTES);
    const a = this.native.vmctl_vcpu_get_regs(this.handle, vcpu, regs);
    const b = this.native.vmctl_vcpu_get_sregs(this.handle, vcpu, sregs);
    return a === Status.Ok && b === Status.Ok ? { regs, sregs } : undefined;
  }

  /** Ends the event channel, waits for its reader, then frees the VM; rethrows what a listener
   * threw. */
  async destroy(): Promise<void> {
    this.#drainConsole();
    if (this.#reader !== undefined) {
      this.native.vmctl_vm_events_close(this.handle);
      await this.#reader;
    }
    this.#free();
    if (this.#readerError !== undefined) throw this.#readerError;
  }

  #free(): void {
    this.native.vmctl_vm_destroy(this.handle);
  }
}

function createError(status: Status, spec: MachineSpec, detail: string): Error {
  const device = spec.kvmDevice;
  switch (status) {
    case Status.KvmMissing:
      return new UserError(
        `${device} does not exist: KVM is not available on this machine; enable virtualization ` +
          `and load the kvm_intel or kvm_amd module`,
      );
    case Status.KvmPermission:
      return new UserError(
        `no permission to open ${device}: add your user to the 'kvm' group ` +
          `(sudo usermod -aG kvm $USER) and log in again`,
      );
    case Status.KvmNotKvm:
      return new UserError(`${detail}: point VMCTL_KVM_DEVICE at /dev/kvm or unset it`);
    case Status.KvmApiMismatch:
      return new UserError(`${detail}: this kernel's KVM is not supported`);
    case Status.OutOfMemory:
      return new UserError(`${detail}: choose a smaller -r`);
    default:
      return new UserError(`cannot create the VM: ${detail}`);
  }
}

function loadError(status: Status, ramMib: number, linux: LinuxGuest, detail: string): Error {
  const kernel = linux.kernel.path;
  switch (status) {
    case Status.KernelNotBzImage:
      return new UserError(
        `${kernel} is not a Linux bzImage (no x86 boot header): pass a kernel like /boot/vmlinuz-*`,
      );
    case Status.KernelProtocolTooOld:
      return new UserError(
        `${kernel} uses a boot protocol older than 2.06: use a Linux kernel from 2.6.22 or later`,
      );
    case Status.KernelTooLarge:
      return new UserError(`${kernel} does not fit in ${ramMib} MiB of RAM: raise -r`);
    case Status.InitrdTooLarge:
      return new UserError(
        `${linux.initrd?.path} does not fit in guest RAM next to the kernel: raise -r`,
      );
    case Status.CmdlineTooLong:
      return new UserError(`--append is too long for this kernel: shorten the command line`);
    default:
      return new UserError(`cannot load the guest: ${detail}`);
  }
}
