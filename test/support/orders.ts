// Orders at a given point of the flow, and the checks every payment test ends with (for the provider webhook tests).
import { expect } from 'vitest';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { createHold } from '../../shared/holds/service.ts';
import { createOrder, getOrder } from '../../shared/orders/service.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { productWithStock } from './fixtures.ts';

/** productWithStock's price: 49.99 a unit, in USD. */
export const UNIT_PRICE_MINOR = 4999;

/** A pending order of `qty` units of a fresh product, created now; `total` is what it is due in minor units. */
export async function pendingOrder(stock = 10, qty = 2) {
  const product = await productWithStock(stock);
  const hold = await createHold(product, qty, new Date());
  await createOrder(hold.hold_id, new Date());
  return { product, orderId: hold.hold_id, total: UNIT_PRICE_MINOR * qty };
}

/** The product's ledger balances: every unit in exactly one of available, held, pending or paid. */
export async function expectBalanced(product: string): Promise<void> {
  expect((await checkLedger(product)).violations).toEqual([]);
}

/** A refused request changed nothing: the order is still pending and its units still taken. */
export async function expectStillPending(product: string, orderId: string, available: number): Promise<void> {
  expect((await getOrder(orderId)).status).toBe('pending');
  expect((await getProduct(product)).available).toBe(available);
}
