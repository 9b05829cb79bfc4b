/**
 * Boot-sector test guests: 16-bit real-mode assembly (tests/guests/NAME.S, `.code16`, linked at
 * 0x7C00) assembled and linked with Zig into a flat image whose first sector is the MBR, cached
 * by the source's hash like {@linkcode assembleGuest} (tests/guests/flat_kernel.ts).
 * @module
 */
import { cachedGuestBuild, run } from "./flat_kernel.ts";

const SECTOR_BYTES = 512;
/** Where a guest's action byte is: just before the boot signature (see vga_draw.S). */
const ACTION_OFFSET = 509;
/** The disk images the tests boot: 1 MiB, the guest at its start. */
const DISK_BYTES = 1 << 20;

/**
 * Assembles tests/guests/NAME.S and links it at 0x7C00 into a flat image of whole sectors whose
 * first ends with the 0xAA55 boot signature; cached like flat_kernel.ts's `assembleGuest`.
 */
export function assembleBootSector(name: string): Promise<Uint8Array> {
  return cachedGuestBuild(name, "boot", async (source, work) => {
    await run("zig", ["cc", "-target", "x86-freestanding-none", "-c", source, "-o", `${work}/g.o`]);
    await run("zig", [
      ...["ld.lld", "-m", "elf_i386", "-Ttext=0x7c00", "-e", "_start", "--oformat", "binary"],
      ...["-o", `${work}/g.bin`, `${work}/g.o`],
    ]);
    const code = await Deno.readFile(`${work}/g.bin`);
    if (code.length < SECTOR_BYTES || code.length % SECTOR_BYTES !== 0) {
      throw new Error(`${source} linked to ${code.length} bytes, not whole sectors`);
    }
    if (code[510] !== 0x55 || code[511] !== 0xaa) {
      throw new Error(`${source} has no boot signature at offset 510`);
    }
    return code;
  });
}

/** What vga_draw.S draws: mode 12h with every write and read mode, mode 13h, mode X, text mode
 * 3, 80×50 text (8×8 font) and 40×25 text (mode 1). */
export type VgaDrawAction = "2" | "3" | "x" | "t" | "5" | "4";

/** A 1 MiB raw disk image booting vga_draw.S with `action`, written to a new temp file. */
export async function vgaDrawDisk(action: VgaDrawAction): Promise<string> {
  const code = await assembleBootSector("vga_draw");
  const image = new Uint8Array(DISK_BYTES);
  image.set(code);
  image[ACTION_OFFSET] = action.charCodeAt(0);
  const path = await Deno.makeTempFile({ prefix: `vmctl-vga-${action}-`, suffix: ".img" });
  await Deno.writeFile(path, image);
  return path;
}
