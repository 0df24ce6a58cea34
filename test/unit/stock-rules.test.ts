// The pure stock rules, exhaustively over small shapes: bucket choice, multi-bucket draws, restock plans.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BucketState,
  DEFAULT_MAX_BUCKETS,
  defaultBucketCount,
  planDraws,
  planRestock,
} from '../../shared/stock/rules.ts';

const levels = (available: number[]) => available.map((units, bucket) => ({ bucket, available: units }));

describe('defaultBucketCount', () => {
  it('keeps a few units in one bucket and grows one bucket per 50 units up to 16', () => {
    expect([0, 1, 49, 99, 100, 149, 500, 799, 800, 1_000_000].map(defaultBucketCount)).toEqual([
      1,
      1,
      1,
      1,
      2,
      2,
      10,
      15,
      16,
      DEFAULT_MAX_BUCKETS,
    ]);
  });
});

describe('planDraws', () => {
  it('draws from one bucket that can serve the whole hold, picked by the random source', () => {
    expect(planDraws(levels([5, 0, 5]), 3, () => 0)).toEqual([{ bucket: 0, qty: 3 }]);
    expect(planDraws(levels([5, 0, 5]), 3, () => 0.99)).toEqual([{ bucket: 2, qty: 3 }]);
  });

  it('prefers buckets this process is not already writing, and falls back to them when nothing else serves', () => {
    expect(planDraws(levels([5, 5]), 1, () => 0, new Set([0]))).toEqual([{ bucket: 1, qty: 1 }]);
    expect(planDraws(levels([5, 0]), 1, () => 0, new Set([0]))).toEqual([{ bucket: 0, qty: 1 }]);
  });

  it('spans the fullest buckets when no single one suffices, and refuses only when the total is short', () => {
    expect(planDraws(levels([2, 3, 1]), 5, () => 0)).toEqual([
      { bucket: 1, qty: 3 },
      { bucket: 0, qty: 2 },
    ]);
    expect(planDraws(levels([2, 3, 1]), 7, () => 0)).toBeUndefined();
  });

  it('never refuses while the total covers qty, and always draws exactly qty from buckets that have it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(6), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 12 }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (available, qty, r) => {
          const draws = planDraws(levels(available), qty, () => r);
          const total = available.reduce((a, b) => a + b, 0);
          if (total < qty) {
            expect(draws).toBeUndefined();
            return;
          }
          expect(draws?.reduce((sum, draw) => sum + draw.qty, 0)).toBe(qty);
          for (const draw of draws ?? []) {
            expect(draw.qty).toBeGreaterThan(0);
            expect(draw.qty).toBeLessThanOrEqual(available[draw.bucket] ?? 0);
          }
          expect(new Set(draws?.map((draw) => draw.bucket)).size).toBe(draws?.length);
        },
      ),
    );
  });
});

/** Applies a plan the way DynamoDB would: creates and moves, with their conditions. */
function apply(current: BucketState[], plan: ReturnType<typeof planRestock>): BucketState[] {
  if (!plan.ok) throw new Error('refused');
  const next = new Map(current.map((b) => [b.bucket, { ...b }]));
  for (const change of plan.changes) {
    if (change.kind === 'create') {
      expect(next.has(change.bucket)).toBe(false);
      next.set(change.bucket, { bucket: change.bucket, stock: change.stock, available: change.stock });
    } else {
      const bucket = next.get(change.bucket);
      if (!bucket) throw new Error(`no bucket ${change.bucket}`);
      expect(bucket.stock).toBe(change.seenStock);
      expect(bucket.available + change.delta).toBeGreaterThanOrEqual(0);
      bucket.stock += change.delta;
      bucket.available += change.delta;
    }
  }
  return [...next.values()].sort((a, b) => a.bucket - b.bucket);
}

describe('planRestock', () => {
  it('spreads a new product evenly, the remainder on the first buckets', () => {
    const plan = planRestock([], 10, 4);
    expect(plan).toEqual({
      ok: true,
      slots: 4,
      changes: [3, 3, 2, 2].map((stock, bucket) => ({ kind: 'create', bucket, stock })),
    });
  });

  it('refuses stock below the units held or sold, naming them', () => {
    const current = [
      { bucket: 0, stock: 5, available: 1 },
      { bucket: 1, stock: 5, available: 4 },
    ];
    expect(planRestock(current, 4, 2)).toEqual({ ok: false, committed: 5 });
  });

  it('keeps every bucket balanced, the total right and the free units even, for any state, stock and count', () => {
    const bucketState = fc
      .tuple(fc.nat(8), fc.nat(8))
      .map(([committed, free]) => ({ stock: committed + free, available: free }));
    fc.assert(
      fc.property(
        fc.array(bucketState, { minLength: 1, maxLength: 6 }),
        fc.nat(40),
        fc.integer({ min: 1, max: 8 }),
        (states, stock, count) => {
          const current = states.map((state, bucket) => ({ bucket, ...state }));
          const committed = current.reduce((sum, b) => sum + b.stock - b.available, 0);
          const plan = planRestock(current, stock, count);
          if (stock < committed) {
            expect(plan).toEqual({ ok: false, committed });
            return;
          }
          const after = apply(current, plan);
          expect(after.reduce((sum, b) => sum + b.stock, 0)).toBe(stock);
          for (const bucket of after) {
            const before = current.find((b) => b.bucket === bucket.bucket);
            // Held and sold units never move: they return to the bucket they came from.
            expect(bucket.stock - bucket.available).toBe(before ? before.stock - before.available : 0);
          }
          const active = after.filter((b) => b.bucket < count).map((b) => b.available);
          expect(Math.max(...active) - Math.min(...active)).toBeLessThanOrEqual(1);
          expect(after.filter((b) => b.bucket >= count).every((b) => b.available === 0)).toBe(true);
        },
      ),
    );
  });
});
