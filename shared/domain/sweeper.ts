// The sweep: finds every hold and pending order past its deadline and settles each exactly once.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '../db/client.ts';
import { deadlineShardKey } from '../db/keys.ts';
import { DEADLINE_SHARDS, table } from '../db/table.ts';
import { logger } from '../logger.ts';
import { type HoldRef, type ReleaseOutcome, releaseExpiredHold } from './holds.ts';
import { expireUnpaidOrder, type OrderRef } from './orders.ts';

export interface SweepReport {
  holds_released: number;
  holds_paid_from_parked: number;
  holds_already_settled: number;
  orders_expired: number;
  failures: number;
}

type DeadlineItem = (HoldRef & { entity: 'hold' }) | (OrderRef & { entity: 'order' });

/** Access pattern `itemsPastDeadline`: one shard's items whose deadline is before `now`, oldest first. */
async function* pastDeadline(shard: number, now: Date): AsyncGenerator<DeadlineItem[]> {
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: table.indexes.byDeadline.indexName,
        KeyConditionExpression: 'gsi1pk = :shard AND gsi1sk < :now',
        ExpressionAttributeValues: { ':shard': deadlineShardKey(shard), ':now': now.toISOString() },
        ExclusiveStartKey,
        Limit: 100,
      }),
    );
    yield (page.Items ?? []) as DeadlineItem[];
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
}

/**
 * Settles everything past its deadline at `now`. Safe to run concurrently with itself, with orders and with
 * webhooks: every settlement is a conditional transaction, so the loser of a race changes nothing.
 */
export async function sweep(now: Date): Promise<SweepReport> {
  const report: SweepReport = {
    holds_released: 0,
    holds_paid_from_parked: 0,
    holds_already_settled: 0,
    orders_expired: 0,
    failures: 0,
  };
  const count = (outcome: ReleaseOutcome) => {
    if (outcome === 'released' || outcome === 'cancelled_from_parked') report.holds_released++;
    else if (outcome === 'paid_from_parked') report.holds_paid_from_parked++;
    else report.holds_already_settled++;
  };
  await Promise.all(
    Array.from({ length: DEADLINE_SHARDS }, async (_, shard) => {
      for await (const items of pastDeadline(shard, now)) {
        for (const item of items) {
          try {
            if (item.entity === 'hold') count(await releaseExpiredHold(item, now));
            else if (await expireUnpaidOrder(item, now)) report.orders_expired++;
          } catch (error) {
            // One stuck item must not stop the sweep; it stays in the index and the next sweep retries it.
            report.failures++;
            logger.error('sweep_item_failed', { entity: item.entity, pk: item, error });
          }
        }
      }
    }),
  );
  logger.info('sweep_finished', { ...report });
  return report;
}
