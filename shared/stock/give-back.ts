// Giving units back: the one builder of the transaction items that return a hold's or an order's units to the buckets
// they came from AND move its buyer's counter down by as many, so no caller can return one without the other.
import { type CustomerUnitsRef, uncountUnits, uncountUnitsOfMany } from '../customers/items.ts';
import type { TransactItem } from '../db/transact.ts';
import { returnUnits, type UnitsRef } from './items.ts';

/** Units a hold or an order holds: where they came from, how many, and whose they are (absent: anonymous). */
export type HeldUnits = UnitsRef & CustomerUnitsRef;

/** The items that give `held` back: one per bucket it drew from, and its buyer's counter (if identified). */
export const giveUnitsBack = (held: HeldUnits): Record<string, TransactItem> => ({
  ...returnUnits(held),
  ...uncountUnits(held),
});

/** The units of many holds of one product pooled: one draw per bucket, with the sum drawn from it. */
export function pooledUnits(held: readonly HeldUnits[]): UnitsRef {
  const [first] = held;
  if (!first) throw new Error('pooledUnits: nothing to pool');
  const byBucket = new Map<number, number>();
  for (const { product_id, draws } of held) {
    if (product_id !== first.product_id) throw new Error('pooledUnits: holds of more than one product');
    for (const { bucket, qty } of draws) byBucket.set(bucket, (byBucket.get(bucket) ?? 0) + qty);
  }
  return { product_id: first.product_id, draws: [...byBucket].map(([bucket, qty]) => ({ bucket, qty })) };
}

/**
 * The items that give many holds of one product back in one transaction (a batch release): each bucket once, with
 * the sum drawn from it, and each buyer's counter once, with the sum of their holds.
 */
export const giveUnitsBackOfMany = (held: readonly HeldUnits[]): Record<string, TransactItem> => ({
  ...returnUnits(pooledUnits(held)),
  ...uncountUnitsOfMany(held),
});
