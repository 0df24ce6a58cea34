// The `byDeadline` index: every hold and pending order that holds stock on a clock, sharded, sorted by deadline.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '../db/client.ts';
import { DEADLINE_SHARDS, shardOf, table } from '../db/table.ts';

const { indexName, partitionKey, sortKey } = table.indexes.byDeadline;

export const deadlineShardKey = (shard: number) => `DEADLINE#${shard}`;

/** Index attributes of an item that holds stock until `deadline`. */
export const deadlineIndex = (kind: 'HOLD' | 'ORDER', id: string, deadline: string) => ({
  [partitionKey]: deadlineShardKey(shardOf(id, DEADLINE_SHARDS)),
  [sortKey]: `${deadline}#${kind}#${id}`,
});

/** For an UpdateExpression's REMOVE clause: the item stops holding stock on a clock and leaves the index. */
export const leaveDeadlineIndex = `${partitionKey}, ${sortKey}`;

/** The `itemsPastDeadline` query of one shard: its items whose deadline is before `now`, oldest first. */
const pastDeadline = (shard: number, now: Date) => ({
  TableName: tableName,
  IndexName: indexName,
  KeyConditionExpression: '#pk = :shard AND #sk < :now',
  ExpressionAttributeNames: { '#pk': partitionKey, '#sk': sortKey },
  ExpressionAttributeValues: { ':shard': deadlineShardKey(shard), ':now': now.toISOString() },
});

/** Access pattern `itemsPastDeadline`: one page of one shard's items whose deadline is before `now`, oldest first. */
export async function pastDeadlinePage(
  shard: number,
  now: Date,
  startKey?: Record<string, unknown>,
  limit = 100,
) {
  const page = await db.send(
    new QueryCommand({ ...pastDeadline(shard, now), ExclusiveStartKey: startKey, Limit: limit }),
  );
  return { items: page.Items ?? [], next: page.LastEvaluatedKey };
}

/** The deadline (ISO-8601) of an item read from the index: its sort key starts with it. */
export const deadlineOf = (item: object): string =>
  String((item as Record<string, unknown>)[sortKey]).split('#')[0] ?? '';

/**
 * How many of one shard's items after `startKey` are past `now` (Select COUNT, no items returned), reading at most
 * `maxPages` pages: a lower bound when `capped`.
 */
export async function countPastDeadline(
  shard: number,
  now: Date,
  startKey: Record<string, unknown> | undefined,
  maxPages: number,
): Promise<{ count: number; capped: boolean }> {
  let count = 0;
  let next = startKey;
  for (let page = 0; page < maxPages; page++) {
    const answer = await db.send(
      new QueryCommand({ ...pastDeadline(shard, now), ExclusiveStartKey: next, Select: 'COUNT' }),
    );
    count += answer.Count ?? 0;
    next = answer.LastEvaluatedKey;
    if (!next) return { count, capped: false };
  }
  return { count, capped: true };
}
