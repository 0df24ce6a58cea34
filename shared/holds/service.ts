// Holds: reserve units with one conditional transaction on a stock bucket, release them exactly once at expiry.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import { config } from '../config.ts';
import { COUNTER, type CustomerUnitsItem, countUnits, customerUnitsKey } from '../customers/items.ts';
import { getItem } from '../db/client.ts';
import {
  ConditionFailed,
  certainlyNotWritten,
  failedOn,
  isConflict,
  isRetryableDynamoError,
  transactOnce,
} from '../db/transact.ts';
import { budgetFits, budgetLeft } from '../deadline.ts';
import {
  AuthenticationRequired,
  CustomerLimitReached,
  InsufficientStock,
  ProductNotFound,
  ServiceBusy,
} from '../errors.ts';
import { logger } from '../logger.ts';
import { Metric } from '../metric-names.ts';
import { countMetric } from '../metrics.ts';
import type { holdView as HoldViewSchema } from '../schemas.ts';
import { bucketOfItemName, takeUnits } from '../stock/items.ts';
import { planDraws } from '../stock/rules.ts';
import {
  busyBuckets,
  coolingLeft,
  forgetView,
  levelsOf,
  noteContention,
  noteLevel,
  noteTaken,
  stockView,
  totalAvailable,
  whileInFlight,
  withBucketSlot,
} from '../stock/view.ts';
import { getHold, type HoldItem, putHold } from './items.ts';
import { reclaimForBuyers } from './reclaim.ts';

export function holdView(hold: HoldItem): HoldView {
  return {
    hold_id: hold.hold_id,
    product_id: hold.product_id,
    qty: hold.qty,
    status: hold.status,
    expires_at: hold.expires_at,
  };
}
/** The documented shape (shared/schemas.ts): the compiler keeps the answer and the OpenAPI document in step. */
export type HoldView = z.output<typeof HoldViewSchema>;

/**
 * How long a hold keeps retrying TransactionConflicts. A conflict is on one bucket and the next attempt picks
 * another, so conflicts are bounded by time, not by TRANSACTION_MAX_ATTEMPTS (which bounds throttling and internal errors).
 */
const CONFLICT_BUDGET_MS = 3_000;
/**
 * How long a hold queues in this process for a bucket slot (only the one-process local runtime ever queues). With
 * the conflict budget it stays well inside the 10 s function timeout, so no request is answered busy at its timeout
 * while its hold is still on the way.
 */
const SLOT_WAIT_MS = 4_000;

/** What one hold request has learned so far. */
interface Attempts {
  /** Attempts that met throttling, an internal error or a timeout (not conflicts). */
  transactions: number;
  /** performance.now() of the first transaction: conflicts are retried until CONFLICT_BUDGET_MS after it. */
  firstAt?: number;
  /** Conditions that failed on a bucket our view thought had stock (the view was stale). */
  shortfalls: number;
  /** An attempt's outcome is unknown (timeout, internal error): it may have committed our hold. */
  unknownOutcome: boolean;
  reclaimed: boolean;
}

/**
 * Reserves `qty` units. The per-process view (at most 1 s old) picks a bucket with stock at random; one transaction
 * takes the units there (condition `available >= qty`) and writes the hold. A short bucket tells us its level and
 * we try another; no bucket can serve the whole qty -> several buckets in one transaction. When the view says sold
 * out, expired-but-unswept holds are reclaimed once (one reclaimer per product) before refusing with InsufficientStock. Refusals send
 * no write to the stock buckets.
 *
 * An identified buyer (`customerId`, the `sub` of their token) also moves their counter for the product in the same
 * transaction; with the product's `max_per_customer`, its condition keeps them within the limit however many of
 * their requests race. A limited product refuses anonymous buyers.
 */
export async function createHold(
  productId: string,
  qty: number,
  now: Date,
  customerId?: string,
): Promise<HoldView> {
  const first = await stockView(productId);
  if (!first) throw new ProductNotFound(productId);
  const limit = first.product.max_per_customer;
  if (limit !== undefined) {
    if (!customerId) throw new AuthenticationRequired();
    // More than the limit in one hold can never pass: refuse without writing (and say what they have).
    if (qty > limit) throw new CustomerLimitReached(limit, await unitsOf(customerId, productId));
  }
  const hold: HoldItem = {
    entity: 'hold',
    hold_id: randomUUID(),
    product_id: productId,
    qty,
    draws: [],
    unit_price_minor: first.product.price_minor,
    currency: first.product.currency,
    ...(customerId ? { customer_id: customerId } : {}),
    status: 'active',
    created_at: now.toISOString(),
    expires_at: new Date(now.getTime() + config.HOLD_TTL_SECONDS * 1000).toISOString(),
  };
  const tries: Attempts = { transactions: 0, shortfalls: 0, unknownOutcome: false, reclaimed: false };
  for (;;) {
    const view = await stockView(productId);
    if (!view) throw new ProductNotFound(productId);
    if (!planDraws(levelsOf(view), qty, Math.random)) {
      const answer = await whenSoldOut(hold, now, tries);
      if (answer) return answer;
      continue;
    }
    // Never past the invocation's time budget: a buyer still queued then gets ServiceBusy before writing anything.
    const slotWaitMs = budgetLeft(SLOT_WAIT_MS);
    const slot = await withBucketSlot(productId, Math.max(1, view.buckets.size), slotWaitMs, () =>
      attemptsInSlot(hold, tries),
    );
    if (!slot) {
      logger.warn('contention_gave_up', {
        operation: 'create_hold',
        reason: 'no_bucket_slot',
        waited_ms: Math.round(slotWaitMs),
      });
      throw new ServiceBusy();
    }
    if (slot.result) return slot.result;
  }
}

/**
 * Tries while holding a slot: conflicts and stale views are retried here, so a buyer who met a conflict keeps its
 * place instead of queueing again. Undefined when the view says sold out (the caller reclaims or refuses).
 */
async function attemptsInSlot(hold: HoldItem, tries: Attempts): Promise<HoldView | undefined> {
  for (;;) {
    const view = await stockView(hold.product_id);
    const draws = view && planDraws(levelsOf(view), hold.qty, Math.random, busyBuckets(hold.product_id));
    if (!view || !draws) return undefined;
    const cool = coolingLeft(
      hold.product_id,
      draws.map((draw) => draw.bucket),
    );
    if (cool > 0) await sleep(Math.min(cool, budgetLeft()));
    const candidate: HoldItem = { ...hold, draws };
    // The limit the counter's condition checks is the one this attempt's view knows (at most 1 s old).
    const limit = view.product.max_per_customer;
    tries.firstAt ??= performance.now();
    try {
      await whileInFlight(hold.product_id, draws, () =>
        transactOnce('create_hold', {
          ...takeUnits(candidate),
          hold: putHold(candidate),
          ...countUnits(candidate, limit),
        }),
      );
    } catch (error) {
      const settled = await afterFailedAttempt(candidate, error, tries, view.buckets.size, limit);
      if (settled) return settled;
      continue;
    }
    noteTaken(candidate);
    noteContention(hold.product_id, bucketsOf(candidate), true);
    logger.info('hold_created', {
      hold_id: hold.hold_id,
      product_id: hold.product_id,
      qty: hold.qty,
      draws,
      expires_at: hold.expires_at,
    });
    return holdView(candidate);
  }
}

/** Decides what a failed attempt means: our hold exists after all, try again, or give up with ServiceBusy. */
async function afterFailedAttempt(
  attempt: HoldItem,
  error: unknown,
  tries: Attempts,
  buckets: number,
  limit: number | undefined,
): Promise<HoldView | undefined> {
  // The hold id is ours alone: if it exists, an earlier attempt whose answer was lost committed.
  if (failedOn(error, 'hold')) return ownHold(attempt.hold_id);
  // Only a limited product's counter has a condition.
  if (limit !== undefined && failedOn(error, COUNTER)) {
    // The buyer's own expired-but-unswept holds still count until released: expired stock must not turn them away,
    // so release the product's expired holds (once per request, as on a shortage) and try again if any came back.
    if (!tries.reclaimed) {
      tries.reclaimed = true;
      const reclaim = await reclaimForBuyers(attempt.product_id, new Date(attempt.created_at));
      if (reclaim.freed > 0 || reclaim.elsewhere || reclaim.unsure) {
        forgetView(attempt.product_id);
        return undefined;
      }
    }
    const used = Number(error.old[COUNTER]?.units ?? 0);
    logger.info('hold_rejected', {
      product_id: attempt.product_id,
      qty: attempt.qty,
      customer_id: attempt.customer_id,
      used,
      reason: 'customer_limit',
    });
    throw new CustomerLimitReached(limit, used);
  }
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
  const conflict = isConflict(error);
  if (conflict) {
    noteContention(attempt.product_id, bucketsOf(attempt), false);
    countMetric(Metric.ContentionRetries);
  } else tries.transactions++;
  if (!certainlyNotWritten(error)) {
    // A timeout or internal error may have landed: our hold is found by its id later, and the view is read afresh.
    tries.unknownOutcome = true;
    forgetView(attempt.product_id);
  }
  // A conflict cools its bucket and the next attempt picks another; throttling and internal errors back off as usual.
  const backoff = conflict ? 0 : Math.random() * Math.min(1000, 25 * 2 ** tries.transactions);
  // No time left in the invocation's budget for the backoff and one more attempt: give up now, not at the timeout.
  const outOfTime = !budgetFits(backoff);
  const exhausted =
    outOfTime ||
    (conflict
      ? performance.now() - (tries.firstAt ?? 0) > CONFLICT_BUDGET_MS
      : tries.transactions >= config.TRANSACTION_MAX_ATTEMPTS);
  if (exhausted) {
    if (tries.unknownOutcome && (await getHold(attempt.hold_id))) return ownHold(attempt.hold_id);
    logger.warn('contention_gave_up', {
      operation: 'create_hold',
      attempts: tries.transactions,
      waited_ms: Math.round(performance.now() - (tries.firstAt ?? 0)),
      error_name: (error as Error).name,
      ...(outOfTime ? { reason: 'out_of_time' } : {}),
    });
    throw new ServiceBusy();
  }
  if (backoff > 0) await sleep(backoff);
  return undefined;
}

const bucketsOf = (hold: HoldItem) => hold.draws.map((draw) => draw.bucket);

async function ownHold(holdId: string): Promise<HoldView> {
  const stored = await getHold(holdId);
  if (!stored) throw new Error(`hold ${holdId} reported existing but cannot be read`);
  // Which attempt landed, and whether the view has seen it, is unknown: read the stock afresh next time.
  forgetView(stored.product_id);
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
    if (reclaim.elsewhere || reclaim.unsure) forgetView(hold.product_id);
    if (reclaim.freed > 0 || reclaim.elsewhere || reclaim.unsure) return undefined;
  }
  const view = await stockView(hold.product_id);
  // Units came back after all (a release whose answer was lost still gave them back, or another process freed some):
  // try again with them. Each failed condition corrects the view, so this ends.
  if (view && planDraws(levelsOf(view), hold.qty, Math.random)) return undefined;
  const available = view ? totalAvailable(view) : 0;
  logger.info('hold_rejected', {
    product_id: hold.product_id,
    qty: hold.qty,
    available,
    reason: 'insufficient_stock',
  });
  throw new InsufficientStock(available);
}

/** The customer's units of this product right now (their counter; 0 when they have none). */
async function unitsOf(customerId: string, productId: string): Promise<number> {
  return (await getItem<CustomerUnitsItem>(customerUnitsKey(customerId, productId)))?.units ?? 0;
}
