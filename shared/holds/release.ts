// Releasing a hold exactly once when it expires, and settling a payment that was parked on it.
import { config } from '../config.ts';
import { failedOn, transact } from '../db/transact.ts';
import { logger } from '../logger.ts';
import { orderSlotEmpty, type ParkedPaymentItem, putOrder } from '../orders/items.ts';
import { orderFromHold } from '../orders/rules.ts';
import { returnUnits } from '../stock/items.ts';
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
        ...returnUnits(hold),
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
          ...returnUnits(hold),
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

/** Units a release outcome gave back to the stock. */
export const unitsFreed = (outcome: ReleaseOutcome, qty: number) =>
  outcome === 'released' || outcome === 'cancelled_from_parked' ? qty : 0;
