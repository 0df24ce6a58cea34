// Zod schemas of every request and response: one source for validation at the edge and for the docs (infra/openapi.ts).
// Objects strip unknown fields (old clients send extras), so nothing unlisted can reach storage.
import * as z from 'zod';
import { config } from './config.ts';
import { MAX_STOCK_BUCKETS } from './stock/rules.ts';

/** An id as text: what our answers carry, and what a provider's metadata must hold to name one of our orders. */
export const idText = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "-" or "_"');

/** Ids: old clients send `1`, new ones `"1"`; both become the string "1". */
export const id = z
  .union([idText, z.number().int().positive().max(Number.MAX_SAFE_INTEGER)])
  .transform(String);

export const idParams = z.object({ id });

export const priceString = z
  .string()
  .regex(/^(0|[1-9]\d{0,8})(\.\d{1,2})?$/, 'must be a decimal string with at most two places, e.g. "12.50"');

export const putProductBody = z.object({
  name: z.string().trim().min(1).max(200),
  price: priceString,
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO-4217 code like "USD"')
    .default('USD'),
  stock: z.number().int().min(0).max(1_000_000),
  /** Partitions the stock is split over; omitted keeps the current count (a new product gets the default). */
  stock_buckets: z.number().int().min(1).max(MAX_STOCK_BUCKETS).optional(),
  /**
   * At most this many units per customer, across their active holds, pending and paid orders; null removes the
   * limit, omitted keeps it. Needs buyer identity (a JWT issuer), since the limit is per identified customer.
   */
  max_per_customer: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .nullable()
    .optional()
    .refine(
      (limit) => limit === undefined || limit === null || config.JWT_ISSUER !== undefined,
      'needs buyer identity: configure a JWT issuer (the stage setting jwtIssuer, or JWT_ISSUER locally)',
    ),
});
export type PutProductBody = z.infer<typeof putProductBody>;

export const createHoldBody = z.object({
  product_id: id,
  qty: z.number().int().min(1).max(config.MAX_QTY_PER_HOLD),
});
export type CreateHoldBody = z.infer<typeof createHoldBody>;

export const idempotencyKeyHeader = z.string().min(1).max(255);

export const createOrderBody = z.object({ hold_id: id });

export const webhookBody = z.object({
  idempotency_key: z.string().min(1).max(255),
  order_id: id,
  status: z.enum(['success', 'failure']),
});
export type WebhookBody = z.infer<typeof webhookBody>;

/**
 * A Stripe event as Stripe posts it (docs/payments-stripe.md). Only the envelope is checked here; what `data.object`
 * means is decided per event type in shared/payments/stripe.ts, after the signature over the raw body matched.
 */
export const stripeEventBody = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(255),
  created: z.number().int().optional(),
  livemode: z.boolean().optional(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});
export type StripeEventBody = z.infer<typeof stripeEventBody>;

/** One Adyen NotificationRequestItem (docs/payments-adyen.md): the signed fields, as Adyen sends them. */
export const adyenNotificationItem = z.object({
  eventCode: z.string().min(1).max(255),
  success: z.enum(['true', 'false']),
  pspReference: z.string().min(1).max(255),
  originalReference: z.string().max(255).optional(),
  merchantAccountCode: z.string().max(255).optional(),
  merchantReference: z.string().max(255).optional(),
  /** Minor units (`value`) and ISO-4217 (`currency`). */
  amount: z.object({ value: z.number().int(), currency: z.string().max(3) }).optional(),
  eventDate: z.string().max(64).optional(),
  reason: z.string().max(1024).optional(),
  /** `hmacSignature` among others. */
  additionalData: z.record(z.string(), z.unknown()).optional(),
});
export type AdyenNotificationItem = z.infer<typeof adyenNotificationItem>;

/** Adyen's standard notification: one or more items, each signed on its own. */
export const adyenNotificationBody = z.object({
  live: z.enum(['true', 'false']).optional(),
  notificationItems: z
    .array(z.object({ NotificationRequestItem: adyenNotificationItem }))
    .min(1)
    .max(100),
});

// Responses: the `data` of each success answer. The services' view functions are typed by these (so the handlers
// cannot drift from them) and infra/openapi.ts documents them; no handler parses its own answer at runtime.

/** ISO-8601 UTC, e.g. "2026-11-29T16:00:00.000Z". */
const timestamp = z.iso.datetime();
/** Money in responses: always two decimals, e.g. "49.99". */
const money = z.string().regex(/^(0|[1-9]\d*)\.\d{2}$/);
const currency = z.string().regex(/^[A-Z]{3}$/);
const count = z.number().int().min(0);

export const health = z.object({ status: z.literal('ok') });

export const productView = z.object({
  id: z.string(),
  name: z.string(),
  price: money,
  currency,
  /** Units on sale in total. */
  stock: count,
  /** Units neither held nor ordered, as of the view (at most 1 s old). */
  available: count,
  stock_buckets: z.number().int().min(1).max(MAX_STOCK_BUCKETS),
  /** Units per customer across their holds and orders; absent when the product has no limit. */
  max_per_customer: z.number().int().min(1).optional(),
});

export const holdStatus = z.enum(['active', 'ordered', 'released']);

export const holdView = z.object({
  hold_id: z.string(),
  product_id: z.string(),
  qty: z.number().int().min(1),
  status: holdStatus,
  expires_at: timestamp,
});

export const orderStatus = z.enum(['pending', 'paid', 'cancelled', 'expired', 'refund_required']);

export const orderView = z.object({
  order_id: z.string(),
  hold_id: z.string(),
  product_id: z.string(),
  qty: z.number().int().min(1),
  total_price: money,
  currency,
  status: orderStatus,
  created_at: timestamp,
  updated_at: timestamp,
  /** Only while `pending`: when the sweeper expires the unpaid order. */
  payment_due_at: timestamp.optional(),
});

/** Webhook 200: the order has this status now (applied, or already applied). */
export const paymentApplied = z.object({ order_id: z.string(), order_status: orderStatus });
/** Webhook 202: stored until the order exists. */
export const paymentAwaitingOrder = z.object({
  order_id: z.string(),
  order_status: z.literal('awaiting_order'),
});

/** What a provider's event did (its idempotency key decides duplicates, so a repeat answers the same effect). */
export const providerEventEffect = z.enum([
  /** The order now has `order_status` (this event moved it, or an earlier one already had). */
  'applied',
  /** Stored until the order exists (the hold is still active). */
  'parked',
  /** The order is already finished the other way (`order_status`): nothing changed, logged. */
  'conflict',
  /** A success whose amount or currency is not the order's total: recorded and alarmed, never applied. */
  'amount_mismatch',
  /** A declined attempt (Stripe `payment_intent.payment_failed`): recorded, the order stays pending. */
  'declined',
  /** Not an outcome we act on (`reason`): nothing changed, logged. */
  'ignored',
]);
export type ProviderEventEffect = z.infer<typeof providerEventEffect>;

/** Stripe webhook 200: what the event did. Stripe only reads the 2xx; the body helps in its dashboard. */
export const stripeEventAnswer = z.object({
  event_id: z.string(),
  effect: providerEventEffect,
  order_id: z.string().optional(),
  order_status: z.union([orderStatus, z.literal('awaiting_order')]).optional(),
  /** Why an event was ignored: `unhandled_type`, `no_order_id`, `unknown_order`, `session_not_paid`. */
  reason: z.string().optional(),
});

/** Adyen webhook 200: its acknowledgement, the plain-text body `[accepted]` (not an envelope). */
export const adyenAccepted = z.literal('[accepted]');
