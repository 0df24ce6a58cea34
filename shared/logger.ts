// The process's one Powertools logger: JSON lines, one per business event.
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'flash-sale-checkout',
});
