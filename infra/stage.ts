// One deployment stage: its settings (from CDK context, validated once) and the two stacks it is made of.
import { type App, Tags } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { z } from 'zod';
import { ApiStack } from './api-stack.ts';
import { DataStack } from './data-stack.ts';

export const SERVICE_NAME = 'flash-sale-checkout';

/** The stage whose data may be destroyed with its stack; every other stage retains the table and the secret. */
export const EPHEMERAL_STAGE = 'dev';

const retentions = new Set(Object.values(RetentionDays).filter((days) => typeof days === 'number'));

// Context given on the command line (`-c throttleRateLimit=100`) arrives as a string, hence the coercions.
const positiveInt = z.coerce.number().int().min(1);

// Browsers only: an exact https origin (or a localhost one for front-end development), never a wildcard.
const origin = z
  .string()
  .trim()
  .regex(/^(https:\/\/[a-z0-9.-]+(:\d+)?|http:\/\/localhost(:\d+)?)$/, 'an exact origin');

const settingsSchema = z
  .object({
    logRetentionDays: z.coerce
      .number()
      .refine(
        (days) => retentions.has(days),
        'must be a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, ...)',
      )
      .default(30),
    /** Steady-state requests per second for the whole API (the default stage), and the burst above it. */
    throttleRateLimit: positiveInt.default(50),
    throttleBurstLimit: positiveInt.default(100),
    /** Origins allowed by CORS; none by default (same-origin or server-to-server callers need none). */
    corsAllowOrigins: z
      .union([z.array(z.string()), z.string().transform((list) => list.split(',').filter(Boolean))])
      .pipe(z.array(origin))
      .default([]),
    /** Subscribed to the alarm topic when set. */
    alarmEmail: z.email().optional(),
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    lambdaMemoryMb: z.coerce.number().int().min(128).max(10_240).default(512),
    holdTtlSeconds: positiveInt.default(120),
    maxQtyPerHold: positiveInt.max(1000).default(10),
    paymentWindowSeconds: positiveInt.default(900),
  })
  .strict();

const stageName = z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, 'lower-case letters, digits and dashes');

/** `stages` in cdk.json: per-stage settings, e.g. `{ "prod": { "logRetentionDays": 90 } }`. */
const perStageSchema = z.record(z.string(), z.record(z.string(), z.unknown())).default({});

export type StageSettings = z.infer<typeof settingsSchema> & {
  readonly stage: string;
  /** True only for the dev stage: its table and secret are destroyed with the stack. */
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

/** Adds the stage's stacks to the app: data (stateful) and API (stateless, deployable and destroyable alone). */
export function addCheckoutStage(app: App): CheckoutStage {
  const settings = stageSettings(app);
  // Environment-agnostic unless the CLI knows the account: synth never needs credentials or lookups.
  const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
  const prefix = `FlashSale-${settings.stage}`;
  const data = new DataStack(app, `${prefix}-Data`, {
    env,
    settings,
    description: `Flash-sale checkout (${settings.stage}): table and webhook secret (stateful)`,
  });
  const api = new ApiStack(app, `${prefix}-Api`, {
    env,
    settings,
    table: data.table,
    webhookSecret: data.webhookSecret,
    description: `Flash-sale checkout (${settings.stage}): functions, HTTP API, sweeper schedule, alarms`,
  });
  api.addStackDependency(data, 'reads the table and the webhook secret');
  for (const stack of [data, api]) {
    Tags.of(stack).add('service', SERVICE_NAME);
    Tags.of(stack).add('stage', settings.stage);
  }
  return { settings, data, api };
}
