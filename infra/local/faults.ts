// Fault injection on the shared DynamoDB client, for tests and soak runs only: conflicts, throttling, 500s,
// timeouts (some after the write landed) and crashes after the k-th call. Lives with the local runtime and the tests,
// never in a Lambda bundle.
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type DynamoDBClient,
  InternalServerError,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';

export type FaultKind = 'conflict' | 'throttle' | 'server_error' | 'timeout_before' | 'timeout_after';
export const ALL_FAULTS: readonly FaultKind[] = [
  'conflict',
  'throttle',
  'server_error',
  'timeout_before',
  'timeout_after',
];

export interface FaultPlan {
  /** Probability (0..1) that a call gets a fault. */
  rate: number;
  kinds: readonly FaultKind[];
  /** Deterministic source of randomness (seeded in tests so a failure replays). */
  random: () => number;
}

/** Thrown instead of the (k+1)-th DynamoDB call of an operation run under `crashAfterCalls`: the Lambda "died". */
export class SimulatedCrash extends Error {
  constructor(calls: number) {
    super(`Simulated crash after ${calls} DynamoDB call(s)`);
    this.name = 'SimulatedCrash';
  }
}

const budget = new AsyncLocalStorage<{ remaining: number; calls: number }>();
let plan: FaultPlan | undefined;
export const injected: Record<FaultKind, number> = {
  conflict: 0,
  throttle: 0,
  server_error: 0,
  timeout_before: 0,
  timeout_after: 0,
};

/** Runs `operation` so that it may make only `calls` DynamoDB calls; the next one throws SimulatedCrash. */
export function crashAfterCalls<T>(calls: number, operation: () => Promise<T>): Promise<T> {
  return budget.run({ remaining: calls, calls: 0 }, operation);
}

export function setFaultPlan(next: FaultPlan | undefined): void {
  plan = next;
}

/** A small seeded PRNG (mulberry32) so fault sequences replay from a printed seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `FAULT_INJECTION=0.2` or `0.2:conflict,throttle` (rate, optional kinds); seed from FAULT_SEED. */
export function parseFaultSpec(spec: string, seed = Date.now()): FaultPlan {
  const [rateText = '0', kindsText] = spec.split(':');
  const kinds = kindsText ? (kindsText.split(',') as FaultKind[]) : ALL_FAULTS;
  return { rate: Number(rateText), kinds, random: seededRandom(seed) };
}

function timeoutError(): Error {
  const error = new Error('Simulated socket timeout');
  error.name = 'TimeoutError';
  return error;
}

function faultFor(kind: FaultKind, command: string, input: { TransactItems?: unknown[] }): Error {
  const $metadata = {};
  switch (kind) {
    case 'conflict':
      if (command === 'TransactWriteItemsCommand') {
        return new TransactionCanceledException({
          message: 'Transaction cancelled (simulated TransactionConflict)',
          $metadata,
          CancellationReasons: (input.TransactItems ?? []).map((_, i) => ({
            Code: i === 0 ? 'TransactionConflict' : 'None',
          })),
        });
      }
      return new ProvisionedThroughputExceededException({ message: 'Simulated throttling', $metadata });
    case 'throttle':
      return new ProvisionedThroughputExceededException({ message: 'Simulated throttling', $metadata });
    case 'server_error':
      return new InternalServerError({ message: 'Simulated internal server error', $metadata });
    default:
      return timeoutError();
  }
}

/**
 * Adds the injector below the SDK's retry middleware, so injected throttling and 500s are retried by the SDK the
 * way real ones are. `timeout_after` lets the call land and then loses the answer: the caller cannot know it worked.
 */
export function installFaultInjection(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const crash = budget.getStore();
      if (crash) {
        if (crash.remaining <= 0) throw new SimulatedCrash(crash.calls);
        crash.remaining--;
        crash.calls++;
      }
      const active = plan;
      if (!active || active.kinds.length === 0 || active.random() >= active.rate) return next(args);
      const kind = active.kinds[Math.floor(active.random() * active.kinds.length)] ?? 'throttle';
      injected[kind]++;
      if (kind === 'timeout_after') {
        await next(args);
        throw timeoutError();
      }
      throw faultFor(kind, context.commandName ?? '', args.input as { TransactItems?: unknown[] });
    },
    { step: 'finalizeRequest', priority: 'low', name: 'faultInjection' },
  );
}
