// One hot product under the contention mode (the cloud's conflicts, occupancy and partition limits, scaled to this
// machine): no oversell, only 201/409/503 with 503 rare, expired stock reaches the crowd, restocks under load balance.
// First: this file's contention endpoint, before the app's client reads DYNAMODB_ENDPOINT.
import '../support/contention-on.ts';

import { describe, expect, it } from 'vitest';
import { handler as createHoldHandler } from '../../functions/create-hold.ts';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { getHold } from '../../shared/holds/items.ts';
import { reclaimForBuyers } from '../../shared/holds/reclaim.ts';
import { createHold } from '../../shared/holds/service.ts';
import { reclaimLeaseName } from '../../shared/leases/items.ts';
import { acquireLease } from '../../shared/leases/service.ts';
import { putProduct } from '../../shared/stock/service.ts';
import { readProduct } from '../../shared/stock/view.ts';
import { sweep } from '../../shared/sweep/service.ts';
import { contention } from '../support/contention-on.ts';
import { at, productWithBuckets, productWithStock, T0 } from '../support/fixtures.ts';
import { invoke } from '../support/lambda.ts';

/** Answers by status (and error code), e.g. { '201': 10, '409 INSUFFICIENT_STOCK': 90 }. */
function tally(answers: { status: number; body: { error?: { code: string } } }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { status, body } of answers) {
    const key = body.error ? `${status} ${body.error.code}` : String(status);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

async function expectNoOversell(product: string, granted: number): Promise<void> {
  const report = await checkLedger(product);
  expect(report.violations).toEqual([]);
  const total = report.products[0];
  expect(total && total.stock - total.available).toBe(granted);
}

describe('one hot product under the contention mode', () => {
  it('sells out to 64 buyers who keep buying, over the default buckets: no unit sold twice, under 1% answered 503', async () => {
    const product = await productWithStock(300);
    expect((await readProduct(product))?.product.stock_buckets).toBe(6);
    const answers: Awaited<ReturnType<typeof invoke>>[] = [];

    // Each buyer buys again as soon as answered, until told the product is sold out (like the bench's windows).
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        for (;;) {
          const answer = await invoke(createHoldHandler, { body: { product_id: product, qty: 1 } });
          answers.push(answer);
          if (answer.status === 409) return;
        }
      }),
    );

    const counts = tally(answers);
    const allowed = ['201', '409 INSUFFICIENT_STOCK', '503 SERVICE_UNAVAILABLE'];
    expect(Object.keys(counts).filter((key) => !allowed.includes(key))).toEqual([]);
    expect(counts['201']).toBe(300);
    expect(counts['409 INSUFFICIENT_STOCK']).toBe(64);
    expect((counts['503 SERVICE_UNAVAILABLE'] ?? 0) / answers.length).toBeLessThan(0.01);
    await expectNoOversell(product, 300);
    console.log(
      `buyers under contention: ${JSON.stringify(counts)}, conflicts ${contention.stats().transactionConflicts}`,
    );
  });

  it('never leaves a hold behind an answer of 503, even when one bucket makes 64 buyers queue', async () => {
    const product = await productWithBuckets(100_000, 1);
    const answers: Awaited<ReturnType<typeof invoke>>[] = [];
    const until = performance.now() + 5_000;

    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (performance.now() < until) {
          answers.push(await invoke(createHoldHandler, { body: { product_id: product, qty: 1 } }));
        }
      }),
    );

    const counts = tally(answers);
    expect(Object.keys(counts).filter((key) => !['201', '503 SERVICE_UNAVAILABLE'].includes(key))).toEqual(
      [],
    );
    // The queue still sells (refusing everyone would also leave no hold behind a 503)...
    expect(counts['201'] ?? 0).toBeGreaterThan(0);
    // ...and every unit taken is a 201: a buyer told 503 holds nothing.
    await expectNoOversell(product, counts['201'] ?? 0);
    console.log(`one bucket, 64 buyers: ${JSON.stringify(counts)}`);
  });

  it('gives the units of expired, unswept holds to a crowd of 100: exactly as many holds as units, no 503', async () => {
    const product = await productWithBuckets(10, 1);
    for (let i = 0; i < 10; i++) await createHold(product, 1, T0);
    const later = new Date(Date.now() + 10 * 60_000);

    const answers = await Promise.allSettled(
      Array.from({ length: 100 }, () => createHold(product, 1, later)),
    );

    const codes = answers.map((r) =>
      r.status === 'fulfilled' ? 'OK' : (r.reason as { code?: string }).code,
    );
    expect(codes.filter((code) => code === 'OK')).toHaveLength(10);
    expect(codes.filter((code) => code === 'INSUFFICIENT_STOCK')).toHaveLength(90);
    await expectNoOversell(product, 10);
  });

  it('keeps every bucket balanced while restocks and bucket-count changes run under a burst of holds', async () => {
    const product = await productWithBuckets(200, 4);
    const plan = [
      [260, 6],
      [240, 2],
      [300, 8],
    ] as const;

    const [holds, restocks] = await Promise.all([
      Promise.allSettled(Array.from({ length: 150 }, () => createHold(product, 1, T0))),
      (async () => {
        const results: string[] = [];
        for (const [stock, stock_buckets] of plan) {
          const body = { name: 'P', price: '1.00', currency: 'USD', stock, stock_buckets };
          results.push(
            await putProduct(product, body, T0).then(
              () => 'ok',
              (error: { code?: string }) => error.code ?? 'error',
            ),
          );
        }
        return results;
      })(),
    ]);

    const granted = holds.filter((r) => r.status === 'fulfilled').length;
    const refusals = holds.flatMap((r) =>
      r.status === 'rejected' ? [(r.reason as { code?: string }).code] : [],
    );
    expect(refusals.every((code) => code === 'SERVICE_UNAVAILABLE')).toBe(true);
    // Stock never ran short (150 one-unit holds, at least 200 units): holds are granted through the restocks.
    expect(granted).toBeGreaterThan(0);
    expect(restocks.every((result) => result === 'ok' || result === 'SERVICE_UNAVAILABLE')).toBe(true);
    // Every bucket balances whatever the restocks answered (a 503 may have applied part of its PUT)...
    expect((await checkLedger(product)).violations).toEqual([]);
    // ...and repeating the last PUT, as a 503 tells the admin to, reaches its target.
    const [stock, stock_buckets] = plan[plan.length - 1] ?? [0, 1];
    await putProduct(product, { name: 'P', price: '1.00', currency: 'USD', stock, stock_buckets }, T0);
    const report = await checkLedger(product);
    expect(report.violations).toEqual([]);
    expect(report.products[0]).toMatchObject({ stock, active_holds: granted });
    expect((await readProduct(product))?.product.stock_buckets).toBe(stock_buckets);
    console.log(`restocks under load: ${restocks.join(', ')}; ${granted} holds granted`);
  });
});

describe('reclaim and sweep leases', () => {
  it('lets no buyer reclaim while another process holds the reclaim lease, and tells the crowd the truth', async () => {
    const product = await productWithBuckets(3, 1);
    const expired = await Promise.all([1, 2, 3].map(() => createHold(product, 1, T0)));
    const other = await acquireLease(reclaimLeaseName(product), 2_000);
    expect(other).toBeDefined();

    const refused = await Promise.allSettled([
      createHold(product, 1, at(121)),
      createHold(product, 1, at(121)),
    ]);

    expect(refused.map((r) => r.status === 'rejected' && (r.reason as { code?: string }).code)).toEqual([
      'INSUFFICIENT_STOCK',
      'INSUFFICIENT_STOCK',
    ]);
    const statuses = await Promise.all(expired.map(async (hold) => (await getHold(hold.hold_id))?.status));
    expect(statuses).toEqual(['active', 'active', 'active']);
    await other?.release();
    expect(await reclaimForBuyers(product, at(122))).toEqual({ freed: 3, elsewhere: false, unsure: false });
  });

  it('runs one sweep at a time: an overlapping sweep is skipped and every item is settled once', async () => {
    const product = await productWithBuckets(60, 3);
    for (let i = 0; i < 40; i++) await createHold(product, 1, T0);

    const [a, b] = await Promise.all([sweep(at(200)), sweep(at(200))]);

    expect([a.skipped, b.skipped].sort()).toEqual([false, true]);
    const ran = a.skipped ? b : a;
    // The file's table is shared: other tests' expired holds are swept too.
    expect(ran.holds_released).toBeGreaterThanOrEqual(40);
    expect(ran.failures).toBe(0);
    expect(ran.rate_per_second).toBeGreaterThan(0);
    await expectNoOversell(product, 0);
    expect((await checkLedger(product)).products[0]?.active_holds).toBe(0);
  });
});
