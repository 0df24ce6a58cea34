// Scheduled sweeper (EventBridge every minute): releases expired holds and expires unpaid orders.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { sweep } from '#shared/domain/sweeper.ts';
import { logger } from '#shared/logger.ts';

export const handler = middy()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async () => {
    const report = await sweep(new Date());
    // Failing the invocation makes EventBridge retry and, after that, the DLQ and alarm see it.
    if (report.failures > 0) throw new Error(`Sweep left ${report.failures} item(s) unsettled`);
    return report;
  });
