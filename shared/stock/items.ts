// Products and their stock buckets: the only place their keys, attributes and conditions are spelled.
import { tableName } from '../db/client.ts';
import type { Key } from '../db/keys.ts';
import type { PutWrite, UpdateWrite } from '../db/single-write.ts';
import type { TransactItem } from '../db/transact.ts';

/** The catalogue item: price, currency and how the stock is split. Read per process at most once a second. */
export interface ProductItem {
  entity: 'product';
  product_id: string;
  name: string;
  price_minor: number;
  currency: string;
  /** Buckets new stock is spread over (1..MAX_STOCK_BUCKETS). */
  stock_buckets: number;
  /** Bucket items that exist (0..bucket_slots-1): never fewer than `stock_buckets`; retired ones drain to 0. */
  bucket_slots: number;
  /** At most this many units per customer (active holds + pending + paid orders); absent: no limit. */
  max_per_customer?: number;
  created_at: string;
  updated_at: string;
}

/** One share of a product's stock, in a partition of its own so buckets never share a partition's capacity. */
export interface StockBucketItem {
  entity: 'stock';
  product_id: string;
  bucket: number;
  /** Units this bucket owns (sold, held or free). */
  stock: number;
  /** Units free to hold right now. */
  available: number;
}

/** True for a product's catalogue item among items of any type (a scan). */
export const isProductItem = (item: Record<string, unknown>): item is Record<string, unknown> & ProductItem =>
  item.entity === 'product';

/** True for a stock bucket among items of any type (a scan). */
export const isStockBucketItem = (
  item: Record<string, unknown>,
): item is Record<string, unknown> & StockBucketItem => item.entity === 'stock';

/**
 * A scan filter for every item of one product: the product, its buckets, holds, orders and customer counters all
 * carry `product_id` (the audit's one-product check).
 */
export const itemsOfProduct = (productId: string) => ({
  FilterExpression: 'product_id = :product',
  ExpressionAttributeValues: { ':product': productId },
});

/** Units one hold or order took from one bucket; a hold records one per bucket it drew from. */
export interface Draw {
  bucket: number;
  qty: number;
}

/** Anything that holds units: enough to give them back to the right buckets or take them again. */
export interface UnitsRef {
  product_id: string;
  draws: readonly Draw[];
}

export const productKey = (productId: string): Key => ({ pk: `PRODUCT#${productId}`, sk: 'PRODUCT' });
export const stockBucketKey = (productId: string, bucket: number): Key => ({
  pk: `STOCK#${productId}#${bucket}`,
  sk: 'STOCK',
});

/** Transaction item names: a failure reports `stock:<bucket>`, so callers know which bucket was short. */
export const stockItemName = (bucket: number) => `stock:${bucket}`;
export const bucketOfItemName = (name: string): number | undefined =>
  name.startsWith('stock:') ? Number(name.slice('stock:'.length)) : undefined;

/** One transaction item per draw, named after its bucket, built by `update` from the draw. */
function perDraw(
  ref: UnitsRef,
  update: (draw: Draw) => Omit<NonNullable<TransactItem['Update']>, 'TableName' | 'Key'>,
) {
  return Object.fromEntries(
    ref.draws.map((draw): [string, TransactItem] => [
      stockItemName(draw.bucket),
      { Update: { TableName: tableName, Key: stockBucketKey(ref.product_id, draw.bucket), ...update(draw) } },
    ]),
  );
}

/** Transaction items: take each draw's units, only if that many are free in its bucket (the no-oversell condition). */
export const takeUnits = (ref: UnitsRef) =>
  perDraw(ref, (draw) => ({
    UpdateExpression: 'SET available = available - :qty',
    ConditionExpression: 'available >= :qty',
    ExpressionAttributeValues: { ':qty': draw.qty },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  }));

/** Transaction items: every draw's units go back to the bucket they came from. */
export const returnUnits = (ref: UnitsRef) =>
  perDraw(ref, (draw) => ({
    UpdateExpression: 'SET available = available + :qty',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: { ':qty': draw.qty },
  }));

/** The product item, over an existing one (`exists`) or as a new one. */
export const putProductItem = (product: ProductItem, exists: boolean): PutWrite => ({
  Put: {
    TableName: tableName,
    Item: { ...productKey(product.product_id), ...product },
    ConditionExpression: exists ? 'attribute_exists(pk)' : 'attribute_not_exists(pk)',
  },
});

/** A new bucket (count raised or first stock): only if it does not exist yet. */
export const createBucket = (bucket: StockBucketItem): PutWrite => ({
  Put: {
    TableName: tableName,
    Item: { ...stockBucketKey(bucket.product_id, bucket.bucket), ...bucket },
    ConditionExpression: 'attribute_not_exists(pk)',
  },
});

/**
 * A restock or rebalance of one bucket: `stock` and `available` move by the same delta, so the bucket's ledger
 * stays balanced whatever holds did meanwhile. Conditioned on the stock it was planned from (a concurrent restock
 * re-plans) and on `available` never going below zero.
 */
export const moveBucket = (
  productId: string,
  bucket: number,
  seenStock: number,
  delta: number,
): UpdateWrite => ({
  Update: {
    TableName: tableName,
    Key: stockBucketKey(productId, bucket),
    UpdateExpression: 'SET stock = stock + :delta, available = available + :delta',
    ConditionExpression: 'stock = :seen AND available >= :needed',
    ExpressionAttributeValues: { ':delta': delta, ':seen': seenStock, ':needed': Math.max(0, -delta) },
  },
});

/** The audit's repair: set `available` to what the items say, only if nothing moved since the check. */
export const repairBucket = (
  productId: string,
  bucket: number,
  seen: number,
  stock: number,
  fixed: number,
): UpdateWrite => ({
  Update: {
    TableName: tableName,
    Key: stockBucketKey(productId, bucket),
    UpdateExpression: 'SET available = :fixed',
    ConditionExpression: 'available = :seen AND stock = :stock',
    ExpressionAttributeValues: { ':fixed': fixed, ':seen': seen, ':stock': stock },
  },
});
