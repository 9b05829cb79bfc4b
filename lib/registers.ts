/**
 * `--show-regs`: a vCPU's registers from raw `struct kvm_regs` / `struct kvm_sregs` bytes.
 * @module
 */

const GENERAL = [
  "rax",
  "rbx",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "rsp",
  "rbp",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
  "rip",
  "rflags",
];

/** Offsets in `struct kvm_sregs`: eight 24-byte segments, two 16-byte tables, then CRs. */
const SEGMENTS = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"];
const CONTROL = [["cr0", 224], ["cr2", 232], ["cr3", 240], ["cr4", 248], ["efer", 264]] as const;

function hex(value: bigint): string {
  return value.toString(16).padStart(16, "0");
}

/** A multi-line register dump, or a note when they could not be read. */
export function formatRegisters(
  state: { regs: BigUint64Array; sregs: Uint8Array } | undefined,
): string {
  if (!state) return "vmctl: vCPU 0 registers are not available\n";
  const lines = ["vCPU 0 registers:"];
  for (let i = 0; i < GENERAL.length; i += 4) {
    lines.push(
      "  " + GENERAL.slice(i, i + 4)
        .map((name, j) => `${name.toUpperCase().padEnd(6)} ${hex(state.regs[i + j])}`)
        .join("  "),
    );
  }
  const view = new DataView(state.sregs.buffer, state.sregs.byteOffset, state.sregs.byteLength);
  lines.push(
    "  " +
      CONTROL.map(([name, offset]) =>
        `${name.toUpperCase().padEnd(4)} ${hex(view.getBigUint64(offset, true))}`
      ).join("  "),
  );
  lines.push(
    "  " + SEGMENTS.map((name, i) => {
      const selector = view.getUint16(i * 24 + 12, true);
      const base = view.getBigUint64(i * 24, true);
      return `${name.toUpperCase()}=${selector.toString(16).padStart(4, "0")}@${base.toString(16)}`;
    }).join(" "),
  );
  return lines.join("\n") + "\n";
}
