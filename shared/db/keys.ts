// The table's key shape. Each aggregate builds its own keys in its items.ts; nothing else spells a key.
export interface Key {
  pk: string;
  sk: string;
}

/** Powertools idempotency records of one scope (create-hold, payment-webhook). */
export const idempotencyPartition = (scope: string) => `IDEMPOTENCY#${scope}`;
