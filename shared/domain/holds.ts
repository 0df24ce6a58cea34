// Holds: reserving stock with one conditional transaction, and releasing it exactly once when the hold expires.
import { randomUUID } from 'node:crypto';
import { QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import { db, tableName } from '../db/client.ts';
import {
  deadlineIndex,
  holdKey,
  orderKey,
  productHoldsIndex,
  productHoldsKey,
  stockBucketKey,
} from '../db/keys.ts';
import { conditionFailedAt, failedItemAt, withContentionRetry } from '../db/retry.ts';
import { table } from '../db/table.ts';
import { InsufficientStock, ProductNotFound } from '../errors.ts';
import { logger } from '../logger.ts';
import { DEFAULT_BUCKET, loadProduct, returnUnits, type StockBucketItem, takeUnits } from './products.ts';
import {
  gcAfter,
  getHold,
  getItem,
  type HoldItem,
  holdView,
  orderFromHold,
  type ParkedPaymentItem,
} from './records.ts';

/** How many expired holds one reclaim pass releases before retrying the buyer's hold. */
const RECLAIM_BATCH = 25;

/** Internal: a conflicted hold stopped retrying because a fresh read shows too little stock. */
class SoldOutWhileRetrying extends Error {
  constructor(readonly available: number) {
    super('Stock ran out while retrying a conflicted hold');
  }
}

export type HoldView = ReturnType<typeof holdView>;

/**
 * Reserves `qty` units: one transaction takes them from the stock bucket (condition `available >= qty`) and
 * writes the hold. When stock is short it first reclaims the product's expired-but-unswept holds, then tries once more.
 */
export async function createHold(productId: string, qty: number, now: Date): Promise<HoldView> {
  const state = await loadProduct(productId);
  if (!state) throw new ProductNotFound(productId);
  const holdId = randomUUID();
  const expiresAt = new Date(now.getTime() + config.HOLD_TTL_SECONDS * 1000).toISOString();
  const hold: HoldItem = {
    entity: 'hold',
    hold_id: holdId,
    product_id: productId,
    qty,
    bucket: DEFAULT_BUCKET,
    unit_price_minor: state.product.price_minor,
    currency: state.product.currency,
    status: 'active',
    created_at: now.toISOString(),
    expires_at: expiresAt,
  };
  // Between conflict retries, look at the stock again: once it is gone, losers stop hammering the hot item.
  const stillAvailable = async () => {
    const bucket = await getItem<StockBucketItem>(stockBucketKey(productId, hold.bucket));
    if ((bucket?.available ?? 0) < qty) throw new SoldOutWhileRetrying(bucket?.available ?? 0);
  };
  const reserve = () =>
    withContentionRetry(
      'create_hold',
      () =>
        db.send(
          new TransactWriteCommand({
            TransactItems: [
              takeUnits(hold),
              {
                Put: {
                  TableName: tableName,
                  Item: {
                    ...holdKey(holdId),
                    ...hold,
                    ...deadlineIndex('HOLD', holdId, expiresAt),
                    ...productHoldsIndex(productId, holdId, expiresAt),
                  },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
            ],
          }),
        ),
      { beforeRetry: stillAvailable },
    );

  const reject = (available: number): never => {
    logger.info('hold_rejected', { product_id: productId, qty, available, reason: 'insufficient_stock' });
    throw new InsufficientStock(available);
  };
  // Sold out is the common answer in a flash sale: refusing on a consistent read sends no write to the hot
  // stock item (no transaction conflicts for the buyers who can still win). Granting is never decided here.
  let reclaimed = false;
  const seen = state.buckets.find((bucket) => bucket.bucket === hold.bucket)?.available ?? 0;
  if (seen < qty) {
    if ((await reclaimExpiredHolds(productId, now)) === 0) reject(seen);
    reclaimed = true;
  }
  for (;;) {
    try {
      await reserve();
      break;
    } catch (error) {
      // The hold id is ours alone: if it exists, an earlier attempt whose answer was lost (timeout) committed.
      if (conditionFailedAt(error, 1)) break;
      const soldOut = error instanceof SoldOutWhileRetrying;
      if (!soldOut && !conditionFailedAt(error, 0)) throw error;
      // We only stop retrying after an attempt whose outcome we never learned; it may have been our own hold
      // that took the last units. Look before refusing.
      if (soldOut && (await getHold(holdId))) break;
      const available = soldOut ? error.available : Number(failedItemAt(error, 0)?.available ?? 0);
      if (!reclaimed && (await reclaimExpiredHolds(productId, now)) > 0) {
        reclaimed = true;
        continue;
      }
      reject(available);
    }
  }
  logger.info('hold_created', { hold_id: holdId, product_id: productId, qty, expires_at: expiresAt });
  return holdView(hold);
}

export interface HoldRef {
  hold_id: string;
  product_id: string;
  qty: number;
  bucket: number;
}

export type ReleaseOutcome = 'released' | 'already_settled' | 'paid_from_parked' | 'cancelled_from_parked';

const releaseHoldUpdate = (hold: HoldRef, now: Date) => ({
  Update: {
    TableName: tableName,
    Key: holdKey(hold.hold_id),
    UpdateExpression:
      'SET #status = :released, released_at = :now, #ttl = :gc REMOVE gsi1pk, gsi1sk, gsi2pk, gsi2sk',
    ConditionExpression: '#status = :active AND expires_at <= :now',
    ExpressionAttributeNames: { '#status': 'status', '#ttl': table.ttlAttribute },
    ExpressionAttributeValues: {
      ':released': 'released',
      ':active': 'active',
      ':now': now.toISOString(),
      ':gc': gcAfter(now),
    },
  },
});

/** The hold becomes an order: it stops holding stock itself (the order does) and leaves both indexes. */
export const consumeHoldUpdate = (holdId: string, now: Date, requireUnexpired: boolean) => ({
  Update: {
    TableName: tableName,
    Key: holdKey(holdId),
    UpdateExpression:
      'SET #status = :ordered, ordered_at = :now, #ttl = :gc REMOVE gsi1pk, gsi1sk, gsi2pk, gsi2sk',
    ConditionExpression: requireUnexpired ? '#status = :active AND expires_at > :now' : '#status = :active',
    ExpressionAttributeNames: { '#status': 'status', '#ttl': table.ttlAttribute },
    ExpressionAttributeValues: {
      ':ordered': 'ordered',
      ':active': 'active',
      ':now': now.toISOString(),
      ':gc': gcAfter(now),
    },
  },
});

/**
 * Releases an expired hold exactly once: the status flip `active -> released` and the stock return commit together,
 * so overlapping sweeps, reclaims and orders cannot double-release. A payment parked on the hold's order key wins:
 * success turns the hold into a paid order, failure releases it and records the cancelled order.
 */
export async function releaseExpiredHold(hold: HoldRef, now: Date): Promise<ReleaseOutcome> {
  try {
    await withContentionRetry('release_hold', () =>
      db.send(
        new TransactWriteCommand({
          TransactItems: [
            releaseHoldUpdate(hold, now),
            returnUnits(hold),
            {
              ConditionCheck: {
                TableName: tableName,
                Key: orderKey(hold.hold_id),
                ConditionExpression: 'attribute_not_exists(pk)',
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
          ],
        }),
      ),
    );
    logger.info('hold_expired', { hold_id: hold.hold_id, product_id: hold.product_id, qty: hold.qty });
    return 'released';
  } catch (error) {
    if (conditionFailedAt(error, 0)) return 'already_settled';
    const parked = failedItemAt(error, 2) as ParkedPaymentItem | undefined;
    if (!conditionFailedAt(error, 2) || parked?.entity !== 'parked_payment') throw error;
    return settleParkedPayment(hold, parked, now);
  }
}

async function settleParkedPayment(
  ref: HoldRef,
  parked: ParkedPaymentItem,
  now: Date,
): Promise<ReleaseOutcome> {
  const hold = await getHold(ref.hold_id);
  if (hold?.status !== 'active') return 'already_settled';
  const success = parked.parked_status === 'success';
  const order = orderFromHold(
    hold,
    success ? 'paid' : 'cancelled',
    now,
    config.PAYMENT_WINDOW_SECONDS,
    parked.parked_key,
  );
  const putOrder = {
    Put: {
      TableName: tableName,
      Item: { ...orderKey(hold.hold_id), ...order },
      ConditionExpression: 'entity = :parked AND parked_key = :key',
      ExpressionAttributeValues: { ':parked': 'parked_payment', ':key': parked.parked_key },
    },
  };
  try {
    await withContentionRetry('settle_parked_payment', () =>
      db.send(
        new TransactWriteCommand({
          TransactItems: success
            ? [consumeHoldUpdate(hold.hold_id, now, false), putOrder]
            : [releaseHoldUpdate(hold, now), returnUnits(hold), putOrder],
        }),
      ),
    );
  } catch (error) {
    if (conditionFailedAt(error, 0)) return 'already_settled';
    throw error;
  }
  logger.info(success ? 'payment_applied' : 'hold_expired', {
    hold_id: hold.hold_id,
    order_id: order.order_id,
    product_id: hold.product_id,
    qty: hold.qty,
    order_status: order.status,
    reason: 'parked_payment_settled_at_expiry',
  });
  return success ? 'paid_from_parked' : 'cancelled_from_parked';
}

/** Access pattern `expiredHoldsOfProduct`: releases up to RECLAIM_BATCH of the product's expired holds; returns units freed. */
export async function reclaimExpiredHolds(productId: string, now: Date): Promise<number> {
  const { Items = [] } = await db.send(
    new QueryCommand({
      TableName: tableName,
      IndexName: table.indexes.holdsOfProduct.indexName,
      KeyConditionExpression: 'gsi2pk = :pk AND gsi2sk < :now',
      ExpressionAttributeValues: { ':pk': productHoldsKey(productId), ':now': now.toISOString() },
      Limit: RECLAIM_BATCH,
    }),
  );
  let freed = 0;
  for (const item of Items as HoldRef[]) {
    const outcome = await releaseExpiredHold(item, now);
    if (outcome === 'released' || outcome === 'cancelled_from_parked') freed += item.qty;
  }
  if (freed > 0) logger.info('hold_reclaimed', { product_id: productId, holds: Items.length, qty: freed });
  return freed;
}
