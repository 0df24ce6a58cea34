// The process's one Powertools Tracer: X-Ray subsegments for the AWS SDK clients it wraps (shared/db/client.ts).
// Active in Lambda only (Tracing.ACTIVE in infra/api-stack.ts); outside Lambda it is disabled and wraps nothing.
import './xray-mode.ts';
import { Tracer } from '@aws-lambda-powertools/tracer';

export const tracer = new Tracer();
