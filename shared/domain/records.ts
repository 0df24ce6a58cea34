// Item shapes stored in the table, their API views, and consistent reads of them.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '../db/client.ts';
import { holdKey, type Key, orderKey } from '../db/keys.ts';
import { formatMinor } from '../money.ts';

export type HoldStatus = 'active' | 'ordered' | 'released';
export type OrderStatus = 'pending' | 'paid' | 'cancelled' | 'expired' | 'refund_required';
export type PaymentOutcome = 'success' | 'failure';

export interface HoldItem {
  entity: 'hold';
  hold_id: string;
  product_id: string;
  qty: number;
  bucket: number;
  unit_price_minor: number;
  currency: string;
  status: HoldStatus;
  created_at: string;
  expires_at: string;
}

export interface OrderItem {
  entity: 'order';
  order_id: string;
  hold_id: string;
  product_id: string;
  qty: number;
  bucket: number;
  unit_price_minor: number;
  total_minor: number;
  currency: string;
  status: OrderStatus;
  created_at: string;
  updated_at: string;
  payment_due_at?: string;
  /** Idempotency key of the webhook that moved the order out of pending/expired. */
  payment_key?: string;
}

/** A webhook that arrived before its order: waits on the order's key until the order is created or the hold expires. */
export interface ParkedPaymentItem {
  entity: 'parked_payment';
  order_id: string;
  parked_key: string;
  parked_status: PaymentOutcome;
  parked_at: string;
}

export const DAY_SECONDS = 24 * 60 * 60;
/** Finished holds and unclaimed parked payments are garbage-collected by TTL after this long. */
export const RETENTION_SECONDS = 30 * DAY_SECONDS;

export const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);
export const gcAfter = (now: Date) => epochSeconds(now) + RETENTION_SECONDS;

export async function getItem<T>(key: Key): Promise<T | undefined> {
  const { Item } = await db.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
  return Item as T | undefined;
}

export const getHold = (holdId: string) => getItem<HoldItem>(holdKey(holdId));
export const getOrderSlot = (orderId: string) => getItem<OrderItem | ParkedPaymentItem>(orderKey(orderId));

export function holdView(hold: HoldItem) {
  return {
    hold_id: hold.hold_id,
    product_id: hold.product_id,
    qty: hold.qty,
    status: hold.status,
    expires_at: hold.expires_at,
  };
}

export function orderView(order: OrderItem) {
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
export type OrderView = ReturnType<typeof orderView>;

/** The order a hold turns into; `status` decides whether it still holds stock on a payment clock. */
export function orderFromHold(
  hold: HoldItem,
  status: OrderStatus,
  now: Date,
  paymentWindowSeconds: number,
  paymentKey?: string,
): OrderItem {
  const nowIso = now.toISOString();
  return {
    entity: 'order',
    order_id: hold.hold_id,
    hold_id: hold.hold_id,
    product_id: hold.product_id,
    qty: hold.qty,
    bucket: hold.bucket,
    unit_price_minor: hold.unit_price_minor,
    total_minor: hold.unit_price_minor * hold.qty,
    currency: hold.currency,
    status,
    created_at: nowIso,
    updated_at: nowIso,
    ...(status === 'pending'
      ? { payment_due_at: new Date(now.getTime() + paymentWindowSeconds * 1000).toISOString() }
      : {}),
    ...(paymentKey ? { payment_key: paymentKey } : {}),
  };
}
