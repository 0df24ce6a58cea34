// The process's one DynamoDB client (plus its document wrapper); every module uses these.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import type { Key } from './keys.ts';

export const dynamo = new DynamoDBClient({
  // Standard mode retries throttling and 5xx with jittered backoff; transaction conflicts are retried by the domain.
  maxAttempts: 3,
  retryMode: 'standard',
  // Fail a stuck call fast enough to be retried within the Lambda timeout (10 s; see config). Sockets stay at the
  // SDK's 50: a Lambda uses one at a time. In the one-process local runtime requests queue for them, and that wait
  // counts against connectionTimeout, so `npm start` and the tests raise it.
  requestHandler: {
    connectionTimeout: config.DYNAMODB_CONNECT_TIMEOUT_MS,
    requestTimeout: config.DYNAMODB_REQUEST_TIMEOUT_MS,
  },
  ...(config.DYNAMODB_ENDPOINT
    ? {
        endpoint: config.DYNAMODB_ENDPOINT,
        region: process.env.AWS_REGION ?? 'us-east-1',
        // DynamoDB Local accepts any credentials; never fall through to a real profile when offline.
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      }
    : {}),
});

export const db = DynamoDBDocumentClient.from(dynamo, {
  marshallOptions: { removeUndefinedValues: true },
});

export const tableName = config.TABLE_NAME;

/** A strongly consistent read of one item by key. */
export async function getItem<T>(key: Key): Promise<T | undefined> {
  const { Item } = await db.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
  return Item as T | undefined;
}
