// The Lambda-model subset: a warm create-hold environment that last saw a product sold out, after a sweep in the
// sweeper's own environment freed units. Its stock view may say "sold out" for at most STOCK_VIEW_MAX_AGE_MS, the
// view's documented age bound (shared/config.ts); a request that starts later is granted.
// First: this file's contention endpoint, before the runtime copies DYNAMODB_ENDPOINT into the environments.
import '../support/contention-on.ts';

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { type ApiResponse, dataOf, errorOf, stackForThisFile } from '../support/http.ts';

// The default of shared/config.ts; this file leaves HOLD_TTL_SECONDS unset.
const HOLD_TTL_MS = 120_000;
/** The view's age bound, set explicitly to the largest value shared/config.ts allows (its default). */
const STOCK_VIEW_MAX_AGE_MS = 1_000;
const STOCK = 3;

// One create-hold environment: every hold of this file is served by the same module instance, so by one view.
const stack = stackForThisFile({
  caps: { 'create-hold': 1 },
  functionEnv: { 'create-hold': { STOCK_VIEW_MAX_AGE_MS: String(STOCK_VIEW_MAX_AGE_MS) } },
});
const { api } = stack;

afterEach(() => vi.useRealTimers());

describe('a warm create-hold environment after a sweep elsewhere', () => {
  it("grants the units a sweep in its own environment freed within the view's documented age bound", async () => {
    const product = `lm-${randomUUID().slice(0, 8)}`;
    expect(
      (await api.put(`/api/admin/products/${product}`, { name: 'P', price: '1.00', stock: STOCK })).status,
    ).toBe(201);
    const hold = () => api.post('/api/holds', { product_id: product, qty: 1 });
    for (let i = 0; i < STOCK; i++) expect((await hold()).status).toBe(201);
    // The sweeper's environment warm too, so the sweep below is quick and the view it races is still young.
    expect(await stack.sweep()).toMatchObject({ skipped: false, failures: 0 });

    // The environment sees the product sold out: its view says 0 (no hold has expired yet, nothing to reclaim).
    const soldOut = await hold();
    const sawSoldOutBy = performance.now();
    expect(soldOut.status).toBe(409);
    expect(errorOf(soldOut).code).toBe('INSUFFICIENT_STOCK');

    // The holds expire and the sweeper, in its own environment, releases them.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + HOLD_TTL_MS + 1_000);
    expect(await stack.sweep()).toMatchObject({ skipped: false, failures: 0, holds_released: STOCK });
    const sweptAfterMs = performance.now() - sawSoldOutBy;

    // The view ages in the environment's own monotonic clock, which no fake clock of this process reaches: ask
    // again until granted. A refusal is right only while the view read when it saw sold out can still be used (the
    // request started less than STOCK_VIEW_MAX_AGE_MS after that answer); any later request must be granted, so
    // this loop ends by a grant or a failed assertion.
    const stale: ApiResponse[] = [];
    let granted: ApiResponse | undefined;
    let grantedAfterMs = 0;
    while (!granted) {
      const startedAfterMs = performance.now() - sawSoldOutBy;
      grantedAfterMs = startedAfterMs;
      const answer = await hold();
      if (answer.status === 201) {
        granted = answer;
        break;
      }
      expect(`${answer.status} ${errorOf(answer).code}`).toBe('409 INSUFFICIENT_STOCK');
      expect(startedAfterMs, 'refused though its view was past its age bound').toBeLessThan(
        STOCK_VIEW_MAX_AGE_MS,
      );
      stale.push(answer);
      await sleep(50);
    }

    expect(dataOf(granted)).toMatchObject({ product_id: product, qty: 1, status: 'active' });
    // The same warm environment answered all of it: one create-hold environment, started once.
    expect(stack.runtime().stats()['create-hold']).toMatchObject({ environments: 1, coldStarts: 1 });
    expect(stack.runtime().stats()['expire-holds']).toMatchObject({ invocations: 2, errors: 0 });
    const report = await checkLedger(product);
    expect(report.violations).toEqual([]);
    expect(report.products[0]).toMatchObject({ available: STOCK - 1, active_holds: 1 });
    console.log(
      `stale view: swept ${Math.round(sweptAfterMs)} ms after the sold-out answer; ${stale.length} refusal(s) ` +
        `from the warm environment's view, then granted by a request started ${Math.round(grantedAfterMs)} ms after it`,
    );
  });
});
