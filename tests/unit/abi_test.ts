/**
 * The C ABI has two sides kept by hand: native/root.zig's exports and enums, and lib/native.ts's
 * symbol table and enums. These tests read both and fail on any drift: a missing or extra
 * export, a parameter or result of another type, an enum value that moved.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  ABI_VERSION,
  EventKind,
  EXIT_COUNT_KINDS,
  Status,
  SYMBOLS,
  VcpuExit,
} from "../../lib/native.ts";

const read = (path: string) =>
  Deno.readTextFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)));
const root = read("native/root.zig");

/** A Zig parameter or result type as Deno's FFI sees it. */
function ffiType(zig: string): string {
  const type = zig.trim();
  // Handles the TypeScript side keeps as opaque pointers.
  if (type === "*Vm" || type === "*block.Image") return "pointer";
  // Everything else passed by address is caller memory: a buffer.
  if (/^\??(\*|\[\*)/.test(type)) return "buffer";
  if (type === "Status") return "i32";
  return type;
}

function zigExports(): Map<string, { parameters: string[]; result: string }> {
  const exports = new Map<string, { parameters: string[]; result: string }>();
  for (const match of root.matchAll(/^export fn (\w+)\(([^)]*)\)\s*([\w.*]+)\s*\{/gm)) {
    const [, name, list, result] = match;
    const parameters = list.split(",").map((p) => p.trim()).filter((p) => p !== "")
      .map((p) => ffiType(p.slice(p.indexOf(":") + 1)));
    exports.set(name, { parameters, result: ffiType(result) });
  }
  return exports;
}

/** `name = value,` lines of the Zig enum `pub const NAME = enum(...) {`. */
function zigEnum(source: string, name: string): Map<string, number> {
  const start = source.indexOf(`pub const ${name} = enum(`);
  assert.ok(start >= 0, `no enum ${name}`);
  const body = source.slice(start, source.indexOf("\n};", start));
  const values = new Map<string, number>();
  for (const match of body.matchAll(/^\s+(\w+) = (\d+),/gm)) values.set(match[1], Number(match[2]));
  return values;
}

/** `kernel_not_bzimage` and `KernelNotBzImage` alike: lower case, no underscores. */
const plain = (name: string) => name.replaceAll("_", "").toLowerCase();

function tsEnum(values: Record<string, string | number>): Map<string, number> {
  return new Map(
    Object.entries(values).filter(([, v]) => typeof v === "number") as [string, number][],
  );
}

function assertSameEnum(zig: Map<string, number>, ts: Map<string, number>, what: string): void {
  const expected = new Map([...zig].map(([name, value]) => [plain(name), value]));
  const actual = new Map([...ts].map(([name, value]) => [plain(name), value]));
  assert.deepEqual(actual, expected, `${what}: lib/native.ts and native/ differ`);
}

Deno.test("every export of native/root.zig is in lib/native.ts's table with the same types, and no other", () => {
  const exports = zigExports();
  assert.ok(exports.size > 30, `found only ${exports.size} exports: is the parser still right?`);
  const table = new Map(
    Object.entries(SYMBOLS).map(([name, symbol]) => [name, {
      parameters: [...symbol.parameters] as string[],
      result: symbol.result as string,
    }]),
  );
  assert.deepEqual([...table.keys()].sort(), [...exports.keys()].sort());
  for (const [name, signature] of exports) assert.deepEqual(table.get(name), signature, name);
});

Deno.test("the ABI version, Status, VcpuExit, EventKind and exit-count kinds match native/", () => {
  assert.equal(Number(/pub const abi_version: u32 = (\d+);/.exec(root)?.[1]), ABI_VERSION);
  assertSameEnum(zigEnum(root, "Status"), tsEnum(Status), "Status");
  const vm = read("native/vm.zig");
  assertSameEnum(zigEnum(vm, "Exit"), tsEnum(VcpuExit), "VcpuExit");
  assertSameEnum(zigEnum(read("native/events.zig"), "Kind"), tsEnum(EventKind), "EventKind");
  const start = vm.indexOf("pub const ExitCount = enum(u32) {");
  const kinds = [...vm.slice(start, vm.indexOf("\n};", start)).matchAll(/^ {4}(\w+),$/gm)].map((
    m,
  ) => m[1]);
  assert.deepEqual(kinds, [...EXIT_COUNT_KINDS]);
});
