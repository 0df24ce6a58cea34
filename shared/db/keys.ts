// Every key of the table is built here; handlers and domain code never spell a key by hand.
import { DEADLINE_SHARDS } from './table.ts';

export interface Key {
  pk: string;
  sk: string;
}

export const productKey = (productId: string): Key => ({ pk: `PRODUCT#${productId}`, sk: 'PRODUCT' });

/** Stock lives in its own item(s) so a hot product can later be split over several buckets. */
export const stockBucketKey = (productId: string, bucket: number): Key => ({
  pk: `PRODUCT#${productId}`,
  sk: `STOCK#${bucket}`,
});
export const STOCK_SK_PREFIX = 'STOCK#';

export const holdKey = (holdId: string): Key => ({ pk: `HOLD#${holdId}`, sk: 'HOLD' });

/** An order shares its id with the hold it came from; a parked payment waits on the same key. */
export const orderKey = (orderId: string): Key => ({ pk: `ORDER#${orderId}`, sk: 'ORDER' });

function shardOf(id: string): number {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % DEADLINE_SHARDS;
}

/** `byDeadline` index attributes for an item that holds stock until `deadline`. */
export const deadlineIndex = (kind: 'HOLD' | 'ORDER', id: string, deadline: string) => ({
  gsi1pk: deadlineShardKey(shardOf(id)),
  gsi1sk: `${deadline}#${kind}#${id}`,
});
export const deadlineShardKey = (shard: number) => `DEADLINE#${shard}`;

/** `holdsOfProduct` index attributes of an active hold. */
export const productHoldsIndex = (productId: string, holdId: string, expiresAt: string) => ({
  gsi2pk: productHoldsKey(productId),
  gsi2sk: `${expiresAt}#${holdId}`,
});
export const productHoldsKey = (productId: string) => `PRODUCT#${productId}#HOLDS`;

export const idempotencyPartition = (scope: string) => `IDEMPOTENCY#${scope}`;
