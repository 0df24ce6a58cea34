// Where webhook signing secrets come from: Secrets Manager in the cloud (cached), an env variable locally. One source
// per route: our own webhook (WEBHOOK_SECRET), Stripe (STRIPE_WEBHOOK_SECRET), Adyen (ADYEN_HMAC_KEY).
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { config, splitSecrets } from './config.ts';
import { isHexKey } from './http/signature.ts';
import { logger } from './logger.ts';

const CACHE_SECONDS = 300;

export type SecretSource = 'webhook' | 'stripe' | 'adyen';

const settings: Readonly<Record<SecretSource, { id?: string; value?: string; names: string }>> = {
  webhook: { id: config.WEBHOOK_SECRET_ID, value: config.WEBHOOK_SECRET, names: 'WEBHOOK_SECRET(_ID)' },
  stripe: {
    id: config.STRIPE_WEBHOOK_SECRET_ID,
    value: config.STRIPE_WEBHOOK_SECRET,
    names: 'STRIPE_WEBHOOK_SECRET(_ID)',
  },
  adyen: { id: config.ADYEN_HMAC_KEY_ID, value: config.ADYEN_HMAC_KEY, names: 'ADYEN_HMAC_KEY(_ID)' },
};

/** The accepted secrets of one source (several during a rotation), or undefined when none is configured. */
export async function secretsOf(source: SecretSource): Promise<string[] | undefined> {
  const { id, value, names } = settings[source];
  if (id) {
    const stored = await getSecret<string>(id, { maxAge: CACHE_SECONDS });
    const secrets = stored ? splitSecrets(stored) : [];
    if (secrets.length === 0) throw new Error(`The secret behind ${names} is empty`);
    if (source === 'adyen' && !secrets.every(isHexKey))
      throw new Error(`The secret behind ${names} must hold comma-separated hex keys`);
    return secrets;
  }
  return value ? splitSecrets(value) : undefined;
}

let warned = false;

/**
 * Our own webhook's secrets, or undefined when signatures are disabled (local only: the webhook then accepts
 * unsigned calls, and says so once per process). The provider routes never run unsigned (secretsOf).
 */
export async function webhookSecrets(): Promise<string[] | undefined> {
  const secrets = await secretsOf('webhook');
  if (!secrets && !warned) {
    warned = true;
    logger.warn('webhook_signatures_disabled', {
      reason:
        'Neither WEBHOOK_SECRET_ID nor WEBHOOK_SECRET is set: webhooks are accepted unsigned (local use only)',
    });
  }
  return secrets;
}
