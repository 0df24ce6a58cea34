// Environment, parsed once at cold start: a bad or missing setting fails the init, not a request.
import * as z from 'zod';
import { isHexKey } from './http/signature.ts';

/** `a, b,,c` -> ['a', 'b', 'c']: every secret setting holds several values during a rotation. */
export const splitSecrets = (value: string): string[] =>
  value
    .split(',')
    .map((secret) => secret.trim())
    .filter((secret) => secret.length > 0);

const seconds = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

const schema = z.object({
  TABLE_NAME: z.string().min(3).max(255),
  /** Empty means unset: the Lambda template declares it empty so `sam local` can override it (README, Run with SAM). */
  DYNAMODB_ENDPOINT: z
    .literal('')
    .transform(() => undefined)
    .or(z.url())
    .optional(),
  HOLD_TTL_SECONDS: seconds(120).pipe(z.number().min(1)),
  MAX_QTY_PER_HOLD: z.coerce.number().int().min(1).max(1000).default(10),
  PAYMENT_WINDOW_SECONDS: seconds(900).pipe(z.number().min(1)),
  /** Comma-separated signing secrets (local use); the cloud passes WEBHOOK_SECRET_ID instead. */
  WEBHOOK_SECRET: z.string().optional(),
  /** Secrets Manager name or ARN holding the comma-separated signing secrets. */
  WEBHOOK_SECRET_ID: z.string().optional(),
  /** Comma-separated Stripe endpoint signing secrets (`whsec_...`, local use); the cloud passes the _ID instead. */
  STRIPE_WEBHOOK_SECRET: z.string().optional(),
  /** Secrets Manager name or ARN holding the comma-separated Stripe signing secrets. */
  STRIPE_WEBHOOK_SECRET_ID: z.string().optional(),
  /** Comma-separated Adyen HMAC keys (hex, as Adyen shows them; local use); the cloud passes the _ID instead. */
  ADYEN_HMAC_KEY: z
    .string()
    .optional()
    .refine(
      (keys) => keys === undefined || splitSecrets(keys).every(isHexKey),
      'must be comma-separated hex keys, as Adyen shows them',
    ),
  /** Secrets Manager name or ARN holding the comma-separated Adyen HMAC keys. */
  ADYEN_HMAC_KEY_ID: z.string().optional(),
  /**
   * The identity provider whose bearer tokens identify buyers (the stage's `jwtIssuer` in the cloud, where API Gateway
   * verifies them; the local gateway verifies them itself). Unset: anonymous shoppers, and no per-customer limits.
   */
  JWT_ISSUER: z.url().optional(),
  /** Comma-separated audiences a token's `aud` must contain one of (local gateway; API Gateway in the cloud). */
  JWT_AUDIENCE: z.string().optional(),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(256)
    .default(16 * 1024),
  /**
   * How old this process's view of a product (catalogue and bucket levels) may get before it is read again. It
   * steers holds (which bucket, whether sold out) and answers GET product; conditions still decide every grant.
   */
  STOCK_VIEW_MAX_AGE_MS: z.coerce.number().int().min(0).max(1_000).default(1_000),
  /**
   * Per-attempt DynamoDB timeouts (an attempt also ends when the invocation's budget does, see shared/deadline.ts):
   * fail fast enough to retry inside a 10 s Lambda; tests on a loaded machine raise them.
   */
  DYNAMODB_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(2_000),
  DYNAMODB_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
  /**
   * Kept back from the Lambda's remaining time: the invocation's budget (every DynamoDB call, retry and wait) ends this
   * long before the function's timeout, so a request out of time still answers busy (ServiceBusy) and flushes its logs and metrics.
   */
  INVOCATION_RESERVE_MS: z.coerce.number().int().min(0).max(10_000).default(1_000),
  /** Attempts for a transaction that keeps meeting TransactionConflict or throttling before giving up with ServiceBusy. */
  TRANSACTION_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(8),
});

export type Config = z.infer<typeof schema>;

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`Invalid configuration: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

export const config: Config = loadConfig(process.env);
