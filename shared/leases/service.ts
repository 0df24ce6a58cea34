// Short leases: one holder at a time for work that must not overlap itself (a product's reclaim, the sweep).
// Names, key and conditions come from ./items.ts.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { getItem } from '../db/client.ts';
import { deleteOnce } from '../db/single-delete.ts';
import { writeOnce } from '../db/single-write.ts';
import {
  ConditionFailed,
  certainlyNotWritten,
  isRetryableDynamoError,
  isUnavailable,
  sdkAttempts,
} from '../db/transact.ts';
import { budgetLeft, deadlineFor } from '../deadline.ts';
import { giveLeaseUp, type LeaseItem, leaseIsFree, leaseKey, takeLease } from './items.ts';

/** Leases run on the wall clock, like the schedules they protect (a test that moves `Date` moves them too). */
const wallClockMs = () => Date.now();

export interface Lease {
  /** Gives the lease up (only if still ours); safe to call once the work is done or has failed. */
  release(): Promise<void>;
}

/**
 * Takes the lease `name` for `ms` if nobody holds it (or theirs ran out). Undefined when someone else holds it, or
 * when DynamoDB is too busy to say: then the caller behaves as if someone else did.
 */
export async function acquireLease(name: string, ms: number): Promise<Lease | undefined> {
  const holder = randomUUID();
  const now = wallClockMs();
  try {
    await writeOnce('take_lease', takeLease(name, holder, now, now + ms));
  } catch (error) {
    const refused = error instanceof ConditionFailed;
    // Someone's lease refused the first attempt: certainly theirs.
    if (refused && sdkAttempts(error) <= 1) return undefined;
    // DynamoDB unreachable or the time budget spent: the caller answers busy.
    if (!refused && !isRetryableDynamoError(error)) throw error;
    if (certainlyNotWritten(error)) return undefined;
    // An answer was lost: the write may have landed, and then the lease is ours (a refusal after an SDK retry may be
    // our own lease refusing the retry). Read it back. If even that fails, act as the holder: the work a lease guards
    // is made of conditional writes, so an overlap costs conflicts, while a lease of ours taken for someone else's
    // would keep everyone waiting until it ran out.
    const current = await getItem<LeaseItem>(leaseKey(name)).then(
      (item) => item?.holder,
      () => holder,
    );
    if (current !== holder) return undefined;
  }
  return {
    async release() {
      try {
        await deleteOnce('give_lease_up', giveLeaseUp(name, holder));
      } catch (error) {
        // Lost it already (ran out and retaken), or DynamoDB is busy, unreachable or out of the invocation's time:
        // it runs out on its own.
        if (!(error instanceof ConditionFailed) && !isRetryableDynamoError(error) && !isUnavailable(error))
          throw error;
      }
    },
  };
}

/**
 * Waits (polling every 100 ms, at most `maxWaitMs` and never past the invocation's budget) until nobody holds the
 * lease `name`.
 */
export async function waitForLease(name: string, maxWaitMs: number): Promise<void> {
  const until = wallClockMs() + maxWaitMs;
  const budgetEnds = deadlineFor(maxWaitMs);
  while (wallClockMs() < until && performance.now() < budgetEnds) {
    if (leaseIsFree(await getItem<LeaseItem>(leaseKey(name)), wallClockMs())) return;
    await sleep(Math.min(100, budgetLeft()));
  }
}
