// Vitest global setup: one DynamoDB Local for the whole run (or DYNAMODB_ENDPOINT), handed to every test file; with
// CONTENTION_MODE, one contention endpoint in front of it that every test process shares, as the tests' endpoint.
import type { TestProject } from 'vitest/node';
import { parseContentionSpec, startContentionEndpoint } from '../../infra/local/contention.ts';
import { startLocalDynamo } from '../../infra/local/dynamodb.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** What the app's client uses: the contention endpoint under CONTENTION_MODE, DynamoDB Local otherwise. */
    dynamoEndpoint: string;
    /** DynamoDB Local itself: tables are made here, and a suite's own contention endpoint sits in front of it. */
    dynamoUpstream: string;
  }
}

export default async function setup(project: TestProject) {
  const params = parseContentionSpec(process.env.CONTENTION_MODE);
  const dynamo = await startLocalDynamo({ external: process.env.DYNAMODB_ENDPOINT });
  const contention = params
    ? await startContentionEndpoint({ upstream: dynamo.endpoint, params }).catch(async (error: unknown) => {
        await dynamo.stop();
        throw error;
      })
    : undefined;
  project.provide('dynamoUpstream', dynamo.endpoint);
  project.provide('dynamoEndpoint', contention?.endpoint ?? dynamo.endpoint);
  return async () => {
    if (contention) {
      const { transactionConflicts, writeConflicts, throttles, forwarded } = contention.stats();
      console.log(
        `contention endpoint (CONTENTION_MODE=${process.env.CONTENTION_MODE}): ${forwarded} requests, ` +
          `${transactionConflicts} transaction conflicts, ${writeConflicts} write conflicts, ${throttles} throttles`,
      );
      await contention.close();
    }
    await dynamo.stop();
  };
}
