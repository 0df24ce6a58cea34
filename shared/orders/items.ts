// Orders and parked payments (they share the order's key): the only place their keys and conditions are spelled.
import { tableName } from '../db/client.ts';
import type { Key } from '../db/keys.ts';
import type { PutWrite } from '../db/single-write.ts';
import { gcAfter, table } from '../db/table.ts';
import type { TransactItem } from '../db/transact.ts';
import type { Draw } from '../stock/items.ts';
import { deadlineIndex, leaveDeadlineIndex } from '../sweep/items.ts';

export type OrderStatus = 'pending' | 'paid' | 'cancelled' | 'expired' | 'refund_required';
export type PaymentOutcome = 'success' | 'failure';

export interface OrderItem {
  entity: 'order';
  order_id: string;
  hold_id: string;
  product_id: string;
  qty: number;
  draws: Draw[];
  unit_price_minor: number;
  total_minor: number;
  currency: string;
  /** The buyer whose hold this was; only they may read the order. Absent for an anonymous order. */
  customer_id?: string;
  status: OrderStatus;
  created_at: string;
  updated_at: string;
  payment_due_at?: string;
  /** Idempotency key of the webhook that moved the order out of pending/expired. */
  payment_key?: string;
}

/** True for an order (not a parked payment on its key) among items of any type (a scan). */
export const isOrderItem = (item: Record<string, unknown>): item is Record<string, unknown> & OrderItem =>
  item.entity === 'order';

/** A webhook that arrived before its order: waits on the order's key until the order is created or the hold expires. */
export interface ParkedPaymentItem {
  entity: 'parked_payment';
  order_id: string;
  parked_key: string;
  parked_status: PaymentOutcome;
  parked_at: string;
}

export type OrderSlot = OrderItem | ParkedPaymentItem;

/** An order shares its id with the hold it came from; a parked payment waits on the same key. */
export const orderKey = (orderId: string): Key => ({ pk: `ORDER#${orderId}`, sk: 'ORDER' });

/**
 * Puts a new order: into an empty slot, or over the payment parked there (only that exact one). A pending order
 * enters the deadline index so the sweeper expires it when the payment window closes.
 */
export function putOrder(order: OrderItem, parked?: ParkedPaymentItem): PutWrite {
  const onClock = order.status === 'pending' && order.payment_due_at;
  const put = {
    TableName: tableName,
    Item: {
      ...orderKey(order.order_id),
      ...order,
      ...(onClock ? deadlineIndex('ORDER', order.order_id, order.payment_due_at ?? '') : {}),
    },
    ...(parked
      ? {
          ConditionExpression: 'entity = :parked AND parked_key = :key',
          ExpressionAttributeValues: { ':parked': 'parked_payment', ':key': parked.parked_key },
        }
      : { ConditionExpression: 'attribute_not_exists(pk)' }),
  };
  return { Put: put };
}

/** Nothing waits on the order key; when something does (a parked payment), it comes back with the failure. */
export const orderSlotEmpty = (orderId: string): TransactItem => ({
  ConditionCheck: {
    TableName: tableName,
    Key: orderKey(orderId),
    ConditionExpression: 'attribute_not_exists(pk)',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  },
});

/** Pending past its payment window -> expired (the stock return rides in the same transaction). */
export const expireOrder = (orderId: string, now: Date): TransactItem => ({
  Update: {
    TableName: tableName,
    Key: orderKey(orderId),
    UpdateExpression: `SET #status = :expired, updated_at = :now REMOVE ${leaveDeadlineIndex}`,
    ConditionExpression: '#status = :pending AND payment_due_at <= :now',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: { ':expired': 'expired', ':pending': 'pending', ':now': now.toISOString() },
  },
});

/** A payment moves the order `from -> to`, recording its key; only if the order is still `from`. */
export function moveOrder(
  orderId: string,
  move: { from: OrderStatus; to: OrderStatus; paymentKey: string },
  now: Date,
) {
  return {
    TableName: tableName,
    Key: orderKey(orderId),
    UpdateExpression: `SET #status = :to, payment_key = :key, updated_at = :now${move.from === 'pending' ? ` REMOVE ${leaveDeadlineIndex}` : ''}`,
    ConditionExpression: '#status = :from',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: {
      ':to': move.to,
      ':from': move.from,
      ':key': move.paymentKey,
      ':now': now.toISOString(),
    },
  };
}

/** Parks a payment on the order's key; holds no stock, so TTL may collect it if its hold never shows up. */
export const parkPayment = (parked: ParkedPaymentItem, now: Date): TransactItem => ({
  Put: {
    TableName: tableName,
    Item: { ...orderKey(parked.order_id), ...parked, [table.ttlAttribute]: gcAfter(now) },
    ConditionExpression: 'attribute_not_exists(pk)',
  },
});
