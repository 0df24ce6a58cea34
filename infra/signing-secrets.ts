// The secrets the payment routes verify signatures with, one per source: a Secrets Manager secret each in the cloud
// (the data stack makes it, the API stack hands its ARN to the routes that read it), one env variable each locally.
// The data stack, the API stack, the OpenAPI document, `npm start` and `npm run sam:env` read this one table.

export const signingSecrets = {
  webhook: {
    /** Construct id in the data stack (never renamed: it would replace the secret) and its IAM statement id. */
    constructId: 'WebhookSecret',
    /** The secret's name within `<service>/<stage>/`, before the stack suffix. */
    slug: 'webhook-signing-secret',
    output: 'WebhookSecretName',
    /** Comma-separated values, local use (shared/config.ts). */
    valueVariable: 'WEBHOOK_SECRET',
    /** The Secrets Manager ARN, cloud (shared/webhook-secrets.ts). */
    idVariable: 'WEBHOOK_SECRET_ID',
    description: 'Payment webhook signing secret(s), comma-separated',
    /** What `npm run sam:env` passes locally by default. */
    samDefault: 'whsec_local',
  },
  stripe: {
    constructId: 'StripeWebhookSecret',
    slug: 'stripe-webhook-secret',
    output: 'StripeWebhookSecretName',
    valueVariable: 'STRIPE_WEBHOOK_SECRET',
    idVariable: 'STRIPE_WEBHOOK_SECRET_ID',
    description: "Stripe endpoints' signing secret(s) (whsec_...), comma-separated",
    samDefault: 'whsec_stripe_local',
  },
  adyen: {
    constructId: 'AdyenHmacKey',
    slug: 'adyen-hmac-key',
    output: 'AdyenHmacKeyName',
    valueVariable: 'ADYEN_HMAC_KEY',
    idVariable: 'ADYEN_HMAC_KEY_ID',
    description: 'Adyen HMAC key(s) (hex, as Adyen shows them), comma-separated',
    // Any even number of hex digits is a key; a real one is 64.
    samDefault: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
  },
} as const;

export type SigningSecret = keyof typeof signingSecrets;

export const signingSecretSources = Object.keys(signingSecrets) as SigningSecret[];
