// Holds: the only place a hold's key, its `holdsOfProduct` index attributes and its conditions are spelled.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { db, getItem, tableName } from '../db/client.ts';
import type { Key } from '../db/keys.ts';
import { gcAfter, table } from '../db/table.ts';
import type { TransactItem } from '../db/transact.ts';
import type { Draw } from '../stock/items.ts';
import { deadlineIndex, leaveDeadlineIndex } from '../sweep/items.ts';

export type HoldStatus = 'active' | 'ordered' | 'released';

export interface HoldItem {
  entity: 'hold';
  hold_id: string;
  product_id: string;
  qty: number;
  /** Which buckets the units came from; they go back to the same ones. */
  draws: Draw[];
  unit_price_minor: number;
  currency: string;
  /** The identified buyer (`sub` of their token); absent for an anonymous hold. */
  customer_id?: string;
  status: HoldStatus;
  created_at: string;
  expires_at: string;
}

/** True for a hold among items of any type (a scan). */
export const isHoldItem = (item: Record<string, unknown>): item is Record<string, unknown> & HoldItem =>
  item.entity === 'hold';

/** What the sweeper and reclaim read from the indexes: enough to release the hold. */
export type HoldRef = Pick<HoldItem, 'hold_id' | 'product_id' | 'qty' | 'draws' | 'customer_id'>;

const byProduct = table.indexes.holdsOfProduct;

export const holdKey = (holdId: string): Key => ({ pk: `HOLD#${holdId}`, sk: 'HOLD' });
/** One shard of a product's active holds: the bucket the hold drew from first, so it spreads like the stock. */
export const holdsOfProductKey = (productId: string, shard: number) => `HOLDS#${productId}#${shard}`;

export const getHold = (holdId: string) => getItem<HoldItem>(holdKey(holdId));

export const putHold = (hold: HoldItem): TransactItem => ({
  Put: {
    TableName: tableName,
    Item: {
      ...holdKey(hold.hold_id),
      ...hold,
      ...deadlineIndex('HOLD', hold.hold_id, hold.expires_at),
      [byProduct.partitionKey]: holdsOfProductKey(hold.product_id, hold.draws[0]?.bucket ?? 0),
      [byProduct.sortKey]: `${hold.expires_at}#${hold.hold_id}`,
    },
    // The id is ours alone: if it exists, an earlier attempt of ours committed.
    ConditionExpression: 'attribute_not_exists(pk)',
  },
});

const leaveIndexes = `REMOVE ${leaveDeadlineIndex}, ${byProduct.partitionKey}, ${byProduct.sortKey}`;

/** Expired and still active -> released (the stock return rides in the same transaction). */
export const releaseHold = (holdId: string, now: Date): TransactItem => ({
  Update: {
    TableName: tableName,
    Key: holdKey(holdId),
    UpdateExpression: `SET #status = :released, released_at = :now, #ttl = :gc ${leaveIndexes}`,
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
export const consumeHold = (holdId: string, now: Date, requireUnexpired: boolean): TransactItem => ({
  Update: {
    TableName: tableName,
    Key: holdKey(holdId),
    UpdateExpression: `SET #status = :ordered, ordered_at = :now, #ttl = :gc ${leaveIndexes}`,
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

/** A payment may wait for this hold's order only while the hold is active (or not known yet). */
export const holdActiveOrAbsent = (holdId: string): TransactItem => ({
  ConditionCheck: {
    TableName: tableName,
    Key: holdKey(holdId),
    ConditionExpression: 'attribute_not_exists(pk) OR #status = :active',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: { ':active': 'active' },
  },
});

/**
 * Access pattern `expiredHoldsOfProduct`: one shard's earliest-expiring active holds (up to `limit`), split into
 * those past `now` and the expiry of the first that is not (undefined when none is): until then, nothing in this
 * shard can expire.
 */
export async function expiredHoldsOfProduct(productId: string, shard: number, now: Date, limit: number) {
  const { Items = [] } = await db.send(
    new QueryCommand({
      TableName: tableName,
      IndexName: byProduct.indexName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': byProduct.partitionKey },
      ExpressionAttributeValues: { ':pk': holdsOfProductKey(productId, shard) },
      Limit: limit,
    }),
  );
  const nowIso = now.toISOString();
  const expiryOf = (item: Record<string, unknown>) => String(item[byProduct.sortKey]).split('#')[0] ?? '';
  const expired = Items.filter((item) => expiryOf(item) < nowIso) as HoldRef[];
  const next = Items.find((item) => expiryOf(item) >= nowIso);
  return { expired, nextExpiry: next ? expiryOf(next) : undefined };
}
