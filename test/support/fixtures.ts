// Small builders shared by integration tests: products with stock, and a clock that only moves when told.
import { randomUUID } from 'node:crypto';
import { dynamo } from '../../shared/db/client.ts';
import { putProduct } from '../../shared/stock/service.ts';

export const T0 = new Date('2026-11-25T10:00:00.000Z');
export const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

/** A product with a fresh id (test files share nothing, tests in a file share the table); default bucket count. */
export async function productWithStock(stock: number, price = '49.99', buckets?: number): Promise<string> {
  const id = `p-${randomUUID().slice(0, 8)}`;
  await putProduct(
    id,
    { name: `Product ${id}`, price, currency: 'USD', stock, ...(buckets ? { stock_buckets: buckets } : {}) },
    T0,
  );
  return id;
}

/** A product of `stock` units, at most `limit` per customer (default bucket count unless `buckets`). */
export async function limitedProduct(stock: number, limit: number, buckets?: number): Promise<string> {
  const id = `p-${randomUUID().slice(0, 8)}`;
  await putProduct(
    id,
    {
      name: `Limited ${id}`,
      price: '10.00',
      currency: 'USD',
      stock,
      max_per_customer: limit,
      ...(buckets ? { stock_buckets: buckets } : {}),
    },
    T0,
  );
  return id;
}

/** A product whose stock is split over `buckets` buckets. */
export const productWithBuckets = (stock: number, buckets: number) =>
  productWithStock(stock, '10.00', buckets);

/**
 * Counts the commands sent on the shared client whose input mentions `needle` (a key prefix such as `STOCK#p-1#`),
 * by command name, until the returned function is called.
 */
export function countCommandsTouching(needle: string): { counts: Record<string, number>; stop: () => void } {
  const counts: Record<string, number> = {};
  const name = `countTouching-${randomUUID()}`;
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      if (JSON.stringify(args.input).includes(needle)) {
        const command = context.commandName ?? 'unknown';
        counts[command] = (counts[command] ?? 0) + 1;
      }
      return next(args);
    },
    { step: 'initialize', name },
  );
  return { counts, stop: () => void dynamo.middlewareStack.remove(name) };
}
