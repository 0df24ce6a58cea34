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

/** Access pattern `itemsPastDeadline`: one page of one shard's items whose deadline is before `now`, oldest first. */
export async function pastDeadlinePage(
  shard: number,
  now: Date,
  startKey?: Record<string, unknown>,
  limit = 100,
) {
  const page = await db.send(
    new QueryCommand({
      TableName: tableName,
      IndexName: indexName,
      KeyConditionExpression: '#pk = :shard AND #sk < :now',
      ExpressionAttributeNames: { '#pk': partitionKey, '#sk': sortKey },
      ExpressionAttributeValues: { ':shard': deadlineShardKey(shard), ':now': now.toISOString() },
      ExclusiveStartKey: startKey,
      Limit: limit,
    }),
  );
  return { items: page.Items ?? [], next: page.LastEvaluatedKey };
}
