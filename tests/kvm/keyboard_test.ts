// The PS/2 keyboard from the host: `--type`, `-k` and `--key` into a Linux guest's first virtual
// terminal (i8042, atkbd, the VT keymap and its line discipline), read back as lines the guest
// prints on the serial console (the `keys` mode of tools/guest_images.ts). Last, `-g` on a
// pseudo-terminal: what the user types there reaches the same terminal in the guest.
import assert from "node:assert/strict";
import { join } from "node:path";
import { bootArgs, count, describe, GUEST_LIMIT_S, Vmctl } from "./linux_guest.ts";
import { vmctlOnTerminal } from "../vmctl.ts";

const READY = "VMCTL-KEYS-READY";
/** When the keys start, from the VM's start: the guest must be reading its terminal by then. */
const TYPE_AT_MS = 20_000;
const PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
/** 64 characters: every printable ASCII class, all 32 punctuation marks among them. */
const TEXT = `The Quick Brown Fox Ju${PUNCTUATION}0123456789`;

/** Boots the keys guest with `keyArgs`, expects it to power off after the line `quit`. */
async function typeInto(keyArgs: string[]): Promise<string> {
  const args = await bootArgs("keys", ["-r", "128", "-t", GUEST_LIMIT_S, ...keyArgs]);
  const vmctl = new Vmctl(args);
  const started = performance.now();
  const ready = await vmctl.waitForStdout((out) => out.includes(READY), TYPE_AT_MS);
  const readyMs = performance.now() - started;
  const run = await vmctl.finish();
  assert.ok(ready, `the guest was not reading its terminal ${TYPE_AT_MS} ms in\n${describe(run)}`);
  assert.ok(readyMs < TYPE_AT_MS, describe(run));
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 0, describe(run));
  assert.equal(count(run.stdout, "typed: [quit]"), 1, describe(run));
  return run.stdout;
}

/** The lines the guest read, in order. */
function typedLines(stdout: string): string[] {
  return [...stdout.matchAll(/^typed: \[(.*)\]\r?$/gm)].map((match) => match[1]);
}

Deno.test("--type puts 64 characters of every printable class on the guest's terminal, byte-exact", async () => {
  assert.equal(TEXT.length, 64);
  const escaped = TEXT.replaceAll("\\", "\\\\");
  const stdout = await typeInto(["--type", `${TYPE_AT_MS}:${escaped}\\nquit\\n`]);
  assert.deepEqual(typedLines(stdout), [TEXT, "quit"], stdout);
});

Deno.test("--key-interval 0: 512 characters at once fill the keyboard's queue, and none is lost", async () => {
  const text = Array.from({ length: 8 }, () => TEXT).join("");
  const escaped = text.replaceAll("\\", "\\\\");
  const stdout = await typeInto([
    ...["--key-interval", "0", "--type", `${TYPE_AT_MS}:${escaped}\\nquit\\n`],
  ]);
  assert.deepEqual(typedLines(stdout), [text, "quit"], stdout);
});

Deno.test("-k and --key: names, shift and ctrl combinations, extended keys, relative delays", async () => {
  const stdout = await typeInto([
    ...["-k", `${TYPE_AT_MS}:a,b,c,backspace,shift+d,shift+slash,tab,x,left,y,enter`],
    // ctrl+u erases the line typed so far; the next step counts from this one's end.
    ...["-k", "+200:z,z,ctrl+u,o,k,enter"],
    ...["--key", "+300:q"],
    ...["--type", "+100:uit\\n"],
  ]);
  assert.deepEqual(typedLines(stdout), ["abD?\tx\x1b[Dy", "ok", "quit"], stdout);
});

Deno.test("-g: what the user types in the terminal goes to the guest's keyboard", async () => {
  const work = await Deno.makeTempDir({ prefix: "vmctl-keyboard-test-" });
  try {
    const serial = join(work, "serial.log");
    const args = await bootArgs("keys", ["-r", "128", "-t", GUEST_LIMIT_S, "--serial", serial]);
    const size = { columns: 100, rows: 30 };
    const child = vmctlOnTerminal(args, size, { stdin: "piped", stdout: "null" });
    const input = child.stdin.getWriter();
    const log = () => Deno.readTextFile(serial).catch(() => "");
    const deadline = performance.now() + 90_000;
    while (!(await log()).includes(READY) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // Backspace, Left (an escape sequence) and Enter as a terminal in raw mode sends them.
    await input.write(new TextEncoder().encode("ab\x7fc\x1b[Dx\r"));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await input.write(new TextEncoder().encode("quit\r"));
    const { code } = await child.status;
    await input.close().catch(() => {});
    const stdout = await log();
    assert.equal(code, 0, stdout);
    assert.deepEqual(typedLines(stdout), ["ac\x1b[Dx", "quit"], stdout);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("ctrl+alt+delete reaches Linux's keyboard handler, which reboots the guest", async () => {
  const args = await bootArgs("keys", ["-r", "128", "-t", GUEST_LIMIT_S, "--no-reboot"]);
  const run = await new Vmctl([...args, "--key", `${TYPE_AT_MS}:ctrl+alt+delete`]).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 0, describe(run));
  assert.equal(count(run.stdout, READY), 1, describe(run));
  assert.match(run.stderr, /guest rebooted .*not restarting it \(--no-reboot\)/, describe(run));
});
