/**
 * The guest's screen as the host sees it: the running machine's frames and text, which change
 * machine when the guest reboots. The `-g` display reads it, and screenshots are taken from it.
 * @module
 */
import type { Machine, ScreenFrame, TextScreen } from "./machine.ts";
import { writePng } from "./png.ts";

/** The current machine's screen; empty between boots. */
export class Screen {
  machine: Machine | undefined;
  /** The last frame seen, so a shot between two boots still has a picture. */
  #last: ScreenFrame | undefined;

  frame(): ScreenFrame | undefined {
    const frame = this.machine?.screenFrame();
    if (frame !== undefined) this.#last = frame;
    return frame ?? this.#last;
  }

  text(): TextScreen | undefined {
    return this.machine?.screenText();
  }

  /** Writes the screen as it is now to `path` (a PNG). */
  async saveShot(path: string): Promise<void> {
    const frame = this.frame();
    if (frame === undefined) throw new Error("the machine has no display");
    await writePng(path, frame);
  }
}
