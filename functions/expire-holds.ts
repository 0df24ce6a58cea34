// Scheduled sweeper (EventBridge every minute): releases expired holds and expires unpaid orders.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { withInvocationBudget } from '#shared/deadline.ts';
import { logger } from '#shared/logger.ts';
import { Metric } from '#shared/metric-names.ts';
import { countMetric, flushMetrics, recordMetric } from '#shared/metrics.ts';
import { type SweepReport, sweep } from '#shared/sweep/service.ts';

/** Left for the lease release and the report after the last page: the sweep stops starting pages before this. */
const MARGIN_MS = 5_000;

/** The sweep's figures as metrics; a skipped run (another sweep holds the lease) leaves them to that sweep. */
function recordSweep(report: SweepReport): void {
  if (report.skipped) return;
  countMetric(Metric.HoldsExpired, report.holds_released);
  countMetric(Metric.OrdersExpired, report.orders_expired);
  recordMetric(Metric.SweepDurationMs, report.duration_ms);
  recordMetric(Metric.SweepBacklog, report.backlog);
  recordMetric(Metric.SweepOldestOverdueSeconds, report.oldest_overdue_seconds);
}

// Its own time budget per invocation, like the HTTP functions: every DynamoDB call ends with the budget
// (shared/deadline.ts), so a stalled table fails the run in time.
export const handler = withInvocationBudget(
  middy()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(flushMetrics())
    .handler(async (_event: unknown, context) => {
      const remaining = context.getRemainingTimeInMillis();
      const report = await sweep(new Date(), {
        budgetMs: Math.max(1_000, remaining - MARGIN_MS),
        leaseMs: remaining,
      });
      recordSweep(report);
      // Failing the invocation makes EventBridge retry and, after that, the DLQ and alarm see it.
      if (report.failures > 0) throw new Error(`Sweep left ${report.failures} item(s) unsettled`);
      return report;
    }),
);
