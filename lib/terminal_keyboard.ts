/**
 * `-g`'s input: what the user types in the terminal goes to the guest's PS/2 keyboard, as keys
 * (lib/keys.ts `terminalKey`), instead of to COM1. It is the console's target then; when the
 * keyboard's queue is full it takes fewer bytes and the console offers the rest again, so a
 * paste is typed whole, in order, without a key pressed twice.
 * @module
 */
import type { ConsoleTarget } from "./console.ts";
import type { KeyTarget } from "./key_schedule.ts";
import { comboEvents, packKey, terminalKey } from "./keys.ts";

export class TerminalKeyboard implements ConsoleTarget {
  /** The running machine's keyboard; undefined between boots. */
  target: KeyTarget | undefined;
  /** Events of the first key of the last refused input that went out already. */
  #sent = 0;

  send(bytes: Uint8Array): number {
    const target = this.target;
    if (target === undefined) return 0;
    let taken = 0;
    while (taken < bytes.length) {
      const key = terminalKey(bytes.subarray(taken));
      const events = key.combo === undefined ? [] : comboEvents(key.combo);
      while (this.#sent < events.length) {
        if (!target.pushKey(packKey(events[this.#sent]))) return taken;
        this.#sent++;
      }
      this.#sent = 0;
      taken += key.length;
    }
    return taken;
  }
}
