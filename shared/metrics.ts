// The process's one Powertools Metrics (CloudWatch EMF): what the code counts, by the names in metric-names.ts.
//
// One dimension, `service`; the product (when there is one) goes in the EMF metadata, never in a dimension. Each
// invocation that counted something writes one EMF line when it ends (`flushMetrics`, in the HTTP stack and the
// sweeper). In the local runtime concurrent invocations share the instance: a line may carry another invocation's
// counts (the totals stay exact) and the last product_id written.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import { logger } from './logger.ts';
import { METRICS_NAMESPACE, Metric, type MetricName } from './metric-names.ts';

// Off Lambda (npm start, the tests, the scripts) EMF lines would land among the JSON logs on stdout: off unless
// POWERTOOLS_METRICS_DISABLED=false asks for them. Read once, when the instance below is built.
if (process.env.AWS_LAMBDA_FUNCTION_NAME === undefined) process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

export const metrics = new Metrics({
  namespace: METRICS_NAMESPACE,
  // Powertools adds it as the one default dimension (the logger's service name, same fallback).
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'flash-sale-checkout',
  // Its warnings (a bad name or value) as JSON lines with the invocation's context.
  logger,
});

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** Every metric is a count unless listed here. */
const UNITS: Partial<Record<MetricName, Unit>> = {
  [Metric.SweepDurationMs]: MetricUnit.Milliseconds,
  [Metric.SweepOldestOverdueSeconds]: MetricUnit.Seconds,
};

/** Records `value` for `name` in this invocation's EMF line (several values of one name are summed by CloudWatch). */
export function recordMetric(name: MetricName, value: number): void {
  metrics.addMetric(name, UNITS[name] ?? MetricUnit.Count, value);
}

/** Counts `n` occurrences: `countMetric(Metric.HoldsReclaimed, released)`. */
export const countMetric = (name: MetricName, n = 1): void => recordMetric(name, n);

/** Context for this invocation's EMF line (e.g. `product_id`): searchable in the logs, not a dimension. */
export function addMetricMetadata(key: string, value: string): void {
  metrics.addMetadata(key, value);
}

/** A hold was granted: one hold, `qty` units. Returns the hold, so a call site can wrap the result. */
export function holdGranted<T extends { product_id: string; qty: number }>(hold: T): T {
  addMetricMetadata('product_id', hold.product_id);
  countMetric(Metric.HoldsGranted);
  countMetric(Metric.HoldUnitsGranted, hold.qty);
  return hold;
}

/** A new order (201; the 200 answer for an already ordered hold is not counted). */
export function orderCreated(order: { product_id: string }): void {
  addMetricMetadata('product_id', order.product_id);
  countMetric(Metric.OrdersCreated);
}

/**
 * Writes this invocation's EMF line, if it counted anything, and starts the next one clean. Powertools' own
 * `logMetrics` middleware publishes unconditionally and warns "No application metrics to publish" on every
 * invocation that counted nothing (every GET): a log line per request for no information.
 */
function flush(): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  else metrics.clearMetadata();
}

/** Middy middleware: flushes once per invocation, whether it answered or threw. */
export const flushMetrics = (): MiddlewareObj => ({ after: flush, onError: flush });
