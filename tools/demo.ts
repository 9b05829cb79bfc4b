/**
 * `deno task demo`: boots Debian's kernel with a tiny busybox initramfs under vmctl; the guest
 * greets and powers off. Runs on this machine's /dev/kvm, or inside the nested-KVM box when there
 * is none (tools/box.ts). Exits with vmctl's exit code.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { kvmMode, logTail, runInBoxOrDirect } from "./box.ts";
import { debianKernel } from "./debian.ts";
import { demoInitramfs } from "./guest_images.ts";

const DEMO_CMDLINE = "console=ttyS0 quiet";
const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

async function main(): Promise<number> {
  const kernel = await debianKernel();
  const initrd = await demoInitramfs();
  const mode = kvmMode();
  if (mode === "box") {
    console.error(
      "vmctl demo: this machine has no usable /dev/kvm: running vmctl inside a nested-KVM box " +
        "(QEMU TCG with kvm-amd; slower than real hardware)",
    );
  }
  const argv = [
    Deno.execPath(),
    "run",
    "-A",
    `${REPO}/main.ts`,
    "run",
    ...["-r", "256", "-t", "60"],
    ...["--kernel", kernel.vmlinuz, "--initrd", initrd, "--append", DEMO_CMDLINE],
  ];
  const run = await runInBoxOrDirect(argv, { cwd: REPO, timeoutMs: 120_000, mode });
  if (run.boxDied) {
    console.error(`vmctl demo: the box died: ${run.boxDeathReason}\n${logTail(run.boxLog ?? "")}`);
    return 1;
  }
  if (run.timedOut) console.error("vmctl demo: vmctl did not finish in time and was stopped");
  return run.code;
}

if (import.meta.main) Deno.exit(await main());
