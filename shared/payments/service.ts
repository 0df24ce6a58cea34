// Payment outcomes: each moves an order forward at most once, whatever order, timing or number of deliveries.
import { config } from '../config.ts';
import { countUnits } from '../customers/items.ts';
import { writeOne } from '../db/single-write.ts';
import { ConditionFailed, failedOn, transact } from '../db/transact.ts';
import { OrderAlreadyFinalized, ServiceBusy } from '../errors.ts';
import { getHold, type HoldItem, holdActiveOrAbsent } from '../holds/items.ts';
import { logger } from '../logger.ts';
import { Metric } from '../metric-names.ts';
import { countMetric } from '../metrics.ts';
import {
  moveOrder,
  type OrderItem,
  type OrderStatus,
  type ParkedPaymentItem,
  type PaymentOutcome,
  parkPayment,
  putOrder,
} from '../orders/items.ts';
import { orderFromHold } from '../orders/rules.ts';
import { getOrderSlot } from '../orders/service.ts';
import type { ProviderEventEffect } from '../schemas.ts';
import { giveUnitsBack } from '../stock/give-back.ts';
import { takeUnits } from '../stock/items.ts';
import { movingUnits, stockView } from '../stock/view.ts';
import { type PaymentEventItem, putPaymentEvent } from './items.ts';
import {
  type AmountDue,
  amountMatches,
  decideForOrder,
  dueOfHold,
  type IgnoredReason,
  type PaidAmount,
  type ProviderEvent,
  parkedAccepts,
  statusAfterExpiry,
  terminalFor,
} from './rules.ts';

export interface PaymentInput {
  idempotency_key: string;
  order_id: string;
  status: PaymentOutcome;
}

/**
 * A payment provider's event (stripe.ts, adyen.ts), with what it says was paid. A success counts only for exactly
 * the amount due, and an id that names neither an order nor a hold is not ours: ignored, never parked.
 */
export interface ProviderPaymentInput extends PaymentInput {
  provider: { paid?: PaidAmount };
}

/** `applied`: the order has this status now. `awaiting_order`: stored until the order exists. */
export type PaymentResult =
  | { outcome: 'applied'; order_id: string; order_status: OrderStatus }
  | { outcome: 'awaiting_order'; order_id: string; order_status: 'awaiting_order' };

/** A provider's event may also be refused for its amount (recorded; the order's status if there is one), or not ours. */
export type ProviderPaymentResult =
  | PaymentResult
  | { outcome: 'amount_mismatch'; order_id: string; order_status?: OrderStatus }
  | { outcome: 'unknown_order'; order_id: string };

type AnyPaymentInput = PaymentInput & { provider?: ProviderPaymentInput['provider'] };

const applied = (orderId: string, orderStatus: OrderStatus): PaymentResult => ({
  outcome: 'applied',
  order_id: orderId,
  order_status: orderStatus,
});
const awaiting = (orderId: string): PaymentResult => ({
  outcome: 'awaiting_order',
  order_id: orderId,
  order_status: 'awaiting_order',
});

const isStale = (error: unknown) => error instanceof ConditionFailed;

/**
 * Applies one payment webhook. Every state change is a conditional write on the order's current status, so a
 * retry after a crash, a duplicate or a concurrent delivery can never apply twice.
 */
export function applyPayment(input: ProviderPaymentInput, now: Date): Promise<ProviderPaymentResult>;
export function applyPayment(input: PaymentInput, now: Date): Promise<PaymentResult>;
export async function applyPayment(input: AnyPaymentInput, now: Date): Promise<ProviderPaymentResult> {
  const { order_id: orderId } = input;
  for (let round = 0; round < 5; round++) {
    const slot = await getOrderSlot(orderId);
    try {
      if (slot?.entity === 'order')
        return (
          (await refuseMismatch(slot, input, now, slot.status)) ?? (await applyToOrder(slot, input, now))
        );
      // Our own webhook answers a parked payment without its hold; a provider's amount is checked against it.
      const hold = slot?.entity === 'parked_payment' && !input.provider ? undefined : await getHold(orderId);
      if (input.provider && !hold) return { outcome: 'unknown_order', order_id: orderId };
      const mismatch = hold && (await refuseMismatch(dueOfHold(hold), input, now));
      if (mismatch) return mismatch;
      if (slot?.entity === 'parked_payment') return answerParked(slot, input);
      if (hold?.status === 'released') return await recordAfterExpiry(hold, input, now);
      return await park(input, now);
    } catch (error) {
      // The order, hold or parked payment moved between our read and our write: read again and decide afresh.
      if (isStale(error)) continue;
      throw error;
    }
  }
  throw new ServiceBusy();
}

async function applyToOrder(order: OrderItem, input: PaymentInput, now: Date): Promise<PaymentResult> {
  const log = {
    order_id: order.order_id,
    idempotency_key: input.idempotency_key,
    payment_status: input.status,
  };
  const decision = decideForOrder(order, input.idempotency_key, input.status);
  const move = (from: OrderStatus, to: OrderStatus) =>
    moveOrder(order.order_id, { from, to, paymentKey: input.idempotency_key }, now);
  switch (decision.kind) {
    case 'replay':
      logger.info(decision.reason === 'no_effect' ? 'webhook_no_effect' : 'webhook_duplicate', {
        ...log,
        order_status: order.status,
        ...(decision.reason === 'same_outcome_other_key' ? { reason: decision.reason } : {}),
      });
      return applied(order.order_id, order.status);
    case 'settle': {
      const cancel = decision.to === 'cancelled';
      const write = () =>
        transact('apply_payment', {
          order: { Update: move('pending', decision.to) },
          ...(cancel ? giveUnitsBack(order) : {}),
        });
      await (cancel ? movingUnits(order, 'return', write) : write());
      countMetric(Metric.PaymentsApplied);
      logger.info('payment_applied', {
        ...log,
        order_status: decision.to,
        product_id: order.product_id,
        qty: order.qty,
      });
      return applied(order.order_id, decision.to);
    }
    case 'late_success':
      return lateSuccess(order, move, log);
    case 'refuse':
      if (input.status === 'success') logger.warn('payment_after_cancel', { ...log, refund_required: true });
      else logger.info('webhook_rejected_finalized', { ...log, order_status: order.status });
      throw new OrderAlreadyFinalized(order.order_id, order.status);
  }
}

/** Money arrived after the window: take the units back if they are still free, else a refund is owed. */
async function lateSuccess(
  order: OrderItem,
  move: (from: OrderStatus, to: OrderStatus) => ReturnType<typeof moveOrder>,
  log: Record<string, string>,
): Promise<PaymentResult> {
  try {
    // The buyer's allowance counts the units again, within the product's limit as it is now: a late payment that
    // would put them over it is refunded like one that finds the units gone.
    const limit = (await stockView(order.product_id))?.product.max_per_customer;
    await movingUnits(order, 'take', () =>
      transact('apply_late_payment', {
        order: { Update: move('expired', 'paid') },
        ...takeUnits(order),
        ...countUnits(order, limit),
      }),
    );
    countMetric(Metric.PaymentsApplied);
    logger.info('payment_applied', {
      ...log,
      order_status: 'paid',
      product_id: order.product_id,
      qty: order.qty,
      late: true,
    });
    return applied(order.order_id, 'paid');
  } catch (error) {
    if (!(error instanceof ConditionFailed) || failedOn(error, 'order')) throw error;
  }
  await writeOne('mark_refund_required', { Update: move('expired', 'refund_required') });
  countMetric(Metric.PaymentsRefundRequired);
  logger.warn('payment_after_expiry', { ...log, order_status: 'refund_required', refund_required: true });
  return applied(order.order_id, 'refund_required');
}

function answerParked(parked: ParkedPaymentItem, input: PaymentInput): PaymentResult {
  const log = { order_id: parked.order_id, idempotency_key: input.idempotency_key };
  if (parkedAccepts(parked, input.idempotency_key, input.status)) {
    logger.info('webhook_duplicate', { ...log, order_status: 'awaiting_order' });
    return awaiting(parked.order_id);
  }
  logger.info('webhook_rejected_finalized', { ...log, parked_status: parked.parked_status });
  throw new OrderAlreadyFinalized(parked.order_id, terminalFor(parked.parked_status));
}

/**
 * No order yet: store the outcome on the order's key. The hold must still be active (or unknown); the sweeper's
 * release checks the same key, so a payment can never be parked on a hold that was released unseen.
 */
async function park(input: PaymentInput, now: Date): Promise<PaymentResult> {
  const parked: ParkedPaymentItem = {
    entity: 'parked_payment',
    order_id: input.order_id,
    parked_key: input.idempotency_key,
    parked_status: input.status,
    parked_at: now.toISOString(),
  };
  await transact('park_payment', {
    parked: parkPayment(parked, now),
    hold: holdActiveOrAbsent(input.order_id),
  });
  countMetric(Metric.PaymentsParked);
  logger.info('webhook_parked', {
    order_id: input.order_id,
    idempotency_key: input.idempotency_key,
    payment_status: input.status,
  });
  return awaiting(input.order_id);
}

/** The hold expired before any order: keep the record (a success means the buyer is owed a refund). */
async function recordAfterExpiry(hold: HoldItem, input: PaymentInput, now: Date): Promise<PaymentResult> {
  const status = statusAfterExpiry(input.status);
  const order = orderFromHold(hold, status, now, config.PAYMENT_WINDOW_SECONDS, input.idempotency_key);
  await writeOne('record_after_expiry', putOrder(order));
  const log = { order_id: order.order_id, idempotency_key: input.idempotency_key };
  countMetric(status === 'refund_required' ? Metric.PaymentsRefundRequired : Metric.PaymentsApplied);
  if (status === 'refund_required') logger.warn('payment_after_expiry', { ...log, refund_required: true });
  else logger.info('payment_applied', { ...log, order_status: status });
  return applied(order.order_id, status);
}

/**
 * A provider's success for another amount or currency than the one due: kept as a payment event, logged and
 * counted (alarmed), never applied. Undefined when the event may go on (our own webhook, a failure, the right sum).
 */
async function refuseMismatch(
  due: AmountDue,
  input: AnyPaymentInput,
  now: Date,
  orderStatus?: OrderStatus,
): Promise<ProviderPaymentResult | undefined> {
  if (!input.provider || input.status !== 'success') return undefined;
  const { paid } = input.provider;
  if (paid && amountMatches(due, paid)) return undefined;
  const first = await recordPaymentEvent(
    {
      entity: 'payment_event',
      event_key: input.idempotency_key,
      order_id: input.order_id,
      kind: 'amount_mismatch',
      ...(paid ? { paid_minor: paid.minor, paid_currency: paid.currency } : {}),
      due_minor: due.total_minor,
      due_currency: due.currency,
      recorded_at: now.toISOString(),
    },
    now,
  );
  if (first) countMetric(Metric.PaymentAmountMismatches);
  logger.warn('payment_amount_mismatch', {
    order_id: input.order_id,
    idempotency_key: input.idempotency_key,
    paid_minor: paid?.minor,
    paid_currency: paid?.currency,
    due_minor: due.total_minor,
    due_currency: due.currency,
    duplicate: !first,
  });
  return {
    outcome: 'amount_mismatch',
    order_id: input.order_id,
    ...(orderStatus ? { order_status: orderStatus } : {}),
  };
}

/** Stores a payment event once: true when this call stored it, false when a redelivery finds it there. */
async function recordPaymentEvent(event: PaymentEventItem, now: Date): Promise<boolean> {
  try {
    await writeOne('record_payment_event', putPaymentEvent(event, now));
    return true;
  } catch (error) {
    if (isStale(error)) return false;
    throw error;
  }
}

/** What a provider's event did, for its route's answer (shared/schemas.ts `providerEventEffect`). */
export interface ProviderEventResult {
  effect: ProviderEventEffect;
  order_id?: string;
  order_status?: OrderStatus | 'awaiting_order';
  reason?: IgnoredReason;
}

const ignored = (event: ProviderEvent, reason: IgnoredReason, orderId?: string): ProviderEventResult => {
  logger.info('payment_event_ignored', { idempotency_key: event.key, reason, order_id: orderId });
  return { effect: 'ignored', reason, ...(orderId ? { order_id: orderId } : {}) };
};

/**
 * Applies one provider event (Stripe, Adyen), after its signature matched. Outcomes take the same exactly-once path
 * as our own webhook (applyPayment); everything final answers a result (a success), so the provider stops
 * retrying: a conflicting outcome on a finished order included. Only a busy table throws (ServiceBusy, retried).
 */
export async function applyProviderEvent(event: ProviderEvent, now: Date): Promise<ProviderEventResult> {
  if (event.kind === 'ignored') return ignored(event, event.reason, event.orderId);
  if (event.kind === 'declined') return declined(event, now);
  try {
    const result = await applyPayment(
      {
        idempotency_key: event.key,
        order_id: event.orderId,
        status: event.status,
        provider: event.paid ? { paid: event.paid } : {},
      },
      now,
    );
    switch (result.outcome) {
      case 'applied':
        return { effect: 'applied', order_id: result.order_id, order_status: result.order_status };
      case 'awaiting_order':
        return { effect: 'parked', order_id: result.order_id, order_status: 'awaiting_order' };
      case 'amount_mismatch':
        return { effect: 'amount_mismatch', order_id: result.order_id, order_status: result.order_status };
      case 'unknown_order':
        return ignored(event, 'unknown_order', result.order_id);
    }
  } catch (error) {
    if (!(error instanceof OrderAlreadyFinalized)) throw error;
    // Logged by applyPayment (payment_after_cancel when money arrived for a cancelled order).
    return { effect: 'conflict', order_id: event.orderId, order_status: finalizedStatus(error) };
  }
}

const finalizedStatus = (error: OrderAlreadyFinalized): OrderStatus | undefined =>
  (error.details as { order_status?: OrderStatus } | undefined)?.order_status;

/** A declined attempt is kept (once) for an order or hold of ours; the order itself stays pending. */
async function declined(
  event: Extract<ProviderEvent, { kind: 'declined' }>,
  now: Date,
): Promise<ProviderEventResult> {
  const slot = await getOrderSlot(event.orderId);
  if (!slot && !(await getHold(event.orderId))) return ignored(event, 'unknown_order', event.orderId);
  const first = await recordPaymentEvent(
    {
      entity: 'payment_event',
      event_key: event.key,
      order_id: event.orderId,
      kind: 'declined',
      ...(event.paid ? { paid_minor: event.paid.minor, paid_currency: event.paid.currency } : {}),
      recorded_at: now.toISOString(),
    },
    now,
  );
  if (first) countMetric(Metric.PaymentsDeclined);
  logger.info('payment_declined', { order_id: event.orderId, idempotency_key: event.key, duplicate: !first });
  const status = slot?.entity === 'order' ? slot.status : undefined;
  return { effect: 'declined', order_id: event.orderId, ...(status ? { order_status: status } : {}) };
}
