// Orders: a hold turns into an order once (order_id = hold_id); unpaid orders expire after the payment window.

import type { z } from 'zod';
import { config } from '../config.ts';
import { visibleTo } from '../customers/rules.ts';
import { getItem } from '../db/client.ts';
import { failedOn, transact } from '../db/transact.ts';
import { HoldExpired, HoldNotFound, OrderNotFound, ServiceBusy } from '../errors.ts';
import { consumeHold, getHold } from '../holds/items.ts';
import { logger } from '../logger.ts';
import { formatMinor } from '../money.ts';
import type { orderView as OrderViewSchema } from '../schemas.ts';
import { giveUnitsBack } from '../stock/give-back.ts';
import type { UnitsRef } from '../stock/items.ts';
import { movingUnits } from '../stock/view.ts';
import { expireOrder, type OrderItem, type OrderSlot, orderKey, putOrder } from './items.ts';
import { decideOrder, orderFromHold } from './rules.ts';

export const getOrderSlot = (orderId: string) => getItem<OrderSlot>(orderKey(orderId));

export function orderView(order: OrderItem): OrderView {
  return {
    order_id: order.order_id,
    hold_id: order.hold_id,
    product_id: order.product_id,
    qty: order.qty,
    total_price: formatMinor(order.total_minor),
    currency: order.currency,
    status: order.status,
    created_at: order.created_at,
    updated_at: order.updated_at,
    ...(order.status === 'pending' && order.payment_due_at ? { payment_due_at: order.payment_due_at } : {}),
  };
}
/** The documented shape (shared/schemas.ts): the compiler keeps the answer and the OpenAPI document in step. */
export type OrderView = z.output<typeof OrderViewSchema>;

/** An order, for its buyer: another customer gets OrderNotFound, exactly as for an order that does not exist. */
export async function getOrder(orderId: string, customerId?: string): Promise<OrderView> {
  const slot = await getOrderSlot(orderId);
  if (slot?.entity !== 'order' || !visibleTo(slot.customer_id, customerId)) throw new OrderNotFound(orderId);
  return orderView(slot);
}

/**
 * Turns an active, unexpired hold into a pending order. Asking again for the same hold returns the same order
 * (`created: false`). A payment that arrived first is applied in the same transaction, so the answer already
 * shows `paid` or `cancelled`; a parked success also beats the hold's expiry. Only the hold's buyer may order it:
 * anyone else gets HoldNotFound, as if the hold did not exist.
 */
export async function createOrder(
  holdId: string,
  now: Date,
  customerId?: string,
): Promise<{ created: boolean; order: OrderView }> {
  for (let round = 0; round < 5; round++) {
    const slot = await getOrderSlot(holdId);
    if (slot?.entity === 'order') {
      if (!visibleTo(slot.customer_id, customerId)) throw new HoldNotFound(holdId);
      return { created: false, order: orderView(slot) };
    }
    const hold = await getHold(holdId);
    if (!hold || !visibleTo(hold.customer_id, customerId)) throw new HoldNotFound(holdId);
    const parked = slot?.entity === 'parked_payment' ? slot : undefined;
    const decision = decideOrder(hold, parked, now);
    if (decision.kind === 'reread') continue;
    if (decision.kind === 'expired') throw new HoldExpired(holdId);
    const order = orderFromHold(
      hold,
      decision.status,
      now,
      config.PAYMENT_WINDOW_SECONDS,
      parked?.parked_key,
    );
    const cancelled = decision.status === 'cancelled';
    try {
      const write = () =>
        transact('create_order', {
          hold: consumeHold(holdId, now, decision.requireUnexpired),
          order: putOrder(order, parked),
          ...(cancelled ? giveUnitsBack(hold) : {}),
        });
      await (cancelled ? movingUnits(hold, 'return', write) : write());
    } catch (error) {
      // The hold or the order slot changed under us (expired, ordered, payment parked): decide again from fresh state.
      if (failedOn(error, 'hold') || failedOn(error, 'order')) continue;
      throw error;
    }
    logger.info('order_created', {
      order_id: holdId,
      product_id: hold.product_id,
      qty: hold.qty,
      order_status: decision.status,
      ...(parked ? { applied_parked_payment: parked.parked_key } : {}),
    });
    return { created: true, order: orderView(order) };
  }
  throw new ServiceBusy();
}

export type OrderRef = UnitsRef & { order_id: string; qty: number; customer_id?: string };

/** Pending past its payment window: the order moves to `expired` and its stock returns, exactly once. */
export async function expireUnpaidOrder(order: OrderRef, now: Date): Promise<boolean> {
  try {
    await movingUnits(order, 'return', () =>
      transact('expire_order', {
        order: expireOrder(order.order_id, now),
        ...giveUnitsBack(order),
      }),
    );
  } catch (error) {
    if (failedOn(error, 'order')) return false;
    throw error;
  }
  logger.info('order_expired', { order_id: order.order_id, product_id: order.product_id, qty: order.qty });
  return true;
}
