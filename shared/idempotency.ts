// Powertools idempotency, stored in the one table under a per-scope partition, replaying the first response. The only
// place an idempotency record's key is spelled.
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { dynamo, tableName } from './db/client.ts';
import { DAY_SECONDS, table } from './db/table.ts';

/** The partition of one scope's Powertools records (the sort key is the hash of the idempotency key). */
const idempotencyPartition = (scope: string) => `IDEMPOTENCY#${scope}`;

/** Record store for one scope (`create-hold`, `payment-webhook`); records expire (and TTL collects them) after 24 h. */
export function idempotencyStore(scope: string): DynamoDBPersistenceLayer {
  return new DynamoDBPersistenceLayer({
    tableName,
    keyAttr: table.partitionKey,
    sortKeyAttr: table.sortKey,
    staticPkValue: idempotencyPartition(scope),
    expiryAttr: table.ttlAttribute,
    awsSdkV3Client: dynamo,
  });
}

export function idempotencyConfig(payloadValidationJmesPath: string): IdempotencyConfig {
  return new IdempotencyConfig({
    eventKeyJmesPath: 'idempotency_key',
    payloadValidationJmesPath,
    expiresAfterSeconds: DAY_SECONDS,
    throwOnNoIdempotencyKey: true,
  });
}
