/**
 * Debian packages for the test harness: host commands installed with apt-get when missing, and
 * packages fetched with `apt-get download` and unpacked with `dpkg-deb -x` into the vmctl cache
 * (never installed on the host).
 *
 * Cache layout (under {@link cacheDir}): `debs/<pkg>_<version>_<arch>.deb` (apt-get's file name)
 * and `pkgs/<pkg>_<version>_<arch>/` (its unpacked tree).
 *
 * @module
 */

import { join } from "node:path";

/** The vmctl cache: `$VMCTL_CACHE`, else `$XDG_CACHE_HOME/vmctl`, else `~/.cache/vmctl`. */
export function cacheDir(): string {
  const explicit = Deno.env.get("VMCTL_CACHE");
  if (explicit) return explicit;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "vmctl");
  const home = Deno.env.get("HOME");
  if (!home) throw new Error("vmctl: set VMCTL_CACHE or HOME so the cache has a place");
  return join(home, ".cache", "vmctl");
}

/** Prints one progress line on stderr. */
export function note(message: string): void {
  console.error(`vmctl: ${message}`);
}

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

async function capture(cmd: string, args: string[], cwd?: string): Promise<Output> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, {
      args,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { DEBIAN_FRONTEND: "noninteractive" },
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { code: 127, stdout: "", stderr: `${cmd}: command not found` };
    }
    throw error;
  }
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Returns the absolute path of `cmd` on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  if (cmd.includes("/")) return isExecutable(cmd) ? cmd : undefined;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = join(dir, cmd);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

let aptUpdated = false;

async function aptUpdate(): Promise<void> {
  if (aptUpdated) return;
  aptUpdated = true;
  note("apt-get update");
  const out = await capture("apt-get", ["update"]);
  if (out.code !== 0) {
    throw new Error(`apt-get update failed (exit ${out.code}): ${out.stderr.trim()}`);
  }
}

/**
 * Makes sure `cmd` is on PATH, installing Debian package `debPackage` with apt-get when it is
 * missing (running `apt-get update` first if the install fails without it). Returns its path.
 */
export async function ensureCommand(cmd: string, debPackage: string): Promise<string> {
  const found = which(cmd);
  if (found) return found;
  note(`${cmd} is missing: apt-get install ${debPackage}`);
  const args = ["install", "-y", "--no-install-recommends", debPackage];
  let out = await capture("apt-get", args);
  if (out.code !== 0 && !aptUpdated) {
    await aptUpdate();
    out = await capture("apt-get", args);
  }
  if (out.code !== 0) {
    throw new Error(
      `could not install ${debPackage} for ${cmd} (apt-get exit ${out.code}): ` +
        `${out.stderr.trim()}\nInstall it by hand: apt-get install ${debPackage}`,
    );
  }
  const installed = which(cmd);
  if (!installed) throw new Error(`${debPackage} was installed but ${cmd} is still not on PATH`);
  return installed;
}

/** A concrete Debian package version, as apt sees it. */
export interface DebianPackage {
  name: string;
  version: string;
  arch: string;
}

interface Stanza {
  [field: string]: string;
}

function parseStanza(text: string): Stanza | undefined {
  const first = text.split(/\n\n/)[0];
  const fields: Stanza = {};
  let last = "";
  for (const line of first.split("\n")) {
    if (/^\s/.test(line) && last) {
      fields[last] += "\n" + line.trim();
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    last = line.slice(0, colon);
    fields[last] = line.slice(colon + 1).trim();
  }
  return fields.Package ? fields : undefined;
}

async function showCandidate(name: string): Promise<Stanza | undefined> {
  const out = await capture("apt-cache", ["show", "--no-all-versions", name]);
  return out.code === 0 ? parseStanza(out.stdout) : undefined;
}

async function providers(name: string): Promise<string[]> {
  const out = await capture("apt-cache", ["showpkg", name]);
  if (out.code !== 0) return [];
  const section = out.stdout.split(/^Reverse Provides:\s*$/m)[1] ?? "";
  return section.split("\n").map((line) => line.trim().split(/\s+/)[0]).filter((p) => p !== "");
}

/** The dependency a metapackage such as `linux-image-amd64` stands for, if `stanza` is one. */
function metaTarget(stanza: Stanza): string | undefined {
  const name = stanza.Package;
  const cut = name.lastIndexOf("-");
  if (cut <= 0 || Number(stanza["Installed-Size"] ?? "1000") > 64) return undefined;
  const prefix = name.slice(0, cut + 1);
  const suffix = name.slice(cut);
  const deps = (stanza.Depends ?? "").split(/[,|]/).map((d) => d.trim().split(/[\s(]/)[0]);
  return deps.find((d) => d.startsWith(prefix) && d.endsWith(suffix) && d !== name);
}

async function resolveOnce(name: string, depth = 0): Promise<DebianPackage | undefined> {
  if (depth > 4) throw new Error(`apt: ${name}: too many levels of metapackages`);
  const stanza = await showCandidate(name);
  if (!stanza) {
    const provider = (await providers(name))[0];
    return provider ? resolveOnce(provider, depth + 1) : undefined;
  }
  const target = metaTarget(stanza);
  if (target) return resolveOnce(target, depth + 1);
  return { name: stanza.Package, version: stanza.Version, arch: stanza.Architecture };
}

/**
 * Resolves `name` to the concrete package apt would fetch: a virtual package to its first
 * provider, a metapackage such as `linux-image-amd64` to the package it depends on
 * (`linux-image-6.1.0-NN-amd64`). Runs `apt-get update` once when apt knows nothing about it.
 */
export async function resolveDebianPackage(name: string): Promise<DebianPackage> {
  let found = await resolveOnce(name);
  if (!found && !aptUpdated) {
    await aptUpdate();
    found = await resolveOnce(name);
  }
  if (!found) throw new Error(`apt knows no package ${name} (even after apt-get update)`);
  return found;
}

function debFileName(pkg: DebianPackage): string {
  return `${pkg.name}_${pkg.version.replaceAll(":", "%3a")}_${pkg.arch}.deb`;
}

/** Whether anything is at `path`. */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Newest cached .deb whose package is `name` or (for a metapackage) looks like its target. */
function cachedDebFor(name: string): string | undefined {
  const debs = join(cacheDir(), "debs");
  const cut = name.lastIndexOf("-");
  const prefix = name.slice(0, cut + 1);
  const suffix = name.slice(cut);
  let best: { path: string; mtime: number } | undefined;
  try {
    for (const entry of Deno.readDirSync(debs)) {
      if (!entry.isFile || !entry.name.endsWith(".deb")) continue;
      const pkg = entry.name.split("_")[0];
      const fits = pkg === name || (cut > 0 && pkg.startsWith(prefix) && pkg.endsWith(suffix));
      if (!fits) continue;
      const path = join(debs, entry.name);
      const mtime = Deno.statSync(path).mtime?.getTime() ?? 0;
      if (!best || mtime > best.mtime) best = { path, mtime };
    }
  } catch {
    return undefined;
  }
  return best?.path;
}

async function downloadDeb(pkg: DebianPackage): Promise<string> {
  const debs = join(cacheDir(), "debs");
  const target = join(debs, debFileName(pkg));
  if (exists(target)) return target;
  await Deno.mkdir(debs, { recursive: true });
  const scratch = await Deno.makeTempDir({ dir: debs, prefix: ".download-" });
  try {
    note(`downloading ${pkg.name} ${pkg.version}`);
    const args = [
      "download",
      "-o",
      "APT::Sandbox::User=root",
      `${pkg.name}:${pkg.arch}=${pkg.version}`,
    ];
    let out = await capture("apt-get", args, scratch);
    if (out.code !== 0 && !aptUpdated) {
      await aptUpdate();
      out = await capture("apt-get", args, scratch);
    }
    if (out.code !== 0) {
      throw new Error(
        `apt-get download ${pkg.name} failed (exit ${out.code}): ${out.stderr.trim()}`,
      );
    }
    const fetched = [...Deno.readDirSync(scratch)].find((e) => e.name.endsWith(".deb"));
    if (!fetched) throw new Error(`apt-get download ${pkg.name} left no .deb file`);
    await Deno.rename(join(scratch, fetched.name), target);
    return target;
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

async function unpackDeb(deb: string): Promise<string> {
  const pkgs = join(cacheDir(), "pkgs");
  const base = deb.slice(deb.lastIndexOf("/") + 1).replace(/\.deb$/, "");
  const target = join(pkgs, base);
  if (exists(target)) return target;
  await Deno.mkdir(pkgs, { recursive: true });
  const scratch = await Deno.makeTempDir({ dir: pkgs, prefix: ".unpack-" });
  try {
    const out = await capture("dpkg-deb", ["-x", deb, scratch]);
    if (out.code !== 0) {
      throw new Error(`dpkg-deb -x ${deb} failed (exit ${out.code}): ${out.stderr.trim()}`);
    }
    try {
      await Deno.rename(scratch, target);
    } catch (error) {
      if (!exists(target)) throw error; // else another process unpacked it first
    }
    return target;
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

/**
 * Fetches Debian package `name` (virtual and metapackages resolved, see
 * {@link resolveDebianPackage}) into the cache and returns the folder it is unpacked in.
 * Without apt (offline, no lists), falls back to the newest cached .deb of that package.
 */
export function fetchDebianPackage(name: string): Promise<string> {
  let fetched = fetchedPackages.get(name);
  if (!fetched) {
    fetched = fetchUncached(name);
    fetchedPackages.set(name, fetched);
    fetched.catch(() => fetchedPackages.delete(name));
  }
  return fetched;
}

/** Packages fetched by this process: apt is asked once per name and run. */
const fetchedPackages = new Map<string, Promise<string>>();

async function fetchUncached(name: string): Promise<string> {
  let deb: string;
  try {
    deb = await downloadDeb(await resolveDebianPackage(name));
  } catch (error) {
    const cached = cachedDebFor(name);
    if (!cached) throw error;
    note(`apt failed (${(error as Error).message.split("\n")[0]}); using cached ${cached}`);
    deb = cached;
  }
  return await unpackDeb(deb);
}

/** Debian's packaged kernel, unpacked in the cache. */
export interface DebianKernel {
  /** bzImage to boot. */
  vmlinuz: string;
  /** `lib/modules/<version>` of the unpacked package. */
  modulesDir: string;
  /** Kernel release, e.g. `6.1.0-56-amd64`. */
  version: string;
}

/** Fetches the kernel that `linux-image-amd64` currently stands for. */
export async function debianKernel(): Promise<DebianKernel> {
  const root = await fetchDebianPackage("linux-image-amd64");
  const modulesRoot = join(root, "lib", "modules");
  const versions = [...Deno.readDirSync(modulesRoot)].filter((e) => e.isDirectory);
  if (versions.length !== 1) {
    throw new Error(`expected one kernel under ${modulesRoot}, found ${versions.length}`);
  }
  const version = versions[0].name;
  const vmlinuz = join(root, "boot", `vmlinuz-${version}`);
  if (!exists(vmlinuz)) throw new Error(`kernel package ${root} has no boot/vmlinuz-${version}`);
  return { vmlinuz, modulesDir: join(modulesRoot, version), version };
}

/** Path of the static busybox binary from Debian's busybox-static package (cached). */
export async function busyboxStatic(): Promise<string> {
  const root = await fetchDebianPackage("busybox-static");
  const path = join(root, "bin", "busybox");
  if (!isExecutable(path)) throw new Error(`busybox-static package ${root} has no bin/busybox`);
  return path;
}

/**
 * Folders holding Debian's SeaBIOS (bios-256k.bin, vgabios-stdvga.bin) and QEMU's option ROMs
 * (linuxboot_dma.bin), fetched into the cache: tests use these, not whatever the host has.
 */
export async function firmwareDirs(): Promise<string[]> {
  const seabios = join(await fetchDebianPackage("seabios"), "usr", "share", "seabios");
  const qemu = join(await fetchDebianPackage("qemu-system-data"), "usr", "share", "qemu");
  for (const file of [join(seabios, "bios-256k.bin"), join(qemu, "linuxboot_dma.bin")]) {
    if (!exists(file)) throw new Error(`firmware package has no ${file}`);
  }
  return [seabios, qemu];
}
