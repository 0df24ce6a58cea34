// Products and their stock: the catalogue item plus stock bucket item(s) in the product's partition.
import { QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '../db/client.ts';
import { productKey, STOCK_SK_PREFIX, stockBucketKey } from '../db/keys.ts';
import { conditionFailedAt, failedItemAt, withContentionRetry } from '../db/retry.ts';
import { ProductNotFound, ServiceBusy, StockBelowCommitted } from '../errors.ts';
import { logger } from '../logger.ts';
import { formatMinor, parsePrice } from '../money.ts';
import type { PutProductBody } from '../schemas.ts';

export interface ProductItem {
  entity: 'product';
  product_id: string;
  name: string;
  price_minor: number;
  currency: string;
  created_at: string;
  updated_at: string;
}

/** One share of a product's stock. Today every product has bucket 0 only; holds record the bucket they drew from. */
export interface StockBucketItem {
  entity: 'stock';
  product_id: string;
  bucket: number;
  /** Units this bucket owns (sold, held or free). */
  stock: number;
  /** Units free to hold right now. */
  available: number;
}

export const DEFAULT_BUCKET = 0;

/** What drew units from a bucket (a hold or an order): enough to give them back or take them again. */
export interface UnitsRef {
  product_id: string;
  bucket: number;
  qty: number;
}

/** Transaction item: the units go back to the bucket they came from. */
export const returnUnits = (ref: UnitsRef) => ({
  Update: {
    TableName: tableName,
    Key: stockBucketKey(ref.product_id, ref.bucket),
    UpdateExpression: 'SET available = available + :qty',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: { ':qty': ref.qty },
  },
});

/** Transaction item: take the units, only if that many are free (the no-oversell condition). */
export const takeUnits = (ref: UnitsRef) => ({
  Update: {
    TableName: tableName,
    Key: stockBucketKey(ref.product_id, ref.bucket),
    UpdateExpression: 'SET available = available - :qty',
    ConditionExpression: 'available >= :qty',
    ExpressionAttributeValues: { ':qty': ref.qty },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  },
});

export interface ProductState {
  product: ProductItem;
  buckets: StockBucketItem[];
}

/** Access pattern `productWithStock`: the catalogue item and every stock bucket in one consistent query. */
export async function loadProduct(productId: string): Promise<ProductState | undefined> {
  const { pk } = productKey(productId);
  const { Items = [] } = await db.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ConsistentRead: true,
    }),
  );
  const product = Items.find((item) => item.sk === productKey(productId).sk) as ProductItem | undefined;
  if (!product) return undefined;
  const buckets = Items.filter((item) => String(item.sk).startsWith(STOCK_SK_PREFIX)) as StockBucketItem[];
  return { product, buckets };
}

export function productView({ product, buckets }: ProductState) {
  return {
    id: product.product_id,
    name: product.name,
    price: formatMinor(product.price_minor),
    currency: product.currency,
    stock: buckets.reduce((sum, bucket) => sum + bucket.stock, 0),
    available: buckets.reduce((sum, bucket) => sum + bucket.available, 0),
  };
}
export type ProductView = ReturnType<typeof productView>;

export async function getProduct(productId: string): Promise<ProductView> {
  const state = await loadProduct(productId);
  if (!state) throw new ProductNotFound(productId);
  return productView(state);
}

/**
 * Creates or updates a product. A restock moves `available` by the change in `stock`, conditioned on the
 * stock the change was computed from (optimistic lock) and on never pushing `available` below zero.
 */
export async function putProduct(
  productId: string,
  input: PutProductBody,
  now: Date,
): Promise<{ created: boolean; product: ProductView }> {
  const nowIso = now.toISOString();
  const priceMinor = parsePrice(input.price);
  for (let round = 0; round < 5; round++) {
    const current = await loadProduct(productId);
    const product: ProductItem = {
      entity: 'product',
      product_id: productId,
      name: input.name,
      price_minor: priceMinor,
      currency: input.currency,
      created_at: current?.product.created_at ?? nowIso,
      updated_at: nowIso,
    };
    const bucket = current?.buckets.find((b) => b.bucket === DEFAULT_BUCKET);
    const delta = input.stock - (bucket?.stock ?? 0);
    const stockWrite = bucket
      ? {
          Update: {
            TableName: tableName,
            Key: stockBucketKey(productId, DEFAULT_BUCKET),
            UpdateExpression: 'SET stock = :new, available = available + :delta',
            ConditionExpression: 'stock = :old AND available >= :needed',
            ExpressionAttributeValues: {
              ':new': input.stock,
              ':old': bucket.stock,
              ':delta': delta,
              ':needed': Math.max(0, -delta),
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
          },
        }
      : {
          Put: {
            TableName: tableName,
            Item: {
              ...stockBucketKey(productId, DEFAULT_BUCKET),
              entity: 'stock',
              product_id: productId,
              bucket: DEFAULT_BUCKET,
              stock: input.stock,
              available: input.stock,
            } satisfies StockBucketItem & object,
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        };
    try {
      await withContentionRetry('put_product', () =>
        db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: tableName,
                  Item: { ...productKey(productId), ...product },
                  ConditionExpression: current ? 'attribute_exists(pk)' : 'attribute_not_exists(pk)',
                },
              },
              stockWrite,
            ],
          }),
        ),
      );
    } catch (error) {
      const old = failedItemAt(error, 1) as StockBucketItem | undefined;
      if (bucket && old && old.stock === bucket.stock && conditionFailedAt(error, 1)) {
        throw new StockBelowCommitted(old.stock - old.available);
      }
      // Someone created or restocked the product between our read and write: recompute from fresh state.
      if (conditionFailedAt(error, 0) || conditionFailedAt(error, 1)) continue;
      throw error;
    }
    logger.info(current ? 'product_updated' : 'product_created', {
      product_id: productId,
      stock: input.stock,
      stock_delta: delta,
    });
    // Re-read: holds may have moved `available` since our write.
    return { created: !current, product: await getProduct(productId) };
  }
  throw new ServiceBusy();
}
