// Stripe's events as payment outcomes: which event type means what, where the order id and the amount are. Pure.
import * as z from 'zod';
import type { PaymentOutcome } from '../orders/items.ts';
import { idText, type StripeEventBody } from '../schemas.ts';
import type { PaidAmount, ProviderEvent } from './rules.ts';

/** Stripe's metadata values are strings; a foreign or hand-edited object may carry anything, so read leniently. */
const metadata = z.record(z.string(), z.unknown()).nullish();
const paymentIntent = z.object({
  amount_received: z.number().int().min(0),
  currency: z.string().min(1),
  metadata,
});
const checkoutSession = z.object({
  amount_total: z.number().int().min(0).nullish(),
  currency: z.string().min(1).nullish(),
  client_reference_id: z.unknown().optional(),
  payment_status: z.string().optional(),
  metadata,
});

/** How each event type we act on reads: the object it carries and the outcome it means. */
const HANDLED = {
  'payment_intent.succeeded': { object: 'payment_intent', effect: 'success' },
  'payment_intent.canceled': { object: 'payment_intent', effect: 'failure' },
  // A declined card: the buyer may try another one; the payment window still bounds the order.
  'payment_intent.payment_failed': { object: 'payment_intent', effect: 'declined' },
  // Paid only with `payment_status: "paid"`; an async method (e.g. SEPA) completes unpaid and reports later.
  'checkout.session.completed': { object: 'checkout_session', effect: 'success' },
  'checkout.session.async_payment_succeeded': { object: 'checkout_session', effect: 'success' },
  'checkout.session.async_payment_failed': { object: 'checkout_session', effect: 'failure' },
  'checkout.session.expired': { object: 'checkout_session', effect: 'failure' },
} as const satisfies Record<
  string,
  { object: 'payment_intent' | 'checkout_session'; effect: PaymentOutcome | 'declined' }
>;

/** The event types a Stripe endpoint should be subscribed to (docs/payments-stripe.md lists the same). */
export const STRIPE_EVENT_TYPES = Object.keys(HANDLED) as (keyof typeof HANDLED)[];

const isHandled = (type: string): type is keyof typeof HANDLED => Object.hasOwn(HANDLED, type);

const orderIdIn = (...candidates: unknown[]): string | undefined =>
  candidates.find((candidate): candidate is string => idText.safeParse(candidate).success);

/** Our idempotency key for a Stripe event: its id, which every retry of the event repeats. */
export const stripeEventKey = (eventId: string) => `stripe:${eventId}`;

/**
 * What a (verified) Stripe event means for us. A PaymentIntent names its order in `metadata.order_id`; a Checkout
 * Session in `client_reference_id`, else `metadata.order_id`. The amount is `amount_received` (PaymentIntent) or
 * `amount_total` (Session), in minor units. Anything we do not act on, or without an order id of ours, is ignored.
 */
export function stripeEvent(event: StripeEventBody): ProviderEvent {
  const key = stripeEventKey(event.id);
  if (!isHandled(event.type)) return { kind: 'ignored', key, reason: 'unhandled_type' };
  const handled = HANDLED[event.type];
  let orderId: string | undefined;
  let paid: PaidAmount | undefined;
  let paidSession = true;
  if (handled.object === 'payment_intent') {
    const intent = paymentIntent.safeParse(event.data.object);
    if (!intent.success) return { kind: 'ignored', key, reason: 'no_order_id' };
    orderId = orderIdIn(intent.data.metadata?.order_id);
    paid = { minor: intent.data.amount_received, currency: intent.data.currency };
  } else {
    const session = checkoutSession.safeParse(event.data.object);
    if (!session.success) return { kind: 'ignored', key, reason: 'no_order_id' };
    const { amount_total, currency, client_reference_id, payment_status } = session.data;
    orderId = orderIdIn(client_reference_id, session.data.metadata?.order_id);
    if (amount_total != null && currency) paid = { minor: amount_total, currency };
    paidSession = event.type !== 'checkout.session.completed' || payment_status === 'paid';
  }
  if (!orderId) return { kind: 'ignored', key, reason: 'no_order_id' };
  if (!paidSession) return { kind: 'ignored', key, reason: 'session_not_paid', orderId };
  if (handled.effect === 'declined') return { kind: 'declined', key, orderId, ...(paid ? { paid } : {}) };
  // A failure needs no amount; a success without one cannot be checked, so it cannot count as paid.
  if (handled.effect === 'success' && !paid) return { kind: 'ignored', key, reason: 'no_amount', orderId };
  return { kind: 'outcome', key, orderId, status: handled.effect, ...(paid ? { paid } : {}) };
}
