// Concurrent invocations of two functions, each in its own execution environments (the local runtime, as Lambda
// runs them): every log line carries the function name, request id and cold start of the invocation that wrote it.
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Invocation, type Runtime, startRuntime } from '../../infra/local/environments.ts';
import { routes } from '../../infra/routes.ts';
import { productWithStock } from '../support/fixtures.ts';
import { type Answer, answerOf, apiEvent } from '../support/lambda.ts';

interface LogLine {
  message: string;
  function_name?: string;
  function_request_id?: string;
  cold_start?: boolean;
  hold_id?: string;
  order_id?: string;
}

const functions = routes.filter((route) => route.id === 'create-hold' || route.id === 'create-order');
let runtime: Runtime;
let output = '';
const stdout = new PassThrough();
stdout.on('data', (chunk: Buffer) => {
  output += chunk.toString('utf8');
});

beforeAll(async () => {
  runtime = await startRuntime({
    functions,
    caps: { 'create-hold': 6, 'create-order': 6 },
    // The other test files keep the level SILENT; these environments log.
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'INFO' },
    logs: { stdout, stderr: new PassThrough() },
  });
});
afterAll(() => runtime?.close());

/**
 * The JSON lines the environments wrote while `run` ran. An environment's stdout reaches this thread on its own
 * channel, possibly after the invocation's answer: the lines are read once `complete` says they are all there.
 */
async function logLinesOf(
  run: () => Promise<void>,
  complete: (lines: LogLine[]) => boolean,
): Promise<LogLine[]> {
  const from = output.length;
  await run();
  const lines = () =>
    output
      .slice(from)
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  if (complete(lines())) return lines();
  await new Promise<void>((resolve) => {
    const check = () => {
      if (!complete(lines())) return;
      stdout.off('data', check);
      resolve();
    };
    stdout.on('data', check);
  });
  return lines();
}

function answered(invocation: Invocation): Answer {
  if (invocation.outcome !== 'success') throw new Error(`invocation failed: ${JSON.stringify(invocation)}`);
  return answerOf(invocation.result as Parameters<typeof answerOf>[0], invocation.requestId);
}

describe('log context with concurrent invocations in execution environments', () => {
  it('tags every line with the function name, request id and cold start of the invocation that wrote it', async () => {
    const n = 12;
    const product = await productWithStock(100);
    const earlier: Answer[] = [];
    // Its lines all read here, so none of them arrives among the next run's.
    await logLinesOf(
      async () => {
        const answers = await Promise.all(
          Array.from({ length: n }, () =>
            runtime.invoke('create-hold', apiEvent({ body: { product_id: product, qty: 1 } })).then(answered),
          ),
        );
        earlier.push(...answers);
      },
      (written) => written.filter((line) => line.message === 'hold_created').length >= n,
    );
    const holdIds = earlier.map((answer) => String(answer.body.data?.hold_id));

    const invocations: Array<{ functionName: string; invocation: Invocation }> = [];
    const lines = await logLinesOf(
      async () => {
        await Promise.all(
          holdIds.flatMap((holdId) =>
            (
              [
                ['create-hold', { product_id: product, qty: 1 }],
                ['create-order', { hold_id: holdId }],
              ] as const
            ).map(([functionName, body]) =>
              runtime.invoke(functionName, apiEvent({ body })).then((invocation) => {
                invocations.push({ functionName, invocation });
              }),
            ),
          ),
        );
      },
      (written) =>
        written.filter((line) => line.message === 'hold_created' || line.message === 'order_created')
          .length >=
        2 * n,
    );

    const holds = invocations
      .filter((i) => i.functionName === 'create-hold')
      .map((i) => answered(i.invocation));
    const orders = invocations
      .filter((i) => i.functionName === 'create-order')
      .map((i) => answered(i.invocation));
    expect(holds.map((answer) => answer.status)).toEqual(Array(n).fill(201));
    expect(orders.map((answer) => answer.status)).toEqual(Array(n).fill(201));
    // Who wrote which line: the request that created hold X logged hold_created for X (order_created likewise).
    const writer = new Map<string, { functionName: string; requestId: string | undefined }>();
    for (const answer of holds)
      writer.set(`hold_created ${answer.body.data?.hold_id}`, {
        functionName: 'create-hold',
        requestId: answer.requestId,
      });
    for (const answer of orders)
      writer.set(`order_created ${answer.body.data?.order_id}`, {
        functionName: 'create-order',
        requestId: answer.requestId,
      });

    const business = lines.filter(
      (line) => line.message === 'hold_created' || line.message === 'order_created',
    );
    expect(business).toHaveLength(2 * n);
    for (const line of business) {
      const id = line.message === 'hold_created' ? line.hold_id : line.order_id;
      const expected = writer.get(`${line.message} ${id}`);
      expect(expected, `${line.message} ${id} written by a request of this test`).toBeDefined();
      expect({ function_name: line.function_name, function_request_id: line.function_request_id }).toEqual({
        function_name: expected?.functionName,
        function_request_id: expected?.requestId,
      });
    }
    // Every line of the run belongs to one of its requests, with that function and that invocation's cold start:
    // create-order's environments start here (cold), create-hold's were started by the earlier holds (warm).
    const byRequest = new Map(invocations.map((i) => [i.invocation.requestId, i]));
    for (const line of lines) {
      const source = byRequest.get(line.function_request_id ?? '');
      expect(source?.functionName, line.message).toBe(line.function_name);
      const cold = source?.invocation.outcome === 'success' && source.invocation.coldStart;
      expect(line.cold_start, `${line.message} of ${line.function_request_id}`).toBe(cold);
    }
    const coldOrders = invocations.filter(
      (i) =>
        i.functionName === 'create-order' && i.invocation.outcome === 'success' && i.invocation.coldStart,
    );
    expect(coldOrders.length).toBeGreaterThanOrEqual(1);
    expect(coldOrders.length).toBeLessThanOrEqual(6);
  });
});
