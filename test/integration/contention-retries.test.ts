// The domain's answers to contention and throttling, one error at a time: mocked DynamoDB (each refusal on cue), real
// handlers. The contention endpoint's own tests (test/contention/) produce the same errors from DynamoDB Local.
import {
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import 'aws-sdk-client-mock-vitest/extend';
import { handler as createHoldHandler } from '../../functions/create-hold.ts';
import { handler as getProductHandler } from '../../functions/get-product.ts';
import { db, tableName } from '../../shared/db/client.ts';
import { withContentionRetry } from '../../shared/db/transact.ts';
import { forgetView } from '../../shared/stock/view.ts';
import { invoke } from '../support/lambda.ts';

const documentClient = mockClient(db);

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

const product = {
  pk: 'PRODUCT#1',
  sk: 'PRODUCT',
  entity: 'product',
  product_id: '1',
  name: 'P',
  price_minor: 100,
  currency: 'USD',
  stock_buckets: 1,
  bucket_slots: 1,
};
const bucket = { entity: 'stock', product_id: '1', bucket: 0, stock: 10, available: 10 };

beforeEach(() => {
  documentClient.reset();
  // Every test starts from DynamoDB, not from the view an earlier test left in this process.
  forgetView('1');
  documentClient.on(GetCommand).resolves({ Item: product });
  documentClient.on(BatchGetCommand).resolves({ Responses: { [tableName]: [bucket] } });
});
afterEach(() => documentClient.reset());

describe('transaction conflicts', () => {
  it('retries a hold that meets TransactionConflict and then succeeds', async () => {
    documentClient
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled('TransactionConflict', 'None'))
      .rejectsOnce(cancelled('None', 'TransactionConflict'))
      .resolves({});

    const answer = await invoke(createHoldHandler, { body: { product_id: 1, qty: 2 } });

    expect(answer.status).toBe(201);
    expect(documentClient).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
    expect(documentClient).toHaveReceivedCommandWith(TransactWriteCommand, {
      TransactItems: expect.arrayContaining([
        expect.objectContaining({
          Update: expect.objectContaining({
            ConditionExpression: 'available >= :qty',
            ExpressionAttributeValues: { ':qty': 2 },
          }),
        }),
      ]),
    });
  });

  it('answers 503 with Retry-After when conflicts persist past the conflict budget, backing off the hot bucket', async () => {
    documentClient.on(TransactWriteCommand).rejects(cancelled('TransactionConflict', 'None'));

    const answer = await invoke(createHoldHandler, { body: { product_id: 1, qty: 1 } });

    expect(answer.status).toBe(503);
    expect(answer.headers['Retry-After']).toBe('1');
    expect(answer.body.error?.code).toBe('SERVICE_UNAVAILABLE');
    // Time-bounded (3 s), and each conflict cools the only bucket for up to 200 ms: a few tens, never a spin.
    const sent = documentClient.commandCalls(TransactWriteCommand).length;
    expect(sent).toBeGreaterThanOrEqual(8);
    expect(sent).toBeLessThanOrEqual(40);
  });

  it('answers 503 after TRANSACTION_MAX_ATTEMPTS when a hold keeps being throttled', async () => {
    documentClient.on(TransactWriteCommand).rejects(cancelled('ThrottlingError', 'None'));

    const answer = await invoke(createHoldHandler, { body: { product_id: 1, qty: 1 } });

    expect(answer.status).toBe(503);
    expect(answer.body.error?.code).toBe('SERVICE_UNAVAILABLE');
    expect(documentClient).toHaveReceivedCommandTimes(TransactWriteCommand, 8);
  });

  it('tells a failed stock condition (409, not retried) apart from a conflict', async () => {
    documentClient.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None'));
    documentClient.on(QueryCommand, { IndexName: 'holdsOfProduct' }).resolves({ Items: [] });

    const answer = await invoke(createHoldHandler, { body: { product_id: 1, qty: 1 } });

    expect(answer.status).toBe(409);
    expect(answer.body.error?.code).toBe('INSUFFICIENT_STOCK');
    expect(documentClient).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });
});

describe('throttling', () => {
  it('answers 503 with Retry-After, not 500, when reads stay throttled', async () => {
    documentClient
      .on(GetCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));

    const answer = await invoke(getProductHandler, { pathParameters: { id: '1' } });

    expect(answer.status).toBe(503);
    expect(answer.headers['Retry-After']).toBeDefined();
  });

  it('retries a throttled write inside the bound and succeeds', async () => {
    let calls = 0;
    const result = await withContentionRetry('test', async () => {
      calls++;
      if (calls < 3)
        throw new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} });
      return 'done';
    });

    expect({ result, calls }).toEqual({ result: 'done', calls: 3 });
  });

  it('does not retry an unknown error and surfaces it as a 500 without internals', async () => {
    documentClient.on(GetCommand).rejects(new Error('socket hang up: secret internals'));
    documentClient.on(BatchGetCommand).rejects(new Error('socket hang up: secret internals'));

    const answer = await invoke(getProductHandler, { pathParameters: { id: '1' } });

    expect(answer.status).toBe(500);
    expect(JSON.stringify(answer.body)).not.toContain('secret internals');
    expect(answer.body.error?.code).toBe('INTERNAL_ERROR');
  });
});
