// `npm run bench`: hold throughput under the cloud contention model, handler vs raw DynamoDB cost, and sweep speed.
// All in-process against DynamoDB Local (started here unless DYNAMODB_ENDPOINT); each figure is the median of --runs.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  type AttributeValue,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import {
  CLOUD,
  CLOUD_SCALED,
  type ContentionEndpoint,
  type ContentionParams,
  type PartitionUsage,
  parseContentionSpec,
  startContentionEndpoint,
} from '../infra/local/contention.ts';
import { ensureTable, type LocalDynamo, startLocalDynamo } from '../infra/local/dynamodb.ts';

// ---------------------------------------------------------------------------------------------------------------
// Command line

interface Options {
  runs: number;
  seconds: number;
  concurrency: number;
  expired: number;
}

/** Workers for the uncontended handler-vs-raw comparisons (a Lambda fleet's worth of in-flight calls, not a mob). */
const CALM_WORKERS = 16;
/** Operations per side of each uncontended comparison (holds; GETs are cheaper, so twice as many). */
const CALM_HOLD_OPS = 1_200;
const CALM_GET_OPS = 2_400;
/** Large enough that no window sells out: 1,000,000 units gets the default (maximum) bucket count. */
const BIG_STOCK = 1_000_000;

const USAGE = `Usage: npm run bench -- [--runs N] [--seconds S] [--concurrency C] [--expired N]

  --runs N         repeat every measurement N times, interleaved; report medians (default 3)
  --seconds S      length of each contention window (default 8)
  --concurrency C  buyers / workers in the contention windows (default 64)
  --expired N      expired holds the sweep releases (default 2000)
  --help           this text

Env: CONTENTION_MODE overrides the contention parameters (default 'scaled': 100 ms occupancy,
250 write / 750 read units/s per partition); DYNAMODB_ENDPOINT uses a running DynamoDB Local.
Uncontended comparisons use ${CALM_WORKERS} workers, ${CALM_HOLD_OPS} holds and ${CALM_GET_OPS} GETs per side.`;

function usageError(message: string): never {
  // parseArgs explains how to pass a positional after '--': one line is enough here.
  console.error(`bench: ${message.split('. ')[0]} (try --help)`);
  process.exit(2);
}

function positiveInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) usageError(`--${name} must be a positive integer, got '${raw}'`);
  return value;
}

function parseCli(args: string[]): Options {
  const spec = {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '64' },
    expired: { type: 'string', default: '2000' },
    help: { type: 'boolean', default: false },
  } as const;
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof spec }>>['values'];
  try {
    ({ values } = parseArgs({ args, options: spec, strict: true, allowPositionals: false }));
  } catch (error) {
    usageError((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    runs: positiveInt('runs', values.runs),
    seconds: positiveInt('seconds', values.seconds),
    concurrency: positiveInt('concurrency', values.concurrency),
    expired: positiveInt('expired', values.expired),
  };
}

/** CONTENTION_MODE if it names a mode; the scaled cloud otherwise (section 1 means nothing without a mode). */
function contentionParams(): { params: ContentionParams; note?: string } {
  let parsed: ContentionParams | undefined;
  try {
    parsed = parseContentionSpec(process.env.CONTENTION_MODE);
  } catch (error) {
    usageError((error as Error).message);
  }
  if (parsed) return { params: parsed };
  const note = process.env.CONTENTION_MODE
    ? `CONTENTION_MODE=${process.env.CONTENTION_MODE} turns the mode off; section 1 uses CLOUD_SCALED anyway`
    : undefined;
  return { params: CLOUD_SCALED, note };
}

/** Must run before any app module is imported: shared/config.ts reads the environment at import. */
function prepareEnvironment(): void {
  const env = process.env;
  // The SDK's documented switch for its "node >= 22 soon" notice (@aws-sdk/core emitWarningIfUnsupportedVersion);
  // every other warning still prints.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  // One process drives 64 buyers through the SDK's socket pool on 2 cores: a slow answer is load, not a fault.
  env.DYNAMODB_CONNECT_TIMEOUT_MS ??= '30000';
  env.DYNAMODB_REQUEST_TIMEOUT_MS ??= '30000';
  env.AWS_REGION ??= 'us-east-1';
  // Identity on (for `max_per_customer`); the bench calls handlers as API Gateway's authorizer would, with a `sub`.
  env.JWT_ISSUER ??= 'https://issuer.bench.invalid/';
}

// ---------------------------------------------------------------------------------------------------------------
// The app, loaded after the environment is set

async function loadApp() {
  const [client, config, createHold, getProduct, putProduct, holds, ledger, sweeper, gateway] =
    await Promise.all([
      import('../shared/db/client.ts'),
      import('../shared/config.ts'),
      import('../functions/create-hold.ts'),
      import('../functions/get-product.ts'),
      import('../functions/put-product.ts'),
      import('../shared/holds/service.ts'),
      import('../shared/audit/ledger.ts'),
      import('../shared/sweep/service.ts'),
      import('../infra/local/gateway.ts'),
    ]);
  return {
    dynamo: client.dynamo,
    tableName: client.tableName,
    holdTtlMs: config.config.HOLD_TTL_SECONDS * 1000,
    postHold: createHold.handler,
    getProduct: getProduct.handler,
    putProduct: putProduct.handler,
    createHold: holds.createHold,
    checkLedger: ledger.checkLedger,
    sweep: sweeper.sweep,
    lambdaContext: gateway.lambdaContext,
  };
}
type App = Awaited<ReturnType<typeof loadApp>>;

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

interface Request {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  body?: unknown;
  pathParameters?: Record<string, string>;
}

/** Invokes a handler in-process with an API Gateway v2 event, as the tests and the local gateway do. */
async function invoke(app: App, handler: Handler, request: Request, customer?: string) {
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: request.path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: request.pathParameters,
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
    isBase64Encoded: false,
    requestContext: {
      requestId: randomUUID(),
      http: { method: request.method, path: request.path },
      ...(customer ? { authorizer: { jwt: { claims: { sub: customer }, scopes: null } } } : {}),
    },
  } as unknown as APIGatewayProxyEventV2;
  const result = await handler(event, app.lambdaContext('bench'));
  return { status: result.statusCode ?? 0, body: result.body ?? '' };
}

const postHold = (app: App, productId: string, customer?: string) =>
  invoke(
    app,
    app.postHold,
    { method: 'POST', path: '/api/holds', body: { product_id: productId, qty: 1 } },
    customer,
  );

const getProductVia = (app: App, productId: string) =>
  invoke(app, app.getProduct, {
    method: 'GET',
    path: `/api/products/${productId}`,
    pathParameters: { id: productId },
  });

/** Creates a product through PUT /api/admin/products/{id}; returns its bucket count. */
async function createProduct(
  app: App,
  productId: string,
  stock: number,
  buckets?: number,
  limit?: number,
): Promise<number> {
  const answer = await invoke(app, app.putProduct, {
    method: 'PUT',
    path: `/api/admin/products/${productId}`,
    pathParameters: { id: productId },
    body: {
      name: `Bench ${productId}`,
      price: '12.50',
      currency: 'USD',
      stock,
      stock_buckets: buckets,
      max_per_customer: limit,
    },
  });
  if (answer.status !== 201) throw new Error(`PUT product ${productId}: ${answer.status} ${answer.body}`);
  return Number((JSON.parse(answer.body) as { data: { stock_buckets: number } }).data.stock_buckets);
}

// ---------------------------------------------------------------------------------------------------------------
// Load generation

/** `workers` loops calling `work` until `seconds` pass; returns the wall time until the last call returned. */
async function loopFor(seconds: number, workers: number, work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline) await work();
    }),
  );
  return performance.now() - started;
}

/** `count` calls of `work`, `workers` at a time; returns the wall time. */
async function repeat(count: number, workers: number, work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, count) }, async () => {
      while (next < count) {
        next++;
        await work();
      }
    }),
  );
  return performance.now() - started;
}

const perSecond = (count: number, ms: number) => (ms > 0 ? (count / ms) * 1000 : 0);

/** The name of the failure, for counting what went wrong without a stack per request. */
const errorName = (error: unknown) => (error instanceof Error ? error.name : String(error));

// ---------------------------------------------------------------------------------------------------------------
// Section 1: contention windows

interface Tally {
  created: number;
  insufficient: number;
  busy: number;
  other: number;
  otherStatuses: Map<number, number>;
}

function tally(counts: Tally, status: number): void {
  if (status === 201) counts.created++;
  else if (status === 409) counts.insufficient++;
  else if (status === 503) counts.busy++;
  else {
    counts.other++;
    counts.otherStatuses.set(status, (counts.otherStatuses.get(status) ?? 0) + 1);
  }
}

interface LedgerCheck {
  violations: string[];
  /** stock - available over the product's buckets. */
  committed: number;
  /** Units granted beyond what exists: 201s without units taken, plus buckets below zero. */
  oversold: number;
}

async function checkProduct(app: App, productId: string, granted: number): Promise<LedgerCheck> {
  const report = await app.checkLedger(productId);
  const product = report.products.find((row) => row.product_id === productId);
  if (!product)
    return {
      violations: [...report.violations, `no stock buckets for ${productId}`],
      committed: 0,
      oversold: 0,
    };
  const committed = product.stock - product.available;
  const negative = report.buckets.reduce((sum, row) => sum + Math.max(0, -row.available), 0);
  return { violations: report.violations, committed, oversold: Math.max(0, granted - committed) + negative };
}

interface HoldWindow {
  buckets: number;
  counts: Tally;
  rate: number;
  busyShare: number;
  hottest: PartitionUsage | undefined;
  unitsPerHold: number;
  conflicts: number;
  throttles: number;
  ledger: LedgerCheck;
}

/** Buyers loop POST /api/holds (qty 1) on one product for the window; counts answers and hot-partition units. */
async function holdWindow(
  app: App,
  mode: ContentionEndpoint,
  productId: string,
  buckets: number,
  options: Options,
) {
  const counts: Tally = { created: 0, insufficient: 0, busy: 0, other: 0, otherStatuses: new Map() };
  mode.reset();
  const ms = await loopFor(options.seconds, options.concurrency, async () => {
    try {
      tally(counts, (await postHold(app, productId)).status);
    } catch {
      // A handler never throws (errors become envelopes); count it rather than stop the window.
      tally(counts, -1);
    }
  });
  // Counted before the ledger scan so only the window's own traffic is in the figure.
  const stats = mode.stats();
  const hottest = stats.partitions[0];
  const answers = counts.created + counts.insufficient + counts.busy + counts.other;
  const window: HoldWindow = {
    buckets,
    counts,
    rate: perSecond(counts.created, ms),
    busyShare: answers > 0 ? counts.busy / answers : 0,
    hottest,
    unitsPerHold: hottest && counts.created > 0 ? hottest.writeUnits / counts.created : Number.NaN,
    conflicts: stats.transactionConflicts + stats.writeConflicts,
    throttles: stats.throttles,
    ledger: await checkProduct(app, productId, counts.created),
  };
  return window;
}

interface RawLoop {
  rate: number;
  successes: number;
  cancelled: number;
  other: Map<string, number>;
  /** The counter's final value: equals `successes` unless an answer was lost. */
  counter: number;
}

/** The floor: 1-item transactions incrementing one counter, retried after 0-20 ms on cancellation. */
async function rawSingleItemLoop(app: App, mode: ContentionEndpoint, options: Options): Promise<RawLoop> {
  const Key = { pk: { S: `BENCH#counter#${randomUUID()}` }, sk: { S: 'COUNTER' } };
  await app.dynamo.send(new PutItemCommand({ TableName: app.tableName, Item: { ...Key, n: { N: '0' } } }));
  const result: RawLoop = { rate: 0, successes: 0, cancelled: 0, other: new Map(), counter: 0 };
  const increment = new TransactWriteItemsCommand({
    TransactItems: [
      {
        Update: {
          TableName: app.tableName,
          Key,
          UpdateExpression: 'SET n = n + :one',
          ExpressionAttributeValues: { ':one': { N: '1' } },
        },
      },
    ],
  });
  mode.reset();
  const ms = await loopFor(options.seconds, options.concurrency, async () => {
    try {
      await app.dynamo.send(increment);
      result.successes++;
    } catch (error) {
      const name = errorName(error);
      if (name === 'TransactionCanceledException') result.cancelled++;
      else result.other.set(name, (result.other.get(name) ?? 0) + 1);
      await sleep(Math.random() * 20);
    }
  });
  result.rate = perSecond(result.successes, ms);
  const { Item } = await app.dynamo.send(
    new GetItemCommand({ TableName: app.tableName, Key, ConsistentRead: true }),
  );
  result.counter = Number(Item?.n?.N ?? Number.NaN);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Section 2: uncontended, handler vs raw

/** A stock-like item for the raw hold transaction: one counter with plenty of units. */
async function putRawStock(app: App): Promise<Record<string, AttributeValue>> {
  const Key = { pk: { S: `BENCH#STOCK#${randomUUID()}` }, sk: { S: 'STOCK' } };
  const Item = {
    ...Key,
    entity: { S: 'bench_stock' },
    stock: { N: '1000000000' },
    available: { N: '1000000000' },
  };
  await app.dynamo.send(new PutItemCommand({ TableName: app.tableName, Item }));
  return Key;
}

/**
 * A new item shaped like a hold, both GSI keys included (DynamoDB Local maintains the same two indexes), under
 * bench-only index partitions so the sweep and reclaim never see it.
 */
function rawHoldItem(productId: string): Record<string, AttributeValue> {
  const id = randomUUID();
  const now = new Date();
  const expires = new Date(now.getTime() + 120_000).toISOString();
  return {
    pk: { S: `BENCH#HOLD#${id}` },
    sk: { S: 'HOLD' },
    entity: { S: 'bench_hold' },
    hold_id: { S: id },
    product_id: { S: productId },
    qty: { N: '1' },
    draws: { L: [{ M: { bucket: { N: '0' }, qty: { N: '1' } } }] },
    unit_price_minor: { N: '1250' },
    currency: { S: 'USD' },
    status: { S: 'active' },
    created_at: { S: now.toISOString() },
    expires_at: { S: expires },
    gsi1pk: { S: `BENCH#DEADLINE#${id.charCodeAt(0) % 16}` },
    gsi1sk: { S: `${expires}#HOLD#${id}` },
    gsi2pk: { S: `BENCH#HOLDS#${productId}#0` },
    gsi2sk: { S: `${expires}#${id}` },
  };
}

/** Counts failures by name while the measured loop keeps going. */
type Failures = Map<string, number>;
const note = (failures: Failures, name: string) => failures.set(name, (failures.get(name) ?? 0) + 1);

/** A new buyer's counter, as the limited hold writes it: one more item, conditioned on the limit. */
function rawCounterItem(app: App): NonNullable<TransactWriteItemsCommandInput['TransactItems']>[number] {
  return {
    Update: {
      TableName: app.tableName,
      Key: { pk: { S: `BENCH#CUSTOMER#${randomUUID()}` }, sk: { S: 'UNITS#bench-raw' } },
      UpdateExpression: 'SET units = if_not_exists(units, :zero) + :q',
      ConditionExpression: 'attribute_not_exists(units) OR units <= :room',
      ExpressionAttributeValues: { ':zero': { N: '0' }, ':q': { N: '1' }, ':room': { N: '4' } },
    },
  };
}

/**
 * The raw hold: take 1 unit if available and write the hold, one transaction (plus the buyer's counter when
 * `counted`); conflicts retried after 0-20 ms.
 */
function rawHoldOp(app: App, stockKey: Record<string, AttributeValue>, failures: Failures, counted = false) {
  return async () => {
    for (;;) {
      try {
        await app.dynamo.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              {
                Update: {
                  TableName: app.tableName,
                  Key: stockKey,
                  UpdateExpression: 'SET available = available - :q',
                  ConditionExpression: 'available >= :q',
                  ExpressionAttributeValues: { ':q': { N: '1' } },
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              {
                Put: {
                  TableName: app.tableName,
                  Item: rawHoldItem('bench-raw'),
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              ...(counted ? [rawCounterItem(app)] : []),
            ],
          }),
        );
        return;
      } catch (error) {
        note(failures, errorName(error));
        if (errorName(error) !== 'TransactionCanceledException') return;
        await sleep(Math.random() * 20);
      }
    }
  };
}

/** Wraps a handler call: anything but `expected` is counted by status. */
function handlerOp(call: () => Promise<{ status: number }>, expected: number, failures: Failures) {
  return async () => {
    const { status } = await call();
    if (status !== expected) note(failures, `HTTP ${status}`);
  };
}

type Op = () => Promise<void>;

/**
 * ops/s of `a` and `b`, each over `ops` operations in two halves, measured A B B A (B A A B when `flip`), so drift
 * on a noisy machine lands on both sides. Each side first gets a short unmeasured warm-up.
 */
async function pairedRates(ops: number, a: Op, b: Op, flip: boolean): Promise<[number, number]> {
  await repeat(CALM_WORKERS * 4, CALM_WORKERS, a);
  await repeat(CALM_WORKERS * 4, CALM_WORKERS, b);
  const half = Math.ceil(ops / 2);
  const ms = [0, 0];
  for (const side of flip ? [1, 0, 0, 1] : [0, 1, 1, 0]) {
    ms[side] = (ms[side] ?? 0) + (await repeat(half, CALM_WORKERS, side === 0 ? a : b));
  }
  return [perSecond(2 * half, ms[0] ?? 0), perSecond(2 * half, ms[1] ?? 0)];
}

interface Calm {
  holdsHandler: number;
  holdsRaw: number;
  /** A limited product, each hold by a new identified buyer (the counter rides in the transaction). */
  limitedHandler: number;
  limitedRaw: number;
  getHandler: number;
  getRaw: number;
  failures: Failures;
}

async function calmSection(app: App, productId: string, limitedId: string, flip: boolean): Promise<Calm> {
  const failures: Failures = new Map();
  const stockKey = await putRawStock(app);
  const [holdsHandler, holdsRaw] = await pairedRates(
    CALM_HOLD_OPS,
    handlerOp(() => postHold(app, productId), 201, failures),
    rawHoldOp(app, stockKey, failures),
    flip,
  );
  const [limitedHandler, limitedRaw] = await pairedRates(
    CALM_HOLD_OPS,
    handlerOp(() => postHold(app, limitedId, `buyer-${randomUUID()}`), 201, failures),
    rawHoldOp(app, stockKey, failures, true),
    flip,
  );
  const productKey = { pk: { S: `PRODUCT#${productId}` }, sk: { S: 'PRODUCT' } };
  const rawGet = async () => {
    const { Item } = await app.dynamo.send(
      new GetItemCommand({ TableName: app.tableName, Key: productKey, ConsistentRead: true }),
    );
    if (!Item) note(failures, 'raw GetItem: no item');
  };
  const [getHandler, getRaw] = await pairedRates(
    CALM_GET_OPS,
    handlerOp(() => getProductVia(app, productId), 200, failures),
    rawGet,
    flip,
  );
  return { holdsHandler, holdsRaw, limitedHandler, limitedRaw, getHandler, getRaw, failures };
}

// ---------------------------------------------------------------------------------------------------------------
// Section 3: the sweep

interface Swept {
  expected: number;
  released: number;
  ms: number;
  ratePerSecond: number;
  failures: number;
  ledger: LedgerCheck;
}

/**
 * Holds created an hour in the past expire before `later`, while every other hold of this bench (created now)
 * expires after it: the sweep sees exactly this run's expired holds.
 */
async function sweepSection(app: App, productId: string, expired: number, past: Date): Promise<Swept> {
  let createFailures = 0;
  await repeat(expired, CALM_WORKERS, async () => {
    await app.createHold(productId, 1, past).catch(() => createFailures++);
  });
  if (createFailures > 0) console.log(`    (${createFailures} of ${expired} expired holds failed to create)`);
  const later = new Date(past.getTime() + app.holdTtlMs + 1_000);
  const started = performance.now();
  const report = await app.sweep(later);
  const ms = performance.now() - started;
  return {
    expected: expired - createFailures,
    released: report.holds_released,
    ms,
    ratePerSecond: perSecond(report.holds_released, ms),
    failures: report.failures + (report.skipped ? 1 : 0) + (report.incomplete ? 1 : 0),
    ledger: await checkProduct(app, productId, 0),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// One run

type FigureKey =
  | 'holdsMany'
  | 'busyMany'
  | 'holdsOne'
  | 'busyOne'
  | 'raw'
  | 'ratioMany'
  | 'ratioOne'
  | 'unitsMany'
  | 'ceilingMany'
  | 'unitsOne'
  | 'ceilingOne'
  | 'oversold'
  | 'violations'
  | 'holdsHandler'
  | 'holdsRaw'
  | 'ratioHolds'
  | 'limitedHandler'
  | 'limitedRaw'
  | 'ratioLimited'
  | 'getHandler'
  | 'getRaw'
  | 'ratioGet'
  | 'released'
  | 'sweepRate';
type Figures = Record<FigureKey, number>;

interface RunContext {
  app: App;
  /** The endpoint the app's client goes through: on for the contended section, off (forwarding) otherwise. */
  contention: ContentionEndpoint;
  options: Options;
  params: ContentionParams;
  /** Creation time of every run's expired holds (see sweepSection). */
  past: Date;
}

/** The two products of a contended run: one bucket, and the default count for a large stock. */
type Shape = 'one' | 'many';

interface Contended {
  many: HoldWindow;
  one: HoldWindow;
  raw: RawLoop;
}

/** The three contended measurements, raw loop in the middle, window order flipped every other run. */
async function contendedSection(
  ctx: RunContext,
  ids: Record<Shape, string>,
  flip: boolean,
): Promise<Contended> {
  const { app, options } = ctx;
  const [one, many] = await Promise.all([
    createProduct(app, ids.one, BIG_STOCK, 1),
    createProduct(app, ids.many, BIG_STOCK),
  ]);
  const buckets: Record<Shape, number> = { one, many };
  const mode = ctx.contention;
  mode.setParams(ctx.params);
  const measure = async (shape: Shape) => {
    const window = await holdWindow(app, mode, ids[shape], buckets[shape], options);
    printWindow(window);
    return window;
  };
  try {
    const first = await measure(flip ? 'one' : 'many');
    const raw = await rawSingleItemLoop(app, mode, options);
    printRaw(raw);
    const second = await measure(flip ? 'many' : 'one');
    return flip ? { one: first, many: second, raw } : { many: first, one: second, raw };
  } finally {
    mode.setParams(undefined);
  }
}

async function oneRun(ctx: RunContext, run: number): Promise<Figures> {
  const { app, options, params } = ctx;
  const tag = `r${run}-${randomUUID().slice(0, 8)}`;
  const flip = run % 2 === 0;
  console.log(`\nrun ${run}/${options.runs}`);
  console.log(
    `  contended (occupancy ${params.occupancyMs} ms, ${params.writeUnitsPerSecond} WU/s, ${params.readUnitsPerSecond} RU/s per partition; ${options.concurrency} workers, ${options.seconds} s windows)`,
  );
  const contended = await contendedSection(ctx, { one: `${tag}-one`, many: `${tag}-many` }, flip);
  const calmId = `${tag}-calm`;
  const limitedId = `${tag}-limited`;
  const sweepId = `${tag}-sweep`;
  await Promise.all([
    createProduct(app, calmId, BIG_STOCK),
    createProduct(app, limitedId, BIG_STOCK, undefined, 5),
    createProduct(app, sweepId, BIG_STOCK),
  ]);
  console.log(
    `  uncontended (contention endpoint forwarding, mode off; ${CALM_WORKERS} workers, A B B A halves)`,
  );
  const calm = await calmSection(app, calmId, limitedId, flip);
  printCalm(calm);
  const swept = await sweepSection(app, sweepId, options.expired, ctx.past);
  printSweep(swept);
  return figuresOf(contended, calm, swept);
}

function figuresOf({ many, one, raw }: Contended, calm: Calm, swept: Swept): Figures {
  const checks = [many.ledger, one.ledger, swept.ledger];
  return {
    holdsMany: many.rate,
    busyMany: many.busyShare * 100,
    holdsOne: one.rate,
    busyOne: one.busyShare * 100,
    raw: raw.rate,
    ratioMany: many.rate / raw.rate,
    ratioOne: one.rate / raw.rate,
    unitsMany: many.unitsPerHold,
    ceilingMany: CLOUD.writeUnitsPerSecond / many.unitsPerHold,
    unitsOne: one.unitsPerHold,
    ceilingOne: CLOUD.writeUnitsPerSecond / one.unitsPerHold,
    oversold: many.ledger.oversold + one.ledger.oversold + swept.ledger.oversold,
    violations: checks.reduce((sum, check) => sum + check.violations.length, 0),
    holdsHandler: calm.holdsHandler,
    holdsRaw: calm.holdsRaw,
    ratioHolds: calm.holdsHandler / calm.holdsRaw,
    limitedHandler: calm.limitedHandler,
    limitedRaw: calm.limitedRaw,
    ratioLimited: calm.limitedHandler / calm.limitedRaw,
    getHandler: calm.getHandler,
    getRaw: calm.getRaw,
    ratioGet: calm.getHandler / calm.getRaw,
    released: swept.released,
    sweepRate: swept.ratePerSecond,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Output

const num = (value: number, digits = 0) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';

/** `bench-1234:STOCK#p#0` -> `STOCK#p#0`, `bench-1234/byDeadline:DEADLINE#3` -> `byDeadline:DEADLINE#3`. */
const partitionName = (partition: string) => partition.replace(/^[^/:]+[/:]/, '');

function printWindow(window: HoldWindow): void {
  const { counts, ledger, hottest } = window;
  const others = [...counts.otherStatuses].map(([status, n]) => `${status}x${n}`).join(' ');
  const label = `${window.buckets} bucket${window.buckets === 1 ? '' : 's'}`;
  console.log(
    `    ${label.padEnd(11)} ${num(window.rate, 1).padStart(7)} holds/s  201=${counts.created} 409=${counts.insufficient} 503=${counts.busy} (${num(window.busyShare * 100, 1)}%) other=${counts.other}${others ? ` [${others}]` : ''}  conflicts=${window.conflicts} throttles=${window.throttles}`,
  );
  console.log(
    `                hottest ${hottest ? partitionName(hottest.partition) : 'n/a'}: ${num(hottest?.writeUnits ?? 0)} WU = ${num(window.unitsPerHold, 3)} WU/hold -> ceiling ${num(CLOUD.writeUnitsPerSecond / window.unitsPerHold)} holds/s at ${CLOUD.writeUnitsPerSecond} WU/s; conflict ceiling ${window.buckets} x 1000/${CLOUD.occupancyMs} ms = ${num((window.buckets * 1000) / CLOUD.occupancyMs)} holds/s`,
  );
  printLedger('                ledger', ledger, counts.created);
}

function printLedger(prefix: string, ledger: LedgerCheck, granted: number): void {
  const match = ledger.committed === granted ? '=' : '!=';
  console.log(
    `${prefix}: ${ledger.violations.length} violations, oversold ${ledger.oversold}, granted ${granted} ${match} stock - available ${ledger.committed}`,
  );
  for (const violation of ledger.violations.slice(0, 5))
    console.log(`${' '.repeat(prefix.length)}  ! ${violation}`);
}

function printRaw(raw: RawLoop): void {
  const other = [...raw.other].map(([name, n]) => `${name}x${n}`).join(' ') || '0';
  const counter = raw.counter === raw.successes ? '' : ` (counter ${raw.counter} != successes!)`;
  console.log(
    `    ${'raw 1-item'.padEnd(11)} ${num(raw.rate, 1).padStart(7)} txn/s    ok=${raw.successes} cancelled=${raw.cancelled} other=${other}${counter}`,
  );
}

function printCalm(calm: Calm): void {
  const line = (label: string, handler: number, raw: number, rawLabel: string) =>
    console.log(
      `    ${label.padEnd(16)} ${num(handler).padStart(6)} ops/s vs ${rawLabel.padEnd(17)} ${num(raw).padStart(6)} ops/s = ${num(handler / raw, 2)}x`,
    );
  line('POST /api/holds', calm.holdsHandler, calm.holdsRaw, 'raw 2-item txn');
  line('limited hold', calm.limitedHandler, calm.limitedRaw, 'raw 3-item txn');
  line('GET product', calm.getHandler, calm.getRaw, 'raw GetItem (CR)');
  if (calm.failures.size > 0)
    console.log(
      `    answers/errors besides success: ${[...calm.failures].map(([k, n]) => `${k}x${n}`).join(' ')}`,
    );
}

function printSweep(swept: Swept): void {
  console.log(
    `  sweep: ${num(swept.expected)} expired holds, released ${num(swept.released)} in ${num(swept.ms)} ms = ${num(swept.ratePerSecond)}/s, failures ${swept.failures}`,
  );
  printLedger('    ledger after sweep', swept.ledger, 0);
}

interface Figure {
  key: FigureKey;
  label: string;
  digits: number;
  /** The acceptance bar, checked on the median. */
  bar?: { text: string; met: (median: number) => boolean };
}

const FIGURES: readonly Figure[] = [
  { key: 'holdsMany', label: 'contended holds/s, default buckets', digits: 1 },
  { key: 'busyMany', label: '  503 share %, default buckets', digits: 1 },
  { key: 'holdsOne', label: 'contended holds/s, 1 bucket', digits: 1 },
  { key: 'busyOne', label: '  503 share %, 1 bucket', digits: 1 },
  { key: 'raw', label: 'contended raw 1-item txn/s', digits: 1 },
  { key: 'ratioMany', label: 'default buckets / raw', digits: 1, bar: { text: '>= 6x', met: (v) => v >= 6 } },
  { key: 'ratioOne', label: '1 bucket / raw', digits: 2 },
  { key: 'unitsMany', label: 'hottest WU per hold, default buckets', digits: 3 },
  { key: 'ceilingMany', label: '  cloud ceiling holds/s (1000 WU/s)', digits: 0 },
  { key: 'unitsOne', label: 'hottest WU per hold, 1 bucket', digits: 3 },
  { key: 'ceilingOne', label: '  cloud ceiling holds/s (1000 WU/s)', digits: 0 },
  {
    key: 'oversold',
    label: 'units oversold (all checks)',
    digits: 0,
    bar: { text: '= 0', met: (v) => v === 0 },
  },
  {
    key: 'violations',
    label: 'ledger violations (all checks)',
    digits: 0,
    bar: { text: '= 0', met: (v) => v === 0 },
  },
  { key: 'holdsHandler', label: 'uncontended POST /api/holds ops/s', digits: 0 },
  { key: 'holdsRaw', label: 'uncontended raw 2-item txn ops/s', digits: 0 },
  {
    key: 'ratioHolds',
    label: '  handler / raw',
    digits: 2,
    bar: { text: '>= 0.85x', met: (v) => v >= 0.85 },
  },
  { key: 'limitedHandler', label: 'uncontended limited POST /api/holds ops/s', digits: 0 },
  { key: 'limitedRaw', label: 'uncontended raw 3-item txn ops/s', digits: 0 },
  {
    key: 'ratioLimited',
    label: '  handler / raw',
    digits: 2,
    bar: { text: '>= 0.85x', met: (v) => v >= 0.85 },
  },
  { key: 'getHandler', label: 'uncontended GET product ops/s', digits: 0 },
  { key: 'getRaw', label: 'uncontended raw GetItem ops/s', digits: 0 },
  { key: 'ratioGet', label: '  handler / raw', digits: 2, bar: { text: '>= 0.9x', met: (v) => v >= 0.9 } },
  { key: 'released', label: 'sweep: holds released', digits: 0 },
  { key: 'sweepRate', label: 'sweep: released/s', digits: 0 },
];

function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Median and every run per figure; ratios are medians of each run's own (interleaved) ratio. */
function printSummary(runs: readonly Figures[]): void {
  const width = Math.max(...FIGURES.map((figure) => figure.label.length)) + 2;
  const runHeads = runs.map((_, i) => `run ${i + 1}`.padStart(9)).join('');
  console.log(`\n${'figure'.padEnd(width)}${'median'.padStart(9)}${runHeads}   bar`);
  for (const figure of FIGURES) {
    const values = runs.map((run) => run[figure.key]);
    const middle = median(values);
    const cells = values.map((value) => num(value, figure.digits).padStart(9)).join('');
    const bar = figure.bar ? `   ${figure.bar.text} ${figure.bar.met(middle) ? 'ok' : 'MISSED'}` : '';
    console.log(`${figure.label.padEnd(width)}${num(middle, figure.digits).padStart(9)}${cells}${bar}`);
  }
}

function printCeilings(params: ContentionParams): void {
  const conflict = (buckets: number, occupancy: number) => num((buckets * 1000) / occupancy);
  console.log(
    `\nconflict ceiling per product = buckets x 1000 / occupancy: cloud (${CLOUD.occupancyMs} ms) 1 bucket ${conflict(1, CLOUD.occupancyMs)}/s, 16 buckets ${conflict(16, CLOUD.occupancyMs)}/s; here (${params.occupancyMs} ms) 1 bucket ${conflict(1, params.occupancyMs)}/s, 16 buckets ${conflict(16, params.occupancyMs)}/s`,
  );
  console.log(
    `write ceiling per product = ${CLOUD.writeUnitsPerSecond} WU/s / (hottest partition's WU per granted hold), counted above`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Main

/** Ctrl-C or a kill still stops the DynamoDB Local this script started. */
function stopOnSignals(local: LocalDynamo): void {
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\nbench: ${signal}, stopping DynamoDB Local`);
    void local.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

async function bench(local: LocalDynamo, options: Options, params: ContentionParams): Promise<void> {
  // Every client of this process goes through the endpoint; the contended section turns the mode on.
  const contention = await startContentionEndpoint({ upstream: local.endpoint, params });
  contention.setParams(undefined);
  try {
    process.env.DYNAMODB_ENDPOINT = contention.endpoint;
    process.env.TABLE_NAME = `bench-${randomUUID().slice(0, 8)}`;
    await ensureTable(local.endpoint, process.env.TABLE_NAME);
    const app = await loadApp();
    console.log(
      `DynamoDB Local at ${local.endpoint} behind the contention endpoint ${contention.endpoint}, table ${app.tableName}; Node ${process.version}; ${options.runs} run(s)`,
    );
    const ctx: RunContext = { app, contention, options, params, past: new Date(Date.now() - 3_600_000) };
    const runs: Figures[] = [];
    for (let run = 1; run <= options.runs; run++) runs.push(await oneRun(ctx, run));
    printSummary(runs);
    printCeilings(params);
    app.dynamo.destroy();
  } finally {
    await contention.close();
  }
}

async function main(): Promise<void> {
  const options = parseCli(process.argv.slice(2));
  const { params, note: modeNote } = contentionParams();
  if (modeNote) console.log(modeNote);
  prepareEnvironment();
  const started = performance.now();
  const local = await startLocalDynamo({ external: process.env.DYNAMODB_ENDPOINT });
  stopOnSignals(local);
  try {
    await bench(local, options, params);
  } finally {
    await local.stop();
  }
  console.log(`\ntotal ${num((performance.now() - started) / 1000, 0)} s`);
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  // Workers of a failed measurement may still be looping against the stopped database: do not wait for them.
  process.exit(1);
});
