// Outside Lambda (npm start, the tests, the scripts) metrics and tracing stay out of the way: no EMF line among the
// JSON logs unless asked for, no X-Ray middleware on the DynamoDB client, no async-hook context tracking.
import { describe, expect, it, vi } from 'vitest';
import { dynamo } from '../../shared/db/client.ts';
import { httpHandler } from '../../shared/http/handler.ts';
import { ok } from '../../shared/http/responses.ts';
import { Metric } from '../../shared/metric-names.ts';
import { countMetric, metrics } from '../../shared/metrics.ts';
import { tracer } from '../../shared/tracer.ts';
import { invoke } from '../support/lambda.ts';

describe('observability outside Lambda', () => {
  it('counts but writes no EMF line: metrics are off unless POWERTOOLS_METRICS_DISABLED=false', async () => {
    expect(process.env.AWS_LAMBDA_FUNCTION_NAME).toBeUndefined();
    const written: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const counting = httpHandler({}, async () => {
      countMetric(Metric.OrdersCreated);
      return ok({});
    });

    try {
      expect((await invoke(counting)).status).toBe(200);
    } finally {
      stdout.mockRestore();
    }

    expect(process.env.POWERTOOLS_METRICS_DISABLED).toBe('true');
    expect(written.join('')).not.toContain('"_aws"');
    // Flushed all the same: nothing is left over for the next invocation.
    expect(metrics.hasStoredMetrics()).toBe(false);
  });

  it('leaves the tracer disabled, the DynamoDB client unwrapped and X-Ray in manual mode (no async hooks)', () => {
    expect(tracer.isTracingEnabled()).toBe(false);
    expect(process.env.AWS_XRAY_MANUAL_MODE).toBe('true');
    const middleware = dynamo.middlewareStack.identify().join(' ');
    expect(middleware).not.toMatch(/xray/i);
  });
});
