// Debian's kernel under vmctl: guest RAM sizes.
import assert from "node:assert/strict";
import { bootArgs, describe, GUEST_LIMIT_S, TEST_READY_MARKER, Vmctl } from "./linux_guest.ts";

Deno.test("-r 64 is too small for Debian's kernel: exit 1 with one line saying so", async () => {
  const run = await new Vmctl(await bootArgs("poweroff", ["-r", "64", "-t", GUEST_LIMIT_S]))
    .finish();
  assert.ok(!run.hung, describe(run));
  assert.equal(run.code, 1, describe(run));
  assert.match(run.stderr, /^vmctl: .* does not fit in 64 MiB of RAM: raise -r\n$/, describe(run));
  assert.equal(run.stdout, "", describe(run));
});

// MemTotal excludes what the kernel keeps for itself: Debian's 6.1 kernel holds ~48 MiB (its
// image, bss, early tables) plus ~1.6% for the page array. It does not boot in 64 MiB (it runs out
// of memory parsing its BTF), so 128 MiB is the smallest size tested.
for (const mib of [128, 256, 3500]) {
  Deno.test(`-r ${mib} gives the guest ${mib} MiB of memory`, async () => {
    const args = await bootArgs("poweroff", ["-r", String(mib), "-t", GUEST_LIMIT_S]);
    const run = await new Vmctl(args).finish();
    assert.ok(!run.hung, describe(run));
    assert.equal(run.code, 0, describe(run));
    assert.ok(run.stdout.includes(TEST_READY_MARKER), `no ready marker\n${describe(run)}`);
    const found = run.stdout.match(/mem_total_kb=(\d+)/);
    assert.ok(found, `no mem_total_kb line\n${describe(run)}`);
    const totalKib = Number(found[1]);
    const lowKib = (mib * 0.9 - 64) * 1024;
    assert.ok(
      totalKib > lowKib && totalKib <= mib * 1024,
      `MemTotal ${totalKib} KiB is not plausible for -r ${mib} (expected ${lowKib}..${mib * 1024})`,
    );
  });
}
