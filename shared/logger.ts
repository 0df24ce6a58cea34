// The execution environment's one Powertools logger: JSON lines, one per business event.
//
// An environment serves one invocation at a time (Lambda, and the local runtime's environments), so the context
// `injectLambdaContext` adds (function name, request id, cold start) is the current invocation's.
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'flash-sale-checkout',
});
