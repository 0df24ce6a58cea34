// Payment outcomes: each moves an order forward at most once, whatever order, timing or number of deliveries.
import { PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import { db, tableName } from '../db/client.ts';
import { holdKey, orderKey } from '../db/keys.ts';
import { conditionFailedAt, withContentionRetry } from '../db/retry.ts';
import { table } from '../db/table.ts';
import { OrderAlreadyFinalized, ServiceBusy } from '../errors.ts';
import { logger } from '../logger.ts';
import { returnUnits, takeUnits } from './products.ts';
import {
  gcAfter,
  getHold,
  getOrderSlot,
  type HoldItem,
  type OrderItem,
  type OrderStatus,
  orderFromHold,
  type ParkedPaymentItem,
  type PaymentOutcome,
} from './records.ts';

export interface PaymentInput {
  idempotency_key: string;
  order_id: string;
  status: PaymentOutcome;
}

export type PaymentResult =
  | { status: 200; data: { order_id: string; order_status: OrderStatus } }
  | { status: 202; data: { order_id: string; order_status: 'awaiting_order' } };

const applied = (orderId: string, orderStatus: OrderStatus): PaymentResult => ({
  status: 200,
  data: { order_id: orderId, order_status: orderStatus },
});

/** What an outcome would make of a finished order; equal means the delivery asks for what already happened. */
const terminalFor = (outcome: PaymentOutcome): OrderStatus => (outcome === 'success' ? 'paid' : 'cancelled');

/**
 * Applies one payment webhook. Every state change is a conditional write on the order's current status, so a
 * retry after a crash, a duplicate or a concurrent delivery can never apply twice.
 */
export async function applyPayment(input: PaymentInput, now: Date): Promise<PaymentResult> {
  const { order_id: orderId } = input;
  for (let round = 0; round < 5; round++) {
    const slot = await getOrderSlot(orderId);
    try {
      if (slot?.entity === 'order') return await applyToOrder(slot, input, now);
      if (slot?.entity === 'parked_payment') return answerParked(slot, input);
      const hold = await getHold(orderId);
      if (hold?.status === 'released') return await recordAfterExpiry(hold, input, now);
      return await park(input, now);
    } catch (error) {
      // The order, hold or parked payment moved between our read and our write: read again and decide afresh.
      if (error instanceof Error && (conditionFailedAt(error, 0) || conditionFailedAt(error, 1))) continue;
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') continue;
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
  if (order.payment_key === input.idempotency_key) {
    logger.info('webhook_duplicate', { ...log, order_status: order.status });
    return applied(order.order_id, order.status);
  }
  const nowIso = now.toISOString();
  const moveOrder = (from: OrderStatus, to: OrderStatus, removeDeadline: boolean) => ({
    TableName: tableName,
    Key: orderKey(order.order_id),
    UpdateExpression: `SET #status = :to, payment_key = :key, updated_at = :now${removeDeadline ? ' REMOVE gsi1pk, gsi1sk' : ''}`,
    ConditionExpression: '#status = :from',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: { ':to': to, ':from': from, ':key': input.idempotency_key, ':now': nowIso },
  });

  switch (order.status) {
    case 'pending': {
      const to = terminalFor(input.status);
      await withContentionRetry('apply_payment', () =>
        db.send(
          new TransactWriteCommand({
            TransactItems: [
              { Update: moveOrder('pending', to, true) },
              ...(to === 'cancelled' ? [returnUnits(order)] : []),
            ],
          }),
        ),
      );
      logger.info('payment_applied', {
        ...log,
        order_status: to,
        product_id: order.product_id,
        qty: order.qty,
      });
      return applied(order.order_id, to);
    }
    case 'expired': {
      if (input.status === 'failure') {
        logger.info('webhook_no_effect', { ...log, order_status: order.status });
        return applied(order.order_id, 'expired');
      }
      try {
        // Money arrived after the window: take the units back if they are still free, else a refund is owed.
        await withContentionRetry('apply_late_payment', () =>
          db.send(
            new TransactWriteCommand({
              TransactItems: [{ Update: moveOrder('expired', 'paid', false) }, takeUnits(order)],
            }),
          ),
        );
        logger.info('payment_applied', {
          ...log,
          order_status: 'paid',
          product_id: order.product_id,
          qty: order.qty,
          late: true,
        });
        return applied(order.order_id, 'paid');
      } catch (error) {
        if (!conditionFailedAt(error, 1) || conditionFailedAt(error, 0)) throw error;
      }
      await withContentionRetry('mark_refund_required', () =>
        db.send(new UpdateCommand(moveOrder('expired', 'refund_required', false))),
      );
      logger.warn('payment_after_expiry', { ...log, order_status: 'refund_required', refund_required: true });
      return applied(order.order_id, 'refund_required');
    }
    default: {
      // paid, cancelled, refund_required are terminal: the same outcome again is a no-op, another is refused.
      if (
        order.status === terminalFor(input.status) ||
        (order.status === 'refund_required' && input.status === 'success')
      ) {
        logger.info('webhook_duplicate', {
          ...log,
          order_status: order.status,
          reason: 'same_outcome_other_key',
        });
        return applied(order.order_id, order.status);
      }
      if (input.status === 'success') logger.warn('payment_after_cancel', { ...log, refund_required: true });
      else logger.info('webhook_rejected_finalized', { ...log, order_status: order.status });
      throw new OrderAlreadyFinalized(order.order_id, order.status);
    }
  }
}

function answerParked(parked: ParkedPaymentItem, input: PaymentInput): PaymentResult {
  if (parked.parked_key === input.idempotency_key || parked.parked_status === input.status) {
    logger.info('webhook_duplicate', {
      order_id: parked.order_id,
      idempotency_key: input.idempotency_key,
      order_status: 'awaiting_order',
    });
    return { status: 202, data: { order_id: parked.order_id, order_status: 'awaiting_order' } };
  }
  logger.info('webhook_rejected_finalized', {
    order_id: parked.order_id,
    idempotency_key: input.idempotency_key,
    parked_status: parked.parked_status,
  });
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
  await withContentionRetry('park_payment', () =>
    db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName,
              // Holds no stock, so TTL may collect it if its hold never shows up.
              Item: { ...orderKey(input.order_id), ...parked, [table.ttlAttribute]: gcAfter(now) },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            ConditionCheck: {
              TableName: tableName,
              Key: holdKey(input.order_id),
              ConditionExpression: 'attribute_not_exists(pk) OR #status = :active',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':active': 'active' },
            },
          },
        ],
      }),
    ),
  );
  logger.info('webhook_parked', {
    order_id: input.order_id,
    idempotency_key: input.idempotency_key,
    payment_status: input.status,
  });
  return { status: 202, data: { order_id: input.order_id, order_status: 'awaiting_order' } };
}

/** The hold expired before any order: keep the record (a success means the buyer is owed a refund). */
async function recordAfterExpiry(hold: HoldItem, input: PaymentInput, now: Date): Promise<PaymentResult> {
  const status: OrderStatus = input.status === 'success' ? 'refund_required' : 'cancelled';
  const order = orderFromHold(hold, status, now, config.PAYMENT_WINDOW_SECONDS, input.idempotency_key);
  await db.send(
    new PutCommand({
      TableName: tableName,
      Item: { ...orderKey(input.order_id), ...order },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  if (status === 'refund_required') {
    logger.warn('payment_after_expiry', {
      order_id: order.order_id,
      idempotency_key: input.idempotency_key,
      refund_required: true,
    });
  } else {
    logger.info('payment_applied', {
      order_id: order.order_id,
      idempotency_key: input.idempotency_key,
      order_status: status,
    });
  }
  return applied(order.order_id, status);
}
