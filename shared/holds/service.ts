// Holds: reserve units with one conditional transaction on a stock bucket, release them exactly once at expiry.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { config } from '../config.ts';
import {
  ConditionFailed,
  failedOn,
  isConflict,
  isRetryableDynamoError,
  transactOnce,
} from '../db/transact.ts';
import { InsufficientStock, ProductNotFound, ServiceBusy } from '../errors.ts';
import { logger } from '../logger.ts';
import { bucketOfItemName, takeUnits } from '../stock/items.ts';
import { planDraws } from '../stock/rules.ts';
import {
  busyBuckets,
  forgetView,
  levelsOf,
  noteLevel,
  noteTaken,
  stockView,
  totalAvailable,
  whileInFlight,
} from '../stock/view.ts';
import { getHold, type HoldItem, putHold } from './items.ts';
import { reclaimForBuyers } from './reclaim.ts';

export function holdView(hold: HoldItem) {
  return {
    hold_id: hold.hold_id,
    product_id: hold.product_id,
    qty: hold.qty,
    status: hold.status,
    expires_at: hold.expires_at,
  };
}
export type HoldView = ReturnType<typeof holdView>;

/** How long a hold waits in this process for a bucket another of its requests is writing, before trying anyway. */
const MAX_LOCAL_WAIT_MS = 2_000;

/** What one hold request has learned so far. */
interface Attempts {
  transactions: number;
  /** Conditions that failed on a bucket our view thought had stock (the view was stale). */
  shortfalls: number;
  waitedMs: number;
  /** An attempt's outcome is unknown (timeout, 5xx): it may have committed our hold. */
  unknownOutcome: boolean;
  reclaimed: boolean;
}

/**
 * Reserves `qty` units. The per-process view (at most 1 s old) picks a bucket with stock at random; one transaction
 * takes the units there (condition `available >= qty`) and writes the hold. A short bucket tells us its level and
 * we try another; no bucket can serve the whole qty -> several buckets in one transaction. When the view says sold
 * out, expired-but-unswept holds are reclaimed once (one reclaimer per product) before answering 409. Refusals send
 * no write to the stock buckets.
 */
export async function createHold(productId: string, qty: number, now: Date): Promise<HoldView> {
  const first = await stockView(productId);
  if (!first) throw new ProductNotFound(productId);
  const hold: HoldItem = {
    entity: 'hold',
    hold_id: randomUUID(),
    product_id: productId,
    qty,
    draws: [],
    unit_price_minor: first.product.price_minor,
    currency: first.product.currency,
    status: 'active',
    created_at: now.toISOString(),
    expires_at: new Date(now.getTime() + config.HOLD_TTL_SECONDS * 1000).toISOString(),
  };
  const tries: Attempts = {
    transactions: 0,
    shortfalls: 0,
    waitedMs: 0,
    unknownOutcome: false,
    reclaimed: false,
  };
  for (;;) {
    const view = (await stockView(productId)) ?? first;
    const busy = busyBuckets(productId);
    const draws = planDraws(levelsOf(view), qty, Math.random, busy);
    if (!draws) {
      const answer = await whenSoldOut(hold, now, tries);
      if (answer) return answer;
      continue;
    }
    // Every bucket that could serve us is being written by another request of this process: a second transaction
    // there would only conflict, so wait our turn (bounded) instead.
    if (draws.some((draw) => busy.has(draw.bucket)) && tries.waitedMs < MAX_LOCAL_WAIT_MS) {
      const pause = 2 + Math.random() * 8;
      tries.waitedMs += pause;
      await sleep(pause);
      continue;
    }
    const attempt: HoldItem = { ...hold, draws };
    try {
      tries.transactions++;
      await whileInFlight(productId, draws, () =>
        transactOnce('create_hold', { ...takeUnits(attempt), hold: putHold(attempt) }),
      );
      noteTaken(attempt);
      logger.info('hold_created', {
        hold_id: hold.hold_id,
        product_id: productId,
        qty,
        draws,
        expires_at: hold.expires_at,
      });
      return holdView(attempt);
    } catch (error) {
      const settled = await afterFailedAttempt(attempt, error, tries, view.buckets.size);
      if (settled) return settled;
    }
  }
}

/** Decides what a failed attempt means: our hold exists after all, try again, or give up with 503. */
async function afterFailedAttempt(
  attempt: HoldItem,
  error: unknown,
  tries: Attempts,
  buckets: number,
): Promise<HoldView | undefined> {
  // The hold id is ours alone: if it exists, an earlier attempt whose answer was lost committed.
  if (failedOn(error, 'hold')) return ownHold(attempt.hold_id);
  if (error instanceof ConditionFailed) {
    for (const name of error.failed) {
      const bucket = bucketOfItemName(name);
      if (bucket !== undefined)
        noteLevel(attempt.product_id, bucket, Number(error.old[name]?.available ?? 0));
    }
    // A view that keeps being wrong is re-read rather than trusted again.
    if (++tries.shortfalls > buckets + 1) forgetView(attempt.product_id);
    return undefined;
  }
  if (!isRetryableDynamoError(error)) {
    forgetView(attempt.product_id);
    throw error;
  }
  if (!isConflict(error)) {
    // It may have landed: our hold is found by its id later, and the view is read afresh.
    tries.unknownOutcome = true;
    forgetView(attempt.product_id);
  }
  if (tries.transactions >= config.TRANSACTION_MAX_ATTEMPTS) {
    if (tries.unknownOutcome && (await getHold(attempt.hold_id))) return ownHold(attempt.hold_id);
    logger.warn('contention_gave_up', {
      operation: 'create_hold',
      attempts: tries.transactions,
      error_name: (error as Error).name,
    });
    throw new ServiceBusy();
  }
  // A conflict is on one bucket; the next attempt likely picks another, so back off only briefly.
  await sleep(Math.random() * Math.min(500, 10 * 2 ** tries.transactions));
  return undefined;
}

async function ownHold(holdId: string): Promise<HoldView> {
  const stored = await getHold(holdId);
  if (!stored) throw new Error(`hold ${holdId} reported existing but cannot be read`);
  noteTaken(stored);
  logger.info('hold_created', {
    hold_id: holdId,
    product_id: stored.product_id,
    qty: stored.qty,
    draws: stored.draws,
    expires_at: stored.expires_at,
  });
  return holdView(stored);
}

/** The view says too few units: maybe our own lost answer took them, maybe expired holds can give some back. */
async function whenSoldOut(hold: HoldItem, now: Date, tries: Attempts): Promise<HoldView | undefined> {
  if (tries.unknownOutcome && (await getHold(hold.hold_id))) return ownHold(hold.hold_id);
  if (!tries.reclaimed) {
    tries.reclaimed = true;
    const reclaim = await reclaimForBuyers(hold.product_id, now);
    if (reclaim.elsewhere) forgetView(hold.product_id);
    if (reclaim.freed > 0 || reclaim.elsewhere) return undefined;
  }
  const view = await stockView(hold.product_id);
  const available = view ? totalAvailable(view) : 0;
  logger.info('hold_rejected', {
    product_id: hold.product_id,
    qty: hold.qty,
    available,
    reason: 'insufficient_stock',
  });
  throw new InsufficientStock(available);
}
