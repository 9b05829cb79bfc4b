// Debian's kernel under vmctl: power off, timeout, console input (helpers in linux_guest.ts).
import assert from "node:assert/strict";
import {
  bootArgs,
  describe,
  GUEST_LIMIT_S,
  shellRoundTrip,
  TEST_READY_MARKER,
  Vmctl,
} from "./linux_guest.ts";

Deno.test("a guest that powers off ends vmctl with exit code 0", async () => {
  const run = await new Vmctl(await bootArgs("poweroff", ["-t", GUEST_LIMIT_S])).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 0, describe(run));
  assert.ok(run.stdout.includes(TEST_READY_MARKER), `no ready marker on stdout\n${describe(run)}`);
  assert.match(run.stdout, /mem_total_kb=\d+/, describe(run));
});

Deno.test("a hanging guest is stopped by -t with exit code 2", async () => {
  const run = await new Vmctl(await bootArgs("hang", ["-r", "256", "-t", "5"])).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 2, describe(run));
  assert.ok(run.elapsedMs >= 5_000, `stopped too early\n${describe(run)}`);
  assert.ok(run.elapsedMs < 15_000, `-t 5 took too long to stop the guest\n${describe(run)}`);
});

Deno.test("stdin reaches the guest's serial console and the shell answers", async () => {
  const args = await bootArgs("shell", ["-r", "256", "-t", GUEST_LIMIT_S]);
  await shellRoundTrip(new Vmctl(args, { stdin: true }));
});
