// Stock buckets for the crash and lost-answer tests: levels read from DynamoDB, draws moved by hand, and a live
// product whose holds and order sit in several buckets (one hold spanning two) before its bucket count changes.
import { getHold } from '../../shared/holds/items.ts';
import { createHold, type HoldView } from '../../shared/holds/service.ts';
import { createOrder } from '../../shared/orders/service.ts';
import type { Draw } from '../../shared/stock/items.ts';
import { planRestock } from '../../shared/stock/rules.ts';
import { putProduct } from '../../shared/stock/service.ts';
import { readProduct } from '../../shared/stock/view.ts';
import { productBody } from '../property/scenario.ts';
import { productWithBuckets, T0 } from '../support/fixtures.ts';

/** Each bucket item's `available`, by bucket number, read consistently from DynamoDB (never the process's view). */
export async function bucketLevels(product: string): Promise<number[]> {
  const view = await readProduct(product);
  return [...(view?.buckets.values() ?? [])].sort((a, b) => a.bucket - b.bucket).map((b) => b.available);
}

/**
 * Each of buckets 0..slots-1 (or more, if the product lists more): its `available`, or undefined when the item does
 * not exist. An interrupted re-split may have created buckets the product item does not list yet.
 */
export async function slotLevels(product: string, slots: number): Promise<(number | undefined)[]> {
  const view = await readProduct(product, slots);
  const length = Math.max(slots, view?.product.bucket_slots ?? 0);
  return Array.from({ length }, (_, bucket) => view?.buckets.get(bucket)?.available);
}

/** The product item's bucket count (`stock_buckets`) as stored. */
export async function storedBucketCount(product: string): Promise<number | undefined> {
  return (await readProduct(product))?.product.stock_buckets;
}

/** The draws a stored hold (or the order made from it: same id, same draws) took. */
export async function drawsOf(holdId: string): Promise<Draw[]> {
  const hold = await getHold(holdId);
  if (!hold) throw new Error(`hold ${holdId} not found`);
  return hold.draws;
}

/** `levels` with each draw's units moved: `-1` takes them from their bucket, `+1` gives them back. */
export function moved(levels: readonly number[], draws: readonly Draw[], sign: 1 | -1): number[] {
  const next = [...levels];
  for (const { bucket, qty } of draws) next[bucket] = (next[bucket] ?? 0) + sign * qty;
  return next;
}

/** The levels a restock to `stock` over `buckets` must leave, planned from the buckets as they are now. */
export async function plannedLevels(product: string, stock: number, buckets: number): Promise<number[]> {
  const view = await readProduct(product);
  const current = [...(view?.buckets.values() ?? [])];
  const plan = planRestock(current, stock, buckets);
  if (!plan.ok) throw new Error(`restock to ${stock} refused: ${plan.committed} committed`);
  return Array.from({ length: plan.slots }, (_, bucket) => {
    const change = plan.changes.find((c) => c.bucket === bucket);
    const level = current.find((b) => b.bucket === bucket)?.available ?? 0;
    if (!change) return level;
    return change.kind === 'create' ? change.stock : level + change.delta;
  });
}

export interface LiveSplitProduct {
  product: string;
  /** Active holds at T0 (expiring at +120 s): one spanning two buckets, one of a single bucket. */
  holds: HoldView[];
  /** A hold ordered at T0: its order is pending until +900 s. */
  ordered: HoldView;
  /** Units held or sold: what a restock cannot go below. */
  committed: number;
}

/**
 * 12 units over 4 buckets (3 each); a hold of 5 spans two buckets, holds of 3 and 2 take one bucket each and the 2 is
 * ordered; then a restock to 40 units over 2 buckets, so buckets 2 and 3 are retired with only committed units.
 */
export async function liveSplitProduct(): Promise<LiveSplitProduct> {
  const product = await productWithBuckets(12, 4);
  const spanning = await createHold(product, 5, T0);
  const single = await createHold(product, 3, T0);
  const ordered = await createHold(product, 2, T0);
  await createOrder(ordered.hold_id, T0);
  await putProduct(product, productBody(40, 2), T0);
  return { product, holds: [spanning, single], ordered, committed: 10 };
}
