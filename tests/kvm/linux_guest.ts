// Helpers for the tests that boot Debian's kernel with the busybox test initramfs under the vmctl
// CLI on a real /dev/kvm (the test runner puts those tests in the nested box when the host has
// none). Each linux_*_test.ts file runs in a box of its own, so a box that dies costs little.
//
// The test guest's /init prints `mem_total_kb=<MemTotal>` and VMCTL-TEST-READY, then does what
// `vmctl_test=` on the kernel command line says: poweroff, reboot, hang or shell.
// VMCTL_TEST_KERNEL and VMCTL_TEST_INITRD (set by tests/run.ts) skip the cache look-ups.

import { debianKernel } from "../../tools/debian.ts";
import { testInitramfs } from "../../tools/guest_images.ts";

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
    // quiet: kernel messages cross the emulated UART one exit per byte, slow in the nested box.
    `console=ttyS0 quiet vmctl_test=${mode}`,
  ];
}
