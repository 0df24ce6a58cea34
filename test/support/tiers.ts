// The test tiers (one Vitest project each, test/<tier>/) and what each needs: read by vitest.config.ts and by the
// DynamoDB global setup, so the tiers that start DynamoDB Local and the ones its error message names are one list.

/** Tiers whose tests talk to DynamoDB: DynamoDB Local (Java 17+) or DYNAMODB_ENDPOINT; a table per test file. */
export const dynamoTiers = ['integration', 'e2e', 'contention', 'faults', 'property', 'fuzz'] as const;
/** Tiers that need neither Java nor DynamoDB: pure rules (unit) and CDK assertions (infra). */
export const plainTiers = ['unit', 'infra'] as const;
