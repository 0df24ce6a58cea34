// Per-customer limits for the crash and lost-answer tests: limited products, the counters as the audit reads them,
// the allowance probe, and every path that gives an identified buyer's units back (or takes them again), each with
// its arrangement, the operation under test, what finishes it after a crash or a lost answer, and the state it leaves.
import { randomUUID } from 'node:crypto';
import { expect, vi } from 'vitest';
import { handler as createHoldHandler } from '../../functions/create-hold.ts';
import { handler as createOrderHandler } from '../../functions/create-order.ts';
import { handler as webhookHandler } from '../../functions/payment-webhook.ts';
import { checkLedger, type LedgerReport } from '../../shared/audit/ledger.ts';
import { getHold } from '../../shared/holds/items.ts';
import { createHold } from '../../shared/holds/service.ts';
import { createOrder, getOrderSlot } from '../../shared/orders/service.ts';
import { applyPayment } from '../../shared/payments/service.ts';
import { putProduct } from '../../shared/stock/service.ts';
import { readWorld } from '../property/scenario.ts';
import { at, limitedProduct, T0 } from '../support/fixtures.ts';
import { type Answer, invoke } from '../support/lambda.ts';
import { drawsOf } from './buckets.ts';
import { retryPastInProgress, sweepNow } from './calls.ts';

/** Every customer counter of the report's product(s): its `units`, by customer. */
export const countersIn = (report: LedgerReport): Record<string, number> =>
  Object.fromEntries(report.customers.map((row) => [row.customer_id, row.counter]));

/** A hold by `customer` through the Lambda, as API Gateway's JWT authorizer hands it their `sub`. */
export const holdAs = (customer: string, product: string, qty: number, headers?: Record<string, string>) =>
  invoke(createHoldHandler, { body: { product_id: product, qty }, customer, headers });

/** The customer's active holds of the product (ids), as the table shows them. */
export const activeHoldsOf = async (product: string, customer: string) =>
  Object.entries((await readWorld(product)).holds)
    .filter(([, hold]) => hold.status === 'active' && hold.customer === customer)
    .map(([id]) => id);

/**
 * The report balances (buckets and counters) and shows exactly these counters; a customer not named must be at 0,
 * and a customer whose hold never landed has no counter item, which is 0 too.
 */
function expectCounters(report: LedgerReport, counters: Record<string, number>, label: string): void {
  expect(report.violations, `${label}: ledger`).toEqual([]);
  const seen = countersIn(report);
  const everyone = [...new Set([...Object.keys(seen), ...Object.keys(counters)])].sort();
  const of = (values: Record<string, number>) =>
    Object.fromEntries(everyone.map((customer) => [customer, values[customer] ?? 0]));
  expect(of(seen), `${label}: counters`).toEqual(of(counters));
}

/**
 * The ledger of `product` balances with exactly these counters, and each customer can hold again exactly up to the
 * limit: what is left of it is granted (the product is restocked first so stock never decides), one unit more is
 * refused with CUSTOMER_LIMIT_REACHED naming the limit as used. At `now` every hold the counters include must still be
 * active: a buyer refused by the limit first reclaims the product's expired holds, their own included.
 */
export async function expectAllowances(
  product: string,
  limit: number,
  counters: Record<string, number>,
  now: Date,
  label: string,
): Promise<void> {
  const report = await checkLedger(product);
  expectCounters(report, counters, label);
  // What is left of each limit, and one unit more each: the refusal must come from the limit, not the stock.
  const room = Object.values(counters).reduce((sum, used) => sum + (limit - used) + 1, 0);
  const stock = report.products[0]?.stock ?? 0;
  vi.setSystemTime(now);
  await putProduct(product, { name: 'Restocked', price: '10.00', currency: 'USD', stock: stock + room }, now);
  for (const [customer, used] of Object.entries(counters)) {
    if (used < limit) {
      const grant = await holdAs(customer, product, limit - used);
      expect(grant.status, `${label}: ${customer} holds the ${limit - used} left of ${limit}`).toBe(201);
    }
    const over = await holdAs(customer, product, 1);
    expect(over, `${label}: ${customer} past the limit`).toMatchObject({
      status: 409,
      body: { error: { code: 'CUSTOMER_LIMIT_REACHED', details: { limit, used: limit } } },
    });
  }
  expectCounters(
    await checkLedger(product),
    Object.fromEntries(Object.keys(counters).map((customer) => [customer, limit])),
    `${label}, after the probes: every counter at the limit`,
  );
}

const statusOf = async (id: string) => ({
  hold: (await getHold(id))?.status,
  order: ((await getOrderSlot(id)) as { status?: string } | undefined)?.status,
});

const payment = (orderId: string, status: 'success' | 'failure') => ({
  body: { idempotency_key: `evt_${randomUUID()}`, order_id: orderId, status },
});

/**
 * A path that moves an identified buyer's counter together with the units. `act` is the operation a crash or a
 * lost answer hits; `recover` is what finishes it (the client's retry, the next scheduled sweep); `check` asserts
 * the state after that and probes every customer's allowance. `answers`: what `act` may answer with one DynamoDB
 * answer lost (503 always allowed).
 */
export interface CounterPath<T extends { product: string }> {
  name: string;
  arrange(): Promise<T>;
  act(arranged: T): Promise<Answer>;
  answers: string[];
  recover(arranged: T, answer: Answer | undefined, label: string): Promise<void>;
  check(arranged: T, label: string): Promise<void>;
}

/** The sweep Lambda as an operation with an answer: 200, or 503 when it failed (EventBridge retries it). */
async function sweepAnswer(now: Date): Promise<Answer> {
  const report = await sweepNow(now).catch((error: unknown) => error);
  if (!(report instanceof Error)) return { status: 200, body: { success: true }, headers: {} };
  return {
    status: 503,
    body: { success: false, error: { code: 'SERVICE_UNAVAILABLE', message: report.message } },
    headers: { 'Retry-After': '60' },
  };
}

/** The next scheduled sweep, once the crashed or failed run's lease (its remaining time, 10 s here) ran out. */
async function nextSweep(now: Date, label: string): Promise<void> {
  const report = await sweepNow(now);
  expect(report.failures, `${label}: next sweep`).toBe(0);
}

/** Four expired holds of three customers, all drawn from the one bucket: one release transaction for the lot. */
export const sweepBatch: CounterPath<{ product: string; ids: string[] }> = {
  name: 'the sweep releasing expired holds of three customers from one bucket in one batch',
  async arrange() {
    const product = await limitedProduct(10, 4);
    const holds = [
      await createHold(product, 1, T0, 'alice'),
      await createHold(product, 2, T0, 'alice'),
      await createHold(product, 1, T0, 'bob'),
      await createHold(product, 3, T0, 'carol'),
    ];
    return { product, ids: holds.map((hold) => hold.hold_id) };
  },
  act: () => sweepAnswer(at(121)),
  answers: ['200'],
  recover: (_arranged, _answer, label) => nextSweep(at(132), label),
  async check({ product, ids }, label) {
    const holds = await Promise.all(ids.map(async (id) => (await statusOf(id)).hold));
    expect(holds, label).toEqual(['released', 'released', 'released', 'released']);
    await expectAllowances(product, 4, { alice: 0, bob: 0, carol: 0 }, at(132), label);
  },
};

/** A hold spanning two buckets is released on its own (its own group), with its buyer's counter. */
export const sweepSpanning: CounterPath<{ product: string; spanning: string; single: string }> = {
  name: 'the sweep releasing a hold that spans two buckets on its own',
  async arrange() {
    // 3 units in each of 2 buckets: a hold of 4 draws from both.
    const product = await limitedProduct(6, 4, 2);
    const spanning = await createHold(product, 4, T0, 'alice');
    const single = await createHold(product, 2, T0, 'bob');
    expect((await drawsOf(spanning.hold_id)).length, 'the hold spans two buckets').toBe(2);
    return { product, spanning: spanning.hold_id, single: single.hold_id };
  },
  act: () => sweepAnswer(at(121)),
  answers: ['200'],
  recover: (_arranged, _answer, label) => nextSweep(at(132), label),
  async check({ product, spanning, single }, label) {
    expect([(await statusOf(spanning)).hold, (await statusOf(single)).hold], label).toEqual([
      'released',
      'released',
    ]);
    await expectAllowances(product, 4, { alice: 0, bob: 0 }, at(132), label);
  },
};

/** An unpaid order past its payment window expires; a paid one keeps counting. */
export const paymentWindow: CounterPath<{ product: string; unpaid: string; paid: string }> = {
  name: 'the sweep expiring an unpaid order past its payment window',
  async arrange() {
    const product = await limitedProduct(10, 3);
    const unpaid = await createHold(product, 2, T0, 'alice');
    const paid = await createHold(product, 1, T0, 'bob');
    await createOrder(unpaid.hold_id, at(1), 'alice');
    await createOrder(paid.hold_id, at(1), 'bob');
    await applyPayment(
      { idempotency_key: `evt_${randomUUID()}`, order_id: paid.hold_id, status: 'success' },
      at(2),
    );
    return { product, unpaid: unpaid.hold_id, paid: paid.hold_id };
  },
  act: () => sweepAnswer(at(1000)),
  answers: ['200'],
  recover: (_arranged, _answer, label) => nextSweep(at(1011), label),
  async check({ product, unpaid, paid }, label) {
    expect([(await statusOf(unpaid)).order, (await statusOf(paid)).order], label).toEqual([
      'expired',
      'paid',
    ]);
    await expectAllowances(product, 3, { alice: 0, bob: 1 }, at(1011), label);
  },
};

/** Payments that came before their orders: at the hold's expiry a failure releases it, a success makes it paid. */
export const parkedAtExpiry: CounterPath<{ product: string; failed: string; paidEarly: string }> = {
  name: 'the sweep settling a failure parked before the order at the hold expiry',
  async arrange() {
    const product = await limitedProduct(10, 3);
    const failed = await createHold(product, 2, T0, 'alice');
    const paidEarly = await createHold(product, 2, T0, 'bob');
    await applyPayment(
      { idempotency_key: `evt_${randomUUID()}`, order_id: failed.hold_id, status: 'failure' },
      at(1),
    );
    await applyPayment(
      { idempotency_key: `evt_${randomUUID()}`, order_id: paidEarly.hold_id, status: 'success' },
      at(1),
    );
    return { product, failed: failed.hold_id, paidEarly: paidEarly.hold_id };
  },
  act: () => sweepAnswer(at(121)),
  answers: ['200'],
  recover: (_arranged, _answer, label) => nextSweep(at(132), label),
  async check({ product, failed, paidEarly }, label) {
    expect([await statusOf(failed), await statusOf(paidEarly)], label).toEqual([
      { hold: 'released', order: 'cancelled' },
      { hold: 'ordered', order: 'paid' },
    ]);
    await expectAllowances(product, 3, { alice: 0, bob: 2 }, at(132), label);
  },
};

/** A buyer finds the product sold out by expired, unswept holds of three customers: the reclaim frees them. */
export const reclaim: CounterPath<{ product: string; ids: string[] }> = {
  name: "a buyer's hold reclaiming expired holds of three customers on shortage",
  async arrange() {
    const product = await limitedProduct(4, 3);
    const holds = [
      await createHold(product, 2, T0, 'alice'),
      await createHold(product, 1, T0, 'bob'),
      await createHold(product, 1, T0, 'carol'),
    ];
    return { product, ids: holds.map((hold) => hold.hold_id) };
  },
  act: ({ product }) => {
    vi.setSystemTime(at(200));
    return holdAs('dave', product, 3);
  },
  answers: ['201'],
  async recover({ product }, answer, label) {
    // After the crashed reclaim's lease (10 s) ran out; a hold the first attempt made is kept, not doubled.
    if (answer?.status === 201) return;
    if ((await activeHoldsOf(product, 'dave')).length > 0) return;
    vi.setSystemTime(at(211));
    const retry = await holdAs('dave', product, 3);
    expect(retry.status, `${label}: the retry ${JSON.stringify(retry.body)}`).toBe(201);
  },
  async check({ product, ids }, label) {
    const holds = await Promise.all(ids.map(async (id) => (await statusOf(id)).hold));
    expect(holds, label).toEqual(['released', 'released', 'released']);
    expect(await activeHoldsOf(product, 'dave'), `${label}: one hold for dave`).toHaveLength(1);
    await expectAllowances(product, 3, { alice: 0, bob: 0, carol: 0, dave: 3 }, at(211), label);
  },
};

/** A failure webhook cancels a pending order; another buyer's pending order keeps counting. */
export const failureWebhook: CounterPath<{
  product: string;
  failing: string;
  pending: string;
  delivery: ReturnType<typeof payment>;
}> = {
  name: 'a failure webhook cancelling a pending order',
  async arrange() {
    const product = await limitedProduct(10, 3);
    const failing = await createHold(product, 2, T0, 'alice');
    const pending = await createHold(product, 1, T0, 'bob');
    await createOrder(failing.hold_id, at(1), 'alice');
    await createOrder(pending.hold_id, at(1), 'bob');
    return {
      product,
      failing: failing.hold_id,
      pending: pending.hold_id,
      delivery: payment(failing.hold_id, 'failure'),
    };
  },
  act: ({ delivery }) => {
    vi.setSystemTime(at(5));
    return invoke(webhookHandler, delivery);
  },
  answers: ['200', '409 REQUEST_IN_PROGRESS'],
  async recover({ delivery }, _answer, label) {
    const { final } = await retryPastInProgress(() => invoke(webhookHandler, delivery), at(6));
    expect(final, label).toMatchObject({ status: 200, body: { data: { order_status: 'cancelled' } } });
  },
  async check({ product, failing, pending }, label) {
    expect([(await statusOf(failing)).order, (await statusOf(pending)).order], label).toEqual([
      'cancelled',
      'pending',
    ]);
    await expectAllowances(product, 3, { alice: 0, bob: 1 }, at(17), label);
  },
};

/** A failure that came before the order is applied as the buyer creates it: the order is born cancelled. */
export const parkedAtOrder: CounterPath<{ product: string; holdId: string }> = {
  name: 'an order created over a parked failure',
  async arrange() {
    const product = await limitedProduct(10, 3);
    const hold = await createHold(product, 2, T0, 'alice');
    await applyPayment(
      { idempotency_key: `evt_${randomUUID()}`, order_id: hold.hold_id, status: 'failure' },
      at(1),
    );
    return { product, holdId: hold.hold_id };
  },
  act: ({ holdId }) => {
    vi.setSystemTime(at(5));
    return invoke(createOrderHandler, { body: { hold_id: holdId }, customer: 'alice' });
  },
  answers: ['201', '200'],
  async recover({ holdId }, _answer, label) {
    vi.setSystemTime(at(6));
    const retry = await invoke(createOrderHandler, { body: { hold_id: holdId }, customer: 'alice' });
    expect(retry, label).toMatchObject({ body: { data: { status: 'cancelled' } } });
    expect([200, 201], label).toContain(retry.status);
  },
  async check({ product, holdId }, label) {
    // The hold became the order, which was born cancelled and gave the units and the count back.
    expect(await statusOf(holdId), label).toEqual({ hold: 'ordered', order: 'cancelled' });
    await expectAllowances(product, 3, { alice: 0 }, at(6), label);
  },
};

/**
 * A success for an order whose payment window closed (expired by the sweep, its units and count given back): with
 * `holdingMeanwhile`, the buyer has taken 2 more units since, so counting the order's 2 again would pass the limit 3.
 */
export function lateSuccess(holdingMeanwhile: boolean): CounterPath<{
  product: string;
  orderId: string;
  delivery: ReturnType<typeof payment>;
}> {
  const final = holdingMeanwhile ? 'refund_required' : 'paid';
  return {
    name: holdingMeanwhile
      ? 'a late success that would pass the limit, refunded without counting'
      : 'a late success within the limit, counted again',
    async arrange() {
      const product = await limitedProduct(10, 3);
      const hold = await createHold(product, 2, T0, 'alice');
      await createOrder(hold.hold_id, at(1), 'alice');
      await sweepNow(at(1000));
      if (holdingMeanwhile) await createHold(product, 2, at(1000), 'alice');
      return { product, orderId: hold.hold_id, delivery: payment(hold.hold_id, 'success') };
    },
    act: ({ delivery }) => {
      vi.setSystemTime(at(1001));
      return invoke(webhookHandler, delivery);
    },
    answers: ['200', '409 REQUEST_IN_PROGRESS'],
    async recover({ delivery }, _answer, label) {
      const { final: answer } = await retryPastInProgress(() => invoke(webhookHandler, delivery), at(1002));
      expect(answer, label).toMatchObject({ status: 200, body: { data: { order_status: final } } });
    },
    async check({ product, orderId }, label) {
      expect((await statusOf(orderId)).order, label).toBe(final);
      // Paid: the order's 2 count again. Refunded: only the hold taken meanwhile counts.
      await expectAllowances(product, 3, { alice: 2 }, at(1013), label);
    },
  };
}

/** A path whose arrangement type is its own business: `use` gets it whole, typed. */
export interface AnyCounterPath {
  name: string;
  with<R>(use: <T extends { product: string }>(path: CounterPath<T>) => R): R;
}
const erased = <T extends { product: string }>(path: CounterPath<T>): AnyCounterPath => ({
  name: path.name,
  with: (use) => use(path),
});

/** Every path that gives an identified buyer's units back, and the late payment that takes them again. */
export const COUNTER_PATHS: readonly AnyCounterPath[] = [
  erased(sweepBatch),
  erased(sweepSpanning),
  erased(paymentWindow),
  erased(parkedAtExpiry),
  erased(reclaim),
  erased(failureWebhook),
  erased(parkedAtOrder),
  erased(lateSuccess(false)),
  erased(lateSuccess(true)),
];
