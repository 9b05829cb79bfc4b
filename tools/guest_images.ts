/**
 * Initramfs images built from Debian's static busybox, cached under `<cache>/images/`, each file
 * named after a hash of everything that goes into it (so a changed input builds a new one).
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { cpioArchive, cpioArchiveGzip, type CpioEntry } from "./cpio.ts";
import {
  busyboxStatic,
  cacheDir,
  debianKernel,
  exists,
  fetchDebianPackage,
  note,
} from "./debian.ts";
import { isoImage } from "./iso9660.ts";

/** Bump when the layout of the images changes in a way the hashed inputs do not show. */
const IMAGE_FORMAT = 1;

/** Marker the test guest prints on the console once it is up. */
export const TEST_READY_MARKER = "VMCTL-TEST-READY";

/**
 * /init of the test guest. The `vmctl_test=` word of the kernel command line picks what it does
 * after printing `mem_total_kb=<MemTotal>` and the ready marker: `poweroff`, `reboot`, `hang`
 * (forever), `shell` (an interactive sh on the console, then power off), `keys` (opens the first
 * virtual terminal, prints VMCTL-KEYS-READY, then echoes each line typed on its keyboard as
 * `typed: [LINE]` until the line `quit`, then powers off), `platform` (PCI
 * devices, ACPI kernel messages and interrupt counts, each line prefixed, then power off),
 * `mouse` (loads psmouse from the input initramfs, names the mouse, puts /dev/input/mice in
 * ImPS/2 mode, prints VMCTL-MOUSE-READY and then, for every packet, the sums of its motion so
 * far as `mouse-sum: dx=X dy=Y dz=Z buttons=B`, PS/2's directions; powers off once all three
 * buttons are held), `login` (a serial login prompt for root, password vmctl, then an interactive shell with the
 * prompt `root@vmctl:~# `), `panic` (prints VMCTL-PANIC-NEXT and crashes the kernel through
 * sysrq), `exitport` (writes the byte `vmctl_exit_value=N` to the exit port 0x501), `disk`
 * (loads the storage drivers of the storage initramfs, waits for `vmctl_disks=N` disks and CDs,
 * names the bound ahci/ata_piix PCI functions, writes `VMCTL-PATTERN\n` over 64 KiB at 1 MiB
 * into every /dev/sd?, syncs, reads the volume descriptor of every CD (`cdrom: `), prints the
 * controllers' /proc/interrupts lines (`irq: `) and VMCTL-DISK-WRITTEN, then powers off, or
 * hangs when the command line also says `vmctl_then=hang`) or `ddbench` (storage drivers, then
 * `dd` with O_DIRECT writes and reads `vmctl_ddbench_mib=N` MiB (default 64) of /dev/sda in
 * 1 MiB blocks and prints `ddbench: mib=N start=T0 written=T1 read=T2` from /proc/uptime, then
 * powers off).
 */
const TEST_INIT = `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
set -- $(grep '^MemTotal:' /proc/meminfo)
echo "mem_total_kb=$2"
mode=
for word in $(cat /proc/cmdline); do
  case "$word" in vmctl_test=*) mode="\${word#vmctl_test=}" ;; esac
done
echo ${TEST_READY_MARKER}
case "$mode" in
  poweroff) poweroff -f ;;
  reboot) reboot -f ;;
  hang) while :; do sleep 3600; done ;;
  shell) setsid cttyhack sh; poweroff -f ;;
  keys)
    exec 3</dev/tty1
    echo VMCTL-KEYS-READY
    while IFS= read -r line <&3; do
      echo "typed: [$line]"
      [ "$line" = quit ] && poweroff -f
    done ;;
  disk)
    for m in $(cat /lib/modules/load-order 2>/dev/null); do insmod /lib/modules/$m.ko; done
    want=1
    for word in $(cat /proc/cmdline); do
      case "$word" in vmctl_disks=*) want="\${word#vmctl_disks=}" ;; esac
    done
    i=0
    while [ $(ls -d /sys/block/sd? /sys/block/sr? 2>/dev/null | wc -l) -lt $want ] && [ $i -lt 300 ]; do
      sleep 0.1; i=$((i + 1))
    done
    for d in /sys/bus/pci/drivers/ahci/0000:* /sys/bus/pci/drivers/ata_piix/0000:*; do
      [ -e "$d" ] && echo "driver: $(basename $(dirname $d)) $(basename $d)"
    done
    for b in /sys/block/sd?; do
      d=\${b##*/}
      echo "disk: $d $(cat $b/size) sectors"
      yes VMCTL-PATTERN | head -c 65536 | dd of=/dev/$d bs=4096 seek=256 conv=fsync 2>/dev/null
    done
    sync
    for b in /sys/block/sr?; do
      [ -e "$b" ] || continue
      d=\${b##*/}
      echo "cdrom: $d $(cat $b/size) sectors, volume descriptor $(dd if=/dev/$d bs=2048 skip=16 count=1 2>/dev/null | head -c 6 | tail -c 5)"
    done
    grep -E 'ahci|ata_piix' /proc/interrupts | sed 's/^/irq: /'
    echo VMCTL-DISK-WRITTEN
    case " $(cat /proc/cmdline) " in *" vmctl_then=hang "*) while :; do sleep 3600; done ;; esac
    poweroff -f ;;
  ddbench)
    for m in $(cat /lib/modules/load-order 2>/dev/null); do insmod /lib/modules/$m.ko; done
    mib=64
    for word in $(cat /proc/cmdline); do
      case "$word" in vmctl_ddbench_mib=*) mib="\${word#vmctl_ddbench_mib=}" ;; esac
    done
    i=0
    while [ ! -e /sys/block/sda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    t0=$(cut -d' ' -f1 /proc/uptime)
    dd if=/dev/zero of=/dev/sda bs=1M count=$mib oflag=direct 2>/dev/null
    t1=$(cut -d' ' -f1 /proc/uptime)
    dd if=/dev/sda of=/dev/null bs=1M count=$mib iflag=direct 2>/dev/null
    t2=$(cut -d' ' -f1 /proc/uptime)
    echo "ddbench: mib=$mib start=$t0 written=$t1 read=$t2"
    poweroff -f ;;
  mouse)
    insmod /lib/modules/psmouse.ko
    i=0
    while [ ! -e /sys/class/input/mouse0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    echo "mouse: $(cat /sys/class/input/mouse0/device/name 2>/dev/null)"
    exec 3<>/dev/input/mice
    printf '\\363\\310\\363\\144\\363\\120' >&3
    echo "mouse-ack:$(dd bs=1 count=1 <&3 2>/dev/null | od -An -t u1)"
    echo VMCTL-MOUSE-READY
    sx=0; sy=0; sz=0
    while :; do
      set -- $(dd bs=1 count=4 <&3 2>/dev/null | od -An -t u1)
      dx=$2; dy=$3; dz=$4
      [ $(($1 & 16)) -ne 0 ] && dx=$((dx - 256))
      [ $(($1 & 32)) -ne 0 ] && dy=$((dy - 256))
      [ $dz -gt 127 ] && dz=$((dz - 256))
      sx=$((sx + dx)); sy=$((sy + dy)); sz=$((sz + dz))
      echo "mouse-sum: dx=$sx dy=$sy dz=$sz buttons=$(($1 & 7))"
      [ $(($1 & 7)) -eq 7 ] && poweroff -f
    done ;;
  login)
    while :; do
      printf 'vmctl login: '
      read -r user
      printf 'Password: '
      stty -echo
      read -r password
      stty echo
      echo
      [ "$user" = root ] && [ "$password" = vmctl ] && break
      echo 'Login incorrect'
    done
    PS1='root@vmctl:~# ' sh -i
    poweroff -f ;;
  panic)
    echo VMCTL-PANIC-NEXT
    echo c > /proc/sysrq-trigger ;;
  exitport)
    value=0
    for word in $(cat /proc/cmdline); do
      case "$word" in vmctl_exit_value=*) value="\${word#vmctl_exit_value=}" ;; esac
    done
    echo "exitport: writing $value to 0x501"
    printf "\\\\$(printf %o "$value")" | dd of=/dev/port bs=1 seek=1281 count=1 2>/dev/null
    echo "exitport: still running" ;;
  platform)
    for d in /sys/bus/pci/devices/*; do
      echo "pci \${d##*/} $(cat $d/vendor):$(cat $d/device) class=$(cat $d/class)"
    done
    dmesg | grep -i acpi | sed 's/^/dmesg: /'
    grep -E '^ *[0-9]+:' /proc/interrupts | sed 's/^/irq: /'
    poweroff -f ;;
  *) echo "vmctl-test: unknown vmctl_test='$mode'"; poweroff -f ;;
esac
sleep 5
echo "vmctl-test: still running after $mode"
while :; do sleep 3600; done
`;

/** /init of the demo guest: a greeting, then power off. */
const DEMO_INIT = `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo
echo "Hello from the vmctl demo guest: Linux $(uname -r) booted under KVM"
echo "  $(grep -c '^processor' /proc/cpuinfo) vCPU, $(grep '^MemTotal:' /proc/meminfo | tr -s ' ' | cut -d' ' -f2-) of memory, up $(cut -d' ' -f1 /proc/uptime) s"
echo "  command line: $(cat /proc/cmdline)"
echo "Powering off."
poweroff -f
`;

const encoder = new TextEncoder();

/** Hex SHA-256 of `parts` joined with zero bytes: the content key of a cached image's name. */
export async function sha256Hex(parts: readonly (string | Uint8Array)[]): Promise<string> {
  const chunks = parts.map((p) => (typeof p === "string" ? encoder.encode(p) : p));
  const total = chunks.reduce((n, c) => n + c.length + 1, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    joined.set(c, offset);
    offset += c.length + 1; // a zero byte between parts
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Images of another key older than this are removed when a new one is built. */
const STALE_AFTER_MS = 60 * 60_000;

/**
 * Removes `<name>-*` images in `images` other than `keep` that are over an hour old. Younger ones
 * stay: another checkout or test run may be booting one right now (the box reads the host's
 * cache).
 */
export async function removeStaleImages(images: string, name: string, keep: string): Promise<void> {
  for (const entry of Deno.readDirSync(images)) {
    if (!entry.name.startsWith(`${name}-`) || entry.name === keep) continue;
    const path = join(images, entry.name);
    const mtime = (await Deno.stat(path).catch(() => undefined))?.mtime?.getTime();
    if (mtime !== undefined && Date.now() - mtime > STALE_AFTER_MS) {
      await Deno.remove(path).catch(() => {});
    }
  }
}

async function busyboxApplets(busybox: string): Promise<string[]> {
  const out = await new Deno.Command(busybox, { args: ["--list"], stdout: "piped" }).output();
  if (!out.success) throw new Error(`${busybox} --list failed`);
  return new TextDecoder().decode(out.stdout).split("\n").filter((a) => /^[\w.[\-]+$/.test(a));
}

/** What goes into a busybox initramfs besides busybox itself. */
export interface BusyboxImage {
  /** Image name: the cached file is `<name>-<hash>.cpio[.gz]`. */
  name: string;
  /** Text of `/init` (a busybox sh script). */
  init: string;
  /** More members (after the base folders `bin dev proc sys tmp root lib`). */
  extra?: CpioEntry[];
  /** Strings that stand for the `extra` members in the cache key (e.g. file paths). */
  extraKey?: string[];
  /** Gzip the archive (default true). */
  gzip?: boolean;
}

/**
 * Builds (or finds in the cache) an initramfs holding static busybox with a symlink per applet
 * in /bin, a /dev/console node, `spec.init` as /init and `spec.extra`. Returns its path.
 */
export async function busyboxInitramfs(spec: BusyboxImage): Promise<string> {
  const busybox = await busyboxStatic();
  const gzip = spec.gzip ?? true;
  const key = await sha256Hex([
    `format ${IMAGE_FORMAT} gzip ${gzip}`,
    busybox, // its folder names the package version
    spec.init,
    ...(spec.extraKey ?? []),
  ]);
  const images = join(cacheDir(), "images");
  const fileName = `${spec.name}-${key.slice(0, 16)}.cpio${gzip ? ".gz" : ""}`;
  const path = join(images, fileName);
  try {
    await Deno.stat(path);
    return path;
  } catch {
    // not cached yet
  }
  const started = performance.now();
  const entries: CpioEntry[] = [];
  for (const dir of ["bin", "dev", "proc", "sys", "tmp", "root", "lib"]) {
    entries.push({ kind: "dir", path: dir });
  }
  entries.push({ kind: "chardev", path: "dev/console", major: 5, minor: 1 });
  entries.push({
    kind: "file",
    path: "bin/busybox",
    data: await Deno.readFile(busybox),
    mode: 0o755,
  });
  for (const applet of await busyboxApplets(busybox)) {
    if (applet !== "busybox") {
      entries.push({ kind: "symlink", path: `bin/${applet}`, target: "busybox" });
    }
  }
  entries.push(...(spec.extra ?? []));
  entries.push({ kind: "file", path: "init", data: spec.init, mode: 0o755 });
  const bytes = gzip ? cpioArchiveGzip(entries) : cpioArchive(entries);
  await Deno.mkdir(images, { recursive: true });
  await removeStaleImages(images, spec.name, fileName);
  const scratch = `${path}.${Deno.pid}.tmp`;
  await Deno.writeFile(scratch, bytes);
  await Deno.rename(scratch, path);
  const ms = Math.round(performance.now() - started);
  note(`built ${fileName} (${Math.round(bytes.length / 1024)} KiB, ${ms} ms)`);
  return path;
}

/** The test guests' initramfs (see the `vmctl_test=` modes above). Returns its cached path. */
export function testInitramfs(): Promise<string> {
  return busyboxInitramfs({ name: "test-initramfs", init: TEST_INIT });
}

/** The demo guest's initramfs: prints a greeting and powers off. Returns its cached path. */
export function demoInitramfs(): Promise<string> {
  return busyboxInitramfs({ name: "demo-initramfs", init: DEMO_INIT });
}

/**
 * The test guest's kernel command line for `vmctl_test=MODE`. `quiet`: kernel messages cross the
 * emulated UART one exit per byte, slow in the nested box.
 */
export function testCmdline(mode: string): string {
  return `console=ttyS0 quiet vmctl_test=${mode}`;
}

/**
 * The ISOLINUX/SYSLINUX configuration of the test media: serial console, no prompt, straight
 * into /VMLINUZ with /INITRD.IMG and `cmdline`.
 */
export function syslinuxConfig(cmdline: string): string {
  return [
    "SERIAL 0 115200",
    "DEFAULT linux",
    "PROMPT 0",
    "TIMEOUT 0",
    "LABEL linux",
    "  KERNEL /VMLINUZ",
    "  INITRD /INITRD.IMG",
    `  APPEND ${cmdline}`,
    "",
  ].join("\n");
}

/**
 * A bootable ISOLINUX CD (Debian's isolinux and syslinux-common) with Debian's kernel and the
 * test initramfs, booting straight into `vmctl_test=MODE` on the serial console. Cached.
 */
export async function testIsolinuxIso(mode: string): Promise<string> {
  const isolinux = join(await fetchDebianPackage("isolinux"), "usr/lib/ISOLINUX/isolinux.bin");
  const ldlinux = join(
    await fetchDebianPackage("syslinux-common"),
    "usr/lib/syslinux/modules/bios/ldlinux.c32",
  );
  const kernel = (await debianKernel()).vmlinuz;
  const initrd = await testInitramfs();
  const config = syslinuxConfig(testCmdline(mode));
  const key = await sha256Hex([`iso ${IMAGE_FORMAT}`, isolinux, ldlinux, kernel, initrd, config]);
  const path = join(cacheDir(), "images", `test-isolinux-${mode}-${key.slice(0, 16)}.iso`);
  if (exists(path)) return path;
  const image = isoImage({
    volumeId: "VMCTL_TEST",
    bootFile: "ISOLINUX.BIN",
    bootInfoTable: true,
    files: [
      { name: "ISOLINUX.BIN", bytes: await Deno.readFile(isolinux) },
      { name: "LDLINUX.C32", bytes: await Deno.readFile(ldlinux) },
      { name: "ISOLINUX.CFG", bytes: new TextEncoder().encode(config) },
      { name: "VMLINUZ", bytes: await Deno.readFile(kernel) },
      { name: "INITRD.IMG", bytes: await Deno.readFile(initrd) },
    ],
  });
  await Deno.mkdir(dirname(path), { recursive: true });
  await removeStaleImages(dirname(path), `test-isolinux-${mode}`, basename(path));
  await Deno.writeFile(`${path}.${Deno.pid}`, image);
  await Deno.rename(`${path}.${Deno.pid}`, path);
  note(`built ${path} (${Math.round(image.length / 1024)} KiB)`);
  return path;
}

/** Kernel modules for IDE/SATA disks, in load order (their `depends=` chains). */
const STORAGE_MODULES = [
  "drivers/scsi/scsi_common",
  "drivers/scsi/scsi_mod",
  "drivers/ata/libata",
  "drivers/ata/ata_piix",
  "drivers/ata/libahci",
  "drivers/ata/ahci",
  "crypto/crct10dif_common",
  "crypto/crct10dif_generic",
  "lib/crc-t10dif",
  "lib/crc64",
  "crypto/crc64_rocksoft_generic",
  "lib/crc64-rocksoft",
  "block/t10-pi",
  "drivers/scsi/sd_mod",
  "drivers/cdrom/cdrom",
  "drivers/scsi/sr_mod",
];

/** The test initramfs plus Debian's PS/2 mouse driver (for the `mouse` mode). Cached. */
export async function testInputInitramfs(): Promise<string> {
  const kernel = await debianKernel();
  const module = "drivers/input/mouse/psmouse";
  const data = await Deno.readFile(join(kernel.modulesDir, "kernel", `${module}.ko`));
  return busyboxInitramfs({
    name: "test-input-initramfs",
    init: TEST_INIT,
    extra: [
      { kind: "dir", path: "lib/modules" },
      { kind: "file", path: "lib/modules/psmouse.ko", data, mode: 0o644 },
    ],
    extraKey: [kernel.modulesDir, module],
  });
}

/** The test initramfs plus Debian's storage drivers (for the `disk` mode). Cached. */
export async function testStorageInitramfs(): Promise<string> {
  const kernel = await debianKernel();
  const extra: CpioEntry[] = [{ kind: "dir", path: "lib/modules" }];
  const names: string[] = [];
  for (const module of STORAGE_MODULES) {
    const name = module.split("/").pop()!;
    names.push(name);
    const data = await Deno.readFile(join(kernel.modulesDir, "kernel", `${module}.ko`));
    extra.push({ kind: "file", path: `lib/modules/${name}.ko`, data, mode: 0o644 });
  }
  extra.push({ kind: "file", path: "lib/modules/load-order", data: `${names.join("\n")}\n` });
  return busyboxInitramfs({
    name: "test-storage-initramfs",
    init: TEST_INIT,
    extra,
    extraKey: [kernel.modulesDir, ...STORAGE_MODULES],
  });
}
