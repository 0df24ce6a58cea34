// Where webhook signing secrets come from: Secrets Manager in the cloud (cached), WEBHOOK_SECRET locally.
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { config } from './config.ts';
import { logger } from './logger.ts';

const CACHE_SECONDS = 300;

const split = (value: string) =>
  value
    .split(',')
    .map((secret) => secret.trim())
    .filter((secret) => secret.length > 0);

if (!config.WEBHOOK_SECRET_ID && !config.WEBHOOK_SECRET) {
  logger.warn('webhook_signatures_disabled', {
    reason:
      'Neither WEBHOOK_SECRET_ID nor WEBHOOK_SECRET is set: webhooks are accepted unsigned (local use only)',
  });
}

/** The accepted secrets (several during rotation), or undefined when signatures are disabled (local only). */
export async function webhookSecrets(): Promise<string[] | undefined> {
  if (config.WEBHOOK_SECRET_ID) {
    const value = await getSecret<string>(config.WEBHOOK_SECRET_ID, { maxAge: CACHE_SECONDS });
    if (!value) throw new Error('Webhook secret is empty');
    return split(value);
  }
  return config.WEBHOOK_SECRET ? split(config.WEBHOOK_SECRET) : undefined;
}
