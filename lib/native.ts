/**
 * The one place that knows libvmctl's C ABI (native/root.zig): its symbol table, its status
 * codes and the loader. Everything else calls through {@linkcode loadNative}.
 * @module
 */

import { UserError } from "./errors.ts";

/** Must equal `abi_version` in native/root.zig. */
export const ABI_VERSION = 7;

/** libvmctl's exported functions; each parameter comment is the C type. */
export const SYMBOLS = {
  vmctl_abi_version: { parameters: [], result: "u32" },
  // (const char *kvm_path, uint32_t ram_mib, uint32_t cpu_count, uint32_t vga, uint32_t vram_mib,
  //  Vm **out_vm) -> Status; vga: 0 none, 1 std, 2 vmware
  vmctl_vm_create: { parameters: ["buffer", "u32", "u32", "u32", "u32", "buffer"], result: "i32" },
  // (Vm *vm)
  vmctl_vm_destroy: { parameters: ["pointer"], result: "void" },
  // (Vm *vm, const u8 *kernel, size_t, const u8 *initrd, size_t, const u8 *cmdline, size_t) -> Status
  vmctl_vm_load_linux: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize", "buffer", "usize"],
    result: "i32",
  },
  // (Vm *vm, const u8 *kernel, size_t, const u8 *initrd, size_t, const u8 *cmdline, size_t) -> Status
  vmctl_vm_load_linux_via_firmware: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize", "buffer", "usize"],
    result: "i32",
  },
  // (Vm *vm, const u8 *image, size_t len) -> Status
  vmctl_vm_load_firmware: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  // (Vm *vm, const char *name, size_t, const u8 *data, size_t) -> Status
  vmctl_vm_add_firmware_file: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize"],
    result: "i32",
  },
  // (Vm *vm, const u8 *rom, size_t len) -> Status
  vmctl_vm_set_vga_rom: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  // (const char *path, bool read_only, uint32_t cache, uint32_t sector_bytes, Image **out) -> Status
  vmctl_image_open: { parameters: ["buffer", "bool", "u32", "u32", "buffer"], result: "i32" },
  // (Image *image)
  vmctl_image_close: { parameters: ["pointer"], result: "void" },
  // (Vm *vm, Image *image, uint32_t channel, uint32_t position, uint32_t kind) -> Status
  vmctl_vm_attach_ide: {
    parameters: ["pointer", "pointer", "u32", "u32", "u32"],
    result: "i32",
  },
  // (Vm *vm, Image *image, uint32_t port, uint32_t kind) -> Status
  vmctl_vm_attach_ahci: { parameters: ["pointer", "pointer", "u32", "u32"], result: "i32" },
  // (Vm *vm, int serial_fd, int debug_fd)
  vmctl_vm_set_output: { parameters: ["pointer", "i32", "i32"], result: "void" },
  // (Vm *vm, const u8 *bytes, size_t len) -> accepted
  vmctl_vm_serial_input: { parameters: ["pointer", "buffer", "usize"], result: "usize" },
  // (Vm *vm, uint32_t vcpu) -> VcpuExit; blocks in KVM_RUN, so it runs on its own thread.
  vmctl_vcpu_run: { parameters: ["pointer", "u32"], result: "i32", nonblocking: true },
  // (Vm *vm, uint32_t vcpu)
  vmctl_vcpu_kick: { parameters: ["pointer", "u32"], result: "void" },
  // (Vm *vm, uint32_t vcpu, struct kvm_regs *out) -> Status
  vmctl_vcpu_get_regs: { parameters: ["pointer", "u32", "buffer"], result: "i32" },
  // (Vm *vm, uint32_t vcpu, struct kvm_sregs *out) -> Status
  vmctl_vcpu_get_sregs: { parameters: ["pointer", "u32", "buffer"], result: "i32" },
  // (Vm *vm, u8 *out, size_t len) -> length written
  vmctl_vm_text_screen: { parameters: ["pointer", "buffer", "usize"], result: "usize" },
  // (Vm *vm, u8 *rgb, size_t len, ScreenInfo *info) -> Status; info: width, height, text_mode (u32 each)
  vmctl_vm_screen_render: { parameters: ["pointer", "buffer", "usize", "buffer"], result: "i32" },
  // (Vm *vm, u8 *cells, size_t len, uint32_t *columns_rows) -> Status; 12 bytes a cell
  vmctl_vm_screen_text: { parameters: ["pointer", "buffer", "usize", "buffer"], result: "i32" },
  // (Vm *vm, uint32_t key) -> Status; key: a packed key event (lib/keys.ts packKey)
  vmctl_vm_key: { parameters: ["pointer", "u32"], result: "i32" },
  // (Vm *vm, int32_t dx, int32_t dy, int32_t dz, uint32_t buttons) -> Status; dy down, dz wheel
  // toward the user, buttons bit 0 left, 1 right, 2 middle
  vmctl_vm_mouse: { parameters: ["pointer", "i32", "i32", "i32", "u32"], result: "i32" },
  // (Vm *vm): VMware's absolute pointer behind the backdoor port, before the first run
  vmctl_vm_enable_vmmouse: { parameters: ["pointer"], result: "void" },
  // (Vm *vm, uint32_t x, uint32_t y, int32_t wheel, uint32_t buttons) -> Status; x and y
  // 0-0xFFFF across the screen: VMware's absolute pointer (vmmouse)
  vmctl_vm_mouse_absolute: { parameters: ["pointer", "u32", "u32", "i32", "u32"], result: "i32" },
  // (Vm *vm, uint32_t base) -> Status: the guest exit port at base and base + 1
  vmctl_vm_add_exit_port: { parameters: ["pointer", "u32"], result: "i32" },
  // (Vm *vm) -> the value the guest wrote to the exit port, 2^64 - 1 if none
  vmctl_vm_guest_exit_value: { parameters: ["pointer"], result: "u64" },
  // (Vm *vm, u64 *out, size_t capacity) -> number of kinds (EXIT_COUNT_KINDS order)
  vmctl_vm_exit_counts: { parameters: ["pointer", "buffer", "usize"], result: "usize" },
  // (Vm *vm) -> bytes the guest wrote to COM1
  vmctl_vm_serial_bytes: { parameters: ["pointer"], result: "u64" },
  // (Vm *vm, bool on): keep a copy of COM1's output, announced by ConsoleOutput events
  vmctl_vm_watch_console: { parameters: ["pointer", "bool"], result: "void" },
  // (Vm *vm, u8 *out, size_t len) -> bytes of COM1 output moved into out
  vmctl_vm_console_read: { parameters: ["pointer", "buffer", "usize"], result: "usize" },
  // (Vm *vm) -> COM1 output bytes the copy could not hold
  vmctl_vm_console_lost: { parameters: ["pointer"], result: "u64" },
  // (Vm *vm, uint32_t interval_ms): post ScreenChanged when the screen may have changed, looking
  // that often (the first look always posts); 0 stops
  vmctl_vm_watch_screen: { parameters: ["pointer", "u32"], result: "void" },
  // (Vm *vm, Event *out, size_t capacity) -> events copied, 0 once closed; blocks until there is
  // one, so it runs on its own thread
  vmctl_vm_events_wait: {
    parameters: ["pointer", "buffer", "usize"],
    result: "usize",
    nonblocking: true,
  },
  // (Vm *vm): a waiting vmctl_vm_events_wait returns 0, and so do later ones
  vmctl_vm_events_close: { parameters: ["pointer"], result: "void" },
  // (const char *path) -> fd, or -errno: a file for guest serial output (--serial)
  vmctl_output_open: { parameters: ["buffer"], result: "i32" },
  // (int fd)
  vmctl_output_close: { parameters: ["i32"], result: "void" },
  // (Vm *vm) -> count
  vmctl_vm_unclaimed_accesses: { parameters: ["pointer"], result: "u64" },
  // (char *buffer, size_t len) -> length written
  vmctl_error_message: { parameters: ["buffer", "usize"], result: "usize" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded library. */
export type Native = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Status codes of native/root.zig's `Status`. */
export enum Status {
  Ok = 0,
  KvmMissing = 1,
  KvmPermission = 2,
  KvmNotKvm = 3,
  KvmApiMismatch = 4,
  KvmFailed = 5,
  OutOfMemory = 6,
  KernelNotBzImage = 7,
  KernelProtocolTooOld = 8,
  KernelTooLarge = 9,
  InitrdTooLarge = 10,
  CmdlineTooLong = 11,
  InvalidArgument = 12,
  FirmwareInvalid = 13,
  ImageNotFound = 14,
  ImageAccessDenied = 15,
  ImageReadOnlyFs = 16,
  ImageIsDirectory = 17,
  ImageNotRegular = 18,
  ImageEmpty = 19,
  ImagePartialSector = 20,
  ImageLocked = 21,
  ImageLockUnsupported = 22,
  ImageDirectIoUnsupported = 23,
  ImageFailed = 24,
  /** The machine has no display (`--vga none`), or it shows no text mode now. */
  NoDisplay = 25,
  /** The caller's buffer is too small; the info says how much is needed. */
  BufferTooSmall = 26,
  /** The keyboard's queue of host keys is full; try again later. */
  KeyQueueFull = 27,
  /** A port range asked for is outside the port space or taken; the message names the owner. */
  PortInUse = 28,
  /** The guest has not turned on the absolute pointer (vmmouse) yet; try again later. */
  PointerDisabled = 29,
}

/** Why vmctl_vcpu_run returned (native/vm.zig `Exit`). */
export enum VcpuExit {
  Interrupted = 0,
  PowerOff = 1,
  Reset = 2,
  Failed = 3,
  /** The guest wrote its exit status to the exit port (vmctl_vm_guest_exit_value). */
  GuestExit = 4,
}

/** What an event from the native side says (native/events.zig `Kind`). */
export enum EventKind {
  ScreenChanged = 1,
  ConsoleOutput = 2,
}

/** The kinds of KVM exit vmctl_vm_exit_counts counts, in its order (native/vm.zig `ExitCount`). */
export const EXIT_COUNT_KINDS = [
  "io",
  "mmio",
  "coalesced_mmio",
  "interrupted",
  "shutdown",
  "system_event",
  "failed",
] as const;

/** Bytes of one event: kind (u32), value (u32), data (u64), little endian. */
export const EVENT_BYTES = 16;

/** Byte sizes of `struct kvm_regs` and `struct kvm_sregs`. */
export const KVM_REGS_BYTES = 144;
export const KVM_SREGS_BYTES = 312;

let loaded: Native | undefined;

/** Loads libvmctl once: `VMCTL_NATIVE_LIB`, else the build output, else the copy embedded by
 * `deno compile` (unpacked into the cache, since the dynamic loader needs a real file). */
export function loadNative(): Native {
  if (loaded) return loaded;
  const path = Deno.env.get("VMCTL_NATIVE_LIB") ?? locateLibrary();
  let library: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    library = Deno.dlopen(path, SYMBOLS);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new UserError(
      `cannot load the native library ${path} (${reason}): run 'deno task build' ` +
        `or set VMCTL_NATIVE_LIB`,
    );
  }
  const version = library.symbols.vmctl_abi_version();
  if (version !== ABI_VERSION) {
    throw new UserError(
      `native library ${path} has ABI ${version}, expected ${ABI_VERSION}: run 'deno task build'`,
    );
  }
  loaded = library.symbols;
  return loaded;
}

function locateLibrary(): string {
  const built = new URL("../zig-out/lib/libvmctl.so", import.meta.url);
  const compiled = !Deno.execPath().endsWith("/deno");
  if (!compiled) return built.pathname;
  // Inside a compiled vmctl the library is an embedded file: copy it out once per content.
  const bytes = Deno.readFileSync(built);
  const cache = Deno.env.get("VMCTL_CACHE") ??
    `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`}/vmctl`;
  const target = `${cache}/lib/libvmctl-${fnv1a(bytes)}.so`;
  try {
    Deno.statSync(target);
  } catch {
    Deno.mkdirSync(`${cache}/lib`, { recursive: true });
    const partial = `${target}.${Deno.pid}`;
    Deno.writeFileSync(partial, bytes, { mode: 0o755 });
    Deno.renameSync(partial, target);
  }
  return target;
}

function fnv1a(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}

/** The native side's last error sentence. */
export function nativeErrorMessage(native: Native): string {
  const buffer = new Uint8Array(512);
  const length = Number(native.vmctl_error_message(buffer, BigInt(buffer.length)));
  return new TextDecoder().decode(buffer.subarray(0, length));
}
