// Counting and aiming at individual DynamoDB calls, for the crash-after-k and lost-answer tests.

import { afterAll, afterEach, beforeAll, beforeEach, expect, vi } from 'vitest';
import { handler as sweepHandler } from '../../functions/expire-holds.ts';
import {
  ALL_FAULTS,
  crashAfterCalls,
  type FaultKind,
  type FaultPlan,
  setFaultPlan,
} from '../../infra/local/faults.ts';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { dynamo } from '../../shared/db/client.ts';
import { forgetViews } from '../../shared/stock/view.ts';
import type { SweepReport } from '../../shared/sweep/service.ts';
import { clearTable } from '../property/scenario.ts';
import { T0 } from '../support/fixtures.ts';
import { type Answer, lambdaContext } from '../support/lambda.ts';

/**
 * The product's ledger balances (`label` names the operation and crash point in a failure): every bucket, and every
 * customer counter against its buyer's active holds, pending and paid orders (a counter that drifted, went negative
 * or passed the limit is a violation too).
 */
export async function expectBalanced(product: string, label: string): Promise<void> {
  expect((await checkLedger(product)).violations, label).toEqual([]);
}

/**
 * Sends a retry; a crash that left an in-progress idempotency record gets 409 REQUEST_IN_PROGRESS until that record's
 * in-progress expiry (the Lambda's remaining time, 10 s here), so it is sent again once the clock is past it.
 */
export async function retryPastInProgress(
  send: () => Promise<Answer>,
  now: Date,
): Promise<{ first: Answer; final: Answer }> {
  vi.setSystemTime(now);
  const first = await send();
  if (first.body.error?.code !== 'REQUEST_IN_PROGRESS') return { first, final: first };
  expect(first.status).toBe(409);
  expect(first.headers['Retry-After']).toBe('1');
  vi.setSystemTime(new Date(now.getTime() + 11_000));
  return { first, final: await send() };
}

/** Runs the sweeper Lambda with the clock at `now`. */
export async function sweepNow(now: Date): Promise<SweepReport> {
  vi.setSystemTime(now);
  return (await sweepHandler({}, lambdaContext('expire-holds'))) as SweepReport;
}

let calls = 0;

/** The hooks of a crash-after-k suite: count calls for the whole file, fake only `Date`, an empty table per test. */
export function crashHooks(): void {
  let stopCounting: () => void;
  beforeAll(() => {
    stopCounting = countCalls();
  });
  afterAll(() => stopCounting());
  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    // The sweep walks the whole table: each crash point starts from an empty one.
    await clearTable();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

/** The hooks of a lost-answer suite: count calls for the whole file, fake only `Date`, faults off after each test. */
export function lostAnswerHooks(): void {
  let stopCounting: () => void;
  beforeAll(() => {
    stopCounting = countCalls();
  });
  afterAll(() => stopCounting());
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
  });
  afterEach(() => {
    setFaultPlan(undefined);
    vi.useRealTimers();
  });
}

/** Counts every command sent on the shared client (SDK retries not included) until the returned function removes it. */
export function countCalls(): () => void {
  dynamo.middlewareStack.add(
    (next) => async (args) => {
      calls++;
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  return () => {
    dynamo.middlewareStack.remove('countCalls');
  };
}

/** DynamoDB calls `act` makes on a fault-free run from an empty table after `arrange`: the points worth aiming at. */
export async function callsMadeBy<T>(
  arrange: () => Promise<T>,
  act: (arranged: T) => Promise<unknown>,
): Promise<number> {
  await clearTable();
  const arranged = await arrange();
  forgetViews();
  calls = 0;
  await act(arranged);
  return calls;
}

/**
 * `crashAfterCalls` from a cold process (no cached product view), the same start `callsMadeBy` measured from, so the
 * k-th call is the same call whether or not a second passed since the product was written.
 */
export function crashColdAfter<T>(k: number, operation: () => Promise<T>): Promise<T> {
  forgetViews();
  return crashAfterCalls(k, operation);
}

/**
 * A plan that faults exactly the given attempts (1-based, counting every attempt, SDK retries included) and lets all
 * others through. The injector draws once per attempt and, for a faulted one, once more to pick the kind.
 */
export function faultAttempts(faults: Record<number, FaultKind>): FaultPlan {
  let attempt = 0;
  let kindDraw: number | undefined;
  return {
    rate: 0.5,
    kinds: ALL_FAULTS,
    random: () => {
      if (kindDraw !== undefined) {
        const draw = kindDraw;
        kindDraw = undefined;
        return draw;
      }
      attempt++;
      const kind = faults[attempt];
      if (kind === undefined) return 0.999;
      kindDraw = (ALL_FAULTS.indexOf(kind) + 0.5) / ALL_FAULTS.length;
      return 0;
    },
  };
}

/**
 * The answer of attempt k is lost; in the second variant the SDK's two retries of it fail too (500s: the SDK backs
 * off 100 ms for those, 500 ms for throttling), so the domain's own retry has to find out what happened.
 */
export const VARIANTS = {
  'answer lost': (k: number) => faultAttempts({ [k]: 'timeout_after' }),
  'answer lost, SDK retries fail': (k: number) =>
    faultAttempts({ [k]: 'timeout_after', [k + 1]: 'server_error', [k + 2]: 'server_error' }),
};

/** The answer is one of `allowed`, or 503 with Retry-After (the caller cannot know whether it worked). */
export function expectDefinite(answer: Answer, allowed: string[], label: string): void {
  const seen = answer.body.error ? `${answer.status} ${answer.body.error.code}` : String(answer.status);
  expect([...allowed, '503 SERVICE_UNAVAILABLE'], `${label}: ${JSON.stringify(answer)}`).toContain(seen);
  if (answer.status === 503) expect(answer.headers['Retry-After'], label).toBeDefined();
}

/** Runs `act` once per (call, variant) from a fresh table and clock; `check` asserts on the answer and the recovery. */
export async function forEveryLostAnswer<T>(
  arrange: () => Promise<T>,
  act: (arranged: T) => Promise<Answer>,
  check: (arranged: T, answer: Answer, label: string) => Promise<void>,
): Promise<void> {
  const n = await callsMadeBy(arrange, act);
  expect(n).toBeGreaterThan(0);
  for (let k = 1; k <= n; k++) {
    for (const [variant, plan] of Object.entries(VARIANTS)) {
      await clearTable();
      vi.setSystemTime(T0);
      const arranged = await arrange();
      forgetViews();
      setFaultPlan(plan(k));
      const answer = await act(arranged).finally(() => setFaultPlan(undefined));
      await check(arranged, answer, `call ${k} of ${n}, ${variant}`);
    }
  }
}
