import assert from "node:assert/strict";
import { bootCommandItems, comboEvents, packKey, terminalKey, textEvents } from "../../lib/keys.ts";
import { parseKeySteps } from "../../lib/key_schedule.ts";
import { TerminalKeyboard } from "../../lib/terminal_keyboard.ts";

/** Each event as "+name" or "-name" by its set-2 code, to compare sequences readably. */
function shape(events: { key: { set2: number; kind: number }; released: boolean }[]): string[] {
  return events.map((event) =>
    `${event.released ? "-" : "+"}${event.key.kind}:${event.key.set2.toString(16)}`
  );
}

Deno.test("a combination presses in order and releases in reverse", () => {
  assert.deepEqual(shape(comboEvents("ctrl+alt+delete")), [
    "+0:14",
    "+0:11",
    "+1:71",
    "-1:71",
    "-0:11",
    "-0:14",
  ]);
  // Names are case-insensitive and have aliases; a lone character is its key.
  assert.deepEqual(comboEvents("Escape"), comboEvents("esc"));
  assert.deepEqual(comboEvents("/"), comboEvents("slash"));
});

Deno.test("text: shift only where the US layout needs it; Enter and Tab", () => {
  const strokes = textEvents("aA!\n\t");
  assert.deepEqual(strokes.map(shape), [
    ["+0:1c", "-0:1c"],
    ["+0:12", "+0:1c", "-0:1c", "-0:12"],
    ["+0:12", "+0:16", "-0:16", "-0:12"],
    ["+0:5a", "-0:5a"],
    ["+0:d", "-0:d"],
  ]);
});

Deno.test("every printable ASCII character has a keystroke, each a distinct key and shift", () => {
  const seen = new Set<string>();
  for (let code = 0x20; code < 0x7f; code++) {
    const [stroke] = textEvents(String.fromCharCode(code));
    seen.add(JSON.stringify(stroke));
  }
  assert.equal(seen.size, 0x7f - 0x20);
});

Deno.test("packed keys: set 1 code, set 2 code, kind and release in native i8042 Key's order", () => {
  const [press, release] = comboEvents("up");
  assert.equal(packKey(press), 0x0001_7548);
  assert.equal(packKey(release), 0x0005_7548);
  assert.equal(packKey(comboEvents("f7")[0]), 0x0000_8341);
});

Deno.test("steps: absolute and relative delays, keys split by commas, text escapes", () => {
  const steps = parseKeySteps([["-k", "500:a,b"], ["--key", "+20:ctrl+c"], [
    "--type",
    "0:x\\n\\\\",
  ]]);
  assert.deepEqual(steps.map((step) => [step.delayMs, step.relative, step.strokes.length]), [
    [500, false, 2],
    [20, true, 1],
    [0, false, 3],
  ]);
  assert.deepEqual(shape(steps[2].strokes[2]), ["+0:5d", "-0:5d"]);
});

Deno.test("terminal input as keys: characters, control bytes, escape sequences with modifiers", () => {
  const cases: [string, number, string | undefined][] = [
    ["a", 1, "a"],
    ["A", 1, "shift+a"],
    ["?", 1, "shift+slash"],
    ["\r", 1, "enter"],
    ["\x7f", 1, "backspace"],
    ["\x03", 1, "ctrl+c"],
    ["\x1b[A", 3, "up"],
    ["\x1b[1;5C", 6, "ctrl+right"],
    ["\x1b[3~", 4, "delete"],
    ["\x1b[15;2~", 7, "shift+f5"],
    ["\x1bOP", 3, "f1"],
    ["\x1bx", 2, "alt+x"],
    ["\x1b[99~", 5, undefined],
    ["é", 1, undefined],
  ];
  for (const [input, length, combo] of cases) {
    const key = terminalKey(new TextEncoder().encode(input + "z"));
    assert.deepEqual([key.length, key.combo], [length, combo], input);
  }
  // Escape last in what the terminal sent is the Esc key; followed by a character, Alt with it.
  assert.deepEqual(terminalKey(new Uint8Array([0x1b])), { length: 1, combo: "esc" });
  assert.deepEqual(terminalKey(new TextEncoder().encode("\x1bz")), { length: 2, combo: "alt+z" });
});

Deno.test("-g's keyboard: a full queue takes fewer bytes, and no key goes out twice", () => {
  const pushed: number[] = [];
  let room = 3;
  const keyboard = new TerminalKeyboard();
  keyboard.target = {
    pushKey(packed) {
      if (room === 0) return false;
      room--;
      pushed.push(packed);
      return true;
    },
  };
  const bytes = new TextEncoder().encode("ab");
  // a's press and release, b's press: then full, so only "a" counts as taken.
  assert.equal(keyboard.send(bytes), 1);
  room = 10;
  assert.equal(keyboard.send(bytes.subarray(1)), 1);
  const expected = [...comboEvents("a"), ...comboEvents("b")].map(packKey);
  assert.deepEqual(pushed, expected);
  keyboard.target = undefined;
  assert.equal(keyboard.send(bytes), 0);
});

Deno.test("Packer's boot command: text, special keys in any case, held modifiers, pauses", () => {
  const items = bootCommandItems(
    "<Esc><wait>ab<ENTER><leftCtrlOn>x<leftCtrlOff><wait5><wait1m30s><wait500ms>1<2",
  );
  const strokes = (spec: string) => ({ kind: "stroke", events: comboEvents(spec) });
  const [ctrlDown] = comboEvents("ctrl");
  assert.deepEqual(items, [
    strokes("esc"),
    { kind: "wait", ms: 1000 },
    strokes("a"),
    strokes("b"),
    strokes("enter"),
    { kind: "stroke", events: [{ key: ctrlDown.key, released: false }] },
    strokes("x"),
    { kind: "stroke", events: [{ key: ctrlDown.key, released: true }] },
    { kind: "wait", ms: 5000 },
    { kind: "wait", ms: 90_000 },
    { kind: "wait", ms: 500 },
    strokes("1"),
    strokes("shift+comma"),
    strokes("2"),
  ]);
  // Brackets around something that is not a name are text; an unknown name is a mistake.
  assert.equal(bootCommandItems("a <b c> d").length, 9);
  assert.throws(() => bootCommandItems("<entr>"), /unknown special key <entr>/);
  assert.throws(() => bootCommandItems("<wait5x>"), /unknown special key|bad pause/);
});
