// One process, concurrent invocations of two functions (as the local runtime runs them): every log line carries the
// function name and request id of the invocation that wrote it.
import { afterEach, describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  // Powertools reads the level when the logger is built; the other test files keep it SILENT.
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
});

import { handler as createHold } from '../../functions/create-hold.ts';
import { handler as createOrder } from '../../functions/create-order.ts';
import { productWithStock } from '../support/fixtures.ts';
import { type Answer, invoke } from '../support/lambda.ts';

interface LogLine {
  message: string;
  function_name?: string;
  function_request_id?: string;
  hold_id?: string;
  order_id?: string;
}

/** The JSON lines Powertools writes to stdout while `run` runs (kept off the test output). */
async function logLinesOf(run: () => Promise<void>): Promise<LogLine[]> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return chunks
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

afterEach(() => vi.restoreAllMocks());

describe('log context with concurrent invocations in one process', () => {
  it('tags every line with the function name and request id of the invocation that wrote it', async () => {
    const n = 12;
    let product = '';
    const earlier: Answer[] = [];
    await logLinesOf(async () => {
      product = await productWithStock(100);
      for (let i = 0; i < n; i++) {
        earlier.push(
          await invoke(createHold, { body: { product_id: product, qty: 1 }, functionName: 'create-hold' }),
        );
      }
    });
    const holdIds = earlier.map((answer) => String(answer.body.data?.hold_id));

    const holds: Answer[] = [];
    const orders: Answer[] = [];
    const lines = await logLinesOf(async () => {
      await Promise.all(
        holdIds.flatMap((holdId) => [
          invoke(createHold, { body: { product_id: product, qty: 1 }, functionName: 'create-hold' }).then(
            (answer) => void holds.push(answer),
          ),
          invoke(createOrder, { body: { hold_id: holdId }, functionName: 'create-order' }).then(
            (answer) => void orders.push(answer),
          ),
        ]),
      );
    });

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
    // Every line of the run (not only the business events) belongs to one of its requests, with that function.
    const functionOf = new Map([...writer.values()].map((w) => [w.requestId, w.functionName]));
    for (const line of lines) {
      expect(line.function_request_id && functionOf.get(line.function_request_id), line.message).toBe(
        line.function_name,
      );
    }
  });
});
