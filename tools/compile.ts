/**
 * `deno task compile`: the single `vmctl` executable, with libvmctl embedded.
 *
 * `deno compile` needs a `denort` base binary of the same Deno version. It downloads one unless
 * `DENORT_BIN` points at a local copy; where downloads are impossible, set `DENORT_BIN`.
 * @module
 */

const REPO = new URL("..", import.meta.url).pathname;

const args = [
  "compile",
  "--allow-all",
  "--include",
  "zig-out/lib/libvmctl.so",
  "--include",
  "zig-out/bios/corevm.bin",
  "--output",
  "vmctl",
  "main.ts",
];
const output = await new Deno.Command(Deno.execPath(), { args, cwd: REPO, stdout: "inherit" })
  .output();
if (!output.success) {
  const text = new TextDecoder().decode(output.stderr);
  Deno.stderr.writeSync(output.stderr);
  if (!Deno.env.get("DENORT_BIN") && /denort|download/i.test(text)) {
    console.error(
      `compile: deno could not fetch its denort base binary: set DENORT_BIN to a denort of ` +
        `Deno ${Deno.version.deno} and run 'deno task compile' again`,
    );
  }
  Deno.exit(1);
}
console.error(`compile: wrote ${REPO}vmctl`);
