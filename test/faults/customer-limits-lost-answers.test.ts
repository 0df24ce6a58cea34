// A DynamoDB write that lands but whose answer is lost, at every call of every path that moves a buyer's counter:
// answers stay true, the counter moves once, and the buyer can hold again exactly up to the limit.
import { describe, expect, it, vi } from 'vitest';
import { setFaultPlan } from '../../infra/local/faults.ts';
import { getHold } from '../../shared/holds/items.ts';
import { forgetView } from '../../shared/stock/view.ts';
import { at, limitedProduct } from '../support/fixtures.ts';
import {
  expectBalanced,
  expectDefinite,
  faultAttempts,
  forEveryLostAnswer,
  lostAnswerHooks,
} from './calls.ts';
import {
  activeHoldsOf,
  COUNTER_PATHS,
  type CounterPath,
  expectAllowances,
  holdAs,
  reclaim,
} from './customers.ts';

/** For every call of a fault-free run and both variants: lose that answer, check the answer, recover, check. */
function loseEveryAnswer<T extends { product: string }>(path: CounterPath<T>): Promise<void> {
  return forEveryLostAnswer(path.arrange, path.act, async (arranged, answer, label) => {
    expectDefinite(answer, path.answers, label);
    await expectBalanced(arranged.product, `${label} after the answer`);
    await path.recover(arranged, answer, label);
    await expectBalanced(arranged.product, `${label} after the recovery`);
    await path.check(arranged, label);
  });
}

describe('a lost DynamoDB answer on a path that moves a customer counter', () => {
  lostAnswerHooks();

  it('a limited hold whose transaction landed but whose answer was lost is answered 201 with that hold, not CUSTOMER_LIMIT_REACHED, when it took the buyer to the limit', async () => {
    // Stock and limit are both exactly the hold: the domain's retry of the transaction fails on the units, on the
    // counter and on the hold id at once, and must recognise its own hold.
    const product = await limitedProduct(2, 2);
    forgetView(product);
    // Attempts 1 and 2 read the product and its buckets; attempt 3 (the transaction) lands but its answer is lost;
    // the SDK's two retries of it are throttled, so the domain's own retry has to find out what happened.
    setFaultPlan(faultAttempts({ 3: 'timeout_after', 4: 'throttle', 5: 'throttle' }));

    const answer = await holdAs('alice', product, 2);

    setFaultPlan(undefined);
    const holds = await activeHoldsOf(product, 'alice');
    expect(holds).toHaveLength(1);
    expect(answer).toMatchObject({ status: 201, body: { data: { hold_id: holds[0] } } });
    await expectAllowances(product, 2, { alice: 2 }, at(1), 'the hold counted once');
  });

  it('a limited hold at any lost answer is answered 201 with its one hold or 503; the counter counts what exists, once', async () => {
    const arrange = async () => ({ product: await limitedProduct(2, 2) });

    await forEveryLostAnswer(
      arrange,
      ({ product }) => holdAs('alice', product, 2),
      async ({ product }, answer, label) => {
        expectDefinite(answer, ['201'], label);
        const holds = await activeHoldsOf(product, 'alice');
        if (answer.status === 201) expect(holds, label).toEqual([answer.body.data?.hold_id]);
        expect(holds.length, label).toBeLessThanOrEqual(1);
        await expectBalanced(product, label);
        // A hold that exists counts, whatever the answer said (after a 503 the client cannot know it has it).
        await expectAllowances(product, 2, { alice: 2 * holds.length }, at(1), label);
      },
    );
  });

  it('a buyer whose reclaim lease was taken but whose answer was lost still reclaims: 201, not INSUFFICIENT_STOCK while expired holds keep the units', async () => {
    const { product, ids } = await reclaim.arrange();
    forgetView(product);
    vi.setSystemTime(at(200));
    // Cold: attempt 1 reads the product, 2 its bucket, 3 the expired holds; attempt 4 puts the reclaim lease, which
    // lands but its answer is lost. The SDK sends the put again, and its condition now fails on the lease it took.
    setFaultPlan(faultAttempts({ 4: 'timeout_after' }));

    const answer = await holdAs('dave', product, 3);

    setFaultPlan(undefined);
    expect(answer, JSON.stringify(answer.body)).toMatchObject({ status: 201 });
    const holds = await Promise.all(ids.map(async (id) => (await getHold(id))?.status));
    expect(holds).toEqual(['released', 'released', 'released']);
  });

  for (const path of COUNTER_PATHS) {
    it(`${path.name}: a lost answer at any call is answered truly or 503; the retry or next sweep moves each counter once and every buyer can hold exactly up to the limit`, () =>
      path.with(loseEveryAnswer));
  }
});
