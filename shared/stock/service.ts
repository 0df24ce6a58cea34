// Products: the catalogue view buyers read, and the admin's create / restock / re-split, ledger-balanced per bucket.
import { ConditionFailed, type NamedItems, transact } from '../db/transact.ts';
import { ProductNotFound, ServiceBusy, StockBelowCommitted } from '../errors.ts';
import { logger } from '../logger.ts';
import { formatMinor, parsePrice } from '../money.ts';
import type { PutProductBody } from '../schemas.ts';
import { createBucket, moveBucket, type ProductItem, putProductItem, stockItemName } from './items.ts';
import { type BucketChange, defaultBucketCount, planRestock } from './rules.ts';
import { forgetView, readProduct, type StockView, stockView } from './view.ts';

export function productView({ product, buckets }: StockView) {
  const all = [...buckets.values()];
  return {
    id: product.product_id,
    name: product.name,
    price: formatMinor(product.price_minor),
    currency: product.currency,
    stock: all.reduce((sum, bucket) => sum + bucket.stock, 0),
    available: all.reduce((sum, bucket) => sum + bucket.available, 0),
    stock_buckets: product.stock_buckets,
  };
}
export type ProductView = ReturnType<typeof productView>;

/** The product as this process last saw it: at most STOCK_VIEW_MAX_AGE_MS (1 s) old. */
export async function getProduct(productId: string): Promise<ProductView> {
  const view = await stockView(productId);
  if (!view) throw new ProductNotFound(productId);
  return productView(view);
}

function bucketItems(productId: string, changes: readonly BucketChange[]): NamedItems {
  return Object.fromEntries(
    changes.map((change) => [
      stockItemName(change.bucket),
      change.kind === 'create'
        ? createBucket({
            entity: 'stock',
            product_id: productId,
            bucket: change.bucket,
            stock: change.stock,
            available: change.stock,
          })
        : moveBucket(productId, change.bucket, change.seenStock, change.delta),
    ]),
  );
}

/**
 * Creates or updates a product. The new total `stock` is spread over `stock_buckets` buckets (kept, or the default
 * for a new product); each bucket's stock and available move together, so units held or sold stay balanced.
 * A concurrent hold or restock that changed what the plan was built on makes it read and plan again.
 */
export async function putProduct(
  productId: string,
  input: PutProductBody,
  now: Date,
): Promise<{ created: boolean; product: ProductView }> {
  const nowIso = now.toISOString();
  const priceMinor = parsePrice(input.price);
  for (let round = 0; round < 8; round++) {
    const current = await readProduct(productId);
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
      created_at: current?.product.created_at ?? nowIso,
      updated_at: nowIso,
    };
    try {
      await transact('put_product', {
        product: putProductItem(product, current !== undefined),
        ...bucketItems(productId, plan.changes),
      });
    } catch (error) {
      // Someone created, restocked or drew from a bucket since our read: plan again from fresh state.
      if (error instanceof ConditionFailed) {
        logger.debug('put_product_replan', { product_id: productId, failed: [...error.failed] });
        continue;
      }
      throw error;
    } finally {
      forgetView(productId);
    }
    logger.info(current ? 'product_updated' : 'product_created', {
      product_id: productId,
      stock: input.stock,
      stock_buckets: bucketCount,
      buckets_changed: plan.changes.map((change) => change.bucket),
    });
    // Re-read: holds may have moved `available` since our write.
    return { created: !current, product: await getProduct(productId) };
  }
  throw new ServiceBusy();
}
