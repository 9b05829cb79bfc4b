/**
 * Running the vmctl CLI from tests: as a child process, exactly as a user would.
 * @module
 */

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** What a finished vmctl run left behind. */
export interface VmctlResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** Runs `vmctl ARGS`, killing it after `limitMs` (a hung vmctl fails the test, not the suite). */
export async function runVmctl(
  args: string[],
  options: {
    stdin?: string;
    limitMs?: number;
    env?: Record<string, string>;
    /** A command prefix, e.g. to run vmctl with fewer privileges. */
    wrapper?: string[];
    /** Sends SIGTERM to vmctl once its stdout so far satisfies this. */
    terminateWhen?: (stdout: string) => boolean;
  } = {},
): Promise<VmctlResult> {
  const started = performance.now();
  const argv = [...(options.wrapper ?? []), Deno.execPath(), "run", "-A", MAIN, ...args];
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), options.limitMs ?? 120_000);
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const stderr = new Response(child.stderr).text();
  const decoder = new TextDecoder();
  let stdout = "";
  let terminated = false;
  for await (const chunk of child.stdout) {
    stdout += decoder.decode(chunk, { stream: true });
    if (!terminated && options.terminateWhen?.(stdout)) {
      terminated = true;
      child.kill("SIGTERM");
    }
  }
  const status = await child.status;
  clearTimeout(killer);
  return {
    code: status.code,
    signal: status.signal,
    stdout,
    stderr: await stderr,
    elapsedMs: performance.now() - started,
  };
}

/** Counts the non-overlapping occurrences of `needle` in `text`. */
export function countOccurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Fails with the run's output attached, so a failing test shows what vmctl said. */
export function describe(result: VmctlResult): string {
  return `exit ${result.code} (signal ${result.signal}) after ${result.elapsedMs.toFixed(0)} ms\n` +
    `--- stderr ---\n${result.stderr}\n--- stdout (last 2000 chars) ---\n${
      result.stdout.slice(-2000)
    }`;
}
