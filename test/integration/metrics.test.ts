// The business metrics as CloudWatch receives them: the EMF lines the real handlers write to stdout, on DynamoDB
// Local. Names from shared/metric-names.ts, one dimension (`service`), the product in the metadata, never a dimension.
import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  // Off Lambda metrics are off unless asked for (shared/metrics.ts); this file asks, before the instance is built.
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  process.env.POWERTOOLS_SERVICE_NAME = 'checkout-metrics-test';
});

import { handler as createHoldHandler } from '../../functions/create-hold.ts';
import { handler as createOrderHandler } from '../../functions/create-order.ts';
import { handler as sweepHandler } from '../../functions/expire-holds.ts';
import { handler as getProductHandler } from '../../functions/get-product.ts';
import { handler as webhookHandler } from '../../functions/payment-webhook.ts';
import { withContentionRetry } from '../../shared/db/transact.ts';
import { ServiceBusy } from '../../shared/errors.ts';
import { createHold } from '../../shared/holds/service.ts';
import { httpHandler } from '../../shared/http/handler.ts';
import { ok } from '../../shared/http/responses.ts';
import { METRICS_NAMESPACE, Metric, type MetricName } from '../../shared/metric-names.ts';
import { createOrder } from '../../shared/orders/service.ts';
import { putProduct } from '../../shared/stock/service.ts';
import { sweep } from '../../shared/sweep/service.ts';
import { at, productWithStock, T0 } from '../support/fixtures.ts';
import { type Answer, invoke, lambdaContext } from '../support/lambda.ts';

interface Emf {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

/** Runs `run` and returns the EMF lines written to stdout meanwhile (and what went to stderr). */
async function emfOf(run: () => Promise<unknown>): Promise<{ lines: Emf[]; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const text = (chunk: string | Uint8Array) =>
    typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(text(chunk));
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err.push(text(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  const lines = out
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{"_aws"'))
    .map((line) => JSON.parse(line) as Emf);
  return { lines, stderr: err.join('') };
}

/** Every metric value in `lines`, summed by name (a name counted twice in one line has an array of values). */
function totals(lines: Emf[]): Partial<Record<MetricName, number>> {
  const sums: Record<string, number> = {};
  for (const line of lines) {
    for (const { Name } of line._aws.CloudWatchMetrics.flatMap((block) => block.Metrics)) {
      const value = line[Name] as number | number[];
      sums[Name] = (sums[Name] ?? 0) + (Array.isArray(value) ? value.reduce((a, b) => a + b, 0) : value);
    }
  }
  return sums;
}

/** Each line: our namespace, exactly one dimension set `[service]`, the service's value, no product dimension. */
function expectServiceDimensionOnly(lines: Emf[]): void {
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    const [block, ...others] = line._aws.CloudWatchMetrics;
    expect(others).toEqual([]);
    expect(block?.Namespace).toBe(METRICS_NAMESPACE);
    expect(block?.Dimensions).toEqual([['service']]);
    expect(line.service).toBe('checkout-metrics-test');
  }
}

const hold = (product: string, qty: number, headers: Record<string, string> = {}) =>
  invoke(createHoldHandler, { body: { product_id: product, qty }, headers });
const webhook = (order: string, status: 'success' | 'failure', key = `evt_${randomUUID()}`) =>
  invoke(webhookHandler, { body: { idempotency_key: key, order_id: order, status } });

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('hold metrics', () => {
  it('counts a granted hold and its units, with the product in the metadata and not in a dimension', async () => {
    const product = await productWithStock(10);
    let answer: Answer | undefined;

    const { lines } = await emfOf(async () => {
      answer = await hold(product, 3);
    });

    expect(answer?.status).toBe(201);
    expect(lines).toHaveLength(1);
    expectServiceDimensionOnly(lines);
    expect(totals(lines)).toEqual({ [Metric.HoldsGranted]: 1, [Metric.HoldUnitsGranted]: 3 });
    expect(lines[0]?.product_id).toBe(product);
    const units = lines[0]?._aws.CloudWatchMetrics[0]?.Metrics.map(({ Name, Unit }) => `${Name} ${Unit}`);
    expect(units).toEqual([`${Metric.HoldsGranted} Count`, `${Metric.HoldUnitsGranted} Count`]);
  });

  it('counts a keyed hold once: its replay answers the same hold and counts nothing', async () => {
    const product = await productWithStock(10);
    const headers = { 'idempotency-key': randomUUID() };

    const first = await emfOf(() => hold(product, 2, headers));
    const replay = await emfOf(() => hold(product, 2, headers));

    expect(totals(first.lines)).toEqual({ [Metric.HoldsGranted]: 1, [Metric.HoldUnitsGranted]: 2 });
    expect(replay.lines).toEqual([]);
  });

  it('counts a refusal for sold-out stock under HoldsRefusedSoldOut, with the product in the metadata', async () => {
    const product = await productWithStock(1);
    let answer: Answer | undefined;

    const { lines } = await emfOf(async () => {
      answer = await hold(product, 2);
    });

    expect(answer?.body.error?.code).toBe('INSUFFICIENT_STOCK');
    expectServiceDimensionOnly(lines);
    expect(totals(lines)).toEqual({ [Metric.HoldsRefusedSoldOut]: 1 });
    expect(lines[0]?.product_id).toBe(product);
  });

  it('counts a refusal at the per-customer limit under HoldsRefusedCustomerLimit', async () => {
    const product = `p-${randomUUID().slice(0, 8)}`;
    await putProduct(
      product,
      { name: 'Limited', price: '10.00', currency: 'USD', stock: 10, max_per_customer: 1 },
      T0,
    );
    let answer: Answer | undefined;

    const { lines } = await emfOf(async () => {
      answer = await invoke(createHoldHandler, {
        customer: `c-${randomUUID().slice(0, 8)}`,
        body: { product_id: product, qty: 2 },
      });
    });

    expect(answer?.body.error?.code).toBe('CUSTOMER_LIMIT_REACHED');
    expectServiceDimensionOnly(lines);
    expect(totals(lines)).toEqual({ [Metric.HoldsRefusedCustomerLimit]: 1 });
  });
});

describe('order and payment metrics', () => {
  it('counts a new order (201) and not the same order answered again (200)', async () => {
    const product = await productWithStock(5);
    const holdId = (await createHold(product, 1, new Date())).hold_id;

    const first = await emfOf(() => invoke(createOrderHandler, { body: { hold_id: holdId } }));
    const again = await emfOf(() => invoke(createOrderHandler, { body: { hold_id: holdId } }));

    expectServiceDimensionOnly(first.lines);
    expect(totals(first.lines)).toEqual({ [Metric.OrdersCreated]: 1 });
    expect(first.lines[0]?.product_id).toBe(product);
    expect(again.lines).toEqual([]);
  });

  it('counts an applied payment once, however often the provider delivers it', async () => {
    const product = await productWithStock(5);
    const order = await createHold(product, 1, T0);
    await createOrder(order.hold_id, at(1));
    const key = `evt_${randomUUID()}`;

    const { lines } = await emfOf(async () => {
      expect((await webhook(order.hold_id, 'success', key)).body.data?.order_status).toBe('paid');
      expect((await webhook(order.hold_id, 'success', key)).body.data?.order_status).toBe('paid');
    });

    expectServiceDimensionOnly(lines);
    expect(totals(lines)).toEqual({ [Metric.PaymentsApplied]: 1 });
  });

  it('counts a payment parked for an order that does not exist yet', async () => {
    let answer: Answer | undefined;

    const { lines } = await emfOf(async () => {
      answer = await webhook(`o-${randomUUID()}`, 'success');
    });

    expect(answer?.status).toBe(202);
    expect(totals(lines)).toEqual({ [Metric.PaymentsParked]: 1 });
  });

  it('counts a success for a hold that expired first as PaymentsRefundRequired, once', async () => {
    const product = await productWithStock(5);
    const expired = await createHold(product, 1, T0);
    await sweep(at(121));
    const key = `evt_${randomUUID()}`;

    const { lines } = await emfOf(async () => {
      expect((await webhook(expired.hold_id, 'success', key)).body.data?.order_status).toBe(
        'refund_required',
      );
      await webhook(expired.hold_id, 'success', key);
    });

    expectServiceDimensionOnly(lines);
    expect(totals(lines)).toEqual({ [Metric.PaymentsRefundRequired]: 1 });
  });
});

describe('edge metrics', () => {
  it('counts every 503 answer under ServiceUnavailable, where errors become answers', async () => {
    const busy = httpHandler({}, async () => {
      throw new ServiceBusy();
    });
    let answer: Answer | undefined;

    const { lines } = await emfOf(async () => {
      answer = await invoke(busy);
    });

    expect(answer?.status).toBe(503);
    expectServiceDimensionOnly(lines);
    expect(totals(lines)).toEqual({ [Metric.ServiceUnavailable]: 1 });
  });

  it('counts a transaction retried after a TransactionConflict, and not one retried after throttling', async () => {
    const failures = [
      new TransactionCanceledException({
        message: 'Transaction cancelled [TransactionConflict]',
        $metadata: {},
        CancellationReasons: [{ Code: 'TransactionConflict' }],
      }),
      Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }),
    ];
    const retrying = httpHandler({}, async () => {
      await withContentionRetry('metrics_test', async () => {
        const failure = failures.shift();
        if (failure) throw failure;
      });
      return ok({});
    });

    const { lines } = await emfOf(() => invoke(retrying));

    expect(failures).toEqual([]);
    expect(totals(lines)).toEqual({ [Metric.ContentionRetries]: 1 });
  });

  it('writes no EMF line and no warning for an invocation that counted nothing', async () => {
    const product = await productWithStock(5);

    const { lines, stderr } = await emfOf(() =>
      invoke(getProductHandler, { pathParameters: { id: product } }),
    );

    expect(lines).toEqual([]);
    expect(stderr).not.toContain('No application metrics');
  });
});

describe('sweep metrics', () => {
  it('reports what the sweep settled, how long it took, its backlog and how overdue the oldest item was', async () => {
    // Settle whatever earlier tests left past its deadline, then two holds and an order expiring at known times.
    await sweep(at(1000));
    const product = await productWithStock(10);
    await createHold(product, 1, at(1000));
    await createHold(product, 2, at(1030));
    const ordered = await createHold(product, 3, at(1000));
    await createOrder(ordered.hold_id, at(1001)); // payment due at(1901)
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(at(2000));

    let report: unknown;
    const { lines } = await emfOf(async () => {
      report = await sweepHandler({}, lambdaContext('expire-holds'));
    });

    expect(report).toMatchObject({
      holds_released: 2,
      orders_expired: 1,
      backlog: 0,
      oldest_overdue_seconds: 880,
    });
    expectServiceDimensionOnly(lines);
    const figures = totals(lines);
    expect(figures).toMatchObject({
      [Metric.HoldsExpired]: 2,
      [Metric.OrdersExpired]: 1,
      [Metric.SweepBacklog]: 0,
      // The hold that expired at(1120), swept at(2000).
      [Metric.SweepOldestOverdueSeconds]: 880,
    });
    expect(figures[Metric.SweepDurationMs]).toBe((report as { duration_ms: number }).duration_ms);
    const units = Object.fromEntries(
      (lines[0]?._aws.CloudWatchMetrics[0]?.Metrics ?? []).map(({ Name, Unit }) => [Name, Unit]),
    );
    expect(units).toMatchObject({
      [Metric.SweepDurationMs]: 'Milliseconds',
      [Metric.SweepOldestOverdueSeconds]: 'Seconds',
      [Metric.SweepBacklog]: 'Count',
    });
  });

  it('counts what a sweep out of time left for the next one as its backlog', async () => {
    await sweep(at(3000));
    const product = await productWithStock(10);
    await createHold(product, 1, at(3000));
    await createHold(product, 1, at(3000));

    // No time at all: it stops before its first page, with every shard still open.
    const report = await sweep(at(4000), { budgetMs: 0 });

    expect(report).toMatchObject({
      incomplete: true,
      holds_released: 0,
      backlog: 2,
      oldest_overdue_seconds: 0,
    });
    expect((await sweep(at(4000))).holds_released).toBe(2);
  });
});
