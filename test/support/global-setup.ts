// Vitest global setup: one DynamoDB Local for the whole run (or DYNAMODB_ENDPOINT), handed to every test file.
import type { TestProject } from 'vitest/node';
import { startLocalDynamo } from '../../infra/local/dynamodb.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const dynamo = await startLocalDynamo({ external: process.env.DYNAMODB_ENDPOINT });
  project.provide('dynamoEndpoint', dynamo.endpoint);
  return () => dynamo.stop();
}
