// Runs before each test file: its own table on the shared DynamoDB Local, set before any app module reads config,
// and the local layers (fault injection, CONTENTION_MODE) on the one DynamoDB client.
import { randomUUID } from 'node:crypto';
import { beforeAll, inject } from 'vitest';
import { ensureTable } from '../../infra/local/dynamodb.ts';

const endpoint = inject('dynamoEndpoint');
process.env.DYNAMODB_ENDPOINT = endpoint;
process.env.TABLE_NAME = `test-${randomUUID()}`;
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.AWS_REGION ??= 'us-east-1';
// One DynamoDB Local serves every concurrent test on 2 cores: a slow answer there is load, not a fault under test.
process.env.DYNAMODB_CONNECT_TIMEOUT_MS ??= '30000';
process.env.DYNAMODB_REQUEST_TIMEOUT_MS ??= '30000';
await ensureTable(endpoint, process.env.TABLE_NAME);
// After the test file is collected: importing the client reads config, and test files set their env at the top.
beforeAll(async () => {
  const { installLocalLayers } = await import('../../infra/local/dynamo-layers.ts');
  installLocalLayers();
});
