// Random checkout scenarios run through the real handlers on DynamoDB Local, checked against test/support/model.ts.
import { randomUUID } from 'node:crypto';
import { BatchWriteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { expect, vi } from 'vitest';
import { handler as createHoldHandler } from '../../functions/create-hold.ts';
import { handler as createOrderHandler } from '../../functions/create-order.ts';
import { handler as sweepHandler } from '../../functions/expire-holds.ts';
import { handler as getOrderHandler } from '../../functions/get-order.ts';
import { handler as webhookHandler } from '../../functions/payment-webhook.ts';
import { handler as putProductHandler } from '../../functions/put-product.ts';
import { type FaultPlan, setFaultPlan } from '../../infra/local/faults.ts';
import { checkLedger } from '../../shared/audit/ledger.ts';
import { db, tableName } from '../../shared/db/client.ts';
import { getOrderSlot } from '../../shared/orders/service.ts';
import { readProduct } from '../../shared/stock/view.ts';
import type { SweepReport } from '../../shared/sweep/service.ts';
import { T0 } from '../support/fixtures.ts';
import { type Answer, invoke, lambdaContext } from '../support/lambda.ts';
import {
  CheckoutModel,
  type Expected,
  type ExpectedSweep,
  expectedViolations,
  forbiddenMoves,
  type HoldStatus,
  type ModelHold,
  type ModelOrder,
  type OrderStatus,
  type Outcome,
  scopedHoldKey,
  visibleTo,
  type World,
} from '../support/model.ts';

/** A hold key to reuse may be reused by the buyer who used it first (`sameBuyer`) or by whoever sends this hold. */
export type KeyChoice =
  | { type: 'none' }
  | { type: 'fresh' }
  | { type: 'reuse'; pick: number; sameBody: boolean; sameBuyer?: boolean };
/** `lateOrder`: an order past its payment window (a payment for it is late), else a hold like `hold`. */
export type Target =
  | { type: 'hold'; pick: number }
  | { type: 'unknown'; pick: number }
  | { type: 'lateOrder'; pick: number };
/** Who sends a hold: an anonymous buyer or one of CUSTOMERS (the `sub` of their token). */
export type Buyer = { type: 'anonymous' } | { type: 'customer'; pick: number };
/** Who asks for an order: the target hold's buyer, one of CUSTOMERS (maybe the owner, maybe not), or nobody known. */
export type Caller = { type: 'owner' } | Buyer;

/** The identified buyers of every run (each run has its own product, so their counters never meet another run's). */
export const CUSTOMERS = ['alice', 'bob', 'carol'] as const;

export type Command =
  /**
   * `buckets` also re-splits the stock (PUT with stock_buckets); omitted keeps the product's count. `limit` sets
   * (a number) or removes (null) `max_per_customer`; omitted keeps it.
   */
  | { kind: 'restock'; stock: number; buckets?: number; limit?: number | null }
  | { kind: 'hold'; qty: number; key: KeyChoice; as: Buyer }
  | { kind: 'order'; target: Target; as: Caller }
  | { kind: 'webhook'; target: Target; outcome: Outcome; key: KeyChoice }
  | { kind: 'getOrder'; target: Target; as: Caller }
  | { kind: 'sweep' }
  | { kind: 'advance'; seconds: number }
  /** Moves the clock to a coming hold expiry or payment deadline, `offsetMs` around it (boundaries are bug magnets). */
  /**
   * `payments`: only pending orders' payment deadlines (else hold expiries too); `thenSweep`: the scheduled sweep
   * runs at once (an order past its window becomes `expired`, ready for a late payment).
   */
  | { kind: 'advanceToDeadline'; pick: number; offsetMs: number; payments?: boolean; thenSweep?: boolean }
  /** Several requests at once; `copies` > 1 delivers the very same request (same key) that many times. */
  | { kind: 'concurrent'; steps: { command: Command; copies: number }[] };

export interface Scenario {
  initialStock: number;
  /** Stock buckets of the product (1..4): with up to 15 units, holds of up to 4 often span several buckets. */
  initialBuckets: number;
  /** The product's `max_per_customer` at creation; undefined: no limit. */
  initialLimit?: number;
  commands: Command[];
}

/** How an order request's caller stands to the hold it names (for the coverage tally). */
type Relation = 'owner' | 'other customer' | 'anonymous caller' | 'anonymous hold' | 'no such hold';

/** A command with its picks resolved against the run so far: exactly what is sent (`customer`: the token's sub). */
export type Request =
  | { kind: 'restock'; stock: number; buckets?: number; limit?: number | null }
  | { kind: 'hold'; qty: number; key?: string; customer?: string }
  | { kind: 'order'; holdId: string; customer?: string; relation?: Relation }
  /** `was`: the target's state as the model knew it when sending (for the coverage tally). */
  | { kind: 'webhook'; key: string; orderId: string; outcome: Outcome; was?: string }
  | { kind: 'getOrder'; id: string; customer?: string; relation?: Relation }
  | { kind: 'sweep' };

type Result = { kind: 'answer'; answer: Answer } | { kind: 'sweep'; report?: SweepReport; error?: unknown };

// ---- generators -------------------------------------------------------------------------------------------------

const holdKey: fc.Arbitrary<KeyChoice> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ type: 'none' as const }) },
  { weight: 2, arbitrary: fc.constant({ type: 'fresh' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('reuse' as const),
      pick: fc.nat(20),
      sameBody: fc.boolean(),
      sameBuyer: fc.boolean(),
    }),
  },
);
/** Mostly identified buyers (three of them, so one buyer's holds often meet their limit), sometimes anonymous. */
export const buyer: fc.Arbitrary<Buyer> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ type: 'anonymous' as const }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('customer' as const), pick: fc.nat(2) }) },
);
/** Mostly the hold's own buyer; sometimes any customer (another one gets 404) or an anonymous caller. */
export const caller: fc.Arbitrary<Caller> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ type: 'owner' as const }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('customer' as const), pick: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.constant({ type: 'anonymous' as const }) },
);
/** A per-customer limit around the hold sizes (1..4), so holds meet it, pass it, or exceed it on their own. */
export const limitValue = fc.integer({ min: 1, max: 6 });
const webhookKey: fc.Arbitrary<KeyChoice> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ type: 'fresh' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ type: fc.constant('reuse' as const), pick: fc.nat(20), sameBody: fc.boolean() }),
  },
);
/** Mostly one of the last few holds (counted from the newest), sometimes any, sometimes an id nobody created. */
const target: fc.Arbitrary<Target> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ type: fc.constant('hold' as const), pick: fc.nat(2) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('hold' as const), pick: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('unknown' as const), pick: fc.nat(2) }) },
);
/**
 * Payments also aim at orders still open: an expired one makes a late success, which takes the units again and counts
 * them again within the buyer's limit (or finds them gone or over the limit: refund_required).
 */
const paymentTarget: fc.Arbitrary<Target> = fc.oneof(
  { weight: 3, arbitrary: target },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('lateOrder' as const), pick: fc.nat(3) }) },
);

const requestCommand: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record(
      {
        kind: fc.constant('restock' as const),
        stock: fc.integer({ min: 0, max: 15 }),
        buckets: fc.integer({ min: 1, max: 4 }),
        limit: fc.oneof(limitValue, fc.constant(null)),
      },
      { requiredKeys: ['kind', 'stock'] },
    ),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('hold' as const),
      qty: fc.integer({ min: 1, max: 4 }),
      key: holdKey,
      as: buyer,
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('order' as const), target, as: caller }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('webhook' as const),
      target: paymentTarget,
      outcome: fc.constantFrom<Outcome>('success', 'failure'),
      key: webhookKey,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('getOrder' as const), target, as: caller }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'sweep' as const }) },
);

const advance: fc.Arbitrary<Command> = fc.record({
  kind: fc.constant('advance' as const),
  // Around both deadlines (hold 120 s, payment 900 s), their exact boundaries included.
  seconds: fc.constantFrom(1, 30, 60, 119, 120, 121, 300, 600, 780, 899, 900, 901, 1800),
});

const advanceToDeadline: fc.Arbitrary<Command> = fc.record({
  kind: fc.constant('advanceToDeadline' as const),
  pick: fc.nat(3),
  offsetMs: fc.constantFrom(-1, 0, 1, 1000),
  payments: fc.boolean(),
  thenSweep: fc.boolean(),
});

const concurrent: fc.Arbitrary<Command> = fc
  .array(fc.record({ command: requestCommand, copies: fc.integer({ min: 1, max: 3 }) }), {
    minLength: 1,
    maxLength: 4,
  })
  .filter((steps) => {
    const total = steps.reduce((sum, step) => sum + step.copies, 0);
    return total >= 2 && total <= 5;
  })
  .map((steps) => ({ kind: 'concurrent' as const, steps }));

export const scenarioArbitrary = (maxCommands = 30): fc.Arbitrary<Scenario> =>
  fc.record({
    initialStock: fc.integer({ min: 0, max: 12 }),
    initialBuckets: fc.integer({ min: 1, max: 4 }),
    // Half the runs start limited; restocks set and remove the limit along the way.
    initialLimit: fc.option(limitValue, { nil: undefined, freq: 2 }),
    commands: fc.array(
      fc.oneof(
        { weight: 10, arbitrary: requestCommand },
        { weight: 2, arbitrary: advance },
        { weight: 2, arbitrary: advanceToDeadline },
        { weight: 3, arbitrary: concurrent },
      ),
      { minLength: 1, maxLength: maxCommands, size: 'max' },
    ),
  });

/**
 * A buyer's whole journey, where per-customer limits bite: two customers (so each meets their limit often) hold,
 * order and pay; clock jumps to payment deadlines run the sweep, so orders expire and late payments re-count them
 * within the limit, or over it (refund_required); restocks move the limit under what buyers already have; bursts race
 * one customer's holds against their own limit.
 */
export const journeyScenarioArbitrary = (maxCommands = 30): fc.Arbitrary<Scenario> => {
  const customer = fc.record({ type: fc.constant('customer' as const), pick: fc.nat(1) });
  const customerHold = fc.record({
    kind: fc.constant('hold' as const),
    qty: fc.integer({ min: 1, max: 3 }),
    key: fc.constantFrom<KeyChoice>({ type: 'none' }, { type: 'fresh' }),
    as: fc.oneof({ weight: 9, arbitrary: customer }, { weight: 1, arbitrary: buyer }),
  });
  const ownOrder = fc.record({
    kind: fc.constant('order' as const),
    target: fc.record({ type: fc.constant('hold' as const), pick: fc.nat(2) }),
    as: fc.oneof(
      { weight: 5, arbitrary: fc.constant({ type: 'owner' as const }) },
      { weight: 1, arbitrary: caller },
    ),
  });
  const payment = fc.record({
    kind: fc.constant('webhook' as const),
    target: fc.oneof(
      { weight: 4, arbitrary: fc.record({ type: fc.constant('lateOrder' as const), pick: fc.nat(3) }) },
      { weight: 1, arbitrary: target },
    ),
    outcome: fc.constantFrom<Outcome>('success', 'success', 'failure'),
    key: fc.constant<KeyChoice>({ type: 'fresh' }),
  });
  const paymentDeadline = fc.record({
    kind: fc.constant('advanceToDeadline' as const),
    pick: fc.nat(3),
    offsetMs: fc.constantFrom(0, 1, 1000),
    payments: fc.constant(true),
    thenSweep: fc.constant(true),
  });
  const limitChange = fc.record({
    kind: fc.constant('restock' as const),
    stock: fc.integer({ min: 4, max: 15 }),
    limit: fc.oneof({ weight: 3, arbitrary: limitValue }, { weight: 1, arbitrary: fc.constant(null) }),
  });
  const ownBurst = fc.array(customerHold, { minLength: 2, maxLength: 4 }).map((holds) => ({
    kind: 'concurrent' as const,
    steps: holds.map((hold) => ({
      command: { ...hold, as: { type: 'customer' as const, pick: 0 } },
      copies: 1,
    })),
  }));
  return fc.record({
    initialStock: fc.integer({ min: 4, max: 12 }),
    initialBuckets: fc.integer({ min: 1, max: 4 }),
    initialLimit: fc.option(limitValue, { nil: undefined, freq: 5 }),
    commands: fc.array(
      fc.oneof(
        { weight: 6, arbitrary: customerHold },
        { weight: 6, arbitrary: ownOrder },
        { weight: 4, arbitrary: payment },
        { weight: 4, arbitrary: paymentDeadline },
        { weight: 1, arbitrary: advanceToDeadline },
        { weight: 2, arbitrary: limitChange },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('getOrder' as const), target, as: caller }) },
        { weight: 1, arbitrary: fc.constant({ kind: 'sweep' as const }) },
        { weight: 2, arbitrary: ownBurst },
      ),
      // Long enough for a hold to be ordered, outlive its payment window and be paid late.
      { minLength: Math.min(12, maxCommands), maxLength: maxCommands, size: 'max' },
    ),
  });
};

// ---- the table --------------------------------------------------------------------------------------------------

async function scanTable(): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/** What the table shows of one product's checkout (parked payments of any id included: runs share no ids). */
export async function readWorld(productId: string): Promise<World> {
  const world: World = { stock: 0, available: 0, holds: {}, orders: {}, parked: {}, counters: {} };
  // The model knows totals; the ledger check (after every step) holds each bucket to its own balance.
  for (const item of await scanTable()) {
    if (item.entity === 'product' && item.product_id === productId) {
      if (typeof item.max_per_customer === 'number') world.limit = item.max_per_customer;
    } else if (item.entity === 'customer_units' && item.product_id === productId) {
      world.counters[String(item.customer_id)] = Number(item.units);
    } else if (item.entity === 'stock' && item.product_id === productId) {
      world.stock += Number(item.stock);
      world.available += Number(item.available);
    } else if (item.entity === 'hold' && item.product_id === productId) {
      const hold: ModelHold = {
        qty: Number(item.qty),
        expiresAt: String(item.expires_at),
        status: item.status as HoldStatus,
      };
      if (typeof item.customer_id === 'string') hold.customer = item.customer_id;
      world.holds[String(item.hold_id)] = hold;
    } else if (item.entity === 'order' && item.product_id === productId) {
      const order: ModelOrder = { qty: Number(item.qty), status: item.status as OrderStatus };
      if (typeof item.payment_due_at === 'string') order.paymentDueAt = item.payment_due_at;
      if (typeof item.payment_key === 'string') order.paymentKey = item.payment_key;
      if (typeof item.customer_id === 'string') order.customer = item.customer_id;
      world.orders[String(item.order_id)] = order;
    } else if (item.entity === 'parked_payment') {
      world.parked[String(item.order_id)] = {
        key: String(item.parked_key),
        outcome: item.parked_status as Outcome,
      };
    }
  }
  return world;
}

/** Empties the test file's own table between runs, so sweeps and scans see one run only. */
export async function clearTable(): Promise<void> {
  let pending: { DeleteRequest: { Key: Record<string, unknown> } }[] = (await scanTable()).map((item) => ({
    DeleteRequest: { Key: { pk: item.pk, sk: item.sk } },
  }));
  while (pending.length > 0) {
    const chunk = pending.slice(0, 25);
    pending = pending.slice(25);
    const { UnprocessedItems } = await db.send(
      new BatchWriteCommand({ RequestItems: { [tableName]: chunk } }),
    );
    for (const left of UnprocessedItems?.[tableName] ?? []) {
      if (left.DeleteRequest) pending.push({ DeleteRequest: { Key: left.DeleteRequest.Key ?? {} } });
    }
  }
}

// ---- sending requests ---------------------------------------------------------------------------------------------

/** `request` sent by `customer` (undefined: anonymous, and no `customer` field at all). */
const withCustomer = <T extends object>(
  request: T,
  customer: string | undefined,
): T & { customer?: string } => (customer === undefined ? request : { ...request, customer });

/** A PUT body; `limit` sets (number) or removes (null) `max_per_customer`, omitted keeps it. */
export const productBody = (stock: number, buckets?: number, limit?: number | null) => ({
  name: 'Model product',
  price: '10.00',
  currency: 'USD',
  stock,
  ...(buckets === undefined ? {} : { stock_buckets: buckets }),
  ...(limit === undefined ? {} : { max_per_customer: limit }),
});

export async function execute(productId: string, request: Request): Promise<Result> {
  switch (request.kind) {
    case 'restock':
      return answer(
        invoke(putProductHandler, {
          pathParameters: { id: productId },
          body: productBody(request.stock, request.buckets, request.limit),
        }),
      );
    case 'hold':
      return answer(
        invoke(createHoldHandler, {
          body: { product_id: productId, qty: request.qty },
          headers: request.key === undefined ? {} : { 'idempotency-key': request.key },
          customer: request.customer,
        }),
      );
    case 'order':
      return answer(
        invoke(createOrderHandler, { body: { hold_id: request.holdId }, customer: request.customer }),
      );
    case 'webhook':
      return answer(
        invoke(webhookHandler, {
          body: { idempotency_key: request.key, order_id: request.orderId, status: request.outcome },
        }),
      );
    case 'getOrder':
      return answer(
        invoke(getOrderHandler, { pathParameters: { id: request.id }, customer: request.customer }),
      );
    case 'sweep':
      try {
        return {
          kind: 'sweep',
          report: (await sweepHandler({}, lambdaContext('expire-holds'))) as SweepReport,
        };
      } catch (error) {
        return { kind: 'sweep', error };
      }
  }
}

async function answer(pending: Promise<Answer>): Promise<Result> {
  return { kind: 'answer', answer: await pending };
}

/** How often each request kind got each answer, over every run of the process (printed by soak runs). */
export const coverage = new Map<string, number>();
const tally = (seen: string) => coverage.set(seen, (coverage.get(seen) ?? 0) + 1);

function count(request: Request, result: Result): void {
  const seen =
    result.kind === 'sweep'
      ? `sweep ${result.error ? 'failed' : `released ${result.report?.holds_released} expired ${result.report?.orders_expired} paid ${result.report?.holds_paid_from_parked}`}`
      : `${request.kind}${request.kind === 'hold' && request.key ? ' keyed' : ''} ${describeAnswer(result.answer)}${
          result.answer.body.data?.order_status ? ` ${String(result.answer.body.data.order_status)}` : ''
        }${request.kind === 'order' && result.answer.body.data?.status ? ` ${String(result.answer.body.data.status)}` : ''}${buyerTag(request)}`;
  tally(seen);
}

/** Who sent it, for the tally (after the answer, so tallies that match on the answer's start keep working). */
function buyerTag(request: Request): string {
  switch (request.kind) {
    case 'hold':
      return request.customer === undefined ? ' (anonymous)' : ' (customer)';
    case 'order':
    case 'getOrder':
      return request.relation ? ` (${request.relation})` : '';
    case 'restock':
      return request.limit === undefined ? '' : request.limit === null ? ' (limit removed)' : ' (limit set)';
    case 'webhook':
      return request.was === undefined ? '' : ` (was ${request.was})`;
    default:
      return '';
  }
}

// ---- checks -------------------------------------------------------------------------------------------------------

const ERROR_CODE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;

/** The envelope every HTTP answer must have, whatever happened. */
export function expectEnvelope(answer: Answer, label: string): void {
  if (answer.status < 400) {
    expect(answer.body, label).toMatchObject({ success: true, data: expect.anything() });
  } else {
    expect(answer.body, label).toMatchObject({
      success: false,
      error: { code: expect.stringMatching(ERROR_CODE), message: expect.any(String) },
    });
  }
}

/** Status and error code pairs a request may get when the exact answer depends on an ordering we do not control. */
function allowedAnswers(request: Request): string[] {
  switch (request.kind) {
    case 'restock':
      return ['200', '409 STOCK_BELOW_COMMITTED'];
    case 'hold':
      return [
        '201',
        '409 INSUFFICIENT_STOCK',
        // Only an identified buyer meets a limit; only an anonymous one is asked to sign in.
        request.customer === undefined ? '401 AUTHENTICATION_REQUIRED' : '409 CUSTOMER_LIMIT_REACHED',
        ...(request.key === undefined ? [] : ['409 REQUEST_IN_PROGRESS', '422 IDEMPOTENCY_KEY_REUSED']),
      ];
    case 'order':
      return ['200', '201', '404 HOLD_NOT_FOUND', '410 HOLD_EXPIRED'];
    case 'webhook':
      return [
        '200',
        '202',
        '409 ORDER_ALREADY_FINALIZED',
        '409 REQUEST_IN_PROGRESS',
        '422 IDEMPOTENCY_KEY_REUSED',
      ];
    case 'getOrder':
      return ['200', '404 ORDER_NOT_FOUND'];
    case 'sweep':
      return [];
  }
}

const describeAnswer = (answer: Answer) =>
  answer.body.error ? `${answer.status} ${answer.body.error.code}` : String(answer.status);

/** A 503 must say when to come back; nothing else in the 5xx range is ever acceptable. */
function expectAllowed(request: Request, result: Result, label: string, faultsOn: boolean): void {
  if (result.kind === 'sweep') {
    // Under faults the sweep may leave items for the next run (and says so by failing the invocation).
    if (!faultsOn) {
      expect(result.error, label).toBeUndefined();
      expect(result.report?.failures, label).toBe(0);
    }
    return;
  }
  const { answer } = result;
  expectEnvelope(answer, label);
  if (faultsOn && answer.status === 503) {
    expect(answer.body.error?.code, label).toBe('SERVICE_UNAVAILABLE');
    expect(answer.headers['Retry-After'], label).toBeDefined();
    return;
  }
  expect(allowedAnswers(request), label).toContain(describeAnswer(answer));
  const data = answer.body.data ?? {};
  if (request.kind === 'hold' && answer.status === 201) expect(data.qty, label).toBe(request.qty);
  if (request.kind === 'order' && answer.status < 300) expect(data.order_id, label).toBe(request.holdId);
  if (request.kind === 'webhook' && answer.status < 300) expect(data.order_id, label).toBe(request.orderId);
}

function expectAsModelled(result: Result, expected: Expected | ExpectedSweep, label: string): void {
  if (result.kind === 'sweep') {
    expect(result.error, label).toBeUndefined();
    expect(result.report, label).toMatchObject({ ...expected, skipped: false, failures: 0 });
    return;
  }
  const { answer } = result;
  const want = expected as Expected;
  expectEnvelope(answer, label);
  expect({ status: answer.status, code: answer.body.error?.code }, label).toEqual({
    status: want.status,
    code: want.code,
  });
  if (want.details !== undefined) expect(answer.body.error?.details, label).toEqual(want.details);
  if (want.data) {
    const data = answer.body.data ?? {};
    const seen = Object.fromEntries(Object.keys(want.data).map((field) => [field, data[field]]));
    expect(seen, label).toEqual(want.data);
  }
}

/**
 * After a step the model cannot predict exactly: the answers that succeeded agree with each other and with the table,
 * and every hold that appeared is one a 201 named or one whose request got no definite answer (503).
 */
function expectConsistent(
  requests: Request[],
  results: Result[],
  before: World,
  world: World,
  label: string,
): void {
  const answered = new Set<string>();
  let unanswered = 0;
  requests.forEach((request, i) => {
    const result = results[i];
    if (request.kind !== 'hold' || result?.kind !== 'answer') return;
    if (result.answer.status === 201) answered.add(String(result.answer.body.data?.hold_id));
    if (result.answer.status === 503) unanswered++;
  });
  const unexplained = Object.keys(world.holds).filter((id) => !before.holds[id] && !answered.has(id));
  expect(
    unexplained.length,
    `${label}: holds ${unexplained.join(', ')} appeared but only ${unanswered} hold request(s) got no definite answer`,
  ).toBeLessThanOrEqual(unanswered);
  const byKey = new Map<string, unknown>();
  requests.forEach((request, i) => {
    const result = results[i];
    if (result?.kind !== 'answer' || result.answer.status >= 300) return;
    const data = result.answer.body.data ?? {};
    if (request.kind === 'hold') {
      const hold = world.holds[String(data.hold_id)];
      expect(hold, `${label}: hold ${String(data.hold_id)} answered 201`).toBeDefined();
      // A replayed answer names the hold its key's first request made: by the same buyer (keys are per buyer).
      expect(hold?.customer, `${label}: hold ${String(data.hold_id)} belongs to its buyer`).toBe(
        request.customer,
      );
    }
    if ((request.kind === 'hold' || request.kind === 'webhook') && request.key !== undefined) {
      const seen = [result.answer.status, data];
      const key = request.kind === 'hold' ? scopedHoldKey(request.customer, request.key) : request.key;
      const first = byKey.get(key);
      if (first === undefined) byKey.set(key, seen);
      else expect(seen, `${label}: answers for key ${key}`).toEqual(first);
    }
    if (request.kind === 'order' || request.kind === 'getOrder') {
      const id = request.kind === 'order' ? request.holdId : request.id;
      const owner = world.holds[id]?.customer;
      expect(visibleTo(owner, request.customer), `${label}: ${id} of ${String(owner)} shown`).toBe(true);
    }
    if (request.kind === 'webhook' && result.answer.status === 200) {
      const said = data.order_status as OrderStatus;
      const now = world.orders[request.orderId]?.status;
      const compatible: Record<OrderStatus, OrderStatus[]> = {
        paid: ['paid'],
        cancelled: ['cancelled'],
        refund_required: ['refund_required'],
        expired: ['expired', 'paid', 'refund_required'],
        pending: [],
      };
      expect(compatible[said], `${label}: webhook said ${said}, order is ${String(now)}`).toContain(now);
    }
    if (request.kind === 'webhook' && result.answer.status === 202) {
      const settled = world.parked[request.orderId] ?? world.orders[request.orderId];
      expect(settled, `${label}: webhook parked for ${request.orderId}`).toBeDefined();
    }
    if (request.kind === 'order') {
      expect(world.orders[request.holdId], `${label}: order ${request.holdId} answered`).toBeDefined();
    }
  });
}

/**
 * The audit of the whole table (one run's data) finds nothing but what `world` explains: a counter above a limit that
 * was lowered under it. Bucket drift, counter drift, a negative counter: never.
 */
async function expectLedgerBalanced(label: string, world: World, productId: string): Promise<void> {
  const { violations } = await checkLedger();
  const expected = expectedViolations(world, productId);
  expect([...violations].sort(), label).toEqual(expected);
  if (expected.length > 0) tally('audit: counter over a lowered limit');
}

// ---- one run ------------------------------------------------------------------------------------------------------

export interface RunOptions {
  /** Run every command under this fault plan (answers then only have to be allowed, not exactly modelled). */
  faults?: FaultPlan;
}

class Run {
  readonly model: CheckoutModel;
  private readonly tag = randomUUID().slice(0, 8);
  private readonly unknownIds = [0, 1, 2].map((i) => `u-${this.tag}-${i}`);
  private readonly holdKeys: { key: string; qty: number; customer?: string }[] = [];
  private readonly webhookKeys: { key: string; orderId: string; outcome: Outcome }[] = [];
  private keys = 0;
  world: World;

  constructor(
    readonly productId: string,
    stock: number,
    limit: number | undefined,
    private readonly options: RunOptions,
  ) {
    this.model = new CheckoutModel(productId, T0);
    this.model.stock = stock;
    this.model.available = stock;
    this.model.limit = limit;
    this.world = this.model.world();
  }

  private get exact(): boolean {
    return this.options.faults === undefined;
  }

  private freshKey(prefix: string): string {
    this.keys += 1;
    return `${prefix}-${this.tag}-${this.keys}`;
  }

  private resolveTarget(choice: Target): string {
    const expired = [...this.model.orders]
      .filter(([, order]) => order.status === 'expired')
      .map(([id]) => id);
    if (choice.type === 'lateOrder' && expired.length > 0)
      return expired[choice.pick % expired.length] as string;
    const holds = [...this.model.holds.keys()];
    if (choice.type !== 'unknown' && holds.length > 0)
      return holds[holds.length - 1 - (choice.pick % holds.length)] as string;
    return this.unknownIds[choice.pick % this.unknownIds.length] as string;
  }

  private customerOf(who: Buyer): string | undefined {
    return who.type === 'anonymous' ? undefined : CUSTOMERS[who.pick % CUSTOMERS.length];
  }

  /** The caller of an order request for `id`, and how they stand to the hold (its buyer, as the model knows it). */
  private resolveCaller(who: Caller, id: string): { customer?: string; relation: Relation } {
    const hold = this.model.holds.get(id);
    const owner = hold?.customer;
    const customer = who.type === 'owner' ? owner : this.customerOf(who);
    const relation: Relation = !hold
      ? 'no such hold'
      : owner === undefined
        ? 'anonymous hold'
        : customer === undefined
          ? 'anonymous caller'
          : owner === customer
            ? 'owner'
            : 'other customer';
    return customer === undefined ? { relation } : { customer, relation };
  }

  resolve(command: Exclude<Command, { kind: 'advance' | 'advanceToDeadline' | 'concurrent' }>): Request {
    switch (command.kind) {
      case 'restock':
      case 'sweep':
        return command;
      case 'order': {
        const holdId = this.resolveTarget(command.target);
        return { kind: 'order', holdId, ...this.resolveCaller(command.as, holdId) };
      }
      case 'getOrder': {
        const id = this.resolveTarget(command.target);
        return { kind: 'getOrder', id, ...this.resolveCaller(command.as, id) };
      }
      case 'hold': {
        const { key } = command;
        const buyer = this.customerOf(command.as);
        const reused =
          key.type === 'reuse' ? this.holdKeys[key.pick % (this.holdKeys.length || 1)] : undefined;
        if (key.type === 'reuse' && reused) {
          // Its first buyer replays (or misuses) it; anyone else's same key is their own, another request.
          const customer = key.sameBuyer ? reused.customer : buyer;
          return withCustomer(
            { kind: 'hold', qty: key.sameBody ? reused.qty : command.qty, key: reused.key },
            customer,
          );
        }
        if (key.type === 'none') return withCustomer({ kind: 'hold', qty: command.qty }, buyer);
        const fresh = withCustomer({ key: this.freshKey('hk'), qty: command.qty }, buyer);
        this.holdKeys.push(fresh);
        return { kind: 'hold', ...fresh };
      }
      case 'webhook': {
        const { key } = command;
        const reused =
          key.type === 'reuse' ? this.webhookKeys[key.pick % (this.webhookKeys.length || 1)] : undefined;
        const sent =
          key.type === 'reuse' && reused
            ? key.sameBody
              ? reused
              : { key: reused.key, orderId: this.resolveTarget(command.target), outcome: command.outcome }
            : undefined;
        if (sent) return { kind: 'webhook', ...sent, was: this.stateOf(sent.orderId) };
        const fresh = {
          key: this.freshKey('evt'),
          orderId: this.resolveTarget(command.target),
          outcome: command.outcome,
        };
        this.webhookKeys.push(fresh);
        return { kind: 'webhook', ...fresh, was: this.stateOf(fresh.orderId) };
      }
    }
  }

  /** What the model knows of `id` (for the tally): the order's or hold's status, whose it is, whether limited. */
  private stateOf(id: string): string {
    const order = this.model.orders.get(id);
    const hold = this.model.holds.get(id);
    const whose = (order ?? hold)?.customer === undefined ? 'anonymous' : 'customer';
    const limited = this.model.limit === undefined ? '' : ', limited';
    if (order) return `${order.status} order of ${whose}${limited}`;
    if (this.model.parked.has(id)) return 'parked';
    return hold ? `${hold.status} hold of ${whose}${limited}` : 'unknown';
  }

  /**
   * Whether a late payment for `orderId` finds its units where they came from: every bucket the order drew from
   * still has its draw (read before the payment is sent; the model knows totals, not buckets).
   */
  private async ownBucketsFree(request: Request): Promise<boolean | undefined> {
    if (request.kind !== 'webhook' || this.model.orders.get(request.orderId)?.status !== 'expired')
      return undefined;
    const [slot, view] = await Promise.all([getOrderSlot(request.orderId), readProduct(this.productId)]);
    if (slot?.entity !== 'order') return undefined;
    return slot.draws.every((draw) => (view?.buckets.get(draw.bucket)?.available ?? 0) >= draw.qty);
  }

  /** What the model says a request answers; it also moves the model on. */
  private predict(request: Request, result: Result, ownBucketsFree?: boolean): Expected | ExpectedSweep {
    switch (request.kind) {
      case 'restock':
        return this.model.restock(request.stock, request.limit);
      case 'hold': {
        const data = result.kind === 'answer' ? result.answer.body.data : undefined;
        const created = typeof data?.hold_id === 'string' ? data.hold_id : undefined;
        return this.model.hold(request.qty, request.key, created, request.customer);
      }
      case 'order':
        return this.model.order(request.holdId, request.customer);
      case 'webhook':
        return this.model.webhook(request.key, request.orderId, request.outcome, ownBucketsFree);
      case 'getOrder':
        return this.model.getOrder(request.id, request.customer);
      case 'sweep':
        return this.model.sweep();
    }
  }

  /** Idempotency records the concurrent answers reveal: a key that answered 2xx has a record with that answer. */
  private learnKeys(requests: Request[], results: Result[]): void {
    requests.forEach((request, i) => {
      const result = results[i];
      if (result?.kind !== 'answer' || result.answer.status >= 300) return;
      const data = result.answer.body.data ?? {};
      if (request.kind === 'hold' && request.key !== undefined) {
        const scoped = scopedHoldKey(request.customer, request.key);
        if (!this.model.holdKeys.has(scoped))
          this.model.holdKeys.set(scoped, { qty: request.qty, answer: data });
      }
      if (request.kind === 'webhook' && !this.model.webhookKeys.has(request.key)) {
        this.model.webhookKeys.set(request.key, {
          orderId: request.orderId,
          outcome: request.outcome,
          answer: { status: result.answer.status, data },
        });
      }
    });
  }

  /** Reads the table with faults paused (the check is not under test) and checks what must hold after any step. */
  private async observe(label: string): Promise<World> {
    setFaultPlan(undefined);
    try {
      const world = await readWorld(this.productId);
      expect(forbiddenMoves(this.world, world), label).toEqual([]);
      await expectLedgerBalanced(label, world, this.productId);
      this.world = world;
      return world;
    } finally {
      setFaultPlan(this.options.faults);
    }
  }

  async step(command: Command, index: number): Promise<void> {
    // SCENARIO_TRACE=1 prints each command before it runs, to find where a run stalls.
    if (process.env.SCENARIO_TRACE)
      console.error(`${this.productId} step ${index} ${JSON.stringify(command)}`);
    if (command.kind === 'advance') {
      this.model.advance(command.seconds);
      vi.setSystemTime(this.model.now);
      return;
    }
    if (command.kind === 'advanceToDeadline') {
      const holdExpiries = command.payments
        ? []
        : [...this.model.holds.values()].filter((h) => h.status === 'active').map((h) => h.expiresAt);
      const deadlines = [
        ...holdExpiries,
        ...[...this.model.orders.values()].filter((o) => o.status === 'pending').map((o) => o.paymentDueAt),
      ]
        .map((deadline) => Date.parse(deadline ?? '') + command.offsetMs)
        .filter((at) => at >= this.model.now)
        .sort((a, b) => a - b);
      const to =
        deadlines.length > 0 ? (deadlines[command.pick % deadlines.length] as number) : this.model.now;
      this.model.advance((to - this.model.now) / 1000);
      vi.setSystemTime(this.model.now);
      if (command.thenSweep) await this.step({ kind: 'sweep' }, index);
      return;
    }
    if (command.kind === 'concurrent') {
      const requests = command.steps.flatMap(({ command: inner, copies }) => {
        const request = this.resolve(
          inner as Exclude<Command, { kind: 'advance' | 'advanceToDeadline' | 'concurrent' }>,
        );
        return Array.from({ length: copies }, () => request);
      });
      const label = `step ${index} at +${(this.model.now - T0.getTime()) / 1000}s concurrent ${JSON.stringify(requests)}`;
      const results = await Promise.all(requests.map((request) => execute(this.productId, request)));
      requests.forEach((request, i) => {
        const result = results[i] as Result;
        count(request, result);
        expectAllowed(request, result, `${label} #${i} -> ${JSON.stringify(result)}`, !this.exact);
      });
      const before = this.world;
      const world = await this.observe(label);
      expectConsistent(requests, results, before, world, label);
      this.model.adopt(world);
      this.learnKeys(requests, results);
      return;
    }
    const request = this.resolve(command);
    const label = `step ${index} at +${(this.model.now - T0.getTime()) / 1000}s ${JSON.stringify(request)}`;
    const ownBucketsFree = this.exact ? await this.ownBucketsFree(request) : undefined;
    const result = await execute(this.productId, request);
    count(request, result);
    if (this.exact) {
      if (ownBucketsFree !== undefined && request.kind === 'webhook' && request.outcome === 'success')
        tally(`late success ${ownBucketsFree ? 'with its units free' : 'with its units gone'}`);
      const expected = this.predict(request, result, ownBucketsFree);
      if (ownBucketsFree && 'data' in expected && expected.data?.order_status === 'refund_required')
        tally('late success over the limit: refund_required');
      expectAsModelled(result, expected, `${label} -> ${JSON.stringify(result)}`);
      const world = await this.observe(label);
      expect(world, `${label}: table vs model`).toEqual(this.model.world());
    } else {
      expectAllowed(request, result, `${label} -> ${JSON.stringify(result)}`, true);
      const before = this.world;
      const world = await this.observe(label);
      expectConsistent([request], [result], before, world, label);
      this.model.adopt(world);
      this.learnKeys([request], [result]);
    }
  }

  /** Faults off, the clock past every deadline and in-progress record, one sweep: nothing may be left holding stock. */
  async settle(): Promise<void> {
    setFaultPlan(undefined);
    this.model.advance(3600);
    vi.setSystemTime(this.model.now);
    const result = await execute(this.productId, { kind: 'sweep' });
    expectAllowed({ kind: 'sweep' }, result, 'final sweep', false);
    if (this.exact) expectAsModelled(result, this.model.sweep(), 'final sweep');
    const world = await this.observe('after the final sweep');
    if (this.exact) expect(world, 'final sweep: table vs model').toEqual(this.model.world());
    const committed = Object.values(world.orders)
      .filter((order) => order.status === 'paid')
      .reduce((sum, order) => sum + order.qty, 0);
    expect(Object.values(world.holds).filter((hold) => hold.status === 'active')).toEqual([]);
    expect(Object.values(world.orders).filter((order) => order.status === 'pending')).toEqual([]);
    expect(world.available).toBe(world.stock - committed);
    // Every unit a customer got back left their counter: what is left is exactly what they paid for.
    const paidBy = (customer: string) =>
      Object.values(world.orders)
        .filter((order) => order.customer === customer && order.status === 'paid')
        .reduce((sum, order) => sum + order.qty, 0);
    for (const [customer, units] of Object.entries(world.counters))
      expect(units, `final counter of ${customer}`).toBe(paidBy(customer));
  }
}

/** Runs one scenario on a fresh product from T0 (fake Date must be installed by the caller), then empties the table. */
export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<void> {
  vi.setSystemTime(T0);
  setFaultPlan(undefined);
  const productId = `m-${randomUUID().slice(0, 8)}`;
  try {
    const created = await invoke(putProductHandler, {
      pathParameters: { id: productId },
      body: productBody(scenario.initialStock, scenario.initialBuckets, scenario.initialLimit),
    });
    expect(created, 'the product is created').toMatchObject({ status: 201 });
    const run = new Run(productId, scenario.initialStock, scenario.initialLimit, options);
    setFaultPlan(options.faults);
    for (const [index, command] of scenario.commands.entries()) await run.step(command, index);
    await run.settle();
  } finally {
    setFaultPlan(undefined);
    await clearTable();
  }
}

/** Seed for fast-check: PROPERTY_SEED replays a printed failure; otherwise a fresh one, logged on soak runs. */
export function propertySeed(name: string): number {
  const seed = process.env.PROPERTY_SEED
    ? Number(process.env.PROPERTY_SEED)
    : Math.floor(Math.random() * 2 ** 31);
  if (process.env.PROPERTY_RUNS) console.log(`${name}: seed ${seed}, ${process.env.PROPERTY_RUNS} runs`);
  return seed;
}
