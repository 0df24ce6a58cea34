// One deployment stage: its settings (from CDK context, validated once) and the two stacks it is made of.
import { type App, Tags } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { z } from 'zod';
import { table as tableDefinition } from '../shared/db/table.ts';
import { ApiStack } from './api-stack.ts';
import { DataStack } from './data-stack.ts';
import type { routes } from './routes.ts';

export const SERVICE_NAME = 'flash-sale-checkout';

/**
 * A function's deployed name: stable per stage, so its log group (`/aws/lambda/<name>`), dashboards and Logs Insights
 * queries keep their address when the API stack is re-created.
 */
export const functionNameOf = (stage: string, id: string) => `${SERVICE_NAME}-${stage}-${id}`;

/** `create-hold` -> `CreateHold`: construct ids. */
export const pascalCase = (id: string) =>
  id
    .split('-')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');

/**
 * The functions a crowd of shoppers calls. Each gets `shopperReservedConcurrency` (a ceiling, and a floor: a flood of
 * holds cannot starve the orders of the buyers who got one). Lambda has no pool shared by several functions.
 */
export const SHOPPER_FUNCTIONS = [
  'get-product',
  'create-hold',
  'create-order',
  'get-order',
] as const satisfies readonly (typeof routes)[number]['id'][];

/** Lambda refuses reservations that leave fewer unreserved concurrent executions than this in the account. */
export const MIN_UNRESERVED_CONCURRENCY = 100;

/** The stage whose data may be destroyed with its stack; every other stage retains the table, secret and logs. */
export const EPHEMERAL_STAGE = 'dev';

const retentions = new Set(Object.values(RetentionDays).filter((days) => typeof days === 'number'));

// Context given on the command line (`-c throttleRateLimit=100`) arrives as a string, hence the coercions.
const positiveInt = z.coerce.number().int().min(1);
/** Reserved concurrent executions: 0 reserves none (accounts whose quota is too low to reserve anything). */
const reservation = z.coerce.number().int().min(0).max(10_000);
/** A list from cdk.json (an array) or the command line (comma-separated). */
const list = <T extends z.ZodType<string, string>>(item: T) =>
  z
    .union([z.array(z.string()), z.string().transform((value) => value.split(','))])
    .transform((values) => values.map((value) => value.trim()).filter(Boolean))
    .pipe(z.array(item));

// Browsers only: an exact https origin (or a localhost one for front-end development), never a wildcard.
const origin = z
  .string()
  .trim()
  .regex(/^(https:\/\/[a-z0-9.-]+(:\d+)?|http:\/\/localhost(:\d+)?)$/, 'an exact origin');

/**
 * Warm throughput a new on-demand table, and each of its indexes, already has (DynamoDB's defaults). A smaller value
 * would warm nothing, and DynamoDB never lowers warm throughput, so synth refuses it.
 */
export const ON_DEMAND_WARM_THROUGHPUT = { writeUnitsPerSecond: 4_000, readUnitsPerSecond: 12_000 } as const;

/** What warm throughput can be set on: the table and each of its global secondary indexes, by index name. */
export const WARM_THROUGHPUT_TARGETS = [
  'table',
  ...Object.values(tableDefinition.indexes).map((index) => index.indexName),
] as const;
export type WarmThroughputTarget =
  | 'table'
  | (typeof tableDefinition.indexes)[keyof typeof tableDefinition.indexes]['indexName'];

const unitsPerSecond = (floor: number) =>
  z.coerce
    .number()
    .int()
    .min(floor, `at least ${floor.toLocaleString('en-US')} (an on-demand table and each index start there)`);

/** One target's warm throughput: write and/or read units per second it serves at once. */
const warmThroughputOf = z
  .object({
    writeUnitsPerSecond: unitsPerSecond(ON_DEMAND_WARM_THROUGHPUT.writeUnitsPerSecond).optional(),
    readUnitsPerSecond: unitsPerSecond(ON_DEMAND_WARM_THROUGHPUT.readUnitsPerSecond).optional(),
  })
  .strict()
  .refine(
    (warm) => warm.writeUnitsPerSecond !== undefined || warm.readUnitsPerSecond !== undefined,
    'writeUnitsPerSecond, readUnitsPerSecond or both',
  );

/**
 * `{ "table": {...}, "byDeadline": {...}, "holdsOfProduct": {...} }`, each target optional; from cdk.json an object,
 * from the command line its JSON (`-c 'warmThroughput={"table":{"writeUnitsPerSecond":20000}}'`).
 */
const warmThroughputSettings = z.preprocess(
  (value) => (typeof value === 'string' ? parseJsonOr(value) : value),
  z.partialRecord(z.enum(WARM_THROUGHPUT_TARGETS), warmThroughputOf).default({}),
);

function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const settingsSchema = z
  .object({
    logRetentionDays: z.coerce
      .number()
      .refine(
        (days) => retentions.has(days),
        'must be a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, ...)',
      )
      .default(30),
    /**
     * The $default stage's default route throttling: steady-state requests per second and the burst above it, which
     * API Gateway applies to each route (429 above it). README, Concurrency and throttling: keep rate x mean latency
     * within the route's reserved concurrency.
     */
    throttleRateLimit: positiveInt.default(50),
    throttleBurstLimit: positiveInt.default(100),
    /** Origins allowed by CORS; none by default (same-origin or server-to-server callers need none). */
    corsAllowOrigins: list(origin).default([]),
    /** Subscribed to the alarm topic when set. */
    alarmEmail: z.email().optional(),
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    lambdaMemoryMb: z.coerce.number().int().min(128).max(10_240).default(512),
    holdTtlSeconds: positiveInt.default(120),
    maxQtyPerHold: positiveInt.max(1000).default(10),
    paymentWindowSeconds: positiveInt.default(900),
    /**
     * Concurrency isolation (README, Concurrency). Reserved concurrency is a floor and a ceiling for one function, taken
     * out of the account's pool. payment-webhook: payments (money) are never starved by a crowd of shoppers; 20
     * executions at ~100 ms are ~200 webhooks/s.
     */
    webhookReservedConcurrency: reservation.default(20),
    /** The sweeper: 2, so a run that overlaps the previous one starts (and the lease skips it) instead of being throttled. */
    sweeperReservedConcurrency: reservation.default(2),
    /** Each of SHOPPER_FUNCTIONS: 100 executions at ~100 ms serve ~1,000 rps per route. */
    shopperReservedConcurrency: reservation.default(100),
    /**
     * The account's concurrent-executions quota in the region (Service Quotas, Lambda, L-B99A9384). Synth refuses
     * reservations that would leave fewer than MIN_UNRESERVED_CONCURRENCY unreserved. Reservations made by other
     * applications in the account are not known here: subtract them.
     */
    accountConcurrencyLimit: positiveInt.default(1000),
    /**
     * The identity provider of buyers (README, Buyer identity): its tokens' `iss`. Set: API Gateway verifies a bearer JWT
     * on the buyer routes and the functions get JWT_ISSUER / JWT_AUDIENCE. Unset: anonymous shoppers.
     */
    jwtIssuer: z.url({ protocol: /^https$/, message: 'an https URL' }).optional(),
    /** Accepted audiences (`aud`, or `client_id` for Cognito access tokens); required with jwtIssuer. */
    jwtAudience: list(z.string().regex(/^[^,\s]+$/, 'no commas or spaces')).default([]),
    /**
     * Warm throughput (docs: warm throughput): what the table and each index serve at once, before DynamoDB has split
     * partitions for a sale's heat. Off by default (the on-demand defaults apply); set it ahead of a sale. It cannot be
     * lowered again, and removing it from here leaves the deployed value as it is.
     */
    warmThroughput: warmThroughputSettings,
    /**
     * The account's table-level throughput quota in the region, read and write alike (Service Quotas, DynamoDB,
     * "Table-level read/write throughput limit", 40,000 by default). Warm throughput cannot be set above it, on the
     * table or on an index: raise the quota first, then this.
     */
    tableThroughputQuota: positiveInt.default(40_000),
  })
  .strict()
  .superRefine((settings, ctx) => {
    if (settings.jwtIssuer && settings.jwtAudience.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['jwtAudience'], message: 'required when jwtIssuer is set' });
    }
    if (!settings.jwtIssuer && settings.jwtAudience.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['jwtIssuer'], message: 'required when jwtAudience is set' });
    }
    for (const [target, warm] of Object.entries(settings.warmThroughput)) {
      for (const [key, units] of Object.entries(warm ?? {})) {
        if (units !== undefined && units > settings.tableThroughputQuota) {
          ctx.addIssue({
            code: 'custom',
            path: ['warmThroughput', target, key],
            message: `${units} exceeds the table-level throughput quota of ${settings.tableThroughputQuota} (raise the quota, then tableThroughputQuota)`,
          });
        }
      }
    }
    const reserved = reservedConcurrency(settings);
    const room = settings.accountConcurrencyLimit - MIN_UNRESERVED_CONCURRENCY;
    if (reserved > 0 && reserved > room) {
      ctx.addIssue({
        code: 'custom',
        path: ['shopperReservedConcurrency'],
        message:
          `reservations total ${reserved} concurrent executions, but an account limit of ${settings.accountConcurrencyLimit} ` +
          `allows ${Math.max(0, room)} (${MIN_UNRESERVED_CONCURRENCY} must stay unreserved). Lower them, set them to 0, ` +
          'or raise accountConcurrencyLimit after raising the quota',
      });
    }
  });

/** Concurrent executions the stage reserves in total (webhook, sweeper, each shopper function). */
export function reservedConcurrency(
  settings: Pick<
    StageSettings,
    'webhookReservedConcurrency' | 'sweeperReservedConcurrency' | 'shopperReservedConcurrency'
  >,
): number {
  return (
    settings.webhookReservedConcurrency +
    settings.sweeperReservedConcurrency +
    SHOPPER_FUNCTIONS.length * settings.shopperReservedConcurrency
  );
}

const stageName = z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, 'lower-case letters, digits and dashes');

/** `stages` in cdk.json: per-stage settings, e.g. `{ "prod": { "logRetentionDays": 90 } }`. */
const perStageSchema = z.record(z.string(), z.record(z.string(), z.unknown())).default({});

export type StageSettings = z.infer<typeof settingsSchema> & {
  readonly stage: string;
  /** True only for the dev stage: its table, secret and log groups are destroyed with the stack. */
  readonly ephemeral: boolean;
};

/**
 * Settings for the stage named by context `stage` (default `dev`): code defaults, then `stages.<stage>`
 * from cdk.json, then individual context keys (`-c alarmEmail=...`). Throws on anything invalid.
 */
export function stageSettings(scope: Construct): StageSettings {
  const node = scope.node;
  const stage = parseOrThrow('stage', stageName, node.tryGetContext('stage') ?? EPHEMERAL_STAGE);
  const perStage = parseOrThrow('stages', perStageSchema, node.tryGetContext('stages'));
  const overrides = Object.fromEntries(
    Object.keys(settingsSchema.shape)
      .map((key) => [key, node.tryGetContext(key)] as const)
      .filter(([, value]) => value !== undefined),
  );
  const settings = parseOrThrow(`settings of stage "${stage}"`, settingsSchema, {
    ...perStage[stage],
    ...overrides,
  });
  return { ...settings, stage, ephemeral: stage === EPHEMERAL_STAGE };
}

function parseOrThrow<T extends z.ZodType>(what: string, schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`Invalid CDK context, ${what}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export interface CheckoutStage {
  readonly settings: StageSettings;
  readonly data: DataStack;
  readonly api: ApiStack;
}

/**
 * Resource types left untagged. AWS::CloudWatch::Dashboard: `Tags` is in its CloudFormation resource schema in most
 * regions, and aws-cdk-lib renders it, but not in every region's schema yet (cfn-lint 1.51 bundles each region's:
 * us-east-1, me-central-1, me-south-1 and others lack it, and CloudFormation refuses a property its schema lacks).
 * The stacks are region-agnostic and a dashboard tag buys little, so the dashboard goes untagged everywhere.
 */
const UNTAGGED = { excludeResourceTypes: ['AWS::CloudWatch::Dashboard'] };

/** Adds the stage's stacks to the app: data (stateful) and API (stateless, deployable and destroyable alone). */
export function addCheckoutStage(app: App): CheckoutStage {
  const settings = stageSettings(app);
  // Environment-agnostic unless the CLI knows the account: synth never needs credentials or lookups.
  const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
  const prefix = `FlashSale-${settings.stage}`;
  const data = new DataStack(app, `${prefix}-Data`, {
    env,
    settings,
    description: `Flash-sale checkout (${settings.stage}): table, webhook secret, log groups (stateful)`,
  });
  const api = new ApiStack(app, `${prefix}-Api`, {
    env,
    settings,
    table: data.table,
    signingSecrets: data.signingSecrets,
    logGroups: data.logGroups,
    apiAccessLogs: data.apiAccessLogs,
    description: `Flash-sale checkout (${settings.stage}): functions, HTTP API, sweeper schedule, alarms, dashboard`,
  });
  api.addStackDependency(data, 'reads the table and the signing secrets, logs to its log groups');
  for (const stack of [data, api]) {
    Tags.of(stack).add('service', SERVICE_NAME, UNTAGGED);
    Tags.of(stack).add('stage', settings.stage, UNTAGGED);
  }
  return { settings, data, api };
}
