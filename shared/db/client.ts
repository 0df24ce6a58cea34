// The process's one DynamoDB client (plus its document wrapper); every module uses these.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.ts';
import { installFaultInjection, parseFaultSpec, setFaultPlan } from './faults.ts';

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

// Fault injection exists only off-Lambda (tests, local runtime), inert until a test or FAULT_INJECTION arms it.
const inLambda = process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined;
if (config.FAULT_INJECTION && inLambda)
  throw new Error('FAULT_INJECTION must never be set in a deployed Lambda');
if (!inLambda) {
  installFaultInjection(dynamo);
  if (config.FAULT_INJECTION) setFaultPlan(parseFaultSpec(config.FAULT_INJECTION, config.FAULT_SEED));
}

export const db = DynamoDBDocumentClient.from(dynamo, {
  marshallOptions: { removeUndefinedValues: true },
});

export const tableName = config.TABLE_NAME;
