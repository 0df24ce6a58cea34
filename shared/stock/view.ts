// The per-process view of a product: catalogue and bucket levels, at most STOCK_VIEW_MAX_AGE_MS old, kept current
// by this process's own writes. It steers (which bucket to try, whether to try at all); conditions still decide.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchGetCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import { db, tableName } from '../db/client.ts';
import { budgetFits } from '../deadline.ts';
import { ServiceBusy } from '../errors.ts';
import {
  type Draw,
  type ProductItem,
  productKey,
  type StockBucketItem,
  stockBucketKey,
  type UnitsRef,
} from './items.ts';
import type { BucketLevel, BucketState } from './rules.ts';

export interface StockView {
  product: ProductItem;
  buckets: Map<number, BucketState>;
  /** performance.now() when it was read from DynamoDB. */
  loadedAt: number;
}

const views = new Map<string, StockView>();
const loading = new Map<string, Promise<StockView | undefined>>();
/** Transactions this process has in flight per product and bucket: new holds prefer the other buckets. */
const inFlight = new Map<string, Map<number, number>>();
/**
 * Buckets that answered TransactionConflict: another transaction holds them for a time we cannot see. A bucket is
 * avoided for a backoff that doubles with each conflict (10 ms .. 200 ms). A commit there lowers the streak by one
 * but keeps a shorter cool-down, so a bucket that is hot across processes is not hit again the moment we are done.
 */
const cooling = new Map<string, Map<number, { until: number; streak: number }>>();
const COOL_BASE_MS = 10;
const COOL_MAX_MS = 200;

/**
 * Reads the product and every bucket item consistently (the admin path reads through this too). `minSlots` reads
 * at least that many bucket keys: an interrupted re-split may have created buckets the product does not list yet.
 */
export async function readProduct(productId: string, minSlots = 0): Promise<StockView | undefined> {
  const { Item } = await db.send(
    new GetCommand({ TableName: tableName, Key: productKey(productId), ConsistentRead: true }),
  );
  if (!Item) return undefined;
  const product = Item as ProductItem;
  const buckets = new Map<number, BucketState>();
  const slots = Math.max(product.bucket_slots, minSlots);
  let keys = Array.from({ length: slots }, (_, bucket) => stockBucketKey(productId, bucket));
  // BatchGetItem may leave keys unprocessed under load; ask again for just those, then give up with ServiceBusy rather than
  // answer from a view that silently misses buckets.
  for (let round = 0; keys.length > 0; round++) {
    if (round === 5) throw new ServiceBusy();
    if (round > 0) {
      const wait = 25 * 2 ** round * Math.random();
      // No room left in the invocation's budget for the wait and another read: busy now, not at the timeout.
      if (!budgetFits(wait)) throw new ServiceBusy();
      await sleep(wait);
    }
    const { Responses, UnprocessedKeys } = await db.send(
      new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }),
    );
    for (const item of (Responses?.[tableName] ?? []) as StockBucketItem[]) {
      buckets.set(item.bucket, { bucket: item.bucket, stock: item.stock, available: item.available });
    }
    keys = (UnprocessedKeys?.[tableName]?.Keys ?? []) as typeof keys;
  }
  return { product, buckets, loadedAt: performance.now() };
}

/**
 * The product's view, read again when older than STOCK_VIEW_MAX_AGE_MS (1 s by default); concurrent callers in
 * this process share one read. Undefined when the product does not exist.
 */
export async function stockView(productId: string): Promise<StockView | undefined> {
  const cached = views.get(productId);
  if (cached && performance.now() - cached.loadedAt < config.STOCK_VIEW_MAX_AGE_MS) return cached;
  const pending = loading.get(productId);
  if (pending) return pending;
  const load = readProduct(productId)
    .then((view) => {
      if (view) views.set(productId, view);
      else views.delete(productId);
      return view;
    })
    .finally(() => loading.delete(productId));
  loading.set(productId, load);
  return load;
}

/** Drops the cached view (after a restock in this process), so the next request reads afresh. */
export const forgetView = (productId: string) => views.delete(productId);
/** Drops every cached view: the process starts cold (tests that count calls; after a hand edit of the table). */
export const forgetViews = () => views.clear();

export const levelsOf = (view: StockView): BucketLevel[] =>
  [...view.buckets.values()].map(({ bucket, available }) => ({ bucket, available }));

export const totalAvailable = (view: StockView) =>
  [...view.buckets.values()].reduce((sum, bucket) => sum + bucket.available, 0);

function adjust(productId: string, draws: readonly Draw[], sign: 1 | -1): void {
  const view = views.get(productId);
  for (const draw of draws) {
    const bucket = view?.buckets.get(draw.bucket);
    if (bucket) bucket.available = Math.max(0, bucket.available + sign * draw.qty);
  }
}

/** This process took units (a hold committed). */
export const noteTaken = (ref: UnitsRef) => adjust(ref.product_id, ref.draws, -1);

/**
 * Runs a write that takes or returns `ref`'s units and keeps the view in step: adjusted when it commits, dropped when
 * it fails (a retried attempt whose answer was lost may have landed before a later one was refused).
 */
export async function movingUnits<T>(
  ref: UnitsRef,
  move: 'take' | 'return',
  write: () => Promise<T>,
): Promise<T> {
  try {
    const result = await write();
    adjust(ref.product_id, ref.draws, move === 'take' ? -1 : 1);
    return result;
  } catch (error) {
    forgetView(ref.product_id);
    throw error;
  }
}

/** DynamoDB told us a bucket's level (the item returned with a failed condition). */
export function noteLevel(productId: string, bucket: number, available: number): void {
  const state = views.get(productId)?.buckets.get(bucket);
  if (state) state.available = available;
}

/** Buckets of the product with a transaction of this process in flight, or cooling after a conflict. */
export function busyBuckets(productId: string): ReadonlySet<number> {
  const now = performance.now();
  const busy = [...(inFlight.get(productId)?.entries() ?? [])]
    .filter(([, n]) => n > 0)
    .map(([bucket]) => bucket);
  const cool = [...(cooling.get(productId)?.entries() ?? [])]
    .filter(([, c]) => c.until > now)
    .map(([b]) => b);
  return new Set([...busy, ...cool]);
}

/** How long until none of `buckets` is cooling after a conflict (0 when none is). */
export function coolingLeft(productId: string, buckets: readonly number[]): number {
  const states = cooling.get(productId);
  const now = performance.now();
  return Math.max(0, ...buckets.map((bucket) => (states?.get(bucket)?.until ?? 0) - now));
}

/** The draws' buckets met a TransactionConflict (`ok` false) or committed (`ok` true). */
export function noteContention(productId: string, buckets: readonly number[], ok: boolean): void {
  const states = cooling.get(productId) ?? new Map<number, { until: number; streak: number }>();
  cooling.set(productId, states);
  for (const bucket of buckets) {
    const streak = Math.max(0, (states.get(bucket)?.streak ?? 0) + (ok ? -1 : 1));
    if (streak === 0) {
      states.delete(bucket);
      continue;
    }
    const backoff = Math.min(COOL_MAX_MS, COOL_BASE_MS * 2 ** (streak - 1));
    states.set(bucket, { until: performance.now() + backoff * (0.5 + Math.random() / 2), streak });
  }
}

interface Gate {
  inUse: number;
  waiters: Array<() => void>;
}
const gates = new Map<string, Gate>();

/**
 * Runs `operation` holding one of `capacity` slots of the product in this process, first come first served. With one
 * slot per bucket, this process never sends two transactions at one bucket, and its waiting buyers are served in
 * order instead of by luck. A Lambda serves one request at a time, so there it never waits. Undefined, without
 * running `operation`, when no slot came free within `maxWaitMs`: the caller answers busy before anything is written
 * (a request answered at its timeout must not reserve anything afterwards).
 */
export async function withBucketSlot<T>(
  productId: string,
  capacity: number,
  maxWaitMs: number,
  operation: () => Promise<T>,
): Promise<{ result: T } | undefined> {
  const gate = gates.get(productId) ?? { inUse: 0, waiters: [] };
  gates.set(productId, gate);
  if (gate.inUse < capacity && gate.waiters.length === 0) gate.inUse++;
  else if (!(await waitForSlot(gate, maxWaitMs))) return undefined;
  try {
    return { result: await operation() };
  } finally {
    // Hand the slot straight to the next in line, or give it back.
    const next = gate.waiters.shift();
    if (next) next();
    else gate.inUse--;
  }
}

/** Queues for a slot; false (and out of the queue) when none came free in time. */
function waitForSlot(gate: Gate, maxWaitMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const granted = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      const queued = gate.waiters.indexOf(granted);
      if (queued >= 0) gate.waiters.splice(queued, 1);
      resolve(false);
    }, maxWaitMs);
    gate.waiters.push(granted);
  });
}

/** Marks the draws' buckets in flight while `operation` runs. */
export async function whileInFlight<T>(
  productId: string,
  draws: readonly Draw[],
  operation: () => Promise<T>,
) {
  const counts = inFlight.get(productId) ?? new Map<number, number>();
  inFlight.set(productId, counts);
  for (const { bucket } of draws) counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
  try {
    return await operation();
  } finally {
    for (const { bucket } of draws) counts.set(bucket, (counts.get(bucket) ?? 1) - 1);
  }
}
