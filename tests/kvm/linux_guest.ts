// Helpers for the tests that boot Debian's kernel with the busybox test initramfs under the vmctl
// CLI on a real /dev/kvm (the test runner puts those tests in the nested box when the host has
// none). Each linux_*_test.ts file runs in a box of its own, so a box that dies costs little.
//
// The test guest's /init prints `mem_total_kb=<MemTotal>` and VMCTL-TEST-READY, then does what
// `vmctl_test=` on the kernel command line says: poweroff, reboot, hang or shell.
// VMCTL_TEST_KERNEL and VMCTL_TEST_INITRD (set by tests/run.ts) skip the cache look-ups.

import assert from "node:assert/strict";
import { debianKernel } from "../../tools/debian.ts";
import { TEST_READY_MARKER, testCmdline, testInitramfs } from "../../tools/guest_images.ts";
import { countOccurrences, describe, type Finished, tail, Vmctl } from "../vmctl.ts";

export { TEST_READY_MARKER } from "../../tools/guest_images.ts";
export { countOccurrences as count, describe, type Finished, tail, Vmctl } from "../vmctl.ts";

/** vmctl's own limit for guests that should power off by themselves (`-t`). */
export const GUEST_LIMIT_S = "120";

interface Guest {
  kernel: string;
  initrd: string;
}

let guestPromise: Promise<Guest> | undefined;

function guest(): Promise<Guest> {
  guestPromise ??= (async () => ({
    kernel: Deno.env.get("VMCTL_TEST_KERNEL") ?? (await debianKernel()).vmlinuz,
    initrd: Deno.env.get("VMCTL_TEST_INITRD") ?? await testInitramfs(),
  }))();
  return guestPromise;
}

export async function bootArgs(mode: string, extra: string[] = []): Promise<string[]> {
  const { kernel, initrd } = await guest();
  return [
    ...extra,
    "--kernel",
    kernel,
    "--initrd",
    initrd,
    "--append",
    testCmdline(mode),
  ];
}

/** Checks the `platform` test mode's report (any firmware or none): PCI devices, ACPI
 * messages, serial interrupts. */
export function assertPlatform(stdout: string, context: string): void {
  const pci = stdout.split("\n").filter((line) => line.startsWith("pci "));
  for (const id of ["0x8086:0x1237", "0x8086:0x7000", "0x8086:0x7113", "0x1234:0x1111"]) {
    assert.ok(pci.some((line) => line.includes(id)), `no PCI device ${id}\n${context}`);
  }
  const dmesg = stdout.split("\n").filter((line) => line.startsWith("dmesg: "));
  assert.ok(dmesg.some((line) => /ACPI: RSDP 0x/.test(line)), `no RSDP\n${context}`);
  assert.ok(dmesg.some((line) => /ACPI: FACP 0x/.test(line)), `no FADT\n${context}`);
  assert.ok(dmesg.some((line) => /PCI Root Bridge \[PCI0\]/.test(line)), `no PCI0\n${context}`);
  const errors = dmesg.filter((line) => /error|warning|bug:/i.test(line));
  assert.deepEqual(errors, [], `ACPI complaints\n${context}`);
  const serial = /^irq: +4: +(\d+) .*ttyS0/m.exec(stdout);
  assert.ok(serial !== null && Number(serial[1]) > 0, `serial IRQ 4 never fired\n${context}`);
}

/**
 * Runs a `vmctl_test=shell` guest (vmctl started with a stdin pipe) to its end: waits for the
 * ready marker, has the shell compute something over the serial console, powers the guest off
 * from it, and checks it came up once and vmctl exited 0.
 */
export async function shellRoundTrip(vmctl: Vmctl): Promise<Finished> {
  try {
    const ready = await vmctl.waitForStdout((out) => out.includes(TEST_READY_MARKER), 150_000);
    assert.ok(ready, `the guest never printed the ready marker\n${tail(vmctl.stdout)}`);
    await vmctl.type("echo answer-$((6*7))\n");
    const answered = await vmctl.waitForStdout((out) => out.includes("answer-42"), 60_000);
    assert.ok(answered, `the shell never answered\n${tail(vmctl.stdout)}`);
    await vmctl.type("poweroff -f\n");
  } catch (error) {
    vmctl.kill("SIGKILL");
    await vmctl.finish();
    throw error;
  }
  const run = await vmctl.finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 0, describe(run));
  assert.equal(countOccurrences(run.stdout, TEST_READY_MARKER), 1, describe(run));
  return run;
}

/**
 * Boots a `vmctl_test=reboot` guest with `extra` options, waits until it has come up twice (the
 * machine was reset and booted again), stops vmctl with SIGTERM and checks it exited 143.
 */
export async function bootTwiceThenStop(extra: string[]): Promise<Finished> {
  const vmctl = new Vmctl(await bootArgs("reboot", [...extra, "-t", GUEST_LIMIT_S]));
  const twice = await vmctl.waitForStdout(
    (out) => countOccurrences(out, TEST_READY_MARKER) >= 2,
    150_000,
  );
  vmctl.kill("SIGTERM");
  const run = await vmctl.finish();
  assert.ok(twice, `the guest did not come up a second time\n${describe(run)}`);
  assert.equal(run.code, 143, describe(run));
  return run;
}
