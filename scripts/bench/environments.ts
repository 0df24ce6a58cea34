// The Lambda model for the bench: create-hold, get-product and the raw floors each in their own execution
// environments (infra/local/environments.ts), one invocation per environment at a time, sharing nothing but the
// contention endpoint and DynamoDB Local behind it.
import { randomUUID } from 'node:crypto';
import {
  type FunctionDefinition,
  type Invocation,
  type Runtime,
  startRuntime,
} from '../../infra/local/environments.ts';
import { routes } from '../../infra/routes.ts';
import { type Answer, apiEvent, type Caller, createProduct, holdRequest, productRequest } from './app.ts';
import type { RawOutcome } from './raw.ts';
import type { RawEvent } from './raw-function.ts';

const RAW_FUNCTION: FunctionDefinition = { id: 'bench-raw', entry: 'scripts/bench/raw-function.ts' };
const functionOf = (id: string): FunctionDefinition => {
  const route = routes.find((candidate) => candidate.id === id);
  if (!route) throw new Error(`No route ${id}`);
  return route;
};

/** What API Gateway answers for an invocation that did not return: throttled 503 (our cap), error and timeout 5xx. */
function answerOf(invocation: Invocation): Answer {
  switch (invocation.outcome) {
    case 'success': {
      const result = invocation.result as { statusCode?: number; body?: string } | undefined;
      return { status: result?.statusCode ?? 200, body: result?.body ?? '' };
    }
    case 'throttled':
      return { status: 503, body: 'throttled' };
    case 'timed-out':
      return { status: 504, body: 'timed out' };
    case 'error':
      return { status: 500, body: invocation.error.message };
  }
}

function rawOf(invocation: Invocation): RawOutcome | RawOutcome[] {
  if (invocation.outcome === 'success') return invocation.result as RawOutcome | RawOutcome[];
  return invocation.outcome === 'error' ? `${invocation.error.name} (invocation)` : invocation.outcome;
}

export interface Environments {
  caller: Caller;
  runtime: Runtime;
  close(): Promise<void>;
}

/**
 * Starts environments for create-hold and the raw floor (`environments`, at least `calm`) and get-product (`calm`),
 * their caps like reserved concurrency, each started before anything is measured (no cold start in the figures).
 * The environments get the cloud's DynamoDB timeouts (2 s connect, 5 s request), not this process's raised ones.
 */
export async function startEnvironments(
  environments: number,
  calm: number,
  tag: string,
): Promise<Environments> {
  const env = { ...process.env };
  delete env.DYNAMODB_CONNECT_TIMEOUT_MS;
  delete env.DYNAMODB_REQUEST_TIMEOUT_MS;
  const runtime = await startRuntime({
    functions: [functionOf('create-hold'), functionOf('get-product'), RAW_FUNCTION],
    env,
    // At most `environments` are busy in a contended window, `calm` in an uncontended one.
    caps: {
      'create-hold': Math.max(environments, calm),
      'get-product': calm,
      'bench-raw': Math.max(environments, calm),
    },
  });
  const invokeRaw = async (event: RawEvent) => rawOf(await runtime.invoke(RAW_FUNCTION.id, event));
  const caller: Caller = {
    label: 'Lambda model',
    concurrent: (n) => `${n} environments, one buyer each`,
    postHold: async (productId, customer) =>
      answerOf(await runtime.invoke('create-hold', apiEvent(holdRequest(productId), customer))),
    getProduct: async (productId) =>
      answerOf(await runtime.invoke('get-product', apiEvent(productRequest(productId)))),
    rawTake: async (productId) => [await invokeRaw({ op: 'take', productId })].flat()[0] ?? 'no outcome',
    rawHold: async (productId, customer) => [await invokeRaw({ op: 'hold', productId, customer })].flat(),
    rawGet: async (productId) => [await invokeRaw({ op: 'get', productId })].flat()[0] ?? 'no outcome',
  };
  await warmUp(caller, environments, calm, `${tag}-warm-up`);
  return { caller, runtime, close: () => runtime.close() };
}

/** Every environment started once (cold starts), on a product of its own, with the contention mode off. */
async function warmUp(caller: Caller, environments: number, calm: number, productId: string): Promise<void> {
  await createProduct(productId, 1_000_000);
  const times = (count: number, call: () => Promise<unknown>) =>
    Promise.all(Array.from({ length: count }, call));
  await times(Math.max(environments, calm), () => caller.postHold(productId, `warm-up-${randomUUID()}`));
  await times(calm, () => caller.getProduct(productId));
  await times(Math.max(environments, calm), () => caller.rawGet(productId));
}
