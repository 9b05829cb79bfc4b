// The PS/2 mouse from the host, into Linux: psmouse finds an IntelliMouse (the wheel knock, ID
// 3), and what the guest reads from /dev/input/mice, summed, is what `--send-mouse` and
// `--mouse` moved: motion (DY down on the host, up in PS/2), buttons and the wheel. Each
// expectation below is the guest's running sum after one step; a wrong sum fails with exit 3.
// Last, VMware's absolute pointer: a bare guest (tests/guests/vmmouse.S) talks the backdoor
// protocol on a 1024x768 screen and prints the packets it reads.
import assert from "node:assert/strict";
import { testCmdline, testInputInitramfs } from "../../tools/guest_images.ts";
import { debianKernel } from "../../tools/debian.ts";
import { describe, GUEST_LIMIT_S, Vmctl } from "./linux_guest.ts";
import { guestKernel } from "../guests/flat_kernel.ts";

async function mouseGuest(extra: string[]) {
  const kernel = Deno.env.get("VMCTL_TEST_KERNEL") ?? (await debianKernel()).vmlinuz;
  const initrd = Deno.env.get("VMCTL_TEST_INPUT_INITRD") ?? await testInputInitramfs();
  const vmctl = new Vmctl([
    ...["-r", "128", "-t", GUEST_LIMIT_S, "--expect-timeout", "30", ...extra],
    ...["--kernel", kernel, "--initrd", initrd, "--append", testCmdline("mouse")],
  ]);
  const run = await vmctl.finish();
  assert.ok(!run.hung, describe(run));
  return run;
}

const sum = (dx: number, dy: number, dz: number, buttons: number) =>
  `mouse-sum: dx=${dx} dy=${dy} dz=${dz} buttons=${buttons}\r`;

Deno.test("--send-mouse: Linux reads the injected motion, buttons and wheel from /dev/input/mice", async () => {
  const run = await mouseGuest([
    ...["--expect", "VMCTL-MOUSE-READY"],
    // 300 counts right is two PS/2 packets (255 + 45); DY -40 is 40 up.
    ...["--send-mouse", "300,-40", "--expect", sum(300, 40, 0, 0)],
    ...["--send-mouse", "0,0,1", "--expect", sum(300, 40, 0, 1)],
    ...["--send-mouse", "-20,15,0,3", "--expect", sum(280, 25, 3, 0)],
    // Twelve wheel counts toward the user need two packets (7 + 5).
    ...["--send-mouse", "0,0,2,12", "--expect", sum(280, 25, 15, 2)],
    ...["--send-mouse", "0,0,0,-16", "--expect", sum(280, 25, -1, 0)],
    ...["--send-mouse", "0,0,7"],
  ]);
  assert.equal(run.code, 0, describe(run));
  assert.match(run.stdout, /^mouse: ImPS\/2 Generic Wheel Mouse\r?$/m, describe(run));
  // mousedev answers the knock with one acknowledgement: the last command's.
  assert.match(run.stdout, /^mouse-ack: 250\r?$/m, describe(run));
  assert.match(run.stdout, /buttons=7/, describe(run));
});

Deno.test("--mouse on a schedule, relative delays, and the schedule's moves add up", async () => {
  const run = await mouseGuest([
    ...["--expect", "VMCTL-MOUSE-READY"],
    // The schedule runs on its own clock: 20 s in the guest is reading /dev/input/mice.
    ...["--mouse", "20000:10,10", "--mouse", "+100:10,10", "--mouse", "+100:-5,0,4"],
    ...["--expect", sum(15, -20, 0, 4), "--send-mouse", "0,0,7"],
  ]);
  assert.equal(run.code, 0, describe(run));
});

/** What tests/guests/vmmouse.S prints for a packet. */
function pointerLine(x: number, y: number, buttons: number, wheel: number): string {
  const hex = (value: number, digits: number) =>
    (value >>> 0).toString(16).toUpperCase().padStart(digits, "0");
  return `vmmouse: buttons=${hex(buttons, 8)} x=${hex(x, 4)} y=${hex(y, 4)} wheel=${hex(wheel, 8)}`;
}

Deno.test("--mouse-abs: VMware's absolute pointer lands on the requested pixels of a 1024x768 screen", async () => {
  const run = await new Vmctl([
    ...["-r", "64", "--kernel", await guestKernel("vmmouse"), "-t", "60"],
    // Pixel to pointer: round(x * 0xFFFF / 1023), round(y * 0xFFFF / 767).
    ...["--mouse-abs", "0:0,0", "--mouse-abs", "+50:1023,767,1", "--mouse-abs", "+50:512,384,2,-3"],
    // Off the screen is its edge; the middle button ends the guest.
    ...["--mouse-abs", "+50:5000,100,4,1"],
  ]).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 0, describe(run));
  assert.doesNotMatch(run.stdout, /vmmouse-FAIL/, describe(run));
  const packets = run.stdout.split("\n").filter((line) => line.startsWith("vmmouse: buttons="));
  assert.deepEqual(packets.map((line) => line.replace(/\r$/, "")), [
    pointerLine(0, 0, 0, 0),
    pointerLine(0xffff, 0xffff, 0x20, 0),
    pointerLine(32800, 32810, 0x10, -3),
    pointerLine(0xffff, 8544, 0x08, 1),
  ], describe(run));
});

Deno.test("--vmmouse: Linux's psmouse finds VMware's pointer behind the backdoor and uses it", async () => {
  const run = await mouseGuest(["--vmmouse", "--success-on", "mouse: VirtualPS/2 VMware VMMouse"]);
  assert.equal(run.code, 0, describe(run));
});
