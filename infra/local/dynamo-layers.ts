// What the local runtime, the tests and the bench put on the process's DynamoDB client: fault injection (inert until
// armed). Never in a Lambda. The cloud's contention is an endpoint in front of DynamoDB Local instead, shared by
// every client (infra/local/contention.ts).
import { dynamo } from '#shared/db/client.ts';
import { installFaultInjection, parseFaultSpec, setFaultPlan } from './faults.ts';

let installed = false;

/** Installs fault injection on the process's one client, once. `FAULT_INJECTION=0.2[:kinds]` (with `FAULT_SEED`) arms it. */
export function installLocalLayers(env: NodeJS.ProcessEnv = process.env): void {
  if (installed) return;
  installed = true;
  installFaultInjection(dynamo);
  if (env.FAULT_INJECTION) {
    setFaultPlan(parseFaultSpec(env.FAULT_INJECTION, env.FAULT_SEED ? Number(env.FAULT_SEED) : undefined));
  }
}
