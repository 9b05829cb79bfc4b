/**
 * Bad input: every mistake ends with exit 1 and exactly one line on stderr that names the
 * problem, without a stack trace. These run on any machine: vmctl fails before KVM is touched,
 * or the KVM device itself is the mistake.
 */
import { describe, runVmctl, type VmctlResult } from "../vmctl.ts";
import { wrapAsBzImage } from "../guests/flat_kernel.ts";

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function assertOneLineError(result: VmctlResult, expected: RegExp): void {
  assert(result.code === 1, `expected exit 1\n${describe(result)}`);
  const lines = result.stderr.trimEnd().split("\n");
  assert(lines.length === 1, `expected one line on stderr\n${describe(result)}`);
  assert(lines[0].startsWith("vmctl: "), `expected a 'vmctl:' line\n${describe(result)}`);
  assert(expected.test(lines[0]), `stderr does not match ${expected}\n${describe(result)}`);
  assert(result.stdout === "", `expected nothing on stdout\n${describe(result)}`);
}

const kernel = await Deno.makeTempFile({ suffix: ".bzImage" });
await Deno.writeFile(kernel, wrapAsBzImage(new Uint8Array([0xf4])));

Deno.test("missing kernel file", async () => {
  const result = await runVmctl(["run", "--kernel", "/nonexistent/vmlinuz"]);
  assertOneLineError(result, /kernel file \/nonexistent\/vmlinuz does not exist/);
});

Deno.test("missing initrd file", async () => {
  const result = await runVmctl(["run", "--kernel", kernel, "--initrd", "/nonexistent/initrd"]);
  assertOneLineError(result, /initrd file \/nonexistent\/initrd does not exist/);
});

Deno.test("a kernel that is not a bzImage", async () => {
  const notKernel = await Deno.makeTempFile();
  await Deno.writeTextFile(notKernel, "this is not a kernel\n".repeat(100));
  const result = await runVmctl(["run", "--kernel", notKernel]);
  assertOneLineError(result, /is not a Linux bzImage/);
});

Deno.test("a folder as the kernel", async () => {
  const result = await runVmctl(["run", "--kernel", "/tmp"]);
  assertOneLineError(result, /is a folder/);
});

Deno.test("an empty kernel file", async () => {
  const empty = await Deno.makeTempFile();
  const result = await runVmctl(["run", "--kernel", empty]);
  assertOneLineError(result, /is empty/);
});

Deno.test("-r 0", async () => {
  const result = await runVmctl(["run", "-r", "0", "--kernel", kernel]);
  assertOneLineError(result, /at least 16 MiB/);
});

Deno.test("-r that is not a number", async () => {
  const result = await runVmctl(["run", "-r", "lots", "--kernel", kernel]);
  assertOneLineError(result, /whole number of MiB/);
});

Deno.test("-r beyond host memory", async () => {
  const result = await runVmctl(["run", "-r", "99999999", "--kernel", kernel]);
  assertOneLineError(result, /more RAM than this host has/);
});

Deno.test("an unknown flag", async () => {
  const result = await runVmctl(["run", "--kernel", kernel, "--frobnicate"]);
  assertOneLineError(result, /unknown option '--frobnicate'/);
});

Deno.test("an unknown command", async () => {
  const result = await runVmctl(["boot"]);
  assertOneLineError(result, /unknown command 'boot'/);
});

Deno.test("a bad timeout", async () => {
  const result = await runVmctl(["run", "--kernel", kernel, "-t", "-3"]);
  assertOneLineError(result, /positive number of seconds/);
});

Deno.test("-b none without a kernel", async () => {
  const result = await runVmctl(["run", "-r", "128", "-b", "none"]);
  assertOneLineError(result, /-b none boots a kernel directly: give one with --kernel/);
});

Deno.test("--initrd without a kernel", async () => {
  const result = await runVmctl(["run", "--initrd", kernel]);
  assertOneLineError(result, /--initrd needs a kernel/);
});

Deno.test("missing firmware file", async () => {
  const result = await runVmctl(["run", "-b", "/nonexistent/bios.bin"]);
  assertOneLineError(result, /firmware file \/nonexistent\/bios.bin does not exist/);
});

Deno.test("a firmware file of impossible size", async () => {
  const tiny = await Deno.makeTempFile({ suffix: ".bin" });
  await Deno.writeFile(tiny, new Uint8Array(1000));
  const result = await runVmctl(["run", "-b", tiny]);
  assertOneLineError(result, /is not a PC firmware image: .* 64 KiB to 16 MiB/);
});

Deno.test("a missing disk image", async () => {
  const result = await runVmctl(["run", "-d", "/nonexistent/disk.img"]);
  assertOneLineError(result, /disk image \/nonexistent\/disk.img does not exist/);
});

Deno.test("a folder as the disk image", async () => {
  const result = await runVmctl(["run", "-d", "/tmp"]);
  assertOneLineError(result, /disk image \/tmp is a folder/);
});

Deno.test("a zero-length disk image", async () => {
  const empty = await Deno.makeTempFile({ suffix: ".img" });
  const result = await runVmctl(["run", "-d", empty]);
  assertOneLineError(result, /disk image .* is empty/);
});

Deno.test("an ISO that is not ISO 9660", async () => {
  const fake = await Deno.makeTempFile({ suffix: ".iso" });
  await Deno.writeFile(fake, new Uint8Array(40000));
  const result = await runVmctl(["run", "-i", fake]);
  assertOneLineError(result, /is not an ISO 9660 image .*use -d for a disk image/);
});

Deno.test("an unreadable disk image", async () => {
  const locked = await Deno.makeTempFile({ suffix: ".img" });
  await Deno.writeFile(locked, new Uint8Array(4096));
  await Deno.chmod(locked, 0o000);
  const result = await runVmctl(["run", "-d", locked], {
    wrapper: Deno.uid() === 0
      ? ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
      : [],
  });
  assertOneLineError(result, /cannot read disk image .*: permission denied/);
});

Deno.test("a bad cache mode", async () => {
  const result = await runVmctl(["run", "--cache", "fast"]);
  assertOneLineError(
    result,
    /--cache fast: the cache mode is one of writeback, writethrough, none/,
  );
});

Deno.test("--ide-cdrom without a CD", async () => {
  const result = await runVmctl(["run", "--ide-cdrom"]);
  assertOneLineError(result, /--ide-cdrom moves the CD-ROM to IDE: give an ISO with -i FILE/);
});

Deno.test("more SATA drives than AHCI ports", async () => {
  const disk = await Deno.makeTempFile({ suffix: ".img" });
  await Deno.writeFile(disk, new Uint8Array(4096));
  const result = await runVmctl(["run", ...Array(7).fill(["-d", `${disk},ro`]).flat()]);
  assertOneLineError(
    result,
    /no SATA port left for .*: the AHCI controller has 6; put disks on IDE/,
  );
});

Deno.test("KVM device missing", async () => {
  const result = await runVmctl(["run", "--kernel", kernel], {
    env: { VMCTL_KVM_DEVICE: "/nonexistent/kvm" },
  });
  assertOneLineError(result, /\/nonexistent\/kvm does not exist: KVM is not available/);
});

Deno.test("KVM device that is not KVM", async () => {
  const result = await runVmctl(["run", "--kernel", kernel], {
    env: { VMCTL_KVM_DEVICE: "/dev/null" },
  });
  assertOneLineError(result, /\/dev\/null is not a KVM device/);
});

Deno.test("KVM device without permission", async () => {
  // A device file nobody may open. Root passes permission checks through CAP_DAC_OVERRIDE, so
  // under root vmctl runs with that capability removed from its bounding set.
  const device = await Deno.makeTempFile({ prefix: "vmctl-kvm-" });
  await Deno.chmod(device, 0o000);
  const result = await runVmctl(["run", "--kernel", kernel], {
    env: { VMCTL_KVM_DEVICE: device },
    wrapper: Deno.uid() === 0
      ? ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
      : [],
  });
  assertOneLineError(result, /no permission to open .*: add your user to the 'kvm' group/);
});

Deno.test("--vram 0, 3 and lots", async () => {
  for (const value of ["0", "3", "lots", "512"]) {
    const result = await runVmctl(["run", "--kernel", kernel, "--vram", value]);
    assertOneLineError(result, /video memory is a power of two from 1 to 256 MiB/);
  }
});

Deno.test("an unknown --vga", async () => {
  const result = await runVmctl(["run", "--kernel", kernel, "--vga", "cirrus"]);
  assertOneLineError(result, /--vga cirrus: the display adapter is one of std, vmware, none/);
});

Deno.test("--screenshot or -g with --vga none", async () => {
  for (const option of [["--screenshot", "/tmp/x.png"], ["-g"]]) {
    const result = await runVmctl(["run", "--kernel", kernel, "--vga", "none", ...option]);
    assertOneLineError(result, /but --vga none gives it none: drop --vga none/);
  }
});

Deno.test("a screenshot path in a missing folder, or a folder", async () => {
  const missing = await runVmctl(["run", "--kernel", kernel, "--screenshot", "/nonexistent/x.png"]);
  assertOneLineError(
    missing,
    /cannot write the screenshot .*the folder \/nonexistent does not exist/,
  );
  const folder = await runVmctl(["run", "--kernel", kernel, "--screenshot", "/tmp"]);
  assertOneLineError(folder, /--screenshot \/tmp is a folder: give a file name/);
});

Deno.test("-g without a terminal", async () => {
  const result = await runVmctl(["run", "--kernel", kernel, "-g"]);
  assertOneLineError(result, /-g draws the guest's screen in a terminal, but stdout is not one/);
});

Deno.test("an unwritable --serial file", async () => {
  const result = await runVmctl(["run", "--kernel", kernel, "--serial", "/nonexistent/serial.log"]);
  assertOneLineError(
    result,
    /cannot write the serial output to \/nonexistent\/serial.log \(no such folder\)/,
  );
});

Deno.test("bad key schedules: unknown key names, malformed delays, bad escapes and characters", async () => {
  const cases: [string[], RegExp][] = [
    [["-k", "5000:enter,flurb"], /-k 5000:enter,flurb: unknown key 'flurb': use a key name such/],
    [["--key", "2000:ctrl+"], /--key 2000:ctrl\+: bad key 'ctrl\+': join keys with '\+'/],
    [["-k", "enter"], /-k enter: write DELAY_MS:KEY, e\.g\. -k 5000:enter/],
    [["--key", "-5:esc"], /--key -5:esc: write DELAY_MS:KEY/],
    [["-k", "99999999999:esc"], /a delay of 99999999999 ms is over a day/],
    [["--type", "1000:a\\qb"], /unknown escape '\\q': the escapes are \\n \(Enter\)/],
    [
      ["--type", "1000:grüße"],
      /--type 1000:grüße: cannot type U\+00fc \('ü'\): only printable ASCII/,
    ],
    [
      ["--key-interval", "fast"],
      /--key-interval fast: the pause between keystrokes is 0 to 10000 ms/,
    ],
  ];
  for (const [args, expected] of cases) {
    assertOneLineError(await runVmctl(["run", "--kernel", kernel, ...args]), expected);
  }
});

Deno.test("bad console automation and exit port: patterns, escapes, keys, timeouts, ports", async () => {
  const cases: [string[], RegExp][] = [
    [["--expect", ""], /--expect needs a pattern: text, or re:REGEX/],
    [["--expect", "re:("], /--expect re:\(: not a regular expression .*drop the 're:' prefix/],
    [["--fail-on", "re:[a"], /--fail-on re:\[a: not a regular expression/],
    [["--send", "a\\qb"], /--send a\\qb: unknown escape '\\q': the escapes are \\n, \\r, \\t, \\e/],
    [["--send-keys", "ctrl+flurb"], /--send-keys ctrl\+flurb: unknown key 'flurb'/],
    [["--send-keys", ""], /--send-keys : give keys, e\.g\. --send-keys ctrl\+x/],
    [["--send-text", "grüße"], /--send-text grüße: cannot type U\+00fc/],
    [["--expect-timeout", "0"], /--expect-timeout 0: the expect timeout is a positive number/],
    [["--expect-timeout", "soon"], /--expect-timeout soon: the expect timeout is a positive/],
    [["--expect-screen", "login:", "--vga", "none"], /--vga none gives it none: drop --vga none/],
    [["--exit-port", "0x10000"], /--exit-port 0x10000: the port is a number from 0 to 0xFFFE/],
    [["--exit-port", "-1"], /--exit-port -1: the port is a number from 0 to 0xFFFE/],
    [["--exit-port", "0x501", "--exit-port", "0x502"], /option --exit-port was given twice/],
    [["-b", "none", "--boot-menu"], /--boot-menu is SeaBIOS's boot menu, and -b none has none/],
    [["--mouse", "1000:5"], /--mouse 1000:5: write DX,DY\[,BUTTONS\[,WHEEL\]\]: whole counts/],
    [["--mouse", "1000:5,5,9"], /--mouse 1000:5,5,9: write DX,DY.*BUTTONS 0-7/],
    [["--mouse", "x:5,5"], /--mouse x:5,5: write DELAY_MS:DX,DY\[,BUTTONS\[,WHEEL\]\], e\.g\./],
    [["--mouse-abs", "0:-1,5"], /--mouse-abs 0:-1,5: write X,Y\[,BUTTONS\[,WHEEL\]\]: a pixel/],
    [["--mouse-abs", "0:1,1", "--vga", "none"], /--mouse-abs points at the guest's screen/],
    [["--send-mouse", "1,2,3,4,5"], /--send-mouse 1,2,3,4,5: write DX,DY/],
  ];
  for (const [args, expected] of cases) {
    assertOneLineError(await runVmctl(["run", "--kernel", kernel, ...args]), expected);
  }
});

Deno.test("--monitor: a bad spec, a path that is not a socket, a socket someone serves", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmctl-monitor-" });
  try {
    const file = `${dir}/file`;
    await Deno.writeTextFile(file, "not a socket\n");
    const live = `${dir}/live.sock`;
    const listener = Deno.listen({ transport: "unix", path: live });
    try {
      const cases: [string[], RegExp][] = [
        [["--monitor", "/tmp/x.sock"], /--monitor \/tmp\/x\.sock: write unix:PATH, e\.g\./],
        [["--monitor", `unix:${file}`], /the path exists and is not a socket: choose another/],
        [["--monitor", `unix:${live}`], /another process serves this socket: choose another path/],
        [["--monitor", `unix:${dir}/missing/x.sock`], /--monitor .*: cannot listen there/],
      ];
      for (const [args, expected] of cases) {
        assertOneLineError(await runVmctl(["run", "--kernel", kernel, ...args]), expected);
      }
    } finally {
      listener.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--monitor takes over a stale socket left by a killed process, and removes it on exit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmctl-monitor-" });
  try {
    const path = `${dir}/vm.sock`;
    const code = `Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} }); ` +
      "setInterval(() => {}, 1000);";
    const holder = new Deno.Command(Deno.execPath(), { args: ["eval", code] }).spawn();
    const deadline = performance.now() + 30_000;
    while (!(await Deno.lstat(path).then((info) => info.isSocket === true, () => false))) {
      assert(performance.now() < deadline, "the holder process never made its socket");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    holder.kill("SIGKILL");
    await holder.status;
    assert((await Deno.lstat(path)).isSocket === true, "the killed holder left its socket behind");
    // vmctl gets past the socket and stops at the missing KVM device, closing the socket.
    const result = await runVmctl(["run", "--kernel", kernel, "--monitor", `unix:${path}`], {
      env: { VMCTL_KVM_DEVICE: "/nonexistent/kvm" },
    });
    assertOneLineError(result, /\/nonexistent\/kvm does not exist/);
    const left = await Deno.lstat(path).then(() => true, () => false);
    assert(!left, "vmctl left its socket behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
