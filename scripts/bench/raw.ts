// Raw floors: the writes and reads a hold and a product page make, sent straight to DynamoDB with no handler around
// them. Items, keys and conditions come from the aggregates' own builders, so a floor cannot drift from the app.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { countUnits } from '../../shared/customers/items.ts';
import { db, tableName } from '../../shared/db/client.ts';
import { writeOnce } from '../../shared/db/single-write.ts';
import { type HoldItem, putHold } from '../../shared/holds/items.ts';
import { createBucket, productKey, stockBucketKey, takeUnits } from '../../shared/stock/items.ts';
import { errorName } from './load.ts';

/** Units in a raw floor's bucket: no run comes near them. */
const RAW_UNITS = 1_000_000_000;
/** The buyers' limit on the limited raw hold, as the limited product of the uncontended section has it. */
export const RAW_LIMIT = 5;

/** A raw floor's stock: one bucket (bucket 0 of `productId`), put by the stock aggregate's builder. */
export async function putRawBucket(productId: string): Promise<void> {
  await writeOnce(
    'raw_bucket',
    createBucket({
      entity: 'stock',
      product_id: productId,
      bucket: 0,
      stock: RAW_UNITS,
      available: RAW_UNITS,
    }),
  );
}

/** Units taken from a raw bucket so far (stock - available, read consistently). */
export async function takenFrom(productId: string): Promise<number> {
  const { Item } = await db.send(
    new GetCommand({ TableName: tableName, Key: stockBucketKey(productId, 0), ConsistentRead: true }),
  );
  return Number(Item?.stock ?? Number.NaN) - Number(Item?.available ?? Number.NaN);
}

const oneUnit = (productId: string) => ({ product_id: productId, draws: [{ bucket: 0, qty: 1 }] });

/** A new active hold of one unit from bucket 0, shaped by HoldItem (putHold adds its key and index entries). */
function rawHold(productId: string, customerId?: string): HoldItem {
  const now = new Date();
  return {
    entity: 'hold',
    hold_id: randomUUID(),
    product_id: productId,
    qty: 1,
    draws: [{ bucket: 0, qty: 1 }],
    unit_price_minor: 1250,
    currency: 'USD',
    ...(customerId ? { customer_id: customerId } : {}),
    status: 'active',
    created_at: now.toISOString(),
    expires_at: new Date(now.getTime() + 120_000).toISOString(),
  };
}

/** What one raw attempt came to: `ok`, or the error's name (`TransactionCanceledException` for a conflict). */
export type RawOutcome = 'ok' | string;

const send = async (items: object[]): Promise<RawOutcome> => {
  try {
    await db.send(new TransactWriteCommand({ TransactItems: items }));
    return 'ok';
  } catch (error) {
    return errorName(error);
  }
};

/** The floor of section 1: a 1-item transaction taking one unit from the bucket, once; 0-20 ms pause if cancelled. */
export async function rawTakeOnce(productId: string): Promise<RawOutcome> {
  const outcome = await send(Object.values(takeUnits(oneUnit(productId))));
  if (outcome === 'TransactionCanceledException') await sleep(Math.random() * 20);
  return outcome;
}

/**
 * The raw hold: one transaction taking 1 unit and writing the hold with its two index entries (plus the buyer's
 * counter under a limit when `customerId`), conflicts retried after 0-20 ms. Returns every outcome it met.
 */
export async function rawHoldTxn(productId: string, customerId?: string): Promise<RawOutcome[]> {
  const hold = rawHold(productId, customerId);
  const items = [
    ...Object.values(takeUnits(oneUnit(productId))),
    putHold(hold),
    ...Object.values(countUnits({ customer_id: customerId, product_id: productId, qty: 1 }, RAW_LIMIT)),
  ];
  const outcomes: RawOutcome[] = [];
  for (;;) {
    const outcome = await send(items);
    outcomes.push(outcome);
    if (outcome !== 'TransactionCanceledException') return outcomes;
    await sleep(Math.random() * 20);
  }
}

/** The raw product page: a consistent GetItem of the product item. */
export async function rawGetProduct(productId: string): Promise<RawOutcome> {
  const { Item } = await db.send(
    new GetCommand({ TableName: tableName, Key: productKey(productId), ConsistentRead: true }),
  );
  return Item ? 'ok' : 'raw GetItem: no item';
}
