// The payment webhook Lambda against DynamoDB Local: signatures, replay through Powertools idempotency, races.
import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  // Two secrets: the current one and the one being rotated out.
  process.env.WEBHOOK_SECRET = 'whsec_new,whsec_old';
});

import { ConditionalCheckFailedException, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { handler } from '../../functions/payment-webhook.ts';
import { dynamo, tableName } from '../../shared/db/client.ts';
import { createHold } from '../../shared/holds/service.ts';
import { signatureHeader } from '../../shared/http/signature.ts';
import { createOrder, getOrder } from '../../shared/orders/service.ts';
import { getProduct } from '../../shared/stock/service.ts';
import { productWithStock } from '../support/fixtures.ts';
import { invoke } from '../support/lambda.ts';

async function pendingOrder(stock = 10, qty = 2) {
  const product = await productWithStock(stock);
  const now = new Date();
  const hold = await createHold(product, qty, now);
  await createOrder(hold.hold_id, now);
  return { product, orderId: hold.hold_id };
}

function signed(body: unknown, secret = 'whsec_new', timestamp?: number) {
  const rawBody = JSON.stringify(body);
  return { rawBody, headers: { 'x-signature': signatureHeader(secret, rawBody, timestamp) } };
}

describe('webhook signatures', () => {
  it('applies a webhook signed with the current secret', async () => {
    const { orderId } = await pendingOrder();

    const answer = await invoke(
      handler,
      signed({ idempotency_key: randomUUID(), order_id: orderId, status: 'success' }),
    );

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ success: true, data: { order_id: orderId, order_status: 'paid' } });
  });

  it('accepts the previous secret during rotation', async () => {
    const { orderId } = await pendingOrder();

    const answer = await invoke(
      handler,
      signed({ idempotency_key: randomUUID(), order_id: orderId, status: 'success' }, 'whsec_old'),
    );

    expect(answer.status).toBe(200);
  });

  it.each([
    ['unsigned', (_raw: string) => ({})],
    [
      'forged with another secret',
      (raw: string) => ({ 'x-signature': signatureHeader('whsec_attacker', raw) }),
    ],
    [
      'stale (6 minutes old)',
      (raw: string) => ({
        'x-signature': signatureHeader('whsec_new', raw, Math.floor(Date.now() / 1000) - 360),
      }),
    ],
    ['malformed', (_raw: string) => ({ 'x-signature': 'v1=deadbeef' })],
    [
      'signed over another body',
      (_raw: string) => ({ 'x-signature': signatureHeader('whsec_new', '{"tampered":true}') }),
    ],
  ])('rejects a %s webhook with 401 and changes nothing', async (_name, headersFor) => {
    const { product, orderId } = await pendingOrder(10, 2);
    const rawBody = JSON.stringify({ idempotency_key: randomUUID(), order_id: orderId, status: 'failure' });

    const answer = await invoke(handler, { rawBody, headers: headersFor(rawBody) });

    expect(answer.status).toBe(401);
    expect(answer.body.error?.code).toBe('INVALID_SIGNATURE');
    expect((await getOrder(orderId)).status).toBe('pending');
    expect((await getProduct(product)).available).toBe(8);
  });

  it('rejects a body changed after signing', async () => {
    const { orderId } = await pendingOrder();
    const original = signed({ idempotency_key: randomUUID(), order_id: orderId, status: 'success' });

    const answer = await invoke(handler, {
      ...original,
      rawBody: original.rawBody.replace('success', 'failure'),
    });

    expect(answer.status).toBe(401);
    expect((await getOrder(orderId)).status).toBe('pending');
  });
});

describe('webhook idempotency', () => {
  it('applies 12 concurrent duplicates once: the rest replay the answer or get REQUEST_IN_PROGRESS', async () => {
    const { product, orderId } = await pendingOrder(10, 3);
    const delivery = signed({ idempotency_key: randomUUID(), order_id: orderId, status: 'failure' });

    const answers = await Promise.all(Array.from({ length: 12 }, () => invoke(handler, delivery)));

    for (const answer of answers) {
      if (answer.status === 409) {
        expect(answer.body.error?.code).toBe('REQUEST_IN_PROGRESS');
        expect(answer.headers['Retry-After']).toBe('1');
      } else {
        expect(answer).toMatchObject({ status: 200, body: { data: { order_status: 'cancelled' } } });
      }
    }
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(1);
    expect((await getProduct(product)).available).toBe(10);
  });

  it('replays the first answer for a later duplicate from the idempotency record', async () => {
    const { orderId } = await pendingOrder();
    const delivery = signed({ idempotency_key: randomUUID(), order_id: orderId, status: 'success' });
    const first = await invoke(handler, delivery);

    // Fresh signature, same event: providers re-sign every retry.
    const again = await invoke(handler, signed(JSON.parse(delivery.rawBody)));

    expect(again.status).toBe(first.status);
    expect(again.body).toEqual(first.body);
  });

  it('gets the stored record back from the failed conditional put (ReturnValuesOnConditionCheckFailure), no extra read', async () => {
    const { orderId } = await pendingOrder();
    const delivery = signed({ idempotency_key: randomUUID(), order_id: orderId, status: 'success' });
    await invoke(handler, delivery);
    const sent: string[] = [];
    const failedPutsWithItem: boolean[] = [];
    dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(context.commandName ?? '');
        try {
          return await next(args);
        } catch (error) {
          if (error instanceof ConditionalCheckFailedException)
            failedPutsWithItem.push(error.Item !== undefined);
          throw error;
        }
      },
      { step: 'initialize', name: 'recordCommands' },
    );
    try {
      const again = await invoke(handler, delivery);

      expect(again.body.data?.order_status).toBe('paid');
      expect(sent).toEqual(['PutItemCommand']);
      expect(failedPutsWithItem).toEqual([true]);
    } finally {
      dynamo.middlewareStack.remove('recordCommands');
    }
  });

  it('is served ALL_OLD on a failed condition by DynamoDB Local itself', async () => {
    const Item = { pk: { S: `probe-${randomUUID()}` }, sk: { S: 'x' }, data: { S: 'stored' } };
    await dynamo.send(new PutItemCommand({ TableName: tableName, Item }));

    const error = await dynamo
      .send(
        new PutItemCommand({
          TableName: tableName,
          Item,
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      )
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConditionalCheckFailedException);
    expect((error as ConditionalCheckFailedException).Item?.data).toEqual({ S: 'stored' });
  });

  it('replays a parked answer (202) for a duplicate delivered before the order', async () => {
    const product = await productWithStock(5);
    const hold = await createHold(product, 1, new Date());
    const delivery = signed({ idempotency_key: randomUUID(), order_id: hold.hold_id, status: 'success' });

    const first = await invoke(handler, delivery);
    const again = await invoke(handler, delivery);

    expect(first).toMatchObject({ status: 202, body: { data: { order_status: 'awaiting_order' } } });
    expect(again.status).toBe(202);
    const { order } = await createOrder(hold.hold_id, new Date());
    expect(order.status).toBe('paid');
  });

  it('answers 409 ORDER_ALREADY_FINALIZED to a failure with another key after paid', async () => {
    const { orderId } = await pendingOrder();
    await invoke(handler, signed({ idempotency_key: randomUUID(), order_id: orderId, status: 'success' }));

    const answer = await invoke(
      handler,
      signed({ idempotency_key: randomUUID(), order_id: orderId, status: 'failure' }),
    );

    expect(answer.status).toBe(409);
    expect(answer.body.error?.code).toBe('ORDER_ALREADY_FINALIZED');
    expect((await getOrder(orderId)).status).toBe('paid');
  });

  it.each([
    [{ order_id: '1', status: 'success' }, 'missing idempotency_key'],
    [{ idempotency_key: '', order_id: '1', status: 'success' }, 'empty key'],
    [{ idempotency_key: 'k'.repeat(256), order_id: '1', status: 'success' }, 'key over 255 chars'],
    [{ idempotency_key: 'k', order_id: '1', status: 'paid' }, 'unknown status'],
  ] as [Record<string, unknown>, string][])('answers 422 for %j (%s)', async (body) => {
    const answer = await invoke(handler, signed(body));

    expect(answer.status).toBe(422);
    expect(answer.body.error?.code).toBe('VALIDATION_ERROR');
  });
});
