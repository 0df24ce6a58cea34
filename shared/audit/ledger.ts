// The ledger invariant, checked from the table's items, per stock bucket and per product:
// stock == available + active holds + pending orders + paid orders, with every unit counted in the bucket it came from;
// and per customer and product: their counter == their units in active holds, pending and paid orders <= the limit.
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { isCustomerUnitsItem, repairCustomerUnits } from '../customers/items.ts';
import { db, tableName } from '../db/client.ts';
import { writeOnce } from '../db/single-write.ts';
import { ConditionFailed } from '../db/transact.ts';
import { isHoldItem } from '../holds/items.ts';
import { isOrderItem } from '../orders/items.ts';
import { isProductItem, isStockBucketItem, itemsOfProduct, repairBucket } from '../stock/items.ts';

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

/** One customer's allowance of one product: what their counter says and what their holds and orders add up to. */
export interface CustomerFigures {
  customer_id: string;
  product_id: string;
  /** The counter item's `units` (0 when there is none). */
  counter: number;
  active_holds: number;
  pending_orders: number;
  paid_orders: number;
  /** The product's max_per_customer, null when it has none. */
  limit: number | null;
  /** (active_holds + pending_orders + paid_orders) - counter; 0 when the counter is right. */
  drift: number;
}

export interface LedgerReport {
  buckets: BucketFigures[];
  products: ProductFigures[];
  /** Every customer counter, and every identified customer holding units without one. */
  customers: CustomerFigures[];
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
        ...(productId ? itemsOfProduct(productId) : {}),
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
  if (isHoldItem(item)) return item.status === 'active' ? 'active_holds' : undefined;
  if (!isOrderItem(item)) return undefined;
  return item.status === 'pending' ? 'pending_orders' : item.status === 'paid' ? 'paid_orders' : undefined;
}

/** The items whose units count in a column (active holds, pending and paid orders), with the column. */
function unitHolders(items: Record<string, unknown>[]) {
  return items.flatMap((item) => {
    const column = columnOf(item);
    return column && (isHoldItem(item) || isOrderItem(item)) ? [{ item, column }] : [];
  });
}

function bucketRows(items: Record<string, unknown>[], violations: string[]): Map<string, BucketFigures> {
  const rows = new Map<string, BucketFigures>();
  const slot = (product: string, bucket: number) => `${product}#${bucket}`;
  for (const item of items) {
    if (!isStockBucketItem(item)) continue;
    const { product_id, bucket, stock, available } = item;
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
  for (const { item, column } of unitHolders(items)) {
    const { product_id, draws, qty } = item;
    const id = isHoldItem(item) ? item.hold_id : item.order_id;
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
  for (const product of items.filter(isProductItem)) {
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
  for (const order of items.filter(isOrderItem)) {
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
  const customers = customerRows(items, violations);
  return { buckets, products, customers, violations };
}

/** Per customer and product: the counter against their holds and orders, and against the product's limit. */
function customerRows(items: Record<string, unknown>[], violations: string[]): CustomerFigures[] {
  const rows = new Map<string, CustomerFigures>();
  const limits = new Map<string, number>();
  for (const product of items.filter(isProductItem)) {
    if (product.max_per_customer !== undefined) limits.set(product.product_id, product.max_per_customer);
  }
  const row = (customer: string, product: string) => {
    const key = `${customer}\u0000${product}`;
    const found = rows.get(key);
    if (found) return found;
    const fresh: CustomerFigures = {
      customer_id: customer,
      product_id: product,
      counter: 0,
      active_holds: 0,
      pending_orders: 0,
      paid_orders: 0,
      limit: limits.get(product) ?? null,
      drift: 0,
    };
    rows.set(key, fresh);
    return fresh;
  };
  for (const counter of items.filter(isCustomerUnitsItem)) {
    row(counter.customer_id, counter.product_id).counter = counter.units;
  }
  for (const { item, column } of unitHolders(items)) {
    if (item.customer_id !== undefined) row(item.customer_id, item.product_id)[column] += item.qty;
  }
  for (const figures of rows.values()) {
    figures.drift = figures.active_holds + figures.pending_orders + figures.paid_orders - figures.counter;
    const where = `customer ${figures.customer_id} product ${figures.product_id}`;
    if (figures.drift !== 0)
      violations.push(
        `${where}: counter ${figures.counter}, holds and orders say ${figures.counter + figures.drift}`,
      );
    if (figures.counter < 0) violations.push(`${where}: counter ${figures.counter} < 0`);
    if (figures.limit !== null && figures.counter > figures.limit)
      violations.push(`${where}: counter ${figures.counter} over the limit ${figures.limit}`);
  }
  return [...rows.values()].sort(
    (a, b) => a.product_id.localeCompare(b.product_id) || a.customer_id.localeCompare(b.customer_id),
  );
}

/**
 * Fixes a customer counter's drift: sets it to what their holds and orders say, conditioned on the value the check
 * saw, so a concurrent hold or release makes the repair fail harmlessly (run it again at a quiet moment).
 */
export async function repairCustomerDrift(row: CustomerFigures): Promise<boolean> {
  if (row.drift === 0) return false;
  try {
    const fixed = row.counter + row.drift;
    await writeOnce(
      'repair_customer_units',
      repairCustomerUnits(row.customer_id, row.product_id, row.counter, fixed),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionFailed) return false;
    throw error;
  }
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
    await writeOnce(
      'repair_bucket',
      repairBucket(row.product_id, row.bucket, row.available, row.stock, fixed),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionFailed) return false;
    throw error;
  }
}
