// Runs before each test file: its own table on the shared DynamoDB Local, set before any app module reads config,
// and fault injection (inert until a test arms it) on the one DynamoDB client. The endpoint is the run's contention
// endpoint under CONTENTION_MODE (test/support/global-setup.ts), DynamoDB Local otherwise.
import { randomUUID } from 'node:crypto';
import { DeleteTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, inject } from 'vitest';
import { ensureTable, localClient } from '../../infra/local/dynamodb.ts';

const upstream = inject('dynamoUpstream');
process.env.DYNAMODB_ENDPOINT = inject('dynamoEndpoint');
const tableName = `test-${randomUUID()}`;
process.env.TABLE_NAME = tableName;
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.AWS_REGION ??= 'us-east-1';
// One DynamoDB Local serves every concurrent test on 2 cores: a slow answer there is load, not a fault under test.
process.env.DYNAMODB_CONNECT_TIMEOUT_MS ??= '30000';
process.env.DYNAMODB_REQUEST_TIMEOUT_MS ??= '30000';
await ensureTable(upstream, tableName);
// After the test file is collected: importing the client reads config, and test files set their env at the top.
beforeAll(async () => {
  const { installLocalLayers } = await import('../../infra/local/dynamo-layers.ts');
  installLocalLayers();
});
// The file's table goes with it (DynamoDB Local would hold every file's table until the run ends). Registered first,
// so it runs after the test file's own afterAll hooks (gateways, sweepers) have stopped using the table.
afterAll(async () => {
  const client = localClient(upstream);
  try {
    await client.send(new DeleteTableCommand({ TableName: tableName }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  } finally {
    client.destroy();
  }
});
