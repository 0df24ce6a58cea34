// Runs before each test file: its own table on the shared DynamoDB Local, set before any app module reads config,
// and the local layers (fault injection, CONTENTION_MODE) on the one DynamoDB client.
import { randomUUID } from 'node:crypto';
import { DeleteTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, inject } from 'vitest';
import { ensureTable, localClient } from '../../infra/local/dynamodb.ts';

const endpoint = inject('dynamoEndpoint');
process.env.DYNAMODB_ENDPOINT = endpoint;
const tableName = `test-${randomUUID()}`;
process.env.TABLE_NAME = tableName;
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.AWS_REGION ??= 'us-east-1';
// One DynamoDB Local serves every concurrent test on 2 cores: a slow answer there is load, not a fault under test.
process.env.DYNAMODB_CONNECT_TIMEOUT_MS ??= '30000';
process.env.DYNAMODB_REQUEST_TIMEOUT_MS ??= '30000';
await ensureTable(endpoint, tableName);
// After the test file is collected: importing the client reads config, and test files set their env at the top.
beforeAll(async () => {
  const { installLocalLayers } = await import('../../infra/local/dynamo-layers.ts');
  installLocalLayers();
});
// The file's table goes with it (DynamoDB Local would hold every file's table until the run ends). Registered first,
// so it runs after the test file's own afterAll hooks (gateways, sweepers) have stopped using the table.
afterAll(async () => {
  const client = localClient(endpoint);
  try {
    await client.send(new DeleteTableCommand({ TableName: tableName }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  } finally {
    client.destroy();
  }
});
