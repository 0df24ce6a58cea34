// First: this file's contention endpoint, before the app's client reads DYNAMODB_ENDPOINT.
import '../support/contention-on.ts';

import { describe, expect, it } from 'vitest';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { createHold } from '../../shared/holds/service.ts';
import { sweep } from '../../shared/sweep/service.ts';
import { contention } from '../support/contention-on.ts';
import { at, limitedProduct, T0 } from '../support/fixtures.ts';

const codeOf = (result: PromiseSettledResult<unknown>) =>
  result.status === 'fulfilled' ? 'OK' : ((result.reason as { code?: string }).code ?? String(result.reason));

function tally(results: PromiseSettledResult<unknown>[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const result of results) counts[codeOf(result)] = (counts[codeOf(result)] ?? 0) + 1;
  return counts;
}

describe('per-customer limits under the contention mode', () => {
  it('grants exactly 2 of 50 parallel holds from one customer limited to 2', async () => {
    const product = await limitedProduct(100, 2);

    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => createHold(product, 1, T0, 'bot')),
    );

    const counts = tally(results);
    expect(counts.OK).toBe(2);
    expect(
      Object.keys(counts).filter(
        (code) => !['OK', 'CUSTOMER_LIMIT_REACHED', 'SERVICE_UNAVAILABLE'].includes(code),
      ),
    ).toEqual([]);
    const report = await checkLedger(product);
    expect(report.violations).toEqual([]);
    expect(report.customers).toMatchObject([{ customer_id: 'bot', counter: 2, active_holds: 2 }]);
    expect(contention.stats().transactionConflicts).toBeGreaterThan(0);
  });

  it('sells out to a crowd of limited buyers: nobody over the limit, no unit sold twice, allowances back at expiry', async () => {
    const product = await limitedProduct(150, 2);
    const buyers = Array.from({ length: 100 }, (_, i) => `buyer-${i}`);
    const results: PromiseSettledResult<unknown>[] = [];

    // 64 at a time, each buyer buying again as soon as answered until refused (like the hot-product crowd).
    await Promise.all(
      Array.from({ length: 64 }, async (_, worker) => {
        for (let next = worker; next < buyers.length; next += 64) {
          for (;;) {
            const [result] = await Promise.allSettled([createHold(product, 1, T0, buyers[next])]);
            if (result) results.push(result);
            if (result?.status === 'rejected' && codeOf(result) !== 'SERVICE_UNAVAILABLE') break;
          }
        }
      }),
    );

    const counts = tally(results);
    expect(counts.OK).toBe(150);
    expect(Object.keys(counts).sort()).toEqual(
      [
        'CUSTOMER_LIMIT_REACHED',
        'INSUFFICIENT_STOCK',
        'OK',
        ...(counts.SERVICE_UNAVAILABLE ? ['SERVICE_UNAVAILABLE'] : []),
      ].sort(),
    );
    expect((counts.SERVICE_UNAVAILABLE ?? 0) / results.length).toBeLessThan(0.01);
    const report = await checkLedger(product);
    expect(report.violations).toEqual([]);
    expect(report.customers.every((row) => row.counter <= 2)).toBe(true);
    expect(report.customers.reduce((sum, row) => sum + row.counter, 0)).toBe(150);

    await sweep(at(121));
    const after = await checkLedger(product);
    expect(after.violations).toEqual([]);
    expect(after.customers.every((row) => row.counter === 0)).toBe(true);
  });
});
