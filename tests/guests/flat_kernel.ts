/**
 * Tiny test guests: x86-64 assembly (tests/guests/*.S) assembled with Zig and wrapped in a
 * minimal bzImage header, so vmctl's direct-boot path starts them at the 64-bit entry.
 * @module
 */
import { dirname, join } from "node:path";
import { cacheDir } from "../../tools/debian.ts";

const SETUP_SECTORS = 1;
const SETUP_BYTES = (SETUP_SECTORS + 1) * 512;
/** The 64-bit entry point is 0x200 bytes into the protected-mode part (boot protocol 2.12+). */
const ENTRY_64_OFFSET = 0x200;

/** Wraps 64-bit code in a bzImage (boot protocol 2.15) whose 64-bit entry runs it. */
export function wrapAsBzImage(code: Uint8Array): Uint8Array {
  const image = new Uint8Array(SETUP_BYTES + ENTRY_64_OFFSET + code.length);
  const view = new DataView(image.buffer);
  image[0x1f1] = SETUP_SECTORS;
  view.setUint16(0x1fe, 0xaa55, true); // boot_flag
  image[0x200] = 0xeb; // jmp over the header: the byte after it is the header's length - 2
  image[0x201] = 0x66;
  image.set(new TextEncoder().encode("HdrS"), 0x202);
  view.setUint16(0x206, 0x020f, true); // protocol 2.15
  image[0x211] = 0x01; // loadflags: LOADED_HIGH
  view.setUint32(0x214, 0x100000, true); // code32_start
  view.setUint32(0x22c, 0x7fffffff, true); // initrd_addr_max
  view.setUint32(0x230, 0x200000, true); // kernel_alignment
  image[0x234] = 1; // relocatable_kernel
  view.setUint16(0x236, 0x0001, true); // xloadflags: XLF_KERNEL_64
  view.setUint32(0x238, 2047, true); // cmdline_size
  view.setBigUint64(0x258, 0x100000n, true); // pref_address
  view.setUint32(0x260, 0x400000, true); // init_size
  image.fill(0xf4, SETUP_BYTES, SETUP_BYTES + ENTRY_64_OFFSET); // the 32-bit entry just halts
  image.set(code, SETUP_BYTES + ENTRY_64_OFFSET);
  return image;
}

/** Runs a build tool; its stderr becomes the error when it fails. */
export async function run(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, { args, stderr: "piped", stdout: "piped" })
    .output();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

/**
 * What `build` makes of tests/guests/NAME.S (given the source's path and a scratch folder), cached
 * by the source's hash in ~/.cache/vmctl/images as `PREFIX-NAME-HASH.bin` (the test runner warms
 * the cache on the host: Zig is slow to start inside the nested box).
 */
export async function cachedGuestBuild(
  name: string,
  prefix: string,
  build: (source: string, work: string) => Promise<Uint8Array>,
): Promise<Uint8Array> {
  const source = new URL(`./${name}.S`, import.meta.url).pathname;
  const text = await Deno.readFile(source);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", text));
  const hash = Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  const cached = join(cacheDir(), "images", `${prefix}-${name}-${hash}.bin`);
  try {
    return await Deno.readFile(cached);
  } catch {
    // Not built yet.
  }
  const work = await Deno.makeTempDir({ prefix: `vmctl-${prefix}-` });
  try {
    const code = await build(source, work);
    await Deno.mkdir(dirname(cached), { recursive: true });
    await Deno.writeFile(`${cached}.${Deno.pid}`, code);
    await Deno.rename(`${cached}.${Deno.pid}`, cached);
    return code;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** Assembles tests/guests/NAME.S into flat 64-bit binary code, cached (see cachedGuestBuild). */
export function assembleGuest(name: string): Promise<Uint8Array> {
  return cachedGuestBuild(name, "guest", async (source, work) => {
    await run("zig", [
      "cc",
      "-target",
      "x86_64-freestanding-none",
      "-c",
      source,
      "-o",
      `${work}/g.o`,
    ]);
    await run("zig", ["objcopy", "-O", "binary", `${work}/g.o`, `${work}/g.bin`]);
    return await Deno.readFile(`${work}/g.bin`);
  });
}

/** How the hostile guest ends: hang, power off (ACPI S5), i8042 reset, 0xCF9 reset, triple
 * fault. Lower case fuzzes every port and device first; upper case skips straight to the end.
 * "d" attacks the PCI bus, fw_cfg and the VGA instead, checks the outcome, then powers off; "i"
 * does the same to the IDE controller, a disk (-d) and a CD (-i), "a" to the AHCI controller,
 * "g" to the VGA's planes, registers and VBE modes, "w" to the VMware SVGA II (--vga vmware). */
export type HostileAction =
  | "h"
  | "p"
  | "r"
  | "c"
  | "t"
  | "d"
  | "i"
  | "a"
  | "g"
  | "w"
  | "H"
  | "P"
  | "R"
  | "C"
  | "T";

/** The hostile guest with its final action byte appended; writes it to a temp file. */
export async function hostileKernel(action: HostileAction): Promise<string> {
  const code = await assembleGuest("hostile");
  const withAction = new Uint8Array(code.length + 1);
  withAction.set(code);
  withAction[code.length] = action.charCodeAt(0);
  const path = await Deno.makeTempFile({ prefix: `vmctl-hostile-${action}-`, suffix: ".bzImage" });
  await Deno.writeFile(path, wrapAsBzImage(withAction));
  return path;
}

/** Another tests/guests guest (e.g. `vmmouse`) as a bzImage in a temp file. */
export async function guestKernel(name: string): Promise<string> {
  const code = await assembleGuest(name);
  const path = await Deno.makeTempFile({ prefix: `vmctl-${name}-`, suffix: ".bzImage" });
  await Deno.writeFile(path, wrapAsBzImage(code));
  return path;
}
