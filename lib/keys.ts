/**
 * Keys by name and text as keystrokes: a US 104-key PS/2 keyboard's make codes in scancode sets
 * 1 and 2, the names `-k`, `--key` and `--type` accept, and the packed form native/devices/
 * i8042.zig `Key` takes (set 1 code, set 2 code, kind, released).
 * @module
 */
import { UserError } from "./errors.ts";

/** How a key's codes are sent (i8042.zig `Key.Kind`). */
const PLAIN = 0, EXTENDED = 1, PAUSE = 2, PRINT_SCREEN = 3;

/** One physical key: its make code in set 1 and in set 2, and its kind. */
export interface KeyCode {
  set1: number;
  set2: number;
  kind: number;
}

const plain = (set1: number, set2: number): KeyCode => ({ set1, set2, kind: PLAIN });
const extended = (set1: number, set2: number): KeyCode => ({ set1, set2, kind: EXTENDED });

/** Every key by its name. */
const KEYS: Record<string, KeyCode> = {
  a: plain(0x1e, 0x1c),
  b: plain(0x30, 0x32),
  c: plain(0x2e, 0x21),
  d: plain(0x20, 0x23),
  e: plain(0x12, 0x24),
  f: plain(0x21, 0x2b),
  g: plain(0x22, 0x34),
  h: plain(0x23, 0x33),
  i: plain(0x17, 0x43),
  j: plain(0x24, 0x3b),
  k: plain(0x25, 0x42),
  l: plain(0x26, 0x4b),
  m: plain(0x32, 0x3a),
  n: plain(0x31, 0x31),
  o: plain(0x18, 0x44),
  p: plain(0x19, 0x4d),
  q: plain(0x10, 0x15),
  r: plain(0x13, 0x2d),
  s: plain(0x1f, 0x1b),
  t: plain(0x14, 0x2c),
  u: plain(0x16, 0x3c),
  v: plain(0x2f, 0x2a),
  w: plain(0x11, 0x1d),
  x: plain(0x2d, 0x22),
  y: plain(0x15, 0x35),
  z: plain(0x2c, 0x1a),
  "1": plain(0x02, 0x16),
  "2": plain(0x03, 0x1e),
  "3": plain(0x04, 0x26),
  "4": plain(0x05, 0x25),
  "5": plain(0x06, 0x2e),
  "6": plain(0x07, 0x36),
  "7": plain(0x08, 0x3d),
  "8": plain(0x09, 0x3e),
  "9": plain(0x0a, 0x46),
  "0": plain(0x0b, 0x45),
  grave: plain(0x29, 0x0e),
  minus: plain(0x0c, 0x4e),
  equal: plain(0x0d, 0x55),
  leftbracket: plain(0x1a, 0x54),
  rightbracket: plain(0x1b, 0x5b),
  backslash: plain(0x2b, 0x5d),
  semicolon: plain(0x27, 0x4c),
  apostrophe: plain(0x28, 0x52),
  comma: plain(0x33, 0x41),
  period: plain(0x34, 0x49),
  slash: plain(0x35, 0x4a),
  esc: plain(0x01, 0x76),
  backspace: plain(0x0e, 0x66),
  tab: plain(0x0f, 0x0d),
  enter: plain(0x1c, 0x5a),
  space: plain(0x39, 0x29),
  capslock: plain(0x3a, 0x58),
  numlock: plain(0x45, 0x77),
  scrolllock: plain(0x46, 0x7e),
  shift: plain(0x2a, 0x12),
  rightshift: plain(0x36, 0x59),
  ctrl: plain(0x1d, 0x14),
  rightctrl: extended(0x1d, 0x14),
  alt: plain(0x38, 0x11),
  rightalt: extended(0x38, 0x11),
  super: extended(0x5b, 0x1f),
  rightsuper: extended(0x5c, 0x27),
  menu: extended(0x5d, 0x2f),
  f1: plain(0x3b, 0x05),
  f2: plain(0x3c, 0x06),
  f3: plain(0x3d, 0x04),
  f4: plain(0x3e, 0x0c),
  f5: plain(0x3f, 0x03),
  f6: plain(0x40, 0x0b),
  f7: plain(0x41, 0x83),
  f8: plain(0x42, 0x0a),
  f9: plain(0x43, 0x01),
  f10: plain(0x44, 0x09),
  f11: plain(0x57, 0x78),
  f12: plain(0x58, 0x07),
  insert: extended(0x52, 0x70),
  delete: extended(0x53, 0x71),
  home: extended(0x47, 0x6c),
  end: extended(0x4f, 0x69),
  pgup: extended(0x49, 0x7d),
  pgdn: extended(0x51, 0x7a),
  up: extended(0x48, 0x75),
  down: extended(0x50, 0x72),
  left: extended(0x4b, 0x6b),
  right: extended(0x4d, 0x74),
  kp0: plain(0x52, 0x70),
  kp1: plain(0x4f, 0x69),
  kp2: plain(0x50, 0x72),
  kp3: plain(0x51, 0x7a),
  kp4: plain(0x4b, 0x6b),
  kp5: plain(0x4c, 0x73),
  kp6: plain(0x4d, 0x74),
  kp7: plain(0x47, 0x6c),
  kp8: plain(0x48, 0x75),
  kp9: plain(0x49, 0x7d),
  kpperiod: plain(0x53, 0x71),
  kpplus: plain(0x4e, 0x79),
  kpminus: plain(0x4a, 0x7b),
  kpmultiply: plain(0x37, 0x7c),
  kpdivide: extended(0x35, 0x4a),
  kpenter: extended(0x1c, 0x5a),
  pause: { set1: 0, set2: 0, kind: PAUSE },
  printscreen: { set1: 0, set2: 0, kind: PRINT_SCREEN },
};

/** Other names users reach for. */
const ALIASES: Record<string, string> = {
  escape: "esc",
  return: "enter",
  ret: "enter",
  spc: "space",
  bs: "backspace",
  del: "delete",
  ins: "insert",
  pageup: "pgup",
  pagedown: "pgdn",
  lshift: "shift",
  leftshift: "shift",
  rshift: "rightshift",
  control: "ctrl",
  lctrl: "ctrl",
  leftctrl: "ctrl",
  rctrl: "rightctrl",
  lalt: "alt",
  leftalt: "alt",
  ralt: "rightalt",
  altgr: "rightalt",
  win: "super",
  meta: "super",
  lsuper: "super",
  leftsuper: "super",
  rsuper: "rightsuper",
  sysrq: "printscreen",
  prtsc: "printscreen",
  break: "pause",
};

/** Printable ASCII: the key that types it and whether shift is held. */
const TEXT: Record<string, [string, boolean]> = (() => {
  const map: Record<string, [string, boolean]> = { " ": ["space", false], "\n": ["enter", false] };
  map["\t"] = ["tab", false];
  for (const letter of "abcdefghijklmnopqrstuvwxyz") {
    map[letter] = [letter, false];
    map[letter.toUpperCase()] = [letter, true];
  }
  const pairs = "1!2@3#4$5%6^7&8*9(0)`~-_=+[{]}\\|;:'\",<.>/?";
  const names = [..."1234567890"].concat([
    "grave",
    "minus",
    "equal",
    "leftbracket",
    "rightbracket",
    "backslash",
    "semicolon",
    "apostrophe",
    "comma",
    "period",
    "slash",
  ]);
  for (let index = 0; index < names.length; index++) {
    map[pairs[index * 2]] = [names[index], false];
    map[pairs[index * 2 + 1]] = [names[index], true];
  }
  return map;
})();

/** A key going down or up. */
export interface KeyEvent {
  key: KeyCode;
  released: boolean;
}

/** The 32-bit form native/devices/i8042.zig `Key` takes. */
export function packKey(event: KeyEvent): number {
  const { set1, set2, kind } = event.key;
  return (set1 | (set2 << 8) | (kind << 16) | ((event.released ? 1 : 0) << 18)) >>> 0;
}

function lookUp(name: string): KeyCode {
  const lower = name.toLowerCase();
  const key = KEYS[ALIASES[lower] ?? lower] ?? (name.length === 1 ? keyOfChar(name) : undefined);
  if (key === undefined) {
    throw new UserError(
      `unknown key '${name}': use a key name such as enter, esc, tab, space, backspace, up, ` +
        `pgdn, f1-f12, ctrl, alt, shift, super, a-z, 0-9, or a combination like ctrl+alt+delete`,
    );
  }
  return key;
}

function keyOfChar(char: string): KeyCode | undefined {
  const entry = TEXT[char];
  return entry === undefined || entry[1] ? undefined : KEYS[entry[0]];
}

/**
 * One key or a combination (`ctrl+alt+delete`, `shift+a`) as events: each key pressed in
 * order, then released in reverse. A single character stands for its key (`a`, `1`, `/`);
 * `+` itself is the key name `plus`'s job: write `shift+equal`.
 */
export function comboEvents(spec: string): KeyEvent[] {
  const names = spec.split("+");
  if (names.some((name) => name === "")) {
    throw new UserError(
      `bad key '${spec}': join keys with '+' as in ctrl+alt+delete, with no empty parts`,
    );
  }
  const keys = names.map(lookUp);
  return [
    ...keys.map((key) => ({ key, released: false })),
    ...keys.toReversed().map((key) => ({ key, released: true })),
  ];
}

/** Text as keystrokes: printable ASCII, `\n` (Enter) and `\t` (Tab), shift where needed. */
export function textEvents(text: string): KeyEvent[][] {
  const strokes: KeyEvent[][] = [];
  for (const char of text) {
    const entry = TEXT[char];
    if (entry === undefined) {
      const code = char.codePointAt(0)!.toString(16).padStart(4, "0");
      throw new UserError(
        `cannot type U+${code} ('${char}'): only printable ASCII, \\n and \\t are keys on a ` +
          `US keyboard`,
      );
    }
    const [name, shifted] = entry;
    strokes.push(comboEvents(shifted ? `shift+${name}` : name));
  }
  return strokes;
}

/** CSI sequences' final characters and `~` numbers, as xterm sends them, to key names. */
const CSI_FINAL: Record<string, string> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
  P: "f1",
  Q: "f2",
  R: "f3",
  S: "f4",
};
const CSI_TILDE: Record<string, string> = {
  "1": "home",
  "2": "insert",
  "3": "delete",
  "4": "end",
  "5": "pgup",
  "6": "pgdn",
  "7": "home",
  "8": "end",
  "15": "f5",
  "17": "f6",
  "18": "f7",
  "19": "f8",
  "20": "f9",
  "21": "f10",
  "23": "f11",
  "24": "f12",
};
/** Control bytes a terminal sends for keys of their own; the rest are Ctrl+letter. */
const CONTROL: Record<number, string> = {
  0x08: "backspace",
  0x09: "tab",
  0x0a: "enter",
  0x0d: "enter",
  0x1c: "ctrl+backslash",
  0x1d: "ctrl+rightbracket",
  0x1e: "ctrl+6",
  0x1f: "ctrl+minus",
  0x7f: "backspace",
};

/** One key a terminal sent: the bytes it took and the key combination, if vmctl knows it. */
export interface TerminalKey {
  length: number;
  combo?: string;
}

/**
 * The first key in what a terminal sent (raw mode, xterm's sequences): printable ASCII,
 * Enter, Tab, Backspace, Ctrl+letter, Escape, arrows, Home/End, Insert/Delete, Page Up/Down and
 * F1–F12 with their Shift/Alt/Ctrl variants, Alt+character. Escape at the end of the input is the
 * Esc key. Bytes that are no key vmctl can press (other UTF-8 text) are skipped.
 */
export function terminalKey(bytes: Uint8Array): TerminalKey {
  const first = bytes[0];
  if (first !== 0x1b) return { length: 1, combo: byteCombo(first) };
  if (bytes.length === 1) return { length: 1, combo: "esc" };
  const second = bytes[1];
  if (second !== 0x5b /* [ */ && second !== 0x4f /* O */) {
    const combo = byteCombo(second);
    return { length: 2, combo: combo === undefined ? undefined : `alt+${combo}` };
  }
  // ESC [ parameters final, or ESC O final.
  let end = 2;
  while (end < bytes.length && bytes[end] >= 0x30 && bytes[end] <= 0x3f) end++;
  if (end === bytes.length) return { length: end };
  const params = new TextDecoder().decode(bytes.subarray(2, end)).split(";");
  const final = String.fromCharCode(bytes[end]);
  const name = final === "~" ? CSI_TILDE[params[0]] : CSI_FINAL[final];
  if (name === undefined) return { length: end + 1 };
  const modifier = Number(params[1] ?? 1) - 1;
  const held: string[] = [];
  if (modifier & 4) held.push("ctrl");
  if (modifier & 2) held.push("alt");
  if (modifier & 1) held.push("shift");
  return { length: end + 1, combo: [...held, name].join("+") };
}

function byteCombo(byte: number): string | undefined {
  if (CONTROL[byte] !== undefined) return CONTROL[byte];
  if (byte >= 0x01 && byte <= 0x1a) return `ctrl+${String.fromCharCode(0x60 + byte)}`;
  if (byte === 0x20) return "space";
  if (byte > 0x20 && byte < 0x7f) {
    const [name, shifted] = TEXT[String.fromCharCode(byte)];
    return shifted ? `shift+${name}` : name;
  }
  return undefined;
}

/** Packer's special key names in `<…>` (lower case) to ours. */
const PACKER_KEYS: Record<string, string> = {
  bs: "backspace",
  del: "delete",
  enter: "enter",
  return: "enter",
  esc: "esc",
  tab: "tab",
  up: "up",
  down: "down",
  left: "left",
  right: "right",
  spacebar: "space",
  insert: "insert",
  home: "home",
  end: "end",
  pageup: "pgup",
  pagedown: "pgdn",
  menu: "menu",
  leftalt: "alt",
  rightalt: "rightalt",
  leftctrl: "ctrl",
  rightctrl: "rightctrl",
  leftshift: "shift",
  rightshift: "rightshift",
  leftsuper: "super",
  rightsuper: "rightsuper",
  ...Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i + 1}`, `f${i + 1}`])),
};

/** One item of a Packer-style boot command: a keystroke, or a pause. */
export type BootCommandItem = { kind: "stroke"; events: KeyEvent[] } | { kind: "wait"; ms: number };

const WAIT_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A boot command as Packer writes one: text typed as it stands, special keys in angle brackets
 * (`<enter>`, `<esc>`, `<f12>`, `<pageDown>`, `<spacebar>`, …, any case), modifiers held and let
 * go (`<leftCtrlOn>c<leftCtrlOff>`), and pauses (`<wait>` a second, `<wait5>` five,
 * `<wait1m30s>`, `<wait500ms>`). Brackets around anything else are typed as text.
 */
export function bootCommandItems(command: string): BootCommandItem[] {
  const items: BootCommandItem[] = [];
  const type = (text: string) => {
    for (const events of textEvents(text)) items.push({ kind: "stroke", events });
  };
  let rest = command;
  while (rest.length > 0) {
    const open = rest.indexOf("<");
    const close = open < 0 ? -1 : rest.indexOf(">", open);
    if (open < 0 || close < 0) {
      type(rest);
      break;
    }
    type(rest.slice(0, open));
    const inside = rest.slice(open + 1, close);
    rest = rest.slice(close + 1);
    const name = inside.toLowerCase();
    const wait = /^wait((?:\d+(?:\.\d+)?(?:ms|s|m|h)?)*)$/.exec(name);
    const held = /^(.*?)(on|off)$/.exec(name);
    if (wait !== null) {
      items.push({ kind: "wait", ms: waitMs(wait[1], inside) });
    } else if (name in PACKER_KEYS) {
      items.push({ kind: "stroke", events: comboEvents(PACKER_KEYS[name]) });
    } else if (held !== null && held[1] in PACKER_KEYS) {
      const [down] = comboEvents(PACKER_KEYS[held[1]]);
      items.push({ kind: "stroke", events: [{ key: down.key, released: held[2] === "off" }] });
    } else if (/^[a-z0-9]+$/.test(name)) {
      throw new UserError(
        `unknown special key <${inside}>: use <enter>, <esc>, <tab>, <bs>, <del>, <spacebar>, ` +
          "<up>, <pageDown>, <f1>-<f12>, <leftCtrlOn>/<leftCtrlOff> and the like, or <wait5>",
      );
    } else {
      type(`<${inside}>`);
    }
  }
  return items;
}

function waitMs(spec: string, inside: string): number {
  if (spec === "") return 1000;
  if (/^\d+(\.\d+)?$/.test(spec)) return Number(spec) * 1000;
  let ms = 0;
  for (const [, amount, unit] of spec.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    ms += Number(amount) * WAIT_UNITS[unit];
  }
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(spec) || ms > 86_400_000) {
    throw new UserError(`bad pause <${inside}>: write <wait>, <wait5>, <wait500ms> or <wait1m30s>`);
  }
  return ms;
}
