/**
 * A hostile guest against real KVM: it writes pseudo-random values to every I/O port and to
 * each emulated device's registers, does string I/O with long counts and touches MMIO nobody
 * owns. vmctl must keep running, and must still serve the guest's COM1 and its way out.
 *
 * With action "d" the guest attacks the PCI bus, fw_cfg and the VGA instead (configuration
 * space fuzz, BARs over RAM and the APICs, DMA outside RAM, oversized reads, huge VBE modes) and
 * checks what vmctl did: one line per phase on COM1, "<phase>-OK" or "<phase>-FAIL ...".
 */
import { countOccurrences, describe, runVmctl, type VmctlResult } from "../vmctl.ts";
import { type HostileAction, hostileKernel } from "../guests/flat_kernel.ts";

const MARKER = "HOSTILE-GUEST-SURVIVED";

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** vmctl reported no error, panic or warning on stderr (its summary line is all it prints). */
function assertNoVmctlError(result: VmctlResult): void {
  const bad = result.stderr.split("\n").filter((line) => /error|panic|fail|warn/i.test(line));
  assert(bad.length === 0, `vmctl reported a problem: ${bad.join(" | ")}\n${describe(result)}`);
}

Deno.test("hostile guest: port and MMIO fuzzing leaves vmctl serving the guest, ACPI S5 ends it", async () => {
  const kernel = await hostileKernel("p");
  const result = await runVmctl(["run", "-r", "64", "--kernel", kernel, "-t", "120"]);
  assert(result.code === 0, `expected power off (exit 0)\n${describe(result)}`);
  assert(result.stdout.includes(MARKER), `guest marker missing\n${describe(result)}`);
  assert(result.stderr.includes("powered off"), `no power-off summary\n${describe(result)}`);
  assertNoVmctlError(result);
});

const PHASES = ["PCI", "FWCFG", "VGA"];

Deno.test("hostile guest: PCI config, fw_cfg DMA and VGA attacks touch nothing outside guest RAM", async () => {
  const kernel = await hostileKernel("d");
  // -s: when the guest is gone, vmctl dumps the text screen it left, with hostile geometry.
  const result = await runVmctl(["run", "-r", "64", "--kernel", kernel, "-s", "-t", "120"]);
  const end = result.stdout.indexOf(`${MARKER}\n`);
  const guest = end < 0 ? result.stdout : result.stdout.slice(0, end);
  const context = `guest output:\n${guest.slice(-2000)}\n${describe(result)}`;
  // The guest's own verdicts first: they say which check failed, with what value.
  const failures = guest.split("\n").filter((line) => line.includes("-FAIL"));
  assert(failures.length === 0, `guest checks failed: ${failures.join(" | ")}\n${context}`);
  let at = 0;
  for (const phase of PHASES) {
    const found = guest.indexOf(`${phase}-OK\n`, at);
    assert(found >= 0, `no ${phase}-OK from the guest (in order)\n${context}`);
    at = found;
  }
  assert(end > at, `guest marker missing\n${context}`);
  assert(result.code === 0, `expected power off (exit 0)\n${context}`);
  assert(result.stderr.includes("powered off"), `no power-off summary\n${context}`);
  assertNoVmctlError(result);
  // The dump stays within 60 rows of 132 characters, whatever the registers say.
  const dump = result.stdout.slice(end + MARKER.length + 1).split("\n");
  if (dump.at(-1) === "") dump.pop();
  const widest = Math.max(0, ...dump.map((line) => [...line].length));
  assert(
    dump.length >= 1 && dump.length <= 60 && widest <= 132,
    `screen dump of ${dump.length} rows, widest ${widest} characters\n${describe(result)}`,
  );
});

const RESETS = [["R", "i8042 reset pulse"], ["C", "reset control 0xCF9"], ["T", "triple fault"]];
for (const [action, how] of RESETS) {
  Deno.test(`hostile guest: ${how} with --no-reboot exits 0 after one boot`, async () => {
    const kernel = await hostileKernel(action as HostileAction);
    const result = await runVmctl([
      "run",
      "-r",
      "64",
      "--kernel",
      kernel,
      "--no-reboot",
      "-t",
      "120",
    ]);
    assert(result.code === 0, `expected exit 0\n${describe(result)}`);
    assert(countOccurrences(result.stdout, MARKER) === 1, `expected one boot\n${describe(result)}`);
    assert(result.stderr.includes("rebooted"), `no reboot summary\n${describe(result)}`);
  });
}

for (const [action, how] of [["C", "a 0xCF9 reset"], ["T", "a triple fault"]]) {
  Deno.test(`hostile guest: ${how} without --no-reboot boots the guest again`, async () => {
    // The guest resets ~0.2 s after it is up; stop it after three boots.
    const kernel = await hostileKernel(action as HostileAction);
    const result = await runVmctl(["run", "-r", "64", "--kernel", kernel, "-t", "60"], {
      terminateWhen: (stdout) => countOccurrences(stdout, MARKER) >= 3,
    });
    assert(result.code === 143, `expected SIGTERM to stop the reboot loop\n${describe(result)}`);
    assert(
      countOccurrences(result.stdout, MARKER) >= 3,
      `expected three boots\n${describe(result)}`,
    );
    assert(result.stderr.includes("stopped by SIGTERM"), `no summary\n${describe(result)}`);
  });
}

Deno.test("a guest that never stops ends with exit 2 at the -t limit", async () => {
  const kernel = await hostileKernel("H");
  const result = await runVmctl(["run", "-r", "64", "--kernel", kernel, "-t", "5"]);
  assert(result.code === 2, `expected timeout exit 2\n${describe(result)}`);
  assert(result.elapsedMs >= 5000, `stopped before the limit\n${describe(result)}`);
  assert(result.elapsedMs < 5000 + 10_000, `took far longer than the limit\n${describe(result)}`);
  assert(result.stderr.includes("timeout"), `no timeout summary\n${describe(result)}`);
});

Deno.test("--show-regs prints vCPU 0's registers on stderr when the VM stops", async () => {
  const kernel = await hostileKernel("P");
  const result = await runVmctl(["run", "-r", "64", "--kernel", kernel, "--show-regs", "-t", "60"]);
  assert(result.code === 0, `expected power off\n${describe(result)}`);
  assert(result.stderr.includes("vCPU 0 registers:"), `no register dump\n${describe(result)}`);
  // The guest stops in its hang loop right after the S5 write: RIP is inside the image at 1 MiB.
  const rip = /RIP\s+([0-9a-f]{16})/.exec(result.stderr);
  assert(rip !== null, `no RIP\n${describe(result)}`);
  const address = parseInt(rip[1], 16);
  assert(
    address >= 0x100000 && address < 0x101000,
    `RIP ${rip[1]} outside the guest\n${describe(result)}`,
  );
  assert(/CR0\s+0*80000011/.test(result.stderr), `expected long mode CR0\n${describe(result)}`);
});
