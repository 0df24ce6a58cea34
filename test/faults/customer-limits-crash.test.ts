// A Lambda dying after any of its DynamoDB calls on a path that moves a buyer's counter: the counter always agrees
// with their holds and orders, the retry or the next sweep moves it exactly once, and the buyer can hold again
// exactly up to the limit.
import { randomUUID } from 'node:crypto';
import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { customerUnitsKey } from '../../shared/customers/items.ts';
import { db, tableName } from '../../shared/db/client.ts';
import { createHold } from '../../shared/holds/service.ts';
import { clearTable } from '../property/scenario.ts';
import { at, countCommandsTouching, limitedProduct, T0 } from '../support/fixtures.ts';
import {
  callsMadeBy,
  crashColdAfter,
  crashHooks,
  expectBalanced,
  retryPastInProgress,
  sweepNow,
} from './calls.ts';
import {
  activeHoldsOf,
  COUNTER_PATHS,
  type CounterPath,
  expectAllowances,
  holdAs,
  sweepBatch,
} from './customers.ts';

/** For every k below the calls a fault-free run makes: crash after k calls, check, recover, check the outcome. */
async function crashEverywhere<T extends { product: string }>(path: CounterPath<T>): Promise<void> {
  const n = await callsMadeBy(path.arrange, path.act);
  expect(n, 'calls of a fault-free run').toBeGreaterThan(1);
  for (let k = 0; k < n; k++) {
    const label = `k=${k} of ${n}`;
    await clearTable();
    vi.setSystemTime(T0);
    const arranged = await path.arrange();

    // What a dead Lambda answered is nobody's business: the client saw a timeout.
    await crashColdAfter(k, () => path.act(arranged)).catch(() => 'crashed');

    await expectBalanced(arranged.product, `${label} after the crash`);
    await path.recover(arranged, undefined, label);
    await expectBalanced(arranged.product, `${label} after the recovery`);
    await path.check(arranged, label);
  }
}

describe('crash after k DynamoDB calls on a path that moves a customer counter', () => {
  crashHooks();

  it('a limited hold crashed after any call never happened; its retry is counted once and the buyer can then hold exactly up to the limit', async () => {
    const arrange = async () => ({ product: await limitedProduct(10, 3) });
    const n = await callsMadeBy(arrange, ({ product }) => holdAs('alice', product, 2));
    // From a cold process: the product, its buckets, then the transaction with the units, the hold and the counter.
    expect(n).toBe(3);

    for (let k = 0; k < n; k++) {
      await clearTable();
      vi.setSystemTime(T0);
      const { product } = await arrange();

      await crashColdAfter(k, () => holdAs('alice', product, 2));

      await expectBalanced(product, `k=${k} after the crash`);
      expect(await activeHoldsOf(product, 'alice'), `k=${k}`).toEqual([]);
      vi.setSystemTime(at(1));
      const retry = await holdAs('alice', product, 2);
      expect(retry.status, `k=${k}`).toBe(201);
      expect(await activeHoldsOf(product, 'alice'), `k=${k}`).toEqual([retry.body.data?.hold_id]);
      await expectAllowances(product, 3, { alice: 2 }, at(2), `k=${k}`);
    }
  });

  it('a limited hold with Idempotency-Key crashed after its transaction leaves an orphan that counts against the limit: the retry is refused CUSTOMER_LIMIT_REACHED until the orphan expires, then granted once', async () => {
    const arrange = async () => ({ product: await limitedProduct(10, 3), key: randomUUID() });
    const send = ({ product, key }: { product: string; key: string }) =>
      holdAs('alice', product, 2, { 'idempotency-key': key });
    const n = await callsMadeBy(arrange, send);
    // The in-progress record, the product, its buckets, the transaction, the record's success update.
    expect(n).toBeGreaterThanOrEqual(5);

    for (let k = 0; k < n; k++) {
      const label = `k=${k} of ${n}`;
      await clearTable();
      vi.setSystemTime(T0);
      const arranged = await arrange();
      const { product } = arranged;

      await crashColdAfter(k, () => send(arranged));

      await expectBalanced(product, `${label} after the crash`);
      const orphans = await activeHoldsOf(product, 'alice');
      // Only a crash between the transaction and the record's success update strands a hold.
      expect(orphans, label).toHaveLength(k === n - 1 ? 1 : 0);
      const { final } = await retryPastInProgress(() => send(arranged), at(1));
      if (orphans.length > 0) {
        // The orphan's 2 and the retry's 2 would make 4 of 3: the retry waits for the orphan's expiry.
        expect(final, label).toMatchObject({
          status: 409,
          body: { error: { code: 'CUSTOMER_LIMIT_REACHED', details: { limit: 3, used: 2 } } },
        });
        await sweepNow(at(120.5));
        expect(await activeHoldsOf(product, 'alice'), `${label}: the orphan released`).toEqual([]);
        vi.setSystemTime(at(121));
        const granted = await send(arranged);
        expect(granted.status, `${label}: after the orphan's expiry`).toBe(201);
      } else {
        expect(final.status, `${label}: ${JSON.stringify(final.body)}`).toBe(201);
      }
      const holds = await activeHoldsOf(product, 'alice');
      expect(holds, label).toHaveLength(1);
      const replay = await send(arranged);
      expect(replay.body.data?.hold_id, `${label}: a later retry replays`).toBe(holds[0]);
      // While alice's hold is active (made at 1 s, or at 121 s after the orphan): an expired one would be reclaimed.
      await expectAllowances(product, 3, { alice: 2 }, orphans.length > 0 ? at(122) : at(2), label);
    }
  });

  it('the sweep releases expired holds of several customers of one bucket in one transaction, moving each counter once by the sum of its holds', async () => {
    const { product } = await sweepBatch.arrange();
    const transactions = countCommandsTouching(`UNITS#${product}`);
    const alice = countCommandsTouching(`CUSTOMER#alice`);
    try {
      const report = await sweepNow(at(121));
      expect(report).toMatchObject({ holds_released: 4, failures: 0 });
    } finally {
      transactions.stop();
      alice.stop();
    }
    // One batch: the bucket's units and the counters of alice (1 + 2), bob and carol, all in one transaction.
    expect(transactions.counts).toEqual({ TransactWriteItemsCommand: 1 });
    expect(alice.counts).toEqual({ TransactWriteItemsCommand: 1 });
    await expectAllowances(product, 4, { alice: 0, bob: 0, carol: 0 }, at(122), 'after the batch');
  });

  for (const path of COUNTER_PATHS) {
    it(`${path.name}, crashed after any call, leaves every counter agreeing with the units; the retry or next sweep moves each counter once and every buyer can hold exactly up to the limit`, () =>
      path.with(crashEverywhere));
  }

  it('expectBalanced catches a counter that drifted and an identified hold whose counter is gone', async () => {
    const product = await limitedProduct(10, 3);
    await createHold(product, 2, T0, 'alice');
    await expectBalanced(product, 'before');
    const counter = { TableName: tableName, Key: customerUnitsKey('alice', product) };

    await db.send(
      new UpdateCommand({
        ...counter,
        UpdateExpression: 'SET units = :u',
        ExpressionAttributeValues: { ':u': 1 },
      }),
    );
    await expect(expectBalanced(product, 'drifted')).rejects.toThrow('drifted');
    expect((await checkLedger(product)).violations).toEqual([
      `customer alice product ${product}: counter 1, holds and orders say 2`,
    ]);

    await db.send(new DeleteCommand(counter));
    await expect(expectBalanced(product, 'no counter')).rejects.toThrow('no counter');
    expect((await checkLedger(product)).violations).toEqual([
      `customer alice product ${product}: counter 0, holds and orders say 2`,
    ]);
  });
});
