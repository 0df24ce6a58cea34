// Imported first by suites that run under the contention mode whatever CONTENTION_MODE says: this test file's own
// contention endpoint in front of DynamoDB Local (CONTENTION_MODE's parameters, CLOUD_SCALED when it is unset), with
// the app's DynamoDB client pointed at it. Its own, so its counters are this file's traffic alone.
import { afterAll, inject } from 'vitest';
import { CLOUD_SCALED, parseContentionSpec, startContentionEndpoint } from '../../infra/local/contention.ts';

export const contention = await startContentionEndpoint({
  upstream: inject('dynamoUpstream'),
  params: parseContentionSpec(process.env.CONTENTION_MODE) ?? CLOUD_SCALED,
});
// Before any app module is imported: shared/config.ts reads the endpoint once.
process.env.DYNAMODB_ENDPOINT = contention.endpoint;
afterAll(() => contention.close());
