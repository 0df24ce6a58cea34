// The invocation's time budget: until when its code may start DynamoDB calls, retries and waits, so that the
// function still answers (ServiceBusy when out of time) and flushes before Lambda's timeout.
//
// Each invocation runs with its own deadline, found through AsyncLocalStorage like its logger (shared/logger.ts), so
// concurrent invocations in one process (the local runtime, the tests) keep their own. It is the Lambda context's
// remaining time less INVOCATION_RESERVE_MS, on the monotonic clock (a test that fakes `Date` cannot run it out).
// Outside an invocation (scripts, test set-up) there is no budget: every helper answers as if time were unlimited.
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { Context } from 'aws-lambda';
import { config } from './config.ts';

/** The least time worth giving a DynamoDB attempt: with less left, the attempt is not sent at all. */
export const MIN_ATTEMPT_MS = 200;

/** performance.now() at which the current invocation's budget ends. */
const deadlines = new AsyncLocalStorage<number>();

/**
 * Milliseconds left of the current invocation's budget (0 when spent), at most `capMs`; `capMs` (default: unlimited)
 * outside an invocation. Cap a wait with it: `withBucketSlot(..., budgetLeft(SLOT_WAIT_MS), ...)`.
 */
export function budgetLeft(capMs = Number.POSITIVE_INFINITY): number {
  const deadline = deadlines.getStore();
  if (deadline === undefined) return capMs;
  return Math.max(0, Math.min(capMs, deadline - performance.now()));
}

/** performance.now() by which a wait of at most `capMs` starting now must end: its cap or the budget's end. */
export const deadlineFor = (capMs: number): number => performance.now() + budgetLeft(capMs);

/** True when waiting `ms` (a backoff) still leaves the budget room for one more DynamoDB attempt. */
export const budgetFits = (ms: number): boolean => budgetLeft() >= ms + MIN_ATTEMPT_MS;

/** Runs `run` with a budget ending `ms` from now, or the enclosing one's end if that comes sooner. */
export function runWithBudget<T>(ms: number, run: () => T): T {
  const end = performance.now() + Math.max(0, ms);
  const outer = deadlines.getStore();
  return deadlines.run(outer === undefined ? end : Math.min(outer, end), run);
}

/**
 * The budget of an invocation: its remaining time less INVOCATION_RESERVE_MS. Undefined when the context has no
 * usable clock (a hand-made context in a test), and then the invocation runs without a budget.
 */
export function invocationBudgetMs(context: Pick<Context, 'getRemainingTimeInMillis'>): number | undefined {
  const remaining =
    typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : Number.NaN;
  if (!Number.isFinite(remaining) || remaining <= 0) return undefined;
  return Math.max(0, remaining - config.INVOCATION_RESERVE_MS);
}

/** Wraps a Lambda handler so each invocation runs within its budget (see `invocationBudgetMs`). */
export function withInvocationBudget<E, R>(
  handler: (event: E, context: Context) => Promise<R>,
): (event: E, context: Context) => Promise<R> {
  return (event, context) => {
    const ms = invocationBudgetMs(context);
    return ms === undefined ? handler(event, context) : runWithBudget(ms, () => handler(event, context));
  };
}

/**
 * A DynamoDB attempt the budget did not allow: refused before it was sent (`sent: false`: it certainly did not
 * write), or cut off at the budget's end while in flight (`sent: true`: a write may have landed). Never retried;
 * the request answers busy (ServiceBusy).
 */
export class BudgetSpent extends Error {
  constructor(
    readonly sent: boolean,
    options?: ErrorOptions,
  ) {
    super(
      sent
        ? "DynamoDB attempt cut off: the invocation's time budget ran out"
        : "DynamoDB attempt not sent: the invocation's time budget is spent",
      options,
    );
    this.name = 'BudgetSpent';
  }
}
