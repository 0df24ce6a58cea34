// Pure payment rules: what a webhook does to an order in each state, and whether a provider's amount is the one due.
// No I/O; the service carries the decision out.
import type { OrderItem, OrderStatus, ParkedPaymentItem, PaymentOutcome } from '../orders/items.ts';

/** What an outcome would make of a finished order; equal means the delivery asks for what already happened. */
export const terminalFor = (outcome: PaymentOutcome): OrderStatus =>
  outcome === 'success' ? 'paid' : 'cancelled';

/** What one payment outcome does to an existing order (decideForOrder). */
export type PaymentDecision =
  /** Same key again, or the same outcome under another key: answer with the order as it is. */
  | { kind: 'replay'; reason: 'same_key' | 'same_outcome_other_key' | 'no_effect' }
  /** pending -> paid | cancelled (cancelled returns the units). */
  | { kind: 'settle'; to: 'paid' | 'cancelled' }
  /** expired + success: take the units back if still free (-> paid), else refund_required. */
  | { kind: 'late_success' }
  /** A finished order asked for the other outcome: OrderAlreadyFinalized. */
  | { kind: 'refuse' };

export function decideForOrder(order: OrderItem, key: string, outcome: PaymentOutcome): PaymentDecision {
  if (order.payment_key === key) return { kind: 'replay', reason: 'same_key' };
  switch (order.status) {
    case 'pending':
      return { kind: 'settle', to: outcome === 'success' ? 'paid' : 'cancelled' };
    case 'expired':
      return outcome === 'failure' ? { kind: 'replay', reason: 'no_effect' } : { kind: 'late_success' };
    default:
      // paid, cancelled, refund_required are terminal: the same outcome again is a no-op, another is refused.
      return order.status === terminalFor(outcome) ||
        (order.status === 'refund_required' && outcome === 'success')
        ? { kind: 'replay', reason: 'same_outcome_other_key' }
        : { kind: 'refuse' };
  }
}

/** A second delivery for a parked payment: the same key or outcome waits with it; the other outcome is refused. */
export const parkedAccepts = (parked: ParkedPaymentItem, key: string, outcome: PaymentOutcome): boolean =>
  parked.parked_key === key || parked.parked_status === outcome;

/** The hold expired before any order: a success means the buyer is owed a refund, a failure just cancels. */
export const statusAfterExpiry = (outcome: PaymentOutcome): OrderStatus =>
  outcome === 'success' ? 'refund_required' : 'cancelled';

/** What a provider says was paid, in minor units; its currency in any case (Stripe writes `usd`). */
export interface PaidAmount {
  minor: number;
  currency: string;
}

/** What an order or its hold is due: the order's `total_minor`, or the hold's units at its price. */
export interface AmountDue {
  total_minor: number;
  currency: string;
}

export const dueOfHold = (hold: { unit_price_minor: number; qty: number; currency: string }): AmountDue => ({
  total_minor: hold.unit_price_minor * hold.qty,
  currency: hold.currency,
});

/** A success counts only for exactly the amount due, in its currency. */
export const amountMatches = (due: AmountDue, paid: PaidAmount): boolean =>
  paid.minor === due.total_minor && paid.currency.toUpperCase() === due.currency.toUpperCase();

/**
 * A provider event, normalised by its adapter (stripe.ts, adyen.ts): the `key` (unique per event, with the
 * provider's prefix) is the idempotency key. `outcome` feeds the same path as our own webhook; `declined` is kept
 * without touching the order; `ignored` changes nothing.
 */
export type ProviderEvent =
  | { kind: 'outcome'; key: string; orderId: string; status: PaymentOutcome; paid?: PaidAmount }
  | { kind: 'declined'; key: string; orderId: string; paid?: PaidAmount }
  | { kind: 'ignored'; key: string; reason: IgnoredReason; orderId?: string };

export type IgnoredReason =
  /** Not an event type we act on (a shared account sends them all). */
  | 'unhandled_type'
  /** No order id of ours where the adapter looks for it (another integration's payment). */
  | 'no_order_id'
  /** An id of ours in form, but neither an order nor a hold has it. */
  | 'unknown_order'
  /** A Checkout Session completed unpaid: its async payment reports later. */
  | 'session_not_paid'
  /** A success that carries no amount cannot be checked, so it cannot count as paid. */
  | 'no_amount';
