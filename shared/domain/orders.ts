// Orders: a hold turns into an order once (order_id = hold_id); unpaid orders expire after the payment window.
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import { db, tableName } from '../db/client.ts';
import { deadlineIndex, orderKey } from '../db/keys.ts';
import { conditionFailedAt, withContentionRetry } from '../db/retry.ts';
import { HoldExpired, HoldNotFound, OrderNotFound, ServiceBusy } from '../errors.ts';
import { logger } from '../logger.ts';
import { consumeHoldUpdate } from './holds.ts';
import { returnUnits } from './products.ts';
import {
  getHold,
  getOrderSlot,
  type OrderItem,
  type OrderView,
  orderFromHold,
  orderView,
} from './records.ts';

export async function getOrder(orderId: string): Promise<OrderView> {
  const slot = await getOrderSlot(orderId);
  if (slot?.entity !== 'order') throw new OrderNotFound(orderId);
  return orderView(slot);
}

/**
 * Turns an active, unexpired hold into a pending order. Asking again for the same hold returns the same order
 * (`created: false`). A payment that arrived first is applied in the same transaction, so the answer already
 * shows `paid` or `cancelled`; a parked success also beats the hold's expiry.
 */
export async function createOrder(
  holdId: string,
  now: Date,
): Promise<{ created: boolean; order: OrderView }> {
  for (let round = 0; round < 5; round++) {
    const slot = await getOrderSlot(holdId);
    if (slot?.entity === 'order') return { created: false, order: orderView(slot) };
    const hold = await getHold(holdId);
    if (!hold) throw new HoldNotFound(holdId);
    const parked = slot?.entity === 'parked_payment' ? slot : undefined;
    const paidEarly = parked?.parked_status === 'success';
    if (hold.status !== 'active') {
      // `ordered` without an order item cannot happen (both commit together); re-read in case we raced its creation.
      if (hold.status === 'ordered') continue;
      throw new HoldExpired(holdId);
    }
    if (!paidEarly && hold.expires_at <= now.toISOString()) throw new HoldExpired(holdId);

    const status = parked ? (paidEarly ? 'paid' : 'cancelled') : 'pending';
    const order: OrderItem = orderFromHold(
      hold,
      status,
      now,
      config.PAYMENT_WINDOW_SECONDS,
      parked?.parked_key,
    );
    const orderIndex =
      status === 'pending' && order.payment_due_at
        ? deadlineIndex('ORDER', holdId, order.payment_due_at)
        : {};
    const putOrder = {
      Put: {
        TableName: tableName,
        Item: { ...orderKey(holdId), ...order, ...orderIndex },
        ...(parked
          ? {
              ConditionExpression: 'entity = :parked AND parked_key = :key',
              ExpressionAttributeValues: { ':parked': 'parked_payment', ':key': parked.parked_key },
            }
          : { ConditionExpression: 'attribute_not_exists(pk)' }),
      },
    };
    try {
      await withContentionRetry('create_order', () =>
        db.send(
          new TransactWriteCommand({
            TransactItems: [
              consumeHoldUpdate(holdId, now, !paidEarly),
              putOrder,
              ...(status === 'cancelled' ? [returnUnits(hold)] : []),
            ],
          }),
        ),
      );
    } catch (error) {
      // The hold or the order slot changed under us (expired, ordered, payment parked): decide again from fresh state.
      if (conditionFailedAt(error, 0) || conditionFailedAt(error, 1)) continue;
      throw error;
    }
    logger.info('order_created', {
      order_id: holdId,
      product_id: hold.product_id,
      qty: hold.qty,
      order_status: status,
      ...(parked ? { applied_parked_payment: parked.parked_key } : {}),
    });
    return { created: true, order: orderView(order) };
  }
  throw new ServiceBusy();
}

export interface OrderRef {
  order_id: string;
  product_id: string;
  qty: number;
  bucket: number;
}

/** Pending past its payment window: the order moves to `expired` and its stock returns, exactly once. */
export async function expireUnpaidOrder(order: OrderRef, now: Date): Promise<boolean> {
  const nowIso = now.toISOString();
  try {
    await withContentionRetry('expire_order', () =>
      db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: tableName,
                Key: orderKey(order.order_id),
                UpdateExpression: 'SET #status = :expired, updated_at = :now REMOVE gsi1pk, gsi1sk',
                ConditionExpression: '#status = :pending AND payment_due_at <= :now',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: { ':expired': 'expired', ':pending': 'pending', ':now': nowIso },
              },
            },
            returnUnits(order),
          ],
        }),
      ),
    );
  } catch (error) {
    if (conditionFailedAt(error, 0)) return false;
    throw error;
  }
  logger.info('order_expired', { order_id: order.order_id, product_id: order.product_id, qty: order.qty });
  return true;
}
