/**
 * The display test guest: the busybox initramfs plus Debian's DRM drivers for the Bochs VBE
 * adapter (`bochs`) and VMware SVGA II (`vmwgfx`), and `fbmark` (tests/guests/fbmark/fbmark.c,
 * built static with `zig cc` and cached), which prints the framebuffer's geometry and draws
 * {@link DISPLAY_SQUARES} on it. `display=` on the kernel command line picks the driver: `bochs`,
 * `vmwgfx`, or `vesa` (the kernel's built-in vesafb on the mode Linux's setup code set through the
 * VGA BIOS for `vga=`; no module).
 *
 * @module
 */

import { basename, join } from "node:path";
import type { CpioEntry } from "./cpio.ts";
import { cacheDir, type DebianKernel, debianKernel, exists, note, which } from "./debian.ts";
import { busyboxInitramfs, removeStaleImages, sha256Hex } from "./guest_images.ts";

/** The `display=` words the guest's /init knows. */
export type DisplayMode = "bochs" | "vmwgfx" | "vesa";

/** The modules each `display=` mode asks for; their dependencies come along. */
const DISPLAY_MODULES: Record<DisplayMode, readonly string[]> = {
  bochs: ["bochs"],
  vmwgfx: ["vmwgfx"],
  vesa: [],
};

/** Side of every square fbmark draws, in pixels (its `SIZE`). */
export const SQUARE_SIDE = 32;

/** One square of the pattern: top-left corner in screen pixels, colour as 0xRRGGBB. */
export interface Square {
  x: number;
  y: number;
  rgb: number;
}

/** The pattern: 8 squares in a row from (64, 64), 48 pixels apart, in pure colours and grey. */
export const DISPLAY_SQUARES: readonly Square[] = [
  0xff0000, // red
  0x00ff00, // green
  0x0000ff, // blue
  0xffffff, // white
  0xffff00, // yellow
  0x00ffff, // cyan
  0xff00ff, // magenta
  0x808080, // grey
].map((rgb, i) => ({ x: 64 + 48 * i, y: 64, rgb }));

/** What /init writes on /dev/tty1 (fbcon, top left of the screen) before fbmark draws. */
export const DISPLAY_TEXT_MARKER = "VMCTL-DISPLAY-TEXT";

/** What /init prints on the serial console once everything is drawn, just before power-off. */
export const DISPLAY_DONE_MARKER = "VMCTL-DISPLAY-DONE";

/** Rows of the screen fbcon's text marker lines may cover (the squares start well below). */
export const TEXT_ROWS = 48;

function squareArgument(square: Square): string {
  return `${square.x},${square.y},${square.rgb.toString(16).padStart(6, "0")}`;
}

/**
 * /init of the display guest: loads `lib/modules/<display>.order`, waits for /dev/fb0, prints
 * the kernel's display messages (`dmesg: ` lines), writes the text marker on tty1 with the
 * cursor hidden, runs fbmark, gives fbcon and deferred I/O time to reach the screen, prints the
 * done marker and powers off.
 */
const DISPLAY_INIT = `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
display=
for word in $(cat /proc/cmdline); do
  case "$word" in display=*) display="\${word#display=}" ;; esac
done
if [ -z "$display" ] || [ ! -e "/lib/modules/$display.order" ]; then
  echo "display-guest: unknown display='$display'"
  poweroff -f
fi
for m in $(cat "/lib/modules/$display.order"); do
  insmod "/lib/modules/$m.ko" || echo "display-guest: insmod $m failed"
done
i=0
while [ ! -e /dev/fb0 ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
dmesg | grep -iE 'drm|vmwgfx|svga|vesa|fb0|fbcon|frame ?buffer|bochs' |
  grep -viE 'ACPI|command line|display=' | sed 's/^/dmesg: /'
echo 0 > /sys/class/graphics/fbcon/cursor_blink 2>/dev/null
printf '\\033[?25l\\033[2J\\033[H${DISPLAY_TEXT_MARKER} display=%s\\n${DISPLAY_TEXT_MARKER}\\n' \\
  "$display" > /dev/tty1
sleep 0.5
fbmark ${DISPLAY_SQUARES.map(squareArgument).join(" ")}
sleep 2
echo ${DISPLAY_DONE_MARKER}
poweroff -f
`;

/** The display guest's kernel command line for `display=MODE` (`extra` appended). */
export function displayCmdline(mode: DisplayMode, extra = ""): string {
  return `console=ttyS0 quiet display=${mode} ${extra}`.trim();
}

/** A module's name as the kernel spells it in `depends=`: file name without `.ko`, `-` as `_`. */
function moduleName(path: string): string {
  return basename(path).replace(/\.ko$/, "").replaceAll("-", "_");
}

/** The `depends=` list in a module's `.modinfo` section. */
function moduleDepends(ko: Uint8Array, path: string): string[] {
  const text = new TextDecoder("latin1").decode(ko);
  const at = text.indexOf("\0depends=");
  if (at < 0) throw new Error(`${path} has no depends= in its .modinfo: not a kernel module?`);
  const start = at + "\0depends=".length;
  const value = text.slice(start, text.indexOf("\0", start));
  return value === "" ? [] : value.split(",");
}

/** A module to put into the image: its name and contents. */
interface Module {
  name: string;
  data: Uint8Array;
}

/**
 * `targets` and everything they depend on, dependencies first (the order insmod needs), found
 * through the kernel's modules.order and each module's `depends=`.
 */
async function modulesInLoadOrder(
  kernel: DebianKernel,
  targets: readonly string[],
): Promise<Module[]> {
  const order = await Deno.readTextFile(join(kernel.modulesDir, "modules.order"));
  const paths = new Map<string, string>();
  for (const line of order.split("\n")) {
    if (line.trim() !== "") paths.set(moduleName(line.trim()), line.trim());
  }
  const loaded: Module[] = [];
  const visiting = new Set<string>();
  const done = new Set<string>();
  async function visit(name: string): Promise<void> {
    if (done.has(name)) return;
    if (visiting.has(name)) throw new Error(`kernel modules depend on each other: ${name}`);
    const relative = paths.get(name);
    if (!relative) {
      throw new Error(`kernel ${kernel.version} has no module ${name} (not in modules.order)`);
    }
    visiting.add(name);
    const path = join(kernel.modulesDir, relative);
    const data = await Deno.readFile(path);
    for (const dependency of moduleDepends(data, path)) await visit(dependency);
    visiting.delete(name);
    done.add(name);
    loaded.push({ name, data });
  }
  for (const target of targets) await visit(target);
  return loaded;
}

const FBMARK_SOURCE = new URL("../tests/guests/fbmark/fbmark.c", import.meta.url).pathname;

/** The Zig that builds fbmark: tools/toolchain.sh's pin (part of the cache key). */
const ZIG_VERSION = "0.14.1";

/** The pinned Zig: on PATH (tools/toolchain.sh), else where toolchain.sh installs it. */
function zigCommand(): string {
  const found = which("zig") ?? join(cacheDir(), "tools", `zig-${ZIG_VERSION}`, "ziglang", "zig");
  if (!exists(found)) {
    throw new Error("zig is needed to build fbmark: run `. tools/toolchain.sh` first");
  }
  return found;
}

/**
 * fbmark, built static for x86_64 Linux (musl) with `zig cc` and cached under
 * `<cache>/images/fbmark-<hash>` (the hash covers the source, the flags and the Zig version, so
 * a cached build is found without Zig). Returns its path.
 */
export async function fbmarkBinary(): Promise<string> {
  const source = await Deno.readTextFile(FBMARK_SOURCE);
  const flags = ["-target", "x86_64-linux-musl", "-static", "-O2", "-s", "-Wall", "-Wextra"];
  const key = await sha256Hex([`fbmark zig ${ZIG_VERSION}`, ...flags, source]);
  const images = join(cacheDir(), "images");
  const fileName = `fbmark-${key.slice(0, 16)}`;
  const path = join(images, fileName);
  if (exists(path)) return path;
  await Deno.mkdir(images, { recursive: true });
  const scratch = `${path}.${Deno.pid}.tmp`;
  const out = await new Deno.Command(zigCommand(), {
    args: ["cc", ...flags, "-Werror", "-o", scratch, FBMARK_SOURCE],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    await Deno.remove(scratch).catch(() => {});
    const why = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`zig cc could not build ${FBMARK_SOURCE}:\n${why}`);
  }
  await removeStaleImages(images, "fbmark", fileName);
  await Deno.rename(scratch, path);
  note(`built ${fileName}`);
  return path;
}

/**
 * The display guest's initramfs (see the module doc): busybox, fbmark as /bin/fbmark, and the
 * modules of every {@link DisplayMode} with one load-order file per mode. Cached.
 */
export async function displayInitramfs(): Promise<string> {
  const kernel = await debianKernel();
  const fbmark = await fbmarkBinary();
  const extra: CpioEntry[] = [{ kind: "dir", path: "lib/modules" }];
  const added = new Set<string>();
  for (const [mode, targets] of Object.entries(DISPLAY_MODULES)) {
    const modules = await modulesInLoadOrder(kernel, targets);
    for (const module of modules) {
      if (added.has(module.name)) continue;
      added.add(module.name);
      extra.push({
        kind: "file",
        path: `lib/modules/${module.name}.ko`,
        data: module.data,
        mode: 0o644,
      });
    }
    const order = modules.map((m) => `${m.name}\n`).join("");
    extra.push({ kind: "file", path: `lib/modules/${mode}.order`, data: order });
  }
  extra.push({ kind: "file", path: "bin/fbmark", data: await Deno.readFile(fbmark), mode: 0o755 });
  return busyboxInitramfs({
    name: "display-initramfs",
    init: DISPLAY_INIT,
    extra,
    extraKey: [kernel.modulesDir, fbmark, JSON.stringify(DISPLAY_MODULES)],
  });
}

if (import.meta.main) {
  console.log(await displayInitramfs());
}
