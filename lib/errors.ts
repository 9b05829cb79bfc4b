/**
 * Errors the user can act on. main.ts prints their message as one line on stderr and exits 1;
 * anything else is a bug and keeps its stack trace.
 * @module
 */

/** A problem with the user's input or machine, phrased as "what is wrong: how to fix it". */
export class UserError extends Error {
  override name = "UserError";
}
