// Releasing a hold exactly once when it expires, and settling a payment that was parked on it.
import { config } from '../config.ts';
import { ConditionFailed, failedOn, transact } from '../db/transact.ts';
import { logger } from '../logger.ts';
import { orderSlotEmpty, type ParkedPaymentItem, putOrder } from '../orders/items.ts';
import { orderFromHold } from '../orders/rules.ts';
import { giveUnitsBack, giveUnitsBackOfMany, pooledUnits } from '../stock/give-back.ts';
import { movingUnits } from '../stock/view.ts';
import { consumeHold, getHold, type HoldRef, releaseHold } from './items.ts';

export type ReleaseOutcome = 'released' | 'already_settled' | 'paid_from_parked' | 'cancelled_from_parked';

/**
 * Releases an expired hold exactly once: the status flip `active -> released` and the stock return commit together,
 * so overlapping sweeps, reclaims and orders cannot double-release. A payment parked on the hold's order key wins:
 * success turns the hold into a paid order, failure releases it and records the cancelled order.
 */
export async function releaseExpiredHold(hold: HoldRef, now: Date): Promise<ReleaseOutcome> {
  try {
    await movingUnits(hold, 'return', () =>
      transact('release_hold', {
        hold: releaseHold(hold.hold_id, now),
        ...giveUnitsBack(hold),
        orderSlot: orderSlotEmpty(hold.hold_id),
      }),
    );
  } catch (error) {
    if (failedOn(error, 'hold')) return 'already_settled';
    const parked = failedOn(error, 'orderSlot')
      ? (error.old.orderSlot as ParkedPaymentItem | undefined)
      : undefined;
    if (parked?.entity !== 'parked_payment') throw error;
    return settleParkedPayment(hold, parked, now);
  }
  logger.info('hold_expired', { hold_id: hold.hold_id, product_id: hold.product_id, qty: hold.qty });
  return 'released';
}

async function settleParkedPayment(
  ref: HoldRef,
  parked: ParkedPaymentItem,
  now: Date,
): Promise<ReleaseOutcome> {
  const hold = await getHold(ref.hold_id);
  if (hold?.status !== 'active') return 'already_settled';
  const success = parked.parked_status === 'success';
  const order = orderFromHold(
    hold,
    success ? 'paid' : 'cancelled',
    now,
    config.PAYMENT_WINDOW_SECONDS,
    parked.parked_key,
  );
  try {
    if (success) {
      await transact('settle_parked_payment', {
        hold: consumeHold(hold.hold_id, now, false),
        order: putOrder(order, parked),
      });
    } else {
      await movingUnits(hold, 'return', () =>
        transact('settle_parked_payment', {
          hold: releaseHold(hold.hold_id, now),
          ...giveUnitsBack(hold),
          order: putOrder(order, parked),
        }),
      );
    }
  } catch (error) {
    if (failedOn(error, 'hold')) return 'already_settled';
    throw error;
  }
  logger.info(success ? 'payment_applied' : 'hold_expired', {
    hold_id: hold.hold_id,
    order_id: order.order_id,
    product_id: hold.product_id,
    qty: hold.qty,
    order_status: order.status,
    reason: 'parked_payment_settled_at_expiry',
  });
  return success ? 'paid_from_parked' : 'cancelled_from_parked';
}

/** True when the release gave the hold's units back to the stock (a parked success kept them, as a paid order). */
export const gaveUnitsBack = (outcome: ReleaseOutcome) =>
  outcome === 'released' || outcome === 'cancelled_from_parked';

/** Items one transaction may carry (TransactWriteItems' limit). */
const TRANSACTION_ITEMS = 100;
/**
 * Holds per batch transaction: two items each (the hold, its order slot), the one bucket, and one counter per
 * identified customer in the batch. Anonymous holds fit 45; holds of 45 different customers fit 33 (3 x 33 + 1).
 */
export const RELEASE_BATCH = 45;

/**
 * Groups expired holds for release: the holds that drew from one bucket of one product go together (released in
 * batches, one after another, so a release pass never conflicts with itself on a bucket); a hold that spans buckets
 * is a group of its own.
 */
export function releaseGroups(holds: readonly HoldRef[]): HoldRef[][] {
  const byBucket = new Map<string, HoldRef[]>();
  const singles: HoldRef[][] = [];
  for (const hold of holds) {
    const [only, ...more] = hold.draws;
    if (!only || more.length > 0) {
      singles.push([hold]);
      continue;
    }
    const key = `${hold.product_id}#${only.bucket}`;
    byBucket.set(key, [...(byBucket.get(key) ?? []), hold]);
  }
  return [...byBucket.values(), ...singles];
}

/** Releases a group from `releaseGroups`, RELEASE_BATCH holds per transaction, one transaction after another. */
export async function releaseExpiredGroup(group: readonly HoldRef[], now: Date): Promise<ReleaseOutcome[]> {
  const outcomes: ReleaseOutcome[] = [];
  for (const batch of releaseBatches(group)) outcomes.push(...(await releaseBatch(batch, now)));
  return outcomes;
}

/** Splits holds into transactions of at most RELEASE_BATCH holds and TRANSACTION_ITEMS items. */
export function releaseBatches(group: readonly HoldRef[]): HoldRef[][] {
  const batches: HoldRef[][] = [];
  let batch: HoldRef[] = [];
  let customers = new Set<string>();
  for (const hold of group) {
    const more = hold.customer_id && !customers.has(hold.customer_id) ? 1 : 0;
    if (
      batch.length === RELEASE_BATCH ||
      2 * (batch.length + 1) + 1 + customers.size + more > TRANSACTION_ITEMS
    ) {
      batches.push(batch);
      batch = [];
      customers = new Set();
    }
    batch.push(hold);
    if (hold.customer_id) customers.add(hold.customer_id);
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/**
 * One transaction for holds of one bucket: every hold flips `active -> released` (each conditioned on being active
 * and expired, with an empty order slot) and the bucket gets their units back in one update. If any condition fails
 * (settled meanwhile, a payment parked), each hold is released on its own, which sorts them out.
 */
async function releaseBatch(batch: readonly HoldRef[], now: Date): Promise<ReleaseOutcome[]> {
  const [first, ...rest] = batch;
  const bucket = first?.draws[0]?.bucket;
  if (!first || rest.length === 0 || bucket === undefined) {
    return Promise.all(batch.map((hold) => releaseExpiredHold(hold, now)));
  }
  const items = Object.fromEntries(
    batch.flatMap((hold) => [
      [`hold:${hold.hold_id}`, releaseHold(hold.hold_id, now)],
      [`slot:${hold.hold_id}`, orderSlotEmpty(hold.hold_id)],
    ]),
  );
  try {
    await movingUnits(pooledUnits(batch), 'return', () =>
      transact('release_holds', { ...items, ...giveUnitsBackOfMany(batch) }),
    );
  } catch (error) {
    if (!(error instanceof ConditionFailed)) throw error;
    const outcomes: ReleaseOutcome[] = [];
    for (const hold of batch) outcomes.push(await releaseExpiredHold(hold, now));
    return outcomes;
  }
  for (const hold of batch) {
    logger.info('hold_expired', { hold_id: hold.hold_id, product_id: hold.product_id, qty: hold.qty });
  }
  return batch.map(() => 'released');
}
