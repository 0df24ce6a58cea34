import { afterEach, describe, expect, it, vi } from 'vitest';
import { runSweepOnce } from '../../infra/local/sweeper.ts';
import { apiForThisFile, dataOf, errorOf } from '../support/http.ts';

// The defaults of shared/config.ts; this file leaves HOLD_TTL_SECONDS and PAYMENT_WINDOW_SECONDS unset.
const HOLD_TTL_MS = 120_000;
const PAYMENT_WINDOW_MS = 900_000;

const api = apiForThisFile();
// Only Date is faked: the gateway, fetch and the SDK keep their real timers, in this same process.
afterEach(() => vi.useRealTimers());

const travel = (ms: number) => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + ms);
};

async function holdOf(productId: string, qty: number): Promise<string> {
  const hold = await api.post('/api/holds', { product_id: productId, qty });
  expect(hold.status).toBe(201);
  return String(dataOf(hold).hold_id);
}

describe('hold expiry through the gateway', () => {
  it('refuses to order an expired hold even before the sweep, then the sweep returns its stock', async () => {
    await api.put('/api/admin/products/sweep', { name: 'Sweep', price: '3.00', stock: 5 });
    const bigHold = await holdOf('sweep', 3);
    await holdOf('sweep', 1);
    expect(dataOf(await api.get('/api/products/sweep'))).toMatchObject({ stock: 5, available: 1 });

    travel(HOLD_TTL_MS + 1_000);
    const late = await api.post('/api/orders', { hold_id: bigHold });
    expect(late.status).toBe(410);
    expect(errorOf(late).code).toBe('HOLD_EXPIRED');
    expect(dataOf(await api.get('/api/products/sweep'))).toMatchObject({ available: 1 });

    const report = await runSweepOnce();

    expect(report).toMatchObject({ holds_released: 2, failures: 0 });
    expect(dataOf(await api.get('/api/products/sweep'))).toMatchObject({ stock: 5, available: 5 });
    expect((await api.post('/api/orders', { hold_id: bigHold })).status).toBe(410);
  });

  it('leaves a hold inside its TTL alone', async () => {
    await api.put('/api/admin/products/fresh', { name: 'Fresh', price: '3.00', stock: 5 });
    const holdId = await holdOf('fresh', 2);

    travel(HOLD_TTL_MS - 5_000);
    await runSweepOnce();

    expect(dataOf(await api.get('/api/products/fresh'))).toMatchObject({ available: 3 });
    expect((await api.post('/api/orders', { hold_id: holdId })).status).toBe(201);
  });

  it('expires an unpaid order after the payment window and returns its stock', async () => {
    await api.put('/api/admin/products/unpaid', { name: 'Unpaid', price: '3.00', stock: 4 });
    const orderId = await holdOf('unpaid', 4);
    expect((await api.post('/api/orders', { hold_id: orderId })).status).toBe(201);
    expect(dataOf(await api.get('/api/products/unpaid'))).toMatchObject({ available: 0 });

    travel(PAYMENT_WINDOW_MS + 1_000);
    const report = await runSweepOnce();

    expect(report).toMatchObject({ orders_expired: 1, failures: 0 });
    expect(dataOf(await api.get(`/api/orders/${orderId}`))).toMatchObject({ status: 'expired' });
    expect(dataOf(await api.get('/api/products/unpaid'))).toMatchObject({ stock: 4, available: 4 });
  });
});
