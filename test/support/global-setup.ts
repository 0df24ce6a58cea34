// Vitest global setup of the tiers that need a table: one DynamoDB Local for the whole run (or DYNAMODB_ENDPOINT),
// handed to every test file of those tiers; with CONTENTION_MODE, one contention endpoint in front of it that every
// test process shares, as the tests' endpoint. Each such project lists this file; the first one to run starts the
// backend, the others share it, and the last teardown stops it. Unit and infra do not list it: they never need Java.
import type { TestProject } from 'vitest/node';
import { parseContentionSpec, startContentionEndpoint } from '../../infra/local/contention.ts';
import { LocalDynamoError, startLocalDynamo } from '../../infra/local/dynamodb.ts';
import { dynamoTiers } from './tiers.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** What the app's client uses: the contention endpoint under CONTENTION_MODE, DynamoDB Local otherwise. */
    dynamoEndpoint: string;
    /** DynamoDB Local itself: tables are made here, and a suite's own contention endpoint sits in front of it. */
    dynamoUpstream: string;
  }
}

/** What the test files talk to, started once per run. */
interface Backend {
  endpoint: string;
  upstream: string;
  stop: () => Promise<void>;
}

async function startBackend(): Promise<Backend> {
  const params = parseContentionSpec(process.env.CONTENTION_MODE);
  const dynamo = await startLocalDynamo({ external: process.env.DYNAMODB_ENDPOINT });
  const contention = params
    ? await startContentionEndpoint({ upstream: dynamo.endpoint, params }).catch(async (error: unknown) => {
        await dynamo.stop();
        throw error;
      })
    : undefined;
  return {
    endpoint: contention?.endpoint ?? dynamo.endpoint,
    upstream: dynamo.endpoint,
    stop: async () => {
      if (contention) {
        const { transactionConflicts, writeConflicts, throttles, forwarded } = contention.stats();
        console.log(
          `contention endpoint (CONTENTION_MODE=${process.env.CONTENTION_MODE}): ${forwarded} requests, ` +
            `${transactionConflicts} transaction conflicts, ${writeConflicts} write conflicts, ${throttles} throttles`,
        );
        await contention.close();
      }
      await dynamo.stop();
    },
  };
}

// Vitest loads a global setup file once per project, each in its own module instance but all in the one main
// process: the shared backend lives on globalThis.
const run = globalThis as typeof globalThis & {
  __testBackend?: { backend: Promise<Backend>; users: number };
};

export default async function setup(project: TestProject) {
  run.__testBackend ??= { backend: startBackend(), users: 0 };
  const shared = run.__testBackend;
  shared.users += 1;
  let backend: Backend;
  try {
    backend = await shared.backend;
  } catch (error) {
    if (!(error instanceof LocalDynamoError)) throw error;
    // A missing or old Java is a fact about the machine, not a failing test: say it once, without a stack trace.
    console.error(
      `\n${error.message} The test tiers ${dynamoTiers.join(', ')} need it; \`npm run test:unit\` and \`npm run test:infra\` do not.\n`,
    );
    process.exit(1);
  }
  project.provide('dynamoUpstream', backend.upstream);
  project.provide('dynamoEndpoint', backend.endpoint);
  return async () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    run.__testBackend = undefined;
    await backend.stop();
  };
}
