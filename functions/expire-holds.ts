// Scheduled sweeper (EventBridge every minute): releases expired holds and expires unpaid orders.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logger, withInvocationLogger } from '#shared/logger.ts';
import { sweep } from '#shared/sweep/service.ts';

/** Left for the lease release and the report after the last page: the sweep stops starting pages before this. */
const MARGIN_MS = 5_000;

// Its own logger context per invocation, like the HTTP functions (the local runtime runs them in one process).
export const handler = withInvocationLogger(
  middy()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (_event: unknown, context) => {
      const remaining = context.getRemainingTimeInMillis();
      const report = await sweep(new Date(), {
        budgetMs: Math.max(1_000, remaining - MARGIN_MS),
        leaseMs: remaining,
      });
      // Failing the invocation makes EventBridge retry and, after that, the DLQ and alarm see it.
      if (report.failures > 0) throw new Error(`Sweep left ${report.failures} item(s) unsettled`);
      return report;
    }),
);
