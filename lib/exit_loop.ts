/**
 * The vCPU exit loop: one loop per vCPU, each on its own thread inside KVM_RUN. Port and MMIO
 * exits are served natively; what reaches this loop is a decision: power off, reset, failure,
 * the guest's exit status, or a kick because the host wants the VM stopped.
 * @module
 */
import type { Machine } from "./machine.ts";
import { nativeErrorMessage, VcpuExit } from "./native.ts";
import type { AutomationOutcome } from "./automation.ts";

/** Why the host asked the VM to stop. */
export type StopRequest =
  | { kind: "timeout"; seconds: number }
  | { kind: "signal"; signal: "SIGINT" | "SIGTERM" }
  | { kind: "quit"; via: "console" | "monitor" }
  | { kind: "automation"; outcome: AutomationOutcome };

/** How one boot of the machine ended. */
export type MachineExit =
  | { kind: "power_off" }
  | { kind: "reset" }
  | { kind: "failed"; message: string }
  | { kind: "guest_exit"; value: number }
  | { kind: "stopped"; request: StopRequest };

/** Host-side stop requests, the first of which wins, and pausing: each kicks every vCPU of the
 * running machine. A paused machine's vCPUs wait outside KVM_RUN until `resume` or `stop`. */
export class StopSwitch {
  request: StopRequest | undefined;
  machine: Machine | undefined;
  #paused: { promise: Promise<void>; resolve: () => void } | undefined;

  stop(request: StopRequest): void {
    this.request ??= request;
    this.resume();
    if (this.machine) kickAll(this.machine);
  }

  pause(): void {
    if (this.#paused !== undefined || this.request !== undefined) return;
    let resolve!: () => void;
    const promise = new Promise<void>((done) => resolve = done);
    this.#paused = { promise, resolve };
    if (this.machine) kickAll(this.machine);
  }

  resume(): void {
    this.#paused?.resolve();
    this.#paused = undefined;
  }

  get paused(): boolean {
    return this.#paused !== undefined;
  }

  /** Resolves once the machine may run again. */
  whilePaused(): Promise<void> {
    return this.#paused?.promise ?? Promise.resolve();
  }
}

function kickAll(machine: Machine): void {
  for (let vcpu = 0; vcpu < machine.cpus; vcpu++) machine.kick(vcpu);
}

/** Runs every vCPU until the machine powers off, resets, fails or is stopped. */
export async function runUntilExit(machine: Machine, stop: StopSwitch): Promise<MachineExit> {
  let decided: MachineExit | undefined;
  const decide = (exit: MachineExit) => {
    if (decided) return;
    decided = exit;
    kickAll(machine);
  };
  const loop = async (vcpu: number) => {
    while (decided === undefined && stop.request === undefined) {
      const exit = await machine.native.vmctl_vcpu_run(machine.handle, vcpu);
      switch (exit) {
        case VcpuExit.Interrupted:
          // A pause waits here; then the loop condition decides whether the kick ends the run.
          await stop.whilePaused();
          break;
        case VcpuExit.PowerOff:
          decide({ kind: "power_off" });
          break;
        case VcpuExit.Reset:
          decide({ kind: "reset" });
          break;
        case VcpuExit.GuestExit:
          decide({ kind: "guest_exit", value: machine.guestExitValue() ?? 0 });
          break;
        default:
          decide({ kind: "failed", message: nativeErrorMessage(machine.native) });
      }
    }
  };
  const loops = [];
  for (let vcpu = 0; vcpu < machine.cpus; vcpu++) loops.push(loop(vcpu));
  await Promise.all(loops);
  return decided ?? { kind: "stopped", request: stop.request! };
}
