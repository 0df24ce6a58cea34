// Small builders shared by integration tests: products with stock, and a clock that only moves when told.
import { randomUUID } from 'node:crypto';
import { putProduct } from '../../shared/stock/service.ts';

export const T0 = new Date('2026-11-25T10:00:00.000Z');
export const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

/** A product with a fresh id (test files share nothing, tests in a file share the table). */
export async function productWithStock(stock: number, price = '49.99'): Promise<string> {
  const id = `p-${randomUUID().slice(0, 8)}`;
  await putProduct(id, { name: `Product ${id}`, price, currency: 'USD', stock }, T0);
  return id;
}
