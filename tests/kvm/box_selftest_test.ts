// Checks that /dev/kvm works where the KVM tests run (on the host or inside the nested box),
// straight through libc, so the harness is honest before vmctl itself is involved.

import assert from "node:assert/strict";

const O_RDWR = 0o2;
const O_CLOEXEC = 0o2000000;
const KVM_GET_API_VERSION = 0xae00;
const KVM_CREATE_VM = 0xae01;
const KVM_GET_VCPU_MMAP_SIZE = 0xae04;
const KVM_API_VERSION = 12;

const libcSymbols = {
  // int open(const char *path, int flags)
  open: { parameters: ["buffer", "i32"], result: "i32" },
  // int ioctl(int fd, unsigned long request, unsigned long arg)  (variadic, one integer argument)
  ioctl: { parameters: ["i32", "u64", "u64"], result: "i32" },
  // int close(int fd)
  close: { parameters: ["i32"], result: "i32" },
  // int *__errno_location(void)
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

function withLibc<T>(body: (libc: Deno.DynamicLibrary<typeof libcSymbols>["symbols"]) => T): T {
  const libc = Deno.dlopen("libc.so.6", libcSymbols);
  try {
    return body(libc.symbols);
  } finally {
    libc.close();
  }
}

function errno(libc: Deno.DynamicLibrary<typeof libcSymbols>["symbols"]): number {
  const where = libc.__errno_location();
  return where === null ? -1 : new Deno.UnsafePointerView(where).getInt32();
}

function openKvm(libc: Deno.DynamicLibrary<typeof libcSymbols>["symbols"]): number {
  const fd = libc.open(new TextEncoder().encode("/dev/kvm\0"), O_RDWR | O_CLOEXEC);
  assert.ok(fd >= 0, `open("/dev/kvm", O_RDWR) failed with errno ${errno(libc)}`);
  return fd;
}

Deno.test("/dev/kvm answers KVM_GET_API_VERSION with 12", () => {
  withLibc((libc) => {
    const fd = openKvm(libc);
    try {
      const version = libc.ioctl(fd, BigInt(KVM_GET_API_VERSION), 0n);
      assert.equal(version, KVM_API_VERSION, `KVM_GET_API_VERSION gave ${version}`);
    } finally {
      libc.close(fd);
    }
  });
});

Deno.test("KVM_CREATE_VM makes a VM and the vCPU mmap size is sane", () => {
  withLibc((libc) => {
    const fd = openKvm(libc);
    try {
      const vm = libc.ioctl(fd, BigInt(KVM_CREATE_VM), 0n);
      assert.ok(vm >= 0, `KVM_CREATE_VM failed with errno ${errno(libc)}`);
      libc.close(vm);
      const mmapSize = libc.ioctl(fd, BigInt(KVM_GET_VCPU_MMAP_SIZE), 0n);
      assert.ok(
        mmapSize >= 4096 && mmapSize % 4096 === 0,
        `KVM_GET_VCPU_MMAP_SIZE gave ${mmapSize}`,
      );
    } finally {
      libc.close(fd);
    }
  });
});
