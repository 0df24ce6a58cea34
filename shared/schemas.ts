// Zod schemas of every request and response: one source for validation at the edge and for the docs (infra/openapi.ts).
// Objects strip unknown fields (old clients send extras), so nothing unlisted can reach storage.
import * as z from 'zod';
import { config } from './config.ts';
import { MAX_STOCK_BUCKETS } from './stock/rules.ts';

/** Ids: old clients send `1`, new ones `"1"`; both become the string "1". */
export const id = z
  .union([
    z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "-" or "_"'),
    z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  ])
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
