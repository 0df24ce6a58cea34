// A hold whose reserving write landed but whose answer was lost still counts as created, even if it took the last unit.
import { describe, expect, it } from 'vitest';
import { handler as createHoldHandler } from '../../functions/create-hold.ts';
import { setFaultPlan } from '../../infra/local/faults.ts';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { forgetView } from '../../shared/stock/view.ts';
import { readWorld } from '../property/scenario.ts';
import { productWithStock } from '../support/fixtures.ts';
import { invoke } from '../support/lambda.ts';
import { expectDefinite, faultAttempts, forEveryLostAnswer, lostAnswerHooks } from './calls.ts';

describe('a lost answer to a hold without Idempotency-Key', () => {
  lostAnswerHooks();

  it('is answered 201 with the hold the lost write made, not 409, when that write took the last unit', async () => {
    const product = await productWithStock(1);
    // The process reads the product afresh (attempts 1 and 2: the product, its buckets); attempt 3 (the reserving
    // transaction) lands but its answer is lost; the SDK's two retries of it are throttled, so the domain's own
    // retry has to find out what happened.
    forgetView(product);
    setFaultPlan(faultAttempts({ 3: 'timeout_after', 4: 'throttle', 5: 'throttle' }));

    const answer = await invoke(createHoldHandler, { body: { product_id: product, qty: 1 } });

    setFaultPlan(undefined);
    const holds = Object.keys((await readWorld(product)).holds);
    expect(holds).toHaveLength(1);
    expect(answer).toMatchObject({ status: 201, body: { data: { hold_id: holds[0] } } });
  });

  it('never answers a definite refusal while a hold exists in its name, at any call, with stock for exactly one hold', async () => {
    const arrange = async () => ({ body: { product_id: await productWithStock(2), qty: 2 } });

    await forEveryLostAnswer(
      arrange,
      (request) => invoke(createHoldHandler, request),
      async (request, answer, label) => {
        const product = request.body.product_id;
        expectDefinite(answer, ['201', '409 INSUFFICIENT_STOCK'], label);
        const holds = Object.keys((await readWorld(product)).holds);
        if (answer.status === 201) expect(holds, label).toEqual([answer.body.data?.hold_id]);
        if (answer.status === 409) expect(holds, `${label}: refused, yet holds exist`).toEqual([]);
        expect(holds.length, label).toBeLessThanOrEqual(1);
        expect((await getProduct(product)).available, label).toBe(2 - 2 * holds.length);
        expect((await checkLedger(product)).violations, label).toEqual([]);
      },
    );
  });
});
