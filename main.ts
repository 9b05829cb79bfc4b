/**
 * vmctl: run x86 virtual machines on KVM. This file only parses the command line and hands
 * over to lib/; user errors become one line on stderr and exit code 1.
 * @module
 */
import { MAIN_HELP, parseCommandLine, runHelp } from "./lib/config.ts";
import { UserError } from "./lib/errors.ts";
import { EXIT, run } from "./lib/run.ts";

/** vmctl's version, printed by `vmctl --version`. */
export const VERSION = "0.1.0";

async function main(args: string[]): Promise<number> {
  const command = parseCommandLine(args);
  switch (command.kind) {
    case "help":
      console.log((command.topic === "run" ? runHelp() : MAIN_HELP).trimEnd());
      return 0;
    case "version":
      console.log(`vmctl ${VERSION}`);
      return 0;
    case "run":
      return await run(command.config);
  }
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    console.error(`vmctl: ${error.message}`);
    code = EXIT.error;
  }
  Deno.exit(code);
}
