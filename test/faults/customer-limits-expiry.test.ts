// A buyer's own expired hold and their limit: expired holds give back the units quickly and never turn a buyer away
// (README), so they must not hold on to the buyer's allowance either until the next sweep.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getHold } from '../../shared/holds/items.ts';
import { createHold } from '../../shared/holds/service.ts';
import { at, limitedProduct, T0 } from '../support/fixtures.ts';
import { expectBalanced } from './calls.ts';
import { activeHoldsOf, holdAs } from './customers.ts';

describe("a buyer's expired, not yet swept hold and their limit", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    { when: 'their expired hold sold the product out (the shortage reclaim frees it)', stock: 2 },
    { when: 'stock remains (the limit refusal reclaims first)', stock: 10 },
  ])('gives the buyer their allowance back when $when', async ({ stock }) => {
    const product = await limitedProduct(stock, 2);
    const expired = await createHold(product, 2, T0, 'alice');
    // The hold expired at +120 s and can no longer be ordered (410); the sweep has not run yet.
    vi.setSystemTime(at(121));

    const again = await holdAs('alice', product, 2);

    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect((await getHold(expired.hold_id))?.status).toBe('released');
    expect(await activeHoldsOf(product, 'alice')).toEqual([again.body.data?.hold_id]);
    await expectBalanced(product, 'after the second hold');
  });
});
