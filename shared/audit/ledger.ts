// The ledger invariant, checked from the table's items, per stock bucket and per product:
// stock == available + active holds + pending orders + paid orders, with every unit counted in the bucket it came from.
import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '../db/client.ts';
import type { HoldItem } from '../holds/items.ts';
import type { OrderItem } from '../orders/items.ts';
import { type Draw, type ProductItem, repairBucket, type StockBucketItem } from '../stock/items.ts';

export interface BucketFigures {
  product_id: string;
  bucket: number;
  stock: number;
  available: number;
  active_holds: number;
  pending_orders: number;
  paid_orders: number;
  /** stock - (available + active_holds + pending_orders + paid_orders); 0 when the ledger balances. */
  drift: number;
}

/** A product's buckets added up. */
export type ProductFigures = Omit<BucketFigures, 'bucket'> & { buckets: number };

export interface LedgerReport {
  buckets: BucketFigures[];
  products: ProductFigures[];
  /** Every broken rule, human readable; empty when the ledger balances. */
  violations: string[];
}

/** Reads every item of the table (or of one product) with strongly consistent scans. */
async function scanAll(productId?: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        ExclusiveStartKey,
        ...(productId
          ? { FilterExpression: 'product_id = :p', ExpressionAttributeValues: { ':p': productId } }
          : {}),
      }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

type Column = 'active_holds' | 'pending_orders' | 'paid_orders';

/** Which column an item's units count in, if it holds any. */
function columnOf(item: Record<string, unknown>): Column | undefined {
  if (item.entity === 'hold')
    return (item as unknown as HoldItem).status === 'active' ? 'active_holds' : undefined;
  if (item.entity !== 'order') return undefined;
  const { status } = item as unknown as OrderItem;
  return status === 'pending' ? 'pending_orders' : status === 'paid' ? 'paid_orders' : undefined;
}

function bucketRows(items: Record<string, unknown>[], violations: string[]): Map<string, BucketFigures> {
  const rows = new Map<string, BucketFigures>();
  const slot = (product: string, bucket: number) => `${product}#${bucket}`;
  for (const item of items) {
    if (item.entity !== 'stock') continue;
    const { product_id, bucket, stock, available } = item as unknown as StockBucketItem;
    rows.set(slot(product_id, bucket), {
      product_id,
      bucket,
      stock,
      available,
      active_holds: 0,
      pending_orders: 0,
      paid_orders: 0,
      drift: 0,
    });
  }
  for (const item of items) {
    const column = columnOf(item);
    if (!column) continue;
    const { product_id, draws, qty } = item as unknown as { product_id: string; draws: Draw[]; qty: number };
    const id = String(item.hold_id ?? item.order_id);
    if ((draws ?? []).reduce((sum, draw) => sum + draw.qty, 0) !== qty)
      violations.push(`${item.entity} ${id}: draws do not add up to qty ${qty}`);
    for (const draw of draws ?? []) {
      const row = rows.get(slot(product_id, draw.bucket));
      if (row) row[column] += draw.qty;
      else violations.push(`${item.entity} ${id} holds stock of unknown bucket ${product_id}#${draw.bucket}`);
    }
  }
  for (const row of rows.values()) {
    row.drift = row.stock - (row.available + row.active_holds + row.pending_orders + row.paid_orders);
    const where = `product ${row.product_id} bucket ${row.bucket}`;
    if (row.drift !== 0) violations.push(`${where}: drift ${row.drift}`);
    if (row.available < 0) violations.push(`${where}: available ${row.available} < 0`);
  }
  return rows;
}

function productRows(buckets: BucketFigures[], items: Record<string, unknown>[], violations: string[]) {
  const products = new Map<string, ProductFigures>();
  for (const row of buckets) {
    const total = products.get(row.product_id) ?? {
      product_id: row.product_id,
      buckets: 0,
      stock: 0,
      available: 0,
      active_holds: 0,
      pending_orders: 0,
      paid_orders: 0,
      drift: 0,
    };
    total.buckets++;
    for (const key of [
      'stock',
      'available',
      'active_holds',
      'pending_orders',
      'paid_orders',
      'drift',
    ] as const)
      total[key] += row[key];
    products.set(row.product_id, total);
  }
  for (const item of items) {
    if (item.entity !== 'product') continue;
    const product = item as unknown as ProductItem;
    const seen = products.get(product.product_id)?.buckets ?? 0;
    // More items than slots is an interrupted re-split (repeating the PUT finishes it); fewer means lost stock.
    if (seen < product.bucket_slots)
      violations.push(
        `product ${product.product_id}: ${seen} bucket item(s), expected ${product.bucket_slots}`,
      );
  }
  return [...products.values()].sort((a, b) => a.product_id.localeCompare(b.product_id));
}

/** No webhook key applied to two orders. */
function keyViolations(items: Record<string, unknown>[], violations: string[]): void {
  const owners = new Map<string, string>();
  for (const item of items) {
    if (item.entity !== 'order') continue;
    const order = item as unknown as OrderItem;
    if (!order.payment_key) continue;
    const owner = owners.get(order.payment_key);
    if (owner && owner !== order.order_id)
      violations.push(`webhook key ${order.payment_key} applied to orders ${owner} and ${order.order_id}`);
    owners.set(order.payment_key, order.order_id);
  }
}

/**
 * Checks, per stock bucket and per product: `stock == available + Σ active holds + Σ pending orders + Σ paid orders`
 * (each hold/order counted in the buckets its draws name) and `available >= 0`; every product has its bucket items;
 * no webhook key applied to two orders. Meaningful at a quiet moment.
 */
export async function checkLedger(productId?: string): Promise<LedgerReport> {
  const items = await scanAll(productId);
  const violations: string[] = [];
  const buckets = [...bucketRows(items, violations).values()].sort(
    (a, b) => a.product_id.localeCompare(b.product_id) || a.bucket - b.bucket,
  );
  const products = productRows(buckets, items, violations);
  keyViolations(items, violations);
  return { buckets, products, violations };
}

/**
 * Fixes counter drift: sets `available` to what the items say, conditioned on the `available` value the check saw,
 * so any concurrent hold or release makes the repair fail harmlessly (run it again at a quiet moment).
 */
export async function repairDrift(row: BucketFigures): Promise<boolean> {
  const fixed = row.available + row.drift;
  // Negative means more units are committed than exist: no counter write can fix that, a human must.
  if (row.drift === 0 || fixed < 0) return false;
  try {
    await db.send(
      new UpdateCommand(repairBucket(row.product_id, row.bucket, row.available, row.stock, fixed)),
    );
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}
