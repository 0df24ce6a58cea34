// Pure payment rules: what a webhook does to an order in each state. No I/O; the service carries the decision out.
import type { OrderItem, OrderStatus, ParkedPaymentItem, PaymentOutcome } from '../orders/items.ts';

/** What an outcome would make of a finished order; equal means the delivery asks for what already happened. */
export const terminalFor = (outcome: PaymentOutcome): OrderStatus =>
  outcome === 'success' ? 'paid' : 'cancelled';

export type OrderDecision =
  /** Same key again, or the same outcome under another key: answer with the order as it is. */
  | { kind: 'replay'; reason: 'same_key' | 'same_outcome_other_key' | 'no_effect' }
  /** pending -> paid | cancelled (cancelled returns the units). */
  | { kind: 'settle'; to: 'paid' | 'cancelled' }
  /** expired + success: take the units back if still free (-> paid), else refund_required. */
  | { kind: 'late_success' }
  /** A finished order asked for the other outcome: 409 ORDER_ALREADY_FINALIZED. */
  | { kind: 'refuse' };

export function decideForOrder(order: OrderItem, key: string, outcome: PaymentOutcome): OrderDecision {
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
