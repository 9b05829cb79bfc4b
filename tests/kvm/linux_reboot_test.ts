// Debian's kernel under vmctl: guest reboots, with and without --no-reboot.
import assert from "node:assert/strict";
import {
  bootArgs,
  bootTwiceThenStop,
  count,
  describe,
  GUEST_LIMIT_S,
  TEST_READY_MARKER,
  Vmctl,
} from "./linux_guest.ts";

Deno.test("a rebooting guest with --no-reboot ends vmctl with exit code 0", async () => {
  const args = await bootArgs("reboot", ["-r", "256", "-t", GUEST_LIMIT_S, "--no-reboot"]);
  const run = await new Vmctl(args).finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 0, describe(run));
  assert.equal(count(run.stdout, TEST_READY_MARKER), 1, `marker count\n${describe(run)}`);
});

Deno.test("a rebooting guest boots again, and SIGTERM stops vmctl cleanly", async () => {
  const run = await bootTwiceThenStop(["-r", "256"]);
  assert.ok(!run.hung, describe(run));
  assert.equal(run.signal, null, `vmctl died of a signal instead of exiting\n${describe(run)}`);
  assert.match(run.stderr, /stopped by SIGTERM/, describe(run));
});
