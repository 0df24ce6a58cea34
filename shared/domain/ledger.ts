// The ledger invariant, checked from the table's items: stock == available + active holds + pending + paid.
import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '../db/client.ts';
import { stockBucketKey } from '../db/keys.ts';
import type { StockBucketItem } from './products.ts';
import type { HoldItem, OrderItem } from './records.ts';

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

export interface LedgerReport {
  buckets: BucketFigures[];
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

/**
 * Checks, per product stock bucket: `stock == available + Σ active holds + Σ pending orders + Σ paid orders` and
 * `available >= 0`; and across orders: no webhook key applied to two orders. Expired, cancelled and
 * refund_required orders and released/ordered holds hold no stock. Meaningful at a quiet moment.
 */
export async function checkLedger(productId?: string): Promise<LedgerReport> {
  const items = await scanAll(productId);
  const figures = new Map<string, BucketFigures>();
  const violations: string[] = [];
  const slot = (product: string, bucket: number) => `${product}#${bucket}`;

  for (const item of items) {
    if (item.entity !== 'stock') continue;
    const stock = item as unknown as StockBucketItem;
    figures.set(slot(stock.product_id, stock.bucket), {
      product_id: stock.product_id,
      bucket: stock.bucket,
      stock: stock.stock,
      available: stock.available,
      active_holds: 0,
      pending_orders: 0,
      paid_orders: 0,
      drift: 0,
    });
  }
  const keyOwners = new Map<string, string>();
  for (const item of items) {
    if (item.entity === 'hold') {
      const hold = item as unknown as HoldItem;
      const row = figures.get(slot(hold.product_id, hold.bucket));
      if (hold.status === 'active') {
        if (row) row.active_holds += hold.qty;
        else violations.push(`hold ${hold.hold_id} holds stock of unknown product ${hold.product_id}`);
      }
    } else if (item.entity === 'order') {
      const order = item as unknown as OrderItem;
      const row = figures.get(slot(order.product_id, order.bucket));
      if (order.status === 'pending' || order.status === 'paid') {
        if (!row)
          violations.push(`order ${order.order_id} holds stock of unknown product ${order.product_id}`);
        else if (order.status === 'pending') row.pending_orders += order.qty;
        else row.paid_orders += order.qty;
      }
      if (order.payment_key) {
        const owner = keyOwners.get(order.payment_key);
        if (owner && owner !== order.order_id) {
          violations.push(
            `webhook key ${order.payment_key} applied to orders ${owner} and ${order.order_id}`,
          );
        }
        keyOwners.set(order.payment_key, order.order_id);
      }
    }
  }
  for (const row of figures.values()) {
    row.drift = row.stock - (row.available + row.active_holds + row.pending_orders + row.paid_orders);
    if (row.drift !== 0)
      violations.push(`product ${row.product_id} bucket ${row.bucket}: drift ${row.drift}`);
    if (row.available < 0)
      violations.push(`product ${row.product_id} bucket ${row.bucket}: available ${row.available} < 0`);
  }
  return {
    buckets: [...figures.values()].sort((a, b) => a.product_id.localeCompare(b.product_id)),
    violations,
  };
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
      new UpdateCommand({
        TableName: tableName,
        Key: stockBucketKey(row.product_id, row.bucket),
        UpdateExpression: 'SET available = :fixed',
        ConditionExpression: 'available = :seen AND stock = :stock',
        ExpressionAttributeValues: { ':fixed': fixed, ':seen': row.available, ':stock': row.stock },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}
