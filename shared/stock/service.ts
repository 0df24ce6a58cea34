// Products: the catalogue view buyers read, and the admin's create / restock / re-split, ledger-balanced per bucket.
import type { z } from 'zod';
import { writeOne } from '../db/single-write.ts';
import { ConditionFailed, transact } from '../db/transact.ts';
import { ProductNotFound, ServiceBusy, StockBelowCommitted } from '../errors.ts';
import { logger } from '../logger.ts';
import { formatMinor, parsePrice } from '../money.ts';
import type { productView as ProductViewSchema, PutProductBody } from '../schemas.ts';
import {
  createBucket,
  moveBucket,
  type ProductItem,
  putProductItem,
  type StockBucketItem,
  stockItemName,
} from './items.ts';
import { type BucketChange, defaultBucketCount, MAX_STOCK_BUCKETS, planRestock } from './rules.ts';
import { forgetView, readProduct, type StockView, stockView, totalAvailable } from './view.ts';

export function productView(view: StockView): ProductView {
  const { product } = view;
  const all = [...view.buckets.values()];
  return {
    id: product.product_id,
    name: product.name,
    price: formatMinor(product.price_minor),
    currency: product.currency,
    stock: all.reduce((sum, bucket) => sum + bucket.stock, 0),
    available: totalAvailable(view),
    stock_buckets: product.stock_buckets,
    ...(product.max_per_customer === undefined ? {} : { max_per_customer: product.max_per_customer }),
  };
}
/** The documented shape (shared/schemas.ts): the compiler keeps the answer and the OpenAPI document in step. */
export type ProductView = z.output<typeof ProductViewSchema>;

/** The product as this process last saw it: at most STOCK_VIEW_MAX_AGE_MS (1 s) old. */
export async function getProduct(productId: string): Promise<ProductView> {
  const view = await stockView(productId);
  if (!view) throw new ProductNotFound(productId);
  return productView(view);
}

/**
 * Creates or updates a product. The new total `stock` is spread over `stock_buckets` buckets (kept, or the default
 * for a new product); each bucket's stock and available move together, so units held or sold stay balanced.
 * A new product is written in one transaction. A live one is changed one bucket at a time, because one transaction
 * over every hot bucket would keep meeting the holds' transactions: units leave buckets first, new buckets come
 * next, then the product item, then units arrive, so an interrupted PUT never shows more stock than asked for, and
 * repeating it finishes the job. A write that finds its bucket changed (a hold, another restock) plans again.
 */
export async function putProduct(
  productId: string,
  input: PutProductBody,
  now: Date,
): Promise<{ created: boolean; product: ProductView }> {
  const nowIso = now.toISOString();
  const priceMinor = parsePrice(input.price);
  try {
    for (let round = 0; round < 8; round++) {
      // Every possible bucket: an interrupted re-split may have created buckets the product does not list yet.
      const current = await readProduct(productId, MAX_STOCK_BUCKETS);
      const bucketCount =
        input.stock_buckets ?? current?.product.stock_buckets ?? defaultBucketCount(input.stock);
      const plan = planRestock([...(current?.buckets.values() ?? [])], input.stock, bucketCount);
      if (!plan.ok) throw new StockBelowCommitted(plan.committed);
      const product: ProductItem = {
        entity: 'product',
        product_id: productId,
        name: input.name,
        price_minor: priceMinor,
        currency: input.currency,
        stock_buckets: bucketCount,
        bucket_slots: plan.slots,
        ...limitOf(input.max_per_customer, current?.product.max_per_customer),
        created_at: current?.product.created_at ?? nowIso,
        updated_at: nowIso,
      };
      const done = current
        ? await applyInSteps(product, plan.changes)
        : await applyAtOnce(product, plan.changes);
      if (!done) continue;
      logger.info(current ? 'product_updated' : 'product_created', {
        product_id: productId,
        stock: input.stock,
        stock_buckets: bucketCount,
        max_per_customer: product.max_per_customer,
        buckets_changed: plan.changes.map((change) => change.bucket),
      });
      // Read afresh: this process's view predates the write, and holds may have moved `available` since.
      forgetView(productId);
      return { created: !current, product: await getProduct(productId) };
    }
  } finally {
    forgetView(productId);
  }
  throw new ServiceBusy();
}

const newBucket = (productId: string, bucket: number, stock: number): StockBucketItem => ({
  entity: 'stock',
  product_id: productId,
  bucket,
  stock,
  available: stock,
});

/** A new product: the product item and every bucket in one transaction. False when it exists after all. */
async function applyAtOnce(product: ProductItem, changes: readonly BucketChange[]): Promise<boolean> {
  const buckets = Object.fromEntries(
    changes.map((change) => [stockItemName(change.bucket), bucketWrite(product.product_id, change)]),
  );
  try {
    await transact('create_product', { product: putProductItem(product, false), ...buckets });
    return true;
  } catch (error) {
    if (error instanceof ConditionFailed) return false;
    throw error;
  }
}

/** Units leave first, new buckets and the product item next, units arrive last. False when a condition failed. */
async function applyInSteps(product: ProductItem, changes: readonly BucketChange[]): Promise<boolean> {
  const leaving = changes.filter((change) => change.kind === 'move' && change.delta < 0);
  const created = changes.filter((change) => change.kind === 'create');
  const arriving = changes.filter((change) => change.kind === 'move' && change.delta > 0);
  try {
    for (const change of [...leaving, ...created])
      await writeOne('restock_bucket', bucketWrite(product.product_id, change));
    await writeOne('put_product', putProductItem(product, true));
    for (const change of arriving) await writeOne('restock_bucket', bucketWrite(product.product_id, change));
    return true;
  } catch (error) {
    if (error instanceof ConditionFailed) {
      logger.debug('put_product_replan', { product_id: product.product_id });
      return false;
    }
    throw error;
  }
}

/** The write one planned change makes: a new bucket, or a bucket's stock moved. */
const bucketWrite = (productId: string, change: BucketChange) =>
  change.kind === 'create'
    ? createBucket(newBucket(productId, change.bucket, change.stock))
    : moveBucket(productId, change.bucket, change.seenStock, change.delta);

/** `max_per_customer` as asked: a number sets it, null removes it, omitted keeps what the product had. */
function limitOf(asked: number | null | undefined, had: number | undefined): { max_per_customer?: number } {
  const limit = asked === undefined ? had : (asked ?? undefined);
  return limit === undefined ? {} : { max_per_customer: limit };
}
