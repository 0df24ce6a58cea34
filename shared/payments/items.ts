// Payment events kept without moving an order (a declined attempt, a mismatched amount): the only place their key
// and condition are spelled.
import { tableName } from '../db/client.ts';
import type { Key } from '../db/keys.ts';
import type { PutWrite } from '../db/single-write.ts';
import { gcAfter, table } from '../db/table.ts';

export interface PaymentEventItem {
  entity: 'payment_event';
  /** The provider event's idempotency key (`stripe:evt_...`, `adyen:<pspReference>:<eventCode>`). */
  event_key: string;
  order_id: string;
  kind: 'declined' | 'amount_mismatch';
  /** What the provider reported (minor units, its currency as sent), when it reported an amount. */
  paid_minor?: number;
  paid_currency?: string;
  /** What the order (or its hold) is due, for a mismatch. */
  due_minor?: number;
  due_currency?: string;
  recorded_at: string;
}

/** One item per provider event: its key is the event's idempotency key. */
export const paymentEventKey = (eventKey: string): Key => ({ pk: `PAYMENT_EVENT#${eventKey}`, sk: 'EVENT' });

/** Records the event once; a redelivery's put fails its condition (the caller answers as before). */
export const putPaymentEvent = (event: PaymentEventItem, now: Date): PutWrite => ({
  Put: {
    TableName: tableName,
    // Kept as long as finished holds: long after Stripe's 3 days and Adyen's 30 days of retries.
    Item: { ...paymentEventKey(event.event_key), ...event, [table.ttlAttribute]: gcAfter(now) },
    ConditionExpression: 'attribute_not_exists(pk)',
  },
});
