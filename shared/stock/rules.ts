// Pure stock rules: how many buckets, which buckets a hold draws from, how a restock spreads units. No I/O.
import type { Draw } from './items.ts';

/** Most buckets a product may have: a restock touches each in one transaction (100 items at most). */
export const MAX_STOCK_BUCKETS = 64;

/** Units per bucket the default aims for: enough that a hold of MAX_QTY_PER_HOLD fits one bucket until the end. */
export const UNITS_PER_BUCKET = 50;
/** Default ceiling: 16 buckets carry ~16 transactions per transaction latency (about 640 holds/s in the cloud). */
export const DEFAULT_MAX_BUCKETS = 16;

/** The bucket count a product gets when the admin does not choose: 1 for a few units, up to 16 for large stock. */
export const defaultBucketCount = (stock: number): number =>
  Math.min(DEFAULT_MAX_BUCKETS, Math.max(1, Math.floor(stock / UNITS_PER_BUCKET)));

export interface BucketLevel {
  bucket: number;
  available: number;
}

/**
 * Which bucket(s) a hold of `qty` draws from, or undefined when the buckets together have fewer than `qty`.
 * One bucket picked at random among those that can serve the whole hold (preferring ones not in `busy`);
 * when no single bucket can, the fullest buckets together, so nobody is refused while the total suffices.
 */
export function planDraws(
  levels: readonly BucketLevel[],
  qty: number,
  random: () => number,
  busy: ReadonlySet<number> = new Set(),
): Draw[] | undefined {
  const total = levels.reduce((sum, level) => sum + Math.max(0, level.available), 0);
  if (total < qty) return undefined;
  const whole = levels.filter((level) => level.available >= qty);
  const idle = whole.filter((level) => !busy.has(level.bucket));
  const pool = idle.length > 0 ? idle : whole;
  const picked = pool[Math.floor(random() * pool.length)];
  if (picked) return [{ bucket: picked.bucket, qty }];
  const draws: Draw[] = [];
  let needed = qty;
  for (const level of [...levels].sort((a, b) => b.available - a.available)) {
    if (needed === 0 || level.available <= 0) break;
    const take = Math.min(needed, level.available);
    draws.push({ bucket: level.bucket, qty: take });
    needed -= take;
  }
  return draws;
}

export interface BucketState {
  bucket: number;
  stock: number;
  available: number;
}

/** One bucket's part of a restock: create it, or move its stock and available by `delta`. */
export type BucketChange =
  | { kind: 'create'; bucket: number; stock: number }
  | { kind: 'move'; bucket: number; seenStock: number; delta: number };

export type RestockPlan =
  | { ok: true; changes: BucketChange[]; slots: number }
  | { ok: false; committed: number };

/**
 * Spreads `stock` units over `bucketCount` buckets. Units held or sold stay where they are (they return to their
 * bucket); the free units are split evenly over buckets 0..bucketCount-1, and buckets past the count (after a
 * decrease) keep only their committed units, so they drain and stay empty. Refused when stock < committed.
 */
export function planRestock(
  current: readonly BucketState[],
  stock: number,
  bucketCount: number,
): RestockPlan {
  const committed = current.reduce((sum, b) => sum + (b.stock - b.available), 0);
  if (stock < committed) return { ok: false, committed };
  const slots = Math.max(bucketCount, ...current.map((b) => b.bucket + 1));
  const free = stock - committed;
  const share = (bucket: number) =>
    bucket < bucketCount ? Math.floor(free / bucketCount) + (bucket < free % bucketCount ? 1 : 0) : 0;
  const changes: BucketChange[] = [];
  for (let bucket = 0; bucket < slots; bucket++) {
    const existing = current.find((b) => b.bucket === bucket);
    if (!existing) {
      changes.push({ kind: 'create', bucket, stock: share(bucket) });
      continue;
    }
    const delta = share(bucket) - existing.available;
    if (delta !== 0) changes.push({ kind: 'move', bucket, seenStock: existing.stock, delta });
  }
  return { ok: true, changes, slots };
}
