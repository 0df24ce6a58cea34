// The process's one DynamoDB client (plus its document wrapper); every module uses these.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';

export const dynamo = new DynamoDBClient({
  // Standard mode retries throttling and 5xx with jittered backoff; transaction conflicts are retried by the domain.
  maxAttempts: 3,
  retryMode: 'standard',
  // Fail a stuck call fast enough to be retried within the Lambda timeout (10 s). Sockets stay at the SDK's 50:
  // a Lambda uses one at a time, and in the local runtime more only queue inside DynamoDB Local instead.
  requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
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
