// `npm start`: DynamoDB Local (or DYNAMODB_ENDPOINT), the table, demo data, the HTTP gateway and the sweeper timer;
// with `--identity` (or LOCAL_IDENTITY=1) a local token issuer for the buyer routes.
// The AWS SDK warns at every client it builds that its releases after January 2027 need Node 22+. Lambda runs Node 24
// and the supported floor for local use and CI is Node 20.19, so locally it is noise; @aws-sdk/core's
// emitWarningIfUnsupportedVersion reads this variable when the first client is built (later, in main()).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { z } from 'zod';
import {
  type ContentionEndpoint,
  type ContentionParams,
  isContentionEndpoint,
  parseContentionSpec,
  STATS_PATH,
  startContentionEndpoint,
} from './contention.ts';
import { ensureTable, type LocalDynamo, LocalDynamoError, startLocalDynamo } from './dynamodb.ts';
import {
  bundleFunctions,
  type FunctionBundles,
  type Runtime,
  runtimeSettingsFromEnv,
  stackFunctions,
  startRuntime,
} from './environments.ts';
import { identityFromEnv, probeIssuer } from './identity.ts';
import {
  type InstanceIdentity,
  localStateDir,
  removeInstance,
  runningInstance,
  writeInstance,
} from './instance.ts';
import { launchChain, watchLaunchChain } from './parents.ts';

const parsed = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
    EXPIRY_SWEEP_SECONDS: z.coerce.number().int().min(0).default(60),
    DYNAMODB_ENDPOINT: z.url().optional(),
    TABLE_NAME: z.string().min(3).default('flash-sale-local'),
    FRESH: z.enum(['', '0', '1', 'true', 'false']).default(''),
    LOCAL_IDENTITY: z.enum(['', '0', '1', 'true', 'false']).default(''),
    LOCAL_ISSUER_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
    JWT_ISSUER: z.url().optional(),
    JWT_AUDIENCE: z.string().optional(),
  })
  .safeParse(process.env);
if (!parsed.success) {
  console.error(`Invalid settings: ${z.prettifyError(parsed.error)}`);
  process.exit(1);
}
const settings = parsed.data;
let runtimeSettings: ReturnType<typeof runtimeSettingsFromEnv>;
try {
  runtimeSettings = runtimeSettingsFromEnv();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
const unknownArgs = process.argv.slice(2).filter((arg) => arg !== '--fresh' && arg !== '--identity');
if (unknownArgs.length > 0) {
  console.error(
    `Unknown argument ${unknownArgs.join(' ')}: the options are --fresh (npm run start:fresh) and --identity.`,
  );
  process.exit(1);
}
const on = (flag: string) => flag === '1' || flag === 'true';
/** `npm run start:fresh` (or FRESH=1 npm start): drop the DynamoDB Local data kept from earlier runs. */
const fresh = process.argv.includes('--fresh') || on(settings.FRESH);
/** `npm start -- --identity` (or LOCAL_IDENTITY=1): run a local issuer and require its tokens on buyer routes. */
const localIdentity = process.argv.includes('--identity') || on(settings.LOCAL_IDENTITY);
if (localIdentity && settings.JWT_ISSUER) {
  console.error(
    `--identity runs a local issuer, but JWT_ISSUER points at ${settings.JWT_ISSUER}: use one or the other.`,
  );
  process.exit(1);
}
let externalIdentity: ReturnType<typeof identityFromEnv>;
try {
  externalIdentity = localIdentity ? undefined : identityFromEnv();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
/** The local issuer's port: LOCAL_ISSUER_PORT, else the one after PORT (stable, so tokens outlive a restart). */
const issuerPort =
  settings.LOCAL_ISSUER_PORT ?? (settings.PORT === 0 || settings.PORT === 65_535 ? 0 : settings.PORT + 1);
const host = process.env.HOST ?? '127.0.0.1';
const dbDir = join(localStateDir(), 'dynamodb');

/** A path as the user would type it from the repository (the usual cwd of `npm start`). */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? `${rel}/` : path;
}

/** A progress line while starting. */
function step(line: string): void {
  console.log(`- ${line}`);
}

/** Things to undo on exit, newest first. */
const cleanups: Array<() => Promise<void>> = [];
let dynamo: LocalDynamo | undefined;
let stopping = false;

/** Runs the cleanups once, then exits; later calls (a repeated signal) wait for the first. */
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // A cleanup that hangs (a client holding a connection open) must not keep the port: give up after 10 s.
  setTimeout(() => {
    console.error('shutdown took over 10 s: exiting anyway');
    process.exit(code || 1);
  }, 10_000).unref();
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error(`shutdown step failed: ${String(error)}`);
    }
  }
  process.exit(code);
}

function fail(message: string): Promise<void> {
  console.error(message);
  return shutdown(1);
}

/** How the banner's curl flow gets a buyer token: a command, or where to get one. */
type TokenHint = { command: string } | { issuer: string } | undefined;

function curlFlow(base: string, signed: boolean, token: TokenHint): string {
  const json = "-H 'content-type: application/json'";
  // Buyer routes (holds, orders) need the token when identity is on; the others never do.
  const buyer = token ? ` -H "authorization: Bearer $TOKEN"` : '';
  const login = !token
    ? []
    : 'command' in token
      ? ['# 0. a buyer token from the local issuer (any --sub; --ttl, --help)', `TOKEN=$(${token.command})`]
      : [`# 0. a buyer token: an access token from ${token.issuer}`, 'TOKEN=<the token>'];
  const payment = '{"idempotency_key":"pay-1","order_id":"<order_id>","status":"success"}';
  const webhook = signed
    ? [
        '# 4. the payment webhook, signed with the first of your WEBHOOK_SECRET values (export it in this shell too):',
        `t=$(date +%s); body='${payment}'`,
        `sig=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac "\${WEBHOOK_SECRET%%,*}" | sed 's/^.* //')`,
        `curl -s -X POST ${base}/api/payments/webhook ${json} -H "X-Signature: t=$t,v1=$sig" -d "$body"`,
      ]
    : [
        '# 4. the payment webhook (WEBHOOK_SECRET is unset, so no signature is required):',
        `curl -s -X POST ${base}/api/payments/webhook ${json} -d '${payment}'`,
      ];
  return [
    ...login,
    '# 1. the product',
    `curl -s ${base}/api/products/1`,
    '# 2. hold two units (note data.hold_id)',
    `curl -s -X POST ${base}/api/holds ${json}${buyer} -d '{"product_id":1,"qty":2}'`,
    '# 3. turn the hold into an order (the order id is the hold id)',
    `curl -s -X POST ${base}/api/orders ${json}${buyer} -d '{"hold_id":"<hold_id>"}'`,
    ...webhook,
    '# 5. the order is now paid',
    `curl -s ${base}/api/orders/<order_id>${buyer}`,
  ].join('\n');
}

/** Fails with one line if something already listens on the port, before anything is started. */
async function assertPortFree(port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** Stops on a signal or when the process that launched this one is gone; kills Java even on an abrupt exit. */
function stopWhenAsked(): void {
  // `on`, not `once`: Ctrl-C reaches us both from the terminal and relayed by tsx, and with no listener left the
  // second copy would kill the process before the cleanups finish. shutdown() runs once.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (!stopping) console.log(`\n${signal}: stopping`);
      void shutdown(0);
    });
  }
  // npm relays SIGTERM to its `sh` only, which dies and leaves tsx and us running: stop when a launcher is gone.
  const chain = launchChain('infra/local/start.ts');
  watchLaunchChain(chain, (pid) => {
    if (!stopping) console.log(`\nprocess ${pid}, which started this one, is gone: stopping`);
    void shutdown(0);
  });
  // If anything exits the process without the cleanups, still kill the DynamoDB Local child (kill is synchronous)
  // and drop the instance file; a SIGKILL leaves Java to its watchdog.
  process.once('exit', () => {
    void dynamo?.stop();
    removeInstance();
  });
}

/** The API's port, the local issuer's, and the data folder: each free for this instance, or one line saying why not. */
async function claimPortsAndData(): Promise<void> {
  await assertPortFree(settings.PORT);
  if (localIdentity) {
    try {
      await assertPortFree(issuerPort);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      throw new StartRefused(
        `Port ${issuerPort} (the local issuer's${settings.LOCAL_ISSUER_PORT === undefined ? ', PORT + 1' : ''}) is already in use: pick another, e.g. LOCAL_ISSUER_PORT=${issuerPort + 1} npm start -- --identity`,
      );
    }
  }
  const other = runningInstance();
  if (!settings.DYNAMODB_ENDPOINT && other && other.pid !== process.pid) {
    throw new StartRefused(
      `Another npm start (pid ${other.pid}, ${other.api}) is running with the data in ${shown(dbDir)}: stop it first, or run this one beside it with its own data: ${await secondInstanceCommand()}`,
    );
  }
}

/** DynamoDB Local (or DYNAMODB_ENDPOINT) with the table; its address in the environment every function reads. */
async function startDatabase(): Promise<{ dynamo: LocalDynamo; contention?: ContentionEndpoint }> {
  const external = settings.DYNAMODB_ENDPOINT;
  if (fresh && !external) {
    rmSync(dbDir, { recursive: true, force: true });
    step(`fresh start: removed ${shown(dbDir)}`);
  }
  const started = await startLocalDynamo({
    external,
    dbPath: external ? undefined : dbDir,
    progress: step,
    onUnexpectedExit: (how) => {
      if (stopping) return;
      console.error(`\nDynamoDB Local stopped (${how}): stopping`);
      void shutdown(1);
    },
  });
  dynamo = started;
  cleanups.push(() => started.stop());
  // CONTENTION_MODE: the cloud's conflicts and partition limits, as an endpoint in front of DynamoDB Local that
  // every environment (and this process) goes through.
  const contention = await startContention(started.endpoint);
  // Set before any handler or domain module is imported (shared/config.ts reads the environment once, at import),
  // and before the runtime starts: its environments get this process's environment.
  process.env.DYNAMODB_ENDPOINT = contention?.endpoint ?? started.endpoint;
  process.env.TABLE_NAME = settings.TABLE_NAME;
  if (runtimeSettings.mode === 'one-process') {
    // Every function shares this process's one client and its 50 sockets, and waiting for a socket counts against
    // the connect timeout: give a burst room instead of answering 503. Environments keep the cloud's 2 s / 5 s.
    process.env.DYNAMODB_CONNECT_TIMEOUT_MS ??= '15000';
    // The request timeout really fires (shared/db/client.ts), and its clock includes waiting for one of the sockets.
    process.env.DYNAMODB_REQUEST_TIMEOUT_MS ??= '15000';
  }
  const created = await ensureTable(started.endpoint, settings.TABLE_NAME);
  step(`table ${settings.TABLE_NAME} ${created ? 'created' : 'already present'}`);
  return { dynamo: started, ...(contention ? { contention } : {}) };
}

/** Product 1, written from this process (not a function): its domain log line stays out of this checklist. */
async function seedDemoProduct(): Promise<boolean> {
  const { logger } = await import('#shared/logger.ts');
  const { seed, DEMO_PRODUCT } = await import('./seed.ts');
  const level = logger.getLevelName();
  logger.setLogLevel('SILENT');
  try {
    const seeded = await seed();
    step(`product ${DEMO_PRODUCT.id} ${seeded ? 'seeded' : 'already present (kept from an earlier run)'}`);
    return seeded;
  } finally {
    logger.setLogLevel(level);
  }
}

/**
 * The functions' runtime: execution environments (each function bundled, then one worker per concurrent
 * invocation), or with LOCAL_RUNTIME=one-process every handler in this process, with fault injection on its one
 * client (environments arm it on their own clients from FAULT_INJECTION).
 */
async function startFunctions(bundles: Promise<FunctionBundles> | undefined): Promise<Runtime> {
  if (runtimeSettings.mode === 'one-process') {
    const { installLocalLayers } = await import('./dynamo-layers.ts');
    installLocalLayers();
    return startRuntime({ ...runtimeSettings, mode: 'one-process' });
  }
  const runtime = await startRuntime({ ...runtimeSettings, ...(bundles ? { bundles } : {}) });
  cleanups.push(() => runtime.close());
  return runtime;
}

/** Starts bundling every function now; a failure is reported when the runtime starts. */
function bundleInBackground(): Promise<FunctionBundles> {
  const started = performance.now();
  const bundles = bundleFunctions(stackFunctions);
  bundles.then(
    (done) => {
      if (stopping) done.release();
      else
        step(
          `functions bundled for their execution environments in ${Math.round(performance.now() - started)} ms`,
        );
    },
    () => {},
  );
  return bundles;
}

/** For `npm run audit` (and anyone): where this instance is. One on DYNAMODB_ENDPOINT leaves another's file alone. */
function publishInstance(endpoint: string, api: string, identity: InstanceIdentity | undefined): void {
  const owner = runningInstance();
  if (owner && owner.pid !== process.pid) return;
  writeInstance({
    endpoint,
    table: settings.TABLE_NAME,
    api,
    pid: process.pid,
    started_at: new Date().toISOString(),
    ...(identity ? { identity } : {}),
  });
  cleanups.push(async () => removeInstance());
}

function runtimeLine(runtime: Runtime): string {
  if (runtime.mode === 'one-process') {
    return 'runtime: ONE PROCESS (LOCAL_RUNTIME=one-process), for a debugger; NOT faithful to Lambda: functions share module instances, no caps, no timeouts';
  }
  const caps = Object.entries(runtime.stats())
    .filter(([, { cap }]) => cap !== runtimeSettings.defaultCap)
    .map(([id, { cap }]) => `${id} ${cap}`);
  return `runtime: Lambda model, one execution environment per concurrent invocation, at most ${runtimeSettings.defaultCap} per function${caps.length > 0 ? ` (${caps.join(', ')})` : ''} (LOCAL_CONCURRENCY, LOCAL_CONCURRENCY_<FUNCTION>), 10 s function timeout`;
}

/**
 * Which payment routes check signatures, from the secrets this shell passed (the functions get the same environment).
 * Our webhook runs unsigned without its secret; the provider routes never do, so without theirs they refuse every call.
 */
function signaturesLine(webhookSigned: boolean, stripeSecrets: number, adyenKeys: number): string {
  const provider = (name: string, variable: string, count: number) =>
    count > 0
      ? `${name} ${count} secret${count > 1 ? 's' : ''} set`
      : `${name} secret unset (${variable}: the route refuses every call)`;
  return [
    `webhook signatures ${webhookSigned ? 'required' : 'not checked'}`,
    provider('Stripe', 'STRIPE_WEBHOOK_SECRET', stripeSecrets),
    provider('Adyen', 'ADYEN_HMAC_KEY', adyenKeys),
  ].join(', ');
}

async function main(): Promise<void> {
  stopWhenAsked();
  await claimPortsAndData();
  // While DynamoDB Local starts (seconds of Java): the functions' bundles, for their execution environments.
  const bundles = runtimeSettings.mode === 'lambda' ? bundleInBackground() : undefined;
  const { dynamo: db, contention } = await startDatabase();
  const identity = await startIdentity();
  const { config, splitSecrets } = await import('#shared/config.ts');
  const seeded = await seedDemoProduct();
  const runtime = await startFunctions(bundles);

  const { startGateway } = await import('./gateway.ts');
  const gateway = await startGateway({
    port: settings.PORT,
    host,
    runtime,
    ...(identity ? { identity: { issuer: identity.issuer, audiences: identity.audiences } } : {}),
  });
  // Before the runtime's cleanup (cleanups run newest first): no request reaches a closed runtime.
  cleanups.push(() => gateway.close());
  const { startSweeper, runSweepOnce } = await import('./sweeper.ts');
  cleanups.push(startSweeper(settings.EXPIRY_SWEEP_SECONDS, () => runSweepOnce(runtime)));
  publishInstance(db.endpoint, gateway.url, identity);

  const base = gateway.url.replace('http://127.0.0.1', 'localhost');
  const data = settings.DYNAMODB_ENDPOINT
    ? `DynamoDB at ${db.endpoint}`
    : `DynamoDB Local at ${db.endpoint}, data kept in ${shown(dbDir)} (npm run start:fresh starts empty)`;
  console.log(
    [
      '',
      `Flash-sale checkout API listening on ${gateway.url}`,
      `  ${data}, table ${settings.TABLE_NAME}`,
      `  ${runtimeLine(runtime)}`,
      `  product 1 ${seeded ? 'seeded' : 'already present'}; hold TTL ${config.HOLD_TTL_SECONDS}s, max ${config.MAX_QTY_PER_HOLD} per hold`,
      `  expiry sweep ${settings.EXPIRY_SWEEP_SECONDS > 0 ? `every ${settings.EXPIRY_SWEEP_SECONDS}s` : 'off'}; ${signaturesLine(
        Boolean(config.WEBHOOK_SECRET),
        splitSecrets(config.STRIPE_WEBHOOK_SECRET ?? '').length,
        splitSecrets(config.ADYEN_HMAC_KEY ?? '').length,
      )}`,
      `  contention mode ${contentionLine(contention)}; fault injection ${process.env.FAULT_INJECTION ?? 'off'}`,
      `  audit the stock ledger: npm run audit -- --product 1 --endpoint ${db.endpoint} --table ${settings.TABLE_NAME}`,
      `  ${identityLine(identity)}`,
      '',
      curlFlow(base, Boolean(config.WEBHOOK_SECRET), tokenHint(identity)),
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

/** The next port from PORT up that is free (and, with --identity, the one after it for the issuer). */
async function nextFreePort(): Promise<number> {
  for (let port = settings.PORT + 1; port < Math.min(settings.PORT + 50, 65_535); port++) {
    const free = (candidate: number) =>
      assertPortFree(candidate).then(
        () => true,
        () => false,
      );
    if ((await free(port)) && (!localIdentity || (await free(port + 1)))) return port;
  }
  return settings.PORT + 1;
}

/**
 * A command that starts a second instance: a free port and, when another npm start holds the data folder, a data
 * folder of its own (so the suggestion does not fail on the next check).
 */
async function secondInstanceCommand(): Promise<string> {
  const port = await nextFreePort();
  const other = runningInstance();
  const ownData = !settings.DYNAMODB_ENDPOINT && other && other.pid !== process.pid;
  return `${ownData ? `LOCAL_STATE_DIR=.local/port-${port} ` : ''}PORT=${port} npm start`;
}

/** Something the user can fix, said in one line (no stack trace). */
class StartRefused extends Error {}

/**
 * The contention endpoint in front of DynamoDB Local when CONTENTION_MODE names a mode; stopped with the rest. None
 * when DYNAMODB_ENDPOINT is one already (the tests' endpoint under CONTENTION_MODE): one model, not two stacked.
 */
async function startContention(upstream: string): Promise<ContentionEndpoint | undefined> {
  let params: ContentionParams | undefined;
  try {
    params = parseContentionSpec(process.env.CONTENTION_MODE);
  } catch (error) {
    throw new StartRefused((error as Error).message);
  }
  if (!params || (await isContentionEndpoint(upstream))) return undefined;
  const contention = await startContentionEndpoint({ upstream, params });
  cleanups.push(() => contention.close());
  return contention;
}

function contentionLine(contention: ContentionEndpoint | undefined): string {
  const params = contention?.params;
  if (!contention || !params) {
    return process.env.CONTENTION_MODE && parseContentionSpec(process.env.CONTENTION_MODE)
      ? `on at DYNAMODB_ENDPOINT ${settings.DYNAMODB_ENDPOINT} (a contention endpoint already: its parameters apply)`
      : 'off';
  }
  return `on at ${contention.endpoint} (occupancy ${params.occupancyMs} ms, ${params.writeUnitsPerSecond} write / ${params.readUnitsPerSecond} read units/s per partition; counters: curl ${contention.endpoint}${STATS_PATH})`;
}

const TOKEN_COMMAND = 'npm --silent run token -- --sub alice';
const BUYER_ROUTES = 'POST /api/holds, POST /api/orders, GET /api/orders/{id}';

/**
 * The buyer identity of this instance: a local issuer (`--identity`), an external one (JWT_ISSUER), or none. Sets
 * JWT_ISSUER / JWT_AUDIENCE for the handlers: shared/config.ts reads them once, when main() first imports it.
 */
async function startIdentity(): Promise<InstanceIdentity | undefined> {
  if (externalIdentity) {
    const { issuer, audiences } = externalIdentity;
    // The IdP may come up later: a warning, not a failure. Until then buyer routes answer 401 INVALID_TOKEN.
    const problem = await probeIssuer(issuer);
    step(
      problem
        ? `warning: ${problem}; buyer routes answer 401 INVALID_TOKEN until it can be reached`
        : `identity provider ${issuer} reachable`,
    );
    return { issuer, audiences: [...audiences] };
  }
  if (!localIdentity) return undefined;
  const { startLocalIssuer, signingKeyFile, LOCAL_AUDIENCE, loadOrCreateSigningKey } = await import(
    './issuer.ts'
  );
  const keyFile = signingKeyFile();
  const { key, created } = await loadOrCreateSigningKey(keyFile).catch((error: Error) => {
    throw new StartRefused(error.message);
  });
  const audiences = (settings.JWT_AUDIENCE ?? '')
    .split(',')
    .map((audience) => audience.trim())
    .filter((audience) => audience !== '');
  if (audiences.length === 0) audiences.push(LOCAL_AUDIENCE);
  const issuer = await startLocalIssuer({ port: issuerPort, host, key, audience: audiences[0] });
  cleanups.push(() => issuer.close());
  step(
    `local issuer at ${issuer.url}, ${created ? 'new signing key' : 'signing key kept from an earlier run'} in ${shown(dirname(keyFile))}`,
  );
  process.env.JWT_ISSUER = issuer.url;
  process.env.JWT_AUDIENCE = audiences.join(',');
  return { issuer: issuer.url, audiences, key_file: keyFile };
}

function identityLine(identity: InstanceIdentity | undefined): string {
  if (!identity) {
    return `buyer identity off: ${BUYER_ROUTES} are anonymous (npm start -- --identity runs a local issuer)`;
  }
  const audiences = `audience ${identity.audiences.join(', ')}`;
  return identity.key_file
    ? `buyer identity on: ${BUYER_ROUTES} need a token from the local issuer ${identity.issuer} (${audiences}); get one: ${TOKEN_COMMAND}`
    : `buyer identity on: ${BUYER_ROUTES} need a token from ${identity.issuer} (${audiences})`;
}

function tokenHint(identity: InstanceIdentity | undefined): TokenHint {
  if (!identity) return undefined;
  return identity.key_file ? { command: TOKEN_COMMAND } : { issuer: identity.issuer };
}

main().catch((error: unknown) => {
  if (error instanceof LocalDynamoError || error instanceof StartRefused) return fail(error.message);
  if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') {
    return secondInstanceCommand().then((command) =>
      fail(
        `Port ${settings.PORT} is already in use: stop what listens there or run with another, e.g. ${command}`,
      ),
    );
  }
  if (error instanceof Error && 'code' in error && error.code === 'EACCES') {
    return fail(`Port ${settings.PORT} needs privileges here: use one above 1023, e.g. PORT=3000 npm start`);
  }
  if (error instanceof Error && error.message.startsWith('Invalid configuration')) return fail(error.message);
  console.error(error);
  return shutdown(1);
});
