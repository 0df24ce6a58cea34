// Pure order rules: what order a hold turns into, and what an order request may do with a hold. No I/O.
import type { HoldItem } from '../holds/items.ts';
import type { OrderItem, OrderStatus, ParkedPaymentItem } from './items.ts';

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
    draws: hold.draws,
    unit_price_minor: hold.unit_price_minor,
    total_minor: hold.unit_price_minor * hold.qty,
    currency: hold.currency,
    ...(hold.customer_id ? { customer_id: hold.customer_id } : {}),
    status,
    created_at: nowIso,
    updated_at: nowIso,
    ...(status === 'pending'
      ? { payment_due_at: new Date(now.getTime() + paymentWindowSeconds * 1000).toISOString() }
      : {}),
    ...(paymentKey ? { payment_key: paymentKey } : {}),
  };
}

/** What creating an order from a hold comes to (decideOrder). */
export type OrderCreation =
  | { kind: 'expired' }
  | { kind: 'reread' }
  | { kind: 'create'; status: OrderStatus; requireUnexpired: boolean };

/**
 * What POST /api/orders does with a hold (the slot is known to hold no order yet). A payment parked first decides
 * the status; a parked success also beats the hold's expiry (the buyer paid).
 */
export function decideOrder(hold: HoldItem, parked: ParkedPaymentItem | undefined, now: Date): OrderCreation {
  const paidEarly = parked?.parked_status === 'success';
  // `ordered` without an order item cannot happen (both commit together): we raced its creation.
  if (hold.status === 'ordered') return { kind: 'reread' };
  if (hold.status !== 'active') return { kind: 'expired' };
  if (!paidEarly && hold.expires_at <= now.toISOString()) return { kind: 'expired' };
  const status: OrderStatus = parked ? (paidEarly ? 'paid' : 'cancelled') : 'pending';
  return { kind: 'create', status, requireUnexpired: !paidEarly };
}
