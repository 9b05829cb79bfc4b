// Console automation and the guest's exit status, on real Linux guests: --expect and --send log
// in on the serial console and run a command; a missing expectation exits 3 within its
// timeout; --fail-on-panic exits 4 soon after the panic line; --success-on exits 0 at once;
// --expect-screen and --send-text drive the keyboard and the text screen; the exit port passes
// the guest's value through as QEMU's isa-debug-exit does.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  bootArgs,
  count,
  describe,
  type Finished,
  GUEST_LIMIT_S,
  TEST_READY_MARKER,
  Vmctl,
} from "./linux_guest.ts";
import { MonitorClient } from "../vmctl.ts";

async function run(mode: string, extra: string[]) {
  const vmctl = new Vmctl(await bootArgs(mode, ["-r", "128", "-t", GUEST_LIMIT_S, ...extra]));
  const run = await vmctl.finish();
  assert.ok(!run.hung, describe(run));
  return run;
}

Deno.test("--expect and --send log in on the serial console and run a command", async () => {
  const result = await run("login", [
    ...["--expect", "vmctl login: ", "--send", "root\\n"],
    ...["--expect", "Password: ", "--send", "wrong\\n"],
    ...["--expect", "Login incorrect", "--expect", "vmctl login: ", "--send", "root\\n"],
    ...["--expect", "Password: ", "--send", "vmctl\\n"],
    ...["--expect", "root@vmctl:~# ", "--send", "echo $((6 * 7))-done\\n"],
    // A regular expression; then the shell powers the guest off.
    ...["--expect", "re:^42-done\\r?$", "--send", "poweroff -f\\n"],
  ]);
  assert.equal(result.code, 0, describe(result));
  assert.match(result.stderr, /guest powered off/, describe(result));
  assert.equal(count(result.stdout, "Login incorrect"), 1, describe(result));
  assert.match(result.stdout, /^42-done\r?$/m, describe(result));
});

Deno.test("an expectation not met exits 3 within its timeout, naming the step and the last lines", async () => {
  const result = await run("hang", [
    ...["--expect", TEST_READY_MARKER, "--expect-timeout", "4", "--expect", "never printed"],
  ]);
  assert.equal(result.code, 3, describe(result));
  assert.match(
    result.stderr,
    /expectation not met: step 2, --expect "never printed", not seen within 4 s/,
    describe(result),
  );
  assert.match(
    result.stderr,
    new RegExp(`^  \\| ${TEST_READY_MARKER}\\r?$`, "m"),
    describe(result),
  );
  // The step starts once the marker is seen: the run ends 4 s later, not at -t.
  assert.ok(result.elapsedMs < 60_000, describe(result));
});

Deno.test("--fail-on-panic exits 4 within 2 s of the kernel's panic line", async () => {
  const vmctl = new Vmctl(
    await bootArgs("panic", ["-r", "128", "-t", GUEST_LIMIT_S, "--fail-on-panic"]),
  );
  const seen = await vmctl.waitForStdout(
    (out) => out.includes("Kernel panic - not syncing"),
    90_000,
  );
  const panicAt = performance.now();
  const result = await vmctl.finish();
  const afterPanicMs = performance.now() - panicAt;
  assert.ok(seen, describe(result));
  assert.equal(result.code, 4, describe(result));
  assert.match(
    result.stderr,
    /--fail-on "Kernel panic - not syncing" matched after [^:]*: \[ *[\d.]+\] Kernel panic - not syncing: sysrq triggered crash/,
    describe(result),
  );
  assert.ok(
    afterPanicMs < 2000,
    `exit came ${Math.round(afterPanicMs)} ms after the panic line\n${describe(result)}`,
  );
});

Deno.test("--success-on exits 0 as soon as the line appears; --fail-on patterns that never appear do nothing", async () => {
  const result = await run("hang", [
    ...["--fail-on", "re:^never$", "--fail-on", "Oops", "--success-on", TEST_READY_MARKER],
  ]);
  assert.equal(result.code, 0, describe(result));
  assert.match(
    result.stderr,
    new RegExp(`--success-on "${TEST_READY_MARKER}" matched`),
    describe(result),
  );
  assert.ok(result.elapsedMs < 60_000, describe(result));
});

Deno.test("--send-text types on the keyboard and --expect-screen sees it on the text screen", async () => {
  // SeaBIOS's VGA BIOS leaves text mode 3 for Linux's vgacon (direct boot has no text screen).
  const result = await run("keys", [
    ...["-b", "seabios"],
    ...["--expect", "VMCTL-KEYS-READY", "--send-text", "screen check 123\\n"],
    ...["--expect-screen", "screen check 123", "--send-keys", "q,u,i,t,enter"],
  ]);
  assert.equal(result.code, 0, describe(result));
  assert.match(result.stdout, /typed: \[screen check 123\]/, describe(result));
  assert.match(result.stdout, /typed: \[quit\]/, describe(result));
});

Deno.test("the exit port passes the guest's value through as (value << 1) | 1: 0, 1 and 42", async () => {
  for (const value of [0, 1, 42]) {
    const args = await bootArgs("exitport", [
      ...["-r", "128", "-t", GUEST_LIMIT_S, "--exit-port", "0x501", "--json"],
    ]);
    const at = args.indexOf("--append");
    args[at + 1] += ` vmctl_exit_value=${value}`;
    const vmctl = new Vmctl(args);
    const result = await vmctl.finish();
    const code = (value << 1) | 1;
    assert.equal(result.code, code, describe(result));
    assert.match(result.stderr, new RegExp(`wrote ${value} to the exit port .*exit code ${code}`));
    assert.doesNotMatch(result.stdout, /exitport: still running/, describe(result));
    const summary = jsonSummary(result);
    assert.equal(summary.exit_reason, "guest_exit", describe(result));
    assert.equal(summary.exit_code, code, describe(result));
    assert.equal(summary.guest_exit_value, value, describe(result));
  }
});

/** The `--json` object: stderr's last line. */
function jsonSummary(
  result: Finished,
): Record<string, unknown> & { exits: Record<string, number> } {
  const last = result.stderr.trimEnd().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last);
  } catch {
    assert.fail(`stderr's last line is not JSON\n${describe(result)}`);
  }
}

Deno.test("--json: one object on stderr's last line; a reboot under --no-reboot says so", async () => {
  const result = await run("reboot", ["--no-reboot", "--json"]);
  assert.equal(result.code, 0, describe(result));
  const summary = jsonSummary(result);
  assert.equal(summary.exit_reason, "reboot", describe(result));
  assert.equal(summary.exit_code, 0);
  assert.equal(summary.boots, 1);
  assert.match(String(summary.message), /^guest rebooted after/);
  // Every byte on stdout came from the guest's COM1.
  assert.equal(
    summary.serial_bytes,
    new TextEncoder().encode(result.stdout).length,
    describe(result),
  );
  assert.ok(summary.exits.io > 1000 && summary.exits.mmio >= 0, JSON.stringify(summary));
  assert.ok(typeof summary.run_seconds === "number" && summary.run_seconds > 0);
  assert.deepEqual(summary.screenshots, []);
});

Deno.test("--exit-port on a taken port names its owner", async () => {
  const result = await run("poweroff", ["--exit-port", "0x3f8"]);
  assert.equal(result.code, 1, describe(result));
  assert.match(
    result.stderr,
    /^vmctl: --exit-port 0x3f8: ports 0x3F8-0x3F9 belong to COM1; choose a free port \(QEMU's is 0x501\)\n$/,
    describe(result),
  );
});

Deno.test("the control socket: type 64 characters, status, pause, screenshot, expect, errors, quit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmctl-monitor-test-" });
  try {
    const socket = join(dir, "vm.sock");
    const vmctl = new Vmctl(
      await bootArgs("keys", ["-r", "128", "-t", GUEST_LIMIT_S, "--monitor", `unix:${socket}`]),
    );
    const client = await MonitorClient.connect(socket, 30_000);
    assert.equal((await Deno.stat(socket)).mode! & 0o777, 0o600);
    const ready = (event: Record<string, unknown>) =>
      event.event === "serial" && event.line === "VMCTL-KEYS-READY";
    await client.event(ready, 90_000);

    const text = "The Quick Brown Fox Ju!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~0123456789";
    assert.equal(text.length, 64);
    assert.deepEqual(await client.command({ cmd: "type", text: `${text}\n` }), { id: 1, ok: true });
    await client.event((e) => e.event === "serial" && e.line === `typed: [${text}]`, 30_000);

    const status = await client.command({ cmd: "status" });
    assert.equal(status.ok, true);
    assert.equal(status.state, "running");
    assert.equal(status.boots, 1);
    assert.ok((status.serial_bytes as number) > 100, JSON.stringify(status));

    // Paused, the guest reads nothing: keys typed now show up only after cont.
    assert.equal((await client.command({ cmd: "pause" })).ok, true);
    assert.equal((await client.command({ cmd: "status" })).state, "paused");
    assert.equal((await client.command({ cmd: "key", keys: "p,a,u,s,e,d,enter" })).ok, true);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.ok(
      !client.events.some((e) => e.line === "typed: [paused]"),
      "the guest ran while paused",
    );
    const expectLine = client.command({
      cmd: "expect",
      pattern: "re:typed: \\[pa.sed\\]",
      timeout: 30,
    });
    assert.equal((await client.command({ cmd: "cont" })).ok, true);
    assert.deepEqual(await expectLine, { id: 6, ok: true, matched: "typed: [paused]" });

    const shot = join(dir, "shot.png");
    assert.deepEqual(await client.command({ cmd: "screenshot", path: shot }), { id: 8, ok: true });
    const png = await Deno.readFile(shot);
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);

    const missing = await client.command({ cmd: "expect", pattern: "never", timeout: 0.5 });
    assert.deepEqual(missing, { id: 9, ok: false, error: "not seen within 0.5 s" });
    assert.match(String((await client.command({ cmd: "jump" })).error), /unknown cmd "jump"/);
    assert.match(
      String((await client.command({ cmd: "key", keys: "flurb" })).error),
      /unknown key 'flurb'/,
    );
    assert.match(
      String((await client.command({ cmd: "mouse", dx: 1.5, dy: 0 })).error),
      /dx must be a whole/,
    );
    await client.raw("this is not json\n");
    assert.equal((await client.command({ cmd: "quit" })).ok, true);
    const exit = await client.event((e) => e.event === "exit", 30_000);
    assert.deepEqual(exit, { event: "exit", reason: "quit", code: 0 });
    await client.reading;
    client.close();
    const result = await vmctl.finish();
    assert.equal(result.code, 0, describe(result));
    assert.match(result.stderr, /quit through the control socket/, describe(result));
    assert.ok(
      !(await Deno.stat(socket).then(() => true, () => false)),
      "the socket was left behind",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
