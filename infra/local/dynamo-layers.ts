// What the local runtime, the tests and the bench put between the code and DynamoDB Local: fault injection (inert
// until armed) and, with CONTENTION_MODE, the cloud's transaction conflicts and partition limits. Never in a Lambda.
import { dynamo } from '#shared/db/client.ts';
import { type ContentionMode, installContentionMode, parseContentionSpec } from './contention.ts';
import { installFaultInjection, parseFaultSpec, setFaultPlan } from './faults.ts';

let installed: { contention?: ContentionMode } | undefined;

/**
 * Installs the layers on the process's one client, once. `FAULT_INJECTION=0.2[:kinds]` (with `FAULT_SEED`) arms
 * faults; `CONTENTION_MODE=on|scaled|occupancy=100,write=250,read=750` turns the contention mode on.
 */
export function installLocalLayers(env: NodeJS.ProcessEnv = process.env): { contention?: ContentionMode } {
  if (installed) return installed;
  installFaultInjection(dynamo);
  if (env.FAULT_INJECTION) {
    setFaultPlan(parseFaultSpec(env.FAULT_INJECTION, env.FAULT_SEED ? Number(env.FAULT_SEED) : undefined));
  }
  const params = parseContentionSpec(env.CONTENTION_MODE);
  installed = params ? { contention: installContentionMode(dynamo, params) } : {};
  return installed;
}
