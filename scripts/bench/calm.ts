// Section 2: uncontended (the endpoint forwarding, mode off), each handler against the raw floor of its own writes
// or read, both through the same caller, paired A B B A.
import { randomUUID } from 'node:crypto';
import { type Caller, createProduct } from './app.ts';
import { BIG_STOCK, CALM_GET_OPS, CALM_HOLD_OPS } from './cli.ts';
import { num } from './format.ts';
import { type Failures, note, type Op, pairedRates } from './load.ts';
import { putRawBucket, RAW_LIMIT, type RawOutcome } from './raw.ts';

/** The three comparisons: a hold, a hold by a new buyer of a limited product (the counter rides along), a GET. */
export const COMPARISONS = {
  holds: { handler: 'POST /api/holds', raw: 'raw 2-item txn' },
  limited: { handler: 'limited hold', raw: 'raw 3-item txn' },
  get: { handler: 'GET product', raw: 'raw GetItem (CR)' },
} as const;
export type Comparison = keyof typeof COMPARISONS;

export interface Calm {
  caller: string;
  workers: number;
  /** ops/s of the handler and of its raw floor. */
  rates: Record<Comparison, { handler: number; raw: number }>;
  failures: Failures;
}

/** Wraps a handler call: anything but `expected` is counted by status. */
const handlerOp =
  (call: () => Promise<{ status: number }>, expected: number, failures: Failures): Op =>
  async () => {
    const { status } = await call();
    if (status !== expected) note(failures, `HTTP ${status}`);
  };

/** Wraps a raw call: every outcome but `ok` is counted by name. */
const rawOp =
  (call: () => Promise<RawOutcome | RawOutcome[]>, failures: Failures): Op =>
  async () => {
    const outcomes = [await call()].flat();
    for (const outcome of outcomes) if (outcome !== 'ok') note(failures, `raw ${outcome}`);
  };

export async function calmSection(
  caller: Caller,
  tag: string,
  options: { workers: number; flip: boolean },
): Promise<Calm> {
  const { workers, flip } = options;
  const [productId, limitedId, rawId] = [`${tag}-calm`, `${tag}-limited`, `${tag}-calm-raw`];
  await Promise.all([
    createProduct(productId, BIG_STOCK),
    createProduct(limitedId, BIG_STOCK, undefined, RAW_LIMIT),
    putRawBucket(rawId),
  ]);
  const failures: Failures = new Map();
  const buyer = () => `buyer-${randomUUID()}`;
  const sides: Record<
    Comparison,
    {
      ops: number;
      expected: number;
      handler: () => Promise<{ status: number }>;
      raw: () => Promise<RawOutcome | RawOutcome[]>;
    }
  > = {
    holds: {
      ops: CALM_HOLD_OPS,
      expected: 201,
      handler: () => caller.postHold(productId),
      raw: () => caller.rawHold(rawId),
    },
    limited: {
      ops: CALM_HOLD_OPS,
      expected: 201,
      handler: () => caller.postHold(limitedId, buyer()),
      raw: () => caller.rawHold(rawId, buyer()),
    },
    get: {
      ops: CALM_GET_OPS,
      expected: 200,
      handler: () => caller.getProduct(productId),
      raw: () => caller.rawGet(productId),
    },
  };
  const rates = {} as Calm['rates'];
  for (const [comparison, side] of Object.entries(sides) as [Comparison, (typeof sides)[Comparison]][]) {
    const [handler, raw] = await pairedRates(
      side.ops,
      workers,
      handlerOp(side.handler, side.expected, failures),
      rawOp(side.raw, failures),
      flip,
    );
    rates[comparison] = { handler, raw };
  }
  return { caller: caller.label, workers, rates, failures };
}

export function printCalm(calm: Calm): void {
  for (const [comparison, labels] of Object.entries(COMPARISONS) as [
    Comparison,
    (typeof COMPARISONS)[Comparison],
  ][]) {
    const { handler, raw } = calm.rates[comparison];
    console.log(
      `    ${labels.handler.padEnd(16)} ${num(handler).padStart(6)} ops/s vs ${labels.raw.padEnd(17)} ${num(raw).padStart(6)} ops/s = ${num(handler / raw, 2)}x`,
    );
  }
  if (calm.failures.size > 0)
    console.log(
      `    answers/errors besides success: ${[...calm.failures].map(([k, n]) => `${k}x${n}`).join(' ')}`,
    );
}
