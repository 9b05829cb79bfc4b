// SeaBIOS (Debian's bios-256k.bin and vgabios-stdvga.bin, found through VMCTL_FIRMWARE_PATH)
// on vmctl's PC platform: POST, its screen on COM1 and in the -s dump, and Linux through it.
import assert from "node:assert/strict";
import {
  assertPlatform,
  bootArgs,
  bootTwiceThenStop,
  count,
  describe,
  GUEST_LIMIT_S,
  TEST_READY_MARKER,
  Vmctl,
} from "./linux_guest.ts";

Deno.test("with nothing to boot, SeaBIOS says so on COM1 and on the VGA screen; -t ends it", async () => {
  const run = await new Vmctl(["-r", "128", "-t", "10", "-s"]).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 2, describe(run));
  assert.match(run.stderr, /timeout: stopped the guest/, describe(run));
  // SeaBIOS's serial console mirrors the screen with terminal escapes and CRLF line ends.
  assert.match(run.stdout, /SeaBIOS \(version [^\r\n]+\r\n/, describe(run));
  assert.match(run.stdout, /No bootable device\.\r\n/, describe(run));
  // The -s dump comes last: plain lines, no escapes, ending with the same words.
  const dump = run.stdout.slice(run.stdout.lastIndexOf("\r\n") + 2);
  const lines = dump.split("\n");
  assert.ok(lines.some((line) => /^SeaBIOS \(version \S+\)$/.test(line)), describe(run));
  assert.equal(lines.filter((line) => line.length > 0).at(-1), "No bootable device.", dump);
  assert.ok(!dump.includes("\x1b"), `escape codes in the screen dump:\n${dump}`);
  assert.ok(lines.length <= 25, `more than 25 lines in the screen dump:\n${dump}`);
  assert.equal(count(run.stdout, "No bootable device."), 2, describe(run));
});

Deno.test("--boot-menu: SeaBIOS offers its boot menu and esc opens it; without the option it never asks", async () => {
  const menu = await new Vmctl([
    ...["-r", "128", "-t", "60", "--boot-menu", "--expect-timeout", "30"],
    ...["--expect", "Press ESC for boot menu", "--send-keys", "esc"],
    ...["--success-on", "Select boot device"],
  ]).finish();
  assert.ok(!menu.hung, describe(menu));
  assert.equal(menu.code, 0, describe(menu));
  assert.match(menu.stderr, /--success-on "Select boot device" matched/, describe(menu));
  const plain = await new Vmctl([
    ...["-r", "128", "-t", "60", "--fail-on", "Press ESC", "--success-on", "No bootable device"],
  ]).finish();
  assert.equal(plain.code, 0, describe(plain));
  assert.match(plain.stderr, /--success-on "No bootable device" matched/, describe(plain));
});

Deno.test("Linux through SeaBIOS's linuxboot ROM: PCI, ACPI and serial IRQ as on a PC; poweroff exits 0", async () => {
  const args = await bootArgs("platform", ["-b", "seabios", "-r", "256", "-t", GUEST_LIMIT_S]);
  const run = await new Vmctl(args).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 0, describe(run));
  assert.match(run.stdout, /SeaBIOS \(version/, describe(run));
  assert.equal(count(run.stdout, TEST_READY_MARKER), 1, describe(run));
  assertPlatform(run.stdout, describe(run));
});

Deno.test("direct Linux boot sees the same PCI bus and ACPI tables", async () => {
  const args = await bootArgs("platform", ["-r", "256", "-t", GUEST_LIMIT_S]);
  const run = await new Vmctl(args).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 0, describe(run));
  assert.ok(!run.stdout.includes("SeaBIOS"), describe(run));
  assertPlatform(run.stdout, describe(run));
});

Deno.test("a guest reboot through SeaBIOS runs the firmware and Linux again; --no-reboot exits 0", async () => {
  const run = await bootTwiceThenStop(["-b", "seabios"]);
  assert.ok(
    count(run.stdout, "SeaBIOS (version") >= 2,
    `firmware did not run again\n${describe(run)}`,
  );

  const args = await bootArgs("reboot", ["-b", "seabios", "--no-reboot", "-t", GUEST_LIMIT_S]);
  const once = await new Vmctl(args).finish();
  assert.equal(once.code, 0, describe(once));
  assert.equal(count(once.stdout, TEST_READY_MARKER), 1, describe(once));
  assert.match(once.stderr, /rebooted/, describe(once));
});
