// The one way to write a single item: a Put, Update or Delete shaped like a transaction's item, with bounded
// contention retries, and a failed condition reported as the same ConditionFailed transact() throws.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { db } from './client.ts';
import { ConditionFailed, type TransactItem, withContentionRetry } from './transact.ts';

export type PutWrite = { Put: NonNullable<TransactItem['Put']> };
export type UpdateWrite = { Update: NonNullable<TransactItem['Update']> };
export type DeleteWrite = { Delete: NonNullable<TransactItem['Delete']> };
/**
 * One item's write, built by its owner's items.ts; the same value can go into a transaction. A Delete goes through
 * deleteOnce (single-delete.ts), so only the functions that delete bundle DeleteCommand: their roles grant DeleteItem
 * and the others' do not (test/infra/iam.test.ts reads the bundles).
 */
export type SingleWrite = PutWrite | UpdateWrite;

function send(write: SingleWrite) {
  if ('Put' in write) return db.send(new PutCommand(write.Put));
  return db.send(new UpdateCommand(write.Update));
}

/**
 * One attempt: sends `write`, and turns a failed condition into ConditionFailed naming `name` (with the item as it
 * was when the write asked for ReturnValuesOnConditionCheckFailure ALL_OLD). Other errors pass through unchanged.
 */
export function writeOnce(name: string, write: SingleWrite): Promise<void> {
  return namingFailedCondition(name, () => send(write));
}

/** Runs a single-item `send`; a failed condition becomes ConditionFailed naming `name` (old item under ALL_OLD). */
export async function namingFailedCondition(name: string, send: () => Promise<unknown>): Promise<void> {
  try {
    await send();
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ConditionalCheckFailedException')) throw error;
    const { Item } = error as { Item?: Record<string, AttributeValue> };
    const old = Item ? unmarshall(Item) : undefined;
    throw new ConditionFailed(name, new Set([name]), { [name]: old }, { cause: error });
  }
}

/** Writes one item, retrying contention; a failed condition surfaces as ConditionFailed: `failedOn(error, name)`. */
export function writeOne(name: string, write: SingleWrite): Promise<void> {
  return withContentionRetry(name, () => writeOnce(name, write));
}
