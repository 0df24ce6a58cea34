// The one table's shape: keys, indexes and TTL attribute. The CDK stack and the local runtime both build from it.
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

export interface IndexDefinition {
  readonly indexName: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  /** Attributes projected besides the keys (the sweeper and reclaim read only these). */
  readonly nonKeyAttributes: readonly string[];
}

// customer_id: a release gives the customer's allowance back in the same transaction as the units.
const projected = [
  'entity',
  'hold_id',
  'order_id',
  'product_id',
  'qty',
  'draws',
  'status',
  'customer_id',
] as const;

export const table = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds. Set only on items that no longer hold stock, so TTL can never release or lose a unit. */
  ttlAttribute: 'expiration',
  indexes: {
    /**
     * Access pattern `itemsPastDeadline`: every active hold (deadline = expires_at) and pending order
     * (deadline = payment_due_at), sharded over DEADLINE_SHARDS partitions, sorted by deadline.
     * Sparse: the attributes are removed the moment the item stops holding stock on a clock.
     */
    byDeadline: {
      indexName: 'byDeadline',
      partitionKey: 'gsi1pk',
      sortKey: 'gsi1sk',
      nonKeyAttributes: projected,
    },
    /**
     * Access pattern `expiredHoldsOfProduct`: one product's active holds by expiry, for reclaim-on-shortage.
     * Sharded by the stock bucket a hold drew from first, so its writes spread like the stock does.
     */
    holdsOfProduct: {
      indexName: 'holdsOfProduct',
      partitionKey: 'gsi2pk',
      sortKey: 'gsi2sk',
      nonKeyAttributes: projected,
    },
  },
} as const satisfies {
  partitionKey: string;
  sortKey: string;
  ttlAttribute: string;
  indexes: Record<string, IndexDefinition>;
};

/**
 * Number of `byDeadline` partitions the sweeper walks; every hold writes one of them (and again when it stops
 * holding stock), so 16 shards carry 16 x 1,000 / 2 = 8,000 holds/s for the whole table. Only ever raise it:
 * the sweeper walks shards 0..n-1, so lowering it would strand items in the higher shards.
 */
export const DEADLINE_SHARDS = 16;

export const DAY_SECONDS = 24 * 60 * 60;
/** Finished holds and unclaimed parked payments are garbage-collected by TTL after this long. */
export const RETENTION_SECONDS = 30 * DAY_SECONDS;
export const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);
/** The TTL value for an item that stopped holding stock at `now`. */
export const gcAfter = (now: Date) => epochSeconds(now) + RETENTION_SECONDS;

/** Small deterministic hash of an id, for spreading items over shards. */
export function shardOf(id: string, shards: number): number {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % shards;
}

/** CreateTable input for DynamoDB Local (the cloud table is built by infra/data-stack.ts from the same object). */
export function createTableInput(tableName: string): CreateTableCommandInput {
  const indexes = Object.values(table.indexes);
  const keyAttributes = new Set<string>([
    table.partitionKey,
    table.sortKey,
    ...indexes.flatMap((index) => [index.partitionKey, index.sortKey]),
  ]);
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...keyAttributes].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: table.partitionKey, KeyType: 'HASH' },
      { AttributeName: table.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: indexes.map((index) => ({
      IndexName: index.indexName,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.nonKeyAttributes] },
    })),
  };
}
