/**
 * The vCPU exit loop: one loop per vCPU, each on its own thread inside KVM_RUN. Port and MMIO
 * exits are served natively; what reaches this loop is a decision: power off, reset, failure,
 * or a kick because the host wants the VM stopped.
 * @module
 */
import type { Machine } from "./machine.ts";
import { nativeErrorMessage, VcpuExit } from "./native.ts";

/** Why the host asked the VM to stop. */
export type StopRequest =
  | { kind: "timeout"; seconds: number }
  | { kind: "signal"; signal: "SIGINT" | "SIGTERM" }
  | { kind: "quit" };

/** How one boot of the machine ended. */
export type MachineExit =
  | { kind: "power_off" }
  | { kind: "reset" }
  | { kind: "failed"; message: string }
  | { kind: "stopped"; request: StopRequest };

/** Host-side stop requests; the first one wins and kicks every vCPU of the running machine. */
export class StopSwitch {
  request: StopRequest | undefined;
  machine: Machine | undefined;

  stop(request: StopRequest): void {
    this.request ??= request;
    if (this.machine) kickAll(this.machine);
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
          break; // The loop condition decides whether this kick ends the run.
        case VcpuExit.PowerOff:
          decide({ kind: "power_off" });
          break;
        case VcpuExit.Reset:
          decide({ kind: "reset" });
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
